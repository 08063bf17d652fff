// The schema of mnemo's Neo4j store, applied by `Neo4jStore::connect` on every start.
// Every statement is idempotent (IF NOT EXISTS). Statements end with a semicolon at the
// end of a line; the store splits the file there. Parameter: $dimension (the embedder's).
// Needs Neo4j 5.26 or newer (Community is enough).

// Identity: one node per id, whatever its scope.
CREATE CONSTRAINT entity_id IF NOT EXISTS
FOR (e:Entity) REQUIRE e.id IS UNIQUE;

CREATE CONSTRAINT episode_id IF NOT EXISTS
FOR (e:Episode) REQUIRE e.id IS UNIQUE;

CREATE CONSTRAINT relation_key_id IF NOT EXISTS
FOR (k:RelationKey) REQUIRE k.id IS UNIQUE;

// One owner per name or alias in a scope: uid = scope_key + U+001F + normalised name.
// Several mnemo processes share the database; a MERGE on this key is the lock.
CREATE CONSTRAINT entity_key_uid IF NOT EXISTS
FOR (k:EntityKey) REQUIRE k.uid IS UNIQUE;

// An idempotency key is used once per scope (absent on episodes without a key).
CREATE CONSTRAINT episode_idempotency_uid IF NOT EXISTS
FOR (e:Episode) REQUIRE e.idempotency_uid IS UNIQUE;

CREATE CONSTRAINT scope_summary_scope IF NOT EXISTS
FOR (s:ScopeSummary) REQUIRE s.scope_key IS UNIQUE;

// Scope keys: every read starts from one.
CREATE INDEX entity_scope IF NOT EXISTS
FOR (e:Entity) ON (e.scope_key);

// Browser's saved queries start from a user.
CREATE INDEX entity_user IF NOT EXISTS
FOR (e:Entity) ON (e.user_id);

CREATE INDEX entity_scope_name IF NOT EXISTS
FOR (e:Entity) ON (e.scope_key, e.name);

CREATE INDEX entity_key_entity IF NOT EXISTS
FOR (k:EntityKey) ON (k.entity_id);

CREATE INDEX entity_key_scope IF NOT EXISTS
FOR (k:EntityKey) ON (k.scope_key);

CREATE INDEX episode_scope IF NOT EXISTS
FOR (e:Episode) ON (e.scope_key);

CREATE INDEX episode_scope_ingested IF NOT EXISTS
FOR (e:Episode) ON (e.scope_key, e.ingested_at);

CREATE INDEX episode_status_ingested IF NOT EXISTS
FOR (e:Episode) ON (e.status, e.ingested_at);

// Relations are typed relationships; their types come from the LLM, and Neo4j indexes
// relationship properties per type only. Each relation therefore has a RelationKey node
// (same id) holding what relations are looked up by: scope, type, source entity, the
// transaction times and the episode that ended it.
CREATE INDEX relation_key_scope IF NOT EXISTS
FOR (k:RelationKey) ON (k.scope_key);

CREATE INDEX relation_key_scope_type IF NOT EXISTS
FOR (k:RelationKey) ON (k.scope_key, k.type);

CREATE INDEX relation_key_recorded IF NOT EXISTS
FOR (k:RelationKey) ON (k.scope_key, k.recorded_at);

CREATE INDEX relation_key_invalidated IF NOT EXISTS
FOR (k:RelationKey) ON (k.scope_key, k.invalidated_at);

CREATE INDEX relation_key_retracted IF NOT EXISTS
FOR (k:RelationKey) ON (k.scope_key, k.retracted_at);

CREATE INDEX relation_key_ended_in IF NOT EXISTS
FOR (k:RelationKey) ON (k.scope_key, k.invalidated_in);

// Lexical entity search: `names` holds display name, name and aliases; `scope_tag` is one
// token per scope, ANDed into every query so Lucene only walks the caller's postings.
CREATE FULLTEXT INDEX entity_names IF NOT EXISTS
FOR (e:Entity) ON EACH [e.names, e.scope_tag];

// Entity linking by name embedding (cosine). Entities of another dimension are not indexed.
CREATE VECTOR INDEX entity_embedding IF NOT EXISTS
FOR (e:Entity) ON (e.embedding)
OPTIONS {indexConfig: {`vector.dimensions`: $dimension, `vector.similarity_function`: 'cosine'}};
