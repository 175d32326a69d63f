//! Attacks on `Either` (one of two ops or chains, chosen at run time), on
//! waits with a signal mask, and on submits that get events.
//!
//! `Either`: every push path, every chain length wrapped across the SQ's
//! end and handed back whole, ops that name other ops in fast and tagging
//! scopes, multishot and zero-copy sides, buffer selection (plain,
//! incremental, bundles), `push_owned`, link timeouts, SQPOLL,
//! `defer_taskrun`, 128-byte SQEs and registered files of another ring.
//!
//! Signal masks: each test that installs a handler or blocks a signal runs
//! in a process of its own. A signal the mask lets through ends the wait
//! with `EINTR` (one left pending outside the wait ends the next at once),
//! what was pushed is submitted once, nothing is lost or repeated, and a
//! scope interrupted in such a wait still ends; waits without a mask
//! resume.
//!
//! `submit_and_get_events` / `get_events`: counts against what the kernel
//! consumed, deferred task work, SQPOLL, IOPOLL, an overflowed CQ.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt as _;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use uring::ops::{
    Cancel, LinkTimeout, Nop, PollAdd, PollRemove, PollUpdate, Read, Recv, SendZc, Timeout,
    TimeoutRemove, TimeoutUpdate, Write,
};
use uring::{
    Builder, Cqe16, Either, Link, Linked, PollEvents, PollFlags, PushErrorKind, RecvFlags, Ring,
    Sqe128, SqeSize, WaitArgs, sys,
};
use uring_tests::signals::{
    SIG, block_signal, handled, install_handler, is_eintr, raise_pending, sig_set,
};
use uring_tests::{
    bad_fd, complete_nops, fdinfo_user_data, in_own_process, incremental_buf_ring, pairs,
    plain_buf_ring, ring_reading_a_copy, submit_and_reap,
};

/// What a buffer holds until the kernel writes it.
const CANARY: u8 = 0xa5;

/// A NOP the kernel refuses as it prepares it (a 32-byte completion on a
/// ring of 16-byte ones): it completes with `EINVAL`, and the enter that
/// submits it stops right after it, leaving the SQEs behind it queued.
fn stopper(user_data: u64) -> Nop {
    Nop::new()
        .big_cqe([user_data, !user_data])
        .user_data(user_data)
}

/// Whether the kernel stops a submission at a [`stopper`] (6.10 knows the
/// flags of NOPs); says why the caller skips otherwise.
fn stoppers_stop() -> bool {
    let mut ring = Ring::new(2).unwrap();
    ring.push(stopper(1)).unwrap();
    ring.push(Nop::new().user_data(2)).unwrap();
    let stops = ring.submit().unwrap() == 1;
    if !stops {
        uring_tests::skip("this kernel does not stop a submission at a NOP it refuses");
    }
    stops
}

/// Makes every later scope of `ring` tag every op, when `tag_all`.
fn tag_every_op_if(ring: &mut Ring, tag_all: bool) {
    if tag_all {
        ring.push(Nop::new()).unwrap();
        uring_tests::reap_one(ring);
        assert!(ring.scope(|s| s.tags_every_op()));
    } else {
        assert!(
            !ring.scope(|s| s.tags_every_op()),
            "a fresh ring's scopes are fast"
        );
    }
}

/// The bytes of the SQEs waiting in `ring`, in order.
fn pending_bytes<S: SqeSize>(ring: &mut Ring<S>) -> Vec<Vec<u8>> {
    ring.pending_sqes()
        .map(|slot| {
            // SAFETY: an SQ slot is plain integers, 64 or 128 bytes.
            unsafe {
                std::slice::from_raw_parts((&raw const slot).cast::<u8>(), size_of_val(&slot))
            }
            .to_vec()
        })
        .collect()
}

/// `(opcode, flags, user_data)` of the SQEs waiting in `ring`.
fn pending_heads<S: SqeSize>(ring: &mut Ring<S>) -> Vec<(u8, u8, u64)> {
    pending_bytes(ring)
        .iter()
        .map(|b| {
            let user_data = u64::from_ne_bytes(b[32..40].try_into().unwrap());
            (b[0], b[1], user_data)
        })
        .collect()
}

/// Reads the scope's completions until `n` came, waiting for each batch
/// (at most [`uring_tests::PATIENCE`] for each); `(user_data, res,
/// flags)` in the order the CQ gave them.
fn scope_reap(s: &mut uring::Scope<'_, '_>, n: usize) -> Vec<(u64, i32, u32)> {
    let mut got = Vec::new();
    while got.len() < n {
        s.submit().unwrap();
        s.wait_timeout(1, uring_tests::PATIENCE)
            .unwrap_or_else(|e| panic!("{} of {n} completions, then {e}: {got:?}", got.len()));
        got.extend(s.completions().map(|c| (c.user_data(), c.res(), c.flags())));
    }
    got
}

/// Reads the scope's completions until nothing of it is in flight.
fn scope_reap_all(s: &mut uring::Scope<'_, '_>) -> Vec<(u64, i32, u32)> {
    let deadline = Instant::now() + uring_tests::PATIENCE;
    let mut got = Vec::new();
    loop {
        got.extend(s.completions().map(|c| (c.user_data(), c.res(), c.flags())));
        if s.in_flight() == 0 {
            return got;
        }
        assert!(Instant::now() < deadline, "ops still in flight: {got:?}");
        s.submit().unwrap();
        let _ = s.wait_timeout(1, Duration::from_millis(50));
    }
}

/// The `user_data` each completion of `got` carries, with how many times.
fn counts(got: &[(u64, i32, u32)]) -> HashMap<u64, usize> {
    let mut map = HashMap::new();
    for c in got {
        *map.entry(c.0).or_insert(0) += 1;
    }
    map
}

// ---------------------------------------------------------------------------
// Either: the SQEs written, on every push path
// ---------------------------------------------------------------------------

/// Four kinds in one nested `Either`.
type Four = Either<Either<Nop, Cancel>, Either<PollRemove, TimeoutRemove>>;

/// The four sides of [`Four`], each alone and wrapped, with `user_data`
/// `base + i`: what each side writes on its own must be what the `Either`
/// writes, and it completes as that side does.
fn fours(base: u64) -> Vec<(Four, Four)> {
    let left = |op| Either::Left(op);
    let right = |op| Either::Right(op);
    vec![
        (
            left(Either::Left(Nop::new().user_data(base))),
            left(Either::Left(Nop::new().user_data(base))),
        ),
        (
            left(Either::Right(Cancel::new(7).user_data(base + 1))),
            left(Either::Right(Cancel::new(7).user_data(base + 1))),
        ),
        (
            right(Either::Left(PollRemove::new(8).user_data(base + 2))),
            right(Either::Left(PollRemove::new(8).user_data(base + 2))),
        ),
        (
            right(Either::Right(TimeoutRemove::new(9).user_data(base + 3))),
            right(Either::Right(TimeoutRemove::new(9).user_data(base + 3))),
        ),
    ]
}

/// What the sides of [`fours`] complete with: nothing to cancel or remove.
fn four_results(base: u64) -> Vec<(u64, i32)> {
    vec![
        (base, 0),
        (base + 1, -libc::ENOENT),
        (base + 2, -libc::ENOENT),
        (base + 3, -libc::ENOENT),
    ]
}

/// Pushes `op` alone (its side unwrapped), then wrapped, through `path`.
fn push_both(ring: &mut Ring, op: Four, wrapped: Four, path: u32) {
    fn unwrap4(op: Four, ring: &mut Ring, path: u32) {
        match op {
            Either::Left(Either::Left(op)) => push_on(ring, op, path),
            Either::Left(Either::Right(op)) => push_on(ring, op, path),
            Either::Right(Either::Left(op)) => push_on(ring, op, path),
            Either::Right(Either::Right(op)) => push_on(ring, op, path),
        }
    }
    unwrap4(op, ring, path);
    push_on(ring, wrapped, path);
}

/// Pushes one op or chain through push path `path`: `Ring::push`, a
/// batch, `push_unchecked`, or a one-element `Linked`.
fn push_on<T: uring::Submission + uring::Unborrowed + uring::op::ChainNext>(
    ring: &mut Ring,
    op: T,
    path: u32,
) {
    match path {
        0 => ring.push(op).unwrap(),
        1 => ring.submission().push(op).unwrap(),
        // SAFETY: the op borrows nothing (`Unborrowed`).
        2 => unsafe { ring.push_unchecked(op) }.unwrap(),
        _ => ring.push_linked(Linked::new(vec![op])).unwrap(),
    }
}

/// Every side of a nested `Either`, pushed through `Ring::push`, a batch,
/// `push_unchecked` and a one-element `Linked`, writes the very bytes its
/// side writes alone, and completes once, as that side does.
#[test]
fn nested_eithers_write_their_side_s_sqe_on_every_push_path() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(16).unwrap();
    for path in 0..4 {
        let base = 100 * u64::from(path);
        for (alone, wrapped) in fours(base) {
            push_both(&mut ring, alone, wrapped, path);
        }
        let bytes = pending_bytes(&mut ring);
        assert_eq!(bytes.len(), 8);
        for pair in bytes.chunks(2) {
            assert_eq!(pair[0], pair[1], "path {path}: alone and wrapped differ");
        }
        let mut got = pairs(&submit_and_reap(&mut ring, 8));
        got.sort_unstable();
        let want: Vec<(u64, i32)> = four_results(base)
            .into_iter()
            .flat_map(|c| [c, c])
            .collect();
        assert_eq!(got, want, "path {path}");
    }
    assert!(uring_tests::stray(&mut ring).is_empty());
}

// ---------------------------------------------------------------------------
// Either: chains of every length, wrapped, handed back
// ---------------------------------------------------------------------------

/// An element of the chains below: a NOP, or a timeout of no time, which
/// completes with `-ETIME` (a failure, for a soft link).
type NopOrTimeout = Either<Nop, Timeout>;

/// A [`NopOrTimeout`] carrying `user_data`: the timeout when `timeout`.
fn nop_or_timeout(user_data: u64, timeout: bool) -> NopOrTimeout {
    if timeout {
        Either::Right(Timeout::new(Duration::ZERO).user_data(user_data))
    } else {
        Either::Left(Nop::new().user_data(user_data))
    }
}

/// What a chain of `kinds` (true: a timeout) completes with, in order:
/// hard links run every element, a soft link cancels what follows a
/// timeout.
fn chain_results(first: u64, kinds: &[bool], hard: bool) -> Vec<(u64, i32)> {
    let mut failed = false;
    kinds
        .iter()
        .enumerate()
        .map(|(i, &timeout)| {
            let res = if failed {
                -libc::ECANCELED
            } else if timeout {
                failed = !hard;
                -libc::ETIME
            } else {
                0
            };
            (first + i as u64, res)
        })
        .collect()
}

