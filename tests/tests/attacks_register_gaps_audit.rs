//! The registration layer (file and buffer tables, personalities,
//! restrictions, eventfds, probes, registered ring descriptors and
//! messages between rings) driven through call orders and pairs of
//! features that the other suites exercise one at a time, from safe code.
//!
//! Each test checks what the kernel really did: which file a slot reaches
//! (by its bytes, or by whether a pipe's reader is still referenced), the
//! errno of every refusal, the counts an eventfd got, the credentials an
//! open ran with, and that every refused call hands its handle back and
//! leaves the table as it was. The kernel facts relied on are Linux 6.18's
//! `io_uring/rsrc.c` (`io_sqe_files_unregister`, `__io_sqe_files_update`,
//! `io_sqe_files_register`), `filetable.c` (`io_register_file_alloc_range`),
//! `register.c` (`io_register_personality`, `__io_uring_register`'s
//! restriction check, `io_probe`), `sqpoll.c` (`sq_creds`), `eventfd.c`
//! (`io_eventfd_signal`) and `msg_ring.c`.

use std::ffi::CString;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use uring::ops::{MsgRing, MsgRingFd, Nop, OpenAt, Read};
use uring::{DirectSlot, Fd, FixedFiles, Query, Restriction, Ring, RingSlot, SlotUpdate, ops, sys};
use uring_tests::{PATIENCE, complete, pipe, require_kernel, skip, watchdog};

/// A byte no kernel write in these tests produces.
const CANARY: u8 = 0xa5;

/// The uid of `nobody`.
const NOBODY: u32 = 65534;

/// What a read of up to eight bytes at offset 0 through slot `index` of
/// `table` finds: the bytes, or the errno the kernel gave.
fn read_slot(ring: &mut Ring, table: &FixedFiles, index: u32) -> Result<Vec<u8>, i32> {
    let mut buf = [CANARY; 8];
    let cqe = complete(ring, Read::new(table.get(index).unwrap(), &mut buf[..]));
    if cqe.res() < 0 {
        assert_eq!(buf, [CANARY; 8], "a failed read wrote into its buffer");
        Err(-cqe.res())
    } else {
        Ok(buf[..cqe.res() as usize].to_vec())
    }
}

/// Writes a byte into the pipe `tx` until the write fails with `EPIPE` (no
/// read end is open anywhere, the kernel's references included), or
/// `PATIENCE` passes; returns whether it did.
fn reader_gone(tx: &mut File) -> bool {
    let end = Instant::now() + PATIENCE;
    loop {
        match tx.write(b"?") {
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => return true,
            Ok(_) => {}
            Err(e) => panic!("write to the pipe: {e}"),
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether the pipe whose write end is `tx` still has a reader after a
/// short pause (a write succeeds).
fn reader_alive(tx: &mut File) -> bool {
    std::thread::sleep(Duration::from_millis(20));
    tx.write(b"?").is_ok()
}

/// A new non-blocking eventfd.
fn eventfd() -> OwnedFd {
    // SAFETY: eventfd(2) takes plain integers.
    let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    assert!(raw >= 0, "eventfd: {}", std::io::Error::last_os_error());
    // SAFETY: a new descriptor, owned by nothing else.
    unsafe { OwnedFd::from_raw_fd(raw) }
}

/// The eventfd's counter, read (and so reset); 0 when nothing signalled it.
fn take_count(fd: &OwnedFd) -> u64 {
    let mut file = File::from(fd.try_clone().unwrap());
    let mut bytes = [0u8; 8];
    match file.read(&mut bytes) {
        Ok(8) => u64::from_ne_bytes(bytes),
        Ok(n) => panic!("an eventfd read of {n} bytes"),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
        Err(e) => panic!("eventfd read: {e}"),
    }
}

/// The completions of `ring` that arrive within `PATIENCE` until `n` came,
/// then within a short quiet period, as `(user_data, res)`.
fn reap(ring: &mut Ring, n: usize) -> Vec<(u64, i32)> {
    uring_tests::drain_until_quiet(ring, n, Duration::from_millis(30))
}

/// Whether this process is root (skips the test otherwise).
fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    skip("changing a thread's credentials needs root");
    false
}

/// A file only root may read, in a directory anyone may search:
/// `(directory guard, path)`.
fn root_only_file() -> (tempfile::TempDir, CString) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, b"root only").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    (dir, uring_tests::cpath(&secret))
}

