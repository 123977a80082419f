//! The one place that turns a failure into an HTTP response. Every error body has `error` (a
//! stable code) and `message` (a sentence); validation failures add `details`.
//!
//! A dependency's own words (a broker's error, a store's, which may name hosts, paths or an AWS
//! account) never reach the body: the answer says which dependency failed, and the request's
//! log line carries the cause with the error code (see `observe`).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use event_auth::{AuthError, Denied};
use event_schema::{FieldError, ValidationErrors};
use serde::Serialize;

/// Seconds a client should wait before retrying after a 503.
pub const RETRY_AFTER_SECS: u32 = 5;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not declared as JSON.
    #[error("Content-Type must be application/json, got {}", .0.as_deref().unwrap_or("none"))]
    UnsupportedMediaType(Option<String>),
    /// The body exceeds the limit.
    #[error("the body exceeds {0} bytes")]
    PayloadTooLarge(usize),
    /// The body could not be read from the connection.
    #[error("the body could not be read: {0}")]
    BadBody(String),
    /// The body did not arrive in time.
    #[error("the body did not arrive within {0} s")]
    BodyTimeout(u64),
    /// The body or query breaks the rules.
    #[error("{}", summary(.0))]
    Validation(Vec<FieldError>),
    /// Kafka did not acknowledge the event in time: it was not accepted, yet the broker may
    /// have written it just as the wait ended, so it may still be stored. Holds the cause, for
    /// the log only.
    #[error("Kafka did not acknowledge the event; it was not accepted, but it may still be stored if the broker received it. Retry later")]
    KafkaUnavailable(String),
    /// The store did not answer. Holds the cause, for the log only.
    #[error("the event store is unavailable; retry later")]
    StoreUnavailable(String),
    /// As many listings as one instance serves at once are under way.
    #[error("too many listings are in progress here; retry later")]
    Busy,
    /// The `Idempotency-Key` was used before with another body.
    #[error("this Idempotency-Key was used with another body; use a new key for a new event")]
    IdempotencyKeyReused,
    /// A request with the same `Idempotency-Key` is still being published.
    #[error("a request with this Idempotency-Key is still in progress; retry after {0} s")]
    IdempotencyInProgress(u64),
    /// The request did not prove who sent it (`AUTH_MODE` jwt or iam).
    #[error("{0}")]
    Unauthorized(AuthError),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(Denied),
    /// The identity provider's keys could not be fetched to check a token. Holds the cause, for
    /// the log only.
    #[error("the identity provider could not be reached to check the token; retry later")]
    IdentityUnavailable(String),
    /// A dependency `GET /health` checks is failing.
    #[error("unavailable: {}", .0.failing().join(", "))]
    DependencyUnavailable(Dependencies),
    /// No route matches the path.
    #[error("no resource at {0}; see GET /health, POST /events/generate, GET /events/processed")]
    NotFound(String),
    /// The path exists, the method does not.
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
}

/// What `GET /health` says of each dependency: only whether it is ok (what it reported, or
/// why it failed, goes to the log; an unauthenticated caller learns nothing more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dependencies {
    /// The broker answered within its deadline.
    pub kafka: bool,
    /// The store answered within its deadline.
    pub store: bool,
}

impl Dependencies {
    /// The failing ones' names.
    pub fn failing(&self) -> Vec<&'static str> {
        [("kafka", self.kafka), ("store", self.store)]
            .into_iter()
            .filter(|(_, ok)| !ok)
            .map(|(name, _)| name)
            .collect()
    }

    /// The body's fields about them: `status` (`ok` or `unavailable`), `failing` when any is,
    /// and `ok` or `failing` for each.
    pub(crate) fn fields(&self) -> serde_json::Map<String, serde_json::Value> {
        let verdict = |ok: bool| if ok { "ok" } else { "failing" };
        let failing = self.failing();
        let mut body = serde_json::Map::new();
        let status = if failing.is_empty() {
            "ok"
        } else {
            "unavailable"
        };
        body.insert("status".into(), status.into());
        if !failing.is_empty() {
            body.insert("failing".into(), failing.into());
        }
        body.insert("kafka".into(), verdict(self.kafka).into());
        body.insert("store".into(), verdict(self.store).into());
        body
    }
}

