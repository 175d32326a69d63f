//! Attacks on the meeting points of registered resources and the ops in
//! flight that use them, from safe code (registering memory is `unsafe`,
//! and done here under its contract): buffers cloned into another ring and
//! read, written and sent there while their source unregisters them,
//! replaces them, resizes or closes; a tagged buffer replaced by a clone
//! under a read pushed raw; a scope unwinding over a fixed read of a
//! clone; a slot's file passed to another ring's free slot and installed
//! as a descriptor while a read of the slot waits; direct pipes past the
//! table; tags of slots whose reads a scope cut, on plain, SQPOLL and
//! deferred-task-work rings, and tag completions that overflow a deferred
//! ring's CQ through a forgotten scope iterator and a resize; buffer rings
//! and registrations of a `single_issuer` ring dropped or used from another
//! thread; an incremental kernel-allocated ring dropped under a multishot
//! receive; one group id registered again in every form; forgotten claims,
//! a forgotten pool and a forgotten reactor receive beside a `Remote`'s; a
//! kernel ring kept alive by its buffer ring after the ring's own memory
//! is gone.
//!
//! Each test asserts what the kernel really did (results, errno values,
//! bytes, completion counts) and the safe outcome: canary bytes unchanged
//! where no op may write, every completion seen once, no panic, no hang.

use std::fs::File;
use std::io::{IoSliceMut, Read as _, Write as _};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use uring::ops::{
    FixedFdInstall, MsgRingFd, Nop, Pipe, Read, ReadFixed, ReadVFixed, Recv, SendZcFixed, Write,
    WriteFixed,
};
use uring::{
    BufferGroup, DirectSlot, Error, Features, PipeSlots, RecvFlags, Ring, RingSlot, SlotUpdate, sys,
};
use uring_tests::net::assert_kernel_bytes;
use uring_tests::{
    PATIENCE, complete, expect_stop, next_scope_cqe, pattern, pipe, plain_buf_ring,
    require_features, require_kernel, require_op, stop, stray, watchdog,
};

/// The bytes no op may write.
const CANARY: u8 = 0xa5;

/// Another canary, for memory a second registration holds.
const CANARY2: u8 = 0x3c;

/// How long a wait that must see nothing lasts.
const QUIET: Duration = Duration::from_millis(30);

/// The kinds of rings the attacks run on.
#[derive(Clone, Copy, Debug)]
enum Setup {
    /// No option.
    Plain,
    /// An SQ thread that idles after 10 ms.
    Sqpoll,
    /// Deferred task work, a single issuer.
    Defer,
}

impl Setup {
    const ALL: [Setup; 3] = [Setup::Plain, Setup::Sqpoll, Setup::Defer];

    /// A ring of this kind with `entries` SQEs, or `None` (with a skip
    /// message) where the process cannot have one.
    fn ring(self, entries: u32) -> Option<Ring> {
        match self {
            Setup::Plain => Some(Ring::new(entries).unwrap()),
            Setup::Sqpoll => {
                let ring = uring_tests::sqpoll_ring(entries);
                if ring.is_none() {
                    uring_tests::skip("no SQPOLL ring for this process");
                }
                ring
            }
            Setup::Defer => uring_tests::defer_ring(entries),
        }
    }
}

/// The first `len` bytes of `file`.
fn contents(file: &File, len: usize) -> Vec<u8> {
    let mut back = vec![0u8; len];
    file.read_exact_at(&mut back, 0).unwrap();
    back
}

/// Asserts that a scope's wait for one completion times out: nothing of
/// the scope has completed.
fn assert_nothing_came(waited: uring::Result<()>) {
    assert!(
        matches!(waited, Err(Error::TimedOut)),
        "a completion came: {waited:?}"
    );
}

/// What a non-blocking read of `stream` finds waiting in it.
fn waiting_in(stream: &mut UnixStream) -> Vec<u8> {
    stream.set_nonblocking(true).unwrap();
    let mut got = vec![0u8; 256];
    let n = match stream.read(&mut got) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
        Err(e) => panic!("read: {e}"),
    };
    stream.set_nonblocking(false).unwrap();
    got.truncate(n);
    got
}

// ---------------------------------------------------------------------
// Registered buffers shared by clones.

/// Buffers cloned into a ring serve a fixed read and a vectored fixed
/// read that ring's scope has in flight while the source ring unregisters
/// them and is closed: when data comes, each lands in the memory of its
/// slot, and nothing else of the memory changes; the clone's slot still
/// serves a fixed write afterwards. On plain, SQPOLL and deferred-task-work
/// rings.
#[test]
fn a_clone_serves_its_reads_in_flight_after_its_source_unregisters_and_closes() {
    let _watch = watchdog();
    if !require_kernel(6, 12, "IORING_REGISTER_CLONE_BUFFERS") {
        return;
    }
    for setup in Setup::ALL {
        // Declared before the rings: freed after both are gone.
        let mut region = vec![CANARY; 8192];
        let mut src = Ring::new(4).unwrap();
        let Some(mut dst) = setup.ring(8) else {
            continue;
        };
        let vectored = dst
            .probe()
            .unwrap()
            .supports::<ReadVFixed<'static, 'static>>();
        let table = {
            let (low, high) = region.split_at_mut(4096);
            // SAFETY: `region` is neither freed nor resized until both
            // rings are dropped, and only the ops below touch it while
            // they run.
            unsafe { src.register_buffers(&[IoSliceMut::new(low), IoSliceMut::new(high)]) }.unwrap()
        };
        // SAFETY: as above: the clone holds the same memory.
        let cloned = unsafe { dst.clone_buffers(&src, &table, 0, 2) }.unwrap();
        let (rx, tx) = pipe();
        let mut tx = File::from(tx);
        let (rxv, txv) = pipe();
        let mut txv = File::from(txv);
        let sent = pattern(64, 3);
        let sent_v = pattern(48, 4);
        let mut source = Some((src, table));
        let (low, high) = region.split_at_mut(4096);
        let (first, rest) = low[100..].split_at_mut(16);
        let mut iovecs = [IoSliceMut::new(first), IoSliceMut::new(&mut rest[200..232])];
        let got = dst.scope(|s| {
            s.push(ReadFixed::new(&rx, &mut high[4..68], cloned.get(1).unwrap()).user_data(1))
                .unwrap();
            if vectored {
                s.push(ReadVFixed::new(&rxv, &mut iovecs[..], cloned.get(0).unwrap()).user_data(2))
                    .unwrap();
            }
            s.submit().unwrap();
            assert_nothing_came(s.wait_timeout(1, QUIET));
            let (mut src, table) = source.take().unwrap();
            src.unregister_buffers(table).unwrap();
            drop(src);
            tx.write_all(&sent).unwrap();
            txv.write_all(&sent_v).unwrap();
            let mut got = Vec::new();
            while s.in_flight() > 0 {
                let cqe = next_scope_cqe(s);
                got.push((cqe.user_data(), cqe.res()));
            }
            got.sort_unstable();
            got
        });
        if vectored {
            assert_eq!(got, [(1, 64), (2, 48)], "{setup:?}");
            assert_kernel_bytes(&region[100..116], &sent_v[..16], "the first iovec");
            assert_kernel_bytes(&region[316..348], &sent_v[16..], "the second iovec");
        } else {
            assert_eq!(got, [(1, 64)], "{setup:?}");
        }
        assert_kernel_bytes(&region[4100..4164], &sent, "the clone's read");
        let written = |i: usize| {
            (4100..4164).contains(&i)
                || vectored && ((100..116).contains(&i) || (316..348).contains(&i))
        };
        assert!(
            region
                .iter()
                .enumerate()
                .all(|(i, &b)| written(i) || b == CANARY),
            "{setup:?}: bytes outside the reads changed"
        );
        region[..32].copy_from_slice(&pattern(32, 9));
        let file = tempfile::tempfile().unwrap();
        let cqe = complete(
            &mut dst,
            WriteFixed::new(&file, &region[..32], cloned.get(0).unwrap()),
        );
        assert_eq!(cqe.res(), 32, "{setup:?}: {cqe:?}");
        assert_eq!(contents(&file, 32), pattern(32, 9));
        dst.unregister_buffers(cloned).unwrap();
        assert!(stray(&mut dst).is_empty(), "{setup:?}");
    }
}

