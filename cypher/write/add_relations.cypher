// Adds relations ($relations) as typed relationships between entities of the scope (the
// type comes from the validated RelationType, through Neo4j's dynamic type syntax), each
// with its RelationKey, and STATED edges from the episodes of its provenance. `status`
// ('ended', 'retracted' or absent) is for people in Browser: its style sheet shows it.
UNWIND $relations AS row
MATCH (s:Entity {id: row.source})
MATCH (t:Entity {id: row.target})
CREATE (s)-[:$(row.type) {
  id: row.id, scope_key: $scope_key, fact: row.fact,
  valid_from: row.valid_from, valid_to: row.valid_to, recorded_at: row.recorded_at,
  invalidated_at: row.invalidated_at, retracted_at: row.retracted_at,
  invalidated_by: row.invalidated_by, invalidated_in: row.invalidated_in,
  episodes: row.episodes, mentions: row.mentions, status: row.status
}]->(t)
CREATE (k:RelationKey {
  id: row.id, scope_key: $scope_key, type: row.type, source: row.source,
  recorded_at: row.recorded_at, invalidated_at: row.invalidated_at,
  retracted_at: row.retracted_at, invalidated_in: row.invalidated_in
})
WITH k, row
UNWIND coalesce(row.episodes, []) AS episode
MATCH (ep:Episode {id: episode})
WHERE ep.scope_key = $scope_key
MERGE (ep)-[:STATED]->(k)
