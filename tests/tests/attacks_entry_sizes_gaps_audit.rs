//! Entry sizes attacked where the other suites stop: a 16-byte completion
//! of a mixed CQ whose next slot holds a 32-byte completion, or last lap's
//! stale bytes past the tail (its `big_cqe()` must be zeros, never the
//! next slot); `split` reading a mixed CQ across the padding while
//! answering each completion with a new op; empty `peek_batch`es and
//! `advance(0)` / `advance(u32::MAX)` with the head on the padding; a
//! mixed ring grown by `resize` while its head sits on padding and a
//! 32-byte completion waits in the overflow list (the padding then lands
//! in the middle of the new array); `IORING_NOP_CQE32` on every
//! combination of SQE and CQE size, with its `IORING_CQE_F_32` flag.
//!
//! Read against Linux 6.18: `io_uring/io_uring.c` (`io_cqe_cache_refill`,
//! `io_fill_nop_cqe`, `io_get_cqe_overflow`, `io_fill_cqe_aux32`, the
//! overflow list), `io_uring/nop.c` (`io_nop_prep`: `IORING_NOP_CQE32`
//! takes `off` and `addr` as the extra words and needs a `CQE32` or
//! `CQE_MIXED` ring, else `EINVAL`), `io_uring/register.c`
//! (`io_register_resize_rings`, which copies the CQ slot by slot to the
//! same positions of the new array), `include/uapi/linux/io_uring.h`.
//!
//! Every test is safe code against the running kernel and checks what the
//! kernel did: which completions came, once each, in which order, with
//! which results, flags and extra words.

use uring::ops::Nop;
use uring::{Builder, Cqe16, Cqe32, CqeMixed, Ring, Sqe64, Sqe128, SqeSize, sys};
use uring_tests::{require_kernel, skip};

const F_32: u32 = sys::IORING_CQE_F_32;

fn mixed<S: SqeSize>(sq: u32, cq: u32) -> Option<Ring<S, CqeMixed>> {
    if !require_kernel(6, 18, "IORING_SETUP_CQE_MIXED and IORING_NOP_CQE32") {
        return None;
    }
    match Builder::new().cq_entries(cq).build_sized::<S, CqeMixed>(sq) {
        Ok(ring) => Some(ring),
        Err(e) => {
            skip(format!("a mixed CQ: {e}"));
            None
        }
    }
}

/// A small completion followed by a big one whose own first 16 bytes and
/// extra words are distinctive: the small one's extra words are zeros by
/// every reader (`peek`, `peek_batch`, `completions`), not the next slot.
fn small_before_big<S: SqeSize>() {
    let Some(mut ring) = mixed::<S>(4, 8) else {
        return;
    };
    for lap in 0..12u64 {
        let big_ud = 0xB16_0000 + lap;
        ring.push(Nop::new().user_data(lap)).unwrap();
        ring.push(
            Nop::new()
                .user_data(big_ud)
                .big_cqe([0xAAAA_0000 + lap, 0xBBBB_0000 + lap]),
        )
        .unwrap();
        ring.submit_and_wait(2).unwrap();
        let peeked = ring.peek().expect("the small completion");
        assert_eq!(peeked.user_data(), lap);
        assert!(!peeked.is_big());
        assert_eq!(peeked.big_cqe(), [0, 0], "lap {lap}: peek");
        assert_eq!(peeked.as_raw().big_cqe, [0, 0]);
        assert_eq!(peeked.flags() & F_32, 0);
        let mut batch = [uring::BigCqe::default(); 4];
        let n = ring.peek_batch(&mut batch);
        assert_eq!(n, 2, "lap {lap}: two completions, however many slots");
        assert_eq!(batch[0].big_cqe(), [0, 0], "lap {lap}: peek_batch");
        assert_eq!(batch[1].user_data(), big_ud);
        assert_eq!(batch[1].big_cqe(), [0xAAAA_0000 + lap, 0xBBBB_0000 + lap]);
        assert_ne!(batch[1].flags() & F_32, 0);
        let got: Vec<_> = ring
            .completions()
            .map(|c| (c.user_data(), c.is_big(), c.big_cqe()))
            .collect();
        assert_eq!(
            got,
            [
                (lap, false, [0, 0]),
                (big_ud, true, [0xAAAA_0000 + lap, 0xBBBB_0000 + lap])
            ],
            "lap {lap}"
        );
        assert_eq!(ring.ready(), 0);
    }
}

#[test]
fn a_small_completion_never_shows_the_next_slot_as_its_extra_words() {
    let _watch = uring_tests::watchdog();
    small_before_big::<Sqe64>();
    small_before_big::<Sqe128>();
}

