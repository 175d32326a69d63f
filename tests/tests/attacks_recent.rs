//! Attacks, in safe code, on two recent parts of the library:
//!
//! - the batch readers of completions: `Completions::fold` (and every
//!   iterator method built on it: `for_each`, `sum`, `count`, `last`, ...)
//!   walks runs of CQ slots by pointer and moves the head once per run; a
//!   scope's `fold` rides on it and moves the head once at its end. Each
//!   reader is driven at every position of the CQ, with panics at every
//!   completion (caught, and the scope used again), mixed with `next`,
//!   `by_ref`, `nth`, `position`, `find`, `any` and `try_fold`, with ops
//!   pushed from inside the closure through `split` batches, over a CQ set
//!   aside behind foreign completions, on rings of 32-byte and mixed CQEs,
//!   with multishot ops and owned buffers whose last completion comes in
//!   the middle of a batch, and with `mem::forget` of every part;
//! - Unix-domain sockets of `uring::net`: addresses at and past the limits
//!   of `sun_path`, NUL bytes, non-UTF-8 paths, the empty path, raw address
//!   buffers read with every length, sender addresses read as the wrong
//!   family, descriptors passed by none and by hundreds, into a full
//!   descriptor table, to a closed peer, futures dropped, detached and
//!   forgotten mid-op, reactors dropped with ops in flight, deadlines in
//!   the past, tokio's traits dropped mid-write, and a listener's stream
//!   of connections when its reactor shuts down.
//!
//! Along the way: a wait on a mixed CQ, and a ring's (not a scope's) batch
//! of pushes forgotten.
//!
//! Passed descriptors are counted by the socket they name (its inode, in
//! `/proc/self/fd`), and their last copy seen closed by the other end of
//! that socket reading the end of the stream; never by counting every
//! descriptor of the process: the other tests of this file run in parallel
//! threads.

use std::io::{Read as _, Write as _};
use std::ops::ControlFlow;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::net::SocketAddr as UnixAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use uring::net::{UnixDatagram, UnixListener, UnixStream};
use uring::ops::{Nop, Read, Timeout};
use uring::reactor::ops::{RecvFrom, RecvWithFds, SendWithFds};
use uring::reactor::{Reactor, SharedFd};
use uring::{
    Builder, Cqe, Cqe16, Cqe32, CqeMixed, CqeSize, PushErrorKind, Ring, Scope, SockAddr,
    SockAddrBuf, Sqe64, TimeoutFlags,
};
use uring_tests::{PATIENCE, poll_once, require_kernel, run_for};
use uring_tests::{Stop, complete_nops, expect_stop, ring_reading_a_copy, stop};

// ---------------------------------------------------------------------------
// Helpers of the completion readers
// ---------------------------------------------------------------------------

/// A ring whose SQ and CQ both have `entries` entries, so that a scope can
/// fill its every slot with one submit.
fn square_ring(entries: u32) -> Ring {
    Ring::builder().cq_entries(entries).build(entries).unwrap()
}

/// Makes every later scope of `ring` tag all of its ops: an op completed
/// outside a scope makes the ring one that may see foreign completions.
fn make_scopes_tag_every_op(ring: &mut Ring) {
    ring.push(Nop::new().user_data(u64::MAX >> 1)).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(ring.completions().count(), 1);
    assert!(ring.scope(|s| s.tags_every_op()));
}

/// Moves the CQ's head `by` slots on, through scopes (which keeps a clean
/// ring's scopes untagged).
fn move_head_in_scopes(ring: &mut Ring, by: u64) {
    let room = u64::from(ring.params().sq_entries());
    let mut left = by;
    while left > 0 {
        let round = left.min(room);
        ring.scope(|s| {
            for i in 0..round {
                s.push(Nop::new().user_data(1_000_000 + i)).unwrap();
            }
            s.submit_and_wait(round as u32).unwrap();
            assert_eq!(s.completions().count() as u64, round);
        });
        left -= round;
    }
    assert_eq!(ring.ready(), 0);
}

/// Pushes, in scope `s`, the ops `0..n`: even ones NOPs, odd ones NOPs
/// over an owned buffer of four bytes `[i; 4]` (tagged, and handing their
/// buffer back with their completion). Submits and waits for all of them.
fn push_mixed(s: &mut Scope<'_, '_>, n: u64) {
    for i in 0..n {
        if i % 2 == 1 {
            s.push_owned(vec![i as u8; 4], |_buf, sq| {
                sq.push(Nop::new().user_data(i));
            })
            .unwrap();
        } else {
            s.push(Nop::new().user_data(i)).unwrap();
        }
    }
    s.submit_and_wait(n as u32).unwrap();
    assert_eq!(s.ready(), n as u32);
    assert_eq!(s.in_flight(), n as u32);
}

/// Checks a completion handed out by a scope (its buffer, for an odd op,
/// is the one it was pushed over) and returns its `user_data`.
fn check(mut c: uring::ScopeCqe<'_>) -> u64 {
    let u = c.user_data();
    assert!(c.is_scope_op(), "{c:?}");
    assert_eq!(c.res(), 0, "{c:?}");
    let buf = c.take_buf();
    if u % 2 == 1 {
        assert_eq!(buf, Some(vec![u as u8; 4]), "the buffer of op {u}");
    } else {
        assert_eq!(buf, None, "op {u} has no buffer");
    }
    assert_eq!(c.take_buf(), None, "a buffer is handed back once");
    u
}

/// The ways a program reads a scope's completions. Each reads some (or
/// all) of the completions, records those it was handed in `seen`, and
/// leaves the rest to the next reader.
#[derive(Clone, Copy, Debug)]
enum Reader {
    ForEach,
    Fold,
    Sum,
    Count,
    Last,
    Max,
    /// `nth(k)`.
    Nth(u64),
    /// `position` of the op `t`.
    Position(u64),
    /// `find` of the op `t`.
    Find(u64),
    /// `any` op `t`.
    Any(u64),
    /// `try_fold` that breaks at the op `t`.
    TryFold(u64),
    /// `k` calls of `next`, then `for_each`.
    NextThenForEach(u64),
    /// `by_ref().take(k).for_each`, then the iterator is dropped.
    ByRefTake(u64),
    /// `by_ref().take(k).for_each`, then `for_each` on the same iterator.
    ByRefTakeThenRest(u64),
    /// `k` calls of `next`, then the iterator is forgotten.
    NextThenForget(u64),
    /// `by_ref().take(k).count()`, then the iterator is forgotten.
    ByRefTakeThenForget(u64),
}

impl Reader {
    /// Every reader, with targets placed at the start, the middle and the
    /// end of a batch of `n`.
    fn all(n: u64) -> Vec<Reader> {
        let mut out = vec![
            Reader::ForEach,
            Reader::Fold,
            Reader::Sum,
            Reader::Count,
            Reader::Last,
            Reader::Max,
        ];
        let mut at: Vec<u64> = vec![0, n / 2, n.saturating_sub(1), n];
        at.dedup();
        for &k in &at {
            out.extend([
                Reader::Nth(k),
                Reader::Position(k),
                Reader::Find(k),
                Reader::Any(k),
                Reader::TryFold(k),
                Reader::NextThenForEach(k),
                Reader::ByRefTake(k),
                Reader::ByRefTakeThenRest(k),
                Reader::NextThenForget(k),
                Reader::ByRefTakeThenForget(k),
            ]);
        }
        out
    }

    /// How many of a batch of `n` completions (ops `0..n`, in order) the
    /// reader takes.
    fn takes(self, n: u64) -> u64 {
        match self {
            Reader::ForEach
            | Reader::Fold
            | Reader::Sum
            | Reader::Count
            | Reader::Last
            | Reader::Max
            | Reader::NextThenForEach(_)
            | Reader::ByRefTakeThenRest(_) => n,
            Reader::Nth(k)
            | Reader::Position(k)
            | Reader::Find(k)
            | Reader::Any(k)
            | Reader::TryFold(k) => (k + 1).min(n),
            Reader::ByRefTake(k) | Reader::NextThenForget(k) | Reader::ByRefTakeThenForget(k) => {
                k.min(n)
            }
        }
    }

