//! The rules of `POST /events/batch`. The batch's own rules (JSON, an object, `events` an array
//! of 1 to [`MAX_BATCH_ITEMS`] items, at most [`MAX_BATCH_BYTES`]) refuse it whole; each item is
//! then judged alone by exactly the rules of `POST /events/generate`, so one bad item refuses
//! only itself.

use crate::error::{ErrorCode, FieldError, ValidationErrors};
use crate::parse::{parse_batch, Events};
use crate::validate::{check_request, validate_request};
use crate::{EventRequest, MAX_BATCH_BYTES, MAX_BATCH_ITEMS};

/// Each item's verdict, in request order.
pub type Verdicts<T> = Vec<Result<T, ValidationErrors>>;

/// Validates a `POST /events/batch` body: `Err` when the batch is refused whole, otherwise each
/// item's request or its problems, in order.
pub fn validate_batch(body: &[u8]) -> Result<Verdicts<EventRequest>, ValidationErrors> {
    let items = batch_items(body)?;
    Ok(items
        .into_iter()
        .map(|item| validate_request(item.as_bytes()))
        .collect())
}

/// The verdicts of [`validate_batch`] alone (the browser's `validateBatch`): nothing of the
/// body is copied.
pub fn check_batch(body: &[u8]) -> Result<Verdicts<()>, ValidationErrors> {
    let items = batch_items(body)?;
    Ok(items
        .into_iter()
        .map(|item| check_request(item.as_bytes()))
        .collect())
}

