//! `GET /openapi.json`: the OpenAPI 3 description of every route this server serves.
//!
//! The document is written by hand (`openapi.json` beside this file) and embedded at compile
//! time, rather than generated with a crate such as utoipa: the routes are few and stable, their
//! bodies are free-form JSON items that derive macros would describe no better, and a static
//! file costs no proc-macro build time. The HTTP tests keep it honest: every documented
//! path and method is served, every router route is documented, and schemathesis checks the
//! live server against it.
//!
//! It is served without the API version and application key checks (see `guard`): tools fetch
//! it before they know the protocol's headers, and it holds no data, no table names and no
//! secret.

use axum::http::header;
use axum::response::IntoResponse;

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/openapi.json";

/// The document, embedded so the binary serves exactly what the repository holds.
const DOCUMENT: &str = include_str!("openapi.json");

/// `GET /openapi.json`: the document as `application/json`.
pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_json() {
        let value: serde_json::Value = match serde_json::from_str(DOCUMENT) {
            Ok(v) => v,
            Err(e) => panic!("openapi.json is not JSON: {e}"),
        };
        assert!(
            value["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3."))
        );
        assert!(value["paths"][OPENAPI_PATH]["get"].is_object());
    }
}
