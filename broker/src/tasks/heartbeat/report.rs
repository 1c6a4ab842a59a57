//! Full and incremental heartbeat reports, and what the managers acknowledged.
//!
//! A full report lists every hosted group; an incremental one only the groups whose reported
//! fields changed since the last report a manager acknowledged (`base`), plus the groups dropped
//! since. The write manager merges it into its picture of this broker (`manager::reports`).
//! A full report goes out on the first beat, whenever the manager asks for one (it lost its
//! picture: write-manager failover, a reply lost after it merged), every
//! [`FULL_REPORT_EVERY`] as a safety net, and always to a manager that does not merge.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use raftbus_protocol::api::Member;
use raftbus_protocol::meta::{BrokerHeartbeat, BrokerHeartbeatReply, HostedGroup};
use uuid::Uuid;

/// A full report at least this often, even when every incremental one was acknowledged: it
/// repairs any divergence between the broker and the manager's picture within this time.
pub const FULL_REPORT_EVERY: Duration = Duration::from_secs(30);

/// Builds reports and tracks acknowledgements.
pub struct Reporter {
    /// Random id of this run: the manager never merges onto a picture of an earlier run.
    session: Uuid,
    /// Number of the last report built.
    seq: u64,
    /// Number and content of the last acknowledged report; `None`: the next one is full.
    acked: Option<(u64, HashMap<Uuid, HostedGroup>)>,
    /// When the last full report was acknowledged.
    last_full: Option<Instant>,
    /// Whether the last manager that answered merges incremental reports.
    incremental: bool,
}

/// A report sent and not answered yet: what becomes the acknowledged state if it is.
pub struct Pending {
    seq: u64,
    full: bool,
    groups: HashMap<Uuid, HostedGroup>,
}

impl Pending {
    /// True for a full report.
    pub fn full(&self) -> bool {
        self.full
    }
}

/// True when `a` and `b` report the same to the manager. Offsets matter only from a leader
/// (the manager records them only from leaders), so a follower's growing log is no change.
fn same(a: &HostedGroup, b: &HostedGroup) -> bool {
    let offsets = !b.is_leader
        || (a.log_end_offset == b.log_end_offset && a.log_start_offset == b.log_start_offset);
    offsets
        && a.is_leader == b.is_leader
        && a.leader == b.leader
        && a.voters == b.voters
        && a.learners == b.learners
        && a.joint == b.joint
}

impl Default for Reporter {
    fn default() -> Self {
        Self {
            session: Uuid::new_v4(),
            seq: 0,
            acked: None,
            last_full: None,
            incremental: true,
        }
    }
}

impl Reporter {
    /// The next report about `current` (every hosted group), with the assignment digest the
    /// broker holds.
    pub fn report(
        &mut self,
        me: &Member,
        current: Vec<HostedGroup>,
        digest: Option<String>,
    ) -> (BrokerHeartbeat, Pending) {
        self.seq += 1;
        let due = self
            .last_full
            .is_none_or(|t| t.elapsed() >= FULL_REPORT_EVERY);
        let base = self.acked.as_ref().filter(|_| self.incremental && !due);
        let hosted = current.len() as u64;
        let (groups, dropped, base_seq) = match base {
            None => (current.clone(), Vec::new(), 0),
            Some((seq, acked)) => {
                let changed = current
                    .iter()
                    .filter(|g| acked.get(&g.group_id).is_none_or(|a| !same(a, g)))
                    .cloned()
                    .collect();
                let present: std::collections::HashSet<Uuid> =
                    current.iter().map(|g| g.group_id).collect();
                let dropped = acked
                    .keys()
                    .filter(|g| !present.contains(g))
                    .copied()
                    .collect();
                (changed, dropped, *seq)
            }
        };
        let full = base.is_none();
        let beat = BrokerHeartbeat {
            broker: me.clone(),
            groups,
            full,
            session: Some(self.session),
            seq: self.seq,
            base: base_seq,
            dropped,
            hosted: Some(hosted),
            assignments_digest: digest,
        };
        let pending = Pending {
            seq: self.seq,
            full,
            groups: current.into_iter().map(|g| (g.group_id, g)).collect(),
        };
        (beat, pending)
    }

    /// A manager answered `pending` with `reply`.
    pub fn acknowledged(&mut self, pending: Pending, reply: &BrokerHeartbeatReply) {
        self.incremental = reply.incremental;
        if reply.full_report_needed || !reply.incremental {
            self.acked = None;
            return;
        }
        if pending.full {
            self.last_full = Some(Instant::now());
        }
        self.acked = Some((pending.seq, pending.groups));
    }
}

/// Sizes of the last heartbeats, for `/metrics` (and the tests that print them).
pub struct Sizes {
    /// Request bytes of the last full report.
    pub full_request: AtomicU64,
    /// Request bytes of the last incremental report.
    pub incremental_request: AtomicU64,
    /// Bytes of the last reply that carried the assignment set.
    pub set_reply: AtomicU64,
    /// Bytes of the last `unchanged` reply.
    pub unchanged_reply: AtomicU64,
    /// Full reports acknowledged.
    pub full_reports: AtomicU64,
    /// Incremental reports acknowledged.
    pub incremental_reports: AtomicU64,
}

