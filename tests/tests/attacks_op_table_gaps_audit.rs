//! The op table's builders against the kernel's prep functions, where the
//! existing suites (`sqe_bytes.rs`, which checks the bytes each builder
//! writes, `attacks_op_*`, `ops_syscall_parity_audit.rs`) stop: the
//! combinations of builder options and flag values whose each part is a
//! value the type offers, but which the kernel's prep refuses as a whole,
//! or runs differently than the op's documentation says. Each test runs the
//! combination against the kernel and asserts what it did: the result and
//! errno, the number of completions and their `IORING_CQE_F_MORE`, the
//! bytes that reached the peer, canary bytes left alone in what the op
//! lent, and what the probe says the running kernel has.
//!
//! Read against Linux 6.18: `io_uring/net.c` (`io_recvmsg_prep`, which
//! refuses `sqe->optlen` without `IORING_RECV_MULTISHOT` and a multishot
//! receive with `MSG_WAITALL`; `io_recv_finish`, which counts each receive
//! off the `unsigned` limit with `min_t(int, ..)`; `io_sendmsg_prep` and
//! `io_recvmsg_prep`, which refuse `IORING_RECVSEND_BUNDLE` for `SENDMSG`
//! and `RECVMSG`;
//! `io_send`/`io_send_finish`, the bundle retry; `io_accept`, `DONTWAIT`),
//! `io_uring/cancel.c` (`io_async_cancel_prep`, which refuses
//! `IORING_ASYNC_CANCEL_ANY` beside `_FD` or `_OP`), `io_uring/timeout.c`
//! (`__io_timeout_prep`: one clock at most, no multishot absolute timeout;
//! `io_link_timeout_fn`, which never re-arms), `io_uring/openclose.c`
//! (`io_install_fixed_fd_prep`, which refuses a request carrying a
//! personality), `io_uring/cmd_net.c` (the socket commands a kernel
//! knows), `io_uring/futex.c` (`io_futex_wake`, whose count reaches
//! `futex_wake` as an `int`; `io_futexv_complete`, whose result is the
//! index woken) and `io_uring/poll.c` (`io_poll_add_prep`, which takes no
//! `IORING_POLL_ADD_LEVEL`).
//!
//! Every test is safe code.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use std::sync::atomic::AtomicU32;

use uring::ops::{
    Accept, Cancel, CancelFd, CancelOp, FixedFdInstall, FutexWait, FutexWaitv, FutexWake,
    GetSockName, LinkTimeout, PollAdd, Read, Recv, RecvMsg, Send, SendMsg, SocketInq, SocketOutq,
    Timeout, TxTimestamp,
};
use uring::{
    AcceptFlags, CancelFlags, CancelOpcode, Cqe, FutexFlags, FutexWaitV, MsgFlags, MsgHdr,
    MsgHdrMut, PollEvents, PollFlags, RecvFlags, Ring, Scope, SendFlags, SockAddrBuf, TimeoutFlags,
};
use uring_tests::{PATIENCE, complete, require_kernel, require_op, skip, watchdog};

const CANARY: u8 = 0xA5;

/// Collects the completions of the scope's ops until `lasts` of them came
/// without `IORING_CQE_F_MORE`, then checks that nothing else comes for a
/// while.
fn reap_until_last(s: &mut Scope<'_, '_>, lasts: usize) -> Vec<Cqe> {
    s.submit().unwrap();
    let mut got: Vec<Cqe> = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while got.iter().filter(|c| !c.has_more()).count() < lasts {
        assert!(Instant::now() < deadline, "no last completion: {got:?}");
        let _ = s.wait_timeout(1, Duration::from_millis(100));
        got.extend(s.completions().map(|c| c.cqe()));
    }
    // Anything else would be a completion after the op's last one.
    let _ = s.wait_timeout(1, Duration::from_millis(50));
    got.extend(s.completions().map(|c| c.cqe()));
    got
}

/// What is waiting on a nonblocking stream, without waiting.
fn pending_bytes(stream: &TcpStream) -> Vec<u8> {
    stream.set_nonblocking(true).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        match (&*stream).read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    stream.set_nonblocking(false).unwrap();
    out
}