    /// Reads `it` as the reader does, pushing each op it is handed to
    /// `seen`; asserts what the reader returns.
    fn read(self, it: uring::ScopeCompletions<'_, '_>, n: u64, seen: &mut Vec<u64>) {
        let mut see = |c: uring::ScopeCqe<'_>| {
            let u = check(c);
            seen.push(u);
            u
        };
        match self {
            Reader::ForEach => it.for_each(|c| {
                see(c);
            }),
            Reader::Fold => {
                let total = it.fold(0u64, |acc, c| acc + see(c) + 1);
                assert_eq!(total, (1..=n).sum::<u64>());
            }
            Reader::Sum => {
                let total: u64 = it.map(&mut see).sum();
                assert_eq!(total, (0..n).sum::<u64>());
            }
            Reader::Count => assert_eq!(it.map(&mut see).count() as u64, n),
            Reader::Last => assert_eq!(it.map(&mut see).last(), n.checked_sub(1)),
            Reader::Max => assert_eq!(it.map(&mut see).max(), n.checked_sub(1)),
            Reader::Nth(k) => {
                let mut it = it.map(&mut see);
                assert_eq!(it.nth(k as usize), (k < n).then_some(k));
            }
            Reader::Position(t) => {
                let mut it = it.map(&mut see);
                assert_eq!(
                    it.position(|u| u == t).map(|p| p as u64),
                    (t < n).then_some(t)
                );
            }
            Reader::Find(t) => {
                let mut it = it.map(&mut see);
                assert_eq!(it.find(|&u| u == t), (t < n).then_some(t));
            }
            Reader::Any(t) => {
                let mut it = it.map(&mut see);
                assert_eq!(it.any(|u| u == t), t < n);
            }
            Reader::TryFold(t) => {
                let mut it = it;
                let flow = it.try_fold(0u64, |acc, c| {
                    let u = see(c);
                    if u == t {
                        ControlFlow::Break(acc)
                    } else {
                        ControlFlow::Continue(acc + 1)
                    }
                });
                let want = if t < n {
                    ControlFlow::Break(t)
                } else {
                    ControlFlow::Continue(n)
                };
                assert_eq!(flow, want);
            }
            Reader::NextThenForEach(k) => {
                let mut it = it;
                for _ in 0..k {
                    if let Some(c) = it.next() {
                        see(c);
                    }
                }
                it.for_each(|c| {
                    see(c);
                });
            }
            Reader::ByRefTake(k) => {
                let mut it = it;
                it.by_ref().take(k as usize).for_each(|c| {
                    see(c);
                });
                drop(it);
            }
            Reader::ByRefTakeThenRest(k) => {
                let mut it = it;
                it.by_ref().take(k as usize).for_each(|c| {
                    see(c);
                });
                it.for_each(|c| {
                    see(c);
                });
            }
            Reader::NextThenForget(k) => {
                let mut it = it;
                for _ in 0..k {
                    if let Some(c) = it.next() {
                        see(c);
                    }
                }
                std::mem::forget(it);
            }
            Reader::ByRefTakeThenForget(k) => {
                let mut it = it;
                assert_eq!(
                    it.by_ref().take(k as usize).map(&mut see).count() as u64,
                    k.min(n)
                );
                std::mem::forget(it);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Completion readers: every reader, every position, panics
// ---------------------------------------------------------------------------

/// Every way of reading a scope's completions, wherever the CQ's head
/// stands (so that batches wrap around the end of the array at every
/// place), in scopes that tag every op and in scopes that tag few: each
/// reader is handed exactly the completions it takes, once, in order, with
/// the right owned buffer; the next reader gets the rest and nothing
/// twice; every op is counted out of the scope once.
#[test]
fn every_reader_of_a_scope_takes_each_completion_once_wherever_the_head_stands() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = square_ring(8);
        if tag_all {
            make_scopes_tag_every_op(&mut ring);
        }
        let cq = u64::from(ring.cq_entries());
        for offset in 0..cq {
            for n in [1, 2, 3, cq / 2 + 1, cq - 1, cq] {
                for reader in Reader::all(n) {
                    move_head_in_scopes(&mut ring, offset);
                    let (seen, rest) = ring.scope(|s| {
                        assert_eq!(s.tags_every_op(), tag_all);
                        push_mixed(s, n);
                        let mut seen = Vec::new();
                        reader.read(s.completions(), n, &mut seen);
                        let took = reader.takes(n);
                        assert_eq!(s.ready() as u64, n - took, "{reader:?}");
                        assert_eq!(s.in_flight() as u64, n - took, "{reader:?}");
                        let rest: Vec<u64> = s.completions().map(check).collect();
                        assert_eq!(s.in_flight(), 0);
                        (seen, rest)
                    });
                    let what = format!("{reader:?}, {n} ops, head at +{offset}, tag_all {tag_all}");
                    let took = reader.takes(n);
                    assert_eq!(seen, (0..took).collect::<Vec<_>>(), "{what}");
                    assert_eq!(rest, (took..n).collect::<Vec<_>>(), "{what}");
                    assert_eq!(ring.ready(), 0, "{what}");
                }
            }
        }
    }
}

/// A panic in the closure of any reader of a scope's completions, at any
/// completion, wherever the CQ's head stands: the completion it was handed
/// counts as read (its owned buffer, not taken, is freed), the others stay
/// for the next reader, in order; the scope goes on (a new owned op
/// completes into its buffer) and ends with every op counted once.
#[test]
fn a_panic_in_any_reader_of_a_scope_loses_and_repeats_nothing() {
    let _watch = uring_tests::watchdog();
    let (rx, mut tx) = std::os::unix::net::UnixStream::pair().unwrap();
    for tag_all in [false, true] {
        let mut ring = square_ring(8);
        if tag_all {
            make_scopes_tag_every_op(&mut ring);
        }
        let cq = u64::from(ring.cq_entries());
        for offset in 0..cq {
            for n in [1, 2, 5, cq - 1] {
                let mut stops = vec![0, n / 2, n - 1];
                stops.dedup();
                for at in stops {
                    for way in 0..8 {
                        move_head_in_scopes(&mut ring, offset);
                        tx.write_all(b"again").unwrap();
                        let (given, rest, back) = ring.scope(|s| {
                            push_mixed(s, n);
                            let mut given = Vec::new();
                            // The closure is handed the completion `at` and
                            // unwinds before it takes its buffer.
                            let mut hand = |c: uring::ScopeCqe<'_>| {
                                given.push(c.user_data());
                                if c.user_data() == at {
                                    drop(c);
                                    stop();
                                }
                                check(c)
                            };
                            let it = s.completions();
                            expect_stop(|| match way {
                                0 => it.for_each(|c| {
                                    hand(c);
                                }),
                                1 => drop(it.fold(0, |acc, c| acc + hand(c))),
                                2 => drop(it.map(&mut hand).sum::<u64>()),
                                3 => drop(it.map(&mut hand).count()),
                                4 => drop(it.map(&mut hand).last()),
                                5 => drop(it.map(&mut hand).position(|_| false)),
                                6 => {
                                    let mut it = it;
                                    let _ = it.try_fold((), |(), c| {
                                        hand(c);
                                        ControlFlow::<()>::Continue(())
                                    });
                                }
                                _ => {
                                    let mut it = it;
                                    if at > 0 {
                                        hand(it.next().unwrap());
                                    }
                                    it.for_each(|c| {
                                        hand(c);
                                    });
                                }
                            });
                            assert_eq!(s.in_flight() as u64, n - at - 1);
                            let rest: Vec<u64> = s.completions().map(check).collect();
                            assert_eq!(s.in_flight(), 0);
                            // The scope is still good for owned ops.
                            s.push_owned(vec![0xee; 16], |buf, sq| {
                                sq.push(Read::new(&rx, buf).user_data(77));
                            })
                            .unwrap();
                            s.submit_and_wait(1).unwrap();
                            let mut c = s.completions().next().unwrap();
                            assert_eq!((c.user_data(), c.res()), (77, 5));
                            (given, rest, c.take_buf().unwrap())
                        });
                        let what =
                            format!("way {way}, stop at {at} of {n}, head +{offset}, {tag_all}");
                        assert_eq!(given, (0..=at).collect::<Vec<_>>(), "{what}");
                        assert_eq!(rest, (at + 1..n).collect::<Vec<_>>(), "{what}");
                        assert_eq!(&back[..5], b"again", "{what}");
                        assert!(back[5..].iter().all(|&b| b == 0xee), "{what}");
                        assert_eq!(ring.ready(), 0, "{what}");
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Completion readers: ops pushed from inside a fold
// ---------------------------------------------------------------------------

/// A scope full to its last slot, read with `for_each` over a split: each
/// completion frees exactly its own slot before the closure runs, so one
/// push fits and a second is refused as `ScopeFull`; owned buffers taken
/// from completions are pushed again, over new reads, from inside the
/// closure. Every op completes once, every buffer holds what its own read
/// put there, and the scope ends with nothing in flight.
#[test]
fn ops_pushed_from_inside_a_fold_take_exactly_the_slots_it_freed() {
    let _watch = uring_tests::watchdog();
    let mut file = tempfile::tempfile().unwrap();
    let data = uring_tests::pattern(4096, 3);
    file.write_all(&data).unwrap();
    let at = |k: u64| data[k as usize * 4..k as usize * 4 + 4].to_vec();
    for tag_all in [false, true] {
        let mut ring = square_ring(8);
        if tag_all {
            make_scopes_tag_every_op(&mut ring);
        }
        let cap = u64::from(ring.cq_entries());
        ring.scope(|s| {
            for round in 0..4u64 {
                let base = round * 100;
                for i in 0..cap {
                    s.push_owned(vec![0xcc; 4], |buf, sq| {
                        sq.push(
                            Read::new(&file, buf)
                                .offset(4 * (base + i))
                                .user_data(base + i),
                        );
                    })
                    .unwrap();
                }
                let full = s.push(Nop::new().user_data(9999)).unwrap_err();
                assert_eq!(full.kind(), PushErrorKind::ScopeFull);
                s.submit().unwrap();
                while s.ready() < cap as u32 {
                    s.wait(cap as u32).unwrap();
                }
                let (mut sq, it) = s.split();
                let mut answered = Vec::new();
                it.for_each(|mut c| {
                    let u = c.user_data();
                    assert_eq!(c.res(), 4, "read {u}");
                    let mut buf = c.take_buf().expect("the read's buffer");
                    assert_eq!(buf, at(u), "read {u}");
                    buf.fill(0xcc);
                    // The buffer goes out again, over the read of a new
                    // offset: it fits in the slot this completion freed.
                    sq.push_owned(buf, |buf, sq| {
                        sq.push(Read::new(&file, buf).offset(4 * (u + 50)).user_data(u + 50));
                    })
                    .unwrap();
                    let refused = sq.push(Nop::new().user_data(9999)).unwrap_err();
                    assert_eq!(refused.kind(), PushErrorKind::ScopeFull);
                    let back = sq
                        .push_owned(vec![1, 2, 3], |_, sq| sq.push(Nop::new().user_data(9998)))
                        .unwrap_err();
                    assert_eq!(back.kind(), PushErrorKind::ScopeFull);
                    assert_eq!(back.into_inner(), [1, 2, 3]);
                    answered.push(u);
                });
                drop(sq);
                answered.sort_unstable();
                assert_eq!(answered, (base..base + cap).collect::<Vec<_>>());
                assert_eq!(s.in_flight() as u64, cap);
                s.submit().unwrap();
                let mut second = Vec::new();
                while second.len() < cap as usize {
                    s.wait(1).unwrap();
                    s.completions().for_each(|mut c| {
                        let u = c.user_data();
                        assert_eq!(c.res(), 4, "read {u}");
                        assert_eq!(c.take_buf().unwrap(), at(u), "read {u}");
                        second.push(u);
                    });
                }
                second.sort_unstable();
                assert_eq!(second, (base + 50..base + 50 + cap).collect::<Vec<_>>());
                assert_eq!(s.in_flight(), 0);
            }
        });
        assert_eq!(ring.ready(), 0);
    }
}

/// `Ring::split`: ops pushed from inside `for_each` while it walks the CQ,
/// up to a panic: what was pushed before the panic goes to the kernel and
/// completes once, what the closure was not handed stays in the queue.
#[test]
fn ops_pushed_from_inside_a_ring_s_for_each_before_a_panic_all_complete() {
    let _watch = uring_tests::watchdog();
    let mut ring = square_ring(8);
    let cq = u64::from(ring.cq_entries());
    for offset in 0..cq {
        for at in [0, 3, cq - 1] {
            for i in 0..offset {
                ring.push(Nop::new().user_data(500 + i)).unwrap();
            }
            ring.submit_and_wait(offset as u32).unwrap();
            assert_eq!(ring.completions().count() as u64, offset);
            for i in 0..cq {
                ring.push(Nop::new().user_data(i)).unwrap();
            }
            ring.submit_and_wait(cq as u32).unwrap();
            let mut given = Vec::new();
            {
                let (mut sq, it) = ring.split();
                expect_stop(|| {
                    it.for_each(|c| {
                        given.push(c.user_data());
                        sq.push(Nop::new().user_data(100 + c.user_data())).unwrap();
                        if c.user_data() == at {
                            stop();
                        }
                    })
                });
            }
            let rest: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
            assert_eq!(given, (0..=at).collect::<Vec<_>>());
            assert_eq!(rest, (at + 1..cq).collect::<Vec<_>>());
            ring.submit_and_wait(at as u32 + 1).unwrap();
            let answers: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
            assert_eq!(
                answers,
                (100..=100 + at).collect::<Vec<_>>(),
                "head +{offset}"
            );
            assert_eq!(ring.ready(), 0);
        }
    }
}

/// Inside a fold over a split scope, the closure gives a completion's owned
/// buffer to a new read and then unwinds, once from the closure itself and
/// once from inside the `build` of `push_owned` (after its push, and, in
/// another round, before it): the buffer pushed over stays with the scope
/// and comes back with its read, holding what the read put there; nothing
/// is lost or seen twice, and the scope ends with nothing in flight.
#[test]
fn a_panic_after_an_owned_buffer_was_pushed_again_from_a_fold() {
    let _watch = uring_tests::watchdog();
    let (rx, mut tx) = std::os::unix::net::UnixStream::pair().unwrap();
    for tag_all in [false, true] {
        for way in 0..3 {
            let mut ring = square_ring(8);
            if tag_all {
                make_scopes_tag_every_op(&mut ring);
            }
            let (first, second) = ring.scope(|s| {
                s.push_owned(vec![0xcc; 8], |_, sq| sq.push(Nop::new().user_data(1)))
                    .unwrap();
                s.push(Nop::new().user_data(2)).unwrap();
                s.submit_and_wait(2).unwrap();
                let mut first = Vec::new();
                {
                    let (mut sq, it) = s.split();
                    expect_stop(|| {
                        it.for_each(|mut c| {
                            first.push(c.user_data());
                            let Some(buf) = c.take_buf() else { return };
                            assert_eq!(buf, [0xcc; 8]);
                            let pushed = sq.push_owned(buf, |buf, sq| {
                                if way == 2 {
                                    stop();
                                }
                                sq.push(Read::new(&rx, buf).user_data(3));
                                if way == 1 {
                                    stop();
                                }
                            });
                            assert!(pushed.is_ok());
                            stop();
                        })
                    });
                }
                // The completion of op 2 was not handed out yet.
                let rest: Vec<u64> = s.completions().map(|c| c.user_data()).collect();
                first.extend(rest);
                let mut second = Vec::new();
                if way < 2 {
                    assert_eq!(s.in_flight(), 1, "the read over the buffer");
                    tx.write_all(b"refilled").unwrap();
                    s.submit_and_wait(1).unwrap();
                    for mut c in s.completions() {
                        let buf = c.take_buf().expect("the buffer, back with its read");
                        second.push((c.user_data(), c.res(), buf));
                    }
                } else {
                    assert_eq!(s.in_flight(), 0, "nothing was pushed");
                }
                (first, second)
            });
            assert_eq!(first, [1, 2], "way {way}, {tag_all}");
            if way < 2 {
                assert_eq!(second, [(3, 8, b"refilled".to_vec())], "way {way}");
            } else {
                assert!(second.is_empty());
            }
            assert_eq!(ring.ready(), 0);
        }
    }
}

/// More completions than the CQ holds wait in the kernel's overflow list
/// behind a full CQ: folds that unwind at each place, from the ring and
/// from a scope, read the CQ's completions and then, once the kernel has
/// moved them in, the overflowed ones, each once and in order.
#[test]
fn folds_over_a_full_cq_with_an_overflow_behind_it_read_each_once_in_order() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    if !uring_tests::require_features(&ring, uring::Features::NODROP, "the CQ overflow list") {
        return;
    }
    let cq = u64::from(ring.cq_entries());
    for in_scope in [false, true] {
        for at in 0..cq + 4 {
            for offset in [0, 3] {
                complete_nops(&mut ring, 500, offset);
                ring.submit_and_wait(offset as u32).unwrap();
                ring.completions().for_each(drop);
                // Twelve NOPs into a CQ of eight: four overflow.
                complete_nops(&mut ring, 0, cq + 4);
                assert_eq!(u64::from(ring.ready()), cq);
                let mut given = Vec::new();
                let read = |ring: &mut Ring, given: &mut Vec<u64>| {
                    let mut take = |u: u64| {
                        given.push(u);
                        if given.len() as u64 == at + 1 {
                            stop();
                        }
                    };
                    if in_scope {
                        ring.scope(|s| {
                            s.completions().for_each(|c| {
                                assert!(!c.is_scope_op());
                                take(c.user_data());
                            })
                        })
                    } else {
                        ring.completions().for_each(|c| take(c.user_data()))
                    }
                };
                expect_stop(|| {
                    for _ in 0..4 {
                        read(&mut ring, &mut given);
                    }
                });
                let mut rest = Vec::new();
                for _ in 0..4 {
                    rest.extend(ring.completions().map(|c| c.user_data()));
                }
                given.extend(rest);
                assert_eq!(
                    given,
                    (0..cq + 4).collect::<Vec<_>>(),
                    "stop at {at}, head +{offset}, in a scope: {in_scope}"
                );
                assert_eq!(ring.ready(), 0);
            }
        }
    }
}

/// On an SQPOLL ring the kernel posts completions while folds walk the CQ:
/// batches read the instant they are submitted, by the ring and by scopes,
/// with pushes from inside the fold and panics now and then, see every
/// NOP once and in order, round the CQ many times.
#[test]
fn folds_race_the_kernel_thread_posting_behind_them() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_sqpoll() {
        return;
    }
    let mut ring = Ring::builder()
        .sqpoll(Duration::from_millis(100))
        .cq_entries(16)
        .build(8)
        .unwrap();
    let total = 3000u64;
    let mut next = 0u64;
    let mut seen = Vec::with_capacity(total as usize);
    let mut round = 0u64;
    let end = Instant::now() + PATIENCE;
    while (seen.len() as u64) < total {
        assert!(Instant::now() < end, "stuck at {} of {total}", seen.len());
        round += 1;
        // Keep at most the CQ's size in flight.
        let in_flight = next - seen.len() as u64;
        let room = (16 - in_flight).min(8).min(total - next);
        let unwind = round.is_multiple_of(7);
        let take = |u: u64, seen: &mut Vec<u64>| {
            seen.push(u);
            if unwind && seen.len().is_multiple_of(3) {
                stop();
            }
        };
        if round.is_multiple_of(2) {
            for _ in 0..room {
                // The SQ thread may not have taken the last ones yet.
                if ring.push(Nop::new().user_data(next)).is_err() {
                    break;
                }
                next += 1;
            }
            ring.submit().unwrap();
            let result = catch_unwind(AssertUnwindSafe(|| {
                ring.completions()
                    .for_each(|c| take(c.user_data(), &mut seen))
            }));
            if let Err(p) = result {
                assert!(p.is::<Stop>());
            }
        } else {
            ring.scope(|s| {
                let (mut sq, it) = s.split();
                let mut pushed = 0;
                let result = catch_unwind(AssertUnwindSafe(|| {
                    it.for_each(|c| {
                        // Foreign: ops pushed outside this scope.
                        assert!(!c.is_scope_op());
                        take(c.user_data(), &mut seen);
                    })
                }));
                if let Err(p) = result {
                    assert!(p.is::<Stop>());
                }
                // A scope's own NOPs, read before it ends.
                for i in 0..2 {
                    if sq.push(Nop::new().user_data(u64::MAX / 4 + i)).is_ok() {
                        pushed += 1;
                    }
                }
                drop(sq);
                s.submit().unwrap();
                let mut own = 0;
                while s.in_flight() > 0 {
                    s.wait(1).unwrap();
                    let mut it = s.completions();
                    for c in it.by_ref() {
                        if c.is_scope_op() {
                            own += 1;
                        } else {
                            seen.push(c.user_data());
                        }
                    }
                }
                assert_eq!(own, pushed);
            });
        }
    }
    assert_eq!(seen, (0..total).collect::<Vec<_>>());
    assert_eq!(ring.completions().count(), 0);
}

// ---------------------------------------------------------------------------
// Completion readers: forgotten parts
// ---------------------------------------------------------------------------

/// A scope whose batch of pushes, completion iterator, completion with an
/// owned buffer and `OwnedPush` are all forgotten, with a read into a
/// borrowed buffer left in flight: nothing is lost or seen twice, the
/// forgotten `OwnedPush` pushed nothing and its buffer comes back, and the
/// scope does not return while the read can still write into the buffer.
#[test]
fn forgotten_scope_parts_lose_nothing_and_end_no_borrow_early() {
    let _watch = uring_tests::watchdog();
    let (rx, mut tx) = std::os::unix::net::UnixStream::pair().unwrap();
    for tag_all in [false, true] {
        let mut ring = square_ring(8);
        if tag_all {
            make_scopes_tag_every_op(&mut ring);
        }
        let mut canary = [0x5au8; 32];
        let (seen, forgotten_buf) = ring.scope(|s| {
            // A batch that pushes a read into the borrowed canary, and NOPs,
            // forgotten instead of dropped.
            let mut batch = s.submission();
            batch
                .push(Read::new(&rx, &mut canary[..]).user_data(1))
                .unwrap();
            for i in 10..14 {
                batch.push(Nop::new().user_data(i)).unwrap();
            }
            std::mem::forget(batch);
            s.push_owned(vec![3; 8], |_, sq| sq.push(Nop::new().user_data(3)))
                .unwrap();
            // An `OwnedPush` forgotten (it has no `Drop`, so this is all a
            // program can do with it besides pushing): nothing pushed, the
            // buffer back.
            let back = s
                .push_owned(vec![4; 8], |_, sq| {
                    #[allow(clippy::forget_non_drop)]
                    std::mem::forget(sq);
                })
                .unwrap_err();
            assert_eq!(back.kind(), PushErrorKind::NothingPushed);
            assert_eq!(back.into_inner(), [4; 8]);
            assert_eq!(s.in_flight(), 6);
            s.submit_and_wait(5).unwrap();
            let mut seen = Vec::new();
            let mut it = s.completions();
            seen.push(it.next().unwrap().user_data());
            seen.push(it.next().unwrap().user_data());
            std::mem::forget(it);
            let mut forgotten_buf = false;
            s.completions().for_each(|mut c| {
                seen.push(c.user_data());
                if c.user_data() == 3 {
                    // The completion carrying the owned buffer, forgotten.
                    forgotten_buf = true;
                    std::mem::forget(c.take_buf());
                    std::mem::forget(c);
                }
            });
            assert_eq!(s.in_flight(), 1, "the read is still in flight");
            (seen, forgotten_buf)
        });
        assert!(forgotten_buf);
        let mut sorted = seen.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [3, 10, 11, 12, 13], "{seen:?}");
        assert_eq!(ring.ready(), 0, "the read's cancellation was settled");
        uring_tests::assert_nothing_writes_after(&mut [&mut tx], &[&canary], 0x5a);
        // The late data is still in the socket: no read took it.
        let mut late = [0u8; 64];
        rx.set_nonblocking(true).unwrap();
        let n = (&rx).read(&mut late).unwrap();
        rx.set_nonblocking(false).unwrap();
        assert_eq!(&late[..n], b"late data, after the scope");
    }
}

/// A ring's iterator forgotten after `by_ref().take(k).for_each`: as
/// documented, the next reader sees those `k` again (the head did not
/// move), then everything after them, once; a fold that ran to its end
/// leaves nothing behind.
#[test]
fn a_forgotten_ring_iterator_hands_its_completions_out_again() {
    let _watch = uring_tests::watchdog();
    let mut ring = square_ring(8);
    let cq = u64::from(ring.cq_entries());
    for offset in 0..cq {
        for k in [0, 1, cq / 2, cq] {
            for i in 0..offset {
                ring.push(Nop::new().user_data(500 + i)).unwrap();
            }
            ring.submit_and_wait(offset as u32).unwrap();
            ring.completions().for_each(drop);
            for i in 0..cq {
                ring.push(Nop::new().user_data(i)).unwrap();
            }
            ring.submit_and_wait(cq as u32).unwrap();
            let mut first = Vec::new();
            let mut it = ring.completions();
            it.by_ref()
                .take(k as usize)
                .for_each(|c| first.push(c.user_data()));
            std::mem::forget(it);
            assert_eq!(first, (0..k).collect::<Vec<_>>());
            let mut all = Vec::new();
            ring.completions().for_each(|c| all.push(c.user_data()));
            assert_eq!(all, (0..cq).collect::<Vec<_>>(), "head +{offset}, {k}");
            assert_eq!(ring.ready(), 0);
        }
    }
}

/// Both halves of a ring's split forgotten: the completions read through
/// the forgotten half come again (as documented); the ops pushed through
/// the forgotten batch stay with it, as documented on `SubmissionQueue`
/// (a forgotten `BufWriter` keeps its bytes the same way): the next submit
/// sends nothing of them, and the ring goes on as if they had never been
/// pushed, its next pushes completing once each.
#[test]
fn ops_pushed_through_a_forgotten_ring_batch_stay_with_it() {
    let _watch = uring_tests::watchdog();
    let mut ring = square_ring(8);
    complete_nops(&mut ring, 0, 4);
    ring.submit_and_wait(4).unwrap();
    let (mut sq, mut it) = ring.split();
    let first: Vec<u64> = it.by_ref().take(2).map(|c| c.user_data()).collect();
    sq.push(Nop::new().user_data(40)).unwrap();
    sq.push(Nop::new().user_data(41)).unwrap();
    std::mem::forget(sq);
    std::mem::forget(it);
    assert_eq!(first, [0, 1]);
    assert_eq!(ring.submit().unwrap(), 0, "the forgotten pushes were sent");
    let _ = ring.wait_timeout(6, Duration::from_millis(100));
    let all: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(all, [0, 1, 2, 3], "the next read after the forgotten batch");
    for i in 50..58 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    assert_eq!(ring.submit_and_wait(8).unwrap(), 8);
    let next: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(next, (50..58).collect::<Vec<_>>());
}

// ---------------------------------------------------------------------------
// Completion readers: a CQ set aside behind foreign completions
// ---------------------------------------------------------------------------

/// A scope over a CQ set aside: `for_each` unwinds at every place among
/// the foreign completions (read from the copy) and the scope's own
/// (posted behind them), the rest comes from the next reader in order, and
/// the ring goes back to the kernel's CQ once the copy is read.
#[test]
fn a_panic_in_a_scope_s_for_each_over_a_cq_set_aside_loses_nothing() {
    let _watch = uring_tests::watchdog();
    let foreign: Vec<u64> = (100..108).collect();
    for at in 0..11 {
        let mut ring = ring_reading_a_copy();
        let (given, rest) = ring.scope(|s| {
            for i in 0..3u64 {
                s.push_owned(vec![i as u8; 2], |_, sq| sq.push(Nop::new().user_data(i)))
                    .unwrap();
            }
            s.submit_and_wait(11).unwrap();
            assert_eq!(s.ready(), 11);
            let mut given = Vec::new();
            expect_stop(|| {
                s.completions().for_each(|mut c| {
                    let u = c.user_data();
                    assert_eq!(c.is_scope_op(), u < 3, "{c:?}");
                    let buf = c.take_buf();
                    assert_eq!(buf, (u < 3).then(|| vec![u as u8; 2]));
                    given.push(u);
                    if given.len() == at + 1 {
                        stop();
                    }
                })
            });
            assert_eq!(s.in_flight() as usize, 3 - (at + 1).saturating_sub(8));
            let rest: Vec<u64> = s.completions().map(|c| c.user_data()).collect();
            assert_eq!(s.in_flight(), 0);
            (given, rest)
        });
        let mut all = given.clone();
        all.extend(&rest);
        let want: Vec<u64> = foreign.iter().copied().chain(0..3).collect();
        assert_eq!(all, want, "stop after {}", at + 1);
        assert_eq!(given.len(), at + 1);
        assert_eq!(ring.ready(), 0);
        // Back on the kernel's CQ.
        complete_nops(&mut ring, 900, 2);
        ring.submit_and_wait(2).unwrap();
        let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
        assert_eq!(got, [900, 901]);
    }
}

/// The copy's positions wrap around its array while reads and new
/// completions take turns: each read is a fold that unwinds after three
/// completions, from the ring or from a scope (which leaves the foreign
/// ones it did not read in place, in order), so that the walk meets the
/// end of the copy's array at every place.
#[test]
fn folds_over_a_copy_that_wraps_read_each_completion_once() {
    let _watch = uring_tests::watchdog();
    let mut ring = ring_reading_a_copy();
    let mut expected: std::collections::VecDeque<u64> = (100..108).collect();
    let mut next = 1000;
    for round in 0..24 {
        let mut three = Vec::new();
        if round % 2 == 0 {
            expect_stop(|| {
                ring.completions().for_each(|c| {
                    three.push(c.user_data());
                    if three.len() == 3 {
                        stop();
                    }
                })
            });
        } else {
            ring.scope(|s| {
                expect_stop(|| {
                    s.completions().for_each(|c| {
                        assert!(!c.is_scope_op());
                        three.push(c.user_data());
                        if three.len() == 3 {
                            stop();
                        }
                    })
                });
            });
        }
        let want: Vec<u64> = expected.drain(..3).collect();
        assert_eq!(three, want, "round {round}");
        complete_nops(&mut ring, next, 3);
        expected.extend(next..next + 3);
        next += 3;
        ring.wait(8).unwrap();
        assert_eq!(ring.ready(), 8, "round {round}");
        let mut peeked = [Cqe::default(); 8];
        assert_eq!(ring.peek_batch(&mut peeked), 8);
        let peeked: Vec<u64> = peeked.iter().map(|c| c.user_data()).collect();
        assert_eq!(peeked, Vec::from(expected.clone()), "round {round}");
    }
    let sum: u64 = ring.completions().map(|c| c.user_data()).sum();
    assert_eq!(sum, expected.iter().sum::<u64>());
    assert_eq!(ring.ready(), 0);
}

// ---------------------------------------------------------------------------
// Completion readers: 32-byte and mixed CQEs
// ---------------------------------------------------------------------------

/// The payload a big completion of op `u` carries.
fn big_words(u: u64) -> [u64; 2] {
    [u ^ 0xabcd, !u]
}

/// On a ring of `C` CQEs, wherever the head stands: `for_each` that unwinds
/// at every place, then `nth`, `position` and `count`, read each completion
/// once and in order, and a fold hands out the extra words of big ones
/// intact. Every other op posts a big
/// completion; on a mixed ring the others are small, so that big ones meet
/// the end of the array (after the kernel's padding).
fn fold_panics_at_every_place<C: CqeSize>(mut ring: Ring<Sqe64, C>, cq: u64)
where
    for<'a> uring::Completions<'a, C>: Iterator<Item = C::Cqe>,
{
    let push = |ring: &mut Ring<Sqe64, C>, u: u64| {
        let op = if u % 2 == 1 {
            Nop::new().user_data(u).big_cqe(big_words(u))
        } else {
            Nop::new().user_data(u)
        };
        ring.push(op).unwrap();
    };
    let ud = |c: &C::Cqe| -> u64 { c.as_ref().user_data() };
    for offset in 0..cq {
        for n in [1u64, 2, 3, 5] {
            for at in [0, n / 2, n - 1] {
                for i in 0..offset {
                    push(&mut ring, 1000 + i);
                    ring.submit_and_wait(1).unwrap();
                    assert_eq!(ring.completions().count(), 1);
                }
                for i in 0..n {
                    push(&mut ring, i);
                }
                ring.submit_and_wait(n as u32).unwrap();
                let mut given = Vec::new();
                expect_stop(|| {
                    ring.completions().for_each(|c| {
                        given.push(ud(&c));
                        if ud(&c) == at {
                            stop();
                        }
                    })
                });
                let rest: Vec<u64> = ring.completions().map(|c| ud(&c)).collect();
                let what = format!("head +{offset}, {n} ops, stop at {at}");
                assert_eq!(given, (0..=at).collect::<Vec<_>>(), "{what}");
                assert_eq!(rest, (at + 1..n).collect::<Vec<_>>(), "{what}");
                // `nth` and `position` go through `next`, `count` through
                // `fold`: together, each completion once.
                for i in 0..n {
                    push(&mut ring, 10 + i);
                }
                ring.submit_and_wait(n as u32).unwrap();
                let mut it = ring.completions();
                // `nth(0)` on purpose: it goes through `advance_by`.
                #[allow(clippy::iter_nth_zero)]
                let first = it.nth(0).map(|c| ud(&c));
                let pos = it.position(|c| ud(&c) == 10 + n / 2);
                let left = it.count() as u64;
                assert_eq!(first, Some(10), "{what}");
                let pos = pos.map(|p| p as u64);
                if n / 2 >= 1 {
                    assert_eq!(pos, Some(n / 2 - 1), "{what}");
                    assert_eq!(left, n - n / 2 - 1, "{what}");
                } else {
                    assert_eq!((pos, left), (None, 0), "{what}");
                }
                assert_eq!(ring.completions().count(), 0, "{what}");
            }
        }
    }
    // The extra words of big completions survive every reader (three of
    // them, with their padding, fit a mixed CQ of eight slots).
    for i in 0..3u64 {
        push(&mut ring, 2 * i + 1);
    }
    ring.submit_and_wait(3).unwrap();
    let mut uds = Vec::new();
    ring.completions().for_each(|c| {
        let c: &dyn std::any::Any = &c;
        if let Some(big) = c.downcast_ref::<uring::BigCqe>() {
            assert_eq!(big.big_cqe(), big_words(big.user_data()));
            uds.push(big.user_data());
        }
    });
    assert_eq!(uds, [1, 3, 5]);
    assert_eq!(ring.completions().count(), 0);
}

#[test]
fn folds_over_32_byte_and_mixed_cqes_unwind_and_resume_at_every_place() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "big NOP completions and mixed CQEs") {
        return;
    }
    let ring = Builder::new()
        .cq_entries(8)
        .build_sized::<Sqe64, Cqe32>(8)
        .unwrap();
    fold_panics_at_every_place::<Cqe32>(ring, 8);
    let ring = Builder::new()
        .cq_entries(8)
        .build_sized::<Sqe64, CqeMixed>(8)
        .unwrap();
    fold_panics_at_every_place::<CqeMixed>(ring, 8);
    let ring = Builder::new()
        .cq_entries(8)
        .build_sized::<Sqe64, Cqe16>(8)
        .unwrap();
    // On a ring of 16-byte CQEs a NOP asking for a big one fails: only the
    // small ones are pushed there.
    let mut ring = ring;
    for round in 0..20u64 {
        for i in 0..5 {
            ring.push(Nop::new().user_data(round * 10 + i)).unwrap();
        }
        ring.submit_and_wait(5).unwrap();
        let mut given = Vec::new();
        expect_stop(|| {
            ring.completions().for_each(|c| {
                given.push(c.user_data());
                if given.len() as u64 == 1 + round % 5 {
                    stop();
                }
            })
        });
        let rest: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
        given.extend(rest);
        assert_eq!(given, (round * 10..round * 10 + 5).collect::<Vec<_>>());
    }
}

/// `submit_and_wait(want)` promises `want` completions when it returns
/// `Ok`; on a mixed CQ the kernel counts slots, and a big completion takes
/// two: a wait for two returns with one completion ready, the other op
/// (a 200 ms timeout) still running.
#[test]
fn a_wait_on_a_mixed_cq_counts_completions_not_slots() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "mixed CQEs") {
        return;
    }
    let mut ring = Builder::new()
        .cq_entries(16)
        .build_sized::<Sqe64, CqeMixed>(8)
        .unwrap();
    ring.push(Nop::new().user_data(1).big_cqe([1, 2])).unwrap();
    ring.push(Timeout::new(Duration::from_millis(200)).user_data(2))
        .unwrap();
    let started = Instant::now();
    ring.submit_and_wait(2).unwrap();
    let waited = started.elapsed();
    let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    // Read the rest anyway, so that the ring is left clean.
    let mut rest = Vec::new();
    while got.len() + rest.len() < 2 {
        ring.submit_and_wait(1).unwrap();
        rest.extend(ring.completions().map(|c| c.user_data()));
    }
    assert_eq!(
        got,
        [1, 2],
        "submit_and_wait(2) returned after {waited:?} with {got:?} ready"
    );
}

