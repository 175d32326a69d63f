//! Waits that end by something besides their completions: timeouts, a
//! minimum wait, a signal mask, and wait arguments registered with the
//! ring.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use uring::ops::{Nop, Timeout};
use uring::{Error, Features, Ring, WaitArgs};
use uring_tests::{require_features, skip};

#[test]
fn a_wait_with_a_timeout_and_nothing_to_wait_for_times_out() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    if !require_features(&ring, Features::EXT_ARG, "a wait with a timeout") {
        return;
    }
    let args = WaitArgs::new().timeout(Duration::from_millis(20));
    assert!(matches!(ring.wait_with(1, &args), Err(Error::TimedOut)));
    // With the completion there, the same wait returns it.
    ring.push(Nop::new().user_data(4)).unwrap();
    assert_eq!(ring.submit_and_wait_with(1, &args).unwrap(), 1);
    let cqes: Vec<_> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(cqes, [(4, 0)]);
}

#[test]
fn a_minimum_wait_returns_with_fewer_completions_than_asked() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    if !require_features(&ring, Features::MIN_TIMEOUT, "a minimum wait") {
        return;
    }
    // One NOP now, and a timeout far in the future: a wait for two with a
    // minimum wait ends with the NOP's completion alone, long before the
    // overall timeout.
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.push(Timeout::new(Duration::from_secs(30)).user_data(2))
        .unwrap();
    let args = WaitArgs::new()
        .min_wait(Duration::from_millis(5))
        .timeout(Duration::from_secs(20));
    ring.submit_and_wait_with(2, &args).unwrap();
    let cqes: Vec<_> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(cqes, [1], "the NOP alone, the timeout still armed");
    // Without the minimum wait, asking for one more times out instead.
    let short = WaitArgs::new().timeout(Duration::from_millis(10));
    assert!(matches!(ring.wait_with(1, &short), Err(Error::TimedOut)));
}

static HANDLED: AtomicU32 = AtomicU32::new(0);

extern "C" fn count_signal(_: libc::c_int) {
    HANDLED.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn a_wait_takes_its_signal_mask_for_its_length_and_ends_at_a_signal_it_lets_through() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    if !require_features(&ring, Features::EXT_ARG, "a wait with a signal mask") {
        return;
    }
    // SAFETY: plain libc calls on local, initialised signal sets; the
    // handler only bumps an atomic, which is async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = count_signal as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGUSR2, &action, std::ptr::null_mut()),
            0
        );
        // This thread blocks SIGUSR2 outside the wait.
        let mut blocked: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut blocked);
        libc::sigaddset(&mut blocked, libc::SIGUSR2);
        assert_eq!(
            libc::pthread_sigmask(libc::SIG_BLOCK, &blocked, std::ptr::null_mut()),
            0
        );
        // Sent now, it stays pending while blocked.
        assert_eq!(libc::pthread_kill(libc::pthread_self(), libc::SIGUSR2), 0);
    }
    assert_eq!(
        HANDLED.load(Ordering::SeqCst),
        0,
        "blocked outside the wait"
    );
    // SAFETY: an empty set, initialised by sigemptyset.
    let open = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        set
    };
    // The wait unblocks everything: the pending signal is delivered in it
    // and ends it with EINTR, as it would end ppoll(2). The timeout op it
    // submitted stays submitted.
    ring.push(Timeout::new(Duration::from_millis(20)).user_data(9))
        .unwrap();
    let r = ring.submit_and_wait_with(1, &WaitArgs::new().sigmask(&open));
    assert_eq!(
        r.as_ref().err().and_then(Error::raw_os_error),
        Some(libc::EINTR),
        "{r:?}"
    );
    assert_eq!(
        std::io::Error::from(r.unwrap_err()).kind(),
        std::io::ErrorKind::Interrupted
    );
    assert_eq!(
        HANDLED.load(Ordering::SeqCst),
        1,
        "delivered during the wait"
    );
    assert_eq!(ring.submission().len(), 0, "the timeout op was submitted");
    // Blocked again outside the wait, nothing is pending: a plain wait
    // waits for the timeout op.
    ring.wait(1).unwrap();
    let cqes: Vec<_> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(cqes, [(9, -libc::ETIME)]);
    // A signal sent by another thread while a masked wait sleeps ends it
    // the same way, long before the timeout op it waits for; one sent
    // between two masked waits stays pending (blocked) and ends the next.
    ring.push(Timeout::new(Duration::from_secs(30)).user_data(10))
        .unwrap();
    // SAFETY: pthread_self has no preconditions.
    let me = unsafe { libc::pthread_self() };
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        // SAFETY: `me` is the test's thread, alive until this one is joined.
        unsafe { libc::pthread_kill(me, libc::SIGUSR2) }
    });
    let start = std::time::Instant::now();
    let r = ring.submit_and_wait_with(1, &WaitArgs::new().sigmask(&open));
    assert_eq!(sender.join().unwrap(), 0);
    assert_eq!(
        r.as_ref().err().and_then(Error::raw_os_error),
        Some(libc::EINTR),
        "{r:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(30));
    assert_eq!(HANDLED.load(Ordering::SeqCst), 2);
    // SAFETY: a signal to the test's own thread, which handles it.
    let sent = unsafe { libc::pthread_kill(libc::pthread_self(), libc::SIGUSR2) };
    assert_eq!(sent, 0);
    assert_eq!(HANDLED.load(Ordering::SeqCst), 2, "pending while blocked");
    let r = ring.wait_with(1, &WaitArgs::new().sigmask(&open));
    assert_eq!(
        r.as_ref().err().and_then(Error::raw_os_error),
        Some(libc::EINTR),
        "{r:?}"
    );
    assert_eq!(HANDLED.load(Ordering::SeqCst), 3);
    // The timeout op is still in flight: nothing was lost. Cancelled, it
    // completes with ECANCELED.
    ring.push(uring::ops::TimeoutRemove::new(10).user_data(11))
        .unwrap();
    ring.submit_and_wait(2).unwrap();
    let mut cqes: Vec<_> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    cqes.sort();
    assert_eq!(cqes, [(10, -libc::ECANCELED), (11, 0)]);
}

