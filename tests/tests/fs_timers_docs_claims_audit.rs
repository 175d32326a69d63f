//! The documentation of the event-loop layer's newest public API, claim by
//! claim: `uring::fs` (`File`, `OpenOptions`, the directory calls), the
//! reactor's timers (`Handle::sleep`, `sleep_until`, `timeout` and its
//! `TimedOut` error), `JoinHandle` / `JoinError`, and the reactor ops
//! `Ftruncate`, `SymlinkAt` and `LinkAt`. Each test names the claim it
//! checks and quotes it; where a doc claims parity with std (`std::fs`,
//! `FileExt`) or with a system call, the same thing is done both ways and
//! the results (errnos, bytes, modes, inodes) compared. Only what
//! `reactor_fs.rs`, `reactor_join.rs`, `reactor_timers.rs` and
//! `attacks_fs_join_gaps_audit.rs` leave unchecked is here.
//!
//! Files: no cursor (a shared offset left alone), positions on pipes and
//! on sockets, FIFO opens for writing with each option set, buffers filled
//! from their start and written to `bytes_init`, `write_all_at` over short
//! pipe writes, a random walk against `FileExt`, `open` / `create` against
//! std's (access mode, close-on-exec, mode, truncation), `statx` against
//! std's metadata and of the descriptor rather than the path, syncs and
//! `set_len` where the system calls fail, every `fallocate` mode against
//! `fallocate(2)`, `close` reporting `close(2)`'s error, all 128
//! `OpenOptions` cases against std's, modes and creation flags among
//! custom flags, links and `O_TMPFILE`; the directory calls against std's
//! on twin trees; the three ops' results, directories and
//! `AT_SYMLINK_FOLLOW`. Timers: when their time starts counting, what
//! queues them, `Duration::MAX`, a shut-down reactor, the timer's own
//! error, when the cut future is dropped, which wins when both are ready,
//! the timer of a won race cancelled. Join handles: every ending's
//! `is_finished` and second poll, an abort before the first poll,
//! `Handle::shutdown`, the `io::Error` conversion, `!Send` / `!Sync`.
//!
//! Read against Linux 6.18: `io_uring/timeout.c` (`io_timeout` starts its
//! hrtimer when the SQE is issued, relative unless `IORING_TIMEOUT_ABS`:
//! a timeout counts from the submission, not from when the SQE was
//! written), `io_uring/openclose.c` (`io_openat2`), `io_uring/fs.c`
//! (`io_linkat` passes `hardlink_flags` to `filename_linkat`,
//! `io_symlinkat`), `io_uring/truncate.c`, `io_uring/sync.c`
//! (`io_fallocate` calls `vfs_fallocate`, `io_fsync`), `io_uring/statx.c`,
//! `io_uring/rw.c` (`io_kiocb_ppos`: no position on a stream), `fs/open.c`
//! (`do_ftruncate`: `EINVAL` unless open for writing; `build_open_how`),
//! `io_uring/openclose.c`'s `io_openat_force_async` (`O_CREAT`, `O_TRUNC`
//! and `O_TMPFILE` opens go straight to a worker, which may block),
//! `net/socket.c` (`sock_read_iter` / `sock_write_iter`: `ESPIPE` for any
//! position but 0), `fs/namei.c`
//! (`do_linkat`, `do_renameat2`, `do_rmdir`), `fs/sync.c` (`vfs_fsync`:
//! `EINVAL` without `fsync` file op), and std's `sys/pal/unix/fs.rs`
//! (`OpenOptions::get_access_mode` / `get_creation_mode`).

use std::cell::Cell;
use std::ffi::CString;
use std::future::{Future, pending, poll_fn};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use uring::fs::{self, File, OpenOptions};
use uring::reactor::ops::{Ftruncate, LinkAt, Nop, SymlinkAt};
use uring::reactor::{JoinError, JoinHandle, Reactor};
use uring_tests::reactor::in_temp_dir;
use uring_tests::{cpath, pattern, poll_once, skip, watchdog};

/// The errno of a failed result (`None` for an error without one; panics
/// on success).
fn errno<T: std::fmt::Debug>(r: io::Result<T>) -> Option<i32> {
    r.unwrap_err().raw_os_error()
}

/// A result reduced to what two implementations must agree on: `Ok`, or
/// the errno.
fn outcome<T>(r: io::Result<T>) -> Result<(), Option<i32>> {
    r.map(drop).map_err(|e| e.raw_os_error())
}

/// The process's umask, read from `/proc/self/status` (setting it to read
/// it back would race the other tests' file creations).
fn umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("Umask:"))
        .expect("a Umask line");
    u32::from_str_radix(line["Umask:".len()..].trim(), 8).unwrap()
}

/// `fcntl(fd, cmd)`.
fn fcntl(fd: &impl AsRawFd, cmd: i32) -> i32 {
    // SAFETY: F_GETFL and F_GETFD take no argument and touch no memory.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), cmd) };
    assert!(r >= 0, "fcntl: {}", io::Error::last_os_error());
    r
}

/// The access mode and `O_APPEND` of an open descriptor.
fn access_of(fd: &impl AsRawFd) -> i32 {
    fcntl(fd, libc::F_GETFL) & (libc::O_ACCMODE | libc::O_APPEND)
}

/// Whether the descriptor is close-on-exec.
fn cloexec(fd: &impl AsRawFd) -> bool {
    fcntl(fd, libc::F_GETFD) & libc::FD_CLOEXEC != 0
}

/// Sets a flag when dropped.
struct DropFlag(Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

// ---------------------------------------------------------------------------
// uring::fs: positions
// ---------------------------------------------------------------------------

// "Positions are explicit, as with `pread(2)` and `pwrite(2)`: a file has
// no cursor here" (module `uring::fs`).
/// A `File` made from a std file that shares its open file description
/// (its offset) with a std handle seeked to 3: reads and writes at
/// positions, plain and vectored, land where asked, and the shared offset
/// stays at 3, as std's `FileExt` calls leave it.
#[test]
fn a_file_has_no_cursor_reads_and_writes_leave_the_offset_alone() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let path = dir.join("cursor");
        let mut std_file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        std_file.write_all(b"0123456789").unwrap();
        std_file.seek(SeekFrom::Start(3)).unwrap();
        let file = File::from_fd(&h, std_file.try_clone().unwrap());
        let (n, _) = file.write_at(b"AB".to_vec(), 7).await;
        assert_eq!(n.unwrap(), 2);
        let (n, got) = file.read_at(Vec::with_capacity(4), 0).await;
        assert_eq!(n.unwrap(), 4);
        assert_eq!(got, b"0123");
        let (n, _) = file.writev_at(vec![b"x".to_vec()], 12).await;
        assert_eq!(n.unwrap(), 1);
        let (n, bufs) = file.readv_at(vec![Vec::with_capacity(3)], 5).await;
        assert_eq!(n.unwrap(), 3);
        assert_eq!(bufs[0], b"56A");
        let (r, _) = file.write_all_at(b"yz".to_vec(), 0).await;
        r.unwrap();
        assert_eq!(
            std_file.stream_position().unwrap(),
            3,
            "the shared offset did not move"
        );
        let mut next = [0u8; 2];
        std_file.read_exact(&mut next).unwrap();
        assert_eq!(&next, b"34", "std reads on from its own offset");
        assert_eq!(std::fs::read(&path).unwrap(), b"yz23456AB9\0\0x");
    });
}

// "The reactor the file's ops run on" (`File::handle`); "Each call is one
// of [`reactor::ops`] awaited on the reactor" (module `uring::fs`).
/// A file made on one of two reactors: its read of an empty pipe is an op
/// in flight on that reactor (the one `handle()` gives), not on the
/// other; the bytes written later come through it.
#[test]
fn a_file_s_ops_run_on_the_reactor_of_its_handle() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let other = Reactor::new().unwrap();
    let (r, w) = uring_tests::pipe();
    let file = File::from_fd(&reactor.handle(), r);
    let mut read = Box::pin(file.read_at(Vec::with_capacity(8), 0));
    assert!(poll_once(&mut read).is_pending());
    assert_eq!(file.handle().in_flight(), 1);
    assert_eq!(reactor.in_flight(), 1);
    assert_eq!(other.in_flight(), 0);
    std::fs::File::from(w).write_all(b"ring").unwrap();
    let (n, got) = reactor.run_until(read).unwrap();
    assert_eq!(n.unwrap(), 4);
    assert_eq!(got, b"ring");
    assert_eq!(file.handle().in_flight(), 0);
}

