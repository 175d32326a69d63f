//! Descriptor passing and ancillary data, read against the kernel's own
//! code and attacked where the library's model of it could part from it:
//!
//! - `RecvWithFds` (and `UnixStream::recv_with_fds`) wraps in an `OwnedFd`
//!   every number of the `SCM_RIGHTS` and `SCM_PIDFD` records the kernel
//!   wrote. `scm_pidfd_recv` (net/core/scm.c) writes whatever
//!   `pidfd_prepare` returned, an errno as well as a descriptor;
//! - `SO_PASSRIGHTS` (6.16): a receiver that refuses descriptors makes the
//!   sender's `unix_stream_sendmsg` / `unix_dgram_sendmsg` fail with
//!   `EPERM`;
//! - receives and sends without bytes: `unix_stream_read_generic` runs its
//!   loop once even for a read of 0 bytes and detaches the descriptors of
//!   the message it meets, `unix_stream_sendmsg` of 0 bytes queues nothing,
//!   a datagram of 0 bytes carries its descriptors;
//! - a datagram cut short (`unix_dgram_recvmsg`: `MSG_TRUNC`) keeps every
//!   descriptor;
//! - multishot `recvmsg` (`io_recvmsg_multishot`, io_uring/net.c): the
//!   `io_uring_recvmsg_out` header's `controllen` is what `put_cmsg` and
//!   `scm_detach_fds` wrote this time, never what a recycled buffer held;
//!   a stream's messages with descriptors are never glued together; a
//!   buffer with no room for a payload still takes the descriptors and
//!   ends the receive; a sender's address cut by its room leaves the
//!   control data where the layout says; `MSG_CMSG_CLOEXEC` of the op
//!   decides close-on-exec;
//! - bytes shaped like a `cmsghdr` in a payload are payload;
//! - receives that lend the kernel no control room (`scm_recv` with no
//!   `msg_control`): the descriptors are closed by the kernel.
//!
//! Passed descriptors are pipe ends, counted by their pipe's inode in
//! `/proc/self/fd` (never by counting every descriptor of the process:
//! other tests of this file run in parallel threads); tests that fill the
//! descriptor table run in a process of their own.

use std::io::{IoSliceMut, Read as _, Write as _};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::net::{UnixDatagram as StdDatagram, UnixStream as StdStream};
use std::time::Duration;

use uring::net::{UnixDatagram, UnixStream};
use uring::ops::{RecvMsg, RecvMsgMulti};
use uring::reactor::ops::{RecvWithFds, SendWithFds};
use uring::reactor::{Reactor, SharedFd};
use uring::{
    ControlMessages, ControlMessagesBuf, MsgFlags, MsgHdrMut, MsgLayout, RecvMsgOut, Ring,
};
use uring_tests::{fd_is_open, plain_buf_ring, require_op, set_int_option, skip, watchdog};

/// `SO_PASSPIDFD` (Linux 6.5).
const SO_PASSPIDFD: i32 = 76;
/// `SCM_PIDFD` (Linux 6.5).
const SCM_PIDFD: i32 = 4;
/// `SO_PASSRIGHTS` (Linux 6.16).
const SO_PASSRIGHTS: i32 = 83;
/// The size of `struct io_uring_recvmsg_out`.
const OUT_HEADER: usize = 16;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The inode of the file `fd` names (`fstat`'s `st_ino`).
fn inode(fd: BorrowedFd<'_>) -> u64 {
    std::fs::File::from(fd.try_clone_to_owned().unwrap())
        .metadata()
        .unwrap()
        .ino()
}

/// How many descriptors of this process name the pipe or socket of inode
/// `ino` (`/proc/self/fd` links of the form `pipe:[ino]`).
fn refs(ino: u64) -> usize {
    let tail = format!(":[{ino}]");
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|link| link.to_string_lossy().ends_with(&tail))
        .count()
}

/// A pipe the test keeps both ends of, and its inode.
struct Passed {
    rx: OwnedFd,
    tx: OwnedFd,
    ino: u64,
}

impl Passed {
    fn new() -> Passed {
        let (rx, tx) = uring_tests::pipe();
        let ino = inode(rx.as_fd());
        Passed { rx, tx, ino }
    }

    /// A new descriptor of the write end, to be passed.
    fn dup(&self) -> OwnedFd {
        self.tx.try_clone().unwrap()
    }

    /// The pipe's descriptors in the table besides the test's two.
    fn copies(&self) -> usize {
        refs(self.ino) - 2
    }

    /// Whether the pipe has no writer left once the test's own write end
    /// is dropped: no copy of it is open anywhere (in this process, in a
    /// socket's queue, in the kernel's hands).
    fn no_writer_left(self) -> bool {
        drop(self.tx);
        let mut rx = std::fs::File::from(self.rx);
        let mut byte = [0u8; 1];
        // No writer: a read of an empty pipe returns 0 at once; a writer
        // left somewhere would make it block, which the watchdog reports.
        matches!(rx.read(&mut byte), Ok(0))
    }
}

fn passed(n: usize) -> Vec<Passed> {
    (0..n).map(|_| Passed::new()).collect()
}

/// Takes ownership of descriptors the kernel installed in this process for
/// a receive of the test and wrote into control data only the test reads.
fn adopt(raw: impl IntoIterator<Item = RawFd>) -> Vec<OwnedFd> {
    raw.into_iter()
        .map(|fd| {
            assert!(fd >= 0 && fd_is_open(fd), "{fd} is not an open descriptor");
            // SAFETY: the kernel installed `fd` for this process in a
            // receive of this test and wrote its number into control data
            // the test alone reads, once; nothing else owns it.
            unsafe { OwnedFd::from_raw_fd(fd) }
        })
        .collect()
}

