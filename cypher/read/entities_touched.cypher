// For each entity of $ids, one relation (current, ended or retracted) that still has it
// as source or target, if any.
UNWIND $ids AS id
MATCH (e:Entity {id: id})-[r]-(:Entity)
WHERE r.scope_key = $scope_key
WITH id, min(r.id) AS relation
RETURN id, relation
