//! Reading a JSON body: declared as JSON, within its limit (refused before it is read when its
//! declared length is over, and while it arrives otherwise), and within [`BODY_READ_TIMEOUT`].

use crate::ApiError;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};

/// Longest wait for the whole body once the headers arrived (a plain server's slow client;
/// under Lambda the body is already there).
pub(crate) const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The body of a request that must be JSON, at most `limit` bytes.
pub(crate) async fn read_json(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    require_json(headers)?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        drain(body).await;
        return Err(ApiError::PayloadTooLarge(limit));
    }
    tokio::time::timeout(BODY_READ_TIMEOUT, read_limited(body, limit))
        .await
        .map_err(|_| ApiError::BodyTimeout(BODY_READ_TIMEOUT.as_secs()))?
}

/// Only `application/json` (optionally `; charset=utf-8`) is accepted.
fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let raw = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let ok = raw.as_deref().is_some_and(|ct| {
        let mut parts = ct.split(';').map(str::trim);
        let essence_ok = parts
            .next()
            .is_some_and(|e| e.eq_ignore_ascii_case("application/json"));
        let params_ok = parts.all(|p| match p.split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("charset") => {
                let v = v.trim().trim_matches('"');
                v.eq_ignore_ascii_case("utf-8") || v.eq_ignore_ascii_case("utf8")
            }
            _ => true,
        });
        essence_ok && params_ok
    });
    if ok {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(raw))
    }
}

/// Most bytes of a refused body read and dropped, and for how long.
const DRAIN_BYTES: usize = 2 * 1024 * 1024;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// Reads and drops what the client is still sending (up to a bound), so that it can read the
/// refusal: a server that answers and closes with a body unread resets the connection, and the
/// client sees the reset instead of the 413.
async fn drain(body: Body) {
    use http_body_util::BodyExt as _;
    let limited = http_body_util::Limited::new(body, DRAIN_BYTES);
    let _ = tokio::time::timeout(DRAIN_TIME, limited.collect()).await;
}

async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let inner = e.into_inner();
        let too_large =
            std::iter::successors(Some(&*inner as &dyn std::error::Error), |e| e.source())
                .any(|e| e.is::<http_body_util::LengthLimitError>());
        if too_large {
            ApiError::PayloadTooLarge(limit)
        } else {
            ApiError::BadBody(inner.to_string())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(ct: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(ct).expect("header"),
        );
        h
    }

    #[test]
    fn accepts_json_with_or_without_utf8_charset() {
        assert!(require_json(&with("application/json")).is_ok());
        assert!(require_json(&with("Application/JSON; charset=UTF-8")).is_ok());
        assert!(require_json(&with("text/plain")).is_err());
        assert!(require_json(&with("application/json; charset=latin1")).is_err());
        assert!(require_json(&HeaderMap::new()).is_err());
    }
}
