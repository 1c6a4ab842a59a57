//! The Raft type config of partition groups and the commands in their log.
//!
//! The broker's one door to openraft: every openraft item the rest of the broker needs is
//! re-exported or wrapped here (the `partition` module drives the groups through these), so
//! an openraft upgrade touches this file and the `raft/` crate only.

use std::fmt;

use bytes::Bytes;
use raftbus_protocol::ErrorCode;
use raftbus_raft::NodeAddr;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::state_machine::PartitionStateMachine;

openraft::declare_raft_types!(
    /// Type config of a partition's Raft group.
    pub TypeConfig:
        D = Command,
        R = CommandResponse,
        NodeId = u64,
        Node = NodeAddr,
);

/// A partition replica's Raft handle.
pub type PartitionRaft = openraft::Raft<TypeConfig, PartitionStateMachine>;
/// Log id of a partition group.
pub type LogId = openraft::type_config::alias::LogIdOf<TypeConfig>;
/// Stored membership of a partition group.
pub type StoredMembership = openraft::type_config::alias::StoredMembershipOf<TypeConfig>;
/// Snapshot metadata of a partition group.
pub type SnapshotMeta = openraft::type_config::alias::SnapshotMetaOf<TypeConfig>;
/// A partition group's snapshot with its data.
pub type SnapshotOf<D> = openraft::type_config::alias::SnapshotOf<TypeConfig, D>;
/// A replica's Raft metrics (role, leader, membership, replication progress).
pub type RaftMetrics = openraft::RaftMetrics<TypeConfig>;
/// openraft configuration of a partition group.
pub type RaftConfig = openraft::Config;
/// Membership change requests (`ReplaceAllVoters`, `RemoveNodes`).
pub type ChangeMembers = openraft::ChangeMembers<u64, NodeAddr>;

pub use openraft::async_runtime::WatchReceiver;
pub use openraft::impls::ProgressResponder;
pub use openraft::raft::TransferLeaderRequest;
pub use openraft::storage::{EntryResponder, RaftStateMachine, Snapshot};
pub use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder, ServerState, SnapshotPolicy};

/// Milliseconds since an openraft timestamp (e.g. `RaftMetrics::last_quorum_acked`).
pub fn millis_since(t: &openraft::type_config::alias::SerdeInstantOf<TypeConfig>) -> u64 {
    openraft::Instant::elapsed(&**t).as_millis() as u64
}

/// Why a proposal failed: openraft's client-write errors reduced to what callers act on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProposeError {
    /// This replica does not lead; the leader's id and client address when known.
    #[error("not the leader (leader {0:?})")]
    NotLeader(Option<(u64, String)>),
    /// A leader change discarded the entry: it may or may not commit.
    #[error("entry discarded by a leader change")]
    Discarded,
    /// The group is stopped (a fatal storage error, or shutdown).
    #[error("stopped: {0}")]
    Stopped(String),
    /// No outcome within the caller's timeout: the entry may still commit.
    #[error("not committed within {} ms", .0.as_millis())]
    Timeout(std::time::Duration),
    /// The produce queue is full (`limits.max_queued_bytes`): back off and retry.
    #[error("{queued} bytes queued (limit {limit})")]
    Busy {
        /// Bytes waiting when the batch was refused.
        queued: usize,
        /// The limit.
        limit: usize,
    },
    /// Anything else openraft reports.
    #[error("{0}")]
    Other(String),
}

/// openraft's error for a failed `client_write`.
type ClientWriteFailure =
    openraft::error::RaftError<TypeConfig, openraft::error::ClientWriteError<TypeConfig>>;

impl From<ClientWriteFailure> for ProposeError {
    fn from(e: ClientWriteFailure) -> Self {
        use openraft::error::RaftError;
        match e {
            RaftError::APIError(e) => e.into(),
            RaftError::Fatal(f) => f.into(),
        }
    }
}

