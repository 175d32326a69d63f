//! Safe-code attacks on a scope's limit (the SQ cursor's run ended at the
//! scope's limit, `PushGate::admit`, `Sq::cap`, the `done` count and the
//! take-back of SQEs at a scope's end), on the reactor's fast path (the
//! one comparison of a slot's whole tag, `RingBuf` as a pointer and a
//! word, slots reused from inside callbacks) and on waits over mixed CQs
//! (`Cq::wait_target`, `skip_padding`, `EBUSY` on a wait the CQ cannot
//! meet).
//!
//! Each test checks what really happened against its own books: every
//! push accepted or refused for the reason that held, `in_flight` equal to
//! what was pushed less what posted its last completion, every completion
//! seen once, no wait that hangs, and the ring whole after its scopes.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use uring::ops::{Nop, Read, Timeout};
use uring::reactor::{Reactor, SharedFd};
use uring::{Builder, CqeMixed, Linked, PushErrorKind, Ring, Scope, Sqe64, SqeFlags, TimeoutFlags};
use uring_tests::{require_kernel, skip};

/// A ring of `sq` SQEs and `cq` CQEs whose scopes tag every op if
/// `tag_all` (an op pushed outside a scope makes them), and leave most
/// untagged otherwise.
fn ring(sq: u32, cq: u32, tag_all: bool) -> Ring {
    let mut ring = Builder::new().cq_entries(cq).build(sq).unwrap();
    assert_eq!(ring.cq_entries(), cq);
    if tag_all {
        ring.push(Nop::new().user_data(0xfeed)).unwrap();
        assert_eq!(uring_tests::reap_one(&mut ring).user_data(), 0xfeed);
    }
    ring
}

/// The kind of refusal of a push of one NOP carrying `user_data`, or
/// `None` when it went.
fn push_nop(s: &mut Scope<'_, '_>, user_data: u64) -> Option<PushErrorKind> {
    s.push(Nop::new().user_data(user_data))
        .err()
        .map(|e| e.kind())
}

/// Reads what is ready in the scope into `seen` (`user_data` -> how many
/// last completions), returning how many completions were read.
fn drain(s: &mut Scope<'_, '_>, seen: &mut HashMap<u64, u32>) -> usize {
    let mut n = 0;
    for c in s.completions() {
        n += 1;
        if !c.has_more() {
            *seen.entry(c.user_data()).or_default() += 1;
        }
    }
    n
}

/// Asserts that nothing more reaches the ring once its scopes are over.
fn assert_quiet(ring: &mut Ring) {
    ring.submit().unwrap();
    assert_eq!(uring_tests::stray(ring), [], "a completion after the scope");
}

/// Runs `f` on a thread of its own and fails the test if it has not
/// returned within `bound`: a wait that never ends shows as a failure,
/// not as a hung run. (The stuck thread is left behind.)
fn bounded<T: Send + 'static>(
    what: &str,
    bound: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(bound) {
        Ok(Ok(v)) => v,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("{what}: still running after {bound:?}: it hangs"),
    }
}

// ---------------------------------------------------------------------
// The scope's limit
// ---------------------------------------------------------------------

/// A multishot timeout's completions flagged `F_MORE` are not its last:
/// however many are read, the op stays in flight and a full scope stays
/// full. Its last completion (the cancel's `ECANCELED`, or an end the
/// kernel chose) is what opens room for one more op.
#[test]
fn more_completions_of_a_multishot_op_open_no_room() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let (rx, _tx) = uring_tests::pipe();
        let mut bufs = [[0u8; 4]; 7];
        let mut ring = ring(4, 8, tag_all);
        ring.scope(|s| {
            s.push(
                Timeout::new(Duration::from_millis(5))
                    .timeout_flags(TimeoutFlags::MULTISHOT)
                    .user_data(1),
            )
            .unwrap();
            s.submit().unwrap();
            for (i, buf) in bufs.iter_mut().enumerate() {
                s.push(Read::new(&rx, buf).user_data(10 + i as u64))
                    .unwrap();
                s.submit().unwrap();
            }
            assert_eq!(s.in_flight(), 8);
            assert_eq!(push_nop(s, 99), Some(PushErrorKind::ScopeFull));
            let (mut more, mut ended) = (0, false);
            let deadline = Instant::now() + uring_tests::PATIENCE;
            while more < 6 && !ended {
                assert!(Instant::now() < deadline, "the timeout stopped firing");
                s.wait(1).unwrap();
                for c in s.completions() {
                    assert_eq!(c.user_data(), 1, "only the timeout completes: {c:?}");
                    if c.has_more() {
                        more += 1;
                    } else {
                        ended = true;
                    }
                }
                let live = if ended { 7 } else { 8 };
                assert_eq!(s.in_flight(), live, "after {more} F_MORE completions");
                if !ended {
                    assert_eq!(push_nop(s, 99), Some(PushErrorKind::ScopeFull));
                }
            }
            if !ended {
                // A multishot op is tagged, and found by its tag; a fast
                // scope adds one request for the untagged ops in flight
                // (the reads) that might carry 1.
                let requests = if tag_all { 1 } else { 2 };
                assert_eq!(s.cancel(1).unwrap(), requests);
                s.submit().unwrap();
                while !ended {
                    s.wait(1).unwrap();
                    for c in s.completions() {
                        assert_eq!(c.user_data(), 1);
                        if !c.has_more() {
                            assert_eq!(c.res(), -libc::ECANCELED);
                            ended = true;
                        }
                    }
                }
            }
            assert_eq!(s.in_flight(), 7);
            assert_eq!(push_nop(s, 98), None, "the timeout's end opened one place");
            assert_eq!(push_nop(s, 97), Some(PushErrorKind::ScopeFull));
            s.submit().unwrap();
        });
        assert_quiet(&mut ring);
    }
}

