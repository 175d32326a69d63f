//! Parity of uring with go-uring (github.com/godzie44/go-uring), seen from
//! a program being ported from Go: for the calls, options and constants of
//! go-uring's `uring`, `reactor` and `net` packages that `go_uring_cases.rs`
//! and the README's other suites leave out, each test makes the Go call's
//! counterpart (the one the README's "go-uring, mapped" table names) the
//! way a Go program makes it, and checks against the kernel what the Go
//! call promises: counts of submitted SQEs and of completions, what a peek
//! sees after the CQ overflowed, `ETIME` from a timed wait, the errnos of
//! cancels, connects and receives, the flags an accept or a receive passes
//! on, file positions, registered-file holes, SQ threads shared by
//! `CreateMany`'s rings, deadlines and callbacks in the reactor, and a
//! `net.Conn`'s addresses, end of stream, keep-alive and deadlines.
//!
//! Where uring behaves differently from go-uring in a way a port would
//! trip on, the test asserts go-uring's behaviour and is ignored with the
//! reason.

use std::cell::{Cell, RefCell};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use uring::net::{TcpListener, TcpStream};
use uring::ops::{Accept, Cancel, Connect, LinkTimeout, Nop, Read, Recv, Send, Timeout, Write};
use uring::reactor::{Reactor, SharedFd};
use uring::{CancelFlags, Error, Features, MsgFlags, Ring, SockAddr, sys};
use uring_tests::{PATIENCE, complete, push_lent, skip};

// ---------------------------------------------------------------- helpers

/// `getsockopt(fd, level, name)` as an integer.
fn int_option(fd: BorrowedFd<'_>, level: i32, name: i32) -> i32 {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `fd` is open for the call; `value` and `len` are valid for
    // writes of the sizes given.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    assert_eq!(
        rc,
        0,
        "getsockopt({level}, {name}): {}",
        std::io::Error::last_os_error()
    );
    value
}

/// The descriptor flags (`F_GETFD`) and status flags (`F_GETFL`) of `fd`.
fn fd_flags(fd: BorrowedFd<'_>) -> (i32, i32) {
    // SAFETY: F_GETFD and F_GETFL only read the descriptor's flags.
    let (fd_flags, fl_flags) = unsafe {
        (
            libc::fcntl(fd.as_raw_fd(), libc::F_GETFD),
            libc::fcntl(fd.as_raw_fd(), libc::F_GETFL),
        )
    };
    assert!(fd_flags >= 0 && fl_flags >= 0, "fcntl on {fd:?}");
    (fd_flags, fl_flags)
}

/// The descriptor an accept's completion made, owned.
fn accepted(res: i32) -> OwnedFd {
    assert!(
        res >= 0,
        "accept: {}",
        std::io::Error::from_raw_os_error(-res)
    );
    // SAFETY: an accept's result is a new descriptor that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(res as RawFd) }
}

/// A listener on a port the kernel picks.
fn std_listener() -> StdListener {
    StdListener::bind("127.0.0.1:0").expect("listen on 127.0.0.1:0")
}

/// A connected pair of std TCP streams (client, server).
fn std_pair() -> (StdStream, StdStream) {
    uring_tests::tcp_pair()
}

// ---------------------------------------------------------------- uring: queues

/// go-uring's `PeekCQE` (`WaitCQEvents(0)`) and `PeekCQEventBatch` enter
/// the kernel to flush completions held back in the overflow list when the
/// CQ looks empty: go-uring's `TestCQRingFull` peeks 12 NOPs out of a ring
/// whose CQ holds 8. `peek` and `peek_batch` must do the same: every
/// completion is seen, once, in submission order.
#[test]
fn peek_and_peek_batch_flush_an_overflowed_cq_as_go_s_peeks_do() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    if !ring.params().has(Features::NODROP) {
        skip("completions are dropped on overflow without IORING_FEAT_NODROP");
        return;
    }
    assert_eq!(ring.cq_entries(), 8);
    for batch in 0..3u64 {
        for i in 0..4 {
            ring.push(Nop::new().user_data(batch * 4 + i)).unwrap();
        }
        assert_eq!(ring.submit().unwrap(), 4, "Submit() counts the SQEs");
    }
    assert!(ring.cq_has_overflow(), "12 completions in a CQ of 8");
    assert_eq!(ring.ready(), 8);

    // Go's loop: `for cqe, err := PeekCQE(); err == nil; ... { SeenCQE(cqe) }`.
    let mut seen = Vec::new();
    while let Some(cqe) = ring.peek() {
        assert_eq!(cqe.res(), 0, "{cqe:?}");
        seen.push(cqe.user_data());
        assert_eq!(ring.advance(1), 1);
        assert!(seen.len() <= 12, "more completions than NOPs: {seen:?}");
    }
    assert_eq!(seen, (0..12).collect::<Vec<u64>>(), "each NOP seen once");
    assert_eq!(ring.overflow(), 0, "nothing dropped");

    // Again through `PeekCQEventBatch`: a batch that finds the CQ empty
    // flushes what the kernel holds back.
    for batch in 0..3u64 {
        for i in 0..4 {
            ring.push(Nop::new().user_data(100 + batch * 4 + i))
                .unwrap();
        }
        ring.submit().unwrap();
    }
    let mut buf = [uring::Cqe::default(); 128];
    let mut seen = Vec::new();
    loop {
        let n = ring.peek_batch(&mut buf);
        if n == 0 {
            break;
        }
        seen.extend(buf[..n].iter().map(|c| c.user_data()));
        assert_eq!(ring.advance(n as u32), n as u32);
        assert!(seen.len() <= 12, "more completions than NOPs: {seen:?}");
    }
    assert_eq!(seen, (100..112).collect::<Vec<u64>>());
    assert!(!ring.cq_has_overflow());
}

