//! The partition state machine, persisted in Postgres.
//!
//! ### To ensure correctness
//! - A run of applied entries is persisted in **one transaction** together with
//!   `last_applied`: after a crash the state is exactly that of some applied prefix, and
//!   Raft re-applies the rest from the log.
//! - Produce responses may be sent **before** that transaction commits: an entry reaches `apply`
//!   only once a majority holds it durably in the Raft log, and applying is deterministic, so
//!   a crash before the commit re-applies it to the same offsets. A produce ack never waits
//!   for a third Postgres commit. Other responses (offset commits, fences) follow the commit:
//!   offsets are read from Postgres, and a client must read its own write.
//! - The high watermark is published to fetchers as soon as a run is applied in memory, before
//!   that commit: its batches are readable from [`Unpersisted`] until the commit lands (they
//!   are committed entries, so no crash takes them back). A produce ack thus waits for one
//!   durable write on a majority (the Raft log), not two.
//! - Applied state is persisted before `apply` returns, so `applied_state()` only reports what
//!   is durable and `save_committed` is not needed.

mod expiry;
mod persist;
pub mod read;
mod snapshot;
pub mod state;
mod trim;
pub mod unpersisted;

use std::collections::HashMap;
use std::io;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use raftbus_raft::Flushed;
use raftbus_raft::codec::{db_err, decode, encode};
use sqlx::{PgPool, Postgres, Transaction};
use tokio::sync::watch;
use uuid::Uuid;

pub use persist::StateWriter;
pub use snapshot::PartitionSnapshotBuilder;
use state::{CommittedOffset, Dedup, PartitionState, PendingWrites, ProducerState};
pub use unpersisted::Unpersisted;

use crate::raft::{
    CommandResponse, EntryPayload, EntryResponder, LogId, OptionalSend, RaftStateMachine,
    SnapshotMeta, SnapshotOf, StoredMembership, TypeConfig,
};
use crate::storage::Storage;

/// Offsets fetchers wait on; published after each run is applied (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Watermarks {
    /// Offset the next record gets.
    pub next_offset: u64,
    /// First offset still stored.
    pub log_start_offset: u64,
    /// Idempotent producers the partition remembers.
    pub producers: u64,
    /// A lower bound of the producers' last-seen times (ms since the epoch, leader clocks;
    /// `u64::MAX` when there are none): the `expiry` loop proposes only when it is due.
    pub oldest_producer_ms: u64,
}

/// State machine of one partition replica.
pub struct PartitionStateMachine {
    /// The broker's pool (reads, snapshots).
    db: PgPool,
    /// The broker's shared writers (applied state goes through `storage.state`).
    storage: Storage,
    /// The partition's group id (row key in every table).
    group: Uuid,
    /// Mirror of the persisted state, so applying needs no reads.
    state: PartitionState,
    /// Publishes the watermarks to fetch long-polls.
    marks: watch::Sender<Watermarks>,
    /// Producer deduplication; [`Dedup::Off`] only under the UNSAFE `[unsafe] skip_dedup`.
    dedup: Dedup,
    /// The group's durable log index: a run is persisted only once this replica's own log
    /// holds it (see `Flushed::wait`). `None` when the machine runs without a log (tests).
    log: Option<Flushed>,
    /// Applied batches the applied-state writer has not committed yet, shared with readers.
    unpersisted: Arc<Unpersisted>,
}

impl PartitionStateMachine {
    /// Loads the persisted state of `group` (empty if it has none), deduplicating produces.
    pub async fn open(
        storage: Storage,
        group: Uuid,
    ) -> io::Result<(Self, watch::Receiver<Watermarks>)> {
        Self::open_with(storage, group, Dedup::On).await
    }

    /// [`PartitionStateMachine::open`] with an explicit [`Dedup`], which must be the same on
    /// every replica of the group ([`Dedup::Off`] is UNSAFE).
    pub async fn open_with(
        storage: Storage,
        group: Uuid,
        dedup: Dedup,
    ) -> io::Result<(Self, watch::Receiver<Watermarks>)> {
        let db = storage.db.clone();
        let state = load(&db, group).await?;
        let (marks, rx) = watch::channel(marks_of(&state));
        let unpersisted = Arc::new(Unpersisted::new(state.next_offset));
        Ok((
            Self {
                db,
                storage,
                group,
                state,
                marks,
                dedup,
                log: None,
                unpersisted,
            },
            rx,
        ))
    }

