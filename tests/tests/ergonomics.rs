//! What a first program leans on: `?` on a completion's result in a
//! function that returns `uring::Result`, byte-string literals as the
//! reactor's buffers, and errors that say what to do.

use std::io::Read as _;

use uring::ops::{Nop, Read};
use uring::reactor::{Reactor, SharedFd, ops::Write};
use uring::{Error, Ring};
use uring_tests::pipe;

/// A read of a closed descriptor: its completion's error comes out of
/// `?` as the errno it carries.
fn read_of_a_bad_descriptor(ring: &mut Ring) -> uring::Result<u32> {
    let (read_end, write_end) = pipe();
    drop(write_end);
    let mut buf = [0u8; 4];
    let res = ring.scope(|s| {
        s.push(Read::new(&read_end, &mut buf).user_data(1))?;
        s.submit_and_wait(1)?;
        let cqe = s.completions().next().expect("the read's completion");
        Ok::<_, Error>(cqe.result())
    })?;
    let n = res?;
    // A read of a pipe whose writer is gone reads nothing: push one that
    // fails instead.
    assert_eq!(n, 0);
    ring.push(Nop::new().result(-libc::EBADF).user_data(2))?;
    ring.submit_and_wait(1)?;
    let cqe = ring.completions().next().expect("the NOP's completion");
    Ok(cqe.result()?)
}

#[test]
fn a_completions_errno_comes_through_question_mark() {
    let mut ring = Ring::new(4).unwrap();
    match read_of_a_bad_descriptor(&mut ring) {
        Err(e @ Error::Os { call, .. }) => {
            assert_eq!(call, "I/O");
            assert_eq!(e.raw_os_error(), Some(libc::EBADF));
            assert!(e.to_string().contains("I/O failed"), "{e}");
        }
        // NOPs that inject a result are 6.10's.
        Ok(_) if !uring_tests::require_kernel(6, 10, "NOPs with a result") => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_uring_error_survives_the_trip_through_io_error() {
    for original in [
        Error::TimedOut,
        Error::InvalidArgument("the argument".into()),
        Error::Unsupported("a feature"),
        Error::QueueFull,
    ] {
        let text = original.to_string();
        let io: std::io::Error = original.into();
        let back = Error::from(io);
        assert_eq!(back.to_string(), text);
    }
    let back = Error::from(std::io::Error::from_raw_os_error(libc::ENOENT));
    assert!(matches!(back, Error::Os { call: "I/O", .. }), "{back:?}");
    assert_eq!(back.raw_os_error(), Some(libc::ENOENT));
    // A custom io::Error without an errno keeps its kind and message.
    let back = Error::from(std::io::Error::other("no errno"));
    match back {
        Error::Os { source, .. } => {
            assert_eq!(source.kind(), std::io::ErrorKind::Other);
            assert_eq!(source.to_string(), "no errno");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn byte_string_literals_are_reactor_buffers() {
    let _watch = uring_tests::watchdog();
    let (read_end, write_end) = pipe();
    let reactor = Reactor::new().unwrap();
    let fd = SharedFd::new(write_end);
    let (res, buf) = reactor
        .run_until(reactor.handle().op(Write::new(&fd, b"hello", u64::MAX)))
        .unwrap();
    assert_eq!(res.unwrap(), 5);
    assert_eq!(buf, b"hello");
    drop(fd);
    let mut got = Vec::new();
    std::fs::File::from(read_end).read_to_end(&mut got).unwrap();
    assert_eq!(got, b"hello");
}

#[test]
fn a_resize_of_a_ring_without_defer_taskrun_says_what_it_needs() {
    if !uring_tests::require_kernel(6, 13, "ring resizes") {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let refused = ring.resize(16, 32).unwrap_err();
    assert!(matches!(refused, Error::InvalidArgument(_)), "{refused:?}");
    assert_eq!(refused.raw_os_error(), Some(libc::EINVAL));
    assert!(refused.to_string().contains("defer_taskrun()"), "{refused}");
    // The ring is as it was.
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (8, 16));
    ring.push(Nop::new().user_data(3)).unwrap();
    ring.submit_and_wait(1).unwrap();
    let cqe = ring.completions().next().unwrap();
    assert_eq!((cqe.user_data(), cqe.res()), (3, 0));
    // A defer_taskrun ring resizes.
    let mut ring = Ring::builder()
        .single_issuer()
        .defer_taskrun()
        .build(8)
        .unwrap();
    ring.resize(16, 32).unwrap();
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (16, 32));
}

#[test]
fn a_sync_cancel_that_matches_nothing_says_so() {
    if !uring_tests::require_kernel(6, 0, "IORING_REGISTER_SYNC_CANCEL") {
        return;
    }
    let mut ring = Ring::new(4).unwrap();
    let missed = ring
        .cancel_sync(uring::SyncCancel::user_data(99), None)
        .unwrap_err();
    assert_eq!(missed.raw_os_error(), Some(libc::ENOENT));
    assert!(
        missed.to_string().contains("no request matched"),
        "{missed}"
    );
    let missed = ring
        .scope(|s| s.cancel_sync(uring::SyncCancel::user_data(99), None))
        .unwrap_err();
    assert_eq!(missed.raw_os_error(), Some(libc::ENOENT));
    assert!(
        missed.to_string().contains("no request matched"),
        "{missed}"
    );
}

/// The kernel's restart codes, which a completion can carry (an io-wq
/// splice interrupted by a cancel ends with `-ERESTARTSYS` on Linux 6.18),
/// come out of `result()` as `EINTR`; `res()` keeps the raw value, and a
/// real errno is left alone.
#[test]
fn restart_codes_come_out_as_eintr() {
    if !uring_tests::require_kernel(6, 10, "NOPs with a result") {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    for (res, errno) in [
        (-512, libc::EINTR),
        (-513, libc::EINTR),
        (-514, libc::EINTR),
        (-516, libc::EINTR),
        (-515, 515),
        (-libc::EAGAIN, libc::EAGAIN),
    ] {
        ring.push(Nop::new().result(res).user_data(1)).unwrap();
        ring.submit_and_wait(1).unwrap();
        let cqe = ring.completions().next().unwrap();
        assert_eq!(cqe.res(), res);
        let e = cqe.result().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(errno), "{res}");
    }
}
