//! `reap`: declares silent brokers dead and removes silent consumers from their groups.
//!
//! Runs on every manager but acts only on the write manager. On becoming write manager it
//! resets liveness, giving everyone a full timeout to be heard from before anything is reaped,
//! and forgets the brokers' heartbeat pictures (brokers send full reports when asked).

use std::sync::Arc;
use std::time::{Duration, Instant};

use raftbus_node::tasks::Ticker;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::node::Manager;
use crate::raft::MetaCommand;

/// Spawns the loop.
pub fn spawn(
    m: Arc<Manager>,
    every: Duration,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let span = tracing::info_span!("reap", node = m.id);
    tokio::spawn(
        async move {
            let mut tick = Ticker::new(every, cancel.clone());
            let mut was_leader = false;
            while tick.tick().await {
                let leader = m.is_leader();
                if leader && !was_leader {
                    m.liveness.reset(Instant::now());
                    m.reports.reset();
                    tracing::info!("became write manager");
                }
                was_leader = leader;
                if leader {
                    reap_once(&m).await;
                }
            }
        }
        .instrument(span),
    )
}

async fn reap_once(m: &Manager) {
    let timeout = m.heartbeat_timeout();
    let dead: Vec<u64> = m.read(|meta| {
        meta.brokers
            .values()
            .filter(|b| b.alive && !m.liveness.broker_alive(b.member.id, timeout))
            .map(|b| b.member.id)
            .collect()
    });
    for id in dead {
        tracing::warn!(
            broker = id,
            "no heartbeat within the timeout: marking broker dead"
        );
        if let Err(e) = m
            .propose(MetaCommand::SetBrokerAlive { id, alive: false })
            .await
        {
            tracing::warn!(broker = id, error = %e, "could not mark broker dead");
        }
    }
    let silent: Vec<(String, Vec<uuid::Uuid>)> = m.read(|meta| {
        meta.groups
            .iter()
            .map(|(name, g)| {
                (
                    name.clone(),
                    m.liveness
                        .silent_consumers(name, g.members.keys().copied(), timeout),
                )
            })
            .filter(|(_, ids)| !ids.is_empty())
            .collect()
    });
    for (group, consumer_ids) in silent {
        tracing::warn!(%group, consumers = ?consumer_ids, "consumers silent: removing them and rebalancing");
        if let Err(e) = m
            .propose(MetaCommand::LeaveGroup {
                group: group.clone(),
                consumer_ids,
                at_ms: crate::node::now_ms(),
            })
            .await
        {
            tracing::warn!(%group, error = %e, "could not remove silent consumers");
        }
    }
}
