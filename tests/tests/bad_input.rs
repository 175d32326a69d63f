//! Extreme and malformed arguments from safe code, at every public entry
//! point: ring setup, waits and their timeouts, pushes into full queues,
//! registrations, buffer rings, ops with empty or huge arguments, message
//! headers, the reactor's owned buffers and deadlines, and the network
//! types' deadlines. Each test checks that the library answers with a clear
//! error value (its kind and errno) or the right result, never a panic or a
//! hang, and that every op pushed completes exactly once.

use std::cell::{Cell, RefCell};
use std::io::{IoSlice, IoSliceMut, Write as _};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::rc::Rc;
use std::time::{Duration, Instant};

use uring::ops::{Cancel, FutexWaitv, Nop, Read, ReadV, Recv, SendMsg, Timeout, Write, WriteV};
use uring::reactor::{IoBuf, Reactor, SharedFd};
use uring::{
    BufferGroup, BufferPool, Builder, Error, MsgHdr, MsgLayout, PushErrorKind, RecvMsgOut, Ring,
    WaitArgs,
};
use uring_tests::{PATIENCE, complete, reap_one, skip, submit_and_reap, watchdog};

/// The errno of an `Error::Os`, with the error shown when it is another.
fn errno(e: &Error) -> i32 {
    e.raw_os_error()
        .unwrap_or_else(|| panic!("not an OS error: {e:?}"))
}

fn is_invalid_argument(e: &Error) -> bool {
    matches!(e, Error::InvalidArgument(_))
}

/// A ring created disabled, so that registrations allowed only before
/// `enable` can be made.
fn disabled_ring(entries: u32) -> Ring {
    Builder::new().r_disabled().build(entries).expect("ring")
}

// ----------------------------------------------------------------------
// Setup
// ----------------------------------------------------------------------

#[test]
fn ring_sizes_of_zero_and_beyond_the_maximum_are_setup_errors() {
    let _watch = watchdog();
    for entries in [0, 32769, 1 << 20, u32::MAX] {
        match Ring::new(entries) {
            Err(Error::Setup(_)) => {}
            other => panic!("Ring::new({entries}): {other:?}"),
        }
    }
    // Clamped, the largest size is what the kernel allows.
    let ring = Builder::new()
        .clamp()
        .build(u32::MAX)
        .expect("clamped ring");
    assert_eq!(ring.sq_entries(), 32768);
    assert_eq!(ring.cq_entries(), 65536);
}

/// Rings in memory the caller gives: sizes of 0 and past what a process
/// can map, entries the kernel refuses, memory too small by a page or by
/// all of it. Each is an error value; the memory a refused build was given
/// is released.
#[test]
fn ring_regions_of_any_size_and_rings_that_do_not_fit_are_errors() {
    let _watch = watchdog();
    use uring::RingRegion;
    if !uring_tests::require_kernel(6, 5, "IORING_SETUP_NO_MMAP") {
        return;
    }
    assert!(is_invalid_argument(&RingRegion::anonymous(0).unwrap_err()));
    assert!(is_invalid_argument(
        &RingRegion::anonymous_huge(0).unwrap_err()
    ));
    for len in [usize::MAX, usize::MAX - 4095, 1 << 62] {
        assert!(RingRegion::anonymous(len).is_err(), "{len}");
        assert!(RingRegion::anonymous_huge(len).is_err(), "{len}");
    }
    let builder = Builder::new();
    for entries in [0, u32::MAX, sys_max_entries() * 2] {
        assert!(builder.ring_memory_size(entries).is_err(), "{entries}");
        let region = RingRegion::anonymous(1 << 20).unwrap();
        assert!(builder.build_in(entries, region).is_err(), "{entries}");
    }
    let need = builder.ring_memory_size(64).unwrap();
    for len in [4096, need - 4096] {
        let region = RingRegion::anonymous(len).unwrap();
        assert!(
            is_invalid_argument(&builder.build_in(64, region).unwrap_err()),
            "{len} of {need} bytes"
        );
    }
    // Clamped, the sizes past the maximum fit memory counted the same way.
    let clamped = Builder::new().clamp();
    let need = clamped.ring_memory_size(u32::MAX).unwrap();
    let mut ring = clamped
        .build_in(u32::MAX, RingRegion::anonymous(need).unwrap())
        .unwrap();
    assert_eq!(complete(&mut ring, Nop::new()).res(), 0);
    // A resize into too little memory is refused, the ring as it was.
    if !uring_tests::require_kernel(6, 13, "IORING_REGISTER_RESIZE_RINGS") {
        return;
    }
    let mut ring = Builder::new()
        .single_issuer()
        .defer_taskrun()
        .build_in(8, RingRegion::anonymous(need).unwrap())
        .unwrap();
    let err = ring
        .resize_in(64, 128, RingRegion::anonymous(4096).unwrap())
        .unwrap_err();
    assert!(is_invalid_argument(&err), "{err:?}");
    assert_eq!(complete(&mut ring, Nop::new()).res(), 0);
}

/// The most SQ entries the kernel takes (`IORING_MAX_ENTRIES`).
fn sys_max_entries() -> u32 {
    uring::sys::IORING_MAX_ENTRIES
}

#[test]
fn non_power_of_two_sizes_round_up_and_a_one_entry_ring_works() {
    let _watch = watchdog();
    let ring = Ring::new(3).unwrap();
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (4, 8));
    let mut ring = Ring::new(1).unwrap();
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (1, 2));
    ring.push(Nop::new().user_data(1)).unwrap();
    // The queue is full: the op comes back, untouched.
    let refused = ring.push(Nop::new().user_data(2)).unwrap_err();
    assert!(refused.is_full());
    assert_eq!(refused.kind(), PushErrorKind::QueueFull);
    let cqes = submit_and_reap(&mut ring, 1);
    assert_eq!((cqes[0].user_data(), cqes[0].res()), (1, 0));
    ring.push(refused.into_inner()).unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (2, 0));
    assert_eq!(ring.completions().count(), 0, "nothing else completed");
}

