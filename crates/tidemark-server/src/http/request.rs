//! Reading the parts of a request the protocol gives meaning to: item bodies, ids, `If-Match`,
//! the operation tag, raw query parameters, and the `Link` to the next page.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use serde_json::{Map, Value};
use tidemark_protocol::etag::{IfMatch, parse_if_match};
use tidemark_protocol::headers::{API_VERSION_QUERY, OPERATION_HEADER, OperationTag};
use tidemark_protocol::odata::TableQuery;
use tidemark_protocol::system;

use crate::error::ApiError;
use crate::store::rules::stored_size;

/// The body of a request as bytes, with limit and read failures mapped to our errors.
pub fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(rejection.body_text())
        } else {
            ApiError::BadRequest(format!(
                "could not read the body: {}",
                rejection.body_text()
            ))
        }
    })
}

/// Parses a body that must be one JSON object, without server-only properties.
pub fn item_body(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest(
            "the body is empty; send the item as a JSON object".into(),
        ));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::BadRequest(format!(
            "the body is not valid JSON (line {}, column {}): {e}",
            e.line(),
            e.column()
        ))
    })?;
    let Value::Object(object) = value else {
        return Err(ApiError::BadRequest(format!(
            "the body must be a JSON object, not {}",
            json_kind(&value)
        )));
    };
    item_properties(object)
}

/// Checks the properties of an item sent by a client: no server-only properties; a `version`
/// is dropped (it travels in If-Match).
pub fn item_properties(mut object: Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    if let Some(name) = system::reserved_property(&object) {
        return Err(ApiError::BadRequest(format!(
            "property '{name}' is set by the server and must not be sent"
        )));
    }
    // `version` travels in If-Match; a copy in the body is ignored (as stock servers do).
    object.retain(|k, _| !k.eq_ignore_ascii_case(system::VERSION));
    Ok(object)
}

/// The shape limits of an item a client sends (`--max-item-depth`, `--max-item-bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemLimits {
    /// The deepest nesting of objects and arrays; the item itself is level 1.
    pub max_depth: usize,
    /// The largest size, in bytes of compact JSON of the properties.
    pub max_bytes: usize,
}

impl ItemLimits {
    /// Refuses an item nested too deep or too large, with a 400 naming the limit. A too-deep
    /// item would be served one or two levels deeper inside a page, where a client's parser
    /// may refuse the whole page (serde_json stops at 128), so none is ever stored.
    pub fn check(&self, properties: &Map<String, Value>) -> Result<(), ApiError> {
        let depth = nesting_depth(properties);
        if depth > self.max_depth {
            return Err(ApiError::BadRequest(format!(
                "the item is nested {depth} levels deep; the limit is {}",
                self.max_depth
            )));
        }
        let size = stored_size(properties);
        if size > self.max_bytes {
            return Err(ApiError::BadRequest(format!(
                "the item is {size} bytes as stored; the limit is {} bytes",
                self.max_bytes
            )));
        }
        Ok(())
    }
}

/// The levels of objects and arrays in an item, the item being level 1; measured with an
/// explicit stack, so no input can exhaust the thread's stack here.
fn nesting_depth(properties: &Map<String, Value>) -> usize {
    let mut deepest = 1;
    let mut stack: Vec<(&Value, usize)> = properties.values().map(|v| (v, 2)).collect();
    while let Some((value, depth)) = stack.pop() {
        match value {
            Value::Object(map) => {
                deepest = deepest.max(depth);
                stack.extend(map.values().map(|v| (v, depth + 1)));
            }
            Value::Array(items) => {
                deepest = deepest.max(depth);
                stack.extend(items.iter().map(|v| (v, depth + 1)));
            }
            _ => {}
        }
    }
    deepest
}

/// Removes the `id` property (any case) from a body and checks it, when present.
pub fn take_body_id(object: &mut Map<String, Value>) -> Result<Option<String>, ApiError> {
    let keys: Vec<String> = object
        .keys()
        .filter(|k| k.eq_ignore_ascii_case(system::ID))
        .cloned()
        .collect();
    if keys.len() > 1 {
        return Err(ApiError::BadRequest(
            "the body has more than one id property".into(),
        ));
    }
    match keys.first().and_then(|k| object.remove(k)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(id)) => {
            check_id(&id)?;
            Ok(Some(id))
        }
        Some(other) => Err(ApiError::BadRequest(format!(
            "the body's id must be a string, not {}",
            json_kind(&other)
        ))),
    }
}

/// Checks an item id against the protocol's rules.
pub fn check_id(id: &str) -> Result<(), ApiError> {
    system::validate_id(id).map_err(|e| ApiError::BadRequest(format!("invalid id: {e}")))
}

/// The version `If-Match` requires, `None` when absent or `*`.
pub fn expected_version(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::BadRequest("If-Match is not text".into()))?;
    match parse_if_match(text).map_err(|e| ApiError::BadRequest(e.to_string()))? {
        IfMatch::Any => Ok(None),
        IfMatch::Version(v) => Ok(Some(v)),
    }
}

