//! What the ops' documentation claims, checked against what the kernel
//! does: the socket commands (`SocketInq`, `SocketOutq`, `GetSockOpt`,
//! `SetSockOpt`) on `AF_UNIX` sockets, whose `struct proto` has no `ioctl`
//! (the two byte counts are refused there, as their docs say;
//! the options are answered, `SO_PEERCRED` included); the `Socket` op's
//! documented mapping of types outside the four to `EINVAL` (where
//! `socket(2)` answers `ESOCKTNOSUPPORT`) and the flags it passes on; the
//! reactor's `Socket` (close-on-exec, its errnos), and its `Connect`,
//! `Shutdown`, `SendTo` and `RecvFrom`, whose docs do not say what they
//! complete with.
//!
//! Read against Linux 6.18: `io_uring/cmd_net.c` (`io_uring_cmd_sock`:
//! `SOCKET_URING_OP_SIOCINQ` / `SIOCOUTQ` answer `-EOPNOTSUPP` when
//! `sk->sk_prot->ioctl` is missing, as it is in `net/unix/af_unix.c`'s
//! `unix_stream_proto` and `unix_dgram_proto`; `ioctl(2)` goes through
//! `unix_ioctl` of the `proto_ops` instead), `io_uring/net.c`
//! (`io_socket_prep`, which refuses type bits beyond `SOCK_TYPE_MASK`
//! other than `SOCK_CLOEXEC | SOCK_NONBLOCK`; `io_socket`, `io_connect`,
//! `io_shutdown`, `io_sendmsg`, `io_recvmsg`), `net/socket.c`
//! (`__sock_create`: `ESOCKTNOSUPPORT` for `SOCK_RDM` on `AF_INET`), and
//! liburing's `io_uring_prep_cmd_sock.3` and `io_uring_prep_socket.3`.
//!
//! Every test is safe code against the running kernel and checks what the
//! kernel did: results, errnos, bytes written (canaries), descriptor
//! flags.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixStream};

use uring::ops::{GetSockOpt, SetSockOpt, Socket, SocketInq, SocketOutq};
use uring::reactor::ops as rops;
use uring::reactor::{Reactor, SharedFd};
use uring::{Ring, SockOpt};
use uring_tests::{PATIENCE, complete, require_op, skip};

/// `SOCK_PACKET` (10), the obsolete packet-socket type (libc deprecates
/// its constant).
const SOCK_PACKET: i32 = 10;

/// `O_CLOEXEC` and `O_NONBLOCK` as `/proc/self/fdinfo` prints them (octal
/// `flags:`; the kernel reports close-on-exec there as `O_CLOEXEC`).
fn fd_flags(fd: RawFd) -> u32 {
    let text = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .expect("a flags: line");
    u32::from_str_radix(line.trim(), 8).unwrap()
}

fn cloexec(fd: RawFd) -> bool {
    fd_flags(fd) & libc::O_CLOEXEC as u32 != 0
}

fn nonblocking(fd: RawFd) -> bool {
    fd_flags(fd) & libc::O_NONBLOCK as u32 != 0
}

/// Runs a `Socket` op in a scope: its result, and the descriptor it made,
/// owned (the scope's `take_fd`).
fn make_socket(ring: &mut Ring, op: Socket<'static>) -> (i32, Option<OwnedFd>) {
    ring.scope(|s| {
        assert!(s.push(op.user_data(7)).is_ok(), "the SQ has room");
        s.submit().unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let mut cqe = s.completions().next().expect("a completion");
        assert_eq!(cqe.user_data(), 7);
        let res = cqe.res();
        (res, cqe.take_fd())
    })
}

