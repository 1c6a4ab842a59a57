//! The final read: a fresh standalone consumer reads every partition from offset 0 until it
//! is at each partition's high watermark and two successive polls bring nothing new.
//!
//! A fresh consumer (no group, no committed offsets, new connections) sees only what the
//! cluster serves now, so it is the reference log `L_p` of the checker. The high watermark
//! is asked of each partition's leader; a read that does not reach it within the budget is
//! recorded as an `info` `final_read` event, which the checker prints, and the missing records
//! show up as `lost`.

use std::collections::BTreeMap;
use std::time::Duration;

use raftbus_sdk::protocol::api::Role;
use raftbus_sdk::{Admin, BrokerClient, Consumer, ConsumerConfig, StartFrom};
use tokio::time::Instant;

use super::{Config, connect_with_retry};
use crate::CrashtestError;
use crate::history::{Event, Func, HistoryWriter, Kind};

const PROC: &str = "final";
const POLL_TIMEOUT: Duration = Duration::from_secs(1);

/// Reads everything; returns `(records read, complete)`.
pub(super) async fn run(
    cfg: &Config,
    history: &HistoryWriter,
    budget: Duration,
) -> Result<(u64, bool), CrashtestError> {
    let deadline = Instant::now() + budget;
    let cc = ConsumerConfig::new(cfg.bootstrap.clone())
        .start(StartFrom::Earliest)
        .auto_commit(None);
    let mut consumer =
        connect_with_retry(PROC, || Consumer::connect(cc.clone(), &cfg.topic)).await?;
    let n = consumer.partitions();
    let all: Vec<(u32, StartFrom)> = (0..n).map(|p| (p, StartFrom::Earliest)).collect();
    consumer
        .assign(&all)
        .await
        .map_err(|source| CrashtestError::Sdk {
            context: "final read: assign".into(),
            source: Box::new(source),
        })?;
    let admin = Admin::new(&cfg.bootstrap).map_err(|source| CrashtestError::Sdk {
        context: "bootstrap".into(),
        source: Box::new(source),
    })?;
    let client = BrokerClient::new(Duration::from_secs(5));
    let mut read = 0u64;
    let mut quiet = 0u32;
    let mut last_gap = String::from("no high watermark known yet");
    while Instant::now() < deadline {
        match consumer.poll(POLL_TIMEOUT).await {
            Ok(records) if records.is_empty() => quiet += 1,
            Ok(records) => {
                quiet = 0;
                for rec in records {
                    read += 1;
                    history.record(
                        Event::new(PROC, Kind::Ok, Func::FinalRead)
                            .part(rec.partition)
                            .offset(rec.offset)
                            .value(String::from_utf8_lossy(&rec.value)),
                    );
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "final read: poll failed");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        if quiet < 2 {
            continue;
        }
        let positions = consumer.positions();
        match high_watermarks(&admin, &client, &cfg.topic, n).await {
            Some(hw) if (0..n).all(|p| positions.get(&p) == hw.get(&p)) => {
                let _ = consumer.close().await;
                return Ok((read, true));
            }
            Some(hw) => last_gap = format!("positions {positions:?}, high watermarks {hw:?}"),
            None => last_gap = "a partition has no reachable leader".into(),
        }
    }
    let why = format!("final read incomplete after {budget:?}: {last_gap}");
    tracing::warn!("{why}");
    history.record(Event::new(PROC, Kind::Info, Func::FinalRead).err(why));
    let _ = consumer.close().await;
    Ok((read, false))
}

/// Each partition's high watermark according to its leader; `None` if any is unknown.
async fn high_watermarks(
    admin: &Admin,
    client: &BrokerClient,
    topic: &str,
    n: u32,
) -> Option<BTreeMap<u32, u64>> {
    let meta = admin.metadata(topic, false).await.ok()?;
    let mut out = BTreeMap::new();
    for p in 0..n {
        let mut addr = meta
            .partitions
            .iter()
            .find(|r| r.partition == p)?
            .leader_addr
            .clone()?;
        // Follow one redirect if the metadata is a little behind an election.
        for _ in 0..2 {
            let s = client.partition_status(&addr, topic, p).await.ok()?;
            if s.role == Role::Leader {
                out.insert(p, s.log_end_offset);
                break;
            }
            addr = s.leader_addr?;
        }
        if !out.contains_key(&p) {
            return None;
        }
    }
    Some(out)
}
