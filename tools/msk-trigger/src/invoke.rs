//! Calling the function through the Lambda Invoke API, as the event source mapping does.

use std::time::Duration;

/// Why an invocation did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The function ran and failed (HTTP 500 under cargo lambda watch, or an
    /// `X-Amz-Function-Error` header as on AWS).
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

    /// Invokes synchronously with `payload`; the function's result on success.
    pub async fn invoke(&self, payload: Vec<u8>) -> Result<String, InvokeError> {
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
