//! Manager settings: defaults < TOML file (`--config`) < `RAFTBUS_<SECTION>__<KEY>` environment
//! < flags. Validated at start-up; errors name the key.

use raftbus_node::settings::{
    DatabaseSettings, ListenSettings, NodeArgs, NodeConfig, NodeSettings, RaftTimings,
};
use serde::{Deserialize, Serialize};

use crate::error::ManagerError;

mod groups;
mod healing;
pub use groups::GroupSettings;
pub use healing::HealingSettings;

/// Flags of `manager serve`; each overrides the matching setting.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct ServeArgs {
    /// The flags every node takes (`--config`, `--node-id` (one of the ids in
    /// `cluster.peers`), listeners, database).
    #[command(flatten)]
    pub node: NodeArgs,
    /// All managers as `id/api_addr/raft_addr,...` (`cluster.peers`).
    #[arg(long)]
    pub peers: Option<String>,
}

/// All manager settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Identity.
    pub node: NodeSettings,
    /// Listeners.
    pub server: ListenSettings,
    /// This manager's database.
    pub database: DatabaseSettings,
    /// The metadata group's members.
    pub cluster: ClusterSettings,
    /// Raft timings.
    pub raft: RaftTimings,
    /// Liveness of brokers and consumers.
    pub heartbeat: HeartbeatSettings,
    /// Topic defaults.
    pub topics: TopicSettings,
    /// Replica healing, rebalance and leadership balance.
    pub healing: HealingSettings,
    /// Retention of idle consumer groups and the reaping loop.
    pub groups: GroupSettings,
    /// TLS and authentication.
    pub security: raftbus_security::SecuritySettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            node: NodeSettings::default(),
            server: ListenSettings::local(9081, 9181),
            database: DatabaseSettings::local("raftbus_manager", 8),
            cluster: ClusterSettings::default(),
            raft: RaftTimings {
                heartbeat_ms: 250,
                election_min_ms: 1_000,
                election_max_ms: 2_000,
            },
            heartbeat: HeartbeatSettings::default(),
            topics: TopicSettings::default(),
            healing: HealingSettings::default(),
            groups: GroupSettings::default(),
            security: raftbus_security::SecuritySettings::default(),
        }
    }
}

/// `[cluster]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterSettings {
    /// Every manager as `id/api_addr/raft_addr`, comma-separated. The lowest id initializes the
    /// metadata group on first start.
    pub peers: String,
}

/// One manager peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Node id.
    pub id: u64,
    /// Client API address.
    pub api_addr: String,
    /// Raft address.
    pub raft_addr: String,
}

/// `[heartbeat]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct HeartbeatSettings {
    /// How often brokers, producers and consumers are expected to heartbeat.
    pub interval_ms: u64,
    /// Silence after which a broker is marked dead and a consumer leaves its group.
    pub timeout_ms: u64,
}

impl Default for HeartbeatSettings {
    fn default() -> Self {
        Self {
            interval_ms: 1_000,
            timeout_ms: 5_000,
        }
    }
}

/// `[topics]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TopicSettings {
    /// Create unknown topics on first use by a client that asks for it.
    pub auto_create: bool,
    /// Partitions of a topic created without a count.
    pub default_partitions: u32,
    /// Most partitions one topic may have (a larger request is refused with a 400).
    pub max_partitions: u32,
    /// Replication factor of a topic created without one.
    pub default_replication_factor: u32,
    /// Retention by age of topics that set none, in ms (`-1`: unlimited). Default 7 days.
    pub retention_ms: i64,
    /// Retention by size per partition of topics that set none, in bytes (`-1`: unlimited,
    /// the default).
    pub retention_bytes: i64,
}

impl Default for TopicSettings {
    fn default() -> Self {
        Self {
            auto_create: true,
            default_partitions: 3,
            max_partitions: 1_024,
            default_replication_factor: 3,
            retention_ms: 7 * 24 * 3_600_000,
            retention_bytes: raftbus_protocol::retention::UNLIMITED,
        }
    }
}

impl TopicSettings {
    /// The cluster's retention defaults, for topics that leave a field unset.
    pub fn retention_defaults(&self) -> raftbus_protocol::retention::RetentionSpec {
        raftbus_protocol::retention::RetentionSpec {
            retention_ms: Some(self.retention_ms),
            retention_bytes: Some(self.retention_bytes),
        }
    }
}

impl Settings {
    /// Layers defaults, file, environment and flags, then validates.
    pub fn load(args: &ServeArgs) -> Result<Self, ManagerError> {
        Self::load_from(args, None)
    }

    /// Like [`Settings::load`] with an explicit environment (tests).
    pub fn load_from(
        args: &ServeArgs,
        env: Option<std::collections::HashMap<String, String>>,
    ) -> Result<Self, ManagerError> {
        let more = [("cluster.peers", args.peers.clone())];
        raftbus_node::settings::load_valid(&args.node, &more, env)
    }

