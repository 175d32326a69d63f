//! More ring-level attacks written in safe code, against what the scope's
//! table, resizing, SQPOLL and single-issuer rings, zero-copy sends,
//! incremental buffer rings, small CQs, restrictions and nested scopes must
//! hold:
//! - ops that name another op by `user_data` (cancels with each flag
//!   combination, timeout and poll removals and updates), named by raw tags
//!   read from `/proc/self/fdinfo`, by `user_data` shared by several ops, by
//!   ops that completed, and by the tags of an earlier scope, settle each op
//!   exactly once and leave the table able to take as many ops as the CQ
//!   has entries;
//! - a scope never returns while the kernel may still write into what it
//!   lent: canaries left in borrowed buffers are unchanged after the scope,
//!   even when data arrives late;
//! - bad input (a ring moved to another thread, a resize the kernel cannot
//!   make, ops the restrictions forbid) gives an error value, never a panic.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use uring::ops::{
    Cancel, Nop, PollAdd, PollRemove, PollUpdate, Read, Recv, SendZc, Timeout, TimeoutRemove,
    TimeoutUpdate, Write,
};
use uring::{
    BufferGroup, CancelFlags, Cqe, MsgFlags, PollEvents, PollFlags, PushErrorKind, RecvFlags,
    Restriction, Ring, TimeoutFlags,
};
use uring_tests::PATIENCE;

/// With `tag_all`, pushes a NOP outside any scope and reaps it: every
/// later scope of the ring then tags every op.
fn tag_every_op_if(ring: &mut Ring, tag_all: bool) {
    if tag_all {
        ring.push(Nop::new()).unwrap();
        uring_tests::reap_one(ring);
    }
}

/// Submits, waits for `n` completions and returns the `user_data` of the
/// completions waiting in the CQ as fdinfo shows them (raw tags, for the
/// scope's tagged ops), before the scope reads them.
fn raw_tags_of_waiting_completions(s: &mut uring::Scope<'_, '_>, fd: i32, n: u32) -> Vec<u64> {
    s.submit().unwrap();
    let deadline = Instant::now() + PATIENCE;
    while s.ready() < n {
        assert!(
            Instant::now() < deadline,
            "{} of {n} completions",
            s.ready()
        );
        let _ = s.wait_timeout(n, Duration::from_millis(20));
    }
    uring_tests::fdinfo_user_data(fd)
}

/// Reads completions in the scope until one with `user_data` that is its
/// op's last has come, within [`PATIENCE`]; returns all read meanwhile.
fn reap_until(s: &mut uring::Scope<'_, '_>, seen: &mut Vec<Cqe>, done: impl Fn(&[Cqe]) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done(seen) {
        assert!(Instant::now() < deadline, "no end in sight: {seen:?}");
        // An SQE the kernel refuses ends its batch: submit the rest.
        s.submit().unwrap();
        let _ = s.wait_timeout(1, Duration::from_millis(50));
        seen.extend(s.completions().map(|c| c.cqe()));
    }
}

/// Whether `seen` holds the last completion (no `IORING_CQE_F_MORE`) of
/// each of `user_data`.
fn all_last(seen: &[Cqe], user_data: &[u64]) -> bool {
    user_data
        .iter()
        .all(|&ud| seen.iter().any(|c| c.user_data() == ud && !c.has_more()))
}

/// How many last completions (no `IORING_CQE_F_MORE`, no notification)
/// carry `user_data`.
fn last_count(seen: &[Cqe], user_data: u64) -> usize {
    seen.iter()
        .filter(|c| c.user_data() == user_data && !c.has_more() && !c.is_notification())
        .count()
}

/// Fills the scope with polls that stay in flight on `idle` and checks it
/// takes exactly as many as it has room for: the table is consistent.
fn scope_takes_its_capacity<'s>(s: &mut uring::Scope<'s, '_>, idle: &'s UnixStream, cap: u32) {
    let mut pushed = 0;
    loop {
        if s.space_left() == 0 {
            s.submit().unwrap();
        }
        match s.push(PollAdd::new(idle, PollEvents::IN).user_data((1 << 63) | (900 + pushed))) {
            Ok(()) => pushed += 1,
            Err(e) => {
                assert_eq!(e.kind(), PushErrorKind::ScopeFull, "after {pushed} pushes");
                break;
            }
        }
        assert!(
            pushed <= u64::from(cap),
            "more ops than CQ entries in flight"
        );
    }
    assert_eq!(s.in_flight(), cap, "the scope is full at its capacity");
    s.submit().unwrap();
}

