//! Attacks, from safe code, on the tokio side of the event-loop layer
//! (`uring/src/reactor/tokio.rs`, `uring/src/net/io_tokio.rs`, the futures
//! and streams of `uring/src/reactor/future.rs`) in the ways the other
//! tokio suites do not take: the driver's task aborted through its
//! `JoinHandle` while other tasks await ops; a task awaiting an op aborted;
//! a `LocalSet` dropped with its driver and readers pending; an op future
//! and a multishot stream polled in one task and finished in another; the
//! driver itself moved from one task to another while remotes send work;
//! two reactors driven by one `LocalSet` moving bytes between them; a
//! multishot accept read through `tokio::time::timeout`s that keep
//! dropping `next()`; futures, streams and the `AsyncRead` / `AsyncWrite`
//! of a stream re-polled with another waker (only the last may be woken)
//! and the wakers they keep (none may leak); `poll_shutdown` called again
//! once done; and hyper over it with pipelined and dripped requests.
//!
//! What each test expects is what the kernel does, read from its sources:
//! `io_uring/cancel.c` (`io_async_cancel`, `io_try_cancel`),
//! `io_uring/poll.c` (a pipe read waits in an armed poll, whose removal
//! ends it with `ECANCELED` and consumes nothing), `io_uring/rw.c`
//! (`io_read`, `-EAGAIN` on a pipe arms the poll), `io_uring/net.c`
//! (`io_accept` multishot: one CQE per connection with `IORING_CQE_F_MORE`;
//! `io_shutdown` calling `__sys_shutdown_sock`), `io_uring/io_uring.c`
//! (`io_uring_poll`: the ring's descriptor reads as ready with CQEs
//! posted), `net/ipv4/af_inet.c` (`inet_shutdown`: a second `SHUT_WR` on
//! a socket in `FIN_WAIT*` returns 0) and `net/unix/af_unix.c`
//! (`unix_shutdown`: returns 0 for any valid mode, again and again). Every
//! test asserts results, errnos, byte streams, wake counts or counts.

use std::cell::RefCell;
use std::future::Future;
use std::io::{self, BufRead as _, BufReader, Read as _, Write as _};
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use uring::BufferGroup;
use uring::net::{TcpListener, TcpStream, UnixStream};
use uring::reactor::ops::{AcceptMulti, Nop, Read};
use uring::reactor::{Handle, OpFuture, OpStream, Reactor, SharedFd};
use uring_tests::WakeCount as Count;
use uring_tests::net::eventually;
use uring_tests::net::{connected, fill_send_side, runtime};
use uring_tests::reactor::{assert_no_read_left, pipes};
use uring_tests::{pattern, run_for, watchdog};

/// A counting waker and its count.
fn counting() -> (Arc<Count>, Waker) {
    let count = Arc::new(Count::default());
    let waker = Waker::from(Arc::clone(&count));
    (count, waker)
}

fn wakes(count: &Count) -> usize {
    count.0.load(Ordering::SeqCst)
}

/// The errno of a failed result, if it is one.
fn errno<T>(r: &io::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(io::Error::raw_os_error)
}

/// Whether `e` is what the kernel gives a cancelled read: `ECANCELED`, or
/// `EINTR` when it ran in an io-wq worker.
fn cut(r: &io::Result<u32>) -> bool {
    matches!(errno(r), Some(libc::ECANCELED | libc::EINTR))
}

// ---------------------------------------------------------------------
// The driver's task and the tasks awaiting ops, aborted or dropped.
// ---------------------------------------------------------------------

