//! How a batch reaches the function: the [`Invoke`] port, and [`Invoker`], its adapter over the
//! Lambda Invoke API, as the event source mapping calls a function. A long-running consumer
//! implements the same port by calling the handler in process, and shares everything else
//! (batching, retries, bisecting, skipping, committing).

pub use crate::error::InvokeError;
use std::future::Future;
use std::time::Duration;

/// One synchronous invocation of the function with an MSK event.
pub trait Invoke: Sync {
    /// What is invoked, for the logs (a URL, a handler's name).
    fn target(&self) -> &str;

    /// Invokes with `payload` (the MSK event JSON); the function's result on success. A result
    /// may still name records it could not finish (`batchItemFailures`).
    fn invoke(&self, payload: Vec<u8>) -> impl Future<Output = Result<String, InvokeError>> + Send;
}

/// A client of one function's invocation endpoint.
pub struct Invoker {
    client: reqwest::Client,
    url: String,
}

impl Invoker {
    /// `POST {endpoint}/2015-03-31/functions/{name}/invocations`, waiting at most `timeout`.
    pub fn new(endpoint: &str, function: &str, timeout: Duration) -> Result<Self, InvokeError> {
        Ok(Self {
            client: reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(Duration::from_secs(5))
                .build()?,
            url: format!("{endpoint}/2015-03-31/functions/{function}/invocations"),
        })
    }

    /// The endpoint URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Invoke for Invoker {
    fn target(&self) -> &str {
        &self.url
    }

    async fn invoke(&self, payload: Vec<u8>) -> Result<String, InvokeError> {
        let res = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("x-amz-invocation-type", "RequestResponse")
            .body(payload)
            .send()
            .await?;
        let status = res.status();
        let function_error = res.headers().contains_key("x-amz-function-error");
        let body = res.text().await?;
        if status.is_success() && !function_error {
            Ok(body)
        } else {
            Err(InvokeError::Function {
                status: status.as_u16(),
                body: body.chars().take(2000).collect(),
            })
        }
    }
}
