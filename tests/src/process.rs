//! Real Raftbus binaries as child processes.
//!
//! Tests run the actual `broker` (and later `manager`) executables so that crashes are real
//! crashes: `kill -9` loses everything not yet durable. [`Daemon`] holds the generic spawning
//! logic (binary, arguments, environment, an append-only log file, SIGKILL, restart);
//! [`BrokerProcess`] adds the broker's ports, database and health check on top of it.

use std::fs::OpenOptions;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::ports::free_port;
use crate::tail_file;
use crate::wait::{wait_until, wait_until_blocking};

/// Path of a workspace binary: `$RAFTBUS_BIN_DIR/NAME`, else next to the test executable's
/// parent (tests live in `target/<profile>/deps/`, binaries in `target/<profile>/`).
/// Cargo does not build bins of other packages for `cargo test -p raftbus-tests`, hence the
/// explicit hint instead of a confusing spawn error.
pub fn bin_path(name: &str) -> anyhow::Result<PathBuf> {
    let dir = match std::env::var_os("RAFTBUS_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let exe = std::env::current_exe().context("locating the test executable")?;
            exe.parent()
                .and_then(Path::parent)
                .with_context(|| format!("{} has no grandparent directory", exe.display()))?
                .to_path_buf()
        }
    };
    let path = dir.join(name);
    if !path.is_file() {
        bail!(
            "binary `{name}` not found at {}; run `cargo build --bins` first \
             (or point RAFTBUS_BIN_DIR at the directory holding it)",
            path.display()
        );
    }
    Ok(path)
}

/// A long-running child process whose stdout and stderr are appended to one log file, so all
/// incarnations (start, kill, restart) of one node end up in the same place. Dropping it
/// kills the process with SIGKILL: no test may leave processes behind.
pub struct Daemon {
    name: String,
    bin: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    log_path: PathBuf,
    child: Option<Child>,
}

impl Daemon {
    /// Describes a process; nothing is started until [`Daemon::start`].
    pub fn new(
        name: impl Into<String>,
        bin: PathBuf,
        args: Vec<String>,
        env: Vec<(String, String)>,
        log_path: PathBuf,
    ) -> Self {
        let (name, child) = (name.into(), None);
        Self {
            name,
            bin,
            args,
            env,
            log_path,
            child,
        }
    }

    /// Adds environment variables for every later start (e.g. `RAFTBUS_RAFT__...` settings).
    pub fn add_env(&mut self, env: &[(String, String)]) {
        self.env.extend_from_slice(env);
    }

    /// Starts the process with the configured arguments. Inherited `RAFTBUS_*` variables are
    /// removed so a developer's shell cannot silently reconfigure test nodes.
    pub fn start(&mut self) -> anyhow::Result<()> {
        if self.is_running() {
            bail!("{} is already running (pid {:?})", self.name, self.pid());
        }
        let mut log = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.log_path)?;
        let (name, bin, args) = (&self.name, self.bin.display(), self.args.join(" "));
        writeln!(log, "==== [raftbus-tests] starting {name}: {bin} {args}")?;
        let mut cmd = Command::new(&self.bin);
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("RAFTBUS_") {
                cmd.env_remove(key);
            }
        }
        // Output goes to a file that tests print: no ANSI colours (tracing honours NO_COLOR).
        cmd.env("NO_COLOR", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        let child = cmd
            .spawn()
            .with_context(|| format!("spawning {} ({})", self.name, self.bin.display()))?;
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL (what `Child::kill` sends on Unix) and reap; a no-op if it is not running.
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            let killed = child.kill().and_then(|()| child.wait());
            killed.with_context(|| format!("killing {}", self.name))?;
        }
        Ok(())
    }

    /// Sends SIGTERM (graceful shutdown) without waiting; pair with [`Daemon::wait_exit`].
    pub fn sigterm(&mut self) -> anyhow::Result<()> {
        self.signal("TERM")
    }

    /// Sends a signal by name (`TERM`, `STOP` to freeze the process like a hung host, `CONT`
    /// to thaw it) without waiting.
    pub fn signal(&mut self, name: &str) -> anyhow::Result<()> {
        let pid = self
            .pid()
            .with_context(|| format!("{} is not running", self.name))?;
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(pid.to_string())
            .status()?;
        if !status.success() {
            bail!("kill -{name} {pid} ({}) failed: {status}", self.name);
        }
        Ok(())
    }

    /// Blocks until the process exited (bounded by `timeout`) and returns its exit status.
    pub fn wait_exit(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let what = format!("{} to exit", self.name);
        let status = wait_until_blocking(&what, timeout, Duration::from_millis(20), || {
            self.exit_status()
        })?;
        self.child = None;
        Ok(status)
    }

    /// Exit status if the process was started and has exited since; `None` while running.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Whether the process was started and has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// Pid of the current incarnation, if started.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Last `n` lines of the log, for printing when a test fails.
    pub fn log_tail(&self, n: usize) -> String {
        tail_file(&self.log_path, n)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Err(e) = self.kill9() {
            eprintln!("raftbus-tests: failed to kill {}: {e:#}", self.name);
        }
    }
}

/// One `broker` node: fixed node id, ports and database for its whole life, so that
/// [`BrokerProcess::start`] after [`BrokerProcess::kill9`] brings back *the same* node.
pub struct BrokerProcess {
    node_id: u64,
    api_addr: SocketAddr,
    raft_addr: SocketAddr,
    /// Allocated always; listened on only after [`BrokerProcess::enable_kafka`].
    kafka_addr: SocketAddr,
    db_url: String,
    daemon: Daemon,
}