/// A clone's fixed read waits in a scope while its source ring is resized
/// and replaces the source's slot with other memory, then reads through
/// the new slot: the source's read lands in the new memory, a source read
/// aimed at the old memory is refused (`EFAULT`), and the clone's read,
/// when its data comes, lands in the old memory, which it still holds.
/// Each table's handle then unregisters its own ring's table only.
#[test]
fn a_clone_s_read_keeps_the_old_memory_while_its_source_resizes_and_replaces_the_slot() {
    let _watch = watchdog();
    if !require_kernel(6, 13, "resizing a ring with cloned buffers") {
        return;
    }
    let mut first = vec![CANARY; 4096];
    let mut second = vec![CANARY2; 4096];
    let Some(mut src) = uring_tests::resizable_ring(4) else {
        return;
    };
    let mut dst = Ring::new(8).unwrap();
    // SAFETY: `first` and `second` outlive both rings (declared before
    // them); only the ops below touch them while they run.
    let table = unsafe { src.register_buffers(&[IoSliceMut::new(&mut first)]) }.unwrap();
    // SAFETY: as above.
    let cloned = unsafe { dst.clone_buffers(&src, &table, 0, 1) }.unwrap();
    let file = uring_tests::file_of(&pattern(48, 5));
    let (rx, tx) = pipe();
    let mut tx = File::from(tx);
    let sent = pattern(32, 6);
    let (head, tail) = first.split_at_mut(64);
    let got = dst.scope(|s| {
        s.push(ReadFixed::new(&rx, &mut head[8..40], cloned.get(0).unwrap()).user_data(1))
            .unwrap();
        s.submit().unwrap();
        assert_nothing_came(s.wait_timeout(1, QUIET));
        src.resize(8, 64).unwrap();
        // SAFETY: `second` outlives `src`; `first`, which the slot held,
        // stays valid for the clone and for the read in flight.
        let updated =
            unsafe { src.update_buffers(&table, 0, &[Some(IoSliceMut::new(&mut second))]) };
        assert_eq!(updated.unwrap(), 1);
        let cqe = complete(
            &mut src,
            ReadFixed::new(&file, &mut second[..48], table.get(0).unwrap()),
        );
        assert_eq!(cqe.res(), 48, "the source's read through its new slot");
        let cqe = complete(
            &mut src,
            ReadFixed::new(&file, &mut tail[..48], table.get(0).unwrap()),
        );
        assert_eq!(
            cqe.res(),
            -libc::EFAULT,
            "the source's slot no longer holds `first`"
        );
        tx.write_all(&sent).unwrap();
        let cqe = next_scope_cqe(s);
        (cqe.user_data(), cqe.res())
    });
    assert_eq!(got, (1, 32));
    assert_kernel_bytes(&head[8..40], &sent, "the clone's read");
    assert!(head[..8].iter().chain(&head[40..]).all(|&b| b == CANARY));
    assert!(tail.iter().all(|&b| b == CANARY), "the refused read wrote");
    assert_kernel_bytes(&second[..48], &pattern(48, 5), "the source's read");
    assert!(second[48..].iter().all(|&b| b == CANARY2));
    // The clone's slot is still `first`: `second` is no memory of it.
    let cqe = complete(
        &mut dst,
        ReadFixed::new(&file, &mut second[100..140], cloned.get(0).unwrap()),
    );
    assert_eq!(cqe.res(), -libc::EFAULT, "{cqe:?}");
    assert!(second[100..140].iter().all(|&b| b == CANARY2));
    assert!(stray(&mut dst).is_empty());
    assert!(stray(&mut src).is_empty());
    // Each handle names its own ring's table, resized or not.
    let back = dst.unregister_buffers(table).unwrap_err();
    assert!(
        matches!(back.error, Error::InvalidArgument(_)),
        "{:?}",
        back.error
    );
    src.unregister_buffers(back.handle).unwrap();
    dst.unregister_buffers(cloned).unwrap();
}

/// A tagged buffer whose slot a replacing clone takes over while a fixed
/// read pushed raw still uses it: the tag does not come while the read
/// waits (the memory is still the kernel's), the slot serves the new
/// memory at once (and refuses the old, `EFAULT`), and when the read's
/// data comes it lands in the old memory, its completion first and the
/// tag after it, each once.
#[test]
fn a_tagged_buffer_replaced_by_a_clone_under_a_read_posts_its_tag_after_the_read() {
    let _watch = watchdog();
    if !require_kernel(6, 13, "IORING_REGISTER_DST_REPLACE") {
        return;
    }
    const TAG: u64 = 0x7a7a;
    let mut old = vec![CANARY; 4096];
    let mut new = vec![CANARY2; 4096];
    let mut src = Ring::new(4).unwrap();
    let mut dst = Ring::builder().cq_entries(64).build(8).unwrap();
    if !require_features(&dst, Features::RSRC_TAGS, "resource tags") {
        return;
    }
    // SAFETY: `new` outlives both rings; only the ops below touch it.
    let from = unsafe { src.register_buffers(&[IoSliceMut::new(&mut new)]) }.unwrap();
    // SAFETY: `old` outlives `dst`, and stays unused but by the read until
    // its tag has come (checked below).
    let table =
        unsafe { dst.register_buffers_tagged(&[IoSliceMut::new(&mut old)], &[TAG]) }.unwrap();
    let (rx, tx) = pipe();
    let mut tx = File::from(tx);
    let (old_head, old_tail) = old.split_at_mut(64);
    uring_tests::push_lent!(
        dst,
        ReadFixed::new(&rx, &mut old_head[4..36], table.get(0).unwrap()).user_data(5)
    )
    .unwrap();
    dst.submit().unwrap();
    // SAFETY: `new` is valid for as long as `dst` may use it; `old` stays
    // valid until its tag has come.
    let table = unsafe { dst.clone_buffers_replace(table, 0, &src, &from, 0, 1) }.unwrap();
    assert_eq!(
        stray(&mut dst),
        [],
        "the tag came while the read used the buffer"
    );
    let file = uring_tests::file_of(&pattern(40, 6));
    let mine = dst.scope(|s| {
        assert!(s.tags_every_op(), "a ring with tags");
        s.push(ReadFixed::new(&file, &mut new[..40], table.get(0).unwrap()).user_data(6))
            .unwrap();
        s.push(ReadFixed::new(&file, &mut old_tail[..40], table.get(0).unwrap()).user_data(7))
            .unwrap();
        let mut mine = Vec::new();
        while mine.len() < 2 {
            let cqe = next_scope_cqe(s);
            mine.push((cqe.user_data(), cqe.res()));
        }
        mine.sort_unstable();
        mine
    });
    assert_eq!(mine, [(6, 40), (7, -libc::EFAULT)]);
    assert_kernel_bytes(&new[..40], &pattern(40, 6), "the read through the new slot");
    assert!(new[40..].iter().all(|&b| b == CANARY2));
    assert!(
        old_tail.iter().all(|&b| b == CANARY),
        "the refused read wrote"
    );
    let sent = pattern(32, 8);
    tx.write_all(&sent).unwrap();
    assert_eq!(
        uring_tests::drain_until_quiet(&mut dst, 2, QUIET),
        [(5, 32), (TAG, 0)]
    );
    assert_kernel_bytes(&old_head[4..36], &sent, "the read pushed before the clone");
    assert!(
        old_head[..4]
            .iter()
            .chain(&old_head[36..])
            .all(|&b| b == CANARY)
    );
    dst.unregister_buffers(table).unwrap();
    assert_eq!(stray(&mut dst), [], "a clone carries no tag");
}

