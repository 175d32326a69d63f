//! Ports of liburing's own test cases (the `test/` directory of
//! github.com/axboe/liburing) to uring's API: each test asserts what the C
//! test asserts of the kernel and of liburing's semantics (results, errnos,
//! order, counts, flags).

use std::io::Write as _;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use uring::ops::{LinkTimeout, Nop, Read, Timeout};
use uring::{Cqe, Error, Features, Ring, SqeFlags, TimeoutFlags, WaitArgs, sys};
use uring_tests::{
    PATIENCE, pipe, push_lent, raw_sqe, require_features, skip, submit_and_reap, tcp_pair,
};

/// Pushes `count` NOPs with user_data `first..` and submits them, asserting
/// the kernel took them all (liburing's `queue_n_nops`).
fn queue_nops(ring: &mut Ring, first: u64, count: u64) {
    for i in 0..count {
        ring.push(Nop::new().user_data(first + i))
            .unwrap_or_else(|_| panic!("push {i}: the queue is full"));
    }
    assert_eq!(ring.submit().expect("submit"), count as u32);
}

/// Every completion there is now (flushing held-back ones), in CQ order.
fn drain(ring: &mut Ring) -> Vec<Cqe> {
    let mut out = Vec::new();
    loop {
        let batch: Vec<Cqe> = ring.completions().collect();
        if batch.is_empty() {
            return out;
        }
        out.extend(batch);
    }
}

// ---------------------------------------------------------------- cq-*

/// cq-full.c: three batches of 4 NOPs on a ring of 4 (a CQ of 8): every
/// completion is still delivered by peeking, and none is dropped.
#[test]
fn cq_full_peek_finds_every_overflowed_nop() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    for batch in 0..3 {
        queue_nops(&mut ring, batch * 4, 4);
    }
    let mut seen = 0;
    while let Some(cqe) = ring.peek() {
        assert_eq!(cqe.res(), 0);
        assert_eq!(ring.advance(1), 1);
        seen += 1;
        assert!(seen <= 12, "more completions than NOPs");
    }
    assert!(seen >= 8, "only {seen} completions");
    if ring.params().has(Features::NODROP) {
        assert_eq!(seen, 12, "a NODROP kernel keeps every completion");
        assert_eq!(ring.overflow(), 0);
    } else {
        assert_eq!(ring.overflow(), 4);
    }
}

/// cq-overflow.c `test_overflow`: 4x4 NOPs on a ring of 4 overflow the CQ
/// by 8; peeking then returns every one in submission order.
#[test]
fn cq_overflow_completions_come_back_in_order() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    for batch in 0..4 {
        queue_nops(&mut ring, batch * 4, 4);
    }
    let mut seq = 0u64;
    while let Some(cqe) = ring.peek() {
        assert_eq!(cqe.user_data(), seq, "completion out of order");
        ring.advance(1);
        seq += 1;
    }
    if ring.params().has(Features::NODROP) {
        assert_eq!(seq, 16);
    } else {
        assert_eq!(ring.overflow(), 8);
    }
}

/// One run of cq-overflow.c `test_overflow_handling`.
fn overflow_handling(batch: bool, cq_entries: u32, iopoll: bool, defer: bool) {
    const N: usize = 8;
    const LOOPS: usize = 128;
    let mut builder = Ring::builder().cq_entries(cq_entries);
    if iopoll {
        builder = builder.iopoll();
    }
    if defer {
        builder = builder.single_issuer().defer_taskrun();
    }
    let mut ring = match builder.build(2) {
        Ok(r) => r,
        Err(e) if defer || iopoll => {
            skip(format_args!("ring setup: {e}"));
            return;
        }
        Err(e) => panic!("ring setup: {e}"),
    };
    assert!(ring.params().cq_entries() < N as u32);
    let submit_one = |ring: &mut Ring, ud: u64| {
        ring.push(Nop::new().user_data(ud)).expect("push");
        assert_eq!(ring.submit().expect("submit"), 1);
    };
    let mut completions = [0i64; N];
    let mut queue: Vec<u64> = Vec::new();
    let mut outstanding = 0i64;
    for i in 0..N as u64 {
        submit_one(&mut ring, i);
        outstanding += 1;
    }
    for _ in 0..LOOPS {
        if ring.cq_has_overflow() {
            ring.get_events().expect("get_events");
        } else {
            for ud in queue.drain(..) {
                submit_one(&mut ring, ud);
                outstanding += 1;
            }
        }
        ring.wait(1).expect("wait for one");
        let mut cqes = [Cqe::default(); 2];
        let count = if batch {
            ring.peek_batch(&mut cqes)
        } else {
            cqes[0] = ring.peek().expect("a completion after the wait");
            1
        };
        assert!(count >= 1);
        for cqe in &cqes[..count] {
            let ud = cqe.user_data();
            assert!(ud < N as u64, "{cqe:?}");
            completions[ud as usize] += 1;
            queue.push(ud);
        }
        assert_eq!(ring.advance(count as u32), count as u32);
        outstanding -= count as i64;
    }
    loop {
        ring.get_events().expect("get_events");
        if outstanding > 0 && ring.ready() == 0 {
            ring.wait_timeout(1, PATIENCE)
                .expect("the last completions");
        }
        let count = ring.ready();
        ring.advance(count);
        outstanding -= i64::from(count);
        if count == 0 {
            break;
        }
    }
    assert_eq!(outstanding, 0, "completions lost");
    assert_eq!(ring.overflow(), 0);
    for i in 1..N {
        assert!(
            (completions[i] - completions[i - 1]).abs() <= 1,
            "unfair completions: {completions:?}"
        );
    }
}

/// cq-overflow.c `test_overflow_handling`: a CQ of 2 or 4 with 8 NOPs
/// always in flight, flushed with `get_events` while the overflow flag is
/// up; no completion is lost and they come back in the order sent.
#[test]
fn cq_overflow_handling_keeps_order_and_count() {
    let _watch = uring_tests::watchdog();
    for i in 0..16 {
        let batch = i & 1 != 0;
        let cq = if i & 2 != 0 { 2 } else { 4 };
        let iopoll = i & 4 != 0;
        let defer = i & 8 != 0;
        overflow_handling(batch, cq, iopoll, defer);
    }
}

/// cq-peek-batch.c: an empty CQ peeks 0; 4 NOPs peek 4 in order; after 4
/// more and advancing 4, the next 4 are the second batch.
#[test]
fn cq_peek_batch_sees_batches_in_order() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    let mut cqes = [Cqe::default(); 8];
    assert_eq!(ring.peek_batch(&mut cqes[..4]), 0);
    queue_nops(&mut ring, 0, 4);
    assert_eq!(ring.peek_batch(&mut cqes[..4]), 4);
    for (i, c) in cqes[..4].iter().enumerate() {
        assert_eq!(c.user_data(), i as u64);
    }
    queue_nops(&mut ring, 4, 4);
    assert_eq!(ring.advance(4), 4);
    assert_eq!(ring.peek_batch(&mut cqes[..4]), 4);
    for (i, c) in cqes[..4].iter().enumerate() {
        assert_eq!(c.user_data(), i as u64 + 4);
    }
    assert_eq!(ring.advance(8), 4, "only 4 were left");
    assert_eq!(ring.ready(), 0);
}

/// cq-ready.c: `ready` counts the posted completions down as they are
/// advanced past, one, two and one at a time.
#[test]
fn cq_ready_counts_down_with_advance() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    assert_eq!(ring.ready(), 0);
    queue_nops(&mut ring, 0, 4);
    assert_eq!(ring.ready(), 4);
    ring.advance(4);
    assert_eq!(ring.ready(), 0);
    queue_nops(&mut ring, 4, 4);
    assert_eq!(ring.ready(), 4);
    ring.advance(1);
    assert_eq!(ring.ready(), 3);
    ring.advance(2);
    assert_eq!(ring.ready(), 1);
    ring.advance(1);
    assert_eq!(ring.ready(), 0);
}

/// cq-size.c: a CQ of 64 asked for a ring of 4 gets at least 64 entries.
#[test]
fn cq_size_takes_the_asked_cq_size() {
    let _watch = uring_tests::watchdog();
    let ring = Ring::builder().cq_entries(64).build(4).unwrap();
    assert!(ring.params().cq_entries() >= 64);
    assert_eq!(ring.cq_entries(), ring.params().cq_entries());
}

/// cq-size.c: a CQ size of 0 is refused with `EINVAL`.
#[test]
fn cq_size_zero_is_einval() {
    let _watch = uring_tests::watchdog();
    let err = Ring::builder()
        .cq_entries(0)
        .build(4)
        .expect_err("a CQ of 0 entries was accepted");
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err:?}");
}

// ---------------------------------------------------------------- sq-*

/// sq-space_left.c `test_left`: a ring of 8 has 8 free slots, one less
/// after each push, and takes exactly 8.
#[test]
fn sq_space_left_counts_down_each_push() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    assert_eq!(ring.space_left(), 8);
    let mut pushed = 0;
    while ring.push(Nop::new()).is_ok() {
        pushed += 1;
        assert_eq!(ring.space_left(), 8 - pushed);
    }
    assert_eq!(pushed, 8);
}

