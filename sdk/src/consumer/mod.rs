//! The consumer: standalone (explicit partitions) or in a consumer group (partitions assigned
//! by the managers, offsets committed through each partition's Raft log).
//!
//! Delivery is at-least-once: a position is committed only after `poll` returned the records
//! before it and the application came back for more (auto-commit runs at the start of `poll`),
//! or when the application calls [`Consumer::commit`]. A restarted member resumes at the
//! committed offset, so no record after it is skipped; records between the last commit and a
//! crash are delivered again.

mod config;
mod fetch;
mod group;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use raftbus_protocol::meta::{ConsumerAssignment, ConsumerHeartbeat};
use raftbus_protocol::{ErrorCode, Header};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use config::{ConsumerConfig, ResetPolicy, StartFrom};

use crate::routes::{Backoff, Routes};
use crate::{Admin, BrokerClient, SdkError};

/// A record read from a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// Partition.
    pub partition: u32,
    /// Offset.
    pub offset: u64,
    /// Key, if the producer gave one.
    pub key: Option<Bytes>,
    /// Payload.
    pub value: Bytes,
    /// Producer timestamp, ms since the epoch.
    pub timestamp_ms: u64,
    /// Record headers, in the order the producer gave them (empty when it gave none).
    pub headers: Vec<Header>,
}

/// Position of one owned partition.
#[derive(Debug, Clone, Copy)]
struct Owned {
    /// Next offset to return; `None` until resolved (committed offset or start policy).
    position: Option<u64>,
    /// Start policy when nothing is committed.
    start: StartFrom,
    /// Last offset committed (or read as committed) for this partition.
    committed: Option<u64>,
}

/// Group membership state. Dropping it (a consumer dropped without `close`) stops the
/// heartbeat and leaves the group in the background, so the group rebalances at once instead
/// of after the session timeout, and no heartbeat outlives the consumer.
struct Membership {
    group: String,
    consumer_id: Uuid,
    generation: u64,
    rx: watch::Receiver<ConsumerAssignment>,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    /// To leave the group when dropped.
    admin: Admin,
    /// Set once the group was left explicitly (`close`): nothing left to do on drop.
    left: bool,
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.cancel.cancel();
        if self.left {
            return;
        }
        // Best effort: outside a runtime nothing can be sent, and the managers' session
        // timeout removes the member anyway.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (admin, group, id) = (self.admin.clone(), self.group.clone(), self.consumer_id);
            rt.spawn(async move {
                if let Err(e) = admin.leave_group(&group, id).await {
                    tracing::debug!(error = %e, %group, "leaving the group of a dropped consumer failed");
                }
            });
        }
    }
}

/// A consumer of one topic.
pub struct Consumer {
    config: ConsumerConfig,
    topic: String,
    routes: Routes,
    client: BrokerClient,
    owned: BTreeMap<u32, Owned>,
    member: Option<Membership>,
    last_commit: Instant,
    /// Retry pacing per partition (the policy shared with the producer); reset on success.
    /// Locked only briefly, never across an await.
    backoff: std::sync::Mutex<BTreeMap<u32, Backoff>>,
}

impl Consumer {
    /// Connects; in group mode joins the group and takes the assigned partitions.
    pub async fn connect(config: ConsumerConfig, topic: &str) -> Result<Consumer, SdkError> {
        let admin = Admin::new(&config.bootstrap)?;
        let routes = Routes::load(admin.clone(), topic, false).await?;
        let client = BrokerClient::new(config.fetch_wait + Duration::from_secs(10));
        let mut c = Consumer {
            topic: topic.to_string(),
            routes,
            client,
            owned: BTreeMap::new(),
            member: None,
            last_commit: Instant::now(),
            backoff: Default::default(),
            config,
        };
        if let Some(group) = c.config.group.clone() {
            let consumer_id = Uuid::new_v4();
            let hb = ConsumerHeartbeat {
                consumer_id,
                group: group.clone(),
                topic: topic.to_string(),
            };
            let first = admin.join_group(&hb).await?;
            let (tx, rx) = watch::channel(first.clone());
            let cancel = CancellationToken::new();
            let task = tokio::spawn(group::heartbeat(
                admin.clone(),
                hb,
                c.config.heartbeat_interval,
                tx,
                cancel.clone(),
            ));
            c.member = Some(Membership {
                group,
                consumer_id,
                generation: first.generation,
                rx,
                cancel,
                task,
                admin,
                left: false,
            });
            c.take_assignment(&first);
        }
        Ok(c)
    }

    /// Standalone mode: read these partitions from these positions (replaces the assignment).
    pub async fn assign(&mut self, partitions: &[(u32, StartFrom)]) -> Result<(), SdkError> {
        if self.member.is_some() {
            return Err(SdkError::InvalidArgument(
                "assign() is for consumers without a group".into(),
            ));
        }
        let n = self.routes.partitions();
        self.owned.clear();
        for &(p, start) in partitions {
            if p >= n {
                return Err(SdkError::InvalidArgument(format!(
                    "partition {p} does not exist (topic has {n})"
                )));
            }
            self.owned.insert(
                p,
                Owned {
                    position: None,
                    start,
                    committed: None,
                },
            );
        }
        Ok(())
    }

    /// Number of partitions of the topic.
    pub fn partitions(&self) -> u32 {
        self.routes.partitions()
    }

    /// Partitions this consumer currently reads.
    pub fn assignment(&self) -> Vec<u32> {
        self.owned.keys().copied().collect()
    }

