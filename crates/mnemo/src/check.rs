//! `mnemo check`: reads every record of every scope straight from the store and reports,
//! per scope, the undecodable ones that reads skip (each is logged with its kind and id)
//! instead of failing. Opens the store directly: stop `mnemo serve` first.

use anyhow::bail;
use mnemo_core::ports::{GraphRead, VectorRead};

use crate::compose::{self, Embedding, Models, Stores};
use crate::config::Config;

/// Undecodable records the store's reads have skipped so far (graph and vector halves).
async fn skipped(stores: &Stores) -> anyhow::Result<u64> {
    let graph = GraphRead::counts(&*stores.graph).await?;
    let vectors = VectorRead::counts(&*stores.vectors).await?;
    Ok(graph.corrupt_skipped + vectors.corrupt_skipped)
}

/// Prints one line for the opening and one per scope; an error (exit status 1) when any
/// record is undecodable.
pub async fn check(config: Config) -> anyhow::Result<()> {
    let models = Models::from_config(&config)?;
    let embedding = Embedding::load(&config).await?;
    let stores = compose::stores(&config, config.embed.model.model()).await?;
    let memory = compose::memory(models, &embedding, &stores);
    let at_open = skipped(&stores).await?;
    println!("opening the store: {at_open} undecodable records skipped");
    let (mut total, mut bad_scopes) = (at_open, 0);
    let scopes = memory.scopes().await?;
    for scope in &scopes {
        let before = skipped(&stores).await?;
        let records = memory.export_scope(scope).await?.len();
        let bad = skipped(&stores).await? - before;
        println!("scope {scope}: {records} records read, {bad} undecodable skipped");
        total += bad;
        bad_scopes += usize::from(bad > 0);
    }
    if total > 0 {
        bail!(
            "{total} undecodable record reads ({bad_scopes} of {} scopes); the log names \
             each record's kind and id",
            scopes.len()
        );
    }
    println!("{} scopes, no undecodable records", scopes.len());
    Ok(())
}
