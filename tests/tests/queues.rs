//! The submission and completion queues against the kernel: sizes, a full
//! SQ handing ops back, a full CQ keeping completions, reading completions
//! in part (`ready`, `advance`, `peek`, `peek_batch`), and chains.

use uring::ops::{Cancel, Nop};
use uring::{Cqe, Features, PushErrorKind, Ring};
use uring_tests::{assert_user_data_once, by_user_data, require_features, submit_and_reap};

/// A ring of every size from 1 to 32768 takes exactly `sq_entries` NOPs;
/// the next push hands the NOP back, and that NOP still works.
#[test]
fn every_ring_size_takes_exactly_sq_entries_then_hands_the_op_back() {
    let _watch = uring_tests::watchdog();
    for shift in 0..=15 {
        let entries = 1u32 << shift;
        let mut ring = Ring::new(entries).unwrap_or_else(|e| panic!("Ring::new({entries}): {e}"));
        let sq = ring.params().sq_entries();
        assert_eq!(sq, entries, "a power of two is not rounded");
        assert_eq!(ring.sq_entries(), sq);
        assert_eq!(ring.params().cq_entries(), 2 * sq, "default CQ size");
        assert_eq!(ring.space_left(), sq);

        for i in 0..u64::from(sq) {
            if let Err(e) = ring.push(Nop::new().user_data(i)) {
                assert_eq!(e.kind(), PushErrorKind::QueueFull);
                panic!("ring of {sq}: push {i} found the queue full");
            }
        }
        assert_eq!(ring.space_left(), 0, "ring of {sq}");
        assert_eq!(ring.pending(), sq, "ring of {sq}");

        let extra = u64::from(sq) + 1000;
        let Err(back) = ring
            .push(Nop::new().user_data(extra))
            .map_err(|e| e.into_inner())
        else {
            panic!(
                "ring of {sq}: push {} beyond sq_entries was accepted",
                sq + 1
            );
        };

        let submitted = ring.submit().expect("submit");
        assert_eq!(submitted, sq, "ring of {sq}: SQEs the kernel consumed");
        assert_eq!(ring.pending(), 0);
        // The NOPs completed inline; the CQ (twice the SQ) holds them all.
        let first = submit_and_reap(&mut ring, sq as usize);
        assert_user_data_once(&first, 0..u64::from(sq));
        assert!(
            first.iter().all(|c| c.res() == 0),
            "ring of {sq}: {first:?}"
        );

        // The op handed back is the same op: pushed now, its user_data
        // comes back.
        if ring.push(back).is_err() {
            panic!("ring of {sq}: the handed-back op does not fit an empty queue");
        }
        let second = submit_and_reap(&mut ring, 1);
        assert_eq!(second[0].user_data(), extra);
        assert_eq!(second[0].res(), 0);
        assert_eq!(ring.ready(), 0);
    }
}

/// 12 NOPs on a CQ of 8 without reaping in between: with FEAT_NODROP the 4
/// that did not fit wait in the kernel and arrive once there is room.
#[test]
fn a_full_cq_loses_no_completion() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    if !require_features(&ring, Features::NODROP, "keeping completions of a full CQ") {
        return;
    }
    assert_eq!(ring.params().cq_entries(), 8);
    for round in 0..3u64 {
        for i in 0..4 {
            ring.push(Nop::new().user_data(round * 4 + i))
                .unwrap_or_else(|_| panic!("round {round}: push {i}: queue full"));
        }
        let submitted = ring.submit().expect("submit");
        assert_eq!(submitted, 4, "round {round}");
    }
    assert_eq!(ring.ready(), 8, "the CQ is full");

    let mut all: Vec<Cqe> = Vec::new();
    // Bounded: each pass either reads something or the test fails below.
    for _ in 0..4 {
        let batch: Vec<Cqe> = ring.completions().collect();
        if batch.is_empty() {
            break;
        }
        all.extend(batch);
    }
    assert_eq!(all.len(), 12, "completions delivered: {all:?}");
    assert_user_data_once(&all, 0..12);
    assert!(all.iter().all(|c| c.res() == 0), "{all:?}");
    assert_eq!(ring.overflow(), 0, "no completion was dropped");
    assert_eq!(ring.ready(), 0);
}

