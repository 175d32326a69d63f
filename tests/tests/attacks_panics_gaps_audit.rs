//! Panics reachable from safe code, attacked where the existing suites
//! (`bad_input.rs`, `bad_input_audit.rs`, `attacks_limits.rs`,
//! `attacks_kernel_lengths_source_audit.rs`, `attacks_time_gaps_audit.rs`,
//! `attacks_threads_panics.rs`) stop short: a panic in the closure of the
//! ring's own `Completions::for_each` and `fold` at every position of a
//! batch that crosses the CQ's wrap (the pointer walks of `cqueue.rs` and
//! their unwind guard), on rings of 16-byte, 32-byte and mixed CQEs (where
//! the kernel pads the wrap for a big completion); Unix socket addresses at
//! and past `sun_path`'s length, with NULs, from std's `UnixAddr`; a
//! `RecvMsgOut` parsed from hostile headers and layouts whose room
//! overflows a `usize`; SQPOLL idle times of `Duration::MAX`, zero and one
//! nanosecond; absolute times (`Timespec::at`) for deadlines at the far end
//! of `Instant` and in the past, handed to the kernel; the owned-buffer
//! `slice` with reversed and saturating bounds written through the
//! reactor.
//!
//! Read against Linux 6.18: `io_uring/io_uring.c` (`io_cqe_cache_refill`
//! and `io_fill_nop_cqe`, which pad the CQ's end for a 32-byte completion
//! on a mixed ring; `__io_cqring_wait_schedule`), `io_uring/nop.c`
//! (`IORING_NOP_CQE32`), `io_uring/sqpoll.c` (`io_sq_offload_create`:
//! `sq_thread_idle` through `msecs_to_jiffies`, 0 meaning `HZ`),
//! `io_uring/timeout.c` (`io_timeout_prep`, `__io_timeout_prep`: a negative
//! `tv_sec` or `tv_nsec` is `EINVAL`, `timespec64_to_ktime` saturates at
//! `KTIME_MAX`, `io_timeout_get_clock`), `io_uring/net.c`
//! (`io_recvmsg_multishot`, the `io_uring_recvmsg_out` header), and
//! `net/unix/af_unix.c` (`unix_validate_addr`, `unix_mkname_bsd`).
//!
//! Every test is safe code against the running kernel and checks what the
//! kernel did: which completions came, once each, with which results, and
//! that the ring still works after the attack. Tests marked
//! `#[ignore = "DEFECT: ..."]` show a defect of the library and fail when
//! run.

use std::collections::BTreeMap;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::SocketAddr as UnixAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use uring::ops::{Nop, Timeout, TimeoutRemove};
use uring::{
    Builder, Clock, Cqe16, Cqe32, CqeMixed, MsgLayout, RecvMsgOut, Ring, SockAddr, Sqe64,
    TimeoutFlags, Timespec,
};
use uring_tests::{require_sqpoll, skip};

/// The marker a test's closure panics with.
const BOOM: &str = "boom in the completion closure";

/// Runs `f`, which must panic with [`BOOM`], without printing the panic.
fn expect_boom(f: impl FnOnce()) {
    let got = catch_unwind(AssertUnwindSafe(f));
    let payload = got.expect_err("the closure was to panic");
    let msg = payload
        .downcast_ref::<&str>()
        .copied()
        .expect("the closure's own panic, not the library's");
    assert_eq!(msg, BOOM);
}

