//! The soundness bugs and pitfalls that other io_uring libraries and
//! runtimes shipped, tried against this one with safe code only. Each test
//! names the issue it reproduces (repository#number) and asserts that here
//! the bug cannot happen: canary bytes of memory the kernel must not have
//! written (or that a freed buffer would have been reused for), counts of
//! callbacks and descriptors, errnos, the bytes on the wire, and bounds in
//! time instead of hangs.
//!
//! The issues: compio-rs/compio#746 (a cancelled buffer-select op that
//! succeeded anyway never gave its buffer back), axboe/liburing#359 (a
//! failed buffer-select op and its buffer), tokio-rs/tokio#7979 and
//! tokio-rs/tokio#7983 (an op that makes a descriptor, cancelled after the
//! kernel made it, leaks it; here `Socket`, `Pipe` and a multishot accept
//! dropped with connections accepted and unread), tokio-rs/tokio-uring#102
//! and tokio-rs/tokio-uring#158 (a runtime dropped with an outstanding
//! accept hangs), axboe/liburing#110 and tokio-rs/io-uring#302 (a CQ that
//! overflows loses or repeats completions), axboe/liburing#1545 (an
//! incremental buffer that the kernel goes on filling after a receive at
//! the end of the stream posted no `BUF_MORE`), tokio-rs/tokio-uring#160
//! (a panic inside `block_on` while an op is in flight), foyer-rs/foyer#1286
//! and DataDog/glommio#52 (buffers freed by dropped futures while the
//! kernel still writes them), tokio-rs/tokio#8112 (late completions of an
//! op whose slot was freed and reused wake the wrong future),
//! glommio/glommio#46 and netty/netty#17238 (a zero-copy send's buffer
//! handed back, and reused, before the kernel let go of its pages), and
//! mitchellh/libxev#233 (a cancel aimed at a re-armed op hits its next
//! activation), monoio-rs/monoio#379 (a multishot receive dropped with
//! buffers unread), axboe/liburing#733 and tigerbeetle/tigerbeetle#2430
//! (a buffer freed after its op's cancel, before its CQE: here a scope
//! left early or by a panic), axboe/liburing#782 (files resolved lazily,
//! a descriptor closed and its number reused under an op), and
//! chimera-nas/libevpl#165, Thomasdezeeuw/a10#25 and
//! JackKelly/light-speed-io#52 (an SQPOLL thread asleep and never woken).
//! The issue of each is at the head of its test's comment; where the
//! scenario here departs from the original (this library's API differs),
//! the comment says how.
//!
//! Read against Linux 6.18: `io_uring/net.c` (`io_recv`, which recycles
//! the selected buffer when it received nothing, `io_recv_finish`,
//! `io_send_zc` / `io_sendzc_notif`: the notification CQE comes when the
//! last reference to the pages' `ubuf_info` goes), `io_uring/kbuf.c`
//! (`io_kbuf_recycle_ring`, `io_kbuf_inc_commit`, `__io_put_kbufs`: a
//! recycled incremental buffer keeps its head offset), `io_uring/cancel.c`
//! and `io_uring/poll.c` (a cancel that finds the request already
//! completed misses it, and its CQE carries its buffer), `io_uring/io_uring.c`
//! (`io_cqring_event_overflow`, `__io_cqring_overflow_flush`: with
//! `IORING_FEAT_NODROP` overflowed CQEs are kept and flushed in order),
//! `io_uring/openclose.c` (`io_pipe`), `io_uring/sock.c`
//! (`io_socket`), and `io_uring/notif.c`.
//!
//! Every test is safe code.

use std::cell::{Cell, RefCell};
use std::io::{self, Read as _, Write as _};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use uring::reactor::ops::{
    Accept, AcceptMulti, Nop, Pipe, PollMulti, Recv, RecvMulti, RecvRing, SendZc, Socket, Timeout,
};
use uring::reactor::{BufGroup, Reactor, RingBuf, SharedFd};
use uring::{PollEvents, Ring};
use uring_tests::net::{assert_group_whole, group_or_skip, late_reader, slow_pair};
use uring_tests::{incremental_buf_ring, pattern, poll_once, run_for, skip, watchdog};

/// The errno of a result's error, if it is one.
fn errno<T>(r: &io::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(io::Error::raw_os_error)
}

