//! Settings layering of every node binary: built-in defaults < TOML file (`--config`) <
//! `RAFTBUS_<SECTION>__<KEY>` environment variables < command-line flags.

use std::collections::HashMap;
use std::path::PathBuf;

use config::{Config, Environment, File};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// `[node]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeSettings {
    /// This node's id, > 0. A broker's is unique and never reused (a replaced machine gets a
    /// new one); a manager's is one of the ids in `cluster.peers`.
    pub id: u64,
}

/// The flags brokers and managers share; each overrides the matching setting.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct NodeArgs {
    /// TOML settings file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Node id (`node.id`), unique among nodes of its kind and never reused.
    #[arg(long)]
    pub node_id: Option<u64>,
    /// Client API listen address (`server.api_addr`).
    #[arg(long)]
    pub api_addr: Option<String>,
    /// Raft RPC listen address (`server.raft_addr`).
    #[arg(long)]
    pub raft_addr: Option<String>,
    /// Postgres URL of this node's own database (`database.url`).
    #[arg(long)]
    pub database_url: Option<String>,
}

/// Builds settings from the layers above `defaults`: the `--config` file, the environment
/// (`env` replaces the process environment, for tests) and the flags of `args` plus `more`
/// (further `(key, flag)` overrides of the binary). Validation is the caller's.
pub fn load<S: Serialize + DeserializeOwned>(
    defaults: &S,
    args: &NodeArgs,
    more: &[(&str, Option<String>)],
    env: Option<HashMap<String, String>>,
) -> Result<S, config::ConfigError> {
    let mut b = Config::builder().add_source(Config::try_from(defaults)?);
    if let Some(path) = &args.config {
        b = b.add_source(File::from(path.as_path()).required(true));
    }
    b = b.add_source(
        Environment::with_prefix("RAFTBUS")
            .prefix_separator("_")
            .separator("__")
            .try_parsing(true)
            .source(env),
    );
    b = b
        .set_override_option("node.id", args.node_id)?
        .set_override_option("server.api_addr", args.api_addr.clone())?
        .set_override_option("server.raft_addr", args.raft_addr.clone())?
        .set_override_option("database.url", args.database_url.clone())?;
    for (key, value) in more {
        b = b.set_override_option(*key, value.clone())?;
    }
    b.build()?.try_deserialize()
}
