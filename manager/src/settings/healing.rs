//! `[healing]`: replica healing, rebalance and leadership balance.

use serde::{Deserialize, Serialize};

/// `[healing]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct HealingSettings {
    /// A broker silent this long has its replicas moved to live brokers. Long enough that a
    /// restart or a short outage costs no data copy.
    pub grace_ms: u64,
    /// Most replica moves in progress at once, over the whole cluster: the throttle that keeps
    /// catch-up traffic from starving live traffic.
    pub max_moves: usize,
    /// How often the heal and balance loops look for work.
    pub interval_ms: u64,
    /// Rebalance by itself whenever replicas are uneven (e.g. a broker joined); off by
    /// default, `manager partition rebalance` asks for one.
    pub auto_rebalance: bool,
    /// A preferred leader (first replica) gets leadership back after it has been up this long;
    /// 0 turns leadership balance off.
    pub leader_balance_after_ms: u64,
}

impl Default for HealingSettings {
    fn default() -> Self {
        Self {
            grace_ms: 300_000,
            max_moves: 2,
            interval_ms: 1_000,
            auto_rebalance: false,
            leader_balance_after_ms: 10_000,
        }
    }
}

impl HealingSettings {
    /// `(key, reason)` of the first bad value.
    pub fn check(&self) -> Option<(&'static str, String)> {
        if self.max_moves == 0 {
            return Some(("healing.max_moves", "must be at least 1".into()));
        }
        if self.interval_ms == 0 {
            return Some(("healing.interval_ms", "must be positive".into()));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::settings::{ServeArgs, Settings};

    fn load(pairs: &[(&str, &str)]) -> Result<Settings, String> {
        let mut args = ServeArgs {
            peers: Some("1/a:1/a:2".into()),
            ..Default::default()
        };
        args.node.node_id = Some(1);
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load_from(&args, Some(env)).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_env_and_bad_values_name_the_key() {
        let s = load(&[]).unwrap().healing;
        assert_eq!(
            (s.grace_ms, s.max_moves, s.auto_rebalance),
            (300_000, 2, false)
        );
        let s = load(&[("RAFTBUS_HEALING__GRACE_MS", "4000")]).unwrap();
        assert_eq!(s.healing.grace_ms, 4_000);
        let e = load(&[("RAFTBUS_HEALING__MAX_MOVES", "0")]).unwrap_err();
        assert!(e.contains("healing.max_moves"), "{e}");
    }
}
