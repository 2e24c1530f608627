//! [`keep_plans`]: cached statements run as prepared, on the engine's store and the server's.

use rusqlite::Connection;
use rusqlite::config::DbConfig;

/// Makes `conn`'s statements keep the plan they were prepared with, whatever values are bound
/// to them later (SQLite's query planner stability guarantee).
///
/// Without it, SQLite (3.54) plans some statements with the values of their parameters, and
/// marks them to be prepared again whenever such a parameter is bound anew: `LIMIT ?`, and
/// `x = ?` on a column no index covers. rusqlite clears a statement's bindings when it goes
/// back to the cache, which counts as binding anew, so those statements were parsed and
/// planned again on every use (on the server, two thirds of a token's session lookup and
/// every page query). Our statements do not need plans per value: the keys they look up by
/// are in their text.
pub fn keep_plans(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use rusqlite::StatementStatus;
    use rusqlite::types::Value;

    use super::*;

    /// The parameters of a statement's `n`th use.
    type Params<'a> = &'a dyn Fn(i64) -> Vec<Value>;

    /// How many times the cached statement `sql` was prepared again over ten uses, each with
    /// the parameters `params(n)`.
    fn reprepares(conn: &Connection, sql: &str, params: impl Fn(i64) -> Vec<Value>) -> i32 {
        let mut last = 0;
        for n in 0..10 {
            let mut st = conn.prepare_cached(sql).expect("prepares");
            let rows = st
                .query_map(rusqlite::params_from_iter(params(n)), |_| Ok(()))
                .expect("runs")
                .count();
            assert!(rows <= 3);
            last = st.get_status(StatementStatus::RePrepare);
        }
        last
    }

    /// Tables shaped like the server's sessions and users, three rows.
    fn database() -> Connection {
        let conn = Connection::open_in_memory().expect("opens");
        conn.execute_batch(
            "CREATE TABLE users (id TEXT PRIMARY KEY, disabled_at INTEGER) WITHOUT ROWID;
             CREATE TABLE sessions (id TEXT PRIMARY KEY, user_id TEXT, expires_at INTEGER)
                 WITHOUT ROWID;
             CREATE INDEX sessions_by_user ON sessions (user_id);
             INSERT INTO users VALUES ('u1', NULL), ('u2', NULL);
             INSERT INTO sessions VALUES ('s1', 'u1', 10), ('s2', 'u1', 20), ('s3', 'u2', 30);",
        )
        .expect("fills");
        conn
    }

    // Both shapes SQLite plans by value: a bound LIMIT, and the session lookup (equality on a
    // column the chosen index does not cover). Without the guarantee each use after the first
    // is prepared again (the first assertion shows that the test sees it); with it, none is.
    #[test]
    fn cached_statements_are_not_prepared_again_for_new_values() {
        let page = |n: i64| vec![Value::Integer(n % 3 + 1), Value::Integer(0)];
        let session = |n: i64| {
            vec![
                Value::Text(format!("s{}", n % 3 + 1)),
                Value::Text("u1".into()),
                Value::Integer(n),
            ]
        };
        let shapes: [(&str, Params<'_>); 2] = [
            (
                "SELECT id FROM sessions ORDER BY id LIMIT ?1 OFFSET ?2",
                &page,
            ),
            (
                "SELECT u.id FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.id = ?1 AND s.user_id = ?2 AND s.expires_at > ?3 \
                 AND u.disabled_at IS NULL",
                &session,
            ),
        ];
        for (sql, params) in shapes {
            let by_default = reprepares(&database(), sql, params);
            assert!(by_default >= 9, "{sql}: SQLite's default, {by_default}");
            let conn = database();
            keep_plans(&conn).expect("sets");
            assert_eq!(reprepares(&conn, sql, params), 0, "{sql}");
        }
    }
}
