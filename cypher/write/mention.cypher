// (:Episode)-[:MENTIONS]->(:Entity), once ($items: {episode, entity}).
UNWIND $items AS item
MATCH (ep:Episode {id: item.episode})
MATCH (e:Entity {id: item.entity})
MERGE (ep)-[:MENTIONS]->(e)
