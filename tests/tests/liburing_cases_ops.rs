//! Ports of liburing's own test cases (the `test/` directory of
//! github.com/axboe/liburing) about single ops and their races, to uring's
//! API: accepts and their link timeouts, connects, zero-copy sends, socket
//! commands, descriptors passed between rings, polls and cancels under
//! load, direct pipes, reads of files, FIFOs and signalfds, timestamps,
//! opens of large files and fanotify. Each test names its C file and
//! asserts what the C test asserts of the kernel (results, errnos, order,
//! counts, flags, bytes). Where the C test reaches the kernel in a way
//! uring refuses on purpose, the comment says so and the port keeps what
//! uring can express.

use std::io::{IoSlice, IoSliceMut, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use uring::ops::{
    Accept, Cancel, Connect, Nop, OpenAt, PollAdd, PollRemove, Read, ReadV, Recv, Shutdown, Write,
};
use uring::{Cqe, Features, PollEvents, Ring, SqeFlags, sys};
use uring_tests::{PATIENCE, pairs, pipe, require_op, skip, stray, submit_and_reap};

// ---------------------------------------------------------------- helpers

/// `(user_data, res)` pairs as a map, asserting each `user_data` came once.
fn by_user_data(got: &[(u64, i32)]) -> std::collections::HashMap<u64, i32> {
    let mut map = std::collections::HashMap::new();
    for &(ud, res) in got {
        assert!(
            map.insert(ud, res).is_none(),
            "{ud} completed twice: {got:?}"
        );
    }
    map
}

/// Submits what the scope has queued and reads completions until none of
/// its ops is in flight; returns them in CQ order.
fn scope_drain(s: &mut uring::Scope<'_, '_>) -> Vec<Cqe> {
    s.submit().unwrap();
    let mut got = Vec::new();
    while s.in_flight() > 0 {
        s.wait_timeout(1, PATIENCE)
            .unwrap_or_else(|e| panic!("{e} after {:?}", pairs(&got)));
        got.extend(s.completions().map(|c| c.cqe()));
    }
    got.extend(s.completions().map(|c| c.cqe()));
    got
}

/// Sets or clears `O_NONBLOCK` on `fd`.
fn set_nonblock(fd: BorrowedFd<'_>, on: bool) {
    // SAFETY: F_GETFL and F_SETFL on an open descriptor.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        assert!(flags >= 0);
        let flags = if on {
            flags | libc::O_NONBLOCK
        } else {
            flags & !libc::O_NONBLOCK
        };
        assert_eq!(libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags), 0);
    }
}

/// A connected pair of TCP sockets over loopback (`127.0.0.1` or `::1`):
/// `(client, server)`, set up as [`uring_tests::tcp_pair`] sets up its
/// IPv4 pair (the client with `TCP_NODELAY`, the server's reads bounded by
/// [`PATIENCE`]).
fn tcp_pair(v6: bool) -> (TcpStream, TcpStream) {
    if !v6 {
        return uring_tests::tcp_pair();
    }
    let listener = TcpListener::bind("[::1]:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    client.set_nodelay(true).unwrap();
    server.set_read_timeout(Some(PATIENCE)).unwrap();
    (client, server)
}

/// This process's id.
fn getpid() -> i32 {
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() }
}

// ---------------------------------------------------------------- accept-link.c

/// accept-link.c `test_accept_timeout(0, 200ms)`: an accept linked to a
/// link timeout of 200 ms, with no one connecting: with fast poll the
/// accept is cancelled (`ECANCELED`) and the timeout fires (`ETIME`);
/// without it the accept is interrupted (`EINTR`) and the timeout finds it
/// running (`EALREADY`).
#[test]
fn accept_link_timeout_cancels_an_accept_nobody_connects_to() {
    let _watch = uring_tests::watchdog();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut ring = Ring::new(8).unwrap();
    let fast_poll = ring.params().has(Features::FAST_POLL);
    let start = Instant::now();
    let mut got = ring.scope(|s| {
        s.push(
            Accept::new(&listener)
                .user_data(1)
                .timeout_with(Duration::from_millis(200), 2),
        )
        .unwrap();
        pairs(&uring_tests::scope_reap(s, 2))
    });
    got.sort_unstable();
    let expected = if fast_poll {
        [(1, -libc::ECANCELED), (2, -libc::ETIME)]
    } else {
        [(1, -libc::EINTR), (2, -libc::EALREADY)]
    };
    assert_eq!(got, expected);
    assert!(
        start.elapsed() >= Duration::from_millis(150),
        "the timeout fired early"
    );
}

/// accept-link.c `test_accept_timeout(1, 1s)`: the same chain with a
/// timeout of 1 s, and a connection coming in: the accept completes with
/// the new descriptor and the link timeout is cancelled (`ECANCELED`).
#[test]
fn accept_link_timeout_is_cancelled_when_a_connection_arrives() {
    let _watch = uring_tests::watchdog();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut ring = Ring::new(8).unwrap();
    let mut client = None;
    let mut got = ring.scope(|s| {
        s.push(
            Accept::new(&listener)
                .user_data(1)
                .timeout_with(Duration::from_secs(1), 2),
        )
        .unwrap();
        assert_eq!(s.submit().unwrap(), 2);
        client = Some(TcpStream::connect(addr).unwrap());
        pairs(&uring_tests::scope_reap(s, 2))
    });
    got.sort_unstable();
    assert_eq!(got[0].0, 1);
    assert!(got[0].1 > 0, "accept: {got:?}");
    // SAFETY: the accept returned this descriptor, owned by no one else.
    let accepted = TcpStream::from(unsafe { OwnedFd::from_raw_fd(got[0].1) });
    assert_eq!(got[1], (2, -libc::ECANCELED));
    assert_eq!(
        accepted.peer_addr().unwrap(),
        client.unwrap().local_addr().unwrap()
    );
}

// ---------------------------------------------------------------- accept-test.c

/// accept-test.c: an accept on a listening Unix socket (bound to an
/// abstract name) with room for the peer's address is taken by the kernel
/// and waits: a wait of 1 ms times out, rather than the accept failing
/// (`EBADF`, `EINVAL`). (The port then connects, and the accept completes
/// with a descriptor and a Unix peer address.)
#[test]
fn accept_test_an_accept_with_an_address_waits_for_a_connection() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr as UnixAddr, UnixListener, UnixStream};
    let _watch = uring_tests::watchdog();
    let name = format!("uring-accept-test-{}", getpid());
    let addr = UnixAddr::from_abstract_name(name.as_bytes()).unwrap();
    let listener = UnixListener::bind_addr(&addr).unwrap();
    let mut ring = Ring::new(4).unwrap();
    let mut peer = uring::SockAddrBuf::new();
    let mut client = None;
    let (waited, res) = ring.scope(|s| {
        s.push(Accept::new(&listener).peer(Some(&mut peer)).user_data(1))
            .unwrap();
        assert_eq!(s.submit().unwrap(), 1);
        let waited = s.wait_timeout(1, Duration::from_millis(1));
        assert_eq!(s.ready(), 0, "the accept completed with no connection");
        client = Some(UnixStream::connect_addr(&addr).unwrap());
        let cqe = uring_tests::scope_reap(s, 1)[0];
        (waited, (cqe.user_data(), cqe.res()))
    });
    assert!(matches!(waited, Err(uring::Error::TimedOut)), "{waited:?}");
    assert_eq!(res.0, 1);
    assert!(res.1 >= 0, "accept: {res:?}");
    // SAFETY: the accept returned this descriptor.
    drop(unsafe { OwnedFd::from_raw_fd(res.1) });
    assert!(peer.unix_addr().is_some(), "the peer is a Unix socket");
}

// ---------------------------------------------------------------- conn-unreach.c

/// A TCP listener on loopback whose accept queue is full (a backlog of 0
/// and one connection queued): the SYNs of any further connect are
/// dropped, so that connect stays in `SYN_SENT`. Returns the listener, the
/// queued connection and the address.
fn full_listener() -> (OwnedFd, TcpStream, uring::SockAddr) {
    let listener = uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
    let any = uring::SockAddr::from(SocketAddr::from(([127, 0, 0, 1], 0)));
    // SAFETY: an open socket and an address of `len` bytes.
    let rc = unsafe { libc::bind(listener.as_raw_fd(), any.as_ptr().cast(), any.len()) };
    assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
    // SAFETY: an open, bound socket.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let addr = uring_tests::local_addr(listener.as_fd()).unwrap();
    let queued = TcpStream::connect(addr).unwrap();
    (listener, queued, uring::SockAddr::from(addr))
}

/// conn-unreach.c: a connect of a non-blocking TCP socket (2 SYN retries,
/// a user timeout of 500 ms) to an address that does not answer, then
/// 200 ms later a shutdown of the socket: the connect fails with
/// `ECONNRESET` (or `ENETUNREACH` where there is no route), the shutdown
/// completes with 0 or `ENOTCONN`. (The C test connects to 172.31.5.5; the
/// network of this machine answers every IPv4 connect through a proxy, so
/// the port connects to a loopback listener whose full accept queue drops
/// the SYNs instead, which leaves the connect waiting the same way.)
#[test]
fn conn_unreach_a_connect_to_an_unreachable_address_fails() {
    let _watch = uring_tests::watchdog();
    let (_listener, _queued, target) = full_listener();
    let sock = uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
    uring_tests::set_int_option(&sock, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1).unwrap();
    uring_tests::set_int_option(&sock, libc::IPPROTO_TCP, libc::TCP_SYNCNT, 2).unwrap();
    uring_tests::set_int_option(&sock, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, 500).unwrap();
    set_nonblock(sock.as_fd(), true);
    let mut ring = Ring::new(2).unwrap();
    let got = ring.scope(|s| {
        s.push(Connect::new(&sock, &target).user_data(1)).unwrap();
        assert_eq!(s.submit().unwrap(), 1);
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(s.ready(), 0, "the connect is still waiting for a SYN-ACK");
        s.push(Shutdown::new(&sock, libc::SHUT_RDWR).user_data(2))
            .unwrap();
        pairs(&uring_tests::scope_reap(s, 2))
    });
    let by = by_user_data(&got);
    let connect = by[&1];
    let shutdown = by[&2];
    if connect == -libc::EINVAL {
        skip("IORING_OP_CONNECT refused the socket (EINVAL)");
        return;
    }
    assert!(
        connect == -libc::ECONNRESET || connect == -libc::ENETUNREACH,
        "connect: {got:?}"
    );
    assert!(
        shutdown == 0 || shutdown == -libc::ENOTCONN,
        "shutdown: {got:?}"
    );
}

// ---------------------------------------------------------------- fifo-nonblock-read.c

/// fifo-nonblock-read.c: a read of an empty pipe whose read end is
/// `O_NONBLOCK` is retried when data arrives 10 ms later: it completes with
/// the 6 bytes written, never `EAGAIN`.
#[test]
fn fifo_nonblock_read_waits_for_data_instead_of_eagain() {
    let _watch = uring_tests::watchdog();
    let (rx, tx) = pipe();
    set_nonblock(rx.as_fd(), true);
    let mut buf = [0u8; 32];
    let mut ring = Ring::new(1).unwrap();
    let res = ring.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
        assert_eq!(s.submit().unwrap(), 1);
        std::thread::sleep(Duration::from_millis(10));
        std::fs::File::from(tx).write_all(b"Hello\n").unwrap();
        let cqe = uring_tests::scope_reap(s, 1)[0];
        (cqe.user_data(), cqe.res())
    });
    assert_eq!(res, (1, 6));
    assert_eq!(&buf[..6], b"Hello\n");
}

// ---------------------------------------------------------------- rw_merge_test.c

/// rw_merge_test.c: a vectored read of an empty pipe (which waits), then
/// one of a 4 KiB file at offset 4096 (its end: 0 bytes); then one at
/// offset 2048, adjacent to the second, completes within 3 s with 2048
/// bytes (on 5.4 it could be merged with the pipe's read and hang).
#[test]
fn rw_merge_an_adjacent_read_is_not_merged_with_a_waiting_one() {
    let _watch = uring_tests::watchdog();
    let (rx, _tx) = pipe();
    let file = tempfile::tempfile().unwrap();
    file.set_len(4096).unwrap();
    let mut pipe_buf = vec![0u8; 4096];
    let mut buf2 = vec![0u8; 4096];
    let mut buf3 = vec![0xffu8; 4096];
    let mut v1 = [IoSliceMut::new(&mut pipe_buf)];
    let mut v2 = [IoSliceMut::new(&mut buf2)];
    let mut v3 = [IoSliceMut::new(&mut buf3)];
    let mut ring = Ring::new(4).unwrap();
    ring.scope(|s| {
        s.push(ReadV::new(&rx, &mut v1).user_data(1)).unwrap();
        s.push(ReadV::new(&file, &mut v2).offset(4096).user_data(2))
            .unwrap();
        assert_eq!(s.submit().unwrap(), 2);
        let first = uring_tests::scope_reap(s, 1);
        assert_eq!(pairs(&first), [(2, 0)], "the read at the end of the file");
        s.push(ReadV::new(&file, &mut v3).offset(2048).user_data(3))
            .unwrap();
        assert_eq!(s.submit().unwrap(), 1);
        s.wait_timeout(1, Duration::from_secs(3))
            .expect("the adjacent read is stuck");
        let got: Vec<Cqe> = s.completions().map(|c| c.cqe()).collect();
        assert_eq!(pairs(&got), [(3, 2048)]);
        // The pipe's read is still waiting; the scope's end cancels it.
        assert_eq!(s.in_flight(), 1);
    });
    assert!(buf3[..2048].iter().all(|&b| b == 0), "the file is zeros");
    assert!(buf3[2048..].iter().all(|&b| b == 0xff), "past the end");
}

// ---------------------------------------------------------------- empty-eownerdead.c

/// empty-eownerdead.c: on an SQPOLL ring, an `io_uring_enter` with nothing
/// to submit and nothing to wait for succeeds (an old kernel failed it with
/// `EOWNERDEAD`); so do uring's submit and its wait for nothing.
#[test]
fn empty_eownerdead_an_empty_enter_on_an_sqpoll_ring_succeeds() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_sqpoll() {
        return;
    }
    let mut ring = match Ring::builder().sqpoll(Duration::from_millis(100)).build(1) {
        Ok(r) => r,
        Err(e) => {
            skip(format_args!("no SQPOLL ring: {e}"));
            return;
        }
    };
    // SAFETY: no SQE is submitted, and no argument is passed.
    let raw = unsafe { sys::io_uring_enter(ring.as_raw_fd(), 0, 0, 0, std::ptr::null(), 0) };
    assert_eq!(raw.unwrap(), 0);
    assert_eq!(ring.submit().unwrap(), 0);
    ring.get_events().unwrap();
    // The ring works afterwards.
    ring.push(Nop::new().user_data(7)).unwrap();
    assert_eq!(pairs(&submit_and_reap(&mut ring, 1)), [(7, 0)]);
}

// ---------------------------------------------------------------- lfs-openat.c

/// The open flags of lfs-openat.c.
const LFS_FLAGS: i32 = libc::O_RDWR | libc::O_CREAT | libc::O_LARGEFILE | libc::O_CLOEXEC;

/// A directory (opened `O_PATH`) holding a file with 4 bytes written at
/// offset 4 GiB (lfs-openat.c `prepare_file`): `(dir guard, dir, name)`.
fn lfs_dir() -> (tempfile::TempDir, OwnedFd, &'static std::ffi::CStr) {
    use std::os::unix::fs::{FileExt, OpenOptionsExt};
    let dir = tempfile::tempdir().unwrap();
    let name = c"io_uring_openat_test";
    let file = std::fs::File::create(dir.path().join("io_uring_openat_test")).unwrap();
    match file.write_at(b"foo\0", 1 << 32) {
        Ok(4) => {}
        other => panic!("pwrite at 4 GiB: {other:?}"),
    }
    let dfd = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(dir.path())
        .unwrap();
    (dir, dfd.into(), name)
}