/// The socket commands on `AF_UNIX` sockets, stream and datagram, on
/// Linux 6.18: the two byte counts (`SocketInq`, `SocketOutq`) complete
/// with `-EOPNOTSUPP` (`io_uring_cmd_sock` asks `sk->sk_prot->ioctl`, and
/// Unix sockets have no `ioctl` in their `struct proto`; `ioctl(2)` goes
/// through `proto_ops` instead and answers), while the option commands
/// (`GetSockOpt`, `SetSockOpt`) are answered as `getsockopt(2)` and
/// `setsockopt(2)` answer. On a UDP socket the counts are answered. The
/// docs of `SocketInq` and `SocketOutq` do not say so (see the DEFECT test
/// below).
#[test]
fn unix_sockets_refuse_the_byte_counts_and_answer_the_options() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SocketInq<'static>>(&ring) {
        return;
    }
    let (sa, mut sb) = UnixStream::pair().unwrap();
    let (da, db) = UnixDatagram::pair().unwrap();
    sb.write_all(b"hello").unwrap();
    db.send(b"dgram").unwrap();
    sa.set_read_timeout(Some(PATIENCE)).unwrap();
    da.set_read_timeout(Some(PATIENCE)).unwrap();
    let c = complete(&mut ring, SocketInq::new(&sa));
    assert_eq!(c.res(), -libc::EOPNOTSUPP, "stream SIOCINQ: {c:?}");
    let c = complete(&mut ring, SocketInq::new(&da));
    assert_eq!(c.res(), -libc::EOPNOTSUPP, "dgram SIOCINQ: {c:?}");
    let c = complete(&mut ring, SocketOutq::new(&sa));
    assert_eq!(c.res(), -libc::EOPNOTSUPP, "stream SIOCOUTQ: {c:?}");
    let c = complete(&mut ring, SocketOutq::new(&da));
    assert_eq!(c.res(), -libc::EOPNOTSUPP, "dgram SIOCOUTQ: {c:?}");
    let mut value = [0xa5u8; 8];
    let c = complete(
        &mut ring,
        GetSockOpt::new(&sa, SockOpt::SO_TYPE, &mut value[..]),
    );
    assert_eq!(c.res(), 4, "stream SO_TYPE: {c:?}");
    assert_eq!(
        i32::from_ne_bytes(value[..4].try_into().unwrap()),
        libc::SOCK_STREAM
    );
    assert_eq!(value[4..], [0xa5; 4], "written past the option");
    let mut value = [0xa5u8; 8];
    let c = complete(
        &mut ring,
        GetSockOpt::new(&da, SockOpt::SO_TYPE, &mut value[..]),
    );
    assert_eq!(c.res(), 4, "dgram SO_TYPE: {c:?}");
    assert_eq!(
        i32::from_ne_bytes(value[..4].try_into().unwrap()),
        libc::SOCK_DGRAM
    );
    assert_eq!(value[4..], [0xa5; 4], "written past the option");
    let c = complete(
        &mut ring,
        SetSockOpt::new(&sa, SockOpt::SO_PASSCRED, &1i32.to_ne_bytes()[..]),
    );
    assert_eq!(c.res(), 0, "stream SO_PASSCRED: {c:?}");
    let mut value = [0u8; 4];
    let c = complete(
        &mut ring,
        GetSockOpt::new(&sa, SockOpt::SO_PASSCRED, &mut value[..]),
    );
    assert_eq!((c.res(), i32::from_ne_bytes(value)), (4, 1), "{c:?}");
    // The bytes are still there, unread by any command.
    let mut got = [0u8; 5];
    (&sa).read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hello");
    assert_eq!(da.recv(&mut got).unwrap(), 5);
    assert_eq!(&got, b"dgram");
    // The count on a UDP socket is answered: the next datagram's length.
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.send_to(b"seven!!", udp.local_addr().unwrap()).unwrap();
    let c = complete(&mut ring, SocketInq::new(&udp));
    assert_eq!(c.res(), 7, "udp SIOCINQ: {c:?}");
}

