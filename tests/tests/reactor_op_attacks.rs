//! The reactor's owned-buffer ops (`uring::reactor::ops`) and `uring::net`
//! driven from safe code only, at the edges of what they accept:
//!
//! - receives with `MSG_*` flags under which the kernel reports more bytes
//!   than it wrote (`MSG_TRUNC` on stream and datagram sockets): a buffer
//!   must never claim bytes the kernel did not write;
//! - `Vec` buffers with spare capacity, slices at the extremes and slices
//!   of slices, and which buffer types may be received into at all;
//! - the addresses a receive-from writes back (dual-stack sockets, Unix
//!   datagram sockets with the longest paths), sends to the other family;
//! - zero-copy sends that fail or are cut by a deadline (one completion to
//!   the program, the buffer back once);
//! - deadlines on an SQPOLL ring (the link timeout's timespec is read when
//!   the SQ thread consumes the SQE, and must be the one set);
//! - bad values: shutdown modes, offsets near `u64::MAX`, extreme timeouts,
//!   connects to unusable addresses, every `MSG_*` flag on a send: errors,
//!   never panics, never a lost or duplicated completion.

use std::cell::{Cell, RefCell};
use std::future::Future as _;
use std::io::{Read as _, Write as _};
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::rc::Rc;
use std::time::{Duration, Instant};

use uring::net::{TcpStream, UdpSocket};
use uring::reactor::ops::{
    Connect, PollMulti, Read, Recv, RecvFrom, Send, SendTo, SendZc, Shutdown, Timeout, Write,
};
use uring::reactor::{IoBuf, IoBufMut, Reactor, SharedFd, Slice};
use uring::{MsgFlags, PollEvents, Ring};

use uring_tests::{require_sqpoll, skip};

const CANARY: u8 = 0xA5;

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A connected TCP pair: the reactor's end as a `SharedFd`, the peer as a
/// std stream.
fn tcp_pair() -> (SharedFd, std::net::TcpStream) {
    let (c, peer) = uring_tests::tcp_pair();
    (SharedFd::new(c), peer)
}

/// An empty vector whose spare capacity holds `CANARY` bytes: bytes a
/// buffer claims without the kernel having written them show up as such.
fn stale_vec(cap: usize) -> Vec<u8> {
    let mut v = vec![CANARY; cap];
    v.clear();
    v
}

/// Waits until `fd` has at least `n` bytes to read (so that a receive
/// sees them all at once).
fn wait_readable(fd: &SharedFd, n: usize) {
    let start = Instant::now();
    loop {
        let mut avail: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int to `avail`.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut avail) };
        assert_eq!(rc, 0);
        if avail as usize >= n {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "no data came");
        std::thread::sleep(Duration::from_millis(1));
    }
}

// ---------------------------------------------------------------------------
// Bytes the kernel reports but did not write
// ---------------------------------------------------------------------------

/// On a TCP socket, `MSG_TRUNC` makes the kernel discard the bytes and
/// return their count without writing the buffer. The buffer that comes
/// back must not claim them: its bytes are ones the kernel wrote (or the
/// receive is refused), never the vector's uninitialised spare capacity.
#[test]
fn a_truncating_receive_on_a_stream_socket_claims_no_bytes_it_did_not_get() {
    let reactor = Reactor::new().unwrap();
    for flags in [
        MsgFlags::TRUNC,
        MsgFlags::TRUNC | MsgFlags::PEEK,
        MsgFlags::TRUNC | MsgFlags::DONTWAIT,
    ] {
        let (fd, mut peer) = tcp_pair();
        peer.write_all(b"hello").unwrap();
        wait_readable(&fd, 5);
        let (r, buf) = reactor
            .run_until(reactor.op(Recv::new(&fd, stale_vec(64)).flags(flags)))
            .unwrap();
        let n = r.as_ref().map(|&n| n as usize).unwrap_or(0);
        assert!(
            !buf.contains(&CANARY),
            "{flags:?}: result {r:?}, and the buffer claims {} bytes the kernel \
             never wrote: {:02x?}",
            buf.len(),
            &buf[..buf.len().min(16)]
        );
        assert!(
            buf.len() <= n,
            "{flags:?}: {} bytes for a result {r:?}",
            buf.len()
        );
        assert_eq!(&buf[..], &b"hello"[..buf.len()], "{flags:?}");
    }
}