/// A zero-copy send from a cloned buffer, after the source ring unregistered
/// the buffer and closed: the scope sees the send and its notification,
/// and the peer receives the bytes of the clone's memory.
#[test]
fn a_zero_copy_send_from_a_clone_whose_source_closed_sends_its_memory() {
    let _watch = watchdog();
    if !require_kernel(6, 12, "IORING_REGISTER_CLONE_BUFFERS") {
        return;
    }
    let mut region = pattern(4096, 12);
    let mut dst = Ring::new(8).unwrap();
    if !require_op::<SendZcFixed<'static>>(&dst) {
        return;
    }
    let cloned = {
        let mut src = Ring::new(4).unwrap();
        // SAFETY: `region` outlives both rings and is not written while
        // they hold it.
        let table = unsafe { src.register_buffers(&[IoSliceMut::new(&mut region)]) }.unwrap();
        // SAFETY: as above.
        let cloned = unsafe { dst.clone_buffers(&src, &table, 0, 1) }.unwrap();
        src.unregister_buffers(table).unwrap();
        cloned
    };
    let (client, mut server) = uring_tests::tcp_pair();
    let seen = dst.scope(|s| {
        s.push(SendZcFixed::new(&client, &region[100..612], cloned.get(0).unwrap()).user_data(3))
            .unwrap();
        s.submit().unwrap();
        let mut seen = Vec::new();
        while s.in_flight() > 0 {
            s.wait_timeout(1, PATIENCE).unwrap();
            seen.extend(s.completions().map(|c| (c.user_data(), c.res(), c.flags())));
        }
        seen
    });
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!((seen[0].0, seen[0].1), (3, 512), "{seen:?}");
    assert!(seen[0].2 & sys::IORING_CQE_F_MORE != 0, "{seen:?}");
    assert!(seen[1].2 & sys::IORING_CQE_F_NOTIF != 0, "{seen:?}");
    let mut got = vec![0u8; 512];
    server.read_exact(&mut got).unwrap();
    assert_eq!(got, pattern(4096, 12)[100..612]);
    dst.unregister_buffers(cloned).unwrap();
}

/// A scope whose closure unwinds while a fixed read of a cloned buffer
/// waits (the source gone already): the scope cancels the read and waits
/// for it, so data written afterwards stays in the pipe and the memory
/// keeps its canary; the clone then serves the next scope. On every kind
/// of ring.
#[test]
fn a_scope_unwinding_over_a_fixed_read_of_a_clone_waits_for_it() {
    let _watch = watchdog();
    if !require_kernel(6, 12, "IORING_REGISTER_CLONE_BUFFERS") {
        return;
    }
    for setup in Setup::ALL {
        let mut region = vec![CANARY; 4096];
        let Some(mut dst) = setup.ring(8) else {
            continue;
        };
        let cloned = {
            let mut src = Ring::new(4).unwrap();
            // SAFETY: `region` outlives both rings; only the ops below
            // touch it while they run.
            let table = unsafe { src.register_buffers(&[IoSliceMut::new(&mut region)]) }.unwrap();
            // SAFETY: as above.
            unsafe { dst.clone_buffers(&src, &table, 0, 1) }.unwrap()
        };
        let (rx, tx) = pipe();
        expect_stop(|| {
            dst.scope(|s| {
                s.push(ReadFixed::new(
                    &rx,
                    &mut region[..64],
                    cloned.get(0).unwrap(),
                ))
                .unwrap();
                s.submit().unwrap();
                assert_nothing_came(s.wait_timeout(1, QUIET));
                stop()
            })
        });
        let mut tx = File::from(tx);
        tx.write_all(b"after the scope").unwrap();
        std::thread::sleep(QUIET);
        assert!(region.iter().all(|&b| b == CANARY), "{setup:?}");
        let mut rx = File::from(rx);
        let mut left = [0u8; 15];
        rx.read_exact(&mut left).unwrap();
        assert_eq!(&left, b"after the scope");
        let file = uring_tests::file_of(b"the next scope");
        let cqe = complete(
            &mut dst,
            ReadFixed::new(&file, &mut region[..14], cloned.get(0).unwrap()),
        );
        assert_eq!(cqe.res(), 14, "{setup:?}");
        assert_kernel_bytes(&region[..14], b"the next scope", "the next scope's read");
        assert!(stray(&mut dst).is_empty(), "{setup:?}");
    }
}

// ---------------------------------------------------------------------
// Registered files.

