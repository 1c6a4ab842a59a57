//! Console mode: stdin lines (or `--value`) become records, sent without waiting for each
//! acknowledgement; outcomes are collected in input order through a bounded [`Window`].

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use raftbus_sdk::{Delivery, DeliveryFuture, Producer, Record, SdkError};
use tokio::sync::mpsc;

use crate::args::ConsoleArgs;
use crate::error::{CliError, Failures};
use crate::input::{split_key, stdin_lines};
use crate::window::Window;

/// Unreported records kept at most; the SDK's own buffer bounds the bytes, this bounds the
/// handles (a few dozen bytes each).
const WINDOW: usize = 65_536;

/// What happened so far; also feeds the progress line.
struct Counts {
    started: Instant,
    sent: u64,
    reported: u64,
    acked: u64,
    failures: Failures,
}

/// Runs console mode to completion: `Ok` only when every record was acknowledged.
pub async fn run(args: ConsoleArgs) -> Result<(), CliError> {
    let connect = &args.connect;
    let producer = Producer::connect(crate::producer_config(connect), connect.topic()).await?;
    if let Some(p) = args.partition {
        let n = producer.partitions();
        if p >= n {
            return Err(CliError::Usage(format!(
                "--partition {p} does not exist: topic {} has {n} partition(s)",
                connect.topic()
            )));
        }
    }
    let mut lines = match &args.value {
        Some(v) => one_line(v.as_bytes().to_vec()),
        None => stdin_lines(),
    };
    let sep = args.key_separator.as_deref().map(str::as_bytes);
    let progress = std::io::stderr().is_terminal();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut counts = Counts {
        started: Instant::now(),
        sent: 0,
        reported: 0,
        acked: 0,
        failures: Failures::default(),
    };
    let mut window: Window<DeliveryFuture> = Window::new(WINDOW);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut input_open = true;
    let mut input_error = None;

    while input_open || !window.is_empty() {
        tokio::select! {
            biased;
            _ = tick.tick() => {
                out.flush()?;
                if progress {
                    show_progress(&counts);
                }
            }
            Some(r) = window.next(), if !window.is_empty() => {
                report(&mut counts, r, &mut out, args.print_offsets)?;
                if window.is_empty() {
                    out.flush()?;
                }
            }
            chunk = lines.recv(), if input_open && !window.is_full() => match chunk {
                Some(Ok(chunk)) => {
                    for line in chunk {
                        let (key, value) = split_key(line, sep);
                        let mut record = match key {
                            Some(k) => Record::with_key(k, value),
                            None => Record::new(value),
                        };
                        if let Some(p) = args.partition {
                            record = record.to_partition(p);
                        }
                        record.headers.clone_from(&args.headers);
                        match producer.send(record).await {
                            Ok(d) => {
                                counts.sent += 1;
                                window.push(d);
                            }
                            Err(e) => window.push_done(Err(e)),
                        }
                        while let Some(r) = window.pop_ready() {
                            report(&mut counts, r, &mut out, args.print_offsets)?;
                        }
                        while window.is_full() {
                            if let Some(r) = window.next().await {
                                report(&mut counts, r, &mut out, args.print_offsets)?;
                            }
                        }
                    }
                }
                Some(Err(e)) => {
                    input_error = Some(e);
                    input_open = false;
                }
                None => input_open = false,
            },
        }
    }
    out.flush()?;
    if progress {
        eprint!("\r\x1b[K");
    }
    producer.close().await?;
    if let Some(e) = input_error {
        return Err(CliError::Io(std::io::Error::new(
            e.kind(),
            format!("reading stdin: {e}"),
        )));
    }
    counts.failures.into_result(counts.reported)
}

/// A line source holding just `value` (for `--value`).
fn one_line(value: Vec<u8>) -> mpsc::Receiver<std::io::Result<Vec<Vec<u8>>>> {
    let (tx, rx) = mpsc::channel(1);
    // Cannot fail: the channel is new, empty and has room for one item.
    let _ = tx.try_send(Ok(vec![value]));
    rx
}

/// Accounts for the next record's outcome and prints its offset line when asked to.
/// A failed record prints `-<TAB>-` so output lines stay aligned with input lines.
fn report(
    counts: &mut Counts,
    outcome: Result<Delivery, SdkError>,
    out: &mut impl Write,
    print_offsets: bool,
) -> Result<(), CliError> {
    counts.reported += 1;
    match outcome {
        Ok(d) => {
            counts.acked += 1;
            if print_offsets {
                match d.offset {
                    Some(offset) => writeln!(out, "{}\t{offset}", d.partition)?,
                    // `--acks leader` returns no offsets.
                    None => writeln!(out, "{}\t-", d.partition)?,
                }
            }
        }
        Err(e) => {
            counts.failures.add(counts.reported, &e);
            if print_offsets {
                writeln!(out, "-\t-")?;
            }
        }
    }
    Ok(())
}

/// One self-overwriting status line on the terminal.
fn show_progress(c: &Counts) {
    let secs = c.started.elapsed().as_secs_f64().max(1e-3);
    eprint!(
        "\r\x1b[K{} sent, {} acknowledged, {} failed, {:.0} records/s",
        c.sent,
        c.acked,
        c.failures.count,
        c.acked as f64 / secs
    );
}
