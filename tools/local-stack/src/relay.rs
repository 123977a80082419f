//! The Runtime API, as each function instance sees it: a relay in front of cargo lambda watch's.
//!
//! cargo lambda watch 1.9.2 answers a function's `POST …/response` with 200 before it has read
//! the body, and hands the unread body to the waiting Function URL request. When the rest of a
//! large body (over about 8 KB) arrives after that 200 and the runtime then closes its
//! connection, watch fails to read it and answers the caller a bare 500 (`DataDeserialization`
//! in its `error.rs`, logged nowhere). This relay reads every request body completely and passes
//! it on with `Connection: close`, which watch then reads whole before the connection ends.
//!
//! It also knows which invocation its instance is working on, so that when the instance dies
//! the invocation fails at once with Lambda's `Runtime.ExitError`, as on AWS, instead of
//! waiting for a timeout.
//!
//! While the functions are being rebuilt ([`crate::reload`]) the relay holds every invocation
//! watch hands out: it is kept here, not given to the running process, and goes to whichever
//! process asks next once the build ends: the new instance when the build replaced it, the old
//! one when the build failed or did not change this function. A request that arrives during a
//! rebuild therefore waits for it and is answered by the new code.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Header carrying the invocation id in a `GET …/invocation/next` answer.
const REQUEST_ID: &str = "lambda-runtime-aws-request-id";

/// An answer of watch's `…/invocation/next`, kept during a rebuild.
struct Held {
    status: StatusCode,
    headers: HeaderMap,
    body: axum::body::Bytes,
}

/// One instance's relay.
pub struct Relay {
    /// `http://127.0.0.1:PORT/.rt/FUNCTION`: watch's Runtime API for the function.
    upstream: String,
    http: reqwest::Client,
    /// The invocations the instance took and has not answered (several when it runs more than
    /// one at a time: `AWS_LAMBDA_MAX_CONCURRENCY`).
    in_flight: Mutex<Vec<String>>,
    /// The most invocations the instance ran at once.
    most_in_flight: AtomicUsize,
    /// True while the functions are being rebuilt.
    rebuilding: watch::Receiver<bool>,
    /// The invocations taken from watch during a rebuild, not yet given to a process.
    held: Mutex<VecDeque<Held>>,
    /// Counts the processes started behind this relay: a held request of a process that has
    /// been replaced is not answered.
    generation: watch::Sender<u64>,
}

impl Relay {
    /// A relay to watch's Runtime API at `watch` (`http://127.0.0.1:PORT`) for `function`,
    /// holding invocations while `rebuilding` is true.
    pub fn new(watch: &str, function: &str, rebuilding: watch::Receiver<bool>) -> Arc<Self> {
        Arc::new(Self {
            upstream: format!("{watch}/.rt/{function}"),
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap_or_default(),
            in_flight: Mutex::new(Vec::new()),
            most_in_flight: AtomicUsize::new(0),
            rebuilding,
            held: Mutex::new(VecDeque::new()),
            generation: watch::Sender::new(0),
        })
    }

    /// Called when a new process starts behind the relay.
    pub(crate) fn next_generation(&self) {
        self.generation.send_modify(|g| *g += 1);
    }

