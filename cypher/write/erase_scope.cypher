// Hard-deletes every node of the scope (entities with their relations, names, relation
// keys, episodes, summary) in batches. Runs as an auto-commit query: CALL ... IN
// TRANSACTIONS cannot run inside an explicit transaction. Safe to run again.
CALL () {
  MATCH (n:Entity) WHERE n.scope_key = $scope_key RETURN n
  UNION ALL
  MATCH (n:EntityKey) WHERE n.scope_key = $scope_key RETURN n
  UNION ALL
  MATCH (n:RelationKey) WHERE n.scope_key = $scope_key RETURN n
  UNION ALL
  MATCH (n:Episode) WHERE n.scope_key = $scope_key RETURN n
  UNION ALL
  MATCH (n:ScopeSummary) WHERE n.scope_key = $scope_key RETURN n
}
CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 1000 ROWS
