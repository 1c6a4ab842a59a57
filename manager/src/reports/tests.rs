use raftbus_protocol::api::Member;

use super::*;

fn group(id: Uuid, leo: u64) -> HostedGroup {
    HostedGroup {
        group_id: id,
        is_leader: true,
        leader: Some(1),
        log_end_offset: leo,
        log_start_offset: 0,
        voters: vec![1],
        learners: vec![],
        joint: false,
    }
}

fn report(session: Uuid, seq: u64, base: Option<u64>, groups: Vec<HostedGroup>) -> BrokerHeartbeat {
    BrokerHeartbeat {
        broker: Member {
            id: 1,
            api_addr: "a:1".into(),
            raft_addr: "a:2".into(),
            kafka_addr: None,
        },
        groups,
        full: base.is_none(),
        session: Some(session),
        seq,
        base: base.unwrap_or(0),
        dropped: vec![],
        hosted: None,
        assignments_digest: None,
    }
}

fn sorted(mut v: Vec<HostedGroup>) -> Vec<(Uuid, u64)> {
    v.sort_by_key(|g| g.group_id);
    v.into_iter()
        .map(|g| (g.group_id, g.log_end_offset))
        .collect()
}

#[test]
fn deltas_merge_onto_the_acknowledged_report_only() {
    let r = Reports::default();
    let s = Uuid::new_v4();
    let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let full = report(s, 1, None, vec![group(a, 1), group(b, 1)]);
    assert_eq!(r.merge(&full).unwrap().len(), 2);

    // A delta on report 1: b changed, c created, a dropped.
    let mut d = report(s, 2, Some(1), vec![group(b, 5), group(c, 0)]);
    d.dropped = vec![a];
    d.hosted = Some(2);
    let mut want = vec![(b, 5), (c, 0)];
    want.sort();
    assert_eq!(sorted(r.merge(&d).unwrap()), want);
    assert_eq!(r.hosted(1), Some(2));

    // A delta on a report the manager did not merge last (its reply was lost): refused, and
    // the picture is dropped until a full report.
    assert!(r.merge(&report(s, 4, Some(2 - 1), vec![])).is_none());
    assert_eq!(r.hosted(1), None);
    assert!(r.merge(&report(s, 5, Some(4), vec![])).is_none());
    assert!(r.merge(&report(s, 6, None, vec![group(c, 9)])).is_some());
    assert_eq!(
        sorted(r.merge(&report(s, 7, Some(6), vec![])).unwrap()),
        vec![(c, 9)]
    );
}

#[test]
fn another_session_or_a_reset_needs_a_full_report() {
    let r = Reports::default();
    let s = Uuid::new_v4();
    let a = Uuid::new_v4();
    r.merge(&report(s, 1, None, vec![group(a, 1)])).unwrap();
    assert!(
        r.merge(&report(Uuid::new_v4(), 2, Some(1), vec![]))
            .is_none(),
        "a restarted broker's delta never merges onto its previous run"
    );
    r.merge(&report(s, 1, None, vec![group(a, 1)])).unwrap();
    r.reset();
    assert!(r.merge(&report(s, 2, Some(1), vec![])).is_none());
}

#[test]
fn a_count_mismatch_drops_the_picture() {
    let r = Reports::default();
    let s = Uuid::new_v4();
    r.merge(&report(s, 1, None, vec![group(Uuid::new_v4(), 1)]))
        .unwrap();
    let mut d = report(s, 2, Some(1), vec![]);
    d.hosted = Some(2);
    assert!(r.merge(&d).is_none());
    assert_eq!(r.hosted(1), None);
}
