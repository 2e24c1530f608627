-- Every row belongs to an owner: a user's id, or '' for nobody (the shared list of a server
-- without accounts, and every row from before this migration). Ids and operation tags are
-- unique per (table, owner). SQLite cannot change a primary key in place, so both tables are
-- rebuilt: new table, copy, drop the old one, rename, recreate the indexes (all in the
-- migration's transaction).
CREATE TABLE items_v2 (
    tbl        TEXT    NOT NULL,
    owner      TEXT    NOT NULL DEFAULT '',
    id         TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version    TEXT    NOT NULL,
    deleted    INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    data       TEXT    NOT NULL CHECK (json_type(data) = 'object'),
    PRIMARY KEY (tbl, owner, id)
) WITHOUT ROWID;

INSERT INTO items_v2 (tbl, owner, id, created_at, updated_at, version, deleted, data)
    SELECT tbl, '', id, created_at, updated_at, version, deleted, data FROM items;

DROP TABLE items;
ALTER TABLE items_v2 RENAME TO items;

-- Incremental pulls ask for one owner's `updatedAt ge <token>` ordered by updatedAt, id.
CREATE INDEX items_by_change ON items (tbl, owner, updated_at, id);

CREATE TABLE operations_v2 (
    tbl          TEXT    NOT NULL,
    owner        TEXT    NOT NULL DEFAULT '',
    operation_id TEXT    NOT NULL,
    op_version   INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    item_id      TEXT    NOT NULL,
    outcome      TEXT    NOT NULL,
    recorded_at  INTEGER NOT NULL,
    PRIMARY KEY (tbl, owner, operation_id, op_version)
) WITHOUT ROWID;

INSERT INTO operations_v2
    (tbl, owner, operation_id, op_version, kind, item_id, outcome, recorded_at)
    SELECT tbl, '', operation_id, op_version, kind, item_id, outcome, recorded_at
    FROM operations;

DROP TABLE operations;
ALTER TABLE operations_v2 RENAME TO operations;

-- Pruning removes a table's oldest records first, whoever they belong to.
CREATE INDEX operations_by_age ON operations (tbl, recorded_at);