/// The user_data an element of a refused chain carries.
fn element_user_data(e: &NopOrTimeout) -> u64 {
    let text = match e {
        Either::Left(op) => format!("{op:?}"),
        Either::Right(op) => format!("{op:?}"),
    };
    let rest = text.split("user_data: ").nth(1).unwrap();
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// On a ring of 8 SQEs, `Linked` chains of every length from 1 to 8 that
/// mix NOPs and timeouts, starting at every SQ position (so that most
/// wrap across the array's end), soft and hard: the SQEs are the sides'
/// in order, each linked to the next but the last, and the kernel runs
/// them as linked (completions in order, a soft link cancelling what
/// follows a failure). A chain longer than the room left comes back whole,
/// every element in its place, and the queue is as it was.
#[test]
fn linked_eithers_of_every_length_wrap_across_the_sq_end() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let mut next = 0u64;
    let mut round = 0u64;
    for start in 0..8u64 {
        for len in 1..=8usize {
            round += 1;
            let hard = round.is_multiple_of(2);
            // `queued` NOPs wait unsubmitted: only 8 - queued slots are
            // left, and a longer chain comes back. They end at `start`,
            // where the chain begins.
            let queued = ((start * 3 + len as u64) % 8) as usize;
            while next % 8 != (start + 8 - queued as u64) % 8 {
                ring.push(Nop::new().user_data(u64::MAX)).unwrap();
                next += 1;
            }
            let waiting = ring.pending() as usize;
            submit_and_reap(&mut ring, waiting);
            for _ in 0..queued {
                ring.push(Nop::new().user_data(u64::MAX - 1)).unwrap();
            }
            let first = round * 1000;
            let kinds: Vec<bool> = (0..len)
                .map(|i| (i as u64 + round).is_multiple_of(3))
                .collect();
            let build = |kinds: &[bool]| -> Vec<NopOrTimeout> {
                kinds
                    .iter()
                    .enumerate()
                    .map(|(i, &t)| nop_or_timeout(first + i as u64, t))
                    .collect()
            };
            let chain = |ops| {
                if hard {
                    Linked::hard(ops)
                } else {
                    Linked::new(ops)
                }
            };
            if len > 8 - queued {
                let before = pending_bytes(&mut ring);
                let err = ring.push_linked(chain(build(&kinds))).unwrap_err();
                assert_eq!(err.kind(), PushErrorKind::QueueFull);
                let back = err.into_inner().into_inner();
                let back: Vec<(u64, bool)> = back
                    .iter()
                    .map(|e| (element_user_data(e), matches!(e, Either::Right(_))))
                    .collect();
                let want: Vec<(u64, bool)> = kinds
                    .iter()
                    .enumerate()
                    .map(|(i, &t)| (first + i as u64, t))
                    .collect();
                assert_eq!(back, want, "the chain comes back as it was");
                assert_eq!(pending_bytes(&mut ring), before, "the queue is untouched");
            }
            // Submitting the queued NOPs makes room for it.
            submit_and_reap(&mut ring, queued);
            next += queued as u64;
            ring.push_linked(chain(build(&kinds))).unwrap();
            let link = if hard {
                sys::IOSQE_IO_HARDLINK
            } else {
                sys::IOSQE_IO_LINK
            };
            let want_sqes: Vec<(u8, u8, u64)> = kinds
                .iter()
                .enumerate()
                .map(|(i, &t)| {
                    let code = if t {
                        sys::IORING_OP_TIMEOUT
                    } else {
                        sys::IORING_OP_NOP
                    };
                    let flags = if i + 1 == len { 0 } else { link };
                    (code, flags, first + i as u64)
                })
                .collect();
            assert_eq!(
                pending_heads(&mut ring),
                want_sqes,
                "start {start}, len {len}"
            );
            let got = pairs(&submit_and_reap(&mut ring, len));
            assert_eq!(
                got,
                chain_results(first, &kinds, hard),
                "start {start}, len {len}, hard {hard}"
            );
            next += len as u64;
        }
    }
    assert!(uring_tests::stray(&mut ring).is_empty());
}

/// Chains of two SQEs on either side, `Linked` in a scope (fast, then one
/// that tags every op) at every SQ position: each element takes its two
/// slots, wrapped or not, the links between elements come from the
/// `Linked`, and every completion comes once, in the chain's order.
#[test]
fn eithers_of_two_sqe_chains_linked_in_scopes_at_every_position() {
    let _watch = uring_tests::watchdog();
    type Pair = Either<Link<Nop, Nop>, Link<Nop, Timeout>>;
    for tag_all in [false, true] {
        let mut ring = Ring::new(8).unwrap();
        tag_every_op_if(&mut ring, tag_all);
        for start in 0..8u64 {
            ring.scope(|s| {
                // Move the tail by `start`.
                for i in 0..start {
                    s.push(Nop::new().user_data(900 + i)).unwrap();
                }
                scope_reap(s, start as usize);
                for elements in 1..=4u64 {
                    let first = 1000 * elements + 100 * start;
                    let ops: Vec<Pair> = (0..elements)
                        .map(|i| {
                            let ud = first + 2 * i;
                            if (i + start).is_multiple_of(2) {
                                Either::Left(
                                    Nop::new().user_data(ud).link(Nop::new().user_data(ud + 1)),
                                )
                            } else {
                                Either::Right(
                                    Nop::new()
                                        .user_data(ud)
                                        .link(Timeout::new(Duration::ZERO).user_data(ud + 1)),
                                )
                            }
                        })
                        .collect();
                    s.push_linked(Linked::hard(ops)).unwrap();
                    let got = scope_reap(s, 2 * elements as usize);
                    let want: Vec<(u64, i32, u32)> = (0..elements)
                        .flat_map(|i| {
                            let ud = first + 2 * i;
                            let second = if (i + start).is_multiple_of(2) {
                                0
                            } else {
                                -libc::ETIME
                            };
                            [(ud, 0, 0), (ud + 1, second, 0)]
                        })
                        .collect();
                    assert_eq!(
                        got, want,
                        "start {start}, {elements} elements, tag_all {tag_all}"
                    );
                }
            });
        }
        assert!(uring_tests::stray(&mut ring).is_empty());
    }
}

// ---------------------------------------------------------------------------
// Either: ops that name ops, multishot sides, in fast and tagging scopes
// ---------------------------------------------------------------------------

/// What the scopes below push: a timeout or a poll, and the ops that name
/// them (or a NOP, which names nothing).
type Target<'a> = Either<Timeout, PollAdd<uring::Fd<'a>>>;
type Naming = Either<Either<Cancel, TimeoutRemove>, Either<PollRemove, Nop>>;

/// Ops inside an `Either` that may name another op (cancel, removals) get
/// the bookkeeping the named op needs, whichever side is present, in a
/// fast scope and in one that tags every op: a fast scope leaves a NOP in
/// a plain `Either` untagged (the kernel sees its own `user_data`) and
/// tags every SQE of a naming `Either`, even its NOP side. Each cancel and removal finds its target
/// by the caller's `user_data`, every completion comes once (the multishot
/// poll's last without `F_MORE`), and nothing of the scope is left.
#[test]
fn naming_ops_in_eithers_find_tagged_and_untagged_targets() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = Ring::new(16).unwrap();
        tag_every_op_if(&mut ring, tag_all);
        let fd = std::os::fd::AsRawFd::as_raw_fd(&ring);
        let (mut tx, rx) = UnixStream::pair().unwrap();
        let got = ring.scope(|s| {
            // Two NOPs, one in a plain `Either`, one in a naming one: the
            // kernel shows their completions' `user_data` as it got them.
            s.push(Either::<Nop, Nop>::Right(Nop::new().user_data(5)))
                .unwrap();
            s.push(Naming::Right(Either::Right(Nop::new().user_data(4))))
                .unwrap();
            s.submit_and_wait(2).unwrap();
            let shown = fdinfo_user_data(fd);
            let plain: Vec<u64> = [4, 5].into_iter().filter(|ud| shown.contains(ud)).collect();
            let want: &[u64] = if tag_all { &[] } else { &[5] };
            assert_eq!(plain, want, "what the kernel sees untagged: {shown:x?}");
            let mut got = scope_reap(s, 2);
            let long = Duration::from_secs(30);
            let targets: [Target<'_>; 3] = [
                Either::Left(Timeout::new(long).user_data(1)),
                Either::Right(
                    PollAdd::new(&rx, PollEvents::IN)
                        .poll_flags(PollFlags::MULTI)
                        .user_data(2),
                ),
                Either::Right(PollAdd::new(&rx, PollEvents::IN).user_data(3)),
            ];
            for t in targets {
                s.push(t).unwrap();
            }
            s.submit().unwrap();
            tx.write_all(b"x").unwrap();
            // The one-shot poll and the multishot one's first.
            while !(counts(&got).contains_key(&3) && counts(&got).contains_key(&2)) {
                got.extend(scope_reap(s, 1));
            }
            let cancels: [Naming; 4] = [
                Either::Left(Either::Right(TimeoutRemove::new(1).user_data(10))),
                Either::Left(Either::Left(Cancel::new(2).user_data(11))),
                Either::Left(Either::Left(Cancel::new(3).user_data(12))),
                Either::Right(Either::Left(PollRemove::new(3).user_data(13))),
            ];
            for c in cancels {
                s.push(c).unwrap();
            }
            got.extend(scope_reap_all(s));
            got
        });
        let seen = counts(&got);
        for ud in [1, 3, 4, 5, 10, 11, 12, 13] {
            assert_eq!(
                seen.get(&ud),
                Some(&1),
                "{ud} once, tag_all {tag_all}: {got:?}"
            );
        }
        let find = |ud| got.iter().find(|c| c.0 == ud).map(|c| c.1).unwrap();
        assert_eq!(find(1), -libc::ECANCELED);
        assert_eq!(find(3) & libc::POLLIN as i32, libc::POLLIN as i32);
        assert_eq!((find(4), find(5)), (0, 0));
        assert_eq!(find(10), 0);
        assert_eq!(find(11), 0);
        assert_eq!(find(12), -libc::ENOENT, "the one-shot poll had fired");
        assert_eq!(find(13), -libc::ENOENT);
        let polls: Vec<&(u64, i32, u32)> = got.iter().filter(|c| c.0 == 2).collect();
        let (last, firsts) = polls.split_last().unwrap();
        assert!(!firsts.is_empty(), "the multishot poll fired: {got:?}");
        for c in firsts {
            assert!(c.2 & sys::IORING_CQE_F_MORE != 0, "{c:?}");
        }
        assert_eq!(last.1, -libc::ECANCELED);
        assert_eq!(last.2 & sys::IORING_CQE_F_MORE, 0, "{last:?}");
        assert!(uring_tests::stray(&mut ring).is_empty());
        let mut rest = [0u8; 1];
        (&rx).read_exact(&mut rest).unwrap();
    }
}

/// Updates inside an `Either`: a poll update that renames the scope's
/// multishot poll (its later completions carry the new `user_data`, and a
/// cancel finds it by that value), a timeout update that brings a long
/// timeout forward, a link timeout update on an `Either`'s link timeout.
/// Each completion once, the scope settled.
#[test]
fn updates_in_eithers_rename_polls_and_move_timeouts() {
    let _watch = uring_tests::watchdog();
    type Update =
        Either<Either<PollUpdate, TimeoutUpdate>, Either<uring::ops::LinkTimeoutUpdate, Cancel>>;
    for tag_all in [false, true] {
        let mut ring = Ring::new(16).unwrap();
        tag_every_op_if(&mut ring, tag_all);
        let (mut tx, rx) = UnixStream::pair().unwrap();
        let (_tx2, rx2) = UnixStream::pair().unwrap();
        let mut buf = [CANARY; 4];
        let got = ring.scope(|s| {
            let long = Duration::from_secs(30);
            s.push(Either::<_, Timeout>::Left(
                PollAdd::new(&rx, PollEvents::IN)
                    .poll_flags(PollFlags::MULTI)
                    .user_data(20),
            ))
            .unwrap();
            s.push(Either::<PollAdd<uring::Fd<'_>>, _>::Right(
                Timeout::new(long).user_data(21),
            ))
            .unwrap();
            // A read that never gets data, under a link timeout of 30 s.
            s.push(
                Either::<_, Nop>::Left(Read::new(&rx2, &mut buf[..]).user_data(22))
                    .timeout_with(long, 23),
            )
            .unwrap();
            s.submit().unwrap();
            let updates: [Update; 3] = [
                Either::Left(Either::Left(
                    PollUpdate::new(20)
                        .new_user_data(30)
                        .poll_flags(PollFlags::MULTI)
                        .user_data(24),
                )),
                Either::Left(Either::Right(
                    TimeoutUpdate::new(21, Duration::from_millis(1)).user_data(25),
                )),
                Either::Right(Either::Left(
                    uring::ops::LinkTimeoutUpdate::new(23, Duration::from_millis(1)).user_data(26),
                )),
            ];
            for u in updates {
                s.push(u).unwrap();
            }
            let mut got = Vec::new();
            while !(counts(&got).contains_key(&24)) {
                got.extend(scope_reap(s, 1));
            }
            tx.write_all(b"y").unwrap();
            while !counts(&got).contains_key(&30) {
                got.extend(scope_reap(s, 1));
            }
            s.push(Update::Right(Either::Right(Cancel::new(30).user_data(27))))
                .unwrap();
            got.extend(scope_reap_all(s));
            got
        });
        let seen = counts(&got);
        for ud in [21, 22, 23, 24, 25, 26, 27] {
            assert_eq!(
                seen.get(&ud),
                Some(&1),
                "{ud} once, tag_all {tag_all}: {got:?}"
            );
        }
        let find = |ud| got.iter().find(|c| c.0 == ud).map(|c| c.1).unwrap();
        assert_eq!(find(21), -libc::ETIME, "brought forward");
        assert_eq!(
            find(22),
            -libc::ECANCELED,
            "its link timeout, brought forward"
        );
        assert_eq!(find(23), -libc::ETIME);
        assert_eq!((find(24), find(25), find(26), find(27)), (0, 0, 0, 0));
        // The poll's completions before the update (none: no data yet)
        // carry 20, those after it 30; the last is the cancel's.
        assert!(!seen.contains_key(&20), "{got:?}");
        let renamed: Vec<&(u64, i32, u32)> = got.iter().filter(|c| c.0 == 30).collect();
        let (last, firsts) = renamed.split_last().unwrap();
        assert!(!firsts.is_empty(), "{got:?}");
        assert!(firsts.iter().all(|c| c.2 & sys::IORING_CQE_F_MORE != 0));
        assert_eq!(
            (last.1, last.2 & sys::IORING_CQE_F_MORE),
            (-libc::ECANCELED, 0)
        );
        assert_eq!(buf, [CANARY; 4]);
        assert!(uring_tests::stray(&mut ring).is_empty());
    }
}

