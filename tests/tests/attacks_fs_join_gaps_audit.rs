//! `uring::fs` and the `JoinHandle` of `Handle::spawn`, attacked where
//! `reactor_fs.rs` and `reactor_join.rs` stop short.
//!
//! Files: a write future forgotten (`mem::forget`) or dropped while the
//! kernel waits for room in a pipe, its `File` closed meanwhile, other files
//! opened meanwhile (the descriptor number is never reused under the op,
//! the bytes land in the pipe and nowhere else, or not at all when the
//! future was dropped); a `File` used after its reactor is gone; buffers
//! past 2 GiB (clamped to `MAX_RW_COUNT`, short counts, `write_all_at`
//! finishing them, a vectored read's count spread over its buffers);
//! `write_all_at` and `read_at` at a file system's size limit and next to
//! `i64::MAX`, against std's `FileExt`; `O_DIRECT` with misaligned offsets
//! and lengths; `O_APPEND` writes at positions; vectors past `IOV_MAX`;
//! directories, FIFOs (positions ignored, opens that do not wait) and
//! `/dev` files through `File`; paths with NUL in every call.
//!
//! Join handles: an abort from another task of a task that holds a
//! multishot poll stream and a TCP read (both cancelled, the bytes sent
//! after stay unread); an abort that lands after the awaited read
//! completed; one handle awaited by two tasks, and by its own task; a task
//! whose drop panics when aborted; a panicking drop at shutdown and the
//! tasks dropped after it (their handles, and a second panicking drop);
//! a forgotten op future and its reactor's state; outputs whose
//! drop queues ops, taken, never taken, or outliving the reactor; a task
//! that aborts itself from a drop at its end; thousands of spawns and
//! aborts (no task, op or `Rc` left); a forgotten handle; an abort through
//! the tokio driver.
//!
//! Read against Linux 6.18: `io_uring/rw.c` (`io_kiocb_ppos`: a stream's
//! position is ignored; `__io_read`, `io_write` and `rw_verify_area`, which
//! refuses a position whose end passes `LLONG_MAX` with `EINVAL`;
//! `generic_write_checks`, which cuts a write at `s_maxbytes` and refuses
//! one that starts there with `EFBIG`), `lib/iov_iter.c` (`__import_iovec`
//! clamps a vector to `MAX_RW_COUNT`), `io_uring/openclose.c`
//! (`io_openat2`: a non-blocking try first, so a FIFO open does not wait
//! and one for writing without a reader fails with `ENXIO`),
//! `io_uring/truncate.c` and `fs/open.c` (`do_ftruncate`: `EINVAL` for a
//! descriptor not open for writing or not a regular file),
//! `io_uring/cancel.c` and `io_uring/poll.c` (a poll-armed read or write
//! is cancelled without moving bytes), `drivers/char/mem.c` (`/dev/null`,
//! `/dev/zero` and `/dev/full`).

use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::io::{self, Read as _, Write as _};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use uring::PollEvents;
use uring::fs::{self, File, OpenOptions};
use uring::reactor::ops::{Nop, PollMulti, Read, Timeout};
use uring::reactor::{Handle, IoBuf, JoinError, JoinHandle, Reactor, SharedFd};
use uring_tests::reactor::{drive_until, in_temp_dir, pipe_bytes, pipes};
use uring_tests::{pattern, poll_once, skip, watchdog};

/// What a pipe's link in `/proc/self/fd` says (`pipe:[inode]`), or `None`
/// if `fd` is not open.
fn link_of(fd: i32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()
}

fn errno<T: std::fmt::Debug>(r: io::Result<T>) -> Option<i32> {
    r.unwrap_err().raw_os_error()
}

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

/// A pipe whose writer is a `File` on `reactor`, filled to its capacity
/// through the ring: the next write waits for room. Gives the file, the
/// reader, and how many bytes fill it.
fn full_pipe(reactor: &Reactor) -> (File, std::fs::File, usize) {
    let (r, w) = uring_tests::pipe();
    let file = File::from_fd(&reactor.handle(), w);
    // SAFETY: F_GETPIPE_SZ on a descriptor the file owns; no memory.
    let size = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETPIPE_SZ) };
    assert!(size > 0);
    let size = size as usize;
    let (n, _) = reactor
        .run_until(file.write_at(vec![b'f'; size], 0))
        .unwrap();
    assert_eq!(n.unwrap(), size);
    (file, std::fs::File::from(r), size)
}