/// The same with urgent data: `MSG_OOB | MSG_TRUNC` counts the urgent
/// byte without writing it.
#[test]
fn a_truncating_urgent_receive_claims_no_byte_it_did_not_get() {
    let reactor = Reactor::new().unwrap();
    let (fd, peer) = tcp_pair();
    // SAFETY: send(2) of one byte from a live buffer.
    let sent = unsafe { libc::send(peer.as_raw_fd(), b"!".as_ptr().cast(), 1, libc::MSG_OOB) };
    assert_eq!(sent, 1);
    std::thread::sleep(Duration::from_millis(20));
    let (r, buf) = reactor
        .run_until(reactor.op(Recv::new(&fd, stale_vec(8)).flags(MsgFlags::OOB | MsgFlags::TRUNC)))
        .unwrap();
    assert!(
        !buf.contains(&CANARY),
        "result {r:?}: the buffer claims bytes the kernel never wrote: {buf:02x?}"
    );
}

/// On a datagram socket, `MSG_TRUNC` would report the datagram's real
/// length, longer than the buffer (the flag may also be dropped, then the
/// count is what fit): either way the buffer comes back with only what
/// fit.
#[test]
fn a_truncating_receive_on_a_datagram_socket_keeps_only_what_fit() {
    let reactor = Reactor::new().unwrap();
    let (a, b) = UnixDatagram::pair().unwrap();
    let fd = SharedFd::new(a);
    let datagram: Vec<u8> = (0..100u8).collect();
    b.send(&datagram).unwrap();
    let (r, buf) = reactor
        .run_until(reactor.op(Recv::new(&fd, stale_vec(16)).flags(MsgFlags::TRUNC)))
        .unwrap();
    assert!(matches!(r, Ok(16 | 100)), "{r:?}");
    assert_eq!(buf, &datagram[..16]);

    let u = std::net::UdpSocket::bind(localhost()).unwrap();
    let to = u.local_addr().unwrap();
    let fd = SharedFd::new(u);
    let s = std::net::UdpSocket::bind(localhost()).unwrap();
    s.send_to(&datagram, to).unwrap();
    let (r, buf) = reactor
        .run_until(reactor.op(Recv::new(&fd, stale_vec(10)).flags(MsgFlags::TRUNC)))
        .unwrap();
    assert!(matches!(r, Ok(10 | 100)), "{r:?}");
    assert_eq!(buf, &datagram[..10]);
}

/// A receive fills a vector from its first byte and grows its length only
/// to what the kernel wrote: bytes past it, in the old length, stay.
#[test]
fn a_vector_with_spare_capacity_grows_only_by_what_was_written() {
    let reactor = Reactor::new().unwrap();
    let (fd, mut peer) = tcp_pair();
    let mut v = Vec::with_capacity(32);
    v.extend_from_slice(&[CANARY; 10]);
    peer.write_all(b"abc").unwrap();
    wait_readable(&fd, 3);
    let (r, v) = reactor.run_until(reactor.op(Recv::new(&fd, v))).unwrap();
    assert_eq!(r.unwrap(), 3);
    assert_eq!(v.len(), 10);
    assert_eq!(&v[..3], b"abc");
    assert_eq!(&v[3..], [CANARY; 7]);

    let twenty = [b'x'; 20];
    peer.write_all(&twenty).unwrap();
    wait_readable(&fd, 20);
    let (r, v) = reactor.run_until(reactor.op(Recv::new(&fd, v))).unwrap();
    assert_eq!(r.unwrap(), 20);
    assert_eq!(v, twenty);
    assert!(v.capacity() >= 32);

    // Peeking leaves the bytes for the next receive.
    peer.write_all(b"peek").unwrap();
    wait_readable(&fd, 4);
    let (r, v) = reactor
        .run_until(reactor.op(Recv::new(&fd, Vec::with_capacity(8)).flags(MsgFlags::PEEK)))
        .unwrap();
    assert_eq!((r.unwrap(), &v[..]), (4, &b"peek"[..]));
    let (r, v) = reactor
        .run_until(reactor.op(Recv::new(&fd, Vec::with_capacity(8))))
        .unwrap();
    assert_eq!((r.unwrap(), &v[..]), (4, &b"peek"[..]));
}

/// Reading from the error queue of a socket that has none fails with
/// `EAGAIN` and leaves the buffer as it was.
#[test]
fn an_empty_error_queue_is_eagain_and_writes_nothing() {
    let reactor = Reactor::new().unwrap();
    let (fd, _peer) = tcp_pair();
    let (r, buf) = reactor
        .run_until(
            reactor.op(Recv::new(&fd, stale_vec(8)).flags(MsgFlags::ERRQUEUE | MsgFlags::DONTWAIT)),
        )
        .unwrap();
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EAGAIN));
    assert!(buf.is_empty());
    assert_eq!(buf.capacity(), 8);
}

