//! The exact model a soak is checked against: which user each device signs in as, which items
//! each device owns, what each user's shared items must hold, and the final comparison of each
//! user's server rows with that user's model, of every device with its user's rows, and the
//! proof that no row crossed from one user to another.

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

/// The user device `device` signs in as (devices are dealt to users in turn).
pub(crate) fn user_of(device: usize, users: usize) -> usize {
    device % users.max(1)
}

/// The device that wrote a value (values are `d<device>:<n>`), `None` for the seed.
pub(crate) fn writer_of(text: &str) -> Option<usize> {
    text.strip_prefix('d')?.split(':').next()?.parse().ok()
}

/// The device that owns an item (ids `d<device>-<n>`), `None` for shared items.
fn owner_of(id: &str) -> Option<usize> {
    id.strip_prefix('d')?.split('-').next()?.parse().ok()
}

/// The rows `user` sees on the server that belong to another user: an item owned by a device
/// of another user, or values written by one. One message per crossed row.
pub(crate) fn crossed_rows(
    user: usize,
    users: usize,
    rows: &BTreeMap<String, Item>,
) -> Vec<String> {
    rows.iter()
        .filter_map(|(id, item)| {
            let (text, _, _) = fields_of(item);
            let device = [owner_of(id), writer_of(&text)]
                .into_iter()
                .flatten()
                .find(|d| user_of(*d, users) != user)?;
            Some(format!(
                "user {user} sees '{id}' ({text}) of device {device}, a device of user {} (crossed)",
                user_of(device, users)
            ))
        })
        .collect()
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

/// Creates a user's shared items on the server (through that user's session) before any
/// device exists: every user gets the same ids, so a row crossing users would show.
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

/// Every live row of the server the table's session sees, by id.
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
    /// Devices whose rows differ from their user's server rows.
    pub(crate) diverged: u64,
    /// Rows a user sees that belong to another user (items or values of another user's device).
    pub(crate) crossed: u64,
}

/// Compares each user's server rows (`servers[user]`, read with that user's session) with the
/// model of that user, every device with its user's rows, and proves no row crossed users.
pub(crate) async fn check(
    config: &SoakConfig,
    devices: &[SimDevice],
    servers: &[BTreeMap<String, Item>],
    stats: &Stats,
) -> Checked {
    let mut checked = Checked {
        lost: 0,
        duplicated: 0,
        diverged: 0,
        crossed: 0,
    };
    for (user, server) in servers.iter().enumerate() {
        for crossed in crossed_rows(user, config.users, server) {
            checked.crossed += 1;
            stats.fail(crossed);
        }
        let expected = expected_rows(config, user, devices, stats);
        compare_with_model(user, &expected, server, stats, &mut checked);
    }
    for d in devices {
        let Some(server) = servers.get(d.user()) else {
            stats.fail(format!("device {}: its user has no rows", d.number()));
            checked.diverged += 1;
            continue;
        };
        if !d.equals_server(server).await {
            checked.diverged += 1;
        }
    }
    checked
}

/// What `user`'s rows must be: the union of the models of that user's devices, plus that user's
/// shared items holding their last acknowledged write (or the seed).
fn expected_rows(
    config: &SoakConfig,
    user: usize,
    devices: &[SimDevice],
    stats: &Stats,
) -> BTreeMap<String, Fields> {
    let mut expected: BTreeMap<String, Fields> = BTreeMap::new();
    for d in devices.iter().filter(|d| d.user() == user) {
        expected.extend(d.model().iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let acks = stats
        .shared_acks
        .lock()
        .map(|a| a.clone())
        .unwrap_or_default();
    for k in 0..config.shared_items {
        let id = shared_id(k);
        let last = acks.get(&(user, id.clone())).and_then(|writes| {
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
    expected
}

/// Counts `user`'s items of the model missing or different on the server (lost) and server rows
/// the model does not have (duplicated).
fn compare_with_model(
    user: usize,
    expected: &BTreeMap<String, Fields>,
    server: &BTreeMap<String, Item>,
    stats: &Stats,
    checked: &mut Checked,
) {
    for (id, want) in expected {
        match server.get(id).map(fields_of) {
            Some(got) if &got == want => {}
            Some(got) => {
                checked.lost += 1;
                stats.fail(format!(
                    "user {user}: '{id}' on the server is {got:?}, the model says {want:?}"
                ));
            }
            None => {
                checked.lost += 1;
                stats.fail(format!(
                    "user {user}: '{id}' ({want:?}) is missing on the server"
                ));
            }
        }
    }
    for (id, item) in server {
        if !expected.contains_key(id) {
            checked.duplicated += 1;
            stats.fail(format!(
                "user {user}: the server has '{id}' ({:?}), which the model does not",
                fields_of(item)
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows with these (id, text) pairs.
    fn rows(pairs: &[(&str, &str)]) -> BTreeMap<String, Item> {
        pairs
            .iter()
            .map(|(id, text)| {
                let mut item = Item::new();
                item.insert(system::ID.into(), Value::String((*id).into()));
                item.insert("text".into(), Value::String((*text).into()));
                ((*id).to_owned(), item)
            })
            .collect()
    }

    /// The one crossed row `user` sees among `pairs` (with two users).
    fn the_crossed_row(user: usize, pairs: &[(&str, &str)]) -> String {
        let crossed = crossed_rows(user, 2, &rows(pairs));
        assert_eq!(crossed.len(), 1, "{crossed:?}");
        crossed.into_iter().next().unwrap_or_default()
    }

    #[test]
    fn devices_are_dealt_to_users_in_turn() {
        assert_eq!(
            (0..5).map(|d| user_of(d, 2)).collect::<Vec<_>>(),
            [0, 1, 0, 1, 0]
        );
        assert_eq!(user_of(3, 0), 0, "no users is taken as one");
    }

    #[test]
    fn a_user_s_own_rows_and_the_seed_do_not_cross() {
        // Two users: even devices are user 0's, odd ones user 1's.
        let own = rows(&[
            ("d000-1", "d002:4"),
            ("d002-7", "d002:9"),
            ("shared-0", SEED_TEXT),
            ("shared-1", "d004:3"),
        ]);
        assert!(crossed_rows(0, 2, &own).is_empty());
    }

    #[test]
    fn a_row_of_another_user_s_device_is_crossed() {
        let crossed = the_crossed_row(0, &[("d000-1", "d000:1"), ("d001-3", "d001:2")]);
        assert!(crossed.contains("'d001-3'"), "{crossed}");
        assert!(crossed.contains("user 1"), "{crossed}");
    }

    #[test]
    fn a_shared_value_written_by_another_user_s_device_is_crossed() {
        // Same ids for every user: only the writer of the value tells whose it is.
        let crossed = the_crossed_row(0, &[("shared-0", "d003:5"), ("shared-1", "d002:1")]);
        assert!(crossed.contains("'shared-0'"), "{crossed}");
        // Seen by user 1, the same row is its own.
        assert!(crossed_rows(1, 2, &rows(&[("shared-0", "d003:5")])).is_empty());
    }

    #[test]
    fn an_own_id_holding_another_user_s_value_is_crossed() {
        let crossed = the_crossed_row(0, &[("d000-1", "d001:1")]);
        assert!(crossed.contains("device 1"), "{crossed}");
    }

    #[test]
    fn with_one_user_nothing_crosses() {
        let all = rows(&[("d001-3", "d005:2"), ("shared-0", "d007:1")]);
        assert!(crossed_rows(0, 1, &all).is_empty());
    }
}