/// lfs-openat.c `open_io_uring`: an `OPENAT` with `O_LARGEFILE`, relative
/// to a directory descriptor, of a file larger than 4 GiB completes with a
/// descriptor (of a file 4 GiB and 4 bytes long).
#[test]
fn lfs_openat_opens_a_file_larger_than_4_gib() {
    let _watch = uring_tests::watchdog();
    let (_guard, dfd, name) = lfs_dir();
    let mut ring = Ring::new(2).unwrap();
    let cqe = uring_tests::complete(
        &mut ring,
        OpenAt::new(&dfd, name)
            .open_flags(LFS_FLAGS)
            .mode(libc::S_IRUSR | libc::S_IWUSR),
    );
    assert!(cqe.res() >= 0, "openat: {cqe:?}");
    // SAFETY: the open returned this descriptor, owned by no one else.
    let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(cqe.res()) });
    assert_eq!(file.metadata().unwrap().len(), (1 << 32) + 4);
}

/// lfs-openat.c `test_linked_files`: a read of an empty pipe (inline or
/// forced async) linked to an `OPENAT`; both submitted (2); a duplicate of
/// the ring's descriptor is closed (the ring's `flush`), and the ring is
/// then closed with both in flight, without hanging. (The read's memory is
/// leaked, as the kernel may still hold it after the ring is gone.)
#[test]
fn lfs_openat_ring_closes_with_a_linked_open_in_flight() {
    let _watch = uring_tests::watchdog();
    let (_guard, dfd, name) = lfs_dir();
    for async_read in [false, true] {
        let (rx, _tx) = pipe();
        let mut ring = Ring::new(10).unwrap();
        let buf: &'static mut [u8] = Box::leak(vec![0u8; 128].into_boxed_slice());
        let iov: &'static mut [IoSliceMut<'static>] =
            Box::leak(vec![IoSliceMut::new(buf)].into_boxed_slice());
        let read = ReadV::new(&rx, iov).user_data(1);
        let read = if async_read {
            read.flags(SqeFlags::ASYNC)
        } else {
            read
        };
        // SAFETY: the iovec and its buffer are leaked, never freed; the
        // pipe, the directory and the name outlive the ring (the kernel
        // holds its own references to the files once it has the SQEs).
        unsafe {
            ring.push_unchecked(
                read.link(
                    OpenAt::new(&dfd, name)
                        .open_flags(LFS_FLAGS)
                        .mode(0o600)
                        .user_data(2),
                ),
            )
        }
        .unwrap();
        assert_eq!(ring.submit().unwrap(), 2);
        assert_eq!(
            stray(&mut ring),
            [],
            "async {async_read}: nothing completes"
        );
        // SAFETY: dup of an open descriptor; the copy is closed at once.
        let dup = unsafe { libc::dup(ring.as_raw_fd()) };
        assert!(dup >= 0);
        // SAFETY: `dup` is ours.
        assert_eq!(unsafe { libc::close(dup) }, 0);
        drop(ring);
    }
}

/// lfs-openat.c `test_drained_files`: a read of an empty pipe, then (with
/// `prepend`) a drained NOP, (with `linked`) a drained NOP linked to what
/// follows, then a drained `OPENAT`; all are submitted (1 + the drained
/// ones) and wait behind the read; closing a duplicate of the ring's
/// descriptor (its `flush`) changes nothing. (The C test then closes the
/// ring; here, in a scope, a byte is written to the pipe instead, as a
/// cancel SQE would wait behind the drain too: the read completes first,
/// then each drained op once, the open with a descriptor.)
#[test]
fn lfs_openat_drained_opens_behind_a_waiting_read() {
    let _watch = uring_tests::watchdog();
    let (_guard, dfd, name) = lfs_dir();
    for (linked, prepend) in [(false, false), (false, true), (true, false)] {
        let case = format!("linked {linked} prepend {prepend}");
        let (rx, tx) = pipe();
        let mut buf = [0u8; 128];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut ring = Ring::new(10).unwrap();
        let ring_fd = ring.as_raw_fd();
        let got = ring.scope(|s| {
            s.push(ReadV::new(&rx, &mut iov).user_data(0)).unwrap();
            let mut n = 0;
            if prepend {
                n += 1;
                s.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(n))
                    .unwrap();
            }
            let open = OpenAt::new(&dfd, name)
                .open_flags(LFS_FLAGS)
                .mode(0o600)
                .flags(SqeFlags::IO_DRAIN);
            if linked {
                s.push(
                    Nop::new()
                        .flags(SqeFlags::IO_DRAIN)
                        .user_data(n + 1)
                        .link(open.user_data(n + 2)),
                )
                .unwrap();
                n += 2;
            } else {
                s.push(open.user_data(n + 1)).unwrap();
                n += 1;
            }
            assert_eq!(s.submit().unwrap(), 1 + n as u32, "{case}");
            // SAFETY: dup of an open descriptor; the copy is closed at once.
            let dup = unsafe { libc::dup(ring_fd) };
            assert!(dup >= 0);
            // SAFETY: `dup` is ours.
            assert_eq!(unsafe { libc::close(dup) }, 0);
            std::thread::sleep(Duration::from_millis(20));
            assert_eq!(s.ready(), 0, "{case}: the drained ops wait for the read");
            // A cancel SQE would itself wait behind the drain: the read
            // gets its data instead.
            std::fs::File::from(tx.try_clone().unwrap())
                .write_all(b"x")
                .unwrap();
            (n, pairs(&scope_drain(s)))
        });
        let (n, got) = got;
        assert_eq!(got[0], (0, 1), "{case}: the read comes first: {got:?}");
        assert_eq!(got.len() as u64, 1 + n, "{case}: {got:?}");
        let mut got = got;
        got.sort_unstable();
        for &(ud, res) in &got[1..] {
            if ud == n {
                // The open, drained behind the read: it runs once the read
                // is gone.
                assert!(res >= 0, "{case}: {got:?}");
                // SAFETY: the open returned this descriptor.
                drop(unsafe { OwnedFd::from_raw_fd(res) });
            } else {
                assert_eq!(res, 0, "{case}: a NOP {got:?}");
            }
        }
    }
}

/// lfs-openat.c `test_drained_files`, ended as the C test ends it: the
/// read, the drained NOPs and the drained `OPENAT` are in flight when the
/// ring's descriptor is duplicated and closed and the scope ends; the
/// scope's end (uring's `io_uring_queue_exit` for borrowed memory) cancels
/// the read, which lets the drained ops run, and returns without hanging;
/// no read is left in flight (a byte written to the pipe afterwards is
/// still there to read).
#[test]
fn lfs_openat_a_scope_ends_with_drained_opens_in_flight() {
    let _watch = uring_tests::watchdog();
    let (_guard, dfd, name) = lfs_dir();
    for (linked, prepend) in [(false, false), (false, true), (true, false)] {
        let (rx, tx) = pipe();
        let mut buf = [0u8; 128];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut ring = Ring::new(10).unwrap();
        let ring_fd = ring.as_raw_fd();
        ring.scope(|s| {
            s.push(ReadV::new(&rx, &mut iov).user_data(0)).unwrap();
            if prepend {
                s.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(1))
                    .unwrap();
            }
            let open = OpenAt::new(&dfd, name)
                .open_flags(LFS_FLAGS)
                .mode(0o600)
                .flags(SqeFlags::IO_DRAIN)
                .user_data(3);
            if linked {
                s.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(2).link(open))
                    .unwrap();
            } else {
                s.push(open).unwrap();
            }
            s.submit().unwrap();
            // SAFETY: dup of an open descriptor; the copy is closed at once.
            let dup = unsafe { libc::dup(ring_fd) };
            assert!(dup >= 0);
            // SAFETY: `dup` is ours.
            assert_eq!(unsafe { libc::close(dup) }, 0);
        });
        std::fs::File::from(tx).write_all(b"y").unwrap();
        let mut byte = [0u8; 1];
        std::fs::File::from(rx).read_exact(&mut byte).unwrap();
        assert_eq!(&byte, b"y", "linked {linked} prepend {prepend}");
    }
}

// ---------------------------------------------------------------- socket-io-cmd.c

/// A connected pair of loopback sockets, as liburing's
/// `t_create_socket_pair` makes them: TCP (the accepted side first) or UDP
/// (each connected to the other). `(tx, rx)`.
fn inet_socket_pair(stream: bool) -> (OwnedFd, OwnedFd) {
    if stream {
        let (client, server) = tcp_pair(false);
        (server.into(), client.into())
    } else {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        a.connect(b.local_addr().unwrap()).unwrap();
        b.connect(a.local_addr().unwrap()).unwrap();
        (a.into(), b.into())
    }
}

/// socket-io-cmd.c `run_test`: "foobarbaz" written on one side of a TCP
/// (then a UDP) pair; `SIOCINQ` of the receiving side and `SIOCOUTQ` of the
/// sending side, as socket commands, add up to the 9 bytes written.
#[test]
fn socket_io_cmd_inq_and_outq_add_up_to_the_bytes_written() {
    use uring::ops::SocketInq;
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(1).unwrap();
    if !require_op::<SocketInq<'static>>(&ring) {
        return;
    }
    for stream in [true, false] {
        let (tx, rx) = inet_socket_pair(stream);
        // The std types carry the socket to the commands (which take
        // sockets by type); the descriptors stay sockets of this kind.
        let (tx, rx): (Box<dyn SocketLike>, Box<dyn SocketLike>) = if stream {
            (Box::new(TcpStream::from(tx)), Box::new(TcpStream::from(rx)))
        } else {
            (Box::new(UdpSocket::from(tx)), Box::new(UdpSocket::from(rx)))
        };
        // SAFETY: a write of 9 bytes from a live buffer to an open socket.
        let written = unsafe { libc::write(tx.raw(), b"foobarbaz".as_ptr().cast(), 9) };
        assert_eq!(written, 9);
        let inq = rx.inq(&mut ring);
        if inq == -libc::EINVAL || inq == -libc::EOPNOTSUPP {
            skip(format_args!("no socket commands: {inq}"));
            return;
        }
        let outq = tx.outq(&mut ring);
        assert!(inq >= 0 && outq >= 0, "stream {stream}: {inq} {outq}");
        assert_eq!(inq + outq, 9, "stream {stream}: in {inq} out {outq}");
    }
}

/// A socket whose queue lengths the socket commands read.
trait SocketLike {
    fn raw(&self) -> i32;
    fn inq(&self, ring: &mut Ring) -> i32;
    fn outq(&self, ring: &mut Ring) -> i32;
}

impl<T: uring::AsSocket + AsRawFd> SocketLike for T {
    fn raw(&self) -> i32 {
        self.as_raw_fd()
    }
    fn inq(&self, ring: &mut Ring) -> i32 {
        let cqe = uring_tests::complete(ring, uring::ops::SocketInq::new(self).user_data(0x1234));
        assert_eq!(cqe.user_data(), 0x1234);
        cqe.res()
    }
    fn outq(&self, ring: &mut Ring) -> i32 {
        let cqe = uring_tests::complete(ring, uring::ops::SocketOutq::new(self).user_data(0x1234));
        assert_eq!(cqe.user_data(), 0x1234);
        cqe.res()
    }
}

/// socket-io-cmd.c `run_test_raw`: on a raw socket, `SIOCOUTQ` and
/// `SIOCINQ` as socket commands give what `ioctl(2)` gives (one retry
/// allowed, as traffic may arrive in between). (A raw socket has no std
/// type; a `UdpSocket` carries its descriptor to the commands, which take
/// sockets by type and check only that the descriptor is a socket's.)
#[test]
fn socket_io_cmd_raw_socket_queues_match_ioctl() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(1).unwrap();
    if !require_op::<uring::ops::SocketInq<'static>>(&ring) {
        return;
    }
    // SAFETY: socket(2) takes plain integers.
    let fd = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::IPPROTO_TCP,
        )
    };
    if fd < 0 {
        skip(format_args!(
            "no raw socket (needs CAP_NET_RAW): {}",
            std::io::Error::last_os_error()
        ));
        return;
    }
    // SAFETY: socket(2) just returned this descriptor, owned by no one else.
    let sock = UdpSocket::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let ioctl = |req: libc::c_ulong| -> i32 {
        let mut value: libc::c_int = -1;
        // SAFETY: SIOCINQ / SIOCOUTQ write an int to a live one.
        let rc = unsafe { libc::ioctl(sock.as_raw_fd(), req, &mut value) };
        assert_eq!(rc, 0, "ioctl: {}", std::io::Error::last_os_error());
        value
    };
    let mut matched = false;
    for _ in 0..2 {
        let by_ioctl = (ioctl(libc::TIOCOUTQ), ioctl(libc::FIONREAD));
        let by_cmd = (sock.outq(&mut ring), sock.inq(&mut ring));
        if by_cmd == by_ioctl {
            matched = true;
            break;
        }
        eprintln!("raw socket: ioctl {by_ioctl:?}, commands {by_cmd:?}; again");
    }
    assert!(matched, "the commands and ioctl(2) disagree twice");
}

// ---------------------------------------------------------------- pipe-direct-fixed.c

/// pipe-direct-fixed.c `test_specific_slots`: a `PIPE` whose ends go to
/// the fixed-file table at slot 5 (then 0) and the one after completes with
/// 0 and reports those slots (5 and 6; 0 and 1), not `{0, 0}`; 32 bytes
/// written through the second slot are read back through the first.
#[test]
fn pipe_direct_fixed_ends_land_in_the_slots_asked_for() {
    use uring::DirectSlot;
    use uring::ops::Pipe;
    let _watch = uring_tests::watchdog();
    for slot in [5u32, 0] {
        let mut ring = Ring::new(8).unwrap();
        if !require_op::<Pipe<'static>>(&ring) {
            return;
        }
        let mut table = ring.register_files_sparse(20).unwrap();
        let mut fds = [-1; 2];
        let cqe = uring_tests::complete(
            &mut ring,
            Pipe::new(&mut fds)
                .pipe_flags(0)
                .direct(DirectSlot::at(table.get_mut(slot).unwrap())),
        );
        assert_eq!(cqe.res(), 0, "slot {slot}: {cqe:?}");
        assert_eq!(fds, [slot as i32, slot as i32 + 1], "slot {slot}");
        let src = [0x5au8; 32];
        let mut dst = [0u8; 32];
        let read_end = table.get(slot).unwrap();
        let write_end = table.get(slot + 1).unwrap();
        let got = ring.scope(|s| {
            s.push(Write::new(write_end, &src).user_data(1)).unwrap();
            s.submit().unwrap();
            s.push(Read::new(read_end, &mut dst).user_data(2)).unwrap();
            let mut got = pairs(&uring_tests::scope_reap(s, 2));
            got.sort_unstable();
            got
        });
        assert_eq!(got, [(1, 32), (2, 32)], "slot {slot}");
        assert_eq!(src, dst, "slot {slot}");
        ring.unregister_files(table).unwrap();
    }
}

/// pipe-direct-fixed.c `test_no_clobber_slot0`: with a pipe's read end
/// registered at slot 0, a direct `PIPE` at slots 5 and 6 leaves slot 0
/// alone: a byte written to the sentinel pipe is read through slot 0.
#[test]
fn pipe_direct_fixed_leaves_slot_zero_alone() {
    use uring::DirectSlot;
    use uring::ops::Pipe;
    let _watch = uring_tests::watchdog();
    let (sentinel_rx, sentinel_tx) = pipe();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Pipe<'static>>(&ring) {
        return;
    }
    let mut table = ring.register_files_sparse(20).unwrap();
    assert_eq!(
        ring.update_files(&mut table, 0, &[Some(sentinel_rx.as_fd())])
            .unwrap(),
        1
    );
    let mut fds = [-1; 2];
    let cqe = uring_tests::complete(
        &mut ring,
        Pipe::new(&mut fds)
            .pipe_flags(0)
            .direct(DirectSlot::at(table.get_mut(5).unwrap())),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_eq!(fds, [5, 6]);
    std::fs::File::from(sentinel_tx).write_all(b"x").unwrap();
    let mut buf = [0u8; 1];
    let cqe = uring_tests::complete(&mut ring, Read::new(table.get(0).unwrap(), &mut buf));
    assert_eq!(cqe.res(), 1, "slot 0 was clobbered: {cqe:?}");
    assert_eq!(&buf, b"x");
    ring.unregister_files(table).unwrap();
}

