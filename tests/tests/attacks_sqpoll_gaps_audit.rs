//! SQPOLL rings attacked where the existing suites stop short: what the
//! SQ thread can see of SQEs that were pushed and not submitted (every
//! call that is not a submit, on a thread that spins), a chain pushed
//! before another SQPOLL ring attaches to its ring and submitted after,
//! a plain ring attached to an SQPOLL ring (which shares no SQ thread),
//! the idle time of a shared SQ thread (the longest of its rings'), a
//! ring dropped or refused a resize while the ring that shares its SQ
//! thread submits from another thread, an SQPOLL scope that unwinds
//! with a read pushed and never submitted, a forgotten `SubmissionQueue`
//! batch (whose pushes its documentation says are never submitted), an
//! idle of zero (the kernel's one second), and SQPOLL with IOPOLL.
//!
//! Read against Linux 6.18: `io_uring/sqpoll.c` (`__io_sq_thread`, which
//! caps each ring at `IORING_SQPOLL_CAP_ENTRIES_VALUE` (8) SQEs per pass
//! once the thread serves more than one ring; `io_sqd_update_thread_idle`,
//! which gives the thread the longest idle of its rings;
//! `io_sq_thread_finish`; `io_attach_sq_data`, which refuses a ring
//! without an SQ thread), `io_uring/io_uring.c` (`io_submit_sqes` and
//! `io_submit_state_end`, which queues the part of a chain a batch ends
//! in as a chain of its own; `io_sqring_entries`, which reads the tail
//! user space stored), and `io_uring/register.c`
//! (`io_register_resize_rings`, which resizes only `DEFER_TASKRUN` rings).
//!
//! Every test is safe code against the running kernel and checks what the
//! kernel did: which completions came, once each, with which results, and
//! whether the SQ thread slept.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use uring::ops::{Nop, Read};
use uring::{Linked, PushErrorKind, Ring};

const CANARY: u8 = 0xa5;

/// An SQPOLL ring of `entries` entries whose thread sleeps after `idle`.
fn sqpoll(idle: Duration, entries: u32) -> Ring {
    Ring::builder().sqpoll(idle).build(entries).unwrap()
}

/// Waits (bounded) until the ring's SQ thread sleeps; whether it did.
fn sleeps_within(ring: &Ring, bound: Duration) -> bool {
    let end = Instant::now() + bound;
    while Instant::now() < end {
        if ring.sq_needs_wakeup() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    ring.sq_needs_wakeup()
}

/// Nine NOPs in one chain, the eighth failing with `EIO`: whole, the ninth
/// is cancelled; cut after the eighth SQE (a pass of a shared SQ thread
/// takes 8 SQEs of each ring), it runs alone and completes with 0.
fn nine_linked(base: u64) -> Linked<Nop> {
    let ops = (0..9u64)
        .map(|i| {
            let nop = Nop::new().user_data(base + i);
            if i == 7 { nop.result(-libc::EIO) } else { nop }
        })
        .collect();
    Linked::new(ops)
}

/// The results of the chain of [`nine_linked`], reaped from `ring`.
fn nine_results(ring: &mut Ring, base: u64) -> Vec<(u64, i32)> {
    let mut got = uring_tests::pairs(&uring_tests::wait_cqes(ring, 9));
    got.sort_unstable();
    assert!(
        got.iter().map(|p| p.0).eq(base..base + 9),
        "each NOP of the chain once: {got:?}"
    );
    got
}

fn whole_chain(base: u64) -> Vec<(u64, i32)> {
    (0..9u64)
        .map(|i| {
            let res = match i {
                7 => -libc::EIO,
                8 => -libc::ECANCELED,
                _ => 0,
            };
            (base + i, res)
        })
        .collect()
}

/// Pushes on an SQPOLL ring publish nothing: its thread, awake and
/// spinning, sees no SQE until a submit stores the tail, whatever else is
/// called on the ring meanwhile (counts, copies of the pending SQEs,
/// completion reads, waits that submit nothing, `get_events`). Then one
/// submit hands over all of them, once each.
#[test]
fn pushes_reach_a_spinning_sq_thread_only_at_a_submit() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_sqpoll() {
        return;
    }
    let mut ring = sqpoll(Duration::from_secs(5), 8);
    // Wake the thread and keep it spinning (5 s of idle).
    ring.push(Nop::new().user_data(100)).unwrap();
    assert_eq!(
        uring_tests::pairs(&uring_tests::wait_cqes(&mut ring, 1)),
        [(100, 0)]
    );
    for i in 0..5 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    let end = Instant::now() + Duration::from_millis(150);
    while Instant::now() < end {
        assert!(!ring.sq_needs_wakeup(), "the thread spins");
        assert_eq!(ring.pending(), 5);
        assert_eq!(ring.pending_sqes().len(), 5);
        assert_eq!(ring.space_left(), 3);
        assert_eq!(ring.ready(), 0, "no NOP ran");
        assert_eq!(ring.completions().count(), 0);
        assert!(ring.peek().is_none());
        ring.get_events().unwrap();
        match ring.wait_timeout(1, Duration::from_millis(5)) {
            Err(uring::Error::TimedOut) => {}
            other => panic!("a wait that submits nothing: {other:?}"),
        }
    }
    let uds: Vec<u64> = ring.pending_sqes().map(|sqe| sqe.user_data).collect();
    assert_eq!(uds, [0, 1, 2, 3, 4]);
    let n = ring.submit().unwrap();
    assert!(n <= 5, "{n}");
    let mut got = uring_tests::pairs(&uring_tests::wait_cqes(&mut ring, 5));
    got.sort_unstable();
    assert_eq!(got, (0..5).map(|i| (i, 0)).collect::<Vec<_>>());
    assert!(uring_tests::stray(&mut ring).is_empty());
    assert_eq!(ring.pending(), 0);
}

