//! Ring-level attacks written in safe code: scopes, registered files and
//! buffers, buffer rings, chains, messages between rings and op builders.
//! Each test states the safe outcome (a canary left as it was, an error
//! value, an exact count of completions, the scope's bookkeeping intact)
//! and fails if safe code gets past it.

use std::io::{IoSliceMut, Write as _};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use uring::ops::{
    Cancel, CancelFd, FilesUpdate, FixedFdInstall, MsgRing, MsgRingFd, Nop, PollAdd, PollUpdate,
    Read, ReadFixed, ReadV, Recv, Timeout,
};
use uring::{
    BufferGroup, Error, FileUpdates, FilesAt, PollEvents, PollFlags, PushErrorKind, Ring, RingSlot,
    SqeFlags, SyncCancel, sys,
};
use uring_tests::{PATIENCE, pipe};

/// In a scope that tags only some ops, a poll update that names a tagged
/// poll by the tag fdinfo shows (not by the caller's `user_data`) and
/// gives it a plain `user_data` must not leave the scope's table with a
/// slot that is neither free nor ever settled: after it, the scope still
/// takes as many tagged ops as the CQ has entries, and every push either
/// succeeds or is refused with an error.
#[test]
fn a_poll_renamed_by_its_raw_tag_leaves_the_scope_table_consistent() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    let fd = ring.as_raw_fd();
    let cap = ring.cq_entries();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let (_tx2, rx2) = UnixStream::pair().unwrap();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ring.scope(|s| {
            if s.tags_every_op() {
                return Err("this kernel makes every scope tag every op".to_string());
            }
            // A user_data with the top bit set is tagged even in a fast
            // scope; a multishot poll's completions show its tag in fdinfo
            // while they wait in the CQ.
            s.push(
                PollAdd::new(&rx, PollEvents::IN)
                    .poll_flags(PollFlags::MULTI)
                    .user_data(1 << 63 | 1),
            )
            .unwrap();
            s.submit().unwrap();
            tx.write_all(b"x").unwrap();
            s.wait_timeout(1, PATIENCE).unwrap();
            let tag = uring_tests::fdinfo_user_data(fd)
                .into_iter()
                .next()
                .expect("fdinfo shows the poll's completion");
            assert_ne!(tag, 1 << 63 | 1, "the kernel sees a tag");
            let mut seen: Vec<(u64, i32, bool)> = s
                .completions()
                .map(|c| (c.user_data(), c.res(), c.has_more()))
                .collect();
            // An update that names the poll by its tag and would give it a
            // plain user_data is refused: renamed, the poll's last
            // completion would carry no tag while its slot stayed held.
            s.push(PollUpdate::new(tag).new_user_data(5u64).user_data(2))
                .unwrap();
            s.submit().unwrap();
            while !seen.iter().any(|&(ud, _, _)| ud == 2) {
                s.wait_timeout(1, PATIENCE).unwrap();
                seen.extend(
                    s.completions()
                        .map(|c| (c.user_data(), c.res(), c.has_more())),
                );
            }
            let update = seen.iter().find(|&&(ud, _, _)| ud == 2).unwrap();
            assert_eq!(update.1, -libc::EINVAL, "the update is refused: {seen:?}");
            // The poll kept its user_data: cancelled by it, it ends.
            s.push(Cancel::new(1 << 63 | 1).user_data(3)).unwrap();
            s.submit().unwrap();
            while !seen.iter().any(|&(ud, _, more)| ud == 1 << 63 | 1 && !more)
                || !seen.iter().any(|&(ud, _, _)| ud == 3)
            {
                s.wait_timeout(1, PATIENCE).unwrap();
                seen.extend(
                    s.completions()
                        .map(|c| (c.user_data(), c.res(), c.has_more())),
                );
            }
            assert!(
                !seen.iter().any(|&(ud, _, _)| ud == 5),
                "no completion carries the refused name: {seen:?}"
            );
            assert_eq!(
                s.in_flight(),
                0,
                "every op pushed so far has completed: {seen:?}"
            );
            // Fill the scope with tagged polls that stay in flight: as many
            // as it says it has room for.
            let mut pushed = 0;
            for i in 0..cap as u64 {
                if s.space_left() == 0 {
                    s.submit().unwrap();
                }
                match s.push(PollAdd::new(&rx2, PollEvents::IN).user_data((1 << 63) | (100 + i))) {
                    Ok(()) => pushed += 1,
                    Err(e) => {
                        assert_eq!(e.kind(), PushErrorKind::ScopeFull, "after {pushed} pushes");
                        break;
                    }
                }
            }
            s.submit().unwrap();
            Ok(seen)
        })
    }));
    match outcome {
        Ok(Err(skip)) => uring_tests::skip(skip),
        Ok(Ok(_)) => {}
        Err(_) => panic!("a push in a scope panicked after a poll was renamed by its tag"),
    }
    // The ring still works.
    ring.push(Nop::new().user_data(77)).unwrap();
    let cqe = uring_tests::reap_one(&mut ring);
    assert_eq!(cqe.user_data(), 77);
}

