//! The ring layer's readers, waits and submission accounting, attacked
//! where the existing suites each stop short: a mixed CQ whose head sits on
//! the kernel's padding while the 32-byte completion that padding made room
//! for waits in the overflow list; submissions the kernel stops at an SQE
//! it refuses, seen through `pending` and `pending_sqes` across the SQ's
//! wrap; registered wait slots at the region's end; completions posted
//! from no SQE into rings of every CQE size; rings of `create_many` that
//! share an SQ thread; the probe and the query at every opcode; waits for
//! SQ room on SQPOLL rings that run, and on one that never runs.
//!
//! Read against Linux 6.18: `io_uring/io_uring.c` (`io_cqe_cache_refill`
//! and `io_fill_nop_cqe`, which write the `IORING_CQE_F_SKIP` padding and
//! then overflow the big completion when the array's start is not free;
//! `io_get_cqe_overflow`; `io_init_req`, which refuses `IOSQE_IO_DRAIN`
//! once `IOSQE_CQE_SKIP_SUCCESS` was seen; `io_submit_sqes` and
//! `io_submit_fail_init`, which stop the batch there;
//! `io_get_ext_arg_reg`), `io_uring/sqpoll.c` (`io_sqpoll_wait_sq`,
//! `io_get_sq_data`), `io_uring/msg_ring.c` and `io_uring/register.c`
//! (`IORING_REGISTER_SEND_MSG_RING`, `IORING_REGISTER_PROBE`,
//! `IORING_REGISTER_QUERY`), and `include/uapi/linux/io_uring.h`.
//!
//! Every test is safe code against the running kernel and checks what the
//! kernel did: which completions came, once each, in which order, with
//! which results and extra words.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use uring::ops::Nop;
use uring::{Builder, Cqe32, CqeMixed, Error, PushErrorKind, Query, Ring, Sqe64, SqeFlags, sys};
use uring_tests::{require_kernel, require_sqpoll, skip};

/// The extra words the big completion carries.
const WORDS: [u64; 2] = [0x1111_2222_3333_4444, 0x5555_6666_7777_8888];

/// Runs `f` on a thread of its own and fails the test if it takes longer
/// than `bound` (the thread is left behind: a hang fails, never blocks).
fn bounded<T: Send + 'static>(
    bound: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(bound) {
        Ok(v) => v,
        Err(_) => panic!("{what}: still running after {bound:?}"),
    }
}

/// A mixed CQ of four slots (SQ of four) on which three 16-byte NOPs fill
/// slots 0 to 2 and a 32-byte NOP finds only the last slot free: the
/// kernel writes the padding there (`io_fill_nop_cqe`), finds no two free
/// slots at the array's start, and keeps the big completion in its
/// overflow list. The three small ones are then read one at a time with
/// `peek` and `advance`, which leaves the head on the padding. `None` when
/// the kernel lacks mixed CQs.
fn mixed_ring_with_padding_at_the_head() -> Option<Ring<Sqe64, CqeMixed>> {
    if !require_kernel(6, 18, "IORING_SETUP_CQE_MIXED and IORING_NOP_CQE32") {
        return None;
    }
    let mut ring = match Builder::new()
        .cq_entries(4)
        .build_sized::<Sqe64, CqeMixed>(4)
    {
        Ok(ring) => ring,
        Err(e) => {
            skip(format!("a mixed CQ: {e}"));
            return None;
        }
    };
    for ud in 1..=3u64 {
        ring.push(Nop::new().user_data(ud)).unwrap();
    }
    ring.push(Nop::new().user_data(4).big_cqe(WORDS)).unwrap();
    assert_eq!(ring.submit().unwrap(), 4);
    assert_eq!(ring.ready(), 4, "three completions and the padding");
    assert!(ring.cq_has_overflow(), "the big completion is held back");
    for ud in 1..=3u64 {
        let cqe = ring.peek().expect("a small completion");
        assert_eq!((cqe.user_data(), cqe.res(), cqe.is_big()), (ud, 0, false));
        assert_eq!(ring.advance(1), 1);
    }
    assert_eq!(ring.ready(), 1, "the padding alone is left in the CQ");
    assert!(ring.cq_has_overflow());
    Some(ring)
}