// ---------------------------------------------------------------------------
// Buffer types and slices
// ---------------------------------------------------------------------------

/// Tells, for a concrete type, whether it is an `IoBufMut` (a method of
/// `Probe<T>` when it is, one of `&Probe<T>` otherwise).
struct Probe<T>(PhantomData<T>);
trait Writable {
    fn writable(&self) -> bool {
        true
    }
}
impl<T: IoBufMut> Writable for Probe<T> {}
trait NotWritable {
    fn writable(&self) -> bool {
        false
    }
}
impl<T> NotWritable for &Probe<T> {}
macro_rules! receivable {
    ($t:ty) => {
        (&Probe::<$t>(PhantomData)).writable()
    };
}

/// Only buffers whose every byte may take any value, and whose bytes the
/// value owns, can be received into: not a `String` (its bytes must stay
/// UTF-8), not shared `'static` bytes, not a `Slice` (which only narrows
/// what a write sends).
#[test]
fn only_owned_byte_buffers_can_be_received_into() {
    assert!(receivable!(Vec<u8>));
    assert!(receivable!(Box<[u8]>));
    assert!(receivable!(uring::reactor::RingBuf));
    assert!(!receivable!(String));
    assert!(!receivable!(&'static [u8]));
    assert!(!receivable!(&'static str));
    assert!(!receivable!(Slice<Vec<u8>>));
    assert!(!receivable!(Slice<Box<[u8]>>));
}

/// Slices at the extremes, and slices of slices, send exactly the bytes
/// of their clamped range, and give the whole buffer back.
#[test]
// A reversed range is one of the extremes: it clamps to an empty slice.
#[allow(clippy::reversed_empty_ranges)]
fn slices_at_the_extremes_send_only_their_range() {
    use std::ops::Bound::{Excluded, Included, Unbounded};
    let reactor = Reactor::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    b.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let fd = SharedFd::new(a);
    let data = b"0123456789".to_vec();

    let cases: Vec<(Slice<Vec<u8>>, &[u8])> = vec![
        (data.clone().slice(usize::MAX..), b""),
        (data.clone().slice(..0), b""),
        (data.clone().slice(..=usize::MAX), b"0123456789"),
        (data.clone().slice((Excluded(usize::MAX), Unbounded)), b""),
        (data.clone().slice((Excluded(2), Included(4))), b"34"),
        (data.clone().slice(7..3), b""),
        (data.clone().slice(9..usize::MAX), b"9"),
    ];
    for (slice, want) in cases {
        let range = (slice.begin(), slice.end());
        assert!(
            slice.begin() <= slice.end() && slice.end() <= 10,
            "{range:?}"
        );
        let (r, back) = reactor
            .run_until(reactor.op(Send::new(&fd, slice)))
            .unwrap();
        assert_eq!(r.unwrap() as usize, want.len(), "{range:?}");
        let mut got = vec![0u8; want.len()];
        b.read_exact(&mut got).unwrap();
        assert_eq!(got, want, "{range:?}");
        assert_eq!(back.into_inner(), data);
    }

    // A slice of a slice of a slice, each clamped to the one it narrows.
    let s = data.clone().slice(2..9).slice(1..usize::MAX).slice(..=2);
    assert_eq!(s.as_bytes(), b"345");
    let (r, back) = reactor
        .run_until(reactor.op(Write::new(&fd, s, u64::MAX)))
        .unwrap();
    assert_eq!(r.unwrap(), 3);
    let mut got = [0u8; 3];
    b.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"345");
    assert_eq!(back.into_inner().into_inner().into_inner(), data);

    // A `String` and static bytes are sent as they are.
    let (r, s) = reactor
        .run_until(reactor.op(Send::new(&fd, String::from("héllo"))))
        .unwrap();
    assert_eq!(r.unwrap(), 6);
    assert_eq!(s, "héllo");
    let (r, _) = reactor
        .run_until(reactor.op(Send::new(&fd, &b"static"[..])))
        .unwrap();
    assert_eq!(r.unwrap(), 6);
    let mut got = [0u8; 12];
    b.read_exact(&mut got).unwrap();
    assert_eq!(&got, "héllostatic".as_bytes());
}

// ---------------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------------

/// A dual-stack IPv6 socket receives from an IPv4 sender with the mapped
/// address; an IPv4 socket refuses to send to an IPv6 address; an IPv6
/// socket sends to an IPv4 one (mapped) or refuses, never a panic.
#[test]
fn receive_from_and_send_to_across_address_families() {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let v6 = match UdpSocket::bind(&h, "[::]:0".parse().unwrap()) {
        Ok(s) => s,
        Err(e) => return skip(format_args!("no IPv6: {e}")),
    };
    let port = v6.local_addr().unwrap().port();
    let v4 = UdpSocket::bind(&h, localhost()).unwrap();
    let (r, _) = reactor
        .run_until(v4.send_to(b"four".to_vec(), SocketAddr::from(([127, 0, 0, 1], port))))
        .unwrap();
    assert_eq!(r.unwrap(), 4);
    let (r, buf) = reactor.run_until(v6.recv_from(stale_vec(32))).unwrap();
    let (n, from) = r.unwrap();
    assert_eq!(&buf[..n], b"four");
    assert_eq!(buf.len(), n);
    match from {
        SocketAddr::V6(a) => {
            assert_eq!(a.ip().to_ipv4_mapped(), Some([127, 0, 0, 1].into()));
            assert_eq!(a.port(), v4.local_addr().unwrap().port());
        }
        SocketAddr::V4(a) => panic!("an IPv6 socket reported {a}"),
    }

    // IPv4 socket to an IPv6 address: an error.
    let (r, buf) = reactor
        .run_until(v4.send_to(
            b"x".to_vec(),
            SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, 1], port)),
        ))
        .unwrap();
    assert!(r.is_err(), "{r:?}");
    assert_eq!(buf, b"x");
    // IPv6 socket to an IPv4 address: sent (mapped) or refused.
    let back = v4.local_addr().unwrap();
    let (r, _) = reactor
        .run_until(v6.send_to(b"six".to_vec(), back))
        .unwrap();
    if r.is_ok() {
        let (r, buf) = reactor.run_until(v4.recv_from(vec![0u8; 8])).unwrap();
        let (n, from) = r.unwrap();
        assert_eq!(&buf[..n], b"six");
        assert_eq!(from.port(), port);
    }
    assert_eq!(reactor.in_flight(), 0);
}

