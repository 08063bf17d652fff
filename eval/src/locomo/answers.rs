//! `--llm` mode's answer benchmark, as the Mem0 paper scores LOCOMO: the model answers each
//! question (categories 1-4) from the context mnemo retrieved, a judge model labels the
//! answer CORRECT or WRONG against the gold answer, and token F1 and BLEU-1 are computed
//! on the normalised answers. The system prompts are `eval/prompts/answer.md` and
//! `eval/prompts/judge.md`.

use std::sync::{Arc, Mutex};

use mnemo_core::LlmUsage;
use mnemo_llm::{JsonSchemaCall, OpenAiLlm};
use serde_json::json;

use super::Question;
use crate::metrics;
use crate::report::AnswerRecord;

const ANSWER_PROMPT: &str = include_str!("../../prompts/answer.md");
const JUDGE_PROMPT: &str = include_str!("../../prompts/judge.md");

/// The schema names, which are also how a scripted server tells the calls apart.
pub const ANSWER_CALL: &str = "answer_question";
pub const JUDGE_CALL: &str = "judge_answer";

pub(crate) struct Answerer {
    llm: Arc<OpenAiLlm>,
    usage: Mutex<LlmUsage>,
}

impl Answerer {
    pub(crate) fn new(llm: Arc<OpenAiLlm>) -> Answerer {
        Answerer {
            llm,
            usage: Mutex::new(LlmUsage::default()),
        }
    }

    pub(crate) fn usage(&self) -> LlmUsage {
        *self.usage.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn spend(&self, usage: LlmUsage) {
        *self.usage.lock().unwrap_or_else(|e| e.into_inner()) += usage;
    }

    /// Answers `question` from `context`, then judges and scores the answer.
    pub(crate) async fn answer_and_judge(
        &self,
        question: &Question,
        context: &str,
    ) -> anyhow::Result<AnswerRecord> {
        let context = if context.trim().is_empty() {
            "(nothing retrieved)"
        } else {
            context
        };
        let answer = self
            .llm
            .call_json_schema(&JsonSchemaCall {
                name: ANSWER_CALL,
                schema: json!({
                    "type": "object",
                    "properties": {"answer": {"type": "string"}},
                    "required": ["answer"],
                    "additionalProperties": false,
                }),
                system: ANSWER_PROMPT.to_owned(),
                user: format!(
                    "## Memories\n{context}\n\n## Question\n{}",
                    question.question.trim()
                ),
            })
            .await?;
        self.spend(answer.usage);
        let generated = answer.value["answer"]
            .as_str()
            .unwrap_or_default()
            .trim()
            .to_owned();

        let verdict = self
            .llm
            .call_json_schema(&JsonSchemaCall {
                name: JUDGE_CALL,
                schema: json!({
                    "type": "object",
                    "properties": {
                        "reasoning": {"type": "string"},
                        "label": {"type": "string", "enum": ["CORRECT", "WRONG"]},
                    },
                    "required": ["reasoning", "label"],
                    "additionalProperties": false,
                }),
                system: JUDGE_PROMPT.to_owned(),
                user: format!(
                    "## Question\n{}\n\n## Gold answer\n{}\n\n## Generated answer\n{generated}",
                    question.question.trim(),
                    question.answer.trim()
                ),
            })
            .await?;
        self.spend(verdict.usage);
        let correct = verdict.value["label"]
            .as_str()
            .is_some_and(|l| l.trim().eq_ignore_ascii_case("CORRECT"));
        Ok(AnswerRecord {
            f1: metrics::token_f1(&generated, &question.answer),
            bleu1: metrics::bleu1(&generated, &question.answer),
            generated,
            correct,
        })
    }
}
