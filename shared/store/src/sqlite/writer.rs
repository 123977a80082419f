//! The one connection that writes, on a thread of its own. Writes queue for it, and the key
//! writes that queued while it was busy go in together: one transaction and one sync to disk
//! for all of them (group commit). Sixteen concurrent keyed requests thus cost one fsync each
//! round instead of sixteen in a row, and no request thread waits on a lock.
//!
//! Every answer is sent after the commit it depends on. When a shared transaction fails, its
//! writes are tried again one by one, so that one write's failure stays its own.

use super::keys::{forget_expired, Applied, KeyWrite};
use crate::StoreError;
use rusqlite::{Connection, TransactionBehavior};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;

use super::reply::Reply;

/// Most key writes in one transaction.
const MOST_KEYS_PER_COMMIT: usize = 256;

enum Job {
    Key(KeyWrite),
    /// A write that opens its own transaction (an event batch, synced).
    Run(Box<dyn FnOnce(&mut Connection) + Send>),
}

/// The writer thread's queue. The thread ends, closing the connection, when this is dropped.
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the thread that owns `conn`.
    pub(super) fn start(conn: Connection) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || serve(conn, &queue))
            .map_err(|e| StoreError::Backend(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Self { jobs })
    }

    /// Runs `f` on the writer connection, in turn with every other write.
    pub(super) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.send(Job::Run(Box::new(move |conn| {
            let _ = reply.send(f(conn));
        })))?;
        answer.await.map_err(|_| gone())?
    }

    /// Queues a key write made with its reply, and waits for its answer.
    pub(super) async fn key<T>(
        &self,
        write: impl FnOnce(Reply<T>) -> KeyWrite,
    ) -> Result<T, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.send(Job::Key(write(reply)))?;
        answer.await.map_err(|_| gone())?
    }

    /// Queues a key write without waiting for it. Every write queued after it is written after
    /// it; a failure is logged by the write itself ([`KeyWrite::answer`]).
    pub(super) fn queue_key<T>(
        &self,
        write: impl FnOnce(Reply<T>) -> KeyWrite,
    ) -> Result<(), StoreError> {
        let (reply, _unheard) = tokio::sync::oneshot::channel();
        self.send(Job::Key(write(reply)))
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        self.jobs.send(job).map_err(|_| gone())
    }
}

/// A write whose thread stopped before answering (it panicked on that write).
fn gone() -> StoreError {
    StoreError::Backend("the SQLite writer stopped before answering".into())
}

fn serve(mut conn: Connection, queue: &mpsc::Receiver<Job>) {
    let mut synced = Synced::Full;
    let mut keys = Vec::new();
    while let Ok(first) = queue.recv() {
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Key(write) => keys.push(write),
                Job::Run(run) => {
                    write_keys(&mut conn, &mut synced, std::mem::take(&mut keys));
                    // The job's reply is dropped if it cannot run synced or panics: its caller
                    // gets `gone()`, and a transaction it held rolled back as it unwound.
                    if synced.set(&conn, Synced::Full).is_ok() {
                        let _ = catch_unwind(AssertUnwindSafe(|| run(&mut conn)));
                    }
                }
            }
            if keys.len() >= MOST_KEYS_PER_COMMIT {
                write_keys(&mut conn, &mut synced, std::mem::take(&mut keys));
            }
            next = queue.try_recv().ok();
        }
        write_keys(&mut conn, &mut synced, std::mem::take(&mut keys));
    }
}

/// Writes `writes` in one transaction and answers each after the commit.
fn write_keys(conn: &mut Connection, synced: &mut Synced, writes: Vec<KeyWrite>) {
    if writes.is_empty() {
        return;
    }
    let level = if writes.iter().any(KeyWrite::must_sync) {
        Synced::Full
    } else {
        Synced::Normal
    };
    let attempt = catch_unwind(AssertUnwindSafe(|| {
        synced.set(conn, level)?;
        commit_together(conn, &writes)
    }));
    match attempt {
        Ok(Ok(applied)) => {
            for (write, applied) in writes.into_iter().zip(applied) {
                write.answer(Ok(applied));
            }
        }
        Ok(Err(e)) if writes.len() == 1 => {
            if let Some(write) = writes.into_iter().next() {
                write.answer(Err(e));
            }
        }
        // One by one: only the write that fails again gets an error.
        Ok(Err(_)) => {
            for write in writes {
                write_keys(conn, synced, vec![write]);
            }
        }
        // Replies dropped: each caller gets `gone()`.
        Err(_) => {}
    }
}

fn commit_together(conn: &mut Connection, writes: &[KeyWrite]) -> Result<Vec<Applied>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let applied = writes
        .iter()
        .map(|w| w.apply(&tx))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(now_ms) = writes.iter().filter_map(KeyWrite::now_ms).max() {
        forget_expired(&tx, now_ms)?;
    }
    tx.commit()?;
    Ok(applied)
}

/// The connection's `synchronous` setting, changed only when a commit needs another.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Synced {
    /// Synced to disk at every commit (`FULL`).
    Full,
    /// Synced at checkpoints only (`NORMAL`): a power cut may lose the last commits.
    Normal,
}

impl Synced {
    /// Sets `level`; a write that needs it does not go ahead when it cannot be set.
    fn set(&mut self, conn: &Connection, level: Self) -> Result<(), StoreError> {
        if *self != level {
            let value = match level {
                Self::Full => "FULL",
                Self::Normal => "NORMAL",
            };
            conn.pragma_update(None, "synchronous", value)?;
            *self = level;
        }
        Ok(())
    }
}
