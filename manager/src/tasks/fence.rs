//! `fence`: after a consumer group's generation changes, tells the leader of each of its
//! topic's partitions the new generation, so an offset commit from a member of an older
//! generation is refused even if the new owner has not committed yet.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::node::Manager;

/// Spawns the loop.
pub fn spawn(
    m: Arc<Manager>,
    every: Duration,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let span = tracing::info_span!("fence", node = m.id);
    tokio::spawn(
        async move {
            // Generation already fenced on every partition, per group. In memory: a new write
            // manager fences everything once more, which is harmless (fencing is idempotent).
            let mut fenced: HashMap<String, u64> = HashMap::new();
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tick.tick() => {}
                }
                if !m.is_leader() {
                    fenced.clear();
                    continue;
                }
                fence_once(&m, &mut fenced).await;
            }
        }
        .instrument(span),
    )
}

/// `(group, generation, [(topic, partition, leader address)])` still to fence.
type Pending = Vec<(String, u64, Vec<(String, u32, Option<String>)>)>;

async fn fence_once(m: &Manager, fenced: &mut HashMap<String, u64>) {
    let pending: Pending = m.read(|meta| {
        // Groups reaped since (see `tasks::expire`) need no more fencing: keep the map as
        // large as the metadata's groups.
        fenced.retain(|name, _| meta.groups.contains_key(name));
        meta.groups
            .iter()
            .filter(|(name, g)| fenced.get(*name).is_none_or(|f| *f < g.generation))
            .filter_map(|(name, g)| {
                let t = meta.topics.get(&g.topic)?;
                let parts = t
                    .partitions
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        (
                            g.topic.clone(),
                            i as u32,
                            p.leader.and_then(|l| meta.raft_addr(l)).map(str::to_string),
                        )
                    })
                    .collect();
                Some((name.clone(), g.generation, parts))
            })
            .collect()
    });
    for (group, generation, parts) in pending {
        let mut all = true;
        for (topic, partition, addr) in parts {
            let Some(addr) = addr else {
                all = false;
                continue;
            };
            let path = format!("/v1/partitions/{topic}/{partition}/offsets/{group}/fence");
            let r = m
                .brokers
                .http
                .post(m.brokers.url(&addr, &path))
                .timeout(Duration::from_secs(5))
                .json(&serde_json::json!({ "generation": generation }))
                .send()
                .await;
            if !r.is_ok_and(|r| r.status().is_success()) {
                all = false;
            }
        }
        if all {
            tracing::debug!(%group, generation, "group fenced on all partitions");
            fenced.insert(group, generation);
        }
    }
}
