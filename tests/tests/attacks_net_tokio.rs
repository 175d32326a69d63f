//! Attacks, from safe code, on `uring::net` (TCP and UDP over the reactor)
//! and on the `tokio` feature (the reactor driven by a current-thread
//! runtime, tokio's `AsyncRead` / `AsyncWrite` on the streams):
//!
//! - deadlines set, moved or lifted while a read or a write started through
//!   tokio's traits is in flight, and deadlines that fire as bytes arrive
//!   (no byte lost, duplicated or reported under the wrong error);
//! - writes cut by their deadline: what reaches the wire is exactly a
//!   prefix of what was reported written;
//! - `ReadBuf`s swapped, pre-filled and full between polls of one read;
//! - shutdowns by the stream and by other code holding the descriptor
//!   (`shutdown(2)`, `dup2(2)` over the number) while ops are in flight;
//! - buffer-ring buffers sent back as they are while the multishot receive
//!   that filled them refills the ring;
//! - datagrams larger than their buffer, sends to unusual destinations,
//!   receives racing their deadline;
//! - tokio runtimes dropped with every kind of op in flight, drivers that
//!   outlive their runtime, `into_tokio` outside a runtime, forgotten
//!   streams and futures, panicking tasks that hold streams, thousands of
//!   connections through a ring of four entries, a connect dropped while
//!   the handshake waits.
//!
//! Each test asserts what the kernel really did: the bytes on the wire, the
//! errno, the ops left in flight, the descriptors left open, canary bytes.
//! Under valgrind, bytes that only the kernel wrote (the streams' own read
//! buffers) are compared by length alone: memcheck takes them for
//! uninitialised.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::{self, Read as _, Write as _};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use uring::BufferGroup;
use uring::net::{TcpListener, TcpStream, UdpSocket};
use uring::reactor::ops::{Recv, Timeout};
use uring::reactor::{Reactor, SharedFd};
use uring_tests::net::runtime;
use uring_tests::net::{any, assert_kernel_bytes, connected, drain, drive, noop_cx, poll_read};
use uring_tests::{run_for, skip, under_valgrind, watchdog};

/// Sleeps 0 to 240 microseconds (by `i`): the bytes of racing tests
/// arrive before, at and after their deadline (a sleep enters the kernel,
/// which runs the ring's task work, a link timeout's among it).
fn pause(i: u32) {
    let us = 40 * u64::from(i % 7);
    if us > 0 {
        std::thread::sleep(Duration::from_micros(us));
    }
}

/// Reads through `AsyncRead` until `got` holds `want` bytes.
fn catch_up(reactor: &Reactor, stream: &mut TcpStream, got: &mut Vec<u8>, want: usize) {
    while got.len() < want {
        let mut buf = [0u8; 64];
        let n = drive(reactor, Duration::from_secs(5), || {
            match poll_read(stream, &mut buf) {
                Poll::Ready(r) => Some(r),
                Poll::Pending => None,
            }
        })
        .expect("the rest is read")
        .unwrap();
        assert!(n > 0, "the end of the stream before every byte");
        got.extend_from_slice(&buf[..n]);
    }
}

/// The inode of the file open as `fd`.
fn inode(fd: std::os::fd::RawFd) -> u64 {
    // SAFETY: all-zero bytes are a valid `stat`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes into `st`, alive for the call.
    assert_eq!(unsafe { libc::fstat(fd, &mut st) }, 0, "fstat {fd}");
    st.st_ino
}

/// Connections of this network namespace in `SYN_SENT` towards `port` on
/// loopback, from `/proc/net/tcp`.
fn syn_sent_to(port: u16) -> usize {
    let text = std::fs::read_to_string("/proc/net/tcp").unwrap();
    text.lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let remote_port = fields
                .get(2)
                .and_then(|r| r.split(':').nth(1))
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            remote_port == Some(port) && fields.get(3) == Some(&"02")
        })
        .count()
}

// ---------------------------------------------------------------------------
// Deadlines under tokio's traits
// ---------------------------------------------------------------------------

/// A read deadline set while a read started through `AsyncRead` (with no
/// deadline) waits: the stream's documentation says reads still in flight
/// at the deadline fail with `TimedOut` (go's `SetDeadline` bounds pending
/// I/O too). The read must end, with `TimedOut`, soon after the deadline.
#[test]
fn a_deadline_set_while_a_tokio_read_waits_ends_that_read() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (mut stream, _peer) = connected(&reactor.handle());
    let mut buf = [0u8; 8];
    assert!(poll_read(&mut stream, &mut buf).is_pending());
    reactor.submit().unwrap();
    let deadline = Instant::now() + Duration::from_millis(30);
    stream.set_read_deadline(Some(deadline));
    let result = drive(&reactor, Duration::from_millis(1000), || {
        match poll_read(&mut stream, &mut buf) {
            Poll::Ready(r) => Some(r),
            Poll::Pending => None,
        }
    });
    match result {
        Some(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}"),
        Some(Ok(n)) => panic!("the read returned {n} bytes nobody sent"),
        None => panic!("the read still waits 1 s after a deadline 30 ms away"),
    }
}