/// Sets the filesystem uid of the calling thread alone (the raw system
/// call: glibc's wrappers of the other id calls change every thread).
/// Leaving uid 0 drops the thread's filesystem capabilities
/// (`CAP_DAC_OVERRIDE` among them); coming back restores them.
fn set_thread_fsuid(uid: u32) {
    // SAFETY: setfsuid takes an integer and changes only this thread's
    // credentials; it returns the previous fsuid, never fails loudly.
    unsafe { libc::syscall(libc::SYS_setfsuid, uid) };
    // SAFETY: as above; -1 is an invalid id, which asks for the current one.
    let now = unsafe { libc::syscall(libc::SYS_setfsuid, u32::MAX) };
    assert_eq!(now as u32, uid, "setfsuid did not take");
}

/// Runs an `openat` of `path` read-only in a scope of `ring`, with
/// `personality` if given; returns the result (the descriptor is closed
/// by the scope's completion when taken and dropped).
fn open_with(ring: &mut Ring, path: &CString, personality: Option<uring::Personality>) -> i32 {
    ring.scope(|s| {
        let op = OpenAt::new(Fd::CWD, path).open_flags(libc::O_RDONLY | libc::O_CLOEXEC);
        let pushed = match personality {
            Some(p) => s.push(op.personality(p).user_data(1)),
            None => s.push(op.user_data(1)),
        };
        pushed.unwrap();
        s.submit().unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let mut cqe = s.completions().next().expect("the open's completion");
        let res = cqe.res();
        if res >= 0 {
            drop(cqe.take_fd().expect("the opened descriptor"));
        }
        res
    })
}

// ---------------------------------------------------------------------
// File tables: update, unregister, register again.

/// `rsrc.c`: `io_sqe_files_unregister` drops every slot's node, whether
/// the slot was filled by the registration or by a later update, and a
/// table registered again starts from its own files only. The program
/// keeps none of the old table's `Fixed` handles (the table's handle is
/// consumed), and the kernel keeps no reference to the files the updates
/// put there: the pipe reader that an update placed in slot 1 is released
/// by the unregistration, and the new table's slot 1 reads the new file.
/// A second unregistration through the handle of the new table, after a
/// refused update, still works.
#[test]
fn an_updated_table_unregistered_and_registered_again_keeps_no_old_file() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let a = uring_tests::file_of(b"aaaa");
    let b = uring_tests::file_of(b"bbbb");
    let c = uring_tests::file_of(b"cccc");
    let (rx, tx) = pipe();
    let mut tx = File::from(tx);
    let mut table = ring.register_files(&[a.as_fd(), b.as_fd()]).unwrap();
    assert_eq!(
        ring.update_files(&mut table, 1, &[Some(rx.as_fd())])
            .unwrap(),
        1
    );
    drop(rx);
    assert!(reader_alive(&mut tx), "the slot keeps the pipe's reader");
    assert_eq!(read_slot(&mut ring, &table, 0), Ok(b"aaaa".to_vec()));
    ring.unregister_files(table).unwrap();
    assert!(
        reader_gone(&mut tx),
        "the unregistered table still references the file an update put in it"
    );

    // Registered again: its own files, in its own slots.
    let mut again = ring.register_files(&[c.as_fd(), a.as_fd()]).unwrap();
    assert_eq!(read_slot(&mut ring, &again, 0), Ok(b"cccc".to_vec()));
    assert_eq!(read_slot(&mut ring, &again, 1), Ok(b"aaaa".to_vec()));
    // An update past the end is refused before the kernel; the table is as
    // it was.
    let e = ring
        .update_files(&mut again, 1, &[Some(b.as_fd()), Some(b.as_fd())])
        .unwrap_err();
    assert!(matches!(e, uring::Error::InvalidArgument(_)), "{e}");
    assert_eq!(read_slot(&mut ring, &again, 1), Ok(b"aaaa".to_vec()));
    ring.unregister_files(again).unwrap();
    // A third table: slots beyond the first registration's length.
    let third = ring
        .register_file_slots(&[None, None, Some(b.as_fd())])
        .unwrap();
    assert_eq!(read_slot(&mut ring, &third, 0), Err(libc::EBADF));
    assert_eq!(read_slot(&mut ring, &third, 2), Ok(b"bbbb".to_vec()));
    ring.unregister_files(third).unwrap();
}

