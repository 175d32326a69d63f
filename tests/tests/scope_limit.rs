//! A scope keeps its ops in flight within what it tracks (one per CQ
//! entry): the SQ's run ends at the scope's limit, which moves on as
//! completions are read. These tests check that the count of ops in flight,
//! the refusals and the limit agree with what was really pushed and
//! completed, at every step of long random walks over a small ring (the
//! SQ wrapping many times), whichever way completions are read, in fast
//! scopes and in scopes that tag every op; and that the scope's own cancel
//! requests go past a full scope.

use std::collections::HashMap;
use uring::ops::{Nop, Read};
use uring::{Linked, PushErrorKind, Ring, Scope};
use uring_tests::Rng;

/// SQ entries of the rings here; their CQs have twice as many.
const SQ: u32 = 8;
/// How many ops a scope of such a ring tracks in flight.
const CAPACITY: u64 = 2 * SQ as u64;

/// A ring whose scopes tag every op if `tag_all` (an op pushed outside a
/// scope makes them), and leave most untagged otherwise.
fn ring(tag_all: bool) -> Ring {
    let mut ring = Ring::new(SQ).unwrap();
    if tag_all {
        ring.push(Nop::new()).unwrap();
        uring_tests::reap_one(&mut ring);
    }
    ring
}

/// What a walk knows of its scope: the ops pushed and not yet completed,
/// by `user_data`.
#[derive(Default)]
struct Books {
    outstanding: HashMap<u64, u32>,
    in_flight: u64,
    /// Pushes refused because the scope was full, and because the SQ was.
    scope_full: u32,
    queue_full: u32,
}

impl Books {
    fn pushed(&mut self, user_data: &[u64]) {
        for &u in user_data {
            *self.outstanding.entry(u).or_default() += 1;
        }
        self.in_flight += user_data.len() as u64;
    }

    fn completed(&mut self, user_data: u64, res: i32) {
        assert_eq!(res, 0, "NOP {user_data:#x}");
        let left = self
            .outstanding
            .get_mut(&user_data)
            .unwrap_or_else(|| panic!("a completion nobody pushed: {user_data:#x}"));
        *left -= 1;
        if *left == 0 {
            self.outstanding.remove(&user_data);
        }
        self.in_flight -= 1;
    }

    /// Checks a push of `user_data` (one op or a chain) that returned
    /// `pushed`, with `sq_free` SQ slots free before it.
    fn check_push(&mut self, user_data: &[u64], pushed: Result<(), PushErrorKind>, sq_free: u32) {
        let n = user_data.len() as u64;
        let fits_scope = self.in_flight + n <= CAPACITY;
        let fits_sq = u64::from(sq_free) >= n;
        match pushed {
            Ok(()) => {
                assert!(
                    fits_scope && fits_sq,
                    "{n} pushed over {} in flight, {sq_free} SQ slots free",
                    self.in_flight
                );
                self.pushed(user_data);
            }
            Err(PushErrorKind::ScopeFull) => {
                assert!(
                    !fits_scope,
                    "refused as full with {} in flight, {n} more",
                    self.in_flight
                );
                self.scope_full += 1;
            }
            Err(PushErrorKind::QueueFull) => {
                assert!(
                    fits_scope && !fits_sq,
                    "refused as a full SQ: {sq_free} free, {n} more, {} in flight",
                    self.in_flight
                );
                self.queue_full += 1;
            }
            Err(other) => panic!("refused: {other:?}"),
        }
    }
}

