//! `manager topic create|list|describe|delete`.

use std::time::Duration;

use raftbus_sdk::protocol::meta::{CreateTopicRequest, PartitionInfo, TopicInfo};
use raftbus_sdk::protocol::retention::{RetentionSpec, UNLIMITED};
use raftbus_sdk::{Admin, SdkError};

use super::{Table, broker_name, join_or_dash, yes_no};

/// Topic operations.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum TopicCmd {
    /// Create a topic and (by default) wait until every partition has a leader.
    Create {
        /// Topic name: 1 to 249 of `A-Z a-z 0-9 . _ -`.
        name: String,
        /// Number of partitions.
        #[arg(long, short = 'p', default_value_t = 3)]
        partitions: u32,
        /// Replicas per partition (at most the number of live brokers).
        #[arg(long, short = 'r', default_value_t = 3)]
        replication_factor: u32,
        /// How long to wait for leaders to be elected, in ms; 0 = return at once.
        #[arg(long, default_value_t = 10_000)]
        wait_ms: u64,
        /// Retention (default: the cluster's).
        #[command(flatten)]
        retention: RetentionArgs,
    },
    /// Change a topic's retention; flags left out keep their value.
    Alter {
        /// Topic name.
        name: String,
        /// New retention.
        #[command(flatten)]
        retention: RetentionArgs,
    },
    /// List every topic.
    List,
    /// Show a topic's retention and partitions: leader, replicas, learners, log start and end
    /// offsets, Raft group.
    Describe {
        /// Topic name.
        name: String,
    },
    /// Delete a topic and all its data.
    Delete {
        /// Topic name.
        name: String,
    },
}

/// `--retention-ms` and `--retention-bytes`: a positive number, or `-1` / `unlimited`.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct RetentionArgs {
    /// Delete batches older than this many ms (`unlimited` or -1: never).
    #[arg(long, value_parser = parse_limit, allow_hyphen_values = true)]
    pub retention_ms: Option<i64>,
    /// Keep at most this many bytes per partition, newest first (`unlimited` or -1: no limit).
    #[arg(long, value_parser = parse_limit, allow_hyphen_values = true)]
    pub retention_bytes: Option<i64>,
}

impl RetentionArgs {
    fn spec(&self) -> RetentionSpec {
        RetentionSpec {
            retention_ms: self.retention_ms,
            retention_bytes: self.retention_bytes,
        }
    }
}

/// A retention limit: a positive integer, or `unlimited` / `-1`.
fn parse_limit(s: &str) -> Result<i64, String> {
    if s.eq_ignore_ascii_case("unlimited") || s == "-1" {
        return Ok(UNLIMITED);
    }
    match s.parse::<i64>() {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(format!("{s:?} is not a positive number, -1 or unlimited")),
    }
}

/// A limit as operators read it.
fn show_limit(v: i64, unit: &str) -> String {
    if v == UNLIMITED {
        "unlimited".into()
    } else {
        format!("{v}{unit}")
    }
}

/// Runs one topic command; returns the text to print.
pub(super) async fn run(admin: &Admin, cmd: TopicCmd) -> Result<String, SdkError> {
    match cmd {
        TopicCmd::Create {
            name,
            partitions,
            replication_factor,
            wait_ms,
            retention,
        } => {
            let req = CreateTopicRequest {
                name,
                partitions: Some(partitions),
                replication_factor: Some(replication_factor),
                retention: retention.spec(),
            };
            let wait = (wait_ms > 0).then(|| Duration::from_millis(wait_ms));
            let topic = admin.create_topic(&req, wait).await?;
            Ok(created(&topic, wait.is_some()))
        }
        TopicCmd::List => {
            let mut topics = admin.list_topics().await?;
            topics.sort_by(|a, b| a.name.cmp(&b.name));
            if topics.is_empty() {
                return Ok("no topics\n".into());
            }
            let mut t = Table::new(["TOPIC", "PARTITIONS", "RF", "READY", "LEADERS"]);
            for topic in &topics {
                t.row([
                    topic.name.clone(),
                    topic.partitions.to_string(),
                    topic.replication_factor.to_string(),
                    yes_no(topic.ready).to_string(),
                    format!("{}/{}", led(topic), topic.partition_info.len()),
                ]);
            }
            Ok(t.to_string())
        }
        TopicCmd::Alter { name, retention } => {
            let spec = retention.spec();
            if spec == RetentionSpec::default() {
                return Err(SdkError::InvalidArgument(
                    "nothing to alter: give --retention-ms and/or --retention-bytes".into(),
                ));
            }
            let topic = admin.alter_topic(&name, &spec).await?;
            Ok(format!(
                "altered topic {}: retention-ms {}  retention-bytes {}\n",
                topic.name,
                show_limit(topic.retention_ms, ""),
                show_limit(topic.retention_bytes, "")
            ))
        }
        TopicCmd::Describe { name } => Ok(describe(&admin.describe_topic(&name).await?)),
        TopicCmd::Delete { name } => {
            admin.delete_topic(&name).await?;
            Ok(format!("deleted topic {name}\n"))
        }
    }
}

