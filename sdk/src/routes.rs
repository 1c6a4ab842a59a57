//! Where a topic's partitions are: metadata from the managers, cached, refreshed on demand
//! (rate-limited), and corrected by `not_leader` hints from brokers.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

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