/// The driver's `JoinHandle` is aborted while eight tasks await reads of
/// empty pipes. Dropping the driver shuts the reactor down: each read is
/// cancelled (`io_async_cancel` removes its armed poll: `ECANCELED`), each
/// task's future resolves with that (no task hangs), the buffers come
/// back, and no read is left in the kernel to take bytes written later.
#[test]
fn aborting_the_driver_task_resolves_every_waiting_future_and_leaves_no_read() {
    let _watch = watchdog();
    const N: usize = 8;
    let rt = runtime();
    let local = tokio::task::LocalSet::new();
    let (fds, dups, mut writers) = pipes(N);
    local.block_on(&rt, async {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let driver = tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let readers: Vec<_> = fds
            .iter()
            .map(|fd| {
                let read = h.op(Read::new(fd, Vec::with_capacity(16), u64::MAX));
                tokio::task::spawn_local(read)
            })
            .collect();
        assert!(eventually(Duration::from_secs(5), || h.in_flight() == N as u32).await);
        // Let the driver submit them and go idle in epoll.
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(h.in_flight(), N as u32, "a read ended on an empty pipe");
        driver.abort();
        let joined = tokio::time::timeout(Duration::from_secs(5), driver)
            .await
            .expect("the aborted driver never ended");
        assert!(joined.unwrap_err().is_cancelled());
        assert!(h.is_shut_down());
        assert_eq!(h.in_flight(), 0);
        for (i, reader) in readers.into_iter().enumerate() {
            let (result, buf) = tokio::time::timeout(Duration::from_secs(5), reader)
                .await
                .unwrap_or_else(|_| panic!("read {i} hangs after its driver was aborted"))
                .unwrap();
            assert!(cut(&result), "read {i}: {result:?}");
            assert!(buf.is_empty() && buf.capacity() >= 16, "read {i}: buffer");
        }
    });
    assert_no_read_left(&dups, &mut writers);
}

/// A task awaiting a read of an empty pipe is aborted while the driver
/// runs on: its future's drop cancels the read, which ends (the reactor
/// counts nothing in flight) without taking a byte.
#[test]
fn aborting_a_task_awaiting_a_read_cancels_it_before_any_byte_is_taken() {
    let _watch = watchdog();
    let rt = runtime();
    let local = tokio::task::LocalSet::new();
    let (fds, dups, mut writers) = pipes(4);
    local.block_on(&rt, async {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let tasks: Vec<_> = fds
            .iter()
            .map(|fd| tokio::task::spawn_local(h.op(Read::new(fd, vec![0u8; 0], u64::MAX))))
            .collect();
        // Zero-length reads end at once; the real ones need room.
        for t in tasks {
            let (r, _) = t.await.unwrap();
            assert_eq!(r.unwrap(), 0);
        }
        let tasks: Vec<_> = fds
            .iter()
            .map(|fd| {
                tokio::task::spawn_local(h.op(Read::new(fd, Vec::with_capacity(64), u64::MAX)))
            })
            .collect();
        assert!(eventually(Duration::from_secs(5), || h.in_flight() == 4).await);
        tokio::time::sleep(Duration::from_millis(30)).await;
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            assert!(t.await.unwrap_err().is_cancelled());
        }
        assert!(
            eventually(Duration::from_secs(5), || h.in_flight() == 0).await,
            "the reads of aborted tasks never ended: {} in flight",
            h.in_flight()
        );
        assert!(!h.is_shut_down());
        // The reactor still serves: a Nop completes.
        assert_eq!(h.op(Nop).await.0.unwrap(), 0);
        h.shutdown();
    });
    assert_no_read_left(&dups, &mut writers);
}

/// A `LocalSet` dropped (its runtime alive) with the driver and eight
/// readers still spawned in it: whichever goes first, every read ends
/// before the drop returns, and none is left to take bytes written later.
#[test]
fn a_local_set_dropped_with_its_driver_and_readers_pending_leaves_no_read() {
    let _watch = watchdog();
    const N: usize = 8;
    let rt = runtime();
    let (fds, dups, mut writers) = pipes(N);
    for driver_first in [false, true] {
        let local = tokio::task::LocalSet::new();
        let h: Handle = local.block_on(&rt, async {
            let reactor = Reactor::new().unwrap();
            let h = reactor.handle();
            let mut driver = Some(reactor.into_tokio().unwrap());
            if driver_first {
                tokio::task::spawn_local(driver.take().unwrap());
            }
            for fd in &fds {
                tokio::task::spawn_local(h.op(Read::new(fd, Vec::with_capacity(8), u64::MAX)));
            }
            if let Some(driver) = driver {
                tokio::task::spawn_local(driver);
            }
            assert!(eventually(Duration::from_secs(5), || h.in_flight() == N as u32).await);
            tokio::time::sleep(Duration::from_millis(30)).await;
            assert_eq!(h.in_flight(), N as u32);
            h
        });
        drop(local);
        assert!(h.is_shut_down(), "driver_first={driver_first}");
        assert_eq!(h.in_flight(), 0, "driver_first={driver_first}");
        assert_no_read_left(&dups, &mut writers);
    }
}

// ---------------------------------------------------------------------
// Futures, streams and the driver moved between tasks.
// ---------------------------------------------------------------------

