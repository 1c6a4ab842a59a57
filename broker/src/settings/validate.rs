//! Start-up validation of [`Settings`]: everything the types cannot express. Each error names
//! the dotted key to fix, so a misconfigured node says what is wrong before it binds anything.

use std::net::SocketAddr;

use raftbus_node::settings::NodeConfig;

use super::Settings;
use crate::error::BrokerError;

/// True for `host:port` with a non-empty host name or address (IPv6 in brackets) and a
/// non-zero port: what peers, managers and clients put in URLs.
pub(super) fn is_host_port(s: &str) -> bool {
    let Some((host, port)) = s.rsplit_once(':') else {
        return false;
    };
    let host = match host.strip_prefix('[') {
        Some(v6) => match v6.strip_suffix(']') {
            Some(v6) => return v6.parse::<std::net::Ipv6Addr>().is_ok() && valid_port(port),
            None => return false,
        },
        None => host,
    };
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        && valid_port(port)
}

fn valid_port(port: &str) -> bool {
    port.parse::<u16>().is_ok_and(|p| p != 0)
}

fn bad(key: &str, reason: String) -> Result<(), BrokerError> {
    Err(BrokerError::InvalidConfig {
        key: key.into(),
        reason,
    })
}

impl NodeConfig for Settings {
    /// Checks values the types cannot express.
    fn validate(&self) -> Result<(), BrokerError> {
        self.node.check()?;
        let listen = self.server.listen.check()?;
        self.validate_advertised(listen)?;
        self.database.check()?;
        let r = &self.raft;
        r.timing.check()?;
        if r.quiesce_ms > 0 && r.peer_timeout_ms < 2 * r.quiesce_ms {
            return bad(
                "raft.peer_timeout_ms",
                format!(
                    "must be at least twice raft.quiesce_ms ({}), or a peer looks dead between two queries",
                    r.quiesce_ms
                ),
            );
        }
        if !(1..=64).contains(&r.max_proposals_in_flight) {
            return bad(
                "raft.max_proposals_in_flight",
                format!("must be 1..=64, got {}", r.max_proposals_in_flight),
            );
        }
        if r.snapshot_every_entries == 0 {
            return bad(
                "raft.snapshot_every_entries",
                "must be positive (a log that is never snapshotted is never purged)".into(),
            );
        }
        self.retention.validate()?;
        self.producers.validate()?;
        self.kafka.validate()?;
        self.storage.validate()?;
        self.peers.validate(r.timing.heartbeat_ms)?;
        // Bodies of Raft RPCs are bounded (`raftbus_raft::server::RPC_BODY_LIMIT`): an append
        // carries one entry of up to a batch, and a snapshot frame up to a budget plus a batch.
        if !(1024..=16 << 20).contains(&self.limits.max_batch_bytes) {
            return bad(
                "limits.max_batch_bytes",
                "must be between 1024 and 16777216 (16 MiB)".into(),
            );
        }
        if self.limits.max_queued_bytes < self.limits.max_batch_bytes {
            return bad(
                "limits.max_queued_bytes",
                "must be at least limits.max_batch_bytes (a lone batch must fit)".into(),
            );
        }
        if self.limits.max_long_polls == 0 || self.server.max_connections == 0 {
            return bad(
                "limits.max_long_polls",
                "limits.max_long_polls and server.max_connections must be positive".into(),
            );
        }
        if !(64 << 10..=32 << 20).contains(&r.snapshot_frame_bytes) {
            return bad(
                "raft.snapshot_frame_bytes",
                "must be between 65536 (64 KiB) and 33554432 (32 MiB)".into(),
            );
        }
        for m in self.manager.addrs() {
            if !is_host_port(&m) {
                return bad(
                    "manager.bootstrap",
                    format!("{m:?} is not a host:port address (list them comma-separated)"),
                );
            }
        }
        if self.manager.heartbeat_ms == 0 {
            return bad("manager.heartbeat_ms", "must be positive".into());
        }
        Ok(())
    }
}

