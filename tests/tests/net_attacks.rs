//! Ownership at the edges of `uring::reactor` and `uring::net`, driven from
//! safe code only: buffers of a reactor's buffer ring that outlive their
//! reactor or go through another one, buffers given back while a multishot
//! receive runs, sockets dropped while ops on them are in flight (their
//! descriptor numbers must not be reused meanwhile), futures dropped after
//! their op completed, sockets of a reactor that has shut down, deadlines
//! at the extremes, zero-length and oversized buffers, bad sizes and
//! addresses (errors, never panics), and tokio's `AsyncRead` /
//! `AsyncWrite` with buffers that change between polls.

use std::future::Future;
use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use uring::net::{TcpListener, TcpStream, UdpSocket};
use uring::reactor::ops::{Accept, Nop, Recv, RecvFrom, RecvMulti, RecvRing, Send};
use uring::reactor::{IoBuf, Reactor, RingBuf, SharedFd};
use uring::{BufferGroup, Ring};

use uring_tests::net::group_or_skip;
use uring_tests::skip;

fn any() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn pair() -> (SharedFd, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    (SharedFd::new(a), b)
}

/// Reads until the peer's end of the stream, within two seconds: `true` if
/// the peer closed its side.
fn sees_eof(client: &mut std::net::TcpStream) -> bool {
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut b = [0u8; 64];
    loop {
        match client.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => return true,
            Err(_) => return false,
        }
    }
}

/// Whether `c` reads the end of its stream (or a reset) within `bound`;
/// false if it is still open, with nothing to read, at the bound.
fn ends_within(c: &mut std::net::TcpStream, bound: Duration) -> bool {
    c.set_read_timeout(Some(bound)).unwrap();
    let mut b = [0u8; 16];
    match c.read(&mut b) {
        Ok(0) => true,
        Ok(n) => panic!("{n} unexpected bytes"),
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

// ---------------------------------------------------------------------------
// Futures dropped after their op completed
// ---------------------------------------------------------------------------

/// An accept whose completion the reactor has read, but whose future was
/// never polled again, closes the socket it accepted when the future is
/// dropped: the client sees the end of the stream rather than a connection
/// nobody owns.
#[test]
fn an_accept_completed_but_dropped_unpolled_closes_the_accepted_socket() {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = TcpListener::bind(&h, any()).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    let mut accept = h.op(Accept::new(listener.shared_fd()));
    assert!(uring_tests::poll_once(&mut accept).is_pending());
    // The accept completes while something else is awaited.
    uring_tests::run_for(&reactor, 50);
    assert_eq!(reactor.in_flight(), 0, "the accept has completed");
    drop(accept);
    assert!(
        sees_eof(&mut client),
        "the accepted socket was never closed"
    );
}

/// Writes `ping` from `client` and reads it back through `server` echoing
/// it: the two ends are one live connection.
fn same_connection(reactor: &Reactor, server: &TcpStream, client: &mut std::net::TcpStream) {
    assert_eq!(
        server.peer_addr().unwrap(),
        client.local_addr().unwrap(),
        "the stream is the client's connection"
    );
    client.write_all(b"ping").unwrap();
    let got = reactor
        .run_until(async {
            let (n, buf) = server.read(vec![0u8; 16]).await;
            let n = n.unwrap();
            let (w, _) = server.write_all(buf.slice(..n)).await;
            w.unwrap();
            n
        })
        .unwrap();
    assert_eq!(got, 4);
    let mut back = [0u8; 4];
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    client.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"ping");
}

/// The same through `TcpListener::accept`, as a `select`-style race drops
/// it: the connection the kernel accepted for the dropped future is
/// neither leaked nor closed, but kept by the listener, and its next
/// accept hands it out (tokio's and std's accepts lose no connection
/// either).
#[test]
fn a_listener_accept_raced_and_dropped_after_completion_keeps_the_connection() {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = TcpListener::bind(&h, any()).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    let mut accept = Box::pin(listener.accept());
    assert!(
        accept
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending()
    );
    uring_tests::run_for(&reactor, 50);
    assert_eq!(reactor.in_flight(), 0, "the accept has completed");
    drop(accept);
    assert!(
        !ends_within(&mut client, Duration::from_millis(50)),
        "the connection accepted for the dropped future was closed"
    );
    // Nothing else is queued: this accept can only be the kept one.
    let server = reactor.run_until(listener.accept()).unwrap().unwrap();
    same_connection(&reactor, &server, &mut client);
    assert_eq!(reactor.in_flight(), 0);
}

/// A dropped stream of accepts keeps the connections it accepted and
/// nobody read, in their order, for the listener's next accepts; the
/// listener dropped closes what it kept.
#[test]
fn a_dropped_incoming_stream_keeps_the_connections_nobody_read() {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = TcpListener::bind(&h, any()).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut incoming = listener.incoming();
    let mut clients: Vec<_> = (0..3)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    uring_tests::run_for(&reactor, 50);
    drop(incoming);
    uring_tests::run_for(&reactor, 20);
    assert_eq!(reactor.in_flight(), 0, "the stream's accept has ended");
    for c in &mut clients {
        assert!(
            !ends_within(c, Duration::from_millis(20)),
            "a connection accepted for the dropped stream was closed"
        );
    }
    // Two through `accept`, the third through a new stream: in the order
    // the clients connected.
    let first = reactor.run_until(listener.accept()).unwrap().unwrap();
    same_connection(&reactor, &first, &mut clients[0]);
    let second = reactor.run_until(listener.accept()).unwrap().unwrap();
    same_connection(&reactor, &second, &mut clients[1]);
    incoming = listener.incoming();
    let third = reactor
        .run_until(incoming.next())
        .unwrap()
        .unwrap()
        .unwrap();
    same_connection(&reactor, &third, &mut clients[2]);
    drop((first, second, third));
    for c in &mut clients {
        assert!(sees_eof(c));
    }
    // Kept, then closed with the listener and its stream.
    let mut late = std::net::TcpStream::connect(addr).unwrap();
    uring_tests::run_for(&reactor, 50);
    drop(incoming);
    uring_tests::run_for(&reactor, 20);
    assert!(!ends_within(&mut late, Duration::from_millis(20)));
    drop(listener);
    assert!(
        sees_eof(&mut late),
        "a kept connection outlived its listener"
    );
}

/// An accept raced against a timer, again and again, as a biased `select`
/// loop does (the timer polled first, so an accept that completed with it
/// is dropped ready), while clients connect: every client is accepted
/// once, none closed by a dropped accept, none twice.
#[test]
fn accepts_raced_and_dropped_in_a_loop_lose_no_connection() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = TcpListener::bind(&h, any()).unwrap();
    let addr = listener.local_addr().unwrap();
    const CLIENTS: usize = 40;
    let connector = std::thread::spawn(move || {
        (0..CLIENTS)
            .map(|i| {
                let mut c = std::net::TcpStream::connect(addr).unwrap();
                c.write_all(&[i as u8]).unwrap();
                std::thread::sleep(Duration::from_micros(300 * (i as u64 % 5)));
                c
            })
            .collect::<Vec<_>>()
    });
    let mut seen = Vec::new();
    let mut raced = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.len() < CLIENTS && Instant::now() < deadline {
        let mut accept = Box::pin(listener.accept());
        let mut timer = h.op(uring::reactor::ops::Timeout::new(Duration::from_micros(
            200,
        )));
        let got = reactor
            .run_until(std::future::poll_fn(|cx| {
                // The timer first, as a biased `select!` would: an accept
                // that completed in the same batch is dropped ready.
                if Pin::new(&mut timer).poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                if let Poll::Ready(r) = accept.as_mut().poll(cx) {
                    return Poll::Ready(Some(r));
                }
                Poll::Pending
            }))
            .unwrap();
        match got {
            Some(stream) => {
                let stream = stream.unwrap();
                let (n, buf) = reactor.run_until(stream.read(vec![0u8; 1])).unwrap();
                assert_eq!(n.unwrap(), 1, "a connection ended before its byte");
                seen.push(buf[0]);
            }
            None => raced += 1,
        }
        // The accept is dropped here when the timer won.
    }
    let clients = connector.join().unwrap();
    seen.sort_unstable();
    let all: Vec<u8> = (0..CLIENTS as u8).collect();
    assert_eq!(
        seen, all,
        "each client accepted once ({raced} accepts dropped)"
    );
    drop(clients);
}