/// A chain that the scope has no room to track is refused whole: no SQE of
/// it reaches the queue, and the scope counts nothing for it.
#[test]
fn a_chain_refused_for_want_of_scope_room_pushes_nothing() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::builder().cq_entries(4).build(4).unwrap();
    let cap = ring.cq_entries();
    let (rx, _tx) = pipe();
    ring.scope(|s| {
        for i in 0..cap - 1 {
            s.push(PollAdd::new(&rx, PollEvents::IN).user_data(u64::from(i)))
                .unwrap();
            s.submit().unwrap();
        }
        assert_eq!(s.in_flight(), cap - 1);
        let space = s.space_left();
        let e = s
            .push(Nop::new().user_data(50).link(Nop::new().user_data(51)))
            .unwrap_err();
        assert_eq!(e.kind(), PushErrorKind::ScopeFull);
        assert_eq!(s.space_left(), space, "no SQE of the chain was written");
        assert_eq!(s.in_flight(), cap - 1, "nothing counted for the chain");
        // One op still fits, and completes alone.
        s.push(Nop::new().user_data(60)).unwrap();
        s.submit_and_wait(1).unwrap();
        let done: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        assert_eq!(done, [(60, 0)]);
    });
}

/// Outside a scope, a chain longer than the free part of the SQ is refused
/// whole, and the ops pushed before it complete exactly once each.
#[test]
fn a_chain_refused_for_want_of_sq_room_pushes_nothing() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    for i in 0..3 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    let chain = Nop::new()
        .user_data(10)
        .link(Nop::new().user_data(11))
        .timeout(Duration::from_secs(5));
    let e = ring.push(chain).unwrap_err();
    assert_eq!(e.kind(), PushErrorKind::QueueFull);
    assert_eq!(ring.pending(), 3);
    let cqes = uring_tests::submit_and_reap(&mut ring, 3);
    uring_tests::assert_user_data_once(&cqes, [0, 1, 2]);
    assert_eq!(ring.ready(), 0, "no completion of the refused chain");
    // The chain fits now, and posts one completion per SQE.
    ring.push(e.into_inner()).unwrap();
    let cqes = uring_tests::submit_and_reap(&mut ring, 3);
    let mut uds: Vec<u64> = cqes.iter().map(|c| c.user_data()).collect();
    uds.sort();
    assert_eq!(uds, [0, 10, 11], "the link timeout posts with user_data 0");
}