/// go-uring's `Submit()` returns how many SQEs were submitted, and
/// `SubmitAndWaitCQEvents(n)` submits and waits for `n` completions.
/// uring's `submit` counts SQEs (0 when nothing was pushed, and NOPs
/// written through `next_sqe`, go-uring's `NextSQE`, count as pushed ones
/// do); `submit_and_wait` counts SQEs too, not completions, and with `0`
/// submits without waiting.
#[test]
fn submit_and_submit_and_wait_count_sqes_as_go_s_submit_does() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    assert_eq!(ring.submit().unwrap(), 0, "nothing to submit");

    ring.push(Nop::new().user_data(1)).unwrap();
    {
        let mut sqe = ring.next_sqe().expect("a free slot");
        sqe.opcode = sys::IORING_OP_NOP;
        sqe.fd = -1;
        sqe.user_data = 2;
        // SAFETY: a NOP reads no memory; every other field is zeroed.
        unsafe { sqe.commit() };
    }
    ring.push(Nop::new().user_data(3)).unwrap();
    assert_eq!(ring.submit().unwrap(), 3);
    assert_eq!(ring.submit().unwrap(), 0, "submitted once");
    ring.wait(3).unwrap();
    let got: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(got, [(1, 0), (2, 0), (3, 0)]);

    // `SubmitAndWaitCQEvents(0)`: submits, returns without a completion
    // asked for.
    ring.push(Timeout::new(Duration::from_secs(30)).user_data(4))
        .unwrap();
    let start = Instant::now();
    assert_eq!(ring.submit_and_wait(0).unwrap(), 1);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(ring.ready(), 0);

    // `SubmitAndWaitCQEvents(2)` over three NOPs: three SQEs, at least two
    // completions ready.
    for ud in 5..8 {
        ring.push(Nop::new().user_data(ud)).unwrap();
    }
    assert_eq!(ring.submit_and_wait(2).unwrap(), 3, "SQEs, not CQEs");
    assert!(ring.ready() >= 2);
    ring.wait(3).unwrap();
    let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(got, [5, 6, 7]);

    // The long timeout is still in flight: cancel it to end cleanly.
    ring.push(Cancel::new(4).user_data(9)).unwrap();
    let mut got = uring_tests::reap_sorted(&mut ring, 2);
    got.sort_unstable();
    assert_eq!(got, [(4, -libc::ECANCELED), (9, 0)]);
}

/// go-uring's `WaitCQEventsWithTimeout` fails with `syscall.ETIME` when
/// no completion came in time, and (on kernels with `EXT_ARG`) queues no
/// SQE for the timeout. uring's `wait_timeout` fails with `TimedOut`,
/// whose errno is `ETIME`; it takes no SQE even when the SQ is full (go's
/// fallback path would need one), and a zero timeout returns at once
/// rather than waiting forever.
#[test]
fn wait_timeout_fails_with_etime_takes_no_sqe_and_zero_returns_at_once() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    if !ring.params().has(Features::EXT_ARG) {
        skip("waits with a timeout need IORING_FEAT_EXT_ARG");
        return;
    }
    let start = Instant::now();
    let e = ring.wait_timeout(1, Duration::from_millis(50)).unwrap_err();
    let took = start.elapsed();
    assert!(matches!(e, Error::TimedOut), "{e:?}");
    assert_eq!(e.raw_os_error(), Some(libc::ETIME), "go's syscall.ETIME");
    let as_io = std::io::Error::from(e);
    assert_eq!(as_io.kind(), std::io::ErrorKind::TimedOut);
    assert!(took >= Duration::from_millis(50), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");

    // A full SQ, not submitted: the wait needs no slot.
    for i in 0..4 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    assert_eq!(ring.space_left(), 0);
    let e = ring.wait_timeout(1, Duration::from_millis(20)).unwrap_err();
    assert!(matches!(e, Error::TimedOut), "{e:?}");
    assert_eq!(ring.pending(), 4, "the wait submitted nothing");
    assert_eq!(ring.ready(), 0, "no timeout completion was posted");

    // A zero timeout is a poll, not "no timeout".
    let start = Instant::now();
    let e = ring.wait_timeout(1, Duration::ZERO).unwrap_err();
    assert!(matches!(e, Error::TimedOut), "{e:?}");
    assert!(start.elapsed() < Duration::from_secs(2));

    assert_eq!(ring.submit().unwrap(), 4);
    ring.wait_timeout(4, PATIENCE).unwrap();
    let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(got, [0, 1, 2, 3], "only the NOPs completed");
}

