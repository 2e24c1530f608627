//! Operation records, the part both stores share: what a record holds, how a retry is matched
//! against it, and when and how far records are pruned. The stores only run the SQL.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tidemark_protocol::headers::OperationTag;

use super::{Item, StoreError, WriteKind};

/// How long operation records are kept and how often they are pruned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationRetention {
    /// Records older than this are pruned (default 7 days).
    pub max_age: Duration,
    /// At most this many records are kept per table, the newest (default 100 000).
    pub max_per_table: u64,
    /// Pruning runs on every this many tagged writes of this process (default 256), so its
    /// cost is spread thin.
    pub prune_every: u32,
}

impl Default for OperationRetention {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(7 * 24 * 60 * 60),
            max_per_table: 100_000,
            prune_every: 256,
        }
    }
}

impl OperationRetention {
    /// What a prune at `now_us` drops: records before `cutoff_us`, and all but the newest `keep`.
    pub(crate) fn bounds(&self, now_us: i64) -> PruneBounds {
        let max_age_us = i64::try_from(self.max_age.as_micros()).unwrap_or(i64::MAX);
        PruneBounds {
            cutoff_us: now_us.saturating_sub(max_age_us),
            keep: i64::try_from(self.max_per_table).unwrap_or(i64::MAX),
        }
    }
}

/// The limits of one prune of one table's records (see [`OperationRetention::bounds`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PruneBounds {
    /// Records recorded before this are dropped.
    pub cutoff_us: i64,
    /// Only the newest this many records are kept.
    pub keep: i64,
}

/// Counts a store's tagged writes to tell which of them prunes.
#[derive(Debug, Default)]
pub(crate) struct PruneSchedule(AtomicU32);

impl PruneSchedule {
    /// Counts one tagged write; true when it is the one in `every` that prunes.
    pub(crate) fn tick(&self, every: u32) -> bool {
        let n = self.0.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        n.is_multiple_of(every.max(1))
    }
}

/// One operation record as both stores keep it (`operations` table, one row).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OperationRecord {
    /// The tag's operation id.
    pub operation_id: String,
    /// The tag's version as the signed 64-bit column holds it (see [`op_version`]).
    pub op_version: i64,
    /// The write's kind ([`WriteKind::as_str`]).
    pub kind: &'static str,
    /// The written item's id.
    pub item_id: String,
    /// The written item, serialised: the outcome a retry gets back.
    pub outcome: String,
    /// The write's stamp.
    pub recorded_at: i64,
}

impl OperationRecord {
    /// The record of a successful write of `item` tagged `tag`.
    pub(crate) fn of(
        tag: &OperationTag,
        kind: WriteKind,
        item: &Item,
        stamp: i64,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            operation_id: tag.operation_id.clone(),
            op_version: op_version(tag),
            kind: kind.as_str(),
            item_id: item.id.clone(),
            outcome: serde_json::to_string(item).map_err(StoreError::internal)?,
            recorded_at: stamp,
        })
    }
}

/// What a store read back for a tag: the recorded kind, item id and outcome.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RecordedWrite {
    /// The kind the tag was recorded for.
    pub kind: String,
    /// The item the tag's write wrote.
    pub item_id: String,
    /// The serialised item the write stored.
    pub outcome: String,
}

impl RecordedWrite {
    /// The outcome to answer a retry of `tag` (a write of `kind` naming `item_id`) with; a
    /// [`StoreError::BadRequest`] when the retry is not the same write.
    pub(crate) fn replay(
        self,
        tag: &OperationTag,
        kind: WriteKind,
        item_id: Option<&str>,
    ) -> Result<Item, StoreError> {
        let RecordedWrite {
            kind: recorded_kind,
            item_id: recorded_id,
            outcome,
        } = self;
        // An insert naming no id matches any recorded id: the server made it.
        if recorded_kind != kind.as_str() || item_id.is_some_and(|id| id != recorded_id) {
            return Err(StoreError::BadRequest(format!(
                "operation {tag} was already applied as a {recorded_kind} of item \
                 '{recorded_id}'; a retry must repeat the same write"
            )));
        }
        serde_json::from_str(&outcome).map_err(StoreError::internal)
    }
}

/// The tag's version as stored: both databases' integers are signed, so versions beyond
/// `i64::MAX` are stored as their bit pattern.
pub(crate) fn op_version(tag: &OperationTag) -> i64 {
    tag.version as i64
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;

    fn item(id: &str) -> Item {
        Item {
            id: id.into(),
            created_at_us: 1,
            updated_at_us: 2,
            version: "v".into(),
            deleted: false,
            properties: Map::new(),
        }
    }

    fn recorded(kind: WriteKind, id: &str) -> RecordedWrite {
        let tag = OperationTag::new("op", 1);
        let record = OperationRecord::of(&tag, kind, &item(id), 2);
        let record = record.unwrap_or_else(|e| panic!("{e}"));
        RecordedWrite {
            kind: record.kind.to_owned(),
            item_id: record.item_id,
            outcome: record.outcome,
        }
    }

    #[test]
    fn a_record_replays_the_same_write_with_the_stored_item() {
        let tag = OperationTag::new("op", 1);
        let same = recorded(WriteKind::Update, "a").replay(&tag, WriteKind::Update, Some("a"));
        assert_eq!(same.ok(), Some(item("a")));
        // An insert that named no id was given one by the server: any id matches.
        let made = recorded(WriteKind::Insert, "u").replay(&tag, WriteKind::Insert, None);
        assert_eq!(made.ok(), Some(item("u")));
    }

    #[test]
    fn a_tag_reused_for_another_write_is_a_bad_request() {
        let tag = OperationTag::new("op", 1);
        let other_item =
            recorded(WriteKind::Update, "a").replay(&tag, WriteKind::Update, Some("b"));
        let other_kind =
            recorded(WriteKind::Update, "a").replay(&tag, WriteKind::Delete, Some("a"));
        for result in [other_item, other_kind] {
            assert!(
                matches!(result, Err(StoreError::BadRequest(_))),
                "{result:?}"
            );
        }
    }

    #[test]
    fn versions_beyond_i64_keep_their_bit_pattern() {
        assert_eq!(op_version(&OperationTag::new("op", u64::MAX)), -1);
        assert_eq!(op_version(&OperationTag::new("op", 7)), 7);
    }

    #[test]
    fn prune_bounds_saturate() {
        let retention = OperationRetention {
            max_age: Duration::from_secs(2),
            max_per_table: u64::MAX,
            prune_every: 1,
        };
        let bounds = retention.bounds(5_000_000);
        assert_eq!(bounds.cutoff_us, 3_000_000);
        assert_eq!(bounds.keep, i64::MAX);
        let forever = OperationRetention {
            max_age: Duration::MAX,
            ..OperationRetention::default()
        };
        assert_eq!(forever.bounds(0).cutoff_us, -i64::MAX);
    }

    #[test]
    fn the_schedule_prunes_on_every_nth_tagged_write() {
        let schedule = PruneSchedule::default();
        let due: Vec<bool> = (0..6).map(|_| schedule.tick(3)).collect();
        assert_eq!(due, [false, false, true, false, false, true]);
        assert!(PruneSchedule::default().tick(0), "0 means every write");
    }
}
