// A user's ended and retracted relations (the style sheet adds their status to the
// caption). The table view lists when each ended and when mnemo learned it.
// First, in Browser:  :param user_id => 'alice'
MATCH (s:Entity)-[r]->(t:Entity)
WHERE s.user_id = $user_id AND r.scope_key = s.scope_key
  AND (r.valid_to IS NOT NULL OR r.retracted_at IS NOT NULL)
RETURN s, r, t
ORDER BY coalesce(r.retracted_at, r.invalidated_at, r.recorded_at) DESC
LIMIT 500