/// `advance` moves the head over part of what is ready, and never past it.
#[test]
fn ready_counts_what_advance_leaves() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    for i in 0..8 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    ring.submit_and_wait(8).unwrap();
    assert_eq!(ring.ready(), 8);
    let mut all = [Cqe::default(); 8];
    assert_eq!(ring.peek_batch(&mut all), 8);
    assert_eq!(ring.advance(3), 3);
    assert_eq!(ring.ready(), 5);
    // What is left starts at the fourth completion delivered.
    let rest: Vec<Cqe> = ring.completions().collect();
    assert_eq!(rest[..], all[3..]);
    assert_eq!(ring.ready(), 0);

    for i in 0..8 {
        ring.push(Nop::new().user_data(100 + i)).unwrap();
    }
    ring.submit_and_wait(8).unwrap();
    assert_eq!(ring.advance(3), 3);
    assert_eq!(ring.advance(100), 5, "advance stops at what is ready");
    assert_eq!(ring.ready(), 0);
    assert_eq!(ring.advance(1), 0);
    assert_eq!(ring.completions().count(), 0);
}

/// `peek_batch` copies without consuming, as many as fit; `peek` does not
/// consume either.
#[test]
fn peek_and_peek_batch_leave_completions_in_the_queue() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    assert_eq!(ring.peek(), None, "an idle ring has nothing to peek");
    for i in 0..8 {
        ring.push(Nop::new().user_data(10 + i)).unwrap();
    }
    ring.submit_and_wait(8).unwrap();
    assert_eq!(ring.ready(), 8);

    let mut four = [Cqe::default(); 4];
    assert_eq!(ring.peek_batch(&mut four), 4);
    assert_eq!(ring.ready(), 8, "peek_batch consumed completions");

    let mut sixteen = [Cqe::default(); 16];
    assert_eq!(ring.peek_batch(&mut sixteen), 8);
    assert_eq!(ring.ready(), 8);
    assert_eq!(four[..], sixteen[..4], "both batches start at the head");
    assert_eq!(
        sixteen[8..],
        [Cqe::default(); 8],
        "slots past what was ready are untouched"
    );
    assert_user_data_once(&sixteen[..8], 10..18);

    let first = ring.peek().expect("8 are ready");
    assert_eq!(ring.peek(), Some(first), "peek consumed the completion");
    assert_eq!(first, sixteen[0]);
    assert_eq!(ring.ready(), 8);

    // What was peeked is what the iterator then yields.
    let read: Vec<Cqe> = ring.completions().collect();
    assert_eq!(read[..], sixteen[..8]);
    assert_eq!(ring.ready(), 0);
    assert_eq!(ring.peek(), None);
    assert_eq!(ring.peek_batch(&mut four), 0);
}

/// The completions iterator moves the head past only what was iterated.
#[test]
fn completions_not_iterated_stay_in_the_queue() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    for i in 0..6 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    ring.submit_and_wait(6).unwrap();
    let mut it = ring.completions();
    assert_eq!(it.len(), 6);
    let two: Vec<Cqe> = it.by_ref().take(2).collect();
    drop(it);
    assert_eq!(ring.ready(), 4);
    let four: Vec<Cqe> = ring.completions().collect();
    let all: Vec<Cqe> = two.into_iter().chain(four).collect();
    assert_user_data_once(&all, 0..6);
}

/// A chain that does not fit is handed back whole and nothing of it is
/// written: after the submit, only the ops pushed before complete.
#[test]
fn a_chain_that_does_not_fit_is_handed_back_and_writes_nothing() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(2).unwrap();
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.push(Nop::new().user_data(2)).unwrap();
    let chain = Nop::new()
        .user_data(3)
        .link(Nop::new().user_data(4))
        .link(Nop::new().user_data(5));
    let Err(chain) = ring.push(chain).map_err(|e| e.into_inner()) else {
        panic!("a chain of 3 was pushed on a full ring of 2");
    };
    assert_eq!(ring.pending(), 2, "the failed push wrote SQEs");
    assert_eq!(ring.submit().unwrap(), 2);
    let cqes = submit_and_reap(&mut ring, 2);
    assert_user_data_once(&cqes, [1, 2]);
    assert_eq!(ring.ready(), 0, "a third completion arrived");

    // A chain longer than the whole queue never fits, even when it is empty.
    assert_eq!(ring.space_left(), 2);
    assert!(ring.push(chain).is_err(), "a chain of 3 fits a ring of 2");
    assert_eq!(ring.pending(), 0);
    assert_eq!(ring.submit().unwrap(), 0);
    assert_eq!(ring.ready(), 0);

    // A chain of 2 fits exactly.
    let pair = Nop::new().user_data(6).link(Nop::new().user_data(7));
    assert!(ring.push(pair).is_ok());
    let cqes = submit_and_reap(&mut ring, 2);
    assert_user_data_once(&cqes, [6, 7]);
}

