//! File-system ops through the ring, checked against what the kernel did:
//! syncs (seen as delayed-allocation extents turning into real ones),
//! fallocate, fadvise (seen in the page cache), ftruncate, statx, openat2,
//! the `*at` family (rename, unlink, mkdir, symlink, link), extended
//! attributes, the fixed-file table (update, install), pipes, fixed-buffer
//! I/O, splice, tee and madvise.

use std::ffi::CStr;
use std::fs::File;
use std::io::{self, IoSlice, IoSliceMut, Read as _, Seek, SeekFrom, Write as _};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};
use uring::Fd;
use uring::InstallFlags;
use uring::{FileUpdates, FilesAt};
use uring_tests::cpath;
use uring_tests::push_lent;

use uring::ops::{
    FGetXattr, FSetXattr, Fadvise, Fallocate, FilesUpdate, FixedFdInstall, Fsync, Ftruncate,
    GetXattr, LinkAt, Madvise, MkdirAt, OpenAt2, Pipe, ReadFixed, ReadVFixed, RenameAt, SetXattr,
    Splice, Statx, SymlinkAt, SyncFileRange, Tee, UnlinkAt, WriteFixed, WriteVFixed,
};
use uring::{Cqe, FsyncFlags, MadviseRange, Ring, SpliceFlags};
use uring_tests::{
    by_user_data, complete, pattern, pipe, reap_one, require_op, skip, submit_and_reap,
};

// ---------------------------------------------------------------------------
// Private helpers.

/// The completion's value, or a panic naming `what` and the errno.
fn ok(cqe: Cqe, what: &str) -> u32 {
    cqe.result()
        .unwrap_or_else(|e| panic!("{what}: {e} ({cqe:?})"))
}

/// An unnamed temporary file (on the file system of the temp dir) holding
/// `bytes`, positioned at 0.
fn tempfile_with(bytes: &[u8]) -> File {
    let mut file = tempfile::tempfile().expect("tempfile");
    file.write_all(bytes).expect("write the tempfile");
    file.seek(SeekFrom::Start(0)).unwrap();
    file
}

/// Everything in `file`, read with `pread` (the position does not move).
fn contents(file: &File) -> Vec<u8> {
    let len = file.metadata().unwrap().len() as usize;
    let mut out = vec![0u8; len];
    file.read_exact_at(&mut out, 0).unwrap();
    out
}

/// Takes ownership of the descriptor a completion returned.
fn owned(fd: u32) -> OwnedFd {
    assert!(fd <= i32::MAX as u32, "descriptor {fd}");
    // SAFETY: the op just created this descriptor and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

/// Whether `fd` has `FD_CLOEXEC` set.
fn cloexec(fd: BorrowedFd<'_>) -> bool {
    // SAFETY: F_GETFD only reads the flags of a descriptor we borrow.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
    assert!(flags >= 0, "F_GETFD: {}", io::Error::last_os_error());
    flags & libc::FD_CLOEXEC != 0
}

/// The `O_*` status flags of `fd` (`F_GETFL`).
fn status_flags(fd: BorrowedFd<'_>) -> i32 {
    // SAFETY: F_GETFL only reads the flags of a descriptor we borrow.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    assert!(flags >= 0, "F_GETFL: {}", io::Error::last_os_error());
    flags
}

/// `fstat(2)` of `fd`.
fn fstat(fd: BorrowedFd<'_>) -> libc::stat {
    // SAFETY: all-zero bytes are a valid `stat`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable `stat`.
    let rc = unsafe { libc::fstat(fd.as_raw_fd(), &mut st) };
    assert_eq!(rc, 0, "fstat: {}", io::Error::last_os_error());
    st
}

/// The process's umask, read without changing it (other tests of this
/// binary create files concurrently).
fn current_umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .expect("a Umask line in /proc/self/status");
    u32::from_str_radix(line.trim(), 8).expect("an octal umask")
}

/// The size of a page.
fn page_size() -> usize {
    // SAFETY: sysconf takes a plain integer.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    assert!(size > 0);
    size as usize
}

/// A directory opened for use as the `dirfd` of the `*at` ops.
fn open_dir(path: &Path) -> File {
    File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

/// `FS_IOC_FIEMAP`: `_IOWR('f', 11, struct fiemap)`.
const FS_IOC_FIEMAP: libc::c_ulong = 0xC020_660B;
/// `FIEMAP_EXTENT_DELALLOC`: the extent has no blocks yet (delayed
/// allocation: its data has not been written back).
const FIEMAP_EXTENT_DELALLOC: u32 = 0x4;

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct FiemapExtent {
    fe_logical: u64,
    fe_physical: u64,
    fe_length: u64,
    fe_reserved64: [u64; 2],
    fe_flags: u32,
    fe_reserved: [u32; 3],
}

#[repr(C)]
struct Fiemap {
    fm_start: u64,
    fm_length: u64,
    fm_flags: u32,
    fm_mapped_extents: u32,
    fm_extent_count: u32,
    fm_reserved: u32,
    fm_extents: [FiemapExtent; 32],
}

/// The byte ranges of `file` that are still waiting for delayed allocation
/// (dirty data never written back), from `FS_IOC_FIEMAP` without
/// `FIEMAP_FLAG_SYNC`; `None` when the file system has no FIEMAP.
fn delalloc_ranges(file: &File) -> Option<Vec<(u64, u64)>> {
    let mut map = Fiemap {
        fm_start: 0,
        fm_length: u64::MAX,
        fm_flags: 0,
        fm_mapped_extents: 0,
        fm_extent_count: 32,
        fm_reserved: 0,
        fm_extents: [FiemapExtent::default(); 32],
    };
    // SAFETY: `map` is a `struct fiemap` with room for the 32 extents it
    // announces.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), FS_IOC_FIEMAP, &mut map as *mut Fiemap) };
    if rc != 0 {
        return None;
    }
    let n = (map.fm_mapped_extents as usize).min(32);
    Some(
        map.fm_extents[..n]
            .iter()
            .filter(|e| e.fe_flags & FIEMAP_EXTENT_DELALLOC != 0)
            .map(|e| (e.fe_logical, e.fe_logical + e.fe_length))
            .collect(),
    )
}

/// Where the second run of data of a [`dirty_delalloc_file`] starts.
const FAR: u64 = 1 << 20;

/// A file under the temp dir with two runs of fresh, dirty, not yet
/// allocated data, `0..chunk` and `FAR..FAR + chunk`, with a hole between,
/// if the file system shows delayed allocation through FIEMAP (ext4, xfs,
/// btrfs); `None` (after saying why) otherwise. (ext4 allocates a whole
/// delayed extent when any page of it is written back, so a range is
/// observed by which of the two runs gets its blocks.)
fn dirty_delalloc_file(chunk: u64, seed: u8) -> Option<File> {
    let file = tempfile::tempfile().expect("tempfile");
    file.write_all_at(&pattern(chunk as usize, seed), 0)
        .unwrap();
    file.write_all_at(&pattern(chunk as usize, seed ^ 0x55), FAR)
        .unwrap();
    match delalloc_ranges(&file) {
        Some(ranges) if ranges == [(0, chunk), (FAR, FAR + chunk)] => Some(file),
        other => {
            eprintln!(
                "note: the temp dir's file system shows no delayed allocation \
                 for fresh data ({other:?}); writeback is not observed"
            );
            None
        }
    }
}

// ---------------------------------------------------------------------------
// Fsync, SyncFileRange.

/// FSYNC writes dirty data back: the file's delayed-allocation extents get
/// blocks. A ranged fsync writes back only its range.
#[test]
fn fsync_writes_dirty_data_back() {
    let mut ring = Ring::new(8).unwrap();
    let chunk = 4 * page_size() as u64;

    let file = tempfile_with(&pattern(chunk as usize, 1));
    push_lent!(ring, Fsync::new(&file).user_data(1)).unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0), "fsync: {cqe:?}");
    assert_eq!(
        delalloc_ranges(&file).unwrap_or_default(),
        [],
        "after FSYNC nothing waits for allocation"
    );

    // Seen from the other side: fresh data is delayed, and a ranged FSYNC
    // writes back its range only.
    if let Some(file) = dirty_delalloc_file(chunk, 2) {
        push_lent!(
            ring,
            Fsync::new(&file).offset(0).len(chunk as u32).user_data(2)
        )
        .unwrap();
        let cqe = reap_one(&mut ring);
        assert_eq!(cqe.res(), 0, "ranged fsync: {cqe:?}");
        assert_eq!(
            delalloc_ranges(&file).unwrap(),
            [(FAR, FAR + chunk)],
            "fsync of 0..{chunk} wrote back that run, and only that one"
        );

        push_lent!(ring, Fsync::new(&file).offset(FAR).len(1).user_data(3)).unwrap();
        assert_eq!(reap_one(&mut ring).res(), 0);
        assert_eq!(delalloc_ranges(&file).unwrap(), [], "fsync at FAR");
    }
}

/// FSYNC with `DATASYNC` (fdatasync) writes the data back too; unknown
/// flags are refused; a pipe cannot be synced; a bad descriptor is EBADF.
#[test]
fn fdatasync_and_fsync_errors() {
    let mut ring = Ring::new(8).unwrap();
    let chunk = 2 * page_size() as u64;
    match dirty_delalloc_file(chunk, 3) {
        Some(file) => {
            push_lent!(
                ring,
                Fsync::new(&file)
                    .fsync_flags(FsyncFlags::DATASYNC)
                    .user_data(1),
            )
            .unwrap();
            assert_eq!(reap_one(&mut ring).res(), 0, "fdatasync");
            assert_eq!(delalloc_ranges(&file).unwrap(), [], "after fdatasync");
        }
        None => {
            let file = tempfile_with(&pattern(chunk as usize, 3));
            push_lent!(
                ring,
                Fsync::new(&file)
                    .fsync_flags(FsyncFlags::DATASYNC)
                    .user_data(1),
            )
            .unwrap();
            assert_eq!(reap_one(&mut ring).res(), 0, "fdatasync");
        }
    }

    let file = tempfile_with(b"x");
    push_lent!(
        ring,
        Fsync::new(&file)
            .fsync_flags(FsyncFlags::from_bits_retain(0x80))
            .user_data(2),
    )
    .unwrap();
    assert_eq!(
        reap_one(&mut ring).res(),
        -libc::EINVAL,
        "unknown fsync flag"
    );

    let (rx, _tx) = pipe();
    push_lent!(ring, Fsync::new(&rx).user_data(3)).unwrap();
    assert_eq!(reap_one(&mut ring).res(), -libc::EINVAL, "fsync of a pipe");

    push_lent!(ring, Fsync::new(uring_tests::bad_fd()).user_data(4)).unwrap();
    assert_eq!(reap_one(&mut ring).res(), -libc::EBADF, "fsync of fd -1");

    // A fixed file syncs as well.
    let files = ring.register_files(&[file.as_fd()]).unwrap();
    push_lent!(ring, Fsync::new(files.get(0).unwrap()).user_data(5)).unwrap();
    assert_eq!(reap_one(&mut ring).res(), 0, "fsync of a fixed file");
}

