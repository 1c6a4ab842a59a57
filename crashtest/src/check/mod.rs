//! The checker: reads a history and counts violations of the safety invariants (crash-testing
//! reference §2.3).
//!
//! | counter | invariant |
//! |---|---|
//! | `lost` | S1: every `ok` send `(p, o, v)` has `L_p[o] == v` in the final read |
//! | `inconsistent` | S2: one value per `(p, o)` across acks, polls and the final read |
//! | `gaps` | S3: the final offsets of each partition are dense, `0..HW` |
//! | `duplicated` | S4: no value twice in the final log |
//! | `unexpected` | S5: every value read was sent in this run |
//! | `aborted_read` | S6: no value of a `fail` send is ever read |
//! | `reordered` | S7: per producer and partition, acked offsets follow invocation order |
//! | `skipped` | S10: no consumer jumps past an offset its group never polled |
//! | `commit_regressions` | S11: a group's committed offset per partition never goes back |
//!
//! The final log `L_p` is what the `final_read` events say; a run whose final read was
//! incomplete shows up as `lost` (and the workload writes an `info` event saying so).

mod consumer;
mod log;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;

use crate::history::{Event, Func, Kind, Phase, parse_value};

/// Details kept (and printed) at most.
pub const MAX_DETAILS: usize = 20;

/// The checker's result: the counters of the summary line and the first violations in detail.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// `ok` sends.
    pub acked: u64,
    /// Records in the final log (distinct offsets).
    pub read: u64,
    /// S1.
    pub lost: u64,
    /// S4: extra copies of values in the final log.
    pub duplicated: u64,
    /// S7.
    pub reordered: u64,
    /// S5: distinct values read that this run never sent.
    pub unexpected: u64,
    /// S6: distinct values of `fail` sends that were read.
    pub aborted_read: u64,
    /// S2: offsets with more than one value.
    pub inconsistent: u64,
    /// S3: offsets missing below a partition's high watermark in the final log.
    pub gaps: u64,
    /// S10: offsets a consumer jumped over that its group never polled.
    pub skipped: u64,
    /// S11.
    pub commit_regressions: u64,
    /// Nemesis `kill` faults injected.
    pub kills: u64,
    /// Worst client-visible failover over the kills (see [`Report::failovers_ms`]).
    pub max_failover_ms: u64,
    /// Per kill: the longest time, over partitions, from the kill to the first `ok` send on
    /// that partition among sends invoked after the kill (Jepsen's fault-to-first-ack;
    /// counting only later invocations keeps sends already in flight from hiding the outage).
    pub failovers_ms: Vec<u64>,
    /// Run id the values were checked against.
    pub run_id: Option<String>,
    /// Informational counts that are not violations.
    pub stats: Stats,
    /// The first [`MAX_DETAILS`] violations, one line each.
    pub details: Vec<String>,
    /// Warnings about the history itself (torn line, missing final read, ...).
    pub notes: Vec<String>,
}

/// Counts that describe the run without judging it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    /// Sends invoked.
    pub invoked: u64,
    /// Sends that completed `fail`.
    pub failed: u64,
    /// Sends that completed `info` (unknown outcome).
    pub unknown: u64,
    /// `info` sends found in the final log (they did happen).
    pub recovered: u64,
    /// Records returned by polls.
    pub polled: u64,
    /// Polled records at or below a position the consumer had already passed (redelivery).
    pub redelivered: u64,
    /// `ok` commits.
    pub commits: u64,
    /// `ok` commits with a generation older than one already committed: the broker must have
    /// refused them, so they are not taken as committed.
    pub stale_commits: u64,
}

impl Report {
    /// Total number of violations.
    pub fn violations(&self) -> u64 {
        self.lost
            + self.duplicated
            + self.reordered
            + self.unexpected
            + self.aborted_read
            + self.inconsistent
            + self.gaps
            + self.skipped
            + self.commit_regressions
    }

    /// True when no invariant was violated.
    pub fn is_clean(&self) -> bool {
        self.violations() == 0
    }

    /// The one-line summary.
    pub fn summary_line(&self) -> String {
        format!(
            "acked={} read={} lost={} duplicated={} reordered={} unexpected={} aborted_read={} \
             inconsistent={} gaps={} skipped={} commit_regressions={} kills={} max_failover_ms={}",
            self.acked,
            self.read,
            self.lost,
            self.duplicated,
            self.reordered,
            self.unexpected,
            self.aborted_read,
            self.inconsistent,
            self.gaps,
            self.skipped,
            self.commit_regressions,
            self.kills,
            self.max_failover_ms
        )
    }

