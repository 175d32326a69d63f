//! Attacks on the timing of the kernel's memory accesses, op by op, against
//! how long each safe path lends the memory.
//!
//! For each op the kernel reads or writes what an SQE points to at some
//! moment: at prep (when it consumes the SQE: a connect's or a send-to's
//! address, a timeout update's timespec, an epoll event, a futex vector),
//! at issue and at each retry (the bytes of a send or a receive, a
//! `MSG_WAITALL` transfer resumed after a short one, the socket commands,
//! which read their own SQE at issue), in task work when it completes (a
//! `WaitId`'s `siginfo`, an `EpollWait`'s events; on a
//! `IORING_SETUP_DEFER_TASKRUN` ring only at the next enter), and even
//! after the completion (a zero-copy send's pages until its notification).
//! The attacks make the kernel reach each of these moments as late as it
//! can (a peer that does not read, a worker pool of one held by a blocked
//! open, an SQ thread that consumes the SQEs after the scope's closure has
//! returned, SQ slots rewritten while a linked command waits, deferred
//! task work left pending when a scope ends, futures dropped and deadlines
//! fired in the middle of a transfer) and check, with canaries and with
//! what the peer receives, that the memory was still lent then: nothing is
//! written into memory after it was given back, and no byte changed after
//! it was given back reaches a peer.
//!
//! Every attack is safe code; `unsafe` appears only to set up (socket
//! options, a FIFO, an epoll instance) or to inspect (`SIOCOUTQ`, a raw
//! `futex` wake, canary bytes in a `siginfo_t`), each with a `// SAFETY:`
//! comment. Each test asserts the safe outcome.

use std::io::{IoSlice, IoSliceMut, Write as _};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::AtomicU32;
use std::time::{Duration, Instant};

use uring::ops::{
    Accept, Cancel, Connect, EpollWait, FutexWaitv, FutexWake, GetSockOpt, Nop, OpenAt, Read,
    RecvMsg, Send, SendMsg, SendMsgZc, SendZc, SetSockOpt, Statx, Timeout, TimeoutUpdate, WaitId,
};
use uring::reactor::{Reactor, SharedFd};
use uring::{
    AcceptFlags, Cqe, FutexFlags, FutexWaitV, IoWqWorkers, MsgFlags, MsgHdr, MsgHdrMut, Ring,
    Scope, SockAddr, SockAddrBuf, SockOpt, SqeFlags, WaitIdTarget,
};
use uring_tests::net::unacked;
use uring_tests::{PATIENCE, pattern, require_op, skip};

const CANARY: u8 = 0xa5;

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

/// A connected TCP pair over loopback whose receiving end advertises a
/// tiny window (its listener's `SO_RCVBUF`, inherited) and whose sending
/// end may queue a lot (`SO_SNDBUF`): most of what is sent stays in the
/// sender's queue, unacknowledged, until the receiver reads.
fn slow_tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    uring_tests::set_int_option(&listener, libc::SOL_SOCKET, libc::SO_RCVBUF, 4096)
        .expect("setsockopt");
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    uring_tests::set_int_option(&client, libc::SOL_SOCKET, libc::SO_SNDBUF, 4 << 20)
        .expect("setsockopt");
    (client, server)
}

/// Reads `n` bytes from `server` after `delay`, or what comes before the
/// peer closes, in a process of its own (see
/// [`late_reader`](uring_tests::net::late_reader)). (No shorter pause ends
/// it: a zero-copy send's notification waits for the peer to take every
/// byte, so a reader that gave up on a loaded machine would hold up the
/// scope waiting for it. `PATIENCE` without data ends it all the same.)
/// It first opens the window wide: with the tiny buffer `slow_tcp_pair`
/// set, loopback TCP reopens it only by the sender's backed-off probes.
fn delayed_reader(server: TcpStream, delay: Duration, n: usize) -> uring_tests::net::LateReader {
    uring_tests::net::late_reader_with(server, delay, 4 << 20, n)
}

