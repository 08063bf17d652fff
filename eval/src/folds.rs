//! `mnemo eval folds`: leave-one-conversation-out selection among finished LOCOMO runs, so a
//! choice (a model, a setting) is judged on a conversation it was not chosen on.
//!
//! Each run is one configuration's `questions.jsonl`. For every conversation (fold) the
//! configuration with the best mean recall@10 on the *other* conversations is chosen, and
//! its recall@10 on the held-out one is the fold's score. The mean and the worst fold are
//! what a choice made on the dev split can be expected to give elsewhere; the in-sample
//! best is printed beside them to show how much of its lead is fitting.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::{Value, json};

use crate::report::MAIN_CATEGORIES;

/// One scored question of a run (categories 1-4, with evidence).
#[derive(Clone, Debug, PartialEq)]
pub struct Scored {
    pub conversation: String,
    pub recall_at_10: f64,
}

/// A configuration's scored questions, by name.
#[derive(Clone, Debug)]
pub struct Run {
    pub name: String,
    pub questions: Vec<Scored>,
}

/// One held-out conversation.
#[derive(Clone, Debug, PartialEq)]
pub struct Fold {
    pub conversation: String,
    /// Mean recall@10 of every run on this conversation, in run order.
    pub per_run: Vec<f64>,
    /// The run chosen on the other conversations.
    pub chosen: usize,
    /// Its recall@10 here.
    pub held_out: f64,
}

/// The folds, and the summary.
#[derive(Clone, Debug, PartialEq)]
pub struct Folds {
    pub runs: Vec<String>,
    pub folds: Vec<Fold>,
    /// Mean over folds of the held-out scores.
    pub mean: f64,
    /// The lowest held-out score.
    pub worst: f64,
    /// The run that is best on all conversations together, and its mean over folds.
    pub in_sample_best: (usize, f64),
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}

/// Mean recall@10 of `run` over the questions whose conversation `keep` accepts.
fn score(run: &Run, keep: impl Fn(&str) -> bool) -> f64 {
    mean(
        run.questions
            .iter()
            .filter(|q| keep(&q.conversation))
            .map(|q| q.recall_at_10),
    )
}

/// The best run by `score_of`; the first on a tie (list the default first).
fn best(runs: &[Run], score_of: impl Fn(&Run) -> f64) -> usize {
    let mut best = (0, f64::MIN);
    for (i, run) in runs.iter().enumerate() {
        let s = score_of(run);
        if s > best.1 {
            best = (i, s);
        }
    }
    best.0
}

/// Leave-one-conversation-out selection (see the module doc). The conversations are those
/// of the first run; every run must have scored the same ones.
pub fn cross_validate(runs: &[Run]) -> anyhow::Result<Folds> {
    let first = runs.first().context("no run given")?;
    let mut conversations: Vec<String> = first
        .questions
        .iter()
        .map(|q| q.conversation.clone())
        .collect();
    conversations.sort();
    conversations.dedup();
    anyhow::ensure!(
        conversations.len() >= 2,
        "cross-validation needs at least two conversations"
    );
    for run in runs {
        let count = |c: &str| run.questions.iter().filter(|q| q.conversation == c).count();
        for c in &conversations {
            anyhow::ensure!(
                count(c) == count_in(first, c),
                "run {} has {} questions of {c}, run {} has {}",
                run.name,
                count(c),
                first.name,
                count_in(first, c)
            );
        }
    }
    let folds: Vec<Fold> = conversations
        .iter()
        .map(|held| {
            let per_run: Vec<f64> = runs.iter().map(|r| score(r, |c| c == held)).collect();
            let chosen = best(runs, |r| score(r, |c| c != held));
            Fold {
                conversation: held.clone(),
                held_out: per_run[chosen],
                per_run,
                chosen,
            }
        })
        .collect();
    let in_sample = best(runs, |r| score(r, |_| true));
    Ok(Folds {
        runs: runs.iter().map(|r| r.name.clone()).collect(),
        mean: mean(folds.iter().map(|f| f.held_out)),
        worst: folds.iter().map(|f| f.held_out).fold(f64::MAX, f64::min),
        in_sample_best: (in_sample, mean(folds.iter().map(|f| f.per_run[in_sample]))),
        folds,
    })
}

fn count_in(run: &Run, conversation: &str) -> usize {
    run.questions
        .iter()
        .filter(|q| q.conversation == conversation)
        .count()
}

/// Reads a run's `questions.jsonl` (mnemo's recall@10 of categories 1-4 with evidence).
pub fn read_run(name: &str, dir: &Path) -> anyhow::Result<Run> {
    let path = dir.join("questions.jsonl");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut questions = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let value: Value = serde_json::from_str(line)
            .with_context(|| format!("{} line {}", path.display(), i + 1))?;
        let category = value["category"].as_u64().unwrap_or(0);
        let has_evidence = value["evidence"].as_array().is_some_and(|e| !e.is_empty());
        if !has_evidence || !MAIN_CATEGORIES.iter().any(|&c| u64::from(c) == category) {
            continue;
        }
        questions.push(Scored {
            conversation: value["conversation"]
                .as_str()
                .with_context(|| format!("{} line {}: no conversation", path.display(), i + 1))?
                .to_owned(),
            recall_at_10: value["scores"]["mnemo"]["recall@10"]
                .as_f64()
                .with_context(|| format!("{} line {}: no recall@10", path.display(), i + 1))?,
        });
    }
    Ok(Run {
        name: name.to_owned(),
        questions,
    })
}

