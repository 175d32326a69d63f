//! Completions against the kernel: what `Cqe` reads out of the results and
//! flags the kernel posts, how `submit` flushes completions the kernel held
//! back, and the copy of a full CQ that a scope reads first (its growth,
//! its wrap, waits across it, and the return to the kernel's CQ).

use std::io::Write as _;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use uring::ops::{Nop, PollAdd, Read};
use uring::{Cqe, Features, PollEvents, PollFlags, Ring};
use uring_tests::{require_features, require_kernel};

/// Pushes `n` NOPs with `user_data` from `first` on, outside any scope, and
/// waits until all have completed (their completions stay unread; those
/// past the CQ's size go to the kernel's overflow list).
fn complete_nops(ring: &mut Ring, first: u64, n: u64) {
    for i in 0..n {
        if ring.push(Nop::new().user_data(first + i)).is_err() {
            ring.submit().unwrap();
            ring.push(Nop::new().user_data(first + i)).unwrap();
        }
    }
    ring.submit().unwrap();
}

/// A NOP completes with whatever result it is given: every negative value
/// from -4095 to -1 reads as that errno, anything else as data.
#[test]
fn results_read_as_the_errno_or_the_value_the_kernel_posted() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 10, "NOP with an injected result") {
        return;
    }
    let mut ring = Ring::new(16).unwrap();
    let results = [
        0,
        7,
        i32::MAX,
        -1,
        -libc::EBADF,
        -libc::ECANCELED,
        -4095,
        -4096,
        i32::MIN,
    ];
    for (i, &res) in results.iter().enumerate() {
        ring.push(Nop::new().result(res).user_data(i as u64))
            .unwrap();
    }
    let cqes = uring_tests::submit_and_reap(&mut ring, results.len());
    let got: Vec<(u64, i32)> = cqes.iter().map(|c| (c.user_data(), c.res())).collect();
    let want: Vec<(u64, i32)> = results
        .iter()
        .enumerate()
        .map(|(i, &r)| (i as u64, r))
        .collect();
    assert_eq!(got, want, "the NOPs complete in order, with their results");
    let read: Vec<Result<u32, Option<i32>>> = cqes
        .iter()
        .map(|c| c.result().map_err(|e| e.raw_os_error()))
        .collect();
    assert_eq!(
        read,
        [
            Ok(0),
            Ok(7),
            Ok(i32::MAX as u32),
            Err(Some(1)),
            Err(Some(libc::EBADF)),
            Err(Some(libc::ECANCELED)),
            Err(Some(4095)),
            Ok(-4096i32 as u32),
            Ok(i32::MIN as u32),
        ]
    );
}

/// The flags of a plain completion say nothing: no buffer, no more to come,
/// no notification.
#[test]
fn a_plain_completion_carries_no_flag() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    ring.push(Nop::new().user_data(1)).unwrap();
    let cqe = uring_tests::reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res(), cqe.flags()), (1, 0, 0));
    assert_eq!(cqe.buffer_id(), None);
    assert!(!cqe.has_more());
    assert!(!cqe.sock_nonempty());
    assert!(!cqe.is_notification());
    assert!(!cqe.zc_copied());
}

