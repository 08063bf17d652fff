// The provenance of a relation: the relation, its two entities and the episodes that
// stated it (oldest first), with what each episode said. A relation's id is shown in
// Browser when you click the relationship, and by the other saved queries.
// First, in Browser:  :param relation_id => '0190f5c2-7a4e-7cc0-8000-000000000001'
MATCH (k:RelationKey {id: $relation_id})
MATCH (s:Entity {id: k.source})-[r]->(t:Entity)
WHERE r.id = k.id
OPTIONAL MATCH (ep:Episode)
WHERE ep.id IN coalesce(r.episodes, [])
RETURN s, r, t, ep, ep.occurred_at AS occurred_at, ep.status AS status,
  ep.content AS content
ORDER BY occurred_at
