//! The error vocabulary shared by every validator: a stable machine code, the field it concerns,
//! and a sentence a person can act on.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Stable, machine-readable reason a field was rejected.
///
/// The serialized names (`snake_case`) are part of the public API: clients match on them, so a
/// variant is never renamed, only added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not valid JSON (or not UTF-8).
    MalformedJson,
    /// The body is valid JSON but not an object.
    NotAnObject,
    /// A required field is missing.
    Required,
    /// A field has the wrong JSON type (a number where a string belongs, `null` for a string …).
    WrongType,
    /// A string that must not be empty or blank is.
    Empty,
    /// A value outside an enumeration (eventType is case-sensitive).
    NotAllowed,
    /// A string longer than its limit.
    TooLong,
    /// A body or payload larger than its limit in bytes.
    TooLarge,
    /// A payload nested deeper than its limit.
    TooDeep,
    /// A top-level field the schema does not know.
    UnknownField,
    /// The same key appears twice in one object, which parsers resolve differently.
    DuplicateKey,
    /// A string that does not match its format (UUID, RFC 3339 timestamp, no control characters).
    InvalidFormat,
    /// A number outside its allowed range (used by query parameters).
    OutOfRange,
}

impl ErrorCode {
    /// The code as it appears in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MalformedJson => "malformed_json",
            Self::NotAnObject => "not_an_object",
            Self::Required => "required",
            Self::WrongType => "wrong_type",
            Self::Empty => "empty",
            Self::NotAllowed => "not_allowed",
            Self::TooLong => "too_long",
            Self::TooLarge => "too_large",
            Self::TooDeep => "too_deep",
            Self::UnknownField => "unknown_field",
            Self::DuplicateKey => "duplicate_key",
            Self::InvalidFormat => "invalid_format",
            Self::OutOfRange => "out_of_range",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with one field.
///
/// `field` is the top-level field name (`userId`, `payload` …), or `body` when the problem concerns
/// the document as a whole; the message carries the full path for nested problems.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FieldError {
    /// Top-level field name, or `body`.
    pub field: String,
    /// Stable reason code.
    pub code: ErrorCode,
    /// A sentence a person can act on.
    pub message: String,
}

impl FieldError {
    /// Builds an error for `field`.
    pub fn new(field: impl Into<String>, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.field, self.code, self.message)
    }
}

/// Every problem found in one document, in a stable order: known fields in schema order, then
/// unknown fields in document order. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    /// Wraps a non-empty list of problems; `None` when there are none.
    pub fn from_vec(errors: Vec<FieldError>) -> Option<Self> {
        if errors.is_empty() {
            None
        } else {
            Some(Self(errors))
        }
    }

    /// A single problem.
    pub fn single(error: FieldError) -> Self {
        Self(vec![error])
    }

    /// The problems, in order.
    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }

    /// Consumes the list.
    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }

    /// The first problem's code; handy to classify a rejected record in one word.
    pub fn first_code(&self) -> ErrorCode {
        self.0[0].code
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}
