//! Record headers in one record space (issue 14): kcat produces records with `-H` headers
//! (and some without), the `producer` CLI sends records with `--header`, and then kcat and the
//! `consumer` CLI read the whole topic alike: same offsets, timestamps, headers, keys and
//! values; the HTTP JSON fetch shows the same headers and JSON produce stores new ones. A
//! malformed `--header` is refused with a message naming the syntax.

use std::collections::BTreeSet;

use raftbus_protocol::routes;
use raftbus_tests::{bin_path, kafka};

use super::t110_kafka::{kcat_args, printed_offsets, run, words};

/// One record as both readers print it: partition, offset, timestamp, headers, key, value.
type Line = (u32, u64, u64, Vec<(String, String)>, String, String);

/// Parses `partition \t offset \t timestamp \t headers \t key \t value` lines, the headers
/// being `name<sep>value` pairs joined by `,` (`none` printed when there are none).
fn parse(out: &str, sep: char, none: &str) -> Vec<Line> {
    out.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.splitn(6, '\t').collect();
            assert_eq!(f.len(), 6, "{l:?}");
            let headers = match f[3] {
                h if h == none => Vec::new(),
                h => h
                    .split(',')
                    .map(|kv| {
                        let (k, v) = kv.split_once(sep).unwrap_or_else(|| panic!("{l:?}"));
                        (k.to_string(), v.to_string())
                    })
                    .collect(),
            };
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                headers,
                f[4].into(),
                f[5].into(),
            )
        })
        .collect()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn t113_headers_cross_kafka_and_the_cli() {
    let kcat = kafka::kcat().expect("kcat is needed (Debian package kcat)");
    let (c, _) = kafka::cluster_with_topic(3, "kh", 2).await.unwrap();
    let bs = c.kafka_bootstrap();
    let env = raftbus_tests::pki::client_env();
    let cli = |bin: &str| bin_path(bin).unwrap();

    // 1. kcat: ten records with two headers (one with an empty value), five without.
    let with: String = (0..10).map(|i| format!("k{i}:v{i}\n")).collect();
    let args = kcat_args(
        &bs,
        &["-P", "-t", "kh", "-K:", "-H", "trace=t-1", "-H", "empty="],
    );
    let (ok, _, err) = run(&kcat, &args, &[], &with).await;
    assert!(ok, "kcat -P -H failed: {err}\n{}", c.logs(30));
    let without: String = (10..15).map(|i| format!("k{i}:v{i}\n")).collect();
    let args = kcat_args(&bs, &["-P", "-t", "kh", "-K:"]);
    let (ok, _, err) = run(&kcat, &args, &[], &without).await;
    assert!(ok, "kcat -P failed: {err}");

    // 2. The producer CLI: five records with two headers (a value holding `=`).
    let args = words(&format!(
        "--bootstrap {} --topic kh --key-separator : --print-offsets \
         --header app=cli --header note=a=b",
        c.bootstrap()
    ));
    let lines: String = (0..5).map(|i| format!("x{i}:w{i}\n")).collect();
    let (ok, out, err) = run(&cli("producer"), &args, &env, &lines).await;
    assert!(ok, "producer --header failed: {err}");
    let acked = printed_offsets(&out);
    assert_eq!(acked.len(), 5, "{out}");

    // 3. Both read everything; they agree on every field.
    let fmt = "%p\t%o\t%T\t%h\t%k\t%s\n";
    let args = kcat_args(&bs, &["-C", "-t", "kh", "-e", "-o", "beginning", "-f", fmt]);
    let (ok, out, err) = run(&kcat, &args, &[], "").await;
    assert!(ok, "kcat -C failed: {err}");
    let by_kcat: BTreeSet<Line> = parse(&out, '=', "").into_iter().collect();
    let args = words(&format!(
        "--bootstrap {} --topic kh --from-beginning --max-messages 20 --timeout-ms 20000 \
         --print-offset --print-timestamp --print-headers --print-key",
        c.bootstrap()
    ));
    let (ok, out, err) = run(&cli("consumer"), &args, &env, "").await;
    assert!(ok, "consumer failed: {err}");
    let by_cli: BTreeSet<Line> = parse(&out, ':', "NO_HEADERS").into_iter().collect();
    assert_eq!(by_kcat.len(), 20, "kcat read {by_kcat:?}");
    assert_eq!(by_cli, by_kcat, "the consumer CLI and kcat disagree");

    // 4. And what they agree on is what was sent.
    let kcat_headers = pairs(&[("trace", "t-1"), ("empty", "")]);
    let cli_headers = pairs(&[("app", "cli"), ("note", "a=b")]);
    for (p, o, ts, headers, key, value) in &by_cli {
        assert!(*ts > 1_600_000_000_000, "{value}: timestamp {ts}");
        let i: usize = value[1..].parse().unwrap();
        match &value[..1] {
            "v" if i < 10 => assert_eq!(headers, &kcat_headers, "{value}"),
            "v" => assert!(headers.is_empty(), "{value}: {headers:?}"),
            _ => {
                assert_eq!(headers, &cli_headers, "{value}");
                assert_eq!((*p, *o), acked[i], "{value} at the offset printed");
            }
        }
        assert_eq!(key[1..], value[1..], "{key} -> {value}");
    }

    // 5. The HTTP JSON API (through a manager) shows those headers and takes new ones.
    let http = raftbus_tests::pki::client();
    let manager = c.bootstrap().split(',').next().unwrap().to_string();
    let fetch_json = |p: u32, o: u64| {
        let path = routes::topic_partition_records("kh", p);
        let get = http.get(raftbus_tests::pki::url(&manager, &path));
        async move {
            let r = get.query(&[("offset", o)]).send().await.unwrap();
            assert!(r.status().is_success(), "GET {p}/{o}: {}", r.status());
            let v: serde_json::Value = r.json().await.unwrap();
            v["records"][0].clone()
        }
    };
    for (p, o, _, headers, _, value) in &by_cli {
        let got = fetch_json(*p, *o).await;
        assert_eq!(got["value"], value.as_str());
        let want: Vec<serde_json::Value> = headers
            .iter()
            .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
            .collect();
        if want.is_empty() {
            assert!(got.get("headers").is_none(), "{value}: {got}");
        } else {
            assert_eq!(got["headers"], serde_json::Value::from(want), "{value}");
        }
    }
    let sent = serde_json::json!([{"key": "h", "value": "v"}, {"key": "n", "value": null}]);
    let body = serde_json::json!({"records": [{"key": "j", "value": "json", "headers": sent}]});
    let path = format!("{}?partition=1", routes::topic_records("kh"));
    let r = http
        .post(raftbus_tests::pki::url(&manager, &path))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "JSON produce: {}", r.status());
    let produced: serde_json::Value = r.json().await.unwrap();
    let offset = produced["base_offset"].as_u64().unwrap();
    assert_eq!(fetch_json(1, offset).await["headers"], sent);

    // 6. A malformed --header is refused before anything is sent.
    let args = words(&format!(
        "--bootstrap {} --topic kh --value nope --header nameonly",
        c.bootstrap()
    ));
    let (ok, _, err) = run(&cli("producer"), &args, &env, "").await;
    assert!(!ok, "producer accepted --header nameonly");
    assert!(
        err.contains("NAME=VALUE") && err.contains("nameonly"),
        "{err}"
    );
}