/// A write future forgotten while it waits for room in a full pipe: its
/// `File` is closed (`Ok`, the op holds the descriptor), files opened
/// meanwhile never get the pipe's number, the pipe's descriptor is still
/// the pipe; once the reader makes room the write lands in the pipe, whole,
/// and nowhere else; the forgotten op's descriptor stays open until the
/// reactor goes (its memory is the reactor's until then), and not after.
#[test]
fn a_forgotten_write_keeps_its_closed_file_s_descriptor_and_lands_in_its_pipe() {
    let _watch = watchdog();
    let dir = tempfile::tempdir().unwrap();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (file, mut reader, size) = full_pipe(&reactor);
    let raw = file.as_raw_fd();
    let link = link_of(raw).unwrap();
    let canary = pattern(1000, 54);
    let mut fut = Box::pin(file.write_at(canary.clone(), 0));
    assert!(poll_once(&mut fut).is_pending());
    uring_tests::run_for(&reactor, 5);
    assert_eq!(reactor.in_flight(), 1, "the write waits for room");
    std::mem::forget(fut);
    file.close().unwrap();
    assert_eq!(link_of(raw).as_ref(), Some(&link), "still the pipe");

    let others: Vec<File> = reactor
        .run_until(async {
            let mut v = Vec::new();
            for i in 0..16 {
                v.push(
                    File::create(&h, dir.path().join(format!("o{i}")))
                        .await
                        .unwrap(),
                );
            }
            v
        })
        .unwrap();
    for f in &others {
        assert_ne!(f.as_raw_fd(), raw, "a new file got the number in use");
    }
    let mut head = vec![0u8; size];
    reader.read_exact(&mut head).unwrap();
    assert!(head.iter().all(|&b| b == b'f'));
    assert!(drive_until(&reactor, Duration::from_secs(5), || reactor
        .in_flight()
        == 0));
    // Read without blocking (which sets the reader non-blocking).
    let dup: std::os::fd::OwnedFd = reader.try_clone().unwrap().into();
    assert_eq!(
        pipe_bytes(&dup),
        canary,
        "the forgotten write landed in its pipe"
    );
    for i in 0..16 {
        assert_eq!(
            std::fs::metadata(dir.path().join(format!("o{i}")))
                .unwrap()
                .len(),
            0
        );
    }
    assert_eq!(
        link_of(raw).as_ref(),
        Some(&link),
        "the forgotten op keeps the descriptor until the reactor's state goes"
    );
    drop(others);
    drop(reactor);
    drop(h);
}

/// A write future forgotten while it waits, its file dropped, the reactor
/// dropped (which cancels the write) and no handle left: the descriptor
/// stays open, leaked with the reactor's state, which the forgotten future
/// holds (an `Rc`), as `OpFuture`'s and `File`'s docs say. (They once said
/// the memory stayed only "until it shuts down" and the descriptor closed
/// "when the op ends".)
#[test]
fn a_forgotten_write_keeps_its_descriptor_with_the_reactor_s_state() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (file, _reader, _) = full_pipe(&reactor);
    let raw = file.as_raw_fd();
    let link = link_of(raw).unwrap();
    let mut fut = Box::pin(file.write_at(pattern(100, 1), 0));
    assert!(poll_once(&mut fut).is_pending());
    uring_tests::run_for(&reactor, 5);
    assert_eq!(reactor.in_flight(), 1);
    std::mem::forget(fut);
    drop(file);
    drop(reactor);
    assert_eq!(
        link_of(raw),
        Some(link),
        "the forgotten future's descriptor stays open, leaked with the reactor's state"
    );
}

/// The same write future dropped instead: the write is cancelled, not a
/// byte of it lands, and the descriptor closes once the cancel is done,
/// with the reactor still alive (the reader sees the end).
#[test]
fn a_dropped_write_of_a_dropped_file_lands_nowhere_and_closes_the_pipe() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (file, mut reader, size) = full_pipe(&reactor);
    let mut fut = Box::pin(file.write_at(pattern(1000, 9), 0));
    assert!(poll_once(&mut fut).is_pending());
    uring_tests::run_for(&reactor, 5);
    assert_eq!(reactor.in_flight(), 1);
    drop(fut);
    drop(file);
    assert!(drive_until(&reactor, Duration::from_secs(5), || reactor
        .in_flight()
        == 0));
    let mut all = Vec::new();
    reader.read_to_end(&mut all).unwrap();
    assert_eq!(all.len(), size, "nothing of the dropped write landed");
    assert!(all.iter().all(|&b| b == b'f'));
}

/// A `File` whose reactor is gone: every call fails (the buffers come
/// back), none panics or hangs, and `close` still closes.
#[test]
fn a_file_outliving_its_reactor_fails_every_call_and_closes() {
    let _watch = watchdog();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, b"kept").unwrap();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let file = reactor
        .run_until(OpenOptions::new().read(true).write(true).open(&h, &path))
        .unwrap()
        .unwrap();
    drop(reactor);
    let mut read = Box::pin(file.read_at(vec![7u8; 4], 0));
    match poll_once(&mut read) {
        Poll::Ready((r, buf)) => {
            assert!(r.is_err());
            assert_eq!(buf, [7u8; 4]);
        }
        Poll::Pending => panic!("a read on a gone reactor waits"),
    }
    drop(read);
    let mut write = Box::pin(file.write_all_at(b"lost".to_vec(), 0));
    match poll_once(&mut write) {
        Poll::Ready((r, buf)) => {
            assert!(r.is_err());
            assert_eq!(buf, b"lost");
        }
        Poll::Pending => panic!("a write on a gone reactor waits"),
    }
    drop(write);
    let mut stat = Box::pin(file.statx());
    assert!(matches!(poll_once(&mut stat), Poll::Ready(Err(_))));
    drop(stat);
    let mut open = Box::pin(File::open(&h, &path));
    assert!(matches!(poll_once(&mut open), Poll::Ready(Err(_))));
    drop(open);
    let raw = file.as_raw_fd();
    let link = link_of(raw).unwrap();
    file.close().unwrap();
    assert_ne!(link_of(raw), Some(link), "closed");
    assert_eq!(std::fs::read(&path).unwrap(), b"kept");
}