/// An op future and a multishot accept stream are polled once in task A
/// (which then ends, its waker dead) and finished in task B: the
/// completions wake B, which gets the read's bytes and the accepted
/// connection.
#[test]
fn a_future_and_a_stream_polled_in_one_task_complete_in_another() {
    let _watch = watchdog();
    let rt = runtime();
    let local = tokio::task::LocalSet::new();
    let (fds, _dups, mut writers) = pipes(1);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let lfd = SharedFd::new(OwnedFd::from(listener));
    local.block_on(&rt, async {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        tokio::task::spawn_local(reactor.into_tokio().unwrap());
        type Moved = Option<(OpFuture<Read<Vec<u8>>>, OpStream<AcceptMulti>)>;
        let slot: Rc<RefCell<Moved>> = Rc::default();
        let a = {
            let (slot, h, fd, lfd) = (slot.clone(), h.clone(), fds[0].clone(), lfd.clone());
            tokio::task::spawn_local(async move {
                let mut read = h.op(Read::new(&fd, Vec::with_capacity(16), u64::MAX));
                let mut accepts = h.stream(AcceptMulti::new(&lfd));
                std::future::poll_fn(|cx| {
                    assert!(Pin::new(&mut read).poll(cx).is_pending());
                    assert!(accepts.poll_next(cx).is_pending());
                    Poll::Ready(())
                })
                .await;
                *slot.borrow_mut() = Some((read, accepts));
            })
        };
        a.await.unwrap();
        // Both are in the kernel, their wakers those of a finished task.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let b = {
            let slot = slot.clone();
            tokio::task::spawn_local(async move {
                let (read, mut accepts) = slot.borrow_mut().take().unwrap();
                let (r, buf) = read.await;
                let conn = accepts.next().await;
                (r, buf, conn)
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        writers[0].write_all(b"moved").unwrap();
        let client = std::net::TcpStream::connect(addr).unwrap();
        let (r, buf, conn) = tokio::time::timeout(Duration::from_secs(5), b)
            .await
            .expect("the task the future moved to was never woken")
            .unwrap();
        assert_eq!(r.unwrap(), 5);
        assert_eq!(buf, b"moved");
        let conn = conn.expect("the stream ended").unwrap();
        let peer = uring_tests::local_addr(std::os::fd::AsFd::as_fd(&conn)).unwrap();
        assert_eq!(peer, addr);
        drop(client);
        h.shutdown();
    });
}

/// The driver is polled in task X (under a timeout that drops only the
/// borrow), then moved to task Y which awaits it: remotes on another
/// thread, and a read whose bytes another thread writes, still reach it;
/// a shutdown resolves it `Ok`.
#[test]
fn a_driver_moved_between_tasks_still_hears_remotes_and_completions() {
    let _watch = watchdog();
    let rt = runtime();
    let local = tokio::task::LocalSet::new();
    let (fds, _dups, writers) = pipes(1);
    local.block_on(&rt, async {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let remote = h.remote();
        let slot: Rc<RefCell<Option<uring::reactor::TokioDriver>>> = Rc::default();
        *slot.borrow_mut() = Some(reactor.into_tokio().unwrap());
        let x = {
            let (slot, h) = (slot.clone(), h.clone());
            tokio::task::spawn_local(async move {
                let mut driver = slot.borrow_mut().take().unwrap();
                // A Nop completes while X drives.
                let nop = tokio::task::spawn_local(h.op(Nop));
                let cut = tokio::time::timeout(Duration::from_millis(30), &mut driver).await;
                assert!(cut.is_err(), "the driver resolved: {cut:?}");
                assert_eq!(nop.await.unwrap().0.unwrap(), 0);
                *slot.borrow_mut() = Some(driver);
            })
        };
        x.await.unwrap();
        let y = {
            let slot = slot.clone();
            tokio::task::spawn_local(async move {
                let driver = slot.borrow_mut().take().unwrap();
                driver.await
            })
        };
        // Y polls the driver, which goes idle with Y's waker.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let done = Arc::new(AtomicUsize::new(0));
        let sender = {
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let mut writers = writers;
                for _ in 0..50 {
                    let done = Arc::clone(&done);
                    remote
                        .queue(Nop, move |r, ()| {
                            assert_eq!(r.unwrap(), 0);
                            done.fetch_add(1, Ordering::SeqCst);
                        })
                        .unwrap();
                    std::thread::sleep(Duration::from_micros(200));
                }
                writers[0].write_all(b"after the move").unwrap();
            })
        };
        let (r, buf) = tokio::time::timeout(
            Duration::from_secs(5),
            h.op(Read::new(&fds[0], Vec::with_capacity(32), u64::MAX)),
        )
        .await
        .expect("a read on the moved driver never completed");
        assert_eq!(r.unwrap(), 14);
        assert_eq!(buf, b"after the move");
        sender.join().unwrap();
        assert!(
            eventually(Duration::from_secs(5), || done.load(Ordering::SeqCst) == 50).await,
            "remote ops run: {} of 50",
            done.load(Ordering::SeqCst)
        );
        h.shutdown();
        let ended = tokio::time::timeout(Duration::from_secs(5), y)
            .await
            .expect("the moved driver did not resolve after a shutdown")
            .unwrap();
        ended.unwrap();
    });
}

