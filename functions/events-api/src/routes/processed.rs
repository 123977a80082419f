//! `GET /events/processed`: a page of stored events, newest first, with the next page in a
//! `Link: <?…&cursor=…>; rel="next"` header.

use crate::auth::Authenticated;
use crate::{ApiError, ApiStore, App};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use event_kafka::EventPublisher;
use event_schema::{check_event_type, check_user_id, ErrorCode, FieldError, ValidationErrors};
use event_store::{Cursor, ListQuery, Page, MAX_PAGE_SIZE};
use std::sync::Arc;

/// Page size when `limit` is absent.
pub(crate) const DEFAULT_LIMIT: usize = 100;
/// Largest listing body, counted as Lambda counts it ([`response_len`]): under the 6 MB limit on
/// a buffered Function URL response
/// (https://docs.aws.amazon.com/lambda/latest/dg/config-rs-invoke-furls.html), with room for
/// the headers and the rest of the response document. A page holding more is cut, and its
/// `Link` continues after the last event sent.
pub(crate) const MAX_PAGE_BYTES: usize = 5 * 1024 * 1024;
/// Longest wait for the store before answering 503 `store_unavailable`.
pub(crate) const LIST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);
/// Listings one instance serves at once: each may hold a page of up to [`MAX_PAGE_BYTES`] while
/// its client reads it, so more would only grow memory. One more is answered 503
/// `server_busy` at once, with `Retry-After`.
pub const MAX_CONCURRENT_LISTINGS: usize = 32;

pub(crate) async fn processed<S: ApiStore, P: EventPublisher>(
    State(app): State<Arc<App<S, P>>>,
    Authenticated(caller): Authenticated,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let mut query = parse_query(raw.as_deref().unwrap_or(""))?;
    query.user_id = caller.listing_filter(query.user_id)?;
    // Held until the page is built; the body then belongs to the connection, whose writes
    // have their own deadline (serve::WRITE_TIMEOUT).
    let _slot = app
        .listing_slots
        .try_acquire()
        .map_err(|_| ApiError::Busy)?;
    // The store stops reading where the answer would be cut anyway.
    query.max_bytes = Some(MAX_PAGE_BYTES);
    // A store that cannot answer (locked, unreachable) gets a bounded wait, then 503.
    let page = tokio::time::timeout(LIST_DEADLINE, app.store.list(query.clone()))
        .await
        .map_err(|_| {
            ApiError::StoreUnavailable(format!("no answer within {} s", LIST_DEADLINE.as_secs()))
        })??;
    let (body, next) = bounded_page(page, MAX_PAGE_BYTES)?;
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(next) = next {
        // A query-only reference resolves against the URL the client used, which stays right
        // behind a Function URL, a path prefix (`cargo lambda watch`) or a proxy.
        let link = format!("<?{}>; rel=\"next\"", next_query(&query, &next));
        if let Ok(value) = HeaderValue::from_str(&link) {
            headers.insert(header::LINK, value);
        }
    }
    Ok(response)
}

/// The bytes `json` (as serde_json writes it) takes in Lambda's response document, where the
/// body is itself a JSON string: each `"` and `\` is escaped once more. Nothing else is: the
/// text holds no raw control character, and other characters stay as they are. A quote-heavy
/// payload nearly doubles.
pub(crate) fn response_len(json: &str) -> usize {
    json.len() + json.bytes().filter(|b| matches!(b, b'"' | b'\\')).count()
}

/// The page as a JSON array of at most `max_bytes` as Lambda counts them ([`response_len`]; at
/// least one event), and where the next page starts: the store's cursor, or after the last
/// event that fit when the page was cut.
fn bounded_page(page: Page, max_bytes: usize) -> Result<(String, Option<Cursor>), ApiError> {
    let mut body = String::from("[");
    let mut size = 2;
    let mut kept = None;
    let total = page.events.len();
    for (i, event) in page.events.iter().enumerate() {
        let json = serde_json::to_string(event).map_err(|e| {
            ApiError::StoreUnavailable(format!("an event could not be encoded: {e}"))
        })?;
        let len = response_len(&json);
        if i > 0 && size + 1 + len > max_bytes {
            break;
        }
        size += len + usize::from(i > 0);
        if i > 0 {
            body.push(',');
        }
        body.push_str(&json);
        kept = Some(i);
    }
    body.push(']');
    let next = match kept {
        Some(last) if last + 1 < total => Some(Cursor::after(&page.events[last])),
        _ => page.next,
    };
    Ok((body, next))
}