impl From<openraft::error::ClientWriteError<TypeConfig>> for ProposeError {
    fn from(e: openraft::error::ClientWriteError<TypeConfig>) -> Self {
        use openraft::error::ClientWriteError;
        match e {
            ClientWriteError::ForwardToLeader(f) => {
                ProposeError::NotLeader(f.leader_id.zip(f.leader_node.map(|n| n.api_addr)))
            }
            ClientWriteError::LogEntryDiscarded(_) => ProposeError::Discarded,
            e => ProposeError::Other(e.to_string()),
        }
    }
}

impl From<openraft::error::Fatal<TypeConfig>> for ProposeError {
    fn from(f: openraft::error::Fatal<TypeConfig>) -> Self {
        ProposeError::Stopped(f.to_string())
    }
}

impl ProposeError {
    /// The group stopped (openraft's `Fatal::Stopped`), e.g. its task is gone.
    pub fn stopped() -> Self {
        openraft::error::Fatal::<TypeConfig>::Stopped.into()
    }
}

/// One producer batch of a [`Command::ProduceMany`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProduceBatch {
    /// Present for idempotent producers: a repeated `(id, seq)` is not appended twice.
    pub producer: Option<ProducerSeq>,
    /// The validated batch, stored as sent.
    pub records: Bytes,
    /// Number of records in the batch (validated at the leader before proposing).
    pub count: u32,
    /// The leader's clock when it accepted the batch (ms since the epoch): the producer's
    /// replicated "last seen" time, so expiry decides the same on every replica. Last field
    /// and `serde(default)`: entries written before it decode with 0 ("unknown").
    #[serde(default)]
    pub at_ms: u64,
}

impl From<ProduceBatch> for Command {
    /// A lone batch is proposed as the plain [`Command::Produce`].
    fn from(b: ProduceBatch) -> Self {
        Command::Produce {
            producer: b.producer,
            records: b.records,
            count: b.count,
            at_ms: b.at_ms,
        }
    }
}

/// Identity of an idempotent producer's batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerSeq {
    /// The producer's id (uuid chosen by the producer).
    pub id: Uuid,
    /// Per-partition batch sequence, starting at 0 and gapless.
    pub seq: u64,
}

/// A command in a partition's Raft log. Typed so more kinds can be added (retention,
/// configuration) without touching the record path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// A producer's record batch: one entry, one row.
    Produce {
        /// Present for idempotent producers: a repeated `(id, seq)` is not appended twice.
        producer: Option<ProducerSeq>,
        /// The validated batch, stored as sent.
        records: Bytes,
        /// Number of records in the batch (validated at the leader before proposing).
        count: u32,
        /// The leader's clock when it accepted the batch (see [`ProduceBatch::at_ms`]).
        #[serde(default)]
        at_ms: u64,
    },
    /// Several producers' batches proposed together (see `partition::propose`): one entry,
    /// one log row; each batch is applied and answered on its own, in order.
    ProduceMany {
        /// The batches, in arrival order.
        batches: Vec<ProduceBatch>,
    },
    /// A consumer group's offset commit.
    CommitOffset {
        /// Consumer group name.
        group: String,
        /// Next offset the group will read.
        offset: u64,
        /// Group generation; lower than the newest seen is refused.
        generation: Option<u64>,
    },
    /// Fences a consumer group at a generation: from then on commits carrying a lower
    /// generation are refused, so members of an old generation (zombies that missed a
    /// rebalance) cannot move the group's offset. The committed offset is kept as is.
    FenceGroup {
        /// Consumer group name.
        group: String,
        /// The group's new generation; a lower or equal one changes nothing.
        generation: u64,
    },
    /// Retention: moves the partition's log start offset up to `log_start_offset` and deletes
    /// every batch wholly below it. Decided by the leader's `retention` loop and replicated,
    /// so every replica deletes the same batches and agrees on the log start offset.
    Trim {
        /// New first stored offset (a batch boundary); at or below the current one is a no-op.
        log_start_offset: u64,
    },
    /// Producer-id expiry: forgets every idempotent producer last seen before
    /// `now_ms - expiry_ms`. Decided by the leader's `expiry` loop with its clock and
    /// replicated, so every replica drops the same producers (`state_machine/expiry.rs`).
    ExpireProducers {
        /// The leader's clock when it proposed (ms since the epoch).
        now_ms: u64,
        /// Idle time after which a producer is forgotten (the leader's `producers.expiry_ms`).
        expiry_ms: u64,
    },
    /// The managers removed an idle consumer group: forgets its committed offset and fence
    /// here, unless a newer generation (a group re-created since) wrote them.
    DropGroup {
        /// Consumer group name.
        group: String,
        /// The removed group's last generation; a stored generation above it is kept.
        generation: u64,
    },
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Produce {
                producer,
                count,
                records,
                ..
            } => {
                write!(
                    f,
                    "produce({count} records, {} bytes, {producer:?})",
                    records.len()
                )
            }
            Command::ProduceMany { batches } => {
                let records: u32 = batches.iter().map(|b| b.count).sum();
                write!(f, "produce({} batches, {records} records)", batches.len())
            }
            Command::CommitOffset {
                group,
                offset,
                generation,
            } => {
                write!(f, "commit({group}, {offset}, gen {generation:?})")
            }
            Command::FenceGroup { group, generation } => {
                write!(f, "fence({group}, gen {generation})")
            }
            Command::Trim { log_start_offset } => write!(f, "trim(below {log_start_offset})"),
            Command::ExpireProducers { now_ms, expiry_ms } => {
                write!(f, "expire producers(idle {expiry_ms} ms at {now_ms})")
            }
            Command::DropGroup { group, generation } => {
                write!(f, "drop group({group}, up to gen {generation})")
            }
        }
    }
}