#[test]
fn clamped_rings_in_library_memory_of_large_sizes_are_clamped() {
    let _watch = watchdog();
    // Within a factor the memory can hold, the library's memory ring
    // clamps as the kernel's does.
    let ring = Builder::new().no_mmap().clamp().build(1 << 20);
    let ring = match ring {
        Ok(ring) => ring,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip(format_args!("no IORING_SETUP_NO_MMAP (6.5): {e}"));
            return;
        }
        Err(e) => panic!("{e:?}"),
    };
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (32768, 65536));
}

#[test]
fn clamped_rings_in_library_memory_of_any_size_are_clamped() {
    let _watch = watchdog();
    if !uring_tests::require_kernel(6, 5, "IORING_SETUP_NO_MMAP") {
        return;
    }
    // `clamp()`: "Clamps sizes above the kernel's maximum to the maximum
    // instead of failing", as it does for a ring in the kernel's memory.
    let ring = Builder::new().clamp().build(u32::MAX).unwrap();
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (32768, 65536));
    let ring = Builder::new().no_mmap().clamp().build(u32::MAX).unwrap();
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (32768, 65536));
    let ring = Builder::new()
        .no_mmap()
        .clamp()
        .cq_entries(u32::MAX)
        .build(8)
        .unwrap();
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (8, 65536));
}

#[test]
fn cq_sizes_smaller_than_the_sq_zero_or_too_large_are_setup_errors() {
    let _watch = watchdog();
    for (cq, sq) in [(4, 8), (0, 8), (1, 2), (65537, 8), (u32::MAX, 8)] {
        match Builder::new().cq_entries(cq).build(sq) {
            Err(Error::Setup(_)) => {}
            other => panic!("cq_entries({cq}).build({sq}): {other:?}"),
        }
    }
    // Non-powers of two round up; equal sizes after rounding are fine.
    let ring = Builder::new().cq_entries(5).build(7).unwrap();
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (8, 8));
    let ring = Builder::new()
        .cq_entries(u32::MAX)
        .clamp()
        .build(8)
        .unwrap();
    assert_eq!(ring.cq_entries(), 65536);
}

#[test]
fn sqpoll_idle_times_saturate_and_round_up_to_milliseconds() {
    let _watch = watchdog();
    if !uring_tests::require_sqpoll() {
        return;
    }
    for (idle, ms) in [
        (Duration::MAX, u32::MAX),
        (Duration::from_nanos(1), 1),
        (Duration::from_micros(1500), 2),
    ] {
        let mut ring = Builder::new().sqpoll(idle).build(4).unwrap();
        assert_eq!(ring.params().sq_thread_idle(), ms, "idle {idle:?}");
        ring.push(Nop::new().user_data(9)).unwrap();
        let cqe = reap_one(&mut ring);
        assert_eq!((cqe.user_data(), cqe.res()), (9, 0));
    }
}

#[test]
fn sq_thread_cpus_out_of_range_are_errors() {
    let _watch = watchdog();
    match Builder::new().sq_thread_cpu(0).build(4) {
        Err(Error::Setup(_)) => {}
        other => panic!("sq_thread_cpu without sqpoll: {other:?}"),
    }
    if !uring_tests::require_sqpoll() {
        return;
    }
    for cpu in [u32::MAX, 1 << 20] {
        let e = Builder::new()
            .sqpoll(Duration::from_millis(10))
            .sq_thread_cpu(cpu)
            .build(4)
            .unwrap_err();
        assert_eq!(errno(&e), libc::EINVAL, "cpu {cpu}");
    }
}

#[test]
fn create_many_refuses_counts_that_do_not_divide() {
    let _watch = watchdog();
    let b = Builder::new();
    for (count, wp) in [
        (0, 0),
        (0, 1),
        (2, 0),
        (2, 3),
        (3, 2),
        (usize::MAX, 7),
        (usize::MAX, 1),
        (usize::MAX, 3),
    ] {
        match Ring::create_many(count, 2, wp, &b) {
            Err(e) => assert!(is_invalid_argument(&e), "({count}, {wp}): {e:?}"),
            Ok(rings) => panic!("({count}, {wp}) made {} rings", rings.len()),
        }
    }
    assert_eq!(Ring::create_many(4, 2, 2, &b).unwrap().len(), 4);
}

// ----------------------------------------------------------------------
// Waits and pushes
// ----------------------------------------------------------------------

#[test]
fn waits_for_more_than_the_cq_holds_are_refused_and_submit_nothing() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    ring.push(Nop::new().user_data(5)).unwrap();
    for want in [9, u32::MAX] {
        assert!(is_invalid_argument(
            &ring.submit_and_wait(want).unwrap_err()
        ));
        assert!(is_invalid_argument(&ring.wait(want).unwrap_err()));
        assert!(is_invalid_argument(
            &ring.wait_timeout(want, Duration::ZERO).unwrap_err()
        ));
        assert!(is_invalid_argument(
            &ring
                .submit_and_wait_timeout(want, Duration::MAX)
                .unwrap_err()
        ));
        assert!(is_invalid_argument(
            &ring.wait_with(want, &WaitArgs::new()).unwrap_err()
        ));
    }
    // The NOP is still pending, and completes once.
    assert_eq!(ring.pending(), 1);
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (5, 0));
    assert_eq!(ring.completions().count(), 0);
}

