//! Every SQL statement about a hosted group outside its state machine's record path: the
//! registry's rows, retention's look-ups, and deleting a group for good. The record path
//! itself (Raft log, applied state) goes through the shared writers (`storage/mod.rs`); reads
//! and snapshots of the partition tables stay with the state machine (`state_machine/`).

use raftbus_protocol::retention::{MAX_RETENTION_MS, Retention};
use sqlx::PgPool;
use uuid::Uuid;

use super::Storage;

/// Every table holding rows of a group, the Raft tables included: deleting a group deletes
/// from all of them, in one transaction.
const GROUP_TABLES: [&str; 10] = [
    "partition_groups",
    "sm_state",
    "partition_batches",
    "producer_state",
    "consumer_offsets",
    "partition_snapshot",
    "raft_log",
    "raft_vote",
    "raft_log_meta",
    "raft_snapshot_frames",
];

/// A hosted group as recorded: `(group, topic, partition, members as JSON)`.
pub type GroupRow = (Uuid, String, i32, serde_json::Value);

/// Every group this broker hosts (reopened at start-up).
pub async fn list(db: &PgPool) -> Result<Vec<GroupRow>, sqlx::Error> {
    sqlx::query_as("SELECT group_id, topic, partition, members FROM partition_groups")
        .fetch_all(db)
        .await
}

/// Records a newly hosted group.
pub async fn insert(
    db: &PgPool,
    group: Uuid,
    topic: &str,
    partition: u32,
    members: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO partition_groups (group_id, topic, partition, members) VALUES ($1, $2, $3, $4)",
    )
    .bind(group)
    .bind(topic)
    .bind(partition as i32)
    .bind(members)
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes every row of a stopped group in one transaction, after the shared writers
/// processed what the group had queued (a late write must not land after the delete).
pub async fn delete(storage: &Storage, group: Uuid) -> Result<(), sqlx::Error> {
    storage.flush().await;
    let mut tx = storage.db.begin().await?;
    for table in GROUP_TABLES {
        sqlx::query(&format!("DELETE FROM {table} WHERE group_id = $1"))
            .bind(group)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// A write that changes nothing: succeeds only when the database takes writes.
pub async fn probe_write(db: &PgPool, group: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE partition_groups SET topic = topic WHERE group_id = $1")
        .bind(group)
        .execute(db)
        .await?;
    Ok(())
}

/// The log start offset the limits ask for: a batch boundary, or `high_watermark` when every
/// stored batch is due. Only applied batches (below `high_watermark`) are considered.
pub async fn retention_start(
    db: &PgPool,
    group: Uuid,
    high_watermark: u64,
    limits: Retention,
) -> Result<u64, sqlx::Error> {
    let hw = high_watermark as i64;
    let mut to = 0u64;
    if let Some(ms) = limits.max_age_ms {
        let first_young: Option<(i64,)> = sqlx::query_as(
            "SELECT base_offset FROM partition_batches \
             WHERE group_id = $1 AND base_offset < $2 \
               AND created_at >= now() - $3::bigint * interval '1 millisecond' \
             ORDER BY base_offset LIMIT 1",
        )
        .bind(group)
        .bind(hw)
        // Managers refuse larger values; a topic stored before they did keeps working.
        .bind(i64::try_from(ms).unwrap_or(i64::MAX).min(MAX_RETENTION_MS))
        .fetch_optional(db)
        .await?;
        to = to.max(first_young.map_or(high_watermark, |(b,)| b as u64));
    }
    if let Some(bytes) = limits.max_bytes {
        // Running total of batch sizes from the newest backwards; the oldest batch whose total
        // still fits is the first one kept.
        let first_kept: Option<(i64,)> = sqlx::query_as(
            "SELECT base_offset FROM ( \
               SELECT base_offset, \
                      SUM(octet_length(data)) OVER (ORDER BY base_offset DESC) AS newer_bytes \
               FROM partition_batches WHERE group_id = $1 AND base_offset < $2) sized \
             WHERE newer_bytes <= $3 ORDER BY base_offset LIMIT 1",
        )
        .bind(group)
        .bind(hw)
        .bind(i64::try_from(bytes).unwrap_or(i64::MAX))
        .fetch_optional(db)
        .await?;
        to = to.max(first_kept.map_or(high_watermark, |(b,)| b as u64));
    }
    Ok(to)
}
