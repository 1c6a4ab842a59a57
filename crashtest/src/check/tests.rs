//! The checker against synthetic histories: a clean one passes, and each anomaly is flagged by
//! its own counter and no other (negative controls, reference §2.7).

use super::{Report, check};
use crate::history::{Event, Func, Kind, Phase};

const RUN: &str = "run1";

/// Builds a history; every event is 1 ms after the previous one.
#[derive(Default)]
struct H {
    events: Vec<Event>,
    /// Added to the times of later events ([`H::wait_ms`]).
    base_ns: u64,
}

impl H {
    fn push(&mut self, mut e: Event) {
        e.i = self.events.len() as u64;
        e.t_ns = self.base_ns + e.i * 1_000_000;
        self.events.push(e);
    }

    fn wait_ms(&mut self, ms: u64) {
        self.base_ns += ms * 1_000_000;
    }

    fn invoke(&mut self, proc: &str, seq: u64) -> String {
        let v = format!("{RUN}:{proc}:{seq}");
        self.push(Event::new(proc, Kind::Invoke, Func::Send).value(&v));
        v
    }

    fn complete(&mut self, proc: &str, v: &str, kind: Kind, at: Option<(u32, u64)>) {
        let mut e = Event::new(proc, kind, Func::Send).value(v);
        if let Some((p, o)) = at {
            e = e.part(p).offset(o);
        }
        self.push(e);
    }

    fn send_ok(&mut self, proc: &str, seq: u64, p: u32, o: u64) -> String {
        let v = self.invoke(proc, seq);
        self.complete(proc, &v, Kind::Ok, Some((p, o)));
        v
    }

    fn poll(&mut self, proc: &str, p: u32, o: u64, v: &str) {
        self.push(
            Event::new(proc, Kind::Ok, Func::Poll)
                .part(p)
                .offset(o)
                .value(v),
        );
    }

    fn final_read(&mut self, p: u32, o: u64, v: &str) {
        self.push(
            Event::new("final", Kind::Ok, Func::FinalRead)
                .part(p)
                .offset(o)
                .value(v),
        );
    }

    fn commit(&mut self, proc: &str, p: u32, o: u64, generation: u64) {
        let mut e = Event::new(proc, Kind::Ok, Func::Commit).part(p).offset(o);
        e.generation = Some(generation);
        self.push(e);
    }

    fn nemesis(&mut self, phase: Phase) {
        let mut e = Event::new("nemesis", Kind::Info, Func::Nemesis);
        e.fault = Some("kill".into());
        e.targets = Some(vec!["broker-2".into()]);
        e.phase = Some(phase);
        self.push(e);
    }

    fn check(&self) -> Report {
        check(&self.events, None)
    }
}

/// Two producers, two partitions of 4 records, two consumers with a rebalance, a kill.
fn clean() -> (H, Vec<Vec<String>>) {
    let mut h = H::default();
    let mut log = vec![Vec::new(), Vec::new()];
    for seq in 0..4 {
        for (proc, p) in [("p1", 0u32), ("p2", 1u32)] {
            let o = log[p as usize].len() as u64;
            let v = h.send_ok(proc, seq, p, o);
            log[p as usize].push(v);
        }
    }
    // An unknown send that did happen (recovered) and a failed one that did not.
    let v = h.invoke("p1", 10);
    h.complete("p1", &v, Kind::Info, None);
    log[0].push(v);
    let v = h.invoke("p1", 11);
    h.complete("p1", &v, Kind::Fail, None);
    // c1 reads p0 up to 2 and commits 3; c2 takes p0 over from 3 and then c1 re-reads 2
    // (redelivery is allowed); c2 reads p1 entirely.
    for o in 0..3 {
        h.poll("c1", 0, o, &log[0][o as usize].clone());
    }
    h.commit("c1", 0, 3, 1);
    for o in 3..5 {
        h.poll("c2", 0, o, &log[0][o as usize].clone());
    }
    h.commit("c2", 0, 5, 2);
    h.commit("c1", 0, 3, 1); // stale generation: refused by the broker, not a regression
    h.poll("c1", 0, 2, &log[0][2].clone());
    for o in 0..4 {
        h.poll("c2", 1, o, &log[1][o as usize].clone());
    }
    h.commit("c2", 1, 4, 2);
    h.nemesis(Phase::Start);
    h.wait_ms(1500);
    let v = h.send_ok("p2", 20, 1, 4);
    log[1].push(v.clone());
    let v0 = h.send_ok("p1", 21, 0, 5);
    log[0].push(v0);
    h.nemesis(Phase::End);
    (h, log)
}

fn final_reads(h: &mut H, log: &[Vec<String>]) {
    for (p, values) in log.iter().enumerate() {
        for (o, v) in values.iter().enumerate() {
            h.final_read(p as u32, o as u64, v);
        }
    }
}

/// Asserts that exactly `counter` is non-zero (equal to `n`).
fn only(r: &Report, name: &str, n: u64) {
    let counters = [
        ("lost", r.lost),
        ("duplicated", r.duplicated),
        ("reordered", r.reordered),
        ("unexpected", r.unexpected),
        ("aborted_read", r.aborted_read),
        ("inconsistent", r.inconsistent),
        ("gaps", r.gaps),
        ("skipped", r.skipped),
        ("commit_regressions", r.commit_regressions),
    ];
    for (c, v) in counters {
        let want = if c == name { n } else { 0 };
        assert_eq!(v, want, "{c} in:\n{r}");
    }
    assert_eq!(r.details.len() as u64, n, "{r}");
    assert!(r.details[0].starts_with(name), "{r}");
}

