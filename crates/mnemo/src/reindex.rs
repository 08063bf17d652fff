//! `mnemo reindex`: re-embeds an embedded store with the configured model (`embed.model`),
//! so a store written with one embedding model can be searched with another.
//!
//! The store is exported record by record (as `mnemo export` does, no embedding needed),
//! imported into a fresh store beside it with the new model (entities re-embedded from
//! their names; relations and facts from their text, as every import does), and only then
//! swapped in. Until the swap the original folder is untouched, so a failure at any point
//! leaves it as it was.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::Args;
use mnemo_core::transfer::ImportMode;
use mnemo_embedded::EmbeddedStore;

use crate::compose::{self, Embedding, Models, Stores};
use crate::config::{Backend, Config};

#[derive(Args)]
pub struct ReindexArgs {
    /// Keep the store as it was in `<store.path>.before-reindex` instead of deleting it
    #[arg(long)]
    pub keep_old: bool,
}

pub async fn run(config: Config, args: ReindexArgs) -> anyhow::Result<()> {
    if config.store.backend != Backend::Embedded {
        bail!(
            "mnemo reindex works on the embedded store; with Neo4j and Qdrant, `mnemo export` from \
             the old deployment and `mnemo import` into new, empty ones configured with the new model"
        );
    }
    let started = Instant::now();
    let model = config.embed.model.model();
    let path = config.store.path.clone();
    let (recorded, dimension) = blocking({
        let path = path.clone();
        move || EmbeddedStore::recorded_model(&path)
    })
    .await?
    .with_context(|| format!("cannot read the store at {}", path.display()))?;
    let Some(dimension) = dimension else {
        bail!("no store at {} (store.path)", path.display());
    };
    if dimension == model.dimension() && recorded.as_deref().is_none_or(|r| r == model.name()) {
        // A store from before models were recorded has the only model there was then
        // (MiniLM, 384-d): opening it for the model records the name.
        drop(open(&path, Some(model.name()), dimension).await?);
        eprintln!(
            "the store at {} is already embedded with {model}",
            path.display()
        );
        return Ok(());
    }
    let from = recorded.unwrap_or_else(|| format!("an unnamed {dimension}-d model"));

    let models = Models::from_config(&config)?;
    let embedding = Embedding::load(&config).await?;
    let records = {
        let old = open(&path, None, dimension).await?;
        // Exporting reads the stores only: no LLM.
        let exporting = Models {
            llm: None,
            ontology: models.ontology.clone(),
            settings: models.settings.clone(),
        };
        let memory = compose::memory(exporting, &embedding, &old);
        let mut records = Vec::new();
        for scope in memory.scopes().await? {
            records.extend(memory.export_scope(&scope).await?);
        }
        records
        // `old` is dropped here: its folder lock is released before the swap.
    };

    let fresh_path = sibling(&path, "reindexing");
    if fresh_path.exists() {
        std::fs::remove_dir_all(&fresh_path)
            .with_context(|| format!("cannot remove the leftover {}", fresh_path.display()))?;
    }
    let count = records.len();
    {
        let fresh = open(&fresh_path, Some(model.name()), model.dimension()).await?;
        let memory = compose::memory(models, &embedding, &fresh);
        let mut records = records;
        memory.reembed_entities(&mut records).await?;
        crate::transfer::import_records(&memory, records, ImportMode::IntoEmpty).await?;
    }

    let old_path = sibling(&path, "before-reindex");
    if old_path.exists() {
        bail!(
            "{} exists (kept by an earlier reindex); remove it and run again",
            old_path.display()
        );
    }
    std::fs::rename(&path, &old_path)
        .with_context(|| format!("cannot move {} aside", path.display()))?;
    std::fs::rename(&fresh_path, &path).with_context(|| {
        format!(
            "cannot move {} into place; the original store is in {}",
            fresh_path.display(),
            old_path.display()
        )
    })?;
    if args.keep_old {
        eprintln!("the store as it was is kept in {}", old_path.display());
    } else {
        std::fs::remove_dir_all(&old_path)
            .with_context(|| format!("cannot remove {}", old_path.display()))?;
    }
    eprintln!(
        "re-embedded {count} records of {} from {from} to {model} in {:.1} s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `<path>.<suffix>`, next to `path`.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

/// The embedded store at `path` (for `model`, or by dimension only) as both halves.
async fn open(
    path: &Path,
    model: Option<&'static str>,
    dimension: usize,
) -> anyhow::Result<Stores> {
    let store = blocking({
        let path = path.to_owned();
        move || match model {
            Some(model) => EmbeddedStore::open_for_model(&path, model, dimension),
            None => EmbeddedStore::open(&path, dimension),
        }
    })
    .await?
    .with_context(|| format!("cannot open the embedded store at {}", path.display()))?;
    Ok(Stores {
        graph: std::sync::Arc::new(store.clone()),
        vectors: std::sync::Arc::new(store),
    })
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .context("a blocking store task panicked")
}
