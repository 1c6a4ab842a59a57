//! One producer proc: sends unique values at a fixed rate and records each send's outcome.
//!
//! Every send is recorded as `invoke` *before* it is handed to the SDK, and completes with
//! exactly one of `ok` (acknowledged: partition and offset), `fail` (definitely not written)
//! or `info` (unknown). Getting `fail` wrong is what turns a correct broker into a reported
//! bug (or hides one), so only refusals that cannot have written anything are `fail`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use raftbus_sdk::protocol::ErrorCode;
use raftbus_sdk::{Delivery, Producer, ProducerConfig, Record, SdkError};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{Config, connect_with_retry};
use crate::CrashtestError;
use crate::history::{Event, Func, HistoryWriter, Kind};

/// Extra time, beyond the delivery timeout, for the last deliveries to resolve at shutdown.
const DRAIN_GRACE: Duration = Duration::from_secs(15);

/// The completion type for a failed send: `fail` only for a definite refusal.
///
/// The SDK reports a give-up as [`SdkError::Delivery`] carrying the *last* attempt's code.
/// Retryable codes (`not_leader`, `no_quorum`, ...) and a missing code (transport error) mean
/// it ran out of time retrying, and an earlier attempt may have been committed: `info`. So
/// are `timeout`/`internal` (ambiguous by definition) and `duplicate_sequence` (the sequence
/// is older than the broker remembers: the batch may be in the log). Errors returned before
/// the record was queued (`InvalidArgument`) never reached a broker: `fail`.
pub fn classify(e: &SdkError) -> Kind {
    let code = match e {
        SdkError::Delivery { code, .. } => *code,
        SdkError::InvalidArgument(_) => return Kind::Fail,
        other => other.code(),
    };
    match code {
        Some(c)
            if !c.is_retryable()
                && !matches!(
                    c,
                    ErrorCode::Timeout | ErrorCode::Internal | ErrorCode::DuplicateSequence
                ) =>
        {
            Kind::Fail
        }
        _ => Kind::Info,
    }
}

/// A connected producer proc.
pub(super) struct Sender {
    producer: Producer,
    history: Arc<HistoryWriter>,
    run_id: String,
    proc: String,
    until: Instant,
    drain: Duration,
}

impl Sender {
    pub(super) async fn connect(
        cfg: &Config,
        history: Arc<HistoryWriter>,
        run_id: &str,
        proc: String,
    ) -> Result<Self, CrashtestError> {
        let delivery = Duration::from_secs(cfg.delivery_timeout_secs);
        let pc = ProducerConfig::new(cfg.bootstrap.clone())
            .auto_create_topic(cfg.auto_create)
            .delivery_timeout(delivery);
        let producer =
            connect_with_retry(&proc, || Producer::connect(pc.clone(), &cfg.topic)).await?;
        Ok(Self {
            producer,
            history,
            run_id: run_id.to_string(),
            proc,
            until: Instant::now() + Duration::from_secs(cfg.duration_secs),
            drain: delivery + DRAIN_GRACE,
        })
    }

