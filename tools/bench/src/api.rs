//! Calls to the events-api that several figures make.

use std::time::Instant;

/// `POST {base}/events/generate` with `body`: the created event's id and when the 201 arrived,
/// or `None` for any other answer.
pub async fn generate(
    client: &reqwest::Client,
    base: &str,
    body: Vec<u8>,
) -> Option<(String, Instant)> {
    let r = client
        .post(format!("{base}/events/generate"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .ok()
        .filter(|r| r.status() == 201)?;
    let at = Instant::now();
    let event: serde_json::Value = r.json().await.ok()?;
    Some((event.get("eventId")?.as_str()?.to_owned(), at))
}
