//! Parity of uring with liburing's public API (`src/include/liburing.h`
//! and `src/register.c` of axboe/liburing at 27255f4), seen from a C
//! program being ported: for the liburing calls whose uring counterpart
//! the other suites leave unexercised in the way liburing's callers use
//! them, each test makes the counterpart's call and checks against the
//! kernel what the liburing call returns:
//! - `io_uring_register_files_update`, which returns how many slots the
//!   kernel went through: the kernel stops at a file it refuses (an
//!   io_uring descriptor), having emptied that slot, and reports the
//!   slots before it (skipped ones included), leaving the ones after it as
//!   they were; with tags (`io_uring_register_files_update_tag`), the
//!   emptied slot's old tag is posted once and the refused file's never;
//! - `io_uring_register_files` with such a file: the whole registration
//!   fails with `EBADF`, and no table is left behind;
//! - `io_uring_prep_files_update`, by slot and with
//!   `IORING_FILE_INDEX_ALLOC` inside a range set by
//!   `io_uring_register_file_alloc_range`: the completion counts what was
//!   installed before the refused file, and the slots the kernel picked are
//!   written back in place of the descriptors, the rest left as given;
//! - `io_uring_prep_recv` with `IORING_RECVSEND_BUNDLE`, its buffers walked
//!   outside any scope from the completion's buffer id on, as a liburing
//!   program walks `io_uring_buf_ring` entries (`claim_bundle_unchecked`,
//!   which no other suite calls);
//! - a bundle's completion handed to `claim_unchecked` (one buffer) on a
//!   plain ring: refused, its buffers left for `claim_bundle_unchecked`;
//! - `io_uring_opcode_supported`, for every opcode value a `u8` holds and
//!   for a user table through `Probe::missing_from`.
//!
//! Read against Linux 6.18: `io_uring/rsrc.c` (`__io_sqe_files_update`,
//! which returns `done ? done : err` and resets a slot before it looks at
//! the new file; `io_sqe_files_register`, which unregisters the table it
//! was building on any failure; `io_files_update` and
//! `io_files_update_with_index_alloc`, which `put_user`s each slot it
//! picked), `io_uring/filetable.c` (`io_install_fixed_file`, which refuses
//! an io_uring file with `-EBADF`; `io_file_bitmap_get`, which searches the
//! allocation range), `io_uring/kbuf.c` (`io_ring_buffers_peek`, which
//! takes a bundle's buffers in ring order), `io_uring/net.c`
//! (`io_recv_buf_select`, `io_bundle_nbufs`) and `io_uring/register.c`
//! (`io_probe`).
//!
//! Every test is safe code against the running kernel, except where a
//! ring's own descriptor has to be lent as a `BorrowedFd` (the `Ring` lends
//! none), and the claims of buffer-ring buffers, which are `unsafe`.

use std::io::Write as _;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;

use uring::ops::{FilesUpdate, Read, Recv};
use uring::{Features, FileUpdates, FilesAt, FixedFiles, RecvFlags, Ring, SlotUpdate};
use uring_tests::{complete, file_of, plain_buf_ring, push_lent, reap_one, skip};

// ---------------------------------------------------------------- helpers

/// What slot `index` of `table` holds, read through the kernel: the first
/// byte of its file (each test's files start with a distinct byte), or the
/// errno of the read (`EBADF` for an empty slot).
fn slot_byte(ring: &mut Ring, table: &FixedFiles, index: u32) -> Result<u8, i32> {
    let mut byte = [0u8; 1];
    let cqe = complete(ring, Read::new(table.get(index).unwrap(), &mut byte[..]));
    match cqe.result() {
        Ok(1) => Ok(byte[0]),
        Ok(n) => panic!("slot {index}: a read of {n} bytes"),
        Err(e) => Err(e.raw_os_error().unwrap()),
    }
}

/// The bytes of every slot of `table` (see [`slot_byte`]).
fn slots(ring: &mut Ring, table: &FixedFiles) -> Vec<Result<u8, i32>> {
    (0..table.len())
        .map(|i| slot_byte(ring, table, i))
        .collect()
}

