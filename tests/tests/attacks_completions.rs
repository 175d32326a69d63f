//! Attacks on how completions are read: what safe code can make a
//! completion's `flags`, `res` and `user_data` say (`MSG_RING` with
//! `IORING_MSG_RING_FLAGS_PASS`, `Ring::post`, NOPs that inject a result or
//! post a 32-byte CQE), and whether the readers (`completions`, `peek`,
//! `peek_batch`, `advance`, scopes, the virtual CQ of a full ring, the
//! reactor) then lose, duplicate or misalign a completion, end a scope
//! while its op is in flight, or claim a buffer from a forged completion.
//!
//! Every test asserts what the kernel really did; each one here is an
//! attack the library defends.

use std::future::Future as _;
use std::io::Write as _;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use uring::ops::{MsgRing, Nop, Read};
use uring::sys::{
    IORING_CQE_F_32, IORING_CQE_F_BUF_MORE, IORING_CQE_F_BUFFER, IORING_CQE_F_MORE,
    IORING_CQE_F_NOTIF, IORING_CQE_F_SKIP, IORING_CQE_F_SOCK_NONEMPTY,
};
use uring::{Builder, Cqe, CqeMixed, Ring, Sqe64};
use uring_tests::{require_kernel, require_op, skip};

/// The flags a forger would put on a completion: the two that change how a
/// mixed CQ is laid out, those that speak of more completions, of a
/// provided buffer (with a buffer id) or of a notification, and all of them.
const FORGED_FLAGS: [u32; 10] = [
    IORING_CQE_F_32,
    IORING_CQE_F_SKIP,
    IORING_CQE_F_32 | IORING_CQE_F_SKIP,
    IORING_CQE_F_MORE,
    IORING_CQE_F_BUFFER | 3 << 16,
    IORING_CQE_F_BUFFER | IORING_CQE_F_BUF_MORE | IORING_CQE_F_MORE | 5 << 16,
    IORING_CQE_F_NOTIF,
    IORING_CQE_F_NOTIF | IORING_CQE_F_MORE,
    IORING_CQE_F_SOCK_NONEMPTY,
    u32::MAX,
];

/// `user_data` values a forger would post: small numbers (what a fast
/// scope leaves untagged), tag-shaped values (bit 63) and the extremes.
fn forged_user_data() -> Vec<u64> {
    let mut v: Vec<u64> = (0..8).collect();
    v.extend([1 << 63, u64::MAX, (1 << 63) | (0x8000_0001 << 32), 1 << 32]);
    v
}

/// Posts `(user_data, res, flags)` into `target` through a scope of
/// `source` (`MSG_RING` with `IORING_MSG_RING_FLAGS_PASS`), all safe code,
/// and checks the sender's completions. Returns how many were posted.
fn post_forged(source: &mut Ring, target: &Ring, forged: &[(u64, i32, u32)]) -> usize {
    for chunk in forged.chunks(4) {
        source.scope(|s| {
            for &(ud, res, flags) in chunk {
                s.push(MsgRing::new(target, res, ud).cqe_flags(flags).user_data(9))
                    .unwrap();
            }
            s.submit().unwrap();
            let mut seen = 0;
            while seen < chunk.len() {
                s.wait_timeout(1, uring_tests::PATIENCE).unwrap();
                for c in s.completions() {
                    assert!(c.is_scope_op());
                    assert_eq!((c.user_data(), c.res()), (9, 0), "MSG_RING failed: {c:?}");
                    seen += 1;
                }
            }
        });
    }
    forged.len()
}

/// Whether this kernel passes completion flags with `MSG_RING` (6.3).
fn can_pass_flags() -> bool {
    require_kernel(6, 3, "IORING_MSG_RING_FLAGS_PASS")
}

/// `(user_data, res, flags)` of plain completions.
fn triples(cqes: &[Cqe]) -> Vec<(u64, i32, u32)> {
    cqes.iter()
        .map(|c| (c.user_data(), c.res(), c.flags()))
        .collect()
}

