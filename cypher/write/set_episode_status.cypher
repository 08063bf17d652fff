// Sets status, failure reason and total LLM usage ($items: {episode, status, reason,
// llm_calls, llm_prompt_tokens, llm_completion_tokens}).
UNWIND $items AS item
MATCH (ep:Episode {id: item.episode})
SET ep.status = item.status, ep.reason = item.reason, ep.llm_calls = item.llm_calls,
  ep.llm_prompt_tokens = item.llm_prompt_tokens,
  ep.llm_completion_tokens = item.llm_completion_tokens
