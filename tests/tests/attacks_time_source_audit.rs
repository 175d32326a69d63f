//! Attacks on what the kernel reads of time, and when: the ring-owned
//! timespecs of `Timeout`, `LinkTimeout`, `TimeoutUpdate` and
//! `LinkTimeoutUpdate` (one per SQ slot, `SqeSlot::ring_owned`), read by
//! `__io_timeout_prep` and `io_timeout_remove_prep` when the kernel
//! consumes the SQE (`io_init_req` calls the op's prep before
//! `io_commit_sqring` moves the SQ head the ring reads), and the updates'
//! effect on timeouts already armed (`io_timeout_update`,
//! `io_linked_timeout_update`).
//!
//! Each attack rewrites the timespec slot of an op as soon as the library
//! lets it (a two-entry SQ, an SQ thread, a drained or linked op issued
//! long after its SQE was consumed, a submit that stops part-way at a
//! refused SQE, a resize, SQEs a scope takes back) and checks when the
//! kernel really fired each timer: never before the time it was pushed
//! with, in deadline order, once each, and long before the hour-long
//! times written over its slot. Timing bounds are loose (a loaded
//! two-core machine); the lower bounds are exact, since the kernel fires
//! an absolute `CLOCK_MONOTONIC` timer no earlier than its time.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use uring::ops::{LinkTimeout, LinkTimeoutUpdate, Nop, Timeout, TimeoutRemove, TimeoutUpdate};
use uring::reactor::Reactor;
use uring::{
    Builder, Cqe16, Error, Ring, Sqe128, SqeFlags, SqeSize, Submission, SyncCancel, TimeoutFlags,
    Timespec, Unborrowed,
};

/// An hour: a time no timer below may reach before the test ends.
const HOUR: Duration = Duration::from_secs(3600);

/// How long any timer below may take past its time before the test
/// fails: loose, for a loaded machine; a timer that read one of the
/// hour-long timespecs written over its slot never gets there.
const LATE: Duration = Duration::from_millis(1500);

/// How far the test's clock reads may disagree with the kernel's timers:
/// a completion read a few nanoseconds "before" its deadline was seen
/// under valgrind, whose clock reads take another path than the kernel's
/// timer. A timer that read a wrong timespec (one of an hour, or one long
/// past) is off by far more.
const CLOCK_SKEW: Duration = Duration::from_millis(1);

/// Whether `t`, when the test read a completion, is not before `deadline`
/// (up to [`CLOCK_SKEW`]).
fn not_before(t: Instant, deadline: Instant) -> bool {
    t + CLOCK_SKEW >= deadline
}

/// How far after its start a churn test puts its first deadline: time to
/// push every op through the two-entry SQ before any deadline comes, which
/// under valgrind takes more than the 80 ms a plain run gives it (a CI
/// rehearsal saw three ops pushed past their deadlines, cut together and
/// out of order).
fn lead() -> Duration {
    if uring_tests::under_valgrind() {
        Duration::from_millis(1000)
    } else {
        Duration::from_millis(80)
    }
}

/// The spacing of the deadlines of the churn tests.
const STEP: Duration = Duration::from_millis(15);

/// `user_data` of the churning updates, whose targets never exist.
const CHURN: u64 = 0xc4_0000;

/// A `user_data` no op below carries: what the churning updates name.
const NOBODY: u64 = 0xdead_0000;

/// One completion as the tests see it: `user_data`, result, flags, and
/// when the test read it.
type Seen = (u64, i32, u32, Instant);

/// An update of no timeout (`-ENOENT`) whose ring-owned timespec is one
/// that no timer below may fire at: one of an hour (a link-timeout
/// update, relative) or, for odd `n`, an absolute time long past (one
/// second after boot), at which an absolute timer reading it as its own
/// fires at once.
/// `io_timeout_remove_prep` reads it (`get_timespec64` of `addr2`) as the
/// kernel consumes the SQE, then the update finds nothing.
fn churn(n: u64) -> ChurnOp {
    if n % 2 == 1 {
        ChurnOp::Timeout(
            TimeoutUpdate::new(NOBODY + n, Timespec::new(1, 0))
                .timeout_flags(TimeoutFlags::ABS)
                .user_data(CHURN + n),
        )
    } else {
        ChurnOp::Link(LinkTimeoutUpdate::new(NOBODY + n, HOUR).user_data(CHURN + n))
    }
}

/// The two kinds of [`churn`] op.
enum ChurnOp {
    Timeout(TimeoutUpdate),
    Link(LinkTimeoutUpdate),
}

/// Pushes [`churn`] op `n` once the SQ has room for it.
fn push_churn<S: SqeSize>(ring: &mut Ring<S>, n: u64) {
    match churn(n) {
        ChurnOp::Timeout(op) => push_when_room(ring, op),
        ChurnOp::Link(op) => push_when_room(ring, op),
    }
}

/// Pushes `op` once the SQ has room for it: a full SQ is submitted and,
/// on an SQPOLL ring, waited on until the SQ thread has taken SQEs.
fn push_when_room<S: SqeSize, T: Submission<S> + Unborrowed>(ring: &mut Ring<S>, mut op: T) {
    let start = Instant::now();
    loop {
        match ring.push(op) {
            Ok(()) => return,
            Err(e) => op = e.into_inner(),
        }
        assert!(
            start.elapsed() < uring_tests::PATIENCE,
            "the SQ never had room"
        );
        ring.submit().unwrap();
        ring.wait_for_sq_space().unwrap();
    }
}

/// Reads what is ready into `seen`, after a short wait (which also runs
/// the task work a `defer_taskrun` ring runs only in a wait).
fn reap_into<S: SqeSize>(ring: &mut Ring<S>, seen: &mut Vec<Seen>) {
    ring.submit().unwrap();
    match ring.wait_timeout(1, Duration::from_millis(2)) {
        Ok(()) | Err(Error::TimedOut) => {}
        Err(e) => panic!("wait_timeout: {e}"),
    }
    let now = Instant::now();
    seen.extend(
        ring.completions()
            .map(|c| (c.user_data(), c.res(), c.flags(), now)),
    );
}