/// A forged `IORING_CQE_F_32` or `IORING_CQE_F_SKIP` on a ring of 16-byte
/// CQEs takes one slot, as the kernel wrote it: the completions after it
/// are neither skipped nor read twice, and `ready`, `peek_batch` and
/// `advance` count one per completion, never past the tail.
#[test]
fn forged_size_flags_on_a_plain_ring_take_one_slot_each() {
    let _watch = uring_tests::watchdog();
    if !can_pass_flags() {
        return;
    }
    let mut source = Ring::new(8).unwrap();
    let mut target = Ring::new(32).unwrap();
    let mut want = Vec::new();
    for (i, &flags) in FORGED_FLAGS.iter().enumerate() {
        let ud = 100 + i as u64;
        post_forged(&mut source, &target, &[(ud, 7, flags)]);
        want.push((ud, 7, flags));
        // A real completion right behind the forged one.
        target.push(Nop::new().user_data(1000 + i as u64)).unwrap();
        target.submit_and_wait(1).unwrap();
        want.push((1000 + i as u64, 0, 0));
    }
    let n = want.len() as u32;
    assert_eq!(target.ready(), n, "one slot per completion, forged or not");
    let first = target.peek().expect("a completion");
    assert_eq!(
        (first.user_data(), first.flags()),
        (100, IORING_CQE_F_32),
        "the forged flag is shown as the kernel wrote it"
    );
    let mut out = [Cqe::default(); 64];
    assert_eq!(target.peek_batch(&mut out) as u32, n);
    assert_eq!(triples(&out[..n as usize]), want);
    // Reading a part, then the rest, gives each once and in order.
    let some: Vec<Cqe> = target.completions().take(5).collect();
    let rest: Vec<Cqe> = target.completions().collect();
    let all: Vec<Cqe> = some.into_iter().chain(rest).collect();
    assert_eq!(triples(&all), want);
    // Nothing is left, and advancing by more than is ready moves nothing.
    assert_eq!(target.ready(), 0);
    assert_eq!(target.advance(u32::MAX), 0);
    target.push(Nop::new().user_data(5)).unwrap();
    target.submit_and_wait(1).unwrap();
    assert_eq!(target.advance(1000), 1, "advance stops at the tail");
    assert_eq!(target.ready(), 0);
    assert_eq!(target.peek_batch(&mut out), 0);
}

/// Forged completions with every flag and tag-shaped or small `user_data`
/// planted in a ring before its scope (and, on a `DEFER_TASKRUN` target,
/// arriving during it: the kernel posts a message to such a ring from its
/// task work, after the sender's `MSG_RING` has completed and its borrow
/// of the target ended) neither settle the scope's read, nor end the scope
/// early, nor let a buffer be claimed from them; each comes out once, as a
/// foreign completion, with its flags as posted.
#[test]
fn planted_completions_with_forged_flags_do_not_end_a_scope_s_read() {
    let _watch = uring_tests::watchdog();
    if !can_pass_flags() {
        return;
    }
    let deferred = uring_tests::kernel_version() >= (6, 1);
    for defer in [false, true] {
        if defer && !deferred {
            skip("DEFER_TASKRUN needs Linux 6.1");
            continue;
        }
        let builder = if defer {
            Builder::new().single_issuer().defer_taskrun()
        } else {
            Builder::new()
        };
        let mut target = builder.build(64).unwrap();
        let mut source = Ring::new(8).unwrap();
        let Some(pool) = uring_tests::plain_buf_ring(&mut target, 7, 8, 64) else {
            return;
        };
        let mut forged = Vec::new();
        for (i, ud) in forged_user_data().into_iter().enumerate() {
            for (j, &flags) in FORGED_FLAGS.iter().enumerate() {
                let res = [0, 4, 64, -libc::ECANCELED][(i + j) % 4];
                forged.push((ud, res, flags));
            }
        }
        post_forged(&mut source, &target, &forged);
        if defer {
            // The messages wait in the target's task work: none is posted
            // until the target's scope enters the kernel.
            assert_eq!(target.ready(), 0, "posted before the target's wait");
        }
        let (mut tx, rx) = UnixStream::pair().unwrap();
        let mut buf = [0xa5u8; 16];
        let (foreign, read) = target.scope(|s| {
            s.push(Read::new(&rx, &mut buf[..]).user_data(0)).unwrap();
            s.submit().unwrap();
            let mut foreign = Vec::new();
            let mut read = None;
            // Read every forged completion while no data has come.
            for _ in 0..50 {
                if foreign.len() >= forged.len() {
                    break;
                }
                let _ = s.wait_timeout(1, Duration::from_millis(20));
                for mut c in s.completions() {
                    if c.is_scope_op() {
                        read = Some(c.cqe());
                        continue;
                    }
                    if c.buffer_id().is_some() {
                        assert!(
                            pool.claim(&mut c).is_err(),
                            "a buffer claimed from a forged completion {c:?}"
                        );
                    }
                    foreign.push(c.cqe());
                }
            }
            assert!(read.is_none(), "the read settled before any data: {read:?}");
            assert_eq!(s.in_flight(), 1, "the read is still in flight");
            tx.write_all(b"real").unwrap();
            while read.is_none() {
                s.wait_timeout(1, uring_tests::PATIENCE).unwrap();
                for c in s.completions() {
                    if c.is_scope_op() {
                        read = Some(c.cqe());
                    } else {
                        foreign.push(c.cqe());
                    }
                }
            }
            (foreign, read.unwrap())
        });
        assert_eq!((read.user_data(), read.res()), (0, 4), "defer {defer}");
        assert_eq!(&buf[..4], b"real");
        assert_eq!(buf[4..], [0xa5; 12], "nothing else written");
        assert_eq!(triples(&foreign), forged, "defer {defer}");
        assert_eq!(pool.lent(), 0, "no buffer lent out");
        assert_eq!(target.ready(), 0);
    }
}