/// Two reactors on one thread, both driven by one `LocalSet`: the two
/// ends of one Unix stream pair live on different reactors, and 1 MiB
/// goes each way at once (four tasks), byte for byte.
#[test]
fn two_reactors_driven_by_one_local_set_move_bytes_between_them() {
    let _watch = watchdog();
    const LEN: usize = 1 << 20;
    let rt = runtime();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let (r1, r2) = (Reactor::new().unwrap(), Reactor::new().unwrap());
        let (h1, h2) = (r1.handle(), r2.handle());
        let d1 = tokio::task::spawn_local(r1.into_tokio().unwrap());
        let d2 = tokio::task::spawn_local(r2.into_tokio().unwrap());
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let a = UnixStream::from_std(&h1, a);
        let b = UnixStream::from_std(&h2, b);
        let (mut ar, mut aw) = tokio::io::split(a);
        let (mut br, mut bw) = tokio::io::split(b);
        let (ab, ba) = (pattern(LEN, 3), pattern(LEN, 7));
        let tasks = [
            tokio::task::spawn_local({
                let ab = ab.clone();
                async move {
                    aw.write_all(&ab).await.unwrap();
                    aw.shutdown().await.unwrap();
                    Vec::new()
                }
            }),
            tokio::task::spawn_local({
                let ba = ba.clone();
                async move {
                    bw.write_all(&ba).await.unwrap();
                    bw.shutdown().await.unwrap();
                    Vec::new()
                }
            }),
            tokio::task::spawn_local(async move {
                let mut got = Vec::new();
                br.read_to_end(&mut got).await.unwrap();
                got
            }),
            tokio::task::spawn_local(async move {
                let mut got = Vec::new();
                ar.read_to_end(&mut got).await.unwrap();
                got
            }),
        ];
        let mut got = Vec::new();
        for t in tasks {
            got.push(
                tokio::time::timeout(Duration::from_secs(20), t)
                    .await
                    .expect("bytes between two reactors stalled")
                    .unwrap(),
            );
        }
        assert!(got[2] == ab, "a -> b differs ({} bytes)", got[2].len());
        assert!(got[3] == ba, "b -> a differs ({} bytes)", got[3].len());
        h1.shutdown();
        h2.shutdown();
        d1.await.unwrap().unwrap();
        d2.await.unwrap().unwrap();
    });
}

