-- mnemo embedded store, schema version 2: what reverting an episode, the extractor's recent
-- context and LLM accounting need, each served by an index.
--
-- Conventions as in 0001_init.sql.

-- The episode that ended or retracted the relation (Relation::invalidated_in).
ALTER TABLE relations ADD COLUMN invalidated_in TEXT;
CREATE INDEX relations_by_invalidated_in ON relations (scope, invalidated_in, recorded_at, id)
    WHERE invalidated_in IS NOT NULL;

-- Provenance by episode: the rows of relations.episodes (which stays the ordered source the
-- codec reads), kept in step by every write that changes it.
CREATE TABLE relation_episodes (
    scope    TEXT NOT NULL,
    episode  TEXT NOT NULL,
    relation TEXT NOT NULL,
    PRIMARY KEY (scope, episode, relation)
) STRICT, WITHOUT ROWID;
INSERT OR IGNORE INTO relation_episodes (scope, episode, relation)
    SELECT r.scope, j.value, r.id FROM relations AS r, json_each(r.episodes) AS j;

-- Mentions by entity, for deleting an entity.
CREATE INDEX mentions_by_entity ON mentions (scope, entity_id);

-- LLM usage of an episode so far (Episode::llm_usage).
ALTER TABLE episodes ADD COLUMN llm_calls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE episodes ADD COLUMN llm_prompt_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE episodes ADD COLUMN llm_completion_tokens INTEGER NOT NULL DEFAULT 0;

-- The scope's episodes newest first, before a point in time (recent_episodes).
CREATE INDEX episodes_by_ingested ON episodes (scope, ingested_at, id);

-- One rolling summary per scope.
CREATE TABLE scope_summaries (
    scope           TEXT PRIMARY KEY,
    text            TEXT NOT NULL,
    through_episode TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;

-- Fact events by the episode that caused them (fact_events_of_episode).
CREATE INDEX fact_history_by_episode ON fact_history (scope, episode, at, seq)
    WHERE episode IS NOT NULL;
