//! `local-stack`: starts the local pipeline for scripts (`make dev`, the browser tests) and runs
//! until SIGTERM or Ctrl-C. Prints `ready http://127.0.0.1:PORT` on stdout once it answers.

use clap::Parser;
use local_stack::{reload, settings, Options, Stack};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Starts cargo lambda watch's Lambda APIs, both functions behind them and the local MSK
/// trigger, with every setting passed to all of them.
#[derive(Parser)]
#[command(name = "local-stack")]
struct Args {
    /// The port of cargo lambda watch (0: a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Where the logs go.
    #[arg(long, default_value = ".run/stack")]
    run_dir: PathBuf,
    /// A settings file (`KEY=VALUE` lines); later files and `--set` win.
    #[arg(long = "env-file", value_name = "FILE")]
    env_files: Vec<PathBuf>,
    /// One setting.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Instances of events-api.
    #[arg(long, default_value_t = 1)]
    api_instances: usize,
    /// Invocations each events-api instance runs at once (`AWS_LAMBDA_MAX_CONCURRENCY`): 1 as
    /// on Lambda's default model, more as on Lambda Managed Instances.
    #[arg(long, default_value_t = 1)]
    api_concurrency: usize,
    /// Do not start the trigger.
    #[arg(long)]
    no_trigger: bool,
    /// Rebuild the functions when `functions/` or `shared/` change, and replace their
    /// instances; the compiler's output goes to stderr.
    #[arg(long)]
    reload: bool,
}

fn options(args: Args) -> Result<Options, String> {
    let root = std::env::current_dir().map_err(|e| e.to_string())?;
    let mut o = Options::new(&root, root.join(&args.run_dir));
    o.port = args.port;
    for file in &args.env_files {
        for (k, v) in settings::read(file)? {
            settings::set(&mut o.settings, &k, &v);
        }
    }
    for kv in &args.sets {
        let (k, v) = kv
            .split_once('=')
            .ok_or(format!("--set {kv}: expected KEY=VALUE"))?;
        settings::set(&mut o.settings, k, v);
    }
    o.api_instances = args.api_instances;
    o.api_concurrency = args.api_concurrency;
    o.trigger = !args.no_trigger;
    o.reload = args.reload.then_some(reload::Output::Stderr);
    Ok(o)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let options = match options(Args::parse()) {
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
