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
fn a_wait_takes_its_signal_mask_for_its_length() {
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
    // The wait unblocks everything: the pending signal interrupts it, and
    // the wait goes on until the timeout op completes.
    ring.push(Timeout::new(Duration::from_millis(20)).user_data(9))
        .unwrap();
    ring.submit_and_wait_with(1, &WaitArgs::new().sigmask(&open))
        .unwrap();
    assert_eq!(
        HANDLED.load(Ordering::SeqCst),
        1,
        "delivered during the wait"
    );
    let cqes: Vec<_> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(cqes, [(9, -libc::ETIME)]);
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