/// SYNC_FILE_RANGE with `SYNC_FILE_RANGE_WRITE` writes back the range it
/// names and nothing else (a length of 0 runs to the end of the file);
/// without `WRITE` it writes nothing; bad flags and non-files are refused.
#[test]
fn sync_file_range_writes_its_range() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SyncFileRange>(&ring) {
        return;
    }
    let chunk = 4 * page_size() as u64;
    let wait_write = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;

    let file = tempfile_with(&pattern(chunk as usize, 4));
    push_lent!(
        ring,
        SyncFileRange::new(&file)
            .sync_range_flags(wait_write)
            .user_data(1),
    )
    .unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0), "{cqe:?}");

    if let Some(file) = dirty_delalloc_file(chunk, 5) {
        let both = [(0, chunk), (FAR, FAR + chunk)];
        // Waiting alone starts no writeback.
        push_lent!(
            ring,
            SyncFileRange::new(&file)
                .sync_range_flags(libc::SYNC_FILE_RANGE_WAIT_AFTER)
                .user_data(2),
        )
        .unwrap();
        assert_eq!(reap_one(&mut ring).res(), 0);
        assert_eq!(
            delalloc_ranges(&file).unwrap(),
            both,
            "WAIT_AFTER alone wrote data back"
        );

        // A range past all data writes nothing.
        push_lent!(
            ring,
            SyncFileRange::new(&file)
                .offset(2 * FAR)
                .len(chunk as u32)
                .sync_range_flags(wait_write)
                .user_data(3),
        )
        .unwrap();
        assert_eq!(reap_one(&mut ring).res(), 0);
        assert_eq!(
            delalloc_ranges(&file).unwrap(),
            both,
            "a range past the data"
        );

        // One page of the far run.
        push_lent!(
            ring,
            SyncFileRange::new(&file)
                .offset(FAR)
                .len(page_size() as u32)
                .sync_range_flags(wait_write)
                .user_data(4),
        )
        .unwrap();
        assert_eq!(reap_one(&mut ring).res(), 0);
        assert_eq!(
            delalloc_ranges(&file).unwrap(),
            [(0, chunk)],
            "the far run, and only it, was written back"
        );

        // From 0 with length 0: to the end.
        push_lent!(
            ring,
            SyncFileRange::new(&file)
                .sync_range_flags(wait_write)
                .user_data(5),
        )
        .unwrap();
        assert_eq!(reap_one(&mut ring).res(), 0);
        assert_eq!(delalloc_ranges(&file).unwrap(), []);
    }

    push_lent!(
        ring,
        SyncFileRange::new(&file)
            .sync_range_flags(0x80)
            .user_data(6),
    )
    .unwrap();
    assert_eq!(reap_one(&mut ring).res(), -libc::EINVAL, "unknown flag");

    let (rx, _tx) = pipe();
    push_lent!(
        ring,
        SyncFileRange::new(&rx)
            .sync_range_flags(wait_write)
            .user_data(7),
    )
    .unwrap();
    assert_eq!(reap_one(&mut ring).res(), -libc::ESPIPE, "a pipe");
}

// ---------------------------------------------------------------------------
// Fallocate, Fadvise, Ftruncate.

/// FALLOCATE mode 0 allocates and grows the file; KEEP_SIZE allocates
/// without growing it; PUNCH_HOLE|KEEP_SIZE frees a range that then reads
/// back as zeros; PUNCH_HOLE alone is refused.
#[test]
fn fallocate_allocates_and_punches_holes() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Fallocate>(&ring) {
        return;
    }
    let file = tempfile::tempfile().unwrap();
    push_lent!(ring, Fallocate::new(&file, 64 * 1024).user_data(1)).unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0), "{cqe:?}");
    let meta = file.metadata().unwrap();
    assert_eq!(meta.len(), 64 * 1024, "the file grew to the allocation");
    assert!(
        meta.blocks() * 512 >= 64 * 1024,
        "{} blocks of 512 bytes after allocating 64 KiB",
        meta.blocks()
    );
    assert_eq!(contents(&file), vec![0u8; 64 * 1024]);

    // At an offset, with KEEP_SIZE: blocks grow, the size does not.
    push_lent!(
        ring,
        Fallocate::new(&file, 64 * 1024)
            .offset(64 * 1024)
            .mode(libc::FALLOC_FL_KEEP_SIZE)
            .user_data(2),
    )
    .unwrap();
    assert_eq!(reap_one(&mut ring).res(), 0);
    let meta = file.metadata().unwrap();
    assert_eq!(meta.len(), 64 * 1024, "KEEP_SIZE kept the size");
    assert!(
        meta.blocks() * 512 >= 128 * 1024,
        "{} blocks",
        meta.blocks()
    );

    // Offset without KEEP_SIZE extends the file to offset + len.
    push_lent!(
        ring,
        Fallocate::new(&file, 4096).offset(200_000).user_data(3)
    )
    .unwrap();
    assert_eq!(reap_one(&mut ring).res(), 0);
    assert_eq!(file.metadata().unwrap().len(), 204_096);

    // Punch a hole in data.
    let data = pattern(16 * 4096, 6);
    file.write_all_at(&data, 0).unwrap();
    file.sync_all().unwrap();
    let blocks_before = file.metadata().unwrap().blocks();
    push_lent!(
        ring,
        Fallocate::new(&file, 8 * 4096)
            .offset(4 * 4096)
            .mode(libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE)
            .user_data(4),
    )
    .unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!(cqe.res(), 0, "punch hole: {cqe:?}");
    let meta = file.metadata().unwrap();
    assert_eq!(meta.len(), 204_096, "a punched hole keeps the size");
    assert!(
        meta.blocks() < blocks_before,
        "punching 32 KiB freed no blocks: {} -> {}",
        blocks_before,
        meta.blocks()
    );
    let now = contents(&file);
    assert_eq!(now[..4 * 4096], data[..4 * 4096]);
    assert!(
        now[4 * 4096..12 * 4096].iter().all(|&b| b == 0),
        "the hole reads back as zeros"
    );
    assert_eq!(now[12 * 4096..16 * 4096], data[12 * 4096..]);

    push_lent!(
        ring,
        Fallocate::new(&file, 4096)
            .mode(libc::FALLOC_FL_PUNCH_HOLE)
            .user_data(5),
    )
    .unwrap();
    assert_eq!(
        reap_one(&mut ring).res(),
        -libc::EOPNOTSUPP,
        "PUNCH_HOLE without KEEP_SIZE"
    );

    // A fixed file, and a pipe.
    let files = ring.register_files(&[file.as_fd()]).unwrap();
    push_lent!(
        ring,
        Fallocate::new(files.get(0).unwrap(), 4096)
            .offset(300_000)
            .user_data(6),
    )
    .unwrap();
    assert_eq!(reap_one(&mut ring).res(), 0);
    assert_eq!(file.metadata().unwrap().len(), 304_096);
    // A pipe's write end (its read end, not open for writing, is EBADF).
    let (rx, tx) = pipe();
    push_lent!(ring, Fallocate::new(&tx, 4096).user_data(7)).unwrap();
    assert_eq!(
        reap_one(&mut ring).res(),
        -libc::ESPIPE,
        "fallocate of a pipe"
    );
    push_lent!(ring, Fallocate::new(&rx, 4096).user_data(8)).unwrap();
    assert_eq!(
        reap_one(&mut ring).res(),
        -libc::EBADF,
        "a read-only descriptor"
    );
}

/// How many of the first `pages` pages of `file` are in the page cache,
/// page by page (`mincore(2)` of a mapping that is never touched).
fn resident_pages(file: &File, pages: usize) -> Vec<bool> {
    let page = page_size();
    // SAFETY: a fresh shared read-only mapping of the file, unmapped below;
    // it is never dereferenced.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            pages * page,
            libc::PROT_READ,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        )
    };
    assert_ne!(
        addr,
        libc::MAP_FAILED,
        "mmap: {}",
        io::Error::last_os_error()
    );
    let mut vec = vec![0u8; pages];
    // SAFETY: `addr` is a mapping of `pages` pages, and `vec` has a byte
    // for each.
    let rc = unsafe { libc::mincore(addr, pages * page, vec.as_mut_ptr()) };
    let err = io::Error::last_os_error();
    // SAFETY: the mapping made above, used by nothing else.
    unsafe { libc::munmap(addr, pages * page) };
    assert_eq!(rc, 0, "mincore: {err}");
    vec.iter().map(|&b| b & 1 != 0).collect()
}

/// FADVISE `DONTNEED` drops a clean file's pages from the page cache;
/// `WILLNEED` reads the range it names back in; a bad advice is EINVAL, a
/// pipe ESPIPE.
#[test]
fn fadvise_moves_pages_in_and_out_of_the_cache() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Fadvise>(&ring) {
        return;
    }
    let page = page_size();
    let file = tempfile_with(&pattern(16 * page, 7));
    file.sync_all().unwrap();
    let before = resident_pages(&file, 16);
    if before.iter().filter(|&&r| r).count() < 16 {
        skip(format_args!(
            "fresh pages of the temp dir's file system are not all cached: {before:?}"
        ));
        return;
    }

    push_lent!(
        ring,
        Fadvise::new(&file, libc::POSIX_FADV_DONTNEED).user_data(1)
    )
    .unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0), "{cqe:?}");
    let after = resident_pages(&file, 16);
    assert!(
        after.iter().all(|&r| !r),
        "DONTNEED left pages cached: {after:?}"
    );

    // WILLNEED on pages 4..8 only; the reads complete asynchronously.
    push_lent!(
        ring,
        Fadvise::new(&file, libc::POSIX_FADV_WILLNEED)
            .offset(4 * page as u64)
            .len(4 * page as u64)
            .user_data(2),
    )
    .unwrap();
    assert_eq!(reap_one(&mut ring).res(), 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut now = resident_pages(&file, 16);
    while !now[4..8].iter().all(|&r| r) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
        now = resident_pages(&file, 16);
    }
    assert!(now[4..8].iter().all(|&r| r), "WILLNEED of 4..8: {now:?}");
    assert!(
        now[12..].iter().all(|&r| !r),
        "WILLNEED of 4..8 read pages 12..16 too: {now:?}"
    );
    // The data read back is the data.
    assert_eq!(contents(&file), pattern(16 * page, 7));

    // DONTNEED through a fixed file.
    let files = ring.register_files(&[file.as_fd()]).unwrap();
    assert!(resident_pages(&file, 16).iter().all(|&r| r), "all read in");
    push_lent!(
        ring,
        Fadvise::new(files.get(0).unwrap(), libc::POSIX_FADV_DONTNEED).user_data(5)
    )
    .unwrap();
    assert_eq!(reap_one(&mut ring).res(), 0);
    let after = resident_pages(&file, 16);
    assert!(
        after.iter().all(|&r| !r),
        "DONTNEED on a fixed file left pages cached: {after:?}"
    );

    push_lent!(ring, Fadvise::new(&file, 1234).user_data(3)).unwrap();
    assert_eq!(reap_one(&mut ring).res(), -libc::EINVAL, "unknown advice");
    let (rx, _tx) = pipe();
    push_lent!(
        ring,
        Fadvise::new(&rx, libc::POSIX_FADV_DONTNEED).user_data(4)
    )
    .unwrap();
    assert_eq!(
        reap_one(&mut ring).res(),
        -libc::ESPIPE,
        "fadvise of a pipe"
    );
}