/// Buffers past 2 GiB: a write to `/dev/null` moves `MAX_RW_COUNT` bytes
/// (short), a vectored one the same in all, `write_all_at` writes the whole
/// 3 GiB in turns; a read from `/dev/zero` into 2 GiB and a page fills
/// `MAX_RW_COUNT` bytes, and a vectored read's count goes to its first
/// buffer, none to the second.
#[test]
fn buffers_past_2_gib_are_clamped_and_write_all_at_finishes_them() {
    let _watch = watchdog();
    const MAX_RW: usize = 0x7fff_f000;
    in_temp_dir(|h, _| async move {
        let null = OpenOptions::new()
            .write(true)
            .open(&h, "/dev/null")
            .await
            .unwrap();
        // calloc'd: untouched pages, never read by /dev/null.
        let big = vec![0u8; 3 << 30];
        let (n, big) = null.write_at(big, 0).await;
        assert_eq!(n.unwrap(), MAX_RW);
        let (r, big) = null.write_all_at(big, 0).await;
        r.unwrap();
        assert_eq!(big.len(), 3 << 30);
        drop(big);
        let halves = vec![vec![0u8; 3 << 29], vec![0u8; 3 << 29]];
        let (n, halves) = null.writev_at(halves, 0).await;
        assert_eq!(n.unwrap(), MAX_RW);
        drop(halves);

        let zero = File::open(&h, "/dev/zero").await.unwrap();
        let (n, buf) = zero.read_at(Vec::with_capacity((1 << 31) + 4096), 0).await;
        // /dev/zero's read stops early when the CPU is wanted elsewhere
        // and the read may not block (io_uring's first try): a short count.
        let n = n.unwrap();
        assert!(n > 0 && n <= MAX_RW, "{n}");
        assert_eq!(buf.len(), n);
        assert_eq!(buf[n - 1], 0);
        let mut buf = buf;
        buf.clear();
        let (n, bufs) = zero.readv_at(vec![buf, Vec::with_capacity(64)], 0).await;
        let n = n.unwrap();
        assert!(n > 0 && n <= MAX_RW, "{n}");
        assert_eq!(bufs[0].len(), n);
        assert!(bufs[1].is_empty(), "nothing was read into the second");
    });
}

/// The largest length `path`'s file system takes (`s_maxbytes`), found by
/// `ftruncate(2)`.
fn max_file_size(path: &Path) -> u64 {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .unwrap();
    let (mut lo, mut hi) = (0u64, i64::MAX as u64);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if f.set_len(mid).is_ok() {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    f.set_len(0).unwrap();
    lo
}

/// `write_all_at` over a file system's size limit: the kernel cuts the
/// first write at the limit, then refuses the next with `EFBIG`; std's
/// `write_all_at` does the same, byte for byte. Next to `i64::MAX`, a
/// write or a read whose end passes it is `EINVAL`, as `pwrite(2)` and
/// `pread(2)` say (not a short count, nor 0 "past the end").
#[test]
fn write_all_at_at_the_size_limit_and_next_to_i64_max_as_std() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let max = max_file_size(&dir.join("probe"));
        let ours = dir.join("ours");
        let theirs = dir.join("theirs");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .open(&h, &ours)
            .await
            .unwrap();
        let std_file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&theirs)
            .unwrap();
        let bytes = pattern(16, 3);
        if max < i64::MAX as u64 {
            let (r, back) = file.write_all_at(bytes.clone(), max - 8).await;
            let std_r = std_file.write_all_at(&bytes, max - 8);
            assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EFBIG));
            assert_eq!(std_r.unwrap_err().raw_os_error(), Some(libc::EFBIG));
            assert_eq!(back, bytes, "the buffer comes back whole");
            assert_eq!(std::fs::metadata(&ours).unwrap().len(), max);
            assert_eq!(std::fs::metadata(&theirs).unwrap().len(), max);
            let (n, got) = file.read_at(Vec::with_capacity(16), max - 8).await;
            assert_eq!(n.unwrap(), 8);
            assert_eq!(got, bytes[..8]);
        } else {
            skip("this file system takes files up to i64::MAX");
        }
        let near = i64::MAX as u64 - 3;
        let (r, _) = file.write_all_at(bytes.clone(), near).await;
        let std_r = std_file.write_all_at(&bytes, near);
        assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EINVAL));
        assert_eq!(std_r.unwrap_err().raw_os_error(), Some(libc::EINVAL));
        let (n, _) = file.read_at(Vec::with_capacity(16), near).await;
        let mut b = [0u8; 16];
        let std_n = std_file.read_at(&mut b, near);
        assert_eq!(errno(n), Some(libc::EINVAL));
        assert_eq!(errno(std_n), Some(libc::EINVAL));
        // set_len past i64::MAX: the kernel's EINVAL (std refuses it itself).
        assert_eq!(errno(file.set_len(u64::MAX).await), Some(libc::EINVAL));
    });
}

/// `O_DIRECT` through `custom_flags`: a write of whole blocks from an
/// aligned part of a buffer lands; the same at a misaligned offset, or
/// with a misaligned length, is `EINVAL` and changes nothing.
#[test]
fn o_direct_misaligned_offsets_and_lengths_are_einval() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let path = dir.join("direct");
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .custom_flags(libc::O_DIRECT)
            .open(&h, &path)
            .await;
        let file = match opened {
            Ok(file) => file,
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                skip("this file system refuses O_DIRECT");
                return;
            }
            Err(e) => panic!("{e}"),
        };
        let mut data = vec![0u8; 3 * 4096];
        data.copy_from_slice(&pattern(3 * 4096, 8));
        let off = (4096 - data.as_ptr() as usize % 4096) % 4096;
        let (n, back) = file.write_at(data.slice(off..off + 4096), 0).await;
        assert_eq!(n.unwrap(), 4096);
        let data = back.into_inner();
        let (n, back) = file.write_at(data.slice(off..off + 4096), 1).await;
        assert_eq!(errno(n), Some(libc::EINVAL), "a misaligned offset");
        let data = back.into_inner();
        let (n, _) = file.write_at(data.slice(off..off + 100), 4096).await;
        assert_eq!(errno(n), Some(libc::EINVAL), "a misaligned length");
        let want = pattern(3 * 4096, 8)[off..off + 4096].to_vec();
        assert_eq!(std::fs::read(&path).unwrap(), want);
    });
}

