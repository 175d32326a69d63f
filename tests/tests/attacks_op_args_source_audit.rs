//! The argument types of the op table read against the kernel code that
//! uses the SQE fields they fill (Linux 6.18 `io_uring/waitid.c`,
//! `net.c`, `cmd_net.c`, `statx.c`, `xattr.c`, `futex.c`, `epoll.c`,
//! `openclose.c`; `net/core/scm.c`, `net/socket.c`'s `put_cmsg`,
//! `scm_detach_fds`, `move_addr_to_user` and `____sys_recvmsg`).
//!
//! Each `unsafe impl SqeField` in `uring/src/op/field.rs` and
//! `uring/src/args/` claims that the address it puts in the SQE is a borrow
//! the op carries for as long as the kernel may use it, and that the length
//! beside it is never more than the borrow, in the unit the kernel reads
//! it in. The tests here attack those claims where the existing suites do
//! not: at the moments the kernel touches the memory late (an io-wq worker
//! after `IOSQE_ASYNC`, a retry after the socket was full or empty, a
//! cancel that writes before it completes), and at the edges of each
//! type's public constructors:
//!
//! - `&mut libc::siginfo_t` (`WaitId`): every id type, `WNOHANG`, ids the
//!   kernel refuses, and waits cancelled while the child runs, on which
//!   `io_waitid_finish` still writes the fields it names;
//! - `&mut MsgHdrMut` (`RecvMsg`): control rooms of every size around the
//!   credentials and descriptor records (`put_cmsg`, `scm_detach_fds`),
//!   the receive parked before the message arrives, inline and on io-wq;
//! - `&MsgHdr` (`SendMsg`): control data of 0, 1, 28 and 32 bytes read again
//!   at the retry of a send that found the socket's buffer full;
//! - `&mut SockAddrBuf` (`Accept`, `GetSockName`): the address and the
//!   length word the kernel writes back, for every family and length;
//! - `&mut libc::statx` (`Statx`): every mask bit and every `AT_*` flag,
//!   against `statx(2)` of the same arguments;
//! - `&AtomicU32` with `FutexFlags`, and `&[FutexWaitV]`: every flag bit
//!   safe code can pass still waits on four bytes;
//! - `&mut [u8]` of `FGetXattr` / `GetXattr`: values of every length
//!   around the attribute's, and names around `XATTR_NAME_MAX`;
//! - `PipeFds` and `&mut [libc::epoll_event]`: written by an io-wq worker
//!   and at a poll-driven retry;
//! - `SockAddr`'s constructors at every length, which must answer with
//!   values or errors, never panic.
//!
//! Every lent region ends at a `PROT_NONE` page (`uring_tests::Guarded`):
//! a kernel access one byte past it fails the op with `EFAULT`; bytes the
//! kernel must leave alone hold canaries. Every attack is safe code;
//! `unsafe` appears only to set up (descriptors passed with `sendmsg(2)`,
//! a pidfd, sockets bound with `bind(2)`) or to inspect (`statx(2)`,
//! `getxattr(2)`, the bytes of a `siginfo_t`), each with a `// SAFETY:`
//! comment.

use std::ffi::CStr;
use std::io::{IoSlice, IoSliceMut};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::net::{SocketAddr as UnixAddr, UnixDatagram, UnixListener, UnixStream};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use uring::ops::{
    Accept, Cancel, EpollWait, FGetXattr, FutexWait, FutexWaitv, FutexWake, GetSockName, GetXattr,
    Pipe, RecvMsg, SendMsg, Statx, WaitId,
};
use uring::{
    ControlMessagesBuf, FutexFlags, FutexWaitV, MsgHdr, MsgHdrMut, Ring, Scope, SockAddr,
    SockAddrBuf, SqeFlags, WaitIdTarget,
};
use uring_tests::{Guarded, PATIENCE, complete, require_op, skip};

/// What lent memory holds before the kernel is given it.
const CANARY: u8 = 0xC5;

/// The SQE flags of an op issued inline (and retried by poll), or handed
/// to an io-wq worker at once.
fn issue(on_io_wq: bool) -> SqeFlags {
    if on_io_wq {
        SqeFlags::ASYNC
    } else {
        SqeFlags::EMPTY
    }
}

/// Submits and gathers the scope's own completions until `n` have come,
/// as `(user_data, result)` sorted by `user_data`.
fn collect(s: &mut Scope<'_, '_>, n: usize) -> Vec<(u64, i32)> {
    let start = Instant::now();
    let mut out = Vec::new();
    while out.len() < n {
        assert!(
            start.elapsed() < PATIENCE,
            "only {out:?} after {PATIENCE:?}"
        );
        s.submit().unwrap();
        let _ = s.wait_timeout(1, Duration::from_millis(20));
        for cqe in s.completions() {
            assert!(cqe.is_scope_op(), "{:?}", cqe.cqe());
            out.push((cqe.user_data(), cqe.res()));
        }
    }
    out.sort_unstable();
    out
}

/// The completions the scope has after submitting and waiting `ms`.
fn pending_after(s: &mut Scope<'_, '_>, ms: u64) -> Vec<(u64, i32)> {
    s.submit().unwrap();
    std::thread::sleep(Duration::from_millis(ms));
    let _ = s.wait_timeout(1, Duration::from_millis(1));
    s.completions().map(|c| (c.user_data(), c.res())).collect()
}

