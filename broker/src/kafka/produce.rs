//! Produce: each partition's records become one Raftbus batch appended through the same
//! path as `POST .../records` ([`crate::api::produce::append`]): leadership and quorum
//! checks, the partition's proposer, Raft commit. `acks=1` and `acks=-1` both answer after
//! the Raft commit (a Raftbus leader never acknowledges what a majority does not hold);
//! `acks=0` hands the batch to the leader's pipeline and answers nothing.

use futures::future::join_all;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::StrBytes;
use raftbus_protocol::acl::{Operation, ResourceKind};
use raftbus_protocol::api::Acks;

use super::errors::code;
use super::init_producer_id::producer_uuid;
use super::records::from_kafka;
use super::{Kafka, Who};
use crate::api::produce::{Appended, append};
use crate::raft::ProducerSeq;

pub(super) async fn handle(k: &Kafka, who: &Who, r: ProduceRequest) -> ProduceResponse {
    let acks = match r.acks {
        0 => Ok(Acks::Leader),
        1 | -1 => Ok(Acks::All),
        _ => Err(ResponseError::InvalidRequiredAcks.code()),
    };
    let refuse = if r.transactional_id.as_ref().is_some_and(|t| !t.0.is_empty()) {
        Some(ResponseError::TransactionalIdAuthorizationFailed.code())
    } else {
        acks.err()
    };
    let acks = acks.unwrap_or_default();
    let topics = r
        .topic_data
        .into_iter()
        .map(|t| topic(k, who, t, acks, refuse));
    ProduceResponse::default().with_responses(join_all(topics).await)
}

async fn topic(
    k: &Kafka,
    who: &Who,
    t: TopicProduceData,
    acks: Acks,
    refuse: Option<i16>,
) -> TopicProduceResponse {
    let name = t.name.0.as_str().to_string();
    let refuse = refuse.or_else(|| {
        k.allowed(who, ResourceKind::Topic, &name, Operation::Produce)
            .err()
            .map(|_| ResponseError::TopicAuthorizationFailed.code())
    });
    let parts = t
        .partition_data
        .into_iter()
        .map(|p| partition(k, &name, p, acks, refuse));
    TopicProduceResponse::default()
        .with_name(t.name)
        .with_partition_responses(join_all(parts).await)
}

async fn partition(
    k: &Kafka,
    topic: &str,
    data: PartitionProduceData,
    acks: Acks,
    refuse: Option<i16>,
) -> PartitionProduceResponse {
    let resp = PartitionProduceResponse::default()
        .with_index(data.index)
        .with_base_offset(-1)
        .with_log_append_time_ms(-1)
        .with_log_start_offset(-1);
    let fail = |code: i16, message: Option<String>| {
        resp.clone()
            .with_error_code(code)
            .with_error_message(message.map(StrBytes::from_string))
    };
    if let Some(c) = refuse {
        return fail(c, None);
    }
    let hosted = u32::try_from(data.index)
        .ok()
        .and_then(|i| k.api.registry.get(topic, i));
    let Some(p) = hosted else {
        return fail(ResponseError::NotLeaderOrFollower.code(), None);
    };
    let Some(records) = data.records else {
        return fail(ResponseError::CorruptMessage.code(), None);
    };
    let incoming = match from_kafka(&records, k.api.settings.limits.max_batch_bytes) {
        Ok(i) => i,
        Err(e) => return fail(e.code, Some(e.message)),
    };
    let producer = match incoming.producer {
        Some((id, epoch, seq)) => match u64::try_from(seq) {
            Ok(seq) => Some(ProducerSeq {
                id: producer_uuid(id, epoch),
                seq,
            }),
            Err(_) => return fail(ResponseError::InvalidRecord.code(), None),
        },
        None => None,
    };
    let log_start = p.marks.borrow().log_start_offset as i64;
    match append(&k.api, &p, producer, incoming.batch, acks).await {
        Ok(Appended::Committed(r)) => resp
            .with_base_offset(r.base_offset as i64)
            .with_log_start_offset(log_start),
        Ok(Appended::Accepted { .. }) => resp.with_log_start_offset(log_start),
        Err(e) => fail(code(&e), Some(e.0.message)),
    }
}
