//! Files and directories over a [`Reactor`](crate::reactor::Reactor): a
//! [`File`] that reads and writes at offsets through the ring with owned
//! buffers, [`OpenOptions`] to open one, and the directory calls
//! ([`create_dir`], [`remove_file`], [`remove_dir`], [`rename`],
//! [`symlink`], [`hard_link`]).
//!
//! Each call is one of [`reactor::ops`](crate::reactor::ops) awaited on
//! the reactor: the ring opens, reads, writes, syncs and renames, and a
//! buffer comes back with the result, as with every reactor op. Positions
//! are explicit, as with `pread(2)` and `pwrite(2)`: a file has no cursor
//! here (a file opened to append writes at its end whatever the position).
//!
//! Where the ring differs from the system calls: a FIFO opened for writing
//! with no reader fails with `ENXIO` (`open(2)` would wait for one),
//! unless the open creates or truncates (`create`, `truncate`,
//! [`File::create`]: the ring then opens in a worker, which waits for a
//! reader as `open(2)` does); one opened for reading does not wait for a
//! writer (its first read does); on FIFOs and pipes positions are
//! ignored, where `pread(2)` and `pwrite(2)` fail with `ESPIPE`. A socket
//! takes position 0 alone (any other fails with `ESPIPE`).
//!
//! ```
//! use uring::fs::File;
//! use uring::reactor::Reactor;
//!
//! # fn main() -> std::io::Result<()> {
//! # let dir = std::env::temp_dir().join(format!("uring-fs-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! # let path = dir.join("hello");
//! let reactor = Reactor::new()?;
//! let h = reactor.handle();
//! let read = reactor.run_until(async move {
//!     let file = File::create(&h, &path).await?;
//!     let (n, _) = file.write_all_at(b"hello, ring".to_vec(), 0).await;
//!     n?;
//!     file.sync_all().await?;
//!     let file = File::open(&h, &path).await?;
//!     let (n, buf) = file.read_at(Vec::with_capacity(64), 7).await;
//!     n?;
//!     Ok::<_, std::io::Error>(buf)
//! })??;
//! assert_eq!(read, b"ring");
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```

use crate::reactor::ops::{
    Fallocate, Fsync, Ftruncate, LinkAt, MkdirAt, OpenAt, Read, ReadFixed, ReadV, RenameAt, Statx,
    SymlinkAt, UnlinkAt, Write, WriteFixed, WriteV,
};
use crate::reactor::{FixedIoBuf, Handle, IoBuf, IoBufMut, Op, SharedFd};
use std::ffi::CString;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A file opened on a reactor: reads and writes at offsets through its
/// ring, with owned buffers given back with each result.
///
/// The descriptor is a [`SharedFd`]: an op in flight keeps it open, so
/// dropping the file while one runs closes it only when the op ends (and
/// never, if the op's future was given to `mem::forget`: see
/// [`OpFuture`](crate::reactor::OpFuture)).
pub struct File {
    fd: SharedFd,
    handle: Handle,
}

impl File {
    /// Opens `path` for reading (`O_RDONLY`), as
    /// [`OpenOptions::new().read(true)`](OpenOptions).
    pub async fn open(handle: &Handle, path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(handle, path).await
    }

    /// Opens `path` for writing, created if missing and truncated if not
    /// (`O_WRONLY | O_CREAT | O_TRUNC`, mode `0o666` less the umask), as
    /// std's `File::create`.
    pub async fn create(handle: &Handle, path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(handle, path)
            .await
    }

    /// A file of `fd` (a `std::fs::File`, an `OwnedFd`, ...), used through
    /// `handle`'s reactor.
    pub fn from_fd(handle: &Handle, fd: impl Into<OwnedFd>) -> File {
        File {
            fd: SharedFd::new(fd),
            handle: handle.clone(),
        }
    }

    /// The descriptor, to give to the reactor's other ops.
    pub fn shared_fd(&self) -> &SharedFd {
        &self.fd
    }

    /// The reactor the file's ops run on.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Reads into `buf` from its start (up to its
    /// [`bytes_total`](IoBufMut::bytes_total)) at `pos`, like `pread(2)`;
    /// gives it back with the byte count (0 at or past the end of the
    /// file). A position past `i64::MAX` fails with `EINVAL`, as it does
    /// for `pread(2)` (the ring would take it for "the file's own
    /// position").
    pub async fn read_at<B: IoBufMut>(&self, buf: B, pos: u64) -> (io::Result<usize>, B) {
        self.at(buf, pos, Read::new).await
    }

    /// Fills all of `buf` (its [`bytes_total`](IoBufMut::bytes_total)
    /// bytes, from its start) from `pos` on, reading again past what a
    /// short read left, like std's `read_exact_at`. The end of the file
    /// before the buffer is full fails with
    /// [`UnexpectedEof`](io::ErrorKind::UnexpectedEof), the bytes read
    /// kept in the buffer from its start: a `Vec` given empty has them as
    /// its length, while one given with a length keeps it (a read never
    /// shortens a `Vec`), its bytes past those read left as they were.
    /// Positions as for [`read_at`](Self::read_at).
    pub async fn read_exact_at<B: IoBufMut>(&self, buf: B, pos: u64) -> (io::Result<()>, B) {
        crate::reactor::read_exact(buf, |rest, done| {
            // Past `u64::MAX`, the saturated position is refused as any
            // past `i64::MAX` is.
            self.read_at(rest, pos.saturating_add(done as u64))
        })
        .await
    }

    /// Reads into `bufs` in turn at `pos`, like `preadv(2)`; gives them back
    /// with the byte count. Positions as for [`read_at`](Self::read_at).
    pub async fn readv_at<B: IoBufMut>(
        &self,
        bufs: Vec<B>,
        pos: u64,
    ) -> (io::Result<usize>, Vec<B>) {
        self.at(bufs, pos, ReadV::new).await
    }

    /// Writes `buf`'s bytes ([`bytes_init`](IoBuf::bytes_init) of them) at
    /// `pos`, like `pwrite(2)`; gives it back with the byte count, which
    /// may be short. Positions as for [`read_at`](Self::read_at).
    pub async fn write_at<B: IoBuf>(&self, buf: B, pos: u64) -> (io::Result<usize>, B) {
        self.at(buf, pos, Write::new).await
    }

    /// Reads into the registered buffer `buf` (a [`FixedBuffer`] of the
    /// file's reactor, or a [`SliceMut`](crate::reactor::SliceMut) of one)
    /// at `pos`, as [`read_at`](Self::read_at) does, through the pages
    /// the kernel pinned at registration
    /// ([`ReadFixed`]). A buffer of
    /// another reactor's pool fails with `EFAULT`.
    ///
    /// [`FixedBuffer`]: crate::reactor::FixedBuffer
    pub async fn read_fixed_at<B: FixedIoBuf + IoBufMut>(
        &self,
        buf: B,
        pos: u64,
    ) -> (io::Result<usize>, B) {
        self.at(buf, pos, ReadFixed::new).await
    }

    /// Writes the registered buffer `buf`'s bytes (a [`FixedBuffer`] of
    /// the file's reactor, or a [`Slice`](crate::reactor::Slice) of one) at
    /// `pos`, as [`write_at`](Self::write_at) does, through the pages the
    /// kernel pinned at registration
    /// ([`WriteFixed`]). A buffer of
    /// another reactor's pool fails with `EFAULT`.
    ///
    /// [`FixedBuffer`]: crate::reactor::FixedBuffer
    pub async fn write_fixed_at<B: FixedIoBuf>(&self, buf: B, pos: u64) -> (io::Result<usize>, B) {
        self.at(buf, pos, WriteFixed::new).await
    }

    /// Writes all of `buf` at `pos`, writing again what a short write
    /// left at the position after it. A write of 0 bytes before the end
    /// fails with [`WriteZero`](io::ErrorKind::WriteZero). On an error,
    /// how much was written first is not reported (as with std's
    /// `write_all_at`).
    pub async fn write_all_at<B: IoBuf>(&self, buf: B, pos: u64) -> (io::Result<()>, B) {
        if buf.bytes_init() == 0 {
            return (Ok(()), buf);
        }
        crate::reactor::write_all(buf, |rest, done| {
            // Past `u64::MAX`, the saturated position is refused as any
            // past `i64::MAX` is.
            self.write_at(rest, pos.saturating_add(done as u64))
        })
        .await
    }

    /// Writes `bufs` in turn at `pos`, like `pwritev(2)`; gives them back
    /// with the byte count, which may be short. Positions as for
    /// [`read_at`](Self::read_at).
    pub async fn writev_at<B: IoBuf>(&self, bufs: Vec<B>, pos: u64) -> (io::Result<usize>, Vec<B>) {
        self.at(bufs, pos, WriteV::new).await
    }

    /// The op `make` builds over `buf` at `pos`, awaited, once `pos` is
    /// one the ring reads as a position; `buf` back with the byte count.
    async fn at<B, O>(
        &self,
        buf: B,
        pos: u64,
        make: impl FnOnce(&SharedFd, B, u64) -> O,
    ) -> (io::Result<usize>, B)
    where
        O: Op<Output = B>,
    {
        if let Err(e) = position(pos) {
            return (Err(e), buf);
        }
        let (res, buf) = self.handle.op(make(&self.fd, buf, pos)).await;
        (res.map(|n| n as usize), buf)
    }

    /// Flushes the file's data and metadata to its device, like
    /// `fsync(2)`.
    pub async fn sync_all(&self) -> io::Result<()> {
        self.handle.op(Fsync::new(&self.fd)).await.0.map(drop)
    }

    /// Flushes the file's data (and the metadata needed to read it back)
    /// to its device, like `fdatasync(2)`.
    pub async fn sync_data(&self) -> io::Result<()> {
        self.handle.op(Fsync::data(&self.fd)).await.0.map(drop)
    }

    /// Allocates `len` bytes from `offset` (`mode` 0), or punches, zeroes,
    /// collapses or inserts them (`FALLOC_FL_*` modes), like
    /// `fallocate(2)`.
    pub async fn fallocate(&self, offset: u64, len: u64, mode: i32) -> io::Result<()> {
        let op = Fallocate::new(&self.fd, offset, len).mode(mode);
        self.handle.op(op).await.0.map(drop)
    }

    /// Truncates or extends the file to `len` bytes, like `ftruncate(2)`.
    /// Through the ring from Linux 6.9 (`IORING_OP_FTRUNCATE`); an older
    /// kernel's ring refuses it with `EINVAL`.
    pub async fn set_len(&self, len: u64) -> io::Result<()> {
        self.handle
            .op(Ftruncate::new(&self.fd, len))
            .await
            .0
            .map(drop)
    }

    /// The file's status (`STATX_BASIC_STATS`), like `statx(2)` of its
    /// descriptor: `stx_size` is its length.
    pub async fn statx(&self) -> io::Result<libc::statx> {
        status(&self.handle, Statx::of(&self.fd)).await
    }

    /// Closes the file now and reports what `close(2)` said, if no op in
    /// flight holds its descriptor any more (nor any clone of
    /// [`shared_fd`](Self::shared_fd)); else the descriptor closes when
    /// the last of them lets go of it, and this returns `Ok`.
    pub fn close(self) -> io::Result<()> {
        match self.fd.try_unwrap() {
            Ok(fd) => close(fd),
            Err(_) => Ok(()),
        }
    }
}

impl AsFd for File {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File").field("fd", &self.fd).finish()
    }
}

/// How to open a [`File`], as std's `OpenOptions`: the same options, the
/// same combinations refused (with `InvalidInput`, before the ring is
/// asked), opened through the ring (`IORING_OP_OPENAT`, always with
/// `O_CLOEXEC`).
#[derive(Clone, Debug)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
    mode: u32,
    custom_flags: i32,
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

impl OpenOptions {
    /// No option set; a created file's mode `0o666` (less the umask).
    pub fn new() -> OpenOptions {
        OpenOptions {
            read: false,
            write: false,
            append: false,
            truncate: false,
            create: false,
            create_new: false,
            mode: 0o666,
            custom_flags: 0,
        }
    }

    /// Opens for reading.
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.read = read;
        self
    }

    /// Opens for writing.
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.write = write;
        self
    }

    /// Opens for writing at the end (`O_APPEND`): every write goes to the
    /// file's end, whatever its position.
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.append = append;
        self
    }

    /// Truncates the file to 0 bytes (`O_TRUNC`); needs `write`.
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.truncate = truncate;
        self
    }

    /// Creates the file if missing (`O_CREAT`); needs `write` or `append`.
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.create = create;
        self
    }

    /// Creates the file, failing with `EEXIST` if it exists
    /// (`O_CREAT | O_EXCL`); needs `write` or `append`.
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.create_new = create_new;
        self
    }

    /// The mode of a file the open creates (less the umask).
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        self.mode = mode;
        self
    }

    /// More `O_*` flags (`O_DIRECT`, `O_NOATIME`, ...); the access mode's
    /// bits are ignored (the options above set them).
    pub fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        self.custom_flags = flags;
        self
    }

    /// The `open(2)` flags of these options, or why std would refuse them.
    fn flags(&self) -> io::Result<i32> {
        let access = match (self.read, self.write, self.append) {
            (true, false, false) => libc::O_RDONLY,
            (false, true, false) => libc::O_WRONLY,
            (true, true, false) => libc::O_RDWR,
            (false, _, true) => libc::O_WRONLY | libc::O_APPEND,
            (true, _, true) => libc::O_RDWR | libc::O_APPEND,
            (false, false, false) => {
                return Err(invalid("open options ask for neither reading nor writing"));
            }
        };
        let writes = self.write || self.append;
        if !writes && (self.truncate || self.create || self.create_new) {
            return Err(invalid("open options create or truncate without writing"));
        }
        if self.append && self.truncate && !self.create_new {
            return Err(invalid("open options both append and truncate"));
        }
        let creation = match (self.create, self.truncate, self.create_new) {
            (_, _, true) => libc::O_CREAT | libc::O_EXCL,
            (true, true, false) => libc::O_CREAT | libc::O_TRUNC,
            (true, false, false) => libc::O_CREAT,
            (false, true, false) => libc::O_TRUNC,
            (false, false, false) => 0,
        };
        Ok(access | creation | (self.custom_flags & !libc::O_ACCMODE))
    }

    /// Opens `path` with these options, through `handle`'s ring.
    pub async fn open(&self, handle: &Handle, path: impl AsRef<Path>) -> io::Result<File> {
        let flags = self.flags()?;
        let path = c_path(path.as_ref())?;
        let (res, fd) = handle.op(OpenAt::new(path, flags, self.mode)).await;
        res?;
        let fd = fd.ok_or_else(|| io::Error::other("an open succeeded without a descriptor"))?;
        Ok(File::from_fd(handle, fd))
    }
}

/// Creates the directory `path` (mode `0o777`, less the umask), like
/// `mkdirat(2)`, through `handle`'s ring. (Linux 5.15.)
pub async fn create_dir(handle: &Handle, path: impl AsRef<Path>) -> io::Result<()> {
    let path = c_path(path.as_ref())?;
    handle.op(MkdirAt::new(path, 0o777)).await.0.map(drop)
}

/// Creates the directory `path` and every missing directory above it,
/// like std's `create_dir_all`, through `handle`'s ring: a directory
/// that exists already (made meanwhile by another, say) is no error, a
/// file in the way is (`EEXIST` from the kernel, as std reports it). An
/// empty path is no error either.
pub async fn create_dir_all(handle: &Handle, path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    // The directories to make, deepest first: up from `path` to the
    // first that exists (or that the kernel refuses otherwise than as
    // missing).
    let mut missing = Vec::new();
    let mut at = Some(path);
    while let Some(dir) = at.filter(|dir| !dir.as_os_str().is_empty()) {
        match create_dir(handle, dir).await {
            Ok(()) => break,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing.push(dir);
                at = dir.parent();
            }
            Err(e) => {
                if is_dir(handle, dir).await {
                    break;
                }
                return Err(e);
            }
        }
    }
    if at.is_none_or(|dir| dir.as_os_str().is_empty()) && !missing.is_empty() {
        // The top was reached and still missing: a relative path whose
        // working directory is gone, say.
        return Err(io::Error::other("failed to create the whole tree"));
    }
    for dir in missing.into_iter().rev() {
        if let Err(e) = create_dir(handle, dir).await
            && !is_dir(handle, dir).await
        {
            return Err(e);
        }
    }
    Ok(())
}

/// Whether `path` names a directory (following symbolic links).
async fn is_dir(handle: &Handle, path: &Path) -> bool {
    statx(handle, path)
        .await
        .is_ok_and(|st| u32::from(st.stx_mode) & libc::S_IFMT == libc::S_IFDIR)
}

/// The status of `path` (`STATX_BASIC_STATS`; a symbolic link is
/// followed), like `statx(2)`, through `handle`'s ring: std's `metadata`.
/// (Linux 5.6.)
pub async fn statx(handle: &Handle, path: impl AsRef<Path>) -> io::Result<libc::statx> {
    let path = c_path(path.as_ref())?;
    status(handle, Statx::new(path)).await
}

/// The status of `path` itself, a symbolic link not followed
/// (`AT_SYMLINK_NOFOLLOW`), like `statx(2)`, through `handle`'s ring:
/// std's `symlink_metadata`. (Linux 5.6.)
pub async fn symlink_statx(handle: &Handle, path: impl AsRef<Path>) -> io::Result<libc::statx> {
    let path = c_path(path.as_ref())?;
    status(handle, Statx::new(path).flags(libc::AT_SYMLINK_NOFOLLOW)).await
}

/// The `statx` the op `op` fills, through `handle`'s ring.
async fn status(handle: &Handle, op: Statx) -> io::Result<libc::statx> {
    let (res, out) = handle.op(op).await;
    res.map(|_| *out)
}

/// Removes the file `path`, like `unlinkat(2)`, through `handle`'s ring.
/// (Linux 5.11.)
pub async fn remove_file(handle: &Handle, path: impl AsRef<Path>) -> io::Result<()> {
    let path = c_path(path.as_ref())?;
    handle.op(UnlinkAt::new(path)).await.0.map(drop)
}

/// Removes the empty directory `path`, like `unlinkat(2)` with
/// `AT_REMOVEDIR`, through `handle`'s ring. (Linux 5.11.)
pub async fn remove_dir(handle: &Handle, path: impl AsRef<Path>) -> io::Result<()> {
    let path = c_path(path.as_ref())?;
    handle.op(UnlinkAt::dir(path)).await.0.map(drop)
}

/// Renames `from` to `to`, replacing `to` if it exists, like
/// `renameat2(2)` with no flags, through `handle`'s ring. (Linux 5.11.)
pub async fn rename(
    handle: &Handle,
    from: impl AsRef<Path>,
    to: impl AsRef<Path>,
) -> io::Result<()> {
    let from = c_path(from.as_ref())?;
    let to = c_path(to.as_ref())?;
    handle.op(RenameAt::new(from, to)).await.0.map(drop)
}

/// Creates `link` as a symbolic link to `target` (stored as it is, not
/// resolved), like `symlinkat(2)`, through `handle`'s ring. (Linux 5.15.)
pub async fn symlink(
    handle: &Handle,
    target: impl AsRef<Path>,
    link: impl AsRef<Path>,
) -> io::Result<()> {
    let target = c_path(target.as_ref())?;
    let link = c_path(link.as_ref())?;
    handle.op(SymlinkAt::new(target, link)).await.0.map(drop)
}

/// Creates `link` as a hard link to the file `original` (a symbolic link
/// is linked itself, not followed), like `linkat(2)`, through `handle`'s
/// ring. (Linux 5.15.)
pub async fn hard_link(
    handle: &Handle,
    original: impl AsRef<Path>,
    link: impl AsRef<Path>,
) -> io::Result<()> {
    let original = c_path(original.as_ref())?;
    let link = c_path(link.as_ref())?;
    handle.op(LinkAt::new(original, link)).await.0.map(drop)
}

/// `path` as the kernel takes it; one with a NUL byte is refused
/// (`InvalidInput`), as std refuses it.
fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| invalid("a path with a NUL byte inside"))
}

/// Refuses a position the kernel would not take as one: past `i64::MAX`,
/// which `pread(2)` refuses with `EINVAL` and the ring reads as "the
/// file's position" (-1) or refuses.
fn position(pos: u64) -> io::Result<()> {
    if pos > i64::MAX as u64 {
        return Err(invalid_position());
    }
    Ok(())
}

fn invalid_position() -> io::Error {
    io::Error::from_raw_os_error(libc::EINVAL)
}

fn invalid(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what)
}

/// Closes `fd`, reporting what `close(2)` said.
fn close(fd: OwnedFd) -> io::Result<()> {
    let raw = std::os::fd::IntoRawFd::into_raw_fd(fd);
    // SAFETY: `raw` was an `OwnedFd`'s, given up above: closed once, here.
    if unsafe { libc::close(raw) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