/// `Recv::multishot_limit` is documented for `RecvFlags::MULTISHOT`; a
/// receive without it that sets a limit is refused by `io_recvmsg_prep`
/// (`else if (sqe->optlen) return -EINVAL`): the receive fails, the data
/// stays in the socket, and the buffer is untouched.
#[test]
fn a_receive_limit_without_multishot_is_refused_before_it_receives() {
    let _watch = watchdog();
    if !require_kernel(6, 17, "the multishot receive limit (sqe->optlen)") {
        return;
    }
    let (a, b) = uring_tests::tcp_pair();
    (&a).write_all(b"hello").unwrap();
    let mut ring = Ring::new(8).unwrap();
    let mut buf = [CANARY; 16];
    let c = complete(
        &mut ring,
        Recv::new(&b, &mut buf[..]).multishot_limit(4).user_data(1),
    );
    assert_eq!((c.user_data(), c.res()), (1, -libc::EINVAL), "{c:?}");
    assert!(!c.has_more());
    assert_eq!(buf, [CANARY; 16]);
    assert_eq!(pending_bytes(&b), b"hello");
}

/// A multishot receive with `MSG_WAITALL` is refused (`io_recvmsg_prep`):
/// one completion, no `F_MORE`, no provided buffer used, the data left.
#[test]
fn a_multishot_receive_with_waitall_is_refused_once() {
    let _watch = watchdog();
    let (a, b) = uring_tests::tcp_pair();
    (&a).write_all(b"hello").unwrap();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 3, 4, 64) else {
        return;
    };
    let c = complete(
        &mut ring,
        Recv::new(&b, pool.group().select(0))
            .recv_flags(RecvFlags::MULTISHOT)
            .msg_flags(MsgFlags::WAITALL)
            .user_data(2),
    );
    assert_eq!((c.user_data(), c.res()), (2, -libc::EINVAL), "{c:?}");
    assert!(!c.has_more());
    assert_eq!(c.buffer_id(), None);
    assert_eq!(pending_bytes(&b), b"hello");
    drop(pool);
}

/// `SendFlags::BUNDLE` is a `SendFlags` value, and `SendMsg` and `RecvMsg`
/// take `SendFlags`: the kernel refuses a bundle for both opcodes
/// (`io_sendmsg_prep`, `io_recvmsg_prep`: `-EINVAL`), nothing is sent and
/// nothing received.
#[test]
fn a_bundle_flag_on_sendmsg_or_recvmsg_is_refused() {
    let _watch = watchdog();
    let (a, b) = uring_tests::tcp_pair();
    let mut ring = Ring::new(8).unwrap();
    let slices = [std::io::IoSlice::new(b"abc")];
    let msg = MsgHdr::new(&slices);
    let c = complete(
        &mut ring,
        SendMsg::new(&a, &msg)
            .send_flags(SendFlags::BUNDLE)
            .user_data(3),
    );
    assert_eq!((c.user_data(), c.res()), (3, -libc::EINVAL), "{c:?}");
    assert!(pending_bytes(&b).is_empty(), "SENDMSG with BUNDLE sent");

    (&a).write_all(b"xyz").unwrap();
    let mut room = [CANARY; 8];
    {
        let mut slices = [std::io::IoSliceMut::new(&mut room)];
        let mut msg = MsgHdrMut::new(&mut slices);
        let c = complete(
            &mut ring,
            RecvMsg::new(&b, &mut msg)
                .recv_flags(SendFlags::BUNDLE)
                .user_data(4),
        );
        assert_eq!((c.user_data(), c.res()), (4, -libc::EINVAL), "{c:?}");
    }
    assert_eq!(room, [CANARY; 8]);
    assert_eq!(pending_bytes(&b), b"xyz");
}

