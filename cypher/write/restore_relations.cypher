// Undoes an end or a retraction ($items: {relation, valid_from, valid_to, recorded_at,
// invalidated_at, retracted_at, status}): the given times, invalidated_by and
// invalidated_in cleared.
UNWIND $items AS item
MATCH (k:RelationKey {id: item.relation})
MATCH (:Entity {id: k.source})-[r]->(:Entity)
WHERE r.id = item.relation
SET r.valid_from = item.valid_from, r.valid_to = item.valid_to,
  r.recorded_at = item.recorded_at, r.invalidated_at = item.invalidated_at,
  r.retracted_at = item.retracted_at, r.invalidated_by = null, r.invalidated_in = null,
  r.status = item.status,
  k.recorded_at = item.recorded_at, k.invalidated_at = item.invalidated_at,
  k.retracted_at = item.retracted_at, k.invalidated_in = null
