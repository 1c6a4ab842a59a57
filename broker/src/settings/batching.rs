//! `[storage]` and `[peers]`: how the broker batches the work of all its groups (one shared
//! Postgres writer, one message stream per peer broker).

use serde::{Deserialize, Serialize};

use crate::error::BrokerError;

/// `[storage]`: bounds of the shared writer's transactions (see `raftbus_raft::commit`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageSettings {
    /// At most this many entries (log entries, applied runs) per transaction; more wait for
    /// the next one. A single larger write still goes, alone.
    pub max_txn_entries: u64,
    /// At most this many bytes per transaction.
    pub max_txn_bytes: u64,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            max_txn_entries: 4096,
            max_txn_bytes: 16 << 20,
        }
    }
}

/// `[peers]`: the per-peer Raft message streams (see `raftbus_raft::network`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PeerSettings {
    /// Heartbeats (entry-less appends) of all groups to one peer wait at most this long to
    /// travel together in one message; anything carrying entries goes at once and takes the
    /// waiting heartbeats along. Must stay well below `raft.heartbeat_ms`.
    pub coalesce_ms: u64,
    /// At most this many bytes of requests per message.
    pub max_message_bytes: u64,
    /// Messages to one peer being sent at once; requests queue meanwhile and go together.
    pub max_messages_in_flight: usize,
}

impl Default for PeerSettings {
    fn default() -> Self {
        Self {
            coalesce_ms: 20,
            max_message_bytes: 8 << 20,
            max_messages_in_flight: 4,
        }
    }
}

impl StorageSettings {
    pub(super) fn validate(&self) -> Result<(), BrokerError> {
        if self.max_txn_entries == 0 || self.max_txn_bytes == 0 {
            return Err(BrokerError::InvalidConfig {
                key: "storage.max_txn_entries".into(),
                reason: "max_txn_entries and max_txn_bytes must be positive".into(),
            });
        }
        Ok(())
    }
}

impl PeerSettings {
    pub(super) fn validate(&self, heartbeat_ms: u64) -> Result<(), BrokerError> {
        if self.coalesce_ms * 2 > heartbeat_ms {
            return Err(BrokerError::InvalidConfig {
                key: "peers.coalesce_ms".into(),
                reason: format!(
                    "must be at most half of raft.heartbeat_ms ({heartbeat_ms}), got {}",
                    self.coalesce_ms
                ),
            });
        }
        // A message must fit the receiver's Raft body limit (with room for encoding).
        let max = (raftbus_raft::server::RPC_BODY_LIMIT / 2) as u64;
        if !(64 * 1024..=max).contains(&self.max_message_bytes) || self.max_messages_in_flight == 0
        {
            return Err(BrokerError::InvalidConfig {
                key: "peers.max_message_bytes".into(),
                reason: format!(
                    "max_message_bytes must be between 65536 and {max} and \
                     max_messages_in_flight positive"
                ),
            });
        }
        Ok(())
    }
}
