//! Lengths, counts and indices the kernel writes, as the library turns them
//! into slice bounds, buffer claims and addresses, attacked from safe code
//! so that the kernel itself produces the extreme values, and checked
//! against what std or a raw libc call on the same socket reports.
//!
//! Kernel code read (Linux 6.18): `io_uring/net.c` (`io_recvmsg`, whose
//! one-shot path calls `__sys_recvmsg_sock` and so `____sys_recvmsg`, which
//! writes the sender's real length into the caller's `msg_namelen` after
//! copying at most the length it read there (`move_addr_to_user`), and the
//! bytes of ancillary data written into its `msg_controllen`;
//! `io_recvmsg_multishot`, whose `io_uring_recvmsg_out` header counts the
//! name before truncation, the control bytes `put_cmsg` consumed and the
//! payload placed, and whose result is the header, both rooms and the
//! payload placed; `io_recv_buf_select` and `io_bundle_nbufs`, which take a
//! bundle's buffers in ring order from the 16-bit head), `io_uring/kbuf.c`
//! (`io_ring_buffers_peek`, `io_kbuf_commit`), `net/socket.c` (`put_cmsg`,
//! which cuts a record to the room left and flags `MSG_CTRUNC`; `do_accept`,
//! which reads the peer buffer's length word at every accept of a
//! multishot op), `net/unix/af_unix.c` (`unix_mkname_bsd`, which counts a
//! path of 108 bytes as 111; `unix_copy_addr`, which writes no name for an
//! unbound sender; `unix_getname`, 2 bytes for an unbound peer),
//! `io_uring/xattr.c` (a size probe writes nothing and reports the size)
//! and `io_uring/epoll.c` (the count is at most the room).
//!
//! The library sites attacked: `MsgHdrMut::name_len` /
//! `SockAddrBuf::set_len` / `unix_addr` (Unix addresses of every length:
//! unnamed, autobound, abstract of 0 to 107 bytes, paths up to 108 bytes),
//! the reactor's `RecvFrom` behind `net::UnixDatagram::recv_from`,
//! `RecvMsgOut::parse` (name rooms of every size from 0 to 130, control
//! rooms of every size around the records' sizes, payload rooms of 0, 1 and
//! 65507 bytes), `MsgHdrMut::control_messages` and `ControlMessages` (every
//! control room from 0 to 136 bytes, against libc's `recvmsg` and its
//! `CMSG_FIRSTHDR` / `CMSG_NXTHDR` walk), `BufRing::claim_bundle` (bundles of
//! every length up to the whole ring, while the kernel's 16-bit head goes
//! round), the reactor's `filled` (UDP datagrams of 0, 1 and 65507 bytes
//! into vectors of every capacity around them), and a reused `MsgHdrMut`
//! or peer buffer, which the kernel reads back as the room for the next
//! message: a header now lends its rooms again at each push (before, it
//! reported lengths for bytes the kernel did not write, a sender's address
//! taken from an earlier message, and made the kernel close descriptors
//! its room had space for), and a multishot accept's peer buffer holds
//! addresses cut to the length before, as its documentation says.
//!
//! Every attack is safe code; `unsafe` appears only to set up (bind a path
//! std refuses, send descriptors, call `recvmsg(2)` and `getsockname(2)`
//! for comparison) or to inspect, each with a `// SAFETY:` comment.

use std::io::{IoSliceMut, Write as _};
use std::net::UdpSocket;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt as _;
use std::os::unix::net::{SocketAddr as UnixAddr, UnixDatagram, UnixListener, UnixStream};

use uring::ops::{Accept, EpollWait, FGetXattr, Recv, RecvMsg, RecvMsgMulti};
use uring::reactor::Reactor;
use uring::{
    AcceptFlags, ControlMessage, ControlMessages, Features, MsgHdrMut, MsgLayout, RecvFlags,
    RecvMsgOut, Ring, SockAddrBuf,
};
use uring_tests::next_scope_cqe as next;
use uring_tests::{pattern, plain_buf_ring, require_op, set_int_option, skip};

const CANARY: u8 = 0xA7;

/// The size of `struct io_uring_recvmsg_out`.
const OUT_HEADER: usize = 16;

/// `offsetof(struct sockaddr_un, sun_path)`.
const SUN_PATH_AT: usize = 2;

/// A prefix unique to this process, for abstract names.
fn tag() -> String {
    format!("ukl{}", std::process::id())
}

/// The name `fd` is bound to, as `getsockname(2)` reports it: the kernel's
/// bytes and length (2 for an unbound Unix socket).
fn kernel_name(fd: &impl AsRawFd) -> Vec<u8> {
    // SAFETY: all-zero bytes are a valid `sockaddr_storage`.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of_val(&storage) as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into the storage and
    // the length into `len`, both locals alive for the call.
    let rc = unsafe {
        libc::getsockname(
            fd.as_raw_fd(),
            (&raw mut storage).cast::<libc::sockaddr>(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "getsockname: {}", std::io::Error::last_os_error());
    // SAFETY: the storage is plain bytes, all initialised (zeroed above).
    let bytes = unsafe {
        std::slice::from_raw_parts(
            (&raw const storage).cast::<u8>(),
            std::mem::size_of_val(&storage),
        )
    };
    bytes[..len as usize].to_vec()
}

/// What a receive reports as the sender's name: the bound name, or
/// nothing for an unbound sender (`unix_copy_addr` writes none).
fn sender_name(fd: &impl AsRawFd) -> Vec<u8> {
    let name = kernel_name(fd);
    if name.len() <= SUN_PATH_AT {
        Vec::new()
    } else {
        name
    }
}

/// A Unix datagram socket bound to the path `path` with `libc::bind`,
/// which, unlike std, takes a path of 108 bytes (the whole `sun_path`, no
/// NUL).
fn bind_path(path: &[u8]) -> Option<UnixDatagram> {
    let fd = uring_tests::socket(libc::AF_UNIX, libc::SOCK_DGRAM).unwrap();
    // SAFETY: all-zero bytes are a valid `sockaddr_un`.
    let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
    assert!(path.len() <= sun.sun_path.len());
    for (dst, &src) in sun.sun_path.iter_mut().zip(path) {
        *dst = src as libc::c_char;
    }
    let len = (SUN_PATH_AT + path.len() + usize::from(path.len() < sun.sun_path.len()))
        as libc::socklen_t;
    // SAFETY: the address is `len` bytes of a local `sockaddr_un`, alive for
    // the call; the descriptor is open.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw const sun).cast::<libc::sockaddr>(),
            len,
        )
    };
    if rc != 0 {
        skip(format_args!(
            "cannot bind a path of {} bytes: {}",
            path.len(),
            std::io::Error::last_os_error()
        ));
        return None;
    }
    Some(UnixDatagram::from(fd))
}

