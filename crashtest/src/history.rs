//! The history: one JSON object per line, one line per event.
//!
//! ```text
//! {"i":12,"t_ns":3051234,"proc":"p1","type":"invoke","f":"send","value":"r1:p1:7"}
//! {"i":15,"t_ns":9051234,"proc":"p1","type":"ok","f":"send","part":2,"offset":41,"value":"r1:p1:7"}
//! {"i":16,"t_ns":9100000,"proc":"nemesis","type":"info","f":"nemesis","fault":"kill","targets":["broker-2"],"phase":"start"}
//! ```
//!
//! `type` follows Jepsen: `ok` definitely happened, `fail` definitely did not, `info` is
//! unknown. Optional fields are omitted. Times are nanoseconds since the writer was created
//! (a monotonic `Instant`): one process records every event, so they are comparable, and `i`
//! and `t_ns` are assigned under the same lock, so line order is time order.
//!
//! Every line is flushed as it is written: a workload that crashes still leaves a usable
//! prefix, and [`read_history`] tolerates a torn last line.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::CrashtestError;

/// Completion type of an operation (or `invoke` for its start).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The operation starts.
    Invoke,
    /// It definitely happened.
    Ok,
    /// It definitely did not happen.
    Fail,
    /// Unknown outcome (timeouts, connection lost after sending); also nemesis events.
    Info,
}

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Func {
    /// A producer send of one record.
    Send,
    /// A record returned by a group consumer's poll.
    Poll,
    /// A consumer-group offset commit (one partition).
    Commit,
    /// A record returned by the final read.
    FinalRead,
    /// A fault injected from outside.
    Nemesis,
    /// Anything a newer writer records that this checker does not know; ignored.
    #[serde(other)]
    Other,
}

/// Start or end of a nemesis action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The fault was just injected.
    Start,
    /// The fault was just healed.
    End,
}

/// One line of the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Sequence number in the file (assigned by the writer).
    pub i: u64,
    /// Nanoseconds since the writer's origin (assigned by the writer).
    pub t_ns: u64,
    /// Logical process: `p1..` producers, `c1..` consumers, `final`, `nemesis`.
    pub proc: String,
    /// Completion type.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// Operation.
    pub f: Func,
    /// Partition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<u32>,
    /// Offset (for a commit: the committed next offset to read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Record value, `"{run_id}:{proc}:{seq}"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Error text of a `fail` or `info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub err: Option<String>,
    /// Nemesis fault name (`kill`, `pause`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// Nemesis targets (container or process names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<String>>,
    /// Nemesis phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Consumer-group generation of a commit (a lower one than already seen is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
}

impl Event {
    /// An event with only the mandatory fields; `i` and `t_ns` are set when it is recorded.
    pub fn new(proc: impl Into<String>, kind: Kind, f: Func) -> Self {
        Self {
            i: 0,
            t_ns: 0,
            proc: proc.into(),
            kind,
            f,
            part: None,
            offset: None,
            value: None,
            err: None,
            fault: None,
            targets: None,
            phase: None,
            generation: None,
        }
    }

    /// Sets the partition.
    pub fn part(mut self, p: u32) -> Self {
        self.part = Some(p);
        self
    }

    /// Sets the offset.
    pub fn offset(mut self, o: u64) -> Self {
        self.offset = Some(o);
        self
    }

    /// Sets the value.
    pub fn value(mut self, v: impl Into<String>) -> Self {
        self.value = Some(v.into());
        self
    }

    /// Sets the error text.
    pub fn err(mut self, e: impl Into<String>) -> Self {
        self.err = Some(e.into());
        self
    }
}

/// Splits a value `"{run_id}:{proc}:{seq}"` into `(run_id, proc)`; the run id may itself
/// contain colons. `None` for anything else.
pub fn parse_value(v: &str) -> Option<(&str, &str)> {
    let mut it = v.rsplitn(3, ':');
    let seq = it.next()?;
    let proc = it.next()?;
    let run = it.next()?;
    seq.parse::<u64>().ok()?;
    Some((run, proc))
}

/// Appends events to the history file, one flushed line each; shared by every task.
///
/// A write error does not stop the workload (that would lose the rest of the run's evidence
/// and turn an I/O hiccup into a crash): the first one is kept and returned by
/// [`HistoryWriter::finish`].
pub struct HistoryWriter {
    path: PathBuf,
    origin: Instant,
    inner: Mutex<Inner>,
}

struct Inner {
    out: BufWriter<File>,
    next_i: u64,
    error: Option<std::io::Error>,
}