// ---------------------------------------------------------------------------
// Completion readers: multishot ops and owned buffers mid-batch
// ---------------------------------------------------------------------------

/// Two multishot timeouts of four firings each, one over an owned buffer
/// (tagged) and one plain (untagged in a scope that tags few): all eight
/// completions are read in one batch that unwinds at each place in turn.
/// Each op counts out of the scope at its last completion (the one without
/// `IORING_CQE_F_MORE`) and at no other; the buffer comes back with that
/// completion alone, whether the closure unwound before or after it.
#[test]
fn multishot_ops_ending_mid_fold_count_out_once_and_hand_their_buffer_back_once() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        for at in 0..8usize {
            let mut ring = Ring::new(8).unwrap();
            if tag_all {
                make_scopes_tag_every_op(&mut ring);
            }
            let (seen, in_flight_after_panic) = ring.scope(|s| {
                let every = Duration::from_millis(2);
                s.push_owned(vec![0x77; 8], |_, sq| {
                    sq.push(
                        Timeout::new(every)
                            .count(4)
                            .timeout_flags(TimeoutFlags::MULTISHOT)
                            .user_data(5),
                    )
                })
                .unwrap();
                s.push(
                    Timeout::new(every)
                        .count(4)
                        .timeout_flags(TimeoutFlags::MULTISHOT)
                        .user_data(6),
                )
                .unwrap();
                s.submit().unwrap();
                let end = Instant::now() + PATIENCE;
                while s.ready() < 8 && Instant::now() < end {
                    let _ = s.wait_timeout(8, Duration::from_millis(50));
                }
                assert_eq!(s.ready(), 8, "the eight firings");
                assert_eq!(s.in_flight(), 2);
                // (user_data, more, buffer)
                let mut seen: Vec<(u64, bool, Option<Vec<u8>>)> = Vec::new();
                expect_stop(|| {
                    s.completions().for_each(|mut c| {
                        assert_eq!(c.res(), -libc::ETIME);
                        seen.push((c.user_data(), c.has_more(), c.take_buf()));
                        if seen.len() == at + 1 {
                            stop();
                        }
                    })
                });
                let after = s.in_flight();
                for mut c in s.completions() {
                    seen.push((c.user_data(), c.has_more(), c.take_buf()));
                }
                assert_eq!(s.in_flight(), 0);
                (seen, (after, at))
            });
            let (after, at) = in_flight_after_panic;
            let ended_before = seen[..=at].iter().filter(|(_, more, _)| !more).count() as u32;
            assert_eq!(after, 2 - ended_before, "at {at}, tag_all {tag_all}");
            for op in [5u64, 6] {
                let mine: Vec<_> = seen.iter().filter(|(u, _, _)| *u == op).collect();
                let more: Vec<bool> = mine.iter().map(|(_, m, _)| *m).collect();
                assert_eq!(more, [true, true, true, false], "op {op}: {seen:?}");
                let bufs: Vec<bool> = mine.iter().map(|(_, _, b)| b.is_some()).collect();
                let want = if op == 5 {
                    [false, false, false, true]
                } else {
                    [false; 4]
                };
                assert_eq!(bufs, want, "op {op}");
            }
            let buf = seen.iter().find_map(|(_, _, b)| b.clone()).unwrap();
            assert_eq!(buf, [0x77; 8]);
            assert_eq!(ring.ready(), 0);
        }
    }
}

