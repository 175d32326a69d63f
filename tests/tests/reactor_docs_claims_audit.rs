//! What the rustdoc of the event-loop layer (`uring::reactor`, its ops in
//! `reactor::ops`, and `uring::net`) claims, checked where no other suite
//! looks: the `Pipe` op's flags (`O_DIRECT` makes a packet pipe; "another
//! flag fails with `EINVAL`", which the notification-pipe flag does not);
//! `RenameAt`'s `from_dir` / `to_dir`, each path in its own directory,
//! with `RENAME_NOREPLACE` and `RENAME_EXCHANGE` across them; `Statx`'s
//! flags "added to those set" (so `Statx::of` keeps `AT_EMPTY_PATH`);
//! a listener's `incoming` stream, which "takes the setting it had when it
//! was made"; a connect to the unspecified address, whose peer is "the
//! loopback's"; a UDP socket's `peer_addr` before `connect`, its receive
//! "from anyone before" and from the peer alone after, and its cut count
//! ("`buf`'s room"); `Connect::with_addr` and `SendTo::with_addr` with
//! Unix-domain paths and abstract names; reads into a `Vec` (its length
//! "only grows") and into a `RingBuf` (its length "becomes the byte count",
//! the end of the stream "empties it", which it does not); a multishot
//! stream cancelled by its id ("yields what arrived before, then ends");
//! and an op future's id ("`None` once it completed", which it is only
//! once the future was polled) and the cancel of a completed op's id.
//!
//! Read against Linux 6.18: `fs/pipe.c` (`__do_pipe_flags`, which lets
//! `O_NOTIFICATION_PIPE` = `O_EXCL` through beside `O_CLOEXEC`,
//! `O_NONBLOCK` and `O_DIRECT`; `create_pipe_files`, which hands it to
//! `watch_queue_init`, `-ENOPKG` without `CONFIG_WATCH_QUEUE`; `pipe_write`
//! and `pipe_read` with `PIPE_BUF_FLAG_PACKET`), `io_uring/openclose.c`
//! (`io_pipe_prep`, the same mask), `io_uring/fs.c` (`io_renameat`),
//! `io_uring/statx.c`, `io_uring/net.c` (`io_accept` multishot and its
//! cancel), `net/ipv4/udp.c` (a connected socket's lookup score) and
//! `net/ipv4/af_inet.c` (`inet_stream_connect`, `INADDR_ANY` as the
//! loopback).
//!
//! Every test is safe code against the running kernel and checks what the
//! kernel did: results, errnos, bytes, descriptor flags.

use std::ffi::CString;
use std::io::{self, Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;
use std::time::Duration;

use uring::net::{TcpListener, TcpStream, UdpSocket};
use uring::reactor::ops::{AcceptMulti, Connect, Pipe, Read, RecvRing, RenameAt, SendTo, Statx};
use uring::reactor::{Reactor, SharedFd};
use uring::{BufferGroup, SockAddr};
use uring_tests::{require_kernel, skip, watchdog};

/// The `F_GETFL` flags of `fd`.
fn status_flags(fd: BorrowedFd<'_>) -> i32 {
    // SAFETY: `F_GETFL` reads the flags of a descriptor the caller borrows;
    // no memory is passed.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    assert!(flags >= 0, "{}", io::Error::last_os_error());
    flags
}

/// Whether `fd` is close-on-exec.
fn cloexec(fd: BorrowedFd<'_>) -> bool {
    // SAFETY: `F_GETFD` reads the descriptor flags of a descriptor the
    // caller borrows; no memory is passed.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
    assert!(flags >= 0, "{}", io::Error::last_os_error());
    flags & libc::FD_CLOEXEC != 0
}

/// An `int` option of a socket, as the kernel reads it back.
fn int_option(fd: BorrowedFd<'_>, level: i32, name: i32) -> i32 {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are live locals of the sizes given.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&raw mut value).cast(),
            &raw mut len,
        )
    };
    assert_eq!(r, 0, "{}", io::Error::last_os_error());
    value
}

fn cpath(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap()
}

fn errno<T>(r: &io::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(io::Error::raw_os_error)
}

// ---------------------------------------------------------------------------
// Pipe
// ---------------------------------------------------------------------------

