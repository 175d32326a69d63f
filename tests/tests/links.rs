//! Linked chains against the kernel: the flags each SQE carries, and what
//! the kernel does with a chain when its head fails or a link timeout fires
//! (the cases of liburing's link and link-timeout tests).

use std::fs::File;
use std::io::{Read as _, Seek, SeekFrom, Write as _};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use uring::ops::{LinkTimeout, Nop, Read, Write};
use uring::{Cqe, Error, Ring, Submission, sys};
use uring_tests::pipe;

/// Submits what is queued, waits for `n` completions and returns
/// `(user_data, res)` pairs sorted by `user_data`.
fn reap(ring: &mut Ring, n: u32) -> Vec<(u64, i32)> {
    ring.submit_and_wait(n).expect("submit_and_wait");
    let mut done: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    done.sort_unstable();
    assert_eq!(done.len(), n as usize, "completions: {done:?}");
    done
}

#[test]
fn nop_then_link_timeout() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(
        Nop::new()
            .user_data(1)
            .link_timeout(LinkTimeout::new(Duration::from_secs(5)).user_data(2)),
    )
    .unwrap();
    // The NOP completes at once; its timeout is cancelled.
    assert_eq!(reap(&mut ring, 2), [(1, 0), (2, -libc::ECANCELED)]);
}

#[test]
fn read_from_empty_pipe_is_cancelled_by_its_link_timeout() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (rx, _tx) = pipe();
    let mut buf = [0u8; 16];
    let start = Instant::now();
    let chain = Read::new(&rx, &mut buf[..])
        .user_data(1)
        .link_timeout(LinkTimeout::new(Duration::from_millis(10)).user_data(2));
    // SAFETY: `buf` outlives the wait for both completions in `reap`.
    unsafe { ring.push_unchecked(chain) }
        .map_err(Error::from)
        .unwrap();
    let done = reap(&mut ring, 2);
    assert!(
        start.elapsed() >= Duration::from_millis(10),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(done[0].0, 1);
    assert!(
        [-libc::ECANCELED, -libc::EINTR].contains(&done[0].1),
        "read: {}",
        done[0].1
    );
    assert_eq!(done[1].0, 2);
    assert!(
        [-libc::ETIME, -libc::EALREADY].contains(&done[1].1),
        "timeout: {}",
        done[1].1
    );
}

#[test]
fn an_op_after_a_fired_link_timeout_is_cancelled() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (rx, _tx) = pipe();
    let mut buf = [0u8; 16];
    let chain = Read::new(&rx, &mut buf[..])
        .user_data(1)
        .link_timeout(LinkTimeout::new(Duration::from_millis(10)).user_data(2))
        .link(Nop::new().user_data(3));
    // SAFETY: `buf` outlives the wait for all three completions in `reap`.
    unsafe { ring.push_unchecked(chain) }
        .map_err(Error::from)
        .unwrap();
    // The timeout SQE itself carries IO_LINK: the NOP follows it.
    let flags: Vec<u8> = ring.pending_sqes().map(|sqe| sqe.flags).collect();
    assert_eq!(flags, [sys::IOSQE_IO_LINK, sys::IOSQE_IO_LINK, 0]);
    let done = reap(&mut ring, 3);
    assert_eq!(done[0], (1, -libc::ECANCELED));
    assert_eq!(done[1], (2, -libc::ETIME));
    assert_eq!(done[2], (3, -libc::ECANCELED));
}

#[test]
fn a_failed_head_cancels_its_soft_links() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let mut buf = [0u8; 8];
    // Reading from descriptor -1 fails with EBADF.
    let chain = Read::new(uring_tests::bad_fd(), &mut buf[..])
        .user_data(1)
        .link(Nop::new().user_data(2))
        .link(Nop::new().user_data(3));
    // SAFETY: `buf` outlives the wait for all three completions in `reap`.
    unsafe { ring.push_unchecked(chain) }
        .map_err(Error::from)
        .unwrap();
    assert_eq!(
        reap(&mut ring, 3),
        [
            (1, -libc::EBADF),
            (2, -libc::ECANCELED),
            (3, -libc::ECANCELED)
        ]
    );
}

#[test]
fn a_failed_head_does_not_stop_its_hard_links() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let mut buf = [0u8; 8];
    let chain = Read::new(uring_tests::bad_fd(), &mut buf[..])
        .user_data(1)
        .hard_link(Nop::new().user_data(2))
        .hard_link(Nop::new().user_data(3));
    // SAFETY: `buf` outlives the wait for all three completions in `reap`.
    unsafe { ring.push_unchecked(chain) }
        .map_err(Error::from)
        .unwrap();
    assert_eq!(reap(&mut ring, 3), [(1, -libc::EBADF), (2, 0), (3, 0)]);
}

