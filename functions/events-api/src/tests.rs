//! Router behaviour with in-process fakes: every status and error shape, fast and without a
//! broker. The same behaviour is proven against a real broker and SQLite file in `tests/`.

use crate::{router, App};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use event_kafka::MemoryPublisher;
use event_store::MemoryStore;
use event_store::{EventWriter, KeyStore};
use http_body_util::BodyExt;
use pipeline_runtime::trace::TraceParent;
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

fn app() -> (Arc<App<MemoryStore, MemoryPublisher>>, Router) {
    let app = Arc::new(App::new(MemoryStore::default(), MemoryPublisher::default()));
    (Arc::clone(&app), router(app))
}

async fn send(router: &Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let res = router.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, body)
}

fn post(body: &str, content_type: Option<&str>) -> Request<Body> {
    let mut b = Request::post("/events/generate");
    if let Some(ct) = content_type {
        b = b.header(header::CONTENT_TYPE, ct);
    }
    b.body(Body::from(body.to_owned())).expect("request")
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("request")
}

#[tokio::test]
async fn valid_request_is_published_and_returned_as_created() {
    let (app, router) = app();
    let (status, _, body) = send(
        &router,
        post(
            r#"{"userId":"u1","eventType":"PRODUCT_VIEW","payload":{"sku":"x"}}"#,
            Some("application/json"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let published = app.publisher.published();
    assert_eq!(published.len(), 1);
    assert_eq!(body, serde_json::to_value(&published[0]).expect("json"));
    assert_eq!(body["payload"], json!({"sku": "x"}));
}

#[tokio::test]
async fn rejections_have_status_error_and_message_and_publish_nothing() {
    let (app, router) = app();
    let big = format!(
        r#"{{"userId":"u","eventType":"LOGIN","payload":{{"d":"{}"}}}}"#,
        "x".repeat(70_000)
    );
    let cases = [
        (
            post("{}", None),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            post("{}", Some("text/plain")),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            post(&big, Some("application/json")),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            post("{", Some("application/json")),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        (get("/nowhere"), StatusCode::NOT_FOUND, "not_found"),
        (
            get("/events/generate"),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            get("/events/processed?limit=0"),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
    ];
    for (req, want_status, want_code) in cases {
        let uri = req.uri().clone();
        let (status, headers, body) = send(&router, req).await;
        assert_eq!(status, want_status, "{uri}");
        assert_eq!(body["error"], want_code, "{uri}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{uri}"
        );
        assert_eq!(headers[header::CONTENT_TYPE], "application/json", "{uri}");
    }
    assert!(app.publisher.published().is_empty());
}

#[tokio::test]
async fn validation_failure_lists_every_problem() {
    let (_, router) = app();
    let (_, _, body) = send(
        &router,
        post(
            r#"{"userId":7,"eventType":"login","extra":1}"#,
            Some("application/json"),
        ),
    )
    .await;
    let codes: Vec<(&str, &str)> = body["details"]
        .as_array()
        .expect("details")
        .iter()
        .map(|d| {
            (
                d["field"].as_str().unwrap_or(""),
                d["code"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        codes,
        [
            ("userId", "wrong_type"),
            ("eventType", "not_allowed"),
            ("extra", "unknown_field")
        ]
    );
}

#[tokio::test]
async fn broker_outage_is_503_with_retry_after_and_names_kafka_in_health() {
    let (app, router) = app();
    app.publisher.set_down(true);
    let (status, headers, body) = send(
        &router,
        post(
            r#"{"userId":"u","eventType":"LOGIN"}"#,
            Some("application/json"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"], "kafka_unavailable");
    assert!(headers.contains_key(header::RETRY_AFTER));
    let (status, _, body) = send(&router, get("/health")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["failing"], json!(["kafka"]));
    assert_eq!(body["kafka"], "failing");
    assert_eq!(body["store"], "ok");
}

#[tokio::test]
async fn method_not_allowed_says_which_methods_are() {
    let (_, router) = app();
    let req = Request::builder()
        .method(Method::DELETE)
        .uri("/events/processed")
        .body(Body::empty())
        .expect("request");
    let (status, headers, _) = send(&router, req).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(headers[header::ALLOW]
        .to_str()
        .unwrap_or("")
        .contains("GET"));
}

#[tokio::test]
async fn each_route_is_served_under_the_method_of_the_route_table() {
    let (_, router) = app();
    for route in crate::routes::Route::ALL {
        let req = Request::builder()
            .method(Method::PUT)
            .uri(route.path().replace("{userId}", "alice"))
            .body(Body::empty())
            .expect("request");
        let (status, headers, _) = send(&router, req).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{route:?}");
        let allow = headers[header::ALLOW].to_str().unwrap_or("");
        assert!(
            allow
                .split(',')
                .any(|m| m.trim() == route.method().as_str()),
            "{route:?} allows {allow}"
        );
    }
}

#[tokio::test]
async fn processed_pages_follow_the_link_header() {
    let (app, router) = app();
    let events: Vec<_> = (0..5)
        .map(|i| {
            event_schema::validate_request(
                format!(r#"{{"userId":"u{}","eventType":"LOGIN"}}"#, i % 2).as_bytes(),
            )
            .expect("valid")
            .into_event()
        })
        .collect();
    app.store.insert_batch(&events).await.expect("insert");
    let mut uri = "/events/processed?limit=2".to_owned();
    let mut seen = Vec::new();
    loop {
        let (status, headers, body) = send(&router, get(&uri)).await;
        assert_eq!(status, StatusCode::OK);
        seen.extend(body.as_array().expect("array").iter().cloned());
        let Some(link) = headers.get(header::LINK) else {
            break;
        };
        let link = link.to_str().expect("ascii");
        let query = link
            .strip_prefix("<?")
            .and_then(|l| l.strip_suffix(">; rel=\"next\""))
            .expect("query-only next link");
        uri = format!("/events/processed?{query}");
    }
    assert_eq!(seen.len(), 5);
}

/// Every cursor the server issues fits the OpenAPI document's form (unpadded URL-safe base64, at
/// least its minLength), and an empty cursor, which the document refuses too, is a 400 naming
/// the parameter rather than the first page again.
#[tokio::test]
async fn issued_cursors_fit_the_document_and_an_empty_one_is_400() {
    let doc = crate::openapi::document();
    let schema = doc["paths"]["/events/processed"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == "cursor")
        .expect("the cursor parameter")["schema"]
        .clone();
    let min = schema["minLength"].as_u64().expect("a minLength") as usize;
    let (app, router) = app();
    let events: Vec<_> = (0..3)
        .map(|_| {
            event_schema::validate_request(br#"{"userId":"u","eventType":"LOGIN"}"#)
                .expect("valid")
                .into_event()
        })
        .collect();
    app.store.insert_batch(&events).await.expect("insert");
    let (_, headers, _) = send(&router, get("/events/processed?limit=1")).await;
    let link = headers[header::LINK].to_str().expect("ascii");
    let cursor = link
        .split(['?', '&', '>'])
        .find_map(|p| p.strip_prefix("cursor="))
        .expect("a cursor");
    assert!(cursor.len() >= min && cursor.len() % 4 != 1, "{cursor}");
    assert!(cursor
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    for uri in [
        "/events/processed?cursor=",
        "/events/processed?limit=1&cursor=",
    ] {
        let (status, _, body) = send(&router, get(uri)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(body["details"][0]["field"], "cursor", "{uri}: {body}");
    }
}

#[tokio::test]
async fn cors_preflight_and_origin_headers_for_allowed_origins_only() {
    let app = Arc::new(App::new(MemoryStore::default(), MemoryPublisher::default()));
    let router = crate::router_with_cors(app, &["http://127.0.0.1:8080".to_owned()]);
    let preflight = Request::builder()
        .method(Method::OPTIONS)
        .uri("/events/generate")
        .header(header::ORIGIN, "http://127.0.0.1:8080")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "content-type,idempotency-key",
        )
        .body(Body::empty())
        .expect("request");
    let (status, headers, _) = send(&router, preflight).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://127.0.0.1:8080"
    );
    assert!(headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap_or("")
        .contains("idempotency-key"));
    assert!(headers[header::ACCESS_CONTROL_ALLOW_METHODS]
        .to_str()
        .unwrap_or("")
        .contains("POST"));

    let get = |origin: &'static str| {
        Request::get("/health")
            .header(header::ORIGIN, origin)
            .body(Body::empty())
            .expect("request")
    };
    let (_, headers, _) = send(&router, get("http://127.0.0.1:8080")).await;
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://127.0.0.1:8080"
    );
    let exposed = headers[header::ACCESS_CONTROL_EXPOSE_HEADERS]
        .to_str()
        .unwrap_or("")
        .to_owned();
    for name in ["link", "retry-after", "idempotent-replayed"] {
        assert!(exposed.contains(name), "{exposed}");
    }
    let (_, headers, _) = send(&router, get("http://evil.example")).await;
    assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
}

fn keyed(body: &str, key: &str) -> Request<Body> {
    Request::post("/events/generate")
        .header(header::CONTENT_TYPE, "application/json")
        .header("idempotency-key", key)
        .body(Body::from(body.to_owned()))
        .expect("request")
}

const BODY: &str = r#"{"userId":"u1","eventType":"LOGIN","payload":{"a":1}}"#;

#[tokio::test]
async fn a_key_replays_its_first_answer_and_publishes_once() {
    let (app, router) = app();
    let (status, headers, first) = send(&router, keyed(BODY, "k-1")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(!headers.contains_key("idempotent-replayed"));
    // The same body spelled differently is the same body.
    let spaced = r#"{ "userId": "u1", "eventType": "LOGIN", "payload": { "a": 1 } }"#;
    let (status, headers, again) = send(&router, keyed(spaced, "\"k-1\"")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(again, first);
    assert_eq!(app.publisher.published().len(), 1);
    // Another user may use the same key.
    let other = r#"{"userId":"u2","eventType":"LOGIN"}"#;
    let (status, _, body) = send(&router, keyed(other, "k-1")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_ne!(body["eventId"], first["eventId"]);
    // Without a key nothing is remembered.
    send(&router, post(BODY, Some("application/json"))).await;
    assert_eq!(app.publisher.published().len(), 3);
}

#[tokio::test]
async fn a_key_with_another_body_is_422() {
    let (app, router) = app();
    send(&router, keyed(BODY, "k-2")).await;
    let other = r#"{"userId":"u1","eventType":"LOGOUT"}"#;
    let (status, _, body) = send(&router, keyed(other, "k-2")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"], "idempotency_key_reused");
    assert_eq!(app.publisher.published().len(), 1);
}

#[tokio::test]
async fn a_retry_after_a_503_publishes_the_same_event() {
    let (app, router) = app();
    app.publisher.set_down(true);
    let (status, headers, _) = send(&router, keyed(BODY, "k-3")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(headers.contains_key(header::RETRY_AFTER));
    app.publisher.set_down(false);
    let (status, headers, body) = send(&router, keyed(BODY, "k-3")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(!headers.contains_key("idempotent-replayed"));
    let (_, _, replay) = send(&router, keyed(BODY, "k-3")).await;
    assert_eq!(replay, body);
    let published = app.publisher.published();
    assert_eq!(published.len(), 1);
    assert_eq!(body["eventId"], published[0].event_id.to_string());
}

#[tokio::test]
async fn a_key_still_in_flight_is_409_with_retry_after() {
    use event_store::{KeyRecord, KeyTimes, KeyedEvent};
    use sha2::Digest as _;
    let (app, router) = app();
    // Another request holds the key: recorded, not yet published.
    let request = event_schema::validate_request(BODY.as_bytes()).expect("valid");
    let compact = serde_json::to_vec(&request).expect("json");
    let claim = KeyRecord {
        caller: String::new(),
        user_id: "u1".into(),
        key: "k-4".into(),
        fingerprint: sha2::Sha256::digest(&compact).into(),
        event: KeyedEvent {
            event_id: uuid::Uuid::new_v4(),
            timestamp_ms: chrono::Utc::now().timestamp_millis(),
        },
    };
    let times = KeyTimes {
        now_ms: chrono::Utc::now().timestamp_millis(),
        lease_ms: 7_000,
        ttl_ms: 86_400_000,
    };
    app.store.claim_key(&claim, times).await.expect("claim");
    let (status, headers, body) = send(&router, keyed(BODY, "k-4")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "idempotency_in_progress");
    let wait: u64 = headers[header::RETRY_AFTER]
        .to_str()
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!((6..=7).contains(&wait), "{wait}");
    assert!(app.publisher.published().is_empty());
}

#[tokio::test]
async fn malformed_keys_are_400_naming_the_header() {
    let (app, router) = app();
    let long = "k".repeat(256);
    for key in [
        "",
        "\"\"",
        "\"open",
        "\"",
        long.as_str(),
        "caf\u{e9}",
        "tab\there",
    ] {
        let request = Request::post("/events/generate")
            .header(header::CONTENT_TYPE, "application/json")
            .header(
                "idempotency-key",
                axum::http::HeaderValue::from_bytes(key.as_bytes()).expect("header"),
            )
            .body(Body::from(BODY))
            .expect("request");
        let (status, _, body) = send(&router, request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{key:?}");
        assert_eq!(body["details"][0]["field"], "Idempotency-Key", "{key:?}");
    }
    let twice = Request::post("/events/generate")
        .header(header::CONTENT_TYPE, "application/json")
        .header("idempotency-key", "a")
        .header("idempotency-key", "b")
        .body(Body::from(BODY))
        .expect("request");
    assert_eq!(send(&router, twice).await.0, StatusCode::BAD_REQUEST);
    let (status, _, _) = send(&router, keyed(BODY, &"k".repeat(255))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(app.publisher.published().len(), 1);
}

fn traced(name: &str, value: &str) -> Request<Body> {
    let mut req = post(
        r#"{"userId":"u","eventType":"LOGIN"}"#,
        Some("application/json"),
    );
    req.headers_mut().insert(
        name.to_owned().parse::<header::HeaderName>().expect("name"),
        value.parse().expect("value"),
    );
    req
}

#[tokio::test]
async fn the_record_carries_the_callers_trace_under_a_span_of_its_own() {
    let (app, router) = app();
    let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let xray = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    for req in [
        traced("traceparent", caller),
        traced("x-amzn-trace-id", xray),
        traced("traceparent", "not a trace"),
    ] {
        let (status, _, _) = send(&router, req).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let traces: Vec<String> = app.publisher.traces().into_iter().flatten().collect();
    assert_eq!(traces.len(), 3, "every record has a traceparent");
    let parsed: Vec<TraceParent> = traces
        .iter()
        .map(|t| TraceParent::parse(t).expect("a valid traceparent"))
        .collect();
    assert_eq!(parsed[0].trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_ne!(traces[0], caller, "a span of events-api, not the caller's");
    assert_eq!(parsed[1].trace_id(), "5759e988bd862e3fe1be46a994272793");
    // An unreadable traceparent starts a new trace rather than failing the request.
    assert_ne!(parsed[2].trace_id, parsed[0].trace_id);
}

#[test]
fn every_outcome_makes_a_document_the_specification_accepts() {
    use crate::observe::{measure, Outcome};
    use pipeline_runtime::metrics::{Metrics, MetricsConfig};
    let metrics = Metrics::new(MetricsConfig::default(), crate::SERVICE);
    let outcomes = [
        Outcome::Accepted {
            event_id: uuid::Uuid::nil(),
            event_type: "LOGIN",
            partition: 0,
            offset: 1,
            produce: std::time::Duration::from_millis(3),
        },
        Outcome::Replayed {
            event_id: uuid::Uuid::nil(),
            event_type: "LOGIN",
        },
        Outcome::Failed {
            code: "validation_failed",
            cause: None,
        },
        Outcome::Failed {
            code: "kafka_unavailable",
            cause: Some("broker down".into()),
        },
        Outcome::Erased {
            by: "jwt:alice".into(),
            user_id: "alice".into(),
            through_ms: 1,
            deleted: 3,
            complete: true,
        },
    ];
    let mut names = Vec::new();
    for (outcome, status) in outcomes.iter().zip([201, 201, 400, 503, 200]) {
        let mut doc = metrics.document();
        measure(&mut doc, outcome, status >= 500);
        let line = doc.to_line(1).expect("a document");
        let doc = testkit::emf::check(&line).expect("conforms");
        names.extend(
            crate::observe::names::ALL
                .into_iter()
                .filter(|n| doc.contains_key(*n)),
        );
        assert!(!line.contains("broker down"), "causes stay out of metrics");
    }
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), crate::observe::names::ALL.len(), "{names:?}");
}
