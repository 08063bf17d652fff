// What changed in a user's graph since a date: relations added, ended (invalidated) and
// retracted at or after $since (transaction time), newest first.
// First, in Browser:  :param user_id => 'alice'
//                     :param since => datetime('2024-03-01T00:00:00Z')
CALL () {
  MATCH (s:Entity)-[r]->(t:Entity)
  WHERE s.user_id = $user_id AND r.scope_key = s.scope_key AND r.recorded_at >= $since
  RETURN 'added' AS change, r.recorded_at AS at, s, r, t
  UNION ALL
  MATCH (s:Entity)-[r]->(t:Entity)
  WHERE s.user_id = $user_id AND r.scope_key = s.scope_key AND r.invalidated_at >= $since
  RETURN 'invalidated' AS change, r.invalidated_at AS at, s, r, t
  UNION ALL
  MATCH (s:Entity)-[r]->(t:Entity)
  WHERE s.user_id = $user_id AND r.scope_key = s.scope_key AND r.retracted_at >= $since
  RETURN 'retracted' AS change, r.retracted_at AS at, s, r, t
}
RETURN change, at, s.display_name AS source, type(r) AS relation, t.display_name AS target,
  r.fact AS fact, r.id AS relation_id
ORDER BY at DESC
