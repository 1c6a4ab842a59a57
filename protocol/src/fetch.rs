//! Binary framing of fetch responses (`Accept: application/octet-stream`).
//!
//! ```text
//! response := frame*
//! frame    := base_offset:u64le | batch_len:u32le | batch (see crate::batch)
//! ```
//! Batches are returned whole, as stored: the first one may start before the requested
//! offset, and the client skips those records. The high watermark and log start offset travel
//! in the `x-raftbus-high-watermark` and `x-raftbus-log-start-offset` headers.

use bytes::{Buf, Bytes};

use crate::batch::{BatchError, RecordBatch};

/// Header carrying the partition's high watermark (next offset to be written).
pub const HIGH_WATERMARK_HEADER: &str = "x-raftbus-high-watermark";
/// Header carrying the partition's first stored offset.
pub const LOG_START_HEADER: &str = "x-raftbus-log-start-offset";
/// Content type of binary produce bodies and fetch responses.
pub const BINARY_CONTENT_TYPE: &str = "application/octet-stream";

/// Appends one frame to `out`.
pub fn put_frame(out: &mut Vec<u8>, base_offset: u64, batch: &[u8]) {
    out.extend_from_slice(&base_offset.to_le_bytes());
    out.extend_from_slice(&(batch.len() as u32).to_le_bytes());
    out.extend_from_slice(batch);
}

/// Splits a binary fetch response into `(base_offset, batch)` pairs.
pub fn parse_frames(mut body: Bytes) -> Result<Vec<(u64, RecordBatch)>, BatchError> {
    let mut out = Vec::new();
    while body.has_remaining() {
        if body.remaining() < 12 {
            return Err(BatchError::Truncated);
        }
        let base = body.get_u64_le();
        let len = body.get_u32_le() as usize;
        if body.remaining() < len {
            return Err(BatchError::Truncated);
        }
        out.push((base, RecordBatch::parse(body.split_to(len))?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn frames_roundtrip() {
        let a = RecordBatch::from_records([(None, &b"a"[..])], 1);
        let b = RecordBatch::from_records([(Some(&b"k"[..]), &b"b"[..]), (None, &b"c"[..])], 2);
        let mut out = Vec::new();
        put_frame(&mut out, 0, a.bytes());
        put_frame(&mut out, 1, b.bytes());
        let frames = parse_frames(Bytes::from(out.clone())).unwrap();
        assert_eq!(frames, vec![(0, a), (1, b)]);
        out.pop();
        assert!(parse_frames(Bytes::from(out)).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn frames_of_any_batches_roundtrip(
            batches in proptest::collection::vec(
                (any::<u64>(), proptest::collection::vec(any::<u8>(), 0..50), any::<u64>()),
                0..6,
            ),
        ) {
            let mut out = Vec::new();
            let mut want = Vec::new();
            for (base, value, ts) in &batches {
                let b = RecordBatch::from_records([(None, value.as_slice())], *ts);
                put_frame(&mut out, *base, b.bytes());
                want.push((*base, b));
            }
            prop_assert_eq!(parse_frames(Bytes::from(out)).unwrap(), want);
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(frames) = parse_frames(Bytes::from(data)) {
                for (_, batch) in frames {
                    prop_assert_eq!(batch.records().count(), batch.count() as usize);
                }
            }
        }
    }
}
