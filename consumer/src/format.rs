//! How a record is printed: `[partition<TAB>offset<TAB>][key<TAB>]value<LF>`, bytes as they
//! are (no decoding), `null` for a missing key as Kafka's console consumer does.

use std::io::Write;

use raftbus_sdk::ConsumerRecord;

/// Which optional fields precede the value.
#[derive(Debug, Clone, Copy, Default)]
pub struct Format {
    /// `partition<TAB>offset<TAB>` prefix.
    pub offset: bool,
    /// `key<TAB>` prefix.
    pub key: bool,
}

impl Format {
    /// Writes one record as one line.
    pub fn write(&self, out: &mut impl Write, r: &ConsumerRecord) -> std::io::Result<()> {
        if self.offset {
            write!(out, "{}\t{}\t", r.partition, r.offset)?;
        }
        if self.key {
            match &r.key {
                Some(k) => out.write_all(k)?,
                None => out.write_all(b"null")?,
            }
            out.write_all(b"\t")?;
        }
        out.write_all(&r.value)?;
        out.write_all(b"\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(key: Option<&'static str>) -> ConsumerRecord {
        ConsumerRecord {
            partition: 2,
            offset: 17,
            key: key.map(|k| k.as_bytes().to_vec().into()),
            value: b"hello".to_vec().into(),
            timestamp_ms: 0,
        }
    }

    #[test]
    fn formats() {
        let mut out = Vec::new();
        let all = Format {
            offset: true,
            key: true,
        };
        all.write(&mut out, &rec(Some("k"))).unwrap();
        all.write(&mut out, &rec(None)).unwrap();
        Format::default().write(&mut out, &rec(Some("k"))).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2\t17\tk\thello\n2\t17\tnull\thello\nhello\n"
        );
    }
}