/// The senders the address tests use, each with the name a receive
/// reports for it: unbound, autobound, abstract names of every length from
/// 0 to 107 bytes (any bytes, NULs among them), and paths of lengths from
/// the shortest the directory allows to 108 (the last one with no NUL).
struct Senders {
    all: Vec<(String, UnixDatagram, Vec<u8>)>,
    _dir: tempfile::TempDir,
}

fn senders(salt: u8, abstract_lengths: impl IntoIterator<Item = usize>, paths: bool) -> Senders {
    let mut all = Vec::new();
    let unbound = UnixDatagram::unbound().unwrap();
    all.push(("unbound".to_string(), unbound, Vec::new()));
    let auto = UnixDatagram::unbound().unwrap();
    // SAFETY: an address of the family alone (autobind), alive for the
    // call; the descriptor is open.
    let rc = unsafe {
        let family = libc::AF_UNIX as libc::sa_family_t;
        libc::bind(
            auto.as_raw_fd(),
            (&raw const family).cast::<libc::sockaddr>(),
            std::mem::size_of::<libc::sa_family_t>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "autobind: {}", std::io::Error::last_os_error());
    let name = sender_name(&auto);
    all.push(("autobound".to_string(), auto, name));
    let tag = tag();
    for len in abstract_lengths {
        // The process's tag first (so that no other test's name clashes),
        // then bytes of every value, NUL included.
        let mut name: Vec<u8> = (0..len).map(|i| (i * 37 + len) as u8 ^ salt).collect();
        for (dst, src) in name.iter_mut().zip(tag.bytes().chain([b'-', salt])) {
            *dst = src;
        }
        let addr = UnixAddr::from_abstract_name(&name).unwrap();
        match UnixDatagram::bind_addr(&addr) {
            Ok(sock) => {
                let kernel = sender_name(&sock);
                all.push((format!("abstract of {len} bytes"), sock, kernel));
            }
            Err(e) => skip(format_args!("abstract name of {len} bytes: {e}")),
        }
    }
    let dir = tempfile::tempdir().unwrap();
    if paths {
        let base = dir.path().as_os_str().as_encoded_bytes().to_vec();
        let lengths: std::collections::BTreeSet<usize> =
            [base.len() + 2, base.len() + 9, 100, 106, 107, 108].into();
        for len in lengths {
            if len < base.len() + 2 {
                continue;
            }
            let mut path = base.clone();
            path.push(b'/');
            while path.len() < len {
                path.push(b'a' + (path.len() % 26) as u8);
            }
            if let Some(sock) = bind_path(&path) {
                let kernel = sender_name(&sock);
                all.push((format!("path of {len} bytes"), sock, kernel));
            }
        }
    }
    Senders { all, _dir: dir }
}

/// Whether two Unix addresses are the same: the same kind, and the same
/// path or name.
fn same_unix(a: &UnixAddr, b: &UnixAddr) -> bool {
    a.is_unnamed() == b.is_unnamed()
        && a.as_pathname() == b.as_pathname()
        && a.as_abstract_name() == b.as_abstract_name()
}

/// A receiver bound to an abstract name of its own.
fn receiver(suffix: &str) -> (UnixDatagram, UnixAddr) {
    let addr = UnixAddr::from_abstract_name(format!("{}-{suffix}", tag())).unwrap();
    (UnixDatagram::bind_addr(&addr).unwrap(), addr)
}

/// Every Unix sender address (unbound, autobound, abstract of 0 to 107
/// bytes, paths of up to 108 bytes) reads back through a one-shot
/// `RecvMsg`, the header's `name_len` and `SockAddrBuf::set_len` /
/// `unix_addr`, and through the reactor's `UnixDatagram::recv_from`, as
/// std's `recv_from` of the same sender reads it; `name_len` is the length
/// `getsockname(2)` reports for the sender (0 for an unbound one, 111 for a
/// path of 108 bytes, which `unix_mkname_bsd` counts with the NUL it
/// writes past `sun_path`); the sender of a 108-byte path reads as `None`,
/// as documented, and nothing panics.
#[test]
fn senders_of_every_unix_address_length_read_back_as_std_reads_them() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (rx, rx_addr) = receiver("every-len");
    let reactor = Reactor::new().unwrap();
    let net_rx = uring::net::UnixDatagram::from_std(&reactor.handle(), rx.try_clone().unwrap());
    let senders = senders(b'1', 0..=107, true);
    assert!(senders.all.len() > 100, "most senders bound");
    for (i, (what, sender, kernel)) in senders.all.iter().enumerate() {
        let payload = pattern(9, i as u8);
        // std's view of the sender.
        sender.send_to_addr(&payload, &rx_addr).unwrap();
        let mut got = [0u8; 16];
        let (n, std_addr) = rx.recv_from(&mut got).unwrap();
        assert_eq!(&got[..n], &payload[..], "{what}");
        // A one-shot RecvMsg with a fresh header.
        sender.send_to_addr(&payload, &rx_addr).unwrap();
        let mut data = [0u8; 16];
        let mut from = SockAddrBuf::new();
        let mut iov = [IoSliceMut::new(&mut data)];
        let mut msg = MsgHdrMut::new(&mut iov).from(&mut from);
        let cqe = uring_tests::complete(&mut ring, RecvMsg::new(&rx, &mut msg));
        assert_eq!(cqe.res(), 9, "{what}: {cqe:?}");
        let name_len = msg.name_len();
        assert_eq!(name_len as usize, kernel.len(), "{what}: {msg:?}");
        from.set_len(name_len);
        let ours = from.unix_addr();
        // The reactor's receive of the same sender.
        sender.send_to_addr(&payload, &rx_addr).unwrap();
        let (r, buf, net_addr) = reactor
            .run_until(net_rx.recv_from(Vec::with_capacity(16)))
            .unwrap();
        assert_eq!(r.unwrap(), 9, "{what}");
        assert_eq!(buf, payload, "{what}");
        if kernel.len() == SUN_PATH_AT + 109 {
            // A path filling `sun_path`: std has no constructor for it,
            // and the library says `None`.
            assert!(ours.is_none() && net_addr.is_none(), "{what}: {ours:?}");
            continue;
        }
        let ours = ours.unwrap_or_else(|| panic!("{what}: no address ({std_addr:?})"));
        let net_addr = net_addr.unwrap_or_else(|| panic!("{what}: no address from the reactor"));
        assert!(
            same_unix(&ours, &std_addr),
            "{what}: {ours:?} != {std_addr:?}"
        );
        assert!(
            same_unix(&net_addr, &std_addr),
            "{what}: {net_addr:?} != {std_addr:?}"
        );
    }
}

