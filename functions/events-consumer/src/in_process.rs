//! The processor behind the trigger's [`Invoke`] port: the MSK event the loop built is handed to
//! [`Processor::invoke`] in this process, and its answer (the batch summary, or
//! `batchItemFailures`) goes back to the loop as the Invoke API's body would. A failed batch
//! becomes what the Invoke API reports for a function error, so the loop retries, bisects and
//! skips it exactly as it does a Lambda invocation.

use event_kafka::DeadLetterSink;
use event_store::EventStore;
use events_processor::Processor;
use msk_trigger::{Invoke, InvokeError};
use std::time::Duration;

/// The processor, invoked in process.
pub struct InProcess<S, D> {
    processor: Processor<S, D>,
    timeout: Duration,
}

impl<S, D> InProcess<S, D> {
    /// Invokes `processor`, giving up on an invocation after `timeout` (`TRIGGER_INVOKE_TIMEOUT_MS`,
    /// as Lambda stops a function at its timeout).
    pub fn new(processor: Processor<S, D>, timeout: Duration) -> Self {
        Self { processor, timeout }
    }

    /// The processor (its store, for tests and checks).
    pub fn processor(&self) -> &Processor<S, D> {
        &self.processor
    }
}

/// The Invoke API's body for a function error.
fn function_error(error_type: &str, message: &str) -> InvokeError {
    InvokeError::Function {
        status: 200,
        body: serde_json::json!({"errorType": error_type, "errorMessage": message}).to_string(),
    }
}

impl<S, D> Invoke for InProcess<S, D>
where
    S: EventStore + Send + Sync,
    D: DeadLetterSink + Send + Sync,
{
    fn target(&self) -> &str {
        "events-processor (in process)"
    }

    async fn invoke(&self, payload: Vec<u8>) -> Result<String, InvokeError> {
        let event: serde_json::Value = serde_json::from_slice(&payload)
            .map_err(|e| function_error("InvalidRequestContentException", &e.to_string()))?;
        let request_id = uuid::Uuid::new_v4().to_string();
        let answer = tokio::time::timeout(self.timeout, self.processor.invoke(event, &request_id));
        match answer.await {
            Err(_) => Err(function_error(
                "Sandbox.Timedout",
                &format!("the batch took longer than {} ms", self.timeout.as_millis()),
            )),
            Ok(Err(e)) => Err(function_error(e.code(), &e.to_string())),
            Ok(Ok(response)) => serde_json::to_string(&response)
                .map_err(|e| function_error("Runtime.SerializationError", &e.to_string())),
        }
    }
}