// ---------------------------------------------------------------------------
// Descriptors of sockets dropped with ops in flight
// ---------------------------------------------------------------------------

/// A stream dropped while a read on it is in flight (its future forgotten)
/// keeps its descriptor open until the read's last completion: no file
/// opened meanwhile gets its number, and the data sent to it goes into the
/// read's own buffer.
#[test]
fn a_dropped_stream_s_number_is_not_reused_while_a_forgotten_read_uses_it() {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (a, mut peer) = std::net::TcpListener::bind(any())
        .map(|l| {
            let addr = l.local_addr().unwrap();
            let c = std::net::TcpStream::connect(addr).unwrap();
            let (s, _) = l.accept().unwrap();
            (s, c)
        })
        .unwrap();
    let stream = TcpStream::from_std(&h, a);
    let number: RawFd = stream.as_fd().as_raw_fd();
    let mut read = Box::pin(stream.read(vec![0xAAu8; 32]));
    assert!(uring_tests::poll_once(&mut read).is_pending());
    reactor.submit().unwrap();
    std::mem::forget(read);
    drop(stream);
    let files: Vec<std::fs::File> = (0..64)
        .map(|_| std::fs::File::open("/dev/null").unwrap())
        .collect();
    assert!(
        files.iter().all(|f| f.as_raw_fd() != number),
        "descriptor {number} was reused while a read on it was in flight"
    );
    peer.write_all(b"into the forgotten read").unwrap();
    uring_tests::run_for(&reactor, 30);
    assert_eq!(reactor.in_flight(), 0, "the forgotten read completed");
    drop(files);
}

/// Dropping a read's future cancels the read, and the descriptor of the
/// stream dropped with it stays open until the cancellation has completed.
#[test]
fn a_dropped_read_and_its_stream_keep_the_number_until_the_cancel_completes() {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (a, _peer) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(a);
    let number = fd.as_raw_fd();
    let mut read = h.op(Recv::new(&fd, vec![0u8; 16]));
    assert!(uring_tests::poll_once(&mut read).is_pending());
    reactor.submit().unwrap();
    drop(read);
    assert!(fd.clone().try_unwrap().is_err());
    drop(fd);
    let f = std::fs::File::open("/dev/null").unwrap();
    assert_ne!(f.as_raw_fd(), number, "reused before the cancel completed");
    uring_tests::run_for(&reactor, 10);
    assert_eq!(reactor.in_flight(), 0);
}

