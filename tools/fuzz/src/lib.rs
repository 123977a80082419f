//! What the fuzzers check, as plain functions: [`check_body`] feeds any bytes to both validators
//! and the batch reader,
//! [`check_record`] turns any bytes into an MSK record for the processor's decoding,
//! [`check_batch`] turns any bytes into a whole MSK event for the processor's handler, and
//! [`check_token`] hands any bytes to the API's credential checks; each panics when an
//! invariant breaks. The libFuzzer targets (`src/bin/fuzz-*.rs`) call them, and so do the unit
//! tests, on the shared vectors. [`verdict`] is the native verdict in the form the wasm
//! comparison (`web/fuzz/compare.mjs`) reads.
//!
//! The processor is built without its Lambda runtime, Kafka client and DynamoDB adapter
//! (`default-features = false`), so the fuzzed code is the shipped handler without them.
#![warn(missing_docs)]

mod batch;

pub use batch::check_batch;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use event_kafka::decode;
use event_kafka::{dlq_headers, Reason, MAX_LETTER_BYTES, MAX_REASON_BYTES};
use event_schema::error::{MAX_FIELD_CHARS, MAX_MESSAGE_CHARS};
use event_schema::{
    check_request, validate_batch, validate_event, validate_request, ErrorCode, EventRequest,
    ValidationErrors, MAX_BATCH_ITEMS, MAX_REPORTED_ERRORS,
};

fn check_errors(errors: &ValidationErrors) {
    let list = errors.errors();
    assert!(
        !list.is_empty() && list.len() <= MAX_REPORTED_ERRORS + 1,
        "{} errors",
        list.len()
    );
    for e in list {
        assert!(
            e.field.chars().count() <= MAX_FIELD_CHARS,
            "field {:?}",
            e.field
        );
        assert!(
            e.message.chars().count() <= MAX_MESSAGE_CHARS,
            "message {:?}",
            e.message
        );
        let unsafe_char = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
        assert!(!e.field.chars().any(unsafe_char), "field {:?}", e.field);
        assert!(
            !e.message.chars().any(unsafe_char),
            "message {:?}",
            e.message
        );
    }
}

/// The schema crate's one-pass reader against `serde_json` on the same bytes: it calls JSON
/// malformed exactly when `serde_json` does (it may stop earlier, on a rule of its own), and an
/// accepted payload is byte for byte what `serde_json` writes for it.
fn check_reader(data: &[u8], verdict: &Result<EventRequest, ValidationErrors>) {
    let reference = serde_json::from_slice::<serde_json::Value>(data);
    match verdict {
        Err(errors) if errors.first_code() == ErrorCode::MalformedJson => assert!(
            reference.is_err(),
            "the reader calls JSON malformed that serde_json reads: {errors}"
        ),
        Err(_) => {}
        Ok(request) => {
            let value = reference.expect("serde_json reads what the reader accepts");
            let expected = value
                .get("payload")
                .filter(|p| !p.is_null())
                .map(serde_json::Value::to_string);
            let got = request.payload.as_ref().map(|p| p.as_json().to_owned());
            assert_eq!(got, expected, "the payload's compact text");
        }
    }
}

/// Both validators on `data`: no panic, bounded and escaped errors, the reader agrees with
/// `serde_json`, and whatever is accepted survives a round trip (request → event → JSON → the
/// event validator).
pub fn check_body(data: &[u8]) {
    let verdict = validate_request(data);
    check_reader(data, &verdict);
    assert_eq!(
        check_request(data).err(),
        verdict.as_ref().err().cloned(),
        "check_request and validate_request give one verdict"
    );
    match verdict {
        Err(errors) => check_errors(&errors),
        Ok(request) => {
            let again = serde_json::to_vec(&request).expect("a request serializes");
            assert_eq!(
                validate_request(&again).as_ref(),
                Ok(&request),
                "request round trip"
            );
            let at = chrono::DateTime::from_timestamp_millis(1_795_536_424_123).unwrap_or_default();
            let event = request.into_event_at(uuid::Uuid::from_u128(7), at);
            let bytes = serde_json::to_vec(&event).expect("an event serializes");
            assert_eq!(validate_event(&bytes), Ok(event), "event round trip");
        }
    }
    if let Err(errors) = validate_event(data) {
        check_errors(&errors);
    }
    check_batch_body(data);
}

