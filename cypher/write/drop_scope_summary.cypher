// Removes the scope's rolling summary (an episode it read was deleted); the next refresh
// rebuilds it from the episodes that remain.
MATCH (s:ScopeSummary {scope_key: $scope_key})
DETACH DELETE s
