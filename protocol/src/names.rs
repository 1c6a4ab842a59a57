//! Naming rules and the key partitioner, shared by servers and clients so they always agree.

/// Longest topic or group name, as in Kafka.
pub const MAX_NAME_LEN: usize = 249;

/// Checks a topic or consumer-group name: 1..=249 characters of `[A-Za-z0-9._-]`, not `.` or
/// `..` (names appear in URL paths). The error names the problem.
pub fn validate_name(kind: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && name != "."
        && name != "..";
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid {kind} name {name:?}: use 1 to {MAX_NAME_LEN} characters of A-Z a-z 0-9 . _ -"
        ))
    }
}

/// The partition of a keyed record: FNV-1a 64 of the key modulo the partition count. Stable
/// across processes, versions and languages, so every producer sends a key to the same place.
pub fn partition_for_key(key: &[u8], partitions: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % u64::from(partitions.max(1))) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "orders.v1", "A_b-9"] {
            assert!(validate_name("topic", ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "sp ace", &"x".repeat(250)] {
            assert!(validate_name("topic", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn partitioner_is_stable_and_in_range() {
        assert_eq!(
            partition_for_key(b"user-42", 6),
            partition_for_key(b"user-42", 6)
        );
        assert_eq!(partition_for_key(b"", 1), 0);
        // Pinned value: changing the hash would move every key.
        assert_eq!(
            partition_for_key(b"hello", 1000),
            (0xa430d84680aabd0b_u64 % 1000) as u32
        );
        let spread: std::collections::HashSet<u32> = (0..100)
            .map(|i| partition_for_key(format!("k{i}").as_bytes(), 6))
            .collect();
        assert_eq!(spread.len(), 6);
    }
}