/// Multishot `recvmsg` with name rooms of every size from 0 to 130 bytes,
/// for senders whose names take 0 (unbound), 8 (autobound), 110 (the
/// longest abstract name) and 111 (a path of 108 bytes) bytes: the header's
/// `name_len` is the sender's whole length (0 with a room of 0, where the
/// kernel asks for no name), `name()` holds exactly the
/// first `min(length, room)` bytes `getsockname(2)` reports for it, the
/// payload lies after the room, and the buffer holds the result's bytes.
#[test]
fn multishot_name_rooms_of_every_size_hold_the_sender_cut_to_the_room() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(16).unwrap();
    if !require_op::<RecvMsgMulti<'static>>(&ring) {
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 41, 8, 256) else {
        return;
    };
    let (rx, rx_addr) = receiver("name-rooms");
    let all = senders(b'2', [107], true);
    let chosen: Vec<&(String, UnixDatagram, Vec<u8>)> = all
        .all
        .iter()
        .filter(|(_, _, name)| matches!(name.len(), 0 | 8 | 110 | 111))
        .collect();
    assert!(chosen.len() >= 3, "senders: {}", chosen.len());
    for room in 0..=130u32 {
        for (i, (_, sender, _)) in chosen.iter().enumerate() {
            sender
                .send_to_addr(&[room as u8, i as u8, 0xEE], &rx_addr)
                .unwrap();
        }
        let layout = MsgLayout::new(room, 0);
        ring.scope(|s| {
            s.push(RecvMsgMulti::new(&rx, &layout, pool.group()).user_data(1))
                .unwrap();
            for (i, (what, _, kernel)) in chosen.iter().enumerate() {
                let mut cqe = next(s);
                let want = OUT_HEADER + room as usize + 3;
                assert_eq!(cqe.res() as usize, want, "room {room}, {what}: {cqe:?}");
                assert!(cqe.cqe().has_more(), "room {room}, {what}");
                let buf = pool.claim(&mut cqe).unwrap();
                assert_eq!(buf.len(), want);
                let out = RecvMsgOut::parse(&buf, &layout).expect("a whole header");
                // With no room, the kernel does not ask the socket for a
                // name at all (`io_recvmsg_multishot` leaves `msg_name`
                // unset), and reports none.
                let whole = if room == 0 { 0 } else { kernel.len() };
                assert_eq!(out.name_len() as usize, whole, "room {room}, {what}");
                let cut = kernel.len().min(room as usize);
                assert_eq!(out.name(), &kernel[..cut], "room {room}, {what}");
                assert_eq!(out.payload(), [room as u8, i as u8, 0xEE]);
                assert_eq!(out.payload_len(), 3);
                assert_eq!(out.flags() & libc::MSG_TRUNC as u32, 0);
                assert_eq!(out.socket_addr(), None, "a Unix sender is no IP address");
            }
        });
    }
}

/// The ancillary records of one UDP datagram, as the kernel lays them out
/// for a socket with `SO_TIMESTAMP`, `IP_PKTINFO`, `IP_RECVTTL` and
/// `IP_RECVORIGDSTADDR` set: `(level, type, data)` for each record walked,
/// the timestamp's data left out (it differs between datagrams).
type Shape = Vec<(i32, i32, usize, Option<Vec<u8>>)>;

fn shape<'a>(records: impl Iterator<Item = ControlMessage<'a>>) -> Shape {
    records
        .map(|m| {
            let data = (m.kind() != libc::SO_TIMESTAMP).then(|| m.data().to_vec());
            (m.level(), m.kind(), m.data().len(), data)
        })
        .collect()
}