/// For every position `k` of a batch of `n` NOPs pushed at every offset of
/// the CQ (so that batches cross its wrap at every point), a `for_each` or
/// a `fold` over the ring's completions panics at the `k`-th one: what it
/// was handed before and at the panic is consumed, the rest is read by the
/// next reader, and every NOP is seen exactly once over the two.
macro_rules! panic_at_every_position {
    ($ring:expr, $n:expr, $push:expr, $use_fold:expr) => {{
        let ring = &mut $ring;
        let n: u64 = $n;
        let cq = u64::from(ring.cq_entries());
        let mut next_ud = 1u64;
        // Rounds enough for the head to pass every slot of the CQ.
        for round in 0..(2 * cq) {
            let k = round % n;
            let first = next_ud;
            for i in 0..n {
                let ud = first + i;
                ring.push($push(ud)).expect("room for the batch");
            }
            next_ud += n;
            ring.submit_and_wait(n as u32).expect("the batch completes");
            let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
            let mut handed = 0u64;
            {
                let seen = &mut seen;
                let handed = &mut handed;
                let completions = ring.completions();
                expect_boom(move || {
                    let mut take = |ud: u64| {
                        *seen.entry(ud).or_default() += 1;
                        *handed += 1;
                        if *handed == k + 1 {
                            std::panic::panic_any(BOOM);
                        }
                    };
                    if $use_fold {
                        completions.fold((), |(), c| take(c.user_data()));
                    } else {
                        completions.for_each(|c| take(c.user_data()));
                    }
                });
            }
            assert_eq!(handed, k + 1, "round {round}: the panic came at the k-th");
            let rest: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
            assert_eq!(
                rest.len() as u64,
                n - (k + 1),
                "round {round}: what the closure was not handed stays, and only that"
            );
            for ud in rest {
                *seen.entry(ud).or_default() += 1;
            }
            let want: BTreeMap<u64, u32> = (first..first + n).map(|ud| (ud, 1)).collect();
            assert_eq!(seen, want, "round {round} (panic at {k}): each NOP once");
            assert_eq!(ring.completions().count(), 0, "round {round}: nothing left");
        }
        // The ring still works.
        ring.push($push(u64::MAX)).unwrap();
        ring.submit_and_wait(1).unwrap();
        let last: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
        assert_eq!(last, [u64::MAX]);
    }};
}

/// A panic in `for_each` over a ring of 16-byte CQEs, at every position of
/// a batch of 5 (an odd count: the pair walk's lone first step, then
/// pairs) and at every offset of the CQ: nothing lost, nothing repeated.
#[test]
fn a_panic_in_for_each_over_the_cq_wrap_loses_and_repeats_nothing() {
    let _watch = uring_tests::watchdog();
    let mut ring: Ring<Sqe64, Cqe16> = Builder::new().build_sized(8).unwrap();
    panic_at_every_position!(ring, 5, |ud| Nop::new().user_data(ud), false);
    let mut ring: Ring<Sqe64, Cqe16> = Builder::new().build_sized(8).unwrap();
    panic_at_every_position!(ring, 6, |ud| Nop::new().user_data(ud), false);
}

/// As above with `fold` (the walk without pairs), batches of 1 (the
/// one-comparison fast path) and of 7.
#[test]
fn a_panic_in_fold_over_the_cq_wrap_loses_and_repeats_nothing() {
    let _watch = uring_tests::watchdog();
    let mut ring: Ring<Sqe64, Cqe16> = Builder::new().build_sized(8).unwrap();
    panic_at_every_position!(ring, 1, |ud| Nop::new().user_data(ud), true);
    let mut ring: Ring<Sqe64, Cqe16> = Builder::new().build_sized(8).unwrap();
    panic_at_every_position!(ring, 7, |ud| Nop::new().user_data(ud), true);
}

/// On a ring of 32-byte CQEs, the same walks with a panic at every
/// position.
#[test]
fn a_panic_over_a_cq_of_32_byte_completions_loses_and_repeats_nothing() {
    let _watch = uring_tests::watchdog();
    let mut ring: Ring<Sqe64, Cqe32> = match Builder::new().build_sized(8) {
        Ok(r) => r,
        Err(e) => return skip(format!("no CQE32 rings: {e}")),
    };
    panic_at_every_position!(ring, 5, |ud| Nop::new().user_data(ud), false);
    let mut ring: Ring<Sqe64, Cqe32> = Builder::new().build_sized(8).unwrap();
    panic_at_every_position!(ring, 3, |ud| Nop::new().user_data(ud), true);
}