/// Deadlines moved later, or lifted, while a read and a write started
/// through tokio's traits are in flight: each op then either goes on (go's
/// semantics) or ends with `TimedOut`; an `ECANCELED` the program never
/// asked for is neither. No byte is lost either way: the peer's bytes are
/// read afterwards, and the write's error comes at the flush.
#[test]
fn deadlines_moved_under_tokio_io_in_flight_never_report_ecanceled() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let mut failures = Vec::new();

    // A read started with a deadline 30 ms away, which is then lifted.
    let (mut stream, mut peer) = connected(&h);
    stream.set_read_deadline(Some(Instant::now() + Duration::from_millis(30)));
    let mut buf = [0u8; 16];
    assert!(poll_read(&mut stream, &mut buf).is_pending());
    reactor.submit().unwrap();
    stream.set_read_deadline(None);
    run_for(&reactor, 80);
    peer.write_all(b"after the old deadline").unwrap();
    let first = drive(&reactor, Duration::from_secs(5), || {
        match poll_read(&mut stream, &mut buf) {
            Poll::Ready(r) => Some(r),
            Poll::Pending => None,
        }
    })
    .expect("the read ends");
    let mut got = Vec::new();
    match first {
        Ok(n) => got.extend_from_slice(&buf[..n]),
        Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
        Err(e) => failures.push(format!(
            "read, deadline lifted: {e} ({:?})",
            e.raw_os_error()
        )),
    }
    while got.len() < 22 {
        let r = drive(&reactor, Duration::from_secs(5), || {
            match poll_read(&mut stream, &mut buf) {
                Poll::Ready(r) => Some(r),
                Poll::Pending => None,
            }
        })
        .expect("the bytes are read");
        let n = r.unwrap();
        assert!(n > 0, "the end of the stream before the bytes");
        got.extend_from_slice(&buf[..n]);
    }
    assert_kernel_bytes(
        &got,
        b"after the old deadline",
        "the bytes after the deadline",
    );

    // A write whose send can take nothing (other code filled the socket's
    // buffers through a duplicate of its descriptor), started with a
    // deadline 30 ms away, which is then moved 10 s later.
    let (mut stream, peer) = connected(&h);
    let mut filler = std::net::TcpStream::from(stream.as_fd().try_clone_to_owned().unwrap());
    filler.set_nonblocking(true).unwrap();
    let chunk = vec![0u8; 1 << 16];
    loop {
        match filler.write(&chunk) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("filling the socket: {e}"),
        }
    }
    let data = b"behind a full socket".to_vec();
    stream.set_write_deadline(Some(Instant::now() + Duration::from_millis(30)));
    match Pin::new(&mut stream).poll_write(&mut noop_cx(), &data) {
        Poll::Ready(Ok(n)) => assert_eq!(n, data.len()),
        other => panic!("the write: {other:?}"),
    }
    reactor.submit().unwrap();
    stream.set_write_deadline(Some(Instant::now() + Duration::from_secs(10)));
    run_for(&reactor, 80);
    let flushed = drive(&reactor, Duration::from_millis(200), || {
        match Pin::new(&mut stream).poll_flush(&mut noop_cx()) {
            Poll::Ready(r) => Some(r),
            Poll::Pending => None,
        }
    });
    match flushed {
        // Still sending, or sent once room came: the deadline moved with
        // the op (go's semantics).
        None | Some(Ok(())) => {}
        Some(Err(e)) if e.kind() == io::ErrorKind::TimedOut => {}
        Some(other) => failures.push(format!(
            "flush, deadline moved later: {other:?} ({:?})",
            other.as_ref().err().and_then(|e| e.raw_os_error())
        )),
    }
    drop((peer, stream, filler));
    drive(&reactor, Duration::from_secs(5), || {
        (h.in_flight() == 0).then_some(())
    })
    .expect("the send ends once the peer is gone");
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Reads through `AsyncRead` whose deadline is 10 to 220 microseconds
/// away, as the peer's bytes arrive: each read gives bytes or `TimedOut`,
/// and every byte sent is read once, in order.
#[test]
fn tokio_reads_racing_their_deadline_lose_no_byte() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (mut stream, mut peer) = connected(&reactor.handle());
    let mut sent = Vec::new();
    let mut got = Vec::new();
    let (mut timed_out, mut read) = (0, 0);
    for i in 0..300u32 {
        let byte = (i % 251) as u8;
        stream.set_read_deadline(Some(
            Instant::now() + Duration::from_micros(10 + 30 * u64::from(i % 8)),
        ));
        let mut buf = [0u8; 1];
        let first = poll_read(&mut stream, &mut buf);
        reactor.submit().unwrap();
        pause(i);
        peer.write_all(&[byte]).unwrap();
        sent.push(byte);
        let r = match first {
            Poll::Ready(r) => r,
            Poll::Pending => drive(&reactor, Duration::from_secs(5), || {
                match poll_read(&mut stream, &mut buf) {
                    Poll::Ready(r) => Some(r),
                    Poll::Pending => None,
                }
            })
            .expect("a read with a deadline ends"),
        };
        match r {
            Ok(n) => {
                assert_eq!(n, 1, "a 1-byte read before the end of the stream");
                got.push(buf[0]);
                read += 1;
            }
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
                timed_out += 1;
            }
        }
        // The byte of a read cut by its deadline is still in the socket:
        // read it with no deadline, so that each round starts empty.
        stream.set_read_deadline(None);
        catch_up(&reactor, &mut stream, &mut got, sent.len());
    }
    assert_kernel_bytes(&got, &sent, "bytes read across the deadlines");
    eprintln!("{read} reads with bytes, {timed_out} timed out");
    if !under_valgrind() {
        assert!(read > 0 && timed_out > 0, "the deadlines raced nothing");
    }
    drop(peer);
    assert_eq!(reactor.in_flight(), 0);
}

/// A 4 MiB write reported written through `AsyncWrite`, cut by its write
/// deadline while the peer does not read: the flush says `TimedOut`, the
/// peer has exactly a prefix of the bytes (never a torn or repeated part),
/// and what is written after the deadline is lifted follows that prefix.
#[test]
fn a_tokio_write_cut_by_its_deadline_leaves_a_prefix_on_the_wire() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (mut stream, mut peer) = connected(&reactor.handle());
    uring_tests::set_int_option(stream.as_fd(), libc::SOL_SOCKET, libc::SO_SNDBUF, 8192).unwrap();
    uring_tests::set_int_option(peer.as_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF, 8192).unwrap();
    let data = uring_tests::pattern(4 << 20, 7);
    let start = Instant::now();
    stream.set_write_deadline(Some(start + Duration::from_millis(50)));
    let flushed = reactor
        .run_until(async {
            let n = AsyncWriteExt::write(&mut stream, &data).await.unwrap();
            assert_eq!(n, data.len(), "the whole buffer is taken at once");
            AsyncWriteExt::flush(&mut stream).await
        })
        .unwrap();
    let e = flushed.expect_err("4 MiB cannot reach a peer that does not read");
    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
    assert!(start.elapsed() >= Duration::from_millis(50));
    assert_eq!(reactor.in_flight(), 0, "nothing is left sending");
    // What the peer holds now is a prefix (the kernel may still send
    // bytes of its socket buffer that the cut send had counted).
    let mut wire = Vec::new();
    assert!(!drain(&mut peer, &mut wire));
    assert!(
        wire == data[..wire.len()],
        "the bytes on the wire are not a prefix"
    );
    // A write after the deadline is lifted, and a shutdown, while the peer
    // reads everything.
    stream.set_write_deadline(None);
    reactor.spawn(async move {
        AsyncWriteExt::write_all(&mut stream, b"tail")
            .await
            .unwrap();
        AsyncWriteExt::shutdown(&mut stream).await.unwrap();
    });
    // The peer may see the end before the reactor has read the shutdown's
    // completion: drive until both.
    let eof = drive(&reactor, Duration::from_secs(20), || {
        (drain(&mut peer, &mut wire) && reactor.in_flight() == 0).then_some(())
    });
    assert!(
        eof.is_some(),
        "no end of stream after {} bytes, or {} ops still in flight",
        wire.len(),
        reactor.in_flight()
    );
    let cut = wire.len() - 4;
    assert!(cut < data.len(), "all the bytes were sent");
    assert!(
        wire[..cut] == data[..cut],
        "the bytes on the wire are not a prefix"
    );
    assert_eq!(&wire[cut..], b"tail");
    assert_eq!(reactor.in_flight(), 0);
}

// ---------------------------------------------------------------------------
// ReadBufs and shutdowns
// ---------------------------------------------------------------------------

