//! `producer perf`: sends `--num-records` synthetic records of `--record-size` bytes, at most
//! `--throughput` per second, and reports throughput and per-record latency (from the call to
//! `send` to the acknowledgement) like Kafka's `kafka-producer-perf-test`, then one
//! `RESULT ...` line for scripts (`scripts/bench.sh`).

use std::time::{Duration, Instant};

use raftbus_sdk::{Producer, Record, SdkError};
use tokio::task::{JoinError, JoinSet};

use crate::args::PerfArgs;
use crate::error::{CliError, Failures};
use crate::stats::Stats;

/// Distinct payloads: offsets into one buffer, so the data is not one repeated value.
const PAYLOADS: usize = 64;

/// A delivery's result, its latency and when it arrived.
type Outcome = (Result<raftbus_sdk::Delivery, SdkError>, Duration, Instant);

/// Runs the benchmark; prints progress every 5 s and the summary at the end. At most
/// `--window` deliveries are outstanding; each is awaited by its own small task, so a latency
/// is measured when the acknowledgement arrives, not when an earlier record's does.
pub async fn run(args: PerfArgs) -> Result<(), CliError> {
    let connect = &args.connect;
    let producer = Producer::connect(crate::producer_config(connect), connect.topic()).await?;
    let buffer = payload_buffer(args.record_size + PAYLOADS);
    let mut stats = Stats::new(args.num_records);
    let mut failures = Failures::default();
    let mut pending: JoinSet<Outcome> = JoinSet::new();
    let started = Instant::now();
    let size = args.record_size;
    let window = usize::try_from(args.window).unwrap_or(usize::MAX);
    let deadline = args
        .duration_secs
        .map(|s| started + Duration::from_secs_f64(s.max(0.0)));
    let mut sent_total = 0;

    for i in 0..args.num_records {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        sent_total = i + 1;
        if args.throughput > 0.0 {
            let due = started + Duration::from_secs_f64(i as f64 / args.throughput);
            tokio::time::sleep_until(due.into()).await;
        }
        let at = (i as usize) % PAYLOADS;
        let sent = Instant::now();
        match producer.send(Record::new(&buffer[at..at + size])).await {
            Ok(delivery) => {
                pending.spawn(async move {
                    let result = delivery.await;
                    let now = Instant::now();
                    (result, now.duration_since(sent), now)
                });
            }
            Err(e) => failures.add(i + 1, &e),
        }
        while let Some(done) = pending.try_join_next() {
            account(done, &mut stats, &mut failures, size);
        }
        while pending.len() >= window {
            if let Some(done) = pending.join_next().await {
                account(done, &mut stats, &mut failures, size);
            }
        }
        if let Some(line) = stats.progress() {
            println!("{line}");
        }
    }
    while let Some(done) = pending.join_next().await {
        account(done, &mut stats, &mut failures, size);
        if let Some(line) = stats.progress() {
            println!("{line}");
        }
    }
    producer.close().await?;
    println!("{}", stats.summary(failures.count));
    failures.into_result(sent_total)
}

/// Adds one finished delivery to the statistics or the failures.
fn account(
    done: Result<Outcome, JoinError>,
    stats: &mut Stats,
    failures: &mut Failures,
    size: usize,
) {
    let n = stats_records(stats, failures);
    match done {
        Ok((Ok(_), latency, at)) => stats.record(latency, size, at),
        Ok((Err(e), _, _)) => failures.add(n, &e),
        Err(e) => failures.add(n, &e),
    }
}

/// Records accounted so far plus one: the position quoted for a failure (completion order).
fn stats_records(stats: &Stats, failures: &Failures) -> u64 {
    stats.records() + failures.count + 1
}

/// A buffer of pseudo-random uppercase letters (like Kafka's perf payloads), leaked on
/// purpose: it lives as long as the process, and `&'static` slices become records without a
/// copy.
fn payload_buffer(len: usize) -> &'static [u8] {
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    let mut x = seed.map_or(0, |d| d.as_nanos() as u64) | 1;
    let data: Vec<u8> = (0..len)
        .map(|_| {
            // xorshift64: plenty for filler bytes, no dependency needed.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b'A' + (x % 26) as u8
        })
        .collect();
    Box::leak(data.into_boxed_slice())
}
