//! Reading the API the way a client does.

use serde_json::Value;

/// Every event `GET {base}/events/processed` lists, following the `Link: <?…>; rel="next"`
/// pages; fails the test on any answer other than 200.
pub async fn listed(http: &reqwest::Client, base: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut url = format!("{base}/events/processed?limit=1000");
    loop {
        let res = http.get(&url).send().await.expect("the listing answers");
        assert_eq!(res.status(), 200, "GET {url}");
        let next = res
            .headers()
            .get("link")
            .and_then(|l| l.to_str().ok())
            .and_then(|l| l.strip_prefix("<?"))
            .and_then(|l| l.split_once('>'))
            .map(|(q, _)| format!("{base}/events/processed?{q}"));
        let page: Vec<Value> = res.json().await.expect("a JSON array");
        events.extend(page);
        match next {
            Some(n) => url = n,
            None => return events,
        }
    }
}
