//! The library's error type: the binaries add context with `anyhow`, the library does not.

use std::path::PathBuf;

use raftbus_sdk::SdkError;

/// Everything the workload or the checker can fail with (violations are not errors: they are
/// the checker's result).
#[derive(Debug, thiserror::Error)]
pub enum CrashtestError {
    /// Reading or writing the history (or another file) failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A history line is not a valid event.
    #[error("history line {line}: {source}")]
    Parse {
        /// 1-based line number.
        line: usize,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// An SDK call needed to set the run up failed for good.
    #[error("{context}: {source}")]
    Sdk {
        /// What we were doing.
        context: String,
        /// The SDK's error (boxed: it is large, and this path is cold).
        #[source]
        source: Box<SdkError>,
    },
    /// A bad argument or setting.
    #[error("invalid argument: {0}")]
    Invalid(String),
}
