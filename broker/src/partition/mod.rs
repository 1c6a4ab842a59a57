//! The partition replicas a broker hosts: the registry that owns their Raft handles.

mod create;
mod registry;

pub use create::validate_name;
pub use registry::Registry;

use openraft::ServerState;
use openraft::async_runtime::WatchReceiver;
use raftbus_protocol::api::{Member, PartitionStatus, Role};
use tokio::sync::watch;
use uuid::Uuid;

use crate::raft::PartitionRaft;
use crate::state_machine::Watermarks;

/// One hosted partition replica.
pub struct Partition {
    /// Raft group id.
    pub group_id: Uuid,
    /// Topic name.
    pub topic: String,
    /// Partition index within the topic.
    pub partition: u32,
    /// The replica's Raft handle.
    pub raft: PartitionRaft,
    /// Watermarks published by the state machine after each applied commit.
    pub marks: watch::Receiver<Watermarks>,
    /// Replica set given at creation.
    pub members: Vec<Member>,
}

/// Leadership as seen by one replica, read from Raft metrics.
pub struct Leadership {
    /// True when this replica is the leader.
    pub is_leader: bool,
    /// Leader id and client address, when known.
    pub leader: Option<(u64, String)>,
    /// Milliseconds since a quorum last acknowledged this leader (leaders only). A sole voter
    /// is its own quorum: openraft never refreshes its clock (no follower ever answers), so it
    /// reports 0 instead of an age that would make every write look quorum-less.
    pub millis_since_quorum_ack: Option<u64>,
}

impl Partition {
    /// `topic/partition`, for messages.
    pub fn name(&self) -> String {
        format!("{}/{}", self.topic, self.partition)
    }

    /// Current leadership, from a clone of the metrics (never hold the watch borrow).
    pub fn leadership(&self) -> Leadership {
        let m = self.raft.metrics().borrow_watched().clone();
        let leader = m.current_leader.map(|id| {
            let addr = m
                .membership_config
                .membership()
                .get_node(&id)
                .map(|n| n.api_addr.clone())
                .unwrap_or_default();
            (id, addr)
        });
        let mut voters = m.membership_config.membership().voter_ids();
        let sole_voter = voters.next() == Some(m.id) && voters.next().is_none();
        Leadership {
            is_leader: m.state == ServerState::Leader,
            leader,
            millis_since_quorum_ack: m.last_quorum_acked.map(|t| {
                if sole_voter {
                    0
                } else {
                    openraft::Instant::elapsed(&*t).as_millis() as u64
                }
            }),
        }
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
