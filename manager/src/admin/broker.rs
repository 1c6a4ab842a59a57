//! `manager broker list`.

use raftbus_sdk::protocol::meta::BrokerInfo;
use raftbus_sdk::{Admin, SdkError};

use super::{Table, broker_name};

/// Broker operations.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum BrokerCmd {
    /// List every broker the managers know: liveness, addresses, replica and leader counts.
    List,
}

/// Runs one broker command; returns the text to print.
pub(super) async fn run(admin: &Admin, cmd: BrokerCmd) -> Result<String, SdkError> {
    match cmd {
        BrokerCmd::List => Ok(list(admin.brokers().await?)),
    }
}

/// `alive`/`dead`, as the managers judge from heartbeats.
pub(super) fn state(b: &BrokerInfo) -> &'static str {
    if b.alive { "alive" } else { "dead" }
}

fn list(mut brokers: Vec<BrokerInfo>) -> String {
    if brokers.is_empty() {
        return "no brokers have registered\n".into();
    }
    brokers.sort_by_key(|b| b.id);
    let mut t = Table::new([
        "BROKER",
        "STATE",
        "ADDRESS",
        "RAFT-ADDRESS",
        "REPLICAS",
        "LEADERS",
    ]);
    for b in &brokers {
        t.row([
            broker_name(b.id),
            state(b).into(),
            b.api_addr.clone(),
            b.raft_addr.clone(),
            b.replicas.to_string(),
            b.leaders.to_string(),
        ]);
    }
    t.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_sorted_by_id() {
        let b = |id, alive| BrokerInfo {
            id,
            api_addr: format!("h:{id}1"),
            raft_addr: format!("h:{id}2"),
            alive,
            replicas: 3,
            leaders: 1,
            kafka_addr: None,
        };
        assert_eq!(
            list(vec![b(2, false), b(1, true)]),
            "BROKER    STATE  ADDRESS  RAFT-ADDRESS  REPLICAS  LEADERS\n\
             broker-1  alive  h:11     h:12          3         1\n\
             broker-2  dead   h:21     h:22          3         1\n"
        );
        assert_eq!(list(vec![]), "no brokers have registered\n");
    }
}