/// `CQE_SKIP_SUCCESS` on single ops and on every member of chains never
/// keeps a completion from the scope: as many ops as the scope tracks go
/// in, every one posts, the count comes back to 0 and the room with it,
/// round after round over an SQ that wraps.
#[test]
fn skipped_successes_still_count_and_free_their_place() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = ring(8, 8, tag_all);
        ring.scope(|s| {
            let skip = SqeFlags::CQE_SKIP_SUCCESS;
            for round in 0..20u64 {
                let base = round * 100;
                s.push(Nop::new().user_data(base).flags(skip)).unwrap();
                s.push(
                    Nop::new()
                        .user_data(base + 1)
                        .flags(skip)
                        .link(Nop::new().user_data(base + 2).flags(skip))
                        .link(Nop::new().user_data(base + 3).flags(skip)),
                )
                .unwrap();
                let chain = Linked::new(
                    (4..8)
                        .map(|i| Nop::new().user_data(base + i).flags(skip))
                        .collect(),
                );
                s.push_linked(chain).unwrap();
                assert_eq!(s.in_flight(), 8);
                assert_eq!(push_nop(s, 1 << 40), Some(PushErrorKind::ScopeFull));
                s.submit_and_wait(8).unwrap();
                let mut got: Vec<(u64, i32)> =
                    s.completions().map(|c| (c.user_data(), c.res())).collect();
                got.sort_unstable();
                let want: Vec<(u64, i32)> = (0..8).map(|i| (base + i, 0)).collect();
                assert_eq!(got, want, "round {round}");
                assert_eq!(s.in_flight(), 0);
            }
        });
        assert_quiet(&mut ring);
    }
}

/// Chains whose head fails: the kernel cancels the rest, each link posts
/// `ECANCELED` (skip flags or not), and the scope counts every one. The
/// scope fills with such chains to its exact limit, and refuses the chain
/// that would go past it as a whole.
#[test]
fn chains_with_a_failed_head_settle_every_link() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = ring(16, 16, tag_all);
        ring.scope(|s| {
            for round in 0..10u64 {
                for c in 0..5u64 {
                    let ud = round * 1000 + c * 10;
                    s.push(
                        Nop::new()
                            .user_data(ud)
                            .result(-libc::EIO)
                            .link(
                                Nop::new()
                                    .user_data(ud + 1)
                                    .flags(SqeFlags::CQE_SKIP_SUCCESS),
                            )
                            .link(Nop::new().user_data(ud + 2)),
                    )
                    .unwrap();
                }
                assert_eq!(s.in_flight(), 15);
                let four = s
                    .push(Nop::new().link(Nop::new()))
                    .expect_err("two more than the scope tracks");
                assert_eq!(four.kind(), PushErrorKind::ScopeFull);
                assert_eq!(push_nop(s, 1 << 41), None, "one place is left");
                s.submit_and_wait(16).unwrap();
                let got: HashMap<u64, i32> =
                    s.completions().map(|c| (c.user_data(), c.res())).collect();
                assert_eq!(got.len(), 16, "round {round}: {got:?}");
                assert_eq!(got[&(1 << 41)], 0);
                for c in 0..5u64 {
                    let ud = round * 1000 + c * 10;
                    assert_eq!(got[&ud], -libc::EIO);
                    assert_eq!(got[&(ud + 1)], -libc::ECANCELED);
                    assert_eq!(got[&(ud + 2)], -libc::ECANCELED);
                }
                assert_eq!(s.in_flight(), 0);
            }
        });
        assert_quiet(&mut ring);
    }
}

/// A scope at its limit over an SQ smaller than its CQ: cancel requests go
/// past the limit (as many as the SQ takes, then an error, never a panic),
/// open no room themselves, and the room comes back only as the cancelled
/// ops' completions are read. Afterwards the SQ's own size, not the
/// scope's, refuses pushes first.
#[test]
fn cancels_past_a_full_scope_open_no_room_themselves() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let (rx, _tx) = uring_tests::pipe();
        let mut bufs = [[0u8; 4]; 8];
        let mut ring = ring(4, 8, tag_all);
        ring.scope(|s| {
            for (i, buf) in bufs.iter_mut().enumerate() {
                s.push(Read::new(&rx, buf).user_data(i as u64)).unwrap();
                if i % 4 == 3 {
                    s.submit().unwrap();
                }
            }
            assert_eq!(s.in_flight(), 8);
            assert_eq!(push_nop(s, 50), Some(PushErrorKind::ScopeFull));
            for i in 0..4u64 {
                assert_eq!(s.cancel(i).unwrap(), 1);
                assert_eq!(push_nop(s, 50), Some(PushErrorKind::ScopeFull));
            }
            // The SQ holds four cancel requests: a fifth does not fit.
            assert!(s.cancel(4).is_err(), "the SQ is full of cancels");
            assert_eq!(s.in_flight(), 8);
            s.submit().unwrap();
            for i in 4..8u64 {
                assert_eq!(s.cancel(i).unwrap(), 1);
            }
            s.submit().unwrap();
            assert_eq!(push_nop(s, 50), Some(PushErrorKind::ScopeFull));
            let mut seen = HashMap::new();
            while seen.len() < 8 {
                s.wait(1).unwrap();
                drain(s, &mut seen);
            }
            assert!(seen.values().all(|&n| n == 1), "{seen:?}");
            assert_eq!(s.in_flight(), 0);
            // Now the SQ (4) refuses before the scope (8) does.
            for i in 0..4 {
                assert_eq!(push_nop(s, 100 + i), None);
            }
            assert_eq!(push_nop(s, 104), Some(PushErrorKind::QueueFull));
            s.submit().unwrap();
            for i in 4..8 {
                assert_eq!(push_nop(s, 100 + i), None);
            }
            assert_eq!(push_nop(s, 108), Some(PushErrorKind::ScopeFull));
            s.submit().unwrap();
            let mut seen = HashMap::new();
            while seen.len() < 8 {
                s.wait(1).unwrap();
                drain(s, &mut seen);
            }
            assert!(seen.values().all(|&n| n == 1), "{seen:?}");
            assert_eq!(s.in_flight(), 0);
        });
        assert_quiet(&mut ring);
    }
}