// ---------------------------------------------------------------------------
// Helpers of the Unix-domain attacks
// ---------------------------------------------------------------------------

/// A name no other test (or run) uses, `len` bytes long, with a NUL byte and
/// bytes that are not UTF-8 in it, for abstract addresses.
fn abstract_name(tag: &str, len: usize) -> Vec<u8> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let mut name = format!(
        "ur-{tag}-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
    .into_bytes();
    name.extend_from_slice(b"\0\xff\xfe");
    assert!(name.len() <= len, "{len} is too short for a unique name");
    name.resize(len, b'~');
    name
}

/// A path in `dir` whose bytes number exactly `len`.
fn path_of_len(dir: &Path, tag: &str, len: usize) -> PathBuf {
    let base = dir.as_os_str().len() + 1 + tag.len();
    assert!(base < len, "the directory's path is too long for {len}");
    let path = dir.join(format!("{tag}{}", "z".repeat(len - base)));
    assert_eq!(path.as_os_str().len(), len);
    path
}

/// The inode of the file `fd` names.
fn inode(fd: BorrowedFd<'_>) -> u64 {
    // SAFETY: all-zero bytes are a valid `stat`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open (borrowed), `st` is writable.
    let rc = unsafe { libc::fstat(fd.as_raw_fd(), &mut st) };
    assert_eq!(rc, 0, "fstat: {}", std::io::Error::last_os_error());
    st.st_ino
}

/// One end of a socket pair whose descriptors the tests pass around, and
/// the other end, which tells whether any descriptor of the first is left
/// anywhere: in this process, in a message in flight, or in the kernel.
struct Tracked {
    ino: u64,
    passed: Option<std::os::unix::net::UnixStream>,
    observer: std::os::unix::net::UnixStream,
}

impl Tracked {
    fn new() -> Tracked {
        let (passed, observer) = std::os::unix::net::UnixStream::pair().unwrap();
        observer.set_nonblocking(true).unwrap();
        Tracked {
            ino: inode(passed.as_fd()),
            passed: Some(passed),
            observer,
        }
    }

    /// `n` new descriptors of the passed end.
    fn dups(&self, n: usize) -> Vec<OwnedFd> {
        let passed = self.passed.as_ref().expect("the passed end is still ours");
        (0..n)
            .map(|_| OwnedFd::from(passed.try_clone().unwrap()))
            .collect()
    }

    /// Closes the test's own descriptor of the passed end (the copies made
    /// with `dups` live on).
    fn close_own(&mut self) {
        self.passed = None;
    }

