// Frees the names and aliases an upserted entity no longer has ($entities: {id, uids}).
UNWIND $entities AS row
MATCH (k:EntityKey {entity_id: row.id})
WHERE NOT k.uid IN row.uids
DELETE k
