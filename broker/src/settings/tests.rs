//! Layering and key errors of the broker settings.

use super::*;

use raftbus_node::settings::env_of as env;

#[test]
fn layers_env_then_flags() {
    let args = Args {
        node: NodeArgs {
            node_id: Some(7),
            ..Default::default()
        },
        ..Default::default()
    };
    let s = Settings::load_from(
        &args,
        env(&[
            ("RAFTBUS_NODE__ID", "3"),
            ("RAFTBUS_RAFT__HEARTBEAT_MS", "400"),
            ("RAFTBUS_BOOTSTRAP", "x"),
        ]),
    )
    .unwrap();
    assert_eq!(s.node.id, 7, "flags beat the environment");
    assert_eq!(s.raft.timing.heartbeat_ms, 400);
    assert!(!s.unsafe_opts.skip_dedup, "unsafe switches default to off");
}

#[test]
fn unsafe_skip_dedup_comes_from_the_environment() {
    let args = Args {
        node: NodeArgs {
            node_id: Some(1),
            ..Default::default()
        },
        ..Default::default()
    };
    let s = Settings::load_from(&args, env(&[("RAFTBUS_UNSAFE__SKIP_DEDUP", "true")])).unwrap();
    assert!(s.unsafe_opts.skip_dedup);
    let s = Settings::load_from(&args, env(&[("RAFTBUS_UNSAFE__SKIP_DEDUP", "false")])).unwrap();
    assert!(!s.unsafe_opts.skip_dedup);
    let err = Settings::load_from(&args, env(&[("RAFTBUS_UNSAFE__BOGUS", "1")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("bogus"), "{err}");
}

#[test]
fn errors_name_the_key() {
    let err = Settings::load_from(&Args::default(), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("node.id"), "{err}");
    let args = Args {
        node: NodeArgs {
            node_id: Some(1),
            api_addr: Some("nowhere".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let err = Settings::load_from(&args, env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("server.api_addr"), "{err}");
    let err = Settings::load_from(
        &Args {
            node: NodeArgs {
                node_id: Some(1),
                ..Default::default()
            },
            ..Default::default()
        },
        env(&[("RAFTBUS_RAFT__BOGUS", "1")]),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("bogus"), "{err}");
}