#[test]
fn zero_and_tiny_wait_timeouts_time_out_at_once() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    for timeout in [Duration::ZERO, Duration::from_nanos(1)] {
        let start = Instant::now();
        assert!(matches!(
            ring.wait_timeout(1, timeout),
            Err(Error::TimedOut)
        ));
        assert!(start.elapsed() < Duration::from_secs(2));
    }
    // Nothing wanted: no wait at all.
    ring.wait(0).unwrap();
    ring.wait_timeout(0, Duration::ZERO).unwrap();
    // A NOP with the longest timeout there is: done as soon as it is.
    ring.push(Nop::new().user_data(3)).unwrap();
    assert_eq!(ring.submit_and_wait_timeout(1, Duration::MAX).unwrap(), 1);
    let cqes: Vec<_> = ring.completions().collect();
    assert_eq!(cqes.len(), 1);
    assert_eq!(cqes[0].user_data(), 3);
}

#[test]
fn a_minimum_wait_longer_than_the_timeout_ends_at_the_timeout() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    if !ring.params().has(uring::Features::MIN_TIMEOUT) {
        skip("minimum waits need Linux 6.12");
        return;
    }
    let start = Instant::now();
    let args = WaitArgs::new()
        .timeout(Duration::from_millis(20))
        .min_wait(Duration::MAX);
    assert!(matches!(ring.wait_with(1, &args), Err(Error::TimedOut)));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "waited {:?}",
        start.elapsed()
    );
    // A zero timeout with a minimum wait: at once.
    let args = WaitArgs::new()
        .timeout(Duration::ZERO)
        .min_wait(Duration::from_secs(3600));
    let start = Instant::now();
    assert!(matches!(ring.wait_with(1, &args), Err(Error::TimedOut)));
    assert!(start.elapsed() < Duration::from_secs(2));
    // A minimum wait of zero with one completion ready of two wanted: the
    // timeout decides.
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.submit().unwrap();
    let args = WaitArgs::new()
        .timeout(Duration::from_millis(10))
        .min_wait(Duration::ZERO);
    match ring.wait_with(2, &args) {
        Err(Error::TimedOut) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(ring.completions().count(), 1);
}

#[test]
fn chains_longer_than_the_queue_come_back_whole() {
    let _watch = watchdog();
    let mut ring = Ring::new(2).unwrap();
    let chain = Nop::new()
        .user_data(1)
        .link(Nop::new().user_data(2))
        .link(Nop::new().user_data(3));
    let refused = ring.push(chain).unwrap_err();
    assert_eq!(refused.kind(), PushErrorKind::QueueFull);
    assert_eq!(ring.pending(), 0, "nothing of the chain was written");
    // A link timeout makes two SQEs: does not fit after one NOP.
    ring.push(Nop::new().user_data(4)).unwrap();
    let timed = Nop::new().user_data(5).timeout(Duration::MAX);
    let refused = ring.push(timed).unwrap_err();
    assert!(refused.is_full());
    assert_eq!(ring.pending(), 1);
    let cqe = reap_one(&mut ring);
    assert_eq!(cqe.user_data(), 4);
    ring.push(refused.into_inner()).unwrap();
    let cqes = submit_and_reap(&mut ring, 2);
    let mut got: Vec<_> = cqes.iter().map(|c| (c.user_data(), c.res())).collect();
    got.sort();
    assert_eq!(got, [(0, -libc::ECANCELED), (5, 0)]);
}

#[test]
fn results_at_the_ends_of_i32_are_values_or_errors_never_a_panic() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !uring_tests::require_kernel(6, 10, "NOP result injection") {
        return;
    }
    let cases = [i32::MIN, -4096, -4095, -1, 0, i32::MAX];
    for (i, res) in cases.into_iter().enumerate() {
        ring.push(Nop::new().result(res).user_data(i as u64))
            .unwrap();
    }
    let cqes = submit_and_reap(&mut ring, cases.len());
    let map = uring_tests::by_user_data(&cqes);
    for (i, res) in cases.into_iter().enumerate() {
        let cqe = map[&(i as u64)];
        assert_eq!(cqe.res(), res);
        match cqe.result() {
            Ok(v) => assert!(!(-4095..0).contains(&res), "{res} -> Ok({v})"),
            Err(e) => assert_eq!(e.raw_os_error(), Some(-res)),
        }
    }
    assert_eq!(map[&0].result().unwrap(), 1 << 31);
    // A message of the most negative result into the ring, from no ring.
    if uring_tests::require_kernel(6, 13, "IORING_REGISTER_SEND_MSG_RING") {
        ring.post(i32::MIN, u64::MAX).unwrap();
        ring.get_events().unwrap();
        let cqes: Vec<_> = ring.completions().collect();
        assert_eq!(cqes.len(), 1);
        assert_eq!((cqes[0].user_data(), cqes[0].res()), (u64::MAX, i32::MIN));
        assert_eq!(cqes[0].result().unwrap(), 1 << 31);
    }
}

#[test]
fn peek_batch_and_advance_at_their_edges() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    assert_eq!(ring.peek_batch(&mut []), 0);
    assert_eq!(ring.advance(u32::MAX), 0);
    for i in 0..3 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    ring.submit_and_wait(3).unwrap();
    assert_eq!(ring.peek_batch(&mut []), 0);
    let mut out = [uring::Cqe::default(); 8];
    assert_eq!(ring.peek_batch(&mut out), 3);
    assert_eq!(ring.advance(0), 0);
    assert_eq!(ring.advance(u32::MAX), 3, "only what is ready");
    assert_eq!(ring.advance(u32::MAX), 0);
    assert!(ring.peek().is_none());
}

#[test]
fn timeouts_of_zero_and_of_duration_max() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(Timeout::new(Duration::ZERO).user_data(1))
        .unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (1, -libc::ETIME));
    // The longest timeout never fires: it is cancelled instead.
    ring.push(Timeout::new(Duration::MAX).user_data(2)).unwrap();
    ring.submit().unwrap();
    assert!(matches!(
        ring.wait_timeout(1, Duration::from_millis(20)),
        Err(Error::TimedOut)
    ));
    ring.push(Cancel::new(2).user_data(3)).unwrap();
    let cqes = submit_and_reap(&mut ring, 2);
    let mut got: Vec<_> = cqes.iter().map(|c| (c.user_data(), c.res())).collect();
    got.sort();
    assert_eq!(got, [(2, -libc::ECANCELED), (3, 0)]);
    // A link timeout of zero still lets a NOP finish or cancels it, once.
    ring.push(Nop::new().user_data(4).timeout(Duration::ZERO))
        .unwrap();
    let cqes = submit_and_reap(&mut ring, 2);
    uring_tests::assert_user_data_once(&cqes, [0, 4]);
}