/// A receive-from on a Unix datagram socket whose peer is bound to the
/// longest path (or an abstract name) takes the address into the op's own
/// storage: the bytes arrive, no IP address is made up, and many such
/// receives in flight at once, each completing, leave the reactor sound.
#[test]
fn receives_from_unix_peers_with_the_longest_addresses() {
    let reactor = Reactor::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // sun_path holds 108 bytes, the last a NUL for a path.
    let base = dir.path().as_os_str().len() + 1;
    let name = "p".repeat(107usize.saturating_sub(base).max(1));
    let path = dir.path().join(name);
    let receiver = UnixDatagram::bind(dir.path().join("r")).unwrap();
    let to = receiver.local_addr().unwrap();
    let senders = {
        let mut v = Vec::new();
        if let Ok(s) = UnixDatagram::bind(&path) {
            v.push(s);
        }
        {
            use std::os::linux::net::SocketAddrExt;
            let abs = std::os::unix::net::SocketAddr::from_abstract_name([b'a'; 107]).unwrap();
            v.push(UnixDatagram::bind_addr(&abs).unwrap());
        }
        v.push(UnixDatagram::unbound().unwrap());
        v
    };
    let fd = SharedFd::new(receiver);
    let got = Rc::new(RefCell::new(Vec::new()));
    for i in 0..64u8 {
        let g = got.clone();
        reactor
            .queue(RecvFrom::new(&fd, stale_vec(16)), move |r, (buf, from)| {
                g.borrow_mut().push((r.map(|n| n as usize), buf, from));
            })
            .unwrap();
        if i == 0 {
            reactor.submit().unwrap();
        }
    }
    reactor.submit().unwrap();
    for i in 0..64u8 {
        let s = &senders[i as usize % senders.len()];
        s.send_to_addr(&[i; 5], &to).unwrap();
    }
    reactor.run().unwrap();
    let got = got.borrow();
    assert_eq!(got.len(), 64, "one completion per receive");
    let mut seen = Vec::new();
    for (r, buf, from) in got.iter() {
        let n = *r.as_ref().unwrap();
        assert_eq!(n, 5);
        assert_eq!(buf.len(), 5);
        assert!(buf.iter().all(|&b| b == buf[0]), "{buf:?}");
        assert!(from.is_none(), "a Unix peer decoded as {from:?}");
        seen.push(buf[0]);
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..64).collect::<Vec<u8>>());
}

