//! `Either`: one of two ops (or chains) chosen at run time. In a `Linked`
//! chain it mixes op types (writes, then an fsync); alone it goes wherever
//! both of its sides may go, and writes exactly the SQE of the side it holds.

use std::io::Read as _;
use std::os::fd::AsFd;
use std::time::Duration;

use uring::ops::{Fsync, Nop, Read, Send, SendZc, Timeout, Write};
use uring::{Either, Linked, PushErrorKind, Ring, sys};
use uring_tests::{bad_fd, pairs, pipe, submit_and_reap};

/// Reaps `n` completions of a scope, in the order the CQ gave them.
fn scope_reap(s: &mut uring::Scope<'_, '_>, n: usize) -> Vec<(u64, i32)> {
    let mut got = Vec::new();
    while got.len() < n {
        s.submit_and_wait(1).unwrap();
        got.extend(s.completions().map(|c| (c.user_data(), c.res())));
    }
    got
}

/// A read-write temporary file.
fn temp_file() -> std::fs::File {
    tempfile::tempfile().unwrap()
}

/// The opcodes and flags of the SQEs waiting in `ring`, in order.
fn pending(ring: &mut Ring) -> Vec<(u8, u8)> {
    ring.pending_sqes()
        .map(|sqe| (sqe.opcode, sqe.flags))
        .collect()
}

/// The bytes of the SQEs waiting in `ring`, in order.
fn pending_bytes(ring: &mut Ring) -> Vec<Vec<u8>> {
    ring.pending_sqes()
        .map(|sqe| {
            // SAFETY: an SQE is 64 bytes of plain integers.
            unsafe { std::slice::from_raw_parts((&raw const sqe).cast::<u8>(), size_of_val(&sqe)) }
                .to_vec()
        })
        .collect()
}

#[test]
fn writes_then_an_fsync_in_one_linked_chain() {
    let _watch = uring_tests::watchdog();
    let file = temp_file();
    let blocks: Vec<Vec<u8>> = (0..4).map(|i| uring_tests::pattern(4096, i)).collect();
    let mut ring = Ring::new(16).unwrap();
    let got = ring.scope(|s| {
        let mut ops: Vec<_> = blocks
            .iter()
            .enumerate()
            .map(|(i, b)| {
                Either::Left(
                    Write::new(&file, &b[..])
                        .offset(4096 * i as u64)
                        .user_data(i as u64),
                )
            })
            .collect();
        ops.push(Either::Right(Fsync::new(&file).user_data(10)));
        s.push_linked(Linked::new(ops)).unwrap();
        scope_reap(s, 5)
    });
    // A soft chain completes in order; the fsync last, after every write.
    assert_eq!(got, [(0, 4096), (1, 4096), (2, 4096), (3, 4096), (10, 0)]);
    let mut back = Vec::new();
    (&file).read_to_end(&mut back).unwrap();
    assert_eq!(back, blocks.concat());
}

#[test]
fn the_sqes_carry_each_sides_opcode_and_the_links() {
    let mut ring = Ring::new(16).unwrap();
    let ops = vec![
        Either::Left(Nop::new().user_data(1)),
        Either::Right(Timeout::new(Duration::from_millis(1)).user_data(2)),
        Either::Left(Nop::new().user_data(3)),
    ];
    ring.push_linked(Linked::new(ops)).unwrap();
    let link = sys::IOSQE_IO_LINK;
    assert_eq!(
        pending(&mut ring),
        [
            (sys::IORING_OP_NOP, link),
            (sys::IORING_OP_TIMEOUT, link),
            (sys::IORING_OP_NOP, 0)
        ]
    );
    // A timeout that fires ends with ETIME, which a soft link counts as a
    // failure: the NOP after it is cancelled.
    assert_eq!(
        pairs(&submit_and_reap(&mut ring, 3)),
        [(1, 0), (2, -libc::ETIME), (3, -libc::ECANCELED)]
    );
    // Hard links run the rest whatever the results.
    ring.push_linked(Linked::hard(vec![
        Either::Right(Timeout::new(Duration::from_millis(1)).user_data(4)),
        Either::Left(Nop::new().user_data(5)),
    ]))
    .unwrap();
    let hard = sys::IOSQE_IO_HARDLINK;
    assert_eq!(
        pending(&mut ring),
        [(sys::IORING_OP_TIMEOUT, hard), (sys::IORING_OP_NOP, 0)]
    );
    assert_eq!(
        pairs(&submit_and_reap(&mut ring, 2)),
        [(4, -libc::ETIME), (5, 0)]
    );
}

