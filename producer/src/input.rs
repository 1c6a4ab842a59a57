//! Input records: stdin lines read on a plain thread (blocking reads never stall the async
//! runtime, and whole chunks of lines cross the channel so the per-line cost stays tiny), the
//! key/value split of one line, and the `--header` syntax.

use std::io::BufRead;

use raftbus_sdk::Header;
use tokio::sync::mpsc;

/// Lines per chunk sent to the async side.
const CHUNK_LINES: usize = 1024;
/// Chunks buffered between the reader thread and the sender: bounds memory when the cluster
/// is slower than stdin.
const CHUNKS_BUFFERED: usize = 8;
/// Bytes read from stdin at a time.
const READ_BUFFER: usize = 256 << 10;

/// Reads stdin on a dedicated thread; yields chunks of lines (without `\n` / `\r\n`). A read
/// error ends the stream with that error as the last item.
pub fn stdin_lines() -> mpsc::Receiver<std::io::Result<Vec<Vec<u8>>>> {
    let (tx, rx) = mpsc::channel(CHUNKS_BUFFERED);
    std::thread::spawn(move || {
        // Our own buffer (not just `StdinLock`'s) so we can see whether more input is
        // already buffered without blocking.
        let mut input = std::io::BufReader::with_capacity(READ_BUFFER, std::io::stdin().lock());
        let mut chunk = Vec::with_capacity(CHUNK_LINES);
        loop {
            let mut line = Vec::new();
            match input.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {
                    trim_newline(&mut line);
                    chunk.push(line);
                    // Send early when stdin has nothing more buffered, so interactive input
                    // is sent line by line instead of waiting for a full chunk.
                    if chunk.len() >= CHUNK_LINES || input.buffer().is_empty() {
                        let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_LINES));
                        if tx.blocking_send(Ok(full)).is_err() {
                            return;
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
        if !chunk.is_empty() {
            let _ = tx.blocking_send(Ok(chunk));
        }
    });
    rx
}

/// Removes one trailing `\n` and a `\r` before it.
fn trim_newline(line: &mut Vec<u8>) {
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
}

/// Splits `line` at the first `sep`: `(Some(key), value)`; without `sep` in the line (or
/// without a separator configured) the whole line is the value and there is no key.
pub fn split_key(line: Vec<u8>, sep: Option<&[u8]>) -> (Option<Vec<u8>>, Vec<u8>) {
    let Some(sep) = sep.filter(|s| !s.is_empty()) else {
        return (None, line);
    };
    match line.windows(sep.len()).position(|w| w == sep) {
        Some(at) => {
            let value = line[at + sep.len()..].to_vec();
            let mut key = line;
            key.truncate(at);
            (Some(key), value)
        }
        None => (None, line),
    }
}

/// Parses a `--header NAME=VALUE` argument; the message is what clap prints on refusal.
pub fn parse_header(arg: &str) -> Result<Header, String> {
    match arg.split_once('=') {
        Some((name, value)) => Ok(Header::new(name, value.as_bytes().to_vec())),
        None => Err(format!(
            "expected NAME=VALUE (the header name, `=`, then its value), got `{arg}`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_headers_at_the_first_equals_sign() {
        let h = parse_header("trace=a=b").unwrap();
        assert_eq!(
            (h.key.as_str(), h.value.as_deref()),
            ("trace", Some(&b"a=b"[..]))
        );
        let h = parse_header("empty=").unwrap();
        assert_eq!(
            (h.key.as_str(), h.value.as_deref()),
            ("empty", Some(&b""[..]))
        );
        let e = parse_header("novalue").unwrap_err();
        assert!(e.contains("NAME=VALUE") && e.contains("novalue"), "{e}");
    }

    #[test]
    fn splits_at_first_separator_only() {
        let (k, v) = split_key(b"k1:a:b".to_vec(), Some(b":"));
        assert_eq!(
            (k.as_deref(), v.as_slice()),
            (Some(&b"k1"[..]), &b"a:b"[..])
        );
        let (k, v) = split_key(b"novalue".to_vec(), Some(b"::"));
        assert_eq!((k, v.as_slice()), (None, &b"novalue"[..]));
        let (k, v) = split_key(b":x".to_vec(), Some(b":"));
        assert_eq!((k.as_deref(), v.as_slice()), (Some(&b""[..]), &b"x"[..]));
        let (k, v) = split_key(b"a:b".to_vec(), None);
        assert_eq!((k, v.as_slice()), (None, &b"a:b"[..]));
    }

    #[test]
    fn trims_crlf() {
        let mut l = b"abc\r\n".to_vec();
        trim_newline(&mut l);
        assert_eq!(l, b"abc");
        let mut l = b"abc".to_vec();
        trim_newline(&mut l);
        assert_eq!(l, b"abc");
    }
}
