//! File I/O through the ring: read, write, readv, writev on a temporary
//! file, fixed files, and reads into provided buffers.

use std::fs::File;
use std::io::{IoSlice, IoSliceMut, Read as _, Seek, SeekFrom, Write as _};
use std::os::fd::AsFd;
use uring::Fd;
use uring_tests::push_lent;

use uring::ops::{Close, Nop, ProvideBuffers, Read, ReadV, Write, WriteV};
use uring::{BufferGroup, BufferPool, Error, Features, Ring};
use uring_tests::{
    by_user_data, complete, pattern, pipe, reap_one, require_features, require_op, submit_and_reap,
};

fn tempfile_with(bytes: &[u8]) -> File {
    let mut file = tempfile::tempfile().expect("tempfile");
    file.write_all(bytes).expect("write the tempfile");
    file.seek(SeekFrom::Start(0)).unwrap();
    file
}

fn file_contents(file: &mut File) -> Vec<u8> {
    let mut out = Vec::new();
    file.seek(SeekFrom::Start(0)).unwrap();
    file.read_to_end(&mut out).unwrap();
    out
}

/// Write then read back, at offsets, with byte counts checked; the file as
/// seen through std agrees.
#[test]
fn write_and_read_round_trip_at_offsets() {
    let mut ring = Ring::new(8).unwrap();
    let mut file = tempfile::tempfile().unwrap();
    let data = pattern(4096, 1);

    let cqe = complete(
        &mut ring,
        Write::new(&file, &data[..]).offset(100).user_data(1),
    );
    assert_eq!((cqe.user_data(), cqe.result().unwrap()), (1, 4096));

    let on_disk = file_contents(&mut file);
    assert_eq!(on_disk.len(), 4196, "the write landed at offset 100");
    assert_eq!(on_disk[..100], [0u8; 100]);
    assert_eq!(on_disk[100..], data[..]);

    let mut back = vec![0u8; 1000];
    let cqe = complete(
        &mut ring,
        Read::new(&file, &mut back[..]).offset(1100).user_data(2),
    );
    assert_eq!((cqe.user_data(), cqe.result().unwrap()), (2, 1000));
    assert_eq!(back[..], data[1000..2000]);

    // A read across the end is short; one at the end reads nothing.
    let mut tail = vec![0u8; 512];
    let cqe = complete(
        &mut ring,
        Read::new(&file, &mut tail[..]).offset(4000).user_data(3),
    );
    assert_eq!(cqe.result().unwrap(), 196);
    assert_eq!(tail[..196], data[3900..]);
    assert_eq!(tail[196..], [0u8; 316], "bytes past the count were written");

    let cqe = complete(
        &mut ring,
        Read::new(&file, &mut tail[..]).offset(4196).user_data(4),
    );
    assert_eq!(cqe.result().unwrap(), 0);
}

/// readv and writev scatter and gather across several buffers.
#[test]
fn writev_and_readv_round_trip() {
    let mut ring = Ring::new(8).unwrap();
    let mut file = tempfile::tempfile().unwrap();
    let a = pattern(10, 2);
    let b = pattern(300, 3);
    let c = pattern(7, 4);
    let iov = [IoSlice::new(&a), IoSlice::new(&b), IoSlice::new(&c)];
    let cqe = complete(
        &mut ring,
        WriteV::new(&file, &iov[..]).offset(5).user_data(1),
    );
    assert_eq!(cqe.result().unwrap(), 317);
    let on_disk = file_contents(&mut file);
    assert_eq!(on_disk.len(), 322);
    assert_eq!(on_disk[5..15], a[..]);
    assert_eq!(on_disk[15..315], b[..]);
    assert_eq!(on_disk[315..], c[..]);

    let (mut x, mut y) = (vec![0u8; 100], vec![0u8; 500]);
    {
        let mut iov = [IoSliceMut::new(&mut x), IoSliceMut::new(&mut y)];
        let cqe = complete(
            &mut ring,
            ReadV::new(&file, &mut iov[..]).offset(5).user_data(2),
        );
        assert_eq!((cqe.user_data(), cqe.result().unwrap()), (2, 317));
    }
    let expected: Vec<u8> = [&a[..], &b[..], &c[..]].concat();
    assert_eq!(x[..], expected[..100]);
    assert_eq!(y[..217], expected[100..]);
    assert_eq!(y[217..], [0u8; 283][..]);
}

