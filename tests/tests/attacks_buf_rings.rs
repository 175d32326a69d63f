//! Attacks on provided-buffer rings from safe code only: every way the
//! bytes a claim lends (which buffers, where in them, how many, and when a
//! buffer goes back to the kernel) could disagree with what the kernel did
//! to the ring, so that the kernel later writes into a live `Buf` or
//! `RingBuf`, or gets a buffer back while it still holds part of it.
//!
//! The paths tried: a bundle claimed after the ring's 16-bit positions
//! wrapped; a receive bundle flagged `MSG_WAITALL` on a plain ring (the
//! kernel retries it into buffers it never charged the ring for); a reactor
//! op queued with another reactor's group, completed before the reactor
//! registered that group itself; selections shorter than the buffer on an
//! incremental ring, consumed at selection by a regular-file read and by an
//! io-wq worker; a bundle receive the kernel retries and appends to on an
//! incremental ring; a truncated datagram charged over several incremental
//! buffers; receives cancelled after their worker took a buffer, and reads
//! that fail after selecting one.
//!
//! Each test asserts what the kernel really did, and the safe outcome: the
//! first three failed before the fixes they came with (positions counted
//! in 64 bits, bundles flagged `MSG_WAITALL` refused, a reactor op refused
//! a group the reactor did not register).

use std::cell::RefCell;
use std::io::Write as _;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::rc::Rc;
use std::time::Duration;

use uring::ops::{Read, Recv};
use uring::reactor::ops::RecvRing;
use uring::reactor::{Reactor, RingBuf, SharedFd};
use uring::{Buf, BufRing, BufferGroup, BufferSelect, MsgFlags, RecvFlags, Ring, SqeFlags};
use uring_tests::{PATIENCE, incremental_buf_ring, plain_buf_ring, tcp_pair};

/// Whether the kernel has receive and send bundles (6.10), with a skip
/// message if not.
fn bundles(ring: &Ring) -> bool {
    uring_tests::require_features(ring, uring::Features::RECVSEND_BUNDLE, "bundles")
}

