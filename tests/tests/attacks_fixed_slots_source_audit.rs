//! Registered-file slots and direct descriptors, checked against the
//! kernel code that fills, replaces, empties and allocates them, from safe
//! code only.
//!
//! What the library's typing of slots rests on, and where each fact lives
//! in Linux 6.18:
//!
//! - a `Fixed` names slot N of one table and is refused on every other
//!   ring (`PushErrorKind::ForeignFile`); the kernel takes the slot's file
//!   when it issues the op (`io_file_get_fixed` in `io_uring/io_uring.c`,
//!   under the ring's lock, with a reference on the slot's node), so a
//!   slot updated under a pending op leaves that op with the file it
//!   found, until it completes. Safe code cannot reach that state: every
//!   change of an occupied slot needs the table's handle exclusively,
//!   while an op's `Fixed` borrows it until the op's last completion;
//!   only an empty slot can be filled under an op, by an allocation;
//! - an allocation (`IORING_FILE_INDEX_ALLOC`) takes only a slot whose bit
//!   is clear in the table's bitmap, searched from `alloc_hint`
//!   (`io_file_bitmap_get`, `io_uring/filetable.c`); the hint is set by
//!   every fill and every emptying of any slot (`io_file_bitmap_set`,
//!   `io_file_bitmap_clear`), inside the allocation range or not;
//! - an update replaces slots one by one and stops at the first descriptor
//!   `fget` refuses, having already emptied that slot
//!   (`__io_sqe_files_update`, `io_uring/rsrc.c`, which calls
//!   `io_reset_rsrc_node` before `fget`, and `fget` refuses `O_PATH`
//!   files); registration, by contrast, fails whole
//!   (`io_sqe_files_register`), and an unregistration resets the
//!   allocation range (`io_sqe_files_unregister`);
//! - a file message (`io_msg_send_fd`, `io_uring/msg_ring.c`) takes a
//!   reference on the sender's slot's file, and into a ring with deferred
//!   task work installs it through task work of that ring's submitter
//!   task, failing with `EOWNERDEAD` when that task is gone
//!   (`io_msg_fd_remote`), the reference dropped
//!   (`io_msg_ring_cleanup`); a message into a ring whose `Ring` was
//!   dropped lands in the kernel ring its `RingTarget` keeps alive;
//! - `FIXED_FD_INSTALL` (`io_install_fixed_fd`, `io_uring/openclose.c`)
//!   makes a new descriptor of the slot's file (`receive_fd`), which is
//!   the program's alone (`ScopeCqe::take_fd`), whatever later happens to
//!   the slot or the ring; a direct open, accept or socket installs into a
//!   slot (`io_fixed_fd_install`) and drops the file when that fails;
//! - slot numbers travel in `fd` (an `int`), `file_index` (slot + 1),
//!   `off` and `addr3` (64 bits): none is cut on the way (checked past 16
//!   bits where the descriptor limit allows a table that large);
//! - a table handle carries its ring's id, never reused, so it names no
//!   slot of any other ring, the ring it came from dropped or not.
//!
//! Each test makes the kernel act and checks which file each slot and
//! each descriptor reaches (by its bytes or its inode), what every
//! completion carries, and whether a file is still referenced anywhere
//! (a pipe or FIFO whose last reader is gone answers `EPIPE` or `ENXIO`).

use std::ffi::CString;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::time::{Duration, Instant};

use uring::ops::{
    Accept, Close, FilesUpdate, FixedFdInstall, MsgRingFd, OpenAt, Read, Socket, Write,
};
use uring::{
    DirectSlot, Error, Fd, FileUpdates, FilesAt, FixedFiles, PushErrorKind, Ring, RingSlot,
    SlotUpdate, SyncCancel,
};
use uring_tests::{PATIENCE, complete, cpath, pipe, require_kernel, require_op, skip, watchdog};

/// A byte no kernel write in these tests produces.
const CANARY: u8 = 0xa5;

/// What a read of up to eight bytes at offset 0 through slot `index` of
/// `table` finds: the bytes, or the errno the kernel gave (a failed read
/// leaves its buffer as it was).
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

