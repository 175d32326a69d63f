//! `Ring::from_fd`: a ring set up elsewhere (a raw `io_uring_setup`, or a
//! ring whose user went away) adopted with the parameters its setup wrote
//! back; what its previous user left in the CQ or in flight reaches the new
//! ring as completions of no op of its own, and rings it cannot map as this
//! type are refused, their descriptor closed.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use uring::ops::{Nop, Timeout};
use uring::{Cqe16, Ring, Sqe64, Sqe128, sys};
use uring_tests::fd_is_open;

/// A ring set up by a raw `io_uring_setup` with `flags`: its descriptor and
/// the parameters the kernel wrote back.
fn raw_setup(entries: u32, flags: u32) -> (OwnedFd, sys::io_uring_params) {
    let mut p = sys::io_uring_params {
        flags,
        ..Default::default()
    };
    // SAFETY: `p` is a valid, writable `io_uring_params` without NO_MMAP.
    let fd = unsafe { sys::io_uring_setup(entries, &mut p) }.expect("io_uring_setup");
    // SAFETY: the setup returned a new descriptor that nothing else owns.
    (unsafe { OwnedFd::from_raw_fd(fd) }, p)
}

/// A new descriptor for `fd`'s file.
fn dup(fd: RawFd) -> OwnedFd {
    // SAFETY: dup of an open descriptor gives a new one nothing else owns.
    let new = unsafe { libc::dup(fd) };
    assert!(new >= 0);
    // SAFETY: as above.
    unsafe { OwnedFd::from_raw_fd(new) }
}

/// Adopts `fd` as a plain ring.
fn adopt(fd: OwnedFd, p: &sys::io_uring_params) -> uring::Result<Ring> {
    // SAFETY: `fd` is an io_uring instance set up with `p`, which nothing
    // else uses while the ring lives (a previous `Ring` over it is
    // forgotten, never used again); every op in flight points to no memory.
    unsafe { Ring::<Sqe64, Cqe16>::from_fd(fd, p) }
}

#[test]
fn a_raw_setup_is_adopted_and_serves_pushes_and_scopes() {
    let (fd, p) = raw_setup(8, 0);
    let raw = fd.as_raw_fd();
    let mut ring = adopt(fd, &p).unwrap();
    assert_eq!(ring.as_raw_fd(), raw);
    assert_eq!(ring.params().sq_entries(), 8);
    for i in 0..20u64 {
        ring.push(Nop::new().user_data(i)).unwrap();
        ring.submit_and_wait(1).unwrap();
        let got: Vec<(u64, i32)> = ring
            .completions()
            .map(|c| (c.user_data(), c.res()))
            .collect();
        assert_eq!(got, [(i, 0)], "across the SQ's wrap");
    }
    let mut buf = [0u8; 5];
    let file = tempfile::tempfile().unwrap();
    std::io::Write::write_all(&mut &file, b"adopt").unwrap();
    ring.scope(|s| {
        assert!(s.tags_every_op(), "an adopted ring's scopes tag every op");
        s.push(uring::ops::Read::new(&file, &mut buf[..]).user_data(3))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        assert_eq!(s.completions().next().unwrap().res(), 5);
    });
    assert_eq!(&buf, b"adopt");
}

#[test]
fn what_the_previous_user_left_arrives_as_foreign_completions() {
    let mut first = Ring::new(8).unwrap();
    // A completion left in the CQ, and a timeout still in flight.
    first.push(Nop::new().user_data(77)).unwrap();
    first.submit().unwrap();
    first
        .push(Timeout::new(Duration::from_millis(60)).user_data(78))
        .unwrap();
    first.submit().unwrap();
    let params = *first.params().as_raw();
    let fd = dup(first.as_raw_fd());
    // The first user goes away without closing or unmapping anything.
    std::mem::forget(first);
    let mut ring = adopt(fd, &params).unwrap();
    let (tx, rx) = std::os::unix::net::UnixStream::pair().unwrap();
    std::io::Write::write_all(&mut &tx, b"x").unwrap();
    let mut byte = [0u8; 1];
    ring.scope(|s| {
        s.push(uring::ops::Read::new(&rx, &mut byte[..]).user_data(1))
            .unwrap();
        s.submit().unwrap();
        // The scope's read completes; the NOP left in the CQ is not it.
        let mut mine = None;
        while mine.is_none() {
            s.wait_timeout(1, Duration::from_secs(5)).unwrap();
            for c in s.completions() {
                if c.is_scope_op() {
                    mine = Some((c.user_data(), c.res()));
                } else {
                    assert_eq!((c.user_data(), c.res()), (77, 0), "{c:?}");
                }
            }
        }
        assert_eq!(mine, Some((1, 1)));
    });
    assert_eq!(&byte, b"x");
    // The previous user's timeout fires into the new ring.
    ring.submit_and_wait(1).unwrap();
    let left: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert!(
        left == [(78, -libc::ETIME)] || left == [(77, 0), (78, -libc::ETIME)],
        "{left:?}"
    );
}

