//! Attacks, from safe code, on the event-loop layer (`uring::reactor`) and
//! the sockets over it (`uring::net`), in combinations the other suites do
//! not name: go-uring-style callback programs that queue deadlined ops from
//! callbacks and cancel half of them by id; deadlines at or before the
//! present, on ops that wait and on ops that are ready at issue; cancels
//! of ops whose deadline already fired, and ids gone stale across
//! thousands of slot reuses; the same from another thread through a
//! `Remote`; tokio's `select!` and `time::timeout` dropping reads
//! mid-flight (no byte may be lost or doubled); a proxy built from
//! `tokio::io::split` halves with half-closes both ways; writes after a
//! write shutdown; zero-length reads, writes and datagrams; `AsyncRead`
//! through a buffer ring of tiny buffers, switched off and on mid-stream;
//! truncated datagrams and `send_to` on a connected UDP socket; abstract
//! and unnamed Unix addresses; peers that send and close at once; read
//! deadlines that passed before a read started; multishot receives
//! cancelled by id; and a process that keeps `SIGPIPE` at its default.
//!
//! What each test expects is what the kernel does, read from its sources:
//! `io_uring/timeout.c` (link timeouts: `io_queue_linked_timeout`,
//! `io_link_timeout_fn`, `io_disarm_next`), `io_uring/cancel.c`
//! (`io_async_cancel`), `io_uring/net.c` (`io_recv`, `io_recv_finish`,
//! `io_send`, `io_shutdown`, multishot receives and `ENOBUFS`),
//! `io_uring/kbuf.c` (buffer recycling of empty receives),
//! `net/socket.c` (`__sys_sendto`, `MSG_NOSIGNAL`), `net/ipv4/udp.c`
//! (`udp_sendmsg` with an address on a connected socket, truncation in
//! `udp_recvmsg`), `net/ipv4/tcp.c` (`tcp_recvmsg` with a zero length,
//! `tcp_sendmsg` after `SHUT_WR`: `EPIPE`) and `net/unix/af_unix.c`
//! (abstract names, autobind-less unnamed senders). Every test asserts
//! results, errnos, byte streams, orders or counts.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::io::{self, Read as _, Write as _};
use std::os::linux::net::SocketAddrExt as _;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uring::SockAddr;
use uring::net::{TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream};
use uring::reactor::ops::{Nop, Read, RecvMulti, Timeout};
use uring::reactor::{OpId, Reactor, RingBuf, SharedFd};
use uring_tests::net::{any, assert_group_whole, connected, group_or_skip, runtime};
use uring_tests::{in_own_process, pattern, pipe, run_for, watchdog};

/// The errno of a failed result, if it is one.
fn errno<T>(r: &io::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(io::Error::raw_os_error)
}

/// Reads recorded by their callbacks: result and bytes.
type Reads = Vec<(Result<u32, i32>, Vec<u8>)>;

/// A result as a plain value, for recording: the count or the errno.
fn plain(r: io::Result<u32>) -> Result<u32, i32> {
    r.map_err(|e| e.raw_os_error().unwrap_or(-1))
}

/// A name no other test of this process (or another run) uses.
fn unique(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("uring-gaps-{what}-{}-{nanos}", std::process::id())
}

/// Runs `f` inside a current-thread runtime with a `LocalSet`, bounded by
/// `bound` (a panic naming the bound when it passes).
fn on_tokio<F, Fut>(bound: Duration, f: F)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let rt = runtime();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        tokio::time::timeout(bound, f())
            .await
            .unwrap_or_else(|_| panic!("still running after {bound:?}"));
    });
}

// ---------------------------------------------------------------------
// Callbacks, deadlines and cancels by id (go-uring's Queue).
// ---------------------------------------------------------------------

/// One callback queues 48 reads of empty pipes, each with the same
/// deadline; the next callback cancels every other one by id. Reads whose
/// pipe held bytes before anything was submitted complete with them at
/// once; the cancelled ones end with `ECANCELED` long before the
/// deadline; the rest end with `ECANCELED` at the deadline
/// (`io_link_timeout_fn`), not before. Each callback runs exactly once,
/// and every id is stale afterwards.
#[test]
fn deadlined_reads_queued_from_a_callback_then_half_cancelled_by_id() {
    let _watch = watchdog();
    const N: usize = 48;
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let mut readers = Vec::new();
    let mut writers = Vec::new();
    for _ in 0..N {
        let (r, w) = pipe();
        readers.push(SharedFd::new(r));
        writers.push(std::fs::File::from(w));
    }
    for i in (1..N).step_by(4) {
        writers[i].write_all(&[i as u8; 5]).unwrap();
    }
    type Calls = BTreeMap<usize, Vec<(Result<u32, i32>, Vec<u8>, Instant)>>;
    let calls: Rc<RefCell<Calls>> = Rc::default();
    let ids: Rc<RefCell<Vec<OpId>>> = Rc::default();
    let cancelled_at: Rc<RefCell<Option<Instant>>> = Rc::default();
    let deadline = Instant::now() + Duration::from_millis(400);
    {
        let (h2, calls, ids, cancelled_at, readers) = (
            h.clone(),
            calls.clone(),
            ids.clone(),
            cancelled_at.clone(),
            readers.clone(),
        );
        h.queue(Nop, move |r, ()| {
            assert_eq!(r.unwrap(), 0);
            for (i, fd) in readers.iter().enumerate() {
                let calls = calls.clone();
                let read = Read::new(fd, Vec::with_capacity(16), u64::MAX);
                let id = h2
                    .queue_with_deadline(read, deadline, move |r, buf| {
                        calls.borrow_mut().entry(i).or_default().push((
                            plain(r),
                            buf,
                            Instant::now(),
                        ));
                    })
                    .unwrap();
                ids.borrow_mut().push(id);
            }
            let (h3, ids) = (h2.clone(), ids.clone());
            h2.queue(Nop, move |_, ()| {
                *cancelled_at.borrow_mut() = Some(Instant::now());
                for (i, id) in ids.borrow().iter().enumerate() {
                    if i.is_multiple_of(2) {
                        assert!(
                            h3.cancel(*id).unwrap(),
                            "read {i} waits on an empty pipe: a cancel must be queued"
                        );
                    }
                }
            })
            .unwrap();
        })
        .unwrap();
    }
    reactor.run().unwrap();
    let cancelled_at = cancelled_at.borrow().expect("the cancelling callback ran");
    let calls = calls.borrow();
    assert_eq!(calls.len(), N, "every read's callback ran");
    for (i, got) in calls.iter() {
        assert_eq!(
            got.len(),
            1,
            "read {i}: its callback ran {} times",
            got.len()
        );
        let (res, buf, at) = &got[0];
        match i % 4 {
            0 | 2 => {
                assert_eq!(*res, Err(libc::ECANCELED), "read {i}, cancelled by id");
                assert!(
                    *at < deadline - Duration::from_millis(200),
                    "read {i}: cancelled by id at {:?} after the cancel, near its deadline",
                    at.duration_since(cancelled_at)
                );
            }
            1 => {
                assert_eq!(*res, Ok(5), "read {i} of a pipe that held 5 bytes");
                assert_eq!(&buf[..], &[*i as u8; 5], "read {i}'s bytes");
            }
            _ => {
                assert_eq!(*res, Err(libc::ECANCELED), "read {i}, cut by its deadline");
                assert!(*at >= deadline, "read {i} ended before its deadline");
            }
        }
    }
    for id in ids.borrow().iter() {
        assert!(!h.cancel(*id).unwrap(), "an id of a completed op cancels");
    }
    assert_eq!(h.in_flight(), 0);
    // The cut reads took nothing from their pipes: a byte written now is
    // still there for a plain read.
    for i in (3..N).step_by(4) {
        writers[i].write_all(b"!").unwrap();
        let (r, buf) = reactor
            .run_until(reactor.op(Read::new(&readers[i], Vec::with_capacity(4), u64::MAX)))
            .unwrap();
        assert_eq!(r.unwrap(), 1);
        assert_eq!(&buf[..], b"!");
    }
}

