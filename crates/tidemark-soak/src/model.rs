//! The exact model a soak is checked against: which items each device owns, what the shared
//! items must hold, and the final comparison of the server with the model and of every device
//! with the server.

use std::collections::BTreeMap;

use anyhow::{Context as _, bail};
use serde_json::Value;
use tidemark_client::tidemark_protocol::{date, system};
use tidemark_client::{Item, Query, RemoteTable};

use crate::SoakConfig;
use crate::device::SimDevice;
use crate::stats::Stats;

/// The text the shared items start with.
const SEED_TEXT: &str = "seed";

/// The id of shared item `k`.
pub(crate) fn shared_id(k: usize) -> String {
    format!("shared-{k}")
}

/// True for the ids of shared items.
pub(crate) fn is_shared(id: &str) -> bool {
    id.starts_with("shared-")
}

/// The user fields the model compares: text, complete, priority.
pub(crate) type Fields = (String, bool, i64);

/// The compared fields of an item (from the server or a local store).
pub(crate) fn fields_of(item: &Item) -> Fields {
    (
        item.get("text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        item.get("complete")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        item.get("priority").and_then(Value::as_i64).unwrap_or(0),
    )
}

/// Creates the shared items on the server before any device exists.
pub(crate) async fn seed_shared_items(admin: &RemoteTable, n: usize) -> anyhow::Result<()> {
    for k in 0..n {
        let mut item = Item::new();
        item.insert(system::ID.into(), Value::String(shared_id(k)));
        item.insert("text".into(), Value::String(SEED_TEXT.into()));
        item.insert("complete".into(), Value::Bool(false));
        item.insert("priority".into(), Value::from(0));
        admin
            .insert(&item)
            .await
            .with_context(|| format!("cannot create shared item {k}"))?;
    }
    Ok(())
}

/// Every live row of the server, by id.
pub(crate) async fn server_rows(admin: &RemoteTable) -> anyhow::Result<BTreeMap<String, Item>> {
    const PAGE: u64 = 5000;
    let mut rows = BTreeMap::new();
    let mut fetched = 0u64;
    loop {
        let query = Query::new().order_by(system::ID).skip(fetched).take(PAGE);
        let page = admin
            .query(&query.to_table_query())
            .await
            .context("cannot read the server's rows")?;
        let n = page.items.len() as u64;
        fetched += n;
        for item in page.items {
            let id = item
                .get(system::ID)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if rows.insert(id.clone(), item).is_some() {
                // The store's primary key makes this impossible; check anyway.
                bail!("the server returned id '{id}' twice");
            }
        }
        if n < PAGE {
            return Ok(rows);
        }
    }
}

/// What the final comparison found.
pub(crate) struct Checked {
    /// Items of the model missing on the server or holding other values.
    pub(crate) lost: u64,
    /// Server rows the model does not have.
    pub(crate) duplicated: u64,
    /// Devices whose rows differ from the server's.
    pub(crate) diverged: u64,
}

/// Compares the server with the model and every device with the server.
pub(crate) async fn check(
    config: &SoakConfig,
    devices: &[SimDevice],
    server: &BTreeMap<String, Item>,
    stats: &Stats,
) -> Checked {
    let mut expected: BTreeMap<String, Fields> = BTreeMap::new();
    for d in devices {
        expected.extend(d.model().iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let acks = stats
        .shared_acks
        .lock()
        .map(|a| a.clone())
        .unwrap_or_default();
    for k in 0..config.shared_items {
        let id = shared_id(k);
        let last = acks.get(&id).and_then(|writes| {
            writes
                .iter()
                .filter_map(|(at, text)| date::parse_date(at).ok().map(|at| (at, text)))
                .max_by_key(|(at, _)| *at)
                .map(|(_, text)| text.clone())
        });
        let text = last.unwrap_or_else(|| SEED_TEXT.to_owned());
        // Shared writes change only the text; complete and priority keep their seeds.
        expected.insert(id, (text, false, 0));
    }
    let mut checked = Checked {
        lost: 0,
        duplicated: 0,
        diverged: 0,
    };
    for (id, want) in &expected {
        match server.get(id).map(fields_of) {
            Some(got) if &got == want => {}
            Some(got) => {
                checked.lost += 1;
                stats.fail(format!(
                    "'{id}' on the server is {got:?}, the model says {want:?}"
                ));
            }
            None => {
                checked.lost += 1;
                stats.fail(format!("'{id}' ({want:?}) is missing on the server"));
            }
        }
    }
    for (id, item) in server {
        if !expected.contains_key(id) {
            checked.duplicated += 1;
            stats.fail(format!(
                "the server has '{id}' ({:?}), which the model does not",
                fields_of(item)
            ));
        }
    }
    for d in devices {
        if !d.equals_server(server).await {
            checked.diverged += 1;
        }
    }
    checked
}
