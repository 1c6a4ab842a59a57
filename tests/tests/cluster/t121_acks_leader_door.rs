//! Both acks modes go through the partition's one door (structure issue, build point 2): a
//! batch sent with `acks=leader` is answered `202`, counted by the produce metrics like an
//! `acks=all` batch, and stored in order with the `acks=all` batches around it.

use std::time::Duration;

use raftbus_tests::cluster::BrokerCluster;
use raftbus_tests::wait_until;
use uuid::Uuid;

use crate::batch_of;

/// The value of the unlabelled counter `name` in a `/metrics` text.
fn counter(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{text}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn acks_leader_batches_are_proposed_and_counted_like_acks_all() {
    let c = BrokerCluster::start(1).await.unwrap();
    c.create_partition("door", 0, 0).await.unwrap();
    let leader = c
        .wait_leader("door", 0, Duration::from_secs(20))
        .await
        .unwrap();
    let addr = c.addr(leader);
    let producer = Uuid::new_v4();
    let send = |seq: u64, value: &str, acks_leader: bool| {
        let (addr, batch) = (addr.clone(), batch_of(&[value.to_string()]));
        let client = c.client.clone();
        async move {
            client
                .produce_acks(&addr, "door", 0, batch, Some((producer, seq)), acks_leader)
                .await
        }
    };
    assert_eq!(send(0, "all-0", false).await.unwrap(), Some(0));
    for seq in 1..=3 {
        let r = send(seq, &format!("leader-{seq}"), true).await.unwrap();
        assert_eq!(r, None, "acks=leader answers without offsets");
    }
    assert_eq!(send(4, "all-4", false).await.unwrap(), Some(4));

    let read = c.read_all("door", 0).await.unwrap();
    let values: Vec<String> = read
        .iter()
        .map(|(_, r)| String::from_utf8_lossy(&r.value).into_owned())
        .collect();
    assert_eq!(
        values,
        ["all-0", "leader-1", "leader-2", "leader-3", "all-4"]
    );

    let url = raftbus_tests::pki::url(&addr, raftbus_protocol::routes::METRICS);
    let http = raftbus_tests::pki::client();
    let text = wait_until(
        "the produce counters to reach five requests",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || async {
            let text = http.get(&url).send().await.ok()?.text().await.ok()?;
            (counter(&text, "raftbus_produce_requests_total") == 5).then_some(text)
        },
    )
    .await
    .unwrap();
    assert_eq!(counter(&text, "raftbus_produced_records_total"), 5);
    assert_eq!(counter(&text, "raftbus_produce_errors_total"), 0);
}