// ----------------------------------------------------------------------
// Registration
// ----------------------------------------------------------------------

#[test]
fn file_tables_of_no_slot_or_of_u32_max_slots_are_refused() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    assert_eq!(errno(&ring.register_files(&[]).unwrap_err()), libc::EINVAL);
    for len in [0, (1 << 20) + 1, u32::MAX] {
        assert!(is_invalid_argument(
            &ring.register_files_sparse(len).unwrap_err()
        ));
    }
    let file = tempfile::tempfile().unwrap();
    let mut table = ring.register_files(&[file.as_fd()]).unwrap();
    assert!(is_invalid_argument(&table.get(1).unwrap_err()));
    assert!(is_invalid_argument(&table.get(u32::MAX).unwrap_err()));
    assert!(is_invalid_argument(&table.get_mut(u32::MAX).unwrap_err()));
    assert!(is_invalid_argument(
        &table.get_many_mut([0, 0]).unwrap_err()
    ));
    // An update whose end overflows u32 is refused before the kernel.
    let one = [Some(file.as_fd())];
    assert!(is_invalid_argument(
        &ring.update_files(&mut table, u32::MAX, &one).unwrap_err()
    ));
    assert!(is_invalid_argument(
        &ring.update_files(&mut table, 1, &one).unwrap_err()
    ));
    // An update of nothing, at the end: an error value, not a panic.
    match ring.update_files(&mut table, 1, &[]) {
        Ok(n) => assert_eq!(n, 0),
        Err(e) => assert_eq!(errno(&e), libc::EINVAL),
    }
    // An allocation range past the table: the kernel's error.
    let e = ring
        .set_file_alloc_range(&table, u32::MAX, u32::MAX)
        .unwrap_err();
    assert!(matches!(errno(&e), libc::EINVAL | libc::EOVERFLOW), "{e:?}");
    ring.unregister_files(table).unwrap();
}

#[test]
fn buffer_tables_of_no_slot_or_too_many_are_refused() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    for len in [0, (1 << 14) + 1, u32::MAX] {
        assert!(is_invalid_argument(
            &ring.register_buffers_sparse(len).unwrap_err()
        ));
    }
    let table = ring.register_buffers_sparse(1 << 14).unwrap();
    assert_eq!(table.get((1 << 14) - 1).unwrap().index(), (1 << 14) - 1);
    for index in [1 << 14, 65535, 65536, u32::MAX] {
        assert!(is_invalid_argument(&table.get(index).unwrap_err()));
    }
    ring.unregister_buffers(table).unwrap();
}

#[test]
fn buffer_ring_counts_and_lengths_at_their_edges() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    for (count, len) in [(0, 64), (32768, 64), (65535, 64), (1, 0)] {
        let e = ring
            .register_buf_ring(BufferGroup::new(1), count, len)
            .unwrap_err();
        assert!(is_invalid_argument(&e), "({count}, {len}): {e:?}");
    }
    // More bytes than memory holds: an error, whatever the kernel says.
    assert!(
        ring.register_buf_ring(BufferGroup::new(1), 32767, u32::MAX)
            .is_err()
    );
    for (group, count) in [(1, 1), (2, 3), (3, 32767)] {
        let Some(pool) = uring_tests::plain_buf_ring(&mut ring, group, count, 16) else {
            return;
        };
        assert_eq!(pool.count(), count);
        assert_eq!(pool.available().unwrap(), count);
        assert_eq!(pool.lent(), 0);
    }
    // A one-buffer ring serves a receive, and the buffer comes back.
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 9, 1, 4) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"abcdef").unwrap();
    for expect in [&b"abcd"[..], b"ef"] {
        let got = ring.scope(|s| {
            s.push(Recv::new(&rx, pool.select()).user_data(1)).unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            pool.claim(&mut cqe).unwrap().to_vec()
        });
        assert_eq!(got, expect);
    }
    assert_eq!(pool.available().unwrap(), 1);
}

#[test]
fn wait_regions_of_no_slot_or_u32_max_slots_and_slots_out_of_range() {
    let _watch = watchdog();
    let mut ring = disabled_ring(4);
    assert!(is_invalid_argument(
        &ring.register_wait_region(0).unwrap_err()
    ));
    assert!(is_invalid_argument(
        &ring.wait_registered(1, 0).unwrap_err()
    ));
    // u32::MAX slots: 2^32 * 64 bytes, refused by mmap or the kernel.
    assert!(ring.register_wait_region(u32::MAX).is_err());
    match ring.register_wait_region(1) {
        Ok(()) => {}
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL)) => {
            skip(format_args!("no registered wait regions (6.13): {e}"));
            return;
        }
        Err(e) => panic!("{e:?}"),
    }
    ring.enable().unwrap();
    // A page holds 64 slots; the last is never handed out.
    for slot in [63, 64, u32::MAX] {
        assert!(is_invalid_argument(
            &ring.set_registered_wait(slot, None, None).unwrap_err()
        ));
        assert!(is_invalid_argument(
            &ring.wait_registered(1, slot).unwrap_err()
        ));
    }
    // A minimum wait beyond the timeout is cut to it; the longest timeout
    // and a zero one are both accepted.
    ring.set_registered_wait(0, Some(Duration::from_millis(10)), Some(Duration::MAX))
        .unwrap();
    let start = Instant::now();
    assert!(matches!(ring.wait_registered(1, 0), Err(Error::TimedOut)));
    assert!(start.elapsed() < Duration::from_secs(5));
    ring.set_registered_wait(0, Some(Duration::ZERO), None)
        .unwrap();
    assert!(matches!(ring.wait_registered(1, 0), Err(Error::TimedOut)));
    ring.set_registered_wait(0, Some(Duration::MAX), None)
        .unwrap();
    ring.push(Nop::new().user_data(8)).unwrap();
    assert_eq!(ring.submit_and_wait_registered(1, 0).unwrap(), 1);
    assert_eq!(ring.completions().count(), 1);
}

