//! Batches and erasure end to end, as a user runs them: the `events-api` binary as a plain
//! server and the consumer (`events-consumer`'s loop, in process) on one SQLite file and a real
//! broker, checked from outside over HTTP.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use testkit::kafka::{brokers, create_topic, unique_topic, wait_until_consumed};
use testkit::process::Server;
use tokio::sync::watch;

const BIN: &str = env!("CARGO_BIN_EXE_events-api");

struct Stack {
    topic: String,
    dlq: String,
    group: String,
    store: String,
    _dir: tempfile::TempDir,
}

impl Stack {
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let stack = Self {
            topic: unique_topic("batch-erase"),
            dlq: unique_topic("batch-erase-dlq"),
            group: unique_topic("batch-erase-group"),
            store: format!("sqlite://{}", dir.path().join("events.db").display()),
            _dir: dir,
        };
        create_topic(&brokers(), &stack.topic, 3).await;
        create_topic(&brokers(), &stack.dlq, 1).await;
        stack
    }

    fn api(&self) -> Server {
        Server::start(
            BIN,
            &[
                ("KAFKA_BROKERS", &brokers()),
                ("KAFKA_TOPIC", &self.topic),
                ("STORE_URL", &self.store),
                ("AWS_LAMBDA_RUNTIME_API", ""),
                ("AUTH_MODE", "none"),
            ],
        )
    }

    /// The consumer's loop until everything on the topic is stored, then stopped.
    async fn consume_all(&self) {
        let brokers = brokers();
        let src = [
            ("KAFKA_BROKERS", brokers.as_str()),
            ("KAFKA_TOPIC", &self.topic),
            ("KAFKA_DLQ_TOPIC", &self.dlq),
            ("CONSUMER_GROUP_ID", &self.group),
            ("STORE_URL", &self.store),
            ("CONSUMER_BATCH_WINDOW_MS", "100"),
            ("CONSUMER_FETCH_WAIT_MS", "100"),
            ("CONSUMER_SESSION_TIMEOUT_MS", "6000"),
        ];
        let config = events_consumer::Config::from_source(&src[..]).expect("config");
        let (stop, stopped) = watch::channel(false);
        let running = tokio::spawn(events_consumer::run(config, stopped));
        let (b, g, t) = (brokers.clone(), self.group.clone(), self.topic.clone());
        tokio::task::spawn_blocking(move || {
            wait_until_consumed(&b, &g, &t, Duration::from_secs(90))
        })
        .await
        .expect("consumed");
        let _ = stop.send(true);
        let _ = running.await.expect("the loop ends");
    }
}

fn login(user: &str) -> Value {
    json!({"userId": user, "eventType": "LOGIN"})
}

async fn post_batch(
    c: &reqwest::Client,
    api: &Server,
    key: Option<&str>,
    body: String,
) -> (u16, bool, Value) {
    let mut req = c
        .post(api.url("/events/batch"))
        .header("content-type", "application/json")
        .body(body);
    if let Some(key) = key {
        req = req.header("idempotency-key", key);
    }
    let res = req.send().await.expect("the server answers");
    let status = res.status().as_u16();
    let replayed = res.headers().contains_key("idempotent-replayed");
    let body = res.json().await.unwrap_or(Value::Null);
    (status, replayed, body)
}

