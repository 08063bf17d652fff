//! mnemo's evaluations, as a library the `mnemo` binary embeds (`mnemo eval locomo`,
//! `mnemo eval scale`: see [`EvalCommand`] and [`run`]), plus the helpers the bench
//! binaries share (`src/bin/`).
//!
//! - [`locomo`]: the LOCOMO benchmark (retrieval offline; answers with `--llm`);
//! - [`scale`]: the synthetic scale benchmark;
//! - [`extraction`]: the labelled extraction cases against a live LLM;
//! - [`folds`]: leave-one-conversation-out choice among finished LOCOMO runs;
//! - [`metrics`], [`bm25`]: the scores and the lexical baseline; [`report`], [`plot`]: the
//!   outputs; [`synthetic`]: benchmark data.

pub mod bm25;
pub mod cli;
pub mod extraction;
pub mod folds;
pub mod locomo;
pub mod metrics;
pub mod plot;
pub mod report;
pub mod scale;
pub mod synthetic;

pub use cli::{EvalCommand, LocomoArgs, ScaleArgs, run};

use std::time::Duration;

/// The benchmarks' random source: `rand`'s small generator, from a fixed seed
/// ([`seeded`]), so every run draws the same data.
pub type Rng = rand::rngs::SmallRng;

/// The same draws for the same seed, every run.
pub fn seeded(seed: u64) -> Rng {
    rand::SeedableRng::seed_from_u64(seed)
}

/// A random unit vector: components uniform in [-1, 1), normalised.
pub fn unit_vector(rng: &mut Rng, dimension: usize) -> Vec<f32> {
    use rand::Rng as _;
    let v: Vec<f32> = (0..dimension)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / norm).collect()
}

/// The start of a bench binary: `--quick` (sizes divided by 10) from the command line,
/// the header line `{name}: {what}` saying so, and the machine's load average (the
/// machine may be shared: the load says whether both cores were free). The size divisor.
pub fn bench_start(name: &str, what: &str) -> usize {
    let quick = std::env::args().any(|a| a == "--quick");
    println!(
        "{name}: {what}{}",
        if quick { " (quick: sizes / 10)" } else { "" }
    );
    print_load_average();
    if quick { 10 } else { 1 }
}

/// Prints `/proc/loadavg` when the system has one.
pub fn print_load_average() {
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average at start: {}", load.trim());
    }
}

/// Percentiles of a set of durations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub p50: Duration,
    pub p95: Duration,
    pub max: Duration,
}

/// Nearest-rank percentiles; `None` for no samples.
pub fn summarize(samples: &[Duration]) -> Option<Summary> {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank =
        |p: f64| sorted[((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
    (!sorted.is_empty()).then(|| Summary {
        p50: rank(0.50),
        p95: rank(0.95),
        max: rank(1.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&m| Duration::from_millis(m))
                .collect::<Vec<_>>()
        };
        let check = |samples: &[u64], p50: u64, p95: u64, max: u64| {
            let s = summarize(&ms(samples)).unwrap();
            assert_eq!(
                (s.p50, s.p95, s.max),
                (
                    Duration::from_millis(p50),
                    Duration::from_millis(p95),
                    Duration::from_millis(max)
                ),
                "{samples:?}"
            );
        };
        check(&[7], 7, 7, 7);
        check(&[3, 1, 2], 2, 3, 3);
        check(&(1..=100).rev().collect::<Vec<_>>(), 50, 95, 100);
        check(&(1..=20).collect::<Vec<_>>(), 10, 19, 20);
        assert!(summarize(&[]).is_none());
    }

    #[test]
    fn unit_vectors_have_unit_length() {
        let mut rng = seeded(1);
        for d in [1, 3, 384] {
            let v = unit_vector(&mut rng, d);
            let n: f32 = v.iter().map(|x| x * x).sum();
            assert!((n - 1.0).abs() < 1e-4, "d={d} n={n}");
        }
    }
}