/// Deadlines at the present and in the past: a read that would wait ends
/// with `ECANCELED` at once (the link timeout is already due when
/// `io_queue_linked_timeout` arms it), having read nothing; a read that
/// is ready at issue and a NOP complete with their own result (the op
/// completes inline, and `io_disarm_next` cancels its timeout).
#[test]
fn deadlines_at_or_before_now_cut_waiting_ops_and_spare_ready_ones() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (r, w) = pipe();
    let rfd = SharedFd::new(r);
    let mut w = std::fs::File::from(w);
    let past = Instant::now().checked_sub(Duration::from_secs(1));
    let mut deadlines = vec![("now", Instant::now())];
    if let Some(past) = past {
        deadlines.push(("a second ago", past));
    }
    for (what, deadline) in &deadlines {
        let t0 = Instant::now();
        let (res, buf) = reactor
            .run_until(
                h.op_with_deadline(Read::new(&rfd, Vec::with_capacity(8), u64::MAX), *deadline),
            )
            .unwrap();
        assert_eq!(
            errno(&res),
            Some(libc::ECANCELED),
            "a read due {what}: {res:?}"
        );
        assert!(buf.is_empty(), "a cut read filled its buffer");
        assert!(
            t0.elapsed() < Duration::from_secs(1),
            "a read due {what} took {:?}",
            t0.elapsed()
        );
        let (res, ()) = reactor
            .run_until(h.op_with_deadline(Nop, *deadline))
            .unwrap();
        assert_eq!(res.unwrap(), 0, "a NOP due {what}");
        // The same through a callback.
        let got: Rc<RefCell<Vec<Result<u32, i32>>>> = Rc::default();
        let g = got.clone();
        h.queue_with_deadline(
            Read::new(&rfd, Vec::with_capacity(8), u64::MAX),
            *deadline,
            move |r, _| {
                g.borrow_mut().push(plain(r));
            },
        )
        .unwrap();
        reactor.run().unwrap();
        assert_eq!(
            *got.borrow(),
            vec![Err(libc::ECANCELED)],
            "a queued read due {what}"
        );
    }
    // Bytes ready when the op is issued: the op wins.
    w.write_all(b"ready").unwrap();
    let (res, buf) = reactor
        .run_until(h.op_with_deadline(
            Read::new(&rfd, Vec::with_capacity(8), u64::MAX),
            past.unwrap_or_else(Instant::now),
        ))
        .unwrap();
    assert_eq!(
        res.unwrap(),
        5,
        "a read of a ready pipe under a past deadline"
    );
    assert_eq!(&buf[..], b"ready");
    // Nothing was consumed by the cut reads: what is written now is read
    // whole.
    w.write_all(b"late").unwrap();
    let (res, buf) = reactor
        .run_until(h.op(Read::new(&rfd, Vec::with_capacity(8), u64::MAX)))
        .unwrap();
    assert_eq!(res.unwrap(), 4);
    assert_eq!(&buf[..], b"late");
    assert_eq!(h.in_flight(), 0);
}

/// A cancel of an op whose deadline already fired cancels nothing; ids
/// of 3000 NOPs, run in waves so that their slots are reused, are stale
/// and cancel nothing either, even the one whose slot a live read now
/// holds: that read stays in flight and gets its byte.
#[test]
fn stale_ids_after_a_fired_deadline_and_thousands_of_slot_reuses_cancel_nothing() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (r1, _w1) = pipe();
    let r1 = SharedFd::new(r1);
    let fired: Rc<RefCell<Vec<Result<u32, i32>>>> = Rc::default();
    let f = fired.clone();
    let first = h
        .queue_with_deadline(
            Read::new(&r1, Vec::with_capacity(4), u64::MAX),
            Instant::now() + Duration::from_millis(20),
            move |r, _| f.borrow_mut().push(plain(r)),
        )
        .unwrap();
    reactor.run().unwrap();
    assert_eq!(*fired.borrow(), vec![Err(libc::ECANCELED)]);
    assert!(
        !h.cancel(first).unwrap(),
        "the op its deadline ended is gone"
    );
    let mut stale = vec![first];
    let nops = Rc::new(std::cell::Cell::new(0u32));
    for _ in 0..30 {
        for _ in 0..100 {
            let n = nops.clone();
            stale.push(
                h.queue(Nop, move |r, ()| {
                    assert_eq!(r.unwrap(), 0);
                    n.set(n.get() + 1);
                })
                .unwrap(),
            );
        }
        reactor.run().unwrap();
    }
    assert_eq!(nops.get(), 3000, "every NOP's callback, once");
    let slots: HashSet<u32> = stale.iter().map(OpId::slot).collect();
    assert!(
        slots.len() < stale.len() / 10,
        "slots were reused ({} slots)",
        slots.len()
    );
    let (r2, w2) = pipe();
    let r2 = SharedFd::new(r2);
    let mut w2 = std::fs::File::from(w2);
    let got: Rc<RefCell<Reads>> = Rc::default();
    let g = got.clone();
    let live = h
        .queue(
            Read::new(&r2, Vec::with_capacity(4), u64::MAX),
            move |r, buf| g.borrow_mut().push((plain(r), buf)),
        )
        .unwrap();
    assert!(
        stale.iter().any(|s| s.slot() == live.slot()),
        "the live read took a slot some stale id names"
    );
    for s in &stale {
        assert!(!h.cancel(*s).unwrap(), "a stale id {s:?} queued a cancel");
    }
    run_for(&reactor, 30);
    assert!(
        got.borrow().is_empty(),
        "the live read ended: {:?}",
        got.borrow()
    );
    assert_eq!(h.in_flight(), 1);
    w2.write_all(b"x").unwrap();
    reactor.run().unwrap();
    assert_eq!(*got.borrow(), vec![(Ok(1), b"x".to_vec())]);
    assert!(!h.cancel(live).unwrap());
}

