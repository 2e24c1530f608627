//! A stored item: its system properties as typed fields and its user properties as JSON, and
//! its wire form.

use serde::{Deserialize, Serialize};
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
}

/// Formats a microsecond timestamp as the protocol's date string (6 fractional digits, `Z`).
fn format_micros(us: i64) -> String {
    match date::from_micros(us) {
        Some(instant) => date::format_date(&instant),
        // Out-of-range timestamps cannot come from our clock; emit the epoch rather than panic.
        None => date::format_date(&chrono::DateTime::UNIX_EPOCH),
    }
}