/// The big completion, checked whole.
fn assert_the_big_one(cqe: &uring::BigCqe) {
    assert_eq!(cqe.user_data(), 4);
    assert_eq!(cqe.res(), 0);
    assert!(cqe.is_big());
    assert_eq!(cqe.big_cqe(), WORDS);
}

// ---------------------------------------------------------------------------
// A mixed CQ whose head sits on padding, the big completion held back.
// ---------------------------------------------------------------------------

/// `peek` flushes what the kernel holds back when the CQ is empty (a
/// 16-byte ring's `peek` returns an overflowed completion at once). On a
/// mixed CQ whose head sits on padding, the CQ holds no completion but its
/// tail is not its head, so neither `peek` nor `peek_batch` ever enters
/// the kernel: a loop that polls them never sees the completion.
#[test]
fn a_peek_loop_reaches_a_big_completion_held_behind_padding() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = mixed_ring_with_padding_at_the_head() else {
        return;
    };
    let mut found = None;
    for _ in 0..1000 {
        if let Some(cqe) = ring.peek() {
            found = Some(cqe);
            break;
        }
        let mut out = [uring::BigCqe::default(); 4];
        if ring.peek_batch(&mut out) > 0 {
            found = Some(out[0]);
            break;
        }
    }
    let cqe =
        found.expect("1000 polls of peek and peek_batch never showed the held-back completion");
    assert_the_big_one(&cqe);
    assert_eq!(ring.advance(1), 1);
    assert_eq!(ring.peek().map(|c| c.user_data()), None);
    assert!(!ring.cq_has_overflow());
}

/// The contrast the defect above is measured against: on a 16-byte CQ,
/// `peek` on an empty CQ whose overflow list holds completions enters the
/// kernel and shows the next one; polling `peek` and `advance` alone reads
/// every completion once, in order.
#[test]
fn a_peek_loop_on_a_plain_overflowed_cq_reads_everything_once() {
    let _watch = uring_tests::watchdog();
    let mut ring = Builder::new().cq_entries(2).build(2).unwrap();
    let mut got = Vec::new();
    for round in 0..3u64 {
        for i in 0..2u64 {
            ring.push(Nop::new().user_data(round * 10 + i)).unwrap();
        }
        ring.submit().unwrap();
        for i in 2..5u64 {
            ring.push(Nop::new().user_data(round * 10 + i)).unwrap();
            ring.submit().unwrap();
        }
        assert!(ring.cq_has_overflow(), "round {round}");
        let mut polls = 0;
        while got.len() < 5 * (round as usize + 1) {
            polls += 1;
            assert!(polls < 1000, "round {round}: peek stalled at {got:?}");
            if let Some(c) = ring.peek() {
                got.push(c.user_data());
                assert_eq!(ring.advance(1), 1);
            }
        }
        assert!(!ring.cq_has_overflow());
    }
    let want: Vec<u64> = (0..3u64)
        .flat_map(|r| (0..5).map(move |i| r * 10 + i))
        .collect();
    assert_eq!(got, want);
    assert_eq!(ring.peek().map(|c| c.user_data()), None);
}

/// `completions()` says: "When none is ready and the kernel holds some
/// back (CQ overflow, ...), this first enters the kernel to flush them."
/// With the head on padding, the first call yields nothing (it only moves
/// the head past the padding); the completion comes at the second.
#[test]
fn one_completions_call_flushes_past_padding() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = mixed_ring_with_padding_at_the_head() else {
        return;
    };
    let got: Vec<uring::BigCqe> = ring.completions().collect();
    assert_eq!(got.len(), 1, "the held-back completion, at the first call");
    assert_the_big_one(&got[0]);
}

/// `Iterator::size_hint`'s lower bound is a promise: no fewer items come.
/// A mixed CQ's iterator counts slots halved, and a slot of padding is
/// counted as half a completion: with only the padding between head and
/// tail it promises at least one, and yields none.
#[test]
fn a_mixed_cq_iterator_promises_no_completion_for_padding() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = mixed_ring_with_padding_at_the_head() else {
        return;
    };
    let completions = ring.completions();
    let (lower, upper) = completions.size_hint();
    let n = completions.count();
    assert!(
        upper.is_none_or(|u| n <= u),
        "upper bound {upper:?}, {n} came"
    );
    assert!(lower <= n, "size_hint promised at least {lower}, {n} came");
}

