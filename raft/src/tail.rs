//! The newest log entries of one group, kept in memory so replication does not read back from
//! Postgres what it has just written.
//!
//! A leader's replication streams ask for the entries they are about to send, which are almost
//! always the last few appended. Serving those from memory saves one query per follower per
//! append. Older ranges (a follower catching up) still come from the database.
//!
//! ### To ensure correctness
//! The tail is a contiguous run of the log's last entries: every write that changes the log
//! (append, truncate, purge, destroy) updates it under the same lock, after the database
//! statement succeeded, so it never holds an entry the database does not, nor misses one in the
//! middle. A range is answered from memory only when the tail covers its start.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Shared between a group's log store and its readers.
pub(crate) struct Tail<E> {
    inner: Arc<Mutex<Inner<E>>>,
}

impl<E> Clone for Tail<E> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<E> {
    /// `(index, entry, encoded size)`, consecutive indexes, oldest first.
    entries: VecDeque<(u64, E, usize)>,
    /// Sum of the encoded sizes held.
    bytes: usize,
}

/// At most this many entries are kept...
const MAX_ENTRIES: usize = 256;
/// ...and at most this many encoded bytes (entries are whole record batches).
const MAX_BYTES: usize = 4 << 20;

impl<E: Clone> Tail<E> {
    pub(crate) fn new() -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                entries: VecDeque::new(),
                bytes: 0,
            })),
        }
    }

    /// Records entries just appended (consecutive indexes). A run that does not continue the
    /// tail replaces it.
    pub(crate) fn appended(&self, new: Vec<(u64, E, usize)>) {
        let mut t = self.inner.lock().expect("tail lock");
        let continues = match (t.entries.back(), new.first()) {
            (Some((last, _, _)), Some((first, _, _))) => *first == last + 1,
            _ => true,
        };
        if !continues {
            t.entries.clear();
            t.bytes = 0;
        }
        for e in new {
            t.bytes += e.2;
            t.entries.push_back(e);
        }
        while t.entries.len() > MAX_ENTRIES || (t.bytes > MAX_BYTES && t.entries.len() > 1) {
            if let Some((_, _, size)) = t.entries.pop_front() {
                t.bytes -= size;
            }
        }
    }

    /// Drops entries with an index above `index` (after a truncate).
    pub(crate) fn truncated_after(&self, index: Option<u64>) {
        let mut t = self.inner.lock().expect("tail lock");
        while t
            .entries
            .back()
            .is_some_and(|e| index.is_none_or(|i| e.0 > i))
        {
            if let Some((_, _, size)) = t.entries.pop_back() {
                t.bytes -= size;
            }
        }
    }

    /// Drops entries up to and including `index` (after a purge).
    pub(crate) fn purged_upto(&self, index: u64) {
        let mut t = self.inner.lock().expect("tail lock");
        while t.entries.front().is_some_and(|e| e.0 <= index) {
            if let Some((_, _, size)) = t.entries.pop_front() {
                t.bytes -= size;
            }
        }
    }

    /// Forgets everything (the group's rows were deleted).
    pub(crate) fn clear(&self) {
        let mut t = self.inner.lock().expect("tail lock");
        t.entries.clear();
        t.bytes = 0;
    }

    /// Entries in `[start, end)` if the tail covers `start`; `None` means "ask the database".
    /// Indexes past the last entry do not exist, exactly as in the database.
    pub(crate) fn get(&self, start: u64, end: u64) -> Option<Vec<E>> {
        let t = self.inner.lock().expect("tail lock");
        let first = t.entries.front()?.0;
        if start < first {
            return None;
        }
        let skip = usize::try_from(start - first).ok()?;
        Some(
            t.entries
                .iter()
                .skip(skip)
                .take_while(|e| e.0 < end)
                .map(|e| e.1.clone())
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(from: u64, n: u64) -> Vec<(u64, u64, usize)> {
        (from..from + n).map(|i| (i, i * 10, 1)).collect()
    }

    #[test]
    fn serves_covered_ranges_only() {
        let t = Tail::new();
        assert_eq!(t.get(0, 5), None);
        t.appended(run(5, 5)); // 5..=9
        assert_eq!(t.get(4, 6), None);
        assert_eq!(t.get(5, 7), Some(vec![50, 60]));
        assert_eq!(t.get(8, 100), Some(vec![80, 90]));
        assert_eq!(t.get(12, 20), Some(vec![]));
    }

    #[test]
    fn truncate_purge_and_gaps_keep_it_contiguous() {
        let t = Tail::new();
        t.appended(run(1, 5)); // 1..=5
        t.truncated_after(Some(3));
        assert_eq!(t.get(1, 10), Some(vec![10, 20, 30]));
        t.appended(run(4, 1)); // continues at 4
        assert_eq!(t.get(3, 10), Some(vec![30, 40]));
        t.purged_upto(2);
        assert_eq!(t.get(2, 10), None);
        assert_eq!(t.get(3, 10), Some(vec![30, 40]));
        t.appended(run(9, 2)); // a gap: replaces the tail
        assert_eq!(t.get(3, 10), None);
        assert_eq!(t.get(9, 11), Some(vec![90, 100]));
        t.truncated_after(None);
        assert_eq!(t.get(9, 11), None);
    }

    #[test]
    fn bounded() {
        let t = Tail::new();
        t.appended(run(0, MAX_ENTRIES as u64 + 10));
        assert_eq!(t.get(0, 1), None);
        assert_eq!(t.get(10, 11), Some(vec![100]));
    }
}
