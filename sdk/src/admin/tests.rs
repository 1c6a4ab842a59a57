//! Bootstrap parsing and endpoint building of the admin client.

use super::*;

fn rejected(s: &str) -> String {
    match parse_bootstrap(s) {
        Err(SdkError::InvalidArgument(m)) => m,
        other => panic!("{s:?} should be rejected, got {other:?}"),
    }
}

#[test]
fn bootstrap_accepts_host_port_and_http() {
    let ok = |s: &str| parse_bootstrap(s).unwrap();
    assert_eq!(ok("127.0.0.1:9000"), ["127.0.0.1:9000"]);
    assert_eq!(
        ok(" http://a:1/ , HTTP://b.c:2,d:3,"),
        ["a:1", "b.c:2", "d:3"]
    );
    assert_eq!(ok("[::1]:80"), ["[::1]:80"]);
}

#[test]
fn bootstrap_rejects_bad_entries_naming_them() {
    assert!(rejected("").contains("no manager address"));
    assert!(rejected(" , ").contains("no manager address"));
    assert!(rejected("a:1,https://b:0").contains("https://b:0"));
    assert!(rejected("ftp://a:1").contains("only http:// and https://"));
    for bad in [
        "x",
        ":80",
        "a:",
        "a:0",
        "a:99999",
        "a:+1",
        "a b:1",
        "http://a:1/x",
        "::1:8",
    ] {
        assert!(rejected(bad).contains(bad), "{bad}");
    }
}

#[test]
fn endpoint_encodes_names() {
    let u = endpoint("http", "a:1", routes::CONSUMER, &["g/1", "x y"]).unwrap();
    assert_eq!(u.as_str(), "http://a:1/v1/consumers/g%2F1/x%20y");
}

#[tokio::test]
async fn bad_names_fail_without_network_and_all_down_gives_last_error() {
    let admin = Admin::new("127.0.0.1:1,127.0.0.1:2").unwrap();
    for name in ["", ".", ".."] {
        let err = admin.describe_topic(name).await.unwrap_err();
        assert!(matches!(err, SdkError::InvalidArgument(_)), "{err:?}");
    }
    match admin.list_topics().await {
        Err(SdkError::Transport { addr, .. }) => assert_eq!(addr, "127.0.0.1:2"),
        other => panic!("{other:?}"),
    }
}