/// Cancels with each flag combination, naming reads by the caller's
/// `user_data` (shared by two reads), by the raw tag fdinfo shows, and by
/// the `user_data` of an op that already completed: each read posts one
/// last completion, the scope's count of ops in flight follows, and nothing
/// writes into the lent buffers after the scope.
#[test]
fn cancels_with_every_flag_combination_settle_each_op_once() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        for flags in [
            CancelFlags::empty(),
            CancelFlags::ALL,
            CancelFlags::ANY,
            CancelFlags::ANY | CancelFlags::ALL,
        ] {
            let mut ring = Ring::new(8).unwrap();
            tag_every_op_if(&mut ring, tag_all);
            let fd = ring.as_raw_fd();
            let cap = ring.cq_entries();
            let mut pairs: Vec<(UnixStream, UnixStream)> =
                (0..2).map(|_| UnixStream::pair().unwrap()).collect();
            let (_idle_tx, idle) = UnixStream::pair().unwrap();
            let (mut ready_tx, ready) = UnixStream::pair().unwrap();
            ready_tx.write_all(b"!").unwrap();
            let mut bufs = [[0xa5u8; 8]; 2];
            {
                let [b0, b1] = &mut bufs;
                let rx: Vec<&UnixStream> = pairs.iter().map(|p| &p.1).collect();
                ring.scope(|s| {
                    // A NOP with user_data 7 completes first.
                    s.push(Nop::new().user_data(7)).unwrap();
                    s.submit_and_wait(1).unwrap();
                    assert_eq!(s.completions().count(), 1);
                    // Two reads share user_data 7 (untagged in a fast scope),
                    // two multishot polls a tag-shaped one; the polls post at
                    // once, and fdinfo shows their raw tags.
                    let tagged = 1 << 63 | 7;
                    s.push(Read::new(rx[0], &mut b0[..]).user_data(7)).unwrap();
                    s.push(Read::new(rx[1], &mut b1[..]).user_data(7)).unwrap();
                    s.push(
                        PollAdd::new(&ready, PollEvents::IN)
                            .poll_flags(PollFlags::MULTI)
                            .user_data(tagged),
                    )
                    .unwrap();
                    s.push(
                        PollAdd::new(&ready, PollEvents::IN)
                            .poll_flags(PollFlags::MULTI)
                            .user_data(tagged),
                    )
                    .unwrap();
                    let raw = raw_tags_of_waiting_completions(s, fd, 2);
                    assert_eq!(raw.len(), 2, "fdinfo shows the polls' completions");
                    assert!(!raw.contains(&tagged), "the kernel sees tags");
                    let mut seen: Vec<Cqe> = s.completions().map(|c| c.cqe()).collect();
                    assert_eq!(s.in_flight(), 4);
                    // Cancels named three ways; each completes once.
                    s.push(Cancel::new(7).cancel_flags(flags).user_data(100))
                        .unwrap();
                    s.push(Cancel::new(tagged).cancel_flags(flags).user_data(101))
                        .unwrap();
                    for (i, &r) in raw.iter().enumerate() {
                        s.push(Cancel::new(r).cancel_flags(flags).user_data(102 + i as u64))
                            .unwrap();
                    }
                    s.submit().unwrap();
                    let cancels: Vec<u64> = (100..102 + raw.len() as u64).collect();
                    reap_until(s, &mut seen, |seen| all_last(seen, &cancels));
                    // What is still in flight is left to the scope's end.
                    std::thread::sleep(Duration::from_millis(20));
                    seen.extend(s.completions().map(|c| c.cqe()));
                    let left = s.in_flight();
                    let ended = last_count(&seen, 7) + last_count(&seen, tagged);
                    assert_eq!(
                        left as usize + ended,
                        4,
                        "{flags:?} tag_all={tag_all}: {seen:?}"
                    );
                    for c in &seen {
                        assert!(c.user_data() < 200 || c.user_data() == tagged, "{c:?}");
                    }
                    scope_takes_its_capacity(s, &idle, cap);
                });
            }
            let mut writers: Vec<&mut UnixStream> = pairs.iter_mut().map(|p| &mut p.0).collect();
            // What the reads took before the scope ended is theirs; from now
            // on nothing may change.
            let snapshot = bufs;
            uring_tests::assert_nothing_writes_after(
                &mut writers,
                &snapshot.iter().map(|b| &b[..]).collect::<Vec<_>>(),
                0xa5,
            );
            assert_eq!(bufs, snapshot);
            ring.push(Nop::new().user_data(5)).unwrap();
            assert_eq!(uring_tests::reap_one(&mut ring).user_data(), 5);
        }
    }
}

