//! What the kernel writes back into memory an op borrowed, and how the
//! library reads it: provided buffers a truncating receive names, the
//! header, address, ancillary data and payload of a multishot `recvmsg`
//! (`RecvMsgOut`), the lengths written back into `MsgHdrMut`, addresses
//! written into `SockAddrBuf`, the slots `FilesUpdate` writes back into
//! `FileUpdates`, and the fixed-size outputs of `Statx`, `GetXattr`,
//! `EpollWait`, `WaitId`, `Pipe` and `GetSockOpt`.
//!
//! Each test builds its ops with safe code only, feeds them input a peer
//! chooses (datagrams longer than the buffer, descriptors passed with
//! `SCM_RIGHTS`, addresses of other families) and checks that the kernel
//! writes nothing past what was lent (canary bytes), that the library's
//! readers never panic nor hand out bytes or descriptors the kernel did not
//! give, and that no descriptor is left open behind the program's back.
//! Unsafe code appears only to inspect the results.

use std::io::{IoSlice, IoSliceMut, Read as _, Write as _};
use std::net::UdpSocket;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::time::Duration;

use uring::ops::{
    Accept, EpollWait, FGetXattr, FilesUpdate, FutexWaitv, GetSockOpt, GetXattr, Pipe, Recv,
    RecvMsg, RecvMsgMulti, Statx, WaitId, Write,
};
use uring::{
    BufferGroup, DirectSlot, FileUpdates, FilesAt, FutexFlags, FutexWaitV, MsgFlags, MsgHdr,
    MsgHdrMut, MsgLayout, RecvMsgOut, Ring, SockAddrBuf, SockOpt, WaitIdTarget,
};
use uring_tests::{complete, pattern, require_kernel, require_op, skip, tcp_pair};

const CANARY: u8 = 0xC7;

/// Serialises the tests of this file: some count the descriptors of the
/// process, which the others open and close.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

use uring_tests::open_fd_count as open_fds;

/// A ring with provided-buffer rings, or `None` (with a skip message).
fn buf_ring_or_skip() -> Option<Ring> {
    let mut ring = Ring::new(16).unwrap();
    match ring.register_buf_ring(BufferGroup::new(999), 1, 1) {
        Ok(probe) => drop(probe),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip(format_args!("the kernel lacks provided-buffer rings: {e}"));
            return None;
        }
        Err(e) => panic!("register_buf_ring: {e}"),
    }
    Some(ring)
}

/// Two UDP sockets on the loopback, `a` connected to `b` and back.
fn udp_pair() -> (UdpSocket, UdpSocket) {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    a.connect(b.local_addr().unwrap()).unwrap();
    b.connect(a.local_addr().unwrap()).unwrap();
    (a, b)
}