/// A listener dropped while its stream of accepts lives keeps accepting
/// through it: the stream holds the descriptor.
#[test]
fn a_listener_dropped_under_its_incoming_stream_still_accepts() {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = TcpListener::bind(&h, any()).unwrap();
    let addr = listener.local_addr().unwrap();
    let number = listener.as_fd().as_raw_fd();
    let mut incoming = listener.incoming();
    drop(listener);
    let f = std::fs::File::open("/dev/null").unwrap();
    assert_ne!(f.as_raw_fd(), number);
    let _c = std::net::TcpStream::connect(addr).unwrap();
    let got = reactor.run_until(incoming.next()).unwrap();
    assert!(matches!(got, Some(Ok(_))));
}

// ---------------------------------------------------------------------------
// Buffers of a reactor's buffer ring
// ---------------------------------------------------------------------------

/// A received ring buffer outlives its reactor, every handle and every
/// socket: it stays readable and writable, and goes back to its ring when
/// dropped.
#[test]
fn a_ring_buffer_outlives_its_reactor() {
    let buf: RingBuf = {
        let reactor = Reactor::new().unwrap();
        let Some(group) = group_or_skip(&reactor, 11, 4, 64) else {
            return;
        };
        let (fd, mut peer) = pair();
        peer.write_all(b"outlives the reactor").unwrap();
        let (r, buf) = reactor
            .run_until(reactor.op(RecvRing::new(&fd, group)))
            .unwrap();
        assert_eq!(r.unwrap(), 20);
        buf.unwrap()
    };
    assert_eq!(&buf[..], b"outlives the reactor");
    let mut buf = buf;
    buf.copy_from_slice(b"rewritten afterwards");
    assert_eq!(&buf[..], b"rewritten afterwards");
    assert_eq!(buf.capacity(), 64);
    drop(buf);
}

/// A ring buffer of one reactor, given to a receive on another, is filled
/// there even after its own reactor is gone; the receive's completion
/// gives it back.
#[test]
fn a_ring_buffer_is_filled_by_a_receive_on_another_reactor_after_its_own_is_gone() {
    let a = Reactor::new().unwrap();
    let Some(group) = group_or_skip(&a, 12, 2, 32) else {
        return;
    };
    let (fd_a, mut peer_a) = pair();
    peer_a.write_all(b"from a").unwrap();
    let (r, buf) = a.run_until(a.op(RecvRing::new(&fd_a, group))).unwrap();
    assert_eq!(r.unwrap(), 6);
    let mut buf = buf.unwrap();
    buf.fill(b'-');

    let b = Reactor::new().unwrap();
    let (fd_b, mut peer_b) = pair();
    let mut recv = b.op(Recv::new(&fd_b, buf));
    assert!(uring_tests::poll_once(&mut recv).is_pending());
    b.submit().unwrap();
    drop(a);
    drop(fd_a);
    drop(peer_a);
    peer_b.write_all(b"into a's buffer, through b").unwrap();
    let (r, buf) = b.run_until(recv).unwrap();
    assert_eq!(r.unwrap(), 26);
    assert_eq!(&buf[..], b"into a's buffer, through b");
    assert_eq!(buf.capacity(), 32);
    // And sent on through b.
    let (r, buf) = b.run_until(b.op(Send::new(&fd_b, buf))).unwrap();
    assert_eq!(r.unwrap(), 26);
    let mut got = [0u8; 26];
    peer_b.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"into a's buffer, through b");
    drop(b);
    drop(buf);
}

/// A ring buffer given to a receive on another reactor whose future is
/// dropped, then both reactors dropped: the buffer goes back to its ring
/// only at the receive's last completion.
#[test]
fn a_ring_buffer_in_an_orphaned_receive_on_another_reactor_is_kept_to_the_end() {
    let a = Reactor::new().unwrap();
    let Some(group) = group_or_skip(&a, 13, 1, 16) else {
        return;
    };
    let (fd_a, mut peer_a) = pair();
    peer_a.write_all(b"x").unwrap();
    let (_, buf) = a.run_until(a.op(RecvRing::new(&fd_a, group))).unwrap();
    let buf = buf.unwrap();
    let b = Reactor::new().unwrap();
    let (fd_b, mut peer_b) = pair();
    let mut recv = b.op(Recv::new(&fd_b, buf));
    assert!(uring_tests::poll_once(&mut recv).is_pending());
    b.submit().unwrap();
    drop(recv);
    // The one buffer of the group is out: a receive on `a` finds none.
    peer_a.write_all(b"y").unwrap();
    let (r, none) = a.run_until(a.op(RecvRing::new(&fd_a, group))).unwrap();
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ENOBUFS));
    assert!(none.is_none());
    drop(b);
    // `b`'s shutdown ended the receive: the buffer is back.
    let (r, back) = a.run_until(a.op(RecvRing::new(&fd_a, group))).unwrap();
    assert_eq!(r.unwrap(), 1);
    assert_eq!(&back.unwrap()[..], b"y");
    let _ = peer_b.write_all(b"late");
}

