//! Differential checks of the ops that say they act "like" a system call:
//! each case runs the same inputs through the io_uring op and through the
//! libc call on twin objects (two directories built alike, two files, two
//! sockets, two mappings), and asserts the same result or errno and the same
//! state afterwards. The inputs are the edges: every flag a builder offers,
//! zero, huge and negative (as `u64`) lengths and offsets, `AT_FDCWD`,
//! empty, absolute, too-long and dangling-symlink paths, directories where a
//! file is expected, pipes where a seekable file is expected. Where the two
//! agree only if a builder option lands in the SQE field and unit the
//! kernel's prep function reads, a disagreement shows the option misplaced.

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::AtomicU32;

use uring::ops::{
    Accept, Bind, Connect, EpollCtl, FGetXattr, FSetXattr, Fadvise, Fallocate, Fsync, Ftruncate,
    FutexWait, FutexWake, GetXattr, LinkAt, Listen, Madvise, MkdirAt, OpenAt, OpenAt2, Pipe, Read,
    RenameAt, SetXattr, Shutdown, Socket, Splice, Statx, SymlinkAt, SyncFileRange, Tee, UnlinkAt,
    WaitId, Write,
};
use uring::{
    Fd, FsyncFlags, FutexFlags, MadviseRange, Ring, RwFlags, SockAddr, SpliceFlags, WaitIdTarget,
};
use uring_tests::{cpath, pattern, pipe, push_lent, reap_one, require_op, skip};

// ---------------------------------------------------------------------------
// Helpers.

/// Pushes one op (keeping what it borrows alive until it is reaped, which
/// happens right here) and returns its `res`.
macro_rules! res {
    ($ring:ident, $op:expr) => {{
        push_lent!($ring, $op).expect("push");
        reap_one(&mut $ring).res()
    }};
}

/// A system call's return value as an io_uring `res`: the value, or
/// `-errno`. Called right after the call.
fn sys(rc: i64) -> i32 {
    if rc < 0 {
        -io::Error::last_os_error().raw_os_error().expect("an errno")
    } else {
        i32::try_from(rc).expect("a result that fits a CQE")
    }
}