/// A scope that ends, or unwinds, with its cursor capped at the limit
/// leaves the ring's own pushes the whole SQ, and the next scope its whole
/// room: nothing refuses a push that fits, nothing lets one more by.
#[test]
fn a_scope_ended_at_its_limit_leaves_the_sq_whole() {
    let _watch = uring_tests::watchdog();
    for (tag_all, panics) in [(false, false), (false, true), (true, false), (true, true)] {
        let (rx, _tx) = uring_tests::pipe();
        let mut bufs = [[0u8; 4]; 8];
        let mut ring = ring(4, 8, tag_all);
        let ended = catch_unwind(AssertUnwindSafe(|| {
            ring.scope(|s| {
                for (i, buf) in bufs.iter_mut().enumerate() {
                    s.push(Read::new(&rx, buf).user_data(i as u64)).unwrap();
                    if i % 4 == 3 {
                        s.submit().unwrap();
                    }
                }
                assert_eq!(push_nop(s, 9), Some(PushErrorKind::ScopeFull));
                if panics {
                    panic!("out of a full scope");
                }
            })
        }));
        assert_eq!(ended.is_err(), panics);
        assert!(bufs.iter().all(|b| *b == [0; 4]));
        // The ring's own pushes: the SQ's four places, then a refusal.
        assert_eq!(ring.space_left(), 4);
        {
            let mut sq = ring.submission();
            assert_eq!(sq.space_left(), 4);
            for i in 0..4 {
                sq.push(Nop::new().user_data(200 + i)).unwrap();
            }
            let full = sq.push(Nop::new()).unwrap_err();
            assert_eq!(full.kind(), PushErrorKind::QueueFull);
        }
        assert_eq!(
            uring_tests::reap_sorted(&mut ring, 4),
            (200..204).map(|u| (u, 0)).collect::<Vec<_>>()
        );
        // A new scope: the SQ's four, a submit, four more, then the scope's
        // limit.
        ring.scope(|s| {
            assert_eq!(s.in_flight(), 0);
            for i in 0..4 {
                assert_eq!(push_nop(s, 300 + i), None);
            }
            assert_eq!(push_nop(s, 304), Some(PushErrorKind::QueueFull));
            s.submit().unwrap();
            for i in 4..8 {
                assert_eq!(push_nop(s, 300 + i), None);
            }
            assert_eq!(push_nop(s, 308), Some(PushErrorKind::ScopeFull));
            s.submit_and_wait(8).unwrap();
            let mut seen = HashMap::new();
            drain(s, &mut seen);
            assert_eq!(seen.len(), 8);
        });
        assert_quiet(&mut ring);
    }
}

/// Batches forgotten mid-way at each limit: every SQE they pushed is
/// counted at once, later batches start from where the forgotten one
/// stopped, and each op completes exactly once.
#[test]
fn forgotten_batches_at_the_limit_lose_and_repeat_nothing() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = ring(4, 8, tag_all);
        ring.scope(|s| {
            let mut ud = 0u64;
            for round in 0..10 {
                let mut sq = s.submission();
                let mut refused = None;
                while refused.is_none() {
                    match sq.push(Nop::new().user_data(ud)) {
                        Ok(()) => ud += 1,
                        Err(e) => refused = Some(e.kind()),
                    }
                }
                std::mem::forget(sq);
                let live = s.in_flight();
                let want = if live == 8 {
                    PushErrorKind::ScopeFull
                } else {
                    PushErrorKind::QueueFull
                };
                assert_eq!(refused, Some(want), "round {round}, {live} in flight");
                s.submit().unwrap();
                if live == 8 {
                    s.wait(8).unwrap();
                    let mut it = s.completions();
                    assert_eq!(it.by_ref().take(5).count(), 5);
                    std::mem::forget(it);
                    assert_eq!(s.in_flight(), 3, "round {round}");
                }
            }
            s.submit_and_wait(s.in_flight()).unwrap();
            let got: Vec<u64> = s.completions().map(|c| c.user_data()).collect();
            assert_eq!(s.in_flight(), 0);
            // Completions from several forgotten iterators earlier, plus
            // these: every user_data once, counted across the whole scope.
            assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
            assert_eq!(got.last().copied(), Some(ud - 1));
        });
        assert_quiet(&mut ring);
    }
}

/// A `for_each` over a split scope whose closure answers each completion
/// with a push and then panics: the completions it was given are settled,
/// the pushes it made counted, and what follows is read once.
#[test]
fn a_panic_in_a_fold_that_pushes_keeps_the_books() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        for panic_at in 1..=6usize {
            let mut ring = ring(8, 8, tag_all);
            let all = ring.scope(|s| {
                for i in 0..6u64 {
                    s.push(Nop::new().user_data(i)).unwrap();
                }
                s.submit_and_wait(6).unwrap();
                let mut seen = Vec::new();
                let (mut sq, comps) = s.split();
                let unwound = catch_unwind(AssertUnwindSafe(|| {
                    comps.for_each(|c| {
                        seen.push(c.user_data());
                        if seen.len() == panic_at {
                            panic!("in the fold");
                        }
                        sq.push(Nop::new().user_data(100 + c.user_data())).unwrap();
                    })
                }));
                assert!(unwound.is_err());
                drop(sq);
                let replies = panic_at as u32 - 1;
                assert_eq!(s.in_flight(), 6 - panic_at as u32 + replies);
                s.submit_and_wait(s.in_flight().min(8)).unwrap();
                while s.in_flight() > 0 {
                    s.wait(1).unwrap();
                    seen.extend(s.completions().map(|c| c.user_data()));
                }
                seen.extend(s.completions().map(|c| c.user_data()));
                seen
            });
            let mut want: Vec<u64> = (0..6).collect();
            want.extend((0..panic_at as u64 - 1).map(|u| 100 + u));
            let mut all = all;
            all.sort_unstable();
            want.sort_unstable();
            assert_eq!(all, want, "panic at {panic_at}, tag_all {tag_all}");
            assert_quiet(&mut ring);
        }
    }
}

