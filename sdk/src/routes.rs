//! Where a topic's partitions are: metadata from the managers, cached, refreshed on demand
//! (rate-limited), and corrected by `not_leader` hints from brokers; and the one routing and
//! retry policy of the producer and the consumer ([`Routes::after_failure`], [`Backoff`]).

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use raftbus_protocol::ErrorCode;
use raftbus_protocol::meta::TopicMetadata;

use crate::{Admin, SdkError};

/// Shortest gap between two metadata fetches: a storm of `not_leader` answers during an
/// election must not become a storm of metadata requests.
const MIN_REFRESH: Duration = Duration::from_millis(100);

/// How long a broker that did not answer at all (connection refused, reset, timed out) is not
/// taken back on another broker's word. Survivors keep naming a frozen or dead leader until
/// they elect a new one (1-2 s); following such a hint sends the next attempt into the same
/// hung connection and doubles the failover a client sees.
const SUSPECT_FOR: Duration = Duration::from_secs(3);

/// First pause between retries of one request.
const FIRST_BACKOFF: Duration = Duration::from_millis(25);
/// Longest pause between retries of one request.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Pause between asks while the survivors of a silent leader elect a new one.
const ELECTION_POLL: Duration = Duration::from_millis(50);
/// Immediate retries in a row on hints naming another broker (then the backoff applies):
/// replicas still naming a leader that is frozen or just died would otherwise bounce
/// requests without pause.
const QUICK_RETRIES: u32 = 3;

/// What to do after a request to a partition's leader failed retryably.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// A hint named another broker: ask it at once.
    Now,
    /// Survivors still name a leader that gave no answer: they are electing; ask the same
    /// replica again soon, without growing the backoff.
    Poll,
    /// Back off, then ask the route as it is now (the leader at its limit, or the next replica
    /// after a leader that gave no useful answer).
    Backoff,
}

/// Pacing of one request's retries, the same for producer and consumer: exponential backoff
/// from 25 ms to 1 s, immediate retries on fresh hints (a few in a row), a short fixed poll
/// during an election.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    next: Duration,
    quick: u32,
    attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            next: FIRST_BACKOFF,
            quick: 0,
            attempts: 0,
        }
    }
}

impl Backoff {
    /// Counts an attempt; returns how many were made (1 for the first).
    pub(crate) fn attempt(&mut self) -> u32 {
        self.attempts += 1;
        self.attempts
    }

    /// The pause before the next attempt after `r` (zero: retry at once).
    pub(crate) fn pause(&mut self, r: Retry) -> Duration {
        match r {
            Retry::Now if self.quick < QUICK_RETRIES => {
                self.quick += 1;
                Duration::ZERO
            }
            Retry::Poll => {
                self.quick = 0;
                self.next.min(ELECTION_POLL)
            }
            Retry::Now | Retry::Backoff => {
                self.quick = 0;
                let pause = self.next;
                self.next = (self.next * 2).min(MAX_BACKOFF);
                pause
            }
        }
    }
}

/// Cached routes of one topic.
pub(crate) struct Routes {
    admin: Admin,
    topic: String,
    auto_create: bool,
    /// Latest metadata plus per-partition leader overrides learnt from hints.
    state: RwLock<State>,
    /// Serializes refreshes; holds when the last one started.
    refresh: tokio::sync::Mutex<Option<Instant>>,
}

struct State {
    meta: Arc<TopicMetadata>,
    hints: Vec<Option<String>>,
    /// Brokers that gave no answer recently, with when (see [`SUSPECT_FOR`]).
    suspects: Vec<(String, Instant)>,
}

impl Routes {
    /// Loads the topic's metadata (creating the topic when `auto_create` and the managers
    /// allow it).
    pub(crate) async fn load(
        admin: Admin,
        topic: &str,
        auto_create: bool,
    ) -> Result<Self, SdkError> {
        let meta = admin.metadata(topic, auto_create).await?;
        if meta.partitions.is_empty() {
            return Err(SdkError::Protocol {
                addr: admin.bootstrap().join(","),
                message: format!("topic {topic} has no partitions"),
            });
        }
        let hints = vec![None; meta.partitions.len()];
        Ok(Self {
            admin,
            topic: topic.to_string(),
            auto_create,
            state: RwLock::new(State {
                meta: Arc::new(meta),
                hints,
                suspects: Vec::new(),
            }),
            refresh: tokio::sync::Mutex::new(None),
        })
    }