/// One push of a walk: a NOP that goes untagged in a fast scope, one whose
/// `user_data` looks like a tag (which the scope tags), a typed chain of
/// two, or a run-time chain of up to four.
fn push_one(
    sq: &mut uring::ScopeSubmissionQueue<'_, '_>,
    rng: &mut Rng,
    next: &mut u64,
    books: &mut Books,
) {
    *next += 1;
    let base = *next * 8;
    let sq_free = sq.space_left();
    let (user_data, pushed): (Vec<u64>, _) = match rng.below(4) {
        0 => (
            vec![base],
            sq.push(Nop::new().user_data(base)).map_err(|e| e.kind()),
        ),
        1 => {
            let tag_like = base | 1 << 63;
            (
                vec![tag_like],
                sq.push(Nop::new().user_data(tag_like))
                    .map_err(|e| e.kind()),
            )
        }
        2 => (
            vec![base, base + 1],
            sq.push(
                Nop::new()
                    .user_data(base)
                    .link(Nop::new().user_data(base + 1)),
            )
            .map_err(|e| e.kind()),
        ),
        _ => {
            let len = 1 + rng.below(4);
            let user_data: Vec<u64> = (0..len).map(|i| base + i).collect();
            let chain = Linked::new(user_data.iter().map(|&u| Nop::new().user_data(u)).collect());
            (user_data, sq.push_linked(chain).map_err(|e| e.kind()))
        }
    };
    books.check_push(&user_data, pushed, sq_free);
}

/// A random walk of pushes and partial reads in one scope, checking the
/// scope's count and refusals at every step against the books.
fn walk(s: &mut Scope<'_, '_>, seed: u64) -> Books {
    let mut rng = Rng(seed);
    let mut books = Books::default();
    let mut next = 0u64;
    for _ in 0..1500 {
        match rng.below(3) {
            // A batch of pushes, then completions read by `for_each`.
            0 => {
                let mut sq = s.submission();
                for _ in 0..rng.below(12) {
                    push_one(&mut sq, &mut rng, &mut next, &mut books);
                }
                drop(sq);
                s.submit().unwrap();
                let take = rng.below(CAPACITY + 1) as usize;
                s.completions()
                    .take(take)
                    .for_each(|c| books.completed(c.user_data(), c.res()));
            }
            // Completions read one by one, with a push answering each from
            // a batch alive across them (its run ends at a limit that the
            // reads move on).
            1 => {
                let (mut sq, completions) = s.split();
                let take = rng.below(CAPACITY + 1) as usize;
                for c in completions.take(take) {
                    books.completed(c.user_data(), c.res());
                    push_one(&mut sq, &mut rng, &mut next, &mut books);
                }
                drop(sq);
                s.submit().unwrap();
            }
            // Pushes until the scope or the SQ refuses, checking the count
            // in between.
            _ => {
                for _ in 0..CAPACITY + 2 {
                    let mut sq = s.submission();
                    push_one(&mut sq, &mut rng, &mut next, &mut books);
                    drop(sq);
                    assert_eq!(u64::from(s.in_flight()), books.in_flight);
                }
                s.submit().unwrap();
            }
        }
        assert_eq!(u64::from(s.in_flight()), books.in_flight);
        assert!(books.in_flight <= CAPACITY);
    }
    // What is left completes, and is read, before the scope ends.
    s.submit_and_wait(books.in_flight as u32).unwrap();
    s.completions()
        .for_each(|c| books.completed(c.user_data(), c.res()));
    assert_eq!(s.in_flight(), 0);
    books
}

#[test]
fn the_ops_in_flight_stay_within_the_scope_over_long_walks() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        for seed in [1, 0x5eed, 0xdead_beef] {
            let mut ring = ring(tag_all);
            let books = ring.scope(|s| {
                assert_eq!(s.tags_every_op(), tag_all);
                walk(s, seed)
            });
            assert!(
                books.outstanding.is_empty(),
                "unread: {:?}",
                books.outstanding
            );
            // The walks meet both limits, many times.
            assert!(
                books.scope_full > 10,
                "tag_all {tag_all} seed {seed}: {} scope-full refusals",
                books.scope_full
            );
            assert!(
                books.queue_full > 10,
                "tag_all {tag_all} seed {seed}: {} queue-full refusals",
                books.queue_full
            );
            // The ring is whole after the scope: a ring push and a new scope.
            ring.push(Nop::new().user_data(7)).unwrap();
            assert_eq!(uring_tests::reap_one(&mut ring).user_data(), 7);
            assert_eq!(uring_tests::scope_nop_user_data(&mut ring).len(), 1);
        }
    }
}

