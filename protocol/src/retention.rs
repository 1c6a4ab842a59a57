//! Topic retention on the wire: what an operator sets (`retention_ms`, `retention_bytes`, with
//! `-1` for unlimited, as in Kafka) and the effective limits the managers hand to brokers.

use serde::{Deserialize, Serialize};

/// The value that means "no limit".
pub const UNLIMITED: i64 = -1;

/// Largest `retention_ms` accepted: 100 years (of 365.25 days). Brokers compute `now() -
/// retention_ms` in Postgres, whose intervals overflow near 9.2e15 ms and whose timestamps
/// end at 4713 BC, so a larger age would make that topic's retention fail on every tick.
/// `retention_bytes` has no such bound: the byte totals it is compared with are `numeric`.
pub const MAX_RETENTION_MS: i64 = 100 * 36_525 * 86_400_000 / 100;

/// Retention as set on a topic: `POST /v1/topics` (flattened into the request) and the body
/// of `PATCH /v1/topics/{name}`. A missing field keeps the current value (on create: the
/// cluster default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RetentionSpec {
    /// Delete batches older than this many milliseconds; `-1` keeps them forever.
    // Never `skip_serializing_if`: in the Raft log this is MessagePack as an array, where a
    // skipped first field would shift the second into its place.
    #[serde(default)]
    pub retention_ms: Option<i64>,
    /// Keep at most this many bytes of batches per partition (the newest); `-1` is unlimited.
    #[serde(default)]
    pub retention_bytes: Option<i64>,
}

impl RetentionSpec {
    /// Checks every field that is set: a positive number or `-1`, and `retention_ms` at most
    /// [`MAX_RETENTION_MS`]. The error names the field.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(ms) = self.retention_ms.filter(|ms| *ms > MAX_RETENTION_MS) {
            return Err(format!(
                "retention_ms must be at most {MAX_RETENTION_MS} (100 years) or -1 (unlimited), got {ms}"
            ));
        }
        for (key, v) in [
            ("retention_ms", self.retention_ms),
            ("retention_bytes", self.retention_bytes),
        ] {
            if let Some(v) = v
                && v != UNLIMITED
                && v <= 0
            {
                return Err(format!(
                    "{key} must be a positive number or -1 (unlimited), got {v}"
                ));
            }
        }
        Ok(())
    }

    /// `self` with the fields of `change` that are set.
    pub fn merged(self, change: RetentionSpec) -> RetentionSpec {
        RetentionSpec {
            retention_ms: change.retention_ms.or(self.retention_ms),
            retention_bytes: change.retention_bytes.or(self.retention_bytes),
        }
    }

    /// The effective limits, unset fields taken from `defaults`.
    pub fn resolve(&self, defaults: RetentionSpec) -> Retention {
        let limit = |v: Option<i64>| v.and_then(|v| u64::try_from(v).ok()).filter(|v| *v > 0);
        Retention {
            max_age_ms: limit(self.retention_ms.or(defaults.retention_ms)),
            max_bytes: limit(self.retention_bytes.or(defaults.retention_bytes)),
        }
    }
}

/// Effective retention of a partition, as the managers tell its brokers. `None` = unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// Batches appended longer ago than this are deleted.
    pub max_age_ms: Option<u64>,
    /// The oldest batches are deleted while the partition holds more bytes than this.
    pub max_bytes: Option<u64>,
}

impl Retention {
    /// True when nothing is ever deleted.
    pub fn is_unlimited(&self) -> bool {
        self.max_age_ms.is_none() && self.max_bytes.is_none()
    }

    /// `retention_ms` as shown to operators (`-1` when unlimited).
    pub fn retention_ms(&self) -> i64 {
        self.max_age_ms
            .map_or(UNLIMITED, |v| i64::try_from(v).unwrap_or(i64::MAX))
    }

    /// `retention_bytes` as shown to operators (`-1` when unlimited).
    pub fn retention_bytes(&self) -> i64 {
        self.max_bytes
            .map_or(UNLIMITED, |v| i64::try_from(v).unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_merges_and_resolves() {
        let ok = RetentionSpec {
            retention_ms: Some(-1),
            retention_bytes: Some(1024),
        };
        assert!(ok.validate().is_ok());
        let bad = RetentionSpec {
            retention_ms: Some(0),
            retention_bytes: None,
        };
        assert!(bad.validate().unwrap_err().contains("retention_ms"));
        let bad = RetentionSpec {
            retention_ms: None,
            retention_bytes: Some(-5),
        };
        assert!(bad.validate().unwrap_err().contains("retention_bytes"));
        for (ms, ok) in [
            (MAX_RETENTION_MS, true),
            (MAX_RETENTION_MS + 1, false),
            (i64::MAX, false),
        ] {
            let spec = RetentionSpec {
                retention_ms: Some(ms),
                retention_bytes: Some(i64::MAX),
            };
            assert_eq!(spec.validate().is_ok(), ok, "{ms}");
            if !ok {
                assert!(spec.validate().unwrap_err().contains("retention_ms"));
            }
        }

        let defaults = RetentionSpec {
            retention_ms: Some(604_800_000),
            retention_bytes: Some(-1),
        };
        let topic = RetentionSpec::default().merged(RetentionSpec {
            retention_ms: None,
            retention_bytes: Some(4096),
        });
        let r = topic.resolve(defaults);
        assert_eq!(r.max_age_ms, Some(604_800_000));
        assert_eq!(r.max_bytes, Some(4096));
        assert_eq!((r.retention_ms(), r.retention_bytes()), (604_800_000, 4096));
        let unlimited = ok.merged(RetentionSpec {
            retention_ms: None,
            retention_bytes: Some(-1),
        });
        assert!(unlimited.resolve(defaults).is_unlimited());
    }

    #[test]
    fn missing_fields_deserialize_as_unset() {
        let s: RetentionSpec = serde_json::from_str("{}").unwrap();
        assert_eq!(s, RetentionSpec::default());
        let only_bytes = RetentionSpec {
            retention_ms: None,
            retention_bytes: Some(8),
        };
        let json = serde_json::to_string(&only_bytes).unwrap();
        assert_eq!(
            serde_json::from_str::<RetentionSpec>(&json).unwrap(),
            only_bytes
        );
    }
}
