//! Rebuild on change, as `cargo lambda watch` does when it runs the functions itself.
//!
//! The stack watches `functions/`, `shared/` and the workspace's `Cargo.toml`/`Cargo.lock`
//! (polling file sizes and times: no watcher to install, nothing missed on any filesystem). On a
//! change it waits for the edit to settle, tells every relay to hold the invocations watch hands
//! out ([`crate::relay`]), and runs `cargo build` for the functions with the compiler's output
//! on its own stderr (the `make dev` terminal). Each function whose binary the build replaced
//! gets new instances, started once the old ones have finished what they were doing; then the
//! held invocations go on, to the new code. A failed build replaces nothing: the old instances
//! answer the held invocations and keep serving until a build succeeds.

use crate::instance::Handle;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;

/// How often the sources are looked at.
const POLL: Duration = Duration::from_millis(200);
/// How long the sources must stay unchanged before a build starts (an editor's save can be
/// several writes).
const SETTLE: Duration = Duration::from_millis(100);
/// The longest wait for an instance to finish its invocation before it is replaced anyway.
const IDLE_WITHIN: Duration = Duration::from_secs(60);
/// What is watched, under the workspace root.
const WATCHED: [&str; 4] = ["functions", "shared", "Cargo.toml", "Cargo.lock"];
/// Directories never looked into.
const SKIPPED: [&str; 3] = ["target", "node_modules", "pkg"];

/// Size and modification time of every watched file.
type Snapshot = BTreeMap<PathBuf, (u64, Option<SystemTime>)>;

/// Where the rebuilds' messages and the compiler's output go.
#[derive(Debug, Clone, Default)]
pub enum Output {
    /// This process's stderr (the terminal of `make dev`).
    #[default]
    Stderr,
    /// Appended to a file.
    File(PathBuf),
}

/// The rebuild loop of one stack.
pub(crate) struct Reloader {
    /// The workspace root.
    pub root: PathBuf,
    /// `target/<profile>`, where the functions' binaries are.
    pub bin_dir: PathBuf,
    /// Every instance, by function.
    pub instances: Vec<(String, Handle)>,
    /// True while a build runs.
    pub rebuilding: watch::Sender<bool>,
    /// Where messages go.
    pub output: Output,
}

impl Reloader {
    /// Looks at the sources now, and returns the loop that rebuilds on a change from this state
    /// until `stop` turns true (a change made once this returns is never missed).
    pub async fn start(
        self,
        mut stop: watch::Receiver<bool>,
    ) -> impl std::future::Future<Output = ()> {
        let seen = snapshot(&self.root).await;
        async move { self.run(seen, &mut stop).await }
    }

    async fn run(self, mut seen: Snapshot, stop: &mut watch::Receiver<bool>) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                _ = stop.changed() => return,
            }
            let now = snapshot(&self.root).await;
            if now == seen {
                continue;
            }
            let detected = Instant::now();
            let mut changed = differences(&seen, &now);
            seen = settle(&self.root, now).await;
            self.rebuilding.send_replace(true);
            loop {
                self.say(&format!("{changed} changed; rebuilding the functions"));
                self.build_and_replace(detected).await;
                let again = snapshot(&self.root).await;
                if again == seen {
                    break;
                }
                changed = differences(&seen, &again);
                seen = settle(&self.root, again).await;
            }
            self.rebuilding.send_replace(false);
        }
    }

    async fn build_and_replace(&self, detected: Instant) {
        let functions: Vec<&str> = {
            let mut f: Vec<&str> = self.instances.iter().map(|(f, _)| f.as_str()).collect();
            f.dedup();
            f
        };
        let before: Vec<_> = functions.iter().map(|f| self.stamp(f)).collect();
        let built = Instant::now();
        match self.build(&functions).await {
            Ok(true) => {}
            Ok(false) => {
                self.say("the build failed (above); the functions keep running the code they had");
                return;
            }
            Err(e) => {
                self.say(&format!("cannot run cargo build: {e}"));
                return;
            }
        }
        let build_time = built.elapsed();
        let mut replaced = Vec::new();
        for (function, before) in functions.iter().zip(before) {
            if self.stamp(function) == before {
                continue;
            }
            for (_, handle) in self.instances.iter().filter(|(f, _)| f == function) {
                handle.replace(IDLE_WITHIN).await;
            }
            replaced.push(*function);
        }
        if replaced.is_empty() {
            self.say(&format!(
                "built in {:.1} s; no function changed",
                build_time.as_secs_f64()
            ));
        } else {
            self.say(&format!(
                "built in {:.1} s; new code serving for {} ({:.1} s after the change)",
                build_time.as_secs_f64(),
                replaced.join(", "),
                detected.elapsed().as_secs_f64()
            ));
        }
    }

    /// Runs `cargo build` for the functions into `bin_dir`; whether it succeeded.
    async fn build(&self, functions: &[&str]) -> std::io::Result<bool> {
        let mut cmd = tokio::process::Command::from(cargo(&self.root));
        cmd.arg("build");
        for function in functions {
            cmd.args(["--bin", function]);
        }
        if let Some(target_dir) = self.bin_dir.parent() {
            cmd.arg("--target-dir").arg(target_dir);
        }
        match self.bin_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => {}
            Some("release") => {
                cmd.arg("--release");
            }
            Some(profile) => {
                cmd.args(["--profile", profile]);
            }
        }
        cmd.stdin(Stdio::null()).kill_on_drop(true);
        if let Output::File(path) = &self.output {
            let open = || {
                std::fs::File::options()
                    .create(true)
                    .append(true)
                    .open(path)
            };
            cmd.stdout(open()?).stderr(open()?);
        }
        Ok(cmd.status().await?.success())
    }

    /// Identifies the binary's current file (a build that relinks it makes a new one).
    fn stamp(&self, function: &str) -> Option<(u64, u64, Option<SystemTime>)> {
        use std::os::unix::fs::MetadataExt as _;
        let m = std::fs::metadata(self.bin_dir.join(function)).ok()?;
        Some((m.ino(), m.len(), m.modified().ok()))
    }

    fn say(&self, message: &str) {
        let line = format!("local-stack: {message}\n");
        match &self.output {
            Output::Stderr => eprint!("{line}"),
            Output::File(path) => {
                if let Ok(mut f) = std::fs::File::options()
                    .create(true)
                    .append(true)
                    .open(path)
                {
                    let _ = f.write_all(line.as_bytes());
                }
            }
        }
    }
}