// "on FIFOs and pipes positions are ignored, where `pread(2)` and
// `pwrite(2)` fail with `ESPIPE`. A socket takes position 0 alone (any
// other fails with `ESPIPE`)" (module `uring::fs`).
/// A Unix and a TCP socket through `File`: at position 0 reads and
/// writes work; at any other they fail with `ESPIPE`, as std's `FileExt`
/// does at every position (the kernel's `sock_read_iter` and
/// `sock_write_iter` refuse a `ki_pos` other than 0), and move no byte.
#[test]
fn a_socket_takes_position_0_alone() {
    let _watch = watchdog();
    in_temp_dir(|h, _| async move {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let std_a = std::fs::File::from(OwnedFd::from(a.try_clone().unwrap()));
        assert_eq!(errno(std_a.write_at(b"s", 1)), Some(libc::ESPIPE));
        assert_eq!(errno(std_a.read_at(&mut [0u8; 1], 1)), Some(libc::ESPIPE));
        let a = File::from_fd(&h, OwnedFd::from(a));
        let b = File::from_fd(&h, OwnedFd::from(b));
        let (client, server) = uring_tests::tcp_pair();
        let tcp_w = File::from_fd(&h, OwnedFd::from(client));
        let tcp_r = File::from_fd(&h, OwnedFd::from(server));
        for (w, r) in [(&a, &b), (&tcp_w, &tcp_r)] {
            let (n, _) = w.write_at(b"sock".to_vec(), 999).await;
            assert_eq!(n.unwrap_err().raw_os_error(), Some(libc::ESPIPE));
            let (n, _) = w.write_at(b"zero".to_vec(), 0).await;
            assert_eq!(n.unwrap(), 4, "at position 0");
            let (n, _) = r.read_at(Vec::with_capacity(8), 12345).await;
            assert_eq!(n.unwrap_err().raw_os_error(), Some(libc::ESPIPE));
            let (n, got) = r.read_at(Vec::with_capacity(8), 0).await;
            assert_eq!(n.unwrap(), 4);
            assert_eq!(got, b"zero", "the refused write moved no byte");
        }
    });
}

/// `fut`'s output if it comes within `ms` milliseconds (timed by a
/// timeout op of `h`'s ring), else `None`, `fut` left as it is.
async fn within<F: Future + Unpin>(
    h: &uring::reactor::Handle,
    fut: &mut F,
    ms: u64,
) -> Option<F::Output> {
    let mut timer = Box::pin(h.sleep(Duration::from_millis(ms)));
    poll_fn(|cx| {
        if let Poll::Ready(out) = std::pin::Pin::new(&mut *fut).poll(cx) {
            return Poll::Ready(Some(out));
        }
        timer.as_mut().poll(cx).map(|_| None)
    })
    .await
}

// "a FIFO opened for writing with no reader fails with `ENXIO`
// (`open(2)` would wait for one), unless the open creates or truncates
// (`create`, `truncate`, [`File::create`]: the ring then opens in a
// worker, which waits for a reader as `open(2)` does)" (module
// `uring::fs`).
/// A plain `write(true)` open of a FIFO without a reader fails with
/// `ENXIO` at once; opened by `File::create` (`O_CREAT | O_TRUNC`), or
/// with `truncate` or `create` among the options, it waits for a reader
/// and succeeds once one comes (a non-blocking reader is opened after
/// 300 ms to end each wait).
#[test]
fn a_fifo_opened_for_writing_without_a_reader_fails_with_enxio_unless_it_creates_or_truncates() {
    let _watch = watchdog();
    use std::os::unix::fs::OpenOptionsExt as _;
    let Some((_fifo_dir, fifo)) = uring_tests::fifo::temp_fifo() else {
        return;
    };
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let mut seen = Vec::new();
    for what in ["write", "write+truncate", "write+create", "File::create"] {
        let mut options = OpenOptions::new();
        options.write(true);
        match what {
            "write+truncate" => drop(options.truncate(true)),
            "write+create" => drop(options.create(true)),
            _ => {}
        }
        let mut open: std::pin::Pin<Box<dyn Future<Output = io::Result<File>>>> =
            if what == "File::create" {
                Box::pin(File::create(&h, &fifo))
            } else {
                Box::pin(options.open(&h, &fifo))
            };
        let first = reactor.run_until(within(&h, &mut open, 300)).unwrap();
        // A reader ends any wait (its open does not block).
        let reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        let outcome = match first {
            Some(r) => format!("{:?} at once", r.map(drop).map_err(|e| e.raw_os_error())),
            None => {
                let late = reactor.run_until(&mut open).unwrap();
                format!(
                    "waited, then {:?}",
                    late.map(drop).map_err(|e| e.raw_os_error())
                )
            }
        };
        drop(reader);
        seen.push((what, outcome));
    }
    let enxio = format!("{:?} at once", Err::<(), _>(Some(libc::ENXIO)));
    let waited = format!("waited, then {:?}", Ok::<(), Option<i32>>(()));
    let want: Vec<_> = [
        ("write", enxio),
        ("write+truncate", waited.clone()),
        ("write+create", waited.clone()),
        ("File::create", waited),
    ]
    .into_iter()
    .collect();
    assert_eq!(seen, want);
}

// "Reads into `buf` ... at `pos`, like `pread(2)`" / "Writes `buf`'s bytes
// ... at `pos`, like `pwrite(2)`" (`File::read_at`, `File::write_at`).
/// 200 random writes and reads (holes, overwrites, reads across and past
/// the end) done alike on a ring file and through std's `FileExt` on a
/// twin: every count, every byte read, and the files' final contents are
/// the same.
#[test]
fn random_writes_and_reads_at_offsets_match_std_file_ext() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let ours = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .open(&h, dir.join("ours"))
            .await
            .unwrap();
        let theirs = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.join("theirs"))
            .unwrap();
        let mut rng = uring_tests::Rng(0x5eed_f11e);
        for step in 0..200u32 {
            let pos = rng.below(40_000);
            let len = rng.below(9_000) as usize + 1;
            if rng.below(2) == 0 {
                let bytes = pattern(len, step as u8);
                let (n, _) = ours.write_at(bytes.clone(), pos).await;
                let std_n = theirs.write_at(&bytes, pos).unwrap();
                assert_eq!(n.unwrap(), std_n, "write {step} at {pos}");
            } else {
                let (n, got) = ours.read_at(Vec::with_capacity(len), pos).await;
                let mut want = vec![0u8; len];
                let std_n = theirs.read_at(&mut want, pos).unwrap();
                assert_eq!(n.unwrap(), std_n, "read {step} at {pos}");
                assert!(got[..] == want[..std_n], "read {step}: other bytes");
            }
        }
        assert!(
            std::fs::read(dir.join("ours")).unwrap() == std::fs::read(dir.join("theirs")).unwrap()
        );
    });
}

// "Reads into `buf` from its start (up to its
// [`bytes_total`](IoBufMut::bytes_total)) at `pos`" (`File::read_at`);
// "Writes `buf`'s bytes ([`bytes_init`](IoBuf::bytes_init) of them)"
// (`File::write_at`).
/// A `Vec` with 2 bytes in it and room for 10 is filled from its first
/// byte (the 2 overwritten) up to its capacity, not appended to; a boxed
/// slice is filled whole; a `Vec` of 3 bytes with room for 100 writes 3
/// bytes, and a `Slice` only its range.
#[test]
fn read_at_fills_from_the_start_up_to_bytes_total_and_write_at_sends_bytes_init() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let path = dir.join("bufs");
        std::fs::write(&path, b"0123456789abcdef").unwrap();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&h, &path)
            .await
            .unwrap();
        let mut buf = Vec::with_capacity(10);
        buf.extend_from_slice(b"zz");
        let (n, buf) = file.read_at(buf, 3).await;
        assert_eq!(n.unwrap(), 10);
        assert_eq!(buf, b"3456789abc", "filled from its start, to its capacity");
        let boxed: Box<[u8]> = vec![b'-'; 6].into_boxed_slice();
        let (n, boxed) = file.read_at(boxed, 12).await;
        assert_eq!(n.unwrap(), 4, "4 bytes left in the file");
        assert_eq!(&boxed[..], b"cdef--");

        let mut three = Vec::with_capacity(100);
        three.extend_from_slice(b"XYZ");
        let (n, _) = file.write_at(three, 16).await;
        assert_eq!(n.unwrap(), 3);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 19);
        use uring::reactor::IoBuf as _;
        let (n, _) = file.write_at(b"..ab..".to_vec().slice(2..4), 0).await;
        assert_eq!(n.unwrap(), 2);
        assert_eq!(std::fs::read(&path).unwrap(), b"ab23456789abcdefXYZ");
    });
}

// "Writes all of `buf` at `pos`, writing again what a short write left at
// the position after it" (`File::write_all_at`); "on FIFOs, pipes and
// other streams positions are ignored" (module `uring::fs`).
/// 4 MiB written whole into a pipe (64 KiB of room) while a thread reads
/// it: the pipe's writes come back short and the rest is written again,
/// so the reader gets every byte, once, in order.
#[test]
fn write_all_at_writes_again_what_a_short_write_left_on_a_pipe() {
    let _watch = watchdog();
    let (r, w) = uring_tests::pipe();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        std::fs::File::from(r).read_to_end(&mut all).unwrap();
        all
    });
    let bytes = pattern(4 << 20, 21);
    let sent = bytes.clone();
    in_temp_dir(|h, _| async move {
        let file = File::from_fd(&h, w);
        let (r, back) = file.write_all_at(sent, 1 << 20).await;
        r.unwrap();
        assert_eq!(back.len(), 4 << 20, "the buffer comes back whole");
        file.close().unwrap();
    });
    let got = reader.join().unwrap();
    assert_eq!(got.len(), bytes.len());
    assert!(got == bytes, "the bytes differ");
}

