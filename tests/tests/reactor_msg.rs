//! The reactor's `SendMsg` and `RecvMsg`, and the UDP socket's `send_msg`
//! and `recv_msg` over them: UDP segmentation cutting one send into
//! datagrams, packet info and TTL records received, a cut datagram and a
//! cut control room told by their flags, records the kernel would not read
//! as plain data refused with the buffer back and nothing sent, a
//! Unix-domain message's descriptors and credentials, a failed receive
//! learning nothing, `UnixStream::peer_cred`, and the Unix datagram
//! socket's `send_msg` and `recv_msg`.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket as StdUdp};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use uring::ControlMessagesBuf;
use uring::net::{UdpSocket, UnixStream};
use uring::reactor::ops::{MAX_CONTROL_LEN, RecvMsg, SendMsg, SendWithFds};
use uring::reactor::{Reactor, SharedFd};
use uring_tests::{pattern, watchdog};

use uring_tests::zeroed_room as room;

fn set_int(fd: BorrowedFd<'_>, level: i32, name: i32, value: i32) {
    uring_tests::set_int_option(fd, level, name, value).unwrap();
}

fn loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

/// A std receiver whose reads give up rather than hang.
fn std_receiver() -> StdUdp {
    let rx = StdUdp::bind(loopback()).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    rx
}

/// One send of 1000 bytes with `UDP_SEGMENT` of 300 reaches the receiver as
/// four datagrams (300, 300, 300, 100), each holding its own part of the
/// bytes; the send counts all 1000.
#[test]
fn udp_segmentation_cuts_one_send_into_datagrams() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let rx = std_receiver();
    let tx = UdpSocket::bind(&reactor.handle(), loopback()).unwrap();
    let data = pattern(1000, 3);
    let mut control = ControlMessagesBuf::new();
    control.push(libc::SOL_UDP, libc::UDP_SEGMENT, &300u16.to_ne_bytes());
    let (sent, buf) = reactor
        .run_until(tx.send_msg(data.clone(), Some(rx.local_addr().unwrap()), control))
        .unwrap();
    let sent = match sent {
        Err(e) if e.raw_os_error() == Some(libc::EIO) || e.raw_os_error() == Some(libc::EINVAL) => {
            uring_tests::skip(format!("UDP segmentation refused here: {e}"));
            return;
        }
        r => r.unwrap(),
    };
    assert_eq!(sent, 1000);
    assert_eq!(buf, data, "the buffer comes back as it went");
    let mut got = Vec::new();
    let mut lens = Vec::new();
    let mut datagram = [0u8; 2000];
    for _ in 0..4 {
        let n = rx.recv(&mut datagram).unwrap();
        lens.push(n);
        got.extend_from_slice(&datagram[..n]);
    }
    assert_eq!(lens, [300, 300, 300, 100]);
    assert_eq!(got, data);
}

/// The reactor op sends to the connected peer with no address, and to an
/// address given with `to`; a send with no record at all is a plain one.
#[test]
fn send_msg_goes_to_the_connected_peer_or_to_its_address() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let a = std_receiver();
    let b = std_receiver();
    let tx = StdUdp::bind(loopback()).unwrap();
    tx.connect(a.local_addr().unwrap()).unwrap();
    let fd = SharedFd::new(tx);
    let mut ttl = ControlMessagesBuf::new();
    ttl.push(libc::SOL_IP, libc::IP_TTL, &7i32.to_ne_bytes());
    let op = SendMsg::new(&fd, b"to a".to_vec(), ttl).unwrap();
    let (n, _) = reactor.run_until(reactor.op(op)).unwrap();
    assert_eq!(n.unwrap(), 4);
    let op = SendMsg::new(&fd, b"to b!".to_vec(), ControlMessagesBuf::new())
        .unwrap()
        .to(b.local_addr().unwrap());
    let (n, _) = reactor.run_until(reactor.op(op)).unwrap();
    assert_eq!(n.unwrap(), 5);
    let mut buf = [0u8; 16];
    assert_eq!(a.recv(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"to a");
    let (n, from) = b.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"to b!");
    assert_eq!(from, uring_tests::local_addr(fd.as_fd()).unwrap());
}

