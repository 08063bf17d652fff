// Journals an episode. $idempotency_uid (scope_key + U+001F + key, null without a key) is
// unique: a concurrent insert of the same key by another process fails here.
CREATE (:Episode {
  id: $id, scope_key: $scope_key, user_id: $user_id, agent_id: $agent_id, run_id: $run_id,
  content: $content, occurred_at: $occurred_at, ingested_at: $ingested_at,
  status: $status, reason: $reason,
  idempotency_key: $idempotency_key, idempotency_uid: $idempotency_uid, metadata: $metadata,
  llm_calls: $llm_calls, llm_prompt_tokens: $llm_prompt_tokens,
  llm_completion_tokens: $llm_completion_tokens
})
