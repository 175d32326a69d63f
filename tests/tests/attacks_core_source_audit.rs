//! Attacks that follow the kernel's own io_uring source: for each op, the
//! moment it last touches the memory it was lent (at prep, at issue, at a
//! retry from poll or io-wq, at a cancel, in task work, after the first
//! completion), against the moment the library gives that memory back.
//!
//! The kernel facts checked here, from `io_uring/*.c` of Linux 6.18:
//!
//! - `uring_cmd.c` / `io_uring.c`: a socket command reads its level, name,
//!   `optval` and `optlen` from `cmd->sqe` when it is issued
//!   (`io_uring_cmd_getsockopt`, `io_uring_cmd_setsockopt`); a command
//!   the drain holds back is copied first (`io_queue_sqe_fallback` calls
//!   `io_req_sqe_copy` before `io_drain_req`), and so is every request
//!   submitted while a drain is active (`io_init_req` forces those onto the
//!   same slow path).
//! - `waitid.c`: a cancelled `WaitId` still writes its `siginfo`
//!   (`__io_waitid_cancel` -> `io_waitid_complete` -> `io_waitid_finish`
//!   -> `io_waitid_copy_si` with signal 0) before its completion, and
//!   leaves the child's wait queue (`list_del_init` of `child_wait`).
//! - `futex.c`: the vector of a `FutexWaitv` is copied at prep
//!   (`futex_parse_waitv`), the words are read at issue
//!   (`futex_wait_setup`, `futex_wait_multiple_setup`), and a cancel
//!   unqueues the waiters (`__io_futex_cancel`: `futex_unqueue`, or
//!   `futex_unqueue_multiple` in `io_futexv_complete`).
//! - `epoll.c`: `io_epoll_wait` writes the events at issue and at each
//!   retry after a poll wake-up (`epoll_sendevents`), never after its
//!   completion; a cancel (the poll's) consumes no event.
//! - `net.c`: `io_recvmsg_prep` copies the header (and iovecs) at prep;
//!   the name, control data, payload and the header's `msg_namelen`,
//!   `msg_controllen` and `msg_flags` are written only when the receive is
//!   issued; a request failed by its link (`io_fail_links`,
//!   `io_req_tw_fail_links`) or cut by its link timeout
//!   (`io_link_timeout_fn` -> `io_req_task_link_timeout` -> `io_try_cancel`)
//!   is never issued again. A multishot receive whose completion finds the
//!   CQ full (`io_req_post_cqe` -> `io_fill_cqe_aux` fails) stops and posts
//!   that receive's bytes and buffer in its last completion
//!   (`io_recv_finish`), through the overflow list.
//! - `io_uring.c`: `io_submit_sqes` stops at an SQE that fails to prep (no
//!   `IORING_SETUP_SUBMIT_ALL`): the SQEs after it stay unconsumed, for a
//!   later enter or pass of the SQ thread.
//! - `statx.c`, `rw.c`, `timeout.c`: a `Statx` runs in an io-wq worker and
//!   writes its buffer there (`do_statx`); a vectored read copies its iovecs
//!   at prep (`io_prep_rwv` -> `io_import_vec`) and fills the buffers at
//!   issue and poll retries; a link timeout cancels it through the poll.
//!
//! Every attack is safe code; `unsafe` appears only to set up or inspect
//! (an epoll instance, `epoll_wait(2)`, `getsockopt(2)`, `fcntl(2)`, a
//! zeroed `siginfo_t`), each with a `// SAFETY:` comment.

