//! Reading a query's answer row by row. The page's envelope is read with each row left as raw
//! JSON text, and then every row on its own: a row that cannot be read (nested too deep, not an
//! object, without a valid id) is reported as an [`UnreadableItem`] and the others still come
//! down. One poison row on the server must never block every pull of every device.

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use tidemark_protocol::system;

use crate::error::{ClientError, Result};
use crate::item::Item;
use crate::results::UnreadableItem;

/// The deepest nesting of a row the engine reads (the row's own object is level 1). The server
/// refuses to store items nested deeper than 32; twice that leaves room for stock servers and
/// still keeps every stored row far below serde_json's recursion limit (128) even when it is
/// sent again inside a batch or a page envelope.
pub const MAX_ITEM_DEPTH: usize = 64;

/// One page of a query's results.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryPage {
    /// The rows of this page that could be read, in the server's order.
    pub items: Vec<Item>,
    /// The rows of this page that could not be read (see [`UnreadableItem`]).
    pub unreadable: Vec<UnreadableItem>,
    /// The total count, when `$inlinecount=allpages` was asked.
    pub count: Option<u64>,
    /// The URL of the next page (`Link: <…>; rel=next`), when the server says there is one.
    pub next_link: Option<String>,
}

impl QueryPage {
    /// How many rows the server sent in this page, unreadable ones included: paging by `$skip`
    /// and the end-of-paging test count what the server sent, not what could be read.
    pub fn rows(&self) -> u64 {
        (self.items.len() + self.unreadable.len()) as u64
    }
}

/// The object form of a page: `{"results": […], "count": n}`. Unknown members are skipped
/// without being parsed (serde_json skips them without recursion).
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    results: Option<Vec<&'a RawValue>>,
    #[serde(borrow)]
    count: Option<&'a RawValue>,
}

/// The members of a row that an unreadable row is reported with, read without parsing the
/// rest of it.
#[derive(Deserialize)]
struct Shallow<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow, rename = "updatedAt")]
    updated_at: Option<&'a RawValue>,
    #[serde(borrow)]
    version: Option<&'a RawValue>,
    #[serde(borrow)]
    deleted: Option<&'a RawValue>,
}

/// Reads a page's body: a JSON array of rows, or an object with a `results` array. A body that
/// is neither is an error for the whole page; a row that cannot be read is not.
pub(super) fn parse_page(body: &str, next_link: Option<String>) -> Result<QueryPage> {
    let not_json = |e: serde_json::Error| ClientError::protocol(format!("query result: {e}"));
    let (rows, count) = match body.trim_start().as_bytes().first() {
        Some(b'[') => (
            serde_json::from_str::<Vec<&RawValue>>(body).map_err(not_json)?,
            None,
        ),
        Some(b'{') => {
            let envelope: Envelope<'_> = serde_json::from_str(body).map_err(not_json)?;
            let rows = envelope
                .results
                .ok_or_else(|| ClientError::protocol("query result has no 'results' array"))?;
            let count = envelope
                .count
                .and_then(|c| serde_json::from_str::<u64>(c.get()).ok());
            (rows, count)
        }
        _ => {
            return Err(ClientError::protocol(
                "query result is neither array nor object",
            ));
        }
    };
    let mut items = Vec::with_capacity(rows.len());
    let mut unreadable = Vec::new();
    for (position, raw) in rows.into_iter().enumerate() {
        match read_row(raw.get()) {
            Ok(item) => items.push(item),
            Err(reason) => unreadable.push(unreadable_row(position, raw.get(), reason)),
        }
    }
    Ok(QueryPage {
        items,
        unreadable,
        count,
        next_link,
    })
}

/// One row as an item, or why it cannot be one.
fn read_row(text: &str) -> std::result::Result<Item, String> {
    let depth = nesting_depth(text);
    if depth > MAX_ITEM_DEPTH {
        return Err(format!(
            "it is nested {depth} levels deep; the engine reads at most {MAX_ITEM_DEPTH}"
        ));
    }
    let item = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(item)) => item,
        Ok(_) => return Err("it is not a JSON object".into()),
        Err(e) => return Err(format!("it cannot be read: {e}")),
    };
    match item.get(system::ID) {
        None => return Err("it has no id".into()),
        Some(Value::String(id)) => {
            system::validate_id(id).map_err(|e| format!("invalid id: {e}"))?;
        }
        Some(_) => return Err("its id is not a string".into()),
    }
    Ok(item)
}

