//! Test fixtures for process-level Raftbus tests.
//!
//! The cluster tests exercise the real binaries against a real PostgreSQL, because the
//! properties we care about (durability across `kill -9`, failover, restarts) cannot be
//! observed in-process. This crate provides the building blocks:
//!
//! * [`postgres::PgServer`] — a throwaway PostgreSQL in a temp dir on a free port.
//! * [`process::BrokerProcess`] — a `broker` binary with its own log file, killable and
//!   restartable on the same ports and database; built on the reusable [`process::Daemon`].
//! * [`ports::free_port`] — loopback ports that are never handed out twice per process.
//! * [`wait::wait_until`] — bounded polling instead of fixed sleeps.
//! * [`pki`] — the certificates and admin token every test cluster runs with.
//! * [`piped::Piped`] — a CLI or client script with stdin piped and its output lines collected.
//! * [`kafka`] — real Kafka clients (kcat, kafka-python, confluent-kafka), installed when missing.
//! * [`tail_file`] — the end of a log, for failure messages.

use std::path::Path;

pub mod cluster;
pub mod kafka;
pub mod manager;
pub mod piped;
pub mod pki;
pub mod ports;
pub mod postgres;
pub mod process;
pub mod traffic;
pub mod wait;

pub use ports::free_port;
pub use postgres::PgServer;
pub use process::{BrokerProcess, Daemon, bin_path};
pub use wait::{wait_until, wait_until_blocking};

/// Last `n` lines of a log file (lossy UTF-8); a placeholder if it cannot be read.
pub fn tail_file(path: &Path, n: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        }
        Err(e) => format!("<cannot read {}: {e}>", path.display()),
    }
}