#[test]
fn register_calls_with_empty_lists_and_extreme_values() {
    let _watch = watchdog();
    let mut ring = disabled_ring(4);
    // No restriction at all: the kernel's answer, whatever it is.
    if let Err(e) = ring.register_restrictions(&[]) {
        assert_eq!(errno(&e), libc::EINVAL);
    }
    ring.enable().unwrap();
    let mut ring = Ring::new(4).unwrap();
    assert!(is_invalid_argument(
        &ring.set_iowq_affinity(&[usize::MAX]).unwrap_err()
    ));
    assert!(is_invalid_argument(
        &ring
            .set_iowq_affinity(&[libc::CPU_SETSIZE as usize])
            .unwrap_err()
    ));
    // An empty CPU set: the kernel refuses it.
    if let Err(e) = ring.set_iowq_affinity(&[]) {
        assert!(e.raw_os_error().is_some(), "{e:?}");
    }
    // Synchronous cancellation of nothing, with no time and all of it.
    for timeout in [Some(Duration::ZERO), Some(Duration::MAX), None] {
        match ring.cancel_sync(uring::SyncCancel::user_data(77), timeout) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                skip(format_args!("no synchronous cancellation (6.0): {e}"));
                return;
            }
            other => panic!("{timeout:?}: {other:?}"),
        }
    }
    // A NAPI busy-poll time beyond u32 microseconds saturates (and the
    // kernel may clamp it further: 6.18 keeps at most 10 ms).
    match ring.register_napi(Duration::MAX, true) {
        Ok(_) => {
            let (before, prefer) = ring.register_napi(Duration::ZERO, false).unwrap();
            assert!(prefer);
            assert!(!before.is_zero());
            assert!(before <= Duration::from_micros(u64::from(u32::MAX)));
            ring.unregister_napi().unwrap();
        }
        Err(e) => assert!(e.raw_os_error().is_some(), "{e:?}"),
    }
}

#[test]
fn resizes_to_zero_or_u32_max_entries_are_refused_and_leave_the_ring_working() {
    let _watch = watchdog();
    let mut ring = Builder::new()
        .single_issuer()
        .defer_taskrun()
        .build(4)
        .unwrap();
    for (sq, cq) in [
        (0, 0),
        (0, 8),
        (8, 0),
        (u32::MAX, u32::MAX),
        (8, 4),
        (8, u32::MAX),
    ] {
        match ring.resize(sq, cq) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            other => panic!("resize({sq}, {cq}): {other:?}"),
        }
    }
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (4, 8));
    ring.push(Nop::new().user_data(1)).unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0));
}

#[test]
fn probe_answers_for_every_opcode_byte() {
    let _watch = watchdog();
    let ring = Ring::new(2).unwrap();
    let probe = ring.probe().unwrap();
    assert!(probe.is_supported(0), "NOP");
    assert!(!probe.is_supported(u8::MAX));
    for op in 0..=u8::MAX {
        let _ = probe.is_supported(op);
    }
    assert!(probe.last_op() >= 1);
    assert!(probe.supports::<Nop>());
}

// ----------------------------------------------------------------------
// Ops with empty or extreme arguments
// ----------------------------------------------------------------------

#[test]
fn empty_buffers_and_offsets_near_u64_max() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    let file = tempfile::tempfile().unwrap();
    let cqe = complete(&mut ring, Write::new(&file, &[]).offset(0));
    assert_eq!(cqe.res(), 0);
    let mut nothing: [u8; 0] = [];
    let cqe = complete(&mut ring, Read::new(&file, &mut nothing[..]).offset(0));
    assert_eq!(cqe.res(), 0);
    let cqe = complete(&mut ring, Write::new(&file, b"data").offset(0));
    assert_eq!(cqe.res(), 4);
    // u64::MAX is the file position; just below it is a negative offset.
    let mut buf = [0u8; 4];
    for offset in [u64::MAX - 1, 1 << 63, i64::MAX as u64] {
        let cqe = complete(&mut ring, Read::new(&file, &mut buf[..]).offset(offset));
        assert!(
            cqe.res() == -libc::EINVAL || cqe.res() == 0,
            "read at {offset:#x}: {}",
            cqe.res()
        );
        let cqe = complete(&mut ring, Write::new(&file, b"x").offset(offset));
        assert!(
            cqe.res() == -libc::EINVAL || cqe.res() == -libc::EFBIG,
            "write at {offset:#x}: {}",
            cqe.res()
        );
    }
    assert_eq!(file.metadata().unwrap().len(), 4, "nothing was written");
}

#[test]
fn iovec_arrays_that_are_empty_or_longer_than_the_kernel_takes() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    let file = tempfile::tempfile().unwrap();
    let cqe = complete(&mut ring, WriteV::new(&file, &[]));
    assert_eq!(cqe.res(), 0);
    let cqe = complete(&mut ring, ReadV::new(&file, &mut []));
    assert_eq!(cqe.res(), 0);
    let byte = [7u8];
    let many: Vec<IoSlice<'_>> = (0..1025).map(|_| IoSlice::new(&byte)).collect();
    let cqe = complete(&mut ring, WriteV::new(&file, &many));
    assert_eq!(cqe.res(), -libc::EINVAL);
    let cqe = complete(&mut ring, WriteV::new(&file, &many[..1024]));
    assert_eq!(cqe.res(), 1024);
    let mut back = vec![0u8; 1025];
    let mut iovecs: Vec<IoSliceMut<'_>> = back.chunks_mut(1).map(IoSliceMut::new).collect();
    let cqe = complete(&mut ring, ReadV::new(&file, &mut iovecs[..]));
    assert_eq!(cqe.res(), -libc::EINVAL);
    drop(iovecs);
    assert!(back.iter().all(|&b| b == 0));
}