/// `rsrc.c`: a table registered through `IORING_REGISTER_FILES` (no tags)
/// still takes tags in `IORING_REGISTER_FILES_UPDATE2`: each slot's node
/// carries its own tag. A tagged update of a plain table therefore posts
/// the tag once the slot is replaced, exactly once, with result 0, and
/// never for the untagged file that slot held before. The ring counts as
/// tagged from then on: a scope's op carries a scope tag, and the tag's
/// completion is not taken for one of the scope's.
#[test]
fn a_tagged_update_of_an_untagged_table_posts_its_tag_once() {
    let _watch = watchdog();
    if !require_kernel(5, 13, "resource tags") {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let a = uring_tests::file_of(b"aaaa");
    let b = uring_tests::file_of(b"bbbb");
    let mut table = ring.register_files(&[a.as_fd(), a.as_fd()]).unwrap();
    let set = ring
        .update_file_slots(
            &mut table,
            0,
            &[SlotUpdate::Tagged(b.as_fd(), 0x7a6), SlotUpdate::Keep],
        )
        .unwrap();
    assert_eq!(set, 2, "both slots were gone through");
    assert_eq!(
        reap(&mut ring, 0),
        [],
        "the replaced untagged file posts nothing"
    );
    assert_eq!(read_slot(&mut ring, &table, 0), Ok(b"bbbb".to_vec()));
    assert_eq!(read_slot(&mut ring, &table, 1), Ok(b"aaaa".to_vec()));
    // Emptied: its tag comes once.
    ring.update_file_slots(&mut table, 0, &[SlotUpdate::Empty])
        .unwrap();
    assert_eq!(reap(&mut ring, 1), [(0x7a6, 0)]);
    // A scope's NOP after it is the scope's, the tag not repeated.
    let cqe = complete(&mut ring, Nop::new().user_data(0x7a6));
    assert_eq!(cqe.res(), 0);
    assert_eq!(reap(&mut ring, 0), []);
    ring.unregister_files(table).unwrap();
    assert_eq!(
        reap(&mut ring, 0),
        [],
        "no tag twice after the unregistration"
    );
}

/// The library refuses an empty tagged registration itself, and the
/// kernel refuses a sparse table longer than `RLIMIT_NOFILE` with
/// `EMFILE` (`io_sqe_files_register`; the library raises the soft limit,
/// so past the hard one), which must come back as that error and not
/// start the fallback for old kernels (a table of `-1` entries, which the
/// kernel would refuse the same way after the library allocated it).
/// Neither leaves a table behind: a small table registers afterwards.
#[test]
fn oversized_and_empty_file_tables_are_refused_and_leave_no_table() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    let e = ring.register_files_tagged(&[]).unwrap_err();
    assert!(matches!(e, uring::Error::InvalidArgument(_)), "{e}");
    let e = ring.register_files_sparse(0).unwrap_err();
    assert!(matches!(e, uring::Error::InvalidArgument(_)), "{e}");
    let e = ring.register_files_sparse(u32::MAX).unwrap_err();
    assert!(matches!(e, uring::Error::InvalidArgument(_)), "{e}");
    let e = ring.register_file_slots(&[]).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");

    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given, which lives here.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(got, 0, "getrlimit");
    let max = sys::IORING_MAX_FIXED_FILES as u64;
    if limit.rlim_max < max {
        let e = ring
            .register_files_sparse(sys::IORING_MAX_FIXED_FILES)
            .unwrap_err();
        assert_eq!(
            e.raw_os_error(),
            Some(libc::EMFILE),
            "a table past the hard RLIMIT_NOFILE ({}): {e}",
            limit.rlim_max
        );
        let e = ring
            .register_files_sparse(limit.rlim_max as u32 + 1)
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
    } else {
        skip("RLIMIT_NOFILE allows the largest table");
    }
    let table = ring.register_files_sparse(2).unwrap();
    assert_eq!(read_slot(&mut ring, &table, 1), Err(libc::EBADF));
    ring.unregister_files(table).unwrap();
}

