//! Liveness of brokers and consumers: in the write manager's memory only.
//!
//! Heartbeats arrive every second from every client; writing each through Raft would cost a
//! log entry per heartbeat. Only the *changes* they reveal (a broker died, a consumer left) go
//! through the log. A manager that becomes write manager starts with an empty table and gives
//! everyone one full timeout from that moment before declaring anything dead. Entries of
//! brokers, consumers and groups the metadata no longer holds are pruned ([`Liveness::prune`],
//! from the `expire` loop), so the tables stay as large as the cluster, not its history.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use raftbus_protocol::meta::HostedGroup;
use uuid::Uuid;

#[derive(Default)]
struct Inner {
    /// When this manager last became write manager: the grace start for unseen entities.
    since: Option<Instant>,
    brokers: HashMap<u64, Instant>,
    consumers: HashMap<(String, Uuid), Instant>,
    /// Log end offset per group, as reported by leaders (for describe).
    leo: HashMap<Uuid, u64>,
    /// Start of each broker's current run of heartbeats (leadership goes back to a preferred
    /// leader only after it has been up a while, so it does not fight failover).
    up_since: HashMap<u64, Instant>,
    /// Log start offset and learners per group, as reported by leaders (for describe).
    extent: HashMap<Uuid, (u64, Vec<u64>)>,
}

/// A heartbeat after this much silence starts a new run (the broker restarted or was cut off).
const UP_GAP: Duration = Duration::from_secs(3);

/// Last-seen times; cheap, lock held only for map operations.
#[derive(Default)]
pub struct Liveness {
    inner: Mutex<Inner>,
}

impl Liveness {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().expect("liveness lock"))
    }

    /// Forgets everything and starts the grace period (on becoming write manager).
    pub fn reset(&self, now: Instant) {
        self.with(|i| {
            *i = Inner {
                since: Some(now),
                ..Default::default()
            }
        });
    }

    /// A broker heartbeat arrived.
    pub fn touch_broker(&self, id: u64) {
        let now = Instant::now();
        self.with(|i| {
            if let Some(last) = i.brokers.insert(id, now)
                && now.duration_since(last) <= UP_GAP
            {
                i.up_since.entry(id).or_insert(now);
            } else {
                i.up_since.insert(id, now);
            }
        });
    }

    /// True when broker `id` has heartbeated without a gap for at least `d`.
    pub fn broker_up_for(&self, id: u64, d: Duration) -> bool {
        self.with(|i| {
            i.up_since.get(&id).is_some_and(|t| t.elapsed() >= d)
                && i.brokers.get(&id).is_some_and(|t| t.elapsed() <= UP_GAP)
        })
    }

    /// A consumer heartbeat arrived.
    pub fn touch_consumer(&self, group: &str, id: Uuid) {
        self.with(|i| i.consumers.insert((group.to_string(), id), Instant::now()));
    }

    /// A consumer left on purpose.
    pub fn forget_consumer(&self, group: &str, id: Uuid) {
        self.with(|i| i.consumers.remove(&(group.to_string(), id)));
    }

    /// Forgets what the metadata no longer names: brokers not in `brokers`, consumers not
    /// in `members` (group, id) and groups not in `groups`. Brokers and consumers are kept
    /// while heard from within `timeout` (a heartbeat may precede its join or registration).
    /// Returns how many entries went.
    pub fn prune(
        &self,
        brokers: &HashSet<u64>,
        members: &HashSet<(String, Uuid)>,
        groups: &HashSet<Uuid>,
        timeout: Duration,
    ) -> usize {
        self.with(|i| {
            let before = i.brokers.len() + i.consumers.len() + i.leo.len() + i.extent.len();
            i.brokers
                .retain(|id, t| brokers.contains(id) || t.elapsed() <= timeout);
            let kept = &i.brokers;
            i.up_since.retain(|id, _| kept.contains_key(id));
            i.consumers
                .retain(|k, t| members.contains(k) || t.elapsed() <= timeout);
            i.leo.retain(|g, _| groups.contains(g));
            i.extent.retain(|g, _| groups.contains(g));
            before - (i.brokers.len() + i.consumers.len() + i.leo.len() + i.extent.len())
        })
    }

    /// `(brokers, consumers, groups)` entries held, for the status page and tests.
    pub fn sizes(&self) -> (usize, usize, usize) {
        self.with(|i| (i.brokers.len(), i.consumers.len(), i.leo.len()))
    }

    /// Records the log end and start offsets and learners the leaders among `groups` report
    /// (one lock for a whole heartbeat).
    pub fn set_reported<'a>(&self, groups: impl Iterator<Item = &'a HostedGroup>) {
        self.with(|i| {
            for g in groups.filter(|g| g.is_leader) {
                i.leo.insert(g.group_id, g.log_end_offset);
                i.extent
                    .insert(g.group_id, (g.log_start_offset, g.learners.clone()));
            }
        });
    }

    /// Last reported log start offset and learners of a group.
    pub fn extent(&self, group: Uuid) -> (u64, Vec<u64>) {
        self.with(|i| i.extent.get(&group).cloned().unwrap_or_default())
    }

    /// Last reported log end offset of a group.
    pub fn leo(&self, group: Uuid) -> u64 {
        self.with(|i| i.leo.get(&group).copied().unwrap_or(0))
    }

    /// True when `id` was heard from within `timeout` (or the grace period is still running).
    pub fn broker_alive(&self, id: u64, timeout: Duration) -> bool {
        self.with(|i| fresh(i.brokers.get(&id).copied().or(i.since), timeout))
    }

    /// Which of `members` of `group` have been silent longer than `timeout`.
    pub fn silent_consumers(
        &self,
        group: &str,
        members: impl Iterator<Item = Uuid>,
        timeout: Duration,
    ) -> Vec<Uuid> {
        self.with(|i| {
            members
                .filter(|id| {
                    !fresh(
                        i.consumers
                            .get(&(group.to_string(), *id))
                            .copied()
                            .or(i.since),
                        timeout,
                    )
                })
                .collect()
        })
    }
}

