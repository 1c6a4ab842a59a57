//! Consumer configuration (builder style; every default documented).

use std::time::Duration;

/// Where to start reading a partition that has no committed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartFrom {
    /// The first stored record.
    Earliest,
    /// The end: only records produced from now on (default, as in Kafka).
    #[default]
    Latest,
    /// An explicit offset.
    Offset(u64),
}

/// What to do when the position is no longer stored (retention moved the log start past it)
/// or is beyond the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResetPolicy {
    /// Continue from the first stored record (default).
    #[default]
    Earliest,
    /// Continue from the end.
    Latest,
    /// Fail `poll` with the `offset_out_of_range` error.
    Fail,
}

/// Settings of a [`super::Consumer`].
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// Managers to bootstrap from.
    pub bootstrap: String,
    /// Consumer group: partitions are shared among its members and offsets are committed.
    /// `None` for a standalone consumer (explicit partitions, nothing committed).
    pub group: Option<String>,
    /// Start position without a committed offset (default [`StartFrom::Latest`]).
    pub start: StartFrom,
    /// Reset policy for out-of-range positions (default [`ResetPolicy::Earliest`]).
    pub reset: ResetPolicy,
    /// Commit automatically at most this often, at the start of `poll` (what earlier polls
    /// returned counts as processed). `None` disables it (default 1 s).
    pub auto_commit: Option<Duration>,
    /// Long-poll wait of one fetch (default 500 ms).
    pub fetch_wait: Duration,
    /// Bytes per partition per fetch (default 4 MiB).
    pub fetch_max_bytes: u64,
    /// Group heartbeat interval (default 1 s).
    pub heartbeat_interval: Duration,
}

impl ConsumerConfig {
    /// Defaults for a cluster reachable through `bootstrap`.
    pub fn new(bootstrap: impl Into<String>) -> Self {
        Self {
            bootstrap: bootstrap.into(),
            group: None,
            start: StartFrom::Latest,
            reset: ResetPolicy::Earliest,
            auto_commit: Some(Duration::from_secs(1)),
            fetch_wait: Duration::from_millis(500),
            fetch_max_bytes: 4 << 20,
            heartbeat_interval: Duration::from_secs(1),
        }
    }

    /// Sets [`ConsumerConfig::group`].
    pub fn group(mut self, group: Option<String>) -> Self {
        self.group = group;
        self
    }

    /// Sets [`ConsumerConfig::start`].
    pub fn start(mut self, start: StartFrom) -> Self {
        self.start = start;
        self
    }

    /// Sets [`ConsumerConfig::reset`].
    pub fn reset(mut self, reset: ResetPolicy) -> Self {
        self.reset = reset;
        self
    }

    /// Sets [`ConsumerConfig::auto_commit`].
    pub fn auto_commit(mut self, every: Option<Duration>) -> Self {
        self.auto_commit = every;
        self
    }

    /// Sets [`ConsumerConfig::fetch_wait`].
    pub fn fetch_wait(mut self, wait: Duration) -> Self {
        self.fetch_wait = wait;
        self
    }

    /// Sets [`ConsumerConfig::fetch_max_bytes`].
    pub fn fetch_max_bytes(mut self, bytes: u64) -> Self {
        self.fetch_max_bytes = bytes;
        self
    }
}