    /// Parsed `cluster.peers`.
    pub fn peers(&self) -> Result<Vec<Peer>, ManagerError> {
        let bad = |reason: String| ManagerError::InvalidConfig {
            key: "cluster.peers".into(),
            reason,
        };
        let mut peers = Vec::new();
        for entry in self
            .cluster
            .peers
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let parts: Vec<&str> = entry.split('/').collect();
            let [id, api, raft] = parts[..] else {
                return Err(bad(format!("{entry:?} is not id/api_addr/raft_addr")));
            };
            let id = id
                .parse::<u64>()
                .ok()
                .filter(|&i| i > 0)
                .ok_or_else(|| bad(format!("bad id in {entry:?}")))?;
            if peers.iter().any(|p: &Peer| p.id == id) {
                return Err(bad(format!("id {id} listed twice")));
            }
            peers.push(Peer {
                id,
                api_addr: api.into(),
                raft_addr: raft.into(),
            });
        }
        if peers.is_empty() {
            return Err(bad(
                "must list the managers (id/api_addr/raft_addr,...)".into()
            ));
        }
        Ok(peers)
    }

    /// Raft configuration of the metadata group.
    pub fn raft_config(&self) -> Result<crate::raft::RaftConfig, ManagerError> {
        crate::raft::RaftConfig {
            cluster_name: "raftbus-metadata".into(),
            heartbeat_interval: self.raft.heartbeat_ms,
            election_timeout_min: self.raft.election_min_ms,
            election_timeout_max: self.raft.election_max_ms,
            snapshot_policy: crate::raft::SnapshotPolicy::LogsSinceLast(5_000),
            ..Default::default()
        }
        .validate()
        .map_err(|e| ManagerError::invalid("raft", e))
    }
}

impl NodeConfig for Settings {
    /// Checks what the types cannot express.
    fn validate(&self) -> Result<(), ManagerError> {
        let bad = |key: &str, reason: String| {
            Err(ManagerError::InvalidConfig {
                key: key.into(),
                reason,
            })
        };
        self.node.check()?;
        self.server.check()?;
        self.database.check()?;
        if !self.peers()?.iter().any(|p| p.id == self.node.id) {
            return bad(
                "cluster.peers",
                format!("does not list this manager's id {}", self.node.id),
            );
        }
        self.raft.check()?;
        if self.heartbeat.interval_ms == 0
            || self.heartbeat.timeout_ms <= self.heartbeat.interval_ms
        {
            return bad(
                "heartbeat.timeout_ms",
                "must be greater than heartbeat.interval_ms".into(),
            );
        }
        if self.topics.default_partitions > self.topics.max_partitions {
            return bad(
                "topics.default_partitions",
                "must be at most topics.max_partitions".into(),
            );
        }
        if self.topics.default_partitions == 0 || self.topics.default_replication_factor == 0 {
            return bad(
                "topics.default_partitions",
                "defaults must be positive".into(),
            );
        }
        if let Err(reason) = self.topics.retention_defaults().validate() {
            let key = if reason.starts_with("retention_ms") {
                "topics.retention_ms"
            } else {
                "topics.retention_bytes"
            };
            return bad(key, reason);
        }
        if let Some((key, reason)) = self.groups.check() {
            return bad(key, reason);
        }
        if let Some((key, reason)) = self.healing.check() {
            return bad(key, reason);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ServeArgs {
        let mut args = ServeArgs {
            peers: Some("1/a:1/a:2, 2/b:1/b:2,3/c:1/c:2".into()),
            ..Default::default()
        };
        args.node.node_id = Some(2);
        args
    }

    #[test]
    fn peers_parse_and_must_include_self() {
        let s = Settings::load_from(&args(), Some(Default::default())).unwrap();
        assert_eq!(s.peers().unwrap().len(), 3);
        let mut a = args();
        a.node.node_id = Some(9);
        let e = Settings::load_from(&a, Some(Default::default()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cluster.peers"), "{e}");
        let mut env = std::collections::HashMap::new();
        env.insert(
            "RAFTBUS_TOPICS__RETENTION_BYTES".to_string(),
            "0".to_string(),
        );
        let e = Settings::load_from(&args(), Some(env))
            .unwrap_err()
            .to_string();
        assert!(e.contains("topics.retention_bytes"), "{e}");
        let s = Settings::load_from(&args(), Some(Default::default())).unwrap();
        assert_eq!(s.topics.retention_ms, 604_800_000, "7 days by default");
        a.peers = Some("1/a:1".into());
        let e = Settings::load_from(&a, Some(Default::default()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("id/api_addr/raft_addr"), "{e}");
    }
}