/// Socket commands (`GetSockOpt`, `SetSockOpt`) read their arguments from
/// their own SQE when they are issued, not when the kernel consumes the
/// SQE. Linked behind reads of empty pipes, they are issued long after the
/// SQ head has passed them; meanwhile every SQ slot of a four-entry ring is
/// rewritten (NOPs, again and again, with and without `IOSQE_ASYNC` on the
/// commands). Safe outcome: each command acts on the option, value and
/// `optval` it was pushed with (the kernel copied the SQE when it linked
/// the command), never on the NOP that now fills its slot.
#[test]
fn linked_socket_commands_read_their_own_sqe_after_its_slot_is_reused() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    if !require_op::<GetSockOpt<'_>>(&ring) {
        return;
    }
    for async_flag in [false, true] {
        let getter = UdpSocket::bind("127.0.0.1:0").unwrap();
        let setter = UdpSocket::bind("127.0.0.1:0").unwrap();
        let reference = UdpSocket::bind("127.0.0.1:0").unwrap();
        let wanted = 7777 + i32::from(async_flag);
        uring_tests::set_int_option(&reference, libc::SOL_SOCKET, libc::SO_RCVBUF, wanted)
            .expect("setsockopt");
        let (rx1, tx1) = uring_tests::pipe();
        let (rx2, tx2) = uring_tests::pipe();
        let (mut b1, mut b2) = ([0u8; 1], [0u8; 1]);
        let mut optval = [CANARY; 4];
        let value = wanted.to_ne_bytes();
        let flags = if async_flag {
            SqeFlags::ASYNC
        } else {
            SqeFlags::EMPTY
        };
        let seen = ring.scope(|s| {
            let get = GetSockOpt::new(&getter, SockOpt::SO_RCVBUF, &mut optval[..])
                .flags(flags)
                .user_data(2);
            let set = SetSockOpt::new(&setter, SockOpt::SO_RCVBUF, &value[..])
                .flags(flags)
                .user_data(4);
            s.push(Read::new(&rx1, &mut b1[..]).user_data(1).link(get))
                .unwrap();
            s.push(Read::new(&rx2, &mut b2[..]).user_data(3).link(set))
                .unwrap();
            s.submit().unwrap();
            let mut seen = Vec::new();
            // Every slot of the SQ, rewritten four times over.
            for i in 0..16u64 {
                s.push(Nop::new().user_data(100 + i)).unwrap();
                reap_until(s, &mut seen, |seen| ended(seen, 100 + i));
            }
            assert!(
                !seen.iter().any(|c| c.user_data() < 100),
                "the reads had no data yet: {seen:?}"
            );
            std::fs::File::from(tx1).write_all(b"x").unwrap();
            std::fs::File::from(tx2).write_all(b"y").unwrap();
            reap_until(s, &mut seen, |seen| ended(seen, 2) && ended(seen, 4));
            seen
        });
        let res = |ud: u64| seen.iter().find(|c| c.user_data() == ud).unwrap().res();
        assert_eq!(res(2), 4, "getsockopt, async {async_flag}: {seen:?}");
        assert_eq!(
            i32::from_ne_bytes(optval),
            int_option(&getter, libc::SOL_SOCKET, libc::SO_RCVBUF),
            "getsockopt wrote its own option"
        );
        assert_eq!(res(4), 0, "setsockopt, async {async_flag}: {seen:?}");
        assert_eq!(
            int_option(&setter, libc::SOL_SOCKET, libc::SO_RCVBUF),
            int_option(&reference, libc::SOL_SOCKET, libc::SO_RCVBUF),
            "setsockopt set the value it was pushed with"
        );
    }
}

