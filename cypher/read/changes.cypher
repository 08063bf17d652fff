// Ids of the scope's relations whose transaction-time events fall in [$since, $until):
// recorded (added), invalidated, retracted. Each part seeks its (scope_key, time) index;
// the relations are then read with relations_by_id.
MATCH (k:RelationKey)
WHERE k.scope_key = $scope_key AND k.recorded_at >= $since AND k.recorded_at < $until
RETURN 'added' AS kind, k.id AS id
UNION ALL
MATCH (k:RelationKey)
WHERE k.scope_key = $scope_key AND k.invalidated_at >= $since AND k.invalidated_at < $until
RETURN 'invalidated' AS kind, k.id AS id
UNION ALL
MATCH (k:RelationKey)
WHERE k.scope_key = $scope_key AND k.retracted_at >= $since AND k.retracted_at < $until
RETURN 'retracted' AS kind, k.id AS id