fn fresh(seen: Option<Instant>, timeout: Duration) -> bool {
    seen.is_some_and(|t| t.elapsed() <= timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_then_expiry() {
        let l = Liveness::default();
        let long_ago = Instant::now() - Duration::from_secs(60);
        l.reset(long_ago);
        assert!(
            !l.broker_alive(1, Duration::from_secs(5)),
            "grace over and never seen"
        );
        l.reset(Instant::now());
        assert!(l.broker_alive(1, Duration::from_secs(5)), "within grace");
        l.touch_broker(2);
        assert!(l.broker_alive(2, Duration::from_secs(5)));
        assert!(l.broker_up_for(2, Duration::ZERO) && !l.broker_up_for(2, Duration::from_secs(5)));
        let a = Uuid::new_v4();
        l.reset(long_ago);
        l.touch_consumer("g", a);
        let b = Uuid::new_v4();
        assert_eq!(
            l.silent_consumers("g", [a, b].into_iter(), Duration::from_secs(5)),
            vec![b]
        );
    }

    #[test]
    fn prune_forgets_only_what_the_metadata_dropped_and_is_silent() {
        let l = Liveness::default();
        let (kept, gone) = (Uuid::new_v4(), Uuid::new_v4());
        l.touch_broker(1);
        l.touch_broker(9);
        l.touch_consumer("g", kept);
        l.touch_consumer("old", gone);
        let g = HostedGroup {
            group_id: Uuid::new_v4(),
            is_leader: true,
            leader: Some(1),
            log_end_offset: 5,
            log_start_offset: 0,
            voters: vec![1],
            learners: vec![],
            joint: false,
        };
        l.set_reported([g.clone()].iter());
        let brokers = HashSet::from([1]);
        let members = HashSet::from([("g".to_string(), kept)]);
        // Heard from just now: kept even though the metadata does not name them (yet).
        assert_eq!(
            l.prune(&brokers, &members, &HashSet::new(), Duration::from_secs(60)),
            2,
            "only the deleted partition's reported offsets and extent"
        );
        assert_eq!(
            l.prune(&brokers, &members, &HashSet::new(), Duration::ZERO),
            2
        );
        assert_eq!(l.sizes(), (1, 1, 0));
        assert!(l.broker_alive(1, Duration::from_secs(5)));
    }
}