use std::io::{IoSliceMut, Read as _, Write as _};
use std::net::{TcpListener, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::AtomicU32;
use std::time::{Duration, Instant};

use uring::ops::{
    Accept, EpollWait, FutexWait, FutexWaitv, FutexWake, GetSockOpt, Nop, Read, RecvMsg,
    SetSockOpt, WaitId,
};
use uring::reactor::{Reactor, SharedFd};
use uring::{
    Cqe, FutexFlags, FutexWaitV, MsgHdrMut, Ring, Scope, Scoped, SockAddrBuf, SockOpt, SqeFlags,
    Submission, WaitIdTarget,
};
use uring_tests::{PATIENCE, pattern, require_op, skip};

const CANARY: u8 = 0xa5;

/// The kinds of ring each attack runs on: the kernel reaches the memory
/// from a different context on each (the submitting task, deferred task
/// work at the next enter, the SQ thread).
const KINDS: [&str; 3] = ["plain", "defer_taskrun", "sqpoll"];

/// A ring of `kind` with `entries` SQ entries and a CQ of `cq` entries, or
/// `None` (with a reason) where the machine has none.
fn ring_of(kind: &str, entries: u32, cq: u32) -> Option<Ring> {
    let built = match kind {
        "plain" => Ring::builder().cq_entries(cq).build(entries),
        "defer_taskrun" => Ring::builder()
            .single_issuer()
            .defer_taskrun()
            .cq_entries(cq)
            .build(entries),
        _ => {
            if !uring_tests::require_sqpoll() {
                return None;
            }
            Ring::builder()
                .sqpoll(Duration::from_millis(20))
                .cq_entries(cq)
                .build(entries)
        }
    };
    match built {
        Ok(ring) => Some(ring),
        Err(e) => {
            skip(format_args!("no {kind} ring here: {e}"));
            None
        }
    }
}

/// Reaps the scope's completions into `seen` until `done` says so, failing
/// after [`PATIENCE`].
fn reap_until(s: &mut Scope<'_, '_>, seen: &mut Vec<Cqe>, done: impl Fn(&[Cqe]) -> bool) {
    let start = Instant::now();
    while !done(seen) {
        assert!(
            start.elapsed() < PATIENCE,
            "no expected completion after {PATIENCE:?}: {seen:?}"
        );
        s.submit().unwrap();
        let _ = s.wait_timeout(1, Duration::from_millis(20));
        seen.extend(s.completions().map(|c| c.cqe()));
    }
}

/// Whether `seen` holds the last completion of the op `user_data`.
fn ended(seen: &[Cqe], user_data: u64) -> bool {
    seen.iter()
        .any(|c| c.user_data() == user_data && !c.has_more())
}

/// The result of the last completion of `user_data` in `seen`.
fn last_res(seen: &[Cqe], user_data: u64) -> i32 {
    seen.iter()
        .rev()
        .find(|c| c.user_data() == user_data)
        .unwrap_or_else(|| panic!("no completion of {user_data}: {seen:?}"))
        .res()
}

/// Pushes `op`, submitting and waiting a little while the SQ is full (an
/// SQ thread consumes on its own time).
fn push_patiently<'s, T>(s: &mut Scope<'s, '_>, op: T)
where
    T: Submission + Scoped + 's,
{
    let start = Instant::now();
    let mut op = op;
    loop {
        match s.push(op) {
            Ok(()) => return,
            Err(e) if e.is_full() => {
                assert!(start.elapsed() < PATIENCE, "the SQ stayed full");
                op = e.into_inner();
                s.submit().unwrap();
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("push refused: {:?}", e.kind()),
        }
    }
}

/// An `int` socket option, read with `getsockopt(2)` (inspection).
fn int_option(fd: &impl AsRawFd, level: i32, name: i32) -> i32 {
    let mut value = 0i32;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: inspection: getsockopt writes at most `len` bytes into
    // `value`, and `len` is writable.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut value as *mut i32).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "getsockopt: {}", std::io::Error::last_os_error());
    value
}

/// What is waiting in a stream or pipe, read without blocking.
fn drain_now(fd: &impl AsFd) -> Vec<u8> {
    let dup = fd.as_fd().try_clone_to_owned().unwrap();
    let mut file = std::fs::File::from(dup);
    // SAFETY: set-up: F_SETFL on an open descriptor (the duplicate shares
    // the open file, which is what is meant).
    let flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
    // SAFETY: as above.
    unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) };
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match file.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
    }
    // SAFETY: as above: the blocking mode back as it was.
    unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags) };
    got
}