/// The inodes of `fds`.
fn inodes(fds: &[OwnedFd]) -> Vec<u64> {
    fds.iter().map(|f| inode(f.as_fd())).collect()
}

/// Whether each of `fds` is close-on-exec.
fn cloexec(fds: &[OwnedFd]) -> Vec<bool> {
    fds.iter()
        .map(|f| {
            // SAFETY: F_GETFD reads the flags of a descriptor the test owns.
            let flags = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETFD) };
            assert!(flags >= 0);
            flags & libc::FD_CLOEXEC != 0
        })
        .collect()
}

/// A std socket pair of `kind`, blocking.
fn std_pair(kind: libc::c_int) -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: socketpair(2) writes two descriptors into `fds`, alive for
    // the call; the result is checked.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            kind | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    assert_eq!(rc, 0, "socketpair: {}", std::io::Error::last_os_error());
    // SAFETY: two new descriptors that nothing else owns.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Sends `bytes` with descriptors of `files` on `fd` through the reactor's
/// `SendWithFds`; the byte count.
fn send_fds(reactor: &Reactor, fd: &SharedFd, bytes: &[u8], files: &[&Passed]) -> usize {
    let fds: Vec<OwnedFd> = files.iter().map(|p| p.dup()).collect();
    let (r, (_, back)) = reactor
        .run_until(reactor.op(SendWithFds::new(fd, bytes.to_vec(), fds)))
        .unwrap();
    assert_eq!(back.len(), files.len());
    r.unwrap() as usize
}

/// Lowers this process's descriptor limit to a few above the lowest free
/// descriptor and fills the table up to it; the fillers (drop some to free
/// slots). Only for a process of its own.
fn fill_the_table(with: BorrowedFd<'_>) -> Vec<OwnedFd> {
    let probe = with.try_clone_to_owned().unwrap();
    let limit = probe.as_raw_fd() as u64 + 8;
    drop(probe);
    let rlim = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: setrlimit(2) reads the struct, alive for the call; the
    // process is this test's alone.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rlim) }, 0);
    let mut fillers = Vec::new();
    loop {
        match with.try_clone_to_owned() {
            Ok(fd) => fillers.push(fd),
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::EMFILE));
                return fillers;
            }
        }
    }
}

/// Runs the checks of test `name` in a process of its own; true in that
/// process (run the checks), false in the test's own (they ran and passed).
fn own_process(name: &str) -> bool {
    if uring_tests::in_child(name) {
        return true;
    }
    let text = uring_tests::run_in_child(name);
    eprint!("{text}");
    false
}

// ---------------------------------------------------------------------------
// SCM_PIDFD: what the kernel writes when it cannot make a pidfd
// ---------------------------------------------------------------------------

/// `(level, type, data)` of each ancillary record of a receive.
type Records = Vec<(i32, i32, Vec<u8>)>;

/// `scm_pidfd_recv` (net/core/scm.c, Linux 6.5 to 6.18) puts the result of
/// `pidfd_prepare` into the `SCM_PIDFD` record as it is: with the
/// descriptor table full, `get_unused_fd_flags` fails and the record holds
/// `-EMFILE`, not a descriptor. A one-shot `RecvMsg` shows the record as
/// the kernel wrote it; the walk (`ControlMessages`) reads it without
/// panicking and does not offer it as `SCM_RIGHTS` descriptors. With a
/// slot free, the record holds a real pidfd.
#[test]
fn a_full_table_makes_the_kernel_write_an_errno_as_the_pidfd() {
    let _watch = watchdog();
    let name = "a_full_table_makes_the_kernel_write_an_errno_as_the_pidfd";
    if !own_process(name) {
        return;
    }
    let mut ring = Ring::new(4).unwrap();
    let (mut tx, rx) = StdStream::pair().unwrap();
    if let Err(e) = set_int_option(rx.as_fd(), libc::SOL_SOCKET, SO_PASSPIDFD, 1) {
        return skip(format_args!("no SO_PASSPIDFD (6.5): {e}"));
    }
    let mut fillers = fill_the_table(rx.as_fd());
    let receive = |ring: &mut Ring| -> (i32, Records) {
        let mut data = [0u8; 8];
        let mut control = [0u8; 64];
        let mut iov = [IoSliceMut::new(&mut data)];
        let mut msg = MsgHdrMut::new(&mut iov).control(&mut control);
        let cqe = uring_tests::complete(ring, RecvMsg::new(&rx, &mut msg));
        let records = msg
            .control_messages()
            .map(|m| {
                assert!(
                    m.fds().is_none(),
                    "an SCM_PIDFD record offered as SCM_RIGHTS"
                );
                (m.level(), m.kind(), m.data().to_vec())
            })
            .collect();
        (cqe.res(), records)
    };
    tx.write_all(b"p").unwrap();
    let (res, records) = receive(&mut ring);
    assert_eq!(res, 1);
    let emfile = (-libc::EMFILE).to_ne_bytes().to_vec();
    assert_eq!(
        records,
        [(libc::SOL_SOCKET, SCM_PIDFD, emfile)],
        "the record holds -EMFILE, a number that names no descriptor"
    );
    // One slot free: the record holds a pidfd, installed for this receive.
    drop(fillers.pop());
    tx.write_all(b"q").unwrap();
    let (res, records) = receive(&mut ring);
    assert_eq!(res, 1);
    assert_eq!(records.len(), 1);
    let (level, kind, data) = &records[0];
    assert_eq!(
        (*level, *kind, data.len()),
        (libc::SOL_SOCKET, SCM_PIDFD, 4)
    );
    let pidfd = RawFd::from_ne_bytes(data[..4].try_into().unwrap());
    let link = std::fs::read_link(format!("/proc/self/fd/{pidfd}")).unwrap();
    assert_eq!(link.to_string_lossy(), "anon_inode:[pidfd]");
    drop(adopt([pidfd]));
}

