//! The socket, polling, cancellation, process and futex ops against the
//! running kernel: `SendMsg` / `RecvMsg` (TCP, UDP, scatter-gather, sender
//! addresses, `MSG_TRUNC`, `SCM_RIGHTS`), `Shutdown`, `Socket`, `Bind`,
//! `Listen`, the zero-copy sends and `RecvZc`, `PollAdd` / `PollRemove`,
//! `TimeoutRemove`, `Cancel` with `ALL` / `ANY`, `EpollCtl` / `EpollWait`,
//! `MsgRing`, `RemoveBuffers`, `WaitId`, the futex ops, and the socket
//! `UringCmd`s.
//!
//! Every socket binds port 0 and reads back the port the kernel chose.

use std::io::{IoSlice, IoSliceMut, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use uring::{MsgFlags, SendZcFlags};
use uring::{MsgRingFlags, UringCmdOp, WaitIdTarget};
use uring_tests::push_lent;

use uring::ops::{
    Bind, Cancel, Connect, EpollCtl, EpollWait, FutexWait, FutexWaitv, FutexWake, Listen, MsgRing,
    PollAdd, PollRemove, ProvideBuffers, Read, Recv, RecvMsg, RecvZc, RemoveBuffers, Send, SendMsg,
    SendMsgZc, SendZc, Shutdown, Socket, Timeout, TimeoutRemove, UringCmd, WaitId,
};
use uring::{
    BufferGroup, BufferPool, CancelFlags, Cqe, FutexFlags, FutexWaitV, MsgHdr, MsgHdrMut,
    PollEvents, PollFlags, Ring, SockAddr, SockAddrBuf,
};
use uring_tests::{
    PATIENCE, by_user_data, complete, fd_is_open, local_addr, pattern, pipe, require_kernel,
    require_op, skip, socket, tcp_pair,
};

/// `SOCKET_URING_OP_SIOCINQ` of `linux/io_uring.h`: unread bytes.
// SAFETY: on a socket the command reads the socket's queue and nothing else;
// a file without commands (a pipe) refuses it.
const SOCKET_URING_OP_SIOCINQ: UringCmdOp = unsafe { UringCmdOp::new(0) };
/// `SOCKET_URING_OP_SIOCOUTQ`: bytes not yet sent (or acknowledged).
// SAFETY: as for SIOCINQ.
const SOCKET_URING_OP_SIOCOUTQ: UringCmdOp = unsafe { UringCmdOp::new(1) };
/// A command no socket knows.
// SAFETY: an unknown socket command is refused before anything is read.
const SOCKET_URING_OP_UNKNOWN: UringCmdOp = unsafe { UringCmdOp::new(99) };

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Submits what is pushed and takes exactly `n` completions, in CQ order,
/// leaving any later ones in the queue. Panics after [`PATIENCE`].
fn reap(ring: &mut Ring, n: usize) -> Vec<Cqe> {
    let deadline = Instant::now() + PATIENCE;
    let mut out = Vec::with_capacity(n);
    ring.submit().expect("submit");
    while out.len() < n {
        if let Some(cqe) = ring.peek() {
            ring.advance(1);
            out.push(cqe);
            continue;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "waited {PATIENCE:?} for {n} completions, got {out:?}"
        );
        match ring.submit_and_wait_timeout(1, left) {
            Ok(_) | Err(uring::Error::TimedOut) => {}
            Err(e) => panic!("submit_and_wait_timeout: {e}"),
        }
    }
    out
}

/// Submits what is pushed and asserts that nothing completes for a while:
/// the ops are pending in the kernel.
fn assert_pending(ring: &mut Ring, what: &str) {
    ring.submit().expect("submit");
    let idle = ring.wait_timeout(1, Duration::from_millis(30));
    assert!(
        matches!(idle, Err(uring::Error::TimedOut)),
        "{what}: expected nothing to complete, got {idle:?} {:?}",
        ring.peek()
    );
}

/// Two unconnected UDP sockets bound to port 0 of `ip`; `None` (after a
/// skip message) when the address is not available.
fn udp_pair(ip: &str) -> Option<(UdpSocket, UdpSocket)> {
    let bind = |ip: &str| UdpSocket::bind(format!("{ip}:0"));
    match (bind(ip), bind(ip)) {
        (Ok(a), Ok(b)) => {
            for s in [&a, &b] {
                s.set_read_timeout(Some(PATIENCE)).unwrap();
            }
            Some((a, b))
        }
        (Err(e), _) | (_, Err(e)) => {
            skip(format_args!("cannot bind UDP on {ip}: {e}"));
            None
        }
    }
}

/// An integer socket option, from `getsockopt(2)`.
fn sockopt(fd: BorrowedFd<'_>, level: i32, name: i32) -> i32 {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` has room for the `len` bytes the call may write.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "getsockopt: {}", std::io::Error::last_os_error());
    value
}

/// `fcntl(fd, cmd)` for the two flag queries.
fn fcntl(fd: BorrowedFd<'_>, cmd: i32) -> i32 {
    // SAFETY: F_GETFD and F_GETFL only read the descriptor's flags.
    let rc = unsafe { libc::fcntl(fd.as_raw_fd(), cmd) };
    assert!(rc >= 0, "fcntl: {}", std::io::Error::last_os_error());
    rc
}

/// Waits until `fd` is readable (or fails after [`PATIENCE`]), with
/// `poll(2)`, outside the ring.
fn wait_readable(fd: BorrowedFd<'_>) {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid pollfd.
    let rc = unsafe { libc::poll(&mut pfd, 1, PATIENCE.as_millis() as i32) };
    assert_eq!(rc, 1, "poll: {rc} {}", std::io::Error::last_os_error());
}

/// Room for ancillary data, aligned as `struct cmsghdr` must be.
#[repr(C, align(8))]
struct CmsgBuf([u8; 64]);

/// One `SCM_RIGHTS` record passing `fd`; returns the buffer and the length
/// of the record in it (`CMSG_SPACE(sizeof(int))`).
fn scm_rights(fd: RawFd) -> (CmsgBuf, usize) {
    let mut buf = CmsgBuf([0; 64]);
    // SAFETY: CMSG_SPACE is arithmetic.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    assert!(space <= buf.0.len());
    // SAFETY: all-zero bytes are a valid, empty `msghdr`.
    let mut mhdr: libc::msghdr = unsafe { std::mem::zeroed() };
    mhdr.msg_control = buf.0.as_mut_ptr().cast();
    mhdr.msg_controllen = space as _;
    // SAFETY: the header describes `buf`, which is aligned and has room for
    // one record; the record and its data lie inside it.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&mhdr);
        assert!(!cmsg.is_null());
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
    }
    (buf, space)
}

// ---------------------------------------------------------------------------
// SendMsg / RecvMsg
// ---------------------------------------------------------------------------

/// A message of three buffers (one of them empty) sent with `SendMsg` over
/// TCP arrives whole in the two buffers of a `RecvMsg` (`MSG_WAITALL`),
/// split where the receive buffers split it; then the other way round
/// through fixed files.
#[test]
fn sendmsg_and_recvmsg_scatter_gather_over_tcp() {
    let (client, server) = tcp_pair();
    let mut ring = Ring::new(8).unwrap();
    let data = pattern(40, 1);

    let send_parts = [
        IoSlice::new(&data[..7]),
        IoSlice::new(&data[7..7]),
        IoSlice::new(&data[7..]),
    ];
    let msg = MsgHdr::new(&send_parts);
    let (mut first, mut second) = ([0u8; 15], [0u8; 25]);
    let mut recv_parts = [IoSliceMut::new(&mut first), IoSliceMut::new(&mut second)];
    let mut hdr = MsgHdrMut::new(&mut recv_parts[..]);
    // SAFETY: the headers, the buffers they point to and the data outlive
    // both ops, which are reaped before any of them is read.
    unsafe {
        // The receive goes first and waits for the data.
        ring.push_unchecked(
            RecvMsg::new(&server, &mut hdr)
                .msg_flags(MsgFlags::WAITALL)
                .user_data(2),
        )
        .unwrap();
        ring.push_unchecked(SendMsg::new(&client, &msg).user_data(1))
            .unwrap();
    }
    let cqes = reap(&mut ring, 2);
    let by = by_user_data(&cqes);
    assert_eq!(by[&1].result().ok(), Some(40), "sendmsg: {cqes:?}");
    assert_eq!(by[&2].result().ok(), Some(40), "recvmsg: {cqes:?}");
    let (name_len, control_len, flags) = (hdr.name_len(), hdr.control_len(), hdr.flags());
    assert_eq!(
        (name_len, control_len, flags),
        (0, 0, 0),
        "a TCP receive has no address, no control data, no flags"
    );
    assert_eq!(first[..], data[..15]);
    assert_eq!(second[..], data[15..]);

    // The reply, through fixed files: server (slot 1) to client (slot 0).
    let files = ring
        .register_files(&[client.as_fd(), server.as_fd()])
        .unwrap();
    let reply = pattern(9, 2);
    let parts = [IoSlice::new(&reply[..4]), IoSlice::new(&reply[4..])];
    let msg = MsgHdr::new(&parts);
    let mut got = [0u8; 9];
    let mut iov = [IoSliceMut::new(&mut got)];
    let mut hdr = MsgHdrMut::new(&mut iov[..]);
    // SAFETY: as above; reaped before `got` is read.
    unsafe {
        ring.push_unchecked(SendMsg::new(files.get(1).unwrap(), &msg).user_data(3))
            .unwrap();
        ring.push_unchecked(
            RecvMsg::new(files.get(0).unwrap(), &mut hdr)
                .msg_flags(MsgFlags::WAITALL)
                .user_data(4),
        )
        .unwrap();
    }
    let cqes = reap(&mut ring, 2);
    let by = by_user_data(&cqes);
    assert_eq!(by[&3].result().ok(), Some(9), "fixed sendmsg: {cqes:?}");
    assert_eq!(by[&4].result().ok(), Some(9), "fixed recvmsg: {cqes:?}");
    assert_eq!(got[..], reply[..]);
}