/// Timeout removals and updates name a multishot timeout and a plain one
/// by their raw tags, by a shared `user_data`, and by the `user_data` of
/// one that already fired: each timeout posts exactly one last completion
/// and the table is whole afterwards.
#[test]
fn timeout_removals_and_updates_by_raw_tag_settle_each_timeout_once() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = Ring::new(8).unwrap();
        tag_every_op_if(&mut ring, tag_all);
        let fd = ring.as_raw_fd();
        let cap = ring.cq_entries();
        let (_idle_tx, idle) = UnixStream::pair().unwrap();
        ring.scope(|s| {
            let fired = 1 << 63 | 1;
            s.push(Timeout::new(Duration::from_millis(1)).user_data(fired))
                .unwrap();
            s.submit_and_wait(1).unwrap();
            assert_eq!(s.completions().count(), 1);
            let multi = 1 << 63 | 2;
            let plain = 1 << 63 | 3;
            // A multishot timeout firing every millisecond: fdinfo shows its
            // raw tag in the completions it leaves waiting.
            s.push(
                Timeout::new(Duration::from_millis(1))
                    .timeout_flags(TimeoutFlags::MULTISHOT)
                    .user_data(multi),
            )
            .unwrap();
            let raw = raw_tags_of_waiting_completions(s, fd, 1);
            assert!(!raw.is_empty() && !raw.contains(&multi), "{raw:?}");
            let mut seen: Vec<Cqe> = s.completions().map(|c| c.cqe()).collect();
            s.push(Timeout::new(Duration::from_secs(30)).user_data(plain))
                .unwrap();
            s.push(Timeout::new(Duration::from_secs(30)).user_data(plain))
                .unwrap();
            // The multishot timeout, by its raw tag: fire every 2 ms.
            s.push(TimeoutUpdate::new(raw[0], Duration::from_millis(2)).user_data(10))
                .unwrap();
            // One that fired: nothing to find.
            s.push(TimeoutRemove::new(fired).user_data(11)).unwrap();
            s.push(TimeoutUpdate::new(fired, Duration::from_millis(1)).user_data(12))
                .unwrap();
            s.submit().unwrap();
            reap_until(s, &mut seen, |seen| {
                all_last(seen, &[10, 11, 12])
                    && seen.iter().filter(|c| c.user_data() == multi).count() >= 3
            });
            let res = |seen: &[Cqe], ud| seen.iter().find(|c| c.user_data() == ud).map(|c| c.res());
            assert_eq!(res(&seen, 10), Some(0), "{seen:?}");
            assert_eq!(res(&seen, 11), Some(-libc::ENOENT), "{seen:?}");
            assert_eq!(res(&seen, 12), Some(-libc::ENOENT), "{seen:?}");
            // Remove the multishot one by raw tag, the plain ones by the
            // user_data they share (the first, then the second).
            s.push(TimeoutRemove::new(raw[0]).user_data(13)).unwrap();
            s.push(TimeoutRemove::new(plain).user_data(14)).unwrap();
            s.submit().unwrap();
            reap_until(s, &mut seen, |seen| all_last(seen, &[13, 14]));
            s.push(TimeoutRemove::new(plain).user_data(15)).unwrap();
            s.submit().unwrap();
            reap_until(s, &mut seen, |seen| {
                all_last(seen, &[13, 14, 15, multi]) && last_count(seen, plain) == 2
            });
            assert_eq!(last_count(&seen, multi), 1, "{seen:?}");
            assert_eq!(s.in_flight(), 0, "{seen:?}");
            scope_takes_its_capacity(s, &idle, cap);
        });
        ring.push(Nop::new().user_data(5)).unwrap();
        assert_eq!(uring_tests::reap_one(&mut ring).user_data(), 5);
    }
}

/// Poll removals and updates name polls by a `user_data` two polls share,
/// by raw tags (with and without a new `user_data`, plain or tag-shaped),
/// and by a poll that already completed: every poll posts exactly one last
/// completion, under the `user_data` the scope says it has, and the table
/// takes its whole capacity afterwards.
#[test]
fn poll_removals_and_updates_by_shared_and_raw_user_data_keep_the_table_whole() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = Ring::new(8).unwrap();
        tag_every_op_if(&mut ring, tag_all);
        let fd = ring.as_raw_fd();
        let cap = ring.cq_entries();
        let (tx, rx) = UnixStream::pair().unwrap();
        (&tx).write_all(b"!").unwrap();
        let (_idle_tx, idle) = UnixStream::pair().unwrap();
        ring.scope(|s| {
            let done = 1 << 63 | 1;
            s.push(PollAdd::new(&idle, PollEvents::OUT).user_data(done))
                .unwrap();
            s.submit_and_wait(1).unwrap();
            assert_eq!(s.completions().count(), 1);
            let shared = 1 << 63 | 2;
            s.push(
                PollAdd::new(&rx, PollEvents::IN)
                    .poll_flags(PollFlags::MULTI)
                    .user_data(shared),
            )
            .unwrap();
            s.push(
                PollAdd::new(&rx, PollEvents::IN)
                    .poll_flags(PollFlags::MULTI)
                    .user_data(shared),
            )
            .unwrap();
            // Both fire at once (data is waiting): fdinfo shows their tags.
            let raw = raw_tags_of_waiting_completions(s, fd, 2);
            assert_eq!(raw.len(), 2, "{raw:?}");
            assert!(!raw.contains(&shared));
            let mut seen: Vec<Cqe> = s.completions().map(|c| c.cqe()).collect();
            s.push(PollAdd::new(&idle, PollEvents::IN).user_data(40))
                .unwrap();
            // A completed poll: nothing to find, renamed or not.
            s.push(PollRemove::new(done).user_data(10)).unwrap();
            s.push(PollUpdate::new(done).new_user_data(77u64).user_data(11))
                .unwrap();
            // By raw tag, new events only: allowed.
            s.push(
                PollUpdate::new(raw[1])
                    .events(PollEvents::IN)
                    .poll_flags(PollFlags::MULTI)
                    .user_data(12),
            )
            .unwrap();
            // By raw tag, renamed to a plain or a tag-shaped value: refused.
            s.push(PollUpdate::new(raw[0]).new_user_data(78u64).user_data(13))
                .unwrap();
            s.push(
                PollUpdate::new(raw[1])
                    .new_user_data(1u64 << 63 | 79)
                    .user_data(14),
            )
            .unwrap();
            // By the shared user_data, renamed: the first poll pushed with it.
            s.push(
                PollUpdate::new(shared)
                    .new_user_data(1u64 << 63 | 80)
                    .user_data(15),
            )
            .unwrap();
            s.submit().unwrap();
            reap_until(s, &mut seen, |seen| {
                all_last(seen, &[10, 11, 12, 13, 14, 15])
            });
            let res = |seen: &[Cqe], ud| seen.iter().find(|c| c.user_data() == ud).map(|c| c.res());
            assert_eq!(res(&seen, 10), Some(-libc::ENOENT), "{seen:?}");
            // Renaming a poll the scope no longer knows, named by a
            // tag-shaped value: refused before the kernel looks.
            assert_eq!(res(&seen, 11), Some(-libc::EINVAL), "{seen:?}");
            assert_eq!(res(&seen, 12), Some(0), "{seen:?}");
            assert_eq!(res(&seen, 13), Some(-libc::EINVAL), "{seen:?}");
            assert_eq!(res(&seen, 14), Some(-libc::EINVAL), "{seen:?}");
            assert_eq!(res(&seen, 15), Some(0), "{seen:?}");
            // Data: both multishot polls fire, one under its new name.
            (&tx).write_all(b"x").unwrap();
            reap_until(s, &mut seen, |seen| {
                seen.iter().any(|c| c.user_data() == 1 << 63 | 80)
                    && seen.iter().any(|c| c.user_data() == shared && c.res() > 0)
            });
            // Remove each by what the scope says it is now called.
            s.push(PollRemove::new(1 << 63 | 80).user_data(16)).unwrap();
            s.push(PollRemove::new(shared).user_data(17)).unwrap();
            s.push(PollRemove::new(40).user_data(18)).unwrap();
            s.submit().unwrap();
            reap_until(s, &mut seen, |seen| {
                all_last(seen, &[16, 17, 18, 40, 1 << 63 | 80, shared])
            });
            for ud in [16, 17, 18] {
                assert_eq!(res(&seen, ud), Some(0), "{ud}: {seen:?}");
            }
            assert_eq!(last_count(&seen, shared), 1, "{seen:?}");
            assert_eq!(last_count(&seen, 1 << 63 | 80), 1, "{seen:?}");
            assert_eq!(last_count(&seen, 40), 1, "{seen:?}");
            for bogus in [77, 78, 1 << 63 | 79] {
                assert!(!seen.iter().any(|c| c.user_data() == bogus), "{seen:?}");
            }
            assert_eq!(s.in_flight(), 0, "{seen:?}");
            scope_takes_its_capacity(s, &idle, cap);
        });
        ring.push(Nop::new().user_data(5)).unwrap();
        assert_eq!(uring_tests::reap_one(&mut ring).user_data(), 5);
    }
}

