//! How many times submits and waits enter the kernel, counted by the
//! library's system-call seam (`uring::sys::fault`, per thread): a call
//! that has nothing to do makes none, one that submits or waits makes one,
//! an SQPOLL ring whose thread is awake submits without any; and the
//! submission batch's own view of the queue (`len`, `space_left`, its
//! `Debug`).

use std::time::{Duration, Instant};

use uring::ops::Nop;
use uring::sys::fault::{self, Call};
use uring::{Features, Ring};
use uring_tests::{require_features, require_sqpoll};

/// `io_uring_enter` calls this thread made since the last reset.
fn enters() -> u64 {
    fault::counts(Call::Enter).made
}

#[test]
fn submits_and_waits_enter_only_when_they_have_something_to_do() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    fault::reset();
    // Nothing pushed, nothing held back: no system call.
    assert_eq!(ring.submit().unwrap(), 0);
    assert_eq!(enters(), 0, "an empty submit entered the kernel");
    // Two NOPs: one enter, which the kernel answers with two consumed.
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.push(Nop::new().user_data(2)).unwrap();
    assert_eq!(ring.submit().unwrap(), 2);
    assert_eq!(enters(), 1);
    assert_eq!(ring.ready(), 2);
    // Already ready: a wait returns without a system call.
    ring.wait(2).unwrap();
    ring.wait_timeout(2, Duration::from_secs(1)).unwrap();
    assert_eq!(enters(), 1, "waits for what was ready entered the kernel");
    // Submit and wait in one enter, whatever is ready.
    assert_eq!(ring.submit_and_wait(2).unwrap(), 0);
    assert_eq!(enters(), 2);
    ring.push(Nop::new().user_data(3)).unwrap();
    assert_eq!(ring.submit_and_wait(3).unwrap(), 1);
    assert_eq!(enters(), 3);
    let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(got, [1, 2, 3]);
    assert_eq!(enters(), 3, "reading ready completions entered the kernel");
    // A wait for what is not there enters, and times out.
    let timed_out = ring.wait_timeout(1, Duration::from_millis(5));
    assert!(
        matches!(timed_out, Err(uring::Error::TimedOut)),
        "{timed_out:?}"
    );
    assert!(enters() >= 4);
    fault::reset();
}

/// With completions in the overflow list, a submit enters once to flush
/// them, and a later empty submit does not.
#[test]
fn a_flush_takes_one_enter_and_only_when_needed() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(2).unwrap();
    if !require_features(&ring, Features::NODROP, "the CQ overflow list") {
        return;
    }
    // CQ 4: six NOPs, two of them held back.
    for round in 0..3u64 {
        ring.push(Nop::new().user_data(2 * round)).unwrap();
        ring.push(Nop::new().user_data(2 * round + 1)).unwrap();
        ring.submit().unwrap();
    }
    assert_eq!(ring.advance(4), 4);
    fault::reset();
    assert_eq!(ring.submit().unwrap(), 0);
    assert_eq!(enters(), 1, "the submit flushed the overflow list");
    assert_eq!(ring.ready(), 2);
    assert_eq!(ring.advance(2), 2);
    assert_eq!(ring.submit().unwrap(), 0);
    assert_eq!(enters(), 1, "nothing left to flush");
    fault::reset();
}

