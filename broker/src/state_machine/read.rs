//! Reads of applied partition data, for fetch and offset requests.

use bytes::Bytes;
use futures::TryStreamExt;
use sqlx::PgPool;
use uuid::Uuid;

use super::state::CommittedOffset;
use super::unpersisted::{StoredBatch, Unpersisted};

/// Batches holding offsets `>= from` and below `high_watermark`, as [`read_batches`], from
/// `partition_batches` and, above what the applied-state writer has committed, from the
/// replica's [`Unpersisted`] batches: the high watermark moves as soon as entries are applied.
pub async fn read_committed(
    db: &PgPool,
    group: Uuid,
    pending: &Unpersisted,
    from: u64,
    high_watermark: u64,
    max_bytes: u64,
) -> Result<Vec<StoredBatch>, sqlx::Error> {
    // Taken before the database read: a batch persisted meanwhile is still in `memory`.
    let (persisted_end, memory) = pending.view(from, high_watermark);
    let stored_below = persisted_end.min(high_watermark);
    let mut out = if from < stored_below {
        read_batches(db, group, from, stored_below, max_bytes).await?
    } else {
        Vec::new()
    };
    let mut bytes: u64 = out.iter().map(|b| b.2.len() as u64).sum();
    for b in memory {
        if bytes >= max_bytes {
            break;
        }
        // The database read stopped at `persisted_end`, where `memory` starts: no overlap.
        bytes += b.2.len() as u64;
        out.push(b);
    }
    Ok(out)
}

/// Batches holding offsets `>= from` and below `high_watermark`, in offset order, stopping
/// once `max_bytes` is reached (at least one batch is returned when any exists). The first
/// batch may start before `from`: batches are returned whole.
pub async fn read_batches(
    db: &PgPool,
    group: Uuid,
    from: u64,
    high_watermark: u64,
    max_bytes: u64,
) -> Result<Vec<(u64, u32, Bytes)>, sqlx::Error> {
    let mut rows = sqlx::query_as::<_, (i64, i32, Vec<u8>)>(
        "SELECT base_offset, record_count, data FROM partition_batches \
         WHERE group_id = $1 AND base_offset < $3 AND base_offset >= COALESCE( \
           (SELECT base_offset FROM partition_batches WHERE group_id = $1 AND base_offset <= $2 \
            ORDER BY base_offset DESC LIMIT 1), $2) \
         ORDER BY base_offset",
    )
    .bind(group)
    .bind(from as i64)
    .bind(high_watermark as i64)
    .fetch(db);
    let mut out = Vec::new();
    let mut bytes = 0u64;
    while let Some((base, count, data)) = rows.try_next().await? {
        bytes += data.len() as u64;
        out.push((base as u64, count as u32, Bytes::from(data)));
        if bytes >= max_bytes {
            break;
        }
    }
    Ok(out)
}

/// A consumer group's committed offset and generation on a partition (the offset is `None`
/// when the group was fenced but never committed).
pub async fn read_offset(
    db: &PgPool,
    group: Uuid,
    consumer_group: &str,
) -> Result<Option<CommittedOffset>, sqlx::Error> {
    let row: Option<(Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT committed_offset, generation FROM consumer_offsets WHERE group_id = $1 AND consumer_group = $2",
    )
    .bind(group)
    .bind(consumer_group)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(o, g)| CommittedOffset {
        offset: o.map(|o| o as u64),
        generation: g.map(|g| g as u64),
    }))
}
