//! Test helpers that talk to real things.
//!
//! [`kafka`] creates uniquely named topics on the broker the tests were given (`KAFKA_BROKERS`,
//! default `127.0.0.1:9092`) and reads a topic back completely, partition by partition up to its
//! high watermark, without a consumer group (so no test depends on group coordination);
//! [`emf`] checks CloudWatch Embedded Metric Format documents against the specification;
//! [`http`] reads the listing page by page as a client would; [`process`] runs a binary and finds the address it printed; [`tansu`] runs a private broker
//! that a test may kill and restart; [`runtime_api`] serves a Lambda Runtime API that runs a
//! function's binary as one execution environment, several invocations at once if it asks.
#![warn(missing_docs)]

pub mod emf;
pub mod http;
pub mod kafka;
pub mod process;
pub mod runtime_api;
pub mod tansu;