    /// The descriptors of this process that name the passed end.
    fn in_table(&self) -> usize {
        let want = format!("socket:[{}]", self.ino);
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy() == want.as_str())
            })
            .count()
    }

    /// Whether every descriptor of the passed end is closed, everywhere
    /// (the observer reads the end of the stream): waits up to a second
    /// for the kernel to release what it held.
    fn all_closed(&self) -> bool {
        let end = Instant::now() + Duration::from_secs(1);
        loop {
            let mut byte = [0u8; 1];
            match (&self.observer).read(&mut byte) {
                Ok(0) => return true,
                Ok(_) => panic!("nothing writes to the passed end"),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("reading the observer: {e}"),
            }
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Whether each of `fds` names the passed end.
    fn names_passed(&self, fds: &[OwnedFd]) -> bool {
        fds.iter().all(|fd| inode(fd.as_fd()) == self.ino)
    }
}

/// The raw numbers of `fds`.
fn raw(fds: &[OwnedFd]) -> Vec<RawFd> {
    fds.iter().map(|fd| fd.as_raw_fd()).collect()
}

/// Runs `reactor` while `busy` says so, up to [`PATIENCE`].
fn run_while(reactor: &Reactor, mut busy: impl FnMut() -> bool) {
    let end = Instant::now() + PATIENCE;
    while busy() {
        assert!(Instant::now() < end, "the reactor did not get there");
        run_for(reactor, 2);
    }
}

// ---------------------------------------------------------------------------
// Unix-domain addresses
// ---------------------------------------------------------------------------

/// Paths of exactly 107 bytes (the most `sun_path` holds with its NUL)
/// work end to end: bind, connect, addresses, a datagram's sender. One byte
/// more, or many, is `InvalidInput` from every entry point, with the
/// buffer of a send handed back; nothing panics.
#[test]
fn paths_at_and_past_the_sun_path_limit() {
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let longest = path_of_len(dir.path(), "l", 107);
    let addr = SockAddr::unix(&longest).unwrap();
    assert_eq!(addr.len(), 2 + 107 + 1);
    assert_eq!(
        addr.as_unix_addr().unwrap().as_pathname(),
        Some(longest.as_path())
    );
    assert_eq!(addr.as_socket_addr(), None);
    let listener = UnixListener::bind(&h, &longest).unwrap();
    assert_eq!(
        listener.local_addr().unwrap().as_pathname(),
        Some(longest.as_path())
    );
    let sender_path = path_of_len(dir.path(), "s", 107);
    let sender = UnixDatagram::bind(&h, &sender_path).unwrap();
    let receiver = UnixDatagram::bind(&h, dir.path().join("r")).unwrap();
    let receiver_path = dir.path().join("r");
    let (l2, s2) = (longest.clone(), sender_path.clone());
    reactor
        .run_until(async move {
            let client = UnixStream::connect(&h, &l2).await.unwrap();
            let server = listener.accept().await.unwrap();
            assert_eq!(
                client.peer_addr().unwrap().as_pathname(),
                Some(l2.as_path())
            );
            assert_eq!(
                server.local_addr().unwrap().as_pathname(),
                Some(l2.as_path())
            );
            let (r, _) = client.write_all(b"107".to_vec()).await;
            r.unwrap();
            let (n, buf) = server.read(vec![0; 8]).await;
            assert_eq!(&buf[..n.unwrap()], b"107");
            let (r, _) = sender.send_to(b"from 107".to_vec(), &receiver_path).await;
            assert_eq!(r.unwrap(), 8);
            let (n, buf, from) = receiver.recv_from(vec![0; 16]).await;
            assert_eq!(&buf[..n.unwrap()], b"from 107");
            assert_eq!(from.unwrap().as_pathname(), Some(s2.as_path()));
        })
        .unwrap();
    let h = reactor.handle();
    for len in [108, 109, 110, 200, 4096] {
        let long = path_of_len(dir.path(), "x", len);
        let invalid = |e: std::io::Error| {
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{len}: {e}");
        };
        invalid(SockAddr::unix(&long).unwrap_err());
        invalid(UnixListener::bind(&h, &long).unwrap_err());
        invalid(UnixDatagram::bind(&h, &long).unwrap_err());
        let d = UnixDatagram::unbound(&h).unwrap();
        invalid(d.connect(&long).unwrap_err());
        let (connected, (sent, buf)) = reactor
            .run_until(async {
                let c = UnixStream::connect(&h, &long).await.err();
                (c, d.send_to(b"keep".to_vec(), &long).await)
            })
            .unwrap();
        invalid(connected.expect("no connection to an address too long"));
        invalid(sent.unwrap_err());
        assert_eq!(buf, b"keep", "the buffer comes back");
        assert!(!long.exists(), "nothing was bound at {len} bytes");
    }
}

/// Abstract names up to the 107 bytes `sun_path` holds after the leading
/// NUL, with NUL bytes and bytes that are not UTF-8 inside: bound, reached,
/// and reported as a datagram's sender byte for byte. std refuses to build
/// a longer one, so none reaches the library.
#[test]
fn abstract_names_at_the_limit_with_nul_and_non_utf8_bytes() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    for len in [60, 106, 107] {
        let a_name = abstract_name("a", len);
        let b_name = abstract_name("b", len);
        let a_std = UnixAddr::from_abstract_name(&a_name).unwrap();
        let b_std = UnixAddr::from_abstract_name(&b_name).unwrap();
        let a_addr = SockAddr::from(&a_std);
        assert_eq!(a_addr.len() as usize, 2 + 1 + len);
        assert_eq!(
            a_addr.as_unix_addr().unwrap().as_abstract_name(),
            Some(&a_name[..])
        );
        let a = UnixDatagram::bind_addr(&h, &a_addr).unwrap();
        let b = UnixDatagram::bind_addr(&h, &SockAddr::from(&b_std)).unwrap();
        assert_eq!(
            a.local_addr().unwrap().as_abstract_name(),
            Some(&a_name[..])
        );
        let (sent, got, from) = reactor
            .run_until(async {
                let (r, _) = a
                    .send_to_addr(b"abstract".to_vec(), SockAddr::from(&b_std))
                    .await;
                let (n, buf, from) = b.recv_from(vec![0; 16]).await;
                (r.unwrap(), buf[..n.unwrap()].to_vec(), from)
            })
            .unwrap();
        assert_eq!((sent, &got[..]), (8, &b"abstract"[..]));
        assert_eq!(from.unwrap().as_abstract_name(), Some(&a_name[..]), "{len}");
        // A listener and a stream over the same kind of name.
        let l_name = abstract_name("l", len);
        let l_std = UnixAddr::from_abstract_name(&l_name).unwrap();
        let listener = UnixListener::bind_addr(&h, &SockAddr::from(&l_std)).unwrap();
        let peer = reactor
            .run_until(async {
                let c = UnixStream::connect_addr(&h, SockAddr::from(&l_std))
                    .await
                    .unwrap();
                let _s = listener.accept().await.unwrap();
                c.peer_addr().unwrap()
            })
            .unwrap();
        assert_eq!(peer.as_abstract_name(), Some(&l_name[..]));
    }
    assert!(UnixAddr::from_abstract_name(abstract_name("c", 108)).is_err());
}

/// A NUL byte anywhere in a path is `InvalidInput` from every entry point;
/// a path of bytes that are not UTF-8 works and is reported byte for byte.
#[test]
fn nul_bytes_and_non_utf8_paths() {
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    for bad in ["\0", "a\0b", "abc\0", "\0abc", "\0\0"] {
        let bad = dir.path().join(bad);
        let e = SockAddr::unix(&bad).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{bad:?}");
        let e = UnixListener::bind(&h, &bad).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{bad:?}");
        let e = UnixDatagram::bind(&h, &bad).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{bad:?}");
        let d = UnixDatagram::unbound(&h).unwrap();
        let (r, buf) = reactor.run_until(d.send_to(vec![1, 2, 3], &bad)).unwrap();
        assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(buf, [1, 2, 3]);
    }
    let odd = |tag: &[u8]| {
        let mut bytes = dir.path().as_os_str().as_bytes().to_vec();
        bytes.push(b'/');
        bytes.extend_from_slice(tag);
        PathBuf::from(std::ffi::OsStr::from_bytes(&bytes))
    };
    let (pa, pb) = (odd(b"\xff\xfe-a"), odd(b"\xc0\x80-b"));
    assert!(pa.to_str().is_none(), "not UTF-8");
    let a = UnixDatagram::bind(&h, &pa).unwrap();
    let b = UnixDatagram::bind(&h, &pb).unwrap();
    assert_eq!(a.local_addr().unwrap().as_pathname(), Some(pa.as_path()));
    let from = reactor
        .run_until(async {
            let (r, _) = a.send_to(b"odd".to_vec(), &pb).await;
            r.unwrap();
            let (n, buf, from) = b.recv_from(vec![0; 8]).await;
            assert_eq!(&buf[..n.unwrap()], b"odd");
            from
        })
        .unwrap();
    assert_eq!(from.unwrap().as_pathname(), Some(pa.as_path()));
    let listener = UnixListener::bind(&h, odd(b"\x80listen")).unwrap();
    let h2 = h.clone();
    let peer = reactor
        .run_until(async move {
            let c = UnixStream::connect(&h2, odd(b"\x80listen")).await.unwrap();
            let _s = listener.accept().await.unwrap();
            c.peer_addr().unwrap()
        })
        .unwrap();
    assert_eq!(peer.as_pathname(), Some(odd(b"\x80listen").as_path()));
}

/// The empty path names no file: it must be refused. It is turned into the
/// abstract name of no bytes (`sun_path[0] == 0` with a length of 3), so a
/// program that binds or connects to a path it got empty (an unset setting)
/// binds that abstract name, or connects to whoever holds it.
#[test]
fn the_empty_path_is_refused() {
    let _watch = uring_tests::watchdog();
    let got = SockAddr::unix("");
    let shown = format!("{got:?}");
    let e = got.expect_err(&format!("the empty path was accepted as {shown}"));
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let bound = UnixDatagram::bind(&h, "").map(|d| d.local_addr());
    assert!(bound.is_err(), "binding the empty path gave {bound:?}");
}

/// Binds (or, with `connect`, connects) `socket` to `path` with a system
/// call taking a full `sockaddr_un`, which takes a path that fills
/// `sun_path` with no NUL after it (108 bytes): the library and std refuse
/// to build such an address, but any other program may bind one.
fn at_raw_path(socket: BorrowedFd<'_>, path: &Path, connect: bool) {
    let bytes = path.as_os_str().as_bytes();
    // SAFETY: all-zero bytes are a valid `sockaddr_un`.
    let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    assert!(bytes.len() <= sun.sun_path.len());
    sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (dst, &src) in sun.sun_path.iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    let addr = (&sun as *const libc::sockaddr_un).cast();
    // SAFETY: `addr` is a valid `sockaddr_un` of `len` bytes, alive for the
    // call; `socket` is open (borrowed).
    let rc = unsafe {
        if connect {
            libc::connect(socket.as_raw_fd(), addr, len)
        } else {
            libc::bind(socket.as_raw_fd(), addr, len)
        }
    };
    assert_eq!(rc, 0, "{path:?}: {}", std::io::Error::last_os_error());
}

/// A peer bound (by another program) to a path of 108 bytes, which fills
/// `sun_path` without a NUL: the kernel reports it, and std's own sockets
/// read it as that path. So do a stream's `peer_addr` and `SockAddr::from`
/// std's address. A datagram's sender read from a message header cannot
/// be: std has no public constructor for a path of 108 bytes, and the
/// library reports `None` (documented on `SockAddrBuf::unix_addr`), never
/// another address.
#[test]
fn a_peer_bound_to_a_full_sun_path_is_reported_by_its_path() {
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let full = path_of_len(dir.path(), "f", 108);
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    // A datagram sender at the full path: std reads its address.
    let sender = std::os::unix::net::UnixDatagram::unbound().unwrap();
    at_raw_path(sender.as_fd(), &full, false);
    let std_addr = sender.local_addr().unwrap();
    assert_eq!(std_addr.as_pathname(), Some(full.as_path()));
    let std_receiver = std::os::unix::net::UnixDatagram::bind(dir.path().join("std")).unwrap();
    sender.send_to(b"to std", dir.path().join("std")).unwrap();
    let mut buf = [0u8; 16];
    let (_, from) = std_receiver.recv_from(&mut buf).unwrap();
    assert_eq!(from.as_pathname(), Some(full.as_path()), "std's reading");
    // The library's reading of the same sender.
    let receiver = UnixDatagram::bind(&h, dir.path().join("r")).unwrap();
    sender.send_to(b"to uring", dir.path().join("r")).unwrap();
    let (n, _, from) = reactor.run_until(receiver.recv_from(vec![0; 16])).unwrap();
    assert_eq!(n.unwrap(), 8);
    // A stream whose peer listens at a full path.
    let full_stream = path_of_len(dir.path(), "g", 108);
    let sock = uring_tests::socket(libc::AF_UNIX, libc::SOCK_STREAM).unwrap();
    at_raw_path(sock.as_fd(), &full_stream, false);
    // SAFETY: listen(2) on a socket this test owns.
    assert_eq!(unsafe { libc::listen(sock.as_raw_fd(), 4) }, 0);
    let listener = std::os::unix::net::UnixListener::from(sock);
    let client_fd = uring_tests::socket(libc::AF_UNIX, libc::SOCK_STREAM).unwrap();
    at_raw_path(client_fd.as_fd(), &full_stream, true);
    let std_client = std::os::unix::net::UnixStream::from(client_fd);
    let _accepted = listener.accept().unwrap();
    assert_eq!(
        std_client.peer_addr().unwrap().as_pathname(),
        Some(full_stream.as_path()),
        "std's reading"
    );
    let client = UnixStream::from_std(&h, std_client);
    let peer = client.peer_addr();
    let converted = SockAddr::from(&std_addr);
    assert!(from.is_none(), "a datagram's sender read as {from:?}");
    assert_eq!(
        peer.as_ref().ok().and_then(|a| a.as_pathname()),
        Some(full_stream.as_path()),
        "a stream's peer read as {peer:?}"
    );
    // The conversion fills `sun_path` with the path, no NUL after it (std
    // cannot read such an address back from bytes, so compare the bytes).
    assert_eq!(
        converted.len() as usize,
        std::mem::size_of::<libc::sockaddr_un>(),
        "std's address converted to {converted:?}"
    );
    // SAFETY: the address is a `sockaddr_un` (the family says so), inside
    // the storage `as_ptr` points to, alive while `converted` is.
    let sun = unsafe { &*converted.as_ptr().cast::<libc::sockaddr_un>() };
    assert_eq!(sun.sun_family, libc::AF_UNIX as libc::sa_family_t);
    let bytes: Vec<u8> = sun.sun_path.iter().map(|&b| b as u8).collect();
    assert_eq!(bytes, full.as_os_str().as_bytes());
}

