-- What the in-memory search keeps of each vector (vectors.rs, `VectorCode`: 8-bit codes, sign
-- bits, scale, error and norm), written with the vector so that opening the store reads it
-- instead of quantising every vector again.
--
-- One table per vector table, keyed by that table's rowid and carrying its id: open walks
-- both in rowid order side by side, and a code whose row or id does not match (a store
-- written before these tables; a rowid renumbered by VACUUM) is computed again from the
-- vector and stored. Apart from the vectors so that rows of f32 vectors still fit two to a
-- page (with the code in the row, one did, and the file grew by 70%). Deleting a vector
-- deletes its code through the triggers.
CREATE TABLE entity_codes (
    source_row INTEGER PRIMARY KEY,          -- entities.pk
    id         TEXT NOT NULL,
    code       BLOB NOT NULL
) STRICT;
CREATE TABLE relation_vector_codes (
    source_row INTEGER PRIMARY KEY,          -- relation_vectors.rowid
    id         TEXT NOT NULL,
    code       BLOB NOT NULL
) STRICT;
CREATE TABLE fact_codes (
    source_row INTEGER PRIMARY KEY,          -- facts.pk
    id         TEXT NOT NULL,
    code       BLOB NOT NULL
) STRICT;

CREATE TRIGGER entity_codes_deleted AFTER DELETE ON entities BEGIN
    DELETE FROM entity_codes WHERE source_row = old.pk;
END;
CREATE TRIGGER relation_vector_codes_deleted AFTER DELETE ON relation_vectors BEGIN
    DELETE FROM relation_vector_codes WHERE source_row = old.rowid;
END;
CREATE TRIGGER fact_codes_deleted AFTER DELETE ON facts BEGIN
    DELETE FROM fact_codes WHERE source_row = old.pk;
END;
