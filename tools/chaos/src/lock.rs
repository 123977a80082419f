//! The store-lock fault: another process takes every lock of the SQLite store's WAL index
//! (`<db>-shm`: the write, checkpoint and recovery locks and all five reader marks), as a
//! process stuck inside SQLite would hold them. Until it lets go, no connection can begin a read
//! or a write: writers wait out their busy timeout, readers give up.

use std::io::Write as _;
use std::os::fd::AsRawFd as _;
use std::path::Path;
use std::time::Duration;

/// Where SQLite's WAL-index locks start in the `-shm` file, and how many there are
/// (`WALINDEX_LOCK_OFFSET`, `SQLITE_SHM_NLOCK` in sqlite3.c).
const SHM_LOCK_OFFSET: i64 = 120;
const SHM_LOCKS: i64 = 8;

/// Runs in a child process (`chaos --hold-store-lock DB MILLIS`): takes the locks, waiting for
/// transactions in progress, prints `locked`, holds them for `hold`, and exits (which frees them).
pub fn hold(db: &Path, hold: Duration) -> std::io::Result<()> {
    let mut shm = db.as_os_str().to_owned();
    shm.push("-shm");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(shm)?;
    // SAFETY: `flock` is a plain C struct for which all-zero bytes are a valid value.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = SHM_LOCK_OFFSET;
    lock.l_len = SHM_LOCKS;
    // SAFETY: the descriptor is open for the call's duration and `lock` is a valid `flock`.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLKW, &lock) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    println!("locked");
    std::io::stdout().flush()?;
    std::thread::sleep(hold);
    Ok(())
}

/// Holds the store locked for `hold` from a child process, probing `list_url` all the while:
/// the listing must answer 503 (with `Retry-After`) while it cannot read, and never 500.
pub async fn lock_store(db: &Path, hold: Duration, list_url: &str) -> Vec<String> {
    use tokio::io::AsyncBufReadExt as _;
    let exe = std::env::current_exe().expect("own path");
    let mut child = tokio::process::Command::new(exe)
        .arg("--hold-store-lock")
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