/// The text of each item, once the batch passed its own rules.
fn batch_items(body: &[u8]) -> Result<Vec<&str>, ValidationErrors> {
    if body.len() > MAX_BATCH_BYTES {
        return Err(ValidationErrors::single(FieldError::new(
            "body",
            ErrorCode::TooLarge,
            format!(
                "the body is {} bytes; the limit is {MAX_BATCH_BYTES} bytes",
                body.len()
            ),
        )));
    }
    let batch = parse_batch(body).map_err(ValidationErrors::single)?;
    let mut errors: Vec<FieldError> = batch
        .unknown
        .iter()
        .map(|key| {
            FieldError::new(
                key.as_ref(),
                ErrorCode::UnknownField,
                format!(
                    "unknown field {}; the only allowed field is events",
                    crate::validate::quote(key)
                ),
            )
        })
        .collect();
    let items = match batch.events {
        None => {
            errors.push(FieldError::new(
                "events",
                ErrorCode::Required,
                "events is required: an array of 1 to 500 event requests",
            ));
            None
        }
        Some(Events::Other(found)) => {
            errors.push(FieldError::new(
                "events",
                ErrorCode::WrongType,
                format!("events must be an array, got {found}"),
            ));
            None
        }
        Some(Events::Items(items)) if items.is_empty() => {
            errors.push(FieldError::new(
                "events",
                ErrorCode::Empty,
                "events must hold at least one event request",
            ));
            None
        }
        Some(Events::Items(items)) if items.len() > MAX_BATCH_ITEMS => {
            errors.push(FieldError::new(
                "events",
                ErrorCode::TooLong,
                format!(
                    "events holds {} items; the limit is {MAX_BATCH_ITEMS}",
                    items.len()
                ),
            ));
            None
        }
        Some(Events::Items(items)) => Some(items),
    };
    match (ValidationErrors::from_vec(errors), items) {
        (None, Some(items)) => Ok(items),
        (Some(errors), _) => Err(errors),
        (None, None) => Err(ValidationErrors::single(FieldError::new(
            "body",
            ErrorCode::MalformedJson,
            "the body could not be validated",
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(body: &str) -> Vec<(String, &'static str)> {
        match validate_batch(body.as_bytes()) {
            Ok(_) => Vec::new(),
            Err(e) => e
                .errors()
                .iter()
                .map(|f| (f.field.clone(), f.code.as_str()))
                .collect(),
        }
    }

    #[test]
    fn each_item_is_judged_alone_by_the_single_rules() {
        let body = r#"{"events":[
            {"userId":"u1","eventType":"LOGIN"},
            {"userId":"u1","eventType":"login"},
            {"userId":"u1","eventType":"LOGIN","eventType":"LOGOUT"},
            [1,2],
            {"userId":"u2","eventType":"PRODUCT_VIEW","payload":{"sku":"a","n":1.5}}
        ]}"#;
        let verdicts = validate_batch(body.as_bytes()).expect("a batch");
        assert_eq!(verdicts.len(), 5);
        assert!(verdicts[0].as_ref().is_ok_and(|r| r.user_id == "u1"));
        let single = |item: &str| validate_request(item.as_bytes()).expect_err("refused");
        for (i, item) in [
            (1, r#"{"userId":"u1","eventType":"login"}"#),
            (
                2,
                r#"{"userId":"u1","eventType":"LOGIN","eventType":"LOGOUT"}"#,
            ),
            (3, "[1,2]"),
        ] {
            assert_eq!(
                verdicts[i].as_ref().expect_err("refused").errors(),
                single(item).errors(),
                "item {i} gets the single endpoint's words"
            );
        }
        assert!(verdicts[4].is_ok());
        assert_eq!(check_batch(body.as_bytes()).expect("batch").len(), 5);
    }

    #[test]
    fn the_batch_rules_refuse_it_whole() {
        assert_eq!(codes(r#"{"events":[]}"#), [("events".into(), "empty")]);
        assert_eq!(codes(r#"{}"#), [("events".into(), "required")]);
        assert_eq!(codes(r#"{"events":{}}"#), [("events".into(), "wrong_type")]);
        assert_eq!(
            codes(r#"{"events":[{}],"extra":1}"#),
            [("extra".into(), "unknown_field")]
        );
        assert_eq!(
            codes(r#"[{"events":[]}]"#),
            [("body".into(), "not_an_object")]
        );
        assert_eq!(
            codes(r#"{"events":[{}],"events":[]}"#),
            [("events".into(), "duplicate_key")]
        );
        assert_eq!(
            codes(r#"{"events":[{}"#),
            [("body".into(), "malformed_json")]
        );
        assert_eq!(
            codes(r#"{"events":[1e400]}"#),
            [("body".into(), "malformed_json")]
        );
        assert_eq!(codes("  "), [("body".into(), "malformed_json")]);
        let item = r#"{"userId":"u","eventType":"LOGIN"}"#;
        let many = format!(
            r#"{{"events":[{}]}}"#,
            vec![item; MAX_BATCH_ITEMS + 1].join(",")
        );
        assert_eq!(codes(&many), [("events".into(), "too_long")]);
        let most = format!(
            r#"{{"events":[{}]}}"#,
            vec![item; MAX_BATCH_ITEMS].join(",")
        );
        assert!(validate_batch(most.as_bytes()).is_ok());
        let huge = format!(
            r#"{{"events":[{item}],"pad":"{}"}}"#,
            "x".repeat(MAX_BATCH_BYTES)
        );
        assert_eq!(codes(&huge), [("body".into(), "too_large")]);
    }

    #[test]
    fn any_nesting_is_skipped_without_recursion_and_refused_in_its_item_alone() {
        let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
        let body = format!(
            r#"{{"events":[{{"userId":"u","eventType":"LOGIN","payload":{{"a":{deep}}}}},{{"userId":"u","eventType":"LOGIN"}}]}}"#
        );
        let verdicts = validate_batch(body.as_bytes()).expect("a batch");
        assert!(verdicts[0].is_err() && verdicts[1].is_ok());
        let unclosed = format!(r#"{{"events":[{}]}}"#, "[".repeat(100_000));
        assert_eq!(codes(&unclosed), [("body".into(), "malformed_json")]);
    }
}
