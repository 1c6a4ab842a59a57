//! JoinGroup, SyncGroup, Heartbeat, LeaveGroup, ListGroups and DescribeGroups: the classic
//! group protocol with client-side assignors, coordinated by one broker per group (FNV-1a
//! of the group name over the live brokers with a Kafka listener, by id; every broker
//! computes the same). The coordinator keeps the membership in memory (`group/state.rs`);
//! when it goes, the members find the next coordinator and join again. Offsets stay in the
//! partitions' Raft logs (`offsets.rs`); a commit carrying a generation is checked against
//! the coordinator's membership first, as Kafka does.

mod listing;
mod state;

pub(super) use listing::{describe, list};

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::ResponseError as K;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, SyncGroupRequest, SyncGroupResponse,
};
use kafka_protocol::protocol::StrBytes;
use raftbus_protocol::acl::{Operation, ResourceKind};
use tokio::sync::watch;

use super::metadata::host_port;
use super::{Kafka, Who};
use crate::error::ApiError;
use state::{Join, Phase, Table};

/// Bounds on client-chosen timeouts.
const MAX_TIMEOUT: Duration = Duration::from_secs(300);
const MIN_SESSION: Duration = Duration::from_secs(1);

/// The groups this broker coordinates.
pub(crate) struct Coordinator {
    table: Mutex<Table>,
    /// Bumped on every change; waiting joins and syncs re-check their group.
    changed: watch::Sender<u64>,
}

impl Default for Coordinator {
    fn default() -> Self {
        Self {
            table: Mutex::default(),
            changed: watch::channel(0).0,
        }
    }
}

