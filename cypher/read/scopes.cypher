// Every scope holding an entity or an episode (read from the scope_key indexes).
MATCH (e:Entity)
WHERE e.scope_key IS NOT NULL
RETURN DISTINCT e.scope_key AS scope_key
UNION
MATCH (e:Episode)
WHERE e.scope_key IS NOT NULL
RETURN DISTINCT e.scope_key AS scope_key
