//! The workspace's shape holds: what is deployed (`functions/`) and what it stands on (`shared/`)
//! never depends on a development tool (`tools/`), `shared/` never on `functions/`; no two
//! modules of one crate use each other; and no source file (tests aside) grows past 600 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The workspace's members, from the root manifest's `members = [...]`.
fn members() -> Vec<String> {
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).expect("Cargo.toml");
    let (_, rest) = manifest.split_once("members = [").expect("a members list");
    let (list, _) = rest.split_once(']').expect("the list's end");
    list.split(',')
        .map(|m| m.trim().trim_matches('"').to_owned())
        .filter(|m| !m.is_empty())
        .collect()
}

/// Each member's package name, and its directory.
fn packages() -> BTreeMap<String, String> {
    members()
        .into_iter()
        .map(|dir| {
            let manifest = std::fs::read_to_string(repo().join(&dir).join("Cargo.toml"))
                .expect("a member manifest");
            let name = manifest
                .lines()
                .find_map(|l| l.strip_prefix("name = "))
                .map(|n| n.trim().trim_matches('"').to_owned())
                .expect("a package name");
            (name, dir)
        })
        .collect()
}

/// The names a manifest lists under `[dependencies]` (not dev- or build-dependencies).
fn dependencies(dir: &str) -> Vec<String> {
    let manifest =
        std::fs::read_to_string(repo().join(dir).join("Cargo.toml")).expect("a member manifest");
    let mut section = "";
    let mut out = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
            continue;
        }
        if section != "[dependencies]" || line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((name, _)) = line.split_once(['=', '.']) {
            out.push(name.trim().to_owned());
        }
    }
    out
}

fn floor(dir: &str) -> &str {
    dir.split('/').next().unwrap_or(dir)
}

#[test]
fn nothing_deployed_stands_on_a_tool_and_shared_stands_on_nothing_above_it() {
    let packages = packages();
    let mut wrong = Vec::new();
    for dir in packages.values() {
        for dep in dependencies(dir) {
            let Some(dep_dir) = packages.get(&dep) else {
                continue;
            };
            let allowed = match floor(dir) {
                "tools" => true,
                "functions" => floor(dep_dir) != "tools",
                _ => floor(dep_dir) == "shared",
            };
            if !allowed {
                wrong.push(format!("{dir} depends on {dep_dir}"));
            }
        }
    }
    assert!(
        packages.values().any(|d| d == "functions/events-consumer"),
        "the check sees the consumer"
    );
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The Rust sources under `dir`, recursively.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Test code: a crate's `tests/`, a `tests.rs` or `*_tests.rs` module, and the store's contract
/// suite (the tests every adapter runs, compiled into the crate under its `contract` feature).
fn is_test(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == "tests.rs"
        || name.ends_with("_tests.rs")
        || path.components().any(|c| c.as_os_str() == "tests")
        || path.ends_with("shared/store/src/contract.rs")
}

#[test]
fn no_source_file_but_tests_is_longer_than_600_lines() {
    let mut long = Vec::new();
    let mut seen = 0;
    for dir in members() {
        for path in sources(&repo().join(&dir).join("src")) {
            seen += 1;
            let lines = std::fs::read_to_string(&path)
                .unwrap_or_default()
                .lines()
                .count();
            if !is_test(&path) && lines > 600 {
                long.push(format!("{} ({lines} lines)", path.display()));
            }
        }
    }
    assert!(seen > 50, "only {seen} sources found");
    assert!(long.is_empty(), "{long:#?}");
}

/// A source's code, without comments and without its `#[cfg(test)] mod tests` block.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Module paths (`a`, `a::b`) of a crate's sources under `src`, without binaries.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    sources(src)
        .into_iter()
        .filter(|p| !p.starts_with(src.join("bin")) && !is_test(p))
        .filter_map(|p| {
            let rel = p.strip_prefix(src).ok()?.with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            Some((parts.join("::"), p))
        })
        .collect()
}

/// The crate's own modules `path`'s code names (`crate::a::b`, `super::x`).
fn uses(module: &str, path: &Path, all: &BTreeMap<String, PathBuf>) -> BTreeSet<String> {
    let code = code(path);
    // `super::` from `a/b.rs` and from `a/b/mod.rs` alike names `a`.
    let parent = module
        .rsplit_once("::")
        .map_or(String::new(), |(parent, _)| parent.to_owned());
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> Vec<String> {
        s.split("::")
            .map(|p| {
                p.chars()
                    .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                    .collect::<String>()
            })
            .take_while(|p| !p.is_empty())
            .collect()
    };
    for (prefix, base) in [("crate::", String::new()), ("super::", parent)] {
        for piece in code.split(prefix).skip(1) {
            let parts = ident(piece);
            for n in (1..=parts.len()).rev() {
                let name = parts[..n].join("::");
                let full = if base.is_empty() {
                    name
                } else {
                    format!("{base}::{name}")
                };
                if all.contains_key(&full) {
                    out.insert(full);
                    break;
                }
            }
        }
    }
    out.remove(module);
    out
}

#[test]
fn no_two_modules_of_a_crate_use_each_other() {
    let mut circles = Vec::new();
    let mut edges_seen = 0;
    for dir in members() {
        let all = modules(&repo().join(&dir).join("src"));
        let graph: BTreeMap<&String, BTreeSet<String>> = all
            .iter()
            .map(|(module, path)| (module, uses(module, path, &all)))
            .collect();
        for (a, used) in &graph {
            edges_seen += used.len();
            for b in used {
                if a.as_str() < b.as_str()
                    && graph.get(b).is_some_and(|back| back.contains(a.as_str()))
                {
                    circles.push(format!("{dir}: {a} <-> {b}"));
                }
            }
        }
    }
    assert!(edges_seen > 50, "only {edges_seen} uses found");
    assert!(circles.is_empty(), "{circles:#?}");
}