/// A wait does what the readers do not: it moves the head past the padding
/// and publishes it, so the kernel flushes the big completion into the
/// slots at the array's start. Every completion comes once, in order.
#[test]
fn a_wait_reaches_the_big_completion_held_behind_padding() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = mixed_ring_with_padding_at_the_head() else {
        return;
    };
    ring.wait_timeout(1, Duration::from_secs(2)).unwrap();
    assert!(!ring.cq_has_overflow());
    let got: Vec<uring::BigCqe> = ring.completions().collect();
    assert_eq!(got.len(), 1);
    assert_the_big_one(&got[0]);
    assert_eq!(ring.completions().count(), 0, "nothing twice");
    assert_eq!(ring.advance(u32::MAX), 0);
}

/// `advance` moves past padding as it goes, and the head it publishes lets
/// the next reader flush: after `advance(u32::MAX)` (no completion to pass,
/// so it reports 0), `peek` finds the CQ empty, enters the kernel and shows
/// the big completion, whole. Small rounds after it land where they should.
#[test]
fn advance_past_padding_lets_the_next_peek_flush() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = mixed_ring_with_padding_at_the_head() else {
        return;
    };
    assert_eq!(ring.advance(0), 0, "advancing by none moves nothing");
    assert_eq!(ring.ready(), 1);
    assert_eq!(ring.advance(u32::MAX), 0, "only padding was passed");
    assert_eq!(ring.ready(), 0);
    let cqe = ring.peek().expect("the flushed completion");
    assert_the_big_one(&cqe);
    assert_eq!(ring.advance(1), 1);
    // The big completion took slots 0 and 1: two more rounds of small and
    // big ones go round the array again without loss.
    let mut want = Vec::new();
    let mut got = Vec::new();
    for round in 0..4u64 {
        let ud = 10 + round;
        let big = round % 2 == 0;
        let op = if big {
            Nop::new().user_data(ud).big_cqe([ud, !ud])
        } else {
            Nop::new().user_data(ud)
        };
        want.push((ud, big));
        ring.push(op).unwrap();
        ring.submit_and_wait(1).unwrap();
        for c in ring.completions() {
            if c.is_big() {
                assert_eq!(c.big_cqe(), [c.user_data(), !c.user_data()]);
            }
            got.push((c.user_data(), c.is_big()));
        }
    }
    assert_eq!(got, want);
}

// ---------------------------------------------------------------------------
// Submissions the kernel stops at an SQE it refuses.
// ---------------------------------------------------------------------------

/// Once an SQE flagged `IOSQE_CQE_SKIP_SUCCESS` was seen, Linux refuses
/// `IOSQE_IO_DRAIN` (`io_init_req`: `-EOPNOTSUPP`), posts the failure and
/// stops the batch there (`io_submit_fail_init` returns the error). So
/// `submit` counts two of four, `pending` and `pending_sqes` show the two
/// left (across the SQ's wrap, in order, byte for byte), and
/// `submit_and_wait` goes on past the refused one, as its docs promise.
#[test]
fn a_submit_stopped_at_a_refused_drain_leaves_exactly_the_rest() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    // Move the head to position 3, so the four SQEs below wrap.
    for ud in 0..3u64 {
        ring.push(Nop::new().user_data(ud)).unwrap();
    }
    ring.submit_and_wait(3).unwrap();
    assert_eq!(ring.completions().count(), 3);

    ring.push(Nop::new().user_data(100).flags(SqeFlags::CQE_SKIP_SUCCESS))
        .unwrap();
    ring.push(Nop::new().user_data(101).flags(SqeFlags::IO_DRAIN))
        .unwrap();
    ring.push(Nop::new().user_data(102)).unwrap();
    ring.push(Nop::new().user_data(103).result(-libc::ENOENT))
        .unwrap();
    assert_eq!(ring.space_left(), 0);
    let submitted = ring.submit().unwrap();
    assert_eq!(submitted, 2, "the kernel stops after the refused drain");
    assert_eq!(ring.pending(), 2);
    let left: Vec<u64> = ring.pending_sqes().map(|s| s.user_data).collect();
    assert_eq!(
        left,
        [102, 103],
        "the two SQEs after the refused one, in order"
    );
    assert_eq!(ring.space_left(), 2);
    // The refused drain's failure is posted; the skipped success is not.
    let first: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(first, [(101, -libc::EOPNOTSUPP)]);
    // `Ok` means `want` completions are ready: it must submit the rest.
    assert_eq!(ring.submit_and_wait(2).unwrap(), 2);
    assert_eq!(ring.pending(), 0);
    let rest: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(rest, [(102, 0), (103, -libc::ENOENT)]);
    assert_eq!(ring.completions().count(), 0);
    assert_eq!(ring.dropped(), 0, "no SQE was dropped as invalid");
}

