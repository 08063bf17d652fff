// Inserts or replaces entities by id ($entities: maps of the node's properties plus
// `labels`, the type label to carry, empty when the type is a reserved label). The type
// label follows the entity type. Names are claimed by claim_entity_keys.
UNWIND $entities AS row
MERGE (e:Entity {id: row.id})
  ON CREATE SET e.scope_key = $scope_key, e.user_id = $user_id, e.agent_id = $agent_id,
    e.run_id = $run_id
SET e.name = row.name, e.display_name = row.display_name, e.type = row.type,
  e.aliases = row.aliases, e.embedding = row.embedding, e.mentions = row.mentions,
  e.created_at = row.created_at, e.updated_at = row.updated_at,
  e.names = row.names, e.scope_tag = $scope_tag
WITH e, row, [label IN labels(e) WHERE label <> 'Entity' AND NOT label IN row.labels] AS stale
FOREACH (label IN stale | REMOVE e:$(label))
FOREACH (label IN row.labels | SET e:$(label))
