// The relations touching entity $entity (only those leaving it with $outgoing_only), of
// type $type unless null, visible at ($as_of, $known_at) unless $as_of is null (then the
// full timeline), by recorded_at then id. Reached through the entity's adjacency.
MATCH (n:Entity {id: $entity})
WHERE n.scope_key = $scope_key
MATCH (n)-[r]-(:Entity)
WHERE r.scope_key = $scope_key
  AND ($outgoing_only = false OR startNode(r) = n)
  AND ($type IS NULL OR type(r) = $type)
  AND ($as_of IS NULL OR (
    r.recorded_at <= $known_at
    AND (r.retracted_at IS NULL OR r.retracted_at > $known_at)
    AND (r.valid_from IS NULL OR r.valid_from <= $as_of)
    AND (r.valid_to IS NULL OR r.invalidated_at > $known_at OR $as_of < r.valid_to)
  ))
WITH DISTINCT r
RETURN {
  id: r.id, source: startNode(r).id, target: endNode(r).id, type: type(r), fact: r.fact,
  valid_from: r.valid_from, valid_to: r.valid_to, recorded_at: r.recorded_at,
  invalidated_at: r.invalidated_at, retracted_at: r.retracted_at,
  invalidated_by: r.invalidated_by, invalidated_in: r.invalidated_in,
  episodes: coalesce(r.episodes, []), mentions: r.mentions,
  stated_valid_to: r.stated_valid_to, stated_invalidated_at: r.stated_invalidated_at,
  stated_in: r.stated_in
} AS relation
ORDER BY r.recorded_at, r.id
LIMIT $limit
