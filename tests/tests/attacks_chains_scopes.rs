//! Attacks in safe code on chains, scopes and waits, each checked against
//! what the kernel really did:
//! - chains whose head fails, whose elements are hard-linked behind a read
//!   that never ends, that hold an op flagged `IO_DRAIN`, that wrap around
//!   the end of the SQ, that do not fit the SQ or the scope, or whose every
//!   SQE asks for `CQE_SKIP_SUCCESS`: each op posts exactly one last
//!   completion inside its scope, and nothing writes into a lent buffer
//!   after the scope;
//! - `push_owned` closures that panic after or before their push, that read
//!   the completions of a split scope from inside, or that push a chain
//!   mixing the owned buffer with borrowed memory;
//! - batches forgotten with a chain in them, the scope's own cancel
//!   requests named (through the key read back from a leaked tag) by ops and
//!   cancels, multishot timeouts that post more completions than the CQ
//!   holds, a NOP asking for a 32-byte CQE on a 16-byte ring, 64-byte ops in
//!   128-byte slots that held a command;
//! - timespecs and waits at the edges of their range (`Duration::MAX`,
//!   saturated timespecs, absolute timeouts moved into the past), and a
//!   minimum wait longer than its wait's timeout (which must not outlast
//!   the timeout).

use std::io::{Read as _, Write as _};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use uring::ops::{
    Cancel, LinkTimeout, Nop, Read, Timeout, TimeoutRemove, TimeoutUpdate, UringCmd80, Write,
};
use uring::{
    CancelFlags, Cqe, NvmeCmd, PushErrorKind, Ring, Scope, Sqe128, SqeFlags, TimeoutFlags, Timespec,
};
use uring_tests::PATIENCE;

const CANARY: u8 = 0xa5;

/// With `tag_all`, pushes a NOP outside any scope and reaps it: every
/// later scope of the ring then tags every op.
fn tag_every_op_if(ring: &mut Ring, tag_all: bool) {
    if tag_all {
        ring.push(Nop::new()).unwrap();
        uring_tests::reap_one(ring);
        assert!(ring.scope(|s| s.tags_every_op()));
    }
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

/// The last completions (no `IORING_CQE_F_MORE`) among `seen` that carry
/// `user_data`.
fn lasts(seen: &[Cqe], user_data: u64) -> Vec<Cqe> {
    seen.iter()
        .filter(|c| c.user_data() == user_data && !c.has_more())
        .copied()
        .collect()
}

/// The result of the one last completion of `user_data` in `seen`; panics
/// unless there is exactly one.
fn only_last(seen: &[Cqe], user_data: u64) -> i32 {
    let l = lasts(seen, user_data);
    assert_eq!(l.len(), 1, "last completions of {user_data}: {seen:?}");
    l[0].res()
}

/// Whether every one of `user_data` has its last completion in `seen`.
fn all_done(seen: &[Cqe], user_data: &[u64]) -> bool {
    user_data.iter().all(|&ud| !lasts(seen, ud).is_empty())
}

/// After a scope has returned: writes to every stream, waits a little, and
/// checks that no lent buffer changed and that each stream still holds what
/// was written (no read was left in flight to take it).
fn assert_nothing_reads_after(
    writers: &mut [&mut UnixStream],
    readers: &mut [&mut UnixStream],
) -> bool {
    for w in writers.iter_mut() {
        w.write_all(b"late").unwrap();
    }
    std::thread::sleep(Duration::from_millis(30));
    readers.iter_mut().all(|r| {
        r.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut got = [0u8; 4];
        r.read_exact(&mut got).is_ok() && &got == b"late"
    })
}

fn canary_intact(bufs: &[&[u8]]) -> bool {
    bufs.iter().all(|b| b.iter().all(|&x| x == CANARY))
}

/// A chain whose head fails at once (a read of no descriptor), followed by
/// a read into a lent buffer and a write from one: the kernel cancels both,
/// each completes once, and neither touches its buffer or its stream.
#[test]
fn a_failed_head_cancels_the_borrowing_ops_linked_after_it() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = Ring::new(8).unwrap();
        tag_every_op_if(&mut ring, tag_all);
        let (mut tx, mut rx) = UnixStream::pair().unwrap();
        let (tx2, mut rx2) = UnixStream::pair().unwrap();
        let mut sink = [0u8; 4];
        let mut buf = [CANARY; 8];
        let data = *b"must not be sent";
        let seen = ring.scope(|s| {
            s.push(
                Read::new(uring_tests::bad_fd(), &mut sink[..])
                    .user_data(1)
                    .link(Read::new(&rx, &mut buf[..]).user_data(2))
                    .link(Write::new(&tx2, &data[..]).user_data(3)),
            )
            .unwrap();
            let seen = reap_until(s, |seen| all_done(seen, &[1, 2, 3]));
            assert_eq!(s.in_flight(), 0);
            seen
        });
        assert_eq!(only_last(&seen, 1), -libc::EBADF);
        assert_eq!(only_last(&seen, 2), -libc::ECANCELED);
        assert_eq!(only_last(&seen, 3), -libc::ECANCELED);
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert!(assert_nothing_reads_after(&mut [&mut tx], &mut [&mut rx]));
        assert!(canary_intact(&[&buf[..]]));
        rx2.set_nonblocking(true).unwrap();
        let mut got = [0u8; 16];
        assert!(
            rx2.read(&mut got).is_err(),
            "the cancelled write sent nothing"
        );
        drop(tx2);
    }
}

