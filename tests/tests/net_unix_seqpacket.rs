//! `uring::net`'s sequenced-packet sockets (`UnixSeqpacketListener`,
//! `UnixSeqpacket`): messages keep their boundaries in order, a long one
//! is cut and flagged, the peer's end reads as 0 bytes, connections come
//! by path, abstract name and `incoming`, credentials and descriptors
//! travel with messages, and receives end at their deadlines.

use std::os::fd::{AsFd, AsRawFd};
use std::os::linux::net::SocketAddrExt as _;
use std::time::{Duration, Instant};

use uring::net::{UnixSeqpacket, UnixSeqpacketListener};
use uring::reactor::Reactor;
use uring::reactor::ops::SendWithFds;
use uring::{BufferGroup, ControlMessagesBuf, SockAddr};

use uring_tests::zeroed_room as room;

/// The `SO_TYPE` of a socket.
fn socket_type(fd: std::os::fd::BorrowedFd<'_>) -> i32 {
    let mut ty = 0i32;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: the option's value and length are locals, alive for the call.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            (&mut ty as *mut i32).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
    ty
}

/// Three messages of 5, 0 and 300 bytes sent by a pair's one end arrive at
/// the other one each, in order, whole, into buffers larger than all of
/// them; a message longer than the buffer is cut to it, flagged by
/// `recv_msg`, and its rest is lost (the next receive takes the next
/// message). Once the peer shuts its writing half, receives give 0 bytes.
#[test]
fn messages_keep_their_boundaries_and_the_end_reads_as_zero() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let (a, b) = UnixSeqpacket::pair(&reactor.handle()).unwrap();
    assert_eq!(socket_type(a.as_fd()), libc::SOCK_SEQPACKET);
    let long = uring_tests::pattern(300, 7);
    reactor
        .run_until(async {
            for msg in [&b"hello"[..], b"", &long] {
                let (r, _) = a.send(msg.to_vec()).await;
                assert_eq!(r.unwrap(), msg.len());
            }
            for msg in [&b"hello"[..], b"", &long] {
                let (r, buf) = b.recv(room(1024)).await;
                assert_eq!(r.unwrap(), msg.len());
                assert_eq!(buf, msg);
            }
            let (r, _) = a.send(long.clone()).await;
            r.unwrap();
            let (r, _) = a.send(b"next".to_vec()).await;
            r.unwrap();
            let (r, buf) = b.recv_msg(room(10), 0).await;
            let (n, received) = r.unwrap();
            assert_eq!(n, 10);
            assert_eq!(buf, &long[..10]);
            assert!(received.is_truncated());
            let (r, buf) = b.recv(room(64)).await;
            assert_eq!(r.unwrap(), 4);
            assert_eq!(buf, b"next");
            a.shutdown(std::net::Shutdown::Write).await.unwrap();
            for _ in 0..2 {
                let (r, buf) = b.recv(room(64)).await;
                assert_eq!(r.unwrap(), 0);
                assert!(buf.is_empty());
            }
            // The other way still works.
            let (r, _) = b.send(b"back".to_vec()).await;
            r.unwrap();
            let (r, buf) = a.recv(room(64)).await;
            assert_eq!(r.unwrap(), 4);
            assert_eq!(buf, b"back");
        })
        .unwrap();
}

/// A listener on a path accepts a connection by `accept` and another by
/// `incoming`, each a sequenced-packet socket that knows both addresses
/// and its peer's process; one on an abstract name accepts too; a path
/// nothing listens on is refused, and a stream listener's path is not a
/// sequenced-packet one (the kernel's `EPROTOTYPE`).
#[test]
fn connections_by_path_by_abstract_name_and_by_incoming() {
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("packets.sock");
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = UnixSeqpacketListener::bind(&h, &path).unwrap();
    assert_eq!(
        listener.local_addr().unwrap().as_pathname(),
        Some(path.as_path())
    );
    let name = format!(
        "uring-seqpacket-{}-{:?}",
        std::process::id(),
        Instant::now()
    );
    let abstract_addr = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
    let abstract_listener =
        UnixSeqpacketListener::bind_addr(&h, &SockAddr::from(&abstract_addr)).unwrap();
    let stream_path = dir.path().join("stream.sock");
    let _stream_listener = std::os::unix::net::UnixListener::bind(&stream_path).unwrap();
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    reactor
        .run_until(async {
            let client = UnixSeqpacket::connect(&h, &path).await.unwrap();
            let server = listener.accept().await.unwrap();
            assert_eq!(socket_type(server.as_fd()), libc::SOCK_SEQPACKET);
            assert_eq!(
                client.peer_addr().unwrap().as_pathname(),
                Some(path.as_path())
            );
            assert!(client.local_addr().unwrap().is_unnamed());
            assert_eq!(server.peer_cred().unwrap().pid, pid);
            let (r, _) = client.send(b"one".to_vec()).await;
            r.unwrap();
            let (r, buf) = server.recv(room(16)).await;
            assert_eq!(&buf[..r.unwrap()], b"one");

            let mut incoming = listener.incoming();
            let second = UnixSeqpacket::connect(&h, &path).await.unwrap();
            let accepted = incoming.next().await.unwrap().unwrap();
            let (r, _) = accepted.send(b"two".to_vec()).await;
            r.unwrap();
            let (r, buf) = second.recv(room(16)).await;
            assert_eq!(&buf[..r.unwrap()], b"two");

            let third = UnixSeqpacket::connect_addr(&h, SockAddr::from(&abstract_addr))
                .await
                .unwrap();
            let accepted = abstract_listener.accept().await.unwrap();
            let (r, _) = third.send(b"three".to_vec()).await;
            r.unwrap();
            let (r, buf) = accepted.recv(room(16)).await;
            assert_eq!(&buf[..r.unwrap()], b"three");

            let nowhere = dir.path().join("nobody.sock");
            let e = UnixSeqpacket::connect(&h, &nowhere).await.unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e}");
            let e = UnixSeqpacket::connect(&h, &stream_path).await.unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EPROTOTYPE), "{e}");
        })
        .unwrap();
}