// ---------------------------------------------------------------------------
// uring::fs: File
// ---------------------------------------------------------------------------

// "Opens `path` for reading (`O_RDONLY`)" (`File::open`); "Opens `path`
// for writing, created if missing and truncated if not (`O_WRONLY |
// O_CREAT | O_TRUNC`, mode `0o666` less the umask), as std's
// `File::create`" (`File::create`); "always with `O_CLOEXEC`"
// (`OpenOptions`).
/// `File::open` gives an `O_RDONLY` descriptor; `File::create` an
/// `O_WRONLY` one, a new file with the mode std's `File::create` gives
/// (`0o666` less the umask), an existing one emptied (its mode kept, as
/// std keeps it); both close-on-exec, as std's are.
#[test]
fn open_is_o_rdonly_and_create_is_std_s_create() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let ours = dir.join("ours");
        let theirs = dir.join("theirs");
        let file = File::create(&h, &ours).await.unwrap();
        let std_file = std::fs::File::create(&theirs).unwrap();
        assert_eq!(access_of(&file), libc::O_WRONLY);
        assert_eq!(access_of(&file), access_of(&std_file));
        assert!(cloexec(&file) && cloexec(&std_file));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&ours), 0o666 & !umask());
        assert_eq!(mode(&ours), mode(&theirs));

        for p in [&ours, &theirs] {
            std::fs::write(p, b"old contents").unwrap();
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o640)).unwrap();
        }
        let file = File::create(&h, &ours).await.unwrap();
        drop(std::fs::File::create(&theirs).unwrap());
        assert_eq!(std::fs::metadata(&ours).unwrap().len(), 0, "truncated");
        assert_eq!(std::fs::metadata(&theirs).unwrap().len(), 0);
        assert_eq!(mode(&ours), 0o640, "an existing file's mode is kept");
        assert_eq!(mode(&ours), mode(&theirs));
        drop(file);

        std::fs::write(&ours, b"read me").unwrap();
        let file = File::open(&h, &ours).await.unwrap();
        let std_file = std::fs::File::open(&ours).unwrap();
        assert_eq!(access_of(&file), libc::O_RDONLY);
        assert_eq!(access_of(&file), access_of(&std_file));
        assert!(cloexec(&file));
    });
}

// "The file's status (`STATX_BASIC_STATS`), like `statx(2)` of its
// descriptor: `stx_size` is its length" (`File::statx`).
/// The basic fields match std's metadata of the same file; they are the
/// descriptor's, not the path's: after the file is renamed away and
/// another put at its path, and then unlinked, `statx` still describes
/// the open file (its inode, its length, then 0 links). A pipe's is a
/// FIFO's, the inode std's metadata of it gives.
#[test]
fn statx_is_the_descriptor_s_status_as_std_s_metadata() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let path = dir.join("st");
        std::fs::write(&path, pattern(10_000, 5)).unwrap();
        let file = File::open(&h, &path).await.unwrap();
        let st = file.statx().await.unwrap();
        let md = std::fs::metadata(&path).unwrap();
        assert_eq!(
            st.stx_mask & libc::STATX_BASIC_STATS,
            libc::STATX_BASIC_STATS
        );
        assert_eq!(st.stx_size, md.len());
        assert_eq!(st.stx_size, 10_000);
        assert_eq!(st.stx_ino, md.ino());
        assert_eq!(u64::from(st.stx_nlink), md.nlink());
        assert_eq!(u32::from(st.stx_mode), md.mode());
        assert_eq!((st.stx_uid, st.stx_gid), (md.uid(), md.gid()));
        assert_eq!(st.stx_blocks, md.blocks());
        assert_eq!(u64::from(st.stx_blksize), md.blksize());
        assert_eq!(
            (st.stx_mtime.tv_sec, i64::from(st.stx_mtime.tv_nsec)),
            (md.mtime(), md.mtime_nsec())
        );
        assert_eq!(
            (st.stx_ctime.tv_sec, i64::from(st.stx_ctime.tv_nsec)),
            (md.ctime(), md.ctime_nsec())
        );
        assert_eq!(libc::makedev(st.stx_dev_major, st.stx_dev_minor), md.dev());

        let away = dir.join("away");
        std::fs::rename(&path, &away).unwrap();
        std::fs::write(&path, b"another file").unwrap();
        let st2 = file.statx().await.unwrap();
        assert_eq!(st2.stx_ino, md.ino(), "still the open file");
        assert_ne!(st2.stx_ino, std::fs::metadata(&path).unwrap().ino());
        assert_eq!(st2.stx_size, 10_000);
        std::fs::remove_file(&away).unwrap();
        let st3 = file.statx().await.unwrap();
        assert_eq!(st3.stx_nlink, 0, "unlinked, still open");
        assert_eq!(st3.stx_ino, md.ino());

        let (r, w) = uring_tests::pipe();
        let std_r = std::fs::File::from(r.try_clone().unwrap());
        let reader = File::from_fd(&h, r);
        let st = reader.statx().await.unwrap();
        assert_eq!(u32::from(st.stx_mode) & libc::S_IFMT, libc::S_IFIFO);
        assert_eq!(st.stx_ino, std_r.metadata().unwrap().ino());
        drop(w);
    });
}

// "Flushes the file's data and metadata to its device, like `fsync(2)`"
// (`File::sync_all`); "... like `fdatasync(2)`" (`File::sync_data`);
// "Truncates or extends the file to `len` bytes, like `ftruncate(2)`"
// (`File::set_len`).
/// Where the system calls fail, these fail alike: syncs of a pipe
/// (`EINVAL`, as std's `sync_all` / `sync_data` say), `set_len` of a file
/// open for reading only and of a pipe (`EINVAL`, as std's `set_len`
/// says), the file left as it was.
#[test]
fn syncs_and_set_len_fail_where_fsync_and_ftruncate_fail() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let (r, w) = uring_tests::pipe();
        let std_w = std::fs::File::from(w.try_clone().unwrap());
        let writer = File::from_fd(&h, w);
        let std_sync = outcome(std_w.sync_all());
        assert_eq!(std_sync, Err(Some(libc::EINVAL)));
        assert_eq!(outcome(writer.sync_all().await), std_sync);
        assert_eq!(
            outcome(writer.sync_data().await),
            outcome(std_w.sync_data())
        );
        let std_len = outcome(std_w.set_len(0));
        assert_eq!(std_len, Err(Some(libc::EINVAL)));
        assert_eq!(outcome(writer.set_len(0).await), std_len);
        drop(r);

        let path = dir.join("ro");
        std::fs::write(&path, b"twelve bytes").unwrap();
        let file = File::open(&h, &path).await.unwrap();
        let std_file = std::fs::File::open(&path).unwrap();
        let std_len = outcome(std_file.set_len(2));
        assert_eq!(std_len, Err(Some(libc::EINVAL)));
        assert_eq!(outcome(file.set_len(2).await), std_len);
        assert_eq!(std::fs::read(&path).unwrap(), b"twelve bytes");
        // Syncs of a file open for reading succeed, as fsync(2)'s do.
        assert_eq!(outcome(file.sync_all().await), outcome(std_file.sync_all()));
        assert_eq!(outcome(file.sync_all().await), Ok(()));
    });
}

