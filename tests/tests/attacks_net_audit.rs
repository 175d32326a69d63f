//! Attacks, from safe code, on `uring::net` at edges the other net suites
//! leave: a buffer received from a reactor's buffer ring and sent on as it
//! is through a stream dropped mid-send while the group is dry, or through
//! another socket after the one that received it is gone; a connected UDP
//! socket's filter and the datagrams queued before its connect; writes and
//! descriptor sends after the stream's own write shutdown; accepts in
//! flight when their listener is dropped (descriptors counted in
//! `/proc/self/fd`, in a process of the test's own); a peer's reset under a
//! receive stream holding the ring's buffers; credentials and pidfds that a
//! socket's options add after a descriptor receive was armed, in the room
//! the receive planned for descriptors alone; a listener shut down under
//! its stream of connections; Unix addresses bound by the kernel
//! (autobind) and sends to the unnamed address; datagram deadlines in the
//! past, the far future and passing mid-receive.
//!
//! Each test asserts what the kernel did: byte counts and bytes (compared
//! by length alone under valgrind where only the kernel wrote them),
//! errnos, which buffer ids a group hands out, descriptors per inode, and
//! what the peers see.

use std::io::{self, Read as _, Write as _};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt as _;
use std::task::Poll;
use std::time::{Duration, Instant};

use uring::SockAddr;
use uring::net::{TcpListener, UdpSocket, UnixDatagram, UnixListener, UnixStream};
use uring::reactor::ops::{Accept, Shutdown};
use uring::reactor::{Reactor, RingBuf};
use uring_tests::net::peer;
use uring_tests::net::{any, assert_group_whole, assert_kernel_bytes, drive, group_or_skip};
use uring_tests::{fd_is_open, pattern, pipe, poll_once, run_for, set_int_option, skip, watchdog};

/// The errno of a failed result, if it is one.
fn errno<T>(r: &io::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(io::Error::raw_os_error)
}

/// The inode of what `fd` names.
fn inode(fd: BorrowedFd<'_>) -> u64 {
    peer::inode(fd)
}

/// How many descriptors of this process name the pipe of inode `ino`.
fn pipe_refs(ino: u64) -> usize {
    let want = format!("pipe:[{ino}]");
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.as_os_str() == want.as_str()))
        .count()
}

/// The descriptors of this process that are pidfds.
fn pidfds() -> Vec<RawFd> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            std::fs::read_link(e.path()).is_ok_and(|l| l.as_os_str() == "anon_inode:[pidfd]")
        })
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// Whether a read of `s` now finds the end of the stream (or a reset);
/// `false` when no byte and no end is there yet. Waits up to `bound` for
/// one of the two.
fn ends_within(s: &mut std::net::TcpStream, bound: Duration) -> bool {
    s.set_read_timeout(Some(bound)).unwrap();
    let mut b = [0u8; 16];
    let r = s.read(&mut b);
    s.set_read_timeout(None).unwrap();
    match r {
        Ok(0) => true,
        Ok(n) => panic!("{n} bytes nobody sent"),
        Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => true,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            false
        }
        Err(e) => panic!("reading a client: {e}"),
    }
}

// ---------------------------------------------------------------------------
// Ring buffers sent on as they are
// ---------------------------------------------------------------------------

/// A buffer received from a group of two, given as it is to a send on
/// another stream whose socket is full, stays lent while the send waits:
/// with the group's other buffer held too, a receive finds none
/// (`ENOBUFS`) and leaves its byte queued. Dropping the send's future and
/// its stream cancels the send; only then does the buffer go back, once:
/// the next receive gets the queued byte in that very buffer, the group is
/// whole afterwards, and the full socket's peer reads the filler and then
/// the end, no byte of the cancelled send.
#[test]
fn a_ring_buffer_sent_on_a_stream_dropped_mid_send_goes_back_to_a_dry_group_once() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 81, 2, 64) else {
        return;
    };
    let (src, mut src_peer) = peer::unix(&h);
    src_peer.write_all(b"echo me back").unwrap();
    let buf = reactor
        .run_until(src.recv_ring(group))
        .unwrap()
        .unwrap()
        .unwrap();
    assert_kernel_bytes(&buf, b"echo me back", "the received buffer");
    let bid = buf.bid();

    let (dst, mut dst_peer) = peer::unix(&h);
    let (filler, filled) = peer::fill_through(dst.as_fd());
    let mut send = Box::pin(dst.write(buf));
    assert!(poll_once(&mut send).is_pending());
    run_for(&reactor, 10);
    assert!(poll_once(&mut send).is_pending(), "the socket is full");

    src_peer.write_all(b"2").unwrap();
    let second = reactor
        .run_until(src.recv_ring(group))
        .unwrap()
        .unwrap()
        .unwrap();
    assert_ne!(
        second.bid(),
        bid,
        "a buffer lent to a send handed out again"
    );
    src_peer.write_all(b"3").unwrap();
    let dry = reactor.run_until(src.recv_ring(group)).unwrap();
    assert_eq!(errno(&dry), Some(libc::ENOBUFS), "{dry:?}");

    drop(send);
    drop(dst);
    run_for(&reactor, 20);
    assert_eq!(reactor.in_flight(), 0, "the cancelled send is over");
    let third = reactor
        .run_until(src.recv_ring(group))
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(third.bid(), bid, "the send's buffer came back");
    assert_kernel_bytes(&third, b"3", "the byte the dry group left queued");
    drop((second, third));
    assert_group_whole(&reactor, group, 2, "after the orphaned send");

    drop(filler);
    let got = peer::drain_to_end(&reactor, &mut dst_peer, Duration::from_secs(5));
    assert_eq!(
        got.len(),
        filled,
        "bytes of the cancelled send reached the peer"
    );
    assert!(got.iter().all(|&b| b == 0));
}

