//! Offline text embeddings: a sentence-embedding model ([`Model`]: all-MiniLM-L6-v2 by
//! default) run by fastembed on an ONNX Runtime library loaded from a configured path,
//! behind `mnemo_core::ports::Embedder`.
//!
//! Nothing is downloaded: `make setup` installs the ONNX Runtime library and the model files
//! under `.deps/`, and [`EmbedConfig`] points at them.

mod checks;
mod model;
mod pool;
pub mod tokens;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use async_trait::async_trait;
use fastembed::{
    InitOptionsUserDefined, OutputKey, Pooling, QuantizationMode, TextEmbedding,
    UserDefinedEmbeddingModel,
};
use mnemo_core::EmbedError;
use mnemo_core::ports::Embedder;
use ort::environment::Environment;

pub use model::{Model, UnknownModel};
pub use pool::PoolConfig;
pub use tokens::TokenizerCounter;

use pool::{Priority, SessionPool};

/// The command that installs the offline files; every setup error names it.
pub const SETUP_COMMAND: &str = "make setup";

/// The default model's name, as reported by [`Embedder::model_name`].
pub const MODEL_NAME: &str = "all-MiniLM-L6-v2";

/// Length of the default model's vectors (what tests and benchmarks open stores with).
pub const DIMENSION: usize = 384;

/// Tokens the longest-reading model takes per text.
const MAX_TOKENS: usize = Model::MpnetBaseV2.max_tokens();

/// Characters of a text that reach the tokenizer. A model reads at most [`MAX_TOKENS`]
/// tokens (about 1,500 characters of English), but the tokenizer would first split the
/// whole text: a 2 MB message cost seconds of CPU under the model lock. Sixteen characters
/// per token read leaves the embedding of ordinary text unchanged.
pub const MAX_EMBEDDED_CHARS: usize = 16 * MAX_TOKENS;

/// `text` cut to its first [`MAX_EMBEDDED_CHARS`] characters.
pub fn embedded_part(text: &str) -> &str {
    match text.char_indices().nth(MAX_EMBEDDED_CHARS) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// Which model, where its files and the ONNX Runtime library are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedConfig {
    pub model: Model,
    /// Contains `model.onnx`, `tokenizer.json`, `config.json`, `special_tokens_map.json` and
    /// `tokenizer_config.json`.
    pub model_dir: PathBuf,
    /// The ONNX Runtime 1.24.x shared library, e.g. `…/libonnxruntime.so.1.24.4`.
    pub ort_dylib_path: PathBuf,
}

impl EmbedConfig {
    /// `embed.ort_dylib_path` as installed by `make setup`, relative to the repository root.
    pub const DEFAULT_ORT_DYLIB_PATH: &str =
        ".deps/python/onnxruntime/capi/libonnxruntime.so.1.24.4";

    /// The default model at the paths `make setup` installs to, under `repo_root`.
    pub fn repo_default(repo_root: &Path) -> EmbedConfig {
        EmbedConfig::repo_model(repo_root, Model::default())
    }

    /// `model` at the paths its setup command installs to, under `repo_root`.
    pub fn repo_model(repo_root: &Path, model: Model) -> EmbedConfig {
        EmbedConfig {
            model,
            model_dir: repo_root.join(model.default_dir()),
            ort_dylib_path: repo_root.join(Self::DEFAULT_ORT_DYLIB_PATH),
        }
    }
}

/// One [`Model`] (mean pooling, unit-length vectors) on ONNX Runtime.
///
/// Cheap to clone; clones share one pool of model sessions (see [`PoolConfig`]).
#[derive(Clone)]
pub struct FastEmbedder {
    model: Model,
    pool: Arc<SessionPool>,
}

impl std::fmt::Debug for FastEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastEmbedder")
            .field("model", &self.model.name())
            .finish_non_exhaustive()
    }
}

impl FastEmbedder {
    /// Checks the files, loads ONNX Runtime (once per process) and the model. Blocking: it
    /// reads the model (22 MB for MiniLM, 107 MB for mpnet) and builds an ONNX Runtime
    /// session; async callers may run it in `spawn_blocking`.
    ///
    /// Every problem with the files is an [`EmbedError::Setup`] naming [`SETUP_COMMAND`].
    pub fn load(config: &EmbedConfig) -> Result<FastEmbedder, EmbedError> {
        FastEmbedder::load_pool(config, PoolConfig::default())
    }

