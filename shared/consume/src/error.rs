//! The crate's errors, apart from the modules that return them, so that no module imports its
//! caller for a type.

use rdkafka::error::KafkaError;

/// Why the loop stopped (or did not start).
#[derive(Debug, thiserror::Error)]
pub enum LoopError {
    /// The consumer could not be created or subscribed, or the on-failure producer created.
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// A setting that cannot work.
    #[error("configuration: {0}")]
    Config(String),
}

/// Why an invocation did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The function ran and failed: over the Invoke API, HTTP 500 under cargo lambda watch or an
    /// `X-Amz-Function-Error` header as on AWS; in process, the handler's error as the Invoke
    /// API would report it (status 200 and its `errorType` and `errorMessage`).
    #[error("function error (HTTP {status}): {body}")]
    Function {
        /// HTTP status of the Invoke API answer.
        status: u16,
        /// What the function or API said.
        body: String,
    },
    /// The function could not be reached (not started yet, crashed, timed out).
    #[error("the function is unreachable: {0}")]
    Transport(String),
    /// The function succeeded but reported records it could not finish
    /// (`batchItemFailures`): those partitions come again from there.
    #[error("the function reported {0} partition(s) it could not finish")]
    ItemFailures(usize),
    /// The function reported an item failure the batch does not hold, or an answer that is
    /// not a batch response: the whole batch failed.
    #[error("the function's batchItemFailures are invalid: {0}")]
    InvalidItemFailures(String),
}
