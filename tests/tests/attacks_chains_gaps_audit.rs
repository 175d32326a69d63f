//! Chains, links and drains attacked where the other suites stop short: a
//! submission the kernel stops at a chain it refuses, with a borrowing read
//! queued behind it in a scope that returns at once; chains closed by a
//! link timeout on IOPOLL rings (pushed raw, in scopes, and as a reactor's
//! deadline), which the kernel refuses at submission; rings set up with
//! `submit_all`, where a refused chain stops nothing; `CQE_SKIP_SUCCESS`
//! on a head that fails (the cancelled successors post nothing, its link
//! timeout still does) on a ring, against a scope; a multishot poll
//! heading a chain (what follows runs only when the poll ends, which the
//! scope's end does); reads sent to io-wq (`ASYNC`) bounded by link
//! timeouts; drains behind a chain headed by a multishot poll; reactor
//! deadlines (an op and its link timeout) on SQs of one and two entries,
//! from the reactor's thread and from a `Remote`; and a drain that reaches
//! the reactor through an op's own SQE.
//!
//! Read against Linux 6.18: `io_uring/io_uring.c` (`io_init_req`, which
//! refuses an opcode without `iopoll` on an IOPOLL ring and a drain once
//! `CQE_SKIP_SUCCESS` was seen; `io_submit_fail_init`, which fails the chain
//! being built and returns the error, stopping `io_submit_sqes`, only for
//! an SQE without a link flag, unless `IORING_SETUP_SUBMIT_ALL`;
//! `io_queue_sqe_fallback`; `io_disarm_next`; `io_drain_req`, which defers
//! a drained request, its link timeout with it, until every request the
//! ring allocated is done; `io_wq_submit_work`, which
//! issues a forced-async op of a pollable file non-blocking and arms a
//! poll), `io_uring/io_uring.h` (`req_set_fail`: a failing
//! `CQE_SKIP_SUCCESS` request posts, and sets `REQ_F_SKIP_LINK_CQES`),
//! `io_uring/timeout.c` (`io_fail_links`, which marks every cancelled
//! successor `REQ_F_CQE_SKIP` under `REQ_F_SKIP_LINK_CQES`;
//! `io_link_timeout_prep`), `io_uring/opdef.c` (`LINK_TIMEOUT`,
//! `POLL_ADD`, `ASYNC_CANCEL` have no `iopoll`; `NOP` has) and
//! `io_uring/poll.c` (a multishot poll posts with `IORING_CQE_F_MORE` and
//! its link waits for its last completion).
//!
//! Every test is safe code (but for one `unsafe impl` of `reactor::Op`
//! that keeps its whole written contract) against the running kernel and
//! checks what the
//! kernel did: which completions came, once each, with which results, and
//! which bytes moved (canaries in every buffer). Tests marked
//! `#[ignore = "DEFECT: ..."]` show a defect of the library and fail when
//! run.

use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use uring::ops::{LinkTimeout, Nop, PollAdd, Read};
use uring::reactor::Reactor;
use uring::{Cqe, Features, Personality, PollEvents, PollFlags, Ring, Scope, SqeFlags, SyncCancel};
use uring_tests::{PATIENCE, require_kernel, skip};

const CANARY: u8 = 0x5a;
const HOUR: Duration = Duration::from_secs(3600);

/// A personality registered and unregistered again: an SQE naming it
/// fails in `io_init_req` (`-EINVAL`), before the kernel issues anything.
fn gone_personality(ring: &mut Ring) -> Personality {
    let p = ring.register_personality().unwrap();
    ring.unregister_personality(p).unwrap();
    p
}

/// With `tag_all`, pushes a NOP outside any scope and reaps it: every
/// later scope of the ring then tags every op.
fn tag_every_op_if(ring: &mut Ring, tag_all: bool) {
    if tag_all {
        ring.push(Nop::new()).unwrap();
        uring_tests::reap_one(ring);
    }
    assert_eq!(ring.scope(|s| s.tags_every_op()), tag_all);
}

/// `(user_data, res)` of `cqes`, sorted; each `user_data` must appear once.
fn once_each(cqes: &[Cqe]) -> Vec<(u64, i32)> {
    let mut r: Vec<(u64, i32)> = cqes.iter().map(|c| (c.user_data(), c.res())).collect();
    r.sort_unstable();
    let mut uds: Vec<u64> = r.iter().map(|x| x.0).collect();
    uds.dedup();
    assert_eq!(uds.len(), r.len(), "a user_data completed twice: {r:?}");
    r
}

