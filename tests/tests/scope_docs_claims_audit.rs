//! What the rustdoc of the scope layer says about ops that name another op
//! by `user_data`, checked against what the library and the kernel do:
//! `Scope::push` ("find a scope's op that was pushed with that
//! `user_data` (one of them if several were, not always the first pushed;
//! each further op that names the value gets the next of them in turn)"),
//! `Scope::cancel` ("a count of requests over the SQ's size, which no
//! submit makes room for", handed back as `QueueFull`, where `cancel_sync`
//! with `SyncCancel::all` cancels them all) and `Scope::cancel_sync` ("an
//! `ENOENT` error when nothing matched (but for `all` and `any`)"), and
//! two more claims of the scope's docs: `Scope::in_flight` ("ops ... whose
//! last completion the scope has not read yet") and `Scope::resize` (a CQ
//! smaller than the ops in flight "is refused ... before anything is
//! submitted").
//!
//! Read against Linux 6.18: `io_uring/cancel.c` (`io_async_cancel`,
//! `__io_async_cancel`, `io_try_cancel`, `io_sync_cancel`: a cancel by
//! `user_data` without `IORING_ASYNC_CANCEL_ALL` ends one request, the
//! first `io_try_cancel` finds, and answers `-ENOENT` when none carries
//! it; with `ALL` or `ANY` it answers the count, 0 for none),
//! `io_uring/poll.c` (`io_poll_cancel`, `io_poll_find`: an armed read of an
//! empty pipe waits in the poll table, where a cancel removes it at once,
//! `-ECANCELED`), and the library's `uring/src/scope/table.rs` (`pick`,
//! `carriers`, `translate`) and `uring/src/scope/mod.rs` (`Scope::cancel`,
//! `Scope::cancel_sync`, `Scope::in_flight`, `Scope::resize`), and
//! `io_uring/register.c` (`io_register_resize_rings`, 6.13).
//!
//! Every test is safe code against the running kernel; a read's buffer
//! after the scope says which of two reads sharing a `user_data` the
//! kernel ended (the ended one never saw its pipe's byte).

use std::io::Write as _;
use std::os::fd::OwnedFd;
use std::time::Duration;

use uring::ops::{Cancel, Nop, Read};
use uring::{CancelFlags, Error, PushErrorKind, Ring, Scope, SyncCancel};

const PATIENCE: Duration = Duration::from_secs(5);

/// A ring on which every scope tags every op: an op was pushed outside a
/// scope first, so the scope's table knows every op of the scope.
fn tagging_ring(builder: uring::Builder<'_>, entries: u32) -> Ring {
    let mut ring = builder.build(entries).unwrap();
    ring.push(Nop::new().user_data(1000)).unwrap();
    let cqes = uring_tests::submit_and_reap(&mut ring, 1);
    assert_eq!(uring_tests::pairs(&cqes), [(1000, 0)]);
    ring
}

/// Waits until `n` more completions have been read: `(user_data, res)`
/// of each, in the order the scope handed them out.
fn reap(s: &mut Scope<'_, '_>, n: usize) -> Vec<(u64, i32)> {
    let mut got = Vec::new();
    let start = std::time::Instant::now();
    while got.len() < n {
        assert!(start.elapsed() < PATIENCE, "only {got:?} of {n} came");
        s.submit_and_wait_timeout(1, Duration::from_millis(100))
            .or_else(|e| match e {
                Error::TimedOut => Ok(0),
                e => Err(e),
            })
            .unwrap();
        got.extend(s.completions().map(|c| (c.user_data(), c.res())));
    }
    got
}

/// Writes one byte into the pipe of `w`.
fn feed(w: &OwnedFd, byte: u8) {
    std::fs::File::from(w.try_clone().unwrap())
        .write_all(&[byte])
        .unwrap();
}