/// `cargo` run in `root`, without the variables cargo sets for a crate it runs (when the stack
/// itself runs under `cargo run` or `cargo test`). Build scripts name some of them in
/// `rerun-if-env-changed` (ring names `CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME`, `OUT_DIR`…), so
/// with them set, cargo would rebuild those dependencies and everything above them.
pub fn cargo(root: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new("cargo");
    cmd.current_dir(root);
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        let set_for_a_crate = name == "OUT_DIR"
            || name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || name.starts_with("CARGO_BIN_")
            || matches!(
                name,
                "CARGO_CRATE_NAME" | "CARGO_PRIMARY_PACKAGE" | "CARGO_TARGET_TMPDIR"
            );
        if set_for_a_crate {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// Waits until the watched files stop changing; their state then.
async fn settle(root: &Path, mut now: Snapshot) -> Snapshot {
    loop {
        tokio::time::sleep(SETTLE).await;
        let again = snapshot(root).await;
        if again == now {
            return now;
        }
        now = again;
    }
}

/// Names what changed between two snapshots: the first path, and how many more.
fn differences(before: &Snapshot, after: &Snapshot) -> String {
    let mut changed = after
        .iter()
        .filter(|(p, s)| before.get(*p) != Some(s))
        .map(|(p, _)| p)
        .chain(before.keys().filter(|p| !after.contains_key(*p)));
    match (changed.next(), changed.count()) {
        (None, _) => "nothing".to_owned(),
        (Some(p), 0) => p.display().to_string(),
        (Some(p), n) => format!("{} and {n} more", p.display()),
    }
}

async fn snapshot(root: &Path) -> Snapshot {
    let root = root.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut out = Snapshot::new();
        for name in WATCHED {
            walk(&root, Path::new(name), &mut out);
        }
        out
    })
    .await
    .unwrap_or_default()
}

fn walk(root: &Path, relative: &Path, out: &mut Snapshot) {
    let path = root.join(relative);
    let Ok(meta) = std::fs::metadata(&path) else {
        return;
    };
    if meta.is_file() {
        out.insert(relative.to_path_buf(), (meta.len(), meta.modified().ok()));
        return;
    }
    let Ok(entries) = std::fs::read_dir(&path) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let skip = name
            .to_str()
            .is_none_or(|n| n.starts_with('.') || SKIPPED.contains(&n));
        if !skip {
            walk(root, &relative.join(name), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_snapshot_sees_an_edit_a_new_file_and_a_removal_and_skips_target() {
        let dir = std::env::temp_dir().join(format!("reload-snapshot-{}", std::process::id()));
        let src = dir.join("functions/f/src");
        std::fs::create_dir_all(&src).expect("dir");
        std::fs::create_dir_all(dir.join("functions/f/target")).expect("dir");
        std::fs::write(src.join("main.rs"), "fn main() {}").expect("write");
        let first = snapshot(&dir).await;
        assert_eq!(first.len(), 1);

        std::fs::write(dir.join("functions/f/target/x"), "ignored").expect("write");
        assert_eq!(snapshot(&dir).await, first, "target/ is not watched");

        std::fs::write(src.join("main.rs"), "fn main() { }").expect("write");
        let edited = snapshot(&dir).await;
        assert_ne!(edited, first, "a change of size is seen");
        assert_eq!(differences(&first, &edited), "functions/f/src/main.rs");

        std::fs::write(src.join("lib.rs"), "").expect("write");
        let added = snapshot(&dir).await;
        assert_eq!(differences(&edited, &added), "functions/f/src/lib.rs");
        std::fs::remove_file(src.join("lib.rs")).expect("remove");
        assert_eq!(
            differences(&added, &snapshot(&dir).await),
            "functions/f/src/lib.rs"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