/// An SQPOLL ring whose thread is awake takes SQEs without any system
/// call; once the thread sleeps, a submit wakes it, with one enter.
#[test]
fn an_sqpoll_ring_enters_only_to_wake_its_thread() {
    let _watch = uring_tests::watchdog();
    if !require_sqpoll() {
        return;
    }
    // The thread stays awake for a long idle time.
    let mut awake = Ring::builder()
        .sqpoll(Duration::from_secs(10))
        .build(8)
        .unwrap();
    // Let it start polling.
    awake.push(Nop::new().user_data(1)).unwrap();
    awake.submit_and_wait(1).unwrap();
    assert_eq!(awake.completions().count(), 1);
    fault::reset();
    for i in 0..5 {
        awake.push(Nop::new().user_data(10 + i)).unwrap();
        // Pending when the tail was published: 0 if the thread was quick.
        assert!(awake.submit().unwrap() <= 1, "pending for the SQ thread");
        let deadline = Instant::now() + uring_tests::PATIENCE;
        while awake.ready() == 0 {
            assert!(Instant::now() < deadline, "the SQ thread took nothing");
            std::thread::yield_now();
        }
        assert_eq!(
            awake
                .completions()
                .map(|c| c.user_data())
                .collect::<Vec<_>>(),
            [10 + i]
        );
    }
    assert_eq!(enters(), 0, "an awake SQ thread needed a wake-up");

    // The thread sleeps after 1 ms idle.
    let mut asleep = Ring::builder()
        .sqpoll(Duration::from_millis(1))
        .build(8)
        .unwrap();
    for i in 0..3 {
        // Until the thread sleeps: it flags that it must be woken. (Its
        // idle time passes only on a CPU: a loaded machine can keep it
        // awake long after.)
        let deadline = Instant::now() + uring_tests::PATIENCE;
        while !asleep.sq_needs_wakeup() {
            assert!(Instant::now() < deadline, "the SQ thread never slept");
            std::thread::sleep(Duration::from_millis(1));
        }
        fault::reset();
        asleep.push(Nop::new().user_data(20 + i)).unwrap();
        assert_eq!(asleep.submit().unwrap(), 1);
        assert_eq!(enters(), 1, "the sleeping SQ thread was woken");
        asleep.wait_timeout(1, uring_tests::PATIENCE).unwrap();
        assert_eq!(
            asleep
                .completions()
                .map(|c| c.user_data())
                .collect::<Vec<_>>(),
            [20 + i]
        );
    }
    fault::reset();
}

/// The batch's own counts follow its pushes before the queue sees them.
#[test]
fn a_submission_batch_counts_what_it_pushed() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    {
        let mut sq = ring.submission();
        assert!(sq.is_empty());
        assert_eq!((sq.len(), sq.space_left()), (0, 8));
        assert_eq!(format!("{sq:?}"), "SubmissionQueue { tail: 0, .. }");
        for i in 0..3 {
            sq.push(Nop::new().user_data(i)).unwrap();
        }
        assert!(!sq.is_empty());
        assert_eq!((sq.len(), sq.space_left()), (3, 5));
        assert_eq!(format!("{sq:?}"), "SubmissionQueue { tail: 3, .. }");
    }
    assert_eq!(ring.pending(), 3);
    assert_eq!(ring.submit().unwrap(), 3);
    // Past the first lap the tail keeps counting.
    for lap in 0..3u64 {
        {
            let mut sq = ring.submission();
            for i in 0..5 {
                sq.push(Nop::new().user_data(100 + lap * 5 + i)).unwrap();
            }
            assert_eq!(sq.len(), 5);
            assert_eq!(sq.space_left(), 3);
            let tail = 3 + 5 * (lap + 1);
            assert_eq!(
                format!("{sq:?}"),
                format!("SubmissionQueue {{ tail: {tail}, .. }}")
            );
        }
        assert_eq!(ring.submit().unwrap(), 5);
        let mut sq = ring.submission();
        assert!(sq.is_empty());
        assert_eq!(sq.space_left(), 8);
        drop(sq);
        let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
        let want: Vec<u64> = if lap == 0 { vec![0, 1, 2] } else { vec![] }
            .into_iter()
            .chain(100 + lap * 5..105 + lap * 5)
            .collect();
        assert_eq!(got, want);
    }
}

/// An SQPOLL ring enters only for what needs the kernel: a submit or a
/// wait with nothing pending makes no call, asleep thread or not, and a
/// submit-and-wait wakes a sleeping thread.
#[test]
fn an_sqpoll_ring_with_nothing_pending_makes_no_call() {
    let _watch = uring_tests::watchdog();
    if !require_sqpoll() {
        return;
    }
    for idle in [Duration::from_secs(10), Duration::from_millis(1)] {
        let mut ring = Ring::builder().sqpoll(idle).build(8).unwrap();
        for i in 0..3 {
            std::thread::sleep(Duration::from_millis(30));
            ring.push(Nop::new().user_data(i)).unwrap();
            // The count is of SQEs the thread had not taken yet when the
            // tail was published: 0 when it was quick.
            assert!(ring.submit_and_wait(1).unwrap() <= 1, "idle {idle:?}");
            fault::reset();
            // A completion ready and nothing pending: no call, whether the
            // thread sleeps or not.
            std::thread::sleep(Duration::from_millis(30));
            ring.wait(1).unwrap();
            assert_eq!(ring.submit().unwrap(), 0);
            assert_eq!(ring.submit_and_wait(1).unwrap(), 0);
            assert_eq!(enters(), 0, "idle {idle:?}: nothing needed the kernel");
            let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
            assert_eq!(got, [i]);
        }
    }
    fault::reset();
}

