//! `GET /health` of a running consumer, and its `--health-check` mode (the client is
//! [`pipeline_runtime::health`]: a container's HEALTHCHECK runs the binary itself).
//!
//! What it says, honestly: `200 {"status":"ok"}` while the consume loop turns (it polls at least
//! every half second) and its batches go through; `503 {"status":"failing"}` with the reason
//! once the loop has not turned for [`STALE`], or every attempt for [`STALE`] failed (the store
//! or the dead-letter topic is down: the batch is retried, nothing is committed or lost). It
//! does not ask the broker or the store itself: the loop's own attempts are the check.

use event_consume::{Health, Progress};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{debug, info};

/// How long the loop may stand still, or fail, before the consumer is unhealthy.
pub const STALE: Duration = Duration::from_secs(60);

/// Answers `GET /health` on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    progress: Arc<Progress>,
    mut shutdown: watch::Receiver<bool>,
) {
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, "health listener ready");
    }
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((mut stream, _)) = accepted else {
            continue;
        };
        let progress = progress.clone();
        tokio::spawn(async move {
            let mut request = [0u8; 1024];
            let read = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut request));
            let Ok(Ok(n)) = read.await else {
                return;
            };
            let line = String::from_utf8_lossy(&request[..n]);
            let response = answer(line.lines().next().unwrap_or(""), &progress);
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

/// The whole HTTP response to a request line.
fn answer(request_line: &str, progress: &Progress) -> String {
    let mut parts = request_line.split(' ');
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, body) = match (method, path) {
        ("GET", "/health") => match progress.health(STALE) {
            Health::Ok => (
                "200 OK",
                serde_json::json!({"status": "ok", "delivered": progress.delivered()}),
            ),
            Health::Failing(why) => {
                debug!(reason = %why, "health: failing");
                (
                    "503 Service Unavailable",
                    serde_json::json!({"status": "failing", "reason": why}),
                )
            }
        },
        _ => ("404 Not Found", serde_json::json!({"error": "not_found"})),
    };
    let body = body.to_string();
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// `--health-check`: asks `CONSUMER_HEALTH_ADDR` and prints the answer; success only on ok.
pub fn check_from_env() -> std::process::ExitCode {
    let env = pipeline_runtime::env::ProcessEnv;
    let answer = match crate::config::health_addr(&env) {
        Err(e) => Err(e.to_string()),
        Ok(None) => {
            Err("CONSUMER_HEALTH_ADDR is not set: the consumer has no health listener".into())
        }
        Ok(Some(addr)) => pipeline_runtime::health::get(addr, pipeline_runtime::health::TIMEOUT),
    };
    pipeline_runtime::health::report("events-consumer", answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_check_passes_on_ok_and_fails_on_anything_else() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let progress = Arc::new(Progress::default());
        let (stop, stopped) = watch::channel(false);
        let server = tokio::spawn(serve(listener, progress.clone(), stopped));
        let ok = tokio::task::spawn_blocking(move || {
            pipeline_runtime::health::get(addr, Duration::from_secs(2))
        })
        .await
        .expect("join");
        assert!(ok.is_ok_and(|body| body.contains(r#""status":"ok""#)));
        assert!(answer("GET /other HTTP/1.1", &progress).starts_with("HTTP/1.1 404"));
        stop.send(true).expect("stop");
        server.await.expect("server");
        let refused = tokio::task::spawn_blocking(move || {
            pipeline_runtime::health::get(addr, Duration::from_secs(2))
        })
        .await
        .expect("join");
        assert!(refused.is_err(), "nothing listens any more");
    }
}
