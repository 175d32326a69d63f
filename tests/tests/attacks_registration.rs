//! Registration and multi-ring attacks, from safe code only: provided-buffer
//! rings (incremental ones, claims out of order, `MSG_WAITALL`, a pool
//! dropped inside a scope, a pool the ring may not unregister, the same
//! group on several rings), registered files and slots across rings (a
//! table that outlives its ring, a file message into another ring's held
//! slot), registered ring descriptors the ring may not release, and
//! messages posted into a ring from another thread that land in its next
//! scope.
//!
//! Each test asserts what the kernel really did, and the safe outcome.

use std::io::{Read as _, Write as _};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use uring::ops::{Fsync, MsgRing, MsgRingFd, Nop, Read, Recv};
use uring::sys;
use uring::{BufRing, BufferGroup, Error, MsgFlags, PushErrorKind, Restriction, Ring, RingSlot};
use uring_tests::{PATIENCE, incremental_buf_ring, mmap_buf_ring, plain_buf_ring};

/// Whether `cqe` says the kernel keeps the rest of its buffer.
fn buf_more(cqe: &uring::Cqe) -> bool {
    cqe.flags() & sys::IORING_CQE_F_BUF_MORE != 0
}

/// Two receives consume buffer 0 of an incremental ring, one after the
/// other as a scope requires: 40 bytes (the kernel keeps the buffer,
/// `BUF_MORE`), then 24 (the buffer is used up). The second completion is
/// claimed first and its `Buf` dropped, which gives buffer 0 back to the
/// kernel; the first completion, still unclaimed, is then claimed. If the
/// claim is allowed, the kernel must not be able to write the bytes it
/// lends: a third receive, which finds buffer 0 back in the ring, would.
#[test]
fn an_incremental_completion_claimed_out_of_order_lends_nothing_the_kernel_refills() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = incremental_buf_ring(&mut ring, 21, 1, 64) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let seen = ring.scope(|s| {
        tx.write_all(&[0x11; 40]).unwrap();
        s.push(Recv::new(&rx, pool.select()).user_data(1)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut first = s.completions().next().unwrap();
        assert_eq!((first.res(), first.buffer_id()), (40, Some(0)), "{first:?}");
        assert!(buf_more(&first), "{first:?}");
        tx.write_all(&[0x22; 24]).unwrap();
        s.push(Recv::new(&rx, pool.select()).user_data(2)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut second = s.completions().next().unwrap();
        assert_eq!(
            (second.res(), second.buffer_id()),
            (24, Some(0)),
            "{second:?}"
        );
        assert!(!buf_more(&second), "buffer 0 is used up: {second:?}");
        // Claimed and dropped: buffer 0 goes back to the kernel.
        drop(pool.claim(&mut second).unwrap());
        let Ok(held) = pool.claim(&mut first) else {
            // Refused: nothing is lent.
            return None;
        };
        let before = held.to_vec();
        tx.write_all(&[0x33; 40]).unwrap();
        s.push(Recv::new(&rx, pool.select()).user_data(3)).unwrap();
        s.submit_and_wait(1).unwrap();
        let third = s.completions().next().unwrap().cqe();
        Some((before, held.to_vec(), third))
    });
    if let Some((before, after, third)) = seen {
        assert_eq!(
            before, after,
            "the kernel wrote into a lent buffer for {third:?}"
        );
    }
}

/// A receive flagged `MSG_WAITALL` on an incremental ring. The kernel would
/// take 4 bytes from buffer 0, retry, and complete with 16 bytes and no
/// `BUF_MORE` while it charged the ring for the first 4 only: a claim would
/// then lend bytes that the next receive writes. A scope makes such a
/// receive fail with `EINVAL` instead; the data stays in the socket for the
/// next receive, which fills the buffer from its start.
#[test]
fn a_waitall_receive_on_an_incremental_ring_lends_nothing_the_kernel_still_holds() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = incremental_buf_ring(&mut ring, 22, 1, 16) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    ring.scope(|s| {
        tx.write_all(&[0x11; 4]).unwrap();
        let waitall = Recv::new(&rx, pool.select())
            .msg_flags(MsgFlags::WAITALL)
            .user_data(1);
        s.push(waitall).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut first = s.completions().next().unwrap();
        assert_eq!(
            (first.user_data(), first.res(), first.buffer_id()),
            (1, -libc::EINVAL, None),
            "{first:?}"
        );
        assert!(pool.claim(&mut first).is_err(), "nothing to claim");
        // The same receive without the flag takes the 4 bytes, then the
        // next one the 12 sent after them, in the same buffer.
        let mut got = Vec::new();
        for user_data in [2, 3] {
            if user_data == 3 {
                tx.write_all(&[0x22; 12]).unwrap();
            }
            s.push(Recv::new(&rx, pool.select()).user_data(user_data))
                .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            assert_eq!(cqe.user_data(), user_data, "{cqe:?}");
            let buf = pool.claim(&mut cqe).unwrap();
            got.push((buf.bid(), buf.offset(), buf.to_vec()));
        }
        assert_eq!(got[0], (0, 0, [0x11; 4].to_vec()));
        assert_eq!(got[1].0, 0);
        assert_eq!(got[1].1, 4, "the second piece starts where the first ended");
        assert_eq!(got[1].2, [0x22; 12].to_vec());
    });
}

