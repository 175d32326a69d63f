//! A ring named from other threads (`Ring::msg_target`): messages and
//! descriptors sent to it from threads that cannot borrow it, the target
//! outliving the ring, and forged completions against the ring's scopes.

use std::io::Write as _;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::mpsc;
use std::thread;

use uring::ops::{MsgRing, MsgRingFd, Nop, Read};
use uring::{Error, PushErrorKind, Ring, RingSlot, RingTarget};
use uring_tests::{PATIENCE, fd_is_open, pairs, pipe, skip, submit_and_reap};

fn assert_send_sync<T: Send + Sync>() {}

/// Waits for `n` completions on `ring` and returns their
/// `(user_data, res)`, in order.
fn reap(ring: &mut Ring, n: usize) -> Vec<(u64, i32)> {
    let mut got = Vec::new();
    while got.len() < n {
        ring.wait_timeout(1, PATIENCE)
            .expect("a completion in time");
        got.extend(ring.completions().map(|c| (c.user_data(), c.res())));
    }
    got
}

/// Sends one data message to `target` from a ring of this thread, and
/// returns the sender's result.
fn send_message(target: &RingTarget, res: i32, data: u64) -> i32 {
    let mut ring = Ring::new(4).unwrap();
    ring.scope(|s| {
        s.push(MsgRing::new(target, res, data).user_data(1))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let cqe = s.completions().next().expect("the sender's completion");
        assert_eq!(cqe.user_data(), 1);
        cqe.res()
    })
}

#[test]
fn a_target_is_send_and_sync() {
    assert_send_sync::<RingTarget>();
}

#[test]
fn messages_from_other_threads_reach_the_ring() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let target = ring.msg_target().unwrap();
    thread::scope(|t| {
        for i in 0..4u64 {
            let target = &target;
            t.spawn(move || assert_eq!(send_message(target, 0x20 + i as i32, 0x5aa0 + i), 0));
        }
    });
    let mut got = reap(&mut ring, 4);
    got.sort_unstable();
    assert_eq!(
        got,
        [
            (0x5aa0, 0x20),
            (0x5aa1, 0x21),
            (0x5aa2, 0x22),
            (0x5aa3, 0x23)
        ]
    );
}

#[test]
fn a_target_moved_to_another_thread_posts_without_a_ring() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let target = ring.msg_target().unwrap();
    let posted = thread::spawn(move || target.post(7, 0xabc)).join().unwrap();
    match posted {
        Err(Error::Os { ref source, .. }) if source.raw_os_error() == Some(libc::EINVAL) => {
            skip("no IORING_REGISTER_SEND_MSG_RING (6.13)");
        }
        other => {
            other.unwrap();
            assert_eq!(reap(&mut ring, 1), [(0xabc, 7)]);
        }
    }
}

/// (In a process of its own: another test's open could take the closed
/// descriptor's number in between.)
#[test]
fn a_target_outlives_its_ring() {
    const NAME: &str = "a_target_outlives_its_ring";
    if !uring_tests::in_child(NAME) {
        uring_tests::run_in_child(NAME);
        return;
    }
    let ring = Ring::new(4).unwrap();
    let target = ring.msg_target().unwrap();
    let dup = target.as_raw_fd();
    assert_ne!(dup, ring.as_raw_fd(), "a descriptor of its own");
    drop(ring);
    // The kernel's ring lives while the target does: a message still
    // reaches it (nobody reads it).
    assert_eq!(send_message(&target, 1, 2), 0);
    assert!(fd_is_open(dup));
    drop(target);
    assert!(
        !fd_is_open(dup),
        "dropping the target closes its descriptor"
    );
}

#[test]
fn a_ring_without_a_descriptor_has_no_target() {
    let ring = match Ring::builder().registered_fd_only().build(4) {
        Ok(ring) => ring,
        Err(e) => {
            skip(format!("no registered_fd_only ring: {e}"));
            return;
        }
    };
    match ring.msg_target() {
        Err(Error::Os { source, .. }) => assert_eq!(source.raw_os_error(), Some(libc::EBADF)),
        other => panic!("expected EBADF, got {other:?}"),
    }
}

