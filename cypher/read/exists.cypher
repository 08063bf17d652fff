// Which of the referenced records exist in the scope: relations ($relations), entities
// ($entities), episodes ($episodes), each list of ids. Records of other scopes count as
// missing. Checked before a batch of writes, inside its transaction.
UNWIND $relations AS id
OPTIONAL MATCH (k:RelationKey {id: id})
WHERE k.scope_key = $scope_key
RETURN 'relation' AS kind, id, k IS NOT NULL AS found
UNION ALL
UNWIND $entities AS id
OPTIONAL MATCH (e:Entity {id: id})
WHERE e.scope_key = $scope_key
RETURN 'entity' AS kind, id, e IS NOT NULL AS found
UNION ALL
UNWIND $episodes AS id
OPTIONAL MATCH (ep:Episode {id: id})
WHERE ep.scope_key = $scope_key
RETURN 'episode' AS kind, id, ep IS NOT NULL AS found