#[test]
fn every_sqe_of_a_chain_carries_its_link_flag_but_the_last() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(
        Nop::new()
            .user_data(1)
            .timeout(Duration::new(3, 250_000_000))
            .hard_link(Nop::new().user_data(2))
            .link(Nop::new().user_data(3)),
    )
    .unwrap();
    let sqes: Vec<sys::io_uring_sqe> = ring.pending_sqes().collect();
    let shape: Vec<(u8, u8, u64)> = sqes
        .iter()
        .map(|s| (s.opcode, s.flags, s.user_data))
        .collect();
    assert_eq!(
        shape,
        [
            // Hard-linked on after its timeout: the bounded op carries the
            // hard link (the kernel goes on by its flag), the timeout too.
            (sys::IORING_OP_NOP, sys::IOSQE_IO_HARDLINK, 1),
            (sys::IORING_OP_LINK_TIMEOUT, sys::IOSQE_IO_HARDLINK, 0),
            (sys::IORING_OP_NOP, sys::IOSQE_IO_LINK, 2),
            (sys::IORING_OP_NOP, 0, 3),
        ]
    );
    // The link timeout points at a timespec the ring owns: the Duration given
    // above is long gone, its value is not.
    let timeout = &sqes[1];
    assert_eq!(timeout.len, 1);
    // SAFETY: `addr` of a LINK_TIMEOUT SQE is the address of its timespec,
    // which the ring keeps until the SQE is consumed (it is not submitted yet).
    let ts = unsafe { *(timeout.addr.addr as *const sys::__kernel_timespec) };
    assert_eq!((ts.tv_sec, ts.tv_nsec), (3, 250_000_000));
    assert_eq!(
        reap(&mut ring, 4),
        [(0, -libc::ECANCELED), (1, 0), (2, 0), (3, 0)]
    );
}

/// Builds a chain whose link timeout is made from a temporary, in a frame
/// that is gone by the time the chain is submitted.
fn read_bounded_by<'a>(fd: &'a OwnedFd, buf: &'a mut [u8], millis: u64) -> impl Submission + 'a {
    Read::new(fd, buf)
        .user_data(1)
        .timeout(Duration::from_millis(millis))
}

#[test]
fn a_link_timeout_needs_nothing_kept_alive() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (rx, _tx) = pipe();
    let mut buf = [0u8; 8];
    // SAFETY: `buf` outlives the wait for both completions in `reap`.
    unsafe { ring.push_unchecked(read_bounded_by(&rx, &mut buf, 5)) }
        .map_err(Error::from)
        .unwrap();
    // Overwrite the stack the Duration lived on.
    let noise = std::hint::black_box([0xffu8; 4096]);
    assert_eq!(noise[4095], 0xff);
    let start = Instant::now();
    // A timespec read from freed memory would fire at once or never; the
    // wait is bounded so that "never" fails instead of hanging.
    ring.submit_and_wait_timeout(2, Duration::from_secs(30))
        .expect("the link timeout never fired: its timespec was not kept");
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(5), "fired after {took:?}");
    let mut done: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    done.sort_unstable();
    assert_eq!(done, [(0, -libc::ETIME), (1, -libc::ECANCELED)]);
}

#[test]
fn a_chain_over_fixed_files_sets_the_flag_on_each_sqe() {
    let _watch = uring_tests::watchdog();
    let mut src = tempfile::tempfile().unwrap();
    src.write_all(b"from the registered source").unwrap();
    let mut dst = tempfile::tempfile().unwrap();
    let mut ring = Ring::new(8).unwrap();
    let files = ring.register_files(&[src.as_fd(), dst.as_fd()]).unwrap();
    let (from, to) = (files.get(0).unwrap(), files.get(1).unwrap());

    let mut got = [0u8; 26];
    let out = b"into the registered target";
    let chain = Read::new(from, &mut got[..])
        .user_data(1)
        .link(Write::new(to, out).user_data(2));
    // SAFETY: `got` and `out` outlive the wait for both completions below.
    unsafe { ring.push_unchecked(chain) }
        .map_err(Error::from)
        .unwrap();

    let sqes: Vec<sys::io_uring_sqe> = ring.pending_sqes().collect();
    assert_eq!(sqes.len(), 2);
    assert_eq!(sqes[0].opcode, sys::IORING_OP_READ);
    assert_eq!(sqes[0].flags, sys::IOSQE_FIXED_FILE | sys::IOSQE_IO_LINK);
    assert_eq!(sqes[0].fd, 0);
    assert_eq!(sqes[1].opcode, sys::IORING_OP_WRITE);
    assert_eq!(sqes[1].flags, sys::IOSQE_FIXED_FILE);
    assert_eq!(sqes[1].fd, 1);

    assert_eq!(reap(&mut ring, 2), [(1, 26), (2, 26)]);
    assert_eq!(&got, b"from the registered source");
    let mut written = Vec::new();
    dst.seek(SeekFrom::Start(0)).unwrap();
    dst.read_to_end(&mut written).unwrap();
    assert_eq!(written, out);
    drop(src);
    ring.unregister_files(files).unwrap();
}

#[test]
fn a_raw_fd_target_sets_no_fixed_flag() {
    let _watch = uring_tests::watchdog();
    let file = File::open("/dev/zero").unwrap();
    let mut ring = Ring::new(4).unwrap();
    let mut buf = [1u8; 4];
    // SAFETY: `buf` outlives the wait below.
    unsafe { ring.push_unchecked(Read::new(&file, &mut buf[..]).user_data(9)) }
        .map_err(Error::from)
        .unwrap();
    let sqe = ring.pending_sqes().next().unwrap();
    assert_eq!((sqe.flags, sqe.fd), (0, file.as_raw_fd()));
    let cqe: Vec<Cqe> = {
        ring.submit_and_wait(1).unwrap();
        ring.completions().collect()
    };
    assert_eq!((cqe[0].user_data(), cqe[0].res()), (9, 4));
    assert_eq!(buf, [0; 4]);
}
