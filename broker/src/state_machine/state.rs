//! The partition state in memory and the pure rules that apply commands to it.
//!
//! Everything here is deterministic: every replica applies the same entries in the same order
//! and reaches the same offsets, producer state and committed offsets. The database layer
//! (`super`) persists what [`PartitionState::apply_command`] decides, in one transaction with
//! `last_applied`.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use raftbus_protocol::ErrorCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::raft::{Command, CommandResponse, LogId, ProducerSeq, StoredMembership};

/// How many recent batches per producer are remembered for deduplication. A producer keeps at
/// most this many batches in flight per partition, so any retry it can send is recognised.
pub const PRODUCER_WINDOW: usize = 8;

/// Idempotent-producer state on one partition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerState {
    /// Highest sequence appended.
    pub last_seq: u64,
    /// The last [`PRODUCER_WINDOW`] batches: `(seq, base_offset, count)`, oldest first.
    pub recent: VecDeque<(u64, u64, u32)>,
}

/// A batch row to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRow {
    /// First offset.
    pub base_offset: u64,
    /// Records in it.
    pub count: u32,
    /// Encoded batch.
    pub data: Bytes,
}

/// Rows changed by a run of applied entries, written in one transaction.
#[derive(Debug, Default)]
pub struct PendingWrites {
    /// New batches, in offset order.
    pub batches: Vec<BatchRow>,
    /// Producers whose state changed.
    pub producers: Vec<Uuid>,
    /// Consumer groups whose offsets changed.
    pub offsets: Vec<String>,
}

/// A consumer group's committed position on this partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedOffset {
    /// Next offset the group reads.
    pub offset: u64,
    /// Generation of the commit.
    pub generation: Option<u64>,
}

/// The applied state of one partition.
#[derive(Debug, Clone, Default)]
pub struct PartitionState {
    /// Last applied log id.
    pub last_applied: Option<LogId>,
    /// Last applied membership.
    pub membership: StoredMembership,
    /// Offset the next record gets (high watermark).
    pub next_offset: u64,
    /// First offset still stored.
    pub log_start_offset: u64,
    /// Idempotent producers.
    pub producers: HashMap<Uuid, ProducerState>,
    /// Consumer-group offsets.
    pub offsets: HashMap<String, CommittedOffset>,
}

impl PartitionState {
    /// Applies one command, recording the rows to write in `pending`.
    pub fn apply_command(&mut self, cmd: Command, pending: &mut PendingWrites) -> CommandResponse {
        match cmd {
            Command::Produce {
                producer,
                records,
                count,
            } => self.produce(producer, records, count, pending),
            Command::CommitOffset {
                group,
                offset,
                generation,
            } => self.commit_offset(group, offset, generation, pending),
        }
    }

    fn produce(
        &mut self,
        producer: Option<ProducerSeq>,
        records: Bytes,
        count: u32,
        pending: &mut PendingWrites,
    ) -> CommandResponse {
        if let Some(p) = producer
            && let Some(state) = self.producers.get(&p.id)
        {
            if let Some(&(_, base, n)) = state.recent.iter().find(|(s, _, _)| *s == p.seq) {
                return CommandResponse::Appended {
                    base_offset: base,
                    count: n,
                    duplicate: true,
                };
            }
            if p.seq <= state.last_seq {
                return rejected(
                    ErrorCode::DuplicateSequence,
                    format!(
                        "sequence {} is older than the last {PRODUCER_WINDOW} remembered batches (last {})",
                        p.seq, state.last_seq
                    ),
                );
            }
            if p.seq != state.last_seq + 1 {
                return rejected(
                    ErrorCode::OutOfOrderSequence,
                    format!("expected sequence {}, got {}", state.last_seq + 1, p.seq),
                );
            }
        }
        let base = self.next_offset;
        self.next_offset += u64::from(count);
        pending.batches.push(BatchRow {
            base_offset: base,
            count,
            data: records,
        });
        if let Some(p) = producer {
            let state = self.producers.entry(p.id).or_default();
            state.last_seq = p.seq;
            state.recent.push_back((p.seq, base, count));
            while state.recent.len() > PRODUCER_WINDOW {
                state.recent.pop_front();
            }
            if !pending.producers.contains(&p.id) {
                pending.producers.push(p.id);
            }
        }
        CommandResponse::Appended {
            base_offset: base,
            count,
            duplicate: false,
        }
    }