/// One read through `AsyncRead` polled with a different `ReadBuf` each
/// time: a `ReadBuf` polled while the read is pending is never written, a
/// full one takes nothing, and the one polled once the bytes are in gets
/// them after what it already held, leaving its unfilled tail alone.
#[test]
fn read_bufs_swapped_between_polls_are_filled_only_when_ready_after_their_filled_part() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (mut stream, mut peer) = connected(&reactor.handle());
    let mut a = vec![0xA1u8; 64];
    let mut b = vec![0xB2u8; 1];
    assert!(poll_read(&mut stream, &mut a).is_pending());
    reactor.submit().unwrap();
    assert!(poll_read(&mut stream, &mut b).is_pending());
    drop(b);
    peer.write_all(b"0123456789").unwrap();
    run_for(&reactor, 20);
    assert!(
        a.iter().all(|&x| x == 0xA1),
        "a pending ReadBuf was written"
    );
    drop(a);
    // A full ReadBuf takes nothing, and is told so at once.
    let mut full = [0xC3u8; 4];
    let mut rb = ReadBuf::new(&mut full);
    rb.advance(4);
    match Pin::new(&mut stream).poll_read(&mut noop_cx(), &mut rb) {
        Poll::Ready(Ok(())) => assert_eq!(rb.filled().len(), 4),
        other => panic!("a full ReadBuf: {other:?}"),
    }
    assert_eq!(full, [0xC3; 4]);
    // A ReadBuf already holding 3 bytes, with room for 4 more.
    let mut c = [0xD4u8; 16];
    let mut rb = ReadBuf::new(&mut c[..7]);
    rb.put_slice(b"old");
    match Pin::new(&mut stream).poll_read(&mut noop_cx(), &mut rb) {
        Poll::Ready(Ok(())) => assert_eq!(rb.filled().len(), 7),
        other => panic!("the ready read: {other:?}"),
    }
    assert_eq!(&c[..3], b"old");
    assert!(
        c[7..].iter().all(|&x| x == 0xD4),
        "past the ReadBuf written"
    );
    let mut rest = [0u8; 32];
    let n = match poll_read(&mut stream, &mut rest) {
        Poll::Ready(r) => r.unwrap(),
        Poll::Pending => panic!("buffered bytes pending"),
    };
    let mut got = c[3..7].to_vec();
    got.extend_from_slice(&rest[..n]);
    assert_kernel_bytes(&got, b"0123456789", "the bytes across the ReadBufs");
}

/// A shutdown through `AsyncWrite` pending behind a large send, a write
/// refused meanwhile, then the stream dropped: the peer gets every byte
/// reported written, in order, then the end of the stream; nothing of the
/// refused write.
#[test]
fn a_stream_dropped_during_a_pending_poll_shutdown_delivers_what_it_reported() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (mut stream, mut peer) = connected(&h);
    let data = uring_tests::pattern(8 << 20, 11);
    match Pin::new(&mut stream).poll_write(&mut noop_cx(), &data) {
        Poll::Ready(Ok(n)) => assert_eq!(n, data.len()),
        other => panic!("the write: {other:?}"),
    }
    reactor.submit().unwrap();
    assert!(
        Pin::new(&mut stream)
            .poll_shutdown(&mut noop_cx())
            .is_pending(),
        "8 MiB cannot be sent before the peer reads"
    );
    assert!(
        Pin::new(&mut stream)
            .poll_write(&mut noop_cx(), b"refused")
            .is_pending()
    );
    drop(stream);
    let mut wire = Vec::new();
    // The peer may see the end before the reactor has read the shutdown's
    // completion: drive until both.
    let eof = drive(&reactor, Duration::from_secs(20), || {
        (drain(&mut peer, &mut wire) && h.in_flight() == 0).then_some(())
    });
    assert!(
        eof.is_some(),
        "no end of stream after {} bytes, or {} ops still in flight",
        wire.len(),
        h.in_flight()
    );
    assert_eq!(wire.len(), data.len());
    assert!(wire == data, "the bytes arrived changed");
    assert_eq!(h.in_flight(), 0);
}

/// Other code shuts the stream's socket down (`shutdown(2)` on the number)
/// while a read through `AsyncRead` waits: the read ends with the end of
/// the stream; a write after `SHUT_WR` is taken, and its `EPIPE` comes at
/// the flush; the peer sees the end of the stream.
#[test]
fn a_shutdown_by_other_code_ends_tokio_reads_and_fails_writes_at_the_flush() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (mut stream, mut peer) = connected(&reactor.handle());
    let mut buf = [0x77u8; 8];
    assert!(poll_read(&mut stream, &mut buf).is_pending());
    reactor.submit().unwrap();
    let number = stream.as_fd().as_raw_fd();
    // SAFETY: shutdown(2) on a descriptor the stream keeps open; it frees
    // nothing.
    let rc = unsafe { libc::shutdown(number, libc::SHUT_RDWR) };
    assert_eq!(rc, 0);
    let r = drive(&reactor, Duration::from_secs(5), || {
        match poll_read(&mut stream, &mut buf) {
            Poll::Ready(r) => Some(r),
            Poll::Pending => None,
        }
    })
    .expect("the read ends");
    assert_eq!(r.unwrap(), 0, "the end of the stream");
    assert_eq!(buf, [0x77; 8]);
    let flushed = reactor
        .run_until(async {
            assert_eq!(
                AsyncWriteExt::write(&mut stream, b"after").await.unwrap(),
                5
            );
            AsyncWriteExt::flush(&mut stream).await
        })
        .unwrap();
    assert_eq!(flushed.unwrap_err().raw_os_error(), Some(libc::EPIPE));
    let mut wire = Vec::new();
    assert!(drain(&mut peer, &mut wire), "the peer sees the end");
    assert!(wire.is_empty(), "{wire:?}");
    assert_eq!(reactor.in_flight(), 0);
}