/// `link`: a failed op cancels the rest of its chain, and only its chain —
/// the last SQE of a pushed chain carries no link flag, so the op pushed
/// after it runs.
#[test]
fn a_failed_link_cancels_its_chain_only() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    // Cancelling a user_data nothing uses fails with ENOENT.
    let chain = Cancel::new(0xdead)
        .user_data(1)
        .link(Nop::new().user_data(2))
        .link(Nop::new().user_data(3));
    ring.push(chain).unwrap();
    ring.push(Nop::new().user_data(4)).unwrap();
    let cqes = submit_and_reap(&mut ring, 4);
    let by = by_user_data(&cqes);
    assert_eq!(by.len(), 4, "{cqes:?}");
    assert_eq!(by[&1].res(), -libc::ENOENT);
    assert_eq!(by[&2].res(), -libc::ECANCELED);
    assert_eq!(by[&3].res(), -libc::ECANCELED);
    assert_eq!(by[&4].res(), 0, "the op after the chain was linked to it");
}

/// `hard_link`: the next op runs whatever the result of the one before.
#[test]
fn a_hard_link_runs_after_a_failure() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let chain = Cancel::new(0xdead)
        .user_data(1)
        .hard_link(Nop::new().user_data(2))
        .link(Nop::new().user_data(3));
    ring.push(chain).unwrap();
    let cqes = submit_and_reap(&mut ring, 3);
    let by = by_user_data(&cqes);
    assert_eq!(by[&1].res(), -libc::ENOENT);
    assert_eq!(by[&2].res(), 0);
    assert_eq!(by[&3].res(), 0);
    // The members of a chain complete in order.
    let order: Vec<u64> = cqes.iter().map(Cqe::user_data).collect();
    assert_eq!(order, [1, 2, 3]);
}

/// Fills the CQ of a ring of 4 (CQ 8) and puts 4 more completions in the
/// kernel's overflow list.
fn ring_with_overflowed_completions() -> Ring {
    let mut ring = Ring::new(4).unwrap();
    for round in 0..3u64 {
        for i in 0..4 {
            ring.push(Nop::new().user_data(round * 4 + i)).unwrap();
        }
        ring.submit().unwrap();
    }
    assert_eq!(ring.ready(), 8);
    ring
}

/// Runs `wait` on `ring` in a thread, and gives it 5 s to return: a wait
/// that never returns fails the test instead of hanging it (the thread is
/// left behind).
fn bounded<T: std::marker::Send + 'static>(
    mut ring: Ring,
    wait: impl FnOnce(&mut Ring) -> T + std::marker::Send + 'static,
) -> Option<(T, Ring)> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let result = wait(&mut ring);
        let _ = tx.send((result, ring));
    });
    rx.recv_timeout(std::time::Duration::from_secs(5)).ok()
}

/// With 8 completions ready and 4 more held in the overflow list, a wait
/// for one completion is already satisfied and must return at once.
#[test]
fn wait_returns_while_completions_wait_in_the_overflow_list() {
    let _watch = uring_tests::watchdog();
    let ring = ring_with_overflowed_completions();
    if !require_features(&ring, Features::NODROP, "the CQ overflow list") {
        return;
    }
    let Some((result, mut ring)) = bounded(ring, |r| r.wait(1).map_err(|e| e.to_string())) else {
        panic!("wait(1) with 8 completions ready did not return within 5 s");
    };
    assert_eq!(result, Ok(()));
    assert_user_data_once(&ring_drain(&mut ring), 0..12);
}

