//! A broker cluster for tests: one throwaway Postgres (a database per broker), N real `broker`
//! processes, and helpers to create partitions, find leaders, produce with retries and read
//! partitions back.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use raftbus_protocol::api::{
    CreatePartitionRequest, Member, OffsetResponse, ProduceResponse, Role,
};
use raftbus_protocol::{ErrorBody, ErrorCode, Record};
use raftbus_sdk::{BrokerClient, SdkError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::{BrokerProcess, PgServer, wait_until};

/// At most two clusters run at once: on a 2-core machine more would starve Raft timers and
/// turn tests into tests of the scheduler.
pub(crate) fn slots() -> Arc<Semaphore> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SLOTS.get_or_init(|| Arc::new(Semaphore::new(2))).clone()
}

/// A running cluster of brokers; everything is stopped and removed on drop.
pub struct BrokerCluster {
    /// The brokers, index `i` has node id `i + 1`.
    pub brokers: Vec<BrokerProcess>,
    /// Client of the broker API.
    pub client: BrokerClient,
    /// The shared Postgres server (one database per broker).
    pub pg: PgServer,
    /// Logs of this cluster.
    pub dir: tempfile::TempDir,
    _slot: OwnedSemaphorePermit,
}

impl BrokerCluster {
    /// Starts Postgres and `n` brokers and waits until all are healthy.
    pub async fn start(n: usize) -> anyhow::Result<Self> {
        Self::start_with_env(n, &[]).await
    }

    /// [`BrokerCluster::start`] with extra settings for every broker (e.g.
    /// `RAFTBUS_RAFT__SNAPSHOT_EVERY_ENTRIES`).
    pub async fn start_with_env(n: usize, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let slot = slots().acquire_owned().await.expect("semaphore open");
        let pg = tokio::task::spawn_blocking(PgServer::start).await??;
        let dir = tempfile::Builder::new()
            .prefix("raftbus-cluster-")
            .tempdir()?;
        let mut brokers = Vec::new();
        for id in 1..=n as u64 {
            let url = pg.create_database(&format!("broker_{id}"))?;
            let mut broker = BrokerProcess::new(id, &url, dir.path())?;
            broker.daemon_mut().add_env(&env);
            broker.start()?;
            brokers.push(broker);
        }
        for b in &mut brokers {
            b.wait_healthy(Duration::from_secs(30)).await?;
        }
        Ok(Self {
            brokers,
            client: BrokerClient::new(Duration::from_secs(15)),
            pg,
            dir,
            _slot: slot,
        })
    }

    /// Client API address of broker `i` (`host:port`).
    pub fn addr(&self, i: usize) -> String {
        self.brokers[i].api_addr().to_string()
    }

    /// Replica set listing broker `first` first (it initializes the group and usually leads).
    pub fn members(&self, first: usize) -> Vec<Member> {
        let n = self.brokers.len();
        (0..n)
            .map(|k| &self.brokers[(first + k) % n])
            .map(|b| Member {
                id: b.node_id(),
                api_addr: b.api_addr().to_string(),
                raft_addr: b.raft_addr().to_string(),
                kafka_addr: None,
            })
            .collect()
    }

    /// Creates `topic/partition` on every broker, preferred leader `first`; returns the group id.
    pub async fn create_partition(
        &self,
        topic: &str,
        partition: u32,
        first: usize,
    ) -> anyhow::Result<Uuid> {
        let req = CreatePartitionRequest {
            group_id: Uuid::new_v4(),
            members: self.members(first),
        };
        for b in &self.brokers {
            create_replica(b.raft_addr(), topic, partition, &req).await?;
        }
        Ok(req.group_id)
    }

    /// Waits until a running broker reports itself leader of `topic/partition`; returns its index.
    pub async fn wait_leader(
        &self,
        topic: &str,
        partition: u32,
        timeout: Duration,
    ) -> anyhow::Result<usize> {
        let what = format!("a leader of {topic}/{partition}");
        wait_until(&what, timeout, Duration::from_millis(50), || async {
            for i in 0..self.brokers.len() {
                let status = self
                    .client
                    .partition_status(&self.addr(i), topic, partition)
                    .await;
                if status.is_ok_and(|s| s.role == Role::Leader) {
                    return Some(i);
                }
            }
            None
        })
        .await
    }