/// Connects to addresses that cannot work fail with an error (or, for
/// the unspecified address, connect to this host), never a panic, and
/// leave nothing in flight.
#[test]
fn connects_to_unusable_addresses_fail_with_errors() {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let addrs = [
        "127.0.0.1:0",
        "0.0.0.0:1",
        "255.255.255.255:80",
        "224.0.0.1:80",
        "[::1]:0",
        "[ff02::1]:80",
        "[fe80::1%4000000000]:80",
        "[::ffff:127.0.0.1]:1",
    ];
    for addr in addrs {
        let addr: SocketAddr = addr.parse().unwrap();
        let start = Instant::now();
        let r = reactor
            .run_until(async {
                let mut timeout = std::pin::pin!(h.op(Timeout::new(Duration::from_secs(3))));
                let mut connect = std::pin::pin!(TcpStream::connect(&h, addr));
                std::future::poll_fn(|cx| {
                    if let std::task::Poll::Ready(r) = connect.as_mut().poll(cx) {
                        return std::task::Poll::Ready(Some(r));
                    }
                    timeout.as_mut().poll(cx).map(|_| None)
                })
                .await
            })
            .unwrap();
        match r {
            Some(Ok(_)) => {}
            Some(Err(e)) => assert!(e.raw_os_error().is_some(), "{addr}: {e}"),
            None => {} // still trying after 3 s (a filtered network): dropped.
        }
        assert!(start.elapsed() < Duration::from_secs(10));
    }
    let (_, ()) = reactor
        .run_until(reactor.op(Timeout::new(Duration::from_millis(10))))
        .unwrap();
    assert_eq!(reactor.in_flight(), 0);

    // The raw op on something that is not a socket.
    let file = SharedFd::new(tempfile::tempfile().unwrap());
    let (r, ()) = reactor
        .run_until(reactor.op(Connect::new(&file, "127.0.0.1:9".parse().unwrap())))
        .unwrap();
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ENOTSOCK));
}

// ---------------------------------------------------------------------------
// Zero-copy sends
// ---------------------------------------------------------------------------

/// A zero-copy send on a socket that has no zero-copy (a Unix socket)
/// fails, completes once, and gives its buffer back.
#[test]
fn a_zero_copy_send_that_fails_completes_once() {
    let reactor = Reactor::new().unwrap();
    let (a, _b) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(a);
    let calls = Rc::new(RefCell::new(Vec::new()));
    for _ in 0..8 {
        let c = calls.clone();
        reactor
            .queue(SendZc::new(&fd, vec![CANARY; 64]), move |r, buf| {
                c.borrow_mut().push((r.map_err(|e| e.raw_os_error()), buf));
            })
            .unwrap();
    }
    reactor.run().unwrap();
    let calls = calls.borrow();
    assert_eq!(calls.len(), 8);
    for (r, buf) in calls.iter() {
        assert!(r.is_err(), "{r:?}");
        assert_eq!(buf, &[CANARY; 64]);
    }
    assert_eq!(reactor.in_flight(), 0);
}