/// A buffer received from the ring and given to a send that waits on a
/// full socket when the reactor is dropped: the send's future resolves,
/// with `ECANCELED` and the buffer, whose bytes are untouched; the
/// buffer is readable after every handle is gone, and the full socket's
/// peer gets none of its bytes.
#[test]
fn a_ring_buffer_in_a_send_pending_across_its_reactor_s_drop_comes_back_intact() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 87, 1, 32) else {
        return;
    };
    let (src, mut src_peer) = peer::unix(&h);
    src_peer.write_all(b"across the drop").unwrap();
    let buf = reactor
        .run_until(src.recv_ring(group))
        .unwrap()
        .unwrap()
        .unwrap();
    let (dst, mut dst_peer) = peer::unix(&h);
    let (filler, filled) = peer::fill_through(dst.as_fd());
    let mut send = Box::pin(dst.write(buf));
    assert!(poll_once(&mut send).is_pending());
    run_for(&reactor, 10);
    assert!(poll_once(&mut send).is_pending(), "the socket is full");
    drop(reactor);
    let buf = match poll_once(&mut send) {
        Poll::Ready((r, buf)) => {
            assert_eq!(errno(&r), Some(libc::ECANCELED), "{r:?}");
            buf
        }
        Poll::Pending => panic!("a send is pending after its reactor's drop"),
    };
    drop(send);
    drop((src, dst, h));
    assert_kernel_bytes(&buf, b"across the drop", "the buffer after the drop");
    drop(buf);
    drop(filler);
    let mut got = Vec::new();
    dst_peer.set_nonblocking(true).unwrap();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        match dst_peer.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("reading the full socket's peer: {e}"),
        }
    }
    assert_eq!(
        got.len(),
        filled,
        "bytes of the cancelled send reached the peer"
    );
}

/// A datagram longer than the ring's buffers is cut to one buffer; the
/// socket that received it is dropped, and the buffer, sent as it is to a
/// third socket through another, arrives byte for byte, then goes back to
/// its group. An empty datagram takes no buffer (`UnexpectedEof`) and
/// leaves the next datagram whole.
#[test]
fn a_ring_buffer_outlives_the_socket_that_received_it_and_is_sent_on_as_it_is() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 82, 2, 32) else {
        return;
    };
    let sender = std::net::UdpSocket::bind(any()).unwrap();
    let last = std::net::UdpSocket::bind(any()).unwrap();
    let out = UdpSocket::bind(&h, any()).unwrap();
    let data = pattern(100, 7);

    let buf = {
        let a = UdpSocket::bind(&h, any()).unwrap();
        a.connect(sender.local_addr().unwrap()).unwrap();
        sender.send_to(&data, a.local_addr().unwrap()).unwrap();
        let buf = reactor.run_until(a.recv_ring(group)).unwrap().unwrap();
        assert_eq!(buf.capacity(), 32);
        assert_kernel_bytes(&buf, &data[..32], "cut to the ring's buffer");
        buf
    };
    let (r, buf) = reactor
        .run_until(out.send_to(buf, last.local_addr().unwrap()))
        .unwrap();
    assert_eq!(r.unwrap(), 32);
    assert_kernel_bytes(&buf, &data[..32], "the buffer after its send");
    let mut got = [0u8; 64];
    let (n, from) = last.recv_from(&mut got).unwrap();
    assert_eq!(from, out.local_addr().unwrap());
    assert_kernel_bytes(&got[..n], &data[..32], "the datagram sent from the ring");
    drop(buf);

    // An empty datagram takes no buffer: `UnexpectedEof`, as documented,
    // and the datagram after it arrives whole.
    let b = UdpSocket::bind(&h, any()).unwrap();
    sender.send_to(b"", b.local_addr().unwrap()).unwrap();
    sender.send_to(b"next", b.local_addr().unwrap()).unwrap();
    let r = reactor.run_until(b.recv_ring(group)).unwrap();
    assert_eq!(
        r.as_ref().err().map(io::Error::kind),
        Some(io::ErrorKind::UnexpectedEof),
        "{r:?}"
    );
    let next = reactor.run_until(b.recv_ring(group)).unwrap().unwrap();
    assert_kernel_bytes(&next, b"next", "the datagram after the empty one");
    drop(b);
    let (r, next) = reactor
        .run_until(out.send_to(next, last.local_addr().unwrap()))
        .unwrap();
    assert_eq!(r.unwrap(), 4);
    drop(next);
    let (n, _) = last.recv_from(&mut got).unwrap();
    assert_kernel_bytes(&got[..n], b"next", "sent on from a dropped socket's buffer");
    assert_group_whole(&reactor, group, 2, "after the buffers were sent on");
}