/// `RecvWithFds` (`received_fds` in uring/src/reactor/ops.rs) closes the
/// pidfd of every `SCM_PIDFD` record; `scm_pidfd_recv` writes
/// `pidfd_prepare`'s errno there when it cannot make a pidfd (`-EMFILE`
/// with a full descriptor table, as
/// [`a_full_table_makes_the_kernel_write_an_errno_as_the_pidfd`] shows),
/// which is no descriptor: made an `OwnedFd` and dropped, it would break
/// I/O safety (std's debug checks abort the process: "IO Safety
/// violation: owned file descriptor already closed"). So `recv_with_fds`
/// on a socket with `SO_PASSPIDFD` set, into a full table, must complete a
/// receive of a message without descriptors with its byte, no
/// descriptor, and every descriptor of the process still open.
#[test]
fn a_pidfd_the_kernel_could_not_make_is_never_owned() {
    let _watch = watchdog();
    let name = "a_pidfd_the_kernel_could_not_make_is_never_owned";
    if !own_process(name) {
        return;
    }
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (a, b) = UnixStream::pair(&h).unwrap();
    if let Err(e) = set_int_option(b.as_fd(), libc::SOL_SOCKET, SO_PASSPIDFD, 1) {
        return skip(format_args!("no SO_PASSPIDFD (6.5): {e}"));
    }
    let fillers = fill_the_table(b.as_fd());
    let (r, _) = reactor.run_until(a.write(b"p".to_vec())).unwrap();
    assert_eq!(r.unwrap(), 1);
    let (r, buf, fds) = reactor.run_until(b.recv_with_fds(vec![0u8; 4], 4)).unwrap();
    assert_eq!(r.unwrap(), 1);
    assert_eq!(&buf[..1], b"p");
    assert!(fds.is_empty(), "{fds:?}");
    assert!(fillers.iter().all(|f| fd_is_open(f.as_raw_fd())));
    assert!(fd_is_open(a.as_fd().as_raw_fd()) && fd_is_open(b.as_fd().as_raw_fd()));
}

// ---------------------------------------------------------------------------
// Sends the receiver refuses, and sends and receives of no bytes
// ---------------------------------------------------------------------------

/// `SO_PASSRIGHTS` switched off on the receiver (6.16): `unix_stream_sendmsg`
/// and `unix_dgram_sendmsg` fail a message carrying descriptors with
/// `EPERM` (`!other->sk_scm_rights`) before queueing it. `send_with_fds`
/// and `SendWithFds` give back every descriptor, the same numbers naming
/// the same pipes, and no copy is left in flight; nothing reaches the
/// receiver, whose next receive gets the next message alone. Switched on
/// again, descriptors pass.
#[test]
fn descriptors_a_receiver_refuses_come_back_open() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (a, b) = UnixStream::pair(&h).unwrap();
    if let Err(e) = set_int_option(b.as_fd(), libc::SOL_SOCKET, SO_PASSRIGHTS, 0) {
        return skip(format_args!("no SO_PASSRIGHTS (6.16): {e}"));
    }
    let ps = passed(3);
    let sent: Vec<OwnedFd> = ps.iter().map(Passed::dup).collect();
    let numbers: Vec<RawFd> = sent.iter().map(|f| f.as_raw_fd()).collect();
    let (r, buf, back) = reactor
        .run_until(a.send_with_fds(b"refused".to_vec(), sent))
        .unwrap();
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EPERM));
    assert_eq!(buf, b"refused");
    assert_eq!(
        back.iter().map(|f| f.as_raw_fd()).collect::<Vec<_>>(),
        numbers
    );
    assert_eq!(inodes(&back), ps.iter().map(|p| p.ino).collect::<Vec<_>>());
    drop(back);
    assert!(ps.iter().all(|p| p.copies() == 0), "a copy left in flight");
    let (r, _) = reactor.run_until(a.write(b"next".to_vec())).unwrap();
    assert_eq!(r.unwrap(), 4);
    let (r, buf, got) = reactor
        .run_until(b.recv_with_fds(vec![0u8; 16], 8))
        .unwrap();
    assert_eq!(&buf[..r.unwrap()], b"next", "the refused bytes arrived");
    assert!(got.is_empty());

    // A datagram socket and a sequenced-packet socket refuse the same way.
    for kind in [libc::SOCK_DGRAM, libc::SOCK_SEQPACKET] {
        let (x, y) = std_pair(kind);
        set_int_option(y.as_fd(), libc::SOL_SOCKET, SO_PASSRIGHTS, 0).unwrap();
        let (x, y) = (SharedFd::new(x), SharedFd::new(y));
        let fds: Vec<OwnedFd> = ps.iter().map(Passed::dup).collect();
        let (r, (_, back)) = reactor
            .run_until(reactor.op(SendWithFds::new(&x, b"dgram".to_vec(), fds)))
            .unwrap();
        assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EPERM), "{kind}");
        assert_eq!(inodes(&back), ps.iter().map(|p| p.ino).collect::<Vec<_>>());
        drop(back);
        assert!(
            ps.iter().all(|p| p.copies() == 0),
            "{kind}: a copy in flight"
        );
        // Switched on again: they pass.
        set_int_option(y.as_fd(), libc::SOL_SOCKET, SO_PASSRIGHTS, 1).unwrap();
        assert_eq!(send_fds(&reactor, &x, b"ok", &[&ps[0], &ps[1]]), 2);
        let (r, (buf, got)) = reactor
            .run_until(reactor.op(RecvWithFds::new(&y, Vec::with_capacity(8), 4)))
            .unwrap();
        assert_eq!(r.unwrap(), 2);
        assert_eq!(buf, b"ok", "{kind}: the refused datagram was queued");
        assert_eq!(inodes(&got), [ps[0].ino, ps[1].ino]);
    }
    assert!(ps.into_iter().all(Passed::no_writer_left));
}