/// Partitions of `topic` with a known leader.
fn led(topic: &TopicInfo) -> usize {
    topic
        .partition_info
        .iter()
        .filter(|p| p.leader.is_some())
        .count()
}

fn created(topic: &TopicInfo, waited: bool) -> String {
    let head = format!(
        "created topic {} ({} partitions, RF {})",
        topic.name, topic.partitions, topic.replication_factor
    );
    if topic.ready {
        format!(
            "{head}\ntopic {} is ready: every partition has a leader\n",
            topic.name
        )
    } else {
        let why = if waited { "" } else { " (did not wait)" };
        format!(
            "{head}\ntopic {} is not ready yet{why}: {} of {} partitions have a leader\n",
            topic.name,
            led(topic),
            topic.partition_info.len()
        )
    }
}

fn describe(topic: &TopicInfo) -> String {
    let mut out = format!(
        "topic: {}  partitions: {}  replication-factor: {}  ready: {}\n\
         retention-ms: {}  retention-bytes: {}\n",
        topic.name,
        topic.partitions,
        topic.replication_factor,
        yes_no(topic.ready),
        show_limit(topic.retention_ms, ""),
        show_limit(topic.retention_bytes, "")
    );
    let mut parts: Vec<_> = topic.partition_info.iter().collect();
    parts.sort_by_key(|p| p.partition);
    let mut t = Table::new([
        "PARTITION",
        "LEADER",
        "REPLICAS",
        "LEARNERS",
        "LOG-START-OFFSET",
        "LOG-END-OFFSET",
        "GROUP-ID",
    ]);
    for p in parts {
        t.row([
            p.partition.to_string(),
            p.leader.map_or_else(|| "-".into(), broker_name),
            replicas(p),
            join_or_dash(&p.learners),
            p.log_start_offset.to_string(),
            p.log_end_offset.to_string(),
            p.group_id.to_string(),
        ]);
    }
    out.push_str(&t.to_string());
    out
}

/// The replica list, with the target while a move runs (`1,2,3->1,2,4`).
fn replicas(p: &PartitionInfo) -> String {
    match &p.target_replicas {
        Some(t) => format!("{}->{}", join_or_dash(&p.replicas), join_or_dash(t)),
        None => join_or_dash(&p.replicas),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(leaders: &[Option<u64>]) -> TopicInfo {
        TopicInfo {
            name: "orders".into(),
            partitions: leaders.len() as u32,
            replication_factor: 3,
            created_ms: 0,
            ready: leaders.iter().all(Option::is_some),
            retention_ms: 3_600_000,
            retention_bytes: UNLIMITED,
            partition_info: (0..leaders.len())
                .rev()
                .map(|i| PartitionInfo {
                    partition: i as u32,
                    group_id: Default::default(),
                    replicas: vec![1, 2, 3],
                    leader: leaders[i],
                    leader_addr: None,
                    log_end_offset: 10 * i as u64,
                    log_start_offset: 4 * i as u64,
                    learners: if i == 1 { vec![4] } else { vec![] },
                    target_replicas: (i == 1).then(|| vec![1, 2, 4]),
                })
                .collect(),
        }
    }

    #[test]
    fn describe_sorts_partitions_and_shows_missing_leader() {
        let out = describe(&topic(&[Some(2), None]));
        let nil = "00000000-0000-0000-0000-000000000000";
        assert_eq!(
            out,
            format!(
                "topic: orders  partitions: 2  replication-factor: 3  ready: no\n\
                 retention-ms: 3600000  retention-bytes: unlimited\n\
                 PARTITION  LEADER    REPLICAS      LEARNERS  LOG-START-OFFSET  LOG-END-OFFSET  GROUP-ID\n\
                 0          broker-2  1,2,3         -         0                 0               {nil}\n\
                 1          -         1,2,3->1,2,4  4         4                 10              {nil}\n"
            )
        );
    }

    #[test]
    fn limits_parse_and_show() {
        assert_eq!(parse_limit("unlimited"), Ok(UNLIMITED));
        assert_eq!(parse_limit("-1"), Ok(UNLIMITED));
        assert_eq!(parse_limit("4096"), Ok(4096));
        assert!(parse_limit("0").is_err());
        assert!(parse_limit("-5").is_err());
        assert!(parse_limit("10k").is_err());
        assert_eq!(show_limit(UNLIMITED, ""), "unlimited");
    }

    #[test]
    fn created_says_whether_ready() {
        let ready = created(&topic(&[Some(1), Some(2), Some(3)]), true);
        assert!(ready.starts_with("created topic orders (3 partitions, RF 3)\n"));
        assert!(ready.contains("is ready"));
        let not = created(&topic(&[Some(1), None]), false);
        assert!(not.contains("not ready yet (did not wait): 1 of 2 partitions have a leader"));
    }
}