/// FTRUNCATE shrinks (the bytes before the cut stay) and grows (with zeros),
/// on a descriptor and on a fixed file; a file opened read-only cannot be
/// truncated.
#[test]
fn ftruncate_shrinks_and_grows() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Ftruncate>(&ring) {
        return;
    }
    let data = pattern(1000, 8);
    let file = tempfile_with(&data);

    push_lent!(ring, Ftruncate::new(&file, 100).user_data(1)).unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0), "{cqe:?}");
    assert_eq!(contents(&file), data[..100]);

    push_lent!(ring, Ftruncate::new(&file, 5000).user_data(2)).unwrap();
    assert_eq!(reap_one(&mut ring).res(), 0);
    let now = contents(&file);
    assert_eq!(now.len(), 5000);
    assert_eq!(now[..100], data[..100]);
    assert!(now[100..].iter().all(|&b| b == 0), "grown with zeros");

    // Through a fixed file, after the descriptor is gone.
    let check = file.try_clone().unwrap();
    let files = ring.register_files(&[file.as_fd()]).unwrap();
    drop(file);
    let slot = files.get(0).unwrap();
    push_lent!(ring, Ftruncate::new(slot, 7).user_data(3)).unwrap();
    assert_eq!(reap_one(&mut ring).res(), 0, "fixed shrink");
    assert_eq!(contents(&check), data[..7]);
    push_lent!(ring, Ftruncate::new(slot, 1 << 20).user_data(4)).unwrap();
    assert_eq!(reap_one(&mut ring).res(), 0, "fixed grow");
    assert_eq!(check.metadata().unwrap().len(), 1 << 20);

    // A length beyond i64::MAX is a negative off_t to the kernel.
    push_lent!(ring, Ftruncate::new(slot, u64::MAX).user_data(6)).unwrap();
    assert_eq!(
        reap_one(&mut ring).res(),
        -libc::EINVAL,
        "a negative length"
    );
    assert_eq!(check.metadata().unwrap().len(), 1 << 20);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ro"), &data).unwrap();
    let ro = File::open(dir.path().join("ro")).unwrap();
    push_lent!(ring, Ftruncate::new(&ro, 10).user_data(5)).unwrap();
    assert_eq!(reap_one(&mut ring).res(), -libc::EINVAL, "read-only file");
    assert_eq!(ro.metadata().unwrap().len(), 1000);
}

// ---------------------------------------------------------------------------
// Statx, OpenAt2.

fn zeroed_statx() -> libc::statx {
    // SAFETY: all-zero bytes are a valid `statx`.
    unsafe { std::mem::zeroed() }
}

/// STATX by path, relative to a directory, on a descriptor with
/// `AT_EMPTY_PATH`, of a symlink with `AT_SYMLINK_NOFOLLOW`; a missing path
/// is ENOENT, and so is an empty one without `AT_EMPTY_PATH`.
#[test]
fn statx_reports_size_mode_and_inode() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Statx<'static>>(&ring) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, pattern(1234, 9)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    let c = cpath(&path);

    let mut stx = zeroed_statx();
    let cqe = complete(&mut ring, Statx::new(Fd::CWD, &c, &mut stx).user_data(1));
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0), "{cqe:?}");
    let want = libc::STATX_SIZE | libc::STATX_MODE | libc::STATX_TYPE | libc::STATX_INO;
    assert_eq!(stx.stx_mask & want, want, "mask {:#x}", stx.stx_mask);
    assert_eq!(stx.stx_size, 1234);
    assert_eq!(u32::from(stx.stx_mode) & libc::S_IFMT, libc::S_IFREG);
    assert_eq!(stx.stx_mode & 0o7777, 0o640);
    assert_eq!(stx.stx_ino, meta.ino());
    assert_eq!(stx.stx_nlink, 1);

    // On the descriptor itself, which sees later changes.
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(5000).unwrap();
    let mut stx = zeroed_statx();
    let cqe = complete(
        &mut ring,
        Statx::new(&file, c"", &mut stx)
            .statx_flags(libc::AT_EMPTY_PATH)
            .user_data(2),
    );
    assert_eq!(cqe.res(), 0, "AT_EMPTY_PATH");
    assert_eq!((stx.stx_size, stx.stx_ino), (5000, meta.ino()));

    let cqe = complete(&mut ring, Statx::new(&file, c"", &mut stx).user_data(3));
    assert_eq!(
        cqe.res(),
        -libc::ENOENT,
        "an empty path without AT_EMPTY_PATH"
    );

    // Relative to a directory; a symlink with and without following it.
    std::os::unix::fs::symlink("f", dir.path().join("l")).unwrap();
    let dir_file = open_dir(dir.path());
    let mut stx = zeroed_statx();
    let cqe = complete(
        &mut ring,
        Statx::new(&dir_file, c"l", &mut stx)
            .statx_flags(libc::AT_SYMLINK_NOFOLLOW)
            .user_data(4),
    );
    assert_eq!(cqe.res(), 0);
    assert_eq!(u32::from(stx.stx_mode) & libc::S_IFMT, libc::S_IFLNK);
    assert_eq!(stx.stx_size, 1, "a symlink's size is its target's length");
    let mut stx = zeroed_statx();
    let cqe = complete(
        &mut ring,
        Statx::new(&dir_file, c"l", &mut stx).user_data(5),
    );
    assert_eq!(cqe.res(), 0);
    assert_eq!(u32::from(stx.stx_mode) & libc::S_IFMT, libc::S_IFREG);
    assert_eq!((stx.stx_size, stx.stx_ino), (5000, meta.ino()));

    // The mask says which fields are wanted: a birth time only when asked
    // for (on a file system that has one).
    let mut with = zeroed_statx();
    let cqe = complete(
        &mut ring,
        Statx::new(Fd::CWD, &c, &mut with)
            .mask(libc::STATX_BASIC_STATS | libc::STATX_BTIME)
            .user_data(8),
    );
    assert_eq!(cqe.res(), 0);
    let mut without = zeroed_statx();
    let cqe = complete(
        &mut ring,
        Statx::new(Fd::CWD, &c, &mut without).user_data(9),
    );
    assert_eq!(cqe.res(), 0);
    assert_eq!(
        without.stx_mask & libc::STATX_BASIC_STATS,
        libc::STATX_BASIC_STATS,
        "the default mask is STATX_BASIC_STATS"
    );
    if with.stx_mask & libc::STATX_BTIME != 0 {
        assert!(with.stx_btime.tv_sec > 0, "a birth time when asked for");
        assert_eq!(
            without.stx_mask & libc::STATX_BTIME,
            0,
            "a birth time without asking: the mask did not reach the kernel"
        );
    } else {
        eprintln!("note: the temp dir's file system reports no birth time");
    }

    // The directory itself.
    let mut stx = zeroed_statx();
    let cqe = complete(
        &mut ring,
        Statx::new(&dir_file, c"", &mut stx)
            .statx_flags(libc::AT_EMPTY_PATH)
            .mask(libc::STATX_TYPE)
            .user_data(6),
    );
    assert_eq!(cqe.res(), 0);
    assert_eq!(u32::from(stx.stx_mode) & libc::S_IFMT, libc::S_IFDIR);

    let mut stx = zeroed_statx();
    let cqe = complete(
        &mut ring,
        Statx::new(&dir_file, c"missing", &mut stx).user_data(7),
    );
    assert_eq!(cqe.res(), -libc::ENOENT);
}

/// An `open_how` (its fields are public, but the struct is non-exhaustive).
fn open_how(flags: i32, mode: u32, resolve: u64) -> libc::open_how {
    // SAFETY: all-zero bytes are a valid `open_how`.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = flags as u32 as u64;
    how.mode = u64::from(mode);
    how.resolve = resolve;
    how
}

