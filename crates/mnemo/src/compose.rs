//! Builds the pieces of a `Memory` that come from configuration: the LLM client (when
//! `llm.base_url` is set) and the ontology (built-in, or `ontology.file`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use mnemo_core::llm::LanguageModel;
use mnemo_core::{Ontology, OntologySpec};
use mnemo_llm::{LlmConfig, OpenAiLlm, OutputMode};

use crate::config::{Config, LlmOutput};

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
    };
    llm.timeout = Duration::from_secs(config.llm.timeout_s);
    llm.max_retries = config.llm.max_retries;
    llm.prompts_dir = config.llm.prompts_dir.clone();
    let client = OpenAiLlm::new(llm).context("cannot set up the LLM client (llm.*)")?;
    Ok(Some(Arc::new(client)))
}

/// The built-in ontology, or the one in `ontology.file` (TOML: `entity_types = [...]`,
/// `[[relation_types]] name, cardinality = "one"|"many", description`).
pub fn ontology(config: &Config) -> anyhow::Result<Ontology> {
    let Some(path) = &config.ontology.file else {
        return Ok(Ontology::builtin());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read ontology.file {}", path.display()))?;
    let spec: OntologySpec = toml::from_str(&text)
        .with_context(|| format!("ontology.file {} is not a valid ontology", path.display()))?;
    Ontology::from_spec(spec)
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