/// A chain of nine on an SQPOLL ring of its own runs whole (the eighth
/// NOP fails, the ninth is cancelled): the thread takes everything
/// published in one pass. A plain (not SQPOLL) ring attached to it shares
/// no SQ thread (`io_attach_sq_data` is not even reached), and leaves it
/// taking chains that still run whole.
#[test]
fn a_plain_ring_attached_to_an_sqpoll_ring_leaves_it_taking_whole_chains() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_sqpoll() || !uring_tests::require_kernel(6, 10, "NOP results") {
        return;
    }
    let mut owner = sqpoll(Duration::from_millis(200), 16);
    owner.push_linked(nine_linked(0)).unwrap();
    assert_eq!(nine_results(&mut owner, 0), whole_chain(0));
    let mut plain = Ring::builder().attach_wq(&owner).build(16).unwrap();
    assert_eq!(
        plain.attached_wq(),
        Some(std::os::fd::AsRawFd::as_raw_fd(&owner))
    );
    for round in 1..4u64 {
        let base = round * 100;
        owner.push_linked(nine_linked(base)).unwrap();
        assert_eq!(
            nine_results(&mut owner, base),
            whole_chain(base),
            "round {round}"
        );
        plain
            .push(Nop::new().link(Nop::new().user_data(base + 50)))
            .unwrap();
        let got = uring_tests::reap_sorted(&mut plain, 2);
        assert_eq!(got, [(0, 0), (base + 50, 0)]);
    }
    // An SQPOLL ring cannot attach to the plain one: it has no SQ thread.
    let e = Ring::builder()
        .sqpoll(Duration::from_millis(10))
        .attach_wq(&plain)
        .build(4)
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
    // And the owner still takes chains.
    owner.push_linked(nine_linked(900)).unwrap();
    assert_eq!(nine_results(&mut owner, 900), whole_chain(900));
}

/// A chain pushed on an SQPOLL ring, and not yet submitted, when another
/// SQPOLL ring attaches to it: submitted after the attach, a thread that
/// takes 8 SQEs of each ring per pass would cut it (the ninth NOP, cut
/// from the eighth that fails, run alone: 0 instead of `-ECANCELED`). So
/// the attach is refused (`InvalidArgument`) while the ring holds SQEs its
/// thread has not taken, pushed or submitted; once the chain ran whole,
/// the attach goes through, and the owner takes chains no more.
#[test]
fn a_chain_pushed_before_another_ring_attaches_runs_whole() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_sqpoll() || !uring_tests::require_kernel(6, 10, "NOP results") {
        return;
    }
    let mut owner = sqpoll(Duration::from_millis(200), 16);
    owner.push_linked(nine_linked(0)).unwrap();
    let refused = Ring::builder()
        .sqpoll(Duration::from_millis(200))
        .attach_wq(&owner)
        .build(16);
    assert!(
        matches!(refused, Err(uring::Error::InvalidArgument(_))),
        "an attach while a chain waits: {refused:?}"
    );
    // The chain, submitted on a thread of its own, runs whole.
    let got = nine_results(&mut owner, 0);
    assert_eq!(got, whole_chain(0), "the chain ran as it was pushed");
    assert_eq!(owner.pending(), 0);
    let attached = Ring::builder()
        .sqpoll(Duration::from_millis(200))
        .attach_wq(&owner)
        .build(16)
        .unwrap();
    // From now on the owner takes no chain.
    let e = owner.push_linked(nine_linked(50)).unwrap_err();
    assert_eq!(e.kind(), PushErrorKind::SharedSqThread);
    drop(attached);
}