/// An op's name and the errno it ended with.
type Ended = (&'static str, Option<i32>);

/// A receive's result and buffer.
type Received = (io::Result<u32>, Vec<u8>);

/// A connected Unix stream pair: the reactor's end as a `SharedFd`, the
/// peer's as a std socket.
fn unix_pair() -> (SharedFd, StdUnixStream) {
    let (mine, peer) = StdUnixStream::pair().unwrap();
    (SharedFd::new(mine), peer)
}

/// Receives with a ring buffer of `group` on `fd` until it completes, and
/// returns what it received.
fn recv_ring(reactor: &Reactor, fd: &SharedFd, group: BufGroup) -> io::Result<Option<Vec<u8>>> {
    let (r, buf) = reactor
        .run_until(reactor.op(RecvRing::new(fd, group)))
        .unwrap();
    r.map(|n| buf.map(|b| b[..n as usize].to_vec()))
}

// ---------------------------------------------------------------------
// Buffer rings: buffers of ops cancelled, failed, or dropped unread
// ---------------------------------------------------------------------

/// compio-rs/compio#746: "Cancelling managed op on io-uring doesn't return
/// the buffer": a receive that selects a buffer is cancelled, but the
/// kernel had completed it already, with a buffer, and the runtime threw
/// the completion away without giving that buffer back to the ring.
///
/// Here: a group of ONE buffer; the peer's bytes are there before the
/// receive is submitted, so the kernel completes it inline at the submit
/// (taking the buffer); the future is then dropped (its cancel misses).
/// Then the group must still hold its one buffer: the next receive gets the
/// next bytes (not `ENOBUFS`), and the group is whole.
#[test]
fn compio_746_a_ring_receive_cancelled_after_it_completed_gives_its_buffer_back() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 746, 1, 64) else {
        return;
    };
    let mut missed = 0;
    for round in 0..50u8 {
        let (fd, mut peer) = unix_pair();
        peer.write_all(&[round; 10]).unwrap();
        let mut first = h.op(RecvRing::new(&fd, group));
        // Queued at creation; the submit issues it, and the bytes are
        // there: the kernel completes it with buffer 0 at once.
        let _ = poll_once(&mut first);
        h.submit().unwrap();
        drop(first);
        peer.write_all(b"second").unwrap();
        let got = recv_ring(&reactor, &fd, group)
            .unwrap_or_else(|e| panic!("round {round}: the group lost its buffer: {e}"))
            .expect("a buffer");
        // The first receive took the first 10 bytes (its completion was
        // read and dropped with its buffer), or the cancel caught it and
        // this one reads them.
        assert!(
            got == b"second" || got == [round; 10] || got[..10] == [round; 10],
            "round {round}: {got:?}"
        );
        missed += usize::from(got == b"second");
        assert_eq!(h.in_flight(), 0);
    }
    // The kernel completed the dropped receive before its cancel in most
    // rounds: the scenario of the issue was played.
    assert!(missed > 0, "no cancel missed its receive");
    assert_group_whole(&reactor, group, 1, "after 50 dropped receives");
}

/// axboe/liburing#359: "buffer leak when using IOSQE_BUFFER_SELECT": the
/// kernel may consume a provided buffer for an op that fails, and a user
/// who believed the man page ("if successful") leaked it.
///
/// Here: a group of one buffer; receives on TCP sockets whose peer reset
/// the connection fail with `ECONNRESET`, both one issued on the reset
/// socket and one armed (waiting for data, the buffer not yet taken) when
/// the reset arrives. No buffer comes with the error, and the group's one
/// buffer is still there afterwards, every time.
#[test]
fn liburing_359_failed_ring_receives_keep_the_group_whole() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 359, 1, 64) else {
        return;
    };
    for round in 0..20 {
        let (client, server) = uring_tests::tcp_pair();
        let fd = SharedFd::new(client);
        let armed = round % 2 == 1;
        let mut recv = h.op(RecvRing::new(&fd, group));
        if armed {
            assert!(poll_once(&mut recv).is_pending());
            h.submit().unwrap();
            run_for(&reactor, 5);
        }
        uring_tests::reset_on_close(&server);
        drop(server);
        let (r, buf) = reactor.run_until(recv).unwrap();
        assert!(
            matches!(errno(&r), Some(libc::ECONNRESET | libc::EPIPE)),
            "round {round} (armed: {armed}): {r:?}"
        );
        assert!(buf.is_none(), "round {round}: an error came with a buffer");
    }
    assert_eq!(h.in_flight(), 0);
    assert_group_whole(&reactor, group, 1, "after 20 failed receives");
}

/// A multishot receive's stream dropped while it holds items the program
/// never read (compio-rs/compio#746 for multishot ops; the same leak
/// monoio-rs/monoio#379 guards against in its multishot lifecycle): the
/// kernel posted four completions, each with a buffer of the group of
/// four; the program takes one, keeps it, and drops the stream. Every
/// buffer comes back: the one kept when it is dropped, the three unread
/// with the stream; the group is whole.
#[test]
fn monoio_379_a_multishot_receive_dropped_with_unread_items_gives_their_buffers_back() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 379, 4, 16) else {
        return;
    };
    for round in 0..10u8 {
        let (fd, mut peer) = unix_pair();
        let mut rs = h.stream(RecvMulti::new(&fd, group));
        let first = reactor.run_until(async {
            peer.write_all(&[round; 16]).unwrap();
            rs.next().await
        });
        let kept: RingBuf = match first.unwrap() {
            Some(Ok(Some(buf))) => buf,
            other => panic!("round {round}: {other:?}"),
        };
        assert_eq!(&kept[..], &[round; 16]);
        for i in 1..4u8 {
            peer.write_all(&[round ^ i; 16]).unwrap();
        }
        // The three completions are read into the stream, unread.
        run_for(&reactor, 20);
        drop(rs);
        reactor.run().unwrap();
        assert_eq!(h.in_flight(), 0, "round {round}");
        assert_eq!(
            &kept[..],
            &[round; 16],
            "round {round}: a kept buffer changed"
        );
        drop(kept);
    }
    assert_group_whole(&reactor, group, 4, "after ten streams dropped unread");
}

