//! Registered files, registered buffers and cross-ring messages, checked
//! against what the kernel's own io_uring code does with them
//! (`io_uring/filetable.c`, `rsrc.c`, `msg_ring.c`, `openclose.c`,
//! `cancel.c`, `register.c`, `net.c`), from safe code only.
//!
//! The library's typing of slots (`Fixed`, `FixedMut`, `DirectSlot`,
//! `RingSlot`) rests on a few kernel facts: a slot is picked for
//! `IORING_FILE_INDEX_ALLOC` only among the empty slots of the allocation
//! range, from every source (open, socket, accept, a file message); a
//! failed install drops the file it was handed; a file message into a
//! deferred ring is installed before its sender completes; a slot keeps
//! its file across restrictions that refuse every change and across a
//! resize; a cancel keyed by a slot matches requests by the file in it.
//! Each test makes the kernel act and checks which file each slot
//! reaches, what each completion carries and how many come.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt as _;

use uring::ops::{
    Accept, CancelFd, Close, MsgRing, MsgRingFd, Nop, OpenAt, Read, ReadFixed, Socket, Write,
};
use uring::sys;
use uring::{
    AcceptFlags, CancelFlags, DirectSlot, FixedFiles, MsgRingFlags, Restriction, Ring, RingSlot,
};
use uring_tests::{PATIENCE, complete, pipe, require_kernel, require_op, watchdog};

/// A byte the kernel never writes in these tests.
const CANARY: u8 = 0xa5;

/// What a read of four bytes at offset 0 through slot `index` of `table`
/// finds: the bytes, or the errno the kernel gave.
fn read_slot(ring: &mut Ring, table: &FixedFiles, index: u32) -> Result<Vec<u8>, i32> {
    let mut buf = [CANARY; 4];
    let cqe = complete(ring, Read::new(table.get(index).unwrap(), &mut buf[..]));
    if cqe.res() < 0 {
        assert_eq!(buf, [CANARY; 4], "a failed read wrote into its buffer");
        Err(-cqe.res())
    } else {
        Ok(buf[..cqe.res() as usize].to_vec())
    }
}

/// The completions that reach `ring` within a short while, as
/// `(user_data, res)`.
fn arrived(ring: &mut Ring) -> Vec<(u64, i32)> {
    uring_tests::drain_until_quiet(ring, 0, std::time::Duration::from_millis(50))
}

