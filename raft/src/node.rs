//! The node type of every Raft group.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a node is reachable. Carried in Raft membership, so every replica knows where to send
/// RPCs (`raft_addr`) and where to redirect clients (`api_addr`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NodeAddr {
    /// Raft RPC listener, `host:port`.
    pub raft_addr: String,
    /// Client API listener, `host:port`.
    pub api_addr: String,
}

impl fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "raft={} api={}", self.raft_addr, self.api_addr)
    }
}
