//! RabbitMQ: quorum queue setup, publish with publisher confirms, consume with manual acks.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

use crate::publish::{Ack, Plan, Sink};

/// Connects to `uri` on the tokio runtime.
async fn connect_one(uri: &str) -> Result<Connection, String> {
    let props = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio::current());
    Connection::connect(uri, props)
        .await
        .map_err(|e| format!("connecting to {uri}: {e}"))
}

/// Connects to the first of `uris` (comma-separated) that answers, starting at `from`;
/// returns the connection and the index it used.
async fn connect(uris: &[String], from: usize) -> Result<(Connection, usize), String> {
    let mut last = String::new();
    for k in 0..uris.len() {
        let i = (from + k) % uris.len();
        match tokio::time::timeout(Duration::from_secs(2), connect_one(&uris[i])).await {
            Ok(Ok(c)) => return Ok((c, i)),
            Ok(Err(e)) => last = e,
            Err(_) => last = format!("connecting to {}: timed out", uris[i]),
        }
    }
    Err(last)
}

fn split(uris: &str) -> Vec<String> {
    uris.split(',').map(str::to_string).collect()
}

/// Declares durable quorum queue `queue` (idempotent).
pub async fn setup(uris: &str, queue: &str) -> Result<(), String> {
    let (conn, _) = connect(&split(uris), 0).await?;
    let ch = conn.create_channel().await.map_err(|e| e.to_string())?;
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(LongString::from("quorum")),
    );
    ch.queue_declare(
        queue,
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        args,
    )
    .await
    .map_err(|e| format!("declaring {queue}: {e}"))?;
    let _ = conn.close(200, "done").await;
    Ok(())
}

/// Publishes persistent messages to a queue through the default exchange, with publisher
/// confirms (a quorum queue confirms once a majority has the message fsynced).
pub struct RabbitSink {
    uris: Vec<String>,
    at: usize,
    queue: String,
    conn: Connection,
    channel: Channel,
}

async fn confirm_channel(conn: &Connection) -> Result<Channel, String> {
    let ch = conn.create_channel().await.map_err(|e| e.to_string())?;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    Ok(ch)
}

impl RabbitSink {
    /// Connects to the first answering node of `uris`.
    pub async fn new(uris: &str, queue: &str) -> Result<Self, String> {
        let uris = split(uris);
        let (conn, at) = connect(&uris, 0).await?;
        let channel = confirm_channel(&conn).await?;
        Ok(Self {
            uris,
            at,
            queue: queue.to_string(),
            conn,
            channel,
        })
    }
}

impl Sink for RabbitSink {
    async fn send(&mut self, _seq: u64, payload: Bytes) -> Result<Ack, String> {
        let confirm = self
            .channel
            .basic_publish(
                "",
                &self.queue,
                BasicPublishOptions::default(),
                &payload,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(Box::pin(async move {
            match confirm.await {
                Ok(Confirmation::Ack(_)) => Ok(()),
                Ok(other) => Err(format!("not confirmed: {other:?}")),
                Err(e) => Err(e.to_string()),
            }
        }))
    }

    /// A new channel on the same connection if it is still up, else a new connection to the
    /// next node (the client has no automatic failover of its own).
    async fn recover(&mut self) {
        if self.conn.status().connected()
            && let Ok(ch) = confirm_channel(&self.conn).await
        {
            self.channel = ch;
            return;
        }
        if let Ok((conn, at)) = connect(&self.uris, self.at + 1).await
            && let Ok(ch) = confirm_channel(&conn).await
        {
            (self.conn, self.at, self.channel) = (conn, at, ch);
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Publishes per `plan`; returns the RESULT line.
pub async fn publish(uris: &str, queue: &str, plan: &Plan) -> Result<String, String> {
    let mut sink = RabbitSink::new(uris, queue).await?;
    let line = crate::publish::run(&mut sink, plan).await.result_line();
    let _ = sink.conn.close(200, "done").await;
    Ok(line)
}

/// Reads `messages` messages with prefetch 2,000 and a cumulative ack every 1,000 (like an
/// offset commit).
pub async fn consume(uris: &str, queue: &str, messages: u64) -> Result<String, String> {
    let (conn, _) = connect(&split(uris), 0).await?;
    let ch = conn.create_channel().await.map_err(|e| e.to_string())?;
    ch.basic_qos(2_000, BasicQosOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut consumer = ch
        .basic_consume(
            queue,
            "bench-consumer",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| e.to_string())?;
    let (mut n, mut bytes, mut last) = (0u64, 0u64, started);
    while n < messages {
        let d = match tokio::time::timeout(Duration::from_secs(10), consumer.next()).await {
            Ok(Some(Ok(d))) => d,
            Ok(Some(Err(e))) => return Err(format!("after {n} messages: {e}")),
            Ok(None) | Err(_) => {
                return Err(format!("no message for 10 s after {n} of {messages}"));
            }
        };
        n += 1;
        bytes += d.data.len() as u64;
        last = Instant::now();
        if n % 1_000 == 0 || n == messages {
            d.acker
                .ack(BasicAckOptions { multiple: true })
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    let _ = conn.close(200, "done").await;
    Ok(crate::stats::consume_line(n, bytes, last - started))
}