/// Each accessor reads its own bit of the flags, and the buffer id from the
/// upper 16 bits.
#[test]
fn each_flag_reads_its_own_bit() {
    use uring::sys;
    let cqe = |res: i32, flags: u32| {
        Cqe::from(sys::io_uring_cqe {
            user_data: 9,
            res,
            flags,
        })
    };
    let buffer = cqe(
        5,
        sys::IORING_CQE_F_BUFFER | (0xbeef << sys::IORING_CQE_BUFFER_SHIFT),
    );
    assert_eq!(buffer.buffer_id(), Some(0xbeef));
    assert!(!buffer.has_more() && !buffer.sock_nonempty() && !buffer.is_notification());
    // An id in the upper bits without the flag is no buffer.
    assert_eq!(cqe(5, 3 << sys::IORING_CQE_BUFFER_SHIFT).buffer_id(), None);
    let more = cqe(1, sys::IORING_CQE_F_MORE);
    assert!(more.has_more());
    assert_eq!(more.buffer_id(), None);
    assert!(!more.sock_nonempty() && !more.is_notification());
    let nonempty = cqe(1, sys::IORING_CQE_F_SOCK_NONEMPTY);
    assert!(nonempty.sock_nonempty());
    assert!(!nonempty.has_more() && !nonempty.is_notification());
    let notif = cqe(0, sys::IORING_CQE_F_NOTIF);
    assert!(notif.is_notification());
    assert!(!notif.zc_copied(), "no usage bit: the data was not copied");
    assert!(!notif.has_more() && !notif.sock_nonempty());
    let copied = cqe(
        sys::IORING_NOTIF_USAGE_ZC_COPIED as i32,
        sys::IORING_CQE_F_NOTIF,
    );
    assert!(copied.zc_copied());
    // The same bit in a send's result is a byte count, not usage.
    let sent = cqe(sys::IORING_NOTIF_USAGE_ZC_COPIED as i32, 0);
    assert!(!sent.zc_copied());
    assert_eq!(
        format!("{copied:?}"),
        format!(
            "Cqe {{ user_data: 9, res: {}, flags: {:#x} }}",
            sys::IORING_NOTIF_USAGE_ZC_COPIED as i32,
            sys::IORING_CQE_F_NOTIF
        )
    );
}

/// A multishot poll's completions say that more follow, until the one that
/// ends it.
#[test]
fn a_multishot_poll_says_more_follow_until_it_ends() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(5, 13, "multishot polls") {
        return;
    }
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let mut ring = Ring::new(8).unwrap();
    let cqes: Vec<Cqe> = ring.scope(|s| {
        s.push(
            PollAdd::new(&rx, PollEvents::IN)
                .poll_flags(PollFlags::MULTI)
                .user_data(3),
        )
        .unwrap();
        s.submit().unwrap();
        tx.write_all(b"x").unwrap();
        s.wait_timeout(1, uring_tests::PATIENCE).unwrap();
        let mut cqes: Vec<Cqe> = s.completions().collect();
        assert_eq!(s.cancel(3).unwrap(), 1);
        s.submit().unwrap();
        while s.in_flight() > 0 {
            s.wait_timeout(1, uring_tests::PATIENCE).unwrap();
            cqes.extend(s.completions().map(|c| c.cqe()));
        }
        cqes
    });
    assert!(cqes.len() >= 2, "{cqes:?}");
    let (last, armed) = cqes.split_last().unwrap();
    for cqe in armed {
        assert_eq!(cqe.user_data(), 3);
        assert!(cqe.res() > 0 && cqe.has_more(), "{cqe:?}");
    }
    assert_eq!((last.user_data(), last.res()), (3, -libc::ECANCELED));
    assert!(!last.has_more());
}

/// Fills the CQ of a ring of 4 (CQ 8) and puts 4 more completions in the
/// kernel's overflow list.
fn overflowed() -> Option<Ring> {
    let mut ring = Ring::new(4).unwrap();
    if !require_features(&ring, Features::NODROP, "the CQ overflow list") {
        return None;
    }
    complete_nops(&mut ring, 0, 12);
    assert_eq!(ring.ready(), 8);
    Some(ring)
}

/// With nothing to submit, `submit` still enters the kernel when it holds
/// completions back, and they reach the CQ.
#[test]
fn submit_flushes_completions_held_in_the_overflow_list() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = overflowed() else {
        return;
    };
    assert_eq!(ring.advance(8), 8);
    assert_eq!(ring.ready(), 0);
    assert_eq!(ring.submit().unwrap(), 0, "nothing was pushed");
    assert_eq!(ring.ready(), 4, "the overflowed completions were flushed");
    let rest: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(rest, [8, 9, 10, 11]);
    // Nothing left anywhere: submit does nothing, and says so.
    assert_eq!(ring.submit().unwrap(), 0);
    assert_eq!(ring.ready(), 0);
}