// "Allocates `len` bytes from `offset` (`mode` 0), or punches, zeroes,
// collapses or inserts them (`FALLOC_FL_*` modes), like `fallocate(2)`"
// (`File::fallocate`).
/// Two twin files: each mode, offset and length is applied to one through
/// the ring and to the other by `fallocate(2)`; the results (`Ok` or the
/// errno) and the files' lengths and bytes agree after every step. Where
/// the file system takes a mode (ext4 takes all five), its effect shows:
/// holes read as zeroes, collapsed bytes move down, inserted ones up.
#[test]
fn fallocate_modes_do_what_fallocate_2_does() {
    let _watch = watchdog();
    let dir = uring_tests::test_dir!();
    let dir = dir.path().to_path_buf();
    in_temp_dir(|h, _| async move {
        let a = dir.join("ring");
        let b = dir.join("syscall");
        let content = pattern(64 * 1024, 9);
        std::fs::write(&a, &content).unwrap();
        std::fs::write(&b, &content).unwrap();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&h, &a)
            .await
            .unwrap();
        let twin = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&b)
            .unwrap();
        let keep = libc::FALLOC_FL_KEEP_SIZE;
        let cases: [(&str, i32, u64, u64); 10] = [
            ("grow", 0, 65_536, 8192),
            ("punch", libc::FALLOC_FL_PUNCH_HOLE | keep, 4096, 8192),
            (
                "punch without KEEP_SIZE",
                libc::FALLOC_FL_PUNCH_HOLE,
                0,
                4096,
            ),
            ("zero", libc::FALLOC_FL_ZERO_RANGE, 100, 5000),
            (
                "zero past the end",
                libc::FALLOC_FL_ZERO_RANGE | keep,
                70_000,
                9000,
            ),
            ("collapse", libc::FALLOC_FL_COLLAPSE_RANGE, 8192, 4096),
            (
                "collapse misaligned",
                libc::FALLOC_FL_COLLAPSE_RANGE,
                100,
                4096,
            ),
            ("insert", libc::FALLOC_FL_INSERT_RANGE, 4096, 8192),
            ("offset past i64::MAX", 0, 1 << 63, 1),
            ("unknown mode bit", 0x4000_0000, 0, 4096),
        ];
        let mut applied = 0;
        for (what, mode, offset, len) in cases {
            let ours = outcome(file.fallocate(offset, len, mode).await);
            // SAFETY: fallocate(2) on a descriptor `twin` owns; no memory.
            let rc = unsafe { libc::fallocate(twin.as_raw_fd(), mode, offset as i64, len as i64) };
            let theirs = if rc == 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error().raw_os_error())
            };
            assert_eq!(ours, theirs, "{what}");
            applied += usize::from(ours.is_ok());
            let (x, y) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
            assert_eq!(x.len(), y.len(), "{what}: lengths");
            assert!(x == y, "{what}: the files' bytes differ");
            let (ma, mb) = (
                std::fs::metadata(&a).unwrap(),
                std::fs::metadata(&b).unwrap(),
            );
            // Within one file-system block: the count includes the file
            // system's own blocks for the file (ext4's extent index block,
            // needed once a file's extents no longer fit in its inode),
            // which depend on where on the disk each twin's extents landed
            // (seen on a well-used disk: 152 against 160 sectors). A step
            // taken on one side only shows in the bytes and lengths above;
            // this checks neither side holds more than that slack beyond
            // the other.
            let slack = ma.blksize() / 512;
            assert!(
                ma.blocks().abs_diff(mb.blocks()) <= slack,
                "{what}: allocated blocks {} and {} ({slack} sectors allowed)",
                ma.blocks(),
                mb.blocks()
            );
        }
        assert!(applied >= 1, "no mode took effect");
        if applied < 6 {
            skip(format_args!(
                "this file system took {applied} of the modes; compared those"
            ));
        }
    });
}

// "Closes the file now and reports what `close(2)` said" (`File::close`);
// README: "`close`s with `close(2)`'s error".
/// A `File` whose descriptor was closed behind its back (in a process of
/// its own, where no other thread can take the number meanwhile):
/// `close` reports `EBADF`, as `close(2)` does, rather than `Ok`.
#[test]
fn close_reports_what_close_2_said() {
    uring_tests::in_own_process("close_reports_what_close_2_said", "a close", || {
        let reactor = Reactor::new().unwrap();
        let (r, w) = uring_tests::pipe();
        let raw = w.as_raw_fd();
        let file = File::from_fd(&reactor.handle(), w);
        // SAFETY: closes the file's descriptor behind its back, on purpose;
        // the file never uses it again but to close it, which fails.
        assert_eq!(unsafe { libc::close(raw) }, 0);
        let e = file.close().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{e}");
        drop(r);
    });
}

// ---------------------------------------------------------------------------
// uring::fs: OpenOptions
// ---------------------------------------------------------------------------

/// The ring's options of `bits` (read, write, append, truncate, create,
/// create_new, lowest bit first).
fn ring_options(bits: u8) -> OpenOptions {
    let mut o = OpenOptions::new();
    o.read(bits & 1 != 0)
        .write(bits & 2 != 0)
        .append(bits & 4 != 0)
        .truncate(bits & 8 != 0)
        .create(bits & 16 != 0)
        .create_new(bits & 32 != 0);
    o
}

/// std's options of `bits`, as [`ring_options`].
fn std_options(bits: u8) -> std::fs::OpenOptions {
    let mut o = std::fs::OpenOptions::new();
    o.read(bits & 1 != 0)
        .write(bits & 2 != 0)
        .append(bits & 4 != 0)
        .truncate(bits & 8 != 0)
        .create(bits & 16 != 0)
        .create_new(bits & 32 != 0);
    o
}

// "How to open a [`File`], as std's `OpenOptions`: the same options, the
// same combinations refused (with `InvalidInput`, before the ring is
// asked), opened through the ring (`IORING_OP_OPENAT`, always with
// `O_CLOEXEC`)" (`OpenOptions`); "a created file's mode `0o666` (less the
// umask)" (`OpenOptions::new`).
/// All 64 combinations of the six options, over a missing file and over
/// an existing one, against std's on a twin path: refused alike
/// (`InvalidInput`, the ring's future ready at its first poll, before any
/// op), failed alike (same errno), or opened alike (same access mode and
/// `O_APPEND`, close-on-exec, the file created, kept or emptied alike,
/// with the same mode).
#[test]
fn every_option_combination_is_refused_failed_or_opened_as_std_does() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        let mut refused = 0;
        for existing in [false, true] {
            for bits in 0..64u8 {
                let ours = dir.join(format!("ours-{bits}-{existing}"));
                let theirs = dir.join(format!("std-{bits}-{existing}"));
                if existing {
                    std::fs::write(&ours, b"old").unwrap();
                    std::fs::write(&theirs, b"old").unwrap();
                }
                let what = format!("options {bits:06b} (create_new..read), existing {existing}");
                let options = ring_options(bits);
                let mut open = Box::pin(options.open(&h, &ours));
                let (ring, at_once) = match poll_once(&mut open) {
                    Poll::Ready(r) => (r, true),
                    Poll::Pending => (open.await, false),
                };
                let std_r = std_options(bits).open(&theirs);
                match (ring, std_r) {
                    (Err(e), Err(s)) => {
                        assert_eq!(e.kind(), s.kind(), "{what}: {e} / {s}");
                        if e.kind() == io::ErrorKind::InvalidInput {
                            refused += 1;
                            assert!(at_once, "{what}: refused only after the ring was asked");
                        } else {
                            assert_eq!(e.raw_os_error(), s.raw_os_error(), "{what}");
                        }
                    }
                    (Ok(f), Ok(s)) => {
                        assert_eq!(access_of(&f), access_of(&s), "{what}: access");
                        assert!(cloexec(&f), "{what}: not close-on-exec");
                    }
                    (r, s) => panic!("{what}: the ring {r:?}, std {s:?}"),
                }
                assert_eq!(ours.exists(), theirs.exists(), "{what}: created");
                if ours.exists() {
                    assert_eq!(
                        std::fs::read(&ours).unwrap(),
                        std::fs::read(&theirs).unwrap(),
                        "{what}: contents"
                    );
                    assert_eq!(mode(&ours), mode(&theirs), "{what}: mode");
                    if !existing {
                        assert_eq!(mode(&ours), 0o666 & !umask(), "{what}: mode");
                    }
                }
            }
        }
        assert!(refused > 0, "no combination was refused");
    });
}

// "Creates the file, failing with `EEXIST` if it exists (`O_CREAT |
// O_EXCL`)" (`OpenOptions::create_new`); "Creates the file if missing
// (`O_CREAT`)" (`OpenOptions::create`); "More `O_*` flags (`O_DIRECT`,
// `O_NOATIME`, ...)" (`OpenOptions::custom_flags`).
/// Over a dangling symbolic link, `create_new` fails with `EEXIST` and
/// creates nothing, and `create` creates the link's target, as std's do;
/// `O_NOFOLLOW` among the custom flags refuses a link (`ELOOP`), as std's
/// does; `O_TMPFILE` makes an unnamed file in a directory that reads back
/// what was written and leaves the directory as it was, as std's does.
#[test]
fn create_new_create_and_custom_flags_over_links_and_tmpfiles_as_std() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let (a, b) = (dir.join("a"), dir.join("b"));
        for d in [&a, &b] {
            std::fs::create_dir(d).unwrap();
            std::os::unix::fs::symlink("target", d.join("link")).unwrap();
        }
        let ring = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&h, a.join("link"))
            .await;
        let std_r = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(b.join("link"));
        assert_eq!(outcome(ring), outcome(std_r));
        assert!(!a.join("target").exists() && !b.join("target").exists());

        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .open(&h, a.join("link"))
            .await
            .unwrap();
        let std_file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(b.join("link"))
            .unwrap();
        assert!(a.join("target").is_file() && b.join("target").is_file());
        drop((file, std_file));

        let ring = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&h, a.join("link"))
            .await;
        let std_r = {
            use std::os::unix::fs::OpenOptionsExt as _;
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(b.join("link"))
        };
        assert_eq!(outcome(ring), outcome(std_r));
        assert_eq!(
            errno(std::fs::File::open(b.join("nothing"))),
            Some(libc::ENOENT)
        );

        let tmp = OpenOptions::new()
            .read(true)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_TMPFILE)
            .open(&h, &a)
            .await;
        let std_tmp = {
            use std::os::unix::fs::OpenOptionsExt as _;
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .mode(0o600)
                .custom_flags(libc::O_TMPFILE)
                .open(&b)
        };
        match (tmp, std_tmp) {
            (Ok(tmp), Ok(_)) => {
                let (n, _) = tmp.write_at(b"unnamed".to_vec(), 0).await;
                assert_eq!(n.unwrap(), 7);
                let (n, got) = tmp.read_at(Vec::with_capacity(16), 2).await;
                assert_eq!(n.unwrap(), 5);
                assert_eq!(got, b"named");
                assert_eq!(tmp.statx().await.unwrap().stx_nlink, 0);
                let mut names: Vec<_> = std::fs::read_dir(&a)
                    .unwrap()
                    .map(|e| e.unwrap().file_name())
                    .collect();
                names.sort();
                assert_eq!(names, ["link", "target"]);
            }
            (Err(e), Err(s)) => {
                assert_eq!(e.raw_os_error(), s.raw_os_error());
                skip(format_args!("O_TMPFILE: {e}"));
            }
            (r, s) => panic!("O_TMPFILE: the ring {r:?}, std {s:?}"),
        }
    });
}