/// `filetable.c`: `__io_fixed_fd_install` with `IORING_FILE_INDEX_ALLOC`
/// takes its slot from `io_file_bitmap_get`, which searches only
/// `[file_alloc_start, file_alloc_end)` for a clear bit, and the bit is
/// set for every slot that holds a file (registration, update, install)
/// and cleared when `__io_sqe_files_update` empties it. The library lets
/// ops allocate with no handle of the table (`DirectSlot::ALLOC`,
/// `RingSlot::alloc`) while `Fixed` handles of occupied slots live, on the
/// ground that no occupied slot is ever picked. Here a file message from
/// another ring, a direct open and a direct socket fill a range whose
/// holes are between occupied slots: they take exactly the three free
/// slots of the range, the fourth allocation fails with `ENFILE`, the
/// occupied slots still reach their files, the empty slot past the range
/// stays empty, and a slot emptied by an update is the one picked next.
#[test]
fn every_allocating_source_fills_only_free_slots_of_the_range() {
    let _watch = watchdog();
    let mut ring = Ring::new(16).unwrap();
    if !require_op::<MsgRingFd<'static>>(&ring) || !require_op::<Socket<'static>>(&ring) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("opened");
    std::fs::write(&path, b"open").unwrap();
    let path = std::ffi::CString::new(path.into_os_string().into_encoded_bytes()).unwrap();
    let zero = uring_tests::file_of(b"zero");
    let two = uring_tests::file_of(b"two!");
    let mut table = ring
        .register_file_slots(&[
            Some(zero.as_fd()),
            None,
            Some(two.as_fd()),
            None,
            None,
            None,
        ])
        .unwrap();
    ring.set_file_alloc_range(&table, 1, 4).unwrap();

    let mut sender = Ring::new(4).unwrap();
    let sent = uring_tests::file_of(b"sent");
    let source = sender.register_files(&[sent.as_fd()]).unwrap();
    let cqe = complete(
        &mut sender,
        MsgRingFd::new(RingSlot::alloc(&ring), source.get(0).unwrap(), 0x51),
    );
    let message_slot = cqe.res();
    assert_eq!(arrived(&mut ring), [(0x51, message_slot)]);

    let results = ring.scope(|s| {
        s.push(
            OpenAt::new(uring::Fd::CWD, &path)
                .open_flags(libc::O_RDONLY)
                .direct(DirectSlot::ALLOC)
                .user_data(1),
        )
        .unwrap();
        s.push(
            Socket::new(libc::AF_UNIX, libc::SOCK_DGRAM)
                .direct(DirectSlot::ALLOC)
                .user_data(2),
        )
        .unwrap();
        s.push(
            OpenAt::new(uring::Fd::CWD, &path)
                .open_flags(libc::O_RDONLY)
                .direct(DirectSlot::ALLOC)
                .user_data(3),
        )
        .unwrap();
        let mut got = uring_tests::pairs(&uring_tests::scope_reap(s, 3));
        got.sort_unstable();
        got
    });
    let mut picked: Vec<i32> = results.iter().map(|&(_, res)| res).collect();
    picked.push(message_slot);
    picked.sort_unstable();
    assert_eq!(
        picked,
        [-libc::ENFILE, 1, 3, 4],
        "three free slots of the range, then none: {results:?}, message {message_slot}"
    );
    assert_eq!(read_slot(&mut ring, &table, 0), Ok(b"zero".to_vec()));
    assert_eq!(read_slot(&mut ring, &table, 2), Ok(b"two!".to_vec()));
    assert_eq!(
        read_slot(&mut ring, &table, message_slot as u32),
        Ok(b"sent".to_vec())
    );
    assert_eq!(read_slot(&mut ring, &table, 5), Err(libc::EBADF));
    let opened = results
        .iter()
        .find(|&&(ud, res)| ud != 2 && res >= 0)
        .map(|&(_, res)| res as u32)
        .unwrap();
    assert_eq!(read_slot(&mut ring, &table, opened), Ok(b"open".to_vec()));

    // Emptying one slot of the full range makes it, and only it, free.
    ring.update_files(&mut table, message_slot as u32, &[None])
        .unwrap();
    let cqe = complete(
        &mut ring,
        OpenAt::new(uring::Fd::CWD, &path)
            .open_flags(libc::O_RDONLY)
            .direct(DirectSlot::ALLOC),
    );
    assert_eq!(cqe.res(), message_slot, "the slot the update emptied");
    assert_eq!(
        read_slot(&mut ring, &table, message_slot as u32),
        Ok(b"open".to_vec())
    );
    assert_eq!(read_slot(&mut ring, &table, 0), Ok(b"zero".to_vec()));
    assert_eq!(read_slot(&mut ring, &table, 2), Ok(b"two!".to_vec()));
}

/// `msg_ring.c`: `io_msg_send_fd` takes its own reference to the source
/// slot's file (`io_msg_grab_file`, with `REQ_F_NEED_CLEANUP`), and when
/// `__io_fixed_fd_install` fails, `io_msg_ring_cleanup` drops it. Here a
/// pipe's read end, registered in the sender's table and closed, is sent
/// into a ring with no table (`io_file_bitmap_get`: no bitmap, `ENFILE`),
/// a ring whose table is full (`ENFILE`) and a disabled ring (`EBADFD`):
/// each message fails, no target gets a completion or a file, and once
/// the sender unregisters its table no reference to the read end is left
/// (a write fails with `EPIPE`), so a refused message leaks nothing the
/// library could not account for.
#[test]
fn a_refused_file_message_installs_nothing_and_keeps_no_reference() {
    let _watch = watchdog();
    let mut sender = Ring::new(4).unwrap();
    if !require_op::<MsgRingFd<'static>>(&sender) {
        return;
    }
    let (rx, tx) = pipe();
    let mut tx = File::from(tx);
    let table = sender.register_files(&[rx.as_fd()]).unwrap();
    drop(rx);

    let mut no_table = Ring::new(4).unwrap();
    let cqe = complete(
        &mut sender,
        MsgRingFd::new(RingSlot::alloc(&no_table), table.get(0).unwrap(), 1),
    );
    assert!(
        [-libc::ENFILE, -libc::ENXIO].contains(&cqe.res()),
        "a ring without a table: {cqe:?}"
    );
    assert_eq!(arrived(&mut no_table), []);

    let mut full = Ring::new(4).unwrap();
    let other = uring_tests::file_of(b"full");
    let full_table = full.register_files(&[other.as_fd()]).unwrap();
    let cqe = complete(
        &mut sender,
        MsgRingFd::new(RingSlot::alloc(&full), table.get(0).unwrap(), 2),
    );
    assert_eq!(cqe.res(), -libc::ENFILE, "a full table: {cqe:?}");
    assert_eq!(arrived(&mut full), []);
    assert_eq!(read_slot(&mut full, &full_table, 0), Ok(b"full".to_vec()));

    let mut disabled = Ring::builder().r_disabled().build(4).unwrap();
    let mut disabled_table = disabled.register_files_sparse(2).unwrap();
    let dest = RingSlot::at(&disabled, disabled_table.get_mut(0).unwrap()).unwrap();
    let cqe = complete(&mut sender, MsgRingFd::new(dest, table.get(0).unwrap(), 3));
    assert_eq!(cqe.res(), -libc::EBADFD, "a disabled ring: {cqe:?}");
    assert_eq!(disabled.ready(), 0);
    disabled.enable().unwrap();
    assert_eq!(arrived(&mut disabled), []);
    assert_eq!(
        read_slot(&mut disabled, &disabled_table, 0),
        Err(libc::EBADF)
    );
    assert_eq!(
        read_slot(&mut disabled, &disabled_table, 1),
        Err(libc::EBADF)
    );

    tx.write_all(b"still read").unwrap();
    sender.unregister_files(table).unwrap();
    let e = tx.write_all(b"nobody").unwrap_err();
    assert_eq!(
        e.raw_os_error(),
        Some(libc::EPIPE),
        "a refused message kept a reference to the file: {e}"
    );
}

