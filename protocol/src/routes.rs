//! Every HTTP route of the brokers and managers, in one place: the patterns servers register
//! handlers under and the path builders callers send to, so the two cannot drift apart.
//!
//! A builder fills its pattern's `{placeholders}` in order with percent-encoded segments
//! ([`fill`]); topic and group names are `[A-Za-z0-9._-]` (`names::validate_name`), so a valid
//! name is sent as written.

/// `GET`: liveness of a node (broker and manager).
pub const HEALTH: &str = "/health";
/// `GET`: Prometheus metrics (broker and manager).
pub const METRICS: &str = "/metrics";

/// Broker `GET`: status of every hosted replica.
pub const PARTITIONS: &str = "/v1/partitions";
/// Broker `GET`: which groups this broker leads (peers' quiesce loops, internal listener too).
pub const NODE_LEADERSHIP: &str = "/v1/node/leadership";
/// Broker `GET`: one replica's status; `PUT` (internal): host a replica.
pub const PARTITION: &str = "/v1/partitions/{topic}/{partition}";
/// Broker `POST`: produce one batch; `GET`: fetch.
pub const PARTITION_RECORDS: &str = "/v1/partitions/{topic}/{partition}/records";
/// Broker `POST`: commit a group's offset; `GET`: read it.
pub const PARTITION_OFFSETS: &str = "/v1/partitions/{topic}/{partition}/offsets/{group}";
/// Broker `POST` (internal, managers only): fence or drop a consumer group.
pub const PARTITION_FENCE: &str = "/v1/partitions/{topic}/{partition}/offsets/{group}/fence";

/// Manager `GET`: the status page.
pub const INDEX: &str = "/";
/// Manager `POST` (internal, brokers only): a broker heartbeat.
pub const BROKER_HEARTBEAT: &str = "/v1/heartbeat/broker";
/// Manager `GET`: every manager with its role.
pub const MANAGERS: &str = "/v1/managers";
/// Manager `GET`: every known broker.
pub const BROKERS: &str = "/v1/brokers";
/// Manager `GET`: list topics; `POST`: create one.
pub const TOPICS: &str = "/v1/topics";
/// Manager `GET`: describe a topic; `PATCH`: alter its retention; `DELETE`: delete it.
pub const TOPIC: &str = "/v1/topics/{name}";
/// Manager `GET`: a topic's partitions.
pub const TOPIC_PARTITIONS: &str = "/v1/topics/{name}/partitions";
/// Manager `POST`: move a partition to another replica set.
pub const PARTITION_REASSIGN: &str = "/v1/topics/{topic}/partitions/{partition}/reassign";
/// Manager `POST`: even out replicas and leaders.
pub const REBALANCE: &str = "/v1/rebalance";
/// Manager `GET`: a topic's routes for clients.
pub const METADATA: &str = "/v1/metadata/{topic}";
/// Manager `POST`: JSON produce, relayed to the partition leader.
pub const TOPIC_RECORDS: &str = "/v1/topics/{topic}/records";
/// Manager `GET`: JSON fetch, relayed to the partition leader.
pub const TOPIC_PARTITION_RECORDS: &str = "/v1/topics/{topic}/partitions/{partition}/records";
/// Manager `POST`: register a producer.
pub const PRODUCERS: &str = "/v1/producers";
/// Manager `POST`: a producer heartbeat.
pub const PRODUCER_HEARTBEAT: &str = "/v1/heartbeat/producer";
/// Manager `POST`: join a consumer group.
pub const CONSUMERS: &str = "/v1/consumers";
/// Manager `POST`: a consumer heartbeat.
pub const CONSUMER_HEARTBEAT: &str = "/v1/heartbeat/consumer";
/// Manager `DELETE`: leave a consumer group.
pub const CONSUMER: &str = "/v1/consumers/{group}/{consumer}";
/// Manager `GET`: list users; `POST`: add one.
pub const USERS: &str = "/v1/users";
/// Manager `DELETE`: remove a user.
pub const USER: &str = "/v1/users/{name}";
/// Manager `GET`: list ACL rules; `POST`: add one; `DELETE`: remove one.
pub const ACLS: &str = "/v1/acls";
/// Manager `GET`: list consumer groups.
pub const GROUPS: &str = "/v1/groups";
/// Manager `GET`: describe a consumer group.
pub const GROUP: &str = "/v1/groups/{name}";