/// sq-space_left.c `test_sync`: 8 NOPs, an SQE with an unknown opcode and
/// 8 more NOPs: the first submit takes 9 (stopping at the bad one), leaving
/// 8, which the second submit takes.
#[test]
fn sq_space_left_bad_opcode_stops_the_submit() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(32).unwrap();
    let mut sqes = vec![raw_sqe(sys::IORING_OP_NOP, -1, 0, 0, 0, 0); 17];
    sqes[8].opcode = 0xfe;
    // SAFETY: NOPs and an unknown opcode name no memory and no descriptor.
    unsafe { ring.push_raw(&sqes) }.expect("17 SQEs fit a ring of 32");
    assert_eq!(ring.pending(), 17);
    assert_eq!(ring.submit().expect("submit"), 9);
    assert_eq!(ring.pending(), 8);
    assert_eq!(ring.submit().expect("submit"), 8);
    assert_eq!(ring.pending(), 0);
    let cqes = submit_and_reap(&mut ring, 17);
    let bad: Vec<&Cqe> = cqes.iter().filter(|c| c.res() != 0).collect();
    assert_eq!(bad.len(), 1, "{cqes:?}");
    assert_eq!(bad[0].res(), -libc::EINVAL);
}

// ---------------------------------------------------------------- waits

/// wait-timeout.c: a wait for one completion with a timeout of zero
/// returns `ETIME` at once.
#[test]
fn wait_timeout_of_zero_is_etime_at_once() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_features(&ring, Features::EXT_ARG, "waits with a timeout") {
        return;
    }
    let start = Instant::now();
    let err = ring.wait_timeout(1, Duration::ZERO).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ETIME), "{err:?}");
    assert!(start.elapsed() < Duration::from_secs(1));
}

/// wait-timeout.c: a wait of 2 s on an idle ring returns `ETIME` after
/// 1 to 3 s (and on the boot-time clock too, once registered).
#[test]
fn wait_timeout_expires_after_its_length() {
    let _watch = uring_tests::watchdog();
    for boottime in [false, true] {
        let mut ring = Ring::new(8).unwrap();
        if !require_features(&ring, Features::EXT_ARG, "waits with a timeout") {
            return;
        }
        if boottime && ring.register_clock(uring::Clock::Boottime).is_err() {
            skip("no IORING_REGISTER_CLOCK");
            continue;
        }
        let start = Instant::now();
        let err = ring.wait_timeout(1, Duration::from_secs(2)).unwrap_err();
        assert!(matches!(err, Error::TimedOut), "{err:?}");
        let took = start.elapsed();
        assert!(took >= Duration::from_secs(1), "{took:?}");
    }
}

/// timeout-new.c: a NOP submitted before `wait_cqe_timeout` completes the
/// wait before its 200 ms, on a plain ring and on an SQPOLL ring; with
/// nothing in flight the wait returns `ETIME` after about 200 ms.
#[test]
fn timeout_new_returns_before_and_after_the_timeout() {
    let _watch = uring_tests::watchdog();
    for sqpoll in [false, true] {
        let mut ring = if sqpoll {
            Ring::builder()
                .sqpoll(Duration::from_millis(1000))
                .build(8)
                .unwrap()
        } else {
            Ring::new(8).unwrap()
        };
        if !require_features(&ring, Features::EXT_ARG, "waits with a timeout") {
            return;
        }
        ring.push(Nop::new().user_data(1)).unwrap();
        assert!(ring.submit().unwrap() >= 1);
        ring.wait_timeout(1, Duration::from_millis(200))
            .expect("the NOP completes first");
        let cqe = ring.completions().next().unwrap();
        assert_eq!((cqe.user_data(), cqe.res()), (1, 0));

        let start = Instant::now();
        let err = ring
            .wait_timeout(1, Duration::from_millis(200))
            .unwrap_err();
        assert!(matches!(err, Error::TimedOut), "{err:?}");
        assert!(start.elapsed() >= Duration::from_millis(100));
    }
}

/// One run of min-timeout.c: 8 reads of 8 pipes, 6 of which a thread
/// fills every `write_delay`; one wait for 8 with a 250 ms timeout and a
/// minimum wait of `min_wait`. Returns the wait's length, the number of
/// completions then ready, and the numbers of writes finished well before
/// the wait ended and begun before it ended.
fn min_timeout_run(
    ring: &mut Ring,
    min_wait: Duration,
    write_delay: Duration,
) -> (Duration, usize, usize, usize) {
    const NPIPES: usize = 8;
    const NWRITES: usize = 6;
    let pipes: Vec<(OwnedFd, OwnedFd)> = (0..NPIPES).map(|_| pipe()).collect();
    let writers: Vec<OwnedFd> = pipes
        .iter()
        .take(NWRITES)
        .map(|(_, w)| w.try_clone().unwrap())
        .collect();
    let mut bufs = vec![[0u8; 32]; NPIPES];
    let thread = std::thread::spawn(move || {
        let mut written = Vec::new();
        for w in writers {
            std::thread::sleep(write_delay);
            let mut f = std::fs::File::from(w);
            let started = Instant::now();
            f.write_all(&[0x55; 32]).unwrap();
            written.push((started, Instant::now()));
        }
        written
    });
    for (i, ((r, _), buf)) in pipes.iter().zip(bufs.iter_mut()).enumerate() {
        push_lent!(ring, Read::new(r, &mut buf[..]).user_data(i as u64)).unwrap();
    }
    let start = Instant::now();
    let args = WaitArgs::new()
        .timeout(Duration::from_millis(250))
        .min_wait(min_wait);
    let _ = ring.submit_and_wait_with(NPIPES as u32, &args);
    let end = Instant::now();
    let took = end - start;
    let count = ring.ready() as usize;
    // Fill the two pipes that get no data, so that every read completes
    // before the buffers go.
    for (_, w) in pipes.iter().skip(NWRITES) {
        std::fs::File::from(w.try_clone().unwrap())
            .write_all(&[0; 32])
            .unwrap();
    }
    let written = thread.join().unwrap();
    let mut reaped = 0;
    while reaped < NPIPES {
        ring.wait_timeout(1, PATIENCE).expect("the reads complete");
        reaped += ring.completions().count();
    }
    // The writes finished well before the wait ended, which it must have
    // seen (a loaded machine can delay the writer past the minimum wait),
    // and those started before it ended, the most it can have seen.
    let margin = Duration::from_millis(5);
    let seen = written.iter().filter(|&&(_, t)| t + margin <= end).count();
    let started = written.iter().filter(|&&(t, _)| t <= end).count();
    assert!(
        seen <= count && count <= started.max(1),
        "{count} completions; {seen} writes well before the wait ended, {started} begun before"
    );
    (took, count, seen, started)
}

/// min-timeout.c: with a minimum wait of 50 ms and writes every 2 ms, the
/// wait for 8 returns after about 50 ms with the 6 completions; with a
/// minimum wait of 10 ms and writes every 20 ms, it returns with the first
/// one; with no minimum wait it runs to its timeout with 6.
#[test]
fn min_timeout_returns_after_the_minimum_wait_with_what_arrived() {
    let _watch = uring_tests::watchdog();
    for defer in [false, true] {
        let mut ring = if defer {
            Ring::builder()
                .single_issuer()
                .defer_taskrun()
                .build(8)
                .unwrap()
        } else {
            Ring::new(8).unwrap()
        };
        if !require_features(&ring, Features::MIN_TIMEOUT, "minimum waits") {
            return;
        }
        let (took, n, seen, _) = min_timeout_run(
            &mut ring,
            Duration::from_millis(50),
            Duration::from_millis(2),
        );
        assert!(took >= Duration::from_millis(37), "defer {defer}: {took:?}");
        if seen == 6 {
            assert_eq!(n, 6, "defer {defer}: completions after {took:?}");
            assert!(took < Duration::from_millis(240), "defer {defer}: {took:?}");
        }

        let (took, n, _, started) = min_timeout_run(
            &mut ring,
            Duration::from_millis(10),
            Duration::from_millis(20),
        );
        assert!(n >= 1, "defer {defer}: completions after {took:?}");
        if started <= 1 {
            assert_eq!(n, 1, "defer {defer}: completions after {took:?}");
        }
        assert!(took >= Duration::from_millis(15), "defer {defer}: {took:?}");

        let (took, n, seen, _) =
            min_timeout_run(&mut ring, Duration::ZERO, Duration::from_millis(2));
        if seen == 6 {
            assert_eq!(n, 6, "defer {defer}: completions after {took:?}");
        }
        assert!(
            took >= Duration::from_millis(187),
            "defer {defer}: {took:?}"
        );
    }
}

/// min-timeout.c: a minimum wait of 500 ms, longer than the 250 ms
/// timeout, with writes every 2 ms: the 6 completions are there when the
/// wait returns (what the C test asserts; it expects the kernel to stretch
/// the wait to the minimum, which `WaitArgs::min_wait` does not: its wait
/// ends by the timeout, as documented).
#[test]
fn min_timeout_longer_than_the_timeout_sees_every_completion() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_features(&ring, Features::MIN_TIMEOUT, "minimum waits") {
        return;
    }
    let (took, n, _, _) = min_timeout_run(
        &mut ring,
        Duration::from_millis(500),
        Duration::from_millis(2),
    );
    assert_eq!(n, 6, "after {took:?}");
    assert!(
        took >= Duration::from_millis(187),
        "returned after {took:?}"
    );
}

// ---------------------------------------------------------------- skip-cqe

/// A write of 100 bytes from address 0 to `fd`: fails with `EFAULT`.
fn efault_write(fd: i32, flags: u8, user_data: u64) -> sys::io_uring_sqe {
    raw_sqe(sys::IORING_OP_WRITE, fd, 0, 100, flags, user_data)
}