/// `Pipe::flags`: "`O_NONBLOCK` and `O_DIRECT` (a packet pipe), added to
/// `O_CLOEXEC`". Both ends close-on-exec and non-blocking; the write end
/// `O_DIRECT`, so each write is a packet (`pipe_write` marks its buffer
/// `PIPE_BUF_FLAG_PACKET`) and a read of more takes one packet alone.
#[test]
fn the_pipe_op_with_o_direct_makes_a_packet_pipe() {
    let _watch = watchdog();
    if !require_kernel(6, 16, "IORING_OP_PIPE") {
        return;
    }
    let reactor = Reactor::new().unwrap();
    let (result, ends) = reactor
        .run_until(reactor.op(Pipe::new().flags(libc::O_NONBLOCK | libc::O_DIRECT)))
        .unwrap();
    assert_eq!(result.unwrap(), 0);
    let (rx, tx) = ends.expect("two ends");
    for (end, what) in [(rx.as_fd(), "read"), (tx.as_fd(), "write")] {
        assert!(cloexec(end), "{what} end not close-on-exec");
        assert_ne!(status_flags(end) & libc::O_NONBLOCK, 0, "{what} end");
    }
    assert_ne!(status_flags(tx.as_fd()) & libc::O_DIRECT, 0);
    let (mut rx, mut tx) = (std::fs::File::from(rx), std::fs::File::from(tx));
    tx.write_all(b"abc").unwrap();
    tx.write_all(b"defgh").unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(rx.read(&mut buf).unwrap(), 3, "one packet per read");
    assert_eq!(&buf[..3], b"abc");
    assert_eq!(rx.read(&mut buf).unwrap(), 5);
    assert_eq!(&buf[..5], b"defgh");
    assert_eq!(
        rx.read(&mut buf).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
}

/// `Pipe::flags`: "`O_NOTIFICATION_PIPE` (the bits of `O_EXCL`) asks for
/// a notification pipe, which a kernel built without `CONFIG_WATCH_QUEUE`
/// refuses (`ENOPKG`); another flag fails with `EINVAL`". `O_APPEND` and
/// `O_SYNC` are refused with `EINVAL`; `O_EXCL` makes a notification pipe
/// (its ends given) or fails with `ENOPKG`, as the kernel is built
/// (`__do_pipe_flags`, `io_pipe_prep`).
#[test]
fn pipe_flags_outside_nonblock_and_direct_fail_as_documented() {
    let _watch = watchdog();
    if !require_kernel(6, 16, "IORING_OP_PIPE") {
        return;
    }
    let reactor = Reactor::new().unwrap();
    for flag in [libc::O_APPEND, libc::O_SYNC] {
        let (result, ends) = reactor
            .run_until(reactor.op(Pipe::new().flags(flag)))
            .unwrap();
        assert_eq!(
            errno(&result),
            Some(libc::EINVAL),
            "flag {flag:#o}: {result:?}, ends {ends:?}"
        );
        assert!(ends.is_none());
    }
    let (result, ends) = reactor
        .run_until(reactor.op(Pipe::new().flags(libc::O_EXCL)))
        .unwrap();
    match result {
        Ok(_) => assert!(ends.is_some(), "a notification pipe without its ends"),
        Err(_) => {
            assert_eq!(errno(&result), Some(libc::ENOPKG), "{result:?}");
            assert!(ends.is_none());
        }
    }
}

// ---------------------------------------------------------------------------
// RenameAt and Statx
// ---------------------------------------------------------------------------

fn dir_fd(path: &Path) -> SharedFd {
    SharedFd::new(std::fs::File::open(path).unwrap())
}

/// `RenameAt::from_dir` / `to_dir`: "`from` relative to the directory
/// `dir`", "`to` relative to the directory `dir`": each path is resolved
/// in its own directory (the kernel's `renameat2(olddirfd, old, newdirfd,
/// new)`), the two never swapped; `in_dir` names both; an absolute `from`
/// ignores the directory; `RENAME_NOREPLACE` across them fails with
/// `EEXIST` and moves nothing; `RENAME_EXCHANGE` swaps the two files.
#[test]
fn rename_at_resolves_from_and_to_each_in_its_own_directory() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    std::fs::create_dir(&a).unwrap();
    std::fs::create_dir(&b).unwrap();
    std::fs::write(a.join("x"), b"from a").unwrap();
    let (da, db) = (dir_fd(&a), dir_fd(&b));
    let go = |op: RenameAt| reactor.run_until(reactor.op(op)).unwrap().0;

    // a/x -> b/y.
    let r = go(RenameAt::new(c"x".into(), c"y".into())
        .from_dir(&da)
        .to_dir(&db));
    assert_eq!(r.unwrap(), 0);
    assert!(!a.join("x").exists());
    assert_eq!(std::fs::read(b.join("y")).unwrap(), b"from a");

    // Swapped directories would look for b/y in a: the op's own order is
    // kept for the reverse too, b/y -> a/z.
    let r = go(RenameAt::new(c"y".into(), c"z".into())
        .from_dir(&db)
        .to_dir(&da));
    assert_eq!(r.unwrap(), 0);
    assert_eq!(std::fs::read(a.join("z")).unwrap(), b"from a");

    // An absolute `from`, the directory of `to` alone: a/z -> b/w.
    let r = go(RenameAt::new(cpath(&a.join("z")), c"w".into()).to_dir(&db));
    assert_eq!(r.unwrap(), 0);
    assert_eq!(std::fs::read(b.join("w")).unwrap(), b"from a");

    // `in_dir`: both in b.
    std::fs::write(b.join("v"), b"from b").unwrap();
    let r = go(RenameAt::new(c"v".into(), c"w".into())
        .in_dir(&db)
        .flags(libc::RENAME_NOREPLACE));
    assert_eq!(errno(&r), Some(libc::EEXIST), "{r:?}");
    assert_eq!(std::fs::read(b.join("v")).unwrap(), b"from b");
    assert_eq!(std::fs::read(b.join("w")).unwrap(), b"from a");

    // Across the two directories, exchanged.
    std::fs::write(a.join("u"), b"in a").unwrap();
    let r = go(RenameAt::new(c"u".into(), c"v".into())
        .from_dir(&da)
        .to_dir(&db)
        .flags(libc::RENAME_EXCHANGE));
    assert_eq!(r.unwrap(), 0);
    assert_eq!(std::fs::read(a.join("u")).unwrap(), b"from b");
    assert_eq!(std::fs::read(b.join("v")).unwrap(), b"in a");

    // A missing source in the named directory: ENOENT, nothing made.
    let r = go(RenameAt::new(c"nothing".into(), c"t".into())
        .from_dir(&da)
        .to_dir(&db));
    assert_eq!(errno(&r), Some(libc::ENOENT), "{r:?}");
    assert!(!b.join("t").exists());
}

