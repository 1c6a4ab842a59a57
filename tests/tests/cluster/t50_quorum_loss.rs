//! Acceptance 6: with two of three replicas down, produce is refused with a clear error (or
//! times out), nothing is acknowledged meanwhile, and no record acknowledged before is lost.

use std::time::{Duration, Instant};

use raftbus_tests::cluster::{BrokerCluster, is_unavailable};
use uuid::Uuid;

use crate::batch_of;

#[tokio::test(flavor = "multi_thread")]
async fn majority_down_refuses_writes_and_keeps_acknowledged_ones() {
    let mut c = BrokerCluster::start(3).await.unwrap();
    c.create_partition("audit", 0, 0).await.unwrap();
    let leader = c
        .wait_leader("audit", 0, Duration::from_secs(20))
        .await
        .unwrap();
    let producer = Uuid::new_v4();
    let mut expected = Vec::new();
    for seq in 0..10u64 {
        let values: Vec<String> = (0..5).map(|i| format!("{seq}-{i}")).collect();
        let deadline = Instant::now() + Duration::from_secs(20);
        c.produce_retrying("audit", 0, batch_of(&values), (producer, seq), deadline)
            .await
            .unwrap();
        expected.extend(values);
    }

    let followers: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    for &f in &followers {
        c.brokers[f].kill9().unwrap();
    }
    // Keep trying for a while: every attempt must be refused, none acknowledged.
    let addr = c.addr(leader);
    let until = Instant::now() + Duration::from_secs(14);
    let mut refusals = Vec::new();
    let mut seq = 10u64;
    while Instant::now() < until {
        let r = c
            .client
            .produce(
                &addr,
                "audit",
                0,
                batch_of(&["lost?".into()]),
                Some((producer, seq)),
            )
            .await;
        match r {
            Ok(ok) => panic!("a write was acknowledged without a majority: {ok:?}"),
            Err(e) => {
                assert!(is_unavailable(&e), "unexpected error kind: {e}");
                refusals.push(e.to_string());
            }
        }
        seq += 1;
    }
    println!(
        "with 2 of 3 replicas down, {} attempts refused; last: {}",
        refusals.len(),
        refusals.last().unwrap()
    );
    assert!(
        refusals.iter().any(|m| m.contains("no_quorum")),
        "the refusal names the problem: {refusals:?}"
    );

    // Bring one follower back: the majority returns and nothing acknowledged is missing.
    c.brokers[followers[0]].start().unwrap();
    c.brokers[followers[0]]
        .wait_healthy(Duration::from_secs(30))
        .await
        .unwrap();
    let read = c.read_all("audit", 0).await.unwrap();
    let got: Vec<&[u8]> = read.iter().map(|(_, r)| r.value.as_ref()).collect();
    let want: Vec<&[u8]> = expected.iter().map(|v| v.as_bytes()).collect();
    assert!(
        got.len() >= want.len() && got[..want.len()] == want[..],
        "acknowledged prefix intact"
    );
    assert!(
        got[want.len()..].iter().all(|v| *v == b"lost?"),
        "only the refused/timed-out (ambiguous) attempts may have landed after the prefix"
    );
}
