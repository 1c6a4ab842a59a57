//! S1-S7: what the producers were told against what the log holds in the end.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{Index, Report};
use crate::history::{Func, Kind, parse_value};

/// The final log: partition -> offset -> value (the first value read there; a second,
/// different one is an S2 violation, counted separately).
type FinalLog<'a> = BTreeMap<u32, BTreeMap<u64, &'a str>>;

pub(super) fn check_log(ix: &Index<'_>, r: &mut Report) {
    let final_log = final_log(ix);
    r.read = final_log.values().map(|m| m.len() as u64).sum();
    send_stats(ix, r, &final_log);
    lost(ix, r, &final_log);
    inconsistent(ix, r);
    gaps(r, &final_log);
    duplicated(r, &final_log);
    unexpected_and_aborted(ix, r);
    reordered(ix, r);
}

fn final_log<'a>(ix: &Index<'a>) -> FinalLog<'a> {
    let mut log = FinalLog::new();
    for (_, p, o, v) in ix.records(Func::FinalRead) {
        log.entry(p).or_default().entry(o).or_insert(v);
    }
    log
}

fn send_stats(ix: &Index<'_>, r: &mut Report, log: &FinalLog<'_>) {
    let in_log: BTreeSet<&str> = log.values().flat_map(|m| m.values().copied()).collect();
    r.stats.invoked = ix.invoked.len() as u64;
    for (v, e) in &ix.outcome {
        match e.kind {
            Kind::Ok => r.acked += 1,
            Kind::Fail => r.stats.failed += 1,
            Kind::Info => {
                r.stats.unknown += 1;
                if in_log.contains(v) {
                    r.stats.recovered += 1;
                }
            }
            Kind::Invoke => {}
        }
    }
}

/// S1: every acknowledged record is in the final log at its acknowledged offset.
fn lost(ix: &Index<'_>, r: &mut Report, log: &FinalLog<'_>) {
    for (e, p, o, v) in ix.records(Func::Send) {
        let found = log.get(&p).and_then(|m| m.get(&o)).copied();
        if found != Some(v) {
            r.lost += 1;
            r.detail(format!(
                "lost: {v} acked to {} at p{p}/{o} (i={}), final log has {}",
                e.proc,
                e.i,
                found.unwrap_or("nothing")
            ));
        }
    }
}

/// S2: one value per offset across acks, polls and the final read.
fn inconsistent(ix: &Index<'_>, r: &mut Report) {
    let mut seen: BTreeMap<(u32, u64), BTreeSet<&str>> = BTreeMap::new();
    for f in [Func::Send, Func::Poll, Func::FinalRead] {
        for (_, p, o, v) in ix.records(f) {
            seen.entry((p, o)).or_default().insert(v);
        }
    }
    for ((p, o), values) in seen.into_iter().filter(|(_, v)| v.len() > 1) {
        r.inconsistent += 1;
        r.detail(format!("inconsistent: p{p}/{o} has values {values:?}"));
    }
}

/// S3: each partition's final offsets are exactly `0..HW`.
fn gaps(r: &mut Report, log: &FinalLog<'_>) {
    for (p, m) in log {
        let Some(&last) = m.keys().next_back() else {
            continue;
        };
        let missing: Vec<u64> = (0..=last).filter(|o| !m.contains_key(o)).collect();
        if !missing.is_empty() {
            r.gaps += missing.len() as u64;
            let shown: Vec<u64> = missing.iter().copied().take(10).collect();
            r.detail(format!(
                "gaps: p{p} misses {} offsets below {}: {shown:?}{}",
                missing.len(),
                last + 1,
                if missing.len() > shown.len() {
                    " ..."
                } else {
                    ""
                }
            ));
        }
    }
}

/// S4: no value twice in the final log.
fn duplicated(r: &mut Report, log: &FinalLog<'_>) {
    let mut places: HashMap<&str, Vec<(u32, u64)>> = HashMap::new();
    for (p, m) in log {
        for (o, v) in m {
            places.entry(v).or_default().push((*p, *o));
        }
    }
    let mut dups: Vec<(&str, Vec<(u32, u64)>)> =
        places.into_iter().filter(|(_, at)| at.len() > 1).collect();
    dups.sort();
    for (v, at) in dups {
        r.duplicated += at.len() as u64 - 1;
        r.detail(format!("duplicated: {v} at {at:?}"));
    }
}

/// S5 and S6: every value read was sent in this run, and none of a `fail` send.
fn unexpected_and_aborted(ix: &Index<'_>, r: &mut Report) {
    let mut read: BTreeMap<&str, (&str, u32, u64)> = BTreeMap::new();
    for f in [Func::Poll, Func::FinalRead] {
        for (e, p, o, v) in ix.records(f) {
            read.entry(v).or_insert((e.proc.as_str(), p, o));
        }
    }
    for (v, (proc, p, o)) in read {
        let run = parse_value(v).map(|(run, _)| run);
        let ours = ix.run_id.is_none() || run == ix.run_id.as_deref();
        if !ours || !ix.invoked.contains_key(v) {
            r.unexpected += 1;
            r.detail(format!(
                "unexpected: {proc} read {v:?} at p{p}/{o}: {}",
                if ours {
                    "never sent"
                } else {
                    "from another run"
                }
            ));
        } else if ix.outcome.get(v).is_some_and(|e| e.kind == Kind::Fail) {
            r.aborted_read += 1;
            let why = ix.outcome[v].err.as_deref().unwrap_or("");
            r.detail(format!(
                "aborted_read: {proc} read {v} at p{p}/{o}, but its send failed: {why}"
            ));
        }
    }
}

/// An acked send for S7: (invoke `i`, offset, value).
type Ack<'a> = (u64, u64, &'a str);

/// S7: per producer and partition, acked offsets increase in invocation order.
fn reordered(ix: &Index<'_>, r: &mut Report) {
    let mut acks: BTreeMap<(&str, u32), Vec<Ack<'_>>> = BTreeMap::new();
    for (e, p, o, v) in ix.records(Func::Send) {
        let invoked_at = ix.invoked.get(v).map_or(e.i, |inv| inv.i);
        acks.entry((e.proc.as_str(), p))
            .or_default()
            .push((invoked_at, o, v));
    }
    for ((proc, p), mut list) in acks {
        list.sort_unstable();
        let mut max: Option<(u64, &str)> = None;
        for (_, o, v) in list {
            match max {
                // Equal offsets are two values at one offset: S2 counts that.
                Some((m, before)) if o < m => {
                    r.reordered += 1;
                    r.detail(format!(
                        "reordered: {proc} p{p}: {v} acked at {o}, but {before} sent \
                         earlier is at {m}"
                    ));
                }
                Some((m, _)) if o == m => {}
                _ => max = Some((o, v)),
            }
        }
    }
}