/// Buffers given back while a multishot receive runs are picked again, but
/// a buffer the program holds is never handed out twice nor written by a
/// later receive.
#[test]
fn buffers_held_during_a_multishot_receive_are_never_handed_out_twice() {
    let reactor = Reactor::new().unwrap();
    let Some(group) = group_or_skip(&reactor, 14, 4, 16) else {
        return;
    };
    let (fd, mut peer) = pair();
    let h = reactor.handle();
    reactor
        .run_until(async move {
            let mut stream = h.stream(RecvMulti::new(&fd, group));
            let mut held: Vec<(RingBuf, Vec<u8>)> = Vec::new();
            let mut rearmed = 0;
            for round in 0u8..200 {
                let chunk: Vec<u8> = (0..16).map(|i| round.wrapping_mul(31) ^ i).collect();
                peer.write_all(&chunk).unwrap();
                let mut got = Vec::new();
                while got.len() < 16 {
                    match stream.next().await {
                        Some(Ok(Some(buf))) => {
                            got.extend_from_slice(&buf);
                            let snapshot = buf.to_vec();
                            held.push((buf, snapshot));
                        }
                        Some(Err(e)) => {
                            assert_eq!(e.raw_os_error(), Some(libc::ENOBUFS), "{e}");
                        }
                        None => {
                            // Ended (out of buffers): give some back, arm again.
                            held.drain(..held.len() / 2 + 1);
                            stream = h.stream(RecvMulti::new(&fd, group));
                            rearmed += 1;
                        }
                        Some(Ok(None)) => panic!("end of stream"),
                    }
                    // Every held buffer is distinct and unchanged.
                    let mut bids: Vec<u16> = held.iter().map(|(b, _)| b.bid()).collect();
                    bids.sort_unstable();
                    bids.dedup();
                    assert_eq!(bids.len(), held.len(), "a buffer handed out twice");
                    for (buf, snapshot) in &held {
                        assert_eq!(&buf[..], &snapshot[..], "a held buffer was written");
                    }
                }
                assert_eq!(got, chunk);
                if round % 3 == 0 && !held.is_empty() {
                    held.remove(0);
                }
            }
            drop(stream);
            assert!(rearmed > 0, "the group never ran dry");
        })
        .unwrap();
}

/// Forgotten ring buffers are never given back: the group runs dry, and a
/// receive fails with `ENOBUFS` rather than reuse them.
#[test]
fn forgotten_ring_buffers_run_the_group_dry_with_enobufs() {
    let reactor = Reactor::new().unwrap();
    let Some(group) = group_or_skip(&reactor, 15, 2, 8) else {
        return;
    };
    let (fd, mut peer) = pair();
    let mut kept = Vec::new();
    for word in [b"11111111", b"22222222"] {
        peer.write_all(word).unwrap();
        let (r, buf) = reactor
            .run_until(reactor.op(RecvRing::new(&fd, group)))
            .unwrap();
        assert_eq!(r.unwrap(), 8);
        let buf = buf.unwrap();
        kept.push((buf.as_bytes().as_ptr() as usize, buf.to_vec()));
        std::mem::forget(buf);
    }
    peer.write_all(b"33333333").unwrap();
    let (r, buf) = reactor
        .run_until(reactor.op(RecvRing::new(&fd, group)))
        .unwrap();
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ENOBUFS));
    assert!(buf.is_none());
    // The forgotten buffers' bytes are as they were received.
    for (ptr, bytes) in kept {
        // SAFETY: the forgotten buffers stay with their ring, which lives
        // as long as the reactor; nobody writes them.
        let now = unsafe { std::slice::from_raw_parts(ptr as *const u8, bytes.len()) };
        assert_eq!(now, &bytes[..]);
    }
}

/// A buffer group of one reactor names nothing on another: a receive there
/// fails with `EINVAL` (a reactor runs no op over a group it did not
/// register). Named on a reactor whose group of the same id has shorter
/// buffers, the kernel fills only the shorter buffer.
#[test]
fn a_buffer_group_of_another_reactor_fails_or_fills_only_that_reactor_s_buffer() {
    let a = Reactor::new().unwrap();
    let Some(big) = group_or_skip(&a, 16, 2, 4096) else {
        return;
    };
    let b = Reactor::new().unwrap();
    let (fd, mut peer) = pair();
    peer.write_all(&[7u8; 100]).unwrap();
    let (r, buf) = b.run_until(b.op(RecvRing::new(&fd, big))).unwrap();
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EINVAL));
    assert!(buf.is_none());

    let small = b.register_buf_ring(BufferGroup::new(16), 2, 8).unwrap();
    assert_eq!(small.buf_len(), 8);
    let (r, buf) = b.run_until(b.op(RecvRing::new(&fd, big))).unwrap();
    let buf = buf.unwrap();
    assert_eq!(r.unwrap(), 8);
    assert_eq!(buf.len(), 8);
    assert_eq!(buf.capacity(), 8);
    assert_eq!(&buf[..], &[7u8; 8]);
}

/// Registering buffer rings with bad sizes gives errors, never a panic.
#[test]
fn buffer_rings_of_bad_sizes_are_refused_with_errors() {
    let reactor = Reactor::new().unwrap();
    if group_or_skip(&reactor, 20, 1, 1).is_none() {
        return;
    }
    assert!(
        reactor
            .register_buf_ring(BufferGroup::new(21), 0, 64)
            .is_err()
    );
    assert!(
        reactor
            .register_buf_ring(BufferGroup::new(22), 4, 0)
            .is_err()
    );
    assert!(
        reactor
            .register_buf_ring(BufferGroup::new(23), u16::MAX, 64)
            .is_err()
    );
    // 32767 buffers of 4 GiB: no such memory.
    assert!(
        reactor
            .register_buf_ring(BufferGroup::new(24), 32767, u32::MAX)
            .is_err()
    );
    assert!(
        reactor
            .register_buf_ring(BufferGroup::new(20), 1, 1)
            .is_err()
    );
    // The reactor is still usable.
    let (r, ()) = reactor.run_until(reactor.op(Nop)).unwrap();
    assert_eq!(r.unwrap(), 0);
}