/// A UDP receiver with four options that add records, and a sender.
fn udp_with_records() -> (UdpSocket, UdpSocket) {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    for (level, name) in [
        (libc::SOL_SOCKET, libc::SO_TIMESTAMP),
        (libc::IPPROTO_IP, libc::IP_PKTINFO),
        (libc::IPPROTO_IP, libc::IP_RECVTTL),
        (libc::IPPROTO_IP, libc::IP_RECVORIGDSTADDR),
    ] {
        set_int_option(&rx, level, name, 1).unwrap();
    }
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(rx.local_addr().unwrap()).unwrap();
    (rx, tx)
}

/// One `recvmsg(2)` of `fd` into 64 bytes and a control room of `room`
/// bytes: the control bytes written, `msg_flags`, and the records as
/// glibc's `CMSG_FIRSTHDR` / `CMSG_NXTHDR` walk them (level, type, data
/// length).
fn libc_recvmsg(fd: &impl AsRawFd, room: usize) -> (Vec<u8>, i32, Vec<(i32, i32, usize)>) {
    let mut data = [0u8; 64];
    let mut control = vec![0u64; 32];
    assert!(room <= control.len() * 8);
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: all-zero bytes are a valid, empty `msghdr`.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = room as _;
    // SAFETY: the header points to the iovec and `room` bytes of control
    // room, locals that outlive the call; the descriptor is open.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, 0) };
    assert!(n >= 0, "recvmsg: {}", std::io::Error::last_os_error());
    let mut walked = Vec::new();
    // SAFETY: glibc's walk of the header just filled, over the control room
    // above (alive), reading only record headers it checks lie inside
    // `msg_controllen`.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let len = (*cmsg).cmsg_len as usize;
            walked.push((
                (*cmsg).cmsg_level,
                (*cmsg).cmsg_type,
                len.saturating_sub(libc::CMSG_LEN(0) as usize),
            ));
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    #[allow(clippy::unnecessary_cast)]
    let written = msg.msg_controllen as usize;
    // SAFETY: the control room is plain bytes, all initialised (zeroed).
    let bytes = unsafe { std::slice::from_raw_parts(control.as_ptr().cast::<u8>(), written) };
    (bytes.to_vec(), msg.msg_flags, walked)
}

/// Checks the records of one datagram, walked by the library, against
/// glibc's walk of another identical datagram received by libc into the
/// same room: the same records, of the same lengths, with the same data
/// (but the timestamp's), and typed readers that take only whole records.
fn check_records(
    room: usize,
    ours: Shape,
    records: &[ControlMessage<'_>],
    theirs: &[u8],
    walked: &[(i32, i32, usize)],
) {
    let libc_shape = shape(ControlMessages::new(theirs));
    assert_eq!(ours, libc_shape, "room {room}");
    let lengths: Vec<(i32, i32, usize)> = ours.iter().map(|&(l, k, n, _)| (l, k, n)).collect();
    // glibc's `CMSG_NXTHDR` also drops a last record whose length, rounded
    // up to the word size, runs past the bytes written (one the kernel cut,
    // or a record of 20 bytes that ends the room): the library's walk keeps
    // it, and it must then end exactly where the kernel's writes end.
    assert!(
        lengths.len() <= walked.len() + 1 && lengths[..walked.len()] == *walked,
        "room {room}: {lengths:?} against glibc's {walked:?}"
    );
    if lengths.len() > walked.len() {
        let last = ControlMessages::new(theirs).last().unwrap();
        let end = last.data().as_ptr() as usize + last.data().len() - theirs.as_ptr() as usize;
        assert_eq!(
            end,
            theirs.len(),
            "room {room}: the extra record ends the writes"
        );
        assert!(end.next_multiple_of(8) > theirs.len() || last.data().len() < 4);
    }
    for m in records {
        if m.kind() == libc::SO_TIMESTAMP && m.level() == libc::SOL_SOCKET {
            assert_eq!(m.timestamp().is_some(), m.data().len() >= 16, "room {room}");
        }
        if m.level() == libc::IPPROTO_IP && m.kind() == libc::IP_PKTINFO {
            assert_eq!(
                m.ip_pktinfo().is_some(),
                m.data().len() >= 12,
                "room {room}"
            );
        }
        if m.level() == libc::IPPROTO_IP && m.kind() == libc::IP_TTL {
            assert_eq!(
                m.ip_ttl(),
                (m.data().len() >= 4).then_some(64),
                "room {room}"
            );
        }
    }
}

/// A one-shot `RecvMsg` with every control room from 0 to 136 bytes (the
/// four records of the datagram take 120): `control_len`, `MSG_CTRUNC`,
/// the records `control_messages` walks and their data are what libc's
/// `recvmsg(2)` of an identical datagram gets in a room of the same size,
/// walked by glibc; no byte past the room changes.
#[test]
fn one_shot_control_rooms_of_every_size_hold_what_libc_gets_in_the_same_room() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (rx, tx) = udp_with_records();
    let mut full = 0;
    for room in 0..=136usize {
        tx.send(b"datagram").unwrap();
        tx.send(b"datagram").unwrap();
        let (theirs, their_flags, walked) = libc_recvmsg(&rx, room);
        let mut data = [0u8; 64];
        let mut control = [CANARY; 200];
        let (lent, after) = control.split_at_mut(room);
        let mut iov = [IoSliceMut::new(&mut data)];
        let mut msg = MsgHdrMut::new(&mut iov).control(lent);
        let cqe = uring_tests::complete(&mut ring, RecvMsg::new(&rx, &mut msg));
        assert_eq!(cqe.res(), 8, "room {room}: {cqe:?}");
        assert_eq!(msg.control_len(), theirs.len(), "room {room}: {msg:?}");
        assert!(msg.control_len() <= room);
        assert_eq!(
            msg.flags() & libc::MSG_CTRUNC,
            their_flags & libc::MSG_CTRUNC,
            "room {room}"
        );
        let records: Vec<ControlMessage<'_>> = msg.control_messages().collect();
        check_records(
            room,
            shape(records.iter().copied()),
            &records,
            &theirs,
            &walked,
        );
        if msg.flags() & libc::MSG_CTRUNC == 0 {
            full += 1;
            assert_eq!(records.len(), 4, "room {room}");
        }
        assert!(
            after.iter().all(|&b| b == CANARY),
            "room {room}: past the room"
        );
    }
    assert_eq!(
        full,
        136 - 120 + 1,
        "rooms of 120 bytes and more hold every record"
    );
}

