// An entity's timeline: every relation it ever had (current, ended, retracted), oldest
// first, with both time axes. $name is the normalised name (lower case, single spaces).
// First, in Browser:  :param user_id => 'alice'
//                     :param name => 'alice'
MATCH (e:Entity {name: $name})
WHERE e.user_id = $user_id
MATCH (e)-[r]-(other:Entity)
WHERE r.scope_key = e.scope_key
RETURN e.display_name AS entity,
  CASE WHEN startNode(r) = e THEN '->' ELSE '<-' END AS direction,
  type(r) AS relation, other.display_name AS other, r.fact AS fact,
  r.valid_from AS valid_from, r.valid_to AS valid_to, r.recorded_at AS recorded_at,
  r.invalidated_at AS invalidated_at, r.retracted_at AS retracted_at,
  coalesce(r.status, 'current') AS status, r.id AS relation_id, e.scope_key AS scope
ORDER BY coalesce(r.valid_from, r.recorded_at), r.recorded_at