/// A ring without an SQ thread answers `wait_for_sq_space` at once, with
/// the room it has, even none.
#[test]
fn wait_for_sq_space_answers_at_once_without_an_sq_thread() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    fault::reset();
    assert_eq!(ring.wait_for_sq_space().unwrap(), 4);
    for i in 0..4 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    assert_eq!(ring.wait_for_sq_space().unwrap(), 0);
    assert_eq!(enters(), 0);
    assert_eq!(ring.submit().unwrap(), 4);
    assert_eq!(ring.wait_for_sq_space().unwrap(), 4);
    fault::reset();
}

/// A wait for exactly as many completions as the CQ holds is a wait like
/// any other; one more is refused.
#[test]
fn a_wait_for_a_full_cq_is_allowed() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(2).unwrap();
    let entries = ring.cq_entries();
    assert_eq!(entries, 4);
    for round in 0..2u64 {
        ring.push(Nop::new().user_data(2 * round)).unwrap();
        ring.push(Nop::new().user_data(2 * round + 1)).unwrap();
        ring.submit().unwrap();
    }
    ring.wait(entries).unwrap();
    ring.wait_timeout(entries, Duration::from_secs(1)).unwrap();
    assert!(matches!(
        ring.wait(entries + 1),
        Err(uring::Error::InvalidArgument(_))
    ));
    assert!(matches!(
        ring.wait_timeout(entries + 1, Duration::from_secs(1)),
        Err(uring::Error::InvalidArgument(_))
    ));
    assert_eq!(ring.completions().count(), 4);
}

/// Dropping an SQPOLL ring whose thread has taken every SQE neither wakes
/// the thread nor waits for it.
#[test]
fn dropping_an_idle_sqpoll_ring_makes_no_call() {
    let _watch = uring_tests::watchdog();
    if !require_sqpoll() {
        return;
    }
    let mut ring = Ring::builder()
        .sqpoll(Duration::from_millis(1))
        .build(8)
        .unwrap();
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(ring.completions().count(), 1);
    // The thread goes to sleep.
    std::thread::sleep(Duration::from_millis(30));
    fault::reset();
    drop(ring);
    assert_eq!(enters(), 0, "the drop woke the SQ thread");
    fault::reset();
}

/// On an SQPOLL ring, `wait_for_sq_space` answers at once while there is
/// room, and with the SQ full of SQEs published while the thread sleeps,
/// wakes the thread and returns once it has taken them.
#[test]
fn wait_for_sq_space_wakes_a_sleeping_sq_thread() {
    let _watch = uring_tests::watchdog();
    if !require_sqpoll() {
        return;
    }
    let mut ring = Ring::builder()
        .sqpoll(Duration::from_millis(1))
        .build(4)
        .unwrap();
    fault::reset();
    assert_eq!(ring.wait_for_sq_space().unwrap(), 4);
    assert_eq!(enters(), 0, "room: no call");
    for i in 0..4 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    // The thread falls asleep with nothing published.
    std::thread::sleep(Duration::from_millis(50));
    let space = ring.wait_for_sq_space().unwrap();
    assert!(space > 0, "room once the thread took some");
    ring.wait(4).unwrap();
    let mut got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    got.sort_unstable();
    assert_eq!(got, [0, 1, 2, 3]);
    fault::reset();
}