/// Directories, FIFOs and `/dev` files through `File`: a directory opens
/// for reading (reads `EISDIR`, `set_len` `EINVAL`, `statx` a directory)
/// and not for writing (`EISDIR`); `O_DIRECTORY` on a file is `ENOTDIR`;
/// `/dev/null` reads 0, `/dev/full` refuses writes (`ENOSPC`, through
/// `write_all_at` too); a FIFO opened for reading does not wait for a
/// writer (std's open would), and its read waits for one (no end
/// reported before a writer came); one opened for writing without a
/// reader is `ENXIO` (std's would wait); positions are ignored
/// (`pwrite(2)` would say `ESPIPE`).
#[test]
fn directories_fifos_and_device_files_through_file() {
    let _watch = watchdog();
    let Some((_fifo_dir, fifo)) = uring_tests::fifo::temp_fifo() else {
        return;
    };
    in_temp_dir(|h, dir| async move {
        let d = File::open(&h, &dir).await.unwrap();
        let (n, _) = d.read_at(Vec::with_capacity(8), 0).await;
        assert_eq!(errno(n), Some(libc::EISDIR));
        assert_eq!(errno(d.set_len(0).await), Some(libc::EINVAL));
        let st = d.statx().await.unwrap();
        assert_eq!(u32::from(st.stx_mode) & libc::S_IFMT, libc::S_IFDIR);
        let w = OpenOptions::new().write(true).open(&h, &dir).await;
        assert_eq!(errno(w), Some(libc::EISDIR));
        let file = dir.join("plain");
        std::fs::write(&file, b"x").unwrap();
        let o = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(&h, &file)
            .await;
        assert_eq!(errno(o), Some(libc::ENOTDIR));

        let null = File::open(&h, "/dev/null").await.unwrap();
        let (n, _) = null.read_at(Vec::with_capacity(8), 1 << 40).await;
        assert_eq!(n.unwrap(), 0);
        let full = OpenOptions::new()
            .write(true)
            .open(&h, "/dev/full")
            .await
            .unwrap();
        let (n, _) = full.write_at(b"x".to_vec(), 0).await;
        assert_eq!(errno(n), Some(libc::ENOSPC));
        let (r, back) = full.write_all_at(b"xyz".to_vec(), 0).await;
        assert_eq!(errno(r), Some(libc::ENOSPC));
        assert_eq!(back, b"xyz");

        let started = Instant::now();
        let w = OpenOptions::new().write(true).open(&h, &fifo).await;
        assert_eq!(errno(w), Some(libc::ENXIO), "no reader: no wait");
        let reader = File::open(&h, &fifo).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(5), "no wait");
        // No writer yet: the read waits (the FIFO reports no hang-up until
        // it has seen a writer) rather than giving the end.
        let mut read = Box::pin(reader.read_at(Vec::with_capacity(8), 0));
        assert!(within(&h, &mut read, 50).await.is_none());
        let writer = OpenOptions::new()
            .write(true)
            .open(&h, &fifo)
            .await
            .unwrap();
        let std_writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        assert_eq!(
            std_writer.write_at(b"p", 77).unwrap_err().raw_os_error(),
            Some(libc::ESPIPE)
        );
        let (n, _) = writer.write_at(b"fifo".to_vec(), 12345).await;
        assert_eq!(n.unwrap(), 4, "the position is ignored");
        let (n, got) = read.await;
        assert_eq!(n.unwrap(), 4);
        assert_eq!(got, b"fifo");
        let (n, _) = writer.writev_at(vec![b"ab".to_vec()], 1 << 40).await;
        assert_eq!(n.unwrap(), 2);
        let (n, got) = reader.read_at(Vec::with_capacity(8), 999).await;
        assert_eq!(n.unwrap(), 2);
        assert_eq!(got, b"ab");
    });
}