/// Takes ownership of a descriptor the kernel just made for this process
/// (an op's result, or a record's number), so that it is closed.
fn adopt(fd: RawFd) -> OwnedFd {
    assert!(fd >= 0, "not a descriptor: {fd}");
    assert!(uring_tests::fd_is_open(fd), "{fd} is not open");
    // SAFETY: clean-up: the kernel installed `fd` for this process just
    // now (an accept's, a pipe's or a received record's), and nothing else
    // owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

// ---------------------------------------------------------------------
// WaitId: `&mut libc::siginfo_t` in `addr2`
// ---------------------------------------------------------------------

/// The bytes of a `siginfo_t` that `io_waitid_copy_si` writes:
/// `si_signo`, `si_errno`, `si_code`, then (after 4 bytes of padding)
/// `si_pid`, `si_uid`, `si_status`.
const SIGINFO_WRITTEN: [std::ops::Range<usize>; 2] = [0..12, 16..28];

fn siginfo_bytes(info: &libc::siginfo_t) -> [u8; 128] {
    // SAFETY: inspection: a `siginfo_t` is 128 initialised bytes (integers
    // and unions of integers), read whole.
    unsafe { std::ptr::read((info as *const libc::siginfo_t).cast::<[u8; 128]>()) }
}

fn fill_siginfo(info: &mut libc::siginfo_t) {
    // SAFETY: set-up: any bytes are a valid `siginfo_t` (integers and
    // unions of integers); 128 bytes are its size.
    unsafe { std::ptr::write_bytes((info as *mut libc::siginfo_t).cast::<u8>(), CANARY, 128) }
}

fn word_at(bytes: &[u8], at: usize) -> i32 {
    i32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// Every byte the kernel must not write still holds the canary.
fn only_named_fields_written(bytes: &[u8; 128]) -> bool {
    bytes
        .iter()
        .enumerate()
        .all(|(i, &b)| SIGINFO_WRITTEN.iter().any(|r| r.contains(&i)) || b == CANARY)
}

/// `WaitId` writes `addr2`'s `siginfo_t`, 128 bytes ending at a guard page,
/// only in the six fields `io_waitid_copy_si` names, for every id type
/// (`P_PID`, `P_PGID`, `P_ALL`, `P_PIDFD`), issued inline and on io-wq:
/// ids the kernel refuses (0, -1, `i32::MIN`, a pidfd that is a pipe)
/// write nothing; `WNOHANG` with the child running completes with 0 and
/// writes signal 0; a wait cancelled while the child runs is written too
/// (`io_waitid_finish` runs from the cancel, before the completion is
/// posted: inside the borrow) and completes with `-ECANCELED`; the child's
/// death is written whole. No byte outside the six fields ever changes.
#[test]
fn waitid_of_every_id_type_writes_only_the_siginfo_fields_it_names() {
    use std::os::unix::process::CommandExt as _;
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<WaitId<'static>>(&ring) {
        return;
    }
    assert_eq!(std::mem::size_of::<libc::siginfo_t>(), 128);
    let mut mem = Guarded::new(4096);
    // SAFETY: all-zero bytes are a valid `siginfo_t` (plain integers).
    let info = mem.place_one(unsafe { std::mem::zeroed::<libc::siginfo_t>() });
    #[allow(clippy::zombie_processes)] // killed, then reaped by the last `WaitId`
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    // SAFETY: set-up: pidfd_open takes a pid and flags and returns a new
    // descriptor, owned by no one else.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    assert!(raw >= 0, "pidfd_open: {}", std::io::Error::last_os_error());
    // SAFETY: just made, owned by no one else.
    let pidfd = unsafe { OwnedFd::from_raw_fd(raw as RawFd) };
    let (pipe_rx, _pipe_tx) = uring_tests::pipe();

    for (who, want) in [
        (WaitIdTarget::pid(0), -libc::EINVAL),
        (WaitIdTarget::pid(-1), -libc::EINVAL),
        (WaitIdTarget::pid(i32::MIN), -libc::EINVAL),
        (WaitIdTarget::pgid(-1), -libc::EINVAL),
        (WaitIdTarget::pgid(i32::MIN), -libc::EINVAL),
        (WaitIdTarget::pidfd(pipe_rx.as_fd()), -libc::EBADF),
    ] {
        fill_siginfo(info);
        let cqe = complete(&mut ring, WaitId::new(who, libc::WEXITED, &mut *info));
        assert_eq!(cqe.res(), want, "{who:?}: {cqe:?}");
        assert!(
            siginfo_bytes(info).iter().all(|&b| b == CANARY),
            "{who:?}: a refused wait wrote"
        );
    }

    let targets = [
        WaitIdTarget::pid(pid),
        WaitIdTarget::pgid(pid),
        WaitIdTarget::all(),
        WaitIdTarget::pidfd(pidfd.as_fd()),
    ];
    for who in targets {
        for on_io_wq in [false, true] {
            let what = format!("{who:?}, io-wq {on_io_wq}");
            fill_siginfo(info);
            let cqe = complete(
                &mut ring,
                WaitId::new(who, libc::WEXITED | libc::WNOHANG, &mut *info).flags(issue(on_io_wq)),
            );
            assert_eq!(cqe.res(), 0, "{what}, WNOHANG: {cqe:?}");
            let bytes = siginfo_bytes(info);
            assert!(only_named_fields_written(&bytes), "{what}: {bytes:?}");
            assert_eq!(
                (word_at(&bytes, 0), word_at(&bytes, 4)),
                (0, 0),
                "{what}: no child changed state"
            );

            fill_siginfo(info);
            let (early, results) = ring.scope(|s| {
                s.push(
                    WaitId::new(who, libc::WEXITED, &mut *info)
                        .flags(issue(on_io_wq))
                        .user_data(1),
                )
                .unwrap();
                let early = pending_after(s, 20);
                s.push(Cancel::new(1).user_data(2)).unwrap();
                (early, collect(s, 2))
            });
            assert!(early.is_empty(), "{what}: completed early: {early:?}");
            // The cancel counts what it found (`io_waitid_cancel`).
            assert_eq!(results[0], (1, -libc::ECANCELED), "{what}");
            assert!(matches!(results[1], (2, 0 | 1)), "{what}: {results:?}");
            let bytes = siginfo_bytes(info);
            assert!(only_named_fields_written(&bytes), "{what}: {bytes:?}");
            assert_eq!(
                (word_at(&bytes, 0), word_at(&bytes, 4)),
                (0, 0),
                "{what}: Linux 6.18 writes the fields as it cancels"
            );
        }
    }

    child.kill().unwrap();
    fill_siginfo(info);
    let cqe = complete(
        &mut ring,
        WaitId::new(
            WaitIdTarget::pidfd(pidfd.as_fd()),
            libc::WEXITED,
            &mut *info,
        )
        .flags(SqeFlags::ASYNC),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    let bytes = siginfo_bytes(info);
    assert!(only_named_fields_written(&bytes), "{bytes:?}");
    assert_eq!(word_at(&bytes, 0), libc::SIGCHLD);
    assert_eq!(word_at(&bytes, 8), libc::CLD_KILLED);
    assert_eq!(word_at(&bytes, 16), pid);
    assert_eq!(word_at(&bytes, 24), libc::SIGKILL);
}

// ---------------------------------------------------------------------
// RecvMsg: the control room of a `MsgHdrMut`
// ---------------------------------------------------------------------

/// Sends `payload` on `sock` with an `SCM_RIGHTS` record of `fds`
/// (`sendmsg(2)`; descriptors the test owns).
fn send_with_fds(sock: &UnixDatagram, payload: &[u8], fds: &[RawFd]) {
    let mut control = ControlMessagesBuf::new();
    let data: Vec<u8> = fds.iter().flat_map(|fd| fd.to_ne_bytes()).collect();
    control.push(libc::SOL_SOCKET, libc::SCM_RIGHTS, &data);
    let control = control.as_bytes();
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr() as *mut libc::c_void,
        iov_len: payload.len(),
    };
    // SAFETY: all-zero bytes are a valid, empty `msghdr`.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_ptr() as *mut libc::c_void;
    msg.msg_controllen = control.len() as _;
    // SAFETY: set-up: the header, its iovec, payload and control bytes
    // outlive the call, and every descriptor the record names is open and
    // owned by the test (the kernel takes its own references).
    let rc = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, 0) };
    assert_eq!(
        rc,
        payload.len() as isize,
        "sendmsg: {}",
        std::io::Error::last_os_error()
    );
}

