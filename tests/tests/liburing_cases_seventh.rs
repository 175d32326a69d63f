//! A seventh batch of ports of liburing's own test cases (the `test/`
//! directory of github.com/axboe/liburing) to uring's API. Each test
//! program of that directory that Linux 6.18 runs without special hardware
//! has a port in one of the other suites (`version.c`, `nolibc.c` and the
//! `xfail_*.c` compile-failure cases test liburing itself); this one ports
//! the cases of those programs that the other ports leave out: installing
//! direct descriptors as regular ones (`fd-install.c`), growing, shrinking,
//! replacing and emptying fixed-file tables (`file-register.c`),
//! `EPOLL_WAIT` (`epwait.c`), cancelling `O_DIRECT` reads and writes and an
//! SQ thread's io-wq work (`io-cancel.c`), restrictions
//! (`register-restrictions.c`), direct opens into slots that do not exist
//! (`openat2.c`), the layout of a multishot `recvmsg` (`recv-multishot.c`),
//! a TCP server and client made of direct sockets (`bind-listen.c`), tags
//! of registered buffers (`rsrc_tags.c`), buffer tables cloned empty or
//! filled from huge pages (`regbuf-clone.c`) and `O_DIRECT` reads that
//! overflow the CQ (`cq-overflow.c`). Each test names its C file and case
//! and asserts what the C test asserts of the kernel (results, errnos,
//! order, counts, flags), and more where it is cheap. Where the C test
//! reaches the kernel in a way uring refuses on purpose (a fixed-file op
//! without the fixed-file bit, a slot no table has, an update past a
//! table's end, flag bits the typed builders do not name), the port writes
//! that SQE by hand through `push_raw`, or makes that register call through
//! `uring::sys`, and says so.
//!
//! What uring cannot express, and is left out:
//!
//! - timeout-new.c `test_multi_threads_timeout`: two threads waiting on one
//!   ring at once; uring's waits take the ring by `&mut`, one at a time.
//! - io-cancel.c `test_cancel_req_across_fork` and
//!   `test_cancel_inflight_exit`: a forked child submitting to its parent's
//!   ring; a `Ring` is not used across `fork` (the child of the
//!   multithreaded test process may only make async-signal-safe calls).
//! - regbuf-clone.c `test_same`: a ring's buffers cloned into the ring
//!   itself; `Ring::clone_buffers_replace` takes its destination by `&mut`
//!   and its source by `&`, which cannot be one ring.
//! - rsrc_tags.c `test_buffers_empty_buffers`'s update with a null base and
//!   a length of 1: an `IoSliceMut` is never null.
//! - bind-listen.c `test_bad_sockname` and the `GETSOCKNAME` command of
//!   `test_good_server` need Linux 6.19; the good server takes the C test's
//!   path for older kernels (`FIXED_FD_INSTALL`, then `getsockname(2)`).
//!   Its `SO_REUSEADDR` on the direct socket is left out: socket commands
//!   take a socket descriptor, not a registered file.
//! - The C files no suite ports need what Linux 6.18 or a virtual machine
//!   lacks: `cbpf_filter.c`, `bpf_cp.c`, `bpf_nops.c` and `task-restrict.c`
//!   (Linux 7.0), the `sqe-mixed-*.c` files (`IORING_SETUP_SQE_MIXED`),
//!   `zcrx.c` (a NIC with header split), `io_uring_passthrough.c` (NVMe),
//!   `uring_cmd_ublk.c` (ublk), `cmd-zone-reset-all.c` (a zoned device) and
//!   `mock_file.c` (the io_uring mock driver).

use std::fs::{File, OpenOptions};
use std::io::{IoSlice, IoSliceMut, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use uring::ops::{
    Accept, Bind, Cancel, Connect, EpollWait, FilesUpdate, FixedFdInstall, Listen, Nop, Read,
    ReadFixed, ReadV, Recv, Send, Socket, Write, WriteV,
};
use uring::{
    Cqe, DirectSlot, Features, FileUpdates, FilesAt, FixedFiles, InstallFlags, MsgLayout,
    PushErrorKind, RecvMsgOut, Restriction, Ring, SockAddr, SqeFlags, sys,
};
use uring_tests::{
    PATIENCE, aligned_blocks, block_bytes, complete, pairs, pattern, pipe, push_lent, raw_sqe,
    require_op, skip, stray, wait_cqes,
};

// ---------------------------------------------------------------- helpers

/// Takes ownership of a descriptor an op returned.
fn owned(fd: i32) -> OwnedFd {
    assert!(fd >= 0, "not a descriptor: {fd}");
    // SAFETY: the kernel just returned this descriptor to this process, and
    // nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// The descriptor flags (`F_GETFD`) of `fd`.
fn fd_flags(fd: RawFd) -> i32 {
    // SAFETY: F_GETFD only reads the descriptor table.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    assert!(flags >= 0, "F_GETFD: {}", std::io::Error::last_os_error());
    flags
}

/// Waits (up to [`PATIENCE`]) until the kernel has consumed every SQE
/// pushed: on an SQPOLL ring, until its thread has issued them.
fn wait_consumed(ring: &mut Ring) {
    let end = std::time::Instant::now() + PATIENCE;
    while ring.pending() > 0 {
        assert!(
            std::time::Instant::now() < end,
            "SQEs still unconsumed after {PATIENCE:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Pushes the hand-written `sqes` (see each caller for what they name).
///
/// # Safety
///
/// The SQEs name no memory, or memory that outlives their completions.
unsafe fn push_raw(ring: &mut Ring, sqes: &[sys::io_uring_sqe]) {
    // SAFETY: the caller's contract.
    unsafe { ring.push_raw(sqes) }.unwrap();
}

// ---------------------------------------------------------------- fd-install.c

/// fd-install.c `test_flags`, on a pipe's read end in a registered slot:
/// an install flag the kernel does not know (bit 17) fails with `EINVAL`;
/// `IORING_FIXED_FD_NO_CLOEXEC` is taken, inline and with `IOSQE_ASYNC`,
/// and the new descriptor is then not close-on-exec (one installed with
/// no flag is). (The unknown bit is one the typed flags do not name: made
/// with `unsafe` `from_bits_retain`.)
#[test]
fn fd_install_flags() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    if !require_op::<FixedFdInstall>(&ring) {
        return;
    }
    let (rx, _tx) = pipe();
    let files = ring.register_files(&[rx.as_fd()]).unwrap();
    // SAFETY: bit 17 is no `IORING_FIXED_FD_*` flag; the kernel refuses it
    // before it installs anything, and the op names no memory.
    let unknown = unsafe { InstallFlags::from_bits_retain(1 << 17) };
    let c = complete(
        &mut ring,
        FixedFdInstall::new(files.get(0).unwrap())
            .install_fd_flags(unknown)
            .user_data(1),
    );
    assert_eq!(c.res(), -libc::EINVAL, "an unknown flag: {c:?}");
    for async_ in [false, true] {
        let mut op = FixedFdInstall::new(files.get(0).unwrap())
            .install_fd_flags(InstallFlags::NO_CLOEXEC)
            .user_data(2);
        if async_ {
            op = op.flags(SqeFlags::ASYNC);
        }
        let c = complete(&mut ring, op);
        let fd = owned(c.res());
        assert_eq!(
            fd_flags(fd.as_raw_fd()) & libc::FD_CLOEXEC,
            0,
            "NO_CLOEXEC, async {async_}"
        );
        let c = complete(
            &mut ring,
            FixedFdInstall::new(files.get(0).unwrap()).user_data(3),
        );
        let fd = owned(c.res());
        assert_eq!(
            fd_flags(fd.as_raw_fd()) & libc::FD_CLOEXEC,
            libc::FD_CLOEXEC,
            "no flag, async {async_}"
        );
    }
    ring.unregister_files(files).unwrap();
}

/// fd-install.c `test_not_fixed`: a `FIXED_FD_INSTALL` without
/// `IOSQE_FIXED_FILE` fails with `EBADF`, though slot 0 holds a pipe.
/// (The typed op always sets the bit: the SQE is written by hand.)
#[test]
fn fd_install_not_fixed() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    if !require_op::<FixedFdInstall>(&ring) {
        return;
    }
    let (rx, _tx) = pipe();
    let files = ring.register_files(&[rx.as_fd()]).unwrap();
    let sqe = raw_sqe(sys::IORING_OP_FIXED_FD_INSTALL, 0, 0, 0, 0, 1);
    // SAFETY: the SQE names no memory; the kernel fails it at its prep.
    unsafe { push_raw(&mut ring, &[sqe]) };
    let got = wait_cqes(&mut ring, 1);
    assert_eq!(pairs(&got), [(1, -libc::EBADF)]);
    ring.unregister_files(files).unwrap();
}

/// fd-install.c `test_bad_fd`: on a ring without a file table, installing
/// slot 0 or slot 500 fails with `EBADF`. (A `Fixed` comes only from a
/// table's handle, which this ring has not: the SQEs are written by hand.)
#[test]
fn fd_install_bad_fd() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    if !require_op::<FixedFdInstall>(&ring) {
        return;
    }
    for (ud, slot) in [(1, 0), (2, 500)] {
        let sqe = raw_sqe(
            sys::IORING_OP_FIXED_FD_INSTALL,
            slot,
            0,
            0,
            sys::IOSQE_FIXED_FILE,
            ud,
        );
        // SAFETY: the SQE names no memory, and no slot of this ring.
        unsafe { push_raw(&mut ring, &[sqe]) };
        let got = wait_cqes(&mut ring, 1);
        assert_eq!(pairs(&got), [(ud, -libc::EBADF)], "slot {slot}");
    }
}

/// fd-install.c `test_creds`: an install that names a registered
/// personality fails with `EPERM`, inline and with `IOSQE_ASYNC`.
#[test]
fn fd_install_creds() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    if !require_op::<FixedFdInstall>(&ring) {
        return;
    }
    let (rx, _tx) = pipe();
    let files = ring.register_files(&[rx.as_fd()]).unwrap();
    let creds = ring.register_personality().unwrap();
    for async_ in [false, true] {
        let mut op = FixedFdInstall::new(files.get(0).unwrap())
            .personality(creds)
            .user_data(1);
        if async_ {
            op = op.flags(SqeFlags::ASYNC);
        }
        let c = complete(&mut ring, op);
        assert_eq!(c.res(), -libc::EPERM, "async {async_}: {c:?}");
    }
    ring.unregister_personality(creds).unwrap();
    ring.unregister_files(files).unwrap();
}

// ---------------------------------------------------------------- file-register.c

/// `n` new, empty files in `dir`, named `PREFIX.i` (file-register.c's
/// `open_files`).
fn open_files(dir: &Path, prefix: &str, n: usize) -> Vec<File> {
    (0..n)
        .map(|i| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(dir.join(format!("{prefix}.{i}")))
                .unwrap()
        })
        .collect()
}