/// Submits and reads completions in the scope until `n` came, within
/// [`PATIENCE`]; then checks that no more come for a while.
fn scope_reap(s: &mut Scope<'_, '_>, n: usize) -> Vec<Cqe> {
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    while seen.len() < n {
        assert!(Instant::now() < deadline, "no end in sight: {seen:?}");
        s.submit().unwrap();
        let _ = s.wait_timeout(1, Duration::from_millis(20));
        seen.extend(s.completions().map(|c| c.cqe()));
    }
    std::thread::sleep(Duration::from_millis(5));
    s.submit().unwrap();
    seen.extend(s.completions().map(|c| c.cqe()));
    assert_eq!(seen.len(), n, "completions: {seen:?}");
    seen
}

/// [`scope_reap`] for a ring.
fn ring_reap(ring: &mut Ring, n: usize) -> Vec<Cqe> {
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    while seen.len() < n {
        assert!(Instant::now() < deadline, "no end in sight: {seen:?}");
        ring.submit().unwrap();
        let _ = ring.wait_timeout(1, Duration::from_millis(20));
        seen.extend(ring.completions());
    }
    std::thread::sleep(Duration::from_millis(5));
    ring.submit().unwrap();
    seen.extend(ring.completions());
    assert_eq!(seen.len(), n, "completions: {seen:?}");
    seen
}

/// Everything the stream holds now, without blocking.
fn drain_now(rx: &UnixStream) -> Vec<u8> {
    rx.set_nonblocking(true).unwrap();
    let mut out = Vec::new();
    let mut chunk = [0u8; 256];
    loop {
        match (&*rx).read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    rx.set_nonblocking(false).unwrap();
    out
}

// ---------------------------------------------------------------------------
// A submission the kernel stops at a refused chain.
// ---------------------------------------------------------------------------

/// A chain whose last SQE the kernel refuses at submission (an
/// unregistered personality) fails whole, and `io_submit_fail_init` then
/// returns the error: `io_submit_sqes` stops, and a read of an empty
/// stream pushed behind the chain stays in the SQ, unconsumed (at every
/// place of the SQ array, the chain and the read wrapping). The scope
/// returns right after reading the chain's two completions, with the read
/// never seen by the kernel. It must not leave it there: after the scope,
/// the ring holds no SQE, a submit outside it issues nothing, and bytes
/// written to the stream then stay in the stream, the read's buffer keeping
/// its canary. When the refused SQE is in the middle of the chain, the
/// kernel goes on past the chain (it returns the error only for an SQE
/// without a link flag) and consumes the read in the same submit.
#[test]
fn a_submit_stopped_at_a_refused_chain_leaves_nothing_of_the_scope_behind() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        for refused_last in [true, false] {
            for head in 0..8 {
                stopped_submit_case(tag_all, refused_last, head);
            }
        }
    }
}

fn stopped_submit_case(tag_all: bool, refused_last: bool, head: u64) {
    let what = format!("tag_all {tag_all}, refused_last {refused_last}, head {head}");
    let mut ring = Ring::new(8).unwrap();
    let gone = gone_personality(&mut ring);
    tag_every_op_if(&mut ring, tag_all);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let mut buf = [CANARY; 8];
    ring.scope(|s| {
        // Move the SQ's head, so that the pushes below wrap at every place.
        for ud in 0..head {
            s.push(Nop::new().user_data(100 + ud)).unwrap();
        }
        scope_reap(s, head as usize);
        let bad = Nop::new().personality(gone).user_data(2);
        if refused_last {
            s.push(Nop::new().user_data(1).link(bad)).unwrap();
        } else {
            s.push(
                Nop::new()
                    .user_data(1)
                    .link(bad)
                    .link(Nop::new().user_data(4)),
            )
            .unwrap();
        }
        s.push(Read::new(&rx, &mut buf[..]).user_data(3)).unwrap();
        let submitted = s.submit().unwrap();
        let chain = if refused_last { 2 } else { 3 };
        if refused_last {
            assert_eq!(submitted, 2, "{what}: the kernel stops after the chain");
        } else {
            assert_eq!(submitted, 4, "{what}: the kernel goes on past the chain");
        }
        let mut seen = Vec::new();
        let deadline = Instant::now() + PATIENCE;
        while seen.len() < chain {
            assert!(Instant::now() < deadline, "{what}: {seen:?}");
            // A wait that submits nothing: the read stays where it is.
            let _ = s.wait_timeout(1, Duration::from_millis(20));
            seen.extend(s.completions().map(|c| c.cqe()));
        }
        let mut want = vec![(1, -libc::ECANCELED), (2, -libc::EINVAL)];
        if !refused_last {
            want.push((4, -libc::ECANCELED));
        }
        assert_eq!(once_each(&seen), want, "{what}");
        assert_eq!(s.in_flight(), 1, "{what}: the read is the scope's");
    });
    assert_eq!(ring.pending(), 0, "{what}: an SQE of the scope is left");
    tx.write_all(b"ABCDEFGH").unwrap();
    ring.submit().unwrap();
    let _ = ring.wait_timeout(1, Duration::from_millis(30));
    let after: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(after, [], "{what}: completions after the scope");
    assert_eq!(buf, [CANARY; 8], "{what}: the read ran after its scope");
    assert_eq!(drain_now(&rx), b"ABCDEFGH", "{what}: bytes taken");
}