/// `Scope::push`: a `Cancel` naming a `user_data` that two of the scope's
/// ops carry finds "one of them if several were, not always the first
/// pushed". The first pushed is `Q`; `R` was pushed after it, into the
/// slot a completed NOP freed, below `Q`'s: the cancel ends exactly one of
/// the two, and the other reads its byte.
#[test]
fn a_cancel_op_ends_one_of_two_scope_ops_sharing_its_user_data() {
    let _watch = uring_tests::watchdog();
    let (r1, w1) = uring_tests::pipe();
    let (r2, w2) = uring_tests::pipe();
    let mut q = [0u8; 1];
    let mut r = [0u8; 1];
    let mut ring = tagging_ring(Ring::builder(), 8);
    ring.scope(|s| {
        assert!(s.tags_every_op());
        s.push(Nop::new().user_data(1)).unwrap();
        s.push(Read::new(&r1, &mut q[..]).user_data(7)).unwrap();
        assert_eq!(reap(s, 1), [(1, 0)], "the NOP, its slot free again");
        s.push(Read::new(&r2, &mut r[..]).user_data(7)).unwrap();
        s.submit().unwrap();
        s.push(Cancel::new(7).user_data(100)).unwrap();
        let mut got = reap(s, 2);
        got.sort_unstable();
        assert_eq!(got, [(7, -libc::ECANCELED), (100, 0)]);
        assert_eq!(s.in_flight(), 1);
        feed(&w1, b'Q');
        feed(&w2, b'R');
        assert_eq!(reap(s, 1), [(7, 1)]);
    });
    assert!(
        (q, r) == ([0], [b'R']) || (q, r) == ([b'Q'], [0]),
        "one cancelled, the other read its byte: {q:?} {r:?}"
    );
}

/// `Scope::push`: two `Cancel`s of one `user_data`, pushed together while
/// two of the scope's ops carry it: "each further op that names the value
/// gets the next of them in turn" (`ScopeTable::pick`), so the two
/// cancels end both reads, each once.
#[test]
fn two_cancel_ops_of_one_user_data_end_both_carriers() {
    let _watch = uring_tests::watchdog();
    let (r1, w1) = uring_tests::pipe();
    let (r2, w2) = uring_tests::pipe();
    let mut q = [0u8; 1];
    let mut r = [0u8; 1];
    let mut ring = tagging_ring(Ring::builder(), 8);
    ring.scope(|s| {
        assert!(s.tags_every_op());
        s.push(Read::new(&r1, &mut q[..]).user_data(7)).unwrap();
        s.push(Read::new(&r2, &mut r[..]).user_data(7)).unwrap();
        s.submit().unwrap();
        s.push(Cancel::new(7).user_data(100)).unwrap();
        s.push(Cancel::new(7).user_data(101)).unwrap();
        let mut got = reap(s, 4);
        got.sort_unstable();
        assert_eq!(
            got,
            [
                (7, -libc::ECANCELED),
                (7, -libc::ECANCELED),
                (100, 0),
                (101, 0)
            ]
        );
        assert_eq!(s.in_flight(), 0);
        feed(&w1, b'Q');
        feed(&w2, b'R');
    });
    assert_eq!((q, r), ([0], [0]), "neither read");
}

/// Undocumented, and sound: a `Cancel` flagged `ALL` naming a `user_data`
/// that several tagged ops of the scope carry cannot reach them (each
/// carries its own tag, and one request matches one `user_data`), so the
/// scope makes it fail with `-EINVAL` without cancelling any; the ops stay
/// in flight, and `Scope::cancel` (what the docs point to) ends them all.
/// With one carrier, the flag is kept and the request counts it.
#[test]
fn a_cancel_flagged_all_over_several_tagged_carriers_fails_einval_and_ends_none() {
    let _watch = uring_tests::watchdog();
    let pipes: Vec<(OwnedFd, OwnedFd)> = (0..3).map(|_| uring_tests::pipe()).collect();
    let mut bufs = [[0u8; 1]; 3];
    let mut ring = tagging_ring(Ring::builder(), 16);
    ring.scope(|s| {
        assert!(s.tags_every_op());
        let [a, b, c] = &mut bufs;
        s.push(Read::new(&pipes[0].0, &mut a[..]).user_data(7))
            .unwrap();
        s.push(Read::new(&pipes[1].0, &mut b[..]).user_data(7))
            .unwrap();
        s.push(Read::new(&pipes[2].0, &mut c[..]).user_data(8))
            .unwrap();
        s.submit().unwrap();
        s.push(Cancel::new(7).cancel_flags(CancelFlags::ALL).user_data(100))
            .unwrap();
        assert_eq!(reap(s, 1), [(100, -libc::EINVAL)]);
        // Nothing else came: both reads carrying 7 are still armed.
        s.submit_and_wait_timeout(1, Duration::from_millis(30))
            .map(|_| ())
            .or_else(|e| match e {
                Error::TimedOut => Ok(()),
                e => Err(e),
            })
            .unwrap();
        assert_eq!(s.completions().count(), 0);
        assert_eq!(s.in_flight(), 3);
        // One carrier: `ALL` goes through, and counts one.
        s.push(Cancel::new(8).cancel_flags(CancelFlags::ALL).user_data(101))
            .unwrap();
        let mut got = reap(s, 2);
        got.sort_unstable();
        assert_eq!(got, [(8, -libc::ECANCELED), (101, 1)]);
        // What the docs point to instead.
        assert_eq!(s.cancel(7).unwrap(), 2);
        assert_eq!(reap(s, 2), [(7, -libc::ECANCELED), (7, -libc::ECANCELED)]);
        assert_eq!(s.in_flight(), 0);
    });
    for (_, w) in &pipes {
        feed(w, b'x');
    }
    assert_eq!(bufs, [[0u8; 1]; 3], "no read ran after its cancel");
}