/// What each live `Buf` shows now.
fn contents(held: &[Buf<'_>]) -> Vec<Vec<u8>> {
    held.iter().map(|b| b.to_vec()).collect()
}

/// Fails if two live `Buf`s lend overlapping bytes of one buffer.
fn assert_disjoint(held: &[Buf<'_>]) {
    for (i, a) in held.iter().enumerate() {
        for b in &held[i + 1..] {
            let overlap = a.bid() == b.bid()
                && a.offset() < b.offset() + b.len()
                && b.offset() < a.offset() + a.len();
            assert!(!overlap, "two live Bufs lend the same bytes: {a:?}, {b:?}");
        }
    }
}

/// Fails unless the kernel holds at most one copy of each buffer: the ring
/// never offers more positions than the pool has buffers.
fn assert_not_overfull(pool: &BufRing) {
    let available = pool.available().unwrap();
    assert!(
        available <= pool.count(),
        "the ring offers {available} positions for {} buffers: one is in it twice",
        pool.count()
    );
}

/// A bundle receive takes buffers 0 and 1 (ring positions 0 and 1); its
/// completion is kept unclaimed while buffer 2 goes round the ring 65535
/// times (each read of it claimed and dropped), until buffer 2 is provided
/// again at position 65537, which is position 1 in 16 bits. The claim of the
/// old bundle then looks for its second buffer at position 1, finds buffer
/// 2 there (in the ring, untouched, "provided at position 1"), and lends it
/// instead of buffer 1, which the kernel filled. The next read picks buffer
/// 2 from the ring and writes into the lent `Buf`.
#[test]
fn a_bundle_claimed_after_the_ring_positions_wrapped_lends_no_buffer_still_in_the_ring() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !bundles(&ring) {
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 60, 3, 16) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let cycled = uring_tests::file_of(&[0xee; 16]);
    let last = uring_tests::file_of(&[0x77; 16]);
    let sent = uring_tests::pattern(20, 60);
    ring.scope(|s| {
        tx.write_all(&sent).unwrap();
        s.push(
            Recv::new(&rx, pool.select())
                .recv_flags(RecvFlags::BUNDLE)
                .user_data(1),
        )
        .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut bundle = s.completions().next().unwrap();
        assert_eq!(bundle.res(), 20, "{:?}", bundle.cqe());
        assert_eq!(bundle.buffer_id(), Some(0));
        // Buffer 2 goes round: provided again at positions 3, 4, ...,
        // 65537 (1 in 16 bits).
        for round in 0..65535u32 {
            s.push(Read::new(&cycled, pool.select()).user_data(2))
                .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!(buf.bid(), 2, "round {round}");
        }
        let Ok(held) = pool.claim_bundle(&mut bundle) else {
            // Refused: nothing is lent.
            return;
        };
        let before = contents(&held);
        // Buffer 2 is in the ring: the next read takes it.
        s.push(Read::new(&last, pool.select()).user_data(3))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let read = s.completions().next().unwrap().cqe();
        assert_eq!(
            before,
            contents(&held),
            "the kernel wrote into a lent buffer for {read:?}: {held:?}"
        );
        let got: Vec<u8> = before.concat();
        assert_eq!(
            got, sent,
            "the claim lends what the bundle received: {held:?}"
        );
    });
}

/// A receive bundle flagged `MSG_WAITALL` on a plain ring maps buffers 0
/// to 3 (64 bytes), receives 20, and is retried: the kernel charges the
/// ring for the two buffers those 20 bytes touched only, then writes the
/// next 44 bytes on into buffers 2 and 3 while they stay in the ring, and
/// completes with 64 bytes and no more charge. `claim_bundle` lends all
/// four buffers; the next read takes buffer 2, still in the ring, and
/// writes into its `Buf`. (A scope refuses `MSG_WAITALL` only on
/// incremental groups.)
#[test]
fn a_waitall_bundle_on_a_plain_ring_lends_no_buffer_still_in_the_ring() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !bundles(&ring) {
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 61, 4, 16) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let last = uring_tests::file_of(&[0x77; 16]);
    ring.scope(|s| {
        tx.write_all(&[0x11; 20]).unwrap();
        s.push(
            Recv::new(&rx, BufferSelect::new(pool.group(), 64))
                .recv_flags(RecvFlags::BUNDLE)
                .msg_flags(MsgFlags::WAITALL)
                .user_data(1),
        )
        .unwrap();
        s.submit().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        tx.write_all(&[0x22; 44]).unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let mut cqe = s.completions().next().unwrap();
        if cqe.res() < 0 {
            // Refused: the data stays in the socket, nothing is lent.
            assert_eq!(cqe.res(), -libc::EINVAL, "{:?}", cqe.cqe());
            return;
        }
        let Ok(held) = pool.claim_bundle(&mut cqe) else {
            return;
        };
        let before = contents(&held);
        s.push(Read::new(&last, pool.select()).user_data(2))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let read = s.completions().next().unwrap().cqe();
        assert_eq!(
            before,
            contents(&held),
            "the kernel wrote into a lent buffer for {read:?}: {held:?}"
        );
        drop(held);
        assert_not_overfull(&pool);
    });
}

/// A reactor over a ring that already has a buffer ring of group 7 (kept
/// by the program) queues a receive with group 7 of another reactor: the
/// kernel fills buffer 0 of the program's ring. The program's ring goes,
/// and the reactor registers group 7 itself before it reads the
/// completion, which it then claims from its new ring: its buffer 0,
/// which is in the kernel's ring and never received anything. The next
/// receive fills that buffer under the `RingBuf`.
#[test]
fn a_reactor_never_claims_from_a_ring_registered_after_its_op_selected() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(program_s) = plain_buf_ring(&mut ring, 7, 1, 64) else {
        return;
    };
    let reactor = Reactor::from_ring(ring).unwrap();
    let other = Reactor::new().unwrap();
    let foreign = other
        .handle()
        .register_buf_ring(BufferGroup::new(7), 1, 64)
        .unwrap();
    let (a, mut peer) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(a);
    let handle = reactor.handle();
    type Got = Rc<RefCell<Vec<(std::io::Result<u32>, Option<RingBuf>)>>>;
    let got: Got = Rc::default();
    peer.write_all(&[0x11; 8]).unwrap();
    let sink = Rc::clone(&got);
    let queued = handle.queue(RecvRing::new(&fd, foreign), move |r, b| {
        sink.borrow_mut().push((r, b))
    });
    if queued.is_err() {
        // Refused: the group is not this reactor's.
        return;
    }
    handle.submit().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    drop(program_s);
    let own = handle
        .register_buf_ring(BufferGroup::new(7), 1, 64)
        .unwrap();
    reactor.run().unwrap();
    let (result, buf) = got.borrow_mut().pop().expect("the receive's callback ran");
    let Some(first) = buf else {
        // Refused: the group is not one the reactor registered.
        assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::EINVAL));
        return;
    };
    let before = first.to_vec();
    peer.write_all(&[0x22; 8]).unwrap();
    let sink = Rc::clone(&got);
    handle
        .queue(RecvRing::new(&fd, own), move |r, b| {
            sink.borrow_mut().push((r, b))
        })
        .unwrap();
    reactor.run().unwrap();
    assert_eq!(
        first.to_vec(),
        before,
        "the kernel wrote into a live RingBuf (bid {})",
        first.bid()
    );
    assert_eq!(before, [0x11; 8], "the RingBuf shows what its receive got");
}

