//! Why the trigger stopped.

/// Why the trigger stopped (or did not start).
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// The loop stopped on an error (the consumer could not be created, a setting).
    #[error(transparent)]
    Loop(#[from] event_consume::LoopError),
    /// The invocation client could not be built.
    #[error("invoke API client: {0}")]
    Client(#[from] reqwest::Error),
}