/// A chain hard-linked behind a read that never gets data: when the scope
/// ends, cancelling the head starts the next read, which must be cancelled
/// in its turn, and so on. The scope returns only once all three are done:
/// afterwards none of the streams loses its data to a read, and no buffer
/// changes.
#[test]
fn a_hard_linked_chain_behind_a_blocked_read_is_cancelled_link_by_link() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = Ring::new(8).unwrap();
        tag_every_op_if(&mut ring, tag_all);
        let mut pairs: Vec<(UnixStream, UnixStream)> =
            (0..3).map(|_| UnixStream::pair().unwrap()).collect();
        let mut bufs = [[CANARY; 8]; 3];
        let [b0, b1, b2] = &mut bufs;
        let started = Instant::now();
        ring.scope(|s| {
            s.push(
                Read::new(&pairs[0].1, &mut b0[..])
                    .user_data(1)
                    .hard_link(Read::new(&pairs[1].1, &mut b1[..]).user_data(2))
                    .hard_link(Read::new(&pairs[2].1, &mut b2[..]).user_data(3)),
            )
            .unwrap();
            s.submit().unwrap();
            assert_eq!(s.in_flight(), 3);
        });
        assert!(started.elapsed() < PATIENCE);
        assert_eq!(
            ring.completions().count(),
            0,
            "the scope's completions stay in it"
        );
        let (mut w, mut r): (Vec<&mut UnixStream>, Vec<&mut UnixStream>) =
            pairs.iter_mut().map(|(a, b)| (a, b)).unzip();
        assert!(assert_nothing_reads_after(&mut w, &mut r));
        assert!(canary_intact(&[&bufs[0][..], &bufs[1][..], &bufs[2][..]]));
    }
}