/// What applying a command produced; returned to the proposer by `client_write`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandResponse {
    /// Records stored (or found stored, for a retried batch) at `[base_offset, base_offset + count)`.
    Appended {
        /// First offset of the batch.
        base_offset: u64,
        /// Number of records.
        count: u32,
        /// True when the batch was a retry and nothing new was appended.
        duplicate: bool,
    },
    /// The offset commit was stored.
    OffsetCommitted,
    /// The group is fenced: its state after the fence (the generation may be higher than the
    /// one asked for, when the group had already moved past it).
    GroupFenced {
        /// Committed offset, untouched by the fence.
        offset: Option<u64>,
        /// The group's generation now.
        generation: u64,
    },
    /// Retention applied: the partition's log start offset now.
    Trimmed {
        /// First stored offset after the trim.
        log_start_offset: u64,
    },
    /// A removed group's offset and fence: whether they were forgotten.
    GroupDropped {
        /// False when nothing was stored or a newer generation wrote it.
        dropped: bool,
    },
    /// Producer expiry applied.
    ProducersExpired {
        /// Producers forgotten.
        expired: u32,
        /// Producers left.
        remaining: u32,
    },
    /// One response per batch of a [`Command::ProduceMany`], in order.
    Many(Vec<CommandResponse>),
    /// The command was refused deterministically on every replica.
    Rejected {
        /// Stable code.
        code: ErrorCode,
        /// Explanation.
        message: String,
    },
    /// Blank and membership entries.
    Nothing,
}

#[cfg(test)]
mod tests {
    use openraft::raft::{AppendEntriesRequest, VoteRequest};
    use proptest::prelude::*;
    use raftbus_raft::codec::{decode, encode};

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// What the Raft listener decodes from a peer: arbitrary bytes are an error or a
        /// value, never a panic.
        #[test]
        fn garbage_raft_messages_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode::<AppendEntriesRequest<TypeConfig>>(&data);
            let _ = decode::<VoteRequest<TypeConfig>>(&data);
            let _ = decode::<Command>(&data);
        }

        /// A valid command with one byte changed reaches deeper into the decoder.
        #[test]
        fn mutated_commands_never_panic(
            records in proptest::collection::vec(any::<u8>(), 0..64),
            at in any::<usize>(),
            byte in any::<u8>(),
        ) {
            let batch = ProduceBatch {
                producer: None,
                records: Bytes::from(records),
                count: 1,
                at_ms: 0,
            };
            let mut data = encode(&Command::from(batch)).unwrap();
            let i = at % data.len();
            data[i] = byte;
            let _ = decode::<Command>(&data);
        }
    }
}