// ---------------------------------------------------------------------------
// Datagram sockets
// ---------------------------------------------------------------------------

/// A UDP socket connected to one peer: the kernel hands it only that peer's
/// datagrams from then on (another's are dropped, whichever receive waits:
/// plain, with the sender, into the ring), but one queued before the
/// connect is still received, with its real sender. Sends go to the peer,
/// and `send_to` another address still reaches that one. Connected again
/// to the other peer, the filter follows. `peer_addr` is `ENOTCONN`
/// before any connect.
#[test]
fn a_connected_udp_socket_takes_only_its_peer_s_datagrams() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 83, 2, 32) else {
        return;
    };
    let mut a = UdpSocket::bind(&h, any()).unwrap();
    let to_a = a.local_addr().unwrap();
    let p = std::net::UdpSocket::bind(any()).unwrap();
    let q = std::net::UdpSocket::bind(any()).unwrap();
    let (p_addr, q_addr) = (p.local_addr().unwrap(), q.local_addr().unwrap());
    assert_eq!(errno(&a.peer_addr()), Some(libc::ENOTCONN));

    q.send_to(b"before", to_a).unwrap();
    a.connect(p_addr).unwrap();
    assert_eq!(a.peer_addr().unwrap(), p_addr);
    q.send_to(b"from q", to_a).unwrap();
    p.send_to(b"from p", to_a).unwrap();
    let (r, buf) = reactor.run_until(a.recv_from(vec![0u8; 16])).unwrap();
    let (n, from) = r.unwrap();
    assert_eq!((&buf[..n], from), (&b"before"[..], q_addr), "queued before");
    let (r, buf) = reactor.run_until(a.recv_from(vec![0u8; 16])).unwrap();
    let (n, from) = r.unwrap();
    assert_eq!(
        (&buf[..n], from),
        (&b"from p"[..], p_addr),
        "q's was dropped"
    );
    q.send_to(b"q again", to_a).unwrap();
    p.send_to(b"ring", to_a).unwrap();
    let buf = reactor.run_until(a.recv_ring(group)).unwrap().unwrap();
    assert_kernel_bytes(&buf, b"ring", "the peer's datagram in the ring");
    drop(buf);
    q.send_to(b"q once more", to_a).unwrap();
    p.send_to(b"plain", to_a).unwrap();
    let (r, buf) = reactor.run_until(a.recv(vec![0u8; 16])).unwrap();
    assert_eq!(&buf[..r.unwrap()], b"plain");

    let (r, _) = reactor.run_until(a.send(b"to p".to_vec())).unwrap();
    assert_eq!(r.unwrap(), 4);
    let (r, _) = reactor
        .run_until(a.send_to(b"to q".to_vec(), q_addr))
        .unwrap();
    assert_eq!(r.unwrap(), 4);
    let mut got = [0u8; 16];
    assert_eq!(p.recv_from(&mut got).unwrap(), (4, to_a));
    assert_eq!(&got[..4], b"to p");
    assert_eq!(q.recv_from(&mut got).unwrap(), (4, to_a));
    assert_eq!(&got[..4], b"to q");

    a.connect(q_addr).unwrap();
    p.send_to(b"p now", to_a).unwrap();
    q.send_to(b"q now", to_a).unwrap();
    let (r, buf) = reactor.run_until(a.recv_from(vec![0u8; 16])).unwrap();
    let (n, from) = r.unwrap();
    assert_eq!((&buf[..n], from), (&b"q now"[..], q_addr));
    // Nothing else was let through.
    a.set_read_deadline(Some(Instant::now() + Duration::from_millis(30)));
    let (r, buf) = reactor.run_until(a.recv(vec![0xAB; 16])).unwrap();
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::TimedOut);
    assert_eq!(buf, vec![0xAB; 16]);
    assert_eq!(reactor.in_flight(), 0);
}