/// A file table longer than the soft `RLIMIT_NOFILE` and within the hard
/// one is taken, by every way of registering one, the soft limit raised
/// to its length, as liburing's registrations do; one past the hard limit
/// is refused with `EMFILE`, the soft limit left as it was and no table
/// behind. In a process of its own, whose limits it sets to 64 and 128.
#[test]
fn file_tables_past_the_soft_open_files_limit_raise_it_and_past_the_hard_one_are_refused() {
    const NAME: &str =
        "file_tables_past_the_soft_open_files_limit_raise_it_and_past_the_hard_one_are_refused";
    if !uring_tests::in_child(NAME) {
        uring_tests::run_in_child(NAME);
        return;
    }
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    let (tx, _rx) = std::os::unix::net::UnixStream::pair().unwrap();
    let limit = libc::rlimit {
        rlim_cur: 64,
        rlim_max: 128,
    };
    // SAFETY: setrlimit reads the struct, alive for the call; the process
    // is this test's alone.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    let e = ring.register_files_sparse(129).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
    let e = ring.register_file_slots(&vec![None; 129]).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
    let e = ring
        .register_files_tagged(&vec![(tx.as_fd(), 0); 129])
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
    assert_eq!(uring_tests::nofile_limits(), (64, 128), "left as they were");
    let table = ring.register_files_sparse(100).unwrap();
    assert_eq!(table.len(), 100);
    assert_eq!(uring_tests::nofile_limits(), (100, 128));
    assert_eq!(read_slot(&mut ring, &table, 99), Err(libc::EBADF));
    ring.unregister_files(table).unwrap();
    let table = ring.register_files(&vec![tx.as_fd(); 110]).unwrap();
    assert_eq!(uring_tests::nofile_limits(), (110, 128));
    ring.unregister_files(table).unwrap();
    let table = ring
        .register_files_tagged(&vec![(tx.as_fd(), 0); 120])
        .unwrap();
    assert_eq!(uring_tests::nofile_limits(), (120, 128));
    ring.unregister_files(table).unwrap();
    // Up to the hard limit itself; then, within the soft limit, nothing
    // changes.
    let table = ring.register_file_slots(&vec![None; 128]).unwrap();
    assert_eq!(uring_tests::nofile_limits(), (128, 128));
    ring.unregister_files(table).unwrap();
    let table = ring.register_files_sparse(50).unwrap();
    assert_eq!(uring_tests::nofile_limits(), (128, 128));
    ring.unregister_files(table).unwrap();
}

// ---------------------------------------------------------------------
// Allocation ranges at their edges.

/// `filetable.c` (`io_register_file_alloc_range`): an offset and length
/// whose sum overflows are refused with `EOVERFLOW`, a range ending past
/// the table with `EINVAL`, and a range of no slot is taken: an
/// allocation then finds no slot (`ENFILE`), even with every slot empty,
/// and fills none. Setting a proper range afterwards lets the next
/// allocation take its first slot, and only it.
#[test]
fn allocation_ranges_at_their_edges() {
    let _watch = watchdog();
    if !require_kernel(6, 0, "allocation ranges") {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let table = ring.register_files_sparse(4).unwrap();
    let e = ring.set_file_alloc_range(&table, u32::MAX, 2).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EOVERFLOW), "{e}");
    let e = ring.set_file_alloc_range(&table, 2, 3).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
    let open = || {
        OpenAt::new(Fd::CWD, c"/dev/zero")
            .open_flags(libc::O_RDONLY)
            .direct(DirectSlot::ALLOC)
            .user_data(9)
    };
    match ring.set_file_alloc_range(&table, 2, 0) {
        Ok(()) => {
            let cqe = complete(&mut ring, open());
            assert_eq!(
                cqe.res(),
                -libc::ENFILE,
                "an empty range allocates: {cqe:?}"
            );
            for i in 0..4 {
                assert_eq!(
                    read_slot(&mut ring, &table, i),
                    Err(libc::EBADF),
                    "slot {i}"
                );
            }
        }
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}"),
    }
    ring.set_file_alloc_range(&table, 3, 1).unwrap();
    let cqe = complete(&mut ring, open());
    assert_eq!(cqe.res(), 3, "the range's one slot: {cqe:?}");
    let cqe = complete(&mut ring, open());
    assert_eq!(cqe.res(), -libc::ENFILE, "the range is full: {cqe:?}");
    for i in 0..3 {
        assert_eq!(
            read_slot(&mut ring, &table, i),
            Err(libc::EBADF),
            "slot {i}"
        );
    }
    assert_eq!(read_slot(&mut ring, &table, 3), Ok(vec![0; 8]));
    ring.unregister_files(table).unwrap();
}

