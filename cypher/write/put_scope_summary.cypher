// Inserts or replaces the scope's rolling summary.
MERGE (s:ScopeSummary {scope_key: $scope_key})
SET s.user_id = $user_id, s.agent_id = $agent_id, s.run_id = $run_id, s.text = $text,
  s.through_episode = $through_episode, s.updated_at = $updated_at
