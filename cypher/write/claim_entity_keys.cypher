// Claims each name or alias for its entity ($keys: {uid, key, entity_id}), in order. A key
// owned by another entity (stored before, or claimed by an earlier row) comes back as a
// conflict row, and the store rolls the transaction back. The uniqueness constraint on
// uid makes the MERGE safe between processes.
UNWIND $keys AS key
MERGE (k:EntityKey {uid: key.uid})
  ON CREATE SET k.scope_key = $scope_key, k.key = key.key, k.entity_id = key.entity_id
WITH k, key
WHERE k.entity_id <> key.entity_id
RETURN key.key AS key, k.entity_id AS owner, key.entity_id AS claimant
