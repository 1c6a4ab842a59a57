//! InitProducerId and the mapping of Kafka idempotent producers onto Raftbus producer ids.
//!
//! A Kafka producer `(id, epoch)` is the Raftbus producer whose uuid is `"kafka\x01" | id |
//! epoch` (big-endian): deterministic, so every broker, before and after a failover, maps a
//! retried batch to the same producer. Kafka numbers records, not batches: a batch's base
//! sequence is the previous one's plus its record count. The partition state machine accepts
//! exactly that for these uuids ([`record_sequenced`]) and otherwise deduplicates as for any
//! producer: a retried batch inside the window answers its original offsets, a gap is refused.
//! Transactions are not served (no transactional id is accepted).

use kafka_protocol::ResponseError;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use uuid::Uuid;

/// First bytes of every Kafka producer's uuid.
const MARK: &[u8; 6] = b"kafka\x01";

/// The Raftbus producer uuid of Kafka producer `(id, epoch)`.
pub fn producer_uuid(id: i64, epoch: i16) -> Uuid {
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(MARK);
    b[6..14].copy_from_slice(&id.to_be_bytes());
    b[14..].copy_from_slice(&epoch.to_be_bytes());
    Uuid::from_bytes(b)
}

/// True for the uuids of Kafka producers, whose sequences count records (the next batch's
/// sequence is the last one's plus its record count) instead of batches.
pub fn record_sequenced(id: &Uuid) -> bool {
    id.as_bytes().starts_with(MARK)
}

/// A new id (random, positive: collisions are as unlikely as for the SDK's uuids), or the
/// next epoch of the caller's id (KIP-360: a producer bumps its epoch to reset sequences).
pub(super) fn handle(r: InitProducerIdRequest) -> InitProducerIdResponse {
    let resp = InitProducerIdResponse::default();
    // Non-transactional producers send null; an empty id is treated the same.
    if r.transactional_id.as_ref().is_some_and(|t| !t.0.is_empty()) {
        return resp.with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code());
    }
    let (id, epoch) = match (r.producer_id.0, r.producer_epoch) {
        (id, epoch) if id >= 0 && (0..i16::MAX).contains(&epoch) => (id, epoch + 1),
        _ => {
            let bytes = Uuid::new_v4().into_bytes();
            let raw = i64::from_be_bytes(bytes[..8].try_into().expect("8 bytes"));
            (raw & i64::MAX, 0)
        }
    };
    resp.with_producer_id(ProducerId(id))
        .with_producer_epoch(epoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_producers_map_to_marked_uuids() {
        let u = producer_uuid(42, 3);
        assert!(record_sequenced(&u));
        assert_ne!(u, producer_uuid(42, 4));
        assert!(!record_sequenced(&Uuid::new_v4()));
        let bumped = handle(
            InitProducerIdRequest::default()
                .with_producer_id(ProducerId(42))
                .with_producer_epoch(3),
        );
        assert_eq!((bumped.producer_id.0, bumped.producer_epoch), (42, 4));
        let fresh = handle(InitProducerIdRequest::default().with_producer_id(ProducerId(-1)));
        assert!(fresh.producer_id.0 >= 0 && fresh.producer_epoch == 0);
    }
}