#[test]
fn empty_futex_and_epoll_arrays_fail_with_einval() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    if uring_tests::require_op::<FutexWaitv<'_>>(&ring) {
        let cqe = complete(&mut ring, FutexWaitv::new(&[]));
        assert_eq!(cqe.res(), -libc::EINVAL);
    }
    if uring_tests::require_op::<uring::ops::EpollWait<'_>>(&ring) {
        // SAFETY: epoll_create1 takes a flag.
        let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        assert!(epfd >= 0);
        // SAFETY: epoll_create1 just returned it, owned by no one else.
        let ep = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(epfd) };
        let mut none: [libc::epoll_event; 0] = [];
        let cqe = complete(&mut ring, uring::ops::EpollWait::new(&ep, &mut none[..]));
        assert_eq!(cqe.res(), -libc::EINVAL);
    }
}

#[test]
fn message_headers_with_empty_malformed_and_huge_control_data() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    let (a, b) = UnixDatagram::pair().unwrap();
    let iov = [IoSlice::new(b"hi")];
    // No control data.
    let msg = MsgHdr::new(&iov).control(&[]).unwrap();
    assert_eq!(complete(&mut ring, SendMsg::new(&a, &msg)).res(), 2);
    // No buffers at all: an empty datagram.
    let msg = MsgHdr::new(&[]);
    assert_eq!(complete(&mut ring, SendMsg::new(&a, &msg)).res(), 0);
    // Zeroed control bytes: a record of length 0, which the kernel refuses.
    let zeros = vec![0u8; 1 << 16];
    let msg = MsgHdr::new(&iov).control(&zeros).unwrap();
    assert_eq!(
        complete(&mut ring, SendMsg::new(&a, &msg)).res(),
        -libc::EINVAL
    );
    // A record claiming more bytes than the buffer has, up to usize::MAX.
    let header = std::mem::size_of::<libc::cmsghdr>();
    for claimed in [header + 64, usize::MAX] {
        let mut control = vec![0u8; header + 8];
        control[..8].copy_from_slice(&claimed.to_ne_bytes());
        control[8..12].copy_from_slice(&libc::SOL_SOCKET.to_ne_bytes());
        control[12..16].copy_from_slice(&libc::SCM_RIGHTS.to_ne_bytes());
        let msg = MsgHdr::new(&iov).control(&control).unwrap();
        assert_eq!(
            complete(&mut ring, SendMsg::new(&a, &msg)).res(),
            -libc::EINVAL,
            "claimed {claimed}"
        );
    }
    // Fewer bytes than a header: no record.
    let short = [1u8, 2, 3];
    let msg = MsgHdr::new(&iov).control(&short).unwrap();
    let res = complete(&mut ring, SendMsg::new(&a, &msg)).res();
    assert!(res == 2 || res == -libc::EINVAL, "{res}");
    // What did arrive: one datagram per successful send, nothing else.
    b.set_nonblocking(true).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 16];
    while let Ok(n) = b.recv(&mut buf) {
        got.push(buf[..n].to_vec());
    }
    let expected = if res == 2 { 3 } else { 2 };
    assert_eq!(got.len(), expected, "{got:?}");
}

#[test]
fn multishot_message_layouts_at_their_extremes_parse_to_none() {
    let _watch = watchdog();
    for (name, control) in [
        (u32::MAX, usize::MAX),
        (0, usize::MAX),
        (u32::MAX, 0),
        (16, 16),
    ] {
        let layout = MsgLayout::new(name, control);
        assert!(RecvMsgOut::parse(&[], &layout).is_none());
        assert!(RecvMsgOut::parse(&[0xff; 15], &layout).is_none());
    }
    // Lengths in the header beyond everything are cut to the buffer.
    let layout = MsgLayout::new(0, 0);
    let mut buf = vec![0xffu8; 16];
    buf.extend_from_slice(b"payload");
    let out = RecvMsgOut::parse(&buf, &layout).unwrap();
    assert_eq!(out.payload(), b"payload");
    assert_eq!(out.name(), b"");
    assert_eq!(out.control(), b"");
    assert_eq!(out.payload_len(), u32::MAX);
    assert!(out.socket_addr().is_none());
}

#[test]
fn buffer_pools_of_zero_length_buffers_or_empty_regions_hold_none() {
    let _watch = watchdog();
    let mut region = vec![0u8; 100];
    assert_eq!(BufferPool::new(&mut region, 0).count(), 0);
    assert_eq!(BufferPool::new(&mut region, u32::MAX).count(), 0);
    assert_eq!(BufferPool::new(&mut region, 101).count(), 0);
    assert_eq!(BufferPool::new(&mut region, 33).count(), 3);
    assert_eq!(BufferPool::new(&mut [], 1).count(), 0);
}

// ----------------------------------------------------------------------
// Scopes
// ----------------------------------------------------------------------

