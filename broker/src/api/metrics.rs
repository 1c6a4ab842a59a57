//! Prometheus metrics at `/metrics` (through `raftbus_node::metrics`, the `prometheus` crate):
//! request counters plus per-partition gauges.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use actix_web::{HttpResponse, web};
use bytes::Bytes;
use prometheus::IntCounter;
use raftbus_node::metrics::{Scrape, counter};

use super::ApiState;
use crate::error::ApiError;
use crate::partition::Registry;
use crate::raft::CommandResponse;
use raftbus_raft::commit::Stats;

/// Counters since start-up.
pub struct Metrics {
    produce_requests: IntCounter,
    produce_errors: IntCounter,
    produced_records: IntCounter,
    produced_bytes: IntCounter,
    duplicate_batches: IntCounter,
    fetch_requests: IntCounter,
    fetched_bytes: IntCounter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            produce_requests: counter(
                "raftbus_produce_requests_total",
                "Produce requests received (either acks)",
            ),
            produce_errors: counter(
                "raftbus_produce_errors_total",
                "Produce requests answered with an error",
            ),
            produced_records: counter(
                "raftbus_produced_records_total",
                "Records appended (acks=all) or accepted for appending (acks=leader)",
            ),
            produced_bytes: counter(
                "raftbus_produced_bytes_total",
                "Batch bytes appended (acks=all) or accepted for appending (acks=leader)",
            ),
            duplicate_batches: counter(
                "raftbus_duplicate_batches_total",
                "Retried batches recognised as duplicates",
            ),
            fetch_requests: counter("raftbus_fetch_requests_total", "Fetch requests served"),
            fetched_bytes: counter(
                "raftbus_fetched_bytes_total",
                "Batch bytes returned by fetches",
            ),
        }
    }
}

impl Metrics {
    /// Counts a produce request of either acks (`Ok(None)`: accepted with `acks=leader`).
    pub(super) fn produced(
        &self,
        r: &Result<Option<CommandResponse>, ApiError>,
        records: u32,
        bytes: usize,
    ) {
        self.produce_requests.inc();
        match r {
            Ok(Some(CommandResponse::Appended {
                duplicate: true, ..
            })) => self.duplicate_batches.inc(),
            Ok(_) => {
                self.produced_records.inc_by(u64::from(records));
                self.produced_bytes.inc_by(bytes as u64);
            }
            Err(_) => self.produce_errors.inc(),
        }
    }

    pub(crate) fn fetched(&self, batches: &[(u64, u32, Bytes)]) {
        self.fetch_requests.inc();
        self.fetched_bytes
            .inc_by(batches.iter().map(|b| b.2.len() as u64).sum());
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
    let mut s = Scrape::new();
    for c in [
        &m.produce_requests,
        &m.produce_errors,
        &m.produced_records,
        &m.produced_bytes,
        &m.duplicate_batches,
        &m.fetch_requests,
        &m.fetched_bytes,
    ] {
        s.add(c.clone());
    }
    let rpcs = &raftbus_raft::server::RECEIVED;
    for (name, help, v) in [
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
    ] {
        s.counter(name, help, v.load(Relaxed));
    }
    batching(&mut s, &state.registry);
    heartbeat_sizes(&mut s);
    let node = state.registry.node_id();
    let statuses: Vec<_> = state
        .registry
        .all()
        .iter()
        .map(|p| p.status(node))
        .collect();
    s.gauge(
        "raftbus_partitions",
        "Partition replicas hosted",
        statuses.len() as i64,
    );
    let labels = ["topic", "partition"];
    let index: Vec<String> = statuses.iter().map(|s| s.partition.to_string()).collect();
    let series = |v: &dyn Fn(usize) -> i64| {
        statuses
            .iter()
            .zip(&index)
            .enumerate()
            .map(|(i, (st, p))| (vec![st.topic.as_str(), p.as_str()], v(i)))
            .collect::<Vec<_>>()
    };
    s.gauges(
        "raftbus_partition_is_leader",
        "1 when this replica leads",
        &labels,
        series(&|i| i64::from(statuses[i].leader_id == Some(node))),
    );
    s.gauges(
        "raftbus_partition_log_end_offset",
        "Next offset to be written",
        &labels,
        series(&|i| statuses[i].log_end_offset as i64),
    );
    s.render()
}

/// Picks one counter of a lane's [`Stats`].
type Field = fn(&Stats) -> &AtomicU64;

/// The shared writer's transactions and the per-peer message streams: what makes the broker's
/// cost follow rounds and bytes rather than entries times partitions.
fn batching(s: &mut Scrape, registry: &Registry) {
    let storage = registry.storage();
    // One writer since applied state shares the log's transactions; the label stays.
    let lanes = [("log", storage.log.stats())];
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
        let values = lanes
            .iter()
            .map(|(lane, stats)| (*lane, field(stats).load(Relaxed)));
        s.counters(name, help, "lane", values);
    }
    let peers = registry.router().peer_stats();
    let names: Vec<String> = peers.iter().map(|p| p.0.to_string()).collect();
    s.counters(
        "raftbus_peer_messages_sent_total",
        "Raft messages (HTTP requests) sent to each peer broker",
        "peer",
        names.iter().zip(&peers).map(|(n, p)| (n.as_str(), p.1)),
    );
    s.counters(
        "raftbus_peer_rpcs_sent_total",
        "Raft RPCs of all groups carried by those messages",
        "peer",
        names.iter().zip(&peers).map(|(n, p)| (n.as_str(), p.2)),
    );
}

/// Sizes of the last full and incremental manager heartbeat requests, of the last reply with
/// the assignment set and of the last `unchanged` one, and how many reports of each kind were
/// answered: the control traffic a broker causes.
fn heartbeat_sizes(s: &mut Scrape) {
    let h = &crate::tasks::heartbeat::report::SIZES;
    let gauges = [
        ("full_request", &h.full_request),
        ("incremental_request", &h.incremental_request),
        ("set_reply", &h.set_reply),
        ("unchanged_reply", &h.unchanged_reply),
    ];
    s.gauges(
        "raftbus_heartbeat_last_bytes",
        "Bytes of the last answered manager heartbeat",
        &["kind"],
        gauges
            .into_iter()
            .map(|(kind, v)| (vec![kind], v.load(Relaxed) as i64)),
    );
    s.counters(
        "raftbus_heartbeat_reports_total",
        "Manager heartbeats answered",
        "kind",
        [
            ("full", h.full_reports.load(Relaxed)),
            ("incremental", h.incremental_reports.load(Relaxed)),
        ],
    );
}
