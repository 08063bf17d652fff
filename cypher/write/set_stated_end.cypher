// Replaces relations' own ends ($items: {relation, stated_valid_to, stated_invalidated_at,
// stated_in}, all null for none): the end a relation keeps while a successor cuts it.
// Nothing else changes.
UNWIND $items AS item
MATCH (k:RelationKey {id: item.relation})
MATCH (:Entity {id: k.source})-[r]->(:Entity)
WHERE r.id = item.relation
SET r.stated_valid_to = item.stated_valid_to,
  r.stated_invalidated_at = item.stated_invalidated_at, r.stated_in = item.stated_in