/// A zero-copy `sendmsg` whose message points at three buffers elsewhere,
/// queued while the peer reads nothing yet: its completion comes once the
/// bytes are queued, and the kernel holds pages of all three until its
/// notification. (A send larger than the socket's buffer would wait on
/// the peer's tiny window, which loopback TCP reopens only by the sender's
/// backed-off probes: seconds on a loaded machine.) Safe outcome: the
/// scope keeps the header, the iovecs and every buffer they point to until
/// the notification, so bytes written into the buffers after the scope
/// never reach the peer.
#[test]
fn a_zero_copy_sendmsg_keeps_every_buffer_its_iovecs_point_to_until_the_notification() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SendMsgZc<'_, '_>>(&ring) {
        return;
    }
    let (client, server) = slow_tcp_pair();
    let data = pattern(96 << 10, 21);
    let (mut a, mut b, mut c) = (
        data[..16 << 10].to_vec(),
        data[16 << 10..64 << 10].to_vec(),
        data[64 << 10..].to_vec(),
    );
    let reader = delayed_reader(server, Duration::from_millis(400), data.len());
    let (seen, queued) = {
        let iov = [IoSlice::new(&a), IoSlice::new(&b), IoSlice::new(&c)];
        let msg = MsgHdr::new(&iov);
        ring.scope(|s| {
            s.push(
                SendMsgZc::new(&client, &msg)
                    .msg_flags(MsgFlags::WAITALL)
                    .user_data(1),
            )
            .unwrap();
            s.submit().unwrap();
            std::thread::sleep(Duration::from_millis(100));
            let queued = unacked(client.as_raw_fd());
            let mut seen = Vec::new();
            reap_until(s, &mut seen, |seen| seen.iter().any(|c| c.user_data() == 1));
            (seen, queued)
        })
    };
    // Ours again: anything the kernel still sends from them shows.
    for buf in [&mut a, &mut b, &mut c] {
        buf.fill(0xee);
    }
    drop(client);
    let got = reader.join().unwrap();
    let first = seen.iter().find(|c| c.user_data() == 1).unwrap();
    if matches!(-first.res(), libc::EINVAL | libc::EOPNOTSUPP) {
        return skip("zero-copy sends are not supported here");
    }
    assert!(queued > 0, "the send had bytes in flight: {queued}");
    assert!(!got.is_empty(), "the peer got the bytes sent");
    let first_bad = got.iter().zip(&data).position(|(x, y)| x != y);
    assert_eq!(
        first_bad,
        None,
        "the peer got bytes written after the scope returned ({} bytes): {seen:?}",
        got.len()
    );
}

/// A zero-copy send of a buffer the scope owns (`push_owned`), whose pages
/// stay queued after the send's first completion because the peer reads
/// nothing yet. Right after that completion the scope allocates buffers of
/// the same size full of `0xee`, which would take the owned buffer's place
/// in the heap had the scope freed it then. Safe outcome: the owned buffer
/// lives until the notification, and the peer gets the bytes it held.
#[test]
fn an_owned_zero_copy_buffer_is_not_freed_before_the_notification() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SendZc<'_>>(&ring) {
        return;
    }
    // Below glibc's mmap threshold: a freed buffer stays in the heap, to
    // be handed out again to the next allocation of its size.
    let size = 96 << 10;
    let data = pattern(size, 33);
    let (client, server) = slow_tcp_pair();
    let mut bait = Vec::new();
    let mut reader = None;
    let (first, queued) = ring.scope(|s| {
        s.push_owned(data.clone(), |buf, sq| {
            sq.push(SendZc::new(&client, &*buf).user_data(1))
        })
        .unwrap();
        s.submit().unwrap();
        let mut seen = Vec::new();
        reap_until(s, &mut seen, |seen| seen.iter().any(|c| c.user_data() == 1));
        let queued = unacked(client.as_raw_fd());
        for _ in 0..16 {
            bait.push(vec![0xeeu8; size]);
        }
        reader = Some(delayed_reader(server, Duration::from_millis(200), size));
        (seen[0], queued)
    });
    drop(client);
    let got = reader.unwrap().join().unwrap();
    drop(bait);
    if matches!(-first.res(), libc::EINVAL | libc::EOPNOTSUPP) {
        return skip("zero-copy sends are not supported here");
    }
    assert!(first.has_more(), "the send's first completion: {first:?}");
    assert!(queued > 0, "the send had bytes in flight: {queued}");
    let n = first.res() as usize;
    assert_eq!(got.len(), n, "the peer got what was sent");
    let first_bad = got.iter().zip(&data).position(|(x, y)| x != y);
    assert_eq!(first_bad, None, "the peer got bytes of another allocation");
}