/// An `SCM_RIGHTS` record passing `fds`, sent by a peer with plain
/// `sendmsg(2)` (the peer is not bound by the library's rules).
fn peer_send_fds(sock: RawFd, payload: &[u8], fds: &[RawFd]) {
    let data_len = std::mem::size_of_val(fds) as u32;
    // SAFETY: CMSG_SPACE is arithmetic.
    let space = unsafe { libc::CMSG_SPACE(data_len) } as usize;
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr() as *mut libc::c_void,
        iov_len: payload.len(),
    };
    // SAFETY: all-zero bytes are a valid `msghdr`.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: the header points to `control`, which has room for one
    // record of `data_len` bytes; `payload` outlives the call.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(data_len) as _;
        std::ptr::copy_nonoverlapping(
            fds.as_ptr().cast::<u8>(),
            libc::CMSG_DATA(cmsg),
            data_len as usize,
        );
        let sent = libc::sendmsg(sock, &msg, 0);
        assert_eq!(
            sent,
            payload.len() as isize,
            "sendmsg: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// The descriptors of the `SCM_RIGHTS` records in `control` (as the kernel
/// wrote it), closed: returns how many there were.
fn close_passed_fds(control: &[u8]) -> usize {
    let header = std::mem::size_of::<libc::cmsghdr>();
    let mut at = 0;
    let mut closed = 0;
    while control.len().saturating_sub(at) >= header {
        // SAFETY: `header` bytes from `at` are in the slice.
        let cmsg: libc::cmsghdr = unsafe {
            control
                .as_ptr()
                .add(at)
                .cast::<libc::cmsghdr>()
                .read_unaligned()
        };
        #[allow(clippy::unnecessary_cast)]
        let len = cmsg.cmsg_len as usize;
        if len < header || len > control.len() - at {
            break;
        }
        if cmsg.cmsg_level == libc::SOL_SOCKET && cmsg.cmsg_type == libc::SCM_RIGHTS {
            for chunk in control[at + header..at + len].chunks_exact(4) {
                let fd = RawFd::from_ne_bytes(chunk.try_into().unwrap());
                // SAFETY: the kernel installed this descriptor for us.
                unsafe { libc::close(fd) };
                closed += 1;
            }
        }
        at += len.next_multiple_of(std::mem::size_of::<usize>());
    }
    closed
}

// ---------------------------------------------------------------------
// Provided buffers named by a receive that reports more than it wrote
// ---------------------------------------------------------------------

/// A `Recv` with `MSG_TRUNC` on a datagram socket would complete with the
/// datagram's real length, longer than the one provided buffer the kernel
/// took, and a claim could not tell the bytes placed from those it names.
/// A scope refuses it (`EINVAL`, no buffer named, the datagram left
/// queued); a receive without the flag then lends the bytes that fit in
/// one buffer, and the next datagram goes into another one the kernel
/// still has, leaving the claimed one as it was.
#[test]
fn a_truncating_recv_is_refused_and_its_datagram_waits() {
    let _serial = serial();
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = buf_ring_or_skip() else {
        return;
    };
    let (a, b) = udp_pair();
    let pool = ring.register_buf_ring(BufferGroup::new(40), 4, 16).unwrap();
    let big = pattern(40, 1);
    a.send(&big).unwrap();
    let overwritten = ring
        .scope(|s| -> uring::Result<Option<Vec<u8>>> {
            s.push(
                Recv::new(&b, pool.select())
                    .msg_flags(MsgFlags::TRUNC)
                    .user_data(1),
            )?;
            s.submit_and_wait(1)?;
            let mut cqe = s.completions().next().expect("a completion");
            assert_eq!(cqe.res(), -libc::EINVAL, "refused: {:?}", cqe.cqe());
            assert!(pool.claim(&mut cqe).is_err(), "no buffer named");
            s.push(Recv::new(&b, pool.select()).user_data(2))?;
            s.submit_and_wait(1)?;
            let mut cqe = s.completions().next().expect("a completion");
            assert_eq!(cqe.res(), 16, "the bytes that fit: {:?}", cqe.cqe());
            let held = pool.claim(&mut cqe)?;
            assert_eq!(&held[..], &big[..16], "the bytes the kernel placed");
            assert!(pool.claim_bundle(&mut cqe).is_err(), "claimed once");
            // The next datagram goes into a buffer the kernel still has.
            a.send(&[b'Z'; 16]).unwrap();
            s.push(Recv::new(&b, pool.select()).user_data(3))?;
            s.submit_and_wait(1)?;
            let mut cqe = s.completions().next().expect("a completion");
            let next = pool.claim(&mut cqe)?;
            assert_ne!(next.bid(), held.bid());
            assert_eq!(&next[..], &[b'Z'; 16]);
            if held[..] != big[..16] {
                return Ok(Some(held.to_vec()));
            }
            Ok(None)
        })
        .unwrap();
    assert_eq!(
        overwritten, None,
        "a claimed buffer was written by the kernel's next receive"
    );
}

/// The same `MSG_TRUNC` receive, refused: no buffer is lent that the
/// kernel did not take, so the ring's head (the buffers the kernel took)
/// and the buffers lent out agree.
#[test]
fn a_truncating_recv_lends_no_buffer_the_kernel_still_holds() {
    let _serial = serial();
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = buf_ring_or_skip() else {
        return;
    };
    if !require_kernel(6, 8, "the status of a buffer ring") {
        return;
    }
    let (a, b) = udp_pair();
    let pool = ring.register_buf_ring(BufferGroup::new(41), 4, 16).unwrap();
    a.send(&pattern(64, 2)).unwrap();
    let (lent, head) = ring
        .scope(|s| -> uring::Result<(u16, u16)> {
            s.push(
                Recv::new(&b, pool.select())
                    .msg_flags(MsgFlags::TRUNC)
                    .user_data(1),
            )?;
            s.submit_and_wait(1)?;
            let mut cqe = s.completions().next().expect("a completion");
            let bufs = pool.claim_bundle(&mut cqe).unwrap_or_default();
            let lent = pool.lent();
            let head = pool.head()?;
            drop(bufs);
            Ok((lent, head))
        })
        .unwrap();
    assert!(
        lent <= head,
        "{lent} buffers lent out, but the kernel took only {head} from the ring"
    );
}

// ---------------------------------------------------------------------
// FilesUpdate into free slots writes the slots back
// ---------------------------------------------------------------------

/// `FilesUpdate` into `FilesAt::ALLOC` writes the slots it picked back into
/// the `FileUpdates`. Pushed again, those slot numbers must not be taken as
/// descriptors: the program never lent the descriptor that happens to carry
/// that number.
#[test]
fn slots_written_back_by_an_alloc_update_are_not_taken_as_descriptors() {
    let _serial = serial();
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_kernel(6, 0, "IORING_REGISTER_FILE_ALLOC_RANGE") {
        return;
    }
    // Someone else's pipe: the program never names its write end.
    let (victim_r, victim_w) = uring_tests::pipe();
    let victim = victim_w.as_raw_fd() as u32;
    let table = ring.register_files_sparse(victim + 16).unwrap();
    // Free slots are picked from `victim` on.
    ring.set_file_alloc_range(&table, victim, 2).unwrap();
    let (mine_r, mine_w) = uring_tests::pipe();
    let mut updates = FileUpdates::new(&[Some(mine_w.as_fd())]);
    let first = complete(&mut ring, FilesUpdate::new(&mut updates, FilesAt::ALLOC));
    assert_eq!(first.res(), 1, "{first:?}");
    assert_eq!(updates.slots(), [victim as i32], "the slot picked");
    // The same updates again, in a new op: they install the same
    // descriptor again, not the slot number written back.
    let second = complete(&mut ring, FilesUpdate::new(&mut updates, FilesAt::ALLOC));
    assert_eq!(second.res(), 1, "{second:?}");
    let slot = updates.slots()[0] as u32;
    assert_eq!(slot, victim + 1, "the next free slot");
    let wrote = complete(
        &mut ring,
        Write::new(table.get(slot).unwrap(), b"through a slot"),
    );
    assert_eq!(wrote.res(), 14, "{wrote:?}");
    let mut mine = [0u8; 32];
    let n = (&std::fs::File::from(mine_r)).read(&mut mine).unwrap();
    assert_eq!(&mine[..n], b"through a slot", "into the pipe that was lent");
    // SAFETY: O_NONBLOCK on our own pipe's read end.
    unsafe { libc::fcntl(victim_r.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    let mut got = [0u8; 32];
    let n = (&std::fs::File::from(victim_r)).read(&mut got);
    assert!(
        n.is_err(),
        "the victim's pipe received {:?}",
        n.map(|n| String::from_utf8_lossy(&got[..n]).into_owned())
    );
    drop(victim_w);
}

// ---------------------------------------------------------------------
// The reactor's receive and what it reports initialised
// ---------------------------------------------------------------------

/// `MSG_TRUNC` on a TCP stream discards the bytes without copying them and
/// completes with their count: the reactor's `Recv` must not report bytes
/// of the buffer as received that the kernel never wrote.
#[test]
fn a_reactor_recv_with_msg_trunc_reports_only_bytes_the_kernel_wrote() {
    let _serial = serial();
    use uring::reactor::{Reactor, SharedFd, ops::Recv as ReactorRecv};
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let (mut client, server) = tcp_pair();
    client.write_all(b"received").unwrap();
    let fd = SharedFd::new(server);
    // A buffer whose spare capacity holds bytes of an earlier use.
    let mut buf = vec![CANARY; 64];
    buf.clear();
    std::thread::sleep(Duration::from_millis(20));
    let (result, buf) = reactor
        .run_until(reactor.op(ReactorRecv::new(&fd, buf).flags(MsgFlags::TRUNC)))
        .unwrap();
    let n = result.unwrap() as usize;
    assert!(n > 0);
    assert!(
        buf.is_empty() || buf == b"received"[..buf.len()],
        "the buffer reports {} bytes received that the kernel never wrote: {:x?}",
        buf.len(),
        &buf[..buf.len().min(16)]
    );
}

// ---------------------------------------------------------------------
// Multishot recvmsg: the header the kernel writes in front of the message
// ---------------------------------------------------------------------

/// `RecvMsgOut::parse` on every prefix of buffers whose header claims any
/// lengths: it never panics, returns `None` when the header and the
/// reserved room do not fit, and hands out only bytes of the buffer, the
/// name and control data within their reserved room.
#[test]
fn recvmsg_out_parses_short_and_lying_buffers_without_panicking() {
    let _serial = serial();
    let layouts = [
        MsgLayout::new(0, 0),
        MsgLayout::new(4, 0),
        MsgLayout::new(16, 24),
        MsgLayout::new(128, 64),
        MsgLayout::new(u32::MAX, 0),
        MsgLayout::new(0, usize::MAX),
        MsgLayout::new(u32::MAX, usize::MAX),
    ];
    let lies = [
        0u32,
        1,
        3,
        4,
        15,
        16,
        17,
        128,
        4096,
        i32::MAX as u32,
        u32::MAX,
    ];
    let mut rng = uring_tests::Rng(0x9e37_79b9_7f4a_7c15);
    for layout in &layouts {
        let room = 16usize
            .saturating_add(layout.name_len() as usize)
            .saturating_add(layout.control_len());
        for _ in 0..64 {
            let mut buf = pattern(300, rng.below(256) as u8);
            for w in 0..4 {
                let v = lies[rng.below(lies.len() as u64) as usize];
                buf[w * 4..w * 4 + 4].copy_from_slice(&v.to_ne_bytes());
            }
            for len in 0..buf.len() {
                let bytes = &buf[..len];
                match RecvMsgOut::parse(bytes, layout) {
                    None => assert!(len < room, "refused a whole header: {len} >= {room}"),
                    Some(msg) => {
                        assert!(len >= room);
                        assert!(msg.name().len() <= layout.name_len() as usize);
                        assert!(msg.name().len() <= msg.name_len() as usize);
                        assert!(msg.control().len() <= layout.control_len());
                        assert!(msg.control().len() <= msg.control_len() as usize);
                        assert!(msg.payload().len() <= msg.payload_len() as usize);
                        assert_eq!(
                            msg.payload().len(),
                            (len - room).min(msg.payload_len() as usize)
                        );
                        let inside = |part: &[u8]| {
                            let start = part.as_ptr() as usize - bytes.as_ptr() as usize;
                            start + part.len() <= len
                        };
                        assert!(
                            inside(msg.name()) && inside(msg.control()) && inside(msg.payload())
                        );
                        let _ = msg.socket_addr();
                        let _ = format!("{msg:?}");
                    }
                }
            }
        }
    }
}

/// A multishot `recvmsg` whose layout reserves less room than the sender's
/// address, into buffers shorter than the datagram, and an empty datagram:
/// the header tells the real lengths (the payload's only with `MSG_TRUNC`
/// passed in) and `MSG_TRUNC`, the parts hold what fit, the completion
/// counts no more than the buffer, and a truncated address decodes to
/// nothing.
#[test]
fn multishot_recvmsg_reports_truncated_address_and_payload() {
    let _serial = serial();
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = buf_ring_or_skip() else {
        return;
    };
    if !require_kernel(6, 0, "multishot recvmsg") {
        return;
    }
    type Got = (Vec<u8>, u32, u32, u32, Vec<u8>, bool);
    for pass_trunc in [false, true] {
        let (a, b) = udp_pair();
        // 16 bytes of header, 4 of address, 8 of payload.
        let layout = MsgLayout::new(4, 0);
        let pool = ring.register_buf_ring(BufferGroup::new(42), 4, 28).unwrap();
        let long = pattern(20, 9);
        a.send(&long).unwrap();
        a.send(&[]).unwrap();
        let flags_in = if pass_trunc {
            MsgFlags::TRUNC
        } else {
            MsgFlags::empty()
        };
        let got = ring
            .scope(|s| -> uring::Result<Vec<Got>> {
                s.push(
                    RecvMsgMulti::new(&b, &layout, pool.group())
                        .msg_flags(flags_in)
                        .user_data(1),
                )?;
                s.submit()?;
                let mut got = Vec::new();
                while got.len() < 2 {
                    s.wait_timeout(1, Duration::from_secs(5))?;
                    for mut cqe in s.completions() {
                        assert!((0..=28).contains(&cqe.res()), "{cqe:?}");
                        let buf = pool.claim(&mut cqe)?;
                        let msg = RecvMsgOut::parse(&buf, &layout).expect("a whole header");
                        got.push((
                            msg.name().to_vec(),
                            msg.name_len(),
                            msg.payload_len(),
                            msg.flags(),
                            msg.payload().to_vec(),
                            msg.socket_addr().is_some(),
                        ));
                    }
                }
                Ok(got)
            })
            .unwrap();
        let sin = std::mem::size_of::<libc::sockaddr_in>() as u32;
        let (name, name_len, payload_len, flags, payload, decoded) = &got[0];
        assert_eq!(name.len(), 4, "the room reserved");
        assert_eq!(*name_len, sin, "the real length");
        assert!(!decoded, "a cut-off address decodes to nothing");
        let want = if pass_trunc { 20 } else { 8 };
        assert_eq!(*payload_len, want, "MSG_TRUNC passed: {pass_trunc}");
        assert_ne!(*flags as i32 & libc::MSG_TRUNC, 0, "flags {flags:#x}");
        assert_eq!(payload[..], long[..8]);
        let (_, _, payload_len, _, payload, _) = &got[1];
        assert_eq!((*payload_len, payload.len()), (0, 0), "the empty datagram");
        drop(pool);
    }
}

/// A provided buffer too short for the header and the room the layout
/// reserves: the receive fails (`EFAULT`, or `EINVAL`), nothing is written
/// past the buffers, and no completion names a buffer.
#[test]
fn multishot_recvmsg_into_buffers_shorter_than_the_header_fails() {
    let _serial = serial();
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = buf_ring_or_skip() else {
        return;
    };
    if !require_kernel(6, 0, "multishot recvmsg") {
        return;
    }
    let (a, b) = udp_pair();
    let layout = MsgLayout::new(128, 64);
    let pool = ring.register_buf_ring(BufferGroup::new(43), 2, 32).unwrap();
    a.send(b"hello").unwrap();
    let cqe = ring
        .scope(|s| -> uring::Result<uring::Cqe> {
            s.push(RecvMsgMulti::new(&b, &layout, pool.group()).user_data(1))?;
            s.submit()?;
            s.wait_timeout(1, Duration::from_secs(5))?;
            let mut cqe = s.completions().next().expect("a completion");
            assert!(pool.claim(&mut cqe).is_err(), "no buffer to claim: {cqe:?}");
            Ok(cqe.cqe())
        })
        .unwrap();
    assert!(cqe.res() < 0, "{cqe:?}");
    assert!(!cqe.has_more(), "the receive ended: {cqe:?}");
    assert_eq!(pool.lent(), 0);
}

/// A peer passes descriptors with `SCM_RIGHTS` to a multishot `recvmsg`
/// that reserved no room, then room for one of three: the kernel installs
/// only what fits (flagging `MSG_CTRUNC`) and closes the rest, so every
/// descriptor that appeared in the process is one the control data names.
#[test]
fn multishot_recvmsg_installs_only_the_descriptors_its_control_data_names() {
    let _serial = serial();
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = buf_ring_or_skip() else {
        return;
    };
    if !require_kernel(6, 0, "multishot recvmsg") {
        return;
    }
    let (tx, rx) = UnixDatagram::pair().unwrap();
    let (p_r, p_w) = uring_tests::pipe();
    let passed = [p_r.as_raw_fd(), p_w.as_raw_fd(), tx.as_raw_fd()];
    // SAFETY: CMSG_SPACE is arithmetic.
    let one = unsafe { libc::CMSG_SPACE(4) } as usize;
    for control_room in [0usize, one] {
        let layout = MsgLayout::new(0, control_room);
        let pool = ring
            .register_buf_ring(BufferGroup::new(44), 2, 256)
            .unwrap();
        let before = open_fds();
        peer_send_fds(tx.as_raw_fd(), b"fds", &passed);
        let (flags, control, payload) = ring
            .scope(|s| -> uring::Result<(u32, Vec<u8>, Vec<u8>)> {
                s.push(RecvMsgMulti::new(&rx, &layout, pool.group()).user_data(1))?;
                s.submit()?;
                s.wait_timeout(1, Duration::from_secs(5))?;
                let mut cqe = s.completions().next().expect("a completion");
                let buf = pool.claim(&mut cqe)?;
                let msg = RecvMsgOut::parse(&buf, &layout).expect("a whole header");
                Ok((msg.flags(), msg.control().to_vec(), msg.payload().to_vec()))
            })
            .unwrap();
        assert_eq!(payload, b"fds");
        assert_ne!(
            flags as i32 & libc::MSG_CTRUNC,
            0,
            "room {control_room}: {flags:#x}"
        );
        let appeared = open_fds() - before;
        let named = close_passed_fds(&control);
        assert_eq!(
            appeared, named,
            "room {control_room}: {appeared} descriptors appeared, the control data names {named}"
        );
        assert_eq!(open_fds(), before, "room {control_room}: all closed again");
        drop(pool);
    }
}

// ---------------------------------------------------------------------
// MsgHdrMut: lengths written back, reuse
// ---------------------------------------------------------------------

/// `RecvMsg` into control room inside a larger array, from a peer passing
/// more descriptors than fit: the kernel writes only the room (flagging
/// `MSG_CTRUNC`), the lengths read back stay within it, the descriptors
/// that appear are exactly those the control data names, and a second
/// receive with the same header (whose lengths the kernel shrank) writes
/// no further.
#[test]
fn recvmsg_writes_control_data_only_into_the_room_lent_even_when_reused() {
    let _serial = serial();
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (tx, rx) = UnixDatagram::pair().unwrap();
    let (p_r, p_w) = uring_tests::pipe();
    let passed = [
        p_r.as_raw_fd(),
        p_w.as_raw_fd(),
        p_r.as_raw_fd(),
        p_w.as_raw_fd(),
    ];
    // SAFETY: CMSG_SPACE is arithmetic.
    let room = unsafe { libc::CMSG_SPACE(8) } as usize;
    #[repr(C, align(8))]
    struct Control([u8; 256]);
    let mut control = Control([CANARY; 256]);
    let mut data = [CANARY; 64];
    let mut from = SockAddrBuf::new();
    let before = open_fds();
    peer_send_fds(tx.as_raw_fd(), b"one", &passed);
    tx.send(b"two").unwrap();
    let mut lens = Vec::new();
    {
        let (payload, _) = data.split_at_mut(8);
        let mut iov = [IoSliceMut::new(payload)];
        let (lent, _) = control.0.split_at_mut(room);
        let mut hdr = MsgHdrMut::new(&mut iov[..]).from(&mut from).control(lent);
        for ud in 1..=2u64 {
            let cqe = complete(&mut ring, RecvMsg::new(&rx, &mut hdr).user_data(ud));
            assert_eq!(cqe.res(), 3, "{cqe:?}");
            assert!(hdr.control_len() <= room, "{hdr:?}");
            assert!(hdr.name_len() as usize <= std::mem::size_of::<libc::sockaddr_storage>());
            lens.push((hdr.control_len(), hdr.flags()));
        }
    }
    assert!(
        control.0[room..].iter().all(|&b| b == CANARY),
        "written past the control room"
    );
    assert!(
        data[8..].iter().all(|&b| b == CANARY),
        "written past the payload room"
    );
    assert_ne!(lens[0].1 & libc::MSG_CTRUNC, 0, "{lens:?}");
    assert_eq!(
        lens[1].0, 0,
        "the second message carries no control data: {lens:?}"
    );
    let named = close_passed_fds(&control.0[..lens[0].0]);
    assert_eq!(named, 2, "two descriptors fit in the room");
    assert_eq!(
        open_fds(),
        before,
        "every descriptor received is named in the control data"
    );
    let _ = from.socket_addr();
}

// ---------------------------------------------------------------------
// Addresses written into SockAddrBuf
// ---------------------------------------------------------------------

/// A `SockAddrBuf` with a canary right after it, as a field of a struct.
#[repr(C)]
struct Guarded {
    addr: SockAddrBuf,
    canary: [u8; 64],
}

/// `Accept` on a Unix socket writes Unix addresses (unnamed, abstract,
/// pathname) into a `SockAddrBuf`: nothing past the buffer, and the
/// conversion to `SocketAddr` answers `None` for a family it does not
/// know.
#[test]
fn accept_of_unix_peers_writes_within_the_address_buffer() {
    let _serial = serial();
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let listener = UnixListener::bind(dir.path().join("l")).unwrap();
    let path = dir.path().join("l");
    // Unnamed.
    let _c1 = UnixStream::connect(&path).unwrap();
    // Abstract, the longest name.
    let name = vec![b'x'; 107];
    let c2 = socket_unix_bound_abstract(&name);
    connect_unix(&c2, &path);
    for _ in 0..2 {
        let mut g = Guarded {
            addr: SockAddrBuf::new(),
            canary: [CANARY; 64],
        };
        let cqe = complete(&mut ring, Accept::new(&listener).peer(Some(&mut g.addr)));
        assert!(cqe.res() >= 0, "{cqe:?}");
        // SAFETY: the kernel gave us this descriptor.
        unsafe { libc::close(cqe.res()) };
        assert!(
            g.canary.iter().all(|&b| b == CANARY),
            "written past the buffer"
        );
        assert_eq!(g.addr.socket_addr(), None, "not an IP address");
        let _ = format!("{:?}", g.addr);
    }
}

fn socket_unix_bound_abstract(name: &[u8]) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket/bind calls on a fresh descriptor we own.
    unsafe {
        let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let mut sun: libc::sockaddr_un = std::mem::zeroed();
        sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (i, &c) in name.iter().enumerate() {
            sun.sun_path[i + 1] = c as libc::c_char;
        }
        let len = (std::mem::size_of::<libc::sa_family_t>() + 1 + name.len()) as u32;
        let rc = libc::bind(fd, (&sun as *const libc::sockaddr_un).cast(), len);
        assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
        std::os::fd::OwnedFd::from_raw_fd(fd)
    }
}

fn connect_unix(fd: &std::os::fd::OwnedFd, path: &std::path::Path) {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: a connect with a well-formed sockaddr_un.
    unsafe {
        let mut sun: libc::sockaddr_un = std::mem::zeroed();
        sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (i, &c) in path.as_os_str().as_bytes().iter().enumerate() {
            sun.sun_path[i] = c as libc::c_char;
        }
        let rc = libc::connect(
            fd.as_raw_fd(),
            (&sun as *const libc::sockaddr_un).cast(),
            std::mem::size_of::<libc::sockaddr_un>() as u32,
        );
        assert_eq!(rc, 0, "connect: {}", std::io::Error::last_os_error());
    }
}

// ---------------------------------------------------------------------
// Fixed-size outputs
// ---------------------------------------------------------------------

/// `Statx` writes the kernel's 256-byte `struct statx` and nothing more.
#[test]
fn statx_writes_within_the_statx_it_borrowed() {
    let _serial = serial();
    let mut ring = Ring::new(8).unwrap();
    assert_eq!(
        std::mem::size_of::<libc::statx>(),
        256,
        "the kernel's struct statx"
    );
    #[repr(C)]
    struct G {
        stx: libc::statx,
        canary: [u8; 64],
    }
    let mut g = G {
        // SAFETY: all-zero bytes are a valid `statx`.
        stx: unsafe { std::mem::zeroed() },
        canary: [CANARY; 64],
    };
    let file = tempfile::tempfile().unwrap();
    let cqe = complete(
        &mut ring,
        Statx::new(&file, c"", &mut g.stx)
            .statx_flags(libc::AT_EMPTY_PATH)
            .mask(!(libc::STATX__RESERVED as u32)),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert!(g.canary.iter().all(|&b| b == CANARY));
}

/// `GetXattr` / `FGetXattr` into a value buffer shorter than the value fail
/// with `ERANGE` and write nothing past the slice; an empty slice asks for
/// the length.
#[test]
fn getxattr_into_a_short_value_is_erange_and_writes_nothing_past_it() {
    let _serial = serial();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<GetXattr<'static>>(&ring) || !require_op::<FGetXattr<'static>>(&ring) {
        return;
    }
    let base = std::env::current_dir().unwrap();
    let Ok(dir) = tempfile::tempdir_in(&base) else {
        skip("no temp dir in the working directory");
        return;
    };
    let path = dir.path().join("x");
    std::fs::write(&path, b"").unwrap();
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let value = pattern(100, 5);
    // SAFETY: setxattr with valid strings and a value slice.
    let rc = unsafe {
        libc::setxattr(
            c.as_ptr(),
            c"user.t".as_ptr(),
            value.as_ptr().cast(),
            100,
            0,
        )
    };
    if rc != 0 {
        skip(format_args!(
            "user xattrs: {}",
            std::io::Error::last_os_error()
        ));
        return;
    }
    let file = std::fs::File::open(&path).unwrap();
    let mut buf = [CANARY; 200];
    let cqe = complete(&mut ring, GetXattr::new(&c, c"user.t", &mut buf[..10]));
    assert_eq!(cqe.res(), -libc::ERANGE, "{cqe:?}");
    assert!(buf[10..].iter().all(|&b| b == CANARY));
    let cqe = complete(&mut ring, FGetXattr::new(&file, c"user.t", &mut buf[..99]));
    assert_eq!(cqe.res(), -libc::ERANGE, "{cqe:?}");
    assert!(buf[99..].iter().all(|&b| b == CANARY));
    let cqe = complete(&mut ring, FGetXattr::new(&file, c"user.t", &mut buf[..0]));
    assert_eq!(cqe.res(), 100, "the length: {cqe:?}");
    assert!(buf.iter().all(|&b| b == CANARY));
    let cqe = complete(&mut ring, FGetXattr::new(&file, c"user.t", &mut buf[..100]));
    assert_eq!(cqe.res(), 100, "{cqe:?}");
    assert_eq!(buf[..100], value[..]);
    assert!(buf[100..].iter().all(|&b| b == CANARY));
}

/// `EpollWait` with room for one event of three ready writes one.
#[test]
fn epoll_wait_writes_no_more_events_than_the_slice_holds() {
    let _serial = serial();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<EpollWait<'static>>(&ring) {
        return;
    }
    use std::os::fd::FromRawFd;
    // SAFETY: epoll_create1 returns a fresh descriptor.
    let epoll =
        unsafe { std::os::fd::OwnedFd::from_raw_fd(libc::epoll_create1(libc::EPOLL_CLOEXEC)) };
    let pipes: Vec<_> = (0..3).map(|_| uring_tests::pipe()).collect();
    for (i, (r, w)) in pipes.iter().enumerate() {
        (&std::fs::File::from(w.try_clone().unwrap()))
            .write_all(b"x")
            .unwrap();
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: i as u64,
        };
        // SAFETY: epoll_ctl on descriptors we own.
        let rc = unsafe {
            libc::epoll_ctl(
                epoll.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                r.as_raw_fd(),
                &mut ev,
            )
        };
        assert_eq!(rc, 0);
    }
    let marker = libc::epoll_event {
        events: 0xdead,
        u64: 0xC7C7_C7C7_C7C7_C7C7,
    };
    let mut events = [marker; 8];
    let cqe = complete(&mut ring, EpollWait::new(&epoll, &mut events[..1]));
    assert_eq!(cqe.res(), 1, "{cqe:?}");
    for e in &events[1..] {
        let (ev, data) = (e.events, e.u64);
        assert_eq!(
            (ev, data),
            (0xdead, 0xC7C7_C7C7_C7C7_C7C7),
            "written past the slice"
        );
    }
    let cqe = complete(&mut ring, EpollWait::new(&epoll, &mut events[..0]));
    assert!(cqe.res() < 0, "no room: {cqe:?}");
}

/// `WaitId` writes a `siginfo_t` and nothing past it.
#[test]
fn waitid_writes_within_the_siginfo_it_borrowed() {
    let _serial = serial();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<WaitId<'static>>(&ring) {
        return;
    }
    #[repr(C)]
    struct G {
        info: libc::siginfo_t,
        canary: [u8; 64],
    }
    #[allow(clippy::zombie_processes)] // reaped by the op
    let child = std::process::Command::new("true").spawn().unwrap();
    let mut g = G {
        // SAFETY: all-zero bytes are a valid `siginfo_t`.
        info: unsafe { std::mem::zeroed() },
        canary: [CANARY; 64],
    };
    let cqe = complete(
        &mut ring,
        WaitId::new(
            WaitIdTarget::pid(child.id() as libc::pid_t),
            libc::WEXITED,
            &mut g.info,
        ),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert!(g.canary.iter().all(|&b| b == CANARY));
    assert_eq!(g.info.si_signo, libc::SIGCHLD);
}

/// `Pipe` writes two descriptors (or two slots) into its array, nothing
/// past it; the two new descriptors are the only ones that appear.
#[test]
fn pipe_writes_two_descriptors_and_nothing_past_them() {
    let _serial = serial();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Pipe<'static>>(&ring) {
        return;
    }
    #[repr(C)]
    struct G {
        fds: [RawFd; 2],
        canary: [RawFd; 4],
    }
    let mut g = G {
        fds: [-7; 2],
        canary: [-9; 4],
    };
    let before = open_fds();
    let cqe = complete(&mut ring, Pipe::new(&mut g.fds));
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_eq!(g.canary, [-9; 4]);
    assert_eq!(open_fds(), before + 2);
    for fd in g.fds {
        // SAFETY: the kernel made these for us.
        unsafe { libc::close(fd) };
    }
    // Direct descriptors: the slots are written, no descriptor appears.
    let _table = ring.register_files_sparse(4).unwrap();
    let mut g = G {
        fds: [-7; 2],
        canary: [-9; 4],
    };
    let cqe = complete(
        &mut ring,
        Pipe::new(&mut g.fds)
            .pipe_flags(0)
            .direct(DirectSlot::ALLOC),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_eq!(g.canary, [-9; 4]);
    assert!(g.fds.iter().all(|&s| (0..4).contains(&s)), "{:?}", g.fds);
    assert_eq!(open_fds(), before);
}

/// `GetSockOpt` of an `int` option into one byte writes one byte.
#[test]
fn getsockopt_into_a_short_value_writes_nothing_past_it() {
    let _serial = serial();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<GetSockOpt<'static>>(&ring) {
        return;
    }
    let (_c, server) = tcp_pair();
    let mut value = [CANARY; 16];
    let cqe = complete(
        &mut ring,
        GetSockOpt::new(&server, SockOpt::SO_RCVBUF, &mut value[..1]),
    );
    assert!(cqe.res() <= 1, "{cqe:?}");
    assert!(value[1..].iter().all(|&b| b == CANARY));
    let cqe = complete(
        &mut ring,
        GetSockOpt::new(&server, SockOpt::SO_PEERCRED, &mut value[..5]),
    );
    assert!(cqe.res() <= 5, "{cqe:?}");
    assert!(value[5..].iter().all(|&b| b == CANARY));
}