/// On a ring set up with `submit_all`, the same refused chain stops
/// nothing: the kernel consumes every SQE of the submit, fails the chain
/// whole (the NOP before the refused one is never issued) and runs the
/// NOP behind it, once each.
#[test]
fn a_refused_chain_stops_nothing_on_a_submit_all_ring() {
    let _watch = uring_tests::watchdog();
    let mut ring = match Ring::builder().submit_all().build(8) {
        Ok(ring) => ring,
        Err(e) => {
            skip(format_args!("IORING_SETUP_SUBMIT_ALL: {e}"));
            return;
        }
    };
    let gone = gone_personality(&mut ring);
    ring.push(
        Nop::new()
            .user_data(1)
            .hard_link(Nop::new().personality(gone).user_data(2)),
    )
    .unwrap();
    ring.push(Nop::new().personality(gone).user_data(3))
        .unwrap();
    ring.push(Nop::new().user_data(4)).unwrap();
    assert_eq!(ring.submit().unwrap(), 4);
    assert_eq!(ring.pending(), 0);
    assert_eq!(
        once_each(&ring_reap(&mut ring, 4)),
        [
            (1, -libc::ECANCELED),
            (2, -libc::EINVAL),
            (3, -libc::EINVAL),
            (4, 0)
        ]
    );
}

// ---------------------------------------------------------------------------
// IOPOLL rings: no link timeouts.
// ---------------------------------------------------------------------------

/// An IOPOLL ring, or `None` with a skip message.
fn iopoll_ring() -> Option<Ring> {
    match Ring::builder().iopoll().build(8) {
        Ok(ring) => Some(ring),
        Err(e) => {
            skip(format_args!("IORING_SETUP_IOPOLL: {e}"));
            None
        }
    }
}

/// `LINK_TIMEOUT` has no `iopoll` in the kernel's op table, so on an
/// IOPOLL ring `io_init_req` refuses it (`-EINVAL`) while a NOP (which
/// has) is taken: a NOP bounded by a link timeout fails unissued
/// (`-ECANCELED`), the timeout with `-EINVAL`, and the submit stops there,
/// leaving the NOP pushed after it for the next one. Hard-linked onward,
/// the chain fails whole just the same (`io_queue_sqe_fallback` turns
/// hard links into soft ones). Through a scope, each op completes once
/// and the scope returns.
#[test]
fn iopoll_rings_refuse_link_timeouts_and_fail_the_chain_they_close() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = iopoll_ring() else {
        return;
    };
    ring.push(Nop::new().user_data(1).timeout_with(HOUR, 2))
        .unwrap();
    ring.push(Nop::new().user_data(3)).unwrap();
    assert_eq!(ring.submit().unwrap(), 2, "stopped at the link timeout");
    assert_eq!(ring.pending(), 1);
    assert_eq!(
        once_each(&ring_reap(&mut ring, 3)),
        [(1, -libc::ECANCELED), (2, -libc::EINVAL), (3, 0)]
    );

    ring.push(
        Nop::new()
            .user_data(5)
            .timeout_with(HOUR, 6)
            .hard_link(Nop::new().user_data(7)),
    )
    .unwrap();
    assert_eq!(
        once_each(&ring_reap(&mut ring, 3)),
        [
            (5, -libc::ECANCELED),
            (6, -libc::EINVAL),
            (7, -libc::ECANCELED)
        ]
    );

    let seen = ring.scope(|s| {
        s.push(
            Nop::new()
                .user_data(8)
                .link_timeout(LinkTimeout::new(HOUR).user_data(9)),
        )
        .unwrap();
        s.push(Nop::new().user_data(10)).unwrap();
        let seen = scope_reap(s, 3);
        assert_eq!(s.in_flight(), 0);
        seen
    });
    assert_eq!(
        once_each(&seen),
        [(8, -libc::ECANCELED), (9, -libc::EINVAL), (10, 0)]
    );
    assert_eq!(ring.pending(), 0);
}

