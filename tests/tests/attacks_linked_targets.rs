//! Safe-code attacks on chains of run-time length (`Linked`), hand-written
//! SQE slots (`Ring::next_sqe`) and rings named from other threads
//! (`RingTarget`): each tries to make the kernel write memory the program
//! no longer lends, and checks with canaries that it cannot.

use std::io::{Read as _, Write as _};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::thread;

use uring::ops::{MsgRing, Nop, Recv};
use uring::sys::{self, io_uring_sqe_addr};
use uring::{Linked, PushErrorKind, Ring};
use uring_tests::{assert_nothing_writes_after, pairs, submit_and_reap};

const CANARY: u8 = 0xa5;

/// Receives linked in one chain wait on sockets; the scope's body panics.
/// The scope cancels and waits for every element before the buffers go: no
/// byte sent afterwards reaches them.
#[test]
fn a_scope_that_panics_with_a_linked_chain_in_flight_lends_nothing_after() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(16).unwrap();
    let mut pairs_: Vec<(UnixStream, UnixStream)> =
        (0..4).map(|_| UnixStream::pair().unwrap()).collect();
    let mut bufs = [[CANARY; 32]; 4];
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ring.scope(|s| {
            let recvs = bufs
                .iter_mut()
                .zip(&pairs_)
                .enumerate()
                .map(|(i, (buf, (rx, _)))| Recv::new(rx, &mut buf[..]).user_data(i as u64))
                .collect();
            s.push_linked(Linked::hard(recvs)).unwrap();
            s.submit().unwrap();
            panic!("the scope's body fails with the chain in flight");
        })
    }));
    assert!(panicked.is_err());
    let mut writers: Vec<&mut UnixStream> = pairs_.iter_mut().map(|(_, tx)| tx).collect();
    let views: Vec<&[u8]> = bufs.iter().map(|b| &b[..]).collect();
    assert_nothing_writes_after(&mut writers, &views, CANARY);
}

/// A batch given to `mem::forget` right after a chain was pushed through
/// it: the scope still knows of every element and waits for them.
#[test]
fn a_forgotten_batch_hides_no_linked_element() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(16).unwrap();
    let (rx, mut tx) = UnixStream::pair().unwrap();
    let mut bufs = [[CANARY; 8]; 3];
    let seen = ring.scope(|s| {
        {
            let mut sq = s.submission();
            let recvs = bufs
                .iter_mut()
                .enumerate()
                .map(|(i, buf)| Recv::new(&rx, &mut buf[..]).user_data(i as u64))
                .collect();
            sq.push_linked(Linked::new(recvs)).unwrap();
            std::mem::forget(sq);
        }
        s.in_flight()
    });
    assert_eq!(seen, 3, "the scope counted every element");
    // The scope ended: it cancelled the chain and waited. Nothing written
    // now reaches the buffers.
    let _ = tx.write_all(b"late data");
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(bufs.iter().flatten().all(|&b| b == CANARY));
}

/// A slot written with a receive into a stack buffer and dropped
/// uncommitted: submits, waits and a NOP pushed after it never hand the
/// receive to the kernel.
#[test]
fn an_uncommitted_slot_never_reaches_the_kernel() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    let (rx, mut tx) = UnixStream::pair().unwrap();
    let mut buf = [CANARY; 16];
    {
        let mut sqe = ring.next_sqe().unwrap();
        sqe.opcode = sys::IORING_OP_RECV;
        sqe.fd = rx.as_raw_fd();
        sqe.addr = io_uring_sqe_addr {
            addr: buf.as_mut_ptr() as u64,
        };
        sqe.len = buf.len() as u32;
        sqe.user_data = 77;
    }
    ring.submit().unwrap();
    ring.push(Nop::new().user_data(1)).unwrap();
    assert_eq!(pairs(&submit_and_reap(&mut ring, 1)), [(1, 0)]);
    tx.write_all(b"for nobody").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(buf.iter().all(|&b| b == CANARY), "{buf:?}");
    let mut got = [0u8; 10];
    let mut rx = rx;
    rx.set_nonblocking(true).unwrap();
    assert_eq!(rx.read(&mut got).unwrap(), 10, "the bytes are still queued");
    assert!(ring.completions().next().is_none());
}

/// Another thread holds a target and forges, at full speed, completions
/// carrying every tag it can read in `/proc/self/fdinfo` while this thread
/// begins scopes over and over: each scope refuses its receive (so it lends
/// nothing) as long as the target lives.
#[test]
fn scopes_lend_nothing_while_another_thread_forges_completions() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(64).unwrap();
    let fd = ring.as_raw_fd();
    let target = ring.msg_target().unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (rx, _tx) = UnixStream::pair().unwrap();
    thread::scope(|t| {
        let target = &target;
        let stop = &stop;
        t.spawn(move || {
            let mut sender = Ring::new(8).unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut values = uring_tests::fdinfo_user_data(fd);
                values.extend([0, 1 << 63, u64::MAX]);
                sender.scope(|s| {
                    for v in values.iter().take(6) {
                        let _ = s.push(MsgRing::new(target, 4, *v));
                    }
                    let _ = s.submit();
                });
            }
        });
        for round in 0..200 {
            let mut buf = [CANARY; 8];
            ring.scope(|s| {
                let refused = s
                    .push(Recv::new(&rx, &mut buf[..]).user_data(5))
                    .expect_err("a target lives");
                assert_eq!(refused.kind(), PushErrorKind::Targeted, "round {round}");
                for cqe in s.completions() {
                    assert!(!cqe.is_scope_op(), "round {round}: {cqe:?}");
                }
            });
            assert!(buf.iter().all(|&b| b == CANARY));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    // Drain what the forger posted; the ring takes ops again once the
    // target is gone.
    drop(target);
    while ring.completions().count() > 0 {}
    let cqe = uring_tests::complete(&mut ring, Nop::new().user_data(8));
    assert_eq!((cqe.user_data(), cqe.res()), (8, 0));
}