/// The overflow flag says the kernel holds completions back; `get_events`
/// moves them into the CQ once it has room, submitting nothing.
#[test]
fn get_events_flushes_the_overflow_list_the_flag_announces() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = overflowed() else {
        return;
    };
    assert!(
        ring.cq_has_overflow(),
        "four completions wait in the kernel"
    );
    assert_eq!(ring.advance(8), 8);
    assert!(
        ring.cq_has_overflow(),
        "reading the CQ alone flushes nothing"
    );
    ring.get_events().unwrap();
    assert!(!ring.cq_has_overflow());
    assert_eq!(ring.ready(), 4);
    let rest: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(rest, [8, 9, 10, 11]);
}

/// A `defer_taskrun` ring posts a completion that arrived as task work
/// only at an enter that asks for completions: `get_events` is that enter.
/// With `taskrun_flag` the kernel says such work waits, and reading the
/// completions runs it.
#[test]
fn get_events_runs_deferred_task_work() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 1, "IORING_SETUP_DEFER_TASKRUN") {
        return;
    }
    for flagged in [false, true] {
        let mut builder = Ring::builder().single_issuer().defer_taskrun();
        if flagged {
            builder = builder.taskrun_flag();
        }
        let mut ring = builder.build(4).unwrap();
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut buf = [0u8; 8];
        // SAFETY: `buf` and `a` outlive the read, whose completion is read
        // below before either goes.
        unsafe { ring.push_unchecked(Read::new(&a, &mut buf[..]).user_data(7)) }.unwrap();
        assert_eq!(ring.submit().unwrap(), 1);
        b.write_all(b"hi").unwrap();
        // The data is there; the read's completion waits as task work of
        // this thread.
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(ring.ready(), 0, "posted without an enter (flag {flagged})");
        assert_eq!(ring.has_task_work(), flagged);
        if flagged {
            // The flag tells the completion iterator to enter first.
            let got: Vec<(u64, i32)> = ring
                .completions()
                .map(|c| (c.user_data(), c.res()))
                .collect();
            assert_eq!(got, [(7, 2)]);
        } else {
            // Nothing tells the iterator: it finds none until asked.
            assert_eq!(ring.completions().count(), 0);
            ring.get_events().unwrap();
            assert_eq!(ring.ready(), 1);
            let cqe = ring.completions().next().unwrap();
            assert_eq!((cqe.user_data(), cqe.res()), (7, 2));
        }
        assert!(!ring.has_task_work());
        assert_eq!(&buf[..2], b"hi");
    }
}

/// A submit with SQEs while completions wait in the overflow list submits
/// them and flushes the list.
#[test]
fn submit_with_sqes_flushes_too() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = overflowed() else {
        return;
    };
    assert_eq!(ring.advance(8), 8);
    ring.push(Nop::new().user_data(20)).unwrap();
    ring.push(Nop::new().user_data(21)).unwrap();
    assert_eq!(ring.submit().unwrap(), 2);
    let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(got, [8, 9, 10, 11, 20, 21]);
}

/// A scope ends on a CQ full of eight foreign completions while its read
/// waits in the overflow list: the scope copies them out of the CQ.
/// Returns the ring, its copy holding those eight (user_data 100..108).
fn ring_reading_a_copy(buf: &mut [u8; 1]) -> Option<Ring> {
    let mut ring = Ring::new(4).unwrap();
    assert_eq!(ring.cq_entries(), 8);
    if !require_features(&ring, Features::NODROP, "the CQ overflow list") {
        return None;
    }
    complete_nops(&mut ring, 100, 8);
    assert_eq!(ring.ready(), 8);
    let (rx, mut tx) = UnixStream::pair().unwrap();
    tx.write_all(b"r").unwrap();
    ring.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
        s.submit().unwrap();
    });
    assert_eq!(buf, b"r", "the scope's read ran");
    assert_eq!(ring.ready(), 8);
    Some(ring)
}

