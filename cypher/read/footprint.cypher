// What episode $episode did in the scope: relations it stated (provenance, through its
// STATED edges), relations it ended or retracted (RelationKey.invalidated_in), entities
// it mentions, with the aliases it added to each. Relations are then read with
// relations_by_id.
MATCH (ep:Episode {id: $episode})-[:STATED]->(k:RelationKey)
WHERE ep.scope_key = $scope_key AND k.scope_key = $scope_key
RETURN 'stated' AS kind, k.id AS id, [] AS aliases
UNION ALL
MATCH (k:RelationKey)
WHERE k.scope_key = $scope_key AND k.invalidated_in = $episode
RETURN 'ended' AS kind, k.id AS id, [] AS aliases
UNION ALL
MATCH (ep:Episode {id: $episode})-[m:MENTIONS]->(e:Entity)
WHERE ep.scope_key = $scope_key AND e.scope_key = $scope_key
RETURN 'mentioned' AS kind, e.id AS id, coalesce(m.aliases, []) AS aliases
