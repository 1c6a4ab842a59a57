//! What each broker hosts, as the write manager pieced it together from its heartbeats.
//!
//! Brokers send a full report (every hosted group) now and then and otherwise only what
//! changed since the last report the manager acknowledged (see
//! [`raftbus_protocol::meta::BrokerHeartbeat`]). The manager merges each incremental report
//! into the broker's last picture, so every decision (leader changes, move completion,
//! replicas to drop) sees every hosted group, exactly as with a full report every time.
//!
//! A picture is only merged onto the very report it was built from: same session (broker
//! run) and `base` equal to the last merged report number. Anything else (no picture after
//! becoming write manager, a broker restart, a reply lost after the manager merged) drops the
//! picture and asks for a full report. Memory only, like liveness: reset on becoming write
//! manager.

use std::collections::HashMap;
use std::sync::Mutex;

use raftbus_protocol::meta::{BrokerHeartbeat, HostedGroup};
use uuid::Uuid;

/// One broker's picture.
struct Picture {
    /// The broker run it belongs to (`None`: a broker that predates incremental reports).
    session: Option<Uuid>,
    /// Number of the last report merged into it.
    seq: u64,
    /// Every hosted group as last reported.
    groups: HashMap<Uuid, HostedGroup>,
}

/// Every broker's picture; lock held only for map operations.
#[derive(Default)]
pub struct Reports {
    inner: Mutex<HashMap<u64, Picture>>,
}

impl Reports {
    /// Forgets every picture (on becoming write manager: another manager may have merged
    /// reports meanwhile, and liveness starts over too).
    pub fn reset(&self) {
        self.inner.lock().expect("reports lock").clear();
    }

    /// Merges `hb` into its broker's picture and returns every group the broker hosts, or
    /// `None` when the report cannot be merged: then only `hb.groups` are known and the broker
    /// must send a full report next.
    pub fn merge(&self, hb: &BrokerHeartbeat) -> Option<Vec<HostedGroup>> {
        let mut all = self.inner.lock().expect("reports lock");
        let id = hb.broker.id;
        if hb.full {
            let groups = hb.groups.iter().map(|g| (g.group_id, g.clone())).collect();
            all.insert(
                id,
                Picture {
                    session: hb.session,
                    seq: hb.seq,
                    groups,
                },
            );
            return Some(hb.groups.clone());
        }
        let p = all
            .get_mut(&id)
            .filter(|p| hb.session.is_some() && p.session == hb.session && p.seq == hb.base);
        let Some(p) = p else {
            all.remove(&id);
            return None;
        };
        for g in &hb.groups {
            p.groups.insert(g.group_id, g.clone());
        }
        for d in &hb.dropped {
            p.groups.remove(d);
        }
        p.seq = hb.seq;
        if hb.hosted.is_some_and(|n| n != p.groups.len() as u64) {
            tracing::warn!(
                broker = id,
                hosted = ?hb.hosted,
                merged = p.groups.len(),
                "merged heartbeat picture disagrees with the broker's count; asking for a full report"
            );
            all.remove(&id);
            return None;
        }
        Some(p.groups.values().cloned().collect())
    }

    /// Number of groups in a broker's picture (`None`: no picture; a full report is due).
    pub fn hosted(&self, broker: u64) -> Option<usize> {
        let all = self.inner.lock().expect("reports lock");
        all.get(&broker).map(|p| p.groups.len())
    }
}

#[cfg(test)]
mod tests;