/// `Scope::cancel`: more ops carry the `user_data` than the SQ has entries,
/// so the requests (one per op in a scope that tags every op) never fit:
/// `QueueFull` with the SQ empty, nothing queued; `cancel_sync` with
/// `SyncCancel::all` ends them all, and each completes once, cancelled.
#[test]
fn scope_cancel_of_more_carriers_than_the_sq_holds_is_queue_full_and_cancel_sync_all_ends_them() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(6, 0, "IORING_REGISTER_SYNC_CANCEL") {
        return;
    }
    let pipes: Vec<(OwnedFd, OwnedFd)> = (0..3).map(|_| uring_tests::pipe()).collect();
    let mut bufs = [[0u8; 1]; 3];
    let mut ring = tagging_ring(Ring::builder().cq_entries(8), 2);
    assert_eq!(ring.sq_entries(), 2);
    ring.scope(|s| {
        assert!(s.tags_every_op());
        for (buf, (r, _)) in bufs.iter_mut().zip(&pipes) {
            if s.space_left() == 0 {
                s.submit().unwrap();
            }
            s.push(Read::new(r, &mut buf[..]).user_data(7)).unwrap();
        }
        s.submit().unwrap();
        assert_eq!(s.in_flight(), 3);
        assert_eq!(s.space_left(), 2);
        let err = s.cancel(7).unwrap_err();
        assert_eq!(err.kind(), PushErrorKind::QueueFull);
        assert_eq!(s.space_left(), 2, "no request was queued");
        assert_eq!(s.submit().unwrap(), 0);
        // Still refused after a submit: no room will ever come.
        assert_eq!(s.cancel(7).unwrap_err().kind(), PushErrorKind::QueueFull);
        // Two of three fit: a user_data two carry is cancelled as usual.
        s.cancel_sync(SyncCancel::user_data(7).all(), Some(PATIENCE))
            .unwrap();
        assert_eq!(reap(s, 3), [(7, -libc::ECANCELED); 3]);
        assert_eq!(s.in_flight(), 0);
        assert_eq!(s.cancel(7).unwrap(), 0, "nothing carries 7 any more");
    });
    for (_, w) in &pipes {
        feed(w, b'x');
    }
    assert_eq!(bufs, [[0u8; 1]; 3]);
}