/// An offset of `u64::MAX` reads and writes at the file position, which
/// moves.
#[test]
fn offset_max_uses_the_file_position() {
    let mut ring = Ring::new(8).unwrap();
    if !require_features(&ring, Features::RW_CUR_POS, "I/O at the file position") {
        return;
    }
    let mut file = tempfile_with(&pattern(64, 5));
    file.seek(SeekFrom::Start(16)).unwrap();
    let mut buf = [0u8; 8];
    for round in 0..2 {
        let cqe = complete(&mut ring, Read::new(&file, &mut buf[..]).offset(u64::MAX));
        assert_eq!(cqe.result().unwrap(), 8);
        let at = 16 + 8 * round;
        assert_eq!(buf[..], pattern(64, 5)[at..at + 8]);
    }
    assert_eq!(file.stream_position().unwrap(), 32);
}

/// A registered file is read and written through its `Fixed` slot, even
/// after its descriptor is closed; an index past the table is refused.
#[test]
fn fixed_file_io() {
    let mut ring = Ring::new(8).unwrap();
    let file = tempfile::tempfile().unwrap();
    let mut check = file.try_clone().unwrap();
    let files = ring
        .register_files(&[file.as_fd()])
        .expect("register_files");
    assert_eq!(files.len(), 1);
    let slot = files.get(0).unwrap();
    assert_eq!(slot.index(), 0);
    assert!(
        matches!(files.get(1), Err(Error::InvalidArgument(_))),
        "index 1 of a table of 1: {:?}",
        files.get(1)
    );
    // The kernel holds its own reference.
    drop(file);

    let data = pattern(256, 6);
    let cqe = complete(&mut ring, Write::new(slot, &data[..]).user_data(1));
    assert_eq!((cqe.user_data(), cqe.result().unwrap()), (1, 256));
    assert_eq!(file_contents(&mut check), data);

    let mut back = [0u8; 100];
    let cqe = complete(
        &mut ring,
        Read::new(slot, &mut back[..]).offset(50).user_data(2),
    );
    assert_eq!(cqe.result().unwrap(), 100);
    assert_eq!(back[..], data[50..150]);

    // Unregistering takes the handle, so no `Fixed` of it outlives the
    // table (a use of `slot` after this line would not compile).
    ring.unregister_files(files).expect("unregister_files");
}

/// A sparse table: slots are empty (EBADF) until updated; an updated slot
/// does I/O; a CLOSE of a fixed slot empties it again.
#[test]
fn sparse_fixed_files_update_and_close() {
    let mut ring = Ring::new(8).unwrap();
    let bytes = pattern(64, 7);
    let file = tempfile_with(&bytes);
    let mut table = ring
        .register_files_sparse(4)
        .expect("register_files_sparse");
    assert_eq!(table.len(), 4);

    let mut buf = [0u8; 64];
    let cqe = complete(
        &mut ring,
        Read::new(table.get(2).unwrap(), &mut buf[..]).user_data(1),
    );
    assert_eq!(cqe.res(), -libc::EBADF, "an empty slot");

    let updated = ring
        .update_files(&mut table, 2, &[Some(file.as_fd())])
        .expect("update_files");
    assert_eq!(updated, 1);
    // Overrunning the table is refused before the kernel sees it.
    assert!(matches!(
        ring.update_files(&mut table, 3, &[Some(file.as_fd()), Some(file.as_fd())]),
        Err(Error::InvalidArgument(_))
    ));

    let cqe = complete(
        &mut ring,
        Read::new(table.get(2).unwrap(), &mut buf[..]).user_data(2),
    );
    assert_eq!((cqe.user_data(), cqe.result().unwrap()), (2, 64));
    assert_eq!(buf[..], bytes[..]);

    let cqe = complete(
        &mut ring,
        Read::new(table.get(0).unwrap(), &mut buf[..]).user_data(3),
    );
    assert_eq!(
        (cqe.user_data(), cqe.res()),
        (3, -libc::EBADF),
        "slot 0 is empty"
    );

    if require_op::<Close>(&ring) && uring_tests::require_kernel(5, 15, "CLOSE of a fixed slot") {
        // Closing a slot holds it exclusively: no other op can use it
        // meanwhile, and the close cannot be pushed twice.
        let cqe = complete(
            &mut ring,
            Close::new(table.get_mut(2).unwrap()).user_data(4),
        );
        assert_eq!((cqe.user_data(), cqe.res()), (4, 0), "close of slot 2");
        let cqe = complete(
            &mut ring,
            Read::new(table.get(2).unwrap(), &mut buf[..]).user_data(5),
        );
        assert_eq!(cqe.res(), -libc::EBADF, "slot 2 after its close");
        // The file itself is still open.
        assert!(uring_tests::fd_is_open(std::os::fd::AsRawFd::as_raw_fd(
            &file
        )));
    }

    // Emptying a slot with None.
    ring.update_files(&mut table, 2, &[Some(file.as_fd())])
        .unwrap();
    assert_eq!(ring.update_files(&mut table, 2, &[None]).unwrap(), 1);
    let cqe = complete(
        &mut ring,
        Read::new(table.get(2).unwrap(), &mut buf[..]).user_data(6),
    );
    assert_eq!(cqe.res(), -libc::EBADF);

    ring.unregister_files(table).expect("unregister_files");
    // A NOP still runs after unregistering.
    ring.push(Nop::new().user_data(7)).unwrap();
    assert_eq!(reap_one(&mut ring).user_data(), 7);
}