/// axboe/liburing#1545: "IORING_CQE_F_BUF_MORE flag missing when multishot
/// read hits EOF": after a receive at the end of the stream, whose CQE
/// names no buffer and carries no `BUF_MORE`, the kernel goes on filling
/// the same incremental buffer where it left off. A library that took a
/// CQE without `BUF_MORE` as "the buffer is used up" would hand it back
/// (and lend it again from its start) while the kernel still fills it.
///
/// Here: buffer 0 of an incremental ring takes 6 bytes (`BUF_MORE`), held;
/// a receive at the end of that stream completes with 0 and no buffer (no
/// claim); the next receive, on another socket, lands at offset 6 of the
/// same buffer, and the 6 bytes held keep their value.
#[test]
fn liburing_1545_an_incremental_buffer_after_a_receive_at_the_end_continues_where_it_was() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = incremental_buf_ring(&mut ring, 45, 1, 64) else {
        return;
    };
    let (mut tx, rx) = StdUnixStream::pair().unwrap();
    let (mut tx2, rx2) = StdUnixStream::pair().unwrap();
    ring.scope(|s| {
        tx.write_all(&[0x11; 6]).unwrap();
        tx.shutdown(std::net::Shutdown::Write).unwrap();
        s.push(uring::ops::Recv::new(&rx, pool.select()).user_data(1))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut first = s.completions().next().unwrap();
        assert_eq!((first.res(), first.buffer_id()), (6, Some(0)), "{first:?}");
        assert!(
            first.flags() & uring::sys::IORING_CQE_F_BUF_MORE != 0,
            "{first:?}"
        );
        let held = pool.claim(&mut first).unwrap();
        assert_eq!((held.bid(), held.offset()), (0, 0));

        s.push(uring::ops::Recv::new(&rx, pool.select()).user_data(2))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut end = s.completions().next().unwrap();
        assert_eq!((end.user_data(), end.res()), (2, 0), "{end:?}");
        assert_eq!(end.buffer_id(), None, "the end names no buffer: {end:?}");
        assert!(pool.claim(&mut end).is_err(), "nothing to claim at the end");

        tx2.write_all(&[0x22; 10]).unwrap();
        s.push(uring::ops::Recv::new(&rx2, pool.select()).user_data(3))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut next = s.completions().next().unwrap();
        assert_eq!((next.res(), next.buffer_id()), (10, Some(0)), "{next:?}");
        let piece = pool.claim(&mut next).unwrap();
        assert_eq!(
            (piece.bid(), piece.offset(), piece.to_vec()),
            (0, 6, vec![0x22; 10]),
            "the kernel went on where it was"
        );
        assert_eq!(held.to_vec(), vec![0x11; 6], "the held piece changed");
    });
}

// ---------------------------------------------------------------------
// Descriptors made by ops whose futures were dropped
// ---------------------------------------------------------------------

