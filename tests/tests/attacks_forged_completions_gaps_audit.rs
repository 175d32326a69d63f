//! Completions forged by other rings and by the program (`MSG_RING` data
//! messages with any `user_data`, result and flags, `Ring::post` and
//! `RingTarget::post`), attacked where the existing suites (`msg_target.rs`,
//! `attacks_completions.rs`, `attacks_crossings.rs`,
//! `attacks_safety_claims.rs`, `attacks_fast_scope_flags.rs`,
//! `scope_take_fd.rs`) stop short: messages landing in slots of a 32-byte
//! CQ that earlier completions used; size and padding flags forged into a
//! mixed CQ at every position of its array; a mixed CQ filled with forged
//! padding while the kernel holds real completions back; descriptor
//! numbers carried by messages that a scope leaves unread at its end;
//! bundle claims from forged buffer completions; and a reactor fed, before
//! it starts, every tag an earlier reactor's key makes.
//!
//! Read against Linux 6.18: `io_uring/msg_ring.c` (`io_msg_ring_data`,
//! `io_msg_data_remote`, which pass `IORING_MSG_RING_FLAGS_PASS` flags
//! unchecked), `io_uring/io_uring.c` (`io_fill_cqe_aux`, which writes the
//! extra 16 bytes of a completion only when its flags carry
//! `IORING_CQE_F_32`, even on an `IORING_SETUP_CQE32` ring;
//! `io_get_cqe_overflow` and `io_cqe_cache_refill`, which take two slots
//! of a mixed CQ for `F_32` and pad the array's end with
//! `io_fill_nop_cqe`; `__io_cqring_overflow_flush`), `io_uring/register.c`
//! (`IORING_REGISTER_SEND_MSG_RING`) and `include/uapi/linux/io_uring.h`.
//!
//! Every test is safe code against the running kernel and checks what the
//! kernel did: which completions came, once each, in which order, with
//! which results, flags and extra words, which descriptors stay open, and
//! which buffers are lent.

use std::io::Write as _;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use uring::ops::{MsgRing, Nop, OpenAt, Recv};
use uring::sys::{
    IORING_CQE_F_32, IORING_CQE_F_BUF_MORE, IORING_CQE_F_BUFFER, IORING_CQE_F_MORE,
    IORING_CQE_F_SKIP,
};
use uring::{BigCqe, Builder, Cqe32, CqeMixed, Fd, Ring, RingTarget, Sqe64};
use uring_tests::{PATIENCE, fd_is_open, pipe, plain_buf_ring, require_kernel};

/// Sends `(user_data, res, flags)` messages to `target` from a scope of a
/// ring of this thread (`MSG_RING`; `Some(flags)` with
/// `IORING_MSG_RING_FLAGS_PASS`), and checks that each was posted (the
/// sender's result 0).
fn send(target: &RingTarget, forged: &[(u64, i32, Option<u32>)]) {
    let mut sender = Ring::new(16).unwrap();
    for chunk in forged.chunks(8) {
        sender.scope(|s| {
            for &(ud, res, flags) in chunk {
                let op = MsgRing::new(target, res, ud).user_data(9);
                let pushed = match flags {
                    Some(flags) => s.push(op.cqe_flags(flags)),
                    None => s.push(op),
                };
                assert!(pushed.is_ok(), "the sender's SQ has room");
            }
            s.submit().unwrap();
            let mut seen = 0;
            while seen < chunk.len() {
                s.wait_timeout(1, PATIENCE).unwrap();
                for c in s.completions() {
                    assert_eq!((c.user_data(), c.res()), (9, 0), "MSG_RING failed: {c:?}");
                    seen += 1;
                }
            }
        });
    }
}

/// `(user_data, res, flags, is_big, extra words)` of big completions.
fn shapes(cqes: &[BigCqe]) -> Vec<(u64, i32, u32, bool, [u64; 2])> {
    cqes.iter()
        .map(|c| (c.user_data(), c.res(), c.flags(), c.is_big(), c.big_cqe()))
        .collect()
}

