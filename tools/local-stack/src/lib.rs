//! The local pipeline, started one way for everyone: `make dev`, the browser tests, the
//! end-to-end test and the chaos harness.
//!
//! [`Stack::start`] runs `cargo lambda watch --only-lambda-apis` for the Lambda APIs (Function
//! URLs, the Invoke API, the Runtime API), and starts the functions itself ([`instance`]): each
//! instance is a process of the function's binary that polls watch's Runtime API through a
//! [`relay`] which works around watch's lost response bodies and fails an invocation at once
//! when its instance dies, as Lambda does. An instance that exits is started again. Then it
//! starts the local MSK trigger (`msk-trigger`) pointed at the Invoke API. Every setting goes to
//! the functions and the trigger as environment variables (no comma splitting). Processes are
//! stopped on drop; [`Stack::kill_function`] and [`Stack::kill_trigger`] simulate crashes. With
//! [`Options::reload`] set, the functions are rebuilt on a change of their sources and their
//! instances replaced ([`reload`]), as under `cargo lambda watch`. The `local-stack` binary
//! wraps this for scripts; [`settings`] reads the `.env` format.
#![warn(missing_docs)]

pub mod copy;
pub mod instance;
pub mod process;
pub mod relay;
pub mod reload;
pub mod settings;

use instance::{Instance, Spec};
use process::Group;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::sync::watch;

/// Longest wait for `cargo lambda watch` to listen.
const WATCH_START: Duration = Duration::from_secs(120);
/// The functions, by binary name.
pub const EVENTS_API: &str = "events-api";
/// The Kafka-triggered function.
pub const EVENTS_PROCESSOR: &str = "events-processor";