/// Whether `a` and `b` are descriptors of one file (device and inode).
fn same_file(a: &File, b: &File) -> bool {
    let (a, b) = (a.metadata().unwrap(), b.metadata().unwrap());
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

/// The first eight bytes of `file`, read at offset 0 without moving its
/// position.
fn head(file: &File) -> Vec<u8> {
    let mut buf = [0u8; 8];
    let n = file.read_at(&mut buf, 0).unwrap();
    buf[..n].to_vec()
}

/// Writes a byte into the pipe `tx` until the write fails with `EPIPE`
/// (no read end is open anywhere, the kernel's references included), or
/// `PATIENCE` passes; returns whether it did. A file dropped by the
/// kernel may be released by deferred work, hence the retries.
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

/// Reads from `stream` into `buf` until it is full or the stream ends,
/// reading again after `EINTR` (a socket with a receive timeout gives it
/// when task work of the ring's teardown interrupts the read); returns the
/// count.
fn read_some(mut stream: &TcpStream, buf: &mut [u8]) -> usize {
    let mut done = 0;
    while done < buf.len() {
        match stream.read(&mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("read: {e}"),
        }
    }
    done
}

/// Runs `FixedFdInstall` of slot `index` in a scope and takes the
/// descriptor it makes.
fn install(ring: &mut Ring, table: &FixedFiles, index: u32) -> OwnedFd {
    ring.scope(|s| {
        s.push(FixedFdInstall::new(table.get(index).unwrap()).user_data(0x1f))
            .unwrap();
        s.submit().unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let mut cqe = s.completions().next().expect("the install's completion");
        assert!(cqe.res() >= 0, "install of slot {index}: {:?}", cqe.cqe());
        cqe.take_fd().expect("the installed descriptor")
    })
}

/// A FIFO in a fresh directory: `(directory guard, path)`.
fn fifo() -> (tempfile::TempDir, CString) {
    let dir = tempfile::tempdir().unwrap();
    let path = cpath(&dir.path().join("fifo"));
    // SAFETY: a NUL-terminated path that lives for the call.
    let made = unsafe { libc::mkfifo(path.as_ptr(), 0o600) };
    assert_eq!(made, 0, "mkfifo: {}", std::io::Error::last_os_error());
    (dir, path)
}

/// Whether a non-blocking open of the FIFO for writing fails with `ENXIO`
/// (no reader anywhere) within `PATIENCE`.
fn fifo_has_no_reader(path: &CString) -> bool {
    let path = std::path::Path::new(std::ffi::OsStr::from_bytes(path.as_bytes()));
    let end = Instant::now() + PATIENCE;
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
        {
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => return true,
            Err(e) => panic!("open the FIFO for writing: {e}"),
            Ok(_) if Instant::now() > end => return false,
            Ok(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

// ---------------------------------------------------------------------
// Updates that fail part-way.

/// `rsrc.c`: `__io_sqe_files_update` empties each slot
/// (`io_reset_rsrc_node`) before it looks the new descriptor up with
/// `fget`, which refuses an `O_PATH` file; the update then stops, with
/// `-EBADF` if that was its first slot, or with the count of the slots
/// before it. So an update the kernel refuses has already dropped the
/// slot's file. A path-only descriptor is a plain `BorrowedFd` (std opens
/// one with `custom_flags(O_PATH)`), so every update surface takes it:
/// `update_files` fails with `EBADF` and the slot is empty (its pipe read
/// end released: the writer gets `EPIPE`); an update of three slots stops
/// after one (`Ok(1)`) with the second emptied and the third untouched;
/// the `FilesUpdate` op at a held slot completes with `-EBADF`, the slot
/// empty; a tagged update posts the old file's tag and never the new one.
/// No op can use the slot meanwhile (the handle is held exclusively), so
/// this is the kernel's behaviour for the program to know, not a hole:
/// an update that fails may still have changed the table.
#[test]
fn an_update_stopped_by_a_path_only_descriptor_has_already_emptied_its_slot() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let path_only = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open("/dev/null")
        .unwrap();
    // Registration refuses it whole.
    let refused = ring.register_files(&[path_only.as_fd()]).unwrap_err();
    assert_eq!(refused.raw_os_error(), Some(libc::EBADF), "{refused}");
    let a = uring_tests::file_of(b"aaaa");
    let c = uring_tests::file_of(b"cccc");
    let d = uring_tests::file_of(b"dddd");
    let (rx, tx) = pipe();
    let mut tx = File::from(tx);
    let mut table = ring
        .register_files(&[a.as_fd(), rx.as_fd(), c.as_fd()])
        .unwrap();
    drop(rx);
    tx.write_all(b"x").unwrap();

    // One slot: refused, and emptied.
    let e = ring
        .update_files(&mut table, 1, &[Some(path_only.as_fd())])
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{e}");
    assert!(
        reader_gone(&mut tx),
        "the slot's pipe reader is still referenced after the refused update"
    );
    assert_eq!(read_slot(&mut ring, &table, 1), Err(libc::EBADF));
    assert_eq!(read_slot(&mut ring, &table, 0), Ok(b"aaaa".to_vec()));
    assert_eq!(read_slot(&mut ring, &table, 2), Ok(b"cccc".to_vec()));

    // Three slots: one counted, the second emptied, the third untouched.
    assert_eq!(
        ring.update_files(&mut table, 1, &[Some(c.as_fd())])
            .unwrap(),
        1
    );
    let counted = ring
        .update_files(
            &mut table,
            0,
            &[Some(d.as_fd()), Some(path_only.as_fd()), Some(a.as_fd())],
        )
        .unwrap();
    assert_eq!(counted, 1, "the kernel counts the slots before the refusal");
    assert_eq!(read_slot(&mut ring, &table, 0), Ok(b"dddd".to_vec()));
    assert_eq!(
        read_slot(&mut ring, &table, 1),
        Err(libc::EBADF),
        "the slot the update stopped at, outside its count, is empty"
    );
    assert_eq!(read_slot(&mut ring, &table, 2), Ok(b"cccc".to_vec()));

    // The op at a held slot: likewise.
    assert_eq!(
        ring.update_files(&mut table, 1, &[Some(a.as_fd())])
            .unwrap(),
        1
    );
    let mut updates = FileUpdates::new(&[Some(path_only.as_fd())]);
    let cqe = complete(
        &mut ring,
        FilesUpdate::new(&mut updates, FilesAt::from(table.get_mut(1).unwrap())),
    );
    assert_eq!(cqe.res(), -libc::EBADF, "{cqe:?}");
    assert_eq!(read_slot(&mut ring, &table, 1), Err(libc::EBADF));
    assert_eq!(read_slot(&mut ring, &table, 0), Ok(b"dddd".to_vec()));

    // Tagged: the old file's tag comes, the refused file's never.
    if require_kernel(5, 13, "resource tags") {
        let set = ring
            .update_file_slots(&mut table, 1, &[SlotUpdate::Tagged(c.as_fd(), 0x51)])
            .unwrap();
        assert_eq!(set, 1);
        assert_eq!(uring_tests::stray(&mut ring), []);
        let e = ring
            .update_file_slots(
                &mut table,
                1,
                &[SlotUpdate::Tagged(path_only.as_fd(), 0x52)],
            )
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{e}");
        let tags = uring_tests::drain_until_quiet(&mut ring, 1, Duration::from_millis(30));
        assert_eq!(tags, [(0x51, 0)], "the dropped file's tag, once");
        assert_eq!(read_slot(&mut ring, &table, 1), Err(libc::EBADF));
    }
    ring.unregister_files(table).unwrap();
}

// ---------------------------------------------------------------------
// Allocation ranges.

/// `filetable.c`: an allocation searches the bitmap from `alloc_hint` to
/// the range's end, then from the range's start to where it began. The
/// hint is set by every fill and emptying of any slot
/// (`io_file_bitmap_set`, `io_file_bitmap_clear`): emptying slot 1, below
/// a range of `[4, 8)`, leaves the hint at 1, and filling slot 7, past a
/// range of `[4, 6)`, leaves it at 8. Kernels without the fix that clamps
/// the hint to the range (upstream "io_uring/filetable: clamp alloc_hint
/// to the configured alloc range", marked for stable) then allocate
/// outside the range: slot 1 in the first case, slot 6 in the second (the
/// search started below the range, or ended past it). Kernels with it
/// (the 6.18.44 these tests were written on is one) allocate slot 4 and
/// fail the second with `ENFILE`. Whichever this kernel does (both tables
/// must agree), what the library relies on holds: an allocation takes an
/// empty slot only, and every occupied slot keeps its file. What
/// `set_file_alloc_range` promises ("take one of the range's slots") is
/// the fixed kernel's behaviour: on an unfixed one, a program's own empty
/// slots outside the range are open to allocations once any slot outside
/// the range has changed.
#[test]
fn an_allocation_after_a_change_outside_the_range_takes_an_empty_slot() {
    let _watch = watchdog();
    if !require_kernel(6, 0, "allocation ranges") {
        return;
    }
    let open = |user_data: u64| {
        OpenAt::new(Fd::CWD, c"/dev/zero")
            .open_flags(libc::O_RDONLY)
            .direct(DirectSlot::ALLOC)
            .user_data(user_data)
    };
    let files: Vec<File> = (0..4)
        .map(|i| uring_tests::file_of(format!("slot{i}").as_bytes()))
        .collect();
    let named = |i: usize| Ok(format!("slot{i}").into_bytes());

    // A hint below the range.
    let mut below = Ring::new(8).unwrap();
    let mut table = below.register_files_sparse(8).unwrap();
    let fds: Vec<_> = files.iter().map(|f| Some(f.as_fd())).collect();
    assert_eq!(below.update_files(&mut table, 0, &fds).unwrap(), 4);
    below.set_file_alloc_range(&table, 4, 4).unwrap();
    // The program empties slot 1, meaning to fill it itself later.
    assert_eq!(below.update_files(&mut table, 1, &[None]).unwrap(), 1);
    let first = complete(&mut below, open(1)).res();
    let unclamped = match first {
        1 => true,
        4 => false,
        other => panic!("the allocation took slot {other}: neither 1 nor the range's first"),
    };
    let zeros = Ok(vec![0u8; 8]);
    assert_eq!(read_slot(&mut below, &table, first as u32), zeros);
    for i in [0, 2, 3] {
        assert_eq!(
            read_slot(&mut below, &table, i as u32),
            named(i),
            "slot {i}"
        );
    }
    for i in 5..8 {
        assert_eq!(
            read_slot(&mut below, &table, i),
            Err(libc::EBADF),
            "slot {i}"
        );
    }
    below.unregister_files(table).unwrap();

    // A hint past the range.
    let mut past = Ring::new(8).unwrap();
    let mut table = past.register_files_sparse(8).unwrap();
    past.set_file_alloc_range(&table, 4, 2).unwrap();
    assert_eq!(complete(&mut past, open(2)).res(), 4);
    assert_eq!(complete(&mut past, open(3)).res(), 5);
    assert_eq!(
        past.update_files(&mut table, 7, &[Some(files[3].as_fd())])
            .unwrap(),
        1
    );
    let third = complete(&mut past, open(4)).res();
    if unclamped {
        assert_eq!(third, 6, "the search from the hint past the range");
        assert_eq!(read_slot(&mut past, &table, 6), zeros);
    } else {
        assert_eq!(third, -libc::ENFILE, "a clamped hint, a full range");
        assert_eq!(read_slot(&mut past, &table, 6), Err(libc::EBADF));
    }
    assert_eq!(read_slot(&mut past, &table, 7), named(3));
    for i in [4, 5] {
        assert_eq!(read_slot(&mut past, &table, i), zeros, "slot {i}");
    }
    past.unregister_files(table).unwrap();
    eprintln!(
        "allocations here {} the range after a change outside it",
        if unclamped { "leave" } else { "keep to" }
    );
}

/// `rsrc.c` / `filetable.c`: an unregistration frees the table and resets
/// the allocation range to nothing (`io_sqe_files_unregister`), and a
/// registration sets it to the whole new table. So a range the program
/// set on the old table is gone: a direct open with no table fails with
/// `ENFILE` and releases the FIFO reader it opened (a writer's
/// non-blocking open then finds no reader: `ENXIO`); a table registered
/// again, smaller, allocates from slot 0, which the old range kept out;
/// the old range is refused on the new table (`EINVAL`, the kernel's
/// check: the library leaves ranges to it); and the new handle refuses
/// the old table's indices past its end.
#[test]
fn a_table_registered_again_forgets_the_old_allocation_range() {
    let _watch = watchdog();
    if !require_kernel(6, 0, "allocation ranges") {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let table = ring.register_files_sparse(8).unwrap();
    ring.set_file_alloc_range(&table, 4, 4).unwrap();
    let cqe = complete(
        &mut ring,
        OpenAt::new(Fd::CWD, c"/dev/zero")
            .open_flags(libc::O_RDONLY)
            .direct(DirectSlot::ALLOC),
    );
    assert_eq!(cqe.res(), 4, "{cqe:?}");
    ring.unregister_files(table).unwrap();

    let (_dir, path) = fifo();
    let cqe = complete(
        &mut ring,
        OpenAt::new(Fd::CWD, &path)
            .open_flags(libc::O_RDONLY | libc::O_NONBLOCK)
            .direct(DirectSlot::ALLOC),
    );
    assert_eq!(cqe.res(), -libc::ENFILE, "{cqe:?}");
    assert!(
        fifo_has_no_reader(&path),
        "the reader a refused direct open made is still open"
    );

    let table = ring.register_files_sparse(6).unwrap();
    let cqe = complete(
        &mut ring,
        OpenAt::new(Fd::CWD, c"/dev/zero")
            .open_flags(libc::O_RDONLY)
            .direct(DirectSlot::ALLOC),
    );
    assert_eq!(cqe.res(), 0, "the old range did not survive: {cqe:?}");
    let e = ring.set_file_alloc_range(&table, 4, 4).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
    assert!(matches!(table.get(6), Err(Error::InvalidArgument(_))));
    assert_eq!(read_slot(&mut ring, &table, 0), Ok(vec![0u8; 8]));
    ring.unregister_files(table).unwrap();
}

/// `io_uring.c`: a linked op takes its slot's file when it is issued,
/// after the op before it, not when it is submitted. The library's known
/// limit (SAFETY.md): a `Fixed` of an empty slot names the slot, and an
/// allocation may fill it first. Here a `FixedFdInstall` of empty slot 1
/// waits behind a read of a pipe while a direct open allocates slot 1 (the
/// range is that one slot); once a byte reaches the pipe, the install
/// runs on the opened file: `take_fd` hands out a new descriptor of that
/// file (its inode and bytes), the slot keeps the file too, and the same
/// chain without the open fails with `EBADF` and hands out nothing.
#[test]
fn an_install_issued_after_an_allocation_takes_the_file_put_in_the_empty_slot() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FixedFdInstall>(&ring) || !require_kernel(6, 0, "allocation ranges") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("allocated");
    std::fs::write(&path, b"allocated").unwrap();
    let path_c = cpath(&path);
    let table = ring.register_files_sparse(2).unwrap();
    ring.set_file_alloc_range(&table, 1, 1).unwrap();
    let (rx, tx) = pipe();
    let mut tx = File::from(tx);

    for allocate in [false, true] {
        let mut byte = [CANARY; 1];
        let got = ring.scope(|s| {
            s.push(
                Read::new(&rx, &mut byte[..])
                    .user_data(1)
                    .link(FixedFdInstall::new(table.get(1).unwrap()).user_data(2)),
            )
            .unwrap();
            let mut opened = None;
            if allocate {
                s.push(
                    OpenAt::new(Fd::CWD, &path_c)
                        .open_flags(libc::O_RDONLY)
                        .direct(DirectSlot::ALLOC)
                        .user_data(3),
                )
                .unwrap();
                s.submit().unwrap();
                s.wait_timeout(1, PATIENCE).unwrap();
                let cqe = s.completions().next().expect("the open's completion");
                opened = Some((cqe.user_data(), cqe.res()));
            }
            tx.write_all(b"!").unwrap();
            let mut rest = Vec::new();
            while rest.len() < 2 {
                s.submit().unwrap();
                s.wait_timeout(1, PATIENCE).unwrap();
                for mut cqe in s.completions() {
                    let fd = cqe.take_fd();
                    rest.push((cqe.user_data(), cqe.res(), fd));
                }
            }
            (opened, rest)
        });
        let (opened, mut rest) = got;
        rest.sort_by_key(|r| r.0);
        assert_eq!((rest[0].0, rest[0].1), (1, 1), "the read");
        assert!(rest[0].2.is_none());
        assert_eq!(byte, *b"!");
        if !allocate {
            assert_eq!(opened, None);
            assert_eq!(
                (rest[1].0, rest[1].1),
                (2, -libc::EBADF),
                "install of an empty slot"
            );
            assert!(rest[1].2.is_none(), "a failed install gave a descriptor");
            continue;
        }
        assert_eq!(opened, Some((3, 1)), "the allocation took slot 1");
        assert_eq!(rest[1].0, 2);
        assert!(rest[1].1 >= 0, "the install: {}", rest[1].1);
        let number = rest[1].1;
        let fd = rest.pop().unwrap().2.expect("the installed descriptor");
        assert_eq!(fd.as_raw_fd(), number);
        let installed = File::from(fd);
        let reference = File::open(&path).unwrap();
        assert!(
            same_file(&installed, &reference),
            "the install's file is the opened one"
        );
        assert_eq!(head(&installed), b"allocate");
        assert_eq!(read_slot(&mut ring, &table, 1), Ok(b"allocate".to_vec()));
    }
}

// ---------------------------------------------------------------------
// Files passed between rings.

/// `msg_ring.c`: a file message into a ring with deferred task work is
/// installed by task work of that ring's submitter task
/// (`io_msg_fd_remote`); once that thread has exited, `task_work_add`
/// fails and the message completes with `-EOWNERDEAD`, the reference it
/// took on the sender's file dropped (`io_msg_ring_cleanup`). The target
/// (`RingTarget`) keeps the kernel ring alive, so a leaked reference
/// would live on in its table: here the passed file is a pipe's only
/// reader, and once the sender's table lets go a write fails with `EPIPE`
/// while the target still lives.
#[test]
fn a_file_message_into_a_deferred_ring_whose_thread_exited_keeps_no_reference() {
    let _watch = watchdog();
    let target = std::thread::spawn(|| {
        let mut ring = uring_tests::defer_ring(4)?;
        // The table stays registered in the kernel ring; its handle goes.
        let _table = ring.register_files_sparse(2).unwrap();
        let target = ring.msg_target().unwrap();
        drop(ring);
        Some(target)
    })
    .join()
    .unwrap();
    let Some(target) = target else {
        return;
    };
    let mut sender = Ring::new(4).unwrap();
    if !require_op::<MsgRingFd<'static>>(&sender) {
        return;
    }
    let (rx, tx) = pipe();
    let mut tx = File::from(tx);
    let table = sender.register_files(&[rx.as_fd()]).unwrap();
    drop(rx);
    let cqe = complete(
        &mut sender,
        MsgRingFd::new(RingSlot::alloc_in(&target), table.get(0).unwrap(), 0x77),
    );
    assert_eq!(cqe.res(), -libc::EOWNERDEAD, "{cqe:?}");
    tx.write_all(b"the sender's slot still reads").unwrap();
    sender.unregister_files(table).unwrap();
    assert!(
        reader_gone(&mut tx),
        "the refused message kept a reference on the pipe's reader"
    );
    drop(target);
}

/// `msg_ring.c` / `io_uring.c`: a `RingTarget` holds a duplicate of its
/// ring's descriptor, so the kernel ring (and its table) outlives the
/// `Ring`. A file message into it still lands in a free slot (result 0),
/// and the file stays referenced there, in a table no handle names any
/// more, until the last target goes: the pipe's reader, closed by the
/// program and dropped from the sender's table, still takes writes; once
/// the target is dropped the ring's teardown puts it (`EPIPE`).
#[test]
fn a_file_passed_into_a_dropped_ring_lives_until_its_last_target_goes() {
    let _watch = watchdog();
    let mut receiver = Ring::new(4).unwrap();
    if !require_op::<MsgRingFd<'static>>(&receiver) {
        return;
    }
    let _receiver_table = receiver.register_files_sparse(2).unwrap();
    let target = receiver.msg_target().unwrap();
    drop(receiver);

    let mut sender = Ring::new(4).unwrap();
    let (rx, tx) = pipe();
    let mut tx = File::from(tx);
    let table = sender.register_files(&[rx.as_fd()]).unwrap();
    drop(rx);
    let cqe = complete(
        &mut sender,
        MsgRingFd::new(RingSlot::alloc_in(&target), table.get(0).unwrap(), 0x33),
    );
    assert_eq!(cqe.res(), 0, "the dropped ring's first free slot: {cqe:?}");
    sender.unregister_files(table).unwrap();
    // Only the dropped ring's table holds the reader now.
    std::thread::sleep(Duration::from_millis(20));
    tx.write_all(b"held by a ring nobody reads").unwrap();
    drop(target);
    assert!(
        reader_gone(&mut tx),
        "the file outlived the last descriptor of the ring that held it"
    );
}

// ---------------------------------------------------------------------
// Installed descriptors.

/// `openclose.c`: `io_install_fixed_fd` makes a new descriptor of the
/// file in the slot (`receive_fd`); the slot and the descriptor then hold
/// the file apart. The slot is then changed by every route safe code has:
/// an update, a `Close` of the slot, a direct open at it, and a file
/// message from another ring at it (`RingSlot::at`). After each, the slot
/// reaches its new file (or nothing), while the installed descriptor is
/// still open, the same number, on the first file (inode and bytes); a
/// second install gives another number, of the file the slot holds then;
/// and the first descriptor outlives the ring.
#[test]
fn an_installed_descriptor_keeps_its_file_whatever_the_slot_gets_next() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FixedFdInstall>(&ring) || !require_op::<MsgRingFd<'static>>(&ring) {
        return;
    }
    let first = uring_tests::file_of(b"first");
    let update = uring_tests::file_of(b"update");
    let sent = uring_tests::file_of(b"sent");
    let dir = tempfile::tempdir().unwrap();
    let opened = dir.path().join("opened");
    std::fs::write(&opened, b"opened").unwrap();
    let opened_c = cpath(&opened);
    let mut table = ring.register_files(&[first.as_fd()]).unwrap();
    let installed = File::from(install(&mut ring, &table, 0));
    let number = installed.as_raw_fd();
    let check = |what: &str| {
        assert!(
            uring_tests::fd_is_open(number),
            "{what}: the descriptor was closed"
        );
        assert_eq!(installed.as_raw_fd(), number);
        assert!(
            same_file(&installed, &first),
            "{what}: the descriptor names another file"
        );
        assert_eq!(head(&installed), b"first", "{what}");
    };
    check("installed");

    assert_eq!(
        ring.update_files(&mut table, 0, &[Some(update.as_fd())])
            .unwrap(),
        1
    );
    assert_eq!(read_slot(&mut ring, &table, 0), Ok(b"update".to_vec()));
    check("after an update");

    let cqe = complete(&mut ring, Close::new(table.get_mut(0).unwrap()));
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_eq!(read_slot(&mut ring, &table, 0), Err(libc::EBADF));
    check("after a close of the slot");

    let cqe = complete(
        &mut ring,
        OpenAt::new(Fd::CWD, &opened_c)
            .open_flags(libc::O_RDONLY)
            .direct(DirectSlot::at(table.get_mut(0).unwrap())),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_eq!(read_slot(&mut ring, &table, 0), Ok(b"opened".to_vec()));
    check("after a direct open at the slot");

    let mut other = Ring::new(4).unwrap();
    let other_table = other.register_files(&[sent.as_fd()]).unwrap();
    let dest = RingSlot::at(&ring, table.get_mut(0).unwrap()).unwrap();
    let cqe = complete(
        &mut other,
        MsgRingFd::new(dest, other_table.get(0).unwrap(), 0x44),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_eq!(
        uring_tests::drain_until_quiet(&mut ring, 1, Duration::from_millis(20)),
        [(0x44, 0)]
    );
    assert_eq!(read_slot(&mut ring, &table, 0), Ok(b"sent".to_vec()));
    check("after a file message at the slot");

    let again = File::from(install(&mut ring, &table, 0));
    assert_ne!(again.as_raw_fd(), number, "two installs, one number");
    assert!(same_file(&again, &sent));
    assert_eq!(head(&again), b"sent");
    other.unregister_files(other_table).unwrap();
    ring.unregister_files(table).unwrap();
    drop(ring);
    check("after the ring is gone");
    assert_eq!(head(&again), b"sent");
}

/// `io_uring.c`'s teardown puts every file of the table, while a
/// descriptor made from a slot (`FIXED_FD_INSTALL`) is the process's own.
/// Two connections accepted into slots the kernel picks; the first is also
/// installed as a descriptor, taken with `take_fd`. Once the ring is
/// dropped, the second client reads the end of its stream (its only
/// server side was the slot), while the first still talks through the
/// installed descriptor both ways: the ring's drop closed nothing the
/// program owns, and kept nothing it does not.
#[test]
fn a_dropped_ring_releases_its_slots_and_nothing_installed_from_them() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FixedFdInstall>(&ring) || !require_kernel(5, 19, "direct accepts") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let table = ring.register_files_sparse(4).unwrap();
    let mut clients = Vec::new();
    let mut slots = Vec::new();
    for i in 0..2 {
        clients.push(TcpStream::connect(addr).unwrap());
        let cqe = complete(
            &mut ring,
            Accept::new(&listener)
                .direct(DirectSlot::ALLOC)
                .user_data(i),
        );
        assert!(cqe.res() >= 0, "{cqe:?}");
        slots.push(cqe.res() as u32);
    }
    assert_ne!(slots[0], slots[1]);
    let mut server = TcpStream::from(install(&mut ring, &table, slots[0]));
    drop(ring);
    for client in &clients {
        client.set_read_timeout(Some(PATIENCE)).unwrap();
    }
    let mut byte = [0u8; 1];
    assert_eq!(
        read_some(&clients[1], &mut byte),
        0,
        "the connection only a slot held was closed with the ring"
    );
    server.write_all(b"ping").unwrap();
    let mut got = [0u8; 4];
    assert_eq!(read_some(&clients[0], &mut got), 4);
    assert_eq!(&got, b"ping");
    (&clients[0]).write_all(b"pong").unwrap();
    server.set_read_timeout(Some(PATIENCE)).unwrap();
    assert_eq!(read_some(&server, &mut got), 4);
    assert_eq!(&got, b"pong");
    drop(server);
    assert_eq!(
        read_some(&clients[0], &mut byte),
        0,
        "the installed side, once closed, ends the stream"
    );
}

