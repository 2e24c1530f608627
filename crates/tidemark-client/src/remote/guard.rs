//! What the engine refuses in an HTTP answer before using it: a redirect (never followed, see
//! [`ClientError::Redirected`]) and a body larger than the configured cap, counted after
//! decompression so that a small gzip body expanding without bound cannot exhaust memory.

use reqwest::Response;
use reqwest::header::LOCATION;

use super::network_error;
use crate::error::{ClientError, Result};

/// The error for a redirect answer, or `None` when the answer is not one. 304 is not a
/// redirect (and the engine sends no conditional reads).
pub(super) fn redirect(response: &Response) -> Option<ClientError> {
    let status = response.status().as_u16();
    if !matches!(status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = response
        .headers()
        .get(LOCATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    Some(ClientError::Redirected { status, location })
}

/// The whole body as text, read chunk by chunk (decompressed ones, when the answer was gzip)
/// and refused as soon as it passes `limit` bytes, so at most `limit` bytes are ever held.
pub(super) async fn read_body(mut response: Response, limit: u64) -> Result<String> {
    let too_large = || ClientError::ResponseTooLarge { limit };
    // A declared length says it at once (it is the encoded length when compressed, never more
    // than the decoded one, so it cannot refuse a body that fits).
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut body: Vec<u8> = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(network_error)? {
        if (body.len() as u64).saturating_add(chunk.len() as u64) > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(match String::from_utf8(body) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}
