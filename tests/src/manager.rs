//! A `manager` process for tests, and a full cluster (managers + brokers) built on it.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::bail;

use crate::process::{Daemon, bin_path};
use crate::{BrokerProcess, PgServer, free_port, wait_until};

/// Ports of one manager, allocated before any manager starts (each needs all peers).
#[derive(Debug, Clone, Copy)]
pub struct ManagerPorts {
    /// Node id.
    pub id: u64,
    /// Client API address.
    pub api: SocketAddr,
    /// Raft address.
    pub raft: SocketAddr,
}

impl ManagerPorts {
    /// Free loopback ports for manager `id`.
    pub fn allocate(id: u64) -> Self {
        Self {
            id,
            api: SocketAddr::from(([127, 0, 0, 1], free_port())),
            raft: SocketAddr::from(([127, 0, 0, 1], free_port())),
        }
    }
}

/// The `cluster.peers` value for a set of managers.
pub fn peers_arg(all: &[ManagerPorts]) -> String {
    all.iter()
        .map(|p| format!("{}/{}/{}", p.id, p.api, p.raft))
        .collect::<Vec<_>>()
        .join(",")
}

/// One `manager serve` node, restartable on the same ports and database.
pub struct ManagerProcess {
    /// Its ports.
    pub ports: ManagerPorts,
    daemon: Daemon,
}

impl ManagerProcess {
    /// Describes (does not start) a manager; `env` adds settings such as
    /// `RAFTBUS_HEARTBEAT__TIMEOUT_MS`.
    pub fn new(
        ports: ManagerPorts,
        peers: &str,
        db_url: &str,
        log_dir: &Path,
        env: Vec<(String, String)>,
    ) -> anyhow::Result<Self> {
        let mut env = env;
        env.extend(crate::pki::node_env("manager", ports.id)?);
        let args = vec![
            "serve".into(),
            "--node-id".into(),
            ports.id.to_string(),
            "--api-addr".into(),
            ports.api.to_string(),
            "--raft-addr".into(),
            ports.raft.to_string(),
            "--database-url".into(),
            db_url.into(),
            "--peers".into(),
            peers.into(),
        ];
        let name = format!("manager-{}", ports.id);
        let log = log_dir.join(format!("{name}.log"));
        Ok(Self {
            ports,
            daemon: Daemon::new(name, bin_path("manager")?, args, env, log),
        })
    }

    /// Starts (or restarts) it.
    pub fn start(&mut self) -> anyhow::Result<()> {
        self.daemon.start()
    }

    /// The process, for exit status and signals.
    pub fn daemon_mut(&mut self) -> &mut Daemon {
        &mut self.daemon
    }

    /// Adds environment for the next start (a later value of a key wins), e.g. to restart it
    /// with another setting.
    pub fn add_env(&mut self, env: &[(String, String)]) {
        self.daemon.add_env(env);
    }

    /// SIGKILL.
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        self.daemon.kill9()
    }

    /// `host:port` of its API.
    pub fn addr(&self) -> String {
        self.ports.api.to_string()
    }

    /// `host:port` of its internal listener (Raft and broker heartbeats).
    pub fn internal_addr(&self) -> String {
        self.ports.raft.to_string()
    }

    /// End of its log.
    pub fn log_tail(&self, n: usize) -> String {
        self.daemon.log_tail(n)
    }

    /// Waits until `/health` answers.
    pub async fn wait_healthy(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let url = crate::pki::url(self.addr(), raftbus_protocol::routes::HEALTH);
        let client = crate::pki::client();
        let r = wait_until(
            &format!("manager-{} healthy", self.ports.id),
            timeout,
            Duration::from_millis(100),
            || {
                let (c, u) = (client.clone(), url.clone());
                async move {
                    c.get(u)
                        .timeout(Duration::from_secs(2))
                        .send()
                        .await
                        .ok()
                        .filter(|r| r.status().is_success())
                        .map(|_| ())
                }
            },
        )
        .await;
        if let Err(e) = r {
            bail!("{e:#}; log:\n{}", self.log_tail(30));
        }
        Ok(())
    }
}

/// Starts `n` managers sharing `pg` (one database each), healthy; returns them.
pub async fn start_managers(
    pg: &PgServer,
    n: u64,
    log_dir: &Path,
    env: &[(String, String)],
) -> anyhow::Result<Vec<ManagerProcess>> {
    let ports: Vec<ManagerPorts> = (1..=n).map(ManagerPorts::allocate).collect();
    let peers = peers_arg(&ports);
    let mut managers = Vec::new();
    for p in &ports {
        let url = pg.create_database(&format!("manager_{}", p.id))?;
        let mut m = ManagerProcess::new(*p, &peers, &url, log_dir, env.to_vec())?;
        m.start()?;
        managers.push(m);
    }
    for m in &mut managers {
        m.wait_healthy(Duration::from_secs(30)).await?;
    }
    Ok(managers)
}

/// Starts `n` brokers heartbeating to `managers`.
pub async fn start_brokers(
    pg: &PgServer,
    n: u64,
    log_dir: &Path,
    managers: &str,
) -> anyhow::Result<Vec<BrokerProcess>> {
    start_brokers_with_env(pg, n, log_dir, managers, &[]).await
}

/// [`start_brokers`] with extra environment for every broker (e.g. `RAFTBUS_RETENTION__...`).
pub async fn start_brokers_with_env(
    pg: &PgServer,
    n: u64,
    log_dir: &Path,
    managers: &str,
    env: &[(String, String)],
) -> anyhow::Result<Vec<BrokerProcess>> {
    start_brokers_kafka(pg, n, log_dir, managers, env, None).await
}

