// Adds relations ($relations) of one relation type as typed relationships between entities
// of the scope, each with its RelationKey, and STATED edges from the episodes of its
// provenance. A template: `__RELATION_TYPE__` is replaced by one validated RelationType
// before it runs (mnemo-neo4j `queries::add_relations`), so the type is a literal. A
// dynamic type `[:$(row.type)]` in CREATE is resolved once per cached plan on Neo4j 5.26
// Community (neo4j/neo4j#13597): every row and every later run would get the first type.
// `status` ('ended', 'retracted' or absent) is for people in Browser: its style sheet
// shows it.
UNWIND $relations AS row
MATCH (s:Entity {id: row.source})
MATCH (t:Entity {id: row.target})
CREATE (s)-[:`__RELATION_TYPE__` {
  id: row.id, scope_key: $scope_key, fact: row.fact,
  valid_from: row.valid_from, valid_to: row.valid_to, recorded_at: row.recorded_at,
  invalidated_at: row.invalidated_at, retracted_at: row.retracted_at,
  invalidated_by: row.invalidated_by, invalidated_in: row.invalidated_in,
  episodes: row.episodes, mentions: row.mentions, status: row.status,
  stated_valid_to: row.stated_valid_to, stated_invalidated_at: row.stated_invalidated_at,
  stated_in: row.stated_in
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