/// In a fast scope, updates inside an `Either` that would make one of the
/// scope's untagged ops multishot (a timeout update flagged multishot, a
/// poll update that asks for `POLL_ADD_MULTI` with new events) complete
/// with `-EINVAL` and change nothing: the poll fires once, without
/// `F_MORE`, and the timeout stays pending until it is removed.
#[test]
fn updates_in_eithers_never_make_an_untagged_op_multishot() {
    let _watch = uring_tests::watchdog();
    type Up = Either<Either<TimeoutUpdate, PollUpdate>, TimeoutRemove>;
    let mut ring = Ring::new(8).unwrap();
    tag_every_op_if(&mut ring, false);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let got = ring.scope(|s| {
        s.push(Target::Left(
            Timeout::new(Duration::from_secs(30)).user_data(1),
        ))
        .unwrap();
        s.push(Target::Right(
            PollAdd::new(&rx, PollEvents::IN).user_data(2),
        ))
        .unwrap();
        s.submit().unwrap();
        let updates: [Up; 2] = [
            Either::Left(Either::Left(
                TimeoutUpdate::new(1, Duration::from_millis(1))
                    .timeout_flags(uring::TimeoutFlags::MULTISHOT)
                    .user_data(3),
            )),
            Either::Left(Either::Right(
                PollUpdate::new(2)
                    .events(PollEvents::IN)
                    .poll_flags(PollFlags::MULTI)
                    .user_data(4),
            )),
        ];
        for u in updates {
            s.push(u).unwrap();
        }
        let mut got = scope_reap(s, 2);
        tx.write_all(b"z").unwrap();
        got.extend(scope_reap(s, 1));
        s.push(Up::Right(TimeoutRemove::new(1).user_data(5)))
            .unwrap();
        got.extend(scope_reap_all(s));
        got
    });
    let seen = counts(&got);
    for ud in 1..=5 {
        assert_eq!(seen.get(&ud), Some(&1), "{ud} once: {got:?}");
    }
    let find = |ud| got.iter().find(|c| c.0 == ud).copied().unwrap();
    assert_eq!(find(3).1, -libc::EINVAL);
    assert_eq!(find(4).1, -libc::EINVAL);
    let poll = find(2);
    assert_eq!(poll.1 & libc::POLLIN as i32, libc::POLLIN as i32);
    assert_eq!(poll.2 & sys::IORING_CQE_F_MORE, 0, "still one-shot");
    assert_eq!(find(1).1, -libc::ECANCELED, "never fired: still 30 s");
    assert_eq!(find(5).1, 0);
    assert!(uring_tests::stray(&mut ring).is_empty());
}

/// A scope that has as many ops in flight as its CQ holds hands a
/// `Linked` chain of `Either`s back whole (`ScopeFull`), as a full SQ
/// does (`QueueFull`), and so does `push_owned` over an `Either`, with its
/// buffer untouched; once room is made the same chain goes in and runs.
#[test]
fn full_scopes_hand_back_linked_eithers_and_owned_buffers_whole() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (_tx, rx) = UnixStream::pair().unwrap();
    ring.scope(|s| {
        // Sixteen timeouts of no time, their completions unread, fill the
        // scope (a CQ of 16).
        for i in 0..16 {
            if s.push(nop_or_timeout(i, true)).is_err() {
                s.submit().unwrap();
                s.push(nop_or_timeout(i, true)).unwrap();
            }
        }
        s.submit().unwrap();
        let chain = || Linked::new((20..23).map(|u| nop_or_timeout(u, false)).collect());
        let err = s.push_linked(chain()).unwrap_err();
        assert_eq!(err.kind(), PushErrorKind::ScopeFull);
        let back: Vec<u64> = err
            .into_inner()
            .into_inner()
            .iter()
            .map(element_user_data)
            .collect();
        assert_eq!(back, [20, 21, 22]);
        let err = s
            .push_owned(vec![CANARY; 8], |buf, sq| {
                sq.push(Either::<_, Nop>::Left(Read::new(&rx, buf).user_data(30)));
            })
            .unwrap_err();
        assert_eq!(err.kind(), PushErrorKind::ScopeFull);
        assert_eq!(err.into_inner(), vec![CANARY; 8]);
        // The timeouts (of no time) complete; the chain goes in.
        let done = scope_reap(s, 16);
        assert_eq!(done.len(), 16);
        assert!(done.iter().all(|c| c.1 == -libc::ETIME), "{done:?}");
        s.push_linked(chain()).unwrap();
        assert_eq!(scope_reap(s, 3), [(20, 0, 0), (21, 0, 0), (22, 0, 0)]);
    });
    // A full SQ, outside scopes.
    for i in 0..8 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    let err = ring
        .push_linked(Linked::new(vec![nop_or_timeout(40, false)]))
        .unwrap_err();
    assert_eq!(err.kind(), PushErrorKind::QueueFull);
    assert_eq!(err.into_inner().len(), 1);
    assert_eq!(submit_and_reap(&mut ring, 8).len(), 8);
}

/// The kernel never issues a zero-copy send its drain holds back: once the
/// ring took an op flagged `IO_DRAIN`, a scope hands back every push that
/// may hold a zero-copy send however deep in it the send hides (a nested
/// `Either`, an `Either` linked after an op, a `Linked` chain of `Either`s
/// of chains), whichever side it holds, and takes those that cannot hold
/// one. Run in a process of its own: a failure hangs.
#[test]
fn zero_copy_sides_hidden_anywhere_keep_clear_of_drains() {
    const NAME: &str = "zero_copy_sides_hidden_anywhere_keep_clear_of_drains";
    in_own_process(NAME, "a zero-copy send held by a drain", || {
        let _watch = uring_tests::watchdog();
        let (tx, mut rx) = uring_tests::tcp_pair();
        let data = uring_tests::pattern(64, 2);
        let mut ring = Ring::new(16).unwrap();
        ring.push(Nop::new().flags(uring::SqeFlags::IO_DRAIN).user_data(1))
            .unwrap();
        assert_eq!(pairs(&submit_and_reap(&mut ring, 1)), [(1, 0)]);
        ring.scope(|s| {
            type Zc<'a> = SendZc<'a, uring::Fd<'a>>;
            let nested = Either::<Either<Nop, Zc<'_>>, Nop>::Left(Either::Left(Nop::new()));
            assert_eq!(
                s.push(nested).unwrap_err().kind(),
                PushErrorKind::AfterDrain
            );
            let linked_after = Nop::new().link(Either::<Zc<'_>, Nop>::Right(Nop::new()));
            assert_eq!(
                s.push(linked_after).unwrap_err().kind(),
                PushErrorKind::AfterDrain
            );
            type Pair<'a> = Either<Link<Nop, Zc<'a>>, Link<Nop, Nop>>;
            let chain: Linked<Pair<'_>> =
                Linked::new(vec![Either::Right(Nop::new().link(Nop::new()))]);
            let err = s.push_linked(chain).unwrap_err();
            assert_eq!(err.kind(), PushErrorKind::AfterDrain);
            assert_eq!(err.into_inner().len(), 1);
            let send = Either::<Zc<'_>, Nop>::Left(SendZc::new(&tx, &data[..]).user_data(2));
            assert_eq!(s.push(send).unwrap_err().kind(), PushErrorKind::AfterDrain);
            // Without a zero-copy side: taken.
            s.push(Either::<Nop, Either<Nop, Timeout>>::Right(Either::Left(
                Nop::new().user_data(3),
            )))
            .unwrap();
            assert_eq!(scope_reap(s, 1), [(3, 0, 0)]);
        });
        drop(tx);
        let mut received = Vec::new();
        rx.read_to_end(&mut received).unwrap();
        assert!(received.is_empty(), "nothing was sent: {received:?}");
    });
}

// ---------------------------------------------------------------------------
// Either: zero-copy sides, buffer selection, owned buffers, link timeouts
// ---------------------------------------------------------------------------

/// Zero-copy sends on the `Right` of `Either`s in chains whose head fails:
/// cancelled, each send's notification (which Linux 6.18 posts even for a
/// send cancelled this way) is taken in by the scope, so that none comes
/// out of the ring after it; in a later scope the same `Either`s send, with
/// one notification each, and the peer gets exactly their bytes.
#[test]
fn zero_copy_sides_cancelled_in_chains_leave_nothing_behind() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = Ring::new(16).unwrap();
        tag_every_op_if(&mut ring, tag_all);
        let (tx, mut rx) = uring_tests::tcp_pair();
        let data = uring_tests::pattern(300, 5);
        let mut sink = [CANARY; 8];
        let got = ring.scope(|s| {
            type ReadOrSend<'a> = Either<Read<'a, uring::Fd<'a>>, SendZc<'a, uring::Fd<'a>>>;
            let ops: Vec<ReadOrSend<'_>> = vec![
                Either::Left(Read::new(bad_fd(), &mut sink[..]).user_data(1)),
                Either::Right(SendZc::new(&tx, &data[..100]).user_data(2)),
                Either::Right(SendZc::new(&tx, &data[100..]).user_data(3)),
            ];
            s.push_linked(Linked::new(ops)).unwrap();
            scope_reap_all(s)
        });
        let sends: Vec<(u64, i32)> = got
            .iter()
            .filter(|c| c.2 & sys::IORING_CQE_F_NOTIF == 0)
            .map(|c| (c.0, c.1))
            .collect();
        assert_eq!(
            sends,
            [
                (1, -libc::EBADF),
                (2, -libc::ECANCELED),
                (3, -libc::ECANCELED)
            ],
            "tag_all {tag_all}"
        );
        assert!(
            uring_tests::stray(&mut ring).is_empty(),
            "nothing after the scope"
        );
        // The same sends, run.
        let got = ring.scope(|s| {
            let ops: Vec<Either<Nop, SendZc<'_, uring::Fd<'_>>>> = vec![
                Either::Left(Nop::new().user_data(4)),
                Either::Right(SendZc::new(&tx, &data[..100]).user_data(5)),
                Either::Right(SendZc::new(&tx, &data[100..]).user_data(6)),
            ];
            s.push_linked(Linked::new(ops)).unwrap();
            let mut got = scope_reap(s, 5);
            got.extend(scope_reap_all(s));
            got
        });
        let mut notified: Vec<u64> = got
            .iter()
            .filter(|c| c.2 & sys::IORING_CQE_F_NOTIF != 0)
            .map(|c| c.0)
            .collect();
        notified.sort_unstable();
        assert_eq!(notified, [5, 6], "{got:?}");
        let sends: Vec<(u64, i32)> = got
            .iter()
            .filter(|c| c.2 & sys::IORING_CQE_F_NOTIF == 0)
            .map(|c| (c.0, c.1))
            .collect();
        assert_eq!(sends, [(4, 0), (5, 100), (6, 200)]);
        assert!(uring_tests::stray(&mut ring).is_empty());
        drop(tx);
        let mut received = Vec::new();
        rx.read_to_end(&mut received).unwrap();
        uring_tests::net::assert_kernel_bytes(&received, &data, "the stream");
        assert_eq!(sink, [CANARY; 8]);
    }
}