// ---------------------------------------------------------------------------
// 32-byte and mixed CQs receiving 16-byte messages.
// ---------------------------------------------------------------------------

/// On a ring of 32-byte CQEs (`Cqe32`), a data message (`Ring::post`, a
/// `MsgRing` without flags, one passing flags 0) is a 16-byte completion:
/// Linux 6.18's `io_fill_cqe_aux` writes its extra 16 bytes only when the
/// message's flags say `IORING_CQE_F_32`. Once every slot of the CQ has
/// held a completion with extra words (NOPs with `big_cqe`), a message
/// lands on top of one of them, and `BigCqe::big_cqe` hands out that
/// earlier completion's words as the message's own. (A fresh ring's slots
/// are zero, which is all `attacks_ring_gaps_audit.rs` looks at.) The
/// same path posts every non-final completion of a multishot op.
#[test]
fn a_message_on_a_32_byte_ring_carries_no_words_of_an_earlier_completion() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "IORING_NOP_CQE32 and IORING_REGISTER_SEND_MSG_RING") {
        return;
    }
    let mut ring = Builder::new().build_sized::<Sqe64, Cqe32>(4).unwrap();
    let slots = u64::from(ring.cq_entries());
    for i in 0..slots {
        let words = [0xdead_0000 + i, 0xbeef_0000 + i];
        ring.push(Nop::new().user_data(i).big_cqe(words)).unwrap();
        ring.submit_and_wait(1).unwrap();
        let got: Vec<_> = ring
            .completions()
            .map(|c| (c.user_data(), c.big_cqe()))
            .collect();
        assert_eq!(got, [(i, words)], "the NOP's words");
    }
    ring.post(5, 0x77).unwrap();
    let target = ring.msg_target().unwrap();
    send(&target, &[(0x78, 6, None), (0x79, 7, Some(0))]);
    drop(target);
    ring.wait_timeout(3, PATIENCE).unwrap();
    let got: Vec<_> = ring
        .completions()
        .map(|c| (c.user_data(), c.res(), c.big_cqe()))
        .collect();
    assert_eq!(
        got,
        [(0x77, 5, [0, 0]), (0x78, 6, [0, 0]), (0x79, 7, [0, 0])],
        "a message's extra words are its own (zero), not an earlier completion's"
    );
}

/// Size and padding flags forged into a mixed CQ (`MsgRing` with
/// `IORING_MSG_RING_FLAGS_PASS`), from every position of an 8-slot array:
/// a message flagged `F_32` takes two slots (the kernel pads the array's
/// end before it) and reads as a big completion of zero words; one flagged
/// `F_SKIP`, alone or with `F_32`, is padding to the reader and never
/// comes out. Either way the big and small NOPs behind it come out once,
/// whole and in order, through `peek_batch` and `completions` alike, and
/// nothing is left past them.
#[test]
fn forged_size_flags_on_a_mixed_cq_keep_every_later_completion_whole() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "IORING_SETUP_CQE_MIXED") {
        return;
    }
    let forged_flags = [
        IORING_CQE_F_32,
        IORING_CQE_F_SKIP,
        IORING_CQE_F_32 | IORING_CQE_F_SKIP,
        IORING_CQE_F_32 | IORING_CQE_F_MORE | IORING_CQE_F_BUFFER | 3 << 16,
    ];
    for start in 0..8u64 {
        for &flags in &forged_flags {
            let mut ring = Builder::new()
                .cq_entries(8)
                .build_sized::<Sqe64, CqeMixed>(8)
                .unwrap();
            // Move the head and tail to `start`.
            for i in 0..start {
                ring.push(Nop::new().user_data(i)).unwrap();
            }
            ring.submit_and_wait(start as u32).unwrap();
            assert_eq!(ring.completions().count() as u64, start);
            let target = ring.msg_target().unwrap();
            send(&target, &[(0x78, 6, Some(flags))]);
            drop(target);
            ring.push(Nop::new().user_data(100).big_cqe([start, !start]))
                .unwrap();
            ring.push(Nop::new().user_data(101)).unwrap();
            ring.submit().unwrap();
            let mut want = Vec::new();
            if flags & IORING_CQE_F_SKIP == 0 {
                want.push((0x78, 6, flags, true, [0, 0]));
            }
            want.push((100, 0, IORING_CQE_F_32, true, [start, !start]));
            want.push((101, 0, 0, false, [0, 0]));
            let deadline = Instant::now() + PATIENCE;
            let mut out = [BigCqe::default(); 8];
            let mut n = ring.peek_batch(&mut out);
            while n < want.len() {
                assert!(
                    Instant::now() < deadline,
                    "start {start}, flags {flags:#x}: {:?}",
                    shapes(&out[..n])
                );
                let _ = ring.wait_timeout(want.len() as u32, Duration::from_millis(10));
                n = ring.peek_batch(&mut out);
            }
            let what = format!("start {start}, flags {flags:#x}");
            assert_eq!(shapes(&out[..n]), want, "{what}: peeked");
            let read: Vec<BigCqe> = ring.completions().collect();
            assert_eq!(shapes(&read), want, "{what}: read");
            assert_eq!(ring.completions().count(), 0, "{what}");
            assert_eq!(ring.advance(u32::MAX), 0, "{what}: nothing past the tail");
        }
    }
}

