//! Figure 3: from a 201 of `POST /events/generate` to the event appearing in
//! `GET /events/processed`, through the broker, the local MSK trigger and the processor, all as
//! `make dev` runs them.

use crate::report::{row, Latencies};
use crate::{api, batch};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One event through the whole pipeline before any clock runs: the trigger joins its consumer
/// group and each function's first invocation compiles or starts it.
async fn prime(client: &reqwest::Client, base: &str) {
    let (id, _) = api::generate(client, base, batch::request_body(0))
        .await
        .expect("the events-api creates a first event");
    let url = format!("{base}/events/processed?limit=10");
    let deadline = Instant::now() + Duration::from_secs(180);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(&url).send().await {
            if r.text().await.is_ok_and(|t| t.contains(&id)) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the first event was not listed within 180 s");
}

/// Sends `events` requests to `base` (the events-api URL), `rate` per second with at most 8 in
/// flight, while polling the listing at `list_base`; prints p50/p99 of created → listed beside
/// the window.
pub async fn created_to_listed(
    base: &str,
    list_base: &str,
    events: usize,
    rate: f64,
    window_ms: u64,
) {
    let client = reqwest::Client::new();
    prime(&client, base).await;
    let created: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let listed: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let failed = Arc::new(Mutex::new(0usize));
    let post_latency: Arc<Mutex<Vec<Duration>>> = Arc::default();
    // How many events the poller waits for: unknown (MAX) until every request was answered.
    let total = Arc::new(AtomicUsize::new(usize::MAX));

    let poller = {
        let (client, listed, url) = (
            client.clone(),
            Arc::clone(&listed),
            format!("{list_base}/events/processed"),
        );
        let (created, total) = (Arc::clone(&created), Arc::clone(&total));
        tokio::spawn(async move {
            let (mut polls, mut poll_time) = (0usize, Duration::ZERO);
            loop {
                let t0 = Instant::now();
                // The newest 100 hold the last seconds of events; every 20th poll reads 1 000
                // so that an event listed later than that is still seen.
                let limit = if polls % 20 == 19 { 1000 } else { 100 };
                if let Ok(r) = client.get(format!("{url}?limit={limit}")).send().await {
                    if let Ok(list) = r.json::<Vec<serde_json::Value>>().await {
                        let at = Instant::now();
                        let mut seen = listed.lock().unwrap_or_else(|e| e.into_inner());
                        for e in &list {
                            if let Some(id) = e.get("eventId").and_then(|v| v.as_str()) {
                                seen.entry(id.to_owned()).or_insert(at);
                            }
                        }
                    }
                }
                polls += 1;
                poll_time += t0.elapsed();
                let done = {
                    let c = created.lock().unwrap_or_else(|e| e.into_inner());
                    let l = listed.lock().unwrap_or_else(|e| e.into_inner());
                    c.len() == total.load(Ordering::Relaxed) && c.keys().all(|k| l.contains_key(k))
                };
                if done {
                    return (polls, poll_time);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };

    let gap = Duration::from_secs_f64(1.0 / rate);
    let permits = Arc::new(tokio::sync::Semaphore::new(8));
    let mut senders = Vec::with_capacity(events);
    let started = Instant::now();
    for i in 0..events {
        tokio::time::sleep_until((started + gap * i as u32).into()).await;
        let permit = Arc::clone(&permits).acquire_owned().await;
        let (client, created, failed) = (client.clone(), Arc::clone(&created), Arc::clone(&failed));
        let post_latency = Arc::clone(&post_latency);
        let base = base.to_owned();
        senders.push(tokio::spawn(async move {
            let _permit = permit;
            let t0 = Instant::now();
            match api::generate(&client, &base, batch::request_body(i)).await {
                Some((id, at)) => {
                    post_latency
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(at - t0);
                    created
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(id, at);
                }
                None => *failed.lock().unwrap_or_else(|e| e.into_inner()) += 1,
            }
        }));
    }
    for s in senders {
        let _ = s.await;
    }
    let failures = *failed.lock().unwrap_or_else(|e| e.into_inner());
    assert_eq!(
        failures, 0,
        "{failures} of {events} requests were not created"
    );
    total.store(events - failures, Ordering::Relaxed);
    let (polls, poll_time) = match tokio::time::timeout(Duration::from_secs(120), poller).await {
        Ok(Ok(p)) => p,
        _ => panic!("not every created event was listed within 120 s"),
    };

    let created = created.lock().unwrap_or_else(|e| e.into_inner());
    let listed = listed.lock().unwrap_or_else(|e| e.into_inner());
    let lat = Latencies::new(
        created
            .iter()
            .filter_map(|(id, at)| listed.get(id).map(|l| l.saturating_duration_since(*at)))
            .collect(),
    );
    let posts = Latencies::new(std::mem::take(
        &mut *post_latency.lock().unwrap_or_else(|e| e.into_inner()),
    ));
    eprintln!(
        "bench: e2e window {window_ms} ms: {} events in {:.1} s (POST p50 {:.1} ms, p99 {:.1} ms), \
         {polls} listing polls of {:.1} ms on average",
        lat.len(),
        started.elapsed().as_secs_f64(),
        posts.ms(50.0),
        posts.ms(99.0),
        poll_time.as_secs_f64() * 1e3 / polls.max(1) as f64,
    );
    let baseline = format!("trigger batching window {window_ms} ms");
    row(
        &format!("201 → listed under make dev, window {window_ms} ms, p50 ({events} events)"),
        lat.ms(50.0),
        "ms",
        &baseline,
        window_ms as f64,
    );
    row(
        &format!("201 → listed under make dev, window {window_ms} ms, p99 ({events} events)"),
        lat.ms(99.0),
        "ms",
        &baseline,
        window_ms as f64,
    );
}
