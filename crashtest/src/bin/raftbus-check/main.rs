//! `raftbus-check HISTORY.jsonl [--run-id ID]`: checks a crash-test history, prints the summary
//! line and the first violations, and exits 0 only when no invariant was violated (1 when one
//! was, 2 when the history cannot be read).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use raftbus_crashtest::check::check;
use raftbus_crashtest::history::read_history;

/// Checks a crash-test history against the safety invariants.
#[derive(Parser)]
#[command(name = "raftbus-check", version)]
struct Cli {
    /// The history (JSON lines) written by raftbus-workload.
    history: PathBuf,
    /// Run id every value must carry (default: the most common one among the sends).
    #[arg(long)]
    run_id: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("raftbus-check: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<bool> {
    let (events, torn) = read_history(&cli.history)?;
    let mut report = check(&events, cli.run_id.as_deref());
    if let Some(t) = torn {
        report.notes.insert(0, t);
    }
    print!("{report}");
    Ok(report.is_clean())
}