// ---------------------------------------------------------------- msg-ring-fd.c

/// 32 bytes of a pattern, written to a pipe; the pipe's read end is
/// registered at slot 0 of `src`'s table and passed with `MSG_RING` to slot
/// 0 of `dst`'s table (`data` 10), in one submission with the write:
/// both complete on `src` (32, 0) and `dst` gets a completion (10, 0).
/// Returns the bytes written and the pipe.
fn msg_ring_fd_pass(src: &mut Ring, dst: &Ring, dst_table: &mut uring::FixedFiles) -> Vec<u8> {
    use uring::RingSlot;
    use uring::ops::MsgRingFd;
    let (rx, tx) = pipe();
    let src_table = src.register_files(&[rx.as_fd()]).unwrap();
    let bytes = uring_tests::pattern(32, 0x3c);
    let dest = RingSlot::at(dst, dst_table.get_mut(0).unwrap()).unwrap();
    let source = src_table.get(0).unwrap();
    let got = src.scope(|s| {
        s.push(Write::new(&tx, &bytes).user_data(1)).unwrap();
        s.push(MsgRingFd::new(dest, source, 10).user_data(2))
            .unwrap();
        let mut got = pairs(&uring_tests::scope_reap(s, 2));
        got.sort_unstable();
        got
    });
    assert_eq!(got, [(1, 32), (2, 0)]);
    src.unregister_files(src_table).unwrap();
    bytes
}

/// msg-ring-fd.c `test_local`: a pipe's read end, registered with one
/// ring, is passed with `MSG_RING` to slot 0 of another ring's table; that
/// ring gets a completion (`user_data` 10, result 0, the slot) and reads
/// the 32 bytes written to the pipe through its slot 0, after the source
/// ring has dropped its registration. On plain and deferred-task-work
/// rings.
#[test]
fn msg_ring_fd_passes_a_registered_pipe_to_another_ring() {
    let _watch = uring_tests::watchdog();
    for defer in [false, true] {
        let (mut src, mut dst) = if defer {
            match (uring_tests::defer_ring(8), uring_tests::defer_ring(8)) {
                (Some(a), Some(b)) => (a, b),
                _ => return,
            }
        } else {
            (Ring::new(8).unwrap(), Ring::new(8).unwrap())
        };
        if !require_op::<uring::ops::MsgRing>(&src) {
            return;
        }
        let mut dst_table = dst.register_files_sparse(1).unwrap();
        let bytes = msg_ring_fd_pass(&mut src, &dst, &mut dst_table);
        dst.wait_timeout(1, PATIENCE).unwrap();
        let posted: Vec<Cqe> = dst.completions().collect();
        assert_eq!(pairs(&posted), [(10, 0)], "defer {defer}");
        let mut back = [0u8; 32];
        let cqe = uring_tests::complete(
            &mut dst,
            Read::new(dst_table.get(0).unwrap(), &mut back).user_data(3),
        );
        assert_eq!((cqe.user_data(), cqe.res()), (3, 32), "defer {defer}");
        assert_eq!(&back[..], &bytes[..], "defer {defer}");
        dst.unregister_files(dst_table).unwrap();
    }
}

/// msg-ring-fd.c `test_remote`: the same, with the target ring made (and
/// waited on) by another thread, its submitter: the main thread passes the
/// descriptor while that thread waits, and the thread's ring gets the
/// completion and reads the bytes through the slot. (uring's `Ring` is not
/// `Sync`, and a message names its target by `&Ring`: the thread lends the
/// ring over a channel for the message and gets it back to wait.)
#[test]
fn msg_ring_fd_passes_to_a_ring_of_another_thread() {
    use std::sync::mpsc::channel;
    let _watch = uring_tests::watchdog();
    for defer in [false, true] {
        let mut src = Ring::new(8).unwrap();
        if !require_op::<uring::ops::MsgRing>(&src) {
            return;
        }
        let (to_main, from_thread) = channel::<(Ring, uring::FixedFiles)>();
        let (to_thread, from_main) = channel::<(Ring, uring::FixedFiles, Vec<u8>)>();
        let thread = std::thread::spawn(move || -> Result<Vec<u8>, String> {
            let mut ring = if defer {
                Ring::builder()
                    .single_issuer()
                    .defer_taskrun()
                    .build(8)
                    .map_err(|e| format!("skip: {e}"))?
            } else {
                Ring::new(8).unwrap()
            };
            let table = ring.register_files_sparse(1).unwrap();
            to_main.send((ring, table)).unwrap();
            let (mut ring, table, bytes) = from_main.recv().unwrap();
            ring.wait_timeout(1, PATIENCE).map_err(|e| e.to_string())?;
            let posted: Vec<Cqe> = ring.completions().collect();
            if pairs(&posted) != [(10, 0)] {
                return Err(format!("posted {posted:?}"));
            }
            let mut back = [0u8; 32];
            let cqe = uring_tests::complete(&mut ring, Read::new(table.get(0).unwrap(), &mut back));
            if cqe.res() != 32 || back[..] != bytes[..] {
                return Err(format!("read {cqe:?}: {back:?}"));
            }
            ring.unregister_files(table).unwrap();
            Ok(back.to_vec())
        });
        let Ok((dst, mut table)) = from_thread.recv() else {
            let e = thread.join().unwrap().unwrap_err();
            skip(format_args!("no DEFER_TASKRUN ring: {e}"));
            return;
        };
        let bytes = msg_ring_fd_pass(&mut src, &dst, &mut table);
        to_thread.send((dst, table, bytes.clone())).unwrap();
        let back = thread
            .join()
            .unwrap()
            .unwrap_or_else(|e| panic!("defer {defer}: {e}"));
        assert_eq!(back, bytes);
    }
}

// ---------------------------------------------------------------- fsnotify.c

/// fsnotify.c: with a fanotify mark for `FAN_ACCESS | FAN_MODIFY` on a
/// file, an `O_DIRECT` read of its first 4 KiB through the ring (4096
/// bytes) raises a `FAN_ACCESS` event whose pid is this process's (the C
/// test asks only that it be non-zero: not a kernel thread's context).
#[test]
fn fsnotify_a_direct_read_raises_an_access_event() {
    use std::os::unix::fs::OpenOptionsExt;
    let _watch = uring_tests::watchdog();
    // SAFETY: fanotify_init takes plain integers.
    let fan = unsafe {
        libc::fanotify_init(
            libc::FAN_CLASS_NOTIF
                | libc::FAN_CLASS_CONTENT
                | libc::FAN_NONBLOCK
                | libc::FAN_CLOEXEC,
            libc::O_RDONLY as u32,
        )
    };
    if fan < 0 {
        skip(format_args!(
            "fanotify is unavailable: {}",
            std::io::Error::last_os_error()
        ));
        return;
    }
    // SAFETY: fanotify_init just returned this descriptor.
    let fan = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fan) });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fsnotify");
    std::fs::write(&path, uring_tests::pattern(8192, 4)).unwrap();
    let file = match std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip("no O_DIRECT on this file system");
            return;
        }
        Err(e) => panic!("open: {e}"),
    };
    // SAFETY: an open fanotify descriptor and an open file; no path.
    let rc = unsafe {
        libc::fanotify_mark(
            fan.as_raw_fd(),
            libc::FAN_MARK_ADD,
            libc::FAN_ACCESS | libc::FAN_MODIFY,
            file.as_raw_fd(),
            std::ptr::null(),
        )
    };
    if rc < 0 {
        skip(format_args!(
            "fanotify_mark: {}",
            std::io::Error::last_os_error()
        ));
        return;
    }
    let mut backing = vec![0u8; 8192];
    let off = backing.as_ptr().align_offset(4096);
    let buf = &mut backing[off..off + 4096];
    let mut ring = Ring::new(1).unwrap();
    let cqe = uring_tests::complete(&mut ring, Read::new(&file, buf));
    assert_eq!(cqe.res(), 4096, "{cqe:?}");
    assert_eq!(
        &backing[off..off + 4096],
        &uring_tests::pattern(8192, 4)[..4096]
    );
    let mut event = [0u8; std::mem::size_of::<libc::fanotify_event_metadata>()];
    let n = (&fan).read(&mut event).expect("a fanotify event");
    assert_eq!(n, event.len());
    // SAFETY: the kernel wrote one whole event of this layout.
    let meta: libc::fanotify_event_metadata =
        unsafe { std::ptr::read_unaligned(event.as_ptr().cast()) };
    if meta.fd >= 0 {
        // SAFETY: the event carries a descriptor of the file, now ours.
        drop(unsafe { OwnedFd::from_raw_fd(meta.fd) });
    }
    assert!(meta.mask & libc::FAN_ACCESS != 0, "mask {:#x}", meta.mask);
    assert_eq!(meta.pid, getpid(), "the read ran in this process's context");
}

// ---------------------------------------------------------------- poll-race.c

/// poll-race.c: 64 receives of 64 bytes on a Unix stream socket are
/// submitted while another thread writes 64 blocks of 64 bytes to the
/// other end, racing the wake-ups: every receive completes (none stalls),
/// each with 64 bytes, and together they carry the 4096 bytes written, in
/// order. 40 rounds (the C test runs 1000).
#[test]
fn poll_race_many_receives_racing_the_writer_all_complete() {
    use std::os::unix::net::UnixStream;
    use std::sync::Barrier;
    const NREQS: usize = 64;
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(NREQS as u32).unwrap();
    for round in 0..40 {
        let (rx, tx) = UnixStream::pair().unwrap();
        let barrier = Barrier::new(2);
        let mut bufs = vec![[0u8; 64]; NREQS];
        std::thread::scope(|t| {
            t.spawn(|| {
                barrier.wait();
                for i in 0..NREQS {
                    (&tx).write_all(&[i as u8; 64]).unwrap();
                }
            });
            let got = ring.scope(|s| {
                for (i, buf) in bufs.iter_mut().enumerate() {
                    s.push(Recv::new(&rx, &mut buf[..]).user_data(i as u64))
                        .unwrap();
                }
                barrier.wait();
                assert_eq!(s.submit().unwrap(), NREQS as u32);
                let mut got = pairs(&uring_tests::scope_reap(s, NREQS));
                got.sort_unstable();
                got
            });
            assert_eq!(
                got,
                (0..NREQS as u64).map(|i| (i, 64)).collect::<Vec<_>>(),
                "round {round}"
            );
        });
        // The receives were queued on the socket in order: the blocks
        // arrive in the order written.
        let mut seen: Vec<u8> = bufs.iter().map(|b| b[0]).collect();
        for b in &bufs {
            assert!(b.iter().all(|&x| x == b[0]), "round {round}: a torn block");
        }
        seen.sort_unstable();
        assert_eq!(
            seen,
            (0..NREQS as u8).collect::<Vec<_>>(),
            "round {round}: every block once"
        );
    }
}

// ---------------------------------------------------------------- cancel-race.c

/// cancel-race.c `test_poll_cancel_race`: a poll of an empty pipe and a
/// cancel of it, submitted together, 1000 times per ring (the C test runs
/// 10000): each round gets exactly the two completions, the poll
/// `ECANCELED` and the cancel 0 (nothing writes to the pipe, so the poll
/// cannot complete first). In a scope, which finds its poll by the
/// `user_data` given: on a ring only scopes use, and on one that had an op
/// pushed outside a scope (whose scopes tag every op).
#[test]
fn cancel_race_poll_then_cancel_each_complete_once() {
    let _watch = uring_tests::watchdog();
    let (rx, _tx) = pipe();
    for tagging in [false, true] {
        let mut ring = Ring::new(64).unwrap();
        if tagging {
            ring.push(Nop::new().user_data(7)).unwrap();
            assert_eq!(pairs(&submit_and_reap(&mut ring, 1)), [(7, 0)]);
        }
        ring.scope(|s| {
            assert_eq!(s.tags_every_op(), tagging);
            for i in 0..1000u64 {
                let poll_ud = 1 | (i << 8);
                let cancel_ud = 2 | (i << 8);
                s.push(PollAdd::new(&rx, PollEvents::IN).user_data(poll_ud))
                    .unwrap();
                s.push(Cancel::new(poll_ud).user_data(cancel_ud)).unwrap();
                let mut got = pairs(&uring_tests::scope_reap(s, 2));
                got.sort_unstable();
                assert_eq!(
                    got,
                    [(poll_ud, -libc::ECANCELED), (cancel_ud, 0)],
                    "tagging {tagging}, round {i}"
                );
            }
        });
    }
}

/// cancel-race.c `test_read_cancel_race`: a read of an empty non-blocking
/// pipe and a cancel of it, submitted together, 2000 times: each round
/// gets exactly the two completions, and they agree: the read cancelled
/// (`ECANCELED`) and the cancel 0, or the read failed at once (`EAGAIN`)
/// and the cancel found nothing (`ENOENT`).
#[test]
fn cancel_race_read_then_cancel_each_complete_once() {
    let _watch = uring_tests::watchdog();
    let (rx, _tx) = pipe();
    set_nonblock(rx.as_fd(), true);
    let mut buf = [0u8; 32];
    let mut ring = Ring::new(64).unwrap();
    let mut outcomes = std::collections::HashMap::new();
    for i in 0..2000u64 {
        let read_ud = 3 | (i << 8);
        let cancel_ud = 2 | (i << 8);
        let got = ring.scope(|s| {
            s.push(Read::new(&rx, &mut buf[..]).user_data(read_ud))
                .unwrap();
            s.push(Cancel::new(read_ud).user_data(cancel_ud)).unwrap();
            let mut got = pairs(&uring_tests::scope_reap(s, 2));
            got.sort_unstable();
            got
        });
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].0, got[1].0), (cancel_ud, read_ud), "round {i}");
        let pair = (got[1].1, got[0].1);
        assert!(
            pair == (-libc::ECANCELED, 0) || pair == (-libc::EAGAIN, -libc::ENOENT),
            "round {i}: read {} cancel {}",
            pair.0,
            pair.1
        );
        *outcomes.entry(pair).or_insert(0) += 1;
    }
    eprintln!("read/cancel outcomes: {outcomes:?}");
}