/// A plain `submit` stopped the same way, then more pushes behind the
/// two SQEs it left: one `submit_and_wait` takes them all, each op
/// completes once, and the SQEs run in queue order.
#[test]
fn pushes_behind_a_stopped_submit_run_in_queue_order() {
    let _watch = uring_tests::watchdog();
    let mut ring = Builder::new().cq_entries(16).build(8).unwrap();
    ring.push(Nop::new().user_data(1).flags(SqeFlags::CQE_SKIP_SUCCESS))
        .unwrap();
    ring.push(Nop::new().user_data(2).flags(SqeFlags::IO_DRAIN))
        .unwrap();
    for ud in 3..6u64 {
        ring.push(Nop::new().user_data(ud)).unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 2);
    for ud in 6..9u64 {
        ring.push(Nop::new().user_data(ud)).unwrap();
    }
    assert_eq!(ring.pending(), 6);
    let queued: Vec<u64> = ring.pending_sqes().map(|s| s.user_data).collect();
    assert_eq!(queued, [3, 4, 5, 6, 7, 8]);
    assert_eq!(ring.submit_and_wait(7).unwrap(), 6);
    let got: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    let mut want = vec![(2, -libc::EOPNOTSUPP)];
    want.extend((3..9u64).map(|ud| (ud, 0)));
    assert_eq!(got, want);
}

// ---------------------------------------------------------------------------
// Registered wait slots at the end of their region.
// ---------------------------------------------------------------------------

/// Linux 6.18 bounds a registered wait's offset with
/// `array_index_nospec(offset, size - 64)`, which maps the region's last
/// 64 bytes to offset 0. The library hands out every slot but that one:
/// the last slot it accepts must wait with its own timeout (20 ms), not
/// slot 0's (5 s), and the one past it is refused without a call.
#[test]
fn the_last_registered_wait_slot_waits_with_its_own_arguments() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 13, "IORING_REGISTER_MEM_REGION wait arguments") {
        return;
    }
    let mut ring = Ring::builder().r_disabled().build(4).unwrap();
    if let Err(e) = ring.register_wait_region(1) {
        skip(format!("register_wait_region: {e}"));
        return;
    }
    ring.enable().unwrap();
    // Find the first slot refused: every one before it is usable.
    let mut last = 0;
    while ring.set_registered_wait(last + 1, None, None).is_ok() {
        last += 1;
        assert!(last < 1 << 16, "a region of one page holds fewer slots");
    }
    // SAFETY: sysconf reads a configuration value; it takes no pointer.
    let page = u32::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    assert!(
        last < page / 64 - 1,
        "the region's last 64 bytes are no slot"
    );
    ring.set_registered_wait(0, Some(Duration::from_secs(5)), None)
        .unwrap();
    ring.set_registered_wait(last, Some(Duration::from_millis(20)), None)
        .unwrap();
    let start = Instant::now();
    let r = ring.wait_registered(1, last);
    let took = start.elapsed();
    assert!(matches!(r, Err(Error::TimedOut)), "{r:?}");
    assert!(took >= Duration::from_millis(15), "{took:?}");
    assert!(
        took < Duration::from_secs(2),
        "slot {last} waited with slot 0's time: {took:?}"
    );
    assert!(matches!(
        ring.wait_registered(1, last + 1),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        ring.wait_registered(1, u32::MAX),
        Err(Error::InvalidArgument(_))
    ));
    // A completion ends a registered wait at once.
    ring.push(Nop::new().user_data(9)).unwrap();
    assert_eq!(ring.submit_and_wait_registered(1, 0).unwrap(), 1);
    assert_eq!(
        ring.completions()
            .map(|c| c.user_data())
            .collect::<Vec<_>>(),
        [9]
    );
}

// ---------------------------------------------------------------------------
// Completions posted from no SQE into rings of every CQE size.
// ---------------------------------------------------------------------------

