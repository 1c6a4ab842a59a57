//! Partition snapshots.
//!
//! Building a snapshot copies only the small state (watermarks, producer state, committed
//! offsets) with the snapshot's meta into `partition_snapshot`. The records it covers are the
//! batches below its `next_offset`, which never change once applied, so they are read from
//! `partition_batches` only when the snapshot is actually sent to a lagging replica: building
//! stays O(producers + groups), not O(partition size).
//!
//! ### To ensure correctness
//! - The log start offset travels in the head. Batches trimmed by retention after the head was
//!   stored are simply absent when the snapshot is sent, and the sent head's log start is
//!   raised to the first batch it carries, so a rebuilt replica never claims an offset it
//!   lacks; the `Trim` entry that deleted them follows the snapshot in the log.
//! - Installing a snapshot replaces the partition's rows, `sm_state` and the current snapshot
//!   in one transaction: a crash never leaves a half-installed replica.

use std::io::{self, Cursor};

use bytes::Bytes;
use openraft::RaftSnapshotBuilder;
use openraft::storage::Snapshot;
use openraft::type_config::alias::{SnapshotMetaOf, SnapshotOf};
use raftbus_raft::codec::{db_err, decode, encode};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use super::state::{CommittedOffset, PartitionState, ProducerState};
use super::{save_offsets, save_producers, save_sm_state};
use crate::raft::TypeConfig;

type Meta = SnapshotMetaOf<TypeConfig>;

/// The small part of a snapshot, stored when it is built.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SnapshotHead {
    next_offset: u64,
    log_start_offset: u64,
    producers: Vec<(Uuid, ProducerState)>,
    offsets: Vec<(String, CommittedOffset)>,
}

/// What travels to a replica: the head plus every stored batch it covers.
#[derive(Debug, Serialize, Deserialize)]
struct SnapshotBody {
    head: SnapshotHead,
    /// `(base_offset, record_count, batch)` in offset order.
    batches: Vec<(u64, u32, Bytes)>,
    /// When each batch was appended (ms since the epoch, parallel to `batches`), so retention
    /// by age keeps counting from the original append on a replica rebuilt from a snapshot.
    /// Empty in snapshots from brokers that did not send it: the install time is used then.
    #[serde(default)]
    appended_ms: Vec<i64>,
}

/// Captures the state at the moment openraft asks for a snapshot.
pub struct PartitionSnapshotBuilder {
    db: PgPool,
    group: Uuid,
    meta: Meta,
    head: SnapshotHead,
}

impl PartitionSnapshotBuilder {
    pub(super) fn new(db: PgPool, group: Uuid, s: &PartitionState) -> Self {
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
        }
    }
}

impl RaftSnapshotBuilder<TypeConfig> for PartitionSnapshotBuilder {
    type SnapshotData = Cursor<Vec<u8>>;

    async fn build_snapshot(
        &mut self,
    ) -> Result<SnapshotOf<TypeConfig, Self::SnapshotData>, io::Error> {
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
        let data = materialize(&self.db, self.group, self.head.clone()).await?;
        Ok(Snapshot {
            meta: self.meta.clone(),
            snapshot: Cursor::new(data),
        })
    }
}

/// Reads the batches a snapshot covers and encodes the full snapshot.
async fn materialize(db: &PgPool, group: Uuid, head: SnapshotHead) -> io::Result<Vec<u8>> {
    let rows: Vec<(i64, i32, Vec<u8>, i64)> = sqlx::query_as(
        "SELECT base_offset, record_count, data, \
                (extract(epoch FROM created_at) * 1000)::bigint FROM partition_batches \
         WHERE group_id = $1 AND base_offset >= $2 AND base_offset < $3 ORDER BY base_offset",
    )
    .bind(group)
    .bind(head.log_start_offset as i64)
    .bind(head.next_offset as i64)
    .fetch_all(db)
    .await
    .map_err(db_err)?;
    let appended_ms: Vec<i64> = rows.iter().map(|r| r.3).collect();
    let batches: Vec<(u64, u32, Bytes)> = rows
        .into_iter()
        .map(|(b, c, d, _)| (b as u64, c as u32, Bytes::from(d)))
        .collect();
    // Retention may have trimmed batches since the head was stored (a later `Trim` entry,
    // which the receiver applies after the snapshot anyway). Never claim records the body does
    // not carry: the log start becomes the first batch sent (or the end, if none is left).
    let mut head = head;
    let first = batches.first().map_or(head.next_offset, |b| b.0);
    head.log_start_offset = head.log_start_offset.max(first);
    encode(&SnapshotBody {
        head,
        batches,
        appended_ms,
    })
}

