//! Command-line arguments of `consumer`, kept apart from `main` so the binary stays a thin
//! "parse, then call" shim and the flags are documented in one place.

use clap::{Args, Parser, Subcommand};
use raftbus_sdk::ResetPolicy;

/// `consumer`: Kafka console-consumer conventions (one record value per line on stdout).
#[derive(Debug, Parser)]
#[command(
    name = "consumer",
    version,
    about = "Raftbus consumer: prints the records of a topic, one per line",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    /// Console mode (the default when no subcommand is given).
    #[command(flatten)]
    pub console: ConsoleArgs,
    /// `perf`: the read throughput benchmark.
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
    /// Read records from the beginning as fast as possible and report the throughput.
    Perf(PerfArgs),
}

/// Where to read from; shared by console and perf modes.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// Managers to bootstrap from (comma-separated host:port; any live one suffices).
    #[arg(long, env = "RAFTBUS_BOOTSTRAP", default_value = "127.0.0.1:9081")]
    pub bootstrap: String,
    /// Topic to read.
    #[arg(long, required = true)]
    pub topic: Option<String>,
}

impl ConnectArgs {
    /// The topic; clap enforces presence, so the fallback is never used in practice.
    pub fn topic(&self) -> &str {
        self.topic.as_deref().unwrap_or_default()
    }
}

/// `--reset`: the SDK's [`ResetPolicy`] as a flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Reset {
    /// Continue from the first stored record.
    Earliest,
    /// Continue from the end.
    Latest,
    /// Stop with the `offset_out_of_range` error.
    Fail,
}

impl From<Reset> for ResetPolicy {
    fn from(r: Reset) -> Self {
        match r {
            Reset::Earliest => ResetPolicy::Earliest,
            Reset::Latest => ResetPolicy::Latest,
            Reset::Fail => ResetPolicy::Fail,
        }
    }
}

/// Console mode.
#[derive(Debug, Clone, Args)]
pub struct ConsoleArgs {
    /// Cluster and topic.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Consumer group: partitions are shared with the group's other members and offsets are
    /// committed (a committed offset wins over --from-beginning).
    #[arg(long, conflicts_with = "partition")]
    pub group: Option<String>,
    /// Read only this partition (without a group; default: all partitions).
    #[arg(long)]
    pub partition: Option<u32>,
    /// Start at this offset of --partition.
    #[arg(long, requires = "partition", conflicts_with = "from_beginning")]
    pub offset: Option<u64>,
    /// Start at the first stored record instead of the end.
    #[arg(long)]
    pub from_beginning: bool,
    /// When the position is no longer stored (retention moved the log start past it):
    /// continue from the earliest stored record, from the end, or fail.
    #[arg(long, value_enum, default_value_t = Reset::Earliest)]
    pub reset: Reset,
    /// Exit after printing this many records.
    #[arg(long, value_name = "N")]
    pub max_messages: Option<u64>,
    /// Exit when no new record arrived for this long (default: run until Ctrl-C).
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,
    /// Print the key (`null` when absent) and a TAB before the value.
    #[arg(long)]
    pub print_key: bool,
    /// Print `partition<TAB>offset<TAB>` before each record.
    #[arg(long)]
    pub print_offset: bool,
    /// Print the producer timestamp (ms since the epoch) and a TAB before the headers.
    #[arg(long)]
    pub print_timestamp: bool,
    /// Print the headers (`name:value` joined by `,`, `null` for a null value, `NO_HEADERS`
    /// when there are none, as Kafka's console consumer does) and a TAB before the key.
    #[arg(long)]
    pub print_headers: bool,
    /// Report assignment changes and a final count on stderr.
    #[arg(long, short)]
    pub verbose: bool,
}

/// `consumer perf`.
#[derive(Debug, Clone, Args)]
pub struct PerfArgs {
    /// Cluster and topic.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// How many records to read.
    #[arg(long)]
    pub messages: u64,
    /// Read as a member of this group (default: all partitions, no group).
    #[arg(long)]
    pub group: Option<String>,
    /// Give up when no new record arrived for this long.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub timeout_ms: u64,
}
