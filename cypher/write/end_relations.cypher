// Closes validity intervals ($items: {relation, valid_to, invalidated_at, invalidated_by,
// episode}); the episode is stored as invalidated_in, on the relation and its key.
UNWIND $items AS item
MATCH (k:RelationKey {id: item.relation})
MATCH (:Entity {id: k.source})-[r]->(:Entity)
WHERE r.id = item.relation
SET r.valid_to = item.valid_to, r.invalidated_at = item.invalidated_at,
  r.invalidated_by = item.invalidated_by, r.invalidated_in = item.episode,
  r.status = CASE WHEN r.retracted_at IS NULL THEN 'ended' ELSE 'retracted' END,
  k.invalidated_at = item.invalidated_at, k.invalidated_in = item.episode