/// `Send` with `SendFlags::BUNDLE` and a plain buffer (no selection): the
/// documentation says Linux 6.18 sends and may post the count flagged
/// `F_MORE`, then a last 0. Whatever the split, the bytes reach the peer
/// exactly once, the results add up to the length, and exactly one
/// completion comes without `F_MORE`.
#[test]
fn a_bundle_send_of_a_plain_buffer_sends_each_byte_once() {
    let _watch = watchdog();
    let (a, b) = uring_tests::tcp_pair();
    let mut ring = Ring::new(8).unwrap();
    let data = uring_tests::pattern(1000, 7);
    let got = ring.scope(|s| {
        s.push(
            Send::new(&a, &data[..])
                .send_flags(SendFlags::BUNDLE)
                .user_data(5),
        )
        .unwrap();
        reap_until_last(s, 1)
    });
    assert!(got.iter().all(|c| c.user_data() == 5), "{got:?}");
    assert_eq!(got.iter().filter(|c| !c.has_more()).count(), 1, "{got:?}");
    assert!(!got.last().unwrap().has_more(), "{got:?}");
    if got.len() == 1 && got[0].res() == -libc::EINVAL {
        // An earlier kernel: refused, nothing sent.
        assert!(pending_bytes(&b).is_empty());
        return;
    }
    assert!(got.iter().all(|c| c.res() >= 0), "{got:?}");
    let sum: i32 = got.iter().map(|c| c.res()).sum();
    assert_eq!(sum, 1000, "{got:?}");
    let mut seen = vec![0u8; 1000];
    (&b).read_exact(&mut seen).unwrap();
    assert_eq!(seen, data);
    assert!(pending_bytes(&b).is_empty(), "bytes sent twice");
}

/// `CancelFlags::ANY` is a value of the `cancel_flags` of `CancelFd` and
/// `CancelOp` too, whose documentation offers "all" only. The kernel
/// refuses ANY beside a descriptor or an opcode match
/// (`io_async_cancel_prep`): `-EINVAL`, and the reads on both pipes, the
/// named one's and another's, stay in flight and later read their data.
#[test]
fn cancel_by_file_or_opcode_with_any_is_refused_and_cancels_nothing() {
    let _watch = watchdog();
    if !require_kernel(6, 6, "cancel by opcode") {
        return;
    }
    let (ra, wa) = uring_tests::pipe();
    let (rb, wb) = uring_tests::pipe();
    let mut ring = Ring::new(16).unwrap();
    let mut x = [CANARY; 4];
    let mut y = [CANARY; 4];
    let got = ring.scope(|s| {
        s.push(Read::new(&ra, &mut x[..]).user_data(1)).unwrap();
        s.push(Read::new(&rb, &mut y[..]).user_data(2)).unwrap();
        // Each cancel in a submission of its own: the kernel stops a
        // submission at the SQE its prep refuses, leaving the next ones in
        // the SQ.
        s.push(
            CancelFd::new(&ra)
                .cancel_flags(CancelFlags::ANY)
                .user_data(10),
        )
        .unwrap();
        let mut got = uring_tests::scope_reap(s, 1);
        s.push(
            CancelOp::new(CancelOpcode::of::<Read<'_>>())
                .cancel_flags(CancelFlags::ANY)
                .user_data(11),
        )
        .unwrap();
        got.extend(uring_tests::scope_reap(s, 1));
        assert_eq!(s.in_flight(), 2, "both reads wait for their pipes");
        write_to(&wa, b"aa");
        write_to(&wb, b"bb");
        got.extend(uring_tests::scope_reap(s, 2));
        got
    });
    let mut pairs = uring_tests::pairs(&got);
    pairs.sort_unstable();
    assert_eq!(
        pairs,
        [(1, 2), (2, 2), (10, -libc::EINVAL), (11, -libc::EINVAL)],
        "{got:?}"
    );
    assert_eq!(&x[..2], b"aa");
    assert_eq!(&y[..2], b"bb");
}

/// Writes `bytes` to the pipe end `fd`.
fn write_to(fd: &impl AsFd, bytes: &[u8]) {
    let file = std::fs::File::from(fd.as_fd().try_clone_to_owned().unwrap());
    (&file).write_all(bytes).unwrap();
}

/// `TimeoutFlags` lets two clocks, and a multishot absolute timeout, be
/// named together; `__io_timeout_prep` refuses both at once with
/// `-EINVAL`: one completion each, none flagged `F_MORE`, long before the
/// time they name.
#[test]
fn timeout_flag_sets_the_kernel_refuses_complete_once_at_once() {
    let _watch = watchdog();
    if !require_kernel(6, 4, "multishot timeouts") {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let start = Instant::now();
    for (flags, ud) in [
        (TimeoutFlags::BOOTTIME | TimeoutFlags::REALTIME, 1),
        (TimeoutFlags::MULTISHOT | TimeoutFlags::ABS, 2),
    ] {
        let c = complete(
            &mut ring,
            Timeout::new(Duration::from_secs(30))
                .timeout_flags(flags)
                .user_data(ud),
        );
        assert_eq!((c.user_data(), c.res()), (ud, -libc::EINVAL), "{flags:?}");
        assert!(!c.has_more());
    }
    assert!(start.elapsed() < Duration::from_secs(5));
}

/// A link timeout flagged `TimeoutFlags::MULTISHOT` (the flags type is
/// shared with `Timeout`) bounds its op once: `__io_timeout_prep` takes the
/// flag, but a link timeout fires through `io_link_timeout_fn`, which never
/// re-arms: the read is cancelled, the timeout completes once with
/// `-ETIME`, and no completion is flagged `F_MORE` or comes later.
#[test]
fn a_multishot_link_timeout_fires_once() {
    let _watch = watchdog();
    if !require_kernel(6, 4, "multishot timeouts") {
        return;
    }
    let (r, _w) = uring_tests::pipe();
    let mut ring = Ring::new(8).unwrap();
    let mut buf = [CANARY; 8];
    let got = ring.scope(|s| {
        s.push(
            Read::new(&r, &mut buf[..]).user_data(1).link_timeout(
                LinkTimeout::new(Duration::from_millis(20))
                    .timeout_flags(TimeoutFlags::MULTISHOT)
                    .user_data(2),
            ),
        )
        .unwrap();
        let got = reap_until_last(s, 2);
        std::thread::sleep(Duration::from_millis(100));
        let late: Vec<Cqe> = s.completions().map(|c| c.cqe()).collect();
        assert!(late.is_empty(), "late completions: {late:?}");
        got
    });
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|c| !c.has_more()), "{got:?}");
    let mut pairs = uring_tests::pairs(&got);
    pairs.sort_unstable();
    // Linux 6.18 takes the flag and fires once, as a plain link timeout.
    assert_eq!(pairs, [(1, -libc::ECANCELED), (2, -libc::ETIME)]);
    assert_eq!(buf, [CANARY; 8]);
}

