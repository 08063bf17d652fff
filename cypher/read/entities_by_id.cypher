// Entities of the scope by id ($ids); ids of other scopes or unknown ids give no row.
UNWIND $ids AS id
MATCH (e:Entity {id: id})
WHERE e.scope_key = $scope_key
RETURN e {
  .id, .name, .display_name, .type, .embedding, .mentions, .created_at, .updated_at,
  aliases: coalesce(e.aliases, [])
} AS entity
