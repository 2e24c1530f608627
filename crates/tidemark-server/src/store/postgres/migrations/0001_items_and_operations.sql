-- Items of every declared table, one row each. System properties are columns; the user's
-- properties are one JSON object in `data`. Timestamps are integer microseconds since the Unix
-- epoch (as in the SQLite store), so comparisons with filter literals are exact. Text columns
-- use the "C" collation: byte order, the order SQLite's BINARY collation gives.
CREATE TABLE items (
    tbl        text COLLATE "C" NOT NULL,
    id         text COLLATE "C" NOT NULL,
    created_at bigint  NOT NULL,
    updated_at bigint  NOT NULL,
    version    text COLLATE "C" NOT NULL,
    deleted    boolean NOT NULL DEFAULT false,
    data       jsonb   NOT NULL CHECK (jsonb_typeof(data) = 'object'),
    PRIMARY KEY (tbl, id)
);

-- Incremental pulls ask for `updatedAt ge <token>` ordered by updatedAt, id.
CREATE INDEX items_by_change ON items (tbl, updated_at, id);

-- Outcomes of writes that carried an operation tag, so a retry gets the original answer, even
-- when it reaches another server process.
CREATE TABLE operations (
    tbl          text COLLATE "C" NOT NULL,
    operation_id text COLLATE "C" NOT NULL,
    op_version   bigint NOT NULL,
    kind         text   NOT NULL,
    item_id      text COLLATE "C" NOT NULL,
    outcome      text   NOT NULL,
    recorded_at  bigint NOT NULL,
    PRIMARY KEY (tbl, operation_id, op_version)
);

-- Pruning removes the oldest records first.
CREATE INDEX operations_by_age ON operations (tbl, recorded_at);

-- The change clock of each table: the last `updatedAt` handed out. Every write locks its
-- table's row until it commits, which serializes the writers of one table across processes
-- (see the `clock` module).
CREATE TABLE change_clocks (
    tbl     text COLLATE "C" PRIMARY KEY,
    last_us bigint NOT NULL
);
