//! How a record is printed:
//! `[partition<TAB>offset<TAB>][timestamp<TAB>][headers<TAB>][key<TAB>]value<LF>`, bytes as
//! they are (no decoding), `null` for a missing key and `NO_HEADERS` for no headers as Kafka's
//! console consumer prints them.

use std::io::Write;

use raftbus_sdk::ConsumerRecord;

/// Which optional fields precede the value.
#[derive(Debug, Clone, Copy, Default)]
pub struct Format {
    /// `partition<TAB>offset<TAB>` prefix.
    pub offset: bool,
    /// `timestamp_ms<TAB>` prefix (after the offset).
    pub timestamp: bool,
    /// `name:value,name:value<TAB>` prefix (after the timestamp).
    pub headers: bool,
    /// `key<TAB>` prefix.
    pub key: bool,
}

impl Format {
    /// Writes one record as one line.
    pub fn write(&self, out: &mut impl Write, r: &ConsumerRecord) -> std::io::Result<()> {
        if self.offset {
            write!(out, "{}\t{}\t", r.partition, r.offset)?;
        }
        if self.timestamp {
            write!(out, "{}\t", r.timestamp_ms)?;
        }
        if self.headers {
            if r.headers.is_empty() {
                out.write_all(b"NO_HEADERS")?;
            }
            for (i, h) in r.headers.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                out.write_all(h.key.as_bytes())?;
                out.write_all(b":")?;
                out.write_all(h.value.as_deref().unwrap_or(b"null"))?;
            }
            out.write_all(b"\t")?;
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
    use raftbus_sdk::Header;

    use super::*;

    fn rec(key: Option<&'static str>) -> ConsumerRecord {
        ConsumerRecord {
            partition: 2,
            offset: 17,
            key: key.map(|k| k.as_bytes().to_vec().into()),
            value: b"hello".to_vec().into(),
            timestamp_ms: 1_700_000_000_123,
            headers: Vec::new(),
        }
    }

    #[test]
    fn formats() {
        let mut out = Vec::new();
        let all = Format {
            offset: true,
            key: true,
            ..Format::default()
        };
        all.write(&mut out, &rec(Some("k"))).unwrap();
        all.write(&mut out, &rec(None)).unwrap();
        Format::default().write(&mut out, &rec(Some("k"))).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2\t17\tk\thello\n2\t17\tnull\thello\nhello\n"
        );
    }

    #[test]
    fn formats_timestamp_and_headers() {
        let everything = Format {
            offset: true,
            timestamp: true,
            headers: true,
            key: true,
        };
        let mut with = rec(Some("k"));
        with.headers = vec![
            Header::new("a", &b"1"[..]),
            Header {
                key: "n".into(),
                value: None,
            },
            Header::new("e", &b""[..]),
        ];
        let mut out = Vec::new();
        everything.write(&mut out, &with).unwrap();
        everything.write(&mut out, &rec(None)).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2\t17\t1700000000123\ta:1,n:null,e:\tk\thello\n\
             2\t17\t1700000000123\tNO_HEADERS\tnull\thello\n"
        );
    }
}
