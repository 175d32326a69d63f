//! Where a ring lives and how it is named: rings in the library's memory
//! (NO_MMAP), rings with only a registered index, resized rings, buffers
//! cloned from one ring to another, and completions posted from no ring.

use std::io::IoSliceMut;
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::FileExt as _;
use std::time::Duration;

use uring::ops::{Nop, Timeout, WriteFixed};
use uring::{Error, Ring};
use uring_tests::{complete, pattern, require_kernel, skip, submit_and_reap};

/// Pushes `n` NOPs with `user_data` from `first` on, and checks that each
/// completes once, in order.
fn nops_round_trip(ring: &mut Ring, first: u64, n: u64) {
    for i in first..first + n {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    let cqes = submit_and_reap(ring, n as usize);
    let got: Vec<_> = cqes.iter().map(|c| (c.user_data(), c.res())).collect();
    let want: Vec<_> = (first..first + n).map(|i| (i, 0)).collect();
    assert_eq!(got, want);
}

#[test]
fn a_ring_in_the_librarys_memory_works_as_a_mapped_one() {
    if !require_kernel(6, 5, "IORING_SETUP_NO_MMAP") {
        return;
    }
    let mut ring = Ring::builder().no_mmap().build(8).unwrap();
    // Around the queues several times.
    for round in 0..5 {
        nops_round_trip(&mut ring, round * 8, 8);
    }
    // A timeout op reads its timespec from the ring's stable memory.
    ring.push(Timeout::new(Duration::from_millis(1)).user_data(99))
        .unwrap();
    let cqe = submit_and_reap(&mut ring, 1)[0];
    assert_eq!((cqe.user_data(), cqe.res()), (99, -libc::ETIME));
}

#[test]
fn a_ring_in_huge_pages_works_or_says_why_not() {
    if !require_kernel(6, 5, "IORING_SETUP_NO_MMAP") {
        return;
    }
    match Ring::builder().no_mmap_huge_pages().build(64) {
        Ok(mut ring) => nops_round_trip(&mut ring, 0, 64),
        // No huge pages reserved on this machine: the mmap error.
        Err(e) => {
            uring_tests::skip_without_huge_pages(&e, format_args!("no huge pages to put a ring in"))
        }
    }
}

#[test]
fn a_ring_with_only_a_registered_index_works_on_its_thread_alone() {
    if !require_kernel(6, 5, "IORING_SETUP_REGISTERED_FD_ONLY") {
        return;
    }
    let mut ring = Ring::builder().registered_fd_only().build(8).unwrap();
    assert_eq!(ring.as_raw_fd(), -1, "no descriptor");
    assert!(ring.registered_ring_fd().is_some());
    nops_round_trip(&mut ring, 0, 8);
    // Registration goes through the index too.
    let _ = ring.register_files_sparse(4).unwrap();
    // The index means nothing on another thread: errors, not another ring.
    let ring = std::thread::spawn(move || {
        let mut ring = ring;
        ring.push(Nop::new().user_data(7)).unwrap();
        let e = ring.submit().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{e}");
        assert!(ring.register_files_sparse(2).is_err());
        ring
    })
    .join()
    .unwrap();
    // Back home, the NOP pushed over there goes in.
    let mut ring = ring;
    let cqe = submit_and_reap(&mut ring, 1)[0];
    assert_eq!((cqe.user_data(), cqe.res()), (7, 0));
    assert!(matches!(
        ring.unregister_ring_fd(),
        Err(Error::InvalidArgument(_))
    ));
}

/// A ring the kernel lets resize (DEFER_TASKRUN), or `None` (with a skip
/// message) before 6.13.
fn resizable(sq: u32) -> Option<Ring> {
    let mut ring = Ring::builder()
        .single_issuer()
        .defer_taskrun()
        .build(sq)
        .unwrap();
    match ring.resize(sq, sq * 2) {
        Ok(()) => Some(ring),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip(format_args!("resizing rings needs Linux 6.13: {e}"));
            None
        }
        Err(e) => panic!("resize: {e}"),
    }
}