/// A disabled ring with a wait region of `slots`, enabled; `None` (with a
/// skip message) on kernels before 6.13.
fn ring_with_wait_region(slots: u32) -> Option<Ring> {
    let mut ring = Ring::builder().r_disabled().build(8).unwrap();
    match ring.register_wait_region(slots) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip(format_args!(
                "registered wait arguments need Linux 6.13: {e}"
            ));
            return None;
        }
        Err(e) => panic!("register_wait_region: {e}"),
    }
    ring.enable().unwrap();
    Some(ring)
}

#[test]
fn registered_wait_arguments_end_waits_by_slot() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_with_wait_region(4) else {
        return;
    };
    ring.set_registered_wait(0, Some(Duration::from_millis(10)), None)
        .unwrap();
    assert!(matches!(ring.wait_registered(1, 0), Err(Error::TimedOut)));
    // A slot with a long timeout and a minimum wait: a wait for two ends
    // with one completion.
    ring.set_registered_wait(
        3,
        Some(Duration::from_secs(20)),
        Some(Duration::from_millis(5)),
    )
    .unwrap();
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.push(Timeout::new(Duration::from_secs(30)).user_data(2))
        .unwrap();
    ring.submit_and_wait_registered(2, 3).unwrap();
    let cqes: Vec<_> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(cqes, [1]);
    // A wait alone, by slot: slot 3's minimum wait ends it with one
    // completion, where slot 0, without a timeout now, would wait for the
    // 30 s timeout.
    ring.set_registered_wait(0, None, None).unwrap();
    ring.push(Nop::new().user_data(3)).unwrap();
    ring.submit().unwrap();
    let by_slot_3 = ring.wait_registered(2, 3);
    assert!(by_slot_3.is_ok(), "slot 3's wait: {by_slot_3:?}");
    let cqes: Vec<_> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(cqes, [3]);
}

static HANDLED_BY_SLOT: AtomicU32 = AtomicU32::new(0);