/// A zero-copy send that blocks on a full socket and is cut by its
/// deadline completes once, after its notification; its buffer comes back
/// whole, and so do those of sends whose futures are dropped meanwhile.
#[test]
fn a_zero_copy_send_cut_by_its_deadline_completes_once() {
    let reactor = Reactor::new().unwrap();
    let (fd, peer) = tcp_pair();
    // Fill the socket's send buffer (and the peer's receive buffer).
    uring_tests::set_int_option(&fd, libc::SOL_SOCKET, libc::SO_SNDBUF, 4096).expect("SO_SNDBUF");
    let chunk = vec![1u8; 1 << 16];
    loop {
        // SAFETY: send(2) from a live buffer.
        let n = unsafe {
            libc::send(
                fd.as_raw_fd(),
                chunk.as_ptr().cast(),
                chunk.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            break;
        }
    }
    let calls = Rc::new(RefCell::new(Vec::new()));
    let start = Instant::now();
    for i in 0..4u8 {
        let c = calls.clone();
        reactor
            .queue_with_deadline(
                SendZc::new(&fd, vec![i; 1 << 16]),
                start + Duration::from_millis(50 + 10 * u64::from(i)),
                move |r, buf| {
                    c.borrow_mut()
                        .push((i, r.map_err(|e| e.raw_os_error()), buf))
                },
            )
            .unwrap();
    }
    // Futures dropped while blocked: the reactor keeps their buffers.
    for i in 4..8u8 {
        let mut f = reactor.op(SendZc::new(&fd, vec![i; 1 << 16]));
        let _ = std::pin::Pin::new(&mut f)
            .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()));
        reactor.submit().unwrap();
        drop(f);
    }
    // Once the deadlines have passed, the peer reads what was sent (the
    // kernel notifies a zero-copy send only once the bytes it sent from the
    // buffer have left the socket).
    let mut peer = peer;
    peer.set_nonblocking(true).unwrap();
    let mut sink = vec![0u8; 1 << 16];
    let mut rounds = 0;
    while reactor.in_flight() > 0 {
        let (_, ()) = reactor
            .run_until(reactor.op(Timeout::new(Duration::from_millis(20))))
            .unwrap();
        if start.elapsed() > Duration::from_millis(200) {
            while matches!(peer.read(&mut sink), Ok(n) if n > 0) {}
        }
        rounds += 1;
        assert!(rounds < 1000, "sends in flight: {}", reactor.in_flight());
    }
    let calls = calls.borrow();
    if let [(_, Err(Some(libc::EINVAL | libc::EOPNOTSUPP)), _), ..] = calls[..] {
        return skip("zero-copy sends are not supported here");
    }
    assert_eq!(calls.len(), 4, "one completion per send");
    for (i, r, buf) in calls.iter() {
        assert!(
            matches!(r, Err(Some(libc::ECANCELED | libc::EINTR)) | Ok(_)),
            "{i}: {r:?}"
        );
        assert!(buf.len() == 1 << 16 && buf.iter().all(|b| b == i), "{i}");
    }
    assert_eq!(reactor.in_flight(), 0);
    drop(peer);
}

// ---------------------------------------------------------------------------
// Deadlines on an SQPOLL ring
// ---------------------------------------------------------------------------

/// On an SQPOLL ring the SQ thread reads each link timeout's timespec when
/// it consumes the SQE, in its own time: every op still times out at its
/// own deadline, not at one pushed later into the same SQ slot.
#[test]
fn deadlines_on_an_sqpoll_ring_are_each_op_s_own() {
    if !require_sqpoll() {
        return;
    }
    let ring = match Ring::builder().sqpoll(Duration::from_millis(1)).build(4) {
        Ok(r) => r,
        Err(e) => return skip(format_args!("an SQPOLL ring: {e}")),
    };
    let reactor = Reactor::from_ring(ring).unwrap();
    let mut peers = Vec::new();
    let got = Rc::new(RefCell::new(Vec::new()));
    let start = Instant::now();
    // Alternating long and short deadlines, more than the SQ holds: SQ
    // slots (and their ring-owned timespecs) are reused many times.
    for i in 0..64u64 {
        let (a, b) = UnixStream::pair().unwrap();
        peers.push(b);
        let fd = SharedFd::new(a);
        let after = if i % 2 == 0 {
            Duration::from_millis(400)
        } else {
            Duration::from_millis(5)
        };
        let g = got.clone();
        reactor
            .queue_with_deadline(
                Recv::new(&fd, stale_vec(8)),
                start + after,
                move |r, buf| {
                    g.borrow_mut().push((
                        i,
                        after,
                        start.elapsed(),
                        r.map_err(|e| e.raw_os_error()),
                        buf,
                    ));
                },
            )
            .unwrap();
    }
    reactor.run().unwrap();
    let got = got.borrow();
    assert_eq!(got.len(), 64);
    for (i, after, elapsed, r, buf) in got.iter() {
        assert_eq!(*r, Err(Some(libc::ECANCELED)), "{i}");
        assert!(
            elapsed >= after,
            "op {i}: deadline {after:?}, ended at {elapsed:?}"
        );
        assert!(buf.is_empty());
    }
    // Plain timeouts too.
    let (r, ()) = reactor
        .run_until(reactor.op(Timeout::new(Duration::from_millis(30))))
        .unwrap();
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ETIME));
}