/// A file passed by `MSG_RING` into a slot the receiving kernel picks
/// obeys the receiver's allocation range (`io_msg_install_complete` goes
/// through `__io_fixed_fd_install`): while the receiver holds a `Fixed` of
/// an empty slot outside the range, the message lands inside the range
/// and the held slot stays empty (`EBADF` through it). With the range
/// full, the sender's completion is `-ENFILE` and the receiver gets
/// nothing, its held slot still empty.
#[test]
fn a_file_message_fills_the_receiver_s_range_not_a_held_empty_slot() {
    let _watch = watchdog();
    if !require_kernel(6, 0, "file messages into allocated slots") {
        return;
    }
    let mut sender = Ring::new(8).unwrap();
    let mut receiver = Ring::new(8).unwrap();
    let f = uring_tests::file_of(b"sent");
    let source = sender.register_files(&[f.as_fd()]).unwrap();
    let table = receiver.register_files_sparse(3).unwrap();
    receiver.set_file_alloc_range(&table, 1, 1).unwrap();
    {
        let held = table.get(0).unwrap();
        let cqe = complete(
            &mut sender,
            MsgRingFd::new(RingSlot::alloc(&receiver), source.get(0).unwrap(), 0x51),
        );
        assert_eq!(cqe.res(), 1, "the range's slot: {cqe:?}");
        assert_eq!(reap(&mut receiver, 1), [(0x51, 1)]);
        let mut buf = [CANARY; 8];
        let cqe = complete(&mut receiver, Read::new(held, &mut buf[..]));
        assert_eq!(cqe.res(), -libc::EBADF, "the held slot was filled: {cqe:?}");
    }
    let cqe = complete(
        &mut sender,
        MsgRingFd::new(RingSlot::alloc(&receiver), source.get(0).unwrap(), 0x52),
    );
    assert_eq!(cqe.res(), -libc::ENFILE, "{cqe:?}");
    assert_eq!(
        reap(&mut receiver, 0),
        [],
        "a refused message posts nothing"
    );
    assert_eq!(read_slot(&mut receiver, &table, 0), Err(libc::EBADF));
    assert_eq!(read_slot(&mut receiver, &table, 1), Ok(b"sent".to_vec()));
    assert_eq!(read_slot(&mut receiver, &table, 2), Err(libc::EBADF));
    receiver.unregister_files(table).unwrap();
    sender.unregister_files(source).unwrap();
}

// ---------------------------------------------------------------------
// Restrictions against the library's register calls.

/// A restricted ring that may register files but not unregister or update
/// them (`__io_uring_register` checks `restrictions.register_op` first):
/// the unregistration fails with `EACCES` and hands the handle back
/// whole, the update fails with `EACCES` and changes no slot, and the
/// table keeps serving reads through the handle it got back. Dropping the
/// ring afterwards releases the table's files (the teardown needs no
/// register call).
#[test]
fn a_table_the_restrictions_keep_comes_back_whole_and_still_serves() {
    let _watch = watchdog();
    let mut ring = Ring::builder().r_disabled().build(8).unwrap();
    ring.register_restrictions(&[
        Restriction::op::<Read<'_>>(),
        Restriction::register_op(sys::IORING_REGISTER_FILES as u8),
        Restriction::sqe_flags_allowed(sys::IOSQE_FIXED_FILE),
    ])
    .unwrap();
    ring.enable().unwrap();
    let a = uring_tests::file_of(b"aaaa");
    let b = uring_tests::file_of(b"bbbb");
    let (rx, tx) = pipe();
    let mut tx = File::from(tx);
    let mut table = ring
        .register_file_slots(&[Some(a.as_fd()), Some(rx.as_fd())])
        .unwrap();
    drop(rx);
    let e = ring
        .update_files(&mut table, 0, &[Some(b.as_fd())])
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EACCES), "{e}");
    let refused = ring.unregister_files(table).unwrap_err();
    assert_eq!(
        refused.error.raw_os_error(),
        Some(libc::EACCES),
        "{}",
        refused.error
    );
    let table = refused.handle;
    assert_eq!(table.len(), 2);
    assert_eq!(read_slot(&mut ring, &table, 0), Ok(b"aaaa".to_vec()));
    assert!(reader_alive(&mut tx), "the table lost its pipe reader");
    // The ring may register no second table either.
    let e = ring.register_files(&[b.as_fd()]).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EBUSY), "{e}");
    // The handle has no drop of its own: the ring's drop is what releases
    // the kernel's table.
    drop(ring);
    assert!(
        reader_gone(&mut tx),
        "the dropped ring kept its table's file"
    );
}

