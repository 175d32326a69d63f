//! Ring restrictions, personalities, io-wq worker limits and NAPI busy
//! polling, attacked through the SQEs and register calls the library
//! makes on its own, which the program never asked for.
//!
//! A ring created disabled takes restrictions (`io_register_restrictions`,
//! `io_parse_restrictions` in Linux 6.18's `io_uring/register.c`) before
//! `Ring::enable`; from then on `io_init_req` (`io_uring/io_uring.c`)
//! refuses every SQE whose opcode or flags they do not allow
//! (`io_check_restriction`) with `-EACCES`, and `io_submit_fail_init` fails
//! the rest of its chain (`-ECANCELED`, the refused SQE keeping its own
//! `-EACCES`); `__io_uring_register` refuses every register opcode they do
//! not name. The library relies on some of those itself:
//!
//! - the reactor's wake-up (`Core::arm_wakeup`: a multishot `POLL_ADD` on
//!   its eventfd, which `Remote`s and wakers from other threads write);
//! - the reactor's deadlines (`Core::launch`: the op flagged
//!   `IOSQE_IO_LINK`, then a `LINK_TIMEOUT`), and its cancels
//!   (`ASYNC_CANCEL` SQEs, then `IORING_REGISTER_SYNC_CANCEL`);
//! - a scope's `IOSQE_ASYNC` on reads of an incremental buffer group
//!   (`screen_selection`), its reading of the group's head at an empty
//!   completion (`IORING_REGISTER_PBUF_STATUS`, `ScopeTable::leave_group`),
//!   and the `NOP` that stands for an op it refuses (`scope::refuse`);
//! - registrations the program did ask for, whose undoing the restrictions
//!   may forbid (personalities, NAPI).
//!
//! Personalities are the credentials an op runs with (`io_init_req` takes
//! `req->creds` from the ring's table; `io_issue_sqe` and io-wq override
//! with them); io-wq's worker limits (`io_register_iowq_max_workers`) bound
//! how many blocking ops run at once; `io_uring/cancel.c` reaches an op a
//! worker runs by signalling the worker (`io_wq_cancel_cb`).
//!
//! Each test asserts what the kernel and the library really did: results
//! and errnos, which bytes moved, what a buffer still holds, how long a
//! wait took and how much CPU it burnt.

use std::cell::RefCell;
use std::ffi::CString;
use std::io::{Read as _, Write as _};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use uring::ops::{Nop, OpenAt, Read, Recv};
use uring::reactor::{Reactor, SharedFd, ops as rops};
use uring::{
    BufferGroup, Fd, IoWqWorkers, MsgFlags, NapiSettings, NapiTracking, Restriction, Ring,
    SqeFlags, sys,
};
use uring_tests::{PATIENCE, in_own_process, pipe, skip, watchdog};

/// The CPU time this thread has used so far (`/proc/thread-self/schedstat`,
/// nanoseconds on a CPU).
fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    let ns: u64 = text.split_whitespace().next().unwrap().parse().unwrap();
    Duration::from_nanos(ns)
}

/// Whether `/proc/thread-self/schedstat` can be read here.
fn has_schedstat() -> bool {
    if std::fs::read_to_string("/proc/thread-self/schedstat").is_ok() {
        return true;
    }
    skip("no /proc/thread-self/schedstat: the CPU time of a wait cannot be measured");
    false
}

/// Allows the opcode `code`.
fn op(code: u8) -> Restriction {
    Restriction::opcode(code)
}

/// A ring created disabled, restricted to `rules`, not yet enabled.
fn restricted(rules: &[Restriction]) -> Ring {
    let mut ring = Ring::builder().r_disabled().build(8).unwrap();
    ring.register_restrictions(rules).unwrap();
    ring
}

/// A reactor over a ring restricted to `rules` (the reactor enables it).
fn reactor_with(rules: &[Restriction]) -> Reactor {
    Reactor::from_ring(restricted(rules)).unwrap()
}

/// What the errno of an `io::Result` is.
fn os_errno<T>(r: &std::io::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(|e| e.raw_os_error())
}

/// How long a pipe read's reactor waits before bytes arrive.
const LATE: Duration = Duration::from_millis(300);

/// Runs `reactor` until a read of an empty pipe gets the bytes a thread
/// writes after [`LATE`]; returns the read's result and bytes, the wall
/// time and this thread's CPU time over the run.
fn wait_for_a_late_pipe_read(
    reactor: &Reactor,
) -> (std::io::Result<u32>, Vec<u8>, Duration, Duration) {
    let (rx, tx) = pipe();
    let rx = SharedFd::new(rx);
    let writer = std::thread::spawn(move || {
        std::thread::sleep(LATE);
        std::fs::File::from(tx).write_all(b"late").unwrap();
    });
    let cpu = thread_cpu();
    let started = Instant::now();
    let (r, buf) = reactor
        .run_until(reactor.op(rops::Read::new(&rx, vec![0u8; 8], u64::MAX)))
        .unwrap();
    let wall = started.elapsed();
    let cpu = thread_cpu() - cpu;
    writer.join().unwrap();
    (r, buf, wall, cpu)
}