/// A reactor's zero-copy send whose future is dropped (or detached) while
/// its pages stay queued, then buffers of the same size full of `0xee` are
/// allocated, while the reactor keeps running. Safe outcome: the reactor
/// keeps the send's buffer until the notification, so the peer gets only
/// the bytes the buffer held.
#[test]
fn a_dropped_reactor_zero_copy_send_keeps_its_buffer_until_the_notification() {
    let _watch = uring_tests::watchdog();
    for detach in [false, true] {
        let reactor = Reactor::new().unwrap();
        let size = 96 << 10;
        let data = pattern(size, 45 + u8::from(detach));
        let (client, server) = slow_tcp_pair();
        let client_fd = client.as_raw_fd();
        let fd = SharedFd::new(client);
        let mut f = reactor.op(uring::reactor::ops::SendZc::new(&fd, data.clone()));
        assert!(uring_tests::poll_once(&mut f).is_pending());
        reactor.submit().unwrap();
        uring_tests::run_for(&reactor, 20);
        if detach {
            f.detach();
        } else {
            drop(f);
        }
        // (`fd` keeps the descriptor open.)
        let queued = unacked(client_fd);
        let bait: Vec<Vec<u8>> = (0..16).map(|_| vec![0xeeu8; size]).collect();
        let reader = delayed_reader(server, Duration::from_millis(100), size);
        let start = Instant::now();
        // Twice the reader's patience: when the peer's window stays shut
        // (TCP under memory pressure from other tests opens it late), the
        // send ends only once the reader gives up and its close resets
        // the connection, `PATIENCE` after its last read.
        while reactor.in_flight() > 0 {
            uring_tests::run_for(&reactor, 20);
            assert!(start.elapsed() < 2 * PATIENCE, "the send never ended");
        }
        drop(fd);
        let got = reader.join().unwrap();
        drop(bait);
        if got.is_empty() && queued == 0 {
            return skip("zero-copy sends sent nothing here");
        }
        assert!(queued > 0, "the send had bytes in flight: {queued}");
        let first_bad = got.iter().zip(&data).position(|(x, y)| x != y);
        assert_eq!(
            first_bad,
            None,
            "the peer got bytes of another allocation (detach {detach}, {} bytes)",
            got.len()
        );
    }
}

/// A `MSG_WAITALL` send to a peer that reads nothing yet, cut short by a
/// cancel: the kernel retries such a send after each short transfer,
/// reading the buffer again. Safe outcome: once the scope has returned the
/// kernel reads nothing more of the buffer, so the peer gets exactly the
/// bytes the send's completion counted, all from before the scope's end.
#[test]
fn a_waitall_send_cut_short_reads_nothing_after_its_scope() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (client, server) = slow_tcp_pair();
    let data = pattern(8 << 20, 57);
    let mut buf = data.clone();
    let reader = delayed_reader(server, Duration::from_millis(300), data.len());
    let seen = ring.scope(|s| {
        s.push(
            Send::new(&client, &buf[..])
                .msg_flags(MsgFlags::WAITALL)
                .user_data(1),
        )
        .unwrap();
        s.submit().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        s.push(Cancel::new(1).user_data(2)).unwrap();
        let mut seen = Vec::new();
        reap_until(s, &mut seen, |seen| ended(seen, 1));
        seen
    });
    buf.fill(0xee);
    drop(client);
    let got = reader.join().unwrap();
    let sent = seen.iter().find(|c| c.user_data() == 1).unwrap().res();
    assert!(sent > 0 && (sent as usize) < data.len(), "{seen:?}");
    assert_eq!(got.len(), sent as usize, "the peer got what was counted");
    assert!(got == data[..got.len()], "the peer got bytes changed later");
}

/// A `TimeoutUpdate` pushed with `Ring::push` on an SQPOLL ring of two
/// entries: the SQ thread reads the update's ring-owned timespec whenever
/// it consumes the SQE, while the program keeps pushing timeouts of 60 s
/// into the same two slots (and timespecs). Safe outcome: the update
/// applies its own 20 ms, so the timeout fires at once, never 60 s.
#[test]
fn a_timeout_update_read_by_the_sq_thread_applies_its_own_timespec() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_sqpoll() {
        return;
    }
    let mut ring = Ring::builder()
        .sqpoll(Duration::from_millis(1))
        .build(2)
        .unwrap();
    if !require_op::<TimeoutUpdate>(&ring) {
        return;
    }
    let long = Duration::from_secs(60);
    let push = |ring: &mut Ring, user_data: u64| loop {
        match ring.push(Timeout::new(long).user_data(user_data)) {
            Ok(()) => break,
            Err(_) => {
                ring.submit().unwrap();
                std::thread::yield_now();
            }
        }
    };
    push(&mut ring, 1);
    loop {
        match ring.push(TimeoutUpdate::new(1, Duration::from_millis(20)).user_data(2)) {
            Ok(()) => break,
            Err(_) => {
                ring.submit().unwrap();
                std::thread::yield_now();
            }
        }
    }
    for i in 0..64 {
        push(&mut ring, 100 + i);
    }
    ring.submit().unwrap();
    let start = Instant::now();
    let mut seen = Vec::new();
    while !seen.iter().any(|c: &Cqe| c.user_data() == 1) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the updated timeout did not fire: {seen:?}"
        );
        ring.submit().unwrap();
        std::thread::sleep(Duration::from_millis(5));
        seen.extend(ring.completions());
    }
    let res = |seen: &[Cqe], ud: u64| seen.iter().find(|c| c.user_data() == ud).map(|c| c.res());
    assert_eq!(res(&seen, 1), Some(-libc::ETIME), "{seen:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
    let update = loop {
        if let Some(r) = res(&seen, 2) {
            break r;
        }
        ring.submit().unwrap();
        std::thread::sleep(Duration::from_millis(5));
        seen.extend(ring.completions());
    };
    assert_eq!(update, 0, "{seen:?}");
}

