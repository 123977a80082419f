//! The plain server against clients that ask and do not read: a connection whose answer cannot
//! be written for [`events_api::WRITE_TIMEOUT`] is closed, so that it gives back its slot and
//! the page it held.

use event_kafka::MemoryPublisher;
use event_store::EventWriter;
use event_store::MemoryStore;
use events_api::App;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Events of about 16 KiB each: a page of them is about 5 MiB, more than the kernel buffers a
/// connection whose reader keeps a tiny window.
fn large_events(n: usize) -> Vec<event_schema::UserEvent> {
    (0..n)
        .map(|i| {
            let body = serde_json::json!({"userId": format!("u{i}"), "eventType": "LOGIN",
                "payload": {"pad": "x".repeat(16_000)}})
            .to_string();
            event_schema::validate_request(body.as_bytes())
                .expect("valid")
                .into_event()
        })
        .collect()
}

#[tokio::test]
async fn a_client_that_never_reads_a_large_page_is_cut_off_after_the_write_timeout() {
    let store = MemoryStore::default();
    store
        .insert_batch(&large_events(400))
        .await
        .expect("stored");
    let app = Arc::new(App::new(store, MemoryPublisher::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(events_api::serve(
        listener,
        app,
        &[],
        std::future::pending(),
    ));

    // A reader with a tiny receive window that asks for a full page and then stops reading.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("small window");
    let mut stream = socket.connect(addr).await.expect("connect");
    stream
        .write_all(b"GET /events/processed?limit=1000 HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("request sent");
    let asked = Instant::now();
    tokio::time::sleep(events_api::WRITE_TIMEOUT + Duration::from_secs(2)).await;

    // Now read what is left: the server gave up on the write, so the answer stops short of its
    // Content-Length and the connection ends.
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut got)).await;
    let ended = matches!(read, Ok(Ok(_)) | Ok(Err(_)));
    assert!(ended, "the server still holds the connection");
    let text = String::from_utf8_lossy(&got);
    let head_end = text.find("\r\n\r\n").expect("headers arrived") + 4;
    let length: usize = text[..head_end]
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("a content-length");
    assert!(length > 4 * 1024 * 1024, "a large page: {length}");
    assert!(
        got.len() - head_end < length,
        "the whole page of {length} bytes arrived; the write was never cut off"
    );
    assert!(asked.elapsed() < Duration::from_secs(40));
}
