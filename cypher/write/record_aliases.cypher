// Records on an episode's MENTIONS edge the aliases it added to the entity ($items:
// {episode, entity, alias}), so deleting the episode removes them again. Returns how many
// edges it found (as `deleted`, the column the store checks row counts by).
UNWIND $items AS item
MATCH (ep:Episode {id: item.episode})-[m:MENTIONS]->(e:Entity {id: item.entity})
SET m.aliases = CASE
  WHEN item.alias IN coalesce(m.aliases, []) THEN m.aliases
  ELSE coalesce(m.aliases, []) + item.alias
END
RETURN count(*) AS deleted