/// The SQ thread shared by two rings sleeps after the longest idle of the
/// two (`io_sqd_update_thread_idle`), not after its owner's: an attached
/// ring with 10 s of idle keeps the owner's 10 ms thread awake, and once
/// that ring is dropped and freed by the kernel (later than the close
/// returns) it sleeps after the owner's 10 ms again. Nothing in
/// `Builder::sqpoll` or `attach_wq` says so.
#[test]
fn a_shared_sq_thread_sleeps_after_the_longest_idle_of_its_rings() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_sqpoll() {
        return;
    }
    let mut owner = sqpoll(Duration::from_millis(10), 8);
    owner.push(Nop::new().user_data(1)).unwrap();
    assert_eq!(
        uring_tests::pairs(&uring_tests::wait_cqes(&mut owner, 1)),
        [(1, 0)]
    );
    assert!(
        sleeps_within(&owner, Duration::from_secs(2)),
        "alone, the thread sleeps after 10 ms"
    );
    let mut lazy = Ring::builder()
        .sqpoll(Duration::from_secs(10))
        .attach_wq(&owner)
        .build(8)
        .unwrap();
    assert_eq!(
        uring_tests::sq_thread_info(&lazy).0,
        uring_tests::sq_thread_info(&owner).0,
        "one thread"
    );
    owner.push(Nop::new().user_data(2)).unwrap();
    assert_eq!(
        uring_tests::pairs(&uring_tests::wait_cqes(&mut owner, 1)),
        [(2, 0)]
    );
    lazy.push(Nop::new().user_data(3)).unwrap();
    assert_eq!(
        uring_tests::pairs(&uring_tests::wait_cqes(&mut lazy, 1)),
        [(3, 0)]
    );
    assert!(
        !sleeps_within(&owner, Duration::from_millis(400)),
        "the attached ring's 10 s keep the shared thread awake"
    );
    assert!(!lazy.sq_needs_wakeup());
    drop(lazy);
    // The kernel frees the dropped ring (and takes its idle out of the
    // thread's) in its own time, after the close: give the thread work
    // until it sleeps after a short idle again, for at most 10 s.
    let end = Instant::now() + Duration::from_secs(10);
    let mut ud = 4;
    loop {
        owner.push(Nop::new().user_data(ud)).unwrap();
        assert_eq!(
            uring_tests::pairs(&uring_tests::wait_cqes(&mut owner, 1)),
            [(ud, 0)]
        );
        if sleeps_within(&owner, Duration::from_millis(300)) {
            break;
        }
        assert!(
            Instant::now() < end,
            "the owner's 10 ms again once the attached ring is gone"
        );
        ud += 1;
    }
}

/// Two rings share an SQ thread; one submits 3000 NOPs from another
/// thread through an 8-entry SQ (waiting for room with
/// `wait_for_sq_space`) while the other is asked to resize (refused:
/// Linux 6.18 resizes only `DEFER_TASKRUN` rings, and the ring keeps
/// working) and then dropped, the owner of the thread first. Every NOP
/// completes once, and the thread lives on for the ring left.
#[test]
fn a_ring_dropped_while_the_ring_sharing_its_sq_thread_submits_loses_nothing() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_sqpoll() {
        return;
    }
    const N: u64 = 3000;
    for owner_goes in [true, false] {
        let first = sqpoll(Duration::from_millis(2), 8);
        let second = Ring::builder()
            .sqpoll(Duration::from_millis(2))
            .attach_wq(&first)
            .build(8)
            .unwrap();
        let (mut keep, mut other) = if owner_goes {
            (second, first)
        } else {
            (first, second)
        };
        let worker = std::thread::spawn(move || {
            let mut seen = vec![0u32; N as usize];
            let mut next = 0u64;
            let mut done = 0u64;
            while done < N {
                while next < N {
                    match keep.push(Nop::new().user_data(next)) {
                        Ok(()) => next += 1,
                        Err(e) if e.is_full() => break,
                        Err(e) => panic!("{e:?}"),
                    }
                }
                keep.submit().unwrap();
                if next < N {
                    keep.wait_for_sq_space().unwrap();
                }
                if done < next {
                    keep.wait_timeout(1, Duration::from_secs(5)).unwrap();
                }
                for cqe in keep.completions() {
                    assert_eq!(cqe.res(), 0);
                    seen[cqe.user_data() as usize] += 1;
                    done += 1;
                }
            }
            assert!(uring_tests::stray(&mut keep).is_empty());
            (seen, keep)
        });
        std::thread::sleep(Duration::from_millis(5));
        let e = other.resize(16, 32).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
        other.push(Nop::new().user_data(7)).unwrap();
        assert_eq!(
            uring_tests::pairs(&uring_tests::wait_cqes(&mut other, 1)),
            [(7, 0)]
        );
        drop(other);
        let (seen, mut keep) = worker.join().unwrap();
        assert!(
            seen.iter().all(|&n| n == 1),
            "owner dropped: {owner_goes}: each NOP once"
        );
        // The thread still serves the ring left, asleep or awake.
        keep.push(Nop::new().user_data(N)).unwrap();
        assert_eq!(
            uring_tests::pairs(&uring_tests::wait_cqes(&mut keep, 1)),
            [(N, 0)]
        );
        assert!(uring_tests::sq_thread_info(&keep).0 > 0);
    }
}