/// Chains pushed at every position of a four-entry SQ, so that some wrap
/// around its end: each is written whole (its links hold, its user_data
/// come back in order), and a chain longer than the SQ, or than the room
/// left in the scope, is refused without a trace.
#[test]
fn chains_across_the_end_of_the_sq_and_chains_that_do_not_fit() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = Ring::builder().cq_entries(8).build(4).unwrap();
        tag_every_op_if(&mut ring, tag_all);
        let (_tx, rx) = UnixStream::pair().unwrap();
        let mut buf = [0u8; 1];
        for shift in 0..4u64 {
            ring.scope(|s| {
                for i in 0..shift {
                    s.push(Nop::new().user_data(100 + i)).unwrap();
                }
                let _ = reap_until(s, |seen| seen.len() == shift as usize);
                // Four NOPs, the second failing: its soft link cancels the
                // rest, the hard link after the third included.
                s.push(
                    Nop::new()
                        .user_data(1)
                        .link(Nop::new().result(-libc::EPERM).user_data(2))
                        .link(Nop::new().user_data(3))
                        .hard_link(Nop::new().user_data(4)),
                )
                .unwrap();
                let seen = reap_until(s, |seen| all_done(seen, &[1, 2, 3, 4]));
                assert_eq!(only_last(&seen, 1), 0, "shift {shift}");
                assert_eq!(only_last(&seen, 2), -libc::EPERM, "shift {shift}");
                assert_eq!(only_last(&seen, 3), -libc::ECANCELED, "shift {shift}");
                assert_eq!(only_last(&seen, 4), -libc::ECANCELED, "shift {shift}");
                assert_eq!(seen.len(), 4, "shift {shift}: {seen:?}");
                // Five SQEs never fit a queue of four.
                let five = Nop::new()
                    .link(Nop::new())
                    .link(Nop::new())
                    .link(Nop::new())
                    .link(Nop::new());
                let e = s.push(five).unwrap_err();
                assert_eq!(e.kind(), PushErrorKind::QueueFull);
                // Six ops in flight of eight: a chain of three is refused
                // whole, one of two fits.
                for i in 0..3 {
                    s.push(Timeout::new(Duration::from_secs(60)).user_data(10 + i))
                        .unwrap();
                }
                s.submit().unwrap();
                for i in 0..3 {
                    s.push(Timeout::new(Duration::from_secs(60)).user_data(13 + i))
                        .unwrap();
                }
                s.submit().unwrap();
                assert_eq!(s.in_flight(), 6);
                let three = Nop::new()
                    .user_data(20)
                    .link(Nop::new().user_data(21))
                    .link(Nop::new().user_data(22));
                let e = s.push(three).unwrap_err();
                assert_eq!(e.kind(), PushErrorKind::ScopeFull);
                assert_eq!(s.in_flight(), 6);
                let back = s
                    .push_owned(vec![CANARY; 4], |owned, sq| {
                        sq.push(
                            Read::new(&rx, owned)
                                .user_data(30)
                                .link(Read::new(&rx, &mut buf[..]).user_data(31))
                                .link(Nop::new().user_data(32)),
                        )
                    })
                    .unwrap_err();
                assert_eq!(back.kind(), PushErrorKind::ScopeFull);
                assert_eq!(back.into_inner(), [CANARY; 4]);
                s.push(Nop::new().user_data(23).link(Nop::new().user_data(24)))
                    .unwrap();
                assert_eq!(s.in_flight(), 8);
                let seen = reap_until(s, |seen| all_done(seen, &[23, 24]));
                assert_eq!(seen.len(), 2, "{seen:?}");
                // The timeouts are left to the scope's end.
            });
            assert_eq!(ring.completions().count(), 0);
        }
    }
}

/// Every SQE of a chain, the link timeout included, asks for
/// `CQE_SKIP_SUCCESS` (and one for `IO_DRAIN` too): in a scope each still
/// posts its completion, so the scope sees each op end once.
#[test]
fn a_chain_whose_every_sqe_asks_to_skip_its_completion_still_completes() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = Ring::new(8).unwrap();
        tag_every_op_if(&mut ring, tag_all);
        let (mut tx, rx) = UnixStream::pair().unwrap();
        let mut buf = [CANARY; 8];
        tx.write_all(b"data").unwrap();
        let skip = SqeFlags::CQE_SKIP_SUCCESS;
        let seen = ring.scope(|s| {
            s.push(
                Nop::new()
                    .user_data(1)
                    .flags(skip)
                    .link(Read::new(&rx, &mut buf[..]).user_data(2).flags(skip))
                    .link_timeout(
                        LinkTimeout::new(Duration::from_secs(30))
                            .user_data(3)
                            .flags(skip),
                    )
                    .hard_link(Nop::new().user_data(4).flags(skip | SqeFlags::IO_DRAIN)),
            )
            .unwrap();
            let seen = reap_until(s, |seen| all_done(seen, &[1, 2, 3, 4]));
            assert_eq!(s.in_flight(), 0);
            seen
        });
        assert_eq!(seen.len(), 4, "{seen:?}");
        assert_eq!(only_last(&seen, 1), 0);
        assert_eq!(only_last(&seen, 2), 4);
        assert_eq!(only_last(&seen, 3), -libc::ECANCELED);
        // Hard-linked on after the timeout: the read carries the hard link,
        // so the NOP runs, the timeout cancelled or not.
        assert_eq!(only_last(&seen, 4), 0);
        assert_eq!(&buf[..4], b"data");
    }
}