/// Every argument that names a slot of a registered-file table is refused
/// on another ring: a cancel by fixed file, the source of a file message,
/// a fixed-descriptor install, a files update at a held slot, and the
/// synchronous cancel by fixed file.
#[test]
fn slots_of_another_ring_are_refused_in_every_argument() {
    let _watch = uring_tests::watchdog();
    let mut a = Ring::new(8).unwrap();
    let mut b = Ring::new(8).unwrap();
    let file = tempfile::tempfile().unwrap();
    let mut files = a.register_files(&[file.as_fd(), file.as_fd()]).unwrap();
    let slot = files.get(0).unwrap();
    let space = b.space_left();
    b.scope(|s| {
        let e = s.push(CancelFd::new(slot).user_data(1)).unwrap_err();
        assert_eq!(e.kind(), PushErrorKind::ForeignFile, "cancel by fixed file");
        let e = s.push(FixedFdInstall::new(slot).user_data(2)).unwrap_err();
        assert_eq!(e.kind(), PushErrorKind::ForeignFile, "fixed-fd install");
        assert_eq!(s.in_flight(), 0);
    });
    assert_eq!(b.space_left(), space);
    let target = Ring::new(4).unwrap();
    b.scope(|s| {
        let e = s
            .push(MsgRingFd::new(RingSlot::alloc(&target), slot, 7).user_data(3))
            .unwrap_err();
        assert_eq!(e.kind(), PushErrorKind::ForeignFile, "file message source");
    });
    let sync = b.cancel_sync(SyncCancel::fd(files.get(1).unwrap()), Some(Duration::ZERO));
    assert!(matches!(sync, Err(Error::InvalidArgument(_))), "{sync:?}");
    let mut updates = FileUpdates::new(&[Some(file.as_fd())]);
    let at = FilesAt::from(files.get_mut(1).unwrap());
    b.scope(|s| {
        let e = s
            .push(FilesUpdate::new(&mut updates, at).user_data(4))
            .unwrap_err();
        assert_eq!(
            e.kind(),
            PushErrorKind::ForeignFile,
            "files update at a slot"
        );
    });
    assert_eq!(b.pending(), 0);
}

/// Indices and ranges outside a registration are errors, before the
/// kernel sees them.
#[test]
fn registered_indices_out_of_range_are_errors() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let file = tempfile::tempfile().unwrap();
    let mut files = ring.register_files(&[file.as_fd(), file.as_fd()]).unwrap();
    assert!(files.get(2).is_err());
    assert!(files.get(u32::MAX).is_err());
    assert!(files.get_mut(2).is_err());
    assert!(
        files.get_many_mut([0, 0]).is_err(),
        "one slot asked for twice"
    );
    assert!(files.get_many_mut([1, 2]).is_err());
    let over = ring.update_files(&mut files, 1, &[Some(file.as_fd()), None]);
    assert!(matches!(over, Err(Error::InvalidArgument(_))), "{over:?}");
    let over = ring.update_files(&mut files, u32::MAX, &[None]);
    assert!(matches!(over, Err(Error::InvalidArgument(_))), "{over:?}");
    assert!(ring.register_buffers_sparse(0).is_err());
    assert!(ring.register_buffers_sparse(u32::MAX).is_err());
    let bufs = ring.register_buffers_sparse(2).unwrap();
    assert!(bufs.get(2).is_err());
    assert!(bufs.get(u32::from(u16::MAX) + 1).is_err());
    // A second table while one is registered is the kernel's error, not a
    // panic, and the first table keeps working.
    let again = ring.register_files(&[file.as_fd()]);
    assert_eq!(
        again.map(drop).unwrap_err().raw_os_error(),
        Some(libc::EBUSY)
    );
    let cqe = uring_tests::complete(&mut ring, uring::ops::Fsync::new(files.get(1).unwrap()));
    assert_eq!(cqe.res(), 0);
    // A handle of another ring is handed back with the error.
    let mut other = Ring::new(4).unwrap();
    let back = other.unregister_files(files).unwrap_err();
    assert!(matches!(back.error, Error::InvalidArgument(_)));
    ring.unregister_files(back.handle).unwrap();
}

/// A fixed-buffer read over an empty slot of a sparse buffer table, or
/// over a slot index of a table registered elsewhere, fails; the borrowed
/// bytes stay as they were.
#[test]
fn a_fixed_read_without_registered_memory_writes_nothing() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let mut other = Ring::new(8).unwrap();
    let bufs = ring.register_buffers_sparse(1).unwrap();
    let index = bufs.get(0).unwrap();
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&[0x11; 64]).unwrap();
    let mut canary = [0xa5u8; 64];
    let cqe = uring_tests::complete(&mut ring, ReadFixed::new(&file, &mut canary[..], index));
    assert!(cqe.res() < 0, "read into an empty slot: {}", cqe.res());
    assert_eq!(canary, [0xa5; 64]);
    // The index on a ring with no buffer table at all.
    let cqe = uring_tests::complete(&mut other, ReadFixed::new(&file, &mut canary[..], index));
    assert!(cqe.res() < 0, "read with no table: {}", cqe.res());
    assert_eq!(canary, [0xa5; 64]);
    ring.unregister_buffers(bufs).unwrap();
    // The index outlives the table (it is a number), and names nothing.
    let cqe = uring_tests::complete(&mut ring, ReadFixed::new(&file, &mut canary[..], index));
    assert!(cqe.res() < 0, "read after unregistering: {}", cqe.res());
    assert_eq!(canary, [0xa5; 64]);
}

