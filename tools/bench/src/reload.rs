//! Figure 5: from saving an edit to the first answer from the new code, under `make dev`'s
//! rebuild on change, beside the same incremental `cargo build` run alone.
//!
//! Both run in a copy of the workspace (debug build, the compiled dependencies linked from the
//! checkout's). Two edits: a message of events-api itself (one crate to compile), and a
//! message of the shared schema crate (every crate above it). For each, `rounds` edits are
//! built alone first; then a stack runs from the copy with rebuild on change, and the same edits
//! are timed until a request sees the new message. The ratio is what the watching, the
//! replacement of the instances and their cold start add to the build.

use crate::report;
use local_stack::copy::WorkspaceCopy;
use local_stack::{Stack, EVENTS_API};
use std::time::{Duration, Instant};

/// One kind of edit: the file, two versions of a message that alternate, and the request that
/// shows it.
struct Edit {
    name: &'static str,
    file: &'static str,
    texts: [&'static str; 2],
    /// `true`: `POST /events/generate` with an unknown event type; `false`: `GET /nowhere`.
    post: bool,
}

const EDITS: [Edit; 2] = [
    Edit {
        name: "events-api",
        file: "functions/events-api/src/error.rs",
        texts: ["no resource at {0};", "nothing at {0};"],
        post: false,
    },
    Edit {
        name: "shared/schema",
        file: "shared/schema/src/validate.rs",
        texts: ["eventType must be one of {}", "eventType is one of {}"],
        post: true,
    },
];

/// The words a request sees of `text` (what precedes the first placeholder).
fn seen(text: &str) -> &str {
    text.split('{').next().unwrap_or(text)
}

async fn message(http: &reqwest::Client, url: &str, post: bool) -> Option<String> {
    let request = if post {
        http.post(format!("{url}/events/generate"))
            .header("content-type", "application/json")
            .body(r#"{"userId":"bench","eventType":"NOPE"}"#)
    } else {
        http.get(format!("{url}/nowhere"))
    };
    let answer = request.send().await.ok()?;
    Some(answer.text().await.unwrap_or_default())
}

fn build(copy: &WorkspaceCopy) -> Duration {
    let start = Instant::now();
    let ok = copy.build_functions().unwrap_or(false);
    assert!(ok, "the copy of the workspace builds");
    start.elapsed()
}

/// Prints the rows: median seconds from the edit to the new answer, beside the build alone.
pub async fn reload(rounds: usize) {
    let root = local_stack::workspace_root(env!("CARGO_MANIFEST_DIR"));
    let copy = WorkspaceCopy::new(&root, "debug").expect("copy the workspace");
    let first = build(&copy);
    eprintln!(
        "reload: first build of the copy {:.1} s",
        first.as_secs_f64()
    );

    // Which of its two texts each file holds now; every edit switches to the other.
    let mut holds = [0usize; EDITS.len()];
    let mut switch = |i: usize| {
        let edit = &EDITS[i];
        let (from, to) = (edit.texts[holds[i]], edit.texts[1 - holds[i]]);
        copy.edit(edit.file, from, to).expect("edit");
        holds[i] = 1 - holds[i];
        to
    };

    // The builds alone.
    let mut alone: Vec<Vec<f64>> = vec![Vec::new(); EDITS.len()];
    for (i, times) in alone.iter_mut().enumerate() {
        for _ in 0..rounds {
            switch(i);
            times.push(build(&copy).as_secs_f64());
        }
    }

    let options = copy.stack_options().set("RUST_LOG", "warn");
    let stack = Stack::start(options).await.expect("the stack starts");
    let url = stack.function_url(EVENTS_API);
    let http = reqwest::Client::new();
    let mut served: Vec<Vec<f64>> = vec![Vec::new(); EDITS.len()];
    for (i, times) in served.iter_mut().enumerate() {
        let edit = &EDITS[i];
        for _ in 0..rounds {
            let to = switch(i);
            let start = Instant::now();
            loop {
                let answer = message(&http, &url, edit.post).await.unwrap_or_default();
                if answer.contains(seen(to)) {
                    break;
                }
                if start.elapsed() > Duration::from_secs(600) {
                    let log = std::fs::read_to_string(copy.reload_log()).unwrap_or_default();
                    let tail: Vec<&str> = log.lines().rev().take(40).collect();
                    panic!(
                        "the edit of {} was not served within 10 minutes; the last answer: \
                         {answer:?}; the end of the rebuild output:\n{}",
                        edit.file,
                        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                    );
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            times.push(start.elapsed().as_secs_f64());
        }
    }
    stack.stop().await;

    for ((edit, served), alone) in EDITS.iter().zip(served).zip(alone) {
        report::row(
            &format!(
                "make dev: edit in {} → first answer from the new code (debug, incremental)",
                edit.name
            ),
            report::median(served),
            "s",
            "the same cargo build alone",
            report::median(alone),
        );
    }
}
