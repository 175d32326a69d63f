//! Ports of the `io-uring` crate's own test programs (tokio-rs/io-uring at
//! ba91490, `io-uring-test/src/tests/`: `fs.rs`, `timeout.rs`, `poll.rs`,
//! `cancel.rs`, `futex.rs`, `os.rs`, `pipe.rs`, `net.rs`, `epoll.rs`,
//! `register_buf_ring.rs`, `register_buffers.rs`, the parts of
//! `register.rs`, `register_sync_cancel.rs`, `register_napi.rs` and
//! `queue.rs` that `io_uring_crate_parity_audit.rs` leaves out, and
//! `main.rs`'s runs of the suite on rings of every entry size) to this
//! library's API, so that a program moving from the crate finds each
//! behaviour those programs check: the results, errnos, bytes, buffer ids
//! and `IORING_CQE_F_MORE` / `F_NOTIF` / `F_SOCK_NONEMPTY` flags the kernel
//! gives. Each test names the crate test it ports; where the port differs
//! from the crate's program (a scope in place of raw pointers, a buffer
//! ring in place of PROVIDE_BUFFERS, a shorter timer, an owned descriptor,
//! something this API cannot express) it says so. Not ported: the
//! zero-copy receive (`test_tcp_recvzc`, which needs a NIC with header
//! split), and `epoll::test_remove`, which closes the epoll descriptor
//! while an EPOLL_WAIT on it is in flight: here the op borrows it.
//!
//! Ops run through scopes (borrowed buffers, descriptors and addresses),
//! `Ring::push` (ops that borrow nothing), owned pushes and buffer rings.
//! `unsafe` is left to what has no safe form: registering buffers (the
//! kernel keeps using their memory), the crate's legacy PROVIDE_BUFFERS
//! case (`push_unchecked`: the kernel keeps the region past the op's
//! completion, which no scope lends), the crate-style baselines of the two
//! fast-scope cancel tests (ops pushed outside scopes, with raw `user_data`, as the
//! crate pushes them), and the libc calls (eventfds, epoll sets, futex
//! calls, socket options, `fcntl`).
//!
//! Two tests show where a scope that tags only some of its ops differs
//! from the crate's ring, as `Cancel`'s documentation says: an
//! ASYNC_CANCEL by `user_data` (with or without `ALL`) is rewritten to the
//! tagged op carrying that `user_data`, and leaves the untagged ops that
//! carry it too, which the kernel finds on a ring outside scopes
//! (`Scope::cancel` reaches both).
//!
//! Read against Linux 6.18: `io_uring/rw.c` (`io_read`, `io_write`,
//! `io_kiocb_update_pos` for the file position of offset -1,
//! `io_read_mshot`, the fixed and vectored fixed imports), `io_uring/sync.c`
//! (fsync with a range, sync_file_range, fallocate),
//! `io_uring/openclose.c` (`io_openat2`, `io_close`,
//! `io_install_fixed_fd`, `io_pipe`), `io_uring/filetable.c`
//! (`io_fixed_fd_install`: the allocated slot's index as the result,
//! `-ENFILE` when none is free), `io_uring/statx.c`, `io_uring/splice.c`,
//! `io_uring/truncate.c`, `io_uring/xattr.c`, `io_uring/timeout.c`
//! (`io_timeout`, `io_timeout_remove`, updates, multishot timeouts and
//! their `F_MORE`), `io_uring/poll.c` (`io_poll_add`, `io_poll_remove`:
//! `-ENOENT` for none), `io_uring/cancel.c` (`io_async_cancel` with `ALL`,
//! `ANY` and `FD`: the count of requests cancelled; `io_sync_cancel`),
//! `io_uring/futex.c`, `io_uring/waitid.c`, `io_uring/epoll.c`,
//! `io_uring/net.c` (`io_accept`, multishot accept and receive,
//! `io_recvmsg_multishot` and its header, `io_send` with an address,
//! bundles, `io_send_zc` and its notification, `io_shutdown`,
//! `io_socket`, `io_bind`, `io_listen`), `io_uring/kbuf.c` (legacy and
//! ring-provided buffers, `-ENOBUFS`), `io_uring/rsrc.c` (sparse tables,
//! updates and their tags, `io_register_clone_buffers`), `io_uring/napi.c`
//! (`io_register_napi`: the previous settings copied back,
//! `__io_napi_add_id` / `__io_napi_del_id`: `-EINVAL` below
//! `MIN_NAPI_ID`, `-EEXIST`, `-ENOENT`), `io_uring/register.c`
//! (`io_ringfd_register`), `io_uring/io_uring.c` (`io_cqring_wait`: the
//! extended argument's timeout and `min_wait_usec`), and liburing's
//! `test/{timeout,poll-cancel,futex,waitid,epwait,recv-multishot,
//! send-zerocopy,napi-test}.c` for the same facts.

use std::ffi::CString;
use std::fs::File;
use std::io::{IoSlice, IoSliceMut, Read as _, Write as _};
use std::net::{Shutdown as NetShutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use uring::ops::{
    Cancel, CancelFd, Close, FGetXattr, FSetXattr, Fallocate, FixedFdInstall, Fsync, GetXattr, Nop,
    OpenAt, OpenAt2, PollAdd, PollRemove, Read, ReadMultishot, ReadV, SetXattr, Splice, Statx,
    SyncFileRange, Timeout, TimeoutRemove, TimeoutUpdate, Write, WriteV,
};
use uring::{
    CancelFlags, Cqe, DirectSlot, Error, Fd, Features, PollEvents, PollFlags, Ring, TimeoutFlags,
    Timespec, WaitArgs,
};
use uring_tests::{PATIENCE, pairs, pipe, require_features, require_op, skip, wait_cqes};

// ---------------------------------------------------------------- helpers

const TEXT: &[u8] = b"The quick brown fox jumps over the lazy dog.";
const TEXT2: &[u8] = "我能吞下玻璃而不伤身体。".as_bytes();

/// A new eventfd (counter 0, close-on-exec), as the crate's tests make one.
fn eventfd() -> File {
    // SAFETY: eventfd takes plain integers.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    assert!(fd >= 0, "eventfd: {}", std::io::Error::last_os_error());
    // SAFETY: eventfd just returned this descriptor, owned by no one else.
    unsafe { File::from_raw_fd(fd) }
}

/// Completions sorted by `user_data`, as the crate's tests sort them.
fn sorted(mut cqes: Vec<Cqe>) -> Vec<(u64, i32)> {
    cqes.sort_by_key(Cqe::user_data);
    pairs(&cqes)
}

/// The completions that arrive within `ms` milliseconds, submitting what is
/// pushed first; a test that expects none asserts this is empty.
fn nothing_within(ring: &mut Ring, ms: u64) -> Vec<(u64, i32)> {
    ring.submit().unwrap();
    let _ = ring.wait_timeout(1, Duration::from_millis(ms));
    pairs(&ring.completions().collect::<Vec<_>>())
}

fn cstring(path: &std::path::Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap()
}

/// The completions of a scope's ops, `n` of them, each wait bounded.
macro_rules! scope_reap {
    ($s:expr, $n:expr) => {{
        let mut got: Vec<Cqe> = Vec::new();
        $s.submit().unwrap();
        while got.len() < $n {
            $s.wait_timeout(1, PATIENCE)
                .unwrap_or_else(|e| panic!("{e} after {:?}", pairs(&got)));
            got.extend($s.completions().map(|c| c.cqe()));
        }
        got
    }};
}

// ---------------------------------------------------------------- fs.rs

/// `fs::test_file_write_read` (through `utils::write_read`): a write linked
/// to a read of the same temporary file, both of the whole text; the
/// completions come in order, each with the text's length, and the read
/// gives the text back.
#[test]
fn fs_test_file_write_read() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let file = tempfile::tempfile().unwrap();
    let mut output = vec![0u8; TEXT.len()];
    let cqes = ring.scope(|s| {
        s.push(
            Write::new(&file, TEXT)
                .user_data(0x01)
                .link(Read::new(&file, &mut output[..]).user_data(0x02)),
        )
        .unwrap();
        scope_reap!(s, 2)
    });
    let n = TEXT.len() as i32;
    assert_eq!(pairs(&cqes), [(0x01, n), (0x02, n)]);
    assert_eq!(output, TEXT);
}

/// `fs::test_file_writev_readv` (through `utils::writev_readv`): a WRITEV
/// of two iovecs linked to a READV into two buffers of the same sizes;
/// both complete with the sum of the lengths and each buffer gets its part.
#[test]
fn fs_test_file_writev_readv() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let file = tempfile::tempfile().unwrap();
    let mut out1 = vec![0u8; TEXT.len()];
    let mut out2 = vec![0u8; TEXT2.len()];
    let input = [IoSlice::new(TEXT), IoSlice::new(TEXT2)];
    let mut output = [IoSliceMut::new(&mut out1), IoSliceMut::new(&mut out2)];
    let cqes = ring.scope(|s| {
        s.push(
            WriteV::new(&file, &input[..])
                .user_data(0x01)
                .link(ReadV::new(&file, &mut output[..]).user_data(0x02)),
        )
        .unwrap();
        scope_reap!(s, 2)
    });
    let n = (TEXT.len() + TEXT2.len()) as i32;
    assert_eq!(pairs(&cqes), [(0x01, n), (0x02, n)]);
    assert_eq!(out1, TEXT);
    assert_eq!(out2, TEXT2);
}

/// `fs::test_file_cur_pos`: two writes of 22 bytes at offset -1
/// (`u64::MAX`, `IORING_FEAT_RW_CUR_POS`) append at the file position, one
/// after the other; a read at offset 0 then finds the whole text.
#[test]
fn fs_test_file_cur_pos() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_features(&ring, Features::RW_CUR_POS, "writes at the file position") {
        return;
    }
    let mut file = tempfile::tempfile().unwrap();
    let mut output = vec![0u8; TEXT.len()];
    let cqes = ring.scope(|s| {
        s.push(
            Write::new(&file, &TEXT[..22])
                .offset(u64::MAX)
                .user_data(0x01),
        )
        .unwrap();
        let mut cqes = scope_reap!(s, 1);
        s.push(
            Write::new(&file, &TEXT[22..])
                .offset(u64::MAX)
                .user_data(0x02),
        )
        .unwrap();
        cqes.extend(scope_reap!(s, 1));
        s.push(Read::new(&file, &mut output[..]).user_data(0x03))
            .unwrap();
        cqes.extend(scope_reap!(s, 1));
        cqes
    });
    assert_eq!(
        pairs(&cqes),
        [(0x01, 22), (0x02, 22), (0x03, TEXT.len() as i32)]
    );
    assert_eq!(output, TEXT);
    // The writes moved the file position; the read at offset 0 did not.
    use std::io::Seek as _;
    assert_eq!(file.stream_position().unwrap(), 44);
}

/// `fs::test_file_fsync`, `fs::test_file_fsync_file_range` and
/// `fs::test_file_fsync_range`: an FSYNC of the whole file, a
/// SYNC_FILE_RANGE of 1 KiB at 3 KiB, and an FSYNC of that range
/// (`off`/`len` in the SQE) each complete with 0. A port's check that the
/// range reaches the kernel: the same ops on a descriptor opened for
/// reading only still complete (fsync does not need write access), and on
/// a pipe they fail with `EINVAL`, as `fsync(2)` does.
#[test]
fn fs_test_file_fsync_and_ranges() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&[0x2; 3 * 1024]).unwrap();
    file.write_all(&[0x3; 1024]).unwrap();
    let (rd, _wr) = pipe();
    let cqes = ring.scope(|s| {
        s.push(Fsync::new(&file).user_data(0x03)).unwrap();
        s.push(
            SyncFileRange::new(&file)
                .offset(3 * 1024)
                .len(1024)
                .user_data(0x04),
        )
        .unwrap();
        s.push(Fsync::new(&file).offset(3 * 1024).len(1024).user_data(0x14))
            .unwrap();
        s.push(Fsync::new(&rd).user_data(0x15)).unwrap();
        scope_reap!(s, 4)
    });
    assert_eq!(
        sorted(cqes),
        [(0x03, 0), (0x04, 0), (0x14, 0), (0x15, -libc::EINVAL)]
    );
}

/// `fs::test_file_fallocate`: FALLOCATE of 1024 bytes at offset 0 of an
/// empty file completes with 0, and the file is then 1024 bytes long (mode
/// 0 extends it).
#[test]
fn fs_test_file_fallocate() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let file = tempfile::tempfile().unwrap();
    let cqe = uring_tests::complete(&mut ring, Fallocate::new(&file, 1024).user_data(0x10));
    assert_eq!((cqe.user_data(), cqe.res()), (0x10, 0));
    assert_eq!(file.metadata().unwrap().len(), 1024);
}

fn open_how(flags: i32, mode: u32) -> libc::open_how {
    // SAFETY: all-zero bytes are a valid `open_how`.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = flags as u64;
    how.mode = u64::from(mode);
    how
}

/// `fs::test_file_openat2`: OPENAT2 with `O_CREAT` relative to the working
/// directory (`AT_FDCWD`) creates the file and completes with a descriptor
/// of a regular file, handed over by the scope (`take_fd`, where the crate
/// wraps the raw result).
#[test]
fn fs_test_file_openat2() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<OpenAt2<'_>>(&ring) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test-io-uring-openat2");
    let cpath = cstring(&path);
    let how = open_how(libc::O_CREAT | libc::O_CLOEXEC | libc::O_RDWR, 0o644);
    let (res, fd) = ring.scope(|s| {
        s.push(OpenAt2::new(Fd::CWD, &cpath, &how).user_data(0x11))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.user_data(), 0x11);
        (cqe.res(), cqe.take_fd())
    });
    assert!(res >= 0, "openat2: {res}");
    let fd = fd.expect("the new descriptor");
    assert_eq!(fd.as_raw_fd(), res);
    let file = File::from(fd);
    assert!(file.metadata().unwrap().is_file());
    assert!(path.is_file());
}

/// `fs::test_file_openat2_close_file_index` and
/// `fs::test_file_openat_close_file_index`: over a sparse table of two
/// slots, three opens into an allocated slot give slots 0, then 1, then
/// fail (`-ENFILE`: none free); CLOSE of each slot completes with 0; opens
/// into slots named in reverse order (1, then 0) complete with 0 (not the
/// slot) and leave the files there, and the table unregisters cleanly. The
/// crate's third explicit round names slot 2 of the two-slot table and
/// expects a failure: here a slot past the table cannot be named at all
/// (`FixedFiles::get_mut(2)` is an error before any SQE).
#[test]
fn fs_test_file_openat_and_openat2_close_file_index() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<OpenAt2<'_>>(&ring) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for use_openat2 in [true, false] {
        let mut files = ring.register_files_sparse(2).unwrap();
        let name = |tag: &str, round: u32| {
            cstring(
                &dir.path()
                    .join(format!("{use_openat2}-{tag}-round-{round}")),
            )
        };
        // O_CLOEXEC is refused for a direct descriptor.
        let how = open_how(libc::O_CREAT | libc::O_RDWR, 0o644);
        let mut results = Vec::new();
        for round in 0..3 {
            let path = name("a", round);
            let cqe = if use_openat2 {
                uring_tests::complete(
                    &mut ring,
                    OpenAt2::new(Fd::CWD, &path, &how)
                        .direct(DirectSlot::ALLOC)
                        .user_data(0x11),
                )
            } else {
                uring_tests::complete(
                    &mut ring,
                    OpenAt::new(Fd::CWD, &path)
                        .open_flags(libc::O_CREAT | libc::O_RDWR)
                        .mode(0o644)
                        .direct(DirectSlot::ALLOC)
                        .user_data(0x11),
                )
            };
            results.push(cqe.res());
        }
        assert_eq!(results, [0, 1, -libc::ENFILE], "openat2: {use_openat2}");
        for slot in 0..2 {
            let cqe = uring_tests::complete(
                &mut ring,
                Close::new(files.get_mut(slot).unwrap()).user_data(0x12),
            );
            assert_eq!((cqe.user_data(), cqe.res()), (0x12, 0));
        }
        assert!(files.get_mut(2).is_err(), "a slot past the table");
        let mut results = Vec::new();
        for slot in (0..2).rev() {
            let path = name("b", slot);
            let target = DirectSlot::at(files.get_mut(slot).unwrap());
            let cqe = if use_openat2 {
                uring_tests::complete(
                    &mut ring,
                    OpenAt2::new(Fd::CWD, &path, &how)
                        .direct(target)
                        .user_data(0x11),
                )
            } else {
                uring_tests::complete(
                    &mut ring,
                    OpenAt::new(Fd::CWD, &path)
                        .open_flags(libc::O_CREAT | libc::O_RDWR)
                        .mode(0o644)
                        .direct(target)
                        .user_data(0x11),
                )
            };
            results.push(cqe.res());
        }
        assert_eq!(results, [0, 0], "openat2: {use_openat2}");
        // The slots hold the files just opened: a write through each lands
        // in its file.
        for slot in 0..2 {
            let fixed = files.get(slot).unwrap();
            let cqe = uring_tests::complete(&mut ring, Write::new(fixed, b"slot"));
            assert_eq!(cqe.res(), 4);
            let path = dir.path().join(format!("{use_openat2}-b-round-{slot}"));
            assert_eq!(std::fs::read(path).unwrap(), b"slot");
        }
        for slot in 0..2 {
            let cqe = uring_tests::complete(&mut ring, Close::new(files.get_mut(slot).unwrap()));
            assert_eq!(cqe.res(), 0);
        }
        ring.unregister_files(files).unwrap();
    }
}

/// `fs::test_file_close`: CLOSE of a descriptor completes with 0. Here the
/// op takes the descriptor (an `OwnedFd`, pushed with `Ring::push`: it
/// borrows nothing), so nothing else closes it again. That the kernel
/// really closed it shows on a pipe: once CLOSE of its only write end
/// completed, its reader reads end of file.
#[test]
fn fs_test_file_close() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let file = tempfile::tempfile().unwrap();
    ring.push(Close::new(OwnedFd::from(file)).user_data(0x12))
        .unwrap();
    let cqes = wait_cqes(&mut ring, 1);
    assert_eq!(pairs(&cqes), [(0x12, 0)]);
    let (rd, wr) = pipe();
    ring.push(Close::new(wr).user_data(0x13)).unwrap();
    let cqes = wait_cqes(&mut ring, 1);
    assert_eq!(pairs(&cqes), [(0x13, 0)]);
    assert_eq!(
        File::from(rd).read(&mut [0u8; 4]).unwrap(),
        0,
        "end of file"
    );
}

fn zeroed_statx() -> libc::statx {
    // SAFETY: all-zero bytes are a valid `statx`.
    unsafe { std::mem::zeroed() }
}