/// Multishot `recvmsg` with every control room from 0 to 136 bytes:
/// `RecvMsgOut::control_len` is what `put_cmsg` consumed, `control()` and
/// its records are what libc's `recvmsg(2)` of an identical datagram gets
/// in a room of the same size, the flags agree on `MSG_CTRUNC`, and the
/// payload follows the whole room.
#[test]
fn multishot_control_rooms_of_every_size_hold_what_libc_gets_in_the_same_room() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<RecvMsgMulti<'static>>(&ring) {
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 42, 4, 256) else {
        return;
    };
    let (rx, tx) = udp_with_records();
    for room in 0..=136usize {
        tx.send(b"datagram").unwrap();
        tx.send(b"datagram").unwrap();
        let (theirs, their_flags, walked) = libc_recvmsg(&rx, room);
        let layout = MsgLayout::new(0, room);
        ring.scope(|s| {
            s.push(RecvMsgMulti::new(&rx, &layout, pool.group()).user_data(2))
                .unwrap();
            let mut cqe = next(s);
            assert_eq!(
                cqe.res() as usize,
                OUT_HEADER + room + 8,
                "room {room}: {cqe:?}"
            );
            let buf = pool.claim(&mut cqe).unwrap();
            let out = RecvMsgOut::parse(&buf, &layout).expect("a whole header");
            assert_eq!(out.control_len() as usize, theirs.len(), "room {room}");
            assert_eq!(out.control().len(), theirs.len(), "room {room}");
            assert_eq!(
                out.flags() & libc::MSG_CTRUNC as u32,
                their_flags as u32 & libc::MSG_CTRUNC as u32,
                "room {room}"
            );
            assert_eq!(out.payload(), b"datagram");
            let records: Vec<ControlMessage<'_>> = out.control_messages().collect();
            check_records(
                room,
                shape(records.iter().copied()),
                &records,
                &theirs,
                &walked,
            );
        });
    }
}

/// UDP datagrams of 0, 1 and 65507 bytes (the largest over IPv4) received
/// into rooms of every size around them, each compared with std's receive
/// of an identical datagram into a room of the same size: a scope's `Recv`
/// into slices (the count is what was placed, the bytes the datagram's
/// first); multishot `recvmsg` with payload rooms of 0, 1 and 65507 bytes
/// (`payload()` and `payload_len()` what was placed, `MSG_TRUNC` when cut);
/// and the reactor's `UdpSocket::recv_from` into vectors of capacity 0, 1,
/// 65506, 65507 and 65508 (the vector's length is the count, never more
/// than its capacity).
#[test]
fn udp_datagrams_of_0_1_and_65507_bytes_into_rooms_around_their_size() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    set_int_option(&rx, libc::SOL_SOCKET, libc::SO_RCVBUF, 1 << 20).unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(rx.local_addr().unwrap()).unwrap();
    let from = tx.local_addr().unwrap();
    let rooms = [0usize, 1, 2, 65506, 65507, 65508];
    for len in [0usize, 1, 65507] {
        let datagram = pattern(len, len as u8);
        for &room in &rooms {
            tx.send(&datagram).unwrap();
            let mut want = vec![0u8; room];
            let n = rx.recv(&mut want).unwrap();
            want.truncate(n);
            tx.send(&datagram).unwrap();
            let mut got = vec![CANARY; room + 8];
            let cqe = uring_tests::complete(&mut ring, Recv::new(&rx, &mut got[..room]));
            assert_eq!(cqe.res(), n as i32, "datagram {len}, room {room}");
            assert_eq!(&got[..n], &want[..], "datagram {len}, room {room}");
            assert!(got[room..].iter().all(|&b| b == CANARY));
        }
    }
    // Multishot recvmsg, a ring of buffers per payload room.
    if require_op::<RecvMsgMulti<'static>>(&ring) {
        let name = std::mem::size_of::<libc::sockaddr_in>();
        let layout = MsgLayout::new(name as u32, 0);
        for (group, room) in [(43u16, 0usize), (44, 1), (45, 65507)] {
            let Some(pool) = plain_buf_ring(&mut ring, group, 2, (OUT_HEADER + name + room) as u32)
            else {
                return;
            };
            for len in [0usize, 1, 65507] {
                let datagram = pattern(len, 3);
                tx.send(&datagram).unwrap();
                ring.scope(|s| {
                    s.push(RecvMsgMulti::new(&rx, &layout, pool.group()).user_data(3))
                        .unwrap();
                    let mut cqe = next(s);
                    let placed = len.min(room);
                    assert_eq!(
                        cqe.res() as usize,
                        OUT_HEADER + name + placed,
                        "datagram {len}, room {room}: {:?}",
                        cqe.cqe()
                    );
                    let buf = pool.claim(&mut cqe).unwrap();
                    let out = RecvMsgOut::parse(&buf, &layout).expect("a whole header");
                    assert_eq!(
                        out.payload(),
                        &datagram[..placed],
                        "datagram {len}, room {room}"
                    );
                    assert_eq!(
                        out.payload_len() as usize,
                        placed,
                        "datagram {len}, room {room}"
                    );
                    assert_eq!(
                        out.flags() & libc::MSG_TRUNC as u32 != 0,
                        len > room,
                        "datagram {len}, room {room}"
                    );
                    assert_eq!(out.socket_addr(), Some(from));
                    assert_eq!(out.name_len() as usize, name);
                });
            }
        }
    }
    // The reactor.
    let reactor = Reactor::new().unwrap();
    let sock = uring::net::UdpSocket::from_std(&reactor.handle(), rx.try_clone().unwrap());
    for len in [0usize, 1, 65507] {
        let datagram = pattern(len, 9);
        for capacity in [0usize, 1, 65506, 65507, 65508] {
            tx.send(&datagram).unwrap();
            let (r, buf) = reactor
                .run_until(sock.recv_from(Vec::with_capacity(capacity)))
                .unwrap();
            let (n, addr) = r.unwrap();
            assert_eq!(
                n,
                len.min(buf.capacity()),
                "datagram {len}, capacity {capacity}"
            );
            assert_eq!(buf.len(), n);
            assert!(buf.len() <= buf.capacity());
            assert_eq!(&buf[..], &datagram[..n]);
            assert_eq!(addr, from);
        }
    }
}

