//! Runs the shared vectors. The same file runs natively (`cargo test`) and as WebAssembly under
//! node (`cargo test --target wasm32-unknown-unknown`), so both targets must agree verdict for
//! verdict and code for code.

use event_schema::{validate_event, validate_request, FieldError, ValidationErrors};
use serde::Deserialize;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use event_schema::vectors::{expand, FILE as VECTORS};

#[derive(Deserialize)]
struct File {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    kind: String,
    input: String,
    ok: bool,
    #[serde(default)]
    errors: Vec<Expected>,
}

#[derive(Deserialize, Debug, PartialEq)]
struct Expected {
    field: String,
    code: String,
}

fn verdict(kind: &str, body: &[u8]) -> Result<(), ValidationErrors> {
    match kind {
        "request" => validate_request(body).map(drop),
        "event" => validate_event(body).map(drop),
        other => panic!("unknown kind {other}"),
    }
}

#[test]
fn shared_vectors_give_the_expected_verdicts() {
    let file: File = serde_json::from_str(VECTORS).expect("vectors.json parses");
    assert!(file.vectors.len() >= 40, "at least 40 vectors");
    let mut failures = Vec::new();
    for v in &file.vectors {
        let body = expand(&v.input);
        let got: Vec<FieldError> = match verdict(&v.kind, body.as_bytes()) {
            Ok(()) => Vec::new(),
            Err(e) => e.into_vec(),
        };
        let got_codes: Vec<Expected> = got
            .iter()
            .map(|e| Expected {
                field: e.field.clone(),
                code: e.code.as_str().to_owned(),
            })
            .collect();
        if v.ok != got.is_empty() || (!v.ok && got_codes != v.errors) {
            failures.push(format!(
                "{}: expected ok={} {:?}, got {:?}",
                v.name, v.ok, v.errors, got
            ));
        }
        for e in &got {
            assert!(
                !e.message.is_empty() && e.message.len() < 300,
                "{}: message must be short and present: {:?}",
                v.name,
                e.message
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The JavaScript-facing `check` export gives the same verdicts as the Rust API, in the compact
/// shape the package's `validate` reads: nothing when valid, else a JSON array of errors.
#[cfg(all(target_arch = "wasm32", feature = "wasm"))]
#[test]
fn the_js_validate_export_agrees_with_every_request_vector() {
    let file: File = serde_json::from_str(VECTORS).expect("vectors.json parses");
    for v in file.vectors.iter().filter(|v| v.kind == "request") {
        let body = expand(&v.input);
        let errors: Vec<FieldError> = event_schema::wasm::check(&body)
            .map(|text| serde_json::from_str(&text).expect("a JSON array of errors"))
            .unwrap_or_default();
        let native = validate_request(body.as_bytes())
            .err()
            .map(ValidationErrors::into_vec)
            .unwrap_or_default();
        assert_eq!(errors, native, "{}", v.name);
    }
    assert_eq!(
        event_schema::wasm::event_types(),
        ["LOGIN", "LOGOUT", "PRODUCT_VIEW"]
    );
}