/// `fs::test_statx`: STATX of a path (relative to `AT_FDCWD`) and of an
/// open descriptor (`AT_EMPTY_PATH` with an empty path) both complete
/// with 0 and fill in what `statx(2)` gives: the same size, inode and
/// mode as `std::fs::metadata`.
#[test]
fn fs_test_statx() {
    let _watch = uring_tests::watchdog();
    use std::os::unix::fs::MetadataExt as _;
    let mut ring = Ring::new(8).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("statx-me");
    std::fs::write(&path, pattern_text(1234)).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    let cpath = cstring(&path);
    let mut by_path = zeroed_statx();
    let cqe = uring_tests::complete(
        &mut ring,
        Statx::new(Fd::CWD, &cpath, &mut by_path)
            .mask(libc::STATX_ALL)
            .user_data(0x99),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (0x99, 0));
    let file = File::open(&path).unwrap();
    let mut by_fd = zeroed_statx();
    let cqe = uring_tests::complete(
        &mut ring,
        Statx::new(&file, c"", &mut by_fd)
            .statx_flags(libc::AT_EMPTY_PATH)
            .mask(libc::STATX_ALL)
            .user_data(0x9a),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (0x9a, 0));
    for st in [&by_path, &by_fd] {
        assert_eq!(st.stx_size, 1234);
        assert_eq!(st.stx_size, meta.len());
        assert_eq!(st.stx_ino, meta.ino());
        assert_eq!(u32::from(st.stx_mode), meta.mode());
        assert_eq!(
            st.stx_mask & libc::STATX_BASIC_STATS,
            libc::STATX_BASIC_STATS
        );
    }
    // A path that does not exist: ENOENT.
    let missing = cstring(&dir.path().join("missing"));
    let mut st = zeroed_statx();
    let cqe = uring_tests::complete(&mut ring, Statx::new(Fd::CWD, &missing, &mut st));
    assert_eq!(cqe.res(), -libc::ENOENT);
}

fn pattern_text(n: usize) -> Vec<u8> {
    uring_tests::pattern(n, 7)
}

/// `fs::test_file_direct_write_read`: on a file opened `O_DIRECT`, a write
/// and a read of one aligned 4 KiB block each complete with 4096 and the
/// bytes come back; a read into a buffer one byte off the alignment fails
/// with `-EINVAL` (the crate only warns when a file system falls back to
/// buffered I/O; ext4 does not, so this port asserts it).
#[test]
fn fs_test_file_direct_write_read() {
    let _watch = uring_tests::watchdog();
    #[repr(C, align(4096))]
    struct Aligned([u8; 8192]);
    let mut ring = Ring::new(8).unwrap();
    let dir = tempfile::TempDir::new_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let path = dir.path().join("io-uring-test-file");
    std::fs::write(&path, b"").unwrap();
    let Some(file) = uring_tests::open_direct(&path, true) else {
        return;
    };
    let input = Box::new(Aligned([0xf9; 8192]));
    let mut output = Box::new(Aligned([0; 8192]));
    let cqes = ring.scope(|s| {
        s.push(Write::new(&file, &input.0[..4096]).user_data(0x01))
            .unwrap();
        let mut cqes = scope_reap!(s, 1);
        s.push(Read::new(&file, &mut output.0[..4096]).user_data(0x02))
            .unwrap();
        cqes.extend(scope_reap!(s, 1));
        cqes
    });
    assert_eq!(pairs(&cqes), [(0x01, 4096), (0x02, 4096)]);
    assert_eq!(output.0[..4096], input.0[..4096]);
    assert_eq!(output.0[0], 0xf9);
    let mut buf = Box::new(Aligned([0; 8192]));
    let cqe = uring_tests::complete(
        &mut ring,
        Read::new(&file, &mut buf.0[1..4097]).user_data(0x03),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (0x03, -libc::EINVAL));
    assert!(buf.0.iter().all(|&b| b == 0), "the failed read wrote");
}

/// `fs::test_pipe_fixed_writev_readv` (6.15): WRITEV_FIXED of two iovecs
/// inside registered buffer 0 into a pipe, then READV_FIXED of two iovecs
/// inside registered buffer 1 out of it; both complete with the whole
/// length and the destination holds the source.
#[test]
fn fs_test_pipe_fixed_writev_readv() {
    let _watch = uring_tests::watchdog();
    use uring::ops::{ReadVFixed, WriteVFixed};
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<ReadVFixed<'_, '_>>(&ring) || !require_op::<WriteVFixed<'_, '_>>(&ring) {
        return;
    }
    let (rx, tx) = pipe();
    let mut src = [TEXT, TEXT2].concat();
    let mut dst = vec![0u8; src.len()];
    // SAFETY: `src` and `dst` outlive the registration (unregistered below,
    // after the scope has waited for both ops) and are touched meanwhile
    // only through the ops.
    let bufs =
        unsafe { ring.register_buffers(&[IoSliceMut::new(&mut src), IoSliceMut::new(&mut dst)]) }
            .unwrap();
    let (b0, b1) = (bufs.get(0).unwrap(), bufs.get(1).unwrap());
    let (a, b) = src.split_at(TEXT.len());
    let src_parts = [IoSlice::new(a), IoSlice::new(b)];
    let (c, d) = dst.split_at_mut(TEXT.len());
    let mut dst_parts = [IoSliceMut::new(c), IoSliceMut::new(d)];
    let cqes = ring.scope(|s| {
        s.push(WriteVFixed::new(&tx, &src_parts[..], b0).user_data(1))
            .unwrap();
        let mut cqes = scope_reap!(s, 1);
        s.push(ReadVFixed::new(&rx, &mut dst_parts[..], b1).user_data(2))
            .unwrap();
        cqes.extend(scope_reap!(s, 1));
        cqes
    });
    let n = src.len() as i32;
    assert_eq!(pairs(&cqes), [(1, n), (2, n)]);
    ring.unregister_buffers(bufs).unwrap();
    assert_eq!(src, dst);
}

/// `fs::test_file_splice`: SPLICE of 1024 bytes from offset 0 of a file
/// into a pipe completes with 1024, and the pipe then holds the file's
/// bytes.
#[test]
fn fs_test_file_splice() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("io-uring-test-file-input");
    let input = [0x9f; 1024];
    std::fs::write(&path, input).unwrap();
    let file = File::open(&path).unwrap();
    let (rd, wr) = pipe();
    let cqe = uring_tests::complete(
        &mut ring,
        Splice::new(&wr, &file, 1024).offset_in(0).user_data(0x33),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (0x33, 1024));
    let mut output = [0u8; 1024];
    File::from(rd).read_exact(&mut output).unwrap();
    assert_eq!(output, input);
}

/// `fs::test_ftruncate` (6.9): FTRUNCATE to 512 bytes keeps the first 512,
/// and to 0 empties the file; each completes with 0. A descriptor opened
/// read-only cannot be truncated: `-EINVAL`, as `ftruncate(2)` answers.
#[test]
fn fs_test_ftruncate() {
    let _watch = uring_tests::watchdog();
    use uring::ops::Ftruncate;
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Ftruncate>(&ring) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("io-uring-test-file-input");
    let input = pattern_text(1024);
    std::fs::write(&path, &input).unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    let cqe = uring_tests::complete(&mut ring, Ftruncate::new(&file, 512).user_data(0x33));
    assert_eq!((cqe.user_data(), cqe.res()), (0x33, 0));
    assert_eq!(std::fs::read(&path).unwrap(), &input[..512]);
    let cqe = uring_tests::complete(&mut ring, Ftruncate::new(&file, 0).user_data(0x34));
    assert_eq!((cqe.user_data(), cqe.res()), (0x34, 0));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    let read_only = File::open(&path).unwrap();
    let cqe = uring_tests::complete(&mut ring, Ftruncate::new(&read_only, 10));
    assert_eq!(cqe.res(), -libc::EINVAL);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
}

/// `fs::test_fixed_fd_install` (6.8): a READ through registered file 0
/// gives the file's 1024 bytes; FIXED_FD_INSTALL of that slot completes
/// with a new regular descriptor (handed over by `take_fd`) that shares
/// the open file: reading it gives the same bytes, and it is
/// close-on-exec by default.
#[test]
fn fs_test_fixed_fd_install() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FixedFdInstall>(&ring) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("io-uring-test-file-input");
    let input = pattern_text(1024);
    std::fs::write(&path, &input).unwrap();
    let file = File::open(&path).unwrap();
    let files = ring.register_files(&[file.as_fd()]).unwrap();
    drop(file);
    let mut output = vec![0u8; 1024];
    let cqe = uring_tests::complete(
        &mut ring,
        Read::new(files.get(0).unwrap(), &mut output[..]).user_data(0x01),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (0x01, 1024));
    assert_eq!(output, input);
    let (res, fd) = ring.scope(|s| {
        s.push(FixedFdInstall::new(files.get(0).unwrap()).user_data(0x02))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.user_data(), 0x02);
        (cqe.res(), cqe.take_fd())
    });
    assert!(res >= 0, "install: {res}");
    let fd = fd.expect("the installed descriptor");
    assert_eq!(fd.as_raw_fd(), res);
    // SAFETY: F_GETFD only reads the descriptor's flags.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
    assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
    let mut installed = File::from(fd);
    let mut again = vec![0u8; 1024];
    installed.read_exact(&mut again).unwrap();
    assert_eq!(again, input);
    ring.unregister_files(files).unwrap();
}

/// `fs::test_get_set_xattr` and `fs::test_f_get_set_xattr` (5.19): SETXATTR
/// by path and FSETXATTR by descriptor complete with 0; GETXATTR and
/// FGETXATTR into a 128-byte buffer complete with the value's length and
/// write it. A name that is not set gives `-ENODATA`.
#[test]
fn fs_test_get_set_xattr_and_f_get_set_xattr() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SetXattr<'_>>(&ring) {
        return;
    }
    let dir = tempfile::TempDir::new_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let path = dir.path().join("test-file");
    std::fs::write(&path, b"test content").unwrap();
    let cpath = cstring(&path);
    let value = b"test_value";
    let cqe = uring_tests::complete(
        &mut ring,
        SetXattr::new(&cpath, c"user.test_attr", value).user_data(0x01),
    );
    if cqe.res() == -libc::EOPNOTSUPP {
        skip("the file system of the target directory has no user xattrs");
        return;
    }
    assert_eq!((cqe.user_data(), cqe.res()), (0x01, 0));
    let mut buffer = [0u8; 128];
    let cqe = uring_tests::complete(
        &mut ring,
        GetXattr::new(&cpath, c"user.test_attr", &mut buffer[..]).user_data(0x02),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (0x02, value.len() as i32));
    assert_eq!(&buffer[..value.len()], value);
    assert!(buffer[value.len()..].iter().all(|&b| b == 0));

    let file = tempfile::tempfile_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let cqe = uring_tests::complete(
        &mut ring,
        FSetXattr::new(&file, c"user.test_attr", b"fd value").user_data(0x03),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (0x03, 0));
    let mut buffer = [0u8; 128];
    let cqe = uring_tests::complete(
        &mut ring,
        FGetXattr::new(&file, c"user.test_attr", &mut buffer[..]).user_data(0x04),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (0x04, 8));
    assert_eq!(&buffer[..8], b"fd value");
    let cqe = uring_tests::complete(
        &mut ring,
        FGetXattr::new(&file, c"user.not_set", &mut buffer[..]),
    );
    assert_eq!(cqe.res(), -libc::ENODATA);
}

/// `fs::test_pipe_read_multishot` (6.7): a multishot READ on a pipe with a
/// buffer ring of two buffers (group 0xcafe, each as long as the longer
/// text). Each write is read into the next buffer (ids 0, then 1), each
/// completion flagged `F_MORE`; once both buffers are given back, two
/// writes back to back are read into 0 and 1 again, in order (the buffers
/// are exactly as long as the first text, so however the kernel finds
/// them in the pipe, it reads the first text whole); when the write end
/// closes, the read ends with a completion of 0 bytes, naming no buffer,
/// without `F_MORE`. The crate writes with WRITE ops; here the writes are
/// `write(2)` calls, so that the scope's closure can close the write end.
#[test]
fn fs_test_pipe_read_multishot() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<ReadMultishot>(&ring) {
        return;
    }
    let len = TEXT.len().max(TEXT2.len()) as u32;
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 0xcafe, 2, len) else {
        return;
    };
    let (rx, tx) = pipe();
    let mut tx = File::from(tx);
    const READ: u64 = 1;
    ring.scope(|s| {
        s.push(ReadMultishot::new(&rx, pool.group()).user_data(READ))
            .unwrap();
        s.submit().unwrap();
        let mut reads = Vec::new();
        let read = |s: &mut uring::Scope<'_, '_>, reads: &mut Vec<(Option<u16>, Vec<u8>)>, n| {
            while reads.len() < n {
                s.wait_timeout(1, PATIENCE).unwrap();
                for mut cqe in s.completions() {
                    assert_eq!(cqe.user_data(), READ);
                    assert!(cqe.has_more(), "{cqe:?}");
                    let bid = cqe.buffer_id();
                    let buf = pool.claim(&mut cqe).unwrap();
                    reads.push((bid, buf.to_vec()));
                    // `buf` drops here: the buffer goes back to the ring.
                }
            }
        };
        tx.write_all(TEXT).unwrap();
        read(s, &mut reads, 1);
        tx.write_all(TEXT2).unwrap();
        read(s, &mut reads, 2);
        tx.write_all(TEXT).unwrap();
        tx.write_all(TEXT2).unwrap();
        read(s, &mut reads, 4);
        assert_eq!(
            reads,
            [
                (Some(0), TEXT.to_vec()),
                (Some(1), TEXT2.to_vec()),
                (Some(0), TEXT.to_vec()),
                (Some(1), TEXT2.to_vec()),
            ]
        );
        // The write end closes: the read ends.
        drop(tx);
        s.wait_timeout(1, PATIENCE).unwrap();
        let last: Vec<Cqe> = s.completions().map(|c| c.cqe()).collect();
        assert_eq!(pairs(&last), [(READ, 0)]);
        assert!(!last[0].has_more());
        assert_eq!(last[0].buffer_id(), None);
    });
}

// ---------------------------------------------------------------- timeout.rs

/// The crate's timeouts are a second long; here 200 ms, and the elapsed
/// times are checked against generous bounds: never before the timer
/// (hrtimers do not fire early), and within a few seconds.
const TICK: Duration = Duration::from_millis(200);
const LATE: Duration = Duration::from_secs(5);

/// `timeout::test_timeout`: a TIMEOUT alone completes with `-ETIME` after
/// its time; a TIMEOUT pushed with a NOP lets the NOP complete first (with
/// 0, long before the time), then fires with `-ETIME`.
#[test]
fn timeout_test_timeout() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(Timeout::new(TICK).user_data(0x09)).unwrap();
    let start = Instant::now();
    let cqes = wait_cqes(&mut ring, 1);
    let took = start.elapsed();
    assert_eq!(pairs(&cqes), [(0x09, -libc::ETIME)]);
    assert!(took >= TICK && took < LATE, "{took:?}");

    ring.push(Timeout::new(TICK).user_data(0x0a)).unwrap();
    ring.push(Nop::new().user_data(0x0b)).unwrap();
    let start = Instant::now();
    let cqes = wait_cqes(&mut ring, 1);
    assert_eq!(pairs(&cqes), [(0x0b, 0)]);
    assert!(start.elapsed() < TICK, "the NOP waited for the timer");
    let cqes = wait_cqes(&mut ring, 1);
    let took = start.elapsed();
    assert_eq!(pairs(&cqes), [(0x0a, -libc::ETIME)]);
    assert!(took >= TICK && took < LATE, "{took:?}");
}

/// `timeout::test_timeout_count`: a TIMEOUT of a second with a count of 1
/// completes with 0 as soon as one other completion (the NOP's) is posted,
/// long before its time.
#[test]
fn timeout_test_timeout_count() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(
        Timeout::new(Duration::from_secs(1))
            .count(1)
            .user_data(0x0c),
    )
    .unwrap();
    ring.push(Nop::new().user_data(0x0d)).unwrap();
    let start = Instant::now();
    let cqes = wait_cqes(&mut ring, 2);
    assert!(
        start.elapsed() < Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(sorted(cqes), [(0x0c, 0), (0x0d, 0)]);
}

/// `timeout::test_timeout_remove` and `timeout::test_timeout_cancel`: a
/// TIMEOUT of a second, removed by TIMEOUT_REMOVE (or cancelled by
/// ASYNC_CANCEL) of its `user_data`, completes at once with `-ECANCELED`;
/// the removal completes with 0. A second removal of the same `user_data`
/// finds nothing: `-ENOENT`.
#[test]
fn timeout_test_timeout_remove_and_cancel() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    for by_cancel in [false, true] {
        ring.push(Timeout::new(Duration::from_secs(1)).user_data(0x10))
            .unwrap();
        ring.submit().unwrap();
        if by_cancel {
            ring.push(Cancel::new(0x10).user_data(0x11)).unwrap();
        } else {
            ring.push(TimeoutRemove::new(0x10).user_data(0x11)).unwrap();
        }
        let start = Instant::now();
        let cqes = wait_cqes(&mut ring, 2);
        assert!(start.elapsed() < Duration::from_millis(900));
        assert_eq!(
            sorted(cqes),
            [(0x10, -libc::ECANCELED), (0x11, 0)],
            "by cancel: {by_cancel}"
        );
        if by_cancel {
            ring.push(Cancel::new(0x10).user_data(0x12)).unwrap();
        } else {
            ring.push(TimeoutRemove::new(0x10).user_data(0x12)).unwrap();
        }
        let cqes = wait_cqes(&mut ring, 1);
        assert_eq!(
            pairs(&cqes),
            [(0x12, -libc::ENOENT)],
            "by cancel: {by_cancel}"
        );
    }
}

/// `timeout::test_timeout_update`: a TIMEOUT of 1 ms updated to 2 ms
/// (TIMEOUT_REMOVE with `IORING_TIMEOUT_UPDATE`) fires with `-ETIME` no
/// sooner than 2 ms after the update; the update completes with 0. Here
/// also the other way: a timeout of 10 s updated to 50 ms fires after the
/// new time, so the update took.
#[test]
fn timeout_test_timeout_update() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(Timeout::new(Duration::from_millis(1)).user_data(0x10))
        .unwrap();
    ring.submit().unwrap();
    ring.push(TimeoutUpdate::new(0x10, Duration::from_millis(2)).user_data(0x11))
        .unwrap();
    let start = Instant::now();
    let cqes = wait_cqes(&mut ring, 2);
    let sorted_cqes = sorted(cqes);
    // The 1 ms timer may fire before the update reaches it: then the
    // update finds nothing (-ENOENT). Either way the pair is consistent.
    match sorted_cqes[1] {
        (0x11, 0) => assert!(start.elapsed() >= Duration::from_millis(2)),
        (0x11, e) if e == -libc::ENOENT => {}
        other => panic!("update: {other:?}"),
    }
    assert_eq!(sorted_cqes[0], (0x10, -libc::ETIME));

    ring.push(Timeout::new(Duration::from_secs(10)).user_data(0x20))
        .unwrap();
    ring.submit().unwrap();
    ring.push(TimeoutUpdate::new(0x20, Duration::from_millis(50)).user_data(0x21))
        .unwrap();
    let start = Instant::now();
    let cqes = wait_cqes(&mut ring, 2);
    let took = start.elapsed();
    assert_eq!(sorted(cqes), [(0x20, -libc::ETIME), (0x21, 0)]);
    assert!(took >= Duration::from_millis(50) && took < LATE, "{took:?}");
}