/// Any bytes as a `POST /events/batch` body, and as the one item of a batch: the batch's
/// verdicts and the browser's (`check_batch`) agree, every problem has the shape of a single
/// body's, there are never more verdicts than `MAX_BATCH_ITEMS`, and a request that is valid
/// alone is the same request as an item.
fn check_batch_body(data: &[u8]) {
    let verdicts = validate_batch(data);
    let checked = event_schema::check_batch(data);
    match (&verdicts, &checked) {
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "one verdict for the batch");
            check_errors(a);
        }
        (Ok(items), Ok(checks)) => {
            assert!(items.len() <= MAX_BATCH_ITEMS && !items.is_empty());
            assert_eq!(items.len(), checks.len());
            for (item, check) in items.iter().zip(checks) {
                assert_eq!(
                    item.as_ref().err(),
                    check.as_ref().err(),
                    "one verdict per item"
                );
                if let Err(errors) = item {
                    check_errors(errors);
                }
            }
        }
        _ => panic!("validate_batch and check_batch disagree on the batch"),
    }
    if let Ok(alone) = validate_request(data) {
        let mut wrapped = b"{\"events\":[".to_vec();
        wrapped.extend_from_slice(data);
        wrapped.extend_from_slice(b"]}");
        let items = validate_batch(&wrapped).expect("one valid item is a valid batch");
        assert_eq!(items, vec![Ok(alone)], "an item is judged as it is alone");
    }
}

/// Any bytes as an MSK record (the first byte chooses which parts exist and how the value is
/// encoded), through the processor's decoding: an event that re-validates, or a dead letter
/// that fits the broker whatever the record was.
pub fn check_record(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let split = rest.len().min(usize::from(flags >> 4));
    let (key, value) = rest.split_at(split);
    let value = match flags & 3 {
        0 => None,
        1 => Some(String::from_utf8_lossy(value).into_owned()),
        _ => Some(STANDARD.encode(value)),
    };
    let headers = if flags & 4 != 0 {
        serde_json::json!([{ "event-type": key.iter().map(|b| *b as i8).collect::<Vec<_>>() }])
    } else {
        serde_json::json!([])
    };
    let record = serde_json::json!({
        "topic": if flags & 8 != 0 { serde_json::Value::Null } else { "user-activity-events".into() },
        "partition": 1, "offset": 42, "timestamp": 1_795_536_424_123_i64,
        "timestampType": "CREATE_TIME",
        "key": (!key.is_empty()).then(|| STANDARD.encode(key)),
        "value": value,
        "headers": headers,
    });
    let record = serde_json::from_value(record).expect("a well-formed MSK record");
    match decode::decode("user-activity-events-1", &record) {
        decode::Decoded::Event(event) => {
            let bytes = serde_json::to_vec(&event).expect("an event serializes");
            assert_eq!(
                validate_event(&bytes),
                Ok(event),
                "a decoded event re-validates"
            );
        }
        decode::Decoded::Poison(letter) => {
            // Decoding itself never gives the reason kept for a panic.
            assert_ne!(letter.reason, Reason::ProcessingPanicked);
            let encoded = letter.encode(MAX_LETTER_BYTES);
            assert!(
                encoded.size() <= MAX_LETTER_BYTES,
                "letter of {} bytes",
                encoded.size()
            );
            for (name, value) in &encoded.headers {
                if [dlq_headers::REASON, dlq_headers::MESSAGE].contains(name) {
                    assert!(
                        value.len() <= MAX_REASON_BYTES,
                        "{name}: {} bytes",
                        value.len()
                    );
                }
            }
        }
    }
}

/// The key set [`check_token`] verifies against: a P-256 key made once per process (`k1`) and
/// an RSA entry (`r1`), so that both signature paths run on whatever the input holds.
fn token_keys() -> &'static event_auth::jwk::KeySet {
    use event_auth::jwk::{KeySet, PublicKey};
    use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING as P256};
    static KEYS: std::sync::OnceLock<KeySet> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&P256, &rng).expect("a P-256 key");
        let pair = EcdsaKeyPair::from_pkcs8(&P256, pkcs8.as_ref(), &rng).expect("the key");
        let mut n = vec![0xC5u8; 256];
        n[255] |= 1;
        KeySet::from_keys(vec![
            PublicKey::p256(Some("k1".into()), pair.public_key().as_ref()).expect("a point"),
            PublicKey::rsa(Some("r1".into()), n, vec![1, 0, 1]),
        ])
    })
}