#[test]
fn a_resized_ring_keeps_its_completions_and_takes_more() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = resizable(4) else {
        return;
    };
    // Four completions waiting in the CQ when it grows.
    for i in 0..4 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    ring.submit_and_wait(4).unwrap();
    ring.resize(32, 64).unwrap();
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (32, 64));
    let kept: Vec<_> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(kept, [0, 1, 2, 3]);
    // The new SQ takes 32 at once.
    nops_round_trip(&mut ring, 100, 32);
    // And shrinks again.
    ring.resize(2, 4).unwrap();
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (2, 4));
    // A wait for more than the smaller CQ holds is refused, not made (the
    // kernel would wait for 4 that never come).
    let e = ring.submit_and_wait(5).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    nops_round_trip(&mut ring, 200, 2);
}

#[test]
fn a_resize_submits_what_is_pushed_first() {
    let Some(mut ring) = resizable(8) else {
        return;
    };
    for i in 0..3 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    ring.resize(16, 32).unwrap();
    ring.submit_and_wait(3).unwrap();
    let got: Vec<_> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(got, [0, 1, 2]);
    // The kernel refuses a CQ smaller than the SQ.
    let e = ring.resize(16, 8).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
    nops_round_trip(&mut ring, 10, 16);
}

#[test]
fn cloned_buffers_serve_fixed_ops_on_the_second_ring() {
    if !require_kernel(6, 12, "IORING_REGISTER_CLONE_BUFFERS") {
        return;
    }
    // Declared before the rings: freed after both are gone.
    let mut region = pattern(8192, 41);
    let mut src = Ring::new(4).unwrap();
    let mut dst = Ring::new(4).unwrap();
    let (a, b) = region.split_at_mut(4096);
    // SAFETY: the vector is not touched or resized until both rings, which
    // end the registrations, are dropped.
    let bufs = unsafe { src.register_buffers(&[IoSliceMut::new(a), IoSliceMut::new(b)]) }.unwrap();
    // SAFETY: as above, for the second ring.
    let cloned = unsafe { dst.clone_buffers(&src, &bufs, 1, 1) }.unwrap();
    assert_eq!(cloned.len(), 1);
    assert!(cloned.get(1).is_err(), "one buffer cloned");
    let file = tempfile::tempfile().unwrap();
    let data = pattern(8192, 41);
    // Buffer 1 of `src` is buffer 0 of `dst`.
    let whole = &data[4096..];
    // SAFETY: the slice is of the registered memory, which only the op
    // reads while it runs.
    let view = unsafe { std::slice::from_raw_parts(region.as_ptr().add(4096), 4096) };
    let cqe = complete(
        &mut dst,
        WriteFixed::new(&file, &view[10..110], cloned.get(0).unwrap()),
    );
    assert_eq!(cqe.res(), 100, "{cqe:?}");
    let mut back = [0u8; 100];
    file.read_exact_at(&mut back, 0).unwrap();
    assert_eq!(back[..], whole[10..110]);
    // Bad ranges never reach the kernel; a table with buffers is refused.
    // SAFETY: these fail before registering anything.
    unsafe {
        assert!(matches!(
            dst.clone_buffers(&src, &bufs, 1, 2),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            dst.clone_buffers(&src, &bufs, 0, 0),
            Err(Error::InvalidArgument(_))
        ));
        let e = dst.clone_buffers(&src, &bufs, 0, 1).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EBUSY), "{e}");
        // Another ring's handle is not `src`'s.
        assert!(dst.clone_buffers(&dst_of(&src), &bufs, 0, 1).is_err());
    }
}

/// A fresh ring that is not `_src`.
fn dst_of(_src: &Ring) -> Ring {
    Ring::new(2).unwrap()
}

#[test]
fn a_posted_completion_arrives_as_sent() {
    if !require_kernel(6, 13, "IORING_REGISTER_SEND_MSG_RING") {
        return;
    }
    let mut ring = Ring::new(4).unwrap();
    ring.post(-42, 0xfeed).unwrap();
    ring.post(7, 1).unwrap();
    ring.wait(2).unwrap();
    let got: Vec<_> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(got, [(0xfeed, -42), (1, 7)]);
    // A ring without a descriptor cannot be posted to.
    if require_kernel(6, 5, "IORING_SETUP_REGISTERED_FD_ONLY") {
        let bare = Ring::builder().registered_fd_only().build(2).unwrap();
        assert!(bare.post(0, 0).is_err());
    }
}