/// The slots of `files`, each holding its file.
fn slots(files: &[File]) -> Vec<Option<BorrowedFd<'_>>> {
    files.iter().map(|f| Some(f.as_fd())).collect()
}

/// file-register.c `test_fixed_read_write`: 4096 bytes of 0x5a written at
/// offset 0 of the file in slot `index` with a vectored write, and read
/// back with a vectored read: both move 4096 bytes, and the bytes match.
fn fixed_read_write(ring: &mut Ring, files: &FixedFiles, index: u32) {
    let out = vec![0x5a_u8; 4096];
    let mut back = vec![0u8; 4096];
    let iov = [IoSlice::new(&out)];
    let c = complete(
        ring,
        WriteV::new(files.get(index).unwrap(), &iov).user_data(1),
    );
    assert_eq!(c.res(), 4096, "write through slot {index}");
    let mut iov = [IoSliceMut::new(&mut back)];
    let c = complete(
        ring,
        ReadV::new(files.get(index).unwrap(), &mut iov).user_data(2),
    );
    assert_eq!(c.res(), 4096, "read through slot {index}");
    assert_eq!(back, out, "slot {index}: the bytes read back");
}

/// `IORING_REGISTER_FILES_UPDATE` of `fds` at `offset`, straight to the
/// kernel: what it answers to an update uring refuses before the call.
fn raw_files_update(ring: &Ring, offset: u32, fds: &[i32]) -> std::io::Result<u32> {
    let update = sys::io_uring_files_update {
        offset,
        resv: 0,
        fds: fds.as_ptr() as u64,
    };
    // SAFETY: the update and the descriptors it points to outlive the
    // call; an update the kernel takes changes only slots of the table,
    // which the test's handle does not describe otherwise.
    unsafe {
        sys::io_uring_register(
            ring.as_raw_fd(),
            sys::IORING_REGISTER_FILES_UPDATE,
            (&update as *const sys::io_uring_files_update).cast(),
            fds.len() as u32,
        )
    }
}

/// file-register.c `test_basic`: a table of 100 files registers and
/// unregisters; one of 10 files followed by 90 entries of -2 (no
/// descriptor, and not the -1 of an empty slot) is refused (`EBADF`, or
/// `EFAULT` on older kernels). (Safe code cannot name -2: that
/// registration is made through `uring::sys`.)
#[test]
fn file_register_basic() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let mut ring = Ring::new(8).unwrap();
    let files = open_files(dir.path(), "reg", 100);
    let table = ring.register_file_slots(&slots(&files)).unwrap();
    assert_eq!(table.len(), 100);
    ring.unregister_files(table).unwrap();

    let mut fds: Vec<i32> = files[..10].iter().map(|f| f.as_raw_fd()).collect();
    fds.resize(100, -2);
    // SAFETY: the descriptors outlive the call; the kernel refuses the
    // table (checked below), so nothing stays registered.
    let r = unsafe {
        sys::io_uring_register(
            ring.as_raw_fd(),
            sys::IORING_REGISTER_FILES,
            fds.as_ptr().cast(),
            100,
        )
    };
    let e = r.expect_err("a table with -2 entries registered");
    assert!(
        matches!(e.raw_os_error(), Some(libc::EBADF | libc::EFAULT)),
        "{e}"
    );
    // The ring has no table: one registers again.
    let table = ring.register_files(&[files[0].as_fd()]).unwrap();
    ring.unregister_files(table).unwrap();
}

/// file-register.c `test_basic_many`: a table of 768 files registers and
/// unregisters.
#[test]
fn file_register_basic_many() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::raise_nofile(4096) {
        return skip("cannot raise the descriptor limit to 4096");
    }
    let dir = uring_tests::test_dir!();
    let mut ring = Ring::new(8).unwrap();
    let files = open_files(dir.path(), "reg", 768);
    let table = ring.register_file_slots(&slots(&files)).unwrap();
    assert_eq!(table.len(), 768);
    ring.unregister_files(table).unwrap();
}

/// file-register.c `test_sparse`: 100 files then 100 empty slots register
/// (`-1` entries) and unregister.
#[test]
fn file_register_sparse() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let mut ring = Ring::new(8).unwrap();
    let files = open_files(dir.path(), "reg", 100);
    let mut table = slots(&files);
    table.resize(200, None);
    let table = ring.register_file_slots(&table).unwrap();
    assert_eq!(table.len(), 200);
    ring.unregister_files(table).unwrap();
}

/// file-register.c `test_additions`: 100 files and 100 empty slots; two
/// new files put at slots 100 and 101 in one update count 2. Then a fixed
/// write and read through slot 101 reach the second new file.
#[test]
fn file_register_additions() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let mut ring = Ring::new(8).unwrap();
    let files = open_files(dir.path(), "reg", 100);
    let mut all = slots(&files);
    all.resize(200, None);
    let mut table = ring.register_file_slots(&all).unwrap();
    let added = open_files(dir.path(), "add", 2);
    assert_eq!(
        ring.update_files(&mut table, 100, &slots(&added)).unwrap(),
        2
    );
    fixed_read_write(&mut ring, &table, 101);
    assert_eq!(added[1].metadata().unwrap().len(), 4096);
    assert_eq!(added[0].metadata().unwrap().len(), 0);
    ring.unregister_files(table).unwrap();
}

