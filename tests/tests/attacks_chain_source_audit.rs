//! Chains checked against the kernel's own link handling (Linux 6.18,
//! `io_uring/io_uring.c`, `timeout.c`, `rw.c`), attacked from safe code.
//!
//! The kernel facts the library's chains rest on, and where each is checked:
//!
//! - `io_submit_fail_init`: an SQE that fails at submission (`io_init_req`:
//!   here an unregistered personality, `-EINVAL`) fails the chain being
//!   built: its head is marked `REQ_F_FAIL` with `-ECANCELED`, the rest of
//!   the chain is still gathered, and `io_queue_sqe_fallback` fails the
//!   whole chain without issuing any member, turning hard links into soft
//!   ones. So members *before* the bad one never run either, and a hard
//!   link does not save what follows
//!   (`a_member_failing_at_submission_fails_its_whole_chain_unissued`,
//!   `a_then_write_pair_failing_at_submission_moves_no_byte`).
//! - `io_fail_links` / `req_set_fail`: a member that fails when issued
//!   fails its soft successors with `-ECANCELED`, never issued; a member
//!   flagged `CQE_SKIP_SUCCESS` that fails sets `REQ_F_SKIP_LINK_CQES`,
//!   which would silence the successors' completions: a scope clears the
//!   flag on every SQE, so each member still posts (same test, `skip`
//!   variants).
//! - `__io_complete_rw_common`: a short read calls `req_set_fail`, which
//!   fails the link, so a `then_write` write never sends bytes its read did
//!   not place (`push_owned_chains_end_every_way_and_come_back_once`).
//! - `io_disarm_next`, `__io_disarm_linked_timeout`, `io_link_timeout_fn`:
//!   a link timeout posts exactly one completion: `-ECANCELED` when its op
//!   ends first or its chain fails before it, `-ETIME` when it fires; its
//!   op then ends `-ECANCELED`, and the soft links after both are failed
//!   (`a_link_timeout_behind_a_failed_submission_ends_at_once`, and the
//!   owned-buffer chains).
//! - `io_req_task_link_timeout`: a fired link timeout cancels through
//!   `io_try_cancel` by its op's `user_data`, not by the request: an op of
//!   the same `user_data` that the cancel finds first is cancelled in its
//!   place (`a_fired_link_timeout_cancels_by_user_data`).
//! - `io_queue_next`: no member is issued before the one before it has
//!   completed, whatever `IOSQE_ASYNC` or `IO_DRAIN` it carries
//!   (`no_member_starts_before_the_one_before_it_ends`, and the byte order
//!   of `either_chains_whose_sides_vary_run_as_their_sides`).
//! - A scope counts one completion per SQE of a chain, and an owned buffer
//!   comes back with the last of its chain's completions, once; the end of
//!   a scope (a return or a panic) cancels the head, whose failure ends the
//!   rest unissued (`a_scope_ended_mid_chain_leaves_the_rest_unissued`).
//! - The reactor's op and deadline chains: the link timeout's completion
//!   carries a `user_data` no slot has, however late it comes
//!   (`reactor_deadline_chains_over_owned_buffers_end_once_each_way`).
//!
//! Every attack is safe code.

use std::cell::Cell;
use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::{Duration, Instant};

use uring::ops::{Nop, Read, Write};
use uring::reactor::{Reactor, SharedFd};
use uring::{Cqe, Either, Linked, Personality, Ring, Scope, SqeFlags};
use uring_tests::PATIENCE;

const CANARY: u8 = 0xa5;
const HOUR: Duration = Duration::from_secs(3600);

/// With `tag_all`, pushes a NOP outside any scope and reaps it: every
/// later scope of the ring then tags every op.
fn tag_every_op_if(ring: &mut Ring, tag_all: bool) {
    if tag_all {
        ring.push(Nop::new()).unwrap();
        uring_tests::reap_one(ring);
        assert!(ring.scope(|s| s.tags_every_op()));
    } else {
        assert!(!ring.scope(|s| s.tags_every_op()));
    }
}

/// A personality registered and unregistered again: an SQE naming it
/// fails in `io_init_req` (`-EINVAL`), before the kernel issues anything.
fn gone_personality(ring: &mut Ring) -> Personality {
    let p = ring.register_personality().unwrap();
    ring.unregister_personality(p).unwrap();
    p
}

/// Submits and reads completions in the scope until `done` says enough
/// came, within [`PATIENCE`]; returns all read.
fn reap_until(s: &mut Scope<'_, '_>, done: impl Fn(&[Cqe]) -> bool) -> Vec<Cqe> {
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    while !done(&seen) {
        assert!(Instant::now() < deadline, "no end in sight: {seen:?}");
        s.submit().unwrap();
        let _ = s.wait_timeout(1, Duration::from_millis(20));
        seen.extend(s.completions().map(|c| c.cqe()));
    }
    seen
}