/// OPENAT2 opens as `open_how` says: its flags (close-on-exec only when
/// asked), its mode for a new file, and its resolve rules: `..` and
/// absolute paths escaping with `RESOLVE_BENEATH` are EXDEV, a symlink with
/// `RESOLVE_NO_SYMLINKS` is ELOOP; a mode without `O_CREAT` is EINVAL.
#[test]
fn openat2_follows_open_how() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<OpenAt2<'static>>(&ring) {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("sub")).unwrap();
    let inner = pattern(64, 10);
    let secret = pattern(32, 11);
    std::fs::write(root.path().join("sub/f"), &inner).unwrap();
    std::fs::write(root.path().join("secret"), &secret).unwrap();
    std::os::unix::fs::symlink("f", root.path().join("sub/link")).unwrap();
    let sub = open_dir(&root.path().join("sub"));

    let how = open_how(libc::O_RDONLY | libc::O_CLOEXEC, 0, 0);
    let cqe = complete(&mut ring, OpenAt2::new(&sub, c"f", &how).user_data(1));
    let fd = owned(ok(cqe, "openat2"));
    assert_eq!(cqe.user_data(), 1);
    assert!(cloexec(fd.as_fd()), "O_CLOEXEC asked for");
    let mut got = Vec::new();
    File::from(fd).read_to_end(&mut got).unwrap();
    assert_eq!(got, inner);

    // `..` without resolve rules escapes, and without O_CLOEXEC the
    // descriptor is inherited across exec.
    let how = open_how(libc::O_RDONLY, 0, 0);
    let cqe = complete(
        &mut ring,
        OpenAt2::new(&sub, c"../secret", &how).user_data(2),
    );
    let fd = owned(ok(cqe, "openat2 .."));
    assert!(!cloexec(fd.as_fd()), "no O_CLOEXEC in open_how");
    let mut got = Vec::new();
    File::from(fd).read_to_end(&mut got).unwrap();
    assert_eq!(got, secret);

    let beneath = open_how(libc::O_RDONLY | libc::O_CLOEXEC, 0, libc::RESOLVE_BENEATH);
    let cqe = complete(
        &mut ring,
        OpenAt2::new(&sub, c"../secret", &beneath).user_data(3),
    );
    assert_eq!(cqe.res(), -libc::EXDEV, "RESOLVE_BENEATH and ..");
    let absolute = cpath(&root.path().join("secret"));
    let cqe = complete(
        &mut ring,
        OpenAt2::new(&sub, &absolute, &beneath).user_data(4),
    );
    assert_eq!(
        cqe.res(),
        -libc::EXDEV,
        "RESOLVE_BENEATH and an absolute path"
    );
    let cqe = complete(&mut ring, OpenAt2::new(&sub, c"f", &beneath).user_data(5));
    drop(owned(ok(cqe, "RESOLVE_BENEATH inside")));

    let no_links = open_how(
        libc::O_RDONLY | libc::O_CLOEXEC,
        0,
        libc::RESOLVE_NO_SYMLINKS,
    );
    let cqe = complete(
        &mut ring,
        OpenAt2::new(&sub, c"link", &no_links).user_data(6),
    );
    assert_eq!(cqe.res(), -libc::ELOOP, "RESOLVE_NO_SYMLINKS");

    // Creating, with the mode of open_how.
    let create = open_how(
        libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC,
        0o604,
        0,
    );
    let cqe = complete(&mut ring, OpenAt2::new(&sub, c"new", &create).user_data(7));
    let fd = owned(ok(cqe, "openat2 O_CREAT"));
    File::from(fd).write_all(b"written").unwrap();
    let meta = std::fs::metadata(root.path().join("sub/new")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o604 & !current_umask());
    assert_eq!(
        std::fs::read(root.path().join("sub/new")).unwrap(),
        b"written"
    );
    let cqe = complete(&mut ring, OpenAt2::new(&sub, c"new", &create).user_data(8));
    assert_eq!(cqe.res(), -libc::EEXIST);

    let bad = open_how(libc::O_RDONLY, 0o644, 0);
    let cqe = complete(&mut ring, OpenAt2::new(&sub, c"f", &bad).user_data(9));
    assert_eq!(cqe.res(), -libc::EINVAL, "a mode without O_CREAT");
}

// ---------------------------------------------------------------------------
// RenameAt, UnlinkAt, MkdirAt, SymlinkAt, LinkAt.

/// RENAMEAT within a directory and across two; `RENAME_NOREPLACE` refuses to
/// replace (EEXIST), `RENAME_EXCHANGE` swaps, no flag replaces; a missing
/// source is ENOENT.
#[test]
fn renameat_moves_and_swaps() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<RenameAt<'static>>(&ring) {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let (p1, p2) = (root.path().join("d1"), root.path().join("d2"));
    std::fs::create_dir(&p1).unwrap();
    std::fs::create_dir(&p2).unwrap();
    let (a, x) = (pattern(40, 12), pattern(50, 13));
    std::fs::write(p1.join("a"), &a).unwrap();
    let (d1, d2) = (open_dir(&p1), open_dir(&p2));

    push_lent!(
        ring,
        RenameAt::new(&d1, c"a", d1.as_fd(), c"b").user_data(1)
    )
    .unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0), "{cqe:?}");
    assert!(!p1.join("a").exists());
    assert_eq!(std::fs::read(p1.join("b")).unwrap(), a);

    push_lent!(
        ring,
        RenameAt::new(&d1, c"b", d2.as_fd(), c"c").user_data(2)
    )
    .unwrap();
    assert_eq!(reap_one(&mut ring).res(), 0, "across directories");
    assert!(!p1.join("b").exists());
    assert_eq!(std::fs::read(p2.join("c")).unwrap(), a);

    std::fs::write(p2.join("x"), &x).unwrap();
    push_lent!(
        ring,
        RenameAt::new(&d2, c"c", d2.as_fd(), c"x")
            .rename_flags(libc::RENAME_NOREPLACE)
            .user_data(3),
    )
    .unwrap();
    assert_eq!(reap_one(&mut ring).res(), -libc::EEXIST, "RENAME_NOREPLACE");
    assert_eq!(std::fs::read(p2.join("c")).unwrap(), a);
    assert_eq!(std::fs::read(p2.join("x")).unwrap(), x);

    push_lent!(
        ring,
        RenameAt::new(&d2, c"c", d2.as_fd(), c"x")
            .rename_flags(libc::RENAME_EXCHANGE)
            .user_data(4),
    )
    .unwrap();
    assert_eq!(reap_one(&mut ring).res(), 0, "RENAME_EXCHANGE");
    assert_eq!(std::fs::read(p2.join("c")).unwrap(), x);
    assert_eq!(std::fs::read(p2.join("x")).unwrap(), a);

    // Absolute paths with AT_FDCWD; replacing.
    let (from, to) = (cpath(&p2.join("c")), cpath(&p1.join("x")));
    std::fs::write(p1.join("x"), b"old").unwrap();
    let cqe = complete(
        &mut ring,
        RenameAt::new(Fd::CWD, &from, Fd::CWD, &to).user_data(5),
    );
    assert_eq!(cqe.res(), 0);
    assert!(!p2.join("c").exists());
    assert_eq!(std::fs::read(p1.join("x")).unwrap(), x, "replaced");

    push_lent!(
        ring,
        RenameAt::new(&d1, c"missing", d1.as_fd(), c"y").user_data(6)
    )
    .unwrap();
    assert_eq!(reap_one(&mut ring).res(), -libc::ENOENT);
}

/// UNLINKAT removes a file, and a directory with `AT_REMOVEDIR`; a missing
/// path is ENOENT, a directory without the flag EISDIR, a file with it
/// ENOTDIR, a non-empty directory ENOTEMPTY.
#[test]
fn unlinkat_removes_files_and_directories() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<UnlinkAt<'static>>(&ring) {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let p = root.path();
    std::fs::write(p.join("file"), b"bytes").unwrap();
    std::fs::create_dir(p.join("empty")).unwrap();
    std::fs::create_dir(p.join("full")).unwrap();
    std::fs::write(p.join("full/inside"), b"x").unwrap();
    let dir = open_dir(p);

    push_lent!(ring, UnlinkAt::new(&dir, c"file").user_data(1)).unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0), "{cqe:?}");
    assert!(!p.join("file").exists(), "the file is gone");

    push_lent!(ring, UnlinkAt::new(&dir, c"file").user_data(2)).unwrap();
    assert_eq!(reap_one(&mut ring).res(), -libc::ENOENT, "already gone");

    push_lent!(ring, UnlinkAt::new(&dir, c"empty").user_data(3)).unwrap();
    assert_eq!(
        reap_one(&mut ring).res(),
        -libc::EISDIR,
        "a directory without AT_REMOVEDIR"
    );
    assert!(p.join("empty").is_dir());

    push_lent!(
        ring,
        UnlinkAt::new(&dir, c"empty")
            .unlink_flags(libc::AT_REMOVEDIR)
            .user_data(4),
    )
    .unwrap();
    assert_eq!(reap_one(&mut ring).res(), 0, "rmdir");
    assert!(!p.join("empty").exists(), "the directory is gone");

    push_lent!(
        ring,
        UnlinkAt::new(&dir, c"full")
            .unlink_flags(libc::AT_REMOVEDIR)
            .user_data(5),
    )
    .unwrap();
    assert_eq!(reap_one(&mut ring).res(), -libc::ENOTEMPTY);

    push_lent!(
        ring,
        UnlinkAt::new(&dir, c"full/inside")
            .unlink_flags(libc::AT_REMOVEDIR)
            .user_data(6),
    )
    .unwrap();
    assert_eq!(reap_one(&mut ring).res(), -libc::ENOTDIR, "rmdir of a file");
    assert!(p.join("full/inside").exists());

    let abs = cpath(&p.join("full/inside"));
    let cqe = complete(&mut ring, UnlinkAt::new(Fd::CWD, &abs).user_data(7));
    assert_eq!(cqe.res(), 0, "absolute path");
    assert!(!p.join("full/inside").exists());
}

/// MKDIRAT creates a directory with the mode asked for, less the umask
/// (the default mode is 0777); an existing path is EEXIST, a missing parent
/// ENOENT.
#[test]
fn mkdirat_honours_the_mode() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<MkdirAt<'static>>(&ring) {
        return;
    }
    let umask = current_umask();
    let root = tempfile::tempdir().unwrap();
    let dir = open_dir(root.path());

    push_lent!(ring, MkdirAt::new(&dir, c"d").mode(0o751).user_data(1)).unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0), "{cqe:?}");
    let meta = std::fs::metadata(root.path().join("d")).unwrap();
    assert!(meta.is_dir());
    assert_eq!(meta.permissions().mode() & 0o777, 0o751 & !umask);

    push_lent!(ring, MkdirAt::new(&dir, c"default").user_data(2)).unwrap();
    assert_eq!(reap_one(&mut ring).res(), 0);
    let meta = std::fs::metadata(root.path().join("default")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o777 & !umask);

    push_lent!(ring, MkdirAt::new(&dir, c"none").mode(0).user_data(3)).unwrap();
    assert_eq!(reap_one(&mut ring).res(), 0);
    let meta = std::fs::metadata(root.path().join("none")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0);

    push_lent!(ring, MkdirAt::new(&dir, c"d").user_data(4)).unwrap();
    assert_eq!(reap_one(&mut ring).res(), -libc::EEXIST);
    push_lent!(ring, MkdirAt::new(&dir, c"no/such").user_data(5)).unwrap();
    assert_eq!(reap_one(&mut ring).res(), -libc::ENOENT);
}

/// SYMLINKAT creates a link whose `readlink` is the target, dangling or
/// not; an existing path is EEXIST.
#[test]
fn symlinkat_creates_links() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SymlinkAt<'static>>(&ring) {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let p = root.path();
    std::fs::write(p.join("real"), b"through the link").unwrap();
    let dir = open_dir(p);

    push_lent!(
        ring,
        SymlinkAt::new(&dir, c"../nowhere/at all", c"dangling").user_data(1)
    )
    .unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0), "{cqe:?}");
    let meta = std::fs::symlink_metadata(p.join("dangling")).unwrap();
    assert!(meta.file_type().is_symlink());
    assert_eq!(
        std::fs::read_link(p.join("dangling")).unwrap(),
        Path::new("../nowhere/at all")
    );

    let link = cpath(&p.join("good"));
    let cqe = complete(
        &mut ring,
        SymlinkAt::new(Fd::CWD, c"real", &link).user_data(2),
    );
    assert_eq!(cqe.res(), 0);
    assert_eq!(
        std::fs::read_link(p.join("good")).unwrap(),
        Path::new("real")
    );
    assert_eq!(std::fs::read(p.join("good")).unwrap(), b"through the link");

    push_lent!(ring, SymlinkAt::new(&dir, c"other", c"real").user_data(3)).unwrap();
    assert_eq!(reap_one(&mut ring).res(), -libc::EEXIST);
    assert!(std::fs::symlink_metadata(p.join("real")).unwrap().is_file());
}