/// The scope's ops complete into the kernel's overflow list behind a CQ
/// full of completions that are not the scope's: the scope still tracks
/// no more than its CQ, reads each of its own once, and passes the others
/// through once, in order.
#[test]
fn scope_completions_behind_a_full_cq_of_foreign_ones() {
    let _watch = uring_tests::watchdog();
    let mut ring = ring(4, 8, true);
    for batch in 0..2u64 {
        for i in 0..4 {
            ring.push(Nop::new().user_data(batch * 4 + i)).unwrap();
        }
        ring.submit().unwrap();
    }
    assert_eq!(ring.ready(), 8, "the CQ is full of foreign completions");
    let (mine, foreign) = ring.scope(|s| {
        assert!(s.tags_every_op());
        for i in 0..8u64 {
            assert_eq!(push_nop(s, 100 + i), None);
            if i % 4 == 3 {
                s.submit().unwrap();
            }
        }
        assert_eq!(push_nop(s, 108), Some(PushErrorKind::ScopeFull));
        assert_eq!(s.in_flight(), 8);
        let (mut mine, mut foreign) = (Vec::new(), Vec::new());
        let deadline = Instant::now() + uring_tests::PATIENCE;
        while s.in_flight() > 0 {
            assert!(
                Instant::now() < deadline,
                "mine {mine:?}, foreign {foreign:?}"
            );
            for c in s.completions() {
                if c.is_scope_op() {
                    mine.push(c.user_data());
                } else {
                    foreign.push(c.user_data());
                }
            }
            if s.in_flight() > 0 {
                let _ = s.wait_timeout(1, Duration::from_millis(10));
            }
        }
        (mine, foreign)
    });
    let mut mine = mine;
    mine.sort_unstable();
    assert_eq!(mine, (100..108).collect::<Vec<_>>());
    assert_eq!(foreign, (0..8).collect::<Vec<_>>(), "in order, once");
    assert_quiet(&mut ring);
}

/// On an SQPOLL ring the SQ thread takes SQEs on its own: a scope at its
/// limit stays there until completions are read, refuses the SQ's and the
/// scope's excess for the right reason, and after its end the ring's own
/// pushes get the whole SQ.
#[test]
fn an_sqpoll_scope_at_its_limit() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_sqpoll() {
        return;
    }
    let mut ring = match Builder::new()
        .sqpoll(Duration::from_millis(50))
        .cq_entries(8)
        .build(4)
    {
        Ok(ring) => ring,
        Err(e) => return skip(format_args!("no SQPOLL ring here: {e}")),
    };
    let (rx, mut tx) = UnixStream::pair().unwrap();
    let mut bufs = [[0u8; 1]; 8];
    ring.scope(|s| {
        let mut bufs = bufs.iter_mut();
        let mut pushed = 0u64;
        while pushed < 8 {
            match s.push(Read::new(&rx, bufs.next().unwrap()).user_data(pushed)) {
                Ok(()) => pushed += 1,
                Err(e) => panic!("read {pushed}: {:?}", e.kind()),
            }
            s.submit().unwrap();
            // The SQ thread takes each before the next push can find the
            // SQ (4) full: wait for it.
            let deadline = Instant::now() + uring_tests::PATIENCE;
            while s.space_left() < 4 {
                assert!(Instant::now() < deadline, "the SQ thread took nothing");
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        assert_eq!(s.in_flight(), 8);
        assert_eq!(push_nop(s, 50), Some(PushErrorKind::ScopeFull));
        tx.write_all(b"abc").unwrap();
        let mut seen = HashMap::new();
        while seen.len() < 3 {
            s.wait(1).unwrap();
            drain(s, &mut seen);
        }
        assert_eq!(s.in_flight(), 5);
        for i in 0..3 {
            assert_eq!(push_nop(s, 60 + i), None);
        }
        assert_eq!(push_nop(s, 63), Some(PushErrorKind::ScopeFull));
        s.submit().unwrap();
    });
    assert!(
        bufs.iter().filter(|b| b[0] != 0).count() == 3,
        "three reads got a byte each: {bufs:?}"
    );
    let mut sq = ring.submission();
    for i in 0..4 {
        sq.push(Nop::new().user_data(70 + i)).unwrap();
    }
    drop(sq);
    let got = uring_tests::reap_sorted(&mut ring, 4);
    assert_eq!(got, (70..74).map(|u| (u, 0)).collect::<Vec<_>>());
}

/// A single-issuer ring moved to another thread refuses that thread's
/// submits (`EEXIST`): a scope there that pushed ops (and, at its end, a
/// cancel request) takes back every SQE the kernel never saw, returns,
/// and leaves neither a pending SQE nor a late completion behind.
#[test]
fn a_scope_whose_submits_are_refused_takes_back_its_sqes() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = match Builder::new().single_issuer().cq_entries(8).build(4) {
            Ok(ring) => ring,
            Err(e) => return skip(format_args!("no single-issuer rings: {e}")),
        };
        if tag_all {
            ring.push(Nop::new().user_data(0xfeed)).unwrap();
            uring_tests::reap_one(&mut ring);
        }
        let ring = bounded("a refused scope", Duration::from_secs(20), move || {
            let mut ring = ring;
            let err = ring.scope(|s| {
                for i in 0..3 {
                    assert_eq!(push_nop(s, i), None);
                }
                s.push(Nop::new().user_data(1 << 63)).unwrap();
                let err = s.submit().expect_err("another thread's submit");
                assert_eq!(s.in_flight(), 4);
                err
            });
            (ring, err)
        });
        let (mut ring, err) = ring;
        assert_eq!(err.raw_os_error(), Some(libc::EEXIST), "{err}");
        assert_eq!(ring.pending(), 0, "the scope took its SQEs back");
        assert_quiet(&mut ring);
        ring.push(Nop::new().user_data(5)).unwrap();
        assert_eq!(uring_tests::reap_sorted(&mut ring, 1), [(5, 0)]);
    }
}