#[test]
fn scope_waits_and_cancels_at_their_edges() {
    let _watch = watchdog();
    let mut ring = Ring::new(2).unwrap();
    let (_tx, rx) = UnixStream::pair().unwrap();
    let file = tempfile::tempfile().unwrap();
    let mut buf = [0u8; 8];
    let done = ring.scope(|s| {
        assert!(is_invalid_argument(
            &s.submit_and_wait(u32::MAX).unwrap_err()
        ));
        assert!(is_invalid_argument(&s.wait(5).unwrap_err()));
        assert!(matches!(
            s.wait_timeout(1, Duration::ZERO),
            Err(Error::TimedOut)
        ));
        // Nothing to cancel.
        assert_eq!(s.cancel(u64::MAX).unwrap(), 0);
        // An owned buffer of no bytes (a receive of none would wait for a
        // byte to arrive: a read of a file does not).
        s.push_owned(Vec::new(), |b, sq| {
            sq.push(Read::new(&file, b).user_data(1));
        })
        .unwrap();
        s.push(Recv::new(&rx, &mut buf[..]).user_data(2)).unwrap();
        // The queue holds two: the third push comes back.
        assert!(s.push(Nop::new().user_data(3)).unwrap_err().is_full());
        s.submit().unwrap();
        // A zero-length read completes at once with 0.
        s.wait_timeout(1, PATIENCE).unwrap();
        let mut first = s.completions().next().unwrap();
        assert_eq!((first.user_data(), first.res()), (1, 0));
        assert_eq!(first.take_buf(), Some(Vec::new()));
        // The other waits for data that never comes: the scope's end
        // cancels it.
        s.in_flight()
    });
    assert_eq!(done, 1);
    assert!(buf.iter().all(|&b| b == 0));
    assert_eq!(ring.completions().count(), 0, "nothing leaked out");
}

// ----------------------------------------------------------------------
// The reactor
// ----------------------------------------------------------------------

#[test]
fn reactor_ops_over_zero_length_buffers_complete_once_with_zero() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    // A receive of no bytes waits for one to arrive (as recv(2) does).
    b.write_all(b"z").unwrap();
    let fd = SharedFd::new(a);
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    reactor
        .queue(
            uring::reactor::ops::Recv::new(&fd, Vec::new()),
            move |r, buf| {
                assert_eq!(r.unwrap(), 0);
                assert!(buf.is_empty());
                c.set(c.get() + 1);
            },
        )
        .unwrap();
    let c = calls.clone();
    reactor
        .queue(
            uring::reactor::ops::Send::new(&fd, Vec::new()),
            move |r, _| {
                assert_eq!(r.unwrap(), 0);
                c.set(c.get() + 1);
            },
        )
        .unwrap();
    let c = calls.clone();
    reactor
        .queue(
            uring::reactor::ops::Write::new(&fd, &b""[..], u64::MAX),
            move |r, _| {
                assert_eq!(r.unwrap(), 0);
                c.set(c.get() + 1);
            },
        )
        .unwrap();
    reactor.run().unwrap();
    assert_eq!(calls.get(), 3);
    assert_eq!(reactor.in_flight(), 0);
}

#[test]
fn reactor_deadlines_in_the_past_and_far_future() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (a, _b) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(a);
    let past = Instant::now()
        .checked_sub(Duration::from_secs(3600))
        .unwrap_or_else(Instant::now);
    let far = Instant::now()
        .checked_add(Duration::from_secs(1 << 40))
        .expect("an instant far ahead");
    let results = Rc::new(RefCell::new(Vec::new()));
    // A receive that would wait for ever, due already: cancelled at once.
    let r = results.clone();
    reactor
        .queue_with_deadline(
            uring::reactor::ops::Recv::new(&fd, vec![0u8; 8]),
            past,
            move |res, _| {
                r.borrow_mut()
                    .push(("recv", res.map_err(|e| e.raw_os_error())))
            },
        )
        .unwrap();
    // A NOP with a deadline far away: done at once.
    let r = results.clone();
    reactor
        .queue_with_deadline(uring::reactor::ops::Nop, far, move |res, ()| {
            r.borrow_mut()
                .push(("nop", res.map_err(|e| e.raw_os_error())))
        })
        .unwrap();
    let start = Instant::now();
    reactor.run().unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    let mut got = results.borrow().clone();
    got.sort();
    assert_eq!(got, [("nop", Ok(0)), ("recv", Err(Some(libc::ECANCELED)))]);
    // Timeouts of zero and of the longest duration, the latter cancelled.
    let (r, ()) = reactor
        .run_until(reactor.op(uring::reactor::ops::Timeout::new(Duration::ZERO)))
        .unwrap();
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ETIME));
    let long = Rc::new(Cell::new(None));
    let l = long.clone();
    let id = reactor
        .queue(
            uring::reactor::ops::Timeout::new(Duration::MAX),
            move |r, ()| l.set(Some(r.map_err(|e| e.raw_os_error()))),
        )
        .unwrap();
    reactor.submit().unwrap();
    assert!(reactor.cancel(id).unwrap());
    reactor.run().unwrap();
    assert_eq!(long.get(), Some(Err(Some(libc::ECANCELED))));
    assert_eq!(reactor.in_flight(), 0);
}

#[test]
fn reactor_on_a_one_entry_ring_refuses_an_op_with_a_deadline_without_hanging() {
    let _watch = watchdog();
    let reactor = Reactor::from_ring(Ring::new(1).unwrap()).unwrap();
    let ran = Rc::new(Cell::new(0));
    let r = ran.clone();
    let result = reactor.queue_with_deadline(
        uring::reactor::ops::Nop,
        Instant::now() + Duration::from_secs(1),
        move |_, ()| r.set(r.get() + 1),
    );
    // An op and its link timeout need two SQEs: refused at once.
    let e = result.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
    assert_eq!(reactor.in_flight(), 0);
    // The reactor still runs ops that fit.
    let r = ran.clone();
    reactor
        .queue(uring::reactor::ops::Nop, move |res, ()| {
            assert_eq!(res.unwrap(), 0);
            r.set(r.get() + 10);
        })
        .unwrap();
    reactor.run().unwrap();
    assert_eq!(ran.get(), 10, "the refused op's callback never ran");
}

#[test]
fn reactor_buffer_rings_at_their_edges() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    for (count, len) in [(0, 16), (32768, 16), (1, 0)] {
        let e = reactor
            .register_buf_ring(BufferGroup::new(4), count, len)
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
    }
    reactor
        .register_buf_ring(BufferGroup::new(4), 1, 16)
        .unwrap();
    let e = reactor
        .register_buf_ring(BufferGroup::new(4), 1, 16)
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
}

