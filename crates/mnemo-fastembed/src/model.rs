//! The embedding models mnemo can run, and what each one fixes: its name (recorded by the
//! stores), its vector length, how many tokens it reads, and where `make setup` puts it.

use std::fmt;
use std::str::FromStr;

/// One supported sentence-embedding model (mean pooling over `last_hidden_state`, unit
/// length vectors).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Model {
    /// all-MiniLM-L6-v2, int8: 384-d, about 2.5 ms per short text on one core. Installed
    /// by `make setup`; the default.
    #[default]
    MiniLmL6V2,
    /// all-mpnet-base-v2, int8: 768-d, stronger (dev recall@10 of plain nearest
    /// neighbours 0.62 against MiniLM's 0.50) and about eight times slower. Installed by
    /// `make setup-mpnet`.
    MpnetBaseV2,
}

impl Model {
    /// Every model, default first.
    pub const ALL: [Model; 2] = [Model::MiniLmL6V2, Model::MpnetBaseV2];

    /// The model's name, as configured (`embed.model`) and as the stores record it.
    pub fn name(self) -> &'static str {
        match self {
            Model::MiniLmL6V2 => "all-MiniLM-L6-v2",
            Model::MpnetBaseV2 => "all-mpnet-base-v2",
        }
    }

    /// Length of every vector.
    pub fn dimension(self) -> usize {
        match self {
            Model::MiniLmL6V2 => 384,
            Model::MpnetBaseV2 => 768,
        }
    }

    /// Tokens per text; longer texts are truncated. Each model's `max_seq_length` from its
    /// `sentence_bert_config.json` (what sentence-transformers applies): 256 and 384.
    pub const fn max_tokens(self) -> usize {
        match self {
            Model::MiniLmL6V2 => 256,
            Model::MpnetBaseV2 => 384,
        }
    }

    /// Texts per ONNX Runtime run. The model lock is released between batches, so
    /// concurrent callers interleave instead of waiting for a whole large request.
    ///
    /// MiniLM's int8 export quantizes weights only, so a text's vector does not depend on
    /// its batch. The mpnet install quantizes activations too (`quantize_dynamic`: one
    /// scale per tensor, over the whole batch): batched with a long text, a short one's
    /// vector moved to cosine 0.93 of its vector alone. So mpnet embeds one text per run,
    /// which keeps every vector independent of what it was embedded with, and on two cores
    /// is also faster than padding short turns to the longest of a batch.
    pub fn batch_size(self) -> usize {
        match self {
            Model::MiniLmL6V2 => 64,
            Model::MpnetBaseV2 => 1,
        }
    }

    /// Where `make setup` (or `make setup-mpnet`) installs the model's files, relative to
    /// the repository root.
    pub fn default_dir(self) -> &'static str {
        match self {
            Model::MiniLmL6V2 => ".deps/models/all-MiniLM-L6-v2",
            Model::MpnetBaseV2 => ".deps/models/all-mpnet-base-v2",
        }
    }

    /// The command that installs the model's files.
    pub fn setup_command(self) -> &'static str {
        match self {
            Model::MiniLmL6V2 => "make setup",
            Model::MpnetBaseV2 => "make setup-mpnet",
        }
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A model name mnemo does not know; lists the ones it does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown embedding model {0:?}; known: {known}", known = known_names())]
pub struct UnknownModel(pub String);

fn known_names() -> String {
    Model::ALL
        .iter()
        .map(|m| format!("{:?}", m.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for Model {
    type Err = UnknownModel;

    /// The exact name ([`Model::name`]); case is ignored.
    fn from_str(name: &str) -> Result<Model, UnknownModel> {
        Model::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| UnknownModel(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_unknown_names_list_the_known_ones() {
        for model in Model::ALL {
            assert_eq!(model.name().parse::<Model>(), Ok(model));
        }
        assert_eq!("ALL-MPNET-BASE-V2".parse::<Model>(), Ok(Model::MpnetBaseV2));
        let err = "bge-small".parse::<Model>().unwrap_err().to_string();
        assert!(err.contains("\"bge-small\""), "{err}");
        assert!(
            err.contains("\"all-MiniLM-L6-v2\", \"all-mpnet-base-v2\""),
            "{err}"
        );
    }
}