/// A receive with no room for bytes, on a stream holding a message with
/// descriptors: `unix_stream_read_generic` runs its `do { } while (size)`
/// loop once, copies 0 bytes of the message and detaches its descriptors
/// (`unix_detach_fds`), leaving its bytes queued without them. The receive
/// completes with 0 and hands out each descriptor once (the pipes sent, in
/// order); the next receive gets the bytes and none.
#[test]
fn a_receive_with_no_room_for_bytes_still_takes_the_descriptors() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (a, b) = UnixStream::pair(&h).unwrap();
    let ps = passed(2);
    let fds: Vec<OwnedFd> = ps.iter().map(Passed::dup).collect();
    let (r, _, back) = reactor
        .run_until(a.send_with_fds(b"bytes".to_vec(), fds))
        .unwrap();
    assert_eq!(r.unwrap(), 5);
    drop(back);
    let (r, buf, got) = reactor.run_until(b.recv_with_fds(Vec::new(), 4)).unwrap();
    assert_eq!(r.unwrap(), 0);
    assert!(buf.is_empty());
    assert_eq!(
        inodes(&got),
        [ps[0].ino, ps[1].ino],
        "the descriptors, in order"
    );
    assert_eq!(cloexec(&got), [true; 2], "MSG_CMSG_CLOEXEC");
    assert!(ps.iter().all(|p| p.copies() == 1), "one copy each, owned");
    let (r, buf, more) = reactor
        .run_until(b.recv_with_fds(vec![0u8; 16], 4))
        .unwrap();
    assert_eq!(&buf[..r.unwrap()], b"bytes");
    assert!(more.is_empty(), "the descriptors came twice");
    drop(got);
    assert!(ps.into_iter().all(Passed::no_writer_left));
}

/// Messages of no bytes. On a stream, `unix_stream_sendmsg`'s
/// `while (sent < len)` loop never runs: the send completes with 0, queues
/// nothing, and gives every descriptor back (no copy in flight; the next
/// message arrives alone). A datagram or sequenced packet of no bytes
/// (`unix_dgram_sendmsg`) carries its descriptors: the receive completes
/// with 0 and them.
#[test]
fn messages_of_no_bytes_pass_descriptors_only_as_datagrams() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (a, b) = UnixStream::pair(&h).unwrap();
    let ps = passed(2);
    let fds: Vec<OwnedFd> = ps.iter().map(Passed::dup).collect();
    let (r, _, back) = reactor.run_until(a.send_with_fds(Vec::new(), fds)).unwrap();
    assert_eq!(r.unwrap(), 0);
    assert_eq!(inodes(&back), [ps[0].ino, ps[1].ino]);
    drop(back);
    assert!(ps.iter().all(|p| p.copies() == 0), "a copy queued");
    let (r, _) = reactor.run_until(a.write(b"after".to_vec())).unwrap();
    assert_eq!(r.unwrap(), 5);
    let (r, buf, got) = reactor
        .run_until(b.recv_with_fds(vec![0u8; 16], 4))
        .unwrap();
    assert_eq!(&buf[..r.unwrap()], b"after");
    assert!(
        got.is_empty(),
        "descriptors of an empty stream send arrived"
    );

    for kind in [libc::SOCK_DGRAM, libc::SOCK_SEQPACKET] {
        let (x, y) = std_pair(kind);
        let (x, y) = (SharedFd::new(x), SharedFd::new(y));
        assert_eq!(send_fds(&reactor, &x, b"", &[&ps[0], &ps[1]]), 0);
        assert_eq!(send_fds(&reactor, &x, b"z", &[&ps[1]]), 1);
        let (r, (_, got)) = reactor
            .run_until(reactor.op(RecvWithFds::new(&y, Vec::with_capacity(8), 4)))
            .unwrap();
        assert_eq!(r.unwrap(), 0, "{kind}");
        assert_eq!(inodes(&got), [ps[0].ino, ps[1].ino], "{kind}");
        let (r, (buf, more)) = reactor
            .run_until(reactor.op(RecvWithFds::new(&y, Vec::with_capacity(8), 4)))
            .unwrap();
        assert_eq!(r.unwrap(), 1);
        assert_eq!(buf, b"z");
        assert_eq!(inodes(&more), [ps[1].ino], "{kind}");
        assert_eq!((ps[0].copies(), ps[1].copies()), (1, 2), "{kind}");
    }
    assert!(ps.into_iter().all(Passed::no_writer_left));
}

