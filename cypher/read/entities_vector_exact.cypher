// Nearest entities of the scope by exact cosine over its entities (through the scope
// index). Scores are Neo4j's normalised cosine, (1 + cos) / 2.
MATCH (e:Entity)
WHERE e.scope_key = $scope_key AND size(e.embedding) = size($vector)
WITH e, vector.similarity.cosine(e.embedding, $vector) AS score
RETURN e {
  .id, .name, .display_name, .type, .embedding, .mentions, .created_at, .updated_at,
  aliases: coalesce(e.aliases, [])
} AS entity, score
ORDER BY score DESC, e.id
LIMIT $limit
