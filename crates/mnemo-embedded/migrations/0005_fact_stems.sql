-- mnemo embedded store, schema version 5: fact text is matched by word stem (Porter), so
-- "what did she paint" finds "I painted a lake" and "my paintings". Names in entity_fts
-- stay unstemmed: a name is matched as written.
--
-- Conventions as in 0001_init.sql. The index is rebuilt from the old one's rows (same
-- rowids = facts.pk, same scope tags).

CREATE VIRTUAL TABLE fact_fts_stemmed USING fts5(text, scope_tag, tokenize = 'porter unicode61 remove_diacritics 2');
INSERT INTO fact_fts_stemmed (rowid, text, scope_tag) SELECT rowid, text, scope_tag FROM fact_fts;
DROP TABLE fact_fts;
ALTER TABLE fact_fts_stemmed RENAME TO fact_fts;