/// Datagram deadlines: one already past fails every receive and send at
/// once with `TimedOut`, takes no datagram (the next receive gets it),
/// writes no buffer and sends nothing; one a century away changes nothing;
/// one that passes while a receive into the ring waits ends it with
/// `TimedOut`, not before, and leaves every buffer in the group; lifted,
/// the socket works again.
#[test]
fn datagram_deadlines_in_the_past_the_far_future_and_mid_receive() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 84, 2, 32) else {
        return;
    };
    let mut a = UdpSocket::bind(&h, any()).unwrap();
    let to_a = a.local_addr().unwrap();
    let p = std::net::UdpSocket::bind(any()).unwrap();
    let p_addr = p.local_addr().unwrap();
    a.connect(p_addr).unwrap();
    p.send_to(b"queued", to_a).unwrap();

    a.set_deadline(Some(Instant::now()));
    let (r, buf) = reactor.run_until(a.recv(vec![0xCD; 16])).unwrap();
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::TimedOut);
    assert_eq!(buf, vec![0xCD; 16], "a receive past its deadline wrote");
    let (r, buf) = reactor.run_until(a.recv_from(vec![0xCD; 16])).unwrap();
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::TimedOut);
    assert_eq!(buf, vec![0xCD; 16]);
    let r = reactor.run_until(a.recv_ring(group)).unwrap();
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::TimedOut);
    let (r, buf) = reactor.run_until(a.send(b"late".to_vec())).unwrap();
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::TimedOut);
    assert_eq!(buf, b"late");
    let (r, _) = reactor
        .run_until(a.send_to(b"late too".to_vec(), p_addr))
        .unwrap();
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::TimedOut);
    p.set_nonblocking(true).unwrap();
    let mut got = [0u8; 16];
    assert_eq!(
        p.recv_from(&mut got).unwrap_err().kind(),
        io::ErrorKind::WouldBlock,
        "a send past its deadline sent"
    );
    p.set_nonblocking(false).unwrap();

    a.set_deadline(Some(
        Instant::now() + Duration::from_secs(100 * 365 * 86_400),
    ));
    let (r, buf) = reactor.run_until(a.recv(vec![0u8; 16])).unwrap();
    assert_eq!(&buf[..r.unwrap()], b"queued", "the datagram the past left");
    let (r, _) = reactor.run_until(a.send(b"far".to_vec())).unwrap();
    assert_eq!(r.unwrap(), 3);
    assert_eq!(p.recv_from(&mut got).unwrap(), (3, to_a));

    let bound = Duration::from_millis(40);
    a.set_read_deadline(Some(Instant::now() + bound));
    let start = Instant::now();
    let r = reactor.run_until(a.recv_ring(group)).unwrap();
    let took = start.elapsed();
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::TimedOut);
    assert!(took >= bound, "timed out after {took:?}, before {bound:?}");
    assert!(took < Duration::from_secs(5), "timed out after {took:?}");
    assert_eq!(reactor.in_flight(), 0);

    a.set_deadline(None);
    p.send_to(b"after", to_a).unwrap();
    let buf = reactor.run_until(a.recv_ring(group)).unwrap().unwrap();
    assert_kernel_bytes(&buf, b"after", "a receive with no deadline");
    drop(buf);
    assert_group_whole(&reactor, group, 2, "after the deadlines");
}

// ---------------------------------------------------------------------------
// Half-closed streams
// ---------------------------------------------------------------------------

/// After the stream's own write shutdown, the peer reads the end; writes
/// fail with `EPIPE` (and no `SIGPIPE` ends the process) and give their
/// buffer back; a send of descriptors fails so too and gives back the very
/// descriptors, which stay open and owned (each pipe is named by exactly
/// the descriptors the test holds), none reaching the peer; reads still
/// work. A read shutdown then ends reads with 0, over TCP and Unix
/// streams.
#[test]
fn sends_after_the_stream_s_own_write_shutdown_fail_and_give_everything_back() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();

    let (s, mut peer) = peer::tcp(&h);
    reactor
        .run_until(s.shutdown(std::net::Shutdown::Write))
        .unwrap()
        .unwrap();
    let mut b = [0u8; 8];
    assert_eq!(peer.read(&mut b).unwrap(), 0, "the peer reads the end");
    let (r, buf) = reactor.run_until(s.write(b"after".to_vec())).unwrap();
    assert_eq!(errno(&r), Some(libc::EPIPE));
    assert_eq!(buf, b"after");
    let (r, buf) = reactor.run_until(s.write_all(b"all".to_vec())).unwrap();
    assert_eq!(errno(&r), Some(libc::EPIPE));
    assert_eq!(buf, b"all");
    peer.write_all(b"still read").unwrap();
    let (r, buf) = reactor.run_until(s.read(vec![0u8; 32])).unwrap();
    assert_kernel_bytes(&buf[..r.unwrap()], b"still read", "a read after SHUT_WR");
    reactor
        .run_until(s.shutdown(std::net::Shutdown::Read))
        .unwrap()
        .unwrap();
    let (r, _) = reactor.run_until(s.read(vec![0u8; 32])).unwrap();
    assert_eq!(r.unwrap(), 0);

    let (u, mut upeer) = peer::unix(&h);
    reactor
        .run_until(u.shutdown(std::net::Shutdown::Write))
        .unwrap()
        .unwrap();
    let pipes: Vec<(OwnedFd, OwnedFd)> = (0..3).map(|_| pipe()).collect();
    let inos: Vec<u64> = pipes.iter().map(|(r, _)| inode(r.as_fd())).collect();
    let sent: Vec<OwnedFd> = pipes.iter().map(|(_, w)| w.try_clone().unwrap()).collect();
    let raw: Vec<RawFd> = sent.iter().map(AsRawFd::as_raw_fd).collect();
    let (r, buf, back) = reactor
        .run_until(u.send_with_fds(b"fds".to_vec(), sent))
        .unwrap();
    assert_eq!(errno(&r), Some(libc::EPIPE));
    assert_eq!(buf, b"fds");
    assert_eq!(
        back.iter().map(AsRawFd::as_raw_fd).collect::<Vec<_>>(),
        raw,
        "the same descriptors come back"
    );
    for (fd, &ino) in back.iter().zip(&inos) {
        assert_eq!(inode(fd.as_fd()), ino);
        assert_eq!(pipe_refs(ino), 3, "both ends and the copy sent");
    }
    drop(back);
    for &ino in &inos {
        assert_eq!(pipe_refs(ino), 2, "a copy left behind");
    }
    assert_eq!(
        upeer.read(&mut b).unwrap(),
        0,
        "the peer reads the end only"
    );
    upeer.write_all(b"back").unwrap();
    let (r, buf, fds) = reactor.run_until(u.recv_with_fds(vec![0u8; 8], 4)).unwrap();
    assert_kernel_bytes(&buf[..r.unwrap()], b"back", "a read after SHUT_WR");
    assert!(fds.is_empty());
    drop(pipes);
}