/// LINKAT makes a second name for the same inode (across directories too);
/// with `AT_SYMLINK_FOLLOW` a symlink's target is linked, without it the
/// symlink itself; a missing source is ENOENT, an existing name EEXIST.
#[test]
fn linkat_names_the_same_inode() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<LinkAt<'static>>(&ring) {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let p = root.path();
    std::fs::create_dir(p.join("sub")).unwrap();
    std::fs::write(p.join("orig"), b"one inode").unwrap();
    std::os::unix::fs::symlink("orig", p.join("sym")).unwrap();
    let (dir, sub) = (open_dir(p), open_dir(&p.join("sub")));
    let ino = std::fs::metadata(p.join("orig")).unwrap().ino();

    push_lent!(
        ring,
        LinkAt::new(&dir, c"orig", sub.as_fd(), c"hard").user_data(1)
    )
    .unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0), "{cqe:?}");
    let meta = std::fs::metadata(p.join("sub/hard")).unwrap();
    assert_eq!(meta.ino(), ino, "the same inode");
    assert_eq!(meta.nlink(), 2);
    std::fs::write(p.join("sub/hard"), b"changed").unwrap();
    assert_eq!(std::fs::read(p.join("orig")).unwrap(), b"changed");

    push_lent!(
        ring,
        LinkAt::new(&dir, c"sym", dir.as_fd(), c"sym-nofollow").user_data(2)
    )
    .unwrap();
    assert_eq!(reap_one(&mut ring).res(), 0);
    let meta = std::fs::symlink_metadata(p.join("sym-nofollow")).unwrap();
    assert!(
        meta.file_type().is_symlink(),
        "the symlink itself was linked"
    );
    assert_eq!(
        meta.ino(),
        std::fs::symlink_metadata(p.join("sym")).unwrap().ino()
    );

    push_lent!(
        ring,
        LinkAt::new(&dir, c"sym", dir.as_fd(), c"sym-follow")
            .hardlink_flags(libc::AT_SYMLINK_FOLLOW)
            .user_data(3),
    )
    .unwrap();
    assert_eq!(reap_one(&mut ring).res(), 0);
    let meta = std::fs::symlink_metadata(p.join("sym-follow")).unwrap();
    assert!(meta.is_file(), "AT_SYMLINK_FOLLOW linked the target");
    assert_eq!(meta.ino(), ino);
    assert_eq!(meta.nlink(), 3);

    push_lent!(
        ring,
        LinkAt::new(&dir, c"missing", dir.as_fd(), c"m").user_data(4)
    )
    .unwrap();
    assert_eq!(reap_one(&mut ring).res(), -libc::ENOENT);
    push_lent!(
        ring,
        LinkAt::new(&dir, c"orig", sub.as_fd(), c"hard").user_data(5)
    )
    .unwrap();
    assert_eq!(reap_one(&mut ring).res(), -libc::EEXIST);
}

// ---------------------------------------------------------------------------
// Extended attributes.

/// The user xattr `name` of `path`, read with `getxattr(2)`.
fn sys_getxattr(path: &CStr, name: &CStr) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    // SAFETY: `buf` has room for the `buf.len()` bytes the call may write.
    let n = unsafe {
        libc::getxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(buf)
}

/// The xattr ops on a file in a fresh directory under `base`: set by
/// descriptor, by fixed file and by path, read back by descriptor, fixed
/// file and path (and with `getxattr(2)`), with the create/replace rules,
/// ENODATA for a missing name and ERANGE for a short buffer.
fn xattrs_round_trip(base: &Path) {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FSetXattr<'static>>(&ring)
        || !require_op::<SetXattr<'static>>(&ring)
        || !require_op::<FGetXattr<'static>>(&ring)
        || !require_op::<GetXattr<'static>>(&ring)
    {
        return;
    }
    let dir = match tempfile::tempdir_in(base) {
        Ok(dir) => dir,
        Err(e) => {
            skip(format_args!("no temp dir under {}: {e}", base.display()));
            return;
        }
    };
    let path = dir.path().join("f");
    std::fs::write(&path, b"data").unwrap();
    let c = cpath(&path);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();

    let value = pattern(40, 14);
    let cqe = complete(
        &mut ring,
        FSetXattr::new(&file, c"user.fs_ops.a", &value[..]).user_data(1),
    );
    if cqe.res() == -libc::EOPNOTSUPP {
        skip(format_args!(
            "the file system of {} refuses user xattrs (EOPNOTSUPP)",
            base.display()
        ));
        return;
    }
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0), "fsetxattr: {cqe:?}");
    assert_eq!(sys_getxattr(&c, c"user.fs_ops.a").unwrap(), value);

    // By path, creating a second name.
    let cqe = complete(
        &mut ring,
        SetXattr::new(&c, c"user.fs_ops.b", b"by path")
            .xattr_flags(libc::XATTR_CREATE)
            .user_data(2),
    );
    assert_eq!(cqe.res(), 0, "setxattr");
    assert_eq!(sys_getxattr(&c, c"user.fs_ops.b").unwrap(), b"by path");

    let cqe = complete(
        &mut ring,
        SetXattr::new(&c, c"user.fs_ops.b", b"again")
            .xattr_flags(libc::XATTR_CREATE)
            .user_data(3),
    );
    assert_eq!(cqe.res(), -libc::EEXIST, "XATTR_CREATE of a name");
    let cqe = complete(
        &mut ring,
        FSetXattr::new(&file, c"user.fs_ops.none", b"v")
            .xattr_flags(libc::XATTR_REPLACE)
            .user_data(4),
    );
    assert_eq!(cqe.res(), -libc::ENODATA, "XATTR_REPLACE of no name");
    let cqe = complete(
        &mut ring,
        SetXattr::new(&c, c"user.fs_ops.b", b"replaced")
            .xattr_flags(libc::XATTR_REPLACE)
            .user_data(5),
    );
    assert_eq!(cqe.res(), 0, "XATTR_REPLACE");
    assert_eq!(sys_getxattr(&c, c"user.fs_ops.b").unwrap(), b"replaced");

    // Reading back.
    let mut buf = [0u8; 128];
    let cqe = complete(
        &mut ring,
        FGetXattr::new(&file, c"user.fs_ops.a", &mut buf[..]).user_data(6),
    );
    assert_eq!(ok(cqe, "fgetxattr"), 40);
    assert_eq!(buf[..40], value[..]);

    let mut buf = [0u8; 128];
    let cqe = complete(
        &mut ring,
        GetXattr::new(&c, c"user.fs_ops.b", &mut buf[..]).user_data(7),
    );
    assert_eq!(ok(cqe, "getxattr"), 8);
    assert_eq!(&buf[..8], b"replaced");

    // An empty buffer asks for the size only.
    let cqe = complete(
        &mut ring,
        GetXattr::new(&c, c"user.fs_ops.a", &mut buf[..0]).user_data(8),
    );
    assert_eq!(ok(cqe, "getxattr of the size"), 40);
    let mut short = [0u8; 10];
    let cqe = complete(
        &mut ring,
        FGetXattr::new(&file, c"user.fs_ops.a", &mut short[..]).user_data(9),
    );
    assert_eq!(cqe.res(), -libc::ERANGE, "a short buffer");
    let cqe = complete(
        &mut ring,
        FGetXattr::new(&file, c"user.fs_ops.zz", &mut buf[..]).user_data(10),
    );
    assert_eq!(cqe.res(), -libc::ENODATA, "a missing name");

    // Through a fixed file.
    let files = ring.register_files(&[file.as_fd()]).unwrap();
    let slot = files.get(0).unwrap();
    let cqe = complete(
        &mut ring,
        FSetXattr::new(slot, c"user.fs_ops.c", b"fixed").user_data(11),
    );
    assert_eq!(cqe.res(), 0, "fsetxattr on a fixed file");
    assert_eq!(sys_getxattr(&c, c"user.fs_ops.c").unwrap(), b"fixed");
    let mut buf = [0u8; 16];
    let cqe = complete(
        &mut ring,
        FGetXattr::new(slot, c"user.fs_ops.b", &mut buf[..]).user_data(12),
    );
    assert_eq!(ok(cqe, "fgetxattr on a fixed file"), 8);
    assert_eq!(&buf[..8], b"replaced");

    let missing = cpath(&dir.path().join("missing"));
    let cqe = complete(
        &mut ring,
        GetXattr::new(&missing, c"user.fs_ops.a", &mut buf[..]).user_data(13),
    );
    assert_eq!(cqe.res(), -libc::ENOENT, "getxattr of no file");
}

/// The xattr ops on tmpfs (`/dev/shm`).
#[test]
fn xattrs_on_tmpfs() {
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        skip("no /dev/shm");
        return;
    }
    xattrs_round_trip(shm);
}

/// The xattr ops on the temp dir's file system.
#[test]
fn xattrs_on_the_temp_dir() {
    xattrs_round_trip(&std::env::temp_dir());
}

// ---------------------------------------------------------------------------
// FilesUpdate, FixedFdInstall, Pipe.

/// Reads 32 bytes at offset 0 through `target`; the completion.
fn read32<T: uring::IntoTarget>(ring: &mut Ring, target: T, out: &mut [u8; 32]) -> Cqe {
    complete(
        ring,
        uring::ops::Read::new(target, &mut out[..]).user_data(99),
    )
}

