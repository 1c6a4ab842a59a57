//! `balance`: carries out a requested rebalance (or, with `healing.auto_rebalance`, keeps the
//! cluster balanced): recomputes the plan from the current metadata every tick and starts what
//! it can. Reorders (a new preferred leader, no data moved) apply at once; replica moves wait
//! for one of the `healing.max_moves` slots. The request is in the metadata, so a new write
//! manager carries it on; it is cleared when the plan is empty.

use std::sync::Arc;
use std::time::Duration;

use raftbus_protocol::ErrorCode;
use raftbus_protocol::moves::{MovesReply, PlannedMove};
use tokio_util::sync::CancellationToken;

use crate::error::ApiError;
use crate::metadata::balance::{self, Move};
use crate::metadata::moves::RebalanceScope;
use crate::node::Manager;
use crate::raft::MetaCommand;

/// Spawns the loop.
pub fn spawn(
    m: Arc<Manager>,
    every: Duration,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    super::spawn_on_leader(m, "balance", every, cancel, |m| async move {
        let scope = match m.read(|meta| meta.rebalance.clone()) {
            Some(s) => s,
            None if m.settings.healing.auto_rebalance => RebalanceScope::default(),
            None => return,
        };
        if let Err(e) = balance_once(&m, &scope).await {
            tracing::warn!(error = %e, "rebalance step failed; retrying");
        }
    })
}

/// One step of a rebalance of `scope`: starts every reorder and as many replica moves as
/// there are free slots; clears a recorded request once nothing is left to plan.
pub async fn balance_once(m: &Manager, scope: &RebalanceScope) -> Result<MovesReply, ApiError> {
    let (plan, in_progress, recorded) = m.read(|meta| {
        (
            balance::rebalance(meta, scope.topic.as_deref()),
            meta.moves_in_progress(),
            meta.rebalance.is_some(),
        )
    });
    if plan.is_empty() {
        if recorded {
            tracing::info!("rebalance done");
            m.propose(MetaCommand::SetRebalance { scope: None }).await?;
        }
        return Ok(MovesReply::default());
    }
    let mut slots = m.settings.healing.max_moves.saturating_sub(in_progress);
    let mut reply = MovesReply::default();
    for mv in plan {
        if !mv.is_reorder() {
            if slots == 0 {
                reply.pending += 1;
                continue;
            }
            slots -= 1;
        }
        tracing::info!(topic = %mv.topic, partition = mv.partition, from = ?mv.from, to = ?mv.to, "rebalance: moving");
        let started = m
            .propose(MetaCommand::StartMove {
                group: mv.group,
                target: mv.to.clone(),
            })
            .await;
        match started {
            Ok(_) => reply.started.push(planned(mv)),
            // Another planner (this loop vs. the rebalance request, or healing) started a move
            // of this partition after our plan was read: it is taken care of, not an error.
            Err(e) if e.0.code == ErrorCode::Conflict => {
                tracing::debug!(topic = %mv.topic, partition = mv.partition, "already moving");
                reply.pending += 1;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(reply)
}

/// The wire view of a move.
pub fn planned(mv: Move) -> PlannedMove {
    PlannedMove {
        topic: mv.topic,
        partition: mv.partition,
        from: mv.from,
        to: mv.to,
    }
}