/// An op flagged `IO_DRAIN` in the middle of a chain behind a read that
/// never gets data, with a second chain behind it: the scope's cancel
/// requests queue behind the drain, yet the scope ends, and nothing reads
/// afterwards.
#[test]
fn a_drained_op_inside_a_chain_behind_a_blocked_read_does_not_hold_the_scope() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = Ring::new(8).unwrap();
        tag_every_op_if(&mut ring, tag_all);
        let (mut tx, mut rx) = UnixStream::pair().unwrap();
        let (mut tx2, mut rx2) = UnixStream::pair().unwrap();
        let mut a = [CANARY; 8];
        let mut b = [CANARY; 8];
        ring.scope(|s| {
            s.push(Read::new(&rx, &mut a[..]).user_data(1)).unwrap();
            s.push(
                Nop::new()
                    .user_data(2)
                    .flags(SqeFlags::IO_DRAIN)
                    .hard_link(Read::new(&rx2, &mut b[..]).user_data(3)),
            )
            .unwrap();
            s.submit().unwrap();
            assert_eq!(s.in_flight(), 3);
        });
        assert!(assert_nothing_reads_after(
            &mut [&mut tx, &mut tx2],
            &mut [&mut rx, &mut rx2]
        ));
        assert!(canary_intact(&[&a[..], &b[..]]));
    }
}

/// `push_owned` closures that panic: after their push (the op keeps the
/// buffer; the kernel's write lands in it and it comes back with the
/// completion, once) and before (nothing is pushed, the scope goes on).
/// The panics are caught inside the scope, which then keeps pushing.
#[test]
fn push_owned_closures_that_panic_before_or_after_their_push() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = Ring::new(8).unwrap();
        tag_every_op_if(&mut ring, tag_all);
        let (tx, rx) = UnixStream::pair().unwrap();
        let back = ring.scope(|s| {
            let after = catch_unwind(AssertUnwindSafe(|| {
                let _ = s.push_owned(vec![CANARY; 16], |buf, sq| {
                    sq.push(Read::new(&rx, buf).user_data(1));
                    panic!("after the push");
                });
            }));
            assert!(after.is_err());
            assert_eq!(s.in_flight(), 1, "the read is the scope's");
            let before = catch_unwind(AssertUnwindSafe(|| {
                let _ = s.push_owned(vec![CANARY; 16], |_, _| panic!("before any push"));
            }));
            assert!(before.is_err());
            assert_eq!(s.in_flight(), 1);
            // Pushes go on, owned or not, after both panics.
            for i in 0..3 {
                s.push_owned(vec![0; 4], |buf, sq| {
                    sq.push(Write::new(&tx, buf).user_data(10 + i))
                })
                .unwrap();
            }
            (&tx).write_all(b"owned after a panic").unwrap();
            let mut back = Vec::new();
            let deadline = Instant::now() + PATIENCE;
            while s.in_flight() > 0 {
                assert!(Instant::now() < deadline);
                s.submit_and_wait(1).unwrap();
                for mut cqe in s.completions() {
                    let buf = cqe.take_buf();
                    assert!(buf.is_some(), "every op here has an owned buffer");
                    assert!(cqe.take_buf().is_none());
                    back.push((cqe.user_data(), cqe.res(), buf.unwrap()));
                }
            }
            back
        });
        assert_eq!(back.len(), 4, "{back:?}");
        let read = back.iter().find(|(ud, _, _)| *ud == 1).unwrap();
        let n = read.1 as usize;
        assert!(n > 0);
        assert_eq!(&read.2[..n], &b"owned after a panic"[..n]);
        assert!(read.2[n..].iter().all(|&x| x == CANARY));
    }
}

