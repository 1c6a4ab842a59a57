//! Broker settings: built-in defaults < TOML file (`--config`) < `RAFTBUS_<SECTION>__<KEY>`
//! environment variables < command-line flags. Validated once at start-up; an error names the
//! offending key. The checks themselves are in `settings/validate.rs`.
//!
//! `[unsafe]` holds switches that deliberately break guarantees, for crash-test negative
//! controls only (see [`UnsafeSettings`]); never set them on a cluster holding real data.

mod batching;
mod producers;
mod retention;
mod unsafe_opts;
mod validate;

pub use batching::{PeerSettings, StorageSettings};
pub use producers::ProducerSettings;
pub use retention::RetentionSettings;
pub use unsafe_opts::{UnsafeSettings, unsafe_skip_dedup};

use clap::Parser;
use raftbus_node::settings::{
    DatabaseSettings, ListenSettings, NodeArgs, NodeSettings, RaftTimings,
};
use serde::{Deserialize, Serialize};

use crate::error::BrokerError;

/// Command-line flags of the `broker` binary; each overrides the matching setting.
#[derive(Debug, Default, Parser)]
#[command(
    name = "broker",
    version,
    about = "Raftbus broker: hosts replicated partitions"
)]
pub struct Args {
    /// The flags every node takes (`--config`, `--node-id`, listeners, database).
    #[command(flatten)]
    pub node: NodeArgs,
    /// Comma-separated `host:port` list of the managers' internal (Raft) listeners
    /// (`manager.bootstrap`); empty = no managers.
    #[arg(long)]
    pub managers: Option<String>,
}

/// All broker settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Identity.
    pub node: NodeSettings,
    /// Listeners.
    pub server: ServerSettings,
    /// This broker's database.
    pub database: DatabaseSettings,
    /// Raft timings and batching.
    pub raft: RaftSettings,
    /// Request limits.
    pub limits: LimitSettings,
    /// The shared Postgres writer.
    pub storage: StorageSettings,
    /// The per-peer Raft message streams.
    pub peers: PeerSettings,
    /// The managers this broker reports to.
    pub manager: ManagerSettings,
    /// TLS and authentication.
    pub security: raftbus_security::SecuritySettings,
    /// Enforcement of topic retention.
    pub retention: RetentionSettings,
    /// Expiry of idle idempotent-producer ids.
    pub producers: ProducerSettings,
    /// The Kafka-protocol listener (`[kafka]`).
    pub kafka: crate::kafka::KafkaSettings,
    /// UNSAFE switches for crash-test negative controls (`[unsafe]`; `unsafe` is a keyword).
    #[serde(rename = "unsafe")]
    pub unsafe_opts: UnsafeSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            node: NodeSettings::default(),
            server: ServerSettings::default(),
            database: DatabaseSettings::local("raftbus_broker", 16),
            raft: RaftSettings::default(),
            limits: LimitSettings::default(),
            storage: StorageSettings::default(),
            peers: PeerSettings::default(),
            manager: ManagerSettings::default(),
            security: raftbus_security::SecuritySettings::default(),
            retention: RetentionSettings::default(),
            producers: ProducerSettings::default(),
            kafka: crate::kafka::KafkaSettings::default(),
            unsafe_opts: UnsafeSettings::default(),
        }
    }
}

/// `[server]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerSettings {
    /// The client and Raft listeners (`api_addr`, `raft_addr`, `workers`).
    #[serde(flatten)]
    pub listen: ListenSettings,
    /// Client API address others should use (`host:port`); defaults to `api_addr`. Needed
    /// when listening on `0.0.0.0`, e.g. in a container that is reached by its own IP.
    pub advertised_api_addr: Option<String>,
    /// Raft address others should use; defaults to `raft_addr`.
    pub advertised_raft_addr: Option<String>,
    /// Client connections open at once on the client listener; further ones wait in the
    /// accept backlog until one closes.
    pub max_connections: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: ListenSettings::local(9091, 9191),
            advertised_api_addr: None,
            advertised_raft_addr: None,
            max_connections: 10_000,
        }
    }
}