/// Reads `n` completions, then checks that no more come for a while.
fn reap_exactly(s: &mut Scope<'_, '_>, n: usize) -> Vec<Cqe> {
    let mut seen = reap_until(s, |seen| seen.len() >= n);
    std::thread::sleep(Duration::from_millis(5));
    s.submit().unwrap();
    seen.extend(s.completions().map(|c| c.cqe()));
    assert_eq!(seen.len(), n, "completions: {seen:?}");
    seen
}

/// The `(user_data, res)` of `seen`, sorted by `user_data`; each
/// `user_data` must appear once.
fn results(seen: &[Cqe]) -> Vec<(u64, i32)> {
    let mut r: Vec<(u64, i32)> = seen.iter().map(|c| (c.user_data(), c.res())).collect();
    r.sort();
    let mut uds: Vec<u64> = r.iter().map(|x| x.0).collect();
    uds.dedup();
    assert_eq!(uds.len(), r.len(), "a user_data completed twice: {r:?}");
    r
}

/// Everything the stream holds now, without blocking.
fn drain_now(rx: &UnixStream) -> Vec<u8> {
    rx.set_nonblocking(true).unwrap();
    let mut out = Vec::new();
    let mut chunk = [0u8; 256];
    loop {
        match (&*rx).read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    rx.set_nonblocking(false).unwrap();
    out
}

/// `join!(hard, a, b)`: `a.hard_link(b)` or `a.link(b)`.
macro_rules! join {
    ($hard:expr, $a:expr, $b:expr) => {
        if $hard { $a.hard_link($b) } else { $a.link($b) }
    };
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Place {
    First,
    Middle,
    Last,
}

/// A chain of three: two reads of streams that already hold their bytes,
/// and a NOP in place `place` naming an unregistered personality, joined
/// by soft or hard links, every SQE flagged `CQE_SKIP_SUCCESS` or none.
/// `io_submit_fail_init` fails the chain as it is built and
/// `io_queue_sqe_fallback` fails it whole, hard links turned soft: the NOP
/// ends `-EINVAL`, both reads `-ECANCELED` though their data was ready
/// (the one before the NOP too), and neither stream loses a byte nor
/// canary a bit. For contrast, the same chain with a NOP that fails only
/// when issued (an injected `-EIO`): the read before it runs, the read
/// after it runs only over a hard link, and with `CQE_SKIP_SUCCESS` on
/// every SQE (which would have the kernel skip the cancelled successors'
/// completions, `REQ_F_SKIP_LINK_CQES`) each member still posts one
/// completion, since the scope clears the flag.
#[test]
fn a_member_failing_at_submission_fails_its_whole_chain_unissued() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(6, 10, "a NOP that fails (IORING_NOP_INJECT_RESULT)") {
        return;
    }
    for tag_all in [false, true] {
        for place in [Place::First, Place::Middle, Place::Last] {
            for hard in [false, true] {
                for skip in [false, true] {
                    for at_init in [true, false] {
                        chain_with_a_bad_member(tag_all, place, hard, skip, at_init);
                    }
                }
            }
        }
    }
}

fn chain_with_a_bad_member(tag_all: bool, place: Place, hard: bool, skip: bool, at_init: bool) {
    let what = format!("tag_all {tag_all} {place:?} hard {hard} skip {skip} at_init {at_init}");
    let mut ring = Ring::new(8).unwrap();
    let gone = gone_personality(&mut ring);
    tag_every_op_if(&mut ring, tag_all);
    let (mut a_tx, a_rx) = UnixStream::pair().unwrap();
    let (mut b_tx, b_rx) = UnixStream::pair().unwrap();
    a_tx.write_all(b"AAAA").unwrap();
    b_tx.write_all(b"BBBB").unwrap();
    let mut ca = [CANARY; 4];
    let mut cb = [CANARY; 4];
    let flags = if skip {
        SqeFlags::CQE_SKIP_SUCCESS
    } else {
        SqeFlags::EMPTY
    };
    let bad = if at_init {
        Nop::new().personality(gone)
    } else {
        Nop::new().result(-libc::EIO)
    }
    .user_data(9)
    .flags(flags);
    let ra = Read::new(&a_rx, &mut ca[..]).user_data(1).flags(flags);
    let rb = Read::new(&b_rx, &mut cb[..]).user_data(2).flags(flags);
    let seen = ring.scope(|s| {
        match place {
            Place::First => s.push(join!(hard, join!(hard, bad, ra), rb)).unwrap(),
            Place::Middle => s.push(join!(hard, join!(hard, ra, bad), rb)).unwrap(),
            Place::Last => s.push(join!(hard, join!(hard, ra, rb), bad)).unwrap(),
        }
        let seen = reap_exactly(s, 3);
        assert_eq!(s.in_flight(), 0, "{what}");
        seen
    });
    let bad_res = if at_init { -libc::EINVAL } else { -libc::EIO };
    let ecan = -libc::ECANCELED;
    let (a, b) = if at_init {
        // Nothing of the chain is issued.
        (ecan, ecan)
    } else {
        match place {
            Place::First if hard => (4, 4),
            Place::First => (ecan, ecan),
            Place::Middle if hard => (4, 4),
            Place::Middle => (4, ecan),
            Place::Last => (4, 4),
        }
    };
    assert_eq!(
        results(&seen),
        [(1, a), (2, b), (9, bad_res)],
        "{what}: {seen:?}"
    );
    let expect = |res: i32, data: &[u8; 4]| if res == 4 { *data } else { [CANARY; 4] };
    assert_eq!(ca, expect(a, b"AAAA"), "{what}");
    assert_eq!(cb, expect(b, b"BBBB"), "{what}");
    let left = |res: i32, data: &[u8]| if res == 4 { Vec::new() } else { data.to_vec() };
    assert_eq!(drain_now(&a_rx), left(a, b"AAAA"), "{what}");
    assert_eq!(drain_now(&b_rx), left(b, b"BBBB"), "{what}");
}

/// `then_write` pairs whose read or write fails at submission (an
/// unregistered personality, set through `then_write_with` for the write):
/// the kernel fails the pair whole, so a failed write means a read never
/// issued (`-ECANCELED`, its stream keeps its bytes, its buffer its
/// canary), and a failed read a write cancelled. A `Linked::hard` chain of
/// a good pair and one whose write fails at submission loses both pairs,
/// hard link and all: no byte moves anywhere. An op hard-linked after such
/// a pair is cancelled too.
#[test]
fn a_then_write_pair_failing_at_submission_moves_no_byte() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        for bad_write in [true, false] {
            let what = format!("tag_all {tag_all} bad_write {bad_write}");
            let mut ring = Ring::new(16).unwrap();
            let gone = gone_personality(&mut ring);
            tag_every_op_if(&mut ring, tag_all);
            let (mut src_tx, src_rx) = UnixStream::pair().unwrap();
            let (dst_tx, dst_rx) = UnixStream::pair().unwrap();
            let (mut src2_tx, src2_rx) = UnixStream::pair().unwrap();
            src_tx.write_all(b"pair one").unwrap();
            src2_tx.write_all(b"pair two").unwrap();
            let mut buf = [CANARY; 8];
            let mut buf2 = [CANARY; 8];
            let mut after = [CANARY; 8];
            let seen = ring.scope(|s| {
                let read = Read::new(&src_rx, &mut buf[..]).user_data(1);
                let read = if bad_write {
                    read
                } else {
                    read.personality(gone)
                };
                let pair = read.then_write_with(&dst_tx, |w| {
                    let w = w.user_data(2);
                    if bad_write { w.personality(gone) } else { w }
                });
                s.push(pair.hard_link(Read::new(&src2_rx, &mut after[..]).user_data(3)))
                    .unwrap();
                let seen = reap_exactly(s, 3);
                assert_eq!(s.in_flight(), 0, "{what}");
                seen
            });
            let (r1, r2) = if bad_write {
                (-libc::ECANCELED, -libc::EINVAL)
            } else {
                (-libc::EINVAL, -libc::ECANCELED)
            };
            assert_eq!(
                results(&seen),
                [(1, r1), (2, r2), (3, -libc::ECANCELED)],
                "{what}"
            );
            assert_eq!((buf, after), ([CANARY; 8], [CANARY; 8]), "{what}");
            assert_eq!(drain_now(&src_rx), b"pair one", "{what}");
            assert_eq!(drain_now(&dst_rx), b"", "{what}");

            // Two pairs in a hard chain of run-time length; the second's
            // write fails at submission, and the first pair, whose read had
            // its bytes ready, never runs.
            src_tx.write_all(b"pair one").unwrap();
            let seen = ring.scope(|s| {
                let good = Read::new(&src_rx, &mut buf[..])
                    .user_data(11)
                    .then_write_with(&dst_tx, |w| w.user_data(12));
                let bad = Read::new(&src2_rx, &mut buf2[..])
                    .user_data(21)
                    .then_write_with(&dst_tx, |w| {
                        let w = w.user_data(22);
                        if bad_write { w.personality(gone) } else { w }
                    });
                s.push_linked(Linked::hard(vec![good, bad])).unwrap();
                let seen = reap_exactly(s, 4);
                assert_eq!(s.in_flight(), 0, "{what}");
                seen
            });
            if bad_write {
                let ecan = -libc::ECANCELED;
                assert_eq!(
                    results(&seen),
                    [(11, ecan), (12, ecan), (21, ecan), (22, -libc::EINVAL)],
                    "{what}"
                );
                assert_eq!((buf, buf2), ([CANARY; 8], [CANARY; 8]), "{what}");
                assert_eq!(drain_now(&src_rx), b"pair one", "{what}");
                assert_eq!(drain_now(&src2_rx), b"pair two", "{what}");
                assert_eq!(drain_now(&dst_rx), b"", "{what}");
            } else {
                assert_eq!(
                    results(&seen),
                    [(11, 8), (12, 8), (21, 8), (22, 8)],
                    "{what}"
                );
                assert_eq!((&buf, &buf2), (b"pair one", b"pair two"), "{what}");
                assert_eq!(drain_now(&dst_rx), b"pair onepair two", "{what}");
            }
        }
    }
}