/// The same sequence as the out-of-order attack, with the claims in the
/// kernel's order: every piece is lent once, at the offset the kernel
/// wrote it, and a buffer given back is filled again only after every
/// `Buf` of it is gone.
#[test]
fn incremental_claims_in_order_never_lend_what_the_kernel_refills() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = incremental_buf_ring(&mut ring, 23, 1, 64) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    ring.scope(|s| {
        let mut held = Vec::new();
        for (id, (byte, len)) in [(0x11u8, 40usize), (0x22, 24)].into_iter().enumerate() {
            tx.write_all(&vec![byte; len]).unwrap();
            s.push(Recv::new(&rx, pool.select()).user_data(id as u64))
                .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!(buf[..], vec![byte; len][..]);
            held.push(buf);
        }
        assert_eq!(held[0].offset(), 0);
        assert_eq!(held[1].offset(), 40);
        // Buffer 0 is used up and lent: the ring is dry.
        tx.write_all(&[0x33; 8]).unwrap();
        s.push(Recv::new(&rx, pool.select()).user_data(3)).unwrap();
        s.submit_and_wait(1).unwrap();
        let dry = s.completions().next().unwrap();
        assert_eq!(dry.res(), -libc::ENOBUFS, "{dry:?}");
        assert_eq!(held[0][..], [0x11; 40]);
        assert_eq!(held[1][..], [0x22; 24]);
        held.clear();
        // Back with the kernel now, buffer 0 takes the waiting bytes.
        s.push(Recv::new(&rx, pool.select()).user_data(4)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut refill = s.completions().next().unwrap();
        let buf = pool.claim(&mut refill).unwrap();
        assert_eq!((buf.bid(), buf.offset(), &buf[..]), (0, 0, &[0x33; 8][..]));
    });
}

/// A buffer ring dropped inside a scope, while a receive of the scope
/// waits to select from it: the group is gone, so the receive fails with
/// `ENOBUFS` when data arrives, and the data stays in the socket. Another
/// group's ring claims nothing from the completion.
#[test]
fn a_buffer_ring_dropped_inside_a_scope_leaves_its_waiting_receive_no_buffer() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 24, 2, 16) else {
        return;
    };
    let other = plain_buf_ring(&mut ring, 25, 2, 16).unwrap();
    let (mut tx, mut rx) = UnixStream::pair().unwrap();
    ring.scope(|s| {
        s.push(Recv::new(&rx, pool.select()).user_data(1)).unwrap();
        s.submit().unwrap();
        drop(pool);
        tx.write_all(b"late").unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.res(), -libc::ENOBUFS, "{cqe:?}");
        assert!(other.claim(&mut cqe).is_err());
    });
    assert_eq!(other.lent(), 0);
    let mut got = [0u8; 4];
    rx.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"late");
}

