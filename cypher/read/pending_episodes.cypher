// Episodes still pending, oldest first, across all scopes (resumed on start).
MATCH (e:Episode)
WHERE e.status = 'pending' AND e.ingested_at IS NOT NULL
RETURN e {
  .id, .user_id, .agent_id, .run_id, .content, .occurred_at, .ingested_at, .status, .reason,
  .idempotency_key, .metadata, .llm_calls, .llm_prompt_tokens, .llm_completion_tokens
} AS episode
ORDER BY e.ingested_at, e.id
LIMIT $limit