/// Sides that select a provided buffer, from a plain ring, an incremental
/// ring and as a receive bundle: each completion's buffer is claimed from
/// the group its side named and holds what the kernel put there; a
/// second `Either` selecting from an incremental group while one is in
/// flight is refused (`EBUSY`) whichever side it holds, and the group
/// serves it once the first is done.
#[test]
fn buffer_selecting_sides_claim_what_the_kernel_filled() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(16).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 7, 4, 64) else {
        return;
    };
    let Some(inc) = incremental_buf_ring(&mut ring, 8, 2, 256) else {
        return;
    };
    let file_bytes = uring_tests::pattern(512, 8);
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&file_bytes).unwrap();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let bundles = ring.params().has(uring::Features::RECVSEND_BUNDLE);
    ring.scope(|s| {
        type Sel<'a> = Either<
            Read<'a, uring::Fd<'a>, uring::BufferSelect>,
            Recv<'a, uring::Fd<'a>, uring::BufferSelect>,
        >;
        // Plain ring: a read of the file, a receive.
        s.push(Sel::Left(Read::new(&file, pool.select()).user_data(1)))
            .unwrap();
        tx.write_all(b"hello").unwrap();
        s.push(Sel::Right(Recv::new(&rx, pool.select()).user_data(2)))
            .unwrap();
        let mut seen = 0;
        while seen < 2 {
            s.submit_and_wait(1).unwrap();
            for mut cqe in s.completions().collect::<Vec<uring::ScopeCqe<'_>>>() {
                let buf = pool.claim(&mut cqe).unwrap();
                match cqe.user_data() {
                    1 => uring_tests::net::assert_kernel_bytes(&buf, &file_bytes[..64], "read"),
                    2 => uring_tests::net::assert_kernel_bytes(&buf, b"hello", "recv"),
                    ud => panic!("a completion of {ud}"),
                }
                seen += 1;
            }
        }
        // Incremental ring: a receive waits for data; a read of the file
        // from the same group is refused while it does.
        s.push(Sel::Right(Recv::new(&rx, inc.select()).user_data(3)))
            .unwrap();
        s.push(Sel::Left(Read::new(&file, inc.select()).user_data(4)))
            .unwrap();
        let refused = scope_reap(s, 1);
        assert_eq!(refused, [(4, -libc::EBUSY, 0)]);
        tx.write_all(b"incremental").unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!((cqe.user_data(), cqe.res()), (3, 11));
        let buf = inc.claim(&mut cqe).unwrap();
        uring_tests::net::assert_kernel_bytes(&buf, b"incremental", "incremental recv");
        drop(buf);
        s.push(Sel::Left(
            Read::new(&file, inc.select()).offset(7).user_data(5),
        ))
        .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        // What the receive left of the buffer it used: 256 - 11 bytes.
        assert_eq!((cqe.user_data(), cqe.res()), (5, 245));
        let buf = inc.claim(&mut cqe).unwrap();
        uring_tests::net::assert_kernel_bytes(&buf, &file_bytes[7..252], "incremental read");
        drop(buf);
        if !bundles {
            uring_tests::skip("no bundles (6.10): the rest of the test");
            return;
        }
        // A bundle on the `Right`: 150 bytes over three buffers of 64.
        let sent = uring_tests::pattern(150, 3);
        tx.write_all(&sent).unwrap();
        s.push(Sel::Right(
            Recv::new(&rx, pool.select())
                .recv_flags(RecvFlags::BUNDLE)
                .user_data(6),
        ))
        .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.user_data(), 6);
        let n = cqe.res() as usize;
        assert!(n > 0 && n <= 150, "{n}");
        let bufs = pool.claim_bundle(&mut cqe).unwrap();
        let got: Vec<u8> = bufs.iter().flat_map(|b| b.to_vec()).collect();
        uring_tests::net::assert_kernel_bytes(&got, &sent[..n], "bundle");
    });
    assert!(uring_tests::stray(&mut ring).is_empty());
}

/// `push_owned` with an `Either` over the owned buffer: a read on the
/// `Left` gives the buffer back with its completion, holding what was
/// read; a NOP on the `Right` (the buffer unused) gives it back as it was;
/// an `Either` of two-SQE chains (a read bounded by a link timeout, or two
/// NOPs) gives it back once, with the last completion of the chain.
#[test]
fn owned_buffers_come_back_once_through_either_sides() {
    let _watch = uring_tests::watchdog();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let mut ring = Ring::new(8).unwrap();
    ring.scope(|s| {
        s.push_owned(vec![0; 16], |buf, sq| {
            sq.push(Either::<_, Nop>::Left(Read::new(&rx, buf).user_data(1)));
        })
        .unwrap();
        tx.write_all(b"abc").unwrap();
        s.push_owned(vec![7; 16], |buf, sq| {
            let _ = buf;
            sq.push(Either::<Read<'_, uring::Fd<'_>>, _>::Right(
                Nop::new().user_data(2),
            ));
        })
        .unwrap();
        let mut back = HashMap::new();
        while back.len() < 2 {
            s.submit_and_wait(1).unwrap();
            for mut cqe in s.completions().collect::<Vec<uring::ScopeCqe<'_>>>() {
                let buf = cqe
                    .take_buf()
                    .expect("the buffer, with the op's completion");
                assert!(back.insert(cqe.user_data(), (cqe.res(), buf)).is_none());
            }
        }
        let (res, buf) = &back[&1];
        assert_eq!(*res, 3);
        uring_tests::net::assert_kernel_bytes(&buf[..3], b"abc", "owned read");
        assert_eq!(back[&2], (0, vec![7; 16]));
        // Chains of two over one buffer.
        type Pair<'a> = Either<Link<Read<'a, uring::Fd<'a>>, LinkTimeout>, Link<Nop, Nop>>;
        for right in [false, true] {
            s.push_owned(vec![9; 8], |buf, sq| {
                let op: Pair<'_> = if right {
                    let _ = buf;
                    Either::Right(Nop::new().user_data(3).link(Nop::new().user_data(4)))
                } else {
                    Either::Left(
                        Read::new(&rx, buf)
                            .user_data(3)
                            .link_timeout(LinkTimeout::new(Duration::from_millis(5)).user_data(4)),
                    )
                };
                sq.push(op);
            })
            .unwrap();
            let mut returned = Vec::new();
            let mut results = HashMap::new();
            while results.len() < 2 {
                s.submit_and_wait(1).unwrap();
                for mut cqe in s.completions().collect::<Vec<uring::ScopeCqe<'_>>>() {
                    results.insert(cqe.user_data(), cqe.res());
                    if let Some(buf) = cqe.take_buf() {
                        returned.push(buf);
                    }
                }
            }
            assert_eq!(returned, [vec![9; 8]], "once, untouched (right {right})");
            let want = if right {
                [(3, 0), (4, 0)]
            } else {
                [(3, -libc::ECANCELED), (4, -libc::ETIME)]
            };
            assert_eq!(results, HashMap::from(want));
        }
    });
}

/// `Either`s bounded by link timeouts inside a `Linked` chain, and an
/// `Either` of chains that end in a link timeout: the op that finishes
/// first cancels its timeout, the read that gets nothing is cancelled by
/// its own and the rest of the soft chain with it; the scope, left with
/// reads in flight, cancels them and lends nothing after it.
#[test]
fn link_timeouts_after_either_sides_in_linked_chains() {
    let _watch = uring_tests::watchdog();
    type Bounded<'a> = Either<Link<Read<'a, uring::Fd<'a>>, LinkTimeout>, Link<Nop, LinkTimeout>>;
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let (mut tx2, rx2) = UnixStream::pair().unwrap();
    let mut bufs = [[CANARY; 8]; 3];
    let mut ring = Ring::new(16).unwrap();
    let got = ring.scope(|s| {
        let [b0, b1, b2] = &mut bufs;
        let long = Duration::from_secs(10);
        let ops: Vec<Bounded<'_>> = vec![
            Either::Right(Nop::new().user_data(1).timeout_with(long, 2)),
            Either::Left(
                Read::new(&rx, &mut b0[..])
                    .user_data(3)
                    .timeout_with(Duration::from_millis(5), 4),
            ),
            Either::Right(Nop::new().user_data(5).timeout_with(long, 6)),
        ];
        s.push_linked(Linked::new(ops)).unwrap();
        // An `Either` with a timeout of its own, its poll cancelled.
        s.push(
            Either::<Read<'_, uring::Fd<'_>>, _>::Right(
                PollAdd::new(&rx, PollEvents::IN).user_data(7),
            )
            .timeout_with(Duration::from_millis(5), 8),
        )
        .unwrap();
        let mut got = scope_reap(s, 8);
        got.sort_unstable();
        // Two reads that never get data, in flight when the scope ends.
        s.push(Either::<_, Nop>::Left(
            Read::new(&rx2, &mut b1[..]).user_data(9),
        ))
        .unwrap();
        s.push(
            Either::<_, Nop>::Left(Read::new(&rx2, &mut b2[..]).user_data(10))
                .timeout_with(long, 11),
        )
        .unwrap();
        s.submit().unwrap();
        assert_eq!(s.in_flight(), 3);
        got
    });
    assert_eq!(
        got,
        [
            (1, 0, 0),
            (2, -libc::ECANCELED, 0),
            (3, -libc::ECANCELED, 0),
            (4, -libc::ETIME, 0),
            (5, -libc::ECANCELED, 0),
            (6, -libc::ECANCELED, 0),
            (7, -libc::ECANCELED, 0),
            (8, -libc::ETIME, 0),
        ]
    );
    let views: Vec<&[u8]> = bufs.iter().map(|b| &b[..]).collect();
    uring_tests::assert_nothing_writes_after(&mut [&mut tx, &mut tx2], &views, CANARY);
    assert!(uring_tests::stray(&mut ring).is_empty());
}

// ---------------------------------------------------------------------------
// Either: rings of every setup, registered files of another ring
// ---------------------------------------------------------------------------

/// Submits what is pushed on `ring` and reads `n` completions, in order.
fn reap_on<S: SqeSize>(ring: &mut Ring<S>, n: usize) -> Vec<(u64, i32)> {
    let mut got = Vec::new();
    let deadline = Instant::now() + uring_tests::PATIENCE;
    while got.len() < n {
        assert!(Instant::now() < deadline, "{} of {n}: {got:?}", got.len());
        ring.submit().unwrap();
        let _ = ring.wait_timeout(1, Duration::from_millis(50));
        got.extend(
            ring.completions()
                .map(|c| (c.as_ref().user_data(), c.as_ref().res())),
        );
    }
    got
}

/// Hard-linked chains of NOPs and timeouts in `Either`s, of every length
/// up to the SQ's, at every SQ position, pushed to `ring` and in its
/// scopes: the SQEs are whole (on a ring of 128-byte SQEs, their second
/// halves zero) and the completions come once each, in order.
fn chains_on<S: SqeSize>(ring: &mut Ring<S>, what: &str) {
    let entries = ring.sq_entries();
    let mut round = 0u64;
    for start in 0..u64::from(entries) {
        for len in 1..=u64::from(entries) {
            round += 1;
            let first = round * 100;
            let kinds: Vec<bool> = (0..len).map(|i| (i + start) % 2 == 1).collect();
            let ops = || -> Vec<NopOrTimeout> {
                kinds
                    .iter()
                    .enumerate()
                    .map(|(i, &t)| nop_or_timeout(first + i as u64, t))
                    .collect()
            };
            let want = chain_results(first, &kinds, true);
            if round.is_multiple_of(2) {
                ring.push_linked(Linked::hard(ops())).unwrap();
                for slot in pending_bytes(ring) {
                    assert!(slot[64..].iter().all(|&b| b == 0), "{what}: stale bytes");
                }
                assert_eq!(
                    reap_on(ring, len as usize),
                    want,
                    "{what}: start {start}, len {len}"
                );
            } else {
                let got = ring.scope(|s| {
                    s.push_linked(Linked::hard(ops())).unwrap();
                    let mut got = Vec::new();
                    while got.len() < len as usize {
                        s.submit().unwrap();
                        s.wait_timeout(1, uring_tests::PATIENCE).unwrap();
                        got.extend(s.completions().map(|c| (c.user_data(), c.res())));
                    }
                    got
                });
                assert_eq!(got, want, "{what} scope: start {start}, len {len}");
            }
        }
        // Move the tail on by one.
        ring.push(Nop::new().user_data(1)).unwrap();
        assert_eq!(reap_on(ring, 1), [(1, 0)]);
    }
    ring.submit().unwrap();
    let _ = ring.wait_timeout(1, Duration::from_millis(20));
    assert_eq!(ring.completions().count(), 0, "{what}: nothing more");
}