/// The same from another thread, through a `Remote`: an op queued by
/// `execute` is cancelled by its id (`ECANCELED`), a second cancel of that
/// id cancels nothing (a later read on the same reactor gets its bytes),
/// a timeout queued with a deadline in the past is cut at once, and a NOP
/// under such a deadline completes. `run` returns once the last `Remote`
/// is dropped.
#[test]
fn remote_cancels_by_id_and_past_deadlines_from_another_thread() {
    let _watch = watchdog();
    let (tx, rx) = std::sync::mpsc::channel();
    let reactor_thread = std::thread::spawn(move || {
        let reactor = Reactor::new().unwrap();
        tx.send(reactor.remote()).unwrap();
        reactor.run()
    });
    let remote = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    let bound = Duration::from_secs(5);
    let (done_tx, done_rx) =
        std::sync::mpsc::channel::<(&'static str, Result<u32, i32>, Vec<u8>)>();
    let (id_tx, id_rx) = std::sync::mpsc::channel();
    let (r, w) = pipe();
    let _w = w;
    {
        let (done, ids) = (done_tx.clone(), id_tx.clone());
        remote
            .execute(move |h| {
                let fd = SharedFd::new(r);
                let id = h
                    .queue(
                        Read::new(&fd, Vec::with_capacity(8), u64::MAX),
                        move |r, buf| {
                            done.send(("first", plain(r), buf)).unwrap();
                        },
                    )
                    .unwrap();
                ids.send(id).unwrap();
            })
            .unwrap();
    }
    let id = id_rx.recv_timeout(bound).unwrap();
    remote.cancel(id).unwrap();
    let (what, res, buf) = done_rx.recv_timeout(bound).unwrap();
    assert_eq!((what, res), ("first", Err(libc::ECANCELED)));
    assert!(buf.is_empty());
    // The id again: stale. A read queued after it on the same pipe is not
    // touched by the cancel sent after it.
    let (rr, ww) = pipe();
    let mut ww = std::fs::File::from(ww);
    {
        let done = done_tx.clone();
        remote
            .execute(move |h| {
                let fd = SharedFd::new(rr);
                h.queue(
                    Read::new(&fd, Vec::with_capacity(8), u64::MAX),
                    move |r, buf| {
                        done.send(("second", plain(r), buf)).unwrap();
                    },
                )
                .unwrap();
            })
            .unwrap();
    }
    remote.cancel(id).unwrap();
    std::thread::sleep(Duration::from_millis(30));
    assert!(
        done_rx.try_recv().is_err(),
        "the stale cancel ended the second read"
    );
    ww.write_all(b"two").unwrap();
    let (what, res, buf) = done_rx.recv_timeout(bound).unwrap();
    assert_eq!((what, res, &buf[..]), ("second", Ok(3), &b"two"[..]));
    // Past deadlines through the remote.
    let past = Instant::now()
        .checked_sub(Duration::from_millis(500))
        .unwrap_or_else(Instant::now);
    let t0 = Instant::now();
    let d = done_tx.clone();
    remote
        .queue_with_deadline(Timeout::new(Duration::from_secs(10)), past, move |r, ()| {
            d.send(("timeout", plain(r), Vec::new())).unwrap();
        })
        .unwrap();
    let (what, res, _) = done_rx.recv_timeout(bound).unwrap();
    assert_eq!((what, res), ("timeout", Err(libc::ECANCELED)));
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "a 10 s timeout due in the past ran"
    );
    let d = done_tx.clone();
    remote
        .queue_with_deadline(Nop, past, move |r, ()| {
            d.send(("nop", plain(r), Vec::new())).unwrap();
        })
        .unwrap();
    let (what, res, _) = done_rx.recv_timeout(bound).unwrap();
    assert_eq!((what, res), ("nop", Ok(0)));
    // Nothing else came: one call per op.
    assert!(done_rx.try_recv().is_err());
    drop(remote);
    let end = Instant::now() + bound;
    while !reactor_thread.is_finished() {
        assert!(
            Instant::now() < end,
            "run did not return after the last Remote went"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    reactor_thread.join().unwrap().unwrap();
    drop(done_tx);
    assert!(
        done_rx.try_recv().is_err(),
        "a callback ran after the reactor ended"
    );
}

// ---------------------------------------------------------------------
// tokio semantics: cancel-safety, split halves, shutdown.
// ---------------------------------------------------------------------

/// A reader that races every read against a short sleep (as `select!` does) or
/// bounds it with `time::timeout`, dropping the read future whenever the
/// timer wins, while a peer writes 300 000 bytes in uneven chunks with
/// pauses: the bytes read, in order, are exactly those written (a dropped
/// read's receive stays the stream's, its bytes are read next).
#[test]
fn reads_dropped_by_select_and_timeout_lose_and_double_no_byte() {
    let _watch = watchdog();
    let want = pattern(300_000, 7);
    let expected = want.clone();
    on_tokio(Duration::from_secs(20), move || async move {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let (mut stream, mut peer) = connected(&h);
        let writer = std::thread::spawn(move || {
            let mut off = 0;
            let mut i = 0usize;
            while off < want.len() {
                let n = (1 + (i * 7919) % 4000).min(want.len() - off);
                peer.write_all(&want[off..off + n]).unwrap();
                off += n;
                if i.is_multiple_of(5) {
                    std::thread::sleep(Duration::from_micros(300));
                }
                i += 1;
            }
            peer.shutdown(std::net::Shutdown::Write).unwrap();
            peer
        });
        let mut got = Vec::new();
        let mut buf = vec![0u8; 3000];
        let mut dropped = 0u32;
        let mut round = 0u32;
        loop {
            round += 1;
            let r = if round.is_multiple_of(2) {
                match race(
                    AsyncReadExt::read(&mut stream, &mut buf),
                    tokio::time::sleep(Duration::from_micros(100)),
                    round.is_multiple_of(4),
                )
                .await
                {
                    Either::Left(r) => Some(r),
                    Either::Right(()) => None,
                }
            } else {
                tokio::time::timeout(
                    Duration::from_micros(200),
                    AsyncReadExt::read(&mut stream, &mut buf),
                )
                .await
                .ok()
            };
            match r {
                None => dropped += 1,
                Some(Ok(0)) => break,
                Some(Ok(n)) => got.extend_from_slice(&buf[..n]),
                Some(Err(e)) => panic!("read after {} bytes: {e}", got.len()),
            }
        }
        let _peer = tokio::task::spawn_blocking(move || writer.join().unwrap())
            .await
            .unwrap();
        assert_eq!(
            got.len(),
            expected.len(),
            "bytes read ({dropped} reads dropped)"
        );
        assert!(
            got == expected,
            "the bytes differ ({dropped} reads dropped)"
        );
        assert!(
            dropped > 0,
            "no read was ever dropped: the test proved nothing"
        );
        eprintln!("{round} reads, {dropped} dropped mid-flight");
    });
}

/// A proxy as one is written with tokio: a connection accepted by the
/// reactor's `TcpListener` and one it connected upstream, each split
/// into read and write halves (`tokio::io::split`), copied both ways by
/// two tasks at once, each shutting its write half when its source ends.
/// The client sends 1 MiB and half-closes; the server reads to the end
/// before it answers with 1.5 MiB and closes: each side gets exactly the
/// other's bytes and then the end of the stream.
#[test]
fn a_split_proxy_copies_both_ways_and_passes_half_closes_on() {
    let _watch = watchdog();
    on_tokio(Duration::from_secs(20), || async {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let up = pattern(1 << 20, 11);
        let down = pattern(3 << 19, 12);
        let server = std::net::TcpListener::bind(any()).unwrap();
        let server_addr = server.local_addr().unwrap();
        let (up2, down2) = (up.clone(), down.clone());
        let server_thread = std::thread::spawn(move || {
            let (mut s, _) = server.accept().unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).unwrap();
            // Answers only once the proxy passed the client's half-close.
            s.write_all(&down2).unwrap();
            s.shutdown(std::net::Shutdown::Write).unwrap();
            got == up2
        });
        let proxy = TcpListener::bind(&h, any()).unwrap();
        let proxy_addr = proxy.local_addr().unwrap();
        let client_thread = std::thread::spawn(move || {
            let mut c = std::net::TcpStream::connect(proxy_addr).unwrap();
            c.write_all(&up).unwrap();
            c.shutdown(std::net::Shutdown::Write).unwrap();
            let mut got = Vec::new();
            c.read_to_end(&mut got).unwrap();
            got
        });
        let inbound = proxy.accept().await.unwrap();
        let outbound = TcpStream::connect(&h, server_addr).await.unwrap();
        let (mut in_r, mut in_w) = tokio::io::split(inbound);
        let (mut out_r, mut out_w) = tokio::io::split(outbound);
        let a = tokio::task::spawn_local(async move {
            let n = tokio::io::copy(&mut in_r, &mut out_w).await?;
            out_w.shutdown().await?;
            Ok::<_, io::Error>(n)
        });
        let b = tokio::task::spawn_local(async move {
            let n = tokio::io::copy(&mut out_r, &mut in_w).await?;
            in_w.shutdown().await?;
            Ok::<_, io::Error>(n)
        });
        assert_eq!(a.await.unwrap().unwrap(), 1 << 20, "client to server");
        assert_eq!(b.await.unwrap().unwrap(), 3 << 19, "server to client");
        let (server_ok, client_got) = tokio::task::spawn_blocking(move || {
            (server_thread.join().unwrap(), client_thread.join().unwrap())
        })
        .await
        .unwrap();
        assert!(server_ok, "the server got other bytes than the client sent");
        assert_eq!(client_got.len(), down.len());
        assert!(
            client_got == down,
            "the client got other bytes than the server sent"
        );
    });
}

/// A write through `AsyncWrite` after its own `poll_shutdown`: the kernel
/// refuses the send (`tcp_sendmsg` on a socket shut for writing:
/// `EPIPE`), which the write or the flush after it reports; the peer sees
/// the bytes written before the shutdown, then the end, and nothing of
/// the later write. The stream's plain `write` fails the same.
#[test]
fn writes_after_the_stream_s_own_write_shutdown_fail_with_epipe() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (mut stream, mut peer) = connected(&h);
    let (write, flush, plain_write) = reactor
        .run_until(async {
            AsyncWriteExt::write_all(&mut stream, b"before")
                .await
                .unwrap();
            AsyncWriteExt::shutdown(&mut stream).await.unwrap();
            let write = AsyncWriteExt::write(&mut stream, b"after").await;
            let flush = stream.flush().await;
            let (plain_write, _) = stream.write(b"plain".to_vec()).await;
            (write, flush, plain_write)
        })
        .unwrap();
    match write {
        Ok(5) => assert_eq!(
            errno(&flush),
            Some(libc::EPIPE),
            "the flush after a write past the shutdown: {flush:?}"
        ),
        other => assert_eq!(errno(&other), Some(libc::EPIPE), "the write: {other:?}"),
    }
    assert_eq!(
        errno(&plain_write),
        Some(libc::EPIPE),
        "plain write: {plain_write:?}"
    );
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    peer.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"before");
}

