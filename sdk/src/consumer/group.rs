//! Group membership: the heartbeat loop that keeps this consumer in its group and publishes
//! assignment changes (new generation, new partitions) to `poll`.

use std::time::Duration;

use raftbus_protocol::meta::{ConsumerAssignment, ConsumerHeartbeat};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::Admin;

/// Heartbeats every `every`; sends each new assignment on `tx`. A heartbeat that finds this
/// consumer gone (timed out) rejoins, which the managers answer with a fresh assignment.
pub(super) async fn heartbeat(
    admin: Admin,
    hb: ConsumerHeartbeat,
    every: Duration,
    tx: watch::Sender<ConsumerAssignment>,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        match admin.consumer_heartbeat(&hb).await {
            Ok(a) => {
                tx.send_if_modified(|cur| {
                    let changed = *cur != a;
                    *cur = a;
                    changed
                });
            }
            Err(e) => tracing::debug!(error = %e, group = %hb.group, "consumer heartbeat failed"),
        }
    }
}
