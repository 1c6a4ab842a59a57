//! Producer configuration (builder style; every default documented).

use std::time::Duration;

use raftbus_protocol::api::PRODUCER_WINDOW;

/// When a send counts as acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Acks {
    /// Committed by Raft: durable in Postgres on a majority of the partition's replicas. The
    /// only mode with offsets and the only one that survives a leader crash. Default.
    #[default]
    All,
    /// Accepted by the leader into its Raft pipeline, before it is durable anywhere: faster,
    /// and a leader crash can lose it. No offsets are returned.
    Leader,
}

/// Settings of a [`super::Producer`].
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    /// Managers to bootstrap from (comma-separated `host:port`).
    pub bootstrap: String,
    /// How long a partition's batch waits for more records before it is sent while earlier
    /// batches are in flight (default 5 ms). With nothing in flight a batch goes at once.
    pub linger: Duration,
    /// A batch is sent as soon as it reaches this size (default 256 KiB).
    pub batch_bytes: usize,
    /// Batches in flight per partition (default 1, at most [`PRODUCER_WINDOW`], 8: the broker
    /// remembers that many last sequences per producer, which is what makes retries of in-flight batches safe). One is
    /// fastest against Raftbus: the next batch grows while one is in flight, and a partition's
    /// Raft group costs the same per entry whatever its size (see `scripts/bench.sh`).
    pub max_in_flight: usize,
    /// Bytes of records accepted but not yet acknowledged; `send` waits beyond it (default
    /// 32 MiB). This is the producer's only buffer: memory stays bounded.
    pub buffer_bytes: usize,
    /// Acknowledgement mode (default [`Acks::All`]).
    pub acks: Acks,
    /// Idempotent sends: every batch carries the producer id and a per-partition sequence, so
    /// retries never duplicate (default true).
    pub idempotent: bool,
    /// A record not acknowledged within this time after `send` fails (default 30 s).
    pub delivery_timeout: Duration,
    /// Timeout of one produce request (default 10 s).
    pub request_timeout: Duration,
    /// Create the topic with the cluster defaults if it does not exist (default true).
    pub auto_create_topic: bool,
    /// Largest record (key + value) accepted (default 1 MiB).
    pub max_record_bytes: usize,
    /// Heartbeat to the managers (default 1 s).
    pub heartbeat_interval: Duration,
}

impl ProducerConfig {
    /// Defaults for a cluster reachable through `bootstrap`.
    pub fn new(bootstrap: impl Into<String>) -> Self {
        Self {
            bootstrap: bootstrap.into(),
            linger: Duration::from_millis(5),
            batch_bytes: 256 << 10,
            max_in_flight: 1,
            buffer_bytes: 32 << 20,
            acks: Acks::All,
            idempotent: true,
            delivery_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(10),
            auto_create_topic: true,
            max_record_bytes: 1 << 20,
            heartbeat_interval: Duration::from_secs(1),
        }
    }

    /// Sets [`ProducerConfig::linger`].
    pub fn linger(mut self, v: Duration) -> Self {
        self.linger = v;
        self
    }

    /// Sets [`ProducerConfig::batch_bytes`].
    pub fn batch_bytes(mut self, v: usize) -> Self {
        self.batch_bytes = v;
        self
    }

    /// Sets [`ProducerConfig::max_in_flight`] (clamped to 1..=[`PRODUCER_WINDOW`]).
    pub fn max_in_flight(mut self, v: usize) -> Self {
        self.max_in_flight = v.clamp(1, PRODUCER_WINDOW);
        self
    }

    /// Sets [`ProducerConfig::buffer_bytes`].
    pub fn buffer_bytes(mut self, v: usize) -> Self {
        self.buffer_bytes = v;
        self
    }

    /// Sets [`ProducerConfig::acks`].
    pub fn acks(mut self, v: Acks) -> Self {
        self.acks = v;
        self
    }

    /// Sets [`ProducerConfig::idempotent`].
    pub fn idempotent(mut self, v: bool) -> Self {
        self.idempotent = v;
        self
    }

    /// Sets [`ProducerConfig::delivery_timeout`].
    pub fn delivery_timeout(mut self, v: Duration) -> Self {
        self.delivery_timeout = v;
        self
    }

    /// Sets [`ProducerConfig::request_timeout`].
    pub fn request_timeout(mut self, v: Duration) -> Self {
        self.request_timeout = v;
        self
    }

    /// Sets [`ProducerConfig::auto_create_topic`].
    pub fn auto_create_topic(mut self, v: bool) -> Self {
        self.auto_create_topic = v;
        self
    }

    /// Sets [`ProducerConfig::max_record_bytes`].
    pub fn max_record_bytes(mut self, v: usize) -> Self {
        self.max_record_bytes = v;
        self
    }
}
