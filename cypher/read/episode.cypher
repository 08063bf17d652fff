// An episode by id, whatever its scope (callers check the scope).
MATCH (e:Episode {id: $id})
RETURN e {
  .id, .user_id, .agent_id, .run_id, .content, .occurred_at, .ingested_at, .status, .reason,
  .idempotency_key, .metadata, .llm_calls, .llm_prompt_tokens, .llm_completion_tokens
} AS episode
