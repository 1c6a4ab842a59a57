//! Latency and throughput accounting for `producer perf`, printing the same lines as Kafka's
//! `kafka-producer-perf-test` so results can be compared side by side.

use std::time::{Duration, Instant};

/// How often a progress line is printed.
const REPORT_EVERY: Duration = Duration::from_secs(5);
/// Samples kept at most (12 bytes each): beyond this only the running figures are updated.
const MAX_SAMPLES: usize = 50_000_000;
/// Samples reserved up front; the buffers grow beyond it (a time-limited run names a huge
/// record count it never reaches).
const INITIAL_SAMPLES: usize = 1 << 20;

/// Running totals over one interval (the whole run, or one progress window).
#[derive(Debug, Clone, Copy)]
struct Totals {
    start: Instant,
    records: u64,
    bytes: u64,
    sum_us: u64,
    max_us: u32,
}

impl Totals {
    fn new(start: Instant) -> Self {
        Self {
            start,
            records: 0,
            bytes: 0,
            sum_us: 0,
            max_us: 0,
        }
    }

    fn add(&mut self, latency_us: u32, bytes: usize) {
        self.records += 1;
        self.bytes += bytes as u64;
        self.sum_us += u64::from(latency_us);
        self.max_us = self.max_us.max(latency_us);
    }

    /// `N records sent, X records/sec (Y MB/sec), A ms avg latency, M ms max latency`.
    fn line(&self, now: Instant, decimals: usize) -> String {
        let secs = now.duration_since(self.start).as_secs_f64().max(1e-9);
        let rps = self.records as f64 / secs;
        let mbps = self.bytes as f64 / secs / (1024.0 * 1024.0);
        let avg = self.sum_us as f64 / self.records.max(1) as f64 / 1000.0;
        let max = f64::from(self.max_us) / 1000.0;
        format!(
            "{} records sent, {rps:.1} records/sec ({mbps:.2} MB/sec), \
             {avg:.decimals$} ms avg latency, {max:.decimals$} ms max latency",
            self.records
        )
    }
}

/// Per-record latencies (send → acknowledgement) and throughput of a perf run.
pub struct Stats {
    total: Totals,
    window: Totals,
    latencies_us: Vec<u32>,
    /// When each acknowledgement arrived (µs since the start), for the longest gap between
    /// two consecutive acknowledgements: the failover figure.
    acked_at_us: Vec<u64>,
}

impl Stats {
    /// Starts the clock; `expected` sizes the latency buffer.
    pub fn new(expected: u64) -> Self {
        let now = Instant::now();
        let cap = usize::try_from(expected)
            .unwrap_or(INITIAL_SAMPLES)
            .min(INITIAL_SAMPLES);
        Self {
            total: Totals::new(now),
            window: Totals::new(now),
            latencies_us: Vec::with_capacity(cap),
            acked_at_us: Vec::with_capacity(cap),
        }
    }

    /// Records one record of `bytes` bytes sent `latency` before its acknowledgement arrived
    /// at `acked_at`.
    pub fn record(&mut self, latency: Duration, bytes: usize, acked_at: Instant) {
        let us = u32::try_from(latency.as_micros()).unwrap_or(u32::MAX);
        self.total.add(us, bytes);
        self.window.add(us, bytes);
        if self.latencies_us.len() < MAX_SAMPLES {
            self.latencies_us.push(us);
            let at = acked_at.saturating_duration_since(self.total.start);
            self.acked_at_us
                .push(u64::try_from(at.as_micros()).unwrap_or(u64::MAX));
        }
    }

    /// Acknowledged records so far.
    pub fn records(&self) -> u64 {
        self.total.records
    }

    /// The progress line when the current window is over, starting a new window.
    pub fn progress(&mut self) -> Option<String> {
        let now = Instant::now();
        if now.duration_since(self.window.start) < REPORT_EVERY {
            return None;
        }
        let line = format!("{}.", self.window.line(now, 1));
        self.window = Totals::new(now);
        Some(line)
    }

    /// The final summary, with percentiles in whole milliseconds as Kafka prints them,
    /// followed by one machine-parsable `RESULT key=value ...` line (fractional
    /// milliseconds; `max_gap_ms` is the longest time between two consecutive
    /// acknowledgements or from the last one to the end of the run, so a run that ends while
    /// writes fail still shows its outage; `failed` records that were not acknowledged).
    pub fn summary(&mut self, failed: u64) -> String {
        let now = Instant::now();
        self.latencies_us.sort_unstable();
        self.acked_at_us.sort_unstable();
        let [p50, p95, p99] = [0.5, 0.95, 0.99].map(|p| percentile_ms(&self.latencies_us, p));
        let [p50_us, p99_us] = [0.5, 0.99].map(|p| percentile_us(&self.latencies_us, p));
        let end_us = u64::try_from(now.duration_since(self.total.start).as_micros()).unwrap_or(0);
        let tail_us = self
            .acked_at_us
            .last()
            .map_or(0, |&last| end_us.saturating_sub(last));
        let max_gap_us = self
            .acked_at_us
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or(0)
            .max(tail_us);
        let t = &self.total;
        let secs = now.duration_since(t.start).as_secs_f64().max(1e-9);
        format!(
            "{}, {p50} ms 50th, {p95} ms 95th, {p99} ms 99th.\n\
             RESULT records={} rec_per_s={:.1} mb_per_s={:.2} p50_ms={:.2} p99_ms={:.2} \
             max_ms={:.2} max_gap_ms={:.1} failed={failed}",
            t.line(now, 2),
            t.records,
            t.records as f64 / secs,
            t.bytes as f64 / secs / (1024.0 * 1024.0),
            f64::from(p50_us) / 1000.0,
            f64::from(p99_us) / 1000.0,
            f64::from(t.max_us) / 1000.0,
            max_gap_us as f64 / 1000.0,
        )
    }
}

/// The `p` quantile of sorted microsecond samples, in whole milliseconds (0 when empty).
fn percentile_ms(sorted_us: &[u32], p: f64) -> u32 {
    percentile_us(sorted_us, p) / 1000
}

/// The `p` quantile of sorted microsecond samples (0 when empty).
fn percentile_us(sorted_us: &[u32], p: f64) -> u32 {
    if sorted_us.is_empty() {
        return 0;
    }
    let i = ((p * sorted_us.len() as f64) as usize).min(sorted_us.len() - 1);
    sorted_us[i]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_summary_format() {
        let mut s = Stats::new(100);
        let start = s.total.start;
        for ms in 1..=100u64 {
            // Acknowledgements 10 ms apart, except one 250 ms gap before the 51st.
            let at = start + Duration::from_millis(ms * 10 + if ms > 50 { 240 } else { 0 });
            s.record(Duration::from_millis(ms), 10, at);
        }
        let out = s.summary(0);
        let (line, result) = out.split_once('\n').expect("two lines");
        assert!(line.starts_with("100 records sent, "), "{line}");
        assert!(line.contains("records/sec ("), "{line}");
        assert!(
            line.contains("MB/sec), 50.50 ms avg latency, 100.00 ms max latency"),
            "{line}"
        );
        assert!(
            line.ends_with(", 51 ms 50th, 96 ms 95th, 100 ms 99th."),
            "{line}"
        );
        assert!(
            result.starts_with("RESULT records=100 rec_per_s="),
            "{result}"
        );
        assert!(
            result.ends_with(" p50_ms=51.00 p99_ms=100.00 max_ms=100.00 max_gap_ms=250.0 failed=0"),
            "{result}"
        );
        assert_eq!(percentile_ms(&[], 0.5), 0);
    }
}
