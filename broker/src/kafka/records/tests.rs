use super::*;

fn record(i: i64, key: Option<&'static [u8]>, value: &'static [u8]) -> Record {
    let key = key.map(Bytes::from_static);
    // Sequence = offset: the encoder then keeps the three records in one batch.
    plain_record(
        i,
        i as i32,
        1_700_000_000_000 + i,
        key,
        Bytes::from_static(value),
        Vec::new(),
    )
}

fn kafka_batch(compression: Compression) -> Bytes {
    let records = [
        record(0, Some(b"k0"), b"v0"),
        record(1, None, b"v1"),
        record(2, Some(b""), b""),
    ];
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression,
    };
    RecordBatchEncoder::encode(&mut buf, records.iter(), &options).unwrap();
    buf.freeze()
}

#[test]
fn every_compression_converts_with_keys_values_and_timestamps() {
    for c in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let got = from_kafka(&kafka_batch(c), 1 << 20).unwrap();
        assert_eq!(got.producer, None);
        let records: Vec<_> = got.batch.records().collect();
        assert_eq!(records.len(), 3, "{c:?}");
        assert_eq!(records[0].key.as_deref(), Some(&b"k0"[..]));
        assert_eq!(records[1].key, None);
        assert_eq!(records[2].key.as_deref(), Some(&b""[..]));
        assert_eq!(records[1].value.as_ref(), b"v1");
        assert_eq!(records[2].timestamp_ms, 1_700_000_000_002);
    }
}

#[test]
fn stored_batches_go_back_with_their_offsets() {
    let stored = from_kafka(&kafka_batch(Compression::None), 1 << 20)
        .unwrap()
        .batch;
    let out = to_kafka(&[(40, 3, stored.bytes().clone())]).unwrap();
    let sets = RecordBatchDecoder::decode_all(&mut out.clone()).unwrap();
    let records: Vec<_> = sets.iter().flat_map(|s| s.records.iter()).collect();
    assert_eq!(sets.len(), 1, "one Kafka batch per stored batch");
    let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, [40, 41, 42]);
    assert_eq!(records[0].key.as_deref(), Some(&b"k0"[..]));
    assert_eq!(records[1].timestamp, 1_700_000_000_001);
}

#[test]
fn garbage_and_oversized_batches_are_refused() {
    assert!(from_kafka(&Bytes::from_static(b"nonsense"), 1 << 20).is_err());
    let e = from_kafka(&kafka_batch(Compression::Gzip), 8).unwrap_err();
    assert_eq!(
        e.code,
        ResponseError::InvalidRecord.code(),
        "3 records cannot fit 8 bytes"
    );
    let mut bad = kafka_batch(Compression::None).to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    assert!(from_kafka(&Bytes::from(bad), 1 << 20).is_err());
}

#[test]
fn decompression_is_bounded() {
    use std::io::Write;
    // 4 MiB of zeros gzip to a few KiB: refused at a 64 KiB limit before they are inflated.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&vec![0u8; 4 << 20]).unwrap();
    let mut bomb = Bytes::from(gz.finish().unwrap());
    let small = bomb.len();
    let e = crate::kafka::inflate::inflate(&mut bomb.clone(), Compression::Gzip, 64 << 10);
    assert!(e.is_err(), "a {small}-byte bomb was inflated");
    let ok = crate::kafka::inflate::inflate(&mut bomb, Compression::Gzip, 8 << 20).unwrap();
    assert_eq!(ok.len(), 4 << 20);
}

#[test]
fn headers_are_stored_and_fetched_back() {
    let mut r = record(0, Some(b"k"), b"v");
    r.headers
        .insert("trace".into(), Some(Bytes::from_static(b"abc")));
    r.headers.insert("null".into(), None);
    r.headers.insert("empty".into(), Some(Bytes::new()));
    let plain = record(1, None, b"w");
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::Lz4,
    };
    RecordBatchEncoder::encode(&mut buf, [r.clone(), plain].iter(), &options).unwrap();
    let stored = from_kafka(&buf.freeze(), 1 << 20).unwrap().batch;
    let recs: Vec<_> = stored.records().collect();
    let want = [
        Header::new("trace", Bytes::from_static(b"abc")),
        Header {
            key: "null".into(),
            value: None,
        },
        Header::new("empty", Bytes::new()),
    ];
    assert_eq!(recs[0].headers, want);
    assert!(recs[1].headers.is_empty());

    let out = to_kafka(&[(7, 2, stored.bytes().clone())]).unwrap();
    let sets = RecordBatchDecoder::decode_all(&mut out.clone()).unwrap();
    let back: Vec<_> = sets.iter().flat_map(|s| s.records.iter()).collect();
    assert_eq!(back[0].offset, 7);
    assert_eq!(back[0].headers, r.headers);
    assert_eq!(back[0].key.as_deref(), Some(&b"k"[..]));
    assert!(back[1].headers.is_empty());
}