/// Runs `reactor` (`Reactor::run`) while a `Remote` on another thread
/// queues a NOP after [`LATE`] and is then dropped; returns the NOP's
/// result as the callback saw it, the wall time and this thread's CPU time.
fn serve_a_late_remote(reactor: &Reactor) -> (Option<Result<u32, String>>, Duration, Duration) {
    let remote = reactor.remote();
    let (tx, rx) = std::sync::mpsc::channel();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(LATE);
        remote
            .queue(rops::Nop, move |r, ()| {
                tx.send(r.map_err(|e| e.to_string())).unwrap();
            })
            .unwrap();
        drop(remote);
    });
    let cpu = thread_cpu();
    let started = Instant::now();
    reactor.run().unwrap();
    let wall = started.elapsed();
    let cpu = thread_cpu() - cpu;
    sender.join().unwrap();
    (rx.try_recv().ok(), wall, cpu)
}

/// The rules of a ring that allows what a reactor's reads need but its
/// wake-up poll: reads, NOPs and cancel requests, no `POLL_ADD`.
fn no_poll_rules() -> Vec<Restriction> {
    vec![
        op(sys::IORING_OP_READ),
        op(sys::IORING_OP_NOP),
        op(sys::IORING_OP_ASYNC_CANCEL),
    ]
}

// ---------------------------------------------------------------------------
// The reactor's own SQEs, refused
// ---------------------------------------------------------------------------

/// A reactor over a ring whose restrictions allow reads, NOPs and cancels
/// but not `POLL_ADD`, the opcode of its wake-up poll. `Core::arm_wakeup`
/// pushes the poll before a wait that another thread may have to end (of
/// `run_until`, of `run` with a `Remote` alive); the kernel refuses it at
/// once (`-EACCES`, no `IORING_CQE_F_MORE`). Were it armed again before
/// each wait, every wait would end at once on its refusal, and the thread
/// would spin through `io_uring_enter` for as long as it waits. The
/// reactor instead stops arming it and bounds those waits: a read of a
/// pipe written after 300 ms, and a `Remote`'s NOP sent after 300 ms,
/// each keep the thread on a CPU for under a quarter of their wait.
#[test]
fn a_reactor_whose_ring_refuses_its_wakeup_poll_does_not_spin_while_it_waits() {
    let _watch = watchdog();
    if !has_schedstat() {
        return;
    }
    let reactor = reactor_with(&no_poll_rules());
    let (r, buf, wall, cpu) = wait_for_a_late_pipe_read(&reactor);
    assert_eq!(r.unwrap(), 4);
    assert_eq!(&buf[..4], b"late");
    assert!(wall >= LATE - Duration::from_millis(50), "{wall:?}");
    assert!(
        cpu < wall / 4,
        "a read waited {wall:?} and the reactor's thread was on a CPU for {cpu:?} of it"
    );
    let (got, wall, cpu) = serve_a_late_remote(&reactor);
    assert_eq!(got, Some(Ok(0)));
    assert!(
        cpu < wall / 4,
        "a run served a remote after {wall:?} and was on a CPU for {cpu:?} of it"
    );
}

/// The same reactor as above, for what it does get right: with its wake-up
/// poll refused at every wait, a pipe read still gets the bytes written
/// 300 ms later (once, into its buffer), a `Remote`'s NOP sent from another
/// thread still runs (its callback once, with 0), `run` returns once the
/// remote is gone, and nothing is left in flight: no completion is lost,
/// and the program is never stuck. Beside it, the same waits on a reactor
/// whose ring allows `POLL_ADD` sleep (under a quarter of their time on a CPU),
/// which is what makes the measure of the test above meaningful.
#[test]
fn a_reactor_whose_ring_refuses_its_wakeup_poll_still_serves_reads_and_remotes() {
    let _watch = watchdog();
    if !has_schedstat() {
        return;
    }
    for allows_poll in [true, false] {
        let mut rules = no_poll_rules();
        if allows_poll {
            rules.push(op(sys::IORING_OP_POLL_ADD));
        }
        let reactor = reactor_with(&rules);
        let (r, buf, wall, cpu) = wait_for_a_late_pipe_read(&reactor);
        assert_eq!(r.unwrap(), 4, "poll allowed {allows_poll}");
        assert_eq!(buf, b"late\0\0\0\0", "poll allowed {allows_poll}");
        assert!(wall >= LATE - Duration::from_millis(50), "{wall:?}");
        let (got, remote_wall, remote_cpu) = serve_a_late_remote(&reactor);
        assert_eq!(got, Some(Ok(0)), "poll allowed {allows_poll}");
        assert!(remote_wall >= LATE - Duration::from_millis(50));
        assert_eq!(reactor.in_flight(), 0, "poll allowed {allows_poll}");
        if allows_poll {
            assert!(
                cpu < wall / 4 && remote_cpu < remote_wall / 4,
                "the reactor with its wake-up poll spun: {cpu:?} of {wall:?}, \
                 {remote_cpu:?} of {remote_wall:?}"
            );
        }
    }
}