/// A completion posted by another ring with the flags of a buffer
/// completion passes through a scope as a foreign one: no buffer can be
/// claimed from it, and the buffer it names stays with the kernel.
#[test]
fn a_forged_buffer_completion_claims_nothing() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !uring_tests::require_kernel(6, 3, "flags passed by MSG_RING") {
        return;
    }
    let Ok(pool) = ring.register_buf_ring(BufferGroup::new(7), 2, 16) else {
        uring_tests::skip("no buffer rings");
        return;
    };
    let mut poster = Ring::new(4).unwrap();
    let flags = sys::IORING_CQE_F_BUFFER | (1 << sys::IORING_CQE_BUFFER_SHIFT);
    let cqe = uring_tests::complete(&mut poster, MsgRing::new(&ring, 16, 3).cqe_flags(flags));
    assert_eq!(cqe.res(), 0);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    ring.scope(|s| {
        let mut forged = s.completions().next().expect("the posted completion");
        assert_eq!(forged.buffer_id(), Some(1));
        assert!(!forged.is_scope_op());
        assert!(pool.claim(&mut forged).is_err());
        assert_eq!(pool.lent(), 0);
        // Both buffers are still the kernel's: two receives get one each.
        s.push(Recv::new(&rx, pool.select()).user_data(1)).unwrap();
        s.push(Recv::new(&rx, pool.select()).user_data(2)).unwrap();
        s.submit().unwrap();
        tx.write_all(b"first").unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let mut bufs = Vec::new();
        let mut got = Vec::new();
        for mut c in s.completions() {
            got.push(c.res());
            bufs.push(pool.claim(&mut c).unwrap());
        }
        if got.len() < 2 {
            tx.write_all(b"second").unwrap();
            s.wait_timeout(1, PATIENCE).unwrap();
            for mut c in s.completions() {
                got.push(c.res());
                bufs.push(pool.claim(&mut c).unwrap());
            }
        }
        let mut ids: Vec<u16> = bufs.iter().map(|b| b.bid()).collect();
        ids.sort();
        assert_eq!(ids, [0, 1], "results {got:?}");
    });
}

/// Rings that share a worker pool share no ops: a scope's end on one
/// (which cancels everything in flight there) leaves another ring's read
/// in flight, and that read later gets its own data.
#[test]
fn rings_sharing_a_worker_pool_cancel_only_their_own_ops() {
    let _watch = uring_tests::watchdog();
    let mut rings = Ring::create_many(2, 8, 1, &Ring::builder()).unwrap();
    let (second, first) = rings.split_at_mut(1);
    let (a, b) = (&mut first[0], &mut second[0]);
    let (rx, tx) = pipe();
    let (rx2, _tx2) = pipe();
    let mut canary = [0xa5u8; 8];
    let mut other = [0u8; 8];
    a.scope(|sa| {
        sa.push(
            Read::new(&rx, &mut canary[..])
                .flags(SqeFlags::ASYNC)
                .user_data(1),
        )
        .unwrap();
        sa.submit().unwrap();
        b.scope(|sb| {
            sb.push(
                Read::new(&rx2, &mut other[..])
                    .flags(SqeFlags::ASYNC)
                    .user_data(2),
            )
            .unwrap();
            sb.submit().unwrap();
            std::thread::sleep(Duration::from_millis(20));
            // Leaving cancels the read of `b`.
        });
        assert_eq!(sa.in_flight(), 1, "the read of the other ring is in flight");
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(sa.ready(), 0);
        let mut f = std::fs::File::from(tx.try_clone().unwrap());
        f.write_all(b"mine").unwrap();
        sa.wait_timeout(1, PATIENCE).unwrap();
        let c = sa.completions().next().unwrap();
        assert_eq!((c.user_data(), c.res()), (1, 4));
    });
    assert_eq!(&canary[..4], b"mine");
    assert_eq!(canary[4..], [0xa5; 4]);
}