fn assert_cq_empty(ring: &mut Ring) {
    std::thread::sleep(Duration::from_millis(10));
    let left = drain(ring);
    assert!(left.is_empty(), "unexpected completions: {left:?}");
}

/// skip-cqe.c `test_link_success`: a chain of NOPs flagged
/// `CQE_SKIP_SUCCESS` (but the last, unless it is skipped too) posts only
/// the last NOP's completion.
#[test]
fn skip_cqe_link_success_posts_only_the_unskipped() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(16).unwrap();
    if !require_features(&ring, Features::CQE_SKIP, "CQE_SKIP_SUCCESS") {
        return;
    }
    for (nr, skip_last) in [(1u64, false), (1, true), (6, false), (6, true)] {
        let sqes: Vec<sys::io_uring_sqe> = (0..nr)
            .map(|i| {
                let flags = if i != nr - 1 || skip_last {
                    sys::IOSQE_IO_LINK | sys::IOSQE_CQE_SKIP_SUCCESS
                } else {
                    0
                };
                raw_sqe(sys::IORING_OP_NOP, -1, 0, 0, flags, i)
            })
            .collect();
        // SAFETY: NOPs name no memory and no descriptor.
        unsafe { ring.push_raw(&sqes) }.unwrap();
        assert_eq!(ring.submit().unwrap(), nr as u32);
        if !skip_last {
            ring.wait_timeout(1, PATIENCE).unwrap();
            let cqe = ring.completions().next().unwrap();
            assert_eq!((cqe.user_data(), cqe.res()), (nr - 1, 0));
        }
        assert_cq_empty(&mut ring);
    }
}

/// skip-cqe.c `test_link_fail`: in a chain of 6 skipped-on-success ops,
/// the one that fails posts its completion and nothing else does (the
/// cancelled rest were skipped too).
#[test]
fn skip_cqe_link_fail_posts_only_the_failure() {
    let _watch = uring_tests::watchdog();
    let (_rx, tx) = pipe();
    let mut ring = Ring::new(16).unwrap();
    if !require_features(&ring, Features::CQE_SKIP, "CQE_SKIP_SUCCESS") {
        return;
    }
    for fail in [3u64, 5] {
        let sqes: Vec<sys::io_uring_sqe> = (0..6u64)
            .map(|i| {
                let flags = if i != 5 {
                    sys::IOSQE_IO_LINK | sys::IOSQE_CQE_SKIP_SUCCESS
                } else {
                    0
                };
                if i == fail {
                    efault_write(tx.as_raw_fd(), flags, i)
                } else {
                    raw_sqe(sys::IORING_OP_NOP, -1, 0, 0, flags, i)
                }
            })
            .collect();
        // SAFETY: NOPs name nothing; the write names address 0 (it faults)
        // and the pipe, open until the end of the test.
        unsafe { ring.push_raw(&sqes) }.unwrap();
        assert_eq!(ring.submit().unwrap(), 6);
        ring.wait_timeout(1, PATIENCE).unwrap();
        let cqe = ring.completions().next().unwrap();
        assert_eq!(cqe.user_data(), fail, "{cqe:?}");
        assert_ne!(cqe.res(), 0, "{cqe:?}");
        assert_cq_empty(&mut ring);
    }
}

/// skip-cqe.c `test_ltimeout_cancel`: a link timeout flagged
/// `CQE_SKIP_SUCCESS` inside a chain of skipped NOPs is cancelled without
/// a completion; only the last op (or the one that fails, with `EFAULT`)
/// posts one.
#[test]
fn skip_cqe_cancelled_link_timeouts_post_nothing() {
    let _watch = uring_tests::watchdog();
    let (_rx, tx) = pipe();
    let mut ring = Ring::new(16).unwrap();
    if !require_features(&ring, Features::CQE_SKIP, "CQE_SKIP_SUCCESS") {
        return;
    }
    let ts = sys::__kernel_timespec {
        tv_sec: 1,
        tv_nsec: 0,
    };
    // (nr, timeout after, fail index)
    let cases: [(u64, u64, Option<u64>); 6] = [
        (1, 0, None),
        (6, 3, None),
        (6, 5, None),
        (6, 3, Some(3)),
        (6, 3, Some(2)),
        (6, 3, Some(4)),
    ];
    for async_ in [false, true] {
        for &(nr, tout, fail) in &cases {
            let mut sqes = Vec::new();
            for i in 0..nr {
                let mut flags = sys::IOSQE_IO_LINK;
                if async_ {
                    flags |= sys::IOSQE_ASYNC;
                }
                if i != nr - 1 {
                    flags |= sys::IOSQE_CQE_SKIP_SUCCESS;
                }
                sqes.push(if Some(i) == fail {
                    efault_write(tx.as_raw_fd(), flags, i)
                } else {
                    raw_sqe(sys::IORING_OP_NOP, -1, 0, 0, flags, i)
                });
                if i == tout {
                    sqes.push(raw_sqe(
                        sys::IORING_OP_LINK_TIMEOUT,
                        -1,
                        &ts as *const _ as u64,
                        1,
                        sys::IOSQE_IO_LINK | sys::IOSQE_CQE_SKIP_SUCCESS,
                        u64::MAX,
                    ));
                }
            }
            // The kernel takes the last SQE's link flag as ending the chain.
            // SAFETY: the timespec and the pipe outlive the ring's use of
            // them (the timespec is read at submission); the write faults.
            unsafe { ring.push_raw(&sqes) }.unwrap();
            assert_eq!(ring.submit().unwrap(), nr as u32 + 1);
            ring.wait_timeout(1, PATIENCE).unwrap();
            let cqe = ring.completions().next().unwrap();
            let (e_idx, e_res) = match fail {
                Some(f) => (f, -libc::EFAULT),
                None => (nr - 1, 0),
            };
            assert_eq!(
                (cqe.user_data(), cqe.res()),
                (e_idx, e_res),
                "async {async_} nr {nr} tout {tout} fail {fail:?}"
            );
            assert_cq_empty(&mut ring);
        }
    }
}

/// skip-cqe.c `test_ltimeout_fire`: a read of an empty pipe bounded by a
/// 1 ms link timeout is cancelled (`ECANCELED` or `EINTR`) and posts that
/// even when flagged `CQE_SKIP_SUCCESS`; the timeout posts unless it is
/// skipped.
#[test]
fn skip_cqe_fired_link_timeout_posts_the_cancelled_read() {
    let _watch = uring_tests::watchdog();
    let (rx, _tx) = pipe();
    let mut ring = Ring::new(16).unwrap();
    if !require_features(&ring, Features::CQE_SKIP, "CQE_SKIP_SUCCESS") {
        return;
    }
    for i in 0..8 {
        let async_ = i & 1 != 0;
        let skip_main = i & 2 != 0;
        let skip_tout = i & 4 != 0;
        let mut buf = [0u8; 1];
        let mut main_flags = SqeFlags::EMPTY;
        if async_ {
            main_flags |= SqeFlags::ASYNC;
        }
        if skip_main {
            main_flags |= SqeFlags::CQE_SKIP_SUCCESS;
        }
        let tout_flags = if skip_tout {
            SqeFlags::CQE_SKIP_SUCCESS
        } else {
            SqeFlags::EMPTY
        };
        // Outside a scope: a scope posts every op's completion, skipped or
        // not (see `Scope::push`).
        push_lent!(
            ring,
            Read::new(&rx, &mut buf[..])
                .user_data(0)
                .flags(main_flags)
                .link_timeout(
                    LinkTimeout::new(Duration::from_millis(1))
                        .user_data(1)
                        .flags(tout_flags),
                ),
        )
        .unwrap();
        ring.submit().unwrap();
        let nr = 1 + usize::from(!skip_tout);
        let mut cqes = Vec::new();
        while cqes.len() < nr {
            ring.wait_timeout(1, PATIENCE).unwrap();
            cqes.extend(ring.completions());
        }
        std::thread::sleep(Duration::from_millis(10));
        cqes.extend(ring.completions());
        assert_eq!(
            cqes.len(),
            1 + usize::from(!skip_tout),
            "case {i}: {cqes:?}"
        );
        for c in &cqes {
            match c.user_data() {
                0 => assert!(
                    c.res() == -libc::ECANCELED || c.res() == -libc::EINTR,
                    "case {i}: {c:?}"
                ),
                1 => assert!(!skip_tout, "case {i}: {c:?}"),
                _ => panic!("case {i}: {c:?}"),
            }
        }
    }
}