/// A scope with as many reads in flight as it tracks refuses another op,
/// but its own cancel requests still go: `cancel` reaches the read it
/// names, which completes with `ECANCELED`, and the room it leaves takes a
/// new read. The scope's end cancels the rest.
#[test]
fn a_full_scope_still_cancels() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let (rx, _tx) = uring_tests::pipe();
        let mut bufs = vec![[0u8; 8]; CAPACITY as usize + 1];
        let mut ring = ring(tag_all);
        ring.scope(|s| {
            let (last, first) = bufs.split_last_mut().unwrap();
            for (i, buf) in first.iter_mut().enumerate() {
                s.push(Read::new(&rx, buf).user_data(i as u64)).unwrap();
                s.submit().unwrap();
            }
            let refused = s.push(Nop::new().user_data(99)).unwrap_err();
            assert_eq!(refused.kind(), PushErrorKind::ScopeFull);
            assert_eq!(u64::from(s.in_flight()), CAPACITY);
            assert_eq!(s.cancel(3).unwrap(), 1, "one read carries 3");
            s.submit_and_wait(1).unwrap();
            let cancelled: Vec<(u64, i32)> =
                s.completions().map(|c| (c.user_data(), c.res())).collect();
            assert_eq!(cancelled, [(3, -libc::ECANCELED)]);
            assert_eq!(u64::from(s.in_flight()), CAPACITY - 1);
            s.push(Read::new(&rx, last).user_data(100)).unwrap();
            let refused = s.push(Nop::new().user_data(101)).unwrap_err();
            assert_eq!(refused.kind(), PushErrorKind::ScopeFull);
        });
        // Nothing is left in flight, and nothing comes after the scope.
        ring.submit().unwrap();
        assert!(uring_tests::stray(&mut ring).is_empty());
    }
}

/// A chain is pushed whole within the scope's room or not at all, typed
/// or of run-time length; a batch's free slots say nothing of the scope's
/// room, and asking for them keeps the batch within it.
#[test]
fn chains_meet_the_limit_whole() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = ring(tag_all);
        ring.scope(|s| {
            // Two short of full, over a wrapped SQ.
            for round in 0..CAPACITY - 2 {
                s.push(Nop::new().user_data(round)).unwrap();
                s.submit().unwrap();
            }
            let mut sq = s.submission();
            let three = Nop::new().link(Nop::new()).link(Nop::new());
            assert_eq!(sq.push(three).unwrap_err().kind(), PushErrorKind::ScopeFull);
            let three = Linked::new(vec![Nop::new(), Nop::new(), Nop::new()]);
            assert_eq!(
                sq.push_linked(three).unwrap_err().kind(),
                PushErrorKind::ScopeFull
            );
            assert_eq!(sq.space_left(), SQ, "the SQ itself is empty");
            sq.push(Nop::new().user_data(50).link(Nop::new().user_data(51)))
                .unwrap();
            assert_eq!(sq.space_left(), SQ - 2);
            let one = sq.push(Nop::new().user_data(52)).unwrap_err();
            assert_eq!(one.kind(), PushErrorKind::ScopeFull);
            drop(sq);
            assert_eq!(u64::from(s.in_flight()), CAPACITY);
            // One completion read: room for one SQE, not two.
            s.submit_and_wait(1).unwrap();
            assert_eq!(s.completions().take(1).count(), 1);
            let two = Linked::new(vec![Nop::new(), Nop::new()]);
            assert_eq!(
                s.push_linked(two).unwrap_err().kind(),
                PushErrorKind::ScopeFull
            );
            s.push_linked(Linked::new(vec![Nop::new().user_data(53)]))
                .unwrap();
            s.submit_and_wait(CAPACITY as u32).unwrap();
            let read = s.completions().count() as u64;
            assert_eq!(read, CAPACITY);
            assert_eq!(s.in_flight(), 0);
        });
    }
}

/// Pushes NOPs (`user_data` from `base` on), submitting whenever the SQ is
/// full, until the scope refuses one for want of room; then reads their
/// completions. Returns how many went.
fn fill_with_nops(s: &mut Scope<'_, '_>, base: u64) -> u64 {
    let mut n = 0;
    loop {
        match s.push(Nop::new().user_data(base + n)) {
            Ok(()) => n += 1,
            Err(e) if e.kind() == PushErrorKind::QueueFull => {
                s.submit().unwrap();
            }
            Err(e) => {
                assert_eq!(e.kind(), PushErrorKind::ScopeFull);
                break;
            }
        }
    }
    let mut read = 0;
    while read < n {
        s.submit_and_wait(1).unwrap();
        for c in s.completions() {
            assert!((base..base + n).contains(&c.user_data()), "{c:?}");
            assert_eq!(c.res(), 0);
            read += 1;
        }
    }
    n
}