/// A multishot accept read through `tokio::time::timeout`s so short that
/// most drop their `next()` unresolved, while another thread connects 24
/// clients: every connection is yielded once (distinct peers, all 24),
/// none after, and the `Next` futures dropped lose nothing.
#[test]
fn accepts_read_through_timeouts_that_drop_next_are_each_yielded_once() {
    let _watch = watchdog();
    const N: usize = 24;
    let rt = runtime();
    let local = tokio::task::LocalSet::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let lfd = SharedFd::new(OwnedFd::from(listener));
    local.block_on(&rt, async {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let mut accepts = h.stream(AcceptMulti::new(&lfd));
        let clients = std::thread::spawn(move || {
            (0..N)
                .map(|i| {
                    if i % 3 == 0 {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    let c = std::net::TcpStream::connect(addr).unwrap();
                    c.local_addr().unwrap()
                })
                .collect::<Vec<_>>()
        });
        let mut peers = Vec::new();
        let mut dropped = 0;
        let end = Instant::now() + Duration::from_secs(10);
        while peers.len() < N && Instant::now() < end {
            match tokio::time::timeout(Duration::from_micros(300), accepts.next()).await {
                Ok(Some(conn)) => {
                    let conn = std::net::TcpStream::from(conn.unwrap());
                    peers.push(conn.peer_addr().unwrap());
                }
                Ok(None) => panic!("the accept stream ended"),
                Err(_) => dropped += 1,
            }
        }
        let mut clients = clients.join().unwrap();
        assert_eq!(peers.len(), N, "accepted {} of {N}", peers.len());
        peers.sort();
        clients.sort();
        assert_eq!(peers, clients, "each client accepted once");
        // Nothing more is queued.
        let more = tokio::time::timeout(Duration::from_millis(50), accepts.next()).await;
        assert!(more.is_err(), "an extra item: {more:?}");
        assert!(
            dropped > 0,
            "no next() was dropped: the test proved nothing"
        );
        h.shutdown();
    });
}

// ---------------------------------------------------------------------
// Wakers: re-polled with another one, and those kept.
// ---------------------------------------------------------------------

/// A read future polled with waker A, then B; a multishot accept stream
/// likewise: a completion wakes B only (A was replaced), and each wakes
/// once per completion, not again while nothing new arrives.
#[test]
fn futures_and_streams_repolled_with_another_waker_wake_only_the_last() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (fds, _dups, mut writers) = pipes(1);
    let mut read = reactor.op(Read::new(&fds[0], Vec::with_capacity(8), u64::MAX));
    let (a, wa) = counting();
    let (b, wb) = counting();
    assert!(
        Pin::new(&mut read)
            .poll(&mut Context::from_waker(&wa))
            .is_pending()
    );
    run_for(&reactor, 5);
    assert!(
        Pin::new(&mut read)
            .poll(&mut Context::from_waker(&wb))
            .is_pending()
    );
    writers[0].write_all(b"abc").unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    while wakes(&b) == 0 && Instant::now() < end {
        run_for(&reactor, 2);
    }
    run_for(&reactor, 5);
    assert_eq!((wakes(&a), wakes(&b)), (0, 1), "wakes of A and B");
    match Pin::new(&mut read).poll(&mut Context::from_waker(&wa)) {
        Poll::Ready((r, buf)) => {
            assert_eq!(r.unwrap(), 3);
            assert_eq!(buf, b"abc");
        }
        Poll::Pending => panic!("a woken read is not ready"),
    }

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let lfd = SharedFd::new(OwnedFd::from(listener));
    let mut accepts = reactor.stream(AcceptMulti::new(&lfd));
    let (a, wa) = counting();
    let (b, wb) = counting();
    assert!(
        accepts
            .poll_next(&mut Context::from_waker(&wa))
            .is_pending()
    );
    run_for(&reactor, 5);
    assert!(
        accepts
            .poll_next(&mut Context::from_waker(&wb))
            .is_pending()
    );
    let _c1 = std::net::TcpStream::connect(addr).unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    while wakes(&b) == 0 && Instant::now() < end {
        run_for(&reactor, 2);
    }
    run_for(&reactor, 5);
    assert_eq!((wakes(&a), wakes(&b)), (0, 1), "stream: wakes of A and B");
    let item = accepts.poll_next(&mut Context::from_waker(&wb));
    assert!(matches!(item, Poll::Ready(Some(Ok(_)))), "{item:?}");
    // Back to A: the next connection wakes A only.
    assert!(
        accepts
            .poll_next(&mut Context::from_waker(&wa))
            .is_pending()
    );
    let _c2 = std::net::TcpStream::connect(addr).unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    while wakes(&a) == 0 && Instant::now() < end {
        run_for(&reactor, 2);
    }
    run_for(&reactor, 5);
    assert_eq!((wakes(&a), wakes(&b)), (1, 1), "stream: second connection");
    assert!(matches!(
        accepts.poll_next(&mut Context::from_waker(&wa)),
        Poll::Ready(Some(Ok(_)))
    ));
}