/// `io_probe` answers on a ring whose restrictions allow
/// `IORING_REGISTER_PROBE`, and is refused with `EACCES` (an error, not a
/// panic) on one whose restrictions do not. Whatever ops a restricted ring
/// may submit, the probe reports what the kernel supports, so it must not
/// be read as what the ring may run: a NOP the probe calls supported fails
/// with `EACCES` on a ring that allows only reads.
#[test]
fn a_probe_of_a_restricted_ring_reports_the_kernel_not_the_restrictions() {
    let _watch = watchdog();
    let mut refused = Ring::builder().r_disabled().build(4).unwrap();
    refused
        .register_restrictions(&[Restriction::op::<Read<'_>>()])
        .unwrap();
    refused.enable().unwrap();
    let e = refused.probe().unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EACCES), "{e}");

    let mut allowed = Ring::builder().r_disabled().build(4).unwrap();
    allowed
        .register_restrictions(&[
            Restriction::op::<Read<'_>>(),
            Restriction::register_op(sys::IORING_REGISTER_PROBE as u8),
        ])
        .unwrap();
    allowed.enable().unwrap();
    let probe = allowed.probe().unwrap();
    assert!(probe.supports::<Nop>(), "{probe:?}");
    let cqe = complete(&mut allowed, Nop::new().user_data(3));
    assert_eq!(cqe.res(), -libc::EACCES, "{cqe:?}");
}

/// Two kernel interfaces that list the ops agree: `IORING_REGISTER_PROBE`
/// (`io_probe`, `last_op` and a flag per op) and `IORING_REGISTER_QUERY`
/// (6.18, `nr_request_opcodes`). Every op of the library's table that the
/// query says the kernel knows is one the probe marks supported or not
/// by its opcode alone, the probe's last op is the query's count less one,
/// and no opcode past it is marked supported.
#[test]
fn the_probe_and_the_query_agree_on_the_kernel_s_ops() {
    let _watch = watchdog();
    let query = match Query::kernel() {
        Ok(query) => query,
        Err(e) => {
            skip(format!("IORING_REGISTER_QUERY: {e}"));
            return;
        }
    };
    let probe = Ring::new(1).unwrap().probe().unwrap();
    assert_eq!(
        u32::from(probe.last_op()) + 1,
        query.opcodes(),
        "{probe:?} against {query:?}"
    );
    for code in 0..=255u8 {
        if u32::from(code) >= query.opcodes() {
            assert!(!probe.is_supported(code), "opcode {code} past the last");
        }
    }
    for info in ops::ALL {
        if u32::from(info.code) < query.opcodes() {
            assert!(
                probe.is_supported(info.code),
                "{} ({}) known to the query, not to the probe",
                info.name,
                info.code
            );
        }
    }
}

// ---------------------------------------------------------------------
// Personalities and credentials that change.

/// `register.c` (`io_register_personality`) takes the registering task's
/// credentials as they are at the call. A thread that registers a
/// personality as root and then drops its filesystem uid to `nobody`
/// (`setfsuid`, this thread alone) opens a root-only file through the
/// personality, and not without it (`EACCES`); a personality it
/// registers while `nobody` is refused the file after the thread is root
/// again, while its own open then succeeds. The same hold from another
/// thread the ring is moved to.
#[test]
fn a_personality_keeps_the_credentials_of_its_registration_not_of_its_thread() {
    let _watch = watchdog();
    if !is_root() {
        return;
    }
    let (_dir, path) = root_only_file();
    let mut ring = Ring::new(4).unwrap();
    let thread_path = path.clone();
    let results = std::thread::spawn(move || {
        let path = thread_path;
        let root = ring.register_personality().unwrap();
        set_thread_fsuid(NOBODY);
        let as_nobody_plain = open_with(&mut ring, &path, None);
        let as_nobody_root = open_with(&mut ring, &path, Some(root));
        let nobody = ring.register_personality().unwrap();
        set_thread_fsuid(0);
        let as_root_plain = open_with(&mut ring, &path, None);
        let as_root_nobody = open_with(&mut ring, &path, Some(nobody));
        (
            ring,
            root,
            nobody,
            [
                as_nobody_plain,
                as_nobody_root,
                as_root_plain,
                as_root_nobody,
            ],
        )
    })
    .join()
    .unwrap();
    let (mut ring, root, nobody, [np, nr, rp, rn]) = results;
    assert_eq!(np, -libc::EACCES, "the thread's own open as nobody");
    assert!(nr >= 0, "the root personality refused: {nr}");
    assert!(rp >= 0, "the thread's own open as root again: {rp}");
    assert_eq!(rn, -libc::EACCES, "the nobody personality as root");
    // On this thread (root), the personalities still mean their registration.
    assert!(open_with(&mut ring, &path, Some(root)) >= 0);
    assert_eq!(open_with(&mut ring, &path, Some(nobody)), -libc::EACCES);
    ring.unregister_personality(nobody).unwrap();
    ring.unregister_personality(root).unwrap();
}