fn udp_sendmsg_to_and_recvmsg_from(ip: &str, sockaddr_len: u32) {
    let Some((a, b)) = udp_pair(ip) else { return };
    let a_addr = a.local_addr().unwrap();
    let b_addr = SockAddr::from(b.local_addr().unwrap());
    let mut ring = Ring::new(8).unwrap();
    let data = pattern(50, 3);

    let parts = [
        IoSlice::new(&data[..5]),
        IoSlice::new(&data[5..30]),
        IoSlice::new(&data[30..]),
    ];
    let msg = MsgHdr::new(&parts).to(&b_addr);
    // SAFETY: the header, the data and the address outlive the op, reaped
    // below.
    unsafe { ring.push_unchecked(SendMsg::new(&a, &msg).user_data(1)) }.unwrap();
    let cqe = reap(&mut ring, 1)[0];
    assert_eq!(
        cqe.result().ok(),
        Some(50),
        "sendmsg to {b_addr:?}: {cqe:?}"
    );

    let mut from = SockAddrBuf::new();
    let (mut head, mut tail) = ([0u8; 20], [0u8; 100]);
    let mut iov = [IoSliceMut::new(&mut head), IoSliceMut::new(&mut tail)];
    let mut hdr = MsgHdrMut::new(&mut iov[..]).from(&mut from);
    let cqe = complete(&mut ring, RecvMsg::new(&b, &mut hdr).user_data(2));
    assert_eq!(cqe.result().ok(), Some(50), "recvmsg: {cqe:?}");
    let (name_len, _, flags) = (hdr.name_len(), hdr.control_len(), hdr.flags());
    assert_eq!(name_len, sockaddr_len, "the sender's address length");
    assert_eq!(flags & libc::MSG_TRUNC, 0, "the datagram fit");
    assert_eq!(head[..], data[..20]);
    assert_eq!(tail[..30], data[20..]);
    assert!(
        tail[30..].iter().all(|&b| b == 0),
        "nothing past the datagram"
    );
    assert_eq!(from.socket_addr(), Some(a_addr), "the sender's address");
}

/// `SendMsg` with a destination on an unconnected UDP socket; `RecvMsg`
/// with two buffers gets the datagram whole and the sender's address.
#[test]
fn udp_sendmsg_to_and_recvmsg_from_over_ipv4() {
    udp_sendmsg_to_and_recvmsg_from("127.0.0.1", std::mem::size_of::<libc::sockaddr_in>() as u32);
}

/// The same over IPv6.
#[test]
fn udp_sendmsg_to_and_recvmsg_from_over_ipv6() {
    udp_sendmsg_to_and_recvmsg_from("[::1]", std::mem::size_of::<libc::sockaddr_in6>() as u32);
}

/// A UDP datagram longer than the receive buffer: `RecvMsg` completes with
/// the bytes that fit and sets `MSG_TRUNC` in the header; with `MSG_TRUNC`
/// passed in, it completes with the datagram's real length.
#[test]
fn udp_recvmsg_into_a_short_buffer_sets_msg_trunc() {
    let Some((a, b)) = udp_pair("127.0.0.1") else {
        return;
    };
    let b_addr = b.local_addr().unwrap();
    let mut ring = Ring::new(8).unwrap();

    for (ud, pass_trunc) in [(1u64, false), (2, true)] {
        let datagram = pattern(100, ud as u8);
        assert_eq!(a.send_to(&datagram, b_addr).unwrap(), 100);
        let mut short = [0u8; 10];
        let mut iov = [IoSliceMut::new(&mut short)];
        let mut hdr = MsgHdrMut::new(&mut iov[..]);
        let flags_in = if pass_trunc {
            MsgFlags::TRUNC
        } else {
            MsgFlags::empty()
        };
        let cqe = complete(
            &mut ring,
            RecvMsg::new(&b, &mut hdr).msg_flags(flags_in).user_data(ud),
        );
        let want = if pass_trunc { 100 } else { 10 };
        assert_eq!(
            cqe.result().ok(),
            Some(want),
            "recvmsg (MSG_TRUNC passed: {pass_trunc}): {cqe:?}"
        );
        let (_, _, flags) = (hdr.name_len(), hdr.control_len(), hdr.flags());
        assert_eq!(
            flags & libc::MSG_TRUNC,
            libc::MSG_TRUNC,
            "MSG_TRUNC in the header's flags ({flags:#x})"
        );
        assert_eq!(short[..], datagram[..10]);
    }

    // A datagram that fits is not flagged.
    assert_eq!(a.send_to(b"fits", b_addr).unwrap(), 4);
    let mut room = [0u8; 10];
    let mut iov = [IoSliceMut::new(&mut room)];
    let mut hdr = MsgHdrMut::new(&mut iov[..]);
    let cqe = complete(&mut ring, RecvMsg::new(&b, &mut hdr).user_data(3));
    assert_eq!(cqe.result().ok(), Some(4), "{cqe:?}");
    let (_, _, flags) = (hdr.name_len(), hdr.control_len(), hdr.flags());
    assert_eq!(flags & libc::MSG_TRUNC, 0, "flags {flags:#x}");
    assert_eq!(&room[..4], b"fits");
}

/// LIBRARY BUG: a `SockAddrBuf` given to `MsgHdrMut::from` keeps the full
/// storage size as its length whatever the kernel wrote into the header's
/// `msg_namelen`, so after a receive that has no sender address (TCP: the
/// kernel writes `msg_namelen = 0` and leaves the storage alone),
/// `socket_addr()` still decodes the address of an earlier receive.
#[test]
fn recvmsg_without_a_sender_reports_no_address() {
    let Some((a, b)) = udp_pair("127.0.0.1") else {
        return;
    };
    let (client, server) = tcp_pair();
    let mut ring = Ring::new(8).unwrap();
    let mut from = SockAddrBuf::new();

    // A datagram: the sender's address is written.
    a.send_to(b"udp", b.local_addr().unwrap()).unwrap();
    let mut buf = [0u8; 8];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut hdr = MsgHdrMut::new(&mut iov[..]).from(&mut from);
    let cqe = complete(&mut ring, RecvMsg::new(&b, &mut hdr).user_data(1));
    assert_eq!(cqe.result().ok(), Some(3));
    assert_eq!(from.socket_addr(), Some(a.local_addr().unwrap()));

    // A stream: there is no sender address; the kernel says so with a zero
    // length.
    (&client).write_all(b"tcp").unwrap();
    let mut buf = [0u8; 3];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut hdr = MsgHdrMut::new(&mut iov[..]).from(&mut from);
    let cqe = complete(
        &mut ring,
        RecvMsg::new(&server, &mut hdr)
            .msg_flags(MsgFlags::WAITALL)
            .user_data(2),
    );
    assert_eq!(cqe.result().ok(), Some(3));
    let (name_len, _, _) = (hdr.name_len(), hdr.control_len(), hdr.flags());
    assert_eq!(name_len, 0, "the kernel wrote no address");
    assert_eq!(
        from.socket_addr(),
        None,
        "the kernel wrote no address, yet the buffer reports one (the UDP \
         sender's, {:?})",
        a.local_addr().unwrap()
    );
}

