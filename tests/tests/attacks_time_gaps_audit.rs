//! Gap audit of time: the timeout ops through the ring and the reactor's
//! deadlines (link timeouts), where the other suites stop. Read against
//! Linux 6.18's `io_uring/timeout.c` (`io_timeout_fn`, which posts
//! `-ETIME` whatever `IORING_TIMEOUT_ETIME_SUCCESS` says and only skips
//! `req_set_fail`; `io_timeout_update`, which sets `timeout->off = 0` and
//! so turns a counted timeout into a plain timer; `io_timeout_extract`,
//! which searches `timeout_list` only, and `io_linked_timeout_update`,
//! which searches `ltimeout_list` only; `io_req_task_link_timeout`, whose
//! `io_try_cancel` answers `-ENOENT` when its op's own timer fired first)
//! and against the reactor's `core.rs` (`Deadline`, `deadline_ended`,
//! slot reuse) and `net/mod.rs` (`run`, `deadlined`).
//!
//! Attacks: the documented result of `ETIME_SUCCESS`; counted timeouts
//! moved by an update; removals, cancels and updates of the wrong kind of
//! timer; a timeout op and its own deadline due at the same instant
//! (raw, and through the reactor, whose `deadline_ended` then sees
//! `-ENOENT` from the kernel, not a forged completion); a timer reset
//! thousands of times (by id, by dropped future, under deadlines: nothing
//! stale fires, slots are reused, nothing grows); hundreds of deadlines
//! firing at once into a four-entry CQ; and go's `SetDeadline` on both
//! halves of a TCP stream and a UDP socket (past, cleared, far, passing
//! while a read waits), checking that a cut or refused op moved no byte.

use std::cell::{Cell, RefCell};
use std::io::{Read as _, Write as _};
use std::rc::Rc;
use std::time::{Duration, Instant};

use uring::ops::{
    Cancel, LinkTimeout, LinkTimeoutUpdate, Nop, Timeout, TimeoutRemove, TimeoutUpdate,
};
use uring::reactor::{OpId, Reactor, SharedFd, ops};
use uring::{Builder, Ring, TimeoutFlags, Timespec};
use uring_tests::{poll_once, skip, watchdog};

/// An hour: no timer below reaches it while the test runs.
const HOUR: Duration = Duration::from_secs(3600);

/// How late anything below may be on a loaded two-core machine.
const LATE: Duration = Duration::from_secs(3);

/// One completion: `user_data`, result, `F_MORE`, when it was read.
type Seen = (u64, i32, bool, Instant);

/// Submits and reads completions until `want` of them arrived, or panics
/// after [`LATE`].
fn reap(ring: &mut Ring, want: usize) -> Vec<Seen> {
    let start = Instant::now();
    let mut seen = Vec::new();
    ring.submit().unwrap();
    while seen.len() < want {
        assert!(
            start.elapsed() < LATE,
            "{} of {want} completions: {seen:?}",
            seen.len()
        );
        let _ = ring.submit_and_wait_timeout(1, Duration::from_millis(20));
        let now = Instant::now();
        seen.extend(
            ring.completions()
                .map(|c| (c.user_data(), c.res(), c.has_more(), now)),
        );
    }
    seen
}

/// The one completion of `user_data` in `seen`.
fn one(seen: &[Seen], user_data: u64) -> Seen {
    let of: Vec<&Seen> = seen.iter().filter(|c| c.0 == user_data).collect();
    assert_eq!(of.len(), 1, "user_data {user_data}: {seen:?}");
    *of[0]
}

/// Callbacks' records: which op, its errno, when it ran.
type Ends = Rc<RefCell<Vec<(u32, Option<i32>, Instant)>>>;

/// Callbacks' records: which timer, its errno.
type Resets = Rc<RefCell<Vec<(u32, Option<i32>)>>>;

/// The errno of a result, `None` for a success.
fn errno(r: &std::io::Result<u32>) -> Option<i32> {
    r.as_ref().err().map(|e| e.raw_os_error().unwrap_or(-1))
}