/// A file opened to append (and read): every write, plain, vectored or
/// whole, goes to the end whatever its position, in order; reads still
/// read at their positions. Vectors of more than `IOV_MAX` (1024) buffers
/// are the kernel's `EINVAL`, their buffers back, nothing written; an
/// empty vector moves 0 bytes.
#[test]
fn append_writes_ignore_positions_and_vectors_past_iov_max_are_einval() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let path = dir.join("log");
        std::fs::write(&path, b"0123").unwrap();
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&h, &path)
            .await
            .unwrap();
        let (n, _) = file.write_at(b"A".to_vec(), 0).await;
        assert_eq!(n.unwrap(), 1);
        let (n, _) = file.writev_at(vec![b"B".to_vec(), b"CD".to_vec()], 1).await;
        assert_eq!(n.unwrap(), 3);
        let (r, _) = file.write_all_at(pattern(100_000, 4), 2).await;
        r.unwrap();
        let disk = std::fs::read(&path).unwrap();
        assert_eq!(&disk[..8], b"0123ABCD");
        assert!(disk[8..] == pattern(100_000, 4)[..]);
        let (n, got) = file.read_at(Vec::with_capacity(3), 1).await;
        assert_eq!(n.unwrap(), 3);
        assert_eq!(got, b"123");

        let many: Vec<Vec<u8>> = (0..1025).map(|_| b"x".to_vec()).collect();
        let (n, many) = file.writev_at(many, 0).await;
        assert_eq!(errno(n), Some(libc::EINVAL));
        assert_eq!(many.len(), 1025);
        assert!(many.iter().all(|b| b == b"x"));
        let bufs: Vec<Vec<u8>> = (0..1025).map(|_| Vec::with_capacity(1)).collect();
        let (n, bufs) = file.readv_at(bufs, 0).await;
        assert_eq!(errno(n), Some(libc::EINVAL));
        assert!(bufs.iter().all(Vec::is_empty));
        let (n, _) = file.writev_at(Vec::<Vec<u8>>::new(), 0).await;
        assert_eq!(n.unwrap(), 0);
        let (n, _) = file.readv_at(Vec::<Vec<u8>>::new(), 0).await;
        assert_eq!(n.unwrap(), 0);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 8 + 100_000);
    });
}

/// `fut`'s output if it comes within `ms` milliseconds.
async fn within<F: Future + Unpin>(h: &Handle, fut: &mut F, ms: u64) -> Option<F::Output> {
    let mut timer = h.op(Timeout::new(Duration::from_millis(ms)));
    poll_fn(|cx| {
        if let Poll::Ready(out) = Pin::new(&mut *fut).poll(cx) {
            return Poll::Ready(Some(out));
        }
        if Pin::new(&mut timer).poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// A NUL inside any path of any call is `InvalidInput`, before the ring is
/// asked: nothing queued, nothing created or removed.
#[test]
fn paths_with_nul_are_refused_by_every_call() {
    let _watch = watchdog();
    in_temp_dir(|h, dir| async move {
        let keep = dir.join("keep");
        std::fs::write(&keep, b"k").unwrap();
        let bad = dir.join("a\0b");
        let kind = |r: io::Result<()>| r.unwrap_err().kind();
        assert_eq!(
            kind(fs::remove_file(&h, &bad).await),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            kind(fs::remove_dir(&h, &bad).await),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            kind(fs::rename(&h, &keep, &bad).await),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            kind(fs::rename(&h, &bad, &keep).await),
            io::ErrorKind::InvalidInput
        );
        let created = OpenOptions::new()
            .write(true)
            .create(true)
            .open(&h, dir.join("new\0"))
            .await;
        assert_eq!(created.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(
            File::create(&h, "\0").await.unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(h.in_flight(), 0);
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["keep"]);
        assert_eq!(std::fs::read(&keep).unwrap(), b"k");
        // An empty path is the kernel's ENOENT.
        assert_eq!(
            File::open(&h, "").await.unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    });
}

// ---------------------------------------------------------------------------
// Join handles
// ---------------------------------------------------------------------------

/// Panics when dropped (a task's local).
struct PanicOnDrop(&'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("{}", self.0);
    }
}

/// The handle's answer now: ready or not.
fn now<T>(handle: &mut JoinHandle<T>) -> Option<Result<T, JoinError>> {
    match poll_once(handle) {
        Poll::Ready(r) => Some(r),
        Poll::Pending => None,
    }
}

/// A task holding a multishot poll of a pipe and a TCP read is aborted by
/// another task, which then awaits its handle: aborted; both ops are
/// cancelled (none in flight); bytes written to the pipe and sent to the
/// socket afterwards stay there, unread.
#[test]
fn abort_from_another_task_cancels_a_multishot_stream_and_a_tcp_read() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (fds, dups, mut writers) = pipes(1);
    let (mut client, server) = uring_tests::tcp_pair();
    let server_dup = server.try_clone().unwrap();
    let stream = uring::net::TcpStream::from_std(&h, server);
    let reached = Rc::new(Cell::new(0u32));
    let r = Rc::clone(&reached);
    let h2 = h.clone();
    let fd = fds[0].clone();
    let victim = reactor.spawn(async move {
        let mut polls = h2.stream(PollMulti::new(&fd, PollEvents::IN));
        r.set(1);
        let (n, buf) = stream.read(Vec::with_capacity(64)).await;
        r.set(2);
        drop(polls.next().await);
        (n, buf)
    });
    let slot = Rc::new(RefCell::new(Some(victim)));
    let s = Rc::clone(&slot);
    let h3 = h.clone();
    let killer = reactor.spawn(async move {
        let (r, ()) = h3.op(Nop).await;
        r.unwrap();
        let mut victim = s.borrow_mut().take().unwrap();
        victim.abort();
        let out = (&mut victim).await;
        (out.map(|_| ()), victim.is_finished())
    });
    let (out, finished) = reactor.run_until(killer).unwrap().unwrap();
    let err = out.unwrap_err();
    assert!(err.is_aborted(), "{err:?}");
    assert!(finished);
    assert_eq!(reached.get(), 1, "the victim waited in its read");
    assert!(drive_until(&reactor, Duration::from_secs(5), || reactor
        .in_flight()
        == 0));
    writers[0].write_all(b"pipe bytes").unwrap();
    client.write_all(b"tcp bytes").unwrap();
    uring_tests::run_for(&reactor, 20);
    assert_eq!(pipe_bytes(&dups[0]), b"pipe bytes");
    server_dup
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut got = [0u8; 9];
    (&server_dup).read_exact(&mut got).unwrap();
    assert_eq!(&got, b"tcp bytes", "no read was left to take them");
    assert_eq!(reactor.in_flight(), 0);
}

/// Abort racing a completion: a task's pipe read completes (the bytes
/// were there) and wakes it, and in the same round of completions, before
/// the task is polled again, a callback aborts it. The abort wins: the
/// task is dropped without seeing its read, whose bytes are gone from the
/// pipe and handed to nobody (the docs speak only of ops cancelled).
#[test]
fn an_abort_after_the_awaited_read_completed_drops_its_bytes() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (fds, dups, mut writers) = pipes(1);
    writers[0].write_all(b"already here").unwrap();
    let seen = Rc::new(Cell::new(0u32));
    let s = Rc::clone(&seen);
    let h = reactor.handle();
    let fd = fds[0].clone();
    let victim = reactor.spawn(async move {
        let (n, buf) = h.op(Read::new(&fd, Vec::with_capacity(64), 0)).await;
        s.set(s.get() + 1);
        (n, buf)
    });
    let slot = Rc::new(RefCell::new(Some(victim)));
    let sl = Rc::clone(&slot);
    let h = reactor.handle();
    // Polled after the victim in the same round: its NOP is submitted
    // with the read, and completes after it.
    drop(reactor.spawn(async move {
        let sl2 = Rc::clone(&sl);
        h.queue(Nop, move |r, ()| {
            r.unwrap();
            sl2.borrow().as_ref().unwrap().abort();
        })
        .unwrap();
    }));
    reactor.run().unwrap();
    let mut victim = slot.borrow_mut().take().unwrap();
    let e = now(&mut victim).unwrap().unwrap_err();
    assert!(e.is_aborted(), "{e:?}");
    assert_eq!(seen.get(), 0, "the task never saw its read");
    assert_eq!(pipe_bytes(&dups[0]), b"", "the read took the bytes");
    assert_eq!(reactor.in_flight(), 0);
}

/// One handle awaited by two tasks in turn (through a shared cell): only
/// the last poller's waker is kept, so the first is never woken when the
/// task ends (it waits until the reactor drops it), and the second gets
/// the output; a later poll gets `is_taken`. As tokio's `JoinHandle`,
/// whose docs do not say it either.
#[test]
fn a_handle_awaited_by_two_tasks_wakes_only_the_last_poller() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let target = reactor.spawn(async move {
        let (r, ()) = h.op(Timeout::new(Duration::from_millis(5))).await;
        assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ETIME));
        7u32
    });
    let shared = Rc::new(RefCell::new(target));
    let awaiter = |shared: Rc<RefCell<JoinHandle<u32>>>| {
        poll_fn(move |cx| Pin::new(&mut *shared.borrow_mut()).poll(cx))
    };
    let mut first = reactor.spawn(awaiter(Rc::clone(&shared)));
    let second = reactor.spawn(awaiter(Rc::clone(&shared)));
    assert_eq!(reactor.run_until(second).unwrap().unwrap().unwrap(), 7);
    uring_tests::run_for(&reactor, 20);
    assert!(!first.is_finished(), "the first awaiter was never woken");
    match poll_once(&mut *shared.borrow_mut()) {
        Poll::Ready(Err(e)) => assert!(e.is_taken(), "{e:?}"),
        other => panic!("{other:?}"),
    }
    drop(reactor);
    let e = now(&mut first).unwrap().unwrap_err();
    assert!(e.is_dropped(), "{e:?}");
}

