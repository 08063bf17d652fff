// The scope's episodes ingested strictly before $before, newest first.
MATCH (e:Episode)
WHERE e.scope_key = $scope_key AND e.ingested_at < $before
RETURN e {
  .id, .user_id, .agent_id, .run_id, .content, .occurred_at, .ingested_at, .status, .reason,
  .idempotency_key, .metadata, .llm_calls, .llm_prompt_tokens, .llm_completion_tokens
} AS episode
ORDER BY e.ingested_at DESC, e.id DESC
LIMIT $limit