// "The mode of a file the open creates (less the umask)"
// (`OpenOptions::mode`); "More `O_*` flags ...; the access mode's bits are
// ignored (the options above set them)" (`OpenOptions::custom_flags`);
// "as std's `OpenOptions`: the same options" (`OpenOptions`); "No option
// set" (`OpenOptions::new`, which `Default` gives).
/// Modes with the set-id and sticky bits, and none at all, come out as
/// std's do (less the umask); creation flags given as custom flags to an
/// open for reading (`O_TRUNC`, `O_CREAT`) act as they do through std
/// (both pass them on: the file is emptied, or created); `default()` is
/// `new()`.
#[test]
fn modes_and_creation_flags_among_custom_flags_apply_as_std_s() {
    let _watch = watchdog();
    use std::os::unix::fs::OpenOptionsExt as _;
    assert_eq!(
        format!("{:?}", OpenOptions::default()),
        format!("{:?}", OpenOptions::new())
    );
    in_temp_dir(|h, dir| async move {
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        for m in [0o7777, 0o4750, 0o1777, 0o000, 0o100_644] {
            let (a, b) = (dir.join(format!("a{m:o}")), dir.join(format!("b{m:o}")));
            let file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(m)
                .open(&h, &a)
                .await
                .unwrap();
            let std_file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(m)
                .open(&b)
                .unwrap();
            assert_eq!(mode(&a), mode(&b), "mode {m:o}");
            assert_eq!(mode(&a), m & 0o7777 & !umask(), "mode {m:o}");
            drop((file, std_file));
        }

        let (a, b) = (dir.join("trunc-a"), dir.join("trunc-b"));
        std::fs::write(&a, b"contents").unwrap();
        std::fs::write(&b, b"contents").unwrap();
        let ours = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_TRUNC)
            .open(&h, &a)
            .await;
        let theirs = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_TRUNC)
            .open(&b);
        assert_eq!(outcome(ours), outcome(theirs));
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());

        let (a, b) = (dir.join("creat-a"), dir.join("creat-b"));
        let ours = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_CREAT)
            .open(&h, &a)
            .await;
        let theirs = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_CREAT)
            .open(&b);
        assert_eq!(outcome(ours), outcome(theirs));
        assert_eq!(a.exists(), b.exists());
        if a.exists() {
            assert_eq!(mode(&a), mode(&b));
        }
    });
}

// ---------------------------------------------------------------------------
// uring::fs: the directory calls
// ---------------------------------------------------------------------------

// "Creates the directory `path` (mode `0o777`, less the umask), like
// `mkdirat(2)`" (`fs::create_dir`).
/// The directory's mode is `0o777` less the umask, what std's
/// `create_dir` gives; under a missing parent or a file both fail with
/// the same errno.
#[test]
fn create_dir_mode_is_0o777_less_the_umask_as_std() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        fs::create_dir(&h, dir.join("ours")).await.unwrap();
        std::fs::create_dir(dir.join("std")).unwrap();
        assert_eq!(mode(&dir.join("ours")), 0o777 & !umask());
        assert_eq!(mode(&dir.join("ours")), mode(&dir.join("std")));
        std::fs::write(dir.join("file"), b"f").unwrap();
        for bad in ["missing/sub", "file/sub"] {
            let ours = outcome(fs::create_dir(&h, dir.join(bad)).await);
            let theirs = outcome(std::fs::create_dir(dir.join(bad)));
            assert_eq!(ours, theirs, "{bad}");
            assert!(ours.is_err());
        }
    });
}

/// One directory call, made on one of two twin trees.
#[derive(Clone, Copy, Debug)]
enum Call {
    RemoveFile(&'static str),
    RemoveDir(&'static str),
    Rename(&'static str, &'static str),
    HardLink(&'static str, &'static str),
    Symlink(&'static str, &'static str),
    CreateDir(&'static str),
}

/// The tree both sides start from: a file, an empty and a full directory,
/// links to a file and to a directory.
fn twin_tree(root: &Path) {
    std::fs::create_dir(root).unwrap();
    std::fs::write(root.join("file"), b"file").unwrap();
    std::fs::create_dir(root.join("empty")).unwrap();
    std::fs::create_dir(root.join("empty2")).unwrap();
    std::fs::create_dir(root.join("full")).unwrap();
    std::fs::write(root.join("full/x"), b"x").unwrap();
    std::os::unix::fs::symlink("file", root.join("to_file")).unwrap();
    std::os::unix::fs::symlink("empty", root.join("to_dir")).unwrap();
}

/// What a tree holds: each path under it with its kind (and a link's
/// target, a file's bytes).
fn tree_of(root: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let md = std::fs::symlink_metadata(&p).unwrap();
            let kind = if md.file_type().is_symlink() {
                format!("link to {:?}", std::fs::read_link(&p).unwrap())
            } else if md.is_dir() {
                stack.push(p.clone());
                "dir".to_owned()
            } else {
                format!("file {:?}", std::fs::read(&p).unwrap())
            };
            out.push((p.strip_prefix(root).unwrap().to_path_buf(), kind));
        }
    }
    out.sort();
    out
}

// "Removes the file `path`, like `unlinkat(2)`" (`fs::remove_file`);
// "Removes the empty directory `path`, like `unlinkat(2)` with
// `AT_REMOVEDIR`" (`fs::remove_dir`); "Renames `from` to `to`, replacing
// `to` if it exists, like `renameat2(2)` with no flags" (`fs::rename`);
// "Creates `link` as a hard link to the file `original`" (`fs::hard_link`);
// "like `symlinkat(2)`" (`fs::symlink`); "like `mkdirat(2)`"
// (`fs::create_dir`).
/// The same calls on two twin trees, through the ring and through std:
/// each gives the same result (`Ok` or the errno) — a link removed rather
/// than its target, `remove_dir` of a file or of a link to a directory
/// (`ENOTDIR`), a directory renamed over an empty one (replaced) and over
/// a full one, a file over a directory (`EISDIR`), a directory over a
/// file (`ENOTDIR`) or into itself (`EINVAL`), a rename onto itself, a
/// hard link of a directory (`EPERM`), an empty symlink target
/// (`ENOENT`), a directory over a link — and the trees end the same.
#[test]
fn directory_calls_succeed_and_fail_as_std_s_on_twin_trees() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let (a, b) = (dir.join("a"), dir.join("b"));
        twin_tree(&a);
        twin_tree(&b);
        let calls = [
            Call::RemoveFile("to_file"),
            Call::RemoveDir("file"),
            Call::RemoveDir("to_dir"),
            Call::RemoveFile("empty"),
            Call::Rename("empty", "empty2"),
            Call::Rename("file", "full"),
            Call::Rename("full", "file"),
            Call::Rename("empty2", "full"),
            Call::Rename("full", "full/inside"),
            Call::Rename("file", "file"),
            Call::HardLink("full", "hard_dir"),
            Call::HardLink("to_dir", "hard_link_of_link"),
            Call::Symlink("", "empty_target"),
            Call::CreateDir("to_dir"),
            Call::CreateDir("file/sub"),
            Call::RemoveDir("full"),
        ];
        for call in calls {
            let ours = match call {
                Call::RemoveFile(p) => fs::remove_file(&h, a.join(p)).await,
                Call::RemoveDir(p) => fs::remove_dir(&h, a.join(p)).await,
                Call::Rename(x, y) => fs::rename(&h, a.join(x), a.join(y)).await,
                Call::HardLink(x, y) => fs::hard_link(&h, a.join(x), a.join(y)).await,
                Call::Symlink(t, l) => fs::symlink(&h, t, a.join(l)).await,
                Call::CreateDir(p) => fs::create_dir(&h, a.join(p)).await,
            };
            let theirs = match call {
                Call::RemoveFile(p) => std::fs::remove_file(b.join(p)),
                Call::RemoveDir(p) => std::fs::remove_dir(b.join(p)),
                Call::Rename(x, y) => std::fs::rename(b.join(x), b.join(y)),
                Call::HardLink(x, y) => std::fs::hard_link(b.join(x), b.join(y)),
                Call::Symlink(t, l) => std::os::unix::fs::symlink(t, b.join(l)),
                Call::CreateDir(p) => std::fs::create_dir(b.join(p)),
            };
            assert_eq!(outcome(ours), outcome(theirs), "{call:?}");
            assert_eq!(tree_of(&a), tree_of(&b), "after {call:?}");
        }
        // What the calls did, as the docs and the system calls say.
        let tree = tree_of(&a);
        let has = |p: &str| tree.iter().any(|(q, _)| q == Path::new(p));
        assert!(
            has("file") && !has("to_file"),
            "the link went, not its file"
        );
        assert!(has("empty2") && !has("empty"), "renamed over the empty one");
        assert!(has("full/x"), "a full directory is not removed");
        assert!(!has("hard_dir"), "no hard link of a directory");
        assert!(has("hard_link_of_link"), "a link linked itself");
    });
}