/// A reactor over an IOPOLL ring: its wake-up poll is refused
/// (`POLL_ADD` has no `iopoll`), and every op queued with a deadline is a
/// chain the kernel refuses: the op fails unrun with `ECANCELED`, once,
/// as the reactor's docs say of rings whose restrictions refuse link
/// timeouts, and the timeout's own `-EINVAL` goes nowhere. Ops without a
/// deadline run; nothing stays in flight; the reactor drops at once.
#[test]
fn a_reactor_deadline_on_an_iopoll_ring_fails_its_op_once_unrun() {
    let _watch = uring_tests::watchdog();
    let Some(ring) = iopoll_ring() else {
        return;
    };
    let reactor = match Reactor::from_ring(ring) {
        Ok(reactor) => reactor,
        Err(e) => {
            // Refusing the ring is an answer too, as long as it is one.
            skip(format_args!("the reactor refuses an IOPOLL ring: {e}"));
            return;
        }
    };
    let handle = reactor.handle();
    let calls = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    for i in 0..4u32 {
        let calls = std::rc::Rc::clone(&calls);
        handle
            .queue_with_deadline(
                uring::reactor::ops::Nop,
                Instant::now() + HOUR,
                move |res, ()| {
                    calls
                        .borrow_mut()
                        .push((i, res.map_err(|e| e.raw_os_error())))
                },
            )
            .unwrap();
    }
    let start = Instant::now();
    let plain = reactor
        .run_until(handle.op(uring::reactor::ops::Nop))
        .unwrap()
        .0
        .map_err(|e| e.raw_os_error());
    assert_eq!(plain, Ok(0));
    let bounded = reactor
        .run_until(handle.op_with_deadline(uring::reactor::ops::Nop, Instant::now() + HOUR))
        .unwrap()
        .0
        .map_err(|e| e.raw_os_error());
    assert_eq!(bounded, Err(Some(libc::ECANCELED)));
    let deadline = Instant::now() + PATIENCE;
    while calls.borrow().len() < 4 {
        assert!(Instant::now() < deadline, "{:?}", calls.borrow());
        spin(&reactor);
    }
    for _ in 0..10 {
        spin(&reactor);
    }
    let mut got = calls.borrow().clone();
    got.sort_unstable();
    assert_eq!(
        got,
        (0..4u32)
            .map(|i| (i, Err(Some(libc::ECANCELED))))
            .collect::<Vec<_>>()
    );
    assert_eq!(handle.in_flight(), 0);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    drop(reactor);
}

/// Runs the reactor until a NOP without a deadline completes (a timeout
/// would be refused on an IOPOLL ring).
fn spin(reactor: &Reactor) {
    let (res, ()) = reactor
        .run_until(reactor.op(uring::reactor::ops::Nop))
        .unwrap();
    assert_eq!(res.unwrap(), 0);
}

// ---------------------------------------------------------------------------
// CQE_SKIP_SUCCESS on a head that fails.
// ---------------------------------------------------------------------------