/// The tags of one scope name nothing in the next scope of the same ring:
/// cancels, removals and renames aimed at them find nothing, and the next
/// scope's read keeps its buffer until its own data arrives.
#[test]
fn the_tags_of_an_earlier_scope_name_nothing_in_the_next() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = Ring::new(8).unwrap();
        tag_every_op_if(&mut ring, tag_all);
        let fd = ring.as_raw_fd();
        let (mut tx0, rx0) = UnixStream::pair().unwrap();
        tx0.write_all(b"!").unwrap();
        let old = ring.scope(|s| {
            for i in 0..4 {
                s.push(
                    PollAdd::new(&rx0, PollEvents::IN)
                        .poll_flags(PollFlags::MULTI)
                        .user_data(1 << 63 | i),
                )
                .unwrap();
            }
            raw_tags_of_waiting_completions(s, fd, 4)
        });
        assert_eq!(old.len(), 4);
        let (mut tx, rx) = UnixStream::pair().unwrap();
        let mut buf = [0xa5u8; 16];
        let seen = ring.scope(|s| {
            s.push(Read::new(&rx, &mut buf[..]).user_data(1 << 63 | 50))
                .unwrap();
            s.push(PollAdd::new(&rx, PollEvents::IN).user_data(1 << 63 | 51))
                .unwrap();
            s.submit().unwrap();
            let mut ud = 60;
            for &t in &old {
                for flags in [CancelFlags::empty(), CancelFlags::ALL] {
                    s.push(Cancel::new(t).cancel_flags(flags).user_data(ud))
                        .unwrap();
                    ud += 1;
                }
                s.push(TimeoutRemove::new(t).user_data(ud)).unwrap();
                s.push(PollRemove::new(t).user_data(ud + 1)).unwrap();
                s.push(PollUpdate::new(t).new_user_data(5u64).user_data(ud + 2))
                    .unwrap();
                ud += 3;
                s.submit().unwrap();
                let mut seen = Vec::new();
                reap_until(s, &mut seen, |seen| seen.len() >= 5);
                for c in &seen {
                    // Cancels flagged ALL count what they cancelled: none.
                    assert!(c.res() <= 0, "a stale tag named something: {c:?}");
                }
            }
            assert_eq!(s.in_flight(), 2);
            tx.write_all(b"fresh").unwrap();
            let mut seen = Vec::new();
            reap_until(s, &mut seen, |seen| {
                all_last(seen, &[1 << 63 | 50, 1 << 63 | 51])
            });
            seen
        });
        let read = seen.iter().find(|c| c.user_data() == 1 << 63 | 50).unwrap();
        assert_eq!(read.res(), 5);
        assert_eq!(&buf[..5], b"fresh");
    }
}

