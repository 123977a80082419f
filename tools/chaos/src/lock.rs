//! The store-lock fault: another process (`hold-store-lock`, a binary of this crate) takes every
//! lock of the SQLite store's WAL index, as a process stuck inside SQLite would hold them. Until
//! it lets go, no connection can begin a read or a write: writers wait out their busy timeout,
//! readers give up.

use std::path::Path;
use std::time::Duration;

/// Holds the store locked for `hold` from a child process, probing `list_url` all the while:
/// the listing must answer 503 (with `Retry-After`) while it cannot read, and never 500.
pub async fn lock_store(db: &Path, hold: Duration, list_url: &str) -> Vec<String> {
    use tokio::io::AsyncBufReadExt as _;
    // Built beside chaos (`cargo build --workspace --bins`, as make chaos does).
    let exe = std::env::current_exe()
        .expect("own path")
        .with_file_name("hold-store-lock");
    let mut child = tokio::process::Command::new(exe)
        .arg(db)
        .arg(hold.as_millis().to_string())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the lock holder");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    match tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await {
        Ok(Ok(Some(line))) if line == "locked" => {}
        other => return vec![format!("the store could not be locked: {other:?}")],
    }
    let http = reqwest::Client::new();
    let mut answers = Vec::new();
    // Probe until the lock is gone, letting each probe finish: a slow answer is an answer.
    while matches!(child.try_wait(), Ok(None)) {
        answers.push(match http.get(list_url).send().await {
            Ok(r) => (r.status().as_u16(), r.headers().contains_key("retry-after")),
            Err(_) => (0, false),
        });
    }
    let mut problems = Vec::new();
    if !answers.iter().any(|&(s, retry)| s == 503 && retry) {
        problems.push(format!(
            "the listing never answered 503 with Retry-After while locked: {answers:?}"
        ));
    }
    if let Some((bad, _)) = answers.iter().find(|(s, _)| !matches!(s, 200 | 503)) {
        problems.push(format!(
            "the listing answered {bad} while the store was locked"
        ));
    }
    problems
}