/// The current snapshot of `group`, if one was built or installed.
pub(super) async fn current(
    db: &PgPool,
    group: Uuid,
) -> io::Result<Option<SnapshotOf<TypeConfig, Cursor<Vec<u8>>>>> {
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
    let data = materialize(db, group, decode(&head)?).await?;
    Ok(Some(Snapshot {
        meta,
        snapshot: Cursor::new(data),
    }))
}

/// Replaces the partition's state with a received snapshot, atomically.
pub(super) async fn install(
    db: &PgPool,
    group: Uuid,
    meta: &Meta,
    data: Vec<u8>,
) -> io::Result<PartitionState> {
    let body: SnapshotBody = decode(&data)?;
    let state = PartitionState {
        last_applied: meta.last_log_id,
        membership: meta.last_membership.clone(),
        next_offset: body.head.next_offset,
        log_start_offset: body.head.log_start_offset,
        producers: body.head.producers.iter().cloned().collect(),
        offsets: body.head.offsets.iter().cloned().collect(),
        oldest_seen_ms: super::expiry::oldest_seen(body.head.producers.iter().map(|p| &p.1)),
    };
    let mut tx = db.begin().await.map_err(db_err)?;
    for table in ["partition_batches", "producer_state", "consumer_offsets"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE group_id = $1"))
            .bind(group)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    if !body.batches.is_empty() {
        let bases: Vec<i64> = body.batches.iter().map(|b| b.0 as i64).collect();
        let counts: Vec<i32> = body.batches.iter().map(|b| b.1 as i32).collect();
        let data: Vec<&[u8]> = body.batches.iter().map(|b| b.2.as_ref()).collect();
        // NULL (now()) for every batch when the sender did not include append times.
        let appended: Vec<Option<i64>> = match body.appended_ms.len() == body.batches.len() {
            true => body.appended_ms.iter().copied().map(Some).collect(),
            false => vec![None; body.batches.len()],
        };
        sqlx::query(
            "INSERT INTO partition_batches (group_id, base_offset, record_count, data, created_at) \
             SELECT $1, b, c, d, coalesce(to_timestamp(ms / 1000.0), now()) \
             FROM UNNEST($2::bigint[], $3::int[], $4::bytea[], $5::bigint[]) AS u(b, c, d, ms)",
        )
        .bind(group)
        .bind(&bases)
        .bind(&counts)
        .bind(&data)
        .bind(&appended)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    let producers: Vec<(Uuid, &ProducerState)> =
        body.head.producers.iter().map(|(k, v)| (*k, v)).collect();
    save_producers(&mut tx, group, &producers).await?;
    let offsets: Vec<(&String, &CommittedOffset)> =
        body.head.offsets.iter().map(|(k, v)| (k, v)).collect();
    save_offsets(&mut tx, group, &offsets).await?;
    save_sm_state(&mut tx, group, &state).await?;
    sqlx::query(
        "INSERT INTO partition_snapshot (group_id, meta, head) VALUES ($1, $2, $3) \
         ON CONFLICT (group_id) DO UPDATE SET meta = EXCLUDED.meta, head = EXCLUDED.head",
    )
    .bind(group)
    .bind(encode(meta)?)
    .bind(encode(&body.head)?)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    Ok(state)
}