#[test]
fn clean_history_passes() {
    let (mut h, log) = clean();
    final_reads(&mut h, &log);
    let r = h.check();
    assert!(r.is_clean(), "{r}");
    assert_eq!(r.acked, 10);
    assert_eq!(r.read, 11);
    assert_eq!(r.kills, 1);
    // Kill at i=k; p1's first later ack is at k+2 (+1.5 s), p0's at k+4.
    assert_eq!(r.max_failover_ms, 1504, "{r}");
    assert_eq!(r.stats.recovered, 1);
    assert_eq!(r.stats.failed, 1);
    assert_eq!(r.stats.redelivered, 1);
    assert_eq!(r.stats.stale_commits, 1);
    assert_eq!(r.run_id.as_deref(), Some(RUN));
    assert!(
        r.summary_line()
            .starts_with("acked=10 read=11 lost=0 duplicated=0 ")
    );
}

#[test]
fn lost_write_is_flagged() {
    let (mut h, mut log) = clean();
    log[1].pop(); // the acked p1/4 is missing at the end of the log
    final_reads(&mut h, &log);
    only(&h.check(), "lost", 1);
}

#[test]
fn duplicate_is_flagged() {
    let (mut h, mut log) = clean();
    let again = log[0][1].clone();
    log[0].push(again);
    final_reads(&mut h, &log);
    only(&h.check(), "duplicated", 1);
}

#[test]
fn dense_gap_is_flagged() {
    let (mut h, log) = clean();
    // Offset 4 of p0 holds the unacked (info) record: leaving it out is a hole, not a loss.
    for (p, values) in log.iter().enumerate() {
        for (o, v) in values.iter().enumerate().filter(|(o, _)| p != 0 || *o != 4) {
            h.final_read(p as u32, o as u64, v);
        }
    }
    let r = h.check();
    only(&r, "gaps", 1);
}

#[test]
fn unexpected_value_is_flagged() {
    let (mut h, mut log) = clean();
    log[1].push("old-run:p1:0".into());
    final_reads(&mut h, &log);
    only(&h.check(), "unexpected", 1);
}

#[test]
fn aborted_read_is_flagged() {
    let (mut h, mut log) = clean();
    log[1].push(format!("{RUN}:p1:11")); // the failed send
    final_reads(&mut h, &log);
    only(&h.check(), "aborted_read", 1);
}

#[test]
fn reorder_is_flagged() {
    let (mut h, mut log) = clean();
    // p1 invokes a then b; b is acked at 6, a at 7.
    let a = h.invoke("p1", 30);
    let b = h.invoke("p1", 31);
    h.complete("p1", &b, Kind::Ok, Some((0, 6)));
    h.complete("p1", &a, Kind::Ok, Some((0, 7)));
    log[0].push(b);
    log[0].push(a);
    final_reads(&mut h, &log);
    only(&h.check(), "reordered", 1);
}

#[test]
fn inconsistent_offset_is_flagged() {
    let (mut h, log) = clean();
    // A poll saw an unknown send's value at p1/0, which ends up holding another value (a
    // dirty read that was rolled back).
    let v = h.invoke("p2", 40);
    h.complete("p2", &v, Kind::Info, None);
    h.poll("c9", 1, 0, &v);
    final_reads(&mut h, &log);
    only(&h.check(), "inconsistent", 1);
}

#[test]
fn consumer_skip_is_flagged() {
    let (mut h, log) = clean();
    // Jumps over offsets other members polled are take-overs, not skips.
    h.poll("c3", 0, 0, &log[0][0].clone());
    h.poll("c3", 0, 5, &log[0][5].clone()); // 1..=4 were polled by c1 and c2
    h.poll("c3", 1, 4, &log[1][4].clone()); // 0..=3 were polled by c2
    final_reads(&mut h, &log);
    let r = h.check();
    assert!(r.is_clean(), "{r}");
    // A jump over an offset nobody in the group polled is a skip.
    let mut h = H::default();
    let a = h.send_ok("p1", 0, 0, 0);
    let b = h.send_ok("p1", 1, 0, 1);
    let c = h.send_ok("p1", 2, 0, 2);
    h.poll("c1", 0, 0, &a);
    h.poll("c1", 0, 2, &c);
    for (o, v) in [&a, &b, &c].into_iter().enumerate() {
        h.final_read(0, o as u64, v);
    }
    only(&h.check(), "skipped", 1);
}

#[test]
fn commit_regression_is_flagged() {
    let (mut h, log) = clean();
    h.commit("c1", 1, 2, 3); // newer generation, lower than c2's 4
    final_reads(&mut h, &log);
    only(&h.check(), "commit_regressions", 1);
}

#[test]
fn missing_final_read_is_noted_and_counts_as_lost() {
    let (h, _) = clean();
    let r = h.check();
    assert_eq!(r.lost, 10);
    assert!(r.notes.iter().any(|n| n.contains("no final_read")), "{r}");
}