// ---------------------------------------------------------------------------
// The reactor ops Ftruncate, SymlinkAt, LinkAt
// ---------------------------------------------------------------------------

// "Truncates or extends a file to `len` bytes, like `ftruncate(2)`;
// completes with 0" (`Ftruncate`); "Creates `link` as a symbolic link to
// `target` ... like `symlinkat(2)`; completes with 0. (`target` is stored
// as it is, not resolved.)" (`SymlinkAt`); "Creates `to` as a hard link to
// the file `from` ... like `linkat(2)`; completes with 0" (`LinkAt`).
/// Each op's result is 0; the truncation cuts and then extends with
/// zeroes, and refuses a descriptor open for reading only (`EINVAL`, as
/// `ftruncate(2)` does); the symbolic link holds its target's text
/// (`..//x/../y`, unresolved); the hard link names the same inode.
#[test]
fn ftruncate_symlinkat_and_linkat_complete_with_0() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let path = dir.join("t");
        std::fs::write(&path, b"abcdef").unwrap();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&h, &path)
            .await
            .unwrap();
        let (r, ()) = h.op(Ftruncate::new(file.shared_fd(), 3)).await;
        assert_eq!(r.unwrap(), 0);
        assert_eq!(std::fs::read(&path).unwrap(), b"abc");
        let (r, ()) = h.op(Ftruncate::new(file.shared_fd(), 7)).await;
        assert_eq!(r.unwrap(), 0);
        assert_eq!(std::fs::read(&path).unwrap(), b"abc\0\0\0\0");
        let ro = File::open(&h, &path).await.unwrap();
        let (r, ()) = h.op(Ftruncate::new(ro.shared_fd(), 0)).await;
        assert_eq!(errno(r), Some(libc::EINVAL));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 7);

        let link = dir.join("sym");
        let (r, ()) = h
            .op(SymlinkAt::new(
                CString::new("..//x/../y").unwrap(),
                cpath(&link),
            ))
            .await;
        assert_eq!(r.unwrap(), 0);
        assert_eq!(std::fs::read_link(&link).unwrap().as_os_str(), "..//x/../y");

        let hard = dir.join("hard");
        let (r, ()) = h.op(LinkAt::new(cpath(&path), cpath(&hard))).await;
        assert_eq!(r.unwrap(), 0);
        assert_eq!(
            std::fs::metadata(&hard).unwrap().ino(),
            std::fs::metadata(&path).unwrap().ino()
        );
        assert_eq!(std::fs::metadata(&path).unwrap().nlink(), 2);
    });
}

// "`link` relative to the directory `dir`" (`SymlinkAt::in_dir`); "`from`
// relative to the directory `dir`" / "`to` relative to the directory
// `dir`" (`LinkAt::from_dir`, `LinkAt::to_dir`).
/// Relative paths go under the directories given (opened as `File`s), not
/// under the working directory; an absolute path ignores its directory,
/// as with `linkat(2)`.
#[test]
fn symlinkat_and_linkat_paths_are_relative_to_their_directories() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let (d1, d2) = (dir.join("d1"), dir.join("d2"));
        std::fs::create_dir(&d1).unwrap();
        std::fs::create_dir(&d2).unwrap();
        std::fs::write(d1.join("file"), b"in d1").unwrap();
        let f1 = File::open(&h, &d1).await.unwrap();
        let f2 = File::open(&h, &d2).await.unwrap();
        let name = "uring-doc-claims-rel-link";
        let (r, ()) = h
            .op(
                SymlinkAt::new(CString::new("file").unwrap(), CString::new(name).unwrap())
                    .in_dir(f1.shared_fd()),
            )
            .await;
        assert_eq!(r.unwrap(), 0);
        assert_eq!(
            std::fs::read_link(d1.join(name)).unwrap(),
            Path::new("file")
        );
        assert_eq!(std::fs::read(d1.join(name)).unwrap(), b"in d1");
        assert!(
            std::fs::symlink_metadata(name).is_err(),
            "nothing made in the working directory"
        );

        let op = LinkAt::new(CString::new("file").unwrap(), CString::new("hard").unwrap())
            .from_dir(f1.shared_fd())
            .to_dir(f2.shared_fd());
        let (r, ()) = h.op(op).await;
        assert_eq!(r.unwrap(), 0);
        assert_eq!(
            std::fs::metadata(d2.join("hard")).unwrap().ino(),
            std::fs::metadata(d1.join("file")).unwrap().ino()
        );
        // `from` relative to `to_dir`'s directory would not exist: only
        // `from_dir` names where `from` is.
        let op = LinkAt::new(
            CString::new("file").unwrap(),
            CString::new("again").unwrap(),
        )
        .to_dir(f2.shared_fd());
        let (r, ()) = h.op(op).await;
        assert_eq!(
            errno(r),
            Some(libc::ENOENT),
            "`file` looked up in the working directory"
        );
        // An absolute `from` ignores `from_dir`.
        let op = LinkAt::new(cpath(&d1.join("file")), CString::new("abs").unwrap())
            .from_dir(f2.shared_fd())
            .to_dir(f2.shared_fd());
        let (r, ()) = h.op(op).await;
        assert_eq!(r.unwrap(), 0);
        assert_eq!(std::fs::read(d2.join("abs")).unwrap(), b"in d1");
    });
}

// "`AT_SYMLINK_FOLLOW`: a symbolic link `from` is followed"
// (`LinkAt::flags`); "(a symbolic link `from` is linked itself, not
// followed)" (`LinkAt::new`).
/// With `AT_SYMLINK_FOLLOW`, the link made of a symbolic link is a second
/// name of its target (a regular file, the target's inode); of a dangling
/// one, `ENOENT`, where without the flag the dangling link is linked
/// itself (as std's `hard_link` does). Followed through
/// `/proc/self/fd/N`, it gives an `O_TMPFILE` file a name.
#[test]
fn linkat_at_symlink_follow_links_the_target() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        std::fs::write(dir.join("file"), b"target bytes").unwrap();
        std::os::unix::fs::symlink("file", dir.join("soft")).unwrap();
        std::os::unix::fs::symlink("nowhere", dir.join("dangling")).unwrap();
        let p = |n: &str| cpath(&dir.join(n));
        let (r, ()) = h
            .op(LinkAt::new(p("soft"), p("followed")).flags(libc::AT_SYMLINK_FOLLOW))
            .await;
        assert_eq!(r.unwrap(), 0);
        let md = std::fs::symlink_metadata(dir.join("followed")).unwrap();
        assert!(md.file_type().is_file(), "a name of the target itself");
        assert_eq!(md.ino(), std::fs::metadata(dir.join("file")).unwrap().ino());
        assert_eq!(md.nlink(), 2);

        let (r, ()) = h
            .op(LinkAt::new(p("dangling"), p("d1")).flags(libc::AT_SYMLINK_FOLLOW))
            .await;
        assert_eq!(errno(r), Some(libc::ENOENT));
        let (r, ()) = h.op(LinkAt::new(p("dangling"), p("d2"))).await;
        assert_eq!(r.unwrap(), 0);
        std::fs::hard_link(dir.join("dangling"), dir.join("d3")).unwrap();
        for d in ["d2", "d3"] {
            let md = std::fs::symlink_metadata(dir.join(d)).unwrap();
            assert!(md.file_type().is_symlink(), "{d}");
        }

        let tmp = OpenOptions::new()
            .read(true)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_TMPFILE)
            .open(&h, &dir)
            .await;
        let tmp = match tmp {
            Ok(tmp) => tmp,
            Err(e) => {
                skip(format_args!("O_TMPFILE: {e}"));
                return;
            }
        };
        let (r, _) = tmp.write_all_at(b"was anonymous".to_vec(), 0).await;
        r.unwrap();
        let proc_path = CString::new(format!("/proc/self/fd/{}", tmp.as_raw_fd())).unwrap();
        let (r, ()) = h
            .op(LinkAt::new(proc_path, p("named")).flags(libc::AT_SYMLINK_FOLLOW))
            .await;
        assert_eq!(r.unwrap(), 0);
        assert_eq!(std::fs::read(dir.join("named")).unwrap(), b"was anonymous");
        assert_eq!(tmp.statx().await.unwrap().stx_nlink, 1);
    });
}

// ---------------------------------------------------------------------------
// Timers
// ---------------------------------------------------------------------------

