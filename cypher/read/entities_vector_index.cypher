// Nearest entities through the vector index: $candidates nearest of every scope, then the
// scope's best $limit. `seen` (how many the index returned) tells the store whether the
// scope may have nearer entities the index left out (then it asks entities_vector_exact).
// Scores are Neo4j's normalised cosine, (1 + cos) / 2.
CALL db.index.vector.queryNodes('entity_embedding', $candidates, $vector) YIELD node, score
WITH collect({node: node, score: score}) AS found
UNWIND found AS hit
WITH size(found) AS seen, hit.node AS e, hit.score AS score
WHERE e.scope_key = $scope_key
RETURN seen, e {
  .id, .name, .display_name, .type, .embedding, .mentions, .created_at, .updated_at,
  aliases: coalesce(e.aliases, [])
} AS entity, score
ORDER BY score DESC, e.id
LIMIT $limit