/// skip-cqe.c `test_hardlink`: in a hard-linked chain of 7, the op flagged
/// `CQE_SKIP_SUCCESS` posts nothing unless it is the one that fails; every
/// other op posts in order, the failing one with an error.
#[test]
fn skip_cqe_hardlinks_post_all_but_the_skipped() {
    let _watch = uring_tests::watchdog();
    let (_rx, tx) = pipe();
    let mut ring = Ring::new(16).unwrap();
    if !require_features(&ring, Features::CQE_SKIP, "CQE_SKIP_SUCCESS") {
        return;
    }
    const NR: u64 = 7;
    for fail in [0u64, 3, 6] {
        for skip_idx in [0u64, 3, 6] {
            for hardlink_last in [false, true] {
                let sqes: Vec<sys::io_uring_sqe> = (0..NR)
                    .map(|i| {
                        let mut flags = 0;
                        if i != NR - 1 || hardlink_last {
                            flags |= sys::IOSQE_IO_HARDLINK;
                        }
                        if i == skip_idx {
                            flags |= sys::IOSQE_CQE_SKIP_SUCCESS;
                        }
                        if i == fail {
                            efault_write(tx.as_raw_fd(), flags, i)
                        } else {
                            raw_sqe(sys::IORING_OP_NOP, -1, 0, 0, flags, i)
                        }
                    })
                    .collect();
                // SAFETY: NOPs name nothing; the write faults on address 0
                // and names the pipe, open until the end of the test.
                unsafe { ring.push_raw(&sqes) }.unwrap();
                assert_eq!(ring.submit().unwrap(), NR as u32);
                let expected: Vec<u64> = (0..NR)
                    .filter(|&i| !(i == skip_idx && fail != skip_idx))
                    .collect();
                let mut got = Vec::new();
                while got.len() < expected.len() {
                    ring.wait_timeout(1, PATIENCE).unwrap();
                    got.extend(ring.completions());
                }
                let ids: Vec<u64> = got.iter().map(Cqe::user_data).collect();
                assert_eq!(ids, expected, "fail {fail} skip {skip_idx}");
                for c in &got {
                    if c.user_data() == fail {
                        assert!(c.res() < 0, "{c:?}");
                    } else {
                        assert_eq!(c.res(), 0, "{c:?}");
                    }
                }
                assert_cq_empty(&mut ring);
            }
        }
    }
}

// ---------------------------------------------------------------- timeouts

/// timeout.c `test_multi_timeout` / multishot: a multishot timeout with a
/// count of 3 fires three times, the first two flagged `F_MORE`, each
/// `ETIME`, and the last ends it.
#[test]
fn timeout_multishot_fires_count_times() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(
        Timeout::new(Duration::from_millis(20))
            .count(3)
            .timeout_flags(TimeoutFlags::MULTISHOT)
            .user_data(7),
    )
    .unwrap();
    ring.submit().unwrap();
    let mut got = Vec::new();
    while got.len() < 3 {
        ring.wait_timeout(1, PATIENCE).unwrap();
        got.extend(ring.completions());
    }
    if got[0].res() == -libc::EINVAL {
        skip("no multishot timeouts (6.4)");
        return;
    }
    for (i, c) in got.iter().enumerate() {
        assert_eq!(c.user_data(), 7);
        assert_eq!(c.res(), -libc::ETIME, "{c:?}");
        assert_eq!(c.has_more(), i < 2, "shot {i}: {c:?}");
    }
    assert_cq_empty(&mut ring);
}

/// timeout.c `test_timeout_flags` (ETIME_SUCCESS): a timeout flagged
/// `ETIME_SUCCESS` that expires completes with `ETIME` yet counts as a
/// success, so the op linked after it runs.
#[test]
fn timeout_etime_success_runs_its_link() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(
        Timeout::new(Duration::from_millis(10))
            .timeout_flags(TimeoutFlags::ETIME_SUCCESS)
            .user_data(1)
            .link(Nop::new().user_data(2)),
    )
    .unwrap();
    let cqes = submit_and_reap(&mut ring, 2);
    if cqes[0].res() == -libc::EINVAL {
        skip("no IORING_TIMEOUT_ETIME_SUCCESS (5.16)");
        return;
    }
    let ids: Vec<(u64, i32)> = cqes.iter().map(|c| (c.user_data(), c.res())).collect();
    assert_eq!(ids, [(1, -libc::ETIME), (2, 0)]);
}

/// timeout.c: a timeout with a count of 2 completes with 0 once two other
/// completions were posted, before its long expiry.
#[test]
fn timeout_count_completes_after_two_nops() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(Timeout::new(Duration::from_secs(30)).count(2).user_data(9))
        .unwrap();
    ring.submit().unwrap();
    queue_nops(&mut ring, 1, 2);
    let cqes = submit_and_reap(&mut ring, 3);
    let t = cqes.iter().find(|c| c.user_data() == 9).unwrap();
    assert_eq!(t.res(), 0, "{cqes:?}");
}

/// timeout.c `test_single_timeout_abs`: an absolute timeout on
/// `CLOCK_MONOTONIC` 10 ms ahead expires with `ETIME`.
#[test]
fn timeout_absolute_expires() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    assert_eq!(rc, 0);
    let at = Duration::new(now.tv_sec as u64, now.tv_nsec as u32) + Duration::from_millis(10);
    ring.push(
        Timeout::new(uring::Timespec::new(at.as_secs(), at.subsec_nanos()))
            .timeout_flags(TimeoutFlags::ABS)
            .user_data(3),
    )
    .unwrap();
    let start = Instant::now();
    let cqe = uring_tests::reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (3, -libc::ETIME));
    assert!(start.elapsed() < Duration::from_secs(5));
}

// ---------------------------------------------------------------- eventfd

