//! Descriptor lifetimes: the CLOSE op, ring descriptors closed by `close`,
//! by `Drop`, and by dropping the rings of `create_many`.
//!
//! Each test checks that a descriptor number is closed after some event.
//! Another thread opening a descriptor in between could reuse the number
//! and make the check pass or fail wrongly, so every test of this binary
//! (the only tests in its process) holds [`SERIAL`] from before it opens
//! the descriptor until after its last check.

use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use uring_tests::push_lent;

use uring::ops::{Accept, Close, Connect, Nop};
use uring::{Ring, SockAddr};
use uring_tests::{by_user_data, fd_errno, fd_is_open, require_op, socket, submit_and_reap};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    // A test that failed while holding the lock poisons it; the others
    // still run one at a time.
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn assert_closed(fd: RawFd, what: &str) {
    assert_eq!(
        fd_errno(fd),
        Some(libc::EBADF),
        "{what}: fd {fd} is still open"
    );
}

/// After a CLOSE completes with 0, the descriptor is gone; a second CLOSE
/// of the same number fails with EBADF.
#[test]
fn close_op_closes_the_descriptor() {
    let _serial = serial();
    let mut ring = Ring::new(4).unwrap();
    if !require_op::<Close>(&ring) {
        return;
    }
    let file = tempfile::tempfile().unwrap();
    let fd = file.as_raw_fd();
    assert!(fd_is_open(fd));
    ring.push(Close::new(file).user_data(1)).unwrap();
    let cqe = submit_and_reap(&mut ring, 1)[0];
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0), "{cqe:?}");
    assert_closed(fd, "after CLOSE");

    // SAFETY: the number was closed above, and no other thread opens files
    // while the serial lock is held; the op takes the OwnedFd over, so it is
    // never dropped.
    let stale = unsafe { OwnedFd::from_raw_fd(fd) };
    ring.push(Close::new(stale).user_data(2)).unwrap();
    let cqe = submit_and_reap(&mut ring, 1)[0];
    assert_eq!((cqe.user_data(), cqe.res()), (2, -libc::EBADF), "{cqe:?}");
}

/// A socket accepted through the ring is a descriptor of this process, and a
/// CLOSE through the ring closes it.
#[test]
fn accepted_socket_is_closed_by_close_op() {
    let _serial = serial();
    let mut ring = Ring::new(4).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
    let addr = SockAddr::from(listener.local_addr().unwrap());
    push_lent!(ring, Accept::new(&listener).user_data(1)).unwrap();
    // SAFETY: `addr` outlives the connect, reaped below.
    unsafe { ring.push_unchecked(Connect::new(&client, &addr).user_data(2)) }.unwrap();
    let by = by_user_data(&submit_and_reap(&mut ring, 2));
    assert_eq!(by[&2].res(), 0, "connect");
    let fd = by[&1].result().expect("accept") as RawFd;
    assert!(fd_is_open(fd), "the accepted descriptor");
    assert_ne!(fd, listener.as_raw_fd());
    assert_ne!(fd, client.as_raw_fd());

    // SAFETY: the accept's result is a new descriptor of this process that
    // nothing else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    ring.push(Close::new(owned).user_data(3)).unwrap();
    let cqe = submit_and_reap(&mut ring, 1)[0];
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_closed(fd, "the accepted socket after CLOSE");
}

#[test]
fn dropping_a_ring_closes_its_descriptor() {
    let _serial = serial();
    let mut ring = Ring::new(4).unwrap();
    let fd = ring.as_raw_fd();
    assert!(fd_is_open(fd));
    ring.push(Nop::new()).unwrap();
    submit_and_reap(&mut ring, 1);
    drop(ring);
    assert_closed(fd, "after drop");
}

#[test]
fn ring_close_closes_its_descriptor() {
    let _serial = serial();
    let ring = Ring::new(4).unwrap();
    let fd = ring.as_raw_fd();
    assert!(fd_is_open(fd));
    ring.close().expect("close");
    assert_closed(fd, "after Ring::close");
}

/// `close` reports what close(2) says: a ring whose descriptor was closed
/// behind its back gets EBADF.
#[test]
fn ring_close_reports_a_failed_close() {
    let _serial = serial();
    let ring = Ring::new(4).unwrap();
    let fd = ring.as_raw_fd();
    // SAFETY: closes the ring's descriptor behind its back, on purpose; no
    // other thread opens descriptors while SERIAL is held, so the number is
    // not reused before `close` runs.
    unsafe { libc::close(fd) };
    let result = ring.close();
    assert_eq!(
        result.as_ref().err().and_then(uring::Error::raw_os_error),
        Some(libc::EBADF),
        "{result:?}"
    );
}

/// Every descriptor of a `create_many` set is closed once the rings are
/// dropped.
#[test]
fn create_many_rings_are_closed_when_dropped() {
    let _serial = serial();
    for (count, wp_count) in [(4, 4), (4, 2), (4, 1)] {
        let rings = Ring::create_many(count, 4, wp_count, &Ring::builder()).unwrap();
        let fds: Vec<RawFd> = rings.iter().map(AsRawFd::as_raw_fd).collect();
        assert!(fds.iter().all(|&fd| fd_is_open(fd)), "{fds:?}");
        drop(rings);
        for fd in fds {
            assert_closed(fd, &format!("create_many({count}, 4, {wp_count}) dropped"));
        }
    }
}

/// Closing the owner of a worker pool first, then the rings attached to it,
/// closes everything; and the attached rings keep working in between.
#[test]
fn create_many_owner_closed_first() {
    let _serial = serial();
    let mut rings = Ring::create_many(2, 4, 1, &Ring::builder()).unwrap();
    let mut attached = rings.pop().unwrap();
    let owner = rings.pop().unwrap();
    let owner_fd = owner.as_raw_fd();
    assert_eq!(attached.attached_wq(), Some(owner_fd));
    owner.close().expect("close the owner");
    assert_closed(owner_fd, "the owner");
    attached.push(Nop::new().user_data(9)).unwrap();
    assert_eq!(submit_and_reap(&mut attached, 1)[0].user_data(), 9);
    let fd = attached.as_raw_fd();
    attached.close().unwrap();
    assert_closed(fd, "the attached ring");
}

/// A setup the kernel rejects leaves no descriptor behind.
#[test]
fn a_rejected_setup_leaks_no_descriptor() {
    let _serial = serial();
    let next_before = lowest_free_fd();
    let r = Ring::builder()
        .sqpoll(Duration::from_millis(10))
        .sq_thread_cpu(4096)
        .build(4);
    assert!(r.is_err(), "an SQ thread on CPU 4096: {r:?}");
    assert_eq!(lowest_free_fd(), next_before, "a descriptor was left open");
}

/// The number the next descriptor would get.
fn lowest_free_fd() -> RawFd {
    // SAFETY: F_DUPFD of stdin returns a new descriptor we close at once.
    let fd = unsafe { libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 0) };
    assert!(fd >= 0);
    // SAFETY: `fd` was just created and is owned by no one else.
    unsafe { libc::close(fd) };
    fd
}
