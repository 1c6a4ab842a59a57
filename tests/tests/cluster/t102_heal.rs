//! Issue 7 acceptance 3: with 4 brokers and RF 3, a broker killed and kept down past the
//! healing grace period has its replicas moved to the live brokers without any manual step
//! (learner, catch-up, membership change), while a producer keeps writing; every acknowledged
//! record is then read back exactly once. The dead broker, restarted, drops its stale replicas.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use raftbus_tests::manager::ManagedCluster;
use raftbus_tests::traffic::{Traffic, observed};
use raftbus_tests::wait_until;

const GRACE_MS: u64 = 6_000;

#[tokio::test(flavor = "multi_thread")]
async fn dead_broker_replicas_move_to_live_brokers() {
    let grace = GRACE_MS.to_string();
    let env = [("RAFTBUS_HEALING__GRACE_MS", grace.as_str())];
    let (mut c, t) = ManagedCluster::with_topic(4, &env, "heal", 6)
        .await
        .unwrap();
    const VICTIM: u64 = 2;
    let hosted = t
        .partition_info
        .iter()
        .filter(|p| p.replicas.contains(&VICTIM))
        .count();
    assert!(hosted > 0, "broker-{VICTIM} hosts replicas");

    let traffic = Traffic::steady(&c.bootstrap(), "heal").await.unwrap();

    c.brokers[VICTIM as usize - 1].kill9().unwrap();
    let killed = Instant::now();
    println!(
        "killed broker-{VICTIM} (hosting {hosted} of 6 replicas sets) with {} records acked",
        traffic.acked()
    );
    let last = Cell::new(usize::MAX);
    wait_until(
        "every partition back to 3 live voters without the dead broker",
        Duration::from_secs(150),
        Duration::from_millis(500),
        || async {
            let seen = observed(&c, "heal").await?;
            let healed = seen
                .iter()
                .filter(|(p, o)| {
                    let replicas: BTreeSet<u64> = p.replicas.iter().copied().collect();
                    p.target_replicas.is_none()
                        && replicas.len() == 3
                        && !replicas.contains(&VICTIM)
                        && o.as_ref().is_some_and(|o| o.voters == replicas)
                })
                .count();
            if healed != last.replace(healed) {
                println!(
                    "t+{:>5} ms: {healed}/6 partitions with 3 live voters, {} records acked",
                    killed.elapsed().as_millis(),
                    traffic.acked()
                );
            }
            if healed == 6 {
                Ok(())
            } else {
                Err(format!("{healed}/6 healed"))
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", c.logs(40)));
    let took = killed.elapsed();
    println!(
        "healed {} ms after kill -9 (grace {GRACE_MS} ms, heartbeat timeout 3000 ms)",
        took.as_millis()
    );
    assert!(
        took >= Duration::from_millis(GRACE_MS),
        "nothing moved before the grace period"
    );
    // The dead broker comes back: its stale replicas (still voters in their own old
    // membership) are dropped, and the healed groups keep their voters.
    let idx = VICTIM as usize - 1;
    c.brokers[idx].start().unwrap();
    let back = Instant::now();
    wait_until(
        "the returning broker to drop its moved-away replicas",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || async {
            let host = c.hosted("heal").await?;
            match host.get(&VICTIM) {
                Some(parts) if parts.is_empty() => Ok(()),
                other => Err(format!("broker-{VICTIM} hosts {other:?}")),
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", c.logs(40)));
    println!(
        "broker-{VICTIM} restarted and dropped its stale replicas in {} ms",
        back.elapsed().as_millis()
    );
    wait_until(
        "every partition still led, 3 voters without the returning broker",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || async {
            for (p, o) in observed(&c, "heal").await? {
                let want: BTreeSet<u64> = p.replicas.iter().copied().collect();
                if want.contains(&VICTIM) || o.as_ref().is_none_or(|o| o.voters != want) {
                    return Err(format!("{p:?} {o:?}"));
                }
            }
            Ok(())
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", c.logs(40)));
    // Writes keep landing on the healed placement.
    let before = traffic.acked();
    traffic
        .wait_acked(before + 200, Duration::from_secs(30))
        .await
        .unwrap();
    let summary = traffic.finish(&c.bootstrap(), "heal").await.unwrap();
    println!("{summary}");
}