// ---------------------------------------------------------------------------
// Accepts and listeners
// ---------------------------------------------------------------------------

/// A dozen one-shot accepts and a stream of them wait on one listener,
/// which is dropped before 20 clients connect (the ops keep its socket
/// open); six more accepts then wait on the emptied backlog. Some accepted
/// streams are taken, the other futures are dropped, polled or not,
/// completed or not, and the stream of connections with what it queued. Afterwards the process holds exactly the descriptors it
/// held before, plus the clients and the streams it took: nothing the
/// kernel accepted is leaked, nothing is closed twice (descriptors opened
/// afterwards stay open while the reactor runs on), every client whose
/// connection was not taken reads its end, the taken ones still echo, and
/// the port refuses connections (no op kept the listener). Run in a
/// process of its own, whose descriptor count no other test moves.
#[test]
fn accepts_in_flight_with_their_listener_dropped_leak_and_double_close_nothing() {
    let name = "accepts_in_flight_with_their_listener_dropped_leak_and_double_close_nothing";
    uring_tests::in_own_process(name, "an accept that never ended", || {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let base = peer::open_fds();
        let listener = TcpListener::bind(&h, any()).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut accepts: Vec<_> = (0..12)
            .map(|_| h.op(Accept::new(listener.shared_fd())))
            .collect();
        for a in &mut accepts {
            assert!(poll_once(a).is_pending());
        }
        let mut incoming = listener.incoming();
        reactor.submit().unwrap();
        run_for(&reactor, 5);
        let shared = listener.shared_fd().clone();
        drop(listener);
        let mut clients: Vec<std::net::TcpStream> = (0..20)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        run_for(&reactor, 30);
        // Accepts queued after the backlog was taken, which wait; the last
        // owner of the socket besides the ops goes.
        let mut late: Vec<_> = (0..6).map(|_| h.op(Accept::new(&shared))).collect();
        for a in &mut late {
            assert!(poll_once(a).is_pending());
        }
        drop(shared);
        run_for(&reactor, 5);

        let mut kept: Vec<OwnedFd> = Vec::new();
        let mut rest = accepts.split_off(8);
        rest.append(&mut late);
        for mut a in accepts {
            match poll_once(&mut a) {
                Poll::Ready((r, fd)) => {
                    r.unwrap();
                    kept.push(fd.expect("an accept gave no socket"));
                }
                Poll::Pending => drop(a),
            }
        }
        // Half of the rest polled and dropped, half dropped unpolled.
        for a in rest.iter_mut().step_by(2) {
            let _ = poll_once(a);
        }
        drop(rest);
        let mut streams = Vec::new();
        let mut cx = uring_tests::net::noop_cx();
        while streams.len() < 5 {
            match incoming.poll_next(&mut cx) {
                Poll::Ready(Some(Ok(s))) => streams.push(s),
                Poll::Ready(other) => panic!("the stream of connections: {other:?}"),
                Poll::Pending => break,
            }
        }
        drop(incoming);
        run_for(&reactor, 20);
        assert_eq!(reactor.in_flight(), 0, "an accept outlived its future");
        let taken = kept.len() + streams.len();
        assert!(taken > 0, "no accept completed");
        assert_eq!(
            peer::open_fds(),
            base + clients.len() + taken,
            "descriptors leaked or closed"
        );
        let canaries: Vec<std::fs::File> = (0..8)
            .map(|_| std::fs::File::open("/proc/self/stat").unwrap())
            .collect();
        run_for(&reactor, 20);
        for c in &canaries {
            assert!(fd_is_open(c.as_raw_fd()), "a descriptor was closed twice");
        }

        let mut taken_ports: Vec<u16> = Vec::new();
        for fd in &kept {
            let p = std::net::TcpStream::from(fd.try_clone().unwrap());
            taken_ports.push(p.peer_addr().unwrap().port());
        }
        for s in &streams {
            taken_ports.push(s.peer_addr().unwrap().port());
        }
        for c in &mut clients {
            let port = c.local_addr().unwrap().port();
            if taken_ports.contains(&port) {
                assert!(
                    !ends_within(c, Duration::from_millis(5)),
                    "a connection that was taken ended"
                );
            } else {
                assert!(
                    ends_within(c, Duration::from_secs(2)),
                    "a connection nobody took stayed open"
                );
            }
        }
        // The taken ones work.
        for fd in &kept {
            let mut s = std::net::TcpStream::from(fd.try_clone().unwrap());
            s.write_all(b"kept").unwrap();
        }
        for s in &streams {
            let (r, _) = reactor.run_until(s.write_all(b"kept".to_vec())).unwrap();
            r.unwrap();
        }
        for c in &mut clients {
            let port = c.local_addr().unwrap().port();
            if taken_ports.contains(&port) {
                let mut got = [0u8; 4];
                c.read_exact(&mut got).unwrap();
                assert_eq!(&got, b"kept");
            }
        }
        assert_eq!(
            std::net::TcpStream::connect(addr)
                .unwrap_err()
                .raw_os_error(),
            Some(libc::ECONNREFUSED),
            "an op kept the listener open"
        );
        drop((kept, streams, clients, canaries));
        run_for(&reactor, 5);
        assert_eq!(peer::open_fds(), base, "descriptors left at the end");
    });
}

