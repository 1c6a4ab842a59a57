//! Unit and property tests of the record-batch codec: any records round-trip, and no byte
//! string makes `parse` (or iterating a batch it accepted) panic.

use proptest::prelude::*;

use super::*;

#[test]
fn roundtrip_keys_values_timestamps() {
    let mut b = BatchBuilder::new(1_000);
    b.push(None, b"v0", 1_000);
    b.push(Some(b""), b"v1", 1_005);
    b.push(Some(b"key"), b"", 1_010);
    let batch = RecordBatch::parse(b.finish()).unwrap();
    assert_eq!(batch.count(), 3);
    let recs: Vec<_> = batch.records().collect();
    assert_eq!(recs[0].key, None);
    assert_eq!(recs[0].value.as_ref(), b"v0");
    assert_eq!(recs[1].key.as_deref(), Some(&b""[..]));
    assert_eq!(recs[1].timestamp_ms, 1_005);
    assert_eq!(recs[2].key.as_deref(), Some(&b"key"[..]));
    assert_eq!(recs[2].value.as_ref(), b"");
}

#[test]
fn rejects_malformed() {
    assert_eq!(
        RecordBatch::parse(Bytes::from_static(b"\x01\x00")),
        Err(BatchError::Truncated)
    );
    let mut bad = vec![9u8];
    bad.extend_from_slice(&[0; 12]);
    assert_eq!(
        RecordBatch::parse(Bytes::from(bad)),
        Err(BatchError::BadMagic(9))
    );
    assert_eq!(
        RecordBatch::parse(BatchBuilder::new(0).finish()),
        Err(BatchError::Empty)
    );

    let mut b = BatchBuilder::new(0);
    b.push(None, b"hello", 0);
    let good = b.finish();
    let cut = good.slice(..good.len() - 1);
    assert_eq!(RecordBatch::parse(cut), Err(BatchError::Truncated));
    let mut long = good.to_vec();
    long.push(0);
    assert_eq!(
        RecordBatch::parse(Bytes::from(long)),
        Err(BatchError::TrailingBytes(1))
    );
}

#[test]
fn huge_length_is_truncation_not_panic() {
    let mut b = BatchBuilder::new(0);
    b.push(None, b"x", 0);
    let mut data = b.finish().to_vec();
    // Replace the value length (1) with a varint of u64::MAX.
    let n = data.len();
    data.truncate(n - 2);
    data.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert_eq!(
        RecordBatch::parse(Bytes::from(data)),
        Err(BatchError::Truncated)
    );
}

#[test]
fn overflowing_timestamp_delta_is_refused_at_parse() {
    let mut data = BatchBuilder::new(u64::MAX - 5).finish().to_vec();
    data[1..5].copy_from_slice(&2u32.to_le_bytes());
    // Record 0: delta 5 (fits exactly), no key, empty value; record 1: delta 6 overflows.
    data.extend_from_slice(&[5, 0, 0, 6, 0, 0]);
    let err = RecordBatch::parse(Bytes::from(data)).unwrap_err();
    assert_eq!(
        err,
        BatchError::TimestampOverflow {
            index: 1,
            base: u64::MAX - 5,
            delta: 6
        }
    );
    assert!(err.to_string().contains("timestamp"), "{err}");

    let mut b = BatchBuilder::new(u64::MAX - 1);
    b.push(None, b"x", u64::MAX);
    let batch = RecordBatch::parse(b.finish()).unwrap();
    assert_eq!(batch.records().next().unwrap().timestamp_ms, u64::MAX);
}

/// A record as the strategies generate it: key, value, timestamp.
type Rec = (Option<Vec<u8>>, Vec<u8>, u64);

fn records() -> impl Strategy<Value = (u64, Vec<Rec>)> {
    let rec = (
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
        proptest::collection::vec(any::<u8>(), 0..200),
        any::<u64>(),
    );
    (any::<u64>(), proptest::collection::vec(rec, 1..20))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_records_roundtrip((base, recs) in records()) {
        let mut b = BatchBuilder::new(base);
        for (k, v, ts) in &recs {
            b.push(k.as_deref(), v, *ts);
        }
        let batch = RecordBatch::parse(b.finish()).unwrap();
        prop_assert_eq!(batch.count() as usize, recs.len());
        for (got, (k, v, ts)) in batch.records().zip(&recs) {
            prop_assert_eq!(got.key.as_deref(), k.as_deref());
            prop_assert_eq!(got.value.as_ref(), v.as_slice());
            // The builder clamps timestamps before the base to the base.
            prop_assert_eq!(got.timestamp_ms, (*ts).max(base));
        }
    }

    #[test]
    fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(batch) = RecordBatch::parse(Bytes::from(data)) {
            prop_assert_eq!(batch.records().count(), batch.count() as usize);
        }
    }

    /// Garbage behind a valid header, so that the record decoder (not just the header check)
    /// sees arbitrary lengths and deltas.
    #[test]
    fn garbage_records_never_panic(
        count in 0u32..8,
        base in any::<u64>(),
        tail in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut data = vec![MAGIC];
        data.extend_from_slice(&count.to_le_bytes());
        data.extend_from_slice(&base.to_le_bytes());
        data.extend_from_slice(&tail);
        if let Ok(batch) = RecordBatch::parse(Bytes::from(data)) {
            for r in batch.records() {
                prop_assert!(r.timestamp_ms >= base);
            }
        }
    }
}
