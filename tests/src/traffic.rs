//! Fixtures for tests that change placement under load: a producer that keeps writing in the
//! background and remembers what was acknowledged, reading a topic back, placement as the
//! partition leaders report it, and adding a broker to a [`ManagedCluster`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use raftbus_protocol::api::PartitionStatus;
use raftbus_protocol::meta::{CreateTopicRequest, PartitionInfo, TopicInfo};
use raftbus_sdk::{
    Consumer, ConsumerConfig, ConsumerRecord, Producer, ProducerConfig, Record, StartFrom,
};

use crate::BrokerProcess;
use crate::manager::ManagedCluster;
use crate::wait_until;

/// One acknowledged record: value, partition, offset.
pub type Acked = (String, u32, u64);

/// A producer task writing `v0, v1, ...` (no key: round robin over partitions) in rounds of
/// `per_round` records every `every`, until stopped.
pub struct Traffic {
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<(Vec<Acked>, usize)>,
}

impl Traffic {
    /// Starts writing to `topic`.
    pub async fn start(
        bootstrap: &str,
        topic: &str,
        per_round: usize,
        every: Duration,
    ) -> anyhow::Result<Self> {
        let cfg = ProducerConfig::new(bootstrap).delivery_timeout(Duration::from_secs(60));
        let p = Producer::connect(cfg, topic).await?;
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(AtomicUsize::new(0));
        let (s, a) = (stop.clone(), acked.clone());
        let task = tokio::spawn(async move {
            let (mut ok, mut failed) = (Vec::new(), 0);
            let mut tick = tokio::time::interval(every);
            let mut i = 0u64;
            while !s.load(Ordering::SeqCst) {
                tick.tick().await;
                let mut round = Vec::with_capacity(per_round);
                for _ in 0..per_round {
                    let v = format!("v{i}");
                    i += 1;
                    match p.send(Record::new(v.clone())).await {
                        Ok(f) => round.push((v, f)),
                        Err(_) => failed += 1,
                    }
                }
                for (v, f) in round {
                    match f.await {
                        Ok(d) => {
                            ok.push((v, d.partition, d.offset.expect("acks=all returns offsets")));
                            a.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(_) => failed += 1,
                    }
                }
            }
            let _ = p.close().await;
            (ok, failed)
        });
        Ok(Self { stop, acked, task })
    }

    /// [`Traffic::start`] with 20 records every 100 ms, once 200 are acknowledged.
    pub async fn steady(bootstrap: &str, topic: &str) -> anyhow::Result<Self> {
        let t = Self::start(bootstrap, topic, 20, Duration::from_millis(100)).await?;
        t.wait_acked(200, Duration::from_secs(30)).await?;
        Ok(t)
    }

    /// Records acknowledged so far.
    pub fn acked(&self) -> usize {
        self.acked.load(Ordering::SeqCst)
    }

    /// Stops, reads `topic` back from the start and checks that every acknowledged record is
    /// there exactly once; returns the figures as one line.
    pub async fn finish(self, bootstrap: &str, topic: &str) -> anyhow::Result<String> {
        let (acked, failed) = self.stop().await?;
        let read = read_back(bootstrap, topic, &acked, Duration::from_secs(60)).await?;
        let n = check_nothing_lost(&acked, &read)?;
        Ok(format!(
            "acked={} failed={failed} read={n}: every acknowledged record read back once",
            acked.len()
        ))
    }

    /// Waits (bounded by `timeout`) until at least `n` records are acknowledged in all.
    pub async fn wait_acked(&self, n: usize, timeout: Duration) -> anyhow::Result<()> {
        wait_until(
            &format!("{n} records acknowledged"),
            timeout,
            Duration::from_millis(100),
            || async { self.acked() >= n },
        )
        .await
    }

    /// Stops after the current round; returns the acknowledged records and the failed count.
    pub async fn stop(self) -> anyhow::Result<(Vec<Acked>, usize)> {
        self.stop.store(true, Ordering::SeqCst);
        Ok(self.task.await?)
    }
}

/// Reads every partition of `topic` from offset 0 until every acknowledged record was seen
/// (bounded by `timeout`); returns everything read.
pub async fn read_back(
    bootstrap: &str,
    topic: &str,
    acked: &[Acked],
    timeout: Duration,
) -> anyhow::Result<Vec<ConsumerRecord>> {
    let cfg = ConsumerConfig::new(bootstrap)
        .group(None)
        .start(StartFrom::Earliest);
    let mut c = Consumer::connect(cfg, topic).await?;
    let parts: Vec<(u32, StartFrom)> = (0..c.partitions())
        .map(|p| (p, StartFrom::Offset(0)))
        .collect();
    c.assign(&parts).await?;
    let mut need: BTreeMap<u32, u64> = BTreeMap::new();
    for (_, p, o) in acked {
        let e = need.entry(*p).or_default();
        *e = (*e).max(o + 1);
    }
    let until = Instant::now() + timeout;
    let mut out = Vec::new();
    while Instant::now() < until {
        let pos = c.positions();
        if need
            .iter()
            .all(|(p, end)| pos.get(p).is_some_and(|x| x >= end))
        {
            break;
        }
        out.extend(c.poll(Duration::from_millis(500)).await?);
    }
    c.close().await?;
    Ok(out)
}

/// Checks that every acknowledged record is read exactly once, at its acknowledged offset.
/// Returns the number of records read.
pub fn check_nothing_lost(acked: &[Acked], read: &[ConsumerRecord]) -> anyhow::Result<usize> {
    let mut seen: BTreeMap<&[u8], Vec<(u32, u64)>> = BTreeMap::new();
    for r in read {
        seen.entry(&r.value)
            .or_default()
            .push((r.partition, r.offset));
    }
    for (v, p, o) in acked {
        match seen.get(v.as_bytes()).map(Vec::as_slice) {
            Some([one]) if *one == (*p, *o) => {}
            other => anyhow::bail!("acknowledged {v} at {p}/{o} read as {other:?}"),
        }
    }
    Ok(read.len())
}

/// Placement of one partition as its leader reports it.
#[derive(Debug, Clone)]
pub struct Observed {
    /// Leader broker id.
    pub leader: u64,
    /// Voters of the group's membership.
    pub voters: BTreeSet<u64>,
}

/// Each partition of `topic` as the managers describe it, with what its leader reports
/// (`None` when the leader is unknown or does not confirm). Errors are strings, ready to be a
/// [`wait_until`] reason.
pub async fn observed(
    c: &ManagedCluster,
    topic: &str,
) -> Result<Vec<(PartitionInfo, Option<Observed>)>, String> {
    let http = crate::pki::client();
    let info = c
        .admin
        .describe_topic(topic)
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for p in info.partition_info {
        let Some(addr) = &p.leader_addr else {
            out.push((p, None));
            continue;
        };
        let url = crate::pki::url(
            addr,
            &raftbus_protocol::routes::partition(topic, p.partition),
        );
        let get = http.get(url).timeout(Duration::from_secs(2));
        let s: Option<PartitionStatus> = match get.send().await {
            Ok(r) if r.status().is_success() => r.json().await.ok(),
            _ => None,
        };
        let o = s
            .filter(|s| s.leader_id == Some(s.node_id))
            .map(|s| Observed {
                leader: s.node_id,
                voters: s.voters.into_iter().collect(),
            });
        out.push((p, o));
    }
    Ok(out)
}

/// Settings every placement test shares: brokers marked dead after 3 s of silence, heal and
/// balance loops every 500 ms, leadership back to a preferred leader up for 3 s.
pub const FAST_PLACEMENT: [(&str, &str); 3] = [
    ("RAFTBUS_HEARTBEAT__TIMEOUT_MS", "3000"),
    ("RAFTBUS_HEALING__INTERVAL_MS", "500"),
    ("RAFTBUS_HEALING__LEADER_BALANCE_AFTER_MS", "3000"),
];

impl ManagedCluster {
    /// 3 managers and `brokers` brokers with [`FAST_PLACEMENT`] plus `env`, and a topic of
    /// `partitions` partitions with RF 3 whose partitions all have leaders.
    pub async fn with_topic(
        brokers: u64,
        env: &[(&str, &str)],
        topic: &str,
        partitions: u32,
    ) -> anyhow::Result<(Self, TopicInfo)> {
        let env: Vec<(&str, &str)> = FAST_PLACEMENT.iter().chain(env).copied().collect();
        let c = Self::start(3, brokers, &env).await?;
        let t = c.create_ready_topic(topic, partitions).await?;
        Ok((c, t))
    }

