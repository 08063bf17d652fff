// Removes relations ($ids) with their keys (and so their STATED edges).
UNWIND $ids AS id
MATCH (k:RelationKey {id: id})
MATCH (:Entity {id: k.source})-[r]->(:Entity)
WHERE r.id = id
DELETE r
DETACH DELETE k
RETURN count(*) AS deleted
