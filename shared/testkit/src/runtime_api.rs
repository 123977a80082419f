//! A Lambda Runtime API served in the test's process, for running a function's real binary as
//! one execution environment: [`RuntimeApi::invoke`] queues an event and waits for the
//! function's answer, and any number of the function's `GET …/invocation/next` polls may wait
//! at once, as on Lambda Managed Instances, where the runtime keeps
//! `AWS_LAMBDA_MAX_CONCURRENCY` of them open.
//!
//! It counts what a test or a benchmark needs to see: how many polls waited at once, how many
//! invocations were handed out and not yet answered at once, and when the first poll came (the
//! end of the function's init).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// The function's answer to one invocation: its response document, or the error it posted.
pub type Answer = Result<String, String>;

/// A gauge with its high-water mark.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl Gauge {
    fn up(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
    }

    fn down(&self) {
        let _ = self
            .now
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    }
}

/// Lowers a gauge when dropped: a poll whose connection closes stops counting.
struct Up<'a>(&'a Gauge);

impl Drop for Up<'_> {
    fn drop(&mut self) {
        self.0.down();
    }
}

struct Inner {
    function: String,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, String)>>,
    enqueue: mpsc::UnboundedSender<(String, String)>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    polls: Gauge,
    in_flight: Gauge,
    first_poll: OnceLock<Instant>,
    ids: AtomicU64,
}

impl Inner {
    fn answer(&self, id: &str, answer: Answer) -> StatusCode {
        let waiter = self
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        match waiter {
            Some(w) => {
                self.in_flight.down();
                let _ = w.send(answer);
                StatusCode::ACCEPTED
            }
            None => StatusCode::BAD_REQUEST,
        }
    }
}

/// The Runtime API of one function. Stops serving when dropped.
pub struct RuntimeApi {
    addr: SocketAddr,
    inner: Arc<Inner>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(api): State<Arc<Inner>>) -> (StatusCode, HeaderMap, String) {
    api.first_poll.get_or_init(Instant::now);
    api.polls.up();
    let taken = {
        let _waiting = Up(&api.polls);
        api.queue.lock().await.recv().await
    };
    let Some((id, event)) = taken else {
        return (StatusCode::GONE, HeaderMap::new(), String::new());
    };
    api.in_flight.up();
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
        + 60_000;
    let mut headers = HeaderMap::new();
    let mut set = |k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            headers.insert(k, v);
        }
    };
    set("lambda-runtime-aws-request-id", id);
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        format!(
            "arn:aws:lambda:eu-west-1:000000000000:function:{}",
            api.function
        ),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-6744b1c2-0a1b2c3d4e5f60718293a4b5;Sampled=0".into(),
    );
    set("content-type", "application/json".into());
    (StatusCode::OK, headers, event)
}

async fn response(
    State(api): State<Arc<Inner>>,
    Path(id): Path<String>,
    body: String,
) -> StatusCode {
    api.answer(&id, Ok(body))
}

async fn error(State(api): State<Arc<Inner>>, Path(id): Path<String>, body: String) -> StatusCode {
    api.answer(&id, Err(body))
}

/// A failed init fails every invocation waiting for an answer.
async fn init_error(State(api): State<Arc<Inner>>, body: String) -> StatusCode {
    let waiting: Vec<_> = api
        .waiting
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .drain()
        .collect();
    for (_, w) in waiting {
        let _ = w.send(Err(format!("init error: {body}")));
    }
    StatusCode::ACCEPTED
}

impl RuntimeApi {
    /// Serves the Runtime API of `function` on a free loopback port.
    pub async fn start(function: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (enqueue, queue) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            function: function.to_owned(),
            queue: tokio::sync::Mutex::new(queue),
            enqueue,
            waiting: Mutex::new(HashMap::new()),
            polls: Gauge::default(),
            in_flight: Gauge::default(),
            first_poll: OnceLock::new(),
            ids: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(Arc::clone(&inner));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            inner,
            server,
        })
    }

    /// `HOST:PORT`, as `AWS_LAMBDA_RUNTIME_API` takes it.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Queues one invocation with `event` and waits for the function's answer. Invocations
    /// queued together are handed out to as many polls as wait.
    pub async fn invoke(&self, event: String) -> Answer {
        let n = self.inner.ids.fetch_add(1, Ordering::SeqCst);
        let id = format!("invocation-{n}");
        let (tx, rx) = oneshot::channel();
        self.inner
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), tx);
        if self.inner.enqueue.send((id, event)).is_err() {
            return Err("the runtime API stopped".to_owned());
        }
        rx.await
            .unwrap_or_else(|_| Err("the invocation was dropped".to_owned()))
    }

    /// Waits until `count` polls wait at once (at most `timeout`); whether they did.
    pub async fn wait_for_polls(&self, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.polls_waiting() < count {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// Polls waiting for an invocation right now.
    pub fn polls_waiting(&self) -> usize {
        self.inner.polls.now.load(Ordering::SeqCst)
    }

    /// The most polls that waited at once.
    pub fn most_polls_waiting(&self) -> usize {
        self.inner.polls.most.load(Ordering::SeqCst)
    }

    /// The most invocations handed out and not yet answered at once.
    pub fn most_in_flight(&self) -> usize {
        self.inner.in_flight.most.load(Ordering::SeqCst)
    }

    /// When the function first asked for work (its init was done), if it has.
    pub fn first_poll(&self) -> Option<Instant> {
        self.inner.first_poll.get().copied()
    }
}

/// A Function URL request (payload format 2.0), as Lambda hands it to the function.
pub fn function_url_event(method: &str, path: &str, query: &str, body: Option<&str>) -> String {
    let host = "abc.lambda-url.eu-west-1.on.aws";
    let mut headers = serde_json::json!({"host": host, "accept": "application/json"});
    if body.is_some() {
        headers["content-type"] = "application/json".into();
    }
    let mut event = serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abc",
            "domainName": host,
            "domainPrefix": "abc",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.24", "userAgent": "testkit"},
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": "$default",
            "stage": "$default",
            "time": "07/Dec/2026:10:00:00 +0000",
            "timeEpoch": 1_796_637_600_000_i64,
        },
        "isBase64Encoded": false,
    });
    if let Some(body) = body {
        event["body"] = body.into();
    }
    event.to_string()
}