/// Publishes one more SQE in the SQ of the ring `fd` (set up with `p`)
/// without entering it, through a mapping of the test's own: the SQE in
/// the slot at the tail, whatever it holds, is then the kernel's to take.
fn publish_one(fd: RawFd, p: &sys::io_uring_params) {
    let len = p.sq_off.array as usize + p.sq_entries as usize * 4;
    // SAFETY: a shared mapping of the ring's SQ ring, which the kernel
    // sized for at least `len` bytes; unmapped below.
    let at = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_POPULATE,
            fd,
            sys::IORING_OFF_SQ_RING as libc::off_t,
        )
    };
    assert_ne!(at, libc::MAP_FAILED);
    // SAFETY: the tail is a naturally aligned u32 of the mapping, which
    // the kernel shares, hence an atomic.
    unsafe {
        let tail = &*at
            .cast::<u8>()
            .add(p.sq_off.tail as usize)
            .cast::<std::sync::atomic::AtomicU32>();
        tail.fetch_add(1, std::sync::atomic::Ordering::Release);
        libc::munmap(at, len);
    }
}

#[test]
fn a_ring_with_sqes_not_submitted_is_refused() {
    let mut first = Ring::new(8).unwrap();
    // A NOP in the SQE slot at the tail, published but never entered.
    first.push(Nop::new().user_data(5)).unwrap();
    let params = *first.params().as_raw();
    let fd = dup(first.as_raw_fd());
    std::mem::forget(first);
    publish_one(fd.as_raw_fd(), &params);
    let kept = dup(fd.as_raw_fd());
    let e = adopt(fd, &params).unwrap_err();
    assert!(e.to_string().contains("not submitted"), "{e}");
    // Entered once, the ring is idle and adopted; the NOP completes there.
    // SAFETY: a plain enter of a ring nothing else uses, without argument.
    let n = unsafe {
        sys::io_uring_enter(
            kept.as_raw_fd(),
            1,
            1,
            sys::IORING_ENTER_GETEVENTS,
            std::ptr::null(),
            0,
        )
    };
    assert_eq!(n.ok(), Some(1));
    let mut ring = adopt(kept, &params).unwrap();
    let got: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(got, [(5, 0)]);
}

#[test]
fn rings_of_other_entry_sizes_and_layouts_are_refused() {
    // 128-byte SQEs: refused as a ring of 64-byte ones, adopted as its own.
    let (fd, p) = raw_setup(4, sys::IORING_SETUP_SQE128);
    let e = adopt(dup(fd.as_raw_fd()), &p).unwrap_err();
    assert!(e.to_string().contains("SQE or CQE size"), "{e}");
    // SAFETY: as in `adopt`.
    let mut big = unsafe { Ring::<Sqe128, Cqe16>::from_fd(fd, &p) }.unwrap();
    big.push(Nop::new().user_data(9)).unwrap();
    big.submit_and_wait(1).unwrap();
    assert_eq!(big.completions().next().map(|c| c.user_data()), Some(9));
    // 32-byte CQEs, as a ring of 16-byte ones.
    let (fd, p) = raw_setup(4, sys::IORING_SETUP_CQE32);
    assert!(adopt(fd, &p).is_err());
    // Flags past this library's.
    let (fd, mut p) = raw_setup(4, 0);
    p.flags |= 1 << 19;
    let e = adopt(fd, &p).unwrap_err();
    assert!(e.to_string().contains("does not know"), "{e}");
}

#[test]
fn a_ring_in_the_setup_caller_s_memory_is_refused() {
    // A ring made over memory the library allocated (NO_MMAP).
    let ring = match Ring::builder().no_mmap().build(4) {
        Ok(ring) => ring,
        Err(e) => {
            uring_tests::skip(format_args!("no IORING_SETUP_NO_MMAP (6.5): {e}"));
            return;
        }
    };
    let params = *ring.params().as_raw();
    let e = adopt(dup(ring.as_raw_fd()), &params).unwrap_err();
    assert!(e.to_string().contains("NO_MMAP"), "{e}");
}

#[test]
fn an_sqpoll_ring_is_adopted() {
    if !uring_tests::require_sqpoll() {
        return;
    }
    let (fd, p) = raw_setup(8, sys::IORING_SETUP_SQPOLL);
    let mut ring = adopt(fd, &p).unwrap();
    for i in 0..8 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    ring.submit_and_wait(8).unwrap();
    let mut got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    got.sort_unstable();
    assert_eq!(got, (0..8).collect::<Vec<_>>());
}

const CLOSED: &str = "adopted_and_refused_descriptors_are_closed";

/// In a process of its own, where no other test opens a descriptor that
/// could take a closed one's number.
#[test]
fn adopted_and_refused_descriptors_are_closed() {
    uring_tests::in_own_process(CLOSED, "descriptors closed", || {
        let (fd, p) = raw_setup(4, 0);
        let raw = fd.as_raw_fd();
        let ring = adopt(fd, &p).unwrap();
        drop(ring);
        assert!(
            !fd_is_open(raw),
            "the ring closes the descriptor it adopted"
        );
        let (fd, p) = raw_setup(4, sys::IORING_SETUP_SQE128);
        let raw = fd.as_raw_fd();
        assert!(adopt(fd, &p).is_err());
        assert!(!fd_is_open(raw), "a refused descriptor is closed");
    });
}