/// A socket command held back by a drain is issued long after the kernel
/// consumed its SQE: `io_queue_sqe_fallback` copies the SQE
/// (`io_req_sqe_copy`) before `io_drain_req` defers it, and a command
/// pushed without the flag while the drain is active takes the same path
/// (`io_init_req` forces it there). `io_uring_cmd_getsockopt` and
/// `io_uring_cmd_setsockopt` read level, name, `optval` and `optlen` from
/// `cmd->sqe` only at issue. Here the drained `GetSockOpt` and the
/// `SetSockOpt` after it wait behind a read of an empty pipe while NOPs are
/// pushed into every SQ slot twice over (on a plain ring and an SQPOLL
/// ring). Safe outcome: neither runs before the read; each then acts on
/// the option and value it was pushed with, writes only its own four bytes
/// (the canary after them stays), and the scope keeps `optval` lent until
/// that late issue.
#[test]
fn drained_socket_commands_read_their_own_sqe_after_its_slot_is_reused() {
    let _watch = uring_tests::watchdog();
    for kind in ["plain", "sqpoll"] {
        let Some(mut ring) = ring_of(kind, 4, 32) else {
            continue;
        };
        if !require_op::<GetSockOpt<'_>>(&ring) {
            return;
        }
        let getter = UdpSocket::bind("127.0.0.1:0").unwrap();
        let setter = UdpSocket::bind("127.0.0.1:0").unwrap();
        let reference = UdpSocket::bind("127.0.0.1:0").unwrap();
        let wanted = if kind == "plain" { 6000 } else { 7000 };
        uring_tests::set_int_option(&reference, libc::SOL_SOCKET, libc::SO_RCVBUF, wanted)
            .expect("setsockopt");
        let (rx, tx) = uring_tests::pipe();
        let mut byte = [0u8; 1];
        let mut optval = [CANARY; 8];
        let value = wanted.to_ne_bytes();
        let (val, after) = optval.split_at_mut(4);
        let seen = ring.scope(|s| {
            s.push(Read::new(&rx, &mut byte[..]).user_data(1)).unwrap();
            s.push(
                GetSockOpt::new(&getter, SockOpt::SO_RCVBUF, &mut val[..])
                    .flags(SqeFlags::IO_DRAIN)
                    .user_data(2),
            )
            .unwrap();
            s.push(SetSockOpt::new(&setter, SockOpt::SO_RCVBUF, &value[..]).user_data(3))
                .unwrap();
            s.submit().unwrap();
            // Eight NOPs through a four-slot SQ: the fifth and later each
            // take a slot only once the kernel has consumed what was there,
            // so the commands' slots hold NOPs (twice) by the end.
            for i in 0..8u64 {
                push_patiently(s, Nop::new().user_data(100 + i));
                s.submit().unwrap();
            }
            let mut seen: Vec<Cqe> = Vec::new();
            let start = Instant::now();
            while s.space_left() < 4 {
                assert!(start.elapsed() < PATIENCE, "the NOPs were never consumed");
                s.submit().unwrap();
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::sleep(Duration::from_millis(20));
            seen.extend(s.completions().map(|c| c.cqe()));
            assert!(
                !seen.iter().any(|c| (1..=3).contains(&c.user_data())),
                "{kind}: the commands ran before the read they are drained behind: {seen:?}"
            );
            std::fs::File::from(tx).write_all(b"x").unwrap();
            reap_until(s, &mut seen, |seen| {
                (1..=3).all(|ud| ended(seen, ud)) && (100..108).all(|ud| ended(seen, ud))
            });
            seen
        });
        assert_eq!(last_res(&seen, 1), 1, "{kind}: {seen:?}");
        assert_eq!(last_res(&seen, 2), 4, "{kind}: getsockopt: {seen:?}");
        assert_eq!(last_res(&seen, 3), 0, "{kind}: setsockopt: {seen:?}");
        assert_eq!(
            i32::from_ne_bytes(val.try_into().unwrap()),
            int_option(&getter, libc::SOL_SOCKET, libc::SO_RCVBUF),
            "{kind}: getsockopt wrote its own option"
        );
        assert_eq!(after, [CANARY; 4], "{kind}: written past optval");
        assert_eq!(
            int_option(&setter, libc::SOL_SOCKET, libc::SO_RCVBUF),
            int_option(&reference, libc::SOL_SOCKET, libc::SO_RCVBUF),
            "{kind}: setsockopt set the value it was pushed with"
        );
    }
}

/// A reaping `WaitId` (`WEXITED` without `WNOWAIT`) still waiting when its
/// scope ends is cancelled: `__io_waitid_cancel` takes it off the child's
/// wait queue and completes it through `io_waitid_finish`, which writes
/// the `siginfo` (signal 0) then, before the completion. On every ring
/// kind (the cancel runs in the submitting task, at an enter of a
/// deferred-task-work ring, or in the SQ thread). Safe outcome: the
/// cancel's write lands before the scope returns (the canary is gone), and
/// after the scope the op is gone: killing the child, the program's own
/// `wait` reaps it (a live `WaitId` would have reaped it first, and written
/// into the `siginfo` the program owns again, whose new canary stays).
#[test]
fn a_cancelled_waitid_writes_its_siginfo_at_the_cancel_and_reaps_nothing_after() {
    let _watch = uring_tests::watchdog();
    for kind in KINDS {
        let Some(mut ring) = ring_of(kind, 8, 16) else {
            continue;
        };
        if !require_op::<WaitId<'_>>(&ring) {
            return;
        }
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id() as libc::pid_t;
        // SAFETY: all-zero bytes are a valid `siginfo_t`.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        info.si_signo = 0x5a5a;
        info.si_errno = 0x5a5a;
        info.si_code = 0x5a5a;
        let done = ring.scope(|s| {
            s.push(WaitId::new(WaitIdTarget::pid(pid), libc::WEXITED, &mut info).user_data(1))
                .unwrap();
            s.submit().unwrap();
            std::thread::sleep(Duration::from_millis(20));
            let mut seen = Vec::new();
            seen.extend(s.completions().map(|c| c.cqe()));
            seen
        });
        assert!(
            done.is_empty(),
            "{kind}: the child is still running: {done:?}"
        );
        assert_eq!(
            (info.si_signo, info.si_errno, info.si_code),
            (0, 0, 0),
            "{kind}: the cancel wrote the siginfo before the scope returned"
        );
        info.si_signo = 0x5a5a;
        info.si_errno = 0x5a5a;
        info.si_code = 0x5a5a;
        child.kill().unwrap();
        let status = child.wait().expect("the program reaps its own child");
        assert!(!status.success(), "{kind}: killed");
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            (info.si_signo, info.si_errno, info.si_code),
            (0x5a5a, 0x5a5a, 0x5a5a),
            "{kind}: the kernel wrote into the siginfo after the scope returned"
        );
    }
}