/// Takes ownership of a descriptor a successful op or call returned.
fn owned(fd: i32) -> OwnedFd {
    assert!(fd >= 0, "not a descriptor: {fd}");
    // SAFETY: the op or call just created this descriptor; nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

/// `F_GETFL` and whether `FD_CLOEXEC` is set.
fn fd_flags(fd: BorrowedFd<'_>) -> (i32, bool) {
    // SAFETY: F_GETFL and F_GETFD only read flags of a borrowed descriptor.
    let (fl, fdf) = unsafe {
        (
            libc::fcntl(fd.as_raw_fd(), libc::F_GETFL),
            libc::fcntl(fd.as_raw_fd(), libc::F_GETFD),
        )
    };
    assert!(fl >= 0 && fdf >= 0);
    (fl, fdf & libc::FD_CLOEXEC != 0)
}

/// Everything under `dir`, recursively and sorted: each entry's relative
/// name, type, permission bits, and its contents (a file's bytes, a
/// symlink's target).
fn tree(dir: &Path) -> Vec<(String, char, u32, Vec<u8>)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, char, u32, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let name = path.strip_prefix(base).unwrap().display().to_string();
            let mode = meta.permissions().mode() & 0o7777;
            let ft = meta.file_type();
            if ft.is_symlink() {
                let t = std::fs::read_link(&path).unwrap();
                out.push((name, 'l', 0, t.into_os_string().into_encoded_bytes()));
            } else if ft.is_dir() {
                out.push((name, 'd', mode, Vec::new()));
                walk(base, &path, out);
            } else if ft.is_file() {
                out.push((name, 'f', mode, std::fs::read(&path).unwrap()));
            } else {
                out.push((name, '?', mode, Vec::new()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Two temporary directories laid out alike by `setup`, with an open
/// descriptor of each: the first for the op, the second for the call.
struct Twins {
    a: tempfile::TempDir,
    b: tempfile::TempDir,
    da: File,
    db: File,
}

impl Twins {
    fn new(setup: impl Fn(&Path)) -> Twins {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        setup(a.path());
        setup(b.path());
        let da = File::open(a.path()).unwrap();
        let db = File::open(b.path()).unwrap();
        Twins { a, b, da, db }
    }

    fn assert_same(&self, what: &str) {
        assert_eq!(
            tree(self.a.path()),
            tree(self.b.path()),
            "state after {what}"
        );
    }
}

/// The standard layout of the `*at` tests.
fn layout(p: &Path) {
    std::fs::write(p.join("file"), b"file bytes").unwrap();
    std::fs::create_dir(p.join("dir")).unwrap();
    std::fs::create_dir(p.join("full")).unwrap();
    std::fs::write(p.join("full/inner"), b"inner").unwrap();
    std::os::unix::fs::symlink("nowhere", p.join("dangling")).unwrap();
    std::os::unix::fs::symlink("dir", p.join("dirlink")).unwrap();
    std::os::unix::fs::symlink("file", p.join("filelink")).unwrap();
}

/// A path of `n` bytes of `a`s (no NUL).
fn long_name(n: usize) -> CString {
    CString::new(vec![b'a'; n]).unwrap()
}

/// A temporary file holding `bytes`, opened read-write.
fn temp_with(bytes: &[u8]) -> File {
    let file = tempfile::tempfile().unwrap();
    file.write_all_at(bytes, 0).unwrap();
    file
}

/// A temporary file holding `bytes`, opened read-only.
fn read_only_with(bytes: &[u8]) -> (tempfile::TempDir, File) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ro"), bytes).unwrap();
    let f = File::open(dir.path().join("ro")).unwrap();
    (dir, f)
}

/// Size, allocated blocks and bytes of a file.
fn file_state(f: &File) -> (u64, u64, Vec<u8>) {
    let meta = f.metadata().unwrap();
    let mut bytes = vec![0; meta.len() as usize];
    f.read_exact_at(&mut bytes, 0).unwrap();
    (meta.len(), meta.blocks(), bytes)
}

/// Asserts that twin files `a` and `b` have the same size and bytes, and
/// the same allocated blocks within one file-system block: the count
/// includes the file system's own blocks for the file (ext4's extent index
/// block), which depend on where on the disk each twin's extents landed.
/// A step taken on one side only shows in the size or the bytes.
fn assert_twins(a: &File, b: &File, what: &str) {
    let ((la, ba, xa), (lb, bb, xb)) = (file_state(a), file_state(b));
    assert_eq!(la, lb, "{what}: size");
    assert!(xa == xb, "{what}: the files' bytes differ");
    let slack = a.metadata().unwrap().blksize() / 512;
    assert!(
        ba.abs_diff(bb) <= slack,
        "{what}: allocated blocks {ba} and {bb} ({slack} sectors allowed)"
    );
}

/// Asserts the op's `ra` equals the call's `rb`, but for one ordering the
/// kernel has on purpose: the op copies its paths in at prep time, so an
/// empty or too-long path fails there (`ENOENT`, `ENAMETOOLONG`) before
/// the flags the call checks first (`EINVAL`) are looked at.
fn assert_parity(ra: i32, rb: i32, path_edge: bool, what: &str) {
    if path_edge && (ra == -libc::ENOENT || ra == -libc::ENAMETOOLONG) && rb == -libc::EINVAL {
        return;
    }
    assert_eq!(ra, rb, "{what}");
}

/// `write(2)` of `bytes` to `fd`; the count written.
fn put(fd: BorrowedFd<'_>, bytes: &[u8]) -> isize {
    // SAFETY: `bytes` is readable for its length.
    unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) }
}

/// `lseek(2)` of `fd`.
fn seek(fd: BorrowedFd<'_>, off: i64, whence: i32) -> i64 {
    // SAFETY: a plain call on a borrowed descriptor.
    unsafe { libc::lseek(fd.as_raw_fd(), off, whence) }
}

/// A negative `loff_t` as the `u64` the builders take.
const NEG: u64 = 1 << 63;

// ---------------------------------------------------------------------------
// Read, Write.

/// READ and WRITE against `pread(2)` / `pwritev2(2)` on twin files: offsets
/// at, past and far past the end, a negative one, `u64::MAX` (the file
/// position, which then moves), zero lengths, a directory, a descriptor
/// not open for the direction, and the `RWF_APPEND` / `RWF_NOAPPEND` flags.
#[test]
fn read_and_write_match_pread_and_pwritev2() {
    let mut ring = Ring::new(8).unwrap();
    let data = pattern(1000, 3);
    let (fa, fb) = (temp_with(&data), temp_with(&data));
    for (offset, len) in [
        (0u64, 100usize),
        (990, 100),
        (1000, 10),
        (1 << 40, 10),
        (NEG, 10),
        (i64::MAX as u64, 10),
        (5, 0),
    ] {
        let mut ba = vec![0u8; len];
        let mut bb = vec![0u8; len];
        let ra = res!(ring, Read::new(&fa, &mut ba).offset(offset));
        // SAFETY: `bb` is writable for `len` bytes.
        let rb =
            sys(
                unsafe { libc::pread(fb.as_raw_fd(), bb.as_mut_ptr().cast(), len, offset as i64) }
                    as i64,
            );
        assert_eq!(ra, rb, "read at {offset:#x}, {len} bytes");
        assert_eq!(ba, bb, "bytes read at {offset:#x}");
    }

    // u64::MAX reads at the position, and moves it, like read(2).
    for f in [&fa, &fb] {
        // SAFETY: lseek on a borrowed descriptor.
        assert_eq!(seek(f.as_fd(), 600, libc::SEEK_SET), 600);
    }
    let (mut ba, mut bb) = ([0u8; 64], [0u8; 64]);
    let ra = res!(ring, Read::new(&fa, &mut ba).offset(u64::MAX));
    // SAFETY: `bb` is writable for 64 bytes.
    let rb = sys(unsafe { libc::read(fb.as_raw_fd(), bb.as_mut_ptr().cast(), 64) } as i64);
    assert_eq!((ra, ba), (rb, bb));
    for f in [&fa, &fb] {
        // SAFETY: as above.
        assert_eq!(seek(f.as_fd(), 0, libc::SEEK_CUR), 664);
    }

    // RWF_APPEND writes at the end whatever the offset; RWF_NOAPPEND on an
    // O_APPEND file writes at the offset.
    for (flags, rwf) in [
        (RwFlags::APPEND, libc::RWF_APPEND),
        (RwFlags::DSYNC, libc::RWF_DSYNC),
        (RwFlags::empty(), 0),
    ] {
        let chunk = b"appended";
        let ra = res!(ring, Write::new(&fa, chunk).offset(10).rw_flags(flags));
        let iov = libc::iovec {
            iov_base: chunk.as_ptr() as *mut _,
            iov_len: chunk.len(),
        };
        // SAFETY: one iovec over `chunk`, which lives across the call.
        let rb = sys(unsafe { libc::pwritev2(fb.as_raw_fd(), &iov, 1, 10, rwf) } as i64);
        assert_eq!(ra, rb, "write with {flags:?}");
        assert_eq!(file_state(&fa).2, file_state(&fb).2, "after {flags:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let open_append = |name: &str| {
        std::fs::write(dir.path().join(name), b"0123456789").unwrap();
        std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(dir.path().join(name))
            .unwrap()
    };
    let (aa, ab) = (open_append("a"), open_append("b"));
    for (flags, rwf) in [
        (RwFlags::NOAPPEND, libc::RWF_NOAPPEND),
        (RwFlags::empty(), 0),
    ] {
        let ra = res!(ring, Write::new(&aa, b"XY").offset(2).rw_flags(flags));
        let iov = libc::iovec {
            iov_base: b"XY".as_ptr() as *mut _,
            iov_len: 2,
        };
        // SAFETY: one iovec over static bytes.
        let rb = sys(unsafe { libc::pwritev2(ab.as_raw_fd(), &iov, 1, 2, rwf) } as i64);
        assert_eq!(ra, rb);
        assert_eq!(
            file_state(&aa).2,
            file_state(&ab).2,
            "O_APPEND and {flags:?}"
        );
    }

    // A directory; a file open only for the other direction.
    let d = File::open(dir.path()).unwrap();
    let mut buf = [0u8; 8];
    let ra = res!(ring, Read::new(&d, &mut buf));
    // SAFETY: `buf` is writable for 8 bytes.
    let rb = sys(unsafe { libc::pread(d.as_raw_fd(), buf.as_mut_ptr().cast(), 8, 0) } as i64);
    assert_eq!((ra, rb), (-libc::EISDIR, -libc::EISDIR));
    let wo = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("a"))
        .unwrap();
    let ra = res!(ring, Read::new(&wo, &mut buf));
    // SAFETY: as above.
    let rb = sys(unsafe { libc::pread(wo.as_raw_fd(), buf.as_mut_ptr().cast(), 8, 0) } as i64);
    assert_eq!(
        (ra, rb),
        (-libc::EBADF, -libc::EBADF),
        "read of a write-only file"
    );
    let (_keep, ro) = read_only_with(b"ro");
    let ra = res!(ring, Write::new(&ro, b"x"));
    // SAFETY: one static byte.
    let rb = sys(unsafe { libc::pwrite(ro.as_raw_fd(), b"x".as_ptr().cast(), 1, 0) } as i64);
    assert_eq!(
        (ra, rb),
        (-libc::EBADF, -libc::EBADF),
        "write to a read-only file"
    );
}

/// On a pipe the two part ways, as the kernel means them to: `pread(2)`
/// refuses any offset (`ESPIPE`), while READ ignores the offset of a
/// stream and reads. A caller porting `pread` code to the op on a pipe
/// gets bytes where it got an error.
#[test]
fn read_on_a_pipe_ignores_the_offset_unlike_pread() {
    let mut ring = Ring::new(8).unwrap();
    let (rx, tx) = pipe();
    // SAFETY: four static bytes into a pipe we own.
    assert_eq!(put(tx.as_fd(), b"abcd"), 4);
    let mut b = [0u8; 4];
    // SAFETY: `b` is writable for 4 bytes.
    let rb = sys(unsafe { libc::pread(rx.as_raw_fd(), b.as_mut_ptr().cast(), 4, 0) } as i64);
    assert_eq!(rb, -libc::ESPIPE);
    let ra = res!(ring, Read::new(&rx, &mut b).offset(0));
    assert_eq!((ra, &b), (4, b"abcd"), "READ at offset 0 of a pipe");
}

// ---------------------------------------------------------------------------
// Fsync, SyncFileRange.

/// Whether `fsync(2)` succeeds on `fd`.
fn rb_is_ok(fd: BorrowedFd<'_>) -> bool {
    // SAFETY: a plain call on a borrowed descriptor.
    unsafe { libc::fsync(fd.as_raw_fd()) == 0 }
}

/// FSYNC and its `DATASYNC` flag against `fsync(2)` / `fdatasync(2)`: a
/// pipe is `EINVAL`, a read-only file and a directory sync fine; ranged
/// forms succeed where the whole-file call does.
#[test]
fn fsync_results_match_fsync_and_fdatasync() {
    let mut ring = Ring::new(8).unwrap();
    let (rx, _tx) = pipe();
    let (_keep, ro) = read_only_with(b"ro");
    let dir = tempfile::tempdir().unwrap();
    let d = File::open(dir.path()).unwrap();
    let rw = temp_with(&pattern(5000, 1));
    let fds: [BorrowedFd<'_>; 4] = [rx.as_fd(), ro.as_fd(), d.as_fd(), rw.as_fd()];
    for fd in fds {
        for (flags, data) in [(FsyncFlags::empty(), false), (FsyncFlags::DATASYNC, true)] {
            for (off, len) in [(0u64, 0u32), (100, 10), (1 << 40, u32::MAX)] {
                let ra = res!(ring, Fsync::new(fd).fsync_flags(flags).offset(off).len(len));
                // SAFETY: plain calls on a borrowed descriptor.
                let rb = sys(i64::from(unsafe {
                    if data {
                        libc::fdatasync(fd.as_raw_fd())
                    } else {
                        libc::fsync(fd.as_raw_fd())
                    }
                }));
                assert_eq!(ra, rb, "fd {fd:?} {flags:?} range {off:#x}+{len}");
            }
            // A range that starts before 0 has no whole-file equivalent:
            // the op refuses it, as vfs_fsync_range does.
            let ra = res!(ring, Fsync::new(fd).fsync_flags(flags).offset(NEG).len(0));
            let rb = if rb_is_ok(fd) { -libc::EINVAL } else { ra };
            assert_eq!(ra, rb, "fd {fd:?} {flags:?} from a negative offset");
        }
    }
}

/// `FS_IOC_FIEMAP`: `_IOWR('f', 11, struct fiemap)`.
const FS_IOC_FIEMAP: libc::c_ulong = 0xC020_660B;
/// `FIEMAP_EXTENT_DELALLOC`.
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

/// The byte ranges of `file` still waiting for delayed allocation; `None`
/// without FIEMAP.
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

/// Where the far run of a [`two_dirty_runs`] file starts.
const FAR: u64 = 1 << 20;

/// A file with dirty, not yet allocated data at `0..64K` and `FAR..FAR+64K`;
/// `None` (with a skip) where delayed allocation is not visible.
fn two_dirty_runs() -> Option<File> {
    let f = tempfile::tempfile().unwrap();
    f.write_all_at(&pattern(65536, 7), 0).unwrap();
    f.write_all_at(&pattern(65536, 8), FAR).unwrap();
    match delalloc_ranges(&f) {
        Some(r) if r == [(0, 65536), (FAR, FAR + 65536)] => Some(f),
        other => {
            skip(format_args!("no visible delayed allocation ({other:?})"));
            None
        }
    }
}

/// `Fsync`'s range as its docs give it, after the kernel's `io_fsync`
/// (io_uring/sync.c), which syncs `off ..= off + len` and takes the whole
/// file only when `off + len` is 0: a length of 0 from offset 0 syncs every
/// dirty run; from a non-zero offset it syncs the one byte there, and data
/// after it stays dirty; a length that reaches the far run syncs it.
#[test]
fn fsync_len_zero_syncs_the_whole_file_only_from_offset_zero() {
    let mut ring = Ring::new(8).unwrap();
    let Some(f) = two_dirty_runs() else { return };
    let r = res!(ring, Fsync::new(&f).offset(4096).len(0));
    assert_eq!(r, 0);
    let left = delalloc_ranges(&f).unwrap();
    assert!(
        left.iter().any(|&(s, _)| s >= FAR),
        "a length of 0 from offset 4096 synced data at {FAR:#x}: {left:x?}"
    );
    let len = u32::try_from(FAR + 65536 - 4096).unwrap();
    let r = res!(ring, Fsync::new(&f).offset(4096).len(len));
    assert_eq!(r, 0);
    let left = delalloc_ranges(&f).unwrap();
    assert!(
        !left.iter().any(|&(s, _)| s >= FAR),
        "a range reaching {FAR:#x} left it dirty: {left:x?}"
    );
    let Some(g) = two_dirty_runs() else { return };
    let r = res!(ring, Fsync::new(&g).len(0));
    assert_eq!(r, 0);
    let left = delalloc_ranges(&g).unwrap();
    assert!(left.is_empty(), "a whole-file sync left {left:x?}");
}

/// SYNC_FILE_RANGE against `sync_file_range(2)`: each flag and their
/// union, unknown flags, a negative offset, zero and whole lengths, a pipe
/// (`ESPIPE`), a directory; and the far run of dirty data written back
/// exactly when the range covers it, in both.
#[test]
fn sync_file_range_matches_sync_file_range() {
    let mut ring = Ring::new(8).unwrap();
    let all = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    let (rx, _tx) = pipe();
    let dir = tempfile::tempdir().unwrap();
    let d = File::open(dir.path()).unwrap();
    let f = temp_with(&pattern(9000, 2));
    let fds: [BorrowedFd<'_>; 3] = [rx.as_fd(), d.as_fd(), f.as_fd()];
    for fd in fds {
        for flags in [0, libc::SYNC_FILE_RANGE_WRITE, all, 0x8, 0x100] {
            for (off, len) in [(0u64, 0u32), (4096, 4096), (NEG, 10), (u64::MAX, 0)] {
                let ra = res!(
                    ring,
                    SyncFileRange::new(fd)
                        .offset(off)
                        .len(len)
                        .sync_range_flags(flags)
                );
                // SAFETY: a plain call on a borrowed descriptor.
                let rb = sys(i64::from(unsafe {
                    libc::sync_file_range(fd.as_raw_fd(), off as i64, i64::from(len), flags)
                }));
                assert_eq!(ra, rb, "fd {fd:?} flags {flags:#x} range {off:#x}+{len}");
            }
        }
    }

    // Only the first run: the far one stays dirty, in both.
    let (Some(a), Some(b)) = (two_dirty_runs(), two_dirty_runs()) else {
        return;
    };
    let ra = res!(
        ring,
        SyncFileRange::new(&a)
            .offset(0)
            .len(65536)
            .sync_range_flags(all)
    );
    // SAFETY: a plain call on an open file.
    let rb = sys(i64::from(unsafe {
        libc::sync_file_range(b.as_raw_fd(), 0, 65536, all)
    }));
    assert_eq!((ra, rb), (0, 0));
    assert_eq!(delalloc_ranges(&a), delalloc_ranges(&b));
    assert_eq!(delalloc_ranges(&a).unwrap(), [(FAR, FAR + 65536)]);
}

// ---------------------------------------------------------------------------
// Fallocate, Fadvise, Ftruncate.

/// FALLOCATE against `fallocate(2)` on twin files, for every mode (plain,
/// keep size, punch hole with and without keep size, zero range, collapse
/// and insert range aligned and not, unknown bits) over zero, negative,
/// huge and ordinary ranges: the same result, size, blocks and bytes.
#[test]
fn fallocate_matches_fallocate() {
    let mut ring = Ring::new(8).unwrap();
    let modes = [
        0,
        libc::FALLOC_FL_KEEP_SIZE,
        libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
        libc::FALLOC_FL_PUNCH_HOLE,
        libc::FALLOC_FL_ZERO_RANGE,
        libc::FALLOC_FL_ZERO_RANGE | libc::FALLOC_FL_KEEP_SIZE,
        libc::FALLOC_FL_COLLAPSE_RANGE,
        libc::FALLOC_FL_INSERT_RANGE,
        0x4000_0000,
    ];
    let ranges = [
        (0u64, 4096u64),
        (4096, 8192),
        (100, 50),
        (0, 0),
        (NEG, 4096),
        (4096, NEG),
        (1 << 50, 4096),
        (65536, 1 << 22),
        (0, i64::MAX as u64),
    ];
    for mode in modes {
        for (off, len) in ranges {
            let data = pattern(40960, 5);
            let (a, b) = (temp_with(&data), temp_with(&data));
            let ra = res!(ring, Fallocate::new(&a, len).offset(off).mode(mode));
            // SAFETY: a plain call on an open file.
            let rb = sys(i64::from(unsafe {
                libc::fallocate(b.as_raw_fd(), mode, off as i64, len as i64)
            }));
            assert_eq!(ra, rb, "mode {mode:#x} range {off:#x}+{len:#x}");
            assert_twins(
                &a,
                &b,
                &format!("file after mode {mode:#x} range {off:#x}+{len:#x}"),
            );
        }
    }
    let (_keep, ro) = read_only_with(b"ro");
    let (rx, _tx) = pipe();
    for fd in [ro.as_fd(), rx.as_fd()] {
        let ra = res!(ring, Fallocate::new(fd, 10));
        // SAFETY: a plain call on a borrowed descriptor.
        let rb = sys(i64::from(unsafe {
            libc::fallocate(fd.as_raw_fd(), 0, 0, 10)
        }));
        assert_eq!(ra, rb, "{fd:?}");
        assert!(ra < 0);
    }
}

/// FADVISE against `posix_fadvise(2)` (which returns its error rather
/// than setting errno): every advice and an unknown one, negative offsets
/// and lengths, lengths above 4 GiB (carried in `addr`), a pipe, a
/// directory.
#[test]
fn fadvise_matches_posix_fadvise() {
    let mut ring = Ring::new(8).unwrap();
    let f = temp_with(&pattern(100_000, 4));
    let (rx, _tx) = pipe();
    let dir = tempfile::tempdir().unwrap();
    let d = File::open(dir.path()).unwrap();
    let fds: [BorrowedFd<'_>; 3] = [f.as_fd(), rx.as_fd(), d.as_fd()];
    for fd in fds {
        for advice in [
            libc::POSIX_FADV_NORMAL,
            libc::POSIX_FADV_RANDOM,
            libc::POSIX_FADV_SEQUENTIAL,
            libc::POSIX_FADV_WILLNEED,
            libc::POSIX_FADV_DONTNEED,
            libc::POSIX_FADV_NOREUSE,
            6,
            -1,
        ] {
            for (off, len) in [
                (0u64, 0u64),
                (4096, 8192),
                (NEG, 10),
                (0, NEG),
                (0, 1 << 33),
                (1 << 33, u64::from(u32::MAX) + 1),
            ] {
                let ra = res!(ring, Fadvise::new(fd, advice).offset(off).len(len));
                // SAFETY: a plain call on a borrowed descriptor.
                let rb =
                    unsafe { libc::posix_fadvise(fd.as_raw_fd(), off as i64, len as i64, advice) };
                assert_eq!(ra, -rb, "fd {fd:?} advice {advice} range {off:#x}+{len:#x}");
            }
        }
    }
}

/// FTRUNCATE against `ftruncate(2)` on twin files: zero, shrinking,
/// growing, a length past the file system's largest file (`EFBIG`), a
/// negative one (`EINVAL`); a read-only file, a directory and a pipe
/// (`EINVAL`).
#[test]
fn ftruncate_matches_ftruncate() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Ftruncate>(&ring) {
        return;
    }
    for len in [0u64, 1, 999, 5000, 1 << 40, 1 << 62, NEG, u64::MAX] {
        let data = pattern(1000, 6);
        let (a, b) = (temp_with(&data), temp_with(&data));
        let ra = res!(ring, Ftruncate::new(&a, len));
        // SAFETY: a plain call on an open file.
        let rb = sys(i64::from(unsafe {
            libc::ftruncate(b.as_raw_fd(), len as i64)
        }));
        assert_eq!(ra, rb, "length {len:#x}");
        let (sa, sb) = (a.metadata().unwrap().len(), b.metadata().unwrap().len());
        assert_eq!(sa, sb, "size after {len:#x}");
        if len < 1 << 20 {
            assert_twins(&a, &b, &format!("after length {len:#x}"));
        }
    }
    let (_keep, ro) = read_only_with(b"ro");
    let (rx, tx) = pipe();
    let dir = tempfile::tempdir().unwrap();
    let d = File::open(dir.path()).unwrap();
    let fds: [BorrowedFd<'_>; 4] = [ro.as_fd(), rx.as_fd(), tx.as_fd(), d.as_fd()];
    for fd in fds {
        let ra = res!(ring, Ftruncate::new(fd, 1));
        // SAFETY: a plain call on a borrowed descriptor.
        let rb = sys(i64::from(unsafe { libc::ftruncate(fd.as_raw_fd(), 1) }));
        assert_eq!((ra, rb), (-libc::EINVAL, -libc::EINVAL), "{fd:?}");
    }
}

// ---------------------------------------------------------------------------
// Statx, OpenAt, OpenAt2.

const AT_STATX_FORCE_SYNC: i32 = 0x2000;
const AT_STATX_DONT_SYNC: i32 = 0x4000;
const STATX_RESERVED: u32 = 0x8000_0000;

fn zeroed_statx() -> libc::statx {
    // SAFETY: all-zero bytes are a valid `statx`.
    unsafe { std::mem::zeroed() }
}

/// STATX against `statx(2)` over edge paths and flags: empty paths with
/// and without `AT_EMPTY_PATH` (on a directory, a file, `AT_FDCWD`),
/// absolute paths with a file as `dirfd`, relative ones with a file as
/// `dirfd` (`ENOTDIR`), dangling and directory symlinks with and without
/// `AT_SYMLINK_NOFOLLOW`, a file used as a directory, names and paths too
/// long, unknown and contradictory flags, the reserved mask bit, and masks
/// of none and all fields.
#[test]
fn statx_matches_statx() {
    let mut ring = Ring::new(8).unwrap();
    let t = Twins::new(layout);
    let file_a = File::open(t.a.path().join("file")).unwrap();
    let file_b = File::open(t.b.path().join("file")).unwrap();
    let abs_a = cpath(&t.a.path().join("file"));
    let abs_b = cpath(&t.b.path().join("file"));
    let too_long = long_name(5000);
    let name_256 = long_name(256);
    let paths: [(&CStr, &CStr); 10] = [
        (c"", c""),
        (c"file", c"file"),
        (c"dangling", c"dangling"),
        (c"dirlink", c"dirlink"),
        (c"dirlink/", c"dirlink/"),
        (c"file/x", c"file/x"),
        (c"file/", c"file/"),
        (&too_long, &too_long),
        (&name_256, &name_256),
        (&abs_a, &abs_b),
    ];
    let flag_sets = [
        0,
        libc::AT_EMPTY_PATH,
        libc::AT_SYMLINK_NOFOLLOW,
        libc::AT_NO_AUTOMOUNT,
        AT_STATX_FORCE_SYNC,
        AT_STATX_DONT_SYNC,
        AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC,
        0x0010_0000,
    ];
    let masks = [
        0,
        libc::STATX_BASIC_STATS,
        libc::STATX_ALL,
        STATX_RESERVED,
        u32::MAX,
    ];
    type Dirs<'x> = [(Fd<'x>, RawFd); 3];
    let dirs: Dirs<'_> = [
        (Fd::from(&t.da), t.db.as_raw_fd()),
        (Fd::from(&file_a), file_b.as_raw_fd()),
        (Fd::CWD, libc::AT_FDCWD),
    ];
    for (di, (da, db)) in dirs.into_iter().enumerate() {
        for (pa, pb) in paths {
            for flags in flag_sets {
                for mask in masks {
                    let mut sa = zeroed_statx();
                    let ra = res!(
                        ring,
                        Statx::new(da, pa, &mut sa).statx_flags(flags).mask(mask)
                    );
                    let mut sb = zeroed_statx();
                    // SAFETY: `pb` is NUL-terminated; `sb` is a writable statx.
                    let rb = sys(i64::from(unsafe {
                        libc::statx(db, pb.as_ptr(), flags, mask, &mut sb)
                    }));
                    let what = format!(
                        "dir #{di} path of {} bytes {:?} flags {flags:#x} mask {mask:#x}",
                        pa.count_bytes(),
                        &pa.to_bytes()[..pa.count_bytes().min(16)]
                    );
                    let edge = pa.is_empty() || pa.count_bytes() >= 4096;
                    assert_parity(ra, rb, edge, &what);
                    if ra == 0 {
                        assert_eq!(sa.stx_mask, sb.stx_mask, "{what}");
                        assert_eq!(sa.stx_mode, sb.stx_mode, "{what}");
                        assert_eq!(sa.stx_size, sb.stx_size, "{what}");
                        assert_eq!(sa.stx_nlink, sb.stx_nlink, "{what}");
                        if di == 2 && pa.is_empty() {
                            // The working directory: the same inode.
                            assert_eq!(sa.stx_ino, sb.stx_ino, "{what}");
                        }
                    }
                }
            }
        }
    }
}

/// OPENAT against `openat(2)` over flag combinations and edge paths on
/// twin directories: the same result or errno, the same status flags and
/// close-on-exec bit of the new descriptor, the same mode of a created
/// file, and the same tree afterwards.
#[test]
fn openat_matches_openat() {
    let mut ring = Ring::new(8).unwrap();
    let t = Twins::new(layout);
    let too_long = long_name(300);
    let paths: [&CStr; 11] = [
        c"file",
        c"new",
        c"dir",
        c"dangling",
        c"filelink",
        c"dirlink",
        c"file/",
        c"new/",
        c"",
        c"full/inner",
        &too_long,
    ];
    let (o_creat, o_excl, o_dir, o_tmp) = (
        libc::O_CREAT,
        libc::O_EXCL,
        libc::O_DIRECTORY,
        libc::O_TMPFILE,
    );
    let flag_sets = [
        libc::O_RDONLY,
        libc::O_RDWR | libc::O_CLOEXEC,
        libc::O_WRONLY | libc::O_TRUNC,
        libc::O_RDONLY | libc::O_NOFOLLOW,
        libc::O_PATH | libc::O_NOFOLLOW,
        libc::O_RDONLY | o_dir,
        o_creat | libc::O_WRONLY,
        o_creat | o_excl | libc::O_RDWR,
        o_creat | o_excl | libc::O_NOFOLLOW | libc::O_RDWR,
        o_creat | o_dir,
        o_tmp | libc::O_RDWR,
        libc::O_RDONLY | libc::O_NONBLOCK | libc::O_APPEND | libc::O_NOATIME,
        libc::O_RDWR | libc::O_DIRECT | libc::O_SYNC,
        -1,
    ];
    for path in paths {
        for flags in flag_sets {
            for mode in [0o640u32, 0o7777, 0o170_644] {
                let ra = res!(ring, OpenAt::new(&t.da, path).open_flags(flags).mode(mode));
                // SAFETY: a NUL-terminated path; the mode is passed as the
                // variadic `mode_t`.
                let rb = sys(i64::from(unsafe {
                    libc::openat(t.db.as_raw_fd(), path.as_ptr(), flags, mode)
                }));
                let what = format!("path {path:?} flags {flags:#o} mode {mode:#o}");
                assert_eq!(ra.signum(), rb.signum(), "{what}: {ra} vs {rb}");
                if ra < 0 {
                    assert_parity(ra, rb, path.is_empty(), &what);
                } else {
                    let (fa, fb) = (owned(ra), owned(rb));
                    assert_eq!(fd_flags(fa.as_fd()), fd_flags(fb.as_fd()), "{what}");
                }
                t.assert_same(&what);
                // Start each combination from the layout again.
                for root in [t.a.path(), t.b.path()] {
                    let _ = std::fs::remove_file(root.join("new"));
                    let _ = std::fs::remove_file(root.join("nowhere"));
                    std::fs::write(root.join("file"), b"file bytes").unwrap();
                }
            }
        }
    }
}

/// `struct open_how` as the kernel knows it.
fn how(flags: u64, mode: u64, resolve: u64) -> libc::open_how {
    // SAFETY: all-zero bytes are a valid `open_how`.
    let mut h: libc::open_how = unsafe { std::mem::zeroed() };
    h.flags = flags;
    h.mode = mode;
    h.resolve = resolve;
    h
}

/// OPENAT2 against `openat2(2)` over the resolve flags (in-root with an
/// absolute path and `..`, no magic links through `/proc/self/fd`, no
/// crossing of mounts, cached lookups with and without creation, unknown
/// bits), flags above 32 bits, and a mode without `O_CREAT`.
#[test]
fn openat2_matches_openat2() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<OpenAt2<'static>>(&ring) {
        return;
    }
    let t = Twins::new(layout);
    let in_root_a = cpath(&t.a.path().join("file"));
    let fd_link = CString::new(format!("/proc/self/fd/{}", t.da.as_raw_fd())).unwrap();
    let paths: [&CStr; 7] = [
        c"file",
        c"/file",
        c"../../../file",
        c"dirlink/../file",
        c"new",
        &in_root_a,
        &fd_link,
    ];
    let o_cloexec = libc::O_CLOEXEC as u64;
    let hows = [
        how(o_cloexec, 0, 0),
        how(o_cloexec, 0, libc::RESOLVE_IN_ROOT),
        how(o_cloexec, 0, libc::RESOLVE_BENEATH),
        how(o_cloexec, 0, libc::RESOLVE_NO_MAGICLINKS),
        how(o_cloexec, 0, libc::RESOLVE_NO_XDEV),
        how(o_cloexec, 0, libc::RESOLVE_NO_SYMLINKS),
        how(o_cloexec, 0, libc::RESOLVE_CACHED),
        how(
            o_cloexec | libc::O_CREAT as u64,
            0o600,
            libc::RESOLVE_CACHED,
        ),
        how(o_cloexec, 0, 0x100),
        how(o_cloexec | (1 << 40), 0, 0),
        how(o_cloexec, 0o600, 0),
        how(o_cloexec | libc::O_CREAT as u64, 0o1_0000, 0),
    ];
    for path in paths {
        for h in &hows {
            let ra = res!(ring, OpenAt2::new(&t.da, path, h));
            // SAFETY: a NUL-terminated path and an open_how of its size.
            let rb = sys(unsafe {
                libc::syscall(
                    libc::SYS_openat2,
                    t.db.as_raw_fd(),
                    path.as_ptr(),
                    h as *const libc::open_how,
                    size_of::<libc::open_how>(),
                )
            });
            // The /proc/self/fd link and the absolute path name the first
            // twin's objects in both calls; the rest are relative.
            let what = format!(
                "path {path:?} flags {:#x} mode {:#o} resolve {:#x}",
                h.flags, h.mode, h.resolve
            );
            assert_eq!(ra.signum(), rb.signum(), "{what}: {ra} vs {rb}");
            if ra < 0 {
                assert_eq!(ra, rb, "{what}");
            } else {
                let (fa, fb) = (owned(ra), owned(rb));
                assert_eq!(fd_flags(fa.as_fd()), fd_flags(fb.as_fd()), "{what}");
            }
            for root in [t.a.path(), t.b.path()] {
                let _ = std::fs::remove_file(root.join("new"));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// RenameAt, UnlinkAt, MkdirAt, SymlinkAt, LinkAt.

/// A layout for renames: files, empty and full directories, symlinks.
fn rename_layout(p: &Path) {
    layout(p);
    std::fs::write(p.join("other"), b"other bytes").unwrap();
    std::fs::create_dir(p.join("dir/sub")).unwrap();
}

/// RENAMEAT against `renameat2(2)` on twin trees, for each pair of
/// source and destination kinds (file, directory, full directory,
/// symlinks, missing, a directory into itself, `.` and `..`, too long)
/// and each flag set (none, `RENAME_NOREPLACE`, `RENAME_EXCHANGE`,
/// `RENAME_WHITEOUT`, contradictory and unknown bits).
#[test]
fn renameat_matches_renameat2() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<RenameAt<'static>>(&ring) {
        return;
    }
    let too_long = long_name(256);
    let names: [&CStr; 11] = [
        c"file",
        c"other",
        c"dir",
        c"full",
        c"dangling",
        c"missing",
        c"dir/sub/in",
        c"file/",
        c".",
        c"",
        &too_long,
    ];
    let flag_sets = [
        0,
        libc::RENAME_NOREPLACE,
        libc::RENAME_EXCHANGE,
        libc::RENAME_WHITEOUT,
        libc::RENAME_EXCHANGE | libc::RENAME_NOREPLACE,
        libc::RENAME_WHITEOUT | libc::RENAME_EXCHANGE,
        0x80,
    ];
    for from in names {
        for to in names {
            for flags in flag_sets {
                let t = Twins::new(rename_layout);
                let ra = res!(
                    ring,
                    RenameAt::new(&t.da, from, t.da.as_fd(), to).rename_flags(flags)
                );
                // SAFETY: NUL-terminated paths relative to an open directory.
                let rb = sys(unsafe {
                    libc::syscall(
                        libc::SYS_renameat2,
                        t.db.as_raw_fd(),
                        from.as_ptr(),
                        t.db.as_raw_fd(),
                        to.as_ptr(),
                        flags,
                    )
                });
                let what = format!("{from:?} -> {to:?} flags {flags:#x}");
                assert_parity(ra, rb, from.is_empty() || to.is_empty(), &what);
                t.assert_same(&what);
            }
        }
    }
}

/// UNLINKAT against `unlinkat(2)` on twin trees: files, empty and full
/// directories, `.` and `..`, symlinks (dangling, to a directory, with a
/// trailing slash), empty and too-long paths, absolute ones with
/// `AT_FDCWD`; flags none, `AT_REMOVEDIR` and unknown bits.
#[test]
fn unlinkat_matches_unlinkat() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<UnlinkAt<'static>>(&ring) {
        return;
    }
    let too_long = long_name(256);
    let names: [&CStr; 12] = [
        c"file",
        c"dir",
        c"full",
        c".",
        c"..",
        c"dangling",
        c"dirlink",
        c"dirlink/",
        c"file/",
        c"missing",
        c"",
        &too_long,
    ];
    for name in names {
        for flags in [0, libc::AT_REMOVEDIR, libc::AT_SYMLINK_NOFOLLOW, -1] {
            for absolute in [false, true] {
                let t = Twins::new(layout);
                let (pa, pb) = if absolute {
                    let n = name.to_str().unwrap();
                    (cpath(&t.a.path().join(n)), cpath(&t.b.path().join(n)))
                } else {
                    (name.to_owned(), name.to_owned())
                };
                let ra = if absolute {
                    res!(ring, UnlinkAt::new(Fd::CWD, &pa).unlink_flags(flags))
                } else {
                    res!(ring, UnlinkAt::new(&t.da, &pa).unlink_flags(flags))
                };
                let dirfd = if absolute {
                    libc::AT_FDCWD
                } else {
                    t.db.as_raw_fd()
                };
                // SAFETY: a NUL-terminated path.
                let rb = sys(i64::from(unsafe {
                    libc::unlinkat(dirfd, pb.as_ptr(), flags)
                }));
                let what = format!("{pa:?} flags {flags:#x}");
                assert_parity(ra, rb, pa.is_empty(), &what);
                t.assert_same(&what);
            }
        }
    }
}

