// One page of the scope's entities, by name then id.
MATCH (e:Entity)
WHERE e.scope_key = $scope_key
RETURN e {
  .id, .name, .display_name, .type, .embedding, .mentions, .created_at, .updated_at,
  aliases: coalesce(e.aliases, [])
} AS entity
ORDER BY e.name, e.id
SKIP $offset
LIMIT $limit