/// A new eventfd, close-on-exec (and non-blocking if asked).
fn eventfd(nonblock: bool) -> OwnedFd {
    use std::os::fd::FromRawFd;
    let flags = libc::EFD_CLOEXEC | if nonblock { libc::EFD_NONBLOCK } else { 0 };
    // SAFETY: eventfd takes plain integers.
    let fd = unsafe { libc::eventfd(0, flags) };
    assert!(fd >= 0, "eventfd: {}", std::io::Error::last_os_error());
    // SAFETY: eventfd just returned this descriptor, owned by no one else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Whether `fd` polls readable within `ms` milliseconds.
fn can_read(fd: &OwnedFd, ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `p` is one valid pollfd.
    unsafe { libc::poll(&mut p, 1, ms) == 1 }
}

fn eventfd_trigger(fd: &OwnedFd) {
    let one = 1u64.to_ne_bytes();
    // SAFETY: writes 8 bytes from a live buffer.
    let n = unsafe { libc::write(fd.as_raw_fd(), one.as_ptr().cast(), 8) };
    assert_eq!(n, 8);
}

fn eventfd_clear(fd: &OwnedFd) {
    let mut v = [0u8; 8];
    // SAFETY: reads 8 bytes into a live buffer.
    let n = unsafe { libc::read(fd.as_raw_fd(), v.as_mut_ptr().cast(), 8) };
    assert_eq!(n, 8);
}

/// eventfd.c: a poll on the ring's own registered eventfd, linked to a
/// read of it, and a NOP after: the NOP's completion signals the eventfd,
/// the poll completes with `POLLIN`, the read with 8 bytes, the NOP with 0.
#[test]
fn eventfd_poll_and_read_of_the_rings_own_eventfd() {
    use uring::PollEvents;
    use uring::ops::{PollAdd, ReadV};
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let evfd = eventfd(false);
    ring.register_eventfd(evfd.as_fd(), false).unwrap();
    let mut value = [0u8; 8];
    let mut iov = [std::io::IoSliceMut::new(&mut value)];
    let got = ring.scope(|s| {
        s.push(
            PollAdd::new(&evfd, PollEvents::IN)
                .user_data(1)
                .link(ReadV::new(&evfd, &mut iov[..]).user_data(2)),
        )
        .unwrap();
        assert_eq!(s.submit().unwrap(), 2);
        s.push(Nop::new().user_data(3)).unwrap();
        assert_eq!(s.submit().unwrap(), 1);
        let mut got = Vec::new();
        while got.len() < 3 {
            s.wait_timeout(1, PATIENCE).unwrap();
            got.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        got
    });
    let mut got = got;
    got.sort_unstable();
    assert_eq!(got, [(1, libc::POLLIN as i32), (2, 8), (3, 0)]);
}

/// eventfd-ring.c: two rings, each polling the other's registered eventfd;
/// a NOP on the first submits and completes, on a plain and on a
/// deferred-task-work pair.
#[test]
fn eventfd_ring_two_rings_poll_each_others_eventfd() {
    use uring::PollEvents;
    use uring::ops::PollAdd;
    let _watch = uring_tests::watchdog();
    for defer in [false, true] {
        let build = || {
            if defer {
                Ring::builder().single_issuer().defer_taskrun().build(8)
            } else {
                Ring::new(8)
            }
        };
        let (mut ring1, mut ring2) = (build().unwrap(), build().unwrap());
        let (evfd1, evfd2) = (eventfd(false), eventfd(false));
        ring1.register_eventfd(evfd1.as_fd(), false).unwrap();
        ring2.register_eventfd(evfd2.as_fd(), false).unwrap();
        push_lent!(ring1, PollAdd::new(&evfd2, PollEvents::IN).user_data(1)).unwrap();
        push_lent!(ring2, PollAdd::new(&evfd1, PollEvents::IN).user_data(1)).unwrap();
        assert_eq!(ring1.submit().unwrap(), 1);
        assert_eq!(ring2.submit().unwrap(), 1);
        ring1.push(Nop::new().user_data(3)).unwrap();
        assert_eq!(ring1.submit().unwrap(), 1);
        ring1.wait_timeout(1, PATIENCE).unwrap();
        let nop = ring1.completions().find(|c| c.user_data() == 3);
        assert_eq!(nop.map(|c| c.res()), Some(0), "defer {defer}");
        // The rings (and the polls on the eventfds) go before the eventfds.
        drop(ring1);
        drop(ring2);
    }
}

// ---------------------------------------------------------------- single-issuer

/// Submits a NOP with user_data 42 and reaps it (single-issuer.c
/// `try_submit`); the errno of a refused submit.
fn try_submit(ring: &mut Ring) -> Result<(), i32> {
    ring.push(Nop::new().user_data(42)).unwrap();
    match ring.submit() {
        // With an SQ thread, the count is what it had not taken yet: it
        // may have taken the NOP already.
        Ok(n) => assert!(n <= 1, "submitted {n}"),
        Err(e) => return Err(e.raw_os_error().expect("an errno")),
    }
    ring.wait_timeout(1, PATIENCE).unwrap();
    let cqe = ring.completions().next().unwrap();
    assert_eq!((cqe.user_data(), cqe.res()), (42, 0));
    Ok(())
}

/// single-issuer.c: the creator of a `SINGLE_ISSUER` ring submits; another
/// task is refused with `EEXIST`.
#[test]
fn single_issuer_another_task_gets_eexist() {
    let _watch = uring_tests::watchdog();
    let Ok(mut ring) = Ring::builder().single_issuer().build(8) else {
        skip("no IORING_SETUP_SINGLE_ISSUER (6.0)");
        return;
    };
    try_submit(&mut ring).expect("the creator submits");
    let other = std::thread::scope(|t| t.spawn(|| try_submit(&mut ring)).join().unwrap());
    assert_eq!(other, Err(libc::EEXIST));
}

/// single-issuer.c: a `SINGLE_ISSUER` ring created disabled belongs to the
/// task that enables it: that task submits, and when the creator enables
/// it another task is refused.
#[test]
fn single_issuer_belongs_to_the_task_that_enables_it() {
    let _watch = uring_tests::watchdog();
    let builder = Ring::builder().single_issuer().r_disabled();
    let Ok(mut ring) = builder.build(8) else {
        skip("no IORING_SETUP_SINGLE_ISSUER (6.0)");
        return;
    };
    let other = std::thread::scope(|t| {
        t.spawn(|| {
            ring.enable().unwrap();
            try_submit(&mut ring)
        })
        .join()
        .unwrap()
    });
    assert_eq!(other, Ok(()), "the enabling task submits");

    let mut ring = builder.build(8).unwrap();
    ring.enable().unwrap();
    let other = std::thread::scope(|t| t.spawn(|| try_submit(&mut ring)).join().unwrap());
    assert_eq!(other, Err(libc::EEXIST));
}

/// single-issuer.c: any task may submit to a `SINGLE_ISSUER` SQPOLL ring
/// (its SQ thread is the one issuer).
#[test]
fn single_issuer_sqpoll_ring_takes_any_submitter() {
    let _watch = uring_tests::watchdog();
    let Ok(mut ring) = Ring::builder()
        .single_issuer()
        .sqpoll(Duration::from_millis(1000))
        .build(8)
    else {
        skip("no SINGLE_ISSUER with SQPOLL");
        return;
    };
    try_submit(&mut ring).expect("the creator submits");
    let other = std::thread::scope(|t| t.spawn(|| try_submit(&mut ring)).join().unwrap());
    assert_eq!(other, Ok(()));
}

// ---------------------------------------------------------------- defer-taskrun

fn defer_ring(extra_flag: bool) -> Option<Ring> {
    let mut b = Ring::builder().single_issuer().defer_taskrun();
    if extra_flag {
        b = b.taskrun_flag();
    }
    match b.build(8) {
        Ok(r) => Some(r),
        Err(e) => {
            skip(format_args!("no DEFER_TASKRUN: {e}"));
            None
        }
    }
}

/// defer-taskrun.c `test_eventfd`: a poll's wake-up on a deferred ring
/// signals the registered eventfd, but its completion is posted only once
/// the task asks (`get_events`); a NOP completes at once.
#[test]
fn defer_taskrun_eventfd_fires_before_the_completion_is_posted() {
    use uring::PollEvents;
    use uring::ops::PollAdd;
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = defer_ring(false) else {
        return;
    };
    let (fda, fdb) = (eventfd(true), eventfd(true));
    ring.register_eventfd(fda.as_fd(), false).unwrap();
    assert!(!can_read(&fda, 0));
    assert!(!can_read(&fdb, 0));
    push_lent!(ring, PollAdd::new(&fdb, PollEvents::IN).user_data(1)).unwrap();
    ring.submit().unwrap();
    assert!(!can_read(&fda, 0), "the poll has not completed");
    ring.push(Nop::new().user_data(2)).unwrap();
    ring.submit().unwrap();
    assert!(can_read(&fda, 0), "the NOP completed");
    let cqe = ring.peek().expect("the NOP's completion");
    assert_eq!((cqe.user_data(), cqe.res()), (2, 0));
    ring.advance(1);
    eventfd_clear(&fda);
    eventfd_trigger(&fdb);
    assert!(can_read(&fda, 1000), "the wake-up signals the eventfd");
    assert_eq!(ring.ready(), 0, "the completion waits for the task");
    ring.get_events().unwrap();
    assert_eq!(ring.ready(), 1);
    let cqe = ring.peek().unwrap();
    assert_eq!(cqe.user_data(), 1);
    assert_eq!(cqe.res() & libc::POLLIN as i32, libc::POLLIN as i32);
    ring.advance(1);
}

/// defer-taskrun.c `test_thread_shutdown`: `get_events` on a disabled
/// deferred ring is `EBADFD`; once another task has enabled it and
/// submitted, this task's `get_events` and waits are `EEXIST`.
#[test]
fn defer_taskrun_other_tasks_ring_is_eexist() {
    let _watch = uring_tests::watchdog();
    let Ok(mut ring) = Ring::builder()
        .single_issuer()
        .defer_taskrun()
        .r_disabled()
        .build(8)
    else {
        skip("no DEFER_TASKRUN");
        return;
    };
    let err = ring.get_events().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EBADFD), "{err:?}");
    let efd = eventfd(false);
    let mut buf = [0u8; 8];
    std::thread::scope(|t| {
        t.spawn(|| {
            ring.enable().unwrap();
            push_lent!(ring, Read::new(&efd, &mut buf[..]).user_data(1)).unwrap();
            ring.submit().unwrap();
        })
        .join()
        .unwrap()
    });
    let err = ring.get_events().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EEXIST), "{err:?}");
    eventfd_trigger(&efd);
    let err = ring.wait(1).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EEXIST), "{err:?}");
    // The read completed (the eventfd had a value); dropping the ring
    // reaps it before `buf` goes.
    drop(ring);
}

/// defer-taskrun.c `test_flag`: with `TASKRUN_FLAG`, a woken poll's task
/// work sets `IORING_SQ_TASKRUN` and posts nothing yet; a peek sees the
/// flag, enters, and finds the completion, clearing the flag.
#[test]
fn defer_taskrun_flag_makes_peek_run_the_task_work() {
    use uring::PollEvents;
    use uring::ops::PollAdd;
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = defer_ring(true) else {
        return;
    };
    let fd = eventfd(true);
    push_lent!(ring, PollAdd::new(&fd, PollEvents::IN).user_data(1)).unwrap();
    ring.submit().unwrap();
    assert!(!can_read(&fd, 0));
    eventfd_trigger(&fd);
    assert!(can_read(&fd, 0));
    assert_eq!(ring.ready(), 0, "the poll's completion is not posted yet");
    assert!(ring.has_task_work(), "IORING_SQ_TASKRUN is set");
    let cqe = ring.peek().expect("peek runs the task work");
    assert_eq!(cqe.user_data(), 1);
    assert!(!ring.has_task_work());
    ring.advance(1);
}

// ---------------------------------------------------------------- msg-ring

fn msg_ring_supported(ring: &Ring) -> bool {
    uring_tests::require_op::<uring::ops::MsgRing>(ring)
}

/// msg-ring.c `test_own`: a message to the ring itself posts the sender's
/// completion (0) and the message (`res` 0x10, `user_data` 0x1234).
#[test]
fn msg_ring_to_its_own_ring() {
    use uring::ops::MsgRing;
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !msg_ring_supported(&ring) {
        return;
    }
    // SAFETY: the ring's descriptor stays open for the whole test; the
    // message names nothing else.
    let me = unsafe { uring::Fd::borrow_raw(ring.as_raw_fd()) };
    push_lent!(ring, MsgRing::new(me, 0x10, 0x1234).user_data(1)).unwrap();
    let mut got: Vec<(u64, i32)> = submit_and_reap(&mut ring, 2)
        .iter()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    got.sort_unstable();
    assert_eq!(got, [(1, 0), (0x1234, 0x10)]);
}

/// msg-ring.c `test_own_sync`: a message posted with
/// `IORING_REGISTER_SEND_MSG_RING` arrives with its `res` and `user_data`.
#[test]
fn msg_ring_sync_post_to_its_own_ring() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    match ring.post(0x10, 0x1234) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip("no IORING_REGISTER_SEND_MSG_RING (6.13)");
            return;
        }
        Err(e) => panic!("post: {e}"),
    }
    ring.wait_timeout(1, PATIENCE).unwrap();
    let cqe = ring.completions().next().unwrap();
    assert_eq!((cqe.user_data(), cqe.res()), (0x1234, 0x10));
}

