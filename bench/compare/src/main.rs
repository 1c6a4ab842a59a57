//! `raftbus-bench-compare`: the NATS JetStream and RabbitMQ side of `scripts/bench.sh
//! --compare`. Each subcommand does one step and prints what the script parses (a `RESULT`
//! line in the same style as Raftbus's `producer perf`/`consumer perf`, or a leader name).
//! Errors are one `error:` line on stderr and exit status 1.

mod nats;
mod publish;
mod rabbit;
mod stats;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::publish::Plan;

#[derive(Debug, Parser)]
#[command(
    name = "raftbus-bench-compare",
    about = "NATS JetStream / RabbitMQ side of scripts/bench.sh --compare"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Create a JetStream stream (subjects STREAM.>, file storage) unless it exists.
    NatsSetup {
        #[arg(long)]
        servers: String,
        #[arg(long)]
        stream: String,
        #[arg(long, default_value_t = 3)]
        replicas: usize,
    },
    /// Print the server name leading a stream.
    NatsLeader {
        #[arg(long)]
        servers: String,
        #[arg(long)]
        stream: String,
    },
    /// Publish with JetStream acks awaited.
    NatsPublish {
        #[arg(long)]
        servers: String,
        #[arg(long)]
        subject: String,
        #[command(flatten)]
        plan: PlanArgs,
    },
    /// Read a stream from the start with a durable pull consumer.
    NatsConsume {
        #[arg(long)]
        servers: String,
        #[arg(long)]
        stream: String,
        #[arg(long)]
        messages: u64,
    },
    /// Declare a durable quorum queue unless it exists.
    RabbitSetup {
        /// Comma-separated amqp:// URIs (the first that answers is used).
        #[arg(long)]
        uris: String,
        #[arg(long)]
        queue: String,
    },
    /// Publish to a queue with publisher confirms awaited.
    RabbitPublish {
        #[arg(long)]
        uris: String,
        #[arg(long)]
        queue: String,
        #[command(flatten)]
        plan: PlanArgs,
    },
    /// Consume a queue with manual acks (cumulative, every 1,000 messages).
    RabbitConsume {
        #[arg(long)]
        uris: String,
        #[arg(long)]
        queue: String,
        #[arg(long)]
        messages: u64,
    },
}

/// The publish workload (see [`Plan`]).
#[derive(Debug, Args)]
struct PlanArgs {
    /// Bytes per message.
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Messages awaiting their ack at most.
    #[arg(long, default_value_t = 256)]
    window: usize,
    /// Messages per second at most (default: as fast as the window allows).
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds to publish for.
    #[arg(long, default_value_t = 15.0)]
    duration_secs: f64,
    /// One at a time, retrying each message until acknowledged (failover runs).
    #[arg(long)]
    retry: bool,
    /// Longest wait for one attempt's ack with --retry.
    #[arg(long, default_value_t = 2_000)]
    attempt_timeout_ms: u64,
}

impl PlanArgs {
    fn plan(&self) -> Plan {
        Plan {
            size: self.size,
            window: if self.retry { 1 } else { self.window.max(1) },
            rate: self.rate.filter(|r| *r > 0.0),
            duration: Duration::from_secs_f64(self.duration_secs.max(0.0)),
            retry: self.retry,
            attempt_timeout: Duration::from_millis(self.attempt_timeout_ms),
        }
    }
}

async fn run(cmd: Cmd) -> Result<String, String> {
    match cmd {
        Cmd::NatsSetup {
            servers,
            stream,
            replicas,
        } => nats::setup(&servers, &stream, replicas)
            .await
            .map(|()| format!("stream {stream} ready")),
        Cmd::NatsLeader { servers, stream } => nats::leader(&servers, &stream).await,
        Cmd::NatsPublish {
            servers,
            subject,
            plan,
        } => nats::publish(&servers, &subject, &plan.plan()).await,
        Cmd::NatsConsume {
            servers,
            stream,
            messages,
        } => nats::consume(&servers, &stream, messages).await,
        Cmd::RabbitSetup { uris, queue } => rabbit::setup(&uris, &queue)
            .await
            .map(|()| format!("queue {queue} ready")),
        Cmd::RabbitPublish { uris, queue, plan } => {
            rabbit::publish(&uris, &queue, &plan.plan()).await
        }
        Cmd::RabbitConsume {
            uris,
            queue,
            messages,
        } => rabbit::consume(&uris, &queue, messages).await,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli.cmd)) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", e.replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
