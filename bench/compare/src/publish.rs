//! The publish loop shared by both systems: at most `window` messages awaiting their ack, an
//! optional rate, a time limit, and a one-at-a-time retry mode for failover measurements.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};

use crate::stats::PublishStats;

/// A message's acknowledgement: resolves when the server confirmed it (or refused it).
pub type Ack = BoxFuture<'static, Result<(), String>>;

/// One messaging system's publisher.
#[allow(async_fn_in_trait)] // used only here, single-threaded: no Send bound needed
pub trait Sink {
    /// Hands message number `seq` to the client; the returned future is its ack.
    async fn send(&mut self, seq: u64, payload: Bytes) -> Result<Ack, String>;
    /// After a failed attempt in retry mode: e.g. reconnect to the next server.
    async fn recover(&mut self);
}

/// What to publish.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Bytes per message.
    pub size: usize,
    /// Messages awaiting their ack at most.
    pub window: usize,
    /// Messages per second at most (`None`: as fast as the window allows).
    pub rate: Option<f64>,
    /// Stop publishing after this long.
    pub duration: Duration,
    /// One at a time, retrying each message until it is acknowledged (failover runs).
    pub retry: bool,
    /// Longest wait for one attempt's ack in retry mode.
    pub attempt_timeout: Duration,
}

/// Runs `plan` against `sink`; the statistics are complete when it returns.
pub async fn run<S: Sink>(sink: &mut S, plan: &Plan) -> PublishStats {
    let payloads = payload_buffer(plan.size + 64);
    let mut stats = PublishStats::new();
    let start = Instant::now();
    let deadline = start + plan.duration;
    let mut inflight = FuturesUnordered::new();
    let mut seq = 0u64;
    let mut errors_shown = 0;
    while Instant::now() < deadline {
        if let Some(rate) = plan.rate {
            let due = start + Duration::from_secs_f64(seq as f64 / rate);
            let sleep = tokio::time::sleep_until(due.into());
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = &mut sleep => break,
                    Some(done) = inflight.next(), if !inflight.is_empty() => account(&mut stats, done, plan.size),
                }
            }
        }
        let at = (seq % 64) as usize;
        let payload = payloads.slice(at..at + plan.size);
        let sent = Instant::now();
        if plan.retry {
            loop {
                let attempt = async {
                    let ack = sink.send(seq, payload.clone()).await?;
                    ack.await
                };
                match tokio::time::timeout(plan.attempt_timeout, attempt).await {
                    Ok(Ok(())) => {
                        stats.record(sent, Instant::now(), plan.size);
                        break;
                    }
                    failed => {
                        if errors_shown < 5 {
                            errors_shown += 1;
                            let why = failed.map_or_else(
                                |_| "ack timeout".to_string(),
                                |r| r.err().unwrap_or_default(),
                            );
                            eprintln!(
                                "attempt for message {seq} failed after {:?}: {why}",
                                sent.elapsed()
                            );
                        }
                        if sent.elapsed() > Duration::from_secs(60) {
                            stats.failed += 1;
                            break;
                        }
                        sink.recover().await;
                    }
                }
            }
        } else {
            match sink.send(seq, payload).await {
                Ok(ack) => inflight.push(async move { (sent, ack.await) }),
                Err(e) => {
                    stats.failed += 1;
                    if errors_shown < 5 {
                        errors_shown += 1;
                        eprintln!("publish {seq} failed: {e}");
                    }
                }
            }
            while inflight.len() >= plan.window {
                if let Some(done) = inflight.next().await {
                    account(&mut stats, done, plan.size);
                }
            }
        }
        seq += 1;
    }
    while let Some(done) = inflight.next().await {
        account(&mut stats, done, plan.size);
    }
    stats
}

fn account(stats: &mut PublishStats, (sent, result): (Instant, Result<(), String>), size: usize) {
    match result {
        Ok(()) => stats.record(sent, Instant::now(), size),
        Err(e) => {
            if stats.failed < 5 {
                eprintln!("ack failed: {e}");
            }
            stats.failed += 1;
        }
    }
}

/// Pseudo-random uppercase letters, so the payloads are not one repeated value.
fn payload_buffer(len: usize) -> Bytes {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let data: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b'A' + (x % 26) as u8
        })
        .collect();
    Bytes::from(data)
}
