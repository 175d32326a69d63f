//! The ring's waits where the other wait suites stop: a minimum wait
//! longer than its timeout (by `WaitArgs`, by a registered slot, on a CQ a
//! scope set aside), a minimum wait of no whole microsecond on a CQ set
//! aside, a wait whose completions are all there on a `defer_taskrun` ring
//! moved to another thread while the kernel holds more back, the eventfd
//! of a `defer_taskrun` ring (signalled when task work is queued, before
//! any completion can be read), timeouts of 0 and 1 ns over an overflowed
//! CQ, and waits that find SQEs pushed and never submitted.
//!
//! Read against Linux 6.18: `io_uring/io_uring.c` (`io_cqring_wait`,
//! which refuses a task other than a `DEFER_TASKRUN` ring's submitter
//! with `-EEXIST` before it looks at the CQ, flushes the overflow list
//! before it arms any timer, and reports `-ETIME` only with the CQ empty;
//! `io_cqring_min_timer_wakeup`, which ends the wait at the minimum wait
//! when a completion is there, else switches to the timeout;
//! `io_cqring_schedule_timeout`; `io_get_ext_arg`, which reads
//! `min_wait_usec` in whole microseconds; `io_req_local_work_add`, which
//! signals the eventfd when task work is queued on a `DEFER_TASKRUN`
//! ring), `io_uring/eventfd.c` (`io_eventfd_signal`, which skips a signal
//! while `IORING_CQ_EVENTFD_DISABLED` is set), `io_uring/register.c`
//! (`IORING_REGISTER_MEM_REGION` with `IORING_MEM_REGION_REG_WAIT_ARG`).
//!
//! Every test is safe code against the running kernel and checks what the
//! kernel did: what each wait returned, how long it took, which
//! completions came, once each, in order. Tests marked
//! run.

use std::io::Read as _;
use std::os::fd::{AsFd as _, FromRawFd as _, OwnedFd};
use std::time::{Duration, Instant};

use uring::ops::{Nop, Timeout};
use uring::{Builder, Error, Features, Ring, WaitArgs};
use uring_tests::{require_kernel, skip, watchdog};

/// The short time the waits below are given.
const T: Duration = Duration::from_millis(50);

/// A minimum wait ten times longer than [`T`].
const LONG_MIN: Duration = Duration::from_millis(500);

/// How much later than its time a wait may end and still pass (a loaded
/// two-core machine); far below any time a wait must not reach.
const SLACK: Duration = Duration::from_millis(400);

/// Everything ready now, as `(user_data, res)`, in CQ order.
fn take(ring: &mut Ring) -> Vec<(u64, i32)> {
    ring.completions()
        .map(|c| (c.user_data(), c.res()))
        .collect()
}

/// How long `f` took, and what it returned.
fn timed<R>(f: impl FnOnce() -> R) -> (R, Duration) {
    let start = Instant::now();
    let r = f();
    (r, start.elapsed())
}

/// Pushes and submits `n` NOPs numbered from `first`, submitting whenever
/// the SQ is full, and leaves their completions unread.
fn nops(ring: &mut Ring, first: u64, n: u64) {
    for ud in first..first + n {
        if let Err(e) = ring.push(Nop::new().user_data(ud)) {
            ring.submit().unwrap();
            ring.push(e.into_inner()).unwrap();
        }
    }
    ring.submit().unwrap();
}

/// A disabled ring of 8 SQEs (16 CQEs) with a wait region, its slot 0 set
/// to `timeout` and `min_wait`, enabled; `None` (with a skip message) on
/// kernels without registered wait arguments.
fn ring_with_slot(timeout: Option<Duration>, min_wait: Option<Duration>) -> Option<Ring> {
    if !require_kernel(6, 13, "registered wait arguments") {
        return None;
    }
    let mut ring = Builder::new().r_disabled().build(8).unwrap();
    match ring.register_wait_region(1) {
        Ok(()) => {}
        Err(e) => {
            skip(format_args!("no wait region: {e}"));
            return None;
        }
    }
    ring.set_registered_wait(0, timeout, min_wait).unwrap();
    ring.enable().unwrap();
    Some(ring)
}