#[test]
fn an_either_writes_the_same_sqe_as_its_side_alone() {
    let mut ring = Ring::new(16).unwrap();
    ring.push(Nop::new().user_data(7)).unwrap();
    ring.push(Either::<_, Timeout>::Left(Nop::new().user_data(7)))
        .unwrap();
    let timeout = || Timeout::new(Duration::from_secs(3)).count(2).user_data(8);
    ring.push(timeout()).unwrap();
    ring.push(Either::<Nop, _>::Right(timeout())).unwrap();
    let bytes = pending_bytes(&mut ring);
    assert_eq!(bytes.len(), 4);
    assert_eq!(bytes[0], bytes[1], "a NOP, alone and in an Either");
    // The timespecs live in ring-owned storage beside each SQE: the
    // addresses differ, every other byte is the same.
    let (a, b) = (&bytes[2], &bytes[3]);
    assert_eq!(a[..16], b[..16]);
    assert_eq!(a[24..], b[24..]);
    // Borrowing ops too, through the unsafe floor.
    static DATA: [u8; 8] = *b"abcdefgh";
    let (_r, w) = pipe();
    let write = || Write::new(&w, &DATA[..]).offset(3).user_data(9);
    let mut ring = Ring::new(16).unwrap();
    // SAFETY: `DATA` is static, and `w` outlives the ring's use of it (the
    // ring is dropped first, waiting for its ops).
    unsafe {
        ring.push_unchecked(write()).unwrap();
        ring.push_unchecked(Either::<_, Nop>::Left(write()))
            .unwrap();
    }
    let bytes = pending_bytes(&mut ring);
    assert_eq!(bytes[0], bytes[1], "a write, alone and in an Either");
    drop(ring);
}

#[test]
fn a_failed_write_cancels_the_fsync_linked_after_it() {
    let _watch = uring_tests::watchdog();
    let file = temp_file();
    let data = uring_tests::pattern(512, 3);
    let mut ring = Ring::new(16).unwrap();
    let got = ring.scope(|s| {
        let ops = vec![
            Either::Left(Write::new(&file, &data[..]).user_data(1)),
            Either::Left(Write::new(bad_fd(), &data[..]).user_data(2)),
            Either::Right(Fsync::new(&file).user_data(3)),
        ];
        s.push_linked(Linked::new(ops)).unwrap();
        scope_reap(s, 3)
    });
    assert_eq!(got, [(1, 512), (2, -libc::EBADF), (3, -libc::ECANCELED)]);
}

#[test]
fn an_either_links_and_takes_a_link_timeout() {
    let _watch = uring_tests::watchdog();
    let (r, _w) = pipe();
    let mut buf = [0u8; 8];
    let mut ring = Ring::new(16).unwrap();
    let got = ring.scope(|s| {
        // A read of an empty pipe, bounded by a link timeout: cancelled.
        let read = Either::<_, Nop>::Left(Read::new(&r, &mut buf[..]).user_data(1));
        s.push(read.timeout_with(Duration::from_millis(5), 2))
            .unwrap();
        // An op linked before and after one.
        let chain = Nop::new()
            .user_data(3)
            .link(Either::<Nop, Nop>::Right(Nop::new().user_data(4)))
            .link(Nop::new().user_data(5));
        s.push(chain).unwrap();
        let mut got = scope_reap(s, 5);
        got.sort();
        got
    });
    assert_eq!(
        got,
        [
            (1, -libc::ECANCELED),
            (2, -libc::ETIME),
            (3, 0),
            (4, 0),
            (5, 0)
        ]
    );
    // Started from an Either.
    let chain =
        Either::<Nop, Nop>::Left(Nop::new().user_data(6)).hard_link(Nop::new().user_data(7));
    ring.push(chain).unwrap();
    assert_eq!(
        pending(&mut ring),
        [
            (sys::IORING_OP_NOP, sys::IOSQE_IO_HARDLINK),
            (sys::IORING_OP_NOP, 0)
        ]
    );
    assert_eq!(pairs(&submit_and_reap(&mut ring, 2)), [(6, 0), (7, 0)]);
}

#[test]
fn three_kinds_in_one_chain_through_a_nested_either() {
    let _watch = uring_tests::watchdog();
    let file = temp_file();
    let data = uring_tests::pattern(100, 9);
    let mut back = [0u8; 100];
    let mut ring = Ring::new(16).unwrap();
    let got = ring.scope(|s| {
        let write = Write::new(&file, &data[..]).user_data(1);
        let fsync = Fsync::new(&file).user_data(2);
        let read = Read::new(&file, &mut back[..]).user_data(3);
        let ops = vec![
            Either::Left(write),
            Either::Right(Either::Left(fsync)),
            Either::Right(Either::Right(read)),
        ];
        s.push_linked(Linked::new(ops)).unwrap();
        scope_reap(s, 3)
    });
    assert_eq!(got, [(1, 100), (2, 0), (3, 100)]);
    assert_eq!(back[..], data[..]);
}