/// Reads the query string, reporting every bad parameter at once (at most
/// `MAX_REPORTED_ERRORS`, as for a body, then how many more there were).
pub(crate) fn parse_query(raw: &str) -> Result<ListQuery, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw).map_err(|e| {
        ApiError::Validation(vec![FieldError::new(
            "query",
            ErrorCode::InvalidFormat,
            format!("the query string is not valid URL encoding: {e}"),
        )])
    })?;
    let mut query = ListQuery {
        limit: DEFAULT_LIMIT,
        ..ListQuery::default()
    };
    let mut errors = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (key, value) in &pairs {
        if seen.contains(&key.as_str()) {
            errors.push(FieldError::new(
                key.clone(),
                ErrorCode::DuplicateKey,
                format!("{key} is given more than once; give it once"),
            ));
            continue;
        }
        seen.push(key);
        match key.as_str() {
            "limit" => match value.parse::<i64>() {
                Ok(n) if (1..=MAX_PAGE_SIZE as i64).contains(&n) => {
                    query.limit = usize::try_from(n).unwrap_or(DEFAULT_LIMIT);
                }
                Ok(n) => errors.push(FieldError::new(
                    "limit",
                    ErrorCode::OutOfRange,
                    format!("limit must be between 1 and {MAX_PAGE_SIZE}, got {n}"),
                )),
                Err(_) => errors.push(FieldError::new(
                    "limit",
                    ErrorCode::InvalidFormat,
                    format!("limit must be a whole number between 1 and {MAX_PAGE_SIZE}"),
                )),
            },
            "userId" => match check_user_id(value) {
                Ok(()) => query.user_id = Some(value.clone()),
                Err((code, message)) => errors.push(FieldError::new("userId", code, message)),
            },
            "eventType" => match check_event_type(value) {
                Ok(t) => query.event_type = Some(t),
                Err((code, message)) => errors.push(FieldError::new("eventType", code, message)),
            },
            "cursor" => match Cursor::decode(value) {
                Ok(c) => query.cursor = Some(c),
                Err(e) => errors.push(FieldError::new(
                    "cursor",
                    ErrorCode::InvalidFormat,
                    e.to_string(),
                )),
            },
            other => errors.push(FieldError::new(
                other,
                ErrorCode::UnknownField,
                format!(
                    "unknown query parameter {other:?}; allowed are limit, userId, eventType, cursor"
                ),
            )),
        }
    }
    match ValidationErrors::capped(errors, "query") {
        None => Ok(query),
        Some(errors) => Err(errors.into()),
    }
}

/// The query of the next page: the same filters and limit, plus the cursor.
fn next_query(query: &ListQuery, next: &Cursor) -> String {
    let mut pairs: Vec<(&str, String)> = vec![("limit", query.limit.to_string())];
    if let Some(u) = &query.user_id {
        pairs.push(("userId", u.clone()));
    }
    if let Some(t) = query.event_type {
        pairs.push(("eventType", t.as_str().to_owned()));
    }
    pairs.push(("cursor", next.encode()));
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(raw: &str) -> Vec<(String, ErrorCode)> {
        match parse_query(raw) {
            Ok(_) => Vec::new(),
            Err(ApiError::Validation(d)) => d.into_iter().map(|e| (e.field, e.code)).collect(),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_page_over_the_byte_limit_is_cut_and_continues_after_its_last_event() {
        let events: Vec<_> = (0..10)
            .map(|i| {
                let body = format!(
                    r#"{{"userId":"u","eventType":"LOGIN","payload":{{"pad":"{}"}}}}"#,
                    "x".repeat(1000 + i)
                );
                event_schema::validate_request(body.as_bytes())
                    .expect("valid")
                    .into_event()
            })
            .collect();
        let page = Page {
            events: events.clone(),
            next: None,
        };
        let (body, next) = bounded_page(page, 3500).expect("page");
        assert!(response_len(&body) <= 3500, "{} bytes", response_len(&body));
        let sent: Vec<event_schema::UserEvent> = serde_json::from_str(&body).expect("array");
        assert_eq!(sent, events[..sent.len()]);
        assert!(!sent.is_empty() && sent.len() < 10);
        assert_eq!(next, Some(Cursor::after(&events[sent.len() - 1])));

        // One event larger than the limit still goes out alone, never an empty page.
        let one = Page {
            events: events[..2].to_vec(),
            next: None,
        };
        let (body, next) = bounded_page(one, 10).expect("page");
        assert_eq!(
            serde_json::from_str::<Vec<serde_json::Value>>(&body)
                .map(|v| v.len())
                .ok(),
            Some(1)
        );
        assert_eq!(next, Some(Cursor::after(&events[0])));
    }

    #[test]
    fn a_body_counts_as_lambdas_response_document_holds_it() {
        for text in [
            r#"[{"a":"b"}]"#.to_owned(),
            serde_json::to_string(&serde_json::json!({"q": "\"\\ é \n\u{1}"})).expect("json"),
        ] {
            let document = serde_json::to_string(&serde_json::json!({"body": text})).expect("json");
            assert_eq!(
                response_len(&text),
                document.len() - r#"{"body":""}"#.len(),
                "{text}"
            );
        }
    }

    #[test]
    fn defaults_and_filters() {
        let q = parse_query("").expect("empty query");
        assert_eq!(q.limit, DEFAULT_LIMIT);
        let q = parse_query("limit=5&userId=al%20ice&eventType=LOGOUT").expect("valid");
        assert_eq!(q.limit, 5);
        assert_eq!(q.user_id.as_deref(), Some("al ice"));
    }

    #[test]
    fn every_bad_parameter_is_reported() {
        assert_eq!(
            codes("limit=0&eventType=login&cursor=zzz&page=2&userId="),
            vec![
                ("limit".to_owned(), ErrorCode::OutOfRange),
                ("eventType".to_owned(), ErrorCode::NotAllowed),
                ("cursor".to_owned(), ErrorCode::InvalidFormat),
                ("page".to_owned(), ErrorCode::UnknownField),
                ("userId".to_owned(), ErrorCode::Empty),
            ]
        );
        assert_eq!(codes("limit=1001")[0].1, ErrorCode::OutOfRange);
        assert_eq!(codes("limit=ten")[0].1, ErrorCode::InvalidFormat);
        assert_eq!(codes("limit=1&limit=2")[0].1, ErrorCode::DuplicateKey);
    }

    #[test]
    fn query_problems_are_capped_like_a_bodys() {
        let raw: Vec<String> = (0..500).map(|i| format!("p{i}=1")).collect();
        let got = codes(&raw.join("&"));
        assert_eq!(got.len(), event_schema::MAX_REPORTED_ERRORS + 1);
        assert_eq!(
            got.last(),
            Some(&("query".to_owned(), ErrorCode::TooManyErrors))
        );
    }
}
