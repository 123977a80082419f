//! ARCHITECTURE.md's tables of crates and scripts list every crate directory and every script,
//! so that a reader finds each one explained. This fails when one is added without a row.

use std::path::Path;

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The files under `dir` (recursively), as paths from the repository root.
fn files(dir: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![repo().join(dir)];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)
            .expect("a readable directory")
            .flatten()
        {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "__pycache__") {
                    stack.push(path);
                }
            } else if let Ok(rel) = path.strip_prefix(repo()) {
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_crate_and_script_has_a_row() {
    let doc = std::fs::read_to_string(repo().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let mut missing = Vec::new();
    for group in ["shared", "functions", "tools"] {
        for entry in std::fs::read_dir(repo().join(group))
            .expect(group)
            .flatten()
        {
            if entry.path().join("Cargo.toml").is_file() {
                let path = format!("`{group}/{}`", entry.file_name().to_string_lossy());
                if !doc.contains(&path) {
                    missing.push(path);
                }
            }
        }
    }
    for script in files("scripts") {
        if !doc.contains(&format!("`{script}`")) {
            missing.push(script);
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md has no row for: {}",
        missing.join(", ")
    );
}