/// An op with a deadline on a ring of two SQ entries, one of them taken by
/// an op not yet submitted: the pair is pushed whole after a submit, and
/// every op completes once.
#[test]
fn a_deadline_on_a_nearly_full_ring_of_two_entries() {
    let ring = Ring::new(2).unwrap();
    let reactor = Reactor::from_ring(ring).unwrap();
    let (fd, _peer) = tcp_pair();
    let count = Rc::new(Cell::new(0));
    let c = count.clone();
    reactor
        .queue(Timeout::new(Duration::from_millis(1)), move |_, ()| {
            c.set(c.get() + 1)
        })
        .unwrap();
    let got = Rc::new(RefCell::new(None));
    let g = got.clone();
    let r = reactor.queue_with_deadline(
        Recv::new(&fd, stale_vec(8)),
        Instant::now() + Duration::from_millis(20),
        move |r, buf| *g.borrow_mut() = Some((r.map_err(|e| e.raw_os_error()), buf)),
    );
    if let Err(e) = r {
        // Refused: then nothing of it reached the kernel.
        assert!(e.raw_os_error().is_none(), "{e}");
    }
    reactor.run().unwrap();
    assert_eq!(count.get(), 1);
    if let Some((r, buf)) = got.borrow_mut().take() {
        assert_eq!(r, Err(Some(libc::ECANCELED)));
        assert!(buf.is_empty());
    }
    assert_eq!(reactor.in_flight(), 0);
}

// ---------------------------------------------------------------------------
// Bad values
// ---------------------------------------------------------------------------

/// `shutdown(2)` modes that do not exist are `EINVAL`.
#[test]
fn shutdown_with_a_bad_mode_is_einval() {
    let reactor = Reactor::new().unwrap();
    let (fd, _peer) = tcp_pair();
    for how in [-1, 3, 17, i32::MIN, i32::MAX] {
        let (r, ()) = reactor
            .run_until(reactor.op(Shutdown::new(&fd, how)))
            .unwrap();
        assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EINVAL), "{how}");
    }
    let (r, ()) = reactor
        .run_until(reactor.op(Shutdown::new(&fd, libc::SHUT_RDWR)))
        .unwrap();
    r.unwrap();
}

/// Reads and writes at offsets past what a file position can be fail with
/// an error and leave the buffer as it was.
#[test]
fn offsets_near_u64_max_are_errors() {
    let reactor = Reactor::new().unwrap();
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(b"0123456789").unwrap();
    let fd = SharedFd::new(file);
    for offset in [u64::MAX - 1, i64::MAX as u64 + 1, 1 << 63 | 5] {
        let (r, buf) = reactor
            .run_until(reactor.op(Read::new(&fd, vec![CANARY; 4], offset)))
            .unwrap();
        assert!(r.is_err(), "read at {offset:#x}: {r:?}");
        assert_eq!(buf, [CANARY; 4]);
        let (r, buf) = reactor
            .run_until(reactor.op(Write::new(&fd, b"xy".to_vec(), offset)))
            .unwrap();
        assert!(r.is_err(), "write at {offset:#x}: {r:?}");
        assert_eq!(buf, b"xy");
    }
    // The largest offset there is: EOF (read) or EFBIG / EINVAL (write).
    let (r, buf) = reactor
        .run_until(reactor.op(Read::new(&fd, stale_vec(4), i64::MAX as u64)))
        .unwrap();
    assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
    assert!(buf.is_empty());
    let (r, _) = reactor
        .run_until(reactor.op(Write::new(&fd, b"xy".to_vec(), i64::MAX as u64)))
        .unwrap();
    assert!(r.is_err(), "{r:?}");
    // An ordinary offset still reads.
    let (r, buf) = reactor
        .run_until(reactor.op(Read::new(&fd, stale_vec(4), 3)))
        .unwrap();
    assert_eq!((r.unwrap(), &buf[..]), (4, &b"3456"[..]));
}

/// Timeouts of zero and of the longest duration: the first fires at once,
/// the second waits until cancelled; neither panics.
#[test]
fn timeouts_at_the_extremes() {
    let reactor = Reactor::new().unwrap();
    let (r, ()) = reactor
        .run_until(reactor.op(Timeout::new(Duration::ZERO)))
        .unwrap();
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ETIME));
    let got = Rc::new(Cell::new(None));
    let g = got.clone();
    let id = reactor
        .queue(Timeout::new(Duration::MAX), move |r, ()| {
            g.set(Some(r.map_err(|e| e.raw_os_error())))
        })
        .unwrap();
    let (r, ()) = reactor
        .run_until(reactor.op(Timeout::new(Duration::from_millis(5))))
        .unwrap();
    assert!(r.is_err());
    assert_eq!(got.get(), None);
    assert!(reactor.cancel(id).unwrap());
    reactor.run().unwrap();
    assert_eq!(got.get(), Some(Err(Some(libc::ECANCELED))));
    // A deadline of `Duration::MAX` after now on an op that ends first.
    let far = Instant::now().checked_add(Duration::from_secs(u64::MAX / 4));
    if let Some(far) = far {
        let (r, ()) = reactor
            .run_until(reactor.op_with_deadline(Timeout::new(Duration::from_millis(1)), far))
            .unwrap();
        assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ETIME));
    }
}