/// A mixed CQ filled to its last slot with forged padding (messages flagged
/// `IORING_CQE_F_SKIP`), while the kernel keeps the NOPs pushed after them,
/// big and small, in its overflow list: a wait for them neither spins nor
/// reports `EBUSY` (the reader moves past the padding and shows the kernel
/// the free slots), and each NOP comes out once, whole, with none of the
/// padding.
#[test]
fn a_mixed_cq_full_of_forged_padding_passes_on_what_the_kernel_held_back() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "IORING_SETUP_CQE_MIXED") {
        return;
    }
    let mut ring = Builder::new()
        .cq_entries(8)
        .build_sized::<Sqe64, CqeMixed>(8)
        .unwrap();
    let entries = u64::from(ring.cq_entries());
    let target = ring.msg_target().unwrap();
    let forged: Vec<_> = (0..entries)
        .map(|i| (i, i as i32, Some(IORING_CQE_F_SKIP)))
        .collect();
    send(&target, &forged);
    drop(target);
    assert_eq!(
        u64::from(ring.ready()),
        entries,
        "the CQ is full of padding"
    );
    ring.push(Nop::new().user_data(1).big_cqe([7, 8])).unwrap();
    ring.push(Nop::new().user_data(2)).unwrap();
    ring.push(Nop::new().user_data(3).big_cqe([9, 10])).unwrap();
    ring.submit().unwrap();
    assert!(ring.cq_has_overflow(), "the NOPs wait in the overflow list");
    let started = Instant::now();
    ring.wait_timeout(3, PATIENCE).unwrap();
    assert!(started.elapsed() < PATIENCE, "the wait ended on the NOPs");
    let got: Vec<BigCqe> = ring.completions().collect();
    assert_eq!(
        shapes(&got),
        [
            (1, 0, IORING_CQE_F_32, true, [7, 8]),
            (2, 0, 0, false, [0, 0]),
            (3, 0, IORING_CQE_F_32, true, [9, 10]),
        ]
    );
    assert!(!ring.cq_has_overflow());
    assert_eq!(ring.overflow(), 0, "nothing dropped");
    assert_eq!(ring.completions().count(), 0);
}

// ---------------------------------------------------------------------------
// Scopes: descriptors and buffers named by forged completions.
// ---------------------------------------------------------------------------

