//! Attacks on what an op's fields *mean* to the kernel, rather than on
//! their lengths: flags that switch which memory an op reaches (which
//! queue a receive reads, whether a send keeps its pages, whether a
//! multishot receive writes back into the header it was lent), and
//! command numbers safe code can name. The lengths and counts the kernel
//! reads and writes are attacked in `attacks_kernel_reads.rs`,
//! `attacks_kernel_writes.rs` and `attacks_op_fields.rs`; this file takes
//! the cases those leave, found by reading every op of the table, its
//! argument types and the reactor's ops against the kernel's handlers:
//!
//! - a multishot `recvmsg` that `IOSQE_ASYNC` sends to an io-wq worker: the
//!   kernel turns a multishot op single-shot there on a file without
//!   `FMODE_NOWAIT`, and a single-shot `recvmsg` writes its lengths and
//!   flags back into the header, which `RecvMsgMulti` lends only shared
//!   (`&MsgLayout`);
//! - `SO_ZEROCOPY`, which safe code may set (`SockOpt::SO_ZEROCOPY`): no
//!   send without `MSG_ZEROCOPY` (a bit `MsgFlags` does not name) may then
//!   leave its pages with the kernel;
//! - a zero-copy datagram corked with `MSG_MORE`, whose pages could stay
//!   in the cork after the op's last completion;
//! - `MSG_ERRQUEUE`, which makes a receive read the error queue and write
//!   an extended error, the offender's address and the original payload
//!   into the buffer, control room and address it lends;
//! - the command numbers safe code can name (`NvmeCmd::IO`,
//!   `NvmeCmd::ADMIN`) sent to files of other drivers, with the command
//!   area of a 128-byte SQE, which an earlier command filled, cleared.
//!
//! No hole was found: each test asserts what the kernel did (results,
//! flags, bytes received, bytes and lengths left in memory, guard pages
//! not reached). Every attack is safe code; `unsafe` appears only to set
//! up (a `MSG_ZEROCOPY` send made by hand as the check's control, an
//! 80-byte command of the caller's own, an SQE pushed to be looked at) or
//! to inspect (the error queue, a poll), each with a `// SAFETY:` comment.

use std::io::{IoSlice, IoSliceMut, Read as _};
use std::net::UdpSocket;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixDatagram;

use uring::ops::{
    Recv, RecvMsg, RecvMsgMulti, Send, SendMsg, SendV, SendZc, SetSockOpt, UringCmd, UringCmd80,
};
use uring::{
    Cmd80, Cqe32, MsgFlags, MsgHdr, MsgHdrMut, MsgLayout, NvmeCmd, RecvMsgOut, Ring, SockAddr,
    SockAddrBuf, SockOpt, Sqe128, SqeFlags,
};
use uring_tests::next_scope_cqe as next;
use uring_tests::{
    Guarded, complete, pattern, plain_buf_ring, require_op, set_int_option, tcp_pair,
};

const CANARY: u8 = 0xC5;

/// What a non-blocking `recvmsg(2)` of `fd`'s error queue returns: the
/// payload length, or the negative errno (`-EAGAIN` when it is empty).
fn error_queue_now(fd: &impl AsRawFd) -> i32 {
    match uring_tests::recvmsg_records(fd, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT, 64) {
        Ok((payload, _)) => payload.len() as i32,
        Err(e) => -e.raw_os_error().unwrap(),
    }
}