/// Waits until the child `pid` has exited, without reaping it
/// (`waitid(2)` with `WNOWAIT`). The kernel finds an exited child only once
/// its exit has woken every waiter of the parent, an io_uring `WaitId`
/// among them (`exit_notify` holds `tasklist_lock` across both).
fn wait_for_exit(pid: libc::pid_t) {
    // SAFETY: all-zero bytes are a valid `siginfo_t`.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: set-up: waitid writes one `siginfo_t` into `info`.
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOWAIT,
        )
    };
    assert_eq!(rc, 0, "waitid: {}", std::io::Error::last_os_error());
}

/// On an `IORING_SETUP_DEFER_TASKRUN` ring the kernel writes a `WaitId`'s
/// `siginfo` and an `EpollWait`'s events in task work that runs only at
/// the next enter. Each scope here pushes its op, lets the child exit or
/// the pipe become readable while it makes no enter (the writes pending),
/// and returns. Safe outcome: the scope's end runs that task work before
/// it returns (the `siginfo` names the child), and nothing is written into
/// the memory afterwards.
#[test]
fn deferred_task_work_writes_land_before_the_scope_returns() {
    let _watch = uring_tests::watchdog();
    let Ok(mut ring) = Ring::builder().single_issuer().defer_taskrun().build(8) else {
        return skip("no IORING_SETUP_DEFER_TASKRUN (6.1)");
    };
    if require_op::<WaitId<'_>>(&ring) {
        let mut child = std::process::Command::new("sleep")
            .arg("0.1")
            .spawn()
            .unwrap();
        let pid = child.id() as libc::pid_t;
        // SAFETY: all-zero bytes are a valid `siginfo_t`.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        ring.scope(|s| {
            s.push(WaitId::new(
                WaitIdTarget::pid(pid),
                libc::WEXITED | libc::WNOWAIT,
                &mut info,
            ))
            .unwrap();
            s.submit().unwrap();
            // The child exits meanwhile; its wake-up waits as task work.
            wait_for_exit(pid);
        });
        // SAFETY: inspection: the kernel filled the fields of a child's
        // state, or nothing.
        let got = unsafe { info.si_pid() };
        assert_eq!(
            got, pid,
            "the siginfo was written before the scope returned"
        );
        info.si_signo = 0x5a5a;
        info.si_code = 0x5a5a;
        assert!(child.wait().unwrap().success());
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            (info.si_signo, info.si_code),
            (0x5a5a, 0x5a5a),
            "the kernel wrote into the siginfo after the scope returned"
        );
    }
    if require_op::<EpollWait<'_>>(&ring) {
        let (mut tx, rx) = UnixStream::pair().unwrap();
        let epoll = uring_tests::epoll_watching(rx.as_fd(), 0x1234);
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
        ring.scope(|s| {
            s.push(EpollWait::new(&epoll, &mut events[..])).unwrap();
            s.submit().unwrap();
            tx.write_all(b"x").unwrap();
            std::thread::sleep(Duration::from_millis(100));
        });
        for e in &mut events {
            e.u64 = 0x5a5a;
        }
        tx.write_all(b"more").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            events.iter().all(|e| { e.u64 } == 0x5a5a),
            "the kernel wrote an event after the scope returned"
        );
    }
}