/// `Scope::cancel_sync`: "an `ENOENT` error when nothing matched (but for
/// `all` and `any`)", in a scope with an op in flight that matches none of
/// the keys, which it leaves alone; by descriptor, `ENOENT` as well when
/// no op is on that file.
#[test]
fn scope_cancel_sync_without_a_match_is_enoent_but_all_and_any_are_ok() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(6, 0, "IORING_REGISTER_SYNC_CANCEL") {
        return;
    }
    let (r, w) = uring_tests::pipe();
    let (other, _other_w) = uring_tests::pipe();
    let mut buf = [0u8; 1];
    for tag_all in [false, true] {
        let mut ring = if tag_all {
            tagging_ring(Ring::builder(), 8)
        } else {
            Ring::new(8).unwrap()
        };
        ring.scope(|s| {
            s.push(Read::new(&r, &mut buf[..]).user_data(7)).unwrap();
            s.submit().unwrap();
            let enoent = |got: uring::Result<()>| {
                matches!(got, Err(Error::Os { ref source, .. })
                    if source.raw_os_error() == Some(libc::ENOENT))
            };
            let none = s.cancel_sync(SyncCancel::user_data(9), Some(PATIENCE));
            assert!(enoent(none), "tag_all {tag_all}");
            let none = s.cancel_sync(SyncCancel::fd(&other), Some(PATIENCE));
            assert!(enoent(none), "tag_all {tag_all}");
            s.cancel_sync(SyncCancel::user_data(9).all(), Some(PATIENCE))
                .unwrap();
            s.cancel_sync(SyncCancel::fd(&other).all(), Some(PATIENCE))
                .unwrap();
            assert_eq!(s.in_flight(), 1, "tag_all {tag_all}: the read is untouched");
            feed(&w, b'k');
            assert_eq!(reap(s, 1), [(7, 1)]);
            // With nothing in flight at all, `any` still answers Ok.
            s.cancel_sync(SyncCancel::any(), Some(PATIENCE)).unwrap();
        });
        assert_eq!(buf, [b'k']);
        buf = [0];
    }
}

/// `Scope::cancel_sync`: by `user_data`, "it finds the scope's ops pushed
/// with that value, as `cancel` does (one of them, as a `Cancel` op finds
/// it, or every one with `SyncCancel::all`)". Of `Q` (pushed first, in a
/// higher slot) and `R` (pushed later into the slot a completed NOP
/// freed), exactly one is cancelled and the other reads its byte.
#[test]
fn cancel_sync_by_user_data_ends_one_carrier() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(6, 0, "IORING_REGISTER_SYNC_CANCEL") {
        return;
    }
    let (r1, w1) = uring_tests::pipe();
    let (r2, w2) = uring_tests::pipe();
    let mut q = [0u8; 1];
    let mut r = [0u8; 1];
    let mut ring = tagging_ring(Ring::builder(), 8);
    ring.scope(|s| {
        assert!(s.tags_every_op());
        s.push(Nop::new().user_data(1)).unwrap();
        s.push(Read::new(&r1, &mut q[..]).user_data(7)).unwrap();
        assert_eq!(reap(s, 1), [(1, 0)], "the NOP, its slot free again");
        s.push(Read::new(&r2, &mut r[..]).user_data(7)).unwrap();
        s.submit().unwrap();
        s.cancel_sync(SyncCancel::user_data(7), Some(PATIENCE))
            .unwrap();
        assert_eq!(reap(s, 1), [(7, -libc::ECANCELED)]);
        assert_eq!(s.in_flight(), 1);
        feed(&w1, b'Q');
        feed(&w2, b'R');
        assert_eq!(reap(s, 1), [(7, 1)]);
    });
    assert!(
        (q, r) == ([0], [b'R']) || (q, r) == ([b'Q'], [0]),
        "one cancelled, the other read its byte: {q:?} {r:?}"
    );
}

/// `Scope::in_flight`: "Ops pushed in this scope whose last completion the
/// scope has not read yet (an op that has posted it still counts until the
/// completions are read)". A NOP that has posted its only completion (it
/// waits in the CQ: `ready()` is 1) counts until the scope reads it, then
/// no more.
#[test]
fn in_flight_counts_an_op_until_its_last_completion_is_read() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.scope(|s| {
        s.push(Nop::new().user_data(1)).unwrap();
        s.submit_and_wait(1).unwrap();
        assert_eq!(s.ready(), 1, "the NOP's completion is posted");
        assert_eq!(s.in_flight(), 1, "posted, not read");
        s.wait(1).unwrap();
        assert_eq!(s.in_flight(), 1, "a wait reads nothing");
        assert_eq!(reap(s, 1), [(1, 0)]);
        assert_eq!(s.in_flight(), 0, "read");
    });
}