/// [`chains_on`] on an SQPOLL ring, a `defer_taskrun` ring, a ring of
/// 128-byte SQEs and one of 128-byte SQEs whose scopes tag every op.
#[test]
fn either_chains_on_sqpoll_defer_taskrun_and_big_sqe_rings() {
    let _watch = uring_tests::watchdog();
    if let Some(mut ring) = uring_tests::sqpoll_ring(8) {
        chains_on(&mut ring, "sqpoll");
    }
    if let Some(mut ring) = uring_tests::defer_ring(8) {
        chains_on(&mut ring, "defer_taskrun");
    }
    let mut big: Ring<Sqe128> = Builder::new().build_sized::<Sqe128, Cqe16>(8).unwrap();
    chains_on(&mut big, "128-byte SQEs");
    assert!(
        big.scope(|s| s.tags_every_op()),
        "ops were pushed outside scopes"
    );
}

/// A registered file of another ring anywhere in a push (the inner side of
/// a nested `Either`, an `Either` linked after an op, the last element of
/// a `Linked` chain) refuses the whole push, which comes back as it was,
/// and leaves the queue empty; the ring's own registered file on the other
/// side of the same type writes.
#[test]
fn a_foreign_registered_file_on_any_side_refuses_the_whole_push() {
    let _watch = uring_tests::watchdog();
    let mine = tempfile::tempfile().unwrap();
    let theirs = tempfile::tempfile().unwrap();
    let mut other = Ring::new(4).unwrap();
    let their_files = other.register_files(&[theirs.as_fd()]).unwrap();
    let foreign = their_files.get(0).unwrap();
    let mut ring = Ring::new(8).unwrap();
    let my_files = ring.register_files(&[mine.as_fd()]).unwrap();
    let own = my_files.get(0).unwrap();
    let data = [3u8; 16];
    ring.scope(|s| {
        type W<'a> = Write<'a, uring::Fixed<'a>>;
        type Nested<'a> = Either<Either<Nop, W<'a>>, Nop>;
        let op: Nested<'_> =
            Either::Left(Either::Right(Write::new(foreign, &data[..]).user_data(1)));
        let err = s.push(op).unwrap_err();
        assert_eq!(err.kind(), PushErrorKind::ForeignFile);
        assert!(matches!(err.into_inner(), Either::Left(Either::Right(_))));
        let chain = Nop::new().user_data(2).link(Either::<W<'_>, Nop>::Left(
            Write::new(foreign, &data[..]).user_data(3),
        ));
        assert_eq!(
            s.push(chain).unwrap_err().kind(),
            PushErrorKind::ForeignFile
        );
        let linked = Linked::new(vec![
            Either::<Nop, W<'_>>::Left(Nop::new().user_data(4)),
            Either::Right(Write::new(own, &data[..]).user_data(5)),
            Either::Right(Write::new(foreign, &data[..]).user_data(6)),
        ]);
        let err = s.push_linked(linked).unwrap_err();
        assert_eq!(err.kind(), PushErrorKind::ForeignFile);
        assert_eq!(err.into_inner().len(), 3);
        assert_eq!(s.space_left(), 8, "nothing was pushed");
        // The ring's own file, on the same side.
        let op: Nested<'_> = Either::Left(Either::Right(Write::new(own, &data[..]).user_data(7)));
        s.push(op).unwrap();
        assert_eq!(scope_reap(s, 1), [(7, 16, 0)]);
    });
    assert_eq!(ring.pending(), 0);
    let mut back = Vec::new();
    (&mine).read_to_end(&mut back).unwrap();
    assert_eq!(back, data);
    let mut nothing = Vec::new();
    (&theirs).read_to_end(&mut nothing).unwrap();
    assert!(nothing.is_empty(), "nothing reached the other ring's file");
}

// ---------------------------------------------------------------------------
// Waits with a signal mask (each test in a process of its own)
// ---------------------------------------------------------------------------

/// Whether `ring`'s kernel takes waits with a signal mask (5.11).
fn ext_arg(ring: &Ring) -> bool {
    uring_tests::require_features(ring, uring::Features::EXT_ARG, "waits with a signal mask")
}

/// A thread that sends [`SIG`] to the thread that made it, again and
/// again with pauses of up to `max_pause_us` microseconds, until it is
/// stopped.
struct Storm {
    stop: Arc<AtomicBool>,
    sender: Option<std::thread::JoinHandle<u32>>,
}

impl Storm {
    /// Starts the sender, aimed at the calling thread.
    fn start(max_pause_us: u64) -> Storm {
        // SAFETY: pthread_self has no preconditions.
        let target = unsafe { libc::pthread_self() };
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let sender = std::thread::spawn(move || {
            let mut rng = uring_tests::Rng(0x2545_f491_4f6c_dd1d);
            let mut sent = 0u32;
            while !flag.load(Ordering::SeqCst) {
                // SAFETY: the target thread is alive until `stop` joins
                // this one.
                assert_eq!(unsafe { libc::pthread_kill(target, SIG) }, 0);
                sent += 1;
                let pause = Duration::from_micros(rng.below(max_pause_us + 1));
                let until = Instant::now() + pause;
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
                if sent.is_multiple_of(64) {
                    std::thread::yield_now();
                }
            }
            sent
        });
        Storm {
            stop,
            sender: Some(sender),
        }
    }

    /// Stops the sender; how many signals it sent.
    fn stop(mut self) -> u32 {
        self.stop.store(true, Ordering::SeqCst);
        self.sender.take().unwrap().join().unwrap()
    }
}

impl Drop for Storm {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(sender) = self.sender.take() {
            let _ = sender.join();
        }
    }
}

/// Removes timeout `user_data` with a plain wait, and checks that it was
/// still pending: it completes with `-ECANCELED`, the removal with 0.
fn remove_timeout(ring: &mut Ring, user_data: u64) {
    ring.push(TimeoutRemove::new(user_data).user_data(user_data + 1000))
        .unwrap();
    let mut got = reap_on(ring, 2);
    got.sort_unstable();
    assert_eq!(got, [(user_data, -libc::ECANCELED), (user_data + 1000, 0)]);
}

/// A masked wait that finds a completion unread in the CQ (fewer than it
/// wants) is ended by a signal its mask lets through, though the kernel
/// returns 0 instead of `EINTR` when the CQ is not empty
/// (`io_cqring_wait` ends with `head == tail ? ret : 0`): the wait
/// returns `Ok` with the one completion ready, long before the 3 s timeout
/// op it also waits for, the handler having run once. Shown with a
/// signal left pending before the wait, with one sent by another thread
/// during it, and in a scope.
#[test]
fn a_masked_wait_with_completions_unread_ends_at_the_signal() {
    const NAME: &str = "a_masked_wait_with_completions_unread_ends_at_the_signal";
    in_own_process(NAME, "a masked wait the signal did not end", || {
        install_handler();
        block_signal();
        let mask = sig_set(false);
        let args = WaitArgs::new().sigmask(&mask);
        let mut ring = Ring::new(4).unwrap();
        if !ext_arg(&ring) {
            return;
        }
        let mut outcomes = Vec::new();
        for case in ["pending", "sent during the wait", "scope"] {
            let before = handled();
            let r = if case == "scope" {
                ring.scope(|s| {
                    s.push(Nop::new().user_data(1)).unwrap();
                    s.submit_and_wait(1).unwrap();
                    s.push(Timeout::new(Duration::from_secs(3)).user_data(2))
                        .unwrap();
                    raise_pending();
                    let r = s.submit_and_wait_with(2, &args);
                    let ready = s.ready();
                    let _ = s.completions().count();
                    (r.map(drop), ready)
                })
            } else {
                // One completion waits unread in the CQ.
                ring.push(Nop::new().user_data(1)).unwrap();
                ring.submit_and_wait(1).unwrap();
                ring.push(Timeout::new(Duration::from_secs(3)).user_data(2))
                    .unwrap();
                let sender = if case == "pending" {
                    raise_pending();
                    None
                } else {
                    // SAFETY: pthread_self has no preconditions.
                    let me = unsafe { libc::pthread_self() };
                    Some(std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_millis(100));
                        // SAFETY: the test's thread waits for this one.
                        unsafe { libc::pthread_kill(me, SIG) }
                    }))
                };
                let r = ring.submit_and_wait_with(2, &args);
                if let Some(sender) = sender {
                    assert_eq!(sender.join().unwrap(), 0);
                }
                let ready = ring.ready();
                let _ = ring.completions().count();
                if ready < 2 {
                    remove_timeout(&mut ring, 2);
                }
                (r.map(drop), ready)
            };
            outcomes.push((case, handled() - before, is_eintr(&r.0), r.1, r.0));
        }
        for (case, ran, eintr, ready, r) in &outcomes {
            assert_eq!(*ran, 1, "{case}: the handler ran");
            assert!(
                !*eintr && r.is_ok() && *ready == 1,
                "{case}: the wait ended with {r:?}, {ready} ready (the timeout op's \
                 completion among them): the signal did not end it; all: {outcomes:?}"
            );
        }
    });
}

/// Rings whose waits the tests below attack, by name.
fn rings_of_every_setup() -> Vec<(&'static str, Ring)> {
    let mut rings = vec![("plain", Ring::new(8).unwrap())];
    if let Some(ring) = uring_tests::sqpoll_ring(8) {
        rings.push(("sqpoll", ring));
    }
    if let Some(ring) = uring_tests::defer_ring(8) {
        rings.push(("defer_taskrun", ring));
    }
    match Builder::new().coop_taskrun().taskrun_flag().build(8) {
        Ok(ring) => rings.push(("coop_taskrun", ring)),
        Err(e) => uring_tests::skip(format_args!("no coop_taskrun ring: {e}")),
    }
    rings
}

/// With the CQ empty, a signal left pending (blocked) before a masked wait
/// ends it at once with `EINTR`, on plain, SQPOLL, `defer_taskrun` and
/// `coop_taskrun` rings, in and out of scopes, with a timeout, a deadline
/// or a minimum wait as well, submitting or not: the handler runs once,
/// what was pushed is submitted, and the 30 s timeout op the wait was for
/// is still pending (removed after, once).
#[test]
fn a_pending_signal_ends_every_kind_of_masked_wait_at_once() {
    const NAME: &str = "a_pending_signal_ends_every_kind_of_masked_wait_at_once";
    in_own_process(NAME, "a masked wait a pending signal did not end", || {
        install_handler();
        block_signal();
        let mask = sig_set(false);
        for (what, mut ring) in rings_of_every_setup() {
            if !ext_arg(&ring) {
                return;
            }
            let min_wait = ring.params().has(uring::Features::MIN_TIMEOUT);
            let long = Duration::from_secs(30);
            let mut variants = vec![
                ("mask", WaitArgs::new().sigmask(&mask)),
                ("timeout", WaitArgs::new().sigmask(&mask).timeout(long)),
                (
                    "deadline",
                    WaitArgs::new()
                        .sigmask(&mask)
                        .deadline(Instant::now() + long),
                ),
            ];
            if min_wait {
                variants.push((
                    "min_wait",
                    WaitArgs::new()
                        .sigmask(&mask)
                        .min_wait(Duration::from_millis(20))
                        .timeout(long),
                ));
            }
            let mut ud = 0;
            for (name, args) in variants {
                for submit in [true, false] {
                    ud += 10;
                    ring.push(Timeout::new(long).user_data(ud)).unwrap();
                    if !submit {
                        ring.submit().unwrap();
                    }
                    raise_pending();
                    let before = handled();
                    let r = if submit {
                        ring.submit_and_wait_with(1, &args).map(drop)
                    } else {
                        ring.wait_with(1, &args)
                    };
                    let case = format!("{what}, {name}, submit {submit}");
                    assert!(is_eintr(&r), "{case}: {r:?}");
                    assert_eq!(handled(), before + 1, "{case}");
                    assert_eq!(ring.ready(), 0, "{case}: the timeout op is pending");
                    if what != "sqpoll" {
                        assert_eq!(ring.pending(), 0, "{case}: submitted");
                    }
                    remove_timeout(&mut ring, ud);
                    // In a scope: the wait ends, the scope cancels the
                    // timeout at its end.
                    ring.scope(|s| {
                        s.push(Either::<Timeout, Nop>::Left(
                            Timeout::new(long).user_data(ud + 1),
                        ))
                        .unwrap();
                        if !submit {
                            s.submit().unwrap();
                        }
                        raise_pending();
                        let before = handled();
                        let r = if submit {
                            s.submit_and_wait_with(1, &args).map(drop)
                        } else {
                            s.wait_with(1, &args)
                        };
                        assert!(is_eintr(&r), "{case}, scope: {r:?}");
                        assert_eq!(handled(), before + 1, "{case}, scope");
                        assert_eq!(s.ready(), 0, "{case}, scope");
                        assert_eq!(s.in_flight(), 1, "{case}, scope");
                    });
                    ring.submit().unwrap();
                    let _ = ring.wait_timeout(1, Duration::from_millis(10));
                    assert_eq!(
                        ring.completions().count(),
                        0,
                        "{case}: nothing after the scope"
                    );
                }
            }
        }
    });
}