/// Hundreds of scopes in a row, each leaving ops unsubmitted, unread or in
/// flight at its end, over a small ring whose SQ and CQ wrap many times:
/// no scope sees another's completion, no op completes twice, and the
/// ring's own pushes between scopes find the SQ whole.
#[test]
fn scopes_in_a_row_leave_nothing_to_the_next() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let (rx, _tx) = uring_tests::pipe();
        let mut ring = ring(4, 8, tag_all);
        let mut rng = uring_tests::Rng(0x1157_0a75 + u64::from(tag_all));
        for round in 0..150u64 {
            let mut buf = [0u8; 4];
            let base = round * 100;
            let (pushed, read) = ring.scope(|s| {
                let mut pushed = Vec::new();
                let mut read = Vec::new();
                let n = rng.below(12);
                for i in 0..n {
                    match push_nop(s, base + i) {
                        None => pushed.push(base + i),
                        Some(PushErrorKind::QueueFull) => {
                            s.submit().unwrap();
                            assert_eq!(push_nop(s, base + i), None);
                            pushed.push(base + i);
                        }
                        Some(kind) => {
                            assert_eq!(kind, PushErrorKind::ScopeFull);
                            assert_eq!(s.in_flight(), 8);
                            break;
                        }
                    }
                }
                if rng.below(3) == 0 && s.in_flight() < 8 {
                    if s.space_left() == 0 {
                        s.submit().unwrap();
                    }
                    s.push(Read::new(&rx, &mut buf[..]).user_data(base + 99))
                        .unwrap();
                }
                match rng.below(3) {
                    0 => {}
                    1 => {
                        s.submit().unwrap();
                    }
                    // A NOP to wait for (a read waits for ever).
                    _ if !pushed.is_empty() => {
                        s.submit_and_wait(1).unwrap();
                        read.extend(s.completions().map(|c| c.user_data()));
                    }
                    _ => {}
                }
                (pushed, read)
            });
            assert!(read.iter().all(|u| pushed.contains(u)), "round {round}");
            let mut sorted = read.clone();
            sorted.dedup();
            assert_eq!(sorted.len(), read.len());
            assert_eq!(buf, [0; 4], "no byte came");
            if round % 10 == 0 {
                assert_eq!(ring.space_left(), 4, "round {round}");
                ring.push(Nop::new().user_data(1 << 50)).unwrap();
                assert_eq!(uring_tests::reap_sorted(&mut ring, 1), [(1 << 50, 0)]);
            }
        }
        assert_quiet(&mut ring);
    }
}

/// The batch of a split scope, pushing as each completion is read, meets
/// the limit exactly where the completions read leave it, over many
/// laps of the SQ, in a `for` loop and in `for_each`.
#[test]
fn a_split_batch_follows_the_limit_as_completions_are_read() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        for use_fold in [false, true] {
            let mut ring = ring(8, 8, tag_all);
            let total = ring.scope(|s| {
                for i in 0..8u64 {
                    assert_eq!(push_nop(s, i), None);
                }
                let mut next = 8u64;
                let mut total = 0u64;
                while total < 2000 {
                    s.submit_and_wait(1).unwrap();
                    let (mut sq, comps) = s.split();
                    let mut answer = |ud: u64| {
                        total += 1;
                        assert!(ud < next);
                        sq.push(Nop::new().user_data(next)).unwrap();
                        next += 1;
                        // One in, one out: the scope is full again.
                        let refused = sq.push(Nop::new().user_data(u64::MAX >> 2));
                        assert_eq!(refused.unwrap_err().kind(), PushErrorKind::ScopeFull);
                    };
                    if use_fold {
                        comps.for_each(|c| answer(c.user_data()));
                    } else {
                        for c in comps {
                            answer(c.user_data());
                        }
                    }
                    drop(sq);
                    assert_eq!(s.in_flight(), 8);
                }
                total
            });
            assert!(total >= 2000);
            assert_quiet(&mut ring);
        }
    }
}

/// A buffer given to a full scope comes back whole in the error, with the
/// reason; asking a batch for its free places at the limit (which moves
/// its run) lets no push past the limit either; and a split whose
/// completions half is forgotten leaves the batch half within the room
/// the completions it did read opened.
#[test]
fn owned_pushes_free_places_and_forgotten_halves_at_the_limit() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let (rx, mut tx) = UnixStream::pair().unwrap();
        let mut ring = ring(8, 8, tag_all);
        ring.scope(|s| {
            for i in 0..8u64 {
                assert_eq!(push_nop(s, i), None);
            }
            let refused = s
                .push_owned(vec![7u8; 16], |buf, sq| {
                    sq.push(Read::new(&rx, buf).user_data(50))
                })
                .unwrap_err();
            assert_eq!(refused.kind(), PushErrorKind::ScopeFull);
            assert_eq!(refused.into_inner(), vec![7u8; 16], "the buffer, untouched");
            let mut sq = s.submission();
            assert_eq!(sq.space_left(), 0, "the SQ holds the eight");
            assert_eq!(
                sq.push(Nop::new()).unwrap_err().kind(),
                PushErrorKind::ScopeFull
            );
            drop(sq);
            s.submit_and_wait(8).unwrap();
            // The SQ is empty now, the scope still full: free places are
            // the SQ's, and the scope's limit holds after asking.
            let mut sq = s.submission();
            assert_eq!(sq.space_left(), 8);
            assert_eq!(
                sq.push(Nop::new()).unwrap_err().kind(),
                PushErrorKind::ScopeFull
            );
            drop(sq);
            assert_eq!(s.space_left(), 8);
            assert_eq!(push_nop(s, 60), Some(PushErrorKind::ScopeFull));
            // Three completions read through a split whose completions
            // half is then forgotten: room for three, not four.
            let (mut sq, mut comps) = s.split();
            let read: Vec<u64> = comps.by_ref().take(3).map(|c| c.user_data()).collect();
            std::mem::forget(comps);
            assert_eq!(read, [0, 1, 2]);
            for i in 0..2u64 {
                sq.push(Nop::new().user_data(70 + i)).unwrap();
            }
            sq.push_owned(vec![0u8; 4], |buf, sq| {
                sq.push(Read::new(&rx, buf).user_data(72))
            })
            .unwrap();
            assert_eq!(
                sq.push(Nop::new()).unwrap_err().kind(),
                PushErrorKind::ScopeFull
            );
            drop(sq);
            assert_eq!(s.in_flight(), 8);
            tx.write_all(b"own").unwrap();
            s.submit().unwrap();
            let mut got = Vec::new();
            let mut back = None;
            while s.in_flight() > 0 {
                s.wait(1).unwrap();
                for mut c in s.completions() {
                    if c.user_data() == 72 {
                        assert_eq!(c.res(), 3);
                        back = c.take_buf();
                    }
                    got.push(c.user_data());
                }
            }
            got.sort_unstable();
            assert_eq!(got, [3, 4, 5, 6, 7, 70, 71, 72]);
            assert_eq!(back.as_deref(), Some(&b"own\0"[..]));
        });
        assert_quiet(&mut ring);
    }
}