/// `timeout::test_timeout_abs`: a TIMEOUT at an absolute `CLOCK_MONOTONIC`
/// time (`IORING_TIMEOUT_ABS`) fires with `-ETIME` at that time, not
/// before. The crate reads the clock with `clock_gettime` and adds 2 s;
/// here `Timespec::monotonic_at` of an `Instant` 300 ms ahead.
#[test]
fn timeout_test_timeout_abs() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let start = Instant::now();
    let at = start + Duration::from_millis(300);
    ring.push(
        Timeout::new(Timespec::monotonic_at(at))
            .timeout_flags(TimeoutFlags::ABS)
            .user_data(0x19),
    )
    .unwrap();
    let cqes = wait_cqes(&mut ring, 1);
    let now = Instant::now();
    assert_eq!(pairs(&cqes), [(0x19, -libc::ETIME)]);
    assert!(now >= at, "fired {:?} early", at - now);
    assert!(now - start < LATE);
}

/// `timeout::test_timeout_submit_args`: a wait for one completion with a
/// timeout in the enter's extended argument fails with `ETIME` after the
/// time and leaves the CQ empty; with a NOP pushed, the same wait returns
/// at once with the NOP's completion.
#[test]
fn timeout_test_timeout_submit_args() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_features(&ring, Features::EXT_ARG, "waits with a timeout argument") {
        return;
    }
    let args = WaitArgs::new().timeout(TICK);
    let start = Instant::now();
    let err = ring.submit_and_wait_with(1, &args).unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, Error::TimedOut), "{err:?}");
    assert_eq!(err.raw_os_error(), Some(libc::ETIME));
    assert!(took >= TICK && took < LATE, "{took:?}");
    assert_eq!(ring.completions().count(), 0);

    ring.push(Nop::new().user_data(0x1c)).unwrap();
    let start = Instant::now();
    assert_eq!(ring.submit_and_wait_with(1, &args).unwrap(), 1);
    assert!(start.elapsed() < TICK);
    assert_eq!(pairs(&ring.completions().collect::<Vec<_>>()), [(0x1c, 0)]);
}

/// `timeout::test_timeout_submit_args_min_wait` (6.12): a wait for two
/// completions with a timeout of 2 T and a minimum wait of T fails with
/// `ETIME` after 2 T when none comes; with one NOP pushed it returns after
/// the minimum wait (not before, and before the timeout) with that one
/// completion, fewer than asked for.
#[test]
fn timeout_test_timeout_submit_args_min_wait() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_features(&ring, Features::MIN_TIMEOUT, "waits with a minimum wait") {
        return;
    }
    let (min, max) = (Duration::from_millis(300), Duration::from_millis(1500));
    let args = WaitArgs::new().timeout(max).min_wait(min);
    let start = Instant::now();
    let err = ring.submit_and_wait_with(2, &args).unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, Error::TimedOut), "{err:?}");
    assert!(took >= max && took < max + LATE, "{took:?}");
    assert_eq!(ring.completions().count(), 0);

    ring.push(Nop::new().user_data(0x1d)).unwrap();
    let start = Instant::now();
    ring.submit_and_wait_with(2, &args).unwrap();
    let took = start.elapsed();
    assert!(took >= min && took < max, "{took:?}");
    assert_eq!(pairs(&ring.completions().collect::<Vec<_>>()), [(0x1d, 0)]);
}

/// `timeout::test_timeout_multishot` (6.4): a multishot TIMEOUT with a
/// count of 2 fires twice, each time with `-ETIME`, the first flagged
/// `F_MORE` and the second not; the second comes one period after the
/// first; nothing comes after it.
#[test]
fn timeout_test_timeout_multishot() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(
        Timeout::new(TICK)
            .timeout_flags(TimeoutFlags::MULTISHOT)
            .count(2)
            .user_data(0x0c),
    )
    .unwrap();
    let start = Instant::now();
    let first = wait_cqes(&mut ring, 1);
    let t1 = start.elapsed();
    let second = wait_cqes(&mut ring, 1);
    let t2 = start.elapsed();
    if first[0].res() == -libc::EINVAL {
        skip("no multishot timeouts (6.4)");
        return;
    }
    assert_eq!(pairs(&first), [(0x0c, -libc::ETIME)]);
    assert!(first[0].has_more());
    assert_eq!(pairs(&second), [(0x0c, -libc::ETIME)]);
    assert!(!second[0].has_more());
    assert!(t1 >= TICK && t2 >= 2 * TICK && t2 < LATE, "{t1:?} {t2:?}");
    assert!(nothing_within(&mut ring, 300).is_empty());
}

// ---------------------------------------------------------------- poll.rs

/// `poll::test_eventfd_poll`: a POLL_ADD for `POLLIN` on an eventfd whose
/// counter is 0 does not complete; after a write it completes with
/// `POLLIN` (1).
#[test]
fn poll_test_eventfd_poll() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let fd = eventfd();
    let cqes = ring.scope(|s| {
        s.push(PollAdd::new(&fd, PollEvents::IN).user_data(0x04))
            .unwrap();
        s.submit().unwrap();
        let _ = s.wait_timeout(1, Duration::from_millis(200));
        assert_eq!(s.completions().count(), 0, "ready before the write");
        (&fd).write_all(&1u64.to_ne_bytes()).unwrap();
        scope_reap!(s, 1)
    });
    assert_eq!(pairs(&cqes), [(0x04, libc::POLLIN as i32)]);
}

/// `poll::test_eventfd_poll_multi` (5.13): a multishot POLL_ADD completes
/// once per write to the eventfd, each time with `POLLIN` and `F_MORE`;
/// the scope's end cancels it.
#[test]
fn poll_test_eventfd_poll_multi() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let fd = eventfd();
    let cqes = ring.scope(|s| {
        s.push(
            PollAdd::new(&fd, PollEvents::IN)
                .poll_flags(PollFlags::MULTI)
                .user_data(0x04),
        )
        .unwrap();
        s.submit().unwrap();
        let _ = s.wait_timeout(1, Duration::from_millis(200));
        assert_eq!(s.completions().count(), 0, "ready before the write");
        let mut cqes = Vec::new();
        for n in 1..=2u64 {
            (&fd).write_all(&n.to_ne_bytes()).unwrap();
            cqes.extend(scope_reap!(s, 1));
        }
        cqes
    });
    assert_eq!(
        pairs(&cqes),
        [(0x04, libc::POLLIN as i32), (0x04, libc::POLLIN as i32)]
    );
    assert!(cqes.iter().all(Cqe::has_more));
}

/// `poll::test_eventfd_poll_remove` and
/// `poll::test_eventfd_poll_remove_failed`: POLL_REMOVE of a pending poll
/// completes with 0 and the poll with `-ECANCELED`, and a later write
/// wakes nothing; POLL_REMOVE of a `user_data` that names no poll (the
/// crate names the remove itself, after its poll completed) gives
/// `-ENOENT`, while the poll completed with `POLLIN`.
#[test]
fn poll_test_eventfd_poll_remove_and_remove_failed() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let fd = eventfd();
    let cqes = ring.scope(|s| {
        s.push(PollAdd::new(&fd, PollEvents::IN).user_data(0x05))
            .unwrap();
        s.submit().unwrap();
        s.push(PollRemove::new(0x05).user_data(0x06)).unwrap();
        let cqes = scope_reap!(s, 2);
        (&fd).write_all(&1u64.to_ne_bytes()).unwrap();
        let _ = s.wait_timeout(1, Duration::from_millis(100));
        assert_eq!(s.completions().count(), 0, "a removed poll fired");
        cqes
    });
    assert_eq!(sorted(cqes), [(0x05, -libc::ECANCELED), (0x06, 0)]);

    // The counter is 1 now: the next poll completes at once.
    let cqes = ring.scope(|s| {
        s.push(PollAdd::new(&fd, PollEvents::IN).user_data(0x07))
            .unwrap();
        let mut cqes = scope_reap!(s, 1);
        s.push(PollRemove::new(0x08).user_data(0x08)).unwrap();
        cqes.extend(scope_reap!(s, 1));
        cqes
    });
    assert_eq!(
        sorted(cqes),
        [(0x07, libc::POLLIN as i32), (0x08, -libc::ENOENT)]
    );
}

// ---------------------------------------------------------------- cancel.rs

/// `cancel::test_async_cancel_user_data`, `..._user_data_all` and
/// `..._any` (5.19): ASYNC_CANCEL by `user_data` cancels one timeout
/// (`-ECANCELED`) and completes with 0; with `ALL` it cancels both
/// timeouts that carry the `user_data` and completes with 2; with `ANY` it
/// cancels every pending request whatever its `user_data` and completes
/// with 2. Pushed with `Ring::push` (timeouts and cancels borrow nothing),
/// so the `user_data` are the crate's, raw.
#[test]
fn cancel_test_async_cancel_user_data_all_and_any() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let long = Duration::from_secs(1);
    ring.push(Timeout::new(long).user_data(2003)).unwrap();
    ring.push(Cancel::new(2003).user_data(2004)).unwrap();
    let cqes = wait_cqes(&mut ring, 2);
    assert_eq!(sorted(cqes), [(2003, -libc::ECANCELED), (2004, 0)]);

    ring.push(Timeout::new(long).user_data(2003)).unwrap();
    ring.push(Timeout::new(long).user_data(2003)).unwrap();
    ring.push(
        Cancel::new(2003)
            .cancel_flags(CancelFlags::ALL)
            .user_data(2004),
    )
    .unwrap();
    let start = Instant::now();
    let cqes = wait_cqes(&mut ring, 3);
    assert!(start.elapsed() < Duration::from_millis(900));
    assert_eq!(
        sorted(cqes),
        [
            (2003, -libc::ECANCELED),
            (2003, -libc::ECANCELED),
            (2004, 2)
        ]
    );

    ring.push(Timeout::new(long).user_data(2003)).unwrap();
    ring.push(Timeout::new(long).user_data(2004)).unwrap();
    ring.push(
        Cancel::new(0)
            .cancel_flags(CancelFlags::ANY)
            .user_data(2005),
    )
    .unwrap();
    let cqes = wait_cqes(&mut ring, 3);
    assert_eq!(
        sorted(cqes),
        [
            (2003, -libc::ECANCELED),
            (2004, -libc::ECANCELED),
            (2005, 2)
        ]
    );
    assert!(nothing_within(&mut ring, 50).is_empty());
}

/// `cancel::test_async_cancel_fd` and `cancel::test_async_cancel_fd_all`
/// (5.19): ASYNC_CANCEL by descriptor cancels one of the polls on an
/// eventfd (`-ECANCELED`; the cancel completes with 0), and with `ALL`
/// both polls, completing with 2. In a scope, as the polls borrow the
/// eventfd.
#[test]
fn cancel_test_async_cancel_fd_and_fd_all() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<CancelFd<'_>>(&ring) {
        return;
    }
    let fd = eventfd();
    let cqes = ring.scope(|s| {
        s.push(PollAdd::new(&fd, PollEvents::IN).user_data(2003))
            .unwrap();
        s.submit().unwrap();
        s.push(CancelFd::new(&fd).user_data(2004)).unwrap();
        scope_reap!(s, 2)
    });
    assert_eq!(sorted(cqes), [(2003, -libc::ECANCELED), (2004, 0)]);

    let cqes = ring.scope(|s| {
        s.push(PollAdd::new(&fd, PollEvents::IN).user_data(2003))
            .unwrap();
        s.push(PollAdd::new(&fd, PollEvents::IN).user_data(2004))
            .unwrap();
        s.submit().unwrap();
        s.push(
            CancelFd::new(&fd)
                .cancel_flags(CancelFlags::ALL)
                .user_data(2005),
        )
        .unwrap();
        scope_reap!(s, 3)
    });
    assert_eq!(
        sorted(cqes),
        [
            (2003, -libc::ECANCELED),
            (2004, -libc::ECANCELED),
            (2005, 2)
        ]
    );
}

// ---------------------------------------------------------------- futex.rs

const INIT_VAL: u32 = 0xDEAD_BEEF;

/// `futex(2)` on a 32-bit word, as the crate's tests call it.
fn syscall_futex(futex: &AtomicU32, op: libc::c_int, val: u32) -> std::io::Result<i64> {
    // SAFETY: `futex` is a valid, aligned 32-bit word for the call's
    // length; the other pointers are null, which these ops allow.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_futex,
            futex.as_ptr(),
            op,
            val,
            std::ptr::null::<u8>(),
            std::ptr::null::<u8>(),
            0u32,
        )
    };
    if ret >= 0 {
        Ok(ret)
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// `futex::test_futex_wait` (6.7): FUTEX_WAIT on a word that holds its
/// expected value does not complete; after the word changes and
/// `futex(FUTEX_WAKE)` wakes one waiter (the syscall counts 1: the op is
/// the waiter), it completes with 0. A wait on a word that no longer holds
/// the value fails at once with `-EAGAIN`.
#[test]
fn futex_test_futex_wait() {
    let _watch = uring_tests::watchdog();
    use uring::ops::FutexWait;
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FutexWait<'_>>(&ring) {
        return;
    }
    const USER_DATA: u64 = 0xDEAD_BEEF_DEAD_BEEF;
    let futex = AtomicU32::new(INIT_VAL);
    let cqes = ring.scope(|s| {
        s.push(FutexWait::new(&futex, u64::from(INIT_VAL)).user_data(USER_DATA))
            .unwrap();
        s.submit().unwrap();
        let _ = s.wait_timeout(1, Duration::from_millis(100));
        assert_eq!(s.completions().count(), 0, "woke without a wake");
        futex.fetch_add(1, Ordering::SeqCst);
        assert_eq!(syscall_futex(&futex, libc::FUTEX_WAKE, 1).unwrap(), 1);
        scope_reap!(s, 1)
    });
    assert_eq!(pairs(&cqes), [(USER_DATA, 0)]);
    let cqe = uring_tests::complete(&mut ring, FutexWait::new(&futex, u64::from(INIT_VAL)));
    assert_eq!(cqe.res(), -libc::EAGAIN);
}

/// Waits until the thread `tid` of this process sleeps in `futex(2)`
/// (its `/proc` `syscall` line starts with the call's number).
fn until_in_futex(tid: libc::pid_t) {
    let path = format!("/proc/self/task/{tid}/syscall");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let line = std::fs::read_to_string(&path).unwrap_or_default();
        if line.split_whitespace().next() == Some(&libc::SYS_futex.to_string()) {
            return;
        }
        assert!(Instant::now() < deadline, "the thread never waited: {line}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `futex::test_futex_wake` (6.7): a thread waits in `futex(FUTEX_WAIT)`;
/// FUTEX_WAKE of one waiter completes with 1 (the waiters it woke) and
/// the thread returns. A second FUTEX_WAKE finds no waiter: 0. (The crate
/// sleeps 100 ms for the thread to be waiting; here the test reads it
/// from `/proc`.)
#[test]
fn futex_test_futex_wake() {
    let _watch = uring_tests::watchdog();
    use uring::ops::FutexWake;
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FutexWake<'_>>(&ring) {
        return;
    }
    const USER_DATA: u64 = 0xBEEF_DEAD_BEEF_DEAD;
    let futex = Arc::new(AtomicU32::new(INIT_VAL));
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn({
        let futex = futex.clone();
        move || {
            // SAFETY: gettid has no preconditions.
            tx.send(unsafe { libc::gettid() }).unwrap();
            let mut wakes = 0;
            while futex.load(Ordering::SeqCst) == INIT_VAL {
                match syscall_futex(&futex, libc::FUTEX_WAIT, INIT_VAL) {
                    Ok(0) => wakes += 1,
                    Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {}
                    Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                    other => panic!("futex wait: {other:?}"),
                }
            }
            wakes
        }
    });
    until_in_futex(rx.recv().unwrap());
    assert!(!waiter.is_finished());
    futex.store(INIT_VAL + 1, Ordering::SeqCst);
    let cqe = uring_tests::complete(&mut ring, FutexWake::new(&futex, 1).user_data(USER_DATA));
    assert_eq!((cqe.user_data(), cqe.res()), (USER_DATA, 1));
    assert_eq!(waiter.join().unwrap(), 1, "the thread was woken once");
    let cqe = uring_tests::complete(&mut ring, FutexWake::new(&futex, 1));
    assert_eq!(cqe.res(), 0);
}

/// `futex::test_futex_waitv` (6.7): FUTEX_WAITV over five words completes,
/// once the fourth (index 3) changes and is woken, with that word's index.
#[test]
fn futex_test_futex_waitv() {
    let _watch = uring_tests::watchdog();
    use uring::ops::FutexWaitv;
    use uring::{FutexFlags, FutexWaitV};
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FutexWaitv<'_>>(&ring) {
        return;
    }
    const USER_DATA: u64 = 0xDEAD_BEEF_BEEF_DEAD;
    const TRIGGER_IDX: usize = 3;
    let futexes: [AtomicU32; 5] = std::array::from_fn(|_| AtomicU32::new(INIT_VAL));
    let waitv: Vec<FutexWaitV<'_>> = futexes
        .iter()
        .map(|f| FutexWaitV::new(f, INIT_VAL, FutexFlags::empty()))
        .collect();
    let cqes = ring.scope(|s| {
        s.push(FutexWaitv::new(&waitv[..]).user_data(USER_DATA))
            .unwrap();
        s.submit().unwrap();
        let _ = s.wait_timeout(1, Duration::from_millis(100));
        assert_eq!(s.completions().count(), 0, "woke without a wake");
        futexes[TRIGGER_IDX].fetch_add(1, Ordering::SeqCst);
        assert_eq!(
            syscall_futex(&futexes[TRIGGER_IDX], libc::FUTEX_WAKE, 1).unwrap(),
            1
        );
        scope_reap!(s, 1)
    });
    assert_eq!(pairs(&cqes), [(USER_DATA, TRIGGER_IDX as i32)]);
}

// ---------------------------------------------------------------- os.rs