/// A link timeout of an hour after an op that fails at submission, in the
/// middle of a chain: the op ends `-EINVAL`, its timeout `-ECANCELED` at
/// once (it is never armed), and the members before and after it
/// `-ECANCELED`; the scope returns without waiting for the hour. And a
/// link timeout that itself fails at submission takes its op down with it:
/// the read it bounds, whose bytes were ready, is never issued.
#[test]
fn a_link_timeout_behind_a_failed_submission_ends_at_once() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        for bad_timeout in [false, true] {
            let what = format!("tag_all {tag_all} bad_timeout {bad_timeout}");
            let mut ring = Ring::new(8).unwrap();
            let gone = gone_personality(&mut ring);
            tag_every_op_if(&mut ring, tag_all);
            let (mut tx, rx) = UnixStream::pair().unwrap();
            tx.write_all(b"ready!").unwrap();
            let mut c1 = [CANARY; 3];
            let mut c2 = [CANARY; 3];
            let seen = ring.scope(|s| {
                let first = Read::new(&rx, &mut c1[..]).user_data(1);
                let bounded = Read::new(&rx, &mut c2[..]).user_data(2);
                let (bounded, timeout) = if bad_timeout {
                    (
                        bounded,
                        uring::ops::LinkTimeout::new(HOUR)
                            .user_data(3)
                            .personality(gone),
                    )
                } else {
                    (
                        bounded.personality(gone),
                        uring::ops::LinkTimeout::new(HOUR).user_data(3),
                    )
                };
                s.push(
                    first
                        .link(bounded)
                        .link_timeout(timeout)
                        .hard_link(Nop::new().user_data(4)),
                )
                .unwrap();
                let seen = reap_exactly(s, 4);
                assert_eq!(s.in_flight(), 0, "{what}");
                seen
            });
            let ecan = -libc::ECANCELED;
            let (r2, r3) = if bad_timeout {
                (ecan, -libc::EINVAL)
            } else {
                (-libc::EINVAL, ecan)
            };
            assert_eq!(
                results(&seen),
                [(1, ecan), (2, r2), (3, r3), (4, ecan)],
                "{what}"
            );
            assert_eq!((c1, c2), ([CANARY; 3], [CANARY; 3]), "{what}");
            assert_eq!(drain_now(&rx), b"ready!", "{what}");
        }
    }
}

