//! Kafka record batches (v2, any compression) to and from Raftbus batches.
//!
//! A produced Kafka batch becomes one Raftbus batch with the same keys, values, headers and
//! timestamps; stored Raftbus batches go back as uncompressed v2 batches with their offsets.
//! The codec (`kafka-protocol`) keeps a record's headers in a map, so a header name repeated
//! within one record reaches us once, with its last value.

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::ResponseError;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use raftbus_protocol::{BatchBuilder, Header, RecordBatch};

/// The smallest encoded Kafka v2 record (length, attributes, timestamp and offset deltas,
/// key and value lengths, header count: one byte each): bounds a batch's announced record
/// count before the decoder reserves room for that many.
const MIN_RECORD_BYTES: usize = 7;

/// Why produced bytes were refused: a Kafka error code and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(super) struct Refused {
    /// Kafka error code.
    pub code: i16,
    /// Why.
    pub message: String,
}

fn refused(e: ResponseError, message: impl Into<String>) -> Refused {
    Refused {
        code: e.code(),
        message: message.into(),
    }
}

/// A produced partition's records, converted.
#[derive(Debug)]
pub(super) struct Incoming {
    /// The Raftbus batch.
    pub batch: RecordBatch,
    /// `(producer id, epoch, base sequence)` of an idempotent producer's batch.
    pub producer: Option<(i64, i16, i32)>,
}

/// Converts the `records` of one produced partition; at most `max_bytes` of keys and values.
pub(super) fn from_kafka(data: &Bytes, max_bytes: usize) -> Result<Incoming, Refused> {
    let corrupt = |e: anyhow::Error| refused(ResponseError::CorruptMessage, e.to_string());
    let infos = RecordBatchDecoder::decode_batch_info(&mut data.clone()).map_err(corrupt)?;
    let Some(first) = infos.first() else {
        return Err(refused(ResponseError::CorruptMessage, "no record batch"));
    };
    for info in &infos {
        let n = usize::try_from(info.record_count).unwrap_or(0);
        if n == 0 || n.saturating_mul(MIN_RECORD_BYTES) > max_bytes {
            return Err(refused(
                ResponseError::InvalidRecord,
                format!("a batch announces {} records", info.record_count),
            ));
        }
        if info.transactional || info.control {
            return Err(refused(
                ResponseError::InvalidRecord,
                "transactional batches are not supported",
            ));
        }
    }
    // Idempotent producers send exactly one batch per partition (Produce v3+).
    let producer = (first.producer_id >= 0).then_some((
        first.producer_id,
        first.producer_epoch,
        first.base_sequence,
    ));
    if producer.is_some() && infos.len() != 1 {
        return Err(refused(
            ResponseError::InvalidRecord,
            "an idempotent produce carries one batch per partition",
        ));
    }
    // Decompression is bounded too (`inflate.rs`), batch by batch.
    let inflate = |b: &mut Bytes, c| super::inflate::inflate(b, c, max_bytes);
    let mut buf = data.clone();
    let mut sets = Vec::with_capacity(infos.len());
    while buf.has_remaining() {
        let set = RecordBatchDecoder::decode_with_custom_compression(&mut buf, Some(&inflate));
        sets.push(set.map_err(corrupt)?);
    }
    let records = sets.iter().flat_map(|s| s.records.iter());
    let base = records
        .clone()
        .map(|r| r.timestamp.max(0))
        .min()
        .unwrap_or(0);
    let mut builder = BatchBuilder::new(base as u64);
    let mut headers = Vec::new();
    for r in records {
        headers.clear();
        headers.extend(r.headers.iter().map(|(k, v)| Header {
            key: k.as_str().to_owned(),
            value: v.clone(),
        }));
        let value = r.value.as_deref().unwrap_or_default();
        builder.push_with_headers(r.key.as_deref(), value, r.timestamp.max(0) as u64, &headers);
        if builder.encoded_len() > max_bytes {
            return Err(refused(
                ResponseError::MessageTooLarge,
                format!("records exceed limits.max_batch_bytes ({max_bytes} bytes)"),
            ));
        }
    }
    let batch = RecordBatch::parse(builder.finish())
        .map_err(|e| refused(ResponseError::CorruptMessage, e.to_string()))?;
    Ok(Incoming { batch, producer })
}

/// Encodes stored batches `(base offset, count, bytes)` as Kafka v2 batches, one each.
pub(super) fn to_kafka(batches: &[(u64, u32, Bytes)]) -> anyhow::Result<Bytes> {
    let mut out = BytesMut::with_capacity(batches.iter().map(|b| b.2.len() + 80).sum());
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    for (base, _, data) in batches {
        let batch = RecordBatch::parse(data.clone())?;
        let records: Vec<Record> = batch
            .records()
            .enumerate()
            .map(|(i, r)| {
                // The encoder keeps records in one batch while offset - sequence is
                // constant; without a producer the sequence means nothing else.
                plain_record(
                    (base + i as u64) as i64,
                    i as i32,
                    i64::try_from(r.timestamp_ms).unwrap_or(i64::MAX),
                    r.key,
                    r.value,
                    r.headers,
                )
            })
            .collect();
        RecordBatchEncoder::encode(&mut out, records.iter(), &options)?;
    }
    Ok(out.freeze())
}

/// A record outside any producer or transaction.
fn plain_record(
    offset: i64,
    sequence: i32,
    timestamp: i64,
    key: Option<Bytes>,
    value: Bytes,
    headers: Vec<Header>,
) -> Record {
    Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset,
        sequence,
        timestamp,
        key,
        value: Some(value),
        headers: headers
            .into_iter()
            .map(|h| (StrBytes::from_string(h.key), h.value))
            .collect(),
    }
}

#[cfg(test)]
mod tests;