/// `SendMsg` passes a pipe's write end over a Unix socket pair as
/// `SCM_RIGHTS`; `RecvMsg` receives a new descriptor for it, which works,
/// and which keeps the pipe open after the original is closed.
#[test]
fn scm_rights_passes_a_descriptor_over_a_unix_socket_pair() {
    let (left, right) = UnixStream::pair().unwrap();
    let (pipe_r, pipe_w) = pipe();
    let mut ring = Ring::new(8).unwrap();

    let (control, space) = scm_rights(pipe_w.as_raw_fd());
    let payload = [b'F'];
    let parts = [IoSlice::new(&payload)];
    // The safe `control` refuses to pass descriptors by number.
    assert!(MsgHdr::new(&parts).control(&control.0[..space]).is_err());
    // SAFETY: `pipe_w`, the descriptor the record names, stays open until
    // the send has completed (`complete` waits for it).
    let msg = unsafe { MsgHdr::new(&parts).control_unchecked(&control.0[..space]) };
    let cqe = complete(&mut ring, SendMsg::new(&left, &msg).user_data(1));
    assert_eq!(
        cqe.result().ok(),
        Some(1),
        "sendmsg with SCM_RIGHTS: {cqe:?}"
    );

    let mut got = [0u8; 4];
    let mut room = CmsgBuf([0; 64]);
    let mut iov = [IoSliceMut::new(&mut got)];
    let mut hdr = MsgHdrMut::new(&mut iov[..]).control(&mut room.0[..]);
    let cqe = complete(&mut ring, RecvMsg::new(&right, &mut hdr).user_data(2));
    assert_eq!(cqe.result().ok(), Some(1), "recvmsg: {cqe:?}");
    let (_, control_len, flags) = (hdr.name_len(), hdr.control_len(), hdr.flags());
    assert_eq!(flags & libc::MSG_CTRUNC, 0, "control data truncated");
    assert_eq!(
        control_len, space,
        "one SCM_RIGHTS record of one descriptor"
    );
    assert_eq!(got[0], b'F');

    // SAFETY: all-zero bytes are a valid, empty `msghdr`.
    let mut mhdr: libc::msghdr = unsafe { std::mem::zeroed() };
    mhdr.msg_control = room.0.as_mut_ptr().cast();
    mhdr.msg_controllen = control_len as _;
    // SAFETY: the header describes the `control_len` bytes the kernel wrote
    // into the aligned `room`.
    let received = unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&mhdr);
        assert!(!cmsg.is_null(), "no control record");
        assert_eq!((*cmsg).cmsg_level, libc::SOL_SOCKET);
        assert_eq!((*cmsg).cmsg_type, libc::SCM_RIGHTS);
        assert_eq!(
            (*cmsg).cmsg_len as usize,
            libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize
        );
        assert!(libc::CMSG_NXTHDR(&mhdr, cmsg).is_null(), "one record only");
        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>())
    };
    assert!(fd_is_open(received), "received fd {received} is not open");
    assert_ne!(received, pipe_w.as_raw_fd(), "a new descriptor");
    // SAFETY: SCM_RIGHTS installed this descriptor for us; nothing else owns it.
    let received = unsafe { OwnedFd::from_raw_fd(received) };

    // The original write end goes away; the received one still writes into
    // the same pipe.
    drop(pipe_w);
    let mut writer = std::fs::File::from(received);
    writer.write_all(b"through").unwrap();
    let mut reader = std::fs::File::from(pipe_r);
    let mut read = [0u8; 7];
    reader.read_exact(&mut read).unwrap();
    assert_eq!(&read, b"through");
    // It was the last write end: closing it gives the reader end of file.
    drop(writer);
    assert_eq!(reader.read(&mut read).unwrap(), 0);
}

// ---------------------------------------------------------------------------
// Shutdown, Socket, Bind, Listen
// ---------------------------------------------------------------------------

/// `Shutdown(SHUT_WR)` through a fixed file: the peer reads end of stream,
/// the shut-down side can still receive, and can no longer send (`EPIPE`).
/// A socket that is not connected cannot be shut down (`ENOTCONN`).
#[test]
fn shutdown_wr_gives_the_peer_end_of_stream() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Shutdown>(&ring) {
        return;
    }
    let (client, server) = tcp_pair();
    let files = ring.register_files(&[client.as_fd()]).unwrap();
    push_lent!(
        ring,
        Shutdown::new(files.get(0).unwrap(), libc::SHUT_WR).user_data(1)
    )
    .unwrap();
    let cqe = reap(&mut ring, 1)[0];
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0), "shutdown: {cqe:?}");

    let mut buf = [0u8; 8];
    let cqe = complete(&mut ring, Recv::new(&server, &mut buf[..]).user_data(2));
    assert_eq!(cqe.result().ok(), Some(0), "end of stream: {cqe:?}");

    // The other direction still works.
    (&server).write_all(b"back").unwrap();
    let mut back = [0u8; 4];
    (&client).read_exact(&mut back).unwrap();
    assert_eq!(&back, b"back");

    let cqe = complete(
        &mut ring,
        Send::new(&client, &b"late"[..])
            .msg_flags(MsgFlags::NOSIGNAL)
            .user_data(3),
    );
    assert_eq!(cqe.res(), -libc::EPIPE, "send after SHUT_WR: {cqe:?}");

    let lone = socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
    push_lent!(ring, Shutdown::new(&lone, libc::SHUT_RDWR).user_data(4)).unwrap();
    let cqe = reap(&mut ring, 1)[0];
    assert_eq!(cqe.res(), -libc::ENOTCONN, "shutdown unconnected: {cqe:?}");
}

/// `Socket` creates sockets of the domain, type and flags asked for, and
/// they work: a UDP one sends a datagram, a TCP one connects.
#[test]
fn socket_creates_a_working_socket() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Socket<'_>>(&ring) {
        return;
    }
    push_lent!(
        ring,
        Socket::new(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_NONBLOCK).user_data(1)
    )
    .unwrap();
    push_lent!(
        ring,
        Socket::new(libc::AF_INET6, libc::SOCK_STREAM | libc::SOCK_CLOEXEC).user_data(2)
    )
    .unwrap();
    let cqes = reap(&mut ring, 2);
    let by = by_user_data(&cqes);
    let own = |cqe: &Cqe| {
        let fd = cqe
            .result()
            .unwrap_or_else(|e| panic!("socket {}: {e}", cqe.user_data()));
        assert!(fd_is_open(fd as RawFd), "fd {fd} is not open");
        // SAFETY: the op created this descriptor; nothing else owns it.
        unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
    };
    let udp = own(&by[&1]);
    let tcp = own(&by[&2]);
    assert_ne!(udp.as_raw_fd(), tcp.as_raw_fd());

    let so = |fd: &OwnedFd, name| sockopt(fd.as_fd(), libc::SOL_SOCKET, name);
    assert_eq!(
        (
            so(&udp, libc::SO_DOMAIN),
            so(&udp, libc::SO_TYPE),
            so(&udp, libc::SO_PROTOCOL)
        ),
        (libc::AF_INET, libc::SOCK_DGRAM, libc::IPPROTO_UDP)
    );
    assert_eq!(
        (
            so(&tcp, libc::SO_DOMAIN),
            so(&tcp, libc::SO_TYPE),
            so(&tcp, libc::SO_PROTOCOL)
        ),
        (libc::AF_INET6, libc::SOCK_STREAM, libc::IPPROTO_TCP)
    );
    // The flags or-ed into the type reached the kernel, and only those.
    assert_eq!(
        fcntl(udp.as_fd(), libc::F_GETFL) & libc::O_NONBLOCK,
        libc::O_NONBLOCK
    );
    assert_eq!(fcntl(udp.as_fd(), libc::F_GETFD) & libc::FD_CLOEXEC, 0);
    assert_eq!(fcntl(tcp.as_fd(), libc::F_GETFL) & libc::O_NONBLOCK, 0);
    assert_eq!(
        fcntl(tcp.as_fd(), libc::F_GETFD) & libc::FD_CLOEXEC,
        libc::FD_CLOEXEC
    );

    // The UDP socket sends (binding itself on the way).
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(PATIENCE)).unwrap();
    let udp = UdpSocket::from(udp);
    assert_eq!(
        udp.send_to(b"made by the ring", peer.local_addr().unwrap())
            .unwrap(),
        16
    );
    let mut got = [0u8; 32];
    let (n, from) = peer.recv_from(&mut got).unwrap();
    assert_eq!(&got[..n], b"made by the ring");
    // Bound to the wildcard address by the send; the datagram came from its
    // port.
    assert_eq!(from.port(), udp.local_addr().unwrap().port());

    // The TCP socket connects, through the ring.
    let listener = match TcpListener::bind("[::1]:0") {
        Ok(l) => l,
        Err(e) => return skip(format_args!("cannot listen on [::1]: {e}")),
    };
    let target = SockAddr::from(listener.local_addr().unwrap());
    let cqe = complete(&mut ring, Connect::new(&tcp, &target).user_data(3));
    assert_eq!(cqe.res(), 0, "connect: {cqe:?}");
    let (_, peer) = listener.accept().unwrap();
    assert_eq!(peer, local_addr(tcp.as_fd()).unwrap());
}

