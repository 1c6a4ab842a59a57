//! Creating a partition replica: validate, record it, start its group, and let the preferred
//! leader (the first member) initialize the group's membership.

use std::collections::{BTreeMap, HashSet};

use raftbus_protocol::ErrorCode;
use raftbus_protocol::api::{CreatePartitionRequest, Member};
use raftbus_raft::NodeAddr;

use super::Registry;
use crate::error::ApiError;

/// Checks a topic or consumer-group name (the rule lives in `raftbus_protocol::names`).
pub fn validate_name(kind: &str, name: &str) -> Result<(), ApiError> {
    raftbus_protocol::names::validate_name(kind, name)
        .map_err(|e| ApiError::new(ErrorCode::InvalidName, e))
}

/// Most members a replica group may list (current replicas plus those a move adds): far above
/// any replication factor, low enough that a bad request cannot make a group huge.
const MAX_MEMBERS: usize = 32;

fn validate_members(node_id: u64, members: &[Member]) -> Result<(), ApiError> {
    if members.is_empty() {
        return Err(ApiError::bad_request(
            "members must list at least one replica",
        ));
    }
    if members.len() > MAX_MEMBERS {
        return Err(ApiError::bad_request(format!(
            "members lists {} replicas; at most {MAX_MEMBERS} are allowed",
            members.len()
        )));
    }
    let mut ids = HashSet::new();
    for m in members {
        if m.id == 0 || !ids.insert(m.id) {
            return Err(ApiError::bad_request(format!(
                "member id {} is zero or listed twice",
                m.id
            )));
        }
        if m.api_addr.is_empty() || m.raft_addr.is_empty() {
            return Err(ApiError::bad_request(format!(
                "member {} needs api_addr and raft_addr",
                m.id
            )));
        }
    }
    if !ids.contains(&node_id) {
        return Err(ApiError::bad_request(format!(
            "this broker (node {node_id}) is not in the member list"
        )));
    }
    Ok(())
}

impl Registry {
    /// Hosts a replica of `topic/partition`. Idempotent: returns `false` when it exists.
    pub async fn create(
        &self,
        topic: &str,
        partition: u32,
        req: CreatePartitionRequest,
    ) -> Result<bool, ApiError> {
        validate_name("topic", topic)?;
        validate_members(self.node_id, &req.members)?;
        let _guard = self.create_lock.lock().await;
        let existing = match self.by_id(req.group_id) {
            Some(p) if p.topic != topic || p.partition != partition => {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    format!("group {} already hosts {}", req.group_id, p.name()),
                ));
            }
            Some(p) => Some(p),
            None => {
                if let Some(other) = self.get(topic, partition) {
                    return Err(ApiError::new(
                        ErrorCode::Conflict,
                        format!(
                            "{topic}/{partition} already exists with group id {}",
                            other.group_id
                        ),
                    ));
                }
                None
            }
        };
        let created = existing.is_none();
        let p = match existing {
            Some(p) => p,
            None => {
                let members = serde_json::to_value(&req.members).map_err(crate::error::internal)?;
                crate::storage::group::insert(&self.db, req.group_id, topic, partition, members)
                    .await
                    .map_err(crate::error::internal)?;
                self.open(
                    req.group_id,
                    topic.to_string(),
                    partition,
                    req.members.clone(),
                )
                .await
                .map_err(crate::error::internal)?
            }
        };
        // Only the preferred leader initializes; a repeated create re-drives it if the first
        // attempt died before initializing. All replicas are pristine, so this is safe.
        if req.members[0].id == self.node_id
            && !p
                .raft
                .is_initialized()
                .await
                .map_err(crate::error::internal)?
        {
            let nodes: BTreeMap<u64, NodeAddr> = req
                .members
                .iter()
                .map(|m| {
                    (
                        m.id,
                        NodeAddr {
                            raft_addr: m.raft_addr.clone(),
                            api_addr: m.api_addr.clone(),
                        },
                    )
                })
                .collect();
            if let Err(e) = p.raft.initialize(nodes).await {
                // NotAllowed means another path initialized it meanwhile: fine.
                tracing::info!(partition = %p.name(), error = %e, "initialize skipped");
            }
        }
        Ok(created)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_must_include_self_once() {
        let m = |id| Member {
            id,
            api_addr: "a:1".into(),
            raft_addr: "a:2".into(),
            kafka_addr: None,
        };
        assert!(validate_members(1, &[m(1), m(2)]).is_ok());
        assert!(validate_members(3, &[m(1), m(2)]).is_err());
        assert!(validate_members(1, &[m(1), m(1)]).is_err());
        assert!(validate_members(1, &[]).is_err());
        let many: Vec<Member> = (1..=33).map(m).collect();
        assert!(validate_members(1, &many).is_err());
    }
}
