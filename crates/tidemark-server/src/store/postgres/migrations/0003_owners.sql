-- Every row belongs to an owner: a user's id, or '' for nobody (the shared list of a server
-- without accounts, and every row from before this migration). Ids and operation tags are
-- unique per (table, owner). The change clock stays per table.
ALTER TABLE items ADD COLUMN owner text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE items DROP CONSTRAINT items_pkey, ADD PRIMARY KEY (tbl, owner, id);

-- Incremental pulls ask for one owner's `updatedAt ge <token>` ordered by updatedAt, id. The
-- filter translation orders ascending with NULLS FIRST (SQLite's order), so the index does too:
-- a pull then reads the index in order and stops after one page instead of sorting every row
-- after the token (`updated_at` is never NULL, so the results are the same).
DROP INDEX items_by_change;
CREATE INDEX items_by_change ON items (tbl, owner, updated_at NULLS FIRST, id);

ALTER TABLE operations ADD COLUMN owner text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE operations
    DROP CONSTRAINT operations_pkey,
    ADD PRIMARY KEY (tbl, owner, operation_id, op_version);
