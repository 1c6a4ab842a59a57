//! Unit tests of the pure apply rules: offsets, producer deduplication, commits, fencing.

use super::*;

fn produce(s: &mut PartitionState, p: Option<ProducerSeq>, n: u32) -> CommandResponse {
    let mut w = PendingWrites::default();
    s.apply_command(
        Command::Produce {
            producer: p,
            records: Bytes::from_static(b"x"),
            count: n,
            at_ms: 0,
        },
        &mut w,
    )
}

fn seq(id: Uuid, seq: u64) -> Option<ProducerSeq> {
    Some(ProducerSeq { id, seq })
}

#[test]
fn offsets_are_dense_per_batch() {
    let mut s = PartitionState::default();
    assert_eq!(
        produce(&mut s, None, 3),
        CommandResponse::Appended {
            base_offset: 0,
            count: 3,
            duplicate: false
        }
    );
    assert_eq!(
        produce(&mut s, None, 2),
        CommandResponse::Appended {
            base_offset: 3,
            count: 2,
            duplicate: false
        }
    );
    assert_eq!(s.next_offset, 5);
}

#[test]
fn retried_batch_returns_original_offsets_and_appends_nothing() {
    let mut s = PartitionState::default();
    let id = Uuid::new_v4();
    produce(&mut s, seq(id, 0), 4);
    produce(&mut s, seq(id, 1), 4);
    let again = produce(&mut s, seq(id, 0), 4);
    assert_eq!(
        again,
        CommandResponse::Appended {
            base_offset: 0,
            count: 4,
            duplicate: true
        }
    );
    assert_eq!(s.next_offset, 8);
}

#[test]
fn gaps_and_forgotten_sequences_are_refused() {
    let mut s = PartitionState::default();
    let id = Uuid::new_v4();
    produce(&mut s, seq(id, 0), 1);
    assert!(matches!(
        produce(&mut s, seq(id, 2), 1),
        CommandResponse::Rejected {
            code: ErrorCode::OutOfOrderSequence,
            ..
        }
    ));
    for i in 1..=(PRODUCER_WINDOW as u64 + 1) {
        produce(&mut s, seq(id, i), 1);
    }
    assert!(matches!(
        produce(&mut s, seq(id, 0), 1),
        CommandResponse::Rejected {
            code: ErrorCode::DuplicateSequence,
            ..
        }
    ));
    assert_eq!(s.next_offset, PRODUCER_WINDOW as u64 + 2);
}

#[test]
fn producers_are_independent() {
    let mut s = PartitionState::default();
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    produce(&mut s, seq(a, 0), 1);
    assert_eq!(
        produce(&mut s, seq(b, 0), 1),
        CommandResponse::Appended {
            base_offset: 1,
            count: 1,
            duplicate: false
        }
    );
}

#[test]
fn offset_commits_check_range_and_generation() {
    let mut s = PartitionState::default();
    produce(&mut s, None, 10);
    let mut w = PendingWrites::default();
    assert_eq!(
        s.apply_command(commit(5, Some(2)), &mut w),
        CommandResponse::OffsetCommitted
    );
    assert!(matches!(
        s.apply_command(commit(6, Some(1)), &mut w),
        CommandResponse::Rejected {
            code: ErrorCode::StaleGeneration,
            ..
        }
    ));
    assert!(matches!(
        s.apply_command(commit(11, Some(2)), &mut w),
        CommandResponse::Rejected {
            code: ErrorCode::OffsetOutOfRange,
            ..
        }
    ));
    assert_eq!(
        s.offsets["g"],
        CommittedOffset {
            offset: Some(5),
            generation: Some(2)
        }
    );
    assert_eq!(w.offsets, vec!["g".to_string()]);
}

fn commit(o: u64, g: Option<u64>) -> Command {
    Command::CommitOffset {
        group: "g".into(),
        offset: o,
        generation: g,
    }
}

fn fence(g: u64) -> Command {
    Command::FenceGroup {
        group: "g".into(),
        generation: g,
    }
}

fn is_stale(r: CommandResponse) -> bool {
    matches!(
        r,
        CommandResponse::Rejected {
            code: ErrorCode::StaleGeneration,
            ..
        }
    )
}

#[test]
fn fence_refuses_older_commits_and_keeps_the_offset() {
    let mut s = PartitionState::default();
    produce(&mut s, None, 10);
    let mut w = PendingWrites::default();
    s.apply_command(commit(4, Some(1)), &mut w);
    assert_eq!(
        s.apply_command(fence(3), &mut w),
        CommandResponse::GroupFenced {
            offset: Some(4),
            generation: 3
        }
    );
    assert_eq!(
        s.offsets["g"],
        CommittedOffset {
            offset: Some(4),
            generation: Some(3)
        },
        "fence keeps the offset"
    );
    assert!(is_stale(s.apply_command(commit(6, Some(2)), &mut w)));
    assert_eq!(
        s.offsets["g"].offset,
        Some(4),
        "stale commit changed nothing"
    );
    assert_eq!(
        s.apply_command(commit(6, Some(3)), &mut w),
        CommandResponse::OffsetCommitted
    );
    assert_eq!(s.offsets["g"].offset, Some(6));
}

#[test]
fn lower_fence_is_a_no_op() {
    let mut s = PartitionState::default();
    produce(&mut s, None, 10);
    let mut w = PendingWrites::default();
    s.apply_command(commit(2, Some(5)), &mut w);
    let mut w = PendingWrites::default();
    assert_eq!(
        s.apply_command(fence(4), &mut w),
        CommandResponse::GroupFenced {
            offset: Some(2),
            generation: 5
        }
    );
    assert!(w.offsets.is_empty(), "nothing to write");
    assert_eq!(s.offsets["g"].generation, Some(5));
}

