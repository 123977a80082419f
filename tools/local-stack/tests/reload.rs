//! `make dev`'s rebuild on change, end to end: a stack runs from a copy of the workspace, a
//! source file of events-api is edited there, and the next request is answered by the new code;
//! a change that does not compile leaves the old code answering, with the compiler's message in
//! the output. The instance runs several invocations at once, and requests made during a
//! rebuild are all answered by the new code.

use local_stack::copy::WorkspaceCopy;
use local_stack::{Stack, EVENTS_API};
use std::path::Path;
use std::time::{Duration, Instant};

const ERRORS: &str = "functions/events-api/src/error.rs";
/// The not-found answer's message, as events-api words it, and the edits made to it.
const ORIGINAL: &str = "no resource at {0};";
const EDITED: &str = "nothing at {0};";
const EDITED_AGAIN: &str = "none at {0};";
/// Invocations per instance.
const CONCURRENCY: usize = 4;

/// Waits until the reload output has `count` lines containing `what`; the output then.
async fn wait_for_output(log: &Path, what: &str, count: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.lines().filter(|l| l.contains(what)).count() >= count {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "no {what:?} in the output after 10 minutes:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `GET /nowhere`: status and message.
async fn not_found_message(http: &reqwest::Client, url: &str) -> (u16, String) {
    let answer = http
        .get(format!("{url}/nowhere"))
        .send()
        .await
        .expect("the function URL answers");
    let status = answer.status().as_u16();
    let body: serde_json::Value = answer.json().await.unwrap_or_default();
    (status, body["message"].as_str().unwrap_or("").to_owned())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "compiles the workspace's crates in a copy (minutes); run by make test"]
async fn an_edit_is_served_by_the_next_request_and_a_broken_build_keeps_the_old_code() {
    let root = local_stack::workspace_root(env!("CARGO_MANIFEST_DIR"));
    let copy = WorkspaceCopy::new(&root, "debug").expect("copy the workspace");
    let first = Instant::now();
    assert!(
        copy.build_functions().expect("run cargo build"),
        "the copy builds"
    );
    eprintln!(
        "first build of the copy: {:.1} s",
        first.elapsed().as_secs_f64()
    );

    let log = copy.reload_log();
    // Several invocations per instance, as on Lambda Managed Instances: a rebuild waits for all
    // of them and hands every request it held to the new code.
    let mut options = copy.stack_options();
    options.api_concurrency = CONCURRENCY;
    let stack = match Stack::start(options).await {
        Ok(s) => s,
        Err(e) => panic!(
            "the stack did not start: {e}\n{}",
            std::fs::read_to_string(copy.root().join(".run/watch.log")).unwrap_or_default()
        ),
    };
    let url = stack.function_url(EVENTS_API);
    let http = reqwest::Client::new();
    let (status, message) = not_found_message(&http, &url).await;
    assert_eq!(status, 404);
    assert!(message.starts_with("no resource at /nowhere"), "{message}");

    // An edit: a request made once the rebuild has started waits for it, and the new code
    // answers it.
    copy.edit(ERRORS, ORIGINAL, EDITED).expect("edit");
    wait_for_output(&log, "changed; rebuilding", 1).await;
    let during = (0..2 * CONCURRENCY).map(|_| not_found_message(&http, &url));
    for (status, message) in futures::future::join_all(during).await {
        assert_eq!(status, 404, "{message}");
        assert!(message.starts_with("nothing at /nowhere"), "{message}");
    }
    let text = wait_for_output(&log, "new code serving", 1).await;
    assert!(
        text.contains("new code serving for events-api ("),
        "only the edited function is replaced:\n{text}"
    );

    // A change that does not compile: the request made during the build is answered by the
    // code that was running, and the compiler's message is in the output.
    copy.edit(
        ERRORS,
        "    NotFound(String),",
        "    NotFound(String) oops,",
    )
    .expect("break");
    wait_for_output(&log, "changed; rebuilding", 2).await;
    let (status, message) = not_found_message(&http, &url).await;
    assert_eq!(status, 404, "{message}");
    assert!(message.starts_with("nothing at /nowhere"), "{message}");
    let text = wait_for_output(&log, "the build failed", 1).await;
    assert!(
        text.contains("error: expected") && text.contains(ERRORS),
        "the compiler's message, naming the file, is shown:\n{text}"
    );
    let (status, message) = not_found_message(&http, &url).await;
    assert_eq!(
        (status, message.starts_with("nothing at")),
        (404, true),
        "the old instance keeps serving after the failed build: {message}"
    );

    // Fixed and edited again: the new code serves.
    copy.edit(
        ERRORS,
        "    NotFound(String) oops,",
        "    NotFound(String),",
    )
    .expect("fix");
    copy.edit(ERRORS, EDITED, EDITED_AGAIN).expect("edit again");
    wait_for_output(&log, "changed; rebuilding", 3).await;
    let (status, message) = not_found_message(&http, &url).await;
    assert_eq!(status, 404, "{message}");
    assert!(message.starts_with("none at /nowhere"), "{message}");
    stack.stop().await;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    for line in text.lines().filter(|l| l.starts_with("local-stack:")) {
        eprintln!("{line}");
    }
}