/// `RecvFrom::unix` on a UDP socket, `RecvFrom::new` on Unix-domain
/// datagram sockets (a bound sender and an unbound one): the datagram is
/// received whole, and the sender's address, of the other family, reads
/// as `None`, never as a wrong address.
#[test]
fn sender_addresses_read_as_the_other_family_are_none() {
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_addr = udp.local_addr().unwrap();
    let udp_sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp_sender.send_to(b"over udp", udp_addr).unwrap();
    let udp_fd = SharedFd::new(udp);
    let (r, (buf, from)) = reactor
        .run_until(h.op(RecvFrom::unix(&udp_fd, vec![0u8; 32])))
        .unwrap();
    assert_eq!(&buf[..r.unwrap() as usize], b"over udp");
    assert!(from.is_none(), "an IP sender read as Unix: {from:?}");
    // And the same socket through `RecvFrom::new`, for comparison.
    udp_sender.send_to(b"again", udp_addr).unwrap();
    let (r, (buf, from)) = reactor
        .run_until(h.op(RecvFrom::new(&udp_fd, vec![0u8; 32])))
        .unwrap();
    assert_eq!(&buf[..r.unwrap() as usize], b"again");
    assert_eq!(from, Some(udp_sender.local_addr().unwrap()));
    // Unix datagrams through the IP reading.
    let rx_path = dir.path().join("rx");
    let rx = std::os::unix::net::UnixDatagram::bind(&rx_path).unwrap();
    let bound = std::os::unix::net::UnixDatagram::bind(dir.path().join("tx")).unwrap();
    let unbound = std::os::unix::net::UnixDatagram::unbound().unwrap();
    bound.send_to(b"bound", &rx_path).unwrap();
    unbound.send_to(b"unbound", &rx_path).unwrap();
    let rx_fd = SharedFd::new(rx);
    for want in [&b"bound"[..], b"unbound"] {
        let (r, (buf, from)) = reactor
            .run_until(h.op(RecvFrom::new(&rx_fd, vec![0u8; 32])))
            .unwrap();
        assert_eq!(&buf[..r.unwrap() as usize], want);
        assert_eq!(from, None, "a Unix sender read as IP");
    }
}

/// A TCP stream read through `RecvFrom::unix`: the kernel writes no sender
/// address for a connected stream, which on a Unix-domain socket would be
/// an unbound sender's; an IP socket has no Unix-domain sender: `None`.
#[test]
fn a_tcp_peer_is_no_unix_sender() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    client.write_all(b"tcp bytes").unwrap();
    let fd = SharedFd::new(server);
    let (r, (buf, from)) = reactor
        .run_until(h.op(RecvFrom::unix(&fd, vec![0u8; 32])))
        .unwrap();
    assert_eq!(&buf[..r.unwrap() as usize], b"tcp bytes");
    assert!(
        from.is_none(),
        "a TCP peer read as the Unix-domain sender {from:?}"
    );
}

/// Receives one datagram on `socket` through a scope's `RecvMsg` whose
/// sender address goes into `from`; returns the length the kernel
/// reported for it.
fn recv_into_addr_buf(socket: BorrowedFd<'_>, from: &mut SockAddrBuf) -> u32 {
    let mut ring = Ring::new(2).unwrap();
    let mut data = [0u8; 64];
    let mut iov = [std::io::IoSliceMut::new(&mut data)];
    let mut msg = uring::MsgHdrMut::new(&mut iov).from(from);
    let res = ring.scope(|s| {
        s.push(uring::ops::RecvMsg::new(&socket, &mut msg).user_data(1))
            .unwrap();
        s.submit().unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        s.completions().next().unwrap().res()
    });
    assert!(res > 0, "recvmsg: {res}");
    msg.name_len()
}

/// Address buffers the kernel filled (IPv4, IPv6, a Unix path, an abstract
/// name, an unbound Unix sender) and one it never touched, read with every
/// length `set_len` is given: 0, odd ones, each side of each family's size,
/// more than the storage, `u32::MAX`. Nothing panics, `Debug` prints, and
/// each reading is exactly the address cut to that length, or `None`.
#[test]
fn address_buffers_read_with_any_length() {
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let lens: Vec<u32> = vec![
        0,
        1,
        2,
        3,
        4,
        7,
        15,
        16,
        17,
        27,
        28,
        29,
        100,
        109,
        110,
        111,
        127,
        128,
        129,
        4096,
        u32::MAX - 1,
        u32::MAX,
    ];
    // Untouched: nothing is an address of any family (the length 0 reads
    // as the unnamed address by the buffer's documented convention).
    let mut fresh = SockAddrBuf::new();
    assert_eq!(fresh.socket_addr(), None);
    assert!(fresh.unix_addr().is_none());
    for &len in &lens {
        fresh.set_len(len);
        assert_eq!(fresh.socket_addr(), None, "{len}");
        if len > 0 {
            assert!(fresh.unix_addr().is_none(), "{len}");
        }
        let _ = format!("{fresh:?}");
    }
    // IPv4 and IPv6 senders.
    let mut ip_senders = vec![("127.0.0.1:0", 16u32)];
    if std::net::UdpSocket::bind("[::1]:0").is_ok() {
        ip_senders.push(("[::1]:0", 28));
    }
    for (bind, size) in ip_senders {
        let rx = std::net::UdpSocket::bind(bind).unwrap();
        let tx = std::net::UdpSocket::bind(bind).unwrap();
        tx.send_to(b"ip", rx.local_addr().unwrap()).unwrap();
        let mut buf = SockAddrBuf::new();
        let reported = recv_into_addr_buf(rx.as_fd(), &mut buf);
        assert_eq!(reported, size);
        for &len in &lens {
            buf.set_len(len);
            let want = (len >= size).then(|| tx.local_addr().unwrap());
            assert_eq!(buf.socket_addr(), want, "{bind}, {len}");
            if len > 0 {
                assert!(buf.unix_addr().is_none(), "{bind}, {len}");
            }
            let _ = format!("{buf:?}");
        }
    }
    // A Unix path, an abstract name, an unbound sender.
    let rx_path = dir.path().join("rx");
    let rx = std::os::unix::net::UnixDatagram::bind(&rx_path).unwrap();
    let tx_path = dir.path().join("sender");
    let by_path = std::os::unix::net::UnixDatagram::bind(&tx_path).unwrap();
    let name = abstract_name("buf", 40);
    let by_name =
        std::os::unix::net::UnixDatagram::bind_addr(&UnixAddr::from_abstract_name(&name).unwrap())
            .unwrap();
    let unbound = std::os::unix::net::UnixDatagram::unbound().unwrap();
    let path_bytes = tx_path.as_os_str().as_bytes().to_vec();
    let p = path_bytes.len() as u32;
    by_path.send_to(b"path", &rx_path).unwrap();
    let mut buf = SockAddrBuf::new();
    assert_eq!(recv_into_addr_buf(rx.as_fd(), &mut buf), 2 + p + 1);
    for &len in &lens {
        buf.set_len(len);
        assert_eq!(buf.socket_addr(), None, "{len}");
        let got = buf.unix_addr().expect("a Unix address");
        // The path, cut to what the length leaves of it.
        let keep = (len.min(128) as usize)
            .saturating_sub(2)
            .min(path_bytes.len());
        if keep == 0 {
            assert!(got.is_unnamed(), "{len}: {got:?}");
        } else {
            let want = std::ffi::OsStr::from_bytes(&path_bytes[..keep]);
            assert_eq!(got.as_pathname(), Some(Path::new(want)), "{len}");
        }
        let _ = format!("{buf:?}");
    }
    by_name.send_to(b"name", &rx_path).unwrap();
    let mut buf = SockAddrBuf::new();
    assert_eq!(
        recv_into_addr_buf(rx.as_fd(), &mut buf),
        2 + 1 + name.len() as u32
    );
    // What `sun_path` holds after the leading NUL: the name, then zeros.
    let mut after = name.clone();
    after.resize(107, 0);
    for &len in &lens {
        buf.set_len(len);
        let got = buf.unix_addr().expect("a Unix address");
        let room = (len.min(128) as usize).saturating_sub(2).min(108);
        if room == 0 {
            assert!(got.is_unnamed(), "{len}: {got:?}");
        } else {
            assert_eq!(got.as_abstract_name(), Some(&after[..room - 1]), "{len}");
        }
    }
    unbound.send_to(b"anon", &rx_path).unwrap();
    let mut buf = SockAddrBuf::new();
    let reported = recv_into_addr_buf(rx.as_fd(), &mut buf);
    assert_eq!(reported, 0, "an unbound sender has no address");
    buf.set_len(reported);
    assert!(buf.unix_addr().unwrap().is_unnamed());
    assert_eq!(buf.socket_addr(), None);
}

// ---------------------------------------------------------------------------
// Descriptors passed along Unix-domain sockets
// ---------------------------------------------------------------------------

/// No descriptor, the most one message passes (253, with credentials
/// records taking room of their own), one more, and hundreds more: the
/// first two arrive exactly, the others fail with `EINVAL`, send nothing,
/// and hand every descriptor back; a receive with room for none, for one
/// (which the rounding to whole words makes two) and for `usize::MAX`
/// takes what fits, and the kernel closes the rest: none is leaked,
/// anywhere.
#[test]
fn descriptors_passed_by_none_and_by_hundreds() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (a, b) = UnixStream::pair(&h).unwrap();
    let mut t = Tracked::new();
    let t = &mut t;
    let max = uring::reactor::ops::MAX_FDS;
    reactor
        .run_until(async {
            let (r, buf, back) = a.send_with_fds(b"none".to_vec(), Vec::new()).await;
            assert_eq!((r.unwrap(), &buf[..], back.len()), (4, &b"none"[..], 0));
            let (r, buf, got) = b.recv_with_fds(vec![0; 16], 8).await;
            assert_eq!((&buf[..r.unwrap()], got.len()), (&b"none"[..], 0));
            // The most, to a receiver with credentials passing on.
            uring_tests::set_int_option(b.as_fd(), libc::SOL_SOCKET, libc::SO_PASSCRED, 1).unwrap();
            let fds = t.dups(max);
            let nums = raw(&fds);
            let (r, _, back) = a.send_with_fds(b"most".to_vec(), fds).await;
            assert_eq!(r.unwrap(), 4);
            assert_eq!(raw(&back), nums, "the sender's own come back");
            let (r, buf, got) = b.recv_with_fds(vec![0; 16], max).await;
            assert_eq!(&buf[..r.unwrap()], b"most");
            assert_eq!(got.len(), max);
            assert!(t.names_passed(&got));
            assert_eq!(t.in_table(), 1 + 2 * max);
            drop((back, got));
            uring_tests::set_int_option(b.as_fd(), libc::SOL_SOCKET, libc::SO_PASSCRED, 0).unwrap();
            // Too many: refused whole.
            for n in [max + 1, 300, 1000] {
                let fds = t.dups(n);
                let nums = raw(&fds);
                let (r, buf, back) = a.send_with_fds(vec![7u8; 3], fds).await;
                assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EINVAL), "{n}");
                assert_eq!(buf, [7, 7, 7]);
                assert_eq!(raw(&back), nums, "{n}");
                assert!(t.names_passed(&back));
            }
            assert_eq!(t.in_table(), 1);
            let (r, _, _) = a.send_with_fds(b"mark".to_vec(), Vec::new()).await;
            r.unwrap();
            let (r, buf, got) = b.recv_with_fds(vec![0; 16], max).await;
            assert_eq!(&buf[..r.unwrap()], b"mark", "nothing else was sent");
            assert!(got.is_empty());
            // Receives with little room, and with `usize::MAX`.
            for (room, sent, fit) in [(0, 3, 0), (1, 3, 2), (2, 5, 2), (usize::MAX, 5, 5)] {
                let (r, _, back) = a.send_with_fds(b"some".to_vec(), t.dups(sent)).await;
                r.unwrap();
                drop(back);
                let (r, buf, got) = b.recv_with_fds(vec![0; 16], room).await;
                assert_eq!(&buf[..r.unwrap()], b"some", "room {room}");
                assert_eq!(got.len(), fit, "room {room}, {sent} sent");
                assert!(t.names_passed(&got));
                assert_eq!(t.in_table(), 1 + fit, "room {room}: the rest were closed");
            }
        })
        .unwrap();
    t.close_own();
    assert!(t.all_closed(), "a descriptor of the passed end was leaked");
}