/// A multishot `recvmsg` pushed with `IOSQE_ASYNC` goes to an io-wq worker,
/// where the kernel keeps a multishot op multishot only on a file flagged
/// `O_NONBLOCK` or `FMODE_NOWAIT`, and otherwise clears its multishot flag:
/// the op then runs as a plain `recvmsg`, which writes `msg_flags` and
/// `msg_controllen` back into the header `RecvMsgMulti` lends as a shared
/// `&MsgLayout` (a write through a shared borrow, which another op of the
/// scope and the program may be reading). Every socket is `FMODE_NOWAIT`
/// on this kernel, blocking ones too: the op stays multishot (every data
/// completion flagged `IORING_CQE_F_MORE`, each message in its own
/// provided buffer) and the layout keeps the lengths it was made with,
/// also when two ops share it.
#[test]
fn a_multishot_recvmsg_sent_to_a_worker_never_writes_its_shared_layout() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<RecvMsgMulti<'static>>(&ring) {
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 81, 8, 256) else {
        return;
    };
    let udp_rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (unix_tx, unix_rx) = UnixDatagram::pair().unwrap();
    // SO_PASSCRED makes every Unix datagram carry a control record, so a
    // single-shot receive would have a `msg_controllen` to write back.
    set_int_option(&unix_rx, libc::SOL_SOCKET, libc::SO_PASSCRED, 1).unwrap();
    let layout = MsgLayout::new(32, 64);
    let lengths = (layout.name_len(), layout.control_len());
    let mut payloads = Vec::new();
    ring.scope(|s| {
        s.push(
            RecvMsgMulti::new(&udp_rx, &layout, pool.group())
                .flags(SqeFlags::ASYNC)
                .user_data(1),
        )
        .unwrap();
        s.push(
            RecvMsgMulti::new(&unix_rx, &layout, pool.group())
                .flags(SqeFlags::ASYNC)
                .user_data(2),
        )
        .unwrap();
        s.submit().unwrap();
        for i in 0..2u8 {
            udp_tx
                .send_to(&[b'u', i], udp_rx.local_addr().unwrap())
                .unwrap();
            unix_tx.send(&[b'x', i]).unwrap();
        }
        while payloads.len() < 4 {
            let mut cqe = next(s);
            assert!(cqe.res() > 0, "{:?}", cqe.cqe());
            assert!(cqe.cqe().has_more(), "turned single-shot: {:?}", cqe.cqe());
            let buf = pool.claim(&mut cqe).unwrap();
            let out = RecvMsgOut::parse(&buf, &layout).expect("a whole header");
            payloads.push((cqe.user_data(), out.payload().to_vec()));
            assert_eq!((layout.name_len(), layout.control_len()), lengths);
        }
    });
    payloads.sort();
    assert_eq!(
        payloads,
        [
            (1, b"u\0".to_vec()),
            (1, b"u\x01".to_vec()),
            (2, b"x\0".to_vec()),
            (2, b"x\x01".to_vec()),
        ]
    );
    assert_eq!((layout.name_len(), layout.control_len()), lengths);
}