/// Receive bundles of every length from 1 byte to the whole ring (8
/// buffers of 16 bytes), claimed while the kernel's 16-bit head goes round
/// past 65535 twice and the buffers come back in shuffled orders: each
/// completion's `claim_bundle` hands out `ceil(n / 16)` buffers, whole but
/// the last, whose bytes joined are the bytes sent, and the kernel's head
/// is, throughout, the count of buffers taken modulo 2^16.
#[test]
fn bundles_claimed_while_the_kernel_s_16_bit_head_wraps_split_as_received() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !uring_tests::require_features(&ring, Features::RECVSEND_BUNDLE, "receive bundles") {
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 46, 8, 16) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let mut taken: u64 = 0;
    let mut round: u64 = 0;
    let mut rng = uring_tests::Rng(0x5eed_1e57);
    ring.scope(|s| {
        while taken < 2 * 65536 + 64 {
            // Every length, in a walk that covers each of 1..=128 often.
            let n = (round * 37 % 128 + 1) as usize;
            let sent = pattern(n, round as u8);
            tx.write_all(&sent).unwrap();
            // The kernel may take the bytes in several bundles: each
            // completion's buffers hold the next bytes.
            let mut got = 0;
            while got < n {
                s.push(
                    Recv::new(&rx, pool.group().select(0))
                        .recv_flags(RecvFlags::BUNDLE)
                        .user_data(round),
                )
                .unwrap();
                let mut cqe = next(s);
                let res = cqe.res();
                assert!(
                    res > 0 && res as usize <= n - got,
                    "round {round}: {:?}",
                    cqe.cqe()
                );
                let res = res as usize;
                let mut bufs = pool.claim_bundle(&mut cqe).unwrap();
                assert_eq!(bufs.len(), res.div_ceil(16), "round {round}");
                let joined: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
                assert_eq!(joined, &sent[got..got + res], "round {round}");
                for (i, buf) in bufs.iter().enumerate() {
                    let whole = i + 1 < bufs.len();
                    assert!(!whole || buf.len() == 16, "round {round}: buffer {i}");
                }
                got += res;
                taken += bufs.len() as u64;
                // Back in a shuffled order.
                while !bufs.is_empty() {
                    let at = rng.below(bufs.len() as u64) as usize;
                    drop(bufs.swap_remove(at));
                }
            }
            if round.is_multiple_of(1024) {
                assert_eq!(pool.head().unwrap(), taken as u16, "round {round}");
            }
            round += 1;
        }
    });
    assert_eq!(pool.head().unwrap(), taken as u16);
    assert_eq!(pool.lent(), 0);
    assert_eq!(pool.available().unwrap(), 8);
}