impl ServerSettings {
    /// The client API address this broker reports about itself.
    pub fn advertised_api(&self) -> &str {
        self.advertised_api_addr
            .as_deref()
            .unwrap_or(&self.listen.api_addr)
    }

    /// The Raft address this broker reports about itself.
    pub fn advertised_raft(&self) -> &str {
        self.advertised_raft_addr
            .as_deref()
            .unwrap_or(&self.listen.raft_addr)
    }
}

/// `[manager]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ManagerSettings {
    /// Comma-separated `host:port` list of the managers' internal listeners (where they take
    /// Raft RPCs and broker heartbeats, over mutual TLS). Empty means no managers: the broker only
    /// does what its API is asked (partitions created by hand or by tests).
    pub bootstrap: String,
    /// Interval of heartbeats to the managers; it also paces reconciliation of assignments.
    pub heartbeat_ms: u64,
}

impl Default for ManagerSettings {
    fn default() -> Self {
        Self {
            bootstrap: String::new(),
            heartbeat_ms: 1_000,
        }
    }
}

impl ManagerSettings {
    /// The manager addresses, in the configured order, blanks dropped.
    pub fn addrs(&self) -> Vec<String> {
        self.bootstrap
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(String::from)
            .collect()
    }
}

/// `[raft]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RaftSettings {
    /// Heartbeat interval and election timeouts (`heartbeat_ms`, `election_min_ms`,
    /// `election_max_ms`).
    #[serde(flatten)]
    pub timing: RaftTimings,
    /// Build a snapshot after this many log entries (then older entries may be purged).
    pub snapshot_every_entries: u64,
    /// Entries already in a snapshot that stay in the log after a purge, so a follower that
    /// lags by less than this catches up from the log instead of receiving a snapshot.
    pub keep_after_snapshot: u64,
    /// Entries per append RPC; entries are whole batches, so keep this moderate.
    pub max_payload_entries: u64,
    /// TCP connect timeout towards peers.
    pub connect_timeout_ms: u64,
    /// Pause before retrying an unreachable peer.
    pub backoff_ms: u64,
    /// How often followers probe their leaders' Raft ports; a refused connection (the leader
    /// process is gone) starts an election at once instead of after the election timeout.
    /// 0 disables the probe.
    pub leader_probe_ms: u64,
    /// How often the `quiesce` loop asks the peer brokers which groups they lead and turns the
    /// ticks of idle groups off (see `tasks::quiesce`). 0 disables quiescence: every group
    /// then keeps its own heartbeats and election timer.
    pub quiesce_ms: u64,
    /// A leader whose log has not grown for this long stops its heartbeats.
    pub idle_after_ms: u64,
    /// A peer broker that has not answered for this long is treated as gone: followers of the
    /// groups it led run their election timers again.
    pub peer_timeout_ms: u64,
    /// Produce entries a partition keeps in its Raft pipeline at once; requests arriving
    /// meanwhile are merged into the next entry (see `partition::propose`). 1 merges most
    /// (fewest entries per record); more overlaps the stages of consecutive entries.
    pub max_proposals_in_flight: usize,
    /// Bytes of records per frame of a snapshot sent to a lagging replica: the memory a
    /// snapshot transfer costs each side, whatever the partition's size.
    pub snapshot_frame_bytes: usize,
}

impl Default for RaftSettings {
    fn default() -> Self {
        Self {
            timing: RaftTimings::default(),
            snapshot_every_entries: 20_000,
            keep_after_snapshot: 1_000,
            max_payload_entries: 64,
            connect_timeout_ms: 500,
            backoff_ms: 200,
            leader_probe_ms: 200,
            quiesce_ms: 200,
            idle_after_ms: 2_000,
            peer_timeout_ms: 1_000,
            max_proposals_in_flight: 1,
            snapshot_frame_bytes: 4 << 20,
        }
    }
}

