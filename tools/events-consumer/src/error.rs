//! Why the consumer stopped.

/// Why the consumer stopped (or did not start).
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// The store could not be opened.
    #[error("store: {0}")]
    Store(#[from] event_store::StoreError),
    /// The dead-letter producer could not be created.
    #[error("dead-letter producer: {0}")]
    DeadLetter(#[from] event_kafka::Error),
    /// The consume loop stopped on an error (the consumer could not be created, a setting).
    #[error(transparent)]
    Loop(#[from] msk_trigger::TriggerError),
    /// The health listener could not bind its address.
    #[error("health listener on {addr}: {source}")]
    Health {
        /// `CONSUMER_HEALTH_ADDR`.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}