#[test]
fn a_registered_file_of_another_ring_refuses_the_either() {
    let file = temp_file();
    let mut other = Ring::new(4).unwrap();
    let files = other.register_files(&[file.as_fd()]).unwrap();
    let foreign = files.get(0).unwrap();
    let data = [1u8; 16];
    let mut ring = Ring::new(8).unwrap();
    ring.scope(|s| {
        let op = Either::<_, Nop>::Left(Write::new(foreign, &data[..]).user_data(1));
        let err = s.push(op).unwrap_err();
        assert_eq!(err.kind(), PushErrorKind::ForeignFile);
        // The whole chain comes back, the Either first in it.
        let chain = Linked::new(vec![
            Either::Right(Nop::new().user_data(2)),
            Either::Left(Write::new(foreign, &data[..]).user_data(3)),
        ]);
        let err = s.push_linked(chain).unwrap_err();
        assert_eq!(err.kind(), PushErrorKind::ForeignFile);
        assert_eq!(err.into_inner().len(), 2);
    });
    assert_eq!(ring.submission().len(), 0, "nothing was pushed");
}

#[test]
fn zero_copy_sends_mixed_with_plain_sends_settle_their_notifications() {
    let _watch = uring_tests::watchdog();
    let (tx, mut rx) = uring_tests::tcp_pair();
    let parts: Vec<Vec<u8>> = (0..6).map(|i| uring_tests::pattern(1000, i)).collect();
    let mut ring = Ring::new(32).unwrap();
    let got = ring.scope(|s| {
        let ops: Vec<Either<_, _>> = parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                if i % 2 == 0 {
                    Either::Left(SendZc::new(&tx, &p[..]).user_data(i as u64))
                } else {
                    Either::Right(Send::new(&tx, &p[..]).user_data(i as u64))
                }
            })
            .collect();
        s.push_linked(Linked::new(ops)).unwrap();
        s.submit().unwrap();
        let mut cqes = Vec::new();
        // Six sends, and three notifications.
        while cqes.len() < 9 {
            s.submit_and_wait(1).unwrap();
            cqes.extend(s.completions().map(|c| (c.user_data(), c.res(), c.flags())));
        }
        cqes
    });
    let sends: Vec<(u64, i32)> = got
        .iter()
        .filter(|c| c.2 & sys::IORING_CQE_F_NOTIF == 0)
        .map(|c| (c.0, c.1))
        .collect();
    assert_eq!(
        sends,
        (0..6).map(|i| (i, 1000)).collect::<Vec<_>>(),
        "every send, in order"
    );
    let mut notified: Vec<u64> = got
        .iter()
        .filter(|c| c.2 & sys::IORING_CQE_F_NOTIF != 0)
        .map(|c| c.0)
        .collect();
    notified.sort();
    assert_eq!(notified, [0, 2, 4], "one notification per zero-copy send");
    let mut received = vec![0u8; 6000];
    rx.read_exact(&mut received).unwrap();
    uring_tests::net::assert_kernel_bytes(&received, &parts.concat(), "the stream");
}

/// The kernel's drain never issues a zero-copy send it defers: in a scope,
/// a zero-copy send inside an `Either` is kept from a drained chain as one
/// pushed alone is (it fails with `EINVAL`), and once the ring took a
/// drain, an `Either` that may hold one comes back (`AfterDrain`), even
/// holding its other side. Run in a process of its own: a failure hangs.
#[test]
fn an_either_that_may_hold_a_zero_copy_send_keeps_clear_of_drains() {
    const NAME: &str = "an_either_that_may_hold_a_zero_copy_send_keeps_clear_of_drains";
    uring_tests::in_own_process(NAME, "a zero-copy send held by a drain", || {
        let _watch = uring_tests::watchdog();
        let (tx, mut rx) = uring_tests::tcp_pair();
        let data = uring_tests::pattern(64, 1);
        let mut ring = Ring::new(16).unwrap();
        ring.scope(|s| {
            let chain = Linked::new(vec![
                Either::Right(Nop::new().flags(uring::SqeFlags::IO_DRAIN).user_data(1)),
                Either::Left(SendZc::new(&tx, &data[..]).user_data(2)),
            ]);
            s.push_linked(chain).unwrap();
            let got = scope_reap(s, 2);
            assert_eq!(got, [(1, 0), (2, -libc::EINVAL)]);
            // The ring took a drain: an Either with a zero-copy side comes
            // back whole, whichever side it holds.
            let op = Either::<SendZc<'_, uring::Fd<'_>>, Nop>::Right(Nop::new().user_data(3));
            let refused = s.push(op).unwrap_err();
            assert_eq!(refused.kind(), PushErrorKind::AfterDrain);
            assert!(matches!(refused.into_inner(), Either::Right(_)));
            // One without such a side is taken.
            s.push(Either::<Nop, Nop>::Left(Nop::new().user_data(4)))
                .unwrap();
            assert_eq!(scope_reap(s, 1), [(4, 0)]);
        });
        drop(tx);
        let mut received = Vec::new();
        rx.read_to_end(&mut received).unwrap();
        assert!(received.is_empty(), "nothing was sent: {received:?}");
    });
}