/// `msg_ring.c`: `io_msg_install_complete` installs the file and, with
/// `IORING_MSG_RING_CQE_SKIP`, posts nothing to the target; the sender's
/// own completion carries the slot picked (`__io_fixed_fd_install`'s
/// result) or 0 at a named slot. A receiving ring's reader must then see
/// no completion at all (a phantom one would be counted as an op's), while
/// the slot reaches the file: the one it held before for a slot replaced
/// by `RingSlot::at`, which the sender held exclusively, is gone from it.
#[test]
fn a_skipped_file_message_installs_its_file_and_posts_nothing() {
    let _watch = watchdog();
    let mut sender = Ring::new(4).unwrap();
    if !require_op::<MsgRingFd<'static>>(&sender) {
        return;
    }
    let sent = uring_tests::file_of(b"sent");
    let source = sender.register_files(&[sent.as_fd()]).unwrap();
    let mut receiver = Ring::new(4).unwrap();
    let old = uring_tests::file_of(b"old!");
    let mut table = receiver
        .register_file_slots(&[Some(old.as_fd()), None, None])
        .unwrap();

    let cqe = complete(
        &mut sender,
        MsgRingFd::new(RingSlot::alloc(&receiver), source.get(0).unwrap(), 0x61)
            .msg_ring_flags(MsgRingFlags::CQE_SKIP),
    );
    let picked = cqe.res();
    assert!([1, 2].contains(&picked), "{cqe:?}");
    let dest = RingSlot::at(&receiver, table.get_mut(0).unwrap()).unwrap();
    let cqe = complete(
        &mut sender,
        MsgRingFd::new(dest, source.get(0).unwrap(), 0x62).msg_ring_flags(MsgRingFlags::CQE_SKIP),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_eq!(arrived(&mut receiver), [], "CQE_SKIP posts nothing");
    assert_eq!(read_slot(&mut receiver, &table, 0), Ok(b"sent".to_vec()));
    assert_eq!(
        read_slot(&mut receiver, &table, picked as u32),
        Ok(b"sent".to_vec())
    );
    let free = 3 - picked as u32;
    assert_eq!(read_slot(&mut receiver, &table, free), Err(libc::EBADF));
    // The sender's slot still holds its file: a message passes a reference.
    let cqe = complete(&mut sender, Write::new(source.get(0).unwrap(), b"SENT"));
    assert_eq!(cqe.res(), 4);
    assert_eq!(read_slot(&mut receiver, &table, 0), Ok(b"SENT".to_vec()));
}