/// Other code `dup2`s another socket over the stream's number while a read
/// is in flight: the read stays on the socket the kernel took when it
/// issued it (it gets the old peer's bytes), ops after act on the new one,
/// and the old socket closes once the read that held it has ended.
#[test]
fn a_socket_dup2ed_over_the_stream_s_number_under_a_read_in_flight() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (stream, mut old_peer) = connected(&h);
    let (other, mut new_peer) = connected(&h);
    let number = stream.as_fd().as_raw_fd();
    let old_inode = inode(number);
    let mut read = Box::pin(stream.read(vec![0xEEu8; 32]));
    assert!(uring_tests::poll_once(&mut read).is_pending());
    reactor.submit().unwrap();
    let source = other.as_fd().as_raw_fd();
    // SAFETY: dup2 onto a number the stream owns replaces its file; the
    // stream goes on owning the number (and closes it once), and `other`
    // keeps its own descriptor.
    let rc = unsafe { libc::dup2(source, number) };
    assert_eq!(rc, number, "dup2");
    assert_ne!(inode(number), old_inode);
    new_peer.write_all(b"new").unwrap();
    old_peer.write_all(b"old").unwrap();
    let (r, buf) = reactor.run_until(read).unwrap();
    let n = r.unwrap();
    assert_eq!(
        &buf[..n],
        b"old",
        "the read left the socket it was issued on"
    );
    assert!(buf[n..].iter().all(|&x| x == 0xEE));
    let (r, buf) = reactor.run_until(stream.read(vec![0u8; 32])).unwrap();
    let n = r.unwrap();
    assert_eq!(&buf[..n], b"new");
    // The old socket's last holder was the read: it is closed now.
    let mut rest = Vec::new();
    assert!(drain(&mut old_peer, &mut rest), "the old socket stays open");
    assert!(rest.is_empty());
    drop(stream);
    drop(other);
    assert!(drain(&mut new_peer, &mut rest));
    assert_eq!(reactor.in_flight(), 0);
}

// ---------------------------------------------------------------------------
// Buffer rings
// ---------------------------------------------------------------------------

/// An echo that sends each buffer of a multishot receive back as it is,
/// while the receive keeps filling the ring's other buffers and the peer
/// reads slowly (so sends wait, holding their buffers): four buffers of 256
/// bytes run dry (`ENOBUFS` ends the receive, which is armed again), and the
/// peer gets back every byte it sent, in order: the kernel never receives
/// into a buffer a send still holds.
#[test]
fn ring_buffers_echoed_as_they_are_while_the_ring_refills() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let group = match h.register_buf_ring(BufferGroup::new(7), 4, 256) {
        Ok(g) => g,
        Err(e) => return skip(format_args!("no buffer rings: {e}")),
    };
    let listener = TcpListener::bind(&h, any()).unwrap();
    let addr = listener.local_addr().unwrap();
    let data = uring_tests::pattern(256 * 1024, 5);
    let total = data.len();
    let rearmed = Rc::new(Cell::new(0u32));
    let r2 = Rc::clone(&rearmed);
    let echo = async move {
        let conn = listener.accept().await.unwrap();
        let mut echoed = 0;
        while echoed < total {
            let mut stream = conn.recv_stream(group);
            while let Some(item) = stream.next().await {
                match item {
                    Ok(Some(buf)) => {
                        echoed += buf.len();
                        let (r, _) = conn.write_all(buf).await;
                        r.unwrap();
                    }
                    Ok(None) => panic!("the end of the stream after {echoed} bytes"),
                    Err(e) => {
                        assert_eq!(e.raw_os_error(), Some(libc::ENOBUFS), "{e}");
                        break;
                    }
                }
            }
            r2.set(r2.get() + 1);
        }
    };
    let hc = h.clone();
    let client = async move {
        let conn = TcpStream::connect(&hc, addr).await.unwrap();
        uring_tests::set_int_option(conn.as_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF, 4096).unwrap();
        let (r, _) = conn.write_all(data.clone()).await;
        r.unwrap();
        // Slow at first: the echo's sends wait for room.
        let (r, ()) = hc.op(Timeout::new(Duration::from_millis(50))).await;
        assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ETIME));
        let mut back = Vec::with_capacity(total);
        while back.len() < total {
            let (n, buf) = conn.read(vec![0u8; 4096]).await;
            let n = n.unwrap();
            assert!(n > 0, "the end of the stream after {} bytes", back.len());
            back.extend_from_slice(&buf[..n]);
        }
        (back, data)
    };
    h.spawn(echo);
    let (back, data) = reactor.run_until(client).unwrap();
    assert!(back == data, "the echo changed the bytes");
    eprintln!("receive armed {} times", rearmed.get());
}

// ---------------------------------------------------------------------------
// UDP
// ---------------------------------------------------------------------------

/// Datagrams longer than the buffer given to receive them: the buffer gets
/// its first bytes (as many as it holds, never more), the rest of the
/// datagram is gone (the next receive gets the next datagram), and a
/// buffer-ring receive is cut to the ring's buffer length.
#[test]
fn datagrams_longer_than_their_buffer_are_cut_to_it() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let sock = UdpSocket::bind(&h, any()).unwrap();
    let to = sock.local_addr().unwrap();
    let sender = std::net::UdpSocket::bind(any()).unwrap();
    let from = sender.local_addr().unwrap();
    let big = uring_tests::pattern(1000, 1);
    for _ in 0..3 {
        sender.send_to(&big, to).unwrap();
    }
    // A vector of length 8: received from its first byte, up to its length
    // (its capacity).
    let small = vec![0x11u8; 8];
    assert_eq!(small.capacity(), 8);
    let (r, buf) = reactor.run_until(sock.recv_from(small)).unwrap();
    let (n, addr) = r.unwrap();
    assert_eq!((n, addr), (8, from));
    assert_eq!(buf, big[..8]);
    // A boxed slice.
    let boxed: Box<[u8]> = vec![0x22u8; 5].into_boxed_slice();
    let (r, buf) = reactor.run_until(sock.recv_from(boxed)).unwrap();
    assert_eq!(r.unwrap().0, 5);
    assert_eq!(&buf[..], &big[..5]);
    // A buffer of the reactor's ring, connected.
    sock.connect(from).unwrap();
    let group = match h.register_buf_ring(BufferGroup::new(9), 2, 16) {
        Ok(g) => g,
        Err(e) => return skip(format_args!("no buffer rings: {e}")),
    };
    let buf = reactor.run_until(sock.recv_ring(group)).unwrap().unwrap();
    assert_eq!(buf.len(), 16);
    assert_eq!(buf.capacity(), 16);
    assert_eq!(&buf[..], &big[..16]);
    drop(buf);
    // Nothing of the three datagrams is left.
    sender.send_to(b"next", to).unwrap();
    let (r, buf) = reactor.run_until(sock.recv(vec![0u8; 64])).unwrap();
    assert_eq!(&buf[..r.unwrap()], b"next");
    assert_eq!(reactor.in_flight(), 0);
}

