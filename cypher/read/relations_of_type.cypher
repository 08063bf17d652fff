// The scope's relations of type $type, visible at ($as_of, $known_at) unless $as_of is
// null (then the full timeline), by recorded_at then id. Found through the
// (scope_key, type) index of RelationKey.
MATCH (k:RelationKey)
WHERE k.scope_key = $scope_key AND k.type = $type
MATCH (s:Entity {id: k.source})-[r]->(t:Entity)
WHERE r.id = k.id
  AND ($as_of IS NULL OR (
    r.recorded_at <= $known_at
    AND (r.retracted_at IS NULL OR r.retracted_at > $known_at)
    AND (r.valid_from IS NULL OR r.valid_from <= $as_of)
    AND (r.valid_to IS NULL OR r.invalidated_at > $known_at OR $as_of < r.valid_to)
  ))
RETURN {
  id: r.id, source: s.id, target: t.id, type: type(r), fact: r.fact,
  valid_from: r.valid_from, valid_to: r.valid_to, recorded_at: r.recorded_at,
  invalidated_at: r.invalidated_at, retracted_at: r.retracted_at,
  invalidated_by: r.invalidated_by, invalidated_in: r.invalidated_in,
  episodes: coalesce(r.episodes, []), mentions: r.mentions,
  stated_valid_to: r.stated_valid_to, stated_invalidated_at: r.stated_invalidated_at,
  stated_in: r.stated_in
} AS relation
ORDER BY r.recorded_at, r.id
LIMIT $limit