/// go-uring's `New` returns the kernel's refusal as an error: `New(0)`
/// and `WithSQThreadCPU` without `WithSQPoll` fail with `EINVAL`. uring
/// returns errors carrying `EINVAL` for both, and panics on neither.
#[test]
fn setups_go_s_new_refuses_are_errors_with_einval() {
    let _watch = uring_tests::watchdog();
    let zero = Ring::new(0).map(drop).unwrap_err();
    assert_eq!(zero.raw_os_error(), Some(libc::EINVAL), "New(0): {zero:?}");
    let cpu_alone = Ring::builder()
        .sq_thread_cpu(0)
        .build(8)
        .map(drop)
        .unwrap_err();
    assert_eq!(
        cpu_alone.raw_os_error(),
        Some(libc::EINVAL),
        "WithSQThreadCPU without WithSQPoll: {cpu_alone:?}"
    );
}

/// go-uring's `Close()` on a ring with ops in flight returns, and the
/// kernel cancels them as the ring goes: `close` returns at once with a
/// 30 s timeout and a read of an empty pipe in flight, and the read lets
/// go of the pipe (a write to it then fails with `EPIPE`, as no reader is
/// left) within a bounded time.
#[test]
fn close_with_ops_in_flight_returns_at_once_and_the_kernel_drops_them() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (rx, tx) = uring_tests::pipe();
    let mut buf = [0u8; 8];
    push_lent!(ring, Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
    ring.push(Timeout::new(Duration::from_secs(30)).user_data(2))
        .unwrap();
    assert_eq!(ring.submit().unwrap(), 2);
    assert!(
        matches!(
            ring.wait_timeout(1, Duration::from_millis(20)),
            Err(Error::TimedOut)
        ),
        "both are in flight"
    );
    drop(rx);
    let start = Instant::now();
    ring.close().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    let mut tx = std::fs::File::from(tx);
    let mut result = Ok(0);
    while start.elapsed() < PATIENCE {
        result = tx.write(b"x");
        if result.is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        result.map_err(|e| e.raw_os_error()),
        Err(Some(libc::EPIPE)),
        "the cancelled read still holds the pipe"
    );
    assert_eq!(buf, [0u8; 8], "nothing was read");
}

// ---------------------------------------------------------------- uring: ops

/// go-uring's `Cancel(targetUserData, flags)`: a cancel of a `user_data`
/// nothing carries completes with `-ENOENT`; one of a pending timeout with
/// 0, the timeout with `-ECANCELED`; with `IORING_ASYNC_CANCEL_ALL` (go's
/// `flags`) it cancels every op carrying the value and completes with
/// their number. The same `CancelOp` value reused with another target
/// (`SetTargetUserData`) is a new `Cancel` here.
#[test]
fn cancel_by_user_data_reports_enoent_zero_and_the_count_of_all() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(16).unwrap();
    ring.push(Cancel::new(12345).user_data(1)).unwrap();
    assert_eq!(uring_tests::reap_sorted(&mut ring, 1), [(1, -libc::ENOENT)]);

    ring.push(Timeout::new(Duration::from_secs(30)).user_data(7))
        .unwrap();
    ring.submit().unwrap();
    ring.push(Cancel::new(7).user_data(2)).unwrap();
    assert_eq!(
        uring_tests::reap_sorted(&mut ring, 2),
        [(2, 0), (7, -libc::ECANCELED)]
    );

    for _ in 0..3 {
        ring.push(Timeout::new(Duration::from_secs(30)).user_data(8))
            .unwrap();
    }
    ring.submit().unwrap();
    ring.push(Cancel::new(8).cancel_flags(CancelFlags::ALL).user_data(3))
        .unwrap();
    let got = uring_tests::reap_sorted(&mut ring, 4);
    assert_eq!(
        got,
        [
            (3, 3),
            (8, -libc::ECANCELED),
            (8, -libc::ECANCELED),
            (8, -libc::ECANCELED)
        ]
    );
    assert!(uring_tests::stray(&mut ring).is_empty());
}

/// go-uring's `Timeout(0)` and `LinkTimeout(0)`: a zero timeout fires at
/// once with `-ETIME`; a zero link timeout cancels the op linked before it
/// (a read of an empty pipe), which completes with `-ECANCELED`.
#[test]
fn zero_timeouts_fire_at_once() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(Timeout::new(Duration::ZERO).user_data(1))
        .unwrap();
    let start = Instant::now();
    assert_eq!(uring_tests::reap_sorted(&mut ring, 1), [(1, -libc::ETIME)]);
    assert!(start.elapsed() < Duration::from_secs(2));

    let (rx, _tx) = uring_tests::pipe();
    let mut buf = [0u8; 8];
    push_lent!(
        ring,
        Read::new(&rx, &mut buf[..])
            .user_data(2)
            .link_timeout(LinkTimeout::new(Duration::ZERO).user_data(3)),
    )
    .unwrap();
    let start = Instant::now();
    let got = uring_tests::reap_sorted(&mut ring, 2);
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(got, [(2, -libc::ECANCELED), (3, -libc::ETIME)]);
}