/// `GetSockOpt`'s doc lists `SO_PEERCRED` among the plain options; on a
/// connected Unix stream pair it reads this process's credentials, 12
/// bytes, as `getsockopt(2)` does (the claim holds on Linux 6.18).
#[test]
fn get_sock_opt_reads_so_peercred_of_a_unix_socket() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SocketInq<'static>>(&ring) {
        return;
    }
    let (a, _b) = UnixStream::pair().unwrap();
    let mut value = [0xa5u8; 16];
    let c = complete(
        &mut ring,
        GetSockOpt::new(&a, SockOpt::SO_PEERCRED, &mut value[..]),
    );
    assert_eq!(c.res(), 12, "as getsockopt(2) answers: {c:?}");
    let pid = i32::from_ne_bytes(value[..4].try_into().unwrap());
    assert_eq!(pid as u32, std::process::id());
    assert_eq!(value[12..], [0xa5; 4], "written past the option");
}

/// `SocketInq` and `SocketOutq` on a Unix stream socket with five bytes
/// waiting (which `ioctl(2)`'s `SIOCINQ` counts) complete with
/// `-EOPNOTSUPP`, as their docs say: the command goes to the protocol's
/// own `ioctl`, which `AF_UNIX` lacks. On a TCP connection they count.
#[test]
fn socket_inq_and_outq_fail_with_eopnotsupp_on_a_unix_socket_and_count_on_tcp() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SocketInq<'static>>(&ring) {
        return;
    }
    let (a, mut b) = UnixStream::pair().unwrap();
    b.write_all(b"hello").unwrap();
    let mut waiting: libc::c_int = -1;
    // SAFETY: FIONREAD writes one int into `waiting`.
    let rc = unsafe { libc::ioctl(a.as_raw_fd(), libc::FIONREAD, &mut waiting) };
    assert_eq!((rc, waiting), (0, 5), "ioctl(2) counts them");
    let c = complete(&mut ring, SocketInq::new(&a));
    assert_eq!(c.res(), -libc::EOPNOTSUPP, "{c:?}");
    let c = complete(&mut ring, SocketOutq::new(&b));
    assert_eq!(c.res(), -libc::EOPNOTSUPP, "{c:?}");
    let (tx, mut rx) = uring_tests::tcp_pair();
    let mut tx = tx;
    tx.write_all(b"hello").unwrap();
    // Once the bytes are there (one segment over loopback), they count.
    let mut peeked = [0u8; 5];
    assert_eq!(rx.peek(&mut peeked).unwrap(), 5);
    let c = complete(&mut ring, SocketInq::new(&rx));
    assert_eq!(c.res(), 5, "{c:?}");
    let mut got = [0u8; 5];
    rx.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hello");
    let c = complete(&mut ring, SocketOutq::new(&tx));
    assert!(c.res() >= 0, "{c:?}");
}

/// `Socket`'s doc: the type is `SOCK_STREAM`, `SOCK_DGRAM`,
/// `SOCK_SEQPACKET` or `SOCK_RAW` with `SOCK_CLOEXEC` / `SOCK_NONBLOCK`
/// or-ed in, "any other fails with `EINVAL`". So a type the kernel itself
/// would refuse otherwise (`SOCK_RDM` on `AF_INET`: `ESOCKTNOSUPPORT`,
/// `SOCK_PACKET`, a type with an unknown flag bit) completes `-EINVAL`,
/// makes no descriptor; the two flags reach the new descriptor, and
/// without `SOCK_CLOEXEC` it is not close-on-exec, as `socket(2)` makes it.
#[test]
fn socket_types_outside_the_four_fail_with_einval_and_flags_reach_the_descriptor() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Socket<'static>>(&ring) {
        return;
    }
    // What socket(2) says of SOCK_RDM on AF_INET, for contrast.
    let sys = uring_tests::socket(libc::AF_INET, libc::SOCK_RDM).unwrap_err();
    assert_eq!(sys.raw_os_error(), Some(libc::ESOCKTNOSUPPORT));
    for kind in [
        libc::SOCK_RDM,
        SOCK_PACKET,
        libc::SOCK_DCCP,
        libc::SOCK_STREAM | 0x4000,
        libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | 0x0100_0000,
        -1,
    ] {
        let (res, fd) = make_socket(&mut ring, Socket::new(libc::AF_INET, kind));
        assert_eq!(res, -libc::EINVAL, "type {kind:#x}");
        assert!(fd.is_none());
    }
    let (res, fd) = make_socket(
        &mut ring,
        Socket::new(
            libc::AF_INET,
            libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        ),
    );
    let fd = fd.unwrap_or_else(|| panic!("no descriptor: {res}"));
    assert_eq!(res, fd.as_raw_fd());
    assert!(cloexec(res) && nonblocking(res), "{:#o}", fd_flags(res));
    let (res, fd) = make_socket(&mut ring, Socket::new(libc::AF_UNIX, libc::SOCK_SEQPACKET));
    let fd = fd.unwrap_or_else(|| panic!("no descriptor: {res}"));
    assert!(
        !cloexec(fd.as_raw_fd()) && !nonblocking(fd.as_raw_fd()),
        "{:#o}",
        fd_flags(res)
    );
    // SOCK_RAW of AF_UNIX: the kernel makes a datagram socket.
    let (res, fd) = make_socket(&mut ring, Socket::new(libc::AF_UNIX, libc::SOCK_RAW));
    let fd = fd.unwrap_or_else(|| panic!("no descriptor: {res}"));
    let mut value = [0u8; 4];
    let c = complete(
        &mut ring,
        GetSockOpt::new(&UnixDatagram::from(fd), SockOpt::SO_TYPE, &mut value[..]),
    );
    assert_eq!(c.res(), 4, "{c:?}");
    assert_eq!(i32::from_ne_bytes(value), libc::SOCK_DGRAM);
}