/// With `IP_PKTINFO` and `IP_RECVTTL` set, a received datagram carries its
/// destination address and its TTL (the sender's, set with `IP_TTL`), and
/// its sender's address; it was not cut.
#[test]
fn recv_msg_reads_packet_info_ttl_and_the_sender() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let rx = UdpSocket::bind(&reactor.handle(), loopback()).unwrap();
    set_int(rx.shared_fd().as_fd(), libc::SOL_IP, libc::IP_PKTINFO, 1);
    set_int(rx.shared_fd().as_fd(), libc::SOL_IP, libc::IP_RECVTTL, 1);
    let tx = StdUdp::bind(loopback()).unwrap();
    set_int(tx.as_fd(), libc::SOL_IP, libc::IP_TTL, 33);
    tx.send_to(b"hello", rx.local_addr().unwrap()).unwrap();
    let (r, buf) = reactor.run_until(rx.recv_msg(room(64), 256)).unwrap();
    let (n, received) = r.unwrap();
    assert_eq!(n, 5);
    assert_eq!(buf, b"hello");
    assert_eq!(received.from(), Some(tx.local_addr().unwrap()));
    assert!(received.from_unix().is_none());
    assert!(!received.is_truncated());
    assert!(!received.is_control_truncated());
    let info: Vec<libc::in_pktinfo> = received
        .control_messages()
        .filter_map(|m| m.ip_pktinfo())
        .collect();
    assert_eq!(info.len(), 1, "{received:?}");
    assert_eq!(
        Ipv4Addr::from(info[0].ipi_addr.s_addr.to_ne_bytes()),
        Ipv4Addr::LOCALHOST
    );
    let ttls: Vec<u8> = received
        .control_messages()
        .filter_map(|m| m.ip_ttl())
        .collect();
    assert_eq!(ttls, [33]);
    assert_eq!(received.control_messages().count(), 2);
}

/// A datagram longer than the buffer is cut to it and flagged `MSG_TRUNC`;
/// records that do not fit a room too small for them are dropped and the
/// message flagged `MSG_CTRUNC`; with no room asked for, no record comes.
#[test]
fn cut_datagrams_and_cut_records_are_flagged() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let rx = UdpSocket::bind(&reactor.handle(), loopback()).unwrap();
    set_int(rx.shared_fd().as_fd(), libc::SOL_IP, libc::IP_PKTINFO, 1);
    let tx = StdUdp::bind(loopback()).unwrap();
    let to = rx.local_addr().unwrap();
    let data = pattern(100, 9);
    for control in [0, 8, 256] {
        tx.send_to(&data, to).unwrap();
        let (r, buf) = reactor.run_until(rx.recv_msg(room(10), control)).unwrap();
        let (n, received) = r.unwrap();
        assert_eq!(n, 10, "room {control}");
        assert_eq!(buf, &data[..10]);
        assert!(received.is_truncated(), "room {control}: {received:?}");
        assert_eq!(received.flags() & libc::MSG_TRUNC, libc::MSG_TRUNC);
        let infos = received
            .control_messages()
            .filter(|m| m.ip_pktinfo().is_some())
            .count();
        if control == 256 {
            assert!(!received.is_control_truncated(), "{received:?}");
            assert_eq!(infos, 1);
        } else {
            // The record (12 bytes of data past a 16-byte header) fits in
            // neither room: the kernel flags the cut.
            assert!(
                received.is_control_truncated(),
                "room {control}: {received:?}"
            );
            assert_eq!(infos, 0);
        }
    }
}

/// A record that passes descriptors (`SCM_RIGHTS`) is refused when the op
/// is made: `InvalidInput`, the buffer given back whole, and nothing sent.
/// The socket's `send_msg` answers the same.
#[test]
fn records_that_are_not_plain_data_are_refused_with_the_buffer_back() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let rx = StdUdp::bind(loopback()).unwrap();
    rx.set_nonblocking(true).unwrap();
    let tx = UdpSocket::bind(&reactor.handle(), loopback()).unwrap();
    let (pipe_r, _pipe_w) = uring_tests::pipe();
    let mut rights = ControlMessagesBuf::new();
    rights.push(
        libc::SOL_SOCKET,
        libc::SCM_RIGHTS,
        &pipe_r.as_raw_fd().to_ne_bytes(),
    );
    let data = pattern(50, 1);
    let Err((e, back)) = SendMsg::new(tx.shared_fd(), data.clone(), rights.clone()) else {
        panic!("an SCM_RIGHTS record was taken");
    };
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(back, data);
    let (r, back) = reactor
        .run_until(tx.send_msg(data.clone(), Some(rx.local_addr().unwrap()), rights))
        .unwrap();
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::InvalidInput);
    assert_eq!(back, data);
    // A record of a protocol's own (RDS's RDMA arguments) is refused too.
    let mut rds = ControlMessagesBuf::new();
    rds.push(276, 1, &[0u8; 48]);
    assert!(SendMsg::new(tx.shared_fd(), Vec::<u8>::new(), rds).is_err());
    let mut buf = [0u8; 64];
    assert_eq!(
        rx.recv(&mut buf).unwrap_err().kind(),
        io::ErrorKind::WouldBlock,
        "a refused send sent something"
    );
}