/// `Statx::flags`: "added to those set". `Statx::of(fd)` sets
/// `AT_EMPTY_PATH` with an empty path; `AT_SYMLINK_NOFOLLOW` added to it
/// still reads the descriptor's file (had it replaced the flag, the empty
/// path would fail with `ENOENT`). On a path, the same flag reads the link
/// itself rather than its target.
#[test]
fn statx_flags_add_to_the_empty_path_of_statx_of() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("file");
    std::fs::write(&file, vec![7u8; 1234]).unwrap();
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    let fd = SharedFd::new(std::fs::File::open(&file).unwrap());

    let (r, st) = reactor
        .run_until(reactor.op(Statx::of(&fd).flags(libc::AT_SYMLINK_NOFOLLOW)))
        .unwrap();
    assert_eq!(r.unwrap(), 0);
    assert_eq!(st.stx_size, 1234);
    assert_eq!(u32::from(st.stx_mode) & libc::S_IFMT, libc::S_IFREG);

    let (r, st) = reactor
        .run_until(reactor.op(Statx::new(cpath(&link))))
        .unwrap();
    assert_eq!(r.unwrap(), 0);
    assert_eq!(u32::from(st.stx_mode) & libc::S_IFMT, libc::S_IFREG);
    let (r, st) = reactor
        .run_until(reactor.op(Statx::new(cpath(&link)).flags(libc::AT_SYMLINK_NOFOLLOW)))
        .unwrap();
    assert_eq!(r.unwrap(), 0);
    assert_eq!(u32::from(st.stx_mode) & libc::S_IFMT, libc::S_IFLNK);
}

// ---------------------------------------------------------------------------
// Listeners, connects, UDP
// ---------------------------------------------------------------------------

fn loopback() -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
}