fn statuses(answer: &Value) -> Vec<i64> {
    answer["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["status"].as_i64())
        .collect()
}

fn ids(answer: &Value) -> Vec<String> {
    answer["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["eventId"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn batches_are_stored_once_per_item_and_an_erasure_reaches_events_still_in_kafka() {
    let stack = Stack::new().await;
    let api = stack.api();
    let c = reqwest::Client::new();

    // 100 events in one batch, and its keyed retry, which publishes nothing.
    let hundred = json!({"events": (0..100).map(|i| login(&format!("batcher-{}", i % 7))).collect::<Vec<_>>()})
        .to_string();
    let (status, replayed, first) = post_batch(&c, &api, Some("batch-1"), hundred.clone()).await;
    assert_eq!(status, 200, "{first}");
    assert!(!replayed);
    assert_eq!(statuses(&first), vec![201; 100]);
    let batch_ids = ids(&first);
    let (status, replayed, again) = post_batch(&c, &api, Some("batch-1"), hundred).await;
    assert_eq!((status, replayed), (200, true), "{again}");
    assert_eq!(again["results"], first["results"], "the same answer");

    // A mixed batch: answered per item, only the valid ones published.
    let mixed = json!({"events": [
        login("mixed-a"),
        {"userId": "mixed-b"},
        {"userId": "mixed-c", "eventType": "PRODUCT_VIEW", "payload": {"sku": "A-1"}},
        {"userId": "", "eventType": "LOGIN"},
    ]});
    let (status, _, answer) = post_batch(&c, &api, None, mixed.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(statuses(&answer), [201, 400, 201, 400]);
    assert_eq!(answer["results"][1]["error"]["error"], "validation_failed");
    let mixed_ids = ids(&answer);

    // The batch's own limits refuse it whole.
    let too_many = json!({"events": vec![login("x"); event_schema::MAX_BATCH_ITEMS + 1]});
    let too_large = format!(
        r#"{{"events":[{{"userId":"x","eventType":"LOGIN","payload":{{"pad":"{}"}}}}]}}"#,
        "x".repeat(event_schema::MAX_BATCH_BYTES)
    );
    for (body, want) in [
        (too_many.to_string(), 400),
        (r#"{"events":[]}"#.to_owned(), 400),
        ("[1,2]".to_owned(), 400),
        ("not json".to_owned(), 400),
        (too_large, 413),
    ] {
        let (status, _, answer) = post_batch(&c, &api, None, body).await;
        assert_eq!(status, want, "{answer}");
        assert!(answer["results"].is_null(), "refused whole: {answer}");
    }

    // 50 events of one user are still in Kafka (nothing consumes yet) when it is erased.
    let doomed = json!({"events": vec![login("erased-user"); 50]}).to_string();
    let (_, _, answer) = post_batch(&c, &api, None, doomed).await;
    assert_eq!(statuses(&answer), vec![201; 50]);
    let res = c
        .delete(api.url("/users/erased-user/events"))
        .send()
        .await
        .expect("answer");
    assert_eq!(res.status(), 200);
    let erasure: Value = res.json().await.expect("json");
    assert_eq!(erasure["userId"], "erased-user");
    assert_eq!(erasure["complete"], true);
    // Later events are stored: an erasure is not a ban.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let later = json!({"events": vec![login("erased-user"); 3]}).to_string();
    let (_, _, answer) = post_batch(&c, &api, None, later).await;
    let later_ids = ids(&answer);
    assert_eq!(later_ids.len(), 3);

    stack.consume_all().await;
    let mut stored: BTreeMap<String, (String, usize)> = BTreeMap::new();
    for e in testkit::http::listed(&c, &api.url("")).await {
        let id = e["eventId"].as_str().unwrap_or_default().to_owned();
        let user = e["userId"].as_str().unwrap_or_default().to_owned();
        stored.entry(id).or_insert((user, 0)).1 += 1;
    }
    for id in batch_ids.iter().chain(&mixed_ids).chain(&later_ids) {
        assert_eq!(stored.get(id).map(|s| s.1), Some(1), "{id} stored once");
    }
    let erased_user: Vec<&String> = stored
        .iter()
        .filter(|(_, (user, _))| user == "erased-user")
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        erased_user.len(),
        3,
        "only the later events of the erased user"
    );
    assert_eq!(
        stored.len(),
        batch_ids.len() + mixed_ids.len() + later_ids.len(),
        "nothing else: the refused items and the erased events are not stored"
    );
    assert!(api.terminate(), "the server stops on SIGTERM");
}
