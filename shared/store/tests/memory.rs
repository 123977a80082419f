//! The in-memory adapter used by unit tests must keep the same contract as the real ones.

event_store::event_store_contract!(async { event_store::MemoryStore::default() });