/// Zero lengths: a plain write of nothing sends nothing and says 0,
/// `write_all` of nothing succeeds, `AsyncWrite` of nothing says 0; a
/// plain read into a buffer with no room says 0 (`tcp_recvmsg` of length
/// 0 returns at once) and takes nothing, also when `AsyncRead` holds
/// bytes it received ahead; an `AsyncRead` into a full `ReadBuf` fills
/// nothing. Every byte the peer sent is then read, once, in order.
#[test]
fn zero_length_reads_and_writes_move_nothing_and_lose_nothing() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (mut stream, mut peer) = connected(&h);
    peer.write_all(b"hello world").unwrap();
    let got = reactor
        .run_until(async {
            let (w, _) = stream.write(Vec::new()).await;
            assert_eq!(w.unwrap(), 0, "a plain write of nothing");
            let (w, _) = stream.write_all(Vec::<u8>::new()).await;
            w.unwrap();
            assert_eq!(
                AsyncWriteExt::write(&mut stream, &[]).await.unwrap(),
                0,
                "AsyncWrite of nothing"
            );
            stream.flush().await.unwrap();
            let mut one = [0u8; 1];
            assert_eq!(
                AsyncReadExt::read(&mut stream, &mut one).await.unwrap(),
                1,
                "AsyncRead of one byte"
            );
            let mut got = one.to_vec();
            // Bytes wait ahead in the stream: a read with no room takes none.
            let (r, b) = stream.read(Vec::new()).await;
            assert_eq!((r.unwrap(), b.len()), (0, 0), "a plain read with no room");
            assert_eq!(
                AsyncReadExt::read(&mut stream, &mut []).await.unwrap(),
                0,
                "AsyncRead, no room"
            );
            let (r, b) = stream.read(Vec::with_capacity(64)).await;
            got.extend_from_slice(&b[..r.unwrap()]);
            got
        })
        .unwrap();
    assert_eq!(got, b"hello world");
    // Nothing was sent by the empty writes.
    peer.set_nonblocking(true).unwrap();
    let mut b = [0u8; 8];
    assert_eq!(
        peer.read(&mut b).map_err(|e| e.kind()),
        Err(io::ErrorKind::WouldBlock),
        "the empty writes sent something"
    );
}