/// Sends to unusual destinations: port 0, the broadcast address without
/// `SO_BROADCAST`, a datagram over the IPv4 limit, `send` with no peer,
/// another family: each fails with the kernel's errno and gives its buffer
/// back; a v4-mapped IPv6 address reaches the IPv4 socket, which sees the
/// sender as an IPv4 address.
#[test]
fn sends_to_unusual_destinations_fail_with_the_kernel_s_errno() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let sock = UdpSocket::bind(&h, any()).unwrap();
    let errno = |r: io::Result<usize>| r.unwrap_err().raw_os_error();
    let send_to = |buf: Vec<u8>, to: SocketAddr| {
        let (r, back) = reactor.run_until(sock.send_to(buf.clone(), to)).unwrap();
        assert_eq!(back, buf, "the buffer comes back whole");
        r
    };
    assert_eq!(
        errno(send_to(b"port 0".to_vec(), "127.0.0.1:0".parse().unwrap())),
        Some(libc::EINVAL)
    );
    assert_eq!(
        errno(send_to(
            b"broadcast".to_vec(),
            "255.255.255.255:9".parse().unwrap()
        )),
        Some(libc::EACCES)
    );
    let me = sock.local_addr().unwrap();
    assert_eq!(
        errno(send_to(vec![0u8; 65_508], me)),
        Some(libc::EMSGSIZE),
        "one byte over the IPv4 limit"
    );
    assert_eq!(send_to(vec![0u8; 65_507], me).unwrap(), 65_507);
    let (r, _) = reactor.run_until(sock.recv(vec![0u8; 16])).unwrap();
    assert_eq!(r.unwrap(), 16, "the largest datagram, cut to the buffer");
    assert!(
        send_to(b"v6".to_vec(), "[::1]:9".parse().unwrap()).is_err(),
        "an IPv4 socket sends to an IPv6 address"
    );
    let (r, back) = reactor.run_until(sock.send(b"nobody".to_vec())).unwrap();
    assert_eq!(errno(r), Some(libc::EDESTADDRREQ));
    assert_eq!(back, b"nobody");

    let v6 = match UdpSocket::bind(&h, "[::]:0".parse().unwrap()) {
        Ok(s) => s,
        Err(e) => return skip(format_args!("no IPv6: {e}")),
    };
    let mapped: SocketAddr = format!("[::ffff:127.0.0.1]:{}", me.port()).parse().unwrap();
    let (r, _) = reactor
        .run_until(v6.send_to(b"mapped".to_vec(), mapped))
        .unwrap();
    assert_eq!(r.unwrap(), 6);
    let (r, buf) = reactor.run_until(sock.recv_from(vec![0u8; 16])).unwrap();
    let (n, from) = r.unwrap();
    assert_eq!(&buf[..n], b"mapped");
    assert_eq!(
        from,
        SocketAddr::from(([127, 0, 0, 1], v6.local_addr().unwrap().port()))
    );
    assert_eq!(reactor.in_flight(), 0);
}

/// Receives-from whose deadline is 10 to 220 microseconds away as the
/// datagrams arrive: each datagram is received once, by a receive that
/// reports it with its sender, or stays queued for the next; none is lost.
#[test]
fn datagram_receives_racing_their_deadline_lose_no_datagram() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let mut sock = UdpSocket::bind(&h, any()).unwrap();
    let to = sock.local_addr().unwrap();
    let sender = std::net::UdpSocket::bind(any()).unwrap();
    let from = sender.local_addr().unwrap();
    let mut got = Vec::new();
    let mut timed_out = 0;
    for i in 0..300u32 {
        sock.set_read_deadline(Some(
            Instant::now() + Duration::from_micros(10 + 30 * u64::from(i % 8)),
        ));
        let mut recv = Box::pin(sock.recv_from(vec![0u8; 8]));
        let first = uring_tests::poll_once(&mut recv);
        reactor.submit().unwrap();
        pause(i);
        sender.send_to(&i.to_le_bytes(), to).unwrap();
        let (r, buf) = match first {
            Poll::Ready(done) => {
                drop(recv);
                done
            }
            Poll::Pending => reactor.run_until(recv).unwrap(),
        };
        match r {
            Ok((n, addr)) => {
                assert_eq!((n, addr), (4, from));
                got.push(u32::from_le_bytes(buf[..4].try_into().unwrap()));
            }
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
                assert_eq!(buf, [0u8; 8], "a timed-out receive wrote its buffer");
                timed_out += 1;
                // The datagram is still queued: taken with no deadline, so
                // that each round starts empty.
                sock.set_read_deadline(None);
                let (r, buf) = reactor.run_until(sock.recv_from(vec![0u8; 8])).unwrap();
                assert_eq!(r.unwrap(), (4, from));
                got.push(u32::from_le_bytes(buf[..4].try_into().unwrap()));
            }
        }
    }
    eprintln!("{timed_out} receives timed out");
    if !under_valgrind() {
        assert!(
            timed_out > 0 && timed_out < 300,
            "the deadlines raced nothing"
        );
    }
    assert_eq!(
        got,
        (0..300).collect::<Vec<_>>(),
        "datagrams lost or reordered"
    );
    assert_eq!(h.in_flight(), 0);
}

// ---------------------------------------------------------------------------
// Connects and lifecycles
// ---------------------------------------------------------------------------

/// A connect whose SYN the listener drops (its accept queue is full),
/// dropped while the handshake waits: the connect is cancelled and its
/// socket closed (no connection of this process is left in `SYN_SENT` to
/// the port), and the reactor has nothing left in flight.
#[test]
fn a_connect_dropped_while_the_handshake_waits_leaves_no_socket() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = std::net::TcpListener::bind(any()).unwrap();
    // SAFETY: listen(2) again on a listening socket the test owns only
    // changes its backlog.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let addr = listener.local_addr().unwrap();
    // Fills the queue of one.
    let _queued = std::net::TcpStream::connect(addr).unwrap();
    let mut connect = Box::pin(TcpStream::connect(&h, addr));
    assert!(uring_tests::poll_once(&mut connect).is_pending());
    reactor.submit().unwrap();
    run_for(&reactor, 50);
    assert!(uring_tests::poll_once(&mut connect).is_pending());
    let waiting = syn_sent_to(addr.port());
    assert_eq!(waiting, 1, "the connect's SYN should wait unanswered");
    drop(connect);
    drive(&reactor, Duration::from_secs(5), || {
        (h.in_flight() == 0).then_some(())
    })
    .expect("the cancelled connect ends");
    assert_eq!(syn_sent_to(addr.port()), 0, "the connect's socket is open");
}