/// The reactor's `Socket`: "like `socket(2)` with `SOCK_CLOEXEC`;
/// completes with its descriptor, owned in the output", and "another
/// domain fails with `EAFNOSUPPORT`, another type with `EINVAL`", with no
/// descriptor in the output.
#[test]
fn reactor_socket_is_close_on_exec_and_refuses_other_domains_and_types() {
    let _watch = uring_tests::watchdog();
    let ring = Ring::new(8).unwrap();
    if !require_op::<Socket<'static>>(&ring) {
        return;
    }
    drop(ring);
    let reactor = Reactor::new().unwrap();
    let (res, fd) = reactor
        .run_until(reactor.op(rops::Socket::new(libc::AF_INET, libc::SOCK_STREAM)))
        .unwrap();
    let fd = fd.expect("a descriptor");
    assert_eq!(res.unwrap() as RawFd, fd.as_raw_fd());
    assert!(cloexec(fd.as_raw_fd()), "{:#o}", fd_flags(fd.as_raw_fd()));
    assert!(!nonblocking(fd.as_raw_fd()));
    let (res, fd) = reactor
        .run_until(reactor.op(rops::Socket::new(
            libc::AF_INET6,
            libc::SOCK_DGRAM | libc::SOCK_NONBLOCK,
        )))
        .unwrap();
    match (res, fd) {
        (Ok(n), Some(fd)) => {
            assert_eq!(n as RawFd, fd.as_raw_fd());
            assert!(cloexec(n as RawFd) && nonblocking(n as RawFd));
        }
        // A machine without IPv6.
        (Err(e), None) if e.raw_os_error() == Some(libc::EAFNOSUPPORT) => {
            skip("no IPv6 here");
        }
        other => panic!("{other:?}"),
    }
    for (domain, kind, errno) in [
        (libc::AF_NETLINK, libc::SOCK_RAW, libc::EAFNOSUPPORT),
        (libc::AF_PACKET, libc::SOCK_RAW, libc::EAFNOSUPPORT),
        (libc::AF_INET, libc::SOCK_RDM, libc::EINVAL),
        (libc::AF_INET, SOCK_PACKET, libc::EINVAL),
    ] {
        let (res, fd) = reactor
            .run_until(reactor.op(rops::Socket::new(domain, kind)))
            .unwrap();
        assert_eq!(
            res.map_err(|e| e.raw_os_error()),
            Err(Some(errno)),
            "{domain} {kind}"
        );
        assert!(fd.is_none());
    }
}