/// `sqpoll.c`: an SQPOLL ring's SQ thread issues every op with the
/// credentials of the task that set the ring up (`ctx->sq_creds`), not
/// those of the thread that pushed it. A ring made by root and moved to a
/// thread that dropped its filesystem uid to `nobody` still opens a
/// root-only file; a personality of `nobody` registered by that thread
/// is what makes the open fail (`EACCES`). So on SQPOLL rings the
/// submitter's credentials do not bound what its ops may reach.
#[test]
fn an_sqpoll_ring_opens_with_its_creator_s_credentials_after_the_submitter_drops_them() {
    let _watch = watchdog();
    if !is_root() || !uring_tests::require_sqpoll() {
        return;
    }
    let (_dir, path) = root_only_file();
    let ring = match Ring::builder().sqpoll(Duration::from_millis(50)).build(4) {
        Ok(ring) => ring,
        Err(e) => {
            skip(format!("SQPOLL ring: {e}"));
            return;
        }
    };
    let (plain, with_nobody) = std::thread::spawn(move || {
        let mut ring = ring;
        set_thread_fsuid(NOBODY);
        let plain = open_with(&mut ring, &path, None);
        let nobody = ring.register_personality().unwrap();
        let with_nobody = open_with(&mut ring, &path, Some(nobody));
        set_thread_fsuid(0);
        (plain, with_nobody)
    })
    .join()
    .unwrap();
    assert!(
        plain >= 0,
        "the SQ thread ran the open with the submitter's credentials: {plain}"
    );
    assert_eq!(with_nobody, -libc::EACCES);
}

// ---------------------------------------------------------------------
// Eventfds and messages from other rings.

/// `eventfd.c`: a completion a message posts into a ring signals that
/// ring's registered eventfd, whichever way it came (a `MSG_RING` from
/// another ring, `IORING_REGISTER_SEND_MSG_RING` from no ring); turned
/// off with `IORING_CQ_EVENTFD_DISABLED`, it is not signalled, though the
/// completion still arrives; an eventfd registered for async completions
/// only is signalled by neither (the poster is no io-wq worker).
#[test]
fn messages_signal_the_receiver_s_eventfd_as_its_settings_say() {
    let _watch = watchdog();
    if !require_kernel(5, 18, "MSG_RING") {
        return;
    }
    let mut sender = Ring::new(4).unwrap();
    let mut receiver = Ring::new(8).unwrap();
    let efd = eventfd();
    receiver.register_eventfd(efd.as_fd(), false).unwrap();
    let target = receiver.msg_target().unwrap();
    let cqe = complete(&mut sender, MsgRing::new(&target, 7, 0x71).user_data(1));
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_eq!(reap(&mut receiver, 1), [(0x71, 7)]);
    assert_eq!(take_count(&efd), 1, "the message's completion signals");
    let posted = require_kernel(6, 13, "posting from no ring");
    if posted {
        target.post(8, 0x72).unwrap();
        assert_eq!(reap(&mut receiver, 1), [(0x72, 8)]);
        assert_eq!(take_count(&efd), 1, "a posted completion signals");
    }
    receiver.set_cq_eventfd(false).unwrap();
    let cqe = complete(&mut sender, MsgRing::new(&target, 9, 0x73).user_data(1));
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_eq!(reap(&mut receiver, 1), [(0x73, 9)]);
    assert_eq!(take_count(&efd), 0, "signalled while turned off");
    receiver.set_cq_eventfd(true).unwrap();
    receiver.unregister_eventfd().unwrap();

    let async_fd = eventfd();
    receiver.register_eventfd(async_fd.as_fd(), true).unwrap();
    let cqe = complete(&mut sender, MsgRing::new(&target, 10, 0x74).user_data(1));
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    if posted {
        target.post(11, 0x75).unwrap();
    }
    let expected = if posted {
        vec![(0x74, 10), (0x75, 11)]
    } else {
        vec![(0x74, 10)]
    };
    assert_eq!(reap(&mut receiver, expected.len()), expected);
    assert_eq!(take_count(&async_fd), 0, "an async-only eventfd signalled");
    receiver.unregister_eventfd().unwrap();
}

// ---------------------------------------------------------------------
// Rings named by their registered index only.