/// A NOP flagged `CQE_SKIP_SUCCESS` that fails (an injected `-EIO`) posts
/// its completion (`req_set_fail` clears the skip) and sets
/// `REQ_F_SKIP_LINK_CQES`: on a ring, the ops its soft link cancels post
/// nothing at all (`io_fail_links`), while a link timeout bounding it
/// still posts its `-ECANCELED` (it is disarmed by `io_disarm_next`, not
/// failed as a link). Over a hard link the next op runs and posts. In a
/// scope, which clears the flag, every op posts, once, and the scope
/// returns.
#[test]
fn a_skipped_head_that_fails_silences_what_its_link_cancels_on_a_ring_only() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 10, "a NOP that fails (IORING_NOP_INJECT_RESULT)") {
        return;
    }
    let mut ring = Ring::new(16).unwrap();
    if !uring_tests::require_features(&ring, Features::CQE_SKIP, "CQE_SKIP_SUCCESS") {
        return;
    }
    let head = |ud: u64| {
        Nop::new()
            .result(-libc::EIO)
            .flags(SqeFlags::CQE_SKIP_SUCCESS)
            .user_data(ud)
    };
    ring.push(
        head(1)
            .link(Nop::new().user_data(2))
            .link(Nop::new().user_data(3)),
    )
    .unwrap();
    ring.push(Nop::new().user_data(4)).unwrap();
    assert_eq!(
        once_each(&ring_reap(&mut ring, 2)),
        [(1, -libc::EIO), (4, 0)],
        "the cancelled successors post nothing"
    );

    ring.push(head(5).timeout_with(HOUR, 6).link(Nop::new().user_data(7)))
        .unwrap();
    ring.push(Nop::new().user_data(8)).unwrap();
    assert_eq!(
        once_each(&ring_reap(&mut ring, 3)),
        [(5, -libc::EIO), (6, -libc::ECANCELED), (8, 0)],
        "the link timeout posts, the op after it does not"
    );

    ring.push(head(9).hard_link(Nop::new().user_data(10)))
        .unwrap();
    assert_eq!(
        once_each(&ring_reap(&mut ring, 2)),
        [(9, -libc::EIO), (10, 0)]
    );

    let seen = ring.scope(|s| {
        s.push(
            head(11)
                .timeout_with(HOUR, 12)
                .link(Nop::new().user_data(13).flags(SqeFlags::CQE_SKIP_SUCCESS))
                .link(Nop::new().user_data(14)),
        )
        .unwrap();
        let seen = scope_reap(s, 4);
        assert_eq!(s.in_flight(), 0);
        seen
    });
    assert_eq!(
        once_each(&seen),
        [
            (11, -libc::EIO),
            (12, -libc::ECANCELED),
            (13, -libc::ECANCELED),
            (14, -libc::ECANCELED)
        ]
    );
    assert_eq!(uring_tests::stray(&mut ring), []);
}

// ---------------------------------------------------------------------------
// A multishot poll heading a chain.
// ---------------------------------------------------------------------------

/// A multishot poll (`PollFlags::MULTI`) heading a chain posts one
/// completion per wake-up, flagged `IORING_CQE_F_MORE`, and what is linked
/// after it waits for its last one: a read of a stream that holds bytes
/// does not run while the poll lives. The scope's end cancels the poll;
/// over a hard link the read then runs (inside the scope, which waits for
/// it) and takes the bytes; over a soft link it is cancelled unissued and
/// the bytes stay in the stream. Either way nothing lands after the scope.
#[test]
fn a_read_linked_behind_a_multishot_poll_waits_for_the_scope_to_end_it() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        for hard in [false, true] {
            let what = format!("tag_all {tag_all}, hard {hard}");
            let mut ring = Ring::new(8).unwrap();
            tag_every_op_if(&mut ring, tag_all);
            let (mut tx, rx) = UnixStream::pair().unwrap();
            tx.write_all(b"abcd").unwrap();
            let mut buf = [CANARY; 4];
            let first = ring.scope(|s| {
                let poll = PollAdd::new(&rx, PollEvents::IN)
                    .poll_flags(PollFlags::MULTI)
                    .user_data(1);
                let read = Read::new(&rx, &mut buf[..]).user_data(2);
                if hard {
                    s.push(poll.hard_link(read)).unwrap();
                } else {
                    s.push(poll.link(read)).unwrap();
                }
                let first = scope_reap(s, 1);
                // More bytes: the poll may post again, the read still waits.
                tx.write_all(b"efgh").unwrap();
                std::thread::sleep(Duration::from_millis(20));
                s.submit().unwrap();
                let more: Vec<Cqe> = s.completions().map(|c| c.cqe()).collect();
                assert!(
                    more.iter().all(|c| c.user_data() == 1 && c.res() > 0),
                    "{what}: the read ran while the poll lived: {more:?}"
                );
                assert_eq!(s.in_flight(), 2, "{what}");
                first
            });
            assert_eq!(first.len(), 1, "{what}");
            assert_eq!(first[0].user_data(), 1, "{what}");
            assert!(first[0].res() > 0, "{what}: {first:?}");
            assert_ne!(
                first[0].flags() & uring::sys::IORING_CQE_F_MORE,
                0,
                "{what}: a multishot poll's completion says more come"
            );
            let left = drain_now(&rx);
            if hard {
                assert_eq!(buf, *b"abcd", "{what}");
                assert_eq!(left, b"efgh", "{what}");
            } else {
                assert_eq!(buf, [CANARY; 4], "{what}");
                assert_eq!(left, b"abcdefgh", "{what}");
            }
            assert_eq!(ring.pending(), 0, "{what}");
            assert_eq!(uring_tests::stray(&mut ring), [], "{what}");
        }
    }
}

