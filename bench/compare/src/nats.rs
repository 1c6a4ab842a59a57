//! NATS JetStream: stream setup, leader lookup, publish (JetStream acks) and a pull consumer.

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer, message::PublishMessage, stream};
use bytes::Bytes;
use futures::StreamExt;

use crate::publish::{Ack, Plan, Sink};

/// Connects to any of `servers` (comma-separated `nats://host:port`); the client reconnects to
/// another one by itself when its server goes away.
pub async fn connect(servers: &str) -> Result<jetstream::Context, String> {
    let addrs = servers
        .split(',')
        .map(|s| {
            s.parse::<async_nats::ServerAddr>()
                .map_err(|e| format!("{s}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(addrs)
        .await
        .map_err(|e| format!("connecting to {servers}: {e}"))?;
    Ok(jetstream::new(client))
}

/// Creates stream `name` (subjects `name.>`, file storage, `replicas` replicas) unless it exists.
/// Retried for up to 60 s: a fresh cluster answers health checks before its JetStream meta
/// group has a leader, and requests time out until then.
pub async fn setup(servers: &str, name: &str, replicas: usize) -> Result<(), String> {
    let js = connect(servers).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let created = js
            .get_or_create_stream(stream::Config {
                name: name.to_string(),
                subjects: vec![format!("{name}.>")],
                num_replicas: replicas,
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await;
        match created {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() >= deadline => {
                return Err(format!("creating stream {name}: {e}"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// The server name of the stream's current leader.
pub async fn leader(servers: &str, name: &str) -> Result<String, String> {
    let js = connect(servers).await?;
    let mut s = js.get_stream(name).await.map_err(|e| e.to_string())?;
    let info = s.info().await.map_err(|e| e.to_string())?;
    info.cluster
        .as_ref()
        .and_then(|c| c.leader.clone())
        .ok_or_else(|| format!("stream {name} has no leader"))
}

/// Publishes to one subject; each message carries a `Nats-Msg-Id` so a retry is deduplicated.
pub struct NatsSink {
    js: jetstream::Context,
    subject: String,
    run: String,
}

impl NatsSink {
    /// A publisher on `subject`.
    pub async fn new(servers: &str, subject: &str) -> Result<Self, String> {
        let run = format!("{:x}", std::process::id());
        Ok(Self {
            js: connect(servers).await?,
            subject: subject.to_string(),
            run,
        })
    }
}

impl Sink for NatsSink {
    async fn send(&mut self, seq: u64, payload: Bytes) -> Result<Ack, String> {
        let publish = PublishMessage::build()
            .payload(payload)
            .message_id(format!("{}-{seq}", self.run));
        let ack = self
            .js
            .send_publish(self.subject.clone(), publish)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Box::pin(async move {
            ack.await.map(|_| ()).map_err(|e| e.to_string())
        }))
    }

    async fn recover(&mut self) {
        tokio::time::sleep(Duration::from_millis(10)).await; // the client reconnects by itself
    }
}

/// Publishes per `plan`; returns the RESULT line.
pub async fn publish(servers: &str, subject: &str, plan: &Plan) -> Result<String, String> {
    let mut sink = NatsSink::new(servers, subject).await?;
    Ok(crate::publish::run(&mut sink, plan).await.result_line())
}

/// Reads `messages` messages from the start of `stream` with a durable pull consumer, acking
/// cumulatively (AckPolicy::All) every 1,000 messages like an offset commit.
pub async fn consume(servers: &str, stream: &str, messages: u64) -> Result<String, String> {
    let js = connect(servers).await?;
    let s = js.get_stream(stream).await.map_err(|e| e.to_string())?;
    let c = s
        .get_or_create_consumer(
            "bench-consumers",
            consumer::pull::Config {
                durable_name: Some("bench-consumers".to_string()),
                ack_policy: consumer::AckPolicy::All,
                max_ack_pending: 100_000,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut msgs = c
        .stream()
        .max_messages_per_batch(1_000)
        .messages()
        .await
        .map_err(|e| e.to_string())?;
    let (mut n, mut bytes, mut last) = (0u64, 0u64, started);
    while n < messages {
        let next = tokio::time::timeout(Duration::from_secs(10), msgs.next()).await;
        let msg = match next {
            Ok(Some(Ok(m))) => m,
            Ok(Some(Err(e))) => return Err(format!("after {n} messages: {e}")),
            Ok(None) | Err(_) => {
                return Err(format!("no message for 10 s after {n} of {messages}"));
            }
        };
        n += 1;
        bytes += msg.payload.len() as u64;
        last = Instant::now();
        if n % 1_000 == 0 || n == messages {
            msg.ack().await.map_err(|e| e.to_string())?;
        }
    }
    Ok(crate::stats::consume_line(n, bytes, last - started))
}
