//! `membership`: the partition leader's side of replica moves and leadership balance.
//!
//! The heartbeat reply says, per hosted group, which voters the group should have and which
//! broker should lead it ([`Desired`]). Every tick, for each group this broker leads, the loop
//! recomputes from the group's *current* membership what is missing, so it is idempotent and
//! survives a leader change mid-move (the new leader simply carries on):
//!
//! 1. a target voter that is not in the membership is added as a learner (non-blocking);
//! 2. once every new voter has caught up (its matched log index within [`CAUGHT_UP`] entries of
//!    the leader's log), `change_membership` to the target voters (joint consensus, then the
//!    uniform config; removed voters are dropped). A group left in a joint config by a leader
//!    change is finished the same way;
//! 3. if this leader is itself not a target voter, it first hands leadership to a caught-up
//!    target voter instead of removing itself;
//! 4. learners outside the target (left by a redirected move) are removed;
//! 5. with a stable membership, when the managers name another, caught-up voter as preferred
//!    leader, leadership is transferred to it (at most once per [`TRANSFER_BACKOFF`] per group).
//!
//! A step that fails is logged and retried on a later tick; nothing here holds a lock across
//! an `.await`.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use raftbus_node::tasks::Ticker;
use raftbus_protocol::meta::Assignment;
use raftbus_raft::NodeAddr;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::partition::{Partition, Registry};
use crate::raft::{ChangeMembers, ServerState};

/// A learner this many log entries behind the leader (or closer) counts as caught up.
const CAUGHT_UP: u64 = 64;
/// Least time between two leadership transfers of one group, so balance never fights
/// failover or itself.
const TRANSFER_BACKOFF: Duration = Duration::from_secs(10);
/// Longest a membership change may take before the tick moves on (it is retried).
const CHANGE_TIMEOUT: Duration = Duration::from_secs(30);

/// The managers' latest desired state per group, written by the heartbeat loop.
#[derive(Default)]
pub struct Desired {
    groups: RwLock<HashMap<Uuid, Assignment>>,
}

impl Desired {
    /// Replaces everything with the assignments of the latest heartbeat reply.
    pub fn replace(&self, assignments: &[Assignment]) {
        let map = assignments
            .iter()
            .map(|a| (a.group_id, a.clone()))
            .collect();
        *self.groups.write().expect("desired lock") = map;
    }

    fn get(&self, group: Uuid) -> Option<Assignment> {
        self.groups
            .read()
            .expect("desired lock")
            .get(&group)
            .cloned()
    }
}

/// Runs until cancelled.
pub async fn run(
    registry: Arc<Registry>,
    desired: Arc<Desired>,
    every: Duration,
    cancel: CancellationToken,
) {
    let span = tracing::info_span!("membership", node = registry.node_id());
    async move {
        let mut tick = Ticker::new(every, cancel.clone());
        let mut transferred: HashMap<Uuid, Instant> = HashMap::new();
        while tick.tick().await {
            for p in registry.all() {
                if cancel.is_cancelled() {
                    return;
                }
                if let Some(a) = desired.get(p.group_id) {
                    reconcile(registry.node_id(), &p, &a, &mut transferred).await;
                }
            }
        }
    }
    .instrument(span)
    .await
}

/// One group's step (see the module docs).
async fn reconcile(
    me: u64,
    p: &Partition,
    a: &Assignment,
    transferred: &mut HashMap<Uuid, Instant>,
) {
    let m = p.metrics();
    if m.state != ServerState::Leader || a.voters.is_empty() {
        return;
    }
    let membership = m.membership_config.membership();
    let target: BTreeSet<u64> = a.voters.iter().copied().collect();
    let voters: BTreeSet<u64> = membership.voter_ids().collect();
    let joint = membership.get_joint_config().len() > 1;
    let last = m.last_log_index.unwrap_or(0);
    let matched = |id: u64| {
        m.replication
            .as_ref()
            .and_then(|r| r.get(&id).cloned().flatten())
            .map(|l| l.index)
    };
    let caught_up = |id: u64| id == me || matched(id).is_some_and(|i| i + CAUGHT_UP >= last);

    if voters != target || joint {
        if !target.contains(&me) {
            // Never remove ourselves while leading: hand over to a caught-up target voter.
            if let Some(&to) = target.iter().find(|t| voters.contains(t) && caught_up(**t)) {
                transfer(p, to, transferred, "leader is moving off this broker").await;
            }
            return;
        }
        let mut ready = true;
        for &id in target.iter().filter(|t| !voters.contains(t)) {
            if membership.get_node(&id).is_none() {
                let Some(node) = a.members.iter().find(|x| x.id == id) else {
                    ready = false;
                    continue;
                };
                let addr = NodeAddr {
                    raft_addr: node.raft_addr.clone(),
                    api_addr: node.api_addr.clone(),
                };
                tracing::info!(partition = %p.name(), learner = id, "adding learner");
                if let Err(e) = p.add_learner(id, addr).await {
                    tracing::warn!(partition = %p.name(), learner = id, error = %e, "add learner failed");
                }
                ready = false;
            } else if !caught_up(id) {
                ready = false;
            }
        }
        if !ready {
            return;
        }
        tracing::info!(partition = %p.name(), from = ?voters, to = ?target, joint, "changing membership");
        change(p, ChangeMembers::ReplaceAllVoters(target)).await;
        return;
    }
    // Learners a redirected move left behind are dropped, so nobody replicates to them.
    let stale: BTreeSet<u64> = membership
        .learner_ids()
        .filter(|l| !target.contains(l))
        .collect();
    if !stale.is_empty() {
        tracing::info!(partition = %p.name(), learners = ?stale, "removing learners no longer wanted");
        change(p, ChangeMembers::RemoveNodes(stale)).await;
        return;
    }
    if let Some(to) = a
        .preferred_leader
        .filter(|&l| l != me && voters.contains(&l))
        && caught_up(to)
    {
        transfer(p, to, transferred, "preferred leader is back").await;
    }
}

/// Runs one membership change, bounded by [`CHANGE_TIMEOUT`] (a change still running is
/// picked up again on a later tick).
async fn change(p: &Partition, members: ChangeMembers) {
    let what = members.to_string();
    match p.change_membership(members, CHANGE_TIMEOUT).await {
        Ok(true) => tracing::info!(partition = %p.name(), change = %what, "membership changed"),
        Err(e) => {
            tracing::warn!(partition = %p.name(), change = %what, error = %e, "membership change failed")
        }
        Ok(false) => {
            tracing::warn!(partition = %p.name(), change = %what, "membership change still running")
        }
    }
}

/// Asks Raft to hand leadership of `p` to `to`, unless it did so recently.
async fn transfer(p: &Partition, to: u64, transferred: &mut HashMap<Uuid, Instant>, why: &str) {
    if transferred
        .get(&p.group_id)
        .is_some_and(|t| t.elapsed() < TRANSFER_BACKOFF)
    {
        return;
    }
    transferred.insert(p.group_id, Instant::now());
    tracing::info!(partition = %p.name(), to, "{why}: transferring leadership");
    if let Err(e) = p.transfer_leader(to).await {
        tracing::warn!(partition = %p.name(), to, error = %e, "leadership transfer failed");
    }
}
