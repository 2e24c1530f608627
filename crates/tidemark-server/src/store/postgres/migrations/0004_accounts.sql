-- Accounts (issue 15). A user's id is an opaque UUID that never changes; `name_key` is the user
-- name as compared (Unicode NFKC, lower-cased), `display_name` as the user typed it. Times are
-- Unix seconds.
CREATE TABLE users (
    id            text   PRIMARY KEY,
    name_key      text   NOT NULL UNIQUE,
    display_name  text   NOT NULL,
    password_hash text   NOT NULL,
    created_at    bigint NOT NULL,
    disabled_at   bigint
);

-- One row per signed-in token family: a token is valid only while its session row exists, so a
-- logout (one row) or a password change, disable or delete (every row of the user) revokes at
-- once on every server process sharing the database.
CREATE TABLE sessions (
    id         text   PRIMARY KEY,
    user_id    text   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL
);

CREATE INDEX sessions_by_user ON sessions (user_id);