    fn commit_offset(
        &mut self,
        group: String,
        offset: u64,
        generation: Option<u64>,
        pending: &mut PendingWrites,
    ) -> CommandResponse {
        if offset > self.next_offset {
            return rejected(
                ErrorCode::OffsetOutOfRange,
                format!(
                    "offset {offset} is beyond the high watermark {}",
                    self.next_offset
                ),
            );
        }
        if let (Some(current), Some(new)) = (
            self.offsets.get(&group).and_then(|c| c.generation),
            generation,
        ) && new < current
        {
            return rejected(
                ErrorCode::StaleGeneration,
                format!("generation {new} is older than the group's current generation {current}"),
            );
        }
        self.offsets
            .insert(group.clone(), CommittedOffset { offset, generation });
        if !pending.offsets.contains(&group) {
            pending.offsets.push(group);
        }
        CommandResponse::OffsetCommitted
    }
}

fn rejected(code: ErrorCode, message: String) -> CommandResponse {
    CommandResponse::Rejected { code, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn produce(s: &mut PartitionState, p: Option<ProducerSeq>, n: u32) -> CommandResponse {
        let mut w = PendingWrites::default();
        s.apply_command(
            Command::Produce {
                producer: p,
                records: Bytes::from_static(b"x"),
                count: n,
            },
            &mut w,
        )
    }

    fn seq(id: Uuid, seq: u64) -> Option<ProducerSeq> {
        Some(ProducerSeq { id, seq })
    }

    #[test]
    fn offsets_are_dense_per_batch() {
        let mut s = PartitionState::default();
        assert_eq!(
            produce(&mut s, None, 3),
            CommandResponse::Appended {
                base_offset: 0,
                count: 3,
                duplicate: false
            }
        );
        assert_eq!(
            produce(&mut s, None, 2),
            CommandResponse::Appended {
                base_offset: 3,
                count: 2,
                duplicate: false
            }
        );
        assert_eq!(s.next_offset, 5);
    }

    #[test]
    fn retried_batch_returns_original_offsets_and_appends_nothing() {
        let mut s = PartitionState::default();
        let id = Uuid::new_v4();
        produce(&mut s, seq(id, 0), 4);
        produce(&mut s, seq(id, 1), 4);
        let again = produce(&mut s, seq(id, 0), 4);
        assert_eq!(
            again,
            CommandResponse::Appended {
                base_offset: 0,
                count: 4,
                duplicate: true
            }
        );
        assert_eq!(s.next_offset, 8);
    }

    #[test]
    fn gaps_and_forgotten_sequences_are_refused() {
        let mut s = PartitionState::default();
        let id = Uuid::new_v4();
        produce(&mut s, seq(id, 0), 1);
        assert!(matches!(
            produce(&mut s, seq(id, 2), 1),
            CommandResponse::Rejected {
                code: ErrorCode::OutOfOrderSequence,
                ..
            }
        ));
        for i in 1..=(PRODUCER_WINDOW as u64 + 1) {
            produce(&mut s, seq(id, i), 1);
        }
        assert!(matches!(
            produce(&mut s, seq(id, 0), 1),
            CommandResponse::Rejected {
                code: ErrorCode::DuplicateSequence,
                ..
            }
        ));
        assert_eq!(s.next_offset, PRODUCER_WINDOW as u64 + 2);
    }

    #[test]
    fn producers_are_independent() {
        let mut s = PartitionState::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        produce(&mut s, seq(a, 0), 1);
        assert_eq!(
            produce(&mut s, seq(b, 0), 1),
            CommandResponse::Appended {
                base_offset: 1,
                count: 1,
                duplicate: false
            }
        );
    }

    #[test]
    fn offset_commits_check_range_and_generation() {
        let mut s = PartitionState::default();
        produce(&mut s, None, 10);
        let mut w = PendingWrites::default();
        let commit = |o, g| Command::CommitOffset {
            group: "g".into(),
            offset: o,
            generation: g,
        };
        assert_eq!(
            s.apply_command(commit(5, Some(2)), &mut w),
            CommandResponse::OffsetCommitted
        );
        assert!(matches!(
            s.apply_command(commit(6, Some(1)), &mut w),
            CommandResponse::Rejected {
                code: ErrorCode::StaleGeneration,
                ..
            }
        ));
        assert!(matches!(
            s.apply_command(commit(11, Some(2)), &mut w),
            CommandResponse::Rejected {
                code: ErrorCode::OffsetOutOfRange,
                ..
            }
        ));
        assert_eq!(
            s.offsets["g"],
            CommittedOffset {
                offset: 5,
                generation: Some(2)
            }
        );
        assert_eq!(w.offsets, vec!["g".to_string()]);
    }
}
