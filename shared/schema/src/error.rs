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
    /// More problems than [`crate::MAX_REPORTED_ERRORS`]: this last entry says how many were
    /// left out, so that a hostile body cannot make the answer (or a dead letter) huge.
    TooManyErrors,
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
            Self::TooManyErrors => "too_many_errors",
        }
    }
}

impl ErrorCode {
    /// Every code as it appears in JSON, in declaration order, read from the type's generated
    /// JSON Schema so that no variant can be left out (documentation tests use it).
    pub fn all_codes() -> Vec<String> {
        let schema = serde_json::to_value(schemars::schema_for!(ErrorCode)).unwrap_or_default();
        let variants = schema["oneOf"].as_array().into_iter().flatten();
        let plain = schema["enum"].as_array().into_iter().flatten();
        variants
            .filter_map(|v| v["const"].as_str().or(v["enum"][0].as_str()))
            .chain(plain.filter_map(|v| v.as_str()))
            .map(str::to_owned)
            .collect()
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

/// Longest `field` in characters; longer names (only unknown keys can be) end in `…`.
pub const MAX_FIELD_CHARS: usize = 64;
/// Longest `message` in characters.
pub const MAX_MESSAGE_CHARS: usize = 256;

impl FieldError {
    /// Builds an error for `field`. Both texts may carry client input (an unknown key, a bad
    /// value), so they are made safe here, once for every rule: control and line-separator
    /// characters are escaped (`\n`, `\u{7f}`), so no key can forge a log line, and each text
    /// is bounded in length, so no body can make an answer or a dead letter huge.
    pub fn new(field: impl Into<String>, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            field: safe_text(field.into(), MAX_FIELD_CHARS),
            code,
            message: safe_text(message.into(), MAX_MESSAGE_CHARS),
        }
    }
}

/// `text` with control and line-separator characters escaped, cut to `max` characters.
fn safe_text(text: String, max: usize) -> String {
    // Printable ASCII (most messages) needs no look at characters.
    if text.len() <= max && text.bytes().all(|b| matches!(b, b' '..=b'~')) {
        return text;
    }
    let unsafe_char = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    if text.len() <= max && !text.chars().any(unsafe_char) {
        return text;
    }
    let mut out = String::with_capacity(text.len().min(4 * max));
    let mut shown = 0;
    for c in text.chars() {
        let piece: String = if unsafe_char(c) {
            c.escape_default().collect()
        } else {
            c.into()
        };
        let width = piece.chars().count();
        if shown + width > max - 1 {
            out.push('…');
            return out;
        }
        shown += width;
        out.push_str(&piece);
    }
    out
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.field, self.code, self.message)
    }
}

/// The problems found in one document, in a stable order: known fields in schema order, then
/// unknown fields in document order. Never empty, and never longer than
/// [`MAX_REPORTED_ERRORS`](crate::MAX_REPORTED_ERRORS) plus one `too_many_errors` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    /// Wraps a non-empty list of a body's problems (capped, see the type); `None` when there
    /// are none.
    pub fn from_vec(errors: Vec<FieldError>) -> Option<Self> {
        Self::capped(errors, "body")
    }

    /// [`Self::from_vec`] for problems of another whole (`query`): the `too_many_errors`
    /// entry names it.
    pub fn capped(mut errors: Vec<FieldError>, whole: &str) -> Option<Self> {
        if errors.is_empty() {
            return None;
        }
        let cap = crate::MAX_REPORTED_ERRORS;
        if errors.len() > cap {
            let more = errors.len() - cap;
            errors.truncate(cap);
            errors.push(FieldError::new(
                whole,
                ErrorCode::TooManyErrors,
                format!("{more} more problems not shown; fix the ones above and send it again"),
            ));
        }
        Some(Self(errors))
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

/// One line, the `too_many_errors` count first (a reader that cuts the line keeps it).
impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (count, listed): (Vec<_>, Vec<_>) = self
            .0
            .iter()
            .partition(|e| e.code == ErrorCode::TooManyErrors);
        for (i, e) in count.into_iter().chain(listed).enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_text_is_escaped_and_bounded() {
        let e = FieldError::new("a\nb\u{2028}", ErrorCode::UnknownField, "x".repeat(1000));
        assert_eq!(e.field, "a\\nb\\u{2028}");
        assert_eq!(e.message.chars().count(), MAX_MESSAGE_CHARS);
        assert!(e.message.ends_with('…'));
        let long_key = FieldError::new("k".repeat(65), ErrorCode::UnknownField, "m");
        assert_eq!(long_key.field.chars().count(), MAX_FIELD_CHARS);
        let plain = FieldError::new("userId", ErrorCode::Empty, "fine as it is");
        assert_eq!(
            (plain.field.as_str(), plain.message.as_str()),
            ("userId", "fine as it is")
        );
    }

    #[test]
    fn more_than_the_cap_ends_in_one_count_entry() {
        let many: Vec<_> = (0..25)
            .map(|i| FieldError::new(format!("k{i}"), ErrorCode::UnknownField, "unknown"))
            .collect();
        let errors = ValidationErrors::from_vec(many).expect("some");
        assert_eq!(errors.errors().len(), crate::MAX_REPORTED_ERRORS + 1);
        let last = errors.errors().last().expect("last");
        assert_eq!(
            (last.field.as_str(), last.code),
            ("body", ErrorCode::TooManyErrors)
        );
        assert!(
            last.message.starts_with("5 more problems"),
            "{}",
            last.message
        );
        let exactly = (0..20)
            .map(|i| FieldError::new(format!("k{i}"), ErrorCode::UnknownField, "unknown"))
            .collect();
        assert_eq!(
            ValidationErrors::from_vec(exactly)
                .expect("some")
                .errors()
                .len(),
            20
        );
    }

    #[test]
    fn the_typescript_union_lists_every_code() {
        let codes = ErrorCode::all_codes();
        assert_eq!(codes.len(), 14, "{codes:?}");
        let ts = include_str!("wasm.rs");
        for code in codes {
            assert!(
                ts.contains(&format!("\"{code}\"")),
                "wasm.rs's FieldError type lacks {code}"
            );
        }
    }
}