/// A CQ filled past its size with forged completions (the rest in the
/// kernel's overflow list) that all say more is coming: the scope's end
/// moves them to its virtual CQ, waits for its read behind them, and after
/// the scope each forged completion is read once, in order, whether read
/// with `peek_batch`, `advance` or `completions`.
#[test]
fn a_cq_full_of_forged_completions_is_set_aside_and_comes_back_once() {
    let _watch = uring_tests::watchdog();
    if !can_pass_flags() {
        return;
    }
    let mut target = Ring::new(4).unwrap();
    let entries = target.cq_entries() as u64;
    let mut source = Ring::new(8).unwrap();
    let forged: Vec<(u64, i32, u32)> = (0..entries * 3)
        .map(|i| {
            let flags = FORGED_FLAGS[i as usize % FORGED_FLAGS.len()] | IORING_CQE_F_MORE;
            (i, i as i32, flags)
        })
        .collect();
    post_forged(&mut source, &target, &forged);
    assert_eq!(target.ready() as u64, entries, "the CQ is full");
    assert!(
        target.cq_has_overflow(),
        "the rest wait in the overflow list"
    );
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let mut buf = [0xa5u8; 8];
    target.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
        s.submit().unwrap();
        tx.write_all(b"data").unwrap();
        // The scope ends with its read behind a full CQ of forged
        // completions: it must wait for the read, not return early.
    });
    assert!(
        &buf[..4] == b"data" || buf == [0xa5; 8],
        "the read either completed or was cancelled: {buf:?}"
    );
    assert_eq!(target.overflow(), 0, "nothing dropped");
    // The first ones, peeked and skipped with `advance`.
    let mut out = [Cqe::default(); 3];
    assert_eq!(target.peek_batch(&mut out), 3);
    assert_eq!(triples(&out), forged[..3]);
    assert_eq!(target.advance(3), 3);
    let mut got = Vec::new();
    for _ in 0..100 {
        let before = got.len();
        got.extend(target.completions());
        if got.len() >= forged.len() - 3 {
            break;
        }
        if got.len() == before {
            let _ = target.submit_and_wait_timeout(1, Duration::from_millis(10));
        }
    }
    assert_eq!(triples(&got), forged[3..], "each forged completion once");
    assert_eq!(target.ready(), 0);
    // The ring still works.
    target.push(Nop::new().user_data(77)).unwrap();
    assert_eq!(uring_tests::reap_one(&mut target).user_data(), 77);
}