/// `CMSG_SPACE` and `CMSG_LEN` of `n` bytes of data.
fn cmsg_space(n: usize) -> usize {
    // SAFETY: arithmetic.
    unsafe { libc::CMSG_SPACE(n as u32) as usize }
}

/// What Linux 6.18 writes into a control room of `room` bytes for a
/// credentials record and an `SCM_RIGHTS` record of two descriptors
/// (`scm_recv`: `put_cmsg` of the credentials, then `scm_detach_fds`):
/// `(descriptors delivered, control length reported)`.
fn expected_control(room: usize) -> (usize, usize) {
    let header = std::mem::size_of::<libc::cmsghdr>();
    let (creds_used, left) = if room < header {
        (0, room)
    } else {
        let used = room.min(cmsg_space(12));
        (used, room - used)
    };
    let fds = if left <= header {
        0
    } else {
        ((left - header) / 4).min(2)
    };
    let fds_used = if fds == 0 {
        0
    } else {
        left.min(cmsg_space(4 * fds))
    };
    (fds, creds_used + fds_used)
}

/// A `RecvMsg` whose control room ends at a guard page, of every size
/// from 0 to past what the records need (0, 1, a header less one, a
/// header, the credentials record cut or whole, the descriptors' record
/// with room for none, one or two numbers), parked before the message
/// arrives (inline: retried when poll says the socket is readable; with
/// `IOSQE_ASYNC`: blocked in an io-wq worker). The message carries the
/// sender's credentials (`SO_PASSCRED`) and two descriptors. Safe outcome:
/// every receive completes with the payload's length (a write past the
/// room would be `EFAULT`), the control length the kernel writes back is
/// at most the room and says what `put_cmsg` and `scm_detach_fds` wrote,
/// nothing after it changes, `MSG_CTRUNC` is set exactly when the room is
/// short, and the descriptors the records carry are open ones of this
/// process.
#[test]
fn control_rooms_of_every_size_hold_what_a_retried_recvmsg_writes() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (tx, rx) = UnixDatagram::pair().unwrap();
    uring_tests::set_int_option(&rx, libc::SOL_SOCKET, libc::SO_PASSCRED, 1).unwrap();
    let (pipe_rx, pipe_tx) = uring_tests::pipe();
    let needed = cmsg_space(12) + cmsg_space(8);
    let mut mem = Guarded::new(4096);
    let mut data = [CANARY; 16];
    for room in [
        0, 1, 15, 16, 17, 27, 28, 31, 32, 33, 48, 49, 52, 53, 55, 56, 64,
    ] {
        for on_io_wq in [false, true] {
            let what = format!("room {room}, io-wq {on_io_wq}");
            data.fill(CANARY);
            let control = mem.tail(room);
            control.fill(CANARY);
            let mut iov = [IoSliceMut::new(&mut data)];
            let mut msg = MsgHdrMut::new(&mut iov).control(control);
            let (early, results) = ring.scope(|s| {
                s.push(
                    RecvMsg::new(&rx, &mut msg)
                        .flags(issue(on_io_wq))
                        .user_data(1),
                )
                .unwrap();
                let early = pending_after(s, 10);
                send_with_fds(&tx, b"hello!", &[pipe_rx.as_raw_fd(), pipe_tx.as_raw_fd()]);
                (early, collect(s, 1))
            });
            assert!(early.is_empty(), "{what}: completed early: {early:?}");
            assert_eq!(results, [(1, 6)], "{what}");
            let (fds, len) = expected_control(room);
            assert_eq!(msg.control_len(), len, "{what}: {msg:?}");
            let truncated = msg.flags() & libc::MSG_CTRUNC != 0;
            assert_eq!(truncated, room < needed, "{what}: {msg:?}");
            let mut got_fds = Vec::new();
            let mut creds = None;
            for record in msg.control_messages() {
                if let Some(numbers) = record.fds() {
                    got_fds.extend(numbers.map(adopt));
                }
                if let Some(c) = record.credentials() {
                    creds = Some(c.pid);
                }
            }
            assert_eq!(got_fds.len(), fds, "{what}");
            if room >= cmsg_space(12) {
                assert_eq!(creds, Some(std::process::id() as i32), "{what}");
            }
            assert_eq!(&data[..6], b"hello!");
            assert!(data[6..].iter().all(|&b| b == CANARY), "{what}");
            let control = mem.tail(room);
            assert!(
                control[len..].iter().all(|&b| b == CANARY),
                "{what}: written past the reported length: {control:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------
// SendMsg: the control data of a `MsgHdr`, read again at each retry
// ---------------------------------------------------------------------

/// Fills `sock`'s send buffer until a send would block; the number of
/// datagrams queued.
fn fill_send_buffer(sock: &UnixDatagram, datagram: usize) -> usize {
    sock.set_nonblocking(true).unwrap();
    let filler = vec![0u8; datagram];
    let mut queued = 0;
    loop {
        match sock.send(&filler) {
            Ok(_) => queued += 1,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("filling the socket: {e}"),
        }
    }
    sock.set_nonblocking(false).unwrap();
    queued
}

/// A `SendMsg` on a Unix datagram socket whose send buffer is full waits
/// (inline: retried when poll says the socket is writable; with
/// `IOSQE_ASYNC`: blocked in an io-wq worker), and `io_sendmsg` reads the
/// control data again at that retry (`kmsg->msg.msg_control_user =
/// sr->msg_control`). The control data ends at a guard page: empty (at the
/// page's first byte), 1 byte (less than a header: no record), a
/// credentials record without its padding (28 bytes) and with it (32).
/// Safe outcome: each send completes with the payload's length after the
/// receiver drains the queue, never `EFAULT`, and the payload arrives with
/// this process's credentials.
#[test]
fn a_sendmsg_retried_on_a_full_socket_reads_its_control_within_the_borrow() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (tx, rx) = UnixDatagram::pair().unwrap();
    uring_tests::set_int_option(&rx, libc::SOL_SOCKET, libc::SO_PASSCRED, 1).unwrap();
    uring_tests::set_int_option(&tx, libc::SOL_SOCKET, libc::SO_SNDBUF, 4096).unwrap();
    // SAFETY: getuid and getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let pid = std::process::id() as i32;
    let creds = [pid.to_ne_bytes(), uid.to_ne_bytes(), gid.to_ne_bytes()].concat();
    let mut record = ControlMessagesBuf::new();
    record.push(libc::SOL_SOCKET, libc::SCM_CREDENTIALS, &creds);
    let padded = record.as_bytes().to_vec();
    assert_eq!(padded.len(), 32);
    let unpadded = padded[..28].to_vec();
    let mut mem = Guarded::new(4096);
    let payload = b"after the drain";
    for (name, control) in [
        ("empty", Vec::new()),
        ("one byte", vec![0u8]),
        ("28 bytes", unpadded),
        ("32 bytes", padded),
    ] {
        for on_io_wq in [false, true] {
            let what = format!("{name}, io-wq {on_io_wq}");
            let queued = fill_send_buffer(&tx, 512);
            assert!(queued > 0);
            let lent = &*mem.tail_of(&control);
            let iov = [IoSlice::new(payload)];
            let msg = MsgHdr::new(&iov).control(lent).unwrap();
            let (early, results) = ring.scope(|s| {
                s.push(SendMsg::new(&tx, &msg).flags(issue(on_io_wq)).user_data(1))
                    .unwrap();
                let early = pending_after(s, 30);
                let mut buf = [0u8; 512];
                for _ in 0..queued {
                    assert_eq!(rx.recv(&mut buf).unwrap(), 512);
                }
                (early, collect(s, 1))
            });
            assert!(early.is_empty(), "{what}: did not wait: {early:?}");
            assert_eq!(results, [(1, payload.len() as i32)], "{what}");
            let mut buf = [0u8; 64];
            let mut room = [0u8; 64];
            let mut iov = [IoSliceMut::new(&mut buf)];
            let mut hdr = MsgHdrMut::new(&mut iov).control(&mut room);
            let cqe = complete(&mut ring, RecvMsg::new(&rx, &mut hdr));
            assert_eq!(cqe.res(), payload.len() as i32, "{what}: {cqe:?}");
            let pids: Vec<i32> = hdr
                .control_messages()
                .filter_map(|m| m.credentials())
                .map(|c| c.pid)
                .collect();
            assert_eq!(pids, [pid], "{what}");
            assert_eq!(&buf[..payload.len()], payload, "{what}");
        }
    }
}

// ---------------------------------------------------------------------
// Accept and GetSockName: a `SockAddrBuf` and its length word
// ---------------------------------------------------------------------

/// A Unix stream socket bound to `name` (an abstract name, or none) and
/// connected to `to`.
fn unix_client(name: Option<&[u8]>, to: &std::path::Path) -> OwnedFd {
    let fd = uring_tests::socket(libc::AF_UNIX, libc::SOCK_STREAM).unwrap();
    if let Some(name) = name {
        let addr = SockAddr::from(&UnixAddr::from_abstract_name(name).unwrap());
        // SAFETY: set-up: the address is `len()` valid bytes of `addr`,
        // which outlives the call; the descriptor is open.
        let rc = unsafe { libc::bind(fd.as_raw_fd(), addr.as_ptr().cast(), addr.len()) };
        assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
    }
    let to = SockAddr::unix(to).unwrap();
    // SAFETY: set-up: as above.
    let rc = unsafe { libc::connect(fd.as_raw_fd(), to.as_ptr().cast(), to.len()) };
    assert_eq!(rc, 0, "connect: {}", std::io::Error::last_os_error());
    fd
}

/// An abstract name of `n` bytes, unique to this process and `tag`.
fn abstract_name(n: usize, tag: u8) -> Vec<u8> {
    let mut name = format!("oa{tag}-{}-", std::process::id()).into_bytes();
    name.resize(n.max(name.len()), b'x');
    name.truncate(n);
    name
}

/// An `Accept` parked before the peer connects (inline: retried when poll
/// says the listener is readable; with `IOSQE_ASYNC`: blocked in an io-wq
/// worker) writes the peer's address and its length through `addr` and
/// `addr2` into a `SockAddrBuf` that ends at a guard page
/// (`move_addr_to_user`, which reads the length word as the room first):
/// peers bound to abstract names of 107 bytes (an address of 110, the
/// longest) and of 20, unbound Unix peers (2 bytes), and TCP peers over
/// IPv4 and IPv6. Safe outcome: every accept completes with a descriptor
/// and the buffer reads back as exactly the peer's address.
#[test]
fn a_retried_accept_writes_every_peer_address_and_length_inside_its_buffer() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let dir = uring_tests::test_dir!();
    let path = dir.path().join("l");
    let listener = UnixListener::bind(&path).unwrap();
    let mut mem = Guarded::new(4096);
    for (i, name) in [
        Some(abstract_name(107, 1)),
        Some(abstract_name(20, 2)),
        None,
    ]
    .into_iter()
    .enumerate()
    {
        for on_io_wq in [false, true] {
            let what = format!("unix peer {i}, io-wq {on_io_wq}");
            let buf = mem.place_one(SockAddrBuf::new());
            let (early, results, client) = ring.scope(|s| {
                s.push(
                    Accept::new(&listener)
                        .peer(Some(&mut *buf))
                        .flags(issue(on_io_wq))
                        .user_data(1),
                )
                .unwrap();
                let early = pending_after(s, 20);
                let name = name.clone();
                let client = unix_client(name.as_deref(), &path);
                (early, collect(s, 1), (client, name))
            });
            assert!(early.is_empty(), "{what}: completed early: {early:?}");
            let accepted = adopt(results[0].1);
            let peer = buf.unix_addr().expect("a Unix address");
            match &client.1 {
                Some(name) => assert_eq!(peer.as_abstract_name(), Some(&name[..]), "{what}"),
                None => assert!(peer.is_unnamed(), "{what}: {peer:?}"),
            }
            drop((accepted, client));
        }
    }
    for (family, any) in [("IPv4", "127.0.0.1:0"), ("IPv6", "[::1]:0")] {
        let Ok(listener) = TcpListener::bind(any) else {
            skip(format_args!("no {family} loopback"));
            continue;
        };
        for on_io_wq in [false, true] {
            let buf = mem.place_one(SockAddrBuf::new());
            let (early, results, client) = ring.scope(|s| {
                s.push(
                    Accept::new(&listener)
                        .peer(Some(&mut *buf))
                        .flags(issue(on_io_wq))
                        .user_data(1),
                )
                .unwrap();
                let early = pending_after(s, 20);
                let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
                (early, collect(s, 1), client)
            });
            assert!(early.is_empty(), "{family}: completed early: {early:?}");
            let _accepted = adopt(results[0].1);
            assert_eq!(
                buf.socket_addr(),
                Some(client.local_addr().unwrap()),
                "{family}, io-wq {on_io_wq}"
            );
        }
    }
}

/// `GetSockName` (a socket command, 6.19) writes the address through
/// `addr` and its length through `addr3` into a `SockAddrBuf` that ends at
/// a guard page (`do_getsockname` → `move_addr_to_user`), for every family
/// and length, its own name and its peer's, inline and on io-wq: IPv4 and
/// IPv6 sockets, Unix sockets bound to a 107-byte path, to a 107-byte
/// abstract name (110 bytes, the longest Unix address) and unbound (2
/// bytes). Safe outcome: each reads back as `getsockname(2)` /
/// `getpeername(2)` says; an unconnected socket's peer is `ENOTCONN` and
/// writes nothing. A kernel without the command refuses it and writes
/// nothing either.
#[test]
fn getsockname_writes_every_family_s_address_within_its_buffer() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let mut mem = Guarded::new(4096);
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    let buf = mem.place_one(SockAddrBuf::new());
    let cqe = complete(&mut ring, GetSockName::new(&probe, &mut *buf));
    if cqe.res() == -libc::EOPNOTSUPP || cqe.res() == -libc::EINVAL {
        assert_eq!(buf.socket_addr(), None, "a refused command wrote");
        skip("this kernel has no GETSOCKNAME socket command (6.19)");
        return;
    }
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_eq!(buf.socket_addr(), Some(probe.local_addr().unwrap()));

    let dir = uring_tests::test_dir!();
    let mut long = dir.path().as_os_str().as_bytes().to_vec();
    long.push(b'/');
    long.resize(107, b'p');
    let long = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&long));
    let path_listener = UnixListener::bind(&long).unwrap();
    let name = abstract_name(107, 3);
    let abstract_listener =
        UnixListener::bind_addr(&UnixAddr::from_abstract_name(&name).unwrap()).unwrap();
    let path_client = UnixStream::connect(&long).unwrap();
    let abstract_client =
        UnixStream::connect_addr(&UnixAddr::from_abstract_name(&name).unwrap()).unwrap();
    let (unix_a, _unix_b) = UnixStream::pair().unwrap();
    let tcp4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp4_client = TcpStream::connect(tcp4.local_addr().unwrap()).unwrap();
    for on_io_wq in [false, true] {
        let tag = format!("io-wq {on_io_wq}");
        let inet: [(&str, &TcpStream, bool, std::net::SocketAddr); 2] = [
            (
                "tcp4 own",
                &tcp4_client,
                false,
                tcp4_client.local_addr().unwrap(),
            ),
            (
                "tcp4 peer",
                &tcp4_client,
                true,
                tcp4_client.peer_addr().unwrap(),
            ),
        ];
        for (what, sock, peer, want) in inet {
            let buf = mem.place_one(SockAddrBuf::new());
            let cqe = complete(
                &mut ring,
                GetSockName::new(sock, &mut *buf)
                    .peer(peer)
                    .flags(issue(on_io_wq)),
            );
            assert_eq!(cqe.res(), 0, "{what}, {tag}: {cqe:?}");
            assert_eq!(buf.socket_addr(), Some(want), "{what}, {tag}");
        }
        if let Ok(v6) = UdpSocket::bind("[::1]:0") {
            let buf = mem.place_one(SockAddrBuf::new());
            let cqe = complete(
                &mut ring,
                GetSockName::new(&v6, &mut *buf).flags(issue(on_io_wq)),
            );
            assert_eq!(cqe.res(), 0, "udp6, {tag}: {cqe:?}");
            assert_eq!(buf.socket_addr(), Some(v6.local_addr().unwrap()));
            let buf = mem.place_one(SockAddrBuf::new());
            let cqe = complete(
                &mut ring,
                GetSockName::new(&v6, &mut *buf)
                    .peer(true)
                    .flags(issue(on_io_wq)),
            );
            assert_eq!(cqe.res(), -libc::ENOTCONN, "udp6 peer, {tag}: {cqe:?}");
            assert_eq!(buf.socket_addr(), None, "a refused peer wrote");
        }
        let unix: [(&str, &UnixStream, bool, UnixAddr); 5] = [
            (
                "path own",
                &path_client,
                false,
                path_client.local_addr().unwrap(),
            ),
            (
                "path peer",
                &path_client,
                true,
                path_client.peer_addr().unwrap(),
            ),
            (
                "abstract peer",
                &abstract_client,
                true,
                abstract_client.peer_addr().unwrap(),
            ),
            (
                "unbound own",
                &abstract_client,
                false,
                abstract_client.local_addr().unwrap(),
            ),
            ("pair own", &unix_a, false, unix_a.local_addr().unwrap()),
        ];
        for (what, sock, peer, want) in unix {
            let buf = mem.place_one(SockAddrBuf::new());
            let cqe = complete(
                &mut ring,
                GetSockName::new(sock, &mut *buf)
                    .peer(peer)
                    .flags(issue(on_io_wq)),
            );
            assert_eq!(cqe.res(), 0, "{what}, {tag}: {cqe:?}");
            let got = buf.unix_addr().expect("a Unix address");
            assert_eq!(
                (got.as_pathname(), got.as_abstract_name(), got.is_unnamed()),
                (
                    want.as_pathname(),
                    want.as_abstract_name(),
                    want.is_unnamed()
                ),
                "{what}, {tag}"
            );
        }
        let buf = mem.place_one(SockAddrBuf::new());
        let cqe = complete(
            &mut ring,
            GetSockName::new(&abstract_listener, &mut *buf).flags(issue(on_io_wq)),
        );
        assert_eq!(cqe.res(), 0, "abstract own, {tag}: {cqe:?}");
        let got = buf.unix_addr().expect("a Unix address");
        assert_eq!(got.as_abstract_name(), Some(&name[..]), "{tag}");
    }
    drop(path_listener);
}