/// `msg_ring.c`: a file message into a ring whose completions are its
/// task's (`task_complete`: `DEFER_TASKRUN`) is installed by task work on
/// that ring's submitter task (`io_msg_fd_remote`,
/// `io_msg_tw_fd_complete`), and the sender's op completes only after
/// that (`IOU_ISSUE_SKIP_COMPLETE`). The sender's `RingSlot` borrow, which
/// the library ends at the sender's completion, must not end before the
/// install. Here the sender is on another thread while the receiver's
/// thread only waits to join it: the message still lands, in a free slot,
/// before the sender sees its completion, the receiver gets one
/// completion for it, and the occupied slot keeps its file.
#[test]
fn a_file_message_into_a_deferred_ring_lands_before_its_sender_completes() {
    let _watch = watchdog();
    let built = Ring::builder().single_issuer().defer_taskrun().build(8);
    let Ok(mut receiver) = built else {
        return uring_tests::skip("no DEFER_TASKRUN rings (6.1)");
    };
    if !require_op::<MsgRingFd<'static>>(&receiver) {
        return;
    }
    let kept = uring_tests::file_of(b"kept");
    let table = receiver
        .register_file_slots(&[Some(kept.as_fd()), None])
        .unwrap();
    let target = receiver.msg_target().unwrap();
    let sent = uring_tests::file_of(b"sent");
    let res = std::thread::scope(|t| {
        let target = &target;
        t.spawn(move || {
            let mut sender = Ring::new(4).unwrap();
            let source = sender.register_files(&[sent.as_fd()]).unwrap();
            let cqe = complete(
                &mut sender,
                MsgRingFd::new(RingSlot::alloc_in(target), source.get(0).unwrap(), 0x71),
            );
            cqe.res()
        })
        .join()
        .unwrap()
    });
    assert_eq!(res, 1, "the one free slot");
    drop(target);
    assert_eq!(arrived(&mut receiver), [(0x71, 1)]);
    assert_eq!(read_slot(&mut receiver, &table, 1), Ok(b"sent".to_vec()));
    assert_eq!(read_slot(&mut receiver, &table, 0), Ok(b"kept".to_vec()));
}

/// `msg_ring.c` / `register.c`: a data message into a `DEFER_TASKRUN`
/// ring is queued as task work (`io_msg_data_remote`,
/// `io_msg_remote_post`) and posted only at that ring's next wait, while
/// `io_register_resize_rings` copies the CQEs between the kernel's head
/// and tail into the new rings. The library's resize copies its own view
/// of the CQ (SAFETY.md, section 3). With two messages already in the CQ
/// and three still queued as task work, a resize must neither lose nor
/// repeat any of them: each of the five comes out once, in order.
#[test]
fn messages_queued_as_task_work_across_a_resize_come_out_once() {
    let _watch = watchdog();
    if !require_kernel(6, 13, "IORING_REGISTER_RESIZE_RINGS") {
        return;
    }
    let built = Ring::builder().single_issuer().defer_taskrun().build(4);
    let Ok(mut ring) = built else {
        return uring_tests::skip("no DEFER_TASKRUN rings (6.1)");
    };
    let target = ring.msg_target().unwrap();
    let mut sender = Ring::new(8).unwrap();
    for ud in 0x100..0x102u64 {
        let cqe = complete(&mut sender, MsgRing::new(&target, ud as i32, ud));
        assert_eq!(cqe.res(), 0);
    }
    ring.wait_timeout(2, PATIENCE).unwrap();
    assert_eq!(ring.ready(), 2, "the first two are in the CQ");
    for ud in 0x102..0x105u64 {
        let cqe = complete(&mut sender, MsgRing::new(&target, ud as i32, ud));
        assert_eq!(cqe.res(), 0);
    }
    assert_eq!(ring.ready(), 2, "the last three wait as task work");
    ring.resize(8, 32).unwrap();
    drop(target);
    let got = uring_tests::drain_until_quiet(&mut ring, 5, std::time::Duration::from_millis(50));
    let want: Vec<(u64, i32)> = (0x100..0x105u64).map(|ud| (ud, ud as i32)).collect();
    assert_eq!(got, want);
    // The ring still runs its own ops after it.
    let cqe = complete(&mut ring, Nop::new().user_data(7));
    assert_eq!((cqe.user_data(), cqe.res()), (7, 0));
}