/// A lap of big completions fills every slot with extra words; the next
/// lap's small completions sit where those were, with stale bytes in the
/// slot after the last (past the tail): none shows them.
#[test]
fn a_small_completion_at_the_tail_shows_no_stale_bytes_past_it() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = mixed::<Sqe64>(4, 8) else {
        return;
    };
    // Four big completions fill the eight slots, extra words everywhere.
    for i in 0..4u64 {
        ring.push(Nop::new().user_data(100 + i).big_cqe([!i, i << 40]))
            .unwrap();
    }
    ring.submit_and_wait(4).unwrap();
    let got: Vec<_> = ring
        .completions()
        .map(|c| (c.user_data(), c.big_cqe()))
        .collect();
    assert_eq!(
        got,
        (0..4u64)
            .map(|i| (100 + i, [!i, i << 40]))
            .collect::<Vec<_>>()
    );
    // One small completion at a time: each is the last before the tail,
    // the slot after it still holds last lap's bytes.
    for i in 0..8u64 {
        ring.push(Nop::new().user_data(200 + i)).unwrap();
        ring.submit_and_wait(1).unwrap();
        let cqe = ring.peek().expect("the small completion");
        assert_eq!(
            (cqe.user_data(), cqe.is_big(), cqe.big_cqe()),
            (200 + i, false, [0, 0])
        );
        let mut batch = [uring::BigCqe::default(); 2];
        assert_eq!(ring.peek_batch(&mut batch), 1);
        assert_eq!(batch[0].big_cqe(), [0, 0]);
        assert_eq!(batch[1], uring::BigCqe::default(), "nothing past the tail");
        assert_eq!(ring.advance(u32::MAX), 1);
    }
}

/// `split`: the completions of a mixed CQ are read while each is answered
/// with a new op, big and small in turn, many times around a CQ of eight
/// slots: every completion once, in order, whole.
#[test]
fn split_reads_a_mixed_cq_across_its_padding_while_pushing() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = mixed::<Sqe64>(4, 8) else {
        return;
    };
    let op = |ud: u64| {
        if ud.is_multiple_of(3) {
            Nop::new().user_data(ud)
        } else {
            Nop::new().user_data(ud).big_cqe([ud, !ud])
        }
    };
    ring.push(op(0)).unwrap();
    ring.push(op(1000)).unwrap();
    let mut seen = Vec::new();
    let mut in_flight = 2;
    for _ in 0..200 {
        if in_flight == 0 {
            break;
        }
        ring.submit_and_wait(1).unwrap();
        let (mut sq, completions) = ring.split();
        for cqe in completions {
            let ud = cqe.user_data();
            seen.push(ud);
            in_flight -= 1;
            assert_eq!(cqe.res(), 0);
            assert_eq!(cqe.is_big(), !ud.is_multiple_of(3), "{ud}");
            assert_eq!(cqe.flags() & F_32 != 0, !ud.is_multiple_of(3), "{ud}");
            let words = if ud.is_multiple_of(3) {
                [0, 0]
            } else {
                [ud, !ud]
            };
            assert_eq!(cqe.big_cqe(), words, "{ud}");
            if ud % 1000 < 50 {
                sq.push(op(ud + 1)).unwrap();
                in_flight += 1;
            }
        }
    }
    assert_eq!(in_flight, 0, "every op completed");
    assert_eq!(ring.ready(), 0);
    let mut chains = [Vec::new(), Vec::new()];
    for ud in seen {
        chains[(ud / 1000) as usize].push(ud % 1000);
    }
    let want: Vec<u64> = (0..=50).collect();
    assert_eq!(chains[0], want);
    assert_eq!(chains[1], want);
}

/// The head on the padding, the big completion held back: an empty
/// `peek_batch` and `advance(0)` take nothing; `advance(u32::MAX)` counts
/// the one completion, not the padding's or its slots.
#[test]
fn empty_peeks_and_advances_at_the_padding_take_nothing() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = mixed::<Sqe64>(4, 4) else {
        return;
    };
    for ud in 1..=3u64 {
        ring.push(Nop::new().user_data(ud)).unwrap();
    }
    ring.push(Nop::new().user_data(4).big_cqe([41, 42]))
        .unwrap();
    assert_eq!(ring.submit().unwrap(), 4);
    assert_eq!(ring.advance(3), 3);
    assert_eq!(ring.ready(), 1, "the padding alone");
    assert!(ring.cq_has_overflow());
    assert_eq!(ring.peek_batch(&mut []), 0);
    assert_eq!(ring.advance(0), 0);
    let mut one = [uring::BigCqe::default(); 1];
    assert_eq!(ring.peek_batch(&mut one), 1, "flushed past the padding");
    assert_eq!(
        (one[0].user_data(), one[0].is_big(), one[0].big_cqe()),
        (4, true, [41, 42])
    );
    assert_eq!(ring.advance(u32::MAX), 1);
    assert_eq!(ring.advance(u32::MAX), 0);
    assert!(ring.peek().is_none());
    ring.push(Nop::new().user_data(5)).unwrap();
    ring.submit_and_wait(1).unwrap();
    let got: Vec<_> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(got, [5]);
}