/// Futex waits cut short by their scope on every ring kind, one word
/// (`futex_wait_setup` at issue) and a vector of two (`futex_parse_waitv`
/// copied it at prep; `futex_wait_multiple_setup` queued a waiter per
/// word). The cancel unqueues them (`__io_futex_cancel`). Safe outcome: a
/// wake of any of the words after the scope wakes nobody (`futex_wake`
/// counts the waiters it woke), so the kernel keeps no waiter keyed to
/// memory the program owns again.
#[test]
fn cancelled_futex_waits_leave_no_waiter_on_any_ring_kind() {
    let _watch = uring_tests::watchdog();
    for kind in KINDS {
        let Some(mut ring) = ring_of(kind, 8, 16) else {
            continue;
        };
        if !require_op::<FutexWaitv<'_>>(&ring) {
            return;
        }
        let (w0, w1, w2) = (AtomicU32::new(3), AtomicU32::new(5), AtomicU32::new(7));
        let vector = [
            FutexWaitV::new(&w1, 5, FutexFlags::PRIVATE),
            FutexWaitV::new(&w2, 7, FutexFlags::PRIVATE),
        ];
        let seen = ring.scope(|s| {
            s.push(
                FutexWait::new(&w0, 3)
                    .futex_flags(FutexFlags::PRIVATE)
                    .user_data(1),
            )
            .unwrap();
            s.push(FutexWaitv::new(&vector[..]).user_data(2)).unwrap();
            s.submit().unwrap();
            std::thread::sleep(Duration::from_millis(20));
            let mut seen = Vec::new();
            seen.extend(s.completions().map(|c| c.cqe()));
            seen
        });
        assert!(seen.is_empty(), "{kind}: the waits were pending: {seen:?}");
        let mut plain = Ring::new(4).unwrap();
        for (name, w) in [("word", &w0), ("first", &w1), ("second", &w2)] {
            let cqe = uring_tests::complete(
                &mut plain,
                FutexWake::new(w, 10).futex_flags(FutexFlags::PRIVATE),
            );
            assert_eq!(
                cqe.res(),
                0,
                "{kind}: a waiter on the {name} outlived its scope: {cqe:?}"
            );
        }
    }
}

/// A new epoll instance watching `fd` for `EPOLLIN` once
/// (`EPOLLONESHOT`): the first event that is taken disarms it.
fn oneshot_epoll(fd: &impl AsFd, data: u64) -> OwnedFd {
    // SAFETY: set-up: epoll_create1 takes a flag, returns a new descriptor.
    let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(
        raw >= 0,
        "epoll_create1: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: just made, owned by nothing else.
    let epoll = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut event = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLONESHOT) as u32,
        u64: data,
    };
    // SAFETY: set-up: both descriptors are open, the event outlives the
    // call.
    let rc = unsafe {
        libc::epoll_ctl(
            epoll.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            fd.as_fd().as_raw_fd(),
            &mut event,
        )
    };
    assert_eq!(rc, 0, "epoll_ctl: {}", std::io::Error::last_os_error());
    epoll
}

/// `epoll_wait(2)` on `epoll` for up to `ms` milliseconds (inspection).
fn epoll_now(epoll: &OwnedFd, ms: i32) -> Vec<u64> {
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
    // SAFETY: inspection: epoll_wait writes at most four events into the
    // array.
    let n = unsafe { libc::epoll_wait(epoll.as_raw_fd(), events.as_mut_ptr(), 4, ms) };
    assert!(n >= 0, "epoll_wait: {}", std::io::Error::last_os_error());
    events[..n as usize].iter().map(|e| e.u64).collect()
}

/// An `EpollWait` with nothing ready is armed on the epoll file's poll;
/// `io_epoll_wait` takes events (`epoll_sendevents`) only at issue and at
/// the retry a wake-up queues. Cut short by its scope on every ring kind,
/// over an epoll instance watching a pipe once (`EPOLLONESHOT`, so an event
/// taken by anyone disarms it). Safe outcome: after the scope the op is
/// gone: the event that comes then is still there for the program's own
/// `epoll_wait(2)` (a live op would have taken it, and disarmed the
/// watch), and the array the scope lent keeps its canary.
#[test]
fn a_cancelled_epoll_wait_takes_no_event_after_its_scope() {
    let _watch = uring_tests::watchdog();
    for kind in KINDS {
        let Some(mut ring) = ring_of(kind, 8, 16) else {
            continue;
        };
        if !require_op::<EpollWait<'_>>(&ring) {
            return;
        }
        let (rx, tx) = uring_tests::pipe();
        let epoll = oneshot_epoll(&rx, 0x1234);
        let mut events = [libc::epoll_event {
            events: 0x5a5a,
            u64: 0x5a5a,
        }; 4];
        let seen = ring.scope(|s| {
            s.push(EpollWait::new(&epoll, &mut events[..]).user_data(1))
                .unwrap();
            s.submit().unwrap();
            std::thread::sleep(Duration::from_millis(20));
            let mut seen = Vec::new();
            seen.extend(s.completions().map(|c| c.cqe()));
            seen
        });
        assert!(seen.is_empty(), "{kind}: nothing was ready: {seen:?}");
        std::fs::File::from(tx).write_all(b"x").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            epoll_now(&epoll, 1000),
            [0x1234],
            "{kind}: the event went to an op that outlived its scope"
        );
        assert!(
            events
                .iter()
                .all(|e| { e.u64 } == 0x5a5a && { e.events } == 0x5a5a),
            "{kind}: the kernel wrote an event after the scope returned"
        );
    }
}

