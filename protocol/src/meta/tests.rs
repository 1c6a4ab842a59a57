use super::*;

fn group(leader: bool) -> HostedGroup {
    HostedGroup {
        group_id: Uuid::new_v4(),
        is_leader: leader,
        leader: Some(3),
        log_end_offset: 123_456_789_012,
        log_start_offset: 98_765_432,
        voters: vec![1, 2, 3],
        learners: vec![],
        joint: false,
    }
}

fn beat(groups: Vec<HostedGroup>) -> BrokerHeartbeat {
    BrokerHeartbeat {
        broker: Member {
            id: 1,
            api_addr: "10.0.0.1:9091".into(),
            raft_addr: "10.0.0.1:9191".into(),
            kafka_addr: None,
        },
        groups,
        full: true,
        session: Some(Uuid::new_v4()),
        seq: 7,
        base: 0,
        dropped: vec![],
        hosted: Some(3_000),
        assignments_digest: Some("0123456789abcdef".into()),
    }
}

/// The per-replica cost [`crate::limits::HEARTBEAT_BYTES_PER_REPLICA`] is sized from.
#[test]
fn full_report_bytes_per_replica() {
    let n = 3_000;
    let b = beat((0..n).map(|i| group(i % 3 == 0)).collect());
    let bytes = serde_json::to_vec(&b).unwrap().len();
    let per = bytes / n;
    println!("full report of {n} replicas: {bytes} bytes, {per} per replica");
    assert!(per <= crate::limits::HEARTBEAT_BYTES_PER_REPLICA, "{per}");
    assert!(bytes < crate::limits::BROKER_HEARTBEAT_LIMIT / 20);
}

/// A heartbeat from a broker that predates incremental reports is a full report; a reply
/// from a manager that predates them says so.
#[test]
fn old_bodies_read_as_full_reports_and_full_sets() {
    let old = r#"{"broker":{"id":1,"api_addr":"a:1","raft_addr":"a:2"},
        "groups":[{"group_id":"6f1c1c8e-6b8a-4f5e-9a51-3c1f6b9d7e01","is_leader":true,
        "leader":1,"log_end_offset":5}]}"#;
    let hb: BrokerHeartbeat = serde_json::from_str(old).unwrap();
    assert!(hb.full && hb.session.is_none() && hb.assignments_digest.is_none());
    assert_eq!(hb.groups[0].voters, Vec::<u64>::new());
    let reply: BrokerHeartbeatReply =
        serde_json::from_str(r#"{"assignments":[],"removed":[]}"#).unwrap();
    assert!(!reply.unchanged && !reply.full_report_needed && !reply.incremental);
    assert_eq!(reply.assignments_digest, None);
}

#[test]
fn defaults_are_left_out_and_read_back() {
    let mut g = group(false);
    g.log_start_offset = 0;
    let json = serde_json::to_value(&g).unwrap();
    for absent in ["log_start_offset", "learners", "joint"] {
        assert!(json.get(absent).is_none(), "{absent}");
    }
    let back: HostedGroup = serde_json::from_value(json).unwrap();
    assert_eq!(back, g);
    let b = beat(vec![g]);
    let back: BrokerHeartbeat = serde_json::from_slice(&serde_json::to_vec(&b).unwrap()).unwrap();
    assert_eq!(back, b);
}

#[test]
fn digest_is_deterministic_and_sees_every_field() {
    let a = Assignment {
        topic: "t".into(),
        partition: 0,
        group_id: Uuid::nil(),
        members: vec![],
        voters: vec![1, 2, 3],
        preferred_leader: None,
        retention: Default::default(),
    };
    let d = assignments_digest(std::slice::from_ref(&a));
    assert_eq!(d.len(), 16);
    assert_eq!(d, assignments_digest(std::slice::from_ref(&a)));
    let mut b = a.clone();
    b.preferred_leader = Some(1);
    assert_ne!(d, assignments_digest(&[b]));
    assert_ne!(d, assignments_digest(&[]));
}

/// What a full assignment set costs at the sizing target: 3,000 RF 3 replicas on a broker.
#[test]
fn full_assignment_set_bytes_per_replica() {
    let member = |id: u64| Member {
        id,
        api_addr: format!("10.0.0.{id}:9091"),
        raft_addr: format!("10.0.0.{id}:9191"),
        kafka_addr: None,
    };
    let set: Vec<Assignment> = (0..3_000u32)
        .map(|i| Assignment {
            topic: format!("topic-{}", i / 1_000),
            partition: i % 1_000,
            group_id: Uuid::new_v4(),
            members: (1..=3).map(member).collect(),
            voters: vec![1, 2, 3],
            preferred_leader: Some(1),
            retention: Default::default(),
        })
        .collect();
    let bytes = serde_json::to_vec(&set).unwrap().len();
    println!(
        "assignment set of 3000 RF 3 replicas: {bytes} bytes, {} per replica",
        bytes / 3_000
    );
    assert!(bytes < crate::limits::BROKER_HEARTBEAT_LIMIT / 8);
}
