//! Admin subcommands of the `manager` binary (`manager topic create ...`, `manager status`):
//! operator tools that talk to any live manager through the SDK's [`Admin`] client, so they work
//! from any machine that can reach one manager and need no local state.
//!
//! Each command renders its whole output to a string first and prints it at the end, so a
//! failing call prints nothing partial; errors are returned for `main` to report.

mod broker;
mod group;
mod partition;
mod status;
mod table;
mod topic;
mod user;

use std::io::Write;

use raftbus_sdk::{Admin, SdkError};

pub use broker::BrokerCmd;
pub use group::GroupCmd;
pub use partition::PartitionCmd;
pub use table::Table;
pub use topic::TopicCmd;
pub use user::{AclCmd, RuleArgs, UserCmd};

/// The admin commands, to be flattened into the binary's top-level clap command.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum AdminCommand {
    /// Create, list, describe, alter and delete topics.
    Topic {
        /// Topic operation.
        #[command(subcommand)]
        cmd: TopicCmd,
    },
    /// Move partition replicas: reassign one partition, or rebalance.
    Partition {
        /// Partition operation.
        #[command(subcommand)]
        cmd: PartitionCmd,
    },
    /// Inspect brokers.
    Broker {
        /// Broker operation.
        #[command(subcommand)]
        cmd: BrokerCmd,
    },
    /// Inspect consumer groups.
    Group {
        /// Group operation.
        #[command(subcommand)]
        cmd: GroupCmd,
    },
    /// Show every manager's role and health and every broker's liveness and load.
    Status,
    /// Add, remove and list users (principals with a token).
    User {
        /// User operation.
        #[command(subcommand)]
        cmd: UserCmd,
    },
    /// Add, remove and list ACL rules.
    Acl {
        /// ACL operation.
        #[command(subcommand)]
        cmd: AclCmd,
    },
}

/// Runs `cmd` against the managers in `bootstrap` (comma-separated `host:port`) and prints the
/// result to stdout. Errors (bad bootstrap, unreachable managers, API errors) are returned,
/// not printed, so the caller prints one `error: ...` line and exits non-zero.
pub async fn run(bootstrap: &str, cmd: AdminCommand) -> Result<(), SdkError> {
    let admin = Admin::new(bootstrap)?;
    let out = render(&admin, cmd).await?;
    let mut stdout = std::io::stdout().lock();
    // A closed stdout (`manager topic list | head -1`) is not an error worth reporting.
    let _ = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush());
    Ok(())
}

/// Runs `cmd` and returns what [`run`] would print; separate so tests and other tools can
/// reuse the formatting.
pub async fn render(admin: &Admin, cmd: AdminCommand) -> Result<String, SdkError> {
    match cmd {
        AdminCommand::Topic { cmd } => topic::run(admin, cmd).await,
        AdminCommand::Partition { cmd } => partition::run(admin, cmd).await,
        AdminCommand::Broker { cmd } => broker::run(admin, cmd).await,
        AdminCommand::Group { cmd } => group::run(admin, cmd).await,
        AdminCommand::Status => status::run(admin).await,
        AdminCommand::User { cmd } => user::run_user(admin, cmd).await,
        AdminCommand::Acl { cmd } => user::run_acl(admin, cmd).await,
    }
}

/// `broker-<id>`: how every admin command names a broker.
fn broker_name(id: u64) -> String {
    format!("broker-{id}")
}

/// A comma-separated list, or `-` when empty (so table columns never go blank).
fn join_or_dash<T: ToString>(items: &[T]) -> String {
    if items.is_empty() {
        return "-".into();
    }
    items.iter().map(T::to_string).collect::<Vec<_>>().join(",")
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: AdminCommand,
    }

    fn parse(args: &[&str]) -> Result<AdminCommand, clap::Error> {
        Cli::try_parse_from(std::iter::once("manager").chain(args.iter().copied())).map(|c| c.cmd)
    }

    #[test]
    fn parses_topic_create_with_defaults_and_flags() {
        let defaults = TopicCmd::Create {
            name: "orders".into(),
            partitions: 3,
            replication_factor: 3,
            wait_ms: 10_000,
            retention: Default::default(),
        };
        assert_eq!(
            parse(&["topic", "create", "orders"]).unwrap(),
            AdminCommand::Topic { cmd: defaults }
        );
        let custom = parse(&[
            "topic",
            "create",
            "t",
            "--partitions",
            "6",
            "--replication-factor",
            "1",
            "--wait-ms",
            "0",
        ])
        .unwrap();
        assert_eq!(
            custom,
            AdminCommand::Topic {
                cmd: TopicCmd::Create {
                    name: "t".into(),
                    partitions: 6,
                    replication_factor: 1,
                    wait_ms: 0,
                    retention: Default::default(),
                }
            }
        );
    }

    #[test]
    fn parses_other_commands_and_rejects_garbage() {
        assert_eq!(parse(&["status"]).unwrap(), AdminCommand::Status);
        assert_eq!(
            parse(&["broker", "list"]).unwrap(),
            AdminCommand::Broker {
                cmd: BrokerCmd::List
            }
        );
        assert_eq!(
            parse(&["group", "describe", "g"]).unwrap(),
            AdminCommand::Group {
                cmd: GroupCmd::Describe { name: "g".into() }
            }
        );
        assert_eq!(
            parse(&[
                "topic",
                "alter",
                "t",
                "--retention-ms",
                "unlimited",
                "--retention-bytes",
                "1024"
            ])
            .unwrap(),
            AdminCommand::Topic {
                cmd: TopicCmd::Alter {
                    name: "t".into(),
                    retention: topic::RetentionArgs {
                        retention_ms: Some(-1),
                        retention_bytes: Some(1024),
                    },
                }
            }
        );
        assert!(parse(&["topic", "alter", "t", "--retention-ms", "0"]).is_err());
        assert!(parse(&["topic", "create"]).is_err());
        assert!(parse(&["topic", "create", "t", "--partitions", "x"]).is_err());
        assert!(parse(&["topic", "delete"]).is_err());
    }

    #[test]
    fn helpers() {
        assert_eq!(join_or_dash::<u32>(&[]), "-");
        assert_eq!(join_or_dash(&[1, 2, 3]), "1,2,3");
        assert_eq!(broker_name(7), "broker-7");
    }
}
