//! Why the consumer stopped.

/// Why the consumer stopped (or did not start).
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// The store could not be opened or the dead-letter producer created.
    #[error(transparent)]
    Processor(#[from] events_processor::StartError),
    /// The consume loop stopped on an error (the consumer could not be created, a setting).
    #[error(transparent)]
    Loop(#[from] event_consume::LoopError),
    /// The health listener could not bind its address.
    #[error("health listener on {addr}: {source}")]
    Health {
        /// `CONSUMER_HEALTH_ADDR`.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}
