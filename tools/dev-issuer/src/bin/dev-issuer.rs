//! `dev-issuer`: the local OpenID Connect issuer `make dev` starts. Prints `issuer URL` on
//! stdout once it listens, and runs until SIGTERM or Ctrl-C.

use clap::Parser;
use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;

/// A local OpenID Connect issuer for development: anyone signs in as any user.
#[derive(Parser)]
struct Args {
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:9400")]
    listen: SocketAddr,
    /// Puts users in a group, as GROUP=USER[,USER…] (repeatable): their tokens list it in
    /// `cognito:groups`, as an administrator's Cognito group would.
    #[arg(long = "group", value_name = "GROUP=USERS")]
    groups: Vec<String>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let issuer = match dev_issuer::Issuer::start(args.listen).await {
        Ok(i) => i,
        Err(e) => {
            eprintln!("dev-issuer: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    for spec in &args.groups {
        let Some((group, users)) = spec.split_once('=') else {
            eprintln!("dev-issuer: --group takes GROUP=USER[,USER…], got {spec:?}");
            return ExitCode::FAILURE;
        };
        for user in users.split(',').map(str::trim).filter(|u| !u.is_empty()) {
            issuer.add_to_group(user, group.trim());
        }
    }
    println!("issuer {}", issuer.url());
    let _ = std::io::stdout().flush();
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
