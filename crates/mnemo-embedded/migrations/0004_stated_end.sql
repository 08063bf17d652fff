-- mnemo embedded store, schema version 4: each relation's own end (Relation::stated_end),
-- kept while a successor on its single-valued timeline cuts it, so the relation gets that
-- end back when the successor's episode is deleted.
--
-- Conventions as in 0001_init.sql. All three are NULL for a relation open on its own;
-- stated_valid_to is set whenever the other two are.

ALTER TABLE relations ADD COLUMN stated_valid_to TEXT;
ALTER TABLE relations ADD COLUMN stated_invalidated_at TEXT;
-- The episode (a restatement) that gave the end; NULL = the relation's first statement.
ALTER TABLE relations ADD COLUMN stated_in TEXT;

-- Rows from before: a relation no successor cut (invalidated_by NULL) ends on its own, so
-- its own end is its current end (with the episode that ended it, unless a retraction
-- has since overwritten invalidated_in); a cut relation's own end was never stored and is
-- taken as open, which is what placement assumed until now (StatedEnd::presumed).
UPDATE relations
SET stated_valid_to = valid_to,
    stated_invalidated_at = invalidated_at,
    stated_in = CASE WHEN retracted_at IS NULL THEN invalidated_in END
WHERE invalidated_by IS NULL AND valid_to IS NOT NULL;
