//! Settings layering of every node binary: built-in defaults < TOML file (`--config`) <
//! `RAFTBUS_<SECTION>__<KEY>` environment variables < command-line flags.

use std::collections::HashMap;
use std::path::PathBuf;

use config::{Config, ConfigError, Environment, File};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::NodeError;

mod keys;
mod sections;

pub use sections::{DatabaseSettings, ListenSettings, NodeSettings, RaftTimings};

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
/// (further `(key, flag)` overrides of the binary). A key the defaults do not have is
/// refused, naming it (see `keys`). Validation of the values is the caller's.
pub fn load<S: Serialize + DeserializeOwned>(
    defaults: &S,
    args: &NodeArgs,
    more: &[(&str, Option<String>)],
    env: Option<HashMap<String, String>>,
) -> Result<S, ConfigError> {
    let defaults = Config::try_from(defaults)?;
    let known = tree(&defaults)?;
    let mut b = Config::builder().add_source(defaults);
    if let Some(path) = &args.config {
        // Read once: checked on its own (so its unknown sections show), then layered.
        let file = Config::builder()
            .add_source(File::from(path.as_path()).required(true))
            .build()?;
        if let Some(key) = keys::unknown_key(&known, &tree(&file)?, true) {
            return Err(unknown(&key, &path.display().to_string()));
        }
        b = b.add_source(file);
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
    let built = b.build()?;
    if let Some(key) = keys::unknown_key(&known, &tree(&built)?, false) {
        return Err(unknown(&key, "the environment"));
    }
    built.try_deserialize()
}

/// What a node's settings type promises so [`load_valid`] can build and check it.
pub trait NodeConfig: Serialize + DeserializeOwned + Default {
    /// Checks the values the types cannot express; an error names the key.
    fn validate(&self) -> Result<(), NodeError>;
}

/// [`load`] from the binary's defaults, then [`NodeConfig::validate`].
pub fn load_valid<S: NodeConfig>(
    args: &NodeArgs,
    more: &[(&str, Option<String>)],
    env: Option<HashMap<String, String>>,
) -> Result<S, NodeError> {
    let s: S = load(&S::default(), args, more, env)?;
    s.validate()?;
    Ok(s)
}

/// An explicit environment for [`load`] from `(name, value)` pairs (tests).
pub fn env_of(pairs: &[(&str, &str)]) -> Option<HashMap<String, String>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// The whole of `c` as one tree of keys.
fn tree(c: &Config) -> Result<serde_json::Value, ConfigError> {
    c.clone().try_deserialize()
}

fn unknown(key: &str, source: &str) -> ConfigError {
    ConfigError::Message(format!(
        "unknown setting `{key}` in {source} (check its spelling and section)"
    ))
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;

    /// A node's settings in miniature: a section that flattens a shared one.
    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(default)]
    struct Mini {
        raft: MiniRaft,
    }

    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(default)]
    struct MiniRaft {
        #[serde(flatten)]
        timing: RaftTimings,
        extra: u64,
    }

    #[test]
    fn flattened_keys_load_and_typos_are_refused() {
        let args = NodeArgs::default();
        let s: Mini = load(
            &Mini::default(),
            &args,
            &[],
            env_of(&[
                ("RAFTBUS_RAFT__HEARTBEAT_MS", "7"),
                ("RAFTBUS_RAFT__EXTRA", "9"),
                ("RAFTBUS_PROFILE", "debug"),
            ]),
        )
        .unwrap();
        assert_eq!((s.raft.timing.heartbeat_ms, s.raft.extra), (7, 9));
        let e = load(
            &Mini::default(),
            &args,
            &[],
            env_of(&[("RAFTBUS_RAFT__HEARTBEAT", "7")]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("`raft.heartbeat`"), "{e}");

        let path = std::env::temp_dir().join(format!("raftbus-keys-{}.toml", std::process::id()));
        std::fs::write(&path, "[raf]\nheartbeat_ms = 7\n").unwrap();
        let args = NodeArgs {
            config: Some(path.clone()),
            ..Default::default()
        };
        let e = load(&Mini::default(), &args, &[], env_of(&[]))
            .unwrap_err()
            .to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(e.contains("`raf`"), "{e}");
    }
}