    /// The managers' client.
    pub(crate) fn admin(&self) -> &Admin {
        &self.admin
    }

    /// Number of partitions.
    pub(crate) fn partitions(&self) -> u32 {
        self.state
            .read()
            .expect("routes lock")
            .meta
            .partitions
            .len() as u32
    }

    /// Best known leader address of `partition`.
    pub(crate) fn leader(&self, partition: u32) -> Option<String> {
        let s = self.state.read().expect("routes lock");
        let i = partition as usize;
        s.hints
            .get(i)
            .cloned()
            .flatten()
            .or_else(|| s.meta.partitions.get(i)?.leader_addr.clone())
    }

    /// Records a broker's `not_leader` hint, unless it names a broker that recently gave no
    /// answer at all (then the route stays on the replica asked next). Returns whether the
    /// hint was taken.
    pub(crate) fn hint(&self, partition: u32, leader_addr: &str) -> bool {
        let mut s = self.state.write().expect("routes lock");
        s.suspects.retain(|(_, at)| at.elapsed() < SUSPECT_FOR);
        if s.suspects.iter().any(|(a, _)| a == leader_addr) {
            return false;
        }
        if let Some(h) = s.hints.get_mut(partition as usize) {
            *h = Some(leader_addr.to_string());
        }
        true
    }

    /// `addr` gave no answer at all (transport error): distrust hints naming it for a while.
    pub(crate) fn suspect(&self, addr: &str) {
        let mut s = self.state.write().expect("routes lock");
        s.suspects
            .retain(|(a, at)| a != addr && at.elapsed() < SUSPECT_FOR);
        s.suspects.push((addr.to_string(), Instant::now()));
    }

    /// The leader at `dead` did not answer: try the next replica of `partition` instead. Any
    /// live replica answers `not_leader` naming the current leader, which is faster than
    /// waiting for the managers' metadata to learn about the new leader.
    pub(crate) fn forget(&self, partition: u32, dead: &str) {
        let mut s = self.state.write().expect("routes lock");
        let i = partition as usize;
        let next = s.meta.partitions.get(i).and_then(|p| {
            let r = &p.replica_addrs;
            let at = r.iter().position(|a| a == dead)?;
            (1..r.len()).map(|k| &r[(at + k) % r.len()]).next().cloned()
        });
        if let Some(h) = s.hints.get_mut(i) {
            *h = next;
        }
    }

    /// The routing policy after a retryable failure of a request for `partition` sent to
    /// `addr` (attempt number `attempt` of that request): a `busy` leader is kept; a
    /// `not_leader` hint is followed unless it names a broker that recently gave no answer
    /// (then the same replica is polled until the survivors name a new leader); an answer
    /// without a hint, or none at all, moves the route to the next replica (any live one
    /// names the leader) and marks a silent broker suspect. Every fourth attempt also asks
    /// the managers, in case the replica set itself changed.
    pub(crate) async fn after_failure(
        &self,
        partition: u32,
        addr: &str,
        e: &SdkError,
        attempt: u32,
    ) -> Retry {
        if e.code() == Some(ErrorCode::Busy) {
            return Retry::Backoff;
        }
        if let Some((_, leader)) = e.leader_hint() {
            if !self.hint(partition, leader) {
                return Retry::Poll;
            }
            return if leader != addr {
                Retry::Now
            } else {
                Retry::Backoff
            };
        }
        if matches!(e, SdkError::Transport { .. }) {
            self.suspect(addr);
        }
        if attempt.is_multiple_of(4) {
            self.refresh().await;
        }
        self.forget(partition, addr);
        Retry::Backoff
    }

    /// Fetches fresh metadata unless another refresh started less than [`MIN_REFRESH`] ago.
    pub(crate) async fn refresh(&self) {
        let mut last = self.refresh.lock().await;
        if last.is_some_and(|t| t.elapsed() < MIN_REFRESH) {
            return;
        }
        *last = Some(Instant::now());
        match self.admin.metadata(&self.topic, self.auto_create).await {
            Ok(meta) if !meta.partitions.is_empty() => {
                let mut s = self.state.write().expect("routes lock");
                s.hints = vec![None; meta.partitions.len()];
                s.meta = Arc::new(meta);
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, topic = %self.topic, "metadata refresh failed"),
        }
    }
}