// ---------------------------------------------------------------------------
// Timeout flags and updates through the ring
// ---------------------------------------------------------------------------

/// `TimeoutFlags::ETIME_SUCCESS` leaves a fired timer unfailed, so that its
/// links run, but `io_timeout_fn` posts `-ETIME` either way (liburing's man
/// page: "the timeout is still posted with -ETIME"). The flag's docs once
/// said it completed with 0: a program matching on 0 never saw its timer
/// fire.
#[test]
fn an_etime_success_timeout_still_completes_with_etime() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(
        Timeout::new(Duration::from_millis(2))
            .timeout_flags(TimeoutFlags::ETIME_SUCCESS)
            .user_data(1),
    )
    .unwrap();
    let seen = reap(&mut ring, 1);
    if seen[0].1 == -libc::EINVAL {
        skip("no IORING_TIMEOUT_ETIME_SUCCESS");
        return;
    }
    assert_eq!(seen[0].1, -libc::ETIME, "a fired ETIME_SUCCESS timer");
}

/// What `ETIME_SUCCESS` really does, on a counted multishot timeout
/// heading a chain: every firing is `-ETIME` (the first ones flagged
/// `F_MORE`), and the NOP linked after it runs (0) once the last firing
/// ends it; without the flag the last `-ETIME` fails the link and the NOP
/// is cancelled. One completion per firing, none after.
#[test]
fn a_counted_multishot_timeout_heading_a_chain_runs_its_link_only_with_etime_success() {
    let _watch = watchdog();
    if !uring_tests::require_kernel(6, 4, "multishot timeouts") {
        return;
    }
    for (flags, nop) in [
        (TimeoutFlags::MULTISHOT | TimeoutFlags::ETIME_SUCCESS, 0),
        (TimeoutFlags::MULTISHOT, -libc::ECANCELED),
    ] {
        let mut ring = Ring::new(8).unwrap();
        ring.push(
            Timeout::new(Duration::from_millis(3))
                .count(3)
                .timeout_flags(flags)
                .user_data(1)
                .link(Nop::new().user_data(2)),
        )
        .unwrap();
        let seen = reap(&mut ring, 4);
        let shape: Vec<(u64, i32, bool)> = seen.iter().map(|c| (c.0, c.1, c.2)).collect();
        assert_eq!(
            shape,
            [
                (1, -libc::ETIME, true),
                (1, -libc::ETIME, true),
                (1, -libc::ETIME, false),
                (2, nop, false),
            ],
            "{flags:?}"
        );
        assert!(uring_tests::stray(&mut ring).is_empty(), "{flags:?}");
    }
}

/// `io_timeout_update` sets `timeout->off = 0`: a timeout waiting for a
/// count of completions, once updated, is a plain timer. Five NOPs
/// posted after the update do not complete it (a twin that was not
/// updated completes with 0 after two of them); it fires with `-ETIME` at
/// its new time, and an update of the completed twin finds nothing
/// (`-ENOENT`). The doc of `TimeoutUpdate` says only that it sets a new
/// time; of the count it says nothing (the `MULTISHOT` flag's doc says it
/// for multishot timeouts alone).
#[test]
fn an_update_turns_a_counted_timeout_into_a_plain_timer() {
    let _watch = watchdog();
    let mut ring = Builder::new().cq_entries(64).build(16).unwrap();
    if !uring_tests::require_op::<TimeoutUpdate>(&ring) {
        return;
    }
    ring.push(Timeout::new(HOUR).count(2).user_data(1)).unwrap();
    ring.submit().unwrap();
    let updated = Instant::now();
    ring.push(TimeoutUpdate::new(1, Duration::from_millis(80)).user_data(2))
        .unwrap();
    let seen = reap(&mut ring, 1);
    assert_eq!((seen[0].0, seen[0].1), (2, 0), "the update");
    ring.push(Timeout::new(HOUR).count(2).user_data(3)).unwrap();
    ring.submit().unwrap();
    for i in 0..5 {
        ring.push(Nop::new().user_data(10 + i)).unwrap();
    }
    let seen = reap(&mut ring, 6);
    assert_eq!(one(&seen, 3).1, 0, "the twin's count: {seen:?}");
    assert!(
        seen.iter().all(|c| c.0 != 1),
        "the updated timeout still counted completions: {seen:?}"
    );
    ring.push(TimeoutUpdate::new(3, Duration::from_millis(1)).user_data(4))
        .unwrap();
    let seen = reap(&mut ring, 2);
    assert_eq!(one(&seen, 4).1, -libc::ENOENT, "{seen:?}");
    let (_, res, more, at) = one(&seen, 1);
    assert_eq!((res, more), (-libc::ETIME, false));
    assert!(
        at >= updated + Duration::from_millis(80),
        "{:?}",
        at - updated
    );
}

