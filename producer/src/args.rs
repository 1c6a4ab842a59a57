//! Command-line arguments of `producer`, kept apart from `main` so the binary stays a thin
//! "parse, then call" shim and the flags are documented in one place.

use clap::{Args, Parser, Subcommand, ValueEnum};
use raftbus_sdk::Header;

/// `producer`: Kafka console-producer conventions (records from stdin, one per line).
#[derive(Debug, Parser)]
#[command(
    name = "producer",
    version,
    about = "Raftbus producer: sends stdin lines (or --value) as records to a topic",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    /// Console mode (the default when no subcommand is given).
    #[command(flatten)]
    pub console: ConsoleArgs,
    /// `perf`: the throughput/latency benchmark.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// PEM file of the cluster CA: connect over TLS, trusting only certificates it signed
    /// (`scripts/cluster.sh up` prints the path). Without it: plain HTTP (insecure clusters).
    #[arg(long, env = "RAFTBUS_CA_CERT", global = true)]
    pub ca_cert: Option<std::path::PathBuf>,
    /// Access token naming this client's principal (`manager user add` prints one).
    #[arg(long, env = "RAFTBUS_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send synthetic records as fast as allowed and report throughput and latency.
    Perf(PerfArgs),
}

/// Where to send and how to batch; shared by console and perf modes.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// Managers to bootstrap from (comma-separated host:port; any live one suffices).
    #[arg(long, env = "RAFTBUS_BOOTSTRAP", default_value = "127.0.0.1:9081")]
    pub bootstrap: String,
    /// Topic to send to.
    #[arg(long, required = true)]
    pub topic: Option<String>,
    /// Acknowledgement: `all` (committed on a majority, with offsets) or `leader`.
    #[arg(long, value_enum, default_value_t = AcksArg::All)]
    pub acks: AcksArg,
    /// How long a batch waits for more records before it is sent.
    #[arg(long, default_value_t = 5)]
    pub linger_ms: u64,
    /// A batch is sent as soon as it reaches this many bytes.
    #[arg(long, default_value_t = 262_144)]
    pub batch_bytes: usize,
    /// Batches in flight per partition (1..=8). Fewer means larger batches under load.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=8))]
    pub max_in_flight: u64,
    /// Fail instead of creating the topic when it does not exist.
    #[arg(long)]
    pub no_auto_create: bool,
}

impl ConnectArgs {
    /// The topic; clap enforces presence, so the fallback is never used in practice.
    pub fn topic(&self) -> &str {
        self.topic.as_deref().unwrap_or_default()
    }
}

/// `--acks` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AcksArg {
    /// Committed by Raft on a majority of replicas.
    All,
    /// Accepted by the leader (no offsets, may be lost on a leader crash).
    Leader,
}

/// Console mode.
#[derive(Debug, Clone, Args)]
pub struct ConsoleArgs {
    /// Connection and batching.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Send this one record instead of reading stdin.
    #[arg(long)]
    pub value: Option<String>,
    /// Text before the first SEP is the key; a line without SEP has no key.
    #[arg(long, value_name = "SEP", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub key_separator: Option<String>,
    /// Send every record to this partition (instead of by key hash or round robin).
    #[arg(long)]
    pub partition: Option<u32>,
    /// Print `partition<TAB>offset` per record to stdout, in input order.
    #[arg(long)]
    pub print_offsets: bool,
    /// Add the header NAME with VALUE to every record (repeatable; text up to the first `=`
    /// is the name, the rest the value, which may be empty).
    #[arg(long = "header", value_name = "NAME=VALUE", value_parser = crate::input::parse_header)]
    pub headers: Vec<Header>,
}

/// `producer perf`.
#[derive(Debug, Clone, Args)]
pub struct PerfArgs {
    /// Connection and batching.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// How many records to send.
    #[arg(long)]
    pub num_records: u64,
    /// Bytes per record value.
    #[arg(long)]
    pub record_size: usize,
    /// Upper bound in records/s; -1 means unlimited.
    #[arg(long, default_value_t = -1.0, allow_negative_numbers = true)]
    pub throughput: f64,
    /// Records awaiting acknowledgement at most: 256 mimics a client with 256 publishes in
    /// flight, 1 (with `--linger-ms 0`) sends one at a time.
    #[arg(long, default_value_t = 65_536, value_parser = clap::value_parser!(u64).range(1..))]
    pub window: u64,
    /// Stop sending after this many seconds even if `--num-records` is not reached (for
    /// failover measurements, which run for a time rather than a count).
    #[arg(long, value_name = "SECS")]
    pub duration_secs: Option<f64>,
}
