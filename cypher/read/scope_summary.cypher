// The scope's rolling summary.
MATCH (s:ScopeSummary {scope_key: $scope_key})
RETURN s {.text, .through_episode, .updated_at} AS summary
