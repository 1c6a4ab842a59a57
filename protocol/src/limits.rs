//! Request body limits of the broker and manager HTTP APIs.
//!
//! Every route that takes a body has an explicit limit (set per route in each server's
//! `configure`); a body over it is answered `413 too_large` with the limit in `limit_bytes`
//! and in the message. Small bodies get a small limit so a bad client cannot make a server
//! buffer megabytes; the broker heartbeat gets a large one because its full report grows
//! with the replicas a broker hosts. The Raft RPC routes (`raftbus-raft`) keep their own
//! limit.

/// One KiB.
pub const KIB: usize = 1024;
/// One MiB.
pub const MIB: usize = 1024 * KIB;

/// Bytes one hosted replica costs in a full JSON broker heartbeat, rounded up from the 155
/// measured by `meta::tests::full_report_bytes_per_replica` (three voters, 12-digit offsets).
/// Used to size [`BROKER_HEARTBEAT_LIMIT`].
pub const HEARTBEAT_BYTES_PER_REPLICA: usize = 200;

/// `POST /v1/heartbeat/broker` (manager): a full report of every hosted replica. 16 MiB fits
/// about 80,000 replicas on one broker, over 25 times the 3,000 the cluster is sized for.
pub const BROKER_HEARTBEAT_LIMIT: usize = 16 * MIB;

// The sizing target with its margin, checked at compile time.
const _: () = assert!(BROKER_HEARTBEAT_LIMIT / HEARTBEAT_BYTES_PER_REPLICA >= 25 * 3_000);

/// JSON produce through a manager (`POST /v1/topics/{topic}/records`), relayed to the leader:
/// as large as the broker's default `limits.max_batch_bytes`, which the broker enforces.
pub const PRODUCE_JSON_LIMIT: usize = 4 * MIB;

/// Every other body (topic create/alter, reassign, rebalance, producer and consumer
/// heartbeats, partition create, offset commit, fence): a few hundred bytes in practice.
pub const SMALL_BODY_LIMIT: usize = 64 * KIB;

/// A byte count for messages: `16 MiB`, `64 KiB` or `300 bytes`.
pub fn human(bytes: usize) -> String {
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_print_in_binary_units() {
        assert_eq!(human(BROKER_HEARTBEAT_LIMIT), "16 MiB");
        assert_eq!(human(SMALL_BODY_LIMIT), "64 KiB");
        assert_eq!(human(1000), "1000 bytes");
    }
}