/// A task whose local panics when dropped, aborted while its read waits:
/// the panic goes out of the run that drops it, the handle says panic (as
/// tokio's does: the task's own code panicked), the read is cancelled (bytes written after
/// stay in the pipe), and the reactor goes on.
#[test]
fn a_task_whose_drop_panics_when_aborted() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (fds, dups, mut writers) = pipes(1);
    let fd = fds[0].clone();
    let mut task = reactor.spawn(async move {
        let _bomb = PanicOnDrop("the aborted task's drop");
        h.op(Read::new(&fd, vec![0u8; 16], 0)).await
    });
    uring_tests::run_for(&reactor, 5);
    assert_eq!(reactor.in_flight(), 1);
    task.abort();
    let run = catch_unwind(AssertUnwindSafe(|| reactor.run()));
    let payload = run.unwrap_err();
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("the aborted task's drop")
    );
    let e = now(&mut task).unwrap().unwrap_err();
    assert!(e.is_panic() && !e.is_aborted(), "{e:?}");
    assert!(drive_until(&reactor, Duration::from_secs(5), || reactor
        .in_flight()
        == 0));
    writers[0].write_all(b"after").unwrap();
    uring_tests::run_for(&reactor, 5);
    assert_eq!(pipe_bytes(&dups[0]), b"after");
    let (r, ()) = reactor.run_until(reactor.op(Nop)).unwrap();
    assert_eq!(r.unwrap(), 0);
}