/// The parts of a `recvmsg` the kernel may write: payload, sender's name
/// and control room, each full of the canary.
struct MsgParts {
    payload: [u8; 32],
    name: SockAddrBuf,
    control: [u8; 64],
}

impl MsgParts {
    fn new() -> MsgParts {
        MsgParts {
            payload: [CANARY; 32],
            name: SockAddrBuf::new(),
            control: [CANARY; 64],
        }
    }

    /// Whether no byte of payload and control changed, and no name came.
    fn untouched(&self) -> bool {
        self.payload == [CANARY; 32]
            && self.control == [CANARY; 64]
            && self.name.socket_addr().is_none()
    }
}

/// A `RecvMsg` on an empty stream bounded by a 20 ms link timeout, on
/// every ring kind: `io_recvmsg_prep` copied the header at prep, the
/// receive is armed on the socket's poll, and the timer
/// (`io_link_timeout_fn` -> `io_req_task_link_timeout` -> `io_try_cancel`)
/// cancels it, so it is never issued again. Safe outcome: the receive
/// ends `ECANCELED` and the timeout `ETIME`; after the scope, bytes that
/// arrive stay in the socket, and neither the header (its `msg_namelen`,
/// `msg_controllen`, `msg_flags`) nor the payload, name or control room
/// is written.
#[test]
fn a_recvmsg_cut_by_its_link_timeout_writes_nothing_after() {
    let _watch = uring_tests::watchdog();
    for kind in KINDS {
        let Some(mut ring) = ring_of(kind, 8, 16) else {
            continue;
        };
        let (mut peer, sock) = UnixStream::pair().unwrap();
        let mut parts = MsgParts::new();
        let MsgParts {
            payload,
            name,
            control,
        } = &mut parts;
        let mut iov = [IoSliceMut::new(&mut payload[..])];
        let mut msg = MsgHdrMut::new(&mut iov).from(name).control(control);
        let (name_len, control_len) = (msg.name_len(), msg.control_len());
        let seen = ring.scope(|s| {
            s.push(
                RecvMsg::new(&sock, &mut msg)
                    .user_data(1)
                    .timeout_with(Duration::from_millis(20), 2),
            )
            .unwrap();
            let mut seen = Vec::new();
            reap_until(s, &mut seen, |seen| ended(seen, 1) && ended(seen, 2));
            seen
        });
        assert_eq!(last_res(&seen, 1), -libc::ECANCELED, "{kind}: {seen:?}");
        assert_eq!(last_res(&seen, 2), -libc::ETIME, "{kind}: {seen:?}");
        peer.write_all(b"late bytes").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            (msg.name_len(), msg.control_len(), msg.flags()),
            (name_len, control_len, 0),
            "{kind}: the header was written after the scope"
        );
        assert!(parts.untouched(), "{kind}: written after the scope");
        assert_eq!(drain_now(&sock), b"late bytes", "{kind}");
    }
}

/// A `RecvMsg` linked after a NOP that fails (`IORING_NOP_INJECT_RESULT`),
/// softly and hard. Soft: `io_fail_links` marks it and
/// `io_req_tw_fail_links` completes it `ECANCELED` without an issue, after
/// `io_recvmsg_prep` read its header at submission. Hard: it is issued in
/// spite of the failure and waits for bytes until the scope's end cancels
/// it. Safe outcome, both ways: the receive is over when the scope
/// returns, so bytes sent afterwards stay in the socket, and nothing it was
/// lent is written.
#[test]
fn linked_recvmsgs_failed_by_their_head_take_nothing_after_the_scope() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(6, 10, "a NOP that fails (IORING_NOP_INJECT_RESULT)") {
        return;
    }
    for hard in [false, true] {
        let mut ring = Ring::new(8).unwrap();
        let (mut peer, sock) = UnixStream::pair().unwrap();
        let mut parts = MsgParts::new();
        let MsgParts {
            payload,
            name,
            control,
        } = &mut parts;
        let mut iov = [IoSliceMut::new(&mut payload[..])];
        let mut msg = MsgHdrMut::new(&mut iov).from(name).control(control);
        let seen = ring.scope(|s| {
            let head = Nop::new().result(-libc::EIO).user_data(1);
            let recv = RecvMsg::new(&sock, &mut msg).user_data(2);
            if hard {
                s.push(head.hard_link(recv)).unwrap();
            } else {
                s.push(head.link(recv)).unwrap();
            }
            let mut seen = Vec::new();
            if hard {
                reap_until(s, &mut seen, |seen| ended(seen, 1));
                std::thread::sleep(Duration::from_millis(20));
                seen.extend(s.completions().map(|c| c.cqe()));
                assert!(!ended(&seen, 2), "no bytes for the receive yet: {seen:?}");
            } else {
                reap_until(s, &mut seen, |seen| ended(seen, 1) && ended(seen, 2));
                assert_eq!(last_res(&seen, 2), -libc::ECANCELED, "{seen:?}");
            }
            seen
        });
        assert_eq!(last_res(&seen, 1), -libc::EIO, "hard {hard}: {seen:?}");
        peer.write_all(b"after the scope").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(msg.flags(), 0, "hard {hard}: header written after");
        assert!(parts.untouched(), "hard {hard}: written after the scope");
        assert_eq!(drain_now(&sock), b"after the scope", "hard {hard}");
    }
}

