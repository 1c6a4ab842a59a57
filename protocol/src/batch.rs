//! The binary record-batch format.
//!
//! ```text
//! batch   := magic:u8 (1 or 2) | count:u32le | base_timestamp_ms:u64le | record{count}
//! record  := timestamp_delta_ms:varint | key_len:varint | key | value_len:varint | value
//!            | headers (MAGIC 2 only)
//! headers := header_count:varint | (hkey_len:varint | hkey | hvalue_len:varint | hvalue)*
//! ```
//! `key_len` is 0 for "no key" and `n + 1` for a key of `n` bytes, so an empty key and no key
//! stay distinct; `hvalue_len` likewise tells a null header value from an empty one. Header
//! names (`hkey`) are UTF-8, as Kafka's. The builder writes MAGIC 1 (no header section) unless
//! a record has headers, so batches without headers keep their bytes; both decode.
//!
//! The batch carries no offsets: offsets are assigned by the partition's state machine when
//! the batch is applied, so the bytes a producer sends are stored unchanged.

use bytes::Bytes;

use crate::varint;

mod headers;

pub use headers::Header;

/// First byte of a batch whose records have no header section.
pub const MAGIC: u8 = 1;
/// First byte of a batch whose records each end with a header section.
pub const MAGIC_HEADERS: u8 = 2;
/// Size of the fixed batch header.
pub const HEADER_LEN: usize = 1 + 4 + 8;

/// Why a byte string is not a valid batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// The buffer ends inside the header or a record.
    #[error("record batch is truncated")]
    Truncated,
    /// The first byte is neither [`MAGIC`] nor [`MAGIC_HEADERS`].
    #[error("record batch has unknown format version {0}")]
    BadMagic(u8),
    /// Bytes remain after the last record the header announced.
    #[error("record batch has {0} trailing bytes after its last record")]
    TrailingBytes(usize),
    /// A record announces more headers than the bytes left could hold.
    #[error("record {index} announces {count} headers but only {left} bytes remain")]
    HeaderCount {
        /// Index of the record within the batch.
        index: u32,
        /// The announced header count.
        count: u64,
        /// Bytes left in the batch after the count.
        left: usize,
    },
    /// A header name is not UTF-8 (Kafka header names are strings).
    #[error("record {index} has a header name that is not UTF-8")]
    HeaderKeyNotUtf8 {
        /// Index of the record within the batch.
        index: u32,
    },
    /// A batch must carry at least one record.
    #[error("record batch is empty")]
    Empty,
    /// A record's timestamp delta added to the batch's base timestamp exceeds `u64`.
    #[error(
        "record {index}'s timestamp overflows: base_timestamp_ms {base} + timestamp_delta_ms {delta} exceeds {max}",
        max = u64::MAX
    )]
    TimestampOverflow {
        /// Index of the record within the batch.
        index: u32,
        /// The batch's base timestamp.
        base: u64,
        /// The record's delta.
        delta: u64,
    },
}

/// One record as the application sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Partitioning key; `None` when the producer gave none.
    pub key: Option<Bytes>,
    /// The payload.
    pub value: Bytes,
    /// Producer-side creation time, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// Application metadata beside the payload (Kafka record headers), in order; empty for
    /// every record of a MAGIC 1 batch.
    pub headers: Vec<Header>,
}

/// Builds a batch incrementally; the producer's accumulator uses one per partition.
#[derive(Debug)]
pub struct BatchBuilder {
    buf: Vec<u8>,
    count: u32,
    base_timestamp_ms: u64,
}

impl BatchBuilder {
    /// Starts an empty batch whose timestamps are relative to `base_timestamp_ms`.
    pub fn new(base_timestamp_ms: u64) -> Self {
        let mut buf = Vec::with_capacity(256);
        buf.push(MAGIC);
        buf.extend_from_slice(&0u32.to_le_bytes());
        buf.extend_from_slice(&base_timestamp_ms.to_le_bytes());
        Self {
            buf,
            count: 0,
            base_timestamp_ms,
        }
    }

    /// Appends one record without headers. Timestamps before the base are clamped to the base.
    pub fn push(&mut self, key: Option<&[u8]>, value: &[u8], timestamp_ms: u64) {
        self.push_with_headers(key, value, timestamp_ms, &[]);
    }

    /// Appends one record with `headers`. The first record with headers turns the batch into
    /// MAGIC 2 (the records before it get an empty header section).
    pub fn push_with_headers(
        &mut self,
        key: Option<&[u8]>,
        value: &[u8],
        timestamp_ms: u64,
        headers: &[Header],
    ) {
        if !headers.is_empty() && self.buf[0] == MAGIC {
            self.upgrade();
        }
        varint::put(
            &mut self.buf,
            timestamp_ms.saturating_sub(self.base_timestamp_ms),
        );
        match key {
            None => varint::put(&mut self.buf, 0),
            Some(k) => {
                varint::put(&mut self.buf, k.len() as u64 + 1);
                self.buf.extend_from_slice(k);
            }
        }
        varint::put(&mut self.buf, value.len() as u64);
        self.buf.extend_from_slice(value);
        if self.buf[0] == MAGIC_HEADERS {
            headers::put(&mut self.buf, headers);
        }
        self.count += 1;
    }

