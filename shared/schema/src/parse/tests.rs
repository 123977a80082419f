use super::text::compact;
use super::*;

fn keys(body: &str) -> Vec<String> {
    parse_object(body.as_bytes())
        .expect("valid")
        .iter()
        .map(|(k, _)| k.to_string())
        .collect()
}

/// The payload member of `{"payload":<text>}`: its text and whether it is compact.
fn object(text: &str) -> (String, bool) {
    let body = format!(r#"{{"payload":{text}}}"#);
    let mut members = parse_object(body.as_bytes()).expect("valid");
    match members.iter_mut().last().map(|(_, m)| m.take()) {
        Some(Some(Member::Object { text, compact })) => (text.to_owned(), compact),
        other => panic!("not an object: {other:?}"),
    }
}

#[test]
fn keeps_document_order_of_top_level_members() {
    assert_eq!(keys(r#"{"b":1,"a":2,"c":3}"#), ["b", "a", "c"]);
    // Past the members kept on the stack.
    let seven = r#"{"g":1,"f":2,"e":3,"d":4,"c":5,"b":6,"a":7}"#;
    assert_eq!(keys(seven), ["g", "f", "e", "d", "c", "b", "a"]);
    for body in [
        r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"a":7}"#,
        r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"f":7}"#,
    ] {
        let err = parse_object(body.as_bytes()).expect_err(body);
        assert_eq!(err.code, ErrorCode::DuplicateKey, "{body}");
    }
}

#[test]
fn reports_nested_duplicate_with_its_path() {
    let err = parse_object(br#"{"payload":{"a":{"x":1,"x":2}}}"#).expect_err("duplicate");
    assert_eq!(err.code, ErrorCode::DuplicateKey);
    assert_eq!(err.field, "payload");
    assert!(err.message.contains("payload.a"), "{}", err.message);
}

#[test]
fn a_key_spelled_two_ways_is_one_key() {
    for body in [
        r#"{"payload":{"a":1,"\u0061":2}}"#,
        r#"{"payload":{"\u0061":1,"b":2,"a":3}}"#,
    ] {
        let err = parse_object(body.as_bytes()).expect_err(body);
        assert_eq!(err.code, ErrorCode::DuplicateKey, "{body}");
    }
    assert!(parse_object(br#"{"payload":{"\u0061":1,"b":2,"c":3}}"#).is_ok());
    let many: String = (0..40).map(|i| format!(r#""k{i}":{i},"#)).collect();
    let body = format!(r#"{{"payload":{{{many}"k39":0}}}}"#);
    let err = parse_object(body.as_bytes()).expect_err("duplicate past the short list");
    assert_eq!(err.code, ErrorCode::DuplicateKey);
}

#[test]
fn malformed_json_says_what_and_where() {
    for (body, message) in [
        (r#"{"a":1} x"#, "at line 1 column 9: unexpected 'x'"),
        (
            "{\n \"a\":",
            "at line 2 column 6: unexpected end of the body",
        ),
        (
            "{\"a\":\"\t\"}",
            "at line 1 column 7: unexpected character U+0009",
        ),
        (
            r#"{"a":1e999}"#,
            "at line 1 column 6: a number beyond the range of a double",
        ),
    ] {
        let err = parse_object(body.as_bytes()).expect_err(body);
        assert_eq!(err.code, ErrorCode::MalformedJson);
        assert!(err.message.ends_with(message), "{body:?}: {}", err.message);
    }
    let err = parse_object(b"{\"a\":\"\xff\"}").expect_err("not UTF-8");
    assert!(
        err.message.contains("column 6: a string that is not UTF-8"),
        "{}",
        err.message
    );
}

#[test]
fn compact_writes_what_serde_json_writes() {
    let text =
        "{ \"a\" : [ 1E2, -0, 1.50, \"\\/\\u0041\\u001F\\ud83d\\ude00\" ], \"b\":{\"c\":null} }";
    let value: serde_json::Value = serde_json::from_str(text).expect("JSON");
    assert_eq!(compact(text), value.to_string());
}

#[test]
fn escapes_are_unescaped() {
    let members = parse_object(br#"{"u":"a\"b\\c\/d\n\u00e9\ud83d\ude00"}"#).expect("valid");
    assert!(
        matches!(members.iter().next(), Some((_, Some(Member::String(s)))) if s == "a\"b\\c/d\n\u{e9}\u{1F600}")
    );
}

#[test]
fn compact_means_what_serde_json_writes() {
    for text in [
        r#"{}"#,
        r#"{"a":[1,-2,0.5,1e-7,"x\n\u0001\"\\",true,null,{}],"b":-9223372036854775808}"#,
        r#"{"é":"\u001f","big":18446744073709551615}"#,
    ] {
        assert_eq!(object(text), (text.to_owned(), true), "{text}");
    }
    for text in [
        r#"{ }"#,
        r#"{"a": 1}"#,
        r#"{"a":[1, 2]}"#,
        r#"{"a":"\/"}"#,
        r#"{"a":"\u0041"}"#,
        r#"{"a":"\u001F"}"#,
        r#"{"a":"\u000a"}"#,
        r#"{"a":-0}"#,
        r#"{"a":1E2}"#,
        r#"{"a":1.50}"#,
        r#"{"a":18446744073709551616}"#,
        r#"{"a":"\ud83d\ude00"}"#,
    ] {
        assert_eq!(object(text), (text.to_owned(), false), "{text}");
    }
}

#[test]
fn rejects_what_serde_json_rejects() {
    for body in [
        r#"{"a":1e400}"#,
        r#"{"a":-1e309}"#,
        r#"{"a":"\ud800"}"#,
        r#"{"a":"\udc00"}"#,
        r#"{"a":"\ud800\u0041"}"#,
        "{\"a\":\"\u{1}\"}",
        r#"{"a":01}"#,
        r#"{"a":1.}"#,
        r#"{"a":.5}"#,
        r#"{"a":+1}"#,
        r#"{"a":tru}"#,
        r#"{"a":[1,]}"#,
        r#"{"a":1,}"#,
        r#"{"a":"\x"}"#,
    ] {
        let err = parse_object(body.as_bytes()).expect_err(body);
        assert_eq!(err.code, ErrorCode::MalformedJson, "{body}");
        assert!(
            serde_json::from_str::<serde_json::Value>(body).is_err(),
            "{body}"
        );
    }
    for body in [r#"{"a":0e999999}"#, "{\"a\":\"\x7f\"}"] {
        assert!(parse_object(body.as_bytes()).is_ok(), "{body}");
        assert!(
            serde_json::from_str::<serde_json::Value>(body).is_ok(),
            "{body}"
        );
    }
}

#[test]
fn the_root_must_be_an_object() {
    for (body, what) in [
        ("[1,", "an array"),
        ("\"x\"", "a string"),
        ("12 x", "a number"),
    ] {
        let err = parse_object(body.as_bytes()).expect_err(body);
        assert_eq!(err.code, ErrorCode::NotAnObject, "{body}");
        assert!(err.message.ends_with(what), "{}", err.message);
    }
}