/// Credentials go with a message by `send_msg` and arrive by `recv_msg`
/// with `SO_PASSCRED`; a descriptors record is refused with the buffer
/// back and nothing sent; descriptors sent with `SendWithFds` arrive
/// owned with their message.
#[test]
fn credentials_and_descriptors_travel_with_messages() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (a, b) = UnixSeqpacket::pair(&h).unwrap();
    uring_tests::set_int_option(b.as_fd(), libc::SOL_SOCKET, libc::SO_PASSCRED, 1).unwrap();
    let (ours, creds) = uring_tests::our_credentials();
    let (pipe_r, pipe_w) = uring_tests::pipe();
    let mut rights = ControlMessagesBuf::new();
    rights.push(
        libc::SOL_SOCKET,
        libc::SCM_RIGHTS,
        &pipe_r.as_raw_fd().to_ne_bytes(),
    );
    reactor
        .run_until(async {
            let (r, back) = a.send_msg(b"refused".to_vec(), rights).await;
            assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
            assert_eq!(back, b"refused");
            let (r, _) = a.send_msg(b"signed".to_vec(), creds).await;
            assert_eq!(r.unwrap(), 6);
            let (r, buf) = b.recv_msg(room(64), 64).await;
            let (n, received) = r.unwrap();
            assert_eq!(&buf[..n], b"signed", "the refused send sent something");
            let got: Vec<(i32, u32, u32)> = received
                .control_messages()
                .filter_map(|m| m.credentials())
                .map(|c| (c.pid, c.uid, c.gid))
                .collect();
            assert_eq!(got, [(ours.pid, ours.uid, ours.gid)]);

            let op = SendWithFds::new(a.shared_fd(), b"fd".to_vec(), vec![pipe_w]);
            let (r, _) = h.op(op).await;
            assert_eq!(r.unwrap(), 2);
            let (r, buf) = b.recv_msg(room(64), 128).await;
            let (n, mut received) = r.unwrap();
            assert_eq!(&buf[..n], b"fd");
            let fds = received.take_fds();
            assert_eq!(fds.len(), 1);
            // The received descriptor is the pipe's write end: a byte
            // written through it comes out of the read end.
            let mut w = std::fs::File::from(fds.into_iter().next().unwrap());
            std::io::Write::write_all(&mut w, b"x").unwrap();
            let mut r = std::fs::File::from(pipe_r);
            let mut got = [0u8; 1];
            std::io::Read::read_exact(&mut r, &mut got).unwrap();
            assert_eq!(&got, b"x");
        })
        .unwrap();
}

/// A receive with nothing sent ends at its read deadline with `TimedOut`,
/// no sooner; a message sent afterwards is received whole by the next
/// receive (the cut one took nothing), and a buffer ring takes one too.
#[test]
fn receives_end_at_their_deadline_and_take_nothing() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let group = reactor
        .register_buf_ring(BufferGroup::new(9), 4, 256)
        .unwrap();
    let (a, mut b) = UnixSeqpacket::pair(&h).unwrap();
    reactor
        .run_until(async {
            let start = Instant::now();
            b.set_read_deadline(Some(start + Duration::from_millis(50)));
            let (r, _) = b.recv(room(16)).await;
            let elapsed = start.elapsed();
            assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
            assert!(elapsed >= Duration::from_millis(50), "{elapsed:?}");
            assert!(elapsed < uring_tests::PATIENCE, "{elapsed:?}");
            b.set_read_deadline(None);
            let (r, _) = a.send(b"late".to_vec()).await;
            r.unwrap();
            let (r, buf) = b.recv(room(16)).await;
            assert_eq!(r.unwrap(), 4);
            assert_eq!(buf, b"late");
            let (r, _) = a.send(b"ringed".to_vec()).await;
            r.unwrap();
            let got = b.recv_ring(group).await.unwrap().unwrap();
            assert_eq!(&got[..], b"ringed");
        })
        .unwrap();
}