/// A reactor over a ring that allows `IOSQE_IO_LINK` but not
/// `LINK_TIMEOUT`, registered through the ring. `io_init_req` would refuse
/// the link timeout an op queued with a deadline is pushed with, and
/// `io_submit_fail_init` fail the op it bounds with `-ECANCELED` before it
/// ever ran, as if its deadline had passed (and the timeout's `-EACCES`
/// would pass for a refused cancel, so that the shutdown leaked what was
/// in flight). The reactor knows the rules: the op is refused up front
/// with the kernel's `EACCES`, unrun, its buffer untouched and the bytes
/// still in the pipe; a `TcpStream` read with a read deadline an hour away
/// fails the same, the bytes still in the socket. No link timeout reached
/// the kernel, so nothing says cancels are refused: the shutdown cancels a
/// read still waiting, whose callback runs once with `ECANCELED`.
#[test]
fn a_deadline_on_a_ring_that_refuses_link_timeouts_is_refused_up_front() {
    let _watch = watchdog();
    let reactor = reactor_with(&[
        op(sys::IORING_OP_READ),
        op(sys::IORING_OP_RECV),
        op(sys::IORING_OP_NOP),
        op(sys::IORING_OP_POLL_ADD),
        op(sys::IORING_OP_ASYNC_CANCEL),
        Restriction::sqe_flags_allowed(sys::IOSQE_IO_LINK),
    ]);
    let far = Instant::now() + Duration::from_secs(3600);
    let (rx, tx) = pipe();
    let mut tx = std::fs::File::from(tx);
    tx.write_all(b"here").unwrap();
    let rx = SharedFd::new(rx);
    let (r, buf) = reactor
        .run_until(reactor.op_with_deadline(rops::Read::new(&rx, vec![0x5au8; 8], u64::MAX), far))
        .unwrap();
    assert_eq!(os_errno(&r), Some(libc::EACCES), "{r:?}");
    assert_eq!(buf, [0x5a; 8], "the read never ran");
    let mut left = [0u8; 4];
    std::fs::File::from(rx.try_unwrap().unwrap())
        .read_exact(&mut left)
        .unwrap();
    assert_eq!(&left, b"here", "the bytes stayed in the pipe");

    // A stream's read deadline, through `uring::net`.
    let (client, mut peer) = uring_tests::tcp_pair();
    peer.write_all(b"tcp").unwrap();
    let mut stream = uring::net::TcpStream::from_std(&reactor, client);
    stream.set_read_deadline(Some(far));
    let (r, buf) = reactor.run_until(stream.read(vec![0u8; 8])).unwrap();
    assert_eq!(os_errno(&r), Some(libc::EACCES), "{r:?}");
    assert_eq!(buf.len(), 8);
    stream.set_read_deadline(None);
    let (r, buf) = reactor.run_until(stream.read(vec![0u8; 8])).unwrap();
    assert_eq!(r.unwrap(), 3, "the bytes waited in the socket");
    assert_eq!(&buf[..3], b"tcp");

    // The shutdown cancels a read nothing else will end.
    let (waiting, _keep) = pipe();
    let waiting = SharedFd::new(waiting);
    let calls = Rc::new(RefCell::new(Vec::new()));
    let seen = Rc::clone(&calls);
    reactor
        .queue(
            rops::Read::new(&waiting, vec![0x33u8; 8], u64::MAX),
            move |r, buf| {
                seen.borrow_mut().push((os_errno(&r), buf));
            },
        )
        .unwrap();
    reactor.submit().unwrap();
    let dropped = Instant::now();
    drop(stream);
    drop(reactor);
    assert!(dropped.elapsed() < PATIENCE / 2);
    assert_eq!(*calls.borrow(), [(Some(libc::ECANCELED), vec![0x33u8; 8])]);
}

/// A reactor over a ring that allows `LINK_TIMEOUT` but not the
/// `IOSQE_IO_LINK` flag an op needs to be bounded by one. The kernel
/// would refuse the op itself (`-EACCES`) and fail its timeout; the
/// reactor, which knows the rules, refuses the op up front with the same
/// `EACCES`. Cancels, which the ring allows, still work: the shutdown
/// cancels a read still waiting, whose callback runs once with
/// `ECANCELED` and its buffer.
#[test]
fn a_deadline_whose_op_may_not_be_linked_fails_with_eacces_and_cancels_still_work() {
    let _watch = watchdog();
    let reactor = reactor_with(&[
        op(sys::IORING_OP_READ),
        op(sys::IORING_OP_NOP),
        op(sys::IORING_OP_POLL_ADD),
        op(sys::IORING_OP_ASYNC_CANCEL),
        op(sys::IORING_OP_LINK_TIMEOUT),
    ]);
    let (rx, tx) = pipe();
    std::fs::File::from(tx).write_all(b"here").unwrap();
    let rx = SharedFd::new(rx);
    let far = Instant::now() + Duration::from_secs(3600);
    let (r, buf) = reactor
        .run_until(reactor.op_with_deadline(rops::Read::new(&rx, vec![0x5au8; 8], u64::MAX), far))
        .unwrap();
    assert_eq!(os_errno(&r), Some(libc::EACCES), "{r:?}");
    assert_eq!(buf, [0x5a; 8]);
    // Without a deadline the same read runs.
    let (r, buf) = reactor
        .run_until(reactor.op(rops::Read::new(&rx, vec![0u8; 8], u64::MAX)))
        .unwrap();
    assert_eq!(r.unwrap(), 4);
    assert_eq!(&buf[..4], b"here");

    let (waiting, _keep) = pipe();
    let waiting = SharedFd::new(waiting);
    let calls = Rc::new(RefCell::new(Vec::new()));
    let seen = Rc::clone(&calls);
    reactor
        .queue(
            rops::Read::new(&waiting, vec![0x33u8; 8], u64::MAX),
            move |r, buf| {
                seen.borrow_mut().push((os_errno(&r), buf));
            },
        )
        .unwrap();
    reactor.submit().unwrap();
    drop(reactor);
    assert_eq!(*calls.borrow(), [(Some(libc::ECANCELED), vec![0x33u8; 8])]);
}

