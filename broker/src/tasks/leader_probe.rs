//! `leader_probe`: notices a dead leader in milliseconds instead of an election timeout.
//!
//! Followers probe the Raft port of every node that leads one of their groups with a plain TCP
//! connect. A *refused* connection is proof that the leader process is gone (its port is
//! closed; a hung or partitioned leader times out instead and is left to the election timeout).
//! Then, for each group that node led, the surviving voter with the lowest id hands the
//! leadership to itself with openraft's leadership-transfer path: it votes for itself at once,
//! and voters grant the vote without waiting for the dead leader's lease to expire.
//!
//! ### Safety
//! Only the lease wait is skipped; votes still require an up-to-date log and a majority, so at
//! most one leader per term and no committed entry lost. Brokers do not serve lease-based reads,
//! so the lease protects nothing here. A false positive costs one extra election.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use openraft::ServerState;
use openraft::async_runtime::WatchReceiver;
use openraft::raft::TransferLeaderRequest;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::partition::{Partition, Registry};

/// Runs until cancelled.
pub async fn run(registry: Arc<Registry>, every: Duration, cancel: CancellationToken) {
    let span = tracing::info_span!("leader_probe", node = registry.node_id());
    async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // `(group, term)` already handed over, so one death triggers one transfer per group.
        let mut done: HashSet<(uuid::Uuid, u64)> = HashSet::new();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            probe_once(&registry, every, &mut done).await;
        }
    }
    .instrument(span)
    .await
}

async fn probe_once(registry: &Registry, every: Duration, done: &mut HashSet<(uuid::Uuid, u64)>) {
    let me = registry.node_id();
    // Leader node -> (its raft address, the groups it leads that we follow).
    let mut leaders: BTreeMap<u64, (String, Vec<Arc<Partition>>)> = BTreeMap::new();
    for p in registry.all() {
        let m = p.raft.metrics().borrow_watched().clone();
        let Some(leader) = m
            .current_leader
            .filter(|l| *l != me && m.state == ServerState::Follower)
        else {
            continue;
        };
        let Some(node) = m.membership_config.membership().get_node(&leader) else {
            continue;
        };
        leaders
            .entry(leader)
            .or_insert_with(|| (node.raft_addr.clone(), Vec::new()))
            .1
            .push(p);
    }
    for (leader, (addr, parts)) in leaders {
        let refused = match tokio::time::timeout(every, tokio::net::TcpStream::connect(&addr)).await
        {
            Ok(Err(e)) => e.kind() == std::io::ErrorKind::ConnectionRefused,
            _ => false,
        };
        if !refused {
            continue;
        }
        for p in parts {
            take_over(me, leader, &p, done).await;
        }
    }
}

/// Starts a leadership transfer away from the dead `leader` in `p`'s group, if this node is
/// the chosen successor (lowest surviving voter id) and still follows that leader.
async fn take_over(me: u64, leader: u64, p: &Partition, done: &mut HashSet<(uuid::Uuid, u64)>) {
    let m = p.raft.metrics().borrow_watched().clone();
    if m.current_leader != Some(leader) || !done.insert((p.group_id, m.current_term)) {
        return;
    }
    let successor = m
        .membership_config
        .membership()
        .voter_ids()
        .filter(|v| *v != leader)
        .min();
    if successor != Some(me) {
        return;
    }
    tracing::info!(partition = %p.name(), dead_leader = leader, term = m.current_term, "leader's port refused connections: taking over");
    let req = TransferLeaderRequest::new(m.vote, me, None);
    if let Err(e) = p.raft.handle_transfer_leader(req).await {
        tracing::warn!(partition = %p.name(), error = %e, "leadership transfer failed");
    }
}