impl Settings {
    /// What the broker advertises must be reachable by others, so a wildcard listen address
    /// (`listen`: the parsed `[api, raft]` addresses) needs an explicit advertised one.
    fn validate_advertised(&self, [api, raft]: [SocketAddr; 2]) -> Result<(), BrokerError> {
        let s = &self.server;
        let pairs = [
            (
                "server.api_addr",
                api,
                "server.advertised_api_addr",
                &s.advertised_api_addr,
            ),
            (
                "server.raft_addr",
                raft,
                "server.advertised_raft_addr",
                &s.advertised_raft_addr,
            ),
        ];
        for (key, addr, adv_key, advertised) in pairs {
            match advertised {
                Some(a) if !is_host_port(a) => {
                    return bad(adv_key, format!("{a:?} is not a host:port address"));
                }
                Some(a)
                    if a.parse::<SocketAddr>()
                        .is_ok_and(|a| a.ip().is_unspecified()) =>
                {
                    return bad(
                        adv_key,
                        format!("{a:?} is a wildcard address; advertise one others can reach"),
                    );
                }
                Some(_) => {}
                None if addr.ip().is_unspecified() => {
                    return bad(
                        adv_key,
                        format!(
                            "must be set when {key} listens on the wildcard {addr}: \
                             others cannot connect there"
                        ),
                    );
                }
                None => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::settings::Args;

    fn load(args: Args, pairs: &[(&str, &str)]) -> Result<Settings, String> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut args = args;
        args.node.node_id = Some(1);
        Settings::load_from(&args, Some(env)).map_err(|e| e.to_string())
    }

    #[test]
    fn heartbeat_suppression_is_on_and_raft_accepts_it_for_every_accepted_timing() {
        let s = load(Args::default(), &[]).unwrap();
        assert_eq!(s.raft_config().unwrap().heartbeat_min_interval, Some(300));
        for (hb, min) in [
            (300, 600),
            (300, 700),
            (40, 80),
            (1000, 2000),
            (45, 91),
            (333, 667),
        ] {
            let (hb, max, min) = (hb.to_string(), (min + 1).to_string(), min.to_string());
            let env = [
                ("RAFTBUS_RAFT__HEARTBEAT_MS", hb.as_str()),
                ("RAFTBUS_RAFT__ELECTION_MIN_MS", min.as_str()),
                ("RAFTBUS_RAFT__ELECTION_MAX_MS", max.as_str()),
            ];
            let c = load(Args::default(), &env).unwrap().raft_config();
            let c = c.unwrap_or_else(|e| panic!("{env:?}: {e}"));
            assert!(c.heartbeat_min_interval.unwrap() <= c.heartbeat_interval);
        }
    }

    #[test]
    fn retention_and_compaction_settings_reach_raft_and_are_checked() {
        let s = load(
            Args::default(),
            &[
                ("RAFTBUS_RETENTION__INTERVAL_MS", "250"),
                ("RAFTBUS_RAFT__SNAPSHOT_EVERY_ENTRIES", "200"),
                ("RAFTBUS_RAFT__KEEP_AFTER_SNAPSHOT", "50"),
            ],
        )
        .unwrap();
        assert_eq!(s.retention.interval_ms, 250);
        let c = s.raft_config().unwrap();
        assert_eq!(c.max_in_snapshot_log_to_keep, 50);
        assert_eq!(
            c.snapshot_policy,
            crate::raft::SnapshotPolicy::LogsSinceLast(200)
        );
        let e = load(Args::default(), &[("RAFTBUS_RETENTION__INTERVAL_MS", "5")]).unwrap_err();
        assert!(e.contains("retention.interval_ms"), "{e}");
        let s = load(Args::default(), &[]).unwrap();
        assert_eq!(s.producers.expiry_ms, 604_800_000, "7 days by default");
        let s = load(Args::default(), &[("RAFTBUS_PRODUCERS__EXPIRY_MS", "2000")]).unwrap();
        assert_eq!(s.producers.expiry_ms, 2_000);
        let e = load(Args::default(), &[("RAFTBUS_PRODUCERS__EXPIRY_MS", "10")]).unwrap_err();
        assert!(e.contains("producers.expiry_ms"), "{e}");
        let e = load(Args::default(), &[("RAFTBUS_PRODUCERS__INTERVAL_MS", "5")]).unwrap_err();
        assert!(e.contains("producers.interval_ms"), "{e}");
        let e = load(
            Args::default(),
            &[("RAFTBUS_RAFT__SNAPSHOT_EVERY_ENTRIES", "0")],
        )
        .unwrap_err();
        assert!(e.contains("raft.snapshot_every_entries"), "{e}");
    }

    #[test]
    fn host_port_syntax() {
        for ok in ["a:1", "broker-1.local:9091", "10.0.0.5:80", "[::1]:9091"] {
            assert!(is_host_port(ok), "{ok}");
        }
        for bad in [
            "", "a", ":1", "a:", "a:0", "a:99999", "::1:9", "[::1:9", "a b:1", "a/b:1",
        ] {
            assert!(!is_host_port(bad), "{bad}");
        }
    }

    #[test]
    fn managers_flag_beats_env_and_defaults_apply() {
        let s = load(Args::default(), &[]).unwrap();
        assert!(s.manager.addrs().is_empty(), "no managers by default");
        assert_eq!(s.manager.heartbeat_ms, 1_000);
        assert_eq!(s.server.advertised_api(), s.server.listen.api_addr);
        assert_eq!(s.server.advertised_raft(), s.server.listen.raft_addr);
        let args = Args {
            managers: Some("m1:7000, m2:7000,".into()),
            ..Default::default()
        };
        let s = load(
            args,
            &[
                ("RAFTBUS_MANAGER__BOOTSTRAP", "x:1"),
                ("RAFTBUS_MANAGER__HEARTBEAT_MS", "250"),
            ],
        )
        .unwrap();
        assert_eq!(s.manager.addrs(), vec!["m1:7000", "m2:7000"]);
        assert_eq!(s.manager.heartbeat_ms, 250);
        let err = load(
            Args {
                managers: Some("m1".into()),
                ..Default::default()
            },
            &[],
        )
        .unwrap_err();
        assert!(err.contains("manager.bootstrap"), "{err}");
    }

    #[test]
    fn wildcard_listen_needs_an_advertised_address() {
        let wildcard = || {
            let mut args = Args::default();
            args.node.api_addr = Some("0.0.0.0:9091".into());
            args
        };
        let err = load(wildcard(), &[]).unwrap_err();
        assert!(err.contains("server.advertised_api_addr"), "{err}");
        let s = load(
            wildcard(),
            &[("RAFTBUS_SERVER__ADVERTISED_API_ADDR", "10.1.2.3:9091")],
        )
        .unwrap();
        assert_eq!(s.server.advertised_api(), "10.1.2.3:9091");
        let err = load(
            Args::default(),
            &[("RAFTBUS_SERVER__ADVERTISED_RAFT_ADDR", "nohost")],
        )
        .unwrap_err();
        assert!(err.contains("server.advertised_raft_addr"), "{err}");
        let err = load(
            wildcard(),
            &[("RAFTBUS_SERVER__ADVERTISED_API_ADDR", "0.0.0.0:9091")],
        )
        .unwrap_err();
        assert!(err.contains("wildcard"), "{err}");
    }
}