/// The report of an unreadable row: its id and `updatedAt` when they can be read at all.
fn unreadable_row(position: usize, text: &str, reason: String) -> UnreadableItem {
    let shallow = serde_json::from_str::<Shallow<'_>>(text).ok();
    let string = |raw: Option<&RawValue>| raw.and_then(|r| serde_json::from_str(r.get()).ok());
    let (id, updated_at, version) = match shallow {
        Some(s) => {
            let deleted = s
                .deleted
                .and_then(|r| serde_json::from_str::<bool>(r.get()).ok())
                .unwrap_or(false);
            let version = if deleted { None } else { string(s.version) };
            (string(s.id), string(s.updated_at), version)
        }
        None => (None, None, None),
    };
    UnreadableItem {
        id,
        position,
        updated_at,
        version,
        reason,
    }
}

/// The deepest nesting of arrays and objects in a JSON text, counted without recursion (so a
/// row nested a million deep costs one pass, not the stack).
fn nesting_depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for byte in text.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> String {
        format!(
            r#"{{"id":"deep","updatedAt":"2024-01-01T00:00:00.000Z","d":{}1{}}}"#,
            "[".repeat(levels),
            "]".repeat(levels)
        )
    }

    #[test]
    fn depth_is_counted_outside_strings_only() {
        assert_eq!(nesting_depth(r#"{"a":[1,{"b":"[[[{{"}]}"#), 3);
        assert_eq!(nesting_depth(r#"{"a":"\"[["}"#), 1);
        assert_eq!(nesting_depth("1"), 0);
    }

    #[test]
    fn a_row_too_deep_is_reported_with_its_id_and_the_others_are_kept() {
        let body = format!(
            r#"{{"results":[{{"id":"a"}},{},{{"id":"b"}}],"count":3}}"#,
            nested(1000)
        );
        let page = parse_page(&body, None).map_err(|e| e.to_string());
        let Ok(page) = page else {
            panic!("the page must be read: {page:?}");
        };
        let ids: Vec<_> = page.items.iter().filter_map(|i| i.get("id")).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(page.count, Some(3));
        assert_eq!(page.rows(), 3);
        assert_eq!(page.unreadable.len(), 1);
        let bad = &page.unreadable[0];
        assert_eq!(bad.id.as_deref(), Some("deep"));
        assert_eq!(bad.position, 1);
        assert_eq!(bad.updated_at.as_deref(), Some("2024-01-01T00:00:00.000Z"));
        assert!(bad.reason.contains("1001 levels"), "{}", bad.reason);
    }

    #[test]
    fn the_depth_limit_itself_is_read() {
        // The row object is level 1, `d` holds the rest.
        let page = parse_page(&format!("[{}]", nested(MAX_ITEM_DEPTH - 1)), None);
        assert!(page.is_ok_and(|p| p.items.len() == 1 && p.unreadable.is_empty()));
        let page = parse_page(&format!("[{}]", nested(MAX_ITEM_DEPTH)), None);
        assert!(page.is_ok_and(|p| p.items.is_empty() && p.unreadable.len() == 1));
    }

    #[test]
    fn rows_without_a_valid_id_are_reported_not_fatal() {
        let body = r#"[{"id":"ok"},{"id":"../x"},{"id":"a\u001b[2J"},{"id":""},{"text":"no id"},
            {"id":7},3,{"id":"ok2"}]"#;
        let Ok(page) = parse_page(body, None) else {
            panic!("the page must be read");
        };
        assert_eq!(page.items.len(), 2);
        let bad: Vec<_> = page
            .unreadable
            .iter()
            .map(|u| (u.position, u.id.clone()))
            .collect();
        assert_eq!(
            bad,
            [
                (1, Some("../x".to_string())),
                (2, Some("a\u{1b}[2J".to_string())),
                (3, Some(String::new())),
                (4, None),
                (5, None),
                (6, None),
            ]
        );
        assert!(page.unreadable[1].to_string().contains(r"\u{1b}"));
        assert!(!page.unreadable[1].to_string().contains('\u{1b}'));
    }

    #[test]
    fn a_body_that_is_not_a_page_is_an_error() {
        for body in ["", "3", r#"{"count":1}"#, "[1,", "{\"results\":[}"] {
            assert!(
                matches!(parse_page(body, None), Err(ClientError::Protocol { .. })),
                "{body}"
            );
        }
    }
}
