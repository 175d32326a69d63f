//! Drains and zero-copy sends. Linux 6.18 never issues a zero-copy send
//! that a drain holds back: it issues deferred ops once every request it
//! allocated is deferred, and the send's notification, allocated when the
//! send is prepared, never is. No cancel reaches a deferred op, so a scope
//! waiting for such a send would never return. The kernel also keeps its
//! drain on after the drained op completes, until an op without the flag
//! passes while it holds no other request, which user space cannot tell.
//!
//! So a zero-copy send in a drained chain fails with `EINVAL`, and a ring
//! that took an op flagged `IO_DRAIN`, through any surface, takes no
//! zero-copy send from a scope (`PushErrorKind::AfterDrain`, the op handed
//! back) or a reactor. Each test runs in a process of its own, killed (and
//! failed) if it does not end: a send held by the drain hangs it.

use std::io::Read as _;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use uring::ops::{Nop, Send, SendZc};
use uring::sys::{IORING_CQE_F_MORE, IORING_CQE_F_NOTIF};
use uring::{Linked, PushErrorKind, Ring, Scope, SqeFlags};
use uring_tests::tcp_pair;

/// [`uring_tests::in_own_process`], for the hangs this suite looks for.
fn own_process(name: &str, body: impl FnOnce()) {
    uring_tests::in_own_process(name, "a zero-copy send held by a drain", body);
}

/// What a completion said: `user_data`, `res`, `flags`.
type Seen = (u64, i32, u32);