/// `io_submit_sqes` stops at an SQE whose prep fails (an `Accept` with
/// flags `io_accept_prep` refuses: `EINVAL`): the read pushed after it is
/// left unconsumed in the SQ, for a later enter (plain ring) or a later
/// pass of the SQ thread. The scope's closure submits once and returns.
/// Safe outcome: the scope does not return before the read it cannot see
/// the kernel take is over, so bytes written afterwards stay in the pipe
/// and the buffer keeps its canary.
#[test]
fn reads_left_in_the_sq_by_a_failed_prep_are_settled_before_the_scope_returns() {
    let _watch = uring_tests::watchdog();
    for kind in KINDS {
        let Some(mut ring) = ring_of(kind, 8, 16) else {
            continue;
        };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let (rx1, tx1) = uring_tests::pipe();
        let (rx2, tx2) = uring_tests::pipe();
        let mut first = [CANARY; 16];
        let mut second = [CANARY; 16];
        ring.scope(|s| {
            s.push(Read::new(&rx1, &mut first[..]).user_data(1))
                .unwrap();
            s.push(
                Accept::new(&listener)
                    .accept_flags(0x7fff_0000)
                    .user_data(2),
            )
            .unwrap();
            s.push(Read::new(&rx2, &mut second[..]).user_data(3))
                .unwrap();
            let submitted = s.submit().unwrap();
            if kind != "sqpoll" {
                // The enter consumed the first read and the accept, whose
                // prep failed, and stopped there.
                assert_eq!(submitted, 2, "{kind}: the submission stopped");
                assert_eq!(s.space_left(), 7, "{kind}: the second read waits");
            }
        });
        std::fs::File::from(tx1).write_all(b"one").unwrap();
        std::fs::File::from(tx2).write_all(b"two").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(first, [CANARY; 16], "{kind}: first read wrote after");
        assert_eq!(second, [CANARY; 16], "{kind}: second read wrote after");
        assert_eq!(drain_now(&rx1), b"one", "{kind}");
        assert_eq!(drain_now(&rx2), b"two", "{kind}");
    }
}

/// A multishot receive over a buffer ring on a CQ of eight entries, fed
/// one chunk per write until its completions fill the CQ. The next chunk's
/// completion cannot be posted (`io_req_post_cqe` -> `io_fill_cqe_aux`
/// finds no room), so `io_recv_finish` stops the op and posts that chunk,
/// with its buffer and without `IORING_CQE_F_MORE`, as the op's last
/// completion, into the overflow list. Safe outcome: every byte received is
/// in the buffers claimed, in order, the last one included (nothing lost,
/// nothing claimed twice); after that last completion the op takes nothing
/// more (a chunk written then stays in the socket).
#[test]
fn a_multishot_receive_stopped_by_a_full_cq_hands_its_last_bytes_in_its_last_completion() {
    let _watch = uring_tests::watchdog();
    let Ok(mut ring) = Ring::builder().cq_entries(8).build(4) else {
        return skip("no ring of 8 CQ entries");
    };
    if !require_op::<uring::ops::Recv<'_>>(&ring) {
        return;
    }
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 7, 32, 64) else {
        return;
    };
    let (mut peer, sock) = UnixStream::pair().unwrap();
    let cq = 8;
    let mut sent = Vec::new();
    let (received, results) = ring.scope(|s| {
        s.push(
            uring::ops::Recv::new(&sock, pool.group().select(0))
                .recv_flags(uring::RecvFlags::MULTISHOT)
                .user_data(1),
        )
        .unwrap();
        s.submit().unwrap();
        let start = Instant::now();
        let mut chunk = 0u8;
        // Feed until the CQ is full (the completions stay unread), then
        // once more: that receive finds no room.
        while s.ready() < cq {
            assert!(start.elapsed() < PATIENCE, "the CQ never filled");
            let bytes = pattern(10, chunk);
            chunk += 1;
            peer.write_all(&bytes).unwrap();
            sent.extend_from_slice(&bytes);
            s.submit().unwrap();
            std::thread::sleep(Duration::from_millis(2));
        }
        let bytes = pattern(10, chunk);
        peer.write_all(&bytes).unwrap();
        sent.extend_from_slice(&bytes);
        let mut received = Vec::new();
        let mut results = Vec::new();
        let start = Instant::now();
        let mut over = false;
        while !over {
            assert!(
                start.elapsed() < PATIENCE,
                "no last completion: {results:?}"
            );
            let _ = s.submit_and_wait_timeout(1, Duration::from_millis(20));
            for mut cqe in s.completions() {
                let more = cqe.cqe().has_more();
                results.push((cqe.res(), more));
                if cqe.res() > 0 {
                    let buf = pool.claim(&mut cqe).unwrap();
                    received.extend_from_slice(&buf[..]);
                }
                over |= !more;
            }
        }
        (received, results)
    });
    let (last, more) = *results.last().unwrap();
    assert!(!more, "{results:?}");
    assert!(
        last > 0,
        "the op ended on a full CQ with the bytes it had: {results:?}"
    );
    assert!(
        results[..results.len() - 1]
            .iter()
            .all(|&(r, m)| r > 0 && m),
        "{results:?}"
    );
    assert_eq!(received, sent, "every byte received once, in order");
    peer.write_all(b"left over").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(
        drain_now(&sock),
        b"left over",
        "taken after the last completion"
    );
}

