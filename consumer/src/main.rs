//! `consumer`: parses arguments and runs console mode or `perf`; any failure becomes one
//! `error: ...` line on stderr and exit status 1.

use std::process::ExitCode;

use clap::Parser;
use raftbus_consumer::args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // TLS trust and the token, for every client this process makes.
    match raftbus_sdk::Credentials::new(cli.ca_cert.as_deref(), cli.token.as_deref()) {
        Ok(c) => raftbus_sdk::Credentials::set_process_default(c),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| {
            rt.block_on(async {
                match cli.command {
                    Some(Command::Perf(args)) => raftbus_consumer::perf::run(args).await,
                    None => raftbus_consumer::console::run(cli.console).await,
                }
            })
            .map_err(anyhow::Error::from)
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, skipping a cause whose text an outer message already
/// quotes (the SDK's messages include their immediate source).
fn one_line(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !msg.contains(&text) {
            if !msg.is_empty() {
                msg.push_str(": ");
            }
            msg.push_str(&text);
        }
    }
    msg.replace('\n', " ")
}