/// Reaps into `seen` until every `user_data` of `want` has completed,
/// failing the test if that takes past [`LATE`] after `until`.
fn reap_until<S: SqeSize>(
    ring: &mut Ring<S>,
    seen: &mut Vec<Seen>,
    want: &[u64],
    until: Instant,
    what: &str,
) {
    loop {
        reap_into(ring, seen);
        if want.iter().all(|ud| seen.iter().any(|c| c.0 == *ud)) {
            return;
        }
        assert!(
            Instant::now() < until + LATE,
            "{what}: still waiting for some of {want:?}; seen {:?}",
            brief(seen)
        );
    }
}

/// `(user_data, res)` of what was seen.
fn brief(seen: &[Seen]) -> Vec<(u64, i32)> {
    seen.iter().map(|c| (c.0, c.1)).collect()
}

/// The completions of `user_data` among `seen`.
fn of(seen: &[Seen], user_data: u64) -> Vec<Seen> {
    seen.iter().filter(|c| c.0 == user_data).copied().collect()
}

/// The one completion of `user_data`, asserting there is exactly one.
fn only(seen: &[Seen], user_data: u64, what: &str) -> Seen {
    let all = of(seen, user_data);
    assert_eq!(
        all.len(),
        1,
        "{what}: {user_data} completed {} times: {:?}",
        all.len(),
        brief(seen)
    );
    all[0]
}

/// Asserts that every churning update in `seen` completed once, with
/// `-ENOENT`, and that `count` of them did.
fn assert_churn(seen: &[Seen], count: u64, what: &str) {
    for n in 0..count {
        let (_, res, _, _) = only(seen, CHURN + n, what);
        assert_eq!(res, -libc::ENOENT, "{what}: churn {n}");
    }
}

/// Wall-clock time (`CLOCK_REALTIME`), as a timespec of that clock.
fn realtime_in(d: Duration) -> Timespec {
    Timespec::from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + d)
}

/// An absolute `CLOCK_MONOTONIC` timeout at `at`.
fn timeout_at(at: Instant, user_data: u64) -> Timeout {
    Timeout::new(Timespec::monotonic_at(at))
        .timeout_flags(TimeoutFlags::ABS)
        .user_data(user_data)
}

// ---------------------------------------------------------------------------
// Slots reused as fast as the library allows
// ---------------------------------------------------------------------------

/// What one push of [`churn_on`] is: a timeout, or a chain of two.
#[derive(Clone, Copy)]
enum Push {
    One(u64),
    /// Soft-linked, the first flagged `ETIME_SUCCESS` so that its firing
    /// does not cancel the second.
    Soft(u64, u64),
    Hard(u64, u64),
}

/// Twelve absolute timeouts, deadline `j` at `base + j * STEP`, pushed in
/// a scrambled order (six of them as three chains of two, two of which
/// start in the SQ's last slot and wrap to its first) through a two-entry
/// SQ, each push followed by six
/// updates of no timeout whose timespecs (an hour; a time long past) go
/// into the slots the timeouts' timespecs were in; then checks when each
/// fired.
fn churn_on<S: SqeSize>(ring: &mut Ring<S>, what: &str) {
    let start = Instant::now();
    let base = start + lead();
    let at = |j: u64| base + STEP * j as u32;
    let plan = [
        Push::Soft(3, 10),
        Push::One(6),
        Push::Hard(5, 11),
        Push::One(0),
        Push::One(8),
        Push::Hard(1, 9),
        Push::One(2),
        Push::One(7),
        Push::One(4),
    ];
    let mut n = 0;
    let mut seen = Vec::new();
    for push in plan {
        match push {
            Push::One(j) => push_when_room(ring, timeout_at(at(j), j)),
            Push::Soft(a, b) => push_when_room(
                ring,
                Timeout::new(Timespec::monotonic_at(at(a)))
                    .timeout_flags(TimeoutFlags::ABS | TimeoutFlags::ETIME_SUCCESS)
                    .user_data(a)
                    .link(timeout_at(at(b), b)),
            ),
            Push::Hard(a, b) => {
                push_when_room(ring, timeout_at(at(a), a).hard_link(timeout_at(at(b), b)))
            }
        }
        for _ in 0..6 {
            push_churn(ring, n);
            n += 1;
        }
        ring.submit().unwrap();
        reap_into(ring, &mut seen);
    }
    let timeouts: Vec<u64> = (0..12).collect();
    let mut all: Vec<u64> = timeouts.clone();
    all.extend((0..n).map(|i| CHURN + i));
    reap_until(ring, &mut seen, &all, at(11), what);
    assert_churn(&seen, n, what);
    for j in 0..12u64 {
        let (_, res, _, read_at) = only(&seen, j, what);
        assert_eq!(res, -libc::ETIME, "{what}: timeout {j}");
        assert!(
            not_before(read_at, at(j)),
            "{what}: timeout {j} completed {:?} before its deadline: it read another \
             op's timespec",
            at(j) - read_at
        );
    }
    let order: Vec<u64> = seen.iter().filter(|c| c.0 < CHURN).map(|c| c.0).collect();
    assert_eq!(order, timeouts, "{what}: the timers fired out of order");
    assert_eq!(seen.len() as u64, 12 + n, "{what}: {:?}", brief(&seen));
}