/// Rounds of NOPs and short timeouts (in `Either`s, alone and in `Linked`
/// chains) waited for with masked waits while another thread sends the
/// signal again and again, at every moment: before the submit, during it,
/// during the wait, between waits. A wait the signal ends returns `EINTR`
/// and is made again; every op is submitted once (the queue is empty after
/// the first call) and completes once with its own result, on plain,
/// SQPOLL, `defer_taskrun` and `coop_taskrun` rings and in scopes, with
/// masks alone and with timeouts, deadlines and minimum waits (with a
/// timeout).
#[test]
fn signals_at_every_moment_lose_and_repeat_no_completion() {
    const NAME: &str = "signals_at_every_moment_lose_and_repeat_no_completion";
    in_own_process(NAME, "a masked wait under a storm of signals", || {
        install_handler();
        block_signal();
        let mask = sig_set(false);
        let storm = Storm::start(300);
        let mut interrupted = 0u32;
        for (what, mut ring) in rings_of_every_setup() {
            if !ext_arg(&ring) {
                return;
            }
            let min_wait = ring.params().has(uring::Features::MIN_TIMEOUT);
            let sqpoll = what == "sqpoll";
            for round in 0..120u64 {
                let args = match round % 4 {
                    0 => WaitArgs::new().sigmask(&mask),
                    1 => WaitArgs::new()
                        .sigmask(&mask)
                        .timeout(Duration::from_secs(20)),
                    2 => WaitArgs::new()
                        .sigmask(&mask)
                        .deadline(Instant::now() + Duration::from_secs(20)),
                    // With a timeout: a minimum wait alone may end with
                    // no completion (see the test of minimum waits alone).
                    _ if min_wait => WaitArgs::new()
                        .sigmask(&mask)
                        .min_wait(Duration::from_micros(200))
                        .timeout(Duration::from_secs(20)),
                    _ => WaitArgs::new().sigmask(&mask),
                };
                let first = round * 10;
                // NOPs, and timeouts of 0.2 to 0.6 ms that the waits sleep
                // for.
                let op = |i: u64| -> NopOrTimeout {
                    if i % 2 == 1 {
                        let time = Duration::from_micros(100 * (i + 1));
                        Either::Right(Timeout::new(time).user_data(first + i))
                    } else {
                        Either::Left(Nop::new().user_data(first + i))
                    }
                };
                let expected: Vec<(u64, i32)> = (0..6)
                    .map(|i| (first + i, if i % 2 == 1 { -libc::ETIME } else { 0 }))
                    .collect();
                let scoped = round.is_multiple_of(3);
                let got = if scoped {
                    ring.scope(|s| {
                        s.push(op(0)).unwrap();
                        s.push(op(1)).unwrap();
                        s.push_linked(Linked::hard(vec![op(2), op(3), op(4), op(5)]))
                            .unwrap();
                        let mut got: Vec<(u64, i32)> = Vec::new();
                        let mut calls = 0;
                        while got.len() < 6 {
                            let r = s.submit_and_wait_with(6 - got.len() as u32, &args);
                            if is_eintr(&r) {
                                interrupted += 1;
                            } else {
                                r.unwrap();
                            }
                            calls += 1;
                            assert!(calls < 100_000, "{what}: no end");
                            got.extend(s.completions().map(|c| (c.user_data(), c.res())));
                        }
                        got
                    })
                } else {
                    ring.push(op(0)).unwrap();
                    ring.push(op(1)).unwrap();
                    ring.push_linked(Linked::hard(vec![op(2), op(3), op(4), op(5)]))
                        .unwrap();
                    let mut got: Vec<(u64, i32)> = Vec::new();
                    let mut calls = 0;
                    while got.len() < 6 {
                        let r = ring.submit_and_wait_with(6 - got.len() as u32, &args);
                        if is_eintr(&r) {
                            interrupted += 1;
                        } else {
                            r.unwrap();
                        }
                        if !sqpoll {
                            assert_eq!(ring.pending(), 0, "{what}: all submitted at once");
                        }
                        calls += 1;
                        assert!(calls < 100_000, "{what}: no end");
                        got.extend(ring.completions().map(|c| (c.user_data(), c.res())));
                    }
                    got
                };
                let mut sorted = got.clone();
                sorted.sort_unstable();
                assert_eq!(sorted, expected, "{what}, round {round}, scope {scoped}");
                // The hard chain completes in its order.
                let chain: Vec<u64> = got
                    .iter()
                    .map(|c| c.0)
                    .filter(|&u| u >= first + 2)
                    .collect();
                assert_eq!(chain, (first + 2..first + 6).collect::<Vec<_>>());
            }
            ring.submit().unwrap();
            let _ = ring.wait_timeout(1, Duration::from_millis(10));
            assert_eq!(ring.completions().count(), 0, "{what}: nothing more");
        }
        let sent = storm.stop();
        assert!(interrupted > 0, "no wait was interrupted in {sent} signals");
        assert!(
            interrupted <= handled(),
            "{interrupted} interrupts, {} handled",
            handled()
        );
    });
}

/// A scope whose masked wait a signal ends (left pending, or sent by
/// another thread a moment after the wait began), with a read of a socket
/// that gets no data and a long timeout in flight, still ends properly:
/// it cancels both, waits for them, lends nothing after it (data written
/// after the scope never reaches the buffer), leaves no completion behind,
/// and the ring goes on working. On plain, SQPOLL, `defer_taskrun` and
/// `coop_taskrun` rings.
#[test]
fn a_scope_interrupted_in_a_masked_wait_ends_and_lends_nothing_after() {
    const NAME: &str = "a_scope_interrupted_in_a_masked_wait_ends_and_lends_nothing_after";
    in_own_process(
        NAME,
        "a scope that an interrupted wait left hanging",
        || {
            install_handler();
            block_signal();
            let mask = sig_set(false);
            let args = WaitArgs::new().sigmask(&mask);
            for (what, mut ring) in rings_of_every_setup() {
                if !ext_arg(&ring) {
                    return;
                }
                for delay_ms in [None, Some(0), Some(2), Some(20)] {
                    let (mut tx, rx) = UnixStream::pair().unwrap();
                    let mut buf = [CANARY; 8];
                    let before = handled();
                    ring.scope(|s| {
                        type ReadOrTimeout<'a> = Either<Read<'a, uring::Fd<'a>>, Timeout>;
                        s.push(ReadOrTimeout::Left(
                            Read::new(&rx, &mut buf[..]).user_data(1),
                        ))
                        .unwrap();
                        s.push(ReadOrTimeout::Right(
                            Timeout::new(Duration::from_secs(30)).user_data(2),
                        ))
                        .unwrap();
                        let sender = match delay_ms {
                            None => {
                                raise_pending();
                                None
                            }
                            Some(ms) => {
                                // SAFETY: pthread_self has no preconditions.
                                let me = unsafe { libc::pthread_self() };
                                Some(std::thread::spawn(move || {
                                    std::thread::sleep(Duration::from_millis(ms));
                                    // SAFETY: the scope's thread joins this one.
                                    unsafe { libc::pthread_kill(me, SIG) }
                                }))
                            }
                        };
                        let r = s.submit_and_wait_with(1, &args);
                        if let Some(sender) = sender {
                            assert_eq!(sender.join().unwrap(), 0);
                        }
                        assert!(is_eintr(&r), "{what}, {delay_ms:?}: {r:?}");
                        assert_eq!(s.ready(), 0);
                        assert_eq!(s.in_flight(), 2);
                    });
                    assert_eq!(handled(), before + 1, "{what}, {delay_ms:?}");
                    uring_tests::assert_nothing_writes_after(&mut [&mut tx], &[&buf[..]], CANARY);
                    ring.submit().unwrap();
                    let _ = ring.wait_timeout(1, Duration::from_millis(10));
                    assert_eq!(
                        ring.completions().count(),
                        0,
                        "{what}: nothing after the scope"
                    );
                    ring.push(Nop::new().user_data(3)).unwrap();
                    assert_eq!(reap_on(&mut ring, 1), [(3, 0)]);
                }
            }
        },
    );
}

/// Waits without a signal mask are not ended by signals: under a storm of
/// handled signals (not blocked, no `SA_RESTART`), `submit_and_wait`,
/// `wait`, `wait_timeout`, `submit_and_wait_timeout`, `wait_with` and
/// `submit_and_wait_with` (a timeout, a deadline, a minimum wait with a
/// timeout) and a
/// scope's waits return only once their completions are there, each
/// completion once, on plain, SQPOLL, `defer_taskrun` and `coop_taskrun`
/// rings.
#[test]
fn waits_without_a_mask_resume_after_signals() {
    const NAME: &str = "waits_without_a_mask_resume_after_signals";
    in_own_process(NAME, "a wait without a mask that a signal broke", || {
        install_handler();
        let storm = Storm::start(2000);
        let tick = Duration::from_millis(3);
        let far = Duration::from_secs(20);
        for (what, mut ring) in rings_of_every_setup() {
            let ext = ring.params().has(uring::Features::EXT_ARG);
            let min_wait = ring.params().has(uring::Features::MIN_TIMEOUT);
            for round in 0..10u64 {
                for kind in 0..8u64 {
                    let ud = round * 100 + kind;
                    if !ext && (2..=6).contains(&kind) {
                        continue;
                    }
                    if kind == 7 {
                        let got = ring.scope(|s| {
                            s.push(Either::<Nop, _>::Right(Timeout::new(tick).user_data(ud)))
                                .unwrap();
                            s.submit_and_wait(1).unwrap();
                            s.completions()
                                .map(|c| (c.user_data(), c.res()))
                                .collect::<Vec<_>>()
                        });
                        assert_eq!(got, [(ud, -libc::ETIME)], "{what}: scope");
                        continue;
                    }
                    ring.push(Timeout::new(tick).user_data(ud)).unwrap();
                    let case = format!("{what}, kind {kind}");
                    match kind {
                        0 => {
                            ring.submit_and_wait(1).unwrap();
                        }
                        1 => {
                            ring.submit().unwrap();
                            ring.wait(1).unwrap();
                        }
                        2 => {
                            ring.submit().unwrap();
                            ring.wait_timeout(1, far).unwrap();
                        }
                        3 => {
                            ring.submit_and_wait_timeout(1, far).unwrap();
                        }
                        4 => {
                            ring.submit().unwrap();
                            let args = WaitArgs::new().deadline(Instant::now() + far);
                            ring.wait_with(1, &args).unwrap();
                        }
                        5 if min_wait => {
                            let args = WaitArgs::new()
                                .min_wait(Duration::from_micros(100))
                                .timeout(far);
                            ring.submit_and_wait_with(1, &args).unwrap();
                        }
                        _ => {
                            let args = WaitArgs::new().timeout(far);
                            ring.submit_and_wait_with(1, &args).unwrap();
                        }
                    }
                    let got: Vec<(u64, i32)> = ring
                        .completions()
                        .map(|c| (c.user_data(), c.res()))
                        .collect();
                    assert_eq!(got, [(ud, -libc::ETIME)], "{case}");
                }
            }
        }
        let sent = storm.stop();
        assert!(handled() > 0, "{sent} signals sent, none handled");
    });
}

