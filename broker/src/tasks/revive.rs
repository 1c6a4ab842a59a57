//! `revive`: reopens partition groups that Raft stopped after a storage error.
//!
//! The Raft library treats a failed log or state-machine write as fatal: the group stops and never
//! retries. A broker whose Postgres restarted (or dropped its connections) would otherwise
//! keep those replicas stopped until the process restarts. Every interval this loop reopens
//! each stopped group from what its rows hold, exactly as a broker restart would; while the
//! database is still unreachable the reopen fails and is retried on the next tick.
//!
//! ### To ensure correctness
//! Reopening is a restart of one group: its durable state (vote, log, applied state) is read
//! back from Postgres, and nothing that was not committed there is assumed. The stopped
//! instance is shut down before the new one is registered.

use std::sync::Arc;
use std::time::Duration;

use raftbus_node::tasks::Ticker;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::partition::Registry;

/// How often stopped groups are looked for (a reopen costs a few queries per group).
pub const INTERVAL: Duration = Duration::from_secs(2);

/// Runs until cancelled.
pub async fn run(registry: Arc<Registry>, cancel: CancellationToken) {
    let span = tracing::info_span!("revive", node = registry.node_id());
    async move {
        let mut tick = Ticker::new(INTERVAL, cancel.clone());
        while tick.tick().await {
            for p in registry.all() {
                if !p.is_stopped() {
                    continue;
                }
                match registry.reopen(p.group_id).await {
                    Ok(true) => tracing::info!(partition = %p.name(), "stopped group reopened"),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(partition = %p.name(), error = %e, "reopen failed; retrying")
                    }
                }
            }
        }
    }
    .instrument(span)
    .await
}