/// A scope of an SQPOLL ring whose closure panics after pushing a read of
/// an empty pipe it never submitted: the scope hands the read to the SQ
/// thread at its end (it cannot take back what the thread may be reading)
/// and cancels it, so the panic comes out only once the read is over. The
/// bytes written to the pipe after it stay in the pipe, and the buffer
/// keeps its canary. The same with an early `Err` return, and with a
/// thread asleep (1 ms idle) when the scope ends.
#[test]
fn an_sqpoll_scope_that_unwinds_with_an_unsubmitted_read_cancels_it() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_sqpoll() {
        return;
    }
    for (idle, panics) in [(1, true), (1, false), (5000, true), (5000, false)] {
        let what = format!("idle {idle} ms, panics: {panics}");
        let mut ring = sqpoll(Duration::from_millis(idle), 8);
        let (rx, tx) = uring_tests::pipe();
        let mut buf = [CANARY; 16];
        if idle == 1 {
            std::thread::sleep(Duration::from_millis(50));
            assert!(ring.sq_needs_wakeup(), "{what}: asleep");
        }
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ring.scope(|s| -> Result<(), &'static str> {
                s.push(Read::new(rx.as_fd(), &mut buf[..]).user_data(1))
                    .unwrap();
                assert_eq!(s.in_flight(), 1);
                if panics {
                    panic!("unwinding with the read pushed");
                }
                Err("returning with the read pushed")
            })
        }));
        match (panics, outcome) {
            (true, Err(_)) | (false, Ok(Err(_))) => {}
            (_, other) => panic!("{what}: {:?}", other.map(|r| r.is_ok())),
        }
        assert_eq!(ring.pending(), 0, "{what}: nothing left in the SQ");
        assert!(uring_tests::stray(&mut ring).is_empty(), "{what}");
        pipe_write(&tx, b"after");
        std::thread::sleep(Duration::from_millis(20));
        assert!(buf.iter().all(|&b| b == CANARY), "{what}: {buf:?}");
        let mut left = [0u8; 8];
        let n = pipe_read(&rx, &mut left);
        assert_eq!(&left[..n], b"after", "{what}: the read took nothing");
        // The ring still runs ops.
        ring.push(Nop::new().user_data(9)).unwrap();
        assert_eq!(
            uring_tests::pairs(&uring_tests::wait_cqes(&mut ring, 1)),
            [(9, 0)]
        );
    }
}

fn pipe_write(fd: &std::os::fd::OwnedFd, bytes: &[u8]) {
    use std::io::Write as _;
    let mut file = std::fs::File::from(fd.try_clone().unwrap());
    file.write_all(bytes).unwrap();
}

fn pipe_read(fd: &std::os::fd::OwnedFd, buf: &mut [u8]) -> usize {
    use std::io::Read as _;
    let mut file = std::fs::File::from(fd.try_clone().unwrap());
    file.read(buf).unwrap()
}

