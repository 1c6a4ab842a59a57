//! Users and ACL rules in the metadata group. The write manager mints a user's token and
//! proposes only its SHA-256; every manager applies the same commands, and brokers receive
//! the table with their heartbeat replies.

use raftbus_protocol::ErrorCode;
use raftbus_protocol::acl::{ADMIN, AclRule, SecurityTable};
use serde::{Deserialize, Serialize};

use crate::raft::MetaResponse;

/// Most users the table holds (it travels with every broker heartbeat reply).
pub const MAX_USERS: usize = 1_000;
/// Most ACL rules the table holds.
pub const MAX_ACLS: usize = 10_000;

/// A change to users or rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SecurityCommand {
    /// Adds a user, or replaces its token (rotation).
    PutUser {
        /// Principal name.
        name: String,
        /// Hex SHA-256 of its token.
        token_sha256: String,
    },
    /// Removes a user and every rule naming it.
    RemoveUser {
        /// Principal name.
        name: String,
    },
    /// Adds a rule (idempotent).
    AddAcl {
        /// The rule.
        rule: AclRule,
    },
    /// Removes a rule.
    RemoveAcl {
        /// The rule.
        rule: AclRule,
    },
}

fn error(code: ErrorCode, message: String) -> MetaResponse {
    MetaResponse::Error { code, message }
}

/// Applies `cmd` to `t`.
pub fn apply(t: &mut SecurityTable, cmd: SecurityCommand) -> MetaResponse {
    match cmd {
        SecurityCommand::PutUser { name, token_sha256 } => {
            if name == ADMIN {
                return error(
                    ErrorCode::Conflict,
                    "`admin` is the principal of security.admin_token_sha256; pick another name"
                        .into(),
                );
            }
            if !t.users.contains_key(&name) && t.users.len() >= MAX_USERS {
                return error(ErrorCode::TooLarge, format!("at most {MAX_USERS} users"));
            }
            t.users.insert(name, token_sha256);
        }
        SecurityCommand::RemoveUser { name } => {
            if t.users.remove(&name).is_none() {
                return error(ErrorCode::NotFound, format!("no user {name:?}"));
            }
            t.acls.retain(|r| r.principal != name);
        }
        SecurityCommand::AddAcl { rule } => {
            if !t.users.contains_key(&rule.principal) {
                return error(
                    ErrorCode::NotFound,
                    format!("no user {:?}: add it first", rule.principal),
                );
            }
            if let Err(i) = t.acls.binary_search(&rule) {
                if t.acls.len() >= MAX_ACLS {
                    return error(ErrorCode::TooLarge, format!("at most {MAX_ACLS} rules"));
                }
                t.acls.insert(i, rule);
            }
        }
        SecurityCommand::RemoveAcl { rule } => match t.acls.binary_search(&rule) {
            Ok(i) => {
                t.acls.remove(i);
            }
            Err(_) => return error(ErrorCode::NotFound, "no such rule".into()),
        },
    }
    MetaResponse::Ok
}
