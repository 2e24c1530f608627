//! The server's write rules, once for every store: given the stored item a write names, the
//! write and its stamp, the item to store or the reason to refuse. Stores only load, save and
//! keep operation records around [`apply`].

use base64::Engine as _;

use super::{Change, Item, StoreError};

/// What the store decides for one write before the rules run: its `updatedAt` and its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// The write's `updatedAt`, in microseconds since the Unix epoch, from the change clock.
    pub at_us: i64,
    /// The opaque version the written item gets.
    pub version: String,
}

impl Stamp {
    /// The stamp for a write at `at_us`, with a fresh version.
    pub fn at(at_us: i64) -> Self {
        Self {
            at_us,
            version: new_version(),
        }
    }
}

/// A fresh opaque version: 8 random bytes in base64, like a SQL Server rowversion looks.
fn new_version() -> String {
    let uuid = uuid::Uuid::new_v4();
    base64::engine::general_purpose::STANDARD.encode(&uuid.as_bytes()[..8])
}

/// The item `change` leaves behind, given `existing`, the stored item with the id the change
/// names (soft-deleted or not), or `None` when there is none.
///
/// - An insert of an id that exists, even soft-deleted, is a [`StoreError::Conflict`] holding
///   the stored item; an insert naming no id gets a new UUID.
/// - Update and delete need a live item ([`StoreError::NotFound`] otherwise); undelete needs
///   an item, deleted or not.
/// - An expected version (`If-Match`) that is not the stored one is a
///   [`StoreError::PreconditionFailed`] holding the stored item.
/// - Every successful write takes the stamp's `updatedAt` and version; an insert also takes
///   it as `createdAt`.
///
/// The store saves the result with an insert when `existing` was `None`, an update otherwise.
pub fn apply(existing: Option<Item>, change: Change, stamp: Stamp) -> Result<Item, StoreError> {
    let Stamp { at_us, version } = stamp;
    let mut item = match change {
        Change::Insert(new) => {
            if let Some(existing) = existing {
                return Err(StoreError::Conflict(Box::new(existing)));
            }
            return Ok(Item {
                id: new.id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                created_at_us: at_us,
                updated_at_us: at_us,
                version,
                deleted: false,
                properties: new.properties,
            });
        }
        Change::Update {
            id,
            patch,
            expected_version,
            max_bytes,
        } => {
            let mut item = live(existing, id, expected_version)?;
            item.properties.extend(patch);
            if let Some(max) = max_bytes {
                let size = stored_size(&item.properties);
                if size > max {
                    return Err(StoreError::BadRequest(format!(
                        "item '{}' would be {size} bytes after this update; the limit is {max} \
                         bytes",
                        item.id
                    )));
                }
            }
            item
        }
        Change::Delete {
            id,
            expected_version,
        } => {
            let mut item = live(existing, id, expected_version)?;
            item.deleted = true;
            item
        }
        Change::Undelete {
            id,
            expected_version,
        } => {
            let mut item = existing.ok_or(StoreError::NotFound(id))?;
            check_version(&item, expected_version)?;
            item.deleted = false;
            item
        }
    };
    item.updated_at_us = at_us;
    item.version = version;
    Ok(item)
}

/// The size of `properties` as compact JSON, the measure of the item size limit. Counted
/// without building the text.
pub fn stored_size(properties: &serde_json::Map<String, serde_json::Value>) -> usize {
    super::item::json_len(properties)
}

/// The stored item if it is not soft-deleted and has the expected version.
fn live(existing: Option<Item>, id: String, expected: Option<String>) -> Result<Item, StoreError> {
    match existing {
        Some(item) if !item.deleted => {
            check_version(&item, expected)?;
            Ok(item)
        }
        _ => Err(StoreError::NotFound(id)),
    }
}

