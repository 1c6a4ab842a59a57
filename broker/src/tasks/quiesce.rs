//! `quiesce`: idle groups stop ticking; node-level liveness replaces their heartbeats.
//!
//! Every `quiesce_ms` the loop asks each peer broker which groups it leads
//! (`GET /v1/node/leadership`, one request per peer for all groups) and then sets each hosted
//! group's Raft runtime switches:
//! - a **leader** whose log has not grown for `idle_after_ms` and whose followers all hold its
//!   last entry is *quiet*: ticks and heartbeats off. Any new entry makes it busy again, with
//!   ticks and heartbeats on (replication itself never waits for a tick).
//! - a **follower** whose leader's broker answered within `peer_timeout_ms` and still says it
//!   leads the group needs no election timer: ticks and elections off. When that broker stops
//!   answering (frozen, partitioned, gone) or no longer claims the group, ticks and elections
//!   go back on and Raft's own timer elects a successor after the usual timeout since it
//!   last heard from the leader (a quiet group's timeout has long expired, so at once).
//!
//! ### To ensure correctness
//! Only *when* elections may start changes; votes still need an up-to-date log and a majority,
//! so there is at most one leader per term and no committed entry is lost. A leader goes quiet
//! only when every follower holds its last entry and heartbeats have run for `idle_after_ms`
//! since it was written, so followers have learnt the commit index before heartbeats stop.
//! A peer counts as alive only on an answer: silence and refused connections both end it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use raftbus_node::tasks::Ticker;
use raftbus_protocol::api::NodeLeadership;
use raftbus_protocol::routes;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::partition::{Partition, Registry};
use crate::peers::Peers;
use crate::raft::{RaftMetrics, ServerState};
use raftbus_security::NodeHttp;

/// Timings of the loop (from `[raft]` settings).
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Interval between two rounds of peer queries.
    pub every: Duration,
    /// A leader whose log has not grown for this long may go quiet.
    pub idle_after: Duration,
    /// Longest wait for one peer's answer.
    pub ask_timeout: Duration,
}

/// The loop's state between rounds.
pub struct Quiesce {
    /// Hosted groups.
    registry: Arc<Registry>,
    /// Node-level liveness, shared with the client API.
    peers: Arc<Peers>,
    /// Client for the peers' internal listeners (HTTP/2, kept open between rounds).
    http: NodeHttp,
    /// Intervals and timeouts.
    timing: Timing,
    /// Per led group: last log index seen and when it last changed.
    activity: HashMap<Uuid, (Option<u64>, Instant)>,
}

/// What the loop needs from one group's metrics, read under a brief borrow.
struct View {
    state: ServerState,
    running: bool,
    leader: Option<u64>,
    last_log_index: Option<u64>,
    /// Leaders only: true when every follower holds the last log entry.
    followers_caught_up: bool,
}

impl Quiesce {
    /// A loop over `registry`'s groups.
    pub fn new(registry: Arc<Registry>, peers: Arc<Peers>, http: NodeHttp, timing: Timing) -> Self {
        Self {
            registry,
            peers,
            http,
            timing,
            activity: HashMap::new(),
        }
    }

    /// Runs until cancelled.
    pub async fn run(mut self, cancel: CancellationToken) {
        let span = tracing::info_span!("quiesce", node = self.registry.node_id());
        async move {
            let mut tick = Ticker::new(self.timing.every, cancel.clone());
            while tick.tick().await {
                self.round().await;
            }
        }
        .instrument(span)
        .await
    }

    /// Asks every peer, then sets every group's switches.
    async fn round(&mut self) {
        let me = self.registry.node_id();
        let parts = self.registry.all();
        let mut addrs: BTreeMap<u64, String> = BTreeMap::new();
        let views: Vec<(Arc<Partition>, View)> = parts
            .into_iter()
            .map(|p| {
                let v = view(&p, me, &mut addrs);
                (p, v)
            })
            .collect();
        self.ask_all(&addrs).await;
        let now = Instant::now();
        self.activity
            .retain(|g, _| views.iter().any(|(p, _)| p.group_id == *g));
        for (p, v) in &views {
            self.set_switches(me, p, v, now);
        }
    }

    /// Queries every peer concurrently and records the answers.
    async fn ask_all(&self, addrs: &BTreeMap<u64, String>) {
        let asks = addrs.iter().map(|(id, addr)| {
            let url = self.http.url(addr, routes::NODE_LEADERSHIP);
            let http = &self.http.http;
            async move { (*id, ask(http, &url).await) }
        });
        for (id, answer) in futures::future::join_all(asks).await {
            match answer {
                Answer::Leading(leading) => self.peers.answered(id, leading),
                Answer::Refused => self.peers.refused(id),
                Answer::Silent => {} // ages out after peer_timeout_ms
            }
        }
    }

    fn set_switches(&mut self, me: u64, p: &Partition, v: &View, now: Instant) {
        if !v.running {
            return;
        }
        match v.state {
            ServerState::Leader => {
                let entry = self
                    .activity
                    .entry(p.group_id)
                    .or_insert((v.last_log_index, now));
                if entry.0 != v.last_log_index {
                    *entry = (v.last_log_index, now);
                }
                let quiet =
                    now.duration_since(entry.1) >= self.timing.idle_after && v.followers_caught_up;
                p.set_timers(Some(!quiet), !quiet, None);
            }
            ServerState::Follower | ServerState::Learner => {
                self.activity.remove(&p.group_id);
                let led = match v.leader {
                    Some(l) if l == me => false,
                    Some(l) => self.peers.leads(l, p.group_id),
                    None => self.peers.live_leader_of(p.group_id).is_some(),
                };
                p.set_timers(None, !led, Some(!led));
            }
            ServerState::Candidate | ServerState::Shutdown => {
                self.activity.remove(&p.group_id);
                p.set_timers(None, true, Some(true));
            }
        }
    }
}

/// Reads what the loop needs and adds the group's other members to `addrs`.
fn view(p: &Partition, me: u64, addrs: &mut BTreeMap<u64, String>) -> View {
    p.with_metrics(|m| view_of(m, me, addrs))
}

fn view_of(m: &RaftMetrics, me: u64, addrs: &mut BTreeMap<u64, String>) -> View {
    let membership = m.membership_config.membership();
    for (id, node) in membership.nodes() {
        if *id != me {
            addrs.entry(*id).or_insert_with(|| node.raft_addr.clone());
        }
    }
    let last = m.last_log_index;
    let followers_caught_up = m.replication.as_ref().is_some_and(|r| {
        r.iter()
            .filter(|(id, _)| **id != me)
            .all(|(_, matched)| matched.as_ref().map(|l| l.index) == last)
    });
    View {
        state: m.state,
        running: m.running_state.is_ok(),
        leader: m.current_leader,
        last_log_index: last,
        followers_caught_up,
    }
}

/// One peer's answer to a leadership query.
enum Answer {
    /// The groups it leads.
    Leading(HashSet<Uuid>),
    /// Its process is gone (the connection was refused or could not be made).
    Refused,
    /// No answer in time, or nonsense: silence ages out after `peer_timeout_ms`.
    Silent,
}

async fn ask(http: &reqwest::Client, url: &str) -> Answer {
    let resp = match http.get(url).send().await {
        Ok(r) if r.status().is_success() => r,
        Ok(_) => return Answer::Silent,
        Err(e) if e.is_connect() => return Answer::Refused,
        Err(_) => return Answer::Silent,
    };
    match resp.json::<NodeLeadership>().await {
        Ok(l) => Answer::Leading(l.leading.into_iter().collect()),
        Err(_) => Answer::Silent,
    }
}