/// A stream's `poll_read` with waker A then B: the bytes wake B only. Its
/// `poll_flush` behind a send the socket cannot take yet, with A then B:
/// the peer's draining wakes B only, and the flush then reports every
/// byte sent.
#[test]
fn async_read_and_flush_repolled_with_another_waker_wake_only_the_last() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (mut stream, mut peer) = connected(&reactor.handle());
    let (a, wa) = counting();
    let (b, wb) = counting();
    let mut buf = [0u8; 64];
    let poll_read = |stream: &mut TcpStream, w: &Waker, buf: &mut [u8]| {
        let mut rb = ReadBuf::new(buf);
        Pin::new(stream)
            .poll_read(&mut Context::from_waker(w), &mut rb)
            .map(|r| r.map(|()| rb.filled().len()))
    };
    assert!(poll_read(&mut stream, &wa, &mut buf).is_pending());
    run_for(&reactor, 5);
    assert!(poll_read(&mut stream, &wb, &mut buf).is_pending());
    peer.write_all(b"hello").unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    while wakes(&b) == 0 && Instant::now() < end {
        run_for(&reactor, 2);
    }
    run_for(&reactor, 5);
    assert_eq!((wakes(&a), wakes(&b)), (0, 1), "read: wakes of A and B");
    match poll_read(&mut stream, &wa, &mut buf) {
        Poll::Ready(Ok(5)) => assert_eq!(&buf[..5], b"hello"),
        other => panic!("a woken read: {other:?}"),
    }

    // The write side: the socket's send side full first.
    let (filler, filled) = fill_send_side(std::os::fd::AsFd::as_fd(stream.shared_fd()));
    let data = pattern(100_000, 9);
    let (a, wa) = counting();
    let (b, wb) = counting();
    let took = Pin::new(&mut stream).poll_write(&mut Context::from_waker(&wa), &data);
    assert!(
        matches!(took, Poll::Ready(Ok(n)) if n == data.len()),
        "{took:?}"
    );
    assert!(
        Pin::new(&mut stream)
            .poll_flush(&mut Context::from_waker(&wa))
            .is_pending()
    );
    run_for(&reactor, 5);
    assert!(
        Pin::new(&mut stream)
            .poll_flush(&mut Context::from_waker(&wb))
            .is_pending()
    );
    // Drain the peer on another thread: the send then completes.
    let want = filled + data.len();
    let reader = std::thread::spawn(move || {
        let mut got = vec![0u8; want];
        peer.read_exact(&mut got).unwrap();
        (peer, got)
    });
    let end = Instant::now() + Duration::from_secs(10);
    while wakes(&b) == 0 && Instant::now() < end {
        run_for(&reactor, 2);
    }
    run_for(&reactor, 5);
    assert_eq!((wakes(&a), wakes(&b)), (0, 1), "flush: wakes of A and B");
    let flushed = Pin::new(&mut stream).poll_flush(&mut Context::from_waker(&wa));
    assert!(matches!(flushed, Poll::Ready(Ok(()))), "{flushed:?}");
    let (_peer, got) = reader.join().unwrap();
    assert!(got[filled..] == data[..], "the flushed bytes differ");
    drop(filler);
}

