// A restatement ($items: {relation, episode}): one mention more per item, the episode in
// the provenance once, and its STATED edge.
UNWIND $items AS item
MATCH (k:RelationKey {id: item.relation})
MATCH (:Entity {id: k.source})-[r]->(:Entity)
WHERE r.id = item.relation
SET r.mentions = r.mentions + 1,
  r.episodes = CASE
    WHEN item.episode IN coalesce(r.episodes, []) THEN r.episodes
    ELSE coalesce(r.episodes, []) + item.episode
  END
WITH k, item
MATCH (ep:Episode {id: item.episode})
MERGE (ep)-[:STATED]->(k)
