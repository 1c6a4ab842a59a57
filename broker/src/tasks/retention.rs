//! `retention`: partition leaders enforce their topics' retention.
//!
//! The managers' heartbeat replies carry each hosted partition's effective retention
//! ([`RetentionPolicies`]). Every `retention.interval_ms`, for each partition this broker
//! leads with a limit, the loop picks the new log start offset from the stored batches:
//! - by age: the first batch appended (`created_at` on the leader) within `max_age_ms`;
//! - by size: the oldest batch such that it and every newer batch fit in `max_bytes`;
//!
//! and takes the larger of the two. Both are batch boundaries, so only whole batches go. When
//! it is above the current log start, the loop proposes one `Command::Trim` through the
//! group's Raft log; applying it (on every replica) deletes the batches and stores the new log
//! start offset (`state_machine/trim.rs`). Nothing is deleted outside the log, so replicas never
//! disagree about what is stored.
//!
//! A failed tick (not leader any more, database error, timeout) is logged and retried on the
//! next one; the decision is recomputed from scratch each time, so nothing is lost by it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use raftbus_protocol::retention::Retention;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::partition::{Partition, Registry};
use crate::raft::{Command, CommandResponse};

/// Effective retention per hosted group, as the last heartbeat reply gave it. Groups the
/// managers never mentioned (brokers without managers) have no limit.
#[derive(Clone, Default)]
pub struct RetentionPolicies {
    /// Lock held only for map operations, never across an `.await`.
    inner: Arc<RwLock<HashMap<Uuid, Retention>>>,
}

impl RetentionPolicies {
    /// Replaces every policy with those of a complete heartbeat reply.
    pub fn replace(&self, policies: impl Iterator<Item = (Uuid, Retention)>) {
        let map: HashMap<Uuid, Retention> = policies.collect();
        *self.inner.write().expect("retention lock") = map;
    }

    /// The limits of `group` (unlimited when unknown).
    pub fn get(&self, group: Uuid) -> Retention {
        self.inner
            .read()
            .expect("retention lock")
            .get(&group)
            .copied()
            .unwrap_or_default()
    }
}

/// Runs until cancelled. `timeout` bounds each proposal.
pub async fn run(
    registry: Arc<Registry>,
    policies: RetentionPolicies,
    every: Duration,
    timeout: Duration,
    cancel: CancellationToken,
) {
    let span = tracing::info_span!("retention", node = registry.node_id());
    async move {
        tracing::info!(every_ms = every.as_millis() as u64, "started");
        super::each_led_partition(
            &registry,
            every,
            &cancel,
            |p| !policies.get(p.group_id).is_unlimited(),
            |p| {
                let (db, limits) = (registry.db(), policies.get(p.group_id));
                async move { enforce(db, &p, limits, timeout).await }
            },
        )
        .await;
        tracing::info!("stopped");
    }
    .instrument(span)
    .await
}

/// Proposes a trim of `p` when its limits say batches are due.
async fn enforce(
    db: &PgPool,
    p: &Partition,
    limits: Retention,
    timeout: Duration,
) -> Result<(), String> {
    let marks = *p.marks.borrow();
    // Only stored batches are looked at, so only stored offsets may be decided on: above
    // `persisted_end` the rows are just not written yet, and "no young batch" there would
    // trim records a moment old.
    let stored_end = p.unpersisted.persisted_end().min(marks.next_offset);
    let to = crate::storage::group::retention_start(db, p.group_id, stored_end, limits)
        .await
        .map_err(|e| e.to_string())?;
    if to <= marks.log_start_offset {
        return Ok(());
    }
    let cmd = Command::Trim {
        log_start_offset: to,
    };
    let resp = p
        .propose(cmd, timeout)
        .await
        .map_err(|e| format!("trim: {e}"))?;
    if let CommandResponse::Trimmed { log_start_offset } = resp {
        tracing::info!(
            partition = %p.name(),
            from = marks.log_start_offset,
            to = log_start_offset,
            log_end_offset = marks.next_offset,
            "retention: log start offset moved"
        );
    }
    Ok(())
}
