//! Bounded decompression of produced record batches: the codec crate's own decompressors
//! inflate a batch whole, however large; these stop at `limit` bytes (the broker's
//! `limits.max_batch_bytes`), so a small compressed frame cannot make the broker allocate
//! more than a batch may hold.

use std::io::Read;

use anyhow::{Context, bail};
use bytes::{Buf, Bytes};
use kafka_protocol::records::Compression;

/// The Java client's (xerial) snappy framing: magic, version, compatible version.
const XERIAL: &[u8; 16] = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01";

/// Inflates one batch's record data, refusing more than `limit` bytes.
pub(super) fn inflate(data: &mut Bytes, c: Compression, limit: usize) -> anyhow::Result<Bytes> {
    let data = data.copy_to_bytes(data.remaining());
    match c {
        Compression::None => Ok(data),
        Compression::Gzip => read_limited(flate2::read::GzDecoder::new(&data[..]), limit),
        Compression::Lz4 => read_limited(lz4::Decoder::new(&data[..])?, limit),
        Compression::Zstd => read_limited(zstd::stream::read::Decoder::new(&data[..])?, limit),
        Compression::Snappy => snappy(data, limit),
    }
}

fn read_limited(r: impl Read, limit: usize) -> anyhow::Result<Bytes> {
    let mut out = Vec::new();
    r.take(limit as u64 + 1).read_to_end(&mut out)?;
    if out.len() > limit {
        bail!("compressed records inflate beyond {limit} bytes");
    }
    Ok(out.into())
}

/// Raw snappy, or xerial blocks (`len:u32 | raw block`); each block's announced size is
/// checked against what is left of `limit` before room is made for it.
fn snappy(mut data: Bytes, limit: usize) -> anyhow::Result<Bytes> {
    let mut out = Vec::new();
    let block = |raw: &[u8], out: &mut Vec<u8>| -> anyhow::Result<()> {
        let n = snap::raw::decompress_len(raw).context("snappy length")?;
        if out.len() + n > limit {
            bail!("compressed records inflate beyond {limit} bytes");
        }
        let start = out.len();
        out.resize(start + n, 0);
        snap::raw::Decoder::new()
            .decompress(raw, &mut out[start..])
            .context("snappy block")?;
        Ok(())
    };
    if !data.starts_with(XERIAL) {
        block(&data, &mut out)?;
        return Ok(out.into());
    }
    data.advance(XERIAL.len());
    while data.has_remaining() {
        if data.remaining() < 4 {
            bail!("truncated snappy block length");
        }
        let n = data.get_u32() as usize;
        if data.remaining() < n {
            bail!("truncated snappy block");
        }
        let raw = data.split_to(n);
        block(&raw, &mut out)?;
    }
    Ok(out.into())
}
