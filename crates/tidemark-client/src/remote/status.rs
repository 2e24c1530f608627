//! What an HTTP status means to the engine, for our server and stock ones alike: the one table
//! of status codes. A leaf, so that the queue's recorded errors can ask it too.

/// What the server meant by a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Meaning {
    /// Done (2xx).
    Success,
    /// The application key or user token is missing or wrong (401).
    Unauthorized,
    /// The item, or the route, is not on the server (404).
    NotFound,
    /// An item with this id already exists (409). A stock server echoes the request body in
    /// its answer, not its own item.
    AlreadyExists,
    /// The version sent is not the server's (412); the body is the server's item.
    VersionMismatch,
    /// The server has no such method for this route (405): a stock server without undelete.
    NotAllowed,
    /// The request is larger than the server accepts (413); nothing of it was applied.
    TooLarge,
    /// The server failed or is overloaded (5xx): nothing is known about what was asked.
    Unavailable,
    /// Any other refusal (400, 403...).
    Refused,
}

/// What `status` means.
pub(crate) fn meaning(status: u16) -> Meaning {
    match status {
        200..=299 => Meaning::Success,
        401 => Meaning::Unauthorized,
        404 => Meaning::NotFound,
        409 => Meaning::AlreadyExists,
        405 => Meaning::NotAllowed,
        412 => Meaning::VersionMismatch,
        413 => Meaning::TooLarge,
        500..=599 => Meaning::Unavailable,
        _ => Meaning::Refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_one_meaning() {
        assert_eq!(meaning(200), Meaning::Success);
        assert_eq!(meaning(201), Meaning::Success);
        assert_eq!(meaning(204), Meaning::Success);
        assert_eq!(meaning(401), Meaning::Unauthorized);
        assert_eq!(meaning(404), Meaning::NotFound);
        assert_eq!(meaning(409), Meaning::AlreadyExists);
        assert_eq!(meaning(412), Meaning::VersionMismatch);
        assert_eq!(meaning(405), Meaning::NotAllowed);
        assert_eq!(meaning(413), Meaning::TooLarge);
        assert_eq!(meaning(503), Meaning::Unavailable);
        assert_eq!(meaning(400), Meaning::Refused);
        assert_eq!(meaning(302), Meaning::Refused);
    }
}