/// `os::test_waitid` (6.7): WAITID for a running `cat` child (`P_PID`,
/// `WEXITED`) does not complete while it runs; once its stdin closes and
/// it exits, it completes with 0 and the `siginfo` names the child, exited
/// with status 0.
#[test]
fn os_test_waitid() {
    let _watch = uring_tests::watchdog();
    use std::process::{Command, Stdio};
    use uring::WaitIdTarget;
    use uring::ops::WaitId;
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<WaitId<'_>>(&ring) {
        return;
    }
    // Reaped by the WAITID op, not by `Child::wait`.
    #[allow(clippy::zombie_processes)]
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    // SAFETY: all-zero bytes are a valid `siginfo_t`.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let cqes = ring.scope(|s| {
        s.push(WaitId::new(WaitIdTarget::pid(pid), libc::WEXITED, &mut info).user_data(0x110))
            .unwrap();
        s.submit().unwrap();
        let _ = s.wait_timeout(1, Duration::from_millis(100));
        assert_eq!(s.completions().count(), 0, "completed while cat runs");
        child.stdin = None;
        scope_reap!(s, 1)
    });
    assert_eq!(pairs(&cqes), [(0x110, 0)]);
    assert_eq!(info.si_signo, libc::SIGCHLD);
    assert_eq!(info.si_code, libc::CLD_EXITED);
    // SAFETY: the kernel filled in a SIGCHLD siginfo.
    let (who, status) = unsafe { (info.si_pid(), info.si_status()) };
    assert_eq!((who, status), (pid, 0));
    // Reaped: a second wait finds no such child.
    // SAFETY: all-zero bytes are a valid `siginfo_t`.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let cqe = uring_tests::complete(
        &mut ring,
        WaitId::new(WaitIdTarget::pid(pid), libc::WEXITED, &mut info),
    );
    assert_eq!(cqe.res(), -libc::ECHILD);
}

// ---------------------------------------------------------------- pipe.rs

/// `pipe::test_pipe` (6.16): PIPE completes with 0 and two new
/// descriptors, a pipe: 1024 writes of "foo" to the second read back from
/// the first. Pushed over an owned buffer, whose first eight bytes the
/// kernel writes the descriptors to, so that the scope hands them over
/// (`take_pipe`) where the crate reads a raw `[i32; 2]`.
#[test]
fn pipe_test_pipe() {
    let _watch = uring_tests::watchdog();
    use uring::ops::Pipe;
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Pipe<'_>>(&ring) {
        return;
    }
    const DATA: &[u8] = b"foo";
    let (res, ends) = ring.scope(|s| {
        s.push_owned(vec![0u8; 8], |buf, sq| {
            sq.push(Pipe::new(buf.first_chunk_mut::<8>().unwrap()).user_data(1))
        })
        .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.user_data(), 1);
        (cqe.res(), cqe.take_pipe())
    });
    assert_eq!(res, 0);
    let (rx, tx) = ends.expect("both ends");
    assert_ne!(rx.as_raw_fd(), tx.as_raw_fd());
    let (mut rx, mut tx) = (File::from(rx), File::from(tx));
    let writer = std::thread::spawn(move || {
        for _ in 0..1024 {
            tx.write_all(DATA).unwrap();
        }
    });
    let mut buf = vec![0u8; DATA.len() * 1024];
    rx.read_exact(&mut buf).unwrap();
    writer.join().unwrap();
    assert!(buf.chunks(DATA.len()).all(|c| c == DATA));
    // The write end is closed: end of file.
    assert_eq!(rx.read(&mut [0u8; 1]).unwrap(), 0);
}

// ---------------------------------------------------------------- net.rs

/// The crate's `tcp_pair`: a connected pair of loopback streams, `(send,
/// recv)`.
fn tcp_pair() -> (TcpStream, TcpStream) {
    uring_tests::tcp_pair()
}

fn loopback_listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

/// `net::test_tcp_write_read`, `net::test_tcp_writev_readv` and
/// `net::test_tcp_send_recv`: over a loopback TCP pair, a WRITE then a
/// READ, a WRITEV then a READV, and a SEND then a RECV, each of the whole
/// text; every op completes with the text's length and the bytes arrive.
#[test]
fn net_test_tcp_write_read_writev_readv_send_recv() {
    let _watch = uring_tests::watchdog();
    use uring::ops::{Recv, Send};
    let mut ring = Ring::new(8).unwrap();
    let (tx, rx) = tcp_pair();
    let n = TEXT.len() as i32;
    let mut output = vec![0u8; TEXT.len()];
    let cqes = ring.scope(|s| {
        s.push(Write::new(&tx, TEXT).user_data(1)).unwrap();
        let mut cqes = scope_reap!(s, 1);
        s.push(Read::new(&rx, &mut output[..]).user_data(2))
            .unwrap();
        cqes.extend(scope_reap!(s, 1));
        cqes
    });
    assert_eq!(pairs(&cqes), [(1, n), (2, n)]);
    assert_eq!(output, TEXT);

    let mut out1 = vec![0u8; TEXT.len()];
    let mut out2 = vec![0u8; TEXT2.len()];
    let input = [IoSlice::new(TEXT), IoSlice::new(TEXT2)];
    let mut iov = [IoSliceMut::new(&mut out1), IoSliceMut::new(&mut out2)];
    let both = (TEXT.len() + TEXT2.len()) as i32;
    let cqes = ring.scope(|s| {
        s.push(WriteV::new(&tx, &input[..]).user_data(3)).unwrap();
        let mut cqes = scope_reap!(s, 1);
        s.push(ReadV::new(&rx, &mut iov[..]).user_data(4)).unwrap();
        cqes.extend(scope_reap!(s, 1));
        cqes
    });
    // A stream may hand the bytes over in pieces: read the rest if short.
    assert_eq!(pairs(&cqes)[0], (3, both));
    let got = cqes[1].res();
    assert!(got > 0 && got <= both, "readv: {got}");
    let mut joined = [out1, out2].concat();
    (&rx).read_exact(&mut joined[got as usize..]).unwrap();
    assert_eq!(joined, [TEXT, TEXT2].concat());

    let mut output = vec![0u8; TEXT.len()];
    let cqes = ring.scope(|s| {
        s.push(Send::new(&tx, TEXT).user_data(5)).unwrap();
        s.push(Recv::new(&rx, &mut output[..]).user_data(6))
            .unwrap();
        scope_reap!(s, 2)
    });
    assert_eq!(sorted(cqes), [(5, n), (6, n)]);
    assert_eq!(output, TEXT);
}

/// `net::test_tcp_accept`: ACCEPT on a listener with a pending connection
/// completes with a new descriptor (handed over by `take_fd`) connected to
/// the client, and writes the client's address into the buffer given.
#[test]
fn net_test_tcp_accept() {
    let _watch = uring_tests::watchdog();
    use uring::SockAddrBuf;
    use uring::ops::Accept;
    let mut ring = Ring::new(8).unwrap();
    let listener = loopback_listener();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let mut peer = SockAddrBuf::new();
    let (res, fd) = ring.scope(|s| {
        s.push(Accept::new(&listener).peer(Some(&mut peer)).user_data(0x0e))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.user_data(), 0x0e);
        (cqe.res(), cqe.take_fd())
    });
    assert!(res >= 0, "accept: {res}");
    let mut server = TcpStream::from(fd.expect("the connection"));
    assert_eq!(server.as_raw_fd(), res);
    assert_eq!(peer.socket_addr(), Some(client.local_addr().unwrap()));
    assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
    client.write_all(b"hi").unwrap();
    let mut two = [0u8; 2];
    server.read_exact(&mut two).unwrap();
    assert_eq!(&two, b"hi");
}

/// `net::test_tcp_accept_file_index`: ACCEPT into slot 4 of a sparse table
/// of five completes with 0 (not a descriptor); the slot holds the
/// connection (a SEND through it reaches the client), and the table
/// unregisters cleanly.
#[test]
fn net_test_tcp_accept_file_index() {
    let _watch = uring_tests::watchdog();
    use uring::ops::{Accept, Send};
    let mut ring = Ring::new(8).unwrap();
    let mut files = ring.register_files_sparse(5).unwrap();
    let listener = loopback_listener();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    let cqe = uring_tests::complete(
        &mut ring,
        Accept::new(&listener)
            .direct(DirectSlot::at(files.get_mut(4).unwrap()))
            .user_data(0x0e),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (0x0e, 0));
    let cqe = uring_tests::complete(&mut ring, Send::new(files.get(4).unwrap(), b"slot 4"));
    assert_eq!(cqe.res(), 6);
    let mut got = [0u8; 6];
    client.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"slot 4");
    ring.unregister_files(files).unwrap();
    // Unregistering closed the connection: the client reads its end.
    assert_eq!(client.read(&mut got).unwrap(), 0);
}

/// `net::test_tcp_accept_multi` and `net::test_tcp_accept_multi_file_index`
/// (5.19): a multishot ACCEPT with two pending connections completes twice,
/// each with `F_MORE` and a connection of its own (regular descriptors, or
/// with direct allocation the slots 0 and 1 of a sparse table of two);
/// ASYNC_CANCEL of its `user_data` then completes with 0 and the accept
/// with `-ECANCELED`, without `F_MORE`.
#[test]
fn net_test_tcp_accept_multi_and_file_index() {
    let _watch = uring_tests::watchdog();
    use uring::AcceptFlags;
    use uring::ops::Accept;
    let mut ring = Ring::new(8).unwrap();
    for direct in [false, true] {
        let files = ring.register_files_sparse(2).unwrap();
        let listener = loopback_listener();
        let addr = listener.local_addr().unwrap();
        let _stream1 = TcpStream::connect(addr).unwrap();
        let _stream2 = TcpStream::connect(addr).unwrap();
        let (accepted, fds, cancel) = ring.scope(|s| {
            let accept = Accept::new(&listener)
                .iou_flags(AcceptFlags::MULTISHOT)
                .user_data(2002);
            let accept = if direct {
                accept.direct(DirectSlot::ALLOC)
            } else {
                accept
            };
            s.push(accept).unwrap();
            s.submit().unwrap();
            let mut accepted = Vec::new();
            let mut fds = Vec::new();
            while accepted.len() < 2 {
                s.wait_timeout(1, PATIENCE).unwrap();
                for mut cqe in s.completions() {
                    accepted.push((cqe.user_data(), cqe.res(), cqe.has_more()));
                    fds.extend(cqe.take_fd());
                }
            }
            s.push(Cancel::new(2002).user_data(2003)).unwrap();
            let cancel = scope_reap!(s, 2);
            (accepted, fds, cancel)
        });
        for &(ud, res, more) in &accepted {
            assert_eq!(ud, 2002);
            assert!(res >= 0 && more, "{res} {more}");
        }
        if direct {
            let mut slots: Vec<i32> = accepted.iter().map(|a| a.1).collect();
            slots.sort_unstable();
            assert_eq!(slots, [0, 1], "the allocated slots");
            assert!(fds.is_empty(), "a direct accept handed out a descriptor");
        } else {
            assert_eq!(fds.len(), 2);
            for fd in &fds {
                let stream = TcpStream::from(fd.try_clone().unwrap());
                assert_eq!(stream.local_addr().unwrap(), addr);
            }
        }
        assert_eq!(
            sorted(cancel.clone()),
            [(2002, -libc::ECANCELED), (2003, 0)]
        );
        assert!(cancel.iter().all(|c| !c.has_more()));
        ring.unregister_files(files).unwrap();
    }
}

/// `net::test_tcp_connect`: CONNECT of a new TCP socket to a loopback
/// listener completes with 0 and the listener then accepts it. A second
/// CONNECT of the connected socket fails with `-EISCONN`.
#[test]
fn net_test_tcp_connect() {
    let _watch = uring_tests::watchdog();
    use uring::SockAddr;
    use uring::ops::Connect;
    let mut ring = Ring::new(8).unwrap();
    let listener = loopback_listener();
    let addr = SockAddr::from(listener.local_addr().unwrap());
    let stream = uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
    let cqe = uring_tests::complete(&mut ring, Connect::new(&stream, &addr).user_data(0x0f));
    assert_eq!((cqe.user_data(), cqe.res()), (0x0f, 0));
    let (_, peer) = listener.accept().unwrap();
    assert_eq!(peer, uring_tests::local_addr(stream.as_fd()).unwrap());
    let cqe = uring_tests::complete(&mut ring, Connect::new(&stream, &addr));
    assert_eq!(cqe.res(), -libc::EISCONN);
}

/// `net::test_tcp_recv_multi` (6.0): 1024 + 256 bytes are sent and the
/// write side shut down; a multishot RECV selecting 640 bytes at a time
/// from a group of two 1024-byte buffers completes with 640 into buffer 0,
/// 640 into buffer 1 (both `F_MORE`), then `-ENOBUFS` without `F_MORE`.
/// The crate provides the buffers with PROVIDE_BUFFERS; a scope refuses
/// that op (the kernel keeps its memory past its completion), so here they
/// are a buffer ring.
#[test]
fn net_test_tcp_recv_multi() {
    let _watch = uring_tests::watchdog();
    use uring::RecvFlags;
    use uring::ops::Recv;
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 0xdead, 2, 1024) else {
        return;
    };
    let (mut tx, rx) = tcp_pair();
    let mut input = vec![0xde; 1024];
    input.extend_from_slice(&[0xad; 256]);
    tx.write_all(&input).unwrap();
    tx.shutdown(NetShutdown::Write).unwrap();
    ring.scope(|s| {
        s.push(
            Recv::new(&rx, pool.group().select(640))
                .recv_flags(RecvFlags::MULTISHOT)
                .user_data(0x22),
        )
        .unwrap();
        s.submit().unwrap();
        let mut shapes = Vec::new();
        let mut held = Vec::new();
        while shapes.len() < 3 {
            s.wait_timeout(1, PATIENCE).unwrap();
            for mut cqe in s.completions() {
                shapes.push((cqe.user_data(), cqe.res(), cqe.buffer_id(), cqe.has_more()));
                if cqe.res() > 0 {
                    // Held until the end: the group must run dry.
                    held.push(pool.claim(&mut cqe).unwrap());
                }
            }
        }
        assert_eq!(
            shapes,
            [
                (0x22, 640, Some(0), true),
                (0x22, 640, Some(1), true),
                (0x22, -libc::ENOBUFS, None, false),
            ]
        );
        assert_eq!(held[0][..], input[..640]);
        assert_eq!(held[1][..], input[640..1280]);
    });
}

/// `net::test_tcp_recv_bundle` (6.10): 896 bytes sent in one go, then the
/// write side shut down; RECV bundles from a ring of 256-byte buffers
/// until everything is read; each completion names its first buffer, its
/// buffers hold the next bytes in order, and a completion that leaves
/// bytes behind says so (`IORING_CQE_F_SOCK_NONEMPTY`).
#[test]
fn net_test_tcp_recv_bundle() {
    let _watch = uring_tests::watchdog();
    use uring::RecvFlags;
    use uring::ops::Recv;
    let mut ring = Ring::new(8).unwrap();
    if !require_features(&ring, Features::RECVSEND_BUNDLE, "receive bundles") {
        return;
    }
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 0xdeff, 16, 256) else {
        return;
    };
    let (mut tx, rx) = tcp_pair();
    let mut input = vec![0x0d; 256];
    input.extend_from_slice(&[0x0e; 256]);
    input.extend_from_slice(&[0x0a; 256]);
    input.extend_from_slice(&[0x0d; 128]);
    tx.write_all(&input).unwrap();
    tx.shutdown(NetShutdown::Write).unwrap();
    let mut got = Vec::new();
    let mut rounds = 0;
    while got.len() < input.len() {
        rounds += 1;
        assert!(rounds <= input.len(), "no progress");
        ring.scope(|s| {
            s.push(
                Recv::new(&rx, pool.group().select(0))
                    .recv_flags(RecvFlags::BUNDLE)
                    .user_data(0x30),
            )
            .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            assert_eq!(cqe.user_data(), 0x30);
            assert!(cqe.res() > 0, "{:?}", cqe.cqe());
            assert!(cqe.buffer_id().is_some());
            let bufs = pool.claim_bundle(&mut cqe).unwrap();
            let mut n = 0;
            for buf in &bufs {
                assert!(buf.len() <= 256);
                got.extend_from_slice(buf);
                n += buf.len();
            }
            assert_eq!(n, cqe.res() as usize);
            if got.len() < input.len() {
                assert!(cqe.sock_nonempty(), "bytes left, flag missing");
            }
        });
    }
    assert_eq!(got, input);
    // End of stream: a bundle then completes with 0.
    let cqe = uring_tests::complete(
        &mut ring,
        Recv::new(&rx, pool.group().select(0)).recv_flags(RecvFlags::BUNDLE),
    );
    assert_eq!(cqe.res(), 0);
}

/// `net::test_tcp_shutdown`: SHUTDOWN(`SHUT_WR`) of a connected socket
/// completes with 0, the peer reads end of stream, and a WRITE on the
/// socket then fails with `-EPIPE` (the test harness ignores `SIGPIPE`).
/// (The crate shuts down and writes to its listening socket, where the
/// write fails with `-EPIPE` too; this port checks both.)
#[test]
fn net_test_tcp_shutdown() {
    let _watch = uring_tests::watchdog();
    use uring::ops::Shutdown;
    let mut ring = Ring::new(8).unwrap();
    let (tx, mut rx) = tcp_pair();
    let cqe = uring_tests::complete(&mut ring, Shutdown::new(&tx, libc::SHUT_WR).user_data(0x28));
    assert_eq!((cqe.user_data(), cqe.res()), (0x28, 0));
    assert_eq!(rx.read(&mut [0u8; 8]).unwrap(), 0, "end of stream");
    let text = b"C'est la vie";
    let cqe = uring_tests::complete(&mut ring, Write::new(&tx, text));
    assert_eq!(cqe.res(), -libc::EPIPE);

    let listener = loopback_listener();
    let cqe = uring_tests::complete(&mut ring, Shutdown::new(&listener, libc::SHUT_WR));
    assert_eq!(cqe.res(), 0);
    let cqe = uring_tests::complete(&mut ring, Write::new(&listener, text));
    assert_eq!(cqe.res(), -libc::EPIPE);
}