/// A link timeout is in `ltimeout_list`, a timeout in `timeout_list`, and
/// each lookup searches one: a `TimeoutRemove`, a plain `TimeoutUpdate`
/// and an `ASYNC_CANCEL` naming the link timeout find nothing
/// (`-ENOENT`), and so does a `LinkTimeoutUpdate` naming the plain
/// timeout it bounds. A `LinkTimeoutUpdate` of zero fires it at once: the
/// timeout it bounds ends `-ECANCELED`, the link timeout `-ETIME`; after
/// that every lookup of either is `-ENOENT`. An hour-long pair, so that
/// nothing but the lookups ends them.
#[test]
fn removals_cancels_and_updates_of_the_wrong_timer_kind_find_nothing() {
    let _watch = watchdog();
    if !uring_tests::require_kernel(5, 15, "link timeout updates") {
        return;
    }
    let mut ring = Builder::new().cq_entries(64).build(16).unwrap();
    ring.push(
        Timeout::new(HOUR)
            .user_data(1)
            .link_timeout(LinkTimeout::new(HOUR).user_data(2)),
    )
    .unwrap();
    ring.submit().unwrap();
    ring.push(TimeoutRemove::new(2).user_data(10)).unwrap();
    ring.push(TimeoutUpdate::new(2, Duration::ZERO).user_data(11))
        .unwrap();
    ring.push(Cancel::new(2).user_data(12)).unwrap();
    ring.push(LinkTimeoutUpdate::new(1, Duration::ZERO).user_data(13))
        .unwrap();
    let seen = reap(&mut ring, 4);
    for ud in 10..14 {
        assert_eq!(one(&seen, ud).1, -libc::ENOENT, "lookup {ud}: {seen:?}");
    }
    assert!(
        uring_tests::stray(&mut ring).is_empty(),
        "a failed lookup ended a timer"
    );
    let start = Instant::now();
    ring.push(LinkTimeoutUpdate::new(2, Duration::ZERO).user_data(14))
        .unwrap();
    let seen = reap(&mut ring, 3);
    assert_eq!(one(&seen, 14).1, 0, "{seen:?}");
    assert_eq!(one(&seen, 1).1, -libc::ECANCELED, "{seen:?}");
    assert_eq!(one(&seen, 2).1, -libc::ETIME, "{seen:?}");
    assert!(start.elapsed() < LATE);
    ring.push(LinkTimeoutUpdate::new(2, Duration::ZERO).user_data(15))
        .unwrap();
    ring.push(TimeoutRemove::new(1).user_data(16)).unwrap();
    let seen = reap(&mut ring, 2);
    assert_eq!(one(&seen, 15).1, -libc::ENOENT, "{seen:?}");
    assert_eq!(one(&seen, 16).1, -libc::ENOENT, "{seen:?}");
}

// ---------------------------------------------------------------------------
// A timer and its own deadline due at the same instant
// ---------------------------------------------------------------------------

