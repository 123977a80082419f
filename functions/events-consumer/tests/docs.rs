//! docs/containers.md lists the consumer's own settings (the loop's and the processor's are held
//! to docs/configuration.md by `tools/deploy-check`): every variable `events_consumer::Config`
//! reads beyond theirs, and nothing else. The loop's settings are documented once, under the
//! names the trigger reads (`TRIGGER_*`); the consumer reads each as `CONSUMER_*` with the same
//! default, which this holds too.

use pipeline_runtime::env::Recording;
use std::collections::{BTreeMap, BTreeSet};

fn is_name(s: &str) -> bool {
    s.len() > 2
        && s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

const SRC: &[(&str, &str)] = &[("KAFKA_BROKERS", "127.0.0.1:9092")];

/// The loop's settings under `prefix`, with their defaults, the prefix taken off.
fn loop_settings(prefix: &str) -> BTreeMap<String, String> {
    let read = Recording::new(SRC);
    event_consume::Config::from_source(&read, prefix).expect("loop config");
    let defaults = read.defaults();
    read.asked()
        .into_iter()
        .filter_map(|name| {
            let setting = name.strip_prefix(prefix)?.to_owned();
            Some((setting, defaults.get(&name).cloned().unwrap_or_default()))
        })
        .collect()
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

    let (all, processor) = (Recording::new(SRC), Recording::new(SRC));
    events_consumer::Config::from_source(&all).expect("config");
    events_processor::Config::from_source(&processor).expect("processor config");
    let theirs: BTreeSet<String> = processor
        .asked()
        .into_iter()
        .chain(loop_settings("CONSUMER_").into_keys().flat_map(|s| {
            // Each loop setting, and the name it had before (still read for one release).
            [format!("CONSUMER_{s}"), format!("TRIGGER_{s}")]
        }))
        .chain(["KAFKA_BROKERS".to_owned()])
        .collect();
    let own: BTreeSet<String> = all
        .asked()
        .into_iter()
        .filter(|n| !theirs.contains(n) && !n.starts_with("KAFKA_"))
        .collect();
    assert!(!own.is_empty(), "the consumer reads a setting of its own");
    assert_eq!(listed, own, "docs/containers.md / events_consumer::Config");
}

#[test]
fn the_consumer_reads_each_loop_setting_configuration_documents_with_its_default() {
    let consumer = loop_settings("CONSUMER_");
    assert!(consumer.contains_key("BATCH_SIZE"), "{consumer:?}");
    assert_eq!(consumer, loop_settings("TRIGGER_"));
    let configuration = include_str!("../../../docs/configuration.md");
    for setting in consumer.keys() {
        assert!(
            configuration.contains(&format!("| `TRIGGER_{setting}`"))
                || configuration.contains(&format!("/ `TRIGGER_{setting}`")),
            "docs/configuration.md has a row for TRIGGER_{setting}"
        );
    }
}