/// FILES_UPDATE fills slots of a sparse table from `offset`, and `-1`
/// empties one; with `IORING_FILE_INDEX_ALLOC` the kernel picks free slots
/// and writes them back into the descriptor slice, as many as are free
/// (then ENFILE); with no table the op is ENXIO.
#[test]
fn files_update_fills_and_allocates_slots() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FilesUpdate<'static, 'static>>(&ring) {
        return;
    }
    let (pa, pb, pc) = (pattern(32, 20), pattern(32, 21), pattern(32, 22));
    let (a, b, c) = (tempfile_with(&pa), tempfile_with(&pb), tempfile_with(&pc));

    let mut buf = [0u8; 32];
    let mut no_table = FileUpdates::new(&[Some(a.as_fd())]);
    let cqe = complete(
        &mut ring,
        FilesUpdate::new(&mut no_table, FilesAt::ALLOC).user_data(1),
    );
    assert_eq!(cqe.res(), -libc::ENXIO, "no table registered");

    let mut table = ring.register_files_sparse(4).unwrap();
    let mut fds = FileUpdates::new(&[Some(a.as_fd()), Some(b.as_fd())]);
    let given = fds.slots().to_vec();
    let cqe = complete(
        &mut ring,
        FilesUpdate::new(&mut fds, table.get_mut(1).unwrap().into()).user_data(2),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (2, 2), "{cqe:?}");
    assert_eq!(
        fds.slots(),
        given,
        "a plain update leaves the descriptors alone"
    );
    assert_eq!(read32(&mut ring, table.get(1).unwrap(), &mut buf).res(), 32);
    assert_eq!(buf[..], pa[..], "slot 1 is a");
    assert_eq!(read32(&mut ring, table.get(2).unwrap(), &mut buf).res(), 32);
    assert_eq!(buf[..], pb[..], "slot 2 is b");
    assert_eq!(
        read32(&mut ring, table.get(0).unwrap(), &mut buf).res(),
        -libc::EBADF,
        "slot 0 is still empty"
    );

    let mut empty = FileUpdates::new(&[None]);
    let cqe = complete(
        &mut ring,
        FilesUpdate::new(&mut empty, table.get_mut(2).unwrap().into()).user_data(3),
    );
    assert_eq!(cqe.res(), 1);
    assert_eq!(
        read32(&mut ring, table.get(2).unwrap(), &mut buf).res(),
        -libc::EBADF,
        "slot 2 emptied"
    );

    let mut past = FileUpdates::new(&[Some(c.as_fd()), Some(c.as_fd())]);
    let cqe = complete(
        &mut ring,
        FilesUpdate::new(&mut past, table.get_mut(3).unwrap().into()).user_data(4),
    );
    assert_eq!(cqe.res(), -libc::EINVAL, "past the table");

    // Free slots now: 0, 2, 3.
    let mut alloc = FileUpdates::new(&[Some(c.as_fd()), Some(b.as_fd())]);
    let cqe = complete(
        &mut ring,
        FilesUpdate::new(&mut alloc, FilesAt::ALLOC).user_data(5),
    );
    assert_eq!(cqe.res(), 2, "two slots allocated: {cqe:?}");
    let alloc = alloc.slots().to_vec();
    assert_ne!(alloc[0], alloc[1]);
    for (slot, bytes) in [(alloc[0], &pc), (alloc[1], &pb)] {
        assert!(
            [0, 2, 3].contains(&slot),
            "slot {slot} was not free: {alloc:?}"
        );
        let cqe = read32(&mut ring, table.get(slot as u32).unwrap(), &mut buf);
        assert_eq!(cqe.res(), 32, "slot {slot}");
        assert_eq!(buf[..], bytes[..], "slot {slot}");
    }
    assert_eq!(read32(&mut ring, table.get(1).unwrap(), &mut buf).res(), 32);
    assert_eq!(buf[..], pa[..], "slot 1 untouched");

    // One slot is left: the first of two gets it, and the count says so.
    let mut last = FileUpdates::new(&[Some(a.as_fd()), Some(a.as_fd())]);
    let cqe = complete(
        &mut ring,
        FilesUpdate::new(&mut last, FilesAt::ALLOC).user_data(6),
    );
    assert_eq!(cqe.res(), 1, "one free slot");
    let free: Vec<i32> = [0, 2, 3]
        .into_iter()
        .filter(|s| !alloc.contains(s))
        .collect();
    assert_eq!(
        last.slots()[..1],
        free[..],
        "the last free slot, written back"
    );
    assert_eq!(
        last.slots()[1],
        a.as_raw_fd(),
        "the second entry is untouched"
    );
    let mut full = FileUpdates::new(&[Some(a.as_fd())]);
    let cqe = complete(
        &mut ring,
        FilesUpdate::new(&mut full, FilesAt::ALLOC).user_data(7),
    );
    assert_eq!(cqe.res(), -libc::ENFILE, "a full table");
}

/// FIXED_FD_INSTALL turns a registered file into a new descriptor of the
/// same open file, close-on-exec unless `IORING_FIXED_FD_NO_CLOEXEC`; an
/// empty slot is EBADF, an unknown flag EINVAL.
#[test]
fn fixed_fd_install_gives_a_working_descriptor() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FixedFdInstall>(&ring) {
        return;
    }
    let data = pattern(300, 23);
    let file = tempfile_with(&data);
    let ino = file.metadata().unwrap().ino();
    let mut table = ring.register_files_sparse(2).unwrap();
    ring.update_files(&mut table, 0, &[Some(file.as_fd())])
        .unwrap();
    // The slot holds its own reference.
    drop(file);
    let slot = table.get(0).unwrap();

    push_lent!(ring, FixedFdInstall::new(slot).user_data(1)).unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!(cqe.user_data(), 1);
    let fd = owned(ok(cqe, "fixed fd install"));
    assert!(cloexec(fd.as_fd()), "close-on-exec by default");
    let installed = File::from(fd);
    assert_eq!(installed.metadata().unwrap().ino(), ino);
    assert_eq!(contents(&installed), data);
    let mut std_read = Vec::new();
    (&installed).read_to_end(&mut std_read).unwrap();
    assert_eq!(std_read, data, "read through std from the file position");

    push_lent!(
        ring,
        FixedFdInstall::new(slot)
            .install_fd_flags(InstallFlags::NO_CLOEXEC)
            .user_data(2),
    )
    .unwrap();
    let fd = owned(ok(reap_one(&mut ring), "install without cloexec"));
    assert!(!cloexec(fd.as_fd()), "IORING_FIXED_FD_NO_CLOEXEC");
    assert_ne!(fd.as_raw_fd(), installed.as_raw_fd(), "a new descriptor");
    // The same open file description: the position moved by the read above.
    let mut rest = Vec::new();
    File::from(fd).read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"", "the shared position is at the end");

    push_lent!(
        ring,
        FixedFdInstall::new(table.get(1).unwrap()).user_data(3)
    )
    .unwrap();
    assert_eq!(reap_one(&mut ring).res(), -libc::EBADF, "an empty slot");

    // SAFETY: an unknown flag is refused before anything is read.
    let unknown = unsafe { InstallFlags::from_bits_retain(2) };
    push_lent!(
        ring,
        FixedFdInstall::new(slot)
            .install_fd_flags(unknown)
            .user_data(4)
    )
    .unwrap();
    assert_eq!(reap_one(&mut ring).res(), -libc::EINVAL, "an unknown flag");
}

/// PIPE makes a working pipe, close-on-exec by default; `pipe_flags`
/// replaces the default (O_NONBLOCK without O_CLOEXEC); an unknown flag is
/// EINVAL and writes no descriptors.
#[test]
fn pipe_op_makes_a_pipe() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Pipe<'static>>(&ring) {
        return;
    }
    let mut fds: [RawFd; 2] = [-1, -1];
    let cqe = complete(&mut ring, Pipe::new(&mut fds).user_data(1));
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0), "{cqe:?}");
    assert!(fds[0] >= 0 && fds[1] >= 0 && fds[0] != fds[1], "{fds:?}");
    let (rx, tx) = (owned(fds[0] as u32), owned(fds[1] as u32));
    for end in [rx.as_fd(), tx.as_fd()] {
        assert_eq!(fstat(end).st_mode & libc::S_IFMT, libc::S_IFIFO);
        assert!(cloexec(end), "O_CLOEXEC by default");
        assert_eq!(status_flags(end) & libc::O_NONBLOCK, 0);
    }
    assert_eq!(status_flags(rx.as_fd()) & libc::O_ACCMODE, libc::O_RDONLY);
    assert_eq!(status_flags(tx.as_fd()) & libc::O_ACCMODE, libc::O_WRONLY);
    let (mut rx, mut tx) = (File::from(rx), File::from(tx));
    let sent = pattern(1000, 24);
    tx.write_all(&sent).unwrap();
    drop(tx);
    let mut got = Vec::new();
    rx.read_to_end(&mut got).unwrap();
    assert_eq!(got, sent, "what goes in comes out");

    let mut fds: [RawFd; 2] = [-1, -1];
    let cqe = complete(
        &mut ring,
        Pipe::new(&mut fds)
            .pipe_flags(libc::O_NONBLOCK)
            .user_data(2),
    );
    assert_eq!(cqe.res(), 0);
    let (rx, tx) = (owned(fds[0] as u32), owned(fds[1] as u32));
    for end in [rx.as_fd(), tx.as_fd()] {
        assert!(!cloexec(end), "flags without O_CLOEXEC");
        assert_ne!(status_flags(end) & libc::O_NONBLOCK, 0);
    }
    let mut one_byte = [0u8; 1];
    let err = File::from(rx).read(&mut one_byte).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock, "{err}");
    drop(tx);

    let mut fds: [RawFd; 2] = [-1, -1];
    let cqe = complete(
        &mut ring,
        Pipe::new(&mut fds).pipe_flags(libc::O_APPEND).user_data(3),
    );
    assert_eq!(cqe.res(), -libc::EINVAL, "O_APPEND");
    assert_eq!(fds, [-1, -1]);
}

// ---------------------------------------------------------------------------
// Fixed buffers.

