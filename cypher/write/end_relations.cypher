// Closes validity intervals ($items: {relation, valid_to, invalidated_at, invalidated_by,
// episode}); the episode is stored as invalidated_in, on the relation and its key. The
// relation's own end (stated_*) is kept; a relationship written before own ends were
// stored gets it first, from its current end when nothing cut it (as the embedded store's
// migration 0004 does), since the cut is about to overwrite that end.
UNWIND $items AS item
MATCH (k:RelationKey {id: item.relation})
MATCH (:Entity {id: k.source})-[r]->(:Entity)
WHERE r.id = item.relation
WITH item, k, r,
  r.stated_valid_to IS NULL AND r.invalidated_by IS NULL AND r.valid_to IS NOT NULL AS unstated
SET r.stated_valid_to = CASE WHEN unstated THEN r.valid_to ELSE r.stated_valid_to END,
  r.stated_invalidated_at =
    CASE WHEN unstated THEN r.invalidated_at ELSE r.stated_invalidated_at END,
  r.stated_in = CASE
    WHEN unstated AND r.retracted_at IS NULL THEN r.invalidated_in
    ELSE r.stated_in
  END
SET r.valid_to = item.valid_to, r.invalidated_at = item.invalidated_at,
  r.invalidated_by = item.invalidated_by, r.invalidated_in = item.episode,
  r.status = CASE WHEN r.retracted_at IS NULL THEN 'ended' ELSE 'retracted' END,
  k.invalidated_at = item.invalidated_at, k.invalidated_in = item.episode