/// Datagrams longer than the receive's buffer (`unix_dgram_recvmsg` sets
/// `MSG_TRUNC` and drops the rest of the datagram, then `scm_recv` installs
/// its descriptors all the same): each receive gets the bytes that fit and
/// every descriptor of its own datagram, in order, none of the next one's.
#[test]
fn datagrams_cut_short_keep_all_their_descriptors() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let ps = passed(5);
    for kind in [libc::SOCK_DGRAM, libc::SOCK_SEQPACKET] {
        let (x, y) = std_pair(kind);
        let (x, y) = (SharedFd::new(x), SharedFd::new(y));
        let long = uring_tests::pattern(200, 3);
        assert_eq!(
            send_fds(&reactor, &x, &long, &[&ps[0], &ps[1], &ps[2]]),
            200
        );
        assert_eq!(send_fds(&reactor, &x, b"second", &[&ps[3], &ps[4]]), 6);
        let (r, (buf, first)) = reactor
            .run_until(reactor.op(RecvWithFds::new(&y, Vec::with_capacity(8), 8)))
            .unwrap();
        assert_eq!(r.unwrap(), 8, "{kind}");
        assert_eq!(buf, long[..8]);
        assert_eq!(inodes(&first), [ps[0].ino, ps[1].ino, ps[2].ino], "{kind}");
        assert_eq!(cloexec(&first), [true; 3], "{kind}: MSG_CMSG_CLOEXEC");
        let (r, (buf, second)) = reactor
            .run_until(reactor.op(RecvWithFds::new(&y, Vec::with_capacity(64), 8)))
            .unwrap();
        assert_eq!(r.unwrap(), 6, "{kind}: the rest of the first was dropped");
        assert_eq!(buf, b"second");
        assert_eq!(inodes(&second), [ps[3].ino, ps[4].ino], "{kind}");
        assert!(ps.iter().all(|p| p.copies() == 1), "{kind}");
    }
    assert!(ps.into_iter().all(Passed::no_writer_left));
}

/// Receives that lend the kernel no control room (a plain `read` of a
/// stream, a `recv` of a datagram): `__scm_recv_common` finds no
/// `msg_control`, flags `MSG_CTRUNC` and destroys the descriptors
/// (`scm_destroy`). Nothing is installed in the table, and no copy
/// survives anywhere once the receives are done.
#[test]
fn receives_without_control_room_leave_no_descriptor() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let ps = passed(3);
    let (a, b) = UnixStream::pair(&h).unwrap();
    let fds: Vec<OwnedFd> = ps.iter().map(Passed::dup).collect();
    let (r, _, back) = reactor
        .run_until(a.send_with_fds(b"plain".to_vec(), fds))
        .unwrap();
    assert_eq!(r.unwrap(), 5);
    drop(back);
    assert!(
        ps.iter().all(|p| p.copies() == 0),
        "queued, not in the table"
    );
    let (r, buf) = reactor.run_until(b.read(vec![0u8; 16])).unwrap();
    assert_eq!(&buf[..r.unwrap()], b"plain");
    assert!(
        ps.iter().all(|p| p.copies() == 0),
        "a plain read installed one"
    );

    let (x, y) = UnixDatagram::pair(&h).unwrap();
    let x = SharedFd::new(x.shared_fd().as_fd().try_clone_to_owned().unwrap());
    assert_eq!(send_fds(&reactor, &x, b"dgram", &[&ps[0], &ps[1]]), 5);
    let (r, buf) = reactor.run_until(y.recv(vec![0u8; 16])).unwrap();
    assert_eq!(&buf[..r.unwrap()], b"dgram");
    assert!(ps.iter().all(|p| p.copies() == 0), "a recv installed one");
    assert!(ps.into_iter().all(Passed::no_writer_left));
}

// ---------------------------------------------------------------------------
// Multishot recvmsg: what the header says the kernel wrote this time
// ---------------------------------------------------------------------------

/// One completion of a multishot receive, parsed.
#[derive(Debug)]
struct Shot {
    res: i32,
    more: bool,
    payload: Vec<u8>,
    payload_len: u32,
    flags: u32,
    control_len: u32,
    /// The whole control room as it lies in the buffer, written this time
    /// or not.
    room: Vec<u8>,
    /// The descriptors of the `SCM_RIGHTS` records the walk found.
    fds: Vec<OwnedFd>,
}

/// Arms a multishot `RecvMsgMulti` on `rx` with `layout` over one buffer
/// group, and takes `n` completions (or fewer if the receive ends first,
/// as it does with `ENOBUFS` when the group runs out of buffers); the
/// scope cancels it at its end.
fn multishot(
    ring: &mut Ring,
    pool: &uring::BufRing,
    rx: BorrowedFd<'_>,
    layout: &MsgLayout,
    n: usize,
) -> Vec<Shot> {
    multishot_with(ring, pool, rx, layout, MsgFlags::empty(), n)
}