/// A future of a pipe read dropped on a reactor whose ring refuses cancel
/// requests (and every register call, so no synchronous cancel either):
/// the drop's cancel is refused (`-EACCES`), and the op stays in flight,
/// counted, its buffer kept in its orphaned slot. Bytes written later are
/// taken by that read, once (the pipe is empty afterwards), and its
/// completion ends the count; the ring then runs ops as before, and a
/// shutdown with nothing in flight has nothing to leak.
#[test]
fn a_dropped_future_whose_cancel_is_refused_keeps_its_read_until_the_bytes_come() {
    let _watch = watchdog();
    let reactor = reactor_with(&[
        op(sys::IORING_OP_READ),
        op(sys::IORING_OP_NOP),
        op(sys::IORING_OP_POLL_ADD),
    ]);
    let (rx, tx) = pipe();
    let rx = SharedFd::new(rx);
    let mut tx = std::fs::File::from(tx);
    let mut read = reactor.op(rops::Read::new(&rx, vec![0u8; 4], u64::MAX));
    assert!(uring_tests::poll_once(&mut read).is_pending());
    reactor.submit().unwrap();
    let (r, ()) = reactor.run_until(reactor.op(rops::Nop)).unwrap();
    assert_eq!(r.unwrap(), 0);
    drop(read);
    let (r, ()) = reactor.run_until(reactor.op(rops::Nop)).unwrap();
    assert_eq!(r.unwrap(), 0);
    assert_eq!(
        reactor.in_flight(),
        1,
        "the refused cancel left the read running"
    );
    tx.write_all(b"abcd").unwrap();
    let started = Instant::now();
    while reactor.in_flight() != 0 {
        assert!(
            started.elapsed() < PATIENCE,
            "the orphaned read never completed"
        );
        let _ = reactor.run_until(reactor.op(rops::Nop)).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    // The orphan took the four bytes: nothing is left for a read now.
    tx.write_all(b"wxyz").unwrap();
    let (r, buf) = reactor
        .run_until(reactor.op(rops::Read::new(&rx, vec![0u8; 8], u64::MAX)))
        .unwrap();
    assert_eq!(r.unwrap(), 4);
    assert_eq!(&buf[..4], b"wxyz");
    drop(reactor);
}

/// A reactor over a ring whose restrictions forbid every register call and
/// `NOP`: registering a buffer ring for it is an error value (`EACCES`),
/// not a panic, and leaves no group behind; a receive naming that group
/// is one the reactor refuses itself (a group it did not register), by
/// turning it into a `NOP` that injects `EINVAL` (`scope::refuse`), which
/// this ring refuses in turn: the receive fails with `EACCES`, reading
/// nothing, the bytes still in the socket for a receive into a buffer of
/// its own.
#[test]
fn a_reactor_receive_from_a_group_it_could_not_register_reads_nothing() {
    let _watch = watchdog();
    let reactor = reactor_with(&[
        op(sys::IORING_OP_RECV),
        op(sys::IORING_OP_POLL_ADD),
        op(sys::IORING_OP_ASYNC_CANCEL),
        Restriction::sqe_flags_allowed(sys::IOSQE_BUFFER_SELECT),
    ]);
    let refused = reactor.register_buf_ring(BufferGroup::new(9), 2, 64);
    assert_eq!(
        os_errno(&refused),
        Some(libc::EACCES),
        "{:?}",
        refused.err()
    );
    // A group of the same id, registered on another reactor, names nothing
    // here.
    let other = Reactor::new().unwrap();
    let group = other.register_buf_ring(BufferGroup::new(9), 2, 64).unwrap();
    let (client, mut peer) = UnixStream::pair().unwrap();
    peer.write_all(b"bytes").unwrap();
    let fd = SharedFd::new(OwnedFd::from(client));
    let (r, buf) = reactor
        .run_until(reactor.op(rops::RecvRing::new(&fd, group)))
        .unwrap();
    assert_eq!(os_errno(&r), Some(libc::EACCES), "{r:?}");
    assert!(buf.is_none());
    let (r, buf) = reactor
        .run_until(reactor.op(rops::Recv::new(&fd, vec![0u8; 8])))
        .unwrap();
    assert_eq!(r.unwrap(), 5);
    assert_eq!(&buf[..5], b"bytes");
}

// ---------------------------------------------------------------------------
// A scope's own flags, NOPs and register calls, refused
// ---------------------------------------------------------------------------

/// An incremental buffer group on a ring whose restrictions allow
/// `IOSQE_BUFFER_SELECT` but not `IOSQE_ASYNC`. A scope flags every read
/// of such a group `IOSQE_ASYNC` on its own (`screen_selection`), so a
/// read the program pushed without it is refused: `EACCES`, no buffer
/// named, nothing to claim. The group's buffers stay in the ring: a
/// receive (which the scope does not flag) takes the first one, from its
/// start, with the peer's bytes.
#[test]
fn an_incremental_read_whose_async_flag_the_ring_refuses_fails_with_eacces() {
    let _watch = watchdog();
    let mut ring = Ring::builder().r_disabled().build(8).unwrap();
    let Some(pool) = uring_tests::incremental_buf_ring(&mut ring, 31, 2, 64) else {
        return;
    };
    ring.register_restrictions(&[
        op(sys::IORING_OP_READ),
        op(sys::IORING_OP_RECV),
        op(sys::IORING_OP_NOP),
        op(sys::IORING_OP_ASYNC_CANCEL),
        Restriction::sqe_flags_allowed(sys::IOSQE_BUFFER_SELECT),
    ])
    .unwrap();
    ring.enable().unwrap();
    let file = uring_tests::file_of(&uring_tests::pattern(64, 31));
    let (mut tx, rx) = UnixStream::pair().unwrap();
    ring.scope(|s| {
        s.push(Read::new(&file, pool.select()).user_data(1))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.res(), -libc::EACCES, "{:?}", cqe.cqe());
        assert_eq!(cqe.buffer_id(), None);
        assert!(pool.claim(&mut cqe).is_err());
        tx.write_all(b"abc").unwrap();
        s.push(Recv::new(&rx, pool.select()).user_data(2)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.res(), 3, "{:?}", cqe.cqe());
        let buf = pool.claim(&mut cqe).unwrap();
        assert_eq!((buf.bid(), buf.offset()), (0, 0));
        assert_eq!(&buf[..], b"abc");
    });
}

