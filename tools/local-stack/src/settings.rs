//! The settings file: `KEY=VALUE` lines, as `.env.example` documents them.

use std::path::Path;

/// Reads `KEY=VALUE` lines (blank lines and `#` comments skipped, an optional `export `, quotes
/// around the value removed). A later line for the same key wins.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: expected KEY=VALUE, got {line:?}", n + 1));
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("line {}: {key:?} is not a variable name", n + 1));
        }
        let value = value.trim();
        let value = [('"', '"'), ('\'', '\'')]
            .iter()
            .find_map(|(a, b)| value.strip_prefix(*a)?.strip_suffix(*b))
            .unwrap_or(value);
        set(&mut out, key, value);
    }
    Ok(out)
}

/// Reads a settings file.
pub fn read(path: &Path) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Sets `key` to `value`, replacing an earlier value.
pub fn set(settings: &mut Vec<(String, String)>, key: &str, value: &str) {
    settings.retain(|(k, _)| k != key);
    settings.push((key.to_owned(), value.to_owned()));
}

/// The settings as a file cargo lambda watch reads with `--env-file` (one per line: values may
/// hold commas, which its `--env-var` would split).
pub fn render(settings: &[(String, String)]) -> Result<String, String> {
    let mut out = String::new();
    for (k, v) in settings {
        if v.contains('\n') {
            return Err(format!("{k}: a value cannot span lines"));
        }
        out.push_str(&format!("{k}={v}\n"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_env_file_format_and_later_lines_win() {
        let text = "# comment\n\nKAFKA_BROKERS=a:1,b:2\nexport RUST_LOG=\"info,x=debug\"\nKAFKA_BROKERS=c:3\n";
        let s = parse(text).expect("parses");
        assert_eq!(
            s,
            [
                ("RUST_LOG".to_owned(), "info,x=debug".to_owned()),
                ("KAFKA_BROKERS".to_owned(), "c:3".to_owned())
            ]
        );
        assert_eq!(
            render(&s).expect("renders"),
            "RUST_LOG=info,x=debug\nKAFKA_BROKERS=c:3\n"
        );
    }

    #[test]
    fn the_example_file_parses() {
        let example = include_str!("../../../.env.example");
        let s = parse(example).expect(".env.example parses");
        assert!(s.iter().any(|(k, _)| k == "KAFKA_BROKERS"));
    }

    #[test]
    fn a_line_without_equals_is_an_error_naming_it() {
        assert!(parse("A=1\nnope\n").expect_err("bad").starts_with("line 2"));
    }
}