/// The same group id on two rings names two pools: a completion of one
/// ring's scope claims nothing from the other ring's pool, whether that
/// ring is alive or dropped (its pool outlives it; ring ids are never
/// reused), and the right pool hands out what was received.
#[test]
fn a_group_registered_on_several_rings_is_claimed_only_from_its_own_ring() {
    let _watch = uring_tests::watchdog();
    let mut a = Ring::new(8).unwrap();
    let Some(pool_a) = plain_buf_ring(&mut a, 26, 1, 16) else {
        return;
    };
    let orphan = {
        let mut gone = Ring::new(4).unwrap();
        plain_buf_ring(&mut gone, 26, 1, 16).unwrap()
    };
    let mut b = Ring::new(8).unwrap();
    let pool_b = plain_buf_ring(&mut b, 26, 1, 16).unwrap();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"abc").unwrap();
    a.scope(|s| {
        s.push(Recv::new(&rx, pool_a.select()).user_data(1))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!((cqe.res(), cqe.buffer_id()), (3, Some(0)));
        assert!(matches!(
            pool_b.claim(&mut cqe),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            orphan.claim(&mut cqe),
            Err(Error::InvalidArgument(_))
        ));
        let buf = pool_a.claim(&mut cqe).unwrap();
        assert_eq!(&buf[..], b"abc");
    });
    assert_eq!((pool_b.lent(), orphan.lent()), (0, 0));
}

/// A ring whose restrictions forbid unregistering buffer rings: dropping
/// the pool cannot take the group from the kernel, which still hands its
/// buffer to a receive. The buffer's addresses stay reserved, so the
/// receive faults instead of writing into memory allocated since. The same
/// holds for a ring whose descriptors the kernel allocated, which the pool
/// leaves with the kernel.
#[test]
fn a_buffer_ring_the_ring_may_not_unregister_faults_instead_of_writing() {
    let _watch = uring_tests::watchdog();
    for kernel_allocated in [false, true] {
        let mut ring = Ring::builder().r_disabled().build(8).unwrap();
        ring.register_restrictions(&[
            Restriction::op::<Recv<'static>>(),
            Restriction::sqe_flags_allowed(sys::IOSQE_BUFFER_SELECT),
            Restriction::register_op(sys::IORING_REGISTER_PBUF_RING as u8),
        ])
        .unwrap();
        ring.enable().unwrap();
        let pool = if kernel_allocated {
            mmap_buf_ring(&mut ring, 27, 1, 4096, false)
        } else {
            plain_buf_ring(&mut ring, 27, 1, 4096)
        };
        let Some(pool) = pool else {
            continue;
        };
        let (mut tx, rx) = UnixStream::pair().unwrap();
        tx.write_all(b"first").unwrap();
        let first = ring.scope(|s| {
            s.push(Recv::new(&rx, pool.select()).user_data(1)).unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            let buf = pool.claim(&mut cqe).unwrap();
            buf.to_vec()
        });
        assert_eq!(first, b"first", "kernel-allocated {kernel_allocated}");
        // The kernel refuses the unregistration: the group stays, its buffer
        // back in the ring.
        drop(pool);
        // Memory allocated now must not be where the buffer was.
        let fresh: Vec<Vec<u8>> = (0..64).map(|_| vec![0x5a; 4096]).collect();
        tx.write_all(b"second").unwrap();
        let cqe = ring.scope(|s| {
            s.push(Recv::new(&rx, BufferGroup::new(27).select(4096)).user_data(2))
                .unwrap();
            s.submit_and_wait(1).unwrap();
            s.completions().next().unwrap().cqe()
        });
        assert_eq!(
            cqe.res(),
            -libc::EFAULT,
            "kernel-allocated {kernel_allocated}: {cqe:?}"
        );
        assert!(fresh.iter().all(|v| v.iter().all(|&b| b == 0x5a)));
    }
}

