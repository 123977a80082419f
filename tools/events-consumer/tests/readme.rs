//! The README's Containers section lists the consumer's own settings (the trigger's and the
//! processor's are held to the Configuration section by `tools/deploy-check`): every variable
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
fn the_containers_section_lists_the_consumers_own_settings() {
    let readme = include_str!("../../../README.md");
    let section = readme
        .split("\n## Containers\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README has a Containers section");
    let listed: BTreeSet<String> = section
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
    assert_eq!(
        listed, own,
        "README Containers section / events_consumer::Config"
    );
}