/// file-register.c `test_removals`: 100 files; emptying slots 50 to 59 in
/// one update counts 10. Then a write through slot 55 fails with `EBADF`,
/// and one through slot 60 still works.
#[test]
fn file_register_removals() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let mut ring = Ring::new(8).unwrap();
    let files = open_files(dir.path(), "reg", 100);
    let mut table = ring.register_file_slots(&slots(&files)).unwrap();
    assert_eq!(ring.update_files(&mut table, 50, &[None; 10]).unwrap(), 10);
    let c = complete(
        &mut ring,
        Write::new(table.get(55).unwrap(), b"x").user_data(1),
    );
    assert_eq!(c.res(), -libc::EBADF, "an emptied slot: {c:?}");
    fixed_read_write(&mut ring, &table, 60);
    ring.unregister_files(table).unwrap();
}

/// file-register.c `test_replace`: 100 files; ten new ones put at slots
/// 90 to 99 in one update count 10. Then a write through slot 95 reaches
/// the sixth new file, not the file it replaced.
#[test]
fn file_register_replace() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let mut ring = Ring::new(8).unwrap();
    let files = open_files(dir.path(), "reg", 100);
    let mut table = ring.register_file_slots(&slots(&files)).unwrap();
    let new = open_files(dir.path(), "add", 10);
    assert_eq!(ring.update_files(&mut table, 90, &slots(&new)).unwrap(), 10);
    fixed_read_write(&mut ring, &table, 95);
    assert_eq!(new[5].metadata().unwrap().len(), 4096);
    assert_eq!(files[95].metadata().unwrap().len(), 0);
    ring.unregister_files(table).unwrap();
}

/// file-register.c `test_replace_all`: 100 files; emptying all 100 slots
/// in one update counts 100; the table then unregisters.
#[test]
fn file_register_replace_all() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let mut ring = Ring::new(8).unwrap();
    let files = open_files(dir.path(), "reg", 100);
    let mut table = ring.register_file_slots(&slots(&files)).unwrap();
    assert_eq!(ring.update_files(&mut table, 0, &[None; 100]).unwrap(), 100);
    let c = complete(
        &mut ring,
        Write::new(table.get(0).unwrap(), b"x").user_data(1),
    );
    assert_eq!(c.res(), -libc::EBADF, "an emptied slot: {c:?}");
    ring.unregister_files(table).unwrap();
}

/// file-register.c `test_grow`: 50 files and 250 empty slots; each of
/// slots 50 to 299 takes a new file in an update of its own (1 each); an
/// update at slot 300, past the table, fails: uring refuses it before the
/// call, and the kernel (asked through `uring::sys`) with `EINVAL`.
#[test]
fn file_register_grow() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let mut ring = Ring::new(8).unwrap();
    let files = open_files(dir.path(), "reg", 50);
    let mut all = slots(&files);
    all.resize(300, None);
    let mut table = ring.register_file_slots(&all).unwrap();
    for off in 50..300 {
        let new = open_files(dir.path(), &format!("add{off}"), 1);
        assert_eq!(
            ring.update_files(&mut table, off, &slots(&new)).unwrap(),
            1,
            "slot {off}"
        );
    }
    let new = open_files(dir.path(), "add300", 1);
    let refused = ring.update_files(&mut table, 300, &slots(&new));
    assert!(
        matches!(refused, Err(uring::Error::InvalidArgument(_))),
        "{refused:?}"
    );
    let e = raw_files_update(&ring, 300, &[new[0].as_raw_fd()]).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
    fixed_read_write(&mut ring, &table, 299);
    ring.unregister_files(table).unwrap();
}

/// file-register.c `test_shrink`: 50 files; each slot is emptied by an
/// update of its own (1 each); an update at slot 50, past the table,
/// fails: uring refuses it, and the kernel (asked through `uring::sys`)
/// with `EINVAL`.
#[test]
fn file_register_shrink() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let mut ring = Ring::new(8).unwrap();
    let files = open_files(dir.path(), "reg", 50);
    let mut table = ring.register_file_slots(&slots(&files)).unwrap();
    for off in 0..50 {
        assert_eq!(
            ring.update_files(&mut table, off, &[None]).unwrap(),
            1,
            "slot {off}"
        );
    }
    let refused = ring.update_files(&mut table, 50, &[None]);
    assert!(
        matches!(refused, Err(uring::Error::InvalidArgument(_))),
        "{refused:?}"
    );
    let e = raw_files_update(&ring, 50, &[-1]).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
    ring.unregister_files(table).unwrap();
}

/// file-register.c `test_zero`: a table of 10 empty slots; a file put at
/// slot 0 counts 1, and fixed I/O through it then works.
#[test]
fn file_register_zero() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let mut ring = Ring::new(8).unwrap();
    let mut table = ring.register_file_slots(&[None; 10]).unwrap();
    let new = open_files(dir.path(), "add", 1);
    assert_eq!(ring.update_files(&mut table, 0, &slots(&new)).unwrap(), 1);
    fixed_read_write(&mut ring, &table, 0);
    ring.unregister_files(table).unwrap();
}

/// file-register.c `test_mixed_af_unix`: one registration of 32 slots
/// alternating a pipe's read end and a Unix datagram socket (files the
/// kernel once had to account for sockets in flight, and files it did
/// not) succeeds; the originals close, and the ring goes away cleanly.
#[test]
fn file_register_mixed_af_unix() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (rx, tx) = pipe();
    let (a, b) = std::os::unix::net::UnixDatagram::pair().unwrap();
    let fds: Vec<BorrowedFd<'_>> = (0..32)
        .map(|i| if i % 2 == 0 { rx.as_fd() } else { a.as_fd() })
        .collect();
    let table = ring.register_files(&fds).unwrap();
    assert_eq!(table.len(), 32);
    drop((rx, tx, a, b));
    ring.unregister_files(table).unwrap();
    drop(ring);
}

/// file-register.c `test_overallocating_file_range` (the case the other
/// file-register ports leave out): on a sparse table of 10 with the
/// allocation range 7..9, two `FILES_UPDATE`s that let the kernel pick a
/// slot each put the pipe in 7 or 8 (1 each, the slot written back); a
/// third finds no free slot (`ENFILE`).
#[test]
fn file_register_overallocating_file_range() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let table = match ring.register_files_sparse(10) {
        Ok(table) => table,
        Err(e) => return skip(format_args!("no sparse file tables: {e}")),
    };
    if let Err(e) = ring.set_file_alloc_range(&table, 7, 2) {
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
        return skip(format_args!("no file allocation ranges (6.0): {e}"));
    }
    let (rx, _tx) = pipe();
    let mut picked = Vec::new();
    for ud in 1..=2 {
        let mut fds = FileUpdates::new(&[Some(rx.as_fd())]);
        let c = complete(
            &mut ring,
            FilesUpdate::new(&mut fds, FilesAt::ALLOC).user_data(ud),
        );
        assert_eq!(c.res(), 1, "allocation {ud}: {c:?}");
        picked.push(fds.slots()[0]);
    }
    picked.sort_unstable();
    assert_eq!(picked, [7, 8], "the slots picked");
    let mut fds = FileUpdates::new(&[Some(rx.as_fd())]);
    let c = complete(
        &mut ring,
        FilesUpdate::new(&mut fds, FilesAt::ALLOC).user_data(3),
    );
    assert_eq!(c.res(), -libc::ENFILE, "past the range: {c:?}");
    ring.unregister_files(table).unwrap();
}