/// A ring whose restrictions forbid unregistering its registered
/// descriptor: the ring is dropped with the registration in this thread's
/// table. A ring created afterwards gets another index and enters only
/// itself.
#[test]
fn a_registered_ring_fd_the_ring_may_not_release_names_no_later_ring() {
    let _watch = uring_tests::watchdog();
    let mut old = Ring::builder().r_disabled().build(8).unwrap();
    old.register_restrictions(&[
        Restriction::op::<Nop>(),
        Restriction::register_op(sys::IORING_REGISTER_RING_FDS as u8),
    ])
    .unwrap();
    old.enable().unwrap();
    let index = match old.register_ring_fd() {
        Ok(index) => index,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            return uring_tests::skip(format_args!("no registered ring fds (5.18): {e}"));
        }
        Err(e) => panic!("register_ring_fd: {e}"),
    };
    let refused = old.unregister_ring_fd();
    assert_eq!(
        refused.err().and_then(|e| e.raw_os_error()),
        Some(libc::EACCES)
    );
    old.push(Nop::new().user_data(1)).unwrap();
    old.submit_and_wait(1).unwrap();
    assert_eq!(old.completions().next().map(|c| c.user_data()), Some(1));
    // Left queued: nothing may submit it once the ring is gone.
    old.push(Nop::new().user_data(2)).unwrap();
    drop(old);
    let mut next = Ring::new(8).unwrap();
    let next_index = next.register_ring_fd().unwrap();
    assert_ne!(
        next_index, index,
        "the old registration still holds its index"
    );
    next.push(Nop::new().user_data(3)).unwrap();
    next.submit_and_wait(1).unwrap();
    let got: Vec<u64> = next.completions().map(|c| c.user_data()).collect();
    assert_eq!(got, [3]);
    assert_eq!(next.pending(), 0);
    next.unregister_ring_fd().unwrap();
}

/// A completion posted from another thread into a `DEFER_TASKRUN` ring
/// waits as task work until that ring's next wait, which is inside its
/// next scope. It carries the flags of a buffer completion (and `MORE`),
/// yet passes through the scope as a foreign completion: no buffer is
/// claimed from it, and the scope's receive settles with its own.
#[test]
fn a_deferred_message_landing_inside_a_scope_stays_foreign() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(6, 3, "flags passed by MSG_RING") {
        return;
    }
    let built = Ring::builder().single_issuer().defer_taskrun().build(8);
    let Ok(mut target) = built else {
        return uring_tests::skip("no DEFER_TASKRUN rings (6.1)");
    };
    let Some(pool) = plain_buf_ring(&mut target, 28, 2, 16) else {
        return;
    };
    let flags =
        sys::IORING_CQE_F_BUFFER | sys::IORING_CQE_F_MORE | (1 << sys::IORING_CQE_BUFFER_SHIFT);
    let message = MsgRing::new(&target, 16, 0xdead).cqe_flags(flags);
    let sent = std::thread::scope(|t| {
        t.spawn(move || uring_tests::complete(&mut Ring::new(4).unwrap(), message))
            .join()
            .unwrap()
    });
    assert_eq!(sent.res(), 0);
    // Not posted yet: it waits for the target's next wait.
    assert_eq!(target.ready(), 0);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"mine").unwrap();
    ring_scope_sees_one_foreign_and_its_own(&mut target, &pool, &rx);
}

fn ring_scope_sees_one_foreign_and_its_own(ring: &mut Ring, pool: &BufRing, rx: &UnixStream) {
    ring.scope(|s| {
        assert!(s.tags_every_op(), "a ring lent as a message target");
        s.push(Recv::new(rx, pool.select()).user_data(1)).unwrap();
        s.submit().unwrap();
        let mut foreign = 0;
        let mut mine = None;
        while mine.is_none() || foreign == 0 {
            s.wait_timeout(1, PATIENCE).unwrap();
            for mut cqe in s.completions() {
                if cqe.is_scope_op() {
                    assert_eq!(cqe.user_data(), 1);
                    mine = Some(pool.claim(&mut cqe).unwrap().to_vec());
                } else {
                    assert_eq!((cqe.user_data(), cqe.res()), (0xdead, 16));
                    assert!(pool.claim(&mut cqe).is_err());
                    foreign += 1;
                }
            }
        }
        assert_eq!(mine.as_deref(), Some(&b"mine"[..]));
        assert_eq!(foreign, 1, "the message arrived once");
        assert_eq!(pool.lent(), 0);
    });
}

