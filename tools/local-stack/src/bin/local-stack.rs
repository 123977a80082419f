//! `local-stack`: starts the local pipeline for scripts (`make dev`, the browser tests) and runs
//! until SIGTERM or Ctrl-C. Prints `ready http://127.0.0.1:PORT` on stdout once it answers.
//!
//! usage: local-stack [--port N] [--run-dir DIR] [--env-file FILE]... [--set KEY=VALUE]...
//!                    [--api-instances N] [--no-trigger]

use local_stack::{settings, Options, Stack};
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

fn options() -> Result<Options, String> {
    let root = std::env::current_dir().map_err(|e| e.to_string())?;
    let mut o = Options::new(&root, root.join(".run/stack"));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--port" => o.port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--run-dir" => o.run_dir = value()?.into(),
            "--env-file" => {
                for (k, v) in settings::read(value()?.as_ref())? {
                    settings::set(&mut o.settings, &k, &v);
                }
            }
            "--set" => {
                let kv = value()?;
                let (k, v) = kv
                    .split_once('=')
                    .ok_or(format!("--set {kv}: expected KEY=VALUE"))?;
                settings::set(&mut o.settings, k, v);
            }
            "--api-instances" => {
                o.api_instances = value()?
                    .parse()
                    .map_err(|e| format!("--api-instances: {e}"))?;
            }
            "--no-trigger" => o.trigger = false,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(o)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let options = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("local-stack: {e}");
            return ExitCode::from(2);
        }
    };
    let mut stack = match Stack::start(options).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("local-stack: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("ready {}", stack.lambda_endpoint());
    let _ = std::io::stdout().flush();
    let stopped = pipeline_runtime::shutdown_signal();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            () = &mut stopped => break,
            () = tokio::time::sleep(Duration::from_millis(500)) => {
                if !stack.is_running() {
                    eprintln!("local-stack: a component exited; see the logs in the run directory");
                    stack.stop().await;
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    stack.stop().await;
    ExitCode::SUCCESS
}
