//! The reactor's ops that make descriptors without a path: `Socket` and
//! `Pipe`, each handing its new descriptors over as `OwnedFd`s with its
//! completion, and nothing for a failure or a future dropped on the way.

use std::fs::File;
use std::io::{ErrorKind, Read as _, Write as _};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use uring::reactor::Reactor;
use uring::reactor::ops::{Pipe, Socket};
use uring_tests::{in_own_process, require_kernel};

/// The `F_GETFD` and `F_GETFL` flags of `fd`.
fn fd_flags(fd: &OwnedFd) -> (i32, i32) {
    // SAFETY: fcntl reads the flags of a descriptor the test owns.
    unsafe {
        (
            libc::fcntl(fd.as_raw_fd(), libc::F_GETFD),
            libc::fcntl(fd.as_raw_fd(), libc::F_GETFL),
        )
    }
}

/// An integer socket option of `fd`.
fn sockopt(fd: &OwnedFd, name: i32) -> i32 {
    let mut value: i32 = -1;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes to `value`.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            name,
            (&raw mut value).cast(),
            &mut len,
        )
    };
    assert_eq!(r, 0, "getsockopt");
    value
}

#[test]
fn sockets_of_each_kind_are_made_and_owned() {
    if !require_kernel(5, 19, "IORING_OP_SOCKET") {
        return;
    }
    let reactor = Reactor::new().unwrap();
    for (domain, ty, nonblocking) in [
        (libc::AF_INET, libc::SOCK_STREAM, false),
        (libc::AF_INET6, libc::SOCK_DGRAM, false),
        (libc::AF_UNIX, libc::SOCK_SEQPACKET, false),
        (libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_NONBLOCK, true),
    ] {
        let (result, fd) = reactor
            .run_until(reactor.op(Socket::new(domain, ty)))
            .unwrap();
        let raw = result.unwrap_or_else(|e| panic!("socket({domain}, {ty}): {e}"));
        let fd = fd.expect("a descriptor");
        assert_eq!(fd.as_raw_fd() as u32, raw);
        assert_eq!(sockopt(&fd, libc::SO_DOMAIN), domain);
        assert_eq!(sockopt(&fd, libc::SO_TYPE), ty & !libc::SOCK_NONBLOCK);
        let (fd_flags, fl_flags) = fd_flags(&fd);
        assert_eq!(fd_flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        assert_eq!(fl_flags & libc::O_NONBLOCK != 0, nonblocking);
    }
}

#[test]
fn a_udp_socket_it_made_sends_and_receives() {
    if !require_kernel(5, 19, "IORING_OP_SOCKET") {
        return;
    }
    let reactor = Reactor::new().unwrap();
    let (result, fd) = reactor
        .run_until(
            reactor.op(Socket::new(libc::AF_INET, libc::SOCK_DGRAM).protocol(libc::IPPROTO_UDP)),
        )
        .unwrap();
    assert!(result.is_ok());
    let made = std::net::UdpSocket::from(fd.unwrap());
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    made.send_to(b"datagram", peer.local_addr().unwrap())
        .unwrap();
    let mut buf = [0u8; 16];
    let (n, from) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"datagram");
    // Bound on its first send, to a wildcard address and that port.
    assert_eq!(from.port(), made.local_addr().unwrap().port());
}

#[test]
fn sockets_the_kernel_refuses_give_nothing() {
    if !require_kernel(5, 19, "IORING_OP_SOCKET") {
        return;
    }
    let reactor = Reactor::new().unwrap();
    for (op, errno) in [
        (Socket::new(libc::AF_INET, 0x7777), libc::EINVAL),
        (
            Socket::new(libc::AF_INET, libc::SOCK_STREAM).protocol(libc::IPPROTO_UDP),
            libc::EPROTONOSUPPORT,
        ),
    ] {
        let (result, fd) = reactor.run_until(reactor.op(op)).unwrap();
        assert_eq!(result.unwrap_err().raw_os_error(), Some(errno));
        assert!(fd.is_none());
    }
}

