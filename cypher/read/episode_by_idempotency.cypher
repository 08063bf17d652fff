// The episode of the scope holding an idempotency key: $uid = scope_key + U+001F + key.
MATCH (e:Episode {idempotency_uid: $uid})
RETURN e {
  .id, .user_id, .agent_id, .run_id, .content, .occurred_at, .ingested_at, .status, .reason,
  .idempotency_key, .metadata, .llm_calls, .llm_prompt_tokens, .llm_completion_tokens
} AS episode