/// A stream's items that hold ring buffers stay readable after the
/// reactor has shut down, and their bytes are those received.
#[test]
fn ring_buffers_queued_in_a_stream_survive_the_shutdown() {
    let reactor = Reactor::new().unwrap();
    let Some(group) = group_or_skip(&reactor, 17, 4, 8) else {
        return;
    };
    let (fd, mut peer) = pair();
    let mut stream = reactor.stream(RecvMulti::new(&fd, group));
    for w in [b"aaaaaaaa", b"bbbbbbbb", b"cccccccc"] {
        peer.write_all(w).unwrap();
        uring_tests::run_for(&reactor, 10);
    }
    reactor.shutdown();
    assert_eq!(reactor.in_flight(), 0);
    let mut got = Vec::new();
    loop {
        match uring_tests::poll_once(&mut stream.next()) {
            Poll::Ready(Some(Ok(Some(buf)))) => got.extend_from_slice(&buf),
            Poll::Ready(Some(_)) => {}
            Poll::Ready(None) => break,
            Poll::Pending => panic!("a stream of a shut-down reactor waits"),
        }
    }
    assert_eq!(got, b"aaaaaaaabbbbbbbbcccccccc");
    drop(reactor);
    drop(stream);
}

/// Receives that take no bytes (empty datagrams, the end of a stream, a
/// reset connection) never keep a buffer of the group: a group of one
/// buffer serves a real receive after many of them.
#[test]
fn receives_of_no_bytes_give_their_ring_buffer_back() {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&reactor, 25, 1, 32) else {
        return;
    };
    let a = UdpSocket::bind(&h, any()).unwrap();
    let b = UdpSocket::bind(&h, any()).unwrap();
    b.connect(a.local_addr().unwrap()).unwrap();
    for _ in 0..8 {
        let (r, _) = reactor
            .run_until(a.send_to(Vec::new(), b.local_addr().unwrap()))
            .unwrap();
        assert_eq!(r.unwrap(), 0);
        match reactor.run_until(b.recv_ring(group)).unwrap() {
            Ok(buf) => assert!(buf.is_empty()),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}"),
        }
    }
    for _ in 0..8 {
        let (fd, peer) = pair();
        drop(peer);
        let (r, buf) = reactor
            .run_until(reactor.op(RecvRing::new(&fd, group)))
            .unwrap();
        assert_eq!(r.unwrap(), 0);
        assert!(buf.is_none_or(|b| b.is_empty()));
        let mut s = reactor.stream(RecvMulti::new(&fd, group));
        let item = reactor.run_until(s.next()).unwrap();
        assert!(matches!(item, Some(Ok(None))), "{item:?}");
    }
    for _ in 0..4 {
        let listener = std::net::TcpListener::bind(any()).unwrap();
        let c = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (peer, _) = listener.accept().unwrap();
        uring_tests::reset_on_close(&peer);
        let stream = TcpStream::from_std(&h, c);
        drop(peer);
        let r = reactor.run_until(stream.recv_ring(group)).unwrap();
        assert!(matches!(&r, Err(_) | Ok(None)), "{r:?}");
    }
    let (r, _) = reactor
        .run_until(a.send_to(b"real".to_vec(), b.local_addr().unwrap()))
        .unwrap();
    assert_eq!(r.unwrap(), 4);
    let buf = reactor.run_until(b.recv_ring(group)).unwrap().unwrap();
    assert_eq!(&buf[..], b"real");
}

/// A stream of accepts whose reactor has shut down ends, and a listener
/// of a shut-down reactor fails to accept.
#[test]
fn accepts_of_a_shut_down_reactor_end() {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = TcpListener::bind(&h, any()).unwrap();
    let mut incoming = listener.incoming();
    drop(reactor);
    // The cancelled accept's error, then the end.
    let mut polls = 0;
    loop {
        match incoming.poll_next(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(None) => break,
            Poll::Ready(Some(r)) => assert!(r.is_err()),
            Poll::Pending => panic!("a stream of a shut-down reactor waits"),
        }
        polls += 1;
        assert!(polls < 4, "the stream of a shut-down reactor goes on");
    }
    let mut late = listener.incoming();
    assert!(matches!(
        late.poll_next(&mut Context::from_waker(Waker::noop())),
        Poll::Ready(None)
    ));
    let mut accept = Box::pin(listener.accept());
    assert!(matches!(
        accept
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop())),
        Poll::Ready(Err(_))
    ));
}

/// A reactor over a ring whose restrictions refuse cancel requests still
/// returns from its shutdown (leaking what the kernel keeps), rather than
/// wait forever for a receive nobody can end.
#[test]
fn a_reactor_over_a_ring_that_refuses_cancels_still_shuts_down() {
    use uring::Restriction;
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut ring = match Ring::builder().r_disabled().build(8) {
            Ok(r) => r,
            Err(e) => {
                skip(format_args!("a disabled ring: {e}"));
                let _ = done_tx.send(None);
                return;
            }
        };
        let rules = [
            Restriction::op::<uring::ops::Recv<'static, uring::Fd<'static>, &'static mut [u8]>>(),
            Restriction::op::<uring::ops::Nop>(),
        ];
        if let Err(e) = ring.register_restrictions(&rules) {
            skip(format_args!("restrictions: {e}"));
            let _ = done_tx.send(None);
            return;
        }
        let reactor = Reactor::from_ring(ring).unwrap();
        let (fd, peer) = pair();
        let mut recv = reactor.op(Recv::new(&fd, vec![0u8; 8]));
        assert!(uring_tests::poll_once(&mut recv).is_pending());
        reactor.submit().unwrap();
        // The ring runs the ops it allows.
        let (r, ()) = reactor.run_until(reactor.op(Nop)).unwrap();
        assert_eq!(r.unwrap(), 0);
        assert_eq!(reactor.in_flight(), 1);
        drop(recv);
        let start = Instant::now();
        drop(reactor);
        let _ = done_tx.send(Some(start.elapsed()));
        drop(peer);
    });
    match done_rx.recv_timeout(Duration::from_secs(10)) {
        Ok(Some(elapsed)) => assert!(elapsed < Duration::from_secs(10)),
        Ok(None) => {}
        Err(_) => panic!("the shutdown never returned"),
    }
}