extern "C" fn count_slot_signal(_: libc::c_int) {
    HANDLED_BY_SLOT.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn a_registered_slot_s_signal_mask_holds_for_its_waits_and_goes_when_taken_away() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_with_wait_region(2) else {
        return;
    };
    // SAFETY: plain libc calls on local, initialised signal sets; the
    // handler only bumps an atomic, which is async-signal-safe.
    let open = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = count_slot_signal as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGWINCH, &action, std::ptr::null_mut()),
            0
        );
        // This thread blocks SIGWINCH outside the waits.
        let mut blocked: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut blocked);
        libc::sigaddset(&mut blocked, libc::SIGWINCH);
        assert_eq!(
            libc::pthread_sigmask(libc::SIG_BLOCK, &blocked, std::ptr::null_mut()),
            0
        );
        let mut open: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut open);
        open
    };
    // Slot 1: a timeout, and a mask that lets every signal through. The
    // ring keeps its own copy of the mask: the caller's may go.
    ring.set_registered_wait(1, Some(Duration::from_secs(20)), None)
        .unwrap();
    {
        let mask = open;
        ring.set_registered_wait_sigmask(1, Some(&mask)).unwrap();
    }
    // Setting the slot's times again keeps its mask.
    ring.set_registered_wait(1, Some(Duration::from_secs(25)), None)
        .unwrap();
    // SAFETY: a signal to the test's own thread, which blocks it for now.
    let sent = unsafe { libc::pthread_kill(libc::pthread_self(), libc::SIGWINCH) };
    assert_eq!(sent, 0);
    assert_eq!(
        HANDLED_BY_SLOT.load(Ordering::SeqCst),
        0,
        "pending while blocked"
    );
    // The wait by slot 1 unblocks it: delivered, it ends the wait long
    // before the slot's timeout, as a copied-in mask does.
    let start = std::time::Instant::now();
    let r = ring.wait_registered(1, 1);
    assert_eq!(
        r.as_ref().err().and_then(Error::raw_os_error),
        Some(libc::EINTR),
        "{r:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_eq!(HANDLED_BY_SLOT.load(Ordering::SeqCst), 1);
    // One sent by another thread while the wait sleeps ends it too; the
    // timeout op the call submitted stays submitted and in flight.
    ring.push(Timeout::new(Duration::from_secs(30)).user_data(7))
        .unwrap();
    // SAFETY: pthread_self has no preconditions.
    let me = unsafe { libc::pthread_self() };
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        // SAFETY: `me` is the test's thread, alive until this one is joined.
        unsafe { libc::pthread_kill(me, libc::SIGWINCH) }
    });
    let r = ring.submit_and_wait_registered(1, 1);
    assert_eq!(sender.join().unwrap(), 0);
    assert_eq!(
        r.as_ref().err().and_then(Error::raw_os_error),
        Some(libc::EINTR),
        "{r:?}"
    );
    assert_eq!(HANDLED_BY_SLOT.load(Ordering::SeqCst), 2);
    assert_eq!(ring.submission().len(), 0, "the timeout op was submitted");
    // Without its mask, the slot's wait keeps the thread's: the signal
    // stays pending and the wait ends at the slot's timeout.
    ring.set_registered_wait(1, Some(Duration::from_millis(30)), None)
        .unwrap();
    ring.set_registered_wait_sigmask(1, None).unwrap();
    // SAFETY: as above.
    let sent = unsafe { libc::pthread_kill(libc::pthread_self(), libc::SIGWINCH) };
    assert_eq!(sent, 0);
    assert!(matches!(ring.wait_registered(1, 1), Err(Error::TimedOut)));
    assert_eq!(HANDLED_BY_SLOT.load(Ordering::SeqCst), 2, "still pending");
    // Slot 0 never had a mask; the masked copied-in wait takes the pending
    // signal.
    let r = ring.wait_with(1, &WaitArgs::new().sigmask(&open));
    assert_eq!(r.err().and_then(|e| e.raw_os_error()), Some(libc::EINTR));
    assert_eq!(HANDLED_BY_SLOT.load(Ordering::SeqCst), 3);
    // The timeout op is still in flight: cancelled, it completes once.
    ring.push(uring::ops::TimeoutRemove::new(7).user_data(8))
        .unwrap();
    ring.submit_and_wait(2).unwrap();
    let mut cqes: Vec<_> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    cqes.sort();
    assert_eq!(cqes, [(7, -libc::ECANCELED), (8, 0)]);
    // Slots past the region refuse a mask as they refuse times.
    let past = (4096 / std::mem::size_of::<uring::sys::io_uring_reg_wait>()) as u32;
    assert!(matches!(
        ring.set_registered_wait_sigmask(past, Some(&open)),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn registered_waits_refuse_what_the_region_does_not_hold() {
    let _watch = uring_tests::watchdog();
    let mut plain = Ring::new(4).unwrap();
    assert!(matches!(
        plain.wait_registered(1, 0),
        Err(Error::InvalidArgument(_))
    ));
    assert!(plain.set_registered_wait(0, None, None).is_err());
    // Only before the ring is enabled.
    let e = plain.register_wait_region(1).unwrap_err();
    assert!(e.raw_os_error().is_some(), "{e}");
    let Some(mut ring) = ring_with_wait_region(1) else {
        return;
    };
    // One slot asked for, a page's worth held: the last one past it is not.
    let past = (4096 / std::mem::size_of::<uring::sys::io_uring_reg_wait>()) as u32;
    assert!(ring.set_registered_wait(past, None, None).is_err());
    assert!(ring.wait_registered(1, past).is_err());
    assert!(ring.register_wait_region(1).is_err(), "once");
}

/// How long `wait` takes, and what it returns.
fn timed<T>(wait: impl FnOnce() -> T) -> (T, Duration) {
    let start = std::time::Instant::now();
    let out = wait();
    (out, start.elapsed())
}

#[test]
fn a_deadline_ends_a_wait_at_its_instant() {
    let _watch = uring_tests::watchdog();
    for boottime in [false, true] {
        let mut ring = Ring::new(4).unwrap();
        if !require_features(&ring, Features::EXT_ARG, "a wait with a deadline") {
            return;
        }
        if boottime && ring.register_clock(uring::Clock::Boottime).is_err() {
            skip("no IORING_REGISTER_CLOCK (6.12): the deadline on CLOCK_BOOTTIME");
            continue;
        }
        // An absolute time taken for a relative one would wait for as
        // long as the machine has been up; a relative one taken for an
        // absolute one would be long past and end the wait at once.
        let at = std::time::Instant::now() + Duration::from_millis(150);
        let (out, took) = timed(|| ring.wait_with(1, &WaitArgs::new().deadline(at)));
        assert!(matches!(out, Err(Error::TimedOut)), "{out:?}");
        assert!(std::time::Instant::now() >= at, "ended before its deadline");
        assert!(
            took < Duration::from_secs(5),
            "{took:?} for a 150 ms deadline"
        );
    }
}

#[test]
fn a_wait_with_a_deadline_returns_with_its_completions_before_it() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    if !require_features(&ring, Features::EXT_ARG, "a wait with a deadline") {
        return;
    }
    ring.push(Timeout::new(Duration::from_millis(30)).user_data(3))
        .unwrap();
    let args = WaitArgs::new().deadline(std::time::Instant::now() + Duration::from_secs(20));
    let (out, took) = timed(|| ring.submit_and_wait_with(1, &args));
    assert_eq!(out.unwrap(), 1);
    assert!(took < Duration::from_secs(10), "{took:?}");
    let cqes: Vec<_> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(cqes, [(3, -libc::ETIME)]);
}

#[test]
fn a_deadline_already_past_checks_what_is_ready() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    if !require_features(&ring, Features::EXT_ARG, "a wait with a deadline") {
        return;
    }
    let past = std::time::Instant::now();
    std::thread::sleep(Duration::from_millis(2));
    let (out, took) = timed(|| ring.wait_with(1, &WaitArgs::new().deadline(past)));
    assert!(matches!(out, Err(Error::TimedOut)), "{out:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    // A completion there: the same wait has it.
    ring.push(Nop::new().user_data(8)).unwrap();
    assert_eq!(
        ring.submit_and_wait_with(1, &WaitArgs::new().deadline(past))
            .unwrap(),
        1
    );
    assert_eq!(
        ring.completions()
            .map(|c| c.user_data())
            .collect::<Vec<_>>(),
        [8]
    );
}

#[test]
fn the_earlier_of_a_timeout_and_a_deadline_ends_the_wait() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    if !require_features(&ring, Features::EXT_ARG, "a wait with a deadline") {
        return;
    }
    let far = std::time::Instant::now() + Duration::from_secs(60);
    let short = Duration::from_millis(100);
    for timeout_first in [true, false] {
        // Timed from before the deadline is set: the wait may start later.
        let start = std::time::Instant::now();
        let args = if timeout_first {
            WaitArgs::new().timeout(short).deadline(far)
        } else {
            WaitArgs::new()
                .timeout(Duration::from_secs(60))
                .deadline(std::time::Instant::now() + short)
        };
        let out = ring.wait_with(1, &args);
        let took = start.elapsed();
        assert!(matches!(out, Err(Error::TimedOut)), "{out:?}");
        assert!(took >= Duration::from_millis(90), "{took:?} for {args:?}");
        assert!(took < Duration::from_secs(10), "{took:?} for {args:?}");
    }
}

