//! Parity with the `io-uring` crate (tokio-rs/io-uring 0.7.16), from the
//! view of a program being ported from it: the crate's own integration
//! programs (`io-uring-test/src/tests/{queue,register,register_fdevent,
//! register_sync_cancel,sqpoll,regression}.rs`) rewritten against this
//! library's equivalents, each checking what the kernel did (results,
//! errnos, counts, order, which slot holds which file, eventfd counters).
//! `IoUring::new(u32::MAX)` (the crate's issue #154) and `setup_clamp`;
//! `SubmissionQueue::{capacity, len, is_full, push_multiple}` and
//! `CompletionQueue::fill` through a batch, `space_left`, `peek_batch` and
//! `advance`; `IoUring::split` with a full SQ; `register_eventfd`,
//! `CompletionQueue::{disable,enable}_eventfd` and `unregister_eventfd`;
//! `register_files_sparse` twice, unregistered, and 10 000 slots;
//! `register_sync_cancel` by `user_data`, by `user_data` with `ALL`, and by
//! descriptor with `ALL`; `MsgRingData` and `MsgRingSendFd` slot to slot and
//! back; an SQPOLL ring whose CQ overflows, read the way the crate's test
//! reads it (`SubmissionQueue::cq_overflow`, then a submit); and
//! `submit_with_args` with a timespec that runs out after SQEs were
//! submitted.
//!
//! Read against Linux 6.18: `io_uring/io_uring.c` (`io_uring_fill_params`,
//! `io_uring_enter`, which returns the submitted count and drops the wait's
//! `-ETIME` once anything was submitted; `io_cqring_overflow_flush`),
//! `io_uring/eventfd.c` (`io_eventfd_signal`, `IORING_CQ_EVENTFD_DISABLED`),
//! `io_uring/filetable.c` and `io_uring/rsrc.c` (`io_sqe_files_register`:
//! `-EBUSY` over a table, `-EMFILE` past `RLIMIT_NOFILE`),
//! `io_uring/cancel.c` (`io_sync_cancel`, `__io_async_cancel`),
//! `io_uring/msg_ring.c` (`io_msg_send_fd`, `io_msg_install_complete`), and
//! `io_uring/sqpoll.c` (`__io_sq_thread`).
//!
//! Every test is safe code but for the eventfd's creation, against the
//! running kernel.

use std::fs::File;
use std::io::{ErrorKind, Read as _, Seek as _, SeekFrom, Write as _};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use uring::ops::{MsgRing, MsgRingFd, Nop, Read, Timeout, Write};
use uring::{Error, PushErrorKind, Ring, RingSlot, SyncCancel, WaitArgs};
use uring_tests::{PATIENCE, pipe, require_op, require_sqpoll, skip};

/// The kernel's most SQ entries (`IORING_MAX_ENTRIES`).
const MAX_SQ: u32 = 32768;
/// The kernel's most CQ entries (`IORING_MAX_CQ_ENTRIES`).
const MAX_CQ: u32 = 65536;

/// The crate's issue #154: `IoUring::new(u32::MAX)` fails with an
/// `io::Error` of kind `InvalidInput`. A port keeps `io::Result`: the
/// library's error must convert to the same kind. With `clamp()` (the
/// crate's `setup_clamp`) the kernel cuts the sizes to its maxima instead.
#[test]
fn issue_154_u32_max_entries_is_invalid_input_and_clamp_cuts_to_the_maxima() {
    let _watch = uring_tests::watchdog();
    let err = match Ring::new(u32::MAX) {
        Ok(_) => panic!("a ring of u32::MAX entries was made"),
        Err(e) => e,
    };
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err:?}");
    let io = std::io::Error::from(err);
    assert_eq!(io.kind(), ErrorKind::InvalidInput, "{io:?}");

    let ring = match Ring::builder().clamp().build(u32::MAX) {
        Ok(ring) => ring,
        Err(e) if e.raw_os_error() == Some(libc::ENOMEM) => {
            return skip("no memory for a ring of the kernel's maximum size");
        }
        Err(e) => panic!("clamp: {e:?}"),
    };
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (MAX_SQ, MAX_CQ));
    assert_eq!(ring.params().sq_entries(), MAX_SQ);
    assert_eq!(ring.params().cq_entries(), MAX_CQ);
    // The CQ size clamps too, and is no longer compared unrounded.
    let ring = Ring::builder()
        .clamp()
        .cq_entries(u32::MAX)
        .build(4)
        .expect("a clamped CQ size");
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (4, MAX_CQ));
}