/// Timeouts pushed through a two-entry SQ, whose timespec slots are each
/// rewritten dozens of times while the timers run, fire at their own
/// deadlines, in deadline order, once each, on a plain ring, one without
/// an SQ array, an SQPOLL ring (whose SQ thread preps SQEs on its own
/// schedule), a `defer_taskrun` ring and one of 128-byte SQEs.
///
/// Relies on `io_init_req` calling `__io_timeout_prep` (which copies the
/// timespec with `get_timespec64`) before `io_commit_sqring` publishes
/// the head the ring reuses slots by, in `io_submit_sqes` as the SQ
/// thread's `__io_sq_thread` runs it too, and on `SqeSlot::ring_owned`
/// indexing the timespec by the SQE's own slot (across the SQ's wrap, for
/// chains, and in 128-byte slots). A timer that read a slot after its
/// reuse would fire at a neighbour's deadline (early, or out of order), at
/// once (the past time), or not within the test (the hour).
#[test]
fn timeouts_through_a_two_entry_sq_fire_at_their_own_deadlines_on_every_setup() {
    let _watch = uring_tests::watchdog();
    let plain = || Builder::new().cq_entries(128);
    let mut rings: Vec<(&str, Option<Ring>)> = vec![
        ("plain", plain().build(2).ok()),
        ("no SQ array", plain().no_sqarray().build(2).ok()),
        (
            "defer_taskrun",
            plain().single_issuer().defer_taskrun().build(2).ok(),
        ),
    ];
    if uring_tests::require_sqpoll() {
        rings.push((
            "sqpoll",
            plain().sqpoll(Duration::from_millis(20)).build(2).ok(),
        ));
    }
    for (what, ring) in rings {
        match ring {
            Some(mut ring) => churn_on(&mut ring, what),
            None => uring_tests::skip(format_args!("no {what} ring")),
        }
    }
    match plain().build_sized::<Sqe128, Cqe16>(2) {
        Ok(mut ring) => churn_on(&mut ring, "128-byte SQEs"),
        Err(e) => uring_tests::skip(format_args!("no ring of 128-byte SQEs: {e}")),
    }
}

// ---------------------------------------------------------------------------
// A submit that stops part-way
// ---------------------------------------------------------------------------

/// The kernel refuses, as it preps them, a timeout update naming a clock
/// (`io_timeout_remove_prep` takes `IORING_TIMEOUT_UPDATE_MASK` and `ABS`
/// alone: the timer keeps the clock it was armed with), a link-timeout
/// update naming one, and a multishot timeout with an absolute time
/// (`__io_timeout_prep`: "multishot requests only make sense with rel
/// values"). Each completes with `-EINVAL`, and `io_submit_sqes` stops
/// right after it (`io_submit_fail_init` returns the error for an SQE
/// outside a chain): the absolute timeouts queued behind each stay in the
/// SQ with their timespecs while the test fills every slot the kernel
/// freed with updates carrying an hour and a past time. Each queued
/// timeout still fires at its own deadline, once; the timeout the refused
/// update named keeps its hour (it is removed at the end, `-ECANCELED`).
/// On a plain ring each submit hands over up to the next refusal; on an
/// SQPOLL ring the SQ thread does the same on its own.
///
/// `TimeoutUpdate::timeout_flags` documents "absolute, clock", and
/// `TimeoutFlags` gives it `BOOTTIME` and `REALTIME` (and
/// `ETIME_SUCCESS`, `MULTISHOT`): every one but `ABS` makes the update
/// fail with `EINVAL`.
#[test]
fn a_submit_stopped_at_a_refused_time_op_leaves_the_queued_timeouts_their_times() {
    let _watch = uring_tests::watchdog();
    let mut kinds = vec!["plain"];
    if uring_tests::require_sqpoll() {
        kinds.push("sqpoll");
    }
    for what in kinds {
        let mut b = Builder::new().cq_entries(64);
        if what == "sqpoll" {
            b = b.sqpoll(Duration::from_millis(20));
        }
        let mut ring = b.build(8).unwrap();
        if !uring_tests::require_op::<LinkTimeoutUpdate>(&ring) {
            return;
        }
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        ring.push(Timeout::new(HOUR).user_data(1)).unwrap();
        ring.push(
            TimeoutUpdate::new(1, Duration::from_millis(5))
                .timeout_flags(TimeoutFlags::BOOTTIME)
                .user_data(2),
        )
        .unwrap();
        ring.push(timeout_at(at(150), 3)).unwrap();
        ring.push(
            LinkTimeoutUpdate::new(NOBODY, Duration::from_millis(5))
                .timeout_flags(TimeoutFlags::REALTIME)
                .user_data(4),
        )
        .unwrap();
        ring.push(timeout_at(at(180), 5)).unwrap();
        ring.push(
            Timeout::new(Timespec::monotonic_at(at(20)))
                .timeout_flags(TimeoutFlags::ABS | TimeoutFlags::MULTISHOT)
                .user_data(6),
        )
        .unwrap();
        ring.push(timeout_at(at(210), 7)).unwrap();
        let mut n = 0;
        if what == "plain" {
            // Each submit hands over up to the next refusal and stops,
            // leaving the timeouts behind it queued, in order.
            for left in [&[3u64, 4, 5, 6, 7][..], &[5, 6, 7], &[7]] {
                assert_eq!(ring.submit().unwrap(), 2, "{what}");
                let queued: Vec<u64> = ring
                    .pending_sqes()
                    .map(|sqe| sqe.user_data)
                    .take_while(|ud| *ud < CHURN)
                    .collect();
                assert_eq!(queued, left, "{what}");
                // Every freed slot gets a timespec of its own.
                while ring.space_left() > 0 {
                    push_churn(&mut ring, n);
                    n += 1;
                }
            }
        }
        // The rest, and more churn through every slot.
        for _ in 0..16 {
            push_churn(&mut ring, n);
            n += 1;
        }
        ring.submit().unwrap();
        let mut seen = Vec::new();
        let mut want: Vec<u64> = vec![2, 3, 4, 5, 6, 7];
        want.extend((0..n).map(|i| CHURN + i));
        reap_until(&mut ring, &mut seen, &want, at(210), what);
        for ud in [2, 4, 6] {
            assert_eq!(only(&seen, ud, what).1, -libc::EINVAL, "{what}: {ud}");
        }
        for (ud, ms) in [(3, 150), (5, 180), (7, 210)] {
            let (_, res, _, read_at) = only(&seen, ud, what);
            assert_eq!(res, -libc::ETIME, "{what}: {ud}");
            assert!(
                not_before(read_at, at(ms)),
                "{what}: {ud} fired {:?} early",
                at(ms).saturating_duration_since(read_at)
            );
        }
        assert!(
            of(&seen, 1).is_empty(),
            "{what}: the refused update moved its timeout: {:?}",
            brief(&seen)
        );
        assert_churn(&seen, n, what);
        // The hour-long timeout is still armed: removed, it is cancelled.
        ring.push(TimeoutRemove::new(1).user_data(8)).unwrap();
        let mut rest = Vec::new();
        reap_until(&mut ring, &mut rest, &[1, 8], Instant::now(), what);
        assert_eq!(only(&rest, 8, what).1, 0, "{what}");
        assert_eq!(only(&rest, 1, what).1, -libc::ECANCELED, "{what}");
        assert_eq!(rest.len(), 2, "{what}: {:?}", brief(&rest));
    }
}