#[test]
fn a_pipe_gives_both_ends() {
    if !require_kernel(6, 16, "IORING_OP_PIPE") {
        return;
    }
    let reactor = Reactor::new().unwrap();
    let (result, ends) = reactor.run_until(reactor.op(Pipe::new())).unwrap();
    assert_eq!(result.unwrap(), 0);
    let (rx, tx) = ends.expect("the ends");
    for end in [&rx, &tx] {
        assert_eq!(fd_flags(end).0 & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
    }
    let (mut rx, mut tx) = (File::from(rx), File::from(tx));
    tx.write_all(b"one way").unwrap();
    drop(tx);
    let mut got = String::new();
    rx.read_to_string(&mut got).unwrap();
    assert_eq!(got, "one way");
}

#[test]
fn a_nonblocking_pipe_and_refused_flags() {
    if !require_kernel(6, 16, "IORING_OP_PIPE") {
        return;
    }
    let reactor = Reactor::new().unwrap();
    let (result, ends) = reactor
        .run_until(reactor.op(Pipe::new().flags(libc::O_NONBLOCK)))
        .unwrap();
    assert_eq!(result.unwrap(), 0);
    let (rx, _tx) = ends.unwrap();
    assert_ne!(fd_flags(&rx).1 & libc::O_NONBLOCK, 0);
    let mut rx = File::from(rx);
    assert_eq!(
        rx.read(&mut [0; 4]).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    let (result, ends) = reactor
        .run_until(reactor.op(Pipe::new().flags(libc::O_APPEND)))
        .unwrap();
    assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::EINVAL));
    assert!(ends.is_none());
}

#[test]
fn pipes_and_sockets_through_callbacks() {
    if !require_kernel(6, 16, "IORING_OP_PIPE") {
        return;
    }
    let reactor = Reactor::new().unwrap();
    let got = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    for i in 0..20u8 {
        let g = got.clone();
        reactor
            .handle()
            .queue(Pipe::new(), move |result, ends| {
                assert_eq!(result.unwrap(), 0);
                let (rx, tx) = ends.unwrap();
                let (mut rx, mut tx) = (File::from(rx), File::from(tx));
                tx.write_all(&[i]).unwrap();
                let mut b = [0u8];
                rx.read_exact(&mut b).unwrap();
                g.borrow_mut().push(b[0]);
            })
            .unwrap();
        let g = got.clone();
        reactor
            .handle()
            .queue(
                Socket::new(libc::AF_UNIX, libc::SOCK_STREAM),
                move |result, fd| {
                    assert_eq!(result.unwrap() as RawFd, fd.as_ref().unwrap().as_raw_fd());
                    g.borrow_mut().push(100 + i);
                },
            )
            .unwrap();
    }
    reactor.run().unwrap();
    let mut got = got.borrow().clone();
    got.sort_unstable();
    let want: Vec<u8> = (0..20).chain(100..120).collect();
    assert_eq!(got, want);
}

const DROPPED: &str = "dropped_futures_and_shutdown_leave_no_descriptor_open";

#[test]
fn dropped_futures_and_shutdown_leave_no_descriptor_open() {
    if !require_kernel(6, 16, "IORING_OP_PIPE") {
        return;
    }
    in_own_process(DROPPED, "dropped pipe futures", || {
        let before = uring_tests::open_fd_set();
        let reactor = Reactor::new().unwrap();
        let with_reactor = uring_tests::open_fd_set();
        // Futures dropped unpolled, polled once, and resolved but dropped.
        for i in 0..30 {
            let pipe = reactor.op(Pipe::new());
            let socket = reactor.op(Socket::new(libc::AF_INET, libc::SOCK_STREAM));
            match i % 3 {
                0 => drop((pipe, socket)),
                1 => {
                    let mut pipe = Box::pin(pipe);
                    let mut socket = Box::pin(socket);
                    let _ = uring_tests::poll_once(&mut pipe);
                    let _ = uring_tests::poll_once(&mut socket);
                    drop((pipe, socket));
                }
                _ => {
                    let (r, ends) = reactor.run_until(pipe).unwrap();
                    assert_eq!(r.unwrap(), 0);
                    let (r, fd) = reactor.run_until(socket).unwrap();
                    assert!(r.is_ok());
                    drop((ends, fd));
                }
            }
        }
        // Callbacks whose ops are still queued when the reactor drops.
        for _ in 0..10 {
            reactor.handle().queue(Pipe::new(), |_, _| {}).unwrap();
        }
        uring_tests::run_for(&reactor, 20);
        assert_eq!(uring_tests::open_fd_set(), with_reactor, "every end closed");
        for _ in 0..10 {
            reactor.handle().queue(Pipe::new(), |_, _| {}).unwrap();
        }
        drop(reactor);
        assert_eq!(
            uring_tests::open_fd_set(),
            before,
            "every end closed, and the ring"
        );
    });
}
