//! Consumer-group fencing: once a partition's leader fences a group at a generation, commits
//! from older generations are refused with `stale_generation` while the committed offset
//! survives. Also: a broker pointed at managers that do not answer keeps serving.

use std::time::Duration;

use raftbus_protocol::api::{CreatePartitionRequest, Member, Role};
use raftbus_protocol::{ErrorCode, routes};
use raftbus_sdk::{BrokerClient, SdkError};
use raftbus_tests::cluster::{BrokerCluster, create_replica, fence};
use raftbus_tests::{BrokerProcess, free_port, wait_until};
use uuid::Uuid;

use crate::batch_of;

fn assert_stale(e: SdkError) {
    assert_eq!(e.code(), Some(ErrorCode::StaleGeneration), "{e}");
    assert!(matches!(e, SdkError::Api { status: 409, .. }), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn fenced_generation_refuses_older_commits_and_keeps_the_offset() {
    let c = BrokerCluster::start(1).await.unwrap();
    c.create_partition("fenced", 0, 0).await.unwrap();
    let leader = c
        .wait_leader("fenced", 0, Duration::from_secs(20))
        .await
        .unwrap();
    let addr = c.addr(leader);
    let raft = c.brokers[leader].raft_addr();
    let client = &c.client;
    let batch = batch_of(&["a".into(), "b".into()]);
    client
        .produce(&addr, "fenced", 0, batch, None)
        .await
        .unwrap();

    let r = client
        .commit_offset(&addr, "fenced", 0, "g", 1, Some(1))
        .await
        .unwrap();
    assert_eq!((r.offset, r.generation), (Some(1), Some(1)));

    let f = fence(&raft, "fenced", 0, "g", 3).await.unwrap();
    assert_eq!(
        (f.offset, f.generation),
        (Some(1), Some(3)),
        "fence keeps the offset"
    );
    let f = fence(&raft, "fenced", 0, "g", 2).await.unwrap();
    assert_eq!(f.generation, Some(3), "a lower fence changes nothing");

    let e = client
        .commit_offset(&addr, "fenced", 0, "g", 2, Some(2))
        .await
        .unwrap_err();
    assert_stale(e);
    let r = client.read_offset(&addr, "fenced", 0, "g").await.unwrap();
    assert_eq!(
        (r.offset, r.generation),
        (Some(1), Some(3)),
        "refused commit stored nothing"
    );

    client
        .commit_offset(&addr, "fenced", 0, "g", 2, Some(3))
        .await
        .unwrap();
    let r = client.read_offset(&addr, "fenced", 0, "g").await.unwrap();
    assert_eq!((r.offset, r.generation), (Some(2), Some(3)));

    // A group fenced before it ever committed: no offset, but the fence holds.
    let f = fence(&raft, "fenced", 0, "fresh", 5).await.unwrap();
    assert_eq!((f.offset, f.generation), (None, Some(5)));
    let r = client
        .read_offset(&addr, "fenced", 0, "fresh")
        .await
        .unwrap();
    assert_eq!((r.offset, r.generation), (None, Some(5)));
    assert_stale(
        client
            .commit_offset(&addr, "fenced", 0, "fresh", 0, Some(4))
            .await
            .unwrap_err(),
    );

    // Bad input is a JSON 4xx, not a crash.
    // Fencing is a manager's call, on the internal listener.
    let http =
        raftbus_tests::pki::node_client("manager", raftbus_tests::pki::TEST_MANAGER_ID).unwrap();
    let url = raftbus_tests::pki::url(raft, &routes::partition_fence("fenced", 0, "g"));
    let resp = http
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"generation\":-1}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let e = fence(&raft, "nope", 0, "g", 1).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::UnknownPartition, "{e}");
    client.health(&addr).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn broker_with_unreachable_managers_keeps_serving() {
    let c = BrokerCluster::start(1).await.unwrap();
    let url = c.pg.create_database("broker_2").unwrap();
    let managers = format!("127.0.0.1:{},127.0.0.1:{}", free_port(), free_port());
    let extra = vec!["--managers".to_string(), managers];
    let mut b = BrokerProcess::with_args(2, &url, c.dir.path(), extra).unwrap();
    b.start().unwrap();
    b.wait_healthy(Duration::from_secs(30)).await.unwrap();
    let addr = b.api_addr().to_string();
    // Own client, dropped before SIGTERM: a graceful stop waits for open connections.
    let client = BrokerClient::new(Duration::from_secs(15));
    let req = CreatePartitionRequest {
        group_id: Uuid::new_v4(),
        members: vec![Member {
            id: 2,
            api_addr: addr.clone(),
            raft_addr: b.raft_addr().to_string(),
            kafka_addr: None,
        }],
    };
    create_replica(b.raft_addr(), "solo", 0, &req)
        .await
        .unwrap();
    wait_until(
        "solo/0 to elect",
        Duration::from_secs(20),
        Duration::from_millis(50),
        || async {
            let s = client.partition_status(&addr, "solo", 0).await.ok()?;
            (s.role == Role::Leader).then_some(())
        },
    )
    .await
    .unwrap();

    // Several heartbeat intervals (1 s by default) with nobody answering.
    let what = "the heartbeat loop to report unreachable managers";
    wait_until(
        what,
        Duration::from_secs(15),
        Duration::from_millis(200),
        || async {
            b.log_tail(200)
                .contains("no manager accepted the heartbeat")
                .then_some(())
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", b.log_tail(40)));
    // Idle longer than raft.election_max_ms: a sole-voter leader must still take writes.
    tokio::time::sleep(Duration::from_millis(2_600)).await;
    let r = client
        .produce(&addr, "solo", 0, batch_of(&["x".into()]), None)
        .await
        .unwrap();
    assert_eq!(r.base_offset, 0);
    assert_eq!(client.health(&addr).await.unwrap().partitions, 1);
    assert!(b.is_running());

    // Graceful shutdown stops the loop and exits cleanly.
    drop(client);
    b.daemon_mut().sigterm().unwrap();
    let exited = tokio::task::block_in_place(|| b.daemon_mut().wait_exit(Duration::from_secs(20)));
    let status = exited.unwrap_or_else(|e| panic!("{e:#}\n{}", b.log_tail(40)));
    assert!(status.success(), "{status}\n{}", b.log_tail(40));
}