/// The reactor's `Connect` and `Shutdown` say only "like `connect(2)`" /
/// "like `shutdown(2)`". What they complete with on Linux 6.18: 0 on
/// success, and the calls' errnos (`ECONNREFUSED` for a port nobody
/// listens on, `ENOTCONN` for a shutdown of an unconnected socket); the
/// output is `()`.
#[test]
fn reactor_connect_and_shutdown_complete_with_zero_or_the_calls_errno() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let at = listener.local_addr().unwrap();
    let make = || {
        SharedFd::new(
            uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC).unwrap(),
        )
    };
    let fd = make();
    let (res, ()) = reactor
        .run_until(reactor.op(rops::Connect::new(&fd, at)))
        .unwrap();
    assert_eq!(res.unwrap(), 0);
    let (mut peer, _) = listener.accept().unwrap();
    let (res, ()) = reactor
        .run_until(reactor.op(rops::Shutdown::new(&fd, libc::SHUT_WR)))
        .unwrap();
    assert_eq!(res.unwrap(), 0);
    let mut rest = Vec::new();
    peer.set_read_timeout(Some(PATIENCE)).unwrap();
    assert_eq!(
        peer.read_to_end(&mut rest).unwrap(),
        0,
        "end of stream after SHUT_WR"
    );
    // Refused: a port that was listened on, no longer.
    let gone = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let fd = make();
    let (res, ()) = reactor
        .run_until(reactor.op(rops::Connect::new(&fd, gone)))
        .unwrap();
    assert_eq!(
        res.map_err(|e| e.raw_os_error()),
        Err(Some(libc::ECONNREFUSED))
    );
    let fd = make();
    let (res, ()) = reactor
        .run_until(reactor.op(rops::Shutdown::new(&fd, libc::SHUT_RDWR)))
        .unwrap();
    assert_eq!(res.map_err(|e| e.raw_os_error()), Err(Some(libc::ENOTCONN)));
    // A `how` outside the three: the call's EINVAL.
    let (res, ()) = reactor
        .run_until(reactor.op(rops::Shutdown::new(&fd, 7)))
        .unwrap();
    assert_eq!(res.map_err(|e| e.raw_os_error()), Err(Some(libc::EINVAL)));
}

/// The reactor's `SendTo` ("like `sendto(2)`") and `RecvFrom` ("gives back
/// the buffer and the address") do not say what they complete with: the
/// byte count, as the calls return; a datagram longer than the buffer is
/// cut to it and the count is the buffer's (no `MSG_TRUNC` length).
#[test]
fn reactor_send_to_and_recv_from_complete_with_the_byte_count() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let at: SocketAddr = rx.local_addr().unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let from = tx.local_addr().unwrap();
    let (txf, rxf) = (SharedFd::new(tx), SharedFd::new(rx));
    let data = uring_tests::pattern(300, 3);
    let (res, back) = reactor
        .run_until(reactor.op(rops::SendTo::new(&txf, data.clone(), at)))
        .unwrap();
    assert_eq!(res.unwrap(), 300);
    assert_eq!(back, data);
    let room = Vec::<u8>::with_capacity(100);
    let cap = room.capacity();
    assert!(cap < 300);
    let (res, (buf, addr)) = reactor
        .run_until(reactor.op(rops::RecvFrom::new(&rxf, room)))
        .unwrap();
    assert_eq!(res.unwrap() as usize, cap, "cut to the buffer");
    assert_eq!(buf, data[..cap]);
    assert_eq!(addr, Some(from));
    // An empty datagram: a count of 0, the sender's address all the same.
    let (res, _) = reactor
        .run_until(reactor.op(rops::SendTo::new(&txf, Vec::<u8>::new(), at)))
        .unwrap();
    assert_eq!(res.unwrap(), 0);
    let (res, (buf, addr)) = reactor
        .run_until(reactor.op(rops::RecvFrom::new(&rxf, Vec::<u8>::with_capacity(16))))
        .unwrap();
    assert_eq!(res.unwrap(), 0);
    assert!(buf.is_empty());
    assert_eq!(addr, Some(from));
}