/// The crate's `test_batch`: an 8-entry SQ (`capacity() == 8`), five NOPs
/// pushed at once (`push_multiple`, `len() == 5`), a second five refused
/// whole, three more accepted; `submit_and_wait(8)`, and `fill` of a
/// 10-slot array returning the eight. A batch has no `push_multiple` for
/// independent ops: the port checks `space_left` first, and each push
/// past the end hands its op back.
#[test]
fn crate_test_batch_capacity_len_refusal_and_fill() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    assert_eq!(ring.ready(), 0);
    {
        let mut sq = ring.submission();
        assert_eq!(sq.space_left(), 8);
        assert!(sq.is_empty());
        for _ in 0..5 {
            sq.push(Nop::new().user_data(0x09)).unwrap();
        }
        assert_eq!(sq.len(), 5);
        // The second `push_multiple` of five: refused whole, nothing written.
        assert!(sq.space_left() < 5);
        assert_eq!(sq.len(), 5);
        for _ in 0..3 {
            sq.push(Nop::new().user_data(0x09)).unwrap();
        }
        assert_eq!((sq.len(), sq.space_left()), (8, 0));
        // `is_full`: one more push hands the op back.
        let refused = sq.push(Nop::new().user_data(0x0a)).unwrap_err();
        assert_eq!(refused.kind(), PushErrorKind::QueueFull);
        assert!(refused.is_full());
        assert_eq!(sq.len(), 8);
    }
    assert_eq!(ring.pending(), 8);
    assert_eq!(ring.submit_and_wait(8).unwrap(), 8);
    assert_eq!(ring.pending(), 0);
    let mut out = [uring::Cqe::default(); 10];
    assert_eq!(ring.peek_batch(&mut out), 8);
    assert!(
        out[..8]
            .iter()
            .all(|c| c.user_data() == 0x09 && c.res() == 0)
    );
    assert!(out[8..].iter().all(|c| *c == uring::Cqe::default()));
    // `fill` consumes; `peek_batch` leaves them until `advance`.
    assert_eq!(ring.ready(), 8);
    assert_eq!(ring.advance(10), 8);
    assert_eq!(ring.ready(), 0);
    assert_eq!(ring.peek_batch(&mut out), 0);
    // Nothing came that was not pushed.
    assert_eq!(ring.completions().count(), 0);
}

/// The crate's `test_queue_split`: the SQ filled to its capacity through
/// the split halves, `submit()` returning the capacity, the SQ empty and
/// the CQ holding exactly that many afterwards.
#[test]
fn crate_test_queue_split_full_sq_submits_its_capacity() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let capacity = ring.sq_entries();
    {
        let (mut sq, completions) = ring.split();
        assert!(sq.is_empty());
        for i in 0..capacity {
            sq.push(Nop::new().user_data(u64::from(i))).unwrap();
        }
        assert_eq!(sq.space_left(), 0);
        assert_eq!(completions.count(), 0);
    }
    assert_eq!(ring.submit().unwrap(), capacity);
    assert_eq!((ring.pending(), ring.space_left()), (0, capacity));
    // NOPs complete inline: all are there without a wait.
    assert_eq!(ring.ready(), capacity);
    let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(got, (0..u64::from(capacity)).collect::<Vec<_>>());
    assert_eq!(ring.ready(), 0);
}