// ---------------------------------------------------------------------------
// Sockets of a reactor that has shut down
// ---------------------------------------------------------------------------

/// Reads, writes and receives on sockets whose reactor has shut down fail
/// at once, and give their buffers back untouched.
#[test]
fn ops_on_sockets_of_a_shut_down_reactor_fail_and_give_buffers_back() {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = std::net::TcpListener::bind(any()).unwrap();
    let c = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let stream = TcpStream::from_std(&h, c);
    let udp = UdpSocket::bind(&h, any()).unwrap();
    let group = group_or_skip(&reactor, 18, 1, 8);
    drop(reactor);
    assert!(h.is_shut_down());

    let canary = vec![0x5Au8; 64];
    let mut read = Box::pin(stream.read(canary.clone()));
    let Poll::Ready((r, back)) = uring_tests::poll_once(&mut read) else {
        panic!("an op of a shut-down reactor waits");
    };
    assert!(r.is_err());
    assert_eq!(back, canary);
    let mut write = Box::pin(stream.write_all(canary.clone()));
    let Poll::Ready((r, back)) = uring_tests::poll_once(&mut write) else {
        panic!("an op of a shut-down reactor waits");
    };
    assert!(r.is_err());
    assert_eq!(back, canary);
    let mut recv = Box::pin(udp.recv_from(canary.clone()));
    let Poll::Ready((r, back)) = uring_tests::poll_once(&mut recv) else {
        panic!("an op of a shut-down reactor waits");
    };
    assert!(r.is_err());
    assert_eq!(back, canary);
    if let Some(group) = group {
        let mut recv = Box::pin(stream.recv_ring(group));
        let Poll::Ready(r) = uring_tests::poll_once(&mut recv) else {
            panic!("an op of a shut-down reactor waits");
        };
        assert!(r.is_err());
        let mut s = stream.recv_stream(group);
        assert!(matches!(
            s.poll_next(&mut Context::from_waker(Waker::noop())),
            Poll::Ready(None)
        ));
    }
    assert!(h.register_buf_ring(BufferGroup::new(19), 1, 8).is_err());
}

// ---------------------------------------------------------------------------
// Deadlines
// ---------------------------------------------------------------------------

/// A deadline already past fails at once without an op; one in the far
/// future lets the op complete; changing the deadline after a read's future
/// was forgotten does not touch that read.
#[test]
fn deadlines_in_the_past_the_far_future_and_changed_under_a_forgotten_read() {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = std::net::TcpListener::bind(any()).unwrap();
    let c = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    let mut stream = TcpStream::from_std(&h, c);

    stream.set_deadline(Some(Instant::now() - Duration::from_millis(1)));
    let (r, buf) = reactor.run_until(stream.read(vec![1u8; 8])).unwrap();
    assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    assert_eq!(buf, [1u8; 8]);
    let (r, _) = reactor.run_until(stream.write(b"x".to_vec())).unwrap();
    assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    assert_eq!(reactor.in_flight(), 0);

    let far = Instant::now()
        .checked_add(Duration::from_secs(100 * 365 * 86400))
        .unwrap();
    stream.set_deadline(Some(far));
    peer.write_all(b"far").unwrap();
    let (r, buf) = reactor
        .run_until(stream.read(Vec::with_capacity(8)))
        .unwrap();
    assert_eq!(r.unwrap(), 3);
    assert_eq!(buf, b"far");

    // A read in flight, its future forgotten, then the deadline moved.
    stream.set_read_deadline(Some(Instant::now() + Duration::from_millis(50)));
    let mut read = Box::pin(stream.read(vec![0u8; 8]));
    assert!(uring_tests::poll_once(&mut read).is_pending());
    std::mem::forget(read);
    stream.set_read_deadline(None);
    uring_tests::run_for(&reactor, 150);
    assert_eq!(
        reactor.in_flight(),
        0,
        "the forgotten read's deadline still ended it"
    );
}