/// `update_file_slots` keeps, empties and fills slots one by one: a kept
/// slot still reads its own file, an emptied one fails with `EBADF`, a
/// filled one reads the new file; overrunning the table is refused.
#[test]
fn file_slots_are_kept_emptied_and_filled_one_by_one() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (first, second, third) = (pattern(16, 1), pattern(16, 2), pattern(16, 3));
    let (a, b, c) = (
        tempfile_with(&first),
        tempfile_with(&second),
        tempfile_with(&third),
    );
    let mut table = ring
        .register_files(&[a.as_fd(), b.as_fd(), a.as_fd()])
        .unwrap();
    let updated = ring
        .update_file_slots(
            &mut table,
            0,
            &[
                uring::SlotUpdate::Keep,
                uring::SlotUpdate::Empty,
                uring::SlotUpdate::Set(c.as_fd()),
            ],
        )
        .unwrap();
    assert_eq!(updated, 3);
    let mut read_slot = |slot: u32| {
        let mut buf = [0u8; 16];
        let cqe = complete(
            &mut ring,
            Read::new(table.get(slot).unwrap(), &mut buf[..])
                .offset(0)
                .user_data(u64::from(slot)),
        );
        cqe.result().map(|n| buf[..n as usize].to_vec())
    };
    assert_eq!(read_slot(0).unwrap(), first, "slot 0 kept its file");
    assert_eq!(
        read_slot(1).unwrap_err().raw_os_error(),
        Some(libc::EBADF),
        "slot 1 emptied"
    );
    assert_eq!(read_slot(2).unwrap(), third, "slot 2 took the new file");
    assert!(matches!(
        ring.update_file_slots(
            &mut table,
            2,
            &[uring::SlotUpdate::Keep, uring::SlotUpdate::Keep]
        ),
        Err(Error::InvalidArgument(_))
    ));
}

/// A table handle only works on the ring that made it.
#[test]
fn a_file_table_handle_belongs_to_its_ring() {
    let mut a = Ring::new(2).unwrap();
    let mut b = Ring::new(2).unwrap();
    let file = tempfile::tempfile().unwrap();
    let mut table = a.register_files_sparse(2).unwrap();
    assert!(matches!(
        b.update_files(&mut table, 0, &[Some(file.as_fd())]),
        Err(Error::InvalidArgument(_))
    ));
    // The refusal gives the handle back, and its own ring can still use it.
    let table = match b.unregister_files(table) {
        Err(uring::HandleError {
            error: Error::InvalidArgument(_),
            handle,
        }) => handle,
        other => panic!("expected the handle back: {other:?}"),
    };
    a.unregister_files(table)
        .expect("the owning ring unregisters it");
}

