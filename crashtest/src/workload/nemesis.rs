//! Nemesis events from stdin: `nemesis start kill broker-2` / `nemesis end kill broker-2`.
//!
//! The fault injector (a shell script) cannot write into the history itself without risking
//! interleaved, torn lines, and its clock would differ from the writer's origin. So it writes
//! one line per event into the workload's stdin, just after the fault command returned, and
//! the workload stamps and records it.
//!
//! stdin is read on a plain thread, not a tokio task: tokio's stdin reads on a blocking-pool
//! thread that would keep the runtime from shutting down while the script keeps the pipe open.

use std::io::BufRead;
use std::sync::Arc;

use crate::history::{Event, Func, HistoryWriter, Kind, Phase};

/// A parsed nemesis line: phase, fault, targets.
pub type NemesisLine = (Phase, String, Vec<String>);

/// Parses `nemesis start|end FAULT [TARGET...]`; `None` for anything else.
pub fn parse(line: &str) -> Option<NemesisLine> {
    let mut words = line.split_whitespace();
    if words.next()? != "nemesis" {
        return None;
    }
    let phase = match words.next()? {
        "start" => Phase::Start,
        "end" => Phase::End,
        _ => return None,
    };
    let fault = words.next()?.to_string();
    Some((phase, fault, words.map(str::to_string).collect()))
}

/// The history event of a nemesis line.
pub fn event((phase, fault, targets): NemesisLine) -> Event {
    let mut e = Event::new("nemesis", Kind::Info, Func::Nemesis);
    e.phase = Some(phase);
    e.fault = Some(fault);
    e.targets = Some(targets);
    e
}

/// Records every nemesis line arriving on stdin until EOF; other lines are reported on stderr
/// and ignored. The thread is detached: it ends with the process.
pub fn spawn_stdin_reader(history: Arc<HistoryWriter>) {
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else {
                return;
            };
            if line.trim().is_empty() {
                continue;
            }
            match parse(&line) {
                Some(n) => history.record(event(n)),
                None => eprintln!("raftbus-workload: ignoring stdin line {line:?}"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nemesis_lines() {
        let (phase, fault, targets) = parse("nemesis start kill broker-2").unwrap();
        assert_eq!(
            (phase, fault.as_str(), targets),
            (Phase::Start, "kill", vec!["broker-2".to_string()])
        );
        let e = event(parse("nemesis end pause broker-1 broker-3").unwrap());
        assert_eq!(e.phase, Some(Phase::End));
        assert_eq!(e.targets.unwrap().len(), 2);
        assert!(parse("nemesis begin kill x").is_none());
        assert!(parse("hello").is_none());
        assert!(parse("nemesis start").is_none());
    }
}
