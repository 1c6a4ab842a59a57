//! Record headers in MAGIC 2 batches:
//! `header_count:varint | (key_len:varint | key (UTF-8) | value_len:varint | value)*`, where
//! `value_len` is 0 for a null value and `n + 1` for `n` bytes (as record keys).

use bytes::Bytes;

use super::{BatchError, skip};
use crate::varint;

/// The fewest bytes one encoded header occupies (two one-byte lengths): bounds an announced
/// header count by the bytes left before anything is reserved for it.
const MIN_HEADER_BYTES: usize = 2;

/// One record header, as Kafka carries them: a text name and an optional byte value. A
/// record may repeat a name; order is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header name (UTF-8, as Kafka requires).
    pub key: String,
    /// Header value; `None` is Kafka's null, distinct from an empty value.
    pub value: Option<Bytes>,
}

impl Header {
    /// A header with a value.
    pub fn new(key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        Self {
            key: key.into(),
            value: Some(value.into()),
        }
    }
}

/// Appends a record's header section.
pub(super) fn put(buf: &mut Vec<u8>, headers: &[Header]) {
    varint::put(buf, headers.len() as u64);
    for h in headers {
        varint::put(buf, h.key.len() as u64);
        buf.extend_from_slice(h.key.as_bytes());
        match &h.value {
            None => varint::put(buf, 0),
            Some(v) => {
                varint::put(buf, v.len() as u64 + 1);
                buf.extend_from_slice(v);
            }
        }
    }
}

/// Checks record `index`'s header section (count, lengths, UTF-8 names) and moves past it.
pub(super) fn skip_all(data: &[u8], pos: &mut usize, index: u32) -> Result<(), BatchError> {
    let count = varint::get(data, pos).ok_or(BatchError::Truncated)?;
    check_count(data, *pos, index, count)?;
    for _ in 0..count {
        let klen = varint::get(data, pos).ok_or(BatchError::Truncated)?;
        let start = *pos;
        skip(data, pos, klen)?;
        if std::str::from_utf8(&data[start..*pos]).is_err() {
            return Err(BatchError::HeaderKeyNotUtf8 { index });
        }
        let vlen = varint::get(data, pos).ok_or(BatchError::Truncated)?;
        skip(data, pos, vlen.saturating_sub(1))?;
    }
    Ok(())
}

/// Refuses a count that cannot fit the bytes left, so no decoder reserves room for it.
fn check_count(data: &[u8], pos: usize, index: u32, count: u64) -> Result<(), BatchError> {
    let left = data.len().saturating_sub(pos);
    if count > (left / MIN_HEADER_BYTES) as u64 {
        return Err(BatchError::HeaderCount { index, count, left });
    }
    Ok(())
}

/// Decodes a header section that [`skip_all`] accepted (so lengths and names are valid).
pub(super) fn read_all(data: &Bytes, pos: &mut usize) -> Vec<Header> {
    let count = varint::get(data, pos).expect("validated") as usize;
    let mut headers = Vec::with_capacity(count);
    for _ in 0..count {
        let klen = varint::get(data, pos).expect("validated") as usize;
        let key = std::str::from_utf8(&data[*pos..*pos + klen])
            .expect("validated")
            .to_owned();
        *pos += klen;
        let vlen = varint::get(data, pos).expect("validated") as usize;
        let value = (vlen > 0).then(|| {
            let v = data.slice(*pos..*pos + vlen - 1);
            *pos += vlen - 1;
            v
        });
        headers.push(Header { key, value });
    }
    headers
}
