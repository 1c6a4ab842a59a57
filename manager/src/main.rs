//! `manager`: runs a Raftbus manager (`manager serve`) or administers a cluster
//! (`manager topic|broker|group|status`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use raftbus_manager::admin::AdminCommand;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "manager",
    version,
    about = "Raftbus manager: cluster metadata and administration"
)]
struct Cli {
    /// Managers to talk to for admin commands (comma-separated host:port; any one live manager suffices).
    #[arg(
        long,
        env = "RAFTBUS_BOOTSTRAP",
        global = true,
        default_value = "127.0.0.1:9081"
    )]
    bootstrap: String,
    /// PEM file of the cluster CA: connect over TLS, trusting only certificates it signed
    /// (`scripts/cluster.sh up` prints the path). Without it: plain HTTP (insecure clusters).
    #[arg(long, env = "RAFTBUS_CA_CERT", global = true)]
    ca_cert: Option<std::path::PathBuf>,
    /// Access token naming this client's principal (`manager user add` prints one).
    #[arg(long, env = "RAFTBUS_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a manager.
    Serve(raftbus_manager::ServeArgs),
    #[command(flatten)]
    Admin(AdminCommand),
}

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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result: anyhow::Result<()> = rt.block_on(async {
        match cli.command {
            Command::Serve(args) => {
                tracing_subscriber::fmt()
                    .with_env_filter(
                        EnvFilter::try_from_default_env()
                            .unwrap_or_else(|_| EnvFilter::new(raftbus_raft::DEFAULT_LOG_FILTER)),
                    )
                    .init();
                let settings = raftbus_manager::Settings::load(&args)?;
                raftbus_manager::run(settings).await?;
                Ok(())
            }
            Command::Admin(cmd) => Ok(raftbus_manager::admin::run(&cli.bootstrap, cmd).await?),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