/// 120 absolute timeouts, each bounded by a link timeout at the very same
/// `CLOCK_MONOTONIC` instant: both hrtimers expire together. Each pair
/// ends with exactly two completions: the timeout `-ETIME` (its timer
/// won) or `-ECANCELED` (the link timeout's cancel found it in
/// `timeout_list`), the link timeout `-ETIME` (it cancelled the op, or
/// found its head gone) or `-ECANCELED` (disarmed by the op's completion)
/// or `-ENOENT` (its `io_try_cancel` ran after `io_timeout_fn` took the
/// op off the list) or `-EALREADY` (it met that timer's callback
/// running): a cancelled timeout always beside a link timeout that
/// fired (`-ETIME`), and nothing else.
#[test]
fn a_timeout_and_its_link_timeout_due_at_one_instant_end_once_each() {
    let _watch = watchdog();
    let mut ring = Builder::new().cq_entries(512).build(256).unwrap();
    let base = Instant::now() + Duration::from_millis(40);
    let n = 120u64;
    for i in 0..n {
        let at = Timespec::monotonic_at(base + Duration::from_micros(150 * i));
        ring.push(
            Timeout::new(at)
                .timeout_flags(TimeoutFlags::ABS)
                .user_data(2 * i)
                .link_timeout(
                    LinkTimeout::new(at)
                        .timeout_flags(TimeoutFlags::ABS)
                        .user_data(2 * i + 1),
                ),
        )
        .unwrap();
    }
    let seen = reap(&mut ring, 2 * n as usize);
    let mut missed = 0;
    for i in 0..n {
        let head = one(&seen, 2 * i).1;
        let link = one(&seen, 2 * i + 1).1;
        let head_ok = head == -libc::ETIME || head == -libc::ECANCELED;
        let link_ok = [libc::ETIME, libc::ECANCELED, libc::ENOENT, libc::EALREADY].contains(&-link);
        // A head cancelled by its link timeout: that timeout fired and
        // found it (`-ETIME`).
        let consistent = head != -libc::ECANCELED || link == -libc::ETIME;
        assert!(
            head_ok && link_ok && consistent,
            "pair {i}: timeout {head}, link timeout {link}"
        );
        missed += usize::from(link == -libc::ENOENT);
    }
    eprintln!("{missed} of {n} link timeouts missed their op (-ENOENT)");
    assert!(uring_tests::stray(&mut ring).is_empty());
}

/// The same race through the reactor: 200 `ops::Timeout`s, each queued
/// with a deadline at the instant its own timer is due, so that the
/// reactor's `deadline_ended` meets the kernel's real `-ENOENT` (and
/// queues a second cancel of an op that may already be done) rather than
/// the forged one of its unit test. Each callback runs once, with `ETIME`
/// or `ECANCELED`, never before the time; nothing stays in flight; the
/// slots serve NOPs afterwards.
#[test]
fn reactor_timeouts_whose_deadline_is_their_own_expiry_end_once_each() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let ends: Ends = Rc::default();
    let n = 200u32;
    let start = Instant::now();
    for i in 0..n {
        let d = Duration::from_millis(30) + Duration::from_micros(100 * u64::from(i));
        let ends = ends.clone();
        h.queue_with_deadline(ops::Timeout::new(d), start + d, move |r, ()| {
            ends.borrow_mut().push((i, errno(&r), Instant::now()));
        })
        .unwrap();
    }
    reactor.run().unwrap();
    let ends = ends.borrow();
    assert_eq!(ends.len(), n as usize);
    let mut ids: Vec<u32> = ends.iter().map(|e| e.0).collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..n).collect::<Vec<_>>(), "a callback ran twice");
    for &(i, e, at) in ends.iter() {
        assert!(
            e == Some(libc::ETIME) || e == Some(libc::ECANCELED),
            "timer {i}: {e:?}"
        );
        let due = start + Duration::from_millis(30) + Duration::from_micros(100 * u64::from(i));
        assert!(at >= due, "timer {i} ended {:?} early", due - at);
    }
    assert_eq!(h.in_flight(), 0);
    let (r, ()) = reactor.run_until(h.op(ops::Nop)).unwrap();
    assert_eq!(r.unwrap(), 0);
}

// ---------------------------------------------------------------------------
// Timers reset thousands of times
// ---------------------------------------------------------------------------

/// How a timer is reset: cancelled by id (plain, or carrying an hour-long
/// deadline, a link timeout of its own), or dropped as a future.
#[derive(Clone, Copy, Debug)]
enum Reset {
    Id,
    IdUnderDeadline,
    Drop,
}

