-- mnemo embedded store, schema version 1.
--
-- Conventions: every record carries `scope` (= Scope::key()) and every key and index starts
-- with it; tables with large rows (vectors, texts) keep a rowid, WITHOUT ROWID is only for
-- small rows; ids are UUID text; timestamps are RFC 3339 UTC text with exactly nine fractional
-- digits ("2024-03-01T00:00:00.000000000Z"), so they round-trip at nanosecond precision and
-- compare correctly as strings; vectors are little-endian f32 BLOBs; lists and JSON values
-- are JSON text.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE entities (
    pk           INTEGER PRIMARY KEY,       -- rowid of the entity's entity_fts row
    scope        TEXT NOT NULL,
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    display_name TEXT NOT NULL,
    entity_type  TEXT NOT NULL,
    aliases      TEXT NOT NULL,             -- JSON array of strings
    embedding    BLOB NOT NULL,
    mentions     INTEGER NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (scope, id)
) STRICT;
CREATE INDEX entities_by_name ON entities (scope, name, id);

-- Lookup keys of entities: the normalised name and every normalised alias.
-- A key resolves to exactly one entity of the scope.
CREATE TABLE entity_keys (
    scope     TEXT NOT NULL,
    key       TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    PRIMARY KEY (scope, key)
) STRICT, WITHOUT ROWID;
CREATE INDEX entity_keys_by_entity ON entity_keys (scope, entity_id);

-- rowid = entities.pk; scope_tag = fts::scope_tag(scope), so a MATCH only walks the
-- postings of its own scope.
CREATE VIRTUAL TABLE entity_fts USING fts5(names, scope_tag, tokenize = 'unicode61 remove_diacritics 2');

CREATE TABLE relations (
    scope          TEXT NOT NULL,
    id             TEXT NOT NULL,
    source         TEXT NOT NULL,
    relation_type  TEXT NOT NULL,
    target         TEXT NOT NULL,
    fact           TEXT NOT NULL,
    valid_from     TEXT,
    valid_to       TEXT,
    recorded_at    TEXT NOT NULL,
    invalidated_at TEXT,
    retracted_at   TEXT,
    invalidated_by TEXT,
    episodes       TEXT NOT NULL,           -- JSON array of episode ids, oldest first
    mentions       INTEGER NOT NULL,
    UNIQUE (scope, id)
) STRICT;
CREATE INDEX relations_by_source ON relations (scope, source, recorded_at, id);
CREATE INDEX relations_by_target ON relations (scope, target, recorded_at, id);
CREATE INDEX relations_by_type ON relations (scope, relation_type, recorded_at, id);
CREATE INDEX relations_by_recorded ON relations (scope, recorded_at, id);
CREATE INDEX relations_by_invalidated ON relations (scope, invalidated_at, id)
    WHERE invalidated_at IS NOT NULL;
CREATE INDEX relations_by_retracted ON relations (scope, retracted_at, id)
    WHERE retracted_at IS NOT NULL;

CREATE TABLE episodes (
    scope           TEXT NOT NULL,
    id              TEXT NOT NULL,
    content         TEXT NOT NULL,
    occurred_at     TEXT NOT NULL,
    ingested_at     TEXT NOT NULL,
    status          TEXT NOT NULL,          -- pending | done | failed
    failure_reason  TEXT,
    idempotency_key TEXT,
    metadata        TEXT NOT NULL,          -- JSON
    UNIQUE (scope, id)
) STRICT;
CREATE INDEX episodes_by_id ON episodes (id);
CREATE UNIQUE INDEX episodes_by_idempotency_key ON episodes (scope, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX episodes_pending ON episodes (ingested_at, id) WHERE status = 'pending';

-- (:Episode)-[:MENTIONS]->(:Entity)
CREATE TABLE mentions (
    scope     TEXT NOT NULL,
    episode   TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    PRIMARY KEY (scope, episode, entity_id)
) STRICT, WITHOUT ROWID;

-- Relation embeddings with the validity payload vector search filters on (mirrors the
-- relation's times, kept by VectorWrite like an external vector store would).
CREATE TABLE relation_vectors (
    scope          TEXT NOT NULL,
    id             TEXT NOT NULL,
    valid_from     TEXT,
    valid_to       TEXT,
    recorded_at    TEXT NOT NULL,
    invalidated_at TEXT,
    retracted_at   TEXT,
    vector         BLOB NOT NULL,
    UNIQUE (scope, id)
) STRICT;

CREATE TABLE facts (
    pk         INTEGER PRIMARY KEY,         -- rowid of the fact's fact_fts row
    scope      TEXT NOT NULL,
    id         TEXT NOT NULL,
    text       TEXT NOT NULL,
    metadata   TEXT NOT NULL,               -- JSON
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    episodes   TEXT NOT NULL,               -- JSON array of episode ids
    vector     BLOB NOT NULL,
    UNIQUE (scope, id)
) STRICT;
CREATE INDEX facts_by_created ON facts (scope, created_at, id);

-- rowid = facts.pk; scope_tag as in entity_fts.
CREATE VIRTUAL TABLE fact_fts USING fts5(text, scope_tag, tokenize = 'unicode61 remove_diacritics 2');

-- Kept after the fact is deleted.
CREATE TABLE fact_history (
    seq      INTEGER PRIMARY KEY,
    scope    TEXT NOT NULL,
    fact_id  TEXT NOT NULL,
    event    TEXT NOT NULL,                 -- ADD | UPDATE | DELETE | NONE
    old_text TEXT,
    new_text TEXT,
    at       TEXT NOT NULL,
    episode  TEXT
) STRICT;
CREATE INDEX fact_history_by_fact ON fact_history (scope, fact_id, at, seq);