/// What a fired link timeout cancels: `io_req_task_link_timeout` asks
/// `io_try_cancel` for the first request of its op's `user_data`, not for
/// the op. A read of an empty stream (user_data 7) bounded by a 30 ms
/// timeout, and a second read of another empty stream, armed after it
/// with the same user_data 7: a scope tags every op of a submission with
/// a link timeout, fast or not, so the two carry different tags and the
/// timeout cuts the read it bounds. Each op posts one completion, the one
/// cancelled writes nothing, the other gets the bytes sent afterwards, and
/// the scope ends with nothing in flight.
#[test]
fn a_fired_link_timeout_cancels_by_user_data() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let (cut_bounded, cut_other) = timeout_beside_a_twin(tag_all);
        assert!(cut_bounded ^ cut_other, "exactly one read was cancelled");
        assert!(
            cut_bounded,
            "the timeout cut the read it bounds (every op tagged: {tag_all})"
        );
    }
}

/// The case of [`a_fired_link_timeout_cancels_by_user_data`] in a fast
/// scope, against `Link::timeout`'s promise that the timeout bounds the
/// chain's last op: were the bounded read left untagged (as a fast scope
/// leaves other ops), the kernel would find the other read of the same
/// `user_data` (the newer poll) and cancel it, while the bounded read
/// went on without its bound.
#[test]
fn a_link_timeout_in_a_fast_scope_cuts_the_op_it_bounds() {
    let _watch = uring_tests::watchdog();
    let (cut_bounded, cut_other) = timeout_beside_a_twin(false);
    assert!(
        cut_bounded && !cut_other,
        "the timeout cut the other op of the same user_data, not its own"
    );
}