/// `TcpListener::set_keepalive`: "An `incoming` stream takes the setting
/// it had when it was made", while `accept` takes the listener's setting
/// at the time. A stream made before `set_keepalive(Some(40 s))` still
/// gives its connections Go's 15 s; one made after, 40 s; `accept`, 40 s;
/// after `set_keepalive(None)`, a new stream leaves keep-alive off.
#[test]
fn an_incoming_stream_keeps_the_keepalive_of_when_it_was_made() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = TcpListener::bind(&h, loopback()).unwrap();
    let at = listener.local_addr().unwrap();
    let idle = |s: &TcpStream| {
        let fd = s.as_fd();
        (
            int_option(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE),
            int_option(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE),
        )
    };
    let mut clients = Vec::new();

    let mut early = listener.incoming();
    listener.set_keepalive(Some(Duration::from_secs(40)));
    clients.push(std::net::TcpStream::connect(at).unwrap());
    let s = reactor.run_until(early.next()).unwrap().unwrap().unwrap();
    assert_eq!(idle(&s), (1, 15), "the stream made before the change");

    clients.push(std::net::TcpStream::connect(at).unwrap());
    let s = reactor.run_until(early.next()).unwrap().unwrap().unwrap();
    assert_eq!(idle(&s), (1, 15), "still the stream's own setting");
    drop(early);
    // The dropped stream's accept may take a connection before its cancel
    // lands: it is kept for the next accept, so nothing below is lost.
    reactor.run_until(async {}).unwrap();

    clients.push(std::net::TcpStream::connect(at).unwrap());
    let s = reactor.run_until(listener.accept()).unwrap().unwrap();
    assert_eq!(idle(&s), (1, 40), "accept reads the listener's setting");

    let mut late = listener.incoming();
    clients.push(std::net::TcpStream::connect(at).unwrap());
    let s = reactor.run_until(late.next()).unwrap().unwrap().unwrap();
    assert_eq!(idle(&s), (1, 40));
    drop(late);
    reactor.run_until(async {}).unwrap();

    listener.set_keepalive(None);
    let mut off = listener.incoming();
    listener.set_keepalive(Some(Duration::from_secs(99)));
    clients.push(std::net::TcpStream::connect(at).unwrap());
    let s = reactor.run_until(off.next()).unwrap().unwrap().unwrap();
    assert_eq!(
        s.keepalive().unwrap(),
        None,
        "the stream was made with None"
    );
    assert_eq!(
        int_option(s.as_fd(), libc::SOL_SOCKET, libc::SO_KEEPALIVE),
        0
    );
}

/// `TcpStream::peer_addr`: "for a stream from `connect`, the address the
/// kernel connected to, which for `0.0.0.0` is the loopback's". A connect
/// to `0.0.0.0:port` reaches the loopback listener, and the peer reported
/// is `127.0.0.1:port`, not the address given; the accepted side sees the
/// client's own address as its peer.
#[test]
fn a_connect_to_the_unspecified_address_names_the_loopback_as_its_peer() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = TcpListener::bind(&h, loopback()).unwrap();
    let port = listener.local_addr().unwrap().port();
    let any: SocketAddr = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port).into();
    let (client, server) = reactor
        .run_until(async {
            let client = TcpStream::connect(&h, any).await?;
            let server = listener.accept().await?;
            io::Result::Ok((client, server))
        })
        .unwrap()
        .unwrap();
    assert_eq!(
        client.peer_addr().unwrap(),
        SocketAddr::from((Ipv4Addr::LOCALHOST, port))
    );
    assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
}

/// `UdpSocket`: `peer_addr` is "`ENOTCONN` before" a connect; `recv`
/// takes a datagram "from anyone before" and "from the connected peer once
/// connected" (the kernel no longer delivers another sender's datagrams to
/// the socket); a longer datagram "is cut to it ... the count says nothing
/// of the cut (it is `buf`'s room)".
#[test]
fn udp_peer_addr_receives_and_cuts_as_documented() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let socket = UdpSocket::bind(&h, loopback()).unwrap();
    let at = socket.local_addr().unwrap();
    let err = socket.peer_addr().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOTCONN), "{err:?}");
    assert_eq!(err.kind(), io::ErrorKind::NotConnected);

    let stranger = std::net::UdpSocket::bind(loopback()).unwrap();
    let peer = std::net::UdpSocket::bind(loopback()).unwrap();
    stranger.send_to(b"before", at).unwrap();
    let (n, buf) = reactor.run_until(socket.recv(vec![0u8; 32])).unwrap();
    assert_eq!(&buf[..n.unwrap()], b"before");

    socket.connect(peer.local_addr().unwrap()).unwrap();
    assert_eq!(socket.peer_addr().unwrap(), peer.local_addr().unwrap());
    stranger.send_to(b"dropped", at).unwrap();
    peer.send_to(b"from the peer", at).unwrap();
    let (n, buf) = reactor.run_until(socket.recv(vec![0u8; 32])).unwrap();
    assert_eq!(&buf[..n.unwrap()], b"from the peer");

    peer.send_to(b"0123456789", at).unwrap();
    let (n, buf) = reactor
        .run_until(socket.recv(Vec::with_capacity(4)))
        .unwrap();
    assert_eq!(n.unwrap(), 4, "the count is the buffer's room");
    assert_eq!(buf, b"0123");
    // The cut's rest is gone, and the stranger's datagram never came.
    peer.send_to(b"next", at).unwrap();
    let (n, buf) = reactor.run_until(socket.recv(vec![0u8; 32])).unwrap();
    assert_eq!(&buf[..n.unwrap()], b"next");
}