fn summary(details: &[FieldError]) -> String {
    match details {
        [one] => format!("{}: {}", one.field, one.message),
        many => format!("the request has {} problems; see details", many.len()),
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(e: ValidationErrors) -> Self {
        Self::Validation(e.into_vec())
    }
}

impl From<event_store::StoreError> for ApiError {
    fn from(e: event_store::StoreError) -> Self {
        Self::StoreUnavailable(e.to_string())
    }
}

impl From<event_kafka::Error> for ApiError {
    /// Any failure to publish is a 503: the event was not accepted. Our own failures (the
    /// event not encoded, the sending task lost) are told apart in the log.
    fn from(e: event_kafka::Error) -> Self {
        match e {
            event_kafka::Error::Encode(_) | event_kafka::Error::Task(_) => {
                Self::KafkaUnavailable(format!("internal error: {e}"))
            }
            other => Self::KafkaUnavailable(other.to_string()),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::KeysUnavailable(cause) => Self::IdentityUnavailable(cause),
            other => Self::Unauthorized(other),
        }
    }
}

impl From<Denied> for ApiError {
    fn from(e: Denied) -> Self {
        Self::Forbidden(e)
    }
}

/// The realm of every `WWW-Authenticate` challenge.
const REALM: &str = "events-api";

impl ApiError {
    /// What the log says about the failure beyond the body's sentence: a dependency's error, or
    /// why credentials were refused (never the credentials).
    pub fn cause(&self) -> Option<String> {
        match self {
            Self::KafkaUnavailable(cause)
            | Self::StoreUnavailable(cause)
            | Self::IdentityUnavailable(cause) => Some(cause.clone()),
            Self::Unauthorized(e) => Some(format!("{e:?}")),
            _ => None,
        }
    }

    /// HTTP status and stable error code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::BadBody(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::BodyTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            Self::Validation(_) => (StatusCode::BAD_REQUEST, "validation_failed"),
            Self::KafkaUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "kafka_unavailable"),
            Self::StoreUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
            Self::Busy => (StatusCode::SERVICE_UNAVAILABLE, "server_busy"),
            Self::IdempotencyKeyReused => {
                (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused")
            }
            Self::IdempotencyInProgress(_) => (StatusCode::CONFLICT, "idempotency_in_progress"),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::IdentityUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "identity_provider_unavailable",
            ),
            Self::DependencyUnavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "dependency_unavailable")
            }
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        }
    }
}

/// Every error body: a stable code, a sentence, and for validation failures the problems.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(title = "ErrorBody")]
pub(crate) struct ErrorBody<'a> {
    /// Stable code (`validation_failed`, `kafka_unavailable`, …).
    error: &'a str,
    /// A sentence a person can act on.
    message: String,
    /// With `validation_failed`: every problem, at most 20 plus one `too_many_errors` entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a [FieldError]>,
    /// With `dependency_unavailable`: the health fields (the `Health` schema).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    #[schemars(skip)]
    dependencies: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ApiError {
    /// The error body this failure is answered with (also one item's `error` in a batch).
    pub(crate) fn body(&self) -> ErrorBody<'_> {
        let (_, code) = self.status_and_code();
        ErrorBody {
            error: code,
            message: self.to_string(),
            details: match self {
                Self::Validation(d) => Some(d.as_slice()),
                _ => None,
            },
            dependencies: match self {
                Self::DependencyUnavailable(d) => Some(d.fields()),
                _ => None,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let outcome = crate::observe::Outcome::Failed {
            code,
            cause: self.cause(),
        };
        let body = self.body();
        let retry_after = match &self {
            Self::IdempotencyInProgress(secs) => Some(*secs),
            _ if status == StatusCode::SERVICE_UNAVAILABLE => Some(u64::from(RETRY_AFTER_SECS)),
            _ => None,
        };
        let mut response = (status, Json(body)).into_response();
        response.extensions_mut().insert(outcome);
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Self::Unauthorized(e) = &self {
            if let Ok(challenge) = HeaderValue::from_str(&challenge(e)) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, challenge);
            }
        }
        response
    }
}

/// The `WWW-Authenticate` challenge of a 401: RFC 6750's bearer challenge, with
/// `error="invalid_token"` when a token (or another credential) was sent; SigV4's scheme when
/// the Function URL should have checked a signature.
fn challenge(e: &AuthError) -> String {
    match e {
        AuthError::NoIamIdentity => "AWS4-HMAC-SHA256".to_owned(),
        e if e.credentials_sent() => {
            format!("Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{e}\"")
        }
        _ => format!("Bearer realm=\"{REALM}\""),
    }
}
