//! Partition snapshots.
//!
//! Building a snapshot copies only the small state (watermarks, producer state, committed
//! offsets) with the snapshot's meta into `partition_snapshot`. The records it covers are the
//! batches below its `next_offset`, which never change once applied, so they are read from
//! `partition_batches` only while the snapshot is sent to a lagging replica, a frame at a time
//! (`frames.rs`): building stays O(producers + groups), not O(partition size), and neither the
//! sender nor the receiver ever holds more than a frame of records.
//!
//! ### To ensure correctness
//! - The log start offset travels in the head. Batches trimmed by retention after the head was
//!   stored are simply absent when the snapshot is sent; the receiver raises its log start to
//!   the first batch it gets, so a rebuilt replica never claims an offset it lacks. Retention
//!   only deletes through `Trim` entries, and one that deleted rows after the head was stored
//!   comes after the snapshot in the log, so the receiver applies it next and ends up with the
//!   same rows even if pages were read on both sides of the trim.
//! - Installing a snapshot replaces the partition's rows, `sm_state` and the current snapshot,
//!   and deletes the staged frames, in one transaction: a crash never leaves a half-installed
//!   replica.

mod frames;

use std::io;

use futures::TryStreamExt;
use raftbus_raft::SnapshotData;
use raftbus_raft::codec::{db_err, decode, encode};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::state::{CommittedOffset, PartitionState, ProducerState};
use super::{save_offsets, save_producers, save_sm_state};
use crate::raft::{RaftSnapshotBuilder, Snapshot, SnapshotMeta, SnapshotOf, TypeConfig};
use frames::Frame;

type Meta = SnapshotMeta;

/// The small part of a snapshot, stored when it is built.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SnapshotHead {
    next_offset: u64,
    log_start_offset: u64,
    producers: Vec<(Uuid, ProducerState)>,
    offsets: Vec<(String, CommittedOffset)>,
}

/// Captures the state at the moment Raft asks for a snapshot.
pub struct PartitionSnapshotBuilder {
    db: PgPool,
    group: Uuid,
    meta: Meta,
    head: SnapshotHead,
    frame_bytes: usize,
}

impl PartitionSnapshotBuilder {
    pub(super) fn new(db: PgPool, group: Uuid, s: &PartitionState, frame_bytes: usize) -> Self {
        let meta = Meta {
            last_log_id: s.last_applied,
            last_membership: s.membership.clone(),
        };
        let head = SnapshotHead {
            next_offset: s.next_offset,
            log_start_offset: s.log_start_offset,
            producers: s.producers.iter().map(|(k, v)| (*k, v.clone())).collect(),
            offsets: s.offsets.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        };
        Self {
            db,
            group,
            meta,
            head,
            frame_bytes,
        }
    }
}

impl RaftSnapshotBuilder<TypeConfig> for PartitionSnapshotBuilder {
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> Result<SnapshotOf<SnapshotData>, io::Error> {
        sqlx::query(
            "INSERT INTO partition_snapshot (group_id, meta, head) VALUES ($1, $2, $3) \
             ON CONFLICT (group_id) DO UPDATE SET meta = EXCLUDED.meta, head = EXCLUDED.head",
        )
        .bind(self.group)
        .bind(encode(&self.meta)?)
        .bind(encode(&self.head)?)
        .execute(&self.db)
        .await
        .map_err(db_err)?;
        let frames = frames::send(
            self.db.clone(),
            self.group,
            self.head.clone(),
            self.frame_bytes,
        );
        Ok(Snapshot {
            meta: self.meta.clone(),
            snapshot: SnapshotData::Frames(frames),
        })
    }
}

/// The current snapshot of `group`, if one was built or installed; its records are read
/// only as its frames are consumed.
pub(super) async fn current(
    db: &PgPool,
    group: Uuid,
    frame_bytes: usize,
) -> io::Result<Option<SnapshotOf<SnapshotData>>> {
    let row: Option<(Vec<u8>, Vec<u8>)> =
        sqlx::query_as("SELECT meta, head FROM partition_snapshot WHERE group_id = $1")
            .bind(group)
            .fetch_optional(db)
            .await
            .map_err(db_err)?;
    let Some((meta, head)) = row else {
        return Ok(None);
    };
    let meta: Meta = decode(&meta)?;
    let frames = frames::send(db.clone(), group, decode(&head)?, frame_bytes);
    Ok(Some(Snapshot {
        meta,
        snapshot: SnapshotData::Frames(frames),
    }))
}