    /// Produces one batch, following `not_leader` hints and retrying retryable errors until
    /// `deadline`. Safe to retry because the batch carries `(producer, seq)`.
    pub async fn produce_retrying(
        &self,
        topic: &str,
        partition: u32,
        batch: Bytes,
        producer: (Uuid, u64),
        deadline: Instant,
    ) -> Result<ProduceResponse, SdkError> {
        let mut target = 0usize;
        loop {
            let addr = self.addr(target);
            match self
                .client
                .produce(&addr, topic, partition, batch.clone(), Some(producer))
                .await
            {
                Ok(r) => return Ok(r),
                Err(e) if e.is_retryable() && Instant::now() < deadline => {
                    target = match e.leader_hint().and_then(|(id, _)| self.index_of(id)) {
                        Some(i) if i != target => i,
                        _ => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            (target + 1) % self.brokers.len()
                        }
                    };
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn index_of(&self, node_id: u64) -> Option<usize> {
        self.brokers.iter().position(|b| b.node_id() == node_id)
    }

    /// Reads every record of a partition from its current leader: `(offset, record)`. Follows
    /// leadership changes (retryable errors) for up to 30 s, as a client would.
    pub async fn read_all(
        &self,
        topic: &str,
        partition: u32,
    ) -> anyhow::Result<Vec<(u64, Record)>> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut out = Vec::new();
        let mut offset = 0;
        loop {
            let leader = self
                .wait_leader(topic, partition, Duration::from_secs(20))
                .await?;
            let addr = self.addr(leader);
            let f = match self
                .client
                .fetch(&addr, topic, partition, offset, 1 << 20, Duration::ZERO)
                .await
            {
                Ok(f) => f,
                Err(e) if e.is_retryable() && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            for (base, batch) in &f.batches {
                for (i, r) in batch.records().enumerate() {
                    let o = base + i as u64;
                    if o >= offset {
                        out.push((o, r));
                        offset = o + 1;
                    }
                }
            }
            if offset >= f.high_watermark {
                return Ok(out);
            }
            if f.batches.is_empty() {
                bail!(
                    "fetch at {offset} returned nothing below high watermark {}",
                    f.high_watermark
                );
            }
        }
    }

    /// A replica's stored batches straight from its database: `(base_offset, count, bytes)`.
    pub async fn replica_rows(&self, i: usize, group: Uuid) -> anyhow::Result<Vec<String>> {
        let db = format!("broker_{}", self.brokers[i].node_id());
        let sql = format!(
            "SELECT base_offset || ':' || record_count || ':' || md5(data) FROM partition_batches \
             WHERE group_id = '{group}' ORDER BY base_offset"
        );
        let out =
            tokio::task::block_in_place(|| self.pg.psql(&db, &sql)).context("query replica")?;
        Ok(out
            .lines()
            .map(str::to_string)
            .filter(|l| !l.is_empty())
            .collect())
    }

    /// The last lines of every broker's log, for failure messages.
    pub fn logs(&self, n: usize) -> String {
        self.brokers
            .iter()
            .map(|b| format!("--- broker-{}\n{}\n", b.node_id(), b.log_tail(n)))
            .collect()
    }
}

/// True when an error means "refused or unknown because no quorum": what a client should see
/// when a majority of replicas is down.
pub fn is_unavailable(e: &SdkError) -> bool {
    matches!(
        e.code(),
        Some(
            ErrorCode::NoQuorum
                | ErrorCode::Timeout
                | ErrorCode::NotLeader
                | ErrorCode::Unavailable
        )
    ) || matches!(e, SdkError::Transport { .. })
}

/// Asks a broker's internal listener, as a manager would, to host a replica.
pub async fn create_replica(
    raft_addr: impl std::fmt::Display,
    topic: &str,
    partition: u32,
    req: &CreatePartitionRequest,
) -> anyhow::Result<()> {
    let http = crate::pki::node_client("manager", crate::pki::TEST_MANAGER_ID)?;
    let path = raftbus_protocol::routes::partition(topic, partition);
    let resp = http
        .put(crate::pki::url(raft_addr, &path))
        .json(req)
        .send()
        .await?;
    let status = resp.status();
    if !status.is_success() {
        anyhow::bail!(
            "creating {topic}/{partition}: HTTP {status}: {}",
            resp.text().await?
        );
    }
    Ok(())
}

/// Fences `group` at `generation` on a partition's leader, through its internal listener as a
/// manager would; an error answer comes back as its JSON body.
pub async fn fence(
    raft_addr: impl std::fmt::Display,
    topic: &str,
    partition: u32,
    group: &str,
    generation: u64,
) -> Result<OffsetResponse, ErrorBody> {
    let transport = |e: &dyn std::fmt::Display| ErrorBody::new(ErrorCode::Internal, e.to_string());
    let http = crate::pki::node_client("manager", crate::pki::TEST_MANAGER_ID)
        .map_err(|e| transport(&e))?;
    let path = raftbus_protocol::routes::partition_fence(topic, partition, group);
    let body = raftbus_protocol::api::FenceRequest {
        generation,
        drop: false,
    };
    let resp = http
        .post(crate::pki::url(raft_addr, &path))
        .json(&body)
        .send()
        .await
        .map_err(|e| transport(&e))?;
    if resp.status().is_success() {
        resp.json().await.map_err(|e| transport(&e))
    } else {
        Err(resp.json().await.map_err(|e| transport(&e))?)
    }
}