/// cancel-race.c `test_concurrent_cancel`: polls of an empty pipe are
/// submitted in batches of 16 on one ring while another thread sends
/// `CANCEL_ANY` requests to a second ring, which has nothing in flight:
/// each of those counts 0 ops cancelled (`ANY` counts, like `ALL`), and
/// none of the polls completes. A final `CANCEL_ANY | CANCEL_ALL` on the first ring cancels
/// every poll (its result is their number), each completing `ECANCELED`
/// once. (The C test drains with one `CANCEL_ANY` at a time and does not
/// check the counts.)
#[test]
fn cancel_race_cancels_on_another_ring_find_nothing() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use uring::CancelFlags;
    const POLLS: u64 = 640;
    let _watch = uring_tests::watchdog();
    let (rx, _tx) = pipe();
    let mut submit_ring = Ring::new(64).unwrap();
    let stop = AtomicBool::new(false);
    std::thread::scope(|t| {
        let canceller = t.spawn(|| {
            let mut ring = Ring::new(64).unwrap();
            let mut results = std::collections::HashMap::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) || n < 16 {
                ring.push(
                    Cancel::new(0)
                        .cancel_flags(CancelFlags::ANY)
                        .user_data(0xdead),
                )
                .unwrap();
                let cqe = submit_and_reap(&mut ring, 1)[0];
                assert_eq!(cqe.user_data(), 0xdead);
                *results.entry(cqe.res()).or_insert(0u64) += 1;
                n += 1;
            }
            results
        });
        for i in 0..POLLS {
            // SAFETY: the pipe outlives the ring's use of it: every poll
            // is cancelled and reaped below, before the pipe is dropped.
            unsafe {
                submit_ring.push_unchecked(PollAdd::new(&rx, PollEvents::IN).user_data(i + 1))
            }
            .unwrap();
            if i % 16 == 15 {
                assert_eq!(submit_ring.submit().unwrap(), 16);
                assert_eq!(submit_ring.completions().count(), 0, "a poll completed");
            }
        }
        stop.store(true, Ordering::Relaxed);
        let results = canceller.join().unwrap();
        assert_eq!(
            results.keys().copied().collect::<Vec<_>>(),
            [0],
            "cancels of an idle ring: {results:?}"
        );
    });
    submit_ring
        .push(
            Cancel::new(0)
                .cancel_flags(CancelFlags::ANY | CancelFlags::ALL)
                .user_data(0xbeef),
        )
        .unwrap();
    let got = submit_and_reap(&mut submit_ring, POLLS as usize + 1);
    let by = by_user_data(&pairs(&got));
    assert_eq!(by[&0xbeef], POLLS as i32);
    for i in 1..=POLLS {
        assert_eq!(by[&i], -libc::ECANCELED, "poll {i}");
    }
    assert_eq!(stray(&mut submit_ring), []);
}

// ---------------------------------------------------------------- poll-cancel-ton.c

/// The `user_data` values of poll-cancel-ton.c's polls: the C test gives
/// each poll its SQE's address, and a ring of 1024 SQEs reuses those, so
/// 1024 values are shared by all the polls.
const TON_VALUES: u64 = 1024;
/// The `user_data` of the removes (and cancels) of poll-cancel-ton.c.
const TON_REMOVE: u64 = 1 << 32;

/// A batch of removes: `(remove's user_data, target)` of each, and the
/// completions due, sorted.
type TonBatch = (Vec<(u64, u64)>, Vec<(u64, i32)>);

/// The bookkeeping of poll-cancel-ton.c's removes: how many live polls
/// carry each `user_data`, and what a batch of removes must complete with.
struct Ton {
    live: Vec<u32>,
    rng: uring_tests::Rng,
    next: u64,
}

impl Ton {
    fn new(polls: u64, seed: u64) -> Ton {
        let mut live = vec![0; TON_VALUES as usize];
        for i in 0..polls {
            live[(i % TON_VALUES) as usize] += 1;
        }
        Ton {
            live,
            rng: uring_tests::Rng(seed),
            next: 0,
        }
    }

    /// A batch of `n` removes of `user_data` picked at random among the
    /// polls' (some live, some not): `(remove's user_data, target)`, and
    /// the completions they must bring (a remove of a value some live poll
    /// carries: 0, and one such poll `ECANCELED`; of one none carries:
    /// `ENOENT`), sorted.
    fn random_removes(&mut self, n: usize) -> TonBatch {
        let targets: Vec<u64> = (0..n).map(|_| self.rng.below(TON_VALUES)).collect();
        self.removes(&targets)
    }

    /// A remove of each live poll (by value, as many as carry it).
    fn remaining(&mut self) -> TonBatch {
        let targets: Vec<u64> = (0..TON_VALUES)
            .flat_map(|ud| std::iter::repeat_n(ud, self.live[ud as usize] as usize))
            .collect();
        self.removes(&targets)
    }

    fn removes(&mut self, targets: &[u64]) -> TonBatch {
        let mut ops = Vec::new();
        let mut expected = Vec::new();
        for &t in targets {
            let ud = TON_REMOVE | self.next;
            self.next += 1;
            ops.push((ud, t));
            if self.live[t as usize] > 0 {
                self.live[t as usize] -= 1;
                expected.push((ud, 0));
                expected.push((t, -libc::ECANCELED));
            } else {
                expected.push((ud, -libc::ENOENT));
            }
        }
        expected.sort_unstable();
        (ops, expected)
    }

    fn live_polls(&self) -> u32 {
        self.live.iter().sum()
    }
}

/// poll-cancel-ton.c: 4096 polls of an empty pipe (the C test adds
/// 30000), their `user_data` shared 4 ways (1024 values, as the C test's
/// SQE addresses are), added in batches of 1024 on a ring of 1024 SQEs and
/// a CQ of 16384, none completing; then 4096 removes in batches of 1024,
/// of values picked at random: a remove of a value that live polls carry
/// completes with 0 and one of those polls with `ECANCELED`, one of a
/// value none carries with `ENOENT`. The polls left are then cancelled
/// with one `CANCEL_ALL` per value, whose result counts them. Every poll
/// completes exactly once.
#[test]
fn poll_cancel_ton_thousands_of_polls_removed_at_random() {
    use uring::CancelFlags;
    const POLLS: u64 = 4096;
    let _watch = uring_tests::watchdog();
    let (rx, _tx) = pipe();
    let mut ring = Ring::builder().cq_entries(16384).build(1024).unwrap();
    for batch in 0..POLLS / 1024 {
        for i in batch * 1024..(batch + 1) * 1024 {
            // SAFETY: the pipe outlives the ring (declared before it), and
            // every poll is removed and reaped below.
            unsafe {
                ring.push_unchecked(PollAdd::new(&rx, PollEvents::IN).user_data(i % TON_VALUES))
            }
            .unwrap();
        }
        assert_eq!(ring.submit().unwrap(), 1024);
        assert_eq!(ring.completions().count(), 0, "a poll completed");
    }
    let mut ton = Ton::new(POLLS, 0x9e37_79b9_7f4a_7c15);
    for _ in 0..POLLS / 1024 {
        let (ops, expected) = ton.random_removes(1024);
        for (ud, target) in ops {
            ring.push(PollRemove::new(target).user_data(ud)).unwrap();
        }
        let mut got = pairs(&submit_and_reap(&mut ring, expected.len()));
        got.sort_unstable();
        assert_eq!(got, expected);
    }
    let left = ton.live_polls();
    assert!(left > 0 && left < POLLS as u32, "{left} polls left");
    let mut expected = Vec::new();
    let mut pushed = 0;
    for ud in 0..TON_VALUES {
        let n = ton.live[ud as usize];
        if n == 0 {
            continue;
        }
        ring.push(
            Cancel::new(ud)
                .cancel_flags(CancelFlags::ALL)
                .user_data(TON_REMOVE | ud),
        )
        .unwrap();
        pushed += 1;
        expected.push((TON_REMOVE | ud, n as i32));
        expected.extend(std::iter::repeat_n((ud, -libc::ECANCELED), n as usize));
        if pushed % 512 == 0 {
            ring.submit().unwrap();
        }
    }
    expected.sort_unstable();
    let mut got = pairs(&submit_and_reap(&mut ring, expected.len()));
    got.sort_unstable();
    assert_eq!(got, expected);
    assert_eq!(stray(&mut ring), []);
}

/// poll-cancel-ton.c in a scope: 2048 polls sharing 1024 `user_data`
/// values and 2048 removes of values picked at random, pushed in a scope
/// (on a ring only scopes use, or on one whose scopes tag every op), which
/// must make each remove find a live poll carrying its value, as the
/// kernel does: the same results as without a scope; the polls left are
/// removed one remove per poll, and every poll completes once.
fn ton_in_scope(tagging: bool) {
    const POLLS: u64 = 2048;
    let (rx, _tx) = pipe();
    let mut ring = Ring::builder().cq_entries(16384).build(1024).unwrap();
    if tagging {
        ring.push(Nop::new().user_data(TON_REMOVE - 1)).unwrap();
        assert_eq!(submit_and_reap(&mut ring, 1).len(), 1);
    }
    let mut ton = Ton::new(POLLS, 0x0dd_ba11 + tagging as u64);
    ring.scope(|s| {
        assert_eq!(s.tags_every_op(), tagging);
        for batch in 0..POLLS / 1024 {
            for i in batch * 1024..(batch + 1) * 1024 {
                s.push(PollAdd::new(&rx, PollEvents::IN).user_data(i % TON_VALUES))
                    .unwrap();
            }
            assert_eq!(s.submit().unwrap(), 1024);
            assert_eq!(s.ready(), 0, "tagging {tagging}: a poll completed");
        }
        assert_eq!(s.in_flight(), POLLS as u32);
        let mut rounds = POLLS / 1024;
        loop {
            let (ops, expected) = if rounds > 0 {
                rounds -= 1;
                ton.random_removes(1024)
            } else {
                ton.remaining()
            };
            for chunk in ops.chunks(1024) {
                for &(ud, target) in chunk {
                    s.push(PollRemove::new(target).user_data(ud)).unwrap();
                }
                s.submit().unwrap();
            }
            let _ = s.wait_timeout(expected.len() as u32, Duration::from_secs(2));
            let mut got: Vec<(u64, i32)> =
                s.completions().map(|c| (c.user_data(), c.res())).collect();
            got.sort_unstable();
            if got != expected {
                let wrong = got
                    .iter()
                    .zip(&expected)
                    .find(|(a, b)| a != b)
                    .map(|(a, b)| format!("got {a:?} where {b:?} was due"));
                panic!(
                    "tagging {tagging}: {} completions, {} due; first difference: {wrong:?}",
                    got.len(),
                    expected.len()
                );
            }
            if ton.live_polls() == 0 {
                break;
            }
        }
        assert_eq!(s.in_flight(), 0, "tagging {tagging}");
    });
}

/// poll-cancel-ton.c in a scope that leaves its polls untagged (a ring
/// only scopes use): see `ton_in_scope`.
#[test]
fn poll_cancel_ton_in_a_scope_removes_find_their_polls() {
    let _watch = uring_tests::watchdog();
    ton_in_scope(false);
}

/// poll-cancel-ton.c in a scope that tags every op (a ring that had an op
/// pushed outside a scope): see `ton_in_scope`. uring rewrites each remove
/// to name a tag, and a poll's slot stays live until its completion is
/// read: of the polls that carry the named value, each remove names the
/// next in turn, so that two removes of one value in a batch remove two
/// polls, as in the kernel (and an untagged scope).
#[test]
fn poll_cancel_ton_in_a_tagging_scope_removes_find_their_polls() {
    let _watch = uring_tests::watchdog();
    ton_in_scope(true);
}

/// poll-cancel-ton.c's leftover polls, cancelled in a scope as the plain
/// ring's test cancels them: polls sharing `user_data` values (3 of each),
/// and one `CANCEL_ALL` per value. In a scope that leaves its polls
/// untagged, the kernel cancels every poll that carries the value and
/// counts them (3). In a scope that tags every op, each poll carries a tag
/// of its own and one request matches one tag: such a cancel, naming a
/// value several of the scope's ops carry, fails with `EINVAL` and cancels
/// nothing (documented on `Cancel`), and `Scope::cancel` is the way to
/// cancel them all.
#[test]
fn poll_cancel_ton_cancel_all_in_scopes() {
    use uring::CancelFlags;
    let _watch = uring_tests::watchdog();
    let (rx, _tx) = pipe();
    for tagging in [false, true] {
        let mut ring = Ring::new(64).unwrap();
        if tagging {
            ring.push(Nop::new().user_data(TON_REMOVE - 1)).unwrap();
            assert_eq!(submit_and_reap(&mut ring, 1).len(), 1);
        }
        let (got, in_flight) = ring.scope(|s| {
            assert_eq!(s.tags_every_op(), tagging);
            for i in 0..12 {
                s.push(PollAdd::new(&rx, PollEvents::IN).user_data(i % 4))
                    .unwrap();
            }
            assert_eq!(s.submit().unwrap(), 12);
            for ud in 0..4 {
                s.push(
                    Cancel::new(ud)
                        .cancel_flags(CancelFlags::ALL)
                        .user_data(TON_REMOVE | ud),
                )
                .unwrap();
            }
            s.submit().unwrap();
            let want = if tagging { 4 } else { 16 };
            let mut got: Vec<(u64, i32)> = Vec::new();
            while got.len() < want {
                s.wait_timeout(1, Duration::from_secs(5)).unwrap();
                got.extend(s.completions().map(|c| (c.user_data(), c.res())));
            }
            if tagging {
                assert_eq!(s.in_flight(), 12, "a refused cancel cancelled a poll");
                for ud in 0..4 {
                    assert_eq!(s.cancel(ud).unwrap(), 3);
                }
                s.submit().unwrap();
                while got.len() < 16 {
                    s.wait_timeout(1, Duration::from_secs(5)).unwrap();
                    got.extend(s.completions().map(|c| (c.user_data(), c.res())));
                }
            }
            got.sort_unstable();
            (got, s.in_flight())
        });
        let cancel_res = if tagging { -libc::EINVAL } else { 3 };
        let mut expected: Vec<(u64, i32)> = (0..4)
            .flat_map(|ud| [(ud, -libc::ECANCELED); 3])
            .chain((0..4).map(|ud| (TON_REMOVE | ud, cancel_res)))
            .collect();
        expected.sort_unstable();
        assert_eq!(got, expected, "tagging {tagging}");
        assert_eq!(in_flight, 0, "tagging {tagging}: polls left in flight");
    }
}

// ---------------------------------------------------------------- double-poll-crash.c

/// A new pseudo-terminal: `(master, slave)`.
fn pty() -> std::io::Result<(OwnedFd, OwnedFd)> {
    // SAFETY: plain calls on a descriptor this function owns; ptsname_r
    // writes at most `name.len()` bytes.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        if master < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let master = OwnedFd::from_raw_fd(master);
        if libc::grantpt(master.as_raw_fd()) != 0 || libc::unlockpt(master.as_raw_fd()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut name = [0 as libc::c_char; 128];
        let rc = libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len());
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc));
        }
        let slave = libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        if slave < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok((master, OwnedFd::from_raw_fd(slave)))
    }
}

