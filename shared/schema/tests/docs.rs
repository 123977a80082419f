//! docs/api.md repeats the rules for people; it must say what the code does.
#![cfg(not(target_arch = "wasm32"))]

use event_schema::{
    MAX_BODY_BYTES, MAX_PAYLOAD_BYTES, MAX_PAYLOAD_DEPTH, MAX_REPORTED_ERRORS, MAX_USER_ID_CHARS,
};

const API_DOC: &str = include_str!("../../../docs/api.md");

#[test]
fn the_api_doc_states_the_limits_the_code_enforces() {
    let rules = API_DOC
        .split_once("Rules (all in `shared/schema`)")
        .map(|(_, rest)| &rest[..rest.find("```").unwrap_or(rest.len())])
        .expect("docs/api.md has the rules paragraph");
    for phrase in [
        format!("at most {} KiB with", MAX_BODY_BYTES / 1024),
        format!("1–{MAX_USER_ID_CHARS} characters"),
        format!("at most {} KiB as", MAX_PAYLOAD_BYTES / 1024),
        format!("{MAX_PAYLOAD_DEPTH} levels deep"),
        format!("up to {MAX_REPORTED_ERRORS};"),
        format!("gets those {MAX_REPORTED_ERRORS}"),
    ] {
        let flat = rules.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains(&phrase),
            "docs/api.md's rules lack {phrase:?}"
        );
    }
}

#[test]
fn the_api_doc_lists_every_error_code() {
    let codes = event_schema::ErrorCode::all_codes();
    assert!(codes.len() >= 14, "{codes:?}");
    let row = API_DOC
        .lines()
        .find(|l| l.starts_with("| 400 | `validation_failed`"))
        .expect("docs/api.md has the 400 row");
    for code in codes {
        assert!(
            row.contains(&format!("`{code}`")),
            "docs/api.md's 400 row lacks {code}"
        );
    }
}