/// `AsyncRead` through a buffer ring of four 16-byte buffers, which runs
/// dry at once (`ENOBUFS` ends the multishot receive; the read goes the
/// one-shot way, the next through the ring again), read into `ReadBuf`s
/// of 1 to 23 bytes, with the ring switched off and on every few reads
/// (the multishot receive is cancelled, what it received is read first):
/// the 40 000 bytes the peer sent arrive exactly, and every buffer of
/// the ring is back at the end.
#[test]
fn async_reads_through_a_tiny_ring_switched_off_and_on_keep_every_byte() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 61, 4, 16) else {
        return;
    };
    let want = pattern(40_000, 21);
    let (mut stream, mut peer) = connected(&h);
    let w = want.clone();
    let writer = std::thread::spawn(move || {
        for chunk in w.chunks(997) {
            peer.write_all(chunk).unwrap();
        }
        peer.shutdown(std::net::Shutdown::Write).unwrap();
        peer
    });
    stream.set_read_ring(Some(group));
    let got = reactor
        .run_until(async {
            let mut got = Vec::new();
            let mut buf = [0u8; 23];
            let mut i = 0usize;
            loop {
                i += 1;
                if i.is_multiple_of(7) {
                    stream.set_read_ring(if i.is_multiple_of(14) {
                        Some(group)
                    } else {
                        None
                    });
                }
                let len = 1 + i % 23;
                match AsyncReadExt::read(&mut stream, &mut buf[..len]).await {
                    Ok(0) => break got,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) => panic!("read {i} after {} bytes: {e}", got.len()),
                }
            }
        })
        .unwrap();
    let _peer = writer.join().unwrap();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "bytes lost, doubled or reordered");
    drop(stream);
    run_for(&reactor, 5);
    assert_group_whole(&reactor, group, 4, "the tiny ring after the reads");
}

// ---------------------------------------------------------------------
// Datagrams and Unix addresses.
// ---------------------------------------------------------------------

/// UDP edges: an empty datagram is received as 0 bytes with its sender,
/// and the datagram after it whole; a datagram longer than the buffer is
/// cut to it (`udp_recvmsg`: the rest is dropped, not read later); a
/// connected socket's `send_to` another address reaches that address
/// (`udp_sendmsg` takes the given address over the connected one) while
/// its `send` still reaches its peer; `recv_ring` of an empty datagram
/// says `UnexpectedEof` and takes no buffer of the ring.
#[test]
fn udp_empty_cut_and_redirected_datagrams() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let a = UdpSocket::bind(&h, any()).unwrap();
    let b = UdpSocket::bind(&h, any()).unwrap();
    let c = UdpSocket::bind(&h, any()).unwrap();
    let (a_addr, b_addr, c_addr) = (
        a.local_addr().unwrap(),
        b.local_addr().unwrap(),
        c.local_addr().unwrap(),
    );
    reactor
        .run_until(async {
            let (r, _) = a.send_to(Vec::new(), b_addr).await;
            assert_eq!(r.unwrap(), 0, "an empty datagram sent");
            let (r, _) = a.send_to(b"0123456789".to_vec(), b_addr).await;
            assert_eq!(r.unwrap(), 10);
            let (r, _) = a.send_to(b"next".to_vec(), b_addr).await;
            assert_eq!(r.unwrap(), 4);
            let (r, _) = b.recv_from(Vec::with_capacity(16)).await;
            assert_eq!(
                r.unwrap(),
                (0, a_addr),
                "the empty datagram, with its sender"
            );
            let (r, buf) = b.recv_from(vec![0u8; 4]).await;
            assert_eq!(r.unwrap(), (4, a_addr), "a datagram cut to its buffer");
            assert_eq!(&buf[..], b"0123");
            let (r, buf) = b.recv_from(Vec::with_capacity(16)).await;
            assert_eq!(
                r.unwrap(),
                (4, a_addr),
                "the next datagram, not the cut one's rest"
            );
            assert_eq!(&buf[..], b"next");

            a.connect(b_addr).unwrap();
            let (r, _) = a.send_to(b"to c".to_vec(), c_addr).await;
            assert_eq!(r.unwrap(), 4, "send_to past the connected peer");
            let (r, _) = a.send(b"to b".to_vec()).await;
            assert_eq!(r.unwrap(), 4);
            let (r, buf) = c.recv_from(Vec::with_capacity(16)).await;
            assert_eq!(r.unwrap(), (4, a_addr));
            assert_eq!(&buf[..], b"to c");
            let (r, buf) = b.recv_from(Vec::with_capacity(16)).await;
            assert_eq!(r.unwrap(), (4, a_addr));
            assert_eq!(&buf[..], b"to b");
        })
        .unwrap();
    let Some(group) = group_or_skip(&h, 62, 2, 64) else {
        return;
    };
    c.connect(a_addr).unwrap();
    reactor
        .run_until(async {
            let (r, _) = a.send_to(Vec::new(), c_addr).await;
            assert_eq!(r.unwrap(), 0);
            let (r, _) = a.send_to(b"full".to_vec(), c_addr).await;
            assert_eq!(r.unwrap(), 4);
            let empty = c.recv_ring(group).await;
            assert_eq!(
                empty.as_ref().err().map(io::Error::kind),
                Some(io::ErrorKind::UnexpectedEof),
                "recv_ring of an empty datagram: {empty:?}"
            );
            let full = c.recv_ring(group).await.unwrap();
            assert_eq!(&full[..], b"full");
        })
        .unwrap();
    assert_group_whole(
        &reactor,
        group,
        2,
        "after an empty datagram through the ring",
    );
}

