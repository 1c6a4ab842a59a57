//! The partition replicas a broker hosts: the registry that owns their Raft handles, and
//! [`Partition`], the only door into a replica's Raft group (produce with either acks, other
//! proposals, leadership transfer, membership changes, metrics).

mod create;
mod flight;
pub mod propose;
mod registry;

pub use create::validate_name;
pub use registry::Registry;

use std::time::Duration;

use raftbus_protocol::api::{Acks, Member, PartitionStatus, Role};
use raftbus_raft::NodeAddr;
use tokio::sync::watch;
use uuid::Uuid;

use crate::raft::{
    ChangeMembers, Command, CommandResponse, PartitionRaft, ProduceBatch, ProposeError,
    RaftMetrics, ServerState, TransferLeaderRequest, WatchReceiver, millis_since,
};
use crate::state_machine::{Unpersisted, Watermarks};

/// One hosted partition replica.
pub struct Partition {
    /// Raft group id.
    pub group_id: Uuid,
    /// Topic name.
    pub topic: String,
    /// Partition index within the topic.
    pub partition: u32,
    /// The replica's Raft handle: private, every use goes through a method below.
    raft: PartitionRaft,
    /// Watermarks published by the state machine after each applied run.
    pub marks: watch::Receiver<Watermarks>,
    /// Applied batches not yet in `partition_batches` (readers look here above its end).
    pub unpersisted: std::sync::Arc<Unpersisted>,
    /// Replica set given at creation.
    pub members: Vec<Member>,
    /// The `propose` task that merges concurrent produce requests into one entry.
    proposer: propose::Proposer,
    /// Concurrent writers of a quiet partition share one lease renewal.
    lease_flight: flight::SingleFlight,
    /// Concurrent readers of a quiet partition share one wait for read readiness.
    read_flight: flight::SingleFlight,
}

/// Leadership as seen by one replica, read from Raft metrics.
pub struct Leadership {
    /// True when this replica is the leader.
    pub is_leader: bool,
    /// Leader id and client address, when known.
    pub leader: Option<(u64, String)>,
    /// Milliseconds since a quorum last acknowledged this leader (leaders only). A sole voter
    /// is its own quorum: Raft never refreshes its clock (no follower ever answers), so it
    /// reports 0 instead of an age that would make every write look quorum-less.
    pub millis_since_quorum_ack: Option<u64>,
    /// Voter ids of the effective membership (for the node-level quorum check).
    pub voters: Vec<u64>,
}

impl Partition {
    /// `topic/partition`, for messages.
    pub fn name(&self) -> String {
        format!("{}/{}", self.topic, self.partition)
    }

    /// Current leadership (asked on every request: the metrics are borrowed, not cloned, and
    /// the borrow ends before this returns).
    pub fn leadership(&self) -> Leadership {
        self.with_metrics(Self::leadership_of)
    }

    fn leadership_of(m: &RaftMetrics) -> Leadership {
        let leader = m.current_leader.map(|id| {
            let addr = m
                .membership_config
                .membership()
                .get_node(&id)
                .map(|n| n.api_addr.clone())
                .unwrap_or_default();
            (id, addr)
        });
        let voters: Vec<u64> = m.membership_config.membership().voter_ids().collect();
        let sole_voter = voters == [m.id];
        Leadership {
            is_leader: m.state == ServerState::Leader,
            leader,
            millis_since_quorum_ack: m
                .last_quorum_acked
                .map(|t| if sole_voter { 0 } else { millis_since(&t) }),
            voters,
        }
    }

    /// True when this replica's Raft runs and leads. Borrows the metrics only briefly (this
    /// is asked for every group several times a second by peers).
    pub fn is_running_leader(&self) -> bool {
        let m = self.raft.metrics();
        let m = m.borrow_watched();
        m.state == ServerState::Leader && m.running_state.is_ok()
    }

    /// True when Raft stopped this group (a fatal storage error); see `tasks::revive`.
    pub fn is_stopped(&self) -> bool {
        self.raft.metrics().borrow_watched().running_state.is_err()
    }

    /// Lets a quiet leader write again. Raft refuses writes from a leader that no quorum
    /// acknowledged within its lease (`election_max_ms`), and a quiet group sends no
    /// heartbeats (`tasks::quiesce`), so its lease has lapsed: one heartbeat round renews it.
    /// Returns at once for busy groups, followers and sole voters; gives up after `lease` (the
    /// write then fails as it would have, and the client retries).
    pub async fn renew_lease(&self, lease: Duration) {
        if self.with_metrics(|m| !needs_renewal(m, lease)) {
            return;
        }
        let raft = &self.raft;
        self.lease_flight
            .run(lease, || renew_lease(raft, lease))
            .await;
    }

    /// True once the group has a membership (it was initialized, or a leader reached this
    /// replica). A pristine group has none: its preferred leader still has to initialize it.
    pub fn has_membership(&self) -> bool {
        let m = self.raft.metrics().borrow_watched().clone();
        m.membership_config
            .membership()
            .voter_ids()
            .next()
            .is_some()
    }

