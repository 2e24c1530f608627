//! [`Caller`]: who sends a request, and so whose rows its store calls read and write.
//!
//! This is the placeholder of the single shared list: every request is answered as
//! [`Owner::unowned`]. The accounts package replaces this file with the extractor that checks
//! the request's token and answers as its user (handlers keep taking `caller: Caller`).

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::AppState;
use crate::store::{Owner, TableStore};

/// The caller of a table or batch request, as the handlers extract it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    owner: Owner,
}

impl Caller {
    /// Whose rows this request reads and writes.
    pub fn owner(&self) -> &Owner {
        &self.owner
    }
}

impl<S: TableStore> FromRequestParts<Arc<AppState<S>>> for Caller {
    type Rejection = Infallible;

    /// Placeholder: every caller is nobody, so every request works on the unowned rows.
    async fn from_request_parts(
        _parts: &mut Parts,
        _state: &Arc<AppState<S>>,
    ) -> Result<Self, Self::Rejection> {
        Ok(Caller {
            owner: Owner::unowned(),
        })
    }
}
