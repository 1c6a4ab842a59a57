//! `consumer perf`: reads `--messages` records from the beginning as fast as possible and
//! reports the throughput, like Kafka's `kafka-consumer-perf-test`, then one `RESULT ...`
//! line for scripts (`scripts/bench.sh`), in the same style as `producer perf`'s.

use std::time::{Duration, Instant};

use raftbus_sdk::{ResetPolicy, StartFrom};

use crate::args::PerfArgs;
use crate::error::CliError;

/// Longest single poll, so the idle timeout is checked often enough.
const POLL: Duration = Duration::from_millis(500);

/// Runs the benchmark; an error when `--timeout-ms` passes without a record before the count
/// is reached (after printing what was read).
pub async fn run(args: PerfArgs) -> Result<(), CliError> {
    let connect = &args.connect;
    let mut consumer = crate::connect(
        &connect.bootstrap,
        connect.topic(),
        args.group.clone(),
        None,
        StartFrom::Earliest,
        ResetPolicy::Earliest,
    )
    .await?;
    let idle_limit = Duration::from_millis(args.timeout_ms);
    let started = Instant::now();
    let mut last_record = started;
    let (mut records, mut bytes) = (0u64, 0u64);
    let mut failure = None;
    while records < args.messages {
        let wait = idle_limit.saturating_sub(last_record.elapsed());
        if wait.is_zero() {
            failure = Some(CliError::Incomplete(format!(
                "no new record for {} ms: read {records} of {} records",
                args.timeout_ms, args.messages
            )));
            break;
        }
        match consumer.poll(wait.min(POLL)).await {
            Ok(batch) if !batch.is_empty() => {
                last_record = Instant::now();
                records += batch.len() as u64;
                bytes += batch
                    .iter()
                    .map(|r| (r.value.len() + r.key.as_ref().map_or(0, |k| k.len())) as u64)
                    .sum::<u64>();
            }
            Ok(_) => {}
            Err(e) => {
                failure = Some(e.into());
                break;
            }
        }
    }
    let secs = last_record.duration_since(started).as_secs_f64().max(1e-9);
    let (rps, mbps) = (
        records as f64 / secs,
        bytes as f64 / secs / (1024.0 * 1024.0),
    );
    println!("{records} records, {rps:.1} records/sec, {mbps:.2} MB/sec, elapsed {secs:.2} s");
    println!("RESULT records={records} rec_per_s={rps:.1} mb_per_s={mbps:.2} elapsed_s={secs:.3}");
    let closed = consumer.close().await;
    match failure {
        Some(e) => Err(e),
        None => Ok(closed?),
    }
}
