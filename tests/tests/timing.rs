//! Time: waits with a timeout, and `Timeout` ops.
//!
//! Only lower bounds are asserted on elapsed time: a loaded machine may be
//! late, never early.

use std::time::{Duration, Instant};

use uring::ops::{Nop, Timeout};
use uring::{Cqe, Error, Features, Ring};
use uring_tests::{by_user_data, require_features, submit_and_reap};

/// A wait on an idle ring times out, after at least the time asked for,
/// and no completion appears (no internal timeout SQE posts one).
#[test]
fn wait_timeout_on_an_idle_ring_times_out() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    if !require_features(&ring, Features::EXT_ARG, "a wait with a timeout") {
        return;
    }
    let start = Instant::now();
    let result = ring.wait_timeout(1, Duration::from_millis(50));
    let elapsed = start.elapsed();
    assert!(
        matches!(result, Err(Error::TimedOut)),
        "wait_timeout on an idle ring: {result:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(50),
        "returned after {elapsed:?}"
    );
    assert_eq!(ring.ready(), 0, "a completion appeared: {:?}", ring.peek());

    let start = Instant::now();
    let result = ring.submit_and_wait_timeout(1, Duration::from_millis(20));
    assert!(matches!(result, Err(Error::TimedOut)), "{result:?}");
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert_eq!(ring.ready(), 0);
}

/// A wait with a timeout returns as soon as the completions are there.
#[test]
fn wait_timeout_returns_what_arrived() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    if !require_features(&ring, Features::EXT_ARG, "a wait with a timeout") {
        return;
    }
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.push(Nop::new().user_data(2)).unwrap();
    let submitted = ring
        .submit_and_wait_timeout(2, Duration::from_secs(10))
        .expect("two NOPs within 10 s");
    assert_eq!(submitted, 2);
    assert_eq!(ring.ready(), 2);
    // Already satisfied: no waiting.
    ring.wait_timeout(2, Duration::from_secs(10)).unwrap();
    let cqes: Vec<Cqe> = ring.completions().collect();
    assert_eq!(by_user_data(&cqes).len(), 2);

    // One of two: the wait for two times out, the one that came stays.
    ring.push(Nop::new().user_data(3)).unwrap();
    ring.submit().unwrap();
    let result = ring.wait_timeout(2, Duration::from_millis(20));
    assert!(matches!(result, Err(Error::TimedOut)), "{result:?}");
    let cqes: Vec<Cqe> = ring.completions().collect();
    assert_eq!(cqes.len(), 1);
    assert_eq!(cqes[0].user_data(), 3);
}

/// Timeouts of 30, 10 and 20 ms pushed in that order complete in the order
/// of their durations, each with ETIME, no earlier than their durations.
#[test]
fn timeouts_complete_in_duration_order() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let start = Instant::now();
    for ms in [30u64, 10, 20] {
        ring.push(Timeout::new(Duration::from_millis(ms)).user_data(ms))
            .unwrap();
    }
    let mut cqes = Vec::new();
    ring.submit().unwrap();
    while cqes.len() < 3 {
        ring.wait(1).unwrap();
        for cqe in ring.completions() {
            cqes.push((cqe, start.elapsed()));
        }
    }
    let order: Vec<u64> = cqes.iter().map(|(c, _)| c.user_data()).collect();
    assert_eq!(order, [10, 20, 30], "{cqes:?}");
    for (cqe, at) in &cqes {
        assert_eq!(cqe.res(), -libc::ETIME, "{cqe:?}");
        assert!(
            *at >= Duration::from_millis(cqe.user_data()),
            "the {} ms timeout completed after {at:?}",
            cqe.user_data()
        );
    }
}

/// A timeout with a count completes with 0 once that many other
/// completions were posted, long before its time.
#[test]
fn a_timeout_with_a_count_completes_after_that_many_completions() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let start = Instant::now();
    ring.push(Timeout::new(Duration::from_secs(30)).count(2).user_data(9))
        .unwrap();
    ring.submit().unwrap();
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.push(Nop::new().user_data(2)).unwrap();
    let cqes = submit_and_reap(&mut ring, 3);
    let by = by_user_data(&cqes);
    assert_eq!(by[&9].res(), 0, "the count was reached: {cqes:?}");
    assert!(start.elapsed() < Duration::from_secs(30));
}