/// A listener whose reading side is shut down (a `Shutdown` op on its
/// shared descriptor) under its armed stream of connections: the stream
/// yields `EINVAL` (the kernel's error for an accept on a socket that no
/// longer listens), one per `next`, each promptly and with at most one
/// accept in flight, never a panic nor a hang; one-shot accepts fail so
/// too; new clients are refused; a stream accepted before still echoes.
#[test]
fn a_listener_shut_down_under_its_stream_of_connections_yields_errors() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = TcpListener::bind(&h, any()).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut incoming = listener.incoming();
    let mut c1 = std::net::TcpStream::connect(addr).unwrap();
    let s1 = reactor
        .run_until(incoming.next())
        .unwrap()
        .unwrap()
        .unwrap();
    run_for(&reactor, 5);
    assert_eq!(reactor.in_flight(), 1, "the armed accept");

    let (r, ()) = reactor
        .run_until(h.op(Shutdown::new(listener.shared_fd(), libc::SHUT_RD)))
        .unwrap();
    assert_eq!(r.unwrap(), 0);
    let mut cx = uring_tests::net::noop_cx();
    for i in 0..20 {
        let item = drive(&reactor, Duration::from_secs(2), || {
            match incoming.poll_next(&mut cx) {
                Poll::Ready(item) => Some(item),
                Poll::Pending => None,
            }
        })
        .unwrap_or_else(|| panic!("{i}: no item within 2 s"));
        match item {
            Some(Err(e)) => assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{i}: {e}"),
            Some(Ok(s)) => panic!("{i}: a connection on a closed listener: {s:?}"),
            None => panic!("{i}: the stream ended on a live reactor"),
        }
        assert!(reactor.in_flight() <= 1, "{i}: accepts pile up");
    }
    let r = reactor.run_until(listener.accept()).unwrap();
    assert_eq!(errno(&r), Some(libc::EINVAL), "{r:?}");
    assert_eq!(
        std::net::TcpStream::connect(addr)
            .unwrap_err()
            .raw_os_error(),
        Some(libc::ECONNREFUSED)
    );
    c1.write_all(b"ping").unwrap();
    let (r, buf) = reactor.run_until(s1.read(vec![0u8; 8])).unwrap();
    let n = r.unwrap();
    assert_kernel_bytes(&buf[..n], b"ping", "the stream accepted before");
    let (r, _) = reactor.run_until(s1.write_all(buf)).unwrap();
    r.unwrap();
    let mut got = [0u8; 4];
    c1.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping");
    drop(incoming);
    run_for(&reactor, 5);
    assert_eq!(reactor.in_flight(), 0);
}

// ---------------------------------------------------------------------------
// Resets under ring receives
// ---------------------------------------------------------------------------

/// A TCP peer writes 40 bytes, which a receive stream takes into buffers
/// of 16 that the program holds, then resets the connection (`SO_LINGER`
/// 0): the stream's next item is `ECONNRESET`, then it ends; the held
/// buffers keep their bytes, in order and distinct; the stream then reads
/// its end (0, and `None` from the ring); every buffer goes back.
#[test]
fn a_reset_under_a_receive_stream_holding_the_ring_s_buffers() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 86, 4, 16) else {
        return;
    };
    let (stream, mut p) = peer::tcp(&h);
    let mut items = stream.recv_stream(group);
    let data = pattern(40, 3);
    p.write_all(&data).unwrap();
    let mut held: Vec<RingBuf> = Vec::new();
    let mut got = Vec::new();
    while got.len() < data.len() {
        match reactor.run_until(items.next()).unwrap() {
            Some(Ok(Some(buf))) => {
                got.extend_from_slice(&buf);
                held.push(buf);
            }
            other => panic!("after {} bytes: {other:?}", got.len()),
        }
    }
    assert_kernel_bytes(&got, &data, "the bytes before the reset");
    uring_tests::reset_on_close(&p);
    drop(p);
    match reactor.run_until(items.next()).unwrap() {
        Some(Err(e)) => assert_eq!(e.raw_os_error(), Some(libc::ECONNRESET), "{e}"),
        other => panic!("the item after the reset: {other:?}"),
    }
    assert!(reactor.run_until(items.next()).unwrap().is_none());
    let mut bids: Vec<u16> = held.iter().map(RingBuf::bid).collect();
    bids.sort_unstable();
    bids.dedup();
    assert_eq!(bids.len(), held.len(), "a buffer handed out twice");
    let again: Vec<u8> = held.iter().flat_map(|b| b.iter().copied()).collect();
    assert_kernel_bytes(&again, &data, "held buffers after the reset");
    drop(held);
    drop(items);
    let r = reactor.run_until(stream.recv_ring(group)).unwrap();
    assert!(matches!(r, Ok(None)), "{r:?}");
    let (r, _) = reactor.run_until(stream.read(vec![0u8; 8])).unwrap();
    assert_eq!(r.unwrap(), 0);
    assert_group_whole(&reactor, group, 4, "after the reset");
}