/// Replaces the partition's state with a received snapshot, atomically, reading its frames
/// one at a time.
pub(super) async fn install(
    db: &PgPool,
    group: Uuid,
    meta: &Meta,
    data: SnapshotData,
) -> io::Result<PartitionState> {
    let mut frames = data.into_frames();
    let invalid = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let (next_offset, mut log_start_offset) = match frames.try_next().await? {
        Some(f) => match decode::<Frame>(&f)? {
            Frame::Head {
                next_offset,
                log_start_offset,
            } => (next_offset, log_start_offset),
            _ => return Err(invalid("snapshot does not start with its head")),
        },
        None => return Err(invalid("empty snapshot")),
    };
    let mut tx = db.begin().await.map_err(db_err)?;
    for table in ["partition_batches", "producer_state", "consumer_offsets"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE group_id = $1"))
            .bind(group)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    let mut producers = Vec::new();
    let mut offsets = Vec::new();
    let mut first_batch = None;
    while let Some(f) = frames.try_next().await? {
        match decode::<Frame>(&f)? {
            Frame::Head { .. } => return Err(invalid("snapshot has a second head")),
            Frame::Producers(p) => producers.extend(p),
            Frame::Offsets(o) => offsets.extend(o),
            Frame::Batches(b) => {
                first_batch = first_batch.or(b.first().map(|b| b.0));
                insert_batches(&mut tx, group, &b).await?;
            }
        }
    }
    // Never claim records the snapshot did not carry (see the module docs).
    log_start_offset = log_start_offset.max(first_batch.unwrap_or(next_offset));
    let state = PartitionState {
        last_applied: meta.last_log_id,
        membership: meta.last_membership.clone(),
        next_offset,
        log_start_offset,
        producers: producers.iter().cloned().collect(),
        offsets: offsets.iter().cloned().collect(),
        oldest_seen_ms: super::expiry::oldest_seen(producers.iter().map(|p| &p.1)),
    };
    let refs: Vec<(Uuid, &ProducerState)> = producers.iter().map(|(k, v)| (*k, v)).collect();
    save_producers(&mut tx, group, &refs).await?;
    let refs: Vec<(&String, &CommittedOffset)> = offsets.iter().map(|(k, v)| (k, v)).collect();
    save_offsets(&mut tx, group, &refs).await?;
    save_sm_state(&mut tx, group, &state).await?;
    let head = SnapshotHead {
        next_offset,
        log_start_offset,
        producers,
        offsets,
    };
    sqlx::query(
        "INSERT INTO partition_snapshot (group_id, meta, head) VALUES ($1, $2, $3) \
         ON CONFLICT (group_id) DO UPDATE SET meta = EXCLUDED.meta, head = EXCLUDED.head",
    )
    .bind(group)
    .bind(encode(meta)?)
    .bind(encode(&head)?)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    raftbus_raft::snapshot::discard(&mut *tx, group).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(state)
}

/// Inserts one frame's batches, keeping their original append times.
async fn insert_batches(
    tx: &mut Transaction<'_, Postgres>,
    group: Uuid,
    batches: &[(u64, u32, i64, bytes::Bytes)],
) -> io::Result<()> {
    if batches.is_empty() {
        return Ok(());
    }
    let bases: Vec<i64> = batches.iter().map(|b| b.0 as i64).collect();
    let counts: Vec<i32> = batches.iter().map(|b| b.1 as i32).collect();
    let appended: Vec<i64> = batches.iter().map(|b| b.2).collect();
    let data: Vec<&[u8]> = batches.iter().map(|b| b.3.as_ref()).collect();
    sqlx::query(
        "INSERT INTO partition_batches (group_id, base_offset, record_count, data, created_at) \
         SELECT $1, b, c, d, to_timestamp(ms / 1000.0) \
         FROM UNNEST($2::bigint[], $3::int[], $4::bytea[], $5::bigint[]) AS u(b, c, d, ms)",
    )
    .bind(group)
    .bind(&bases)
    .bind(&counts)
    .bind(&data)
    .bind(&appended)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}