/// Unix-domain addresses: a listener on an abstract name is reached by a
/// stream connected to that name, whose peer address is the name while
/// the accepted side's peer is unnamed; a datagram from an unbound socket
/// comes with an unnamed sender (`unix_dgram_recvmsg` writes no name), one
/// from a socket bound to an abstract name with that name; a send to an
/// abstract name nobody holds fails with `ECONNREFUSED`.
#[test]
fn abstract_and_unnamed_unix_addresses() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let name = unique("listener");
    let abs = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let listener = UnixListener::bind_addr(&h, &SockAddr::from(&abs)).unwrap();
    assert_eq!(
        listener.local_addr().unwrap().as_abstract_name(),
        Some(name.as_bytes())
    );
    let (client, server) = reactor
        .run_until(async {
            let client = UnixStream::connect_addr(&h, SockAddr::from(&abs))
                .await
                .unwrap();
            let server = listener.accept().await.unwrap();
            (client, server)
        })
        .unwrap();
    assert_eq!(
        client.peer_addr().unwrap().as_abstract_name(),
        Some(name.as_bytes())
    );
    assert!(
        server.peer_addr().unwrap().is_unnamed(),
        "an unbound client's name"
    );
    reactor
        .run_until(async {
            let (r, _) = client.write_all(b"over an abstract name".to_vec()).await;
            r.unwrap();
            let (r, buf) = server.read(Vec::with_capacity(64)).await;
            assert_eq!(&buf[..r.unwrap()], b"over an abstract name");
        })
        .unwrap();

    let dname = unique("dgram");
    let daddr = std::os::unix::net::SocketAddr::from_abstract_name(dname.as_bytes()).unwrap();
    let receiver = UnixDatagram::bind_addr(&h, &SockAddr::from(&daddr)).unwrap();
    let unbound = UnixDatagram::unbound(&h).unwrap();
    let sname = unique("sender");
    let saddr = std::os::unix::net::SocketAddr::from_abstract_name(sname.as_bytes()).unwrap();
    let named = UnixDatagram::bind_addr(&h, &SockAddr::from(&saddr)).unwrap();
    let nobody = unique("nobody");
    let nobody = std::os::unix::net::SocketAddr::from_abstract_name(nobody.as_bytes()).unwrap();
    reactor
        .run_until(async {
            let (r, _) = unbound
                .send_to_addr(b"anon".to_vec(), SockAddr::from(&daddr))
                .await;
            assert_eq!(r.unwrap(), 4);
            let (r, _) = named
                .send_to_addr(b"named".to_vec(), SockAddr::from(&daddr))
                .await;
            assert_eq!(r.unwrap(), 5);
            let (r, buf, from) = receiver.recv_from(Vec::with_capacity(16)).await;
            assert_eq!(&buf[..r.unwrap()], b"anon");
            let from = from.expect("an unbound sender is an unnamed address, not none");
            assert!(from.is_unnamed(), "{from:?}");
            let (r, buf, from) = receiver.recv_from(Vec::with_capacity(16)).await;
            assert_eq!(&buf[..r.unwrap()], b"named");
            assert_eq!(from.unwrap().as_abstract_name(), Some(sname.as_bytes()));
            let (r, _) = named
                .send_to_addr(b"lost".to_vec(), SockAddr::from(&nobody))
                .await;
            assert_eq!(errno(&r), Some(libc::ECONNREFUSED), "{r:?}");
        })
        .unwrap();
}

// ---------------------------------------------------------------------
// Connections, deadlines, multishot receives.
// ---------------------------------------------------------------------

/// 64 clients each connect, send a message of their own and close at
/// once, all before the listener's stream of connections is read: every
/// connection is accepted once, and each one's bytes are read whole up to
/// its end, none lost or given to another.
#[test]
fn peers_that_send_and_close_at_once_lose_no_connection_and_no_byte() {
    let _watch = watchdog();
    const N: usize = 64;
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = TcpListener::bind(&h, any()).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut incoming = listener.incoming();
    let clients = std::thread::spawn(move || {
        for i in 0..N {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.write_all(format!("client {i:02} {}", "x".repeat(i * 37)).as_bytes())
                .unwrap();
        }
    });
    let got = reactor
        .run_until(async {
            let mut got = Vec::new();
            for _ in 0..N {
                let conn = incoming.next().await.unwrap().unwrap();
                let mut bytes = Vec::new();
                loop {
                    let (r, buf) = conn.read(Vec::with_capacity(512)).await;
                    match r.unwrap() {
                        0 => break,
                        n => bytes.extend_from_slice(&buf[..n]),
                    }
                }
                got.push(String::from_utf8(bytes).unwrap());
            }
            got
        })
        .unwrap();
    clients.join().unwrap();
    let mut want: Vec<String> = (0..N)
        .map(|i| format!("client {i:02} {}", "x".repeat(i * 37)))
        .collect();
    let mut got = got;
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

/// A read deadline that passed before a read starts fails the read with
/// `TimedOut` and consumes nothing: once lifted, the same stream reads
/// the bytes that were waiting, through the plain `read` and through
/// `AsyncRead`; a deadline moved into the past between two polls of an
/// `AsyncRead` ends that read with `TimedOut`, and the bytes sent after it
/// are read whole once the deadline is lifted.
#[test]
fn past_and_moved_read_deadlines_consume_no_byte() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (mut stream, mut peer) = connected(&h);
    peer.write_all(b"waiting").unwrap();
    run_for(&reactor, 5);
    let past = Instant::now()
        .checked_sub(Duration::from_millis(10))
        .unwrap_or_else(Instant::now);
    stream.set_read_deadline(Some(past));
    let (r, buf) = reactor
        .run_until(stream.read(Vec::with_capacity(16)))
        .unwrap();
    assert_eq!(r.map_err(|e| e.kind()), Err(io::ErrorKind::TimedOut));
    assert!(buf.is_empty());
    let mut b = [0u8; 16];
    let r = reactor
        .run_until(AsyncReadExt::read(&mut stream, &mut b))
        .unwrap();
    assert_eq!(
        r.map_err(|e| e.kind()),
        Err(io::ErrorKind::TimedOut),
        "AsyncRead"
    );
    stream.set_read_deadline(None);
    let (r, buf) = reactor
        .run_until(stream.read(Vec::with_capacity(16)))
        .unwrap();
    assert_eq!(&buf[..r.unwrap()], b"waiting");

    // An AsyncRead in flight, its deadline moved into the past between
    // polls.
    let mut buf = [0u8; 16];
    assert!(uring_tests::net::poll_read(&mut stream, &mut buf).is_pending());
    run_for(&reactor, 5);
    assert!(uring_tests::net::poll_read(&mut stream, &mut buf).is_pending());
    stream.set_read_deadline(Some(Instant::now()));
    let r = reactor
        .run_until(AsyncReadExt::read(&mut stream, &mut buf))
        .unwrap();
    assert_eq!(r.map_err(|e| e.kind()), Err(io::ErrorKind::TimedOut));
    stream.set_read_deadline(None);
    peer.write_all(b"after the deadline").unwrap();
    let mut got = Vec::new();
    while got.len() < 18 {
        let n = reactor
            .run_until(AsyncReadExt::read(&mut stream, &mut buf))
            .unwrap()
            .unwrap();
        assert_ne!(n, 0, "an end nobody sent");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"after the deadline");
}