/// WRITE_FIXED and READ_FIXED move bytes between a file and slices of a
/// registered buffer, through a descriptor and a fixed file, with the
/// buffer named by its index; a slice outside the buffer its index names
/// (in the other registered buffer, after it, across its end, or in another
/// allocation) is EFAULT.
#[test]
fn read_fixed_and_write_fixed_round_trip() {
    // Declared before the ring: dropped after it, so the registered memory
    // outlives the registration.
    let mut region = vec![0u8; 8192];
    let mut other = vec![0u8; 256];
    let mut ring = Ring::new(8).unwrap();
    let file = tempfile::tempfile().unwrap();
    // Buffer 0 is `region[..4096]`, buffer 1 `region[4096..6144]`; the
    // rest is not registered.
    let (r0, r1) = region.split_at_mut(4096);
    // SAFETY: the vector is never resized, so the registered bytes stay
    // allocated in place until the ring is dropped, and are touched only
    // between ops.
    let bufs =
        unsafe { ring.register_buffers(&[IoSliceMut::new(r0), IoSliceMut::new(&mut r1[..2048])]) }
            .expect("register_buffers");
    assert_eq!(bufs.len(), 2);
    assert!(bufs.get(2).is_err(), "two buffers registered");
    let (idx, idx1) = (bufs.get(0).unwrap(), bufs.get(1).unwrap());
    assert_eq!((idx.index(), idx1.index()), (0, 1));

    let data = pattern(4096, 25);
    region[..4096].copy_from_slice(&data);
    let data1 = pattern(2048, 32);
    region[4096..6144].copy_from_slice(&data1);
    let cqe = complete(
        &mut ring,
        WriteFixed::new(&file, &region[100..1100], idx)
            .offset(7)
            .user_data(1),
    );
    assert_eq!(
        (cqe.user_data(), cqe.result().ok()),
        (1, Some(1000)),
        "{cqe:?}"
    );
    let on_disk = contents(&file);
    assert_eq!(on_disk.len(), 1007);
    assert_eq!(on_disk[7..], data[100..1100]);

    region[2000..3000].fill(0);
    let cqe = complete(
        &mut ring,
        ReadFixed::new(&file, &mut region[2000..3000], idx)
            .offset(7)
            .user_data(2),
    );
    assert_eq!(ok(cqe, "read_fixed"), 1000);
    assert_eq!(region[2000..3000], data[100..1100]);

    // Buffer 1, named by its index.
    let cqe = complete(
        &mut ring,
        WriteFixed::new(&file, &region[4106..4206], idx1)
            .offset(3000)
            .user_data(11),
    );
    assert_eq!(ok(cqe, "write_fixed from buffer 1"), 100);
    let mut check = [0u8; 100];
    file.read_exact_at(&mut check, 3000).unwrap();
    assert_eq!(check[..], data1[10..110]);
    region[6000..6144].fill(0);
    let cqe = complete(
        &mut ring,
        ReadFixed::new(&file, &mut region[6044..6144], idx1)
            .offset(3000)
            .user_data(12),
    );
    assert_eq!(ok(cqe, "read_fixed into buffer 1"), 100);
    assert_eq!(region[6044..6144], data1[10..110]);
    region[6044..6144].copy_from_slice(&data1[1948..]);

    // Through a fixed file, at the end of the registered bytes.
    let files = ring.register_files(&[file.as_fd()]).unwrap();
    let slot = files.get(0).unwrap();
    let cqe = complete(
        &mut ring,
        WriteFixed::new(slot, &region[4000..4096], idx)
            .offset(2000)
            .user_data(3),
    );
    assert_eq!(ok(cqe, "write_fixed on a fixed file"), 96);
    let mut check = [0u8; 96];
    file.read_exact_at(&mut check, 2000).unwrap();
    assert_eq!(check[..], data[4000..4096]);
    let cqe = complete(
        &mut ring,
        ReadFixed::new(slot, &mut region[0..96], idx)
            .offset(2000)
            .user_data(4),
    );
    assert_eq!(ok(cqe, "read_fixed on a fixed file"), 96);
    assert_eq!(region[..96], data[4000..4096]);

    // Outside the registered bytes.
    let before = contents(&file);
    let cqe = complete(
        &mut ring,
        ReadFixed::new(&file, &mut region[4096..4196], idx).user_data(5),
    );
    assert_eq!(cqe.res(), -libc::EFAULT, "just past buffer 0 (in buffer 1)");
    let cqe = complete(
        &mut ring,
        WriteFixed::new(&file, &region[100..200], idx1).user_data(13),
    );
    assert_eq!(cqe.res(), -libc::EFAULT, "buffer 0 named as 1");
    let cqe = complete(
        &mut ring,
        WriteFixed::new(&file, &region[6100..6200], idx1).user_data(14),
    );
    assert_eq!(cqe.res(), -libc::EFAULT, "across buffer 1's end");
    let cqe = complete(
        &mut ring,
        ReadFixed::new(&file, &mut region[6144..6244], idx1).user_data(15),
    );
    assert_eq!(cqe.res(), -libc::EFAULT, "past buffer 1");
    assert!(region[6144..].iter().all(|&b| b == 0), "nothing read there");
    let cqe = complete(
        &mut ring,
        WriteFixed::new(&file, &region[4000..4200], idx).user_data(6),
    );
    assert_eq!(cqe.res(), -libc::EFAULT, "across the buffer's end");
    let cqe = complete(
        &mut ring,
        ReadFixed::new(&file, &mut other[..], idx).user_data(7),
    );
    assert_eq!(cqe.res(), -libc::EFAULT, "another allocation");
    let cqe = complete(
        &mut ring,
        WriteFixed::new(&file, &other[..], idx).user_data(8),
    );
    assert_eq!(cqe.res(), -libc::EFAULT, "another allocation");
    assert_eq!(contents(&file), before, "refused writes wrote nothing");
    assert!(other.iter().all(|&b| b == 0), "refused reads read nothing");

    ring.unregister_buffers(bufs).expect("unregister_buffers");
}

/// WRITEV_FIXED and READV_FIXED gather and scatter between a file and
/// several slices of one registered buffer, named by its index; an iovec
/// outside that buffer (in another registered one, past it, or in another
/// allocation) is EFAULT.
#[test]
fn readv_fixed_and_writev_fixed_round_trip() {
    let mut region = vec![0u8; 8192];
    let other = [0u8; 64];
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<ReadVFixed<'static, 'static>>(&ring)
        || !require_op::<WriteVFixed<'static, 'static>>(&ring)
    {
        return;
    }
    let file = tempfile::tempfile().unwrap();
    // Buffer 0 is `region[..4096]`, buffer 1 `region[4096..6144]`.
    let (r0, r1) = region.split_at_mut(4096);
    // SAFETY: the registered bytes stay allocated in place until the ring
    // is dropped (declared after them), touched only between ops.
    let bufs =
        unsafe { ring.register_buffers(&[IoSliceMut::new(r0), IoSliceMut::new(&mut r1[..2048])]) }
            .expect("register_buffers");
    let (idx, idx1) = (bufs.get(0).unwrap(), bufs.get(1).unwrap());

    let data = pattern(4096, 26);
    region[..4096].copy_from_slice(&data);
    {
        let iov = [
            IoSlice::new(&region[10..310]),
            IoSlice::new(&region[3000..3200]),
            IoSlice::new(&region[50..60]),
        ];
        let cqe = complete(
            &mut ring,
            WriteVFixed::new(&file, &iov[..], idx)
                .offset(3)
                .user_data(1),
        );
        assert_eq!(
            (cqe.user_data(), cqe.result().ok()),
            (1, Some(510)),
            "{cqe:?}"
        );
    }
    let expected: Vec<u8> = [&data[10..310], &data[3000..3200], &data[50..60]].concat();
    let on_disk = contents(&file);
    assert_eq!(on_disk.len(), 513);
    assert_eq!(on_disk[3..], expected[..]);

    region[..4096].fill(0);
    {
        let (lo, hi) = region[..4096].split_at_mut(2048);
        let mut iov = [
            IoSliceMut::new(&mut hi[1000..1400]),
            IoSliceMut::new(&mut lo[0..110]),
        ];
        let cqe = complete(
            &mut ring,
            ReadVFixed::new(&file, &mut iov[..], idx)
                .offset(3)
                .user_data(2),
        );
        assert_eq!(ok(cqe, "readv_fixed"), 510);
    }
    assert_eq!(region[3048..3448], expected[..400]);
    assert_eq!(region[..110], expected[400..]);

    // Fixed file target.
    let files = ring.register_files(&[file.as_fd()]).unwrap();
    region[..4096].fill(0);
    {
        let mut iov = [IoSliceMut::new(&mut region[500..1010])];
        let cqe = complete(
            &mut ring,
            ReadVFixed::new(files.get(0).unwrap(), &mut iov[..], idx)
                .offset(3)
                .user_data(3),
        );
        assert_eq!(ok(cqe, "readv_fixed on a fixed file"), 510);
    }
    assert_eq!(region[500..1010], expected[..]);

    // Buffer 1, named by its index.
    let data1 = pattern(2048, 33);
    region[4096..6144].copy_from_slice(&data1);
    {
        let iov = [
            IoSlice::new(&region[6000..6144]),
            IoSlice::new(&region[4096..4106]),
        ];
        let cqe = complete(
            &mut ring,
            WriteVFixed::new(&file, &iov[..], idx1)
                .offset(1000)
                .user_data(6),
        );
        assert_eq!(ok(cqe, "writev_fixed from buffer 1"), 154);
    }
    let mut check = [0u8; 154];
    file.read_exact_at(&mut check, 1000).unwrap();
    assert_eq!(check[..144], data1[1904..]);
    assert_eq!(check[144..], data1[..10]);
    {
        let (in0, in1) = region.split_at_mut(4096);
        let mut iov = [
            IoSliceMut::new(&mut in1[..10]),
            IoSliceMut::new(&mut in0[..10]),
        ];
        let cqe = complete(
            &mut ring,
            ReadVFixed::new(&file, &mut iov[..], idx1).user_data(7),
        );
        assert_eq!(
            cqe.res(),
            -libc::EFAULT,
            "an iovec of buffer 0 with index 1"
        );
    }
    {
        let iov = [IoSlice::new(&region[6100..6200])];
        let cqe = complete(
            &mut ring,
            WriteVFixed::new(&file, &iov[..], idx1).user_data(8),
        );
        assert_eq!(cqe.res(), -libc::EFAULT, "across buffer 1's end");
    }
    assert_eq!(contents(&file)[1000..1154], check[..], "nothing written");

    // An iovec outside the registered buffers.
    {
        let (inside, outside) = region.split_at_mut(6144);
        let mut iov = [
            IoSliceMut::new(&mut inside[..10]),
            IoSliceMut::new(&mut outside[..10]),
        ];
        let cqe = complete(
            &mut ring,
            ReadVFixed::new(&file, &mut iov[..], idx).user_data(4),
        );
        assert_eq!(cqe.res(), -libc::EFAULT, "readv past the buffer");
    }
    {
        let iov = [IoSlice::new(&region[..10]), IoSlice::new(&other[..])];
        let cqe = complete(
            &mut ring,
            WriteVFixed::new(&file, &iov[..], idx).user_data(5),
        );
        assert_eq!(cqe.res(), -libc::EFAULT, "writev from another allocation");
    }
    assert_eq!(contents(&file)[3..513], expected[..], "nothing written");
    ring.unregister_buffers(bufs).expect("unregister_buffers");
}

// ---------------------------------------------------------------------------
// Splice, Tee.

/// Reads exactly `n` bytes from a pipe's read end.
fn read_pipe(rx: &OwnedFd, n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    File::from(rx.try_clone().unwrap())
        .read_exact(&mut out)
        .unwrap();
    out
}