/// On a Unix-domain datagram pair, a message passing two descriptors comes
/// out of `RecvMsg` with both owned (naming the files sent), and one with
/// `SO_PASSCRED` carries this process's credentials; descriptors not
/// taken are closed with the `ReceivedMsg`.
#[test]
fn unix_messages_pass_descriptors_owned_and_credentials() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (a, b) = std::os::unix::net::UnixDatagram::pair().unwrap();
    let a = SharedFd::new(a);
    let b = SharedFd::new(b);
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<OwnedFd> = (0..2)
        .map(|i| {
            let path = dir.path().join(format!("f{i}"));
            std::fs::write(&path, [i as u8; 3]).unwrap();
            OwnedFd::from(std::fs::File::open(path).unwrap())
        })
        .collect();
    let inodes: Vec<u64> = files.iter().map(|f| inode(f.as_fd())).collect();
    let (n, _) = reactor
        .run_until(reactor.op(SendWithFds::new(&a, b"fds".to_vec(), files)))
        .unwrap();
    assert_eq!(n.unwrap(), 3);
    let (n, (buf, mut received)) = reactor
        .run_until(reactor.op(RecvMsg::new(&b, room(8), 64)))
        .unwrap();
    assert_eq!(n.unwrap(), 3);
    assert_eq!(buf, b"fds");
    assert!(received.from().is_none());
    // The pair's sender is bound to no name.
    assert_eq!(received.from_unix().map(|a| a.is_unnamed()), Some(true));
    let fds = received.take_fds();
    assert_eq!(
        fds.iter().map(|f| inode(f.as_fd())).collect::<Vec<_>>(),
        inodes
    );
    for fd in &fds {
        // SAFETY: F_GETFD reads the descriptor's flags.
        let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
        assert_eq!(
            flags & libc::FD_CLOEXEC,
            libc::FD_CLOEXEC,
            "received without CLOEXEC"
        );
    }
    assert!(received.take_fds().is_empty(), "taken twice");

    // Not taken: closed with the `ReceivedMsg`.
    let untaken = dir.path().join("untaken");
    std::fs::write(&untaken, b"").unwrap();
    let file = OwnedFd::from(std::fs::File::open(&untaken).unwrap());
    reactor
        .run_until(reactor.op(SendWithFds::new(&a, b"x".to_vec(), vec![file])))
        .unwrap()
        .0
        .unwrap();
    let (n, (_, received)) = reactor
        .run_until(reactor.op(RecvMsg::new(&b, room(8), 64)))
        .unwrap();
    assert_eq!(n.unwrap(), 1);
    let raw: Vec<i32> = received
        .control_messages()
        .filter_map(|m| m.fds())
        .flatten()
        .collect();
    assert_eq!(raw.len(), 1);
    assert!(uring_tests::fd_is_open(raw[0]));
    // Told by the file it names, not by its number, which another test's
    // descriptor may take once it is closed.
    assert!(
        uring_tests::fd_names(&untaken),
        "the received descriptor names the file sent"
    );
    drop(received);
    assert!(
        !uring_tests::fd_names(&untaken),
        "a received descriptor leaked"
    );

    // Credentials.
    set_int(b.as_fd(), libc::SOL_SOCKET, libc::SO_PASSCRED, 1);
    let (n, _) = reactor
        .run_until(reactor.op(SendMsg::new(&a, b"c".to_vec(), ControlMessagesBuf::new()).unwrap()))
        .unwrap();
    assert_eq!(n.unwrap(), 1);
    let (n, (_, received)) = reactor
        .run_until(reactor.op(RecvMsg::new(&b, room(8), 64)))
        .unwrap();
    assert_eq!(n.unwrap(), 1);
    let creds: Vec<libc::ucred> = received
        .control_messages()
        .filter_map(|m| m.credentials())
        .collect();
    assert_eq!(creds.len(), 1, "{received:?}");
    // SAFETY: getpid and getuid have no preconditions.
    unsafe {
        assert_eq!(creds[0].pid, libc::getpid());
        assert_eq!(creds[0].uid, libc::getuid());
    }
    assert!(received.from_unix().is_some());
}

