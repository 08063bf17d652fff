// Relations of the scope by id ($ids), through their RelationKey: the key names the
// source entity, whose outgoing relationships hold the relation.
UNWIND $ids AS id
MATCH (k:RelationKey {id: id})
WHERE k.scope_key = $scope_key
MATCH (s:Entity {id: k.source})-[r]->(t:Entity)
WHERE r.id = id
RETURN {
  id: r.id, source: s.id, target: t.id, type: type(r), fact: r.fact,
  valid_from: r.valid_from, valid_to: r.valid_to, recorded_at: r.recorded_at,
  invalidated_at: r.invalidated_at, retracted_at: r.retracted_at,
  invalidated_by: r.invalidated_by, invalidated_in: r.invalidated_in,
  episodes: coalesce(r.episodes, []), mentions: r.mentions,
  stated_valid_to: r.stated_valid_to, stated_invalidated_at: r.stated_invalidated_at,
  stated_in: r.stated_in
} AS relation
