//! Ancillary data of received messages walked as typed records
//! (`ControlMessages`) against the running kernel: descriptors and
//! credentials over a Unix datagram pair, through a multishot `RecvMsgMulti`
//! and a one-shot `RecvMsg`; a TTL, packet info and a timestamp over UDP;
//! records cut short for want of room; and records built with
//! `ControlMessagesBuf` sent through `SendMsg`.

use std::io::{IoSlice, IoSliceMut};
use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, SystemTime};

use uring::ops::{RecvMsg, RecvMsgMulti, SendMsg};
use uring::{ControlMessages, ControlMessagesBuf, MsgHdr, MsgHdrMut, MsgLayout, RecvMsgOut, Ring};
use uring_tests::{complete, fd_is_open, plain_buf_ring, require_op, set_int_option, watchdog};

/// `CMSG_SPACE(n)`: the room a record of `n` bytes of data takes.
fn space(n: u32) -> usize {
    // SAFETY: CMSG_SPACE is arithmetic.
    unsafe { libc::CMSG_SPACE(n) as usize }
}

/// `CMSG_LEN(n)`: the length of a record of `n` bytes of data.
fn cmsg_len(n: u32) -> usize {
    // SAFETY: CMSG_LEN is arithmetic.
    unsafe { libc::CMSG_LEN(n) as usize }
}

/// `(level, type, data length)` of each record, sorted: the kernel's order
/// of records of different kinds is not part of its interface.
fn summary(records: ControlMessages<'_>) -> Vec<(i32, i32, usize)> {
    let mut got: Vec<_> = records
        .map(|m| (m.level(), m.kind(), m.data().len()))
        .collect();
    got.sort_unstable();
    got
}

/// The `SCM_RIGHTS` record passing `fds`.
fn rights(fds: &[RawFd]) -> ControlMessagesBuf {
    let data: Vec<u8> = fds.iter().flat_map(|fd| fd.to_ne_bytes()).collect();
    let mut control = ControlMessagesBuf::new();
    control.push(libc::SOL_SOCKET, libc::SCM_RIGHTS, &data);
    control
}

/// Sends `payload` with `control` on `tx` with `sendmsg(2)`.
fn send_with_control(tx: &UnixDatagram, payload: &[u8], control: &ControlMessagesBuf) {
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr() as *mut libc::c_void,
        iov_len: payload.len(),
    };
    // SAFETY: all-zero bytes are a valid, empty `msghdr`.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_bytes().as_ptr() as *mut libc::c_void;
    msg.msg_controllen = control.as_bytes().len() as _;
    // SAFETY: `msg` points to the payload and the control bytes, both alive
    // for the call; the descriptors the records name are open.
    let sent = unsafe { libc::sendmsg(tx.as_raw_fd(), &msg, 0) };
    assert_eq!(
        sent,
        payload.len() as isize,
        "sendmsg: {}",
        std::io::Error::last_os_error()
    );
}

/// `(st_dev, st_ino)` of the file `fd` names.
fn identity(fd: RawFd) -> (u64, u64) {
    // SAFETY: all-zero bytes are a valid `stat`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is writable; fstat only reads the descriptor table.
    let rc = unsafe { libc::fstat(fd, &mut st) };
    assert_eq!(rc, 0, "fstat({fd}): {}", std::io::Error::last_os_error());
    (st.st_dev, st.st_ino)
}

/// Closes a descriptor this process received, asserting it was open.
fn close_received(fd: RawFd) {
    // SAFETY: the kernel installed `fd` for this test's receive and the
    // test closes each such descriptor once.
    let rc = unsafe { libc::close(fd) };
    assert_eq!(rc, 0, "close({fd}): {}", std::io::Error::last_os_error());
}

/// Two files to pass, and what the receiver must find they are.
fn two_files() -> (tempfile::NamedTempFile, tempfile::NamedTempFile) {
    (
        tempfile::NamedTempFile::new().unwrap(),
        tempfile::NamedTempFile::new().unwrap(),
    )
}

/// What a receive found: payload, `MSG_*` flags, the ancillary data's
/// length, its records summed up, the credentials and the descriptors.
#[derive(Debug)]
struct Received {
    payload: Vec<u8>,
    flags: u32,
    control_len: usize,
    records: Vec<(i32, i32, usize)>,
    credentials: Vec<(i32, u32, u32)>,
    fds: Vec<RawFd>,
}

impl Received {
    fn from_records(
        payload: &[u8],
        flags: u32,
        control_len: usize,
        records: ControlMessages<'_>,
    ) -> Received {
        Received {
            payload: payload.to_vec(),
            flags,
            control_len,
            records: summary(records.clone()),
            credentials: records
                .clone()
                .filter_map(|m| m.credentials())
                .map(|c| (c.pid, c.uid, c.gid))
                .collect(),
            fds: records.filter_map(|m| m.fds()).flatten().collect(),
        }
    }
}

