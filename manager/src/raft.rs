//! The metadata Raft group's type config and the commands in its log, and the manager's one
//! door to openraft: every openraft item the rest of the manager needs is re-exported or
//! wrapped here, so an openraft upgrade touches this file and the `raft/` crate only.

use std::fmt;

use raftbus_protocol::ErrorCode;
use raftbus_protocol::api::Member;
use raftbus_protocol::meta::ConsumerAssignment;
use raftbus_protocol::retention::RetentionSpec;
use raftbus_raft::NodeAddr;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::store::MetaStateMachine;

openraft::declare_raft_types!(
    /// Type config of the managers' metadata group.
    pub MetaConfig:
        D = MetaCommand,
        R = MetaResponse,
        NodeId = u64,
        Node = NodeAddr,
);

/// The metadata group's Raft handle.
pub type MetaRaft = openraft::Raft<MetaConfig, MetaStateMachine>;

/// Log id of the metadata group.
pub type LogId = openraft::type_config::alias::LogIdOf<MetaConfig>;
/// Stored membership of the metadata group.
pub type StoredMembership = openraft::type_config::alias::StoredMembershipOf<MetaConfig>;
/// Snapshot metadata of the metadata group.
pub type SnapshotMeta = openraft::type_config::alias::SnapshotMetaOf<MetaConfig>;
/// A metadata snapshot with its data.
pub type SnapshotOf<D> = openraft::type_config::alias::SnapshotOf<MetaConfig, D>;
/// openraft configuration of the metadata group.
pub type RaftConfig = openraft::Config;

pub use openraft::storage::{EntryResponder, RaftStateMachine, Snapshot};
pub use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder, SnapshotPolicy};

/// True when this manager leads the metadata group (is the write manager).
pub fn is_leader(raft: &MetaRaft) -> bool {
    use openraft::async_runtime::WatchReceiver;
    raft.metrics().borrow_watched().state == openraft::ServerState::Leader
}

/// The metadata group's leader as this manager knows it.
pub fn current_leader(raft: &MetaRaft) -> Option<u64> {
    use openraft::async_runtime::WatchReceiver;
    raft.metrics().borrow_watched().current_leader
}

/// Why a metadata proposal failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Not committed within the timeout.
    #[error("not committed in time")]
    Timeout,
    /// This manager does not lead the group.
    #[error("not the write manager")]
    NotLeader,
    /// A leader change discarded the entry: it may or may not commit.
    #[error("entry discarded by a leader change")]
    Discarded,
    /// Anything else openraft reports.
    #[error("{0}")]
    Other(String),
}

/// Proposes `cmd` and waits at most `timeout` for it to be committed and applied.
pub async fn write(
    raft: &MetaRaft,
    cmd: MetaCommand,
    timeout: std::time::Duration,
) -> Result<MetaResponse, WriteError> {
    use openraft::error::{ClientWriteError, RaftError};
    match tokio::time::timeout(timeout, raft.client_write(cmd)).await {
        Err(_) => Err(WriteError::Timeout),
        Ok(Ok(resp)) => Ok(resp.data),
        Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_)))) => {
            Err(WriteError::NotLeader)
        }
        Ok(Err(RaftError::APIError(ClientWriteError::LogEntryDiscarded(_)))) => {
            Err(WriteError::Discarded)
        }
        Ok(Err(e)) => Err(WriteError::Other(e.to_string())),
    }
}