/// Reads of a regular file select a buffer of an incremental ring with a
/// length shorter than what is left of it. The kernel consumes what it
/// selected at once (the file cannot be polled), and says with
/// `IORING_CQE_F_BUF_MORE` that it keeps the rest: claims lend only bytes
/// the kernel is done with, no two live `Buf`s overlap, and no later read
/// writes into one.
#[test]
fn short_selections_read_from_a_file_lend_nothing_the_kernel_refills() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = incremental_buf_ring(&mut ring, 62, 3, 64) else {
        return;
    };
    let file = uring_tests::file_of(&uring_tests::pattern(512, 62));
    ring.scope(|s| {
        let mut held = Vec::new();
        let mut seen = Vec::new();
        for (i, len) in [16u32, 0, 8, 0, 0, 24, 0, 0].into_iter().enumerate() {
            let select = if len == 0 {
                pool.select()
            } else {
                BufferSelect::new(pool.group(), len)
            };
            s.push(
                Read::new(&file, select)
                    .offset(i as u64 * 50)
                    .user_data(i as u64),
            )
            .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            seen.push(cqe.cqe());
            if let Ok(buf) = pool.claim(&mut cqe) {
                // The first short piece is dropped at once: given back if
                // the claim thinks the kernel is done with the buffer.
                if i == 0 {
                    drop(buf);
                } else {
                    held.push(buf);
                }
            }
            assert_disjoint(&held);
        }
        let before = contents(&held);
        for i in 8..11u64 {
            s.push(Read::new(&file, pool.select()).offset(i * 7).user_data(i))
                .unwrap();
            s.submit_and_wait(1).unwrap();
            seen.push(s.completions().next().unwrap().cqe());
        }
        assert_eq!(
            before,
            contents(&held),
            "the kernel wrote into a lent buffer: {seen:?}"
        );
        drop(held);
        assert_not_overfull(&pool);
    });
}

/// Receives forced into an io-wq worker (`IOSQE_ASYNC`) select short pieces
/// of an incremental ring: the worker consumes what it selected at once,
/// whatever it receives. Claims never lend bytes the kernel still holds:
/// the live `Buf`s stay as they were while later receives fill the ring.
#[test]
fn short_selections_taken_by_a_worker_lend_nothing_the_kernel_refills() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = incremental_buf_ring(&mut ring, 63, 3, 64) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    ring.scope(|s| {
        let mut held = Vec::new();
        let mut seen = Vec::new();
        for (i, len) in [16u32, 8, 0, 12, 0, 0, 4, 0].into_iter().enumerate() {
            tx.write_all(&uring_tests::pattern(10, i as u8)).unwrap();
            let select = if len == 0 {
                pool.select()
            } else {
                BufferSelect::new(pool.group(), len)
            };
            s.push(
                Recv::new(&rx, select)
                    .flags(SqeFlags::ASYNC)
                    .user_data(i as u64),
            )
            .unwrap();
            s.submit().unwrap();
            s.wait_timeout(1, PATIENCE).unwrap();
            let mut cqe = s.completions().next().unwrap();
            seen.push(cqe.cqe());
            if let Ok(buf) = pool.claim(&mut cqe) {
                if i % 3 == 0 {
                    drop(buf);
                } else {
                    held.push(buf);
                }
            }
            assert_disjoint(&held);
            let before = contents(&held);
            tx.write_all(&[0x5a; 30]).unwrap();
            s.push(Recv::new(&rx, pool.select()).user_data(100 + i as u64))
                .unwrap();
            s.submit().unwrap();
            s.wait_timeout(1, PATIENCE).unwrap();
            let mut extra = s.completions().next().unwrap();
            seen.push(extra.cqe());
            assert_eq!(
                before,
                contents(&held),
                "the kernel wrote into a lent buffer: {seen:?}"
            );
            drop(pool.claim(&mut extra));
        }
        drop(held);
        assert_not_overfull(&pool);
    });
}