// ---------------------------------------------------------------------
// Statx: `&mut libc::statx` in `addr2`
// ---------------------------------------------------------------------

fn fill_statx(stx: &mut libc::statx) {
    // SAFETY: set-up: any bytes are a valid `statx` (plain integers).
    unsafe {
        std::ptr::write_bytes(
            (stx as *mut libc::statx).cast::<u8>(),
            CANARY,
            std::mem::size_of::<libc::statx>(),
        )
    }
}

/// `statx(2)` of the same arguments (the oracle): 0 or `-errno`, and the
/// status.
fn sys_statx(dirfd: RawFd, path: &CStr, flags: i32, mask: u32) -> (i32, libc::statx) {
    // SAFETY: all-zero bytes are a valid `statx`.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: inspection: the path is NUL-terminated and `stx` is a
    // writable `statx` that outlives the call.
    let rc = unsafe { libc::statx(dirfd, path.as_ptr(), flags, mask, &mut stx) };
    let res = if rc == 0 {
        0
    } else {
        -std::io::Error::last_os_error().raw_os_error().unwrap()
    };
    (res, stx)
}

/// The fields that do not change between two calls on a file nobody
/// touches.
fn stable_fields(s: &libc::statx) -> (u32, u16, u64, u64, u32, u32, u32) {
    (
        s.stx_mask,
        s.stx_mode,
        s.stx_ino,
        s.stx_size,
        s.stx_nlink,
        s.stx_dev_major,
        s.stx_dev_minor,
    )
}

