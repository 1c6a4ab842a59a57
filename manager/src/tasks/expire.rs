//! `expire`: keeps the managers' state as large as the cluster, not its history.
//!
//! Acts only on the write manager, every `groups.reap_interval_ms`:
//! - proposes `MetaCommand::Reap` (carrying this manager's clock and
//!   `groups.offsets_retention_ms`) when a consumer group has been empty past the retention, an
//!   empty group's age is unknown, or the legacy producer registry holds records; applying it is
//!   deterministic on every manager (`metadata/reap.rs`);
//! - then asks the leaders of each removed group's partitions to forget its offset and fence
//!   (`Command::DropGroup` on the partitions, guarded by the removed generation so a group
//!   re-created since keeps its rows), retrying failures on the next ticks. That list is in
//!   memory: after a write-manager change the rows of groups removed just before stay;
//! - prunes liveness entries of brokers, consumers and partitions the metadata no longer holds
//!   (memory only, never in the log).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
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
    // Removed groups whose partitions may still hold their offsets. The lock is never held
    // across an `.await`.
    let drops: Arc<Mutex<Vec<Removed>>> = Arc::default();
    super::spawn_on_leader(m, "expire", every, cancel, move |m| {
        let drops = drops.clone();
        async move { expire_once(&m, &drops).await }
    })
}

/// `(group, topic, last generation)` of a removed consumer group.
type Removed = (String, String, u64);

async fn expire_once(m: &Manager, drops: &Mutex<Vec<Removed>>) {
    let retention = m.settings.groups.offsets_retention_ms;
    let now = now_ms();
    let (due, removed) = m.read(|meta| {
        let due = meta.reap_due(now, retention);
        (due, meta.reapable(now, retention))
    });
    if due {
        let cmd = MetaCommand::Reap {
            now_ms: now,
            offsets_retention_ms: retention,
        };
        match m.propose(cmd).await {
            Ok(_) if !removed.is_empty() => {
                tracing::info!(
                    removed = removed.len(),
                    "consumer groups empty past the offsets retention removed"
                );
                drops.lock().expect("drops lock").extend(removed);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reap not applied; retrying next tick"),
        }
    }
    let todo = std::mem::take(&mut *drops.lock().expect("drops lock"));
    let mut failed = Vec::new();
    for (group, topic, generation) in todo {
        // A deleted topic's partitions are gone with their offsets.
        let Some(parts) = m.read(|meta| super::fence::parts(meta, &topic)) else {
            continue;
        };
        if !super::fence::push(m, &group, generation, true, parts).await {
            failed.push((group, topic, generation));
        }
    }
    if !failed.is_empty() {
        tracing::debug!(
            groups = failed.len(),
            "removed groups' offsets not dropped everywhere yet; retrying next tick"
        );
        drops.lock().expect("drops lock").extend(failed);
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