#[test]
fn fence_before_any_commit_and_unversioned_commits_keep_it() {
    let mut s = PartitionState::default();
    produce(&mut s, None, 10);
    let mut w = PendingWrites::default();
    assert_eq!(
        s.apply_command(fence(2), &mut w),
        CommandResponse::GroupFenced {
            offset: None,
            generation: 2
        }
    );
    assert_eq!(w.offsets, vec!["g".to_string()]);
    assert!(is_stale(s.apply_command(commit(1, Some(1)), &mut w)));
    assert_eq!(
        s.apply_command(commit(3, None), &mut w),
        CommandResponse::OffsetCommitted
    );
    assert_eq!(
        s.offsets["g"],
        CommittedOffset {
            offset: Some(3),
            generation: Some(2)
        },
        "a commit without generation does not lift the fence"
    );
    assert!(is_stale(s.apply_command(commit(1, Some(1)), &mut w)));
}

#[test]
fn unsafe_skip_dedup_appends_every_retry() {
    let mut s = PartitionState::default();
    let id = Uuid::new_v4();
    let mut w = PendingWrites::default();
    let batch = |seq: u64| Command::Produce {
        producer: Some(ProducerSeq { id, seq }),
        records: Bytes::from_static(b"x"),
        count: 2,
        at_ms: 0,
    };
    let appended = |base_offset| CommandResponse::Appended {
        base_offset,
        count: 2,
        duplicate: false,
    };
    assert_eq!(
        s.apply_command_with(batch(0), Dedup::Off, &mut w),
        appended(0)
    );
    // The retry of seq 0 is appended again instead of returning offset 0.
    assert_eq!(
        s.apply_command_with(batch(0), Dedup::Off, &mut w),
        appended(2)
    );
    // Gaps and old sequences are not refused either.
    assert_eq!(
        s.apply_command_with(batch(7), Dedup::Off, &mut w),
        appended(4)
    );
    assert_eq!(
        s.apply_command_with(batch(3), Dedup::Off, &mut w),
        appended(6)
    );
    assert_eq!(s.next_offset, 8);
    assert_eq!(w.batches.len(), 4);
    assert!(s.producers.is_empty(), "no producer state is kept");
    assert!(w.producers.is_empty());

    // The same entries with dedup on (the default): the retry returns the original offsets.
    let mut safe = PartitionState::default();
    let mut w = PendingWrites::default();
    assert_eq!(
        safe.apply_command_with(batch(0), Dedup::On, &mut w),
        appended(0)
    );
    assert_eq!(
        safe.apply_command_with(batch(0), Dedup::On, &mut w),
        CommandResponse::Appended {
            base_offset: 0,
            count: 2,
            duplicate: true
        }
    );
    assert_eq!(safe.next_offset, 2);
    assert_eq!(Dedup::default(), Dedup::On);
}

#[test]
fn a_new_producer_must_start_at_sequence_zero() {
    let mut s = PartitionState::default();
    let id = Uuid::new_v4();
    assert!(matches!(
        produce(&mut s, seq(id, 1), 1),
        CommandResponse::Rejected {
            code: ErrorCode::UnknownProducer,
            ..
        }
    ));
    assert_eq!(s.next_offset, 0, "nothing appended");
    produce(&mut s, seq(id, 0), 1);
    assert!(matches!(
        produce(&mut s, seq(id, 1), 1),
        CommandResponse::Appended { base_offset: 1, .. }
    ));
}

fn batch(p: Option<ProducerSeq>, n: u32) -> crate::raft::ProduceBatch {
    crate::raft::ProduceBatch {
        producer: p,
        records: Bytes::from_static(b"x"),
        count: n,
        at_ms: 0,
    }
}

#[test]
fn merged_batches_are_applied_and_answered_one_by_one() {
    let mut s = PartitionState::default();
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    produce(&mut s, seq(a, 0), 2);
    let mut w = PendingWrites::default();
    let r = s.apply_command(
        Command::ProduceMany {
            batches: vec![
                batch(seq(a, 1), 3),
                batch(seq(b, 5), 1), // a new producer must start at 0: refused alone
                batch(seq(a, 0), 2), // a retry of an earlier batch: its original offsets
                batch(None, 4),
            ],
        },
        &mut w,
    );
    let CommandResponse::Many(each) = r else {
        panic!("expected one response per batch, got {r:?}");
    };
    assert_eq!(
        each[0],
        CommandResponse::Appended {
            base_offset: 2,
            count: 3,
            duplicate: false
        }
    );
    assert!(
        matches!(
            each[1],
            CommandResponse::Rejected {
                code: ErrorCode::UnknownProducer,
                ..
            }
        ),
        "{:?}",
        each[1]
    );
    assert_eq!(
        each[2],
        CommandResponse::Appended {
            base_offset: 0,
            count: 2,
            duplicate: true
        }
    );
    assert_eq!(
        each[3],
        CommandResponse::Appended {
            base_offset: 5,
            count: 4,
            duplicate: false
        }
    );
    assert_eq!(s.next_offset, 9);
    let stored: Vec<u64> = w.batches.iter().map(|b| b.base_offset).collect();
    assert_eq!(stored, [2, 5], "only the new batches are written");
}