/// A current-thread runtime dropped with every kind of op of `uring::net`
/// in flight in its tasks: a read and a write through tokio's traits, a
/// flush waiting on a send, an accept stream, a multishot receive, a
/// datagram receive, a connect, a timer. The reactor shuts down, nothing
/// is left in flight, the streams' peers see the end of the stream, and
/// what reached the wire of the write is a prefix of its bytes.
#[test]
fn a_runtime_dropped_with_every_kind_of_net_op_in_flight() {
    let _watch = watchdog();
    let rt = runtime();
    let local = tokio::task::LocalSet::new();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let started = Rc::new(Cell::new(0u32));
    let group = match h.register_buf_ring(BufferGroup::new(3), 4, 64) {
        Ok(g) => g,
        Err(e) => return skip(format_args!("no buffer rings: {e}")),
    };
    let (mut reader, mut reader_peer) = connected(&h);
    let (mut writer, mut writer_peer) = connected(&h);
    uring_tests::set_int_option(writer.as_fd(), libc::SOL_SOCKET, libc::SO_SNDBUF, 4096).unwrap();
    uring_tests::set_int_option(writer_peer.as_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF, 4096)
        .unwrap();
    let (ring_reader, mut ring_peer) = connected(&h);
    let listener = TcpListener::bind(&h, any()).unwrap();
    let udp = UdpSocket::bind(&h, any()).unwrap();
    let full = std::net::TcpListener::bind(any()).unwrap();
    // SAFETY: listen(2) again on a listening socket the test owns only
    // changes its backlog.
    assert_eq!(unsafe { libc::listen(full.as_raw_fd(), 0) }, 0);
    let full_addr = full.local_addr().unwrap();
    let _queued = std::net::TcpStream::connect(full_addr).unwrap();
    let data = uring_tests::pattern(4 << 20, 13);
    {
        let _guard = rt.enter();
        local.spawn_local(reactor.into_tokio().unwrap());
        let s = Rc::clone(&started);
        local.spawn_local(async move {
            s.set(s.get() + 1);
            let mut buf = [0u8; 16];
            let r = AsyncReadExt::read(&mut reader, &mut buf).await;
            panic!("the read completed: {r:?}");
        });
        let (s, d) = (Rc::clone(&started), data.clone());
        local.spawn_local(async move {
            assert_eq!(
                AsyncWriteExt::write(&mut writer, &d).await.unwrap(),
                d.len()
            );
            s.set(s.get() + 1);
            let r = AsyncWriteExt::flush(&mut writer).await;
            panic!("the flush completed: {r:?}");
        });
        let s = Rc::clone(&started);
        local.spawn_local(async move {
            s.set(s.get() + 1);
            let mut stream = ring_reader.recv_stream(group);
            let r = stream.next().await;
            panic!("the multishot receive yielded: {r:?}");
        });
        let s = Rc::clone(&started);
        local.spawn_local(async move {
            s.set(s.get() + 1);
            let mut incoming = listener.incoming();
            let r = incoming.next().await;
            panic!("an accept: {r:?}");
        });
        let s = Rc::clone(&started);
        local.spawn_local(async move {
            s.set(s.get() + 1);
            let (r, _) = udp.recv_from(vec![0u8; 16]).await;
            panic!("a datagram: {r:?}");
        });
        let (s, hc) = (Rc::clone(&started), h.clone());
        local.spawn_local(async move {
            s.set(s.get() + 1);
            let r = TcpStream::connect(&hc, full_addr).await;
            panic!("the connect completed: {:?}", r.map(drop));
        });
        let (s, hc) = (Rc::clone(&started), h.clone());
        local.spawn_local(async move {
            s.set(s.get() + 1);
            let r = hc.op(Timeout::new(Duration::from_secs(3600))).await;
            panic!("the timer fired: {r:?}");
        });
    }
    local.block_on(&rt, async {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    });
    assert_eq!(started.get(), 7);
    assert!(h.in_flight() >= 7, "{} in flight", h.in_flight());
    assert_eq!(syn_sent_to(full_addr.port()), 1);
    drop(local);
    drop(rt);
    assert!(h.is_shut_down());
    assert_eq!(h.in_flight(), 0);
    assert_eq!(syn_sent_to(full_addr.port()), 0);
    let mut rest = Vec::new();
    assert!(
        drain(&mut reader_peer, &mut rest),
        "the reader's socket is open"
    );
    assert!(
        drain(&mut ring_peer, &mut rest),
        "the receiver's socket is open"
    );
    assert!(rest.is_empty());
    // The writer's socket closes once the kernel has sent what its buffer
    // held: read to that end.
    let mut wire = Vec::new();
    writer_peer
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    writer_peer.read_to_end(&mut wire).unwrap();
    assert!(wire.len() < data.len());
    assert!(wire == data[..wire.len()], "the wire is not a prefix");
}

/// A task that holds a stream, with a read pending and a write reported
/// written through tokio's traits, panics: tokio catches the panic, the
/// write's bytes all reach the peer (a dropped stream detaches its send),
/// then the end of the stream; another task's stream goes on working, and
/// nothing is left in flight.
#[test]
fn a_panicking_task_holding_a_stream_delivers_what_it_reported() {
    let _watch = watchdog();
    let rt = runtime();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let (stream, peer) = connected(&h);
        let data = uring_tests::pattern(2 << 20, 17);
        let d = data.clone();
        let task = tokio::task::spawn_local(async move {
            let mut stream = stream;
            assert_eq!(
                AsyncWriteExt::write(&mut stream, &d).await.unwrap(),
                d.len()
            );
            let mut buf = [0u8; 4];
            let mut read = std::pin::pin!(AsyncReadExt::read(&mut stream, &mut buf));
            std::future::poll_fn(|cx| {
                assert!(read.as_mut().poll(cx).is_pending());
                Poll::Ready(())
            })
            .await;
            tokio::task::yield_now().await;
            panic!("a task holding a stream panics");
        });
        let e = task.await.unwrap_err();
        assert!(e.is_panic());
        peer.set_nonblocking(true).unwrap();
        let mut peer = tokio::net::TcpStream::from_std(peer).unwrap();
        let mut wire = Vec::new();
        peer.read_to_end(&mut wire).await.unwrap();
        assert_eq!(wire.len(), data.len());
        assert!(wire == data, "the bytes arrived changed");
        // Another stream of the reactor still works.
        let (mut other, mut other_peer) = connected(&h);
        other_peer.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        AsyncReadExt::read_exact(&mut other, &mut buf)
            .await
            .unwrap();
        assert_kernel_bytes(&buf, b"ping", "the other stream's bytes");
        AsyncWriteExt::write_all(&mut other, b"pong").await.unwrap();
        AsyncWriteExt::flush(&mut other).await.unwrap();
        let mut back = [0u8; 4];
        other_peer.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"pong");
        assert_eq!(h.in_flight(), 0);
        h.shutdown();
    });
}