/// Another ring's descriptor, lent for the length of `f`: the one kind of
/// file the kernel refuses to put in a file table.
fn with_ring_fd<R>(other: &Ring, f: impl FnOnce(BorrowedFd<'_>) -> R) -> R {
    // SAFETY: `other` is borrowed for the whole call, so its descriptor
    // stays open and names the same ring while the `BorrowedFd` lives; the
    // kernel only looks the descriptor up (and refuses it).
    let fd = unsafe { BorrowedFd::borrow_raw(other.as_raw_fd()) };
    f(fd)
}

// ------------------------------------------- io_uring_register_files_update

/// `io_uring_register_files_update(ring, 0, {a, ring_fd, b}, 3)` returns 1:
/// the kernel installed `a`, then, at the io_uring descriptor, had already
/// emptied slot 1 (it resets each slot before it looks at the new file) and
/// stopped, leaving slot 2 as it was. uring's `update_files` must return
/// that count as `Ok(1)`, not turn it into an error nor claim 3, and the
/// table must then read as the kernel left it. A second update that
/// refuses its first file fails with `EBADF` (the kernel's `done ? done :
/// err`), having emptied that slot.
#[test]
fn register_files_update_stops_at_a_ring_descriptor_and_returns_the_count_done() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let other = Ring::new(2).unwrap();
    let (old0, old1, old2) = (file_of(b"0"), file_of(b"1"), file_of(b"2"));
    let (a, b) = (file_of(b"a"), file_of(b"b"));
    let mut table = ring
        .register_files(&[old0.as_fd(), old1.as_fd(), old2.as_fd()])
        .unwrap();
    assert_eq!(slots(&mut ring, &table), [Ok(b'0'), Ok(b'1'), Ok(b'2')]);

    let done = with_ring_fd(&other, |ring_fd| {
        ring.update_files(
            &mut table,
            0,
            &[Some(a.as_fd()), Some(ring_fd), Some(b.as_fd())],
        )
    });
    assert_eq!(done.unwrap(), 1, "liburing returns the slots done");
    assert_eq!(
        slots(&mut ring, &table),
        [Ok(b'a'), Err(libc::EBADF), Ok(b'2')],
        "slot 1 emptied at the refusal, slot 2 untouched"
    );

    let refused = with_ring_fd(&other, |ring_fd| {
        ring.update_files(&mut table, 2, &[Some(ring_fd)])
    });
    assert_eq!(
        refused.unwrap_err().raw_os_error(),
        Some(libc::EBADF),
        "nothing done: the kernel's error"
    );
    assert_eq!(
        slots(&mut ring, &table),
        [Ok(b'a'), Err(libc::EBADF), Err(libc::EBADF)]
    );

    // The table is whole and usable: refill both holes.
    let done = ring
        .update_files(&mut table, 1, &[Some(b.as_fd()), Some(old2.as_fd())])
        .unwrap();
    assert_eq!(done, 2);
    assert_eq!(slots(&mut ring, &table), [Ok(b'a'), Ok(b'b'), Ok(b'2')]);
    ring.unregister_files(table).unwrap();
}

/// `io_uring_register_files_update` with `IORING_REGISTER_FILES_SKIP`
/// entries counts the skipped slots among those done: `{SKIP, ring_fd,
/// b}` returns 1 (`update_file_slots` with `Keep` first), and slot 0 keeps
/// its file. An update whose first entry is refused after a skip still
/// counts the skip.
#[test]
fn register_files_update_counts_skipped_slots_before_a_refusal() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let other = Ring::new(2).unwrap();
    let (old0, old1, old2) = (file_of(b"0"), file_of(b"1"), file_of(b"2"));
    let b = file_of(b"b");
    let mut table = ring
        .register_files(&[old0.as_fd(), old1.as_fd(), old2.as_fd()])
        .unwrap();
    let done = with_ring_fd(&other, |ring_fd| {
        ring.update_file_slots(
            &mut table,
            0,
            &[
                SlotUpdate::Keep,
                SlotUpdate::Set(ring_fd),
                SlotUpdate::Set(b.as_fd()),
            ],
        )
    });
    assert_eq!(done.unwrap(), 1, "the skip is a slot done");
    assert_eq!(
        slots(&mut ring, &table),
        [Ok(b'0'), Err(libc::EBADF), Ok(b'2')]
    );
    let done = with_ring_fd(&other, |ring_fd| {
        ring.update_file_slots(
            &mut table,
            1,
            &[SlotUpdate::Keep, SlotUpdate::Tagged(ring_fd, 0x99)],
        )
    });
    assert_eq!(done.unwrap(), 1);
    assert_eq!(
        slots(&mut ring, &table),
        [Ok(b'0'), Err(libc::EBADF), Err(libc::EBADF)]
    );
    assert_eq!(
        uring_tests::stray(&mut ring),
        [],
        "the refused file's tag is never posted"
    );
    ring.unregister_files(table).unwrap();
}