/// double-poll-crash.c (a syzkaller reproducer): a poll for no events on a
/// terminal (whose poll waits on two queues, a double poll), then a
/// `TCSETSF` with the reproducer's termios bytes, which flushes the
/// terminal and wakes both queues: the kernel survives, the ring works,
/// and the poll completes exactly once (with the events it saw, or
/// `EINVAL` from its re-arm, or `ECANCELED` when a cancel finds it still
/// armed). (The C test opens
/// `/dev/char/4:21`, a virtual console; a pseudo-terminal has the same
/// poll and leaves the machine's consoles alone.)
#[test]
fn double_poll_crash_a_terminal_flush_under_a_double_poll() {
    let _watch = uring_tests::watchdog();
    let (_master, slave) = match pty() {
        Ok(p) => p,
        Err(e) => {
            skip(format_args!("no pseudo-terminal: {e}"));
            return;
        }
    };
    let mut ring = Ring::new(64).unwrap();
    // SAFETY: the terminal outlives the ring (declared before it), and the
    // poll is cancelled and reaped below.
    unsafe { ring.push_unchecked(PollAdd::new(&slave, PollEvents::empty()).user_data(1)) }.unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(stray(&mut ring), [], "the poll waits");
    // The termios bytes of the reproducer: c_iflag 0x7ff, c_oflag 0x8b7,
    // c_cflag 3, c_lflag 0x101, c_line 9, then 19 control characters.
    let mut termios = [0u8; 64];
    termios[0..4].copy_from_slice(&0x7ffu32.to_ne_bytes());
    termios[4..8].copy_from_slice(&0x8b7u32.to_ne_bytes());
    termios[8..12].copy_from_slice(&3u32.to_ne_bytes());
    termios[12..16].copy_from_slice(&0x101u32.to_ne_bytes());
    termios[16] = 9;
    termios[17..36].copy_from_slice(
        b"\xaf\x09\x01\xbc\xf9\xc6\xe4\x92\x86\x51\x7d\x7f\xbd\x43\x7d\x16\x69\x3e\x05",
    );
    // SAFETY: TCSETSF reads a kernel termios (36 bytes) from a live buffer
    // of 64.
    let rc = unsafe { libc::ioctl(slave.as_raw_fd(), libc::TCSETSF, termios.as_ptr()) };
    assert_eq!(rc, 0, "TCSETSF: {}", std::io::Error::last_os_error());
    ring.push(Nop::new().user_data(2)).unwrap();
    ring.push(Cancel::new(1).user_data(3)).unwrap();
    let mut got = Vec::new();
    ring.submit().unwrap();
    while !got.iter().any(|&(ud, _)| ud == 2) || !got.iter().any(|&(ud, _)| ud == 3) {
        ring.wait_timeout(1, PATIENCE).unwrap();
        got.extend(ring.completions().map(|c| (c.user_data(), c.res())));
    }
    if !got.iter().any(|&(ud, _)| ud == 1) {
        ring.wait_timeout(1, PATIENCE).unwrap();
        got.extend(ring.completions().map(|c| (c.user_data(), c.res())));
    }
    let by = by_user_data(&got);
    assert_eq!(by.len(), 3, "{got:?}");
    assert_eq!(by[&2], 0);
    match by[&3] {
        0 => assert_eq!(by[&1], -libc::ECANCELED, "{got:?}"),
        e if e == -libc::ENOENT => {
            let events = by[&1];
            // Seen on 6.18: the flush wakes the poll with no events, the
            // kernel re-arms it, and the re-arm of a double poll fails
            // with EINVAL. The C test checks nothing of the poll.
            if events != -libc::EINVAL {
                assert!(events >= 0, "{got:?}");
                let always = (libc::POLLERR | libc::POLLHUP) as i32;
                assert_eq!(events & !always, 0, "events beyond ERR and HUP: {got:?}");
            }
        }
        other => panic!("cancel {other}: {got:?}"),
    }
    assert_eq!(stray(&mut ring), []);
}

// ---------------------------------------------------------------- pollfree.c

/// The variable that makes a copy of this test binary run one child of
/// pollfree.c, with the ring's setup named by its value.
const POLLFREE_CHILD: &str = "URING_POLLFREE_CHILD";

/// One child of pollfree.c: a ring set up as `setup` says, a non-blocking
/// signalfd for `SIGINT`, three reads of it (the second forced async),
/// each submitted on its own (1 each); then the process exits with the
/// reads in flight, which frees the signalfd's wait queue under them
/// (`POLLFREE`). Prints what it saw, then leaves without unwinding. (On an
/// SQPOLL ring, a submit counts the SQEs the thread has not taken yet, as
/// liburing's does: 1 to 3.)
fn pollfree_child(setup: &str) -> ! {
    let ring = match setup {
        "plain" => Ring::new(4),
        "sqpoll" => Ring::builder().sqpoll(Duration::from_millis(10)).build(4),
        "coop" => Ring::builder().coop_taskrun().build(4),
        "defer" => Ring::builder().single_issuer().defer_taskrun().build(4),
        other => panic!("setup {other}"),
    };
    let mut ring = match ring {
        Ok(r) => r,
        Err(e) => {
            println!("pollfree child: no ring: {e}");
            // SAFETY: leaves the process at once, as the C child does.
            unsafe { libc::_exit(0) }
        }
    };
    // SAFETY: an empty set, then one signal added, in a live sigset.
    let mut mask: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe {
        libc::sigemptyset(&mut mask);
        libc::sigaddset(&mut mask, libc::SIGINT);
    }
    // SAFETY: a new signalfd for a live mask.
    let sfd = unsafe { libc::signalfd(-1, &mask, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) };
    assert!(sfd >= 0, "signalfd: {}", std::io::Error::last_os_error());
    // SAFETY: signalfd just returned it; it is leaked with the process.
    let sfd: &'static OwnedFd = Box::leak(Box::new(unsafe { OwnedFd::from_raw_fd(sfd) }));
    let mut submitted = Vec::new();
    for ud in 1..=3u64 {
        let si: &'static mut [u8] =
            Box::leak(vec![0u8; std::mem::size_of::<libc::signalfd_siginfo>()].into_boxed_slice());
        let read = Read::new(sfd, si).user_data(ud);
        let read = if ud == 2 {
            read.flags(SqeFlags::ASYNC)
        } else {
            read
        };
        // SAFETY: the buffer and the signalfd are leaked: they outlive the
        // process's every use of them.
        unsafe { ring.push_unchecked(read) }.unwrap();
        submitted.push(ring.submit().unwrap());
    }
    let early: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    // With SQPOLL a submit counts every SQE the thread has not yet taken.
    let counted = submitted.iter().enumerate().all(|(i, &n)| {
        if setup == "sqpoll" {
            (1..=i as u32 + 1).contains(&n)
        } else {
            n == 1
        }
    });
    println!("pollfree child: submitted {submitted:?} counted {counted}, early {early:?}");
    std::io::stdout().flush().unwrap();
    std::mem::forget(ring);
    // SAFETY: leaves the process with the reads in flight, as the C child
    // does; nothing of this process runs after it.
    unsafe { libc::_exit(0) }
}

/// pollfree.c: children each read a signalfd through a ring (plain,
/// SQPOLL, cooperative task running, deferred task work) and exit with the
/// reads in flight, so that the signalfd's wait queue is freed under the
/// reads' polls: every child exits normally, having submitted its three
/// reads one at a time (1 each), and the kernel goes on. 8 children per
/// setup, 4 at a time (the C test forks them for 2.5 s per setup). Each
/// child is a copy of this test binary.
#[test]
fn pollfree_exiting_with_signalfd_reads_in_flight() {
    let _watch = uring_tests::watchdog();
    if let Ok(setup) = std::env::var(POLLFREE_CHILD) {
        pollfree_child(&setup);
    }
    let name = "pollfree_exiting_with_signalfd_reads_in_flight";
    let exe = std::env::current_exe().unwrap();
    for setup in ["plain", "sqpoll", "coop", "defer"] {
        for _ in 0..2 {
            let children: Vec<std::process::Child> = (0..4)
                .map(|_| {
                    std::process::Command::new(&exe)
                        .args([name, "--exact", "--nocapture", "--test-threads=1"])
                        .env(POLLFREE_CHILD, setup)
                        .stdout(std::process::Stdio::piped())
                        .stderr(std::process::Stdio::piped())
                        .spawn()
                        .unwrap()
                })
                .collect();
            for child in children {
                let out = child.wait_with_output().unwrap();
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                assert!(out.status.success(), "{setup}: {:?}\n{text}", out.status);
                if let Some(line) = text.lines().find(|l| l.contains("no ring")) {
                    skip(format_args!("{setup}: {line}"));
                    break;
                }
                assert!(
                    text.contains("counted true"),
                    "{setup}: the child did not submit its reads:\n{text}"
                );
            }
        }
    }
    let mut ring = Ring::new(2).unwrap();
    ring.push(Nop::new().user_data(9)).unwrap();
    assert_eq!(pairs(&submit_and_reap(&mut ring, 1)), [(9, 0)]);
}

// ---------------------------------------------------------------- file-verify.c

/// The file size of the file-verify.c ports (the C test uses 128 MiB).
const FV_SIZE: usize = 4 << 20;
/// The size of each read.
const FV_CHUNK: usize = 128 << 10;
/// The reads in flight at once.
const FV_BATCH: usize = 16;

/// The bytes file-verify.c writes: each 4-byte word holds its own offset
/// divided by 4, from word `first` on.
fn fv_pattern(first: u32, len: usize) -> Vec<u8> {
    (0..len / 4)
        .flat_map(|i| (first + i as u32).to_ne_bytes())
        .collect()
}

/// Checks that `buf` holds the pattern of the file at `off`.
fn fv_verify(buf: &[u8], off: usize, case: &str) {
    let want = fv_pattern((off / 4) as u32, buf.len());
    if buf != want {
        let at = buf.iter().zip(&want).position(|(a, b)| a != b).unwrap();
        panic!(
            "{case}: wrong byte at file offset {} (read at {off})",
            off + at
        );
    }
}

/// A buffer of `len` bytes aligned to 4 KiB, inside `backing`.
fn aligned(backing: &mut [u8], len: usize) -> &mut [u8] {
    let off = backing.as_ptr().align_offset(4096);
    &mut backing[off..off + len]
}

/// Opens `path` for reading (and writing), `O_DIRECT` unless `buffered`;
/// `None` (with a skip message) where the file system refuses `O_DIRECT`.
fn fv_open(path: &std::path::Path, buffered: bool, write: bool) -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::File::options();
    options.read(true).write(write);
    if !buffered {
        options.custom_flags(libc::O_DIRECT);
    }
    match options.open(path) {
        Ok(f) => Some(f),
        Err(e) if !buffered && e.raw_os_error() == Some(libc::EINVAL) => {
            skip("no O_DIRECT on this file system");
            None
        }
        Err(e) => panic!("open {path:?}: {e}"),
    }
}

/// `posix_fadvise(POSIX_FADV_DONTNEED)` of a range.
fn dontneed(file: &std::fs::File, off: usize, len: usize) {
    // SAFETY: advice on an open file.
    let rc = unsafe {
        libc::posix_fadvise(
            file.as_raw_fd(),
            off as libc::off_t,
            len as libc::off_t,
            libc::POSIX_FADV_DONTNEED,
        )
    };
    assert_eq!(rc, 0, "posix_fadvise");
}

/// file-verify.c `do_punch`: drops a random 32 KiB (front, middle or end)
/// of each 128 KiB chunk from the page cache, or none, so that buffered
/// reads are served piecemeal.
fn fv_punch(file: &std::fs::File, rng: &mut uring_tests::Rng) {
    const PUNCH: usize = 32 << 10;
    for chunk in (0..FV_SIZE).step_by(FV_CHUNK) {
        match rng.below(4) {
            1 => dontneed(file, chunk, PUNCH),
            2 => dontneed(file, chunk + PUNCH, PUNCH),
            3 => dontneed(file, chunk + FV_CHUNK - PUNCH, PUNCH),
            _ => {}
        }
    }
}

/// How file-verify.c `test` reads.
#[derive(Clone, Copy, Debug, PartialEq)]
enum FvRead {
    /// `READ` into a buffer of its own.
    Plain,
    /// `READ_FIXED` from registered buffers.
    Registered,
    /// `READ` into a provided buffer (a buffer ring here; the C test gives
    /// them with `PROVIDE_BUFFERS`, which a scope refuses at compile time).
    Provided,
    /// `READV` into this many buffers of `FV_CHUNK / n` bytes each.
    Vectored(usize),
}

/// One run of file-verify.c `test`: the whole file read in batches of 16
/// reads of 128 KiB, each completing with 128 KiB that hold the file's
/// pattern at its offset.
fn fv_run(path: &std::path::Path, buffered: bool, how: FvRead, rng: &mut uring_tests::Rng) {
    let case = format!("buffered {buffered} {how:?}");
    let Some(file) = fv_open(path, buffered, false) else {
        return;
    };
    fv_punch(&file, rng);
    let mut ring = Ring::new(FV_BATCH as u32).unwrap();
    // Before the registration: the kernel uses this memory until the
    // buffers are unregistered.
    let mut backing = vec![0u8; FV_BATCH * FV_CHUNK + 4096];
    let region = aligned(&mut backing, FV_BATCH * FV_CHUNK);
    let fixed = if how == FvRead::Registered {
        let iovs: Vec<IoSliceMut<'_>> = region.chunks_mut(FV_CHUNK).map(IoSliceMut::new).collect();
        // SAFETY: `backing` outlives the registration (unregistered below,
        // before it is dropped), and only the fixed reads touch it while
        // it is registered.
        Some(unsafe { ring.register_buffers(&iovs) }.unwrap())
    } else {
        None
    };
    let pool = if how == FvRead::Provided {
        match uring_tests::plain_buf_ring(&mut ring, 1, FV_BATCH as u16, FV_CHUNK as u32) {
            Some(p) => Some(p),
            None => return,
        }
    } else {
        None
    };
    let mut off = 0;
    while off < FV_SIZE {
        let batch = FV_BATCH.min((FV_SIZE - off) / FV_CHUNK);
        match how {
            FvRead::Plain | FvRead::Registered => {
                // For the registered case the slices are those registered:
                // each lies inside buffer i.
                let bufs: Vec<&mut [u8]> = region.chunks_mut(FV_CHUNK).take(batch).collect();
                let got = ring.scope(|s| {
                    for (i, buf) in bufs.into_iter().enumerate() {
                        let at = (off + i * FV_CHUNK) as u64;
                        let ud = (at << 32) | i as u64;
                        if let Some(table) = &fixed {
                            let index = table.get(i as u32).unwrap();
                            s.push(
                                uring::ops::ReadFixed::new(&file, buf, index)
                                    .offset(at)
                                    .user_data(ud),
                            )
                            .unwrap();
                        } else {
                            s.push(Read::new(&file, buf).offset(at).user_data(ud))
                                .unwrap();
                        }
                    }
                    pairs(&uring_tests::scope_reap(s, batch))
                });
                for (ud, res) in got {
                    assert_eq!(res, FV_CHUNK as i32, "{case}: read {ud:#x}");
                    let (at, i) = ((ud >> 32) as usize, (ud & 0xffff_ffff) as usize);
                    fv_verify(&region[i * FV_CHUNK..][..FV_CHUNK], at, &case);
                }
            }
            FvRead::Provided => {
                let pool = pool.as_ref().unwrap();
                ring.scope(|s| {
                    for i in 0..batch {
                        let at = (off + i * FV_CHUNK) as u64;
                        s.push(Read::new(&file, pool.select()).offset(at).user_data(at))
                            .unwrap();
                    }
                    s.submit().unwrap();
                    let mut seen = 0;
                    while seen < batch {
                        s.wait_timeout(1, PATIENCE).unwrap();
                        for mut cqe in s.completions() {
                            seen += 1;
                            assert_eq!(cqe.res(), FV_CHUNK as i32, "{case}: {:?}", cqe.cqe());
                            let at = cqe.user_data() as usize;
                            let buf = pool.claim(&mut cqe).unwrap();
                            assert_eq!(buf.len(), FV_CHUNK, "{case}");
                            fv_verify(&buf, at, &case);
                        }
                    }
                });
            }
            FvRead::Vectored(n) => {
                let parts: Vec<&mut [u8]> = region.chunks_mut(FV_CHUNK / n).collect();
                let mut parts = parts.into_iter();
                let mut vecs: Vec<Vec<IoSliceMut<'_>>> = (0..batch)
                    .map(|_| parts.by_ref().take(n).map(IoSliceMut::new).collect())
                    .collect();
                let got = ring.scope(|s| {
                    for (i, v) in vecs.iter_mut().enumerate() {
                        let at = (off + i * FV_CHUNK) as u64;
                        s.push(
                            ReadV::new(&file, &mut v[..])
                                .offset(at)
                                .user_data((at << 32) | i as u64),
                        )
                        .unwrap();
                    }
                    pairs(&uring_tests::scope_reap(s, batch))
                });
                drop(vecs);
                for (ud, res) in got {
                    assert_eq!(res, FV_CHUNK as i32, "{case}: read {ud:#x}");
                    let (at, i) = ((ud >> 32) as usize, (ud & 0xffff_ffff) as usize);
                    fv_verify(&region[i * FV_CHUNK..][..FV_CHUNK], at, &case);
                }
            }
        }
        off += batch * FV_CHUNK;
    }
    if let Some(table) = fixed {
        ring.unregister_buffers(table).unwrap();
    }
}

