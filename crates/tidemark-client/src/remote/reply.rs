//! The server's answers as the engine sees them: a typed [`Reply`] to one write (a single
//! request or one part of a `POST /$batch`), a [`BatchReply`] to a batch as a whole, and the
//! raw HTTP answer they are made from, which nothing outside `remote` reads.

use std::time::Duration;

use serde_json::Value;
use tidemark_protocol::batch::BatchResult;
use tidemark_protocol::{ErrorBody, system};

use super::status::{self, Meaning};
use crate::error::{ClientError, Result};
use crate::item::Item;

/// What the server answered to one write.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    /// Done; the server's item, when the answer carried one (a delete's may not).
    Accepted(Option<Item>),
    /// The server holds another version of the item: the version sent is not its own, or the
    /// id is taken. Its item when the answer carried it (a stock server's answer to a taken id
    /// echoes the request instead, so it is left out and must be fetched).
    Conflict {
        /// The server's item, when the answer carried it.
        server_item: Option<Item>,
        /// The answer, as said.
        refusal: Refusal,
    },
    /// The server does not have the item.
    Gone(Refusal),
    /// The application key or user token is missing or wrong.
    Unauthorized(Refusal),
    /// The write is larger than the server accepts.
    TooLarge(Refusal),
    /// The server failed or is overloaded.
    Unavailable(Refusal),
    /// Any other refusal.
    Refused(Refusal),
}

/// A refusal as the server worded it, kept as said for the operation's recorded error.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Refusal {
    /// The HTTP status, passed on untouched (recorded, never interpreted outside `remote`).
    pub(crate) status: u16,
    /// The response body.
    pub(crate) body: String,
}

impl Refusal {
    /// The engine error a refused request is: [`ClientError::Auth`] for missing or wrong
    /// credentials, [`ClientError::Http`] otherwise.
    pub(crate) fn into_error(self) -> ClientError {
        match status::meaning(self.status) {
            Meaning::Unauthorized => ClientError::Auth { body: self.body },
            _ => ClientError::Http {
                status: self.status,
                body: self.body,
            },
        }
    }
}

/// What the server answered to a `POST /$batch` as a whole.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BatchReply {
    /// One reply per operation, in order; fewer when the server could not go on.
    Answered(Vec<Reply>),
    /// The request is larger than the server accepts: nothing of it was applied.
    TooLarge(Refusal),
}

impl Reply {
    /// One result of a batch as the reply its single request would have had.
    pub(super) fn from_batch_result(result: BatchResult) -> Self {
        let meaning = status::meaning(result.status);
        if meaning == Meaning::Success {
            return Reply::Accepted(as_item(result.item));
        }
        let body = match (&result.item, result.error) {
            (Some(item), _) => item.to_string(),
            (None, Some(error)) => {
                serde_json::to_string(&ErrorBody::new(error)).unwrap_or_default()
            }
            (None, None) => String::new(),
        };
        let refusal = Refusal {
            status: result.status,
            body,
        };
        Reply::refused(meaning, refusal, as_item(result.item))
    }

    /// The reply for a refusal that means `meaning`; `item` is the answer's body as an item,
    /// kept for the refusals that carry the server's.
    fn refused(meaning: Meaning, refusal: Refusal, item: Option<Item>) -> Self {
        match meaning {
            Meaning::VersionMismatch => Reply::Conflict {
                server_item: item,
                refusal,
            },
            // A stock server echoes the request body: not the server's item.
            Meaning::AlreadyExists => Reply::Conflict {
                server_item: None,
                refusal,
            },
            Meaning::NotFound => Reply::Gone(refusal),
            Meaning::Unauthorized => Reply::Unauthorized(refusal),
            Meaning::TooLarge => Reply::TooLarge(refusal),
            Meaning::Unavailable => Reply::Unavailable(refusal),
            Meaning::Success | Meaning::NotAllowed | Meaning::Refused => Reply::Refused(refusal),
        }
    }
}

/// A batch result's item, when it is an object.
fn as_item(item: Option<Value>) -> Option<Item> {
    match item {
        Some(Value::Object(item)) => Some(item),
        _ => None,
    }
}

/// The server's words in an error body (`{"error": "..."}`), or the body itself, shortened:
/// a reason to show people.
pub(crate) fn error_text(body: &str) -> String {
    let said = serde_json::from_str::<ErrorBody>(body)
        .map(|b| b.error)
        .unwrap_or_else(|_| body.trim().to_string());
    let said = said.strip_prefix("sign-in required: ").unwrap_or(&said);
    said.chars().take(300).collect()
}

/// A raw server answer: status, body text and the headers the engine reads.
#[derive(Debug, Clone)]
pub(super) struct Raw {
    pub(super) status: u16,
    pub(super) body: String,
    pub(super) etag: Option<String>,
    pub(super) next_link: Option<String>,
    /// `Retry-After` in seconds, when the server sent one.
    pub(super) retry_after: Option<Duration>,
}

impl Raw {
    /// What the status means.
    pub(super) fn meaning(&self) -> Meaning {
        status::meaning(self.status)
    }

    /// How long the server asked us to wait before asking again, when it answered 503 "busy"
    /// with a `Retry-After` (our server does when all its query slots are taken).
    pub(super) fn busy_for(&self) -> Option<Duration> {
        (self.status == 503).then_some(self.retry_after).flatten()
    }