/// `Statx` writes a whole `struct statx` through `addr2` into a
/// `libc::statx` that ends at a guard page, whatever the mask and flags,
/// from the io-wq worker the op always runs in (`REQ_F_FORCE_ASYNC`):
/// every single mask bit, no bit, every bit but the reserved one, on a
/// file named by descriptor (`AT_EMPTY_PATH`); every `AT_*` flag and
/// combinations the kernel refuses (both sync modes, unknown bits), on a
/// symbolic link, a directory, `/proc/version` and `/dev/null`. Safe
/// outcome: each result is `statx(2)`'s for the same arguments, a status
/// the same as its, and a refused call writes no byte.
#[test]
fn statx_of_every_mask_bit_and_flag_writes_one_struct_at_a_guard_page() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let dir = uring_tests::test_dir!();
    let file_path = dir.path().join("f");
    std::fs::write(&file_path, b"some bytes").unwrap();
    let file = std::fs::File::open(&file_path).unwrap();
    let link_path = dir.path().join("l");
    std::os::unix::fs::symlink(&file_path, &link_path).unwrap();
    let mut mem = Guarded::new(4096);
    // SAFETY: all-zero bytes are a valid `statx` (plain integers).
    let stx = mem.place_one(unsafe { std::mem::zeroed::<libc::statx>() });

    let masks: Vec<u32> = (0..32)
        .map(|b| 1u32 << b)
        .chain([0, !(libc::STATX__RESERVED as u32), libc::STATX_BASIC_STATS])
        .collect();
    for (i, &mask) in masks.iter().enumerate() {
        fill_statx(stx);
        let cqe = complete(
            &mut ring,
            Statx::new(&file, c"", &mut *stx)
                .statx_flags(libc::AT_EMPTY_PATH)
                .mask(mask)
                .flags(issue(i % 2 == 1)),
        );
        let (want, sys) = sys_statx(file.as_raw_fd(), c"", libc::AT_EMPTY_PATH, mask);
        assert_eq!(cqe.res(), want, "mask {mask:#x}: {cqe:?}");
        check_statx(stx, want, &sys, &format!("mask {mask:#x}"));
    }

    let link = uring_tests::cpath(&link_path);
    let dir_c = uring_tests::cpath(dir.path());
    let paths: [&CStr; 4] = [&link, &dir_c, c"/proc/version", c"/dev/null"];
    let flag_sets = [
        0,
        libc::AT_SYMLINK_NOFOLLOW,
        libc::AT_NO_AUTOMOUNT,
        libc::AT_STATX_FORCE_SYNC,
        libc::AT_STATX_DONT_SYNC,
        libc::AT_STATX_FORCE_SYNC | libc::AT_STATX_DONT_SYNC,
        libc::AT_EMPTY_PATH,
        0x7fff_0000,
        -1,
    ];
    for (p, &path) in paths.iter().enumerate() {
        for (f, &flags) in flag_sets.iter().enumerate() {
            let mask = libc::STATX_BASIC_STATS | libc::STATX_BTIME;
            fill_statx(stx);
            let cqe = complete(
                &mut ring,
                Statx::new(uring::Fd::CWD, path, &mut *stx)
                    .statx_flags(flags)
                    .mask(mask)
                    .flags(issue((p + f) % 2 == 0)),
            );
            let (want, sys) = sys_statx(libc::AT_FDCWD, path, flags, mask);
            let what = format!("{path:?}, flags {flags:#x}");
            assert_eq!(cqe.res(), want, "{what}: {cqe:?}");
            check_statx(stx, want, &sys, &what);
        }
    }
}