/// msg-ring.c `test_remote`: a message to another ring completes with 0
/// on the sender and posts `res` 0x20, `user_data` 0x5aa5 on the target
/// (also to a deferred-task-work target waiting on another thread).
#[test]
fn msg_ring_to_a_remote_ring() {
    use uring::ops::MsgRing;
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !msg_ring_supported(&ring) {
        return;
    }
    let mut target = Ring::new(8).unwrap();
    push_lent!(ring, MsgRing::new(&target, 0x20, 0x5aa5).user_data(1)).unwrap();
    let cqe = uring_tests::reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0));
    target.wait_timeout(1, PATIENCE).unwrap();
    let cqe = target.completions().next().unwrap();
    assert_eq!((cqe.user_data(), cqe.res(), cqe.flags()), (0x5aa5, 0x20, 0));

    // A deferred-task-work target that another thread owns and waits on,
    // named here through a target it sent.
    let (target_tx, target_rx) = std::sync::mpsc::channel::<Option<uring::RingTarget>>();
    let waiter = std::thread::spawn(move || {
        let Some(mut remote) = defer_ring(false) else {
            target_tx.send(None).unwrap();
            return None;
        };
        target_tx.send(Some(remote.msg_target().unwrap())).unwrap();
        remote.wait_timeout(1, PATIENCE).unwrap();
        let cqe = remote.completions().next().unwrap();
        Some((cqe.user_data(), cqe.res()))
    });
    if let Some(remote) = target_rx.recv().unwrap() {
        let cqe =
            uring_tests::complete(&mut ring, MsgRing::new(&remote, 0x20, 0x5aa5).user_data(2));
        assert_eq!((cqe.user_data(), cqe.res()), (2, 0));
    }
    if let Some(got) = waiter.join().unwrap() {
        assert_eq!(got, (0x5aa5, 0x20));
    }
}

/// msg-ring-flags.c: a message with `IORING_MSG_RING_FLAGS_PASS` posts
/// `res` 0x20 and `user_data` 0x5aa5 with the `flags` 0x42 given.
#[test]
fn msg_ring_flags_pass_sets_the_targets_cqe_flags() {
    use uring::ops::MsgRing;
    let _watch = uring_tests::watchdog();
    for defer in [false, true] {
        let (Some(mut ring), Some(mut target)) = (
            if defer {
                defer_ring(false)
            } else {
                Ring::new(2).ok()
            },
            if defer {
                defer_ring(false)
            } else {
                Ring::new(2).ok()
            },
        ) else {
            return;
        };
        if !msg_ring_supported(&ring) {
            return;
        }
        for _ in 0..9 {
            push_lent!(
                ring,
                MsgRing::new(&target, 0x20, 0x5aa5)
                    .cqe_flags(0x42)
                    .user_data(1),
            )
            .unwrap();
            let cqe = uring_tests::reap_one(&mut ring);
            if cqe.res() == -libc::EINVAL {
                skip("no IORING_MSG_RING_FLAGS_PASS (6.3)");
                return;
            }
            assert_eq!((cqe.user_data(), cqe.res()), (1, 0));
        }
        let mut got = Vec::new();
        while got.len() < 9 {
            target.wait_timeout(1, PATIENCE).unwrap();
            got.extend(target.completions());
        }
        for c in &got {
            assert_eq!(
                (c.user_data(), c.res(), c.flags()),
                (0x5aa5, 0x20, 0x42),
                "defer {defer}"
            );
        }
    }
}

/// msg-ring.c `test_invalid`: a message to a descriptor that is not a ring
/// fails with `EBADFD`.
#[test]
fn msg_ring_to_a_non_ring_is_ebadfd() {
    use uring::ops::MsgRing;
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !msg_ring_supported(&ring) {
        return;
    }
    let (rx, _tx) = pipe();
    push_lent!(ring, MsgRing::new(&rx, 0, 0x8989).user_data(1)).unwrap();
    let cqe = uring_tests::reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (1, -libc::EBADFD));
}

/// msg-ring.c `test_disabled_ring`: a message to a ring not yet enabled
/// completes with 0 or `EBADFD`.
#[test]
fn msg_ring_to_a_disabled_ring() {
    use uring::ops::MsgRing;
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !msg_ring_supported(&ring) {
        return;
    }
    for defer in [false, true] {
        let mut b = Ring::builder().r_disabled();
        if defer {
            b = b.single_issuer().defer_taskrun();
        }
        let disabled = b.build(8).unwrap();
        push_lent!(ring, MsgRing::new(&disabled, 0x10, 0x1234).user_data(1)).unwrap();
        let cqe = uring_tests::reap_one(&mut ring);
        assert_eq!(cqe.user_data(), 1);
        assert!(cqe.res() == 0 || cqe.res() == -libc::EBADFD, "{cqe:?}");
    }
}

// ---------------------------------------------------------------- file-update

fn temp_files(n: usize) -> Vec<std::fs::File> {
    (0..n).map(|_| tempfile::tempfile().unwrap()).collect()
}

/// file-update.c `test_update_multiring`: the same 10 files registered
/// with three rings are replaced in each by 10 others: each update returns
/// 10; unregistering then works.
#[test]
fn file_update_replaces_files_on_three_rings() {
    let _watch = uring_tests::watchdog();
    for unregister in [true, false] {
        let mut rings: Vec<Ring> = (0..3).map(|_| Ring::new(8).unwrap()).collect();
        let old = temp_files(10);
        let new = temp_files(10);
        let old_fds: Vec<_> = old.iter().map(|f| f.as_fd()).collect();
        let new_fds: Vec<_> = new.iter().map(|f| Some(f.as_fd())).collect();
        let mut tables: Vec<_> = rings
            .iter_mut()
            .map(|r| r.register_files(&old_fds).unwrap())
            .collect();
        for (r, t) in rings.iter_mut().zip(tables.iter_mut()) {
            assert_eq!(r.update_files(t, 0, &new_fds).unwrap(), 10);
        }
        if unregister {
            for (r, t) in rings.iter_mut().zip(tables) {
                r.unregister_files(t).unwrap();
            }
        }
    }
}

/// file-update.c `test_sqe_update`: a `FILES_UPDATE` op setting 10 slots
/// to -1 completes with 10.
#[test]
fn file_update_op_clears_ten_slots() {
    use uring::ops::FilesUpdate;
    use uring::{FileUpdates, FilesAt};
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let files = temp_files(10);
    let fds: Vec<_> = files.iter().map(|f| f.as_fd()).collect();
    let mut table = ring.register_files(&fds).unwrap();
    let mut updates = FileUpdates::new(&[None; 10]);
    let cqe = uring_tests::complete(
        &mut ring,
        FilesUpdate::new(&mut updates, FilesAt::from(table.get_mut(0).unwrap())),
    );
    assert_eq!(cqe.res(), 10, "{cqe:?}");
}

/// file-update.c `test_update_no_table`: a `FILES_UPDATE` asking the kernel
/// to pick a slot for the ring's own descriptor, with a table that could
/// not be registered (or holds -1), fails (`EMFILE`, `EINVAL`,
/// `EOVERFLOW`, `ENXIO` or `EBADF`).
#[test]
fn file_update_alloc_of_the_ring_fd_fails() {
    use uring::ops::FilesUpdate;
    use uring::{FileUpdates, FilesAt};
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(2).unwrap();
    // SAFETY: the ring's descriptor stays open for the whole test.
    let me = unsafe { std::os::fd::BorrowedFd::borrow_raw(ring.as_raw_fd()) };
    let mut updates = FileUpdates::new(&[Some(me)]);
    let cqe = uring_tests::complete(&mut ring, FilesUpdate::new(&mut updates, FilesAt::ALLOC));
    assert!(
        [
            libc::EMFILE,
            libc::EINVAL,
            libc::EOVERFLOW,
            libc::ENXIO,
            libc::EBADF
        ]
        .contains(&-cqe.res()),
        "{cqe:?}"
    );
}

// ---------------------------------------------------------------- nop-all-sizes

/// nop-all-sizes.c: rings of every size from 1 to 32768 are filled with
/// NOPs twice; each submit takes all it was given, and every NOP completes.
#[test]
fn nop_all_sizes_fill_the_ring_twice() {
    let _watch = uring_tests::watchdog();
    let mut depth = 1u32;
    while depth <= 32768 {
        let mut ring = match Ring::new(depth) {
            Ok(r) => r,
            Err(e) if e.raw_os_error() == Some(libc::ENOMEM) => break,
            Err(e) => panic!("ring of {depth}: {e}"),
        };
        let mut total = 0;
        for _ in 0..2 {
            let mut filled = 0;
            while ring.push(Nop::new()).is_ok() {
                filled += 1;
            }
            assert_eq!(ring.submit().unwrap(), filled, "depth {depth}");
            total += filled;
        }
        let mut reaped = 0;
        while reaped < total {
            ring.wait_timeout(1, PATIENCE).unwrap();
            reaped += ring.completions().count() as u32;
        }
        assert_eq!(reaped, total);
        depth <<= 1;
    }
}

// ---------------------------------------------------------------- submit-and-wait

/// submit-and-wait.c: `submit_and_wait_timeout` for 2 completions with one
/// NOP and a 1 s timeout returns the number submitted (1, not an error)
/// after about 1 s, without waiting a second time.
#[test]
fn submit_and_wait_timeout_returns_the_submit_count() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_features(&ring, Features::EXT_ARG, "waits with a timeout") {
        return;
    }
    ring.push(Nop::new().user_data(1)).unwrap();
    let start = Instant::now();
    let result = ring.submit_and_wait_timeout(2, Duration::from_secs(1));
    let took = start.elapsed();
    assert!(took < Duration::from_millis(1900), "waited twice: {took:?}");
    assert_eq!(ring.ready(), 1);
    assert_eq!(result.as_ref().ok(), Some(&1), "{result:?}");
}