fn inode(fd: BorrowedFd<'_>) -> u64 {
    // SAFETY: all-zero bytes are a valid `stat`, which fstat fills.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is writable, alive for the call.
    assert_eq!(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) }, 0);
    st.st_ino
}

/// A receive that fails (a pipe is no socket) learns nothing: no address,
/// no record, no flag; the buffer comes back empty. A room asked past
/// [`MAX_CONTROL_LEN`] is cut to it and the receive works.
#[test]
fn a_failed_receive_learns_nothing_and_huge_rooms_are_cut() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (r, _w) = uring_tests::pipe();
    let r = SharedFd::new(r);
    let (n, (buf, received)) = reactor
        .run_until(reactor.op(RecvMsg::new(&r, room(8), 64)))
        .unwrap();
    assert_eq!(n.unwrap_err().raw_os_error(), Some(libc::ENOTSOCK));
    assert!(buf.is_empty());
    assert!(received.from().is_none());
    assert!(received.control().is_empty());
    assert_eq!(received.flags(), 0);

    let rx = UdpSocket::bind(&reactor.handle(), loopback()).unwrap();
    set_int(rx.shared_fd().as_fd(), libc::SOL_IP, libc::IP_PKTINFO, 1);
    let tx = StdUdp::bind(loopback()).unwrap();
    tx.send_to(b"big room", rx.local_addr().unwrap()).unwrap();
    let op = RecvMsg::new(rx.shared_fd(), room(16), usize::MAX);
    assert!(format!("{op:?}").contains(&format!("room: {MAX_CONTROL_LEN}")));
    let (n, (buf, received)) = reactor.run_until(reactor.op(op)).unwrap();
    assert_eq!(n.unwrap(), 8);
    assert_eq!(buf, b"big room");
    assert_eq!(received.control_messages().count(), 1);
}

/// A receive whose deadline has passed fails with `TimedOut` at once, the
/// buffer back empty and nothing learnt; one with a near deadline and no
/// datagram is cut at it.
#[test]
fn recv_msg_keeps_the_socket_s_read_deadline() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let mut rx = UdpSocket::bind(&reactor.handle(), loopback()).unwrap();
    rx.set_read_deadline(Some(Instant::now() - Duration::from_millis(1)));
    let (r, buf) = reactor.run_until(rx.recv_msg(room(8), 64)).unwrap();
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::TimedOut);
    assert!(buf.is_empty());
    rx.set_read_deadline(Some(Instant::now() + Duration::from_millis(30)));
    let (r, buf) = reactor.run_until(rx.recv_msg(room(8), 64)).unwrap();
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::TimedOut);
    assert!(buf.is_empty());
}

/// `peer_cred` of a Unix stream pair names this process, and so does that
/// of a connection accepted from a listener.
#[test]
fn peer_cred_names_the_peer_s_process() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (a, b) = UnixStream::pair(&reactor.handle()).unwrap();
    // SAFETY: getpid, getuid and getgid have no preconditions.
    let (pid, uid, gid) = unsafe { (libc::getpid(), libc::getuid(), libc::getgid()) };
    for s in [&a, &b] {
        let cred = s.peer_cred().unwrap();
        assert_eq!((cred.pid, cred.uid, cred.gid), (pid, uid, gid));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sock");
    let listener = uring::net::UnixListener::bind(&reactor.handle(), &path).unwrap();
    let client = std::os::unix::net::UnixStream::connect(&path).unwrap();
    let accepted = reactor.run_until(listener.accept()).unwrap().unwrap();
    assert_eq!(accepted.peer_cred().unwrap().pid, pid);
    drop(client);
}

/// A `UnixDatagram` bound to `rx` in `dir`, with `SO_PASSCRED` set.
fn passcred_receiver(
    reactor: &Reactor,
    dir: &tempfile::TempDir,
) -> (std::path::PathBuf, uring::net::UnixDatagram) {
    let path = dir.path().join("rx");
    let rx = uring::net::UnixDatagram::bind(&reactor.handle(), &path).unwrap();
    set_int(
        rx.shared_fd().as_fd(),
        libc::SOL_SOCKET,
        libc::SO_PASSCRED,
        1,
    );
    (path, rx)
}