// ---------------------------------------------------------------------------
// IOSQE_ASYNC under a link timeout.
// ---------------------------------------------------------------------------

/// A read of an empty stream flagged `ASYNC` goes to io-wq, which issues
/// an op of a pollable file non-blocking and arms a poll
/// (`io_wq_submit_work`), so its link timeout is armed and fires: the
/// read ends `-ECANCELED` (or `-EINTR`) after about the timeout, never its
/// full hour, the timeout `-ETIME`, an op hard-linked after the read runs
/// and one soft-linked is cancelled; the buffer keeps its canary and
/// bytes written afterwards stay in the stream.
#[test]
fn an_async_read_is_cut_by_its_link_timeout() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        for hard in [false, true] {
            let what = format!("tag_all {tag_all}, hard {hard}");
            let mut ring = Ring::new(8).unwrap();
            tag_every_op_if(&mut ring, tag_all);
            let (mut tx, rx) = UnixStream::pair().unwrap();
            let mut buf = [CANARY; 8];
            let start = Instant::now();
            let seen = ring.scope(|s| {
                let read = Read::new(&rx, &mut buf[..])
                    .flags(SqeFlags::ASYNC)
                    .user_data(1)
                    .timeout_with(Duration::from_millis(30), 2);
                let next = Nop::new().user_data(3);
                if hard {
                    s.push(read.hard_link(next)).unwrap();
                } else {
                    s.push(read.link(next)).unwrap();
                }
                scope_reap(s, 3)
            });
            let took = start.elapsed();
            let got = once_each(&seen);
            assert!(
                [-libc::ECANCELED, -libc::EINTR].contains(&got[0].1),
                "{what}: {got:?}"
            );
            assert_eq!(got[1], (2, -libc::ETIME), "{what}");
            let next = if hard { 0 } else { -libc::ECANCELED };
            assert_eq!(got[2], (3, next), "{what}");
            assert!(took >= Duration::from_millis(25), "{what}: {took:?}");
            assert!(took < Duration::from_secs(5), "{what}: {took:?}");
            tx.write_all(b"late").unwrap();
            std::thread::sleep(Duration::from_millis(10));
            assert_eq!(buf, [CANARY; 8], "{what}");
            assert_eq!(drain_now(&rx), b"late", "{what}");
        }
    }
}

// ---------------------------------------------------------------------------
// Drains behind a chain headed by a multishot poll.
// ---------------------------------------------------------------------------

/// A NOP flagged `IO_DRAIN` pushed after a chain headed by a multishot
/// poll waits for the whole chain, the poll's last completion included;
/// a plain NOP pushed after the drain waits for it too. The scope's end
/// (whose cancel requests would wait behind the drain) still ends the
/// poll, after which the chain, the drained NOP and the last NOP complete
/// in that order, each once.
#[test]
fn a_drain_behind_a_chain_headed_by_a_multishot_poll_waits_for_its_end() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(16).unwrap();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let order = ring.scope(|s| {
        s.push(
            PollAdd::new(&rx, PollEvents::IN)
                .poll_flags(PollFlags::MULTI)
                .user_data(1)
                .hard_link(Nop::new().user_data(2)),
        )
        .unwrap();
        s.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(3))
            .unwrap();
        s.push(Nop::new().user_data(4)).unwrap();
        s.submit().unwrap();
        tx.write_all(b"x").unwrap();
        let first = scope_reap(s, 1);
        assert_eq!(first[0].user_data(), 1);
        assert_eq!(s.in_flight(), 4, "the poll lives, the rest waits");
        // Cancel the poll synchronously: the drain holds any cancel SQE.
        let cancelled = s.cancel_sync(SyncCancel::user_data(1), Some(PATIENCE));
        assert!(cancelled.is_ok(), "{cancelled:?}");
        let rest = scope_reap(s, 4);
        rest.iter()
            .map(|c| (c.user_data(), c.res()))
            .collect::<Vec<_>>()
    });
    assert_eq!(
        order,
        [(1, -libc::ECANCELED), (2, 0), (3, 0), (4, 0)],
        "the chain, then the drained NOP, then the one after it"
    );
    drop(tx);
}

