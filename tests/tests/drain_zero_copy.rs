//! Drains and zero-copy sends in scopes. Linux 6.18 never issues a
//! zero-copy send that a drain holds back: it issues deferred ops once
//! every request it allocated is deferred, and the send's notification,
//! allocated when the send is prepared, never is. No cancel reaches a
//! deferred op, so a scope waiting for such a send would never return. The
//! kernel also keeps its drain on after the drained op completes, until an
//! op without the flag passes with nothing else in flight.
//!
//! The scope keeps every send out of that state: a zero-copy send in a
//! drained chain fails with `EINVAL`; one pushed while the ring's drain may
//! be on is handed back (`PushErrorKind::DrainPending`) while the scope has
//! ops in flight, and goes behind a NOP of the scope's own that lifts the
//! drain once it has none. Each test runs in a process of its own, killed
//! (and failed) if it does not end: a send held by the drain hangs it.

use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use uring::ops::{Nop, Read, Send, SendZc};
use uring::sys::{IORING_CQE_F_MORE, IORING_CQE_F_NOTIF};
use uring::{Linked, PushErrorKind, Ring, Scope, SqeFlags};
use uring_tests::{pipe, require_kernel};

/// What a completion said: `user_data`, `res`, `flags`.
type Seen = (u64, i32, u32);

/// A zero-copy send's completions when it ran: its bytes, then its
/// notification.
fn sent(n: usize) -> Vec<(i32, u32)> {
    vec![(n as i32, IORING_CQE_F_MORE), (0, IORING_CQE_F_NOTIF)]
}

/// Runs `body` in a process of its own (this test binary, running test
/// `name` alone), failing if it fails or does not end in time.
fn in_own_process(name: &str, body: impl FnOnce()) {
    if uring_tests::in_child(name) {
        body();
        return;
    }
    let _watch = uring_tests::watchdog();
    let mut child = uring_tests::child_command(name)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let patience = if uring_tests::under_valgrind() {
        120
    } else {
        15
    };
    let deadline = Instant::now() + Duration::from_secs(patience);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the test never ended: a zero-copy send held by a drain?\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    uring_tests::child_output(&child.wait_with_output().unwrap());
}

/// A connected TCP pair on the loopback: `(sender, receiver)`.
fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let tx = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (rx, _) = listener.accept().unwrap();
    (tx, rx)
}

