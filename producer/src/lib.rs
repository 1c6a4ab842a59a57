//! The `producer` command: console mode (stdin lines become records, Kafka console-producer
//! conventions) and `producer perf` (a throughput/latency benchmark). The binary only parses
//! arguments and calls [`console::run`] or [`perf::run`].

pub mod args;
pub mod console;
pub mod error;
pub mod input;
pub mod perf;
pub mod stats;
pub mod window;

use std::time::Duration;

use raftbus_sdk::{Acks, ProducerConfig};

use crate::args::{AcksArg, ConnectArgs};

/// The SDK configuration the flags describe.
pub fn producer_config(args: &ConnectArgs) -> ProducerConfig {
    let acks = match args.acks {
        AcksArg::All => Acks::All,
        AcksArg::Leader => Acks::Leader,
    };
    ProducerConfig::new(args.bootstrap.clone())
        .linger(Duration::from_millis(args.linger_ms))
        .batch_bytes(args.batch_bytes)
        .max_in_flight(args.max_in_flight as usize)
        .acks(acks)
        .auto_create_topic(!args.no_auto_create)
}