/// A minimum wait with no timeout and no deadline ends the wait early only
/// "if at least one completion is there by then" (`WaitArgs::min_wait`);
/// with none there it goes on until the completions come, though Linux
/// 6.18 ends such a wait with `ETIME` when the minimum wait passes with
/// no completion (`io_cqring_min_timer_wakeup` wakes the waiter with
/// `hit_timeout` when there is no general timeout): that `ETIME` is not
/// the caller's timeout, which it was not given. Plain, masked, and a
/// masked `submit_and_wait_with` (which submits in an enter of its own,
/// so the wait's enter returns the `ETIME`).
#[test]
fn a_minimum_wait_alone_ends_only_with_a_completion() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !uring_tests::require_features(&ring, uring::Features::MIN_TIMEOUT, "a minimum wait") {
        return;
    }
    let mask = sig_set(false);
    let min = Duration::from_millis(1);
    let mut outcomes = Vec::new();
    for (case, masked, submit) in [
        ("wait_with", false, false),
        ("masked wait_with", true, false),
        ("masked submit_and_wait_with", true, true),
    ] {
        // The op the wait is for completes 30 ms in: long after the
        // minimum wait.
        ring.push(Timeout::new(Duration::from_millis(30)).user_data(1))
            .unwrap();
        if !submit {
            ring.submit().unwrap();
        }
        let mut args = WaitArgs::new().min_wait(min);
        if masked {
            args = args.sigmask(&mask);
        }
        let r = if submit {
            ring.submit_and_wait_with(1, &args).map(drop)
        } else {
            ring.wait_with(1, &args)
        };
        outcomes.push((case, format!("{r:?}"), ring.ready()));
        ring.wait(1).unwrap();
        assert_eq!(
            pairs(&ring.completions().collect::<Vec<_>>()),
            [(1, -libc::ETIME)]
        );
    }
    for (case, r, ready) in &outcomes {
        assert!(
            r.starts_with("Ok") && *ready == 1,
            "{case}: {r} with {ready} ready: the wait ended with no completion and no \
             timeout; all: {outcomes:?}"
        );
    }
}

/// Masked waits on a ring that reads a copy of its CQ (set aside by a
/// scope's end), on one whose CQ overflowed, and on one resized with
/// completions unread: a wait that its ready completions already satisfy
/// returns `Ok` and leaves the pending signal pending (its handler does
/// not run), even when the kernel must first flush its overflow list; the
/// next masked wait for more than is ready, with the CQ read, ends at once
/// with `EINTR`. The completions come once each, in order, the set-aside
/// ones first.
#[test]
fn masked_waits_on_a_cq_set_aside_overflowed_or_resized() {
    const NAME: &str = "masked_waits_on_a_cq_set_aside_overflowed_or_resized";
    in_own_process(
        NAME,
        "a masked wait on a set-aside or overflowed CQ",
        || {
            install_handler();
            block_signal();
            let mask = sig_set(false);
            let args = WaitArgs::new().sigmask(&mask);
            // A CQ set aside.
            let mut ring = ring_reading_a_copy();
            if !ext_arg(&ring) {
                return;
            }
            ring.push(Timeout::new(Duration::from_secs(30)).user_data(1))
                .unwrap();
            raise_pending();
            let r = ring.submit_and_wait_with(9, &args);
            assert!(is_eintr(&r), "{r:?}");
            assert_eq!(handled(), 1);
            assert_eq!(ring.ready(), 8);
            // Satisfied by what is ready: no enter, the signal stays pending.
            raise_pending();
            ring.wait_with(8, &args).unwrap();
            assert_eq!(handled(), 1, "the signal is still pending");
            let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
            assert_eq!(got, (100..108).collect::<Vec<_>>());
            let r = ring.wait_with(1, &args);
            assert!(is_eintr(&r), "{r:?}");
            assert_eq!(handled(), 2);
            remove_timeout(&mut ring, 1);
            // An overflowed CQ, on a plain and a `defer_taskrun` ring.
            let mut rings = vec![("plain", Ring::new(4).unwrap())];
            if let Some(ring) = uring_tests::defer_ring(4) {
                rings.push(("defer_taskrun", ring));
            }
            for (what, mut ring) in rings {
                for batch in 0..3 {
                    complete_nops(&mut ring, batch * 4, 4);
                }
                assert!(ring.cq_has_overflow(), "{what}");
                let before = handled();
                raise_pending();
                // Eight ready, four held back: the flush's enter returns at
                // once without taking the signal.
                ring.wait_with(8, &args).unwrap();
                assert_eq!(handled(), before, "{what}: still pending");
                let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
                assert_eq!(got, (0..8).collect::<Vec<_>>(), "{what}");
                // The four held back satisfy the next.
                ring.wait_with(4, &args).unwrap();
                assert_eq!(handled(), before, "{what}: still pending");
                let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
                assert_eq!(got, (8..12).collect::<Vec<_>>(), "{what}");
                assert!(!ring.cq_has_overflow());
                assert_eq!(ring.overflow(), 0, "{what}: none dropped");
                ring.push(Timeout::new(Duration::from_secs(30)).user_data(50))
                    .unwrap();
                let r = ring.submit_and_wait_with(1, &args);
                assert!(is_eintr(&r), "{what}: {r:?}");
                assert_eq!(handled(), before + 1, "{what}");
                remove_timeout(&mut ring, 50);
            }
            // A ring resized with completions unread.
            if let Some(mut ring) = uring_tests::resizable_ring(4) {
                complete_nops(&mut ring, 200, 6);
                match ring.resize(8, 32) {
                    Ok(()) => {
                        let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
                        assert_eq!(got, (200..206).collect::<Vec<_>>());
                        ring.push(Timeout::new(Duration::from_secs(30)).user_data(60))
                            .unwrap();
                        let before = handled();
                        raise_pending();
                        let r = ring.submit_and_wait_with(1, &args);
                        assert!(is_eintr(&r), "resized: {r:?}");
                        assert_eq!(handled(), before + 1);
                        remove_timeout(&mut ring, 60);
                    }
                    Err(e) => uring_tests::skip(format_args!("no resize: {e}")),
                }
            }
        },
    );
}

/// A masked wait submits in an enter of its own, before it waits; when the
/// kernel stops at an SQE it refuses (which completes with `EINVAL`), the
/// wait submits the rest in more enters, each SQE once, and counts them
/// all. A signal left pending does not stop that: the submission is
/// whole, and the signal stays pending while the completions satisfy the
/// wait without a sleep; the first masked wait that sleeps, with the CQ
/// read, ends at once. In a scope as well.
#[test]
fn a_masked_wait_submits_past_refused_sqes_once_each() {
    const NAME: &str = "a_masked_wait_submits_past_refused_sqes_once_each";
    in_own_process(NAME, "a masked wait that lost its SQEs", || {
        install_handler();
        block_signal();
        if !stoppers_stop() {
            return;
        }
        let mask = sig_set(false);
        let args = WaitArgs::new().sigmask(&mask);
        let mut ring = Ring::new(8).unwrap();
        if !ext_arg(&ring) {
            return;
        }
        let push_all = |ring: &mut Ring| {
            ring.push(Nop::new().user_data(1)).unwrap();
            ring.push(stopper(2)).unwrap();
            ring.push(Nop::new().user_data(3)).unwrap();
            ring.push(stopper(4)).unwrap();
            ring.push(Nop::new().user_data(5)).unwrap();
        };
        let want: Vec<(u64, i32)> = vec![
            (1, 0),
            (2, -libc::EINVAL),
            (3, 0),
            (4, -libc::EINVAL),
            (5, 0),
        ];
        // All five complete as they are submitted: the wait for five
        // needs no sleep, and the pending signal stays pending.
        push_all(&mut ring);
        raise_pending();
        assert_eq!(ring.submit_and_wait_with(5, &args).unwrap(), 5);
        assert_eq!(handled(), 0);
        assert_eq!(ring.pending(), 0);
        assert_eq!(pairs(&ring.completions().collect::<Vec<_>>()), want);
        // The signal is still pending: with the CQ read, the next masked
        // wait that sleeps ends at once.
        ring.push(Timeout::new(Duration::from_secs(30)).user_data(8))
            .unwrap();
        let r = ring.submit_and_wait_with(1, &args);
        assert!(is_eintr(&r), "{r:?}");
        assert_eq!(handled(), 1);
        remove_timeout(&mut ring, 8);
        // With a timeout op to wait for as well: six submitted, in three
        // enters, each once.
        push_all(&mut ring);
        ring.push(Timeout::new(Duration::from_millis(5)).user_data(6))
            .unwrap();
        assert_eq!(ring.submit_and_wait_with(6, &args).unwrap(), 6);
        let mut got = pairs(&ring.completions().collect::<Vec<_>>());
        got.sort_unstable();
        let mut all = want.clone();
        all.push((6, -libc::ETIME));
        assert_eq!(got, all);
        // In a scope, through `Either`s, a signal pending again.
        raise_pending();
        let got = ring.scope(|s| {
            for op in [
                Nop::new().user_data(1),
                stopper(2),
                Nop::new().user_data(3),
                stopper(4),
                Nop::new().user_data(5),
            ] {
                s.push(Either::<Nop, Timeout>::Left(op)).unwrap();
            }
            assert_eq!(s.submit_and_wait_with(5, &args).unwrap(), 5);
            s.completions()
                .map(|c| (c.user_data(), c.res()))
                .collect::<Vec<_>>()
        });
        assert_eq!(got, want);
        assert_eq!(handled(), 1, "still pending");
        assert_eq!(ring.pending(), 0);
        let r = ring.wait_with(1, &args);
        assert!(is_eintr(&r), "{r:?}");
        assert_eq!(handled(), 2);
    });
}

/// A ring with polled I/O (`IORING_SETUP_IOPOLL`), or `None` with a skip
/// message.
fn iopoll_ring(entries: u32) -> Option<Ring> {
    match Builder::new().iopoll().build(entries) {
        Ok(ring) => Some(ring),
        Err(e) => {
            uring_tests::skip(format_args!("no IOPOLL ring: {e}"));
            None
        }
    }
}

/// On an IOPOLL ring the kernel's wait polls (`io_iopoll_check`) and
/// never installs the wait's signal mask, so a signal the thread blocks
/// outside the wait would never be let through: a masked wait is refused
/// there (`Unsupported`) rather than run on past the signal, and the
/// pending signal stays pending.
#[test]
fn a_masked_wait_on_an_iopoll_ring_is_refused() {
    const NAME: &str = "a_masked_wait_on_an_iopoll_ring_is_refused";
    in_own_process(NAME, "a masked wait on an IOPOLL ring", || {
        install_handler();
        block_signal();
        let Some(mut ring) = iopoll_ring(8) else {
            return;
        };
        if !ext_arg(&ring) {
            return;
        }
        let mask = sig_set(false);
        raise_pending();
        let r = ring.wait_with(
            1,
            &WaitArgs::new()
                .sigmask(&mask)
                .timeout(Duration::from_secs(2)),
        );
        assert!(
            matches!(r, Err(uring::Error::Unsupported(_))) && handled() == 0,
            "{r:?}, the handler ran {} times",
            handled()
        );
    });
}

// ---------------------------------------------------------------------------
// submit_and_get_events and get_events
// ---------------------------------------------------------------------------