/// The two kinds of ring a scope runs on: a clean one, whose scopes leave
/// most ops untagged, and one that took an op outside a scope, whose
/// scopes tag every op.
fn rings() -> [(&'static str, Ring); 2] {
    let clean = Ring::new(16).unwrap();
    let mut used = Ring::new(16).unwrap();
    used.push(Nop::new().user_data(0x07)).unwrap();
    used.submit_and_wait(1).unwrap();
    assert_eq!(used.completions().count(), 1);
    [
        ("a clean ring", clean),
        ("a ring used outside scopes", used),
    ]
}

/// Submits and reads completions until every `user_data` of `uds` has
/// posted its last (within ten seconds), then a little longer for anything
/// that follows.
fn collect(s: &mut Scope<'_, '_>, uds: &[u64]) -> Vec<Seen> {
    let mut seen: Vec<Seen> = Vec::new();
    let ended = |seen: &[Seen]| {
        uds.iter().all(|&ud| {
            seen.iter()
                .any(|c| c.0 == ud && c.2 & IORING_CQE_F_MORE == 0)
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        s.submit().unwrap();
        let _ = s.wait_timeout(1, Duration::from_millis(10));
        for c in s.completions() {
            let cqe = c.cqe();
            let cqe = cqe.as_ref();
            seen.push((cqe.user_data(), cqe.res(), cqe.flags()));
        }
        if ended(&seen) {
            break;
        }
        assert!(Instant::now() < deadline, "completions missing: {seen:?}");
    }
    std::thread::sleep(Duration::from_millis(20));
    let _ = s.submit_and_wait_timeout(1, Duration::from_millis(20));
    for c in s.completions() {
        let cqe = c.cqe();
        seen.push((cqe.user_data(), cqe.res(), cqe.flags()));
    }
    seen
}

/// The completions of `ud` among `seen`, as `(res, flags)`.
fn of(seen: &[Seen], ud: u64) -> Vec<(i32, u32)> {
    seen.iter()
        .filter(|c| c.0 == ud)
        .map(|&(_, res, flags)| (res, flags))
        .collect()
}

/// Everything `peer` receives until the sender is closed.
fn received(mut peer: TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    peer.read_to_end(&mut got).unwrap();
    got
}

/// Writes `bytes` to the pipe's write end.
fn write_pipe(tx: &OwnedFd, bytes: &[u8]) {
    use std::io::Write as _;
    std::fs::File::from(tx.try_clone().unwrap())
        .write_all(bytes)
        .unwrap();
}

const FLAGGED: &str = "a_zero_copy_send_flagged_io_drain_fails_and_the_next_one_runs";

/// A zero-copy send flagged `IO_DRAIN` completes with `-EINVAL` and sends
/// nothing; the ring's drain (the refused SQE keeps the flag) is lifted
/// before the next zero-copy send, which runs once.
#[test]
fn a_zero_copy_send_flagged_io_drain_fails_and_the_next_one_runs() {
    in_own_process(FLAGGED, || {
        for (what, mut ring) in rings() {
            let (socket, peer) = tcp_pair();
            let first = uring_tests::pattern(64, 1);
            let second = uring_tests::pattern(64, 2);
            ring.scope(|s| {
                s.push(
                    SendZc::new(&socket, &first)
                        .flags(SqeFlags::IO_DRAIN)
                        .user_data(1),
                )
                .unwrap();
                let seen = collect(s, &[1]);
                assert_eq!(seen, [(1, -libc::EINVAL, 0)], "on {what}");
                s.push(SendZc::new(&socket, &second).user_data(2)).unwrap();
                let seen = collect(s, &[2]);
                assert_eq!(of(&seen, 2), sent(64), "on {what}: {seen:?}");
                assert_eq!(seen.len(), 2, "nothing but the send's: {seen:?}");
                assert_eq!(s.in_flight(), 0);
            });
            drop(socket);
            assert_eq!(received(peer), second, "on {what}: the second send, once");
        }
    });
}

const CHAINED: &str = "a_drain_and_a_zero_copy_send_in_one_chain_fail_the_later_of_the_two";

/// In a chain, the kernel drains the chain as a whole: a zero-copy send
/// after a drained SQE fails with `-EINVAL`, and so does a drained SQE
/// after a zero-copy send, which runs.
#[test]
fn a_drain_and_a_zero_copy_send_in_one_chain_fail_the_later_of_the_two() {
    in_own_process(CHAINED, || {
        for (what, mut ring) in rings() {
            let (socket, peer) = tcp_pair();
            let a = uring_tests::pattern(64, 3);
            let b = uring_tests::pattern(64, 4);
            let c = uring_tests::pattern(64, 5);
            ring.scope(|s| {
                // The drain first: the send after it fails.
                s.push(
                    Nop::new()
                        .flags(SqeFlags::IO_DRAIN)
                        .user_data(1)
                        .link(SendZc::new(&socket, &a).user_data(2)),
                )
                .unwrap();
                let seen = collect(s, &[1, 2]);
                assert_eq!(of(&seen, 1), [(0, 0)], "on {what}: {seen:?}");
                assert_eq!(of(&seen, 2), [(-libc::EINVAL, 0)], "on {what}: {seen:?}");
                assert_eq!(seen.len(), 2, "on {what}: {seen:?}");
                // The send first: it runs, the drained NOP after it fails.
                s.push(
                    SendZc::new(&socket, &b)
                        .user_data(3)
                        .link(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(4)),
                )
                .unwrap();
                let seen = collect(s, &[3, 4]);
                assert_eq!(of(&seen, 3), sent(64), "on {what}: {seen:?}");
                assert_eq!(of(&seen, 4), [(-libc::EINVAL, 0)], "on {what}: {seen:?}");
                assert_eq!(seen.len(), 3, "on {what}: {seen:?}");
                // Two sends, the second flagged: the first runs.
                s.push(
                    SendZc::new(&socket, &c).user_data(5).link(
                        SendZc::new(&socket, &a)
                            .flags(SqeFlags::IO_DRAIN)
                            .user_data(6),
                    ),
                )
                .unwrap();
                let seen = collect(s, &[5, 6]);
                assert_eq!(of(&seen, 5), sent(64), "on {what}: {seen:?}");
                assert_eq!(of(&seen, 6), [(-libc::EINVAL, 0)], "on {what}: {seen:?}");
                // A chain of run-time length, the drain on its second send:
                // the first runs, the second and third fail.
                let chain = Linked::new(vec![
                    SendZc::new(&socket, &b).user_data(7),
                    SendZc::new(&socket, &c)
                        .flags(SqeFlags::IO_DRAIN)
                        .user_data(8),
                    SendZc::new(&socket, &c).user_data(9),
                ]);
                s.push_linked(chain).unwrap();
                let seen = collect(s, &[7, 8, 9]);
                assert_eq!(of(&seen, 7), sent(64), "on {what}: {seen:?}");
                assert_eq!(of(&seen, 8), [(-libc::EINVAL, 0)], "on {what}: {seen:?}");
                assert_eq!(of(&seen, 9), [(-libc::ECANCELED, 0)], "on {what}: {seen:?}");
                assert_eq!(s.in_flight(), 0);
            });
            drop(socket);
            assert_eq!(
                received(peer),
                [&b[..], &c, &b].concat(),
                "on {what}: the three sends that ran, once each, in order"
            );
        }
    });
}

const PENDING: &str =
    "a_zero_copy_send_behind_a_drain_in_flight_is_handed_back_until_the_scope_settles";

/// While an op flagged `IO_DRAIN` (or anything else of the scope) is in
/// flight, a zero-copy send is handed back, whole, with
/// `PushErrorKind::DrainPending`, through `push` and `push_owned` alike;
/// other ops are not. Once the scope's ops have completed, the same send
/// is pushed and runs once.
#[test]
fn a_zero_copy_send_behind_a_drain_in_flight_is_handed_back_until_the_scope_settles() {
    if !require_kernel(6, 0, "zero-copy sends") {
        return;
    }
    in_own_process(PENDING, || {
        for (what, mut ring) in rings() {
            let (socket, peer) = tcp_pair();
            let (gate_rx, gate_tx) = pipe();
            let mut gate = [0u8; 4];
            let data = uring_tests::pattern(64, 6);
            let plain = uring_tests::pattern(16, 7);
            let owned = uring_tests::pattern(32, 8);
            ring.scope(|s| {
                s.push(Read::new(&gate_rx, &mut gate[..]).user_data(1))
                    .unwrap();
                s.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(2))
                    .unwrap();
                s.submit().unwrap();
                let refused = s
                    .push(SendZc::new(&socket, &data).user_data(3))
                    .unwrap_err();
                assert_eq!(refused.kind(), PushErrorKind::DrainPending, "on {what}");
                let io = std::io::Error::from(uring::Error::PushRefused(refused.kind()));
                assert_eq!(io.kind(), std::io::ErrorKind::WouldBlock);
                let op = refused.into_inner();
                let back = s
                    .push_owned(owned.clone(), |buf, p| {
                        p.push(SendZc::new(&socket, buf).user_data(4))
                    })
                    .unwrap_err();
                assert_eq!(back.kind(), PushErrorKind::DrainPending, "on {what}");
                assert_eq!(back.into_inner(), owned, "the buffer comes back as it was");
                let chain = Linked::new(vec![SendZc::new(&socket, &data).user_data(6)]);
                let back = s.push_linked(chain).unwrap_err();
                assert_eq!(back.kind(), PushErrorKind::DrainPending, "on {what}");
                assert_eq!(back.into_inner().len(), 1, "the chain comes back whole");
                // A plain send is no zero-copy send: it waits behind the
                // drain as the kernel says.
                s.push(Send::new(&socket, &plain).user_data(5)).unwrap();
                assert_eq!(s.in_flight(), 3, "the gate, the drain and the plain send");
                write_pipe(&gate_tx, b"open");
                let seen = collect(s, &[1, 2, 5]);
                assert_eq!(of(&seen, 1), [(4, 0)], "on {what}: {seen:?}");
                assert_eq!(of(&seen, 2), [(0, 0)], "on {what}: {seen:?}");
                assert_eq!(of(&seen, 5), [(16, 0)], "on {what}: {seen:?}");
                assert_eq!(seen.len(), 3, "on {what}: {seen:?}");
                s.push(op).unwrap();
                let seen = collect(s, &[3]);
                assert_eq!(of(&seen, 3), sent(64), "on {what}: {seen:?}");
                assert_eq!(seen.len(), 2, "on {what}: {seen:?}");
            });
            assert_eq!(&gate, b"open");
            drop(socket);
            assert_eq!(
                received(peer),
                [plain, data].concat(),
                "on {what}: the plain send, then the zero-copy one, once each"
            );
        }
    });
}

const LEFT_ON: &str = "a_drain_left_on_by_any_push_is_lifted_for_the_next_zero_copy_send";

/// The kernel's drain outlives the drained op: a zero-copy send pushed in a
/// later scope, after an op flagged `IO_DRAIN` went through an earlier
/// scope, `Ring::push`, `Ring::push_raw` or `Ring::next_sqe`, runs (the
/// scope lifts the drain first), once.
#[test]
fn a_drain_left_on_by_any_push_is_lifted_for_the_next_zero_copy_send() {
    in_own_process(LEFT_ON, || {
        let (socket, peer) = tcp_pair();
        let mut ring = Ring::new(8).unwrap();
        let mut expected = Vec::new();
        for (round, how) in ["a scope", "Ring::push", "Ring::push_raw", "Ring::next_sqe"]
            .into_iter()
            .enumerate()
        {
            let drained = 10 * round as u64 + 1;
            match how {
                "a scope" => {
                    ring.scope(|s| {
                        s.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(drained))
                            .unwrap();
                        assert_eq!(collect(s, &[drained]), [(drained, 0, 0)]);
                    });
                }
                "Ring::push" => {
                    ring.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(drained))
                        .unwrap();
                }
                "Ring::push_raw" => {
                    let sqe = uring::sys::io_uring_sqe {
                        opcode: uring::sys::IORING_OP_NOP,
                        flags: uring::sys::IOSQE_IO_DRAIN,
                        user_data: drained,
                        ..Default::default()
                    };
                    // SAFETY: a NOP names no memory.
                    unsafe { ring.push_raw(&[sqe]) }.unwrap();
                }
                _ => {
                    let mut sqe = ring.next_sqe().unwrap();
                    sqe.opcode = uring::sys::IORING_OP_NOP;
                    sqe.flags = uring::sys::IOSQE_IO_DRAIN;
                    sqe.user_data = drained;
                    // SAFETY: a NOP names no memory.
                    unsafe { sqe.commit() };
                }
            }
            if how != "a scope" {
                ring.submit_and_wait(1).unwrap();
                let c: Vec<_> = ring
                    .completions()
                    .map(|c| (c.user_data(), c.res()))
                    .collect();
                assert_eq!(c, [(drained, 0)], "after {how}");
            }
            let data = uring_tests::pattern(48, round as u8);
            ring.scope(|s| {
                s.push(SendZc::new(&socket, &data).user_data(drained + 1))
                    .unwrap();
                let seen = collect(s, &[drained + 1]);
                assert_eq!(of(&seen, drained + 1), sent(48), "after {how}: {seen:?}");
                assert_eq!(seen.len(), 2, "after {how}: {seen:?}");
            });
            expected.extend_from_slice(&data);
        }
        drop(socket);
        assert_eq!(received(peer), expected, "each send once, in order");
    });
}

