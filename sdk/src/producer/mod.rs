//! The producer: batching per partition, bounded memory, idempotent retries.
//!
//! `send` puts a record in its partition's queue and returns a [`DeliveryFuture`]. One task
//! per partition ([`worker`]) groups records into batches (linger, batch size), gives each
//! batch the next sequence number, and keeps up to `max_in_flight` batches in flight. A batch
//! that fails with a retryable error (`not_leader`, timeout, connection loss) is retried with
//! the same producer id and sequence until the delivery timeout: the broker returns the
//! original offsets for a batch it already has and refuses a batch whose predecessor is
//! missing, so retries neither duplicate nor reorder.

mod config;
mod worker;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use raftbus_protocol::Header;
use raftbus_protocol::meta::ProducerHeartbeat;
use raftbus_protocol::names::partition_for_key;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use config::{Acks, ProducerConfig};

use crate::routes::Routes;
use crate::{Admin, BrokerClient, SdkError};

/// A record to send.
#[derive(Debug, Clone)]
pub struct Record {
    /// Optional key: records with the same key go to the same partition, in order.
    pub key: Option<Bytes>,
    /// The payload.
    pub value: Bytes,
    /// Explicit partition (overrides the key).
    pub partition: Option<u32>,
    /// Record headers (application metadata beside the value, as Kafka's), in order.
    pub headers: Vec<Header>,
}

impl Record {
    /// A record without a key.
    pub fn new(value: impl Into<Bytes>) -> Self {
        Self {
            key: None,
            value: value.into(),
            partition: None,
            headers: Vec::new(),
        }
    }

    /// A keyed record.
    pub fn with_key(key: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        Self {
            key: Some(key.into()),
            value: value.into(),
            partition: None,
            headers: Vec::new(),
        }
    }

    /// Sends to an explicit partition.
    pub fn to_partition(mut self, partition: u32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Adds a header (a name may repeat; order is kept).
    pub fn with_header(mut self, key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        self.headers.push(Header::new(key, value));
        self
    }

    /// Bytes of key, value and headers: what `max_record_bytes` and the buffer count.
    fn size(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|h| h.key.len() + h.value.as_ref().map_or(0, Bytes::len))
            .sum();
        self.key.as_ref().map_or(0, Bytes::len) + self.value.len() + headers
    }
}

/// Where an acknowledged record was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// Partition.
    pub partition: u32,
    /// Offset in the partition; `None` with [`Acks::Leader`], which returns no offsets.
    pub offset: Option<u64>,
}

/// Resolves when the record is acknowledged (or definitively failed).
pub struct DeliveryFuture(oneshot::Receiver<Result<Delivery, SdkError>>);

impl Future for DeliveryFuture {
    type Output = Result<Delivery, SdkError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(SdkError::Closed)))
    }
}

/// A record waiting in its partition's queue.
pub(crate) struct Pending {
    key: Option<Bytes>,
    value: Bytes,
    headers: Vec<Header>,
    /// [`Record::size`], for batch-size decisions.
    size: usize,
    timestamp_ms: u64,
    enqueued: Instant,
    /// Buffer space held until the record is resolved (backpressure).
    _permit: tokio::sync::OwnedSemaphorePermit,
    tx: oneshot::Sender<Result<Delivery, SdkError>>,
}

/// What the partition workers share.
pub(crate) struct Shared {
    pub(crate) config: ProducerConfig,
    pub(crate) topic: String,
    pub(crate) routes: Routes,
    pub(crate) client: BrokerClient,
}

/// A producer for one topic. Cheap to share behind an `Arc`; `send` takes `&self`.
pub struct Producer {
    shared: Arc<Shared>,
    queues: Vec<mpsc::Sender<Pending>>,
    workers: Vec<tokio::task::JoinHandle<()>>,
    buffer: Arc<Semaphore>,
    round_robin: AtomicU32,
    cancel: CancellationToken,
    heartbeat: tokio::task::JoinHandle<()>,
    /// Cancels `cancel` when the producer is dropped without `close`: its heartbeat stops
    /// with it (records still queued are sent by the workers, whose queues close too).
    _stop: tokio_util::sync::DropGuard,
}

