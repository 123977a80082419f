//! A strict JSON reader for request and event bodies.
//!
//! `serde_json::Value` silently keeps the last of two duplicate keys and only stops nesting at 128
//! levels. Both are unsafe for an event pipeline: two services reading the same bytes could disagree
//! on a field, and a deeply nested payload costs every consumer. This reader rejects duplicate keys
//! anywhere, stops at the payload depth limit, and keeps the top-level members in document order so
//! unknown fields are reported in the order the client wrote them.

use crate::error::{ErrorCode, FieldError};
use crate::MAX_PAYLOAD_DEPTH;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt::{self, Write as _};

/// Nesting allowed in a whole body: the top-level object plus the payload's own depth.
const MAX_BODY_DEPTH: usize = MAX_PAYLOAD_DEPTH + 1;

/// The members of a top-level JSON object, in document order.
pub(crate) type Members = Vec<(String, Value)>;

/// Where a value sits in the document, as a parent-linked list so that paths are only rendered
/// when a problem is reported.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Key(&'a str, &'a Path<'a>),
    Index(usize, &'a Path<'a>),
}

impl Path<'_> {
    /// The top-level field this path is under, or `body` for the root itself.
    fn field(&self) -> String {
        let mut cur = self;
        let mut top = None;
        loop {
            match cur {
                Path::Root => break,
                Path::Key(k, parent) => {
                    top = Some(*k);
                    cur = parent;
                }
                Path::Index(_, parent) => {
                    top = None;
                    cur = parent;
                }
            }
        }
        top.unwrap_or("body").to_owned()
    }

    fn render(&self, out: &mut String) {
        match self {
            Path::Root => {}
            Path::Key(k, parent) => {
                parent.render(out);
                if !matches!(parent, Path::Root) {
                    out.push('.');
                }
                out.push_str(k);
            }
            Path::Index(i, parent) => {
                parent.render(out);
                let _ = write!(out, "[{i}]");
            }
        }
    }

    fn display(&self) -> String {
        let mut s = String::new();
        self.render(&mut s);
        if s.is_empty() {
            s.push_str("the body");
        }
        s
    }
}

/// Reads `body` as a JSON object. On failure, the single problem that stopped the reader.
pub(crate) fn parse_object(body: &[u8]) -> Result<Members, FieldError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(FieldError::new(
            "body",
            ErrorCode::MalformedJson,
            "the body is empty; send a JSON object",
        ));
    }
    let problem = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(body);
    let result = RootSeed { problem: &problem }
        .deserialize(&mut de)
        .and_then(|members| de.end().map(|()| members));
    match result {
        Ok(members) => Ok(members),
        Err(err) => Err(problem.into_inner().unwrap_or_else(|| {
            FieldError::new(
                "body",
                ErrorCode::MalformedJson,
                format!("the body is not valid JSON: {err}"),
            )
        })),
    }
}

struct RootSeed<'p> {
    problem: &'p RefCell<Option<FieldError>>,
}

impl<'de> DeserializeSeed<'de> for RootSeed<'_> {
    type Value = Members;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Members, D::Error> {
        d.deserialize_any(self)
    }
}

impl RootSeed<'_> {
    fn not_an_object<E: de::Error>(&self, what: &str) -> E {
        *self.problem.borrow_mut() = Some(FieldError::new(
            "body",
            ErrorCode::NotAnObject,
            format!("the body must be a JSON object, got {what}"),
        ));
        E::custom("not an object")
    }
}