/// `submit_and_wait` counts what it submits from the head it keeps, not
/// one it reads: after every other way of submitting, with the SQ filled
/// to the last slot each round, it still submits each SQE once, reports
/// how many, and enters once; no SQE is overwritten before the kernel
/// read it.
#[test]
fn submit_and_wait_counts_from_its_own_head_after_every_submit_path() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let entries = ring.sq_entries() as u64;
    let mut next = 0u64;
    for round in 0..24u64 {
        // Fill the SQ to its last slot.
        let first = next;
        let mut sq = ring.submission();
        while sq.push(Nop::new().user_data(next)).is_ok() {
            next += 1;
        }
        drop(sq);
        assert_eq!(
            next - first,
            entries,
            "round {round}: the SQ had room for all"
        );
        let pushed = (next - first) as u32;
        fault::reset();
        // Every other round submits another way first, then pushes more.
        let submitted = match round % 4 {
            0 => ring.submit_and_wait(pushed).unwrap(),
            1 => ring.submit().unwrap() + ring.submit_and_wait(0).unwrap(),
            2 => ring
                .submit_and_wait_timeout(pushed, Duration::from_secs(5))
                .unwrap(),
            _ => {
                let a = ring.submit().unwrap();
                ring.push(Nop::new().user_data(next)).unwrap();
                next += 1;
                a + ring.submit_and_wait(pushed + 1).unwrap()
            }
        };
        assert_eq!(
            u64::from(submitted),
            next - first,
            "round {round}: every SQE submitted once"
        );
        if round % 4 == 0 {
            assert_eq!(enters(), 1, "round {round}: one enter");
        }
        let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
        assert_eq!(got, (first..next).collect::<Vec<_>>(), "round {round}");
    }
    // Pushes that still fit the free run of the last re-read of the head
    // re-read nothing: what `submit` consumed must be counted as it is.
    for round in 0..4u64 {
        let first = next;
        ring.push(Nop::new().user_data(next)).unwrap();
        ring.push(Nop::new().user_data(next + 1)).unwrap();
        assert_eq!(ring.submit().unwrap(), 2, "round {round}");
        ring.push(Nop::new().user_data(next + 2)).unwrap();
        fault::reset();
        assert_eq!(ring.submit_and_wait(3).unwrap(), 1, "round {round}");
        assert_eq!(enters(), 1, "round {round}: one enter");
        next += 3;
        let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
        assert_eq!(got, (first..next).collect::<Vec<_>>(), "round {round}");
    }
    // And so must what `submit_and_wait` consumed, round after round.
    for round in 0..12u64 {
        ring.push(Nop::new().user_data(next)).unwrap();
        fault::reset();
        assert_eq!(ring.submit_and_wait(1).unwrap(), 1, "round {round}");
        assert_eq!(enters(), 1, "round {round}: one enter");
        let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
        assert_eq!(got, [next], "round {round}");
        next += 1;
    }
    fault::reset();
}

/// On a `defer_taskrun` ring, a completion that waits in task work is
/// posted by `submit_and_get_events` in the same enter that submits, and
/// by no plain submit; with nothing to submit, it still enters once.
#[test]
fn submit_and_get_events_submits_and_runs_task_work_in_one_enter() {
    use uring::PollEvents;
    use uring::ops::PollAdd;
    let _watch = uring_tests::watchdog();
    let Ok(mut ring) = Ring::builder().single_issuer().defer_taskrun().build(8) else {
        uring_tests::skip("no defer_taskrun rings (6.1)");
        return;
    };
    let (r, w) = uring_tests::pipe();
    ring.scope(|s| {
        s.push(PollAdd::new(&r, PollEvents::IN).user_data(1))
            .unwrap();
        assert_eq!(s.submit().unwrap(), 1);
        // The pipe becomes readable: the poll's completion waits in the
        // ring's task work, which only an enter asking for events runs.
        assert_eq!(write_fd(&w, b"x"), 1);
        s.push(Nop::new().user_data(2)).unwrap();
        fault::reset();
        assert_eq!(s.submit().unwrap(), 1);
        assert_eq!(enters(), 1);
        let got: Vec<u64> = s.completions().map(|c| c.user_data()).collect();
        assert_eq!(got, [2], "a plain submit posts the NOP alone");
        s.push(Nop::new().user_data(3)).unwrap();
        assert_eq!(s.submit_and_get_events().unwrap(), 1);
        assert_eq!(enters(), 2, "one enter submitted and ran the task work");
        let mut got: Vec<u64> = s.completions().map(|c| c.user_data()).collect();
        got.sort();
        assert_eq!(got, [1, 3]);
        // Nothing to submit: one enter all the same, which posts nothing.
        assert_eq!(s.submit_and_get_events().unwrap(), 0);
        assert_eq!(enters(), 3);
        assert_eq!(s.ready(), 0);
    });
    fault::reset();
}

/// Writes `bytes` to `fd`, returning what `write(2)` returned.
fn write_fd(fd: &std::os::fd::OwnedFd, bytes: &[u8]) -> isize {
    use std::os::fd::AsRawFd;
    // SAFETY: `bytes` is valid for its length for the call.
    unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) }
}
