//! Where a topic's partitions are: metadata from the managers, cached, refreshed on demand
//! (rate-limited), and corrected by `not_leader` hints from brokers.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use raftbus_protocol::meta::TopicMetadata;

use crate::{Admin, SdkError};

/// Shortest gap between two metadata fetches: a storm of `not_leader` answers during an
/// election must not become a storm of metadata requests.
const MIN_REFRESH: Duration = Duration::from_millis(100);

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

    /// Records a broker's `not_leader` hint.
    pub(crate) fn hint(&self, partition: u32, leader_addr: &str) {
        let mut s = self.state.write().expect("routes lock");
        if let Some(h) = s.hints.get_mut(partition as usize) {
            *h = Some(leader_addr.to_string());
        }
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