/// Direct pipes that do not fit the table: one into free slots the kernel
/// picks, with one free, fails (`ENFILE`) and leaves that slot free; one
/// at the last slot of a table held whole (the read end's slot is the
/// table's last, the write end's does not exist) fails (`EINVAL`) and
/// leaves the slot given, which the handle held, empty. Every other slot
/// keeps its file (writes through them reach their files), and no
/// descriptor is reported.
#[test]
fn a_direct_pipe_past_the_table_changes_no_other_slot() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Pipe<'static>>(&ring) {
        return;
    }
    // Kernels before the fix of the direct pipe's slots report `[0, 0]`
    // for a pipe at slots 0 and 1, and their error path empties slot 0
    // instead of the slots it filled: what this test checks is the fixed
    // kernel's behaviour.
    {
        let mut scratch = Ring::new(4).unwrap();
        let mut table = scratch.register_files_sparse(2).unwrap();
        let mut fds = [-1; 2];
        let cqe = complete(
            &mut scratch,
            Pipe::new(&mut fds)
                .pipe_flags(0)
                .direct(DirectSlot::at(table.get_mut(0).unwrap())),
        );
        assert_eq!(cqe.res(), 0, "{cqe:?}");
        if fds != [0, 1] {
            return uring_tests::skip(format_args!(
                "this kernel's direct pipe reports the slots {fds:?} for slots 0 and 1: it \
                 predates the fix of its slots"
            ));
        }
    }
    let files: Vec<File> = (0..3).map(|_| tempfile::tempfile().unwrap()).collect();
    let mut table = ring
        .register_file_slots(&[
            Some(files[0].as_fd()),
            Some(files[1].as_fd()),
            None,
            Some(files[2].as_fd()),
        ])
        .unwrap();
    let mut fds = [-1; 2];
    let cqe = complete(
        &mut ring,
        Pipe::new(&mut fds).pipe_flags(0).direct(PipeSlots::ALLOC),
    );
    assert_eq!(cqe.res(), -libc::ENFILE, "{cqe:?}");
    let cqe = complete(
        &mut ring,
        Pipe::new(&mut fds)
            .pipe_flags(0)
            .direct(DirectSlot::at(table.get_mut(3).unwrap())),
    );
    assert_eq!(cqe.res(), -libc::EINVAL, "{cqe:?}");
    for (slot, file) in [(0, &files[0]), (1, &files[1])] {
        let text = format!("slot {slot}");
        let cqe = complete(
            &mut ring,
            Write::new(table.get(slot).unwrap(), text.as_bytes()),
        );
        assert_eq!(cqe.res(), 6, "{cqe:?}");
        assert_eq!(contents(file, 6), text.as_bytes());
    }
    for slot in [2, 3] {
        let cqe = complete(&mut ring, Write::new(table.get(slot).unwrap(), b"x"));
        assert_eq!(cqe.res(), -libc::EBADF, "slot {slot}: {cqe:?}");
    }
    assert_eq!(fds, [-1, -1]);
    assert_eq!(contents(&files[2], 0), b"");
    ring.unregister_files(table).unwrap();
}

/// The file of a slot is passed to a free slot of another ring and
/// installed as a descriptor of the process while a read of the slot
/// waits: the read still gets the first bytes written; the other ring's
/// slot (the one its kernel picked, as the message's result says) and the
/// installed descriptor each read what comes next, after the first table
/// is gone; once both let go, no reference to the pipe's read end is left
/// (a write fails with `EPIPE`).
#[test]
fn a_slot_s_file_passed_and_installed_while_a_read_of_it_waits() {
    let _watch = watchdog();
    let mut a = Ring::new(8).unwrap();
    if !require_op::<MsgRingFd<'static>>(&a) || !require_op::<FixedFdInstall>(&a) {
        return;
    }
    let mut b = Ring::new(8).unwrap();
    let (rx, tx) = pipe();
    let mut tx = File::from(tx);
    let table_a = a.register_files(&[rx.as_fd()]).unwrap();
    drop(rx);
    let mut table_b = b.register_files_sparse(4).unwrap();
    let taken = tempfile::tempfile().unwrap();
    b.update_files(&mut table_b, 0, &[Some(taken.as_fd())])
        .unwrap();
    let mut buf = [CANARY; 16];
    let (read, picked, installed) = a.scope(|s| {
        s.push(Read::new(table_a.get(0).unwrap(), &mut buf[..]).user_data(1))
            .unwrap();
        s.push(MsgRingFd::new(RingSlot::alloc(&b), table_a.get(0).unwrap(), 0x77).user_data(2))
            .unwrap();
        s.push(FixedFdInstall::new(table_a.get(0).unwrap()).user_data(3))
            .unwrap();
        s.submit().unwrap();
        let mut done = Vec::new();
        while done.len() < 2 {
            let cqe = next_scope_cqe(s);
            done.push((cqe.user_data(), cqe.res()));
        }
        done.sort_unstable();
        assert_eq!(s.in_flight(), 1, "the read waits: {done:?}");
        assert_eq!((done[0].0, done[1].0), (2, 3), "{done:?}");
        tx.write_all(b"first!").unwrap();
        let cqe = next_scope_cqe(s);
        ((cqe.user_data(), cqe.res()), done[0].1, done[1].1)
    });
    assert_eq!(read, (1, 6));
    assert_kernel_bytes(&buf[..6], b"first!", "the waiting read");
    assert!(buf[6..].iter().all(|&b| b == CANARY));
    assert!(
        (1..4).contains(&picked),
        "the message's slot {picked} is not one that was free"
    );
    assert!(installed >= 0, "{installed}");
    // SAFETY: the kernel just installed this descriptor for the op, and
    // nothing else owns it.
    let installed = unsafe { OwnedFd::from_raw_fd(installed) };
    assert_eq!(
        uring_tests::drain_until_quiet(&mut b, 1, QUIET),
        [(0x77, picked)]
    );
    a.unregister_files(table_a).unwrap();
    tx.write_all(b"second").unwrap();
    let mut got = [0u8; 6];
    let cqe = complete(
        &mut b,
        Read::new(table_b.get(picked as u32).unwrap(), &mut got[..]),
    );
    assert_eq!(cqe.res(), 6, "{cqe:?}");
    assert_kernel_bytes(&got, b"second", "the other ring's slot");
    tx.write_all(b"third").unwrap();
    let mut installed = File::from(installed);
    let mut got = [0u8; 5];
    installed.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"third");
    // The slot the message did not pick keeps its file.
    let cqe = complete(&mut b, Write::new(table_b.get(0).unwrap(), b"kept"));
    assert_eq!(cqe.res(), 4);
    assert_eq!(contents(&taken, 4), b"kept");
    drop(installed);
    b.unregister_files(table_b).unwrap();
    let e = tx.write_all(b"nobody").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EPIPE), "{e}");
}