/// A temporary file of `FV_SIZE` bytes of the pattern (file-verify.c
/// `fill_pattern`), synced.
fn fv_file() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("file-verify");
    let file = std::fs::File::create(&path).unwrap();
    (&file).write_all(&fv_pattern(0, FV_SIZE)).unwrap();
    file.sync_all().unwrap();
    (dir, path)
}

/// file-verify.c `test`: a 4 MiB file (128 MiB in the C test) read whole,
/// 16 reads of 128 KiB at a time, buffered (with random ranges dropped
/// from the page cache) and `O_DIRECT`, into plain buffers, registered
/// buffers, provided buffers, and 16 or 8 vectors: every read completes
/// with 128 KiB holding the file's bytes at its offset.
#[test]
fn file_verify_reads_of_every_kind_return_the_files_bytes() {
    let _watch = uring_tests::watchdog();
    let (_dir, path) = fv_file();
    let mut rng = uring_tests::Rng(0x5eed_f11e);
    for buffered in [true, false] {
        for how in [
            FvRead::Plain,
            FvRead::Registered,
            FvRead::Provided,
            FvRead::Vectored(16),
            FvRead::Vectored(8),
        ] {
            fv_run(&path, buffered, how, &mut rng);
        }
    }
}

/// file-verify.c `test_truncate`: the last 64 KiB of the file are
/// rewritten with the pattern from 0, read (so cached), and a quarter of
/// the chunk dropped from the cache (its middle, then its end); a read of
/// 128 KiB there, which runs into the end of the file, completes with the
/// 64 KiB there are (retried after the short read), holding those bytes.
/// Buffered and `O_DIRECT`, into a plain buffer, a vector and a provided
/// buffer.
#[test]
fn file_verify_a_read_past_the_end_returns_what_is_there() {
    use std::os::unix::fs::FileExt;
    let _watch = uring_tests::watchdog();
    let (_dir, path) = fv_file();
    let mut backing = vec![0u8; FV_CHUNK + 4096];
    for buffered in [true, false] {
        for how in [FvRead::Plain, FvRead::Vectored(1), FvRead::Provided] {
            let case = format!("buffered {buffered} {how:?}");
            let Some(file) = fv_open(&path, buffered, true) else {
                return;
            };
            let buf = aligned(&mut backing, FV_CHUNK);
            let off = FV_SIZE - FV_CHUNK / 2;
            buf[..FV_CHUNK / 2].copy_from_slice(&fv_pattern(0, FV_CHUNK / 2));
            assert_eq!(
                file.write_at(&buf[..FV_CHUNK / 2], off as u64).unwrap(),
                FV_CHUNK / 2
            );
            let mut ring = Ring::new(4).unwrap();
            for punch in [off + FV_CHUNK / 4, FV_SIZE - FV_CHUNK / 4] {
                assert_eq!(
                    file.read_at(&mut buf[..FV_CHUNK / 2], off as u64).unwrap(),
                    FV_CHUNK / 2
                );
                dontneed(&file, punch, FV_CHUNK / 4);
                buf.fill(0);
                let got = match how {
                    FvRead::Plain => {
                        let cqe = uring_tests::complete(
                            &mut ring,
                            Read::new(&file, &mut buf[..]).offset(off as u64),
                        );
                        assert_eq!(cqe.res(), (FV_CHUNK / 2) as i32, "{case}: {cqe:?}");
                        buf[..FV_CHUNK / 2].to_vec()
                    }
                    FvRead::Vectored(_) => {
                        let mut v = [IoSliceMut::new(&mut buf[..])];
                        let cqe = uring_tests::complete(
                            &mut ring,
                            ReadV::new(&file, &mut v).offset(off as u64),
                        );
                        assert_eq!(cqe.res(), (FV_CHUNK / 2) as i32, "{case}: {cqe:?}");
                        buf[..FV_CHUNK / 2].to_vec()
                    }
                    _ => {
                        let Some(pool) =
                            uring_tests::plain_buf_ring(&mut ring, 1, 1, FV_CHUNK as u32)
                        else {
                            return;
                        };
                        let got = ring.scope(|s| {
                            s.push(Read::new(&file, pool.select()).offset(off as u64))
                                .unwrap();
                            s.submit_and_wait(1).unwrap();
                            let mut cqe = s.completions().next().unwrap();
                            assert_eq!(cqe.res(), (FV_CHUNK / 2) as i32, "{case}: {:?}", cqe.cqe());
                            pool.claim(&mut cqe).unwrap().to_vec()
                        });
                        drop(pool);
                        got
                    }
                };
                assert_eq!(got, fv_pattern(0, FV_CHUNK / 2), "{case}, punch at {punch}");
            }
        }
    }
}

// ---------------------------------------------------------------- timestamp.c

/// `SOF_TIMESTAMPING_*` bits (`linux/net_tstamp.h`).
const SOF_TX_SOFTWARE: u32 = 1 << 1;
const SOF_SOFTWARE: u32 = 1 << 4;
const SOF_OPT_ID: u32 = 1 << 7;
const SOF_TX_SCHED: u32 = 1 << 8;
const SOF_TX_ACK: u32 = 1 << 9;
const SOF_OPT_CMSG: u32 = 1 << 10;
const SOF_OPT_TSONLY: u32 = 1 << 11;
/// `SCM_TSTAMP_*` types, as the completions report them.
const SCM_TSTAMP_SND: u32 = 0;
const SCM_TSTAMP_SCHED: u32 = 1;
const SCM_TSTAMP_ACK: u32 = 2;
/// Where a `TX_TIMESTAMP` completion's flags carry the timestamp's type.
const TIMESTAMP_TYPE_SHIFT: u32 = 17;

/// `(key, type, seconds, nanoseconds)` of each timestamp a
/// `SOCKET_URING_OP_TX_TIMESTAMP` command posted, after one send of 10
/// bytes on a TCP socket over `::1` asking for the timestamps `report`
/// (`expected` of them), once no more come and a cancel has ended the
/// command; `None` when the kernel lacks the command (with a skip
/// message).
fn tx_timestamps<C: uring::CqeSize<Cqe = uring::BigCqe> + MixedOrNot>(
    report: u32,
    expected: usize,
    listener: &TcpListener,
) -> Option<Vec<(i32, u32, u64, u64)>> {
    use uring::ops::{SendMsg, UringCmd};
    use uring::{MsgHdr, UringCmdOp};
    let mut ring = match Ring::builder().build_sized::<uring::Sqe64, C>(32) {
        Ok(r) => r,
        Err(e) => {
            skip(format_args!("no ring with 32-byte CQEs: {e}"));
            return None;
        }
    };
    let sock = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    sock.set_nodelay(true).unwrap();
    let opts = SOF_SOFTWARE | SOF_OPT_CMSG | SOF_OPT_ID | SOF_OPT_TSONLY | report;
    uring_tests::set_int_option(&sock, libc::SOL_SOCKET, libc::SO_TIMESTAMPING, opts as i32)
        .unwrap();
    let payload = [b'a'; 10];
    let parts = [IoSlice::new(&payload)];
    let dest = uring::SockAddr::from(listener.local_addr().unwrap());
    let msg = MsgHdr::new(&parts).to(&dest);
    // SAFETY: the message, its buffer and address outlive the op, whose
    // completion is reaped just below.
    unsafe { ring.push_unchecked(SendMsg::new(&sock, &msg).user_data(0)) }.unwrap();
    ring.submit_and_wait(1).unwrap();
    let sent: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(sent, [(0, 10)]);
    std::thread::sleep(Duration::from_millis(50));
    // SAFETY: TX_TIMESTAMP reads the socket's error queue and posts what
    // it finds in completions; it reads and writes no memory of ours.
    let cmd = unsafe { UringCmdOp::new(sys::SOCKET_URING_OP_TX_TIMESTAMP) };
    // SAFETY: the socket outlives the command, whose last completion is
    // reaped below.
    unsafe { ring.push_unchecked(UringCmd::new(&sock, cmd).user_data(43)) }.unwrap();
    ring.submit().unwrap();
    // The command stays armed (a multishot poll of the error queue): it
    // posts each timestamp flagged MORE, and ends only when cancelled.
    let mut stamps = Vec::new();
    let mut last = None;
    let deadline = Instant::now() + PATIENCE;
    while stamps.len() < expected && last.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        ring.wait_timeout(1, left)
            .unwrap_or_else(|e| panic!("{e} after {stamps:?}"));
        for cqe in ring.completions() {
            assert_eq!(cqe.user_data(), 43, "{cqe:?}");
            assert!(last.is_none(), "a completion after the last: {cqe:?}");
            if !cqe.has_more() {
                last = Some(cqe.res());
                continue;
            }
            assert!(cqe.is_big(), "a timestamp comes in a 32-byte CQE: {cqe:?}");
            if C::SETUP_IS_MIXED {
                assert!(cqe.flags() & sys::IORING_CQE_F_32 != 0, "{cqe:?}");
            }
            let [sec, nsec] = cqe.big_cqe();
            stamps.push((cqe.res(), cqe.flags() >> TIMESTAMP_TYPE_SHIFT, sec, nsec));
        }
    }
    if let Some(res) = last {
        if stamps.is_empty() && (res == -libc::EINVAL || res == -libc::EOPNOTSUPP) {
            skip(format_args!("no SOCKET_URING_OP_TX_TIMESTAMP: {res}"));
            return None;
        }
        panic!("the command ended ({res}) after {stamps:?}");
    }
    // Nothing more comes; a cancel ends the command.
    let _ = ring.wait_timeout(1, Duration::from_millis(30));
    let extra: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(extra, [], "more timestamps than asked for: {stamps:?}");
    ring.push(uring::ops::Cancel::new(43).user_data(44))
        .unwrap();
    ring.submit().unwrap();
    let mut end = Vec::new();
    while end.len() < 2 {
        ring.wait_timeout(1, PATIENCE).unwrap();
        end.extend(
            ring.completions()
                .map(|c| (c.user_data(), c.res(), c.has_more())),
        );
    }
    end.sort_unstable();
    assert_eq!(end, [(43, -libc::ECANCELED, false), (44, 0, false)]);
    Some(stamps)
}

/// Whether a CQE size is the mixed one.
trait MixedOrNot {
    const SETUP_IS_MIXED: bool;
}
impl MixedOrNot for uring::Cqe32 {
    const SETUP_IS_MIXED: bool = false;
}
impl MixedOrNot for uring::CqeMixed {
    const SETUP_IS_MIXED: bool = true;
}

/// One run of timestamp.c `do_main`, on rings of the CQE size `C`.
fn timestamp_runs<C: uring::CqeSize<Cqe = uring::BigCqe> + MixedOrNot>() {
    let listener = TcpListener::bind("[::1]:0").unwrap();
    let types = |report: u32| -> Vec<u32> {
        let mut t = Vec::new();
        if report & SOF_TX_SCHED != 0 {
            t.push(SCM_TSTAMP_SCHED);
        }
        if report & SOF_TX_SOFTWARE != 0 {
            t.push(SCM_TSTAMP_SND);
        }
        if report & SOF_TX_ACK != 0 {
            t.push(SCM_TSTAMP_ACK);
        }
        t.sort_unstable();
        t
    };
    for report in [
        SOF_TX_SOFTWARE,
        SOF_TX_SCHED,
        SOF_TX_SCHED | SOF_TX_SOFTWARE,
        SOF_TX_ACK,
        SOF_TX_SOFTWARE | SOF_TX_ACK,
        SOF_TX_SCHED | SOF_TX_SOFTWARE | SOF_TX_ACK,
    ] {
        let case = format!("mixed {} report {report:#x}", C::SETUP_IS_MIXED);
        let Some(stamps) = tx_timestamps::<C>(report, types(report).len(), &listener) else {
            return;
        };
        let mut got_types: Vec<u32> = stamps.iter().map(|s| s.1).collect();
        got_types.sort_unstable();
        assert_eq!(got_types, types(report), "{case}: {stamps:?}");
        // The key of a TCP timestamp with OPT_ID is the offset of the
        // send's last byte: 9, for the first 10 bytes sent.
        for &(key, _, sec, nsec) in &stamps {
            assert_eq!(key, 9, "{case}: {stamps:?}");
            assert!(sec > 0 && nsec < 1_000_000_000, "{case}: {stamps:?}");
        }
    }
}

/// timestamp.c: after one send of 10 bytes on a TCP socket over `::1`
/// that asks for software transmit timestamps (scheduled, sent, acked, and
/// their combinations), a `SOCKET_URING_OP_TX_TIMESTAMP` command posts one
/// 32-byte completion per timestamp asked for, flagged `MORE`, with the
/// key (9: the send's last byte) as result, the type in its flags and the
/// time in its second half, and no more. (The command stays armed for
/// more; a cancel ends it, `ECANCELED`.) On a ring of
/// 32-byte CQEs and on a mixed ring (where they are flagged
/// `IORING_CQE_F_32`). (uring has no typed op for this command: it is
/// sent as a raw `UringCmd`, whose number is `unsafe` to name.)
#[test]
fn timestamp_tx_timestamps_arrive_in_big_completions() {
    let _watch = uring_tests::watchdog();
    let ring = Ring::new(1).unwrap();
    if !require_op::<uring::ops::UringCmd>(&ring) {
        return;
    }
    drop(ring);
    timestamp_runs::<uring::Cqe32>();
    timestamp_runs::<uring::CqeMixed>();
}

// ---------------------------------------------------------------- send-zerocopy.c

/// The bytes of send-zerocopy.c's basic sends.
const ZC_PAYLOAD: usize = 100;

/// A plain and a deferred-task-work ring of 32 entries (send-zerocopy.c
/// runs each case on both), the second `None` where the kernel lacks it.
fn zc_rings() -> Vec<(&'static str, Ring)> {
    let mut rings = vec![("plain", Ring::new(32).unwrap())];
    if let Some(r) = uring_tests::defer_ring(32) {
        rings.push(("defer", r));
    }
    rings
}

/// The zero-copy send op is there, or a skip message.
fn require_send_zc() -> bool {
    let ring = Ring::new(1).unwrap();
    require_op::<uring::ops::SendZc<'static>>(&ring)
}

/// What a zero-copy send posted: its result (the completion without
/// `IORING_CQE_F_NOTIF`), whether that said `MORE`, and the notifications
/// (`(res, flags)`), for `user_data` `ud` among `cqes`, checking the order
/// (result first) and that a notification follows exactly when the result
/// said `MORE`.
fn zc_outcome(cqes: &[Cqe], ud: u64, case: &str) -> i32 {
    let mine: Vec<&Cqe> = cqes.iter().filter(|c| c.user_data() == ud).collect();
    assert!(!mine.is_empty(), "{case}: nothing for {ud}: {cqes:?}");
    let first = mine[0];
    assert!(
        !first.is_notification(),
        "{case}: the notification came first: {cqes:?}"
    );
    let notifs: Vec<&&Cqe> = mine[1..].iter().collect();
    if first.has_more() {
        assert_eq!(notifs.len(), 1, "{case}: send {ud} said MORE: {cqes:?}");
        let n = notifs[0];
        assert!(n.is_notification(), "{case}: {cqes:?}");
        assert!(!n.has_more(), "{case}: MORE on the notification: {cqes:?}");
        assert_eq!(n.res(), 0, "{case}: {cqes:?}");
    } else {
        assert_eq!(notifs.len(), 0, "{case}: no MORE, yet more came: {cqes:?}");
    }
    first.res()
}