/// `Connect::with_addr` and `SendTo::with_addr`: "an address in the
/// kernel's layout: a Unix-domain one (`SockAddr::unix`) as well as an IP
/// one". A stream connect to a path and to an abstract name reaches the
/// listener bound there; a datagram sent to a path and to an abstract name
/// reaches the socket bound there; a path nobody listens on is
/// `ECONNREFUSED` (the socket exists) or `ENOENT`.
#[test]
fn connect_and_send_to_take_unix_paths_and_abstract_names() {
    use std::os::linux::net::SocketAddrExt as _;
    use std::os::unix::net::{SocketAddr as UnixAddr, UnixDatagram, UnixListener};

    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let stream_socket = || {
        SharedFd::new(
            uring_tests::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC).unwrap(),
        )
    };

    let path = tmp.path().join("listener");
    let listener = UnixListener::bind(&path).unwrap();
    let fd = stream_socket();
    let (r, ()) = reactor
        .run_until(reactor.op(Connect::with_addr(&fd, SockAddr::unix(&path).unwrap())))
        .unwrap();
    assert_eq!(r.unwrap(), 0);
    let (mut served, _) = listener.accept().unwrap();
    let client = std::os::unix::net::UnixStream::from(fd.try_unwrap().unwrap());
    (&client).write_all(b"by path").unwrap();
    let mut got = [0u8; 7];
    served.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"by path");

    let name = format!("uring-docs-audit-{}", std::process::id());
    let abstract_addr = UnixAddr::from_abstract_name(name.as_bytes()).unwrap();
    let abstract_listener = UnixListener::bind_addr(&abstract_addr).unwrap();
    let fd = stream_socket();
    let (r, ()) = reactor
        .run_until(reactor.op(Connect::with_addr(&fd, SockAddr::from(&abstract_addr))))
        .unwrap();
    assert_eq!(r.unwrap(), 0);
    let (_served, from) = abstract_listener.accept().unwrap();
    assert!(from.is_unnamed());

    let fd = stream_socket();
    let (r, ()) = reactor
        .run_until(reactor.op(Connect::with_addr(
            &fd,
            SockAddr::unix(tmp.path().join("nobody")).unwrap(),
        )))
        .unwrap();
    assert_eq!(errno(&r), Some(libc::ENOENT), "{r:?}");

    let dpath = tmp.path().join("datagrams");
    let receiver = UnixDatagram::bind(&dpath).unwrap();
    let dname = format!("uring-docs-audit-dgram-{}", std::process::id());
    let daddr = UnixAddr::from_abstract_name(dname.as_bytes()).unwrap();
    let abstract_receiver = UnixDatagram::bind_addr(&daddr).unwrap();
    let sender = SharedFd::new(
        uring_tests::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC).unwrap(),
    );
    let (r, buf) = reactor
        .run_until(reactor.op(SendTo::with_addr(
            &sender,
            b"to a path".to_vec(),
            SockAddr::unix(&dpath).unwrap(),
        )))
        .unwrap();
    assert_eq!(r.unwrap(), 9);
    assert_eq!(buf, b"to a path");
    let (r, _) = reactor
        .run_until(reactor.op(SendTo::with_addr(
            &sender,
            b"to a name",
            SockAddr::from(&daddr),
        )))
        .unwrap();
    assert_eq!(r.unwrap(), 9);
    let mut got = [0u8; 32];
    let n = receiver.recv(&mut got).unwrap();
    assert_eq!(&got[..n], b"to a path");
    let n = abstract_receiver.recv(&mut got).unwrap();
    assert_eq!(&got[..n], b"to a name");
}