/// `net::test_socket` (5.19, SETSOCKOPT 6.7): SOCKET of a UDP socket
/// completes with a new descriptor, other than one `socket(2)` just gave,
/// with no CQE flags; SETSOCKOPT of `SO_REUSEADDR` to 1 completes with 0
/// and `getsockopt(2)` then reads 1; SOCKET into slot 0 of a sparse table
/// completes with 0 and the table unregisters cleanly.
#[test]
fn net_test_socket() {
    let _watch = uring_tests::watchdog();
    use uring::SockOpt;
    use uring::ops::{SetSockOpt, Socket};
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Socket<'_>>(&ring) {
        return;
    }
    let plain = uring_tests::socket(libc::AF_INET, libc::SOCK_DGRAM).unwrap();
    let (res, flags, fd) = ring.scope(|s| {
        s.push(
            Socket::new(libc::AF_INET, libc::SOCK_DGRAM)
                .protocol(libc::IPPROTO_UDP)
                .user_data(42),
        )
        .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.user_data(), 42);
        (cqe.res(), cqe.flags(), cqe.take_fd())
    });
    assert!(res >= 0, "socket: {res}");
    assert_eq!(flags, 0);
    let sock = UdpSocket::from(fd.expect("the socket"));
    assert_ne!(sock.as_raw_fd(), plain.as_raw_fd());
    let get = |fd: &UdpSocket| {
        let mut val: libc::c_int = -1;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `val` and `len` are valid for the call's writes.
        let rc = unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TYPE,
                (&mut val as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0);
        let mut reuse: libc::c_int = -1;
        // SAFETY: as above.
        let rc = unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_REUSEADDR,
                (&mut reuse as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0);
        (val, reuse)
    };
    assert_eq!(get(&sock), (libc::SOCK_DGRAM, 0));
    if require_op::<SetSockOpt<'_>>(&ring) {
        let one = 1i32.to_ne_bytes();
        let cqe = uring_tests::complete(
            &mut ring,
            SetSockOpt::new(&sock, SockOpt::SO_REUSEADDR, &one[..]).user_data(1234),
        );
        assert_eq!((cqe.user_data(), cqe.res(), cqe.flags()), (1234, 0, 0));
        assert_eq!(get(&sock), (libc::SOCK_DGRAM, 1));
    }
    drop((plain, sock));

    let mut files = ring.register_files_sparse(1).unwrap();
    let cqe = uring_tests::complete(
        &mut ring,
        Socket::new(libc::AF_INET, libc::SOCK_DGRAM)
            .protocol(libc::IPPROTO_UDP)
            .direct(DirectSlot::at(files.get_mut(0).unwrap()))
            .user_data(55),
    );
    assert_eq!((cqe.user_data(), cqe.res(), cqe.flags()), (55, 0, 0));
    ring.unregister_files(files).unwrap();
}

/// `net::test_socket_bind_listen` (6.11): a TCP socket from SOCKET, BIND
/// to 127.0.0.1 port 0 completes with 0 and the socket then has a
/// loopback address; LISTEN with a backlog of 128 completes with 0 and a
/// client can connect to that address.
#[test]
fn net_test_socket_bind_listen() {
    let _watch = uring_tests::watchdog();
    use uring::SockAddr;
    use uring::ops::{Bind, Listen, Socket};
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Bind<'_>>(&ring) || !require_op::<Listen>(&ring) {
        return;
    }
    let (res, fd) = ring.scope(|s| {
        s.push(Socket::new(libc::AF_INET, libc::SOCK_STREAM).user_data(42))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        (cqe.res(), cqe.take_fd())
    });
    assert!(res >= 0, "socket: {res}");
    let sock = fd.expect("the socket");
    let server: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = SockAddr::from(server);
    let cqe = uring_tests::complete(&mut ring, Bind::new(&sock, &server).user_data(2345));
    assert_eq!((cqe.user_data(), cqe.res(), cqe.flags()), (2345, 0, 0));
    let bound = uring_tests::local_addr(sock.as_fd()).unwrap();
    assert_eq!(bound.ip(), server.as_socket_addr().unwrap().ip());
    assert_ne!(bound.port(), 0);
    let cqe = uring_tests::complete(&mut ring, Listen::new(&sock, 128).user_data(3456));
    assert_eq!((cqe.user_data(), cqe.res(), cqe.flags()), (3456, 0, 0));
    let client = TcpStream::connect(bound).unwrap();
    let listener = TcpListener::from(sock);
    let (_, peer) = listener.accept().unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    // Bound already: a second BIND fails with EINVAL.
    let cqe = uring_tests::complete(&mut ring, Bind::new(&listener, &server));
    assert_eq!(cqe.res(), -libc::EINVAL);
}

/// `net::test_udp_send_with_dest` (6.3): on an unbound-destination UDP
/// socket, a SEND without an address fails with `-EDESTADDRREQ`; a SEND
/// with the socket's own address as destination completes with the
/// message's length, and a RECV pushed before both receives it.
#[test]
fn net_test_udp_send_with_dest() {
    let _watch = uring_tests::watchdog();
    use uring::SockAddr;
    use uring::ops::{Recv, Send};
    let mut ring = Ring::new(8).unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = SockAddr::from(socket.local_addr().unwrap());
    let out = b"test message";
    let mut in_buf = vec![0u8; 1024];
    let cqes = ring.scope(|s| {
        s.push(Recv::new(&socket, &mut in_buf[..]).user_data(1))
            .unwrap();
        s.push(Send::new(&socket, out).user_data(2)).unwrap();
        s.push(Send::new(&socket, out).dest(Some(&addr)).user_data(3))
            .unwrap();
        scope_reap!(s, 3)
    });
    let n = out.len() as i32;
    assert_eq!(sorted(cqes), [(1, n), (2, -libc::EDESTADDRREQ), (3, n)]);
    assert_eq!(&in_buf[..out.len()], out);
}

/// `net::test_udp_sendzc_with_dest` (6.0): a zero-copy SEND to a UDP
/// destination posts its result (11, flagged `F_MORE`, not a notification)
/// and then its notification (0, flagged `IORING_CQE_F_NOTIF`, without
/// `F_MORE`); a multishot RECV on the server gets the 11 bytes in a
/// selected buffer.
#[test]
fn net_test_udp_sendzc_with_dest() {
    let _watch = uring_tests::watchdog();
    use uring::ops::{Recv, SendZc};
    use uring::{RecvFlags, SockAddr};
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SendZc<'_>>(&ring) {
        return;
    }
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 77, 2, 512) else {
        return;
    };
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dest = SockAddr::from(server.local_addr().unwrap());
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let buf1 = b"lorep ipsum";
    ring.scope(|s| {
        s.push(
            Recv::new(&server, pool.select())
                .recv_flags(RecvFlags::MULTISHOT)
                .user_data(3),
        )
        .unwrap();
        s.submit().unwrap();
        s.push(SendZc::new(&client, buf1).dest(Some(&dest)).user_data(33))
            .unwrap();
        s.submit().unwrap();
        let mut sends = Vec::new();
        let mut received = None;
        while sends.len() < 2 || received.is_none() {
            s.wait_timeout(1, PATIENCE).unwrap();
            for mut cqe in s.completions() {
                match cqe.user_data() {
                    3 => {
                        assert_eq!(cqe.res(), 11);
                        assert!(cqe.has_more());
                        received = Some(pool.claim(&mut cqe).unwrap().to_vec());
                    }
                    33 => sends.push((cqe.res(), cqe.has_more(), cqe.is_notification())),
                    other => panic!("a completion of {other}"),
                }
            }
        }
        assert_eq!(sends, [(11, true, false), (0, false, true)]);
        assert_eq!(received.unwrap(), buf1);
    });
}

/// `net::test_udp_recvmsg_multishot` (6.0): a multishot RECVMSG on a UDP
/// server socket with a group of two 512-byte buffers; a SENDMSG and a
/// zero-copy SENDMSG from a client each arrive as one completion flagged
/// `F_MORE`, whose buffer holds the `io_uring_recvmsg_out` header, the
/// client's address and the payload (15 and 25 bytes, neither truncated);
/// with both buffers taken, the receive ends with `-ENOBUFS`.
#[test]
fn net_test_udp_recvmsg_multishot() {
    let _watch = uring_tests::watchdog();
    use uring::ops::{RecvMsgMulti, SendMsg, SendMsgZc};
    use uring::{MsgHdr, MsgLayout, RecvMsgOut, SockAddr};
    let mut ring = Ring::new(16).unwrap();
    if !require_op::<SendMsgZc<'_, '_>>(&ring) {
        return;
    }
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 33, 2, 512) else {
        return;
    };
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let server_addr = SockAddr::from(server.local_addr().unwrap());
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let client_addr = client.local_addr().unwrap();
    let layout = MsgLayout::new(32, 0);
    let bufs1 = [IoSlice::new(b"testfooo for me")];
    let bufs2 = [IoSlice::new(b"testbarbar for you and me")];
    let msg1 = MsgHdr::new(&bufs1).to(&server_addr);
    let msg2 = MsgHdr::new(&bufs2).to(&server_addr);
    ring.scope(|s| {
        s.push(RecvMsgMulti::new(&server, &layout, pool.group()).user_data(77))
            .unwrap();
        s.submit().unwrap();
        s.push(SendMsg::new(&client, &msg1).user_data(55)).unwrap();
        s.submit().unwrap();
        s.push(SendMsgZc::new(&client, &msg2).user_data(66))
            .unwrap();
        s.submit().unwrap();
        let mut payloads = Vec::new();
        let mut held = Vec::new();
        let (mut sent, mut zc, mut ended) = (Vec::new(), Vec::new(), None);
        while payloads.len() < 2 || sent.is_empty() || zc.len() < 2 || ended.is_none() {
            s.wait_timeout(1, PATIENCE).unwrap();
            for mut cqe in s.completions() {
                match cqe.user_data() {
                    55 => sent.push((cqe.res(), cqe.has_more())),
                    66 => zc.push((cqe.res(), cqe.has_more(), cqe.is_notification())),
                    77 if cqe.has_more() => {
                        assert!(cqe.res() > 0, "{:?}", cqe.cqe());
                        let buf = pool.claim(&mut cqe).unwrap();
                        let msg = RecvMsgOut::parse(&buf, &layout).expect("a whole header");
                        assert_eq!(msg.flags() & libc::MSG_TRUNC as u32, 0);
                        assert_eq!(msg.flags() & libc::MSG_CTRUNC as u32, 0);
                        assert!(msg.control().is_empty());
                        assert_eq!(msg.socket_addr(), Some(client_addr));
                        payloads.push(msg.payload().to_vec());
                        // Held: the group runs dry after two datagrams.
                        held.push(buf);
                    }
                    77 => ended = Some(cqe.res()),
                    other => panic!("a completion of {other}"),
                }
            }
        }
        assert_eq!(sent, [(15, false)]);
        assert_eq!(zc, [(25, true, false), (0, false, true)]);
        payloads.sort_by_key(Vec::len);
        assert_eq!(
            payloads,
            [
                b"testfooo for me".to_vec(),
                b"testbarbar for you and me".to_vec()
            ]
        );
        assert_eq!(ended, Some(-libc::ENOBUFS));
    });
}

/// `net::test_tcp_sendmsg_recvmsg` and
/// `net::test_tcp_zero_copy_sendmsg_recvmsg` (6.1): a SENDMSG (or a
/// zero-copy SENDMSG) of one iovec, naming the peer's address as the crate
/// does (a connected TCP socket ignores it), linked to a RECVMSG into one
/// buffer with room for a name. Both complete with the text's length and
/// the text arrives; TCP gives no name (length 0) and no `MSG_TRUNC`. The
/// zero-copy send's result comes first, flagged `F_MORE`, and its
/// notification (0, `F_NOTIF`) in either order with the receive.
#[test]
fn net_test_tcp_sendmsg_recvmsg_and_zero_copy() {
    let _watch = uring_tests::watchdog();
    use uring::ops::{RecvMsg, SendMsg, SendMsgZc};
    use uring::{MsgHdr, MsgHdrMut, SockAddr, SockAddrBuf};
    let mut ring = Ring::new(8).unwrap();
    let zero_copy = require_op::<SendMsgZc<'_, '_>>(&ring);
    for zc in [false, true] {
        if zc && !zero_copy {
            return;
        }
        let (tx, rx) = tcp_pair();
        let peer = SockAddr::from(rx.local_addr().unwrap());
        let mut buf2 = vec![0u8; TEXT.len()];
        let bufs = [IoSlice::new(TEXT)];
        let mut bufs2 = [IoSliceMut::new(&mut buf2)];
        let send = MsgHdr::new(&bufs).to(&peer);
        let mut name = SockAddrBuf::new();
        let mut recv = MsgHdrMut::new(&mut bufs2).from(&mut name);
        let cqes = ring.scope(|s| {
            let recvmsg = RecvMsg::new(&rx, &mut recv).user_data(0x02);
            if zc {
                s.push(SendMsgZc::new(&tx, &send).user_data(0x01).link(recvmsg))
                    .unwrap();
                scope_reap!(s, 3)
            } else {
                s.push(SendMsg::new(&tx, &send).user_data(0x01).link(recvmsg))
                    .unwrap();
                scope_reap!(s, 2)
            }
        });
        let n = TEXT.len() as i32;
        let shapes: Vec<_> = cqes
            .iter()
            .map(|c| (c.user_data(), c.res(), c.has_more(), c.is_notification()))
            .collect();
        if zc {
            assert_eq!(shapes[0], (0x01, n, true, false));
            let mut rest = shapes[1..].to_vec();
            rest.sort_unstable();
            assert_eq!(rest, [(0x01, 0, false, true), (0x02, n, false, false)]);
        } else {
            assert_eq!(shapes, [(0x01, n, false, false), (0x02, n, false, false)]);
        }
        assert_eq!(recv.flags() & libc::MSG_TRUNC, 0, "zero copy: {zc}");
        assert_eq!(recv.name_len(), 0, "TCP gives no name");
        assert_eq!(buf2, TEXT, "zero copy: {zc}");
    }
}

/// `net::test_tcp_zero_copy_send_recv` (6.0) and
/// `net::test_tcp_zero_copy_send_fixed`: a zero-copy SEND (from a plain
/// buffer, or from offset 7 of registered buffer 0) linked to a RECV; the
/// send's result comes first, with the length and `F_MORE`; then, in
/// either order, the receive's (the text) and the send's notification
/// (without `F_MORE`, flagged `IORING_CQE_F_NOTIF`).
#[test]
fn net_test_tcp_zero_copy_send_recv_and_send_fixed() {
    let _watch = uring_tests::watchdog();
    use uring::ops::{Recv, SendZc, SendZcFixed};
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SendZc<'_>>(&ring) {
        return;
    }
    let mut buf0 = vec![0u8; 1024];
    buf0[7..7 + TEXT.len()].copy_from_slice(TEXT);
    // SAFETY: `buf0` outlives the registration (unregistered below, after
    // the scope has waited for the send and its notification) and is only
    // read meanwhile.
    let table = unsafe { ring.register_buffers(&[IoSliceMut::new(&mut buf0)]) }.unwrap();
    let index = table.get(0).unwrap();
    for fixed in [false, true] {
        let (tx, rx) = tcp_pair();
        let mut output = vec![0u8; TEXT.len()];
        let cqes = ring.scope(|s| {
            let recv = Recv::new(&rx, &mut output[..]).user_data(0x02);
            if fixed {
                let send = SendZcFixed::new(&tx, &buf0[7..7 + TEXT.len()], index);
                s.push(send.user_data(0x01).link(recv)).unwrap();
            } else {
                s.push(SendZc::new(&tx, TEXT).user_data(0x01).link(recv))
                    .unwrap();
            }
            scope_reap!(s, 3)
        });
        let n = TEXT.len() as i32;
        assert_eq!(
            (cqes[0].user_data(), cqes[0].res()),
            (0x01, n),
            "fixed: {fixed}"
        );
        assert!(cqes[0].has_more() && !cqes[0].is_notification());
        let mut rest: Vec<_> = cqes[1..]
            .iter()
            .map(|c| (c.user_data(), c.res(), c.has_more(), c.is_notification()))
            .collect();
        rest.sort_unstable();
        assert_eq!(rest, [(0x01, 0, false, true), (0x02, n, false, false)]);
        assert_eq!(output, TEXT, "fixed: {fixed}");
    }
    ring.unregister_buffers(table).unwrap();
}

/// `net::test_tcp_send_bundle` (6.10): two 22-byte buffers of a buffer
/// ring hold the two halves of the text; a SEND bundle from the group
/// sends both in ring order (44 bytes, one completion naming buffer 0) and
/// the peer reads the text. The crate writes the halves into its buffer
/// ring's memory through raw pointers; here the kernel fills them, each
/// with a RECV selecting from the ring (buffers 0 and 1, given back in
/// that order), which keeps the port safe.
#[test]
fn net_test_tcp_send_bundle() {
    let _watch = uring_tests::watchdog();
    use std::os::unix::net::UnixStream;
    use uring::SendFlags;
    use uring::ops::{Recv, Send};
    let mut ring = Ring::new(8).unwrap();
    if !require_features(&ring, Features::RECVSEND_BUNDLE, "send bundles") {
        return;
    }
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 0xdead, 2, 22) else {
        return;
    };
    let (mut feed, src) = UnixStream::pair().unwrap();
    for (bid, half) in [(0u16, &TEXT[..22]), (1, &TEXT[22..])] {
        feed.write_all(half).unwrap();
        ring.scope(|s| {
            s.push(Recv::new(&src, pool.select()).user_data(9)).unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            assert_eq!((cqe.res(), cqe.buffer_id()), (22, Some(bid)));
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!(&buf[..], half);
            // Dropped here: back to the ring, behind the other buffer.
        });
    }
    let (tx, mut rx) = tcp_pair();
    let sent = ring.scope(|s| {
        s.push(
            Send::new(&tx, pool.group().select(0))
                .send_flags(SendFlags::BUNDLE)
                .user_data(0x01),
        )
        .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(
            (cqe.user_data(), cqe.res(), cqe.buffer_id()),
            (0x01, TEXT.len() as i32, Some(0))
        );
        let bufs = pool.claim_bundle(&mut cqe).unwrap();
        bufs.iter()
            .map(|b| (b.bid(), b.to_vec()))
            .collect::<Vec<_>>()
    });
    assert_eq!(
        sent,
        [(0, TEXT[..22].to_vec()), (1, TEXT[22..].to_vec())],
        "the buffers sent, in ring order"
    );
    let mut output = vec![0u8; TEXT.len()];
    rx.read_exact(&mut output).unwrap();
    assert_eq!(output, TEXT);
    assert_eq!(pool.available().unwrap(), 2, "both buffers are back");
}