/// `Socket` with a domain the kernel does not have fails with
/// `EAFNOSUPPORT`; a protocol the domain and type do not take with
/// `EPROTONOSUPPORT`; a type with flags other than `SOCK_CLOEXEC` /
/// `SOCK_NONBLOCK` with `EINVAL`.
#[test]
fn socket_with_bad_arguments_fails() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Socket<'_>>(&ring) {
        return;
    }
    push_lent!(ring, Socket::new(12345, libc::SOCK_STREAM).user_data(1)).unwrap();
    push_lent!(
        ring,
        Socket::new(libc::AF_INET, libc::SOCK_STREAM)
            .protocol(libc::IPPROTO_UDP)
            .user_data(2),
    )
    .unwrap();
    push_lent!(
        ring,
        Socket::new(libc::AF_INET, libc::SOCK_STREAM | 0x4000_0000).user_data(3)
    )
    .unwrap();
    let cqes = reap(&mut ring, 3);
    let by = by_user_data(&cqes);
    let bad_domain = by[&1].res();
    assert!(
        bad_domain == -libc::EAFNOSUPPORT || bad_domain == -libc::EINVAL,
        "bad domain: {cqes:?}"
    );
    assert_eq!(
        by[&2].res(),
        -libc::EPROTONOSUPPORT,
        "bad protocol: {cqes:?}"
    );
    assert_eq!(by[&3].res(), -libc::EINVAL, "bad type flags: {cqes:?}");
}

/// `Bind` then `Listen` (linked) through the ring on IPv4 and, through a
/// fixed file, IPv6; a client connects with std and is accepted. Binding a
/// taken port fails with `EADDRINUSE`; listening on UDP with `EOPNOTSUPP`.
#[test]
fn bind_and_listen_through_the_ring() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Bind<'static>>(&ring) || !require_op::<Listen>(&ring) {
        return;
    }
    for (domain, ip) in [(libc::AF_INET, "127.0.0.1"), (libc::AF_INET6, "::1")] {
        let Ok(sock) = socket(domain, libc::SOCK_STREAM) else {
            skip(format_args!("no socket of domain {domain}"));
            continue;
        };
        let ask: SocketAddr = SocketAddr::new(ip.parse().unwrap(), 0);
        let addr = SockAddr::from(ask);
        if domain == libc::AF_INET {
            // SAFETY: `addr` outlives the chain, reaped below.
            unsafe {
                ring.push_unchecked(
                    Bind::new(&sock, &addr)
                        .user_data(1)
                        .link(Listen::new(&sock, 16).user_data(2)),
                )
            }
            .unwrap();
        } else {
            let files = ring.register_files(&[sock.as_fd()]).unwrap();
            let fixed = files.get(0).unwrap();
            // SAFETY: as above.
            unsafe {
                ring.push_unchecked(
                    Bind::new(fixed, &addr)
                        .user_data(1)
                        .link(Listen::new(fixed, 16).user_data(2)),
                )
            }
            .unwrap();
        }
        let cqes = reap(&mut ring, 2);
        assert_eq!(
            cqes.iter()
                .map(|c| (c.user_data(), c.res()))
                .collect::<Vec<_>>(),
            [(1, 0), (2, 0)],
            "bind then listen on {ip}"
        );
        let bound = local_addr(sock.as_fd()).unwrap();
        assert_eq!(bound.ip(), ask.ip(), "bound address");
        assert_ne!(bound.port(), 0, "the kernel chose a port");
        assert_eq!(
            sockopt(sock.as_fd(), libc::SOL_SOCKET, libc::SO_ACCEPTCONN),
            1,
            "listening"
        );

        let client = TcpStream::connect(bound).unwrap();
        let listener = TcpListener::from(sock);
        let (accepted, peer) = listener.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        assert_eq!(accepted.local_addr().unwrap(), bound);

        // The port is taken now.
        let other = socket(domain, libc::SOCK_STREAM).unwrap();
        let taken = SockAddr::from(bound);
        let cqe = complete(&mut ring, Bind::new(&other, &taken).user_data(3));
        assert_eq!(
            cqe.res(),
            -libc::EADDRINUSE,
            "bind to a taken port: {cqe:?}"
        );
    }

    let udp = socket(libc::AF_INET, libc::SOCK_DGRAM).unwrap();
    push_lent!(ring, Listen::new(&udp, 1).user_data(4)).unwrap();
    let cqe = reap(&mut ring, 1)[0];
    assert_eq!(cqe.res(), -libc::EOPNOTSUPP, "listen on UDP: {cqe:?}");
}

// ---------------------------------------------------------------------------
// Zero-copy sends, RecvZc
// ---------------------------------------------------------------------------

/// Asserts the two completions of a zero-copy send: first the send's, with
/// `sent` bytes and `IORING_CQE_F_MORE`, then the notification, with the
/// same `user_data`, `IORING_CQE_F_NOTIF`, no `MORE`, and 0.
fn assert_send_then_notification(send: Cqe, notif: Cqe, user_data: u64, sent: u32) {
    assert_eq!(send.user_data(), user_data, "{send:?}");
    assert_eq!(send.result().ok(), Some(sent), "the send: {send:?}");
    assert!(
        send.has_more(),
        "the send announces its notification: {send:?}"
    );
    assert!(!send.is_notification(), "{send:?}");
    assert_eq!(notif.user_data(), user_data, "{notif:?}");
    assert!(notif.is_notification(), "the notification: {notif:?}");
    assert!(
        !notif.has_more(),
        "nothing after the notification: {notif:?}"
    );
    assert_eq!(notif.res(), 0, "{notif:?}");
}

/// `SendZc` over TCP completes twice (the send, then the notification) and
/// the bytes arrive.
#[test]
fn send_zc_over_tcp_completes_twice() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SendZc<'static>>(&ring) {
        return;
    }
    let (client, server) = tcp_pair();
    let data = pattern(3000, 4);
    // SAFETY: `data` outlives the op and its notification, both reaped
    // below.
    unsafe { ring.push_unchecked(SendZc::new(&client, &data[..]).user_data(7)) }.unwrap();
    let send = reap(&mut ring, 1)[0];
    let mut got = vec![0u8; data.len()];
    (&server).read_exact(&mut got).unwrap();
    assert_eq!(got, data);
    let notif = reap(&mut ring, 1)[0];
    assert_send_then_notification(send, notif, 7, 3000);
}

/// `SendZc` with `dest` on an unconnected UDP socket: the datagram reaches
/// `dest`, from the sending socket.
#[test]
fn send_zc_to_a_destination_on_unconnected_udp() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SendZc<'static>>(&ring) {
        return;
    }
    let Some((a, b)) = udp_pair("127.0.0.1") else {
        return;
    };
    let dest = SockAddr::from(b.local_addr().unwrap());
    let data = pattern(700, 5);
    // SAFETY: `data` and `dest` outlive the op and its notification.
    unsafe { ring.push_unchecked(SendZc::new(&a, &data[..]).dest(Some(&dest)).user_data(8)) }
        .unwrap();
    let cqes = reap(&mut ring, 2);
    assert_send_then_notification(cqes[0], cqes[1], 8, 700);
    let mut got = [0u8; 1024];
    let (n, from) = b.recv_from(&mut got).unwrap();
    assert_eq!(got[..n], data[..]);
    assert_eq!(from, a.local_addr().unwrap());

    // Without a destination, the unconnected socket has nowhere to send.
    // SAFETY: as above.
    unsafe { ring.push_unchecked(SendZc::new(&a, &data[..]).user_data(9)) }.unwrap();
    // Even a failed zero-copy send announces and posts its notification.
    let cqes = reap(&mut ring, 2);
    assert_eq!(cqes[0].res(), -libc::EDESTADDRREQ, "{cqes:?}");
    assert!(cqes[0].has_more(), "{cqes:?}");
    assert!(cqes[1].is_notification(), "{cqes:?}");
    assert_eq!(cqes[1].user_data(), 9, "{cqes:?}");
}

