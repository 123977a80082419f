//! Figure 4: a function's cold start, from exec to its first handled invocation, and its peak
//! RSS, against a tiny Lambda Runtime API served here, beside a hello-world `lambda_runtime`
//! function built with the same profile.

use crate::report::{median, row};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// What the runtime API saw of one function process.
enum Seen {
    /// The first `GET /invocation/next`: the function finished its init.
    Polled(Instant),
    /// The invocation's response (or error) arrived.
    Answered(Instant, Result<String, String>),
}

#[derive(Clone)]
struct RuntimeApi {
    event: Arc<Mutex<Option<String>>>,
    seen: mpsc::UnboundedSender<Seen>,
    function: String,
}

async fn next(State(api): State<RuntimeApi>) -> (StatusCode, HeaderMap, String) {
    let _ = api.seen.send(Seen::Polled(Instant::now()));
    let event = api.event.lock().map(|mut e| e.take()).unwrap_or(None);
    let Some(event) = event else {
        // One invocation per process: the next poll waits until the process is killed.
        return std::future::pending().await;
    };
    let deadline = chrono::Utc::now().timestamp_millis() + 60_000;
    let mut headers = HeaderMap::new();
    let mut set = |k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            headers.insert(k, v);
        }
    };
    set("lambda-runtime-aws-request-id", "bench-request-1".into());
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
    State(api): State<RuntimeApi>,
    Path(_id): Path<String>,
    body: String,
) -> StatusCode {
    let _ = api.seen.send(Seen::Answered(Instant::now(), Ok(body)));
    StatusCode::ACCEPTED
}

async fn error(State(api): State<RuntimeApi>, body: String) -> StatusCode {
    let _ = api.seen.send(Seen::Answered(Instant::now(), Err(body)));
    StatusCode::ACCEPTED
}

/// One cold start: times and memory of one process.
pub struct ColdStart {
    /// exec → first poll for work.
    pub init: Duration,
    /// exec → the first invocation's response.
    pub first_response: Duration,
    /// VmHWM after the first response, in KiB.
    pub peak_rss_kib: u64,
    /// The function's answer.
    pub answer: String,
}

/// The function's name as Lambda would know it: the binary's file name.
fn function_name(bin: &str) -> String {
    std::path::Path::new(bin)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Starts `bin` under a fresh runtime API, hands it `event`, and measures until it answers.
pub async fn cold_start(bin: &str, event: String, env: &[(&str, String)]) -> ColdStart {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let function = function_name(bin);
    let api = RuntimeApi {
        event: Arc::new(Mutex::new(Some(event))),
        seen: tx,
        function: function.clone(),
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(error))
        .with_state(api);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let mut cmd = Command::new(bin);
    cmd.envs(local_stack::instance::lambda_env(
        &function,
        &addr.to_string(),
        1,
    ))
    .env("AWS_REGION", "eu-west-1")
    .env(
        "RUST_LOG",
        std::env::var("BENCH_FUNCTION_LOG").unwrap_or_else(|_| "warn".into()),
    )
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
    let mut init = None;
    let outcome = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(seen) = rx.recv().await {
            match seen {
                Seen::Polled(at) => {
                    init.get_or_insert(at - started);
                }
                Seen::Answered(at, answer) => return Some((at - started, answer)),
            }
        }
        None
    })
    .await;
    let peak_rss_kib = vm_hwm_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    server.abort();
    let (first_response, answer) = match outcome {
        Ok(Some((t, Ok(answer)))) => (t, answer),
        Ok(Some((_, Err(e)))) => panic!("{bin} failed its first invocation: {e}"),
        _ => panic!("{bin} did not answer its first invocation within 60 s"),
    };
    ColdStart {
        init: init.unwrap_or(first_response),
        first_response,
        peak_rss_kib,
        answer,
    }
}

/// Medians over `runs` cold starts.
pub struct Summary {
    pub init_ms: f64,
    pub first_ms: f64,
    pub rss_mib: f64,
}

/// Each run gets `env`, plus with `store_dir` a `STORE_URL` to an SQLite file of its own there
/// (what a cold start meets: a store whose schema may not exist yet).
pub async fn summary(
    bin: &str,
    runs: usize,
    event: &str,
    env: &[(&'static str, String)],
    store_dir: Option<&std::path::Path>,
    check: impl Fn(&str),
) -> Summary {
    let name = function_name(bin);
    let (mut init, mut first, mut rss) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..runs {
        let mut env = env.to_vec();
        if let Some(dir) = store_dir {
            let db = dir.join(format!("{name}-{i}.db"));
            env.push(("STORE_URL", format!("sqlite://{}", db.display())));
        }
        let c = cold_start(bin, event.to_owned(), &env).await;
        check(&c.answer);
        init.push(c.init.as_secs_f64() * 1e3);
        first.push(c.first_response.as_secs_f64() * 1e3);
        rss.push(c.peak_rss_kib as f64 / 1024.0);
    }
    Summary {
        init_ms: median(init),
        first_ms: median(first),
        rss_mib: median(rss),
    }
}

/// Prints figure 4's rows for one function beside the hello-world baseline.
pub fn report(name: &str, f: &Summary, hello: &Summary) {
    let base = "hello-world lambda_runtime";
    row(
        &format!("{name} cold start: exec → first response"),
        f.first_ms,
        "ms",
        base,
        hello.first_ms,
    );
    row(
        &format!("{name} cold start: exec → init done (first poll)"),
        f.init_ms,
        "ms",
        base,
        hello.init_ms,
    );
    row(
        &format!("{name} peak RSS (VmHWM) after first invocation"),
        f.rss_mib,
        "MiB",
        base,
        hello.rss_mib,
    );
}