/// tokio-rs/tokio#7979 ("Cancelled io-uring open futures leak fds", fixed
/// by tokio-rs/tokio#7983) for the other ops that make descriptors:
/// `Socket` and `Pipe` futures dropped unpolled (queued, then cancelled,
/// which misses them: both complete inline at the submit), and a multishot
/// accept stream dropped after five connections were accepted and one
/// read. Once nothing is in flight, the process holds the descriptors it
/// held before, plus the five client sockets it keeps. Run in a process
/// of its own, where the count of open descriptors is the test's alone.
#[test]
fn tokio_7979_dropped_socket_pipe_and_accept_ops_leak_no_descriptor() {
    uring_tests::in_own_process(
        "tokio_7979_dropped_socket_pipe_and_accept_ops_leak_no_descriptor",
        "a dropped op that never ended",
        || {
            let reactor = Reactor::new().unwrap();
            let h = reactor.handle();
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let lfd = SharedFd::new(listener);
            let base = uring_tests::open_fd_count();
            for i in 0..200 {
                let mut socket = h.op(Socket::new(libc::AF_INET, libc::SOCK_STREAM));
                let mut pipe = h.op(Pipe::new());
                if i % 2 == 0 {
                    let _ = poll_once(&mut socket);
                    let _ = poll_once(&mut pipe);
                    h.submit().unwrap();
                }
                drop(socket);
                drop(pipe);
            }
            reactor.run().unwrap();
            assert_eq!(h.in_flight(), 0);
            assert_eq!(
                uring_tests::open_fd_count(),
                base,
                "a dropped socket or pipe op left descriptors open"
            );
            // The ops still make descriptors when awaited.
            let (r, made) = reactor
                .run_until(h.op(Socket::new(libc::AF_INET, libc::SOCK_STREAM)))
                .unwrap();
            r.unwrap();
            assert!(made.is_some());
            drop(made);

            let mut accepts = h.stream(AcceptMulti::new(&lfd));
            let mut clients = Vec::new();
            let first = reactor.run_until(async {
                clients.push(std::net::TcpStream::connect(addr).unwrap());
                accepts.next().await
            });
            match first.unwrap() {
                Some(Ok(fd)) => drop(fd),
                other => panic!("the first accept: {other:?}"),
            }
            for _ in 0..4 {
                clients.push(std::net::TcpStream::connect(addr).unwrap());
            }
            run_for(&reactor, 30);
            drop(accepts);
            reactor.run().unwrap();
            assert_eq!(h.in_flight(), 0);
            assert_eq!(
                uring_tests::open_fd_count(),
                base + clients.len(),
                "accepted sockets of a dropped multishot accept stayed open"
            );
            // Each client's connection was accepted and then closed: its
            // peer is gone (a read sees the end, or a reset).
            for (i, mut c) in clients.into_iter().enumerate() {
                c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut b = [0u8; 1];
                let r = c.read(&mut b);
                assert!(
                    matches!(r, Ok(0)) || r.is_err(),
                    "client {i}: its accepted peer is still open ({r:?})"
                );
            }
            assert_eq!(uring_tests::open_fd_count(), base);
        },
    );
}

// ---------------------------------------------------------------------
// Shutdown with ops in flight, panics, overflow
// ---------------------------------------------------------------------

/// tokio-rs/tokio-uring#102: "Hangs on `drop` of `Runtime` if
/// `TcpListener` has an outstanding `accept` op" (tokio-uring#158 cancelled
/// in-flight ops at the driver's drop). Here a reactor is dropped with an
/// accept, a multishot accept, a receive, a multishot poll and an hour's
/// timeout in flight: the drop returns within a second or two, and every
/// callback has run exactly once with `ECANCELED` (the multishot ones with
/// `ECANCELED` as their last item), the receive's buffer back with its
/// canary whole.
#[test]
fn tokio_uring_102_a_reactor_dropped_under_an_accept_ends_every_op_once() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let lfd = SharedFd::new(listener);
    let (fd, _peer) = unix_pair();
    let (pfd, _ppeer) = unix_pair();
    let log: Rc<RefCell<Vec<Ended>>> = Rc::default();
    let l = Rc::clone(&log);
    reactor
        .queue(Accept::new(&lfd), move |r, out| {
            assert!(out.is_none());
            l.borrow_mut().push(("accept", errno(&r)));
        })
        .unwrap();
    let l = Rc::clone(&log);
    reactor
        .queue_multishot(AcceptMulti::new(&lfd), move |item| {
            l.borrow_mut().push(("accept multishot", errno(&item)));
        })
        .unwrap();
    let l = Rc::clone(&log);
    reactor
        .queue(Recv::new(&fd, vec![0xA7u8; 64]), move |r, buf| {
            assert_eq!(buf, vec![0xA7u8; 64], "the receive's canary");
            l.borrow_mut().push(("recv", errno(&r)));
        })
        .unwrap();
    let l = Rc::clone(&log);
    reactor
        .queue_multishot(PollMulti::new(&pfd, PollEvents::IN), move |item| {
            l.borrow_mut().push(("poll multishot", errno(&item)));
        })
        .unwrap();
    let l = Rc::clone(&log);
    reactor
        .queue(Timeout::new(Duration::from_secs(3600)), move |r, ()| {
            l.borrow_mut().push(("timeout", errno(&r)));
        })
        .unwrap();
    reactor.submit().unwrap();
    run_for(&reactor, 10);
    assert!(log.borrow().is_empty(), "{:?}", log.borrow());
    let started = Instant::now();
    drop(reactor);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "the drop took {took:?}");
    let mut seen = log.borrow().clone();
    seen.sort_unstable();
    assert_eq!(
        seen,
        vec![
            ("accept", Some(libc::ECANCELED)),
            ("accept multishot", Some(libc::ECANCELED)),
            ("poll multishot", Some(libc::ECANCELED)),
            ("recv", Some(libc::ECANCELED)),
            ("timeout", Some(libc::ECANCELED)),
        ]
    );
}