// ---------------------------------------------------------------------------
// Buffers read into
// ---------------------------------------------------------------------------

/// `IoBufMut` for `Vec<u8>` and `RingBuf`: a read fills a buffer "from its
/// first byte"; "a `RingBuf`'s length becomes the byte count: what the
/// read wrote, and no more (a `Vec`'s only grows, keeping what it held past
/// the count)." `RingBuf::truncate`: "no effect if longer".
#[test]
fn a_read_grows_a_vec_and_sets_a_ring_buf_to_its_count() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (rx, tx) = uring_tests::pipe();
    let rx = SharedFd::new(rx);
    let mut tx = std::fs::File::from(tx);

    tx.write_all(b"abc").unwrap();
    let (r, v) = reactor
        .run_until(reactor.op(Read::new(&rx, vec![b'x'; 10], u64::MAX)))
        .unwrap();
    assert_eq!(r.unwrap(), 3);
    assert_eq!(v, b"abcxxxxxxx", "a Vec keeps its length and its tail");

    let mut short = Vec::with_capacity(16);
    short.extend_from_slice(b"yy");
    tx.write_all(b"12345").unwrap();
    let (r, v) = reactor
        .run_until(reactor.op(Read::new(&rx, short, u64::MAX)))
        .unwrap();
    assert_eq!(r.unwrap(), 5);
    assert_eq!(v, b"12345", "a Vec grows to the count");

    let group = match reactor.register_buf_ring(BufferGroup::new(9), 2, 32) {
        Ok(group) => group,
        Err(e) => return skip(format!("no buffer rings: {e}")),
    };
    let (srx, mut stx) = std::os::unix::net::UnixStream::pair().unwrap();
    let srx = SharedFd::new(srx);
    stx.write_all(b"twenty bytes of data").unwrap();
    let (r, rb) = reactor
        .run_until(reactor.op(RecvRing::new(&srx, group)))
        .unwrap();
    assert_eq!(r.unwrap(), 20);
    let mut rb = rb.expect("a buffer");
    assert_eq!(&rb[..], b"twenty bytes of data");
    assert_eq!(rb.capacity(), 32);
    rb.truncate(100);
    assert_eq!(rb[..].len(), 20, "truncate to more does nothing");

    tx.write_all(b"new").unwrap();
    let (r, rb) = reactor
        .run_until(reactor.op(Read::new(&rx, rb, u64::MAX)))
        .unwrap();
    assert_eq!(r.unwrap(), 3);
    assert_eq!(&rb[..], b"new", "a RingBuf's length is the count");
}

/// `impl IoBufMut for RingBuf`: "A read at the end of the stream (0
/// bytes) empties it." A `RingBuf` holding a receive's bytes, read into
/// again at the end of a pipe, comes back empty (it used to come back with
/// its old length and bytes, as if they had been read again).
#[test]
fn a_read_at_the_end_of_the_stream_empties_a_ring_buf() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let group = match reactor.register_buf_ring(BufferGroup::new(10), 1, 32) {
        Ok(group) => group,
        Err(e) => return skip(format!("no buffer rings: {e}")),
    };
    let (srx, mut stx) = std::os::unix::net::UnixStream::pair().unwrap();
    let srx = SharedFd::new(srx);
    stx.write_all(b"old bytes").unwrap();
    let (r, rb) = reactor
        .run_until(reactor.op(RecvRing::new(&srx, group)))
        .unwrap();
    assert_eq!(r.unwrap(), 9);
    let rb = rb.expect("a buffer");
    assert_eq!(&rb[..], b"old bytes");

    let (rx, tx) = uring_tests::pipe();
    let rx = SharedFd::new(rx);
    drop(tx);
    let (r, rb) = reactor
        .run_until(reactor.op(Read::new(&rx, rb, u64::MAX)))
        .unwrap();
    assert_eq!(r.unwrap(), 0, "the end of the stream");
    assert!(
        rb[..].is_empty(),
        "the end of the stream left {:?} in the buffer",
        String::from_utf8_lossy(&rb[..])
    );
}

// ---------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------