/// Four 64-byte buffers provided to group 7: reads that select a buffer get
/// ids in 0..4, each once, with the bytes in that buffer; a fifth read finds
/// the group empty (ENOBUFS).
#[test]
fn reads_select_provided_buffers() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<ProvideBuffers<'static>>(&ring) {
        return;
    }
    let mut region = vec![0u8; 4 * 64];
    let pool = BufferPool::new(&mut region, 64);
    assert_eq!(pool.count(), 4);
    // SAFETY: `region` stays allocated and untouched until every read that
    // may select one of its buffers has completed (all reaped below).
    unsafe {
        ring.push_unchecked(
            ProvideBuffers::new(pool, BufferGroup::new(7))
                .start_id(0)
                .user_data(100),
        )
    }
    .unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (100, 0), "ProvideBuffers");

    let (rx, tx) = pipe();
    let sent = pattern(5 * 64, 8);
    File::from(tx).write_all(&sent).unwrap();
    for i in 0..5u64 {
        push_lent!(
            ring,
            Read::new(&rx, BufferGroup::new(7).select(64)).user_data(i)
        )
        .unwrap();
    }
    let cqes = submit_and_reap(&mut ring, 5);
    let by = by_user_data(&cqes);
    let mut ids = Vec::new();
    for i in 0..4u64 {
        let cqe = by[&i];
        assert_eq!(cqe.result().ok(), Some(64), "read {i}: {cqe:?}");
        let id = cqe
            .buffer_id()
            .unwrap_or_else(|| panic!("read {i} names no buffer: {cqe:?}"));
        assert!(id < 4, "buffer id {id}");
        ids.push(id);
        let at = usize::from(id) * 64;
        // Reads from a pipe holding all the bytes run in order.
        let chunk = &sent[i as usize * 64..(i as usize + 1) * 64];
        assert_eq!(&region[at..at + 64], chunk, "read {i} into buffer {id}");
    }
    ids.sort_unstable();
    assert_eq!(ids, [0, 1, 2, 3], "each buffer used once");
    assert_eq!(by[&4].res(), -libc::ENOBUFS, "a fifth buffer: {:?}", by[&4]);
    assert_eq!(by[&4].buffer_id(), None);
}

/// `start_id` numbers the provided buffers.
#[test]
fn provided_buffer_ids_start_at_start_id() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<ProvideBuffers<'static>>(&ring) {
        return;
    }
    let mut region = vec![0u8; 32];
    // SAFETY: `region` outlives the read that uses it, reaped below.
    unsafe {
        ring.push_unchecked(
            ProvideBuffers::new(BufferPool::new(&mut region, 32), BufferGroup::new(3)).start_id(40),
        )
    }
    .unwrap();
    assert_eq!(reap_one(&mut ring).res(), 0);
    let bytes = pattern(20, 9);
    let file = tempfile_with(&bytes);
    push_lent!(
        ring,
        Read::new(&file, BufferGroup::new(3).select(32)).user_data(1)
    )
    .unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!(cqe.result().ok(), Some(20), "{cqe:?}");
    assert_eq!(cqe.buffer_id(), Some(40));
    assert_eq!(region[..20], bytes[..]);
}

/// A multishot read on a pipe: one completion per write, each in its own
/// provided buffer and flagged "more"; when the group runs out, a last
/// completion without the flag ends it.
#[test]
fn multishot_read_fills_one_buffer_per_completion() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<uring::ops::ReadMultishot>(&ring) {
        return;
    }
    let mut region = vec![0u8; 3 * 32];
    // SAFETY: `region` stays allocated and untouched until the multishot
    // read has posted its last completion (reaped below).
    unsafe {
        ring.push_unchecked(
            ProvideBuffers::new(BufferPool::new(&mut region, 32), BufferGroup::new(9)).user_data(1),
        )
    }
    .unwrap();
    assert_eq!(reap_one(&mut ring).res(), 0);

    let (rx, tx) = pipe();
    let mut tx = File::from(tx);
    push_lent!(
        ring,
        uring::ops::ReadMultishot::new(&rx, BufferGroup::new(9)).user_data(2)
    )
    .unwrap();
    ring.submit().unwrap();
    let mut ids = Vec::new();
    for i in 0..3u8 {
        let chunk = pattern(10 + usize::from(i), 40 + i);
        tx.write_all(&chunk).unwrap();
        ring.wait(1).unwrap();
        let cqe = ring.completions().next().unwrap();
        assert_eq!(cqe.user_data(), 2);
        assert_eq!(
            cqe.result().ok(),
            Some(chunk.len() as u32),
            "write {i}: {cqe:?}"
        );
        assert!(cqe.has_more(), "write {i}: {cqe:?}");
        let id = cqe.buffer_id().expect("a buffer id");
        let at = usize::from(id) * 32;
        assert_eq!(
            region[at..at + chunk.len()],
            chunk[..],
            "write {i} in buffer {id}"
        );
        ids.push(id);
    }
    ids.sort_unstable();
    assert_eq!(ids, [0, 1, 2]);
    // The group is empty: the next data ends the multishot read.
    tx.write_all(b"more").unwrap();
    ring.wait(1).unwrap();
    let last = ring.completions().next().unwrap();
    assert_eq!(last.user_data(), 2);
    assert!(!last.has_more(), "{last:?}");
    assert_eq!(last.res(), -libc::ENOBUFS, "{last:?}");
}