/// MKDIRAT against `mkdirat(2)`: modes with the set-id and sticky bits and
/// bits above them, inside a set-group-id directory, through a dangling
/// symlink (`EEXIST`), under a file (`ENOTDIR`), with trailing slashes,
/// empty and too long; the same mode on what is made.
#[test]
fn mkdirat_matches_mkdirat() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<MkdirAt<'static>>(&ring) {
        return;
    }
    let setup = |p: &Path| {
        layout(p);
        std::fs::create_dir(p.join("sgid")).unwrap();
        std::fs::set_permissions(p.join("sgid"), std::fs::Permissions::from_mode(0o2775)).unwrap();
    };
    let too_long = long_name(256);
    let names: [&CStr; 9] = [
        c"new",
        c"new//",
        c"sgid/new",
        c"dangling",
        c"file/new",
        c"missing/new",
        c"dir",
        c"",
        &too_long,
    ];
    for name in names {
        for mode in [
            0o777u32,
            0o7777,
            0o1700,
            0o4755,
            0o2000,
            0o17_0755,
            u32::MAX,
            0,
        ] {
            let t = Twins::new(setup);
            let ra = res!(ring, MkdirAt::new(&t.da, name).mode(mode));
            // SAFETY: a NUL-terminated path.
            let rb = sys(i64::from(unsafe {
                libc::mkdirat(t.db.as_raw_fd(), name.as_ptr(), mode)
            }));
            let what = format!("{name:?} mode {mode:#o}");
            assert_parity(ra, rb, name.is_empty(), &what);
            t.assert_same(&what);
        }
    }
}

