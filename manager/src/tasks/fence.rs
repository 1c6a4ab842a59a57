//! `fence`: after a consumer group's generation changes, tells the leader of each of its
//! topic's partitions the new generation, so an offset commit from a member of an older
//! generation is refused even if the new owner has not committed yet.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use raftbus_node::tasks::Ticker;
use raftbus_protocol::api::FenceRequest;
use raftbus_protocol::routes;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::metadata::ClusterMeta;
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
            let mut tick = Ticker::new(every, cancel.clone());
            while tick.tick().await {
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

/// `(topic, partition, leader's internal address)` of each partition of a topic.
pub(super) type Parts = Vec<(String, u32, Option<String>)>;

/// `(group, generation, partitions)` still to fence.
type Pending = Vec<(String, u64, Parts)>;

/// The partitions of `topic` with their leaders' internal addresses.
pub(super) fn parts(meta: &ClusterMeta, topic: &str) -> Option<Parts> {
    let t = meta.topics.get(topic)?;
    Some(
        t.partitions
            .iter()
            .enumerate()
            .map(|(i, p)| {
                (
                    topic.to_string(),
                    i as u32,
                    p.leader.and_then(|l| meta.raft_addr(l)).map(str::to_string),
                )
            })
            .collect(),
    )
}

/// Fences `group` at `generation` on every partition leader in `parts` (with `drop`: asks
/// them to forget the removed group instead). True when every leader took it.
pub(super) async fn push(
    m: &Manager,
    group: &str,
    generation: u64,
    drop: bool,
    parts: Parts,
) -> bool {
    let mut all = true;
    for (topic, partition, addr) in parts {
        let Some(addr) = addr else {
            all = false;
            continue;
        };
        let path = routes::partition_fence(&topic, partition, group);
        let body = FenceRequest { generation, drop };
        let r = m
            .brokers
            .http
            .post(m.brokers.url(&addr, &path))
            .timeout(Duration::from_secs(5))
            .json(&body)
            .send()
            .await;
        if !r.is_ok_and(|r| r.status().is_success()) {
            all = false;
        }
    }
    all
}

async fn fence_once(m: &Manager, fenced: &mut HashMap<String, u64>) {
    let pending: Pending = m.read(|meta| {
        // Groups reaped since (see `tasks::expire`) need no more fencing: keep the map as
        // large as the metadata's groups.
        fenced.retain(|name, _| meta.groups.contains_key(name));
        meta.groups
            .iter()
            .filter(|(name, g)| fenced.get(*name).is_none_or(|f| *f < g.generation))
            .filter_map(|(name, g)| Some((name.clone(), g.generation, parts(meta, &g.topic)?)))
            .collect()
    });
    for (group, generation, parts) in pending {
        if push(m, &group, generation, false, parts).await {
            tracing::debug!(%group, generation, "group fenced on all partitions");
            fenced.insert(group, generation);
        }
    }
}