/// A split scope: the closure of `push_owned` reads the scope's completions
/// (which hand back other owned buffers, and settle other ops) while its
/// own buffer is lent to it, then pushes over it. Each op completes once,
/// each buffer comes back once, with what was read into it.
#[test]
fn push_owned_closures_that_read_the_split_scope_s_completions() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = Ring::new(8).unwrap();
        tag_every_op_if(&mut ring, tag_all);
        let (mut tx, rx) = UnixStream::pair().unwrap();
        let got = ring.scope(|s| {
            let mut got: Vec<(u64, Vec<u8>)> = Vec::new();
            for round in 0..20u64 {
                tx.write_all(&[round as u8; 4]).unwrap();
                {
                    let (mut sq, mut completions) = s.split();
                    sq.push_owned(vec![CANARY; 4], |buf, push| {
                        for mut cqe in completions.by_ref() {
                            let b = cqe.take_buf().expect("an owned buffer");
                            got.push((cqe.user_data(), b));
                        }
                        push.push(Read::new(&rx, buf).user_data(round));
                    })
                    .unwrap();
                }
                s.submit_and_wait(1).unwrap();
            }
            let deadline = Instant::now() + PATIENCE;
            while s.in_flight() > 0 {
                assert!(Instant::now() < deadline);
                s.submit_and_wait(1).unwrap();
                for mut cqe in s.completions() {
                    got.push((cqe.user_data(), cqe.take_buf().unwrap()));
                }
            }
            got
        });
        let mut rounds: Vec<u64> = got.iter().map(|(ud, _)| *ud).collect();
        rounds.sort_unstable();
        assert_eq!(rounds, (0..20).collect::<Vec<_>>());
        for (round, buf) in &got {
            assert_eq!(buf, &[*round as u8; 4]);
        }
    }
}

/// A batch forgotten with a chain in it, the chain mixing an owned buffer
/// with borrowed ones and ending in a read that never gets data: the scope
/// knows of every SQE, and ends only once all are done.
#[test]
fn a_forgotten_batch_holding_a_chain_over_owned_and_borrowed_buffers() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = Ring::new(8).unwrap();
        tag_every_op_if(&mut ring, tag_all);
        let (mut tx, mut rx) = UnixStream::pair().unwrap();
        let (mut tx2, mut rx2) = UnixStream::pair().unwrap();
        let mut borrowed = [CANARY; 4];
        let mut later = [CANARY; 4];
        tx.write_all(b"1234").unwrap();
        ring.scope(|s| {
            let mut sq = s.submission();
            sq.push_owned(vec![CANARY; 4], |owned, push| {
                push.push(
                    Read::new(&rx, owned)
                        .user_data(1)
                        .hard_link(Nop::new().user_data(2))
                        .hard_link(Read::new(&rx2, &mut borrowed[..]).user_data(3)),
                )
            })
            .unwrap();
            sq.push(Read::new(&rx2, &mut later[..]).user_data(4))
                .unwrap();
            std::mem::forget(sq);
            assert_eq!(s.in_flight(), 4);
            s.submit().unwrap();
            let seen = reap_until(s, |seen| all_done(seen, &[1, 2]));
            assert_eq!(only_last(&seen, 1), 4);
            assert_eq!(s.in_flight(), 2);
        });
        assert!(assert_nothing_reads_after(
            &mut [&mut tx, &mut tx2],
            &mut [&mut rx, &mut rx2]
        ));
        assert!(canary_intact(&[&borrowed[..], &later[..]]));
    }
}