/// A reactor made from a ring holding forged completions (any flags,
/// buffer ids, small and tag-shaped `user_data`) ignores them: its
/// receive stays pending until real data comes.
#[test]
fn a_reactor_ignores_forged_completions_planted_before_it() {
    use uring::reactor::ops::{Nop as RNop, Recv};
    use uring::reactor::{Reactor, SharedFd};
    let _watch = uring_tests::watchdog();
    if !can_pass_flags() {
        return;
    }
    let target = Ring::new(64).unwrap();
    let mut source = Ring::new(8).unwrap();
    let mut forged = Vec::new();
    for ud in (0..16u64).chain(forged_user_data()) {
        for &flags in &FORGED_FLAGS {
            forged.push((ud, 1, flags));
        }
    }
    // The CQ holds 128; the rest wait in the overflow list.
    post_forged(&mut source, &target, &forged);
    let reactor = Reactor::from_ring(target).unwrap();
    let (a, mut peer) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(a);
    let mut recv = Box::pin(reactor.op(Recv::new(&fd, vec![0u8; 8])));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(recv.as_mut().poll(&mut cx).is_pending());
    reactor.submit().unwrap();
    for _ in 0..4 {
        let nop = reactor.op(RNop);
        let _ = reactor.run_until(nop).unwrap();
    }
    assert!(
        recv.as_mut().poll(&mut cx).is_pending(),
        "a forged completion resolved the receive"
    );
    peer.write_all(b"real").unwrap();
    let (result, buf) = reactor.run_until(recv).unwrap();
    assert_eq!(result.unwrap(), 4);
    assert_eq!(&buf[..4], b"real");
}

/// A mixed CQ overflowed with big and small completions: the kernel keeps
/// the rest in its overflow list and posts them, padding included, as the
/// CQ empties; the reader takes each once, in order, with its extra words.
#[test]
fn a_mixed_cq_s_overflowed_completions_come_back_whole_and_once() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "IORING_SETUP_CQE_MIXED") {
        return;
    }
    let mut ring = Builder::new()
        .cq_entries(8)
        .build_sized::<Sqe64, CqeMixed>(8)
        .unwrap();
    let mut want = Vec::new();
    let mut got = Vec::new();
    for round in 0..6u64 {
        // Eight ops, five big: 13 slots or more into a CQ of 8.
        for i in 0..8u64 {
            let ud = round * 100 + i;
            let op = if i % 3 == 1 {
                want.push((ud, i as i32, false, [0, 0]));
                Nop::new().user_data(ud).result(i as i32)
            } else {
                want.push((ud, i as i32, true, [ud, !ud]));
                Nop::new().user_data(ud).result(i as i32).big_cqe([ud, !ud])
            };
            ring.push(op).unwrap();
        }
        ring.submit().unwrap();
        assert!(ring.cq_has_overflow(), "round {round}: the CQ overflowed");
        // Drain in small bites, with `peek`, `advance` and the iterator.
        let mut spins = 0;
        while got.len() < want.len() {
            if let Some(first) = ring.peek() {
                got.push((
                    first.user_data(),
                    first.res(),
                    first.is_big(),
                    first.big_cqe(),
                ));
                assert_eq!(ring.advance(1), 1);
                for c in ring.completions().take(2) {
                    got.push((c.user_data(), c.res(), c.is_big(), c.big_cqe()));
                }
            } else {
                spins += 1;
                assert!(spins < 1000, "completions lost: {got:?}");
                let _ = ring.submit_and_wait_timeout(1, Duration::from_millis(5));
            }
        }
    }
    assert_eq!(got, want);
    assert_eq!(ring.overflow(), 0);
    assert_eq!(ring.advance(u32::MAX), 0, "nothing past the tail");
}

/// Resizing a mixed CQ to fewer entries while a big CQE waits at a
/// position where it would straddle the new array's end: either the kernel
/// refuses, or every completion comes back whole. Never is the big CQE's
/// second half read as a completion whose `user_data` and flags are the
/// NOP's chosen words.
#[test]
fn a_resized_mixed_cq_keeps_big_completions_whole() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "IORING_SETUP_CQE_MIXED, resizing rings") {
        return;
    }
    let mut ring = Builder::new()
        .single_issuer()
        .defer_taskrun()
        .cq_entries(16)
        .build_sized::<Sqe64, CqeMixed>(8)
        .unwrap();
    // Move the head and tail to position 7: the last slot of a CQ of 8.
    for i in 0..7u64 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    ring.submit_and_wait(7).unwrap();
    assert_eq!(ring.completions().count(), 7);
    let forged_ud = 0x4141_4141;
    let forged_flags = u64::from(IORING_CQE_F_MORE | IORING_CQE_F_BUFFER) << 32;
    ring.push(
        Nop::new()
            .user_data(100)
            .big_cqe([forged_ud, forged_flags | 5]),
    )
    .unwrap();
    ring.push(Nop::new().user_data(101)).unwrap();
    ring.submit_and_wait(2).unwrap();
    let result = ring.resize(8, 8);
    eprintln!("resize of a mixed ring: {result:?}");
    let got: Vec<_> = ring
        .completions()
        .map(|c| (c.user_data(), c.flags() & !0x8000, c.is_big(), c.big_cqe()))
        .collect();
    assert_eq!(
        got,
        [
            (100, 0, true, [forged_ud, forged_flags | 5]),
            (101, 0, false, [0, 0])
        ],
        "after resize {result:?}"
    );
}