/// `SendMsgZc` of two buffers to a UDP destination and over TCP: two
/// completions each, and the bytes arrive in order.
#[test]
fn sendmsg_zc_scatter_gather() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SendMsgZc<'static, 'static>>(&ring) {
        return;
    }
    let Some((a, b)) = udp_pair("127.0.0.1") else {
        return;
    };
    let dest = SockAddr::from(b.local_addr().unwrap());
    let data = pattern(300, 6);
    let parts = [IoSlice::new(&data[..100]), IoSlice::new(&data[100..])];
    let msg = MsgHdr::new(&parts).to(&dest);
    // SAFETY: the header, its buffers and `dest` outlive the op and its
    // notification, reaped below.
    unsafe { ring.push_unchecked(SendMsgZc::new(&a, &msg).user_data(10)) }.unwrap();
    let cqes = reap(&mut ring, 2);
    assert_send_then_notification(cqes[0], cqes[1], 10, 300);
    let mut got = [0u8; 512];
    let (n, from) = b.recv_from(&mut got).unwrap();
    assert_eq!(got[..n], data[..], "one datagram of both buffers");
    assert_eq!(from, a.local_addr().unwrap());

    let (client, server) = tcp_pair();
    let msg = MsgHdr::new(&parts);
    // SAFETY: as above.
    unsafe { ring.push_unchecked(SendMsgZc::new(&client, &msg).user_data(11)) }.unwrap();
    let send = reap(&mut ring, 1)[0];
    let mut got = vec![0u8; 300];
    (&server).read_exact(&mut got).unwrap();
    assert_eq!(got, data);
    let notif = reap(&mut ring, 1)[0];
    assert_send_then_notification(send, notif, 11, 300);
}

/// LIBRARY BUG: with `IORING_SEND_ZC_REPORT_USAGE`, the notification's
/// `res` is a bit set, not a count or an errno: bit 31
/// (`IORING_NOTIF_USAGE_ZC_COPIED`) says the kernel copied the data after
/// all, which it always does over loopback. That makes `res` `i32::MIN`,
/// and `Cqe::result()` computes `-res` on it: an arithmetic overflow,
/// which panics in debug builds (and yields the bogus errno `i32::MIN` in
/// release builds). DESIGN.md: "Nothing panics on bad input from a user or
/// from the kernel".
#[test]
fn send_zc_report_usage_notification_says_the_data_was_copied() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SendZc<'static>>(&ring) {
        return;
    }
    let (client, server) = tcp_pair();
    let data = pattern(1000, 7);
    // SAFETY: `data` outlives the op and its notification, both reaped
    // below.
    unsafe {
        ring.push_unchecked(
            SendZc::new(&client, &data[..])
                .send_flags(SendZcFlags::REPORT_USAGE)
                .user_data(13),
        )
    }
    .unwrap();
    let send = reap(&mut ring, 1)[0];
    let mut got = vec![0u8; data.len()];
    (&server).read_exact(&mut got).unwrap();
    assert_eq!(got, data);
    let notif = reap(&mut ring, 1)[0];
    assert_eq!(send.result().ok(), Some(1000), "{send:?}");
    assert!(notif.is_notification(), "{notif:?}");
    assert_eq!(
        notif.res() as u32,
        uring::sys::IORING_NOTIF_USAGE_ZC_COPIED,
        "loopback copies: the usage report says so, and nothing else: {notif:?}"
    );
    assert!(notif.zc_copied(), "{notif:?}");
    // The usage bits are data, not an errno.
    assert_eq!(
        notif.result().ok(),
        Some(uring::sys::IORING_NOTIF_USAGE_ZC_COPIED),
        "{notif:?}"
    );
    assert!(!send.zc_copied(), "the send itself is not a notification");
}

/// `RecvZc` needs a zero-copy receive queue registered with the ring
/// (`IORING_REGISTER_ZCRX_IFQ`, which needs a NIC with header split and
/// flow steering; loopback has neither). With none registered, the kernel
/// finds no queue at the index the SQE names and fails the op at prep time
/// with `EINVAL` (one completion, no `MORE`).
#[test]
fn recv_zc_without_a_registered_queue_is_rejected() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<RecvZc>(&ring) {
        return;
    }
    let (client, server) = tcp_pair();
    (&client).write_all(b"never zero-copied").unwrap();
    push_lent!(ring, RecvZc::new(&server, 0).user_data(12)).unwrap();
    let cqe = reap(&mut ring, 1)[0];
    assert_eq!(cqe.res(), -libc::EINVAL, "recv_zc: {cqe:?}");
    assert!(!cqe.has_more(), "{cqe:?}");
    // The bytes are still there for an ordinary receive.
    let mut got = [0u8; 17];
    (&server).read_exact(&mut got).unwrap();
    assert_eq!(&got, b"never zero-copied");
}

// ---------------------------------------------------------------------------
// PollAdd, PollRemove, TimeoutRemove, Cancel
// ---------------------------------------------------------------------------

/// A one-shot `PollAdd(POLLIN)` on an empty pipe waits, then completes with
/// exactly `POLLIN` after a write; `POLLOUT` on the write end (a fixed
/// file) is ready at once.
#[test]
fn poll_add_oneshot_fires_after_a_write() {
    let mut ring = Ring::new(8).unwrap();
    let (r, w) = pipe();
    push_lent!(ring, PollAdd::new(&r, PollEvents::IN).user_data(1)).unwrap();
    assert_pending(&mut ring, "POLLIN on an empty pipe");
    std::fs::File::from(w.try_clone().unwrap())
        .write_all(b"!")
        .unwrap();
    let cqe = reap(&mut ring, 1)[0];
    assert_eq!(cqe.user_data(), 1);
    assert_eq!(cqe.res(), i32::from(libc::POLLIN), "poll result: {cqe:?}");
    assert!(!cqe.has_more(), "one-shot: {cqe:?}");

    let files = ring.register_files(&[w.as_fd()]).unwrap();
    push_lent!(
        ring,
        PollAdd::new(files.get(0).unwrap(), PollEvents::OUT).user_data(2)
    )
    .unwrap();
    let cqe = reap(&mut ring, 1)[0];
    assert_eq!(
        (cqe.user_data(), cqe.res()),
        (2, i32::from(libc::POLLOUT)),
        "POLLOUT on a pipe with room: {cqe:?}"
    );
    // The one-shot poll is gone: removing it finds nothing.
    ring.push(PollRemove::new(1).user_data(3)).unwrap();
    assert_eq!(reap(&mut ring, 1)[0].res(), -libc::ENOENT);
}

/// A multishot `PollAdd` completes once per write, each flagged `MORE`,
/// until `PollRemove`: then the poll completes with `ECANCELED` (no `MORE`)
/// and the remove with 0.
#[test]
fn poll_add_multishot_fires_until_removed() {
    let mut ring = Ring::new(8).unwrap();
    let (r, w) = pipe();
    let mut reader = std::fs::File::from(r.try_clone().unwrap());
    let mut writer = std::fs::File::from(w);
    push_lent!(
        ring,
        PollAdd::new(&r, PollEvents::IN)
            .poll_flags(PollFlags::MULTI)
            .user_data(1),
    )
    .unwrap();
    assert_pending(&mut ring, "multishot poll on an empty pipe");
    for round in 0..3u8 {
        writer.write_all(&[round]).unwrap();
        let cqe = reap(&mut ring, 1)[0];
        assert_eq!(
            (cqe.user_data(), cqe.res()),
            (1, i32::from(libc::POLLIN)),
            "round {round}: {cqe:?}"
        );
        assert!(
            cqe.has_more(),
            "round {round}: the poll stays armed: {cqe:?}"
        );
        let mut byte = [0u8];
        reader.read_exact(&mut byte).unwrap();
        assert_eq!(byte[0], round);
        assert_pending(&mut ring, "multishot poll once drained");
    }
    ring.push(PollRemove::new(1).user_data(2)).unwrap();
    let cqes = reap(&mut ring, 2);
    let by = by_user_data(&cqes);
    assert_eq!(by[&1].res(), -libc::ECANCELED, "the poll: {cqes:?}");
    assert!(!by[&1].has_more(), "the poll's last completion: {cqes:?}");
    assert_eq!(by[&2].res(), 0, "the remove: {cqes:?}");
    // Nothing fires any more.
    writer.write_all(b"x").unwrap();
    assert_pending(&mut ring, "after the remove");
}

/// `PollRemove` of a `user_data` no poll has fails with `ENOENT`.
#[test]
fn poll_remove_of_an_unknown_poll_is_enoent() {
    let mut ring = Ring::new(4).unwrap();
    ring.push(PollRemove::new(0xdead_beef).user_data(1))
        .unwrap();
    let cqe = reap(&mut ring, 1)[0];
    assert_eq!((cqe.user_data(), cqe.res()), (1, -libc::ENOENT));
}