/// Why the stack did not start.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// A process could not be started or a file written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The settings cannot be passed on.
    #[error("settings: {0}")]
    Settings(String),
    /// `cargo lambda watch` did not listen in time.
    #[error("cargo lambda watch did not listen on port {port} within {WATCH_START:?}; see {log}")]
    WatchDidNotStart {
        /// The port.
        port: u16,
        /// Its log file.
        log: String,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> StackError {
    let what = what.into();
    move |source| StackError::Io { what, source }
}

/// How to start the stack.
#[derive(Debug, Clone)]
pub struct Options {
    /// The workspace root (cargo lambda watch's working directory).
    pub root: PathBuf,
    /// Where the logs go.
    pub run_dir: PathBuf,
    /// The port of cargo lambda watch (0: a free one).
    pub port: u16,
    /// Every setting, for both functions and the trigger (`KEY`, `VALUE`).
    pub settings: Vec<(String, String)>,
    /// Whether to start the trigger.
    pub trigger: bool,
    /// Where the built binaries are (`events-api`, `events-processor`, `msk-trigger`).
    pub bin_dir: PathBuf,
    /// Instances of events-api (on Lambda's default model each concurrent request gets an
    /// instance of its own).
    pub api_instances: usize,
    /// Invocations each events-api instance runs at once (`AWS_LAMBDA_MAX_CONCURRENCY`): 1 on
    /// Lambda's default model, `PerExecutionEnvironmentMaxConcurrency` on Lambda Managed
    /// Instances. The processor stays at 1, as on AWS.
    pub api_concurrency: usize,
    /// Rebuild the functions when their sources change, with the messages and the compiler's
    /// output going here (`None`: never rebuild).
    pub reload: Option<reload::Output>,
}

impl Options {
    /// Defaults for a stack run from the workspace at `root`, with the binaries that sit next to
    /// the running executable (`target/<profile>/`).
    pub fn new(root: impl Into<PathBuf>, run_dir: impl Into<PathBuf>) -> Self {
        let bin_dir = std::env::current_exe()
            .ok()
            .and_then(|exe| {
                // Test binaries live one level down, in target/<profile>/deps.
                let dir = exe.parent()?;
                let dir = if dir.ends_with("deps") {
                    dir.parent()?
                } else {
                    dir
                };
                Some(dir.to_path_buf())
            })
            .unwrap_or_default();
        // A local stack identifies nobody unless AUTH_MODE says otherwise (make dev and the
        // browser tests run it with a local issuer).
        let auth_mode = std::env::var("AUTH_MODE").unwrap_or_else(|_| "none".to_owned());
        Self {
            root: root.into(),
            run_dir: run_dir.into(),
            port: 0,
            settings: vec![("AUTH_MODE".to_owned(), auth_mode)],
            trigger: true,
            bin_dir,
            api_instances: 1,
            api_concurrency: 1,
            reload: None,
        }
    }

    /// Sets one setting (a later value replaces an earlier one).
    pub fn set(mut self, key: &str, value: impl AsRef<str>) -> Self {
        settings::set(&mut self.settings, key, value.as_ref());
        self
    }
}

/// The running pipeline. Stopped when dropped.
pub struct Stack {
    options: Options,
    port: u16,
    watch: Group,
    stop: watch::Sender<bool>,
    instances: Vec<(String, Instance)>,
    trigger: Option<Group>,
    reloader: Option<tokio::task::JoinHandle<()>>,
}

impl Stack {
    /// Starts watch, the function instances and, unless disabled, the trigger; returns once
    /// watch listens.
    pub async fn start(mut options: Options) -> Result<Self, StackError> {
        std::fs::create_dir_all(&options.run_dir).map_err(io("create the run directory"))?;
        let trigger = options.trigger.then_some("msk-trigger");
        for binary in [Some(EVENTS_API), Some(EVENTS_PROCESSOR), trigger]
            .into_iter()
            .flatten()
        {
            let path = options.bin_dir.join(binary);
            if !path.exists() {
                return Err(StackError::Io {
                    what: format!("{} (build it first: cargo build --bins)", path.display()),
                    source: std::io::ErrorKind::NotFound.into(),
                });
            }
        }
        if let Some((k, _)) = options.settings.iter().find(|(_, v)| v.contains('\n')) {
            return Err(StackError::Settings(format!(
                "{k}: a value cannot span lines"
            )));
        }
        let port = match options.port {
            0 => process::free_port().map_err(io("find a free port"))?,
            p => p,
        };
        options.port = port;
        let log = options.run_dir.join("watch.log");
        let out = File::create(&log).map_err(io("create watch.log"))?;
        let err = out.try_clone().map_err(io("open watch.log"))?;
        let mut cmd = Command::new("cargo");
        cmd.current_dir(&options.root)
            .args(["lambda", "watch", "--only-lambda-apis", "--disable-cors"])
            .args([
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        let watch = Group::spawn(cmd).map_err(io("start cargo lambda watch"))?;
        let (stop, stopped) = watch::channel(false);
        let (rebuilding, building) = watch::channel(false);
        let mut stack = Self {
            options,
            port,
            watch,
            stop,
            instances: Vec::new(),
            trigger: None,
            reloader: None,
        };
        let ready = tokio::task::spawn_blocking(move || process::wait_for_port(port, WATCH_START));
        if !ready.await.unwrap_or(false) {
            return Err(StackError::WatchDidNotStart {
                port,
                log: log.display().to_string(),
            });
        }
        let functions = [
            (
                EVENTS_API,
                stack.options.api_instances.max(1),
                stack.options.api_concurrency,
            ),
            (EVENTS_PROCESSOR, 1, 1),
        ];
        for (function, count, concurrency) in functions {
            for _ in 0..count {
                let spec = Spec {
                    function: function.to_owned(),
                    binary: stack.options.bin_dir.join(function),
                    env: stack.options.settings.clone(),
                    log: stack.options.run_dir.join("functions.log"),
                    concurrency,
                };
                let instance = Instance::start(
                    spec,
                    &stack.lambda_endpoint(),
                    stopped.clone(),
                    building.clone(),
                )
                .await
                .map_err(io(format!("start {function}")))?;
                stack.instances.push((function.to_owned(), instance));
            }
        }
        if let Some(output) = stack.options.reload.clone() {
            let reloader = reload::Reloader {
                root: stack.options.root.clone(),
                bin_dir: stack.options.bin_dir.clone(),
                instances: stack
                    .instances
                    .iter()
                    .map(|(f, i)| (f.clone(), i.handle()))
                    .collect(),
                rebuilding,
                output,
            };
            stack.reloader = Some(tokio::spawn(reloader.start(stopped).await));
        }
        if stack.options.trigger {
            stack.start_trigger("trigger.log")?;
        }
        Ok(stack)
    }

    /// The port of cargo lambda watch.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The function URL of `function` (`http://127.0.0.1:PORT/lambda-url/NAME`).
    pub fn function_url(&self, function: &str) -> String {
        format!("http://127.0.0.1:{}/lambda-url/{function}", self.port)
    }

    /// The Lambda Invoke API endpoint.
    pub fn lambda_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A log file in the run directory.
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.options.run_dir.join(name)
    }

    /// Starts the trigger (again), logging to `log_name` in the run directory.
    pub fn start_trigger(&mut self, log_name: &str) -> Result<(), StackError> {
        let out =
            File::create(self.log_path(log_name)).map_err(io(format!("create {log_name}")))?;
        let err = out.try_clone().map_err(io(format!("open {log_name}")))?;
        let binary = self.options.bin_dir.join("msk-trigger");
        let mut cmd = Command::new(&binary);
        cmd.current_dir(&self.options.root)
            .envs(self.options.settings.iter().map(|(k, v)| (k, v)))
            .env("LAMBDA_ENDPOINT", self.lambda_endpoint())
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        let what = format!("start {}", binary.display());
        self.trigger = Some(Group::spawn(cmd).map_err(io(what))?);
        Ok(())
    }

    /// Kills the trigger at once (SIGKILL), without leaving its consumer group.
    pub fn kill_trigger(&mut self) {
        if let Some(mut t) = self.trigger.take() {
            t.kill();
        }
    }

    /// Stops the trigger cleanly (SIGTERM: it leaves the group).
    pub fn stop_trigger(&mut self) {
        if let Some(mut t) = self.trigger.take() {
            t.stop(Duration::from_secs(10));
        }
    }

    /// Kills every running instance of `function` (SIGKILL), as a crash would; an invocation it
    /// was running fails at once, and a new instance starts. Returns how many were killed.
    pub fn kill_function(&self, function: &str) -> usize {
        let pids: Vec<u32> = self
            .instances
            .iter()
            .filter(|(name, _)| name == function)
            .filter_map(|(_, i)| i.pid())
            .collect();
        for pid in &pids {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        pids.len()
    }

    /// Waits (at most `timeout`) until an instance of `function` is running an invocation, and
    /// kills it then: a crash in the middle of the work. Returns whether one was caught.
    pub async fn kill_function_while_busy(&self, function: &str, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            let busy = self
                .instances
                .iter()
                .filter(|(name, i)| name == function && i.busy())
                .find_map(|(_, i)| i.pid());
            if let Some(pid) = busy {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
                return true;
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        false
    }

    /// The most invocations any one instance of `function` ran at once so far.
    pub fn most_in_flight(&self, function: &str) -> usize {
        self.instances
            .iter()
            .filter(|(name, _)| name == function)
            .map(|(_, i)| i.most_in_flight())
            .max()
            .unwrap_or(0)
    }

    /// Whether cargo lambda watch and (when started) the trigger are still running.
    pub fn is_running(&mut self) -> bool {
        self.watch.is_running() && self.trigger.as_mut().is_none_or(Group::is_running)
    }

    /// Stops the trigger (leaving its group), the instances and cargo lambda watch.
    pub async fn stop(mut self) {
        self.stop_trigger();
        let _ = self.stop.send(true);
        if let Some(reloader) = self.reloader.take() {
            let _ = reloader.await;
        }
        for (_, instance) in std::mem::take(&mut self.instances) {
            instance.join().await;
        }
        self.watch.stop(Duration::from_secs(10));
    }
}

/// The workspace root, found from a crate's `CARGO_MANIFEST_DIR` (two levels down).
pub fn workspace_root(manifest_dir: &str) -> PathBuf {
    Path::new(manifest_dir).join("../..")
}