impl HistoryWriter {
    /// Creates (truncates) the history file.
    pub fn create(path: &Path) -> Result<Self, CrashtestError> {
        let file = File::create(path).map_err(|source| CrashtestError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            origin: Instant::now(),
            inner: Mutex::new(Inner {
                out: BufWriter::new(file),
                next_i: 0,
                error: None,
            }),
        })
    }

    /// Nanoseconds since the origin.
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Stamps the event with the next `i` and the current time, writes and flushes its line.
    pub fn record(&self, mut ev: Event) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        ev.i = inner.next_i;
        ev.t_ns = self.now_ns();
        inner.next_i += 1;
        let line = serde_json::to_string(&ev).expect("events always serialize");
        let r = writeln!(inner.out, "{line}").and_then(|()| inner.out.flush());
        if let Err(e) = r
            && inner.error.is_none()
        {
            inner.error = Some(e);
        }
    }

    /// Number of events recorded so far.
    pub fn len(&self) -> u64 {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).next_i
    }

    /// True before the first event.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Flushes and reports the first write error, if any.
    pub fn finish(&self) -> Result<(), CrashtestError> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let flushed = inner.out.flush();
        match inner.error.take().map_or(flushed, Err) {
            Ok(()) => Ok(()),
            Err(source) => Err(CrashtestError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }
}

/// Reads a history file. A last line that does not parse is a write torn by a crash and is
/// dropped (reported in the second element); a bad line anywhere else is an error.
pub fn read_history(path: &Path) -> Result<(Vec<Event>, Option<String>), CrashtestError> {
    let io = |source| CrashtestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let lines: Vec<String> = BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(io)?;
    parse_lines(&lines)
}

/// [`read_history`] on lines already in memory.
pub fn parse_lines(lines: &[String]) -> Result<(Vec<Event>, Option<String>), CrashtestError> {
    let mut events = Vec::with_capacity(lines.len());
    let mut torn = None;
    let last = lines.iter().rposition(|l| !l.trim().is_empty());
    for (n, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Event>(line) {
            Ok(ev) => events.push(ev),
            Err(_) if Some(n) == last => {
                torn = Some(format!("ignored a torn last line ({} bytes)", line.len()))
            }
            Err(source) => {
                return Err(CrashtestError::Parse {
                    line: n + 1,
                    source,
                });
            }
        }
    }
    events.sort_by_key(|e| e.i);
    Ok((events, torn))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_and_omit_empty_fields() {
        let ev = Event::new("p1", Kind::Ok, Func::Send)
            .part(2)
            .offset(41)
            .value("r:p1:7");
        let line = serde_json::to_string(&ev).unwrap();
        assert_eq!(
            line,
            r#"{"i":0,"t_ns":0,"proc":"p1","type":"ok","f":"send","part":2,"offset":41,"value":"r:p1:7"}"#
        );
        assert_eq!(serde_json::from_str::<Event>(&line).unwrap(), ev);
        let other: Event =
            serde_json::from_str(r#"{"i":1,"t_ns":2,"proc":"x","type":"ok","f":"assign"}"#)
                .unwrap();
        assert_eq!(other.f, Func::Other);
    }

    #[test]
    fn values_split_from_the_right() {
        assert_eq!(parse_value("run:1:p1:7"), Some(("run:1", "p1")));
        assert_eq!(parse_value("p1:7"), None);
        assert_eq!(parse_value("a:p1:x"), None);
    }

    #[test]
    fn torn_last_line_is_dropped_but_a_bad_middle_line_is_an_error() {
        let good = r#"{"i":0,"t_ns":0,"proc":"p1","type":"invoke","f":"send","value":"r:p1:0"}"#;
        let lines = vec![good.to_string(), r#"{"i":1,"t_ns":5,"pr"#.to_string()];
        let (evs, torn) = parse_lines(&lines).unwrap();
        assert_eq!(evs.len(), 1);
        assert!(torn.is_some());
        let lines = vec!["garbage".to_string(), good.to_string()];
        assert!(parse_lines(&lines).is_err());
    }

    #[test]
    fn writer_numbers_and_flushes_every_line() {
        let dir = std::env::temp_dir().join(format!("ct-hist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("h.jsonl");
        let w = HistoryWriter::create(&path).unwrap();
        w.record(Event::new("p1", Kind::Invoke, Func::Send).value("r:p1:0"));
        w.record(Event::new("p1", Kind::Ok, Func::Send).value("r:p1:0"));
        // Readable before finish: every line is flushed.
        let (evs, torn) = read_history(&path).unwrap();
        assert!(torn.is_none());
        assert_eq!(evs.iter().map(|e| e.i).collect::<Vec<_>>(), vec![0, 1]);
        assert!(evs[0].t_ns <= evs[1].t_ns);
        w.finish().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