/// `TimeoutRemove` of a pending timeout: the timeout completes with
/// `ECANCELED`, the remove with 0. Removing it again, or a timeout that
/// never was, or one that already fired, finds nothing: `ENOENT`.
#[test]
fn timeout_remove_cancels_a_pending_timeout() {
    let mut ring = Ring::new(8).unwrap();
    ring.push(Timeout::new(Duration::from_secs(30)).user_data(1))
        .unwrap();
    assert_pending(&mut ring, "a 30 s timeout");
    ring.push(TimeoutRemove::new(1).user_data(2)).unwrap();
    let cqes = reap(&mut ring, 2);
    let by = by_user_data(&cqes);
    assert_eq!(by[&1].res(), -libc::ECANCELED, "the timeout: {cqes:?}");
    assert_eq!(by[&2].res(), 0, "the remove: {cqes:?}");

    ring.push(TimeoutRemove::new(1).user_data(3)).unwrap();
    ring.push(TimeoutRemove::new(0xabcdef).user_data(4))
        .unwrap();
    let cqes = reap(&mut ring, 2);
    let by = by_user_data(&cqes);
    assert_eq!(by[&3].res(), -libc::ENOENT, "removed twice: {cqes:?}");
    assert_eq!(by[&4].res(), -libc::ENOENT, "never was: {cqes:?}");

    ring.push(Timeout::new(Duration::from_millis(1)).user_data(5))
        .unwrap();
    assert_eq!(reap(&mut ring, 1)[0].res(), -libc::ETIME);
    ring.push(TimeoutRemove::new(5).user_data(6)).unwrap();
    assert_eq!(
        reap(&mut ring, 1)[0].res(),
        -libc::ENOENT,
        "a timeout that fired is gone"
    );
}

/// `Cancel` with `CancelFlags::ALL` cancels every op with the `user_data`
/// and completes with how many; other ops stay. With `ALL`, matching
/// nothing completes with 0, not `ENOENT`.
#[test]
fn cancel_all_cancels_every_match() {
    if !require_kernel(5, 19, "IORING_ASYNC_CANCEL_ALL") {
        return;
    }
    let mut ring = Ring::new(16).unwrap();
    let (r, _w) = pipe();
    for _ in 0..3 {
        push_lent!(ring, PollAdd::new(&r, PollEvents::IN).user_data(10)).unwrap();
    }
    push_lent!(ring, PollAdd::new(&r, PollEvents::IN).user_data(11)).unwrap();
    assert_pending(&mut ring, "four polls on an empty pipe");

    ring.push(Cancel::new(10).cancel_flags(CancelFlags::ALL).user_data(99))
        .unwrap();
    let cqes = reap(&mut ring, 4);
    let cancel: Vec<&Cqe> = cqes.iter().filter(|c| c.user_data() == 99).collect();
    assert_eq!(cancel.len(), 1, "{cqes:?}");
    assert_eq!(cancel[0].res(), 3, "three cancelled: {cqes:?}");
    let polls: Vec<i32> = cqes
        .iter()
        .filter(|c| c.user_data() == 10)
        .map(|c| c.res())
        .collect();
    assert_eq!(polls, [-libc::ECANCELED; 3], "{cqes:?}");
    assert_pending(&mut ring, "the poll with another user_data");

    ring.push(Cancel::new(10).cancel_flags(CancelFlags::ALL).user_data(98))
        .unwrap();
    let cqe = reap(&mut ring, 1)[0];
    assert_eq!(
        (cqe.user_data(), cqe.res()),
        (98, 0),
        "ALL matching nothing"
    );

    ring.push(Cancel::new(11).user_data(97)).unwrap();
    let cqes = reap(&mut ring, 2);
    let by = by_user_data(&cqes);
    assert_eq!(by[&11].res(), -libc::ECANCELED, "{cqes:?}");
    assert_eq!(by[&97].res(), 0, "{cqes:?}");
}

/// `Cancel` with `CancelFlags::ANY` cancels every pending op of the ring,
/// whatever its kind and `user_data`, and completes with how many.
#[test]
fn cancel_any_cancels_everything_pending() {
    if !require_kernel(5, 19, "IORING_ASYNC_CANCEL_ANY") {
        return;
    }
    let mut ring = Ring::new(16).unwrap();
    let (r, _w) = pipe();
    let (_client, server) = tcp_pair();
    let mut buf = [0u8; 8];
    let mut pipe_buf = [0u8; 8];
    ring.push(Timeout::new(Duration::from_secs(30)).user_data(20))
        .unwrap();
    push_lent!(ring, PollAdd::new(&r, PollEvents::IN).user_data(21)).unwrap();
    // SAFETY: the buffers outlive the ops, which are reaped below.
    unsafe {
        ring.push_unchecked(Recv::new(&server, &mut buf[..]).user_data(22))
            .unwrap();
        ring.push_unchecked(Read::new(&r, &mut pipe_buf[..]).user_data(23))
            .unwrap();
    }
    assert_pending(&mut ring, "four ops with nothing to do");

    ring.push(Cancel::new(0).cancel_flags(CancelFlags::ANY).user_data(99))
        .unwrap();
    let cqes = reap(&mut ring, 5);
    let by = by_user_data(&cqes);
    assert_eq!(by[&99].res(), 4, "four cancelled: {cqes:?}");
    for ud in 20..24 {
        assert_eq!(by[&ud].res(), -libc::ECANCELED, "op {ud}: {cqes:?}");
    }
    // Nothing is left to cancel.
    ring.push(Cancel::new(0).cancel_flags(CancelFlags::ANY).user_data(98))
        .unwrap();
    assert_eq!(reap(&mut ring, 1)[0].res(), 0);
}

// ---------------------------------------------------------------------------
// EpollCtl, EpollWait
// ---------------------------------------------------------------------------

/// `EpollCtl` adds a pipe's read end with `EPOLLIN` and a data value;
/// `EpollWait` waits, and after a write completes with 1 and an event that
/// carries that data. Adding the same fd again fails with `EEXIST`.
#[test]
fn epoll_ctl_then_epoll_wait() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<EpollCtl<'static>>(&ring) || !require_op::<EpollWait<'static>>(&ring) {
        return;
    }
    // SAFETY: epoll_create1 takes a flag.
    let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(
        epfd >= 0,
        "epoll_create1: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: a new descriptor that nothing else owns.
    let epoll = unsafe { OwnedFd::from_raw_fd(epfd) };
    let (r, w) = pipe();
    const DATA: u64 = 0x5eed_0000_1234_abcd;
    let event = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: DATA,
    };
    // SAFETY: `event` outlives the ops, reaped below.
    unsafe {
        ring.push_unchecked(
            EpollCtl::new(&epoll, libc::EPOLL_CTL_ADD, r.as_fd(), &event).user_data(1),
        )
        .unwrap();
    }
    let cqe = reap(&mut ring, 1)[0];
    assert_eq!(cqe.res(), 0, "EPOLL_CTL_ADD: {cqe:?}");
    // SAFETY: as above.
    unsafe {
        ring.push_unchecked(EpollCtl::new(&epoll, libc::EPOLL_CTL_ADD, &r, &event).user_data(2))
            .unwrap();
    }
    let cqe = reap(&mut ring, 1)[0];
    assert_eq!(cqe.res(), -libc::EEXIST, "added twice: {cqe:?}");

    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
    // SAFETY: `events` outlives the op, reaped below before it is read.
    unsafe { ring.push_unchecked(EpollWait::new(&epoll, &mut events[..]).user_data(3)) }.unwrap();
    assert_pending(&mut ring, "epoll_wait with nothing ready");
    std::fs::File::from(w).write_all(b"e").unwrap();
    let cqe = reap(&mut ring, 1)[0];
    assert_eq!((cqe.user_data(), cqe.res()), (3, 1), "epoll_wait: {cqe:?}");
    let (got_events, got_data) = (events[0].events, events[0].u64);
    assert_eq!(got_data, DATA, "the event's data");
    assert_eq!(
        got_events & libc::EPOLLIN as u32,
        libc::EPOLLIN as u32,
        "events {got_events:#x}"
    );
}

// ---------------------------------------------------------------------------
// MsgRing
// ---------------------------------------------------------------------------