/// Descriptors sent and never received: to a stream whose peer is then
/// closed, to a datagram peer that is closed, and along a UDP socket
/// (which ignores the record and sends the bytes alone). Each send hands
/// the sender's own back, and once the receiving sockets are gone no copy
/// is left anywhere. A send to a peer already closed fails with `EPIPE`.
#[test]
fn descriptors_to_peers_that_close_are_released() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let mut t = Tracked::new();
    let (a, b) = UnixStream::pair(&h).unwrap();
    let (da, db) = UnixDatagram::pair(&h).unwrap();
    let udp_rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp_tx.connect(udp_rx.local_addr().unwrap()).unwrap();
    let udp_tx = SharedFd::new(udp_tx);
    let (x, y) = UnixStream::pair(&h).unwrap();
    drop(y);
    let tr = &t;
    reactor
        .run_until(async {
            for _ in 0..3 {
                let (r, _, back) = a.send_with_fds(b"queued".to_vec(), tr.dups(10)).await;
                assert_eq!(r.unwrap(), 6);
                assert_eq!(back.len(), 10);
            }
            let (r, (_, back)) = h
                .op(SendWithFds::new(
                    da.shared_fd(),
                    b"dgram".to_vec(),
                    tr.dups(4),
                ))
                .await;
            assert_eq!(r.unwrap(), 5);
            assert_eq!(back.len(), 4);
            let (r, (_, back)) = h
                .op(SendWithFds::new(&udp_tx, b"udp".to_vec(), tr.dups(4)))
                .await;
            assert_eq!(r.unwrap(), 3);
            assert_eq!(back.len(), 4);
            let (r, _, back) = x.send_with_fds(b"closed".to_vec(), tr.dups(2)).await;
            assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EPIPE));
            assert_eq!(back.len(), 2);
        })
        .unwrap();
    let mut got = [0u8; 8];
    let n = udp_rx.recv(&mut got).unwrap();
    assert_eq!(&got[..n], b"udp");
    assert_eq!(t.in_table(), 1, "only the test's own is in the table");
    // Copies are held by the messages queued to `b` and `db`.
    t.close_own();
    assert!(!t.all_closed(), "the queued messages hold copies");
    drop(b);
    drop(db);
    assert!(t.all_closed(), "the closed peers' messages released theirs");
}

/// Receives with a full descriptor table (run in a process of its own: the
/// limit is the process's). The kernel installs what it can, and the
/// receive still completes with its bytes: with no room at all it gets
/// none, with two free slots exactly two; what it could not install is
/// closed, none is leaked. A listener's stream of connections reports
/// `EMFILE` as an item and accepts the waiting connection once a slot is
/// free.
#[test]
fn descriptors_received_into_a_full_descriptor_table() {
    let _watch = uring_tests::watchdog();
    let name = "descriptors_received_into_a_full_descriptor_table";
    if !uring_tests::in_child(name) {
        uring_tests::run_in_child(name);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (a, b) = UnixStream::pair(&h).unwrap();
    let mut t = Tracked::new();
    let path = dir.path().join("l");
    let listener = UnixListener::bind(&h, &path).unwrap();
    let waiting = std::os::unix::net::UnixStream::connect(&path).unwrap();
    // The table's end: the limit is the lowest descriptor not open yet plus
    // a margin, which fillers then take.
    let probe = t.dups(1).pop().unwrap();
    let limit = probe.as_raw_fd() as u64 + 16;
    drop(probe);
    let rlim = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: setrlimit(2) reads the struct, alive for the call; the child
    // process is this test's alone.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rlim) }, 0);
    let to_send = t.dups(8);
    let mut fillers = Vec::new();
    loop {
        match t.passed.as_ref().unwrap().try_clone() {
            Ok(fd) => fillers.push(fd),
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::EMFILE));
                break;
            }
        }
    }
    let (sent, got_none, got_two, accepted) = reactor
        .run_until(async {
            let (r, _, back) = a.send_with_fds(b"full".to_vec(), to_send).await;
            r.unwrap();
            let (r, buf, none) = b.recv_with_fds(vec![0; 8], 8).await;
            assert_eq!(&buf[..r.unwrap()], b"full");
            let mut incoming = listener.incoming();
            let refused = incoming.next().await.unwrap();
            assert_eq!(
                refused.err().and_then(|e| e.raw_os_error()),
                Some(libc::EMFILE)
            );
            // Two free slots.
            fillers.truncate(fillers.len() - 2);
            let (r, _, again) = a.send_with_fds(b"two".to_vec(), back).await;
            r.unwrap();
            let (r, buf, two) = b.recv_with_fds(vec![0; 8], 8).await;
            assert_eq!(&buf[..r.unwrap()], b"two");
            let n = two.len();
            drop(two);
            let conn = incoming.next().await.unwrap().unwrap();
            (again.len(), none.len(), n, conn)
        })
        .unwrap();
    assert_eq!((sent, got_none, got_two), (8, 0, 2));
    let mut waiting = waiting;
    waiting.write_all(b"late").unwrap();
    let (n, buf) = reactor.run_until(accepted.read(vec![0; 8])).unwrap();
    assert_eq!(&buf[..n.unwrap()], b"late");
    drop(fillers);
    t.close_own();
    assert!(
        t.all_closed(),
        "a descriptor the kernel could not install was leaked"
    );
}

// ---------------------------------------------------------------------------
// Unix-domain ops dropped, detached, forgotten, or left to a dying reactor
// ---------------------------------------------------------------------------

/// A std socket over a new descriptor of `fd`'s socket.
fn std_stream(fd: impl AsFd) -> std::os::unix::net::UnixStream {
    let s = std::os::unix::net::UnixStream::from(fd.as_fd().try_clone_to_owned().unwrap());
    s.set_nonblocking(true).unwrap();
    s
}

/// Writes to `stream` (non-blocking) until its buffer is full.
fn fill(stream: &std::os::unix::net::UnixStream) -> usize {
    stream.set_nonblocking(true).unwrap();
    let chunk = [0x11u8; 4096];
    let mut total = 0;
    loop {
        match (&*stream).write(&chunk) {
            Ok(n) => total += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return total,
            Err(e) => panic!("filling the socket: {e}"),
        }
    }
}

/// A receive of descriptors whose future is dropped while it waits takes
/// nothing: the message sent after it goes, whole, to the next receive.
/// One detached runs to its end, and the descriptors it received are
/// closed with its output. One forgotten takes the message (the reactor
/// still runs it), keeps what it received open, and lets the reactor shut
/// down.
#[test]
fn receives_of_descriptors_dropped_detached_and_forgotten() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (a, mut b) = UnixStream::pair(&h).unwrap();
    let t = Tracked::new();
    // Dropped.
    {
        let mut waiting = Box::pin(b.recv_with_fds(vec![0x5a; 16], 8));
        assert!(poll_once(&mut waiting).is_pending());
        run_for(&reactor, 5);
        assert_eq!(h.in_flight(), 1);
    }
    run_while(&reactor, || h.in_flight() > 0);
    let (sent, got, bytes) = reactor
        .run_until(async {
            let (r, _, back) = a.send_with_fds(b"after".to_vec(), t.dups(3)).await;
            r.unwrap();
            drop(back);
            let (r, buf, got) = b.recv_with_fds(vec![0; 16], 8).await;
            (r.unwrap(), got, buf)
        })
        .unwrap();
    assert_eq!(&bytes[..sent], b"after");
    assert_eq!(got.len(), 3);
    drop(got);
    assert_eq!(t.in_table(), 1);
    // Detached: before and after its completion.
    for complete_first in [false, true] {
        let op = RecvWithFds::new(b.shared_fd(), vec![0u8; 16], 8);
        let mut fut = h.op(op);
        if complete_first {
            let (r, _, back) = reactor
                .run_until(a.send_with_fds(b"detach".to_vec(), t.dups(4)))
                .unwrap();
            r.unwrap();
            drop(back);
            run_for(&reactor, 5);
            fut.detach();
        } else {
            assert!(poll_once(&mut fut).is_pending());
            fut.detach();
            let (r, _, back) = reactor
                .run_until(a.send_with_fds(b"detach".to_vec(), t.dups(4)))
                .unwrap();
            r.unwrap();
            drop(back);
        }
        run_while(&reactor, || h.in_flight() > 0);
        assert_eq!(
            t.in_table(),
            1,
            "the detached receive's descriptors were closed ({complete_first})"
        );
    }
    // Nothing is left in the socket for anyone else.
    b.set_read_deadline(Some(Instant::now() + Duration::from_millis(30)));
    let (r, _, got) = reactor.run_until(b.recv_with_fds(vec![0; 16], 8)).unwrap();
    assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    assert!(got.is_empty());
    b.set_read_deadline(None);
    // Forgotten.
    {
        let mut waiting = Box::pin(b.recv_with_fds(vec![0u8; 16], 8));
        assert!(poll_once(&mut waiting).is_pending());
        std::mem::forget(waiting);
    }
    let (r, _, back) = reactor
        .run_until(a.send_with_fds(b"forgot".to_vec(), t.dups(2)))
        .unwrap();
    r.unwrap();
    drop(back);
    run_while(&reactor, || h.in_flight() > 0);
    assert_eq!(
        t.in_table(),
        1 + 2,
        "what the forgotten receive took is open"
    );
    b.set_read_deadline(Some(Instant::now() + Duration::from_millis(30)));
    let (r, _) = reactor.run_until(b.read(vec![0; 16])).unwrap();
    assert_eq!(
        r.unwrap_err().kind(),
        std::io::ErrorKind::TimedOut,
        "the forgotten receive took the message"
    );
    drop(reactor);
}

/// A listener's stream of connections and an accept future, forgotten
/// while armed, with clients connecting afterwards: the reactor keeps the
/// ops (and what they accept) and still shuts down; the listener's own
/// socket stays usable.
#[test]
fn forgotten_unix_accepts_let_the_reactor_shut_down() {
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l");
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = UnixListener::bind(&h, &path).unwrap();
    let mut incoming = listener.incoming();
    assert!(poll_once(&mut Box::pin(incoming.next())).is_pending());
    std::mem::forget(incoming);
    let mut accept = Box::pin(listener.accept());
    assert!(poll_once(&mut accept).is_pending());
    std::mem::forget(accept);
    run_for(&reactor, 5);
    let clients: Vec<_> = (0..4)
        .map(|_| std::os::unix::net::UnixStream::connect(&path).unwrap())
        .collect();
    run_for(&reactor, 10);
    let started = Instant::now();
    drop(reactor);
    assert!(h.is_shut_down());
    assert!(started.elapsed() < PATIENCE);
    // The listening socket is still there, and takes a new connection.
    let std_listener =
        std::os::unix::net::UnixListener::from(listener.as_fd().try_clone_to_owned().unwrap());
    std_listener.set_nonblocking(true).unwrap();
    let _late = std::os::unix::net::UnixStream::connect(&path).unwrap();
    assert!(std_listener.accept().is_ok());
    drop(clients);
}