/// A non-blocking eventfd (the one `unsafe` step a port keeps: libc makes it).
fn eventfd() -> File {
    // SAFETY: eventfd(2) takes no pointers.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    assert!(fd >= 0, "eventfd: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` was just returned by eventfd(2) and nothing else owns it.
    File::from(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The eventfd's counter, read and reset: 0 when it was not signalled.
fn take_count(fd: &mut File) -> u64 {
    let mut buf = [0u8; 8];
    match fd.read(&mut buf) {
        Ok(8) => u64::from_ne_bytes(buf),
        Ok(n) => panic!("a short read of an eventfd: {n} bytes"),
        Err(e) if e.kind() == ErrorKind::WouldBlock => 0,
        Err(e) => panic!("eventfd read: {e}"),
    }
}

/// The eventfd's counter once it is signalled, within `PATIENCE`; 0 when
/// `expect` is false and nothing came within 100 ms.
fn count_after_nop(ring: &mut Ring, fd: &mut File, expect: bool, user_data: u64) -> u64 {
    ring.push(Nop::new().user_data(user_data)).unwrap();
    ring.submit_and_wait(1).unwrap();
    let cqes: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(cqes, [(user_data, 0)]);
    let bound = if expect {
        PATIENCE
    } else {
        Duration::from_millis(100)
    };
    let start = Instant::now();
    loop {
        let n = take_count(fd);
        if n != 0 || start.elapsed() > bound {
            return n;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The crate's `test_register_eventfd` and `test_register_eventfd_disable`:
/// signalled while registered and enabled, silent while
/// `IORING_CQ_EVENTFD_DISABLED` is set (`disable_eventfd`, here
/// `set_cq_eventfd(false)`), signalled again once enabled, silent after
/// `unregister_eventfd`. Each NOP signals the counter exactly once.
#[test]
fn crate_test_register_eventfd_disable_enable_unregister() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    let mut fd = eventfd();
    ring.register_eventfd(fd.as_fd(), false).unwrap();
    assert!(ring.cq_eventfd_enabled());
    assert_eq!(count_after_nop(&mut ring, &mut fd, true, 1), 1);

    ring.set_cq_eventfd(false).unwrap();
    assert!(!ring.cq_eventfd_enabled());
    assert_eq!(count_after_nop(&mut ring, &mut fd, false, 2), 0);

    ring.set_cq_eventfd(true).unwrap();
    assert!(ring.cq_eventfd_enabled());
    assert_eq!(count_after_nop(&mut ring, &mut fd, true, 3), 1);

    ring.unregister_eventfd().unwrap();
    assert_eq!(count_after_nop(&mut ring, &mut fd, false, 4), 0);
    // A second unregister: the kernel has none (`ENXIO`).
    let again = ring.unregister_eventfd().unwrap_err();
    assert_eq!(again.raw_os_error(), Some(libc::ENXIO), "{again:?}");
    // And it can be registered again, with the same effect.
    ring.register_eventfd(fd.as_fd(), false).unwrap();
    assert_eq!(count_after_nop(&mut ring, &mut fd, true, 5), 1);
}

/// The crate's `test_register_files_sparse`: a second sparse table over the
/// first is refused (`EBUSY`), the first unregisters, and a table of 10 000
/// slots registers (the library raises the soft `RLIMIT_NOFILE` as far as
/// the hard limit allows; past it, `EMFILE`) and unregisters.
#[test]
fn crate_test_register_files_sparse_twice_then_ten_thousand() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    let table = ring.register_files_sparse(4).unwrap();
    assert_eq!(table.len(), 4);
    let again = ring.register_files_sparse(3).unwrap_err();
    assert_eq!(again.raw_os_error(), Some(libc::EBUSY), "{again:?}");
    ring.unregister_files(table).unwrap();
    match ring.register_files_sparse(10_000) {
        Ok(big) => {
            assert_eq!(big.len(), 10_000);
            // The last slot is there, and empty: a NOP looking it up fails
            // with EBADF.
            let nop = uring::ops::NopFile::new(big.get(9_999).unwrap()).user_data(7);
            let cqe = uring_tests::complete(&mut ring, nop);
            assert_eq!((cqe.user_data(), cqe.res()), (7, -libc::EBADF));
            ring.unregister_files(big).unwrap();
        }
        Err(e) if e.raw_os_error() == Some(libc::EMFILE) => {
            skip("the hard RLIMIT_NOFILE is below 10 000");
        }
        Err(e) => panic!("10 000 sparse slots: {e:?}"),
    }
}

/// The crate's `test_register_sync_cancel`: five reads of an empty pipe,
/// one cancelled by its `user_data`, two by theirs with `ALL`, the last
/// two by their descriptor with `ALL`; each cancel returns once its reads
/// completed with `-ECANCELED`, and the buffers stay untouched.
#[test]
fn crate_test_register_sync_cancel_by_user_data_all_and_fd() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (rx, tx) = pipe();
    let mut bufs = [[0x5au8; 32]; 5];
    ring.scope(|s| {
        for (i, buf) in bufs.iter_mut().enumerate() {
            let user_data = match i {
                0 => 42,
                1 | 2 => 43,
                _ => 44,
            };
            s.push(Read::new(&rx, &mut buf[..]).user_data(user_data))
                .unwrap();
        }
        assert_eq!(s.submit().unwrap(), 5);

        let reap = |s: &mut uring::Scope<'_, '_>, n: usize| -> Vec<(u64, i32)> {
            let mut got = Vec::new();
            let start = Instant::now();
            while got.len() < n {
                assert!(start.elapsed() < PATIENCE, "only {got:?}");
                s.wait_timeout(1, PATIENCE).unwrap();
                got.extend(s.completions().map(|c| (c.user_data(), c.res())));
            }
            got
        };
        s.cancel_sync(SyncCancel::user_data(42), None).unwrap();
        assert_eq!(reap(s, 1), [(42, -libc::ECANCELED)]);

        s.cancel_sync(SyncCancel::user_data(43).all(), None)
            .unwrap();
        assert_eq!(reap(s, 2), [(43, -libc::ECANCELED), (43, -libc::ECANCELED)]);

        s.cancel_sync(SyncCancel::fd(&rx).all(), None).unwrap();
        assert_eq!(reap(s, 2), [(44, -libc::ECANCELED), (44, -libc::ECANCELED)]);

        // Nothing is left to cancel: by user_data that is ENOENT, with ALL
        // it is none matched, which is no error.
        let none = s.cancel_sync(SyncCancel::user_data(42), None).unwrap_err();
        assert_eq!(none.raw_os_error(), Some(libc::ENOENT), "{none:?}");
        s.cancel_sync(SyncCancel::fd(&rx).all(), None).unwrap();
        assert_eq!(s.completions().count(), 0);
    });
    assert!(bufs.iter().all(|b| b.iter().all(|&x| x == 0x5a)));
    // The pipe still works: no read kept a piece of it.
    (&File::from(tx)).write_all(b"x").unwrap();
    let mut one = [0u8; 1];
    File::from(rx).read_exact(&mut one).unwrap();
    assert_eq!(&one, b"x");
}

/// The crate's `test_msg_ring_data`: a data message from this ring to a
/// one-entry ring posts `(0, 0, flags 0)` here and `(85, 82, flags 0)`
/// there, and nothing else on either.
#[test]
fn crate_test_msg_ring_data_posts_on_both_rings() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<MsgRing>(&ring) {
        return;
    }
    let mut dest = Ring::new(1).unwrap();
    ring.scope(|s| {
        s.push(MsgRing::new(&dest, 82, 85).user_data(0)).unwrap();
        s.submit_and_wait(1).unwrap();
        let got: Vec<(u64, i32, u32)> = s
            .completions()
            .map(|c| (c.user_data(), c.res(), c.flags()))
            .collect();
        assert_eq!(got, [(0, 0, 0)]);
    });
    let got: Vec<(u64, i32, u32)> = dest
        .completions()
        .map(|c| (c.user_data(), c.res(), c.flags()))
        .collect();
    assert_eq!(got, [(85, 82, 0)]);
    assert_eq!(ring.completions().count(), 0);
    assert_eq!(dest.completions().count(), 0);
}

/// Writes `data` at offset 0 through `file` (a slot of `ring`'s table) and
/// returns the result.
fn write_through<'f>(ring: &mut Ring, file: uring::Fixed<'f>, data: &[u8]) -> i32 {
    uring_tests::complete(ring, Write::new(file, data).offset(0).user_data(9)).res()
}

