//! Principals and ACLs: who may do what to which topic or group.
//!
//! A principal authenticates with a token; nodes keep only its SHA-256. An ACL rule allows one
//! principal one operation on a resource: a topic or a consumer group named literally or by
//! prefix, or the cluster itself. Nothing is allowed without a rule, except to `admin` (the
//! principal of `security.admin_token_sha256`), which may do everything. The managers hold the
//! [`SecurityTable`] in the metadata group and hand it to brokers with heartbeat replies.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The principal allowed everything.
pub const ADMIN: &str = "admin";

/// What a request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Append records (and create a topic on first use).
    Produce,
    /// Read records, join a group, commit offsets.
    Consume,
    /// Read metadata.
    Describe,
    /// Create topics, change retention.
    Alter,
    /// Delete topics.
    Delete,
    /// Move replicas, manage users and ACLs.
    Admin,
}

impl Operation {
    /// Every operation, for parsing.
    pub const ALL: [Operation; 6] = [
        Operation::Produce,
        Operation::Consume,
        Operation::Describe,
        Operation::Alter,
        Operation::Delete,
        Operation::Admin,
    ];

    /// The snake_case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Produce => "produce",
            Operation::Consume => "consume",
            Operation::Describe => "describe",
            Operation::Alter => "alter",
            Operation::Delete => "delete",
            Operation::Admin => "admin",
        }
    }
}

/// What kind of thing a rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// A topic (by name or prefix).
    Topic,
    /// A consumer group (by name or prefix).
    Group,
    /// The cluster (the name is ignored).
    Cluster,
}

impl ResourceKind {
    /// The snake_case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Topic => "topic",
            ResourceKind::Group => "group",
            ResourceKind::Cluster => "cluster",
        }
    }
}

/// One rule: `principal` may `operation` on `kind` resources matching `name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AclRule {
    /// The principal (user name).
    pub principal: String,
    /// Topic, group or cluster.
    pub resource: ResourceKind,
    /// The resource name, or its prefix when `prefix` is set (empty with `prefix`: all).
    #[serde(default)]
    pub name: String,
    /// Match names starting with `name` instead of equal to it.
    #[serde(default)]
    pub prefix: bool,
    /// The operation allowed.
    pub operation: Operation,
}

impl AclRule {
    fn matches(&self, principal: &str, kind: ResourceKind, name: &str, op: Operation) -> bool {
        self.principal == principal
            && self.resource == kind
            && self.operation == op
            && (kind == ResourceKind::Cluster
                || if self.prefix {
                    name.starts_with(&self.name)
                } else {
                    name == self.name
                })
    }
}

/// `POST /v1/users` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateUserRequest {
    /// The new principal's name.
    pub name: String,
}

/// Answer to `POST /v1/users`: the token, shown this once (the managers keep its SHA-256).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateUserResponse {
    /// The principal.
    pub name: String,
    /// Its access token.
    pub token: String,
}

/// Users (token digests) and rules, as the metadata group holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityTable {
    /// Principal name -> hex SHA-256 of its token.
    pub users: BTreeMap<String, String>,
    /// Every rule, sorted, without duplicates.
    pub acls: Vec<AclRule>,
}

impl SecurityTable {
    /// The principal whose token has this hex SHA-256.
    pub fn principal_of(&self, token_sha256: &str) -> Option<&str> {
        self.users
            .iter()
            .find(|(_, h)| h.as_str() == token_sha256)
            .map(|(name, _)| name.as_str())
    }

    /// True when `principal` may `op` on the `kind` resource `name`. Any operation allowed on
    /// a resource implies `describe` of it (a consumer of a topic may read its metadata).
    pub fn allows(&self, principal: &str, kind: ResourceKind, name: &str, op: Operation) -> bool {
        let implied = |r: &AclRule| {
            op == Operation::Describe && {
                let mut any = r.clone();
                any.operation = Operation::Describe;
                any.matches(principal, kind, name, op)
            }
        };
        principal == ADMIN
            || self
                .acls
                .iter()
                .any(|r| r.matches(principal, kind, name, op) || implied(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(name: &str, prefix: bool, op: Operation) -> AclRule {
        AclRule {
            principal: "alice".into(),
            resource: ResourceKind::Topic,
            name: name.into(),
            prefix,
            operation: op,
        }
    }

    #[test]
    fn rules_allow_exactly_what_they_name() {
        let t = SecurityTable {
            users: BTreeMap::new(),
            acls: vec![
                rule("a", false, Operation::Consume),
                rule("logs-", true, Operation::Produce),
            ],
        };
        use Operation::*;
        use ResourceKind::*;
        assert!(t.allows("alice", Topic, "a", Consume));
        assert!(!t.allows("alice", Topic, "a", Produce));
        assert!(!t.allows("alice", Topic, "ab", Consume));
        assert!(!t.allows("alice", Topic, "b", Consume));
        assert!(t.allows("alice", Topic, "logs-1", Produce));
        assert!(!t.allows("alice", Group, "logs-1", Produce));
        assert!(!t.allows("bob", Topic, "a", Consume));
        assert!(t.allows(ADMIN, Cluster, "", Admin));
        assert!(
            t.allows("alice", Topic, "a", Describe),
            "implied by consume"
        );
        assert!(!t.allows("alice", Topic, "b", Describe));
        for op in Operation::ALL {
            let json = serde_json::to_value(op).unwrap();
            assert_eq!(
                json.as_str(),
                Some(op.as_str()),
                "as_str matches the wire name"
            );
        }
    }
}
