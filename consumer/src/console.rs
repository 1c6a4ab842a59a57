//! Console mode: prints records as they arrive until `--max-messages`, `--timeout-ms` of
//! silence, Ctrl-C/SIGTERM, or a closed stdout; then closes the consumer (final commit and
//! leaving the group) so a restart in the same group resumes exactly where this one stopped.

use std::io::Write;
use std::time::{Duration, Instant};

use raftbus_sdk::{Consumer, StartFrom};

use crate::args::ConsoleArgs;
use crate::error::CliError;
use crate::format::Format;

/// Longest single poll: bounds how late a timeout, a signal or an assignment change is noticed.
const POLL: Duration = Duration::from_millis(500);

/// Why the read loop ended.
enum Stop {
    Done,
    Failed(CliError),
}

/// Runs console mode; `Ok` on every normal ending (including Ctrl-C).
pub async fn run(args: ConsoleArgs) -> Result<(), CliError> {
    let start = match (args.offset, args.from_beginning) {
        (Some(o), _) => StartFrom::Offset(o),
        (None, true) => StartFrom::Earliest,
        (None, false) => StartFrom::Latest,
    };
    let connect = &args.connect;
    let mut consumer = crate::connect(
        &connect.bootstrap,
        connect.topic(),
        args.group.clone(),
        args.partition,
        start,
        args.reset.into(),
    )
    .await?;
    let (printed, stop) = read_loop(&mut consumer, &args).await;
    if args.verbose {
        eprintln!("consumer: {printed} record(s) printed");
    }
    let closed = close(consumer).await;
    if let Stop::Failed(e) = stop {
        return Err(e);
    }
    closed
}

/// Closes the consumer (final commit, leaving the group); a second Ctrl-C gives up on it.
async fn close(consumer: Consumer) -> Result<(), CliError> {
    tokio::select! {
        closed = consumer.close() => Ok(closed?),
        _ = crate::shutdown_signal() => Err(CliError::Incomplete(
            "interrupted while closing: the last offsets may not be committed".into(),
        )),
    }
}

/// Polls and prints until a stop condition; returns how many records were printed.
async fn read_loop(consumer: &mut Consumer, args: &ConsoleArgs) -> (u64, Stop) {
    let format = Format {
        offset: args.print_offset,
        timestamp: args.print_timestamp,
        headers: args.print_headers,
        key: args.print_key,
    };
    let idle_limit = args.timeout_ms.map(Duration::from_millis);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let shutdown = crate::shutdown_signal();
    tokio::pin!(shutdown);
    let mut printed = 0u64;
    let mut last_record = Instant::now();
    let mut seen = (None, Vec::new());
    loop {
        if args.max_messages.is_some_and(|max| printed >= max) {
            return (printed, Stop::Done);
        }
        let wait = match idle_limit {
            Some(limit) => limit.saturating_sub(last_record.elapsed()),
            None => POLL,
        };
        if wait.is_zero() {
            return (printed, Stop::Done);
        }
        let polled = tokio::select! {
            _ = &mut shutdown => return (printed, Stop::Done),
            r = consumer.poll(wait.min(POLL)) => r,
        };
        let records = match polled {
            Ok(r) => r,
            Err(e) => return (printed, Stop::Failed(e.into())),
        };
        if args.verbose {
            report_assignment(consumer, &mut seen);
        }
        if records.is_empty() {
            continue;
        }
        last_record = Instant::now();
        let room = args.max_messages.map_or(u64::MAX, |max| max - printed);
        let room = usize::try_from(room).unwrap_or(usize::MAX);
        for r in records.iter().take(room) {
            if let Err(e) = format.write(&mut out, r) {
                return (printed, stdout_closed(e));
            }
            printed += 1;
        }
        if let Err(e) = out.flush() {
            return (printed, stdout_closed(e));
        }
        if records.len() > room {
            // Commit exactly what was printed: rewind each partition to its first unprinted
            // record, so closing stores that position and the rest is read next time.
            let mut first_unprinted = std::collections::BTreeMap::new();
            for r in &records[room..] {
                first_unprinted.entry(r.partition).or_insert(r.offset);
            }
            for (p, o) in first_unprinted {
                if let Err(e) = consumer.seek(p, o) {
                    return (printed, Stop::Failed(e.into()));
                }
            }
            return (printed, Stop::Done);
        }
    }
}

/// A reader that went away (`consumer ... | head`) is a normal end, anything else an error.
fn stdout_closed(e: std::io::Error) -> Stop {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Stop::Done
    } else {
        Stop::Failed(e.into())
    }
}

/// Prints the assignment on stderr whenever it changed since the last poll. Printed after a
/// poll, so it describes what this consumer now really reads (tests wait for it).
fn report_assignment(consumer: &Consumer, seen: &mut (Option<u64>, Vec<u32>)) {
    let now = (consumer.generation(), consumer.assignment());
    if now != *seen {
        let generation = now.0.map_or("-".to_string(), |g| g.to_string());
        eprintln!("consumer: generation {generation}, partitions {:?}", now.1);
        *seen = now;
    }
}