/// While a target lives (here on another thread), a scope of the ring
/// refuses every push and hands the op back; once the target is dropped,
/// the next scope takes ops again.
#[test]
fn a_scope_refuses_every_push_while_a_target_lives() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let target = ring.msg_target().unwrap();
    let (drop_tx, drop_rx) = mpsc::channel::<()>();
    let holder = thread::spawn(move || {
        drop_rx.recv().unwrap();
        drop(target);
    });
    let (rx, _tx) = pipe();
    let mut buf = [0u8; 4];
    ring.scope(|s| {
        let refused = s
            .push(Read::new(&rx, &mut buf[..]).user_data(1))
            .expect_err("a scope of a targeted ring");
        assert_eq!(refused.kind(), PushErrorKind::Targeted);
        let refused = s
            .push(Nop::new().user_data(2))
            .expect_err("a scope of a targeted ring");
        assert_eq!(refused.kind(), PushErrorKind::Targeted);
        assert_eq!(s.in_flight(), 0);
    });
    assert_eq!(ring.pending(), 0, "nothing was written");
    drop_tx.send(()).unwrap();
    holder.join().unwrap();
    let cqe = uring_tests::complete(&mut ring, Nop::new().user_data(3));
    assert_eq!((cqe.user_data(), cqe.res()), (3, 0));
}

/// Messages sent while no scope ran, carrying every tag a reader of
/// `/proc/self/fdinfo` saw in an earlier scope (and other tag-like values),
/// settle none of a later scope's ops: each scope draws its key afresh, and
/// every op of a scope of a ring that had a target carries a tag.
#[test]
fn messages_sent_before_a_scope_settle_none_of_its_ops() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(64).unwrap();
    let (rx, tx) = pipe();
    let mut tx = std::fs::File::from(tx);
    let mut buf = [0u8; 8];
    let target = ring.msg_target().unwrap();
    // A scope whose read's tag anyone can read in the CQ before the scope
    // reads the completion.
    let fd = ring.as_raw_fd();
    tx.write_all(b"earlier!").unwrap();
    ring.scope(|s| {
        assert_eq!(
            s.push(Read::new(&rx, &mut buf[..]).user_data(9))
                .map_err(|e| e.kind()),
            Err(PushErrorKind::Targeted)
        );
    });
    drop(target);
    let seen = ring.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(9)).unwrap();
        s.submit_and_wait(1).unwrap();
        let seen = uring_tests::fdinfo_user_data(fd);
        let cqe = s.completions().next().expect("the read's completion");
        assert_eq!((cqe.user_data(), cqe.res()), (9, 8));
        seen
    });
    assert_eq!(seen.len(), 1, "fdinfo lists the completion: {seen:x?}");
    assert_ne!(seen[0], 9, "the completion carries a tag");
    let target = ring.msg_target().unwrap();
    let mut forged = seen.clone();
    forged.extend([9, 0, u64::MAX, 1 << 63]);
    forged.extend((0..24).map(|i| (1u64 << 63) | (u64::from(0x8000_0000u32 | i) << 32)));
    let count = forged.len();
    let sender = thread::spawn(move || {
        for &v in &forged {
            assert_eq!(send_message(&target, 1, v), 0);
        }
    });
    sender.join().unwrap();
    let (foreign, read) = ring.scope(|s| {
        assert!(s.tags_every_op(), "a ring that had a target tags every op");
        s.push(Read::new(&rx, &mut buf[..]).user_data(9)).unwrap();
        s.submit().unwrap();
        let mut foreign = Vec::new();
        while foreign.len() < count {
            s.wait_timeout(1, PATIENCE).unwrap();
            for cqe in s.completions() {
                assert!(!cqe.is_scope_op(), "a message settled a scope op: {cqe:?}");
                foreign.push(cqe.user_data());
            }
        }
        assert_eq!(s.in_flight(), 1, "the read is still the scope's");
        tx.write_all(b"the data").unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let cqe = s.completions().next().expect("the read's completion");
        assert!(cqe.is_scope_op());
        (foreign, (cqe.user_data(), cqe.res()))
    });
    assert_eq!(read, (9, 8));
    assert_eq!(&buf, b"the data");
    assert_eq!(foreign.len(), count);
}