// ---------------------------------------------------------------------------
// Ops issued long after their SQE was consumed
// ---------------------------------------------------------------------------

/// A chain flagged `IO_DRAIN` (an hour-long timeout bounded by a 40 ms
/// link timeout) waits behind an hour-long timeout; meanwhile every SQ
/// slot, the link timeout's too, is rewritten with an update carrying an
/// hour or a time long past. Nothing completes while the drain holds.
/// Once the first timeout is cancelled (synchronously: a cancel SQE would
/// be drained too), the chain starts and its link timeout fires 40 ms
/// later (`-ETIME`, cutting its op: `-ECANCELED`), not an hour later nor at
/// once: `io_link_timeout_prep` copied the timespec when the kernel
/// consumed the SQE, before `io_drain_req` deferred the chain, and
/// `io_queue_linked_timeout` arms the copy (`data->ts`). Plain and SQPOLL
/// rings.
#[test]
fn a_drained_chain_s_link_timeout_keeps_the_time_it_was_pushed_with() {
    let _watch = uring_tests::watchdog();
    let mut kinds = vec!["plain"];
    if uring_tests::require_sqpoll() {
        kinds.push("sqpoll");
    }
    for what in kinds {
        let mut b = Builder::new().cq_entries(64);
        if what == "sqpoll" {
            b = b.sqpoll(Duration::from_millis(20));
        }
        let mut ring = b.build(4).unwrap();
        if !uring_tests::require_op::<LinkTimeoutUpdate>(&ring) {
            return;
        }
        push_when_room(&mut ring, Timeout::new(HOUR).user_data(1));
        ring.submit().unwrap();
        push_when_room(
            &mut ring,
            Timeout::new(HOUR)
                .user_data(2)
                .flags(SqeFlags::IO_DRAIN)
                .link_timeout(LinkTimeout::new(Duration::from_millis(40)).user_data(3)),
        );
        ring.submit().unwrap();
        // Three laps of the 4-entry SQ.
        let n = 12;
        for i in 0..n {
            push_churn(&mut ring, i);
            ring.submit().unwrap();
        }
        let mut seen = Vec::new();
        let held = Instant::now() + Duration::from_millis(80);
        while Instant::now() < held {
            reap_into(&mut ring, &mut seen);
        }
        assert!(
            seen.is_empty(),
            "{what}: completed while the drain held: {:?}",
            brief(&seen)
        );
        // Taken before the call: the drain lets go inside it, and the
        // call may return well after (under valgrind, milliseconds).
        let released = Instant::now();
        ring.cancel_sync(SyncCancel::user_data(1), Some(Duration::from_secs(1)))
            .unwrap();
        let mut want = vec![1, 2, 3];
        want.extend((0..n).map(|i| CHURN + i));
        reap_until(&mut ring, &mut seen, &want, released, what);
        assert_eq!(only(&seen, 1, what).1, -libc::ECANCELED, "{what}");
        let (_, res, _, fired) = only(&seen, 3, what);
        assert_eq!(res, -libc::ETIME, "{what}: the link timeout");
        assert_eq!(only(&seen, 2, what).1, -libc::ECANCELED, "{what}");
        assert!(
            not_before(fired, released + Duration::from_millis(40)),
            "{what}: the link timeout fired {:?} after the drain let go",
            fired - released
        );
        assert_churn(&seen, n, what);
        assert_eq!(seen.len() as u64, 3 + n, "{what}: {:?}", brief(&seen));
    }
}