/// `Statx` is always issued in an io-wq worker (`REQ_F_FORCE_ASYNC`), which
/// writes the status (`do_statx`) while the reactor's thread runs on. Here
/// 64 reactor `Statx` futures are queued, submitted and dropped at once:
/// each is orphaned (its boxed `statx` stays in its slot) and cancelled;
/// queued work is cancelled without a write, work a worker took writes
/// and completes. Meanwhile the program allocates blocks of the same size
/// and fills them with a canary. Safe outcome: no canary changes (no
/// `statx` box was freed before its op's completion), and the reactor ends
/// with nothing in flight.
#[test]
fn dropped_reactor_statx_futures_keep_their_output_until_the_worker_wrote_it() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("status");
    std::fs::write(&path, vec![1u8; 4321]).unwrap();
    let cpath = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let size = std::mem::size_of::<libc::statx>();
    let mut canaries: Vec<Vec<u8>> = Vec::new();
    for round in 0..4 {
        let mut futures: Vec<_> = (0..16)
            .map(|_| reactor.op(uring::reactor::ops::Statx::new(cpath.clone())))
            .collect();
        for f in &mut futures {
            assert!(uring_tests::poll_once(f).is_pending(), "round {round}");
        }
        reactor.submit().unwrap();
        drop(futures);
        canaries.extend((0..32).map(|_| vec![CANARY; size]));
    }
    reactor.run().unwrap();
    assert_eq!(reactor.in_flight(), 0);
    std::fs::write(&path, vec![2u8; 99]).unwrap();
    assert!(
        canaries.iter().all(|c| c.iter().all(|&b| b == CANARY)),
        "a statx landed in memory the program had allocated"
    );
    // And a statx that is awaited still reports the file.
    let (r, out) = reactor
        .run_until(reactor.op(uring::reactor::ops::Statx::new(cpath)))
        .unwrap();
    assert_eq!(r.unwrap(), 0);
    assert_eq!(out.stx_size, 99);
}

/// A reactor `ReadV` of an empty pipe with a 20 ms deadline: the kernel
/// copied its iovecs at prep (`io_prep_rwv`), armed the read on the pipe's
/// poll, and the link timeout cancels it. The reactor hands the buffers
/// back at the read's completion. Safe outcome: the read fails
/// (`ECANCELED`), and bytes written into the pipe afterwards stay there:
/// the buffers, now the program's and refilled with a canary, are never
/// written.
#[test]
fn a_reactor_readv_cut_by_its_deadline_writes_nothing_after() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let (rx, tx) = uring_tests::pipe();
    let fd = SharedFd::new(rx);
    let bufs = vec![Vec::with_capacity(8), Vec::with_capacity(24)];
    let (r, mut bufs) = reactor
        .run_until(reactor.op_with_deadline(
            uring::reactor::ops::ReadV::new(&fd, bufs, u64::MAX),
            Instant::now() + Duration::from_millis(20),
        ))
        .unwrap();
    assert_eq!(
        r.unwrap_err().raw_os_error(),
        Some(libc::ECANCELED),
        "the deadline cut the read"
    );
    for b in &mut bufs {
        assert!(b.is_empty(), "nothing was read: {b:?}");
        b.resize(b.capacity(), CANARY);
    }
    std::fs::File::from(tx).write_all(b"late bytes").unwrap();
    uring_tests::run_for(&reactor, 20);
    assert!(
        bufs.iter().all(|b| b.iter().all(|&x| x == CANARY)),
        "written after: {bufs:?}"
    );
    assert_eq!(drain_now(&fd), b"late bytes");
}