/// The wakers a pending future, stream or `AsyncRead` / `AsyncWrite` keep
/// are released: once the op completes (the wake consumes it), and when
/// the future, stream or socket is dropped while it waits (at the drop,
/// not at the op's last completion): no clone of a waker leaks.
#[test]
fn wakers_kept_by_pending_ops_are_released_at_completion_or_drop() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (fds, _dups, mut writers) = pipes(2);

    // Completed.
    let (count, waker) = counting();
    let mut read = h.op(Read::new(&fds[0], Vec::with_capacity(8), u64::MAX));
    assert!(
        Pin::new(&mut read)
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    );
    assert_eq!(Arc::strong_count(&count), 3, "the future keeps one clone");
    writers[0].write_all(b"x").unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    while wakes(&count) == 0 && Instant::now() < end {
        run_for(&reactor, 2);
    }
    assert_eq!(wakes(&count), 1);
    assert_eq!(Arc::strong_count(&count), 2, "the wake released the clone");
    assert!(
        Pin::new(&mut read)
            .poll(&mut Context::from_waker(&waker))
            .is_ready()
    );
    drop(read);
    assert_eq!(Arc::strong_count(&count), 2);

    // Dropped while waiting: a future, a stream, a socket reading and one
    // flushing.
    let (count, waker) = counting();
    let cx = &mut Context::from_waker(&waker);
    let mut read = h.op(Read::new(&fds[1], Vec::with_capacity(8), u64::MAX));
    assert!(Pin::new(&mut read).poll(cx).is_pending());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let lfd = SharedFd::new(OwnedFd::from(listener));
    let mut accepts = h.stream(AcceptMulti::new(&lfd));
    assert!(accepts.poll_next(cx).is_pending());
    let (mut reading, _peer1) = connected(&h);
    let mut buf = [0u8; 8];
    assert!(
        Pin::new(&mut reading)
            .poll_read(cx, &mut ReadBuf::new(&mut buf))
            .is_pending()
    );
    let (mut writing, mut peer2) = connected(&h);
    let (filler, _) = fill_send_side(std::os::fd::AsFd::as_fd(writing.shared_fd()));
    let data = pattern(50_000, 1);
    assert!(matches!(
        Pin::new(&mut writing).poll_write(cx, &data),
        Poll::Ready(Ok(50_000))
    ));
    run_for(&reactor, 5);
    assert!(Pin::new(&mut writing).poll_flush(cx).is_pending());
    assert_eq!(Arc::strong_count(&count), 6, "four clones kept");
    drop(read);
    assert_eq!(
        Arc::strong_count(&count),
        5,
        "a dropped future kept its waker"
    );
    drop(accepts);
    assert_eq!(
        Arc::strong_count(&count),
        4,
        "a dropped stream kept its waker"
    );
    drop(reading);
    assert_eq!(
        Arc::strong_count(&count),
        3,
        "a dropped reader kept its waker"
    );
    drop(writing);
    assert_eq!(
        Arc::strong_count(&count),
        2,
        "a dropped writer kept its waker"
    );
    // The orphaned send still delivers what was reported written.
    drop(filler);
    peer2
        .set_read_timeout(Some(Duration::from_millis(5)))
        .unwrap();
    let mut got = Vec::new();
    let end = Instant::now() + Duration::from_secs(10);
    let mut chunk = vec![0u8; 1 << 16];
    while Instant::now() < end {
        match peer2.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                run_for(&reactor, 2);
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(got.ends_with(&data), "the orphaned send lost bytes");
    assert_eq!(wakes(&count), 0, "a dropped op woke its waker");
}

// ---------------------------------------------------------------------
// Shutdown again, and hyper.
// ---------------------------------------------------------------------

/// `poll_shutdown` called again after it completed: the kernel answers 0
/// to a second `SHUT_WR` (`unix_shutdown`; `inet_shutdown` in
/// `FIN_WAIT*`), so both succeed, and the peer sees every byte then one
/// end of stream.
#[test]
fn shutdown_called_again_after_it_completed_succeeds_for_tcp_and_unix() {
    let _watch = watchdog();
    let rt = runtime();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let data = pattern(70_000, 5);

        let (mut tcp, peer) = connected(&h);
        let reader = std::thread::spawn(move || {
            let mut peer = peer;
            let mut got = Vec::new();
            peer.read_to_end(&mut got).unwrap();
            (peer, got)
        });
        AsyncWriteExt::write_all(&mut tcp, &data).await.unwrap();
        AsyncWriteExt::shutdown(&mut tcp).await.unwrap();
        AsyncWriteExt::shutdown(&mut tcp).await.unwrap();
        let (_peer, got) = reader.join().unwrap();
        assert!(got == data, "tcp: {} bytes", got.len());

        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut unix = UnixStream::from_std(&h, a);
        let reader = std::thread::spawn(move || {
            let mut b = b;
            let mut got = Vec::new();
            b.read_to_end(&mut got).unwrap();
            got
        });
        AsyncWriteExt::write_all(&mut unix, &data).await.unwrap();
        AsyncWriteExt::shutdown(&mut unix).await.unwrap();
        AsyncWriteExt::shutdown(&mut unix).await.unwrap();
        AsyncWriteExt::shutdown(&mut unix).await.unwrap();
        let got = reader.join().unwrap();
        assert!(got == data, "unix: {} bytes", got.len());
        h.shutdown();
    });
}

/// Starts the http example's server (hyper over `uring::net`) on its own
/// thread; returns its address.
fn start_http(ring: Option<u16>) -> std::net::SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime(), async move {
            let reactor = Reactor::new().unwrap();
            let ring = ring.map(|n| {
                reactor
                    .handle()
                    .register_buf_ring(BufferGroup::new(0), n, 64)
                    .unwrap()
            });
            let listener = TcpListener::bind(&reactor, "127.0.0.1:0".parse().unwrap()).unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            tokio::task::spawn_local(reactor.into_tokio().unwrap());
            uring_examples::net::serve_http(listener, ring).await;
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap()
}