/// `net::test_tcp_buffer_select` (legacy provided buffers, 5.7): one
/// 1024-byte buffer provided to group 0xdead; 1024 + 256 bytes sent; a
/// RECV selecting from the group gets 1024 bytes into buffer 0; the next
/// fails with `-ENOBUFS`; two buffers provided to group 0xdeae, a RECV
/// takes the 256 left into one of them; REMOVE_BUFFERS of one from 0xdeae
/// removes the other (result 1), and from the empty group 0xdeaf fails
/// with `-ENOENT`. PROVIDE_BUFFERS lends memory past its completion, which
/// no scope takes, so this test pushes raw (`push_unchecked`) and keeps the
/// regions alive until the ring is dropped.
#[test]
fn net_test_tcp_buffer_select() {
    let _watch = uring_tests::watchdog();
    use uring::ops::{ProvideBuffers, Recv, RemoveBuffers};
    use uring::{BufferGroup, BufferPool};
    let mut bufs = vec![0u8; 1024];
    let mut bufs2 = vec![0u8; 2 * 1024];
    let mut ring = Ring::new(8).unwrap();
    let (mut tx, rx) = tcp_pair();
    let mut input = vec![0xde; 1024];
    input.extend_from_slice(&[0xad; 256]);
    let cqe = {
        uring_tests::push_lent!(
            ring,
            ProvideBuffers::new(BufferPool::new(&mut bufs, 1024), BufferGroup::new(0xdead))
                .user_data(0x21)
        )
        .unwrap();
        uring_tests::reap_one(&mut ring)
    };
    assert_eq!((cqe.user_data(), cqe.res()), (0x21, 0));
    tx.write_all(&input).unwrap();
    uring_tests::push_lent!(
        ring,
        Recv::new(&rx, BufferGroup::new(0xdead).select(1024)).user_data(0x22)
    )
    .unwrap();
    let cqe = uring_tests::reap_one(&mut ring);
    assert_eq!(
        (cqe.user_data(), cqe.res(), cqe.buffer_id()),
        (0x22, 1024, Some(0))
    );
    uring_tests::push_lent!(
        ring,
        Recv::new(&rx, BufferGroup::new(0xdead).select(1024)).user_data(0x23)
    )
    .unwrap();
    let cqe = uring_tests::reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (0x23, -libc::ENOBUFS));

    uring_tests::push_lent!(
        ring,
        ProvideBuffers::new(BufferPool::new(&mut bufs2, 1024), BufferGroup::new(0xdeae))
            .user_data(0x24)
    )
    .unwrap();
    let cqe = uring_tests::reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (0x24, 0));
    uring_tests::push_lent!(
        ring,
        Recv::new(&rx, BufferGroup::new(0xdeae).select(1024)).user_data(0x25)
    )
    .unwrap();
    let cqe = uring_tests::reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (0x25, 256));
    let bid = cqe.buffer_id().expect("a buffer id");
    assert!(bid < 2, "{bid}");
    ring.push(RemoveBuffers::new(1, BufferGroup::new(0xdeae)).user_data(0x26))
        .unwrap();
    let cqe = uring_tests::reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (0x26, 1));
    ring.push(RemoveBuffers::new(1, BufferGroup::new(0xdeaf)).user_data(0x27))
        .unwrap();
    let cqe = uring_tests::reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (0x27, -libc::ENOENT));
    // The kernel is done with every region: the ring goes first.
    drop(ring);
    assert_eq!(&bufs[..], &input[..1024]);
    let (b0, b1) = bufs2.split_at(1024);
    let got = if bid == 0 { b0 } else { b1 };
    assert_eq!(&got[..256], &input[1024..]);
}

// ---------------------------------------------------------------- register_buf_ring.rs

/// `register_buf_ring::buf_ring_reg_and_unreg` (5.19): a buffer ring of 16
/// 4 KiB buffers under group 777 registers, unregisters (dropped), and
/// registers again; registering the group a second time while it is
/// registered fails with `EEXIST`. (The crate also unregisters twice and
/// expects the second to fail: here unregistering consumes the handle, so
/// it cannot happen twice.)
#[test]
fn register_buf_ring_reg_and_unreg() {
    let _watch = uring_tests::watchdog();
    use uring::BufferGroup;
    let mut ring = Ring::new(8).unwrap();
    let Some(first) = uring_tests::plain_buf_ring(&mut ring, 777, 16, 4096) else {
        return;
    };
    drop(first);
    let again = ring
        .register_buf_ring(BufferGroup::new(777), 16, 4096)
        .unwrap();
    let err = ring
        .register_buf_ring(BufferGroup::new(777), 16, 4096)
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EEXIST), "{err:?}");
    drop(again);
    // Unregistered again: the group can be registered once more.
    drop(
        ring.register_buf_ring(BufferGroup::new(777), 16, 4096)
            .unwrap(),
    );
}

/// A READ of `len` bytes at offset 0 of `file` into a buffer selected
/// from `pool`: the claimed buffer, or the errno of a failed read.
fn read_selected<'scope, 'env: 'scope>(
    s: &mut uring::Scope<'scope, 'env>,
    file: &'env File,
    pool: &'env uring::BufRing,
    len: u32,
) -> Result<uring::Buf<'env>, i32> {
    s.push(Read::new(file, pool.group().select(len)).user_data(0x02))
        .unwrap();
    s.submit_and_wait(1).unwrap();
    let mut cqe = s.completions().next().unwrap();
    assert_eq!(cqe.user_data(), 0x02);
    if cqe.res() < 0 {
        return Err(cqe.res());
    }
    assert_eq!(cqe.res(), len as i32);
    let buf = pool.claim(&mut cqe).unwrap();
    assert_eq!(&buf[..], TEXT);
    Ok(buf)
}

/// `register_buf_ring::buf_ring_play` (5.19): a ring of two 128-byte
/// buffers (group 888); two selecting READs of the same text from a file
/// take buffers 0 and 1 and hold the text; a third, with both still held,
/// fails with `-ENOBUFS`; given back in reverse order (1, then 0), the next
/// two reads take 1 then 0. Then 65 536 more reads, each giving its buffer
/// back, wrap the ring's 16-bit tail and head around.
#[test]
fn register_buf_ring_play() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 888, 2, 128) else {
        return;
    };
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(TEXT).unwrap();
    let len = TEXT.len() as u32;
    ring.scope(|s| {
        let buf0 = read_selected(s, &file, &pool, len).unwrap();
        let buf1 = read_selected(s, &file, &pool, len).unwrap();
        assert_eq!((buf0.bid(), buf1.bid()), (0, 1));
        assert_eq!(
            read_selected(s, &file, &pool, len).err(),
            Some(-libc::ENOBUFS)
        );
        drop(buf1);
        drop(buf0);
        let buf3 = read_selected(s, &file, &pool, len).unwrap();
        let buf4 = read_selected(s, &file, &pool, len).unwrap();
        assert_eq!((buf3.bid(), buf4.bid()), (1, 0));
        drop((buf3, buf4));
        for _ in 0..=u16::MAX {
            read_selected(s, &file, &pool, len).unwrap();
        }
    });
    assert_eq!(pool.available().unwrap(), 2);
    assert_eq!(pool.lent(), 0);
}

// ---------------------------------------------------------------- register_buffers.rs

/// `register_buffers::test_register_buffers`: eight page-sized buffers,
/// each filled with its own letter, registered three ways (plain, with
/// tags, and as a sparse table then filled by an update); WRITE_FIXED of
/// each to its page of a file completes with 4096; the buffers are zeroed;
/// READ_FIXED of each page completes with 4096 and restores its letter.
#[test]
fn register_buffers_test_register_buffers() {
    let _watch = uring_tests::watchdog();
    use uring::ops::{ReadFixed, WriteFixed};
    const BUF_SIZE: usize = 4096;
    const BUFFERS: usize = 8;
    let mut ring = Ring::new(16).unwrap();
    for way in [
        "register_buffers",
        "register_buffers_tagged",
        "sparse + update",
    ] {
        let file = tempfile::tempfile().unwrap();
        let mut bufs: Vec<Vec<u8>> = (0..BUFFERS)
            .map(|i| vec![b'A' + i as u8; BUF_SIZE])
            .collect();
        let mut slices: Vec<IoSliceMut<'_>> = bufs.iter_mut().map(|b| IoSliceMut::new(b)).collect();
        // SAFETY: `bufs` outlives the registration (unregistered at the end
        // of the round) and is used meanwhile only through the fixed ops
        // the scopes below wait for, and between them.
        let table = unsafe {
            match way {
                "register_buffers" => ring.register_buffers(&slices).unwrap(),
                "register_buffers_tagged" => {
                    let tags = vec![0; BUFFERS];
                    ring.register_buffers_tagged(&slices, &tags).unwrap()
                }
                _ => {
                    let table = ring.register_buffers_sparse(BUFFERS as u32).unwrap();
                    let update: Vec<Option<IoSliceMut<'_>>> = slices
                        .iter_mut()
                        .map(|s| Some(IoSliceMut::new(&mut s[..])))
                        .collect();
                    assert_eq!(ring.update_buffers(&table, 0, &update).unwrap(), 8);
                    table
                }
            }
        };
        let cqes = ring.scope(|s| {
            for (i, slice) in slices.iter().enumerate() {
                let index = table.get(i as u32).unwrap();
                s.push(
                    WriteFixed::new(&file, &slice[..], index)
                        .offset((i * BUF_SIZE) as u64)
                        .user_data(i as u64),
                )
                .unwrap();
            }
            scope_reap!(s, BUFFERS)
        });
        assert!(
            cqes.iter().all(|c| c.res() == BUF_SIZE as i32),
            "{way}: {:?}",
            pairs(&cqes)
        );
        for slice in slices.iter_mut() {
            slice.fill(0);
        }
        let cqes = ring.scope(|s| {
            for (i, slice) in slices.iter_mut().enumerate() {
                let index = table.get(i as u32).unwrap();
                s.push(
                    ReadFixed::new(&file, &mut slice[..], index)
                        .offset((i * BUF_SIZE) as u64)
                        .user_data(i as u64),
                )
                .unwrap();
            }
            scope_reap!(s, BUFFERS)
        });
        assert!(
            cqes.iter().all(|c| c.res() == BUF_SIZE as i32),
            "{way}: {:?}",
            pairs(&cqes)
        );
        ring.unregister_buffers(table).unwrap();
        for (i, b) in bufs.iter().enumerate() {
            assert!(b.iter().all(|&x| x == b'A' + i as u8), "{way}: buffer {i}");
        }
    }
}

const BUFFER_TAG: u64 = 0xbadcafe;
const TIMEOUT_TAG: u64 = 0xbadf00d;

/// `register_buffers::test_register_buffers_update` (resource tags, 5.13):
/// a sparse table of one registered and unregistered posts nothing (only
/// a 50 ms timeout completes); over a sparse table of ten, READ_FIXED
/// naming empty slot 5 fails with `-EFAULT`; a buffer put in slot 5 with
/// tag 0xbadcafe posts nothing yet; replacing it (tag 0) posts the old
/// buffer's tag as a completion; READ_FIXED through slot 5 then reads the
/// two bytes waiting in the pipe into the buffer.
#[test]
fn register_buffers_test_register_buffers_update() {
    let _watch = uring_tests::watchdog();
    use uring::ops::ReadFixed;
    let mut ring = Ring::new(8).unwrap();
    if !require_features(&ring, Features::RSRC_TAGS, "resource tags") {
        return;
    }
    let (read, write) = pipe();
    let mut write = File::from(write);
    let mut buf = [0xde, 0xed, 0xbe, 0xef];
    let check_only_timeout = |ring: &mut Ring| {
        ring.push(Timeout::new(Duration::from_millis(50)).user_data(TIMEOUT_TAG))
            .unwrap();
        let cqes = wait_cqes(ring, 1);
        assert_eq!(pairs(&cqes), [(TIMEOUT_TAG, -libc::ETIME)]);
        assert!(ring.completions().next().is_none());
    };
    let table = ring.register_buffers_sparse(1).unwrap();
    ring.unregister_buffers(table).unwrap();
    check_only_timeout(&mut ring);

    let table = ring.register_buffers_sparse(10).unwrap();
    let slot5 = table.get(5).unwrap();
    write.write_all(b"yo").unwrap();
    let cqe = uring_tests::complete(
        &mut ring,
        ReadFixed::new(&read, &mut buf[..], slot5).user_data(42),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (42, -libc::EFAULT));

    // SAFETY: `buf` outlives the table (unregistered below) and is used
    // meanwhile only by the READ_FIXED the test waits for.
    unsafe {
        ring.update_buffers_tagged(&table, 5, &[Some(IoSliceMut::new(&mut buf))], &[BUFFER_TAG])
    }
    .unwrap();
    check_only_timeout(&mut ring);
    // SAFETY: as above.
    unsafe { ring.update_buffers_tagged(&table, 5, &[Some(IoSliceMut::new(&mut buf))], &[0]) }
        .unwrap();
    let cqes = wait_cqes(&mut ring, 1);
    assert_eq!(pairs(&cqes), [(BUFFER_TAG, 0)]);

    let cqe = uring_tests::complete(
        &mut ring,
        ReadFixed::new(&read, &mut buf[..], slot5).user_data(42),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (42, 2));
    ring.unregister_buffers(table).unwrap();
    assert_eq!(&buf[..2], b"yo");
    assert_eq!(&buf[2..], [0xbe, 0xef]);
}

/// `register_buffers::test_register_buffers_clone` (6.12): a page
/// registered on one ring and cloned into an empty table of another; on
/// the second ring, WRITE_FIXED of the page to a file and READ_FIXED back
/// into it (zeroed meanwhile) each complete with 4096 and the page holds
/// its bytes again; both rings unregister.
#[test]
fn register_buffers_test_register_buffers_clone() {
    let _watch = uring_tests::watchdog();
    use uring::ops::{ReadFixed, WriteFixed};
    const BUF_SIZE: usize = 4096;
    let mut src_ring = Ring::new(8).unwrap();
    let mut dst_ring = Ring::new(8).unwrap();
    let mut buf = vec![b'Z'; BUF_SIZE];
    // SAFETY: `buf` outlives both registrations (unregistered below) and is
    // used meanwhile only by the fixed ops the test waits for.
    let src_table = unsafe { src_ring.register_buffers(&[IoSliceMut::new(&mut buf)]) }.unwrap();
    // SAFETY: as above, for the clone.
    let dst_table = match unsafe { dst_ring.clone_buffers(&src_ring, &src_table, 0, 1) } {
        Ok(table) => table,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip(format_args!("no IORING_REGISTER_CLONE_BUFFERS (6.12): {e}"));
            src_ring.unregister_buffers(src_table).unwrap();
            return;
        }
        Err(e) => panic!("clone: {e}"),
    };
    let file = tempfile::tempfile().unwrap();
    let index = dst_table.get(0).unwrap();
    let cqe = uring_tests::complete(
        &mut dst_ring,
        WriteFixed::new(&file, &buf[..], index).user_data(1),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (1, BUF_SIZE as i32));
    buf.fill(0);
    let cqe = uring_tests::complete(
        &mut dst_ring,
        ReadFixed::new(&file, &mut buf[..], index).user_data(2),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (2, BUF_SIZE as i32));
    dst_ring.unregister_buffers(dst_table).unwrap();
    src_ring.unregister_buffers(src_table).unwrap();
    assert!(buf.iter().all(|&x| x == b'Z'));
}

// ---------------------------------------------------------------- epoll.rs

/// An epoll instance watching the read ends of `n` pipes for `EPOLLIN`,
/// each reported with its index; the pipes as `(read, write)` files.
fn epoll_pipes(n: usize) -> (OwnedFd, Vec<(File, File)>) {
    // SAFETY: epoll_create1 takes plain flags.
    let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(
        epfd >= 0,
        "epoll_create1: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: epoll_create1 just returned this descriptor.
    let epfd = unsafe { OwnedFd::from_raw_fd(epfd) };
    let mut pipes = Vec::new();
    for i in 0..n {
        let (rx, tx) = pipe();
        epoll_ctl(&epfd, libc::EPOLL_CTL_ADD, &rx, i as u64);
        pipes.push((File::from(rx), File::from(tx)));
    }
    (epfd, pipes)
}

fn epoll_ctl(epfd: &OwnedFd, op: i32, fd: &impl AsRawFd, data: u64) {
    let mut event = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: data,
    };
    // SAFETY: `event` is a valid epoll_event for the call.
    let rc = unsafe { libc::epoll_ctl(epfd.as_raw_fd(), op, fd.as_raw_fd(), &mut event) };
    assert_eq!(rc, 0, "epoll_ctl: {}", std::io::Error::last_os_error());
}

const DATA: &[u8] = b"foo";

/// `epoll::test_ready` (6.15; from liburing's `test/epwait.c`): with both
/// pipes written, EPOLL_WAIT for two events completes with 2, and each
/// event names a pipe that holds "foo".
#[test]
fn epoll_test_ready() {
    let _watch = uring_tests::watchdog();
    use uring::ops::EpollWait;
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<EpollWait<'_>>(&ring) {
        return;
    }
    let (epfd, mut pipes) = epoll_pipes(2);
    for (_, tx) in &mut pipes {
        tx.write_all(DATA).unwrap();
    }
    let mut events = [libc::epoll_event { events: 0, u64: 99 }; 2];
    let cqe = uring_tests::complete(
        &mut ring,
        EpollWait::new(&epfd, &mut events[..]).user_data(1),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (1, 2));
    let mut seen: Vec<u64> = events.iter().map(|e| e.u64).collect();
    seen.sort_unstable();
    assert_eq!(seen, [0, 1]);
    for e in events {
        assert_eq!({ e.events }, libc::EPOLLIN as u32);
        let mut tmp = [0u8; 16];
        let n = pipes[e.u64 as usize].0.read(&mut tmp).unwrap();
        assert_eq!(&tmp[..n], DATA);
    }
}

/// `epoll::test_not_ready`: EPOLL_WAIT pushed before any pipe holds data
/// completes once they are written, with 1 or 2 events, each naming a
/// pipe that holds "foo".
#[test]
fn epoll_test_not_ready() {
    let _watch = uring_tests::watchdog();
    use uring::ops::EpollWait;
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<EpollWait<'_>>(&ring) {
        return;
    }
    let (epfd, mut pipes) = epoll_pipes(2);
    let mut events = [libc::epoll_event { events: 0, u64: 99 }; 2];
    let cqes = ring.scope(|s| {
        s.push(EpollWait::new(&epfd, &mut events[..]).user_data(1))
            .unwrap();
        s.submit().unwrap();
        let _ = s.wait_timeout(1, Duration::from_millis(50));
        assert_eq!(s.completions().count(), 0, "completed with no data");
        for (_, tx) in &mut pipes {
            std::thread::sleep(Duration::from_millis(10));
            tx.write_all(DATA).unwrap();
        }
        scope_reap!(s, 1)
    });
    let nr = cqes[0].res();
    assert!((1..=2).contains(&nr), "{nr}");
    for e in &events[..nr as usize] {
        let mut tmp = [0u8; 16];
        let n = pipes[e.u64 as usize].0.read(&mut tmp).unwrap();
        assert_eq!(&tmp[..n], DATA);
    }
}