    /// Rewrites the records pushed so far as MAGIC 2 records without headers.
    fn upgrade(&mut self) {
        let mut out = Vec::with_capacity(self.buf.len() + self.count as usize + 256);
        out.extend_from_slice(&self.buf[..HEADER_LEN]);
        out[0] = MAGIC_HEADERS;
        let mut pos = HEADER_LEN;
        for index in 0..self.count {
            let start = pos;
            skip_record(&self.buf, &mut pos, MAGIC, index).expect("the builder wrote this record");
            out.extend_from_slice(&self.buf[start..pos]);
            headers::put(&mut out, &[]);
        }
        self.buf = out;
    }

    /// Bytes the batch would occupy if finished now.
    pub fn encoded_len(&self) -> usize {
        self.buf.len()
    }

    /// Bytes one more record without headers would add (an upper bound), for batch-size
    /// decisions.
    pub fn record_size_hint(key: Option<&[u8]>, value: &[u8]) -> usize {
        10 + 10 + key.map_or(0, <[u8]>::len) + 10 + value.len()
    }

    /// Number of records pushed so far.
    pub fn len(&self) -> u32 {
        self.count
    }

    /// True when no record was pushed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Finishes the batch.
    pub fn finish(mut self) -> Bytes {
        self.buf[1..5].copy_from_slice(&self.count.to_le_bytes());
        Bytes::from(self.buf)
    }
}

/// A validated batch: cheap to clone, records decoded lazily.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordBatch {
    data: Bytes,
    count: u32,
}

impl RecordBatch {
    /// Validates `data` completely (every length checked) without copying it.
    pub fn parse(data: Bytes) -> Result<Self, BatchError> {
        let (magic, count, base) = header(&data)?;
        if count == 0 {
            return Err(BatchError::Empty);
        }
        let mut pos = HEADER_LEN;
        for index in 0..count {
            let delta = skip_record(&data, &mut pos, magic, index)?;
            // Checked here so that `records` can add without overflow.
            if base.checked_add(delta).is_none() {
                return Err(BatchError::TimestampOverflow { index, base, delta });
            }
        }
        if pos != data.len() {
            return Err(BatchError::TrailingBytes(data.len() - pos));
        }
        Ok(Self { data, count })
    }

    /// Builds a batch from records (convenience for tests and JSON produce).
    pub fn from_records<'a>(
        records: impl IntoIterator<Item = (Option<&'a [u8]>, &'a [u8])>,
        now_ms: u64,
    ) -> Self {
        let mut b = BatchBuilder::new(now_ms);
        for (k, v) in records {
            b.push(k, v, now_ms);
        }
        let count = b.len();
        Self {
            data: b.finish(),
            count,
        }
    }

    /// Number of records.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The encoded bytes, as stored and sent.
    pub fn bytes(&self) -> &Bytes {
        &self.data
    }

    /// Consumes the batch, returning its encoded bytes.
    pub fn into_bytes(self) -> Bytes {
        self.data
    }

    /// Iterates over the records. The batch was validated by [`RecordBatch::parse`], so
    /// decoding cannot fail.
    pub fn records(&self) -> impl Iterator<Item = Record> + '_ {
        let base = u64::from_le_bytes(self.data[5..13].try_into().expect("8 bytes"));
        let with_headers = self.data[0] == MAGIC_HEADERS;
        let mut pos = HEADER_LEN;
        (0..self.count).map(move |_| {
            let delta = varint::get(&self.data, &mut pos).expect("validated");
            let klen = varint::get(&self.data, &mut pos).expect("validated") as usize;
            let key = (klen > 0).then(|| {
                let k = self.data.slice(pos..pos + klen - 1);
                pos += klen - 1;
                k
            });
            let vlen = varint::get(&self.data, &mut pos).expect("validated") as usize;
            let value = self.data.slice(pos..pos + vlen);
            pos += vlen;
            let headers = if with_headers {
                headers::read_all(&self.data, &mut pos)
            } else {
                Vec::new()
            };
            Record {
                key,
                value,
                timestamp_ms: base + delta,
                headers,
            }
        })
    }
}

/// The batch header: magic, record count, base timestamp.
fn header(data: &[u8]) -> Result<(u8, u32, u64), BatchError> {
    if data.len() < HEADER_LEN {
        return Err(BatchError::Truncated);
    }
    let magic = data[0];
    if magic != MAGIC && magic != MAGIC_HEADERS {
        return Err(BatchError::BadMagic(magic));
    }
    let count = u32::from_le_bytes(data[1..5].try_into().expect("4 bytes"));
    let base = u64::from_le_bytes(data[5..13].try_into().expect("8 bytes"));
    Ok((magic, count, base))
}

/// Checks record `index`'s lengths (and headers, in a `magic` 2 batch) and moves past it;
/// answers its timestamp delta.
fn skip_record(data: &[u8], pos: &mut usize, magic: u8, index: u32) -> Result<u64, BatchError> {
    let delta = varint::get(data, pos).ok_or(BatchError::Truncated)?;
    let klen = varint::get(data, pos).ok_or(BatchError::Truncated)?;
    skip(data, pos, klen.saturating_sub(1))?;
    let vlen = varint::get(data, pos).ok_or(BatchError::Truncated)?;
    skip(data, pos, vlen)?;
    if magic == MAGIC_HEADERS {
        headers::skip_all(data, pos, index)?;
    }
    Ok(delta)
}

fn skip(data: &[u8], pos: &mut usize, n: u64) -> Result<(), BatchError> {
    let end = usize::try_from(n)
        .ok()
        .and_then(|n| pos.checked_add(n))
        .filter(|&end| end <= data.len())
        .ok_or(BatchError::Truncated)?;
    *pos = end;
    Ok(())
}

#[cfg(test)]
mod tests;