/// More completions than the copy has room for join it behind the copied
/// ones: it grows, and everything comes out once, in order.
#[test]
fn the_copy_grows_to_take_what_the_kernel_posts_behind_it() {
    let _watch = uring_tests::watchdog();
    let mut buf = [0u8; 1];
    let Some(mut ring) = ring_reading_a_copy(&mut buf) else {
        return;
    };
    // Eight copied, and eight more posted: sixteen, past the copy's eight.
    complete_nops(&mut ring, 200, 4);
    ring.wait(12).unwrap();
    assert_eq!(
        ring.ready(),
        12,
        "the wait moved the new ones behind the copy"
    );
    complete_nops(&mut ring, 300, 4);
    ring.submit_and_wait(16).unwrap();
    assert_eq!(ring.ready(), 16);
    let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    let want: Vec<u64> = (100..108).chain(200..204).chain(300..304).collect();
    assert_eq!(got, want);
    assert_eq!(ring.ready(), 0);
    // Back on the kernel's CQ.
    ring.push(Nop::new().user_data(400)).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(
        ring.completions()
            .map(|c| c.user_data())
            .collect::<Vec<_>>(),
        [400]
    );
}

/// Reads and new completions take turns, so that the copy's positions wrap
/// around its buffer several times without it growing.
#[test]
fn the_copy_wraps_around_its_buffer() {
    let _watch = uring_tests::watchdog();
    let mut buf = [0u8; 1];
    let Some(mut ring) = ring_reading_a_copy(&mut buf) else {
        return;
    };
    let mut expected: std::collections::VecDeque<u64> = (100..108).collect();
    let mut next = 1000;
    for round in 0..6 {
        // Read three, then three more arrive behind the five left.
        let three: Vec<u64> = ring.completions().take(3).map(|c| c.user_data()).collect();
        let want: Vec<u64> = expected.drain(..3).collect();
        assert_eq!(three, want, "round {round}");
        complete_nops(&mut ring, next, 3);
        expected.extend(next..next + 3);
        next += 3;
        ring.wait(8).unwrap();
        assert_eq!(ring.ready(), 8, "round {round}");
        let mut peeked = [Cqe::default(); 8];
        assert_eq!(ring.peek_batch(&mut peeked), 8);
        let peeked: Vec<u64> = peeked.iter().map(|c| c.user_data()).collect();
        assert_eq!(peeked, Vec::from(expected.clone()), "round {round}");
    }
    let rest: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(rest, Vec::from(expected));
}