    /// Records one violation's detail if there is room.
    fn detail(&mut self, text: String) {
        if self.details.len() < MAX_DETAILS {
            self.details.push(text);
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary_line())?;
        let s = &self.stats;
        writeln!(
            f,
            "stats: run_id={} invoked={} failed={} unknown={} recovered={} polled={} \
             redelivered={} commits={} stale_commits={} failovers_ms={:?}",
            self.run_id.as_deref().unwrap_or("-"),
            s.invoked,
            s.failed,
            s.unknown,
            s.recovered,
            s.polled,
            s.redelivered,
            s.commits,
            s.stale_commits,
            self.failovers_ms
        )?;
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        let total = self.violations();
        for d in &self.details {
            writeln!(f, "violation: {d}")?;
        }
        if total > self.details.len() as u64 {
            writeln!(f, "... {} violations in all", total)?;
        }
        Ok(())
    }
}

/// The history's events, indexed for the checks.
pub(crate) struct Index<'a> {
    /// The run id values must carry.
    pub run_id: Option<String>,
    /// Invoke event of each send, by value.
    pub invoked: HashMap<&'a str, &'a Event>,
    /// Completion event of each send, by value.
    pub outcome: HashMap<&'a str, &'a Event>,
    /// Every event, in history order.
    pub events: &'a [Event],
}

impl<'a> Index<'a> {
    fn new(events: &'a [Event], run_id: Option<&str>) -> Self {
        let mut invoked = HashMap::new();
        let mut outcome = HashMap::new();
        for e in events.iter().filter(|e| e.f == Func::Send) {
            let Some(v) = e.value.as_deref() else {
                continue;
            };
            match e.kind {
                Kind::Invoke => {
                    invoked.insert(v, e);
                }
                _ => {
                    outcome.insert(v, e);
                }
            }
        }
        let run_id = run_id
            .map(str::to_string)
            .or_else(|| infer_run_id(&invoked));
        Self {
            run_id,
            invoked,
            outcome,
            events,
        }
    }

    /// `ok` events of `f` that carry a partition, offset and value.
    pub fn records(&self, f: Func) -> impl Iterator<Item = (&'a Event, u32, u64, &'a str)> {
        self.events
            .iter()
            .filter(move |e| e.f == f && e.kind == Kind::Ok)
            .filter_map(|e| Some((e, e.part?, e.offset?, e.value.as_deref()?)))
    }
}

/// The most common run id among the sent values.
fn infer_run_id(invoked: &HashMap<&str, &Event>) -> Option<String> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for v in invoked.keys() {
        if let Some((run, _)) = parse_value(v) {
            *counts.entry(run).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(r, _)| r.to_string())
}

/// Checks a history (events in `i` order). `run_id` overrides the one inferred from the sends.
pub fn check(events: &[Event], run_id: Option<&str>) -> Report {
    let ix = Index::new(events, run_id);
    let mut r = Report {
        run_id: ix.run_id.clone(),
        ..Report::default()
    };
    log::check_log(&ix, &mut r);
    consumer::check_consumers(&ix, &mut r);
    failover(&ix, &mut r);
    if r.stats.invoked > 0 && ix.records(Func::FinalRead).next().is_none() {
        r.notes
            .push("no final_read records: every acked send counts as lost".into());
    }
    for e in events
        .iter()
        .filter(|e| e.f == Func::FinalRead && e.kind != Kind::Ok)
    {
        let why = e.err.as_deref().unwrap_or("unknown");
        r.notes.push(format!("final read not ok: {why}"));
    }
    r.notes.truncate(MAX_DETAILS);
    r
}

/// Counts kills and measures each one's failover (see [`Report::failovers_ms`]).
fn failover(ix: &Index<'_>, r: &mut Report) {
    let kills: Vec<u64> = ix
        .events
        .iter()
        .filter(|e| {
            e.f == Func::Nemesis
                && e.phase == Some(Phase::Start)
                && e.fault.as_deref() == Some("kill")
        })
        .map(|e| e.t_ns)
        .collect();
    r.kills = kills.len() as u64;
    // (partition, invoke time, ok time) of every acked send.
    let acks: Vec<(u32, u64, u64)> = ix
        .records(Func::Send)
        .filter_map(|(e, p, _, v)| Some((p, ix.invoked.get(v)?.t_ns, e.t_ns)))
        .collect();
    let mut partitions: Vec<u32> = acks.iter().map(|a| a.0).collect();
    partitions.sort_unstable();
    partitions.dedup();
    for t in kills {
        let mut worst: Option<u64> = None;
        for &p in &partitions {
            let first = acks
                .iter()
                .filter(|a| a.0 == p && a.1 >= t)
                .map(|a| a.2)
                .min();
            match first {
                Some(ok) => worst = Some(worst.unwrap_or(0).max(ok.saturating_sub(t))),
                None => r.notes.push(format!(
                    "kill at t={}ms: no later send on partition {p} was acked",
                    t / 1_000_000
                )),
            }
        }
        if let Some(ns) = worst {
            let ms = ns / 1_000_000;
            r.failovers_ms.push(ms);
            r.max_failover_ms = r.max_failover_ms.max(ms);
        }
    }
}