/// On a ring of mixed CQEs, batches of big completions (`IORING_NOP_CQE32`)
/// and small ones: the kernel pads the CQ's last slot when a big one does
/// not fit before the wrap (a slot the iterator skips). A panic at every
/// position loses and repeats nothing, and the padding never counts as a
/// completion.
#[test]
fn a_panic_over_a_mixed_cq_with_wrap_padding_loses_and_repeats_nothing() {
    let _watch = uring_tests::watchdog();
    let mut ring: Ring<Sqe64, CqeMixed> = match Builder::new().build_sized(8) {
        Ok(r) => r,
        Err(e) => return skip(format!("no mixed-CQE rings: {e}")),
    };
    // Odd user_data big, even small: the big ones land at odd and even
    // slots in turn, so some meet the wrap at the CQ's last slot.
    let push = |ud: u64| {
        if ud % 2 == 1 {
            Nop::new().user_data(ud).big_cqe([ud, !ud])
        } else {
            Nop::new().user_data(ud)
        }
    };
    panic_at_every_position!(ring, 5, push, false);
    let mut ring: Ring<Sqe64, CqeMixed> = Builder::new().build_sized(8).unwrap();
    panic_at_every_position!(ring, 4, push, true);
}

/// `SockAddr::unix` at and past `sun_path` (108 bytes): 107 bytes and the
/// NUL fit (`len` = 2 + 108), 108 and more are `InvalidInput` (no panic,
/// whatever the length), and so are an empty path and one with a NUL. An
/// abstract name of 107 bytes from std converts with its length, and an
/// address made of the longest path binds and is reported back by the
/// kernel as the same path.
#[test]
fn unix_addresses_at_and_past_sun_path_are_errors_not_panics() {
    let _watch = uring_tests::watchdog();
    let dir = std::env::temp_dir().join(format!("uring-h39-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = dir.as_os_str().len() + 1;
    let name = |total: usize| {
        let fill = "a".repeat(total.saturating_sub(base).max(1));
        dir.join(fill)
    };
    let longest = name(107);
    assert_eq!(longest.as_os_str().len(), 107);
    let addr = SockAddr::unix(&longest).expect("107 bytes and the NUL fit");
    assert_eq!(addr.len(), 2 + 108);
    for total in [108, 109, 200, 4096, 1 << 20] {
        let path = name(total);
        let got = catch_unwind(|| SockAddr::unix(&path)).expect("no panic");
        let e = got.expect_err("longer than sun_path");
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{total} bytes");
    }
    for bad in ["", "a\0b", "\0abstract", "x\0"] {
        let got = catch_unwind(|| SockAddr::unix(bad)).expect("no panic");
        assert_eq!(
            got.expect_err("refused").kind(),
            std::io::ErrorKind::InvalidInput,
            "{bad:?}"
        );
    }
    let abs = UnixAddr::from_abstract_name([b'z'; 107]).expect("std takes 107 bytes");
    let sa = SockAddr::from(&abs);
    assert_eq!(sa.len(), 2 + 1 + 107);
    let back = sa.as_unix_addr().expect("a Unix address");
    assert_eq!(back.as_abstract_name(), Some(&[b'z'; 107][..]));
    // The kernel takes the longest path: std binds it and names it back.
    let _ = std::fs::remove_file(&longest);
    let sock = std::os::unix::net::UnixDatagram::bind(&longest).expect("bind the longest path");
    let local = sock.local_addr().unwrap();
    let from_kernel = SockAddr::from(&local);
    assert_eq!(from_kernel.len(), addr.len());
    assert_eq!(
        from_kernel.as_unix_addr().unwrap().as_pathname(),
        Some(longest.as_path())
    );
    drop(sock);
    let _ = std::fs::remove_file(&longest);
    let _ = std::fs::remove_dir(&dir);
}

/// `RecvMsgOut::parse` of hostile input: layouts whose room overflows a
/// `usize` (`None`), buffers shorter than the header (`None`), and headers
/// whose lengths claim `u32::MAX` bytes (clamped to the room reserved and
/// the bytes there): never a panic, never a slice past the buffer.
#[test]
fn recvmsg_out_parse_of_hostile_headers_and_layouts_never_panics() {
    let _watch = uring_tests::watchdog();
    let header = |name: u32, control: u32, payload: u32, flags: u32| {
        let mut b = Vec::new();
        for w in [name, control, payload, flags] {
            b.extend_from_slice(&w.to_ne_bytes());
        }
        b
    };
    let huge = header(u32::MAX, u32::MAX, u32::MAX, u32::MAX);
    let layouts = [
        MsgLayout::new(u32::MAX, usize::MAX),
        MsgLayout::new(0, usize::MAX),
        MsgLayout::new(0, usize::MAX - 15),
        MsgLayout::new(u32::MAX, 0),
    ];
    for (i, layout) in layouts.iter().enumerate() {
        let got = catch_unwind(|| RecvMsgOut::parse(&huge, layout).is_some()).expect("no panic");
        assert!(!got, "layout {i}: room past the buffer is None");
    }
    for len in 0..16 {
        let got = catch_unwind(|| RecvMsgOut::parse(&huge[..len], &MsgLayout::new(0, 0)).is_some())
            .expect("no panic");
        assert!(!got, "{len} bytes: shorter than the header");
    }
    // Header claims everything; room is 16 bytes of name, 8 of control,
    // 5 bytes of payload follow.
    let mut buf = huge.clone();
    buf.extend(1..=16u8);
    buf.extend(100..108u8);
    buf.extend(200..205u8);
    let layout = MsgLayout::new(16, 8);
    let out = RecvMsgOut::parse(&buf, &layout).expect("room fits");
    assert_eq!(out.name(), &(1..=16u8).collect::<Vec<_>>()[..]);
    assert_eq!(out.control(), &(100..108u8).collect::<Vec<_>>()[..]);
    assert_eq!(out.payload(), &[200, 201, 202, 203, 204]);
    assert_eq!(out.payload_len(), u32::MAX, "the header's own word, kept");
    assert_eq!(out.name_len(), u32::MAX);
    assert_eq!(out.socket_addr(), None, "no family in those bytes");
    let _ = out.control_messages().count();
    // Exactly the header and the room: an empty payload.
    let out = RecvMsgOut::parse(&buf[..16 + 24], &layout).expect("room fits");
    assert!(out.payload().is_empty());
}

/// SQPOLL idle times at the edges: `Duration::MAX` (clamped to `u32::MAX`
/// ms), zero (the kernel's default of one second) and one nanosecond
/// (rounded up to 1 ms, not to 0, which would be the default): each builds
/// a ring with that idle in its parameters, whose NOPs complete.
#[test]
fn sqpoll_idle_times_at_the_edges_build_rings_that_work() {
    let _watch = uring_tests::watchdog();
    if !require_sqpoll() {
        return;
    }
    for (idle, want) in [
        (Duration::MAX, u32::MAX),
        (Duration::from_secs(u64::from(u32::MAX)), u32::MAX),
        (Duration::ZERO, 0),
        (Duration::from_nanos(1), 1),
        (Duration::from_micros(1500), 2),
    ] {
        let built = catch_unwind(|| Ring::builder().sqpoll(idle).build(4)).expect("no panic");
        let mut ring = match built {
            Ok(r) => r,
            Err(e) => return skip(format!("no SQPOLL ring: {e}")),
        };
        assert_eq!(ring.params().sq_thread_idle(), want, "{idle:?}");
        ring.push(Nop::new().user_data(7)).unwrap();
        ring.submit_and_wait(1).unwrap();
        let got: Vec<(u64, i32)> = ring
            .completions()
            .map(|c| (c.user_data(), c.res()))
            .collect();
        assert_eq!(got, [(7, 0)], "{idle:?}");
    }
}

/// `Timespec::at` for deadlines at the far end of `Instant` and in the
/// past, on both clocks: no overflow panic; the far one saturates to a
/// time the kernel takes (an absolute timeout that is still pending and
/// is removed: `-ECANCELED`), the past one is now or earlier (an absolute
/// timeout that fires at once: `-ETIME`).
#[test]
fn absolute_times_of_extreme_deadlines_saturate_and_the_kernel_takes_them() {
    let _watch = uring_tests::watchdog();
    let now = Instant::now();
    let mut far = now;
    for shift in (0..64).rev() {
        if let Some(t) = far.checked_add(Duration::from_secs(1 << shift)) {
            far = t;
        }
    }
    let past = now.checked_sub(Duration::from_secs(3600)).unwrap_or(now);
    let mut ring = Ring::new(8).unwrap();
    for (clock, flag) in [
        (Clock::Monotonic, TimeoutFlags::empty()),
        (Clock::Boottime, TimeoutFlags::BOOTTIME),
    ] {
        let at_far = catch_unwind(|| Timespec::at(clock, far)).expect("no panic");
        assert!(at_far.sec() <= i64::MAX as u64);
        assert!(at_far.nsec() < 1_000_000_000);
        assert!(at_far.sec() > 1 << 40, "{clock:?}: far is far: {at_far:?}");
        let at_past = catch_unwind(|| Timespec::at(clock, past)).expect("no panic");
        let at_now = Timespec::at(clock, Instant::now());
        assert!(at_past.sec() <= at_now.sec(), "{clock:?}: the past is now");

        ring.push(
            Timeout::new(at_far)
                .timeout_flags(TimeoutFlags::ABS | flag)
                .user_data(1),
        )
        .unwrap();
        ring.push(
            Timeout::new(at_past)
                .timeout_flags(TimeoutFlags::ABS | flag)
                .user_data(2),
        )
        .unwrap();
        ring.submit_and_wait(1).unwrap();
        let first: Vec<(u64, i32)> = ring
            .completions()
            .map(|c| (c.user_data(), c.res()))
            .collect();
        assert_eq!(first, [(2, -libc::ETIME)], "{clock:?}: the past fires");
        ring.push(TimeoutRemove::new(1).user_data(3)).unwrap();
        ring.submit_and_wait(2).unwrap();
        let mut rest: Vec<(u64, i32)> = ring
            .completions()
            .map(|c| (c.user_data(), c.res()))
            .collect();
        rest.sort_unstable();
        assert_eq!(
            rest,
            [(1, -libc::ECANCELED), (3, 0)],
            "{clock:?}: the far one was pending"
        );
    }
}

/// The reactor's owned-buffer `slice` with bounds past the end, reversed,
/// and saturating at `usize::MAX` clamps (no panic, no overflow) and a
/// write of each through the reactor sends exactly the clamped bytes.
#[test]
fn reactor_slices_with_hostile_bounds_clamp_and_write_exactly_those_bytes() {
    use std::io::Read as _;
    use std::ops::Bound;
    use uring::reactor::ops::Write;
    use uring::reactor::{IoBuf, Reactor, SharedFd};
    let _watch = uring_tests::watchdog();
    let data: Vec<u8> = (0..32u8).collect();
    type Bounds = (Bound<usize>, Bound<usize>);
    let cases: [(Bounds, std::ops::Range<usize>); 7] = [
        ((Bound::Included(usize::MAX), Bound::Unbounded), 32..32),
        ((Bound::Excluded(usize::MAX), Bound::Unbounded), 32..32),
        ((Bound::Unbounded, Bound::Included(usize::MAX)), 0..32),
        ((Bound::Included(20), Bound::Excluded(5)), 20..20),
        ((Bound::Excluded(3), Bound::Included(6)), 4..7),
        ((Bound::Included(40), Bound::Excluded(50)), 32..32),
        ((Bound::Excluded(31), Bound::Included(31)), 32..32),
    ];
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let (mut rx, tx) = std::io::pipe().unwrap();
    let tx = SharedFd::new(tx);
    for (bounds, want) in cases {
        let buf = data.clone();
        let slice = catch_unwind(AssertUnwindSafe(|| buf.slice(bounds))).expect("no panic");
        assert_eq!(slice.as_bytes(), &data[want.clone()], "{bounds:?}");
        if want.is_empty() {
            continue;
        }
        let (res, back) = reactor
            .run_until(async {
                let (res, slice) = handle.op(Write::new(&tx, slice, u64::MAX)).await;
                (res, slice.into_inner())
            })
            .unwrap();
        assert_eq!(res.unwrap() as usize, want.len(), "{bounds:?}");
        assert_eq!(back, data);
        let mut got = vec![0u8; want.len()];
        rx.read_exact(&mut got).unwrap();
        assert_eq!(got, &data[want], "{bounds:?}");
    }
}