/// go-uring's `Accept(fd, flags)` passes `flags` to `accept4(2)`:
/// `SOCK_NONBLOCK | SOCK_CLOEXEC` reach the new socket, and 0 gives
/// neither.
#[test]
fn accept_flags_reach_the_accepted_socket() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let listener = std_listener();
    let addr = listener.local_addr().unwrap();
    for (flags, nonblock, cloexec) in [
        (libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, true, true),
        (libc::SOCK_NONBLOCK, true, false),
        (0, false, false),
    ] {
        let client = uring_tests::peer_thread(move || StdStream::connect(addr).unwrap());
        let cqe = complete(
            &mut ring,
            Accept::new(&listener).accept_flags(flags).user_data(1),
        );
        let conn = accepted(cqe.res());
        let (fd_flags, fl_flags) = fd_flags(conn.as_fd());
        assert_eq!(
            fl_flags & libc::O_NONBLOCK != 0,
            nonblock,
            "flags {flags:#x}"
        );
        assert_eq!(
            fd_flags & libc::FD_CLOEXEC != 0,
            cloexec,
            "flags {flags:#x}"
        );
        drop(client.join().unwrap());
    }
}

/// go-uring's `Recv(fd, buff, msgFlags)` and `Send(fd, buff, msgFlags)`
/// pass `msgFlags` on: `MSG_PEEK` leaves the bytes for the next receive,
/// `MSG_DONTWAIT` on an empty socket fails with `-EAGAIN` instead of
/// waiting, `MSG_WAITALL` waits for the whole buffer.
#[test]
fn recv_and_send_pass_their_msg_flags_to_the_kernel() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (client, server) = std_pair();

    let mut buf = [0u8; 16];
    let cqe = complete(
        &mut ring,
        Recv::new(&server, &mut buf[..])
            .msg_flags(MsgFlags::DONTWAIT)
            .user_data(1),
    );
    assert_eq!(cqe.res(), -libc::EAGAIN, "nothing to receive yet");

    let cqe = complete(&mut ring, Send::new(&client, b"peekaboo").user_data(2));
    assert_eq!(cqe.res(), 8);
    let mut peeked = [0u8; 16];
    let cqe = complete(
        &mut ring,
        Recv::new(&server, &mut peeked[..])
            .msg_flags(MsgFlags::PEEK)
            .user_data(3),
    );
    assert_eq!(cqe.res(), 8);
    let cqe = complete(&mut ring, Recv::new(&server, &mut buf[..]).user_data(4));
    assert_eq!(cqe.res(), 8, "the peeked bytes are still there");
    assert_eq!(&peeked[..8], b"peekaboo");
    assert_eq!(&buf[..8], b"peekaboo");

    // MSG_WAITALL: the receive waits for 8 bytes sent in two writes.
    let mut whole = [0u8; 8];
    ring.scope(|s| {
        s.push(
            Recv::new(&server, &mut whole[..])
                .msg_flags(MsgFlags::WAITALL)
                .user_data(5),
        )
        .unwrap();
        s.submit().unwrap();
        (&client).write_all(b"half").unwrap();
        assert!(
            matches!(
                s.wait_timeout(1, Duration::from_millis(100)),
                Err(Error::TimedOut)
            ),
            "the receive waited for the rest"
        );
        (&client).write_all(b"full").unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let cqe = s.completions().next().unwrap();
        assert_eq!(cqe.cqe().res(), 8);
    });
    assert_eq!(&whole, b"halffull");
}

/// go-uring's `Read(fd, buff, offset)` and `Write` take a `uint64`
/// offset: `^uint64(0)` (-1) means "at the file position", which the op
/// then moves, as `read(2)` and `write(2)` do. uring's `offset(u64::MAX)`
/// is documented so.
#[test]
fn read_and_write_at_u64_max_use_and_move_the_file_position() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(b"0123456789").unwrap();
    file.seek(SeekFrom::Start(4)).unwrap();

    let mut buf = [0u8; 3];
    let cqe = complete(
        &mut ring,
        Read::new(&file, &mut buf[..]).offset(u64::MAX).user_data(1),
    );
    assert_eq!(cqe.res(), 3);
    assert_eq!(&buf, b"456");
    assert_eq!(file.stream_position().unwrap(), 7, "the read moved it");

    let cqe = complete(
        &mut ring,
        Write::new(&file, b"ab").offset(u64::MAX).user_data(2),
    );
    assert_eq!(cqe.res(), 2);
    assert_eq!(file.stream_position().unwrap(), 9, "the write moved it");

    // Offset 0 is pread(2): the position stays.
    let cqe = complete(&mut ring, Read::new(&file, &mut buf[..]).user_data(3));
    assert_eq!(cqe.res(), 3);
    assert_eq!(&buf, b"012");
    assert_eq!(file.stream_position().unwrap(), 9);

    let mut all = String::new();
    file.seek(SeekFrom::Start(0)).unwrap();
    file.read_to_string(&mut all).unwrap();
    assert_eq!(all, "0123456ab9");
}

/// go-uring's `Connect` to a port nobody listens on: the completion
/// carries `-ECONNREFUSED`, and `Cqe::result` gives it as the error.
#[test]
fn connect_to_a_closed_port_fails_with_econnrefused() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let addr = {
        let l = std_listener();
        l.local_addr().unwrap()
    };
    let socket = uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
    let sa = SockAddr::from(addr);
    let cqe = complete(&mut ring, Connect::new(&socket, &sa).user_data(1));
    assert_eq!(cqe.res(), -libc::ECONNREFUSED, "{cqe:?}");
    assert_eq!(
        cqe.result().unwrap_err().raw_os_error(),
        Some(libc::ECONNREFUSED)
    );
}