/// Runs the bounded read and its twin of one `user_data`; returns whether
/// the bounded read and the twin were cancelled.
fn timeout_beside_a_twin(tag_all: bool) -> (bool, bool) {
    let mut ring = Ring::new(8).unwrap();
    tag_every_op_if(&mut ring, tag_all);
    let (mut a_tx, a_rx) = UnixStream::pair().unwrap();
    let (mut b_tx, b_rx) = UnixStream::pair().unwrap();
    let mut ca = [CANARY; 4];
    let mut cb = [CANARY; 4];
    let seen = ring.scope(|s| {
        s.push(
            Read::new(&a_rx, &mut ca[..])
                .user_data(7)
                .timeout_with(Duration::from_millis(30), 9),
        )
        .unwrap();
        s.submit().unwrap();
        s.push(Read::new(&b_rx, &mut cb[..]).user_data(7)).unwrap();
        s.submit().unwrap();
        let mut seen = reap_until(s, |seen| seen.iter().any(|c| c.user_data() == 9));
        std::thread::sleep(Duration::from_millis(10));
        seen.extend(s.completions().map(|c| c.cqe()));
        assert_eq!(s.in_flight(), 1, "one read left: {seen:?}");
        a_tx.write_all(b"AAAA").unwrap();
        b_tx.write_all(b"BBBB").unwrap();
        seen.extend(reap_until(s, |more| more.iter().any(|c| c.res() == 4)));
        assert_eq!(s.in_flight(), 0);
        seen
    });
    let timeout: Vec<i32> = seen
        .iter()
        .filter(|c| c.user_data() == 9)
        .map(|c| c.res())
        .collect();
    assert_eq!(timeout, [-libc::ETIME], "{seen:?}");
    let reads: Vec<i32> = seen
        .iter()
        .filter(|c| c.user_data() == 7)
        .map(|c| c.res())
        .collect();
    let mut sorted = reads.clone();
    sorted.sort();
    assert_eq!(sorted, [-libc::ECANCELED, 4], "{seen:?}");
    let cut_bounded = ca == [CANARY; 4];
    let cut_other = cb == [CANARY; 4];
    assert_eq!(
        (cut_bounded, cut_other),
        (ca != *b"AAAA", cb != *b"BBBB"),
        "a buffer holds something else: {ca:?} {cb:?}"
    );
    // The cancelled read's bytes stay in its stream.
    assert_eq!(
        drain_now(&a_rx),
        if cut_bounded { &b"AAAA"[..] } else { b"" }
    );
    assert_eq!(drain_now(&b_rx), if cut_other { &b"BBBB"[..] } else { b"" });
    eprintln!(
        "tag_all {tag_all}: the timeout cut {}",
        if cut_bounded {
            "its own op"
        } else {
            "the twin"
        }
    );
    (cut_bounded, cut_other)
}

/// A read of an empty stream heading a chain of two writes to another
/// stream, the first flagged `IOSQE_ASYNC | CQE_SKIP_SUCCESS`, the second
/// `IO_DRAIN`: neither write is issued while the read waits (the other
/// stream stays empty, two ops later), whatever their flags. Bytes for the
/// whole read: both writes run, in order. Half the bytes (a short read,
/// which `__io_complete_rw_common` fails): over soft links both writes are
/// cancelled, over hard links both run.
#[test]
fn no_member_starts_before_the_one_before_it_ends() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        for hard in [false, true] {
            for short in [false, true] {
                let what = format!("tag_all {tag_all} hard {hard} short {short}");
                let mut ring = Ring::new(8).unwrap();
                tag_every_op_if(&mut ring, tag_all);
                let (mut a_tx, a_rx) = UnixStream::pair().unwrap();
                let (c_tx, c_rx) = UnixStream::pair().unwrap();
                let mut buf = [CANARY; 4];
                let seen = ring.scope(|s| {
                    let read = Read::new(&a_rx, &mut buf[..]).user_data(1);
                    let w1 = Write::new(&c_tx, b"WXYZ")
                        .user_data(2)
                        .flags(SqeFlags::ASYNC | SqeFlags::CQE_SKIP_SUCCESS);
                    let w2 = Write::new(&c_tx, b"1234")
                        .user_data(3)
                        .flags(SqeFlags::IO_DRAIN);
                    s.push(join!(hard, join!(hard, read, w1), w2)).unwrap();
                    s.submit().unwrap();
                    std::thread::sleep(Duration::from_millis(30));
                    s.submit().unwrap();
                    assert_eq!(s.completions().count(), 0, "{what}");
                    assert_eq!(s.in_flight(), 3, "{what}");
                    assert_eq!(drain_now(&c_rx), b"", "{what}: a write ran early");
                    a_tx.write_all(if short { b"ab" } else { b"abcd" }).unwrap();
                    let seen = reap_exactly(s, 3);
                    assert_eq!(s.in_flight(), 0, "{what}");
                    seen
                });
                let ecan = -libc::ECANCELED;
                let (r1, w) = match (short, hard) {
                    (false, _) => (4, 4),
                    (true, true) => (2, 4),
                    (true, false) => (2, ecan),
                };
                assert_eq!(results(&seen), [(1, r1), (2, w), (3, w)], "{what}");
                let sent = drain_now(&c_rx);
                if w == 4 {
                    assert_eq!(sent, b"WXYZ1234", "{what}");
                } else {
                    assert_eq!(sent, b"", "{what}");
                }
                let read: &[u8] = if short { b"ab" } else { b"abcd" };
                assert_eq!(&buf[..read.len()], read, "{what}");
                assert!(buf[read.len()..].iter().all(|&b| b == CANARY), "{what}");
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum End {
    Whole,
    Short,
    Fired,
    ReadRefused,
    WriteRefused,
}

/// A chain over one owned vector (`push_owned`): a read into its first
/// half bounded by a link timeout, linked to a write of its second half.
/// Ended every way: the read gets all its bytes, a short read, the timeout
/// firing, the read or the write failing at submission. Each of the three
/// SQEs posts one completion, as the kernel must (`-ECANCELED` for what a
/// failure or the timeout cut, unissued); the vector comes back once, with
/// the last of the three, holding the bytes the read placed and canary
/// bytes elsewhere; the write sends its half only after a whole read; the
/// read's stream keeps what the read did not take.
#[test]
fn push_owned_chains_end_every_way_and_come_back_once() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        for end in [
            End::Whole,
            End::Short,
            End::Fired,
            End::ReadRefused,
            End::WriteRefused,
        ] {
            owned_chain_ending(tag_all, end);
        }
    }
}

