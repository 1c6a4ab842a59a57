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

fn h(key: &str, value: Option<&'static [u8]>) -> Header {
    Header {
        key: key.into(),
        value: value.map(Bytes::from_static),
    }
}

#[test]
fn batches_without_headers_keep_magic_1_bytes() {
    let mut b = BatchBuilder::new(7);
    b.push(Some(b"k"), b"v", 9);
    b.push_with_headers(None, b"w", 7, &[]);
    let data = b.finish();
    // magic 1, count 2, base 7, then (delta 2, key "k", value "v"), (delta 0, no key, "w").
    let mut want = vec![MAGIC, 2, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0];
    want.extend_from_slice(&[2, 2, b'k', 1, b'v', 0, 0, 1, b'w']);
    assert_eq!(data.as_ref(), want.as_slice());
    let batch = RecordBatch::parse(data).unwrap();
    assert!(batch.records().all(|r| r.headers.is_empty()));
}

#[test]
fn headers_roundtrip_and_records_before_them_are_upgraded() {
    let mut b = BatchBuilder::new(100);
    b.push(Some(b"k0"), b"v0", 100);
    let headers = [
        h("trace", Some(b"abc")),
        h("empty", Some(b"")),
        h("null", None),
        h("trace", Some(b"again")),
        h("", Some(b"nameless")),
    ];
    b.push_with_headers(None, b"v1", 101, &headers);
    b.push(Some(b""), b"", 102);
    let data = b.finish();
    assert_eq!(data[0], MAGIC_HEADERS);
    let recs: Vec<_> = RecordBatch::parse(data).unwrap().records().collect();
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[0].key.as_deref(), Some(&b"k0"[..]));
    assert_eq!(recs[0].value.as_ref(), b"v0");
    assert!(recs[0].headers.is_empty());
    assert_eq!(recs[1].key, None);
    assert_eq!(recs[1].timestamp_ms, 101);
    assert_eq!(recs[1].headers, headers);
    assert_eq!(recs[2].key.as_deref(), Some(&b""[..]));
    assert!(recs[2].headers.is_empty());
    assert_eq!(recs[2].timestamp_ms, 102);
}

/// A MAGIC 2 batch of one record (delta 0, no key, empty value) whose header section is `tail`.
fn magic2(tail: &[u8]) -> Bytes {
    let mut data = vec![MAGIC_HEADERS, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    data.extend_from_slice(tail);
    Bytes::from(data)
}

#[test]
fn hostile_header_sections_are_refused() {
    // One header: name "a", value "b".
    assert!(RecordBatch::parse(magic2(&[1, 1, b'a', 2, b'b'])).is_ok());
    // A count of u64::MAX with 0 bytes behind it: refused before anything is reserved.
    let mut huge = vec![0xff; 9];
    huge.push(0x01);
    assert_eq!(
        RecordBatch::parse(magic2(&huge)),
        Err(BatchError::HeaderCount {
            index: 0,
            count: u64::MAX,
            left: 0
        })
    );
    // Three headers announced, room for two at most.
    let e = RecordBatch::parse(magic2(&[3, 0, 0, 0, 0])).unwrap_err();
    assert_eq!(
        e,
        BatchError::HeaderCount {
            index: 0,
            count: 3,
            left: 4
        }
    );
    assert!(e.to_string().contains("3 headers"), "{e}");
    // A name that is not UTF-8.
    let e = RecordBatch::parse(magic2(&[1, 1, 0xff, 0])).unwrap_err();
    assert_eq!(e, BatchError::HeaderKeyNotUtf8 { index: 0 });
    assert!(e.to_string().contains("UTF-8"), "{e}");
    // A value length past the end, and a name length of u64::MAX.
    assert_eq!(
        RecordBatch::parse(magic2(&[1, 1, b'a', 9, b'b'])),
        Err(BatchError::Truncated)
    );
    let mut long_name = vec![1];
    long_name.extend_from_slice(&huge);
    long_name.push(0);
    assert_eq!(
        RecordBatch::parse(magic2(&long_name)),
        Err(BatchError::Truncated)
    );
}

#[test]
fn truncated_or_padded_magic_2_batches_are_refused() {
    let mut b = BatchBuilder::new(0);
    b.push_with_headers(
        Some(b"k"),
        b"value",
        3,
        &[h("name", Some(b"v")), h("n", None)],
    );
    let good = b.finish();
    assert!(RecordBatch::parse(good.clone()).is_ok());
    for cut in 0..good.len() {
        let e = RecordBatch::parse(good.slice(..cut)).unwrap_err();
        assert!(
            matches!(e, BatchError::Truncated | BatchError::HeaderCount { .. }),
            "cut at {cut}: {e:?}"
        );
    }
    let mut long = good.to_vec();
    long.extend_from_slice(&[0, 0]);
    assert_eq!(
        RecordBatch::parse(Bytes::from(long)),
        Err(BatchError::TrailingBytes(2))
    );
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
    fn any_headers_roundtrip(
        (base, recs) in records(),
        headers in proptest::collection::vec(
            proptest::collection::vec(
                (".{0,8}", proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16))),
                0..4,
            ),
            1..20,
        ),
    ) {
        let headers: Vec<Vec<Header>> = headers
            .into_iter()
            .map(|hs| {
                hs.into_iter()
                    .map(|(key, value)| Header { key, value: value.map(Bytes::from) })
                    .collect()
            })
            .collect();
        let mut b = BatchBuilder::new(base);
        for ((k, v, ts), hs) in recs.iter().zip(headers.iter().cycle()) {
            b.push_with_headers(k.as_deref(), v, *ts, hs);
        }
        let batch = RecordBatch::parse(b.finish()).unwrap();
        prop_assert_eq!(batch.count() as usize, recs.len());
        for (got, ((k, v, _), hs)) in batch.records().zip(recs.iter().zip(headers.iter().cycle())) {
            prop_assert_eq!(got.key.as_deref(), k.as_deref());
            prop_assert_eq!(got.value.as_ref(), v.as_slice());
            prop_assert_eq!(&got.headers, hs);
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
        magic in prop_oneof![Just(MAGIC), Just(MAGIC_HEADERS)],
        count in 0u32..8,
        base in any::<u64>(),
        tail in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut data = vec![magic];
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