/// The tag of the first op a ring's first scope tags: slot 0, count
/// `0x8000_0001`. With it read from fdinfo, the scope's key is known, and so
/// is the `user_data` of the scope's own cancel requests (`!key`). Ops that
/// carry that `user_data`, and cancels and removals that name it, are the
/// caller's ops like any other: each completes once and is handed out, and
/// the scope's own requests, which it sends at its end for a read that never
/// ends, are still counted right.
#[test]
fn ops_carrying_or_naming_the_scope_s_own_cancel_user_data() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = Ring::new(8).unwrap();
        tag_every_op_if(&mut ring, tag_all);
        let fd = ring.as_raw_fd();
        let (mut tx, mut rx) = UnixStream::pair().unwrap();
        let mut buf = [CANARY; 8];
        let started = Instant::now();
        let seen = ring.scope(|s| {
            // Tag-shaped, so tagged even in a scope that tags few ops.
            s.push(Nop::new().user_data(1 << 63 | 5)).unwrap();
            s.submit_and_wait(1).unwrap();
            let tags = uring_tests::fdinfo_user_data(fd);
            assert_eq!(tags.len(), 1, "{tags:x?}");
            let key = tags[0] ^ 0x8000_0001 << 32;
            assert_eq!(key >> 63, 0, "keys have the top bit clear");
            assert_eq!(s.completions().count(), 1);
            // The key is right: the next tag is predicted.
            s.push(Nop::new().user_data(1 << 63 | 6)).unwrap();
            s.submit_and_wait(1).unwrap();
            assert_eq!(uring_tests::fdinfo_user_data(fd), [key ^ 0x8000_0002 << 32]);
            assert_eq!(s.completions().count(), 1);
            let internal = !key;
            s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
            s.push(Timeout::new(Duration::from_secs(60)).user_data(internal))
                .unwrap();
            s.submit().unwrap();
            s.push(
                Cancel::new(internal)
                    .cancel_flags(CancelFlags::ALL)
                    .user_data(2),
            )
            .unwrap();
            s.push(TimeoutRemove::new(internal).user_data(3)).unwrap();
            s.push(TimeoutUpdate::new(internal, Duration::from_secs(1)).user_data(internal))
                .unwrap();
            let queued = s.cancel(internal).unwrap();
            assert!(queued >= 1, "the scope finds its ops by user_data");
            let seen = reap_until(s, |seen| {
                all_done(seen, &[2, 3]) && lasts(seen, internal).len() >= 2
            });
            assert!(seen.iter().all(|c| c.user_data() != 1), "{seen:?}");
            assert_eq!(s.in_flight(), 1, "the read alone: {seen:?}");
            seen
        });
        assert!(started.elapsed() < PATIENCE);
        let internal_done = seen
            .iter()
            .filter(|c| c.user_data() != 2 && c.user_data() != 3)
            .count();
        assert_eq!(internal_done, 2, "the timeout and its update: {seen:?}");
        assert_eq!(seen.len(), 4, "{seen:?}");
        assert_eq!(
            ring.completions().count(),
            0,
            "no request of the scope leaks out"
        );
        assert!(assert_nothing_reads_after(&mut [&mut tx], &mut [&mut rx]));
        assert!(canary_intact(&[&buf[..]]));
        ring.push(Nop::new().user_data(9)).unwrap();
        assert_eq!(uring_tests::reap_one(&mut ring).user_data(), 9);
    }
}

/// A multishot timeout that fires forty times into a CQ of four entries
/// while nothing reads it, beside a chain: its completions are each
/// delivered once, all flagged `IORING_CQE_F_MORE` but the last, whether
/// the kernel ends it early for want of room or not.
#[test]
fn a_multishot_timeout_overflowing_a_tiny_cq_ends_once() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = Ring::builder().cq_entries(4).build(2).unwrap();
        tag_every_op_if(&mut ring, tag_all);
        let seen = ring.scope(|s| {
            s.push(
                Timeout::new(Duration::from_millis(1))
                    .count(40)
                    .timeout_flags(TimeoutFlags::MULTISHOT)
                    .user_data(1),
            )
            .unwrap();
            s.submit().unwrap();
            s.push(
                Nop::new()
                    .user_data(2)
                    .link(Timeout::new(Duration::from_millis(20)).user_data(3)),
            )
            .unwrap();
            s.submit().unwrap();
            std::thread::sleep(Duration::from_millis(100));
            let seen = reap_until(s, |seen| all_done(seen, &[1, 2, 3]));
            assert_eq!(s.in_flight(), 0);
            seen
        });
        let ones: Vec<&Cqe> = seen.iter().filter(|c| c.user_data() == 1).collect();
        assert!(!ones.is_empty() && ones.len() <= 40, "{}", ones.len());
        let (last, rest) = ones.split_last().unwrap();
        assert!(!last.has_more());
        assert!(rest.iter().all(|c| c.has_more()), "{seen:?}");
        assert_eq!(only_last(&seen, 2), 0);
        assert_eq!(only_last(&seen, 3), -libc::ETIME);
        assert_eq!(seen.len(), ones.len() + 2);
        assert_eq!(ring.completions().count(), 0);
    }
}

