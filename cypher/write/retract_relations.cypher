// Marks relations as never true ($items: {relation, retracted_at, episode}).
UNWIND $items AS item
MATCH (k:RelationKey {id: item.relation})
MATCH (:Entity {id: k.source})-[r]->(:Entity)
WHERE r.id = item.relation
SET r.retracted_at = item.retracted_at, r.invalidated_in = item.episode, r.status = 'retracted',
  k.retracted_at = item.retracted_at, k.invalidated_in = item.episode