/// The crate's `test_msg_ring_send_fd`: the registered file of slot 0 sent
/// to slot 1 of a second ring's sparse table (completion `(22, 0)` there),
/// then from that slot back into slot 2 of a new sparse table of the first
/// ring (`(44, 0)`). Each slot then holds that very file: a write through
/// it lands in the temp file.
#[test]
fn crate_test_msg_ring_send_fd_slot_to_slot_and_back() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(6, 0, "MSG_RING's IORING_MSG_SEND_FD") {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let mut tmp = tempfile::tempfile().unwrap();
    let table = ring.register_files(&[tmp.as_fd()]).unwrap();
    let mut temp_ring = Ring::new(8).unwrap();
    let mut temp_table = temp_ring.register_files_sparse(2).unwrap();

    ring.scope(|s| {
        let dest = RingSlot::at(&temp_ring, temp_table.get_mut(1).unwrap()).unwrap();
        s.push(MsgRingFd::new(dest, table.get(0).unwrap(), 22).user_data(0))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let got: Vec<(u64, i32, u32)> = s
            .completions()
            .map(|c| (c.user_data(), c.res(), c.flags()))
            .collect();
        assert_eq!(got, [(0, 0, 0)]);
    });
    let got: Vec<(u64, i32, u32)> = temp_ring
        .completions()
        .map(|c| (c.user_data(), c.res(), c.flags()))
        .collect();
    assert_eq!(got, [(22, 0, 0)]);
    assert_eq!(
        write_through(&mut temp_ring, temp_table.get(1).unwrap(), b"first"),
        5
    );

    ring.unregister_files(table).unwrap();
    let mut table = ring.register_files_sparse(4).unwrap();
    temp_ring.scope(|s| {
        let dest = RingSlot::at(&ring, table.get_mut(2).unwrap()).unwrap();
        s.push(MsgRingFd::new(dest, temp_table.get(1).unwrap(), 44).user_data(0))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let got: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        assert_eq!(got, [(0, 0)]);
    });
    let got: Vec<(u64, i32, u32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res(), c.flags()))
        .collect();
    assert_eq!(got, [(44, 0, 0)]);
    assert_eq!(write_through(&mut ring, table.get(2).unwrap(), b"again"), 5);
    // The other slots stayed empty.
    for slot in [0, 1, 3] {
        let cqe = uring_tests::complete(
            &mut ring,
            uring::ops::NopFile::new(table.get(slot).unwrap()).user_data(8),
        );
        assert_eq!(cqe.res(), -libc::EBADF, "slot {slot}");
    }
    ring.unregister_files(table).unwrap();
    temp_ring.unregister_files(temp_table).unwrap();
    let mut text = String::new();
    tmp.seek(SeekFrom::Start(0)).unwrap();
    tmp.read_to_string(&mut text).unwrap();
    assert_eq!(text, "again");
}