/// A NOP asking for a 32-byte CQE on a ring of 16-byte ones, alone and in
/// a chain: the kernel refuses it (`EINVAL`) with one 16-byte completion,
/// and the CQ reads on correctly after it.
#[test]
fn a_nop_asking_for_a_big_cqe_on_a_small_cq_ring_fails_once() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = Ring::new(4).unwrap();
        tag_every_op_if(&mut ring, tag_all);
        for round in 0..4u64 {
            let seen = ring.scope(|s| {
                s.push(Nop::new().big_cqe([u64::MAX, u64::MAX]).user_data(1))
                    .unwrap();
                s.push(
                    Nop::new()
                        .user_data(2)
                        .link(Nop::new().big_cqe([1 << 63, 7]).user_data(3))
                        .link(Nop::new().user_data(4)),
                )
                .unwrap();
                let seen = reap_until(s, |seen| all_done(seen, &[1, 2, 3, 4]));
                assert_eq!(s.in_flight(), 0);
                seen
            });
            assert_eq!(seen.len(), 4, "round {round}: {seen:?}");
            assert_eq!(only_last(&seen, 1), -libc::EINVAL);
            // A member refused at submission cancels the head it follows.
            assert_eq!(only_last(&seen, 2), -libc::ECANCELED);
            assert_eq!(only_last(&seen, 3), -libc::EINVAL);
            assert_eq!(only_last(&seen, 4), -libc::ECANCELED);
        }
    }
}

/// A 64-byte op written into a 128-byte slot that held an 80-byte command
/// carries nothing of the command: the slot's second half, and the command
/// bytes in its first, are zero.
#[test]
fn a_small_op_in_a_big_slot_keeps_nothing_of_the_command_before_it() {
    let _watch = uring_tests::watchdog();
    let mut ring: Ring<Sqe128> = Ring::builder().build_sized(4).unwrap();
    let (_tx, rx) = UnixStream::pair().unwrap();
    let mut data = [0u8; 512];
    // SAFETY: the target is a socket, which refuses NVMe commands at once:
    // no device reads the blocks into `data`.
    let read = unsafe { NvmeCmd::read(u32::MAX, u64::MAX, 7, &mut data) };
    let cmd = UringCmd80::new(&rx, NvmeCmd::IO, read).user_data(1);
    // SAFETY: setting up: the socket and the data stay alive until the
    // command's completion is reaped just below (a socket refuses NVMe
    // commands at once).
    unsafe { ring.push_unchecked(cmd) }.unwrap();
    ring.submit_and_wait(1).unwrap();
    let cqe = ring.completions().next().unwrap();
    assert_eq!(cqe.user_data(), 1);
    assert!(cqe.res() < 0, "{cqe:?}");
    // Four NOPs: the last lands in the slot the command took.
    for i in 0..4 {
        ring.push(Nop::new().user_data(10 + i)).unwrap();
    }
    let sqes: Vec<_> = ring.pending_sqes().collect();
    assert_eq!(sqes.len(), 4);
    for sqe in &sqes {
        // SAFETY: inspecting: a 128-byte SQE is 128 plain bytes.
        let bytes: [u8; 128] = unsafe { std::mem::transmute(*sqe) };
        assert!(bytes[48..].iter().all(|&b| b == 0), "{:?}", &bytes[48..]);
    }
    ring.submit_and_wait(4).unwrap();
    let uds: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(uds, [10, 11, 12, 13]);
}