/// file-register.c `test_defer_taskrun`: on a deferred-task-work ring, a
/// fixed read of a registered pipe is in flight, a byte is written to the
/// pipe, and the table is unregistered before the ring runs its task
/// work: the unregistration returns (it does not wait on the read), and
/// the read then completes with the byte.
#[test]
fn file_register_defer_taskrun() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = uring_tests::defer_ring(8) else {
        return;
    };
    let (rx, tx) = pipe();
    let table = ring.register_files(&[rx.as_fd(), tx.as_fd()]).unwrap();
    let mut byte = [0u8; 1];
    push_lent!(
        ring,
        Read::new(table.get(0).unwrap(), &mut byte[..]).user_data(1)
    )
    .unwrap();
    ring.submit().unwrap();
    File::from(tx).write_all(b"x").unwrap();
    ring.unregister_files(table).unwrap();
    let got = wait_cqes(&mut ring, 1);
    assert_eq!(pairs(&got), [(1, 1)]);
    assert_eq!(&byte, b"x");
}

// ---------------------------------------------------------------- epwait.c

/// An epoll set watching each of `fds` for `EPOLLIN`, its data the
/// descriptor's number (epwait.c's `ev.data.fd`).
fn epoll_of(fds: &[BorrowedFd<'_>]) -> OwnedFd {
    // SAFETY: epoll_create1 takes a flag and returns a new descriptor.
    let ep = owned(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) });
    for fd in fds {
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: fd.as_raw_fd() as u64,
        };
        // SAFETY: both descriptors are open, the event outlives the call.
        let rc = unsafe {
            libc::epoll_ctl(
                ep.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                fd.as_raw_fd(),
                &mut event,
            )
        };
        assert_eq!(rc, 0, "epoll_ctl: {}", std::io::Error::last_os_error());
    }
    ep
}

/// The rings epwait.c runs on: plain, deferred task work, SQPOLL.
fn epwait_rings(entries: u32) -> Vec<(&'static str, Ring)> {
    let mut rings = vec![("plain", Ring::new(entries).unwrap())];
    if let Some(ring) = uring_tests::defer_ring(entries) {
        rings.push(("defer_taskrun", ring));
    }
    match uring_tests::sqpoll_ring(entries) {
        Some(ring) => rings.push(("sqpoll", ring)),
        None => skip("no SQPOLL ring: its runs are left out"),
    }
    rings
}

/// No event (what the kernel overwrites).
const NO_EVENT: libc::epoll_event = libc::epoll_event { events: 0, u64: 0 };

/// Reads what a pipe's read end holds (up to 64 bytes); how many bytes.
fn drain_pipe(fd: RawFd) -> isize {
    let mut buf = [0u8; 64];
    // SAFETY: `buf` is writable for its length; `fd` is open.
    unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) }
}

/// epwait.c `test_ready`, on a plain, a deferred-task-work and an SQPOLL
/// ring: both watched pipes readable before the `EPOLL_WAIT` is pushed;
/// it completes with 2 events, whose data name the two pipes.
#[test]
fn epwait_ready() {
    let _watch = uring_tests::watchdog();
    for (kind, mut ring) in epwait_rings(8) {
        if !require_op::<EpollWait<'_>>(&ring) {
            return;
        }
        let (r0, w0) = pipe();
        let (r1, w1) = pipe();
        let ep = epoll_of(&[r0.as_fd(), r1.as_fd()]);
        for w in [w0, w1] {
            File::from(w).write_all(b"foo").unwrap();
        }
        let mut out = [NO_EVENT; 2];
        let c = complete(&mut ring, EpollWait::new(&ep, &mut out[..]).user_data(1));
        assert_eq!(c.res(), 2, "{kind}: {c:?}");
        let mut got: Vec<u64> = out.iter().map(|e| e.u64).collect();
        got.sort_unstable();
        let mut want = vec![r0.as_raw_fd() as u64, r1.as_raw_fd() as u64];
        want.sort_unstable();
        assert_eq!(got, want, "{kind}: the events' data");
        for e in &out {
            assert_ne!(e.events & libc::EPOLLIN as u32, 0, "{kind}");
            assert_eq!(drain_pipe(e.u64 as RawFd), 3, "{kind}");
        }
    }
}

/// epwait.c `test_remove`, on a plain, a deferred-task-work and an SQPOLL
/// ring: an `EPOLL_WAIT` in flight, the epoll descriptor closed under it,
/// then both watched pipes written: the op holds the epoll file, and
/// completes with the events ready when it woke (1 or 2), each naming a
/// watched pipe. (The C test only peeks at the CQ. The descriptor is
/// closed once the kernel has consumed the SQE: an SQ thread that has not
/// yet looked the descriptor up finds it closed, `EBADF`.)
#[test]
fn epwait_remove() {
    let _watch = uring_tests::watchdog();
    for (kind, mut ring) in epwait_rings(8) {
        if !require_op::<EpollWait<'_>>(&ring) {
            return;
        }
        let (r0, w0) = pipe();
        let (r1, w1) = pipe();
        let ep = epoll_of(&[r0.as_fd(), r1.as_fd()]);
        let mut out = [NO_EVENT; 2];
        push_lent!(ring, EpollWait::new(&ep, &mut out[..]).user_data(1)).unwrap();
        ring.submit().unwrap();
        wait_consumed(&mut ring);
        drop(ep);
        std::thread::sleep(Duration::from_millis(10));
        for w in [w0, w1] {
            File::from(w).write_all(b"foo").unwrap();
        }
        let got = wait_cqes(&mut ring, 1);
        assert_eq!(got[0].user_data(), 1, "{kind}");
        let n = got[0].res();
        assert!(n == 1 || n == 2, "{kind}: {got:?}");
        let watched = [r0.as_raw_fd() as u64, r1.as_raw_fd() as u64];
        for e in &out[..n as usize] {
            assert!(watched.contains(&{ e.u64 }), "{kind}: {}", { e.u64 });
        }
    }
}

/// epwait.c `test_race`, on a plain, a deferred-task-work and an SQPOLL
/// ring: a thread writes to 8 watched pipes every 150 us while the ring
/// runs `EPOLL_WAIT`s one after another, each reading what it reported:
/// every wait completes, with at least one event and in the order
/// submitted, and as many complete as were submitted. (200 rounds, where
/// the C test runs 1000. Valgrind, running one thread at a time, would
/// starve the writer while the ring waits: the test skips there.)
#[test]
fn epwait_race() {
    const PIPES: usize = 8;
    const ROUNDS: u64 = 200;
    let _watch = uring_tests::watchdog();
    if uring_tests::under_valgrind() {
        return skip("the writer thread must run while the ring waits");
    }
    for (kind, mut ring) in epwait_rings(32) {
        if !require_op::<EpollWait<'_>>(&ring) {
            return;
        }
        let pipes: Vec<(OwnedFd, OwnedFd)> = (0..PIPES).map(|_| pipe()).collect();
        let ep = epoll_of(&pipes.iter().map(|(r, _)| r.as_fd()).collect::<Vec<_>>());
        let writers: Vec<RawFd> = pipes.iter().map(|(_, w)| w.as_raw_fd()).collect();
        for &w in &writers {
            // SAFETY: the descriptor is open; O_NONBLOCK only changes how
            // a write to a full pipe ends.
            let rc = unsafe { libc::fcntl(w, libc::F_SETFL, libc::O_NONBLOCK) };
            assert_eq!(rc, 0);
        }
        let running = Arc::new(AtomicBool::new(true));
        let writer = {
            let running = running.clone();
            std::thread::spawn(move || {
                while running.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_micros(150));
                    for &w in &writers {
                        // SAFETY: the pipes outlive the thread (joined
                        // below); a full pipe refuses the write.
                        unsafe { libc::write(w, b"foo".as_ptr().cast(), 3) };
                    }
                }
            })
        };
        let mut completed = Vec::new();
        for round in 0..ROUNDS {
            let mut out = [NO_EVENT; PIPES];
            let c = complete(
                &mut ring,
                EpollWait::new(&ep, &mut out[..]).user_data(round),
            );
            assert!(c.res() > 0, "{kind}: round {round}: {c:?}");
            completed.push(c.user_data());
            for e in &out[..c.res() as usize] {
                assert!(drain_pipe(e.u64 as RawFd) > 0, "{kind}: round {round}");
            }
        }
        running.store(false, Ordering::Relaxed);
        writer.join().unwrap();
        assert_eq!(completed, (0..ROUNDS).collect::<Vec<_>>(), "{kind}");
        drop(pipes);
    }
}