/// go-uring's `RegisterFiles([]int{fd, -1})`: a `-1` is an empty slot.
/// uring's `register_file_slots` takes `None` for it: an op on the file's
/// slot (go's `SqeFixedFileFlag`) writes to the file, one on the empty
/// slot fails with `-EBADF`, and `unregister_files` (go's
/// `UnRegisterFiles`) lets another table be registered.
#[test]
fn register_files_with_an_empty_slot_as_go_s_minus_one() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let mut file = tempfile::tempfile().unwrap();
    let files = ring
        .register_file_slots(&[Some(file.as_fd()), None])
        .unwrap();
    assert_eq!(files.len(), 2);
    push_lent!(
        ring,
        Write::new(files.get(0).unwrap(), b"fixed").user_data(1)
    )
    .unwrap();
    let flags: Vec<u8> = ring.pending_sqes().map(|s| s.flags).collect();
    assert_eq!(
        flags,
        [sys::IOSQE_FIXED_FILE],
        "go's SqeFixedFileFlag, set by the type"
    );
    assert_eq!(uring_tests::reap_sorted(&mut ring, 1), [(1, 5)]);
    let cqe = complete(
        &mut ring,
        Write::new(files.get(1).unwrap(), b"none").user_data(2),
    );
    assert_eq!(cqe.res(), -libc::EBADF);
    ring.unregister_files(files).map_err(|e| e.error).unwrap();
    let again = ring.register_file_slots(&[None]).unwrap();
    assert_eq!(again.len(), 1);
    let mut all = String::new();
    file.seek(SeekFrom::Start(0)).unwrap();
    file.read_to_string(&mut all).unwrap();
    assert_eq!(all, "fixed");
}