/// A multishot accept with `AcceptFlags::DONTWAIT` on an empty backlog
/// ends at once: one completion, `-EAGAIN`, no `F_MORE`; a connection
/// made afterwards stays in the backlog for `accept(2)`.
#[test]
fn a_multishot_accept_that_may_not_wait_ends_once_on_an_empty_backlog() {
    let _watch = watchdog();
    if !require_kernel(6, 10, "IORING_ACCEPT_DONTWAIT") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut ring = Ring::new(8).unwrap();
    let got = ring.scope(|s| {
        s.push(
            Accept::new(&listener)
                .iou_flags(AcceptFlags::MULTISHOT | AcceptFlags::DONTWAIT)
                .user_data(1),
        )
        .unwrap();
        reap_until_last(s, 1)
    });
    assert_eq!(uring_tests::pairs(&got), [(1, -libc::EAGAIN)], "{got:?}");
    assert!(!got[0].has_more());
    let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    listener.set_nonblocking(true).unwrap();
    let start = Instant::now();
    loop {
        match listener.accept() {
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(start.elapsed() < PATIENCE, "the connection was taken");
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("{e}"),
        }
    }
}

/// `FixedFdInstall` takes the common `.personality(..)` every op has, but
/// `io_install_fixed_fd_prep` refuses a request that carries one
/// (`REQ_F_CREDS`: `-EPERM`), so that a descriptor is installed with the
/// submitter's own credentials: no descriptor is made.
#[test]
fn a_fixed_fd_install_under_a_personality_is_refused() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FixedFdInstall>(&ring) {
        return;
    }
    let personality = match ring.register_personality() {
        Ok(p) => p,
        Err(e) => {
            skip(format_args!("no personality: {e}"));
            return;
        }
    };
    let file = tempfile::tempfile().unwrap();
    let files = ring.register_files(&[file.as_fd()]).unwrap();
    let before = uring_tests::open_fd_set();
    let c = complete(
        &mut ring,
        FixedFdInstall::new(files.get(0).unwrap())
            .personality(personality)
            .user_data(1),
    );
    assert_eq!((c.user_data(), c.res()), (1, -libc::EPERM), "{c:?}");
    assert_eq!(uring_tests::open_fd_set(), before);
    // Without it the same install works.
    let c = complete(
        &mut ring,
        FixedFdInstall::new(files.get(0).unwrap()).user_data(2),
    );
    assert!(c.res() >= 0, "{c:?}");
    // The descriptor the second install made stays open until the test
    // process ends: closing a bare number needs `unsafe`.
}