// ---------------------------------------------------------------------------
// Descriptor receives and the socket's options
// ---------------------------------------------------------------------------

/// Room for `max_fds` descriptors as a descriptor receive makes it: one
/// `SCM_RIGHTS` record, in whole 8-byte words.
fn room_for(max_fds: usize) -> usize {
    (16 + 4 * max_fds).div_ceil(8) * 8
}

/// How many descriptors the kernel installs from a message of `sent`, in
/// `room` bytes of control room of which `taken` went to records written
/// before the descriptors.
fn fitting(room: usize, taken: usize, sent: usize) -> usize {
    (room.saturating_sub(taken).saturating_sub(16) / 4).min(sent)
}

/// `SO_PASSCRED` switched on after a descriptor receive was armed (its
/// room planned, as documented, for the descriptors and the records the
/// options asked for at its submission: none). The credentials record the
/// kernel then writes first takes 32 bytes of that room; the descriptors
/// that still fit are installed and handed out in order, those that do not
/// are closed by the kernel: each pipe is named by exactly the
/// descriptors the test holds, none left in the table unowned, and the
/// credentials' numbers are never taken for descriptors (the standard
/// ones stay open).
#[test]
fn credentials_switched_on_under_an_armed_descriptor_receive_take_its_room() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let std_open: Vec<bool> = (0..3).map(fd_is_open).collect();
    for max_fds in [0usize, 8, 10, 12, 16] {
        let (a, b) = UnixStream::pair(&h).unwrap();
        let pipes: Vec<(OwnedFd, OwnedFd)> = (0..4).map(|_| pipe()).collect();
        let inos: Vec<u64> = pipes.iter().map(|(r, _)| inode(r.as_fd())).collect();
        let mut recv = Box::pin(b.recv_with_fds(Vec::with_capacity(8), max_fds));
        assert!(poll_once(&mut recv).is_pending());
        reactor.submit().unwrap();
        run_for(&reactor, 5);
        assert!(poll_once(&mut recv).is_pending(), "nothing was sent yet");
        set_int_option(b.as_fd(), libc::SOL_SOCKET, libc::SO_PASSCRED, 1).unwrap();
        let sent: Vec<OwnedFd> = pipes.iter().map(|(_, w)| w.try_clone().unwrap()).collect();
        let (r, _, back) = reactor
            .run_until(a.send_with_fds(b"fd".to_vec(), sent))
            .unwrap();
        assert_eq!(r.unwrap(), 2);
        drop(back);
        let (r, buf, got) = reactor.run_until(recv).unwrap();
        assert_eq!(r.unwrap(), 2, "{max_fds}");
        assert_kernel_bytes(&buf, b"fd", "the bytes");
        let fits = fitting(room_for(max_fds), 32, 4);
        assert_eq!(got.len(), fits, "room for {max_fds}");
        for (i, &ino) in inos.iter().enumerate() {
            if let Some(fd) = got.get(i) {
                assert_eq!(inode(fd.as_fd()), ino, "{max_fds}: in order");
            }
            assert_eq!(
                pipe_refs(ino),
                2 + usize::from(i < got.len()),
                "{max_fds}: pipe {i}"
            );
        }
        drop(got);
        for &ino in &inos {
            assert_eq!(pipe_refs(ino), 2, "{max_fds}");
        }
    }
    let still: Vec<bool> = (0..3).map(fd_is_open).collect();
    assert_eq!(still, std_open, "a standard descriptor was closed");
}