/// `io_uring_register_files_update_tag` that the kernel refuses: the slot's
/// old file, registered with a tag, is released at the refusal (the kernel
/// resets the slot before it looks at the new file), so its tag's
/// completion comes, once, with result 0, and the refused file's tag never
/// does; unregistering the table afterwards posts no second one.
#[test]
fn a_refused_tagged_update_posts_the_old_file_s_tag_once_and_never_the_new_one() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !ring.params().features().contains(Features::RSRC_TAGS) {
        skip("no resource tags (5.13)");
        return;
    }
    let other = Ring::new(2).unwrap();
    let (a, b) = (file_of(b"a"), file_of(b"b"));
    let mut table = ring
        .register_files_tagged(&[(a.as_fd(), 0x11), (b.as_fd(), 0x12)])
        .unwrap();
    let refused = with_ring_fd(&other, |ring_fd| {
        ring.update_file_slots(&mut table, 0, &[SlotUpdate::Tagged(ring_fd, 0x21)])
    });
    assert_eq!(refused.unwrap_err().raw_os_error(), Some(libc::EBADF));
    ring.wait_timeout(1, uring_tests::PATIENCE).unwrap();
    let got = uring_tests::pairs(&ring.completions().collect::<Vec<_>>());
    assert_eq!(got, [(0x11, 0)], "the old file's tag, at the refusal");
    assert_eq!(slots(&mut ring, &table), [Err(libc::EBADF), Ok(b'b')]);
    ring.unregister_files(table).unwrap();
    ring.wait_timeout(1, uring_tests::PATIENCE).unwrap();
    let mut got = uring_tests::pairs(&ring.completions().collect::<Vec<_>>());
    got.extend(uring_tests::stray(&mut ring));
    assert_eq!(got, [(0x12, 0)], "only the file still registered");
}

// ------------------------------------------------- io_uring_register_files

/// `io_uring_register_files(ring, {a, ring_fd}, 2)` fails with `EBADF`,
/// and the kernel unregisters the table it was building: a registration
/// right after succeeds (no `EBUSY`), and an update to a ring without a
/// table fails with `ENXIO` as liburing's would.
#[test]
fn register_files_with_a_ring_descriptor_fails_whole_and_leaves_no_table() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let other = Ring::new(2).unwrap();
    let a = file_of(b"a");
    let refused = with_ring_fd(&other, |ring_fd| ring.register_files(&[a.as_fd(), ring_fd]));
    assert_eq!(
        refused.err().and_then(|e| e.raw_os_error()),
        Some(libc::EBADF)
    );
    let refused = with_ring_fd(&other, |ring_fd| {
        ring.register_file_slots(&[None, Some(ring_fd)])
    });
    assert_eq!(
        refused.err().and_then(|e| e.raw_os_error()),
        Some(libc::EBADF)
    );
    let table = ring.register_files(&[a.as_fd()]).unwrap();
    assert_eq!(slots(&mut ring, &table), [Ok(b'a')]);
    ring.unregister_files(table).unwrap();
}

// ---------------------------------------------- io_uring_prep_files_update

