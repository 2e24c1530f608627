//! The system properties every table item carries (`id`, `createdAt`, `updatedAt`, `version`,
//! `deleted`), and the rules about which of them a client may send.

use serde_json::{Map, Value};

/// The item's identifier (a string of 1–255 characters).
pub const ID: &str = "id";
/// When the server first stored the item (ISO-8601 UTC).
pub const CREATED_AT: &str = "createdAt";
/// When the server last wrote the item, soft delete included (ISO-8601 UTC).
pub const UPDATED_AT: &str = "updatedAt";
/// The opaque version string that changes on every write (the ETag's content).
pub const VERSION: &str = "version";
/// Whether the item is soft-deleted.
pub const DELETED: &str = "deleted";
/// All system property names, in the order the protocol documents them.
pub const SYSTEM_PROPERTIES: [&str; 5] = [ID, CREATED_AT, UPDATED_AT, VERSION, DELETED];
/// The longest id the protocol accepts, in characters.
pub const MAX_ID_LEN: usize = 255;

/// The properties only the server may set: a body that names one of them is rejected.
const SERVER_ONLY: [&str; 3] = [CREATED_AT, UPDATED_AT, DELETED];
/// The properties a client strips before pushing: the server owns them, and `version` travels
/// in `If-Match` instead.
const STRIPPED_FOR_PUSH: [&str; 4] = [CREATED_AT, UPDATED_AT, DELETED, VERSION];
/// Characters that would break URLs or the stock servers' storage keys.
const FORBIDDEN_ID_CHARS: [char; 5] = ['"', '+', '?', '\\', '/'];

/// True when `name` is one of the five system properties, compared case-insensitively.
pub fn is_system_property(name: &str) -> bool {
    SYSTEM_PROPERTIES
        .iter()
        .any(|p| p.eq_ignore_ascii_case(name))
}

/// The first key of `obj` that only the server may set (`createdAt`, `updatedAt`, `deleted`,
/// compared case-insensitively), if any.
pub fn reserved_property(obj: &Map<String, Value>) -> Option<&str> {
    obj.keys()
        .find(|k| SERVER_ONLY.iter().any(|p| p.eq_ignore_ascii_case(k)))
        .map(String::as_str)
}

/// Removes `createdAt`, `updatedAt`, `deleted` and `version` (any case) from `obj`, leaving the
/// body a client may push.
pub fn strip_system_properties(obj: &mut Map<String, Value>) {
    obj.retain(|k, _| !STRIPPED_FOR_PUSH.iter().any(|p| p.eq_ignore_ascii_case(k)));
}

/// Why an id is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The id is the empty string.
    #[error("id must not be empty")]
    Empty,
    /// The id has more than [`MAX_ID_LEN`] characters.
    #[error("id is {length} characters long; at most {MAX_ID_LEN} are allowed")]
    TooLong {
        /// Its length in characters.
        length: usize,
    },
    /// The id contains a control character.
    #[error("id contains a control character at position {position}")]
    ControlCharacter {
        /// The character offset of the first one.
        position: usize,
    },
    /// The id contains one of `" + ? \ /`.
    #[error("id contains the forbidden character '{character}' at position {position}")]
    ForbiddenCharacter {
        /// The character.
        character: char,
        /// Its character offset.
        position: usize,
    },
    /// The id is `.` or `..`, which URL normalisation would swallow.
    #[error("id must not be '.' or '..'")]
    DotSegment,
}

/// Checks an item id against the protocol's rules: 1–255 characters, no control characters,
/// none of `" + ? \ /`, and not `.` or `..`.
pub fn validate_id(id: &str) -> Result<(), IdError> {
    if id.is_empty() {
        return Err(IdError::Empty);
    }
    if id == "." || id == ".." {
        return Err(IdError::DotSegment);
    }
    let mut length = 0;
    for (position, character) in id.chars().enumerate() {
        if character.is_control() {
            return Err(IdError::ControlCharacter { position });
        }
        if FORBIDDEN_ID_CHARS.contains(&character) {
            return Err(IdError::ForbiddenCharacter {
                character,
                position,
            });
        }
        length += 1;
    }
    if length > MAX_ID_LEN {
        return Err(IdError::TooLong { length });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn system_properties_are_recognised_in_any_case() {
        assert!(is_system_property("updatedAt"));
        assert!(is_system_property("UPDATEDAT"));
        assert!(is_system_property("Id"));
        assert!(!is_system_property("text"));
        assert!(!is_system_property("updated"));
    }

    #[test]
    fn reserved_property_finds_server_only_names() {
        let body = object(json!({"text": "milk", "CreatedAt": "2024-01-01T00:00:00Z"}));
        assert_eq!(reserved_property(&body), Some("CreatedAt"));
        let body = object(json!({"deleted": false}));
        assert_eq!(reserved_property(&body), Some("deleted"));
    }

    #[test]
    fn id_and_version_are_not_reserved() {
        let body = object(json!({"id": "a", "version": "AAAA", "text": "x"}));
        assert_eq!(reserved_property(&body), None);
    }

    #[test]
    fn strip_keeps_id_and_user_fields() {
        let mut body = object(json!({
            "id": "a", "text": "x", "Version": "v", "createdAt": 1, "UPDATEDAT": 2, "deleted": false
        }));
        strip_system_properties(&mut body);
        assert_eq!(Value::Object(body), json!({"id": "a", "text": "x"}));
    }

    #[test]
    fn ordinary_ids_are_valid() {
        assert_eq!(validate_id("a"), Ok(()));
        assert_eq!(validate_id("0f8fad5b-d9cb-469f-a165-70867728950e"), Ok(()));
        assert_eq!(validate_id("état ünïcode"), Ok(()));
        assert_eq!(validate_id("..."), Ok(()));
        assert_eq!(validate_id(&"x".repeat(255)), Ok(()));
    }

    #[test]
    fn empty_and_long_ids_are_rejected() {
        assert_eq!(validate_id(""), Err(IdError::Empty));
        assert_eq!(
            validate_id(&"é".repeat(256)),
            Err(IdError::TooLong { length: 256 })
        );
    }

    #[test]
    fn forbidden_characters_are_rejected_with_their_position() {
        for c in ['"', '+', '?', '\\', '/'] {
            let id = format!("ab{c}");
            assert_eq!(
                validate_id(&id),
                Err(IdError::ForbiddenCharacter {
                    character: c,
                    position: 2
                })
            );
        }
        assert_eq!(
            validate_id("a\u{7}"),
            Err(IdError::ControlCharacter { position: 1 })
        );
        assert_eq!(
            validate_id("a\u{85}"),
            Err(IdError::ControlCharacter { position: 1 })
        );
    }

    #[test]
    fn dot_segments_are_rejected() {
        assert_eq!(validate_id("."), Err(IdError::DotSegment));
        assert_eq!(validate_id(".."), Err(IdError::DotSegment));
    }

    #[test]
    fn id_errors_say_what_is_wrong() {
        let msg = validate_id("a/b").map_err(|e| e.to_string());
        assert_eq!(
            msg,
            Err("id contains the forbidden character '/' at position 1".to_string())
        );
    }
}
