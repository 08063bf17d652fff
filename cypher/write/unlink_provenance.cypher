// Removes the STATED edges of episodes taken out of relations' provenance ($items:
// {relation, episode}, each pair once).
UNWIND $items AS item
MATCH (:Episode {id: item.episode})-[stated:STATED]->(:RelationKey {id: item.relation})
DELETE stated
