//! Process-level cluster tests: the real `broker` binaries against a throwaway Postgres.
//! One test binary (modules below), named by category as in the Raft library's tests:
//! t10 storage contract, t20 replication, t30 failover (t37: kill during shared transactions),
//! t40 whole-cluster crash, t50 quorum loss, t60 bad input, t85 control traffic at scale, t86
//! metadata topic rows, t87 dropped SDK handles, t95 security (forged RPCs, heartbeats, tokens), t100 retention, t101 Raft log compaction,
//! t102/t103 replica healing and rebalance, t104 reassign and leadership balance, t105
//! producer-id expiry and metadata reaping (bounded state), t110.. Kafka clients (kcat,
//! kafka-python, confluent-kafka) against the brokers' Kafka listener, t120 a frozen leader
//! under an SDK group consumer (one routing policy), t121 both acks through the partition's
//! one door.

mod t10_storage_suite;
mod t20_replication;
mod t30_failover;
mod t35_quiesce;
mod t36_storage_outage;
mod t37_shared_writer_kill;
mod t38_durability_settings;
mod t40_restart_all;
mod t50_quorum_loss;
mod t60_bad_input;
mod t70_fencing;
mod t80_topics;
mod t81_write_manager_failover;
mod t82_broker_liveness;
mod t83_consumer_groups;
mod t84_sdk;
mod t85_large_heartbeat;
mod t86_meta_topic_rows;
mod t87_sdk_drop;
mod t90_cli;
mod t95_security;

// Kept apart so rustfmt leaves them after t90 (numeric order).
mod t100_retention;
mod t101_log_compaction;
mod t102_heal;
mod t103_rebalance;
mod t104_reassign_leaders;
mod t105_expiry;
mod t106_large_snapshot;
mod t107_flood;
mod t110_kafka;
mod t111_kafka_idempotent;
mod t112_kafka_groups;
mod t113_kafka_headers;
mod t120_frozen_leader_consumer;
mod t121_acks_leader_door;

use bytes::Bytes;
use raftbus_protocol::RecordBatch;

/// Encodes values (no keys) as one record batch.
pub fn batch_of(values: &[String]) -> Bytes {
    RecordBatch::from_records(values.iter().map(|v| (None, v.as_bytes())), 0).into_bytes()
}