/// `SO_PASSPIDFD` switched on after a descriptor receive was armed: the
/// kernel installs the sender's pidfd when its record fits the room left,
/// and the receive closes it; whatever fits of the descriptors is handed
/// out, the rest closed by the kernel. No pidfd and no pipe end is left in
/// the table unowned.
#[test]
fn a_pidfd_switched_on_under_an_armed_descriptor_receive_leaves_nothing_behind() {
    const SO_PASSPIDFD: i32 = 76;
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    for max_fds in [0usize, 2, 4, 8, 16] {
        let (a, b) = UnixStream::pair(&h).unwrap();
        let pipes: Vec<(OwnedFd, OwnedFd)> = (0..4).map(|_| pipe()).collect();
        let inos: Vec<u64> = pipes.iter().map(|(r, _)| inode(r.as_fd())).collect();
        let mut recv = Box::pin(b.recv_with_fds(Vec::with_capacity(8), max_fds));
        assert!(poll_once(&mut recv).is_pending());
        reactor.submit().unwrap();
        run_for(&reactor, 5);
        if let Err(e) = set_int_option(b.as_fd(), libc::SOL_SOCKET, SO_PASSPIDFD, 1) {
            return skip(format_args!("no SO_PASSPIDFD (6.5): {e}"));
        }
        let before = pidfds();
        let sent: Vec<OwnedFd> = pipes.iter().map(|(_, w)| w.try_clone().unwrap()).collect();
        let (r, _, back) = reactor
            .run_until(a.send_with_fds(b"pid".to_vec(), sent))
            .unwrap();
        assert_eq!(r.unwrap(), 3);
        drop(back);
        let (r, buf, got) = reactor.run_until(recv).unwrap();
        assert_eq!(r.unwrap(), 3, "{max_fds}");
        assert_kernel_bytes(&buf, b"pid", "the bytes");
        let room = room_for(max_fds);
        // Linux writes the descriptors before the pidfd (24 bytes), which
        // gets what room they leave.
        assert_eq!(got.len(), fitting(room, 0, 4), "room for {max_fds}");
        let left: Vec<RawFd> = pidfds()
            .into_iter()
            .filter(|fd| !before.contains(fd))
            .collect();
        assert!(left.is_empty(), "{max_fds}: pidfds left open: {left:?}");
        for (i, &ino) in inos.iter().enumerate() {
            if let Some(fd) = got.get(i) {
                assert_eq!(inode(fd.as_fd()), ino, "{max_fds}: in order");
            }
            assert_eq!(
                pipe_refs(ino),
                2 + usize::from(i < got.len()),
                "{max_fds}: pipe {i}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Unix addresses the kernel picks
// ---------------------------------------------------------------------------

/// The unnamed address (an unbound socket's, two bytes) given to bind a
/// listener or a datagram socket makes the kernel pick an abstract name
/// (five hex digits), which `local_addr` reports and through which a stream
/// connects and a datagram arrives (its sender unnamed); connecting or
/// sending to the unnamed address itself is `EINVAL`, and a send gives its
/// buffer back.
#[test]
fn unix_sockets_bound_to_the_unnamed_address_get_a_name_from_the_kernel() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let unnamed = std::os::unix::net::UnixDatagram::unbound()
        .unwrap()
        .local_addr()
        .unwrap();
    assert!(unnamed.is_unnamed());
    let addr = SockAddr::from(&unnamed);
    assert_eq!(addr.len(), 2);
    let is_auto = |a: &std::os::unix::net::SocketAddr| {
        a.as_abstract_name()
            .is_some_and(|n| n.len() == 5 && n.iter().all(u8::is_ascii_hexdigit))
    };

    let listener = UnixListener::bind_addr(&h, &addr).unwrap();
    let name = listener.local_addr().unwrap();
    assert!(is_auto(&name), "{name:?}");
    let (client, server) = reactor
        .run_until(async {
            let c = UnixStream::connect_addr(&h, SockAddr::from(&name))
                .await
                .unwrap();
            (c, listener.accept().await.unwrap())
        })
        .unwrap();
    assert_eq!(
        client.peer_addr().unwrap().as_abstract_name(),
        name.as_abstract_name()
    );
    let (r, _) = reactor
        .run_until(client.write_all(b"auto".to_vec()))
        .unwrap();
    r.unwrap();
    let (r, buf) = reactor.run_until(server.read(vec![0u8; 8])).unwrap();
    assert_kernel_bytes(&buf[..r.unwrap()], b"auto", "over the kernel's name");

    let d = UnixDatagram::bind_addr(&h, &addr).unwrap();
    let dname = d.local_addr().unwrap();
    assert!(is_auto(&dname), "{dname:?}");
    assert_ne!(dname.as_abstract_name(), name.as_abstract_name());
    let u = UnixDatagram::unbound(&h).unwrap();
    let (r, _) = reactor
        .run_until(u.send_to_addr(b"dgram".to_vec(), SockAddr::from(&dname)))
        .unwrap();
    assert_eq!(r.unwrap(), 5);
    let (r, buf, from) = reactor.run_until(d.recv_from(vec![0u8; 8])).unwrap();
    assert_kernel_bytes(
        &buf[..r.unwrap()],
        b"dgram",
        "a datagram to the kernel's name",
    );
    // The sender had no name, and sending gave it none.
    assert!(from.unwrap().is_unnamed());

    let (r, buf) = reactor
        .run_until(u.send_to_addr(b"nobody".to_vec(), addr))
        .unwrap();
    assert_eq!(errno(&r), Some(libc::EINVAL), "{r:?}");
    assert_eq!(buf, b"nobody");
    let c = reactor
        .run_until(UnixStream::connect_addr(&h, addr))
        .unwrap();
    assert_eq!(errno(&c), Some(libc::EINVAL), "{c:?}");
    assert_eq!(errno(&u.connect_addr(&addr)), Some(libc::EINVAL));
    assert_eq!(reactor.in_flight(), 0);
}