/// go-uring's `Probe()` then `GetOP(code).Flags & OpSupportedFlag`:
/// `OpSupportedFlag` is the kernel's `IO_URING_OP_SUPPORTED`, and every
/// op type go-uring exports is supported on this kernel by its uring
/// counterpart; no code past `last_op` is, and asking about any code (go
/// indexes a 256-entry array) answers without a panic.
#[test]
fn probe_supports_every_op_go_uring_exports() {
    use uring::ops::{Close, ProvideBuffers, ReadV, WriteV};
    let _watch = uring_tests::watchdog();
    assert_eq!(sys::IO_URING_OP_SUPPORTED, 1 << 0, "go's OpSupportedFlag");
    let ring = Ring::new(4).unwrap();
    let probe = ring.probe().unwrap();
    let supported = [
        ("Nop", probe.supports::<Nop>()),
        ("Read", probe.supports::<Read<'static>>()),
        ("Write", probe.supports::<Write<'static>>()),
        ("ReadV", probe.supports::<ReadV<'static, 'static>>()),
        ("WriteV", probe.supports::<WriteV<'static, 'static>>()),
        ("Accept", probe.supports::<Accept<'static>>()),
        ("Connect", probe.supports::<Connect<'static>>()),
        ("Recv", probe.supports::<Recv<'static>>()),
        ("Send", probe.supports::<Send<'static>>()),
        ("Close", probe.supports::<Close>()),
        ("Cancel", probe.supports::<Cancel>()),
        ("Timeout", probe.supports::<Timeout>()),
        ("LinkTimeout", probe.supports::<LinkTimeout>()),
        (
            "ProvideBuffers",
            probe.supports::<ProvideBuffers<'static>>(),
        ),
    ];
    let missing: Vec<&str> = supported
        .iter()
        .filter(|(_, yes)| !yes)
        .map(|(name, _)| *name)
        .collect();
    assert!(missing.is_empty(), "unsupported: {missing:?}");
    let last = probe.last_op();
    for code in 0..=255u8 {
        let yes = probe.is_supported(code);
        if code > last {
            assert!(!yes, "opcode {code} past last_op {last}");
        }
    }
    // go-uring's opcode numbers are the kernel's.
    for (go_code, op) in [
        (0u8, sys::IORING_OP_NOP),
        (1, sys::IORING_OP_READV),
        (2, sys::IORING_OP_WRITEV),
        (11, sys::IORING_OP_TIMEOUT),
        (13, sys::IORING_OP_ACCEPT),
        (14, sys::IORING_OP_ASYNC_CANCEL),
        (15, sys::IORING_OP_LINK_TIMEOUT),
        (16, sys::IORING_OP_CONNECT),
        (19, sys::IORING_OP_CLOSE),
        (22, sys::IORING_OP_READ),
        (23, sys::IORING_OP_WRITE),
        (26, sys::IORING_OP_SEND),
        (27, sys::IORING_OP_RECV),
        (31, sys::IORING_OP_PROVIDE_BUFFERS),
    ] {
        assert_eq!(go_code, op);
        assert!(probe.is_supported(op), "opcode {op}");
    }
}

/// go-uring's `CreateMany(count, entries, wpCount, WithSQPoll(idle))`
/// passes the options to every ring, so the rings that attach to a
/// worker pool share its SQ thread too. uring's `create_many` with an
/// SQPOLL builder: the attached ring names its owner, both report one SQ
/// thread, and NOPs complete on each.
#[test]
fn create_many_with_sqpoll_shares_one_sq_thread_per_pool() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_sqpoll() {
        return;
    }
    let builder = Ring::builder().sqpoll(Duration::from_millis(50));
    let mut rings = Ring::create_many(2, 8, 1, &builder).unwrap();
    assert_eq!(rings.len(), 2);
    assert_eq!(rings[0].attached_wq(), None);
    assert_eq!(rings[1].attached_wq(), Some(rings[0].as_raw_fd()));
    let (t0, _) = uring_tests::sq_thread_info(&rings[0]);
    let (t1, _) = uring_tests::sq_thread_info(&rings[1]);
    assert!(t0 > 0, "the owner has an SQ thread");
    assert_eq!(t0, t1, "one SQ thread for the pool");
    for (i, ring) in rings.iter_mut().enumerate() {
        ring.push(Nop::new().user_data(i as u64)).unwrap();
        let cqe = uring_tests::reap_one(ring);
        assert_eq!((cqe.user_data(), cqe.res()), (i as u64, 0));
    }
}

// ---------------------------------------------------------------- reactor

/// go-uring's `Reactor.QueueWithDeadline`: an op that completes before
/// its deadline has its callback called once, with its result; the link
/// timeout's own completion (go's `timeoutNonce`) reaches no callback, and
/// nothing is called when the deadline later passes.
#[test]
fn a_deadline_op_finishing_first_calls_back_once_with_its_result() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::from_ring(Ring::new(16).unwrap()).unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let expected = std::fs::read(&path).unwrap();
    let file = SharedFd::new(std::fs::File::open(&path).unwrap());
    let calls = Rc::new(RefCell::new(Vec::new()));
    let c = calls.clone();
    let deadline = Instant::now() + Duration::from_secs(1);
    reactor
        .queue_with_deadline(
            uring::reactor::ops::Read::new(&file, vec![0u8; expected.len()], 0),
            deadline,
            move |result, buf| c.borrow_mut().push((result.map_err(|e| e.kind()), buf)),
        )
        .unwrap();
    let start = Instant::now();
    reactor.run().unwrap();
    assert!(
        start.elapsed() < Duration::from_millis(800),
        "run waited for the deadline: {:?}",
        start.elapsed()
    );
    {
        let calls = calls.borrow();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].0, Ok(expected.len() as u32));
        assert_eq!(calls[0].1, expected);
    }
    uring_tests::run_for(&reactor, 1200);
    assert_eq!(
        calls.borrow().len(),
        1,
        "called once, deadline passed or not"
    );
    assert_eq!(reactor.in_flight(), 0);
}

/// go-uring's reactor over `CreateMany(.., WithSQPoll(..))` rings queues
/// a deadline op as a linked pair. uring refuses chains on rings whose SQ
/// thread another ring shares (6.18 cuts such chains), so on a reactor over
/// such a ring `queue_with_deadline` fails at once, saying why, without
/// running the op's callback, and plain ops still run. (A Go program
/// ported as is loses its deadlines here.)
#[test]
fn deadlines_on_a_reactor_over_a_ring_sharing_its_sq_thread_fail_cleanly() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_sqpoll() {
        return;
    }
    let builder = Ring::builder().sqpoll(Duration::from_millis(50));
    let mut rings = Ring::create_many(2, 64, 1, &builder).unwrap();
    let ring = rings.pop().unwrap();
    let reactor = Reactor::from_ring(ring).unwrap();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = SharedFd::new(a);
    let called = Rc::new(Cell::new(false));
    let c = called.clone();
    let start = Instant::now();
    let queued = reactor.queue_with_deadline(
        uring::reactor::ops::Recv::new(&fd, vec![0u8; 8]),
        Instant::now() + Duration::from_secs(30),
        move |_, _| c.set(true),
    );
    let e = queued.expect_err("a linked pair on a shared SQ thread is refused");
    assert!(start.elapsed() < Duration::from_secs(5), "refused at once");
    assert!(
        e.to_string().to_lowercase().contains("sq thread"),
        "the error says why: {e}"
    );
    reactor.run().unwrap();
    assert_eq!(reactor.in_flight(), 0);
    assert!(!called.get(), "a refused op's callback never runs");
    let (r, ()) = reactor
        .run_until(reactor.op(uring::reactor::ops::Nop))
        .unwrap();
    assert_eq!(r.unwrap(), 0);
    drop(rings);
}

// ---------------------------------------------------------------- net

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Sleeps on the reactor (a timeout op), `ms` milliseconds.
async fn sleep(h: &uring::reactor::Handle, ms: u64) {
    let (r, ()) = h
        .op(uring::reactor::ops::Timeout::new(Duration::from_millis(ms)))
        .await;
    let _ = r;
}

/// go-uring's `net.Conn.LocalAddr` and `RemoteAddr`: the accepted side's
/// local address is the listener's, its remote one the client's local
/// address, and the client sees the mirror image.
#[test]
fn accepted_and_connected_streams_report_go_s_local_and_remote_addresses() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = TcpListener::bind(&h, loopback()).unwrap();
    let laddr = listener.local_addr().unwrap();
    assert_ne!(laddr.port(), 0, "Addr() names the port the kernel picked");
    let (client, server) = reactor
        .run_until(async {
            let client = TcpStream::connect(&h, laddr).await.unwrap();
            let server = listener.accept().await.unwrap();
            (client, server)
        })
        .unwrap();
    assert_eq!(server.local_addr().unwrap(), laddr);
    assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
    assert_eq!(client.peer_addr().unwrap(), laddr);
    assert_ne!(client.local_addr().unwrap().port(), laddr.port());
}