/// `PollFlags::LEVEL` (`IORING_POLL_ADD_LEVEL`) is in the kernel's header,
/// but Linux never takes it for `POLL_ADD`: `io_poll_add_prep` refuses
/// every bit of `sqe->len` but `IORING_POLL_ADD_MULTI` (the patch that let
/// `IORING_POLL_ADD_LEVEL` through was reverted before 6.0), and
/// `io_poll_remove_prep` refuses it in an update too. A poll with the flag
/// on a readable pipe fails with `-EINVAL`, one-shot and multishot, as the
/// flag's documentation says.
#[test]
fn a_level_triggered_poll_is_refused_as_documented() {
    let _watch = watchdog();
    let (r, w) = uring_tests::pipe();
    write_to(&w, b"x");
    let mut ring = Ring::new(8).unwrap();
    for (flags, user_data) in [
        (PollFlags::LEVEL, 1),
        (PollFlags::LEVEL | PollFlags::MULTI, 2),
    ] {
        let c = complete(
            &mut ring,
            PollAdd::new(&r, PollEvents::IN)
                .poll_flags(flags)
                .user_data(user_data),
        );
        assert_eq!(
            (c.user_data(), c.res(), c.flags()),
            (user_data, -libc::EINVAL, 0),
            "{c:?}"
        );
    }
    assert!(uring_tests::stray(&mut ring).is_empty());
}

/// `FutexWaitv` completes with the index of the futex that woke it
/// (`io_futexv_complete`: `futex_unqueue_multiple` finds the one no longer
/// queued), for each index of the vector, and `FutexWake` with the number
/// woken.
#[test]
fn a_vectored_futex_wait_completes_with_the_index_woken() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FutexWaitv<'_>>(&ring) {
        return;
    }
    let words = [AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0)];
    for woken in 0..words.len() {
        let vector: Vec<FutexWaitV<'_>> = words
            .iter()
            .map(|w| FutexWaitV::new(w, 0, FutexFlags::PRIVATE))
            .collect();
        let got = ring.scope(|s| {
            s.push(FutexWaitv::new(&vector[..]).user_data(1)).unwrap();
            s.submit().unwrap();
            // The wait is queued before the wake runs: nothing completes.
            let _ = s.wait_timeout(1, Duration::from_millis(50));
            assert_eq!(s.completions().count(), 0, "the wait ended early");
            s.push(
                FutexWake::new(&words[woken], 1)
                    .futex_flags(FutexFlags::PRIVATE)
                    .user_data(2),
            )
            .unwrap();
            uring_tests::scope_reap(s, 2)
        });
        let mut pairs = uring_tests::pairs(&got);
        pairs.sort_unstable();
        assert_eq!(pairs, [(1, woken as i32), (2, 1)], "woken {woken}");
    }
}