/// Counts the kernel writes that are not bounded by the memory lent, read
/// as libc reads them: an `FGetXattr` size probe with an empty value
/// completes with the attribute's size (`io_uring/xattr.c`, like
/// `fgetxattr(2)` with a size of 0) and writes nothing, one byte short
/// fails with `ERANGE` and leaves the value as it was; an `EpollWait` with
/// room for one of three ready events completes with 1, like
/// `epoll_wait(2)` with `maxevents` 1, and writes only that slot.
#[test]
fn counts_past_the_memory_lent_are_the_kernel_s_as_libc_reports_them() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let file = tempfile::NamedTempFile::new_in(std::env::temp_dir()).unwrap();
    let value = pattern(300, 5);
    // SAFETY: the name and value are locals alive for the call; the
    // descriptor is open.
    let rc = unsafe {
        libc::fsetxattr(
            file.as_file().as_raw_fd(),
            c"user.kernel-lengths".as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc != 0 {
        skip(format_args!(
            "no user xattrs here: {}",
            std::io::Error::last_os_error()
        ));
    } else if require_op::<FGetXattr<'static>>(&ring) {
        // SAFETY: a size probe: no buffer, size 0.
        let libc_size = unsafe {
            libc::fgetxattr(
                file.as_file().as_raw_fd(),
                c"user.kernel-lengths".as_ptr(),
                std::ptr::null_mut(),
                0,
            )
        };
        assert_eq!(libc_size, 300);
        let mut backing = [CANARY; 400];
        let cqe = uring_tests::complete(
            &mut ring,
            FGetXattr::new(file.as_file(), c"user.kernel-lengths", &mut backing[..0]),
        );
        assert_eq!(cqe.res() as isize, libc_size, "{cqe:?}");
        assert!(backing.iter().all(|&b| b == CANARY));
        let cqe = uring_tests::complete(
            &mut ring,
            FGetXattr::new(file.as_file(), c"user.kernel-lengths", &mut backing[..299]),
        );
        assert_eq!(cqe.res(), -libc::ERANGE, "{cqe:?}");
        assert!(backing.iter().all(|&b| b == CANARY));
        let cqe = uring_tests::complete(
            &mut ring,
            FGetXattr::new(file.as_file(), c"user.kernel-lengths", &mut backing[..300]),
        );
        assert_eq!(cqe.res(), 300);
        assert_eq!(&backing[..300], &value[..]);
        assert!(backing[300..].iter().all(|&b| b == CANARY));
    }
    if !require_op::<EpollWait<'static>>(&ring) {
        return;
    }
    // SAFETY: epoll_create1 has no memory preconditions.
    let epoll = unsafe { OwnedFd::from_raw_fd(libc::epoll_create1(libc::EPOLL_CLOEXEC)) };
    let pipes: Vec<(OwnedFd, OwnedFd)> = (0..3).map(|_| uring_tests::pipe()).collect();
    for (i, (r, w)) in pipes.iter().enumerate() {
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: i as u64 + 1,
        };
        // SAFETY: both descriptors are open; the event is a local.
        let rc = unsafe {
            libc::epoll_ctl(
                epoll.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                r.as_raw_fd(),
                &mut event,
            )
        };
        assert_eq!(rc, 0);
        std::fs::File::from(w.try_clone().unwrap())
            .write_all(b"x")
            .unwrap();
    }
    let mut events = [libc::epoll_event {
        events: 0xDEAD,
        u64: u64::MAX,
    }; 3];
    let cqe = uring_tests::complete(&mut ring, EpollWait::new(&epoll, &mut events[..1]));
    assert_eq!(cqe.res(), 1, "{cqe:?}");
    let first = events[0].u64;
    assert!((1..=3).contains(&first), "one of the three pipes: {first}");
    for e in &events[1..] {
        let (kind, data) = (e.events, e.u64);
        assert_eq!((kind, data), (0xDEAD, u64::MAX));
    }
    let mut theirs = [libc::epoll_event { events: 0, u64: 0 }; 3];
    // SAFETY: room for 1 event in a local array of 3.
    let n = unsafe { libc::epoll_wait(epoll.as_raw_fd(), theirs.as_mut_ptr(), 1, 0) };
    assert_eq!(n, 1);
}

// ---------------------------------------------------------------------
// Lengths the kernel reads back from memory it wrote before
// ---------------------------------------------------------------------

/// A `MsgHdrMut` reused for a second message: the kernel took the first
/// sender's name length, which it had written into `msg_namelen`, as the
/// room for the second (`move_addr_to_user`), copied that many bytes of
/// the second sender's longer name, and wrote its whole length. The
/// header's `name_len`, handed to `SockAddrBuf::set_len` as its docs say,
/// then made `unix_addr` decode bytes the kernel did not write for this
/// message: the second sender read as a name that is not its own. The
/// header now sets `msg_namelen` (to the `SockAddrBuf`'s size) and
/// `msg_controllen` (to the room given to `control`) again each time it
/// goes into an SQE: the second sender reads as std's `recv_from` reads
/// it.
#[test]
fn a_reused_message_header_reads_back_each_sender_whole() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (rx, rx_addr) = receiver("reused-name");
    let short = UnixAddr::from_abstract_name(format!("{}-short", tag())).unwrap();
    let long =
        UnixAddr::from_abstract_name(format!("{}-a-much-longer-sender-name", tag())).unwrap();
    let first = UnixDatagram::bind_addr(&short).unwrap();
    let second = UnixDatagram::bind_addr(&long).unwrap();
    let mut data = [0u8; 16];
    let mut from = SockAddrBuf::new();
    let mut iov = [IoSliceMut::new(&mut data)];
    let mut msg = MsgHdrMut::new(&mut iov).from(&mut from);
    let mut lengths = Vec::new();
    for sender in [&first, &second] {
        sender.send_to_addr(b"hello", &rx_addr).unwrap();
        let cqe = uring_tests::complete(&mut ring, RecvMsg::new(&rx, &mut msg));
        assert_eq!(cqe.res(), 5, "{cqe:?}");
        lengths.push(msg.name_len() as usize);
    }
    let want = [kernel_name(&first).len(), kernel_name(&second).len()];
    assert_eq!(
        lengths, want,
        "the kernel reports each sender's whole length"
    );
    from.set_len(lengths[1] as u32);
    let ours = from.unix_addr().expect("an address");
    second.send_to_addr(b"hello", &rx_addr).unwrap();
    let (_, std_addr) = rx.recv_from(&mut [0u8; 16]).unwrap();
    assert!(
        same_unix(&std_addr, &long),
        "std reads the second sender: {std_addr:?}"
    );
    assert!(
        same_unix(&ours, &std_addr),
        "the last message's sender read back as {ours:?}, std reads {std_addr:?}"
    );
}