/// tokio-rs/tokio-uring#160 (its regression test #159: a panic inside
/// `block_on`): a future driven by `run_until` panics while a receive it
/// made is in flight. The panic comes out of `run_until`; the receive,
/// dropped in the unwinding, is cancelled and its completion read; the
/// reactor runs on: nothing is in flight, and the next receive on the same
/// socket gets exactly the bytes sent after (the cancelled one took none).
#[test]
fn tokio_uring_160_a_panic_inside_run_until_with_an_op_in_flight_leaves_the_reactor_whole() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (fd, mut peer) = unix_pair();
    for round in 0..20u8 {
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            reactor.run_until(async {
                let mut recv = h.op(Recv::new(&fd, vec![0xEEu8; 32]));
                assert!(poll_once(&mut recv).is_pending());
                h.submit().unwrap();
                panic!("a task panics with its receive in flight");
            })
        }));
        assert!(panicked.is_err(), "round {round}: no panic came out");
        reactor.run().unwrap();
        assert_eq!(h.in_flight(), 0, "round {round}");
        peer.write_all(&[round; 5]).unwrap();
        let (r, buf) = reactor
            .run_until(h.op(Recv::new(&fd, vec![0xEEu8; 32])))
            .unwrap();
        assert_eq!(r.unwrap(), 5, "round {round}");
        assert_eq!(&buf[..5], &[round; 5]);
        assert!(buf[5..].iter().all(|&b| b == 0xEE), "round {round}: canary");
    }
}

/// axboe/liburing#110 ("duplicate completion events with the same
/// userdata id" on a small ring under `EBUSY`) and tokio-rs/io-uring#302
/// ("CQ overflowing, but ring is never busy": completions stuck in the
/// overflow list, connections hung): a reactor over a ring of 2 SQ and 4
/// CQ entries, with 3000 NOPs and 300 timeouts that all fire at the same
/// moment queued at once. Every callback runs exactly once, and the run
/// ends.
#[test]
fn liburing_110_a_tiny_ring_s_overflowing_cq_loses_and_repeats_nothing() {
    let _watch = watchdog();
    let ring = Ring::new(2).unwrap();
    let reactor = Reactor::from_ring(ring).unwrap();
    const NOPS: usize = 3000;
    const TIMERS: usize = 300;
    let counts: Rc<Vec<Cell<u32>>> = Rc::new((0..NOPS + TIMERS).map(|_| Cell::new(0)).collect());
    for i in 0..TIMERS {
        let c = Rc::clone(&counts);
        reactor
            .queue(Timeout::new(Duration::from_millis(30)), move |r, ()| {
                assert_eq!(errno(&r), Some(libc::ETIME));
                c[NOPS + i].set(c[NOPS + i].get() + 1);
            })
            .unwrap();
    }
    for i in 0..NOPS {
        let c = Rc::clone(&counts);
        reactor
            .queue(Nop, move |r, ()| {
                assert_eq!(r.unwrap(), 0);
                c[i].set(c[i].get() + 1);
            })
            .unwrap();
    }
    reactor.run().unwrap();
    assert_eq!(reactor.in_flight(), 0);
    let wrong: Vec<(usize, u32)> = counts
        .iter()
        .enumerate()
        .filter(|(_, c)| c.get() != 1)
        .map(|(i, c)| (i, c.get()))
        .take(10)
        .collect();
    assert!(wrong.is_empty(), "callbacks run not once: {wrong:?}");
}

// ---------------------------------------------------------------------
// Memory of dropped futures, late completions, zero-copy sends
// ---------------------------------------------------------------------

/// foyer-rs/foyer#1286 ("Issue reads and immediately drop the handles,
/// freeing the buffers while the kernel still holds raw pointers into
/// them") and DataDog/glommio#52 (a future dropped by a timeout wrapper
/// while its op is in flight): 3000 receives are made, submitted and
/// dropped at once, while a thread keeps writing to their socket; after
/// each drop the program allocates a buffer of the same size, stamped with
/// a canary, which a buffer freed too early would most likely share its
/// memory with. Once every dropped receive has ended, each canary is
/// whole: the kernel wrote only into memory the reactor still owned.
#[test]
fn foyer_1286_receives_dropped_at_once_never_write_memory_reused_after() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (fd, mut peer) = unix_pair();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            peer.set_nonblocking(true).unwrap();
            let chunk = [0x5Au8; 512];
            let mut sent = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match peer.write(&chunk) {
                    Ok(n) => sent += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                    Err(e) => panic!("{e}"),
                }
            }
            sent
        })
    };
    let mut canaries: Vec<Vec<u8>> = Vec::with_capacity(3000);
    for i in 0..3000usize {
        let mut recv = h.op(Recv::new(&fd, Vec::with_capacity(4096)));
        let _ = poll_once(&mut recv);
        if i % 8 == 0 {
            h.submit().unwrap();
        }
        drop(recv);
        canaries.push(vec![(i % 251) as u8; 4096]);
    }
    reactor.run().unwrap();
    assert_eq!(h.in_flight(), 0);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = writer.join().unwrap();
    assert!(sent > 0);
    for (i, c) in canaries.iter().enumerate() {
        assert!(
            c.iter().all(|&b| b == (i % 251) as u8),
            "buffer {i}, allocated after a receive was dropped, was written"
        );
    }
}

