// Which of the entity ids $ids belong to an entity of another scope.
UNWIND $ids AS id
MATCH (e:Entity {id: id})
WHERE e.scope_key <> $scope_key
RETURN id