/// A `TimeoutUpdate` linked behind a 60 ms timeout is issued 60 ms after
/// the kernel consumed its SQE, by which time every SQ slot, its own
/// too, holds the timespec of an update carrying an hour or a past time.
/// With the head flagged `ETIME_SUCCESS` (its `-ETIME` then fails no link:
/// `io_timeout_fn` skips `req_set_fail`), the update runs and applies the
/// 30 ms it was pushed with: its target, armed for an hour, fires 90 ms
/// or more after the push, long before an hour. Without the flag the
/// head's `-ETIME` cancels the update (`-ECANCELED`) and its target keeps
/// its hour. `io_timeout_remove_prep` copied the update's timespec into
/// the request at prep (`tr->ts`). Plain and SQPOLL rings.
#[test]
fn a_linked_timeout_update_applies_the_timespec_it_was_pushed_with() {
    let _watch = uring_tests::watchdog();
    let mut kinds = vec!["plain"];
    if uring_tests::require_sqpoll() {
        kinds.push("sqpoll");
    }
    for what in kinds {
        let mut b = Builder::new().cq_entries(64);
        if what == "sqpoll" {
            b = b.sqpoll(Duration::from_millis(20));
        }
        let mut ring = b.build(4).unwrap();
        if !uring_tests::require_op::<TimeoutUpdate>(&ring) {
            return;
        }
        let start = Instant::now();
        push_when_room(&mut ring, Timeout::new(HOUR).user_data(1));
        push_when_room(&mut ring, Timeout::new(HOUR).user_data(4));
        push_when_room(
            &mut ring,
            Timeout::new(Duration::from_millis(60))
                .timeout_flags(TimeoutFlags::ETIME_SUCCESS)
                .user_data(2)
                .link(TimeoutUpdate::new(1, Duration::from_millis(30)).user_data(3)),
        );
        push_when_room(
            &mut ring,
            Timeout::new(Duration::from_millis(60))
                .user_data(5)
                .link(TimeoutUpdate::new(4, Duration::from_millis(30)).user_data(6)),
        );
        ring.submit().unwrap();
        let n = 12;
        for i in 0..n {
            push_churn(&mut ring, i);
            ring.submit().unwrap();
        }
        let mut seen = Vec::new();
        let mut want = vec![1, 2, 3, 5, 6];
        want.extend((0..n).map(|i| CHURN + i));
        reap_until(&mut ring, &mut seen, &want, start, what);
        assert_eq!(only(&seen, 2, what).1, -libc::ETIME, "{what}");
        assert_eq!(only(&seen, 3, what).1, 0, "{what}: the update");
        let (_, res, _, fired) = only(&seen, 1, what);
        assert_eq!(res, -libc::ETIME, "{what}: the updated timeout");
        assert!(
            not_before(fired, start + Duration::from_millis(90)),
            "{what}: the updated timeout fired {:?} after the push",
            fired - start
        );
        assert_eq!(only(&seen, 5, what).1, -libc::ETIME, "{what}");
        assert_eq!(
            only(&seen, 6, what).1,
            -libc::ECANCELED,
            "{what}: an update behind a timeout that fails its link"
        );
        assert!(of(&seen, 4).is_empty(), "{what}: {:?}", brief(&seen));
        assert_churn(&seen, n, what);
        ring.push(TimeoutRemove::new(4).user_data(7)).unwrap();
        let mut rest = Vec::new();
        reap_until(&mut ring, &mut rest, &[4, 7], Instant::now(), what);
        assert_eq!(only(&rest, 7, what).1, 0, "{what}");
        assert_eq!(only(&rest, 4, what).1, -libc::ECANCELED, "{what}");
    }
}

// ---------------------------------------------------------------------------
// Clocks
// ---------------------------------------------------------------------------

/// An update moves a timer on the clock the timeout was pushed with
/// (`io_timeout_update` sets the timer up again with
/// `io_timeout_get_clock(data)`, the timeout's own flags) and refuses to
/// name one (`io_timeout_remove_prep`: `-EINVAL` for any bit but the
/// update bits and `ABS`):
///
/// - a `CLOCK_REALTIME` timeout an hour away, updated to an absolute
///   wall-clock time 60 ms away without a clock flag, fires then;
/// - a `CLOCK_MONOTONIC` timeout updated to the same wall-clock value
///   (decades away on that clock) does not fire, and is still armed;
/// - a `CLOCK_REALTIME` timeout updated with `REALTIME` named fails the
///   update, keeps its hour, and a later relative update of 30 ms (no
///   flags) makes it fire then.
///
/// The clock of an update's time is the timeout's: a program that moves a
/// wall-clock timeout with a `Timespec::monotonic_at` value moves it to
/// the past.
#[test]
fn an_update_moves_a_timer_on_the_clock_it_was_pushed_with() {
    let _watch = uring_tests::watchdog();
    let mut ring = Builder::new().cq_entries(64).build(8).unwrap();
    if !uring_tests::require_op::<TimeoutUpdate>(&ring) {
        return;
    }
    let wall = TimeoutFlags::ABS | TimeoutFlags::REALTIME;
    ring.push(
        Timeout::new(realtime_in(HOUR))
            .timeout_flags(wall)
            .user_data(1),
    )
    .unwrap();
    ring.push(timeout_at(Instant::now() + HOUR, 2)).unwrap();
    ring.push(
        Timeout::new(realtime_in(HOUR))
            .timeout_flags(wall)
            .user_data(3),
    )
    .unwrap();
    ring.submit().unwrap();
    let mut seen = Vec::new();
    reap_into(&mut ring, &mut seen);
    assert!(seen.is_empty(), "{:?}", brief(&seen));
    let start = Instant::now();
    ring.push(
        TimeoutUpdate::new(1, realtime_in(Duration::from_millis(60)))
            .timeout_flags(TimeoutFlags::ABS)
            .user_data(11),
    )
    .unwrap();
    ring.push(
        TimeoutUpdate::new(2, realtime_in(Duration::from_millis(60)))
            .timeout_flags(TimeoutFlags::ABS)
            .user_data(12),
    )
    .unwrap();
    ring.push(
        TimeoutUpdate::new(3, realtime_in(Duration::from_millis(10)))
            .timeout_flags(wall)
            .user_data(13),
    )
    .unwrap();
    ring.submit().unwrap();
    reap_until(&mut ring, &mut seen, &[1, 11, 12, 13], start, "updates");
    assert_eq!(only(&seen, 11, "update").1, 0);
    assert_eq!(only(&seen, 12, "update").1, 0);
    assert_eq!(
        only(&seen, 13, "update naming a clock").1,
        -libc::EINVAL,
        "an update naming a clock"
    );
    let (_, res, _, fired) = only(&seen, 1, "wall-clock timeout");
    assert_eq!(res, -libc::ETIME);
    // The wall clock may be stepped meanwhile; the bound below is loose.
    assert!(
        not_before(fired, start + Duration::from_millis(40)),
        "fired {:?} after the update",
        fired - start
    );
    // Still armed: the refused update moved nothing.
    let later = Instant::now();
    ring.push(
        TimeoutUpdate::new(3, Duration::from_millis(30))
            .timeout_flags(TimeoutFlags::empty())
            .user_data(14),
    )
    .unwrap();
    ring.submit().unwrap();
    reap_until(&mut ring, &mut seen, &[3, 14], later, "relative update");
    assert_eq!(only(&seen, 14, "relative update").1, 0);
    let (_, res, _, fired) = only(&seen, 3, "relative update");
    assert_eq!(res, -libc::ETIME);
    assert!(not_before(fired, later + Duration::from_millis(30)));
    assert!(
        of(&seen, 2).is_empty(),
        "a monotonic timeout moved to a wall-clock value fired: {:?}",
        brief(&seen)
    );
    ring.push(TimeoutRemove::new(2).user_data(15)).unwrap();
    let mut rest = Vec::new();
    reap_until(&mut ring, &mut rest, &[2, 15], Instant::now(), "removal");
    assert_eq!(only(&rest, 15, "removal").1, 0);
    assert_eq!(only(&rest, 2, "removal").1, -libc::ECANCELED);
}