/// Waits until this manager's applied state is linearizable (Raft read index).
pub async fn read_index(raft: &MetaRaft) -> Result<(), String> {
    raft.ensure_linearizable(openraft::ReadPolicy::ReadIndex)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The one metadata group's id (all managers host exactly this group).
pub const META_GROUP: Uuid = Uuid::nil();

/// A metadata change. Only state changes go through the log; liveness stays in memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetaCommand {
    /// A broker appeared or changed addresses; marks it alive.
    UpsertBroker {
        /// Its id and addresses.
        member: Member,
    },
    /// A broker missed its heartbeats (or came back).
    SetBrokerAlive {
        /// Broker id.
        id: u64,
        /// New liveness.
        alive: bool,
    },
    /// A topic with its placement, decided by the write manager.
    CreateTopic {
        /// Name.
        name: String,
        /// Replicas per partition.
        replication_factor: u32,
        /// Creation time.
        created_ms: u64,
        /// Per partition: group id and replica broker ids.
        partitions: Vec<(Uuid, Vec<u64>)>,
        /// Retention set at creation (unset fields follow the cluster defaults).
        #[serde(default)]
        retention: RetentionSpec,
    },
    /// Deletes a topic; its group ids become tombstones.
    DeleteTopic {
        /// Name.
        name: String,
    },
    /// Leaders reported by broker heartbeats changed.
    SetLeaders {
        /// `(group, leader)`.
        leaders: Vec<(Uuid, Option<u64>)>,
    },
    /// Starts moving a partition to another replica set (decided by the write manager).
    StartMove {
        /// The partition's group.
        group: Uuid,
        /// New replicas, preferred leader first.
        target: Vec<u64>,
    },
    /// The partition's leader reported the target membership: the move is done.
    CompleteMove {
        /// The partition's group.
        group: Uuid,
        /// The target that was reached.
        replicas: Vec<u64>,
    },
    /// Points a running move elsewhere (a broker it was adding died): applies only while the
    /// move's target is still `from`, so a late or repeated redirect changes nothing.
    RedirectMove {
        /// The partition's group.
        group: Uuid,
        /// The target being replaced.
        from: Vec<u64>,
        /// The new target.
        target: Vec<u64>,
    },
    /// Records (or clears) a requested rebalance, so a new write manager carries it on.
    SetRebalance {
        /// What it covers; `None` when done.
        scope: Option<crate::metadata::moves::RebalanceScope>,
    },
    /// A producer registered.
    RegisterProducer {
        /// Its id.
        producer_id: Uuid,
        /// Topic.
        topic: String,
        /// When.
        at_ms: u64,
    },
    /// A consumer joins a group (rebalances when new).
    JoinGroup {
        /// Group.
        group: String,
        /// Topic.
        topic: String,
        /// Consumer.
        consumer_id: Uuid,
    },
    /// Consumers left or timed out (rebalances).
    LeaveGroup {
        /// Group.
        group: String,
        /// Consumers removed.
        consumer_ids: Vec<Uuid>,
        /// The proposer's clock (ms since the epoch): when the group became empty, if it
        /// did. Last field and `serde(default)` (0: unknown, entries of older versions).
        #[serde(default)]
        at_ms: u64,
    },
    /// `manager topic alter`: changes the fields of a topic's retention that are set.
    SetRetention {
        /// Topic.
        name: String,
        /// Validated change (fields left unset keep their value).
        change: RetentionSpec,
    },
    /// Users and ACL rules (`metadata/security.rs`).
    Security(crate::metadata::security::SecurityCommand),
    /// Removes what has been idle too long (`metadata/reap.rs`): consumer groups empty for
    /// longer than `offsets_retention_ms` at `now_ms`, records of the legacy producer registry.
    /// Decided and timed by the write manager's `expire` loop, so applying is deterministic.
    Reap {
        /// The write manager's clock when it proposed (ms since the epoch).
        now_ms: u64,
        /// Its `groups.offsets_retention_ms`.
        offsets_retention_ms: u64,
    },
}

impl fmt::Display for MetaCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

/// Result of applying a [`MetaCommand`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetaResponse {
    /// Applied.
    Ok,
    /// Refused deterministically.
    Error {
        /// Stable code.
        code: ErrorCode,
        /// Why.
        message: String,
    },
    /// The joining consumer's assignment.
    Assignment(ConsumerAssignment),
}