/// A ring resized between scopes: completions left in the CQ by ops pushed
/// outside scopes come through the next scope in order, the next scope
/// takes as many ops as the new CQ has entries (and no more), and a read of
/// a scope after a shrink and a grow keeps its buffer until its data comes.
#[test]
fn a_ring_resized_between_scopes_keeps_its_completions_and_its_scope_capacity() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = uring_tests::resizable_ring(8) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let (_idle_tx, idle) = UnixStream::pair().unwrap();
    let mut buf = [0xa5u8; 8];
    ring.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
        s.submit().unwrap();
        tx.write_all(b"one").unwrap();
        let mut seen = Vec::new();
        reap_until(s, &mut seen, |seen| all_last(seen, &[1]));
    });
    for i in 0..3 {
        ring.push(Nop::new().user_data(10 + i)).unwrap();
    }
    ring.submit_and_wait(3).unwrap();
    for (sq, cq) in [(4, 4), (2, 4), (16, 64), (8, 8)] {
        if let Err(e) = ring.resize(sq, cq) {
            uring_tests::skip(format_args!("the kernel does not resize rings: {e}"));
            return;
        }
        assert_eq!(ring.ready(), 3, "resized to {sq}/{cq}");
    }
    // Too small a CQ for the completions waiting: an error, and the ring
    // is as it was.
    let err = ring.resize(1, 2);
    assert!(err.is_err(), "a CQ of 2 cannot keep 3 completions");
    assert_eq!(ring.ready(), 3);
    let cap = ring.cq_entries();
    let mut buf2 = [0xa5u8; 8];
    let passed = ring.scope(|s| {
        let passed: Vec<u64> = s
            .completions()
            .filter(|c| !c.is_scope_op())
            .map(|c| c.user_data())
            .collect();
        s.push(Read::new(&rx, &mut buf2[..]).user_data(2)).unwrap();
        s.submit().unwrap();
        scope_takes_its_capacity(s, &idle, cap);
        passed
    });
    assert_eq!(passed, [10, 11, 12]);
    uring_tests::assert_nothing_writes_after(&mut [&mut tx], &[&buf2[..]], 0xa5);
    assert_eq!(&buf[..3], b"one");
    ring.push(Nop::new().user_data(5)).unwrap();
    assert_eq!(uring_tests::reap_one(&mut ring).user_data(), 5);
}

/// Resizing a ring with a registered wait region keeps the region: waits
/// by slot still end as the slot says. A resize of an SQPOLL ring, or one
/// without deferred task work, is an error value.
#[test]
fn resizes_the_kernel_cannot_make_are_errors_and_wait_regions_survive_them() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(6, 13, "resizing a ring, wait regions") {
        return;
    }
    let mut plain = Ring::new(4).unwrap();
    assert!(plain.resize(8, 16).is_err(), "without deferred task work");
    plain.push(Nop::new().user_data(1)).unwrap();
    assert_eq!(uring_tests::reap_one(&mut plain).user_data(), 1);
    if uring_tests::require_sqpoll()
        && let Ok(mut sq) = Ring::builder().sqpoll(Duration::from_millis(10)).build(4)
    {
        assert!(sq.resize(8, 16).is_err(), "an SQPOLL ring");
        sq.push(Nop::new().user_data(2)).unwrap();
        assert_eq!(uring_tests::reap_one(&mut sq).user_data(), 2);
    }
    let mut ring = match Ring::builder()
        .single_issuer()
        .defer_taskrun()
        .r_disabled()
        .build(4)
    {
        Ok(ring) => ring,
        Err(e) => return uring_tests::skip(format_args!("no deferred task work: {e}")),
    };
    if let Err(e) = ring.register_wait_region(4) {
        return uring_tests::skip(format_args!("no wait regions: {e}"));
    }
    ring.enable().unwrap();
    ring.set_registered_wait(1, Some(Duration::from_millis(20)), None)
        .unwrap();
    for (sq, cq) in [(8, 16), (2, 4)] {
        ring.resize(sq, cq).unwrap();
        let t = Instant::now();
        let r = ring.wait_registered(1, 1);
        assert!(r.is_err(), "nothing to wait for: {r:?}");
        assert!(
            t.elapsed() >= Duration::from_millis(15),
            "{:?}",
            t.elapsed()
        );
        ring.push(Nop::new().user_data(3)).unwrap();
        ring.submit_and_wait_registered(1, 1).unwrap();
        assert_eq!(ring.completions().next().map(|c| c.user_data()), Some(3));
    }
}

/// An SQPOLL scope that returns with SQEs its thread has not consumed (not
/// submitted, or published to a thread gone to sleep), over borrowed and
/// owned buffers: the scope waits for the thread to take them and for the
/// ops to end, so nothing writes into the borrowed buffer after it.
#[test]
fn an_sqpoll_scope_waits_for_sqes_its_thread_has_not_consumed() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_sqpoll() {
        return;
    }
    for idle in [Duration::from_millis(1), Duration::from_secs(2)] {
        let Ok(mut ring) = Ring::builder().sqpoll(idle).build(8) else {
            uring_tests::skip("no SQPOLL ring");
            return;
        };
        for submit in [false, true] {
            let (mut tx, rx) = UnixStream::pair().unwrap();
            let (mut tx2, rx2) = UnixStream::pair().unwrap();
            let mut buf = [0xa5u8; 16];
            ring.scope(|s| {
                // Let an idle thread fall asleep first.
                std::thread::sleep(Duration::from_millis(20));
                s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
                s.push_owned(vec![0xa5; 64], |b, sq| {
                    sq.push(Read::new(&rx2, b).user_data(2))
                })
                .unwrap();
                s.push(Timeout::new(Duration::from_secs(30)).user_data(3))
                    .unwrap();
                if submit {
                    s.submit().unwrap();
                }
            });
            uring_tests::assert_nothing_writes_after(&mut [&mut tx, &mut tx2], &[&buf[..]], 0xa5);
        }
        ring.push(Nop::new().user_data(5)).unwrap();
        assert_eq!(uring_tests::reap_one(&mut ring).user_data(), 5);
    }
}