/// A reactor receive into its buffer ring of `text`, returning the buffer.
fn ring_buf_of(reactor: &Reactor, text: &[u8]) -> uring::reactor::RingBuf {
    let group = reactor
        .register_buf_ring(BufferGroup::new(6), 2, 64)
        .unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    b.write_all(text).unwrap();
    let fd = SharedFd::new(a);
    let (r, buf) = reactor
        .run_until(reactor.op(uring::reactor::ops::RecvRing::new(&fd, group)))
        .unwrap();
    assert_eq!(r.unwrap() as usize, text.len());
    buf.expect("a buffer")
}

#[test]
fn ring_buf_truncate_to_a_longer_length_keeps_the_bytes() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let mut buf = ring_buf_of(&reactor, b"hello");
    buf.truncate(usize::from(u16::MAX));
    assert_eq!(&buf[..], b"hello");
    buf.truncate(3);
    assert_eq!(&buf[..], b"hel");
    buf.truncate(0);
    assert!(buf.is_empty());
}

#[test]
fn ring_buf_truncate_beyond_u32_keeps_the_bytes() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let mut buf = ring_buf_of(&reactor, b"hello");
    // "Shortens the bytes to `len` (no effect if longer)": 2^32 + 2 is
    // longer than the 5 bytes.
    buf.truncate((1usize << 32) + 2);
    assert_eq!(&buf[..], b"hello");
    buf.truncate(usize::MAX);
    assert_eq!(&buf[..], b"hello");
}

#[test]
fn owned_buffer_slices_clamp_every_range() {
    let _watch = watchdog();
    let v = b"abcdef".to_vec();
    // A range that ends before it starts (built from values, as a
    // program's would be).
    let (start, end) = (4, 2);
    let s = v.clone().slice(start..end);
    assert_eq!((s.begin(), s.end(), s.as_bytes()), (4, 4, &b""[..]));
    let s = v.clone().slice(usize::MAX..);
    assert_eq!((s.begin(), s.end()), (6, 6));
    let s = v.clone().slice(..=usize::MAX);
    assert_eq!(s.as_bytes(), b"abcdef");
    let s = v.clone().slice((
        std::ops::Bound::Excluded(usize::MAX),
        std::ops::Bound::Unbounded,
    ));
    assert_eq!(s.as_bytes(), b"");
    let s = Vec::<u8>::new().slice(1..9);
    assert_eq!((s.begin(), s.end()), (0, 0));
    assert_eq!(v.slice(1..=2).as_bytes(), b"bc");
}

// ----------------------------------------------------------------------
// Network types
// ----------------------------------------------------------------------

#[test]
fn udp_deadlines_in_the_past_fail_at_once_and_far_ones_do_not_fire() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut a = uring::net::UdpSocket::bind(&h, any).unwrap();
    let b = uring::net::UdpSocket::bind(&h, any).unwrap();
    let b_addr = b.local_addr().unwrap();
    let past = Instant::now()
        .checked_sub(Duration::from_secs(1))
        .unwrap_or_else(Instant::now);
    a.set_deadline(Some(past));
    reactor
        .run_until(async {
            let (r, buf) = a.recv_from(vec![0u8; 8]).await;
            assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
            assert_eq!(buf.len(), 8, "the buffer comes back as it was");
            let (r, _) = a.send_to(b"x".to_vec(), b_addr).await;
            assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
        })
        .unwrap();
    let far = Instant::now()
        .checked_add(Duration::from_secs(1 << 40))
        .unwrap();
    a.set_deadline(Some(far));
    reactor
        .run_until(async {
            // An empty datagram, and a zero-capacity buffer to take it.
            let (r, _) = a.send_to(Vec::new(), b_addr).await;
            assert_eq!(r.unwrap(), 0);
            let (r, _) = a.send_to(b"late".to_vec(), b_addr).await;
            assert_eq!(r.unwrap(), 4);
            let (r, buf) = b.recv_from(Vec::new()).await;
            assert_eq!(r.unwrap().0, 0);
            assert!(buf.is_empty());
            let (r, buf) = b.recv_from(Vec::with_capacity(2)).await;
            // A datagram longer than the buffer: cut to it.
            assert_eq!(r.unwrap().0, 2);
            assert_eq!(buf, b"la");
        })
        .unwrap();
    assert_eq!(reactor.in_flight(), 0);
}

#[test]
fn tcp_deadlines_in_the_past_fail_at_once() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut stream = reactor
        .run_until(uring::net::TcpStream::connect(&h, addr))
        .unwrap()
        .unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    let past = Instant::now()
        .checked_sub(Duration::from_millis(1))
        .unwrap_or_else(Instant::now);
    stream.set_deadline(Some(past));
    reactor
        .run_until(async {
            let (r, _) = stream.write(b"x".to_vec()).await;
            assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
            let (r, _) = stream.read(Vec::with_capacity(4)).await;
            assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
            let (r, _) = stream.write_all(Vec::new()).await;
            assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
        })
        .unwrap();
    stream.set_deadline(None);
    reactor
        .run_until(async {
            let (r, _) = stream.write_all(Vec::new()).await;
            r.unwrap();
            let (r, _) = stream.write_all(b"ok".to_vec()).await;
            r.unwrap();
        })
        .unwrap();
    let mut got = [0u8; 2];
    std::io::Read::read_exact(&mut peer, &mut got).unwrap();
    assert_eq!(&got, b"ok");
    peer.write_all(b"!").unwrap();
    reactor
        .run_until(async {
            // A zero-capacity read: 0 at once, though a byte waits.
            let (r, _) = stream.read(Vec::new()).await;
            assert_eq!(r.unwrap(), 0);
            let (r, buf) = stream.read(Vec::with_capacity(1)).await;
            assert_eq!(r.unwrap(), 1);
            assert_eq!(buf, b"!");
        })
        .unwrap();
}