/// A tagged slot's read cut by its scope (nothing written, no tag yet),
/// then the slot replaced: the tag comes once, in or after the next scope,
/// which takes it for a foreign completion and settles its own read of
/// the new file once; the new file's tag comes once at unregistration;
/// the bytes written to the old pipe stay there. On plain, SQPOLL and
/// deferred-task-work rings.
#[test]
fn tags_of_a_slot_whose_read_a_scope_cut_come_once_on_every_kind_of_ring() {
    let _watch = watchdog();
    for setup in Setup::ALL {
        let Some(mut ring) = setup.ring(8) else {
            continue;
        };
        if !require_features(&ring, Features::RSRC_TAGS, "resource tags") {
            return;
        }
        let (rx, tx) = pipe();
        let mut tx = File::from(tx);
        let other = uring_tests::file_of(b"other");
        let mut table = ring.register_files_tagged(&[(rx.as_fd(), 0x51)]).unwrap();
        let mut buf = [CANARY; 8];
        let left = ring.scope(|s| {
            assert!(s.tags_every_op());
            s.push(Read::new(table.get(0).unwrap(), &mut buf[..]).user_data(1))
                .unwrap();
            s.submit().unwrap();
            assert_nothing_came(s.wait_timeout(1, QUIET));
            s.in_flight()
        });
        assert_eq!(left, 1, "{setup:?}");
        assert!(buf.iter().all(|&b| b == CANARY), "{setup:?}");
        assert_eq!(stray(&mut ring), [], "{setup:?}: a tag before the update");
        let updated =
            ring.update_file_slots(&mut table, 0, &[SlotUpdate::Tagged(other.as_fd(), 0x52)]);
        assert_eq!(updated.unwrap(), 1);
        let mut got = [CANARY; 8];
        let (mine, mut foreign) = ring.scope(|s| {
            s.push(Read::new(table.get(0).unwrap(), &mut got[..]).user_data(2))
                .unwrap();
            s.submit().unwrap();
            let mut mine = Vec::new();
            let mut foreign = Vec::new();
            while s.in_flight() > 0 {
                s.wait_timeout(1, PATIENCE).unwrap();
                for cqe in s.completions() {
                    let pair = (cqe.user_data(), cqe.res());
                    if cqe.is_scope_op() {
                        mine.push(pair);
                    } else {
                        foreign.push(pair);
                    }
                }
            }
            (mine, foreign)
        });
        assert_eq!(mine, [(2, 5)], "{setup:?}");
        assert_kernel_bytes(&got[..5], b"other", "the read of the new file");
        foreign.extend(uring_tests::drain_until_quiet(
            &mut ring,
            1 - foreign.len().min(1),
            QUIET,
        ));
        assert_eq!(foreign, [(0x51, 0)], "{setup:?}");
        ring.unregister_files(table).unwrap();
        assert_eq!(
            uring_tests::drain_until_quiet(&mut ring, 1, QUIET),
            [(0x52, 0)],
            "{setup:?}"
        );
        tx.write_all(b"late").unwrap();
        let mut rx = File::from(rx);
        let mut late = [0u8; 4];
        rx.read_exact(&mut late).unwrap();
        assert_eq!(&late, b"late");
        assert!(buf.iter().all(|&b| b == CANARY), "{setup:?}");
    }
}

/// Twenty tag completions overflow the four-entry CQ of a
/// deferred-task-work ring; a scope's two NOPs complete behind them. The
/// scope reads some completions through an iterator it then forgets, and
/// the rest as usual; a resize follows. Every tag comes out once, in or
/// after the scope, and each NOP once, as the scope's.
#[test]
fn tag_completions_overflowing_a_deferred_ring_pass_a_forgotten_iterator_and_a_resize_once() {
    let _watch = watchdog();
    for forgotten_after in [0, 1, 3, 6] {
        let Some(mut ring) = uring_tests::resizable_ring(2) else {
            return;
        };
        if !require_features(&ring, Features::RSRC_TAGS, "resource tags") {
            return;
        }
        assert_eq!(ring.cq_entries(), 4);
        let files: Vec<File> = (0..20).map(|_| tempfile::tempfile().unwrap()).collect();
        let tagged: Vec<_> = files
            .iter()
            .zip(100..)
            .map(|(f, tag)| (f.as_fd(), tag))
            .collect();
        let table = ring.register_files_tagged(&tagged).unwrap();
        ring.unregister_files(table).unwrap();
        let mut mine = Vec::new();
        let mut foreign = Vec::new();
        let mut sort = |cqe: &uring::ScopeCqe<'_>| {
            if cqe.is_scope_op() {
                mine.push(cqe.user_data());
            } else {
                foreign.push(cqe.user_data());
            }
        };
        ring.scope(|s| {
            for i in 0..2 {
                s.push(Nop::new().user_data(i)).unwrap();
            }
            s.submit().unwrap();
            let mut it = s.completions();
            for _ in 0..forgotten_after {
                if let Some(cqe) = it.next() {
                    sort(&cqe);
                }
            }
            std::mem::forget(it);
            while s.in_flight() > 0 {
                s.wait_timeout(1, PATIENCE).unwrap();
                s.completions().for_each(|cqe| sort(&cqe));
            }
        });
        ring.resize(4, 64).unwrap();
        foreign.extend(
            uring_tests::drain_until_quiet(&mut ring, 0, QUIET)
                .into_iter()
                .map(|(ud, res)| {
                    assert_eq!(res, 0);
                    ud
                }),
        );
        mine.sort_unstable();
        foreign.sort_unstable();
        assert_eq!(mine, [0, 1], "forgotten after {forgotten_after}");
        assert_eq!(
            foreign,
            (100..120).collect::<Vec<u64>>(),
            "forgotten after {forgotten_after}"
        );
    }
}

// ---------------------------------------------------------------------
// Threads.

/// Buffer rings of a `single_issuer` ring dropped on another thread: the
/// kernel refuses their unregistration from there (`EEXIST`, reported by
/// `RawBufRing::unregister`), so their groups stay registered and cannot be
/// registered again; receives that select from them find the buffers'
/// addresses reserved and fail with `EFAULT` (writing no memory allocated
/// since, leaving the bytes in the socket), or, in the raw ring that never
/// had a buffer, `ENOBUFS`. A reactor then made of the ring cannot take
/// the group (an error, not a panic) and serves a group of its own.
#[test]
fn buffer_rings_of_a_single_issuer_ring_dropped_on_another_thread_fault_instead_of_writing() {
    use uring::reactor::ops::RecvRing;
    use uring::reactor::{Reactor, SharedFd};
    let _watch = watchdog();
    let Some(mut ring) = uring_tests::defer_ring(8) else {
        return;
    };
    let Some(pool) = plain_buf_ring(&mut ring, 9, 2, 64) else {
        return;
    };
    let Some(kernel_allocated) = uring_tests::mmap_buf_ring(&mut ring, 10, 2, 64, false) else {
        return;
    };
    let raw = ring.register_buf_ring_raw(BufferGroup::new(11), 4).unwrap();
    let (mut tx, mut rx) = UnixStream::pair().unwrap();
    for (group, pool) in [(9, &pool), (10, &kernel_allocated)] {
        tx.write_all(b"before").unwrap();
        let got = ring.scope(|s| {
            s.push(Recv::new(&rx, pool.select()).user_data(group))
                .unwrap();
            let mut cqe = next_scope_cqe(s);
            pool.claim(&mut cqe).unwrap().to_vec()
        });
        assert_kernel_bytes(&got, b"before", "a receive before the drop");
    }
    let unregistered = std::thread::spawn(move || {
        drop(pool);
        drop(kernel_allocated);
        raw.unregister()
    })
    .join()
    .expect("the buffer rings drop on another thread");
    match unregistered {
        Err(Error::Os { source, .. }) => assert_eq!(source.raw_os_error(), Some(libc::EEXIST)),
        other => panic!("the raw ring's unregistration from another thread: {other:?}"),
    }
    let fresh: Vec<Vec<u8>> = (0..64).map(|_| vec![0x5a; 4096]).collect();
    for (group, errno) in [(9, libc::EFAULT), (10, libc::EFAULT), (11, libc::ENOBUFS)] {
        assert!(
            ring.buf_ring_head(BufferGroup::new(group)).is_ok(),
            "group {group} is still registered"
        );
        let again = ring.register_buf_ring(BufferGroup::new(group), 2, 64);
        assert_eq!(
            again.as_ref().err().and_then(Error::raw_os_error),
            Some(libc::EEXIST),
            "group {group}: {again:?}"
        );
        tx.write_all(b"after").unwrap();
        let cqe = complete(
            &mut ring,
            Recv::new(&rx, BufferGroup::new(group).select(64)),
        );
        assert_eq!(cqe.res(), -errno, "group {group}: {cqe:?}");
        assert_eq!(waiting_in(&mut rx), b"after", "group {group}");
    }
    assert!(fresh.iter().all(|v| v.iter().all(|&b| b == 0x5a)));
    let reactor = Reactor::from_ring(ring).unwrap();
    let taken = reactor.register_buf_ring(BufferGroup::new(9), 2, 64);
    assert_eq!(
        taken.as_ref().err().and_then(std::io::Error::raw_os_error),
        Some(libc::EEXIST),
        "{:?}",
        taken.as_ref().err()
    );
    let own = reactor
        .register_buf_ring(BufferGroup::new(12), 2, 64)
        .unwrap();
    let fd = SharedFd::new(rx);
    tx.write_all(b"reactor").unwrap();
    let (r, buf) = reactor
        .run_until(reactor.op(RecvRing::new(&fd, own)))
        .unwrap();
    assert_eq!(r.unwrap(), 7);
    assert_kernel_bytes(&buf.unwrap(), b"reactor", "the reactor's own group");
    assert_eq!(reactor.in_flight(), 0);
}

