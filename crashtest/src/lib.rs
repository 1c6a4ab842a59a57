//! Crash-test harness for Raftbus.
//!
//! A test run has three parts that only meet through one file, the *history* (JSON lines, one
//! event per line, see [`history`]):
//!
//! - [`workload`] drives producers and consumer-group members through the SDK while faults are
//!   injected from outside, records every operation as `invoke` + `ok`/`fail`/`info` (Jepsen's
//!   semantics), takes nemesis events on stdin, and ends with a final read of every partition.
//! - A shell script (`scripts/crash-test.sh`) injects the faults and feeds the nemesis events.
//! - [`check`] reads the history and verifies the safety invariants S1-S7, S10 and S11 of the
//!   crash-testing reference.
//!
//! Keeping the checker independent of the workload means it can judge any history, including
//! synthetic ones in unit tests and prefixes left by a crashed workload.

pub mod check;
mod error;
pub mod history;
pub mod workload;

pub use error::CrashtestError;
