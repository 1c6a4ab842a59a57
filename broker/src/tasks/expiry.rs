//! `expiry`: partition leaders forget idle idempotent-producer ids.
//!
//! Every `producers.interval_ms`, for each partition this broker leads whose oldest producer
//! may be idle longer than `producers.expiry_ms` (the state machine publishes a lower bound of
//! the producers' last-seen times with its watermarks), the loop proposes one
//! `Command::ExpireProducers` carrying this leader's clock and the setting. Applying it on
//! every replica (`state_machine/expiry.rs`) drops the same producers: last-seen times are
//! the leader clocks carried in the produce entries, never a replica's own clock.
//!
//! A failed tick (not leader any more, timeout) is logged and retried on the next one. A
//! lower bound that turns out stale (the oldest producer wrote again) costs one entry that
//! expires nothing and makes the bound exact again.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::partition::{Partition, Registry};
use crate::raft::{Command, CommandResponse};

/// Runs until cancelled. `timeout` bounds each proposal.
pub async fn run(
    registry: Arc<Registry>,
    expiry: Duration,
    every: Duration,
    timeout: Duration,
    cancel: CancellationToken,
) {
    let span = tracing::info_span!("expiry", node = registry.node_id());
    async move {
        tracing::info!(
            every_ms = every.as_millis() as u64,
            expiry_ms = expiry.as_millis() as u64,
            "started"
        );
        let expiry_ms = expiry.as_millis() as u64;
        super::each_led_partition(
            &registry,
            every,
            &cancel,
            |p| p.marks.borrow().oldest_producer_ms < now_ms().saturating_sub(expiry_ms),
            |p| async move { expire(&p, now_ms(), expiry, timeout).await },
        )
        .await;
        tracing::info!("stopped");
    }
    .instrument(span)
    .await
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Proposes the expiry of `p`'s producers idle since before `now_ms - expiry`.
async fn expire(
    p: &Partition,
    now_ms: u64,
    expiry: Duration,
    timeout: Duration,
) -> Result<(), String> {
    let cmd = Command::ExpireProducers {
        now_ms,
        expiry_ms: expiry.as_millis() as u64,
    };
    let resp = p
        .propose(cmd, timeout)
        .await
        .map_err(|e| format!("expiry: {e}"))?;
    if let CommandResponse::ProducersExpired { expired, remaining } = resp
        && expired > 0
    {
        tracing::info!(partition = %p.name(), expired, remaining, "idle producer ids expired");
    }
    Ok(())
}