// ---------------------------------------------------------------- io-cancel.c

/// io-cancel.c's `FILE_SIZE`.
const CANCEL_FILE_SIZE: usize = 128 * 1024;
/// io-cancel.c's `BS`.
const CANCEL_BS: usize = 4096;
/// io-cancel.c's `BUFFERS`.
const CANCEL_BUFFERS: usize = CANCEL_FILE_SIZE / CANCEL_BS;

/// io-cancel.c `test_io_cancel`, its eight variants (reads or writes,
/// cancelling all or every other one, the cancels inline or `ASYNC`): 32
/// vectored `O_DIRECT` I/Os of 4 KiB at random block offsets of a 128 KiB
/// file, user_data 1 to 32, then cancels by user_data (all, or those of
/// the odd ones) with user_data 0. Every op and every cancel completes,
/// once: each op with 4096 or cancelled (`ECANCELED`, `EINTR`), each cancel
/// with 0, `EALREADY` or `ENOENT` (the op was done); an op not asked to be
/// cancelled completes with 4096. (The C test first times two rounds and
/// sleeps a third of that before cancelling; here the cancels follow at
/// once. A scope lends the buffers and iovecs.)
#[test]
fn io_cancel_io_cancel() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let path = dir.path().join(".io-cancel-test");
    std::fs::write(&path, pattern(CANCEL_FILE_SIZE, 3)).unwrap();
    let Some(file) = uring_tests::open_direct(&path, true) else {
        return;
    };
    let mut rng = uring_tests::Rng(0x10ca_fe00_dead_beef);
    for variant in 0..8 {
        let write = variant & 1 != 0;
        let partial = variant & 2 != 0;
        let async_ = variant & 4 != 0;
        let what = format!("write {write}, partial {partial}, async {async_}");
        let mut ring = Ring::new(4 * CANCEL_BUFFERS as u32).unwrap();
        let offsets: Vec<u64> = (0..CANCEL_BUFFERS)
            .map(|_| (CANCEL_BS as u64) * rng.below(CANCEL_BUFFERS as u64))
            .collect();
        let mut blocks = aligned_blocks(CANCEL_FILE_SIZE);
        let bytes = block_bytes(&mut blocks);
        let cancelled = |ud: u64| !partial || ud & 1 == 1;
        let n_cancels = (1..=CANCEL_BUFFERS as u64)
            .filter(|&ud| cancelled(ud))
            .count();
        let got = if write {
            let iovs: Vec<[IoSlice<'_>; 1]> =
                bytes.chunks(CANCEL_BS).map(|c| [IoSlice::new(c)]).collect();
            ring.scope(|s| {
                for (i, iov) in iovs.iter().enumerate() {
                    s.push(
                        WriteV::new(&file, iov)
                            .offset(offsets[i])
                            .user_data(i as u64 + 1),
                    )
                    .unwrap();
                }
                s.submit().unwrap();
                push_cancels(s, cancelled, async_);
                uring_tests::scope_reap(s, CANCEL_BUFFERS + n_cancels)
            })
        } else {
            let mut iovs: Vec<[IoSliceMut<'_>; 1]> = bytes
                .chunks_mut(CANCEL_BS)
                .map(|c| [IoSliceMut::new(c)])
                .collect();
            ring.scope(|s| {
                for (i, iov) in iovs.iter_mut().enumerate() {
                    s.push(
                        ReadV::new(&file, iov)
                            .offset(offsets[i])
                            .user_data(i as u64 + 1),
                    )
                    .unwrap();
                }
                s.submit().unwrap();
                push_cancels(s, cancelled, async_);
                uring_tests::scope_reap(s, CANCEL_BUFFERS + n_cancels)
            })
        };
        let (cancels, ops): (Vec<Cqe>, Vec<Cqe>) = got.iter().partition(|c| c.user_data() == 0);
        assert_eq!(cancels.len(), n_cancels, "{what}: cancels");
        for c in &cancels {
            assert!(
                matches!(-c.res(), 0 | libc::EALREADY | libc::ENOENT),
                "{what}: a cancel: {c:?}"
            );
        }
        uring_tests::assert_user_data_once(&ops, 1..=CANCEL_BUFFERS as u64);
        for c in &ops {
            if cancelled(c.user_data()) {
                assert!(
                    c.res() == CANCEL_BS as i32
                        || c.res() == -libc::ECANCELED
                        || c.res() == -libc::EINTR,
                    "{what}: {c:?}"
                );
            } else {
                assert_eq!(c.res(), CANCEL_BS as i32, "{what}: not cancelled: {c:?}");
            }
        }
        assert_eq!(stray(&mut ring), [], "{what}");
    }
}

/// Pushes io-cancel.c's `start_cancel`: a cancel (user_data 0) of each op
/// `cancelled` names, `ASYNC` if asked.
fn push_cancels(s: &mut uring::Scope<'_, '_>, cancelled: impl Fn(u64) -> bool, async_: bool) {
    for ud in 1..=CANCEL_BUFFERS as u64 {
        if !cancelled(ud) {
            continue;
        }
        let mut op = Cancel::new(ud).user_data(0);
        if async_ {
            op = op.flags(SqeFlags::ASYNC);
        }
        s.push(op).unwrap();
    }
}

/// io-cancel.c `test_sqpoll_cancel_iowq_requests`: on an SQPOLL ring, a
/// read of an empty pipe and a write to it linked after it, both forced
/// to io-wq (`ASYNC`), so that io-wq holds both ends; the ring is closed
/// while they wait, then the program closes the write end: the ring's
/// teardown cancels them and lets go of the pipe, and the read end sees
/// the end of the stream (where the C test's `read(2)` would otherwise
/// block). (The buffer the ops name is leaked: the teardown runs after
/// the ring's descriptor is closed. The ring is closed once its thread has
/// consumed the SQEs, where the C test sleeps a second.)
#[test]
fn io_cancel_sqpoll_cancel_iowq_requests() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = uring_tests::sqpoll_ring(8) else {
        return skip("no SQPOLL ring");
    };
    let (rx, tx) = pipe();
    let buffer: &'static mut [u8] = Box::leak(vec![0u8; 16].into_boxed_slice());
    let (head, tail) = buffer.split_at_mut(10);
    let chain = Read::new(&rx, head)
        .flags(SqeFlags::ASYNC)
        .user_data(1)
        .link(
            Write::new(&tx, &tail[..])
                .flags(SqeFlags::ASYNC)
                .user_data(2),
        );
    push_lent!(ring, chain).unwrap();
    ring.submit().unwrap();
    wait_consumed(&mut ring);
    drop(ring);
    drop(tx);
    let mut pfd = libc::pollfd {
        fd: rx.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd, alive for the call.
    let n = unsafe { libc::poll(&mut pfd, 1, PATIENCE.as_millis() as i32) };
    assert_eq!(
        n, 1,
        "the pipe's write end is still held after {PATIENCE:?}"
    );
    assert_eq!(drain_pipe(rx.as_raw_fd()), 0, "the end of the stream");
}

// ---------------------------------------------------------------- register-restrictions.c

/// A ring created disabled, with `rules` registered, or `None` (with a
/// skip message) where the kernel has no restrictions.
fn restricted_ring(rules: &[Restriction]) -> Option<Ring> {
    let mut ring = match Ring::builder().r_disabled().build(8) {
        Ok(ring) => ring,
        Err(e) => {
            skip(format_args!("no disabled rings (5.10): {e}"));
            return None;
        }
    };
    match ring.register_restrictions(rules) {
        Ok(()) => Some(ring),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip(format_args!("no restrictions (5.10): {e}"));
            None
        }
        Err(e) => panic!("register_restrictions: {e}"),
    }
}