impl Sizes {
    const fn new() -> Self {
        Self {
            full_request: AtomicU64::new(0),
            incremental_request: AtomicU64::new(0),
            set_reply: AtomicU64::new(0),
            unchanged_reply: AtomicU64::new(0),
            full_reports: AtomicU64::new(0),
            incremental_reports: AtomicU64::new(0),
        }
    }

    /// Records an answered heartbeat.
    pub fn record(&self, full: bool, request: usize, unchanged: bool, reply: usize) {
        let (req, n) = if full {
            (&self.full_request, &self.full_reports)
        } else {
            (&self.incremental_request, &self.incremental_reports)
        };
        req.store(request as u64, Relaxed);
        n.fetch_add(1, Relaxed);
        let rep = if unchanged {
            &self.unchanged_reply
        } else {
            &self.set_reply
        };
        rep.store(reply as u64, Relaxed);
    }
}

/// This process's heartbeat sizes (one broker per process).
pub static SIZES: Sizes = Sizes::new();

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> Member {
        Member {
            id: 1,
            api_addr: "a:1".into(),
            raft_addr: "a:2".into(),
            kafka_addr: None,
        }
    }

    fn group(id: Uuid, leader: bool, leo: u64) -> HostedGroup {
        HostedGroup {
            group_id: id,
            is_leader: leader,
            leader: Some(if leader { 1 } else { 2 }),
            log_end_offset: leo,
            log_start_offset: 0,
            voters: vec![1, 2, 3],
            learners: vec![],
            joint: false,
        }
    }

    fn ok() -> BrokerHeartbeatReply {
        BrokerHeartbeatReply {
            assignments: vec![],
            removed: vec![],
            assignments_digest: Some("d".into()),
            unchanged: true,
            full_report_needed: false,
            incremental: true,
            security: None,
        }
    }

    #[test]
    fn reports_only_changes_since_the_acknowledged_one() {
        let mut r = Reporter::default();
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let (beat, p) = r.report(&me(), vec![group(a, true, 1), group(b, false, 1)], None);
        assert!(beat.full && beat.groups.len() == 2 && beat.seq == 1);
        r.acknowledged(p, &ok());

        // The leader's offset moved, the follower's too (not reported), c appeared.
        let now = vec![group(a, true, 5), group(b, false, 9), group(c, false, 0)];
        let (beat, p) = r.report(&me(), now.clone(), Some("d".into()));
        assert!(!beat.full);
        assert_eq!((beat.seq, beat.base, beat.hosted), (2, 1, Some(3)));
        let mut ids: Vec<Uuid> = beat.groups.iter().map(|g| g.group_id).collect();
        ids.sort();
        let mut want = vec![a, c];
        want.sort();
        assert_eq!(ids, want);
        assert_eq!(beat.assignments_digest.as_deref(), Some("d"));

        // Not acknowledged (no manager answered): the next delta is still relative to 1.
        drop(p);
        let (beat, p) = r.report(&me(), vec![group(a, true, 5)], None);
        assert_eq!((beat.seq, beat.base), (3, 1));
        assert_eq!(beat.dropped, vec![b]);
        r.acknowledged(p, &ok());
        let (beat, _) = r.report(&me(), vec![group(a, true, 5)], None);
        assert!(!beat.full && beat.groups.is_empty() && beat.dropped.is_empty());
        assert_eq!(beat.base, 3);
    }

    #[test]
    fn full_report_when_asked_when_not_merged_and_when_due() {
        let mut r = Reporter::default();
        let a = Uuid::new_v4();
        let (_, p) = r.report(&me(), vec![group(a, true, 1)], None);
        r.acknowledged(p, &ok());
        let (beat, p) = r.report(&me(), vec![group(a, true, 1)], None);
        assert!(!beat.full);
        r.acknowledged(
            p,
            &BrokerHeartbeatReply {
                full_report_needed: true,
                ..ok()
            },
        );
        let (beat, p) = r.report(&me(), vec![group(a, true, 1)], None);
        assert!(beat.full && beat.groups.len() == 1);
        // A manager that predates incremental reports gets full reports only.
        r.acknowledged(
            p,
            &BrokerHeartbeatReply {
                incremental: false,
                security: None,
                ..ok()
            },
        );
        let (beat, p) = r.report(&me(), vec![group(a, true, 1)], None);
        assert!(beat.full);
        r.acknowledged(p, &ok());
        // The safety-net full report.
        r.last_full = Some(Instant::now() - FULL_REPORT_EVERY);
        let (beat, _) = r.report(&me(), vec![group(a, true, 1)], None);
        assert!(beat.full);
    }
}
