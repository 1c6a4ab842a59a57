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

/// How many recent batches per producer are remembered for deduplication (the wire
/// contract's window, shared with clients that size their in-flight batches by it).
pub use raftbus_protocol::api::PRODUCER_WINDOW;

/// Whether produce deduplicates batches by producer id and sequence number.
///
/// It must be the same on every replica of a group (it decides what an entry does), so it
/// comes from a broker setting that the whole cluster shares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Dedup {
    /// Normal operation: a retried batch gets its original offsets back and is not appended
    /// again; sequence gaps and forgotten sequences are refused.
    #[default]
    On,
    /// **UNSAFE**, for crash-test negative controls only (`[unsafe] skip_dedup`): producer ids
    /// and sequence numbers are ignored, every batch is appended, so a retry duplicates it.
    Off,
}

/// Idempotent-producer state on one partition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerState {
    /// Highest sequence appended.
    pub last_seq: u64,
    /// The last [`PRODUCER_WINDOW`] batches: `(seq, base_offset, count)`, oldest first.
    pub recent: VecDeque<(u64, u64, u32)>,
    /// When the producer last appended, on the leader's clock carried in the entry (ms since
    /// the epoch); expiry compares it with a cut-off carried in its own entry, so every
    /// replica forgets the same producers. 0: unknown (state from before expiry existed).
    /// Last field and `serde(default)`, so older rows and snapshot heads still decode.
    #[serde(default)]
    pub last_seen_ms: u64,
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
    /// Producers forgotten by expiry: their rows are deleted. Never also in `producers` (one
    /// statement must not both upsert and delete a row).
    pub expired: Vec<Uuid>,
    /// Consumer groups whose offset rows are deleted (the managers removed them). Never also
    /// in `offsets`, for the same reason.
    pub dropped: Vec<String>,
    /// Consumer groups whose offsets changed.
    pub offsets: Vec<String>,
    /// Set by a trim: delete every batch that ends at or below this offset (after inserting
    /// `batches`, so a batch appended and trimmed in the same run is gone too).
    pub trim_below: Option<u64>,
}

/// A consumer group's committed position on this partition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedOffset {
    /// Next offset the group reads; `None` while the group was fenced but never committed.
    pub offset: Option<u64>,
    /// Newest generation seen (by a commit or a fence); older commits are refused.
    pub generation: Option<u64>,
}

/// The applied state of one partition.
#[derive(Debug, Clone)]
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
    /// A lower bound of every producer's `last_seen_ms` (`u64::MAX` when there is none), so
    /// the leader's `expiry` loop knows cheaply whether anything may be due. Derived, not
    /// persisted: exact after loading and after each expiry, lowered by new producers.
    pub oldest_seen_ms: u64,
    /// Consumer-group offsets.
    pub offsets: HashMap<String, CommittedOffset>,
}

impl Default for PartitionState {
    fn default() -> Self {
        Self {
            last_applied: None,
            membership: StoredMembership::default(),
            next_offset: 0,
            log_start_offset: 0,
            producers: HashMap::new(),
            offsets: HashMap::new(),
            oldest_seen_ms: u64::MAX,
        }
    }
}

impl PartitionState {
    /// Applies one command with deduplication on, recording the rows to write in `pending`.
    pub fn apply_command(&mut self, cmd: Command, pending: &mut PendingWrites) -> CommandResponse {
        self.apply_command_with(cmd, Dedup::On, pending)
    }

    /// Applies one command, recording the rows to write in `pending`; `dedup` says whether
    /// produce honours producer sequence numbers ([`Dedup::Off`] is UNSAFE).
    pub fn apply_command_with(
        &mut self,
        cmd: Command,
        dedup: Dedup,
        pending: &mut PendingWrites,
    ) -> CommandResponse {
        match cmd {
            Command::Produce {
                producer,
                records,
                count,
                at_ms,
            } => {
                // UNSAFE negative control: without the producer the batch is appended as if
                // it came from a non-idempotent client, retries included.
                let producer = producer.filter(|_| dedup == Dedup::On);
                self.produce(producer, records, count, at_ms, pending)
            }
            Command::ProduceMany { batches } => CommandResponse::Many(
                batches
                    .into_iter()
                    .map(|b| {
                        let producer = b.producer.filter(|_| dedup == Dedup::On);
                        self.produce(producer, b.records, b.count, b.at_ms, pending)
                    })
                    .collect(),
            ),
            Command::CommitOffset {
                group,
                offset,
                generation,
            } => self.commit_offset(group, offset, generation, pending),
            Command::FenceGroup { group, generation } => {
                self.fence_group(group, generation, pending)
            }
            Command::Trim { log_start_offset } => self.trim(log_start_offset, pending),
            Command::ExpireProducers { now_ms, expiry_ms } => {
                self.expire_producers(now_ms.saturating_sub(expiry_ms), now_ms, pending)
            }
            Command::DropGroup { group, generation } => self.drop_group(group, generation, pending),
        }
    }