/// A multishot poll with `EPOLLEXCLUSIVE`, and one on a regular file
/// (always ready, nothing to wait on): each gives items and ends with one
/// last item, once, when cancelled or when the kernel ends it.
#[test]
fn multishot_polls_with_odd_events_end_once() {
    let reactor = Reactor::new().unwrap();
    // SAFETY: eventfd(2) with valid flags; the result is checked.
    let efd = unsafe { libc::eventfd(1, libc::EFD_CLOEXEC) };
    assert!(efd >= 0);
    // SAFETY: a new descriptor that nothing else owns.
    let efd = SharedFd::new(unsafe {
        <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(efd)
    });
    let file = SharedFd::new(tempfile::tempfile().unwrap());
    for (fd, events) in [
        (&efd, PollEvents::IN | PollEvents::EXCLUSIVE),
        (&file, PollEvents::IN | PollEvents::OUT),
        (&efd, PollEvents::empty()),
    ] {
        let items = Rc::new(RefCell::new(Vec::new()));
        let it = items.clone();
        let id = reactor
            .queue_multishot(PollMulti::new(fd, events), move |item| {
                it.borrow_mut().push(item.map_err(|e| e.raw_os_error()))
            })
            .unwrap();
        let (_, ()) = reactor
            .run_until(reactor.op(Timeout::new(Duration::from_millis(10))))
            .unwrap();
        let _ = reactor.cancel(id);
        reactor.run().unwrap();
        assert_eq!(reactor.in_flight(), 0, "{events:?}");
        let items = items.borrow();
        assert!(!items.is_empty(), "{events:?}: a last item");
        assert!(items.len() < 10_000, "{events:?}: {} items", items.len());
    }
}

/// Sends with every `MSG_*` flag, or none (no `MSG_NOSIGNAL`), to a closed
/// peer: errors (`EPIPE`, `ECONNRESET`, ...), no signal kills the process.
#[test]
fn sends_with_any_flags_to_a_closed_peer_are_errors() {
    let reactor = Reactor::new().unwrap();
    let (fd, peer) = tcp_pair();
    drop(peer);
    std::thread::sleep(Duration::from_millis(20));
    let mut errors = 0;
    for flags in [
        MsgFlags::empty(),
        MsgFlags::all(),
        MsgFlags::OOB,
        MsgFlags::EOR,
    ] {
        for _ in 0..3 {
            let (r, buf) = reactor
                .run_until(reactor.op(Send::new(&fd, b"data".to_vec()).flags(flags)))
                .unwrap();
            assert_eq!(buf, b"data");
            if r.is_err() {
                errors += 1;
            }
        }
    }
    assert!(errors > 0);
    // And on a datagram socket, to an address of the other family.
    let u = SharedFd::new(std::net::UdpSocket::bind(localhost()).unwrap());
    let (r, buf) = reactor
        .run_until(reactor.op(SendTo::new(&u, vec![1u8; 3], "[::1]:9".parse().unwrap())))
        .unwrap();
    assert!(r.is_err());
    assert_eq!(buf, [1, 1, 1]);
}

/// A receive-from with a read deadline that passes gives the buffer back
/// unwritten and no address; the datagram goes to the next receive.
#[test]
fn a_receive_from_cut_by_its_deadline_writes_nothing() {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let mut s = UdpSocket::bind(&h, localhost()).unwrap();
    s.set_read_deadline(Some(Instant::now() + Duration::from_millis(20)));
    let (r, buf) = reactor.run_until(s.recv_from(stale_vec(16))).unwrap();
    assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    assert!(buf.is_empty());
    s.set_read_deadline(None);
    let other = std::net::UdpSocket::bind(localhost()).unwrap();
    other.send_to(b"late", s.local_addr().unwrap()).unwrap();
    let (r, buf) = reactor.run_until(s.recv_from(stale_vec(16))).unwrap();
    let (n, from) = r.unwrap();
    assert_eq!((&buf[..], n), (&b"late"[..], 4));
    assert_eq!(from, other.local_addr().unwrap());
}