/// The same with a timeout: the wait must end, one way or the other, and
/// with 8 completions ready it must succeed.
#[test]
fn wait_timeout_returns_while_completions_wait_in_the_overflow_list() {
    let _watch = uring_tests::watchdog();
    let ring = ring_with_overflowed_completions();
    if !require_features(&ring, Features::NODROP, "the CQ overflow list") {
        return;
    }
    let wait = |r: &mut Ring| {
        r.wait_timeout(1, std::time::Duration::from_millis(50))
            .map_err(|e| e.to_string())
    };
    let Some((result, _)) = bounded(ring, wait) else {
        panic!("wait_timeout(1, 50 ms) with 8 completions ready did not return within 5 s");
    };
    assert_eq!(result, Ok(()));
}

/// Every completion, the overflowed ones included.
fn ring_drain(ring: &mut Ring) -> Vec<Cqe> {
    let mut out = Vec::new();
    for _ in 0..4 {
        let batch: Vec<Cqe> = ring.completions().collect();
        if batch.is_empty() {
            break;
        }
        out.extend(batch);
    }
    out
}

/// A wait for more completions than the CQ holds is refused up front.
#[test]
fn waiting_for_more_than_the_cq_holds_is_refused() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    let r = ring.submit_and_wait(9);
    assert!(matches!(r, Err(uring::Error::InvalidArgument(_))), "{r:?}");
}

/// What one chain of the batch test completes with, in order.
fn expected_chain(kind: u64) -> &'static [i32] {
    match kind {
        0 => &[0],
        1 => &[-libc::ENOENT, -libc::ECANCELED],
        _ => &[0, 0, 0],
    }
}

/// Pushes chain `kind` (1, 2 or 3 SQEs) with user_data `base`, `base + 1`,
/// ... through a batch; `false` if it did not fit.
fn push_chain(sq: &mut uring::SubmissionQueue<'_>, kind: u64, base: u64) -> bool {
    match kind {
        0 => sq.push(Nop::new().user_data(base)).is_ok(),
        1 => sq
            .push(
                Cancel::new(0xdead)
                    .user_data(base)
                    .link(Nop::new().user_data(base + 1)),
            )
            .is_ok(),
        _ => sq
            .push(
                Nop::new()
                    .user_data(base)
                    .link(Nop::new().user_data(base + 1))
                    .link(Nop::new().user_data(base + 2)),
            )
            .is_ok(),
    }
}

/// Batches of pushes (`Ring::submission`) of chains of 1, 2 and 3 SQEs, of
/// varying sizes, so that chains start at every position of a ring of 8 and
/// some wrap past the end of the SQE array: every chain runs whole, linked
/// (a failed head cancels the op after it, even across the wrap), in order,
/// each op once; a chain that does not fit is refused whole.
#[test]
fn batches_of_chains_wrap_the_ring() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let mut chain_no = 0u64;
    let mut refused = 0;
    for round in 0..60u64 {
        let wanted = round % 6 + 1;
        let mut pushed: Vec<(u64, u64)> = Vec::new();
        {
            let mut sq = ring.submission();
            for _ in 0..wanted {
                let kind = chain_no % 3;
                let base = chain_no * 10;
                if !push_chain(&mut sq, kind, base) {
                    let len = expected_chain(kind).len() as u32;
                    assert!(
                        sq.space_left() < len,
                        "round {round}: a chain of {len} was refused"
                    );
                    refused += 1;
                    break;
                }
                pushed.push((kind, base));
                chain_no += 1;
            }
        }
        let total: usize = pushed.iter().map(|(k, _)| expected_chain(*k).len()).sum();
        assert_eq!(ring.pending() as usize, total, "round {round}");
        let cqes = submit_and_reap(&mut ring, total);
        let by = by_user_data(&cqes);
        let position = |ud: u64| cqes.iter().position(|c| c.user_data() == ud).unwrap();
        for (kind, base) in pushed {
            let results = expected_chain(kind);
            for (i, res) in results.iter().enumerate() {
                let ud = base + i as u64;
                let cqe = by
                    .get(&ud)
                    .unwrap_or_else(|| panic!("round {round}: no {ud}"));
                assert_eq!(
                    cqe.res(),
                    *res,
                    "round {round}, chain {base}, op {i}: {cqes:?}"
                );
                if i > 0 {
                    assert!(
                        position(ud - 1) < position(ud),
                        "round {round}: chain order"
                    );
                }
            }
        }
    }
    assert!(refused > 0, "no batch ever filled the ring");
    // Plain pushes after batches continue from the same tail.
    ring.push(Nop::new().user_data(1)).unwrap();
    assert_eq!(submit_and_reap(&mut ring, 1)[0].user_data(), 1);
}