fn r4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

impl Folds {
    pub fn to_json(&self) -> Value {
        json!({
            "metric": "recall@10, categories 1-4",
            "runs": self.runs,
            "folds": self.folds.iter().map(|f| json!({
                "held_out_conversation": f.conversation,
                "per_run": f.per_run.iter().map(|&x| r4(x)).collect::<Vec<_>>(),
                "chosen": self.runs[f.chosen],
                "held_out_recall@10": r4(f.held_out),
            })).collect::<Vec<_>>(),
            "mean": r4(self.mean),
            "worst": r4(self.worst),
            "in_sample_best": {"run": self.runs[self.in_sample_best.0], "mean": r4(self.in_sample_best.1)},
        })
    }

    pub fn markdown(&self) -> String {
        let mut md = String::from(
            "# Leave-one-conversation-out (recall@10, categories 1-4)\n\n| held out |",
        );
        for run in &self.runs {
            md.push_str(&format!(" {run} |"));
        }
        md.push_str(" chosen on the others | held-out score |\n|---|");
        md.push_str(&"---|".repeat(self.runs.len() + 2));
        md.push('\n');
        for fold in &self.folds {
            md.push_str(&format!("| {} |", fold.conversation));
            for x in &fold.per_run {
                md.push_str(&format!(" {:.3} |", x));
            }
            md.push_str(&format!(
                " {} | {:.3} |\n",
                self.runs[fold.chosen], fold.held_out
            ));
        }
        md.push_str(&format!(
            "\nCross-validated: mean {:.3}, worst fold {:.3}. In-sample best: {} (mean over folds {:.3}).\n",
            self.mean, self.worst, self.runs[self.in_sample_best.0], self.in_sample_best.1
        ));
        md
    }
}

/// `mnemo eval folds`: reads the runs, writes `folds.json` and `folds.md` into `out`.
pub fn run(runs: &[(String, PathBuf)], out: &Path) -> anyhow::Result<Folds> {
    let runs: Vec<Run> = runs
        .iter()
        .map(|(name, dir)| read_run(name, dir))
        .collect::<anyhow::Result<_>>()?;
    let folds = cross_validate(&runs)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    std::fs::write(
        out.join("folds.json"),
        serde_json::to_string_pretty(&folds.to_json())?,
    )?;
    std::fs::write(out.join("folds.md"), folds.markdown())?;
    Ok(folds)
}

/// `NAME=DIR`, as `--run` takes it.
pub fn parse_run(text: &str) -> Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((name, dir)) if !name.is_empty() && !dir.is_empty() => {
            Ok((name.to_owned(), PathBuf::from(dir)))
        }
        _ => Err(format!("expected NAME=DIR, got {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, scores: &[(&str, f64)]) -> Run {
        Run {
            name: name.into(),
            questions: scores
                .iter()
                .map(|(c, r)| Scored {
                    conversation: (*c).into(),
                    recall_at_10: *r,
                })
                .collect(),
        }
    }

    #[test]
    fn a_run_that_wins_only_where_it_is_held_out_is_not_chosen_there() {
        // "fit" is best overall only because of c1; held out on c1 it loses to "base".
        let base = run("base", &[("c1", 0.5), ("c2", 0.6), ("c3", 0.6)]);
        let fit = run("fit", &[("c1", 1.0), ("c2", 0.55), ("c3", 0.55)]);
        let folds = cross_validate(&[base, fit]).unwrap();
        let chosen: Vec<usize> = folds.folds.iter().map(|f| f.chosen).collect();
        assert_eq!(chosen, [0, 1, 1]);
        let held: Vec<f64> = folds.folds.iter().map(|f| f.held_out).collect();
        assert_eq!(held, [0.5, 0.55, 0.55]);
        assert!((folds.mean - 0.5333).abs() < 1e-3);
        assert_eq!(folds.worst, 0.5);
        assert_eq!(folds.in_sample_best.0, 1);
        assert!((folds.in_sample_best.1 - 0.7).abs() < 1e-9);
        let md = folds.markdown();
        assert!(md.contains("| c1 | 0.500 | 1.000 | base | 0.500 |"), "{md}");
    }

    #[test]
    fn runs_of_different_questions_are_refused() {
        let a = run("a", &[("c1", 0.5), ("c2", 0.6)]);
        let b = run("b", &[("c1", 0.5)]);
        let err = cross_validate(&[a, b]).unwrap_err().to_string();
        assert!(err.contains("run b has 0 questions of c2"), "{err}");
        assert!(parse_run("x").is_err());
        assert_eq!(
            parse_run("mpnet=/tmp/r").unwrap(),
            ("mpnet".into(), PathBuf::from("/tmp/r"))
        );
    }
}