/// `MsgRing` posts a completion with the given `res` and `user_data` to a
/// second ring; the sender's own completion is 0. A descriptor that is not
/// a ring fails with `EBADFD`, through a fixed file too.
///
/// The second ring cannot be named as a fixed file: the kernel refuses to
/// put an io_uring descriptor in a fixed-file table
/// (`IORING_REGISTER_FILES` fails with `EBADF`, "don't allow io_uring
/// instances to be registered"), so a `Fixed` target of `MsgRing` can only
/// ever name a file that is not a ring.
#[test]
fn msg_ring_posts_to_another_ring() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<MsgRing>(&ring) {
        return;
    }
    let mut other = Ring::new(8).unwrap();
    push_lent!(ring, MsgRing::new(&other, 42, 0xfeed_f00d).user_data(1)).unwrap();
    push_lent!(ring, MsgRing::new(&other, -7, u64::MAX - 1).user_data(2)).unwrap();
    let cqes = reap(&mut ring, 2);
    assert_eq!(
        cqes.iter()
            .map(|c| (c.user_data(), c.res()))
            .collect::<Vec<_>>(),
        [(1, 0), (2, 0)],
        "the senders' completions"
    );
    let got = reap(&mut other, 2);
    assert_eq!(
        got.iter()
            .map(|c| (c.user_data(), c.res(), c.flags()))
            .collect::<Vec<_>>(),
        [(0xfeed_f00d, 42, 0), (u64::MAX - 1, -7, 0)],
        "the messages, in order: {got:?}"
    );
    assert!(other.peek().is_none(), "one completion per message");

    // The flags reach the kernel: IORING_MSG_RING_CQE_SKIP applies to
    // passing descriptors only, and a data message carrying it is refused.
    push_lent!(
        ring,
        MsgRing::new(&other, 3, 33)
            .msg_ring_flags(MsgRingFlags::CQE_SKIP)
            .user_data(5),
    )
    .unwrap();
    let cqe = reap(&mut ring, 1)[0];
    assert_eq!(
        cqe.res(),
        -libc::EINVAL,
        "CQE_SKIP on a data message: {cqe:?}"
    );
    assert!(other.peek().is_none(), "the refused message was not posted");

    // SAFETY: `other` is alive for the call, so its descriptor is open.
    let other_fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(other.as_raw_fd()) };
    let refused = ring.register_files(&[other_fd]);
    assert_eq!(
        refused.as_ref().map_err(|e| e.raw_os_error()).err(),
        Some(Some(libc::EBADF)),
        "registering a ring as a fixed file: {refused:?}"
    );

    // A ring cannot be a fixed file (above), so MsgRing takes a raw
    // descriptor only; one that is not a ring is refused.
    let (r, _w) = pipe();
    push_lent!(ring, MsgRing::new(&r, 1, 1).user_data(3)).unwrap();
    let cqes = reap(&mut ring, 1);
    assert_eq!(cqes[0].res(), -libc::EBADFD, "a pipe: {cqes:?}");
    assert!(other.peek().is_none(), "nothing reached the other ring");
}

// ---------------------------------------------------------------------------
// RemoveBuffers
// ---------------------------------------------------------------------------

/// Four buffers provided to a group, three removed (`RemoveBuffers`
/// completes with 3): a buffer-select read then succeeds once, in the one
/// buffer left, and the next gets `ENOBUFS`. A group that was never
/// provided has nothing to remove: `ENOENT`.
#[test]
fn remove_buffers_leaves_the_rest() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<RemoveBuffers>(&ring) {
        return;
    }
    const GROUP: BufferGroup = BufferGroup::new(21);
    let mut region = vec![0u8; 4 * 16];
    // SAFETY: `region` stays allocated and untouched until every read that
    // may select a buffer from it has completed (reaped below).
    unsafe {
        ring.push_unchecked(
            ProvideBuffers::new(BufferPool::new(&mut region, 16), GROUP).user_data(1),
        )
    }
    .unwrap();
    assert_eq!(reap(&mut ring, 1)[0].res(), 0, "provide");
    ring.push(RemoveBuffers::new(3, GROUP).user_data(2))
        .unwrap();
    let cqe = reap(&mut ring, 1)[0];
    assert_eq!((cqe.user_data(), cqe.res()), (2, 3), "remove 3: {cqe:?}");

    let (r, w) = pipe();
    let mut writer = std::fs::File::from(w);
    writer.write_all(b"first").unwrap();
    push_lent!(ring, Read::new(&r, GROUP.select(16)).user_data(3)).unwrap();
    let cqe = reap(&mut ring, 1)[0];
    assert_eq!(
        cqe.result().ok(),
        Some(5),
        "read into the last buffer: {cqe:?}"
    );
    // Buffers are handed out, and removed, from the front of the group's
    // list: ids 0, 1 and 2 went, 3 is left.
    assert_eq!(cqe.buffer_id(), Some(3), "{cqe:?}");
    assert_eq!(&region[48..53], b"first");

    writer.write_all(b"second").unwrap();
    push_lent!(ring, Read::new(&r, GROUP.select(16)).user_data(4)).unwrap();
    let cqe = reap(&mut ring, 1)[0];
    assert_eq!(cqe.res(), -libc::ENOBUFS, "no buffer left: {cqe:?}");

    ring.push(RemoveBuffers::new(1, BufferGroup::new(22)).user_data(5))
        .unwrap();
    assert_eq!(reap(&mut ring, 1)[0].res(), -libc::ENOENT);
}

// ---------------------------------------------------------------------------
// WaitId
// ---------------------------------------------------------------------------

/// Forks a child that runs `child` (which must not return) and returns
/// its pid.
fn fork_child(child: fn() -> !) -> libc::pid_t {
    // SAFETY: the child only calls async-signal-safe functions before it
    // exits (`_exit`, `pause`).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        child();
    }
    pid
}

fn exit_seven() -> ! {
    // SAFETY: _exit ends the child at once.
    unsafe { libc::_exit(7) }
}

fn pause_forever() -> ! {
    // Should the test fail before it kills the child, the child still dies
    // (of SIGALRM) instead of lingering.
    // SAFETY: alarm only arms a timer.
    unsafe { libc::alarm(60) };
    loop {
        // SAFETY: pause waits for a signal.
        unsafe { libc::pause() };
    }
}

/// `WaitId(P_PID, WEXITED)` on a child that `_exit(7)`s completes with 0
/// and a `siginfo` naming the child, `CLD_EXITED` and status 7; the child
/// is reaped. A pid that is not our child gives `ECHILD`.
#[test]
fn waitid_reaps_an_exited_child() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<WaitId<'static>>(&ring) {
        return;
    }
    let pid = fork_child(exit_seven);
    // SAFETY: all-zero bytes are a valid `siginfo_t`.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let cqe = complete(
        &mut ring,
        WaitId::new(
            WaitIdTarget::pid(pid as libc::pid_t),
            libc::WEXITED,
            &mut info,
        )
        .user_data(1),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0), "waitid: {cqe:?}");
    assert_eq!(info.si_signo, libc::SIGCHLD);
    assert_eq!(info.si_code, libc::CLD_EXITED);
    // SAFETY: a SIGCHLD siginfo carries the pid and status fields.
    let (si_pid, si_status) = unsafe { (info.si_pid(), info.si_status()) };
    assert_eq!(si_pid, pid, "the child's pid");
    assert_eq!(si_status, 7, "the child's exit status");
    // Reaped: nothing is left to wait for.
    // SAFETY: waitpid with WNOHANG only queries.
    let rc = unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
    assert_eq!(rc, -1, "the child was reaped by the op");
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::ECHILD)
    );

    // SAFETY: as above.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let cqe = complete(
        &mut ring,
        WaitId::new(
            WaitIdTarget::pid(1 as libc::pid_t),
            libc::WEXITED,
            &mut info,
        )
        .user_data(2),
    );
    assert_eq!(cqe.res(), -libc::ECHILD, "pid 1 is no child");
}

/// `WaitId` on a running child waits; when the child is killed it
/// completes with `CLD_KILLED` and the signal.
#[test]
fn waitid_waits_for_a_child_to_die() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<WaitId<'static>>(&ring) {
        return;
    }
    let pid = fork_child(pause_forever);
    // SAFETY: all-zero bytes are a valid `siginfo_t`.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` outlives the op, reaped below before it is read.
    unsafe {
        ring.push_unchecked(
            WaitId::new(
                WaitIdTarget::pid(pid as libc::pid_t),
                libc::WEXITED,
                &mut info,
            )
            .user_data(1),
        )
    }
    .unwrap();
    assert_pending(&mut ring, "waitid on a running child");
    // SAFETY: `pid` is our child, not yet reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let cqe = reap(&mut ring, 1)[0];
    assert_eq!(cqe.res(), 0, "waitid: {cqe:?}");
    assert_eq!(info.si_code, libc::CLD_KILLED);
    // SAFETY: a SIGCHLD siginfo carries the pid and status fields.
    let (si_pid, si_status) = unsafe { (info.si_pid(), info.si_status()) };
    assert_eq!((si_pid, si_status), (pid, libc::SIGKILL));
}

// ---------------------------------------------------------------------------
// Futexes
// ---------------------------------------------------------------------------