/// A multishot receive queued with a callback (go-uring style), cancelled
/// by its id after the peer's first bursts: the callback sees each buffer
/// once, in order, then its last call (`ECANCELED`), and no call after;
/// the bytes are a prefix of what was sent and the rest is still in the
/// socket for a plain read; every buffer goes back to the ring.
#[test]
fn a_multishot_receive_cancelled_by_id_delivers_each_item_once() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 63, 8, 64) else {
        return;
    };
    let (mine, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = SharedFd::new(mine);
    type Items = Vec<Result<Option<Vec<u8>>, i32>>;
    let items: Rc<RefCell<Items>> = Rc::default();
    let i2 = items.clone();
    let id = h
        .queue_multishot(RecvMulti::new(&fd, group), move |item| {
            let item: io::Result<Option<RingBuf>> = item;
            i2.borrow_mut().push(
                item.map(|b| b.map(|b| b.to_vec()))
                    .map_err(|e| e.raw_os_error().unwrap_or(-1)),
            );
        })
        .unwrap();
    let sent = pattern(300, 5);
    for chunk in sent.chunks(50) {
        peer.write_all(chunk).unwrap();
        run_for(&reactor, 2);
    }
    let before = items.borrow().len();
    assert!(before > 0, "no buffer arrived");
    assert!(h.cancel(id).unwrap(), "the receive is in flight");
    reactor.run().unwrap();
    assert!(!h.cancel(id).unwrap());
    let items = items.borrow();
    let (last, bufs) = items.split_last().unwrap();
    assert_eq!(*last, Err(libc::ECANCELED), "the last call: {items:?}");
    let mut got = Vec::new();
    for item in bufs {
        match item {
            Ok(Some(b)) => got.extend_from_slice(b),
            other => panic!("an item before the last: {other:?}"),
        }
    }
    assert_eq!(got, sent, "every burst received once, in order");
    peer.write_all(b"later").unwrap();
    let (r, buf) = reactor
        .run_until(reactor.op(uring::reactor::ops::Recv::new(&fd, Vec::with_capacity(16))))
        .unwrap();
    assert_eq!(&buf[..r.unwrap() as usize], b"later");
    drop(items);
    assert_group_whole(&reactor, group, 8, "after the cancelled multishot receive");
}

/// A process that keeps `SIGPIPE` at its default action (a C program, a
/// Rust one built with `-Zon-broken-pipe=kill`): writes through the net
/// layer to a socket whose peer is gone or whose write side is shut fail
/// with `EPIPE` and never raise the signal (`MSG_NOSIGNAL` in every send
/// the layer makes: `__sys_sendto` would send `SIGPIPE` otherwise). Run
/// in a process of its own, whose death by the signal fails the test.
#[test]
fn broken_pipes_never_raise_sigpipe_in_a_process_that_keeps_its_default() {
    in_own_process(
        "broken_pipes_never_raise_sigpipe_in_a_process_that_keeps_its_default",
        "a write that waited forever",
        || {
            // SAFETY: signal(2) setting SIGPIPE back to its default in this
            // process of the test alone (single test, no other thread
            // relies on the disposition).
            unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
            let reactor = Reactor::new().unwrap();
            let h = reactor.handle();
            let (mut stream, peer) = connected(&h);
            drop(peer);
            run_for(&reactor, 20);
            let (a, b) = UnixStream::pair(&h).unwrap();
            drop(b);
            let results = reactor
                .run_until(async {
                    let mut errs = Vec::new();
                    // The first send to a closed TCP peer may be taken (and
                    // answered with a reset): send until it fails.
                    let mut plain = Ok(0);
                    for _ in 0..20 {
                        plain = stream.write(b"plain".to_vec()).await.0;
                        if plain.is_err() {
                            break;
                        }
                        let _ = h.op(Timeout::new(Duration::from_millis(2))).await;
                    }
                    errs.push(("tcp plain write", plain.map(drop)));
                    let mut flushed = Ok(());
                    for _ in 0..3 {
                        let w = AsyncWriteExt::write(&mut stream, b"async").await;
                        flushed = match w {
                            Ok(_) => stream.flush().await,
                            Err(e) => Err(e),
                        };
                        if flushed.is_err() {
                            break;
                        }
                    }
                    errs.push(("tcp AsyncWrite", flushed));
                    errs.push(("unix write", a.write(b"x".to_vec()).await.0.map(drop)));
                    let (r, _, _) = a.send_with_fds(b"x".to_vec(), Vec::new()).await;
                    errs.push(("unix send_with_fds", r.map(drop)));
                    errs
                })
                .unwrap();
            for (what, r) in results {
                let e = r.expect_err(what);
                assert!(
                    matches!(e.raw_os_error(), Some(libc::EPIPE | libc::ECONNRESET)),
                    "{what}: {e}"
                );
            }
            eprintln!("no SIGPIPE");
        },
    );
}