// ---------------------------------------------------------------------
// The reactor's fast path
// ---------------------------------------------------------------------

/// A connected socket pair: the reactor's end and the peer.
fn pair() -> (SharedFd, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    (SharedFd::new(a), b)
}

/// A callback that queues its successor, which takes over the very slot
/// (the next generation), and cancels with every id it has seen so far:
/// none of them names a live op any more, so each cancel finds nothing and
/// no op is cut short.
#[test]
fn stale_ids_of_a_reused_slot_cancel_nothing() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let ids: Rc<RefCell<Vec<uring::reactor::OpId>>> = Rc::default();
    let ran = Rc::new(Cell::new(0u32));
    fn step(
        h: uring::reactor::Handle,
        ids: Rc<RefCell<Vec<uring::reactor::OpId>>>,
        ran: Rc<Cell<u32>>,
    ) {
        let (h2, ids2, ran2) = (h.clone(), ids.clone(), ran.clone());
        let id = h
            .queue(uring::reactor::ops::Nop, move |r, ()| {
                assert_eq!(r.unwrap(), 0, "a NOP cut short by a stale cancel");
                ran2.set(ran2.get() + 1);
                for &old in ids2.borrow().iter().rev().take(8) {
                    assert!(!h2.cancel(old).unwrap(), "a stale id cancelled an op");
                }
                if ran2.get() < 1000 {
                    step(h2.clone(), ids2.clone(), ran2.clone());
                    assert_eq!(h2.in_flight(), 1, "the op just queued");
                }
            })
            .unwrap();
        ids.borrow_mut().push(id);
    }
    step(reactor.handle(), ids.clone(), ran.clone());
    reactor.run().unwrap();
    assert_eq!(ran.get(), 1000);
    assert_eq!(reactor.in_flight(), 0);
    let ids = ids.borrow();
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "every op got an id of its own");
}

/// A callback that panics on the fast path: its slot is released, the
/// callback queued into it next runs once with its own result, and the
/// count of ops in flight stays true.
#[test]
fn a_panicking_fast_callback_s_slot_serves_the_next_op() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let (fd, mut peer) = pair();
    let got = Rc::new(RefCell::new(Vec::new()));
    for round in 0..20u32 {
        let h = reactor.handle();
        let (g, fd2) = (got.clone(), fd.clone());
        reactor
            .queue(uring::reactor::ops::Nop, move |r, ()| {
                assert_eq!(r.unwrap(), 0);
                // Into the slot this callback's op just left.
                let g2 = g.clone();
                h.queue(
                    uring::reactor::ops::Recv::new(&fd2, vec![0u8; 8]),
                    move |r, buf| {
                        let n = r.unwrap() as usize;
                        g2.borrow_mut().push(buf[..n].to_vec());
                    },
                )
                .unwrap();
                panic!("round {round}");
            })
            .unwrap();
        let run = catch_unwind(AssertUnwindSafe(|| reactor.run()));
        assert!(run.is_err(), "round {round}: the panic reaches run");
        assert_eq!(
            reactor.in_flight(),
            1,
            "the receive queued before the panic"
        );
        peer.write_all(&[round as u8; 3]).unwrap();
        reactor.run().unwrap();
        assert_eq!(reactor.in_flight(), 0);
    }
    let got = got.borrow();
    assert_eq!(got.len(), 20);
    for (round, bytes) in got.iter().enumerate() {
        assert_eq!(bytes, &vec![round as u8; 3]);
    }
}

/// A buffer ring of one buffer: while a `RingBuf` holds it the kernel has
/// none to give (`ENOBUFS`), its drop gives it back once (the next
/// receive gets it, the one after finds none again), and a `RingBuf` kept
/// past its reactor's drop still reads its own bytes.
#[test]
fn a_held_ring_buf_is_out_of_the_kernel_s_hands_until_dropped_once() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let group = match reactor.register_buf_ring(uring::BufferGroup::new(9), 1, 32) {
        Ok(group) => group,
        Err(e) => return skip(format_args!("no buffer rings for the reactor: {e}")),
    };
    let (fd, mut peer) = pair();
    let recv = |reactor: &Reactor| {
        let out = Rc::new(RefCell::new(None));
        let o = out.clone();
        reactor
            .queue(
                uring::reactor::ops::RecvRing::new(&fd, group),
                move |r, buf| {
                    *o.borrow_mut() = Some((r.map_err(|e| e.raw_os_error()), buf));
                },
            )
            .unwrap();
        reactor.run().unwrap();
        out.borrow_mut().take().expect("the callback ran")
    };
    peer.write_all(b"first").unwrap();
    let (r, held) = recv(&reactor);
    let held = held.expect("a buffer");
    assert_eq!((r, &held[..]), (Ok(5), &b"first"[..]));
    peer.write_all(b"second").unwrap();
    let (r, none) = recv(&reactor);
    assert_eq!(r, Err(Some(libc::ENOBUFS)), "the only buffer is held");
    assert!(none.is_none());
    let bid = held.bid();
    drop(held);
    let (r, again) = recv(&reactor);
    let again = again.expect("the buffer, back");
    assert_eq!((r, again.bid(), &again[..]), (Ok(6), bid, &b"second"[..]));
    peer.write_all(b"third").unwrap();
    let (r, none) = recv(&reactor);
    assert_eq!(r, Err(Some(libc::ENOBUFS)), "given back once, not twice");
    assert!(none.is_none());
    // The buffer outlives its reactor.
    drop(reactor);
    assert_eq!(&again[..], b"second");
    let mut again = again;
    again.truncate(2);
    assert_eq!(&again[..], b"se");
    drop(again);
}

