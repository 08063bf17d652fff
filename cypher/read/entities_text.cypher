// Full-text search over entity names and aliases, best first. $query is a Lucene query
// built by the store: the scope's tag ANDed with quoted terms, never raw user syntax.
CALL db.index.fulltext.queryNodes('entity_names', $query) YIELD node, score
WHERE node.scope_key = $scope_key
RETURN node {
  .id, .name, .display_name, .type, .embedding, .mentions, .created_at, .updated_at,
  aliases: coalesce(node.aliases, [])
} AS entity, score
ORDER BY score DESC, node.id
LIMIT $limit