/// A ring whose descriptor was closed (`close_ring_fd`) keeps receiving
/// messages through a `RingTarget` made before, which holds its own
/// duplicate; a new target is refused (`EBADF`), and so is a message
/// aimed at the ring itself through `RingSlot::alloc` or `&Ring`
/// (its descriptor number is -1 now): the sender's completion is
/// `-EBADF` and nothing reaches the ring, nor any other ring or file.
#[test]
fn a_ring_whose_descriptor_was_closed_is_reached_only_through_its_old_target() {
    let _watch = watchdog();
    if !require_kernel(6, 3, "register calls through a registered ring") {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    ring.register_ring_fd().unwrap();
    let target = ring.msg_target().unwrap();
    if let Err(e) = ring.close_ring_fd() {
        skip(format!("close_ring_fd: {e}"));
        return;
    }
    assert_eq!(ring.as_raw_fd(), -1);
    let e = ring.msg_target().unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{e}");

    let mut sender = Ring::new(4).unwrap();
    let cqe = complete(&mut sender, MsgRing::new(&target, 3, 0x31).user_data(1));
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_eq!(reap(&mut ring, 1), [(0x31, 3)]);

    let f = uring_tests::file_of(b"file");
    let source = sender.register_files(&[f.as_fd()]).unwrap();
    let table = ring.register_files_sparse(2).unwrap();
    let cqe = complete(
        &mut sender,
        MsgRingFd::new(RingSlot::alloc(&ring), source.get(0).unwrap(), 0x32),
    );
    assert_eq!(cqe.res(), -libc::EBADF, "{cqe:?}");
    let cqe = complete(&mut sender, MsgRing::new(&ring, 4, 0x33).user_data(1));
    assert_eq!(cqe.res(), -libc::EBADF, "{cqe:?}");
    assert_eq!(reap(&mut ring, 0), [], "a message reached the ring");
    assert_eq!(reap(&mut sender, 0), []);
    // Through the old target, the file lands, in slot 0: the refused
    // message filled nothing.
    let cqe = complete(
        &mut sender,
        MsgRingFd::new(RingSlot::alloc_in(&target), source.get(0).unwrap(), 0x34),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_eq!(reap(&mut ring, 1), [(0x34, 0)]);
    // The ring's scopes take ops again once its target is gone.
    drop(target);
    assert_eq!(read_slot(&mut ring, &table, 0), Ok(b"file".to_vec()));
    assert_eq!(read_slot(&mut ring, &table, 1), Err(libc::EBADF));
    ring.unregister_files(table).unwrap();
    sender.unregister_files(source).unwrap();
}

/// `create_many` rings each have their own file table: a `Fixed` of one is
/// refused on the others (`ForeignFile`), a file passed between two of
/// them lands in the receiver's table only, and unregistering one ring's
/// table leaves the other's slots as they were.
#[test]
fn rings_made_together_keep_their_file_tables_apart() {
    let _watch = watchdog();
    let mut rings = match Ring::create_many(2, 8, 1, &Ring::builder()) {
        Ok(rings) => rings,
        Err(e) => {
            skip(format!("create_many: {e}"));
            return;
        }
    };
    let mut b = rings.pop().unwrap();
    let mut a = rings.pop().unwrap();
    let fa = uring_tests::file_of(b"from a");
    let fb = uring_tests::file_of(b"from b");
    let ta = a.register_files(&[fa.as_fd()]).unwrap();
    let tb = b.register_file_slots(&[Some(fb.as_fd()), None]).unwrap();
    let mut buf = [0u8; 8];
    let refused = b.scope(|s| {
        s.push(Read::new(ta.get(0).unwrap(), &mut buf[..]))
            .map_err(|e| e.kind())
            .err()
    });
    assert_eq!(refused, Some(uring::PushErrorKind::ForeignFile));
    if require_kernel(6, 0, "file messages") {
        let cqe = complete(
            &mut a,
            MsgRingFd::new(RingSlot::alloc(&b), ta.get(0).unwrap(), 0x41),
        );
        assert_eq!(cqe.res(), 1, "{cqe:?}");
        assert_eq!(reap(&mut b, 1), [(0x41, 1)]);
        assert_eq!(read_slot(&mut b, &tb, 1), Ok(b"from a".to_vec()));
    }
    a.unregister_files(ta).unwrap();
    assert_eq!(read_slot(&mut b, &tb, 0), Ok(b"from b".to_vec()));
    b.unregister_files(tb).unwrap();
}
