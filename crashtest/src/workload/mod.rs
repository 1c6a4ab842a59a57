//! The workload: producers and group consumers through the SDK, recorded as a history, then a
//! final read of every partition.
//!
//! Phases, each bounded in time:
//! 1. producers send at a fixed total rate for `duration_secs` while consumers poll and commit;
//! 2. producers stop and wait for every delivery (bounded by the delivery timeout);
//! 3. consumers commit once more and leave the group;
//! 4. a fresh standalone consumer reads every partition from offset 0 to its high watermark.
//!
//! The workload creates nothing: the topic must exist (or `--auto-create` lets the producer
//! create it with the cluster defaults). Nemesis events arrive on stdin (see [`nemesis`]) so
//! that one process writes the whole history and lines never interleave.

mod consume;
mod final_read;
pub mod nemesis;
mod produce;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use crate::CrashtestError;
use crate::history::HistoryWriter;

/// Longest wait for the consumers to catch up with the producers before they are stopped.
const CONSUMER_DRAIN: Duration = Duration::from_secs(10);

pub use produce::classify;

/// Settings of a run (also the `raftbus-workload` command line).
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "raftbus-workload",
    version,
    about = "Crash-test workload for Raftbus"
)]
pub struct Config {
    /// Managers to bootstrap from (comma-separated host:port).
    #[arg(long, env = "RAFTBUS_BOOTSTRAP")]
    pub bootstrap: String,
    /// Topic to produce to and consume from.
    #[arg(long, default_value = "crash")]
    pub topic: String,
    /// Number of producers (procs p1..pN).
    #[arg(long, default_value_t = 2)]
    pub producers: usize,
    /// Number of group consumers (procs c1..cN).
    #[arg(long, default_value_t = 2)]
    pub consumers: usize,
    /// Records per second, all producers together.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// How long the producers send.
    #[arg(long, default_value_t = 60)]
    pub duration_secs: u64,
    /// Prefix of every value; default `r<unix seconds>`. Letters, digits, `.`, `_`, `-`.
    #[arg(long)]
    pub run_id: Option<String>,
    /// History file (created or truncated).
    #[arg(long)]
    pub history: PathBuf,
    /// Consumer group; default `crash-<run id>` so no earlier run's commits apply.
    #[arg(long)]
    pub group: Option<String>,
    /// Let the producers create the topic with the cluster defaults if it is missing.
    #[arg(long)]
    pub auto_create: bool,
    /// Producer delivery timeout: a record not acknowledged within it completes `info`.
    #[arg(long, default_value_t = 30)]
    pub delivery_timeout_secs: u64,
    /// Budget of the final read.
    #[arg(long, default_value_t = 60)]
    pub final_read_secs: u64,
}

/// What a run did (printed by the binary; the history holds the details).
#[derive(Debug, Default, Clone)]
pub struct Summary {
    /// Run id used for the values.
    pub run_id: String,
    /// Sends invoked / ok / fail / info.
    pub sends: [u64; 4],
    /// Records returned by the consumers' polls.
    pub polled: u64,
    /// Commits verified as ok.
    pub commits: u64,
    /// Records read by the final read.
    pub final_records: u64,
    /// True when the final read reached every high watermark.
    pub final_complete: bool,
    /// Events in the history.
    pub events: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [inv, ok, fail, info] = self.sends;
        write!(
            f,
            "run_id={} sends: invoked={inv} ok={ok} fail={fail} info={info} polled={} \
             commits={} final_read={} final_complete={} events={}",
            self.run_id,
            self.polled,
            self.commits,
            self.final_records,
            self.final_complete,
            self.events
        )
    }
}

/// How long a client may take to connect while the cluster is still coming up.
const CONNECT_BUDGET: Duration = Duration::from_secs(30);

impl Config {
    fn validate(&mut self) -> Result<String, CrashtestError> {
        let run_id = self.run_id.clone().unwrap_or_else(|| {
            let secs = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            format!("r{secs}")
        });
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if run_id.is_empty() || !run_id.chars().all(ok_char) {
            return Err(CrashtestError::Invalid(format!(
                "run id {run_id:?}: use letters, digits, '.', '_' and '-'"
            )));
        }
        if !(self.rate > 0.0 && self.rate.is_finite()) || self.producers == 0 {
            return Err(CrashtestError::Invalid(
                "--rate must be positive and --producers at least 1".into(),
            ));
        }
        self.group.get_or_insert_with(|| format!("crash-{run_id}"));
        self.run_id = Some(run_id.clone());
        Ok(run_id)
    }
}

/// Runs the whole workload and returns its summary. Errors are setup failures (no cluster, no
/// topic, unwritable history); faults during the run are recorded, not returned.
pub async fn run(mut cfg: Config) -> Result<Summary, CrashtestError> {
    let run_id = cfg.validate()?;
    let history = Arc::new(HistoryWriter::create(&cfg.history)?);
    nemesis::spawn_stdin_reader(history.clone());
    let cfg = Arc::new(cfg);
    let (stop_tx, stop_rx) = watch::channel(false);

    let mut consumers = Vec::new();
    let progress = Arc::new(AtomicU64::new(0));
    for n in 1..=cfg.consumers {
        let name = format!("c{n}");
        let c =
            consume::GroupConsumer::connect(&cfg, history.clone(), name, progress.clone()).await?;
        consumers.push(tokio::spawn(c.run(stop_rx.clone())));
    }
    let per_producer = cfg.rate / cfg.producers as f64;
    let mut producers = Vec::new();
    for n in 1..=cfg.producers {
        let p = produce::Sender::connect(&cfg, history.clone(), &run_id, format!("p{n}")).await?;
        producers.push(tokio::spawn(p.run(per_producer)));
    }

    let mut summary = Summary {
        run_id,
        ..Summary::default()
    };
    for p in producers {
        let s = p.await.unwrap_or_default();
        for (total, n) in summary.sends.iter_mut().zip(s) {
            *total += n;
        }
    }
    // Let the consumers catch up (at least as many polls as acknowledged sends), bounded: the
    // history then shows them reading the last deliveries. Completeness itself is checked by
    // the final read below, so a timeout here is not an error.
    let acked = summary.sends[1];
    let drain_until = tokio::time::Instant::now() + CONSUMER_DRAIN;
    while cfg.consumers > 0
        && progress.load(Ordering::Relaxed) < acked
        && tokio::time::Instant::now() < drain_until
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop_tx.send(true);
    for c in consumers {
        let (polled, commits) = c.await.unwrap_or_default();
        summary.polled += polled;
        summary.commits += commits;
    }

    let budget = Duration::from_secs(cfg.final_read_secs);
    let (records, complete) = final_read::run(&cfg, &history, budget).await?;
    summary.final_records = records;
    summary.final_complete = complete;
    summary.events = history.len();
    history.finish()?;
    Ok(summary)
}

/// Retries `connect` until it succeeds or [`CONNECT_BUDGET`] runs out (the cluster may still
/// be electing leaders when the workload starts).
async fn connect_with_retry<T, F, Fut>(what: &str, mut connect: F) -> Result<T, CrashtestError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, raftbus_sdk::SdkError>>,
{
    let deadline = tokio::time::Instant::now() + CONNECT_BUDGET;
    loop {
        match connect().await {
            Ok(v) => return Ok(v),
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %e, "{what}: connect failed, retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(source) => {
                return Err(CrashtestError::Sdk {
                    context: format!("{what}: connect"),
                    source: Box::new(source),
                });
            }
        }
    }
}
