//! Prometheus text metrics at `/metrics`: request counters plus per-partition gauges.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use actix_web::{HttpResponse, web};
use bytes::Bytes;

use super::ApiState;
use crate::error::ApiError;
use crate::partition::Registry;
use crate::raft::CommandResponse;
use raftbus_raft::commit::Stats;

/// Counters since start-up.
#[derive(Default)]
pub struct Metrics {
    produce_requests: AtomicU64,
    produce_errors: AtomicU64,
    produced_records: AtomicU64,
    produced_bytes: AtomicU64,
    duplicate_batches: AtomicU64,
    fetch_requests: AtomicU64,
    fetched_bytes: AtomicU64,
}

impl Metrics {
    pub(super) fn produced(
        &self,
        r: &Result<CommandResponse, ApiError>,
        records: u32,
        bytes: usize,
    ) {
        self.produce_requests.fetch_add(1, Relaxed);
        match r {
            Ok(CommandResponse::Appended {
                duplicate: true, ..
            }) => {
                self.duplicate_batches.fetch_add(1, Relaxed);
            }
            Ok(_) => {
                self.produced_records.fetch_add(u64::from(records), Relaxed);
                self.produced_bytes.fetch_add(bytes as u64, Relaxed);
            }
            Err(_) => {
                self.produce_errors.fetch_add(1, Relaxed);
            }
        }
    }

    pub(crate) fn fetched(&self, batches: &[(u64, u32, Bytes)]) {
        self.fetch_requests.fetch_add(1, Relaxed);
        self.fetched_bytes
            .fetch_add(batches.iter().map(|b| b.2.len() as u64).sum(), Relaxed);
    }
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "node",
    responses((status = 200, description = "Prometheus text metrics", body = String, content_type = "text/plain"))
)]
pub(super) async fn render(state: web::Data<ApiState>) -> HttpResponse {
    let m = &state.metrics;
    let mut out = String::new();
    let counters = [
        (
            "raftbus_produce_requests_total",
            "Produce requests received",
            &m.produce_requests,
        ),
        (
            "raftbus_produce_errors_total",
            "Produce requests answered with an error",
            &m.produce_errors,
        ),
        (
            "raftbus_produced_records_total",
            "Records appended",
            &m.produced_records,
        ),
        (
            "raftbus_produced_bytes_total",
            "Batch bytes appended",
            &m.produced_bytes,
        ),
        (
            "raftbus_duplicate_batches_total",
            "Retried batches recognised as duplicates",
            &m.duplicate_batches,
        ),
        (
            "raftbus_fetch_requests_total",
            "Fetch requests served",
            &m.fetch_requests,
        ),
        (
            "raftbus_fetched_bytes_total",
            "Batch bytes returned by fetches",
            &m.fetched_bytes,
        ),
    ];
    let rpcs = &raftbus_raft::server::RECEIVED;
    let raft_counters = [
        (
            "raftbus_raft_append_rpcs_received_total",
            "Raft append RPCs (replication and heartbeats) received, all groups",
            &rpcs.append,
        ),
        (
            "raftbus_raft_vote_rpcs_received_total",
            "Raft vote and pre-vote RPCs received, all groups",
            &rpcs.vote,
        ),
        (
            "raftbus_raft_messages_received_total",
            "Raft messages (HTTP requests, each carrying one or many groups' RPCs) received",
            &rpcs.messages,
        ),
    ];
    for (name, help, v) in counters.into_iter().chain(raft_counters) {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
            v.load(Relaxed)
        );
    }
    batching(&mut out, &state.registry);
    heartbeat_sizes(&mut out);
    let node = state.registry.node_id();
    let statuses: Vec<_> = state
        .registry
        .all()
        .iter()
        .map(|p| p.status(node))
        .collect();
    let _ = writeln!(
        out,
        "# HELP raftbus_partitions Partition replicas hosted\n# TYPE raftbus_partitions gauge"
    );
    let _ = writeln!(out, "raftbus_partitions {}", statuses.len());
    let _ = writeln!(
        out,
        "# HELP raftbus_partition_is_leader 1 when this replica leads\n# TYPE raftbus_partition_is_leader gauge"
    );
    for s in &statuses {
        let leader = u8::from(s.leader_id == Some(node));
        let _ = writeln!(
            out,
            "raftbus_partition_is_leader{{topic=\"{}\",partition=\"{}\"}} {leader}",
            s.topic, s.partition
        );
    }
    let _ = writeln!(
        out,
        "# HELP raftbus_partition_log_end_offset Next offset to be written\n# TYPE raftbus_partition_log_end_offset gauge"
    );
    for s in &statuses {
        let _ = writeln!(
            out,
            "raftbus_partition_log_end_offset{{topic=\"{}\",partition=\"{}\"}} {}",
            s.topic, s.partition, s.log_end_offset
        );
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(out)
}