/// Any bytes as an `Authorization` header value through what the API does with one in `jwt`
/// mode (the bearer token, its header, its signature against published keys, its claims), and
/// as the claims of a token whose signature checked out: never a panic, never a token accepted
/// without the key's private half, and every refusal a message that fits an RFC 6750 challenge.
pub fn check_token(data: &[u8]) {
    use event_auth::token::{self, ClaimRules, TokenUse};
    let rules = ClaimRules {
        issuer: "https://issuer.example".into(),
        audience: "app".into(),
        user_claim: "sub".into(),
        groups_claim: "cognito:groups".into(),
        token_use: TokenUse::Id,
    };
    let now = 1_795_536_424;
    let outcome = event_auth::bearer([data]).and_then(|t| {
        let unverified = token::parse(t)?;
        let claims = unverified.verify(token_keys())?;
        token::check_claims(&claims, unverified.typ(), &rules, now)
    });
    match outcome {
        Ok(identity) => panic!("a token nobody signed was accepted: {identity:?}"),
        Err(e) => assert!(
            event_auth::error::fits_challenge(&e.to_string()),
            "{e:?} cannot go in a WWW-Authenticate header"
        ),
    }
    // The ID-token rules read the most claims (token_use, azp), so they are what is fuzzed.
    match token::check_claims(data, None, &rules, now) {
        Ok(identity) => {
            let claims: serde_json::Value =
                serde_json::from_slice(data).expect("accepted claims are JSON");
            assert_eq!(claims["iss"], "https://issuer.example");
            assert_eq!(claims["sub"].as_str(), Some(identity.user_id.as_str()));
        }
        Err(e) => assert!(
            event_auth::error::fits_challenge(&e.to_string()),
            "{e:?} cannot go in a WWW-Authenticate header"
        ),
    }
}

/// The native verdict on a request body, as one JSON line: `{"body", "ok", "errors": [[field,
/// code], …]}` (the fields and codes the wasm build must report too).
pub fn verdict(body: &str) -> String {
    let errors: Vec<(String, String)> = match validate_request(body.as_bytes()) {
        Ok(_) => Vec::new(),
        Err(e) => e
            .into_vec()
            .into_iter()
            .map(|e| (e.field, e.code.as_str().to_owned()))
            .collect(),
    };
    serde_json::json!({"body": body, "ok": errors.is_empty(), "errors": errors}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invariants_hold_on_the_shared_vectors() {
        let file: serde_json::Value =
            serde_json::from_str(event_schema::vectors::FILE).expect("vectors");
        for v in file["vectors"].as_array().into_iter().flatten() {
            let input = event_schema::vectors::expand(v["input"].as_str().unwrap_or_default());
            check_body(input.as_bytes());
            for flags in [1u8, 2, 0x36, 0xff] {
                let mut data = vec![flags];
                data.extend_from_slice(input.as_bytes());
                check_record(&data);
            }
        }
    }

    #[test]
    fn a_huge_non_json_record_still_makes_a_letter_that_fits() {
        let mut data = vec![2u8];
        data.extend(std::iter::repeat_n(b'x', 1_100_000));
        check_record(&data);
    }

    #[test]
    fn credentials_of_every_shape_are_refused_with_a_safe_message() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let b64 = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let claims = serde_json::json!({"iss": "https://issuer.example", "aud": "app",
            "sub": "alice", "exp": 1_795_536_500});
        for header in [
            serde_json::json!({"alg": "ES256", "kid": "k1"}),
            serde_json::json!({"alg": "RS256", "kid": "r1"}),
            serde_json::json!({"alg": "RS256"}),
            serde_json::json!({"alg": "none"}),
            serde_json::json!({"alg": "ES256", "kid": 7}),
        ] {
            for sig in [
                "",
                "AAAA",
                &URL_SAFE_NO_PAD.encode([7u8; 64]),
                &URL_SAFE_NO_PAD.encode([7u8; 256]),
            ] {
                let token = format!(
                    "Bearer {}.{}.{sig}",
                    b64(header.clone()),
                    b64(claims.clone())
                );
                check_token(token.as_bytes());
            }
        }
        for raw in ["", "Bearer", "Bearer \u{ff}", "bearer a.b.c", "Basic abc"] {
            check_token(raw.as_bytes());
        }
        check_token(claims.to_string().as_bytes());
    }

    #[test]
    fn the_verdict_line_names_fields_and_codes() {
        let line = verdict(r#"{"userId":"","eventType":"LOGIN"}"#);
        assert!(line.contains(r#""errors":[["userId","empty"]]"#), "{line}");
    }
}