/// [`multishot`] with `flags` as the receive's `MSG_*` flags.
fn multishot_with(
    ring: &mut Ring,
    pool: &uring::BufRing,
    rx: BorrowedFd<'_>,
    layout: &MsgLayout,
    flags: MsgFlags,
    n: usize,
) -> Vec<Shot> {
    ring.scope(|s| {
        s.push(
            RecvMsgMulti::new(rx, layout, pool.group())
                .msg_flags(flags)
                .user_data(7),
        )
        .unwrap();
        s.submit().unwrap();
        let mut shots: Vec<Shot> = Vec::new();
        let mut out_of_buffers = false;
        while shots.len() < n && !out_of_buffers && shots.last().is_none_or(|s| s.more) {
            s.wait_timeout(1, Duration::from_secs(2)).unwrap();
            for mut cqe in s.completions() {
                let (res, more) = (cqe.res(), cqe.has_more());
                // The kernel picks a buffer before it looks for a message:
                // once the group is empty the receive ends so.
                if res == -libc::ENOBUFS && !more {
                    out_of_buffers = true;
                    continue;
                }
                assert!(res >= 0, "{cqe:?}");
                let buf = pool.claim(&mut cqe).unwrap();
                let msg = RecvMsgOut::parse(&buf, layout).expect("a whole header");
                let at = OUT_HEADER + layout.name_len() as usize;
                shots.push(Shot {
                    res,
                    more,
                    payload: msg.payload().to_vec(),
                    payload_len: msg.payload_len(),
                    flags: msg.flags(),
                    control_len: msg.control_len(),
                    room: buf[at..at + layout.control_len()].to_vec(),
                    fds: adopt(msg.control_messages().filter_map(|m| m.fds()).flatten()),
                });
            }
        }
        shots
    })
}

/// A ring and a buffer group for multishot receives, or `None` (with a
/// skip message) on a kernel without them.
fn multishot_ring(count: u16, len: u32) -> Option<(Ring, uring::BufRing)> {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<RecvMsgMulti<'_>>(&ring) {
        return None;
    }
    let pool = plain_buf_ring(&mut ring, 9, count, len)?;
    Some((ring, pool))
}

/// One provided buffer, used by two messages in turn: the first passes two
/// descriptors, the second none. `io_recvmsg_multishot` sets the header's
/// `controllen` to what `scm_detach_fds` wrote this time (the room less
/// what is left of `msg_controllen`): 0 for the second, whose control room still holds
/// the first message's `SCM_RIGHTS` record, byte for byte (the kernel does
/// not clear it, and the completion counts the room as used). The walk
/// reads none of it: the numbers of descriptors the test has closed since
/// are never offered again.
#[test]
fn a_recycled_buffer_never_offers_the_last_messages_descriptors_again() {
    let _watch = watchdog();
    let Some((mut ring, pool)) = multishot_ring(1, 256) else {
        return;
    };
    let reactor = Reactor::new().unwrap();
    let (tx, rx) = StdDatagram::pair().unwrap();
    let tx = SharedFd::new(tx);
    // SAFETY: CMSG_SPACE is arithmetic.
    let room = unsafe { libc::CMSG_SPACE(8) } as usize;
    let layout = MsgLayout::new(0, room);
    let ps = passed(2);
    assert_eq!(send_fds(&reactor, &tx, b"first", &[&ps[0], &ps[1]]), 5);
    let first = multishot(&mut ring, &pool, rx.as_fd(), &layout, 1);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].payload, b"first");
    assert_eq!(first[0].control_len as usize, room);
    assert_eq!(inodes(&first[0].fds), [ps[0].ino, ps[1].ino]);
    let stale = first[0].room.clone();
    let numbers: Vec<RawFd> = first[0].fds.iter().map(|f| f.as_raw_fd()).collect();
    drop(first);

    assert_eq!(send_fds(&reactor, &tx, b"second", &[]), 6);
    let second = multishot(&mut ring, &pool, rx.as_fd(), &layout, 1);
    assert_eq!(second.len(), 1);
    let shot = &second[0];
    assert_eq!(shot.payload, b"second");
    assert_eq!(shot.res as usize, OUT_HEADER + room + 6);
    assert_eq!(shot.control_len, 0, "the kernel wrote no ancillary data");
    assert_eq!(shot.flags as i32 & libc::MSG_CTRUNC, 0);
    assert_eq!(
        shot.room, stale,
        "the first message's record is still there"
    );
    let raw: Vec<RawFd> = ControlMessages::new(&shot.room)
        .filter_map(|m| m.fds())
        .flatten()
        .collect();
    assert_eq!(
        raw, numbers,
        "walked whole, the stale room names the old numbers"
    );
    assert!(shot.fds.is_empty(), "stale descriptor numbers were offered");
    assert!(ps.iter().all(|p| p.copies() == 0));
    drop(second);
    assert!(ps.into_iter().all(Passed::no_writer_left));
}