/// A `FutexWait` on a word that does not hold the value fails at once with
/// `EAGAIN`; a wake with no waiter wakes 0.
#[test]
fn futex_wait_on_a_changed_word_is_eagain() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FutexWait<'static>>(&ring) || !require_op::<FutexWake<'static>>(&ring) {
        return;
    }
    let word = AtomicU32::new(1);
    // SAFETY: `word` outlives the ops, reaped below.
    unsafe {
        ring.push_unchecked(FutexWait::new(&word, 0).user_data(1))
            .unwrap();
        ring.push_unchecked(FutexWake::new(&word, 1).user_data(2))
            .unwrap();
    }
    let cqes = reap(&mut ring, 2);
    let by = by_user_data(&cqes);
    assert_eq!(by[&1].res(), -libc::EAGAIN, "wait on 0 with 1: {cqes:?}");
    assert_eq!(by[&2].res(), 0, "nobody to wake: {cqes:?}");
}

/// A `FutexWait` on a word holding the value waits; a `FutexWake` wakes it
/// (the wake completes with 1, the wait with 0). With `PRIVATE` on both.
#[test]
fn futex_wait_then_wake() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FutexWait<'static>>(&ring) || !require_op::<FutexWake<'static>>(&ring) {
        return;
    }
    for flags in [FutexFlags::empty(), FutexFlags::PRIVATE] {
        let word = AtomicU32::new(5);
        // SAFETY: `word` outlives the ops, reaped below.
        unsafe { ring.push_unchecked(FutexWait::new(&word, 5).futex_flags(flags).user_data(1)) }
            .unwrap();
        assert_pending(&mut ring, "a futex wait");
        word.store(6, Ordering::SeqCst);
        // SAFETY: as above.
        unsafe { ring.push_unchecked(FutexWake::new(&word, 1).futex_flags(flags).user_data(2)) }
            .unwrap();
        let cqes = reap(&mut ring, 2);
        let by = by_user_data(&cqes);
        assert_eq!(by[&2].res(), 1, "{flags:?}: one woken: {cqes:?}");
        assert_eq!(by[&1].res(), 0, "{flags:?}: the wait: {cqes:?}");
    }
}

/// The masks go where the kernel reads them: a wake whose mask shares no
/// bit with the waiter's wakes nobody; one that does wakes it.
#[test]
fn futex_wake_honours_the_masks() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FutexWait<'static>>(&ring) || !require_op::<FutexWake<'static>>(&ring) {
        return;
    }
    let word = AtomicU32::new(0);
    // SAFETY: `word` outlives the ops, reaped below.
    unsafe { ring.push_unchecked(FutexWait::new(&word, 0).mask(0b01).user_data(1)) }.unwrap();
    assert_pending(&mut ring, "a masked futex wait");
    let cqe = complete(&mut ring, FutexWake::new(&word, 1).mask(0b10).user_data(2));
    assert_eq!(
        (cqe.user_data(), cqe.res()),
        (2, 0),
        "disjoint masks wake nobody"
    );
    assert_pending(&mut ring, "the waiter is still waiting");
    // SAFETY: as above.
    unsafe { ring.push_unchecked(FutexWake::new(&word, 1).mask(0b11).user_data(3)) }.unwrap();
    let cqes = reap(&mut ring, 2);
    let by = by_user_data(&cqes);
    assert_eq!(by[&3].res(), 1, "{cqes:?}");
    assert_eq!(by[&1].res(), 0, "{cqes:?}");
}

/// `FutexWaitv` over two words waits, and completes with the index of the
/// one woken; if a word does not hold its value, it fails with `EAGAIN`.
#[test]
fn futex_waitv_reports_the_woken_index() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FutexWaitv<'static>>(&ring) || !require_op::<FutexWake<'static>>(&ring) {
        return;
    }
    for woken in [1usize, 0] {
        let words = [AtomicU32::new(0), AtomicU32::new(0)];
        let waits = [
            FutexWaitV::new(&words[0], 0, FutexFlags::empty()),
            FutexWaitV::new(&words[1], 0, FutexFlags::empty()),
        ];
        // SAFETY: `words` and `waits` outlive the ops, reaped below.
        unsafe { ring.push_unchecked(FutexWaitv::new(&waits[..]).user_data(1)) }.unwrap();
        assert_pending(&mut ring, "a futex waitv");
        // SAFETY: as above.
        unsafe { ring.push_unchecked(FutexWake::new(&words[woken], 1).user_data(2)) }.unwrap();
        let cqes = reap(&mut ring, 2);
        let by = by_user_data(&cqes);
        assert_eq!(by[&2].res(), 1, "word {woken}: one woken: {cqes:?}");
        assert_eq!(
            by[&1].result().ok(),
            Some(woken as u32),
            "the index of the woken word: {cqes:?}"
        );
    }

    let words = [AtomicU32::new(0), AtomicU32::new(3)];
    let waits = [
        FutexWaitV::new(&words[0], 0, FutexFlags::empty()),
        FutexWaitV::new(&words[1], 0, FutexFlags::empty()),
    ];
    let cqe = complete(&mut ring, FutexWaitv::new(&waits[..]).user_data(3));
    assert_eq!(cqe.res(), -libc::EAGAIN, "word 1 holds 3, not 0: {cqe:?}");
}

// ---------------------------------------------------------------------------
// UringCmd on sockets
// ---------------------------------------------------------------------------

/// `SOCKET_URING_OP_SIOCINQ` on a TCP socket with 5 unread bytes completes
/// with 5, and with 0 once they are read; `SIOCOUTQ` on a socket that sent
/// nothing with 0; on UDP, `SIOCINQ` is the size of the first datagram.
/// An unknown command fails with `EOPNOTSUPP`, as does a file without
/// commands (a pipe).
#[test]
fn uring_cmd_socket_queue_sizes() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<UringCmd>(&ring) || !require_kernel(6, 7, "socket uring_cmds") {
        return;
    }
    let (client, server) = tcp_pair();
    (&client).write_all(b"five!").unwrap();
    wait_readable(server.as_fd());
    let files = ring.register_files(&[server.as_fd()]).unwrap();
    push_lent!(
        ring,
        UringCmd::new(&server, SOCKET_URING_OP_SIOCINQ).user_data(1)
    )
    .unwrap();
    push_lent!(
        ring,
        UringCmd::new(files.get(0).unwrap(), SOCKET_URING_OP_SIOCINQ).user_data(2)
    )
    .unwrap();
    push_lent!(
        ring,
        UringCmd::new(&server, SOCKET_URING_OP_SIOCOUTQ).user_data(3)
    )
    .unwrap();
    push_lent!(
        ring,
        UringCmd::new(&client, SOCKET_URING_OP_SIOCINQ).user_data(4)
    )
    .unwrap();
    let cqes = reap(&mut ring, 4);
    let by = by_user_data(&cqes);
    assert_eq!(by[&1].res(), 5, "SIOCINQ with 5 unread bytes: {cqes:?}");
    assert_eq!(by[&2].res(), 5, "the same through a fixed file: {cqes:?}");
    assert_eq!(
        by[&3].res(),
        0,
        "SIOCOUTQ of a socket that sent nothing: {cqes:?}"
    );
    assert_eq!(by[&4].res(), 0, "SIOCINQ with nothing to read: {cqes:?}");

    let mut five = [0u8; 5];
    (&server).read_exact(&mut five).unwrap();
    push_lent!(
        ring,
        UringCmd::new(&server, SOCKET_URING_OP_SIOCINQ).user_data(5)
    )
    .unwrap();
    assert_eq!(reap(&mut ring, 1)[0].res(), 0, "all read");

    let Some((a, b)) = udp_pair("127.0.0.1") else {
        return;
    };
    let to = b.local_addr().unwrap();
    a.send_to(b"seven!!", to).unwrap();
    a.send_to(b"333", to).unwrap();
    wait_readable(b.as_fd());
    push_lent!(
        ring,
        UringCmd::new(&b, SOCKET_URING_OP_SIOCINQ).user_data(6)
    )
    .unwrap();
    assert_eq!(reap(&mut ring, 1)[0].res(), 7, "the first datagram's size");

    push_lent!(
        ring,
        UringCmd::new(&server, SOCKET_URING_OP_UNKNOWN).user_data(7)
    )
    .unwrap();
    let (r, _w) = pipe();
    push_lent!(
        ring,
        UringCmd::new(&r, SOCKET_URING_OP_SIOCINQ).user_data(8)
    )
    .unwrap();
    let cqes = reap(&mut ring, 2);
    let by = by_user_data(&cqes);
    assert_eq!(by[&7].res(), -libc::EOPNOTSUPP, "unknown command: {cqes:?}");
    assert_eq!(by[&8].res(), -libc::EOPNOTSUPP, "a pipe: {cqes:?}");
}