/// `FutexWaitv` with no futex or more than the kernel takes is refused; a
/// word not holding its value completes at once.
#[test]
fn futex_waitv_with_bad_counts_is_refused() {
    let _serial = serial();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FutexWaitv<'static>>(&ring) {
        return;
    }
    let words: Vec<std::sync::atomic::AtomicU32> =
        (0..200).map(std::sync::atomic::AtomicU32::new).collect();
    let none: [FutexWaitV<'_>; 0] = [];
    let cqe = complete(&mut ring, FutexWaitv::new(&none[..]));
    assert_eq!(cqe.res(), -libc::EINVAL, "{cqe:?}");
    let many: Vec<FutexWaitV<'_>> = words
        .iter()
        .map(|w| FutexWaitV::new(w, u32::MAX, FutexFlags::PRIVATE))
        .collect();
    let cqe = complete(&mut ring, FutexWaitv::new(&many[..]));
    assert_eq!(cqe.res(), -libc::EINVAL, "more than 128: {cqe:?}");
    let cqe = complete(&mut ring, FutexWaitv::new(&many[..3]));
    assert_eq!(cqe.res(), -libc::EAGAIN, "no word holds its value: {cqe:?}");
}

/// `SendMsg` refuses control data passing descriptors through the safe
/// builder, however the records are cut.
#[test]
fn sendmsg_control_with_rights_behind_odd_records_is_refused() {
    let _serial = serial();
    let payload = [1u8];
    let parts = [IoSlice::new(&payload)];
    let header = std::mem::size_of::<libc::cmsghdr>();
    let mut rng = uring_tests::Rng(77);
    for _ in 0..2000 {
        let mut bytes = vec![0u8; 128];
        let mut at = 0;
        let mut rights = false;
        while at + header <= bytes.len() {
            let len = header + rng.below(24) as usize;
            let kind = if rng.below(3) == 0 {
                libc::SCM_RIGHTS
            } else {
                libc::SCM_CREDENTIALS
            };
            // SAFETY: all-zero bytes are a valid `cmsghdr`.
            let mut c: libc::cmsghdr = unsafe { std::mem::zeroed() };
            c.cmsg_len = len as _;
            c.cmsg_level = libc::SOL_SOCKET;
            c.cmsg_type = kind;
            // SAFETY: `header` bytes from `at` are in `bytes`.
            unsafe {
                bytes
                    .as_mut_ptr()
                    .add(at)
                    .cast::<libc::cmsghdr>()
                    .write_unaligned(c)
            };
            if len > bytes.len() - at {
                break;
            }
            rights |= kind == libc::SCM_RIGHTS;
            at += len.next_multiple_of(8);
        }
        let refused = MsgHdr::new(&parts).control(&bytes[..]).is_err();
        if rights {
            assert!(refused, "a record passing descriptors got through");
        }
    }
}
