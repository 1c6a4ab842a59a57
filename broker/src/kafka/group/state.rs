//! The classic group protocol's state on the coordinating broker (no I/O, no waiting: the
//! handlers in `group.rs` call these under the lock and wait on [`Groups::changed`]).
//!
//! A rebalance starts when a member joins, leaves or times out; it completes once every
//! member has joined again (or the rebalance deadline passed: the missing ones are dropped),
//! which raises the generation and names the leader, whose SyncGroup hands out the
//! assignments its client-side assignor computed.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::ResponseError as K;

/// Where a group is in its rebalance cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// No members.
    Empty,
    /// Waiting for every member to (re)join, at the latest until the deadline.
    Joining(Instant),
    /// Generation fixed; waiting for the leader's assignments.
    Syncing,
    /// Assignments handed out.
    Stable,
}

impl Phase {
    /// Kafka's name for the state.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Empty => "Empty",
            Phase::Joining(_) => "PreparingRebalance",
            Phase::Syncing => "CompletingRebalance",
            Phase::Stable => "Stable",
        }
    }
}

/// One member.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    /// `(protocol name, metadata)` in the member's order of preference.
    pub protocols: Vec<(String, Bytes)>,
    pub session: Duration,
    pub rebalance: Duration,
    pub last_seen: Instant,
    /// Joined the rebalance in progress.
    pub joined: bool,
    /// Its assignment in the current generation.
    pub assignment: Bytes,
    pub client_id: String,
}

/// One group.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub generation: i32,
    pub phase: Phase,
    pub protocol_type: String,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub members: BTreeMap<String, Member>,
}

impl Group {
    fn new(protocol_type: &str) -> Self {
        Self {
            generation: 0,
            phase: Phase::Empty,
            protocol_type: protocol_type.to_string(),
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
        }
    }

    /// Starts a rebalance (unless one runs): every member must join again before the
    /// longest rebalance timeout passes.
    fn rebalance(&mut self, now: Instant) {
        if matches!(self.phase, Phase::Joining(_)) {
            return;
        }
        for m in self.members.values_mut() {
            m.joined = false;
        }
        let wait = self.members.values().map(|m| m.rebalance).max();
        self.phase = match wait {
            Some(w) => Phase::Joining(now + w),
            None => Phase::Empty,
        };
    }

    /// Drops members silent past their session timeout (not those waiting in a join); a
    /// member lost outside a rebalance starts one.
    pub fn expire(&mut self, now: Instant) {
        let joining = matches!(self.phase, Phase::Joining(_));
        let before = self.members.len();
        self.members
            .retain(|_, m| (joining && m.joined) || now.duration_since(m.last_seen) <= m.session);
        if self.members.len() != before {
            self.rebalance(now);
        }
    }

    /// Removes a member (LeaveGroup); the others rebalance. `false` if it was unknown.
    pub fn leave(&mut self, member: &str, now: Instant) -> bool {
        if self.members.remove(member).is_none() {
            return false;
        }
        if !matches!(self.phase, Phase::Joining(_)) {
            self.rebalance(now);
        }
        self.try_complete(now);
        true
    }

    /// Completes the rebalance when every member joined or the deadline passed.
    pub fn try_complete(&mut self, now: Instant) -> bool {
        let Phase::Joining(deadline) = self.phase else {
            return false;
        };
        let all = self.members.values().all(|m| m.joined);
        if !all && now < deadline {
            return false;
        }
        self.members.retain(|_, m| m.joined);
        if self.members.is_empty() {
            self.phase = Phase::Empty;
            self.leader = None;
            return true;
        }
        // The first protocol of the leader's list that every member supports.
        let leader = match &self.leader {
            Some(l) if self.members.contains_key(l) => l.clone(),
            _ => self.members.keys().next().cloned().unwrap_or_default(),
        };
        self.protocol = self.members[&leader]
            .protocols
            .iter()
            .map(|(n, _)| n.clone())
            .find(|n| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(p, _)| p == n))
            });
        self.leader = Some(leader);
        self.generation += 1;
        for m in self.members.values_mut() {
            m.assignment = Bytes::new();
        }
        self.phase = Phase::Syncing;
        true
    }

    /// The member's metadata for the chosen protocol.
    pub fn metadata(&self, member: &Member) -> Bytes {
        let chosen = self.protocol.as_deref().unwrap_or_default();
        member
            .protocols
            .iter()
            .find(|(n, _)| n == chosen)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    /// Notes that `member` is alive.
    pub fn touch(&mut self, member: &str, now: Instant) {
        if let Some(m) = self.members.get_mut(member) {
            m.last_seen = now;
        }
    }

    /// SyncGroup: the leader's assignments end the rebalance; others only check in.
    pub fn sync(
        &mut self,
        member: &str,
        generation: i32,
        assignments: Vec<(String, Bytes)>,
        now: Instant,
    ) -> Result<(), K> {
        self.check(member, generation)?;
        self.touch(member, now);
        if self.phase == Phase::Syncing && self.leader.as_deref() == Some(member) {
            for (id, a) in assignments {
                if let Some(m) = self.members.get_mut(&id) {
                    m.assignment = a;
                }
            }
            self.phase = Phase::Stable;
        }
        Ok(())
    }

    /// A member's generation check for SyncGroup, Heartbeat and OffsetCommit.
    pub fn check(&self, member: &str, generation: i32) -> Result<(), K> {
        if !self.members.contains_key(member) {
            return Err(K::UnknownMemberId);
        }
        if generation != self.generation {
            return Err(K::IllegalGeneration);
        }
        if matches!(self.phase, Phase::Joining(_)) {
            return Err(K::RebalanceInProgress);
        }
        Ok(())
    }
}

