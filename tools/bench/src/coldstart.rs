//! Figure 4: a function's cold start, from exec to its first handled invocation, and its peak
//! RSS, against a Lambda Runtime API served here (testkit's), beside a hello-world `lambda_runtime`
//! function built with the same profile.

use crate::report::{median, row};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use testkit::runtime_api::RuntimeApi;

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

pub fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// `bin` as Lambda starts it against `api`, running `concurrency` invocations at once, with
/// `env` (its `RUST_LOG` from `BENCH_FUNCTION_LOG`, default `warn`, unless `env` sets one).
pub fn function_command(
    bin: &str,
    api: &RuntimeApi,
    concurrency: usize,
    env: &[(&str, String)],
) -> Command {
    let mut cmd = Command::new(bin);
    cmd.envs(local_stack::instance::lambda_env(
        &function_name(bin),
        &api.address(),
        concurrency,
    ))
    .env("AWS_REGION", "eu-west-1")
    .env(
        "RUST_LOG",
        std::env::var("BENCH_FUNCTION_LOG").unwrap_or_else(|_| "warn".into()),
    )
    .envs(env.iter().map(|(k, v)| (k, v)))
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::inherit());
    cmd
}

/// Starts `bin` under a fresh runtime API, hands it `event`, and measures until it answers.
pub async fn cold_start(bin: &str, event: String, env: &[(&str, String)]) -> ColdStart {
    let api = RuntimeApi::start(&function_name(bin))
        .await
        .expect("runtime API");
    let started = Instant::now();
    let mut child = function_command(bin, &api, 1, env)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
    let outcome = tokio::time::timeout(Duration::from_secs(60), api.invoke(event)).await;
    let first_response = started.elapsed();
    let peak_rss_kib = vm_hwm_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let answer = match outcome {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => panic!("{bin} failed its first invocation: {e}"),
        Err(_) => panic!("{bin} did not answer its first invocation within 60 s"),
    };
    ColdStart {
        init: api
            .first_poll()
            .map_or(first_response, |at| at.saturating_duration_since(started)),
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