/// A ring that takes submissions from one thread only, moved to another:
/// pushes there are refused by the kernel with an error value, the scope
/// that pushed them ends (they are taken back), and nothing writes into its
/// buffer; moved back, the ring works.
#[test]
fn a_single_issuer_ring_moved_to_another_thread_reports_errors() {
    let _watch = uring_tests::watchdog();
    for defer in [false, true] {
        let builder = if defer {
            Ring::builder().single_issuer().defer_taskrun()
        } else {
            Ring::builder().single_issuer()
        };
        let Ok(mut ring) = builder.build(8) else {
            uring_tests::skip("no single-issuer rings");
            return;
        };
        ring.push(Nop::new().user_data(1)).unwrap();
        assert_eq!(uring_tests::reap_one(&mut ring).user_data(), 1);
        let (mut tx, rx) = UnixStream::pair().unwrap();
        let (ring, buf, submitted, plain) = std::thread::spawn(move || {
            let mut ring = ring;
            let mut buf = [0xa5u8; 16];
            let submitted = ring.scope(|s| {
                s.push(Read::new(&rx, &mut buf[..]).user_data(2)).unwrap();
                s.submit()
            });
            ring.push(Nop::new().user_data(3)).unwrap();
            let plain = ring.submit_and_wait(1);
            (
                ring,
                buf,
                submitted.map_err(|e| e.to_string()),
                plain.map_err(|e| e.to_string()),
            )
        })
        .join()
        .expect("no panic on the other thread");
        assert!(
            submitted.is_err(),
            "a submit from another thread: {submitted:?}"
        );
        assert!(
            plain.is_err(),
            "a plain submit from another thread: {plain:?}"
        );
        uring_tests::assert_nothing_writes_after(&mut [&mut tx], &[&buf[..]], 0xa5);
        let mut ring = ring;
        // The NOP pushed on the other thread is still pending: it goes now.
        let cqes = uring_tests::submit_and_reap(&mut ring, 1);
        assert_eq!(cqes[0].user_data(), 3);
    }
}

/// A scope on its ring's thread lends itself to another thread, which
/// waits there: an error value for a ring that runs its task work on the
/// submitting thread only, and the scope still ends only after its read.
#[test]
fn a_scope_used_from_another_thread_gets_errors_and_still_waits() {
    let _watch = uring_tests::watchdog();
    let Ok(mut ring) = Ring::builder().single_issuer().defer_taskrun().build(8) else {
        uring_tests::skip("no deferred task work");
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let mut buf = [0xa5u8; 16];
    let got = ring.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
        s.submit().unwrap();
        let there = std::thread::scope(|t| {
            t.spawn(|| {
                let waited = s.wait_timeout(1, Duration::from_millis(20));
                let pushed = s.push(Nop::new().user_data(2)).is_ok();
                let submitted = s.submit();
                (waited.is_ok(), pushed, submitted.is_ok())
            })
            .join()
            .expect("no panic on the other thread")
        });
        assert!(!there.0, "a wait from another thread of a deferred ring");
        tx.write_all(b"data").unwrap();
        let mut seen = Vec::new();
        reap_until(s, &mut seen, |seen| {
            all_last(seen, &[1]) && (!there.1 || all_last(seen, &[2]))
        });
        seen
    });
    let read = got.iter().find(|c| c.user_data() == 1).unwrap();
    assert_eq!(read.res(), 4, "{got:?}");
    assert_eq!(&buf[..4], b"data");
}

/// A zero-copy send blocked half way (the peer reads nothing yet) and
/// cancelled: the scope keeps its buffer until the kernel's notification,
/// so bytes written into the buffer after the scope never reach the peer.
#[test]
fn a_zero_copy_send_cancelled_half_way_keeps_its_buffer_until_the_notification() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !uring_tests::require_op::<SendZc<'_>>(&ring) {
        return;
    }
    for link_timeout in [false, true] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let data = uring_tests::pattern(16 << 20, 9);
        let mut buf = data.clone();
        let reader = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(400));
            let mut got = Vec::new();
            server.read_to_end(&mut got).unwrap();
            got
        });
        let t = Instant::now();
        let seen = ring.scope(|s| {
            let send = SendZc::new(&client, &buf[..])
                .msg_flags(MsgFlags::WAITALL)
                .user_data(1);
            if link_timeout {
                s.push(send.timeout_with(Duration::from_millis(100), 2))
                    .unwrap();
            } else {
                s.push(send).unwrap();
            }
            s.submit().unwrap();
            let mut seen = Vec::new();
            if !link_timeout {
                std::thread::sleep(Duration::from_millis(100));
                s.push(Cancel::new(1).user_data(3)).unwrap();
                s.submit().unwrap();
            }
            reap_until(s, &mut seen, |seen| {
                seen.iter()
                    .any(|c| c.user_data() == 1 && (c.is_notification() || !c.has_more()))
            });
            seen
        });
        let returned_after = t.elapsed();
        // Ours again: anything the kernel still sent from it shows.
        buf.fill(0xee);
        drop(client);
        let got = reader.join().unwrap();
        assert!(
            !got.is_empty() && got.len() < data.len(),
            "a partial send: {} bytes",
            got.len()
        );
        let first_bad = got.iter().zip(&data).position(|(a, b)| a != b);
        assert_eq!(
            first_bad, None,
            "the peer got bytes written after the scope returned ({returned_after:?}): {seen:?}"
        );
    }
}