// ---------------------------------------------------------------------
// Slot numbers.

/// High slot numbers reach the very slot at every field that carries
/// one, and no neighbour: a table holds one file at slot 5, and others at
/// a high slot and at the slots on either side of it. The high slot is
/// 65 541 (`0x10005`, which a 16-bit cut would turn into 5) where
/// `RLIMIT_NOFILE` (which caps a table's size) can be raised past 65 536,
/// else 19 973 (`0x4e05`, 5 under an 8-bit cut). A read (`fd`), an
/// install (`fd`), a file message's source (`addr3`) and destination
/// (`file_index`, slot + 1) into another such table, a direct open at the
/// slot (`file_index`), an update op at it (`off`), a close of it
/// (`file_index`) and an allocation in a range of that one slot (the
/// result) each act on the high slot alone: slot 5 and both neighbours
/// keep their files throughout (an off-by-one in the `slot + 1` fields
/// would hit a neighbour).
#[test]
fn high_slot_numbers_name_their_own_slot_in_every_field() {
    let _watch = watchdog();
    const LOW: u32 = 5;
    if !require_kernel(6, 8, "FIXED_FD_INSTALL") {
        return;
    }
    let wide = uring_tests::raise_nofile((1 << 16) + 64);
    let high_slot: u32 = if wide { (1 << 16) + LOW } else { 0x4e00 + LOW };
    if !wide {
        eprintln!(
            "RLIMIT_NOFILE stays below 65 536: slot {high_slot} checks an 8-bit cut, not a 16-bit one"
        );
    }
    let slots = high_slot + 3;
    let mut ring = Ring::new(8).unwrap();
    let mut table = match ring.register_files_sparse(slots) {
        Ok(table) => table,
        Err(e) => return skip(format_args!("a table of {slots} slots: {e}")),
    };
    let low = uring_tests::file_of(b"low");
    let high = uring_tests::file_of(b"high");
    let dir = tempfile::tempdir().unwrap();
    let opened = dir.path().join("opened");
    std::fs::write(&opened, b"opened").unwrap();
    let opened_c = cpath(&opened);
    let below = uring_tests::file_of(b"below");
    let above = uring_tests::file_of(b"above");
    assert_eq!(
        ring.update_files(&mut table, LOW, &[Some(low.as_fd())])
            .unwrap(),
        1
    );
    let around = [Some(below.as_fd()), Some(high.as_fd()), Some(above.as_fd())];
    assert_eq!(
        ring.update_files(&mut table, high_slot - 1, &around)
            .unwrap(),
        3
    );
    let low_kept = |ring: &mut Ring, table: &FixedFiles, what: &str| {
        assert_eq!(read_slot(ring, table, LOW), Ok(b"low".to_vec()), "{what}");
        let neighbours = [
            (high_slot - 1, &b"below"[..]),
            (high_slot + 1, &b"above"[..]),
        ];
        for (slot, text) in neighbours {
            assert_eq!(
                read_slot(ring, table, slot),
                Ok(text.to_vec()),
                "{what}: slot {slot}"
            );
        }
    };

    assert_eq!(
        read_slot(&mut ring, &table, high_slot),
        Ok(b"high".to_vec())
    );
    low_kept(&mut ring, &table, "a read");

    let installed = File::from(install(&mut ring, &table, high_slot));
    assert!(
        same_file(&installed, &high),
        "the install reached another slot"
    );

    let mut other = Ring::new(4).unwrap();
    let mut other_table = other.register_files_sparse(slots).unwrap();
    let dest = RingSlot::at(&other, other_table.get_mut(high_slot).unwrap()).unwrap();
    let cqe = complete(
        &mut ring,
        MsgRingFd::new(dest, table.get(high_slot).unwrap(), 0x66),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_eq!(
        uring_tests::drain_until_quiet(&mut other, 1, Duration::from_millis(20)),
        [(0x66, 0)]
    );
    assert_eq!(
        read_slot(&mut other, &other_table, high_slot),
        Ok(b"high".to_vec())
    );
    for slot in [LOW, high_slot - 1, high_slot + 1] {
        assert_eq!(
            read_slot(&mut other, &other_table, slot),
            Err(libc::EBADF),
            "slot {slot}"
        );
    }
    other.unregister_files(other_table).unwrap();
    low_kept(&mut ring, &table, "a file message");

    let cqe = complete(
        &mut ring,
        OpenAt::new(Fd::CWD, &opened_c)
            .open_flags(libc::O_RDONLY)
            .direct(DirectSlot::at(table.get_mut(high_slot).unwrap())),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_eq!(
        read_slot(&mut ring, &table, high_slot),
        Ok(b"opened".to_vec())
    );
    low_kept(&mut ring, &table, "a direct open");

    let mut updates = FileUpdates::new(&[Some(high.as_fd())]);
    let cqe = complete(
        &mut ring,
        FilesUpdate::new(
            &mut updates,
            FilesAt::from(table.get_mut(high_slot).unwrap()),
        ),
    );
    assert_eq!(cqe.res(), 1, "{cqe:?}");
    assert_eq!(
        read_slot(&mut ring, &table, high_slot),
        Ok(b"high".to_vec())
    );
    low_kept(&mut ring, &table, "an update op");

    let cqe = complete(&mut ring, Close::new(table.get_mut(high_slot).unwrap()));
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_eq!(read_slot(&mut ring, &table, high_slot), Err(libc::EBADF));
    low_kept(&mut ring, &table, "a close");

    ring.set_file_alloc_range(&table, high_slot, 1).unwrap();
    let cqe = complete(
        &mut ring,
        Socket::new(libc::AF_UNIX, libc::SOCK_DGRAM).direct(DirectSlot::ALLOC),
    );
    assert_eq!(cqe.res(), high_slot as i32, "{cqe:?}");
    low_kept(&mut ring, &table, "an allocation");
    ring.unregister_files(table).unwrap();
}

// ---------------------------------------------------------------------
// A handle past its ring.

/// A table handle carries its ring's id, and ids are never reused: once
/// its ring is dropped, the handle names no slot of a later ring, even one
/// whose table holds other files at the same indices (slot 0) or is too
/// small for them (slot 3). Its `Fixed` and `FixedMut` are refused by the
/// pushes (`ForeignFile`) and by `RingSlot::at`, its table by updates,
/// allocation ranges, synchronous cancels and unregistration (which hands
/// it back): nothing reaches the later ring's kernel, whose table keeps
/// its files and its size.
#[test]
fn a_handle_outliving_its_ring_names_no_slot_of_a_later_ring() {
    let _watch = watchdog();
    let old_file = uring_tests::file_of(b"old");
    let new_file = uring_tests::file_of(b"new");
    let mut stale = {
        let mut first = Ring::new(4).unwrap();
        let fds = [old_file.as_fd(); 4];
        first.register_files(&fds).unwrap()
    };
    let mut ring = Ring::new(8).unwrap();
    let mut table = ring.register_files(&[new_file.as_fd()]).unwrap();
    let space = ring.space_left();
    ring.scope(|s| {
        for index in [0, 3] {
            let e = s
                .push(Write::new(stale.get(index).unwrap(), b"stale"))
                .unwrap_err();
            assert_eq!(e.kind(), PushErrorKind::ForeignFile, "slot {index}");
            let e = s
                .push(FixedFdInstall::new(stale.get(index).unwrap()))
                .unwrap_err();
            assert_eq!(e.kind(), PushErrorKind::ForeignFile, "slot {index}");
        }
        assert_eq!(s.in_flight(), 0);
    });
    ring.scope(|s| {
        let e = s.push(Close::new(stale.get_mut(0).unwrap())).unwrap_err();
        assert_eq!(e.kind(), PushErrorKind::ForeignFile);
    });
    assert!(RingSlot::at(&ring, stale.get_mut(0).unwrap()).is_err());
    assert!(matches!(
        ring.update_files(&mut stale, 0, &[Some(old_file.as_fd())]),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        ring.set_file_alloc_range(&stale, 0, 1),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        ring.cancel_sync(SyncCancel::fd(stale.get(0).unwrap()).all(), None),
        Err(Error::InvalidArgument(_))
    ));
    let back = ring.unregister_files(stale).unwrap_err();
    assert!(
        matches!(back.error, Error::InvalidArgument(_)),
        "{}",
        back.error
    );
    assert_eq!(back.handle.len(), 4);
    assert_eq!(ring.space_left(), space, "nothing was written");
    assert_eq!(read_slot(&mut ring, &table, 0), Ok(b"new".to_vec()));
    assert!(matches!(table.get(1), Err(Error::InvalidArgument(_))));
    assert_eq!(
        ring.update_files(&mut table, 0, &[Some(new_file.as_fd())])
            .unwrap(),
        1
    );
    ring.unregister_files(table).unwrap();
    assert_eq!(head(&old_file), b"old", "no write reached the old file");
}
