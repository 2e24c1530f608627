//! The JSON body of every error response: `{"error": "<what is wrong, and where>"}`.

use serde::{Deserialize, Serialize};

/// The body of a 4xx/5xx response that carries a message rather than an item.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ErrorBody {
    /// What went wrong, for a human.
    pub error: String,
}

impl ErrorBody {
    /// An error body with the given message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            error: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_an_object_with_one_error_field() {
        let body = ErrorBody::new("bad $top");
        assert_eq!(
            serde_json::to_string(&body).ok().as_deref(),
            Some(r#"{"error":"bad $top"}"#)
        );
    }

    #[test]
    fn deserialises_stock_server_bodies() {
        let body: Result<ErrorBody, _> = serde_json::from_str(r#"{"error":"Not found"}"#);
        assert_eq!(body.ok(), Some(ErrorBody::new("Not found")));
    }
}
