-- mnemo embedded store, schema version 3: which aliases an episode added to the entities
-- it mentions, so deleting the episode removes them.
--
-- Conventions as in 0001_init.sql.

-- One row per (mention, alias added): by episode through the key, by entity for deleting
-- an entity.
CREATE TABLE mention_aliases (
    scope     TEXT NOT NULL,
    episode   TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    alias     TEXT NOT NULL,
    PRIMARY KEY (scope, episode, entity_id, alias)
) STRICT, WITHOUT ROWID;
CREATE INDEX mention_aliases_by_entity ON mention_aliases (scope, entity_id);