// ---------------------------------------------------------------------------
// Multishot timeouts and updates
// ---------------------------------------------------------------------------

/// Pushes a multishot timeout of `count` firings and, once it is armed,
/// an update of its interval.
fn multishot_then_update(ring: &mut Ring, user_data: u64, count: u32) {
    ring.push(
        Timeout::new(Duration::from_millis(20))
            .count(count)
            .timeout_flags(TimeoutFlags::MULTISHOT)
            .user_data(user_data),
    )
    .unwrap();
    ring.submit().unwrap();
    ring.push(TimeoutUpdate::new(user_data, Duration::from_millis(8)).user_data(user_data + 1))
        .unwrap();
    ring.submit().unwrap();
}

/// A multishot timeout of a fixed count of firings posts more than its
/// count once updated: `io_timeout_update` sets `timeout->off = 0`, and
/// `io_timeout_finish` ends a multishot timeout only while `off` is set
/// (`repeats` is never counted down again). Each of its completions is
/// flagged `IORING_CQE_F_MORE` until a removal ends it (`-ECANCELED`, the
/// one completion without the flag). In a scope, fast or tagging every
/// op, the same timeout (its count no bound on what it posts) is cut by
/// the scope's end, which returns promptly and lets no completion of it
/// out; the completions read inside are flagged `F_MORE`. (On a
/// `defer_taskrun` ring the timeout is out of the kernel's list from each
/// firing to the task work that re-arms it, which runs only in a wait: the
/// scope's cancels must still catch it.)
#[test]
fn a_multishot_timeout_runs_past_its_count_once_updated_and_its_scope_still_ends() {
    let _watch = uring_tests::watchdog();
    let mut ring = Builder::new().cq_entries(256).build(8).unwrap();
    if !uring_tests::require_kernel(6, 4, "multishot timeouts")
        || !uring_tests::require_op::<TimeoutUpdate>(&ring)
    {
        return;
    }
    multishot_then_update(&mut ring, 1, 3);
    let mut seen = Vec::new();
    let until = Instant::now() + Duration::from_millis(200);
    while Instant::now() < until {
        reap_into(&mut ring, &mut seen);
    }
    assert_eq!(only(&seen, 2, "the update").1, 0);
    let fired = of(&seen, 1);
    assert!(
        fired.len() > 3,
        "{} firings of a timeout of 3, updated: {:?}",
        fired.len(),
        brief(&seen)
    );
    for (_, res, flags, _) in &fired {
        assert_eq!(*res, -libc::ETIME);
        assert_ne!(flags & uring::sys::IORING_CQE_F_MORE, 0, "{fired:?}");
    }
    ring.push(TimeoutRemove::new(1).user_data(3)).unwrap();
    let mut rest = Vec::new();
    let removed = Instant::now();
    while !rest
        .iter()
        .any(|c: &Seen| c.0 == 1 && c.2 & uring::sys::IORING_CQE_F_MORE == 0)
    {
        reap_into(&mut ring, &mut rest);
        assert!(
            removed.elapsed() < LATE,
            "the removal never ended it: {:?}",
            brief(&rest)
        );
    }
    assert_eq!(only(&rest, 3, "the removal").1, 0);
    let last = rest.iter().rev().find(|c| c.0 == 1).copied().unwrap();
    assert_eq!(last.1, -libc::ECANCELED, "{:?}", brief(&rest));
    // Nothing after the last completion.
    let quiet = Instant::now() + Duration::from_millis(40);
    let before = rest.len();
    while Instant::now() < quiet {
        reap_into(&mut ring, &mut rest);
    }
    assert_eq!(rest.len(), before, "{:?}", brief(&rest));

    for (what, defer, tag_all) in [
        ("fast scope", false, false),
        ("tagging scope", false, true),
        ("fast scope, defer_taskrun", true, false),
    ] {
        // A fresh ring's scopes are fast; one that took an op outside a
        // scope tags every op of its scopes.
        let mut b = Builder::new().cq_entries(256);
        if defer {
            b = b.single_issuer().defer_taskrun();
        }
        let mut ring = b.build(8).unwrap();
        if tag_all {
            ring.push(Nop::new()).unwrap();
            uring_tests::reap_one(&mut ring);
        }
        let began = Instant::now();
        let inside = ring.scope(|s| {
            assert_eq!(s.tags_every_op(), tag_all, "{what}");
            s.push(
                Timeout::new(Duration::from_millis(20))
                    .count(2)
                    .timeout_flags(TimeoutFlags::MULTISHOT)
                    .user_data(7),
            )
            .unwrap();
            s.submit().unwrap();
            s.push(TimeoutUpdate::new(7, Duration::from_millis(8)).user_data(8))
                .unwrap();
            s.submit().unwrap();
            let mut got = Vec::new();
            let start = Instant::now();
            while got.iter().filter(|c: &&(u64, i32, bool)| c.0 == 7).count() < 5 {
                assert!(start.elapsed() < LATE, "{what}: {got:?}");
                let _ = s.wait_timeout(1, Duration::from_millis(20));
                got.extend(
                    s.completions()
                        .map(|c| (c.user_data(), c.res(), c.has_more())),
                );
            }
            got
        });
        assert!(
            began.elapsed() < Duration::from_secs(1),
            "{what}: the scope took {:?}",
            began.elapsed()
        );
        assert!(inside.contains(&(8, 0, false)), "{what}: {inside:?}");
        for c in inside.iter().filter(|c| c.0 == 7) {
            assert_eq!((c.1, c.2), (-libc::ETIME, true), "{what}: {inside:?}");
        }
        let after = Instant::now() + Duration::from_millis(40);
        let mut stray = Vec::new();
        while Instant::now() < after {
            reap_into(&mut ring, &mut stray);
        }
        assert!(
            stray.is_empty(),
            "{what}: after the scope: {:?}",
            brief(&stray)
        );
    }
}