/// A `UnixDatagram`'s `recv_msg` reads the credentials `SO_PASSCRED` asks
/// for and the sender's address, and cuts a long datagram as flagged.
#[test]
fn unix_datagram_recv_msg_reads_credentials_and_cuts() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (path, rx) = passcred_receiver(&reactor, &dir);
    let tx = std::os::unix::net::UnixDatagram::bind(dir.path().join("tx")).unwrap();
    tx.send_to(b"0123456789", &path).unwrap();
    let (r, buf) = reactor.run_until(rx.recv_msg(room(4), 64)).unwrap();
    let (n, received) = r.unwrap();
    assert_eq!(n, 4);
    assert_eq!(buf, b"0123");
    assert!(received.is_truncated());
    let from = received.from_unix().unwrap();
    assert_eq!(from.as_pathname(), Some(dir.path().join("tx").as_path()));
    let creds: Vec<libc::ucred> = received
        .control_messages()
        .filter_map(|m| m.credentials())
        .collect();
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    assert_eq!(creds.iter().map(|c| c.pid).collect::<Vec<_>>(), [pid]);
}

/// A `UnixDatagram`'s `send_msg` carries an `SCM_CREDENTIALS` record to a
/// path and to the connected peer, each datagram whole and alone; an
/// `SCM_RIGHTS` record is refused with the buffer back and nothing sent,
/// and a send to no address from an unconnected socket fails as the
/// kernel says (`ENOTCONN`).
#[test]
fn unix_datagram_send_msg_carries_credentials_and_refuses_descriptors() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (path, rx) = passcred_receiver(&reactor, &dir);
    let tx = uring::net::UnixDatagram::unbound(&reactor.handle()).unwrap();
    let (ours, creds) = uring_tests::our_credentials();
    let (pid, uid, gid) = (ours.pid, ours.uid, ours.gid);

    let (r, _) = reactor
        .run_until(tx.send_msg(b"nobody".to_vec(), None, ControlMessagesBuf::new()))
        .unwrap();
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ENOTCONN));

    let to = uring::SockAddr::unix(&path).unwrap();
    let (r, back) = reactor
        .run_until(tx.send_msg(b"to the path".to_vec(), Some(to), creds.clone()))
        .unwrap();
    assert_eq!(r.unwrap(), 11);
    assert_eq!(back, b"to the path");

    let (pipe_r, _pipe_w) = uring_tests::pipe();
    let mut rights = ControlMessagesBuf::new();
    rights.push(
        libc::SOL_SOCKET,
        libc::SCM_RIGHTS,
        &pipe_r.as_raw_fd().to_ne_bytes(),
    );
    tx.connect(&path).unwrap();
    let data = pattern(40, 3);
    let (r, back) = reactor
        .run_until(tx.send_msg(data.clone(), None, rights))
        .unwrap();
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::InvalidInput);
    assert_eq!(back, data);
    let (r, _) = reactor
        .run_until(tx.send_msg(b"to the peer".to_vec(), None, creds))
        .unwrap();
    assert_eq!(r.unwrap(), 11);

    // Two datagrams arrived, in order, each with our credentials: the
    // refused send put nothing between them.
    for expected in [&b"to the path"[..], b"to the peer"] {
        let (r, buf) = reactor.run_until(rx.recv_msg(room(64), 64)).unwrap();
        let (n, received) = r.unwrap();
        assert_eq!(&buf[..n], expected);
        assert!(!received.is_truncated());
        assert_eq!(received.from_unix().map(|a| a.is_unnamed()), Some(true));
        let got: Vec<(i32, u32, u32)> = received
            .control_messages()
            .filter_map(|m| m.credentials())
            .map(|c| (c.pid, c.uid, c.gid))
            .collect();
        assert_eq!(got, [(pid, uid, gid)]);
    }
    let mut rest = [0u8; 64];
    let peek = rx.shared_fd().as_raw_fd();
    // SAFETY: a non-blocking receive into a stack array alive for the call.
    let n = unsafe {
        libc::recv(
            peek,
            rest.as_mut_ptr().cast(),
            rest.len(),
            libc::MSG_DONTWAIT,
        )
    };
    assert_eq!(n, -1, "a third datagram arrived");
    assert_eq!(
        io::Error::last_os_error().raw_os_error(),
        Some(libc::EAGAIN)
    );
}
