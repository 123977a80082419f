//! The crate's errors, apart from the modules that return them, so that no module imports its
//! caller for a type.

use rdkafka::error::KafkaError;

/// Why the trigger (or a consumer built on its loop) stopped.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// The consumer could not be created or subscribed.
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// The invocation client could not be built.
    #[error("invoke: {0}")]
    Invoke(#[from] InvokeError),
    /// A setting that cannot work.
    #[error("configuration: {0}")]
    Config(String),
}

/// Why an invocation did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The function ran and failed (HTTP 500 under cargo lambda watch, or an
    /// `X-Amz-Function-Error` header as on AWS; in process, the handler's error as the Invoke
    /// API would report it: status 200 and its `errorType` and `errorMessage`).
    #[error("function error (HTTP {status}): {body}")]
    Function {
        /// HTTP status of the Invoke API answer.
        status: u16,
        /// What the function or API said.
        body: String,
    },
    /// The Invoke API did not answer (not started yet, crashed, timed out).
    #[error("invoke API unreachable: {0}")]
    Transport(#[from] reqwest::Error),
    /// The function succeeded but reported records it could not finish
    /// (`batchItemFailures`): those partitions come again from there.
    #[error("the function reported {0} partition(s) it could not finish")]
    ItemFailures(usize),
    /// The function reported an item failure the batch does not hold: the whole batch failed.
    #[error("the function's batchItemFailures are invalid: {0}")]
    InvalidItemFailures(String),
}