/// SPLICE moves bytes from a file at an offset into a pipe (the file
/// position stays), from a pipe into a file at an offset, from a fixed
/// input and into a fixed target; an offset on a pipe is ESPIPE, two files
/// EINVAL.
#[test]
fn splice_moves_bytes_through_pipes() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Splice<'_>>(&ring) {
        return;
    }
    let data = pattern(4096, 27);
    let mut src = tempfile_with(&data);
    let (rx, tx) = pipe();

    push_lent!(
        ring,
        Splice::new(&tx, &src, 1000).offset_in(100).user_data(1)
    )
    .unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!(
        (cqe.user_data(), cqe.result().ok()),
        (1, Some(1000)),
        "{cqe:?}"
    );
    assert_eq!(read_pipe(&rx, 1000), data[100..1100]);
    assert_eq!(src.stream_position().unwrap(), 0, "an explicit offset");

    // At the file position (the default), which moves.
    src.seek(SeekFrom::Start(4000)).unwrap();
    push_lent!(ring, Splice::new(&tx, &src, 1000).user_data(2)).unwrap();
    assert_eq!(ok(reap_one(&mut ring), "splice at the position"), 96);
    assert_eq!(read_pipe(&rx, 96), data[4000..]);
    assert_eq!(src.stream_position().unwrap(), 4096);

    // Pipe to file.
    let dst = tempfile::tempfile().unwrap();
    let sent = pattern(500, 28);
    File::from(tx.try_clone().unwrap())
        .write_all(&sent)
        .unwrap();
    push_lent!(
        ring,
        Splice::new(&dst, &rx, 500).offset_out(50).user_data(3)
    )
    .unwrap();
    assert_eq!(ok(reap_one(&mut ring), "splice to a file"), 500);
    let got = contents(&dst);
    assert_eq!(got.len(), 550);
    assert_eq!(got[..50], [0u8; 50]);
    assert_eq!(got[50..], sent[..]);

    // A fixed input, and a fixed target.
    let files = ring
        .register_files(&[src.as_fd(), tx.as_fd(), rx.as_fd()])
        .unwrap();
    let (fsrc, ftx, frx) = (
        files.get(0).unwrap(),
        files.get(1).unwrap(),
        files.get(2).unwrap(),
    );
    push_lent!(ring, Splice::new(&tx, fsrc, 300).offset_in(10).user_data(4)).unwrap();
    assert_eq!(ok(reap_one(&mut ring), "splice from a fixed file"), 300);
    assert_eq!(read_pipe(&rx, 300), data[10..310]);
    push_lent!(
        ring,
        Splice::new(ftx, fsrc, 200).offset_in(3000).user_data(5)
    )
    .unwrap();
    assert_eq!(ok(reap_one(&mut ring), "splice fixed to fixed"), 200);
    assert_eq!(read_pipe(&rx, 200), data[3000..3200]);
    push_lent!(ring, Splice::new(ftx, &src, 50).offset_in(20).user_data(9)).unwrap();
    assert_eq!(ok(reap_one(&mut ring), "splice into a fixed pipe"), 50);
    assert_eq!(read_pipe(&rx, 50), data[20..70]);

    // Flags or-ed with the fixed-input bit: NONBLOCK on the empty pipe
    // fails at once instead of waiting (the link timeout only bounds a
    // wrong wait), and moves what is there once there is something.
    let nonblocking = || {
        Splice::new(&dst, frx, 10)
            .offset_out(0)
            .splice_flags(SpliceFlags::NONBLOCK)
            .user_data(8)
    };
    push_lent!(ring, nonblocking().timeout(Duration::from_secs(5))).unwrap();
    let cqes = by_user_data(&submit_and_reap(&mut ring, 2));
    assert_eq!(
        cqes[&8].res(),
        -libc::EAGAIN,
        "NONBLOCK splice from an empty fixed pipe: {:?}",
        cqes[&8]
    );
    File::from(tx.try_clone().unwrap())
        .write_all(b"xyz")
        .unwrap();
    push_lent!(ring, nonblocking()).unwrap();
    assert_eq!(
        ok(reap_one(&mut ring), "NONBLOCK splice from a fixed pipe"),
        3
    );
    assert_eq!(contents(&dst)[..3], *b"xyz");

    // Errors.
    File::from(tx.try_clone().unwrap())
        .write_all(b"abc")
        .unwrap();
    push_lent!(ring, Splice::new(&dst, &rx, 3).offset_in(0).user_data(6)).unwrap();
    assert_eq!(
        reap_one(&mut ring).res(),
        -libc::ESPIPE,
        "an offset on a pipe"
    );
    assert_eq!(
        read_pipe(&rx, 3),
        b"abc",
        "the refused splice moved nothing"
    );
    push_lent!(
        ring,
        Splice::new(&dst, &src, 10)
            .offset_in(0)
            .offset_out(0)
            .user_data(7),
    )
    .unwrap();
    assert_eq!(reap_one(&mut ring).res(), -libc::EINVAL, "file to file");
}

/// TEE copies from one pipe to another without consuming: both then hold
/// the bytes; a fixed input works; a file is EINVAL.
#[test]
fn tee_copies_without_consuming() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Tee<'_>>(&ring) {
        return;
    }
    let (arx, atx) = pipe();
    let (brx, btx) = pipe();
    let sent = pattern(200, 29);
    File::from(atx.try_clone().unwrap())
        .write_all(&sent)
        .unwrap();

    push_lent!(ring, Tee::new(&btx, &arx, 1000).user_data(1)).unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!(
        (cqe.user_data(), cqe.result().ok()),
        (1, Some(200)),
        "{cqe:?}"
    );
    assert_eq!(read_pipe(&brx, 200), sent, "the copy");
    assert_eq!(read_pipe(&arx, 200), sent, "the source kept its bytes");

    // Fixed input, and fixed target; only `len` bytes.
    let files = ring.register_files(&[arx.as_fd(), btx.as_fd()]).unwrap();
    let more = pattern(100, 30);
    File::from(atx.try_clone().unwrap())
        .write_all(&more)
        .unwrap();
    push_lent!(ring, Tee::new(&btx, files.get(0).unwrap(), 60).user_data(2)).unwrap();
    assert_eq!(ok(reap_one(&mut ring), "tee from a fixed pipe"), 60);
    assert_eq!(read_pipe(&brx, 60), more[..60]);
    push_lent!(
        ring,
        Tee::new(files.get(1).unwrap(), files.get(0).unwrap(), 100).user_data(3)
    )
    .unwrap();
    assert_eq!(ok(reap_one(&mut ring), "tee fixed to fixed"), 100);
    assert_eq!(read_pipe(&brx, 100), more);
    assert_eq!(read_pipe(&arx, 100), more, "the source kept its bytes");

    // NONBLOCK, or-ed with the fixed-input bit: the empty source fails at
    // once (the link timeout only bounds a wrong wait).
    push_lent!(
        ring,
        Tee::new(&btx, files.get(0).unwrap(), 10)
            .splice_flags(SpliceFlags::NONBLOCK)
            .user_data(5)
            .timeout(Duration::from_secs(5)),
    )
    .unwrap();
    let cqes = by_user_data(&submit_and_reap(&mut ring, 2));
    assert_eq!(
        cqes[&5].res(),
        -libc::EAGAIN,
        "NONBLOCK tee from an empty fixed pipe: {:?}",
        cqes[&5]
    );

    let file = tempfile_with(b"not a pipe");
    push_lent!(ring, Tee::new(&btx, &file, 5).user_data(4)).unwrap();
    assert_eq!(reap_one(&mut ring).res(), -libc::EINVAL, "tee from a file");
}

// ---------------------------------------------------------------------------
// Madvise.

/// An anonymous private mapping, unmapped on drop.
struct Mapping {
    addr: *mut u8,
    len: usize,
}

impl Mapping {
    fn new(len: usize) -> Mapping {
        // SAFETY: a fresh anonymous mapping; no existing memory is affected.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(
            addr,
            libc::MAP_FAILED,
            "mmap: {}",
            io::Error::last_os_error()
        );
        Mapping {
            addr: addr.cast(),
            len,
        }
    }

    /// A copy of the bytes (no reference to the mapping outlives the call).
    fn bytes(&self) -> Vec<u8> {
        // SAFETY: the mapping is `len` readable bytes, and no op is in
        // flight on it while this runs.
        unsafe { std::slice::from_raw_parts(self.addr, self.len) }.to_vec()
    }

    fn fill(&self, bytes: &[u8]) {
        assert_eq!(bytes.len(), self.len);
        // SAFETY: the mapping is `len` writable bytes, and no op is in
        // flight on it while this runs.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.addr, self.len) };
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, no longer used.
        unsafe { libc::munmap(self.addr.cast(), self.len) };
    }
}

/// MADVISE `DONTNEED` on pages of an anonymous private mapping zeroes them
/// and only them; an unaligned address or an unknown advice is EINVAL.
#[test]
fn madvise_dontneed_zeroes_pages() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Madvise>(&ring) {
        return;
    }
    let page = page_size();
    let map = Mapping::new(4 * page);
    let data = pattern(4 * page, 31);
    map.fill(&data);
    assert_eq!(map.bytes(), data);

    // SAFETY: pages 1 and 2 of a mapping this test owns, which holds no
    // Rust value (only bytes copied in and out by `fill` and `bytes`);
    // zeroing them is what the test wants.
    let range = unsafe { MadviseRange::new(map.addr.add(page), 2 * page as u64) };
    ring.push(Madvise::new(range, libc::MADV_DONTNEED).user_data(1))
        .unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0), "{cqe:?}");
    let now = map.bytes();
    assert_eq!(now[..page], data[..page], "page 0 kept");
    assert!(
        now[page..3 * page].iter().all(|&b| b == 0),
        "pages 1 and 2 zeroed"
    );
    assert_eq!(now[3 * page..], data[3 * page..], "page 3 kept");

    // SAFETY: as above; the address is not page-aligned, so the kernel
    // refuses the advice without touching anything.
    let unaligned = unsafe { MadviseRange::new(map.addr.add(1), page as u64) };
    ring.push(Madvise::new(unaligned, libc::MADV_DONTNEED).user_data(2))
        .unwrap();
    assert_eq!(
        reap_one(&mut ring).res(),
        -libc::EINVAL,
        "an unaligned address"
    );
    // SAFETY: as above; the advice is unknown, so nothing happens.
    let whole = unsafe { MadviseRange::new(map.addr, 4 * page as u64) };
    ring.push(Madvise::new(whole, 12345).user_data(3)).unwrap();
    assert_eq!(
        reap_one(&mut ring).res(),
        -libc::EINVAL,
        "an unknown advice"
    );
    assert_eq!(map.bytes()[..page], data[..page], "untouched by refusals");

    // The whole mapping, then written again: the pages are usable.
    ring.push(Madvise::new(whole, libc::MADV_DONTNEED).user_data(4))
        .unwrap();
    assert_eq!(reap_one(&mut ring).res(), 0);
    assert!(map.bytes().iter().all(|&b| b == 0), "all zeroed");
    map.fill(&data);
    assert_eq!(map.bytes(), data);
}