/// A zero-copy send's completions when it ran: its bytes, then its
/// notification.
fn sent(n: usize) -> Vec<(i32, u32)> {
    vec![(n as i32, IORING_CQE_F_MORE), (0, IORING_CQE_F_NOTIF)]
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

/// Asserts that `refused` is a zero-copy send handed back for the ring's
/// drain, and reports the same as an `io::Error`.
fn assert_after_drain<T>(refused: &uring::PushError<T>, what: &str) {
    assert_eq!(refused.kind(), PushErrorKind::AfterDrain, "on {what}");
    let io = std::io::Error::from(uring::Error::PushRefused(refused.kind()));
    assert_eq!(io.kind(), std::io::ErrorKind::Unsupported);
}

const FLAGGED: &str = "a_zero_copy_send_flagged_io_drain_fails_and_the_ring_takes_no_more";

/// A zero-copy send flagged `IO_DRAIN` completes with `-EINVAL` and sends
/// nothing; its SQE kept the flag, so the ring hands back the next
/// zero-copy send whole, through `push`, `push_owned` and `push_linked`,
/// and still takes other ops.
#[test]
fn a_zero_copy_send_flagged_io_drain_fails_and_the_ring_takes_no_more() {
    own_process(FLAGGED, || {
        for (what, mut ring) in rings() {
            let (socket, peer) = tcp_pair();
            let data = uring_tests::pattern(64, 1);
            let plain = uring_tests::pattern(16, 2);
            let owned = uring_tests::pattern(32, 3);
            ring.scope(|s| {
                s.push(
                    SendZc::new(&socket, &data)
                        .flags(SqeFlags::IO_DRAIN)
                        .user_data(1),
                )
                .unwrap();
                let seen = collect(s, &[1]);
                assert_eq!(seen, [(1, -libc::EINVAL, 0)], "on {what}");
                let refused = s
                    .push(SendZc::new(&socket, &data).user_data(2))
                    .unwrap_err();
                assert_after_drain(&refused, what);
                let back = s
                    .push_owned(owned.clone(), |buf, p| {
                        p.push(SendZc::new(&socket, buf).user_data(3))
                    })
                    .unwrap_err();
                assert_after_drain(&back, what);
                assert_eq!(back.into_inner(), owned, "the buffer comes back as it was");
                let chain = Linked::new(vec![SendZc::new(&socket, &data).user_data(4)]);
                let back = s.push_linked(chain).unwrap_err();
                assert_after_drain(&back, what);
                assert_eq!(back.into_inner().len(), 1, "the chain comes back whole");
                s.push(Send::new(&socket, &plain).user_data(5)).unwrap();
                let seen = collect(s, &[5]);
                assert_eq!(seen, [(5, 16, 0)], "on {what}: a plain send still runs");
                assert_eq!(s.in_flight(), 0);
            });
            // Later scopes too.
            ring.scope(|s| {
                let refused = s
                    .push(SendZc::new(&socket, &data).user_data(6))
                    .unwrap_err();
                assert_after_drain(&refused, what);
            });
            drop(socket);
            assert_eq!(received(peer), plain, "on {what}: the plain send, once");
        }
    });
}

const CHAINED: &str = "a_drain_and_a_zero_copy_send_in_one_chain_fail_the_later_of_the_two";

/// In a chain, the kernel drains the chain as a whole: a zero-copy send
/// after a drained SQE fails with `-EINVAL`, and so does a drained SQE
/// after a zero-copy send, which runs (and the ring, which took no drain,
/// takes the next send). Each chain on a fresh ring.
#[test]
fn a_drain_and_a_zero_copy_send_in_one_chain_fail_the_later_of_the_two() {
    own_process(CHAINED, || {
        for (what, mut ring) in rings() {
            let (socket, peer) = tcp_pair();
            let a = uring_tests::pattern(64, 3);
            ring.scope(|s| {
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
            });
            drop(socket);
            assert_eq!(received(peer), [], "on {what}: nothing sent");
        }
        for (what, mut ring) in rings() {
            let (socket, peer) = tcp_pair();
            let b = uring_tests::pattern(64, 4);
            let c = uring_tests::pattern(64, 5);
            let d = uring_tests::pattern(64, 6);
            ring.scope(|s| {
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
                        SendZc::new(&socket, &b)
                            .flags(SqeFlags::IO_DRAIN)
                            .user_data(6),
                    ),
                )
                .unwrap();
                let seen = collect(s, &[5, 6]);
                assert_eq!(of(&seen, 5), sent(64), "on {what}: {seen:?}");
                assert_eq!(of(&seen, 6), [(-libc::EINVAL, 0)], "on {what}: {seen:?}");
                // A chain of run-time length, the drain on its second send:
                // the first runs, the second fails, the third is cancelled.
                let chain = Linked::new(vec![
                    SendZc::new(&socket, &d).user_data(7),
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
                [&b[..], &c, &d].concat(),
                "on {what}: the three sends that ran, once each, in order"
            );
        }
    });
}

const ANY_PUSH: &str = "a_drain_through_any_surface_keeps_zero_copy_sends_out";

/// An op flagged `IO_DRAIN` pushed through an earlier scope, `Ring::push`,
/// a batch of `Ring::submission`, `Ring::push_raw` or `Ring::next_sqe`
/// (each on a ring of its own, after the drained op completed) keeps the
/// ring's scopes from taking a zero-copy send, before and after the ring
/// is resized; a ring that took none sends.
#[test]
fn a_drain_through_any_surface_keeps_zero_copy_sends_out() {
    own_process(ANY_PUSH, || {
        let (socket, peer) = tcp_pair();
        let data = uring_tests::pattern(48, 7);
        for how in [
            "a scope",
            "Ring::push",
            "Ring::submission",
            "Ring::push_raw",
            "Ring::next_sqe",
        ] {
            // `defer_taskrun` (with `single_issuer`), which a resize needs.
            let mut ring = Ring::builder()
                .single_issuer()
                .defer_taskrun()
                .build(8)
                .unwrap();
            let drained = Nop::new().flags(SqeFlags::IO_DRAIN).user_data(1);
            match how {
                "a scope" => {
                    ring.scope(|s| {
                        s.push(drained).unwrap();
                        assert_eq!(collect(s, &[1]), [(1, 0, 0)]);
                    });
                }
                "Ring::push" => ring.push(drained).unwrap(),
                "Ring::submission" => {
                    let mut sq = ring.submission();
                    sq.push(Nop::new().user_data(1)).unwrap();
                    sq.push(drained).unwrap();
                }
                "Ring::push_raw" => {
                    let sqe = uring::sys::io_uring_sqe {
                        opcode: uring::sys::IORING_OP_NOP,
                        flags: uring::sys::IOSQE_IO_DRAIN,
                        user_data: 1,
                        ..Default::default()
                    };
                    // SAFETY: a NOP names no memory.
                    unsafe { ring.push_raw(&[sqe]) }.unwrap();
                }
                _ => {
                    let mut sqe = ring.next_sqe().unwrap();
                    sqe.opcode = uring::sys::IORING_OP_NOP;
                    sqe.flags = uring::sys::IOSQE_IO_DRAIN;
                    sqe.user_data = 1;
                    // SAFETY: a NOP names no memory.
                    unsafe { sqe.commit() };
                }
            }
            if how != "a scope" {
                let want = if how == "Ring::submission" { 2 } else { 1 };
                ring.submit_and_wait(want).unwrap();
                let c: Vec<_> = ring
                    .completions()
                    .map(|c| (c.user_data(), c.res()))
                    .collect();
                assert_eq!(c, vec![(1, 0); want as usize], "after {how}");
            }
            ring.scope(|s| {
                let refused = s
                    .push(SendZc::new(&socket, &data).user_data(2))
                    .unwrap_err();
                assert_after_drain(&refused, how);
            });
            // A ring resized keeps the drain in mind, as the kernel does.
            match ring.resize(16, 32) {
                Ok(()) => ring.scope(|s| {
                    let refused = s
                        .push(SendZc::new(&socket, &data).user_data(3))
                        .unwrap_err();
                    assert_after_drain(&refused, how);
                }),
                Err(e) => uring_tests::skip(format_args!("resizing the ring after {how}: {e}")),
            }
        }
        // A ring that took no drain sends.
        let mut ring = Ring::new(8).unwrap();
        ring.scope(|s| {
            s.push(SendZc::new(&socket, &data).user_data(4)).unwrap();
            let seen = collect(s, &[4]);
            assert_eq!(of(&seen, 4), sent(48), "{seen:?}");
        });
        drop(socket);
        assert_eq!(
            received(peer),
            data,
            "only the send of the clean ring, once"
        );
    });
}

const REACTOR: &str = "a_reactor_takes_no_drained_ring";

/// A ring whose drained NOP went through `Ring::push`, completed and was
/// reaped, is refused by `Reactor::from_ring` (`InvalidInput`): the
/// kernel's drain, still on, would hold the reactor's ops behind its own
/// long-lived wake-up poll. A clean ring's reactor sends zero-copy, once.
#[test]
fn a_reactor_takes_no_drained_ring() {
    own_process(REACTOR, || {
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
        match Reactor::from_ring(ring) {
            Ok(_) => panic!("a reactor took a drained ring"),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}"),
        }
        let reactor = Reactor::from_ring(Ring::new(8).unwrap()).unwrap();
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