/// `SubmissionQueue`'s documentation: a batch given to `mem::forget`
/// loses the pushes made since it last handed its cursor to the ring (a
/// `push_linked`, a `space_left`, a push that starts the array's next
/// lap); those before are the ring's, and the next submit hands them over.
/// On an SQPOLL ring, a batch pushes NOP 1, then does one of those (a
/// chain of NOP 2; `space_left`; NOP 2 in the last slot and NOP 3 in the
/// first), then pushes NOP 4 and is forgotten: the kernel gets exactly
/// the pushes before the hand-over, once, and nothing after.
#[test]
fn a_forgotten_batch_submits_the_pushes_it_handed_over_and_no_other() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_sqpoll() {
        return;
    }
    for (how, handed) in [
        ("push_linked", vec![(1, 0), (2, 0)]),
        ("space_left", vec![(1, 0)]),
        ("new lap", vec![(1, 0), (2, 0)]),
    ] {
        let mut ring = sqpoll(Duration::from_millis(50), 8);
        if how == "new lap" {
            for i in 0..6 {
                ring.push(Nop::new().user_data(100 + i)).unwrap();
            }
            assert_eq!(uring_tests::reap_sorted(&mut ring, 6).len(), 6);
        }
        let mut batch = ring.submission();
        batch.push(Nop::new().user_data(1)).unwrap();
        match how {
            "push_linked" => batch
                .push_linked(Linked::new(vec![Nop::new().user_data(2)]))
                .unwrap(),
            "space_left" => assert_eq!(batch.space_left(), 7),
            _ => {
                batch.push(Nop::new().user_data(2)).unwrap();
                batch.push(Nop::new().user_data(3)).unwrap();
            }
        }
        batch.push(Nop::new().user_data(4)).unwrap();
        std::mem::forget(batch);
        assert_eq!(ring.pending() as usize, handed.len(), "{how}");
        ring.submit().unwrap();
        let got = uring_tests::reap_sorted(&mut ring, handed.len());
        assert_eq!(got, handed, "{how}");
        std::thread::sleep(Duration::from_millis(20));
        assert!(uring_tests::stray(&mut ring).is_empty(), "{how}");
    }
}

/// `sqpoll(Duration::ZERO)` asks for the kernel's default idle, one
/// second (`ctx->sq_thread_idle = HZ` when 0 ms were asked): the thread
/// is still awake half a second after its last work, and asleep a little
/// after the second. Then a submit wakes it, and it takes what was pushed
/// meanwhile once.
#[test]
fn an_idle_of_zero_sleeps_after_one_second() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_sqpoll() {
        return;
    }
    let mut ring = sqpoll(Duration::ZERO, 4);
    assert_eq!(ring.params().sq_thread_idle(), 0);
    ring.push(Nop::new().user_data(1)).unwrap();
    assert_eq!(
        uring_tests::pairs(&uring_tests::wait_cqes(&mut ring, 1)),
        [(1, 0)]
    );
    let done = Instant::now();
    assert!(
        !sleeps_within(&ring, Duration::from_millis(500)),
        "awake half a second after its work"
    );
    assert!(
        sleeps_within(&ring, Duration::from_secs(3)),
        "asleep after 1 s"
    );
    assert!(
        done.elapsed() >= Duration::from_millis(900),
        "{:?}",
        done.elapsed()
    );
    ring.push(Nop::new().user_data(2)).unwrap();
    ring.push(Nop::new().user_data(3)).unwrap();
    assert_eq!(uring_tests::reap_sorted(&mut ring, 2), [(2, 0), (3, 0)]);
    assert!(uring_tests::stray(&mut ring).is_empty());
}

/// An SQPOLL ring with IOPOLL: the SQ thread submits and also reaps the
/// polled completions, so NOPs and a chain whose head fails complete with
/// only the waits entering the kernel; and `defer_taskrun` with `sqpoll`
/// is refused before the kernel is asked, as the builder says.
#[test]
fn sqpoll_with_iopoll_runs_chains_and_defer_taskrun_is_refused() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_sqpoll() || !uring_tests::require_kernel(6, 10, "NOP results") {
        return;
    }
    match Ring::builder()
        .sqpoll(Duration::from_millis(10))
        .single_issuer()
        .defer_taskrun()
        .build(4)
    {
        Err(uring::Error::Setup(_)) => {}
        other => panic!("sqpoll with defer_taskrun: {other:?}"),
    }
    let mut ring = Ring::builder()
        .sqpoll(Duration::from_millis(100))
        .iopoll()
        .build(16)
        .unwrap();
    ring.push_linked(nine_linked(0)).unwrap();
    assert_eq!(nine_results(&mut ring, 0), whole_chain(0));
    for i in 10..14 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    assert_eq!(
        uring_tests::reap_sorted(&mut ring, 4),
        (10..14).map(|i| (i, 0)).collect::<Vec<_>>()
    );
    assert!(uring_tests::stray(&mut ring).is_empty());
}