fn check_version(item: &Item, expected: Option<String>) -> Result<(), StoreError> {
    match expected {
        Some(v) if v != item.version => Err(StoreError::PreconditionFailed(Box::new(item.clone()))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::*;
    use crate::store::NewItem;

    const EARLIER: i64 = 1_000;
    const NOW: i64 = 5_000;

    fn props(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn stamp() -> Stamp {
        Stamp {
            at_us: NOW,
            version: "new".into(),
        }
    }

    fn stored(deleted: bool) -> Item {
        Item {
            id: "a".into(),
            created_at_us: EARLIER,
            updated_at_us: EARLIER + 1,
            version: "old".into(),
            deleted,
            properties: props(json!({"text": "milk", "n": 1})),
        }
    }

    /// The live stored item as a write leaves it: the stamp's `updatedAt` and version.
    fn restamped() -> Item {
        Item {
            updated_at_us: NOW,
            version: "new".into(),
            ..stored(false)
        }
    }

    fn insert(id: Option<&str>) -> Change {
        Change::Insert(NewItem {
            id: id.map(str::to_owned),
            properties: props(json!({"text": "bread"})),
        })
    }

    fn update(expected: Option<&str>) -> Change {
        Change::Update {
            id: "a".into(),
            patch: props(json!({"n": 2, "done": null})),
            expected_version: expected.map(str::to_owned),
            max_bytes: None,
        }
    }

    fn delete(expected: Option<&str>) -> Change {
        Change::Delete {
            id: "a".into(),
            expected_version: expected.map(str::to_owned),
        }
    }

    fn undelete(expected: Option<&str>) -> Change {
        Change::Undelete {
            id: "a".into(),
            expected_version: expected.map(str::to_owned),
        }
    }

    fn not_found(result: Result<Item, StoreError>) -> bool {
        matches!(result, Err(StoreError::NotFound(id)) if id == "a")
    }

    fn holds_stored(result: Result<Item, StoreError>, deleted: bool) -> Option<&'static str> {
        match result {
            Err(StoreError::Conflict(item)) if *item == stored(deleted) => Some("conflict"),
            Err(StoreError::PreconditionFailed(item)) if *item == stored(deleted) => {
                Some("precondition")
            }
            _ => None,
        }
    }

    #[test]
    fn an_insert_stores_a_new_item_stamped_created_and_updated() {
        let item = apply(None, insert(Some("a")), stamp());
        let expected = Item {
            id: "a".into(),
            created_at_us: NOW,
            updated_at_us: NOW,
            version: "new".into(),
            deleted: false,
            properties: props(json!({"text": "bread"})),
        };
        assert_eq!(item.ok(), Some(expected));
    }

    #[test]
    fn an_insert_without_an_id_gets_a_uuid() {
        let item = apply(None, insert(None), stamp()).ok();
        let id = item.map(|i| i.id).unwrap_or_default();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    }

    #[test]
    fn an_insert_of_an_existing_id_conflicts_even_when_it_is_deleted() {
        for deleted in [false, true] {
            let result = apply(Some(stored(deleted)), insert(Some("a")), stamp());
            assert_eq!(holds_stored(result, deleted), Some("conflict"));
        }
    }

    #[test]
    fn an_update_merges_the_patch_and_restamps_but_keeps_created_at() {
        let item = apply(Some(stored(false)), update(None), stamp());
        let expected = Item {
            properties: props(json!({"text": "milk", "n": 2, "done": null})),
            ..restamped()
        };
        assert_eq!(item.ok(), Some(expected));
    }

    #[test]
    fn an_update_may_not_grow_the_item_past_its_limit() {
        // {"text":"milk","n":2,"done":null} is 33 bytes.
        let merged = props(json!({"text": "milk", "n": 2, "done": null}));
        assert_eq!(stored_size(&merged), 33);
        let limited = |max| Change::Update {
            id: "a".into(),
            patch: props(json!({"n": 2, "done": null})),
            expected_version: None,
            max_bytes: Some(max),
        };
        assert!(apply(Some(stored(false)), limited(33), stamp()).is_ok());
        match apply(Some(stored(false)), limited(32), stamp()) {
            Err(StoreError::BadRequest(message)) => {
                assert!(
                    message.contains("33 bytes") && message.contains("limit is 32"),
                    "{message}"
                );
            }
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn update_and_delete_need_a_live_item() {
        for change in [update, delete] {
            assert!(not_found(apply(None, change(None), stamp())));
            assert!(not_found(apply(Some(stored(true)), change(None), stamp())));
        }
    }

    #[test]
    fn a_stale_expected_version_fails_with_the_stored_item() {
        for change in [update, delete, undelete] {
            let result = apply(Some(stored(false)), change(Some("stale")), stamp());
            assert_eq!(holds_stored(result, false), Some("precondition"));
        }
        let result = apply(Some(stored(true)), undelete(Some("stale")), stamp());
        assert_eq!(holds_stored(result, true), Some("precondition"));
    }

    #[test]
    fn the_current_expected_version_passes() {
        for change in [update, delete, undelete] {
            let result = apply(Some(stored(false)), change(Some("old")), stamp());
            assert_eq!(result.ok().map(|i| i.version), Some("new".to_owned()));
        }
    }

    #[test]
    fn a_delete_marks_the_item_deleted_and_restamps() {
        let item = apply(Some(stored(false)), delete(None), stamp());
        let expected = Item {
            deleted: true,
            ..restamped()
        };
        assert_eq!(item.ok(), Some(expected));
    }

    #[test]
    fn an_undelete_clears_the_flag_of_any_stored_item_and_restamps() {
        for deleted in [true, false] {
            let item = apply(Some(stored(deleted)), undelete(None), stamp());
            assert_eq!(item.ok(), Some(restamped()));
        }
        assert!(not_found(apply(None, undelete(None), stamp())));
    }

    #[test]
    fn fresh_versions_differ() {
        let (a, b) = (Stamp::at(NOW), Stamp::at(NOW));
        assert_ne!(a.version, b.version);
        assert_eq!(a.at_us, NOW);
    }
}