/// tokio-rs/tokio#8112: "late/extra CQEs after slot removal can panic or
/// wake the wrong future". A multishot poll keeps posting while its stream
/// is dropped; a receive made right after takes the freed slot. The poll's
/// late completions (more writes to its pipe) reach no one: the receive
/// stays pending until its own bytes come, then completes with exactly
/// them.
#[test]
fn tokio_8112_late_completions_of_a_dropped_stream_never_complete_the_op_in_its_slot() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    for round in 0..20u8 {
        let (pfd, mut ppeer) = unix_pair();
        let (fd, mut peer) = unix_pair();
        ppeer.write_all(b"x").unwrap();
        let mut polls = h.stream(PollMulti::new(&pfd, PollEvents::IN));
        match reactor.run_until(polls.next()).unwrap() {
            Some(Ok(ev)) => assert!(ev.contains(PollEvents::IN)),
            other => panic!("round {round}: {other:?}"),
        }
        drop(polls);
        let mut recv = h.op(Recv::new(&fd, vec![0xC1u8; 16]));
        for _ in 0..5 {
            ppeer.write_all(b"y").unwrap();
        }
        run_for(&reactor, 5);
        assert!(
            matches!(poll_once(&mut recv), Poll::Pending),
            "round {round}: the receive completed with no bytes sent to it"
        );
        peer.write_all(&[round; 3]).unwrap();
        let (r, buf) = reactor.run_until(recv).unwrap();
        assert_eq!(r.unwrap(), 3, "round {round}");
        assert_eq!(&buf[..3], &[round; 3]);
        assert!(buf[3..].iter().all(|&b| b == 0xC1));
    }
    reactor.run().unwrap();
    assert_eq!(h.in_flight(), 0);
}

/// glommio/glommio#46 (a zero-copy send whose buffer is returned when its
/// send CQE arrives, "while the kernel still holds those pages": "freed
/// memory goes on the wire") and netty/netty#17238 ("do not release write
/// memory that the kernel still owns"): a 1 MiB `SendZc` to a peer that
/// reads only after 300 ms, so that most of it sits in the socket's write
/// queue, pinned. The callback gets the buffer back and overwrites it at
/// once; the peer must still read the original bytes, every one: the
/// buffer came back only after the notification.
#[test]
fn glommio_46_a_zero_copy_send_s_buffer_comes_back_only_when_its_pages_are_free() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (client, server) = slow_pair();
    let fd = SharedFd::new(client);
    let sent = pattern(1 << 20, 46);
    let reader = late_reader(server, Duration::from_millis(300));
    let done = Rc::new(Cell::new(None));
    let d = Rc::clone(&done);
    let f = fd.clone();
    reactor
        .queue(SendZc::new(&fd, sent.clone()), move |r, mut buf| {
            // The program owns the buffer again: reuse it.
            buf.fill(0xEE);
            d.set(Some(r.map(|n| n as usize)));
            drop(f);
        })
        .unwrap();
    reactor.run().unwrap();
    let n = match done.take() {
        Some(Ok(n)) => n,
        Some(Err(e)) if matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP | libc::EINVAL)) => {
            skip(format_args!("no zero-copy sends: {e}"));
            return;
        }
        other => panic!("{other:?}"),
    };
    drop(fd);
    let got = reader.join().unwrap();
    assert_eq!(got.len(), n, "the peer read what the send counted");
    assert!(n > 0);
    if let Some(i) = got.iter().zip(&sent).position(|(a, b)| a != b) {
        panic!(
            "byte {i} of {n} on the wire is {:#x}, not {:#x}: the buffer came back while the \
             kernel still sent it",
            got[i], sent[i]
        );
    }
}

