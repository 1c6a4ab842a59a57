//! `raftbus-workload`: runs the crash-test workload (see `raftbus_crashtest::workload`) and
//! prints its summary on stderr. Exit 0 when the run completed (whatever the cluster did: the
//! history is judged by `raftbus-check`), 1 when it could not be set up or the history could
//! not be written.

use std::process::ExitCode;

use clap::Parser;
use raftbus_crashtest::workload::{Config, run};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cfg = Config::parse();
    // A secured cluster: the CA and token come from the environment, as for the CLIs.
    let ca = std::env::var_os("RAFTBUS_CA_CERT").map(std::path::PathBuf::from);
    let token = std::env::var("RAFTBUS_TOKEN").ok();
    match raftbus_sdk::Credentials::new(ca.as_deref(), token.as_deref()) {
        Ok(c) => raftbus_sdk::Credentials::set_process_default(c),
        Err(e) => {
            eprintln!("raftbus-workload: error: {e}");
            return ExitCode::FAILURE;
        }
    }
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(run(cfg)).map_err(anyhow::Error::from));
    match result {
        Ok(summary) => {
            eprintln!("raftbus-workload: {summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("raftbus-workload: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