impl Producer {
    /// Connects to the cluster and loads the topic's partitions (creating the topic if
    /// configured to). Fails fast on a wrong bootstrap or an unknown topic.
    pub async fn connect(config: ProducerConfig, topic: &str) -> Result<Producer, SdkError> {
        let admin = Admin::new(&config.bootstrap)?;
        let routes = Routes::load(admin.clone(), topic, config.auto_create_topic).await?;
        let producer_id = Uuid::new_v4();
        let hb = ProducerHeartbeat {
            producer_id,
            topic: topic.to_string(),
        };
        admin.register_producer(&hb).await?;
        let client = BrokerClient::new(config.request_timeout);
        let n = routes.partitions();
        let shared = Arc::new(Shared {
            config: config.clone(),
            topic: topic.to_string(),
            routes,
            client,
        });
        let mut queues = Vec::new();
        let mut workers = Vec::new();
        for p in 0..n {
            let (tx, rx) = mpsc::channel(4096);
            queues.push(tx);
            workers.push(tokio::spawn(worker::run(
                shared.clone(),
                p,
                producer_id,
                rx,
            )));
        }
        let cancel = CancellationToken::new();
        let heartbeat = tokio::spawn(heartbeat(
            admin,
            hb,
            config.heartbeat_interval,
            cancel.clone(),
        ));
        let buffer = Arc::new(Semaphore::new(
            config.buffer_bytes.max(config.max_record_bytes),
        ));
        Ok(Producer {
            shared,
            queues,
            workers,
            buffer,
            round_robin: AtomicU32::new(0),
            _stop: cancel.clone().drop_guard(),
            cancel,
            heartbeat,
        })
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.shared.topic
    }

    /// Number of partitions.
    pub fn partitions(&self) -> u32 {
        self.queues.len() as u32
    }

    /// Queues a record; waits only while the buffer is full. The returned future resolves when
    /// the record is acknowledged.
    pub async fn send(&self, record: Record) -> Result<DeliveryFuture, SdkError> {
        let size = record.size();
        let max = self.shared.config.max_record_bytes;
        if size > max {
            return Err(SdkError::InvalidArgument(format!(
                "record of {size} bytes exceeds max_record_bytes ({max})"
            )));
        }
        let n = self.partitions();
        let partition = match (record.partition, &record.key) {
            (Some(p), _) if p >= n => {
                return Err(SdkError::InvalidArgument(format!(
                    "partition {p} does not exist (topic has {n})"
                )));
            }
            (Some(p), _) => p,
            (None, Some(k)) => partition_for_key(k, n),
            (None, None) => self.round_robin.fetch_add(1, Ordering::Relaxed) % n,
        };
        let permits = u32::try_from(size.max(1)).unwrap_or(u32::MAX);
        let permit = self
            .buffer
            .clone()
            .acquire_many_owned(permits)
            .await
            .map_err(|_| SdkError::Closed)?;
        let (tx, rx) = oneshot::channel();
        let timestamp_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let pending = Pending {
            key: record.key,
            value: record.value,
            headers: record.headers,
            size,
            timestamp_ms,
            enqueued: Instant::now(),
            _permit: permit,
            tx,
        };
        self.queues[partition as usize]
            .send(pending)
            .await
            .map_err(|_| SdkError::Closed)?;
        Ok(DeliveryFuture(rx))
    }

    /// Sends what is queued and waits until every record is resolved, then stops.
    pub async fn close(self) -> Result<(), SdkError> {
        drop(self.queues); // workers drain, send the rest, and exit
        for w in self.workers {
            let _ = w.await;
        }
        self.cancel.cancel();
        let _ = self.heartbeat.await;
        Ok(())
    }
}

/// Producer heartbeat loop: keeps the producer registered while it lives.
async fn heartbeat(
    admin: Admin,
    hb: ProducerHeartbeat,
    every: std::time::Duration,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {
                if let Err(e) = admin.producer_heartbeat(&hb).await {
                    tracing::debug!(error = %e, "producer heartbeat failed");
                }
            }
        }
    }
}
