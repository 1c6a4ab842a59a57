//! S10 and S11: consumer-group progress and committed offsets.
//!
//! Every consumer proc in a history belongs to one group (the workload runs one), so "the
//! group" is all of them.
//!
//! **S10 (no skips).** A consumer may go back (redelivery after a rebalance is at-least-once,
//! allowed and counted) but may only move *forward* past offsets its group has already polled.
//! Checking against the group's polled offsets rather than its logged commits is deliberate:
//! the SDK also commits inside `poll` (before switching to a new assignment) and in `close`,
//! and those commits are not in the history. Any commit can only name a position some member
//! reached by polling, so "every offset below where a member starts or jumps to was polled by
//! someone in the group before" is exactly "nothing after a committed offset is skipped",
//! without needing to see every commit.
//!
//! **S11 (commits never go back).** Per partition, in history order of `ok` commits, the
//! committed offset never decreases. A commit whose generation is older than one already
//! committed cannot have been accepted by the broker (a commit raises the partition's stored
//! generation and older ones are refused), so it is counted as stale and skipped rather than
//! trusted; the workload verifies its commits by reading them back, so this is a safety net.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{Index, Report};
use crate::history::{Func, Kind};

pub(super) fn check_consumers(ix: &Index<'_>, r: &mut Report) {
    skips(ix, r);
    commits(ix, r);
}

/// S10.
fn skips(ix: &Index<'_>, r: &mut Report) {
    let mut polled: HashMap<u32, BTreeSet<u64>> = HashMap::new();
    let mut last: HashMap<(&str, u32), u64> = HashMap::new();
    for (e, p, o, _) in ix.records(Func::Poll) {
        r.stats.polled += 1;
        let key = (e.proc.as_str(), p);
        let from = match last.get(&key) {
            Some(&l) if o <= l => {
                r.stats.redelivered += 1;
                None
            }
            Some(&l) => Some(l + 1),
            None => Some(0),
        };
        let group = polled.entry(p).or_default();
        if let Some(from) = from.filter(|&f| f < o) {
            let never: Vec<u64> = (from..o).filter(|x| !group.contains(x)).collect();
            if !never.is_empty() {
                r.skipped += never.len() as u64;
                r.detail(format!(
                    "skipped: {} p{p} went to {o} (i={}) from {}, but the group never polled \
                     {} offsets in between, first {}",
                    e.proc,
                    e.i,
                    last.get(&key)
                        .map_or("its start".to_string(), |l| l.to_string()),
                    never.len(),
                    never[0]
                ));
            }
        }
        group.insert(o);
        last.insert(key, o);
    }
}

/// S11.
fn commits(ix: &Index<'_>, r: &mut Report) {
    // partition -> (highest generation, highest offset, who committed it)
    let mut state: BTreeMap<u32, (Option<u64>, u64, String)> = BTreeMap::new();
    let oks = ix
        .events
        .iter()
        .filter(|e| e.f == Func::Commit && e.kind == Kind::Ok);
    for e in oks {
        let (Some(p), Some(o)) = (e.part, e.offset) else {
            continue;
        };
        r.stats.commits += 1;
        let entry = state.entry(p).or_insert((None, 0, String::new()));
        if let (Some(g), Some(max_g)) = (e.generation, entry.0)
            && g < max_g
        {
            r.stats.stale_commits += 1;
            continue;
        }
        if o < entry.1 {
            r.commit_regressions += 1;
            r.detail(format!(
                "commit_regressions: {} committed p{p}={o} (generation {:?}, i={}) after {} \
                 had committed {} (generation {:?})",
                e.proc, e.generation, e.i, entry.2, entry.1, entry.0
            ));
            entry.0 = entry.0.max(e.generation);
            continue;
        }
        *entry = (entry.0.max(e.generation), o, e.proc.clone());
    }
}
