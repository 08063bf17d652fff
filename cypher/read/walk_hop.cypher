// One hop of a breadth-first walk: every relation visible at ($as_of, $known_at) touching
// an entity of $frontier, in either direction, with the frontier entity it was reached
// from (`from`). The store orders, deduplicates and assigns hops.
UNWIND $frontier AS from
MATCH (n:Entity {id: from})
WHERE n.scope_key = $scope_key
MATCH (n)-[r]-(:Entity)
WHERE r.scope_key = $scope_key
  AND r.recorded_at <= $known_at
  AND (r.retracted_at IS NULL OR r.retracted_at > $known_at)
  AND (r.valid_from IS NULL OR r.valid_from <= $as_of)
  AND (r.valid_to IS NULL OR r.invalidated_at > $known_at OR $as_of < r.valid_to)
RETURN DISTINCT from, {
  id: r.id, source: startNode(r).id, target: endNode(r).id, type: type(r), fact: r.fact,
  valid_from: r.valid_from, valid_to: r.valid_to, recorded_at: r.recorded_at,
  invalidated_at: r.invalidated_at, retracted_at: r.retracted_at,
  invalidated_by: r.invalidated_by, invalidated_in: r.invalidated_in,
  episodes: coalesce(r.episodes, []), mentions: r.mentions,
  stated_valid_to: r.stated_valid_to, stated_invalidated_at: r.stated_invalidated_at,
  stated_in: r.stated_in
} AS relation