    /// Sends `rate` records per second until the deadline, then waits (bounded) for every
    /// outcome. Returns `[invoked, ok, fail, info]`.
    pub(super) async fn run(self, rate: f64) -> [u64; 4] {
        let counts = Arc::new(Mutex::new([0u64; 4]));
        // Values handed to the SDK whose outcome is not recorded yet, by sequence.
        let pending = Arc::new(Mutex::new(BTreeMap::<u64, String>::new()));
        let mut deliveries = JoinSet::new();
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut seq = 0u64;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = tokio::time::sleep_until(self.until) => break,
            }
            let value = format!("{}:{}:{seq}", self.run_id, self.proc);
            self.record(Event::new(&self.proc, Kind::Invoke, Func::Send).value(&value));
            counts.lock().expect("counts")[0] += 1;
            // `send` only waits while the SDK's buffer is full; a send abandoned there was
            // never queued, so it definitely did not happen.
            let left = self.until.saturating_duration_since(Instant::now());
            let sent = tokio::time::timeout(left + Duration::from_secs(1), async {
                self.producer.send(Record::new(value.clone())).await
            })
            .await;
            match sent {
                Ok(Ok(delivery)) => {
                    pending.lock().expect("pending").insert(seq, value.clone());
                    let (h, proc) = (self.history.clone(), self.proc.clone());
                    let (counts, pending) = (counts.clone(), pending.clone());
                    deliveries.spawn(async move {
                        let outcome = delivery.await;
                        pending.lock().expect("pending").remove(&seq);
                        let kind = record_outcome(&h, &proc, &value, outcome);
                        counts.lock().expect("counts")[slot(kind)] += 1;
                    });
                }
                // Refused before it was queued (bad record, producer closed): never sent.
                Ok(Err(e)) => self.complete(&counts, &value, Kind::Fail, &e.to_string()),
                Err(_) => self.complete(&counts, &value, Kind::Fail, "not queued: buffer full"),
            }
            seq += 1;
        }
        self.shutdown(deliveries, &pending, &counts).await;
        *counts.lock().expect("counts")
    }

    /// Closes the producer (it sends what is queued) and waits for the outcomes; whatever is
    /// still unresolved after the drain budget is recorded as `info`.
    async fn shutdown(
        self,
        mut deliveries: JoinSet<()>,
        pending: &Mutex<BTreeMap<u64, String>>,
        counts: &Mutex<[u64; 4]>,
    ) {
        let deadline = Instant::now() + self.drain;
        let (history, proc) = (self.history.clone(), self.proc.clone());
        if tokio::time::timeout_at(deadline, self.producer.close())
            .await
            .is_err()
        {
            tracing::warn!(
                proc,
                "producer close did not finish within the drain budget"
            );
        }
        while tokio::time::timeout_at(deadline, deliveries.join_next())
            .await
            .is_ok_and(|r| r.is_some())
        {}
        deliveries.abort_all();
        let left = std::mem::take(&mut *pending.lock().expect("pending"));
        for value in left.into_values() {
            history.record(
                Event::new(&proc, Kind::Info, Func::Send)
                    .value(value)
                    .err("unresolved when the workload stopped waiting"),
            );
            counts.lock().expect("counts")[3] += 1;
        }
    }

    fn record(&self, e: Event) {
        self.history.record(e);
    }

    fn complete(&self, counts: &Mutex<[u64; 4]>, value: &str, kind: Kind, err: &str) {
        self.record(
            Event::new(&self.proc, kind, Func::Send)
                .value(value)
                .err(err),
        );
        counts.lock().expect("counts")[slot(kind)] += 1;
    }
}

/// Index of a completion type in `[invoked, ok, fail, info]`.
fn slot(kind: Kind) -> usize {
    match kind {
        Kind::Invoke => 0,
        Kind::Ok => 1,
        Kind::Fail => 2,
        Kind::Info => 3,
    }
}

fn record_outcome(
    h: &HistoryWriter,
    proc: &str,
    value: &str,
    outcome: Result<Delivery, SdkError>,
) -> Kind {
    match outcome {
        Ok(d) => {
            let e = Event::new(proc, Kind::Ok, Func::Send).part(d.partition);
            // `acks=leader` deliveries carry no offset: the event then has none either.
            let e = match d.offset {
                Some(o) => e.offset(o),
                None => e,
            };
            h.record(e.value(value));
            Kind::Ok
        }
        Err(e) => {
            let kind = classify(&e);
            h.record(
                Event::new(proc, kind, Func::Send)
                    .value(value)
                    .err(e.to_string()),
            );
            kind
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(code: Option<ErrorCode>) -> SdkError {
        SdkError::Delivery {
            partition: 0,
            code,
            message: "x".into(),
        }
    }

    #[test]
    fn only_definite_refusals_are_fail() {
        assert_eq!(classify(&delivery(Some(ErrorCode::BadRequest))), Kind::Fail);
        assert_eq!(classify(&delivery(Some(ErrorCode::TooLarge))), Kind::Fail);
        assert_eq!(
            classify(&SdkError::InvalidArgument("big".into())),
            Kind::Fail
        );
        for c in [
            ErrorCode::Timeout,
            ErrorCode::Internal,
            ErrorCode::NotLeader,
            ErrorCode::NoQuorum,
            ErrorCode::DuplicateSequence,
            ErrorCode::OutOfOrderSequence,
        ] {
            assert_eq!(classify(&delivery(Some(c))), Kind::Info, "{c:?}");
        }
        assert_eq!(classify(&delivery(None)), Kind::Info);
        assert_eq!(classify(&SdkError::Closed), Kind::Info);
    }
}