impl<'de> Visitor<'de> for RootSeed<'_> {
    type Value = Members;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Members, E> {
        Err(self.not_an_object("a boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Members, E> {
        Err(self.not_an_object("a number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Members, E> {
        Err(self.not_an_object("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Members, E> {
        Err(self.not_an_object("a number"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Members, E> {
        Err(self.not_an_object("a string"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Members, E> {
        Err(self.not_an_object("null"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Members, A::Error> {
        Err(self.not_an_object("an array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
        let mut members: Members = Vec::new();
        let mut seen = HashSet::new();
        let root = Path::Root;
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(duplicate(self.problem, &key, &root));
            }
            let path = Path::Key(&key, &root);
            let value = map.next_value_seed(ValueSeed {
                depth: 1,
                path: &path,
                problem: self.problem,
            })?;
            members.push((key, value));
        }
        Ok(members)
    }
}

fn duplicate<E: de::Error>(problem: &RefCell<Option<FieldError>>, key: &str, at: &Path) -> E {
    let field = match at {
        Path::Root => key.to_owned(),
        _ => at.field(),
    };
    let location = match at {
        Path::Root => "the body".to_owned(),
        _ => at.display(),
    };
    *problem.borrow_mut() = Some(FieldError::new(
        field,
        ErrorCode::DuplicateKey,
        format!("key \"{key}\" appears more than once in {location}; send each key once"),
    ));
    E::custom("duplicate key")
}

/// Reads any JSON value below the root, enforcing depth and key uniqueness.
struct ValueSeed<'a, 'p> {
    /// Depth of the container holding this value (the root object is 1).
    depth: usize,
    path: &'a Path<'a>,
    problem: &'p RefCell<Option<FieldError>>,
}

impl ValueSeed<'_, '_> {
    fn enter<E: de::Error>(&self) -> Result<usize, E> {
        let depth = self.depth + 1;
        if depth > MAX_BODY_DEPTH {
            *self.problem.borrow_mut() = Some(FieldError::new(
                self.path.field(),
                ErrorCode::TooDeep,
                format!(
                    "{} nests deeper than {MAX_PAYLOAD_DEPTH} levels; flatten it",
                    self.path.field()
                ),
            ));
            return Err(E::custom("too deep"));
        }
        Ok(depth)
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let depth = self.enter()?;
        let mut items = Vec::new();
        loop {
            let path = Path::Index(items.len(), self.path);
            let seed = ValueSeed {
                depth,
                path: &path,
                problem: self.problem,
            };
            match seq.next_element_seed(seed)? {
                Some(v) => items.push(v),
                None => break,
            }
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let depth = self.enter()?;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(duplicate(self.problem, &key, self.path));
            }
            let path = Path::Key(&key, self.path);
            let value = map.next_value_seed(ValueSeed {
                depth,
                path: &path,
                problem: self.problem,
            })?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// Nesting depth of a value: scalars are 0, an empty object or array is 1.
pub(crate) fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Size in bytes of the compact JSON serialization, without allocating it.
pub(crate) fn serialized_len(value: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a `Value` into an infallible writer cannot fail.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_document_order_of_top_level_members() {
        let members = parse_object(br#"{"b":1,"a":2,"c":3}"#).expect("valid");
        let keys: Vec<_> = members.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b", "a", "c"]);
    }

    #[test]
    fn reports_nested_duplicate_with_its_path() {
        let err = parse_object(br#"{"payload":{"a":{"x":1,"x":2}}}"#).expect_err("duplicate");
        assert_eq!(err.code, ErrorCode::DuplicateKey);
        assert_eq!(err.field, "payload");
        assert!(err.message.contains("payload.a"), "{}", err.message);
    }

    #[test]
    fn depth_counts_containers_only() {
        assert_eq!(depth(&serde_json::json!(1)), 0);
        assert_eq!(depth(&serde_json::json!({})), 1);
        assert_eq!(depth(&serde_json::json!({"a": [{"b": 1}]})), 3);
    }

    #[test]
    fn serialized_len_matches_to_vec() {
        let v = serde_json::json!({"a": [1, 2.5, "é"], "b": null});
        let bytes = serde_json::to_vec(&v).expect("serializable");
        assert_eq!(serialized_len(&v), bytes.len());
    }

    #[test]
    fn trailing_garbage_is_malformed() {
        let err = parse_object(br#"{"a":1} x"#).expect_err("garbage");
        assert_eq!(err.code, ErrorCode::MalformedJson);
    }
}