/// `Scope::resize`: "A CQ smaller than the ops now in flight is refused
/// (`Error::InvalidArgument`) before anything is submitted". Two NOPs
/// pushed and not submitted stay in the SQ through the refused resize (the
/// next submit hands the kernel exactly those two), the ring keeps its
/// sizes, and the scope its room.
#[test]
fn a_refused_scope_resize_submits_nothing_of_what_was_pushed() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = uring_tests::resizable_ring(4) else {
        return;
    };
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (4, 8));
    let pipes: Vec<(OwnedFd, OwnedFd)> = (0..4).map(|_| uring_tests::pipe()).collect();
    let mut bufs = [[0u8; 1]; 4];
    ring.scope(|s| {
        for (buf, (r, _)) in bufs.iter_mut().zip(&pipes) {
            s.push(Read::new(r, &mut buf[..]).user_data(7)).unwrap();
        }
        assert_eq!(s.submit().unwrap(), 4);
        s.push(Nop::new().user_data(1)).unwrap();
        s.push(Nop::new().user_data(2)).unwrap();
        assert_eq!(s.in_flight(), 6);
        let refused = s.resize(2, 4);
        assert!(
            matches!(refused, Err(Error::InvalidArgument(_))),
            "{refused:?}"
        );
        assert_eq!(s.ready(), 0);
        assert_eq!(s.space_left(), 2, "the two NOPs still wait in the SQ");
        assert_eq!(s.submit().unwrap(), 2, "and go to the kernel now");
        let mut got = reap(s, 2);
        got.sort_unstable();
        assert_eq!(got, [(1, 0), (2, 0)]);
        // The scope's room is still the CQ's eight.
        for ud in 10..14 {
            s.push(Nop::new().user_data(ud)).unwrap();
        }
        assert_eq!(s.in_flight(), 8);
        assert_eq!(
            s.push(Nop::new().user_data(99)).unwrap_err().kind(),
            PushErrorKind::ScopeFull
        );
        assert_eq!(reap(s, 4).len(), 4);
        let requests = if s.tags_every_op() { 4 } else { 1 };
        assert_eq!(s.cancel(7).unwrap(), requests);
        assert_eq!(reap(s, 4), [(7, -libc::ECANCELED); 4]);
    });
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (4, 8));
    assert_eq!(bufs, [[0u8; 1]; 4]);
}

/// `Scope::cancel` cancels "the scope's ops in flight" with that
/// `user_data`: an op pushed before the scope that carries it is none of
/// them (0 requests, nothing queued, the op untouched), while a `Cancel`
/// op pushed in the scope, which finds "the scope's op ... or else an op
/// pushed before the scope", ends it, and its completion passes through
/// the scope as a foreign one.
#[test]
fn scope_cancel_leaves_an_op_pushed_before_the_scope_that_a_cancel_op_reaches() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (r, w) = uring_tests::pipe();
    let mut early = [0u8; 1];
    uring_tests::push_lent!(ring, Read::new(&r, &mut early[..]).user_data(5)).unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    ring.scope(|s| {
        assert!(s.tags_every_op(), "an op was pushed outside a scope");
        let room = s.space_left();
        assert_eq!(s.cancel(5).unwrap(), 0);
        assert_eq!(s.space_left(), room, "no request queued");
        assert_eq!(s.submit().unwrap(), 0);
        s.submit_and_wait_timeout(1, Duration::from_millis(30))
            .map(|_| ())
            .or_else(|e| match e {
                Error::TimedOut => Ok(()),
                e => Err(e),
            })
            .unwrap();
        assert_eq!(s.ready(), 0, "the early read is still armed");
        s.push(Cancel::new(5).user_data(100)).unwrap();
        let mut got = Vec::new();
        let start = std::time::Instant::now();
        while got.len() < 2 {
            assert!(start.elapsed() < PATIENCE, "{got:?}");
            s.submit_and_wait_timeout(1, Duration::from_millis(100))
                .map(|_| ())
                .or_else(|e| match e {
                    Error::TimedOut => Ok(()),
                    e => Err(e),
                })
                .unwrap();
            got.extend(
                s.completions()
                    .map(|c| (c.user_data(), c.res(), c.is_scope_op())),
            );
        }
        got.sort_unstable();
        assert_eq!(got, [(5, -libc::ECANCELED, false), (100, 0, true)]);
        assert_eq!(s.in_flight(), 0);
    });
    feed(&w, b'x');
    assert_eq!(early, [0], "the cancelled early read took nothing");
}