/// `pattern` with its `{placeholders}` replaced, in order, by `segments`, each
/// percent-encoded as one path segment (`/`, `%`, `?`, `#`, spaces, controls, non-ASCII and
/// the other characters URLs do not allow raw in a path segment). Placeholders without a
/// segment are left out.
pub fn fill(pattern: &str, segments: &[&str]) -> String {
    debug_assert_eq!(pattern.matches('{').count(), segments.len(), "{pattern}");
    let mut out = String::with_capacity(pattern.len() + 16 * segments.len());
    let mut segments = segments.iter();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        if let Some(s) = segments.next() {
            encode_segment(s, &mut out);
        }
        rest = rest[open..]
            .find('}')
            .map_or("", |close| &rest[open + close + 1..]);
    }
    out.push_str(rest);
    out
}

/// Appends `s` percent-encoded with the path-segment set of the WHATWG URL standard (as the
/// `url` crate's `path_segments_mut` does for `http`), so builders match what the sdk sent
/// before they existed.
fn encode_segment(s: &str, out: &mut String) {
    for b in s.bytes() {
        let raw = b.is_ascii_graphic() && !br##""#<>?`{}/%\"##.contains(&b);
        if raw {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// [`PARTITION`] of `topic/partition`.
pub fn partition(topic: &str, partition: u32) -> String {
    fill(PARTITION, &[topic, &partition.to_string()])
}

/// [`PARTITION_RECORDS`] of `topic/partition`.
pub fn partition_records(topic: &str, partition: u32) -> String {
    fill(PARTITION_RECORDS, &[topic, &partition.to_string()])
}

/// [`PARTITION_OFFSETS`] of `group` on `topic/partition`.
pub fn partition_offsets(topic: &str, partition: u32, group: &str) -> String {
    fill(PARTITION_OFFSETS, &[topic, &partition.to_string(), group])
}

/// [`PARTITION_FENCE`] of `group` on `topic/partition`.
pub fn partition_fence(topic: &str, partition: u32, group: &str) -> String {
    fill(PARTITION_FENCE, &[topic, &partition.to_string(), group])
}

/// [`TOPIC`] of `name`.
pub fn topic(name: &str) -> String {
    fill(TOPIC, &[name])
}

/// [`TOPIC_PARTITIONS`] of `name`.
pub fn topic_partitions(name: &str) -> String {
    fill(TOPIC_PARTITIONS, &[name])
}

/// [`PARTITION_REASSIGN`] of `topic/partition`.
pub fn partition_reassign(topic: &str, partition: u32) -> String {
    fill(PARTITION_REASSIGN, &[topic, &partition.to_string()])
}

/// [`METADATA`] of `topic`.
pub fn metadata(topic: &str) -> String {
    fill(METADATA, &[topic])
}

/// [`TOPIC_RECORDS`] of `topic`.
pub fn topic_records(topic: &str) -> String {
    fill(TOPIC_RECORDS, &[topic])
}

/// [`TOPIC_PARTITION_RECORDS`] of `topic/partition`.
pub fn topic_partition_records(topic: &str, partition: u32) -> String {
    fill(TOPIC_PARTITION_RECORDS, &[topic, &partition.to_string()])
}

/// [`CONSUMER`] of `consumer` in `group`.
pub fn consumer(group: &str, consumer: &str) -> String {
    fill(CONSUMER, &[group, consumer])
}

/// [`USER`] of `name`.
pub fn user(name: &str) -> String {
    fill(USER, &[name])
}

/// [`GROUP`] of `name`.
pub fn group(name: &str) -> String {
    fill(GROUP, &[name])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_fill_patterns() {
        assert_eq!(partition_records("t", 3), "/v1/partitions/t/3/records");
        assert_eq!(
            partition_fence("t.x", 0, "g_1-2"),
            "/v1/partitions/t.x/0/offsets/g_1-2/fence"
        );
        assert_eq!(
            partition_reassign("r", 9),
            "/v1/topics/r/partitions/9/reassign"
        );
        assert_eq!(fill(TOPICS, &[]), TOPICS);
    }

    #[test]
    fn segments_are_encoded_like_url_path_segments() {
        assert_eq!(consumer("g/1", "x y"), "/v1/consumers/g%2F1/x%20y");
        assert_eq!(topic("a?b#c%d"), "/v1/topics/a%3Fb%23c%25d");
        assert_eq!(user("é"), "/v1/users/%C3%A9");
        assert_eq!(user("a:b@c!$&'()*+,;="), "/v1/users/a:b@c!$&'()*+,;=");
    }
}
