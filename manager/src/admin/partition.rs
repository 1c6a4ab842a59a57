//! `manager partition reassign|rebalance`.

use raftbus_sdk::protocol::moves::MovesReply;
use raftbus_sdk::{Admin, SdkError};

use super::{Table, join_or_dash};

/// Partition placement operations.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum PartitionCmd {
    /// Move one partition to another replica set (first = preferred leader). Runs in the
    /// background; `manager topic describe` shows it until it completes.
    Reassign {
        /// Topic name.
        topic: String,
        /// Partition index.
        partition: u32,
        /// New replica broker ids, comma-separated, e.g. `1,2,4`.
        #[arg(long, value_delimiter = ',', required = true)]
        replicas: Vec<u64>,
    },
    /// Even out replicas and preferred leaders over the live brokers; the managers keep
    /// starting moves (at most `healing.max_moves` at once) until it is balanced.
    Rebalance {
        /// Only this topic (default: every topic).
        #[arg(long)]
        topic: Option<String>,
    },
}

/// Runs one partition command; returns the text to print.
pub(super) async fn run(admin: &Admin, cmd: PartitionCmd) -> Result<String, SdkError> {
    let reply = match cmd {
        PartitionCmd::Reassign {
            topic,
            partition,
            replicas,
        } => admin.reassign(&topic, partition, &replicas).await?,
        PartitionCmd::Rebalance { topic } => admin.rebalance(topic.as_deref()).await?,
    };
    Ok(render(&reply))
}

fn render(reply: &MovesReply) -> String {
    if reply.started.is_empty() && reply.pending == 0 {
        return "nothing to move: placement already as requested\n".into();
    }
    let mut t = Table::new(["TOPIC", "PARTITION", "FROM", "TO"]);
    for m in &reply.started {
        t.row([
            m.topic.clone(),
            m.partition.to_string(),
            join_or_dash(&m.from),
            join_or_dash(&m.to),
        ]);
    }
    let mut out = format!("started {} move(s)\n", reply.started.len());
    if !reply.started.is_empty() {
        out.push_str(&t.to_string());
    }
    if reply.pending > 0 {
        out.push_str(&format!(
            "{} more replica move(s) wait for a free slot; the managers start them as moves complete\n",
            reply.pending
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use raftbus_sdk::protocol::moves::PlannedMove;

    #[test]
    fn renders_started_and_pending() {
        assert!(render(&MovesReply::default()).starts_with("nothing to move"));
        let r = MovesReply {
            started: vec![PlannedMove {
                topic: "t".into(),
                partition: 2,
                from: vec![1, 2, 3],
                to: vec![1, 2, 4],
            }],
            pending: 3,
        };
        let out = render(&r);
        assert!(
            out.contains("started 1 move(s)") && out.contains("1,2,4") && out.contains("3 more"),
            "{out}"
        );
    }
}
