-- Items of every declared table, one row each. System properties are columns; the user's
-- properties are one JSON object in `data`. Timestamps are integer microseconds since the Unix
-- epoch, so comparisons with filter literals are exact.
CREATE TABLE items (
    tbl        TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version    TEXT    NOT NULL,
    deleted    INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    data       TEXT    NOT NULL CHECK (json_type(data) = 'object'),
    PRIMARY KEY (tbl, id)
) WITHOUT ROWID;

-- Incremental pulls ask for `updatedAt ge <token>` ordered by updatedAt, id.
CREATE INDEX items_by_change ON items (tbl, updated_at, id);

-- Outcomes of writes that carried an operation tag, so a retry gets the original answer.
CREATE TABLE operations (
    tbl          TEXT    NOT NULL,
    operation_id TEXT    NOT NULL,
    op_version   INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    item_id      TEXT    NOT NULL,
    outcome      TEXT    NOT NULL,
    recorded_at  INTEGER NOT NULL,
    PRIMARY KEY (tbl, operation_id, op_version)
) WITHOUT ROWID;

-- Pruning removes the oldest records first.
CREATE INDEX operations_by_age ON operations (tbl, recorded_at);