/// Two tasks wait at the reactor's drop: the first's drop panics. The
/// panic goes on out of the drop; the second task, dropped by the shutdown
/// like the first, did not panic: its handle must say dropped (as tokio's
/// says cancelled), not panic.
#[test]
fn a_panicking_drop_at_shutdown_does_not_mark_the_next_task_panicked() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let h1 = h.clone();
    let mut bomb = reactor.spawn(async move {
        let _bomb = PanicOnDrop("a drop at shutdown");
        let _ = h1.op(Timeout::new(Duration::from_secs(60))).await;
    });
    let h2 = h.clone();
    let mut innocent = reactor.spawn(async move {
        let _ = h2.op(Timeout::new(Duration::from_secs(60))).await;
    });
    uring_tests::run_for(&reactor, 5);
    assert_eq!(reactor.in_flight(), 2);
    let dropped = catch_unwind(AssertUnwindSafe(move || drop(reactor)));
    assert!(dropped.is_err(), "the drop's panic goes on");
    assert!(now(&mut bomb).unwrap().unwrap_err().is_panic());
    let e = now(&mut innocent).unwrap().unwrap_err();
    assert!(e.is_dropped(), "the innocent task: {e:?}");
}

/// Two tasks whose drops panic wait at the reactor's drop: the shutdown
/// means to take each step even when one panics, and the first panic
/// goes on; the second drop's panic, during the first's unwinding, aborts
/// the whole process instead (run in a child).
#[test]
fn two_panicking_task_drops_at_shutdown_do_not_abort_the_process() {
    uring_tests::in_own_process(
        "two_panicking_task_drops_at_shutdown_do_not_abort_the_process",
        "the reactor's drop",
        || {
            let reactor = Reactor::new().unwrap();
            let mut handles = Vec::new();
            for what in ["first drop", "second drop"] {
                let h = reactor.handle();
                handles.push(reactor.spawn(async move {
                    let _bomb = PanicOnDrop(what);
                    let _ = h.op(Timeout::new(Duration::from_secs(60))).await;
                }));
            }
            uring_tests::run_for(&reactor, 5);
            let dropped = catch_unwind(AssertUnwindSafe(move || drop(reactor)));
            assert!(dropped.is_err());
            for mut handle in handles {
                assert!(now(&mut handle).unwrap().is_err());
            }
        },
    );
}

/// A task that awaits its own handle waits for ever (as with tokio; not
/// documented): it is never woken, and keeps the reactor's `run` from
/// ending; the reactor's drop drops it, and nothing it held is left (its
/// own handle and state included: no cycle).
#[test]
fn a_task_awaiting_its_own_handle_waits_until_the_reactor_drops_it() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let own: Rc<RefCell<Option<JoinHandle<u32>>>> = Rc::default();
    let o = Rc::clone(&own);
    let token = Rc::new(());
    let t = Rc::clone(&token);
    let task = reactor.spawn(async move {
        let _t = t;
        let mine = o.borrow_mut().take().unwrap();
        match mine.await {
            Ok(n) => n + 1,
            Err(_) => 0,
        }
    });
    *own.borrow_mut() = Some(task);
    uring_tests::run_for(&reactor, 20);
    assert!(own.borrow().is_none(), "the task took its own handle");
    assert_eq!(Rc::strong_count(&token), 2, "the task still waits");
    assert_eq!(reactor.in_flight(), 0);
    drop(reactor);
    assert_eq!(Rc::strong_count(&token), 1, "nothing is left");
}

/// An output whose drop queues an op (and counts its callback).
struct QueuesOnDrop {
    h: Handle,
    called: Rc<Cell<u32>>,
    refused: Rc<Cell<u32>>,
}

impl Drop for QueuesOnDrop {
    fn drop(&mut self) {
        let called = Rc::clone(&self.called);
        let queued = self.h.queue(Nop, move |r, ()| {
            assert_eq!(r.unwrap(), 0);
            called.set(called.get() + 1);
        });
        if queued.is_err() {
            self.refused.set(self.refused.get() + 1);
        }
    }
}

/// Outputs whose drop queues an op: taken and dropped (the op runs),
/// never taken and dropped with the handle (the op runs), detached (the
/// output is dropped at the task's end, its op runs), and never taken
/// from a handle that outlives its reactor (the queue is refused, no
/// panic, no callback).
#[test]
fn outputs_whose_drop_queues_ops_taken_untaken_detached_and_orphaned() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let called = Rc::new(Cell::new(0u32));
    let refused = Rc::new(Cell::new(0u32));
    let make = |h: Handle| {
        let (c, r) = (Rc::clone(&called), Rc::clone(&refused));
        async move {
            let (res, ()) = h.op(Nop).await;
            res.unwrap();
            QueuesOnDrop {
                h,
                called: c,
                refused: r,
            }
        }
    };
    let taken = reactor.spawn(make(reactor.handle()));
    let out = reactor.run_until(taken).unwrap().unwrap();
    drop(out);
    let untaken = reactor.spawn(make(reactor.handle()));
    assert!(drive_until(&reactor, Duration::from_secs(5), || untaken.is_finished()));
    drop(untaken);
    drop(reactor.spawn(make(reactor.handle())));
    let orphan = reactor.spawn(make(reactor.handle()));
    reactor.run().unwrap();
    assert_eq!(called.get(), 3, "three outputs dropped, three ops run");
    assert_eq!(refused.get(), 0);
    assert!(orphan.is_finished());
    drop(reactor);
    drop(orphan);
    assert_eq!(called.get(), 3);
    assert_eq!(refused.get(), 1, "the orphan's op was refused, not run");
    assert_eq!(Rc::strong_count(&called), 1, "every output was dropped");
}