/// A multishot poll through the reactor: each wake-up is one item (its
/// completion flagged `F_MORE`), the cancel's end is the last, and the
/// op leaves the count once.
#[test]
fn a_reactor_multishot_op_ends_once() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let (rx, tx) = uring_tests::pipe();
    let mut rx_file = std::fs::File::from(rx.try_clone().unwrap());
    let mut tx = std::fs::File::from(tx);
    let fd = SharedFd::new(rx);
    let items = Rc::new(RefCell::new(Vec::new()));
    let i = items.clone();
    let id = reactor
        .queue_multishot(
            uring::reactor::ops::PollMulti::new(&fd, uring::PollEvents::IN),
            move |item| i.borrow_mut().push(item.map_err(|e| e.raw_os_error())),
        )
        .unwrap();
    reactor.submit().unwrap();
    for round in 0..5 {
        tx.write_all(b"x").unwrap();
        let deadline = Instant::now() + uring_tests::PATIENCE;
        while items.borrow().len() < round + 1 {
            assert!(Instant::now() < deadline);
            uring_tests::run_for(&reactor, 2);
        }
        let mut b = [0u8; 1];
        std::io::Read::read_exact(&mut rx_file, &mut b).unwrap();
    }
    assert_eq!(reactor.in_flight(), 1);
    assert!(reactor.cancel(id).unwrap());
    reactor.run().unwrap();
    assert_eq!(reactor.in_flight(), 0);
    let items = items.borrow();
    assert_eq!(items.len(), 6, "{items:?}");
    assert!(
        items[..5]
            .iter()
            .all(|i| i.as_ref().is_ok_and(|e| e.contains(uring::PollEvents::IN)))
    );
    assert_eq!(items[5], Err(Some(libc::ECANCELED)));
    assert!(!reactor.cancel(id).unwrap(), "its id names nothing now");
}

/// The reactor's ring cannot be named from outside through
/// `/proc/self/fd`: a plain open fails, and an `O_PATH` open is not a ring
/// to `MSG_RING`; a forged completion never reaches the receive in
/// flight. (In a process of its own, so that no other test's ring is
/// among the targets.)
#[test]
fn the_reactor_ring_is_not_reachable_through_proc() {
    const NAME: &str = "the_reactor_ring_is_not_reachable_through_proc";
    if !uring_tests::in_child(NAME) {
        let out = uring_tests::run_in_child(NAME);
        assert!(out.contains("io_uring descriptors:"), "{out}");
        return;
    }
    use std::os::unix::fs::OpenOptionsExt as _;
    let reactor = Reactor::new().unwrap();
    let (fd, _peer) = pair();
    let done = Rc::new(Cell::new(false));
    let d = done.clone();
    reactor
        .queue(
            uring::reactor::ops::Recv::new(&fd, vec![0u8; 8]),
            move |_, _| d.set(true),
        )
        .unwrap();
    reactor.submit().unwrap();
    let rings: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().contains("io_uring"))
        })
        .map(|e| e.path().to_string_lossy().into_owned())
        .collect();
    println!("io_uring descriptors: {rings:?}");
    assert!(!rings.is_empty());
    let mut sender = Ring::new(8).unwrap();
    for path in &rings {
        let err = std::fs::File::open(path).expect_err("a ring reopened by path");
        assert_eq!(err.raw_os_error(), Some(libc::ENXIO), "{path}: {err}");
        let Ok(by_path) = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH)
            .open(path)
        else {
            continue;
        };
        // Every user_data the kernel shows for the ring, and a few more.
        let fd_num: i32 = path.rsplit('/').next().unwrap().parse().unwrap();
        let mut forged = uring_tests::fdinfo_user_data(fd_num);
        forged.extend([0, 1, 1 << 63]);
        for ud in forged {
            let cqe = uring_tests::complete(
                &mut sender,
                uring::ops::MsgRing::new(&by_path, 0, ud).user_data(1),
            );
            assert!(
                cqe.res() == -libc::EBADFD || cqe.res() == -libc::EBADF,
                "MSG_RING through an O_PATH ring: {cqe:?}"
            );
        }
    }
    uring_tests::run_for(&reactor, 20);
    assert!(!done.get(), "a forged completion ended the receive");
    assert_eq!(reactor.in_flight(), 1);
}

// ---------------------------------------------------------------------
// Waits on mixed CQs
// ---------------------------------------------------------------------

/// A mixed ring of 8 SQEs over a CQ of `cq` slots.
fn mixed(cq: u32) -> Ring<Sqe64, CqeMixed> {
    Builder::new()
        .cq_entries(cq)
        .build_sized::<Sqe64, CqeMixed>(8)
        .unwrap()
}