/// On a plain ring `submit_and_get_events` returns what the kernel
/// consumed: 0 with nothing pushed (one enter all the same), every SQE
/// pushed, or, when the kernel stops at an SQE it refuses, the SQEs up to
/// and with that one, the rest left queued for the next call; each
/// completion comes once. In a scope as well, with `Either`s.
#[test]
fn submit_and_get_events_counts_what_the_kernel_consumed() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    assert_eq!(ring.submit_and_get_events().unwrap(), 0);
    for i in 0..3 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    assert_eq!(ring.submit_and_get_events().unwrap(), 3);
    assert_eq!(ring.pending(), 0);
    assert_eq!(
        pairs(&ring.completions().collect::<Vec<_>>()),
        [(0, 0), (1, 0), (2, 0)]
    );
    if !stoppers_stop() {
        return;
    }
    ring.push(Nop::new().user_data(10)).unwrap();
    ring.push(stopper(11)).unwrap();
    ring.push(Nop::new().user_data(12)).unwrap();
    ring.push(Nop::new().user_data(13)).unwrap();
    assert_eq!(ring.submit_and_get_events().unwrap(), 2);
    assert_eq!(ring.pending(), 2, "the two after the refused SQE wait");
    assert_eq!(
        pairs(&ring.completions().collect::<Vec<_>>()),
        [(10, 0), (11, -libc::EINVAL)]
    );
    assert_eq!(ring.submit_and_get_events().unwrap(), 2);
    assert_eq!(
        pairs(&ring.completions().collect::<Vec<_>>()),
        [(12, 0), (13, 0)]
    );
    // A fast path after: the count the fast submit relies on is right.
    ring.push(Nop::new().user_data(14)).unwrap();
    assert_eq!(ring.submit_and_wait(1).unwrap(), 1);
    assert_eq!(pairs(&ring.completions().collect::<Vec<_>>()), [(14, 0)]);
    // In a scope.
    let got = ring.scope(|s| {
        assert_eq!(s.submit_and_get_events().unwrap(), 0);
        s.push_linked(Linked::new(vec![
            nop_or_timeout(20, false),
            Either::Left(stopper(21)),
            nop_or_timeout(22, false),
        ]))
        .unwrap();
        s.push(nop_or_timeout(23, false)).unwrap();
        // A refused SQE in a chain fails the chain, and the kernel goes
        // on past it.
        assert_eq!(s.submit_and_get_events().unwrap(), 4);
        let mut got = s
            .completions()
            .map(|c| (c.user_data(), c.res()))
            .collect::<Vec<_>>();
        got.sort_unstable();
        got
    });
    assert_eq!(
        got,
        [
            (20, -libc::ECANCELED),
            (21, -libc::EINVAL),
            (22, -libc::ECANCELED),
            (23, 0)
        ]
    );
    assert!(uring_tests::stray(&mut ring).is_empty());
}

/// On a `defer_taskrun` ring a completion that task work posts (a read
/// that found its data after it was armed) waits until an enter asks for
/// events: `get_events` posts it without submitting, `submit_and_get_events`
/// submits and posts in one enter, counting what it submitted; after it
/// the ring says no task work waits (`taskrun_flag`). On a `coop_taskrun`
/// ring the same calls post what is there. In scopes, over borrowed
/// buffers, through `Either`s.
#[test]
fn get_events_posts_what_deferred_task_work_holds() {
    let _watch = uring_tests::watchdog();
    let defer = Builder::new()
        .single_issuer()
        .defer_taskrun()
        .taskrun_flag()
        .build(8);
    let coop = Builder::new().coop_taskrun().taskrun_flag().build(8);
    let mut rings = Vec::new();
    match defer {
        Ok(ring) => rings.push(("defer_taskrun", ring)),
        Err(e) => uring_tests::skip(format_args!("no defer_taskrun: {e}")),
    }
    match coop {
        Ok(ring) => rings.push(("coop_taskrun", ring)),
        Err(e) => uring_tests::skip(format_args!("no coop_taskrun: {e}")),
    }
    for (what, mut ring) in rings {
        let deferred = what == "defer_taskrun";
        let (mut tx, rx) = UnixStream::pair().unwrap();
        let (mut tx2, rx2) = UnixStream::pair().unwrap();
        let mut a = [CANARY; 8];
        let mut b = [CANARY; 8];
        let got = ring.scope(|s| {
            type ReadOrNop<'a> = Either<Read<'a, uring::Fd<'a>>, Nop>;
            s.push(ReadOrNop::Left(Read::new(&rx, &mut a[..]).user_data(1)))
                .unwrap();
            s.push(ReadOrNop::Left(Read::new(&rx2, &mut b[..]).user_data(2)))
                .unwrap();
            assert_eq!(s.submit().unwrap(), 2);
            tx.write_all(b"one").unwrap();
            if deferred {
                // Nothing runs the task work but an enter that asks.
                std::thread::sleep(Duration::from_millis(5));
                assert_eq!(s.ready(), 0, "{what}: posted without an enter");
            }
            s.get_events().unwrap();
            let mut got: Vec<(u64, i32)> =
                s.completions().map(|c| (c.user_data(), c.res())).collect();
            while got.is_empty() {
                s.wait_timeout(1, uring_tests::PATIENCE).unwrap();
                got.extend(s.completions().map(|c| (c.user_data(), c.res())));
            }
            assert_eq!(got, [(1, 3)], "{what}");
            // A NOP and the second read's data: one enter submits the NOP
            // and posts both.
            tx2.write_all(b"two!").unwrap();
            s.push(ReadOrNop::Right(Nop::new().user_data(3))).unwrap();
            assert_eq!(s.submit_and_get_events().unwrap(), 1, "{what}");
            let mut more: Vec<(u64, i32)> =
                s.completions().map(|c| (c.user_data(), c.res())).collect();
            while more.len() < 2 {
                s.wait_timeout(1, uring_tests::PATIENCE).unwrap();
                more.extend(s.completions().map(|c| (c.user_data(), c.res())));
            }
            more.sort_unstable();
            assert_eq!(more, [(2, 4), (3, 0)], "{what}");
            got.extend(more);
            got
        });
        assert_eq!(got.len(), 3);
        uring_tests::net::assert_kernel_bytes(&a[..3], b"one", "first read");
        uring_tests::net::assert_kernel_bytes(&b[..4], b"two!", "second read");
        assert_eq!(ring.submit_and_get_events().unwrap(), 0);
        assert!(!ring.has_task_work(), "{what}");
        assert_eq!(ring.completions().count(), 0, "{what}");
    }
}

/// On an SQPOLL ring `submit_and_get_events` returns what was pending for
/// the SQ thread: exactly what was pushed when the thread slept (it takes
/// nothing before the wake-up), never more than was pushed; 0 with
/// nothing pushed. Every op completes once.
#[test]
fn submit_and_get_events_on_sqpoll_counts_what_the_thread_had_not_taken() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = uring_tests::sqpoll_ring(8) else {
        return;
    };
    assert_eq!(ring.submit_and_get_events().unwrap(), 0);
    let mut next = 0;
    for round in 0..20u64 {
        if round.is_multiple_of(2) {
            // Let the thread idle (10 ms) and sleep.
            let deadline = Instant::now() + uring_tests::PATIENCE;
            while !ring.sq_needs_wakeup() {
                assert!(Instant::now() < deadline, "the SQ thread never slept");
                std::thread::sleep(Duration::from_millis(5));
            }
            // Past the check the thread makes after it raises the flag.
            std::thread::sleep(Duration::from_millis(5));
        }
        let asleep = ring.sq_needs_wakeup();
        let n = 1 + round % 5;
        let ops: Vec<NopOrTimeout> = (0..n).map(|i| nop_or_timeout(next + i, false)).collect();
        ring.push_linked(Linked::new(ops)).unwrap();
        let counted = ring.submit_and_get_events().unwrap();
        if asleep {
            assert_eq!(u64::from(counted), n, "round {round}: the thread slept");
        } else {
            assert!(u64::from(counted) <= n, "round {round}: {counted} of {n}");
        }
        let got = reap_on(&mut ring, n as usize);
        let want: Vec<(u64, i32)> = (next..next + n).map(|u| (u, 0)).collect();
        assert_eq!(got, want, "round {round}");
        next += n;
    }
    assert_eq!(ring.submit_and_get_events().unwrap(), 0);
    assert_eq!(ring.completions().count(), 0);
}

/// With completions held back in the kernel's overflow list (a CQ of 8
/// given 12), `submit_and_get_events` submits what was pushed (counting
/// it) and posts what was held back: once the CQ is read, the twelve come
/// once each, in order, the new ones after them; nothing is dropped. On a
/// plain and a `defer_taskrun` ring, and in a scope, whose own ops' completions
/// come behind the others'.
#[test]
fn submit_and_get_events_posts_an_overflowed_cq_in_order() {
    let _watch = uring_tests::watchdog();
    let mut rings = vec![("plain", Ring::new(4).unwrap())];
    if let Some(ring) = uring_tests::defer_ring(4) {
        rings.push(("defer_taskrun", ring));
    }
    for (what, mut ring) in rings {
        for batch in 0..3 {
            complete_nops(&mut ring, batch * 4, 4);
        }
        assert!(ring.cq_has_overflow(), "{what}");
        assert_eq!(ring.ready(), 8);
        let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
        assert_eq!(got, (0..8).collect::<Vec<_>>(), "{what}");
        ring.push(Nop::new().user_data(100)).unwrap();
        ring.push(Nop::new().user_data(101)).unwrap();
        assert_eq!(ring.submit_and_get_events().unwrap(), 2, "{what}");
        let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
        assert_eq!(got, [8, 9, 10, 11, 100, 101], "{what}");
        assert!(!ring.cq_has_overflow(), "{what}");
        assert_eq!(ring.overflow(), 0, "{what}: nothing dropped");
        // Overflowed again, then a scope: its NOP's completion comes after
        // the foreign ones, which pass through untouched.
        for batch in 0..3 {
            complete_nops(&mut ring, 200 + batch * 4, 4);
        }
        assert!(ring.cq_has_overflow(), "{what}");
        let got = ring.scope(|s| {
            let mut got: Vec<(u64, bool)> = s
                .completions()
                .map(|c| (c.user_data(), c.is_scope_op()))
                .collect();
            s.push(Either::<Nop, Timeout>::Left(Nop::new().user_data(300)))
                .unwrap();
            assert_eq!(s.submit_and_get_events().unwrap(), 1, "{what}");
            got.extend(s.completions().map(|c| (c.user_data(), c.is_scope_op())));
            if !got.iter().any(|c| c.0 == 300) {
                s.get_events().unwrap();
                got.extend(s.completions().map(|c| (c.user_data(), c.is_scope_op())));
            }
            got
        });
        let mut want: Vec<(u64, bool)> = (200..212).map(|u| (u, false)).collect();
        want.push((300, true));
        assert_eq!(got, want, "{what}");
        assert_eq!(ring.overflow(), 0, "{what}");
        assert!(uring_tests::stray(&mut ring).is_empty(), "{what}");
    }
}

/// On an IOPOLL ring `submit_and_get_events` submits and reaps in one
/// enter: NOPs complete and are counted; an `O_DIRECT` read of a file
/// (polled where the device supports it, `EOPNOTSUPP` otherwise) in a
/// scope completes once, with its data when it ran.
#[test]
fn submit_and_get_events_on_an_iopoll_ring() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = iopoll_ring(8) else {
        return;
    };
    assert_eq!(ring.submit_and_get_events().unwrap(), 0);
    for i in 0..4 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    assert_eq!(ring.submit_and_get_events().unwrap(), 4);
    let got = reap_on(&mut ring, 4);
    assert_eq!(got, [(0, 0), (1, 0), (2, 0), (3, 0)]);
    let dir = uring_tests::test_dir!();
    let path = dir.path().join("iopoll");
    let data = uring_tests::pattern(4096, 11);
    std::fs::write(&path, &data).unwrap();
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(&path)
    {
        Ok(file) => file,
        Err(e) => {
            uring_tests::skip(format_args!("no O_DIRECT file: {e}"));
            return;
        }
    };
    let mut blocks = uring_tests::aligned_blocks(4096);
    let got = ring.scope(|s| {
        let buf = uring_tests::block_bytes(&mut blocks);
        s.push(Either::<_, Nop>::Left(Read::new(&file, buf).user_data(9)))
            .unwrap();
        assert_eq!(s.submit_and_get_events().unwrap(), 1);
        let mut got = Vec::new();
        while got.is_empty() {
            s.wait_timeout(1, uring_tests::PATIENCE).unwrap();
            got.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        got
    });
    assert_eq!(got.len(), 1);
    match got[0] {
        (9, 4096) => uring_tests::net::assert_kernel_bytes(
            uring_tests::block_bytes(&mut blocks),
            &data,
            "the polled read",
        ),
        (9, res) if res == -libc::EOPNOTSUPP => {
            uring_tests::skip("this device does not poll: the read was refused")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(ring.submit_and_get_events().unwrap(), 0);
    assert_eq!(ring.completions().count(), 0);
}