/// A registered-file table outlives its ring (the handle names no
/// memory), but its slots name nothing elsewhere: a later ring with a
/// table of its own refuses them as targets, as a message source and as
/// the slot a message replaces.
#[test]
fn the_table_of_a_dropped_ring_names_no_slot_of_its_successor() {
    let _watch = uring_tests::watchdog();
    let file = tempfile::tempfile().unwrap();
    let mut stale = {
        let mut gone = Ring::new(4).unwrap();
        gone.register_files(&[file.as_fd(), file.as_fd()]).unwrap()
    };
    let mut next = Ring::new(4).unwrap();
    let mut own = next.register_files(&[file.as_fd()]).unwrap();
    let peer = Ring::new(4).unwrap();
    next.scope(|s| {
        let e = s.push(Fsync::new(stale.get(0).unwrap())).unwrap_err();
        assert_eq!(e.kind(), PushErrorKind::ForeignFile);
        let dest = RingSlot::alloc(&peer);
        let e = s
            .push(MsgRingFd::new(dest, stale.get(1).unwrap(), 1))
            .unwrap_err();
        assert_eq!(e.kind(), PushErrorKind::ForeignFile);
        assert_eq!(s.in_flight(), 0);
    });
    let wrong = RingSlot::at(&next, stale.get_mut(0).unwrap());
    assert!(matches!(wrong, Err(Error::InvalidArgument(_))), "{wrong:?}");
    let cqe = uring_tests::complete(&mut next, Fsync::new(own.get(0).unwrap()));
    assert_eq!(cqe.res(), 0);
    let right = RingSlot::at(&next, own.get_mut(0).unwrap());
    assert!(right.is_ok());
}

/// A file message into a slot of another ring that the sender holds
/// exclusively replaces that slot alone: the receiving ring's other slot
/// keeps its file, and the replaced one reads the file that was sent.
#[test]
fn a_file_message_replaces_only_the_slot_it_holds() {
    let _watch = uring_tests::watchdog();
    let mut sender = Ring::new(4).unwrap();
    if !uring_tests::require_op::<MsgRingFd<'static>>(&sender) {
        return;
    }
    let sent_file = uring_tests::file_of(b"sent");
    let kept_file = uring_tests::file_of(b"kept");
    let old_file = uring_tests::file_of(b"old!");
    let source = sender.register_files(&[sent_file.as_fd()]).unwrap();
    let mut receiver = Ring::new(4).unwrap();
    let mut table = receiver
        .register_files(&[kept_file.as_fd(), old_file.as_fd()])
        .unwrap();
    let dest = RingSlot::at(&receiver, table.get_mut(1).unwrap()).unwrap();
    let cqe = uring_tests::complete(&mut sender, MsgRingFd::new(dest, source.get(0).unwrap(), 9));
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    let note = receiver
        .completions()
        .next()
        .map(|c| (c.user_data(), c.res()));
    assert_eq!(note, Some((9, 0)));
    assert_eq!(read_slot(&mut receiver, &table, 0), b"kept");
    assert_eq!(read_slot(&mut receiver, &table, 1), b"sent");
}

/// The first four bytes of the file in slot `index` of `table`.
fn read_slot(ring: &mut Ring, table: &uring::FixedFiles, index: u32) -> Vec<u8> {
    let mut buf = [0u8; 4];
    let cqe = uring_tests::complete(ring, Read::new(table.get(index).unwrap(), &mut buf[..]));
    assert_eq!(cqe.res(), 4, "{cqe:?}");
    buf.to_vec()
}
