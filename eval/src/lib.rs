//! mnemo's evaluations, as a library the `mnemo` binary embeds (`mnemo eval locomo`,
//! `mnemo eval scale`: see [`EvalCommand`] and [`run`]), plus the helpers the bench
//! binaries share (`src/bin/`).
//!
//! - [`locomo`]: the LOCOMO benchmark (retrieval offline; answers with `--llm`);
//! - [`scale`]: the synthetic scale benchmark;
//! - [`metrics`], [`bm25`]: the scores and the lexical baseline; [`report`], [`plot`]: the
//!   outputs; [`synthetic`]: benchmark data.

pub mod bm25;
pub mod cli;
pub mod locomo;
pub mod metrics;
pub mod plot;
pub mod report;
pub mod scale;
pub mod synthetic;

pub use cli::{EvalCommand, LocomoArgs, ScaleArgs, run};

use std::time::Duration;

/// xorshift64*: deterministic benchmark data without a dependency.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [-1, 1).
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }

    /// A random unit vector.
    pub fn unit(&mut self, dimension: usize) -> Vec<f32> {
        let v: Vec<f32> = (0..dimension).map(|_| self.next_f32()).collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / norm).collect()
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
        let mut rng = Rng(1);
        for d in [1, 3, 384] {
            let v = rng.unit(d);
            let n: f32 = v.iter().map(|x| x * x).sum();
            assert!((n - 1.0).abs() < 1e-4, "d={d} n={n}");
        }
    }
}