/// An incremental group on a ring whose restrictions forbid
/// `IORING_REGISTER_PBUF_STATUS`, the call by which a scope reads the
/// group's head at an empty completion (`ScopeTable::leave_group`). A read
/// of a pipe at its end (sent to a worker by the scope, which takes the
/// whole buffer off the ring as it selects it) completes with 0 bytes,
/// naming buffer 0, without `BUF_MORE`: the kernel has let go of the
/// buffer, but without the head the library cannot tell that from a
/// buffer left at the head, and keeps it the kernel's. The buffer is lost
/// to the group rather than given to the kernel twice: every later read
/// names buffer 1, and with buffer 1 lent the next read finds no buffer
/// (`ENOBUFS`) instead of one the program holds. The lent buffer keeps the
/// bytes its read got.
#[test]
fn an_incremental_buffer_whose_head_cannot_be_read_is_lost_not_lent_twice() {
    let _watch = watchdog();
    let mut ring = Ring::builder().r_disabled().build(8).unwrap();
    let Some(pool) = uring_tests::incremental_buf_ring(&mut ring, 32, 2, 64) else {
        return;
    };
    ring.register_restrictions(&[
        op(sys::IORING_OP_READ),
        op(sys::IORING_OP_NOP),
        op(sys::IORING_OP_ASYNC_CANCEL),
        Restriction::sqe_flags_allowed(sys::IOSQE_BUFFER_SELECT | sys::IOSQE_ASYNC),
    ])
    .unwrap();
    ring.enable().unwrap();
    let refused = pool.head();
    assert_eq!(
        refused.as_ref().err().and_then(|e| e.raw_os_error()),
        Some(libc::EACCES),
        "{refused:?}"
    );
    let (ended, writer) = pipe();
    drop(writer);
    let data = uring_tests::pattern(256, 32);
    let file = uring_tests::file_of(&data);
    ring.scope(|s| {
        s.push(Read::new(&ended, pool.select()).user_data(1))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.res(), 0, "{:?}", cqe.cqe());
        assert_eq!(cqe.buffer_id(), Some(0), "{:?}", cqe.cqe());
        let empty = pool.claim(&mut cqe).unwrap();
        assert!(empty.is_empty());
        drop(empty);
        let mut held = Vec::new();
        for i in 0..2u64 {
            s.push(
                Read::new(&file, pool.select())
                    .offset(i * 64)
                    .user_data(2 + i),
            )
            .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            assert_eq!(cqe.res(), 64, "read {i}: {:?}", cqe.cqe());
            assert_eq!(cqe.buffer_id(), Some(1), "read {i}: {:?}", cqe.cqe());
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!(buf[..], data[i as usize * 64..][..64]);
            if i == 0 {
                drop(buf);
            } else {
                held.push(buf);
            }
        }
        s.push(Read::new(&file, pool.select()).user_data(9))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let cqe = s.completions().next().unwrap();
        assert_eq!(cqe.res(), -libc::ENOBUFS, "{:?}", cqe.cqe());
        assert_eq!(held[0][..], data[64..128]);
    });
    assert_eq!(pool.lent(), 0);
}