/// SYMLINKAT and LINKAT against `symlinkat(2)` and `linkat(2)`: empty,
/// long and too-long targets, link names that exist or dangle; hard links
/// of directories (`EPERM`), of symlinks followed or not, with
/// `AT_EMPTY_PATH` naming a descriptor's own file, and with unknown flags.
#[test]
fn symlinkat_and_linkat_match_the_calls() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SymlinkAt<'static>>(&ring) || !require_op::<LinkAt<'static>>(&ring) {
        return;
    }
    let long_target = long_name(4095);
    let too_long_target = long_name(4096);
    let targets: [&CStr; 5] = [c"file", c"", c"/abs/olute", &long_target, &too_long_target];
    let links: [&CStr; 5] = [c"new", c"file", c"dangling", c"dir/", c"missing/new"];
    for target in targets {
        for link in links {
            let t = Twins::new(layout);
            let ra = res!(ring, SymlinkAt::new(&t.da, target, link));
            // SAFETY: NUL-terminated paths.
            let rb = sys(i64::from(unsafe {
                libc::symlinkat(target.as_ptr(), t.db.as_raw_fd(), link.as_ptr())
            }));
            let what = format!("symlink {link:?} -> {} bytes", target.count_bytes());
            assert_parity(ra, rb, target.is_empty() || link.is_empty(), &what);
            t.assert_same(&what);
        }
    }

    let olds: [&CStr; 6] = [c"file", c"dir", c"filelink", c"dangling", c"", c"missing"];
    let news: [&CStr; 4] = [c"new", c"file", c"dir/new", c"new/"];
    for old in olds {
        for new in news {
            for flags in [0, libc::AT_SYMLINK_FOLLOW, libc::AT_EMPTY_PATH, 0x1] {
                let t = Twins::new(layout);
                // With AT_EMPTY_PATH and an empty path, the file is the
                // descriptor's own: a file of each twin.
                let (sa, sb) = if old.is_empty() {
                    (
                        File::open(t.a.path().join("file")).unwrap(),
                        File::open(t.b.path().join("file")).unwrap(),
                    )
                } else {
                    (t.da.try_clone().unwrap(), t.db.try_clone().unwrap())
                };
                let ra = res!(
                    ring,
                    LinkAt::new(&sa, old, t.da.as_fd(), new).hardlink_flags(flags)
                );
                // SAFETY: NUL-terminated paths.
                let rb = sys(i64::from(unsafe {
                    libc::linkat(
                        sb.as_raw_fd(),
                        old.as_ptr(),
                        t.db.as_raw_fd(),
                        new.as_ptr(),
                        flags,
                    )
                }));
                let what = format!("link {old:?} -> {new:?} flags {flags:#x}");
                assert_parity(ra, rb, old.is_empty() || new.is_empty(), &what);
                t.assert_same(&what);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Extended attributes.

const XATTR_CREATE: i32 = 1;
const XATTR_REPLACE: i32 = 2;

/// `getxattr(2)` of `name` on `path` into `buf` (empty for the size).
fn sys_getxattr(path: &CStr, name: &CStr, buf: &mut [u8]) -> i32 {
    // SAFETY: NUL-terminated strings; `buf` is writable for its length.
    sys(unsafe {
        libc::getxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    } as i64)
}

/// FSETXATTR / SETXATTR / FGETXATTR / GETXATTR against their calls on
/// twin files: names empty, 255 and 256 bytes long and without a
/// namespace, values empty and past the 64 KiB limit, each flag and
/// unknown ones, reads into empty and too-small buffers, paths through
/// dangling symlinks, empty and missing paths; then the attributes left
/// on each twin.
#[test]
fn xattr_ops_match_the_calls() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FSetXattr<'static>>(&ring) {
        return;
    }
    let t = Twins::new(layout);
    let fa = std::fs::OpenOptions::new()
        .write(true)
        .open(t.a.path().join("file"))
        .unwrap();
    let fb = std::fs::OpenOptions::new()
        .write(true)
        .open(t.b.path().join("file"))
        .unwrap();
    let probe = c"user.probe";
    // SAFETY: NUL-terminated name, a 1-byte value.
    if unsafe { libc::fsetxattr(fb.as_raw_fd(), probe.as_ptr(), b"p".as_ptr().cast(), 1, 0) } != 0 {
        skip(format_args!(
            "no user xattrs here: {}",
            io::Error::last_os_error()
        ));
        return;
    }
    assert_eq!(res!(ring, FSetXattr::new(&fa, probe, b"p")), 0);

    let n255 = CString::new(format!("user.{}", "n".repeat(250))).unwrap();
    let n256 = CString::new(format!("user.{}", "n".repeat(251))).unwrap();
    let names: [&CStr; 6] = [c"user.a", c"user.b", c"", c"noprefix", &n255, &n256];
    let big = vec![7u8; 65537];
    let values: [&[u8]; 4] = [b"", b"value", &big[..65536], &big];
    for name in names {
        for value in values {
            for flags in [
                0,
                XATTR_CREATE,
                XATTR_REPLACE,
                XATTR_CREATE | XATTR_REPLACE,
                4,
            ] {
                let ra = res!(ring, FSetXattr::new(&fa, name, value).xattr_flags(flags));
                // SAFETY: NUL-terminated name; `value` is readable.
                let rb = sys(i64::from(unsafe {
                    libc::fsetxattr(
                        fb.as_raw_fd(),
                        name.as_ptr(),
                        value.as_ptr().cast(),
                        value.len(),
                        flags,
                    )
                }));
                let what = format!(
                    "fsetxattr {} bytes of name, {} of value, flags {flags}",
                    name.count_bytes(),
                    value.len()
                );
                assert_eq!(ra, rb, "{what}");
            }
        }
    }

    // The path forms, on the files and through links.
    let pa = cpath(&t.a.path().join("filelink"));
    let pb = cpath(&t.b.path().join("filelink"));
    let da = cpath(&t.a.path().join("dangling"));
    let db = cpath(&t.b.path().join("dangling"));
    let path_pairs: [(&CStr, &CStr); 3] = [(&pa, &pb), (&da, &db), (c"", c"")];
    for (path_a, path_b) in path_pairs {
        for flags in [0, XATTR_CREATE, XATTR_REPLACE] {
            let ra = res!(
                ring,
                SetXattr::new(path_a, c"user.path", b"through").xattr_flags(flags)
            );
            // SAFETY: NUL-terminated strings; static value.
            let rb = sys(i64::from(unsafe {
                libc::setxattr(
                    path_b.as_ptr(),
                    c"user.path".as_ptr(),
                    b"through".as_ptr().cast(),
                    7,
                    flags,
                )
            }));
            assert_eq!(ra, rb, "setxattr {path_a:?} flags {flags}");
        }
        for name in [c"user.path", c"user.a", c"user.missing", c""] {
            for size in [0usize, 3, 7, 100_000] {
                let mut va = vec![0u8; size];
                let mut vb = vec![0u8; size];
                let ra = res!(ring, GetXattr::new(path_a, name, &mut va));
                let rb = sys_getxattr(path_b, name, &mut vb);
                assert_eq!(ra, rb, "getxattr {path_a:?} {name:?} into {size}");
                assert_eq!(va, vb);
            }
        }
    }

    // What each twin holds now, read through the descriptor ops.
    for name in names.into_iter().chain([c"user.path", c"user.probe"]) {
        for size in [0usize, 5, 70_000] {
            let mut va = vec![0u8; size];
            let mut vb = vec![0u8; size];
            let ra = res!(ring, FGetXattr::new(&fa, name, &mut va));
            // SAFETY: NUL-terminated name; `vb` is writable.
            let rb = sys(unsafe {
                libc::fgetxattr(fb.as_raw_fd(), name.as_ptr(), vb.as_mut_ptr().cast(), size)
            } as i64);
            assert_eq!(
                ra,
                rb,
                "fgetxattr {} bytes of name into {size}",
                name.count_bytes()
            );
            assert_eq!(va, vb);
        }
    }
}

// ---------------------------------------------------------------------------
// Splice, Tee, Pipe.

/// Bytes waiting in a pipe, read without blocking.
fn drain(rx: &OwnedFd) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let mut p = libc::pollfd {
            fd: rx.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd, zero timeout.
        if unsafe { libc::poll(&mut p, 1, 0) } != 1 || p.revents & libc::POLLIN == 0 {
            return out;
        }
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::read(rx.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
}

/// SPLICE and TEE against `splice(2)` and `tee(2)` on twin pipes and files:
/// zero lengths, `SPLICE_F_NONBLOCK` on an empty pipe (`EAGAIN`), offsets
/// on a pipe (`ESPIPE`), offsets at, past and before the start of a file,
/// two files (`EINVAL`), a pipe into itself, tee of a file; the same
/// bytes moved. PIPE against `pipe2(2)` for each flag.
#[test]
fn splice_tee_and_pipe_match_the_calls() {
    let mut ring = Ring::new(8).unwrap();
    let data = pattern(3000, 9);
    let fa = temp_with(&data);
    let fb = temp_with(&data);

    // File into pipe, at offsets.
    for (off, len) in [
        (0u64, 100u32),
        (2990, 100),
        (3000, 10),
        (1 << 40, 10),
        (NEG, 10),
        (5, 0),
    ] {
        let (ra_rx, ra_tx) = pipe();
        let (rb_rx, rb_tx) = pipe();
        let ra = res!(ring, Splice::new(&ra_tx, &fa, len).offset_in(off));
        let mut o = off as i64;
        // SAFETY: an loff_t for the input offset, none for the pipe.
        let rb = sys(unsafe {
            libc::splice(
                fb.as_raw_fd(),
                &mut o,
                rb_tx.as_raw_fd(),
                std::ptr::null_mut(),
                len as usize,
                0,
            )
        } as i64);
        assert_eq!(ra, rb, "file at {off:#x}, {len} bytes into a pipe");
        assert_eq!(drain(&ra_rx), drain(&rb_rx));
    }

    // Pipe to pipe: empty and non-blocking, offsets on pipes, pipe into
    // itself; file to file.
    for nonblock in [true, false] {
        for (oin, oout, fill) in [
            (u64::MAX, u64::MAX, false),
            (0, u64::MAX, true),
            (u64::MAX, 0, true),
            (u64::MAX, u64::MAX, true),
        ] {
            if !fill && !nonblock {
                continue; // would block
            }
            let (a_in_rx, a_in_tx) = pipe();
            let (a_out_rx, a_out_tx) = pipe();
            let (b_in_rx, b_in_tx) = pipe();
            let (b_out_rx, b_out_tx) = pipe();
            if fill {
                for tx in [&a_in_tx, &b_in_tx] {
                    // SAFETY: 5 static bytes into a pipe we own.
                    assert_eq!(put(tx.as_fd(), b"hello"), 5);
                }
            }
            let (flags, sflags) = if nonblock {
                (SpliceFlags::NONBLOCK, libc::SPLICE_F_NONBLOCK)
            } else {
                (SpliceFlags::empty(), 0)
            };
            let ra = res!(
                ring,
                Splice::new(&a_out_tx, &a_in_rx, 64)
                    .offset_in(oin)
                    .offset_out(oout)
                    .splice_flags(flags)
            );
            let (mut oi, mut oo) = (oin as i64, oout as i64);
            // SAFETY: loff_t pointers or nulls; pipes we own.
            let rb = sys(unsafe {
                libc::splice(
                    b_in_rx.as_raw_fd(),
                    if oin == u64::MAX {
                        std::ptr::null_mut()
                    } else {
                        &mut oi
                    },
                    b_out_tx.as_raw_fd(),
                    if oout == u64::MAX {
                        std::ptr::null_mut()
                    } else {
                        &mut oo
                    },
                    64,
                    sflags,
                )
            } as i64);
            let what = format!("pipe splice in {oin:#x} out {oout:#x} nonblock {nonblock}");
            assert_eq!(ra, rb, "{what}");
            assert_eq!(drain(&a_out_rx), drain(&b_out_rx), "{what}");

            // tee, the same way, between fresh pipes (from an input that
            // is not empty: a blocking tee of an empty pipe would wait).
            for tx in [&a_in_tx, &b_in_tx] {
                // SAFETY: 5 static bytes into a pipe we own.
                assert_eq!(put(tx.as_fd(), b"again"), 5);
            }
            let (a2_rx, a2_tx) = pipe();
            let (b2_rx, b2_tx) = pipe();
            let ra = res!(ring, Tee::new(&a2_tx, &a_in_rx, 64).splice_flags(flags));
            // SAFETY: pipes we own.
            let rb = sys(
                unsafe { libc::tee(b_in_rx.as_raw_fd(), b2_tx.as_raw_fd(), 64, sflags) } as i64,
            );
            assert_eq!(ra, rb, "tee after {what}");
            assert_eq!(drain(&a2_rx), drain(&b2_rx), "tee after {what}");
            // Into itself.
            let ra = res!(ring, Tee::new(&a_in_tx, &a_in_rx, 64).splice_flags(flags));
            // SAFETY: pipes we own.
            let rb = sys(
                unsafe { libc::tee(b_in_rx.as_raw_fd(), b_in_tx.as_raw_fd(), 64, sflags) } as i64,
            );
            assert_eq!(ra, rb, "tee of a pipe into itself");
            assert_eq!(drain(&a_in_rx), drain(&b_in_rx));
        }
    }
    let ga = temp_with(b"");
    let gb = temp_with(b"");
    let ra = res!(ring, Splice::new(&ga, &fa, 10).offset_in(0).offset_out(0));
    let (mut o1, mut o2) = (0i64, 0i64);
    // SAFETY: two loff_t pointers; files we own.
    let rb = sys(
        unsafe { libc::splice(fb.as_raw_fd(), &mut o1, gb.as_raw_fd(), &mut o2, 10, 0) } as i64,
    );
    assert_eq!((ra, rb), (-libc::EINVAL, -libc::EINVAL), "file to file");
    let (_rx, tx) = pipe();
    let ra = res!(ring, Tee::new(&tx, &fa, 10));
    // SAFETY: a file and a pipe we own.
    let rb = sys(unsafe { libc::tee(fb.as_raw_fd(), tx.as_raw_fd(), 10, 0) } as i64);
    assert_eq!((ra, rb), (-libc::EINVAL, -libc::EINVAL), "tee from a file");

    // PIPE and pipe2(2).
    if !require_op::<Pipe<'static>>(&ring) {
        return;
    }
    for flags in [
        0,
        libc::O_CLOEXEC,
        libc::O_NONBLOCK,
        libc::O_DIRECT,
        libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_DIRECT,
        libc::O_APPEND,
        -1,
    ] {
        let mut a = [-1 as RawFd; 2];
        let ra = res!(ring, Pipe::new(&mut a).pipe_flags(flags));
        let mut b = [-1 as RawFd; 2];
        // SAFETY: room for two descriptors.
        let rb = sys(i64::from(unsafe { libc::pipe2(b.as_mut_ptr(), flags) }));
        assert_eq!(ra, rb, "pipe flags {flags:#o}");
        if ra == 0 {
            let a = a.map(owned);
            let b = b.map(owned);
            for i in 0..2 {
                assert_eq!(fd_flags(a[i].as_fd()), fd_flags(b[i].as_fd()), "end {i}");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Madvise.

/// A private anonymous mapping.
struct Mapping {
    ptr: *mut u8,
    len: usize,
}

impl Mapping {
    fn new(len: usize) -> Mapping {
        // SAFETY: a fresh private anonymous mapping.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED);
        // SAFETY: the mapping is `len` writable bytes.
        unsafe { std::ptr::write_bytes(ptr.cast::<u8>(), 0xAB, len) };
        Mapping {
            ptr: ptr.cast(),
            len,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        // SAFETY: the mapping is `len` readable bytes, no Rust value lives in it.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len).to_vec() }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps what `new` mapped.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// MADVISE against `madvise(2)` on twin mappings: advice that discards
/// (`MADV_DONTNEED`, `MADV_FREE`, `MADV_REMOVE` on anonymous memory), that
/// only hints, unknown advice, unaligned starts, zero and odd lengths, and
/// the bytes left. (No range runs past the mapping: the advice acts on
/// the mapped part before the call reports `ENOMEM`, and what lies beyond
/// may be another thread's memory.)
#[test]
fn madvise_matches_madvise() {
    let mut ring = Ring::new(8).unwrap();
    let page = 4096usize;
    for advice in [
        libc::MADV_NORMAL,
        libc::MADV_DONTNEED,
        libc::MADV_WILLNEED,
        libc::MADV_FREE,
        libc::MADV_REMOVE,
        libc::MADV_DONTFORK,
        libc::MADV_COLD,
        libc::MADV_PAGEOUT,
        1000,
    ] {
        for (start, len) in [
            (0usize, page as u64),
            (page, 1),
            (1, page as u64),
            (0, 0),
            (page, 3 * page as u64),
            (0, 4 * page as u64 - 1),
        ] {
            let (a, b) = (Mapping::new(4 * page), Mapping::new(4 * page));
            // SAFETY: the mappings are only ours; advice that discards acts
            // on bytes no Rust value lives in; ranges past the end are
            // refused by the kernel before acting.
            let range = unsafe { MadviseRange::new(a.ptr.add(start), len) };
            let ra = res!(ring, Madvise::new(range, advice));
            // SAFETY: as above.
            let rb = sys(i64::from(unsafe {
                libc::madvise(b.ptr.add(start).cast(), len as usize, advice)
            }));
            let what = format!("advice {advice} at +{start} for {len}");
            assert_eq!(ra, rb, "{what}");
            assert_eq!(a.bytes(), b.bytes(), "{what}");
        }
    }
}

// ---------------------------------------------------------------------------
// Sockets.

/// The SO_TYPE / SO_PROTOCOL / SO_DOMAIN of a socket.
fn sock_kind(fd: BorrowedFd<'_>) -> [i32; 3] {
    [libc::SO_TYPE, libc::SO_PROTOCOL, libc::SO_DOMAIN].map(|opt| {
        let mut v: i32 = -1;
        let mut l = size_of::<i32>() as libc::socklen_t;
        // SAFETY: an int and its length.
        let rc = unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&raw mut v).cast(),
                &mut l,
            )
        };
        assert_eq!(rc, 0);
        v
    })
}

/// SOCKET against `socket(2)`: the three families the op takes, every type
/// with and without `SOCK_CLOEXEC` / `SOCK_NONBLOCK`, matched and
/// mismatched protocols; the same result, type, protocol, family and
/// descriptor flags.
#[test]
fn socket_matches_socket() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Socket<'static>>(&ring) {
        return;
    }
    for domain in [libc::AF_INET, libc::AF_INET6, libc::AF_UNIX] {
        for ty in [
            libc::SOCK_STREAM,
            libc::SOCK_DGRAM,
            libc::SOCK_SEQPACKET,
            libc::SOCK_RAW,
        ] {
            for extra in [
                0,
                libc::SOCK_CLOEXEC,
                libc::SOCK_NONBLOCK,
                libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            ] {
                for proto in [
                    0,
                    libc::IPPROTO_TCP,
                    libc::IPPROTO_UDP,
                    libc::IPPROTO_ICMP,
                    9999,
                ] {
                    let ra = res!(ring, Socket::new(domain, ty | extra).protocol(proto));
                    // SAFETY: a plain call.
                    let rb = sys(i64::from(unsafe {
                        libc::socket(domain, ty | extra, proto)
                    }));
                    let what = format!("domain {domain} type {ty}|{extra:#x} protocol {proto}");
                    assert_eq!(ra.signum(), rb.signum(), "{what}: {ra} vs {rb}");
                    if ra < 0 {
                        assert_eq!(ra, rb, "{what}");
                    } else {
                        let (a, b) = (owned(ra), owned(rb));
                        assert_eq!(sock_kind(a.as_fd()), sock_kind(b.as_fd()), "{what}");
                        assert_eq!(fd_flags(a.as_fd()), fd_flags(b.as_fd()), "{what}");
                    }
                }
            }
        }
    }
}

fn tcp_socket() -> OwnedFd {
    uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC).unwrap()
}

fn udp_socket() -> OwnedFd {
    uring_tests::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC).unwrap()
}

/// `bind(2)` of `addr`.
fn sys_bind(fd: BorrowedFd<'_>, addr: &SockAddr) -> i32 {
    // SAFETY: the address and its length.
    sys(i64::from(unsafe {
        libc::bind(fd.as_raw_fd(), addr.as_ptr().cast(), addr.len())
    }))
}

/// `connect(2)` to `addr`.
fn sys_connect(fd: BorrowedFd<'_>, addr: &SockAddr) -> i32 {
    // SAFETY: the address and its length.
    sys(i64::from(unsafe {
        libc::connect(fd.as_raw_fd(), addr.as_ptr().cast(), addr.len())
    }))
}

/// BIND, LISTEN, CONNECT, ACCEPT and SHUTDOWN against their calls on twin
/// sockets: binding twice, to a port in use, to a foreign address, to a
/// Unix path that exists or under a missing directory, with a family the
/// socket is not; listening on a datagram socket, with negative and huge
/// backlogs; connecting to a closed port; accepting with each flag, with
/// unknown flags, on a socket not listening; each `how` of shutdown on
/// connected, unconnected and non-socket descriptors.
#[test]
fn socket_lifecycle_ops_match_the_calls() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Bind<'static>>(&ring) || !require_op::<Listen>(&ring) {
        return;
    }
    let any: SockAddr = "127.0.0.1:0"
        .parse::<std::net::SocketAddr>()
        .unwrap()
        .into();
    let foreign: SockAddr = "192.0.2.1:0"
        .parse::<std::net::SocketAddr>()
        .unwrap()
        .into();
    let v6: SockAddr = "[::1]:0".parse::<std::net::SocketAddr>().unwrap().into();

    // Bind: fresh, again, foreign, wrong family.
    let (a, b) = (tcp_socket(), tcp_socket());
    for addr in [&any, &any, &foreign, &v6] {
        let ra = res!(ring, Bind::new(&a, addr));
        let rb = sys_bind(b.as_fd(), addr);
        assert_eq!(ra, rb, "bind {addr:?}");
    }
    // A port in use.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr: SockAddr = taken.local_addr().unwrap().into();
    let (a, b) = (tcp_socket(), tcp_socket());
    let ra = res!(ring, Bind::new(&a, &taken_addr));
    assert_eq!(
        (ra, sys_bind(b.as_fd(), &taken_addr)),
        (-libc::EADDRINUSE, -libc::EADDRINUSE)
    );
    // Unix paths.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("exists"), b"").unwrap();
    for name in ["exists", "missing/sock", "fresh"] {
        let ua =
            uring_tests::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC).unwrap();
        let ub =
            uring_tests::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC).unwrap();
        let pa = SockAddr::unix(dir.path().join(name)).unwrap();
        let ra = res!(ring, Bind::new(&ua, &pa));
        if name == "fresh" {
            std::fs::remove_file(dir.path().join("fresh")).unwrap();
        }
        let rb = sys_bind(ub.as_fd(), &pa);
        assert_eq!(ra, rb, "bind unix {name}");
    }

    // Listen: datagram socket, backlogs.
    let (a, b) = (udp_socket(), udp_socket());
    let ra = res!(ring, Listen::new(&a, 5));
    // SAFETY: a plain call.
    let rb = sys(i64::from(unsafe { libc::listen(b.as_raw_fd(), 5) }));
    assert_eq!((ra, rb), (-libc::EOPNOTSUPP, -libc::EOPNOTSUPP));
    for backlog in [-1, 0, i32::MAX] {
        let (a, b) = (tcp_socket(), tcp_socket());
        let ra = res!(ring, Listen::new(&a, backlog));
        // SAFETY: a plain call.
        let rb = sys(i64::from(unsafe { libc::listen(b.as_raw_fd(), backlog) }));
        assert_eq!((ra, rb), (0, 0), "backlog {backlog}");
        // Both bound themselves to a port (autobind) and accept.
        for s in [&a, &b] {
            let port = uring_tests::local_addr(s.as_fd()).unwrap().port();
            assert_ne!(port, 0);
        }
    }

    // Connect to a closed port.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let closed: SockAddr = closed.into();
    let (a, b) = (tcp_socket(), tcp_socket());
    let ra = res!(ring, Connect::new(&a, &closed));
    assert_eq!(
        (ra, sys_connect(b.as_fd(), &closed)),
        (-libc::ECONNREFUSED, -libc::ECONNREFUSED)
    );

    // Accept, each flag set, from a listener with a queued connection.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    for flags in [
        0,
        libc::SOCK_NONBLOCK,
        libc::SOCK_CLOEXEC,
        libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        libc::O_APPEND,
    ] {
        let _c1 = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let _c2 = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let ra = res!(ring, Accept::new(&listener).accept_flags(flags));
        // SAFETY: no address wanted.
        let rb = sys(i64::from(unsafe {
            libc::accept4(
                listener.as_raw_fd(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                flags,
            )
        }));
        assert_eq!(
            ra.signum(),
            rb.signum(),
            "accept flags {flags:#x}: {ra} vs {rb}"
        );
        if ra < 0 {
            assert_eq!(ra, rb);
            // Take the queued connections away so the next round starts clean.
            for _ in 0..2 {
                drop(listener.accept().unwrap());
            }
        } else {
            let (x, y) = (owned(ra), owned(rb));
            assert_eq!(
                fd_flags(x.as_fd()),
                fd_flags(y.as_fd()),
                "accept flags {flags:#x}"
            );
        }
    }
    let (a, b) = (tcp_socket(), tcp_socket());
    let ra = res!(ring, Accept::new(&a));
    // SAFETY: no address wanted.
    let rb = sys(i64::from(unsafe {
        libc::accept4(b.as_raw_fd(), std::ptr::null_mut(), std::ptr::null_mut(), 0)
    }));
    assert_eq!(
        (ra, rb),
        (-libc::EINVAL, -libc::EINVAL),
        "accept on a socket not listening"
    );

    // Shutdown.
    if !require_op::<Shutdown>(&ring) {
        return;
    }
    let (rx, _tx) = pipe();
    for how in [libc::SHUT_RD, libc::SHUT_WR, libc::SHUT_RDWR, 3, -1] {
        let (c1, _s1) = uring_tests::tcp_pair();
        let (c2, _s2) = uring_tests::tcp_pair();
        let ra = res!(ring, Shutdown::new(&c1, how));
        // SAFETY: a plain call.
        let rb = sys(i64::from(unsafe { libc::shutdown(c2.as_raw_fd(), how) }));
        assert_eq!(ra, rb, "shutdown connected, how {how}");
        let (a, b) = (tcp_socket(), tcp_socket());
        let ra = res!(ring, Shutdown::new(&a, how));
        // SAFETY: a plain call.
        let rb = sys(i64::from(unsafe { libc::shutdown(b.as_raw_fd(), how) }));
        assert_eq!(ra, rb, "shutdown unconnected, how {how}");
        let ra = res!(ring, Shutdown::new(&rx, how));
        // SAFETY: a plain call.
        let rb = sys(i64::from(unsafe { libc::shutdown(rx.as_raw_fd(), how) }));
        assert_eq!(ra, rb, "shutdown of a pipe, how {how}");
    }
}