/// Receives one message on `rx` through a multishot `RecvMsgMulti` laid
/// out as `layout`; `None` (with a skip message) if the kernel lacks the op.
fn receive_multishot(rx: &UnixDatagram, layout: &MsgLayout) -> Option<Received> {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<RecvMsgMulti<'_>>(&ring) {
        return None;
    }
    let pool = plain_buf_ring(&mut ring, 3, 4, 512)?;
    let got = ring.scope(|s| {
        s.push(RecvMsgMulti::new(rx, layout, pool.group()).user_data(1))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().expect("a completion");
        assert_eq!(cqe.user_data(), 1);
        assert!(cqe.res() > 0, "{cqe:?}");
        let buf = pool.claim(&mut cqe).unwrap();
        let msg = RecvMsgOut::parse(&buf, layout).expect("a whole header");
        assert_eq!(msg.control_len() as usize, msg.control().len());
        Received::from_records(
            msg.payload(),
            msg.flags(),
            msg.control().len(),
            msg.control_messages(),
        )
        // The scope cancels the receive as it ends.
    });
    Some(got)
}

fn pass_credentials(rx: &UnixDatagram) {
    set_int_option(rx, libc::SOL_SOCKET, libc::SO_PASSCRED, 1).unwrap();
}

/// This process's `(pid, uid, gid)`.
fn own_credentials() -> (i32, u32, u32) {
    // SAFETY: getpid, getuid and getgid have no preconditions.
    unsafe { (libc::getpid(), libc::getuid(), libc::getgid()) }
}

/// Asserts that `fds` are new descriptors naming `files`, in order, then
/// closes them.
fn assert_passed_and_close(fds: &[RawFd], files: &[&tempfile::NamedTempFile]) {
    assert_eq!(fds.len(), files.len(), "{fds:?}");
    for (&fd, file) in fds.iter().zip(files) {
        assert!(fd_is_open(fd), "{fd} is open");
        assert_ne!(fd, file.as_file().as_raw_fd(), "a new descriptor");
        assert_eq!(identity(fd), identity(file.as_file().as_raw_fd()));
    }
    for &fd in fds {
        close_received(fd);
    }
}

/// A multishot `RecvMsgMulti` on a Unix datagram socket with `SO_PASSCRED`
/// set, of a message passing two descriptors: the ancillary data is an
/// `SCM_CREDENTIALS` record of 12 bytes (this process's pid, uid and gid)
/// and an `SCM_RIGHTS` record of 8, `CMSG_SPACE(12) + CMSG_SPACE(8)` bytes
/// in all, nothing cut; the two descriptors are new ones naming the files
/// sent (same device and inode).
#[test]
fn multishot_recvmsg_walks_rights_and_credentials() {
    let _watch = watchdog();
    let (tx, rx) = UnixDatagram::pair().unwrap();
    pass_credentials(&rx);
    let (a, b) = two_files();
    let control = rights(&[a.as_file().as_raw_fd(), b.as_file().as_raw_fd()]);
    send_with_control(&tx, b"two files", &control);
    let layout = MsgLayout::new(0, 128);
    let Some(got) = receive_multishot(&rx, &layout) else {
        return;
    };
    assert_eq!(got.payload, b"two files");
    assert_eq!(got.flags & libc::MSG_CTRUNC as u32, 0, "{got:?}");
    assert_eq!(got.control_len, space(12) + space(8), "{got:?}");
    assert_eq!(
        got.records,
        [
            (libc::SOL_SOCKET, libc::SCM_RIGHTS, 8),
            (libc::SOL_SOCKET, libc::SCM_CREDENTIALS, 12),
        ]
    );
    assert_eq!(got.credentials, [own_credentials()]);
    assert_passed_and_close(&got.fds, &[&a, &b]);
}

/// A multishot `RecvMsgMulti` whose reserved control room holds one
/// descriptor's record (`CMSG_LEN(4)`, no padding after it) of a message
/// passing two: the kernel flags `MSG_CTRUNC` and writes a whole
/// `SCM_RIGHTS` record of the first descriptor, which the walk returns
/// even though the room ends right after its data.
#[test]
fn multishot_recvmsg_with_room_for_one_descriptor_yields_one_whole_record() {
    let _watch = watchdog();
    let (tx, rx) = UnixDatagram::pair().unwrap();
    let (a, b) = two_files();
    let control = rights(&[a.as_file().as_raw_fd(), b.as_file().as_raw_fd()]);
    send_with_control(&tx, b"cut", &control);
    let layout = MsgLayout::new(0, cmsg_len(4));
    let Some(got) = receive_multishot(&rx, &layout) else {
        return;
    };
    assert_eq!(got.payload, b"cut");
    assert_ne!(got.flags & libc::MSG_CTRUNC as u32, 0, "{got:?}");
    assert_eq!(got.control_len, cmsg_len(4), "{got:?}");
    assert_eq!(got.records, [(libc::SOL_SOCKET, libc::SCM_RIGHTS, 4)]);
    assert_passed_and_close(&got.fds, &[&a]);
}

