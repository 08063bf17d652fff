//! The composition root: builds a `Memory` from configuration — the LLM client (when
//! `llm.base_url` is set), the ontology (built-in, or `ontology.file`), the embedder and
//! the store — for `mnemo serve` and for the commands that open the store directly
//! (`--local`, `import`, `export`). Nothing else constructs a `Memory`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use mnemo_core::llm::LanguageModel;
use mnemo_core::ports::{GraphWrite, VectorWrite};
use mnemo_core::{Memory, MemoryParts, MemorySettings, Ontology};
use mnemo_embedded::EmbeddedStore;
use mnemo_fastembed::{FastEmbedder, Model, TokenizerCounter};
use mnemo_llm::{LlmConfig, OpenAiLlm, OutputMode};
use mnemo_neo4j::{Neo4jSettings, Neo4jStore};
use mnemo_qdrant::{QdrantSettings, QdrantStore};

use crate::config::{Backend, Config, LlmOutput};

/// The parts of a `Memory` that come from configuration alone (cheap; checked first so
/// their errors show before the slow loading).
pub struct Models {
    pub llm: Option<Arc<dyn LanguageModel>>,
    pub ontology: Ontology,
    pub settings: MemorySettings,
}

impl Models {
    pub fn from_config(config: &Config) -> anyhow::Result<Models> {
        Ok(Models {
            llm: llm(config)?,
            ontology: ontology(config)?,
            settings: MemorySettings {
                max_query_chars: config.server.max_query_chars,
                max_concurrent_searches: config.max_concurrent_searches(),
                ..MemorySettings::default()
            },
        })
    }
}

/// The embedder and the tokenizer that counts tokens for budgets, from `embed.*`.
pub struct Embedding {
    pub embedder: Arc<FastEmbedder>,
    pub tokens: Arc<TokenizerCounter>,
}

impl Embedding {
    /// Loads the model files on the blocking pool (about a second).
    pub async fn load(config: &Config) -> anyhow::Result<Embedding> {
        let embed_config = embed_config(config);
        let pool = mnemo_fastembed::PoolConfig {
            sessions: config.embed.sessions,
            max_waiting: config.embed.max_waiting,
        };
        let (embedder, tokens) = tokio::task::spawn_blocking(move || {
            Ok::<_, mnemo_core::EmbedError>((
                FastEmbedder::load_pool(&embed_config, pool)?,
                TokenizerCounter::load(&embed_config)?,
            ))
        })
        .await
        .context("embedder loading panicked")?
        .context("cannot load the embedder")?;
        Ok(Embedding {
            embedder: Arc::new(embedder),
            tokens: Arc::new(tokens),
        })
    }
}

/// Which model and where its files are (`embed.*`).
pub fn embed_config(config: &Config) -> mnemo_fastembed::EmbedConfig {
    let model = config.embed.model.model();
    mnemo_fastembed::EmbedConfig {
        model,
        model_dir: config
            .embed
            .model_dir
            .clone()
            .unwrap_or_else(|| model.default_dir().into()),
        ort_dylib_path: config.embed.ort_dylib_path.clone(),
    }
}

/// The configured store's graph and vector halves.
#[derive(Clone)]
pub struct Stores {
    pub graph: Arc<dyn GraphWrite>,
    pub vectors: Arc<dyn VectorWrite>,
}

/// Opens the configured store for the vectors of `model`: the embedded store (held by one
/// process at a time; it records the model and refuses another), or Neo4j for the graph
/// and Qdrant for vectors (which check the dimension), each failing fast with a message
/// naming the unreachable service.
pub async fn stores(config: &Config, model: Model) -> anyhow::Result<Stores> {
    match config.store.backend {
        Backend::Embedded => embedded_store(config, model).await,
        Backend::Neo4j => scale_out_stores(config, model.dimension()).await,
    }
}

async fn embedded_store(config: &Config, model: Model) -> anyhow::Result<Stores> {
    let path = config.store.path.clone();
    let store = tokio::task::spawn_blocking({
        let path = path.clone();
        move || EmbeddedStore::open_for_model(&path, model.name(), model.dimension())
    })
    .await
    .context("opening the store panicked")?
    .with_context(|| format!("cannot open the embedded store at {}", path.display()))?;
    Ok(Stores {
        graph: Arc::new(store.clone()),
        vectors: Arc::new(store),
    })
}

