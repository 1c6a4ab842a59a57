//! `heal`: moves the replicas of brokers dead longer than `healing.grace_ms` to live brokers,
//! so every partition gets back to its replication factor without a manual step.
//!
//! Acts only on the write manager. At most `healing.max_moves` moves run at once (the throttle
//! shared with rebalance); a move completes when the partition leader reports the new
//! membership (see `metadata::moves`). Silence is measured by the write manager's liveness
//! table, so a new write manager waits a full grace period before healing anything. A move
//! that is adding a broker which then dies past the grace period is redirected to another.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::metadata::balance::{self, Move};
use crate::node::Manager;
use crate::raft::MetaCommand;

/// Spawns the loop.
pub fn spawn(
    m: Arc<Manager>,
    every: Duration,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    super::spawn_on_leader(
        m,
        "heal",
        every,
        cancel,
        |m| async move { heal_once(&m).await },
    )
}

async fn heal_once(m: &Manager) {
    let grace = Duration::from_millis(m.settings.healing.grace_ms);
    let max = m.settings.healing.max_moves;
    let (redirects, moves) = m.read(|meta| {
        let gone = |b| !m.liveness.broker_alive(b, grace);
        let slots = max.saturating_sub(meta.moves_in_progress());
        (
            balance::redirects(meta, gone),
            balance::heal(meta, gone, slots),
        )
    });
    let redirect = |mv: Move| MetaCommand::RedirectMove {
        group: mv.group,
        from: mv.from,
        target: mv.to,
    };
    let start = |mv: Move| MetaCommand::StartMove {
        group: mv.group,
        target: mv.to,
    };
    let why = "a move adds a broker dead past the grace period: redirecting it";
    propose_each(m, redirects, why, redirect).await;
    let why = "replica on a broker dead past the grace period: moving it";
    propose_each(m, moves, why, start).await;
}

/// Logs and proposes `cmd` of each move; a failure is logged and retried on a later tick.
async fn propose_each(m: &Manager, moves: Vec<Move>, why: &str, cmd: impl Fn(Move) -> MetaCommand) {
    for mv in moves {
        let (topic, partition) = (mv.topic.clone(), mv.partition);
        tracing::warn!(%topic, partition, from = ?mv.from, to = ?mv.to, "{why}");
        if let Err(e) = m.propose(cmd(mv)).await {
            tracing::warn!(%topic, partition, error = %e, "could not propose it");
        }
    }
}