/// A new non-blocking eventfd.
fn eventfd() -> OwnedFd {
    // SAFETY: eventfd(2) takes plain integers; the result is checked.
    let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    assert!(raw >= 0, "eventfd: {}", std::io::Error::last_os_error());
    // SAFETY: a new descriptor, owned by nothing else.
    unsafe { OwnedFd::from_raw_fd(raw) }
}

/// The eventfd's counter, read (and so reset); 0 when nothing signalled it.
fn take_count(fd: &OwnedFd) -> u64 {
    let mut file = std::fs::File::from(fd.try_clone().unwrap());
    let mut bytes = [0u8; 8];
    match file.read(&mut bytes) {
        Ok(8) => u64::from_ne_bytes(bytes),
        Ok(n) => panic!("an eventfd read of {n} bytes"),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
        Err(e) => panic!("eventfd read: {e}"),
    }
}

/// The eventfd's counter once it is non-zero, read within `bound`; 0 if
/// it stayed zero that long.
fn count_within(fd: &OwnedFd, bound: Duration) -> u64 {
    let end = Instant::now() + bound;
    loop {
        let n = take_count(fd);
        if n > 0 || Instant::now() >= end {
            return n;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

// ---------------------------------------------------------------------------
// A minimum wait longer than the timeout
// ---------------------------------------------------------------------------

/// `WaitArgs::min_wait` says a minimum wait is "never longer than the
/// timeout", and `set_registered_wait` that "a minimum wait longer than
/// the timeout is cut to it". With one completion ready and two wanted, a
/// slot of timeout `T` and minimum wait 500 ms (cut to `T`) ends its wait
/// at `T` with `Ok`: the minimum wait is over and a completion is there
/// (the kernel's min timer sees it and ends the wait, reporting 0 since
/// the CQ is not empty). `wait_with` given the same two times cuts the
/// minimum wait to the time to its deadline too, and ends at `T` with
/// `Ok`, as a minimum wait of exactly `T` does: the same arguments end the
/// wait alike, whichever way they are given.
#[test]
fn a_minimum_wait_longer_than_the_timeout_ends_alike_however_it_is_given() {
    let _watch = watchdog();
    let Some(mut ring) = ring_with_slot(Some(T), Some(LONG_MIN)) else {
        return;
    };
    if !ring.params().has(Features::MIN_TIMEOUT) {
        return skip("no minimum waits (6.12)");
    }
    nops(&mut ring, 1, 1);
    assert_eq!(ring.ready(), 1);
    let (registered, reg_took) = timed(|| ring.wait_registered(2, 0));
    let (equal, eq_took) = timed(|| ring.wait_with(2, &WaitArgs::new().timeout(T).min_wait(T)));
    let (longer, long_took) =
        timed(|| ring.wait_with(2, &WaitArgs::new().timeout(T).min_wait(LONG_MIN)));
    let outcomes = format!(
        "slot (T, 500 ms): {registered:?} after {reg_took:?}; \
         wait_with (T, T): {equal:?} after {eq_took:?}; \
         wait_with (T, 500 ms): {longer:?} after {long_took:?}"
    );
    for took in [reg_took, eq_took, long_took] {
        assert!(took >= T && took < T + SLACK, "{outcomes}");
    }
    assert_eq!(take(&mut ring), [(1, 0)], "{outcomes}");
    assert!(registered.is_ok() && equal.is_ok(), "{outcomes}");
    assert!(longer.is_ok(), "{outcomes}");
}

// ---------------------------------------------------------------------------
// A minimum wait of no whole microsecond, on a CQ set aside
// ---------------------------------------------------------------------------

/// A minimum wait is "counted in whole microseconds": one of 0 (or of
/// 500 ns) is none, as the kernel reads a `min_wait_usec` of 0, and
/// `enter_and_wait` drops it. On a plain ring with one completion of two
/// wanted, `wait_with(min_wait(0).timeout(T))` runs to its timeout. On a
/// ring reading the copy a scope set aside (seven completions ready, eight
/// wanted), the same minimum wait is none too: the wait runs to its
/// timeout, where a minimum wait taken for one would have ended it at once
/// with fewer completions than asked for.
#[test]
fn a_minimum_wait_under_a_microsecond_is_none_on_a_cq_set_aside_too() {
    let _watch = watchdog();
    let mut plain = Ring::new(4).unwrap();
    if !plain.params().has(Features::MIN_TIMEOUT) {
        return skip("no minimum waits (6.12)");
    }
    nops(&mut plain, 1, 1);
    let mut outcomes = Vec::new();
    for min in [Duration::ZERO, Duration::from_nanos(500)] {
        let args = WaitArgs::new().min_wait(min).timeout(T);
        let (r, took) = timed(|| plain.wait_with(2, &args));
        outcomes.push((format!("plain ring, min_wait {min:?}"), r, took));
        let mut aside = uring_tests::ring_reading_a_copy();
        let cq = aside.cq_entries();
        assert_eq!(aside.completions().take(1).count(), 1);
        let (r, took) = timed(|| aside.wait_with(cq, &args));
        outcomes.push((format!("CQ set aside, min_wait {min:?}"), r, took));
        let got = take(&mut aside);
        assert_eq!(got, (101..108).map(|u| (u, 0)).collect::<Vec<_>>());
    }
    assert_eq!(take(&mut plain), [(1, 0)]);
    for (case, r, took) in &outcomes {
        assert!(
            matches!(r, Err(Error::TimedOut)) && *took >= T,
            "{case}: {r:?} after {took:?}; all: {outcomes:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// A satisfied wait on a defer_taskrun ring, elsewhere
// ---------------------------------------------------------------------------

/// `Ring::wait`: "Returns at once, without a system call, when they
/// already are" (ready). A `defer_taskrun` ring (SQ 4, CQ 8) whose CQ
/// overflowed holds eight completions in the CQ and four in the kernel's
/// list; moved to another thread, a wait for 1 (or 0, or for 1 with a
/// timeout) has what it wants in the CQ. The library enters the kernel to
/// flush the overflow list, which Linux refuses to a task other than the
/// submitter (`-EEXIST`, `io_allowed_run_tw`): the wait is met all the
/// same and returns `Ok`. Back on its thread all twelve come, once each,
/// in order.
#[test]
fn a_satisfied_wait_on_an_overflowed_defer_ring_elsewhere_returns_ok() {
    let _watch = watchdog();
    let Some(mut ring) = uring_tests::defer_ring(4) else {
        return;
    };
    let cq = ring.cq_entries();
    nops(&mut ring, 0, u64::from(cq) + 4);
    assert!(ring.cq_has_overflow(), "the CQ overflowed");
    assert_eq!(ring.ready(), cq);
    let (mut ring, results) = std::thread::spawn(move || {
        let mut ring = ring;
        let results = vec![
            ("wait(1)", ring.wait(1)),
            ("wait(0)", ring.wait(0)),
            ("wait_timeout(1, T)", ring.wait_timeout(1, T)),
            (
                "wait_with(1, deadline)",
                ring.wait_with(1, &WaitArgs::new().deadline(Instant::now() + T)),
            ),
        ];
        (ring, results)
    })
    .join()
    .unwrap();
    let mut got = Vec::new();
    while got.len() < usize::from(u8::try_from(cq + 4).unwrap()) {
        ring.wait_timeout(1, uring_tests::PATIENCE).unwrap();
        got.extend(take(&mut ring));
    }
    assert_eq!(
        got,
        (0..u64::from(cq) + 4).map(|u| (u, 0)).collect::<Vec<_>>()
    );
    assert!(!ring.cq_has_overflow());
    for (name, r) in &results {
        assert!(r.is_ok(), "{name} with {cq} ready: {r:?}; all: {results:?}");
    }
}

// ---------------------------------------------------------------------------
// The eventfd of a defer_taskrun ring
// ---------------------------------------------------------------------------

/// On a `defer_taskrun` ring (without the task-run flag) the eventfd is
/// signalled when a completion is queued as task work
/// (`io_req_local_work_add`), before the completion can be read: a timeout
/// op fires, the eventfd counts, and `ready`, `peek`, `peek_batch` and
/// `completions` see nothing (nothing tells them the kernel holds it);
/// `get_events` posts it, and posting signals the eventfd again (the CQ
/// tail moved). With `set_cq_eventfd(false)` neither signal comes, and
/// `get_events` still posts the next one. Each completion once.
#[test]
fn a_defer_ring_signals_its_eventfd_before_the_completion_can_be_read() {
    let _watch = watchdog();
    let Some(mut ring) = uring_tests::defer_ring(4) else {
        return;
    };
    let efd = eventfd();
    ring.register_eventfd(efd.as_fd(), false).unwrap();
    ring.push(Timeout::new(Duration::from_millis(20)).user_data(7))
        .unwrap();
    ring.submit().unwrap();
    let first = count_within(&efd, uring_tests::PATIENCE);
    assert!(first >= 1, "the eventfd was never signalled");
    assert_eq!(ring.ready(), 0, "posted before an enter");
    assert!(ring.peek().is_none());
    let mut batch = [uring::Cqe::default(); 4];
    assert_eq!(ring.peek_batch(&mut batch), 0);
    assert!(take(&mut ring).is_empty());
    ring.get_events().unwrap();
    assert_eq!(ring.ready(), 1);
    assert_eq!(take(&mut ring), [(7, -libc::ETIME)]);
    let posted = take_count(&efd);
    eprintln!("eventfd: {first} when queued, {posted} when posted");
    assert_eq!(posted, 1, "posting signals again");
    // Silenced: neither signal.
    ring.set_cq_eventfd(false).unwrap();
    ring.push(Timeout::new(Duration::from_millis(20)).user_data(8))
        .unwrap();
    ring.submit().unwrap();
    assert_eq!(count_within(&efd, Duration::from_millis(200)), 0);
    ring.get_events().unwrap();
    assert_eq!(take(&mut ring), [(8, -libc::ETIME)]);
    assert_eq!(take_count(&efd), 0, "a silenced eventfd was signalled");
    ring.set_cq_eventfd(true).unwrap();
    assert!(take(&mut ring).is_empty());
}

// ---------------------------------------------------------------------------
// Timeouts of 0 and 1 ns over an overflowed CQ
// ---------------------------------------------------------------------------

/// A CQ of 8 with 12 completions (four in the kernel's overflow list),
/// all eight of the CQ read: a wait for 1 with a timeout of 0, of 1 ns, or
/// a deadline already past, finds the CQ empty, and Linux flushes the
/// overflow list before it arms the timer (`io_cqring_wait`): each wait
/// returns `Ok` with what it brought in, never `TimedOut`. Then, the list
/// empty, the same waits time out at once. On a plain ring and on a
/// `defer_taskrun` one; every completion once, in order.
#[test]
fn timeouts_of_nothing_over_an_overflowed_cq_bring_the_held_back_completions() {
    let _watch = watchdog();
    let rings: Vec<(&str, Ring)> = [("plain", Some(Ring::new(4).unwrap()))]
        .into_iter()
        .chain([("defer_taskrun", uring_tests::defer_ring(4))])
        .filter_map(|(what, ring)| ring.map(|r| (what, r)))
        .collect();
    type Wait = fn(&mut Ring) -> uring::Result<()>;
    let waits: [(&str, Wait); 3] = [
        ("timeout 0", |r| r.wait_timeout(1, Duration::ZERO)),
        ("timeout 1 ns", |r| {
            r.wait_timeout(1, Duration::from_nanos(1))
        }),
        ("deadline past", |r| {
            r.wait_with(
                1,
                &WaitArgs::new().deadline(Instant::now() - Duration::from_millis(5)),
            )
        }),
    ];
    for (what, mut ring) in rings {
        for (name, wait) in waits {
            let case = format!("{what}: {name}");
            let cq = u64::from(ring.cq_entries());
            nops(&mut ring, 0, cq + 4);
            assert!(ring.cq_has_overflow(), "{case}");
            let mut got = Vec::new();
            // Read the CQ without the ring flushing (it has completions).
            got.extend(
                ring.completions()
                    .take(cq as usize)
                    .map(|c| (c.user_data(), c.res())),
            );
            while got.len() < (cq + 4) as usize {
                let r = wait(&mut ring);
                assert!(r.is_ok(), "{case}: {r:?} after {} came", got.len());
                let more = take(&mut ring);
                assert!(!more.is_empty(), "{case}: Ok with nothing");
                got.extend(more);
            }
            assert_eq!(
                got,
                (0..cq + 4).map(|u| (u, 0)).collect::<Vec<_>>(),
                "{case}"
            );
            assert!(!ring.cq_has_overflow(), "{case}");
            let (r, took) = timed(|| wait(&mut ring));
            assert!(matches!(r, Err(Error::TimedOut)), "{case}: then {r:?}");
            assert!(took < SLACK, "{case}: took {took:?}");
        }
    }
}

// ---------------------------------------------------------------------------
// Waits with SQEs pushed and never submitted
// ---------------------------------------------------------------------------

/// `wait`, `wait_timeout`, `wait_with` and `wait_registered` submit
/// nothing: a NOP pushed before them stays pending (not even published:
/// an SQ thread never sees it), the wait times out, and the NOP completes
/// once when a submit comes. On a plain ring, an SQPOLL ring, and in a
/// scope.
#[test]
fn waits_that_submit_nothing_leave_what_was_pushed_pending() {
    let _watch = watchdog();
    let mut rings: Vec<(&str, Ring)> = vec![("plain", Ring::new(4).unwrap())];
    if let Some(ring) = uring_tests::sqpoll_ring(4) {
        rings.push(("sqpoll", ring));
    }
    if let Some(ring) = ring_with_slot(Some(T), None) {
        rings.push(("registered slot", ring));
    }
    for (what, mut ring) in rings {
        ring.push(Nop::new().user_data(1)).unwrap();
        let mut results = vec![
            ("wait_timeout", timed(|| ring.wait_timeout(1, T))),
            (
                "wait_with deadline",
                timed(|| ring.wait_with(1, &WaitArgs::new().deadline(Instant::now() + T))),
            ),
        ];
        if what == "registered slot" {
            results.push(("wait_registered", timed(|| ring.wait_registered(1, 0))));
        }
        for (name, (r, took)) in &results {
            assert!(
                matches!(r, Err(Error::TimedOut)) && *took >= T,
                "{what}: {name}: {r:?} after {took:?}"
            );
        }
        assert_eq!(ring.pending(), 1, "{what}: the NOP was submitted");
        // Give an SQ thread time to take what it should not see.
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(ring.pending(), 1, "{what}: the NOP was published");
        assert!(take(&mut ring).is_empty(), "{what}");
        ring.submit_and_wait(1).unwrap();
        assert_eq!(take(&mut ring), [(1, 0)], "{what}");
        // In a scope.
        let r = ring.scope(|s| {
            s.push(Nop::new().user_data(2)).unwrap();
            let (r, took) = timed(|| s.wait_timeout(1, T));
            assert!(
                matches!(r, Err(Error::TimedOut)) && took >= T,
                "{what}: scope: {r:?}"
            );
            s.submit_and_wait(1).unwrap();
            s.completions()
                .map(|c| (c.user_data(), c.res()))
                .collect::<Vec<_>>()
        });
        assert_eq!(r, [(2, 0)], "{what}: scope");
        assert!(take(&mut ring).is_empty(), "{what}");
    }
}