/// register-restrictions.c `test_restrictions_sqe_op`: with only `WRITEV`
/// and `WRITE` allowed, a vectored write of 8 bytes to a pipe runs (8)
/// and a vectored read of them is refused (`EACCES`).
#[test]
fn register_restrictions_sqe_op() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = restricted_ring(&[
        Restriction::op::<WriteV<'_, '_>>(),
        Restriction::op::<Write<'_>>(),
    ]) else {
        return;
    };
    ring.enable().unwrap();
    let (rx, tx) = pipe();
    let word = 0x1122_3344_5566_7788_u64.to_ne_bytes();
    let mut back = [0u8; 8];
    let out = [IoSlice::new(&word)];
    let mut into = [IoSliceMut::new(&mut back)];
    push_lent!(ring, WriteV::new(&tx, &out).user_data(1)).unwrap();
    push_lent!(ring, ReadV::new(&rx, &mut into).user_data(2)).unwrap();
    let mut got = pairs(&wait_cqes(&mut ring, 2));
    got.sort_unstable();
    assert_eq!(got, [(1, 8), (2, -libc::EACCES)]);
}

/// register-restrictions.c `test_restrictions_register_op`: with only
/// `IORING_REGISTER_BUFFERS` allowed, registering a buffer works and
/// registering files is refused (`EACCES`).
#[test]
fn register_restrictions_register_op() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) =
        restricted_ring(&[Restriction::register_op(sys::IORING_REGISTER_BUFFERS as u8)])
    else {
        return;
    };
    ring.enable().unwrap();
    let mut word = [0u8; 8];
    // SAFETY: `word` outlives the ring, which is dropped first below, and
    // no op uses it.
    let buffers = unsafe { ring.register_buffers(&[IoSliceMut::new(&mut word)]) }.unwrap();
    assert_eq!(buffers.len(), 1);
    let (rx, tx) = pipe();
    let e = ring.register_files(&[rx.as_fd(), tx.as_fd()]).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EACCES), "{e}");
    drop(ring);
}

/// register-restrictions.c `test_restrictions_fixed_file`: with `WRITEV`
/// and `READV` allowed, `IOSQE_FIXED_FILE` required and
/// `IORING_REGISTER_FILES` allowed, a pipe's two ends register; a fixed
/// vectored write of 8 bytes and a fixed vectored read of them run (8
/// each), and a vectored write to the pipe's plain descriptor is refused
/// (`EACCES`).
#[test]
fn register_restrictions_fixed_file() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = restricted_ring(&[
        Restriction::op::<WriteV<'_, '_>>(),
        Restriction::op::<ReadV<'_, '_>>(),
        Restriction::sqe_flags_required(sys::IOSQE_FIXED_FILE),
        Restriction::register_op(sys::IORING_REGISTER_FILES as u8),
    ]) else {
        return;
    };
    ring.enable().unwrap();
    let (rx, tx) = pipe();
    let table = ring.register_files(&[rx.as_fd(), tx.as_fd()]).unwrap();
    let word = 0x0102_0304_0506_0708_u64.to_ne_bytes();
    let mut back = [0u8; 8];
    let out = [IoSlice::new(&word)];
    let mut into = [IoSliceMut::new(&mut back)];
    push_lent!(ring, WriteV::new(table.get(1).unwrap(), &out).user_data(1)).unwrap();
    push_lent!(
        ring,
        ReadV::new(table.get(0).unwrap(), &mut into).user_data(2)
    )
    .unwrap();
    push_lent!(ring, WriteV::new(&tx, &out).user_data(3)).unwrap();
    let mut got = pairs(&wait_cqes(&mut ring, 3));
    got.sort_unstable();
    assert_eq!(got, [(1, 8), (2, 8), (3, -libc::EACCES)]);
    assert_eq!(back, word);
}

/// register-restrictions.c `test_restrictions_rings_not_disabled`:
/// restrictions on a ring created enabled are refused (`EBADFD`).
#[test]
fn register_restrictions_rings_not_disabled() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let e = ring
        .register_restrictions(&[Restriction::op::<WriteV<'_, '_>>()])
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EBADFD), "{e}");
}

/// register-restrictions.c `test_restrictions_rings_disabled`: a ring
/// still disabled takes no submission: the NOP pushed is queued, and the
/// submit fails with `EBADFD` (a scope refuses the push itself,
/// `PushErrorKind::Disabled`, since it could not wait for the op). Once
/// the ring is enabled, the NOP left in the queue is submitted and
/// completes, once.
#[test]
fn register_restrictions_rings_disabled() {
    let _watch = uring_tests::watchdog();
    let mut ring = match Ring::builder().r_disabled().build(8) {
        Ok(ring) => ring,
        Err(e) => return skip(format_args!("no disabled rings (5.10): {e}")),
    };
    ring.push(Nop::new().user_data(1)).unwrap();
    let e = ring.submit().unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EBADFD), "{e}");
    ring.scope(|s| {
        let e = s.push(Nop::new().user_data(2)).unwrap_err();
        assert!(matches!(e.kind(), PushErrorKind::Disabled), "{e:?}");
    });
    ring.enable().unwrap();
    assert_eq!(pairs(&wait_cqes(&mut ring, 1)), [(1, 0)]);
    assert_eq!(stray(&mut ring), []);
}

// ---------------------------------------------------------------- openat2.c

/// An `OPENAT2` of `path` with `how`, into direct slot `file_index - 1`,
/// written by hand (openat2.c `test_openat2` with a fixed slot).
fn openat2_direct_sqe(
    path: &std::ffi::CStr,
    how: &libc::open_how,
    file_index: u32,
    user_data: u64,
) -> sys::io_uring_sqe {
    let mut sqe = raw_sqe(
        sys::IORING_OP_OPENAT2,
        libc::AT_FDCWD,
        path.as_ptr() as u64,
        std::mem::size_of::<libc::open_how>() as u32,
        0,
        user_data,
    );
    sqe.off = sys::io_uring_sqe_off {
        addr2: how as *const libc::open_how as u64,
    };
    sqe.file = sys::io_uring_sqe_file { file_index };
    sqe
}

/// openat2.c `test_open_fixed_fail`: a direct open into slot 0 of a ring
/// without a file table fails with `ENXIO`; with a table of one slot, one
/// into slot 1, into slot 2^16 and into slot 2^16 + 1 (past the table, and
/// past a 16-bit index) fails with `EINVAL`. (A slot comes only from a
/// table's handle, and only inside the table: the SQEs are written by
/// hand.)
#[test]
fn openat2_open_fixed_fail() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let path = dir.path().join("openat2");
    std::fs::write(&path, b"x").unwrap();
    let cpath = uring_tests::cpath(&path);
    // SAFETY: all-zero bytes are a valid `open_how`.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = libc::O_RDONLY as u64;
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<uring::ops::OpenAt2<'_>>(&ring) {
        return;
    }
    let sqe = openat2_direct_sqe(&cpath, &how, 1, 1);
    // SAFETY: the path and the `open_how` outlive the completion, reaped
    // below.
    unsafe { push_raw(&mut ring, &[sqe]) };
    assert_eq!(pairs(&wait_cqes(&mut ring, 1)), [(1, -libc::ENXIO)]);

    let table = ring.register_file_slots(&[None]).unwrap();
    for (ud, slot) in [(2, 1_u32), (3, 1 << 16), (4, (1 << 16) + 1)] {
        let sqe = openat2_direct_sqe(&cpath, &how, slot + 1, ud);
        // SAFETY: as above.
        unsafe { push_raw(&mut ring, &[sqe]) };
        assert_eq!(
            pairs(&wait_cqes(&mut ring, 1)),
            [(ud, -libc::EINVAL)],
            "slot {slot}"
        );
    }
    ring.unregister_files(table).unwrap();
}

// ---------------------------------------------------------------- recv-multishot.c