/// Streams and futures forgotten (`mem::forget`) with ops in flight under
/// tokio, then the runtime dropped: the reactor shuts down (it cancels what
/// the forgotten values started), the forgotten stream's number stays open
/// on the same socket (its descriptor leaks, never closes under anyone),
/// and bytes sent after the shutdown stay in that socket for whoever
/// reads it: no forgotten read takes them.
#[test]
fn forgotten_streams_and_futures_under_tokio_leak_and_take_nothing() {
    let _watch = watchdog();
    let rt = runtime();
    let local = tokio::task::LocalSet::new();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (mut stream, mut peer) = connected(&h);
    let (other, mut other_peer) = connected(&h);
    let number = stream.as_fd().as_raw_fd();
    let other_number = other.as_fd().as_raw_fd();
    let watch: OwnedFd = stream.as_fd().try_clone_to_owned().unwrap();
    let other_watch: OwnedFd = other.as_fd().try_clone_to_owned().unwrap();
    local.block_on(&rt, async {
        tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let mut buf = [0u8; 8];
        std::future::poll_fn(|cx| {
            let mut rb = ReadBuf::new(&mut buf);
            assert!(Pin::new(&mut stream).poll_read(cx, &mut rb).is_pending());
            match Pin::new(&mut stream).poll_write(cx, b"reported") {
                Poll::Ready(Ok(8)) => {}
                other => panic!("the write: {other:?}"),
            }
            Poll::Ready(())
        })
        .await;
        std::mem::forget(stream);
        let mut read = Box::pin(other.read(vec![0u8; 8]));
        std::future::poll_fn(|cx| {
            assert!(read.as_mut().poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        std::mem::forget(read);
        drop(other);
        tokio::task::yield_now().await;
        tokio::task::yield_now().await;
    });
    drop(local);
    drop(rt);
    assert!(h.is_shut_down());
    assert_eq!(h.in_flight(), 0);
    let mut wire = Vec::new();
    assert!(
        !drain(&mut peer, &mut wire),
        "a forgotten stream's socket closed"
    );
    assert_eq!(wire, b"reported", "a forgotten stream's write went missing");
    for (n, w) in [(number, &watch), (other_number, &other_watch)] {
        assert!(uring_tests::fd_is_open(n), "{n} closed");
        assert_eq!(inode(n), inode(w.as_raw_fd()), "{n} names another file");
    }
    peer.write_all(b"after").unwrap();
    other_peer.write_all(b"after").unwrap();
    for w in [watch, other_watch] {
        let mut s = std::net::TcpStream::from(w);
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = [0u8; 5];
        s.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"after", "a forgotten read took bytes");
    }
}

/// 3000 connections (300 under valgrind) accepted by one `Incoming` on a
/// ring of four SQ and eight CQ entries driven by tokio, each echoing
/// through tokio's traits: every connection is accepted once, none twice,
/// and every client gets its own bytes back, then the end of the stream.
#[test]
fn thousands_of_connections_through_a_ring_of_four_entries_under_tokio() {
    let _watch = watchdog();
    let conns: usize = if under_valgrind() { 300 } else { 3000 };
    if !uring_tests::raise_nofile(2 * conns as u64 + 1000) {
        return skip("RLIMIT_NOFILE cannot be raised");
    }
    let ring = match Reactor::ring_builder().cq_entries(8).build(4) {
        Ok(ring) => ring,
        Err(e) => return skip(format_args!("no ring of 4 and 8 entries: {e}")),
    };
    let reactor = Reactor::from_ring(ring).unwrap();
    let h = reactor.handle();
    let listener = TcpListener::bind(&h, any()).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut clients = Vec::with_capacity(conns);
    for i in 0..conns {
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.write_all(&(i as u32).to_le_bytes()).unwrap();
        clients.push(c);
    }
    let rt = runtime();
    let local = tokio::task::LocalSet::new();
    let peers = local.block_on(&rt, async {
        tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let done = Rc::new(Cell::new(0usize));
        let peers = Rc::new(RefCell::new(std::collections::HashSet::new()));
        let mut incoming = listener.incoming();
        for _ in 0..conns {
            let mut conn = incoming.next().await.unwrap().unwrap();
            assert!(
                peers.borrow_mut().insert(conn.peer_addr().unwrap()),
                "a connection accepted twice"
            );
            let d = Rc::clone(&done);
            tokio::task::spawn_local(async move {
                let mut id = [0u8; 4];
                AsyncReadExt::read_exact(&mut conn, &mut id).await.unwrap();
                AsyncWriteExt::write_all(&mut conn, &id).await.unwrap();
                AsyncWriteExt::shutdown(&mut conn).await.unwrap();
                d.set(d.get() + 1);
            });
        }
        drop(incoming);
        while done.get() < conns {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(h.in_flight(), 0);
        h.shutdown();
        Rc::try_unwrap(peers).unwrap().into_inner()
    });
    assert_eq!(peers.len(), conns);
    for (i, c) in clients.iter_mut().enumerate() {
        assert!(peers.contains(&c.local_addr().unwrap()));
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut back = Vec::new();
        c.read_to_end(&mut back).unwrap();
        assert_eq!(back, (i as u32).to_le_bytes(), "client {i}");
    }
}

/// `into_tokio` outside a runtime, and in a runtime without I/O: the first
/// is refused with an `Unsupported` error, the second by tokio (a panic,
/// its own check), and the reactor it
/// consumed shuts down on the way: the receive it had in flight is
/// cancelled and waited for, its callback runs once with `ECANCELED` and
/// the buffer unwritten, and the socket keeps the bytes sent after.
#[test]
fn into_tokio_without_a_runtime_s_io_cancels_and_waits() {
    let _watch = watchdog();
    for with_runtime in [false, true] {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let (mine, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let watch = mine.try_clone().unwrap();
        let fd = SharedFd::new(mine);
        let got = Rc::new(RefCell::new(Vec::new()));
        let g = Rc::clone(&got);
        h.queue(Recv::new(&fd, vec![0x5Au8; 16]), move |r, buf| {
            g.borrow_mut().push((r.map_err(|e| e.raw_os_error()), buf));
        })
        .unwrap();
        h.submit().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _guard = with_runtime.then(|| rt.enter());
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reactor.into_tokio()));
        match outcome {
            Ok(Ok(_)) => panic!("a ring registered with no I/O driver ({with_runtime})"),
            // Outside any runtime: an error value, not a panic.
            Ok(Err(e)) if !with_runtime => assert_eq!(e.kind(), io::ErrorKind::Unsupported),
            Ok(Err(e)) => eprintln!("into_tokio refused: {e}"),
            Err(_) if !with_runtime => panic!("into_tokio panicked outside a runtime"),
            Err(_) => eprintln!("into_tokio panicked (tokio's own check of its I/O driver)"),
        }
        assert!(h.is_shut_down());
        assert_eq!(h.in_flight(), 0);
        let got = got.borrow();
        assert_eq!(got.len(), 1, "the callback runs once");
        assert_eq!(got[0].0, Err(Some(libc::ECANCELED)));
        assert!(got[0].1.iter().all(|&x| x == 0x5A));
        peer.write_all(b"kept").unwrap();
        let mut w = watch;
        let mut buf = [0u8; 4];
        w.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"kept");
    }
}

/// A driver kept after its runtime is dropped, with a receive queued:
/// polled again it ends with an error (tokio's I/O driver is gone), never
/// a panic; dropping it then shuts the reactor down, cancelling and
/// waiting for the receive, whose callback runs once with the buffer
/// unwritten.
#[test]
fn a_driver_outliving_its_runtime_fails_and_still_waits_for_the_kernel() {
    let _watch = watchdog();
    let rt = runtime();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let mut driver = {
        let _guard = rt.enter();
        reactor.into_tokio().unwrap()
    };
    let (mine, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut watch = mine.try_clone().unwrap();
    let fd = SharedFd::new(mine);
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = Rc::clone(&got);
    h.queue(Recv::new(&fd, vec![0x6Bu8; 16]), move |r, buf| {
        g.borrow_mut().push((r.map_err(|e| e.raw_os_error()), buf));
    })
    .unwrap();
    drop(rt);
    let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Pin::new(&mut driver).poll(&mut noop_cx())
    }));
    match polled {
        Ok(Poll::Ready(Err(e))) => eprintln!("the driver ended: {e}"),
        Ok(other) => panic!("a driver with no runtime: {other:?}"),
        Err(_) => panic!("a driver polled after its runtime panicked"),
    }
    assert!(got.borrow().is_empty(), "the receive completed");
    assert!(!h.is_shut_down());
    drop(driver);
    assert!(h.is_shut_down());
    assert_eq!(h.in_flight(), 0);
    let got = got.borrow();
    assert_eq!(got.len(), 1, "the callback runs once");
    assert_eq!(got[0].0, Err(Some(libc::ECANCELED)));
    assert!(got[0].1.iter().all(|&x| x == 0x6B));
    peer.write_all(b"kept").unwrap();
    let mut buf = [0u8; 4];
    watch.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"kept");
}

