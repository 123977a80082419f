//! Each setting is described in docs/configuration.md's tables and in `.env.example`; the code
//! that reads it is the source. This fails when a program reads a variable neither lists, when
//! either lists one no program reads, or when the document's default differs from the code's.

use pipeline_runtime::env::Recording;
use std::collections::BTreeSet;

/// Read by the programs but set by Lambda itself, never by a user.
const SET_BY_LAMBDA: &[&str] = &[
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_DEFAULT_REGION",
    "AWS_LAMBDA_MAX_CONCURRENCY",
];
/// Documented, and read by `pipeline_runtime::init_tracing` from the process environment
/// rather than through a `Config`.
const READ_BY_LOGGING: &[&str] = &["RUST_LOG", "AWS_LAMBDA_LOG_FORMAT"];

/// Every variable a `Config` of the functions or the trigger asks for, under Lambda and as a
/// plain server (the branches that read different names).
fn read_by_code() -> BTreeSet<String> {
    code_settings().0
}

/// The names every `Config` reads, and the default of each one read with a default.
fn code_settings() -> (BTreeSet<String>, std::collections::BTreeMap<String, String>) {
    let mut names = BTreeSet::new();
    let mut defaults = std::collections::BTreeMap::new();
    let sources: [&[(&str, &str)]; 3] = [
        &[],
        &[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("MSK_CLUSTER_ARN", "arn:aws:kafka:eu-west-1:1:cluster/c/u"),
        ],
        // The other modes read settings of their own.
        &[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("AUTH_MODE", "iam"),
        ],
    ];
    for source in sources {
        let api = Recording::new(source);
        let _ = events_api::Config::from_parts(&api, None);
        let processor = Recording::new(source);
        let _ = events_processor::Config::from_source(&processor);
        let trigger = Recording::new(source);
        let _ = msk_trigger::config::Config::from_source(&trigger);
        for r in [&api, &processor, &trigger] {
            names.extend(r.asked());
            defaults.extend(r.defaults());
        }
    }
    names.retain(|n| !SET_BY_LAMBDA.contains(&n.as_str()));
    (names, defaults)
}

/// The document's tables of settings.
const CONFIGURATION: &str = include_str!("../../../docs/configuration.md");

/// The document's rows as (names, defaults): `| `A` / `B` | `1` / `2` | … |` gives both pairs.
fn documented_defaults() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in CONFIGURATION.lines() {
        let cells: Vec<&str> = line.split(" | ").collect();
        if cells.len() < 3 || !line.starts_with("| `") {
            continue;
        }
        let names: Vec<&str> = cells[0].trim_start_matches("| ").split(" / ").collect();
        let values: Vec<&str> = cells[1].split(" / ").collect();
        if names.len() != values.len() {
            continue;
        }
        for (name, value) in names.into_iter().zip(values) {
            let name = name.trim().trim_matches('`');
            let value = value.trim();
            let value = if value == "–" {
                String::new()
            } else {
                value.trim_matches('`').to_owned()
            };
            if is_name(name) {
                out.push((name.to_owned(), value));
            }
        }
    }
    out
}

#[test]
fn the_configuration_doc_gives_each_setting_the_default_the_code_applies() {
    let (_, defaults) = code_settings();
    let mut checked = 0;
    for (name, documented) in documented_defaults() {
        let Some(code) = defaults.get(&name) else {
            // Read without a default (a value or nothing), or by the logging set-up.
            continue;
        };
        assert_eq!(
            &documented, code,
            "docs/configuration.md says {name} defaults to {documented:?}, the code to {code:?}"
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} defaults checked");
}

fn is_name(s: &str) -> bool {
    s.len() > 2
        && s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The names in the first column of docs/configuration.md's tables.
fn in_configuration_doc() -> BTreeSet<String> {
    CONFIGURATION
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" |").next())
        .flat_map(|cell| cell.split('`').map(str::to_owned).collect::<Vec<_>>())
        .filter(|s| is_name(s))
        .collect()
}

/// The names `.env.example` sets or shows commented out (`NAME=` or `# NAME=`).
fn in_env_example() -> BTreeSet<String> {
    include_str!("../../../.env.example")
        .lines()
        .map(|l| l.trim_start_matches('#').trim())
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .filter(|k| is_name(k))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_configuration_doc_and_env_example_list_every_setting_the_code_reads_and_no_other() {
    let code = read_by_code();
    let documented: BTreeSet<String> = code
        .iter()
        .cloned()
        .chain(READ_BY_LOGGING.iter().map(|s| (*s).to_owned()))
        .collect();
    assert!(code.contains("KAFKA_BROKERS") && code.contains("TRIGGER_BATCH_SIZE"));
    for (file, listed) in [
        ("docs/configuration.md", in_configuration_doc()),
        (".env.example", in_env_example()),
    ] {
        let missing: Vec<_> = documented.difference(&listed).collect();
        let extra: Vec<_> = listed.difference(&documented).collect();
        assert!(
            missing.is_empty(),
            "{file} does not list {missing:?}, which the code reads"
        );
        assert!(
            extra.is_empty(),
            "{file} lists {extra:?}, which no program reads"
        );
    }
}

/// Every metric either function writes has its row in docs/operations.md's table, and the table
/// names no other (`ColdStart`, written by both through the shared runtime, has a row of its own).
#[test]
fn the_operations_doc_lists_every_metric_the_functions_write_and_no_other() {
    let doc = include_str!("../../../docs/operations.md");
    let written: BTreeSet<&str> = events_api::observe::names::ALL
        .into_iter()
        .chain(events_processor::names::ALL)
        .collect();
    // The metrics table's rows: metric, service, unit, …
    let documented: BTreeSet<&str> = doc
        .lines()
        .map(|l| l.split('|').map(str::trim).collect::<Vec<_>>())
        .filter(|cells| {
            cells.len() > 4
                && matches!(cells[2], "events-api" | "events-processor")
                && matches!(cells[3], "Count" | "Milliseconds")
        })
        .flat_map(|cells| cells[1].split('`').skip(1).step_by(2).collect::<Vec<_>>())
        .collect();
    assert_eq!(documented, written);
}