// ---------------------------------------------------------------------------
// The reactor's deadlines
// ---------------------------------------------------------------------------

/// A reactor op's end: its index, its errno, and when its callback ran.
type Cut = (u64, Option<i32>, Instant);

/// Twelve reactor ops (hour-long timeouts), each queued with a deadline
/// in a scrambled order, on a reactor whose ring has two SQ entries: each
/// op and its link timeout take the whole SQ, so every push overwrites
/// both timespec slots of the one before, which the reactor pushes as
/// soon as the kernel took it. Each op is cut at its own deadline
/// (`ECANCELED`), never before it, in deadline order, once each: the
/// reactor's `Deadline` is an absolute time on `CLOCK_MONOTONIC` computed
/// when the op is queued, written into the link timeout's ring-owned
/// timespec when the op is pushed, and read by `io_link_timeout_prep`
/// as the kernel consumes it. Plain and SQPOLL rings.
#[test]
fn reactor_deadlines_through_a_two_entry_sq_cut_each_op_at_its_own_time() {
    let _watch = uring_tests::watchdog();
    let mut kinds = vec!["plain"];
    if uring_tests::require_sqpoll() {
        kinds.push("sqpoll");
    }
    for what in kinds {
        let mut b = Builder::new().cq_entries(128);
        if what == "sqpoll" {
            b = b.sqpoll(Duration::from_millis(20));
        }
        let ring = match b.build(2) {
            Ok(ring) => ring,
            Err(e) => {
                uring_tests::skip(format_args!("no {what} ring: {e}"));
                continue;
            }
        };
        let reactor = match Reactor::from_ring(ring) {
            Ok(r) => r,
            Err(e) => {
                uring_tests::skip(format_args!("no reactor on a {what} ring: {e}"));
                continue;
            }
        };
        let start = Instant::now();
        let base = start + lead();
        let at = |j: u64| base + STEP * j as u32;
        let done: Rc<RefCell<Vec<Cut>>> = Rc::default();
        for j in [6u64, 2, 9, 0, 11, 4, 7, 1, 10, 3, 8, 5] {
            let done = Rc::clone(&done);
            reactor
                .queue_with_deadline(
                    uring::reactor::ops::Timeout::new(HOUR),
                    at(j),
                    move |r, ()| {
                        done.borrow_mut().push((
                            j,
                            r.err().and_then(|e| e.raw_os_error()),
                            Instant::now(),
                        ));
                    },
                )
                .unwrap();
        }
        reactor.run().unwrap();
        let done = done.borrow();
        assert!(
            Instant::now() < at(11) + LATE,
            "{what}: the deadlines took {:?}",
            start.elapsed()
        );
        let order: Vec<u64> = done.iter().map(|d| d.0).collect();
        assert_eq!(order, (0..12).collect::<Vec<u64>>(), "{what}: {done:?}");
        for &(j, errno, when) in done.iter() {
            assert_eq!(errno, Some(libc::ECANCELED), "{what}: op {j}");
            assert!(
                not_before(when, at(j)),
                "{what}: op {j} cut before its deadline"
            );
        }
        assert_eq!(reactor.in_flight(), 0, "{what}");
    }
}

// ---------------------------------------------------------------------------
// Resizes
// ---------------------------------------------------------------------------