fn check_statx(stx: &libc::statx, res: i32, sys: &libc::statx, what: &str) {
    if res == 0 {
        assert_eq!(stable_fields(stx), stable_fields(sys), "{what}");
    } else {
        // SAFETY: inspection: the `statx` is 256 initialised bytes.
        let bytes = unsafe {
            std::slice::from_raw_parts(
                (stx as *const libc::statx).cast::<u8>(),
                std::mem::size_of::<libc::statx>(),
            )
        };
        assert!(
            bytes.iter().all(|&b| b == CANARY),
            "{what}: a refused call wrote"
        );
    }
}

// ---------------------------------------------------------------------
// Futexes: `&AtomicU32` and `FutexFlags` in `fd`, `&[FutexWaitV]`
// ---------------------------------------------------------------------

/// Every flag bit safe code can hand the futex ops leaves the word size at
/// 32 bits: `FutexFlags::from_bits_truncate` of each single bit, of none
/// and of every bit (which would otherwise name `FUTEX2_SIZE_U64`, reading
/// eight bytes, or `FUTEX2_NUMA`, reading a node id after the word), given
/// to `FutexWait`, `FutexWake` and a one-entry `FutexWaitv`, over a word
/// that is the last four bytes before a guard page and not 8-aligned (an
/// 8-byte futex there is `EINVAL`, an 8-byte read `EFAULT`), with the
/// vector also ending at a guard page, inline and on io-wq. Safe outcome:
/// a value the word does not hold is `EAGAIN`, one it holds waits until the
/// wake with the same flags, which wakes exactly that waiter.
#[test]
fn futex_flags_of_every_bit_wait_on_four_bytes() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FutexWaitv<'static>>(&ring) {
        return;
    }
    let mut word_mem = Guarded::new(64);
    let word = &*word_mem.place_one(AtomicU32::new(5));
    assert_ne!(word as *const AtomicU32 as usize % 8, 0);
    let mut vec_mem = Guarded::new(64);
    let bit_sets = (0..32).map(|b| 1u32 << b).chain([0, u32::MAX]);
    for (i, bits) in bit_sets.enumerate() {
        let flags = FutexFlags::from_bits_truncate(bits);
        assert!(
            flags == FutexFlags::empty() || flags == FutexFlags::PRIVATE,
            "{bits:#x} named {flags:?}"
        );
        let what = format!("bits {bits:#x}");
        let async_flag = issue(i % 2 == 1);
        let cqe = complete(
            &mut ring,
            FutexWait::new(word, 6).futex_flags(flags).flags(async_flag),
        );
        assert_eq!(cqe.res(), -libc::EAGAIN, "{what}: {cqe:?}");
        let results = ring.scope(|s| {
            s.push(FutexWait::new(word, 5).futex_flags(flags).user_data(1))
                .unwrap();
            let early = pending_after(s, 5);
            assert!(early.is_empty(), "{what}: {early:?}");
            s.push(FutexWake::new(word, 1).futex_flags(flags).user_data(2))
                .unwrap();
            collect(s, 2)
        });
        assert_eq!(results, [(1, 0), (2, 1)], "{what}");

        let waits = &*vec_mem.place(vec![FutexWaitV::new(word, 6, flags)]);
        let cqe = complete(&mut ring, FutexWaitv::new(waits).flags(async_flag));
        assert_eq!(cqe.res(), -libc::EAGAIN, "{what}, vector: {cqe:?}");
        let waits = &*vec_mem.place(vec![FutexWaitV::new(word, 5, flags)]);
        let results = ring.scope(|s| {
            s.push(FutexWaitv::new(waits).user_data(1)).unwrap();
            let early = pending_after(s, 5);
            assert!(early.is_empty(), "{what}, vector: {early:?}");
            s.push(FutexWake::new(word, 1).futex_flags(flags).user_data(2))
                .unwrap();
            collect(s, 2)
        });
        assert_eq!(results, [(1, 0), (2, 1)], "{what}, vector");
        assert_eq!(word.load(Ordering::Relaxed), 5);
    }
}