    /// Waits (at most about twice `timeout`, the lease) until this leader may serve reads:
    /// - a quorum acknowledged it within the lease. A replica reopened after a storage error
    ///   restores its vote and may claim its old term's leadership until a heartbeat meets the
    ///   newer term; serving reads meanwhile would publish a stale high watermark (records
    ///   acknowledged by the new leader would look missing). Renewing the lease sends that
    ///   heartbeat, so a deposed leader learns of the newer term and steps down instead;
    /// - it has applied an entry of its own term. A newly elected leader may not know yet that
    ///   its predecessor's last entries committed, and would publish a high watermark below
    ///   what readers already saw; Raft's rule is to serve reads only once an entry of the
    ///   leader's term is committed.
    ///
    /// Concurrent callers share one renewal and one wait (`read_flight`); a caller served by a
    /// shared round that no longer holds when it looks runs another, until its deadline.
    /// Returns whether it is ready (a follower is never ready).
    pub async fn wait_read_ready(&self, timeout: Duration) -> bool {
        let lease_ms = timeout.as_millis() as u64;
        let deadline = tokio::time::Instant::now() + 2 * timeout;
        let raft = &self.raft;
        let round = || async move {
            let done = |m: &RaftMetrics| read_ready(m, lease_ms) || m.state != ServerState::Leader;
            let _ = tokio::time::timeout(timeout, async {
                renew_lease(raft, timeout).await;
                raft.wait(None).metrics(done, "read ready").await
            })
            .await;
        };
        loop {
            let (ready, renew, leads) = self.with_metrics(|m| {
                let leads = m.state == ServerState::Leader && m.running_state.is_ok();
                (read_ready(m, lease_ms), needs_renewal(m, timeout), leads)
            });
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            // A stopped group's rounds end at once: it is not leading, so no spinning here.
            if (ready && !renew) || !leads || left.is_zero() {
                return ready;
            }
            // Another round when this caller was served by a round that ended before it looked
            // again: on a starved machine the renewed lease can lapse in between.
            self.read_flight.run(left.min(timeout), round).await;
            if self.with_metrics(|m| read_ready(m, lease_ms)) {
                return true;
            }
        }
    }

    /// `(voters, learners, joint)` of the group's membership as this replica sees it.
    pub fn membership(&self) -> (Vec<u64>, Vec<u64>, bool) {
        let m = self.raft.metrics().borrow_watched().clone();
        let ms = m.membership_config.membership();
        (
            ms.voter_ids().collect(),
            ms.learner_ids().collect(),
            ms.get_joint_config().len() > 1,
        )
    }

    /// Produces one batch through the partition's `propose` task, whatever the acks: with
    /// `acks=all` waits (at most `timeout`) until it is committed and applied and returns the
    /// apply result; with `acks=leader` returns `None` once it is queued for the next proposal
    /// (not durable anywhere yet). A stopped group refuses either.
    pub async fn produce(
        &self,
        batch: ProduceBatch,
        acks: Acks,
        timeout: Duration,
    ) -> Result<Option<CommandResponse>, ProposeError> {
        if self.is_stopped() {
            return Err(ProposeError::stopped());
        }
        let Some(pending) = self.proposer.submit(batch, acks)? else {
            return Ok(None);
        };
        match tokio::time::timeout(timeout, pending).await {
            Err(_) => Err(ProposeError::Timeout(timeout)),
            Ok(outcome) => outcome
                .unwrap_or_else(|_| Err(ProposeError::stopped()))
                .map(Some),
        }
    }

    /// Proposes `cmd` as its own entry (offset commits, fences, retention, expiry) and waits
    /// at most `timeout` for it to be committed and applied.
    pub async fn propose(
        &self,
        cmd: Command,
        timeout: Duration,
    ) -> Result<CommandResponse, ProposeError> {
        match tokio::time::timeout(timeout, self.raft.client_write(cmd)).await {
            Err(_) => Err(ProposeError::Timeout(timeout)),
            Ok(r) => Ok(r?.data),
        }
    }

    /// A clone of the replica's Raft metrics.
    pub fn metrics(&self) -> RaftMetrics {
        self.raft.metrics().borrow_watched().clone()
    }

    /// Runs `f` on the metrics without cloning them (for loops over every group); the watch
    /// borrow ends with `f`.
    pub fn with_metrics<R>(&self, f: impl FnOnce(&RaftMetrics) -> R) -> R {
        f(&self.raft.metrics().borrow_watched())
    }

    /// Switches this replica's heartbeats, ticks and election timer (`tasks::quiesce`);
    /// `None` leaves a switch as it is.
    pub fn set_timers(&self, heartbeat: Option<bool>, tick: bool, elect: Option<bool>) {
        let rc = self.raft.runtime_config();
        if let Some(on) = heartbeat {
            rc.heartbeat(on);
        }
        rc.tick(tick);
        if let Some(on) = elect {
            rc.elect(on);
        }
    }