/// OPENAT through the ring: opens a file relative to a directory, creates
/// one with a mode, and fails with ENOENT for a missing path.
#[test]
fn openat_opens_and_creates() {
    use std::ffi::CString;
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;
    use uring::ops::OpenAt;

    let mut ring = Ring::new(4).unwrap();
    if !require_op::<OpenAt<'static>>(&ring) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bytes = pattern(50, 60);
    std::fs::write(dir.path().join("there"), &bytes).unwrap();
    let dir_file = File::open(dir.path()).unwrap();

    // A static path borrows nothing short-lived: the safe push takes it.
    push_lent!(ring, OpenAt::new(&dir_file, c"there").user_data(1)).unwrap();
    let cqe = reap_one(&mut ring);
    let fd = cqe.result().unwrap_or_else(|e| panic!("openat: {e}"));
    // SAFETY: the completion's result is a new descriptor nothing else owns.
    let mut opened = File::from(unsafe { OwnedFd::from_raw_fd(fd as i32) });
    // SAFETY: F_GETFD only reads the flags of a descriptor we own.
    let fd_flags = unsafe { libc::fcntl(fd as i32, libc::F_GETFD) };
    assert_eq!(
        fd_flags & libc::FD_CLOEXEC,
        libc::FD_CLOEXEC,
        "O_CLOEXEC by default"
    );
    assert_eq!(file_contents(&mut opened), bytes);

    let path = CString::new(dir.path().join("new").as_os_str().as_bytes()).unwrap();
    let create = OpenAt::new(Fd::CWD, &path)
        .open_flags(libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC)
        .mode(0o640)
        .user_data(2);
    let cqe = complete(&mut ring, create);
    let fd = cqe
        .result()
        .unwrap_or_else(|e| panic!("openat O_CREAT: {e}"));
    // SAFETY: as above.
    drop(unsafe { OwnedFd::from_raw_fd(fd as i32) });
    let meta = std::fs::metadata(dir.path().join("new")).unwrap();
    // The umask may clear bits, never add them.
    assert_eq!(
        meta.permissions().mode() & 0o777 & !0o640,
        0,
        "{:o}",
        meta.permissions().mode()
    );
    assert_eq!(meta.permissions().mode() & 0o600, 0o600);

    let cqe = complete(
        &mut ring,
        OpenAt::new(Fd::CWD, &path)
            .open_flags(libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY)
            .user_data(3),
    );
    assert_eq!(cqe.res(), -libc::EEXIST);

    push_lent!(ring, OpenAt::new(&dir_file, c"missing").user_data(4)).unwrap();
    assert_eq!(reap_one(&mut ring).res(), -libc::ENOENT);
}