/// A CQ of four entries overflowing inside a scope (a multishot poll fires
/// fifty times while nothing is read): the poll's completions are all
/// delivered or it ends with one last completion, a read pushed beside it
/// completes exactly once, and the scope ends with nothing in flight.
#[test]
fn a_tiny_cq_overflowing_inside_a_scope_loses_and_duplicates_nothing() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = Ring::builder().cq_entries(4).build(2).unwrap();
        tag_every_op_if(&mut ring, tag_all);
        assert_eq!(ring.cq_entries(), 4);
        let (mut tx, rx) = UnixStream::pair().unwrap();
        let (mut tx2, rx2) = UnixStream::pair().unwrap();
        let mut buf = [0xa5u8; 8];
        let seen = ring.scope(|s| {
            s.push(
                PollAdd::new(&rx, PollEvents::IN)
                    .poll_flags(PollFlags::MULTI)
                    .user_data(1),
            )
            .unwrap();
            s.push(Read::new(&rx2, &mut buf[..]).user_data(2)).unwrap();
            s.submit().unwrap();
            for _ in 0..50 {
                tx.write_all(b"x").unwrap();
                // Let the poll fire for each byte.
                std::thread::sleep(Duration::from_micros(200));
            }
            tx2.write_all(b"read").unwrap();
            let mut seen = Vec::new();
            reap_until(s, &mut seen, |seen| {
                all_last(seen, &[2]) && seen.iter().filter(|c| c.user_data() == 1).count() >= 3
            });
            // End the poll, if the overflow did not.
            if !all_last(&seen, &[1]) {
                s.cancel(1).unwrap();
                s.submit().unwrap();
                reap_until(s, &mut seen, |seen| all_last(seen, &[1]));
            }
            assert_eq!(s.in_flight(), 0, "{seen:?}");
            seen
        });
        assert_eq!(last_count(&seen, 1), 1, "{seen:?}");
        assert_eq!(last_count(&seen, 2), 1, "{seen:?}");
        for c in &seen {
            assert!(c.user_data() == 1 || c.user_data() == 2, "{c:?}");
        }
        assert_eq!(&buf[..4], b"read");
        assert_eq!(ring.ready(), 0);
        ring.push(Nop::new().user_data(5)).unwrap();
        assert_eq!(uring_tests::reap_one(&mut ring).user_data(), 5);
    }
}

/// A panic inside a scope of one ring, itself inside a scope of another:
/// both scopes wait for their reads before the panic leaves them, and
/// nothing writes into either buffer afterwards.
#[test]
fn a_panic_in_a_scope_inside_another_ring_s_scope_waits_for_both() {
    let _watch = uring_tests::watchdog();
    let mut a = Ring::new(4).unwrap();
    let mut b = Ring::builder()
        .single_issuer()
        .defer_taskrun()
        .build(4)
        .unwrap_or_else(|_| Ring::new(4).unwrap());
    let (mut tx1, rx1) = UnixStream::pair().unwrap();
    let (mut tx2, rx2) = UnixStream::pair().unwrap();
    let mut buf1 = [0xa5u8; 8];
    let mut buf2 = [0xa5u8; 8];
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        a.scope(|sa| {
            sa.push(Read::new(&rx1, &mut buf1[..]).user_data(1))
                .unwrap();
            sa.submit().unwrap();
            b.scope(|sb| {
                sb.push(Read::new(&rx2, &mut buf2[..]).user_data(2))
                    .unwrap();
                sb.push_owned(vec![0; 8], |v, sq| sq.push(Read::new(&rx2, v).user_data(3)))
                    .unwrap();
                sb.submit().unwrap();
                sa.push(Read::new(&rx2, &mut [0u8; 0][..]).user_data(4))
                    .ok();
                panic!("a panic with reads in flight on two rings");
            })
        })
    }));
    assert!(outcome.is_err());
    uring_tests::assert_nothing_writes_after(
        &mut [&mut tx1, &mut tx2],
        &[&buf1[..], &buf2[..]],
        0xa5,
    );
    for ring in [&mut a, &mut b] {
        ring.push(Nop::new().user_data(5)).unwrap();
        assert_eq!(uring_tests::reap_one(ring).user_data(), 5);
    }
}