// ---------------------------------------------------------------------
// Extended attributes: `&mut [u8]` in `addr2 + len`, names in `addr`
// ---------------------------------------------------------------------

fn sys_fgetxattr(file: &impl AsRawFd, name: &CStr, len: usize) -> (i32, Vec<u8>) {
    let mut value = vec![0u8; len];
    // SAFETY: inspection: the name is NUL-terminated and `value` has
    // `len` writable bytes.
    let rc = unsafe {
        libc::fgetxattr(
            file.as_raw_fd(),
            name.as_ptr(),
            value.as_mut_ptr().cast(),
            len,
        )
    };
    if rc < 0 {
        (
            -std::io::Error::last_os_error().raw_os_error().unwrap(),
            value,
        )
    } else {
        value.truncate(rc as usize);
        (rc as i32, value)
    }
}

/// `FGetXattr` and `GetXattr` (always run by an io-wq worker) write the
/// attribute through `addr2` into a value slice that ends at a guard page,
/// `len` its length in bytes (`ctx.size`; the kernel clamps it to
/// `XATTR_SIZE_MAX` before it allocates): attributes of 0, 1, 255 and 2000
/// bytes read into values of 0 (the size is returned, nothing written),
/// one byte short (`ERANGE`), exact, one over, 64 KiB and 64 KiB + 1; names
/// of 255 bytes (`XATTR_NAME_MAX`) and of 256 (`ERANGE`), empty, and
/// outside the `user.` namespace, each ending at a guard page. Safe
/// outcome: each result is `fgetxattr(2)`'s, the value's bytes are the
/// attribute's, and every byte after them keeps its canary.
#[test]
fn xattr_gets_fill_values_of_every_length_around_the_attribute() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FGetXattr<'static>>(&ring) {
        return;
    }
    let dir = uring_tests::test_dir!();
    let path = dir.path().join("x");
    let file = std::fs::File::create(&path).unwrap();
    let cpath = uring_tests::cpath(&path);
    let set = |name: &CStr, value: &[u8]| {
        // SAFETY: set-up: the name is NUL-terminated and `value` is
        // readable for its length.
        unsafe {
            libc::fsetxattr(
                file.as_raw_fd(),
                name.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        }
    };
    if set(c"user.probe", b"p") != 0 {
        skip(format_args!(
            "{} takes no user attributes: {}",
            dir.path().display(),
            std::io::Error::last_os_error()
        ));
        return;
    }
    let mut name_mem = Guarded::new(4096);
    let mut path_mem = Guarded::new(4096);
    let mut value_mem = Guarded::new((1 << 16) + 1);
    for (k, size) in [0usize, 1, 255, 2000].into_iter().enumerate() {
        let data = uring_tests::pattern(size, k as u8);
        let name_bytes = format!("user.s{size}");
        let name_c = std::ffi::CString::new(name_bytes.clone()).unwrap();
        assert_eq!(set(&name_c, &data), 0);
        let lens = [
            0,
            size.saturating_sub(1),
            size,
            size + 1,
            1 << 16,
            (1 << 16) + 1,
        ];
        for (j, len) in lens.into_iter().enumerate() {
            let by_path = j % 2 == 1;
            let what = format!("attribute of {size}, value of {len}, by path {by_path}");
            let name = name_mem.cstr(name_bytes.as_bytes());
            let value = value_mem.tail(len);
            value.fill(CANARY);
            let cqe = if by_path {
                let p = path_mem.cstr(cpath.as_bytes());
                complete(&mut ring, GetXattr::new(p, name, &mut *value))
            } else {
                complete(
                    &mut ring,
                    FGetXattr::new(&file, name, &mut *value).flags(SqeFlags::ASYNC),
                )
            };
            let (want, sys) = sys_fgetxattr(&file, &name_c, len);
            assert_eq!(cqe.res(), want, "{what}: {cqe:?}");
            let written = if len == 0 || want < 0 {
                0
            } else {
                want as usize
            };
            assert_eq!(&value[..written], &sys[..written], "{what}");
            assert!(
                value[written..].iter().all(|&b| b == CANARY),
                "{what}: written past the attribute"
            );
        }
    }
    let mut long = b"user.".to_vec();
    long.resize(256, b'n');
    for name_bytes in [
        &long[..255],
        &long[..256],
        &b""[..],
        &b"trusted.x"[..],
        &b"nospace"[..],
    ] {
        let name_c = std::ffi::CString::new(name_bytes).unwrap();
        let name = name_mem.cstr(name_bytes);
        let value = value_mem.tail(16);
        value.fill(CANARY);
        let cqe = complete(&mut ring, FGetXattr::new(&file, name, &mut *value));
        let (want, _) = sys_fgetxattr(&file, &name_c, 16);
        assert_eq!(
            cqe.res(),
            want,
            "a name of {} bytes: {cqe:?}",
            name_bytes.len()
        );
        assert!(want < 0, "{want}");
        assert!(value.iter().all(|&b| b == CANARY));
    }
}

// ---------------------------------------------------------------------
// Pipe and EpollWait: outputs written by io-wq and at a retry
// ---------------------------------------------------------------------

