//! Token counting with the embedding model's own tokenizer (`tokenizer.json`), so a
//! search's `token_budget` is measured with a real tokenizer, offline.

use mnemo_core::EmbedError;
use mnemo_core::ports::TokenCounter;
use tokenizers::Tokenizer;

use crate::{EmbedConfig, SETUP_COMMAND};

/// Counts tokens of the embedding model's tokenizer: no special tokens, no
/// truncation, no padding, so the count of a text is the length of its own encoding and
/// the counts of lines joined by newlines add up.
#[derive(Clone)]
pub struct TokenizerCounter {
    tokenizer: Tokenizer,
}

impl std::fmt::Debug for TokenizerCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenizerCounter").finish_non_exhaustive()
    }
}

impl TokenizerCounter {
    /// Reads `tokenizer.json` from the model directory. Blocking (a few MB of JSON).
    pub fn load(config: &EmbedConfig) -> Result<TokenizerCounter, EmbedError> {
        let path = config.model_dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&path).map_err(|err| {
            EmbedError::Setup(format!(
                "cannot read the tokenizer {}: {err}; run `{SETUP_COMMAND}`",
                path.display()
            ))
        })?;
        // The file pads and truncates to the model's 128 positions; a budget counts the
        // whole text.
        tokenizer
            .with_truncation(None)
            .map_err(|err| EmbedError::Setup(format!("cannot disable truncation: {err}")))?;
        tokenizer.with_padding(None);
        Ok(TokenizerCounter { tokenizer })
    }
}

impl TokenCounter for TokenizerCounter {
    fn count(&self, text: &str) -> usize {
        match self.tokenizer.encode_fast(text, false) {
            Ok(encoding) => encoding.len(),
            // Every token covers at least one byte, so the byte length never undercounts
            // and a budget stays respected.
            Err(err) => {
                tracing::warn!(error = %err, "tokenizer failed; counting bytes instead");
                text.len()
            }
        }
    }
}