/// Every way of pushing (single ops, chains, the batch, raw SQEs) writes its
/// SQEs at the tail in order, across the end of the array, lap after lap:
/// what the queue holds, read in ring order, is what was pushed.
#[test]
fn pushes_land_in_ring_order_across_laps() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let mut next = 0u64;
    let mut expected: Vec<u64> = Vec::new();
    for lap in 0..40u64 {
        let mut pushed = Vec::new();
        match lap % 4 {
            0 => {
                for _ in 0..(lap % 7) {
                    if ring.push(Nop::new().user_data(next)).is_err() {
                        break;
                    }
                    pushed.push(next);
                    next += 1;
                }
            }
            1 => {
                let chain = Nop::new()
                    .user_data(next)
                    .link(Nop::new().user_data(next + 1))
                    .link(Nop::new().user_data(next + 2));
                ring.push(chain).unwrap();
                pushed.extend(next..next + 3);
                next += 3;
            }
            2 => {
                let mut sq = ring.submission();
                for _ in 0..5 {
                    sq.push(Nop::new().user_data(next)).unwrap();
                    pushed.push(next);
                    next += 1;
                }
            }
            _ => {
                let mut sqe = uring::sys::io_uring_sqe::zeroed();
                let raw: Vec<_> = (0..4)
                    .map(|i| {
                        sqe.user_data = next + i;
                        sqe
                    })
                    .collect();
                // SAFETY: zeroed SQEs are NOPs, which point to no memory.
                unsafe { ring.push_raw(&raw) }.unwrap();
                pushed.extend(next..next + 4);
                next += 4;
            }
        }
        let queued: Vec<u64> = ring.pending_sqes().map(|sqe| sqe.user_data).collect();
        assert_eq!(queued, pushed, "lap {lap}");
        expected.extend(&pushed);
        let cqes = submit_and_reap(&mut ring, pushed.len());
        let mut got: Vec<u64> = cqes.iter().map(|c| c.user_data()).collect();
        got.sort_unstable();
        assert_eq!(got, pushed, "lap {lap}");
    }
    assert!(expected.len() > 8 * 10, "the queue went round many times");
}

/// An SQ array entry out of range, written through a second mapping of the
/// ring: the kernel drops the SQE it names and counts it, which
/// `Ring::dropped` reports.
#[test]
fn sqes_the_kernel_drops_are_counted() {
    let _watch = uring_tests::watchdog();
    use std::os::fd::AsRawFd;
    let mut ring = Ring::new(4).unwrap();
    assert_eq!(ring.dropped(), 0);
    let raw = *ring.params().as_raw();
    if raw.flags & uring::sys::IORING_SETUP_NO_SQARRAY != 0 {
        uring_tests::skip("the ring has no SQ array");
        return;
    }
    let len = raw.sq_off.array as usize + 4 * raw.sq_entries as usize;
    // SAFETY: a new shared mapping of the ring's own SQ ring region, read
    // and written only below, unmapped before the test ends.
    let map = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            ring.as_raw_fd(),
            uring::sys::IORING_OFF_SQ_RING as libc::off_t,
        )
    };
    assert_ne!(map, libc::MAP_FAILED, "{}", std::io::Error::last_os_error());
    // SAFETY: the array lies in the mapping, u32-aligned.
    let array = unsafe {
        map.cast::<u8>()
            .add(raw.sq_off.array as usize)
            .cast::<u32>()
    };
    // SAFETY: as above; slot 0 maps to an SQE index past the array.
    unsafe { array.write_volatile(raw.sq_entries) };
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.push(Nop::new().user_data(2)).unwrap();
    let _ = ring.submit();
    // The kernel dropped the first and took the second.
    assert_eq!(ring.dropped(), 1);
    // SAFETY: as above; slot 0 maps to SQE 0 again.
    unsafe { array.write_volatile(0) };
    // SAFETY: the mapping made above, unused from here on.
    unsafe { libc::munmap(map, len) };
    let cqes = submit_and_reap(&mut ring, 1);
    assert_eq!(cqes[0].user_data(), 2);
    assert_eq!(ring.dropped(), 1);
}