/// submit-and-wait.c, the part uring keeps: the one wait ends after about
/// its timeout, the NOP was submitted and completed.
#[test]
fn submit_and_wait_timeout_waits_once() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_features(&ring, Features::EXT_ARG, "waits with a timeout") {
        return;
    }
    ring.push(Nop::new().user_data(1)).unwrap();
    let start = Instant::now();
    let _ = ring.submit_and_wait_timeout(2, Duration::from_secs(1));
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(500), "{took:?}");
    assert!(took < Duration::from_millis(1900), "waited twice: {took:?}");
    assert_eq!(ring.pending(), 0, "the NOP was submitted");
    assert_eq!(ring.ready(), 1);
}

// ---------------------------------------------------------------- poll

/// poll-cancel-all.c `test1`: 8 polls on a pipe's read end (by descriptor,
/// then through a registered file) are all cancelled by one cancel of that
/// file with `ALL`, which completes with 8; each poll with `ECANCELED`.
#[test]
fn poll_cancel_all_by_file_cancels_eight_polls() {
    use uring::ops::{CancelFd, PollAdd};
    use uring::{CancelFlags, PollEvents};
    let _watch = uring_tests::watchdog();
    let (rx, _tx) = pipe();
    for fixed in [false, true] {
        let mut ring = Ring::new(16).unwrap();
        let files = ring.register_files(&[rx.as_fd()]).unwrap();
        let slot = files.get(0).unwrap();
        for i in 1..=8u64 {
            if fixed {
                push_lent!(ring, PollAdd::new(slot, PollEvents::IN).user_data(i)).unwrap();
            } else {
                push_lent!(ring, PollAdd::new(&rx, PollEvents::IN).user_data(i)).unwrap();
            }
        }
        assert_eq!(ring.submit().unwrap(), 8);
        if fixed {
            push_lent!(
                ring,
                CancelFd::new(slot)
                    .cancel_flags(CancelFlags::ALL)
                    .user_data(100)
            )
            .unwrap();
        } else {
            push_lent!(
                ring,
                CancelFd::new(&rx)
                    .cancel_flags(CancelFlags::ALL)
                    .user_data(100)
            )
            .unwrap();
        }
        let cqes = submit_and_reap(&mut ring, 9);
        for c in &cqes {
            match c.user_data() {
                100 => assert_eq!(c.res(), 8, "fixed {fixed}: {c:?}"),
                1..=8 => assert_eq!(c.res(), -libc::ECANCELED, "fixed {fixed}: {c:?}"),
                _ => panic!("{c:?}"),
            }
        }
        ring.unregister_files(files).unwrap();
    }
}

/// poll-mshot-update.c: a multishot poll re-armed by an update that gives
/// it a new `user_data` (keeping `MULTI`) posts its next events under the
/// new `user_data`, flagged `F_MORE`; the update completes with 0.
#[test]
fn poll_mshot_update_renames_a_multishot_poll() {
    use uring::ops::{PollAdd, PollRemove, PollUpdate};
    use uring::{PollEvents, PollFlags};
    let _watch = uring_tests::watchdog();
    let (rx, tx) = pipe();
    let mut ring = Ring::new(8).unwrap();
    push_lent!(
        ring,
        PollAdd::new(&rx, PollEvents::IN)
            .poll_flags(PollFlags::MULTI)
            .user_data(1)
    )
    .unwrap();
    ring.submit().unwrap();
    ring.push(
        PollUpdate::new(1)
            .new_user_data(2)
            .events(PollEvents::IN)
            .poll_flags(PollFlags::MULTI)
            .user_data(10),
    )
    .unwrap();
    let cqe = uring_tests::reap_one(&mut ring);
    if cqe.res() == -libc::EINVAL {
        skip("no poll updates (5.13)");
        return;
    }
    assert_eq!((cqe.user_data(), cqe.res()), (10, 0));
    std::fs::File::from(tx.try_clone().unwrap())
        .write_all(b"x")
        .unwrap();
    let cqe = uring_tests::reap_one(&mut ring);
    assert_eq!(cqe.user_data(), 2, "{cqe:?}");
    assert!(cqe.res() & libc::POLLIN as i32 != 0, "{cqe:?}");
    assert!(cqe.has_more(), "{cqe:?}");
    ring.push(PollRemove::new(2).user_data(11)).unwrap();
    let mut got: Vec<(u64, i32)> = submit_and_reap(&mut ring, 2)
        .iter()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    got.sort_unstable();
    assert_eq!(got, [(2, -libc::ECANCELED), (11, 0)]);
}

// ---------------------------------------------------------------- drain

/// fsync.c `test_barrier_fsync`: four writes, then an fsync flagged
/// `IO_DRAIN`: the fsync completes last, after every write.
#[test]
fn fsync_drained_after_four_writes_completes_last() {
    use uring::ops::{Fsync, Write};
    let _watch = uring_tests::watchdog();
    let file = tempfile::tempfile().unwrap();
    let bufs: Vec<Vec<u8>> = (0..4).map(|i| vec![i as u8; 4096]).collect();
    let mut ring = Ring::new(8).unwrap();
    let order = ring.scope(|s| {
        for (i, b) in bufs.iter().enumerate() {
            s.push(
                Write::new(&file, b)
                    .offset(i as u64 * 4096)
                    .user_data(i as u64),
            )
            .unwrap();
        }
        s.push(Fsync::new(&file).flags(SqeFlags::IO_DRAIN).user_data(4))
            .unwrap();
        s.submit().unwrap();
        let mut order = Vec::new();
        while order.len() < 5 {
            s.wait_timeout(1, PATIENCE).unwrap();
            order.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        order
    });
    assert_eq!(order[4], (4, 0), "{order:?}");
    for &(ud, res) in &order[..4] {
        assert!(ud < 4 && res == 4096, "{order:?}");
    }
}

/// link_drain.c `test_link_drain_one`: a read linked to a drained NOP,
/// then NOPs: the drained NOP waits for the read, the later ones for it.
/// (The two later NOPs leave the drain's queue together, for io-wq
/// workers, which may run them side by side: they come in either order.)
#[test]
fn link_drain_orders_completions() {
    let _watch = uring_tests::watchdog();
    let (rx, tx) = pipe();
    let mut buf = [0u8; 8];
    let mut ring = Ring::new(16).unwrap();
    let order = ring.scope(|s| {
        s.push(
            Read::new(&rx, &mut buf[..])
                .user_data(0)
                .link(Nop::new().user_data(1)),
        )
        .unwrap();
        s.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(2))
            .unwrap();
        s.push(Nop::new().user_data(3)).unwrap();
        s.push(Nop::new().user_data(4)).unwrap();
        s.submit().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(s.ready(), 0, "everything waits for the read");
        // (An op pushed now would wait behind the drain too.)
        std::fs::File::from(tx.try_clone().unwrap())
            .write_all(b"12345678")
            .unwrap();
        let mut order = Vec::new();
        while order.len() < 5 {
            s.wait_timeout(1, PATIENCE).unwrap();
            order.extend(s.completions().map(|c| c.user_data()));
        }
        order
    });
    // The read, its link, the drained NOP, then the rest.
    assert_eq!(order[..3], [0, 1, 2], "{order:?}");
    let mut rest = order[3..].to_vec();
    rest.sort_unstable();
    assert_eq!(rest, [3, 4], "{order:?}");
}

// ---------------------------------------------------------------- probe

/// probe.c: the probe names a last op and supports NOP, READV and WRITE.
#[test]
fn probe_reports_the_basic_ops() {
    use uring::ops::{ReadV, Write};
    let _watch = uring_tests::watchdog();
    let ring = Ring::new(8).unwrap();
    let probe = ring.probe().unwrap();
    assert!(probe.last_op() > 0);
    assert!(probe.supports::<Nop>());
    assert!(probe.supports::<ReadV<'_, '_>>());
    assert!(probe.supports::<Write<'_>>());
    assert!(probe.is_supported(sys::IORING_OP_NOP));
    assert!(!probe.is_supported(probe.last_op().wrapping_add(1)));
}

// ---------------------------------------------------------------- sockets

/// shutdown.c: after a send, `SHUTDOWN(SHUT_WR)` completes with 0; the peer
/// reads the data and then end of file.
#[test]
fn shutdown_write_side_gives_the_peer_eof() {
    use uring::ops::{Send, Shutdown};
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (client, mut server) = tcp_pair();
    let cqe = uring_tests::complete(&mut ring, Send::new(&client, b"hello").user_data(1));
    assert_eq!(cqe.res(), 5);
    let cqe = uring_tests::complete(
        &mut ring,
        Shutdown::new(&client, libc::SHUT_WR).user_data(2),
    );
    if cqe.res() == -libc::EINVAL {
        skip("no IORING_OP_SHUTDOWN (5.11)");
        return;
    }
    assert_eq!(cqe.res(), 0);
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut server, &mut got).unwrap();
    assert_eq!(got, b"hello");
}