/// A NOP bounded by a link timeout finishes first: the link timeout is
/// cancelled; a timeout bounded by a shorter link timeout is cancelled.
#[test]
fn link_timeouts_bound_the_op_before_them() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(Nop::new().user_data(1).timeout(Duration::from_secs(5)))
        .unwrap();
    let cqes = submit_and_reap(&mut ring, 2);
    let by = by_user_data(&cqes);
    assert_eq!(by[&1].res(), 0);
    assert_eq!(by[&0].res(), -libc::ECANCELED, "the link timeout: {cqes:?}");

    let start = Instant::now();
    ring.push(
        Timeout::new(Duration::from_secs(5))
            .user_data(2)
            .timeout(Duration::from_millis(10)),
    )
    .unwrap();
    let cqes = submit_and_reap(&mut ring, 2);
    let by = by_user_data(&cqes);
    assert_eq!(by[&2].res(), -libc::ECANCELED, "{cqes:?}");
    assert_eq!(by[&0].res(), -libc::ETIME, "{cqes:?}");
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(10), "{elapsed:?}");
}

extern "C" fn ignore_signal(_: libc::c_int) {}

/// Installs a do-nothing SIGUSR1 handler without SA_RESTART, so that a
/// SIGUSR1 interrupts a blocking system call with EINTR.
fn install_sigusr1_handler() {
    // SAFETY: all-zero bytes are a valid `sigaction`; the handler does
    // nothing, so it is async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = ignore_signal as *const () as usize;
        action.sa_flags = 0;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()),
            0
        );
    }
}

/// Sends SIGUSR1 to the calling thread every 5 ms for `span`, from another
/// thread. Returns the signaller, to join.
fn pester_this_thread(span: Duration) -> std::thread::JoinHandle<u32> {
    install_sigusr1_handler();
    // SAFETY: pthread_self has no preconditions.
    let target = unsafe { libc::pthread_self() };
    std::thread::spawn(move || {
        let start = Instant::now();
        let mut sent = 0;
        while start.elapsed() < span {
            std::thread::sleep(Duration::from_millis(5));
            // SAFETY: `target` is the test thread, alive until it joins us.
            if unsafe { libc::pthread_kill(target, libc::SIGUSR1) } == 0 {
                sent += 1;
            }
        }
        sent
    })
}

/// Signals during a wait do not end it: the wait resumes until its
/// completion arrives.
#[test]
fn an_interrupted_wait_resumes() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    // Timed from before the submit, which arms the timeout.
    let start = Instant::now();
    ring.push(Timeout::new(Duration::from_millis(100)).user_data(1))
        .unwrap();
    ring.submit().unwrap();
    let signaller = pester_this_thread(Duration::from_millis(60));
    let result = ring.wait(1);
    let elapsed = start.elapsed();
    let sent = signaller.join().unwrap();
    assert!(sent > 0, "no signal was sent");
    assert!(result.is_ok(), "wait(1) with signals: {result:?}");
    assert!(
        elapsed >= Duration::from_millis(100),
        "returned after {elapsed:?}"
    );
    let cqe = ring.completions().next().expect("the timeout");
    assert_eq!((cqe.user_data(), cqe.res()), (1, -libc::ETIME));
}

/// Signals during a timed wait neither end it early nor stretch its
/// deadline into a hang: it times out after its time.
#[test]
fn an_interrupted_timed_wait_keeps_its_deadline() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    if !require_features(&ring, Features::EXT_ARG, "a wait with a timeout") {
        return;
    }
    let start = Instant::now();
    let signaller = pester_this_thread(Duration::from_millis(60));
    let result = ring.wait_timeout(1, Duration::from_millis(100));
    let elapsed = start.elapsed();
    assert!(signaller.join().unwrap() > 0);
    assert!(matches!(result, Err(Error::TimedOut)), "{result:?}");
    assert!(
        elapsed >= Duration::from_millis(100),
        "returned after {elapsed:?}"
    );
}