/// A one-shot `RecvMsg` into a `MsgHdrMut` with a control room, on a Unix
/// datagram socket with `SO_PASSCRED` set, of a message passing two
/// descriptors: before the receive the (zeroed) room holds no record;
/// after it, `control_messages` walks the `control_len` bytes the kernel
/// wrote: the same records, credentials and descriptors as the multishot
/// receive.
#[test]
fn one_shot_recvmsg_walks_what_the_kernel_wrote_into_the_room() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (tx, rx) = UnixDatagram::pair().unwrap();
    pass_credentials(&rx);
    let (a, b) = two_files();
    let control = rights(&[a.as_file().as_raw_fd(), b.as_file().as_raw_fd()]);
    send_with_control(&tx, b"one shot", &control);
    let mut data = [0u8; 32];
    let mut room = [0u8; 128];
    let mut iov = [IoSliceMut::new(&mut data)];
    let mut hdr = MsgHdrMut::new(&mut iov).control(&mut room);
    assert_eq!(hdr.control_messages().count(), 0);
    let cqe = complete(&mut ring, RecvMsg::new(&rx, &mut hdr).user_data(1));
    assert_eq!(cqe.res(), 8, "{cqe:?}");
    assert_eq!(hdr.flags() & libc::MSG_CTRUNC, 0, "{hdr:?}");
    assert_eq!(hdr.control_len(), space(12) + space(8), "{hdr:?}");
    let got = Received::from_records(b"", 0, hdr.control_len(), hdr.control_messages());
    assert_eq!(
        got.records,
        [
            (libc::SOL_SOCKET, libc::SCM_RIGHTS, 8),
            (libc::SOL_SOCKET, libc::SCM_CREDENTIALS, 12),
        ]
    );
    assert_eq!(got.credentials, [own_credentials()]);
    // Each walk reads the same numbers: the descriptors are closed once.
    let again: Vec<RawFd> = hdr
        .control_messages()
        .filter_map(|m| m.fds())
        .flatten()
        .collect();
    assert_eq!(again, got.fds);
    assert_eq!(&data[..8], b"one shot");
    assert_passed_and_close(&got.fds, &[&a, &b]);
}

/// A one-shot `RecvMsg` of a message without ancillary data: the kernel
/// sets the control length to 0 and the walk yields nothing, though the
/// room still holds the earlier bytes.
#[test]
fn one_shot_recvmsg_without_ancillary_data_walks_nothing() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (tx, rx) = UnixDatagram::pair().unwrap();
    tx.send(b"plain").unwrap();
    let mut data = [0u8; 8];
    let mut room = ControlMessagesBuf::new();
    room.push(libc::SOL_SOCKET, libc::SCM_RIGHTS, &0i32.to_ne_bytes());
    let mut room = room.as_bytes().to_vec();
    let mut iov = [IoSliceMut::new(&mut data)];
    let mut hdr = MsgHdrMut::new(&mut iov).control(&mut room);
    assert_eq!(hdr.control_messages().count(), 1, "the room as lent");
    let cqe = complete(&mut ring, RecvMsg::new(&rx, &mut hdr).user_data(1));
    assert_eq!(cqe.res(), 5, "{cqe:?}");
    assert_eq!(hdr.control_len(), 0, "{hdr:?}");
    assert_eq!(hdr.control_messages().count(), 0);
}

