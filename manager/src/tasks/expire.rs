//! `expire`: keeps the managers' state as large as the cluster, not its history.
//!
//! Acts only on the write manager, every `groups.reap_interval_ms`:
//! - proposes `MetaCommand::Reap` (carrying this manager's clock and
//!   `groups.offsets_retention_ms`) when a consumer group has been empty past the retention, an
//!   empty group's age is unknown, or the legacy producer registry holds records; applying it is
//!   deterministic on every manager (`metadata/reap.rs`);
//! - prunes liveness entries of brokers, consumers and partitions the metadata no longer holds
//!   (memory only, never in the log).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::node::{Manager, now_ms};
use crate::raft::MetaCommand;

/// Spawns the loop.
pub fn spawn(
    m: Arc<Manager>,
    every: Duration,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    super::spawn_on_leader(m, "expire", every, cancel, |m| async move {
        expire_once(&m).await
    })
}

async fn expire_once(m: &Manager) {
    let retention = m.settings.groups.offsets_retention_ms;
    let now = now_ms();
    let (due, groups_before) = m.read(|meta| (meta.reap_due(now, retention), meta.groups.len()));
    if due {
        let cmd = MetaCommand::Reap {
            now_ms: now,
            offsets_retention_ms: retention,
        };
        match m.propose(cmd).await {
            Ok(_) => {
                let after = m.read(|meta| meta.groups.len());
                if after < groups_before {
                    tracing::info!(
                        removed = groups_before - after,
                        left = after,
                        "consumer groups empty past the offsets retention removed"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "reap not applied; retrying next tick"),
        }
    }
    // Sets first, then the liveness lock: never both locks at once.
    let (brokers, members, groups) = m.read(|meta| {
        let brokers: HashSet<u64> = meta.brokers.keys().copied().collect();
        let members: HashSet<(String, uuid::Uuid)> = meta
            .groups
            .iter()
            .flat_map(|(name, g)| g.members.keys().map(move |id| (name.clone(), *id)))
            .collect();
        let groups: HashSet<uuid::Uuid> = meta
            .topics
            .values()
            .flat_map(|t| t.partitions.iter().map(|p| p.group_id))
            .collect();
        (brokers, members, groups)
    });
    let pruned = m
        .liveness
        .prune(&brokers, &members, &groups, m.heartbeat_timeout());
    if pruned > 0 {
        tracing::debug!(
            pruned,
            "liveness entries of departed brokers, consumers and partitions pruned"
        );
    }
}