    /// Group generation of the current assignment (group mode).
    pub fn generation(&self) -> Option<u64> {
        self.member.as_ref().map(|m| m.generation)
    }

    /// Moves the next read of `partition` to `offset`: the following `poll` starts there and a
    /// commit stores it. Use it to commit exactly what was processed (e.g. after handling only
    /// part of a poll's records) or to re-read.
    pub fn seek(&mut self, partition: u32, offset: u64) -> Result<(), SdkError> {
        let o = self.owned.get_mut(&partition).ok_or_else(|| {
            SdkError::InvalidArgument(format!(
                "partition {partition} is not assigned to this consumer"
            ))
        })?;
        o.position = Some(offset);
        Ok(())
    }

    /// Next offset per owned partition (resolved ones).
    pub fn positions(&self) -> BTreeMap<u32, u64> {
        self.owned
            .iter()
            .filter_map(|(p, o)| Some((*p, o.position?)))
            .collect()
    }

    fn take_assignment(&mut self, a: &ConsumerAssignment) {
        let start = self.config.start;
        let old = std::mem::take(&mut self.owned);
        for p in &a.partitions {
            // Kept partitions keep their position; new ones start from the committed offset.
            let o = old.get(p).copied().unwrap_or(Owned {
                position: None,
                start,
                committed: None,
            });
            self.owned.insert(*p, o);
        }
    }

    /// Applies a new assignment from the heartbeat loop: commit what we have (with the old
    /// generation; refused if the group moved on, which is fine), then switch.
    async fn rebalance_if_needed(&mut self) {
        let Some(m) = self.member.as_mut() else {
            return;
        };
        if !m.rx.has_changed().unwrap_or(false) {
            return;
        }
        let a = m.rx.borrow_and_update().clone();
        if a.generation == m.generation && a.partitions == self.assignment() {
            return;
        }
        if let Err(e) = self.commit().await {
            tracing::debug!(error = %e, "commit before rebalance failed");
        }
        if let Some(m) = self.member.as_mut() {
            m.generation = a.generation;
        }
        self.take_assignment(&a);
    }

    /// Returns the next records (possibly none after `timeout`).
    pub async fn poll(&mut self, timeout: Duration) -> Result<Vec<ConsumerRecord>, SdkError> {
        self.rebalance_if_needed().await;
        let commit_due = self
            .config
            .auto_commit
            .is_some_and(|every| self.last_commit.elapsed() >= every);
        if self.member.is_some()
            && commit_due
            && let Err(e) = self.commit().await
        {
            tracing::debug!(error = %e, "auto-commit failed");
        }
        self.fetch(timeout).await
    }

    /// Commits the positions of everything `poll` returned so far (group mode; a no-op
    /// otherwise). A refusal because the group moved to a newer generation is not an error.
    pub async fn commit(&mut self) -> Result<(), SdkError> {
        self.last_commit = Instant::now();
        let Some(m) = self.member.as_ref() else {
            return Ok(());
        };
        let (group, generation) = (m.group.clone(), m.generation);
        let todo: Vec<(u32, u64)> = self
            .owned
            .iter()
            .filter_map(|(p, o)| {
                o.position
                    .filter(|pos| o.committed != Some(*pos))
                    .map(|pos| (*p, pos))
            })
            .collect();
        let mut first_err = None;
        for (p, pos) in todo {
            match self.commit_one(p, &group, pos, generation).await {
                Ok(()) => {
                    if let Some(o) = self.owned.get_mut(&p) {
                        o.committed = Some(pos);
                    }
                }
                Err(e) if e.code() == Some(ErrorCode::StaleGeneration) => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    async fn commit_one(
        &self,
        p: u32,
        group: &str,
        pos: u64,
        generation: u64,
    ) -> Result<(), SdkError> {
        let mut last = None;
        for _ in 0..3 {
            let Some(addr) = self.routes.leader(p) else {
                self.routes.refresh().await;
                continue;
            };
            match self
                .client
                .commit_offset(&addr, &self.topic, p, group, pos, Some(generation))
                .await
            {
                Ok(_) => {
                    self.succeeded(p);
                    return Ok(());
                }
                Err(e) if e.is_retryable() => {
                    self.retry_after(p, &addr, &e).await;
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(SdkError::Delivery {
            partition: p,
            code: None,
            message: "no leader known".into(),
        }))
    }

    /// Applies the shared routing policy to a retryable failure of a request for `p` sent to
    /// `addr`, then waits out the partition's backoff.
    async fn retry_after(&self, p: u32, addr: &str, e: &SdkError) {
        let attempt = self
            .backoff
            .lock()
            .expect("backoff lock")
            .entry(p)
            .or_default()
            .attempt();
        let retry = self.routes.after_failure(p, addr, e, attempt).await;
        let pause = self
            .backoff
            .lock()
            .expect("backoff lock")
            .entry(p)
            .or_default()
            .pause(retry);
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }

    /// A request for `p` was answered: its next failure starts a fresh backoff.
    fn succeeded(&self, p: u32) {
        self.backoff.lock().expect("backoff lock").remove(&p);
    }

    /// Commits (group mode), leaves the group and stops heartbeating.
    pub async fn close(mut self) -> Result<(), SdkError> {
        let committed = self.commit().await;
        if let Some(mut m) = self.member.take() {
            m.cancel.cancel();
            let _ = (&mut m.task).await;
            m.left = true;
            self.routes
                .admin()
                .leave_group(&m.group, m.consumer_id)
                .await?;
        }
        committed
    }
}