/// A `MsgHdrMut` with a 64-byte control room, reused: the first message
/// carries no ancillary data, and the kernel writes 0 into
/// `msg_controllen`; the second carries a descriptor (`SCM_RIGHTS`, a
/// record of 20 bytes), and the kernel, reading that 0 back as the room,
/// closed it and flagged `MSG_CTRUNC`, while the room the program lent
/// had space for it. With the room lent again at each push, the second
/// message's descriptor arrives, as libc's `recvmsg(2)` into a fresh
/// 64-byte room gets it.
#[test]
fn a_reused_message_header_keeps_the_room_for_descriptors() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (tx, rx) = UnixDatagram::pair().unwrap();
    let (pipe_r, _pipe_w) = uring_tests::pipe();
    let send_with_fd = |payload: &[u8]| {
        let mut control = [0u64; 4];
        let mut iov = libc::iovec {
            iov_base: payload.as_ptr().cast_mut().cast(),
            iov_len: payload.len(),
        };
        // SAFETY: all-zero bytes are a valid `msghdr`; the header points
        // to locals alive for the call; the record names an open pipe end
        // this test owns; the socket is open.
        let rc = unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = libc::CMSG_SPACE(4) as _;
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_len = libc::CMSG_LEN(4) as _;
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            libc::CMSG_DATA(cmsg)
                .cast::<RawFd>()
                .write_unaligned(pipe_r.as_raw_fd());
            libc::sendmsg(tx.as_raw_fd(), &msg, 0)
        };
        assert_eq!(
            rc as usize,
            payload.len(),
            "{}",
            std::io::Error::last_os_error()
        );
    };
    // What a fresh room of 64 bytes gets: the record, whole.
    send_with_fd(b"rights");
    let (got, flags, walked) = libc_recvmsg(&rx, 64);
    assert_eq!(flags & libc::MSG_CTRUNC, 0);
    assert_eq!(walked, [(libc::SOL_SOCKET, libc::SCM_RIGHTS, 4)]);
    let fd = ControlMessages::new(&got)
        .next()
        .unwrap()
        .fds()
        .unwrap()
        .next()
        .unwrap();
    // SAFETY: the kernel installed this descriptor for the receive above.
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
    let mut data = [0u8; 16];
    let mut control = [0u8; 64];
    let mut iov = [IoSliceMut::new(&mut data)];
    let mut msg = MsgHdrMut::new(&mut iov).control(&mut control);
    tx.send(b"plain").unwrap();
    let cqe = uring_tests::complete(&mut ring, RecvMsg::new(&rx, &mut msg));
    assert_eq!((cqe.res(), msg.control_len()), (5, 0));
    send_with_fd(b"rights");
    let cqe = uring_tests::complete(&mut ring, RecvMsg::new(&rx, &mut msg));
    assert_eq!(cqe.res(), 6);
    let fds: Vec<RawFd> = msg
        .control_messages()
        .filter_map(|m| m.fds())
        .flatten()
        .collect();
    for &fd in &fds {
        // SAFETY: the kernel installed this descriptor for the receive.
        drop(unsafe { OwnedFd::from_raw_fd(fd) });
    }
    assert_eq!(
        (fds.len(), msg.flags() & libc::MSG_CTRUNC),
        (1, 0),
        "the second message's descriptor, in a 64-byte room: {msg:?}"
    );
}

/// A multishot accept with a peer buffer: the kernel reads the buffer's
/// length word as the room at every accept (`do_accept`), and an unbound
/// peer writes 2 there (`unix_getname`). The next peer, bound to an
/// abstract name, then gets 2 bytes of its address copied and its whole
/// length written: after the scope, the buffer does not read back the last
/// peer's name (std's `peer_addr` of the accepted socket does). The kernel
/// cannot be given the room again between accepts; `Accept`'s `peer`
/// documents the cut and says to ask each accepted socket its peer
/// instead. This pins the kernel behaviour that documentation rests on.
#[test]
fn a_multishot_accept_s_peer_buffer_holds_addresses_cut_to_the_length_before() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let listen = UnixAddr::from_abstract_name(format!("{}-accept-listen", tag())).unwrap();
    let listener = UnixListener::bind_addr(&listen).unwrap();
    let names = [
        UnixAddr::from_abstract_name(format!("{}-accept-peer-X", tag())).unwrap(),
        UnixAddr::from_abstract_name(format!("{}-accept-peer-Y", tag())).unwrap(),
    ];
    let bound = |own: &UnixAddr| {
        let fd = uring_tests::socket(libc::AF_UNIX, libc::SOCK_STREAM).unwrap();
        for (call, addr) in [("bind", own), ("connect", &listen)] {
            let addr = uring::SockAddr::from(addr);
            // SAFETY: the address is `len` bytes in the kernel's layout,
            // alive for the call; the descriptor is open.
            let rc = unsafe {
                let ptr = addr.as_ptr().cast::<libc::sockaddr>();
                if call == "bind" {
                    libc::bind(fd.as_raw_fd(), ptr, addr.len())
                } else {
                    libc::connect(fd.as_raw_fd(), ptr, addr.len())
                }
            };
            assert_eq!(rc, 0, "{call}: {}", std::io::Error::last_os_error());
        }
        UnixStream::from(fd)
    };
    let _clients = [
        bound(&names[0]),
        UnixStream::connect_addr(&listen).unwrap(),
        bound(&names[1]),
    ];
    let mut from = SockAddrBuf::new();
    let mut accepted = Vec::new();
    ring.scope(|s| {
        s.push(
            Accept::new(&listener)
                .peer(Some(&mut from))
                .accept_flags(libc::SOCK_CLOEXEC)
                .iou_flags(AcceptFlags::MULTISHOT)
                .user_data(1),
        )
        .unwrap();
        while accepted.len() < 3 {
            let mut cqe = next(s);
            assert!(cqe.res() >= 0, "{:?}", cqe.cqe());
            accepted.push(cqe.take_fd().expect("a new socket"));
        }
    });
    let last = UnixStream::from(accepted.pop().unwrap());
    let std_addr = last.peer_addr().unwrap();
    assert!(same_unix(&std_addr, &names[1]), "{std_addr:?}");
    let ours = from.unix_addr();
    assert!(
        !ours.as_ref().is_some_and(|ours| same_unix(ours, &std_addr)),
        "the last peer read back whole ({ours:?}): the kernel no longer cuts it, and \
         `Accept::peer`'s documentation should say so"
    );
}
