//! A local stand-in for the Amazon MSK event source mapping.
//!
//! Nothing feeds a Kafka-triggered function on a laptop, so this tool does what AWS does: the
//! mapping's consume loop ([`event_consume`]: the group `user-activity-consumer-group`, MSK's
//! batches, retries, bisecting, skipping, commits only after success), with each batch sent as
//! the exact MSK event JSON through the Lambda Invoke API ([`Invoker`]) and the function's answer
//! read back.
//!
//! Layout: [`config`] (the loop's settings as `TRIGGER_*`, the function and the endpoint),
//! [`invoke`] (the Invoke API client and the event JSON), [`run`], [`error`].
#![warn(missing_docs)]

pub mod config;
pub mod error;
pub mod invoke;
pub mod run;

pub use config::Config;
pub use error::TriggerError;
pub use invoke::Invoker;
pub use run::run;