const REACTOR: &str = "a_reactor_lifts_a_drain_its_ring_was_left_with";

/// A ring whose drained NOP went through `Ring::push` is handed to a
/// reactor: the reactor lifts the drain before its first op, and its
/// zero-copy send runs, once, and reports its bytes.
#[test]
fn a_reactor_lifts_a_drain_its_ring_was_left_with() {
    in_own_process(REACTOR, || {
        use std::os::fd::OwnedFd;
        use uring::reactor::{Reactor, SharedFd, ops::SendZc as ReactorSendZc};
        let (socket, peer) = tcp_pair();
        let mut ring = Ring::new(8).unwrap();
        ring.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(1))
            .unwrap();
        ring.submit_and_wait(1).unwrap();
        let c: Vec<_> = ring
            .completions()
            .map(|c| (c.user_data(), c.res()))
            .collect();
        assert_eq!(c, [(1, 0)]);
        let reactor = Reactor::from_ring(ring).unwrap();
        let socket = SharedFd::new(OwnedFd::from(socket));
        let data = uring_tests::pattern(80, 9);
        let (res, back) = reactor
            .run_until(reactor.op(ReactorSendZc::new(&socket, data.clone())))
            .unwrap();
        assert_eq!(res.unwrap(), 80);
        assert_eq!(back, data);
        drop(reactor);
        drop(socket);
        assert_eq!(received(peer), data, "the send's bytes, once");
    });
}