/// The crate's `test_sqpoll_cq_overflow` (its PR #349): an SQPOLL ring
/// given four times its SQ's entries, read the way the crate's test reads
/// it (drain the CQ; on `cq_overflow`, submit). Every completion comes,
/// once, well before the SQ thread's idle time, since reading the CQ
/// flushes what the kernel holds back without waiting for the thread to
/// sleep.
#[test]
fn crate_test_sqpoll_cq_overflow_is_flushed_within_the_idle_time() {
    let _watch = uring_tests::watchdog();
    if !require_sqpoll() {
        return;
    }
    let idle = Duration::from_secs(20);
    let mut ring = Ring::builder().sqpoll(idle).build(8).unwrap();
    if !ring.params().has(uring::Features::NODROP) {
        return skip("no IORING_FEAT_NODROP");
    }
    let total = u64::from(ring.sq_entries()) * 4;
    let start = Instant::now();
    let mut seen = vec![0u32; total as usize];
    let mut read = 0u64;
    // At least 24 NOPs completed before the first read (the last eight
    // pushes needed the SQ thread to take the third batch), into 16 slots.
    let mut overflowed = false;
    for i in 0..total {
        loop {
            match ring.push(Nop::new().user_data(i)) {
                Ok(()) => break,
                Err(e) if e.is_full() => {
                    ring.submit().unwrap();
                    ring.wait_for_sq_space().unwrap();
                }
                Err(e) => panic!("{e:?}"),
            }
            assert!(start.elapsed() < PATIENCE, "the SQ never freed a slot");
        }
    }
    ring.submit().unwrap();
    while read < total {
        assert!(
            start.elapsed() < idle / 2,
            "{read} of {total} completions before half the idle time"
        );
        for c in ring.completions() {
            assert_eq!(c.res(), 0);
            seen[c.user_data() as usize] += 1;
            read += 1;
        }
        if ring.cq_has_overflow() {
            overflowed = true;
            ring.submit().unwrap();
        }
        std::thread::yield_now();
    }
    assert!(overflowed, "the CQ of 16 never overflowed");
    assert!(seen.iter().all(|&n| n == 1), "{seen:?}");
    assert_eq!(ring.completions().count(), 0);
    assert!(!ring.cq_has_overflow());
    assert_eq!(ring.overflow(), 0, "a completion was dropped");
    assert!(start.elapsed() < idle / 2);
}