/// `SO_ZEROCOPY` is among the options safe code sets, and `MSG_ZEROCOPY`
/// is not among the flags it can give a send: on a socket with the option
/// on, every send the table and the reactor make without it copies. The
/// kernel reports each send that kept pages with a notification on the
/// socket's error queue; after plain, message and vectored sends with
/// every `MsgFlags` bit that means something to a TCP send, the queue is
/// empty, the buffers are overwritten at once, and the peer reads the
/// bytes as they were sent. (A `send(2)` with `MSG_ZEROCOPY` made by hand
/// on the same socket does queue a notification: the check sees one.)
#[test]
fn so_zerocopy_makes_no_send_without_msg_zerocopy_keep_its_pages() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SetSockOpt<'static>>(&ring) {
        return;
    }
    let (tx, mut rx) = tcp_pair();
    let on = 1i32.to_ne_bytes();
    let cqe = complete(
        &mut ring,
        SetSockOpt::new(&tx, SockOpt::SO_ZEROCOPY, &on[..]),
    );
    assert_eq!(cqe.res(), 0, "SO_ZEROCOPY: {cqe:?}");
    let flag_sets = [
        MsgFlags::empty(),
        MsgFlags::NOSIGNAL,
        MsgFlags::MORE,
        MsgFlags::DONTWAIT | MsgFlags::EOR,
        MsgFlags::WAITALL | MsgFlags::CONFIRM | MsgFlags::DONTROUTE,
        MsgFlags::from_bits_truncate(
            MsgFlags::all().bits()
                & !(libc::MSG_OOB | libc::MSG_PEEK | libc::MSG_ERRQUEUE | libc::MSG_TRUNC),
        ),
    ];
    let mut sent = Vec::new();
    for (i, &flags) in flag_sets.iter().enumerate() {
        let data = pattern(3000, 80 + i as u8);
        let mut buf = data.clone();
        let cqe = complete(&mut ring, Send::new(&tx, &buf[..]).msg_flags(flags));
        assert_eq!(cqe.res(), 3000, "send {flags:?}: {cqe:?}");
        buf.fill(CANARY);
        sent.extend_from_slice(&data);

        let mut buf = data.clone();
        let iov = [IoSlice::new(&buf[..1000]), IoSlice::new(&buf[1000..])];
        let msg = MsgHdr::new(&iov);
        let cqe = complete(&mut ring, SendMsg::new(&tx, &msg).msg_flags(flags));
        assert_eq!(cqe.res(), 3000, "sendmsg {flags:?}: {cqe:?}");
        buf.fill(CANARY);
        sent.extend_from_slice(&data);

        if ring.probe().unwrap().supports::<SendV<'static, 'static>>() {
            let mut buf = data.clone();
            let iov = [IoSlice::new(&buf[..7]), IoSlice::new(&buf[7..])];
            let cqe = complete(&mut ring, SendV::new(&tx, &iov).msg_flags(flags));
            if cqe.res() != -libc::EINVAL {
                assert_eq!(cqe.res(), 3000, "sendv {flags:?}: {cqe:?}");
                buf.fill(CANARY);
                sent.extend_from_slice(&data);
            }
        }
        assert_eq!(error_queue_now(&tx), -libc::EAGAIN, "flags {flags:?}");
    }
    let mut got = vec![0u8; sent.len()];
    rx.read_exact(&mut got).unwrap();
    assert!(got == sent, "the peer read bytes changed after their send");

    // The check sees a send that keeps its pages.
    let data = pattern(3000, 99);
    // SAFETY: `data` outlives the call and stays unchanged until the
    // notification below has been read; `tx` is open.
    let rc = unsafe {
        libc::send(
            tx.as_raw_fd(),
            data.as_ptr().cast(),
            data.len(),
            libc::MSG_ZEROCOPY,
        )
    };
    assert_eq!(rc, 3000);
    let mut got = vec![0u8; 3000];
    rx.read_exact(&mut got).unwrap();
    let mut queued = error_queue_now(&tx);
    for _ in 0..100 {
        if queued != -libc::EAGAIN {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
        queued = error_queue_now(&tx);
    }
    assert_eq!(queued, 0, "a MSG_ZEROCOPY send queues its notification");
    drop(data);
}

/// `MSG_MORE` on a zero-copy datagram corks it: the bytes wait on the
/// socket for the send that ends the datagram. Were the pages kept in the
/// cork, the notification would wait with them and the scope with it. On
/// this kernel the corked bytes are copied: the op posts its count, then
/// its notification, before anything ends the datagram, the scope
/// returns, and the datagram the peer gets (ended by a later send) holds
/// the bytes as they were at the send, not the canary written over the
/// buffer since.
#[test]
fn a_corked_zero_copy_datagram_gives_its_buffer_back_at_the_notification() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SendZc<'static>>(&ring) {
        return;
    }
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(rx.local_addr().unwrap()).unwrap();
    rx.set_nonblocking(true).unwrap();
    let data = pattern(1200, 7);
    let mut buf = data.clone();
    let seen = ring.scope(|s| {
        s.push(SendZc::new(&tx, &buf[..]).msg_flags(MsgFlags::MORE))
            .unwrap();
        let first = next(s);
        let second = next(s);
        [first.cqe(), second.cqe()].map(|c| (c.res(), c.has_more(), c.is_notification()))
    });
    assert_eq!(seen, [(1200, true, false), (0, false, true)]);
    let mut probe = [0u8; 8];
    assert_eq!(
        rx.recv(&mut probe).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "the datagram was corked"
    );
    buf.fill(CANARY);
    tx.send(b"end").unwrap();
    rx.set_nonblocking(false).unwrap();
    let mut got = vec![0u8; 1300];
    let n = rx.recv(&mut got).unwrap();
    assert_eq!(n, 1203);
    assert!(
        got[..1200] == data[..],
        "the corked bytes changed after the op"
    );
    assert_eq!(&got[1200..1203], b"end");
}

