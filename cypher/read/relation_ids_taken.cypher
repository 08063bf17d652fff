// Which of the relation ids $ids are already used (in any scope).
UNWIND $ids AS id
MATCH (k:RelationKey {id: id})
RETURN id
