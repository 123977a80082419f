//! `--health-check` for the programs that serve `GET /health` (events-api as a plain server,
//! events-consumer): a container's HEALTHCHECK runs the binary itself, because a distroless
//! image has no shell or curl. A blocking HTTP/1.1 GET, nothing more, so the check needs no
//! runtime and no client library.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

/// How long a check waits for each step.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// Prints the body of a healthy answer and succeeds; otherwise prints `PROGRAM: unhealthy: why`
/// and fails.
pub fn report(program: &str, answer: Result<String, String>) -> ExitCode {
    match answer {
        Ok(body) => {
            println!("{body}");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("{program}: unhealthy: {why}");
            ExitCode::FAILURE
        }
    }
}

/// `GET http://{addr}/health` within `timeout` (an unspecified address means this host): the
/// body on 200, why not otherwise.
pub fn get(mut addr: SocketAddr, timeout: Duration) -> Result<String, String> {
    if addr.ip().is_unspecified() {
        addr.set_ip(Ipv4Addr::LOCALHOST.into());
    }
    let fail = |e: std::io::Error| format!("{addr}: {e}");
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(fail)?;
    stream.set_read_timeout(Some(timeout)).map_err(fail)?;
    stream.set_write_timeout(Some(timeout)).map_err(fail)?;
    // One write: `write!` would send the pieces apart, and a server that answers on the
    // request line may close before the rest arrives.
    let request = format!("GET /health HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(fail)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).map_err(fail)?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.lines().next().unwrap_or("");
    if status.split(' ').nth(1) == Some("200") {
        Ok(body.to_owned())
    } else {
        Err(format!("{status}: {body}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A server that answers one request with `status`.
    fn answering(status: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request);
                let body = r#"{"status":"x"}"#;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        addr
    }

    #[test]
    fn only_a_200_is_healthy() {
        let timeout = Duration::from_secs(2);
        assert!(get(answering("200 OK"), timeout).is_ok());
        let failing = get(answering("503 Service Unavailable"), timeout);
        assert!(failing.is_err_and(|why| why.starts_with("HTTP/1.1 503")));
        let closed = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a port");
        assert!(get(closed, timeout).is_err(), "nothing listens");
    }
}
