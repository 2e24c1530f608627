//! A stored item: its system properties as typed fields and its user properties as JSON, and
//! its wire form.

use serde::ser::SerializeMap as _;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};
use tidemark_protocol::{date, system};

/// An item as stored: system properties plus the user's JSON properties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The id.
    pub id: String,
    /// When it was first stored, in microseconds since the Unix epoch.
    pub created_at_us: i64,
    /// When it was last written, in microseconds since the Unix epoch (the change clock).
    pub updated_at_us: i64,
    /// The opaque version, new on every write.
    pub version: String,
    /// Whether it is soft-deleted.
    pub deleted: bool,
    /// The user properties.
    pub properties: Map<String, Value>,
}

impl Item {
    /// The item as the protocol sends it: user properties plus the five system properties.
    pub fn to_json(&self) -> Value {
        let mut obj = self.properties.clone();
        obj.insert(system::ID.into(), Value::String(self.id.clone()));
        obj.insert(
            system::CREATED_AT.into(),
            Value::String(format_micros(self.created_at_us)),
        );
        obj.insert(
            system::UPDATED_AT.into(),
            Value::String(format_micros(self.updated_at_us)),
        );
        obj.insert(system::VERSION.into(), Value::String(self.version.clone()));
        obj.insert(system::DELETED.into(), Value::Bool(self.deleted));
        Value::Object(obj)
    }

    /// The item's wire form as a [`Serialize`] view: the same JSON object as [`Item::to_json`],
    /// written straight from the fields, without building (and cloning into) a map per item.
    pub fn wire(&self) -> WireItem<'_> {
        WireItem(self)
    }

    /// The length in bytes of the item's wire form, counted without keeping it.
    pub fn wire_len(&self) -> usize {
        json_len(&self.wire())
    }
}

/// The length in bytes of `value` as compact JSON, counted without building the text.
pub(crate) fn json_len(value: &impl Serialize) -> usize {
    /// An `io::Write` that only counts what it is given.
    struct ByteCounter(usize);

    impl std::io::Write for ByteCounter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 = self.0.saturating_add(buf.len());
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    let mut counter = ByteCounter(0);
    // A counter never fails to take bytes, and what is measured here (items, their property
    // maps) always serialises: its keys are strings. So the result says nothing the count
    // does not.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// The protocol's JSON form of a borrowed [`Item`] (see [`Item::wire`]).
///
/// Pages of a thousand items are serialised through it, so it writes the user properties and
/// then the five system properties directly. A user property named exactly like a system
/// property is left out, as [`Item::to_json`] overwrites it: a JSON object must not repeat a
/// key. Key order differs from `to_json` (which is sorted); the protocol does not fix it.
#[derive(Debug, Clone, Copy)]
pub struct WireItem<'a>(&'a Item);

impl Serialize for WireItem<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let item = self.0;
        let is_system = |key: &str| system::SYSTEM_PROPERTIES.contains(&key);
        let user = item.properties.iter().filter(|(k, _)| !is_system(k));
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in user {
            map.serialize_entry(key, value)?;
        }
        map.serialize_entry(system::ID, &item.id)?;
        map.serialize_entry(system::CREATED_AT, &format_micros(item.created_at_us))?;
        map.serialize_entry(system::UPDATED_AT, &format_micros(item.updated_at_us))?;
        map.serialize_entry(system::VERSION, &item.version)?;
        map.serialize_entry(system::DELETED, &item.deleted)?;
        map.end()
    }
}

/// Serialises a slice of items as a JSON array of their wire forms.
#[derive(Debug, Clone, Copy)]
pub struct WireItems<'a>(pub &'a [Item]);

impl Serialize for WireItems<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(Item::wire))
    }
}

/// `serialize_with` helper for an optional item sent in its wire form.
pub fn serialize_wire_option<S: Serializer>(
    item: &Option<Item>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match item {
        Some(item) => serializer.serialize_some(&item.wire()),
        None => serializer.serialize_none(),
    }
}

/// Formats a microsecond timestamp as the protocol's date string (6 fractional digits, `Z`).
fn format_micros(us: i64) -> String {
    match date::from_micros(us) {
        Some(instant) => date::format_date(&instant),
        // Out-of-range timestamps cannot come from our clock; emit the epoch rather than panic.
        None => date::format_date(&chrono::DateTime::UNIX_EPOCH),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(properties: Value, deleted: bool) -> Item {
        Item {
            id: "a\"b\u{e9}".into(),
            created_at_us: 1_714_557_600_123_456,
            updated_at_us: 1_714_557_600_999_999,
            version: "AAAAAAAAB9E=".into(),
            deleted,
            properties: properties.as_object().cloned().unwrap_or_default(),
        }
    }

    /// The wire view must read back as exactly the value `to_json` builds.
    fn assert_same(item: &Item) {
        let text = serde_json::to_string(&item.wire()).expect("serialises");
        let parsed: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(parsed, item.to_json(), "{text}");
        assert_eq!(serde_json::to_value(item.wire()).ok(), Some(item.to_json()));
    }

    #[test]
    fn the_wire_view_equals_to_json() {
        assert_same(&item(json!({}), false));
        assert_same(&item(
            json!({"text": "milk", "complete": true, "n": 1.5}),
            true,
        ));
        assert_same(&item(
            json!({"nested": {"id": "inner", "a": [1, null, {"deleted": 1}]}, "": "empty key",
                   "emoji \u{1f600}": "\u{0}\n\"", "big": 18_446_744_073_709_551_615u64}),
            false,
        ));
    }

    #[test]
    fn user_properties_named_like_system_ones_are_replaced_not_repeated() {
        let odd = item(
            json!({"id": "spoof", "createdAt": 1, "updatedAt": null, "version": "x",
                   "deleted": "no", "text": "t"}),
            false,
        );
        assert_same(&odd);
        let text = serde_json::to_string(&odd.wire()).expect("serialises");
        assert_eq!(text.matches("\"id\"").count(), 1, "{text}");
        assert_eq!(text.matches("\"deleted\"").count(), 1, "{text}");
    }

    #[test]
    fn other_cases_of_system_names_stay_user_properties() {
        // `to_json` only overwrites exact names, so `ID` and `Deleted` are sent as they are.
        assert_same(&item(
            json!({"ID": "upper", "Deleted": true, "VERSION": 3}),
            true,
        ));
    }

    #[test]
    fn out_of_range_stamps_are_written_as_the_epoch() {
        let mut odd = item(json!({}), false);
        odd.created_at_us = i64::MIN;
        odd.updated_at_us = i64::MAX;
        assert_same(&odd);
    }

    #[test]
    fn wire_len_is_the_length_of_the_wire_form() {
        let odd = item(
            json!({"text": "caf\u{e9} \"q\"", "n": [1, 2.5, null]}),
            true,
        );
        let text = serde_json::to_string(&odd.wire()).expect("serialises");
        assert_eq!(odd.wire_len(), text.len());
    }

    #[test]
    fn a_slice_is_an_array_of_wire_forms() {
        let items = [item(json!({"a": 1}), false), item(json!({"id": 2}), true)];
        let expected = Value::Array(items.iter().map(Item::to_json).collect());
        assert_eq!(serde_json::to_value(WireItems(&items)).ok(), Some(expected));
        assert_eq!(serde_json::to_value(WireItems(&[])).ok(), Some(json!([])));
    }
}