// ---------------------------------------------------------------------------
// EpollCtl.

/// EPOLL_CTL against `epoll_ctl(2)` on twin epoll sets: each op and an
/// unknown one, adding twice, modifying and deleting what is not there,
/// `EPOLLEXCLUSIVE` with add and modify, the set itself, a regular file
/// (`EPERM`); then the same events and data reported by `epoll_wait`.
#[test]
fn epoll_ctl_matches_epoll_ctl() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<EpollCtl<'static>>(&ring) {
        return;
    }
    // SAFETY: plain calls creating descriptors we then own.
    let (ea, eb) = unsafe {
        (
            owned(libc::epoll_create1(libc::EPOLL_CLOEXEC)),
            owned(libc::epoll_create1(libc::EPOLL_CLOEXEC)),
        )
    };
    let (rx, tx) = pipe();
    let f = temp_with(b"regular");
    // SAFETY: 1 byte into our pipe: it is readable.
    assert_eq!(put(tx.as_fd(), b"x"), 1);
    let excl = libc::EPOLLEXCLUSIVE as u32;
    let steps: [(i32, u32, u64); 9] = [
        (libc::EPOLL_CTL_MOD, libc::EPOLLIN as u32, 1),
        (libc::EPOLL_CTL_DEL, 0, 0),
        (
            libc::EPOLL_CTL_ADD,
            libc::EPOLLIN as u32,
            0xdead_beef_0000_0001,
        ),
        (libc::EPOLL_CTL_ADD, libc::EPOLLIN as u32, 2),
        (libc::EPOLL_CTL_MOD, libc::EPOLLIN as u32 | excl, 3),
        (
            libc::EPOLL_CTL_MOD,
            (libc::EPOLLIN | libc::EPOLLOUT) as u32,
            0x1234_5678_9abc,
        ),
        (99, libc::EPOLLIN as u32, 4),
        (libc::EPOLL_CTL_DEL, 0, 0),
        (libc::EPOLL_CTL_ADD, libc::EPOLLIN as u32 | excl, 5),
    ];
    for (op, events, data) in steps {
        let ev = libc::epoll_event { events, u64: data };
        let ra = res!(ring, EpollCtl::new(&ea, op, &rx, &ev));
        let mut evb = libc::epoll_event { events, u64: data };
        // SAFETY: a valid event.
        let rb = sys(i64::from(unsafe {
            libc::epoll_ctl(eb.as_raw_fd(), op, rx.as_raw_fd(), &mut evb)
        }));
        assert_eq!(ra, rb, "op {op} events {events:#x} data {data:#x}");
    }
    for (target, name) in [(ea.as_fd(), "itself"), (f.as_fd(), "a regular file")] {
        let ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: 7,
        };
        let ra = res!(ring, EpollCtl::new(&ea, libc::EPOLL_CTL_ADD, target, &ev));
        let tb = if name == "itself" {
            eb.as_raw_fd()
        } else {
            f.as_raw_fd()
        };
        let mut evb = ev;
        // SAFETY: a valid event.
        let rb = sys(i64::from(unsafe {
            libc::epoll_ctl(eb.as_raw_fd(), libc::EPOLL_CTL_ADD, tb, &mut evb)
        }));
        assert_eq!(ra, rb, "adding {name}");
    }
    // What each set reports now.
    let wait = |ep: &OwnedFd| {
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 4];
        // SAFETY: room for 4 events; no wait.
        let n = unsafe { libc::epoll_wait(ep.as_raw_fd(), evs.as_mut_ptr(), 4, 0) };
        assert!(n >= 0);
        evs[..n as usize]
            .iter()
            .map(|e| (e.events, e.u64))
            .collect::<Vec<_>>()
    };
    let (wa, wb) = (wait(&ea), wait(&eb));
    assert_eq!(wa, wb);
    assert_eq!(wa, [(libc::EPOLLIN as u32, 5)]);
}