/// `epoll::test_delete`: with pipe 0 taken out of the epoll set after
/// EPOLL_WAIT was pushed (here with an EPOLL_CTL op), writes to both pipes
/// complete the wait with one event, pipe 1's; both writes still happened.
/// EPOLL_CTL adding it back completes with 0, and adding it twice fails
/// with `-EEXIST`.
#[test]
fn epoll_test_delete() {
    let _watch = uring_tests::watchdog();
    use uring::ops::{EpollCtl, EpollWait};
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<EpollWait<'_>>(&ring) {
        return;
    }
    let (epfd, mut pipes) = epoll_pipes(2);
    let mut events = [libc::epoll_event { events: 0, u64: 99 }; 2];
    let event0 = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: 0,
    };
    let cqes = ring.scope(|s| {
        s.push(EpollWait::new(&epfd, &mut events[..]).user_data(1))
            .unwrap();
        s.submit().unwrap();
        s.push(EpollCtl::new(&epfd, libc::EPOLL_CTL_DEL, &pipes[0].0, &event0).user_data(2))
            .unwrap();
        let mut cqes = scope_reap!(s, 1);
        for (_, tx) in &pipes {
            (&*tx).write_all(DATA).unwrap();
        }
        cqes.extend(scope_reap!(s, 1));
        cqes
    });
    assert_eq!(pairs(&cqes), [(2, 0), (1, 1)]);
    assert_eq!({ events[0].u64 }, 1);
    for (rx, _) in &mut pipes {
        let mut tmp = [0u8; 16];
        let n = rx.read(&mut tmp).unwrap();
        assert_eq!(&tmp[..n], DATA);
    }
    let cqe = uring_tests::complete(
        &mut ring,
        EpollCtl::new(&epfd, libc::EPOLL_CTL_ADD, &pipes[0].0, &event0),
    );
    assert_eq!(cqe.res(), 0);
    let cqe = uring_tests::complete(
        &mut ring,
        EpollCtl::new(&epfd, libc::EPOLL_CTL_ADD, &pipes[0].0, &event0),
    );
    assert_eq!(cqe.res(), -libc::EEXIST);
}

// ---------------------------------------------------------------- more of net.rs

/// `net::test_udp_recvmsg_multishot_trunc` (6.0): a multishot RECVMSG
/// with `MSG_TRUNC` and room for 4 bytes of name; two datagrams of 15
/// bytes. Into a 20-byte buffer (the 16-byte `io_uring_recvmsg_out` and the
/// 4 name bytes) the payload is cut whole: the header says `MSG_TRUNC`,
/// the datagram's length 15 and the name's real length (16 > 4), with 4
/// name bytes kept and no payload. Into a 35-byte buffer the payload fits:
/// no `MSG_TRUNC`, the 15 bytes there, the name still cut to 4. The crate
/// provides one buffer of each size to one group; a buffer ring's buffers
/// are all one size, so each size is a round of its own here.
#[test]
fn net_test_udp_recvmsg_multishot_trunc() {
    let _watch = uring_tests::watchdog();
    use uring::ops::{RecvMsgMulti, SendMsg};
    use uring::{MsgFlags, MsgHdr, MsgLayout, RecvMsgOut, SockAddr};
    const DATA: &[u8] = b"testfooo for me";
    let mut ring = Ring::new(16).unwrap();
    if !require_op::<uring::ops::SendZc<'_>>(&ring) {
        return;
    }
    for (round, buf_len) in [(0u16, 20u32), (1, 20 + DATA.len() as u32)] {
        let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 33 + round, 2, buf_len) else {
            return;
        };
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let server_addr = SockAddr::from(server.local_addr().unwrap());
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        let layout = MsgLayout::new(4, 0);
        let data = [IoSlice::new(DATA)];
        let msg = MsgHdr::new(&data).to(&server_addr);
        ring.scope(|s| {
            s.push(
                RecvMsgMulti::new(&server, &layout, pool.group())
                    .msg_flags(MsgFlags::TRUNC)
                    .user_data(77),
            )
            .unwrap();
            s.submit().unwrap();
            s.push(SendMsg::new(&client, &msg).user_data(55)).unwrap();
            s.push(SendMsg::new(&client, &msg).user_data(55)).unwrap();
            s.submit().unwrap();
            let (mut sent, mut got, mut ended) = (0, Vec::new(), None);
            let mut held = Vec::new();
            while sent < 2 || got.len() < 2 || ended.is_none() {
                s.wait_timeout(1, PATIENCE).unwrap();
                for mut cqe in s.completions() {
                    match (cqe.user_data(), cqe.has_more()) {
                        (55, more) => {
                            assert_eq!((cqe.res(), more), (DATA.len() as i32, false));
                            sent += 1;
                        }
                        (77, true) => {
                            assert_eq!(cqe.res(), buf_len as i32, "{:?}", cqe.cqe());
                            let buf = pool.claim(&mut cqe).unwrap();
                            let out = RecvMsgOut::parse(&buf, &layout).expect("a header");
                            got.push((
                                out.flags() & libc::MSG_TRUNC as u32 != 0,
                                out.payload_len(),
                                out.payload().to_vec(),
                                out.name_len(),
                                out.name().len(),
                            ));
                            held.push(buf);
                        }
                        (77, false) => ended = Some(cqe.res()),
                        other => panic!("{other:?}"),
                    }
                }
            }
            let name_len = std::mem::size_of::<libc::sockaddr_in>() as u32;
            let expected = if round == 0 {
                (true, DATA.len() as u32, Vec::new(), name_len, 4)
            } else {
                (false, DATA.len() as u32, DATA.to_vec(), name_len, 4)
            };
            assert_eq!(got, [expected.clone(), expected], "buffers of {buf_len}");
            assert_eq!(ended, Some(-libc::ENOBUFS));
        });
    }
}

/// `net::test_tcp_recv_multi_bundle` (6.10): 896 bytes in one go, the
/// write side shut down, a multishot RECV bundle over a ring of five
/// 256-byte buffers; its completions (each naming the first of its
/// buffers) hold the bytes in order, every one but the last flagged
/// `F_MORE`; the last, once the data is read, is end of stream (0) or
/// `-ENOBUFS` when all five buffers went.
#[test]
fn net_test_tcp_recv_multi_bundle() {
    let _watch = uring_tests::watchdog();
    use uring::RecvFlags;
    use uring::ops::Recv;
    let mut ring = Ring::new(8).unwrap();
    if !require_features(&ring, Features::RECVSEND_BUNDLE, "receive bundles") {
        return;
    }
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 0xdebf, 5, 256) else {
        return;
    };
    let (mut tx, rx) = tcp_pair();
    let mut input = vec![0x0d; 256];
    input.extend_from_slice(&[0x0e; 256]);
    input.extend_from_slice(&[0x0a; 256]);
    input.extend_from_slice(&[0x0d; 128]);
    tx.write_all(&input).unwrap();
    tx.shutdown(NetShutdown::Write).unwrap();
    let (got, last, used) = ring.scope(|s| {
        s.push(
            Recv::new(&rx, pool.group().select(0))
                .recv_flags(RecvFlags::MULTISHOT | RecvFlags::BUNDLE)
                .user_data(0x31),
        )
        .unwrap();
        s.submit().unwrap();
        let mut got = Vec::new();
        let mut held = Vec::new();
        let mut last = None;
        while last.is_none() {
            s.wait_timeout(1, PATIENCE).unwrap();
            for mut cqe in s.completions() {
                assert_eq!(cqe.user_data(), 0x31);
                if cqe.res() > 0 {
                    assert!(cqe.has_more(), "{:?}", cqe.cqe());
                    assert!(cqe.buffer_id().is_some());
                    let bufs = pool.claim_bundle(&mut cqe).unwrap();
                    for b in &bufs {
                        got.extend_from_slice(b);
                    }
                    held.extend(bufs);
                } else {
                    assert!(!cqe.has_more(), "{:?}", cqe.cqe());
                    last = Some(cqe.res());
                }
            }
        }
        (got, last.unwrap(), held.len())
    });
    assert_eq!(got, input);
    if used >= 5 {
        assert_eq!(last, -libc::ENOBUFS);
    } else {
        assert!(last == 0 || last == -libc::ENOBUFS, "{last}");
    }
}

/// `net::test_tcp_buffer_select_recvmsg` and
/// `net::test_tcp_buffer_select_readv` (5.7): RECVMSG with one iovec of
/// 1024 bytes (its length caps the payload, its base unused) selecting
/// from a group of two 1024-byte buffers receives 1024 bytes into the
/// first buffer; READV with one iovec of 512 selecting from a group of
/// one 512-byte buffer reads 512. The crate provides the buffers with
/// PROVIDE_BUFFERS (ids from 100 and 200); here buffer rings (ids from 0).
#[test]
fn net_test_tcp_buffer_select_recvmsg_and_readv() {
    let _watch = uring_tests::watchdog();
    use uring::MsgHdrMut;
    use uring::ops::{ReadVSelect, RecvMsgSelect};
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 0xdeaf, 2, 1024) else {
        return;
    };
    let Some(small) = uring_tests::plain_buf_ring(&mut ring, 0xdeb0, 1, 512) else {
        return;
    };
    let (mut tx, rx) = tcp_pair();
    tx.write_all(&[0x56u8; 1024]).unwrap();
    tx.write_all(&[0x57u8; 1024]).unwrap();
    // One iovec: its length caps the payload; its bytes are left alone.
    let mut cap_buf = vec![0xaau8; 1024];
    let mut cap_iov = [IoSliceMut::new(&mut cap_buf)];
    let mut msg = MsgHdrMut::new(&mut cap_iov);
    ring.scope(|s| {
        s.push(RecvMsgSelect::new(&rx, &mut msg, pool.group()).user_data(0x27))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(
            (cqe.user_data(), cqe.res(), cqe.buffer_id()),
            (0x27, 1024, Some(0))
        );
        let buf = pool.claim(&mut cqe).unwrap();
        assert_eq!(&buf[..], &[0x56u8; 1024][..]);
    });
    assert!(
        cap_buf.iter().all(|&b| b == 0xaa),
        "the iovec's bytes were written"
    );
    // The second 1024 bytes are still in the socket.
    let mut rest = vec![0u8; 1024];
    (&rx).read_exact(&mut rest).unwrap();
    assert_eq!(rest, [0x57u8; 1024]);

    tx.write_all(&[0x7bu8; 512]).unwrap();
    let cap = libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 512,
    };
    ring.scope(|s| {
        s.push(ReadVSelect::new(&rx, &cap, small.group()).user_data(0x2a))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(
            (cqe.user_data(), cqe.res(), cqe.buffer_id()),
            (0x2a, 512, Some(0))
        );
        let buf = small.claim(&mut cqe).unwrap();
        assert_eq!(&buf[..], &[0x7bu8; 512][..]);
    });
}

// ---------------------------------------------------------------- register*.rs

/// `register_sync_cancel::test_register_sync_cancel_unsubmitted` (6.0): a
/// READ of an eventfd pushed but not submitted cannot be cancelled
/// (`IORING_REGISTER_SYNC_CANCEL` finds nothing: `ENOENT`, an `io::Error`
/// of kind `NotFound`); once submitted, the same cancel succeeds and the
/// read completes with `-ECANCELED`.
#[test]
fn register_sync_cancel_unsubmitted() {
    let _watch = uring_tests::watchdog();
    use uring::SyncCancel;
    let mut ring = Ring::new(8).unwrap();
    const USER_DATA: u64 = 47;
    let fd = eventfd();
    let mut buf = [0u8; 32];
    let cqes = ring.scope(|s| {
        s.push(Read::new(&fd, &mut buf[..]).user_data(USER_DATA))
            .unwrap();
        let err = s
            .cancel_sync(SyncCancel::user_data(USER_DATA), Some(PATIENCE))
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err:?}");
        assert_eq!(
            std::io::Error::from(err).kind(),
            std::io::ErrorKind::NotFound
        );
        assert_eq!(s.submit().unwrap(), 1);
        s.cancel_sync(SyncCancel::user_data(USER_DATA), Some(PATIENCE))
            .unwrap();
        scope_reap!(s, 1)
    });
    assert_eq!(pairs(&cqes), [(USER_DATA, -libc::ECANCELED)]);
}

/// `register_sync_cancel::test_register_sync_cancel_any` (6.0): three
/// READs of an eventfd, submitted; a sync cancel of any request
/// (`ANY | ALL`) returns `Ok`, and the three complete with `-ECANCELED`.
#[test]
fn register_sync_cancel_any() {
    let _watch = uring_tests::watchdog();
    use uring::SyncCancel;
    let mut ring = Ring::new(8).unwrap();
    let fd = eventfd();
    let mut bufs = [[0u8; 32]; 3];
    let cqes = ring.scope(|s| {
        for (i, buf) in bufs.iter_mut().enumerate() {
            s.push(Read::new(&fd, &mut buf[..]).user_data(47 + i as u64))
                .unwrap();
        }
        assert_eq!(s.submit().unwrap(), 3);
        s.cancel_sync(SyncCancel::any().all(), Some(PATIENCE))
            .unwrap();
        scope_reap!(s, 3)
    });
    assert_eq!(
        sorted(cqes),
        [
            (47, -libc::ECANCELED),
            (48, -libc::ECANCELED),
            (49, -libc::ECANCELED)
        ]
    );
}

/// `register::test_register_ring_fd` (5.18): the ring's descriptor
/// registers (an index); a NOP then submits through the index and
/// completes; after unregistering, a NOP submits through the descriptor
/// and completes. The crate expects a second registration to fail with
/// `EEXIST` and a second unregistration with `EINVAL`; here both are no-ops
/// that succeed (the ring knows its registration): the same index, and
/// `Ok`. A thread other than the registering one cannot unregister it,
/// and its enters (a NOP, a scope's read) go through the descriptor.
#[test]
fn register_test_register_ring_fd() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let index = match ring.register_ring_fd() {
        Ok(index) => index,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip(format_args!("no IORING_REGISTER_RING_FDS (5.18): {e}"));
            return;
        }
        Err(e) => panic!("register_ring_fd: {e}"),
    };
    assert_eq!(ring.register_ring_fd().unwrap(), index, "registered twice");
    ring.push(Nop::new().user_data(0x42)).unwrap();
    assert_eq!(pairs(&wait_cqes(&mut ring, 1)), [(0x42, 0)]);
    let mut ring = std::thread::spawn(move || {
        let err = ring.unregister_ring_fd().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err:?}");
        // Enters from this thread go through the descriptor: they work.
        ring.push(Nop::new().user_data(0x44)).unwrap();
        assert_eq!(pairs(&wait_cqes(&mut ring, 1)), [(0x44, 0)]);
        let mut buf = [0u8; 4];
        let file = tempfile::tempfile().unwrap();
        let cqe = uring_tests::complete(&mut ring, Read::new(&file, &mut buf[..]));
        assert_eq!(cqe.res(), 0);
        ring
    })
    .join()
    .unwrap();
    ring.unregister_ring_fd().unwrap();
    ring.unregister_ring_fd().unwrap();
    ring.push(Nop::new().user_data(0x43)).unwrap();
    assert_eq!(pairs(&wait_cqes(&mut ring, 1)), [(0x43, 0)]);
}

/// `register_napi::test_register_napi` (6.9): the first registration
/// (60 us, prefer busy polling) reports the defaults in force before (0,
/// off); the second (120 us) reports the first's settings; unregistering
/// succeeds. Static tracking (6.13) registers, and reports the dynamic
/// tracking before it (inactive, after the unregistration), and a second
/// static registration the first's settings and drops its ids; NAPI id 1 (below any device's) is refused with
/// `EINVAL` by add and delete alike; an id in range adds once and deletes
/// once (`EEXIST`, `ENOENT` the second time). (The crate's
/// `unregister_napi` also reads back the settings in force, 120 us; this
/// library's returns nothing.)
#[test]
fn register_test_register_napi() {
    let _watch = uring_tests::watchdog();
    use uring::{NapiSettings, NapiTracking};
    let mut ring = Ring::new(8).unwrap();
    let before = match ring.register_napi(Duration::from_micros(60), true) {
        Ok(before) => before,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip(format_args!("no IORING_REGISTER_NAPI (6.9): {e}"));
            return;
        }
        Err(e) => panic!("register_napi: {e}"),
    };
    assert_eq!(before, (Duration::ZERO, false));
    let before = ring
        .register_napi(Duration::from_micros(120), false)
        .unwrap();
    assert_eq!(before, (Duration::from_micros(60), true));
    ring.unregister_napi().unwrap();
    let before = ring
        .register_napi_with(NapiSettings {
            busy_poll: Duration::from_micros(10),
            prefer_busy_poll: false,
            tracking: NapiTracking::Static,
        })
        .unwrap();
    assert_eq!(
        (before.busy_poll, before.prefer_busy_poll, before.tracking),
        (Duration::ZERO, false, NapiTracking::Inactive),
        "after the unregistration"
    );
    // Ids up to `NR_CPUS` are no NAPI ids (`MIN_NAPI_ID`): both refused.
    let err = ring.napi_add_id(1).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err:?}");
    let err = ring.napi_del_id(1).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err:?}");
    // A plausible id (the kernel does not ask whether a device has it)
    // adds once (`EEXIST` again), deletes once (`ENOENT` again).
    const ID: u32 = 0x4000_0000;
    ring.napi_add_id(ID).unwrap();
    let before = ring
        .register_napi_with(NapiSettings {
            busy_poll: Duration::from_micros(20),
            prefer_busy_poll: true,
            tracking: NapiTracking::Static,
        })
        .unwrap();
    assert_eq!(
        (before.busy_poll, before.prefer_busy_poll, before.tracking),
        (Duration::from_micros(10), false, NapiTracking::Static)
    );
    // Registering again dropped the ids: the id adds again.
    ring.napi_add_id(ID).unwrap();
    let err = ring.napi_add_id(ID).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EEXIST), "{err:?}");
    ring.napi_del_id(ID).unwrap();
    let err = ring.napi_del_id(ID).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err:?}");
    ring.unregister_napi().unwrap();
}