/// A mixed ring grown by `resize` while its head sits on the padding at
/// the array's end, a big completion after it and another in the
/// overflow list: the kernel copies the padding to the middle of the new
/// array. Both big completions come out once, whole, in order, and the
/// grown ring goes on posting both sizes.
#[test]
fn a_grown_mixed_ring_keeps_its_padding_and_held_back_big_completion() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "IORING_SETUP_CQE_MIXED, resizing rings") {
        return;
    }
    let mut ring = match Builder::new()
        .single_issuer()
        .defer_taskrun()
        .cq_entries(4)
        .build_sized::<Sqe64, CqeMixed>(4)
    {
        Ok(ring) => ring,
        Err(e) => return skip(format!("a mixed defer_taskrun ring: {e}")),
    };
    for ud in 1..=3u64 {
        ring.push(Nop::new().user_data(ud)).unwrap();
    }
    ring.submit_and_wait(3).unwrap();
    assert_eq!(ring.advance(3), 3);
    // A: padding at slot 3, A at slots 0 and 1. B: one free slot, held back.
    ring.push(Nop::new().user_data(10).big_cqe([10, 11]))
        .unwrap();
    ring.submit_and_wait(1).unwrap();
    ring.push(Nop::new().user_data(20).big_cqe([20, 21]))
        .unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    let _ = ring.get_events();
    let held = ring.cq_has_overflow();
    assert!(held, "B is held back for want of two free slots");
    assert_eq!(ring.ready(), 3, "the padding and A's two slots");
    if let Err(e) = ring.resize(8, 16) {
        return skip(format!("resize of a mixed ring: {e}"));
    }
    assert_eq!(ring.cq_entries(), 16);
    let got: Vec<_> = ring
        .completions()
        .map(|c| (c.user_data(), c.is_big(), c.big_cqe()))
        .collect();
    let mut all = got.clone();
    if all.len() < 2 {
        ring.wait(1).unwrap();
        all.extend(
            ring.completions()
                .map(|c| (c.user_data(), c.is_big(), c.big_cqe())),
        );
    }
    assert_eq!(
        all,
        [(10, true, [10, 11]), (20, true, [20, 21])],
        "held back before the resize: {held}; first read {got:?}"
    );
    for round in 0..10u64 {
        ring.push(Nop::new().user_data(100 + round)).unwrap();
        ring.push(Nop::new().user_data(200 + round).big_cqe([round, 7]))
            .unwrap();
        ring.submit_and_wait(2).unwrap();
        let got: Vec<_> = ring
            .completions()
            .map(|c| (c.user_data(), c.is_big(), c.big_cqe()))
            .collect();
        assert_eq!(
            got,
            [
                (100 + round, false, [0, 0]),
                (200 + round, true, [round, 7])
            ]
        );
    }
}

/// `IORING_NOP_CQE32` on every combination of sizes: refused with
/// `EINVAL` on 16-byte CQs (one completion, the ring still aligned), the
/// words in place on 32-byte and mixed CQs, `IORING_CQE_F_32` only on the
/// mixed CQ's big completion.
#[test]
fn nop_cqe32_on_every_combination_of_sizes() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "IORING_NOP_CQE32") {
        return;
    }
    // 16-byte CQs, either SQE size: EINVAL, and the next completion whole.
    fn small<S: SqeSize>() {
        let mut ring = Builder::new().build_sized::<S, Cqe16>(4).unwrap();
        ring.push(Nop::new().user_data(1).big_cqe([5, 6])).unwrap();
        ring.push(Nop::new().user_data(2)).unwrap();
        ring.submit_and_wait(2).unwrap();
        let got: Vec<_> = ring
            .completions()
            .map(|c| (c.user_data(), c.res(), c.flags()))
            .collect();
        assert_eq!(got, [(1, -libc::EINVAL, 0), (2, 0, 0)]);
    }
    small::<Sqe64>();
    small::<Sqe128>();
    fn big<S: SqeSize>() {
        let mut ring = Builder::new().build_sized::<S, Cqe32>(4).unwrap();
        for lap in 0..3u64 {
            ring.push(Nop::new().user_data(1).big_cqe([lap, u64::MAX]))
                .unwrap();
            ring.push(Nop::new().user_data(2)).unwrap();
            ring.submit_and_wait(2).unwrap();
            let got: Vec<_> = ring
                .completions()
                .map(|c| (c.user_data(), c.res(), c.flags(), c.big_cqe()))
                .collect();
            assert_eq!(got, [(1, 0, 0, [lap, u64::MAX]), (2, 0, 0, [0, 0])]);
        }
    }
    big::<Sqe64>();
    big::<Sqe128>();
    fn mixed_sizes<S: SqeSize>() {
        let Some(mut ring) = mixed::<S>(4, 8) else {
            return;
        };
        for lap in 0..5u64 {
            ring.push(Nop::new().user_data(1).big_cqe([lap, u64::MAX]))
                .unwrap();
            ring.push(Nop::new().user_data(2)).unwrap();
            ring.submit_and_wait(2).unwrap();
            let got: Vec<_> = ring
                .completions()
                .map(|c| (c.user_data(), c.res(), c.flags(), c.big_cqe()))
                .collect();
            assert_eq!(got, [(1, 0, F_32, [lap, u64::MAX]), (2, 0, 0, [0, 0])]);
        }
    }
    mixed_sizes::<Sqe64>();
    mixed_sizes::<Sqe128>();
}
