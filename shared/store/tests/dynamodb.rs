//! The store contract against a real DynamoDB-API server (dynoxide, an implementation of the
//! DynamoDB wire protocol on SQLite), one fresh server and table per test.

use event_store::DynamoStore;

async fn fresh() -> DynamoStore {
    DynamoStore::local("events")
        .await
        .expect("a local DynamoDB-API server")
}

event_store::event_store_contract!(fresh());
