//! Registration beyond files and buffers: restrictions, synchronous
//! cancellation, the file allocation range, NAPI busy polling.

use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::time::Duration;
use uring::{FileUpdates, FilesAt};
use uring_tests::push_lent;

use uring::ops::{Accept, FilesUpdate, Nop, Read};
use uring::{Error, Restriction, Ring, SyncCancel, sys};
use uring_tests::{by_user_data, require_kernel, skip};

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2(2) returns.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors are new and owned by nothing else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

#[test]
fn restrictions_allow_only_what_they_name() {
    let mut ring = Ring::builder().r_disabled().build(8).unwrap();
    ring.register_restrictions(&[
        Restriction::op::<Nop>(),
        Restriction::register_op(sys::IORING_REGISTER_PROBE as u8),
    ])
    .unwrap();
    ring.enable().unwrap();
    // Registering again is refused: restrictions are set once.
    let again = ring.register_restrictions(&[Restriction::op::<Read<'static>>()]);
    assert!(again.is_err(), "{again:?}");

    let zero = std::fs::File::open("/dev/zero").unwrap();
    let buf: &'static mut [u8] = Box::leak(vec![1u8; 8].into_boxed_slice());
    ring.push(Nop::new().user_data(1)).unwrap();
    push_lent!(ring, Read::new(&zero, buf).user_data(2)).unwrap();
    ring.submit_and_wait(2).unwrap();
    let by = by_user_data(&ring.completions().collect::<Vec<_>>());
    assert_eq!(by[&1].res(), 0, "the allowed op runs");
    assert_eq!(by[&2].res(), -libc::EACCES, "the other op is refused");
    // The allowed register call works, others are refused.
    assert!(ring.probe().is_ok());
    let refused = ring.register_files_sparse(2);
    assert_eq!(
        refused.err().and_then(|e| e.raw_os_error()),
        Some(libc::EACCES)
    );
}

#[test]
fn cancel_sync_waits_for_the_request_and_reports_unknown_ones() {
    let mut ring = Ring::new(8).unwrap();
    if !require_kernel(6, 0, "IORING_REGISTER_SYNC_CANCEL") {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    push_lent!(ring, Accept::new(&listener).user_data(5)).unwrap();
    ring.submit().unwrap();
    ring.cancel_sync(SyncCancel::user_data(5), None).unwrap();
    // The cancelled accept has completed by the time cancel_sync returns.
    let cqe = ring
        .peek()
        .expect("the accept's completion is already posted");
    assert_eq!((cqe.user_data(), cqe.res()), (5, -libc::ECANCELED));
    ring.advance(1);

    let unknown = ring.cancel_sync(SyncCancel::user_data(77), Some(Duration::from_secs(1)));
    assert_eq!(
        unknown.err().and_then(|e| e.raw_os_error()),
        Some(libc::ENOENT)
    );
}

#[test]
fn cancel_sync_any_all_cancels_every_request_before_returning() {
    let mut ring = Ring::new(8).unwrap();
    if !require_kernel(6, 0, "IORING_REGISTER_SYNC_CANCEL") {
        return;
    }
    let pipes: Vec<(OwnedFd, OwnedFd)> = (0..3).map(|_| pipe()).collect();
    let mut bufs = [[0u8; 4]; 3];
    for (i, ((rx, _), buf)) in pipes.iter().zip(bufs.iter_mut()).enumerate() {
        // SAFETY: `bufs` outlives cancel_sync below, which returns only once
        // the kernel is done with every request.
        unsafe { ring.push_unchecked(Read::new(rx, &mut buf[..]).user_data(i as u64)) }
            .map_err(Error::from)
            .unwrap();
    }
    ring.submit().unwrap();
    ring.cancel_sync(SyncCancel::any().all(), None).unwrap();
    let done: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    let mut sorted = done.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            (0, -libc::ECANCELED),
            (1, -libc::ECANCELED),
            (2, -libc::ECANCELED)
        ]
    );
}

#[test]
fn cancel_sync_by_fd_cancels_only_that_files_requests() {
    let mut ring = Ring::new(8).unwrap();
    if !require_kernel(6, 0, "IORING_REGISTER_SYNC_CANCEL") {
        return;
    }
    let (a, _a_tx) = pipe();
    let (b, _b_tx) = pipe();
    let (mut x, mut y) = ([0u8; 4], [0u8; 4]);
    // SAFETY: `x` and `y` outlive the cancellations below, each of which
    // returns once the kernel is done with its requests.
    unsafe {
        ring.push_unchecked(Read::new(&a, &mut x[..]).user_data(1))
            .map_err(Error::from)
            .unwrap();
        ring.push_unchecked(Read::new(&b, &mut y[..]).user_data(2))
            .map_err(Error::from)
            .unwrap();
    }
    ring.submit().unwrap();
    ring.cancel_sync(SyncCancel::fd(a.as_fd()), None).unwrap();
    let first: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(first, [(1, -libc::ECANCELED)], "only the read on `a`");
    ring.cancel_sync(SyncCancel::op::<Read<'static>>().all(), None)
        .unwrap();
    let second: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(second, [(2, -libc::ECANCELED)]);
}

#[test]
fn the_file_alloc_range_decides_where_allocated_slots_go() {
    let mut ring = Ring::new(8).unwrap();
    if !require_kernel(6, 0, "IORING_REGISTER_FILE_ALLOC_RANGE") {
        return;
    }
    let table = ring.register_files_sparse(8).unwrap();
    ring.set_file_alloc_range(&table, 4, 2).unwrap();
    let file = tempfile::tempfile().unwrap();
    let mut fds = FileUpdates::new(&[Some(file.as_fd()), Some(file.as_fd())]);
    let update = FilesUpdate::new(&mut fds, FilesAt::ALLOC);
    // SAFETY: `fds` outlives the wait for the completion.
    unsafe { ring.push_unchecked(update.user_data(1)) }
        .map_err(Error::from)
        .unwrap();
    ring.submit_and_wait(1).unwrap();
    let cqe = ring.completions().next().unwrap();
    assert_eq!(cqe.res(), 2, "two slots allocated");
    let mut slots = fds.slots().to_vec();
    slots.sort_unstable();
    assert_eq!(slots, [4, 5], "inside the range");
    // The range is full now.
    let mut more = FileUpdates::new(&[Some(file.as_fd())]);
    let update = FilesUpdate::new(&mut more, FilesAt::ALLOC);
    // SAFETY: `more` outlives the wait for the completion.
    unsafe { ring.push_unchecked(update.user_data(2)) }
        .map_err(Error::from)
        .unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(ring.completions().next().unwrap().res(), -libc::ENFILE);
    ring.unregister_files(table).unwrap();
}

#[test]
fn napi_settings_round_trip() {
    let mut ring = Ring::new(8).unwrap();
    match ring.register_napi(Duration::from_micros(50), true) {
        Ok(previous) => assert_eq!(previous, (Duration::ZERO, false)),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip("NAPI busy polling is not available in this kernel");
            return;
        }
        Err(e) => panic!("register_napi: {e}"),
    }
    let previous = ring
        .register_napi(Duration::from_micros(10), false)
        .unwrap();
    assert_eq!(previous, (Duration::from_micros(50), true));
    ring.unregister_napi().unwrap();
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(ring.completions().next().unwrap().res(), 0);
}

#[test]
fn an_oversized_sparse_table_is_refused_before_the_kernel_sees_it() {
    let mut ring = Ring::new(2).unwrap();
    let refused = ring.register_files_sparse(sys::IORING_MAX_FIXED_FILES + 1);
    assert!(
        matches!(refused, Err(Error::InvalidArgument(_))),
        "{refused:?}"
    );
    // The largest table is accepted (within RLIMIT_NOFILE) or refused by the
    // kernel with an errno, never by a panic.
    match ring.register_files_sparse(sys::IORING_MAX_FIXED_FILES) {
        Ok(table) => {
            assert_eq!(table.len(), sys::IORING_MAX_FIXED_FILES);
            ring.unregister_files(table).unwrap();
        }
        Err(e) => assert!(e.raw_os_error().is_some(), "{e:?}"),
    }
}

/// Waits can be timed on `CLOCK_BOOTTIME`: a timed wait still ends at its
/// timeout, and completions still end a wait; back to `CLOCK_MONOTONIC`
/// the same.
#[test]
fn waits_are_timed_on_the_registered_clock() {
    use std::time::Instant;
    use uring::{Clock, WaitArgs};
    if !require_kernel(6, 12, "a registered wait clock (IORING_REGISTER_CLOCK)") {
        return;
    }
    let mut ring = Ring::new(4).unwrap();
    for clock in [Clock::Boottime, Clock::Monotonic] {
        ring.register_clock(clock).unwrap();
        let started = Instant::now();
        let waited = ring.wait_timeout(1, Duration::from_millis(30));
        assert!(
            matches!(waited, Err(Error::TimedOut)),
            "{clock:?}: {waited:?}"
        );
        assert!(started.elapsed() >= Duration::from_millis(30), "{clock:?}");
        ring.push(Nop::new().user_data(3)).unwrap();
        let args = WaitArgs::new().timeout(Duration::from_secs(5));
        ring.submit_and_wait_with(1, &args).unwrap();
        let cqe = ring.completions().next().unwrap();
        assert_eq!((cqe.user_data(), cqe.res()), (3, 0), "{clock:?}");
    }
}