/// A `single_issuer` ring moved to another thread with its file table:
/// the kernel refuses register calls from there (`EEXIST`), and the
/// refused unregistration hands the table's handle back whole; a scope
/// there pushes a receive on an incremental group, which the kernel never
/// takes (its submit fails), and the scope takes it back. Back on its
/// thread, the slot still reads its file, the update goes through, a scope
/// receives into the incremental group without being refused as busy, and
/// the table is unregistered.
#[test]
fn registrations_of_a_single_issuer_ring_on_another_thread_are_refused_and_come_back_whole() {
    let _watch = watchdog();
    let Some(mut ring) = uring_tests::defer_ring(8) else {
        return;
    };
    let first = uring_tests::file_of(b"first");
    let second = uring_tests::file_of(b"second");
    let table = ring.register_files(&[first.as_fd()]).unwrap();
    let Some(pool) = uring_tests::incremental_buf_ring(&mut ring, 13, 2, 32) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let second_fd = second.as_fd();
    let select = pool.select();
    let (mut ring, mut table) = std::thread::scope(|t| {
        t.spawn(|| {
            let (mut ring, mut table) = (ring, table);
            let refused = ring.update_files(&mut table, 0, &[Some(second_fd)]);
            assert_eq!(
                refused.err().and_then(|e| e.raw_os_error()),
                Some(libc::EEXIST)
            );
            let back = ring.unregister_files(table).unwrap_err();
            assert_eq!(back.error.raw_os_error(), Some(libc::EEXIST));
            let refused = ring.register_buf_ring(BufferGroup::new(14), 2, 32);
            assert_eq!(
                refused.err().and_then(|e| e.raw_os_error()),
                Some(libc::EEXIST)
            );
            let submitted = ring.scope(|s| {
                s.push(Recv::new(&rx, select).user_data(1)).unwrap();
                s.submit()
            });
            assert_eq!(
                submitted.err().and_then(|e| e.raw_os_error()),
                Some(libc::EEXIST)
            );
            (ring, back.handle)
        })
        .join()
        .expect("the ring's thread")
    });
    let mut buf = [CANARY; 8];
    let cqe = complete(&mut ring, Read::new(table.get(0).unwrap(), &mut buf[..]));
    assert_eq!(cqe.res(), 5, "{cqe:?}");
    assert_kernel_bytes(&buf[..5], b"first", "the slot after the thread");
    assert_eq!(
        ring.update_files(&mut table, 0, &[Some(second.as_fd())])
            .unwrap(),
        1
    );
    let cqe = complete(&mut ring, Read::new(table.get(0).unwrap(), &mut buf[..]));
    assert_eq!(cqe.res(), 6, "{cqe:?}");
    assert_kernel_bytes(&buf[..6], b"second", "the updated slot");
    tx.write_all(b"inc").unwrap();
    let got = ring.scope(|s| {
        s.push(Recv::new(&rx, pool.select()).user_data(2)).unwrap();
        let mut cqe = next_scope_cqe(s);
        assert_eq!(cqe.res(), 3, "refused as busy? {:?}", cqe.cqe());
        pool.claim(&mut cqe).unwrap().to_vec()
    });
    assert_kernel_bytes(&got, b"inc", "the incremental group's receive");
    ring.unregister_files(table).unwrap();
    assert!(stray(&mut ring).is_empty());
}

// ---------------------------------------------------------------------
// Buffer rings.

/// An incremental ring whose descriptors the kernel allocated, dropped
/// inside a scope while a multishot receive streams through it (its first
/// piece claimed and given back before): the receive ends with `ENOBUFS`
/// and no `IORING_CQE_F_MORE` when more data comes, the data stays in the
/// socket, and the scope ends with nothing in flight. On every kind of
/// ring.
#[test]
fn an_incremental_kernel_allocated_ring_dropped_under_a_multishot_receive_ends_it() {
    let _watch = watchdog();
    for setup in Setup::ALL {
        let Some(mut ring) = setup.ring(8) else {
            continue;
        };
        let Some(pool) = uring_tests::mmap_buf_ring(&mut ring, 15, 2, 64, true) else {
            return;
        };
        let (mut tx, mut rx) = UnixStream::pair().unwrap();
        let mut pool = Some(pool);
        let select = pool.as_ref().unwrap().select();
        let (first, last) = ring.scope(|s| {
            s.push(
                Recv::new(&rx, select)
                    .recv_flags(RecvFlags::MULTISHOT)
                    .user_data(1),
            )
            .unwrap();
            s.submit().unwrap();
            tx.write_all(b"first").unwrap();
            let mut cqe = next_scope_cqe(s);
            assert!(cqe.flags() & sys::IORING_CQE_F_MORE != 0, "{:?}", cqe.cqe());
            let first = pool.as_ref().unwrap().claim(&mut cqe).unwrap().to_vec();
            drop(pool.take());
            tx.write_all(b"second").unwrap();
            let cqe = next_scope_cqe(s);
            (
                first,
                (
                    cqe.res(),
                    cqe.flags() & sys::IORING_CQE_F_MORE,
                    s.in_flight(),
                ),
            )
        });
        assert_kernel_bytes(&first, b"first", "the first piece");
        assert_eq!(last, (-libc::ENOBUFS, 0, 0), "{setup:?}");
        assert_eq!(waiting_in(&mut rx), b"second", "{setup:?}");
        assert!(stray(&mut ring).is_empty(), "{setup:?}");
    }
}