/// A reactor takes no ring that another thread may post into.
#[test]
fn a_reactor_refuses_a_ring_with_a_live_target() {
    let ring = Ring::new(8).unwrap();
    let target = ring.msg_target().unwrap();
    match uring::reactor::Reactor::from_ring(ring) {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput),
        Ok(_) => panic!("a reactor took a ring with a live target"),
    }
    drop(target);
    let ring = Ring::new(8).unwrap();
    let target = ring.msg_target().unwrap();
    drop(target);
    assert!(uring::reactor::Reactor::from_ring(ring).is_ok());
}

/// A registered pipe passed from another thread's ring into a slot the
/// target ring's kernel picks; the target reads the pipe through it.
#[test]
fn a_descriptor_passed_from_another_thread_lands_in_a_free_slot() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let table = ring.register_files_sparse(4).unwrap();
    let target = ring.msg_target().unwrap();
    let (rx, tx) = pipe();
    let sender = thread::spawn(move || {
        let mut src = Ring::new(4).unwrap();
        let src_table = src.register_files(&[rx.as_fd()]).unwrap();
        let res = src.scope(|s| {
            s.push(
                MsgRingFd::new(RingSlot::alloc_in(&target), src_table.get(0).unwrap(), 10)
                    .user_data(1),
            )
            .unwrap();
            s.submit_and_wait(1).unwrap();
            s.completions().next().unwrap().res()
        });
        src.unregister_files(src_table).unwrap();
        res
    });
    let slot = sender.join().unwrap();
    assert!((0..4).contains(&slot), "the slot the kernel picked: {slot}");
    assert_eq!(reap(&mut ring, 1), [(10, slot)]);
    std::fs::File::from(tx).write_all(b"passed").unwrap();
    let mut buf = [0u8; 6];
    let cqe = uring_tests::complete(
        &mut ring,
        Read::new(table.get(slot as u32).unwrap(), &mut buf[..]),
    );
    assert_eq!(cqe.res(), 6);
    assert_eq!(&buf, b"passed");
    ring.unregister_files(table).unwrap();
}

/// The ring keeps working as before for its own ops once it has a target.
#[test]
fn the_ring_keeps_its_own_completions_apart() {
    let mut ring = Ring::new(8).unwrap();
    let target = ring.msg_target().unwrap();
    ring.push(Nop::new().user_data(1)).unwrap();
    assert_eq!(send_message(&target, 5, 2), 0);
    let mut got = pairs(&submit_and_reap(&mut ring, 2));
    got.sort_unstable();
    assert_eq!(got, [(1, 0), (2, 5)]);
}

/// A disabled ring's scope says `Targeted` while a target lives and
/// `Disabled` once it is gone, whichever came first.
#[test]
fn a_disabled_ring_names_the_refusal_that_holds() {
    let mut ring = Ring::builder().r_disabled().build(4).unwrap();
    let target = ring.msg_target().unwrap();
    let kind = ring.scope(|s| s.push(Nop::new()).map_err(|e| e.kind()));
    assert_eq!(kind, Err(PushErrorKind::Targeted));
    drop(target);
    let kind = ring.scope(|s| s.push(Nop::new()).map_err(|e| e.kind()));
    assert_eq!(kind, Err(PushErrorKind::Disabled));
    ring.enable().unwrap();
    let cqe = uring_tests::complete(&mut ring, Nop::new().user_data(4));
    assert_eq!((cqe.user_data(), cqe.res()), (4, 0));
}