/// A receive flagged `MSG_TRUNC` from a buffer group, which a scope
/// refuses by turning its SQE into a `NOP` that injects `EINVAL`
/// (`scope::refuse`), on a ring whose restrictions allow receives and
/// buffer selection but not `NOP`: the kernel refuses the `NOP` in turn,
/// and the receive fails with `EACCES` instead, naming no buffer, having
/// read nothing. The 12 bytes stay in the socket for the next receive,
/// which claims them whole from the group's one buffer.
#[test]
fn a_receive_the_scope_refuses_on_a_ring_without_nops_fails_with_eacces_and_reads_nothing() {
    let _watch = watchdog();
    let mut ring = Ring::builder().r_disabled().build(8).unwrap();
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 33, 1, 32) else {
        return;
    };
    ring.register_restrictions(&[
        op(sys::IORING_OP_RECV),
        op(sys::IORING_OP_ASYNC_CANCEL),
        Restriction::sqe_flags_allowed(sys::IOSQE_BUFFER_SELECT),
    ])
    .unwrap();
    ring.enable().unwrap();
    let (mut tx, rx) = uring_tests::tcp_pair();
    tx.write_all(&[0x5e; 12]).unwrap();
    ring.scope(|s| {
        s.push(
            Recv::new(&rx, pool.select())
                .msg_flags(MsgFlags::TRUNC)
                .user_data(1),
        )
        .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.res(), -libc::EACCES, "{:?}", cqe.cqe());
        assert_eq!(cqe.buffer_id(), None);
        assert!(pool.claim(&mut cqe).is_err());
        s.push(Recv::new(&rx, pool.select()).user_data(2)).unwrap();
        s.submit().unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.res(), 12, "{:?}", cqe.cqe());
        assert_eq!(pool.claim(&mut cqe).unwrap()[..], [0x5e; 12]);
    });
}

// ---------------------------------------------------------------------------
// Personalities
// ---------------------------------------------------------------------------

const NOBODY: libc::uid_t = 65534;

/// A directory anyone may search, holding a file only root may read.
fn root_only_file() -> (tempfile::TempDir, CString, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, b"root only").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let path = CString::new(secret.to_str().unwrap()).unwrap();
    (dir, path, secret)
}

/// Registers the personality of user `nobody` on `ring`: the process takes
/// that effective user id (and with it loses its effective capabilities)
/// for the call alone.
fn nobody_personality(ring: &mut Ring) -> uring::Personality {
    // SAFETY: changes the effective uid of this process (a test process of
    // its own), whose real uid stays root; set back right below.
    assert_eq!(unsafe { libc::seteuid(NOBODY) }, 0, "seteuid");
    let registered = ring.register_personality();
    // SAFETY: the real uid is root, so the effective uid may go back.
    assert_eq!(unsafe { libc::seteuid(0) }, 0, "seteuid back");
    registered.unwrap()
}

/// Whether this process may change its credentials.
fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    skip("registering another user's personality needs root");
    false
}

const PERSONALITY_OPENS: &str =
    "an_open_with_a_personality_that_may_not_read_the_file_fails_alone_in_its_scope";

/// In a scope of a plain ring, opens of a root-only file by a process
/// running as root, some with the personality of `nobody` registered
/// earlier: inline and in an io-wq worker (`IOSQE_ASYNC`, which runs with
/// the op's credentials too) they fail with `EACCES`, give no descriptor
/// to take, and fail the op linked after them (`ECANCELED`). The scope's
/// other ops are not affected: an open without the personality gets a
/// descriptor that reads the file, and a read with the personality of a
/// descriptor root opened reads it too (credentials are checked at the
/// open, not at each read). Nothing opened is left behind.
#[test]
fn an_open_with_a_personality_that_may_not_read_the_file_fails_alone_in_its_scope() {
    in_own_process(PERSONALITY_OPENS, "a scope with personalities", || {
        if !is_root() {
            return;
        }
        let (_dir, path, secret) = root_only_file();
        let mut ring = Ring::new(16).unwrap();
        let nobody = nobody_personality(&mut ring);
        let opened = std::fs::File::open(&secret).unwrap();
        let mut read_back = [0u8; 9];
        let mut taken = Vec::new();
        let mut results = Vec::new();
        ring.scope(|s| {
            s.push(OpenAt::new(Fd::CWD, &path).personality(nobody).user_data(1))
                .unwrap();
            s.push(
                OpenAt::new(Fd::CWD, &path)
                    .personality(nobody)
                    .flags(SqeFlags::ASYNC)
                    .user_data(2),
            )
            .unwrap();
            s.push(OpenAt::new(Fd::CWD, &path).user_data(3)).unwrap();
            s.push(
                OpenAt::new(Fd::CWD, &path)
                    .personality(nobody)
                    .user_data(4)
                    .link(Nop::new().user_data(5)),
            )
            .unwrap();
            s.push(
                Read::new(&opened, &mut read_back[..])
                    .personality(nobody)
                    .user_data(6),
            )
            .unwrap();
            s.submit().unwrap();
            while results.len() < 6 {
                s.wait_timeout(1, PATIENCE).unwrap();
                for mut cqe in s.completions() {
                    if let Some(fd) = cqe.take_fd() {
                        taken.push((cqe.user_data(), fd));
                    }
                    results.push((cqe.user_data(), cqe.res()));
                }
            }
        });
        results.sort_unstable();
        let res = |ud: u64| results.iter().find(|r| r.0 == ud).unwrap().1;
        assert_eq!(res(1), -libc::EACCES, "{results:?}");
        assert_eq!(res(2), -libc::EACCES, "{results:?}");
        assert!(res(3) >= 0, "{results:?}");
        assert_eq!(res(4), -libc::EACCES, "{results:?}");
        assert_eq!(res(5), -libc::ECANCELED, "{results:?}");
        assert_eq!(res(6), 9, "{results:?}");
        assert_eq!(&read_back, b"root only");
        assert_eq!(taken.len(), 1, "one descriptor: {taken:?}");
        let (ud, fd) = taken.pop().unwrap();
        assert_eq!(ud, 3);
        let mut text = String::new();
        std::fs::File::from(fd).read_to_string(&mut text).unwrap();
        assert_eq!(text, "root only");
        ring.unregister_personality(nobody).unwrap();
    });
}

