//! `GET /events/processed` through the Lambda entry point (lambda_http's adapter, as
//! `lambda_http::run` serves it): what counts against Lambda's 6 MB limit on a buffered
//! response is the response document the runtime posts, in which the body is a JSON string, so
//! every `"` and `\` of the body is escaped once more
//! (https://docs.aws.amazon.com/lambda/latest/dg/config-rs-invoke-furls.html). A page that
//! passed as a body but not as a document would fail as an invocation error every time, with
//! the same cursor: pagination would be stuck.

use event_kafka::MemoryPublisher;
use event_schema::UserEvent;
use event_store::EventWriter;
use event_store::MemoryStore;
use events_api::{router, App};
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent, Service};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Lambda's limit on a synchronous response: 6 MB.
const RESPONSE_LIMIT: usize = 6_291_456;
/// Events listed: enough that a page cut by its body's bytes alone would exceed the limit.
const EVENTS: usize = 400;

/// An event whose payload is as large as the rules allow and made of `"` and `\` only, each of
/// which the event's JSON escapes once and the response document again.
fn quote_heavy(i: usize) -> UserEvent {
    let filler: String = "\"\\".repeat(4094);
    let body = json!({"userId": format!("user-{i}"), "eventType": "PRODUCT_VIEW",
        "payload": {"q": filler}})
    .to_string();
    event_schema::validate_request(body.as_bytes())
        .expect("a payload of 16 KiB at most")
        .into_event()
}

/// A Function URL request (payload format 2.0) for `GET /events/processed?<query>`.
fn listing(query: &str) -> LambdaRequest {
    let event = testkit::runtime_api::function_url_event("GET", "/events/processed", query, None);
    serde_json::from_str(&event).expect("a Function URL event")
}

#[tokio::test]
async fn every_page_of_quote_heavy_events_fits_lambdas_response_limit_and_each_event_comes_once() {
    let store = MemoryStore::default();
    let events: Vec<UserEvent> = (0..EVENTS).map(quote_heavy).collect();
    store.insert_batch(&events).await.expect("stored");
    let app = Arc::new(App::new(store, MemoryPublisher::default()));
    let mut adapter = Adapter::from(router(app));

    let mut query = "limit=1000".to_owned();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let answer = adapter
            .call(LambdaEvent::new(listing(&query), Context::default()))
            .await
            .expect("an answer");
        let document = serde_json::to_vec(&answer).expect("the response document");
        pages += 1;
        assert!(
            document.len() <= RESPONSE_LIMIT,
            "page {pages}: a response document of {} bytes",
            document.len()
        );
        let document: Value = serde_json::from_slice(&document).expect("json");
        assert_eq!(document["statusCode"], 200, "{}", document["body"]);
        assert_eq!(document["isBase64Encoded"], false, "sent as text");
        let body = document["body"].as_str().expect("a text body");
        let page: Vec<UserEvent> = serde_json::from_str(body).expect("an array of events");
        assert!(!page.is_empty());
        seen.extend(page.into_iter().map(|e| e.event_id));
        let Some(link) = document["headers"]["link"].as_str() else {
            break;
        };
        query = link
            .strip_prefix("<?")
            .and_then(|l| l.split_once('>'))
            .map(|(q, _)| q.to_owned())
            .expect("a relative next link");
    }
    assert!(pages >= 2, "one page would not fit: {pages}");
    let unique: BTreeSet<_> = seen.iter().collect();
    assert_eq!(seen.len(), EVENTS, "every event listed once");
    assert_eq!(unique.len(), EVENTS);
    let stored: BTreeSet<_> = events.iter().map(|e| &e.event_id).collect();
    assert_eq!(unique, stored);
}