/// tokio's traits on streams of a reactor that has shut down: reads fail,
/// a write is taken (the traits report errors at the next write or flush)
/// and its error comes at the flush, a shutdown fails, and nothing reaches
/// the peer; never a panic.
#[test]
fn tokio_io_on_a_shut_down_reactor_errs_and_sends_nothing() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (mut stream, mut peer) = connected(&h);
    let mut buf = [0x3Cu8; 8];
    assert!(poll_read(&mut stream, &mut buf).is_pending());
    reactor.submit().unwrap();
    h.shutdown();
    assert_eq!(h.in_flight(), 0);
    match poll_read(&mut stream, &mut buf) {
        Poll::Ready(Err(e)) => assert_eq!(e.raw_os_error(), Some(libc::ECANCELED), "{e}"),
        other => panic!("the cancelled read: {other:?}"),
    }
    match poll_read(&mut stream, &mut buf) {
        Poll::Ready(Err(_)) => {}
        other => panic!("a read after the shutdown: {other:?}"),
    }
    assert_eq!(buf, [0x3C; 8]);
    match Pin::new(&mut stream).poll_write(&mut noop_cx(), b"lost") {
        Poll::Ready(Ok(4)) => {}
        Poll::Ready(Err(_)) => {}
        other => panic!("a write after the shutdown: {other:?}"),
    }
    match Pin::new(&mut stream).poll_flush(&mut noop_cx()) {
        Poll::Ready(Err(_)) => {}
        other => panic!("a flush of a write never sent: {other:?}"),
    }
    match Pin::new(&mut stream).poll_shutdown(&mut noop_cx()) {
        Poll::Ready(Err(_)) => {}
        other => panic!("a shutdown after the reactor's: {other:?}"),
    }
    let mut wire = Vec::new();
    assert!(!drain(&mut peer, &mut wire));
    assert!(wire.is_empty(), "{wire:?}");
    drop(stream);
    assert!(drain(&mut peer, &mut wire));
}

/// A connection the peer resets (`SO_LINGER` of zero) under tokio's
/// traits: the pending read fails with `ECONNRESET`, the next read sees
/// the end of the stream, and a write's error (`EPIPE`) comes at its
/// flush; never a panic, nothing left in flight.
#[test]
fn a_reset_connection_under_tokio_s_traits() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (mut stream, peer) = connected(&reactor.handle());
    let mut buf = [0u8; 8];
    assert!(poll_read(&mut stream, &mut buf).is_pending());
    reactor.submit().unwrap();
    uring_tests::reset_on_close(&peer);
    drop(peer);
    let r = drive(&reactor, Duration::from_secs(5), || {
        match poll_read(&mut stream, &mut buf) {
            Poll::Ready(r) => Some(r),
            Poll::Pending => None,
        }
    })
    .expect("the read ends");
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ECONNRESET));
    let r = reactor
        .run_until(AsyncReadExt::read(&mut stream, &mut buf))
        .unwrap();
    assert_eq!(r.unwrap(), 0);
    let flushed = reactor
        .run_until(async {
            assert_eq!(AsyncWriteExt::write(&mut stream, b"x").await.unwrap(), 1);
            AsyncWriteExt::flush(&mut stream).await
        })
        .unwrap();
    assert_eq!(flushed.unwrap_err().raw_os_error(), Some(libc::EPIPE));
    assert_eq!(reactor.in_flight(), 0);
}

/// tokio drives a reactor over an SQPOLL ring (the kernel's thread takes
/// the SQEs; the driver only wakes it): an echo through tokio's traits and
/// a read deadline work, and the runtime's drop leaves nothing in flight.
#[test]
fn tokio_drives_a_reactor_over_an_sqpoll_ring() {
    let _watch = watchdog();
    let Some(ring) = uring_tests::sqpoll_ring(64) else {
        return;
    };
    let reactor = Reactor::from_ring(ring).unwrap();
    let h = reactor.handle();
    let rt = runtime();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let listener = TcpListener::bind(&h, any()).unwrap();
        let addr = listener.local_addr().unwrap();
        let hc = h.clone();
        let client = tokio::task::spawn_local(async move {
            let mut c = TcpStream::connect(&hc, addr).await.unwrap();
            let data = uring_tests::pattern(256 * 1024, 21);
            AsyncWriteExt::write_all(&mut c, &data).await.unwrap();
            AsyncWriteExt::shutdown(&mut c).await.unwrap();
            let mut back = Vec::new();
            AsyncReadExt::read_to_end(&mut c, &mut back).await.unwrap();
            (back, data)
        });
        let mut conn = listener.accept().await.unwrap();
        let (mut r, mut w) = tokio::io::split(&mut conn);
        let n = tokio::io::copy(&mut r, &mut w).await.unwrap();
        w.shutdown().await.unwrap();
        let (back, data) = client.await.unwrap();
        assert_eq!(n as usize, data.len());
        assert_kernel_bytes(&back, &data, "the echo");
        let start = Instant::now();
        conn.set_read_deadline(Some(start + Duration::from_millis(30)));
        let e = AsyncReadExt::read(&mut conn, &mut [0u8; 4]).await;
        // The client shut its side: the end of the stream comes first.
        assert_eq!(e.unwrap(), 0);
        let (mut a, _b) = connected(&h);
        a.set_read_deadline(Some(Instant::now() + Duration::from_millis(30)));
        let e = AsyncReadExt::read(&mut a, &mut [0u8; 4]).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    });
    drop(local);
    drop(rt);
    assert!(h.is_shut_down());
    assert_eq!(h.in_flight(), 0);
}
