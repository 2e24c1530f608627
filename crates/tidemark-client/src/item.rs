//! The item type every part of the engine speaks in. A leaf: it imports nothing from the crate,
//! so the result and queue types built on it stay out of import circles.

use serde_json::{Map, Value};

/// An item as the engine's API takes and returns it: a JSON object.
pub type Item = Map<String, Value>;