/// A ring whose restrictions forbid cancels (and every registration) runs
/// a scope whose read waits for input: the scope cannot cancel it, so it
/// returns only once the read has its data, and ops the restrictions
/// forbid, alone or in a chain, complete once each with `EACCES`.
#[test]
fn restrictions_that_forbid_cancels_keep_a_scope_until_its_read_ends() {
    let _watch = uring_tests::watchdog();
    for submit_all in [false, true] {
        let builder = if submit_all {
            Ring::builder().r_disabled().submit_all()
        } else {
            Ring::builder().r_disabled()
        };
        let mut ring = builder.build(8).unwrap();
        ring.register_restrictions(&[Restriction::op::<Read<'_>>(), Restriction::op::<Nop>()])
            .unwrap();
        ring.enable().unwrap();
        let (mut tx, rx) = UnixStream::pair().unwrap();
        let (_tx2, rx2) = UnixStream::pair().unwrap();
        let mut buf = [0xa5u8; 8];
        let mut other = [0xa5u8; 8];
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            tx.write_all(b"late").unwrap();
            tx
        });
        let t = Instant::now();
        let seen = ring.scope(|s| {
            s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
            s.push(
                Nop::new()
                    .user_data(2)
                    .link(Write::new(&rx2, b"forbidden").user_data(3))
                    .link(Read::new(&rx2, &mut other[..]).user_data(4)),
            )
            .unwrap();
            s.push(Write::new(&rx2, b"forbidden").user_data(5)).unwrap();
            s.push(Nop::new().user_data(6)).unwrap();
            s.submit().unwrap();
            let mut seen = Vec::new();
            reap_until(s, &mut seen, |seen| all_last(seen, &[2, 3, 4, 5, 6]));
            seen
        });
        let waited = t.elapsed();
        let mut tx = writer.join().unwrap();
        assert!(
            waited >= Duration::from_millis(150),
            "the scope returned early: {waited:?}"
        );
        assert_eq!(&buf[..4], b"late", "the read ended in the scope");
        for ud in 2..=6 {
            assert_eq!(last_count(&seen, ud), 1, "{ud}: {seen:?}");
        }
        let res = |ud| seen.iter().find(|c| c.user_data() == ud).unwrap().res();
        assert_eq!(res(3), -libc::EACCES, "{seen:?}");
        assert_eq!(res(5), -libc::EACCES, "{seen:?}");
        assert_eq!(res(6), 0, "{seen:?}");
        uring_tests::assert_nothing_writes_after(&mut [&mut tx], &[&other[..]], 0xa5);
    }
}

/// A receive bundle on an incremental buffer ring: each claim hands out
/// the bytes its receive got, and a claimed buffer does not change while
/// later receives fill the ring.
#[test]
fn claims_of_receive_bundles_on_an_incremental_ring_hand_out_what_was_received() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !uring_tests::require_kernel(6, 12, "incremental buffer rings with bundles") {
        return;
    }
    let pool = match ring.register_buf_ring_incremental(BufferGroup::new(41), 4, 16) {
        Ok(pool) => pool,
        Err(e) => return uring_tests::skip(format_args!("no incremental buffer rings: {e}")),
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let mut sent = Vec::new();
    let result = ring.scope(|s| -> Result<(), String> {
        let mut held = Vec::new();
        let mut received = Vec::new();
        for (i, n) in [24usize, 4, 4, 30, 2].into_iter().enumerate() {
            let chunk = uring_tests::pattern(n, 40 + i as u8);
            tx.write_all(&chunk).unwrap();
            sent.extend_from_slice(&chunk);
            s.push(
                Recv::new(&rx, pool.select())
                    .recv_flags(RecvFlags::BUNDLE)
                    .user_data(i as u64),
            )
            .unwrap();
            s.submit().unwrap();
            let mut seen = Vec::new();
            s.wait_timeout(1, PATIENCE).unwrap();
            for mut c in s.completions() {
                assert!(c.res() >= 0, "{:?}", c.cqe());
                let n = c.res() as usize;
                let bufs = pool.claim_bundle(&mut c).map_err(|e| e.to_string())?;
                let bytes: Vec<u8> = bufs.iter().flat_map(|b| b.to_vec()).collect();
                seen.push((bufs[0].bid(), bufs[0].offset(), bytes, n));
                held.push(bufs);
            }
            received.extend(seen);
            // Every buffer still held shows what it showed when claimed.
            for (bufs, r) in held.iter().zip(&received) {
                let bytes: Vec<u8> = bufs.iter().flat_map(|b| b.to_vec()).collect();
                if bytes != r.2 {
                    return Err(format!("a lent buffer changed under its Buf: {received:?}"));
                }
            }
        }
        let mut got = Vec::new();
        for (_, _, bytes, n) in &received {
            if bytes.len() != *n {
                return Err(format!(
                    "a claim handed out {} bytes of a {n}-byte receive: {received:?}",
                    bytes.len()
                ));
            }
            got.extend_from_slice(bytes);
        }
        if got != sent {
            return Err(format!(
                "claimed bytes differ from those sent: {received:?}"
            ));
        }
        Ok(())
    });
    result.unwrap();
}

/// A receive bundle on a plain buffer ring fills several buffers with one
/// completion: what the claims hand out is every byte received, and the
/// ring gets every buffer back once the claims are dropped.
#[test]
fn claims_of_receive_bundles_hand_out_every_byte_and_every_buffer_comes_back() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !uring_tests::require_features(&ring, uring::Features::RECVSEND_BUNDLE, "bundles") {
        return;
    }
    let pool = ring.register_buf_ring(BufferGroup::new(42), 4, 16).unwrap();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let sent = uring_tests::pattern(40, 7);
    tx.write_all(&sent).unwrap();
    let (got, received) = ring.scope(|s| {
        let (mut got, mut received) = (Vec::new(), 0);
        while received < sent.len() {
            s.push(
                Recv::new(&rx, pool.select())
                    .recv_flags(RecvFlags::BUNDLE)
                    .user_data(1),
            )
            .unwrap();
            s.submit().unwrap();
            s.wait_timeout(1, PATIENCE).unwrap();
            for mut c in s.completions() {
                assert!(c.res() > 0, "{:?}", c.cqe());
                received += c.res() as usize;
                for buf in pool.claim_bundle(&mut c).unwrap() {
                    got.extend_from_slice(&buf);
                }
            }
        }
        (got, received)
    });
    assert_eq!(received, sent.len());
    assert_eq!(got, sent, "the claims hand out what was received");
    assert_eq!(pool.lent(), 0);
    assert_eq!(
        pool.available().unwrap(),
        4,
        "every buffer is back with the kernel"
    );
}
