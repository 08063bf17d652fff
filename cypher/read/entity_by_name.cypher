// The entity owning a normalised name or alias: $uid = scope_key + U+001F + name.
MATCH (k:EntityKey {uid: $uid})
MATCH (e:Entity {id: k.entity_id})
WHERE e.scope_key = $scope_key
RETURN e {
  .id, .name, .display_name, .type, .embedding, .mentions, .created_at, .updated_at,
  aliases: coalesce(e.aliases, [])
} AS entity