/// recv-multishot.c `test_recvmsg_validate`, on `RecvMsgOut::parse` (what
/// liburing's `io_uring_recvmsg_validate` and `_payload_length` do): with
/// room for a 4-byte name and 8 bytes of control data, a 64-byte buffer
/// and one of exactly 28 bytes (16 of header) parse, one of 27 does not;
/// with no room, 15 bytes (less than the header) do not; room for control
/// data whose length overflows with the header's does not; the payload of
/// the 64-byte buffer is its last 36 bytes (the kernel's payload length
/// being larger); a name and control room larger than the buffer give no
/// message, not a wrapped length.
#[test]
fn recv_multishot_recvmsg_validate() {
    let mut buf = [0u8; 64];
    // The header's `payloadlen`: more than the buffer holds.
    buf[8..12].copy_from_slice(&100_u32.to_ne_bytes());
    let layout = MsgLayout::new(4, 8);
    assert!(RecvMsgOut::parse(&buf, &layout).is_some(), "64 bytes");
    assert!(
        RecvMsgOut::parse(&buf[..28], &layout).is_some(),
        "exact fit"
    );
    assert!(
        RecvMsgOut::parse(&buf[..27], &layout).is_none(),
        "a byte short"
    );
    let empty = MsgLayout::new(0, 0);
    assert!(
        RecvMsgOut::parse(&buf[..15], &empty).is_none(),
        "less than the header"
    );
    let overflow = MsgLayout::new(
        4,
        usize::MAX - std::mem::size_of::<sys::io_uring_recvmsg_out>(),
    );
    assert!(
        RecvMsgOut::parse(&buf, &overflow).is_none(),
        "control room that overflows"
    );
    let msg = RecvMsgOut::parse(&buf, &layout).unwrap();
    assert_eq!(msg.payload().len(), 36, "the payload");
    assert_eq!(msg.payload().as_ptr(), buf[28..].as_ptr());
    let big = MsgLayout::new(40, 30);
    assert!(
        RecvMsgOut::parse(&buf, &big).is_none(),
        "name and control room past the buffer"
    );
}

// ---------------------------------------------------------------- bind-listen.c

/// bind-listen.c's `magic`.
const MAGIC: &[u8] = b"Hello World!";

/// bind-listen.c `test_good_server`, on a plain and a deferred-task-work
/// ring: in a sparse table of 3 slots, a TCP socket made direct (slot 0),
/// bound to an ephemeral port and listening, linked; its address (through
/// a descriptor installed from the slot); a client socket made direct
/// (slot 1), connected to it and sending the magic string, linked; an
/// accept into a direct slot (2); the client's peer address is the
/// server's, on loopback; a receive through slot 2 gets the magic string.
/// Every op succeeds. (The sockets take slots the kernel picks, as the
/// ops naming them are linked in one chain; see the module's docs for the
/// address command and `SO_REUSEADDR`.)
#[test]
fn bind_listen_good_server() {
    let _watch = uring_tests::watchdog();
    let mut rings = vec![("plain", Ring::new(16).unwrap())];
    if let Some(ring) = uring_tests::defer_ring(16) {
        rings.push(("defer_taskrun", ring));
    }
    for (kind, mut ring) in rings {
        if !require_op::<Listen>(&ring) || !require_op::<FixedFdInstall>(&ring) {
            return;
        }
        let table = ring.register_files_sparse(3).unwrap();
        let any = SockAddr::from(SocketAddr::from(([0, 0, 0, 0], 0)));
        let server = ring.scope(|s| {
            s.push(
                Socket::new(libc::AF_INET, libc::SOCK_STREAM)
                    .direct(DirectSlot::ALLOC)
                    .user_data(1)
                    .link(Bind::new(table.get(0).unwrap(), &any).user_data(2))
                    .link(Listen::new(table.get(0).unwrap(), 1).user_data(3)),
            )
            .unwrap();
            pairs(&uring_tests::scope_reap(s, 3))
        });
        assert_eq!(server, [(1, 0), (2, 0), (3, 0)], "{kind}: the server");
        let c = complete(
            &mut ring,
            FixedFdInstall::new(table.get(0).unwrap()).user_data(4),
        );
        let port = TcpListener::from(owned(c.res()))
            .local_addr()
            .unwrap()
            .port();
        assert_ne!(port, 0, "{kind}");
        let to = SockAddr::from(SocketAddr::from(([127, 0, 0, 1], port)));
        let client = ring.scope(|s| {
            s.push(
                Socket::new(libc::AF_INET, libc::SOCK_STREAM)
                    .direct(DirectSlot::ALLOC)
                    .user_data(5)
                    .link(Connect::new(table.get(1).unwrap(), &to).user_data(6))
                    .link(Send::new(table.get(1).unwrap(), MAGIC).user_data(7)),
            )
            .unwrap();
            pairs(&uring_tests::scope_reap(s, 3))
        });
        assert_eq!(
            client,
            [(5, 1), (6, 0), (7, MAGIC.len() as i32)],
            "{kind}: the client"
        );
        let c = complete(
            &mut ring,
            Accept::new(table.get(0).unwrap())
                .direct(DirectSlot::ALLOC)
                .user_data(8),
        );
        assert_eq!(c.res(), 2, "{kind}: the accept: {c:?}");
        let c = complete(
            &mut ring,
            FixedFdInstall::new(table.get(1).unwrap()).user_data(9),
        );
        let peer = TcpStream::from(owned(c.res())).peer_addr().unwrap();
        assert_eq!(peer, SocketAddr::from(([127, 0, 0, 1], port)), "{kind}");
        let mut buf = [0u8; 1024];
        let c = complete(
            &mut ring,
            Recv::new(table.get(2).unwrap(), &mut buf[..]).user_data(10),
        );
        assert_eq!(c.res(), MAGIC.len() as i32, "{kind}: the receive");
        assert_eq!(&buf[..MAGIC.len()], MAGIC, "{kind}");
        ring.unregister_files(table).unwrap();
    }
}

// ---------------------------------------------------------------- rsrc_tags.c

/// rsrc_tags.c `test_buffers_update`'s in-flight case: five registered
/// buffers tagged 1 to 5; a fixed read of a pipe into buffer 1 waits; slot
/// 1 is given another buffer (tag 20, where the C test reuses 2) while it
/// waits: the update counts 1, and no tag is posted while the read is in
/// flight. The write end closes: the read completes (0, the end of the
/// stream), and only then comes the replaced buffer's tag, 2. (Five
/// buffers of their own, where the C test registers one five times.)
#[test]
fn rsrc_tags_buffers_update() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(1).unwrap();
    if !uring_tests::require_features(&ring, Features::RSRC_TAGS, "resource tags") {
        return;
    }
    let mut bufs = vec![vec![0u8; 1024]; 5];
    let mut other = vec![0u8; 1024];
    let (rx, tx) = pipe();
    let table = {
        let iovs: Vec<IoSliceMut<'_>> = bufs.iter_mut().map(|b| IoSliceMut::new(b)).collect();
        // SAFETY: the buffers outlive the ring (dropped first below) and
        // are used by no other op than the read, whose completion is
        // reaped.
        unsafe { ring.register_buffers_tagged(&iovs, &[1, 2, 3, 4, 5]) }.unwrap()
    };
    push_lent!(
        ring,
        ReadFixed::new(&rx, &mut bufs[1][..10], table.get(1).unwrap()).user_data(100)
    )
    .unwrap();
    ring.submit().unwrap();
    assert!(ring.peek().is_none(), "a completion before any data");
    // SAFETY: `other` outlives the ring; the buffer it replaces stays
    // alive until the read's completion and its tag have come.
    let n = unsafe {
        ring.update_buffers_tagged(&table, 1, &[Some(IoSliceMut::new(&mut other))], &[20])
    };
    assert_eq!(n.unwrap(), 1);
    assert_eq!(stray(&mut ring), [], "a tag while the read is in flight");
    drop(tx);
    let got = wait_cqes(&mut ring, 2);
    assert_eq!(pairs(&got), [(100, 0), (2, 0)]);
    drop(ring);
}

