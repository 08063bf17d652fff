//! `mnemo serve`. Binds the listener first (so `/healthz` answers at once and `/readyz`
//! tells the truth during start-up), then loads the embedder and opens the store (through
//! `compose`), and serves until SIGTERM or ctrl-c; then drains requests and waits for
//! episodes processing in the background.

use std::io::{IsTerminal as _, Write as _};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use mnemo_server::{ApiKeyBinding, AppState, ServerSettings};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::{info, warn};
use tracing_subscriber::EnvFilter;

use crate::compose::{Embedding, Models};
use crate::config::Config;

/// How long requests in flight may take to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// How long blocking start-up work (model loading) may delay exit after the server stopped.
const RUNTIME_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `mnemo serve` to completion.
pub fn run(config_file: Option<&Path>) -> anyhow::Result<()> {
    init_tracing("info");
    let config = Config::load(config_file, std::env::vars_os())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(serve(config));
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN_TIMEOUT);
    result
}

/// Logs go to stderr (stdout carries only the `listening on` line, or a command's
/// output), filtered by `RUST_LOG` (default `default_filter`).
pub fn init_tracing(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let started = Instant::now();
    // Installed before the address is announced, so a signal sent right after it is
    // handled as a shutdown request instead of killing the process.
    let mut signals = Signals::install()?;

    let listener = TcpListener::bind(config.server.addr)
        .await
        .with_context(|| format!("cannot listen on {} (server.addr)", config.server.addr))?;
    let addr = listener.local_addr()?;
    info!(%addr, "listening");
    // For scripts and tests; a closed stdout must not stop the service.
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "listening on http://{addr}").and_then(|()| stdout.flush());
    drop(stdout);

    let state = AppState::with_settings(server_settings(&config)?);
    let (stop, stopped) = oneshot::channel::<()>();
    let mut server = tokio::spawn(mnemo_server::serve(listener, state.clone(), async {
        // A dropped sender also stops the server.
        let _ = stopped.await;
    }));

    tokio::select! {
        loaded = load(&config, &state) => {
            if let Err(err) = loaded {
                if let Err(stopping) = shut_down(stop, server, &mut signals).await {
                    warn!(error = %format!("{stopping:#}"), "stopping after a failed start-up");
                }
                return Err(err);
            }
            info!(%addr, startup_ms = started.elapsed().as_millis() as u64, "ready");
        }
        signal = signals.recv() => {
            info!(signal, "signal received during start-up; shutting down");
            return shut_down(stop, server, &mut signals).await;
        }
        ended = &mut server => return server_ended(ended),
    }

    tokio::select! {
        signal = signals.recv() => info!(signal, "signal received; shutting down"),
        ended = &mut server => return server_ended(ended),
    }
    shut_down(stop, server, &mut signals).await
}

/// What the HTTP layer takes from the configuration: API keys, the body limit and the
/// read timeout.
fn server_settings(config: &Config) -> anyhow::Result<ServerSettings> {
    let body_limit_bytes = usize::try_from(config.server.max_body_bytes)
        .context("server.max_body_bytes is too large for this machine")?;
    let api_keys = config
        .auth
        .api_keys
        .iter()
        .map(|key| ApiKeyBinding {
            key: key.key.expose().to_owned(),
            user_id: key.user_id.clone(),
            agent_id: key.agent_id.clone(),
            run_id: key.run_id.clone(),
        })
        .collect();
    Ok(ServerSettings {
        api_keys,
        body_limit_bytes,
        read_timeout: std::time::Duration::from_secs(config.server.read_timeout_s),
    })
}

/// Checks the LLM and ontology settings, loads the embedder (its dimension sizes the
/// store), then opens the store, putting each into `state` as soon as it is ready; then
/// builds the pipelines and resumes episodes a previous run left pending.
async fn load(config: &Config, state: &AppState) -> anyhow::Result<()> {
    let models = Models::from_config(config)?;
    if models.llm.is_none() {
        info!("no LLM configured (llm.base_url): infer=false and direct relations only");
    }
    let embedding = Embedding::load(config).await?;
    state.set_embedder(embedding.embedder.clone());
    let stores = crate::compose::stores(config, config.embed.model.model()).await?;
    state.set_store(stores.graph.clone(), stores.vectors.clone());

    let memory = Arc::new(crate::compose::memory(models, &embedding, &stores));
    state.set_memory(memory.clone());
    // In the background: serving need not wait for old episodes' LLM calls.
    tokio::spawn(async move {
        match memory.resume_pending().await {
            Ok(report) => info!(
                done = report.done,
                failed = report.failed,
                waiting_for_llm = report.waiting_for_llm,
                "pending episodes resumed"
            ),
            Err(err) => warn!(error = %err, "resuming pending episodes failed; they stay pending"),
        }
    });
    Ok(())
}

/// Stops the server and waits, at most [`DRAIN_TIMEOUT`] or until a second signal, for
/// requests in flight and then episodes processing in the background (`mnemo_server::serve`
/// does both); episodes still running stay `pending` for the next start.
async fn shut_down(
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
    signals: &mut Signals,
) -> anyhow::Result<()> {
    let _ = stop.send(());
    tokio::select! {
        drained = tokio::time::timeout(DRAIN_TIMEOUT, server) => match drained {
            Ok(ended) => server_ended(ended)?,
            Err(_) => warn!(
                timeout_s = DRAIN_TIMEOUT.as_secs(),
                "requests still in flight after the drain timeout; exiting anyway"
            ),
        },
        signal = signals.recv() => {
            warn!(signal, "second signal; exiting without waiting for requests in flight");
            info!("shut down");
            return Ok(());
        }
    }
    info!("shut down");
    Ok(())
}

fn server_ended(ended: Result<std::io::Result<()>, tokio::task::JoinError>) -> anyhow::Result<()> {
    ended
        .context("the HTTP server panicked")?
        .context("the HTTP server failed")
}

/// SIGTERM (orchestrators) and SIGINT (ctrl-c).
struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                terminate: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
                interrupt: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// The name of the next signal received.
    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.terminate.recv() => "SIGTERM",
                _ = self.interrupt.recv() => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "ctrl-c"
        }
    }
}