/// `cancel.c`: a cancel keyed by a registered slot
/// (`IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_FD_FIXED`) looks the
/// slot's file up once (`io_file_get_fixed`) and then matches requests by
/// `req->file == cd->file` (`io_cancel_req_match`): by file, not by slot
/// number. So the key reaches every op on that file, through another slot
/// holding it or through the plain descriptor the slot was registered
/// from, and no op on another file. Each cancelled read completes once
/// with `ECANCELED`, writes nothing into its buffer, and takes nothing
/// from the pipe; the read of the other file keeps its buffer and gets
/// its bytes.
#[test]
fn a_cancel_keyed_by_a_slot_reaches_its_file_by_every_name_and_no_other_file() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<CancelFd<'static>>(&ring) {
        return;
    }
    let (rx1, tx1) = pipe();
    let (rx2, tx2) = pipe();
    let mut tx1 = File::from(tx1);
    let mut tx2 = File::from(tx2);
    let table = ring
        .register_files(&[rx1.as_fd(), rx1.as_fd(), rx2.as_fd()])
        .unwrap();
    let mut by_slot = [CANARY; 8];
    let mut by_fd = [CANARY; 8];
    let mut other = [CANARY; 8];
    let (cancelled, reads, last) = ring.scope(|s| {
        s.push(Read::new(table.get(1).unwrap(), &mut by_slot[..]).user_data(1))
            .unwrap();
        s.push(Read::new(&rx1, &mut by_fd[..]).user_data(2))
            .unwrap();
        s.push(Read::new(table.get(2).unwrap(), &mut other[..]).user_data(3))
            .unwrap();
        s.submit().unwrap();
        let early = s.wait_timeout(1, std::time::Duration::from_millis(30));
        assert!(early.is_err(), "the reads wait for data");
        s.push(
            CancelFd::new(table.get(0).unwrap())
                .cancel_flags(CancelFlags::ALL)
                .user_data(9),
        )
        .unwrap();
        let mut got = uring_tests::pairs(&uring_tests::scope_reap(s, 3));
        got.sort_unstable();
        assert_eq!(
            s.in_flight(),
            1,
            "the read of the other file waits: {got:?}"
        );
        tx2.write_all(b"other").unwrap();
        let last = uring_tests::pairs(&uring_tests::scope_reap(s, 1));
        (got[2], got[..2].to_vec(), last)
    });
    assert_eq!(cancelled, (9, 2), "both ops on the slot's file");
    assert_eq!(reads, [(1, -libc::ECANCELED), (2, -libc::ECANCELED)]);
    assert_eq!(last, [(3, 5)]);
    assert_eq!(&other[..5], b"other");
    assert!(other[5..].iter().all(|&b| b == CANARY));
    assert_eq!(by_slot, [CANARY; 8]);
    assert_eq!(by_fd, [CANARY; 8]);
    tx1.write_all(b"later").unwrap();
    let mut rx1 = File::from(rx1);
    let mut got = [0u8; 5];
    rx1.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"later", "the cancelled reads took nothing");
}

/// `register.c`: once a ring with restrictions is enabled,
/// `__io_uring_register` refuses every register opcode not allowed
/// (`EACCES`), and `io_check_restriction` refuses such SQE opcodes; but a
/// file message from another ring is installed by the sender
/// (`io_msg_install_complete` under the target's lock) with no look at
/// the target's restrictions. The library hands a refused unregistration's
/// handle back, so its `Fixed` handles must still reach the same files:
/// refused updates, alloc ranges and unregistrations change no slot, and a
/// message from an unrestricted ring fills the one free slot.
#[test]
fn a_restricted_ring_keeps_every_slot_and_still_receives_files() {
    let _watch = watchdog();
    let mut sender = Ring::new(4).unwrap();
    if !require_op::<MsgRingFd<'static>>(&sender) {
        return;
    }
    let mut ring = Ring::builder().r_disabled().build(8).unwrap();
    let kept = uring_tests::file_of(b"kept");
    let mut table = ring
        .register_file_slots(&[Some(kept.as_fd()), None])
        .unwrap();
    ring.register_restrictions(&[
        Restriction::op::<Read<'static>>(),
        Restriction::op::<Nop>(),
        Restriction::sqe_flags_allowed(sys::IOSQE_FIXED_FILE),
    ])
    .unwrap();
    ring.enable().unwrap();
    let new = uring_tests::file_of(b"new!");
    let e = ring
        .update_files(&mut table, 0, &[Some(new.as_fd())])
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EACCES), "{e}");
    let e = ring.set_file_alloc_range(&table, 0, 1).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EACCES), "{e}");
    let refused = ring.unregister_files(table).unwrap_err();
    assert_eq!(refused.error.raw_os_error(), Some(libc::EACCES));
    let table = refused.handle;
    assert_eq!(read_slot(&mut ring, &table, 0), Ok(b"kept".to_vec()));
    assert_eq!(read_slot(&mut ring, &table, 1), Err(libc::EBADF));

    // An op the restrictions do not allow is refused, and passes nothing.
    let peer = Ring::new(4).unwrap();
    let cqe = complete(
        &mut ring,
        MsgRingFd::new(RingSlot::alloc(&peer), table.get(0).unwrap(), 5),
    );
    assert_eq!(cqe.res(), -libc::EACCES, "{cqe:?}");

    let sent = uring_tests::file_of(b"sent");
    let source = sender.register_files(&[sent.as_fd()]).unwrap();
    let cqe = complete(
        &mut sender,
        MsgRingFd::new(RingSlot::alloc(&ring), source.get(0).unwrap(), 0x81),
    );
    assert_eq!(cqe.res(), 1, "{cqe:?}");
    assert_eq!(arrived(&mut ring), [(0x81, 1)]);
    assert_eq!(read_slot(&mut ring, &table, 1), Ok(b"sent".to_vec()));
    assert_eq!(read_slot(&mut ring, &table, 0), Ok(b"kept".to_vec()));
}