/// `Pipe` writes its two ends through `addr` into eight bytes that end at a
/// guard page from an io-wq worker (`IOSQE_ASYNC`), and `EpollWait`,
/// parked before its file is ready (inline: retried when the epoll file
/// polls readable; on io-wq: the worker's retry), writes one event through
/// `addr` into a one-entry array that ends at a guard page, `len` its
/// count of entries (`maxevents`). Safe outcome: the pipe's ends are two
/// open descriptors that make a pipe; the wait completes with 1 and the
/// event's data, after the file became ready and not before.
#[test]
fn pipe_and_epoll_outputs_written_late_land_in_their_borrows() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if require_op::<Pipe<'static>>(&ring) {
        let mut mem = Guarded::new(64);
        for pipe_flags in [libc::O_CLOEXEC, libc::O_CLOEXEC | libc::O_NONBLOCK] {
            let fds = mem.place_one([CANARY; 8]);
            let cqe = complete(
                &mut ring,
                Pipe::new(&mut *fds)
                    .pipe_flags(pipe_flags)
                    .flags(SqeFlags::ASYNC),
            );
            assert_eq!(cqe.res(), 0, "{cqe:?}");
            let rx = adopt(word_at(&fds[..], 0));
            let tx = adopt(word_at(&fds[..], 4));
            let mut w = std::fs::File::from(tx);
            std::io::Write::write_all(&mut w, b"ok").unwrap();
            let mut got = [0u8; 2];
            std::io::Read::read_exact(&mut std::fs::File::from(rx), &mut got).unwrap();
            assert_eq!(&got, b"ok");
        }
    }
    if !require_op::<EpollWait<'static>>(&ring) {
        return;
    }
    let mut mem = Guarded::new(64);
    for on_io_wq in [false, true] {
        let (rx, tx) = uring_tests::pipe();
        let data = 0x1234_5678_9abc_def0 + u64::from(on_io_wq);
        let epoll = uring_tests::epoll_watching(rx.as_fd(), data);
        let events = mem.place(vec![libc::epoll_event {
            events: 0xdead,
            u64: 0xC5C5_C5C5_C5C5_C5C5,
        }]);
        let (early, results) = ring.scope(|s| {
            s.push(
                EpollWait::new(&epoll, &mut *events)
                    .flags(issue(on_io_wq))
                    .user_data(1),
            )
            .unwrap();
            let early = pending_after(s, 20);
            std::io::Write::write_all(&mut std::fs::File::from(tx), b"x").unwrap();
            (early, collect(s, 1))
        });
        assert!(early.is_empty(), "io-wq {on_io_wq}: {early:?}");
        assert_eq!(results, [(1, 1)], "io-wq {on_io_wq}");
        let (ev, got) = (events[0].events, events[0].u64);
        assert_eq!(ev & libc::EPOLLIN as u32, libc::EPOLLIN as u32);
        assert_eq!(got, data);
    }
}

// ---------------------------------------------------------------------
// SockAddr's constructors at every length
// ---------------------------------------------------------------------

/// `SockAddr`'s constructors, given every length, answer with a value or
/// an error and never panic, and the value's length is the bytes the
/// kernel will read (`Connect`'s and `Bind`'s `addr_len`, `SendMsg`'s
/// `msg_namelen`, a send's `addr_len`), within `sockaddr_storage`:
/// `SockAddr::unix` of paths of 0 to 200 bytes (1 to 107 fit with their
/// NUL: `2 + n + 1`), with a NUL at each place (refused); `From<&UnixAddr>`
/// of abstract names of 0 to 107 bytes (`2 + 1 + n`, no NUL after), of a
/// path the kernel reported filling `sun_path` (110, no NUL) and of the
/// unnamed address (2); IP addresses at their extremes (16 and 28). Each
/// reads back as what it was built from. A `SockAddrBuf` given any length
/// reads back as no address rather than bytes past its storage.
#[test]
fn socket_address_constructors_at_every_length_are_values_or_errors() {
    let _watch = uring_tests::watchdog();
    let storage = std::mem::size_of::<libc::sockaddr_storage>() as u32;
    for n in 0..=200usize {
        let path = vec![b'a'; n];
        let path = std::path::Path::new(std::ffi::OsStr::from_bytes(&path));
        match SockAddr::unix(path) {
            Ok(addr) => {
                assert!((1..=107).contains(&n), "{n}");
                assert_eq!(addr.len() as usize, 2 + n + 1);
                assert!(addr.len() <= storage);
                let back = addr.as_unix_addr().unwrap();
                assert_eq!(back.as_pathname(), Some(path));
            }
            Err(e) => {
                assert!(n == 0 || n > 107, "{n}: {e}");
                assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
            }
        }
    }
    for at in 0..8 {
        let mut path = b"abcdefgh".to_vec();
        path[at] = 0;
        let path = std::path::Path::new(std::ffi::OsStr::from_bytes(&path));
        assert!(SockAddr::unix(path).is_err(), "a NUL at {at}");
    }
    for n in 0..=107usize {
        let name = vec![b'z'; n];
        let std_addr = UnixAddr::from_abstract_name(&name).unwrap();
        let addr = SockAddr::from(&std_addr);
        assert_eq!(addr.len() as usize, 2 + 1 + n, "{n}");
        let back = addr.as_unix_addr().unwrap();
        assert_eq!(back.as_abstract_name(), Some(&name[..]), "{n}");
    }
    assert!(UnixAddr::from_abstract_name([b'z'; 108]).is_err());
    let unnamed = UnixDatagram::unbound().unwrap().local_addr().unwrap();
    let addr = SockAddr::from(&unnamed);
    assert_eq!(addr.len(), 2);
    assert!(addr.as_unix_addr().unwrap().is_unnamed());

    // A path that fills `sun_path`, as the kernel reports it.
    let dir = uring_tests::test_dir!();
    let mut full = dir.path().as_os_str().as_bytes().to_vec();
    full.push(b'/');
    full.resize(108, b'q');
    let fd = uring_tests::socket(libc::AF_UNIX, libc::SOCK_DGRAM).unwrap();
    // SAFETY: all-zero bytes are a valid `sockaddr_un`.
    let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (dst, &src) in sun.sun_path.iter_mut().zip(&full) {
        *dst = src as libc::c_char;
    }
    // SAFETY: set-up: 110 valid bytes of `sun`, which outlives the call;
    // the descriptor is open.
    let rc = unsafe { libc::bind(fd.as_raw_fd(), (&raw const sun).cast(), 110) };
    assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
    let reported = UnixDatagram::from(fd).local_addr().unwrap();
    assert_eq!(reported.as_pathname().unwrap().as_os_str().len(), 108);
    let addr = SockAddr::from(&reported);
    assert_eq!(addr.len(), 110, "the whole of sun_path, no NUL after it");
    // std spells no such path: a value, whatever it holds.
    let _ = addr.as_unix_addr();

    for ip in [
        "0.0.0.0:0",
        "255.255.255.255:65535",
        "[::]:0",
        "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
    ] {
        let sock: std::net::SocketAddr = ip.parse().unwrap();
        let addr = SockAddr::from(sock);
        let want = if sock.is_ipv4() { 16 } else { 28 };
        assert_eq!(addr.len(), want, "{ip}");
        assert_eq!(addr.as_socket_addr(), Some(sock));
    }
    let v6 = std::net::SocketAddrV6::new(std::net::Ipv6Addr::LOCALHOST, 1, u32::MAX, u32::MAX);
    let addr = SockAddr::from(std::net::SocketAddr::V6(v6));
    assert_eq!(addr.as_socket_addr(), Some(std::net::SocketAddr::V6(v6)));

    for len in [0, 1, 2, 3, 16, 28, 110, 127, 128, 129, 4096, u32::MAX] {
        let mut buf = SockAddrBuf::new();
        buf.set_len(len);
        assert_eq!(buf.socket_addr(), None, "{len}");
        let unix = buf.unix_addr();
        assert_eq!(unix.is_some(), len == 0, "{len}: {unix:?}");
    }
}
