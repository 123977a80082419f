//! Function instances: each a process of the function's binary behind its own Runtime API
//! relay, started again when it exits, as Lambda starts a new execution environment.

use crate::relay::Relay;
use std::fs::File;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// The variables Lambda sets for every function, as `lambda_runtime` reads them, for an
/// environment that runs `concurrency` invocations at once: 1 as on Lambda's default model, which
/// leaves `AWS_LAMBDA_MAX_CONCURRENCY` unset (set, `lambda_runtime::run` warns that it ignores
/// it); more as `PerExecutionEnvironmentMaxConcurrency` on Lambda Managed Instances.
pub fn lambda_env(function: &str, runtime_api: &str, concurrency: usize) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", function.to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{function}"),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "local".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if concurrency > 1 {
        env.push((
            "AWS_LAMBDA_MAX_CONCURRENCY".to_owned(),
            concurrency.to_string(),
        ));
    }
    env
}

/// What an instance needs to start.
#[derive(Clone)]
pub struct Spec {
    /// The function's name (its binary's name too).
    pub function: String,
    /// The binary.
    pub binary: PathBuf,
    /// Settings, then the Lambda variables.
    pub env: Vec<(String, String)>,
    /// Where its output goes (appended).
    pub log: PathBuf,
    /// Invocations it runs at once.
    pub concurrency: usize,
}

/// A supervised instance.
pub struct Instance {
    pid: Arc<Mutex<Option<u32>>>,
    relay: Arc<Relay>,
    task: tokio::task::JoinHandle<()>,
    /// Bumped to have the supervisor start a new process in place of the running one.
    replace: Arc<watch::Sender<u64>>,
}

/// What the rebuild loop needs of an instance: to replace its process.
#[derive(Clone)]
pub struct Handle {
    relay: Arc<Relay>,
    replace: Arc<watch::Sender<u64>>,
}

impl Instance {
    /// Starts the instance behind a relay to watch (`http://127.0.0.1:PORT`), and keeps it
    /// running until `stop` turns true. While `rebuilding` is true, the relay holds the
    /// invocations watch hands out ([`Relay`]).
    pub async fn start(
        spec: Spec,
        watch: &str,
        stop: watch::Receiver<bool>,
        rebuilding: watch::Receiver<bool>,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let runtime_api = listener.local_addr()?.to_string();
        let relay = Relay::new(watch, &spec.function, rebuilding);
        let server = relay.serve(listener);
        let mut spec = spec;
        spec.env
            .extend(lambda_env(&spec.function, &runtime_api, spec.concurrency));
        let pid = Arc::new(Mutex::new(None));
        let (replace, replaced) = watch::channel(0);
        let task = tokio::spawn(supervise(
            spec,
            Arc::clone(&relay),
            Arc::clone(&pid),
            Signals { stop, replaced },
            server,
        ));
        Ok(Self {
            pid,
            relay,
            task,
            replace: Arc::new(replace),
        })
    }

    /// A handle for replacing the instance's process.
    pub fn handle(&self) -> Handle {
        Handle {
            relay: Arc::clone(&self.relay),
            replace: Arc::clone(&self.replace),
        }
    }

    /// The running process, if any.
    pub fn pid(&self) -> Option<u32> {
        *self.pid.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether it is running an invocation (or several) right now.
    pub fn busy(&self) -> bool {
        self.relay.busy()
    }

    /// The most invocations it ran at once so far.
    pub fn most_in_flight(&self) -> usize {
        self.relay.most_in_flight()
    }

    /// Waits for the supervisor to finish (after `stop`).
    pub async fn join(self) {
        let _ = self.task.await;
    }
}

impl Handle {
    /// Starts a new process of the instance's binary (rebuilt) in place of the running one,
    /// once that one has finished its invocations (waiting at most `idle_within`); returns once
    /// the new process runs, or after 10 s.
    pub async fn replace(&self, idle_within: Duration) {
        let deadline = tokio::time::Instant::now() + idle_within;
        while self.relay.busy() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut started = self.relay.generations();
        let before = *started.borrow_and_update();
        self.replace.send_modify(|n| *n += 1);
        let _ =
            tokio::time::timeout(Duration::from_secs(10), started.wait_for(|g| *g > before)).await;
    }
}

/// What the supervisor listens to besides its process.
struct Signals {
    /// Turns true when the stack stops.
    stop: watch::Receiver<bool>,
    /// Changes when the process is to be replaced by a new one.
    replaced: watch::Receiver<u64>,
}

async fn supervise(
    spec: Spec,
    relay: Arc<Relay>,
    pid: Arc<Mutex<Option<u32>>>,
    signals: Signals,
    server: tokio::task::JoinHandle<()>,
) {
    let Signals {
        mut stop,
        mut replaced,
    } = signals;
    let mut restarts = 0u32;
    while !*stop.borrow() {
        let open = || File::options().create(true).append(true).open(&spec.log);
        let (Ok(out), Ok(err)) = (open(), open()) else {
            eprintln!("local-stack: cannot open {}", spec.log.display());
            break;
        };
        // Before the process exists, so that its first request is already of its generation.
        relay.next_generation();
        let child = match tokio::process::Command::new(&spec.binary)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .kill_on_drop(true)
            .spawn()
        {
            Ok(c) => Some(c),
            // E.g. the binary is being replaced by a build: tried again after a delay.
            Err(e) => {
                eprintln!("local-stack: cannot start {}: {e}", spec.binary.display());
                None
            }
        };
        let started = std::time::Instant::now();
        let mut new_code = false;
        if let Some(mut child) = child {
            *pid.lock().unwrap_or_else(|e| e.into_inner()) = child.id();
            let status = tokio::select! {
                s = child.wait() => s,
                _ = stop.changed() => {
                    let _ = child.start_kill();
                    let _ = child.wait().await;
                    break;
                }
                Ok(()) = replaced.changed() => {
                    new_code = true;
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            *pid.lock().unwrap_or_else(|e| e.into_inner()) = None;
            let how = match &status {
                Ok(s) => s.to_string(),
                Err(e) => e.to_string(),
            };
            for id in relay.take_in_flight() {
                relay.fail_exited(&id, &how).await;
            }
        }
        if new_code {
            restarts = 0;
            continue;
        }
        // Only quick successive exits count towards the backoff.
        restarts = if started.elapsed() > Duration::from_secs(5) {
            1
        } else {
            restarts + 1
        };
        // A function that exits at once every time (a configuration error) is restarted
        // less and less often, as Lambda backs off failing inits.
        let delay = Duration::from_millis(100 * u64::from(restarts.min(50)));
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = stop.changed() => break,
        }
    }
    server.abort();
}