/// `net.c`: a multishot accept into direct descriptors (`io_accept` with
/// `IORING_FILE_INDEX_ALLOC`) accepts the connection first (`do_accept`)
/// and installs it after (`io_fixed_fd_install`), posting each slot with
/// `IORING_CQE_F_MORE`; when no slot of the range is free the install
/// fails, the accepted file is put, and the op ends with `ENFILE` and no
/// `F_MORE`. The scope holds the multishot accept until that last
/// completion; the slot held outside the range keeps its file, the empty
/// slot past it stays empty, the refused connection is closed (its peer
/// reads end of file), and the accepted ones live in their slots until
/// the table is unregistered.
#[test]
fn a_multishot_direct_accept_ends_at_a_full_range_replacing_nothing() {
    let _watch = watchdog();
    let mut ring = Ring::new(16).unwrap();
    if !require_kernel(5, 19, "multishot accept") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let kept = uring_tests::file_of(b"kept");
    let table = ring
        .register_file_slots(&[Some(kept.as_fd()), None, None, None])
        .unwrap();
    ring.set_file_alloc_range(&table, 1, 2).unwrap();
    let clients: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let (got, left) = ring.scope(|s| {
        s.push(
            Accept::new(&listener)
                .iou_flags(AcceptFlags::MULTISHOT)
                .direct(DirectSlot::ALLOC)
                .user_data(1),
        )
        .unwrap();
        s.submit().unwrap();
        let mut got = Vec::new();
        while got.last().is_none_or(|&(_, more)| more) {
            s.wait_timeout(1, PATIENCE).unwrap();
            for cqe in s.completions() {
                assert_eq!(cqe.user_data(), 1);
                got.push((cqe.res(), cqe.cqe().has_more()));
            }
        }
        (got, s.in_flight())
    });
    assert_eq!(left, 0, "the accept ended: {got:?}");
    let mut slots: Vec<i32> = got[..got.len() - 1].iter().map(|&(res, _)| res).collect();
    slots.sort_unstable();
    assert_eq!(slots, [1, 2], "{got:?}");
    assert!(got[..2].iter().all(|&(_, more)| more), "{got:?}");
    assert_eq!(got[2], (-libc::ENFILE, false), "{got:?}");
    assert_eq!(read_slot(&mut ring, &table, 0), Ok(b"kept".to_vec()));
    assert_eq!(read_slot(&mut ring, &table, 3), Err(libc::EBADF));
    // Exactly one client was refused: its connection was accepted and put.
    let closed = |client: &TcpStream| {
        let mut client = client;
        client
            .set_read_timeout(Some(std::time::Duration::from_millis(200)))
            .unwrap();
        let mut byte = [0u8; 1];
        match client.read(&mut byte) {
            Ok(0) => true,
            Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => true,
            Ok(_) => panic!("no data was sent"),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
            Err(e) => panic!("{e}"),
        }
    };
    let refused = clients.iter().filter(|c| closed(c)).count();
    assert_eq!(refused, 1, "the connection no slot took is closed");
    ring.unregister_files(table).unwrap();
    let refused = clients.iter().filter(|c| closed(c)).count();
    assert_eq!(refused, 3, "the slots held the others until unregistered");
}

/// `register.c`: `io_register_resize_rings` replaces the SQ and CQ rings
/// and leaves the file table, its bitmap and its allocation range
/// (`file_alloc_start`, `file_alloc_end`) as they were. The library keeps
/// a table's handle (and its ring id) across a resize, so its `Fixed`
/// handles must reach the same files after it, and an allocation must
/// still stay inside the range set before.
#[test]
fn a_resize_keeps_the_file_table_and_its_allocation_range() {
    let _watch = watchdog();
    if !require_kernel(6, 13, "IORING_REGISTER_RESIZE_RINGS") {
        return;
    }
    let built = Ring::builder().single_issuer().defer_taskrun().build(4);
    let Ok(mut ring) = built else {
        return uring_tests::skip("no DEFER_TASKRUN rings (6.1)");
    };
    let zero = uring_tests::file_of(b"zero");
    let table = ring
        .register_file_slots(&[Some(zero.as_fd()), None, None, None])
        .unwrap();
    ring.set_file_alloc_range(&table, 2, 1).unwrap();
    ring.resize(16, 64).unwrap();
    let open = || {
        OpenAt::new(uring::Fd::CWD, c"/dev/zero")
            .open_flags(libc::O_RDONLY)
            .direct(DirectSlot::ALLOC)
    };
    assert_eq!(complete(&mut ring, open()).res(), 2);
    assert_eq!(complete(&mut ring, open()).res(), -libc::ENFILE);
    ring.resize(4, 8).unwrap();
    assert_eq!(read_slot(&mut ring, &table, 0), Ok(b"zero".to_vec()));
    assert_eq!(read_slot(&mut ring, &table, 2), Ok(vec![0; 4]));
    assert_eq!(read_slot(&mut ring, &table, 1), Err(libc::EBADF));
    assert_eq!(read_slot(&mut ring, &table, 3), Err(libc::EBADF));
    ring.unregister_files(table).unwrap();
}

