//! The store contract against a real DynamoDB-API server (dynoxide, an implementation of the
//! DynamoDB wire protocol on SQLite), one fresh server and table per test.

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use event_store::DynamoStore;

async fn fresh() -> DynamoStore {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let db = dynoxide::Database::memory().expect("dynoxide database");
    tokio::spawn(async move { dynoxide::server::serve_on(listener, db).await });
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .endpoint_url(format!("http://{addr}"))
        .credentials_provider(Credentials::new("local", "local", None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    let store = DynamoStore::from_client(aws_sdk_dynamodb::Client::from_conf(config), "events");
    store.create_table().await.expect("create table");
    store
}

event_store::event_store_contract!(fresh());