/// rsrc_tags.c `test_buffers_empty_buffers`: a table of one 10-byte buffer
/// and four empty slots (`None`: a null base and no length); an empty slot
/// takes a buffer, a buffer slot is emptied, an empty slot is "emptied"
/// again, each update counting 1; a fixed read of 10 bytes, and one of 0
/// bytes, naming an empty slot fail. (See the module's docs for the update
/// with a null base and a length.)
#[test]
fn rsrc_tags_buffers_empty_buffers() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(1).unwrap();
    let mut first = [0u8; 10];
    let mut second = [0u8; 10];
    let mut into = [0u8; 10];
    // SAFETY: the buffers outlive the ring, dropped first below; no op
    // reads or writes them.
    let table = unsafe {
        ring.register_buffer_slots(&[Some(IoSliceMut::new(&mut first)), None, None, None, None])
    };
    let table = match table {
        Ok(table) => table,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            return skip(format_args!("no empty buffer slots (5.13): {e}"));
        }
        Err(e) => panic!("register_buffer_slots: {e}"),
    };
    // SAFETY: as above.
    let n = unsafe { ring.update_buffers(&table, 1, &[Some(IoSliceMut::new(&mut second))]) };
    assert_eq!(n.unwrap(), 1, "empty to a buffer");
    // SAFETY: no memory is registered.
    let n = unsafe { ring.update_buffers(&table, 0, &[None]) };
    assert_eq!(n.unwrap(), 1, "a buffer to empty");
    // SAFETY: no memory is registered.
    let n = unsafe { ring.update_buffers(&table, 2, &[None]) };
    assert_eq!(n.unwrap(), 1, "empty to empty");
    let (rx, _tx) = pipe();
    for (ud, len) in [(100, 10), (101, 0)] {
        let c = complete(
            &mut ring,
            ReadFixed::new(&rx, &mut into[..len], table.get(2).unwrap()).user_data(ud),
        );
        assert!(
            c.res() < 0,
            "a read of {len} bytes into an empty slot: {c:?}"
        );
    }
    drop(ring);
}

// ---------------------------------------------------------------- regbuf-clone.c

/// regbuf-clone.c `test_dummy`: a table holding one empty buffer slot is
/// cloned into another ring; both tables then unregister.
#[test]
fn regbuf_clone_dummy() {
    let _watch = uring_tests::watchdog();
    let mut src = Ring::new(1).unwrap();
    let mut dst = Ring::new(1).unwrap();
    // SAFETY: no memory is registered.
    let table = match unsafe { src.register_buffer_slots(&[None]) } {
        Ok(table) => table,
        Err(e) => return skip(format_args!("no empty buffer slots: {e}")),
    };
    // SAFETY: the source registers no memory.
    let cloned = match unsafe { dst.clone_buffers(&src, &table, 0, 1) } {
        Ok(cloned) => cloned,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            return skip(format_args!("no buffer cloning (6.12): {e}"));
        }
        Err(e) => panic!("clone_buffers: {e}"),
    };
    assert_eq!(cloned.len(), 1);
    src.unregister_buffers(table).unwrap();
    dst.unregister_buffers(cloned).unwrap();
}

/// regbuf-clone.c `test_merge`: a table of 8 empty slots; two adjacent 4
/// KiB pieces of one 2 MiB huge page put in slots 4 and 5 with tags 1 and
/// 2 count 2 (the kernel may merge their pages); unregistering the table
/// then posts both tags. (Skips without reserved huge pages, as the C
/// test does.)
#[test]
fn regbuf_clone_merge() {
    const HUGE: usize = 2 * 1024 * 1024;
    let _watch = uring_tests::watchdog();
    let p = match sys::mmap_huge(HUGE) {
        Ok(p) => p,
        Err(e) => return skip(format_args!("no 2 MiB huge page: {e}")),
    };
    {
        let mut ring = Ring::new(1).unwrap();
        let table = ring.register_buffers_sparse(8).unwrap();
        // SAFETY: the mapping is `HUGE` bytes, readable and writable, owned
        // here and unmapped only after the ring is dropped.
        let bytes = unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), HUGE) };
        let (a, rest) = bytes.split_at_mut(4096);
        let b = &mut rest[..4096];
        // SAFETY: as above; no op uses the buffers.
        let n = unsafe {
            ring.update_buffers_tagged(
                &table,
                4,
                &[Some(IoSliceMut::new(a)), Some(IoSliceMut::new(b))],
                &[1, 2],
            )
        };
        let updated = match n {
            Ok(n) => {
                assert_eq!(n, 2);
                true
            }
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                skip(format_args!("no tagged buffer updates: {e}"));
                false
            }
            Err(e) => panic!("update_buffers_tagged: {e}"),
        };
        ring.unregister_buffers(table).unwrap();
        if updated {
            let mut tags: Vec<u64> = wait_cqes(&mut ring, 2)
                .iter()
                .map(|c| c.user_data())
                .collect();
            tags.sort_unstable();
            assert_eq!(tags, [1, 2]);
        }
    }
    // SAFETY: the mapping made above, which nothing uses any more.
    unsafe { sys::munmap(p, HUGE) }.unwrap();
}

// ---------------------------------------------------------------- cq-overflow.c

/// cq-overflow.c's `FILE_SIZE`.
const OVERFLOW_FILE_SIZE: usize = 256 * 1024;
/// cq-overflow.c's `BS`.
const OVERFLOW_BS: usize = 4096;
/// cq-overflow.c's `BUFFERS`.
const OVERFLOW_BUFFERS: usize = OVERFLOW_FILE_SIZE / OVERFLOW_BS;

/// cq-overflow.c `test_io` (without its fault): 64 vectored `O_DIRECT`
/// reads of 4 KiB at random block offsets of a 256 KiB file, on a ring of
/// 8 SQEs (16 CQEs), each submitted alone and none reaped until all are
/// submitted, half of them after a pause: the CQ overflows, and with
/// `IORING_FEAT_NODROP` nothing is lost: every submission is taken, all
/// 64 reads complete with 4096 and the bytes of their blocks, no more
/// completion comes, and the kernel counts no dropped completion. (The C
/// test's fault, an iovec freed and set to null, is not an iovec Rust
/// makes.)
#[test]
fn cq_overflow_io() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !uring_tests::require_features(&ring, Features::NODROP, "a CQ that drops nothing") {
        return;
    }
    assert_eq!(ring.cq_entries(), 16);
    let dir = uring_tests::test_dir!();
    let path = dir.path().join(".cq-overflow");
    let content = pattern(OVERFLOW_FILE_SIZE, 9);
    std::fs::write(&path, &content).unwrap();
    let Some(file) = uring_tests::open_direct(&path, false) else {
        return;
    };
    let mut rng = uring_tests::Rng(0x0c0f_fee0_1234_5678);
    let offsets: Vec<usize> = (0..OVERFLOW_BUFFERS)
        .map(|_| OVERFLOW_BS * rng.below(OVERFLOW_BUFFERS as u64) as usize)
        .collect();
    let mut blocks = aligned_blocks(OVERFLOW_FILE_SIZE);
    let bytes = block_bytes(&mut blocks);
    let mut iovs: Vec<[IoSliceMut<'_>; 1]> = bytes
        .chunks_mut(OVERFLOW_BS)
        .map(|c| [IoSliceMut::new(c)])
        .collect();
    for (i, iov) in iovs.iter_mut().enumerate() {
        if i == OVERFLOW_BUFFERS / 2 {
            std::thread::sleep(Duration::from_millis(20));
        }
        push_lent!(
            ring,
            ReadV::new(&file, iov)
                .offset(offsets[i] as u64)
                .user_data(i as u64)
        )
        .unwrap();
        assert_eq!(ring.submit().unwrap(), 1, "read {i}");
    }
    let got = wait_cqes(&mut ring, OVERFLOW_BUFFERS);
    uring_tests::assert_user_data_once(&got, 0..OVERFLOW_BUFFERS as u64);
    for c in &got {
        assert_eq!(c.res(), OVERFLOW_BS as i32, "{c:?}");
    }
    assert_eq!(stray(&mut ring), [], "a completion more than the reads");
    assert_eq!(ring.overflow(), 0, "completions dropped");
    drop(iovs);
    for (i, chunk) in block_bytes(&mut blocks).chunks(OVERFLOW_BS).enumerate() {
        assert_eq!(
            chunk,
            &content[offsets[i]..offsets[i] + OVERFLOW_BS],
            "read {i}"
        );
    }
}