/// `RWF_NOAPPEND` writes at the write's offset on a file opened with
/// `O_APPEND`, where a plain write appends whatever its offset.
#[test]
fn a_write_flagged_noappend_writes_at_its_offset() {
    let mut ring = Ring::new(8).unwrap();
    let path = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(path.path(), b"abcdef").unwrap();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .read(true)
        .open(path.path())
        .unwrap();
    let cqe = complete(&mut ring, Write::new(&file, &b"12"[..]).offset(1));
    assert_eq!(cqe.res(), 2);
    assert_eq!(file_contents(&mut file), b"abcdef12", "appended");
    let cqe = complete(
        &mut ring,
        Write::new(&file, &b"XY"[..])
            .offset(1)
            .rw_flags(uring::RwFlags::NOAPPEND),
    );
    if cqe.res() == -libc::EINVAL && !uring_tests::require_kernel(6, 9, "RWF_NOAPPEND") {
        return;
    }
    assert_eq!(cqe.res(), 2);
    assert_eq!(file_contents(&mut file), b"aXYdef12", "written in place");
}

/// `RWF_DONTCACHE` and `RWF_ATOMIC` reach the file system, which takes the
/// write (and reads it back) or refuses it as it says it does; the bytes
/// are the same either way it takes them.
#[test]
fn writes_flagged_dontcache_or_atomic_land_or_are_refused() {
    let mut ring = Ring::new(8).unwrap();
    // A disk file system rather than the tmpfs that may hold /tmp.
    let mut file = tempfile::tempfile_in("/var/tmp").unwrap();
    let data = pattern(4096, 3);
    for (flags, name) in [
        (uring::RwFlags::DONTCACHE, "RWF_DONTCACHE"),
        (uring::RwFlags::ATOMIC, "RWF_ATOMIC"),
    ] {
        let cqe = complete(&mut ring, Write::new(&file, &data[..]).rw_flags(flags));
        match cqe.res() {
            4096 => {
                assert_eq!(file_contents(&mut file), data, "{name}");
                let mut back = vec![0u8; 4096];
                let read = complete(&mut ring, Read::new(&file, &mut back[..]).rw_flags(flags));
                if read.res() == 4096 {
                    assert_eq!(back, data, "{name}: read back");
                } else {
                    assert!(
                        [-libc::EINVAL, -libc::EOPNOTSUPP].contains(&read.res()),
                        "{name}: read {}",
                        read.res()
                    );
                }
            }
            e if e == -libc::EOPNOTSUPP || e == -libc::EINVAL => {
                uring_tests::skip(format_args!(
                    "{name}: this file system refuses it ({})",
                    std::io::Error::from_raw_os_error(-e)
                ));
                assert!(
                    file_contents(&mut file).is_empty(),
                    "{name}: refused, wrote nothing"
                );
            }
            e => panic!("{name}: {e}"),
        }
        file.set_len(0).unwrap();
    }
}

/// A write stream (6.16) reaches the block device: `O_DIRECT` writes to a
/// loop device, which has no streams, complete for stream 0 and fail with
/// `EINVAL` for any other, writing nothing; buffered writes to it, and
/// writes to files, do not use streams and complete whatever the stream.
#[test]
fn writes_to_a_stream_the_device_lacks_fail_and_write_nothing() {
    use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _};
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(6, 16, "write streams") {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let data = pattern(4096, 3);
    // A tmpfs file and (if /var/tmp is on a disk) a disk file system's.
    for dir in ["/tmp", "/var/tmp"] {
        let mut file = tempfile::tempfile_in(dir).unwrap();
        for stream in [1, u8::MAX] {
            let cqe = complete(&mut ring, Write::new(&file, &data[..]).write_stream(stream));
            assert_eq!(cqe.res(), 4096, "{dir}, stream {stream}");
            assert_eq!(file_contents(&mut file), data, "{dir}, stream {stream}");
            file.set_len(0).unwrap();
        }
    }
    let dir = uring_tests::test_dir!();
    let Some((path, _attached)) = uring_tests::block::loop_device(dir.path(), 1 << 20, 0) else {
        return;
    };
    let mut blocks = uring_tests::aligned_blocks(4096);
    let buf = uring_tests::block_bytes(&mut blocks);
    buf.copy_from_slice(&data);
    // Reads back (and clears) through the page cache, which direct writes
    // keep coherent.
    let plain = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    for direct in [true, false] {
        let device = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(if direct { libc::O_DIRECT } else { 0 })
            .open(&path)
            .unwrap();
        let mut back = vec![0u8; 4096];
        for (stream, at) in [(1u8, 0u64), (u8::MAX, 4096), (0, 8192)] {
            let what = format!("direct {direct}, stream {stream}");
            let write = Write::new(&device, &buf[..])
                .offset(at)
                .write_stream(stream);
            let res = complete(&mut ring, write).res();
            device.sync_all().unwrap();
            plain.read_exact_at(&mut back, at).unwrap();
            if direct && stream != 0 {
                assert_eq!(res, -libc::EINVAL, "{what}");
                assert!(back.iter().all(|&b| b == 0), "{what}: nothing written");
            } else {
                assert_eq!(res, 4096, "{what}");
                assert_eq!(back, data, "{what}");
            }
        }
        // Zeros again for the buffered round.
        let zeros = vec![0u8; 3 * 4096];
        plain.write_all_at(&zeros, 0).unwrap();
        plain.sync_all().unwrap();
    }
}