/// `MSG_ERRQUEUE` switches a receive to the socket's error queue, whose
/// entries carry the payload of a datagram that failed, an extended error
/// record and the address of the host that reported it. With
/// `IP_RECVERR` on and a datagram sent to a closed port, the entry is
/// taken by a `Recv` into 8 bytes that end at a guard page (8 bytes of the
/// payload, nothing past), then, again, by a `RecvMsg` whose buffer,
/// control room of 16 bytes (a record needs 48) and address room end at
/// guard pages too: the kernel cuts the record to its header
/// (`MSG_CTRUNC`, a control length of 16), writes the offender's address
/// within its room, and no byte past what was lent.
#[test]
fn error_queue_receives_write_only_what_they_lend() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let closed = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dest = closed.local_addr().unwrap();
    drop(closed);
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    set_int_option(&tx, libc::IPPROTO_IP, libc::IP_RECVERR, 1).unwrap();
    let payload = pattern(40, 3);
    let dest_addr = SockAddr::from(dest);
    let wait_for_error = |ring: &mut Ring| {
        let cqe = complete(ring, Send::new(&tx, &payload[..]).dest(Some(&dest_addr)));
        assert_eq!(cqe.res(), 40, "{cqe:?}");
        for _ in 0..200 {
            let mut pfd = libc::pollfd {
                fd: tx.as_raw_fd(),
                events: 0,
                revents: 0,
            };
            // SAFETY: a zero-timeout `poll(2)` of one open descriptor,
            // through a local `pollfd`.
            unsafe { libc::poll(&mut pfd, 1, 0) };
            if pfd.revents & libc::POLLERR != 0 {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        panic!("no ICMP error queued");
    };

    wait_for_error(&mut ring);
    let mut mem = Guarded::new(64);
    mem.bytes().fill(CANARY);
    let cqe = complete(
        &mut ring,
        Recv::new(&tx, mem.tail(8)).msg_flags(MsgFlags::ERRQUEUE | MsgFlags::DONTWAIT),
    );
    assert_eq!(cqe.res(), 8, "{cqe:?}");
    let len = mem.bytes().len();
    assert_eq!(&mem.bytes()[len - 8..], &payload[..8]);
    assert!(mem.bytes()[..len - 8].iter().all(|&b| b == CANARY));

    wait_for_error(&mut ring);
    let mut data_mem = Guarded::new(64);
    let mut control_mem = Guarded::new(64);
    let mut addr_mem = Guarded::new(std::mem::size_of::<SockAddrBuf>());
    control_mem.bytes().fill(CANARY);
    data_mem.bytes().fill(CANARY);
    let from = addr_mem.place_one(SockAddrBuf::new());
    let mut iov = [IoSliceMut::new(data_mem.tail(16))];
    let mut msg = MsgHdrMut::new(&mut iov)
        .from(from)
        .control(control_mem.tail(16));
    let cqe = complete(
        &mut ring,
        RecvMsg::new(&tx, &mut msg).msg_flags(MsgFlags::ERRQUEUE | MsgFlags::DONTWAIT),
    );
    assert_eq!(cqe.res(), 16, "{cqe:?}");
    assert_ne!(msg.flags() & libc::MSG_ERRQUEUE, 0, "{msg:?}");
    assert_ne!(msg.flags() & libc::MSG_CTRUNC, 0, "{msg:?}");
    // The record cut to the room: its header alone.
    assert_eq!(msg.control_len(), 16, "{msg:?}");
    let name_len = msg.name_len();
    assert_eq!(name_len as usize, std::mem::size_of::<libc::sockaddr_in>());
    from.set_len(name_len);
    assert_eq!(
        from.socket_addr().map(|a| a.ip()),
        Some(dest.ip()),
        "the offender's address"
    );
    let len = data_mem.bytes().len();
    assert_eq!(&data_mem.bytes()[len - 16..], &payload[..16]);
    assert!(data_mem.bytes()[..len - 16].iter().all(|&b| b == CANARY));
    let len = control_mem.bytes().len();
    let (before, header) = control_mem.bytes().split_at(len - 16);
    assert!(before.iter().all(|&b| b == CANARY));
    let word = |at: usize| i32::from_ne_bytes(header[at..at + 4].try_into().unwrap());
    assert_eq!((word(8), word(12)), (libc::SOL_IP, libc::IP_RECVERR));
    assert_eq!(error_queue_now(&tx), -libc::EAGAIN);
}

/// The command numbers safe code can name are NVMe's (`NvmeCmd::IO`,
/// `NvmeCmd::ADMIN`), and a `UringCmd` carries no command area: sent to
/// files of other drivers they are refused (a socket, a regular file, a
/// pipe: `EOPNOTSUPP`) or do nothing (`/dev/null`, whose command handler
/// completes every command with 0), on rings of 64- and 128-byte SQEs.
/// On a ring of 128-byte SQEs, the slot a `UringCmd` is written to held
/// an 80-byte command just before (one of the caller's, made unsafely, to
/// `/dev/null`): the SQE the kernel gets has all of its command area but
/// what the op writes (zeros) cleared, so a driver that read a command
/// there (NVMe's) would read none of the earlier one.
#[test]
fn safe_command_numbers_reach_no_driver_that_reads_a_command() {
    let _watch = uring_tests::watchdog();
    let null = std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let file = tempfile::tempfile().unwrap();
    let (pipe_r, _pipe_w) = uring_tests::pipe();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<UringCmd>(&ring) {
        return;
    }
    for op in [NvmeCmd::IO, NvmeCmd::ADMIN] {
        let results = [
            complete(&mut ring, UringCmd::new(&sock, op)).res(),
            complete(&mut ring, UringCmd::new(&file, op)).res(),
            complete(&mut ring, UringCmd::new(pipe_r.as_fd(), op)).res(),
            complete(&mut ring, UringCmd::new(&null, op)).res(),
        ];
        assert_eq!(
            results,
            [-libc::EOPNOTSUPP, -libc::EOPNOTSUPP, -libc::EOPNOTSUPP, 0],
            "{op:?}"
        );
    }

    let mut big = uring::Builder::new()
        .build_sized::<Sqe128, Cqe32>(1)
        .unwrap();
    // SAFETY: the command goes to /dev/null, whose command handler reads
    // nothing of it and completes it with 0.
    let planted = unsafe { Cmd80::from_bytes([0xAB; 80]) };
    let res = big.scope(|s| {
        s.push(UringCmd80::new(&null, NvmeCmd::IO, planted))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let cqe = s.completions().next().expect("a completion");
        cqe.res()
    });
    assert_eq!(res, 0);
    // SAFETY: `null` outlives the op, which is submitted and completed
    // below before anything is dropped.
    unsafe { big.push_unchecked(UringCmd::new(&null, NvmeCmd::IO).user_data(5)) }.unwrap();
    let slots: Vec<_> = big.pending_sqes().collect();
    assert_eq!(slots.len(), 1);
    assert_eq!(slots[0].sqe.opcode, uring::sys::IORING_OP_URING_CMD);
    assert_eq!(
        slots[0].ext, [0; 64],
        "the earlier command's bytes are left"
    );
    // SAFETY: the SQE is 64 plain bytes.
    let first: [u8; 64] = unsafe { std::mem::transmute(slots[0].sqe) };
    assert_eq!(first[48..64], [0; 16]);
    big.submit_and_wait(1).unwrap();
    let done: Vec<_> = big
        .completions()
        .map(|c| (c.as_ref().user_data(), c.as_ref().res()))
        .collect();
    assert_eq!(done, [(5, 0)]);
}