/// `openclose.c` / `filetable.c`: closing a slot (`io_close_fixed`,
/// `io_fixed_fd_remove`) drops that slot's node alone; the file is put
/// when no slot, request or descriptor holds it any more. The library
/// lets the same file sit in several slots (`register_files` of one
/// descriptor twice) and closes one with its `FixedMut`: the other slot
/// must keep reaching the file, and only closing that one too lets the
/// pipe's last reader go (a write fails with `EPIPE`).
#[test]
fn closing_one_of_two_slots_of_a_file_drops_only_that_slot() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    if !require_kernel(5, 15, "closing a fixed slot") {
        return;
    }
    let (rx, tx) = pipe();
    let mut tx = File::from(tx);
    let mut table = ring.register_files(&[rx.as_fd(), rx.as_fd()]).unwrap();
    drop(rx);
    let cqe = complete(&mut ring, Close::new(table.get_mut(0).unwrap()));
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    tx.write_all(b"abcd").unwrap();
    assert_eq!(read_slot(&mut ring, &table, 1), Ok(b"abcd".to_vec()));
    assert_eq!(read_slot(&mut ring, &table, 0), Err(libc::EBADF));
    let cqe = complete(&mut ring, Close::new(table.get_mut(1).unwrap()));
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    let e = tx.write_all(b"gone").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EPIPE), "{e}");
    let cqe = complete(&mut ring, Close::new(table.get_mut(1).unwrap()));
    assert_eq!(cqe.res(), -libc::EBADF, "an empty slot: {cqe:?}");
}

/// `rsrc.c`: a fixed-buffer op finds its buffer with `io_find_buf_node`
/// in its own ring's table; an empty slot, or a ring with no table,
/// gives no node and the op fails with `EFAULT` before it touches memory.
/// A `FixedBuf` is not tied to its ring (a known limit of the library,
/// which leans on the kernel's check), so an index of one ring's sparse
/// table pushed on that ring, or on a ring with no buffers, must write
/// nothing into the bytes the read lends.
#[test]
fn a_buffer_index_of_an_empty_slot_writes_nothing_on_any_ring() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    let table = match ring.register_buffers_sparse(2) {
        Ok(table) => table,
        Err(e) => return uring_tests::skip(format_args!("no sparse buffer tables: {e}")),
    };
    let file = uring_tests::file_of(b"data");
    let mut other = Ring::new(4).unwrap();
    for target in [&mut ring, &mut other] {
        let mut buf = [CANARY; 4];
        let cqe = complete(
            target,
            ReadFixed::new(&file, &mut buf[..], table.get(1).unwrap()),
        );
        assert_eq!(cqe.res(), -libc::EFAULT, "{cqe:?}");
        assert_eq!(buf, [CANARY; 4]);
    }
    ring.unregister_buffers(table).unwrap();
}

