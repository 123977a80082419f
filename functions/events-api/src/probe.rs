//! `events-api --health-check`: asks the running server's `GET /health` and exits 0 only on
//! 200 ([`pipeline_runtime::health`]). The address is the one the server listens on, read from
//! the same settings (`--listen ADDR`, else `PORT`).

use crate::{Config, Mode};
use pipeline_runtime::env::ProcessEnv;
use pipeline_runtime::health;
use std::net::SocketAddr;
use std::process::ExitCode;

/// Runs the check with the process environment and the `--listen` address, if given; prints
/// the body, and fails unless the answer is 200.
pub fn health_check(listen: Option<SocketAddr>) -> ExitCode {
    let answer = match Config::from_parts(&ProcessEnv, listen) {
        Err(e) => Err(format!("configuration error: {e}")),
        Ok(Config {
            mode: Mode::Lambda, ..
        }) => Err("under a Lambda runtime there is no server to ask".to_owned()),
        Ok(Config {
            mode: Mode::Server(addr),
            ..
        }) => health::get(addr, health::TIMEOUT),
    };
    health::report("events-api", answer)
}
