//! Sockets through the ring on loopback: TCP accept, connect, send and
//! receive (IPv4 and IPv6), connected UDP, cancelling a pending accept,
//! link timeouts, and receives into provided buffers.
//!
//! Every listener binds port 0 and reads back the port the kernel chose.

use std::net::{TcpListener, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;
use uring_tests::push_lent;

use uring::ops::{Accept, Cancel, Close, Connect, ProvideBuffers, Recv, Send};
use uring::{BufferGroup, BufferPool, Cqe, Ring, SockAddr, SockAddrBuf};
use uring_tests::{by_user_data, local_addr, pattern, require_op, skip, socket, submit_and_reap};

const ACCEPT: u64 = 1;
const CONNECT: u64 = 2;

/// Accept and connect through the ring; returns the accepted descriptor and
/// checks the peer address the accept reported.
fn accept_and_connect(ring: &mut Ring, listener: &TcpListener, client: &OwnedFd) -> OwnedFd {
    let server_addr = listener.local_addr().unwrap();
    let target = SockAddr::from(server_addr);
    assert_eq!(target.as_socket_addr(), Some(server_addr));
    let mut peer = SockAddrBuf::new();
    // SAFETY: `peer` and `target` outlive both ops, whose completions are
    // reaped before either is used again.
    unsafe {
        ring.push_unchecked(
            Accept::new(listener)
                .peer(Some(&mut peer))
                .accept_flags(libc::SOCK_CLOEXEC)
                .user_data(ACCEPT),
        )
        .unwrap();
        ring.push_unchecked(Connect::new(client, &target).user_data(CONNECT))
            .unwrap();
    }
    let cqes = submit_and_reap(ring, 2);
    let by = by_user_data(&cqes);
    assert_eq!(by[&CONNECT].res(), 0, "connect: {:?}", by[&CONNECT]);
    let accepted = by[&ACCEPT]
        .result()
        .unwrap_or_else(|e| panic!("accept: {e}"));
    // SAFETY: the accept's result is a new descriptor that nothing else owns.
    let accepted = unsafe { OwnedFd::from_raw_fd(accepted as i32) };
    let client_addr = local_addr(client.as_fd()).unwrap();
    assert_eq!(peer.socket_addr(), Some(client_addr), "the peer address");
    assert_eq!(
        local_addr(accepted.as_fd()).unwrap(),
        server_addr,
        "the accepted socket's own address"
    );
    // accept_flags reached the kernel: the new descriptor is close-on-exec.
    // SAFETY: F_GETFD only reads the flags of a descriptor we own.
    let fd_flags = unsafe { libc::fcntl(accepted.as_raw_fd(), libc::F_GETFD) };
    assert_eq!(fd_flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
    accepted
}

/// Sends `data` on `from` and receives it on `to`, both through the ring.
fn send_and_recv(ring: &mut Ring, from: impl AsFd, to: impl AsFd, data: &[u8]) {
    let mut got = vec![0u8; data.len() + 16];
    // SAFETY: `data` and `got` outlive the ops, reaped before `got` is read.
    unsafe {
        ring.push_unchecked(Recv::new(to.as_fd(), &mut got[..]).user_data(11))
            .unwrap();
        ring.push_unchecked(Send::new(from.as_fd(), data).user_data(10))
            .unwrap();
    }
    let cqes = submit_and_reap(ring, 2);
    let by = by_user_data(&cqes);
    assert_eq!(
        by[&10].result().ok(),
        Some(data.len() as u32),
        "send: {:?}",
        by[&10]
    );
    let n = by[&11].result().unwrap_or_else(|e| panic!("recv: {e}")) as usize;
    assert_eq!(
        n,
        data.len(),
        "a loopback receive of a small message is whole"
    );
    assert_eq!(got[..n], data[..]);
}

fn tcp_round_trip(listen_on: &str, domain: i32) {
    let listener = match TcpListener::bind(listen_on) {
        Ok(l) => l,
        Err(e) => {
            skip(format_args!("cannot listen on {listen_on}: {e}"));
            return;
        }
    };
    let mut ring = Ring::new(8).unwrap();
    let client = socket(domain, libc::SOCK_STREAM).unwrap();
    let accepted = accept_and_connect(&mut ring, &listener, &client);

    let hello = pattern(200, 20);
    send_and_recv(&mut ring, &client, &accepted, &hello);
    let reply = pattern(77, 21);
    send_and_recv(&mut ring, &accepted, &client, &reply);

    // Close the accepted socket through the ring; the client then reads
    // end of stream.
    ring.push(Close::new(accepted).user_data(30)).unwrap();
    let cqe = submit_and_reap(&mut ring, 1)[0];
    assert_eq!(
        (cqe.user_data(), cqe.res()),
        (30, 0),
        "close of the accepted socket"
    );
    let mut buf = [0u8; 8];
    // SAFETY: `buf` is not touched until the completion is reaped.
    unsafe { ring.push_unchecked(Recv::new(&client, &mut buf[..]).user_data(31)) }.unwrap();
    let cqe = submit_and_reap(&mut ring, 1)[0];
    assert_eq!(
        cqe.result().ok(),
        Some(0),
        "end of stream after the close: {cqe:?}"
    );
}

#[test]
fn tcp_over_ipv4() {
    tcp_round_trip("127.0.0.1:0", libc::AF_INET);
}

#[test]
fn tcp_over_ipv6() {
    tcp_round_trip("[::1]:0", libc::AF_INET6);
}

/// Connected UDP sockets: a datagram sent through the ring arrives whole,
/// and a receive buffer shorter than the datagram truncates it.
#[test]
fn udp_datagrams_round_trip() {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    a.connect(b.local_addr().unwrap()).unwrap();
    b.connect(a.local_addr().unwrap()).unwrap();
    let mut ring = Ring::new(8).unwrap();
    send_and_recv(&mut ring, &a, &b, &pattern(512, 22));
    send_and_recv(&mut ring, &b, &a, &pattern(1, 23));

    let datagram = pattern(100, 24);
    let mut short = [0u8; 10];
    // SAFETY: the buffers outlive the ops, reaped below.
    unsafe {
        ring.push_unchecked(Send::new(&a, &datagram[..]).user_data(1))
            .unwrap();
        ring.push_unchecked(Recv::new(&b, &mut short[..]).user_data(2))
            .unwrap();
    }
    let by = by_user_data(&submit_and_reap(&mut ring, 2));
    assert_eq!(by[&1].result().ok(), Some(100));
    assert_eq!(by[&2].result().ok(), Some(10), "{:?}", by[&2]);
    assert_eq!(short[..], datagram[..10]);
}

/// Connect through the ring to a port nobody listens on fails with
/// ECONNREFUSED in the completion.
#[test]
fn connect_to_a_closed_port_is_refused() {
    // A socket bound to a port the kernel chose but not listening: the port
    // stays taken, and connecting to it is refused.
    let bound = socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
    let any = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: `any` is a `sockaddr_in` of the length passed.
    let rc = unsafe {
        libc::bind(
            bound.as_raw_fd(),
            (&any as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
    let addr = local_addr(bound.as_fd()).unwrap();
    let mut ring = Ring::new(4).unwrap();
    let client = socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
    let target = SockAddr::from(addr);
    // SAFETY: `target` outlives the op, reaped below.
    unsafe { ring.push_unchecked(Connect::new(&client, &target).user_data(1)) }.unwrap();
    let cqe = submit_and_reap(&mut ring, 1)[0];
    assert_eq!(cqe.res(), -libc::ECONNREFUSED, "{cqe:?}");
}

/// A pending accept is cancelled by its user_data: it completes with
/// ECANCELED, the cancel with 0 (or EALREADY if it was running). A cancel
/// of a user_data nothing uses finds nothing: ENOENT.
#[test]
fn cancel_a_pending_accept() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut ring = Ring::new(8).unwrap();
    push_lent!(ring, Accept::new(&listener).user_data(5)).unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    // Nobody connects: nothing completes.
    let idle = ring.wait_timeout(1, Duration::from_millis(20));
    assert!(
        matches!(idle, Err(uring::Error::TimedOut)),
        "{idle:?} {:?}",
        ring.peek()
    );

    ring.push(Cancel::new(5).user_data(6)).unwrap();
    let cqes = submit_and_reap(&mut ring, 2);
    let by = by_user_data(&cqes);
    assert_eq!(by[&5].res(), -libc::ECANCELED, "the accept: {cqes:?}");
    let cancel = by[&6].res();
    assert!(
        cancel == 0 || cancel == -libc::EALREADY,
        "the cancel: {cqes:?}"
    );

    ring.push(Cancel::new(0xfeed).user_data(7)).unwrap();
    let cqe = submit_and_reap(&mut ring, 1)[0];
    assert_eq!((cqe.user_data(), cqe.res()), (7, -libc::ENOENT));
    // The cancelled accept is gone: cancelling it again finds nothing.
    ring.push(Cancel::new(5).user_data(8)).unwrap();
    assert_eq!(submit_and_reap(&mut ring, 1)[0].res(), -libc::ENOENT);
}

/// An accept bounded by a link timeout is cancelled when the time runs out.
#[test]
fn a_link_timeout_cancels_an_accept() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut ring = Ring::new(8).unwrap();
    push_lent!(
        ring,
        Accept::new(&listener)
            .user_data(1)
            .timeout(Duration::from_millis(10)),
    )
    .unwrap();
    let cqes = submit_and_reap(&mut ring, 2);
    let by = by_user_data(&cqes);
    assert_eq!(by[&1].res(), -libc::ECANCELED, "{cqes:?}");
    assert_eq!(by[&0].res(), -libc::ETIME, "{cqes:?}");
}

/// A receive that selects a provided buffer: the bytes land in the buffer
/// the completion names.
#[test]
fn recv_selects_a_provided_buffer() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<ProvideBuffers<'static>>(&ring) {
        return;
    }
    let mut region = vec![0u8; 4 * 64];
    // SAFETY: `region` stays allocated and untouched until the receives
    // that may use it have completed (reaped below).
    unsafe {
        ring.push_unchecked(
            ProvideBuffers::new(BufferPool::new(&mut region, 64), BufferGroup::new(7))
                .start_id(0)
                .user_data(100),
        )
    }
    .unwrap();
    let cqe = submit_and_reap(&mut ring, 1)[0];
    assert_eq!(cqe.res(), 0, "ProvideBuffers: {cqe:?}");

    let (a, b) = UnixStream::pair().unwrap();
    let mut seen = Vec::new();
    for (i, len) in [(1u64, 40usize), (2, 64), (3, 5)] {
        let data = pattern(len, i as u8);
        push_lent!(
            ring,
            Recv::new(&b, BufferGroup::new(7).select(64)).user_data(i)
        )
        .unwrap();
        // SAFETY: `data` outlives the send, reaped below.
        unsafe { ring.push_unchecked(Send::new(&a, &data[..]).user_data(50 + i)) }.unwrap();
        let cqes = submit_and_reap(&mut ring, 2);
        let by = by_user_data(&cqes);
        let recv: Cqe = by[&i];
        assert_eq!(recv.result().ok(), Some(len as u32), "recv {i}: {recv:?}");
        let id = recv
            .buffer_id()
            .unwrap_or_else(|| panic!("recv {i} names no buffer"));
        assert!(id < 4, "buffer id {id}");
        assert!(!seen.contains(&id), "buffer {id} used twice");
        seen.push(id);
        let at = usize::from(id) * 64;
        assert_eq!(region[at..at + len], data[..], "recv {i} in buffer {id}");
    }
}
