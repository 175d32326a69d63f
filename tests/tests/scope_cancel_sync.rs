//! `Scope::cancel_sync`: synchronous cancellation (`IORING_REGISTER_SYNC_
//! CANCEL`) of a scope's ops by the `user_data` they were pushed with,
//! whether the scope tags them or not, by descriptor, and of ops pushed
//! before the scope.

use std::io::Write as _;
use std::os::unix::net::UnixStream;

use uring::ops::{Nop, Recv};
use uring::{Error, Ring, Scope, SyncCancel};
use uring_tests::{PATIENCE, push_lent};

/// Reads what is ready without waiting: `(user_data, res)` of each.
fn ready(s: &mut Scope<'_, '_>) -> Vec<(u64, i32)> {
    let mut got: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
    got.sort_unstable();
    got
}

/// Whether `e` is the kernel's `ENOENT`.
fn is_enoent(e: &Error) -> bool {
    matches!(e, Error::Os { source, .. } if source.raw_os_error() == Some(libc::ENOENT))
}

/// A ring on which every scope tags every op: an op was pushed outside one.
fn tagging_ring() -> Ring {
    let mut ring = Ring::new(16).unwrap();
    ring.push(Nop::new().user_data(1000)).unwrap();
    uring_tests::submit_and_reap(&mut ring, 1);
    ring
}

fn cancels_by_user_data(mut ring: Ring, expect_tags: bool) {
    let _watch = uring_tests::watchdog();
    let socks: Vec<(UnixStream, UnixStream)> =
        (0..4).map(|_| UnixStream::pair().unwrap()).collect();
    let mut bufs = [[0u8; 8]; 4];
    ring.scope(|s| {
        assert_eq!(s.tags_every_op(), expect_tags);
        for (i, (buf, (rx, _))) in bufs.iter_mut().zip(&socks).enumerate() {
            let user_data = if i < 3 { 7 } else { 8 };
            s.push(Recv::new(rx, &mut buf[..]).user_data(user_data))
                .unwrap();
        }
        s.submit().unwrap();
        // One of the three carrying 7.
        s.cancel_sync(SyncCancel::user_data(7), Some(PATIENCE))
            .unwrap();
        assert_eq!(ready(s), [(7, -libc::ECANCELED)]);
        assert_eq!(s.in_flight(), 3);
        // The other two.
        s.cancel_sync(SyncCancel::user_data(7).all(), Some(PATIENCE))
            .unwrap();
        assert_eq!(ready(s), [(7, -libc::ECANCELED), (7, -libc::ECANCELED)]);
        // None is left with 7: ENOENT, but `all` matches none too.
        let none = s
            .cancel_sync(SyncCancel::user_data(7), Some(PATIENCE))
            .unwrap_err();
        assert!(is_enoent(&none), "{none:?}");
        s.cancel_sync(SyncCancel::user_data(7).all(), Some(PATIENCE))
            .unwrap();
        assert_eq!(s.in_flight(), 1, "the receive carrying 8 is untouched");
        s.cancel_sync(SyncCancel::user_data(8), None).unwrap();
        assert_eq!(ready(s), [(8, -libc::ECANCELED)]);
        assert_eq!(s.in_flight(), 0);
    });
    // Cancelled and reaped: bytes sent now reach no buffer.
    for (_, tx) in &socks {
        let _ = (&*tx).write_all(b"too late");
    }
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(bufs, [[0u8; 8]; 4]);
}

#[test]
fn a_fast_scope_cancels_its_untagged_ops_by_user_data() {
    let ring = Ring::new(16).unwrap();
    let fast = ring
        .params()
        .features()
        .contains(uring::Features::REG_REG_RING);
    cancels_by_user_data(ring, !fast);
}

#[test]
fn a_tagging_scope_cancels_its_ops_by_the_user_data_they_were_pushed_with() {
    cancels_by_user_data(tagging_ring(), true);
}

#[test]
fn a_scope_cancels_by_descriptor() {
    let _watch = uring_tests::watchdog();
    let mut ring = tagging_ring();
    let (rx, _tx) = UnixStream::pair().unwrap();
    let (other, _other_tx) = UnixStream::pair().unwrap();
    let mut bufs = [[0u8; 4]; 3];
    ring.scope(|s| {
        let [a, b, c] = &mut bufs;
        s.push(Recv::new(&rx, &mut a[..]).user_data(1)).unwrap();
        s.push(Recv::new(&rx, &mut b[..]).user_data(2)).unwrap();
        s.push(Recv::new(&other, &mut c[..]).user_data(3)).unwrap();
        s.submit().unwrap();
        s.cancel_sync(SyncCancel::fd(&rx).all(), Some(PATIENCE))
            .unwrap();
        assert_eq!(ready(s), [(1, -libc::ECANCELED), (2, -libc::ECANCELED)]);
        assert_eq!(s.in_flight(), 1);
    });
}

/// An op pushed before the scope carries its own `user_data`, which no op
/// of the scope carries: the cancel reaches it, and its completion is one
/// the scope passes on.
#[test]
fn a_scope_cancels_an_op_pushed_before_it() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (rx, _tx) = UnixStream::pair().unwrap();
    let mut early = [0u8; 4];
    push_lent!(ring, Recv::new(&rx, &mut early[..]).user_data(5)).unwrap();
    ring.submit().unwrap();
    let got = ring.scope(|s| {
        s.cancel_sync(SyncCancel::user_data(5), Some(PATIENCE))
            .unwrap();
        let cqe = s.completions().next().expect("the cancelled receive");
        assert!(!cqe.is_scope_op());
        (cqe.user_data(), cqe.res())
    });
    assert_eq!(got, (5, -libc::ECANCELED));
}
