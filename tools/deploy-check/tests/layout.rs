//! The documents hold together: ARCHITECTURE.md's tables list every crate directory and every
//! script, README.md's layout table every workspace member, so that a reader finds each one
//! explained; README.md stays a front page that links every document in `docs/`; and every link
//! from one document to another (a file, a heading) leads somewhere.

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

/// The lines of `text` outside fenced code blocks.
fn prose(text: &str) -> Vec<&str> {
    let mut fenced = false;
    text.lines()
        .filter(|l| {
            if l.starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .collect()
}

/// The workspace's members, from the root manifest's `members = [...]`.
fn workspace_members() -> Vec<String> {
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).expect("Cargo.toml");
    let list = manifest
        .split_once("members = [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list)
        .expect("a members list");
    list.split(',')
        .map(|m| m.trim().trim_matches('"').to_owned())
        .filter(|m| !m.is_empty())
        .collect()
}

#[test]
fn the_readme_layout_names_every_workspace_member() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let layout = readme
        .split_once("\n## Repository layout\n")
        .map(|(_, rest)| rest.split("\n## ").next().unwrap_or(rest))
        .expect("README.md has a Repository layout section");
    let members = workspace_members();
    assert!(members.len() >= 17, "{members:?}");
    let missing: Vec<_> = members
        .iter()
        .filter(|m| !layout.contains(&format!("| `{m}`")) && !layout.contains(&format!(", `{m}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "README.md's layout table has no row for {missing:?}"
    );
}

#[test]
fn the_readme_is_a_front_page_that_links_every_document() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let lines = readme.lines().count();
    assert!(
        lines <= 250,
        "README.md has {lines} lines; reference belongs in docs/"
    );
    for doc in files("docs") {
        if doc.ends_with(".md") && doc != "docs/benchmarks-notes.md" {
            assert!(
                readme.contains(&format!("]({doc})")),
                "README.md does not link {doc}"
            );
        }
    }
}

/// A heading's anchor as GitHub makes it: lower case, punctuation but `-` and `_` dropped,
/// spaces to `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown file's headings.
fn anchors(text: &str) -> Vec<String> {
    prose(text)
        .into_iter()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|l| anchor(l.trim_start_matches('#')))
        .collect()
}

#[test]
fn every_link_between_the_documents_resolves() {
    let mut docs: Vec<String> = ["README.md", "ARCHITECTURE.md", "BENCHMARKS.md"]
        .map(str::to_owned)
        .to_vec();
    docs.extend(files("docs").into_iter().filter(|f| f.ends_with(".md")));
    docs.push("web/PACKAGE_README.md".to_owned());
    let link = regex_lite::Regex::new(r"\]\(([^)\s]+)\)").expect("pattern");
    let mut broken = Vec::new();
    let mut checked = 0;
    for doc in &docs {
        let text = std::fs::read_to_string(repo().join(doc)).expect(doc);
        let dir = Path::new(doc).parent().unwrap_or(Path::new(""));
        for line in prose(&text) {
            for target in link.captures_iter(line).map(|c| c[1].to_owned()) {
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                checked += 1;
                let (path, fragment) = target.split_once('#').unwrap_or((&target, ""));
                let file = if path.is_empty() {
                    repo().join(doc)
                } else {
                    repo().join(dir).join(path)
                };
                if !file.exists() {
                    broken.push(format!("{doc}: {target} (no such file)"));
                    continue;
                }
                if !fragment.is_empty() {
                    let target_text = std::fs::read_to_string(&file).unwrap_or_default();
                    if !anchors(&target_text).iter().any(|a| a == fragment) {
                        broken.push(format!("{doc}: {target} (no such heading)"));
                    }
                }
            }
        }
    }
    assert!(checked >= 30, "only {checked} links checked");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}
