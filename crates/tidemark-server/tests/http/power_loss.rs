//! Power cuts of the server's SQLite database (`tidemark_testkit::power`): writers hammer the
//! server at once (so their writes share commits), the power goes at a chosen I/O of the
//! database, and after the restart every write the server answered 201/200 to is still there.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;
use tidemark_server::ServerConfig;
use tidemark_testkit::power::PowerCut;
use tidemark_testkit::server::TestServer;

use crate::common::Api;

/// What a writer last saw of one of its items.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    /// The text the last acknowledged write left.
    Text(String),
    /// The item was deleted (or, read back, is not there).
    Deleted,
}

/// Each writer's items: what was acknowledged, and what its one unanswered write would have
/// made (a write answered with an error may or may not have landed, as far as it knows).
#[derive(Debug, Default)]
struct Ledger {
    acknowledged: BTreeMap<String, Seen>,
    unanswered: Option<(String, Seen)>,
}

/// Writes items `<prefix><n>` one request at a time (insert, update, and every third one
/// deleted) until a request fails.
async fn write_until_refused(api: Arc<Api>, prefix: String) -> Ledger {
    let mut ledger = Ledger::default();
    for n in 0.. {
        let id = format!("{prefix}{n}");
        let mut steps = vec![
            ("insert", Seen::Text(format!("{id} new"))),
            ("update", Seen::Text(format!("{id} edited"))),
        ];
        if n % 3 == 0 {
            steps.push(("delete", Seen::Deleted));
        }
        for (step, seen) in steps {
            let reply = match (step, &seen) {
                ("insert", Seen::Text(text)) => {
                    api.post("/tables/todoitem", json!({"id": id, "text": text}))
                        .await
                }
                ("update", Seen::Text(text)) => {
                    api.patch(&format!("/tables/todoitem/{id}"), json!({"text": text}))
                        .await
                }
                _ => api.delete(&format!("/tables/todoitem/{id}")).await,
            };
            if reply.status == 200 || reply.status == 201 {
                ledger.acknowledged.insert(id.clone(), seen);
            } else {
                ledger.unanswered = Some((id, seen));
                return ledger;
            }
        }
    }
    unreachable!("the loop ends with the first refused write")
}

/// The item as the server holds it now (a deleted item reads as gone, like one never made).
async fn found(api: &Api, id: &str) -> Seen {
    let reply = api.get(&format!("/tables/todoitem/{id}")).await;
    match reply.status {
        200 => Seen::Text(reply.str("text").to_owned()),
        404 => Seen::Deleted,
        status => panic!(
            "reading {id} after the restart answered {status}: {:?}",
            reply.body
        ),
    }
}

#[tokio::test]
async fn every_write_the_server_acknowledged_survives_a_power_cut() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let power = PowerCut::new(dir.path());
    let mut server =
        TestServer::start_on(power.dir().join("server.db"), ServerConfig::open()).await;
    let api = Arc::new(Api::new(server.url()));
    let mut acknowledged_total = 0;
    // Cut points spread over the first few hundred I/Os of the database under load.
    for cut in (0..400).step_by(23) {
        let writers: Vec<_> = (0..6)
            .map(|w| {
                let api = Arc::clone(&api);
                tokio::spawn(write_until_refused(api, format!("cut{cut}-w{w}-")))
            })
            .collect();
        power.cut_after(power.events() + cut);
        let mut ledgers = Vec::new();
        for writer in writers {
            ledgers.push(writer.await.expect("a writer task"));
        }
        assert!(
            !power.is_on(),
            "cut {cut}: the writers stopped before the power cut"
        );
        server.pause().await;
        power.restart().await;
        server.start_again().await;

        for ledger in ledgers {
            for (id, seen) in &ledger.acknowledged {
                let now = found(&api, id).await;
                let landed_later = ledger
                    .unanswered
                    .as_ref()
                    .is_some_and(|(unanswered, would)| unanswered == id && &now == would);
                assert!(
                    &now == seen || landed_later,
                    "cut at I/O {cut}: {id} was acknowledged as {seen:?}; after the restart it is {now:?}"
                );
                acknowledged_total += 1;
            }
        }
    }
    assert!(
        acknowledged_total > 100,
        "only {acknowledged_total} writes were acknowledged"
    );
}