/// `OpStream::id`: "a cancelled stream yields what arrived before, then
/// ends." A multishot accept with two connections accepted, cancelled by
/// its id: both sockets come out, then the end; `AcceptMulti`'s own doc
/// ("each item is a new socket, or the error that ended the op") says the
/// cancel's `ECANCELED` may come as the last item before the end, and
/// nothing else may. The cancel of an ended stream's id queues nothing.
#[test]
fn a_cancelled_stream_yields_what_arrived_then_ends() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let std_listener = std::net::TcpListener::bind(loopback()).unwrap();
    let at = std_listener.local_addr().unwrap();
    let lfd = SharedFd::new(std_listener);
    let mut stream = reactor.stream(AcceptMulti::new(&lfd));
    let id = stream.id().expect("queued");
    let _a = std::net::TcpStream::connect(at).unwrap();
    let _b = std::net::TcpStream::connect(at).unwrap();
    let first = reactor.run_until(stream.next()).unwrap();
    assert!(matches!(first, Some(Ok(_))), "{first:?}");
    // Both connections were in the queue: the kernel's multishot accept
    // takes them in one go; drive until the second is here.
    let second = reactor.run_until(stream.next()).unwrap();
    assert!(matches!(second, Some(Ok(_))), "{second:?}");
    assert!(reactor.cancel(id).unwrap(), "a cancel request was queued");
    let mut rest = Vec::new();
    loop {
        match reactor.run_until(stream.next()).unwrap() {
            Some(item) => rest.push(item.map(drop).map_err(|e| e.raw_os_error())),
            None => break,
        }
        assert!(rest.len() <= 1, "{rest:?}");
    }
    assert!(
        rest.is_empty() || rest == [Err(Some(libc::ECANCELED))],
        "{rest:?}"
    );
    assert!(stream.id().is_none(), "an ended stream has no id");
    assert!(!reactor.cancel(id).unwrap(), "the stale id cancels nothing");
    assert_eq!(reactor.in_flight(), 0);
    assert_eq!(reactor.run_until(stream.next()).unwrap().map(|_| ()), None);
}

// ---------------------------------------------------------------------------
// Futures' ids
// ---------------------------------------------------------------------------

/// An op future whose op completed (the reactor read its completion: it
/// is no longer in flight) but that was not polled since: a cancel by its
/// id queues nothing (`Handle::cancel`: "an id whose op completed already
/// cancels nothing"), and the future still resolves once, with the op's
/// result.
#[test]
fn the_id_of_a_completed_unpolled_future_cancels_nothing() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (rx, tx) = uring_tests::pipe();
    let rx = SharedFd::new(rx);
    std::fs::File::from(tx).write_all(b"ready").unwrap();
    let mut early = reactor.op(Read::new(&rx, vec![0u8; 8], u64::MAX));
    let id = early.id().expect("queued");
    // A later op, awaited: the read's completion is read on the way.
    let (r, ()) = reactor
        .run_until(reactor.op(uring::reactor::ops::Nop))
        .unwrap();
    r.unwrap();
    let done = uring_tests::reactor::drive_until(&reactor, Duration::from_secs(5), || {
        reactor.in_flight() == 0
    });
    assert!(done, "the read never completed");
    assert!(!reactor.cancel(id).unwrap(), "a completed op was cancelled");
    let (r, buf) = reactor.run_until(&mut early).unwrap();
    assert_eq!(r.unwrap(), 5);
    assert_eq!(&buf[..5], b"ready");
    assert!(early.id().is_none());
}

/// `OpFuture::id`: "`None` once the future has resolved ... Between the
/// op's last completion and the future's resolving, the id is still
/// given, and cancels nothing."
#[test]
fn a_completed_future_keeps_its_id_until_it_resolves() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let early = reactor.op(uring::reactor::ops::Nop);
    assert!(early.id().is_some());
    let (r, ()) = reactor
        .run_until(reactor.op(uring::reactor::ops::Nop))
        .unwrap();
    r.unwrap();
    let done = uring_tests::reactor::drive_until(&reactor, Duration::from_secs(5), || {
        reactor.in_flight() == 0
    });
    assert!(done, "the NOP never completed");
    let id = early.id().expect("completed, not yet resolved");
    assert!(!reactor.cancel(id).unwrap(), "the id cancels nothing");
    let mut early = early;
    let (r, ()) = reactor.run_until(&mut early).unwrap();
    r.unwrap();
    assert_eq!(early.id(), None, "resolved");
}