#[test]
fn a_submit_that_waits_to_a_deadline_counts_what_it_submitted() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    if !require_features(&ring, Features::EXT_ARG, "a wait with a deadline") {
        return;
    }
    ring.push(Timeout::new(Duration::from_secs(30)).user_data(1))
        .unwrap();
    let args = WaitArgs::new().deadline(std::time::Instant::now() + Duration::from_millis(40));
    assert_eq!(ring.submit_and_wait_with(1, &args).unwrap(), 1);
    assert_eq!(ring.ready(), 0, "the timeout op is still armed");
    // A wait with a minimum wait and a deadline: the deadline ends it when
    // nothing completes.
    if require_features(
        &ring,
        Features::MIN_TIMEOUT,
        "a minimum wait with a deadline",
    ) {
        // Timed from before the deadline is set: the wait may start later.
        let start = std::time::Instant::now();
        let args = WaitArgs::new()
            .min_wait(Duration::from_millis(5))
            .deadline(std::time::Instant::now() + Duration::from_millis(40));
        let out = ring.wait_with(1, &args);
        let took = start.elapsed();
        assert!(matches!(out, Err(Error::TimedOut)), "{out:?}");
        assert!(took >= Duration::from_millis(35), "{took:?}");
    }
}

#[test]
fn a_deadline_centuries_away_waits_for_the_completion() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    if !require_features(&ring, Features::EXT_ARG, "a wait with a deadline") {
        return;
    }
    let far = std::time::Instant::now() + Duration::from_secs(400 * 365 * 24 * 3600);
    ring.push(Timeout::new(Duration::from_millis(20)).user_data(4))
        .unwrap();
    assert_eq!(
        ring.submit_and_wait_with(1, &WaitArgs::new().deadline(far))
            .unwrap(),
        1
    );
    let cqes: Vec<_> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(cqes, [(4, -libc::ETIME)]);
}