/// `Ring::post` (`IORING_REGISTER_SEND_MSG_RING`) posts a 16-byte
/// completion: on a 32-byte ring its extra words are zero, on a mixed ring
/// it takes one slot, and the completions after it stay aligned, across
/// the mixed array's end too.
#[test]
fn posted_completions_take_the_shape_of_their_ring() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 13, "IORING_REGISTER_SEND_MSG_RING") {
        return;
    }
    let mut big = Builder::new().build_sized::<Sqe64, Cqe32>(4).unwrap();
    big.post(-libc::EAGAIN, 77).unwrap();
    big.push(Nop::new().user_data(78)).unwrap();
    big.submit_and_wait(2).unwrap();
    let got: Vec<(u64, i32, [u64; 2])> = big
        .completions()
        .map(|c| (c.user_data(), c.res(), c.big_cqe()))
        .collect();
    assert_eq!(got, [(77, -libc::EAGAIN, [0, 0]), (78, 0, [0, 0])]);

    if !require_kernel(6, 18, "IORING_SETUP_CQE_MIXED") {
        return;
    }
    let mut mixed = Builder::new()
        .cq_entries(4)
        .build_sized::<Sqe64, CqeMixed>(4)
        .unwrap();
    let mut want = Vec::new();
    let mut got = Vec::new();
    for round in 0..6u64 {
        let ud = 200 + 2 * round;
        mixed.post(round as i32, ud).unwrap();
        mixed
            .push(Nop::new().user_data(ud + 1).big_cqe([ud, round]))
            .unwrap();
        want.push((ud, round as i32, false, [0, 0]));
        want.push((ud + 1, 0, true, [ud, round]));
        mixed.submit_and_wait(1).unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        while got.len() < want.len() {
            for c in mixed.completions() {
                got.push((c.user_data(), c.res(), c.is_big(), c.big_cqe()));
            }
            assert!(Instant::now() < deadline, "round {round}: {got:?}");
            let _ = mixed.wait_timeout(1, Duration::from_millis(10));
        }
    }
    assert_eq!(got, want);
    assert_eq!(mixed.completions().count(), 0);
}

// ---------------------------------------------------------------------------
// Rings of `create_many` that share an SQ thread.
// ---------------------------------------------------------------------------

/// `create_many` with SQPOLL attaches rings to their owners' SQ threads.
/// Linux 6.18's shared thread takes at most eight SQEs of a ring per pass
/// and would run a chain it cuts as two, so every ring that shares a
/// thread, owner and attached alike, must refuse chains; rings that own
/// their thread alone take them.
#[test]
fn create_many_rings_sharing_an_sq_thread_refuse_chains() {
    let _watch = uring_tests::watchdog();
    if !require_sqpoll() {
        return;
    }
    let builder = Ring::builder().sqpoll(Duration::from_millis(50));
    let chain = |ud: u64| Nop::new().user_data(ud).link(Nop::new().user_data(ud + 1));
    let mut shared = Ring::create_many(3, 4, 1, &builder).expect("create_many");
    for (i, ring) in shared.iter_mut().enumerate() {
        let e = ring.push(chain(i as u64 * 10)).unwrap_err();
        assert_eq!(e.kind(), PushErrorKind::SharedSqThread, "ring {i}");
        assert_eq!(ring.pending(), 0, "ring {i}: nothing of the chain pushed");
        ring.push(Nop::new().user_data(i as u64)).unwrap();
        ring.submit_and_wait(1).unwrap();
        let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
        assert_eq!(got, [i as u64], "ring {i}");
    }
    let mut alone = Ring::create_many(2, 4, 2, &builder).expect("create_many");
    for (i, ring) in alone.iter_mut().enumerate() {
        ring.push(chain(50)).unwrap();
        ring.submit_and_wait(2).unwrap();
        let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
        assert_eq!(got, [50, 51], "ring {i}, its thread its own");
    }
}

// ---------------------------------------------------------------------------
// The probe and the query.
// ---------------------------------------------------------------------------

