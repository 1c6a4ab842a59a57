//! Issue 7 acceptance 4: a fifth broker joins a 4-broker cluster and `manager partition
//! rebalance` (the CLI) moves replicas and preferred leaders onto it until replicas and
//! leaders per broker are within one of even, while a producer keeps writing; brokers moved
//! off a partition drop their replica; every acknowledged record is read back exactly once.
//! With `healing.auto_rebalance` the same happens without the command.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use raftbus_tests::manager::ManagedCluster;
use raftbus_tests::traffic::{Traffic, observed};
use raftbus_tests::wait_until;

const PARTITIONS: usize = 8;

fn spread(counts: &BTreeMap<u64, usize>) -> usize {
    counts.values().max().unwrap() - counts.values().min().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn rebalance_onto_a_new_broker() {
    let (mut c, _) = ManagedCluster::with_topic(4, &[], "bal", PARTITIONS as u32)
        .await
        .unwrap();
    let traffic = Traffic::steady(&c.bootstrap(), "bal").await.unwrap();

    c.add_broker(5).await.unwrap();
    let (ok, stdout, stderr) = c
        .admin_cli(&["partition", "rebalance", "--topic", "bal"])
        .await
        .unwrap();
    println!("$ manager partition rebalance --topic bal\n{stdout}");
    assert!(ok, "{stderr}");
    assert!(stdout.contains("started"), "{stdout}");
    let started = Instant::now();

    wait_balanced(&c, &traffic, started).await;
    let summary = traffic.finish(&c.bootstrap(), "bal").await.unwrap();
    println!("{summary}");
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_rebalance_when_a_broker_joins() {
    let env = [("RAFTBUS_HEALING__AUTO_REBALANCE", "true")];
    let (mut c, _) = ManagedCluster::with_topic(4, &env, "bal", PARTITIONS as u32)
        .await
        .unwrap();
    let traffic = Traffic::steady(&c.bootstrap(), "bal").await.unwrap();
    c.add_broker(5).await.unwrap();
    let started = Instant::now();
    wait_balanced(&c, &traffic, started).await;
    let summary = traffic.finish(&c.bootstrap(), "bal").await.unwrap();
    println!("{summary}");
}

/// Waits until replicas and observed leaders of `bal` are within one of even over brokers
/// 1..=5, no move runs, every group's voters are its replicas and each broker hosts exactly
/// its replicas; prints the placement whenever it changes.
async fn wait_balanced(c: &ManagedCluster, traffic: &Traffic, started: Instant) {
    let last = Cell::new(String::new());
    wait_until(
        "replicas and leaders within one of even, moved-off replicas dropped",
        Duration::from_secs(240),
        Duration::from_millis(500),
        || async {
            let seen = observed(c, "bal").await?;
            let (mut reps, mut leads): (BTreeMap<u64, usize>, BTreeMap<u64, usize>) = (
                (1..=5).map(|b| (b, 0)).collect(),
                (1..=5).map(|b| (b, 0)).collect(),
            );
            let mut moving = 0;
            for (p, o) in &seen {
                moving += usize::from(p.target_replicas.is_some());
                for r in &p.replicas {
                    *reps.entry(*r).or_default() += 1;
                }
                if let Some(o) = o {
                    *leads.entry(o.leader).or_default() += 1;
                }
            }
            let state = format!("replicas {reps:?} leaders {leads:?} moving {moving}");
            if state != last.replace(state.clone()) {
                println!(
                    "t+{:>6} ms: {state}, {} acked",
                    started.elapsed().as_millis(),
                    traffic.acked()
                );
            }
            let led = leads.values().sum::<usize>() == PARTITIONS;
            if moving > 0 || spread(&reps) > 1 || !led || spread(&leads) > 1 {
                return Err(state);
            }
            let host = c.hosted("bal").await?;
            for (p, o) in &seen {
                let want: BTreeSet<u64> = p.replicas.iter().copied().collect();
                if o.as_ref().is_none_or(|o| o.voters != want) {
                    return Err(format!("partition {} voters not yet {want:?}", p.partition));
                }
                for (b, parts) in &host {
                    if parts.contains(&p.partition) != want.contains(b) {
                        return Err(format!(
                            "broker-{b} hosting of partition {} not settled",
                            p.partition
                        ));
                    }
                }
            }
            Ok(())
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", c.logs(40)));
    println!(
        "balanced {} ms after the rebalance started",
        started.elapsed().as_millis()
    );
}
