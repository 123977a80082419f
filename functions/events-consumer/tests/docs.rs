//! docs/containers.md lists the consumer's own settings (the trigger's and the processor's are
//! held to docs/configuration.md by `tools/deploy-check`): every variable
//! `events_consumer::Config` reads beyond theirs, and nothing else.

use pipeline_runtime::env::Recording;
use std::collections::BTreeSet;

fn is_name(s: &str) -> bool {
    s.len() > 2
        && s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

#[test]
fn the_containers_doc_lists_the_consumers_own_settings() {
    let doc = include_str!("../../../docs/containers.md");
    let listed: BTreeSet<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|s| is_name(s))
        .map(str::to_owned)
        .collect();

    let src: &[(&str, &str)] = &[("KAFKA_BROKERS", "127.0.0.1:9092")];
    let (all, trigger, processor) = (
        Recording::new(src),
        Recording::new(src),
        Recording::new(src),
    );
    events_consumer::Config::from_source(&all).expect("config");
    msk_trigger::Config::from_source(&trigger).expect("trigger config");
    events_processor::Config::from_source(&processor).expect("processor config");
    let theirs: BTreeSet<String> = trigger
        .asked()
        .into_iter()
        .chain(processor.asked())
        .collect();
    let own: BTreeSet<String> = all
        .asked()
        .into_iter()
        .filter(|n| !theirs.contains(n))
        .collect();
    assert!(!own.is_empty(), "the consumer reads a setting of its own");
    assert_eq!(listed, own, "docs/containers.md / events_consumer::Config");
}