/// Time values at the edges of their range, in chains and waits of a
/// scope: timeouts and link timeouts of `Timespec::new(u64::MAX, u32::MAX)`
/// (saturated; absolute or not) never fire and are cancelled at the scope's
/// end once each; updates to such values are taken; waits of `Duration::MAX`
/// return with their completion.
#[test]
fn edge_time_values_in_chains_and_waits_of_a_scope() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = Ring::new(8).unwrap();
        tag_every_op_if(&mut ring, tag_all);
        let (mut tx, mut rx) = UnixStream::pair().unwrap();
        let mut buf = [CANARY; 8];
        let far = Timespec::new(u64::MAX, u32::MAX);
        let started = Instant::now();
        let seen = ring.scope(|s| {
            s.push(Timeout::new(far).user_data(1)).unwrap();
            s.push(
                Timeout::new(far)
                    .timeout_flags(TimeoutFlags::ABS)
                    .user_data(2),
            )
            .unwrap();
            s.push(
                Read::new(&rx, &mut buf[..])
                    .user_data(3)
                    .link_timeout(LinkTimeout::new(far).user_data(4)),
            )
            .unwrap();
            s.push(Nop::new().user_data(5)).unwrap();
            s.submit().unwrap();
            s.wait_timeout(1, Duration::MAX).unwrap();
            s.push(TimeoutUpdate::new(1, far).user_data(6)).unwrap();
            s.push(
                TimeoutUpdate::new(2, Timespec::new(0, u32::MAX))
                    .timeout_flags(TimeoutFlags::ABS)
                    .user_data(7),
            )
            .unwrap();
            let seen = reap_until(s, |seen| all_done(seen, &[2, 5, 6, 7]));
            assert_eq!(s.in_flight(), 3, "{seen:?}");
            seen
        });
        assert!(started.elapsed() < PATIENCE);
        assert_eq!(seen.len(), 4, "{seen:?}");
        // Moved to a point in the past, the absolute timeout fires at once.
        assert_eq!(only_last(&seen, 2), -libc::ETIME);
        assert_eq!(only_last(&seen, 5), 0);
        assert_eq!(only_last(&seen, 6), 0);
        assert_eq!(only_last(&seen, 7), 0);
        assert_eq!(ring.completions().count(), 0);
        assert!(assert_nothing_reads_after(&mut [&mut tx], &mut [&mut rx]));
        assert!(canary_intact(&[&buf[..]]));
    }
}

/// A wait with a timeout and a longer minimum wait, nothing to wait for:
/// the kernel starts the timeout only once the minimum wait is over, so
/// unless the minimum wait is cut to the timeout, the wait lasts the
/// minimum wait (with `min_wait(Duration::MAX)`, 71 minutes). Both the
/// wait's own arguments and a registered wait argument are checked.
#[test]
fn a_minimum_wait_longer_than_the_timeout_does_not_outlast_it() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::builder().r_disabled().build(4).unwrap();
    if !ring.params().has(uring::Features::MIN_TIMEOUT) {
        uring_tests::skip("minimum waits need IORING_FEAT_MIN_TIMEOUT (Linux 6.12)");
        return;
    }
    let registered = match ring.register_wait_region(2) {
        Ok(()) => true,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            uring_tests::skip(format_args!(
                "registered wait arguments need Linux 6.13: {e}"
            ));
            false
        }
        Err(e) => panic!("register_wait_region: {e}"),
    };
    ring.enable().unwrap();
    for min_wait in [Duration::from_secs(3), Duration::MAX] {
        let t = Instant::now();
        let waited = ring.wait_with(
            1,
            &uring::WaitArgs::new()
                .min_wait(min_wait)
                .timeout(Duration::from_millis(30)),
        );
        assert!(matches!(waited, Err(uring::Error::TimedOut)), "{waited:?}");
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "a 30 ms timeout with a minimum wait of {min_wait:?} ended after {:?}",
            t.elapsed()
        );
        if registered {
            ring.set_registered_wait(1, Some(Duration::from_millis(30)), Some(min_wait))
                .unwrap();
            let t = Instant::now();
            let waited = ring.wait_registered(1, 1);
            assert!(matches!(waited, Err(uring::Error::TimedOut)), "{waited:?}");
            assert!(
                t.elapsed() < Duration::from_secs(1),
                "a registered 30 ms timeout with a minimum wait of {min_wait:?} ended after {:?}",
                t.elapsed()
            );
        }
    }
}