/// `io_uring_prep_files_update(sqe, {a, ring_fd, b}, 3, 0)` completes with
/// 1, as `IORING_REGISTER_FILES_UPDATE` returns: the op runs the same
/// update, so slot 0 takes `a`, slot 1 is emptied and slot 2 keeps its
/// file.
#[test]
fn files_update_op_stops_at_a_ring_descriptor_and_completes_with_the_count() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let other = Ring::new(2).unwrap();
    let (old0, old1, old2) = (file_of(b"0"), file_of(b"1"), file_of(b"2"));
    let (a, b) = (file_of(b"a"), file_of(b"b"));
    let mut table = ring
        .register_files(&[old0.as_fd(), old1.as_fd(), old2.as_fd()])
        .unwrap();
    let res = with_ring_fd(&other, |ring_fd| {
        let mut updates = FileUpdates::new(&[Some(a.as_fd()), Some(ring_fd), Some(b.as_fd())]);
        let at = FilesAt::from(table.get_mut(0).unwrap());
        let cqe = complete(&mut ring, FilesUpdate::new(&mut updates, at).user_data(7));
        assert_eq!(cqe.user_data(), 7);
        cqe.res()
    });
    assert_eq!(res, 1, "the count of slots done");
    assert_eq!(
        slots(&mut ring, &table),
        [Ok(b'a'), Err(libc::EBADF), Ok(b'2')]
    );
    ring.unregister_files(table).unwrap();
}

/// `io_uring_register_file_alloc_range(ring, 2, 3)`, then
/// `io_uring_prep_files_update(sqe, {a, b, ring_fd, c}, 4,
/// IORING_FILE_INDEX_ALLOC)`: the completion is 2, the kernel wrote the
/// slots it picked (2 and 3, the range's first free ones, in order) over
/// the first two descriptors and left the refused one and the one after it
/// as given; the picked slots hold `a` and `b`, the others stay empty. A
/// second update picks the range's last slot and stops at an empty entry
/// (`-1`, which cannot be installed), and a third finds the range full
/// (`ENFILE`).
#[test]
fn files_update_with_index_alloc_writes_back_the_slots_it_picked_up_to_the_refusal() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let other = Ring::new(2).unwrap();
    let (a, b, c, d) = (file_of(b"a"), file_of(b"b"), file_of(b"c"), file_of(b"d"));
    let table = ring.register_files_sparse(6).unwrap();
    ring.set_file_alloc_range(&table, 2, 3).unwrap();
    let (res, written, given) = with_ring_fd(&other, |ring_fd| {
        let given = [
            a.as_raw_fd(),
            b.as_raw_fd(),
            ring_fd.as_raw_fd(),
            c.as_raw_fd(),
        ];
        let mut updates = FileUpdates::new(&[
            Some(a.as_fd()),
            Some(b.as_fd()),
            Some(ring_fd),
            Some(c.as_fd()),
        ]);
        let cqe = complete(&mut ring, FilesUpdate::new(&mut updates, FilesAt::ALLOC));
        (cqe.res(), updates.slots().to_vec(), given)
    });
    assert_eq!(res, 2, "two installed before the refusal");
    assert_eq!(
        written,
        [2, 3, given[2], given[3]],
        "picked slots written back, the rest as given"
    );
    assert_eq!(
        slots(&mut ring, &table),
        [
            Err(libc::EBADF),
            Err(libc::EBADF),
            Ok(b'a'),
            Ok(b'b'),
            Err(libc::EBADF),
            Err(libc::EBADF)
        ]
    );

    // An empty entry (-1) cannot be installed: `EBADF` there, after the
    // slot picked for `d`.
    let mut updates = FileUpdates::new(&[Some(d.as_fd()), None]);
    let cqe = complete(&mut ring, FilesUpdate::new(&mut updates, FilesAt::ALLOC));
    assert_eq!((cqe.res(), updates.slots()), (1, &[4, -1][..]));
    let mut updates = FileUpdates::new(&[Some(c.as_fd())]);
    let cqe = complete(&mut ring, FilesUpdate::new(&mut updates, FilesAt::ALLOC));
    assert_eq!(cqe.res(), -libc::ENFILE, "the range is full");
    assert_eq!(updates.slots(), [c.as_raw_fd()], "nothing written back");
    ring.unregister_files(table).unwrap();
}