fn owned_chain_ending(tag_all: bool, end: End) {
    let what = format!("tag_all {tag_all} {end:?}");
    let mut ring = Ring::new(8).unwrap();
    let gone = gone_personality(&mut ring);
    tag_every_op_if(&mut ring, tag_all);
    let (mut a_tx, a_rx) = UnixStream::pair().unwrap();
    let (b_tx, b_rx) = UnixStream::pair().unwrap();
    let sent: &[u8] = match end {
        End::Short => b"abc",
        End::Fired => b"",
        _ => b"abcdefgh",
    };
    a_tx.write_all(sent).unwrap();
    let mut vec = vec![CANARY; 8];
    vec.extend_from_slice(b"payload!");
    let timeout = if end == End::Fired {
        Duration::from_millis(20)
    } else {
        HOUR
    };
    let (seen, back, at) = ring.scope(|s| {
        s.push_owned(vec, |buf, sq| {
            let (first, second) = buf.split_at_mut(8);
            let read = Read::new(&a_rx, first).user_data(1);
            let read = if end == End::ReadRefused {
                read.personality(gone)
            } else {
                read
            };
            let write = Write::new(&b_tx, &*second).user_data(3);
            let write = if end == End::WriteRefused {
                write.personality(gone)
            } else {
                write
            };
            sq.push(read.timeout_with(timeout, 2).link(write));
        })
        .unwrap();
        let deadline = Instant::now() + PATIENCE;
        let mut seen = Vec::new();
        let mut back = Vec::new();
        while seen.len() < 3 {
            assert!(Instant::now() < deadline, "{what}: {seen:?}");
            s.submit().unwrap();
            let _ = s.wait_timeout(1, Duration::from_millis(20));
            for mut c in s.completions() {
                if let Some(b) = c.take_buf() {
                    back.push((seen.len(), b));
                }
                seen.push(c.cqe());
            }
        }
        assert_eq!(s.in_flight(), 0, "{what}");
        assert_eq!(back.len(), 1, "{what}: the vector came back {back:?}");
        let (at, back) = back.pop().unwrap();
        (seen, back, at)
    });
    assert_eq!(
        at, 2,
        "{what}: the vector came back before the last completion"
    );
    let ecan = -libc::ECANCELED;
    let want = match end {
        End::Whole => [(1, 8), (2, ecan), (3, 8)],
        End::Short => [(1, 3), (2, ecan), (3, ecan)],
        End::Fired => [(1, ecan), (2, -libc::ETIME), (3, ecan)],
        End::ReadRefused => [(1, -libc::EINVAL), (2, ecan), (3, ecan)],
        End::WriteRefused => [(1, ecan), (2, ecan), (3, -libc::EINVAL)],
    };
    assert_eq!(results(&seen), want, "{what}");
    let placed = if want[0].1 > 0 { want[0].1 as usize } else { 0 };
    assert_eq!(&back[..placed], &sent[..placed], "{what}");
    assert!(
        back[placed..8].iter().all(|&b| b == CANARY),
        "{what}: {back:?}"
    );
    assert_eq!(&back[8..], b"payload!", "{what}");
    let written = drain_now(&b_rx);
    if want[2].1 == 8 {
        assert_eq!(written, b"payload!", "{what}");
    } else {
        assert_eq!(written, b"", "{what}: the write ran after a broken read");
    }
    a_tx.write_all(b"late").unwrap();
    let mut left = sent[placed..].to_vec();
    left.extend_from_slice(b"late");
    assert_eq!(drain_now(&a_rx), left, "{what}");
}

type Side<'a> = Either<
    uring::Link<Read<'a, uring::Fd<'a>>, uring::ops::LinkTimeout>,
    uring::Link<Nop, uring::ops::LinkTimeout>,
>;