impl Coordinator {
    /// Runs `f` on the table (never across an await).
    fn with<R>(&self, f: impl FnOnce(&mut Table) -> R) -> R {
        f(&mut self.table.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Wakes every waiting join and sync after a change.
    fn changed(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// OffsetCommit's check of a member generation (`generation >= 0`).
    pub fn check_commit(&self, group: &str, member: &str, generation: i32) -> Result<(), K> {
        self.with(|t| match t.groups.get(group) {
            Some(g) => g.check(member, generation),
            None => Err(K::IllegalGeneration),
        })
    }
}

/// FNV-1a, so every broker maps a group to the same coordinator.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The coordinator of `group`: `(broker id, kafka address)`.
pub(super) async fn coordinator_of(
    k: &Kafka,
    who: &Who,
    group: &str,
) -> Result<(u64, String), ApiError> {
    let mut live: Vec<(u64, String)> = k
        .managers
        .brokers(who.token())
        .await?
        .into_iter()
        .filter(|b| b.alive)
        .filter_map(|b| Some((b.id, b.kafka_addr?)))
        .collect();
    live.sort();
    if live.is_empty() {
        return Err(ApiError::new(
            raftbus_protocol::ErrorCode::Unavailable,
            "no live broker with a Kafka listener",
        ));
    }
    let i = (fnv1a(group) % live.len() as u64) as usize;
    Ok(live.swap_remove(i))
}

/// `None` when this broker coordinates `group` and `who` may use it, else the error code.
async fn refuse(k: &Kafka, who: &Who, group: &str) -> Option<i16> {
    if k.allowed(who, ResourceKind::Group, group, Operation::Consume)
        .is_err()
    {
        return Some(K::GroupAuthorizationFailed.code());
    }
    match coordinator_of(k, who, group).await {
        Ok((id, addr)) if id == k.api.registry.node_id() && host_port(&addr).is_some() => None,
        Ok(_) => Some(K::NotCoordinator.code()),
        Err(_) => Some(K::CoordinatorNotAvailable.code()),
    }
}

fn clamp_ms(ms: i32, min: Duration) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0)).clamp(min, MAX_TIMEOUT)
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

pub(super) async fn join(k: &Kafka, who: &Who, r: JoinGroupRequest, v: i16) -> JoinGroupResponse {
    let group = r.group_id.0.as_str().to_string();
    let fail = |c: i16| {
        JoinGroupResponse::default()
            .with_error_code(c)
            .with_generation_id(-1)
            .with_member_id(r.member_id.clone())
    };
    if let Some(c) = refuse(k, who, &group).await {
        return fail(c);
    }
    let member = if r.member_id.is_empty() {
        format!("member-{}", uuid::Uuid::new_v4())
    } else {
        r.member_id.as_str().to_string()
    };
    let session = clamp_ms(r.session_timeout_ms, MIN_SESSION);
    let rebalance = if v >= 1 {
        clamp_ms(r.rebalance_timeout_ms, MIN_SESSION)
    } else {
        session
    };
    let j = Join {
        member: member.clone(),
        protocol_type: r.protocol_type.as_str().to_string(),
        protocols: r
            .protocols
            .iter()
            .map(|p| (p.name.as_str().to_string(), p.metadata.clone()))
            .collect(),
        session,
        rebalance,
        client_id: String::new(),
    };
    let known = r.member_id.is_empty()
        || k.groups.with(|t| {
            t.groups
                .get(&group)
                .is_some_and(|g| g.members.contains_key(&member))
        });
    if !known {
        return fail(K::UnknownMemberId.code());
    }
    let joined = k.groups.with(|t| t.join(&group, j, Instant::now()));
    k.groups.changed();
    if let Err(e) = joined {
        return fail(e.code());
    }
    let mut rx = k.groups.changed.subscribe();
    loop {
        let now = Instant::now();
        let outcome = k.groups.with(|t| {
            let g = t.groups.get_mut(&group)?;
            if g.try_complete(now) {
                k.groups.changed();
            }
            let Some(m) = g.members.get_mut(&member) else {
                return Some(Err(K::UnknownMemberId));
            };
            m.last_seen = now;
            match g.phase {
                // Still waiting (a rebalance that began while this join waited counts it in).
                Phase::Joining(deadline) => {
                    m.joined = true;
                    Some(Ok(Err(deadline)))
                }
                _ => Some(Ok(Ok(g.clone()))),
            }
        });
        let g = match outcome {
            None | Some(Err(_)) => return fail(K::UnknownMemberId.code()),
            Some(Ok(Err(deadline))) => {
                let wait = tokio::time::Instant::from_std(deadline);
                tokio::select! {
                    _ = rx.changed() => {}
                    _ = tokio::time::sleep_until(wait) => {}
                }
                continue;
            }
            Some(Ok(Ok(g))) => g,
        };
        let leader = g.leader.clone().unwrap_or_default();
        let members = if leader == member {
            g.members
                .iter()
                .map(|(id, m)| {
                    JoinGroupResponseMember::default()
                        .with_member_id(text(id))
                        .with_metadata(g.metadata(m))
                })
                .collect()
        } else {
            Vec::new()
        };
        return JoinGroupResponse::default()
            .with_generation_id(g.generation)
            .with_protocol_type(Some(text(&g.protocol_type)))
            .with_protocol_name(g.protocol.as_deref().map(text))
            .with_leader(text(&leader))
            .with_member_id(text(&member))
            .with_members(members);
    }
}

pub(super) async fn sync(k: &Kafka, who: &Who, r: SyncGroupRequest) -> SyncGroupResponse {
    let group = r.group_id.0.as_str().to_string();
    let fail = |c: i16| SyncGroupResponse::default().with_error_code(c);
    if let Some(c) = refuse(k, who, &group).await {
        return fail(c);
    }
    let member = r.member_id.as_str().to_string();
    let assignments: Vec<(String, Bytes)> = r
        .assignments
        .iter()
        .map(|a| (a.member_id.as_str().to_string(), a.assignment.clone()))
        .collect();
    let now = Instant::now();
    let synced = k.groups.with(|t| match t.groups.get_mut(&group) {
        Some(g) => g
            .sync(&member, r.generation_id, assignments, now)
            .map(|()| now + g.members[&member].rebalance),
        None => Err(K::UnknownMemberId),
    });
    k.groups.changed();
    let deadline = match synced {
        Ok(d) => tokio::time::Instant::from_std(d),
        Err(e) => return fail(e.code()),
    };
    let mut rx = k.groups.changed.subscribe();
    loop {
        let state = k.groups.with(|t| {
            let g = t.groups.get(&group)?;
            let m = g.members.get(&member)?;
            Some((
                g.phase,
                g.generation,
                m.assignment.clone(),
                g.protocol.clone(),
            ))
        });
        match state {
            Some((Phase::Stable, generation, assignment, protocol))
                if generation == r.generation_id =>
            {
                return SyncGroupResponse::default()
                    .with_protocol_type(r.protocol_type.clone())
                    .with_protocol_name(protocol.as_deref().map(text))
                    .with_assignment(assignment);
            }
            Some((Phase::Syncing, generation, ..)) if generation == r.generation_id => {}
            Some(_) => return fail(K::RebalanceInProgress.code()),
            None => return fail(K::UnknownMemberId.code()),
        }
        tokio::select! {
            _ = rx.changed() => {}
            _ = tokio::time::sleep_until(deadline) => return fail(K::RebalanceInProgress.code()),
        }
    }
}

pub(super) async fn heartbeat(k: &Kafka, who: &Who, r: HeartbeatRequest) -> HeartbeatResponse {
    let group = r.group_id.0.as_str().to_string();
    if let Some(c) = refuse(k, who, &group).await {
        return HeartbeatResponse::default().with_error_code(c);
    }
    let member = r.member_id.as_str();
    let now = Instant::now();
    let outcome = k.groups.with(|t| match t.groups.get_mut(&group) {
        Some(g) => {
            g.expire(now);
            g.touch(member, now);
            g.check(member, r.generation_id)
        }
        None => Err(K::UnknownMemberId),
    });
    k.groups.changed();
    HeartbeatResponse::default().with_error_code(outcome.err().map_or(0, |e| e.code()))
}

pub(super) async fn leave(k: &Kafka, who: &Who, r: LeaveGroupRequest) -> LeaveGroupResponse {
    let group = r.group_id.0.as_str().to_string();
    if let Some(c) = refuse(k, who, &group).await {
        return LeaveGroupResponse::default().with_error_code(c);
    }
    // v0-v2 name one member, v3+ a list.
    let mut ids: Vec<StrBytes> = r.members.iter().map(|m| m.member_id.clone()).collect();
    if !r.member_id.is_empty() {
        ids.push(r.member_id.clone());
    }
    let now = Instant::now();
    let results: Vec<(StrBytes, bool)> = k.groups.with(|t| {
        ids.into_iter()
            .map(|id| {
                let left = t
                    .groups
                    .get_mut(&group)
                    .is_some_and(|g| g.leave(id.as_str(), now));
                (id, left)
            })
            .collect()
    });
    k.groups.changed();
    let unknown = K::UnknownMemberId.code();
    let error = if results.iter().all(|(_, ok)| *ok) {
        0
    } else {
        unknown
    };
    LeaveGroupResponse::default()
        .with_error_code(if r.members.is_empty() { error } else { 0 })
        .with_members(
            results
                .into_iter()
                .filter(|_| !r.members.is_empty())
                .map(|(id, ok)| {
                    MemberResponse::default()
                        .with_member_id(id)
                        .with_error_code(if ok { 0 } else { unknown })
                })
                .collect(),
        )
}