/// A JoinGroup as the state needs it.
pub(crate) struct Join {
    pub member: String,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    pub session: Duration,
    pub rebalance: Duration,
    pub client_id: String,
}

/// Every group this broker coordinates.
#[derive(Debug, Default)]
pub(crate) struct Table {
    pub groups: HashMap<String, Group>,
}

impl Table {
    /// Adds or refreshes a member and starts a rebalance; `Err` for an unknown member id or
    /// a protocol type the group does not use.
    pub fn join(&mut self, group: &str, j: Join, now: Instant) -> Result<(), K> {
        let g = self
            .groups
            .entry(group.to_string())
            .or_insert_with(|| Group::new(&j.protocol_type));
        g.expire(now);
        if g.members.is_empty() {
            g.protocol_type = j.protocol_type.clone();
        } else if g.protocol_type != j.protocol_type {
            return Err(K::InconsistentGroupProtocol);
        }
        // Any join (a new member, or a known one rejoining) starts a rebalance if none runs;
        // the others learn it from their next heartbeat and join again.
        g.rebalance(now);
        let wait = j.rebalance;
        let joined = Member {
            protocols: j.protocols,
            session: j.session,
            rebalance: j.rebalance,
            last_seen: now,
            joined: true,
            assignment: Bytes::new(),
            client_id: j.client_id,
        };
        g.members.insert(j.member, joined);
        if g.phase == Phase::Empty {
            g.phase = Phase::Joining(now + wait);
        }
        g.try_complete(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(id: &str) -> Join {
        Join {
            member: id.into(),
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), Bytes::from_static(b"m"))],
            session: Duration::from_secs(10),
            rebalance: Duration::from_secs(30),
            client_id: String::new(),
        }
    }

    #[test]
    fn rounds_wait_for_every_member_and_raise_the_generation() {
        let (mut t, now) = (Table::default(), Instant::now());
        t.join("g", join("a"), now).unwrap();
        let g = &t.groups["g"];
        assert_eq!(
            (g.generation, g.phase, g.leader.as_deref()),
            (1, Phase::Syncing, Some("a"))
        );
        let g = t.groups.get_mut("g").unwrap();
        g.sync("a", 1, vec![("a".into(), Bytes::from_static(b"all"))], now)
            .unwrap();
        assert_eq!(g.phase, Phase::Stable);

        // B joins: A must join again before the round completes.
        t.join("g", join("b"), now).unwrap();
        let g = t.groups.get_mut("g").unwrap();
        assert!(matches!(g.phase, Phase::Joining(_)));
        assert_eq!(g.check("a", 1), Err(K::RebalanceInProgress));
        t.join("g", join("a"), now).unwrap();
        let g = &t.groups["g"];
        assert_eq!((g.generation, g.members.len()), (2, 2));
        assert_eq!(g.check("a", 1), Err(K::IllegalGeneration));

        // B leaves; A alone completes the next round when it joins.
        let g = t.groups.get_mut("g").unwrap();
        assert!(g.leave("b", now));
        t.join("g", join("a"), now).unwrap();
        assert_eq!(t.groups["g"].generation, 3);
    }

    #[test]
    fn silent_members_expire_and_missing_joiners_are_dropped_at_the_deadline() {
        let (mut t, now) = (Table::default(), Instant::now());
        t.join("g", join("a"), now).unwrap();
        t.join("g", join("b"), now).unwrap();
        // A never joins again: at B's rebalance deadline the round completes without it.
        let later = now + Duration::from_secs(31);
        let g = t.groups.get_mut("g").unwrap();
        assert!(g.try_complete(later));
        assert_eq!(g.members.keys().collect::<Vec<_>>(), ["b"]);
        // B goes silent past its session: the group empties.
        g.phase = Phase::Stable;
        g.expire(later + Duration::from_secs(11));
        assert!(g.members.is_empty());
        assert_eq!(g.phase, Phase::Empty);
    }
}