/// mitchellh/libxev#233 ("`cancel()` matches on reused `user_data`": a
/// write re-armed on the same completion, then cancelled, cancels the
/// second activation): here a callback re-queues its receive as soon as
/// the first completes, and the program cancels by the first one's id
/// right after. The re-armed receive is not cancelled (`cancel` says it
/// queued nothing) and gets the next bytes.
#[test]
fn libxev_233_a_cancel_by_the_id_of_a_re_armed_op_spares_its_next_activation() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (fd, mut peer) = unix_pair();
    let second: Rc<RefCell<Option<Received>>> = Rc::default();
    let second_id = Rc::new(Cell::new(None));
    let (s, sid, h2, f2) = (
        Rc::clone(&second),
        Rc::clone(&second_id),
        h.clone(),
        fd.clone(),
    );
    let first = h
        .queue(Recv::new(&fd, vec![0u8; 16]), move |r, buf| {
            assert_eq!(r.unwrap(), 4);
            assert_eq!(&buf[..4], b"one!");
            let id = h2
                .queue(Recv::new(&f2, vec![0u8; 16]), move |r, buf| {
                    *s.borrow_mut() = Some((r, buf));
                })
                .unwrap();
            sid.set(Some(id));
        })
        .unwrap();
    peer.write_all(b"one!").unwrap();
    let bound = Instant::now() + Duration::from_secs(10);
    while second_id.get().is_none() {
        assert!(Instant::now() < bound, "the first receive never completed");
        run_for(&reactor, 1);
    }
    assert_ne!(Some(first), second_id.get());
    assert!(!h.cancel(first).unwrap(), "a completed op's id cancelled");
    run_for(&reactor, 10);
    assert!(
        second.borrow().is_none(),
        "the re-armed receive ended early"
    );
    peer.write_all(b"two").unwrap();
    reactor.run().unwrap();
    let (r, buf) = second.borrow_mut().take().expect("the re-armed receive");
    assert_eq!(r.unwrap(), 3);
    assert_eq!(&buf[..3], b"two");
}

// ---------------------------------------------------------------------
// Scopes left early, descriptors closed under ops, SQPOLL wake-ups
// ---------------------------------------------------------------------

/// axboe/liburing#733 ("Proper Lifetime Requirements of Buffers": a buffer
/// freed right after the cancel of its op was submitted, before the op's
/// CQE), tigerbeetle/tigerbeetle#2430 ("Cancel IO before freeing memory")
/// and the question of tokio-rs/tokio-uring#1 (a future dropped unpolled
/// while the kernel still handles its request): a scope whose closure
/// returns early, or panics, with a receive into a stack buffer in flight.
/// The scope returns (or unwinds) only once the receive has ended: the
/// bytes the peer sends afterwards stay in the socket, and the buffer
/// keeps its canary, every time.
#[test]
fn liburing_733_a_scope_left_early_or_by_a_panic_ends_its_receive_before_its_buffer_goes() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (mut tx, mut rx) = StdUnixStream::pair().unwrap();
    for round in 0..40u8 {
        let mut buf = [0xB7u8; 32];
        let panics = round % 2 == 1;
        let left = catch_unwind(AssertUnwindSafe(|| {
            ring.scope(|s| -> Result<(), &'static str> {
                s.push(uring::ops::Recv::new(&rx, &mut buf[..]).user_data(1))
                    .unwrap();
                s.submit().unwrap();
                if panics {
                    panic!("a panic with a receive in flight");
                }
                Err("left early with a receive in flight")
            })
        }));
        match left {
            Ok(r) => assert!(!panics && r.is_err(), "round {round}"),
            Err(_) => assert!(panics, "round {round}: an unexpected panic"),
        }
        tx.write_all(&[round; 8]).unwrap();
        assert_eq!(
            buf, [0xB7u8; 32],
            "round {round}: the kernel wrote after the scope"
        );
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = [0u8; 8];
        rx.read_exact(&mut got).unwrap();
        assert_eq!(
            got, [round; 8],
            "round {round}: the bytes stayed in the socket"
        );
    }
}

/// axboe/liburing#782 ("can there be a race between a read or write
/// operation and a close": io_uring takes its file reference lazily, for
/// linked requests at their issue) and the descriptor reuse it leads to:
/// a receive queued with a deadline (a linked timeout), whose `SharedFd`
/// the program drops at once. The number stays open for the op: a socket
/// made next gets another number, and the receive gets the bytes of its
/// own socket, not those sent on the new one.
#[test]
fn liburing_782_a_receive_whose_descriptor_is_dropped_at_once_reads_its_own_socket() {
    use std::os::fd::AsRawFd;
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    for round in 0..20u8 {
        let (mine, mut peer) = StdUnixStream::pair().unwrap();
        let raw = mine.as_raw_fd();
        let fd = SharedFd::new(mine);
        let deadline = Instant::now() + Duration::from_secs(10);
        let recv = h.op_with_deadline(Recv::new(&fd, vec![0xB2u8; 16]), deadline);
        drop(fd);
        let (other, mut other_peer) = StdUnixStream::pair().unwrap();
        assert_ne!(
            other.as_raw_fd(),
            raw,
            "round {round}: the number was reused"
        );
        assert_ne!(
            other_peer.as_raw_fd(),
            raw,
            "round {round}: the number was reused"
        );
        other_peer.write_all(b"wrong").unwrap();
        peer.write_all(&[round; 5]).unwrap();
        let (r, buf) = reactor.run_until(recv).unwrap();
        assert_eq!(r.unwrap(), 5, "round {round}");
        assert_eq!(&buf[..5], &[round; 5], "round {round}");
        assert!(buf[5..].iter().all(|&b| b == 0xB2));
        drop(other);
    }
}

