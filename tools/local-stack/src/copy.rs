//! A throwaway copy of the workspace, to edit while a stack runs from it (the rebuild test and
//! `make bench`'s edit-to-answer row) without touching the checkout or its binaries.
//!
//! Building a copy from nothing would recompile every dependency (about 20 minutes on 2
//! cores). The copy's `target/` is therefore seeded with hard links to the checkout's compiled
//! dependencies; only the workspace's own crates are left out, so they are compiled in the
//! copy into files of its own. A hard link is never written through: cargo leaves fresh units
//! alone, and the workspace's units, the only ones the copy compiles, are not linked.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The copy; removed when dropped.
pub struct WorkspaceCopy {
    root: PathBuf,
}

impl WorkspaceCopy {
    /// Copies the files git knows of (tracked, or new and not ignored) from the workspace at
    /// `source`, and seeds `target/<profile>` from `source`'s.
    pub fn new(source: &Path, profile: &str) -> io::Result<Self> {
        static COPIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COPIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("workspace-copy-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root)?;
        let copy = Self { root };
        copy.copy_sources(source)?;
        let owned = workspace_targets(source)?;
        let from = source.join("target").join(profile);
        let to = copy.root.join("target").join(profile);
        for dir in ["deps", "build", ".fingerprint"] {
            std::fs::create_dir_all(to.join(dir))?;
            let Ok(entries) = std::fs::read_dir(from.join(dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                if !owned_by_workspace(&name.to_string_lossy(), &owned) {
                    link_tree(&entry.path(), &to.join(dir).join(&name))?;
                }
            }
        }
        Ok(copy)
    }

    /// The copy's root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Builds both functions in the copy (debug, incremental); whether the build succeeded.
    pub fn build_functions(&self) -> io::Result<bool> {
        let status = crate::reload::cargo(&self.root)
            .args(["build", "--quiet"])
            .args(["--bin", crate::EVENTS_API, "--bin", crate::EVENTS_PROCESSOR])
            .status()?;
        Ok(status.success())
    }

    /// A stack of the copy's debug functions, without the trigger, rebuilding on change with
    /// its output in `.run/reload.log` ([`Self::reload_log`]): the broker is `KAFKA_BROKERS`'s
    /// (else the local one), the store an SQLite file in `.run/`.
    pub fn stack_options(&self) -> crate::Options {
        let run = self.root.join(".run");
        let brokers = std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
        let store = format!("sqlite://{}", run.join("events.db").display());
        let mut options = crate::Options::new(&self.root, &run)
            .set("KAFKA_BROKERS", brokers)
            .set("STORE_URL", store);
        options.bin_dir = self.root.join("target/debug");
        options.trigger = false;
        options.reload = Some(crate::reload::Output::File(self.reload_log()));
        options
    }

    /// Where the stack of [`Self::stack_options`] writes its rebuilds' output.
    pub fn reload_log(&self) -> PathBuf {
        self.root.join(".run/reload.log")
    }

    /// Replaces the one occurrence of `from` in the file at `relative` with `to`.
    pub fn edit(&self, relative: &str, from: &str, to: &str) -> io::Result<()> {
        let path = self.root.join(relative);
        let text = std::fs::read_to_string(&path)?;
        if text.matches(from).count() != 1 {
            return Err(io::Error::other(format!(
                "{relative}: expected {from:?} exactly once"
            )));
        }
        std::fs::write(&path, text.replacen(from, to, 1))
    }

    fn copy_sources(&self, source: &Path) -> io::Result<()> {
        let out = Command::new("git")
            .current_dir(source)
            .args([
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ])
            .output()?;
        if !out.status.success() {
            return Err(io::Error::other("git ls-files failed"));
        }
        for file in out.stdout.split(|b| *b == 0).filter(|f| !f.is_empty()) {
            let relative = Path::new(std::str::from_utf8(file).map_err(io::Error::other)?);
            let from = source.join(relative);
            // Deleted in the working tree but still tracked.
            if !from.is_file() {
                continue;
            }
            let to = self.root.join(relative);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::copy(&from, &to)?;
        }
        Ok(())
    }
}

impl Drop for WorkspaceCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The names of the workspace's packages and their targets, with `-` and `_` both.
fn workspace_targets(source: &Path) -> io::Result<HashSet<String>> {
    let out = Command::new("cargo")
        .current_dir(source)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "cargo metadata: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(io::Error::other)?;
    let mut names = HashSet::new();
    for package in meta["packages"].as_array().into_iter().flatten() {
        let targets = package["targets"].as_array().into_iter().flatten();
        for name in std::iter::once(&package["name"]).chain(targets.map(|t| &t["name"])) {
            if let Some(name) = name.as_str() {
                names.insert(name.replace('_', "-"));
                names.insert(name.replace('-', "_"));
            }
        }
    }
    Ok(names)
}

/// Whether a file or directory of `target/<profile>/{deps,build,.fingerprint}` belongs to one
/// of the workspace's crates (`lib<name>-<hash>.rlib`, `<name>-<hash>`, …).
fn owned_by_workspace(entry: &str, owned: &HashSet<String>) -> bool {
    let stem = |name: &str| name.rsplit_once('-').map(|(s, _)| s.to_owned());
    [Some(entry), entry.strip_prefix("lib")]
        .into_iter()
        .flatten()
        .filter_map(stem)
        .any(|s| owned.contains(&s))
}

fn link_tree(from: &Path, to: &Path) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(from)?;
    if meta.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            link_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else if meta.file_type().is_symlink() {
        std::os::unix::fs::symlink(std::fs::read_link(from)?, to)
    } else {
        std::fs::hard_link(from, to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workspace_s_own_artefacts_are_not_linked_and_dependencies_are() {
        let owned: HashSet<String> = ["event-schema", "event_schema", "events-api", "events_api"]
            .map(str::to_owned)
            .into();
        for mine in [
            "libevent_schema-0123abcd.rlib",
            "event_schema-0123abcd.d",
            "event-schema-0123abcd",
            "events_api-0123abcd",
        ] {
            assert!(owned_by_workspace(mine, &owned), "{mine}");
        }
        for theirs in [
            "libserde-0123abcd.rlib",
            "libc-0123abcd",
            "liblibc-0123abcd.rlib",
            "event_schema_extra-0123abcd.rlib",
        ] {
            assert!(!owned_by_workspace(theirs, &owned), "{theirs}");
        }
    }
}