// --------------------------------- io_uring_prep_recv + IORING_RECVSEND_BUNDLE

/// A liburing program receives with `IORING_RECVSEND_BUNDLE` on a plain
/// ring (no scope) and walks the buffers from the completion's buffer id
/// on, in ring order, `res` bytes in all. `claim_bundle_unchecked` is that
/// walk: for each completion it lends `ceil(res / len)` buffers, every one
/// full but the last, consecutive ids in the order the ring provided them,
/// holding exactly the bytes sent; a second claim of the same completion
/// is refused while its buffers are out. Once they are dropped,
/// the buffers go back, and the ring goes round: 6 rounds of 40 bytes
/// through 8 buffers of 16.
#[test]
fn recv_bundles_outside_a_scope_claim_consecutive_buffers_in_ring_order() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !ring.params().features().contains(Features::RECVSEND_BUNDLE) {
        skip("no bundles (6.10)");
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 40, 8, 16) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let mut next_bid = 0u16;
    for round in 0..6u8 {
        let sent = uring_tests::pattern(40, round);
        tx.write_all(&sent).unwrap();
        let mut got = Vec::new();
        while got.len() < sent.len() {
            push_lent!(
                ring,
                Recv::new(&rx, pool.select())
                    .recv_flags(RecvFlags::BUNDLE)
                    .user_data(u64::from(round))
            )
            .unwrap();
            let cqe = reap_one(&mut ring);
            assert_eq!(cqe.user_data(), u64::from(round));
            let res = cqe.result().unwrap() as usize;
            assert!(res > 0, "round {round}: {cqe:?}");
            assert_eq!(cqe.buffer_id(), Some(next_bid), "round {round}");
            // SAFETY: as above, and the receive is neither `MSG_TRUNC` nor
            // `MSG_WAITALL`; the completion is claimed once here.
            let bufs = unsafe { pool.claim_bundle_unchecked(&cqe) }.unwrap();
            // SAFETY: as above; this second claim must be refused, since
            // the buffers are still lent.
            let again = unsafe { pool.claim_bundle_unchecked(&cqe) };
            assert!(again.is_err(), "round {round}: claimed twice");
            assert_eq!(bufs.len(), res.div_ceil(16), "round {round}: {cqe:?}");
            let mut in_cqe = 0;
            for (i, buf) in bufs.iter().enumerate() {
                assert_eq!(buf.bid(), next_bid, "round {round}: ring order");
                next_bid = (next_bid + 1) % 8;
                if i + 1 < bufs.len() {
                    assert_eq!(buf.len(), 16, "round {round}: all full but the last");
                }
                in_cqe += buf.len();
                got.extend_from_slice(buf);
            }
            assert_eq!(in_cqe, res, "round {round}");
            drop(bufs);
        }
        assert_eq!(got, sent, "round {round}");
        assert_eq!(pool.available().unwrap(), 8, "round {round}: all back");
    }
    assert_eq!(uring_tests::stray(&mut ring), []);
}

// ------------------------------------------------ io_uring_opcode_supported