/// A task whose local aborts the task through its own handle when
/// dropped, at the task's end: the task finished in that poll, so the
/// output is kept (`Ok`); the stray wake does not hurt the task spawned
/// next (it runs, the run ends).
#[test]
fn a_task_aborting_itself_from_a_drop_at_its_end_keeps_its_output() {
    let _watch = watchdog();
    struct AbortOnDrop(Rc<RefCell<Option<JoinHandle<u32>>>>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            if let Some(h) = self.0.borrow().as_ref() {
                h.abort();
            }
        }
    }
    let reactor = Reactor::new().unwrap();
    let own: Rc<RefCell<Option<JoinHandle<u32>>>> = Rc::default();
    let o = Rc::clone(&own);
    let h = reactor.handle();
    let task = reactor.spawn(async move {
        let _guard = AbortOnDrop(o);
        let (r, ()) = h.op(Nop).await;
        r.unwrap() + 5
    });
    *own.borrow_mut() = Some(task);
    let h = reactor.handle();
    let ran = Rc::new(Cell::new(0u32));
    let r = Rc::clone(&ran);
    reactor.run().unwrap();
    drop(reactor.spawn(async move {
        for _ in 0..3 {
            let (res, ()) = h.op(Nop).await;
            res.unwrap();
            r.set(r.get() + 1);
        }
    }));
    reactor.run().unwrap();
    assert_eq!(ran.get(), 3);
    let mut task = own.borrow_mut().take().unwrap();
    assert_eq!(now(&mut task).unwrap().unwrap(), 5);
}

/// 3000 tasks wait on pipe reads; half are aborted, the other half's
/// handles dropped (detached): the aborted ones end aborted and their
/// reads are cancelled; at the reactor's drop the rest go; no `Rc` clone,
/// op or byte is left taken. Then 5000 tasks that finish at once, their
/// outputs never taken, their handles dropped: every output is dropped.
#[test]
fn thousands_of_spawns_and_aborts_leave_nothing_behind() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (fds, dups, mut writers) = pipes(4);
    let token = Rc::new(());
    let mut aborted = Vec::new();
    for i in 0..3000usize {
        let h = reactor.handle();
        let fd: SharedFd = fds[i % 4].clone();
        let t = Rc::clone(&token);
        let handle = reactor.spawn(async move {
            let _t = t;
            h.op(Read::new(&fd, vec![0u8; 8], 0)).await
        });
        if i % 2 == 0 {
            aborted.push(handle);
        } else {
            drop(handle);
        }
    }
    uring_tests::run_for(&reactor, 20);
    assert_eq!(reactor.in_flight(), 3000);
    for handle in &aborted {
        handle.abort();
    }
    assert!(drive_until(&reactor, Duration::from_secs(10), || reactor
        .in_flight()
        == 1500));
    for mut handle in aborted {
        assert!(now(&mut handle).unwrap().unwrap_err().is_aborted());
    }
    assert_eq!(Rc::strong_count(&token), 1501);
    drop(reactor);
    assert_eq!(Rc::strong_count(&token), 1);
    uring_tests::reactor::assert_no_read_left(&dups, &mut writers);

    let reactor = Reactor::new().unwrap();
    for _ in 0..5000 {
        let t = Rc::clone(&token);
        drop(reactor.spawn(async move { t }));
    }
    let kept: Vec<_> = (0..100)
        .map(|_| {
            let t = Rc::clone(&token);
            reactor.spawn(async move { t })
        })
        .collect();
    reactor.run().unwrap();
    assert_eq!(
        Rc::strong_count(&token),
        101,
        "the detached outputs were dropped"
    );
    drop(kept);
    assert_eq!(
        Rc::strong_count(&token),
        1,
        "untaken outputs go with their handles"
    );
}

/// A forgotten handle: the task runs to its end, and its output is never
/// dropped (it stays in the leaked state, as documented nowhere): a leak,
/// not a crash.
#[test]
fn a_forgotten_handle_leaks_the_output_and_only_it() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let token = Rc::new(());
    let ran = Rc::new(Cell::new(false));
    let (t, r) = (Rc::clone(&token), Rc::clone(&ran));
    let h = reactor.handle();
    std::mem::forget(reactor.spawn(async move {
        let (res, ()) = h.op(Nop).await;
        res.unwrap();
        r.set(true);
        t
    }));
    reactor.run().unwrap();
    assert!(ran.get());
    drop(reactor);
    assert_eq!(
        Rc::strong_count(&token),
        2,
        "the output stays in the leaked state"
    );
    assert_eq!(Rc::strong_count(&ran), 1, "the task's future was dropped");
}

/// Through the tokio driver: a tokio task aborts a reactor task whose read
/// waits on a pipe and awaits its handle: aborted, the read cancelled,
/// bytes written after stay in the pipe.
#[test]
fn an_abort_through_the_tokio_driver_cancels_the_read() {
    let _watch = watchdog();
    let (fds, dups, mut writers) = pipes(1);
    let rt = uring_tests::net::runtime();
    let local = tokio::task::LocalSet::new();
    let fd = fds[0].clone();
    let (err, left) = local.block_on(&rt, async move {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let driver = tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let h2 = h.clone();
        let task = h.spawn(async move { h2.op(Read::new(&fd, vec![0u8; 8], 0)).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(h.in_flight(), 1);
        task.abort();
        let err = tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the handle resolves")
            .unwrap_err();
        let end = Instant::now() + Duration::from_secs(5);
        while h.in_flight() > 0 && Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let left = h.in_flight();
        h.shutdown();
        driver.await.unwrap().unwrap();
        (err, left)
    });
    assert!(err.is_aborted(), "{err:?}");
    assert_eq!(left, 0);
    writers[0].write_all(b"kept").unwrap();
    assert_eq!(pipe_bytes(&dups[0]), b"kept");
}