/// `set_iowait(false)` passes `IORING_ENTER_NO_IOWAIT` with every later
/// wait: the kernel takes it in the plain wait of `submit_and_wait` and in a
/// wait with arguments (a kernel that did not know the bit would fail both
/// with `EINVAL`). (Whether a sleep counts as iowait is not observable here:
/// with task delay accounting on, Linux 6.18 accounted no block-I/O delay to
/// a 300 ms io_uring wait with or without the flag.)
#[test]
fn waits_without_iowait_still_wait() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !ring.params().has(Features::NO_IOWAIT) {
        assert!(matches!(ring.set_iowait(false), Err(Error::Unsupported(_))));
        ring.set_iowait(true).unwrap();
        skip("no IORING_ENTER_NO_IOWAIT (6.15)");
        return;
    }
    for iowait in [false, true, false] {
        ring.set_iowait(iowait).unwrap();
        ring.push(Timeout::new(Duration::from_millis(30)).user_data(9))
            .unwrap();
        let (submitted, took) = timed(|| ring.submit_and_wait(1));
        assert_eq!(submitted.unwrap(), 1, "iowait {iowait}");
        assert!(
            took >= Duration::from_millis(25),
            "iowait {iowait}: {took:?}"
        );
        let cqes: Vec<_> = ring
            .completions()
            .map(|c| (c.user_data(), c.res()))
            .collect();
        assert_eq!(cqes, [(9, -libc::ETIME)], "iowait {iowait}");
        if ring.params().has(Features::EXT_ARG) {
            let args = WaitArgs::new().timeout(Duration::from_millis(20));
            assert!(
                matches!(ring.wait_with(1, &args), Err(Error::TimedOut)),
                "iowait {iowait}"
            );
        }
    }
}
