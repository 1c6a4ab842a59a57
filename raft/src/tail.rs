//! The newest log entries of one group, kept in memory so replication does not read back from
//! Postgres what it has just written.
//!
//! A leader's replication streams ask for the entries they are about to send, which are almost
//! always the last few appended. Serving those from memory saves one query per follower per
//! append. Older ranges (a follower catching up) still come from the database.
//!
//! It is also what makes appends readable before they are durable: the shared writer commits
//! an append later, but openraft may read it back (replication, apply) as soon as `append`
//! returns.
//!
//! ### To ensure correctness
//! The tail is a contiguous run of the log's last entries. Appends enter it when they are
//! submitted; truncations and purges after their statement committed. Only entries known to
//! be durable (at or below `durable`) are ever evicted, so every entry is in the tail, in the
//! database, or both, and a read covers a range with the database below the tail's first
//! index and the tail from there on.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// How far a group's log is durable, published for its state machine (`Flushed`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FlushState {
    /// Highest index committed to the database (None: nothing known yet).
    pub(crate) index: Option<u64>,
    /// A log write failed: the group is stopping.
    pub(crate) failed: bool,
}

/// Shared between a group's log store and its readers. It owns the group's durable index:
/// eviction reads it, and every change is published to the state machine.
pub(crate) struct Tail<E> {
    inner: Arc<Mutex<Inner<E>>>,
    published: Arc<watch::Sender<FlushState>>,
}

impl<E> Clone for Tail<E> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            published: self.published.clone(),
        }
    }
}

struct Inner<E> {
    /// `(index, entry, encoded size)`, consecutive indexes, oldest first.
    entries: VecDeque<(u64, E, usize)>,
    /// Sum of the encoded sizes held.
    bytes: usize,
    /// Highest index known committed to the database; entries above it must stay.
    durable: Option<u64>,
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
                durable: None,
            })),
            published: Arc::new(watch::channel(FlushState::default()).0),
        }
    }

    /// Follows the durable index (for `Flushed`).
    pub(crate) fn subscribe(&self) -> watch::Receiver<FlushState> {
        self.published.subscribe()
    }

    /// Publishes a new durable index; called with the tail locked, so the published value
    /// changes in the same order as the tail's.
    fn publish(&self, durable: Option<u64>) {
        self.published.send_modify(|s| s.index = durable);
    }

    /// Everything up to `index` is in the database (start-up: the stored log).
    pub(crate) fn stored_upto(&self, index: Option<u64>) {
        let mut t = self.inner.lock().expect("tail lock");
        t.durable = index;
        self.publish(t.durable);
    }

    /// A log write of the group failed: waiters give up (the group is stopping).
    pub(crate) fn failed(&self) {
        self.published.send_modify(|s| s.failed = true);
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
        t.evict();
    }

    /// Records that every entry up to `index` is committed to the database.
    pub(crate) fn flushed(&self, index: u64) {
        let mut t = self.inner.lock().expect("tail lock");
        t.durable = Some(t.durable.map_or(index, |d| d.max(index)));
        self.publish(t.durable);
        t.evict();
    }

    /// Drops entries with an index above `index` (after a truncate).
    pub(crate) fn truncated_after(&self, index: Option<u64>) {
        let mut t = self.inner.lock().expect("tail lock");
        t.durable = match (t.durable, index) {
            (Some(d), Some(i)) => Some(d.min(i)),
            _ => index,
        };
        self.publish(t.durable);
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

    /// Entries in `[start, end)` if the tail covers `start`; `None` means "ask the database".
    /// Indexes past the last entry do not exist, exactly as in the database.
    #[cfg(test)]
    pub(crate) fn get(&self, start: u64, end: u64) -> Option<Vec<E>> {
        match self.get_from(start, end) {
            Some((from, v)) if from == start => Some(v),
            _ => None,
        }
    }

    /// The part of `[start, end)` the tail holds: `(first index served, entries)`, where the
    /// first index served is `start` or the tail's first index. `None` when the tail holds
    /// nothing of the range.
    pub(crate) fn get_from(&self, start: u64, end: u64) -> Option<(u64, Vec<E>)> {
        let t = self.inner.lock().expect("tail lock");
        let first = t.entries.front()?.0;
        let from = start.max(first);
        if from >= end && start < first {
            return None;
        }
        let skip = usize::try_from(from - first).ok()?;
        Some((
            from,
            t.entries
                .iter()
                .skip(skip)
                .take_while(|e| e.0 < end)
                .map(|e| e.1.clone())
                .collect(),
        ))
    }
}

impl<E: Clone> Tail<E> {
    /// Entries from `start` (below `end`) while the bytes before each stay under `max_bytes`:
    /// at least one. `None` unless the tail holds `start`.
    pub(crate) fn get_limited(&self, start: u64, end: u64, max_bytes: usize) -> Option<Vec<E>> {
        let t = self.inner.lock().expect("tail lock");
        let first = t.entries.front()?.0;
        let skip = usize::try_from(start.checked_sub(first)?).ok()?;
        if skip >= t.entries.len() {
            return None;
        }
        let mut bytes = 0;
        let mut out = Vec::new();
        for (index, entry, size) in t.entries.iter().skip(skip) {
            if *index >= end || (!out.is_empty() && bytes >= max_bytes) {
                break;
            }
            bytes += size;
            out.push(entry.clone());
        }
        Some(out)
    }

    /// The first index the tail holds: the database has every entry below it.
    pub(crate) fn first_index(&self) -> Option<u64> {
        self.inner
            .lock()
            .expect("tail lock")
            .entries
            .front()
            .map(|e| e.0)
    }
}

impl<E> Inner<E> {
    /// Keeps the tail within its bounds, evicting only durable entries.
    fn evict(&mut self) {
        while self.entries.len() > MAX_ENTRIES || (self.bytes > MAX_BYTES && self.entries.len() > 1)
        {
            let durable = self
                .entries
                .front()
                .is_some_and(|e| self.durable.is_some_and(|d| e.0 <= d));
            if !durable {
                break;
            }
            if let Some((_, _, size)) = self.entries.pop_front() {
                self.bytes -= size;
            }
        }
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
    fn bounded_but_never_evicts_what_is_not_durable() {
        let t = Tail::new();
        t.appended(run(0, MAX_ENTRIES as u64 + 10));
        assert_eq!(t.get(0, 1), Some(vec![0]), "nothing durable yet: all kept");
        t.flushed(5);
        assert_eq!(t.get(5, 7), None, "0..=5 evicted once durable");
        assert_eq!(t.get(6, 7), Some(vec![60]));
        t.flushed(MAX_ENTRIES as u64 + 9);
        assert_eq!(t.get(9, 10), None);
        assert_eq!(t.get(10, 11), Some(vec![100]));
        assert_eq!(t.get_from(3, 12), Some((10, vec![100, 110])));
        assert_eq!(t.get_from(3, 8), None);
    }
}
