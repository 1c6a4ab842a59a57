//! Topic retention in the metadata: altering it, and the effective limits brokers are given.
//!
//! A topic stores only what an operator set; unset fields follow the cluster defaults
//! (`[topics] retention_ms / retention_bytes` in the manager settings) when they are resolved,
//! so changing a default reaches every topic that never overrode it.

use raftbus_protocol::ErrorCode;
use raftbus_protocol::retention::{Retention, RetentionSpec};

use super::ClusterMeta;
use crate::raft::MetaResponse;

impl ClusterMeta {
    /// Applies `SetRetention`: merges the set fields into the topic's retention. The change
    /// was validated before it was proposed; an unknown topic is refused on every manager.
    pub(super) fn set_retention(&mut self, name: &str, change: RetentionSpec) -> MetaResponse {
        let Some(t) = self.topics.get_mut(name) else {
            return MetaResponse::Error {
                code: ErrorCode::UnknownTopic,
                message: format!("topic {name:?} does not exist"),
            };
        };
        t.retention = t.retention.merged(change);
        MetaResponse::Ok
    }

    /// Effective retention of `topic` under the cluster `defaults` (unlimited when unknown).
    pub fn retention(&self, topic: &str, defaults: RetentionSpec) -> Retention {
        self.topics
            .get(topic)
            .map(|t| t.retention.resolve(defaults))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::MetaCommand;

    #[test]
    fn alter_merges_and_unknown_topic_is_refused() {
        let mut m = ClusterMeta::default();
        m.apply(MetaCommand::CreateTopic {
            name: "t".into(),
            replication_factor: 1,
            created_ms: 0,
            partitions: vec![],
            retention: RetentionSpec {
                retention_ms: Some(1_000),
                retention_bytes: None,
            },
        });
        let defaults = RetentionSpec {
            retention_ms: Some(7),
            retention_bytes: Some(-1),
        };
        assert_eq!(
            m.retention("t", defaults),
            Retention {
                max_age_ms: Some(1_000),
                max_bytes: None
            }
        );
        let change = RetentionSpec {
            retention_ms: None,
            retention_bytes: Some(4_096),
        };
        let r = m.apply(MetaCommand::SetRetention {
            name: "t".into(),
            change,
        });
        assert_eq!(r, MetaResponse::Ok);
        assert_eq!(
            m.retention("t", defaults),
            Retention {
                max_age_ms: Some(1_000),
                max_bytes: Some(4_096)
            }
        );
        let r = m.apply(MetaCommand::SetRetention {
            name: "nope".into(),
            change,
        });
        assert!(matches!(
            r,
            MetaResponse::Error {
                code: ErrorCode::UnknownTopic,
                ..
            }
        ));
    }

    #[test]
    fn topics_stored_before_retention_still_load() {
        // A TopicRecord as encoded before the retention field existed (3 fields).
        let old = (5u64, 3u32, Vec::<super::super::PartitionRecord>::new());
        let bytes = raftbus_raft::codec::encode(&old).unwrap();
        let t: super::super::TopicRecord = raftbus_raft::codec::decode(&bytes).unwrap();
        assert_eq!(t.created_ms, 5);
        assert_eq!(t.retention, RetentionSpec::default());
    }
}