/// An op with a deadline needs two SQEs; on a ring of one entry it fails
/// with an error, rather than hang or panic.
#[test]
fn a_deadline_on_a_ring_of_one_entry_is_an_error() {
    let ring = match Ring::new(1) {
        Ok(r) => r,
        Err(e) => return skip(format_args!("a ring of one entry: {e}")),
    };
    let reactor = Reactor::from_ring(ring).unwrap();
    let (fd, _peer) = pair();
    let start = Instant::now();
    let r = reactor.queue_with_deadline(
        Recv::new(&fd, vec![0u8; 4]),
        Instant::now() + Duration::from_secs(1),
        |_, _| {},
    );
    assert!(r.is_err(), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
    let (r, ()) = reactor.run_until(reactor.op(Nop)).unwrap();
    assert_eq!(r.unwrap(), 0);
}

// ---------------------------------------------------------------------------
// Sizes and addresses
// ---------------------------------------------------------------------------

/// Zero-length reads and writes complete with 0; slices with out-of-range
/// bounds are clamped; a read into more than 4 GiB of capacity reads what
/// is there.
#[test]
fn zero_length_and_oversized_buffers() {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = std::net::TcpListener::bind(any()).unwrap();
    let c = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    let stream = TcpStream::from_std(&h, c);

    let (r, buf) = reactor.run_until(stream.write(Vec::new())).unwrap();
    assert_eq!(r.unwrap(), 0);
    assert!(buf.is_empty());
    let (r, _) = reactor.run_until(stream.write_all(Vec::new())).unwrap();
    r.unwrap();
    let (r, buf) = reactor
        .run_until(stream.write_all(b"abc".to_vec().slice(usize::MAX..)))
        .unwrap();
    r.unwrap();
    assert_eq!(buf.into_inner(), b"abc");
    let (r, buf) = reactor
        .run_until(stream.write_all(b"abc".to_vec().slice(1..=usize::MAX)))
        .unwrap();
    r.unwrap();
    assert_eq!(buf.get_ref(), b"abc");
    let mut got = [0u8; 2];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"bc");

    // Zero-capacity reads (which the kernel answers once data is there)
    // take nothing: the bytes go to the next read.
    peer.write_all(b"z").unwrap();
    let (r, buf) = reactor.run_until(stream.read(Vec::new())).unwrap();
    assert_eq!(r.unwrap(), 0);
    assert!(buf.is_empty());
    let (r, buf) = reactor
        .run_until(stream.read(Vec::<u8>::new().into_boxed_slice()))
        .unwrap();
    assert_eq!(r.unwrap(), 0);
    assert!(buf.is_empty());
    let (r, buf) = reactor.run_until(stream.read(vec![0u8; 4])).unwrap();
    assert_eq!(r.unwrap(), 1);
    assert_eq!(buf[0], b'z');

    let mut huge: Vec<u8> = Vec::new();
    if huge.try_reserve_exact((1usize << 32) + 4096).is_err() {
        return skip("no room for a buffer over 4 GiB");
    }
    peer.write_all(b"into a huge buffer").unwrap();
    let (r, huge) = reactor.run_until(stream.read(huge)).unwrap();
    match r {
        Ok(n) => {
            assert_eq!(n, 18);
            assert_eq!(huge, b"into a huge buffer");
        }
        Err(e) => {
            // The kernel refuses lengths past `INT_MAX`: an error, and the
            // bytes wait for the next read.
            assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
            assert!(huge.is_empty());
            drop(huge);
            let (r, buf) = reactor.run_until(stream.read(vec![0u8; 64])).unwrap();
            assert_eq!(&buf[..r.unwrap()], b"into a huge buffer");
        }
    }
}

/// Datagrams to an address of the other family, and receives into empty
/// buffers, give errors or counts, never a panic; a dropped receive's
/// address and buffer stay with the reactor until its cancellation.
#[test]
fn datagram_addresses_and_dropped_receives() {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let a = UdpSocket::bind(&h, any()).unwrap();
    let b = UdpSocket::bind(&h, any()).unwrap();
    let to_b = b.local_addr().unwrap();

    let v6: SocketAddr = "[::1]:9".parse().unwrap();
    let (r, buf) = reactor.run_until(a.send_to(b"x".to_vec(), v6)).unwrap();
    assert!(r.is_err());
    assert_eq!(buf, b"x");
    assert!(a.connect(v6).is_err());
    assert!(b.peer_addr().is_err());

    // A dropped receive: the next one gets the datagram.
    let mut first = Box::pin(b.recv_from(vec![0u8; 64]));
    assert!(
        first
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending()
    );
    reactor.submit().unwrap();
    drop(first);
    uring_tests::run_for(&reactor, 10);
    assert_eq!(reactor.in_flight(), 0);
    let (r, _) = reactor
        .run_until(a.send_to(b"datagram".to_vec(), to_b))
        .unwrap();
    assert_eq!(r.unwrap(), 8);
    let (r, buf) = reactor.run_until(b.recv_from(vec![0u8; 64])).unwrap();
    let (n, from) = r.unwrap();
    assert_eq!(&buf[..n], b"datagram");
    assert_eq!(from, a.local_addr().unwrap());

    // Into an empty buffer: the datagram is consumed, nothing copied.
    let (r, _) = reactor
        .run_until(a.send_to(b"lost".to_vec(), to_b))
        .unwrap();
    assert_eq!(r.unwrap(), 4);
    let (r, buf) = reactor.run_until(b.recv_from(Vec::new())).unwrap();
    let (n, _) = r.unwrap();
    assert_eq!(n, 0);
    assert!(buf.is_empty());
}

/// A receive-from on a socket that is not an IP one (a Unix datagram
/// socket) completes with the bytes and no address, never a panic.
#[test]
fn a_receive_from_a_unix_datagram_socket_gives_no_ip_address() {
    let reactor = Reactor::new().unwrap();
    let (a, b) = UnixDatagram::pair().unwrap();
    let fd = SharedFd::new(a);
    b.send(b"unix").unwrap();
    let (r, (buf, from)) = reactor
        .run_until(reactor.op(RecvFrom::new(&fd, vec![0u8; 16])))
        .unwrap();
    let n = r.unwrap() as usize;
    assert_eq!(&buf[..n], b"unix");
    assert!(from.is_none());
}

