//! Node-level liveness of the other brokers, shared by the `quiesce` loop and the client API.
//!
//! Per-group Raft heartbeats cost CPU in proportion to the number of groups; a broker hosting
//! hundreds of idle replicas would spend most of its time on them. Instead, every broker asks
//! each peer once per interval which groups it currently leads (`GET /v1/node/leadership`),
//! and that one answer stands in for the heartbeats of all those groups: a follower whose
//! leader's node says "I lead this group" needs no election timer, and a leader whose peers
//! answer knows a majority is reachable without a per-group quorum round.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

/// What we last heard from one peer broker.
#[derive(Debug, Clone)]
struct Peer {
    /// When the peer last answered a leadership query; `None` until it has, or after it
    /// refused a connection (its process is gone).
    last_ok: Option<Instant>,
    /// Groups the peer said it leads, as of `last_ok`.
    leading: HashSet<Uuid>,
}

/// The liveness table. Cheap to query; never held across an `.await`.
#[derive(Debug)]
pub struct Peers {
    /// A peer is alive while its last answer is younger than this.
    alive_for: Duration,
    /// Peer id -> last answer.
    table: Mutex<HashMap<u64, Peer>>,
}

impl Peers {
    /// A table where an answer counts for `alive_for`.
    pub fn new(alive_for: Duration) -> Self {
        Self {
            alive_for,
            table: Mutex::new(HashMap::new()),
        }
    }

    /// Records a successful answer from `node`.
    pub fn answered(&self, node: u64, leading: HashSet<Uuid>) {
        let mut t = self.table.lock().expect("peers lock");
        t.insert(
            node,
            Peer {
                last_ok: Some(Instant::now()),
                leading,
            },
        );
    }

    /// Records that `node` refused a connection: its process is gone, so it is dead now
    /// rather than after `alive_for`.
    pub fn refused(&self, node: u64) {
        let mut t = self.table.lock().expect("peers lock");
        t.insert(
            node,
            Peer {
                last_ok: None,
                leading: HashSet::new(),
            },
        );
    }

    /// True while `node` answered within `alive_for`.
    pub fn is_alive(&self, node: u64) -> bool {
        let t = self.table.lock().expect("peers lock");
        t.get(&node).is_some_and(|p| self.fresh(p))
    }

    /// True when `node` was heard from before but not within `alive_for`, or refused a
    /// connection: evidence that it is frozen, cut off or gone. A node never heard from is not
    /// silent (nothing is known yet, e.g. right after start-up).
    pub fn is_silent(&self, node: u64) -> bool {
        let t = self.table.lock().expect("peers lock");
        t.get(&node).is_some_and(|p| !self.fresh(p))
    }

    /// True while `node` is alive and said it leads `group`.
    pub fn leads(&self, node: u64, group: Uuid) -> bool {
        let t = self.table.lock().expect("peers lock");
        t.get(&node)
            .is_some_and(|p| self.fresh(p) && p.leading.contains(&group))
    }

    /// The live peer that says it leads `group`, if any.
    pub fn live_leader_of(&self, group: Uuid) -> Option<u64> {
        let t = self.table.lock().expect("peers lock");
        t.iter()
            .find(|(_, p)| self.fresh(p) && p.leading.contains(&group))
            .map(|(id, _)| *id)
    }

    fn fresh(&self, p: &Peer) -> bool {
        p.last_ok.is_some_and(|at| at.elapsed() < self.alive_for)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_make_peers_alive_and_refusals_dead() {
        let peers = Peers::new(Duration::from_secs(60));
        let g = Uuid::new_v4();
        assert!(!peers.is_alive(2));
        assert!(!peers.is_silent(2), "never heard from is not silent");
        peers.answered(2, HashSet::from([g]));
        assert!(!peers.is_silent(2));
        assert!(peers.is_alive(2));
        assert_eq!(peers.live_leader_of(g), Some(2));
        assert!(peers.leads(2, g));
        assert!(!peers.leads(3, g));
        assert_eq!(peers.live_leader_of(Uuid::new_v4()), None);
        peers.refused(2);
        assert!(!peers.is_alive(2));
        assert!(peers.is_silent(2));
        assert_eq!(peers.live_leader_of(g), None);
    }

    #[test]
    fn answers_expire() {
        let peers = Peers::new(Duration::ZERO);
        peers.answered(3, HashSet::new());
        assert!(!peers.is_alive(3));
        assert!(peers.is_silent(3));
    }
}