    fn produce(
        &mut self,
        producer: Option<ProducerSeq>,
        records: Bytes,
        count: u32,
        at_ms: u64,
        pending: &mut PendingWrites,
    ) -> CommandResponse {
        // A producer id this partition does not know must start at sequence 0: otherwise its
        // second batch could land before its first (both in flight after an id switch), and
        // the first would then be refused as a duplicate. An expired producer's next batch
        // lands here too; accepting it as new could store a retried batch twice, so it is
        // refused (`unknown_producer`): a producer that had batches acknowledged under the id
        // knows it expired, fails the batch and continues with a new id (see the SDK).
        if let Some(p) = producer
            && p.seq != 0
            && !self.producers.contains_key(&p.id)
        {
            return rejected(
                ErrorCode::UnknownProducer,
                format!(
                    "producer {} is unknown on this partition (never seen, or expired after \
                     being idle): expected sequence 0, got {}; start a new producer id",
                    p.id, p.seq
                ),
            );
        }
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
            // Kafka producers number records, everyone else batches (`kafka::init_producer_id`).
            let step = match state.recent.back() {
                Some(&(_, _, n)) if crate::kafka::record_sequenced(&p.id) => u64::from(n),
                _ => 1,
            };
            if p.seq != state.last_seq + step {
                return rejected(
                    ErrorCode::OutOfOrderSequence,
                    format!("expected sequence {}, got {}", state.last_seq + step, p.seq),
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
            // Never backwards: a new leader's clock may lag the old one's.
            state.last_seen_ms = state.last_seen_ms.max(at_ms);
            self.oldest_seen_ms = self.oldest_seen_ms.min(state.last_seen_ms);
            state.last_seq = p.seq;
            state.recent.push_back((p.seq, base, count));
            while state.recent.len() > PRODUCER_WINDOW {
                state.recent.pop_front();
            }
            if !pending.producers.contains(&p.id) {
                pending.producers.push(p.id);
            }
            // Expired earlier in this run and back (a restarted producer reusing its id):
            // the upsert replaces the row, so it must not be deleted too.
            if !pending.expired.is_empty() {
                pending.expired.retain(|id| *id != p.id);
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
        // A commit without a generation (a manual reset) keeps the stored one: it must not
        // lift a fence.
        let entry = self.offsets.entry(group.clone()).or_default();
        entry.offset = Some(offset);
        entry.generation = generation.or(entry.generation);
        mark(pending, group);
        CommandResponse::OffsetCommitted
    }

    /// Raises the group's generation to `generation` if it is higher; never lowers it and
    /// never touches the offset. Works on a group that never committed (offset `None`), so a
    /// manager can fence before the new generation's first commit.
    fn fence_group(
        &mut self,
        group: String,
        generation: u64,
        pending: &mut PendingWrites,
    ) -> CommandResponse {
        let entry = self.offsets.entry(group.clone()).or_default();
        let current = match entry.generation {
            Some(g) if g >= generation => g,
            _ => {
                entry.generation = Some(generation);
                let offset = entry.offset;
                mark(pending, group);
                return CommandResponse::GroupFenced { offset, generation };
            }
        };
        CommandResponse::GroupFenced {
            offset: entry.offset,
            generation: current,
        }
    }
}

/// Records that a group's offset row must be written.
fn mark(pending: &mut PendingWrites, group: String) {
    // Dropped earlier in this run and written again: the upsert wins.
    pending.dropped.retain(|g| *g != group);
    if !pending.offsets.contains(&group) {
        pending.offsets.push(group);
    }
}

fn rejected(code: ErrorCode, message: String) -> CommandResponse {
    CommandResponse::Rejected { code, message }
}

#[cfg(test)]
mod tests;
