//! The shared validation vectors (`tests/data/vectors.json`): one file of cases that the native
//! build, the wasm build and the JavaScript checks all answer. Inputs keep huge bodies readable
//! with three macros, expanded by [`expand`] (and by `web/tests/vectors.mjs` for JavaScript).

/// The vectors file, as checked in.
pub const FILE: &str = include_str!("../tests/data/vectors.json");

/// Expands `${repeat:S:N}` (S repeated N times), `${nest:N}` (N nested objects `{"a":…}` around
/// `1`) and `${keys:N}` (the members `"k0":0,…,"kN-1":0`). Unknown or unterminated macros are
/// kept as they are.
pub fn expand(input: &str) -> String {
    let mut out = String::new();
    let mut rest = input;
    while let Some(start) = rest.find("${") {
        let Some(end) = rest[start..].find('}').map(|e| e + start) else {
            break;
        };
        out.push_str(&rest[..start]);
        let body = &rest[start + 2..end];
        let parts: Vec<&str> = body.split(':').collect();
        let count = |s: &str| s.parse::<usize>().unwrap_or(0);
        match parts.as_slice() {
            ["repeat", s, n] => out.push_str(&s.repeat(count(n))),
            ["nest", n] => {
                out.push_str(&"{\"a\":".repeat(count(n)));
                out.push('1');
                out.push_str(&"}".repeat(count(n)));
            }
            ["keys", n] => {
                let keys: Vec<String> = (0..count(n)).map(|i| format!("\"k{i}\":0")).collect();
                out.push_str(&keys.join(","));
            }
            _ => out.push_str(&rest[start..=end]),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_macro_expands() {
        assert_eq!(expand("a${repeat:xy:3}b"), "axyxyxyb");
        assert_eq!(expand("${nest:2}"), r#"{"a":{"a":1}}"#);
        assert_eq!(expand("{${keys:2}}"), r#"{"k0":0,"k1":0}"#);
        assert_eq!(expand("${other:1} ${"), "${other:1} ${");
    }
}