    /// Leader only: asks Raft to hand leadership to `to` (it campaigns once caught up).
    pub async fn transfer_leader(&self, to: u64) -> Result<(), String> {
        self.raft
            .trigger()
            .transfer_leader(to)
            .await
            .map_err(|e| e.to_string())
    }

    /// Any voter: hands leadership of the group away from the leader of `vote` to `to`
    /// without waiting out that leader's lease (the leader is gone; `tasks::leader_probe`).
    pub async fn hand_over(&self, m: &RaftMetrics, to: u64) -> Result<(), String> {
        let req = TransferLeaderRequest::new(m.vote, to, None);
        self.raft
            .handle_transfer_leader(req)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Leader only: adds `id` as a learner (non-blocking: it catches up in the background).
    pub async fn add_learner(&self, id: u64, addr: NodeAddr) -> Result<(), String> {
        self.raft
            .add_learner(id, addr, false)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Leader only: changes the membership, bounded by `timeout`; `Ok(false)` when the change
    /// is still running then (a later call picks it up).
    pub async fn change_membership(
        &self,
        change: ChangeMembers,
        timeout: Duration,
    ) -> Result<bool, String> {
        match tokio::time::timeout(timeout, self.raft.change_membership(change, false)).await {
            Ok(Ok(_)) => Ok(true),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Ok(false),
        }
    }

    /// Status for the admin API.
    pub fn status(&self, node_id: u64) -> PartitionStatus {
        let m = self.raft.metrics().borrow_watched().clone();
        let marks = *self.marks.borrow();
        let role = match m.state {
            ServerState::Leader => Role::Leader,
            ServerState::Follower => Role::Follower,
            ServerState::Candidate => Role::Candidate,
            ServerState::Learner => Role::Learner,
            ServerState::Shutdown => Role::Stopped,
        };
        let role = if m.running_state.is_err() {
            Role::Stopped
        } else {
            role
        };
        let leader_addr = m.current_leader.and_then(|id| {
            m.membership_config
                .membership()
                .get_node(&id)
                .map(|n| n.api_addr.clone())
        });
        PartitionStatus {
            topic: self.topic.clone(),
            partition: self.partition,
            group_id: self.group_id,
            node_id,
            role,
            term: m.current_term,
            leader_id: m.current_leader,
            leader_addr,
            commit_index: m.local_committed.map(|l| l.index),
            last_applied: m.last_applied.map(|l| l.index),
            last_log_index: m.last_log_index,
            log_end_offset: marks.next_offset,
            log_start_offset: marks.log_start_offset,
            voters: m.membership_config.membership().voter_ids().collect(),
        }
    }
}

/// [`Partition::renew_lease`] on a bare Raft handle (the `propose` task has no `Partition`).
pub(crate) async fn renew_lease(raft: &PartitionRaft, lease: Duration) {
    if !needs_renewal(&raft.metrics().borrow_watched(), lease) {
        return;
    }
    let asked = tokio::time::Instant::now();
    if raft.trigger().heartbeat().await.is_err() {
        return;
    }
    // Renewed once a quorum acknowledged a heartbeat sent after we asked (the acknowledged
    // time is when the heartbeat left). Not "within half the lease": on a starved machine the
    // acknowledgement can reach the metrics late, and the lease it gives is still good.
    let fresh = move |m: &RaftMetrics| {
        m.state != ServerState::Leader
            || m.last_quorum_acked
                .as_ref()
                .is_some_and(|t| openraft::Instant::elapsed(&**t) <= asked.elapsed())
    };
    let _ = raft.wait(Some(lease)).metrics(fresh, "lease renewed").await;
}

/// True for a leader (not a sole voter) that no quorum acknowledged within half its lease.
fn needs_renewal(m: &RaftMetrics, lease: Duration) -> bool {
    let half = lease.as_millis() as u64 / 2;
    let fresh = m
        .last_quorum_acked
        .as_ref()
        .is_some_and(|t| millis_since(t) < half);
    m.state == ServerState::Leader && !sole_voter(m) && !fresh
}

/// The read rule of [`Partition::wait_read_ready`]: a leader that a quorum acknowledged within
/// `lease_ms` and that has applied an entry of its own term.
fn read_ready(m: &RaftMetrics, lease_ms: u64) -> bool {
    let acked = sole_voter(m)
        || m.last_quorum_acked
            .as_ref()
            .is_some_and(|t| millis_since(t) < lease_ms);
    m.state == ServerState::Leader
        && acked
        && m.last_applied
            .as_ref()
            .is_some_and(|l| l.committed_leader_id().term == m.current_term)
}

/// True when this replica is its group's only voter: its own quorum, which Raft never
/// refreshes the acknowledgement clock of.
fn sole_voter(m: &RaftMetrics) -> bool {
    m.membership_config.membership().voter_ids().eq([m.id])
}
