//! The CLI's error type. `anyhow` stays in `main.rs`; library code returns this so every
//! failure reaches `main` as one printable line.

use std::fmt;

use raftbus_sdk::SdkError;

/// Why the producer CLI failed.
#[derive(Debug)]
pub enum CliError {
    /// Connecting or talking to the cluster failed.
    Sdk(SdkError),
    /// Reading stdin or writing stdout failed.
    Io(std::io::Error),
    /// Some records were not acknowledged (the summary is the message).
    Failed(String),
    /// Flags that parse but do not make sense together or for this topic.
    Usage(String),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Sdk(e) => write!(f, "{e}"),
            CliError::Io(e) => write!(f, "I/O error: {e}"),
            CliError::Failed(m) | CliError::Usage(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CliError::Sdk(e) => std::error::Error::source(e),
            CliError::Io(e) => std::error::Error::source(e),
            _ => None,
        }
    }
}

impl From<SdkError> for CliError {
    fn from(e: SdkError) -> Self {
        CliError::Sdk(e)
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Io(e)
    }
}

/// Counts failed records and keeps the first few errors, so the final message names the
/// cause without flooding the terminal when thousands of records fail the same way.
#[derive(Debug, Default)]
pub struct Failures {
    /// How many records failed.
    pub count: u64,
    first: Vec<String>,
}

/// How many distinct error messages the summary quotes.
const QUOTED: usize = 3;

impl Failures {
    /// Records one failed record (`record` is its 1-based input position).
    pub fn add(&mut self, record: u64, error: &dyn fmt::Display) {
        self.count += 1;
        let msg = error.to_string();
        if self.first.len() < QUOTED && !self.first.iter().any(|m| m.ends_with(&msg)) {
            self.first.push(format!("record {record}: {msg}"));
        }
    }

    /// `Ok` when nothing failed, else a one-line summary out of `total` records.
    pub fn into_result(self, total: u64) -> Result<(), CliError> {
        if self.count == 0 {
            return Ok(());
        }
        Err(CliError::Failed(format!(
            "{} of {} records failed; first error(s): {}",
            self.count,
            total,
            self.first.join("; ")
        )))
    }
}