// "A future that resolves once `duration` has passed, timed by the ring
// (an [`ops::Timeout`], 5.4, queued by this call: the time counts from
// it)" (`Handle::sleep`).
/// A sleep of 2 s made, then 2.5 s of the thread's own work before the
/// reactor runs: the 2 s counted from the call have passed, so the sleep
/// resolves at once when awaited. (It took 2 s more while the sleep was
/// a relative timeout, which the kernel counts from the submission.)
#[test]
fn a_sleep_counts_its_time_from_the_call() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let sleep = reactor.sleep(Duration::from_secs(2));
    assert_eq!(reactor.in_flight(), 1, "queued by the call");
    std::thread::sleep(Duration::from_millis(2500));
    let awaited = Instant::now();
    reactor.run_until(sleep).unwrap().unwrap();
    let late = awaited.elapsed();
    assert!(
        late < Duration::from_secs(1),
        "a 2 s sleep made 2.5 s before it was awaited took {late:?} more"
    );
}

// "timed by the ring (an [`ops::Timeout`], 5.4, queued by this call"
// (`Handle::sleep`); README: "`sleep`, `sleep_until` and
// `timeout(duration, future)` time futures with the ring's own timeout
// op".
/// The call itself queues the ring's timeout (one op in flight before any
/// poll, none once dropped); submitted at once (`Handle::submit`), its
/// time does count from the call: 1.3 s of the thread's own work after a
/// 1 s sleep's call, it resolves without waiting again (and so it does
/// without the submit: see `a_sleep_counts_its_time_from_the_call`).
#[test]
fn a_sleep_is_queued_by_the_call_and_counts_from_it_when_submitted_at_once() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let sleep = reactor.sleep(Duration::from_secs(1));
    assert_eq!(reactor.in_flight(), 1, "queued by the call, unpolled");
    drop(sleep);
    uring_tests::run_for(&reactor, 5);
    assert_eq!(reactor.in_flight(), 0);

    let sleep = reactor.sleep(Duration::from_secs(1));
    let bounded = reactor.timeout(Duration::from_secs(1), pending::<()>());
    assert_eq!(reactor.in_flight(), 2);
    reactor.submit().unwrap();
    std::thread::sleep(Duration::from_millis(1300));
    let awaited = Instant::now();
    reactor.run_until(sleep).unwrap().unwrap();
    let e = reactor.run_until(bounded).unwrap().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    let late = awaited.elapsed();
    assert!(late < Duration::from_millis(700), "{late:?}");
}

// "[`sleep`](Handle::sleep) until `deadline` (at once for one passed):
// the time left is read when this is called" (`Handle::sleep_until`).
/// A sleep until 2 s from now, made before 2.5 s of the thread's own
/// work: the deadline has passed when it is awaited, so it resolves at
/// once. (It slept the 2 s again, from the submission, while it was a
/// relative timeout.)
#[test]
fn sleep_until_ends_at_its_deadline() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    let sleep = reactor.sleep_until(deadline);
    std::thread::sleep(Duration::from_millis(2500));
    reactor.run_until(sleep).unwrap().unwrap();
    let past = Instant::now().saturating_duration_since(deadline);
    assert!(
        past < Duration::from_millis(1500),
        "resolved {past:?} past its deadline (0.5 s of it the thread's own work)"
    );
}

// "`future`, bounded by `duration` (counted from this call): its output,
// or a [`TimedOut`](io::ErrorKind::TimedOut) error once `duration` has
// passed first" (`Handle::timeout`).
/// A 2 s timeout over a future that never ends, made before 2.5 s of the
/// thread's own work: awaited, it says `TimedOut` at once. (It waited
/// 2 s more while its sleep was a relative timeout.)
#[test]
fn timeout_counts_its_duration_from_the_call() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let bounded = reactor.timeout(Duration::from_secs(2), pending::<()>());
    std::thread::sleep(Duration::from_millis(2500));
    let awaited = Instant::now();
    let e = reactor.run_until(bounded).unwrap().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    let late = awaited.elapsed();
    assert!(
        late < Duration::from_secs(1),
        "a 2 s timeout made 2.5 s before it was awaited took {late:?} more"
    );
}

// "A future that resolves once `duration` has passed" (`Handle::sleep`);
// "its output, or a `TimedOut` error once `duration` has passed first"
// (`Handle::timeout`).
/// `Duration::MAX` is a duration that never passes: such a sleep stays
/// pending (no error, no early `Ok`), its timeout in flight; a timeout of
/// `Duration::MAX` gives its future's output; the sleep, dropped, is
/// cancelled.
#[test]
fn a_sleep_of_duration_max_never_ends_and_a_timeout_of_it_gives_the_output() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let mut forever = Box::pin(reactor.sleep(Duration::MAX));
    assert!(poll_once(&mut forever).is_pending());
    let out = reactor
        .run_until(reactor.timeout(Duration::MAX, async move {
            h.sleep(Duration::from_millis(30)).await.unwrap();
            "the future's output"
        }))
        .unwrap()
        .unwrap();
    assert_eq!(out, "the future's output");
    uring_tests::run_for(&reactor, 30);
    assert!(poll_once(&mut forever).is_pending(), "Duration::MAX passed");
    assert_eq!(reactor.in_flight(), 1);
    drop(forever);
    uring_tests::run_for(&reactor, 5);
    assert_eq!(reactor.in_flight(), 0);
}

// "`Ok(())`, or the error that failed the timeout" (`Handle::sleep`);
// "`future` is polled first, so one ready at once wins even with a
// duration of 0. An error of the timer itself (the reactor's shutdown)
// ends it too" (`Handle::timeout`).
/// On a reactor that has shut down, a sleep that cannot be timed resolves
/// at once with an error, never `Ok`; a timeout over a ready future still
/// gives its output (polled first), and over a pending one the timer's
/// error (not `TimedOut`, since no time passed).
#[test]
fn on_a_shut_down_reactor_a_sleep_fails_and_a_timeout_gives_the_timer_s_error() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    reactor.shutdown();
    let h = reactor.handle();
    match poll_once(&mut Box::pin(h.sleep(Duration::from_secs(1)))) {
        Poll::Ready(Err(_)) => {}
        other => panic!("a sleep on a shut-down reactor: {other:?}"),
    }
    match poll_once(&mut Box::pin(
        h.timeout(Duration::from_secs(1), async { 7 }),
    )) {
        Poll::Ready(Ok(7)) => {}
        other => panic!("{other:?}"),
    }
    match poll_once(&mut Box::pin(
        h.timeout(Duration::from_secs(1), pending::<()>()),
    )) {
        Poll::Ready(Err(e)) => assert_ne!(e.kind(), io::ErrorKind::TimedOut, "{e}"),
        other => panic!("{other:?}"),
    }
}

// "An error of the timer itself (the reactor's shutdown) ends it too"
// (`Handle::timeout`).
/// A timeout over a future that never ends, its timer in the kernel, when
/// the reactor shuts down: it ends with the timer's `ECANCELED`, not
/// `TimedOut`, and the future is dropped.
#[test]
fn a_shutdown_ends_a_timeout_with_the_timer_s_ecanceled() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let dropped = Rc::new(Cell::new(false));
    let flag = DropFlag(Rc::clone(&dropped));
    let mut bounded = Box::pin(reactor.timeout(Duration::from_secs(60), async move {
        let _flag = flag;
        pending::<()>().await
    }));
    assert!(poll_once(&mut bounded).is_pending());
    uring_tests::run_for(&reactor, 5);
    assert_eq!(reactor.in_flight(), 1, "the timer waits in the kernel");
    reactor.shutdown();
    match poll_once(&mut bounded) {
        Poll::Ready(Err(e)) => {
            assert_eq!(e.raw_os_error(), Some(libc::ECANCELED), "{e}");
            assert_ne!(e.kind(), io::ErrorKind::TimedOut);
        }
        other => panic!("{other:?}"),
    }
    assert!(dropped.get(), "the future was dropped as the timeout ended");
}

// "Dropping it cancels the timeout" (`Handle::sleep`), for the sleep that
// bounds a `timeout` whose future won.
/// A 60 s timeout over a future that finishes at once leaves no timer
/// behind: nothing is in flight after it, and `run` (which runs until no
/// op is left) returns at once rather than after a minute.
#[test]
fn a_timeout_whose_future_won_cancels_its_timer() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let out = reactor
        .run_until(reactor.timeout(Duration::from_secs(60), async move {
            let (r, ()) = h.op(Nop).await;
            r.unwrap() + 1
        }))
        .unwrap()
        .unwrap();
    assert_eq!(out, 1);
    let start = Instant::now();
    reactor.run().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(reactor.in_flight(), 0);
}