// ---------------------------------------------------------------------------
// tokio's AsyncRead / AsyncWrite
// ---------------------------------------------------------------------------

mod tokio_io {
    use super::*;
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
    use uring_tests::net::connected;

    /// A read that returned `Pending` never writes the buffer the caller
    /// passed then: the caller may drop or change it, and the next read,
    /// with another buffer, gets the bytes.
    #[test]
    fn a_pending_poll_read_never_writes_the_caller_s_buffer() {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let (mut stream, mut peer) = connected(&h);
        let mut first = vec![0xEEu8; 64];
        {
            let mut rb = ReadBuf::new(&mut first);
            let p =
                Pin::new(&mut stream).poll_read(&mut Context::from_waker(Waker::noop()), &mut rb);
            assert!(p.is_pending());
        }
        reactor.submit().unwrap();
        peer.write_all(b"after the pending read").unwrap();
        uring_tests::run_for(&reactor, 20);
        assert!(
            first.iter().all(|&b| b == 0xEE),
            "the caller's buffer was written"
        );
        drop(first);
        let mut second = [0u8; 8];
        let mut got = Vec::new();
        while got.len() < 22 {
            let mut rb = ReadBuf::new(&mut second);
            match Pin::new(&mut stream).poll_read(&mut Context::from_waker(Waker::noop()), &mut rb)
            {
                Poll::Ready(r) => {
                    r.unwrap();
                    assert!(!rb.filled().is_empty());
                    got.extend_from_slice(rb.filled());
                }
                Poll::Pending => uring_tests::run_for(&reactor, 10),
            }
        }
        assert_eq!(got, b"after the pending read");
    }

    /// A stream dropped with a read pending through `AsyncRead` leaves the
    /// read's buffer to the reactor until the read ends.
    #[test]
    fn a_stream_dropped_with_a_pending_poll_read_keeps_its_buffer_to_the_end() {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let (mut stream, mut peer) = connected(&h);
        let mut buf = [0u8; 16];
        let mut rb = ReadBuf::new(&mut buf);
        assert!(
            Pin::new(&mut stream)
                .poll_read(&mut Context::from_waker(Waker::noop()), &mut rb)
                .is_pending()
        );
        reactor.submit().unwrap();
        drop(stream);
        let _ = peer.write_all(b"to a dropped stream");
        uring_tests::run_for(&reactor, 20);
        assert_eq!(reactor.in_flight(), 0);
        // The stream's socket is closed once the read ended.
        assert!(sees_eof(&mut peer));
    }

    /// Bytes that `poll_write` reported written reach the peer, whole and
    /// in order, when the stream is then shut down.
    #[test]
    fn bytes_reported_written_reach_the_peer_after_poll_shutdown() {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let (mut stream, mut peer) = connected(&h);
        let total = 4 << 20;
        let reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            peer.read_to_end(&mut all).unwrap();
            all
        });
        let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
        let expect = data.clone();
        reactor
            .run_until(async move {
                use tokio::io::AsyncWriteExt;
                let mut at = 0;
                while at < data.len() {
                    let end = (at + 100_000).min(data.len());
                    AsyncWriteExt::write_all(&mut stream, &data[at..end])
                        .await
                        .unwrap();
                    at = end;
                }
                AsyncWriteExt::shutdown(&mut stream).await.unwrap();
                // A second shutdown is harmless.
                let _ = AsyncWriteExt::shutdown(&mut stream).await;
            })
            .unwrap();
        let got = reader.join().unwrap();
        assert_eq!(got.len(), expect.len());
        assert!(got == expect);
    }

    /// Bytes that `poll_write` reported written are not taken back when the
    /// stream is dropped before a flush: the peer gets all of them.
    #[test]
    fn bytes_reported_written_are_not_cancelled_by_dropping_the_stream() {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let (stream, mut peer) = connected(&h);
        let total: usize = 16 << 20;
        let reader = std::thread::spawn(move || {
            // Slow at first, so that the send waits for room.
            std::thread::sleep(Duration::from_millis(200));
            let mut all = Vec::new();
            let _ = peer.read_to_end(&mut all);
            all.len()
        });
        let data = vec![1u8; total];
        let mut stream = stream;
        let accepted = {
            let p =
                Pin::new(&mut stream).poll_write(&mut Context::from_waker(Waker::noop()), &data);
            match p {
                Poll::Ready(Ok(n)) => n,
                other => panic!("{other:?}"),
            }
        };
        reactor.submit().unwrap();
        drop(stream);
        let deadline = Instant::now() + Duration::from_secs(10);
        while reactor.in_flight() > 0 && Instant::now() < deadline {
            uring_tests::run_for(&reactor, 20);
        }
        drop(reactor);
        let got = reader.join().unwrap();
        assert_eq!(got, accepted, "bytes reported written were lost");
    }

    /// A shutdown through `AsyncWrite` with nothing written ends the
    /// stream for the peer, and reads afterwards still work.
    #[test]
    fn poll_shutdown_then_reads() {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let (mut stream, mut peer) = connected(&h);
        peer.write_all(b"still readable").unwrap();
        let got = reactor
            .run_until(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                AsyncWriteExt::shutdown(&mut stream).await.unwrap();
                let mut b = [0u8; 14];
                AsyncReadExt::read_exact(&mut stream, &mut b).await.unwrap();
                b
            })
            .unwrap();
        assert_eq!(&got, b"still readable");
        let mut rest = Vec::new();
        peer.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
    }
}