const PERSONALITY_KEPT: &str = "a_personality_the_restrictions_keep_stays_registered_and_usable";

/// A personality registered on a disabled ring before restrictions that
/// allow neither registering nor unregistering personalities: once the
/// ring is enabled, unregistering it is refused (`EACCES`) and the handle
/// stays valid in the library's books (a second try reaches the kernel
/// again, rather than being told the personality is gone), a new
/// registration is refused, and ops still run with the kept personality
/// (an open of a root-only file fails with `EACCES`, the same open without
/// it succeeds).
#[test]
fn a_personality_the_restrictions_keep_stays_registered_and_usable() {
    in_own_process(
        PERSONALITY_KEPT,
        "a restricted ring with a personality",
        || {
            if !is_root() {
                return;
            }
            let (_dir, path, _secret) = root_only_file();
            let mut ring = Ring::builder().r_disabled().build(8).unwrap();
            let nobody = nobody_personality(&mut ring);
            ring.register_restrictions(&[
                op(sys::IORING_OP_OPENAT),
                op(sys::IORING_OP_NOP),
                op(sys::IORING_OP_ASYNC_CANCEL),
            ])
            .unwrap();
            ring.enable().unwrap();
            for attempt in 0..2 {
                let refused = ring.unregister_personality(nobody);
                assert_eq!(
                    refused.as_ref().err().and_then(|e| e.raw_os_error()),
                    Some(libc::EACCES),
                    "attempt {attempt}: {refused:?}"
                );
            }
            let refused = ring.register_personality();
            assert_eq!(
                refused.as_ref().err().and_then(|e| e.raw_os_error()),
                Some(libc::EACCES),
                "{refused:?}"
            );
            let mut results = Vec::new();
            ring.scope(|s| {
                s.push(OpenAt::new(Fd::CWD, &path).personality(nobody).user_data(1))
                    .unwrap();
                s.push(OpenAt::new(Fd::CWD, &path).user_data(2)).unwrap();
                s.submit().unwrap();
                while results.len() < 2 {
                    s.wait_timeout(1, PATIENCE).unwrap();
                    for mut cqe in s.completions() {
                        let fd = cqe.take_fd();
                        results.push((cqe.user_data(), cqe.res(), fd.is_some()));
                    }
                }
            });
            results.sort_unstable();
            assert_eq!(results[0], (1, -libc::EACCES, false), "{results:?}");
            assert_eq!((results[1].0, results[1].2), (2, true), "{results:?}");
        },
    );
}

// ---------------------------------------------------------------------------
// io-wq worker limits
// ---------------------------------------------------------------------------

/// Makes a FIFO at `path`.
fn fifo(path: &Path) -> CString {
    let c = CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: `c` is a valid C string; mkfifo reads it only.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    c
}

/// Opens the FIFO at `path` for writing without waiting: `ENXIO` while no
/// reader has it open.
fn open_writer(path: &Path) -> Result<std::fs::File, Option<i32>> {
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| e.raw_os_error())
}