/// `Linked::new` chains of three `Either` elements, each side bounded by an
/// hour's link timeout: a read of 4 bytes, a NOP, or a NOP that fails at
/// submission. Every one of the 27 choices: without a failing NOP, each
/// read gets the next 4 bytes of the stream in chain order (no read
/// starts before the one before it ends) and every timeout ends
/// `-ECANCELED`; with one, the whole chain is failed unissued (each
/// failing NOP `-EINVAL`, the rest `-ECANCELED`) and the stream keeps
/// every byte. Each SQE posts once, and every canary not read into stays.
#[test]
fn either_chains_whose_sides_vary_run_as_their_sides() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = Ring::new(16).unwrap();
        let gone = gone_personality(&mut ring);
        tag_every_op_if(&mut ring, tag_all);
        for choice in 0..27u32 {
            let kinds: Vec<u32> = (0..3).map(|i| choice / 3u32.pow(i) % 3).collect();
            let what = format!("tag_all {tag_all} kinds {kinds:?}");
            let (mut tx, rx) = UnixStream::pair().unwrap();
            let reads = kinds.iter().filter(|&&k| k == 0).count();
            let data: Vec<u8> = (0..reads * 4).map(|i| b'a' + i as u8).collect();
            tx.write_all(&data).unwrap();
            let mut bufs = [[CANARY; 4]; 3];
            let seen = ring.scope(|s| {
                let chain: Vec<Side<'_>> = bufs
                    .iter_mut()
                    .zip(&kinds)
                    .enumerate()
                    .map(|(i, (buf, &k))| {
                        let ud = 10 * i as u64;
                        match k {
                            0 => Either::Left(
                                Read::new(&rx, &mut buf[..])
                                    .user_data(ud + 1)
                                    .timeout_with(HOUR, ud + 2),
                            ),
                            1 => Either::Right(
                                Nop::new().user_data(ud + 1).timeout_with(HOUR, ud + 2),
                            ),
                            _ => Either::Right(
                                Nop::new()
                                    .personality(gone)
                                    .user_data(ud + 1)
                                    .timeout_with(HOUR, ud + 2),
                            ),
                        }
                    })
                    .collect();
                s.push_linked(Linked::new(chain)).unwrap();
                let seen = reap_exactly(s, 6);
                assert_eq!(s.in_flight(), 0, "{what}");
                seen
            });
            let failed = kinds.contains(&2);
            let ecan = -libc::ECANCELED;
            let mut want = Vec::new();
            for (i, &k) in kinds.iter().enumerate() {
                let ud = 10 * i as u64;
                let op = match (failed, k) {
                    (true, 2) => -libc::EINVAL,
                    (true, _) => ecan,
                    (false, 0) => 4,
                    (false, _) => 0,
                };
                want.push((ud + 1, op));
                want.push((ud + 2, ecan));
            }
            assert_eq!(results(&seen), want, "{what}");
            let mut next = 0;
            for (buf, &k) in bufs.iter().zip(&kinds) {
                if k == 0 && !failed {
                    assert_eq!(&buf[..], &data[next..next + 4], "{what}: out of order");
                    next += 4;
                } else {
                    assert_eq!(*buf, [CANARY; 4], "{what}");
                }
            }
            assert_eq!(drain_now(&rx), &data[next..], "{what}");
        }
    }
}

/// A chain whose head reads an empty stream, bounded by an hour's link
/// timeout, then a read of a stream that holds bytes and a write
/// hard-linked after it, left in flight as the scope ends: by returning,
/// by panicking after the submit, and by panicking before it. The scope's
/// cancel ends the head, whose failure fails the rest unissued: afterwards
/// every canary holds, the second stream keeps its bytes, the write's
/// peer got nothing, and bytes sent to the first stream stay there.
#[test]
fn a_scope_ended_mid_chain_leaves_the_rest_unissued() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        for how in 0..3 {
            let what = format!("tag_all {tag_all} how {how}");
            let mut ring = Ring::new(8).unwrap();
            tag_every_op_if(&mut ring, tag_all);
            let (mut a_tx, a_rx) = UnixStream::pair().unwrap();
            let (mut b_tx, b_rx) = UnixStream::pair().unwrap();
            let (c_tx, c_rx) = UnixStream::pair().unwrap();
            b_tx.write_all(b"BBBB").unwrap();
            let mut ca = [CANARY; 4];
            let mut cb = [CANARY; 4];
            let ended = catch_unwind(AssertUnwindSafe(|| {
                ring.scope(|s| {
                    s.push(
                        Read::new(&a_rx, &mut ca[..])
                            .user_data(1)
                            .timeout_with(HOUR, 2)
                            .link(Read::new(&b_rx, &mut cb[..]).user_data(3))
                            .hard_link(Write::new(&c_tx, b"late").user_data(4)),
                    )
                    .unwrap();
                    if how == 2 {
                        panic!("{what}: before the submit");
                    }
                    s.submit().unwrap();
                    std::thread::sleep(Duration::from_millis(10));
                    s.submit().unwrap();
                    assert_eq!(s.in_flight(), 4, "{what}");
                    if how == 1 {
                        panic!("{what}: after the submit");
                    }
                })
            }));
            assert_eq!(ended.is_err(), how != 0, "{what}");
            assert_eq!((ca, cb), ([CANARY; 4], [CANARY; 4]), "{what}");
            a_tx.write_all(b"AAAA").unwrap();
            std::thread::sleep(Duration::from_millis(10));
            assert_eq!((ca, cb), ([CANARY; 4], [CANARY; 4]), "{what}");
            assert_eq!(drain_now(&a_rx), b"AAAA", "{what}");
            assert_eq!(drain_now(&b_rx), b"BBBB", "{what}");
            assert_eq!(drain_now(&c_rx), b"", "{what}");
            // The ring goes on.
            ring.push(Nop::new().user_data(5)).unwrap();
            assert_eq!(uring_tests::reap_one(&mut ring).user_data(), 5);
        }
    }
}