/// go-uring's `Conn.RemoteAddr()` is the address the accept reported,
/// kept in the `Conn`: it still names the peer after the connection was
/// reset, when a Go server typically logs it. uring's streams keep it from
/// the accept (or the connect) on, never asked before the reset here.
#[test]
fn remote_addr_still_names_the_peer_after_a_reset() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = TcpListener::bind(&h, loopback()).unwrap();
    let laddr = listener.local_addr().unwrap();
    let client = StdStream::connect(laddr).unwrap();
    let client_addr = client.local_addr().unwrap();
    let server = reactor.run_until(listener.accept()).unwrap().unwrap();
    uring_tests::reset_on_close(&client);
    drop(client);
    let (r, _) = reactor.run_until(server.read(vec![0u8; 8])).unwrap();
    assert_eq!(
        r.unwrap_err().raw_os_error(),
        Some(libc::ECONNRESET),
        "the read sees the reset"
    );
    let after = server.peer_addr();
    assert_eq!(
        after.as_ref().ok(),
        Some(&client_addr),
        "RemoteAddr() after the reset: {after:?}"
    );
}

/// go-uring's `net.Listener` turns TCP keep-alive on for every accepted
/// connection (`ListenConfig.KeepAlive` 0 means 15 s, as Go's own
/// `net` package does), so that a server notices peers that vanished.
/// uring's `TcpListener` does the same through `accept` and `incoming`;
/// `set_keepalive(None)` on the listener leaves accepted sockets as the
/// kernel makes them, and a stream's own `set_keepalive` (Go's
/// `SetKeepAlive` / `SetKeepAlivePeriod`) sets or clears it.
#[test]
fn accepted_connections_have_go_s_tcp_keep_alive() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = TcpListener::bind(&h, loopback()).unwrap();
    assert_eq!(listener.keepalive(), Some(uring::net::DEFAULT_KEEPALIVE));
    let laddr = listener.local_addr().unwrap();
    let _client = StdStream::connect(laddr).unwrap();
    let server = reactor.run_until(listener.accept()).unwrap().unwrap();
    let fd = server.as_fd();
    assert_eq!(
        int_option(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE),
        1,
        "SO_KEEPALIVE"
    );
    assert_eq!(int_option(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE), 15);
    assert_eq!(int_option(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL), 15);
    assert_eq!(server.keepalive().unwrap(), Some(Duration::from_secs(15)));
    // Through the multishot accept too.
    let mut incoming = listener.incoming();
    let _client2 = StdStream::connect(laddr).unwrap();
    let second = reactor
        .run_until(incoming.next())
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        int_option(second.as_fd(), libc::SOL_SOCKET, libc::SO_KEEPALIVE),
        1
    );
    // A stream's own setting.
    second.set_keepalive(Some(Duration::from_secs(40))).unwrap();
    assert_eq!(
        int_option(second.as_fd(), libc::IPPROTO_TCP, libc::TCP_KEEPIDLE),
        40
    );
    assert_eq!(
        int_option(second.as_fd(), libc::IPPROTO_TCP, libc::TCP_KEEPINTVL),
        40
    );
    second.set_keepalive(None).unwrap();
    assert_eq!(second.keepalive().unwrap(), None);
    drop(incoming);
    // A listener told not to leaves accepted sockets alone. (A fresh one:
    // a connection that comes before the dropped stream's accept is
    // cancelled is that accept's, closed with it.)
    let listener = TcpListener::bind(&h, loopback()).unwrap();
    listener.set_keepalive(None);
    let _client3 = StdStream::connect(listener.local_addr().unwrap()).unwrap();
    let third = reactor.run_until(listener.accept()).unwrap().unwrap();
    assert_eq!(
        int_option(third.as_fd(), libc::SOL_SOCKET, libc::SO_KEEPALIVE),
        0
    );
    assert_eq!(third.keepalive().unwrap(), None);
}

/// go-uring's `Conn.Read` at the end of the stream returns 0 (with
/// `io.EOF`), every time; a `Write` to a peer that closed fails with the
/// socket's error (`EPIPE` or `ECONNRESET`) rather than succeeding for
/// ever or raising a signal.
#[test]
fn reads_at_the_end_return_zero_and_writes_to_a_closed_peer_fail() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = TcpListener::bind(&h, loopback()).unwrap();
    let laddr = listener.local_addr().unwrap();
    let mut client = StdStream::connect(laddr).unwrap();
    let server = reactor.run_until(listener.accept()).unwrap().unwrap();
    client.write_all(b"bye").unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let (reads, write_error) = reactor
        .run_until(async {
            let mut reads = Vec::new();
            for _ in 0..3 {
                let (r, buf) = server.read(vec![0u8; 16]).await;
                let n = r.unwrap();
                reads.push(buf[..n].to_vec());
            }
            drop(client);
            let mut write_error = None;
            for _ in 0..50 {
                let (r, _) = server.write(b"data".to_vec()).await;
                match r {
                    Ok(n) => assert_eq!(n, 4),
                    Err(e) => {
                        write_error = Some(e);
                        break;
                    }
                }
                sleep(&h, 10).await;
            }
            (reads, write_error)
        })
        .unwrap();
    assert_eq!(reads, [b"bye".to_vec(), Vec::new(), Vec::new()]);
    let e = write_error.expect("a write to the closed peer failed");
    assert!(
        matches!(e.raw_os_error(), Some(libc::EPIPE | libc::ECONNRESET)),
        "{e:?}"
    );
}

