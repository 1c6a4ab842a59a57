//! `manager status`: the cluster at a glance, for operators checking health after a change.

use raftbus_sdk::protocol::meta::{BrokerInfo, ManagerInfo, ManagerRole};
use raftbus_sdk::{Admin, SdkError};

use super::{Table, broker_name};

/// Renders managers (role, health) then brokers (liveness, load), each sorted by id.
pub(super) async fn run(admin: &Admin) -> Result<String, SdkError> {
    let managers = admin.managers().await?;
    let brokers = admin.brokers().await?;
    Ok(render(managers, brokers))
}

fn role(r: ManagerRole) -> &'static str {
    match r {
        ManagerRole::Write => "write",
        ManagerRole::Read => "read",
        ManagerRole::Unknown => "unknown",
    }
}

fn render(mut managers: Vec<ManagerInfo>, mut brokers: Vec<BrokerInfo>) -> String {
    managers.sort_by_key(|m| m.id);
    brokers.sort_by_key(|b| b.id);
    let mut t = Table::new(["MANAGER", "ROLE", "HEALTH", "ADDRESS"]);
    for m in &managers {
        t.row([
            format!("manager-{}", m.id),
            role(m.role).into(),
            if m.healthy { "healthy" } else { "unreachable" }.into(),
            m.api_addr.clone(),
        ]);
    }
    let mut out = t.to_string();
    out.push('\n');
    if brokers.is_empty() {
        out.push_str("no brokers have registered\n");
        return out;
    }
    let mut t = Table::new(["BROKER", "STATE", "ADDRESS", "REPLICAS", "LEADERS"]);
    for b in &brokers {
        t.row([
            broker_name(b.id),
            super::broker::state(b).into(),
            b.api_addr.clone(),
            b.replicas.to_string(),
            b.leaders.to_string(),
        ]);
    }
    out.push_str(&t.to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_managers_then_brokers() {
        let m = |id, role, healthy| ManagerInfo {
            id,
            api_addr: format!("m:{id}"),
            role,
            healthy,
        };
        let managers = vec![
            m(3, ManagerRole::Unknown, false),
            m(1, ManagerRole::Write, true),
            m(2, ManagerRole::Read, true),
        ];
        let brokers = vec![BrokerInfo {
            id: 1,
            api_addr: "b:1".into(),
            raft_addr: "b:2".into(),
            alive: true,
            replicas: 6,
            leaders: 2,
            kafka_addr: None,
        }];
        assert_eq!(
            render(managers, brokers),
            "MANAGER    ROLE     HEALTH       ADDRESS\n\
             manager-1  write    healthy      m:1\n\
             manager-2  read     healthy      m:2\n\
             manager-3  unknown  unreachable  m:3\n\
             \n\
             BROKER    STATE  ADDRESS  REPLICAS  LEADERS\n\
             broker-1  alive  b:1      6         2\n"
        );
        assert!(render(vec![], vec![]).ends_with("\nno brokers have registered\n"));
    }
}
