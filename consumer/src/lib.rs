//! The `consumer` command: console mode (records printed one per line, Kafka console-consumer
//! conventions) and `consumer perf` (a read throughput benchmark). The binary only parses
//! arguments and calls [`console::run`] or [`perf::run`].

pub mod args;
pub mod console;
pub mod error;
pub mod format;
pub mod perf;

use raftbus_sdk::{Consumer, ConsumerConfig, ResetPolicy, SdkError, StartFrom};

/// Connects a consumer of `topic`: a group member when `group` is set (the managers assign
/// partitions), else a standalone reader of `partition` or, without one, of every partition.
pub async fn connect(
    bootstrap: &str,
    topic: &str,
    group: Option<String>,
    partition: Option<u32>,
    start: StartFrom,
    reset: ResetPolicy,
) -> Result<Consumer, SdkError> {
    let standalone = group.is_none();
    let config = ConsumerConfig::new(bootstrap)
        .group(group)
        .start(start)
        .reset(reset);
    let mut consumer = Consumer::connect(config, topic).await?;
    if standalone {
        let partitions: Vec<(u32, StartFrom)> = match partition {
            Some(p) => vec![(p, start)],
            None => (0..consumer.partitions()).map(|p| (p, start)).collect(),
        };
        consumer.assign(&partitions).await?;
    }
    Ok(consumer)
}

/// Resolves on Ctrl-C or SIGTERM: both mean "stop cleanly" (commit, leave the group, exit 0).
/// If the handlers cannot be installed the future never resolves, which only loses the
/// clean-stop nicety (the default signal action still ends the process).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        match term {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