/// Reads one HTTP/1.1 response: its status line and body.
fn response(reader: &mut BufReader<std::net::TcpStream>) -> (String, Vec<u8>) {
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (status.trim_end().to_string(), body)
}

/// hyper over the streams' `AsyncRead` / `AsyncWrite`: ten requests
/// pipelined in one write are answered in order (the 404s where they were
/// asked), a request dripped one byte at a time is answered, and a
/// pipelined batch ending with `Connection: close` gets exactly its
/// answers and then the end of the stream; with one receive per read, and
/// through a buffer ring of two 64-byte buffers.
#[test]
fn hyper_answers_pipelined_and_dripped_requests_in_order() {
    let _watch = watchdog();
    for ring in [None, Some(2)] {
        let addr = start_http(ring);
        let stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        let mut batch = Vec::new();
        let paths: Vec<&str> = (0..10)
            .map(|i| if i % 3 == 1 { "/no" } else { "/" })
            .collect();
        for path in &paths {
            batch.extend_from_slice(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        }
        writer.write_all(&batch).unwrap();
        for (i, path) in paths.iter().enumerate() {
            let (status, body) = response(&mut reader);
            if *path == "/" {
                assert_eq!(status, "HTTP/1.1 200 OK", "ring {ring:?}, request {i}");
                assert_eq!(body, uring_examples::net::BODY);
            } else {
                assert_eq!(
                    status, "HTTP/1.1 404 Not Found",
                    "ring {ring:?}, request {i}"
                );
                assert!(body.is_empty());
            }
        }
        for byte in b"GET / HTTP/1.1\r\nHost: drip\r\n\r\n" {
            writer.write_all(&[*byte]).unwrap();
            std::thread::sleep(Duration::from_millis(1));
        }
        let (status, body) = response(&mut reader);
        assert_eq!(status, "HTTP/1.1 200 OK", "ring {ring:?}, dripped");
        assert_eq!(body, uring_examples::net::BODY);
        let mut last = Vec::new();
        for _ in 0..3 {
            last.extend_from_slice(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        }
        last.extend_from_slice(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        writer.write_all(&last).unwrap();
        for i in 0..4 {
            let (status, body) = response(&mut reader);
            assert_eq!(
                status, "HTTP/1.1 200 OK",
                "ring {ring:?}, closing batch {i}"
            );
            assert_eq!(body, uring_examples::net::BODY);
        }
        let mut rest = Vec::new();
        assert_eq!(
            reader.read_to_end(&mut rest).unwrap(),
            0,
            "bytes after close"
        );
    }
}

/// The driver's task is aborted while a task's `AsyncRead` waits in the
/// kernel: the read resolves with the cancel's error (no hang), and the
/// next write or its flush fails (the reactor refuses the send), so no
/// byte reaches the peer; nothing panics.
#[test]
fn async_traits_after_the_driver_was_aborted_answer_with_errors() {
    let _watch = watchdog();
    let rt = runtime();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let driver = tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let (mut stream, mut peer) = connected(&h);
        let mut buf = [0u8; 16];
        // A read waits in the kernel when the driver goes.
        let mut read = Box::pin(async {
            let n = AsyncReadExt::read(&mut stream, &mut buf).await;
            (n, stream)
        });
        assert!(std::future::poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx).is_pending())).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
        driver.abort();
        assert!(driver.await.unwrap_err().is_cancelled());
        let (n, mut stream) = tokio::time::timeout(Duration::from_secs(5), read)
            .await
            .expect("a read hangs after its driver was aborted");
        let e = n.expect_err("a read on a shut-down reactor succeeded");
        assert!(
            matches!(e.raw_os_error(), Some(libc::ECANCELED | libc::EINTR))
                || e.raw_os_error().is_none(),
            "{e:?}"
        );
        // Writes are refused at once or at the flush; nothing reaches the
        // peer.
        let w = AsyncWriteExt::write(&mut stream, b"late").await;
        let f = AsyncWriteExt::flush(&mut stream).await;
        assert!(w.is_err() || f.is_err(), "write {w:?}, flush {f:?}");
        peer.set_nonblocking(true).unwrap();
        let mut got = [0u8; 8];
        assert_eq!(
            peer.read(&mut got).map_err(|e| e.kind()),
            Err(io::ErrorKind::WouldBlock),
            "bytes reached the peer"
        );
    });
}