/// Every opcode number is answered without a panic; what the probe says is
/// supported lies at or below the kernel's last opcode, and the query
/// (6.18) counts the same opcodes the probe knows.
#[test]
fn the_probe_and_the_query_agree_at_every_opcode() {
    let ring = Ring::new(2).unwrap();
    let probe = ring.probe().unwrap();
    let supported: Vec<u8> = (0..=255u8).filter(|&op| probe.is_supported(op)).collect();
    assert!(supported.contains(&sys::IORING_OP_NOP));
    assert!(
        supported.iter().all(|&op| op <= probe.last_op()),
        "{supported:?} past {}",
        probe.last_op()
    );
    assert!(!probe.is_supported(255));
    match Query::kernel() {
        Ok(query) => {
            assert_eq!(
                query.opcodes(),
                u32::from(probe.last_op()) + 1,
                "the query's count against the probe's last opcode"
            );
            assert!(query.knows::<Nop>());
        }
        Err(e) => skip(format!("IORING_REGISTER_QUERY: {e}")),
    }
}

// ---------------------------------------------------------------------------
// Waits for SQ room.
// ---------------------------------------------------------------------------

/// A full SQPOLL SQ: `wait_for_sq_space` wakes the thread (asleep after
/// its idle time) and returns once it took some, without a hang; every op
/// completes once.
#[test]
fn wait_for_sq_space_on_a_full_sleeping_sqpoll_ring_returns() {
    let _watch = uring_tests::watchdog();
    if !require_sqpoll() {
        return;
    }
    let mut ring = Ring::builder()
        .sqpoll(Duration::from_millis(1))
        .build(4)
        .unwrap();
    std::thread::sleep(Duration::from_millis(30));
    for ud in 0..4u64 {
        ring.push(Nop::new().user_data(ud)).unwrap();
    }
    assert_eq!(ring.space_left(), 0);
    let (ring, space) = bounded(Duration::from_secs(5), "wait_for_sq_space", move || {
        let space = ring.wait_for_sq_space();
        (ring, space)
    });
    let mut ring = ring;
    let space = space.unwrap();
    assert!(space > 0 && space <= 4, "{space}");
    ring.wait_timeout(4, Duration::from_secs(2)).unwrap();
    let mut got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    got.sort_unstable();
    assert_eq!(got, [0, 1, 2, 3]);
}

/// An SQPOLL ring created disabled has no running thread: a full SQ can
/// never drain. `wait_for_sq_space` must come back with the kernel's
/// refusal (`EBADFD`), not wait for room that never comes.
#[test]
fn wait_for_sq_space_on_a_disabled_sqpoll_ring_fails() {
    let _watch = uring_tests::watchdog();
    if !require_sqpoll() {
        return;
    }
    let mut ring = Ring::builder()
        .sqpoll(Duration::from_millis(10))
        .r_disabled()
        .build(2)
        .unwrap();
    for ud in 0..2u64 {
        ring.push(Nop::new().user_data(ud)).unwrap();
    }
    let (mut ring, r) = bounded(Duration::from_secs(5), "wait_for_sq_space", move || {
        let r = ring.wait_for_sq_space();
        (ring, r)
    });
    let e = r.expect_err("a disabled ring has no room to give");
    assert_eq!(e.raw_os_error(), Some(libc::EBADFD), "{e}");
    // Enabled, the thread takes the SQEs and both complete once.
    ring.enable().unwrap();
    ring.submit().unwrap();
    ring.wait_timeout(2, Duration::from_secs(2)).unwrap();
    let mut got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    got.sort_unstable();
    assert_eq!(got, [0, 1]);
}

/// A wait region of `u32::MAX` slots (256 GiB of arguments) is refused
/// with an error before any call, not by an abort on the bookkeeping the
/// library keeps per slot (32 bytes each, 128 GiB): the ring is left as it
/// was, and a region of a few slots registers after it.
#[test]
fn a_wait_region_too_large_to_track_is_refused_and_leaves_the_ring_as_it_was() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 13, "IORING_REGISTER_MEM_REGION wait arguments") {
        return;
    }
    let mut ring = Ring::builder().r_disabled().build(4).unwrap();
    let r = ring.register_wait_region(u32::MAX);
    let Err(e) = r else {
        skip("this machine had room for 4 billion wait slots");
        return;
    };
    assert_eq!(e.raw_os_error(), Some(libc::ENOMEM), "{e:?}");
    if let Err(e) = ring.register_wait_region(3) {
        skip(format!("register_wait_region: {e}"));
        return;
    }
    ring.enable().unwrap();
    ring.set_registered_wait(2, Some(Duration::from_millis(10)), None)
        .unwrap();
    let r = ring.wait_registered(1, 2);
    assert!(matches!(r, Err(Error::TimedOut)), "{r:?}");
}