/// send-zerocopy.c `test_basic_send`, plain and vectored: a zero-copy send
/// of 100 bytes over TCP on `::1` completes with 100 flagged `MORE`, then a
/// notification (flagged `NOTIF`, not `MORE`); nothing else is in the CQ;
/// the peer receives the 100 bytes. The vectored form (`SendZcV`: the C
/// test's two iovecs of 50 bytes with `IORING_SEND_VECTORIZED`, 6.17)
/// does the same; a kernel without the flag refuses it with `EINVAL`,
/// which the C test, and this one, take as a skip. On a plain and a
/// deferred-task-work ring. The flag is not among the named
/// `SendZcFlags`, which refuse it: only `SendZcV`, whose `addr` is the
/// iovec array it borrows, sets it.
#[test]
fn send_zerocopy_basic_send_posts_result_then_notification() {
    use uring::SendZcFlags;
    use uring::ops::{SendZc, SendZcV};
    let _watch = uring_tests::watchdog();
    assert_eq!(SendZcFlags::from_bits(sys::IORING_SEND_VECTORIZED), None);
    assert!(SendZcFlags::from_bits_truncate(sys::IORING_SEND_VECTORIZED).is_empty());
    if !require_send_zc() {
        return;
    }
    let (tx, rx) = tcp_pair(true);
    let data = uring_tests::pattern(ZC_PAYLOAD, 1);
    for (name, mut ring) in zc_rings() {
        let got = ring.scope(|s| {
            s.push(SendZc::new(&tx, &data).user_data(1)).unwrap();
            scope_drain(s)
        });
        assert_eq!(got.len(), 2, "{name}: {got:?}");
        assert_eq!(
            (got[0].user_data(), got[0].res()),
            (1, ZC_PAYLOAD as i32),
            "{name}"
        );
        assert!(
            got[0].has_more() && !got[0].is_notification(),
            "{name}: {got:?}"
        );
        assert_eq!(got[1].user_data(), 1, "{name}");
        assert!(
            got[1].is_notification() && !got[1].has_more(),
            "{name}: {got:?}"
        );
        assert_eq!(stray(&mut ring), [], "{name}: the CQ is empty");
        let mut back = vec![0u8; ZC_PAYLOAD];
        (&rx).read_exact(&mut back).unwrap();
        assert_eq!(back, data, "{name}");

        // The vectored send: two iovecs of half the payload each.
        let split = ZC_PAYLOAD / 2;
        let iovecs = [IoSlice::new(&data[..split]), IoSlice::new(&data[split..])];
        let got = ring.scope(|s| {
            s.push(SendZcV::new(&tx, &iovecs).user_data(2)).unwrap();
            scope_drain(s)
        });
        if got[0].res() == -libc::EINVAL {
            skip(format_args!(
                "{name}: no IORING_SEND_VECTORIZED (6.17): {got:?}"
            ));
            continue;
        }
        assert_eq!(got.len(), 2, "{name}, vectored: {got:?}");
        assert_eq!(
            (got[0].user_data(), got[0].res()),
            (2, ZC_PAYLOAD as i32),
            "{name}, vectored"
        );
        assert!(
            got[0].has_more() && !got[0].is_notification(),
            "{name}, vectored: {got:?}"
        );
        assert_eq!(got[1].user_data(), 2, "{name}, vectored");
        assert!(
            got[1].is_notification() && !got[1].has_more(),
            "{name}, vectored: {got:?}"
        );
        assert_eq!(got[1].res(), 0, "{name}, vectored: {got:?}");
        assert_eq!(stray(&mut ring), [], "{name}, vectored: the CQ is empty");
        let mut back = vec![0u8; ZC_PAYLOAD];
        (&rx).read_exact(&mut back).unwrap();
        assert_eq!(back, data, "{name}, vectored");
    }
}

/// Reaps the completions of a zero-copy send (`user_data` 1) that fails,
/// as send-zerocopy.c `test_send_faults_check` does: the failure (`res`
/// `expected`) comes first, then, if it said `MORE`, a notification with
/// result 0 and exactly the `NOTIF` flag; at most two completions, and the
/// CQ is empty after.
fn zc_fault_check(ring: &mut Ring, expected: i32, case: &str) {
    let mut got = Vec::new();
    loop {
        ring.submit_and_wait(1).unwrap();
        let cqes: Vec<Cqe> = ring.completions().collect();
        let mut more = true;
        for cqe in cqes {
            assert_eq!(cqe.user_data(), 1, "{case}: {cqe:?}");
            if got.is_empty() {
                assert!(
                    !cqe.is_notification(),
                    "{case}: the notification came first"
                );
                assert_eq!(cqe.res(), expected, "{case}: {cqe:?}");
            } else {
                assert_eq!(
                    (cqe.res(), cqe.flags()),
                    (0, sys::IORING_CQE_F_NOTIF),
                    "{case}"
                );
            }
            more = cqe.has_more();
            got.push(cqe);
        }
        if !more {
            break;
        }
    }
    assert!(got.len() <= 2, "{case}: too many completions: {got:?}");
    assert_eq!(stray(ring), [], "{case}: the CQ is empty");
}

/// send-zerocopy.c `test_send_faults`: zero-copy sends of 100 bytes over
/// TCP that fail: from an invalid buffer (address 1, `EFAULT`), to an
/// invalid address (address 1, `EFAULT`), with every send/recv flag bit
/// set (`EINVAL`); each fails first and then (if it said `MORE`) posts one
/// clean notification. (The two bad addresses are raw SQEs: uring's sends
/// take only a slice and a `SockAddr`, so they cannot be written safely.)
#[test]
fn send_zerocopy_faults_fail_before_their_notification() {
    use uring::SendZcFlags;
    use uring::ops::SendZc;
    let _watch = uring_tests::watchdog();
    if !require_send_zc() {
        return;
    }
    let (tx, _rx) = tcp_pair(true);
    let data = uring_tests::pattern(ZC_PAYLOAD, 2);
    let mut ring = Ring::new(32).unwrap();
    let bad_buf = uring_tests::raw_sqe(
        sys::IORING_OP_SEND_ZC,
        tx.as_raw_fd(),
        1,
        ZC_PAYLOAD as u32,
        0,
        1,
    );
    // SAFETY: the buffer's address (1) is never valid: the kernel fails the
    // copy-in with EFAULT and writes nothing; the socket outlives the op.
    unsafe { ring.push_raw(&[bad_buf]) }.unwrap();
    zc_fault_check(&mut ring, -libc::EFAULT, "invalid buffer");
    let mut bad_addr = uring_tests::raw_sqe(
        sys::IORING_OP_SEND_ZC,
        tx.as_raw_fd(),
        data.as_ptr() as u64,
        ZC_PAYLOAD as u32,
        0,
        1,
    );
    bad_addr.off = sys::io_uring_sqe_off { addr2: 1 };
    bad_addr.file = sys::io_uring_sqe_file {
        addr_len: sys::io_uring_sqe_addr_len {
            addr_len: std::mem::size_of::<libc::sockaddr_in6>() as u16,
            __pad3: [0],
        },
    };
    // SAFETY: `data` outlives the op (reaped by the check); the address (1)
    // is never valid, and the kernel fails its copy with EFAULT.
    unsafe { ring.push_raw(&[bad_addr]) }.unwrap();
    zc_fault_check(&mut ring, -libc::EFAULT, "invalid address");
    // SAFETY: every bit set; the kernel refuses the unknown ones (EINVAL)
    // before it reads anything.
    let all = unsafe { SendZcFlags::from_bits_retain(u16::MAX) };
    // SAFETY: `data` and the socket outlive the op, reaped by the check.
    unsafe { ring.push_unchecked(SendZc::new(&tx, &data).send_flags(all).user_data(1)) }.unwrap();
    zc_fault_check(&mut ring, -libc::EINVAL, "invalid flags");
}

/// send-zerocopy.c `test_invalid_zc`: a `SENDMSG_ZC` with no message header
/// (a null `msghdr`), forced async: it fails (`EFAULT`), and a
/// notification follows only if it said `MORE`. (A raw SQE: uring's
/// `SendMsgZc` takes a `MsgHdr` by reference.)
#[test]
fn send_zerocopy_sendmsg_without_a_header_fails() {
    let _watch = uring_tests::watchdog();
    let ring = Ring::new(1).unwrap();
    if !require_op::<uring::ops::SendMsgZc<'static, 'static>>(&ring) {
        return;
    }
    drop(ring);
    let (tx, _rx) = tcp_pair(true);
    let mut ring = Ring::new(8).unwrap();
    let mut sqe = uring_tests::raw_sqe(
        sys::IORING_OP_SENDMSG_ZC,
        tx.as_raw_fd(),
        0,
        1,
        sys::IOSQE_ASYNC,
        1,
    );
    sqe.op_flags = sys::io_uring_sqe_op_flags {
        msg_flags: libc::MSG_WAITALL as u32,
    };
    // SAFETY: the header's address is null: the kernel fails to copy it
    // (EFAULT) and touches no memory; the socket outlives the op.
    unsafe { ring.push_raw(&[sqe]) }.unwrap();
    zc_fault_check(&mut ring, -libc::EFAULT, "null msghdr");
}

/// send-zerocopy.c `test_async_addr`: a 200 ms timeout (`ETIME_SUCCESS`)
/// linked to a zero-copy send of 1 byte to an address, on an unconnected
/// UDP socket over `::1`: the timeout completes first (`ETIME`), then the
/// send (1, `MORE`), whose byte arrives, then its notification. (The C
/// test zeroes the address right after submitting, to show the kernel
/// copied it at submission; in a scope the address is borrowed until the
/// send completes, so it cannot be touched: that check is one uring makes
/// unnecessary by its types.)
#[test]
fn send_zerocopy_to_an_address_after_a_linked_timeout() {
    use uring::TimeoutFlags;
    use uring::ops::{SendZc, Timeout};
    let _watch = uring_tests::watchdog();
    if !require_send_zc() {
        return;
    }
    let rx = UdpSocket::bind("[::1]:0").unwrap();
    let tx = UdpSocket::bind("[::1]:0").unwrap();
    let dest = uring::SockAddr::from(rx.local_addr().unwrap());
    let data = [0x42u8];
    for (name, mut ring) in zc_rings() {
        let got = ring.scope(|s| {
            s.push(
                Timeout::new(Duration::from_millis(200))
                    .timeout_flags(TimeoutFlags::ETIME_SUCCESS)
                    .user_data(1)
                    .link(SendZc::new(&tx, &data).dest(Some(&dest)).user_data(2)),
            )
            .unwrap();
            scope_drain(s)
        });
        assert_eq!(got.len(), 3, "{name}: {got:?}");
        assert_eq!(
            (got[0].user_data(), got[0].res()),
            (1, -libc::ETIME),
            "{name}"
        );
        assert_eq!(
            (got[1].user_data(), got[1].res()),
            (2, 1),
            "{name}: {got:?}"
        );
        assert!(got[1].has_more(), "{name}: {got:?}");
        assert_eq!(got[2].user_data(), 2, "{name}");
        assert!(
            got[2].is_notification() && !got[2].has_more(),
            "{name}: {got:?}"
        );
        let mut back = [0u8; 4];
        assert_eq!(rx.recv(&mut back).unwrap(), 1);
        assert_eq!(back[0], 0x42);
    }
}

/// send-zerocopy.c `test_sendzc_report`: a zero-copy send of 1 byte over
/// TCP with `IORING_SEND_ZC_REPORT_USAGE` completes with 1 flagged `MORE`,
/// then a notification not flagged `MORE` (over loopback, saying the data
/// was copied).
#[test]
fn send_zerocopy_report_usage_notification_ends_the_send() {
    use uring::SendZcFlags;
    use uring::ops::SendZc;
    let _watch = uring_tests::watchdog();
    if !require_send_zc() {
        return;
    }
    let (tx, rx) = tcp_pair(true);
    for (name, mut ring) in zc_rings() {
        let got = ring.scope(|s| {
            s.push(
                SendZc::new(&tx, b"z")
                    .send_flags(SendZcFlags::REPORT_USAGE)
                    .user_data(1),
            )
            .unwrap();
            scope_drain(s)
        });
        assert_eq!(got.len(), 2, "{name}: {got:?}");
        assert_eq!(got[0].res(), 1, "{name}: {got:?}");
        assert!(got[0].has_more(), "{name}: {got:?}");
        assert!(
            got[1].is_notification() && !got[1].has_more(),
            "{name}: {got:?}"
        );
        assert!(got[1].zc_copied(), "{name}: loopback copies: {got:?}");
        let mut b = [0u8; 1];
        (&rx).read_exact(&mut b).unwrap();
        assert_eq!(&b, b"z");
    }
}