/// socket-rw.c: a write on one end of a connected socket pair and a read
/// on the other move the same bytes (128).
#[test]
fn socket_rw_write_then_read() {
    use uring::ops::Write;
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (client, server) = tcp_pair();
    let out = uring_tests::pattern(128, 7);
    let mut back = vec![0u8; 128];
    let got = ring.scope(|s| {
        s.push(Read::new(&server, &mut back[..]).user_data(1))
            .unwrap();
        s.push(Write::new(&client, &out).user_data(2)).unwrap();
        s.submit().unwrap();
        let mut got = Vec::new();
        while got.len() < 2 {
            s.wait_timeout(1, PATIENCE).unwrap();
            got.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        got.sort_unstable();
        got
    });
    assert_eq!(got, [(1, 128), (2, 128)]);
    assert_eq!(back, out);
}

// ---------------------------------------------------------------- waitid, futex

/// waitid.c `test_exit`: a waitid on a child that exits with status 5
/// completes with 0 and reports `CLD_EXITED`, status 5, the child's pid.
#[test]
fn waitid_reports_a_child_exit() {
    use uring::WaitIdTarget;
    use uring::ops::WaitId;
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !uring_tests::require_op::<WaitId<'_>>(&ring) {
        return;
    }
    let child = std::process::Command::new("sh")
        .args(["-c", "sleep 0.05; exit 5"])
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    // SAFETY: all-zero bytes are a valid siginfo_t.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let cqe = uring_tests::complete(
        &mut ring,
        WaitId::new(WaitIdTarget::pid(pid), libc::WEXITED, &mut info),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_eq!(info.si_code, libc::CLD_EXITED);
    // SAFETY: the kernel filled a SIGCHLD siginfo.
    unsafe {
        assert_eq!(info.si_pid(), pid);
        assert_eq!(info.si_status(), 5);
    }
    std::mem::forget(child);
}

/// futex.c `test_futex_wait_wake`: a futex wait on a word holding its
/// value blocks until a futex wake, which completes with 1 (one woken);
/// the wait completes with 0. A wait on a value the word does not hold
/// fails with `EAGAIN`.
#[test]
fn futex_wait_is_woken_by_futex_wake() {
    use std::sync::atomic::AtomicU32;
    use uring::FutexFlags;
    use uring::ops::{FutexWait, FutexWake};
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !uring_tests::require_op::<FutexWait<'_>>(&ring) {
        return;
    }
    let word = AtomicU32::new(0);
    let got = ring.scope(|s| {
        s.push(
            FutexWait::new(&word, 0)
                .futex_flags(FutexFlags::PRIVATE)
                .user_data(1),
        )
        .unwrap();
        s.submit().unwrap();
        std::thread::sleep(Duration::from_millis(10));
        assert_eq!(s.ready(), 0, "the wait blocks");
        s.push(
            FutexWake::new(&word, 1)
                .futex_flags(FutexFlags::PRIVATE)
                .user_data(2),
        )
        .unwrap();
        s.submit().unwrap();
        let mut got = Vec::new();
        while got.len() < 2 {
            s.wait_timeout(1, PATIENCE).unwrap();
            got.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        got.sort_unstable();
        got
    });
    assert_eq!(got, [(1, 0), (2, 1)]);
    let cqe = uring_tests::complete(
        &mut ring,
        FutexWait::new(&word, 1).futex_flags(FutexFlags::PRIVATE),
    );
    assert_eq!(cqe.res(), -libc::EAGAIN);
}

// ---------------------------------------------------------------- fixed-link

/// fixed-link.c: reads of a registered file, linked in a chain of 10,
/// each complete with the bytes asked for, in order.
#[test]
fn fixed_link_chained_reads_of_a_registered_file() {
    let _watch = uring_tests::watchdog();
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&uring_tests::pattern(4096, 3)).unwrap();
    let mut ring = Ring::new(32).unwrap();
    let files = ring.register_files(&[file.as_fd()]).unwrap();
    let slot = files.get(0).unwrap();
    let mut bufs = [[0u8; 16]; 10];
    let got = ring.scope(|s| {
        let mut it = bufs.iter_mut();
        let mut next = |i: u64| {
            Read::new(slot, &mut it.next().unwrap()[..])
                .offset(i * 16)
                .user_data(i)
        };
        s.push(
            next(0)
                .link(next(1))
                .link(next(2))
                .link(next(3))
                .link(next(4))
                .link(next(5))
                .link(next(6))
                .link(next(7))
                .link(next(8))
                .link(next(9)),
        )
        .unwrap();
        s.submit().unwrap();
        let mut got = Vec::new();
        while got.len() < 10 {
            s.wait_timeout(1, PATIENCE).unwrap();
            got.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        got
    });
    let want: Vec<(u64, i32)> = (0..10).map(|i| (i, 16)).collect();
    assert_eq!(got, want);
    let all = uring_tests::pattern(4096, 3);
    for (i, b) in bufs.iter().enumerate() {
        assert_eq!(&b[..], &all[i * 16..i * 16 + 16]);
    }
}

// ---------------------------------------------------------------- submit errors

/// sq-space_left.c `test_sync` through `submit_and_wait`: the kernel
/// stops at the SQE with an unknown opcode (which completes with
/// `EINVAL`) and does not wait. Where liburing's `submit_and_wait` returns
/// 9 then, uring's submits the 8 after it too, so that its `Ok` always
/// means the completions wanted are ready: all 17 are taken, each
/// completes once.
#[test]
fn sq_space_left_bad_opcode_under_submit_and_wait() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(32).unwrap();
    let mut sqes: Vec<sys::io_uring_sqe> = (0..17)
        .map(|i| raw_sqe(sys::IORING_OP_NOP, -1, 0, 0, 0, i))
        .collect();
    sqes[8].opcode = 0xfe;
    // SAFETY: NOPs and an unknown opcode name no memory and no descriptor.
    unsafe { ring.push_raw(&sqes) }.expect("17 SQEs fit a ring of 32");
    let submitted = ring.submit_and_wait(17).expect("submit_and_wait");
    assert_eq!(submitted, 17);
    assert_eq!(ring.pending(), 0);
    let mut cqes: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    cqes.sort_unstable();
    let expected: Vec<(u64, i32)> = (0..17)
        .map(|i| (i, if i == 8 { -libc::EINVAL } else { 0 }))
        .collect();
    assert_eq!(cqes, expected);
}

/// submit-link-fail.c `test_underprep_fail`: a chain (soft or hard, with
/// or without a drained read clogging the queue before it) whose member
/// fails to prepare (a read with an invalid `ioprio`) is submitted whole;
/// the failed member completes with its error and every other member with
/// `ECANCELED`; the drained read with 1 once data arrives.
#[test]
fn submit_link_fail_cancels_the_rest_of_the_chain() {
    let _watch = uring_tests::watchdog();
    const DRAIN_UD: u64 = 42;
    let mut buffer = [0u8; 1];
    let buf_addr = buffer.as_mut_ptr() as u64;
    for link_size in 1..3u64 {
        for fail_idx in 0..link_size {
            for i in 0..8 {
                let (hardlink, drain, link_last) = (i & 1 != 0, i & 2 != 0, i & 4 != 0);
                let (rx, tx) = pipe();
                let mut ring = Ring::new(8).unwrap();
                let mut link_flags = sys::IOSQE_IO_LINK;
                if drain {
                    link_flags |= sys::IOSQE_IO_DRAIN;
                }
                if hardlink {
                    link_flags |= sys::IOSQE_IO_HARDLINK;
                }
                let mut sqes = Vec::new();
                if drain {
                    sqes.push(raw_sqe(
                        sys::IORING_OP_READ,
                        rx.as_raw_fd(),
                        buf_addr,
                        1,
                        sys::IOSQE_IO_DRAIN,
                        DRAIN_UD,
                    ));
                }
                for j in 0..link_size {
                    let mut sqe = if j == fail_idx {
                        let mut s = raw_sqe(sys::IORING_OP_READ, 42, buf_addr, 1, 0, j);
                        s.ioprio = u16::MAX;
                        s
                    } else {
                        raw_sqe(sys::IORING_OP_NOP, -1, 0, 0, 0, j)
                    };
                    if j != link_size - 1 || !link_last {
                        sqe.flags |= link_flags;
                    }
                    sqes.push(sqe);
                }
                let total = sqes.len();
                // SAFETY: the reads name `buffer` and the pipe, both alive
                // until the ring (and every op in it) is gone; the one at
                // descriptor 42 fails to prepare.
                unsafe { ring.push_raw(&sqes) }.unwrap();
                assert_eq!(ring.submit().unwrap() as usize, total);
                if drain {
                    std::fs::File::from(tx.try_clone().unwrap())
                        .write_all(b"x")
                        .unwrap();
                }
                let cqes = submit_and_reap(&mut ring, total);
                for c in &cqes {
                    let ud = c.user_data();
                    if ud == DRAIN_UD {
                        assert_eq!(c.res(), 1, "{c:?}");
                    } else if ud == fail_idx {
                        assert!(c.res() != 0 && c.res() != -libc::ECANCELED, "{c:?}");
                    } else {
                        assert_eq!(
                            c.res(),
                            -libc::ECANCELED,
                            "size {link_size} fail {fail_idx} case {i}: {c:?}"
                        );
                    }
                }
                drop(ring);
            }
        }
    }
}

/// eventfd-reg.c: a second eventfd registration fails with `EBUSY`; after
/// unregistering, registering again works.
#[test]
fn eventfd_reg_twice_is_ebusy() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let evfd = eventfd(false);
    ring.register_eventfd(evfd.as_fd(), false).unwrap();
    let err = ring.register_eventfd(evfd.as_fd(), false).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EBUSY), "{err:?}");
    ring.unregister_eventfd().unwrap();
    ring.register_eventfd(evfd.as_fd(), false).unwrap();
    ring.push(Nop::new()).unwrap();
    uring_tests::reap_one(&mut ring);
    assert!(can_read(&evfd, 1000));
}