/// A reactor dropped with Unix-domain ops in flight (an accept, a datagram
/// receive with its sender's address, a receive of descriptors, and a
/// send of descriptors blocked on a full socket): the drop returns, every
/// future then resolves with an error and hands its buffer back untouched
/// and its descriptors back; no op is left to take what comes afterwards
/// (a connection, a datagram, bytes), and the blocked send sent nothing.
#[test]
fn a_reactor_dropped_with_unix_ops_in_flight() {
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let mut t = Tracked::new();
    let lpath = dir.path().join("l");
    let dpath = dir.path().join("d");
    let listener = UnixListener::bind(&h, &lpath).unwrap();
    let dgram = UnixDatagram::bind(&h, &dpath).unwrap();
    let (a, b) = UnixStream::pair(&h).unwrap();
    let (cs, ds) = std::os::unix::net::UnixStream::pair().unwrap();
    let filled = fill(&cs);
    let c = UnixStream::from_std(&h, cs);
    let to_send = t.dups(3);
    let nums = raw(&to_send);
    let mut accept = Box::pin(listener.accept());
    let mut recv_from = Box::pin(dgram.recv_from(vec![0x5a; 32]));
    let mut recv_fds = Box::pin(b.recv_with_fds(vec![0x6b; 32], 8));
    let mut send_fds = Box::pin(c.send_with_fds(b"blocked".to_vec(), to_send));
    assert!(poll_once(&mut accept).is_pending());
    assert!(poll_once(&mut recv_from).is_pending());
    assert!(poll_once(&mut recv_fds).is_pending());
    assert!(poll_once(&mut send_fds).is_pending());
    run_for(&reactor, 10);
    assert_eq!(h.in_flight(), 4);
    drop(reactor);
    assert!(h.is_shut_down());
    let std::task::Poll::Ready(accepted) = poll_once(&mut accept) else {
        panic!("the accept still waits after the shutdown");
    };
    assert!(accepted.is_err());
    let std::task::Poll::Ready((r, buf, from)) = poll_once(&mut recv_from) else {
        panic!("the receive still waits");
    };
    assert!(r.is_err() && from.is_none());
    assert_eq!(buf, [0x5a; 32], "the buffer comes back untouched");
    let std::task::Poll::Ready((r, buf, fds)) = poll_once(&mut recv_fds) else {
        panic!("the receive of descriptors still waits");
    };
    assert!(r.is_err() && fds.is_empty());
    assert_eq!(buf, [0x6b; 32]);
    let std::task::Poll::Ready((r, buf, back)) = poll_once(&mut send_fds) else {
        panic!("the send still waits");
    };
    assert!(r.is_err(), "{r:?}");
    assert_eq!(buf, b"blocked");
    assert_eq!(raw(&back), nums, "the descriptors come back");
    drop((accept, recv_from, recv_fds, send_fds, back));
    // No op is left to take what comes now.
    let _client = std::os::unix::net::UnixStream::connect(&lpath).unwrap();
    let std_listener =
        std::os::unix::net::UnixListener::from(listener.as_fd().try_clone_to_owned().unwrap());
    std_listener.set_nonblocking(true).unwrap();
    assert!(std_listener.accept().is_ok(), "the connection was waiting");
    std::os::unix::net::UnixDatagram::unbound()
        .unwrap()
        .send_to(b"late", &dpath)
        .unwrap();
    let std_dgram =
        std::os::unix::net::UnixDatagram::from(dgram.as_fd().try_clone_to_owned().unwrap());
    std_dgram.set_nonblocking(true).unwrap();
    let mut got = [0u8; 8];
    let n = std_dgram.recv(&mut got).unwrap();
    assert_eq!(&got[..n], b"late");
    (&std_stream(&a)).write_all(b"bytes").unwrap();
    let n = (&std_stream(&b)).read(&mut got).unwrap();
    assert_eq!(&got[..n], b"bytes");
    ds.set_nonblocking(true).unwrap();
    let mut drained = 0;
    let mut chunk = [0u8; 65536];
    loop {
        match (&ds).read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                assert!(
                    chunk[..n].iter().all(|&x| x == 0x11),
                    "the blocked send sent"
                );
                drained += n;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(drained, filled);
    t.close_own();
    drop((listener, dgram, a, b, c, ds));
    assert!(t.all_closed());
}

/// Deadlines already past (and one that is now): sends and receives fail
/// with `TimedOut` at once, without running: buffers come back untouched,
/// a send's descriptors come back, nothing is sent and nothing is taken
/// from the socket, which the same calls read once the deadline is gone.
#[test]
fn unix_ops_with_deadlines_in_the_past() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (mut a, mut b) = UnixStream::pair(&h).unwrap();
    let (mut da, mut db) = UnixDatagram::pair(&h).unwrap();
    let t = Tracked::new();
    let now = Instant::now();
    let past = [now, now - Duration::from_secs(1)];
    for deadline in past {
        a.set_write_deadline(Some(deadline));
        b.set_read_deadline(Some(deadline));
        da.set_deadline(Some(deadline));
        db.set_deadline(Some(deadline));
        let fds = t.dups(3);
        let nums = raw(&fds);
        reactor
            .run_until(async {
                let timed_out =
                    |r: &std::io::Error| assert_eq!(r.kind(), std::io::ErrorKind::TimedOut);
                let (r, buf, back) = a.send_with_fds(b"late".to_vec(), fds).await;
                timed_out(&r.unwrap_err());
                assert_eq!(buf, b"late");
                assert_eq!(raw(&back), nums);
                let (r, buf) = a.write_all(b"late".to_vec()).await;
                timed_out(&r.unwrap_err());
                assert_eq!(buf, b"late");
                let (r, buf, got) = b.recv_with_fds(vec![0x5a; 16], 8).await;
                timed_out(&r.unwrap_err());
                assert_eq!((buf, got.len()), (vec![0x5a; 16], 0));
                let (r, buf, got) = b.recv_with_fds(Vec::with_capacity(16), 8).await;
                timed_out(&r.unwrap_err());
                assert_eq!((buf.len(), got.len()), (0, 0));
                let (r, buf) = da.send(b"dgram".to_vec()).await;
                timed_out(&r.unwrap_err());
                assert_eq!(buf, b"dgram");
                let (r, buf, from) = db.recv_from(vec![0x6b; 8]).await;
                timed_out(&r.unwrap_err());
                assert_eq!((buf, from.is_none()), (vec![0x6b; 8], true));
            })
            .unwrap();
    }
    // Sent without deadlines, received with past ones: still there.
    a.set_write_deadline(None);
    da.set_deadline(None);
    reactor
        .run_until(async {
            let (r, _, _) = a.send_with_fds(b"real".to_vec(), t.dups(2)).await;
            r.unwrap();
            let (r, _) = da.send(b"dgram".to_vec()).await;
            r.unwrap();
        })
        .unwrap();
    let (r, _, got) = reactor.run_until(b.recv_with_fds(vec![0; 8], 8)).unwrap();
    assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    assert!(got.is_empty());
    b.set_read_deadline(None);
    db.set_deadline(None);
    let (got, dgram) = reactor
        .run_until(async {
            let (r, buf, got) = b.recv_with_fds(vec![0; 8], 8).await;
            assert_eq!(&buf[..r.unwrap()], b"real");
            let (r, buf, from) = db.recv_from(vec![0; 8]).await;
            assert!(from.unwrap().is_unnamed());
            (got, buf[..r.unwrap()].to_vec())
        })
        .unwrap();
    assert_eq!(got.len(), 2);
    assert!(t.names_passed(&got));
    assert_eq!(dgram, b"dgram");
}

// ---------------------------------------------------------------------------
// tokio's traits on a Unix stream, and a listener's stream at shutdown
// ---------------------------------------------------------------------------

/// tokio's `AsyncWrite` on a Unix stream, dropped while a write of 4 MiB
/// (far more than the socket holds) is in flight, with a second write
/// waiting behind it: the bytes the first write reported written all
/// reach the peer, in order, and nothing of the second; the stream's
/// socket is closed once they are sent.
#[test]
fn a_tokio_write_dropped_mid_send_still_delivers_what_it_reported() {
    use tokio::io::AsyncWriteExt;
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (mine, peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut peer = peer;
        peer.read_to_end(&mut all).unwrap();
        all
    });
    let mut stream = UnixStream::from_std(&h, mine);
    let data = uring_tests::pattern(4 << 20, 9);
    let written = {
        let mut write = Box::pin(AsyncWriteExt::write(&mut stream, &data));
        match poll_once(&mut write) {
            std::task::Poll::Ready(Ok(n)) => n,
            other => panic!("the first write: {other:?}"),
        }
    };
    assert_eq!(written, data.len(), "the whole buffer is taken at once");
    {
        let mut second = Box::pin(AsyncWriteExt::write(&mut stream, b"never"));
        assert!(
            poll_once(&mut second).is_pending(),
            "the first is in flight"
        );
    }
    drop(stream);
    run_while(&reactor, || !reader.is_finished());
    let got = reader.join().unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "the bytes arrived changed");
    run_while(&reactor, || h.in_flight() > 0);
}

/// tokio's traits with a peer that has gone, and with deadlines already
/// past: errors, never panics; a write's error shows at the next flush,
/// after which the stream takes writes again.
#[test]
fn tokio_traits_on_a_unix_stream_report_a_gone_peer_and_past_deadlines() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (mut a, b) = UnixStream::pair(&h).unwrap();
    drop(b);
    reactor
        .run_until(async {
            for _ in 0..3 {
                assert_eq!(AsyncWriteExt::write(&mut a, b"to nobody").await.unwrap(), 9);
                let e = AsyncWriteExt::flush(&mut a).await.unwrap_err();
                assert_eq!(e.raw_os_error(), Some(libc::EPIPE), "{e}");
            }
            let mut buf = [0u8; 8];
            assert_eq!(
                AsyncReadExt::read(&mut a, &mut buf).await.unwrap(),
                0,
                "the end of the stream"
            );
        })
        .unwrap();
    let (mut c, mut d) = UnixStream::pair(&h).unwrap();
    c.set_deadline(Some(Instant::now() - Duration::from_millis(1)));
    d.set_read_deadline(Some(Instant::now()));
    reactor
        .run_until(async {
            let e = AsyncWriteExt::write(&mut c, b"late").await.unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
            let mut buf = [0x5au8; 8];
            let e = AsyncReadExt::read(&mut d, &mut buf).await.unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
            assert_eq!(buf, [0x5a; 8]);
            c.set_deadline(None);
            d.set_read_deadline(None);
            AsyncWriteExt::write_all(&mut c, b"on time").await.unwrap();
            AsyncWriteExt::flush(&mut c).await.unwrap();
            let mut buf = [0u8; 8];
            let n = AsyncReadExt::read(&mut d, &mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"on time", "nothing late was sent");
        })
        .unwrap();
}

/// A listener's stream of connections when its reactor shuts down, with an
/// accept armed and a connection it already took but nobody read: it ends
/// (`None`, again at every poll, and at once for a stream made after),
/// nothing is re-armed, and the taken connection is closed, not leaked
/// (its client reads the end of the stream).
#[test]
fn incoming_unix_connections_end_when_the_reactor_shuts_down() {
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    for drop_reactor in [false, true] {
        for taken in [false, true] {
            let reactor = Reactor::new().unwrap();
            let h = reactor.handle();
            let path = dir.path().join(format!("l-{drop_reactor}-{taken}"));
            let listener = UnixListener::bind(&h, &path).unwrap();
            let mut incoming = listener.incoming();
            let mut client = None;
            {
                let mut next = Box::pin(incoming.next());
                assert!(poll_once(&mut next).is_pending());
                run_for(&reactor, 5);
                if taken {
                    let c = std::os::unix::net::UnixStream::connect(&path).unwrap();
                    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    client = Some(c);
                    run_for(&reactor, 10);
                }
                if drop_reactor {
                    drop(reactor);
                } else {
                    h.shutdown();
                }
                assert!(h.is_shut_down());
                // What arrived before the shutdown, the cancelled accept's
                // error, then the end.
                match poll_once(&mut next) {
                    std::task::Poll::Ready(None) => {}
                    std::task::Poll::Ready(Some(Ok(stream))) if taken => drop(stream),
                    std::task::Poll::Ready(Some(Err(e))) => {
                        assert_eq!(e.raw_os_error(), Some(libc::ECANCELED), "{e}");
                    }
                    other => panic!("after the shutdown: {other:?}"),
                }
            }
            let mut polls = 0;
            loop {
                let mut next = Box::pin(incoming.next());
                match poll_once(&mut next) {
                    std::task::Poll::Ready(None) => break,
                    std::task::Poll::Ready(Some(Ok(stream))) if taken => drop(stream),
                    std::task::Poll::Ready(Some(Err(e))) => {
                        assert_eq!(e.raw_os_error(), Some(libc::ECANCELED), "{e}");
                    }
                    other => panic!("after the shutdown: {other:?}"),
                }
                polls += 1;
                assert!(polls < 3, "the stream goes on after the shutdown");
            }
            for _ in 0..3 {
                let mut next = Box::pin(incoming.next());
                assert!(
                    matches!(poll_once(&mut next), std::task::Poll::Ready(None)),
                    "the stream goes on after the shutdown"
                );
            }
            let mut later = listener.incoming();
            let mut next = Box::pin(later.next());
            assert!(matches!(poll_once(&mut next), std::task::Poll::Ready(None)));
            let mut accept = Box::pin(listener.accept());
            assert!(matches!(
                poll_once(&mut accept),
                std::task::Poll::Ready(Err(_))
            ));
            assert_eq!(h.in_flight(), 0);
            if let Some(mut c) = client {
                let mut byte = [0u8; 1];
                assert_eq!(
                    c.read(&mut byte).unwrap(),
                    0,
                    "the connection the accept took was closed"
                );
            }
        }
    }
}