/// `Submitter::submit_with_args(1, &SubmitArgs::new().timespec(..))` with a
/// timer SQE that will not fire in time: the kernel submits it, runs the
/// wait out and, having submitted one, returns 1 rather than `-ETIME`
/// (the crate hands that on as `Ok(1)`). The equivalent,
/// `submit_and_wait_with`, must say the same (the documented count), and
/// `ready()` tells the timeout from a wait that was met.
#[test]
fn submit_with_args_timing_out_after_a_submission_counts_the_submission() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    ring.push(Timeout::new(Duration::from_secs(30)).user_data(1))
        .unwrap();
    let start = Instant::now();
    let args = WaitArgs::new().timeout(Duration::from_millis(30));
    assert_eq!(ring.submit_and_wait_with(1, &args).unwrap(), 1);
    assert!(start.elapsed() >= Duration::from_millis(25));
    assert_eq!(ring.ready(), 0);
    // Nothing submitted: the timeout is the result.
    let waited = ring.submit_and_wait_with(1, &args).unwrap_err();
    assert!(matches!(waited, Error::TimedOut), "{waited:?}");
    let io = std::io::Error::from(waited);
    assert_eq!(io.kind(), ErrorKind::TimedOut);
    // The timer is still in flight; remove it and see both completions.
    ring.push(uring::ops::TimeoutRemove::new(1).user_data(2))
        .unwrap();
    ring.submit_and_wait(2).unwrap();
    let mut got: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    got.sort_unstable();
    assert_eq!(got, [(1, -libc::ECANCELED), (2, 0)]);
}

/// `Parameters::is_feature_*` and `Builder::is_setup_*`: each of the
/// crate's sixteen feature queries (and the two it lacks, `REG_REG_RING`
/// and `RW_ATTR`) is a `Features` bit at the uapi header's position, the
/// kernel's answer is passed through whole, and Linux 6.15 and later set
/// every one of them. The setup flags read back are the ones asked for.
#[test]
fn crate_feature_and_setup_queries_match_the_kernel_s_bits() {
    use uring::{Features, SetupFlags};
    let _watch = uring_tests::watchdog();
    let bits = [
        (Features::SINGLE_MMAP, 0, (5, 4)),
        (Features::NODROP, 1, (5, 5)),
        (Features::SUBMIT_STABLE, 2, (5, 5)),
        (Features::RW_CUR_POS, 3, (5, 6)),
        (Features::CUR_PERSONALITY, 4, (5, 6)),
        (Features::FAST_POLL, 5, (5, 7)),
        (Features::POLL_32BITS, 6, (5, 9)),
        (Features::SQPOLL_NONFIXED, 7, (5, 11)),
        (Features::EXT_ARG, 8, (5, 11)),
        (Features::NATIVE_WORKERS, 9, (5, 12)),
        (Features::RSRC_TAGS, 10, (5, 13)),
        (Features::CQE_SKIP, 11, (5, 17)),
        (Features::LINKED_FILE, 12, (5, 17)),
        (Features::REG_REG_RING, 13, (6, 3)),
        (Features::RECVSEND_BUNDLE, 14, (6, 10)),
        (Features::MIN_TIMEOUT, 15, (6, 12)),
        (Features::RW_ATTR, 16, (6, 14)),
        (Features::NO_IOWAIT, 17, (6, 15)),
    ];
    let ring = Ring::new(4).unwrap();
    let params = ring.params();
    assert_eq!(params.features().bits(), params.as_raw().features);
    let kernel = uring_tests::kernel_version();
    for (feature, bit, since) in bits {
        assert_eq!(feature.bits(), 1 << bit, "{feature:?}");
        if kernel >= since {
            assert!(params.has(feature), "{feature:?} on {kernel:?}");
        }
    }
    if kernel >= (6, 15) {
        assert_eq!(params.features().bits() & 0x3ffff, 0x3ffff);
    }
    assert_eq!(params.setup_flags(), SetupFlags::empty());

    let ring = Ring::builder()
        .cq_entries(64)
        .clamp()
        .submit_all()
        .coop_taskrun()
        .taskrun_flag()
        .single_issuer()
        .build(4)
        .unwrap();
    let want = SetupFlags::CQSIZE
        | SetupFlags::CLAMP
        | SetupFlags::SUBMIT_ALL
        | SetupFlags::COOP_TASKRUN
        | SetupFlags::TASKRUN_FLAG
        | SetupFlags::SINGLE_ISSUER;
    assert_eq!(ring.params().setup_flags(), want);
    assert_eq!(ring.params().as_raw().flags, want.bits());
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (4, 64));
    assert!(!ring.params().setup_flags().contains(SetupFlags::SQPOLL));
}