/// Neo4j and Qdrant, connected concurrently (config validation already requires
/// `neo4j.uri` and `qdrant.url` with this backend).
async fn scale_out_stores(config: &Config, dimension: usize) -> anyhow::Result<Stores> {
    let (Some(uri), Some(url)) = (&config.neo4j.uri, &config.qdrant.url) else {
        bail!("store.backend = \"neo4j\" needs neo4j.uri and qdrant.url");
    };
    let neo4j = Neo4jSettings {
        uri: uri.clone(),
        user: config
            .neo4j
            .user
            .clone()
            .unwrap_or_else(|| "neo4j".to_owned()),
        password: config
            .neo4j
            .password
            .as_ref()
            .map(|p| p.expose().to_owned())
            .unwrap_or_default(),
        database: config.neo4j.database.clone(),
    };
    let mut qdrant = QdrantSettings::new(url.clone());
    qdrant.api_key = config
        .qdrant
        .api_key
        .as_ref()
        .map(|k| k.expose().to_owned());
    let (graph, vectors) = tokio::join!(
        Neo4jStore::connect(neo4j, dimension),
        QdrantStore::connect(qdrant, dimension)
    );
    let graph = graph.with_context(|| format!("cannot use Neo4j at {uri} (neo4j.uri)"))?;
    let vectors = vectors.with_context(|| format!("cannot use Qdrant at {url} (qdrant.url)"))?;
    Ok(Stores {
        graph: Arc::new(graph),
        vectors: Arc::new(vectors),
    })
}

/// The `Memory` on loaded parts.
pub fn memory(models: Models, embedding: &Embedding, stores: &Stores) -> Memory {
    Memory::new(MemoryParts {
        graph: stores.graph.clone(),
        vectors: stores.vectors.clone(),
        embedder: embedding.embedder.clone(),
        tokens: embedding.tokens.clone(),
        llm: models.llm,
        ontology: models.ontology,
        settings: models.settings,
    })
}

/// Everything at once, for the commands that work on the store directly.
pub async fn open_memory(config: &Config) -> anyhow::Result<Memory> {
    let models = Models::from_config(config)?;
    let embedding = Embedding::load(config).await?;
    let stores = stores(config, config.embed.model.model()).await?;
    Ok(memory(models, &embedding, &stores))
}

/// The configured LLM, or `None` when `llm.base_url` is unset (config validation already
/// requires `llm.model` with it).
pub fn llm(config: &Config) -> anyhow::Result<Option<Arc<dyn LanguageModel>>> {
    let (Some(base_url), Some(model)) = (&config.llm.base_url, &config.llm.model) else {
        return Ok(None);
    };
    let mut llm = LlmConfig::new(base_url.clone(), model.clone());
    llm.api_key = config
        .llm
        .api_key
        .as_ref()
        .map(|key| key.expose().to_owned());
    llm.output = match config.llm.output {
        LlmOutput::Tools => OutputMode::Tools,
        LlmOutput::JsonSchema => OutputMode::JsonSchema,
        LlmOutput::Auto => OutputMode::Auto,
    };
    llm.timeout = Duration::from_secs(config.llm.timeout_s);
    llm.max_retries = config.llm.max_retries;
    llm.prompts_dir = config.llm.prompts_dir.clone();
    let client = OpenAiLlm::new(llm).context("cannot set up the LLM client (llm.*)")?;
    Ok(Some(Arc::new(client)))
}

/// The built-in ontology, or the one in `ontology.file` (TOML: `entity_types = [...]`,
/// `[[relation_types]] name, cardinality = "one"|"many", description, synonyms, ends`; see
/// crates/mnemo-core/ontology/builtin.toml).
pub fn ontology(config: &Config) -> anyhow::Result<Ontology> {
    let Some(path) = &config.ontology.file else {
        return Ok(Ontology::builtin());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read ontology.file {}", path.display()))?;
    Ontology::from_toml(&text)
        .with_context(|| format!("ontology.file {} is not a valid ontology", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_ontology(text: &str) -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ontology.toml");
        std::fs::write(&path, text).unwrap();
        let mut config = Config::default();
        config.ontology.file = Some(path);
        (dir, config)
    }

    #[test]
    fn ontology_file_cases() {
        let check = |text: &str, expected: Result<(&str, mnemo_core::Cardinality), &str>| {
            let (_dir, config) = with_ontology(text);
            match (ontology(&config), expected) {
                (Ok(ontology), Ok((relation, cardinality))) => {
                    let t = mnemo_core::RelationType::parse(relation).unwrap();
                    assert_eq!(ontology.cardinality(&t), cardinality, "{text}");
                }
                (Err(err), Err(message)) => {
                    let err = format!("{err:#}");
                    assert!(err.contains(message), "{text}: {err}");
                }
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        };
        use mnemo_core::Cardinality::{Many, One};
        check(
            "entity_types = [\"Person\"]\n[[relation_types]]\nname = \"OWNS_PET\"\ncardinality = \"one\"\n",
            Ok(("OWNS_PET", One)),
        );
        // A file replaces the built-in list: LIVES_IN is no longer declared.
        check(
            "[[relation_types]]\nname = \"OWNS_PET\"\n",
            Ok(("LIVES_IN", Many)),
        );
        check(
            "[[relation_types]]\nname = \"a.b\"\n",
            Err("invalid relation type"),
        );
        check(
            "[[relation_types]]\nname = \"X\"\ncardinality = \"two\"\n",
            Err("not a valid ontology"),
        );
        check("colour = 1\n", Err("unknown field"));
        let mut config = Config::default();
        config.ontology.file = Some("/nonexistent/ontology.toml".into());
        assert!(
            format!("{:#}", ontology(&config).unwrap_err()).contains("cannot read ontology.file")
        );
    }
}