/// A multishot receive on a Unix stream of four messages sent before it:
/// plain bytes, bytes with descriptors, bytes with other descriptors,
/// plain bytes. `unix_stream_read_generic` glues plain bytes to what
/// follows but stops after a message that carried descriptors
/// (`if (scm.fp) break;`): the completions are "aabb" with the first
/// message's descriptors, "cc" with the second's, "dd" with none; each
/// header's `controllen` covers exactly one whole `SCM_RIGHTS` record.
#[test]
fn a_multishot_stream_receive_never_glues_two_messages_descriptors() {
    let _watch = watchdog();
    let Some((mut ring, pool)) = multishot_ring(8, 256) else {
        return;
    };
    let reactor = Reactor::new().unwrap();
    let (tx, rx) = StdStream::pair().unwrap();
    let mut tx_w = tx.try_clone().unwrap();
    let tx = SharedFd::new(tx);
    let ps = passed(4);
    // SAFETY: CMSG_SPACE and CMSG_LEN are arithmetic.
    let (space, len2) = unsafe { (libc::CMSG_SPACE(16) as usize, libc::CMSG_LEN(8) as u32) };
    let layout = MsgLayout::new(0, space);
    tx_w.write_all(b"aa").unwrap();
    assert_eq!(send_fds(&reactor, &tx, b"bb", &[&ps[0], &ps[1]]), 2);
    assert_eq!(send_fds(&reactor, &tx, b"cc", &[&ps[2], &ps[3]]), 2);
    tx_w.write_all(b"dd").unwrap();
    let shots = multishot(&mut ring, &pool, rx.as_fd(), &layout, 3);
    let got: Vec<(&[u8], u32, Vec<u64>)> = shots
        .iter()
        .map(|s| (&s.payload[..], s.control_len, inodes(&s.fds)))
        .collect();
    let spaced = |n: u32| n.next_multiple_of(8).min(space as u32);
    assert_eq!(
        got,
        [
            (&b"aabb"[..], spaced(len2), vec![ps[0].ino, ps[1].ino]),
            (&b"cc"[..], spaced(len2), vec![ps[2].ino, ps[3].ino]),
            (&b"dd"[..], 0, vec![]),
        ]
    );
    assert!(shots.iter().all(|s| s.more), "the receive stays armed");
    assert!(ps.iter().all(|p| p.copies() == 1));
    drop(shots);
    assert!(ps.into_iter().all(Passed::no_writer_left));
}

/// Provided buffers with room for the header and the ancillary data but no
/// payload (`io_recvmsg_prep_multishot` accepts them: `payloadlen` 0). The
/// socket's receive of 0 bytes still detaches the descriptors of the
/// message it meets, `io_recvmsg_multishot` reports the 0 as finished, and
/// the one completion, without `IORING_CQE_F_MORE`, names the buffer with
/// the `SCM_RIGHTS` record. On a stream the bytes stay queued for the next
/// receive, without the descriptors; a datagram is consumed, its bytes
/// dropped (`MSG_TRUNC`).
#[test]
fn a_multishot_receive_without_payload_room_ends_with_the_descriptors() {
    let _watch = watchdog();
    // SAFETY: CMSG_SPACE is arithmetic.
    let room = unsafe { libc::CMSG_SPACE(8) } as usize;
    let Some((mut ring, pool)) = multishot_ring(4, (OUT_HEADER + room) as u32) else {
        return;
    };
    let reactor = Reactor::new().unwrap();
    let layout = MsgLayout::new(0, room);
    let ps = passed(2);
    for kind in [libc::SOCK_STREAM, libc::SOCK_DGRAM] {
        let (tx, rx) = std_pair(kind);
        let tx = SharedFd::new(tx);
        assert_eq!(send_fds(&reactor, &tx, b"xyz", &[&ps[0], &ps[1]]), 3);
        let shots = multishot(&mut ring, &pool, rx.as_fd(), &layout, 4);
        assert_eq!(shots.len(), 1, "{kind}: {shots:?}");
        let shot = &shots[0];
        assert!(!shot.more, "{kind}: a receive of 0 bytes ends the op");
        assert_eq!(shot.res as usize, OUT_HEADER + room, "{kind}");
        assert_eq!((shot.payload_len, shot.payload.len()), (0, 0), "{kind}");
        assert_eq!(inodes(&shot.fds), [ps[0].ino, ps[1].ino], "{kind}");
        assert!(ps.iter().all(|p| p.copies() == 1), "{kind}");
        drop(shots);
        let rx = SharedFd::new(rx);
        let next = if kind == libc::SOCK_STREAM {
            &b"xyz"[..]
        } else {
            assert_eq!(send_fds(&reactor, &tx, b"later", &[]), 5);
            &b"later"[..]
        };
        let (r, (buf, more)) = reactor
            .run_until(reactor.op(RecvWithFds::new(&rx, Vec::with_capacity(8), 4)))
            .unwrap();
        assert_eq!(r.unwrap() as usize, next.len(), "{kind}");
        assert_eq!(buf, next, "{kind}");
        assert!(more.is_empty(), "{kind}: the descriptors came twice");
    }
    assert!(ps.into_iter().all(Passed::no_writer_left));
}

// ---------------------------------------------------------------------------
// Payload bytes shaped like ancillary data
// ---------------------------------------------------------------------------