    /// Persists runs only once the group's own log holds them durably.
    pub fn follow_log(&mut self, flushed: Flushed) {
        self.log = Some(flushed);
    }

    /// The replica's applied but not yet persisted batches, for readers.
    pub fn unpersisted(&self) -> Arc<Unpersisted> {
        self.unpersisted.clone()
    }

    fn snapshot_builder(&self) -> PartitionSnapshotBuilder {
        let frame_bytes = self.storage.snapshot_frame_bytes;
        PartitionSnapshotBuilder::new(self.db.clone(), self.group, &self.state, frame_bytes)
    }

    fn publish(&self) {
        self.marks.send_replace(marks_of(&self.state));
    }

    /// Writes what a run of entries changed, with `last_applied`, atomically, through the
    /// broker's shared writer (one transaction with other groups' runs).
    async fn persist(&self, w: &PendingWrites) -> io::Result<()> {
        if let (Some(log), Some(last)) = (&self.log, &self.state.last_applied) {
            log.wait(last.index).await?;
        }
        let write = persist::ApplyWrite::new(self.group, &self.state, w)?;
        self.storage.state.write(write).await
    }
}

impl RaftStateMachine<TypeConfig> for PartitionStateMachine {
    type SnapshotData = raftbus_raft::SnapshotData;
    type SnapshotBuilder = PartitionSnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), io::Error> {
        Ok((self.state.last_applied, self.state.membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>> + Unpin + OptionalSend,
    {
        let mut pending = PendingWrites::default();
        let mut replies = Vec::new();
        while let Some(item) = entries.next().await {
            let (entry, responder) = item?;
            self.state.last_applied = Some(entry.log_id);
            let resp = match entry.payload {
                EntryPayload::Blank => CommandResponse::Nothing,
                EntryPayload::Normal(cmd) => {
                    self.state.apply_command_with(cmd, self.dedup, &mut pending)
                }
                EntryPayload::Membership(m) => {
                    self.state.membership = StoredMembership::new(Some(entry.log_id), m);
                    CommandResponse::Nothing
                }
            };
            if let Some(r) = responder {
                replies.push((r, resp));
            }
        }
        // Committed entries are durable on a majority already: their batches are readable and
        // produce acks go now (see the module docs). Publishing before the acks is what makes
        // a fetch sent after an ack see its records (read-your-writes): keep the order. Offset commits and fences wait for the
        // commit below, because offsets are read back from Postgres and a client must read its
        // own write.
        self.unpersisted.push(
            pending
                .batches
                .iter()
                .map(|b| (b.base_offset, b.count, b.data.clone())),
        );
        self.publish();
        let (early, late): (Vec<_>, Vec<_>) = replies.into_iter().partition(|(_, resp)| {
            matches!(
                resp,
                CommandResponse::Appended { .. } | CommandResponse::Many(_)
            )
        });
        for (r, resp) in early {
            r.send(resp);
        }
        // A failure here is fatal for the group (Raft stops it); the in-memory mirror is
        // then discarded and reloaded from Postgres when the group is reopened.
        self.persist(&pending).await?;
        self.unpersisted.persisted(self.state.next_offset);
        for (r, resp) in late {
            r.send(resp);
        }
        Ok(())
    }

    async fn try_create_snapshot_builder(&mut self, _force: bool) -> Option<Self::SnapshotBuilder> {
        Some(self.snapshot_builder())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.snapshot_builder()
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Self::SnapshotData,
    ) -> Result<(), io::Error> {
        self.state = snapshot::install(&self.db, self.group, meta, snapshot).await?;
        self.unpersisted.reset(self.state.next_offset);
        tracing::info!(
            group = %self.group,
            last_log_id = ?meta.last_log_id,
            log_start_offset = self.state.log_start_offset,
            log_end_offset = self.state.next_offset,
            "snapshot installed: replica rebuilt from the leader's snapshot"
        );
        self.publish();
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<SnapshotOf<Self::SnapshotData>>, io::Error> {
        snapshot::current(&self.db, self.group, self.storage.snapshot_frame_bytes).await
    }
}

fn marks_of(s: &PartitionState) -> Watermarks {
    Watermarks {
        next_offset: s.next_offset,
        log_start_offset: s.log_start_offset,
        producers: s.producers.len() as u64,
        oldest_producer_ms: s.oldest_seen_ms,
    }
}

/// Loads a group's persisted state machine.
async fn load(db: &PgPool, group: Uuid) -> io::Result<PartitionState> {
    type SmRow = (Option<Vec<u8>>, Vec<u8>, i64, i64);
    let row: Option<SmRow> = sqlx::query_as(
        "SELECT last_applied, last_membership, next_offset, log_start_offset FROM sm_state WHERE group_id = $1",
    )
    .bind(group)
    .fetch_optional(db)
    .await
    .map_err(db_err)?;
    let Some((applied, membership, next, start)) = row else {
        return Ok(PartitionState::default());
    };
    let producers: Vec<(Uuid, Vec<u8>)> =
        sqlx::query_as("SELECT producer_id, state FROM producer_state WHERE group_id = $1")
            .bind(group)
            .fetch_all(db)
            .await
            .map_err(db_err)?;
    let offsets: Vec<(String, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT consumer_group, committed_offset, generation FROM consumer_offsets WHERE group_id = $1",
    )
    .bind(group)
    .fetch_all(db)
    .await
    .map_err(db_err)?;
    let producers = producers
        .into_iter()
        .map(|(id, b)| Ok((id, decode(&b)?)))
        .collect::<io::Result<HashMap<_, ProducerState>>>()?;
    Ok(PartitionState {
        last_applied: applied.map(|b| decode(&b)).transpose()?,
        membership: decode(&membership)?,
        next_offset: next as u64,
        log_start_offset: start as u64,
        oldest_seen_ms: expiry::oldest_seen(producers.values()),
        producers,
        offsets: offsets
            .into_iter()
            .map(|(g, o, gen_)| {
                (
                    g,
                    CommittedOffset {
                        offset: o.map(|x| x as u64),
                        generation: gen_.map(|x| x as u64),
                    },
                )
            })
            .collect(),
    })
}

async fn save_sm_state(
    tx: &mut Transaction<'_, Postgres>,
    group: Uuid,
    s: &PartitionState,
) -> io::Result<()> {
    let applied = s.last_applied.as_ref().map(encode).transpose()?;
    sqlx::query(
        "INSERT INTO sm_state (group_id, last_applied, last_membership, next_offset, log_start_offset) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (group_id) DO UPDATE SET \
         last_applied = EXCLUDED.last_applied, last_membership = EXCLUDED.last_membership, \
         next_offset = EXCLUDED.next_offset, log_start_offset = EXCLUDED.log_start_offset",
    )
    .bind(group)
    .bind(applied)
    .bind(encode(&s.membership)?)
    .bind(s.next_offset as i64)
    .bind(s.log_start_offset as i64)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn save_producers(
    tx: &mut Transaction<'_, Postgres>,
    group: Uuid,
    producers: &[(Uuid, &ProducerState)],
) -> io::Result<()> {
    if producers.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = producers.iter().map(|(id, _)| *id).collect();
    let states = producers
        .iter()
        .map(|(_, s)| encode(s))
        .collect::<io::Result<Vec<_>>>()?;
    sqlx::query(
        "INSERT INTO producer_state (group_id, producer_id, state) \
         SELECT $1, * FROM UNNEST($2::uuid[], $3::bytea[]) \
         ON CONFLICT (group_id, producer_id) DO UPDATE SET state = EXCLUDED.state",
    )
    .bind(group)
    .bind(&ids)
    .bind(&states)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn save_offsets(
    tx: &mut Transaction<'_, Postgres>,
    group: Uuid,
    offsets: &[(&String, &CommittedOffset)],
) -> io::Result<()> {
    if offsets.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = offsets.iter().map(|(g, _)| g.as_str()).collect();
    let values: Vec<Option<i64>> = offsets
        .iter()
        .map(|(_, c)| c.offset.map(|o| o as i64))
        .collect();
    let gens: Vec<Option<i64>> = offsets
        .iter()
        .map(|(_, c)| c.generation.map(|g| g as i64))
        .collect();
    sqlx::query(
        "INSERT INTO consumer_offsets (group_id, consumer_group, committed_offset, generation) \
         SELECT $1, * FROM UNNEST($2::text[], $3::bigint[], $4::bigint[]) \
         ON CONFLICT (group_id, consumer_group) DO UPDATE SET \
         committed_offset = EXCLUDED.committed_offset, generation = EXCLUDED.generation",
    )
    .bind(group)
    .bind(&names)
    .bind(&values)
    .bind(&gens)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}