/// `filetable.c` / `rsrc.c`: a file message into a slot held by the
/// receiver's tagged registration replaces it (`io_install_fixed_file`,
/// `io_reset_rsrc_node`), and the node it drops posts its tag to the
/// receiver (`io_free_rsrc_node`), from the sender's op. The new node
/// carries no tag. The receiver's scopes must take both completions for
/// foreign ones, each once (the tag is shaped like a scope tag, bit 63
/// set), and a read of the new file in its next scope keeps its buffer
/// until its own completion.
#[test]
fn a_file_message_over_a_tagged_slot_posts_the_tag_once_to_the_receiver() {
    let _watch = watchdog();
    let mut sender = Ring::new(4).unwrap();
    if !require_op::<MsgRingFd<'static>>(&sender)
        || !uring_tests::require_features(&sender, uring::Features::RSRC_TAGS, "resource tags")
    {
        return;
    }
    const TAG: u64 = 1 << 63 | 0x5a5a;
    let (rx, tx) = pipe();
    let mut tx = File::from(tx);
    let source = sender.register_files(&[rx.as_fd()]).unwrap();
    drop(rx);
    let mut receiver = Ring::new(8).unwrap();
    let old = uring_tests::file_of(b"old!");
    let mut table = receiver
        .register_files_tagged(&[(old.as_fd(), TAG)])
        .unwrap();
    let dest = RingSlot::at(&receiver, table.get_mut(0).unwrap()).unwrap();
    let cqe = complete(
        &mut sender,
        MsgRingFd::new(dest, source.get(0).unwrap(), 0x91),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    let mut buf = [CANARY; 8];
    let (foreign, mine) = receiver.scope(|s| {
        assert!(s.tags_every_op());
        s.push(Read::new(table.get(0).unwrap(), &mut buf[..]).user_data(1))
            .unwrap();
        s.submit().unwrap();
        let mut foreign = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(100);
        while std::time::Instant::now() < deadline {
            let _ = s.wait_timeout(1, std::time::Duration::from_millis(20));
            for cqe in s.completions() {
                assert!(
                    !cqe.is_scope_op(),
                    "the read has no data yet: {:?}",
                    cqe.cqe()
                );
                foreign.push((cqe.user_data(), cqe.res()));
            }
        }
        assert_eq!(s.in_flight(), 1, "the read still waits");
        tx.write_all(b"new").unwrap();
        let mine = uring_tests::pairs(&uring_tests::scope_reap(s, 1));
        (foreign, mine)
    });
    let mut foreign = foreign;
    foreign.sort_unstable();
    assert_eq!(foreign, [(0x91, 0), (TAG, 0)], "each once");
    assert_eq!(mine, [(1, 3)]);
    assert_eq!(&buf[..3], b"new");
    assert!(buf[3..].iter().all(|&b| b == CANARY));
    assert_eq!(arrived(&mut receiver), []);
}

/// `filetable.c`: `io_file_bitmap_get` picks any clear bit of the range,
/// whoever holds the slot's `FixedMut`: the library's exclusive handle of
/// an empty slot does not keep an allocation out of it (the kernel knows
/// no handles; SAFETY.md's known limits). A later install at the held
/// slot (`io_install_fixed_file` through `io_reset_rsrc_node`) then
/// replaces the allocated file and puts it. What this checks is that the
/// replacement leaks and keeps nothing: the allocated file is a FIFO's
/// only reader, and once the slot is replaced a write to the FIFO fails
/// with `EPIPE`; the slot reaches the file installed last.
#[test]
fn a_slot_allocated_under_its_exclusive_holder_is_replaced_and_its_file_put() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_kernel(5, 15, "direct descriptors") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let fifo_c =
        std::ffi::CString::new(fifo.clone().into_os_string().into_encoded_bytes()).unwrap();
    // SAFETY: a NUL-terminated path that lives for the call.
    let made = unsafe { libc::mkfifo(fifo_c.as_ptr(), 0o600) };
    assert_eq!(made, 0, "{}", std::io::Error::last_os_error());
    let mut table = ring.register_files_sparse(2).unwrap();
    ring.set_file_alloc_range(&table, 0, 1).unwrap();
    let (allocated, writer, replaced) = ring.scope(|s| {
        let [held] = table.get_many_mut([0]).unwrap();
        s.push(
            OpenAt::new(uring::Fd::CWD, &fifo_c)
                .open_flags(libc::O_RDONLY | libc::O_NONBLOCK)
                .direct(DirectSlot::ALLOC)
                .user_data(1),
        )
        .unwrap();
        let allocated = uring_tests::pairs(&uring_tests::scope_reap(s, 1));
        // The FIFO has a reader now: a writer opens without waiting.
        let writer = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        s.push(
            OpenAt::new(uring::Fd::CWD, c"/dev/zero")
                .open_flags(libc::O_RDONLY)
                .direct(DirectSlot::at(held))
                .user_data(2),
        )
        .unwrap();
        let replaced = uring_tests::pairs(&uring_tests::scope_reap(s, 1));
        (allocated, writer, replaced)
    });
    assert_eq!(allocated, [(1, 0)], "the held slot was the one free slot");
    assert_eq!(replaced, [(2, 0)]);
    let mut writer = writer;
    let e = writer.write_all(b"anyone?").unwrap_err();
    assert_eq!(
        e.raw_os_error(),
        Some(libc::EPIPE),
        "the replaced reader is still held somewhere: {e}"
    );
    assert_eq!(read_slot(&mut ring, &table, 0), Ok(vec![0; 4]));
    assert_eq!(read_slot(&mut ring, &table, 1), Err(libc::EBADF));
}
