//! The applied-state lane of the broker's shared writer: what runs of applied entries of every
//! partition changed, written together, in the same transactions as the Raft log's writes
//! (`raftbus_raft::ExtraLane`): under load a replica's apply of entry N rides with its append
//! of N+1, so a Raft entry costs one transaction per replica, not two.
//!
//! New batches, batches trimmed by retention, changed and expired producer states, changed consumer
//! offsets and each partition's `sm_state` row (with `last_applied`) of every group queued
//! together are written by **one** `INSERT` with data-modifying CTEs: one statement is one
//! implicit transaction, all or nothing, and one round trip.
//!
//! ### To ensure correctness
//! - A group's run and its `last_applied` are in one statement, so after a crash a group's
//!   state is that of some applied prefix.
//! - A group has at most one run per statement (a second run of the same group goes to the
//!   next level, in the same transaction), so no `ON CONFLICT` meets a row twice.
//! - A run is submitted only once the group's own log holds its entries durably (the state
//!   machine waits on `Flushed`): a replica never records as applied an entry its own log may
//!   not hold.

use std::any::Any;
use std::io;
use std::sync::Arc;

use futures::future::BoxFuture;
use raftbus_raft::codec::{db_err, encode};
use raftbus_raft::commit::{Limits, Writer};
use raftbus_raft::{ExtraLane, ExtraOp, LogLane, LogOp, LogWriter};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::state::{PartitionState, PendingWrites};

/// The broker's applied-state writes, through its shared log writer.
#[derive(Clone)]
pub struct StateWriter {
    log: LogWriter,
}

impl StateWriter {
    /// Starts the broker's shared writer on `db` (Raft log, with applied state as its extra
    /// lane) and answers it with the applied-state handle on it.
    pub fn start(db: PgPool, limits: Limits) -> (LogWriter, Self) {
        let lane = LogLane::with_extra(Arc::new(ApplyLane));
        let log = Writer::spawn("log", db, lane, limits);
        (log.clone(), Self { log })
    }

    /// Queues `w` and waits until it is durable.
    pub async fn write(&self, w: ApplyWrite) -> io::Result<()> {
        self.log.write(LogOp::Extra(Box::new(w))).await
    }
}

/// Everything one run of applied entries of one group writes (owned: it waits in a queue).
#[derive(Debug)]
pub struct ApplyWrite {
    group: Uuid,
    /// `(base_offset, record_count, data)` of new batches.
    batches: Vec<(i64, i32, bytes::Bytes)>,
    /// Delete batches wholly below this offset (0: none).
    trim_below: i64,
    producers: Vec<(Uuid, Vec<u8>)>,
    /// Producers forgotten by expiry: their rows go.
    expired: Vec<Uuid>,
    /// `(consumer group, offset, generation)`.
    offsets: Vec<(String, Option<i64>, Option<i64>)>,
    /// Consumer groups whose rows go (removed by the managers).
    dropped: Vec<String>,
    last_applied: Option<Vec<u8>>,
    membership: Vec<u8>,
    next_offset: i64,
    log_start_offset: i64,
}

impl ApplyWrite {
    /// The write of `w` on `state` (the state after applying the run).
    pub fn new(group: Uuid, state: &PartitionState, w: &PendingWrites) -> io::Result<Self> {
        let mut producers = Vec::new();
        for id in &w.producers {
            if let Some(s) = state.producers.get(id) {
                producers.push((*id, encode(s)?));
            }
        }
        let offsets = w
            .offsets
            .iter()
            .filter_map(|g| {
                state.offsets.get(g).map(|c| {
                    (
                        g.clone(),
                        c.offset.map(|o| o as i64),
                        c.generation.map(|x| x as i64),
                    )
                })
            })
            .collect();
        Ok(Self {
            group,
            batches: w
                .batches
                .iter()
                .map(|b| (b.base_offset as i64, b.count as i32, b.data.clone()))
                .collect(),
            trim_below: w.trim_below.unwrap_or(0) as i64,
            producers,
            expired: w.expired.clone(),
            offsets,
            dropped: w.dropped.clone(),
            last_applied: state.last_applied.as_ref().map(encode).transpose()?,
            membership: encode(&state.membership)?,
            next_offset: state.next_offset as i64,
            log_start_offset: state.log_start_offset as i64,
        })
    }
}

/// The partition tables' writer.
struct ApplyLane;