/// One group id registered, dropped and registered again in every form
/// (incremental or not, descriptors of the program's or the kernel's,
/// buffers of the library's or the program's): in each scope, two
/// receives pushed at once on the group both run on a plain ring, while on
/// an incremental one the second completes with `EBUSY` without running
/// (its bytes stay in the socket). The scope's notion of the group follows
/// every registration.
#[test]
fn one_group_registered_again_in_every_form_keeps_the_scope_s_one_op_rule() {
    let _watch = watchdog();
    if !require_kernel(6, 12, "incremental buffer rings") {
        return;
    }
    const GROUP: u16 = 16;
    // The raw rings' buffers: declared before the ring, so alive until the
    // group is gone with it.
    let mut backing = vec![0u8; 4 * 64];
    let mut ring = Ring::new(8).unwrap();
    enum Form {
        Pool(uring::BufRing),
        Raw(uring::RawBufRing),
    }
    let group = BufferGroup::new(GROUP);
    let forms: [(&str, bool); 7] = [
        ("incremental", true),
        ("raw plain", false),
        ("raw incremental kernel-allocated", true),
        ("plain kernel-allocated", false),
        ("incremental kernel-allocated", true),
        ("raw incremental", true),
        ("plain", false),
    ];
    for (i, (name, incremental)) in forms.into_iter().enumerate() {
        let form = match name {
            "incremental" => Form::Pool(ring.register_buf_ring_incremental(group, 2, 64).unwrap()),
            "plain" => Form::Pool(ring.register_buf_ring(group, 2, 64).unwrap()),
            "plain kernel-allocated" => {
                Form::Pool(ring.register_buf_ring_mmap(group, 2, 64).unwrap())
            }
            "incremental kernel-allocated" => Form::Pool(
                ring.register_buf_ring_incremental_mmap(group, 2, 64)
                    .unwrap(),
            ),
            "raw plain" => Form::Raw(ring.register_buf_ring_raw(group, 4).unwrap()),
            "raw incremental" => {
                Form::Raw(ring.register_buf_ring_raw_incremental(group, 4).unwrap())
            }
            "raw incremental kernel-allocated" => Form::Raw(
                ring.register_buf_ring_raw_incremental_mmap(group, 4)
                    .unwrap(),
            ),
            _ => unreachable!(),
        };
        let form = match form {
            Form::Raw(mut raw) => {
                for (bid, chunk) in backing.chunks_mut(64).enumerate().take(2) {
                    // SAFETY: `backing` outlives the ring, and is not read
                    // or written by the program until the ring is gone.
                    unsafe { raw.add(chunk.as_mut_ptr(), 64, bid as u16) }.unwrap();
                }
                raw.advance();
                Form::Raw(raw)
            }
            pool => pool,
        };
        let (mut tx1, mut rx1) = UnixStream::pair().unwrap();
        let (mut tx2, mut rx2) = UnixStream::pair().unwrap();
        let one = format!("one {i}");
        let two = format!("two {i}");
        tx1.write_all(one.as_bytes()).unwrap();
        tx2.write_all(two.as_bytes()).unwrap();
        let select = group.select(0);
        let got = ring.scope(|s| {
            s.push(Recv::new(&rx1, select).user_data(1)).unwrap();
            s.push(Recv::new(&rx2, select).user_data(2)).unwrap();
            s.submit().unwrap();
            let mut got = Vec::new();
            while s.in_flight() > 0 {
                s.wait_timeout(1, PATIENCE).unwrap();
                for mut cqe in s.completions() {
                    let bytes = match &form {
                        Form::Pool(pool) if cqe.res() > 0 => pool.claim(&mut cqe).unwrap().to_vec(),
                        _ => Vec::new(),
                    };
                    got.push((cqe.user_data(), cqe.res(), bytes));
                }
            }
            got.sort();
            got
        });
        let n = one.len() as i32;
        if incremental {
            assert_eq!(
                got.iter().map(|g| (g.0, g.1)).collect::<Vec<_>>(),
                [(1, n), (2, -libc::EBUSY)],
                "{name}"
            );
            assert_eq!(waiting_in(&mut rx2), two.as_bytes(), "{name}");
        } else {
            assert_eq!(
                got.iter().map(|g| (g.0, g.1)).collect::<Vec<_>>(),
                [(1, n), (2, n)],
                "{name}"
            );
        }
        if let Form::Pool(_) = form {
            assert_kernel_bytes(&got[0].2, one.as_bytes(), name);
        }
        assert_eq!(waiting_in(&mut rx1), b"", "{name}");
        drop(form);
    }
    drop(ring);
    drop(backing);
}

/// A claimed buffer forgotten, and later its pool: the forgotten buffer
/// never goes back to the kernel (the receives after it all get the other
/// buffer); the forgotten pool leaves its group registered, with memory
/// the kernel may still fill (leaked, never freed): a receive takes the
/// one buffer left in the ring, the next finds none (`ENOBUFS`), and the
/// group cannot be registered again (`EEXIST`).
#[test]
fn a_forgotten_claim_and_a_forgotten_pool_keep_their_buffers_from_everyone_else() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 17, 2, 32) else {
        return;
    };
    let (mut tx, mut rx) = UnixStream::pair().unwrap();
    /// Receives `text` from `rx` into a buffer of group 17 in a scope of
    /// `ring`, claimed from `pool` when there is one.
    fn receive<'p>(
        ring: &mut Ring,
        (tx, rx): (&mut UnixStream, &UnixStream),
        pool: Option<&'p uring::BufRing>,
        text: &[u8],
    ) -> (i32, Option<u16>, Option<uring::Buf<'p>>) {
        tx.write_all(text).unwrap();
        ring.scope(|s| {
            s.push(Recv::new(rx, BufferGroup::new(17).select(32)).user_data(1))
                .unwrap();
            let mut cqe = next_scope_cqe(s);
            let (res, bid) = (cqe.res(), cqe.buffer_id());
            match pool {
                Some(pool) if res > 0 => {
                    let buf = pool.claim(&mut cqe).unwrap();
                    assert_kernel_bytes(&buf, text, "a claim");
                    (res, bid, Some(buf))
                }
                _ => (res, bid, None),
            }
        })
    }
    let (res, forgotten, buf) = receive(&mut ring, (&mut tx, &rx), Some(&pool), b"forgotten");
    assert_eq!(res, 9);
    std::mem::forget(buf.unwrap());
    assert_eq!(pool.lent(), 1);
    let mut others = Vec::new();
    for i in 0..3 {
        let text = format!("round {i}");
        let (res, bid, buf) = receive(&mut ring, (&mut tx, &rx), Some(&pool), text.as_bytes());
        assert_eq!(res, 7);
        others.push(bid);
        drop(buf);
    }
    assert!(
        others.iter().all(|&bid| bid.is_some() && bid != forgotten),
        "the forgotten buffer {forgotten:?} was handed out again: {others:?}"
    );
    std::mem::forget(pool);
    let (res, bid, _) = receive(&mut ring, (&mut tx, &rx), None, b"leaked");
    assert_eq!((res, bid), (6, others[0]));
    let (res, _, _) = receive(&mut ring, (&mut tx, &rx), None, b"dry");
    assert_eq!(res, -libc::ENOBUFS);
    assert_eq!(waiting_in(&mut rx), b"dry");
    let again = ring.register_buf_ring(BufferGroup::new(17), 2, 32);
    assert_eq!(
        again.as_ref().err().and_then(Error::raw_os_error),
        Some(libc::EEXIST),
        "{again:?}"
    );
}

