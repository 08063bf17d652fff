// Removes episodes ($ids) with their MENTIONS and STATED edges.
UNWIND $ids AS id
MATCH (ep:Episode {id: id})
DETACH DELETE ep
RETURN count(*) AS deleted