/// The reactor's multishot receive (`RecvMulti`) on a ring whose CQ holds
/// eight entries, fed one chunk per write while the reactor is not driven:
/// the completions fill the CQ, and the receive that finds no room
/// (`io_fill_cqe_aux` fails in `io_req_post_cqe`) ends the op with a last
/// completion that carries its bytes and buffer (`io_recv_finish`), into
/// the overflow list. Safe outcome: the stream yields every byte the
/// kernel took, the last completion's buffer included, in order, then
/// ends; what the kernel did not take stays in the socket (nothing lost,
/// nothing taken after the op's end).
#[test]
fn a_reactor_multishot_receive_stopped_by_a_full_cq_yields_its_last_buffer() {
    let _watch = uring_tests::watchdog();
    let Ok(ring) = Ring::builder().cq_entries(8).single_issuer().build(4) else {
        return skip("no ring of 8 CQ entries");
    };
    let reactor = Reactor::from_ring(ring).unwrap();
    let group = match reactor.register_buf_ring(uring::BufferGroup::new(9), 32, 64) {
        Ok(group) => group,
        Err(e) => return skip(format!("no provided-buffer rings: {e}")),
    };
    let (mut peer, sock) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(sock);
    let h = reactor.handle();
    let mut stream = h.stream(uring::reactor::ops::RecvMulti::new(&fd, group));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(stream.poll_next(&mut cx).is_pending());
    reactor.submit().unwrap();
    // Not driven: each write's task work posts one completion (the ring
    // runs it as the writing thread leaves the kernel), until the CQ is
    // full and the next receive ends the op.
    let mut sent = Vec::new();
    for chunk in 0..24u8 {
        let bytes = pattern(10, chunk);
        peer.write_all(&bytes).unwrap();
        sent.extend_from_slice(&bytes);
        std::thread::sleep(Duration::from_millis(2));
    }
    let total = sent.len();
    let (got, ended) = reactor
        .run_until(async {
            let mut got = Vec::new();
            let mut ended = false;
            while got.len() < total {
                match stream.next().await {
                    Some(Ok(Some(buf))) => got.extend_from_slice(&buf[..]),
                    Some(other) => panic!("an item that is no data: {other:?}"),
                    None => {
                        ended = true;
                        break;
                    }
                }
            }
            (got, ended)
        })
        .unwrap();
    assert_eq!(&got[..], &sent[..got.len()], "in order, each byte once");
    let mut rest = drain_now(&fd);
    assert_eq!(got.len() + rest.len(), total, "nothing lost");
    if ended {
        peer.write_all(b"left over").unwrap();
        uring_tests::run_for(&reactor, 20);
        rest = drain_now(&fd);
        assert_eq!(rest, b"left over", "taken after the stream ended");
    } else {
        skip("the CQ never filled: the receive ran to the end of the data");
    }
}

/// A `LinkTimeoutUpdate` linked behind a read of an empty pipe is issued
/// long after the kernel consumed its SQE, but `io_timeout_remove_prep`
/// read its timespec (`get_timespec64` of `addr2`, which points at the
/// ring-owned timespec of the SQE's slot) at prep. Meanwhile every SQ slot
/// is taken again by an hour-long `Timeout`, whose timespec overwrites the
/// slot's (on a plain ring and an SQPOLL ring). Safe outcome: once the
/// read ends, the update applies the 10 ms it was pushed with, so the
/// other read's link timeout fires and cancels it; the ring's reuse of the
/// slot's timespec changed nothing the kernel still had to read.
#[test]
fn a_linked_link_timeout_update_applies_the_timespec_it_was_pushed_with() {
    let _watch = uring_tests::watchdog();
    for kind in ["plain", "sqpoll"] {
        let Some(mut ring) = ring_of(kind, 4, 32) else {
            continue;
        };
        if !require_op::<uring::ops::LinkTimeoutUpdate>(&ring) {
            return;
        }
        let (rx_a, _tx_a) = uring_tests::pipe();
        let (rx_b, tx_b) = uring_tests::pipe();
        let (mut a, mut b) = ([CANARY; 4], [CANARY; 4]);
        let seen = ring.scope(|s| {
            s.push(
                Read::new(&rx_a, &mut a[..])
                    .user_data(1)
                    .timeout_with(Duration::from_secs(3600), 2),
            )
            .unwrap();
            s.push(Read::new(&rx_b, &mut b[..]).user_data(3).link(
                uring::ops::LinkTimeoutUpdate::new(2, Duration::from_millis(10)).user_data(4),
            ))
            .unwrap();
            s.submit().unwrap();
            for i in 0..4u64 {
                push_patiently(
                    s,
                    uring::ops::Timeout::new(Duration::from_secs(3600)).user_data(100 + i),
                );
                s.submit().unwrap();
            }
            let start = Instant::now();
            while s.space_left() < 4 {
                assert!(
                    start.elapsed() < PATIENCE,
                    "the timeouts were never consumed"
                );
                s.submit().unwrap();
                std::thread::sleep(Duration::from_millis(1));
            }
            let mut seen: Vec<Cqe> = Vec::new();
            seen.extend(s.completions().map(|c| c.cqe()));
            assert!(seen.is_empty(), "{kind}: nothing ended yet: {seen:?}");
            // A whole read: a short one would fail its link, and cancel
            // the update (`__io_complete_rw_common`).
            std::fs::File::from(tx_b).write_all(b"go!!").unwrap();
            reap_until(s, &mut seen, |seen| (1..=4).all(|ud| ended(seen, ud)));
            seen
        });
        assert_eq!(last_res(&seen, 3), 4, "{kind}: {seen:?}");
        assert_eq!(last_res(&seen, 4), 0, "{kind}: the update: {seen:?}");
        assert_eq!(
            last_res(&seen, 1),
            -libc::ECANCELED,
            "{kind}: the updated link timeout cut the read: {seen:?}"
        );
        assert_eq!(last_res(&seen, 2), -libc::ETIME, "{kind}: {seen:?}");
        assert_eq!(a, [CANARY; 4], "{kind}");
    }
}
