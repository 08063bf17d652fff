// Removes entities ($ids) with their names and mentions (the store has checked that no
// relation touches them).
UNWIND $ids AS id
MATCH (e:Entity {id: id})
OPTIONAL MATCH (key:EntityKey {entity_id: id})
WITH e, collect(key) AS keys
FOREACH (key IN keys | DELETE key)
DETACH DELETE e
RETURN count(*) AS deleted
