//! `broker`: parses settings and runs a Raftbus broker.

use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new(raftbus_raft::DEFAULT_LOG_FILTER)),
        )
        .init();
    let args = raftbus_broker::Args::parse();
    let settings = raftbus_broker::Settings::load(&args)?;
    raftbus_broker::run(settings).await?;
    Ok(())
}