/// A peer sends, as plain bytes, a well-formed `SCM_RIGHTS` record naming
/// the receiver's own descriptors (its socket, the standard ones). The
/// kernel copies payload and builds ancillary data apart (`put_cmsg`,
/// `scm_detach_fds`), and the library walks only the latter:
/// `recv_with_fds` hands out nothing, a multishot receive's walk finds no
/// record (though the same bytes, walked as control data, would make one),
/// and every descriptor named is still open afterwards.
#[test]
fn payload_shaped_like_a_rights_record_passes_nothing() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (a, b) = UnixStream::pair(&h).unwrap();
    let named: Vec<RawFd> = vec![b.as_fd().as_raw_fd(), a.as_fd().as_raw_fd(), 0, 1, 2];
    let open_before: Vec<bool> = named.iter().map(|&fd| fd_is_open(fd)).collect();
    let data: Vec<u8> = named.iter().flat_map(|fd| fd.to_ne_bytes()).collect();
    let mut forged = ControlMessagesBuf::new();
    forged.push(libc::SOL_SOCKET, libc::SCM_RIGHTS, &data);
    let forged = forged.as_bytes().to_vec();
    let as_control: Vec<RawFd> = ControlMessages::new(&forged)
        .filter_map(|m| m.fds())
        .flatten()
        .collect();
    assert_eq!(as_control, named, "the bytes are a whole record");
    let (r, _) = reactor.run_until(a.write(forged.clone())).unwrap();
    assert_eq!(r.unwrap(), forged.len());
    let (r, buf, fds) = reactor
        .run_until(b.recv_with_fds(vec![0u8; 256], 8))
        .unwrap();
    assert_eq!(&buf[..r.unwrap()], &forged[..]);
    assert!(fds.is_empty(), "payload taken for descriptors: {fds:?}");
    drop(fds);

    if let Some((mut ring, pool)) = multishot_ring(4, 512) {
        let (tx, rx) = StdDatagram::pair().unwrap();
        tx.send(&forged).unwrap();
        // SAFETY: CMSG_SPACE is arithmetic.
        let room = unsafe { libc::CMSG_SPACE(32) } as usize;
        let layout = MsgLayout::new(0, room);
        let shots = multishot(&mut ring, &pool, rx.as_fd(), &layout, 1);
        assert_eq!(shots[0].payload, forged);
        assert_eq!(shots[0].control_len, 0);
        assert!(shots[0].fds.is_empty());
    }
    let open_after: Vec<bool> = named.iter().map(|&fd| fd_is_open(fd)).collect();
    assert_eq!(open_after, open_before, "a named descriptor was closed");
}

/// A multishot receive from a sender bound to a path longer than the room
/// the layout reserves for its address, with descriptors. The kernel lays
/// the buffer out by the room, not by what it wrote
/// (`io_recvmsg_prep_multishot`: the control data at the header plus the
/// name's room; `io_recvmsg_multishot` copies at most that room of the
/// name and reports its real length): the name is cut, its length is the
/// real one, and the `SCM_RIGHTS` record is found whole where the room
/// says, naming the pipes sent. Reserving more room than the name takes
/// leaves the bytes past it out of the name and the control data alike.
/// The flags of the receive decide close-on-exec for every message
/// (`MSG_CMSG_CLOEXEC` kept in `kmsg->msg.msg_flags`).
#[test]
fn a_cut_sender_address_leaves_the_descriptors_where_the_layout_says() {
    let _watch = watchdog();
    let Some((mut ring, pool)) = multishot_ring(4, 512) else {
        return;
    };
    let reactor = Reactor::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a-sender-bound-to-a-path-of-some-length");
    let sender = StdDatagram::bind(&path).unwrap();
    let rx_path = dir.path().join("r");
    let rx = StdDatagram::bind(&rx_path).unwrap();
    sender.connect(&rx_path).unwrap();
    let tx = SharedFd::new(sender);
    // `sockaddr_un` as the kernel reports it: the family, the path, its NUL.
    let full_name: Vec<u8> = [
        &(libc::AF_UNIX as u16).to_ne_bytes()[..],
        path.as_os_str().as_encoded_bytes(),
        &[0],
    ]
    .concat();
    // SAFETY: CMSG_SPACE is arithmetic.
    let room = unsafe { libc::CMSG_SPACE(8) } as usize;
    let ps = passed(2);
    for (name_room, flags) in [(8u32, MsgFlags::empty()), (128, MsgFlags::CMSG_CLOEXEC)] {
        let layout = MsgLayout::new(name_room, room);
        assert_eq!(send_fds(&reactor, &tx, b"named", &[&ps[0], &ps[1]]), 5);
        let shots = multishot_with(&mut ring, &pool, rx.as_fd(), &layout, flags, 1);
        assert_eq!(shots.len(), 1, "room {name_room}");
        let shot = &shots[0];
        assert_eq!(shot.payload, b"named", "room {name_room}");
        assert_eq!(shot.control_len as usize, room, "room {name_room}");
        assert_eq!(shot.flags as i32 & libc::MSG_CTRUNC, 0, "room {name_room}");
        assert_eq!(
            inodes(&shot.fds),
            [ps[0].ino, ps[1].ino],
            "room {name_room}"
        );
        let want_cloexec = flags.contains(MsgFlags::CMSG_CLOEXEC);
        assert_eq!(cloexec(&shot.fds), [want_cloexec; 2], "room {name_room}");
        drop(shots);
        // The name as parsed, from the same kind of message.
        assert_eq!(send_fds(&reactor, &tx, b"again", &[]), 5);
        let name = ring.scope(|s| {
            s.push(RecvMsgMulti::new(&rx, &layout, pool.group()).user_data(8))
                .unwrap();
            s.submit().unwrap();
            s.wait_timeout(1, Duration::from_secs(2)).unwrap();
            let mut cqe = s.completions().next().expect("a completion");
            let buf = pool.claim(&mut cqe).unwrap();
            let msg = RecvMsgOut::parse(&buf, &layout).expect("a whole header");
            assert_eq!(msg.name_len() as usize, full_name.len(), "the real length");
            assert_eq!(msg.control_messages().count(), 0);
            assert_eq!(msg.payload(), b"again");
            msg.name().to_vec()
        });
        let fit = full_name.len().min(name_room as usize);
        assert_eq!(name, full_name[..fit], "room {name_room}");
    }
    assert!(ps.into_iter().all(Passed::no_writer_left));
}