/// A 150 ms timer reset 3000 times (the old one cancelled as the new one
/// is queued, the reactor run between resets), as a connection's idle
/// timer is. Only the last one fires (`ETIME`, at its time); every reset
/// one ends `ECANCELED`, each callback once; no reset timer fires late
/// as a stale entry; the slab reuses a handful of slots rather than grow
/// (the ids' slots stay below 16); nothing is left in flight.
#[test]
fn a_timer_reset_three_thousand_times_fires_once_and_reuses_its_slots() {
    let _watch = watchdog();
    for how in [Reset::Id, Reset::IdUnderDeadline, Reset::Drop] {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let ends: Resets = Rc::default();
        let mut max_slot = 0;
        let mut prev: Option<OpId> = None;
        let mut future = None;
        let n = 3000u32;
        let mut last_queued = Instant::now();
        for i in 0..n {
            last_queued = Instant::now();
            let timer = ops::Timeout::new(Duration::from_millis(150));
            let ends2 = ends.clone();
            let callback =
                move |r: std::io::Result<u32>, ()| ends2.borrow_mut().push((i, errno(&r)));
            let id = match how {
                Reset::Id => h.queue(timer, callback).unwrap(),
                Reset::IdUnderDeadline => h
                    .queue_with_deadline(timer, last_queued + HOUR, callback)
                    .unwrap(),
                Reset::Drop => {
                    let mut f = h.op_with_deadline(timer, last_queued + HOUR);
                    assert!(poll_once(&mut f).is_pending());
                    let id = f.id().unwrap();
                    drop(future.replace(f));
                    id
                }
            };
            max_slot = max_slot.max(id.slot());
            if let Some(old) = prev.replace(id)
                && !matches!(how, Reset::Drop)
            {
                assert!(
                    h.cancel(old).unwrap(),
                    "{how:?}: reset {i}: the timer was gone"
                );
            }
            let (r, ()) = reactor.run_until(h.op(ops::Nop)).unwrap();
            assert_eq!(r.unwrap(), 0);
            assert!(h.in_flight() <= 3, "{how:?}: {} in flight", h.in_flight());
        }
        assert!(
            max_slot < 16,
            "{how:?}: slot {max_slot} used: the slab grew"
        );
        match future.take() {
            Some(f) => {
                let (r, ()) = reactor.run_until(f).unwrap();
                assert_eq!(errno(&r), Some(libc::ETIME), "{how:?}");
            }
            None => reactor.run().unwrap(),
        }
        assert!(
            last_queued.elapsed() >= Duration::from_millis(150),
            "{how:?}: the last timer fired early"
        );
        assert_eq!(h.in_flight(), 0, "{how:?}");
        let ends = ends.borrow();
        if !matches!(how, Reset::Drop) {
            assert_eq!(ends.len(), n as usize, "{how:?}");
            for (k, &(i, e)) in ends.iter().enumerate() {
                assert_eq!(i as usize, k, "{how:?}: callbacks out of order");
                let want = if i == n - 1 {
                    libc::ETIME
                } else {
                    libc::ECANCELED
                };
                assert_eq!(e, Some(want), "{how:?}: timer {i}");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Deadlines into a full CQ
// ---------------------------------------------------------------------------

/// 300 receives and 100 hour-long timers, all queued with one deadline 60
/// ms away, on a reactor whose ring has 4 SQ and 8 CQ entries; the
/// reactor is not run until well past the deadline, so the 800
/// completions (each op's `ECANCELED`, each link timeout's `ETIME`) land
/// in the kernel's overflow list. Each callback runs once, with
/// `ECANCELED`, not before the deadline; no receive wrote its buffer or
/// took a byte sent afterwards; no op keeps the socket.
#[test]
fn deadlines_firing_together_into_an_eight_entry_cq_end_each_op_once() {
    let _watch = watchdog();
    let ring = Builder::new().cq_entries(8).build(4).unwrap();
    let reactor = Reactor::from_ring(ring).unwrap();
    let h = reactor.handle();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = SharedFd::new(a);
    let deadline = Instant::now() + Duration::from_millis(60);
    let ends: Ends = Rc::default();
    let clean = Rc::new(Cell::new(0));
    for i in 0..400u32 {
        let ends = ends.clone();
        if i < 300 {
            let clean = clean.clone();
            h.queue_with_deadline(
                ops::Recv::new(&fd, vec![0xA5u8; 8]),
                deadline,
                move |r, buf: Vec<u8>| {
                    if buf == [0xA5u8; 8] {
                        clean.set(clean.get() + 1);
                    }
                    ends.borrow_mut().push((i, errno(&r), Instant::now()));
                },
            )
            .unwrap();
        } else {
            h.queue_with_deadline(ops::Timeout::new(HOUR), deadline, move |r, ()| {
                ends.borrow_mut().push((i, errno(&r), Instant::now()));
            })
            .unwrap();
        }
    }
    h.submit().unwrap();
    std::thread::sleep(
        deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(100),
    );
    reactor.run().unwrap();
    let ends = ends.borrow();
    assert_eq!(ends.len(), 400);
    let mut ids: Vec<u32> = ends.iter().map(|e| e.0).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        (0..400).collect::<Vec<_>>(),
        "a callback ran twice or never"
    );
    for &(i, e, at) in ends.iter() {
        assert_eq!(e, Some(libc::ECANCELED), "op {i}");
        assert!(at >= deadline, "op {i} ended before its deadline");
    }
    assert_eq!(clean.get(), 300, "a cut receive wrote its buffer");
    assert_eq!(h.in_flight(), 0);
    b.write_all(b"after").unwrap();
    drop(reactor);
    drop(h);
    let a = match fd.try_unwrap() {
        Ok(a) => std::os::unix::net::UnixStream::from(a),
        Err(_) => panic!("an op kept a clone of the socket"),
    };
    a.set_nonblocking(true).unwrap();
    let mut got = [0u8; 16];
    let n = (&a).read(&mut got).unwrap();
    assert_eq!(&got[..n], b"after", "a cancelled receive took bytes");
}

// ---------------------------------------------------------------------------
// go's SetDeadline on both halves
// ---------------------------------------------------------------------------

/// A std peer's pending bytes, without blocking.
fn drain(peer: &mut std::net::TcpStream) -> Vec<u8> {
    peer.set_nonblocking(true).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        match peer.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    peer.set_nonblocking(false).unwrap();
    out
}

/// go's `SetDeadline` on a `TcpStream` through the plain API:
/// - a write deadline in the past fails the write at once (`TimedOut`)
///   and sends nothing; the read side is untouched by it;
/// - a read deadline in the past fails the read at once while bytes wait
///   in the socket, and leaves them there for the read after it is
///   cleared; the write side is untouched by it;
/// - a read deadline that passes while the read waits cuts it
///   (`TimedOut`, not before the deadline), having taken nothing: the
///   bytes sent after it come whole to the next read;
/// - a deadline at the end of time (an `Instant` a century away) is no
///   deadline: the read gets what the peer sends;
/// - `set_deadline(None)` clears both.
#[test]
fn set_deadline_on_each_half_of_a_tcp_stream_moves_no_byte_when_it_refuses_or_cuts() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (a, mut peer) = uring_tests::tcp_pair();
    let mut s = uring::net::TcpStream::from_std(&h, a);
    let past = Instant::now();
    std::thread::sleep(Duration::from_millis(1));

    s.set_write_deadline(Some(past));
    let (r, buf) = reactor.run_until(s.write(b"never".to_vec())).unwrap();
    assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    assert_eq!(buf, b"never");
    peer.write_all(b"ahead").unwrap();
    let (r, buf) = reactor.run_until(s.read(Vec::with_capacity(16))).unwrap();
    assert_eq!(r.unwrap(), 5, "the write deadline cut a read");
    assert_eq!(buf, b"ahead");
    assert!(drain(&mut peer).is_empty(), "a refused write sent bytes");

    s.set_deadline(None);
    s.set_read_deadline(Some(past));
    peer.write_all(b"waiting").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let (r, _) = reactor.run_until(s.read(Vec::with_capacity(16))).unwrap();
    assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    let (r, _) = reactor.run_until(s.write(b"w".to_vec())).unwrap();
    assert_eq!(r.unwrap(), 1, "the read deadline cut a write");
    assert_eq!(drain(&mut peer), b"w");
    s.set_read_deadline(None);
    let (r, buf) = reactor.run_until(s.read(Vec::with_capacity(16))).unwrap();
    assert_eq!(r.unwrap(), 7, "the refused read took bytes");
    assert_eq!(buf, b"waiting");

    let deadline = Instant::now() + Duration::from_millis(50);
    s.set_read_deadline(Some(deadline));
    let (r, buf) = reactor.run_until(s.read(vec![0xEE; 16])).unwrap();
    assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    assert!(Instant::now() >= deadline);
    assert_eq!(buf, vec![0xEE; 16], "a cut read wrote its buffer");
    peer.write_all(b"late").unwrap();
    s.set_deadline(None);
    let (r, buf) = reactor.run_until(s.read(Vec::with_capacity(16))).unwrap();
    assert_eq!(r.unwrap(), 4);
    assert_eq!(buf, b"late", "the cut read took bytes");

    let Some(far) = Instant::now().checked_add(Duration::from_secs(100 * 365 * 24 * 3600)) else {
        skip("no Instant a century ahead");
        return;
    };
    s.set_deadline(Some(far));
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        peer.write_all(b"far").unwrap();
        peer
    });
    let (r, buf) = reactor.run_until(s.read(Vec::with_capacity(16))).unwrap();
    assert_eq!(r.unwrap(), 3);
    assert_eq!(buf, b"far");
    let (r, _) = reactor.run_until(s.write(b"ok".to_vec())).unwrap();
    assert_eq!(r.unwrap(), 2);
    let mut peer = sender.join().unwrap();
    assert_eq!(drain(&mut peer), b"ok");
    assert_eq!(h.in_flight(), 0);
}

