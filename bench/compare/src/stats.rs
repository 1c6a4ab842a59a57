//! Latency and throughput accounting, printing the same `RESULT ...` line as Raftbus's
//! `producer perf` and `consumer perf` so `scripts/bench.sh` parses all three alike.

use std::time::{Duration, Instant};

/// Per-message latencies (publish → ack) and ack arrival times of one publish run.
pub struct PublishStats {
    start: Instant,
    latencies_us: Vec<u32>,
    acked_at_us: Vec<u64>,
    bytes: u64,
    /// Publishes that failed for good (with `--retry`: still unacknowledged after 60 s).
    pub failed: u64,
}

impl PublishStats {
    /// Starts the clock.
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            latencies_us: Vec::with_capacity(1 << 20),
            acked_at_us: Vec::with_capacity(1 << 20),
            bytes: 0,
            failed: 0,
        }
    }

    /// One message of `bytes` bytes, published at `sent`, acknowledged at `acked`.
    pub fn record(&mut self, sent: Instant, acked: Instant, bytes: usize) {
        let lat = acked.saturating_duration_since(sent).as_micros();
        self.latencies_us
            .push(u32::try_from(lat).unwrap_or(u32::MAX));
        let at = acked.saturating_duration_since(self.start).as_micros();
        self.acked_at_us.push(u64::try_from(at).unwrap_or(u64::MAX));
        self.bytes += bytes as u64;
    }

    /// `RESULT records=... rec_per_s=... mb_per_s=... p50_ms=... p99_ms=... max_ms=...
    /// max_gap_ms=... failed=...`; `max_gap_ms` is the longest time between two consecutive
    /// acknowledgements or from the last one to the end of the run (the failover figure).
    pub fn result_line(mut self) -> String {
        let secs = self.start.elapsed().as_secs_f64().max(1e-9);
        let end_us = u64::try_from(self.start.elapsed().as_micros()).unwrap_or(0);
        self.latencies_us.sort_unstable();
        self.acked_at_us.sort_unstable();
        let n = self.latencies_us.len() as u64;
        let pct = |p: f64| {
            let v = &self.latencies_us;
            if v.is_empty() {
                0.0
            } else {
                f64::from(v[((p * v.len() as f64) as usize).min(v.len() - 1)]) / 1000.0
            }
        };
        let tail = self
            .acked_at_us
            .last()
            .map_or(0, |&last| end_us.saturating_sub(last));
        let max_gap = self
            .acked_at_us
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or(0)
            .max(tail);
        format!(
            "RESULT records={n} rec_per_s={:.1} mb_per_s={:.2} p50_ms={:.2} p99_ms={:.2} \
             max_ms={:.2} max_gap_ms={:.1} failed={}",
            n as f64 / secs,
            self.bytes as f64 / secs / (1024.0 * 1024.0),
            pct(0.5),
            pct(0.99),
            pct(1.0),
            max_gap as f64 / 1000.0,
            self.failed
        )
    }
}

/// The `RESULT` line of a consume run that read `records` messages of `bytes` bytes in total,
/// `elapsed` from the start to the last message.
pub fn consume_line(records: u64, bytes: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-9);
    format!(
        "RESULT records={records} rec_per_s={:.1} mb_per_s={:.2} elapsed_s={secs:.3}",
        records as f64 / secs,
        bytes as f64 / secs / (1024.0 * 1024.0)
    )
}