// "or a `TimedOut` error once `duration` has passed first, `future` then
// dropped" (`Handle::timeout`).
/// The future is dropped when the timeout resolves `TimedOut`, while the
/// timeout's own future is still held (not only when that goes).
#[test]
fn timeout_drops_the_future_as_it_times_out() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let dropped = Rc::new(Cell::new(false));
    let flag = DropFlag(Rc::clone(&dropped));
    let mut bounded = Box::pin(reactor.timeout(Duration::from_millis(20), async move {
        let _flag = flag;
        pending::<()>().await
    }));
    let (res, at_once) = reactor
        .run_until(poll_fn(|cx| {
            bounded.as_mut().poll(cx).map(|r| (r, dropped.get()))
        }))
        .unwrap();
    assert_eq!(res.unwrap_err().kind(), io::ErrorKind::TimedOut);
    assert!(at_once, "the future outlived the TimedOut it was cut by");
    drop(bounded);
}

// "`future` is polled first, so one ready at once wins even with a
// duration of 0" (`Handle::timeout`).
/// Past the first poll too: a future that became ready while the timer
/// also completed (both done when the timeout is next polled) wins.
#[test]
fn timeout_prefers_the_future_when_both_are_ready_at_a_poll() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let ready = Rc::new(Cell::new(false));
    let r = Rc::clone(&ready);
    let mut bounded = Box::pin(reactor.timeout(
        Duration::from_millis(10),
        poll_fn(move |_| {
            if r.get() {
                Poll::Ready(42)
            } else {
                Poll::Pending
            }
        }),
    ));
    assert!(poll_once(&mut bounded).is_pending());
    // The timer completes and is reaped, unpolled.
    uring_tests::run_for(&reactor, 40);
    assert_eq!(reactor.in_flight(), 0, "the timer completed");
    ready.set(true);
    match poll_once(&mut bounded) {
        Poll::Ready(Ok(42)) => {}
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------
// JoinHandle / JoinError
// ---------------------------------------------------------------------------

/// The handle's answer now: ready or not.
fn now<T>(handle: &mut JoinHandle<T>) -> Option<Result<T, JoinError>> {
    match poll_once(handle) {
        Poll::Ready(r) => Some(r),
        Poll::Pending => None,
    }
}

// "Whether the task has ended: finished, aborted, dropped or unwound. The
// handle is then ready." (`JoinHandle::is_finished`); "Polled again after
// that, it gives an error whose `is_taken` is true" (`JoinHandle`'s
// `poll`).
/// For each way a task ends (finished, aborted, unwound by a panic,
/// dropped by the reactor's drop), `is_finished` turns true, the handle is
/// ready at once with the matching answer, and a second poll says
/// `is_taken`, errors included.
#[test]
fn is_finished_means_ready_for_every_ending_and_a_second_poll_is_taken() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let mut finished = reactor.spawn(async { 1u8 });
    let h1 = h.clone();
    let mut aborted = reactor.spawn(async move {
        let _ = h1.sleep(Duration::from_secs(60)).await;
        2u8
    });
    let h2 = h.clone();
    let mut dropped = reactor.spawn(async move {
        let _ = h2.sleep(Duration::from_secs(60)).await;
        4u8
    });
    uring_tests::run_for(&reactor, 5);
    assert!(finished.is_finished());
    assert!(!aborted.is_finished() && !dropped.is_finished());
    assert_eq!(now(&mut finished).unwrap().unwrap(), 1);
    assert!(now(&mut finished).unwrap().unwrap_err().is_taken());

    aborted.abort();
    uring_tests::run_for(&reactor, 5);
    assert!(aborted.is_finished());
    assert!(now(&mut aborted).unwrap().unwrap_err().is_aborted());
    assert!(now(&mut aborted).unwrap().unwrap_err().is_taken());

    let h3 = h.clone();
    let mut panicked = reactor.spawn(async move {
        let (r, ()) = h3.op(Nop).await;
        if r.is_ok() {
            panic!("the task's panic");
        }
        3u8
    });
    assert!(!panicked.is_finished());
    let run = catch_unwind(AssertUnwindSafe(|| uring_tests::run_for(&reactor, 5)));
    assert!(run.is_err(), "the panic went out of the run");
    assert!(panicked.is_finished());
    assert!(now(&mut panicked).unwrap().unwrap_err().is_panic());
    assert!(now(&mut panicked).unwrap().unwrap_err().is_taken());

    assert!(!dropped.is_finished());
    drop(reactor);
    assert!(dropped.is_finished());
    assert!(now(&mut dropped).unwrap().unwrap_err().is_dropped());
    assert!(now(&mut dropped).unwrap().unwrap_err().is_taken());
}

// "Aborts the task: it is dropped at its next poll, on the reactor's
// thread, without being polled again" (`JoinHandle::abort`).
/// A task aborted before its first poll is never polled at all: it is
/// dropped at the run, its handle aborted, what it held released.
#[test]
fn a_task_aborted_before_its_first_poll_is_never_polled() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let polled = Rc::new(Cell::new(false));
    let token = Rc::new(());
    let (p, t) = (Rc::clone(&polled), Rc::clone(&token));
    let task = reactor.spawn(async move {
        p.set(true);
        let _t = t;
        5u8
    });
    task.abort();
    assert!(!task.is_finished(), "dropped at its next poll, not now");
    let e = reactor.run_until(task).unwrap().unwrap_err();
    assert!(e.is_aborted(), "{e:?}");
    assert!(!polled.get(), "the aborted task was polled");
    assert_eq!(Rc::strong_count(&token), 1, "its future was dropped");
}

// "The task was dropped unfinished by the reactor: at its shutdown (or
// its drop)" (`JoinError::is_dropped`).
/// `Handle::shutdown`, not only the reactor's drop, drops a waiting task:
/// its handle is finished at once with `is_dropped` (not aborted, not a
/// panic), its future gone, the reactor still there.
#[test]
fn a_handle_shutdown_drops_a_waiting_task_as_is_dropped() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let token = Rc::new(());
    let t = Rc::clone(&token);
    let mut task = reactor.spawn(async move {
        let _t = t;
        h.sleep(Duration::from_secs(60)).await
    });
    uring_tests::run_for(&reactor, 5);
    assert!(!task.is_finished());
    reactor.handle().shutdown();
    assert!(reactor.is_shut_down());
    assert!(task.is_finished());
    let e = now(&mut task).unwrap().unwrap_err();
    assert!(e.is_dropped() && !e.is_aborted() && !e.is_panic(), "{e:?}");
    assert_eq!(Rc::strong_count(&token), 1, "the task's future was dropped");
    assert_eq!(reactor.in_flight(), 0);
}

// "An [`io::Error`] of kind [`Other`](io::ErrorKind::Other), with the
// `JoinError` as its inner error." (`From<JoinError> for io::Error`).
/// The inner error is the `JoinError` itself (equal, through `get_ref`
/// and `into_inner`), and the `io::Error` displays as it does; `?` makes
/// the conversion.
#[test]
fn a_join_error_is_the_inner_error_of_its_io_error() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let task = reactor.spawn(pending::<()>());
    task.abort();
    let e = reactor.run_until(task).unwrap().unwrap_err();
    assert!(e.is_aborted());
    let io_error = io::Error::from(e);
    assert_eq!(io_error.kind(), io::ErrorKind::Other);
    assert_eq!(
        io_error.get_ref().unwrap().downcast_ref::<JoinError>(),
        Some(&e)
    );
    assert_eq!(io_error.to_string(), e.to_string());
    let inner = io_error
        .into_inner()
        .unwrap()
        .downcast::<JoinError>()
        .unwrap();
    assert_eq!(*inner, e);
    let through_question_mark = || -> io::Result<()> { Err(e)? };
    let q = through_question_mark().unwrap_err();
    assert!(
        q.get_ref()
            .unwrap()
            .downcast_ref::<JoinError>()
            .unwrap()
            .is_aborted()
    );
}

/// `IS` is true when `T` is `Send` (the inherent constant, taken when its
/// bound holds), false otherwise (the trait's).
struct SendProbe<T: ?Sized>(PhantomData<T>);
/// As [`SendProbe`], for `Sync`.
struct SyncProbe<T: ?Sized>(PhantomData<T>);
trait NotImplemented {
    const IS: bool = false;
}
impl<T: ?Sized> NotImplemented for SendProbe<T> {}
impl<T: ?Sized> NotImplemented for SyncProbe<T> {}
impl<T: ?Sized + Send> SendProbe<T> {
    const IS: bool = true;
}
impl<T: ?Sized + Sync> SyncProbe<T> {
    const IS: bool = true;
}

// "It stays on the reactor's thread (it is neither `Send` nor `Sync`), as
// the task does" (`JoinHandle`).
/// Probed on the type (and the probe checked on types that are `Send` and
/// `Sync`): a `JoinHandle` of a `Send` output is neither.
#[test]
fn a_join_handle_is_neither_send_nor_sync() {
    let probes = [
        ("u32: Send", SendProbe::<u32>::IS),
        ("u32: Sync", SyncProbe::<u32>::IS),
        ("Rc<u32>: Send", SendProbe::<Rc<u32>>::IS),
        ("JoinHandle<u32>: Send", SendProbe::<JoinHandle<u32>>::IS),
        ("JoinHandle<u32>: Sync", SyncProbe::<JoinHandle<u32>>::IS),
    ];
    assert_eq!(
        probes.map(|(_, is)| is),
        [true, true, false, false, false],
        "{probes:?}"
    );
}
