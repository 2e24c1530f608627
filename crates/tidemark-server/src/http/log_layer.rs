//! One log line per request: method, path, status and duration.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

/// Logs the request once its response is ready (4xx/5xx at warn level so they stand out).
pub async fn access_log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    let level = if status.is_server_error() {
        log::Level::Warn
    } else {
        log::Level::Info
    };
    log::log!(level, "{method} {path} {} {millis:.1}ms", status.as_u16());
    response
}
