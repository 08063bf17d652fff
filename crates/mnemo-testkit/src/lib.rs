//! Test support: the store contract suite, fixtures, scripted LLM server