/// What ends a `Conn.Read` in flight from elsewhere: in Go a goroutine
/// closes the connection or sets a past deadline. Here another task on the
/// reactor shuts the stream's read side down: the pending read returns 0
/// (the end of the stream) at once, not at some later timeout.
#[test]
fn a_shutdown_from_another_task_ends_a_pending_read() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = TcpListener::bind(&h, loopback()).unwrap();
    let laddr = listener.local_addr().unwrap();
    let _client = StdStream::connect(laddr).unwrap();
    let server = Rc::new(reactor.run_until(listener.accept()).unwrap().unwrap());
    let got = Rc::new(RefCell::new(None));
    let (s, g) = (server.clone(), got.clone());
    h.spawn(async move {
        let (r, _) = s.read(vec![0u8; 8]).await;
        *g.borrow_mut() = Some((r.map_err(|e| e.kind()), Instant::now()));
    });
    let shut_at = reactor
        .run_until(async {
            sleep(&h, 50).await;
            assert!(got.borrow().is_none(), "the read is pending");
            let at = Instant::now();
            server.shutdown(std::net::Shutdown::Read).await.unwrap();
            for _ in 0..200 {
                if got.borrow().is_some() {
                    break;
                }
                sleep(&h, 10).await;
            }
            at
        })
        .unwrap();
    let (result, ended_at) = got.borrow_mut().take().expect("the read ended");
    assert_eq!(result, Ok(0), "the end of the stream");
    assert!(ended_at.duration_since(shut_at) < Duration::from_secs(1));
}

/// go-uring's `Conn` reads and writes at once from two goroutines. Here a
/// read in flight in one task does not hold up a write on the same stream
/// in another: the write completes, the peer echoes it, and the read gets
/// the echo.
#[test]
fn a_write_completes_while_a_read_of_the_same_stream_is_in_flight() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = TcpListener::bind(&h, loopback()).unwrap();
    let laddr = listener.local_addr().unwrap();
    let mut client = StdStream::connect(laddr).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    let server = Rc::new(reactor.run_until(listener.accept()).unwrap().unwrap());
    let got = Rc::new(RefCell::new(None));
    let (s, g) = (server.clone(), got.clone());
    h.spawn(async move {
        let (r, buf) = s.read(vec![0u8; 16]).await;
        *g.borrow_mut() = Some(r.map(|n| buf[..n].to_vec()).map_err(|e| e.kind()));
    });
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 5];
        client.read_exact(&mut buf).unwrap();
        client.write_all(&buf).unwrap();
        client
    });
    reactor
        .run_until(async {
            sleep(&h, 20).await;
            assert!(got.borrow().is_none(), "the read is pending");
            let (r, _) = server.write(b"hello".to_vec()).await;
            assert_eq!(r.unwrap(), 5, "the write went through");
            for _ in 0..200 {
                if got.borrow().is_some() {
                    break;
                }
                sleep(&h, 10).await;
                // Under valgrind, the echo thread runs only while this
                // one is out of `io_uring_enter` and sleeps.
                uring_tests::let_peers_run();
            }
        })
        .unwrap();
    let _client = echo.join().unwrap();
    assert_eq!(got.borrow_mut().take(), Some(Ok(b"hello".to_vec())));
}

/// go-uring's `SetReadDeadline`/`SetDeadline`: a read cut by its deadline
/// fails (go's `os.ErrDeadlineExceeded`, here `TimedOut`) and takes no
/// byte; `SetDeadline(time.Time{})` (here `None`) clears both deadlines:
/// the next read gets what the peer sent after the timeout, whole, and a
/// write refused for a past deadline sent nothing.
#[test]
fn a_read_cut_by_its_deadline_takes_nothing_and_clearing_the_deadline_resumes() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = TcpListener::bind(&h, loopback()).unwrap();
    let laddr = listener.local_addr().unwrap();
    let mut client = StdStream::connect(laddr).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut server = reactor.run_until(listener.accept()).unwrap().unwrap();

    server.set_read_deadline(Some(Instant::now() + Duration::from_millis(50)));
    let (r, _) = reactor.run_until(server.read(vec![0u8; 16])).unwrap();
    assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    client.write_all(b"late bytes").unwrap();
    // The deadline passed: reads fail at once, bytes waiting or not.
    let (r, _) = reactor.run_until(server.read(vec![0u8; 16])).unwrap();
    assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);

    server.set_deadline(Some(Instant::now() - Duration::from_millis(1)));
    let (r, _) = reactor.run_until(server.write(b"never".to_vec())).unwrap();
    assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);

    server.set_deadline(None);
    let (r, buf) = reactor.run_until(server.read(vec![0u8; 16])).unwrap();
    let n = r.unwrap();
    assert_eq!(
        &buf[..n],
        b"late bytes",
        "nothing was taken by the cut reads"
    );
    let (r, _) = reactor.run_until(server.write(b"after".to_vec())).unwrap();
    assert_eq!(r.unwrap(), 5);
    let mut got = [0u8; 5];
    client.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"after", "the refused write sent nothing");
}