/// Protection information (6.13) reaches the kernel: a read or write that
/// completes without it fails with `EINVAL` once it carries a `PiAttr`, on
/// a file and on a loop device opened for `O_DIRECT` (which has no
/// integrity profile), whatever the checks, and neither the data nor the
/// metadata buffer is touched.
#[test]
fn protection_information_where_the_device_has_none_is_einval() {
    use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _};
    use uring::{IntegrityFlags, PiAttr};
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_features(&ring, Features::RW_ATTR, "read and write attributes") {
        return;
    }
    let mut meta = [0xAAu8; 64];
    let file = tempfile::tempfile_in("/var/tmp").unwrap();
    file.write_all_at(&pattern(4096, 5), 0).unwrap();
    let mut data = vec![0x55u8; 4096];
    let plain = complete(&mut ring, Read::new(&file, &mut data[..])).res();
    assert_eq!(plain, 4096, "a read without protection information");
    data.fill(0x55);
    let mut attr = PiAttr::new(&mut meta);
    let res = complete(&mut ring, Read::new(&file, &mut data[..]).pi(&mut attr)).res();
    assert_eq!(res, -libc::EINVAL, "a file read");
    let mut attr = PiAttr::new(&mut meta).flags(IntegrityFlags::all());
    let res = complete(
        &mut ring,
        Write::new(&file, &data[..]).offset(4096).pi(&mut attr),
    )
    .res();
    assert_eq!(res, -libc::EINVAL, "a file write");
    assert_eq!(file.metadata().unwrap().len(), 4096, "nothing written");
    assert!(data.iter().all(|&b| b == 0x55), "the data buffer untouched");
    assert!(meta.iter().all(|&b| b == 0xAA), "the metadata untouched");

    let dir = uring_tests::test_dir!();
    let Some((path, _attached)) = uring_tests::block::loop_device(dir.path(), 1 << 20, 0) else {
        return;
    };
    let device = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(&path)
        .unwrap();
    let mut blocks = uring_tests::aligned_blocks(4096);
    let buf = uring_tests::block_bytes(&mut blocks);
    buf.fill(0x33);
    let res = complete(&mut ring, Write::new(&device, &buf[..])).res();
    assert_eq!(res, 4096, "a direct write without protection information");
    for flags in [
        IntegrityFlags::empty(),
        IntegrityFlags::GUARD | IntegrityFlags::REFTAG,
    ] {
        buf.fill(0x77);
        let mut attr = PiAttr::new(&mut meta).flags(flags).app_tag(0x1234).seed(0);
        let res = complete(&mut ring, Read::new(&device, &mut buf[..]).pi(&mut attr)).res();
        assert_eq!(res, -libc::EINVAL, "a direct read, {flags:?}");
        assert!(
            buf.iter().all(|&b| b == 0x77),
            "{flags:?}: the data buffer untouched"
        );
        let mut attr = PiAttr::new(&mut meta).flags(flags);
        let res = complete(&mut ring, Write::new(&device, &buf[..]).pi(&mut attr)).res();
        assert_eq!(res, -libc::EINVAL, "a direct write, {flags:?}");
    }
    let res = complete(&mut ring, Read::new(&device, &mut buf[..])).res();
    assert_eq!(res, 4096);
    assert!(
        buf.iter().all(|&b| b == 0x33),
        "the writes with protection information wrote nothing"
    );
    assert!(meta.iter().all(|&b| b == 0xAA), "the metadata untouched");
}