/// The reactor's op and deadline chains over owned vectors, one after
/// another on the same slots, so that a link timeout's completion (posted
/// after its op's, `-ECANCELED`, or `-ETIME` before it) lands while the
/// slot holds the next op: a read with its bytes ready and an hour's
/// deadline (its bytes, whole), a read of an empty pipe with a 5 ms
/// deadline (`ECANCELED`, canary intact), a read with a deadline already
/// past (either its bytes or `ECANCELED` with the bytes left in the pipe),
/// a read of the pipe's write end (`EBADF` at issue). Each callback runs
/// once, the reactor ends with nothing in flight, and bytes sent at the end
/// stay in the pipe: no read is left to take them.
#[test]
fn reactor_deadline_chains_over_owned_buffers_end_once_each_way() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (rx, tx) = uring_tests::pipe();
    let mut rx_dup = std::fs::File::from(rx.try_clone().unwrap());
    let rx = SharedFd::new(rx);
    let mut tx = std::fs::File::from(tx);
    let txfd = SharedFd::new(std::os::fd::OwnedFd::from(tx.try_clone().unwrap()));
    let calls = Rc::new(Cell::new(0u32));
    let read = |fd: &SharedFd| uring::reactor::ops::Read::new(fd, vec![CANARY; 8], u64::MAX);
    for round in 0..60u32 {
        let kind = round % 4;
        let what = format!("round {round} kind {kind}");
        let data: Vec<u8> = (0..8).map(|i| round as u8 ^ i).collect();
        let (r, buf) = match kind {
            0 => {
                tx.write_all(&data).unwrap();
                reactor
                    .run_until(h.op_with_deadline(read(&rx), Instant::now() + HOUR))
                    .unwrap()
            }
            1 => reactor
                .run_until(h.op_with_deadline(read(&rx), Instant::now() + Duration::from_millis(5)))
                .unwrap(),
            2 => {
                tx.write_all(&data).unwrap();
                let past = Instant::now()
                    .checked_sub(Duration::from_secs(1))
                    .unwrap_or_else(Instant::now);
                reactor
                    .run_until(h.op_with_deadline(read(&rx), past))
                    .unwrap()
            }
            _ => {
                let calls2 = calls.clone();
                let got = Rc::new(Cell::new(None));
                let got2 = got.clone();
                h.queue_with_deadline(read(&txfd), Instant::now() + HOUR, move |r, buf| {
                    calls2.set(calls2.get() + 1);
                    got2.set(Some((r.map_err(|e| e.raw_os_error()), buf)));
                })
                .unwrap();
                while h.in_flight() > 0 {
                    uring_tests::run_for(&reactor, 1);
                }
                let (r, buf) = got.take().expect("the callback ran");
                assert_eq!(calls.get(), round / 4 + 1, "{what}");
                assert_eq!(r, Err(Some(libc::EBADF)), "{what}");
                (Ok(0), buf)
            }
        };
        match (kind, r) {
            (0, Ok(n)) | (2, Ok(n)) => {
                assert_eq!(n, 8, "{what}");
                assert_eq!(buf, data, "{what}");
            }
            (1, Err(e)) | (2, Err(e)) => {
                assert_eq!(e.raw_os_error(), Some(libc::ECANCELED), "{what}");
                assert_eq!(buf, vec![CANARY; 8], "{what}");
                if kind == 2 {
                    let mut left = [0u8; 8];
                    rx_dup.read_exact(&mut left).unwrap();
                    assert_eq!(left.to_vec(), data, "{what}");
                }
            }
            (3, Ok(0)) => assert_eq!(buf, vec![CANARY; 8], "{what}"),
            (k, r) => panic!("{what}: kind {k} ended {r:?}"),
        }
    }
    reactor.run().unwrap();
    assert_eq!(h.in_flight(), 0);
    assert_eq!(calls.get(), 15);
    tx.write_all(b"stays").unwrap();
    uring_tests::run_for(&reactor, 10);
    let mut left = [0u8; 5];
    rx_dup.read_exact(&mut left).unwrap();
    assert_eq!(&left, b"stays");
}