/// `[limits]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LimitSettings {
    /// Largest produce body (one batch) accepted.
    pub max_batch_bytes: usize,
    /// How long a produce waits for Raft commit before answering `timeout`.
    pub produce_timeout_ms: u64,
    /// Largest fetch response (at least one batch is always returned).
    pub max_fetch_bytes: u64,
    /// Longest long-poll wait a fetch may ask for.
    pub max_wait_ms: u64,
    /// Bytes of produce batches one partition queues for its next Raft entry; beyond it a
    /// produce is answered `busy` (429) at once instead of queueing without bound.
    pub max_queued_bytes: usize,
    /// Fetches waiting for records at once on this broker; one more is answered `busy`.
    pub max_long_polls: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            max_batch_bytes: 4 << 20,
            produce_timeout_ms: 10_000,
            max_fetch_bytes: 4 << 20,
            max_wait_ms: 30_000,
            max_queued_bytes: 64 << 20,
            max_long_polls: 4_096,
        }
    }
}

impl Settings {
    /// Layers defaults, the optional file, the environment and the flags, then validates.
    /// This also publishes the `[unsafe]` switches process-wide (see [`unsafe_skip_dedup`])
    /// and warns loudly about any that is on.
    pub fn load(args: &Args) -> Result<Self, BrokerError> {
        let s = Self::load_from(args, None)?;
        s.unsafe_opts.publish();
        Ok(s)
    }

    /// Like [`Settings::load`], with an explicit environment (for tests); it does not publish
    /// the `[unsafe]` switches.
    pub fn load_from(
        args: &Args,
        env: Option<std::collections::HashMap<String, String>>,
    ) -> Result<Self, BrokerError> {
        let more = [("manager.bootstrap", args.managers.clone())];
        raftbus_node::settings::load_valid(&args.node, &more, env)
    }

    /// How partition groups merge concurrent produce requests into entries.
    pub fn propose_config(&self) -> crate::partition::propose::ProposeConfig {
        crate::partition::propose::ProposeConfig {
            max_in_flight: self.raft.max_proposals_in_flight,
            max_entry_bytes: self.limits.max_batch_bytes,
            max_queued_bytes: self.limits.max_queued_bytes,
            lease: self.raft.timing.lease(),
        }
    }

    /// Bounds of the shared writer's transactions.
    pub fn storage_limits(&self) -> raftbus_raft::commit::Limits {
        raftbus_raft::commit::Limits {
            max_entries: self.storage.max_txn_entries,
            max_bytes: self.storage.max_txn_bytes,
        }
    }

    /// How the per-peer Raft message streams batch.
    pub fn peer_config(&self) -> raftbus_raft::PeerConfig {
        raftbus_raft::PeerConfig {
            coalesce: std::time::Duration::from_millis(self.peers.coalesce_ms),
            max_message_bytes: self.peers.max_message_bytes as usize,
            in_flight: self.peers.max_messages_in_flight,
        }
    }

    /// The Raft configuration of every partition group on this broker.
    pub fn raft_config(&self) -> Result<crate::raft::RaftConfig, BrokerError> {
        let r = &self.raft;
        crate::raft::RaftConfig {
            cluster_name: "raftbus-partition".into(),
            heartbeat_interval: r.timing.heartbeat_ms,
            heartbeat_min_interval: Some(r.timing.heartbeat_suppression_ms()),
            election_timeout_min: r.timing.election_min_ms,
            election_timeout_max: r.timing.election_max_ms,
            max_payload_entries: r.max_payload_entries,
            snapshot_policy: crate::raft::SnapshotPolicy::LogsSinceLast(r.snapshot_every_entries),
            // Purge after every snapshot, keeping the last `keep_after_snapshot` entries.
            // Raft never purges entries a replication stream is still sending (see
            // ARCHITECTURE.md, "Log compaction").
            max_in_snapshot_log_to_keep: r.keep_after_snapshot,
            purge_batch_size: 1,
            // A follower whose database was lost (disk replaced, volume recreated) comes back
            // with an empty log. Without this the leader's group panics on seeing the log go
            // backwards; with it, the leader resets its view and rebuilds the replica from a
            // snapshot. (Its vote was lost too: one lost replica is tolerated like a crash,
            // losing a majority of a group's databases at once is not, as in any Raft.)
            allow_log_reversion: Some(true),
            ..Default::default()
        }
        .validate()
        .map_err(|e| BrokerError::invalid("raft", e))
    }
}

#[cfg(test)]
mod tests;