    /// [`FastEmbedder::load`] with `pool.sessions` model sessions (each may use every
    /// core) and at most `pool.max_waiting` calls waiting for one.
    pub fn load_pool(config: &EmbedConfig, pool: PoolConfig) -> Result<FastEmbedder, EmbedError> {
        let started = Instant::now();
        let pool = pool.checked()?;
        let dylib = checks::ort_library(&config.ort_dylib_path)?;
        let model = config.model;
        let files = checks::model_files(&config.model_dir, model)?;

        // `ort` asserts and `expect`s in a few places (a library whose entry points return
        // null, an API version it does not know). The checks above and the version probe in
        // `ort_environment` should keep every such library out; this `catch_unwind` is the
        // last resort that turns a remaining panic into an error.
        let threads = pool.threads_per_session();
        let load_session = || -> Result<TextEmbedding, EmbedError> {
            catch_unwind(AssertUnwindSafe(|| -> Result<TextEmbedding, EmbedError> {
                let environment = ort_environment(&dylib)?;
                // Batches are cut per model (`Model::batch_size`): a vector must not depend on
                // the texts embedded with it.
                let mut definition =
                    UserDefinedEmbeddingModel::new(files.onnx.clone(), files.tokenizer.clone())
                        .with_pooling(Pooling::Mean)
                        .with_quantization(QuantizationMode::None);
                definition.output_key = Some(OutputKey::ByName("last_hidden_state"));
                // No spin-waiting in ONNX Runtime's thread pool between runs: the cores are shared
                // with the HTTP server and the store. Measured: same batch throughput, about
                // 0.4 ms more per single-text call.
                let options = InitOptionsUserDefined::new()
                    .with_environment(environment)
                    .with_max_length(model.max_tokens())
                    .with_intra_threads(threads)
                    .with_session_config("session.intra_op.allow_spinning", "0");
                TextEmbedding::try_new_from_user_defined(definition, options).map_err(|err| {
                    EmbedError::Setup(format!(
                        "cannot load the embedding model {model} from {}: {err}; run `{}`",
                        config.model_dir.display(),
                        model.setup_command()
                    ))
                })
            }))
            .unwrap_or_else(|panic| {
                Err(EmbedError::Setup(format!(
                    "ONNX Runtime failed while loading {}: {}; run `{SETUP_COMMAND}`",
                    dylib.display(),
                    panic_message(panic.as_ref())
                )))
            })
        };
        let sessions = (0..pool.sessions)
            .map(|_| load_session())
            .collect::<Result<Vec<_>, _>>()?;

        tracing::info!(
            model = model.name(),
            model_dir = %config.model_dir.display(),
            ort_dylib = %dylib.display(),
            sessions = pool.sessions,
            threads_per_session = threads,
            max_waiting = pool.max_waiting,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "embedder loaded"
        );
        Ok(FastEmbedder {
            model,
            pool: Arc::new(SessionPool::new(sessions, pool.max_waiting)),
        })
    }
}

#[async_trait]
impl Embedder for FastEmbedder {
    fn dimension(&self) -> usize {
        self.model.dimension()
    }

    fn model_name(&self) -> &str {
        self.model.name()
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.embed_with(texts, Priority::Write).await
    }

    async fn embed_query(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.embed_with(texts, Priority::Query).await
    }
}

impl FastEmbedder {
    async fn embed_with(
        &self,
        texts: Vec<String>,
        priority: Priority,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|err| {
            EmbedError::Inference(format!("embedding needs a tokio runtime: {err}"))
        })?;
        // Back-pressure: past `max_waiting` calls in line, a call is refused at once
        // instead of queueing without bound.
        let admitted = self.pool.admit()?;
        let pool = Arc::clone(&self.pool);
        let model = self.model;
        let texts: Vec<String> = texts
            .into_iter()
            .map(|text| match embedded_part(&text).len() {
                len if len == text.len() => text,
                len => text[..len].to_owned(),
            })
            .collect();
        runtime
            .spawn_blocking(move || {
                let _admitted = admitted;
                embed_blocking(&pool, &texts, model, priority)
            })
            .await
            .map_err(|err| EmbedError::Inference(format!("embedding task failed: {err}")))?
    }
}

/// Characters every text counts as at least when batching: a few tokens more padding cost
/// less than another run of the model.
const MIN_BATCH_LENGTH: usize = 16;

/// A text at most this many times longer than the shortest of its batch joins it; a
/// longer one starts the next batch. A batch is padded to its longest text, and the model's
/// cost grows with the padded length, so a message embedded with the short names it
/// mentions would cost as much as five messages.
const MAX_BATCH_SPREAD: usize = 2;

/// Runs the model over `texts`, keeping their order: in order of length, in batches of at
/// most [`Model::batch_size`] texts of similar length ([`MAX_BATCH_SPREAD`]); each batch
/// takes a free session and gives it back, so a large call never holds one long. A model
/// whose vectors would depend on their batch-mates has batches of one
/// ([`Model::batch_size`]), so the batching never changes a vector.
fn embed_blocking(
    pool: &SessionPool,
    texts: &[String],
    model: Model,
    priority: Priority,
) -> Result<Vec<Vec<f32>>, EmbedError> {
    let (dimension, batch_size) = (model.dimension(), model.batch_size());
    let mut vectors: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
    for batch in batches(texts, batch_size) {
        let batch_texts: Vec<&str> = batch.iter().map(|&i| texts[i].as_str()).collect();
        let batch_vectors = pool
            .session(priority)
            .embed(&batch_texts, Some(batch_size))
            .map_err(|err| EmbedError::Inference(err.to_string()))?;
        if batch_vectors.len() != batch.len() || batch_vectors.iter().any(|v| v.len() != dimension)
        {
            return Err(EmbedError::Inference(format!(
                "the model returned {} vectors for {} texts, or not all of length {dimension}",
                batch_vectors.len(),
                batch.len()
            )));
        }
        for (&i, vector) in batch.iter().zip(batch_vectors) {
            vectors[i] = vector;
        }
    }
    Ok(vectors)
}

