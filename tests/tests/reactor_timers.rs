//! The reactor's timers: `Handle::sleep`, `sleep_until` and `timeout`,
//! timed by the ring's timeout op. A sleep lasts at least its duration and
//! resolves `Ok`; a dropped one is cancelled (nothing left in flight); a
//! shutdown fails one with `ECANCELED`; sleeps of different lengths end in
//! the order of their lengths; `timeout` gives a future's output when it
//! finishes first (at once with a duration of 0, if it is ready), and
//! `TimedOut` when the time passes first, the future dropped with the read
//! it awaited cancelled (bytes written later stay in the pipe). The
//! reactor's `Timeout` op counts a duration from the submit, and
//! `Timeout::at` to its deadline however late the submit comes.

use std::cell::RefCell;
use std::io::{self, Write as _};
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use uring::reactor::Reactor;
use uring::reactor::ops::{Nop, Read, Timeout};
use uring_tests::reactor::{pipe_bytes, pipes};
use uring_tests::{poll_once, watchdog};

/// A sleep of 30 ms resolves `Ok` no sooner than 30 ms after the call;
/// sleeps of 0 and until a past instant resolve `Ok` too.
#[test]
fn a_sleep_lasts_at_least_its_duration() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let start = Instant::now();
    reactor
        .run_until(reactor.sleep(Duration::from_millis(30)))
        .unwrap()
        .unwrap();
    let slept = start.elapsed();
    assert!(slept >= Duration::from_millis(30), "{slept:?}");
    reactor
        .run_until(reactor.sleep(Duration::ZERO))
        .unwrap()
        .unwrap();
    let past = Instant::now() - Duration::from_secs(1);
    reactor
        .run_until(reactor.sleep_until(past))
        .unwrap()
        .unwrap();
    let until = Instant::now() + Duration::from_millis(20);
    reactor
        .run_until(reactor.sleep_until(until))
        .unwrap()
        .unwrap();
    assert!(Instant::now() >= until);
    assert_eq!(reactor.in_flight(), 0);
}

/// A sleep dropped before it ends is cancelled: nothing is left in flight
/// once the reactor ran.
#[test]
fn a_dropped_sleep_is_cancelled() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let mut sleep = Box::pin(reactor.sleep(Duration::from_secs(60)));
    assert!(poll_once(&mut sleep).is_pending());
    assert_eq!(reactor.in_flight(), 1);
    drop(sleep);
    uring_tests::run_for(&reactor, 5);
    assert_eq!(reactor.in_flight(), 0);
    // `run` returns: no op was left behind.
    reactor.run().unwrap();
}

/// A sleep in flight when the reactor shuts down fails with `ECANCELED`.
#[test]
fn a_shutdown_fails_a_sleep_with_ecanceled() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let mut sleep = Box::pin(reactor.sleep(Duration::from_secs(60)));
    assert!(poll_once(&mut sleep).is_pending());
    drop(reactor);
    match poll_once(&mut sleep) {
        Poll::Ready(Err(e)) => assert_eq!(e.raw_os_error(), Some(libc::ECANCELED)),
        other => panic!("{other:?}"),
    }
}

/// Twelve tasks sleep until 60, 55, ... 5 ms past a common instant a
/// little ahead (each sleep counts from its own call, and the tasks are
/// polled one after the other): they wake shortest first.
#[test]
fn sleeps_end_in_the_order_of_their_lengths() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let order = Rc::new(RefCell::new(Vec::new()));
    let base = Instant::now() + Duration::from_millis(300);
    for i in (1..=12u64).rev() {
        let h = reactor.handle();
        let order = Rc::clone(&order);
        drop(reactor.spawn(async move {
            h.sleep_until(base + Duration::from_millis(5 * i))
                .await
                .unwrap();
            order.borrow_mut().push(i);
        }));
    }
    reactor.run().unwrap();
    assert_eq!(*order.borrow(), (1..=12).collect::<Vec<_>>());
}

/// `timeout` over a future that finishes first gives its output; over one
/// that is ready at once, even with a duration of 0; over a read of an
/// empty pipe, `TimedOut` once the time passed, and the read is cancelled:
/// bytes written afterwards stay in the pipe.
#[test]
fn timeout_gives_the_output_or_cuts_the_future() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let out = reactor
        .run_until(reactor.timeout(Duration::from_secs(10), async {
            let (r, ()) = h.op(Nop).await;
            r.unwrap() + 5
        }))
        .unwrap()
        .unwrap();
    assert_eq!(out, 5);
    let out = reactor
        .run_until(reactor.timeout(Duration::ZERO, async { "ready" }))
        .unwrap()
        .unwrap();
    assert_eq!(out, "ready");

    let (fds, dups, mut writers) = pipes(1);
    let fd = fds[0].clone();
    let h2 = reactor.handle();
    let start = Instant::now();
    let e = reactor
        .run_until(reactor.timeout(Duration::from_millis(20), async move {
            h2.op(Read::new(&fd, vec![0u8; 16], 0)).await
        }))
        .unwrap()
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    assert!(start.elapsed() >= Duration::from_millis(20));
    uring_tests::run_for(&reactor, 5);
    assert_eq!(reactor.in_flight(), 0, "the read was cancelled");
    writers[0].write_all(b"later").unwrap();
    uring_tests::run_for(&reactor, 5);
    assert_eq!(pipe_bytes(&dups[0]), b"later");
}

/// `Timeout::at` fires at its deadline however late the reactor submits
/// it: made 500 ms ahead, then 700 ms of the thread's own work before the
/// reactor runs, it completes (`ETIME`) at once. `Timeout::new` counts
/// from the submit: the same wait leaves it its whole 500 ms.
#[test]
fn a_timeout_at_a_deadline_counts_to_it_and_a_duration_from_the_submit() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let deadline = Instant::now() + Duration::from_millis(500);
    let at = reactor.op(Timeout::at(deadline));
    std::thread::sleep(Duration::from_millis(700));
    let awaited = Instant::now();
    let (result, ()) = reactor.run_until(at).unwrap();
    assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::ETIME));
    let late = awaited.elapsed();
    assert!(late < Duration::from_millis(400), "{late:?}");
    assert!(Instant::now() >= deadline);

    let after = reactor.op(Timeout::new(Duration::from_millis(500)));
    std::thread::sleep(Duration::from_millis(700));
    let awaited = Instant::now();
    let (result, ()) = reactor.run_until(after).unwrap();
    assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::ETIME));
    let waited = awaited.elapsed();
    assert!(waited >= Duration::from_millis(490), "{waited:?}");
}
