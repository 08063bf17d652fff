// Undoes add_provenance ($items: {relation, episode}): one mention less per item (never
// below 1) and the episode out of the provenance. Its STATED edge goes with
// unlink_provenance.
UNWIND $items AS item
MATCH (k:RelationKey {id: item.relation})
MATCH (:Entity {id: k.source})-[r]->(:Entity)
WHERE r.id = item.relation
SET r.mentions = CASE WHEN r.mentions > 1 THEN r.mentions - 1 ELSE 1 END,
  r.episodes = CASE
    WHEN size([e IN coalesce(r.episodes, []) WHERE e <> item.episode]) = 0 THEN null
    ELSE [e IN coalesce(r.episodes, []) WHERE e <> item.episode]
  END
