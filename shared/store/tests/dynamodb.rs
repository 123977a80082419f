//! The store contract against a real DynamoDB-API server (dynoxide, an implementation of the
//! DynamoDB wire protocol on SQLite), one fresh server and table per test.

use event_store::DynamoStore;
use event_store::{EventReader, EventWriter};

async fn fresh() -> DynamoStore {
    DynamoStore::local("events")
        .await
        .expect("a local DynamoDB-API server")
}

event_store::event_store_contract!(fresh());

/// The page the API asks for with its response limit reads about that much from DynamoDB, not
/// a megabyte from each of a day's 16 shards: 1000 events of 16 KiB payloads, listed 1000 at a
/// time with a 5 MiB budget, whatever filter is used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_stops_reading_at_its_byte_budget() {
    use event_schema::{EventType, UserEvent, MAX_PAYLOAD_BYTES};
    use event_store::ListQuery;
    let store = fresh().await;
    let pad = "x".repeat(MAX_PAYLOAD_BYTES - 64);
    let events: Vec<UserEvent> = (0..1000)
        .map(|i| {
            let body = format!(
                r#"{{"userId":"{}","eventType":"PRODUCT_VIEW","payload":{{"pad":"{pad}"}}}}"#,
                if i % 2 == 0 { "alice" } else { "bob" }
            );
            event_schema::validate_request(body.as_bytes())
                .expect("valid")
                .into_event()
        })
        .collect();
    for chunk in events.chunks(100) {
        store.insert_batch(chunk).await.expect("insert");
    }
    let budget = 5 * 1024 * 1024;
    for (name, query) in [
        ("everyone", ListQuery::default()),
        (
            "one type",
            ListQuery {
                event_type: Some(EventType::ProductView),
                ..ListQuery::default()
            },
        ),
        (
            "one user",
            ListQuery {
                user_id: Some("alice".into()),
                ..ListQuery::default()
            },
        ),
    ] {
        let query = ListQuery {
            limit: 1000,
            max_bytes: Some(budget),
            ..query
        };
        let before = store.read_bytes();
        let page = store.list(query).await.expect("list");
        let read = store.read_bytes() - before;
        // Up to one more largest item per shard than the budget: each shard's last query may
        // end just past it.
        assert!(
            read <= budget as u64 + 16 * 18_000,
            "{name}: read {read} bytes for a budget of {budget}"
        );
        assert!(
            page.events.len() >= 200 && page.next.is_some(),
            "{name}: {} events, next {:?}",
            page.events.len(),
            page.next
        );
    }
}
