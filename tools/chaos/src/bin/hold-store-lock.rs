//! The store-lock fault of `chaos`, as a process of its own (chaos starts it beside itself):
//! takes every lock of the SQLite store's WAL index (`<db>-shm`: the write, checkpoint and
//! recovery locks and all five reader marks), as a process stuck inside SQLite would hold them.
//! Until it lets go, no connection can begin a read or a write: writers wait out their busy
//! timeout, readers give up.

use clap::Parser;
use std::io::Write as _;
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Where SQLite's WAL-index locks start in the `-shm` file, and how many there are
/// (`WALINDEX_LOCK_OFFSET`, `SQLITE_SHM_NLOCK` in sqlite3.c).
const SHM_LOCK_OFFSET: i64 = 120;
const SHM_LOCKS: i64 = 8;

/// Takes every WAL-index lock of a SQLite store (waiting for transactions in progress), prints
/// `locked`, holds them for MILLIS milliseconds, and exits, which frees them.
#[derive(Parser)]
#[command(name = "hold-store-lock")]
struct Cli {
    /// The store's database file (its `-shm` file is locked).
    db: PathBuf,
    /// How long to hold the locks, in milliseconds.
    millis: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match hold(&cli.db, Duration::from_millis(cli.millis)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hold-store-lock: cannot lock {}: {e}", cli.db.display());
            ExitCode::FAILURE
        }
    }
}

fn hold(db: &Path, hold: Duration) -> std::io::Result<()> {
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