// ---------------------------------------------------------------------------
// Reactor deadlines (an op and its link timeout) on the smallest SQs.
// ---------------------------------------------------------------------------

/// A reactor over a ring of one SQE: an op with a deadline is a chain of
/// two SQEs, which never fits. Queueing one is an error (`InvalidInput`),
/// not a hang or a panic, its callback never runs and its value is
/// dropped; as a future it resolves to the same error with its output.
/// Ops without a deadline run, and nothing stays in flight.
#[test]
fn a_reactor_on_a_one_sqe_ring_refuses_deadlines_and_runs_the_rest() {
    let _watch = uring_tests::watchdog();
    let ring = Ring::new(1).unwrap();
    assert_eq!(ring.sq_entries(), 1);
    let reactor = Reactor::from_ring(ring).unwrap();
    let handle = reactor.handle();
    let ran = std::rc::Rc::new(std::cell::Cell::new(0u32));
    let ran2 = std::rc::Rc::clone(&ran);
    let refused = handle
        .queue_with_deadline(
            uring::reactor::ops::Nop,
            Instant::now() + HOUR,
            move |_, ()| ran2.set(ran2.get() + 1),
        )
        .unwrap_err();
    assert_eq!(
        refused.kind(),
        std::io::ErrorKind::InvalidInput,
        "{refused}"
    );
    let (res, buf) = reactor
        .run_until(handle.op_with_deadline(
            uring::reactor::ops::Read::new(
                &uring::reactor::SharedFd::new(UnixStream::pair().unwrap().0),
                vec![CANARY; 4],
                0,
            ),
            Instant::now() + HOUR,
        ))
        .unwrap();
    assert_eq!(
        res.map_err(|e| e.kind()),
        Err(std::io::ErrorKind::InvalidInput)
    );
    assert_eq!(buf, [CANARY; 4]);
    for _ in 0..3 {
        spin(&reactor);
    }
    assert_eq!(ran.get(), 0, "the refused op's callback ran");
    // From another thread: the refusal comes on the reactor's thread, and
    // the callback runs once with it.
    let remote = handle.remote();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        remote
            .queue_with_deadline(
                uring::reactor::ops::Nop,
                Instant::now() + HOUR,
                move |res, ()| tx.send(res.map_err(|e| e.kind())).unwrap(),
            )
            .unwrap();
    })
    .join()
    .unwrap();
    let deadline = Instant::now() + PATIENCE;
    let got = loop {
        spin(&reactor);
        if let Ok(got) = rx.try_recv() {
            break got;
        }
        assert!(Instant::now() < deadline, "the remote op never ended");
    };
    assert_eq!(got, Err(std::io::ErrorKind::InvalidInput));
    spin(&reactor);
    assert!(rx.try_recv().is_err(), "a second call");
    assert_eq!(handle.in_flight(), 0);
}

/// A reactor over a ring of two SQEs, which its own wake-up poll shares:
/// 40 receives on a silent socket, each with a deadline 30 ms ahead, are
/// each a whole chain or nothing in the SQ, so the reactor submits to make
/// room before nearly every one. Each ends `ECANCELED` once, with its own
/// buffer back untouched, and none takes a byte: what the peer sends
/// afterwards is all still in the socket.
#[test]
fn a_reactor_on_a_two_sqe_ring_bounds_every_receive_once() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::from_ring(Ring::new(2).unwrap()).unwrap();
    let handle = reactor.handle();
    let (mut peer, ours) = UnixStream::pair().unwrap();
    let fd = uring::reactor::SharedFd::new(ours.try_clone().unwrap());
    let ends = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let start = Instant::now();
    for i in 0..40u8 {
        let ends = std::rc::Rc::clone(&ends);
        handle
            .queue_with_deadline(
                uring::reactor::ops::Recv::new(&fd, vec![i; 16]),
                Instant::now() + Duration::from_millis(30),
                move |res, buf: Vec<u8>| {
                    ends.borrow_mut()
                        .push((i, res.map_err(|e| e.raw_os_error()), buf));
                },
            )
            .unwrap();
    }
    let deadline = Instant::now() + PATIENCE;
    while ends.borrow().len() < 40 {
        assert!(Instant::now() < deadline, "{} ended", ends.borrow().len());
        spin(&reactor);
        std::thread::sleep(Duration::from_millis(1));
    }
    for _ in 0..5 {
        spin(&reactor);
    }
    assert!(start.elapsed() >= Duration::from_millis(25));
    let mut got = ends.borrow_mut().split_off(0);
    got.sort_by_key(|e| e.0);
    assert_eq!(got.len(), 40);
    for (n, (i, res, buf)) in got.iter().enumerate() {
        assert_eq!(usize::from(*i), n, "ended twice or never: {i}");
        assert_eq!(*res, Err(Some(libc::ECANCELED)), "receive {i}");
        assert_eq!(*buf, vec![*i; 16], "receive {i}'s buffer");
    }
    assert_eq!(handle.in_flight(), 0);
    peer.write_all(b"after").unwrap();
    std::thread::sleep(Duration::from_millis(10));
    assert_eq!(drain_now(&ours), b"after");
}