/// The probe names the socket commands by the kernel that added each
/// (`Probe::supports` reads the op's `since` beside the opcode, since every
/// socket command shares `URING_CMD`): each command the probe says the
/// running kernel has runs (no `-EOPNOTSUPP`, which `io_uring_cmd_sock`
/// answers for a command it does not know), and each it says the kernel
/// lacks is refused, writing nothing.
#[test]
fn the_probe_and_the_kernel_agree_on_each_socket_command() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SocketInq<'_>>(&ring) {
        return;
    }
    let probe = ring.probe().unwrap();
    let (a, _b) = uring_tests::tcp_pair();
    let c = complete(&mut ring, SocketInq::new(&a));
    assert_eq!(c.res(), 0, "SIOCINQ of an empty socket: {c:?}");
    let c = complete(&mut ring, SocketOutq::new(&a));
    assert_eq!(c.res(), 0, "SIOCOUTQ of an idle socket: {c:?}");
    let mut buf = SockAddrBuf::new();
    let c = complete(&mut ring, GetSockName::new(&a, &mut buf));
    if probe.supports::<GetSockName<'_>>() {
        assert_eq!(c.res(), 0, "GETSOCKNAME: {c:?}");
        assert_eq!(buf.socket_addr(), Some(a.local_addr().unwrap()));
    } else {
        assert_eq!(c.res(), -libc::EOPNOTSUPP, "GETSOCKNAME: {c:?}");
        assert_eq!(buf.socket_addr(), None, "a refused command wrote");
    }
    let c = complete(&mut ring, TxTimestamp::new(&a).user_data(9));
    if probe.supports::<TxTimestamp<'_>>() {
        // No timestamping asked for: the command is known and refuses.
        assert_ne!(c.res(), -libc::EOPNOTSUPP, "TX_TIMESTAMP: {c:?}");
    } else {
        assert_eq!(c.res(), -libc::EOPNOTSUPP, "TX_TIMESTAMP: {c:?}");
    }
}

/// Runs a multishot receive with `multishot_limit(limit)` over a buffer
/// ring, sends two 5-byte messages (the second after the first was
/// received), then cancels the receive: the completions of the receive,
/// in order.
fn limited_multishot_receive(limit: u32) -> Option<Vec<Cqe>> {
    let (a, b) = uring_tests::tcp_pair();
    let mut ring = Ring::new(8).unwrap();
    let pool = uring_tests::plain_buf_ring(&mut ring, 5, 8, 64)?;
    let got = ring.scope(|s| {
        s.push(
            Recv::new(&b, pool.group().select(0))
                .recv_flags(RecvFlags::MULTISHOT)
                .multishot_limit(limit)
                .user_data(1),
        )
        .unwrap();
        s.submit().unwrap();
        (&a).write_all(b"first").unwrap();
        let mut got = uring_tests::scope_reap(s, 1);
        if got[0].has_more() {
            (&a).write_all(b"again").unwrap();
            got.extend(uring_tests::scope_reap(s, 1));
            if got[1].has_more() {
                s.push(Cancel::new(1).user_data(2)).unwrap();
                got.extend(reap_until_last(s, 2));
            }
        }
        got
    });
    drop(pool);
    Some(got)
}

/// The receive's results and `F_MORE` flags, in order (the cancel's left
/// out).
fn shape(got: &[Cqe]) -> Vec<(i32, bool)> {
    got.iter()
        .filter(|c| c.user_data() == 1)
        .map(|c| (c.res(), c.has_more()))
        .collect()
}

/// A limit below 2^31 bytes is a limit (`io_recv_finish` counts each
/// receive off `mshot_total_len`): two 5-byte receives under a limit of
/// `i32::MAX` both come flagged `F_MORE`, and the receive ends only when
/// cancelled.
#[test]
fn a_large_multishot_receive_limit_under_2_gib_keeps_receiving() {
    let _watch = watchdog();
    if !require_kernel(6, 17, "the multishot receive limit (sqe->optlen)") {
        return;
    }
    let Some(got) = limited_multishot_receive(i32::MAX as u32) else {
        return;
    };
    assert_eq!(
        shape(&got),
        [(5, true), (5, true), (-libc::ECANCELED, false)],
        "{got:?}"
    );
}