/// Vectored reads with more buffers than the kernel takes, and reads of
/// no bytes, complete with an error value or 0, and write nothing.
#[test]
fn oversized_iovec_counts_and_empty_buffers_complete_with_a_result() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&[0x11; 16]).unwrap();
    let mut canary = vec![0xa5u8; 2048];
    {
        let mut iovecs: Vec<IoSliceMut<'_>> = canary.chunks_mut(1).map(IoSliceMut::new).collect();
        assert!(iovecs.len() > 1024, "more than IOV_MAX");
        let cqe = uring_tests::complete(&mut ring, ReadV::new(&file, &mut iovecs[..]));
        assert_eq!(cqe.res(), -libc::EINVAL);
    }
    assert!(canary.iter().all(|&b| b == 0xa5));
    let mut empty: [u8; 0] = [];
    let cqe = uring_tests::complete(&mut ring, Read::new(&file, &mut empty[..]));
    assert_eq!(cqe.res(), 0);
    let mut none: [IoSliceMut<'_>; 0] = [];
    let cqe = uring_tests::complete(&mut ring, ReadV::new(&file, &mut none[..]));
    assert!(cqe.res() <= 0);
    let cqe = uring_tests::complete(
        &mut ring,
        Read::new(&file, &mut canary[..4]).offset(u64::MAX - 1),
    );
    assert!(cqe.res() <= 0, "a read at the last offsets: {}", cqe.res());
    assert!(canary.iter().all(|&b| b == 0xa5));
}

/// A buffer ring dropped while an io-wq worker, blocked in a read, holds
/// one of its buffers: the read cannot write into the buffer's old address
/// (it stays reserved), so it fails, and the scope still returns only
/// after it.
#[test]
fn a_buffer_ring_dropped_under_a_blocked_worker_read_gets_a_fault() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Ok(pool) = ring.register_buf_ring(BufferGroup::new(11), 1, 4096) else {
        uring_tests::skip("no buffer rings");
        return;
    };
    let select = pool.select();
    let (rx, tx) = pipe();
    let rx = &rx;
    let res = ring.scope(move |s| {
        s.push(Read::new(rx, select).flags(SqeFlags::ASYNC).user_data(1))
            .unwrap();
        s.submit().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        // The worker took the one buffer and sleeps in the pipe.
        assert_eq!(pool.available().unwrap_or(0), 0);
        drop(pool);
        // Fill the freed address range with fresh pages if it were free.
        let filler: Vec<Vec<u8>> = (0..64).map(|_| vec![0x5au8; 4096]).collect();
        std::fs::File::from(tx).write_all(b"late data").unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let c = s.completions().next().unwrap();
        assert!(filler.iter().all(|v| v.iter().all(|&b| b == 0x5a)));
        c.res()
    });
    assert!(res < 0, "the read wrote into a dropped buffer ring: {res}");
}

/// An untagged chain with a link timeout in a scope that tags only some
/// ops: every SQE posts exactly once and the scope ends with nothing in
/// flight, even when the ops are cancelled by the scope's end.
#[test]
fn chains_with_link_timeouts_settle_exactly_once_in_a_fast_scope() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (rx, _tx) = pipe();
    let mut buf = [0xa5u8; 8];
    let seen = ring.scope(|s| {
        s.push(
            Nop::new()
                .user_data(1)
                .link(Timeout::new(Duration::from_millis(1)).user_data(2))
                .link(Nop::new().user_data(3))
                .timeout_with(Duration::from_secs(5), 4),
        )
        .unwrap();
        s.push(
            Read::new(&rx, &mut buf[..])
                .user_data(5)
                .timeout_with(Duration::from_millis(20), 6),
        )
        .unwrap();
        s.submit().unwrap();
        let mut seen = Vec::new();
        while seen.len() < 6 {
            s.wait_timeout(1, PATIENCE).unwrap();
            seen.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        assert_eq!(s.in_flight(), 0);
        seen
    });
    let mut uds: Vec<u64> = seen.iter().map(|&(ud, _)| ud).collect();
    uds.sort();
    assert_eq!(uds, [1, 2, 3, 4, 5, 6], "{seen:?}");
    assert_eq!(buf, [0xa5; 8]);
    assert_eq!(ring.ready(), 0);
}