    /// Watches the count of processes started behind the relay.
    pub(crate) fn generations(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    fn take_held(&self) -> Option<Held> {
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
    }

    /// Keeps an invocation watch handed out during a rebuild, and waits until the rebuild ends
    /// or the process that asked for it (process `asked_by`) is replaced. Whether that process
    /// is still current: then it asks again and takes a kept invocation (otherwise the new
    /// process takes them on its first requests).
    async fn park(&self, held: Held, asked_by: u64) -> bool {
        let mut generation = self.generation.subscribe();
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(held);
        let mut rebuilding = self.rebuilding.clone();
        tokio::select! {
            _ = rebuilding.wait_for(|r| !*r) => {}
            _ = generation.wait_for(|g| *g != asked_by) => {}
        }
        *self.generation.borrow() == asked_by
    }

    /// Serves the relay on `listener` until the task is dropped.
    pub fn serve(
        self: &Arc<Self>,
        listener: tokio::net::TcpListener,
    ) -> tokio::task::JoinHandle<()> {
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(Arc::clone(self));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        })
    }

    /// Whether the instance took an invocation it has not answered yet.
    pub fn busy(&self) -> bool {
        !self
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// The most invocations the instance ran at once so far.
    pub fn most_in_flight(&self) -> usize {
        self.most_in_flight.load(Ordering::Relaxed)
    }

    /// The invocations the instance took and has not answered; cleared.
    pub fn take_in_flight(&self) -> Vec<String> {
        std::mem::take(&mut *self.in_flight.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Fails invocation `id` the way Lambda does when the runtime process exits.
    pub async fn fail_exited(&self, id: &str, how: &str) {
        let body = serde_json::json!({
            "errorType": "Runtime.ExitError",
            "errorMessage": format!("RequestId: {id} Error: Runtime exited with error: {how}"),
        });
        let _ = self
            .http
            .post(format!(
                "{}/2018-06-01/runtime/invocation/{id}/error",
                self.upstream
            ))
            .header("lambda-runtime-function-error-type", "Runtime.ExitError")
            .header("connection", "close")
            .json(&body)
            .send()
            .await;
    }

    fn track(&self, path: &str, answer: &HeaderMap) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        if path.ends_with("/invocation/next") {
            if let Some(id) = answer.get(REQUEST_ID).and_then(|v| v.to_str().ok()) {
                in_flight.push(id.to_owned());
                self.most_in_flight
                    .fetch_max(in_flight.len(), Ordering::Relaxed);
            }
        } else if path.ends_with("/response") || path.ends_with("/error") {
            // …/invocation/{id}/response
            if let Some(id) = path.rsplit('/').nth(1) {
                in_flight.retain(|i| i != id);
            }
        }
    }
}

impl Held {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        response
    }
}

fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection" | "keep-alive" | "transfer-encoding" | "host" | "content-length"
    )
}

async fn forward(State(relay): State<Arc<Relay>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let next = path.ends_with("/invocation/next");
    let mut generation = relay.generations();
    let asked_by = *generation.borrow_and_update();
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    // The whole body first: watch then gets it in one piece, with the connection closing.
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    loop {
        if next {
            if let Some(held) = relay.take_held() {
                relay.track(&path, &held.headers);
                return held.into_response();
            }
        }
        let mut upstream = relay
            .http
            .request(
                parts.method.clone(),
                format!("{}{path}{query}", relay.upstream),
            )
            .header("connection", "close")
            .body(body.clone());
        for (name, value) in &parts.headers {
            if !hop_by_hop(name) {
                upstream = upstream.header(name, value);
            }
        }
        let answer = tokio::select! {
            answer = upstream.send() => answer,
            // The process waiting for its next invocation was replaced: its wait at watch ends
            // here, so that watch does not hand an invocation to a process that is gone.
            _ = generation.wait_for(|g| *g != asked_by), if next => {
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        };
        let answer = match answer {
            Ok(a) => a,
            Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
        };
        let status = answer.status();
        let mut headers = HeaderMap::new();
        for (name, value) in answer.headers() {
            if !hop_by_hop(name) {
                headers.append(name.clone(), value.clone());
            }
        }
        let body = answer.bytes().await.unwrap_or_default();
        let held = Held {
            status,
            headers,
            body,
        };
        if next && status.is_success() && *relay.rebuilding.borrow() {
            // Kept until the build ends; then this process, if still current, takes a kept
            // invocation (the queue's first) or asks watch again. Replaced while it waited:
            // the new process takes what was kept.
            if relay.park(held, asked_by).await {
                continue;
            }
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        if held.status.is_success() {
            relay.track(&path, &held.headers);
        }
        return held.into_response();
    }
}