/// The `X-Tidemark-Operation` tag of a write, if it carries one.
pub fn operation_tag(headers: &HeaderMap) -> Result<Option<OperationTag>, ApiError> {
    let Some(value) = headers.get(OPERATION_HEADER) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::BadRequest("X-Tidemark-Operation is not text".into()))?;
    parse_operation_tag(text, "X-Tidemark-Operation").map(Some)
}

/// Parses an operation tag (`<operation id>:<op version>`); `source` names where it came from.
pub fn parse_operation_tag(text: &str, source: &str) -> Result<OperationTag, ApiError> {
    OperationTag::parse(text).map_err(|e| ApiError::BadRequest(format!("{source}: {e}")))
}

/// The decoded value of the first query parameter named `name` (case-insensitively).
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(key, _)| decode_component(key).eq_ignore_ascii_case(name))
        .map(|(_, value)| decode_component(value))
}

/// The `Link` header value to the page after this one: `<url>; rel=next`, where the URL is
/// this request's path with `next` (its query with `$skip` moved on) as the query string. The
/// API version goes along when the request gave it as a query parameter, so a client that
/// sends it that way can follow the link as it is; other parameters the query does not know
/// are left out (the server ignores them).
///
/// The link is relative (path and query), or absolute on `public_base` (the configured public
/// URL) when there is one; never built from `Host` or forwarded headers, which the client (or
/// anyone in between) chooses, so a hostile one cannot point a client's next request elsewhere.
pub fn next_page_link(public_base: Option<&str>, uri: &Uri, next: &TableQuery) -> String {
    let version = query_param(uri.query(), API_VERSION_QUERY);
    let query = next.to_query_string_with(version.as_deref().map(|v| (API_VERSION_QUERY, v)));
    let path = uri.path();
    format!("<{}{path}?{query}>; rel=next", public_base.unwrap_or(""))
}

/// Decodes `%XX` escapes and `+` (form encoding); malformed escapes are kept as written.
fn decode_component(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// "an array", "a string"…: the kind of a JSON value, for error messages.
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_decoded_and_matched_case_insensitively() {
        let q = Some("%24filter=a&zumo-api-version=2.0.0&x=%41+b");
        assert_eq!(query_param(q, "ZUMO-API-VERSION").as_deref(), Some("2.0.0"));
        assert_eq!(query_param(q, "$filter").as_deref(), Some("a"));
        assert_eq!(query_param(q, "x").as_deref(), Some("A b"));
        assert_eq!(query_param(q, "y"), None);
    }

    #[test]
    fn next_page_link_renders_the_next_query_and_keeps_a_query_api_version() {
        let uri: Uri = "/tables/todoitem?$filter=a%20eq%201&%24skip=50&zumo-api-version=2.0.0&x=y"
            .parse()
            .unwrap();
        let next = TableQuery::from_query_string(uri.query().unwrap_or(""))
            .unwrap()
            .next_page(50);
        assert_eq!(
            next_page_link(None, &uri, &next),
            "</tables/todoitem?$filter=%28a+eq+1%29&$skip=100&ZUMO-API-VERSION=2.0.0>; rel=next"
        );
        assert_eq!(
            next_page_link(Some("https://todo.example.com/sync"), &uri, &next),
            "<https://todo.example.com/sync/tables/todoitem?$filter=%28a+eq+1%29&$skip=100&ZUMO-API-VERSION=2.0.0>; rel=next"
        );
    }

    #[test]
    fn next_page_link_without_public_url_or_query_version_is_a_relative_path() {
        let uri: Uri = "/tables/todoitem".parse().unwrap();
        let next = TableQuery::new().next_page(50);
        assert_eq!(
            next_page_link(None, &uri, &next),
            "</tables/todoitem?$skip=50>; rel=next"
        );
    }

    #[test]
    fn depth_counts_objects_and_arrays_from_the_item_itself() {
        let object = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert_eq!(nesting_depth(&Map::new()), 1);
        assert_eq!(
            nesting_depth(&object(serde_json::json!({"a": 1, "b": "x"}))),
            1
        );
        assert_eq!(
            nesting_depth(&object(serde_json::json!({"a": [1, {"b": []}]}))),
            4
        );
        let mut deep = Value::Null;
        for _ in 0..120 {
            deep = Value::Array(vec![deep]);
        }
        let item = object(serde_json::json!({"x": deep, "y": {"z": 1}}));
        assert_eq!(nesting_depth(&item), 121);
        let limits = ItemLimits {
            max_depth: 32,
            max_bytes: 1000,
        };
        let message = limits.check(&item).err().map(|e| e.to_string());
        assert_eq!(
            message.as_deref(),
            Some("the item is nested 121 levels deep; the limit is 32")
        );
        let big = object(serde_json::json!({"t": "x".repeat(1000)}));
        let message = limits.check(&big).err().map(|e| e.to_string());
        assert_eq!(
            message.as_deref(),
            Some("the item is 1008 bytes as stored; the limit is 1000 bytes")
        );
    }

    #[test]
    fn malformed_escapes_are_kept() {
        assert_eq!(decode_component("100%"), "100%");
        assert_eq!(decode_component("%zz"), "%zz");
        assert_eq!(decode_component("%4"), "%4");
    }
}