/// The indexes of `texts` in batches (see [`embed_blocking`]): shortest first (length in
/// characters, which follows the token count closely enough), each batch at most
/// `batch_size` long and [`MAX_BATCH_SPREAD`] times its first text's length (at least
/// [`MIN_BATCH_LENGTH`]).
fn batches(texts: &[String], batch_size: usize) -> Vec<Vec<usize>> {
    let length = |i: usize| texts[i].chars().count().max(MIN_BATCH_LENGTH);
    let mut by_length: Vec<usize> = (0..texts.len()).collect();
    by_length.sort_by_key(|&i| length(i));
    let mut batches: Vec<Vec<usize>> = Vec::new();
    for i in by_length {
        match batches.last_mut() {
            Some(batch)
                if batch.len() < batch_size && length(i) <= MAX_BATCH_SPREAD * length(batch[0]) =>
            {
                batch.push(i);
            }
            _ => batches.push(vec![i]),
        }
    }
    batches
}

/// The process's one ONNX Runtime environment, created from `dylib` on first use.
///
/// ONNX Runtime can be loaded only once per process, and `ort` allows only one environment,
/// so both are kept here together with the library's path; asking for another library later
/// is an error rather than silently using the first one.
fn ort_environment(dylib: &Path) -> Result<Environment, EmbedError> {
    static LOADED: Mutex<Option<(PathBuf, Environment)>> = Mutex::new(None);

    // Ask the library itself for its version before handing it to `ort`, which would only
    // reject versions older than the one it was built for. (Probing opens and closes the
    // library; for the library already in use that is only a reference count.)
    match ort::util::probe(dylib) {
        Some(checks::ORT_MINOR) => {}
        Some(minor) => {
            return Err(EmbedError::Setup(format!(
                "ONNX Runtime library at {} reports version 1.{minor}, mnemo needs 1.{}.x; run `{SETUP_COMMAND}`",
                dylib.display(),
                checks::ORT_MINOR
            )));
        }
        None => {
            return Err(EmbedError::Setup(format!(
                "{} is not a loadable ONNX Runtime library; run `{SETUP_COMMAND}`",
                dylib.display()
            )));
        }
    }

    let mut loaded = LOADED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((path, environment)) = loaded.as_ref() {
        return if path == dylib {
            Ok(environment.clone())
        } else {
            Err(EmbedError::Setup(format!(
                "ONNX Runtime is already loaded from {} in this process and cannot be switched to {}; \
                 use one `embed.ort_dylib_path`",
                path.display(),
                dylib.display()
            )))
        };
    }

    let environment = ort::init_from(dylib)
        .map_err(|err| {
            EmbedError::Setup(format!(
                "cannot load ONNX Runtime: {err}; run `{SETUP_COMMAND}`"
            ))
        })?
        .with_name("mnemo")
        .with_telemetry(false)
        .build()
        .map_err(|err| EmbedError::Setup(format!("cannot start ONNX Runtime: {err}")))?;
    *loaded = Some((dylib.to_path_buf(), environment.clone()));
    Ok(environment)
}

/// The text of a caught panic, when it has one.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("panic without a message")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(texts: &[&str], batch_size: usize, want: &[&[usize]]) {
        let texts: Vec<String> = texts.iter().map(|t| (*t).to_owned()).collect();
        assert_eq!(batches(&texts, batch_size), want, "{texts:?}");
    }

    #[test]
    fn texts_are_batched_shortest_first_with_texts_of_similar_length() {
        let message = "I met Dana Whitfield at the Harbor Cafe in Lisbon.";
        // The names go together, the message they came from alone.
        check(
            &[message, "Dana Whitfield", "Harbor Cafe", "Lisbon"],
            64,
            &[&[1, 2, 3], &[0]],
        );
        // Batch size caps a batch; every text is in exactly one batch.
        check(
            &["aa", "bb", "cc", "dd", "ee"],
            2,
            &[&[0, 1], &[2, 3], &[4]],
        );
        check(&["x"; 1], 1, &[&[0]]);
        check(&[], 64, &[]);
        // Short texts count as MIN_BATCH_LENGTH characters.
        check(&["", "abc", "ab"], 64, &[&[0, 1, 2]]);
        let long = "a".repeat(100);
        let longer = "b".repeat(201);
        check(&[&longer, "ab", &long], 64, &[&[1], &[2], &[0]]);
    }
}