/// A reactor's group of one buffer, and a receive future forgotten while
/// it waits: its completion claims the buffer for the leaked future, which
/// could still be polled, so the buffer never goes back: a receive that a
/// `Remote` queues from another thread on the same group finds it dry
/// (`ENOBUFS`). A group the remote's
/// closure registers on the reactor's thread serves the next receive
/// with the bytes sent.
#[test]
fn a_forgotten_receive_keeps_its_buffer_from_a_remote_s_receive() {
    use std::sync::mpsc;
    use uring::reactor::ops::RecvRing;
    use uring::reactor::{Reactor, SharedFd};
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let group = reactor
        .register_buf_ring(BufferGroup::new(18), 1, 64)
        .unwrap();
    let (mine, mut peer) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(mine);
    let mut future = reactor.op(RecvRing::new(&fd, group));
    assert!(uring_tests::poll_once(&mut future).is_pending());
    std::mem::forget(future);
    reactor.submit().unwrap();
    peer.write_all(b"orphaned").unwrap();
    let end = Instant::now() + PATIENCE;
    while reactor.in_flight() > 0 {
        assert!(
            Instant::now() < end,
            "the forgotten receive never completed"
        );
        uring_tests::run_for(&reactor, 1);
    }
    type Got = (Result<u32, Option<i32>>, Option<Vec<u8>>);
    let (sent, got) = mpsc::channel::<Got>();
    let remote = reactor.remote();
    let (theirs, mut their_peer) = UnixStream::pair().unwrap();
    let (again, mut again_peer) = UnixStream::pair().unwrap();
    std::thread::spawn(move || {
        let sent_too = sent.clone();
        remote
            .execute(move |h| {
                let fd = SharedFd::new(theirs);
                h.queue(RecvRing::new(&fd, group), move |r, buf| {
                    let r = r.map_err(|e| e.raw_os_error());
                    sent.send((r, buf.map(|b| b.to_vec()))).unwrap();
                })
                .unwrap();
            })
            .unwrap();
        remote
            .execute(move |h| {
                let own = h.register_buf_ring(BufferGroup::new(19), 1, 64).unwrap();
                let fd = SharedFd::new(again);
                h.queue(RecvRing::new(&fd, own), move |r, buf| {
                    let r = r.map_err(|e| e.raw_os_error());
                    sent_too.send((r, buf.map(|b| b.to_vec()))).unwrap();
                })
                .unwrap();
            })
            .unwrap();
    })
    .join()
    .expect("the remote's thread");
    their_peer.write_all(b"remote").unwrap();
    again_peer.write_all(b"own group").unwrap();
    let mut results = Vec::new();
    let end = Instant::now() + PATIENCE;
    while results.len() < 2 {
        assert!(
            Instant::now() < end,
            "the remote's receives never completed"
        );
        uring_tests::run_for(&reactor, 1);
        results.extend(got.try_iter());
    }
    let dry = results
        .iter()
        .find(|r| r.0.is_err())
        .expect("a dry receive");
    assert_eq!(dry, &(Err(Some(libc::ENOBUFS)), None));
    let filled = results.iter().find(|r| r.0.is_ok()).expect("a receive");
    assert_eq!(filled.0, Ok(9));
    assert_kernel_bytes(
        filled.1.as_deref().unwrap(),
        b"own group",
        "the remote's group",
    );
    assert_eq!(reactor.in_flight(), 0);
}

// ---------------------------------------------------------------------
// Memory the library owns for a ring, after the ring.

/// How many bytes of `region` are not zero.
fn nonzero_bytes(region: &uring::RingRegion) -> usize {
    // SAFETY: the region is mapped, readable and this test's own until it
    // drops; nothing else writes it meanwhile (which is what is checked).
    let bytes = unsafe { std::slice::from_raw_parts(region.as_ptr(), region.len()) };
    bytes.iter().filter(|&&b| b != 0).count()
}

/// A ring in memory the library maps (a `RingRegion`), with a tagged file
/// table and a buffer ring, dropped with a timeout in flight and a claim
/// held: the buffer ring's duplicate descriptor keeps the kernel ring
/// alive, the timeout fires into it, and the tags are posted when the
/// buffer ring lets the kernel ring go. None of it reaches the region's
/// addresses, mapped again by the program right after the drop; the held
/// claim keeps its bytes. On a plain ring and an SQPOLL ring, whose thread
/// also takes a NOP published after the drop.
#[test]
fn a_kernel_ring_kept_by_its_buffer_ring_writes_nothing_into_the_dropped_ring_s_region() {
    use uring::ops::Timeout;
    let _watch = watchdog();
    if !require_kernel(6, 5, "IORING_SETUP_NO_MMAP") {
        return;
    }
    let mut reused = 0;
    for (round, sqpoll) in [false, true, false, true].into_iter().enumerate() {
        if sqpoll && !uring_tests::require_sqpoll() {
            continue;
        }
        let builder = if sqpoll {
            Ring::builder().sqpoll(Duration::from_millis(10))
        } else {
            Ring::builder()
        };
        let size = builder.ring_memory_size(8).unwrap();
        let region = uring::RingRegion::anonymous(size).unwrap();
        let base = region.as_ptr() as usize;
        let mut ring = builder.build_in(8, region).unwrap();
        if !require_features(&ring, Features::RSRC_TAGS, "resource tags") {
            return;
        }
        let files: Vec<File> = (0..8).map(|_| tempfile::tempfile().unwrap()).collect();
        let tagged: Vec<_> = files
            .iter()
            .zip(0x7000..)
            .map(|(f, tag)| (f.as_fd(), tag))
            .collect();
        // The handle goes; the table stays with the kernel ring.
        let _ = ring.register_files_tagged(&tagged).unwrap();
        let Some(pool) = plain_buf_ring(&mut ring, 21, 2, 64) else {
            return;
        };
        let (mut tx, rx) = UnixStream::pair().unwrap();
        tx.write_all(b"held past the ring").unwrap();
        let held = ring.scope(|s| {
            s.push(Recv::new(&rx, pool.select()).user_data(1)).unwrap();
            let mut cqe = next_scope_cqe(s);
            pool.claim(&mut cqe).unwrap()
        });
        ring.push(Timeout::new(Duration::from_millis(20)).user_data(2))
            .unwrap();
        ring.submit().unwrap();
        if sqpoll {
            ring.push(Nop::new().user_data(3)).unwrap();
        }
        drop(ring);
        let again = uring::RingRegion::anonymous(size).unwrap();
        reused += usize::from(again.as_ptr() as usize == base);
        std::thread::sleep(Duration::from_millis(50));
        assert_kernel_bytes(&held, b"held past the ring", "the claim held past the ring");
        drop(held);
        drop(pool);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            nonzero_bytes(&again),
            0,
            "round {round} (SQPOLL {sqpoll}): the kernel wrote into memory mapped anew"
        );
    }
    eprintln!("the dropped region's addresses were mapped again in {reused} of 4 rounds");
}