/// Messages planted before a scope whose results are the numbers of
/// descriptors the test owns, with the scope's own open's `user_data`,
/// tag-shaped values and `F_MORE`, all left unread when the scope ends (its
/// open's completion too): the scope closes the descriptor of its own open
/// (as `scope_take_fd.rs` checks) and none that a message names. The
/// messages stay in the ring, once each, in order, as posted.
#[test]
fn descriptor_numbers_in_messages_left_unread_by_a_scope_stay_open() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 3, "IORING_MSG_RING_FLAGS_PASS") {
        return;
    }
    let mut ring = Ring::new(32).unwrap();
    let (r1, w1) = pipe();
    let (r2, w2) = pipe();
    let numbers = [
        r1.as_raw_fd(),
        w1.as_raw_fd(),
        r2.as_raw_fd(),
        w2.as_raw_fd(),
    ];
    let uds = [1u64, 1 << 63, u64::MAX, (1 << 63) | (0x8000_0001 << 32)];
    let mut forged = Vec::new();
    for (i, &number) in numbers.iter().enumerate() {
        for (j, &ud) in uds.iter().enumerate() {
            let flags = if (i + j) % 2 == 0 {
                None
            } else {
                Some(IORING_CQE_F_MORE)
            };
            forged.push((ud, number, flags));
        }
    }
    let target = ring.msg_target().unwrap();
    send(&target, &forged);
    drop(target);
    let count = forged.len() as u32;
    ring.scope(|s| {
        assert!(s.tags_every_op(), "a ring that took messages");
        s.push(OpenAt::new(Fd::CWD, c"/dev/null").user_data(1))
            .unwrap();
        s.submit().unwrap();
        // The open's completion behind every message, none read.
        s.wait_timeout(count + 1, PATIENCE).unwrap();
        assert_eq!(s.ready(), count + 1);
    });
    for &number in &numbers {
        assert!(fd_is_open(number), "descriptor {number} closed by a scope");
    }
    let left: Vec<_> = ring
        .completions()
        .map(|c| {
            (
                c.user_data(),
                c.res(),
                (c.flags() != 0).then_some(c.flags()),
            )
        })
        .collect();
    assert_eq!(left, forged, "the messages, once each, in order");
    // The pipes still work end to end.
    std::fs::File::from(w1).write_all(b"x").unwrap();
    let mut byte = [0u8; 1];
    assert_eq!(
        std::io::Read::read(&mut std::fs::File::from(r1), &mut byte).unwrap(),
        1
    );
    drop((r2, w2));
}

/// Completions forged with `IORING_CQE_F_BUFFER` and every buffer id of a
/// group (some also flagged `F_MORE` or `F_BUF_MORE`), carrying the
/// `user_data` of the scope's own receive, planted before the scope in
/// which that receive selects from the group: neither `claim` nor
/// `claim_bundle` takes a buffer from any of them, while the receive is in
/// flight or after it; the receive's own completion gives exactly its one
/// buffer, with the bytes sent, which goes back when dropped.
#[test]
fn forged_buffer_completions_lend_nothing_to_claim_bundle() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 3, "IORING_MSG_RING_FLAGS_PASS") {
        return;
    }
    let mut ring = Ring::new(64).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 3, 4, 16) else {
        return;
    };
    let mut forged = Vec::new();
    for bid in 0..4u32 {
        for extra in [0, IORING_CQE_F_MORE, IORING_CQE_F_BUF_MORE] {
            forged.push((1u64, 16, Some(IORING_CQE_F_BUFFER | extra | bid << 16)));
        }
    }
    let target = ring.msg_target().unwrap();
    send(&target, &forged);
    drop(target);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let (refused, bytes) = ring.scope(|s| {
        s.push(Recv::new(&rx, pool.select()).user_data(1)).unwrap();
        s.submit().unwrap();
        let mut refused = 0;
        let mut bytes = None;
        let deadline = Instant::now() + PATIENCE;
        while bytes.is_none() {
            assert!(Instant::now() < deadline, "no receive after {PATIENCE:?}");
            let _ = s.wait_timeout(1, Duration::from_millis(10));
            for mut c in s.completions() {
                if !c.is_scope_op() {
                    assert!(c.buffer_id().is_some(), "{c:?}");
                    assert!(pool.claim_bundle(&mut c).is_err(), "bundle of {c:?}");
                    assert!(pool.claim(&mut c).is_err(), "claim of {c:?}");
                    assert_eq!(pool.lent(), 0, "lent from {c:?}");
                    refused += 1;
                    if refused == forged.len() {
                        // Every forgery seen with the receive in flight.
                        tx.write_all(b"real").unwrap();
                    }
                    continue;
                }
                assert_eq!(refused, forged.len(), "the receive came after the data");
                assert_eq!(c.res(), 4);
                let bufs = pool.claim_bundle(&mut c).unwrap();
                assert_eq!(bufs.len(), 1, "one buffer for a plain receive");
                assert!(pool.claim(&mut c).is_err(), "claimed twice");
                assert_eq!(pool.lent(), 1);
                bytes = Some(bufs[0][..4].to_vec());
            }
        }
        (refused, bytes.unwrap())
    });
    assert_eq!(refused, forged.len());
    assert_eq!(bytes, b"real");
    assert_eq!(pool.lent(), 0, "the buffer went back");
    assert_eq!(pool.available().unwrap(), 4);
}

