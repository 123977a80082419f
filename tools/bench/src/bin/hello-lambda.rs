//! The cold-start baseline: a `lambda_runtime` function that echoes its event, built with the
//! same profile as the pipeline's functions, so the difference is what they do at start-up.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(event.payload)
    }))
    .await
}