/// The same on a connected `UdpSocket`: a send past its deadline sends no
/// datagram; a receive cut by its deadline takes none; cleared, the
/// receive gets the datagram sent after the cut, whole.
#[test]
fn set_deadline_on_a_udp_socket_sends_and_takes_no_datagram_when_it_refuses_or_cuts() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut s = uring::net::UdpSocket::bind(&h, "127.0.0.1:0".parse().unwrap()).unwrap();
    s.connect(peer.local_addr().unwrap()).unwrap();
    peer.connect(s.local_addr().unwrap()).unwrap();
    peer.set_nonblocking(true).unwrap();

    s.set_write_deadline(Some(Instant::now()));
    let (r, _) = reactor.run_until(s.send(b"never".to_vec())).unwrap();
    assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    std::thread::sleep(Duration::from_millis(20));
    let mut got = [0u8; 16];
    assert_eq!(
        peer.recv(&mut got).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "a refused send sent a datagram"
    );

    s.set_deadline(None);
    let deadline = Instant::now() + Duration::from_millis(40);
    s.set_read_deadline(Some(deadline));
    let (r, buf) = reactor.run_until(s.recv(vec![0xEE; 16])).unwrap();
    assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    assert!(Instant::now() >= deadline);
    assert_eq!(buf, vec![0xEE; 16]);
    peer.send(b"after the cut").unwrap();
    s.set_read_deadline(None);
    let (r, buf) = reactor.run_until(s.recv(Vec::with_capacity(64))).unwrap();
    assert_eq!(r.unwrap(), 13);
    assert_eq!(buf, b"after the cut");
    let (r, _) = reactor.run_until(s.send(b"back".to_vec())).unwrap();
    assert_eq!(r.unwrap(), 4);
    std::thread::sleep(Duration::from_millis(20));
    let n = peer.recv(&mut got).unwrap();
    assert_eq!(&got[..n], b"back");
    assert_eq!(h.in_flight(), 0);
}