/// A bundle receive on an incremental ring that the kernel retries and
/// appends to (more data came in during the first transfer): the first
/// round uses buffer 0 up, the second takes part of buffer 1. The
/// completion keeps `IORING_CQE_F_BUF_MORE` for buffer 1, so its claim
/// does not give buffer 1 back while the kernel still fills it, and no
/// later receive writes into the lent bytes.
#[test]
fn a_bundle_retried_on_an_incremental_ring_keeps_the_buffer_it_left_half_full() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !bundles(&ring) {
        return;
    }
    let Some(pool) = incremental_buf_ring(&mut ring, 64, 4, 64) else {
        return;
    };
    let (mut tx, rx) = tcp_pair();
    let sent = uring_tests::pattern(100, 64);
    tx.write_all(&sent).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    ring.scope(|s| {
        let mut held = Vec::new();
        let mut seen = Vec::new();
        s.push(
            Recv::new(&rx, pool.select())
                .recv_flags(RecvFlags::BUNDLE)
                .user_data(1),
        )
        .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        seen.push(cqe.cqe());
        let bufs = pool.claim_bundle(&mut cqe).unwrap();
        let got: Vec<u8> = bufs.iter().flat_map(|b| b.to_vec()).collect();
        assert_eq!(got, sent[..got.len()], "{seen:?}");
        held.extend(bufs);
        let before = contents(&held);
        for i in 2..6u64 {
            tx.write_all(&uring_tests::pattern(40, i as u8)).unwrap();
            s.push(Recv::new(&rx, pool.select()).user_data(i)).unwrap();
            s.submit().unwrap();
            s.wait_timeout(1, PATIENCE).unwrap();
            seen.push(s.completions().next().unwrap().cqe());
        }
        assert_eq!(
            before,
            contents(&held),
            "the kernel wrote into a lent buffer: {seen:?}"
        );
    });
}

/// A datagram received with `MSG_TRUNC` into an incremental ring: the
/// kernel would write 16 bytes into buffer 0 and charge the ring the
/// datagram's whole length, 40 bytes, through buffers 0, 1 and half of 2,
/// whose bytes it never wrote. The scope refuses the receive (`EINVAL`,
/// nothing charged), and the datagram, still queued, and the next ones
/// land in the buffers in order, each claim lending exactly its bytes.
#[test]
fn a_truncating_receive_from_an_incremental_ring_is_refused_and_charges_nothing() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = incremental_buf_ring(&mut ring, 65, 4, 16) else {
        return;
    };
    let (tx, rx) = UnixDatagram::pair().unwrap();
    ring.scope(|s| {
        tx.send(&[0x11; 40]).unwrap();
        s.push(
            Recv::new(&rx, pool.select())
                .msg_flags(MsgFlags::TRUNC)
                .user_data(1),
        )
        .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.res(), -libc::EINVAL, "{:?}", cqe.cqe());
        assert_eq!(cqe.buffer_id(), None, "{:?}", cqe.cqe());
        assert!(pool.claim_bundle(&mut cqe).is_err());
        assert_eq!(pool.head().unwrap(), 0, "nothing charged");
        let mut held = Vec::new();
        let mut wants = Vec::new();
        let mut seen = Vec::new();
        for (i, n) in [16usize, 8, 4].into_iter().enumerate() {
            if i > 0 {
                tx.send(&vec![0x30 + i as u8; n]).unwrap();
            }
            s.push(Recv::new(&rx, pool.select()).user_data(2 + i as u64))
                .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut next = s.completions().next().unwrap();
            seen.push(next.cqe());
            let buf = pool.claim(&mut next).unwrap();
            let want = if i == 0 {
                vec![0x11; 16]
            } else {
                vec![0x30 + i as u8; n]
            };
            assert_eq!(buf[..], want[..], "{seen:?}");
            held.push(buf);
            wants.push(want);
            assert_disjoint(&held);
        }
        for (buf, want) in held.iter().zip(&wants) {
            assert_eq!(buf[..], want[..], "a lent buffer changed: {seen:?}");
        }
    });
}