// ---------------------------------------------------------------------------
// Futex, WaitId.

const SYS_FUTEX_WAKE: libc::c_long = 454;
const SYS_FUTEX_WAIT: libc::c_long = 455;
const FUTEX2_SIZE_U32: u32 = 2;
const FUTEX2_PRIVATE: u32 = 128;

/// FUTEX_WAIT and FUTEX_WAKE against `futex_wait(2)` / `futex_wake(2)`
/// where neither blocks: a value that differs (`EAGAIN`), values and masks
/// too wide for a 32-bit word or zero (`EINVAL`), counts of zero, one and
/// more than fit an `int`, private and shared words, no waiters.
#[test]
fn futex_ops_match_futex2_calls() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FutexWait<'static>>(&ring) {
        return;
    }
    let word = AtomicU32::new(5);
    let addr = word.as_ptr();
    for (flags, sflags) in [
        (FutexFlags::empty(), FUTEX2_SIZE_U32),
        (FutexFlags::PRIVATE, FUTEX2_SIZE_U32 | FUTEX2_PRIVATE),
    ] {
        for mask in [u64::from(u32::MAX), 1, 0, 1 << 32] {
            for value in [6u64, 0, 1 << 32, u64::MAX] {
                let ra = res!(
                    ring,
                    FutexWait::new(&word, value).mask(mask).futex_flags(flags)
                );
                // SAFETY: the word lives; no timeout, but the value differs
                // or the call is refused, so it does not block.
                let rb = sys(unsafe {
                    libc::syscall(SYS_FUTEX_WAIT, addr, value, mask, sflags, 0usize, 0)
                });
                assert_eq!(ra, rb, "wait {flags:?} mask {mask:#x} value {value:#x}");
            }
            for count in [0u64, 1, u64::from(u32::MAX), 1 << 32] {
                let ra = res!(
                    ring,
                    FutexWake::new(&word, count).mask(mask).futex_flags(flags)
                );
                // SAFETY: the word lives; a wake never blocks.
                let rb = sys(unsafe {
                    libc::syscall(SYS_FUTEX_WAKE, addr, mask, count as i64 as i32, sflags)
                });
                // The syscall takes `nr` as an int: compare only counts that fit.
                if count <= u64::from(u32::MAX) {
                    assert_eq!(ra, rb, "wake {flags:?} mask {mask:#x} count {count:#x}");
                } else {
                    assert_eq!(ra, -libc::EINVAL, "a count wider than the word");
                }
            }
        }
    }
}