/// A resize (`IORING_REGISTER_RESIZE_RINGS`, which copies the SQEs
/// between the head and the tail into the new SQ) with timeouts in flight
/// and one queued behind two SQEs the kernel refuses: the resize's own
/// submit stops at the second refusal, leaves the timeout queued, and the
/// resize is refused (nothing was copied, no timespec array replaced);
/// the next resize submits it and goes through, the old timespec array
/// given up with every SQE that pointed into it consumed. The new SQ's
/// slots are then filled with updates carrying an hour or a past time.
/// Both timeouts fire at their own deadlines, once; the refused SQEs
/// complete with `-EINVAL`.
#[test]
fn a_resize_with_timeouts_queued_and_in_flight_keeps_their_times() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = uring_tests::resizable_ring(4) else {
        return;
    };
    let start = Instant::now();
    let at = |ms: u64| start + Duration::from_millis(ms);
    ring.push(timeout_at(at(150), 1)).unwrap();
    ring.push(
        Timeout::new(Timespec::monotonic_at(at(10)))
            .timeout_flags(TimeoutFlags::ABS | TimeoutFlags::MULTISHOT)
            .user_data(2),
    )
    .unwrap();
    ring.push(
        TimeoutUpdate::new(NOBODY, Duration::from_millis(10))
            .timeout_flags(TimeoutFlags::BOOTTIME)
            .user_data(3),
    )
    .unwrap();
    ring.push(timeout_at(at(190), 4)).unwrap();
    assert_eq!(ring.submit().unwrap(), 2, "up to the first refusal");
    match ring.resize(8, 64) {
        Err(Error::InvalidArgument(why)) if why.contains("consumed") => {}
        other => panic!("a resize with an SQE left queued: {other:?}"),
    }
    assert_eq!(ring.pending(), 1, "the last timeout stays queued");
    ring.resize(8, 64).unwrap();
    assert_eq!(ring.sq_entries(), 8);
    assert_eq!(ring.pending(), 0);
    let n = 16;
    for i in 0..n {
        push_churn(&mut ring, i);
        if i % 8 == 7 {
            ring.submit().unwrap();
        }
    }
    let mut seen = Vec::new();
    let mut want = vec![1, 2, 3, 4];
    want.extend((0..n).map(|i| CHURN + i));
    reap_until(&mut ring, &mut seen, &want, at(190), "resized");
    assert_eq!(only(&seen, 2, "refused").1, -libc::EINVAL);
    assert_eq!(only(&seen, 3, "refused").1, -libc::EINVAL);
    for (ud, ms) in [(1, 150), (4, 190)] {
        let (_, res, _, fired) = only(&seen, ud, "resized");
        assert_eq!(res, -libc::ETIME, "{ud}");
        assert!(
            not_before(fired, at(ms)),
            "{ud} fired {:?} early",
            at(ms).saturating_duration_since(fired)
        );
    }
    assert_churn(&seen, n, "resized");
    assert_eq!(seen.len() as u64, 4 + n, "{:?}", brief(&seen));
}

// ---------------------------------------------------------------------------
// SQEs taken back
// ---------------------------------------------------------------------------

/// A scope on a single-issuer ring moved to another thread cannot submit
/// its timeouts: `io_uring_enter` refuses the thread (`EEXIST`, from
/// `io_uring_add_tctx_node`, before `io_submit_sqes` reads an SQE), and
/// the scope's end takes the SQEs back (`Ring::retract_scope`: the kernel
/// never read their timespecs) rather than wait for ops that never
/// started. Back on its own thread, the ring's slots take new timeouts:
/// only those run, each at its own time, and none of the taken-back ones
/// (a 5 ms timeout, an update, a chain with a 1 ms link timeout) ever
/// completes or moves anything. A disabled ring (`EBADFD` for every
/// enter) is refused by the scope at the push instead
/// (`PushErrorKind::Disabled`), leaving nothing to take back.
#[test]
fn timeouts_a_scope_takes_back_never_run_and_their_slots_serve_later_ones() {
    let _watch = uring_tests::watchdog();
    let take_back = |ring: &mut Ring, what: &str| {
        let refused = ring.scope(|s| {
            s.push(Timeout::new(Duration::from_millis(5)).user_data(1))
                .unwrap();
            s.push(TimeoutUpdate::new(9, Duration::from_millis(5)).user_data(2))
                .unwrap();
            s.push(
                Timeout::new(Duration::from_millis(5))
                    .user_data(3)
                    .link_timeout(LinkTimeout::new(Duration::from_millis(1)).user_data(4)),
            )
            .unwrap();
            s.submit()
        });
        assert_eq!(
            refused.as_ref().err().and_then(|e| e.raw_os_error()),
            Some(libc::EEXIST),
            "{what}: {refused:?}"
        );
        assert_eq!(ring.pending(), 0, "{what}: taken back");
    };
    let run_after = |ring: &mut Ring, what: &str| {
        let start = Instant::now();
        ring.push(Timeout::new(HOUR).user_data(9)).unwrap();
        ring.push(timeout_at(start + Duration::from_millis(60), 10))
            .unwrap();
        ring.push(timeout_at(start + Duration::from_millis(90), 11))
            .unwrap();
        ring.push(Nop::new().user_data(12)).unwrap();
        ring.submit().unwrap();
        let mut seen = Vec::new();
        reap_until(ring, &mut seen, &[10, 11, 12], start, what);
        let quiet = Instant::now() + Duration::from_millis(30);
        while Instant::now() < quiet {
            reap_into(ring, &mut seen);
        }
        for (ud, ms) in [(10, 60), (11, 90)] {
            let (_, res, _, fired) = only(&seen, ud, what);
            assert_eq!(res, -libc::ETIME, "{what}: {ud}");
            assert!(
                not_before(fired, start + Duration::from_millis(ms)),
                "{what}: {ud}"
            );
        }
        assert_eq!(seen.len(), 3, "{what}: {:?}", brief(&seen));
        ring.cancel_sync(SyncCancel::user_data(9), Some(Duration::from_secs(1)))
            .unwrap();
        let mut rest = Vec::new();
        reap_until(ring, &mut rest, &[9], Instant::now(), what);
        assert_eq!(brief(&rest), [(9, -libc::ECANCELED)], "{what}");
    };

    // Disabled (every enter fails with EBADFD until it is enabled): a
    // scope takes nothing, so nothing is left to take back.
    let mut ring = Builder::new().r_disabled().build(4).unwrap();
    ring.scope(|s| {
        let refused = s
            .push(Timeout::new(Duration::from_millis(5)).user_data(1))
            .unwrap_err();
        assert_eq!(refused.kind(), uring::PushErrorKind::Disabled);
    });
    assert_eq!(ring.pending(), 0);
    ring.enable().unwrap();
    run_after(&mut ring, "disabled, then enabled");

    // A single issuer entered from another thread.
    let Some(ring) = uring_tests::defer_ring(4) else {
        return;
    };
    let mut ring = std::thread::spawn(move || {
        let mut ring = ring;
        take_back(&mut ring, "another thread");
        ring
    })
    .join()
    .unwrap();
    run_after(&mut ring, "its own thread again");
}