/// A receive forced into an io-wq worker finds no data: the worker takes a
/// buffer (charging the ring for it at once) and waits; the receive is
/// cancelled. Its completion names the buffer; claimed and dropped, the
/// buffer is in the ring once, not twice, and a later receive's bytes do
/// not land in a live `Buf`.
#[test]
fn a_receive_cancelled_after_its_worker_took_a_buffer_gives_it_back_once() {
    let _watch = uring_tests::watchdog();
    for incremental_ring in [false, true] {
        let mut ring = Ring::new(8).unwrap();
        let pool = if incremental_ring {
            incremental_buf_ring(&mut ring, 66, 2, 64)
        } else {
            plain_buf_ring(&mut ring, 66, 2, 64)
        };
        let Some(pool) = pool else {
            return;
        };
        let (mut tx, rx) = UnixStream::pair().unwrap();
        ring.scope(|s| {
            s.push(
                Recv::new(&rx, pool.select())
                    .flags(SqeFlags::ASYNC)
                    .user_data(1),
            )
            .unwrap();
            s.submit().unwrap();
            std::thread::sleep(Duration::from_millis(30));
            s.cancel(1).unwrap();
            s.submit().unwrap();
            let mut held = Vec::new();
            let mut seen = Vec::new();
            while seen.iter().all(|c: &uring::Cqe| c.user_data() != 1) {
                s.wait_timeout(1, PATIENCE).unwrap();
                for mut cqe in s.completions() {
                    seen.push(cqe.cqe());
                    if cqe.user_data() == 1 {
                        assert!(cqe.res() < 0, "{seen:?}");
                        drop(pool.claim(&mut cqe));
                    }
                }
            }
            assert_not_overfull(&pool);
            for i in 2..5u64 {
                tx.write_all(&[i as u8; 24]).unwrap();
                s.push(Recv::new(&rx, pool.select()).user_data(i)).unwrap();
                s.submit().unwrap();
                s.wait_timeout(1, PATIENCE).unwrap();
                let mut cqe = s.completions().next().unwrap();
                seen.push(cqe.cqe());
                let before = contents(&held);
                if let Ok(buf) = pool.claim(&mut cqe) {
                    // A stream: the last receive may get only what is
                    // left of the buffer.
                    assert!(
                        !buf.is_empty() && buf.iter().all(|&b| b == i as u8),
                        "{seen:?}"
                    );
                    held.push(buf);
                }
                assert_eq!(before[..], contents(&held)[..before.len()], "{seen:?}");
                assert_disjoint(&held);
            }
        });
    }
}

/// Reads of a descriptor opened for writing only select a buffer before
/// the kernel finds that out and fails them with `EBADF`: the completion
/// names the buffer. On a plain ring the kernel consumed it, and the claim
/// gives it back once; on an incremental ring (a short selection) it keeps
/// the rest, and the claim keeps it with the kernel.
#[test]
fn a_read_failing_after_it_selected_a_buffer_gives_it_back_once() {
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let write_only = std::fs::File::create(dir.path().join("w")).unwrap();
    let readable = uring_tests::file_of(&[0x44; 64]);
    for incremental_ring in [false, true] {
        let mut ring = Ring::new(8).unwrap();
        let pool = if incremental_ring {
            incremental_buf_ring(&mut ring, 67, 2, 64)
        } else {
            plain_buf_ring(&mut ring, 67, 2, 64)
        };
        let Some(pool) = pool else {
            return;
        };
        ring.scope(|s| {
            let mut held = Vec::new();
            let mut seen = Vec::new();
            for i in 0..3u64 {
                let select = BufferSelect::new(pool.group(), 16);
                s.push(Read::new(&write_only, select).user_data(i)).unwrap();
                s.submit_and_wait(1).unwrap();
                let mut cqe = s.completions().next().unwrap();
                seen.push(cqe.cqe());
                assert_eq!(cqe.res(), -libc::EBADF, "{seen:?}");
                drop(pool.claim(&mut cqe));
                assert_not_overfull(&pool);
            }
            for i in 3..6u64 {
                s.push(Read::new(&readable, pool.select()).user_data(i))
                    .unwrap();
                s.submit_and_wait(1).unwrap();
                let mut cqe = s.completions().next().unwrap();
                seen.push(cqe.cqe());
                let before = contents(&held);
                if let Ok(buf) = pool.claim(&mut cqe) {
                    held.push(buf);
                }
                assert_eq!(before[..], contents(&held)[..before.len()], "{seen:?}");
                assert_disjoint(&held);
            }
        });
    }
}
