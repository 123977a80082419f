//! Start-up plumbing shared by the functions and tools, so that each `main.rs` stays a few lines:
//! [`env`] reads typed settings and names the variable when one is wrong, [`init_tracing`] sets
//! up structured logs (JSON under `AWS_LAMBDA_LOG_FORMAT=json`, as Lambda's advanced logging
//! expects), [`shutdown_signal`] resolves on SIGTERM or Ctrl-C ([`shutdown_watch`] is the same
//! as a watch), [`exit_code`] turns how a program ended ([`Exit`]) into the exit status every
//! program uses, [`aws::sdk_config`] loads the AWS SDK configuration once per cold start, [`metrics`] writes CloudWatch Embedded Metric
//! Format documents, [`trace`] reads and writes W3C `traceparent` values, and [`health`] is the
//! `--health-check` client of the programs that serve `GET /health` in containers.
#![warn(missing_docs)]

#[cfg(feature = "aws")]
pub mod aws;
pub mod env;
pub mod health;
pub mod metrics;
pub mod trace;

pub use env::ConfigError;

/// How a program ended.
#[derive(Debug)]
pub enum Exit<E> {
    /// It ran to the end.
    Ok,
    /// Its settings were missing or malformed: it never started.
    Config(ConfigError),
    /// It started and stopped with an error.
    Failed(E),
}

impl<E> From<Result<(), E>> for Exit<E> {
    /// A run's result: `Ok` or `Failed`.
    fn from(result: Result<(), E>) -> Self {
        match result {
            Ok(()) => Self::Ok,
            Err(e) => Self::Failed(e),
        }
    }
}

/// The one way a program ends: a configuration error is printed as `PROGRAM: configuration
/// error: …` with exit status 2, any other error as `PROGRAM: …` with 1, success 0.
pub fn exit_code<E: std::fmt::Display>(
    program: &str,
    exit: impl Into<Exit<E>>,
) -> std::process::ExitCode {
    use std::process::ExitCode;
    match exit.into() {
        Exit::Ok => ExitCode::SUCCESS,
        Exit::Failed(e) => {
            eprintln!("{program}: {e}");
            ExitCode::FAILURE
        }
        Exit::Config(e) => {
            eprintln!("{program}: configuration error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Installs the global `tracing` subscriber, writing to stderr.
///
/// Filter: `RUST_LOG`, else `AWS_LAMBDA_LOG_LEVEL`, else `info`. Format: JSON when
/// `AWS_LAMBDA_LOG_FORMAT` is `json` (any case), human-readable otherwise.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("RUST_LOG")
        .ok()
        .or_else(|| std::env::var("AWS_LAMBDA_LOG_LEVEL").ok())
        .map(|s| s.to_lowercase())
        .unwrap_or_else(|| "info".to_owned());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT")
        .map(|v| v.eq_ignore_ascii_case("json"))
        .unwrap_or(false);
    // A second initialisation (tests) keeps the first subscriber.
    let _ = if json {
        tracing::subscriber::set_global_default(json_logs(filter, std::io::stderr))
    } else {
        let text = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(text)
    };
}

/// The JSON log format: one object per line, the event's fields at the top level beside
/// `timestamp`, `level` and `message` (what Lambda's JSON log format expects of a custom
/// runtime). Public so that the benchmarks measure the very format the functions write.
pub fn json_logs<W>(
    filter: tracing_subscriber::EnvFilter,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false)
        .json()
        .with_current_span(false)
        .flatten_event(true)
        .finish()
}

/// Milliseconds since the Unix epoch (0 if the clock is before it): the unit of Kafka record
/// timestamps and of EMF documents.
pub fn unix_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Resolves when the process is asked to stop (SIGTERM, as Lambda and containers send, or Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// The one shutdown shape of a long-running program: a watch that turns true when the process
/// is asked to stop ([`shutdown_signal`]), for loops that check it between steps and tasks that
/// wait on it. Needs a running Tokio runtime.
pub fn shutdown_watch() -> tokio::sync::watch::Receiver<bool> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    stopped
}

#[cfg(test)]
mod exit_tests {
    use super::*;
    use std::process::ExitCode;

    #[test]
    fn configuration_errors_exit_2_other_errors_1() {
        let config = ConfigError::new("PORT", "not a number");
        assert_eq!(
            exit_code::<String>("p", Exit::Config(config)),
            ExitCode::from(2)
        );
        assert_eq!(exit_code("p", Exit::Failed("boom")), ExitCode::FAILURE);
        assert_eq!(exit_code::<String>("p", Exit::Ok), ExitCode::SUCCESS);
        // A run's result as it comes.
        assert_eq!(exit_code("p", Err::<(), _>("boom")), ExitCode::FAILURE);
        assert_eq!(exit_code("p", Ok::<(), String>(())), ExitCode::SUCCESS);
    }
}