// ---------------------------------------------------------------------------
// The reactor: tags made with an earlier reactor's key.
// ---------------------------------------------------------------------------

/// A reactor's tags are `key ^ (generation << 32 | slot)`; anyone reading
/// `/proc/self/fdinfo` sees them while a completion waits in the CQ, and
/// from one tag of a first reactor derives its key. A second reactor, made
/// from a ring into which every tag that key makes for its first slots and
/// generations (and the raw tags seen) was posted before it started, must
/// draw a key of its own: its receive stays pending through those
/// messages, and completes with the bytes really sent.
#[test]
fn a_reactor_ignores_the_tags_an_earlier_reactor_s_key_makes() {
    use std::future::Future as _;
    use uring::reactor::ops::{Nop as RNop, Recv as RRecv};
    use uring::reactor::{Reactor, SharedFd};
    let _watch = uring_tests::watchdog();
    if !require_kernel(5, 18, "MSG_RING") {
        return;
    }
    let first = Ring::new(64).unwrap();
    let fd = first.as_raw_fd();
    let reactor = Reactor::from_ring(first).unwrap();
    let mut nop = Box::pin(reactor.op(RNop));
    assert!(uring_tests::poll_once(&mut nop).is_pending());
    reactor.submit().unwrap();
    let seen = uring_tests::fdinfo_user_data(fd);
    assert!(!seen.is_empty(), "fdinfo shows the NOP's completion");
    reactor.run_until(nop).unwrap().0.unwrap();
    drop(reactor);

    let mut forged = Vec::new();
    for &tag in &seen {
        forged.push((tag, 1, None));
        for slot in 0..4u64 {
            let key = tag ^ (1 << 32 | slot);
            for generation in 1..=4u64 {
                forged.push((key ^ (generation << 32 | slot), 1, None));
            }
        }
    }
    let second = Ring::new(256).unwrap();
    let target = second.msg_target().unwrap();
    send(&target, &forged);
    drop(target);
    let reactor = Reactor::from_ring(second).unwrap();
    let (a, mut peer) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(a);
    let mut recv = Box::pin(reactor.op(RRecv::new(&fd, vec![0u8; 8])));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(recv.as_mut().poll(&mut cx).is_pending());
    reactor.submit().unwrap();
    for _ in 0..4 {
        let nop = reactor.op(RNop);
        reactor.run_until(nop).unwrap().0.unwrap();
    }
    assert!(
        recv.as_mut().poll(&mut cx).is_pending(),
        "a tag of the earlier reactor's key resolved the receive"
    );
    peer.write_all(b"real").unwrap();
    let (result, buf) = reactor.run_until(recv).unwrap();
    assert_eq!(result.unwrap(), 4);
    assert_eq!(&buf[..4], b"real");
}