/// `Statx` runs in an io-wq worker, which writes the status while the
/// ring's task is elsewhere; on a deferred-task-work ring its completion
/// is posted only at the next enter. The scope returns without waiting
/// (its closure sleeps, then returns). Safe outcome: the status is in the
/// buffer when the scope returns, and nothing is written after. (A statx
/// still queued for a worker when the scope ends is cancelled, and writes
/// nothing: then the closure sleeps longer, until a worker ran it first.)
#[test]
fn a_statx_written_by_a_worker_lands_before_the_scope_returns() {
    let _watch = uring_tests::watchdog();
    for deferred in [false, true] {
        let built = if deferred {
            Ring::builder().single_issuer().defer_taskrun().build(8)
        } else {
            Ring::new(8)
        };
        let Ok(mut ring) = built else {
            return skip("no IORING_SETUP_DEFER_TASKRUN (6.1)");
        };
        if !require_op::<Statx<'_>>(&ring) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sized");
        let cpath = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        let mut landed = false;
        for attempt in 0..6 {
            std::fs::write(&path, vec![1u8; 12345]).unwrap();
            // SAFETY: all-zero bytes are a valid `statx`.
            let mut stx: libc::statx = unsafe { std::mem::zeroed() };
            ring.scope(|s| {
                s.push(Statx::new(uring::Fd::CWD, &cpath, &mut stx))
                    .unwrap();
                s.submit().unwrap();
                std::thread::sleep(Duration::from_millis(50 << attempt));
            });
            let untouched = stx.stx_mask == 0 && stx.stx_size == 0;
            if !untouched {
                assert_eq!(stx.stx_size, 12345, "deferred {deferred}");
                landed = true;
            }
            stx.stx_size = 0x5a5a;
            std::fs::write(&path, vec![1u8; 99]).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            assert_eq!(stx.stx_size, 0x5a5a, "written after the scope returned");
            if landed {
                break;
            }
        }
        assert!(
            landed,
            "deferred {deferred}: no worker ran the statx before its scope ended"
        );
    }
}

/// A `FutexWaitv` cut short by its scope: the kernel copied the vector at
/// prep and queued a waiter on each word. Safe outcome: no waiter outlives
/// the scope, so a wake of either word afterwards wakes nobody.
#[test]
fn a_futex_waitv_cut_short_by_its_scope_leaves_no_waiter() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FutexWaitv<'_>>(&ring) {
        return;
    }
    let (w1, w2) = (AtomicU32::new(5), AtomicU32::new(7));
    let vector = [
        FutexWaitV::new(&w1, 5, FutexFlags::PRIVATE),
        FutexWaitV::new(&w2, 7, FutexFlags::PRIVATE),
    ];
    ring.scope(|s| {
        s.push(FutexWaitv::new(&vector[..]).user_data(1)).unwrap();
        s.submit().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(s.ready(), 0, "the wait is still pending");
    });
    for w in [&w1, &w2] {
        let cqe = uring_tests::complete(
            &mut ring,
            FutexWake::new(w, 10).futex_flags(FutexFlags::PRIVATE),
        );
        assert_eq!(cqe.res(), 0, "a waiter outlived its scope: {cqe:?}");
    }
}

/// A multishot accept with a peer address writes the address at every
/// connection. Cut short by its scope after one: safe outcome, the address
/// buffer (reset after the scope) is not written when another client
/// connects.
#[test]
fn a_multishot_accept_cut_short_writes_no_peer_address_after() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut peer = SockAddrBuf::new();
    let mut accepted = Vec::new();
    let first = TcpStream::connect(addr).unwrap();
    ring.scope(|s| {
        s.push(
            Accept::new(&listener)
                .peer(Some(&mut peer))
                .iou_flags(AcceptFlags::MULTISHOT)
                .user_data(1),
        )
        .unwrap();
        let mut seen = Vec::new();
        reap_until(s, &mut seen, |seen| !seen.is_empty());
        for c in &seen {
            if c.res() >= 0 {
                // SAFETY: inspection: an accept's result is a new
                // descriptor nothing else owns.
                accepted.push(unsafe { OwnedFd::from_raw_fd(c.res()) });
            }
        }
        assert!(seen[0].has_more(), "{seen:?}");
    });
    assert_eq!(peer.socket_addr(), Some(first.local_addr().unwrap()));
    peer = SockAddrBuf::new();
    let _second = TcpStream::connect(addr).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        peer.socket_addr(),
        None,
        "the kernel wrote a peer address after the scope returned"
    );
    drop(accepted);
}

