-- Every row belongs to an owner: a user's id, or '' for nobody (the shared list of a server
-- without accounts, and every row from before this migration). Ids and operation tags are
-- unique per (table, owner). The change clock stays per table.
ALTER TABLE items ADD COLUMN owner text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE items DROP CONSTRAINT items_pkey, ADD PRIMARY KEY (tbl, owner, id);

-- Incremental pulls ask for one owner's `updatedAt ge <token>` ordered by updatedAt, id.
DROP INDEX items_by_change;
CREATE INDEX items_by_change ON items (tbl, owner, updated_at, id);

ALTER TABLE operations ADD COLUMN owner text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE operations
    DROP CONSTRAINT operations_pkey,
    ADD PRIMARY KEY (tbl, owner, operation_id, op_version);