    /// The typed reply to a write.
    pub(super) fn into_reply(self) -> Reply {
        let meaning = self.meaning();
        if meaning == Meaning::Success {
            return Reply::Accepted(self.item());
        }
        let item = self.item();
        Reply::refused(meaning, self.into_refusal(), item)
    }

    /// The body as an item, if it is a JSON object.
    pub(super) fn item(&self) -> Option<Item> {
        match serde_json::from_str::<Value>(&self.body) {
            Ok(Value::Object(mut item)) => {
                // A body without `version` still has one in its ETag.
                if let (Some(etag), false) = (&self.etag, item.contains_key(system::VERSION)) {
                    let v = etag.trim_start_matches("W/").trim_matches('"').to_string();
                    item.insert(system::VERSION.into(), Value::String(v));
                }
                Some(item)
            }
            _ => None,
        }
    }

    /// The answer as a refusal, kept as said.
    pub(super) fn into_refusal(self) -> Refusal {
        Refusal {
            status: self.status,
            body: self.body,
        }
    }

    /// The answer itself when it is a success, the matching error otherwise.
    pub(super) fn success(self) -> Result<Self> {
        match self.meaning() {
            Meaning::Success => Ok(self),
            _ => Err(self.into_refusal().into_error()),
        }
    }

    /// The item of a successful answer.
    pub(super) fn expect_item(self) -> Result<Item> {
        let raw = self.success()?;
        raw.item()
            .ok_or_else(|| ClientError::protocol(format!("expected an item, got: {}", raw.body)))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn raw(status: u16, body: &str, etag: Option<&str>) -> Raw {
        Raw {
            status,
            body: body.into(),
            etag: etag.map(str::to_string),
            next_link: None,
            retry_after: None,
        }
    }

    fn item(value: Value) -> Option<Item> {
        value.as_object().cloned()
    }

    fn refusal(status: u16, body: &str) -> Refusal {
        Refusal {
            status,
            body: body.into(),
        }
    }

    fn part(status: u16, item: Option<Value>, error: Option<&str>) -> BatchResult {
        BatchResult {
            status,
            item,
            error: error.map(str::to_string),
            replayed: false,
        }
    }

    #[test]
    fn a_success_is_accepted_with_the_version_of_its_etag() {
        let reply = raw(201, r#"{"id":"a"}"#, Some("W/\"v2\"")).into_reply();
        assert_eq!(
            reply,
            Reply::Accepted(item(json!({"id": "a", "version": "v2"})))
        );
        assert_eq!(raw(204, "", None).into_reply(), Reply::Accepted(None));
    }

    #[test]
    fn a_version_mismatch_carries_the_servers_item_and_a_taken_id_does_not() {
        let server = r#"{"id":"a","version":"v3"}"#;
        assert_eq!(
            raw(412, server, None).into_reply(),
            Reply::Conflict {
                server_item: item(json!({"id": "a", "version": "v3"})),
                refusal: refusal(412, server),
            }
        );
        // A stock server echoes the request body: it is not the server's item.
        let echo = r#"{"id":"a","text":"mine"}"#;
        assert_eq!(
            raw(409, echo, None).into_reply(),
            Reply::Conflict {
                server_item: None,
                refusal: refusal(409, echo),
            }
        );
    }

    #[test]
    fn every_other_refusal_has_its_own_reply_and_keeps_the_answer() {
        let cases = [
            (404, Reply::Gone(refusal(404, "b"))),
            (401, Reply::Unauthorized(refusal(401, "b"))),
            (413, Reply::TooLarge(refusal(413, "b"))),
            (503, Reply::Unavailable(refusal(503, "b"))),
            (400, Reply::Refused(refusal(400, "b"))),
        ];
        for (status, expected) in cases {
            assert_eq!(raw(status, "b", None).into_reply(), expected, "{status}");
        }
    }

    #[test]
    fn a_batch_part_is_the_reply_its_single_request_would_have_had() {
        assert_eq!(
            Reply::from_batch_result(part(200, Some(json!({"id": "a"})), None)),
            Reply::Accepted(item(json!({"id": "a"})))
        );
        assert_eq!(
            Reply::from_batch_result(part(412, Some(json!({"id": "a"})), None)),
            Reply::Conflict {
                server_item: item(json!({"id": "a"})),
                refusal: refusal(412, r#"{"id":"a"}"#),
            }
        );
        let gone = Reply::from_batch_result(part(404, None, Some("no such item")));
        let Reply::Gone(said) = gone else {
            panic!("404 is gone: {gone:?}");
        };
        assert!(said.body.contains("no such item"), "{}", said.body);
    }

    #[test]
    fn a_refusal_becomes_the_matching_error() {
        assert!(matches!(
            refusal(401, "who").into_error(),
            ClientError::Auth { body } if body == "who"
        ));
        assert!(matches!(
            refusal(500, "oops").into_error(),
            ClientError::Http { status: 500, body } if body == "oops"
        ));
    }

    #[test]
    fn only_a_success_gives_its_item() {
        assert!(raw(200, r#"{"id":"a"}"#, None).expect_item().is_ok());
        assert!(matches!(
            raw(200, "[]", None).expect_item(),
            Err(ClientError::Protocol { .. })
        ));
        assert!(matches!(
            raw(404, r#"{"id":"a"}"#, None).expect_item(),
            Err(ClientError::Http { status: 404, .. })
        ));
    }
}