/// A ring whose io-wq may run one worker of each kind
/// (`set_iowq_max_workers`; a limit of 0 changes nothing, so the next
/// query reads 1 and 1). Two opens of FIFOs pushed to io-wq in a scope
/// (`IOSQE_ASYNC`, where an open for reading waits for a writer): the
/// first blocks the one worker, and the second waits in io-wq's queue,
/// not yet opening its FIFO (a writer that does not wait finds no reader
/// there, `ENXIO`). A writer for the first lets it complete, and the
/// worker then opens the second, which completes once its writer comes:
/// the limit holds, and work still progresses. A second scope ends with
/// both opens waiting: its cancel reaches the running one (the worker is
/// signalled) and the queued one, and it returns within a bounded time,
/// after which neither FIFO has a reader: no open was left behind in a
/// worker, and none that completed kept its descriptor open.
#[test]
fn one_io_wq_worker_runs_blocking_opens_in_turn_and_a_scope_end_cancels_both() {
    let _watch = watchdog();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let (ca, cb) = (fifo(&a), fifo(&b));
    let mut ring = Ring::new(8).unwrap();
    let one = IoWqWorkers {
        bounded: 1,
        unbounded: 1,
    };
    ring.set_iowq_max_workers(one).unwrap();
    let none = IoWqWorkers {
        bounded: 0,
        unbounded: 0,
    };
    assert_eq!(ring.set_iowq_max_workers(none).unwrap(), one);
    assert_eq!(ring.iowq_max_workers().unwrap(), one);
    let open = |path, ud| {
        OpenAt::new(Fd::CWD, path)
            .open_flags(libc::O_RDONLY | libc::O_CLOEXEC)
            .flags(SqeFlags::ASYNC)
            .user_data(ud)
    };
    ring.scope(|s| {
        s.push(open(&ca, 1)).unwrap();
        s.push(open(&cb, 2)).unwrap();
        s.submit().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(s.completions().count(), 0);
        assert_eq!(
            open_writer(&b).err(),
            Some(Some(libc::ENXIO)),
            "the second open ran beside the first"
        );
        let _writer_a = open_writer(&a).unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let mut first = s.completions().next().unwrap();
        assert_eq!(first.user_data(), 1, "{:?}", first.cqe());
        assert!(first.take_fd().is_some(), "{:?}", first.cqe());
        let started = Instant::now();
        let _writer_b = loop {
            match open_writer(&b) {
                Ok(w) => break w,
                Err(Some(libc::ENXIO)) => {
                    assert!(started.elapsed() < PATIENCE, "the second open never ran");
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => panic!("open of the FIFO's writer: {e:?}"),
            }
        };
        s.wait_timeout(1, PATIENCE).unwrap();
        let mut second = s.completions().next().unwrap();
        assert_eq!(second.user_data(), 2, "{:?}", second.cqe());
        assert!(second.take_fd().is_some(), "{:?}", second.cqe());
    });
    let started = Instant::now();
    ring.scope(|s| {
        s.push(open(&ca, 3)).unwrap();
        s.push(open(&cb, 4)).unwrap();
        s.submit().unwrap();
        std::thread::sleep(Duration::from_millis(50));
    });
    assert!(started.elapsed() < PATIENCE / 2, "{:?}", started.elapsed());
    assert_eq!(open_writer(&a).err(), Some(Some(libc::ENXIO)));
    assert_eq!(open_writer(&b).err(), Some(Some(libc::ENXIO)));
    assert_eq!(ring.completions().count(), 0, "the scope left completions");
}

// ---------------------------------------------------------------------------
// NAPI
// ---------------------------------------------------------------------------

/// NAPI busy polling registered on a ring without sockets, while it is
/// still disabled (static tracking, 10 ms, one NAPI id no device has),
/// before restrictions that allow no register call. Once enabled, the ring
/// cannot unregister it (`EACCES`, an error value, nothing changed) nor
/// remove the id; yet a wait with nothing to come still ends at its
/// timeout without spinning through it, a scope whose pipe read waits ends
/// through its cancel request (the read cancelled, its buffer untouched),
/// and the ring is dropped with the registration in place.
#[test]
fn napi_that_a_restricted_ring_cannot_unregister_holds_up_no_wait_or_scope() {
    let _watch = watchdog();
    if !uring_tests::require_kernel(6, 13, "static NAPI tracking") || !has_schedstat() {
        return;
    }
    let mut ring = Ring::builder().r_disabled().build(8).unwrap();
    let settings = NapiSettings {
        busy_poll: Duration::from_millis(10),
        prefer_busy_poll: true,
        tracking: NapiTracking::Static,
    };
    match ring.register_napi_with(settings) {
        Ok(before) => assert_eq!(before.tracking, NapiTracking::Inactive),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            return skip("NAPI busy polling is not built into this kernel");
        }
        Err(e) => panic!("register_napi_with: {e}"),
    }
    ring.napi_add_id(1 << 24).unwrap();
    ring.register_restrictions(&[
        op(sys::IORING_OP_READ),
        op(sys::IORING_OP_NOP),
        op(sys::IORING_OP_ASYNC_CANCEL),
    ])
    .unwrap();
    ring.enable().unwrap();
    let refused = ring.unregister_napi();
    assert_eq!(
        refused.as_ref().err().and_then(|e| e.raw_os_error()),
        Some(libc::EACCES)
    );
    let refused = ring.napi_del_id(1 << 24);
    assert_eq!(
        refused.as_ref().err().and_then(|e| e.raw_os_error()),
        Some(libc::EACCES)
    );
    let cpu = thread_cpu();
    let started = Instant::now();
    let waited = ring.wait_timeout(1, Duration::from_millis(30));
    let (wall, cpu) = (started.elapsed(), thread_cpu() - cpu);
    assert!(matches!(waited, Err(uring::Error::TimedOut)), "{waited:?}");
    assert!(
        wall >= Duration::from_millis(25) && wall < PATIENCE,
        "{wall:?}"
    );
    assert!(cpu < wall / 2, "the wait spun: {cpu:?} of {wall:?}");
    let (rx, _tx) = pipe();
    let mut buf = [0x77u8; 4];
    let started = Instant::now();
    let res = ring.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
        s.submit().unwrap();
        let waited = s.wait_timeout(1, Duration::from_millis(20));
        assert!(matches!(waited, Err(uring::Error::TimedOut)), "{waited:?}");
        s.in_flight()
    });
    assert_eq!(res, 1);
    assert!(started.elapsed() < PATIENCE / 2);
    assert_eq!(buf, [0x77; 4]);
    let cqe = uring_tests::complete(&mut ring, Nop::new().user_data(7));
    assert_eq!((cqe.user_data(), cqe.res()), (7, 0));
}
