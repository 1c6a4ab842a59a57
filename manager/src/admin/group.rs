//! `manager group list|describe`.

use raftbus_sdk::protocol::meta::GroupInfo;
use raftbus_sdk::{Admin, SdkError};

use super::{Table, join_or_dash};

/// Consumer-group operations.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum GroupCmd {
    /// List every consumer group.
    List,
    /// Show a group's generation and which member owns which partitions.
    Describe {
        /// Group name.
        name: String,
    },
}

/// Runs one group command; returns the text to print.
pub(super) async fn run(admin: &Admin, cmd: GroupCmd) -> Result<String, SdkError> {
    match cmd {
        GroupCmd::List => Ok(list(admin.groups().await?)),
        GroupCmd::Describe { name } => Ok(describe(admin.group(&name).await?)),
    }
}

fn list(mut groups: Vec<GroupInfo>) -> String {
    if groups.is_empty() {
        return "no consumer groups\n".into();
    }
    groups.sort_by(|a, b| a.group.cmp(&b.group));
    let mut t = Table::new(["GROUP", "TOPIC", "GENERATION", "MEMBERS"]);
    for g in &groups {
        t.row([
            g.group.clone(),
            g.topic.clone(),
            g.generation.to_string(),
            g.members.len().to_string(),
        ]);
    }
    t.to_string()
}

fn describe(mut g: GroupInfo) -> String {
    let mut out = format!(
        "group: {}  topic: {}  generation: {}\n",
        g.group, g.topic, g.generation
    );
    if g.members.is_empty() {
        out.push_str("no members\n");
        return out;
    }
    g.members.sort_by_key(|m| m.consumer_id);
    let mut t = Table::new(["MEMBER", "PARTITIONS"]);
    for m in &mut g.members {
        m.partitions.sort_unstable();
        t.row([m.consumer_id.to_string(), join_or_dash(&m.partitions)]);
    }
    out.push_str(&t.to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use raftbus_sdk::protocol::meta::GroupMember;

    #[test]
    fn describe_shows_members_and_partitions() {
        let g = GroupInfo {
            group: "g".into(),
            topic: "orders".into(),
            generation: 4,
            members: vec![GroupMember {
                consumer_id: Default::default(),
                partitions: vec![2, 0],
            }],
        };
        assert_eq!(
            describe(g.clone()),
            "group: g  topic: orders  generation: 4\n\
             MEMBER                                PARTITIONS\n\
             00000000-0000-0000-0000-000000000000  0,2\n"
        );
        assert_eq!(
            list(vec![g]),
            "GROUP  TOPIC   GENERATION  MEMBERS\ng      orders  4           1\n"
        );
    }
}
