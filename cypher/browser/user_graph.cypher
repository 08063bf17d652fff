// A user's current graph: their entities and the relations that hold now, as mnemo knows
// them now (every scope of the user: agents and runs included).
// First, in Browser:  :param user_id => 'alice'
MATCH (s:Entity)-[r]->(t:Entity)
WHERE s.user_id = $user_id AND r.scope_key = s.scope_key
  AND r.retracted_at IS NULL
  AND (r.valid_from IS NULL OR r.valid_from <= datetime())
  AND (r.valid_to IS NULL OR datetime() < r.valid_to)
RETURN s, r, t
LIMIT 500