/// `io_uring_opcode_supported(p, op)` is 0 for every `op > p->last_op`
/// and the kernel's flag below it; `Probe::is_supported` answers the same
/// for all 256 values of a `u8` without a panic, names every op of the
/// table through `missing_from(ALL)` exactly as `missing()` does, and an
/// opcode the kernel knows is never reported past `last_op`.
#[test]
fn opcode_supported_at_every_u8_and_missing_from_the_whole_table() {
    let _watch = uring_tests::watchdog();
    let ring = Ring::new(2).unwrap();
    let probe = ring.probe().unwrap();
    let last = probe.last_op();
    for op in 0..=u8::MAX {
        if op > last {
            assert!(!probe.is_supported(op), "opcode {op} past last_op {last}");
        }
    }
    // Every opcode up to the table's own last one (PIPE, 62 on 6.18) is
    // one the running kernel has, apart from those `missing` names.
    let missing: Vec<&str> = probe.missing().map(|op| op.name).collect();
    // `io_uring_get_probe`, through a ring of its own: the same answer.
    let own = uring::Probe::kernel().unwrap();
    assert_eq!(own.last_op(), last);
    assert!((0..=u8::MAX).all(|op| own.is_supported(op) == probe.is_supported(op)));
    let missing_from: Vec<&str> = probe
        .missing_from(uring::ops::ALL)
        .map(|op| op.name)
        .collect();
    assert_eq!(missing, missing_from);
    for op in uring::ops::ALL {
        if !missing.contains(&op.name) {
            assert!(
                op.code <= last,
                "{} ({}) past last_op {last}",
                op.name,
                op.code
            );
            assert!(probe.is_supported(op.code), "{}", op.name);
        }
    }
    if uring_tests::kernel_version() == (6, 18) {
        assert!(
            missing.contains(&"GetSockName"),
            "6.19's op on 6.18: {missing:?}"
        );
    }
}

/// `claim_unchecked` of a bundle's completion on a plain (not incremental)
/// ring is refused, as documented: the completion's bytes run over several
/// buffers (a 40-byte bundle over buffers of 16). `claim_bundle_unchecked`
/// then takes them all: their bytes joined are the bundle's, and once
/// dropped every buffer is back in the ring. (It used to lend the first
/// buffer alone, the rest of the bytes out of reach and the other buffers
/// the kernel's for good.)
#[test]
fn claim_unchecked_of_a_bundle_completion_is_refused_as_documented() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !ring.params().features().contains(Features::RECVSEND_BUNDLE) {
        skip("no bundles (6.10)");
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 41, 8, 16) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    // Receive until one completion's bytes fill more than one buffer
    // (a bundle of one buffer is claimed as usual).
    let mut bundle = None;
    // What was sent, and how much of it the claims before took.
    let mut stream = Vec::new();
    let mut taken = 0;
    for round in 0..8u8 {
        let bytes = uring_tests::pattern(40, round);
        tx.write_all(&bytes).unwrap();
        stream.extend_from_slice(&bytes);
        push_lent!(
            ring,
            Recv::new(&rx, pool.select())
                .recv_flags(RecvFlags::BUNDLE)
                .user_data(u64::from(round))
        )
        .unwrap();
        let cqe = reap_one(&mut ring);
        if cqe.result().unwrap() > 16 {
            bundle = Some(cqe);
            break;
        }
        // SAFETY: the kernel posted `cqe` on `ring`, which registered
        // `pool`, for a receive that selected one buffer from it; it is
        // claimed once.
        let buf = unsafe { pool.claim_unchecked(&cqe) }.unwrap();
        assert_eq!(buf[..], stream[taken..taken + buf.len()]);
        taken += buf.len();
    }
    let Some(cqe) = bundle else {
        skip("the kernel bundled no more than one buffer");
        return;
    };
    let res = cqe.res();
    // SAFETY: the kernel posted `cqe` on `ring`, which registered `pool`,
    // for a receive (neither `MSG_TRUNC` nor `MSG_WAITALL`) that selected
    // from it; nothing else claims it.
    let one = unsafe { pool.claim_unchecked(&cqe) };
    let lent = one.as_ref().map(|buf| buf.len()).ok();
    drop(one);
    assert!(
        lent.is_none(),
        "a {res}-byte bundle claimed as one buffer of {lent:?} bytes"
    );
    // SAFETY: as above; the refused claim claimed nothing.
    let bufs = unsafe { pool.claim_bundle_unchecked(&cqe) }.unwrap();
    assert_eq!(bufs.len(), (res as usize).div_ceil(16));
    let joined: Vec<u8> = bufs.iter().flat_map(|b| b.to_vec()).collect();
    assert_eq!(joined.len(), res as usize);
    assert_eq!(joined[..], stream[taken..taken + res as usize]);
    drop(bufs);
    assert_eq!(pool.available().unwrap(), 8, "every buffer back");
}