    /// Waits for a write manager, then creates `topic` (`partitions`, RF 3) and waits until
    /// every partition has a leader.
    pub async fn create_ready_topic(
        &self,
        topic: &str,
        partitions: u32,
    ) -> anyhow::Result<TopicInfo> {
        self.write_manager(Duration::from_secs(20)).await?;
        let req = CreateTopicRequest {
            name: topic.into(),
            partitions: Some(partitions),
            replication_factor: Some(3),
            retention: Default::default(),
        };
        let t = self
            .admin
            .create_topic(&req, Some(Duration::from_secs(30)))
            .await?;
        anyhow::ensure!(t.ready, "topic {topic} not ready: {t:?}");
        Ok(t)
    }

    /// Starts broker `id` (a new one, with its own database) pointed at the managers and
    /// waits until the managers list it alive.
    pub async fn add_broker(&mut self, id: u64) -> anyhow::Result<()> {
        let url = self.pg.create_database(&format!("broker_{id}"))?;
        let extra = vec!["--managers".to_string(), self.internal_bootstrap()];
        let mut b = BrokerProcess::with_args(id, &url, self.dir.path(), extra)?;
        b.start()?;
        b.wait_healthy(Duration::from_secs(30)).await?;
        self.brokers.push(b);
        let admin = &self.admin;
        wait_until(
            &format!("broker-{id} registered and alive"),
            Duration::from_secs(30),
            Duration::from_millis(100),
            || async {
                let list = admin.brokers().await.ok()?;
                list.iter().find(|x| x.id == id && x.alive).map(|_| ())
            },
        )
        .await
    }

    /// Runs the `manager` admin CLI against this cluster: `(success, stdout, stderr)`.
    pub async fn admin_cli(&self, args: &[&str]) -> anyhow::Result<(bool, String, String)> {
        let out = tokio::process::Command::new(crate::bin_path("manager")?)
            .args(args)
            .env("RAFTBUS_BOOTSTRAP", self.bootstrap())
            .envs(crate::pki::client_env())
            .output()
            .await?;
        Ok((
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into(),
            String::from_utf8_lossy(&out.stderr).into(),
        ))
    }

    /// Partitions of `topic` each running broker hosts, from its own `GET /v1/partitions`.
    pub async fn hosted(&self, topic: &str) -> Result<BTreeMap<u64, BTreeSet<u32>>, String> {
        let http = crate::pki::client();
        let mut out = BTreeMap::new();
        for b in &self.brokers {
            let url = format!("{}{}", b.api_url(), raftbus_protocol::routes::PARTITIONS);
            let list: Vec<PartitionStatus> = http
                .get(url)
                .send()
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            let parts = list
                .iter()
                .filter(|s| s.topic == topic)
                .map(|s| s.partition);
            out.insert(b.node_id(), parts.collect());
        }
        Ok(out)
    }
}