/// Picks one counter of a lane's [`Stats`].
type Field = fn(&Stats) -> &AtomicU64;

/// The shared writer's transactions and the per-peer message streams: what makes the broker's
/// cost follow rounds and bytes rather than entries times partitions.
fn batching(out: &mut String, registry: &Registry) {
    let storage = registry.storage();
    let lanes = [
        ("log", storage.log.stats()),
        ("state", storage.state.stats()),
    ];
    let series: [(&str, &str, Field); 5] = [
        (
            "raftbus_storage_transactions_total",
            "Postgres transactions committed by the shared writer",
            |s| &s.transactions,
        ),
        (
            "raftbus_storage_failed_transactions_total",
            "Shared transactions that failed (their groups were retried alone)",
            |s| &s.failures,
        ),
        (
            "raftbus_storage_entries_total",
            "Entries written by the shared writer (log entries, applied runs)",
            |s| &s.entries,
        ),
        (
            "raftbus_storage_groups_total",
            "Sum over transactions of the groups each held",
            |s| &s.groups,
        ),
        (
            "raftbus_storage_bytes_total",
            "Bytes written by the shared writer",
            |s| &s.bytes,
        ),
    ];
    for (name, help, field) in series {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (lane, stats) in &lanes {
            let _ = writeln!(
                out,
                "{name}{{lane=\"{lane}\"}} {}",
                field(stats).load(Relaxed)
            );
        }
    }
    let peers = registry.router().peer_stats();
    for (name, help, pick) in [
        (
            "raftbus_peer_messages_sent_total",
            "Raft messages (HTTP requests) sent to each peer broker",
            1,
        ),
        (
            "raftbus_peer_rpcs_sent_total",
            "Raft RPCs of all groups carried by those messages",
            2,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for p in &peers {
            let v = if pick == 1 { p.1 } else { p.2 };
            let _ = writeln!(out, "{name}{{peer=\"{}\"}} {v}", p.0);
        }
    }
}

/// Sizes of the last full and incremental manager heartbeat requests, of the last reply with
/// the assignment set and of the last `unchanged` one, and how many reports of each kind were
/// answered: the control traffic a broker causes.
fn heartbeat_sizes(out: &mut String) {
    let s = &crate::tasks::heartbeat::report::SIZES;
    let gauges = [
        ("full_request", &s.full_request),
        ("incremental_request", &s.incremental_request),
        ("set_reply", &s.set_reply),
        ("unchanged_reply", &s.unchanged_reply),
    ];
    let _ = writeln!(
        out,
        "# HELP raftbus_heartbeat_last_bytes Bytes of the last answered manager heartbeat\n# TYPE raftbus_heartbeat_last_bytes gauge"
    );
    for (kind, v) in gauges {
        let _ = writeln!(
            out,
            "raftbus_heartbeat_last_bytes{{kind=\"{kind}\"}} {}",
            v.load(Relaxed)
        );
    }
    let _ = writeln!(
        out,
        "# HELP raftbus_heartbeat_reports_total Manager heartbeats answered\n# TYPE raftbus_heartbeat_reports_total counter"
    );
    for (kind, v) in [
        ("full", &s.full_reports),
        ("incremental", &s.incremental_reports),
    ] {
        let _ = writeln!(
            out,
            "raftbus_heartbeat_reports_total{{kind=\"{kind}\"}} {}",
            v.load(Relaxed)
        );
    }
}
