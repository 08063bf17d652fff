//! The system prompt of each tool: built in from `prompts/<tool>.md`, or replaced by a file
//! of the same name in the configured prompts folder. Read once, at construction.

use std::path::Path;

use crate::config::LlmSetupError;
use crate::tools::Tool;

#[derive(Clone, Debug)]
pub(crate) struct Prompts {
    /// Indexed like [`Tool::ALL`].
    texts: Vec<String>,
}

impl Prompts {
    /// Built-in prompts, each replaced by `dir/<tool>.md` when that file exists. A missing
    /// folder, an unreadable or empty override, and a `.md` file that names no tool (a
    /// typo would otherwise be ignored silently) are errors.
    pub(crate) fn load(dir: Option<&Path>) -> Result<Prompts, LlmSetupError> {
        let mut texts: Vec<String> = Tool::ALL
            .iter()
            .map(|tool| tool.builtin_prompt().to_owned())
            .collect();
        let Some(dir) = dir else {
            return Ok(Prompts { texts });
        };
        let entries = std::fs::read_dir(dir).map_err(|source| LlmSetupError::PromptsDir {
            path: dir.to_owned(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| LlmSetupError::PromptsDir {
                path: dir.to_owned(),
                source,
            })?;
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("md") {
                continue;
            }
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            let Some(index) = Tool::ALL.iter().position(|tool| tool.name() == stem) else {
                return Err(LlmSetupError::UnknownPrompt { path });
            };
            let text = std::fs::read_to_string(&path).map_err(|source| LlmSetupError::Prompt {
                path: path.clone(),
                source,
            })?;
            if text.trim().is_empty() {
                return Err(LlmSetupError::EmptyPrompt { path });
            }
            texts[index] = text;
        }
        Ok(Prompts { texts })
    }

    pub(crate) fn get(&self, tool: Tool) -> &str {
        let index = Tool::ALL
            .iter()
            .position(|t| *t == tool)
            .expect("every tool is in Tool::ALL");
        &self.texts[index]
    }
}
