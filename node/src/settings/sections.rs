//! The settings sections every node has, declared once: `[node]`, the database, the two
//! listeners and the Raft timings. A binary uses a section as is or flattens it into its own
//! (the broker's `[server]` and `[raft]` add fields); its `Settings::default()` sets the values
//! that differ between brokers and managers.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::error::NodeError;

/// `[node]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeSettings {
    /// This node's id, > 0. A broker's is unique and never reused (a replaced machine gets a
    /// new one); a manager's is one of the ids in `cluster.peers`.
    pub id: u64,
}

impl NodeSettings {
    /// The id must be given: 0 is what an unset id deserializes to.
    pub fn check(&self) -> Result<(), NodeError> {
        if self.id == 0 {
            return Err(NodeError::invalid(
                "node.id",
                "must be set to a positive integer (--node-id or RAFTBUS_NODE__ID)",
            ));
        }
        Ok(())
    }
}

/// `[database]`: the node's own Postgres database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// Postgres URL; one database per node.
    pub url: String,
    /// Pool size; a broker's pool is shared by all its partition groups.
    pub max_connections: u32,
    /// How long a query waits for a pooled connection before failing (a hung Postgres must
    /// turn into errors, not hangs).
    pub acquire_timeout_ms: u64,
}

impl DatabaseSettings {
    /// A database named `name` on the local default Postgres, with `max_connections` pooled.
    pub fn local(name: &str, max_connections: u32) -> Self {
        Self {
            url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
            max_connections,
            acquire_timeout_ms: 5_000,
        }
    }

    /// Opens the pool with the durability checks of [`crate::runtime::connect_db`], waiting up
    /// to 30 s for a database that is still starting (containers start together).
    pub async fn connect(&self) -> Result<sqlx::PgPool, sqlx::Error> {
        crate::runtime::connect_db(
            &self.url,
            self.max_connections,
            std::time::Duration::from_millis(self.acquire_timeout_ms),
            std::time::Duration::from_secs(30),
        )
        .await
    }

    /// A Postgres URL and a non-empty pool.
    pub fn check(&self) -> Result<(), NodeError> {
        if !self.url.starts_with("postgres://") && !self.url.starts_with("postgresql://") {
            return Err(NodeError::invalid(
                "database.url",
                "must be a postgres:// URL",
            ));
        }
        if self.max_connections == 0 || self.acquire_timeout_ms == 0 {
            return Err(NodeError::invalid(
                "database.max_connections",
                "max_connections and acquire_timeout_ms must be positive",
            ));
        }
        Ok(())
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self::local("raftbus", 8)
    }
}

/// The two listeners of `[server]`: clients on one, Raft RPCs on the other, so replication
/// never queues behind clients.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ListenSettings {
    /// Client API listen address.
    pub api_addr: String,
    /// Raft RPC listen address.
    pub raft_addr: String,
    /// Worker threads per listener. Handlers mostly hand work to the async runtime, so one
    /// per listener keeps up on the small machines Raftbus targets, and fewer threads switch
    /// less: on 2 cores with 3 brokers, 1 gave 7-13% more produce throughput than 2 (A/B,
    /// README "Performance"). Raise it on a machine of its own with more cores.
    pub workers: usize,
}

impl ListenSettings {
    /// Loopback listeners on `api_port` and `raft_port`.
    pub fn local(api_port: u16, raft_port: u16) -> Self {
        Self {
            api_addr: format!("127.0.0.1:{api_port}"),
            raft_addr: format!("127.0.0.1:{raft_port}"),
            workers: 1,
        }
    }

    /// Both addresses bindable (`ip:port`) and distinct; at least one worker. Answers the
    /// parsed `[api, raft]` addresses, for checks a binary adds.
    pub fn check(&self) -> Result<[SocketAddr; 2], NodeError> {
        let parse = |key: &str, v: &str| {
            v.parse::<SocketAddr>()
                .map_err(|_| NodeError::invalid(key, format!("{v:?} is not an ip:port address")))
        };
        let addrs = [
            parse("server.api_addr", &self.api_addr)?,
            parse("server.raft_addr", &self.raft_addr)?,
        ];
        if self.api_addr == self.raft_addr {
            return Err(NodeError::invalid(
                "server.raft_addr",
                "must differ from server.api_addr",
            ));
        }
        if self.workers == 0 {
            return Err(NodeError::invalid("server.workers", "must be positive"));
        }
        Ok(addrs)
    }
}

impl Default for ListenSettings {
    fn default() -> Self {
        Self::local(9091, 9191)
    }
}

/// The Raft timings of `[raft]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RaftTimings {
    /// Leader heartbeat interval. A broker hosts many groups, so its default is far above
    /// the Raft library's 50 ms.
    pub heartbeat_ms: u64,
    /// Lower end of the randomized election timeout: at least ~10x a Postgres commit under
    /// load, or a slow disk looks like a dead leader.
    pub election_min_ms: u64,
    /// Upper end of the randomized election timeout (also the leader's lease).
    pub election_max_ms: u64,
}

impl RaftTimings {
    /// How long a leader may serve without hearing from a quorum: the Raft library's lease
    /// is the election timeout's upper end.
    pub fn lease(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.election_max_ms)
    }

    /// Raft skips a follower's heartbeat when that follower acknowledged a replication request
    /// sent this recently (its lease and election timer got what the heartbeat would give), so
    /// groups that replicate send almost no heartbeats. A suppressed heartbeat may come up to
    /// this plus one interval and one tick (13/64 of an interval) late, which must stay below
    /// `election_min_ms`: one interval when that holds, half of one otherwise (always within
    /// the `check` bound of two intervals).
    pub fn heartbeat_suppression_ms(&self) -> u64 {
        let tick = self.heartbeat_ms * 13 / 64 + 1;
        if 2 * self.heartbeat_ms + tick < self.election_min_ms {
            self.heartbeat_ms
        } else {
            self.heartbeat_ms / 2
        }
    }

    /// A heartbeat, then an election timeout of at least two heartbeats, then a real range.
    pub fn check(&self) -> Result<(), NodeError> {
        if self.heartbeat_ms == 0 || self.election_min_ms < 2 * self.heartbeat_ms {
            return Err(NodeError::invalid(
                "raft.election_min_ms",
                format!(
                    "must be at least twice raft.heartbeat_ms ({}), which must be positive",
                    self.heartbeat_ms
                ),
            ));
        }
        if self.election_max_ms <= self.election_min_ms {
            return Err(NodeError::invalid(
                "raft.election_max_ms",
                "must be greater than raft.election_min_ms",
            ));
        }
        Ok(())
    }
}

impl Default for RaftTimings {
    fn default() -> Self {
        Self {
            heartbeat_ms: 300,
            election_min_ms: 1_500,
            election_max_ms: 2_500,
        }
    }
}
