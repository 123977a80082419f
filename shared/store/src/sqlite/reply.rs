//! Where the writing thread sends an answer: to the task that asked for a write (events or a
//! key), which waits on the other end.

use crate::StoreError;

/// Where an answer goes.
pub(super) type Reply<T> = tokio::sync::oneshot::Sender<Result<T, StoreError>>;