/// A 16-byte completion posted to a mixed ring by `Ring::post` (which
/// names no flags) and a NOP's injected result take one slot each; a
/// forgotten iterator leaves what it read in place, still aligned on the
/// entries' boundaries: the next reader sees the same completions, whole.
#[test]
fn a_mixed_cq_stays_aligned_under_posts_and_forgotten_iterators() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "IORING_SETUP_CQE_MIXED") {
        return;
    }
    let mut ring = Builder::new()
        .cq_entries(8)
        .build_sized::<Sqe64, CqeMixed>(8)
        .unwrap();
    let mut done = 0u64;
    for round in 0..10u64 {
        let ud = round * 10;
        ring.push(Nop::new().user_data(ud).big_cqe([1, 2])).unwrap();
        ring.submit_and_wait(1).unwrap();
        if ring.post(-libc::EIO, ud + 1).is_err() {
            skip("IORING_REGISTER_SEND_MSG_RING needs Linux 6.13");
            return;
        }
        ring.push(Nop::new().user_data(ud + 2).result(i32::MIN))
            .unwrap();
        ring.submit_and_wait(1).unwrap();
        let want = [
            (ud, 0, true, [1, 2]),
            (ud + 1, -libc::EIO, false, [0, 0]),
            (ud + 2, i32::MIN, false, [0, 0]),
        ];
        let mut it = ring.completions();
        let first: Vec<_> = it
            .by_ref()
            .take(2)
            .map(|c| (c.user_data(), c.res(), c.is_big(), c.big_cqe()))
            .collect();
        std::mem::forget(it);
        assert_eq!(first, want[..2]);
        let all: Vec<_> = ring
            .completions()
            .map(|c| (c.user_data(), c.res(), c.is_big(), c.big_cqe()))
            .collect();
        assert_eq!(all, want, "round {round}");
        done += 1;
    }
    assert_eq!(done, 10);
    assert_eq!(ring.advance(u32::MAX), 0);
}

/// A scope's completion iterator forgotten half-way on a ring holding
/// forged completions: nothing it settled is settled again, nothing it
/// passed on is lost, and the scope's read keeps its buffer.
#[test]
fn a_forgotten_scope_iterator_settles_nothing_twice() {
    let _watch = uring_tests::watchdog();
    if !can_pass_flags() || !require_op::<MsgRing>(&Ring::new(2).unwrap()) {
        return;
    }
    let mut target = Ring::new(16).unwrap();
    let mut source = Ring::new(8).unwrap();
    let forged: Vec<_> = (0..6u64).map(|i| (i, 0, IORING_CQE_F_MORE)).collect();
    post_forged(&mut source, &target, &forged);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let mut buf = [0xa5u8; 8];
    let seen = target.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(0)).unwrap();
        s.push(Nop::new().user_data(1)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut seen = Vec::new();
        let mut it = s.completions();
        for c in it.by_ref().take(3) {
            seen.push((c.user_data(), c.is_scope_op()));
        }
        std::mem::forget(it);
        for _ in 0..5 {
            let _ = s.wait_timeout(1, Duration::from_millis(10));
            for c in s.completions() {
                seen.push((c.user_data(), c.is_scope_op()));
            }
        }
        assert_eq!(s.in_flight(), 1, "only the read is left");
        tx.write_all(b"x").unwrap();
        while s.in_flight() > 0 {
            s.wait_timeout(1, uring_tests::PATIENCE).unwrap();
            for c in s.completions() {
                seen.push((c.user_data(), c.is_scope_op()));
            }
        }
        seen
    });
    let mut want: Vec<_> = (0..6u64).map(|i| (i, false)).collect();
    want.push((1, true));
    want.push((0, true));
    assert_eq!(seen, want);
    assert_eq!(buf[0], b'x');
}
