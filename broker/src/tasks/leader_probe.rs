//! `leader_probe`: notices a dead leader in milliseconds instead of an election timeout.
//!
//! Followers probe the Raft port of every node that leads one of their groups with a plain TCP
//! connect. A *refused* connection is proof that the leader process is gone (its port is
//! closed). A hung or partitioned leader still accepts connections (the kernel answers for a
//! stopped process), so the node-level liveness of [`Peers`] covers it: a broker that answered
//! leadership queries before and has been silent for `peer_timeout_ms` is treated the same way.
//! Then, for each group that node led, every survivor nominates the same successor: the
//! survivor with the longest log (asked through the survivors' status endpoints; ties go to
//! the lowest id, and an unreachable survivor is left out). Each survivor hands the
//! leadership to the nominee with Raft's leadership-transfer path: the nominee campaigns
//! at once and every survivor drops the dead leader's lease, so votes are granted without
//! waiting for it to expire. If the nominee still loses (a log it could not see), the normal
//! election timeout follows, without a lease wait.
//!
//! ### Safety
//! Only the lease wait is skipped; votes still require an up-to-date log and a majority, so at
//! most one leader per term and no committed entry lost. Brokers do not serve lease-based reads,
//! so the lease protects nothing here. A false positive (a broker that stalled for longer than
//! `peer_timeout_ms`) costs one extra election.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use raftbus_node::tasks::Ticker;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use raftbus_protocol::api::PartitionStatus;
use raftbus_protocol::routes;

use crate::partition::{Partition, Registry};
use crate::peers::Peers;
use crate::raft::ServerState;
use raftbus_security::NodeHttp;

/// Runs until cancelled.
pub async fn run(
    registry: Arc<Registry>,
    peers: Arc<Peers>,
    http: NodeHttp,
    every: Duration,
    cancel: CancellationToken,
) {
    let span = tracing::info_span!("leader_probe", node = registry.node_id());
    async move {
        let mut tick = Ticker::new(every, cancel.clone());
        // `(group, term)` already handed over, so one death triggers one transfer per group.
        let mut done: HashSet<(uuid::Uuid, u64)> = HashSet::new();
        while tick.tick().await {
            probe_once(&registry, &peers, &http, every, &mut done).await;
        }
    }
    .instrument(span)
    .await
}

async fn probe_once(
    registry: &Registry,
    peers: &Peers,
    http: &NodeHttp,
    every: Duration,
    done: &mut HashSet<(uuid::Uuid, u64)>,
) {
    let me = registry.node_id();
    // Leader node -> (its raft address, the groups it leads that we follow).
    let mut leaders: BTreeMap<u64, (String, Vec<Arc<Partition>>)> = BTreeMap::new();
    for p in registry.all() {
        // Borrowed, not cloned: this runs for every hosted group several times a second.
        let followed = p.with_metrics(|m| {
            let leader = m
                .current_leader
                .filter(|l| *l != me && m.state == ServerState::Follower)?;
            let node = m.membership_config.membership().get_node(&leader)?;
            Some((leader, node.raft_addr.clone()))
        });
        let Some((leader, addr)) = followed else {
            continue;
        };
        leaders
            .entry(leader)
            .or_insert_with(|| (addr, Vec::new()))
            .1
            .push(p);
    }
    for (leader, (addr, parts)) in leaders {
        let gone = peers.is_silent(leader)
            || match tokio::time::timeout(every, tokio::net::TcpStream::connect(&addr)).await {
                Ok(Err(e)) => e.kind() == std::io::ErrorKind::ConnectionRefused,
                _ => false,
            };
        if !gone {
            continue;
        }
        for p in parts {
            take_over(me, leader, &p, http, done).await;
        }
    }
}

/// Hands leadership of `p`'s group away from the dead `leader` to the nominated survivor.
async fn take_over(
    me: u64,
    leader: u64,
    p: &Partition,
    http: &NodeHttp,
    done: &mut HashSet<(uuid::Uuid, u64)>,
) {
    let m = p.metrics();
    if m.current_leader != Some(leader) || !done.insert((p.group_id, m.current_term)) {
        return;
    }
    let membership = m.membership_config.membership();
    // (last log index, Reverse(id)): longest log first, then lowest id.
    let mut best = (m.last_log_index.unwrap_or(0), std::cmp::Reverse(me));
    for id in membership.voter_ids().filter(|v| *v != leader && *v != me) {
        let Some(node) = membership.get_node(&id) else {
            continue;
        };
        let path = routes::partition(&p.topic, p.partition);
        let status = match http.http.get(http.url(&node.raft_addr, &path)).send().await {
            Ok(r) if r.status().is_success() => r.json::<PartitionStatus>().await.ok(),
            _ => None,
        };
        if let Some(s) = status {
            best = best.max((s.last_log_index.unwrap_or(0), std::cmp::Reverse(id)));
        }
    }
    let successor = best.1.0;
    tracing::info!(
        partition = %p.name(), dead_leader = leader, term = m.current_term, successor,
        "leader's broker is gone or silent: handing leadership over"
    );
    if let Err(e) = p.hand_over(&m, successor).await {
        tracing::warn!(partition = %p.name(), error = %e, "leadership transfer failed");
    }
}