/// The fields of a `siginfo_t` waitid(2) fills.
fn si_fields(si: &libc::siginfo_t) -> (i32, i32, i32, i32) {
    // SAFETY: reads of a siginfo that the kernel filled (or left zero).
    unsafe { (si.si_signo, si.si_code, si.si_pid(), si.si_status()) }
}

/// WAITID against `waitid(2)`, for the same child each time (the op and
/// the call both with `WNOWAIT`, then reaped): running with `WNOHANG`,
/// exited with a status, killed by a signal; options of none and unknown
/// bits (`EINVAL`), a process that is not a child (`ECHILD`), a pidfd.
#[test]
fn waitid_matches_waitid() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<WaitId<'static>>(&ring) {
        return;
    }
    let mut sleeper = std::process::Command::new("sleep")
        .arg("20")
        .spawn()
        .unwrap();
    let pid = sleeper.id() as libc::pid_t;
    let compare = |ring: &mut Ring, target: WaitIdTarget<'_>, id: (u32, u32), options: i32| {
        // SAFETY: all-zero bytes are a valid siginfo_t.
        let mut sa: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut sb: libc::siginfo_t = unsafe { std::mem::zeroed() };
        push_lent!(ring, WaitId::new(target, options, &mut sa)).unwrap();
        let ra = reap_one(ring).res();
        // SAFETY: `sb` is a writable siginfo_t.
        let rb = sys(i64::from(unsafe {
            libc::waitid(id.0, id.1, &mut sb, options)
        }));
        let what = format!("id {id:?} options {options:#x}");
        assert_eq!(ra, rb, "{what}");
        assert_eq!(si_fields(&sa), si_fields(&sb), "{what}");
        ra
    };
    let p = (libc::P_PID, pid as u32);
    let keep = libc::WNOWAIT;
    compare(
        &mut ring,
        WaitIdTarget::pid(pid),
        p,
        libc::WEXITED | libc::WNOHANG | keep,
    );
    compare(&mut ring, WaitIdTarget::pid(pid), p, 0);
    compare(&mut ring, WaitIdTarget::pid(pid), p, libc::WNOHANG);
    compare(
        &mut ring,
        WaitIdTarget::pid(pid),
        p,
        libc::WEXITED | 0x100 | libc::WNOHANG,
    );
    // Not a child of ours.
    compare(
        &mut ring,
        WaitIdTarget::pid(1),
        (libc::P_PID, 1),
        libc::WEXITED | libc::WNOHANG,
    );

    sleeper.kill().unwrap();
    // Wait (bounded) until it is a zombie, without reaping it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        // SAFETY: as above.
        let mut si: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: a writable siginfo_t.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as u32,
                &mut si,
                libc::WEXITED | libc::WNOHANG | keep,
            )
        };
        assert_eq!(rc, 0);
        // SAFETY: filled by the kernel.
        if unsafe { si.si_pid() } == pid {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the child did not die"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let r = compare(&mut ring, WaitIdTarget::pid(pid), p, libc::WEXITED | keep);
    assert_eq!(r, 0);
    // Through a pidfd, which both forms take.
    // SAFETY: a plain call creating a descriptor we then own.
    let pidfd = owned(sys(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) }));
    compare(
        &mut ring,
        WaitIdTarget::pidfd(pidfd.as_fd()),
        (libc::P_PIDFD, pidfd.as_raw_fd() as u32),
        libc::WEXITED | keep,
    );
    // Reaped by the op; then both see no such child.
    // SAFETY: all-zero bytes are a valid siginfo_t.
    let mut si: libc::siginfo_t = unsafe { std::mem::zeroed() };
    assert_eq!(
        res!(
            ring,
            WaitId::new(WaitIdTarget::pid(pid), libc::WEXITED, &mut si)
        ),
        0
    );
    let (_, code, got_pid, status) = si_fields(&si);
    assert_eq!(
        (code, got_pid, status),
        (libc::CLD_KILLED, pid, libc::SIGKILL)
    );
    compare(
        &mut ring,
        WaitIdTarget::pid(pid),
        p,
        libc::WEXITED | libc::WNOHANG,
    );
    let _ = sleeper.try_wait();

    // An exit status.
    let child = std::process::Command::new("sh")
        .args(["-c", "exit 7"])
        .spawn()
        .unwrap();
    let cpid = child.id() as libc::pid_t;
    let r = compare(
        &mut ring,
        WaitIdTarget::pid(cpid),
        (libc::P_PID, cpid as u32),
        libc::WEXITED | keep,
    );
    assert_eq!(r, 0);
    // SAFETY: all-zero bytes are a valid siginfo_t.
    let mut si: libc::siginfo_t = unsafe { std::mem::zeroed() };
    assert_eq!(
        res!(
            ring,
            WaitId::new(WaitIdTarget::pid(cpid), libc::WEXITED, &mut si)
        ),
        0
    );
    assert_eq!(si_fields(&si), (libc::SIGCHLD, libc::CLD_EXITED, cpid, 7));
    drop(child);
}
