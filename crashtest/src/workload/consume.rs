//! One group consumer proc: polls, records every record, commits about once a second.
//!
//! Auto-commit is off so that every commit is one we can record. `Consumer::commit` returns
//! `Ok` even when a partition's commit was refused for a stale generation (the SDK treats
//! that as normal during a rebalance), so its result alone does not say what was committed.
//! Each commit is therefore recorded as `invoke`, then checked by reading the group's offset
//! back from the partition leader: `ok` only if the leader holds exactly our offset under our
//! generation, `info` otherwise. A false `ok` would make the S11 check cry wolf.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use raftbus_sdk::{Admin, BrokerClient, Consumer, ConsumerConfig, StartFrom};
use tokio::sync::watch;
use tokio::time::Instant;

use super::{Config, connect_with_retry};
use crate::CrashtestError;
use crate::history::{Event, Func, HistoryWriter, Kind};

/// How often the consumer commits.
const COMMIT_EVERY: Duration = Duration::from_secs(1);
/// Timeout of one poll.
const POLL_TIMEOUT: Duration = Duration::from_millis(500);
/// Bound on one SDK call at shutdown (commit, leave).
const CALL_BUDGET: Duration = Duration::from_secs(15);

/// A connected group consumer proc.
pub(super) struct GroupConsumer {
    consumer: Consumer,
    admin: Admin,
    client: BrokerClient,
    history: Arc<HistoryWriter>,
    proc: String,
    topic: String,
    group: String,
    /// Hard stop in case the stop signal never comes.
    hard_deadline: Instant,
    /// Last offset verified as committed by us, per partition.
    committed: BTreeMap<u32, u64>,
    polled: u64,
    /// Records polled by every consumer of the run, so the workload can tell when the
    /// consumers have caught up with the producers.
    progress: Arc<AtomicU64>,
    commits: u64,
}

impl GroupConsumer {
    pub(super) async fn connect(
        cfg: &Config,
        history: Arc<HistoryWriter>,
        proc: String,
        progress: Arc<AtomicU64>,
    ) -> Result<Self, CrashtestError> {
        let group = cfg.group.clone().expect("validated config has a group");
        let cc = ConsumerConfig::new(cfg.bootstrap.clone())
            .group(Some(group.clone()))
            .start(StartFrom::Earliest)
            .auto_commit(None);
        let consumer =
            connect_with_retry(&proc, || Consumer::connect(cc.clone(), &cfg.topic)).await?;
        let admin = Admin::new(&cfg.bootstrap).map_err(|source| CrashtestError::Sdk {
            context: "bootstrap".into(),
            source: Box::new(source),
        })?;
        let budget = cfg.duration_secs + 2 * cfg.delivery_timeout_secs + 120;
        Ok(Self {
            consumer,
            admin,
            client: BrokerClient::new(Duration::from_secs(5)),
            history,
            proc,
            topic: cfg.topic.clone(),
            group,
            hard_deadline: Instant::now() + Duration::from_secs(budget),
            committed: BTreeMap::new(),
            polled: 0,
            progress,
            commits: 0,
        })
    }

    /// Polls and commits until `stop` turns true, then commits once more and leaves the group.
    /// Returns `(records polled, commits verified)`.
    pub(super) async fn run(mut self, stop: watch::Receiver<bool>) -> (u64, u64) {
        let mut last_commit = Instant::now();
        while !*stop.borrow() && Instant::now() < self.hard_deadline {
            // Not raced against `stop`: a poll cancelled midway could lose records whose
            // positions already moved, and the poll timeout bounds the wait anyway.
            match self.consumer.poll(POLL_TIMEOUT).await {
                Ok(records) => {
                    for rec in records {
                        self.polled += 1;
                        self.progress.fetch_add(1, Ordering::Relaxed);
                        self.history.record(
                            Event::new(&self.proc, Kind::Ok, Func::Poll)
                                .part(rec.partition)
                                .offset(rec.offset)
                                .value(String::from_utf8_lossy(&rec.value)),
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(proc = %self.proc, error = %e, "poll failed");
                    let ev = Event::new(&self.proc, Kind::Info, Func::Poll).err(e.to_string());
                    self.history.record(ev);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            if last_commit.elapsed() >= COMMIT_EVERY {
                last_commit = Instant::now();
                self.commit().await;
            }
        }
        if tokio::time::timeout(CALL_BUDGET, self.commit())
            .await
            .is_err()
        {
            tracing::warn!(proc = %self.proc, "final commit timed out");
        }
        let (proc, polled, commits) = (self.proc.clone(), self.polled, self.commits);
        match tokio::time::timeout(CALL_BUDGET, self.consumer.close()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(proc, error = %e, "consumer close failed"),
            Err(_) => tracing::warn!(proc, "consumer close timed out"),
        }
        (polled, commits)
    }

    /// Commits the positions after everything recorded so far and records the outcome of each
    /// partition's commit (see the module docs for why it is read back).
    async fn commit(&mut self) {
        let generation = self.consumer.generation();
        let todo: Vec<(u32, u64)> = self
            .consumer
            .positions()
            .into_iter()
            .filter(|(p, pos)| self.committed.get(p) != Some(pos))
            .collect();
        if todo.is_empty() {
            return;
        }
        let proc = self.proc.clone();
        let event = |kind, p, pos| {
            let mut e = Event::new(&proc, kind, Func::Commit).part(p).offset(pos);
            e.generation = generation;
            e
        };
        for &(p, pos) in &todo {
            self.history.record(event(Kind::Invoke, p, pos));
        }
        if let Err(e) = self.consumer.commit().await {
            for &(p, pos) in &todo {
                self.history
                    .record(event(Kind::Info, p, pos).err(e.to_string()));
            }
            return;
        }
        let leaders = match self.admin.metadata(&self.topic, false).await {
            Ok(m) => m
                .partitions
                .into_iter()
                .filter_map(|r| Some((r.partition, r.leader_addr?)))
                .collect::<BTreeMap<_, _>>(),
            Err(e) => {
                tracing::debug!(error = %e, "metadata for commit read-back failed");
                BTreeMap::new()
            }
        };
        for (p, pos) in todo {
            let verdict = match leaders.get(&p) {
                None => Err("commit returned ok; no leader known to read it back".to_string()),
                Some(addr) => {
                    match self
                        .client
                        .read_offset(addr, &self.topic, p, &self.group)
                        .await
                    {
                        Ok(r) if r.offset == Some(pos) && r.generation == generation => Ok(()),
                        Ok(r) => Err(format!(
                            "commit returned ok; read back offset {:?} generation {:?}",
                            r.offset, r.generation
                        )),
                        Err(e) => Err(format!("commit returned ok; read-back failed: {e}")),
                    }
                }
            };
            match verdict {
                Ok(()) => {
                    self.commits += 1;
                    self.committed.insert(p, pos);
                    self.history.record(event(Kind::Ok, p, pos));
                }
                Err(why) => self.history.record(event(Kind::Info, p, pos).err(why)),
            }
        }
    }
}
