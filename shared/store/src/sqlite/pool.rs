//! A few reader connections, so that one slow listing does not hold up the others (a single
//! shared reader made every read wait for the one before it).

use rusqlite::Connection;
use std::sync::{Condvar, Mutex};

/// Connections handed out one caller at a time.
pub(super) struct Pool {
    idle: Mutex<Vec<Connection>>,
    returned: Condvar,
}

impl Pool {
    pub(super) fn new(connections: Vec<Connection>) -> Self {
        Self {
            idle: Mutex::new(connections),
            returned: Condvar::new(),
        }
    }

    /// Runs `f` on an idle connection, waiting for one if all are busy. Blocking: call it from
    /// a blocking thread.
    pub(super) fn with<T>(&self, f: impl FnOnce(&mut Connection) -> T) -> T {
        let conn = {
            // A panic while a connection was out cannot leave the list itself half-changed.
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if let Some(c) = idle.pop() {
                    break c;
                }
                idle = self.returned.wait(idle).unwrap_or_else(|p| p.into_inner());
            }
        };
        // Returned even if `f` panics, so the pool never shrinks.
        struct Back<'a>(&'a Pool, Option<Connection>);
        impl Drop for Back<'_> {
            fn drop(&mut self) {
                if let Some(c) = self.1.take() {
                    self.0
                        .idle
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(c);
                    self.0.returned.notify_one();
                }
            }
        }
        let mut back = Back(self, None);
        f(back.1.insert(conn))
    }
}