// ---------------------------------------------------------------------------
// A drain reaching the reactor through an op's SQE.
// ---------------------------------------------------------------------------

/// A reactor op of the program's own whose SQE is a NOP flagged
/// `IO_DRAIN`: `Op`'s contract asks for memory the op owns, descriptors
/// it keeps open and one SQE, nothing of the flags.
struct DrainedNop;

// SAFETY: the SQE is one NOP (`Prepare::SQES == 1`): it points to no
// memory and names no descriptor, and the kernel keeps nothing of it after
// its completion. The contract says nothing of the SQE's flags.
unsafe impl uring::reactor::Op for DrainedNop {
    type Output = ();
    type Sqe<'a> = Nop;
    fn sqe(&mut self) -> Nop {
        Nop::new().flags(SqeFlags::IO_DRAIN)
    }
    fn complete(self, _: uring::reactor::Completion) {}
}

/// Runs the reactor for about `ms` milliseconds without an op of its own
/// (a timeout would wait behind a drain): another thread wakes it through
/// a [`Remote`](uring::reactor::Remote), whose job ends the wait.
fn run_about(reactor: &Reactor, ms: u64) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::task::{Poll, Waker};
    let done = Arc::new(AtomicBool::new(false));
    let waker: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
    let remote = reactor.handle().remote();
    let (done2, waker2) = (Arc::clone(&done), Arc::clone(&waker));
    let timer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(ms));
        remote
            .execute(move |_| {
                done2.store(true, Ordering::SeqCst);
                if let Some(w) = waker2.lock().unwrap().take() {
                    w.wake();
                }
            })
            .unwrap();
    });
    reactor
        .run_until(std::future::poll_fn(|cx| {
            if done.load(Ordering::SeqCst) {
                Poll::Ready(())
            } else {
                *waker.lock().unwrap() = Some(cx.waker().clone());
                Poll::Pending
            }
        }))
        .unwrap();
    timer.join().unwrap();
}

/// The reactor refuses a ring that took a drain (`Reactor::from_ring`:
/// the kernel would hold every new op behind its own long-lived wake-up
/// poll), and clears a drain an op's own SQE asks for, as it clears
/// `CQE_SKIP_SUCCESS`: a drained op would wait behind the wake-up poll,
/// which never ends, past its deadline (which cannot cut a deferred op),
/// with every op queued after it. So an op whose SQE says `IO_DRAIN`,
/// queued with a deadline 30 ms ahead, and a plain NOP queued after it
/// both end at once.
#[test]
fn a_drain_in_a_reactor_ops_sqe_is_cleared_and_holds_nothing() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    // Arm the wake-up poll first, as any run does.
    spin(&reactor);
    let ended = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let e1 = std::rc::Rc::clone(&ended);
    handle
        .queue_with_deadline(
            DrainedNop,
            Instant::now() + Duration::from_millis(30),
            move |res, ()| e1.borrow_mut().push((1, res.map_err(|e| e.raw_os_error()))),
        )
        .unwrap();
    let e2 = std::rc::Rc::clone(&ended);
    handle
        .queue(uring::reactor::ops::Nop, move |res, ()| {
            e2.borrow_mut().push((2, res.map_err(|e| e.raw_os_error())))
        })
        .unwrap();
    run_about(&reactor, 400);
    let got = ended.borrow().clone();
    assert_eq!(
        got.len(),
        2,
        "after 400 ms, with a deadline of 30 ms: {got:?} ended, {} in flight",
        handle.in_flight()
    );
}