/// A `MSG_WAITALL` `recvmsg` into two iovecs gets part of what it waits
/// for, and the kernel re-arms it to write the rest where the first part
/// ended; the scope ends (cancelling it) with the rest still to come, on a
/// plain ring, a deferred-task-work ring (whose retry waits as task work)
/// and an SQPOLL ring. Safe outcome: the part is in the buffers, and
/// nothing lands in them after the scope.
#[test]
fn a_waitall_recvmsg_cut_short_writes_nothing_after_on_every_ring_kind() {
    let _watch = uring_tests::watchdog();
    for kind in ["plain", "defer_taskrun", "sqpoll"] {
        let built = match kind {
            "plain" => Ring::new(8),
            "defer_taskrun" => Ring::builder().single_issuer().defer_taskrun().build(8),
            _ => Ring::builder().sqpoll(Duration::from_millis(1)).build(8),
        };
        let Ok(mut ring) = built else {
            skip(format_args!("no {kind} ring here"));
            continue;
        };
        let (mut tx, rx) = UnixStream::pair().unwrap();
        let (mut a, mut b) = ([CANARY; 16], [CANARY; 48]);
        {
            let mut iov = [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)];
            let mut msg = MsgHdrMut::new(&mut iov);
            ring.scope(|s| {
                s.push(
                    RecvMsg::new(&rx, &mut msg)
                        .msg_flags(MsgFlags::WAITALL)
                        .user_data(1),
                )
                .unwrap();
                s.submit().unwrap();
                std::thread::sleep(Duration::from_millis(20));
                tx.write_all(b"0123456789abcdefXYZ").unwrap();
                std::thread::sleep(Duration::from_millis(50));
            });
        }
        // The part came in before the scope returned, or the cancel won
        // the race with the task work that would have received it.
        let untouched = a.iter().chain(&b).all(|&x| x == CANARY);
        assert!(
            untouched || (&a == b"0123456789abcdef" && &b[..3] == b"XYZ"),
            "{kind}: {a:?} {b:?}"
        );
        a.fill(CANARY);
        b.fill(CANARY);
        uring_tests::assert_nothing_writes_after(&mut [&mut tx], &[&a, &b], CANARY);
    }
}

/// Two io-wq workers at most (one per kind), the unbound one held by an
/// `OpenAt` of a FIFO that no writer opens (flagged `IOSQE_ASYNC`, so that
/// it blocks in the worker rather than open without waiting); a `Read` of
/// a pipe flagged `IOSQE_ASYNC` waits in io-wq's queue behind it. The
/// scope ends with both in flight: the queued read is completed with
/// `-ECANCELED` without running, the open is interrupted. Safe outcome:
/// when the pipe gets data and the FIFO a writer after the scope (which
/// would let a still-queued read go on), nothing is written into the
/// read's buffer.
#[test]
fn an_io_wq_read_queued_behind_a_blocked_worker_writes_nothing_after() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if ring
        .set_iowq_max_workers(IoWqWorkers {
            bounded: 1,
            unbounded: 1,
        })
        .is_err()
    {
        return skip("no IORING_REGISTER_IOWQ_MAX_WORKERS (5.15)");
    }
    let dir = tempfile::tempdir().unwrap();
    let fifo = std::ffi::CString::new(
        dir.path()
            .join("fifo")
            .as_os_str()
            .as_encoded_bytes()
            .to_vec(),
    )
    .unwrap();
    // SAFETY: set-up: mkfifo reads a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let (rx, tx) = uring_tests::pipe();
    let mut buf = vec![CANARY; 4096];
    let ready_before_end = ring.scope(|s| {
        s.push(
            OpenAt::new(uring::Fd::CWD, &fifo)
                .open_flags(libc::O_RDONLY | libc::O_CLOEXEC)
                .flags(SqeFlags::ASYNC)
                .user_data(1),
        )
        .unwrap();
        s.submit().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        s.push(
            Read::new(&rx, &mut buf[..])
                .flags(SqeFlags::ASYNC)
                .user_data(2),
        )
        .unwrap();
        s.submit().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        s.ready()
    });
    buf.fill(CANARY);
    std::fs::File::from(tx).write_all(b"late data").unwrap();
    // A writer end opened now would release an opener still blocked.
    // SAFETY: set-up: a non-blocking open of the FIFO's path.
    let writer = unsafe { libc::open(fifo.as_ptr(), libc::O_WRONLY | libc::O_NONBLOCK) };
    std::thread::sleep(Duration::from_millis(100));
    if writer >= 0 {
        // SAFETY: the descriptor was just opened, and is owned here.
        drop(unsafe { OwnedFd::from_raw_fd(writer) });
    }
    assert_eq!(ready_before_end, 0, "both ops were held in io-wq");
    assert!(
        buf.iter().all(|&x| x == CANARY),
        "the read wrote into its buffer after the scope returned"
    );
}