/// Writes one byte to the pipe `tx` and reads the scope's completion of
/// it: `(user_data, has_more)`.
fn poke(s: &mut Scope<'_, '_>, tx: &std::os::fd::OwnedFd) -> Vec<(u64, bool)> {
    use std::io::Write as _;
    std::fs::File::from(tx.try_clone().unwrap())
        .write_all(b"x")
        .unwrap();
    s.submit_and_wait(1).unwrap();
    s.completions()
        .map(|c| (c.user_data(), c.has_more()))
        .collect()
}

/// Ops that post several completions (a multishot poll, and a one-shot
/// poll that an update makes multishot after its push) stay in flight
/// until their last one: their completions flagged `IORING_CQE_F_MORE`
/// free no room, in fast scopes as in those that tag every op, so that a
/// NOP pushed into the room they hold is refused until then.
#[test]
fn ops_that_post_more_than_once_stay_in_flight_until_their_last() {
    use uring::ops::{PollAdd, PollRemove, PollUpdate};
    use uring::{PollEvents, PollFlags};
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        for updated in [false, true] {
            let (rx, tx) = uring_tests::pipe();
            let mut ring = ring(tag_all);
            ring.scope(|s| {
                let flags = if updated {
                    PollFlags::empty()
                } else {
                    PollFlags::MULTI
                };
                s.push(
                    PollAdd::new(&rx, PollEvents::IN)
                        .poll_flags(flags)
                        .user_data(1),
                )
                .unwrap();
                s.submit().unwrap();
                // The rest of the scope's room, and no more.
                assert_eq!(fill_with_nops(s, 100), CAPACITY - 1);
                assert_eq!(s.in_flight(), 1, "the poll");
                if updated {
                    s.push(
                        PollUpdate::new(1)
                            .events(PollEvents::IN)
                            .poll_flags(PollFlags::MULTI)
                            .user_data(2),
                    )
                    .unwrap();
                    s.submit_and_wait(1).unwrap();
                    let done: Vec<(u64, i32)> =
                        s.completions().map(|c| (c.user_data(), c.res())).collect();
                    if !tag_all {
                        // A fast scope counts an untagged op done at its
                        // first completion: it refuses to make one
                        // multishot, and the poll stays one-shot.
                        assert_eq!(done, [(2, -libc::EINVAL)], "the update");
                        assert_eq!(poke(s, &tx), [(1, false)]);
                        assert_eq!(s.in_flight(), 0);
                        return;
                    }
                    assert_eq!(done, [(2, 0)], "the update");
                }
                for round in 0..3 {
                    let got = poke(s, &tx);
                    if updated && got == [(1, false)] {
                        // Linux 6.18 updates only the low 16 bits of a
                        // poll's events, and keeps a one-shot poll one-shot:
                        // the poll ends at its first completion, and is done.
                        assert_eq!(round, 0);
                        assert_eq!(s.in_flight(), 0);
                        return;
                    }
                    assert_eq!(got, [(1, true)], "round {round}");
                    assert_eq!(s.in_flight(), 1, "round {round}: the poll goes on");
                    // Its room is still held: only the NOPs' is free.
                    assert_eq!(fill_with_nops(s, 1000 * (round + 1)), CAPACITY - 1);
                }
                s.push(PollRemove::new(1).user_data(3)).unwrap();
                s.submit_and_wait(2).unwrap();
                let mut ended: Vec<(u64, i32, bool)> = s
                    .completions()
                    .map(|c| (c.user_data(), c.res(), c.has_more()))
                    .collect();
                ended.sort_unstable();
                assert_eq!(ended, [(1, -libc::ECANCELED, false), (3, 0, false)]);
                assert_eq!(s.in_flight(), 0);
            });
            ring.submit().unwrap();
            assert!(uring_tests::stray(&mut ring).is_empty());
        }
    }
}
