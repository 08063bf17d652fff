//! Benchmarks and evaluations of mnemo.