/// A stream whose peer half-closed: `AsyncRead` reads the request, then
/// the end, and keeps reading the end; the stream still writes its answer
/// and shuts down, and the peer gets the answer whole, then the end.
/// (Both ends are the reactor's Unix streams.)
#[test]
fn reads_past_a_half_close_keep_ending_while_the_answer_still_flows() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (mut a, mut b) = UnixStream::pair(&h).unwrap();
    let answer = pattern(200_000, 3);
    let want = answer.clone();
    let got = reactor
        .run_until(async move {
            AsyncWriteExt::write_all(&mut b, b"request").await.unwrap();
            AsyncWriteExt::shutdown(&mut b).await.unwrap();
            let mut req = Vec::new();
            a.read_to_end(&mut req).await.unwrap();
            assert_eq!(req, b"request");
            let mut more = [0u8; 8];
            for _ in 0..3 {
                assert_eq!(
                    AsyncReadExt::read(&mut a, &mut more).await.unwrap(),
                    0,
                    "the end, again"
                );
            }
            let (r, _) = a.read(Vec::with_capacity(8)).await;
            assert_eq!(r.unwrap(), 0, "the plain read after the end");
            let writer = async {
                AsyncWriteExt::write_all(&mut a, &answer).await.unwrap();
                AsyncWriteExt::shutdown(&mut a).await.unwrap();
            };
            let reader = async {
                let mut got = Vec::new();
                b.read_to_end(&mut got).await.unwrap();
                got
            };
            let ((), got) = futures_join(writer, reader).await;
            got
        })
        .unwrap();
    assert_eq!(got.len(), want.len());
    assert!(got == want);
}

/// Which of two raced futures finished first.
enum Either<A, B> {
    Left(A),
    Right(B),
}

/// What `tokio::select!` does with two branches (without tokio's `macros`
/// feature): polls both, `b` first when `b_first`, and returns the first
/// output, dropping the other future unfinished.
async fn race<A, B>(a: A, b: B, b_first: bool) -> Either<A::Output, B::Output>
where
    A: std::future::Future,
    B: std::future::Future,
{
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    std::future::poll_fn(|cx| {
        if b_first && let std::task::Poll::Ready(v) = b.as_mut().poll(cx) {
            return std::task::Poll::Ready(Either::Right(v));
        }
        if let std::task::Poll::Ready(v) = a.as_mut().poll(cx) {
            return std::task::Poll::Ready(Either::Left(v));
        }
        if let std::task::Poll::Ready(v) = b.as_mut().poll(cx) {
            return std::task::Poll::Ready(Either::Right(v));
        }
        std::task::Poll::Pending
    })
    .await
}

/// Polls two futures until both are done (no dependency on a futures
/// crate).
async fn futures_join<A, B>(a: A, b: B) -> (A::Output, B::Output)
where
    A: std::future::Future,
    B: std::future::Future,
{
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    let mut ra = None;
    let mut rb = None;
    std::future::poll_fn(|cx| {
        if ra.is_none()
            && let std::task::Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let std::task::Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        if ra.is_some() && rb.is_some() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    (ra.unwrap(), rb.unwrap())
}

/// Writes of 2.5 GB through `AsyncWrite` (more than a CQE's `i32` result
/// can count), flushed, then a shutdown. One `write` takes a part (at most
/// 64 MiB, which it copies), never more than it can send; `write_all` of
/// the whole then flushes: every byte reaches the peer, exactly once,
/// then the end. (A write that took all 2.5 GB and sent it as one send
/// failed with `EINVAL` at the flush, sending nothing: the kernel keeps a
/// send's length in an `int`.)
#[test]
fn async_writes_larger_than_an_i32_are_flushed_whole() {
    let _watch = watchdog();
    const LEN: usize = 2_500_000_000;
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (mut stream, mut peer) = connected(&h);
    let counter = std::thread::spawn(move || {
        let mut chunk = vec![0u8; 1 << 20];
        let mut total = 0usize;
        let mut nonzero = false;
        loop {
            match peer.read(&mut chunk) {
                Ok(0) => break (total, nonzero),
                Ok(n) => {
                    nonzero |= chunk[..n].iter().any(|&b| b != 0);
                    total += n;
                }
                Err(e) => panic!("the peer's read after {total} bytes: {e}"),
            }
        }
    });
    // Zeroed pages that are only read: no memory is touched until copied.
    let big = vec![0u8; LEN];
    let (write, rest, flush, shutdown) = reactor
        .run_until(async {
            let write = AsyncWriteExt::write(&mut stream, &big).await;
            let taken = *write.as_ref().unwrap_or(&0);
            let rest = AsyncWriteExt::write_all(&mut stream, &big[taken..]).await;
            let flush = stream.flush().await;
            let shutdown = AsyncWriteExt::shutdown(&mut stream).await;
            (write, rest, flush, shutdown)
        })
        .unwrap();
    drop(big);
    drop(stream);
    let (total, nonzero) = counter.join().unwrap();
    let taken = write.unwrap();
    assert!(
        taken > 0 && taken <= 64 << 20,
        "one write took {taken} bytes of {LEN}"
    );
    assert!(rest.is_ok(), "the rest: {rest:?} (the peer read {total})");
    assert!(!nonzero, "bytes nobody wrote");
    assert!(
        flush.is_ok(),
        "the flush of {LEN} bytes: {flush:?} (the peer read {total})"
    );
    assert!(shutdown.is_ok(), "{shutdown:?}");
    assert_eq!(total, LEN, "bytes the peer read");
}

/// The plain `write_all` of 2.2 GB (more than `i32::MAX`): a send of a
/// prefix, then of the rest, as `send(2)` caps one call at `MAX_RW_COUNT`;
/// the peer reads every byte. (A send given the whole length, above
/// `INT_MAX`, failed with `EINVAL` without sending: the kernel keeps it
/// in an `int`.)
#[test]
fn a_plain_write_all_larger_than_an_i32_sends_every_byte() {
    let _watch = watchdog();
    const LEN: usize = 2_200_000_000;
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (stream, mut peer) = connected(&h);
    let counter = std::thread::spawn(move || {
        let mut chunk = vec![0u8; 1 << 20];
        let mut total = 0usize;
        loop {
            match peer.read(&mut chunk) {
                Ok(0) => break total,
                Ok(n) => total += n,
                Err(e) => panic!("the peer's read after {total} bytes: {e}"),
            }
        }
    });
    let (r, big) = reactor.run_until(stream.write_all(vec![0u8; LEN])).unwrap();
    drop(big);
    drop(stream);
    let total = counter.join().unwrap();
    assert!(
        r.is_ok(),
        "write_all of {LEN} bytes: {r:?} (the peer read {total})"
    );
    assert_eq!(total, LEN);
}