/// [`start_brokers_with_env`], with Kafka listeners answering metadata from `kafka` (the
/// managers' client API addresses) when given.
async fn start_brokers_kafka(
    pg: &PgServer,
    n: u64,
    log_dir: &Path,
    managers: &str,
    env: &[(String, String)],
    kafka: Option<&str>,
) -> anyhow::Result<Vec<BrokerProcess>> {
    let mut brokers = Vec::new();
    for id in 1..=n {
        let url = pg.create_database(&format!("broker_{id}"))?;
        let extra = vec!["--managers".to_string(), managers.to_string()];
        let mut b = BrokerProcess::with_args(id, &url, log_dir, extra)?;
        b.daemon_mut().add_env(env);
        if let Some(k) = kafka {
            b.enable_kafka(k);
        }
        brokers.push(b);
    }
    for b in &mut brokers {
        b.start()?;
    }
    for b in &mut brokers {
        b.wait_healthy(Duration::from_secs(30)).await?;
    }
    Ok(brokers)
}

/// Managers and brokers on one throwaway Postgres; everything stops on drop.
pub struct ManagedCluster {
    /// Managers, index `i` is `manager-{i+1}`.
    pub managers: Vec<ManagerProcess>,
    /// Brokers, index `i` is `broker-{i+1}`.
    pub brokers: Vec<BrokerProcess>,
    /// Admin client over all managers.
    pub admin: raftbus_sdk::Admin,
    /// Broker API client.
    pub client: raftbus_sdk::BrokerClient,
    /// Postgres.
    pub pg: PgServer,
    /// Logs.
    pub dir: tempfile::TempDir,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

impl ManagedCluster {
    /// Starts `m` managers then `b` brokers pointed at them, all healthy; `env` goes to the
    /// managers.
    pub async fn start(m: u64, b: u64, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        Self::start_with_env(m, b, env, &[]).await
    }

    /// [`ManagedCluster::start`] with separate environments for managers and brokers.
    pub async fn start_with_env(
        m: u64,
        b: u64,
        env: &[(&str, &str)],
        broker_env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        Self::start_inner(m, b, env, broker_env, false).await
    }

    /// [`ManagedCluster::start_with_env`] with every broker's Kafka listener on
    /// ([`BrokerProcess::kafka_addr`]).
    pub async fn start_kafka(
        m: u64,
        b: u64,
        env: &[(&str, &str)],
        broker_env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        Self::start_inner(m, b, env, broker_env, true).await
    }

    async fn start_inner(
        m: u64,
        b: u64,
        env: &[(&str, &str)],
        broker_env: &[(&str, &str)],
        kafka: bool,
    ) -> anyhow::Result<Self> {
        let slot = crate::cluster::slots()
            .acquire_owned()
            .await
            .expect("semaphore open");
        let pg = tokio::task::spawn_blocking(PgServer::start).await??;
        let dir = tempfile::Builder::new()
            .prefix("raftbus-managed-")
            .tempdir()?;
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let managers = start_managers(&pg, m, dir.path(), &env).await?;
        let bootstrap = managers
            .iter()
            .map(ManagerProcess::addr)
            .collect::<Vec<_>>()
            .join(",");
        let internal = managers
            .iter()
            .map(ManagerProcess::internal_addr)
            .collect::<Vec<_>>()
            .join(",");
        let broker_env: Vec<(String, String)> = broker_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let kafka = kafka.then_some(bootstrap.as_str());
        let brokers =
            start_brokers_kafka(&pg, b, dir.path(), &internal, &broker_env, kafka).await?;
        let admin = raftbus_sdk::Admin::new(&bootstrap)?;
        let client = raftbus_sdk::BrokerClient::new(Duration::from_secs(15));
        // Brokers are discovered by their heartbeats: wait until every one is registered.
        wait_until(
            "every broker registered and alive",
            Duration::from_secs(30),
            Duration::from_millis(100),
            || async {
                let list = admin.brokers().await.ok()?;
                (list.len() == b as usize && list.iter().all(|x| x.alive)).then_some(())
            },
        )
        .await?;
        Ok(Self {
            managers,
            brokers,
            admin,
            client,
            pg,
            dir,
            _slot: slot,
        })
    }

    /// Comma-separated manager addresses.
    pub fn bootstrap(&self) -> String {
        self.managers
            .iter()
            .map(ManagerProcess::addr)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Comma-separated addresses of the managers' internal listeners (what brokers use).
    pub fn internal_bootstrap(&self) -> String {
        self.managers
            .iter()
            .map(ManagerProcess::internal_addr)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Waits until the managers agree on a write manager; returns its index.
    pub async fn write_manager(&self, timeout: Duration) -> anyhow::Result<usize> {
        use raftbus_protocol::meta::ManagerRole;
        wait_until(
            "a write manager",
            timeout,
            Duration::from_millis(100),
            || async {
                let list = self.admin.managers().await.ok()?;
                let w = list.iter().find(|m| m.role == ManagerRole::Write)?;
                self.managers.iter().position(|m| m.ports.id == w.id)
            },
        )
        .await
    }

    /// Comma-separated Kafka listener addresses of the brokers.
    pub fn kafka_bootstrap(&self) -> String {
        self.brokers
            .iter()
            .map(|b| b.kafka_addr().to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Every process's log tail.
    pub fn logs(&self, n: usize) -> String {
        let m = self
            .managers
            .iter()
            .map(|m| format!("--- manager-{}\n{}\n", m.ports.id, m.log_tail(n)));
        let b = self
            .brokers
            .iter()
            .map(|b| format!("--- broker-{}\n{}\n", b.node_id(), b.log_tail(n)));
        m.chain(b).collect()
    }
}
