//! `manager user ...` and `manager acl ...`: principals and their permissions.

use raftbus_protocol::acl::{AclRule, Operation, ResourceKind};
use raftbus_sdk::{Admin, SdkError};

use super::Table;

/// `manager user` subcommands.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum UserCmd {
    /// Add a user (or give it a new token, revoking the old one) and print its token once.
    Add {
        /// Principal name.
        name: String,
    },
    /// Remove a user and its ACL rules.
    Remove {
        /// Principal name.
        name: String,
    },
    /// List user names.
    List,
}

/// `manager acl` subcommands.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum AclCmd {
    /// Allow a principal an operation on a topic, a group or the cluster.
    Add(RuleArgs),
    /// Remove a rule.
    Remove(RuleArgs),
    /// List every rule.
    List,
}

/// One rule on the command line.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct RuleArgs {
    /// The principal (user name).
    #[arg(long)]
    pub principal: String,
    /// A topic name (or prefix with --prefix).
    #[arg(long, conflicts_with_all = ["group", "cluster"], required_unless_present_any = ["group", "cluster"])]
    pub topic: Option<String>,
    /// A consumer group name (or prefix with --prefix).
    #[arg(long, conflicts_with = "cluster")]
    pub group: Option<String>,
    /// The cluster itself (admin: moves, users, rules; alter: create topics).
    #[arg(long)]
    pub cluster: bool,
    /// Match names starting with the given one.
    #[arg(long)]
    pub prefix: bool,
    /// produce, consume, describe, alter, delete or admin.
    #[arg(long, value_parser = parse_operation)]
    pub operation: Operation,
}

fn parse_operation(s: &str) -> Result<Operation, String> {
    Operation::ALL
        .into_iter()
        .find(|op| op.as_str().eq_ignore_ascii_case(s))
        .ok_or_else(|| {
            format!("unknown operation {s:?}: produce, consume, describe, alter, delete or admin")
        })
}

impl RuleArgs {
    fn rule(self) -> AclRule {
        let (resource, name) = match (self.topic, self.group) {
            (Some(t), _) => (ResourceKind::Topic, t),
            (None, Some(g)) => (ResourceKind::Group, g),
            (None, None) => (ResourceKind::Cluster, String::new()),
        };
        AclRule {
            principal: self.principal,
            resource,
            name,
            prefix: self.prefix,
            operation: self.operation,
        }
    }
}

/// Runs a `user` subcommand.
pub async fn run_user(admin: &Admin, cmd: UserCmd) -> Result<String, SdkError> {
    match cmd {
        UserCmd::Add { name } => {
            let r = admin.create_user(&name).await?;
            Ok(format!(
                "user {} added; its token (shown once, keep it secret):\n{}\n",
                r.name, r.token
            ))
        }
        UserCmd::Remove { name } => {
            admin.remove_user(&name).await?;
            Ok(format!("user {name} removed\n"))
        }
        UserCmd::List => Ok(admin.users().await?.into_iter().map(|n| n + "\n").collect()),
    }
}

/// Runs an `acl` subcommand.
pub async fn run_acl(admin: &Admin, cmd: AclCmd) -> Result<String, SdkError> {
    match cmd {
        AclCmd::Add(args) => {
            admin.add_acl(&args.rule()).await?;
            Ok("rule added\n".into())
        }
        AclCmd::Remove(args) => {
            admin.remove_acl(&args.rule()).await?;
            Ok("rule removed\n".into())
        }
        AclCmd::List => {
            let mut t = Table::new(["PRINCIPAL", "RESOURCE", "NAME", "MATCH", "OPERATION"]);
            for r in admin.acls().await? {
                t.row(vec![
                    r.principal.clone(),
                    r.resource.as_str().into(),
                    if r.name.is_empty() {
                        "-".into()
                    } else {
                        r.name.clone()
                    },
                    if r.prefix { "prefix" } else { "literal" }.into(),
                    r.operation.as_str().into(),
                ]);
            }
            Ok(t.to_string())
        }
    }
}