/// `Recv::multishot_limit` is documented as at most `i32::MAX`: the kernel
/// keeps the limit in an `unsigned` but counts each receive off it with
/// `min_t(int, ret, mshot_total_len)` (`io_recv_finish`), so a limit of
/// 2^31 or more reads as negative there, the subtraction wraps the
/// remaining count to exactly 0, and the receive ends at its first
/// completion (5 bytes, no `F_MORE`), as the documentation warns.
#[test]
fn a_multishot_receive_limit_of_2_pow_31_or_more_ends_at_the_first_completion() {
    let _watch = watchdog();
    if !require_kernel(6, 17, "the multishot receive limit (sqe->optlen)") {
        return;
    }
    for limit in [1u32 << 31, u32::MAX] {
        let Some(got) = limited_multishot_receive(limit) else {
            return;
        };
        assert_eq!(shape(&got), [(5, false)], "limit {limit}: {got:?}");
    }
}

/// Parks three `FutexWait`s on one word, then runs `FutexWake` with
/// `count`: the wake's result and how many waits it ended (the rest are
/// woken afterwards, so that the scope ends).
fn wake_three_waiters_with(count: u64) -> (i32, usize) {
    let mut ring = Ring::new(16).unwrap();
    let word = AtomicU32::new(0);
    ring.scope(|s| {
        for i in 0..3 {
            s.push(
                FutexWait::new(&word, 0)
                    .futex_flags(FutexFlags::PRIVATE)
                    .user_data(10 + i),
            )
            .unwrap();
        }
        s.submit().unwrap();
        let _ = s.wait_timeout(1, Duration::from_millis(50));
        assert_eq!(s.completions().count(), 0, "a wait ended early");
        s.push(
            FutexWake::new(&word, count)
                .futex_flags(FutexFlags::PRIVATE)
                .user_data(1),
        )
        .unwrap();
        let mut got = vec![uring_tests::next_scope_cqe(s).cqe()];
        // The waits it woke complete through task work, maybe after it:
        // give them a moment, then count them.
        let _ = s.wait_timeout(3, Duration::from_millis(100));
        got.extend(s.completions().map(|c| c.cqe()));
        let wake = got.iter().find(|c| c.user_data() == 1).expect("the wake");
        let (wake, woken) = (wake.res(), got.len() - 1);
        let left = 3 - woken;
        if left > 0 {
            s.push(
                FutexWake::new(&word, 3)
                    .futex_flags(FutexFlags::PRIVATE)
                    .user_data(2),
            )
            .unwrap();
            let rest = uring_tests::scope_reap(s, left + 1);
            assert!(rest.iter().all(|c| c.res() >= 0), "{rest:?}");
        }
        (wake, woken)
    })
}

/// `FutexWake` with counts up to `i32::MAX` wakes up to that many: 0
/// wakes none, 2 wakes two of three, `i32::MAX` all three; a count past
/// 32 bits is refused (`futex_validate_input`: `-EINVAL`), waking none.
#[test]
fn futex_wake_counts_up_to_i32_max_wake_up_to_that_many() {
    let _watch = watchdog();
    let ring = Ring::new(4).unwrap();
    if !require_op::<FutexWake<'_>>(&ring) {
        return;
    }
    for (count, woken) in [(0, 0), (2, 2), (i32::MAX as u64, 3), (u64::MAX, 0)] {
        let (res, seen) = wake_three_waiters_with(count);
        let expect = if count == u64::MAX {
            -libc::EINVAL
        } else {
            woken as i32
        };
        assert_eq!((res, seen), (expect, woken), "count {count}");
    }
}

/// `FutexWake`'s count is documented as an `int` to the kernel
/// (`io_futex_wake` → `futex_wake(.., int nr_wake, ..)`, after
/// `futex_validate_input` let any value of 32 bits through): a count from
/// 2^31 to `u32::MAX` is negative there, and `futex_wake` stops after the
/// first waiter (`++ret >= nr_wake`): one of three woken, the wake
/// completing with 1.
#[test]
fn futex_wake_counts_from_2_pow_31_wake_one_waiter_as_documented() {
    let _watch = watchdog();
    let ring = Ring::new(4).unwrap();
    if !require_op::<FutexWake<'_>>(&ring) {
        return;
    }
    for count in [1u64 << 31, u64::from(u32::MAX)] {
        assert_eq!(wake_three_waiters_with(count), (1, 1), "count {count}");
    }
}
