-- Owners as small integers (see store/owner.rs): `owners` gives each user id a key once, for
-- ever (rows here are never changed or deleted, so a key is never reused and any process may
-- cache it); items and operation records carry the key instead of the id, so their primary keys
-- and the change index are no longer than before accounts. Key 0 is nobody (''). Both tables
-- are rebuilt, as in 0002, inside the migration's transaction.
CREATE TABLE owners (
    key     INTEGER PRIMARY KEY,
    user_id TEXT    NOT NULL UNIQUE
);

INSERT INTO owners (key, user_id) VALUES (0, '');
INSERT INTO owners (user_id)
    SELECT owner FROM items WHERE owner <> ''
    UNION
    SELECT owner FROM operations WHERE owner <> '';

CREATE TABLE items_v3 (
    tbl        TEXT    NOT NULL,
    owner      INTEGER NOT NULL DEFAULT 0,
    id         TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version    TEXT    NOT NULL,
    deleted    INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    data       TEXT    NOT NULL CHECK (json_type(data) = 'object'),
    PRIMARY KEY (tbl, owner, id)
) WITHOUT ROWID;

INSERT INTO items_v3 (tbl, owner, id, created_at, updated_at, version, deleted, data)
    SELECT i.tbl, o.key, i.id, i.created_at, i.updated_at, i.version, i.deleted, i.data
    FROM items AS i JOIN owners AS o ON o.user_id = i.owner;

DROP TABLE items;
ALTER TABLE items_v3 RENAME TO items;

CREATE INDEX items_by_change ON items (tbl, owner, updated_at, id);

CREATE TABLE operations_v3 (
    tbl          TEXT    NOT NULL,
    owner        INTEGER NOT NULL DEFAULT 0,
    operation_id TEXT    NOT NULL,
    op_version   INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    item_id      TEXT    NOT NULL,
    outcome      TEXT    NOT NULL,
    recorded_at  INTEGER NOT NULL,
    PRIMARY KEY (tbl, owner, operation_id, op_version)
) WITHOUT ROWID;

INSERT INTO operations_v3
    (tbl, owner, operation_id, op_version, kind, item_id, outcome, recorded_at)
    SELECT p.tbl, o.key, p.operation_id, p.op_version, p.kind, p.item_id, p.outcome,
           p.recorded_at
    FROM operations AS p JOIN owners AS o ON o.user_id = p.owner;

DROP TABLE operations;
ALTER TABLE operations_v3 RENAME TO operations;

CREATE INDEX operations_by_age ON operations (tbl, recorded_at);
