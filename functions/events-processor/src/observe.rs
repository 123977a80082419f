//! What an invocation leaves behind besides its answer: the metric names, what was measured on
//! the way, and the metrics documents.

use crate::{BatchResponse, ProcessError};
use pipeline_runtime::metrics::{Document, Metrics};

/// The metric names `events-processor` writes (the template's alarms use them; a test holds
/// them to this list).
pub mod names {
    /// Records in a batch (summed: records processed).
    pub const RECEIVED: &str = "Received";
    /// Events stored for the first time.
    pub const INSERTED: &str = "Inserted";
    /// Events found already stored.
    pub const DUPLICATES: &str = "Duplicates";
    /// Events not stored because their user's events were erased.
    pub const ERASED: &str = "Erased";
    /// Records sent to the dead-letter topic (split by `Reason`).
    pub const DEAD_LETTERED: &str = "DeadLettered";
    /// Records per invocation (its average and maximum are the batch sizes).
    pub const BATCH_SIZE: &str = "BatchSize";
    /// The store's batch insert.
    pub const STORE_LATENCY: &str = "StoreLatency";
    /// The oldest record's age on arrival (now − record timestamp).
    pub const LAG_MAX: &str = "LagMax";
    /// The median record's age on arrival.
    pub const LAG_P50: &str = "LagP50";
    /// Invocations that failed and will be retried (split by `ErrorCode`).
    pub const FAILED: &str = "BatchFailed";
    /// Records whose processing panicked (each one dead-lettered as `processing_panicked`): a
    /// bug to fix, which cost those records and not the stream.
    pub const PANICKED: &str = "RecordPanicked";
    /// Every name above.
    pub const ALL: [&str; 11] = [
        RECEIVED,
        INSERTED,
        DUPLICATES,
        ERASED,
        DEAD_LETTERED,
        BATCH_SIZE,
        STORE_LATENCY,
        LAG_MAX,
        LAG_P50,
        FAILED,
        PANICKED,
    ];
}

/// What an invocation measured on the way, whether or not it succeeded.
#[derive(Debug, Default)]
pub(crate) struct Measured {
    /// Partitions that failed, by error code (reporting item failures).
    pub(crate) failed: std::collections::BTreeMap<&'static str, u64>,
    /// Records whose processing panicked.
    pub(crate) panicked: u64,
    /// The store's insert, when it answered.
    pub(crate) store: Option<std::time::Duration>,
    /// Dead letters by reason.
    pub(crate) reasons: std::collections::BTreeMap<event_kafka::Reason, u64>,
}

impl Measured {
    /// Letters sent, counted by reason.
    pub(crate) fn sent(&mut self, letters: &[event_kafka::DeadLetter]) {
        for letter in letters {
            *self.reasons.entry(letter.reason).or_default() += 1;
        }
    }
}

/// The invocation's metrics documents: one for the batch, one more per dead-letter reason and
/// per failed partition's error code (a document has one value per dimension).
pub(crate) fn measure<'m>(
    metrics: &'m Metrics,
    result: &Result<BatchResponse, ProcessError>,
    measured: &Measured,
) -> Vec<Document<'m>> {
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    let mut doc = metrics.document();
    match result.as_ref().map(|r| &r.summary) {
        Ok(s) => {
            doc.count(names::RECEIVED, count(s.received), None);
            doc.count(names::INSERTED, count(s.inserted), None);
            doc.count(names::DUPLICATES, count(s.duplicates), None);
            doc.count(names::ERASED, count(s.erased), None);
            doc.count(names::BATCH_SIZE, count(s.received), None);
            let ms = std::time::Duration::from_millis;
            doc.millis(names::LAG_MAX, ms(s.lag_max_ms), None);
            doc.millis(names::LAG_P50, ms(s.lag_p50_ms), None);
        }
        Err(e) => doc.count(names::FAILED, 1, Some(("ErrorCode", e.code()))),
    }
    if let Some(d) = measured.store {
        doc.millis(names::STORE_LATENCY, d, None);
    }
    if measured.panicked > 0 {
        doc.count(names::PANICKED, measured.panicked, None);
    }
    let mut docs = vec![doc];
    for (code, n) in &measured.failed {
        let mut doc = metrics.document();
        doc.count(names::FAILED, *n, Some(("ErrorCode", code)));
        docs.push(doc);
    }
    if result.is_ok() {
        for (reason, n) in &measured.reasons {
            let mut doc = metrics.document();
            doc.count(names::DEAD_LETTERED, *n, Some(("Reason", reason.as_str())));
            docs.push(doc);
        }
    }
    docs
}
