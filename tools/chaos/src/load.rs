//! A closed loop of clients posting events, each request recorded with its outcome.
//!
//! Plain clients post a new event after every answer. Keyed clients send each event with an
//! `Idempotency-Key` and send it again, body and key unchanged, after anything but a 201, as a
//! careful client would: every one of their events must end up stored exactly once.
//!
//! Every body carries a marker (`payload.chaos = {c, n}`: client and sequence number), so that a
//! request can be matched with what was stored even when it was answered 503 and no `eventId`
//! came back.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// An HTTP answer: its status, and whether it carried `Retry-After`.
    Status {
        /// The HTTP status.
        code: u16,
        /// `Retry-After` present.
        retry_after: bool,
        /// The `eventId` of a 201.
        event_id: Option<String>,
    },
    /// No HTTP answer: the connection failed or was dropped, or the client timed out.
    Transport(String),
}

/// One request.
#[derive(Debug, Clone)]
pub struct Request {
    /// The phase it was sent in.
    pub phase: usize,
    /// Client and sequence number (the marker in the body).
    pub marker: (usize, u64),
    /// When it was sent and how long the answer took.
    pub sent: Instant,
    /// Time to the answer.
    pub latency: Duration,
    /// What came back.
    pub outcome: Outcome,
}

/// The running clients.
pub struct Load {
    stop: Arc<AtomicBool>,
    /// The current phase, read by every client for each request.
    pub phase: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Request>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// Starts `clients` clients, numbered from `first`, posting to `base` (the events-api URL)
    /// as fast as answers come; `keyed` clients retry each event with its key until a 201.
    pub fn start(
        base: &str,
        clients: usize,
        first: usize,
        client_timeout: Duration,
        keyed: bool,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let phase = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let http = reqwest::Client::builder()
            .timeout(client_timeout)
            .build()
            .expect("http client");
        let tasks = (first..first + clients)
            .map(|c| {
                let (stop, phase, requests, http) = (
                    Arc::clone(&stop),
                    Arc::clone(&phase),
                    Arc::clone(&requests),
                    http.clone(),
                );
                let url = format!("{base}/events/generate");
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let event_type = ["LOGIN", "PRODUCT_VIEW", "LOGOUT"][(n % 3) as usize];
                        let body = serde_json::json!({
                            "userId": format!("chaos-{c}"),
                            "eventType": event_type,
                            "payload": {"chaos": {"c": c, "n": n}},
                        });
                        let p = phase.load(Ordering::Relaxed);
                        let sent = Instant::now();
                        let key = keyed.then(|| format!("chaos-{c}-{n}"));
                        let outcome = post(&http, &url, &body, key.as_deref()).await;
                        let latency = sent.elapsed();
                        let created = matches!(outcome, Outcome::Status { code: 201, .. });
                        let pause =
                            !created && (keyed || matches!(outcome, Outcome::Status { .. }));
                        requests
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(Request {
                                phase: p,
                                marker: (c, n),
                                sent,
                                latency,
                                outcome,
                            });
                        // A keyed client sends the same event again until it is created.
                        if created || !keyed {
                            n += 1;
                        }
                        // A client that was told to come back later waits a little, as one
                        // would; it does not hammer a broker that is down.
                        if pause {
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                })
            })
            .collect();
        Self {
            stop,
            phase,
            requests,
            tasks,
        }
    }

    /// Requests answered so far.
    pub fn snapshot(&self) -> Vec<Request> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Stops the clients after their current request and returns every request.
    pub async fn stop(self) -> Vec<Request> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        requests.clone()
    }
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
    key: Option<&str>,
) -> Outcome {
    let mut request = http.post(url).json(body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    match request.send().await {
        Err(e) => Outcome::Transport(e.to_string()),
        Ok(res) => {
            let code = res.status().as_u16();
            let retry_after = res.headers().contains_key("retry-after");
            let event_id = match res.json::<serde_json::Value>().await {
                Ok(v) if code == 201 => v["eventId"].as_str().map(str::to_owned),
                Ok(_) => None,
                Err(e) => return Outcome::Transport(format!("HTTP {code}, body unreadable: {e}")),
            };
            Outcome::Status {
                code,
                retry_after,
                event_id,
            }
        }
    }
}