/// On an SQPOLL ring, a scope pushes a `SendMsg` to an address (read from
/// the header when the SQ thread consumes the SQE) and a `Connect` (whose
/// address is read then too), and returns at once, without a submit or a
/// wait: the SQ thread consumes the SQEs after the closure is done. Safe
/// outcome: the scope keeps header, iovec, payload and addresses until the
/// ops completed, so the datagram and the connection reach their own
/// addresses with their own bytes, whatever the program writes there after.
#[test]
fn an_sqpoll_scope_keeps_what_the_sq_thread_reads_after_its_closure_returned() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_sqpoll() {
        return;
    }
    let mut ring = Ring::builder()
        .sqpoll(Duration::from_millis(50))
        .build(8)
        .unwrap();
    let target = UdpSocket::bind("127.0.0.1:0").unwrap();
    let other = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let stream = uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
    let mut payload = *b"sent from the scope";
    let mut dest = SockAddr::from(target.local_addr().unwrap());
    let mut conn = SockAddr::from(listener.local_addr().unwrap());
    {
        let iov = [IoSlice::new(&payload)];
        let msg = MsgHdr::new(&iov).to(&dest);
        ring.scope(|s| {
            s.push(SendMsg::new(&sender, &msg).user_data(1)).unwrap();
            s.push(Connect::new(&stream, &conn).user_data(2)).unwrap();
        });
    }
    payload.fill(b'!');
    dest = SockAddr::from(other.local_addr().unwrap());
    conn = SockAddr::from(other.local_addr().unwrap());
    let _ = (&dest, &conn);
    target
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut got = [0u8; 64];
    let (n, from) = target.recv_from(&mut got).unwrap();
    assert_eq!(&got[..n], b"sent from the scope");
    assert_eq!(from, sender.local_addr().unwrap());
    // The connect may have been cancelled by the scope's end, but if it
    // reached anywhere, it reached the listener.
    listener.set_nonblocking(true).unwrap();
    let start = Instant::now();
    let peer = loop {
        match listener.accept() {
            Ok((_, peer)) => break Some(peer),
            Err(_) if start.elapsed() < Duration::from_millis(500) => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(_) => break None,
        }
    };
    if let Some(peer) = peer {
        assert_eq!(Some(peer), uring_tests::local_addr(stream.as_fd()).ok());
    }
    other.set_nonblocking(true).unwrap();
    assert!(
        other.recv(&mut got).is_err(),
        "nothing went to the other address"
    );
}

/// Reactor receives cut by their deadline in the middle: a datagram
/// `RecvFrom` (whose header and address live in the op) that times out,
/// and a `MSG_WAITALL` receive that got part of its bytes. Safe outcome:
/// the buffer each hands back (now the program's) is not written when
/// more bytes come.
#[test]
fn reactor_receives_cut_by_their_deadline_write_nothing_after() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    // A datagram receive with its own header and address.
    let mut udp = uring::net::UdpSocket::bind(&handle, "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = udp.local_addr().unwrap();
    udp.set_read_deadline(Some(Instant::now() + Duration::from_millis(50)));
    let (r, mut buf) = reactor.run_until(udp.recv_from(vec![0u8; 64])).unwrap();
    assert!(r.is_err(), "{r:?}");
    buf.clear();
    buf.resize(buf.capacity(), CANARY);
    let std_sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    std_sender.send_to(b"late datagram", addr).unwrap();
    uring_tests::run_for(&reactor, 50);
    assert!(buf.iter().all(|&x| x == CANARY), "written after: {buf:?}");
    // A MSG_WAITALL receive that got part of what it waits for.
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(rx);
    tx.write_all(b"0123456789").unwrap();
    let (r, mut buf) = reactor
        .run_until(reactor.op_with_deadline(
            uring::reactor::ops::Recv::new(&fd, Vec::with_capacity(64)).flags(MsgFlags::WAITALL),
            Instant::now() + Duration::from_millis(50),
        ))
        .unwrap();
    assert_eq!(r.ok(), Some(10), "the part received");
    assert_eq!(&buf[..], b"0123456789");
    buf.clear();
    buf.resize(buf.capacity(), CANARY);
    tx.write_all(&[0u8; 64]).unwrap();
    uring_tests::run_for(&reactor, 50);
    assert!(buf.iter().all(|&x| x == CANARY), "written after: {buf:?}");
}