/// The statement; every array may be empty (then that CTE writes nothing). The delete cannot
/// see the rows the same statement inserts (one snapshot); the retention loop proposes a start
/// offset from batches already stored, so batches applied in the same run lie above it (a stray
/// one would go with the next trim).
const WRITE: &str = "\
WITH b AS (
    INSERT INTO partition_batches (group_id, base_offset, record_count, data)
    SELECT * FROM UNNEST($1::uuid[], $2::bigint[], $3::int[], $4::bytea[])
), d AS (
    DELETE FROM partition_batches pb USING UNNEST($5::uuid[], $6::bigint[]) AS t(g, o)
    WHERE pb.group_id = t.g AND pb.base_offset < t.o AND pb.base_offset + pb.record_count <= t.o
), p AS (
    INSERT INTO producer_state (group_id, producer_id, state)
    SELECT * FROM UNNEST($7::uuid[], $8::uuid[], $9::bytea[])
    ON CONFLICT (group_id, producer_id) DO UPDATE SET state = EXCLUDED.state
), o AS (
    INSERT INTO consumer_offsets (group_id, consumer_group, committed_offset, generation)
    SELECT * FROM UNNEST($10::uuid[], $11::text[], $12::bigint[], $13::bigint[])
    ON CONFLICT (group_id, consumer_group) DO UPDATE SET
        committed_offset = EXCLUDED.committed_offset, generation = EXCLUDED.generation
), x AS (
    DELETE FROM producer_state ps USING UNNEST($19::uuid[], $20::uuid[]) AS e(g, id)
    WHERE ps.group_id = e.g AND ps.producer_id = e.id
), y AS (
    DELETE FROM consumer_offsets co USING UNNEST($21::uuid[], $22::text[]) AS r(g, name)
    WHERE co.group_id = r.g AND co.consumer_group = r.name
)
INSERT INTO sm_state (group_id, last_applied, last_membership, next_offset, log_start_offset)
SELECT * FROM UNNEST($14::uuid[], $15::bytea[], $16::bytea[], $17::bigint[], $18::bigint[])
ON CONFLICT (group_id) DO UPDATE SET
    last_applied = EXCLUDED.last_applied, last_membership = EXCLUDED.last_membership,
    next_offset = EXCLUDED.next_offset, log_start_offset = EXCLUDED.log_start_offset";

/// Column arrays of one statement.
#[derive(Default)]
struct Level<'a> {
    b_group: Vec<Uuid>,
    b_base: Vec<i64>,
    b_count: Vec<i32>,
    b_data: Vec<&'a [u8]>,
    d_group: Vec<Uuid>,
    d_below: Vec<i64>,
    p_group: Vec<Uuid>,
    p_id: Vec<Uuid>,
    p_state: Vec<&'a [u8]>,
    o_group: Vec<Uuid>,
    o_name: Vec<&'a str>,
    o_offset: Vec<Option<i64>>,
    o_gen: Vec<Option<i64>>,
    s_group: Vec<Uuid>,
    s_applied: Vec<Option<&'a [u8]>>,
    s_membership: Vec<&'a [u8]>,
    s_next: Vec<i64>,
    s_start: Vec<i64>,
    x_group: Vec<Uuid>,
    x_id: Vec<Uuid>,
    y_group: Vec<Uuid>,
    y_name: Vec<&'a str>,
}

impl<'a> Level<'a> {
    fn add(&mut self, w: &'a ApplyWrite) {
        let g = w.group;
        for (base, count, data) in &w.batches {
            self.b_group.push(g);
            self.b_base.push(*base);
            self.b_count.push(*count);
            self.b_data.push(data);
        }
        if w.trim_below > 0 {
            self.d_group.push(g);
            self.d_below.push(w.trim_below);
        }
        for (id, state) in &w.producers {
            self.p_group.push(g);
            self.p_id.push(*id);
            self.p_state.push(state);
        }
        for id in &w.expired {
            self.x_group.push(g);
            self.x_id.push(*id);
        }
        for name in &w.dropped {
            self.y_group.push(g);
            self.y_name.push(name);
        }
        for (name, offset, generation) in &w.offsets {
            self.o_group.push(g);
            self.o_name.push(name);
            self.o_offset.push(*offset);
            self.o_gen.push(*generation);
        }
        self.s_group.push(g);
        self.s_applied.push(w.last_applied.as_deref());
        self.s_membership.push(&w.membership);
        self.s_next.push(w.next_offset);
        self.s_start.push(w.log_start_offset);
    }

    async fn execute<'e, E: sqlx::PgExecutor<'e>>(self, db: E) -> io::Result<()> {
        sqlx::query(WRITE)
            .bind(&self.b_group)
            .bind(&self.b_base)
            .bind(&self.b_count)
            .bind(&self.b_data)
            .bind(&self.d_group)
            .bind(&self.d_below)
            .bind(&self.p_group)
            .bind(&self.p_id)
            .bind(&self.p_state)
            .bind(&self.o_group)
            .bind(&self.o_name)
            .bind(&self.o_offset)
            .bind(&self.o_gen)
            .bind(&self.s_group)
            .bind(&self.s_applied)
            .bind(&self.s_membership)
            .bind(&self.s_next)
            .bind(&self.s_start)
            .bind(&self.x_group)
            .bind(&self.x_id)
            .bind(&self.y_group)
            .bind(&self.y_name)
            .execute(db)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}

impl ExtraOp for ApplyWrite {
    fn group(&self) -> Uuid {
        self.group
    }

    fn weight(&self) -> (u64, u64) {
        let bytes: usize = self.batches.iter().map(|b| b.2.len()).sum();
        (1, bytes as u64)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl ExtraLane for ApplyLane {
    fn write<'a>(
        &'a self,
        db: &'a mut PgConnection,
        items: &'a [&'a dyn ExtraOp],
    ) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let mut writes: Vec<&ApplyWrite> = Vec::with_capacity(items.len());
            for op in items {
                match op.as_any().downcast_ref::<ApplyWrite>() {
                    Some(w) => writes.push(w),
                    None => return Err(io::Error::other("not an applied-state write")),
                }
            }
            let writes = &writes[..];
            raftbus_raft::write_levels!(db, writes, |w| w.group, |_, _| false, Level)
        })
    }
}