/// A target of the zero-copy sends: a descriptor or a registered file.
#[derive(Clone, Copy)]
enum ZcTarget<'a> {
    Fd(uring::Fd<'a>),
    Fixed(uring::Fixed<'a>),
}

/// Runs `$body` with `$t` bound to the target's concrete type.
macro_rules! on_target {
    ($target:expr, |$t:ident| $body:expr) => {
        match $target {
            ZcTarget::Fd($t) => $body,
            ZcTarget::Fixed($t) => $body,
        }
    };
}

/// How one send of send-zerocopy.c `do_test_inet_send` is made.
#[derive(Clone, Copy, Debug, PartialEq)]
enum ZcHow {
    /// `SEND_ZC`.
    Zc,
    /// `SEND_ZC` from a registered buffer (`IORING_RECVSEND_FIXED_BUF`).
    ZcFixedBuf,
    /// A copying `SEND`.
    Copy,
    /// `SENDMSG_ZC` with one vector.
    MsgZc,
    /// `SENDMSG_ZC` with one vector, from a registered buffer (6.15).
    MsgZcFixedBuf,
    /// `SENDMSG_ZC` with this many vectors: 1 byte, then enough that the
    /// rest are 1 byte each (a send the kernel must retry past vectors).
    MsgZcIovec(usize),
}

/// The `user_data` of the receive that runs beside the sends.
const RX_TAG: u64 = 10000;

/// A sender and a receiver of send-zerocopy.c (`t_create_socketpair_ip`):
/// TCP (connected) or UDP (the sender connected to the receiver, or not),
/// over `127.0.0.1` or `::1`. `(sender, receiver, receiver's address)`.
fn zc_pair(v6: bool, tcp: bool, connect: bool) -> (OwnedFd, OwnedFd, SocketAddr) {
    let host = if v6 { "[::1]:0" } else { "127.0.0.1:0" };
    if tcp {
        let (client, server) = tcp_pair(v6);
        let addr = server.local_addr().unwrap();
        (client.into(), server.into(), addr)
    } else {
        let server = UdpSocket::bind(host).unwrap();
        let client = UdpSocket::bind(host).unwrap();
        let addr = server.local_addr().unwrap();
        if connect {
            client.connect(addr).unwrap();
        }
        (client.into(), server.into(), addr)
    }
}

/// One buffer of send-zerocopy.c: an allocation of its own, the part of it
/// registered, and the part sent.
struct ZcBuf {
    name: &'static str,
    backing: Vec<u8>,
    reg: std::ops::Range<usize>,
    send: std::ops::Range<usize>,
}

impl ZcBuf {
    /// `len` bytes at `misalign` past a page boundary, sent whole; a
    /// pattern seeded by `seed`.
    fn new(name: &'static str, len: usize, misalign: usize, shrink: usize, seed: u8) -> ZcBuf {
        let mut backing = uring_tests::pattern(len + misalign + 4096, seed);
        let start = backing.as_ptr().align_offset(4096) + misalign;
        backing.truncate(start + len);
        ZcBuf {
            name,
            backing,
            reg: start..start + len,
            send: start + shrink..start + len - shrink,
        }
    }

    fn data(&self) -> &[u8] {
        &self.backing[self.send.clone()]
    }
}

/// send-zerocopy.c's buffers: a page, 137 bytes, two pages less 54 bytes
/// at 41 bytes past a page boundary, and (where `large`) 8 MiB (32 MiB in
/// the C test), sent less 13 bytes at each end.
fn zc_bufs(large: bool) -> Vec<ZcBuf> {
    let mut bufs = vec![
        ZcBuf::new("normal", 4096, 0, 0, 1),
        ZcBuf::new("small", 137, 0, 0, 2),
        ZcBuf::new("nonaligned", 2 * 4096 - 41 - 13, 41, 0, 3),
    ];
    if large {
        bufs.push(ZcBuf::new("large", 8 << 20, 0, 13, 4));
    }
    bufs
}

/// Registers the buffers with `ring` (buffer `i` is `bufs[i]`'s registered
/// part).
///
/// # Safety
///
/// `bufs` must outlive the registration, and be touched only by the sends
/// while it lasts.
unsafe fn zc_register(ring: &mut Ring, bufs: &mut [ZcBuf]) -> uring::FixedBuffers {
    let iovs: Vec<IoSliceMut<'_>> = bufs
        .iter_mut()
        .map(|b| IoSliceMut::new(&mut b.backing[b.reg.clone()]))
        .collect();
    // SAFETY: forwarded from the caller.
    unsafe { ring.register_buffers(&iovs) }.unwrap()
}

/// One case of send-zerocopy.c `do_test_inet_send` without corking: one
/// send of `data` (to `dest` if given) with `MSG_WAITALL`, and a receive
/// of as many bytes with `MSG_WAITALL` on the other side, submitted
/// together: the send completes with every byte (after the kernel retried
/// any short send), then its notification if it said `MORE`; the receive
/// gets every byte.
#[allow(clippy::too_many_arguments)]
fn zc_single(
    ring: &mut Ring,
    target: ZcTarget<'_>,
    server: &OwnedFd,
    dest: Option<&uring::SockAddr>,
    data: &[u8],
    index: uring::FixedBuf,
    how: ZcHow,
    (poll_first, force_async): (bool, bool),
    case: &str,
) {
    use uring::ops::{Send, SendMsgZc, SendMsgZcFixed, SendZc, SendZcFixed};
    use uring::{MsgFlags, MsgHdr, SendFlags, SendZcFlags};
    let waitall = MsgFlags::WAITALL;
    let sqe_flags = if force_async {
        SqeFlags::ASYNC
    } else {
        SqeFlags::EMPTY
    };
    let zc_flags = if poll_first {
        SendZcFlags::POLL_FIRST
    } else {
        SendZcFlags::empty()
    };
    let parts: Vec<IoSlice<'_>> = match how {
        ZcHow::MsgZcIovec(n) => {
            let mut parts = vec![IoSlice::new(&data[..1])];
            let second = data.len() - n + 1;
            parts.push(IoSlice::new(&data[1..1 + second]));
            parts.extend(data[1 + second..].chunks(1).map(IoSlice::new));
            assert_eq!(parts.len(), n);
            parts
        }
        _ => vec![IoSlice::new(data)],
    };
    let msg = match dest {
        Some(d) => MsgHdr::new(&parts).to(d),
        None => MsgHdr::new(&parts),
    };
    let mut rx = vec![0u8; data.len()];
    let cqes = ring.scope(|s| {
        let pushed = on_target!(target, |t| match how {
            ZcHow::Zc => s
                .push(
                    SendZc::new(t, data)
                        .msg_flags(waitall)
                        .send_flags(zc_flags)
                        .dest(dest)
                        .flags(sqe_flags)
                        .user_data(0),
                )
                .is_ok(),
            ZcHow::ZcFixedBuf => s
                .push(
                    SendZcFixed::new(t, data, index)
                        .msg_flags(waitall)
                        .send_flags(zc_flags)
                        .dest(dest)
                        .flags(sqe_flags)
                        .user_data(0),
                )
                .is_ok(),
            ZcHow::Copy => s
                .push(
                    Send::new(t, data)
                        .msg_flags(waitall)
                        .send_flags(if poll_first {
                            SendFlags::POLL_FIRST
                        } else {
                            SendFlags::empty()
                        })
                        .dest(dest)
                        .flags(sqe_flags)
                        .user_data(0),
                )
                .is_ok(),
            ZcHow::MsgZc | ZcHow::MsgZcIovec(_) => s
                .push(
                    SendMsgZc::new(t, &msg)
                        .msg_flags(waitall)
                        .send_flags(zc_flags)
                        .flags(sqe_flags)
                        .user_data(0),
                )
                .is_ok(),
            ZcHow::MsgZcFixedBuf => s
                .push(
                    SendMsgZcFixed::new(t, &msg, index)
                        .msg_flags(waitall)
                        .send_flags(zc_flags)
                        .flags(sqe_flags)
                        .user_data(0),
                )
                .is_ok(),
        });
        assert!(pushed, "{case}: push");
        s.push(
            Recv::new(server, &mut rx[..])
                .msg_flags(waitall)
                .user_data(RX_TAG),
        )
        .unwrap();
        scope_drain(s)
    });
    let rx_res: Vec<i32> = cqes
        .iter()
        .filter(|c| c.user_data() == RX_TAG)
        .map(|c| c.res())
        .collect();
    assert_eq!(rx_res, [data.len() as i32], "{case}: receive: {cqes:?}");
    let sent = zc_outcome(&cqes, 0, case);
    assert_eq!(sent, data.len() as i32, "{case}: {cqes:?}");
    if how == ZcHow::Copy {
        assert_eq!(cqes.len(), 2, "{case}: a copying send posts once: {cqes:?}");
    }
    if rx != data {
        let at = rx.iter().zip(data).position(|(a, b)| a != b);
        panic!("{case}: botched data, first mismatched byte {at:?}");
    }
}

/// send-zerocopy.c `test_inet_send` without corking: sends over TCP (IPv4
/// and IPv6) and UDP (connected, and unconnected with an address), from
/// each buffer (a page, 137 bytes, a misaligned pair of pages), as a
/// zero-copy send, one from registered buffers, a copying send, a
/// zero-copy `sendmsg` (from registered buffers too on 6.15), plain,
/// polled first and forced async; and a zero-copy send with an address on
/// a connected UDP socket: each delivers every byte, its result the whole
/// length, and posts its notification exactly when it said `MORE`. On a
/// plain and a deferred-task-work ring.
#[test]
fn send_zerocopy_inet_sends_deliver_every_byte() {
    let _watch = uring_tests::watchdog();
    if !require_send_zc() {
        return;
    }
    let msg_fixed = uring_tests::kernel_version() >= (6, 15);
    for (ring_name, mut ring) in zc_rings() {
        let mut bufs = zc_bufs(false);
        // SAFETY: `bufs` outlives the registration (unregistered below) and
        // only the sends read it meanwhile.
        let table = unsafe { zc_register(&mut ring, &mut bufs) };
        for (v6, tcp, connect) in [
            (false, true, true),
            (true, true, true),
            (false, false, true),
            (true, false, true),
            (false, false, false),
            (true, false, false),
        ] {
            let (client, server, addr) = zc_pair(v6, tcp, connect);
            let addr = uring::SockAddr::from(addr);
            let dest = (!connect).then_some(&addr);
            for (i, buf) in bufs.iter().enumerate() {
                let index = table.get(i as u32).unwrap();
                let mut hows = vec![ZcHow::Zc, ZcHow::ZcFixedBuf, ZcHow::Copy, ZcHow::MsgZc];
                if msg_fixed {
                    hows.push(ZcHow::MsgZcFixedBuf);
                }
                for how in hows {
                    for mode in [(false, false), (true, false), (false, true)] {
                        let case = format!(
                            "{ring_name} ring, v6 {v6} tcp {tcp} connect {connect}, {} buffer, \
                             {how:?}, poll first / async {mode:?}",
                            buf.name
                        );
                        zc_single(
                            &mut ring,
                            ZcTarget::Fd(uring::Fd::new(client.as_fd())),
                            &server,
                            dest,
                            buf.data(),
                            index,
                            how,
                            mode,
                            &case,
                        );
                    }
                }
                if !tcp && connect {
                    let case =
                        format!("{ring_name} ring, v6 {v6}: an address on a connected socket");
                    zc_single(
                        &mut ring,
                        ZcTarget::Fd(uring::Fd::new(client.as_fd())),
                        &server,
                        Some(&addr),
                        buf.data(),
                        index,
                        ZcHow::Zc,
                        (false, false),
                        &case,
                    );
                }
            }
        }
        ring.unregister_buffers(table).unwrap();
    }
}

/// send-zerocopy.c, short sends: 8 MiB less 26 bytes over TCP (IPv4 and
/// IPv6), more than the socket takes at once, sent with `MSG_WAITALL` as a
/// zero-copy send, one from a registered buffer, a copying send, and
/// zero-copy `sendmsg`s of 1, 4 and 32 vectors (the second vector taking
/// nearly all): the kernel retries the short sends and each completes with
/// the whole length, which arrives intact.
#[test]
fn send_zerocopy_short_sends_are_retried_whole() {
    let _watch = uring_tests::watchdog();
    if !require_send_zc() {
        return;
    }
    for (ring_name, mut ring) in zc_rings() {
        let mut bufs = zc_bufs(true);
        // SAFETY: as in `send_zerocopy_inet_sends_deliver_every_byte`.
        let table = unsafe { zc_register(&mut ring, &mut bufs) };
        let large = &bufs[3];
        let index = table.get(3).unwrap();
        for v6 in [false, true] {
            let (client, server, _) = zc_pair(v6, true, true);
            for how in [
                ZcHow::Zc,
                ZcHow::ZcFixedBuf,
                ZcHow::Copy,
                ZcHow::MsgZc,
                ZcHow::MsgZcIovec(4),
                ZcHow::MsgZcIovec(32),
            ] {
                let case = format!("{ring_name} ring, v6 {v6}, {how:?}");
                zc_single(
                    &mut ring,
                    ZcTarget::Fd(uring::Fd::new(client.as_fd())),
                    &server,
                    None,
                    large.data(),
                    index,
                    how,
                    (false, false),
                    &case,
                );
            }
        }
        ring.unregister_buffers(table).unwrap();
    }
}

/// send-zerocopy.c with the sending socket a registered file: zero-copy
/// sends (plain, from a registered buffer, `sendmsg`) through a `Fixed`
/// target deliver every byte and post their notifications, over TCP and
/// UDP.
#[test]
fn send_zerocopy_through_a_registered_socket() {
    let _watch = uring_tests::watchdog();
    if !require_send_zc() {
        return;
    }
    for (ring_name, mut ring) in zc_rings() {
        let mut bufs = zc_bufs(false);
        // SAFETY: as in `send_zerocopy_inet_sends_deliver_every_byte`.
        let table = unsafe { zc_register(&mut ring, &mut bufs) };
        for tcp in [true, false] {
            let (client, server, _) = zc_pair(false, tcp, true);
            let files = ring.register_files(&[client.as_fd()]).unwrap();
            let slot = files.get(0).unwrap();
            for (i, buf) in bufs.iter().enumerate() {
                for how in [ZcHow::Zc, ZcHow::ZcFixedBuf, ZcHow::MsgZc] {
                    let case = format!("{ring_name} ring, tcp {tcp}, {} buffer, {how:?}", buf.name);
                    zc_single(
                        &mut ring,
                        ZcTarget::Fixed(slot),
                        &server,
                        None,
                        buf.data(),
                        table.get(i as u32).unwrap(),
                        how,
                        (false, true),
                        &case,
                    );
                }
            }
            ring.unregister_files(files).unwrap();
        }
        ring.unregister_buffers(table).unwrap();
    }
}

/// One corked case of send-zerocopy.c `do_test_inet_send`: `data` sent
/// over UDP in five linked zero-copy sends (`MSG_MORE` on all but the
/// last; with `mixed`, the first, third and fourth from a registered
/// buffer), beside a receive of the whole: each send completes with its
/// piece (`len / 5`, the last the rest), in order, each posting its
/// notification when it said `MORE`; the receive gets one datagram of
/// every byte.
#[allow(clippy::too_many_arguments)]
fn zc_cork(
    ring: &mut Ring,
    client: &OwnedFd,
    server: &OwnedFd,
    dest: Option<&uring::SockAddr>,
    data: &[u8],
    index: uring::FixedBuf,
    mixed: bool,
    case: &str,
) {
    use uring::MsgFlags;
    use uring::ops::{SendZc, SendZcFixed};
    let chunk = data.len() / 5;
    let piece = |i: usize| {
        if i == 4 {
            &data[4 * chunk..]
        } else {
            &data[i * chunk..(i + 1) * chunk]
        }
    };
    let more = MsgFlags::WAITALL | MsgFlags::MORE;
    let plain = |i: usize| {
        let flags = if i == 4 { MsgFlags::WAITALL } else { more };
        SendZc::new(client, piece(i))
            .msg_flags(flags)
            .dest(dest)
            .user_data(i as u64)
    };
    let fixed = |i: usize| {
        let flags = if i == 4 { MsgFlags::WAITALL } else { more };
        SendZcFixed::new(client, piece(i), index)
            .msg_flags(flags)
            .dest(dest)
            .user_data(i as u64)
    };
    let mut rx = vec![0u8; data.len()];
    let cqes = ring.scope(|s| {
        if mixed {
            s.push(
                fixed(0)
                    .link(plain(1))
                    .link(fixed(2))
                    .link(fixed(3))
                    .link(plain(4)),
            )
            .unwrap();
        } else {
            s.push(
                plain(0)
                    .link(plain(1))
                    .link(plain(2))
                    .link(plain(3))
                    .link(plain(4)),
            )
            .unwrap();
        }
        s.push(
            Recv::new(server, &mut rx[..])
                .msg_flags(MsgFlags::WAITALL)
                .user_data(RX_TAG),
        )
        .unwrap();
        scope_drain(s)
    });
    let results: Vec<(u64, i32)> = cqes
        .iter()
        .filter(|c| c.user_data() != RX_TAG && !c.is_notification())
        .map(|c| (c.user_data(), c.res()))
        .collect();
    let expected: Vec<(u64, i32)> = (0..5).map(|i| (i as u64, piece(i).len() as i32)).collect();
    assert_eq!(results, expected, "{case}: {cqes:?}");
    for i in 0..5 {
        zc_outcome(&cqes, i, case);
    }
    let rx_res: Vec<i32> = cqes
        .iter()
        .filter(|c| c.user_data() == RX_TAG)
        .map(|c| c.res())
        .collect();
    assert_eq!(
        rx_res,
        [data.len() as i32],
        "{case}: one datagram of all: {cqes:?}"
    );
    assert!(rx == data, "{case}: botched data");
}

/// send-zerocopy.c `test_inet_send` with corking: over UDP (IPv4 and IPv6,
/// connected or sending to an address), each buffer sent as a chain of
/// five linked zero-copy sends with `MSG_MORE`, from plain memory or with
/// some from a registered buffer (the C test picks at random): the pieces
/// complete in order, each whole, and arrive as one datagram. On a plain
/// and a deferred-task-work ring.
#[test]
fn send_zerocopy_corked_linked_sends_arrive_as_one_datagram() {
    let _watch = uring_tests::watchdog();
    if !require_send_zc() {
        return;
    }
    for (ring_name, mut ring) in zc_rings() {
        let mut bufs = zc_bufs(false);
        // SAFETY: as in `send_zerocopy_inet_sends_deliver_every_byte`.
        let table = unsafe { zc_register(&mut ring, &mut bufs) };
        for (v6, connect) in [(false, true), (true, true), (false, false), (true, false)] {
            let (client, server, addr) = zc_pair(v6, false, connect);
            let addr = uring::SockAddr::from(addr);
            let dest = (!connect).then_some(&addr);
            for (i, buf) in bufs.iter().enumerate() {
                for mixed in [false, true] {
                    let case = format!(
                        "{ring_name} ring, v6 {v6} connect {connect}, {} buffer, mixed {mixed}",
                        buf.name
                    );
                    zc_cork(
                        &mut ring,
                        &client,
                        &server,
                        dest,
                        buf.data(),
                        table.get(i as u32).unwrap(),
                        mixed,
                        &case,
                    );
                }
            }
        }
        ring.unregister_buffers(table).unwrap();
    }
}