/// Every `submit_and_wait(n)` on a mixed CQ of 8 slots, for every `n` from
/// 0 to 8 and mixes of small and big completions that fit the CQ: each
/// returns (no hang) with at least `n` completions ready, or says why it
/// cannot (`EBUSY`: read first) when the CQ could not hold `n`; a wait for
/// more than will ever come times out; more than the CQ holds is an
/// error. Every completion comes once, whole.
#[test]
fn mixed_cq_waits_for_every_count_return_or_say_why() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "IORING_SETUP_CQE_MIXED") {
        return;
    }
    bounded("mixed waits", Duration::from_secs(30), || {
        let mut ring = mixed(8);
        let mut ud = 0u64;
        for pattern in 0u32..16 {
            for want in 0u32..=8 {
                // Up to four ops whose slots fit the CQ with one to spare.
                let mut pushed = Vec::new();
                let mut slots = 0;
                for bit in 0..4 {
                    let big = pattern & (1 << bit) != 0;
                    let need = if big { 3 } else { 1 }; // room for padding too
                    if slots + need > 7 {
                        break;
                    }
                    slots += need;
                    let op = Nop::new().user_data(ud).result(bit);
                    if big {
                        ring.push(op.big_cqe([ud, !ud])).unwrap();
                    } else {
                        ring.push(op).unwrap();
                    }
                    pushed.push((ud, big));
                    ud += 1;
                }
                let k = pushed.len() as u32;
                let got = if want <= k {
                    ring.submit_and_wait(want)
                        .unwrap_or_else(|e| panic!("pattern {pattern} want {want}: {e}"));
                    let mut now: Vec<_> = ring
                        .completions()
                        .map(|c| (c.user_data(), c.is_big(), c.big_cqe()))
                        .collect();
                    assert!(
                        now.len() >= want as usize,
                        "pattern {pattern} want {want}: {now:?}"
                    );
                    let rest = k - now.len() as u32;
                    now.extend(collect_mixed(&mut ring, rest));
                    now
                } else {
                    match ring.submit_and_wait_timeout(want, Duration::from_millis(5)) {
                        Ok(_) | Err(uring::Error::TimedOut) => {}
                        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EBUSY), "{e}"),
                    }
                    collect_mixed(&mut ring, k)
                };
                let want_back: Vec<(u64, bool, [u64; 2])> = pushed
                    .iter()
                    .map(|&(u, big)| (u, big, if big { [u, !u] } else { [0, 0] }))
                    .collect();
                assert_eq!(got, want_back, "pattern {pattern} want {want}");
            }
        }
        let e = ring.submit_and_wait(9).unwrap_err();
        assert!(matches!(e, uring::Error::InvalidArgument(_)), "{e}");
        assert_eq!(ring.ready(), 0);
    });
}

/// Reads `n` completions of a mixed ring, waiting for them a slot at a
/// time, as `(user_data, big, words)`.
fn collect_mixed(ring: &mut Ring<Sqe64, CqeMixed>, n: u32) -> Vec<(u64, bool, [u64; 2])> {
    let mut got = Vec::new();
    let deadline = Instant::now() + uring_tests::PATIENCE;
    while got.len() < n as usize {
        assert!(Instant::now() < deadline, "lost completions: {got:?}");
        got.extend(
            ring.completions()
                .map(|c| (c.user_data(), c.is_big(), c.big_cqe())),
        );
        if got.len() < n as usize {
            let _ = ring.submit_and_wait_timeout(1, Duration::from_millis(5));
        }
    }
    got
}

/// Big completions overflowing a mixed CQ of 8 slots: `submit_and_wait(n)`
/// for each `n` either returns with what it asked for ready or says
/// `EBUSY` (the CQ must be read before the held-back one fits), never
/// hangs; reading in between brings every completion once, whole. (Only
/// 32-byte completions, an even number of slots each: no padding, so
/// Linux 6.18's misplaced 16-byte completion after a padded held-back one
/// cannot arise.)
#[test]
fn waits_on_a_mixed_cq_overflowed_by_big_completions() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "IORING_SETUP_CQE_MIXED") {
        return;
    }
    bounded("overflowed mixed waits", Duration::from_secs(30), || {
        let mut ring = mixed(8);
        let mut busy = 0;
        for want in 1u32..=8 {
            let base = u64::from(want) * 100;
            for i in 0..8u64 {
                ring.push(
                    Nop::new()
                        .user_data(base + i)
                        .big_cqe([base + i, !(base + i)]),
                )
                .unwrap();
            }
            let mut got = Vec::new();
            let mut first = true;
            let mut spins = 0;
            while got.len() < 8 {
                spins += 1;
                assert!(spins < 1000, "want {want}: {got:?}");
                let w = if first {
                    want
                } else {
                    want.min(8 - got.len() as u32)
                };
                first = false;
                match ring.submit_and_wait(w) {
                    Ok(_) => {}
                    Err(e) => {
                        assert_eq!(e.raw_os_error(), Some(libc::EBUSY), "want {w}: {e}");
                        busy += 1;
                    }
                }
                got.extend(
                    ring.completions()
                        .map(|c| (c.user_data(), c.is_big(), c.big_cqe())),
                );
            }
            let want_back: Vec<_> = (0..8u64)
                .map(|i| (base + i, true, [base + i, !(base + i)]))
                .collect();
            assert_eq!(got, want_back, "want {want}");
            assert_eq!(ring.overflow(), 0);
        }
        eprintln!("EBUSY answers: {busy}");
    });
}

/// A mixed CQ filled exactly (8 small completions in 8 slots): a wait for
/// all 8 returns, though it may ask the kernel for fewer slots.
#[test]
fn a_wait_for_a_whole_mixed_cq_returns() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "IORING_SETUP_CQE_MIXED") {
        return;
    }
    bounded("a wait for the whole CQ", Duration::from_secs(20), || {
        let mut ring = mixed(8);
        for round in 0..50u64 {
            for i in 0..8u64 {
                ring.push(Nop::new().user_data(round * 8 + i)).unwrap();
            }
            match ring.submit_and_wait(8) {
                Ok(_) => {}
                Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EBUSY), "{e}"),
            }
            let got = collect_mixed(&mut ring, 8);
            let want: Vec<_> = (0..8).map(|i| (round * 8 + i, false, [0, 0])).collect();
            assert_eq!(got, want, "round {round}");
        }
    });
}