/// `cancel::test_async_cancel_user_data_all` inside scopes, where the
/// timeouts borrow nothing but a port may well push everything: in a scope
/// that leaves such ops untagged (a ring only scopes push to), the cancel
/// by `user_data` with `ALL` finds both timeouts and completes with 2, as
/// on the crate's ring. In a scope that tags every op (here: a NOP was
/// pushed outside scopes before), each op carries a tag of its own, and
/// the same cancel fails with `-EINVAL` (documented on `Cancel`: one
/// request matches one tag) and cancels nothing; `Scope::cancel` then
/// cancels both, one request each.
#[test]
fn cancel_test_async_cancel_user_data_all_in_a_scope() {
    let _watch = uring_tests::watchdog();
    let long = Duration::from_secs(5);
    for tagging in [false, true] {
        let mut ring = Ring::new(16).unwrap();
        if tagging {
            ring.push(Nop::new()).unwrap();
            wait_cqes(&mut ring, 1);
        }
        let start = Instant::now();
        let (cqes, cancelled) = ring.scope(|s| {
            assert_eq!(s.tags_every_op(), tagging);
            s.push(Timeout::new(long).user_data(2003)).unwrap();
            s.push(Timeout::new(long).user_data(2003)).unwrap();
            s.submit().unwrap();
            s.push(
                Cancel::new(2003)
                    .cancel_flags(CancelFlags::ALL)
                    .user_data(2004),
            )
            .unwrap();
            if !tagging {
                return (scope_reap!(s, 3), None);
            }
            let cqes = scope_reap!(s, 1);
            let n = s.cancel(2003).unwrap();
            let mut rest = scope_reap!(s, 2);
            rest.extend(cqes);
            (rest, Some(n))
        });
        assert!(
            start.elapsed() < Duration::from_secs(4),
            "the timers ran out"
        );
        if tagging {
            assert_eq!(
                sorted(cqes),
                [
                    (2003, -libc::ECANCELED),
                    (2003, -libc::ECANCELED),
                    (2004, -libc::EINVAL)
                ]
            );
            assert_eq!(cancelled, Some(2));
        } else {
            assert_eq!(
                sorted(cqes),
                [
                    (2003, -libc::ECANCELED),
                    (2003, -libc::ECANCELED),
                    (2004, 2)
                ]
            );
        }
    }
}

// ---------------------------------------------------------------- main.rs: the entry sizes

/// The completions of a scope's ops on a ring of any entry sizes, `n` of
/// them, as `(user_data, res, F_MORE)`.
fn reap_sized<S: uring::SqeSize, C: uring::UniformCqe>(
    s: &mut uring::Scope<'_, '_, S, C>,
    n: usize,
) -> Vec<(u64, i32, bool)> {
    let mut got = Vec::new();
    s.submit().unwrap();
    while got.len() < n {
        s.wait_timeout(1, PATIENCE)
            .unwrap_or_else(|e| panic!("{e} after {got:?}"));
        got.extend(s.completions().map(|c| {
            let cqe = c.cqe();
            let cqe: &Cqe = cqe.as_ref();
            (cqe.user_data(), cqe.res(), cqe.has_more())
        }));
    }
    got
}

/// `(res, buffer id, F_MORE)` of a scope's completion on a ring of any
/// CQE size.
fn shape_of<C: uring::UniformCqe>(c: &uring::ScopeCqe<'_, C>) -> (i32, Option<u16>, bool) {
    let cqe = c.cqe();
    let cqe: &Cqe = cqe.as_ref();
    (cqe.res(), cqe.buffer_id(), cqe.has_more())
}

/// A few of the cases above as the crate's `main.rs` runs its whole suite:
/// on rings of 64- and 128-byte SQEs and 16- and 32-byte CQEs
/// (`IoUring::<squeue::Entry128, cqueue::Entry32>::builder()`, here
/// `Builder::build_sized::<Sqe128, Cqe32>`): a linked write and read
/// (`fs::test_file_write_read`), a multishot poll
/// (`poll::test_eventfd_poll_multi`), a multishot accept with its cancel
/// (`net::test_tcp_accept_multi`), a multishot receive from a buffer ring
/// (`net::test_tcp_recv_multi`), and a timeout with a count
/// (`timeout::test_timeout_count`). Each gives the same results, flags and
/// bytes whatever the entry sizes.
#[test]
fn main_runs_cases_on_every_entry_size() {
    let _watch = uring_tests::watchdog();
    use uring::{Cqe16, Cqe32, Sqe64, Sqe128};
    fn run<S: uring::SqeSize, C: uring::UniformCqe>(what: &str) {
        use uring::ops::{Accept, Recv};
        use uring::{AcceptFlags, RecvFlags};
        let mut ring = match Ring::builder().build_sized::<S, C>(8) {
            Ok(ring) => ring,
            Err(e) => {
                skip(format_args!("no {what} ring: {e}"));
                return;
            }
        };
        let n = TEXT.len() as i32;
        // fs::test_file_write_read
        let file = tempfile::tempfile().unwrap();
        let mut output = vec![0u8; TEXT.len()];
        let got = ring.scope(|s| {
            s.push(
                Write::new(&file, TEXT)
                    .user_data(1)
                    .link(Read::new(&file, &mut output[..]).user_data(2)),
            )
            .unwrap();
            reap_sized(s, 2)
        });
        assert_eq!(got, [(1, n, false), (2, n, false)], "{what}");
        assert_eq!(output, TEXT, "{what}");
        // poll::test_eventfd_poll_multi
        let fd = eventfd();
        let got = ring.scope(|s| {
            s.push(
                PollAdd::new(&fd, PollEvents::IN)
                    .poll_flags(PollFlags::MULTI)
                    .user_data(4),
            )
            .unwrap();
            s.submit().unwrap();
            let mut got = Vec::new();
            for v in 1..=2u64 {
                (&fd).write_all(&v.to_ne_bytes()).unwrap();
                got.extend(reap_sized(s, 1));
            }
            got
        });
        let pollin = libc::POLLIN as i32;
        assert_eq!(got, [(4, pollin, true), (4, pollin, true)], "{what}");
        // net::test_tcp_accept_multi
        let listener = loopback_listener();
        let addr = listener.local_addr().unwrap();
        let _c1 = TcpStream::connect(addr).unwrap();
        let _c2 = TcpStream::connect(addr).unwrap();
        let (accepted, cancel) = ring.scope(|s| {
            s.push(
                Accept::new(&listener)
                    .iou_flags(AcceptFlags::MULTISHOT)
                    .user_data(2002),
            )
            .unwrap();
            s.submit().unwrap();
            let mut fds = Vec::new();
            while fds.len() < 2 {
                s.wait_timeout(1, PATIENCE).unwrap();
                for mut c in s.completions() {
                    assert!(shape_of(&c).2, "{what}");
                    fds.push(c.take_fd().expect("a connection"));
                }
            }
            s.push(Cancel::new(2002).user_data(2003)).unwrap();
            let mut cancel = reap_sized(s, 2);
            cancel.sort_unstable();
            (fds, cancel)
        });
        assert_eq!(accepted.len(), 2);
        assert_eq!(
            cancel,
            [(2002, -libc::ECANCELED, false), (2003, 0, false)],
            "{what}"
        );
        // net::test_tcp_recv_multi
        let pool = ring
            .register_buf_ring(uring::BufferGroup::new(0xdead), 2, 1024)
            .unwrap();
        let (mut tx, rx) = tcp_pair();
        let input = pattern_text(1280);
        tx.write_all(&input).unwrap();
        tx.shutdown(NetShutdown::Write).unwrap();
        let (shapes, bytes) = ring.scope(|s| {
            s.push(
                Recv::new(&rx, pool.group().select(640))
                    .recv_flags(RecvFlags::MULTISHOT)
                    .user_data(0x22),
            )
            .unwrap();
            s.submit().unwrap();
            let (mut shapes, mut bytes, mut held) = (Vec::new(), Vec::new(), Vec::new());
            while shapes.len() < 3 {
                s.wait_timeout(1, PATIENCE).unwrap();
                for mut c in s.completions() {
                    let shape = shape_of(&c);
                    shapes.push(shape);
                    if shape.0 > 0 {
                        let buf = pool.claim(&mut c).unwrap();
                        bytes.extend_from_slice(&buf);
                        held.push(buf);
                    }
                }
            }
            (shapes, bytes)
        });
        assert_eq!(
            shapes,
            [
                (640, Some(0), true),
                (640, Some(1), true),
                (-libc::ENOBUFS, None, false)
            ],
            "{what}"
        );
        assert_eq!(bytes, input, "{what}");
        drop(pool);
        // timeout::test_timeout_count
        let got = ring.scope(|s| {
            s.push(
                Timeout::new(Duration::from_secs(1))
                    .count(1)
                    .user_data(0x0c),
            )
            .unwrap();
            s.push(Nop::new().user_data(0x0d)).unwrap();
            let mut got = reap_sized(s, 2);
            got.sort_unstable();
            got
        });
        assert_eq!(got, [(0x0c, 0, false), (0x0d, 0, false)], "{what}");
    }
    run::<Sqe64, Cqe16>("Sqe64/Cqe16");
    run::<Sqe128, Cqe16>("Sqe128/Cqe16");
    run::<Sqe64, Cqe32>("Sqe64/Cqe32");
    run::<Sqe128, Cqe32>("Sqe128/Cqe32");
}

/// `epoll::test_race` (6.15): a thread writes "foo" to eight pipes every
/// 150 us while EPOLL_WAIT is pushed again and again (100 rounds here,
/// 500 in the crate); each completes with 0 to 8 events, each naming a
/// pipe whose read gives whole "foo"s; nothing is lost (every byte written
/// is read by the end).
#[test]
fn epoll_test_race() {
    let _watch = uring_tests::watchdog();
    use uring::ops::EpollWait;
    const LOOPS: usize = 100;
    const NPIPES: usize = 8;
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<EpollWait<'_>>(&ring) {
        return;
    }
    let (epfd, pipes) = epoll_pipes(NPIPES);
    let (mut readers, writers): (Vec<File>, Vec<File>) = pipes.into_iter().unzip();
    for r in &readers {
        // Non-blocking, so that the final drain stops at an empty pipe.
        // SAFETY: F_SETFL on an open descriptor.
        let rc = unsafe { libc::fcntl(r.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
        assert_eq!(rc, 0);
    }
    let writer = std::thread::spawn(move || {
        let mut writers = writers;
        for _ in 0..LOOPS {
            std::thread::sleep(Duration::from_micros(150));
            for tx in &mut writers {
                tx.write_all(DATA).unwrap();
            }
        }
    });
    let mut read_total = 0usize;
    let drain = |r: &mut File| {
        let mut n = 0;
        let mut tmp = [0u8; DATA.len() * 64];
        loop {
            match r.read(&mut tmp) {
                Ok(0) => break,
                Ok(len) => {
                    n += len;
                    assert_eq!(len % DATA.len(), 0, "a short read: {len}");
                    assert!(tmp[..len].chunks(DATA.len()).all(|c| c == DATA));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        n
    };
    for _ in 0..LOOPS {
        let mut events = [libc::epoll_event { events: 0, u64: 99 }; NPIPES];
        let cqe = uring_tests::complete(
            &mut ring,
            EpollWait::new(&epfd, &mut events[..]).user_data(1),
        );
        assert_eq!(cqe.user_data(), 1);
        let nr = cqe.res();
        assert!((0..=NPIPES as i32).contains(&nr), "{nr}");
        for e in &events[..nr as usize] {
            let idx = { e.u64 } as usize;
            assert!(idx < NPIPES, "{idx}");
            read_total += drain(&mut readers[idx]);
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    writer.join().unwrap();
    for r in &mut readers {
        read_total += drain(r);
    }
    assert_eq!(read_total, LOOPS * NPIPES * DATA.len());
}

/// `queue::test_nop`, `queue::test_setup_no_sqarray` (6.6) and
/// `queue::test_completion_status`: a NOP completes with 0 on a plain ring
/// and on one without an SQ array; the count of completions ready
/// (`Ring::ready`, read from the kernel's tail, where the crate keeps a
/// `CompletionStatus`) is 0 before, 1 once the NOP completed, and 0 again
/// once it is read.
#[test]
fn queue_test_nop_no_sqarray_and_completion_status() {
    let _watch = uring_tests::watchdog();
    for no_sqarray in [false, true] {
        let builder = if no_sqarray {
            Ring::builder().no_sqarray()
        } else {
            Ring::builder()
        };
        let mut ring = match builder.build(8) {
            Ok(ring) => ring,
            Err(e) if no_sqarray && e.raw_os_error() == Some(libc::EINVAL) => {
                skip(format_args!("no IORING_SETUP_NO_SQARRAY (6.6): {e}"));
                return;
            }
            Err(e) => panic!("{e}"),
        };
        assert_eq!(ring.ready(), 0);
        ring.push(Nop::new().user_data(0x4242)).unwrap();
        ring.submit_and_wait(1).unwrap();
        assert_eq!(ring.ready(), 1);
        let cqes: Vec<Cqe> = ring.completions().collect();
        assert_eq!(pairs(&cqes), [(0x4242, 0)], "no SQ array: {no_sqarray}");
        assert_eq!(ring.ready(), 0);
    }
}

/// `cancel::test_async_cancel_user_data` where two ops carry the
/// `user_data`: a SOCKET (which completes at once) and a TIMEOUT of 2 s,
/// both 2003, then two ASYNC_CANCELs of 2003. On the crate's ring (here
/// pushed outside scopes, raw `user_data`) the kernel finds the one still pending:
/// the first cancel completes with 0 and the timeout with `-ECANCELED`
/// at once, the second finds nothing (`-ENOENT`). In a scope that tags
/// only some ops (a ring only scopes push to), `Cancel`'s documentation
/// says "of several of the scope's ops that carry it, each cancel names
/// the next in turn", and that an untagged op is named only by a value
/// no tagged op carries, and a tagged op counts until its last completion
/// is read: the scope tracks only its tagged ops (the SOCKET, which makes
/// a descriptor), and while the SOCKET's completion is unread it rewrites
/// every cancel of 2003 to the SOCKET's tag, though the kernel is done
/// with that op: both cancels fail with `-ENOENT` and the timeout, the
/// scope's other op carrying 2003, runs its whole 2 s. (`Scope::cancel`
/// and `Scope::cancel_sync` add a raw request for the untagged ops, and
/// reach it.)
#[test]
fn a_cancel_in_a_fast_scope_names_the_tagged_carrier_alone() {
    let _watch = uring_tests::watchdog();
    use uring::ops::Socket;
    let long = Duration::from_secs(2);
    // The crate's ring: the kernel matches the pending op.
    let mut ring = Ring::new(16).unwrap();
    // Raw, as the crate pushes: this SOCKET borrows nothing (no slot), but
    // the safe push takes no op with a lifetime.
    uring_tests::push_lent!(
        ring,
        Socket::new(libc::AF_INET, libc::SOCK_STREAM).user_data(2003)
    )
    .unwrap();
    ring.push(Timeout::new(long).user_data(2003)).unwrap();
    let first = wait_cqes(&mut ring, 1);
    assert!(first[0].res() >= 0, "the socket first: {:?}", pairs(&first));
    // SAFETY: the SOCKET's completion carries a descriptor no one owns.
    drop(unsafe { OwnedFd::from_raw_fd(first[0].res()) });
    ring.push(Cancel::new(2003).user_data(2004)).unwrap();
    ring.push(Cancel::new(2003).user_data(2005)).unwrap();
    let start = Instant::now();
    let cqes = wait_cqes(&mut ring, 3);
    assert!(start.elapsed() < long);
    assert_eq!(
        sorted(cqes),
        [(2003, -libc::ECANCELED), (2004, 0), (2005, -libc::ENOENT)]
    );

    // The same in a scope, the cancels pushed before the SOCKET's
    // completion is read (it is in the CQ: the kernel is done with it).
    let mut ring = Ring::new(16).unwrap();
    let start = Instant::now();
    let (cqes, fds) = ring.scope(|s| {
        assert!(!s.tags_every_op());
        s.push(Socket::new(libc::AF_INET, libc::SOCK_STREAM).user_data(2003))
            .unwrap();
        s.push(Timeout::new(long).user_data(2003)).unwrap();
        s.submit().unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        assert_eq!(s.ready(), 1, "the socket's completion waits");
        s.push(Cancel::new(2003).user_data(2004)).unwrap();
        s.push(Cancel::new(2003).user_data(2005)).unwrap();
        s.submit().unwrap();
        let (mut cqes, mut fds) = (Vec::new(), Vec::new());
        while cqes.len() < 4 {
            s.wait_timeout(1, PATIENCE).unwrap();
            for mut c in s.completions() {
                fds.extend(c.take_fd());
                cqes.push(c.cqe());
            }
        }
        (cqes, fds)
    });
    let took = start.elapsed();
    assert_eq!(fds.len(), 1, "the socket");
    let got = sorted(cqes);
    assert!(got[0].0 == 2003 && got[0].1 >= 0, "{got:?}");
    assert_eq!(
        got[1..],
        [
            (2003, -libc::ETIME),
            (2004, -libc::ENOENT),
            (2005, -libc::ENOENT)
        ],
        "after {took:?}"
    );
    assert!(took >= long, "the timeout ran its time: {took:?}");
}

/// `cancel::test_async_cancel_user_data_all` with one of the two ops
/// carrying 2003 a multishot poll (which a scope tags) and the other a
/// timeout of 2 s (which a scope that tags only some ops leaves untagged):
/// on the crate's ring (pushed outside scopes) ASYNC_CANCEL of 2003 with
/// `ALL` cancels both and completes with 2. In such a scope it is
/// rewritten to the poll's tag: it cancels the poll alone (1), and the
/// timeout, which carries 2003 too, runs its whole 2 s (`-ETIME`).
/// As `Cancel`'s documentation says: a value both kinds carry names the
/// tagged op alone (`Scope::cancel` reaches both).
#[test]
fn a_cancel_all_in_a_fast_scope_names_the_tagged_carrier_alone() {
    let _watch = uring_tests::watchdog();
    let long = Duration::from_secs(2);
    let fd = eventfd();
    // The crate's ring.
    let mut ring = Ring::new(16).unwrap();
    let start = Instant::now();
    uring_tests::push_lent!(
        ring,
        PollAdd::new(&fd, PollEvents::IN)
            .poll_flags(PollFlags::MULTI)
            .user_data(2003)
    )
    .unwrap();
    ring.push(Timeout::new(long).user_data(2003)).unwrap();
    ring.submit().unwrap();
    ring.push(
        Cancel::new(2003)
            .cancel_flags(CancelFlags::ALL)
            .user_data(2004),
    )
    .unwrap();
    let cqes = wait_cqes(&mut ring, 3);
    assert!(start.elapsed() < long);
    assert_eq!(
        sorted(cqes),
        [
            (2003, -libc::ECANCELED),
            (2003, -libc::ECANCELED),
            (2004, 2)
        ]
    );
    drop(ring);

    // The same in a scope.
    let mut ring = Ring::new(16).unwrap();
    let start = Instant::now();
    let cqes = ring.scope(|s| {
        assert!(!s.tags_every_op());
        s.push(
            PollAdd::new(&fd, PollEvents::IN)
                .poll_flags(PollFlags::MULTI)
                .user_data(2003),
        )
        .unwrap();
        s.push(Timeout::new(long).user_data(2003)).unwrap();
        s.submit().unwrap();
        s.push(
            Cancel::new(2003)
                .cancel_flags(CancelFlags::ALL)
                .user_data(2004),
        )
        .unwrap();
        scope_reap!(s, 3)
    });
    let took = start.elapsed();
    assert_eq!(
        sorted(cqes),
        [(2003, -libc::ECANCELED), (2003, -libc::ETIME), (2004, 1)],
        "after {took:?}"
    );
    assert!(took >= long, "the timeout ran its time: {took:?}");
}
