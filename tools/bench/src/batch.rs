//! A realistic MSK batch: varied payloads, 5% duplicates, a few poison records.

use aws_lambda_events::event::kafka::KafkaEvent;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use event_schema::{validate_event, EventType, Payload, UserEvent};
use event_store::sqlite_sql;
use serde_json::json;
use std::path::Path;

pub fn event(i: usize) -> UserEvent {
    let payload = match i % 4 {
        0 => None,
        1 => Some(json!({"page": format!("/products/{i}"), "referrer": "https://example.com/search?q=shoes"})),
        2 => Some(json!({"sku": format!("SKU-{i:06}"), "price": 19.99 + i as f64, "tags": ["new", "sale"],
                     "dims": {"w": 10, "h": 20, "d": 5}})),
        _ => Some(json!({"device": {"os": "Android", "version": "16", "model": "Pixel"}, "session": i,
                     "items": (0..8).map(|k| json!({"k": k, "v": format!("value-{k}")})).collect::<Vec<_>>()})),
    }
    .and_then(|v| v.as_object().cloned())
    .map(Payload::from);
    UserEvent {
        event_id: uuid::Uuid::new_v4(),
        user_id: format!("user-{}", i % 997),
        event_type: EventType::ALL[i % 3],
        timestamp: chrono::DateTime::from_timestamp_millis(1_795_536_424_000 + i as i64)
            .unwrap_or_default(),
        payload,
    }
}

/// The body a client sends for event `i`: the same payload shapes as the batch's events.
pub fn request_body(i: usize) -> Vec<u8> {
    let e = event(i);
    let mut body = json!({"userId": e.user_id, "eventType": e.event_type.as_str()});
    if let Some(p) = e.payload {
        body["payload"] = serde_json::Value::Object(p.to_map());
    }
    body.to_string().into_bytes()
}

/// One MSK record on `partition` at `offset`: a valid LOGIN event of `user`.
pub fn msk_record(user: &str, partition: usize, offset: i64) -> serde_json::Value {
    let body = json!({"userId": user, "eventType": "LOGIN"}).to_string();
    let event = event_schema::validate_request(body.as_bytes())
        .expect("a valid request")
        .into_event();
    json!({
        "topic": "user-activity-events", "partition": partition, "offset": offset,
        "timestamp": 1_795_536_424_000u64, "timestampType": "CREATE_TIME",
        "value": STANDARD.encode(serde_json::to_vec(&event).unwrap_or_default()),
        "headers": []
    })
}

/// `records` records over 3 partitions: 5% repeat an earlier event, 10 are poison.
pub fn msk_batch(records: usize) -> KafkaEvent {
    let mut events: Vec<UserEvent> = Vec::with_capacity(records);
    let mut values: Vec<Option<String>> = Vec::with_capacity(records);
    for i in 0..records {
        if i % 20 == 19 && i > 0 {
            let dup = events[i / 2].clone();
            values.push(Some(
                STANDARD.encode(serde_json::to_vec(&dup).unwrap_or_default()),
            ));
            events.push(dup);
        } else if i % (records / 10).max(1) == 7 {
            values.push(Some(
                STANDARD.encode(br#"{"userId":"x","eventType":"login"}"#),
            ));
            events.push(event(i));
        } else {
            let e = event(i);
            values.push(Some(
                STANDARD.encode(serde_json::to_vec(&e).unwrap_or_default()),
            ));
            events.push(e);
        }
    }
    let mut partitions: serde_json::Map<String, serde_json::Value> = serde_json::Map::new();
    for (i, value) in values.into_iter().enumerate() {
        let p = i % 3;
        let list = partitions
            .entry(format!("user-activity-events-{p}"))
            .or_insert_with(|| json!([]));
        if let Some(list) = list.as_array_mut() {
            list.push(json!({
                "topic": "user-activity-events", "partition": p, "offset": i / 3,
                "timestamp": 1_795_536_424_000u64 + i as u64, "timestampType": "CREATE_TIME",
                "key": STANDARD.encode(format!("user-{}", i % 997)), "value": value,
                "headers": [{"event-type": [76, 79, 71, 73, 78]}]
            }));
        }
    }
    serde_json::from_value(json!({"eventSource": "aws:kafka", "records": partitions}))
        .expect("a KafkaEvent")
}

/// One row as the store lays it out: 16-byte id, user, type, time, compact payload.
pub type RawRow = ([u8; 16], String, String, i64, Option<String>);

/// The valid events of the batch as SQLite rows (for the ceiling).
pub fn rows(event: &KafkaEvent) -> Vec<RawRow> {
    decode_and_validate(event)
        .into_iter()
        .map(|e| {
            (
                *e.event_id.as_bytes(),
                e.user_id.clone(),
                e.event_type.as_str().to_owned(),
                e.timestamp.timestamp_millis(),
                e.payload.map(|p| p.as_json().to_owned()),
            )
        })
        .collect()
}

/// Decodes and validates every record (the CPU floor of the handler).
pub fn decode_and_validate(event: &KafkaEvent) -> Vec<UserEvent> {
    let mut out = Vec::new();
    for records in event.records.values() {
        for r in records {
            if let Some(bytes) = r.value.as_deref().and_then(|v| STANDARD.decode(v).ok()) {
                if let Ok(e) = validate_event(&bytes) {
                    out.push(e);
                }
            }
        }
    }
    out
}

/// A connection for the ceiling, opened (outside any timing) with the settings of the store's
/// writing connection (WAL, `synchronous=FULL`, no automatic checkpoint).
pub fn raw_connection(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).expect("open");
    sqlite_sql::configure(&conn).expect("the store's settings");
    sqlite_sql::configure_writer(&conn).expect("the writer's settings");
    conn
}

/// The store's ceiling: one prepared statement, one transaction, the same layout and settings.
pub fn insert_raw(conn: &mut rusqlite::Connection, rows: &[RawRow]) {
    let tx = conn.transaction().expect("tx");
    {
        let mut stmt = tx.prepare(sqlite_sql::INSERT_EVENT).expect("prepare");
        for (id, user, t, ts, payload) in rows {
            stmt.execute(rusqlite::params![&id[..], user, t, ts, payload, 0])
                .expect("insert");
        }
    }
    tx.commit().expect("commit");
}