impl BrokerProcess {
    /// Allocates free ports for node `node_id` without starting it; logs go to
    /// `log_dir/broker-<id>.log`.
    pub fn new(node_id: u64, db_url: &str, log_dir: &Path) -> anyhow::Result<Self> {
        Self::with_args(node_id, db_url, log_dir, Vec::new())
    }

    /// Like [`BrokerProcess::new`], with extra command-line arguments (e.g. `--managers`).
    pub fn with_args(
        node_id: u64,
        db_url: &str,
        log_dir: &Path,
        extra: Vec<String>,
    ) -> anyhow::Result<Self> {
        let bin = bin_path("broker")?;
        let api_addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let raft_addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let kafka_addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let args = format!("--node-id {node_id} --api-addr {api_addr} --raft-addr {raft_addr}");
        let mut args: Vec<String> = args.split(' ').map(String::from).collect();
        args.extend(["--database-url".to_string(), db_url.to_string()]);
        args.extend(extra);
        // RUST_LOG is inherited; unset, the broker's default applies.
        let env = crate::pki::node_env("broker", node_id)?;
        let log_path = log_dir.join(format!("broker-{node_id}.log"));
        let name = format!("broker-{node_id}");
        let (daemon, db_url) = (Daemon::new(name, bin, args, env, log_path), db_url.into());
        Ok(Self {
            node_id,
            api_addr,
            raft_addr,
            kafka_addr,
            db_url,
            daemon,
        })
    }

    /// [`BrokerProcess::new`] and [`BrokerProcess::start`]; does not wait for readiness.
    pub fn spawn(node_id: u64, db_url: &str, log_dir: &Path) -> anyhow::Result<Self> {
        let mut broker = Self::new(node_id, db_url, log_dir)?;
        broker.start()?;
        Ok(broker)
    }

    /// (Re)starts the node with its original ports and database.
    pub fn start(&mut self) -> anyhow::Result<()> {
        self.daemon.start()
    }

    /// Crashes the node with SIGKILL and reaps it.
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        self.daemon.kill9()
    }

    pub fn is_running(&mut self) -> bool {
        self.daemon.is_running()
    }

    /// Polls `GET /health` until it answers 2xx and returns its JSON body. Fails early if the
    /// process exits, and includes the log tail in every error.
    pub async fn wait_healthy(&mut self, timeout: Duration) -> anyhow::Result<serde_json::Value> {
        let client = crate::pki::client();
        let url = format!("{}/health", self.api_url());
        let what = format!("{} at {url} to report healthy", self.daemon.name);
        let daemon = &mut self.daemon;
        let outcome = wait_until(&what, timeout, Duration::from_millis(100), || {
            // Ok(Ok(json)) = healthy, Ok(Err(_)) = process died (stop polling), Err = not yet.
            let exited = daemon.exit_status();
            let (client, url) = (client.clone(), url.clone());
            async move {
                if let Some(status) = exited {
                    return Ok(Err(format!("process exited with {status}")));
                }
                let resp = client
                    .get(&url)
                    .timeout(Duration::from_secs(2))
                    .send()
                    .await;
                let resp = resp.map_err(|e| format!("{:#}", anyhow::Error::new(e)))?;
                if !resp.status().is_success() {
                    return Err(format!("HTTP {}", resp.status()));
                }
                Ok(Ok(resp.json().await.unwrap_or(serde_json::Value::Null)))
            }
        })
        .await;
        let tail = || self.log_tail(40);
        match outcome {
            Ok(Ok(json)) => Ok(json),
            Ok(Err(died)) => bail!("{what}: {died}; log tail:\n{}", tail()),
            Err(e) => bail!("{e:#}; log tail:\n{}", tail()),
        }
    }

    /// Base URL of the client API, e.g. `https://127.0.0.1:41234`.
    pub fn api_url(&self) -> String {
        crate::pki::url(self.api_addr, "")
    }

    pub fn node_id(&self) -> u64 {
        self.node_id
    }

    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    pub fn raft_addr(&self) -> SocketAddr {
        self.raft_addr
    }

    /// The Kafka listener's address (serving only after [`BrokerProcess::enable_kafka`]).
    pub fn kafka_addr(&self) -> SocketAddr {
        self.kafka_addr
    }

    /// Turns the Kafka listener on for the next start, answering metadata from `managers`
    /// (their client API addresses).
    pub fn enable_kafka(&mut self, managers: &str) {
        self.daemon.add_env(&[
            (
                "RAFTBUS_KAFKA__LISTEN_ADDR".into(),
                self.kafka_addr.to_string(),
            ),
            ("RAFTBUS_KAFKA__MANAGERS".into(), managers.to_string()),
        ]);
    }

    pub fn db_url(&self) -> &str {
        &self.db_url
    }

    /// Last `n` lines of this node's log across all its incarnations.
    pub fn log_tail(&self, n: usize) -> String {
        self.daemon.log_tail(n)
    }

    /// Pid of the running broker, if started (to signal it without `&mut`).
    pub fn daemon_pid(&self) -> Option<u32> {
        self.daemon.pid()
    }

    /// The underlying process: pid, log path, [`Daemon::sigterm`], [`Daemon::wait_exit`].
    pub fn daemon_mut(&mut self) -> &mut Daemon {
        &mut self.daemon
    }
}