/// A multishot `RecvMsgMulti` on a UDP socket with `SO_TIMESTAMPNS`,
/// `IP_PKTINFO` and `IP_RECVTTL` set, of a datagram sent with a TTL of 42:
/// the records are an `SCM_TIMESTAMPNS` of 16 bytes (a time between just
/// before the send and just after the receive, with a second's slack for
/// the clock being set meanwhile), an `IP_PKTINFO` of 12 naming the
/// loopback interface and 127.0.0.1, and an `IP_TTL` of 4 holding 42.
#[test]
fn multishot_recvmsg_on_udp_walks_timestamp_pktinfo_and_ttl() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<RecvMsgMulti<'_>>(&ring) {
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 5, 4, 512) else {
        return;
    };
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    set_int_option(&rx, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1).unwrap();
    set_int_option(&rx, libc::SOL_IP, libc::IP_PKTINFO, 1).unwrap();
    set_int_option(&rx, libc::SOL_IP, libc::IP_RECVTTL, 1).unwrap();
    tx.set_ttl(42).unwrap();
    let layout = MsgLayout::new(std::mem::size_of::<libc::sockaddr_storage>() as u32, 256);
    let before = SystemTime::now();
    tx.send_to(b"ttl", rx.local_addr().unwrap()).unwrap();
    let got = ring.scope(|s| {
        s.push(RecvMsgMulti::new(&rx, &layout, pool.group()).user_data(1))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().expect("a completion");
        assert!(cqe.res() > 0, "{cqe:?}");
        let buf = pool.claim(&mut cqe).unwrap();
        let msg = RecvMsgOut::parse(&buf, &layout).expect("a whole header");
        assert_eq!(msg.payload(), b"ttl");
        assert_eq!(msg.socket_addr(), Some(tx.local_addr().unwrap()));
        assert_eq!(msg.flags() & libc::MSG_CTRUNC as u32, 0);
        let records = msg.control_messages();
        let stamps: Vec<SystemTime> = records.clone().filter_map(|m| m.timestamp()).collect();
        let ttls: Vec<u8> = records.clone().filter_map(|m| m.ip_ttl()).collect();
        let infos: Vec<(i32, u32)> = records
            .clone()
            .filter_map(|m| m.ip_pktinfo())
            .map(|p| (p.ipi_ifindex, p.ipi_addr.s_addr))
            .collect();
        (summary(records), stamps, ttls, infos)
    });
    let after = SystemTime::now();
    let (records, stamps, ttls, infos) = got;
    let mut want = vec![
        (libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS, 16),
        (libc::SOL_IP, libc::IP_PKTINFO, 12),
        (libc::SOL_IP, libc::IP_TTL, 4),
    ];
    want.sort_unstable();
    assert_eq!(records, want);
    assert_eq!(ttls, [42]);
    // SAFETY: the name is a NUL-terminated string.
    let lo = unsafe { libc::if_nametoindex(c"lo".as_ptr()) } as i32;
    assert_ne!(lo, 0, "the loopback interface");
    assert_eq!(
        infos,
        [(lo, u32::from_ne_bytes(Ipv4Addr::LOCALHOST.octets()))]
    );
    assert_eq!(stamps.len(), 1);
    let slack = Duration::from_secs(1);
    assert!(
        stamps[0] >= before - slack && stamps[0] <= after + slack,
        "{:?} not within {before:?}..{after:?}",
        stamps[0]
    );
}

/// Records built with `ControlMessagesBuf` are what the kernel reads: an
/// `SCM_CREDENTIALS` record of this process's credentials, sent through
/// `SendMsg` with the checked `MsgHdr::control`, arrives (with
/// `SO_PASSCRED` set on the receiver) as the same credentials; an
/// `SCM_RIGHTS` record is refused by the checked `control`.
#[test]
fn built_credentials_record_is_sent_through_sendmsg() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (tx, rx) = UnixDatagram::pair().unwrap();
    pass_credentials(&rx);
    let (pid, uid, gid) = own_credentials();
    let ucred = [pid.to_ne_bytes(), uid.to_ne_bytes(), gid.to_ne_bytes()].concat();
    let mut control = ControlMessagesBuf::new();
    control.push(libc::SOL_SOCKET, libc::SCM_CREDENTIALS, &ucred);
    assert_eq!(control.as_bytes().len(), space(12));
    let iov = [IoSlice::new(b"creds")];
    assert!(MsgHdr::new(&iov).control(rights(&[0]).as_bytes()).is_err());
    let msg = MsgHdr::new(&iov).control(control.as_bytes()).unwrap();
    let cqe = complete(&mut ring, SendMsg::new(&tx, &msg).user_data(1));
    assert_eq!(cqe.res(), 5, "{cqe:?}");
    let mut data = [0u8; 8];
    let mut room = [0u8; 64];
    let mut iov = [IoSliceMut::new(&mut data)];
    let mut hdr = MsgHdrMut::new(&mut iov).control(&mut room);
    let cqe = complete(&mut ring, RecvMsg::new(&rx, &mut hdr).user_data(2));
    assert_eq!(cqe.res(), 5, "{cqe:?}");
    let creds: Vec<_> = hdr
        .control_messages()
        .filter_map(|m| m.credentials())
        .map(|c| (c.pid, c.uid, c.gid))
        .collect();
    assert_eq!(creds, [(pid, uid, gid)]);
    assert_eq!(
        summary(hdr.control_messages()),
        [(libc::SOL_SOCKET, libc::SCM_CREDENTIALS, 12)]
    );
}