/// chimera-nas/libevpl#165 ("stop waking the sqpoll thread before the SQE
/// is visible": an SQE left unconsumed, the pipeline stalled),
/// Thomasdezeeuw/a10#25 ("Wake polling thread if submission queue is
/// full") and JackKelly/light-speed-io#52 (an SQPOLL thread that went idle
/// never woken): a reactor over an SQPOLL ring of 4 SQ entries whose
/// thread idles after 1 ms. Ops queued one at a time after the thread has
/// gone to sleep each complete, and 500 NOPs queued at once, far more than
/// the SQ holds, all complete, each once.
#[test]
fn libevpl_165_an_sqpoll_reactor_wakes_its_sleeping_thread_for_every_op() {
    let _watch = watchdog();
    if !uring_tests::require_sqpoll() {
        return;
    }
    let ring = match Ring::builder().sqpoll(Duration::from_millis(1)).build(4) {
        Ok(ring) => ring,
        Err(e) => {
            skip(format_args!("no SQPOLL ring: {e}"));
            return;
        }
    };
    let reactor = Reactor::from_ring(ring).unwrap();
    let h = reactor.handle();
    let (fd, mut peer) = unix_pair();
    for round in 0..30u8 {
        // Long enough for the thread to go to sleep (NEED_WAKEUP).
        std::thread::sleep(Duration::from_millis(4));
        let started = Instant::now();
        let (r, ()) = reactor.run_until(h.op(Nop)).unwrap();
        r.unwrap();
        peer.write_all(&[round; 2]).unwrap();
        let (r, buf) = reactor
            .run_until(h.op(Recv::new(&fd, vec![0u8; 8])))
            .unwrap();
        assert_eq!(r.unwrap(), 2, "round {round}");
        assert_eq!(&buf[..2], &[round; 2]);
        let took = started.elapsed();
        assert!(took < Duration::from_secs(2), "round {round}: {took:?}");
    }
    std::thread::sleep(Duration::from_millis(4));
    let count = Rc::new(RefCell::new(vec![0u32; 500]));
    for i in 0..500 {
        let c = Rc::clone(&count);
        h.queue(Nop, move |r, ()| {
            r.unwrap();
            c.borrow_mut()[i] += 1;
        })
        .unwrap();
    }
    reactor.run().unwrap();
    assert!(
        count.borrow().iter().all(|&c| c == 1),
        "{:?}",
        count.borrow()
    );
    assert_eq!(h.in_flight(), 0);
}

/// axboe/liburing#110 at the ring layer: "duplicate completion events with
/// the same userdata id" on a ring of 32 entries "if ... I get EBUSY
/// error upon io_uring_submit()". A scope over a ring of 2 SQ and 4 CQ
/// entries pushes 400 NOPs as fast as it is let, submitting when the SQ
/// is full and reading completions only when the scope refuses a push
/// (`ScopeFull`: a scope keeps no more ops in flight than it tracks, one
/// per CQ entry, so its CQ cannot overflow). Each NOP's completion comes
/// exactly once, with its result, nothing else comes, and every refusal
/// is one of those two.
#[test]
fn liburing_110_a_scope_over_a_tiny_ring_sees_each_completion_once() {
    let _watch = watchdog();
    let mut ring = Ring::new(2).unwrap();
    const N: u64 = 400;
    let seen = ring.scope(|s| {
        let mut seen: Vec<u64> = Vec::new();
        let mut next = 0u64;
        let bound = Instant::now() + Duration::from_secs(10);
        while next < N {
            assert!(Instant::now() < bound, "{next} of {N} pushed after 10 s");
            match s.push(uring::ops::Nop::new().user_data(next)) {
                Ok(_) => next += 1,
                Err(e) => match e.kind() {
                    uring::PushErrorKind::QueueFull => {
                        s.submit().unwrap();
                    }
                    uring::PushErrorKind::ScopeFull => {
                        s.submit_and_wait_timeout(1, Duration::from_millis(100))
                            .ok();
                        seen.extend(s.completions().map(|c| {
                            assert_eq!(c.res(), 0, "{c:?}");
                            c.user_data()
                        }));
                    }
                    other => panic!("push refused: {other}"),
                },
            }
        }
        s.submit().unwrap();
        while (seen.len() as u64) < N {
            assert!(Instant::now() < bound, "{} of {N} after 10 s", seen.len());
            s.wait_timeout(1, Duration::from_millis(100)).ok();
            seen.extend(s.completions().map(|c| {
                assert_eq!(c.res(), 0, "{c:?}");
                c.user_data()
            }));
        }
        s.wait_timeout(1, Duration::from_millis(20)).ok();
        seen.extend(s.completions().map(|c| c.user_data()));
        seen
    });
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        (0..N).collect::<Vec<u64>>(),
        "each NOP once: {seen:?}"
    );
}
