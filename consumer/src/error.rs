//! The CLI's error type. `anyhow` stays in `main.rs`; library code returns this so every
//! failure reaches `main` as one printable line.

use std::fmt;

use raftbus_sdk::SdkError;

/// Why the consumer CLI failed.
#[derive(Debug)]
pub enum CliError {
    /// Connecting or talking to the cluster failed.
    Sdk(SdkError),
    /// Writing stdout failed.
    Io(std::io::Error),
    /// The run ended without doing what was asked (e.g. `perf` timed out).
    Incomplete(String),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Sdk(e) => write!(f, "{e}"),
            CliError::Io(e) => write!(f, "I/O error: {e}"),
            CliError::Incomplete(m) => f.write_str(m),
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