/// A wait for more than the copy holds waits on the kernel's CQ for the
/// rest, and counts the copy; one for less returns at once, and submits.
#[test]
fn waits_on_a_copy_count_it_and_wait_for_the_rest() {
    let _watch = uring_tests::watchdog();
    let mut buf = [0u8; 1];
    let Some(mut ring) = ring_reading_a_copy(&mut buf) else {
        return;
    };
    // Already there: a wait with a timeout is satisfied at once.
    ring.wait_timeout(8, Duration::from_secs(5)).unwrap();
    // Two more than the copy holds, never posted: the wait times out.
    let started = std::time::Instant::now();
    let timed_out = ring.wait_timeout(10, Duration::from_millis(20));
    assert!(
        matches!(timed_out, Err(uring::Error::TimedOut)),
        "{timed_out:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(20));
    // Pushed and submitted by a wait that the copy alone satisfies.
    ring.push(Nop::new().user_data(500)).unwrap();
    assert_eq!(ring.submit_and_wait(3).unwrap(), 1);
    // Then a wait for the copy and the new one.
    ring.push(Nop::new().user_data(501)).unwrap();
    assert_eq!(ring.submit_and_wait(10).unwrap(), 1);
    assert_eq!(ring.ready(), 10);
    let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    let want: Vec<u64> = (100..108).chain([500, 501]).collect();
    assert_eq!(got, want);
    // A timed wait whose completions arrive within the time.
    ring.push(Nop::new().user_data(502)).unwrap();
    assert_eq!(
        ring.submit_and_wait_timeout(1, Duration::from_secs(5))
            .unwrap(),
        1
    );
    assert_eq!(
        ring.completions()
            .map(|c| c.user_data())
            .collect::<Vec<_>>(),
        [502]
    );
}

/// Completions that join the copy one at a time until it is full, and one
/// more: the copy grows by one; then more after a partial read, from a
/// moved head. Each time it keeps its order.
#[test]
fn the_copy_grows_by_one_and_from_a_moved_head() {
    let _watch = uring_tests::watchdog();
    let mut buf = [0u8; 1];
    let Some(mut ring) = ring_reading_a_copy(&mut buf) else {
        return;
    };
    // Eight copied; then one at a time, each moved behind the copy by its
    // own wait, up to seventeen: past a copy of sixteen by one.
    let mut expected: Vec<u64> = (100..108).collect();
    for i in 0..9u64 {
        complete_nops(&mut ring, 200 + i, 1);
        ring.wait(9 + i as u32).unwrap();
        expected.push(200 + i);
    }
    assert_eq!(ring.ready(), 17);
    let mut peeked = [Cqe::default(); 17];
    assert_eq!(ring.peek_batch(&mut peeked), 17);
    let peeked: Vec<u64> = peeked.iter().map(|c| c.user_data()).collect();
    assert_eq!(peeked, expected);
    // Read three: the copy's head moves; then twelve more come behind the
    // fourteen left, past the copy's room.
    let three: Vec<u64> = ring.completions().take(3).map(|c| c.user_data()).collect();
    assert_eq!(three, expected.drain(..3).collect::<Vec<_>>());
    for base in [300, 400, 500] {
        complete_nops(&mut ring, base, 4);
        expected.extend(base..base + 4);
        ring.wait(expected.len() as u32).unwrap();
    }
    assert_eq!(ring.ready(), 26);
    let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(got, expected);
}

/// Once the copy is read to its end, completions come from the kernel's CQ
/// again, without a wait: a submit's NOP is there to read at once.
#[test]
fn a_drained_copy_hands_back_to_the_kernel_cq() {
    let _watch = uring_tests::watchdog();
    let mut buf = [0u8; 1];
    let Some(mut ring) = ring_reading_a_copy(&mut buf) else {
        return;
    };
    let copied: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(copied, (100..108).collect::<Vec<_>>());
    for i in 0..12 {
        ring.push(Nop::new().user_data(600 + i)).unwrap();
        assert_eq!(ring.submit().unwrap(), 1);
        assert_eq!(ring.peek().map(|c| c.user_data()), Some(600 + i));
        assert_eq!(ring.ready(), 1);
        let mut it = ring.completions();
        assert_eq!(format!("{it:?}"), "Completions { slots: 1 }");
        let cqe = it.next().unwrap();
        assert_eq!(format!("{it:?}"), "Completions { slots: 0 }");
        assert_eq!(cqe.as_raw().user_data, 600 + i);
        assert_eq!(AsRef::<Cqe>::as_ref(&cqe).user_data(), 600 + i);
    }
    assert_eq!(ring.ready(), 0);
}

/// A wait for more than the copy holds waits for the difference on the
/// kernel's CQ, however the completions trickle in.
#[test]
fn a_wait_beyond_the_copy_waits_for_all_of_the_rest() {
    let _watch = uring_tests::watchdog();
    let mut buf = [0u8; 1];
    let Some(mut ring) = ring_reading_a_copy(&mut buf) else {
        return;
    };
    // Four timeouts that fire 5 ms apart; the wait needs all four.
    for i in 0..4u64 {
        ring.push(uring::ops::Timeout::new(Duration::from_millis(5 * (i + 1))).user_data(700 + i))
            .unwrap();
    }
    assert_eq!(ring.submit_and_wait(12).unwrap(), 4);
    assert_eq!(ring.ready(), 12);
    let got: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    let want: Vec<(u64, i32)> = (100..108)
        .map(|u| (u, 0))
        .chain((700..704).map(|u| (u, -libc::ETIME)))
        .collect();
    assert_eq!(got, want);
}

/// Completes `n` NOPs with `user_data` from `first` on, in as many submits
/// as the SQ needs, leaving their completions unread.
fn complete_nops_in_rounds(ring: &mut Ring, first: u64, n: u64) {
    let sq = u64::from(ring.params().sq_entries());
    let mut at = first;
    while at < first + n {
        let round = sq.min(first + n - at);
        complete_nops(ring, at, round);
        at += round;
    }
    assert_eq!(u64::from(ring.ready()), n, "the NOPs did not all complete");
}

/// Moves the CQ's head `by` slots on, reading what it passes with a `for`
/// loop.
fn move_head(ring: &mut Ring, by: u64) {
    complete_nops_in_rounds(ring, 1_000_000, by);
    assert_eq!(ring.completions().count() as u64, by);
}

/// `for_each` and `fold` read a batch by runs of slots up to the array's
/// end: every completion comes once, in order, wherever the head stands and
/// however many there are, and the head moves past all of them.
#[test]
fn fold_reads_each_completion_once_in_order_wherever_the_head_stands() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let cq = u64::from(ring.cq_entries());
    for offset in 0..cq {
        for n in 1..=cq {
            move_head(&mut ring, offset);
            complete_nops_in_rounds(&mut ring, 10 * n, n);
            let mut got = Vec::new();
            ring.completions().for_each(|c| got.push(c.user_data()));
            let want: Vec<u64> = (10 * n..11 * n).collect();
            assert_eq!(got, want, "head moved by {offset}, {n} completions");
            assert_eq!(ring.ready(), 0, "the head did not move past the batch");
            assert!(ring.completions().next().is_none());
            // `fold` (under `sum`) reads the same way.
            complete_nops_in_rounds(&mut ring, 0, n);
            let sum: u64 = ring.completions().map(|c| c.user_data()).sum();
            assert_eq!(sum, n * (n - 1) / 2, "head moved by {offset}, {n} summed");
            assert_eq!(ring.ready(), 0);
        }
    }
}

/// What a closure that unwinds out of `for_each` was given counts as read,
/// and nothing else: the next reader starts right after it, in the first
/// run of slots or in the one after the wrap.
#[test]
fn a_panic_in_for_each_leaves_unread_exactly_what_it_was_not_given() {
    struct Stop;
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let cq = u64::from(ring.cq_entries());
    for offset in [0, 3, cq - 2, cq - 1] {
        for n in [1, 2, 5, cq] {
            for stop in [0, n / 2, n - 1] {
                move_head(&mut ring, offset);
                complete_nops_in_rounds(&mut ring, 0, n);
                let mut given = Vec::new();
                let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    ring.completions().for_each(|c| {
                        given.push(c.user_data());
                        if c.user_data() == stop {
                            // Unwinds without the panic hook's message.
                            std::panic::resume_unwind(Box::new(Stop));
                        }
                    })
                }));
                assert!(unwound.is_err());
                assert_eq!(given, (0..=stop).collect::<Vec<_>>());
                let rest: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
                assert_eq!(
                    rest,
                    (stop + 1..n).collect::<Vec<_>>(),
                    "head moved by {offset}, {n} completions, stopped at {stop}"
                );
            }
        }
    }
}
