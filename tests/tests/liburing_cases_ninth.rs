//! A ninth batch of ports of liburing's own test cases (the `test/`
//! directory of github.com/axboe/liburing, read at commit 27255f4c) to
//! uring's API: the cases of `fsync.c` (`test_single_fsync`,
//! `test_sync_file_range`), `statx.c` (`test_statx_invalid_path`,
//! `test_statx_invalid_buf`), `splice.c` (`test_splice`: `splice_to_pipe`,
//! `splice_from_pipe`, `splice_pipe_to_pipe`, `check_tee`,
//! `fail_tee_offset`, `check_splice_support`, over plain and registered
//! files), `poll-cancel.c` (`test_poll_cancel_with_timeouts`), `probe.c`
//! (`test_probe` with no op entries, `test_probe_helper`),
//! `defer-taskrun.c` (`test_ring_shutdown`), `reg-wait.c`
//! (`test_unsupported_does_not_flush`, the slot half of
//! `test_wait_reg_offset`), `nop-flags.c` (`test_nop_detect`,
//! `test_nop_cqe32`, `test_nop_cqe32_no_ring_support`), `timeout.c`
//! (`test_eventfd`), `resize-rings.c` (`test_reads`, on a regular file),
//! `fdinfo.c` (`test_io`, `test_eventfd_read`) and `io_uring_register.c`
//! (`test_memlock_exceeded`) that the other `liburing_cases*.rs` leave out
//! (found by listing each C file's `test_*` functions against the doc
//! comments near each mention of the file in `tests/tests`). Each test
//! names its C file and case and asserts what the C test asserts of the
//! kernel (results, errnos, order, counts, flags), and more where it is
//! cheap (the bytes moved, what is left in pipes and sockets, how long a
//! ring's drop takes).
//!
//! Where the C test reaches the kernel in a way uring refuses on purpose
//! (a path or a `statx` buffer at a wild address, a `TEE` with offsets, a
//! probe of no entries), the port writes the SQE (or the register call)
//! by hand and says so. Where the C test drops or resizes a ring with
//! reads in flight (poll-cancel.c, defer-taskrun.c, resize-rings.c), the
//! ops are pushed outside a scope (`push_lent!`, the `unsafe` floor): a
//! scope never ends with its ops in flight, and has no `resize`.
//!
//! What the kernel does that the C tests do not say: defer-taskrun.c's
//! receive is cancelled by the ring's teardown (the byte stays in the
//! socket; the C check is an assignment), fdinfo of an SQPOLL ring often
//! shows none of the ring's fields (the kernel skips them while the SQ
//! thread holds the ring's lock), and without `CAP_IPC_LOCK` the ring's
//! own pages count against `RLIMIT_MEMLOCK` with registered buffers.
//!
//! What is left out, and why:
//!
//! - reg-wait.c `test_invalid_sig`: a registered wait argument carrying a
//!   signal mask; `set_registered_wait` registers no masks (documented),
//!   so the `EINVAL`/`EFAULT` of a bad `sigmask_sz` or `sigmask` cannot be
//!   reached. The byte offsets of `test_wait_reg_offset` (`-8`, the
//!   region's end less 8, 1): uring names slots, not offsets.
//!   `test_region_buffer_types`: regions of kernel memory are not offered.
//! - xattr.c `test_invalid_sqe`: a NULL SQE handed to liburing's prep
//!   helper (it crashes the C test unless built `DESTRUCTIVE_TEST`); there
//!   is no such thing as a missing SQE in uring's API.
//! - defer-taskrun.c `test_exec`, poll-cancel.c's `fork`: the port runs
//!   the same ring teardowns in the test process; a `Ring` is not used
//!   across `fork`.
//! - fdinfo.c `test_io` with `IORING_SETUP_SQE_MIXED` (Linux 7.0, not
//!   in 6.18 nor in uring).

use std::io::{Read as _, Seek as _, Write as _};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt as _;
use std::time::{Duration, Instant};

use uring::ops::{
    Fsync, Nop, PollAdd, Read, ReadFixed, ReadV, Splice, SyncFileRange, Tee, Timeout, Write,
    WriteFixed, WriteV,
};
use uring::{Builder, Cqe32, Error, IntoTarget, PollEvents, Ring, Sqe64, SqeFlags, sys};
use uring_tests::{
    PATIENCE, complete, pattern, pipe, push_lent, raw_sqe, reap_one, require_op, skip, stray,
};

// ---------------------------------------------------------------- helpers

/// The wild address the C tests pass for a path or an output buffer.
const BAD_ADDR: u64 = 0x1234;

/// Runs one SQE written by hand and returns its result.
///
/// # Safety
///
/// Every address in `sqe` is [`BAD_ADDR`] or points to memory that stays
/// valid until this returns.
unsafe fn raw_op(ring: &mut Ring, sqe: sys::io_uring_sqe) -> i32 {
    // SAFETY: forwarded from the caller; the op is reaped before returning.
    unsafe { ring.push_raw(&[sqe]) }.unwrap();
    let cqe = reap_one(ring);
    assert_eq!(cqe.user_data(), sqe.user_data);
    cqe.res()
}

/// Reads exactly `n` bytes from `fd` (a pipe end, or a file at its
/// position).
fn read_n(fd: &impl AsFd, n: usize) -> Vec<u8> {
    let mut file = std::fs::File::from(fd.as_fd().try_clone_to_owned().unwrap());
    let mut out = vec![0u8; n];
    file.read_exact(&mut out).unwrap();
    out
}

/// Writes `bytes` to the pipe `fd`, whole.
fn write_to(fd: &OwnedFd, bytes: &[u8]) {
    std::fs::File::from(fd.try_clone().unwrap())
        .write_all(bytes)
        .unwrap();
}

/// The bytes waiting in the pipe or socket `fd` (`FIONREAD`).
fn queued(fd: &impl AsRawFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int through the pointer.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut n) };
    assert_eq!(rc, 0, "FIONREAD: {}", std::io::Error::last_os_error());
    n as usize
}

// ---------------------------------------------------------------- fsync.c

/// fsync.c `test_single_fsync`: an `FSYNC` of a new (empty) file
/// completes with 0. The port adds a file with bytes written, synced by
/// descriptor and through a registered slot, and a data-only sync.
#[test]
fn fsync_single_fsync_completes_with_zero() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::create(dir.path().join("XXXXXX")).unwrap();
    let cqe = complete(&mut ring, Fsync::new(&file).user_data(1));
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0));

    (&file).write_all(&pattern(8192, 3)).unwrap();
    let cqe = complete(
        &mut ring,
        Fsync::new(&file)
            .fsync_flags(uring::FsyncFlags::DATASYNC)
            .user_data(2),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (2, 0));
    let files = ring.register_files(&[file.as_fd()]).unwrap();
    let cqe = complete(&mut ring, Fsync::new(files.get(0).unwrap()).user_data(3));
    assert_eq!((cqe.user_data(), cqe.res()), (3, 0));
}

/// fsync.c `test_sync_file_range`: a `SYNC_FILE_RANGE` of a 1 KiB file,
/// offset 0, length 0 (to the end) and no flags, completes with 0. The
/// port adds the flags `sync_file_range(2)` takes (write and wait: 0) and
/// one it does not (`EINVAL`, as the system call answers).
#[test]
fn fsync_sync_file_range_of_a_whole_file() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let path = dir.path().join(".sync_file_range");
    std::fs::write(&path, pattern(1024, 7)).unwrap();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SyncFileRange>(&ring) {
        return;
    }
    let cqe = complete(&mut ring, SyncFileRange::new(&file).user_data(1));
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0));

    let all = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    let cqe = complete(
        &mut ring,
        SyncFileRange::new(&file)
            .offset(512)
            .len(512)
            .sync_range_flags(all)
            .user_data(2),
    );
    assert_eq!(cqe.res(), 0);
    let cqe = complete(
        &mut ring,
        SyncFileRange::new(&file)
            .sync_range_flags(0x80)
            .user_data(3),
    );
    // SAFETY: sync_file_range takes no pointers.
    let rc = unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, 0x80) };
    assert_eq!(rc, -1);
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::EINVAL)
    );
    assert_eq!(cqe.res(), -libc::EINVAL);
}

// ---------------------------------------------------------------- statx.c

/// The SQE of liburing's `io_uring_prep_statx(sqe, dfd, path, flags,
/// mask, statxbuf)`.
fn statx_sqe(dfd: i32, path: u64, mask: u32, buf: u64, user_data: u64) -> sys::io_uring_sqe {
    let mut sqe = raw_sqe(sys::IORING_OP_STATX, dfd, path, mask, 0, user_data);
    sqe.off = sys::io_uring_sqe_off { addr2: buf };
    sqe
}

/// statx.c `test_statx_invalid_path`: a `STATX` (directory -1, mask
/// `STATX_ALL`) whose path is at a wild address fails with `EFAULT`. (The
/// typed `Statx` takes its path as a `&CStr`: the SQE is written by hand.)
#[test]
fn statx_invalid_path_is_efault() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    // SAFETY: all-zero bytes are a valid `statx`.
    let mut x: libc::statx = unsafe { std::mem::zeroed() };
    let sqe = statx_sqe(
        -1,
        BAD_ADDR,
        libc::STATX_ALL,
        &mut x as *mut libc::statx as u64,
        1,
    );
    // SAFETY: the path is the wild address; the buffer lives until the op
    // is reaped.
    assert_eq!(unsafe { raw_op(&mut ring, sqe) }, -libc::EFAULT);
    // SAFETY: as above; `x` is plain bytes.
    let untouched = unsafe {
        std::slice::from_raw_parts(
            (&x as *const libc::statx).cast::<u8>(),
            std::mem::size_of::<libc::statx>(),
        )
    };
    assert!(untouched.iter().all(|&b| b == 0), "the buffer was written");
}

/// statx.c `test_statx_invalid_buf`: a `STATX` of an existing file (an
/// absolute path, directory -1) into a buffer at a wild address fails with
/// `EFAULT`. (The typed op's output is a `&mut libc::statx`: the SQE is
/// written by hand.)
#[test]
fn statx_invalid_buf_is_efault() {
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".statx");
    std::fs::write(&path, pattern(4096, 1)).unwrap();
    let cpath = uring_tests::cpath(&path);
    let mut ring = Ring::new(8).unwrap();
    let sqe = statx_sqe(-1, cpath.as_ptr() as u64, libc::STATX_ALL, BAD_ADDR, 2);
    // SAFETY: the path lives until the op is reaped; the buffer is the
    // wild address.
    assert_eq!(unsafe { raw_op(&mut ring, sqe) }, -libc::EFAULT);
}

// ---------------------------------------------------------------- splice.c

/// splice.c's `BUF_SIZE`: 16 pages, a default pipe's capacity.
const SPLICE_LEN: usize = 16 * 4096;

/// Runs splices (as splice.c's `do_splice_op`) until `len` bytes moved or
/// one completes with 0 or an error, advancing the offsets that are not
/// `u64::MAX`; returns 0 or that result.
fn do_splice<S: uring::Submission + uring::Scoped>(
    ring: &mut Ring,
    mut off_in: u64,
    mut off_out: u64,
    mut len: u32,
    make: impl Fn(u64, u64, u32) -> S,
) -> i32 {
    loop {
        let res = complete(ring, make(off_in, off_out, len)).res();
        if res <= 0 {
            return res;
        }
        len -= res as u32;
        if off_in != u64::MAX {
            off_in += res as u64;
        }
        if off_out != u64::MAX {
            off_out += res as u64;
        }
        if len == 0 {
            return 0;
        }
    }
}

/// Tees (splice.c's `do_tee`) until `len` bytes are copied.
fn do_tee<S: uring::Submission + uring::Scoped>(
    ring: &mut Ring,
    mut len: u32,
    make: impl Fn(u32) -> S,
) -> i32 {
    loop {
        let res = complete(ring, make(len)).res();
        if res <= 0 {
            return res;
        }
        len -= res as u32;
        if len == 0 {
            return 0;
        }
    }
}

/// The files of splice.c's `test_ctx`: a file holding `SPLICE_LEN` random
/// bytes, an empty one, and two pipes.
struct SpliceCtx {
    fd_in: std::fs::File,
    fd_out: std::fs::File,
    p1: (OwnedFd, OwnedFd),
    p2: (OwnedFd, OwnedFd),
    buf_in: Vec<u8>,
}

impl SpliceCtx {
    fn new() -> SpliceCtx {
        let mut buf_in = vec![0u8; SPLICE_LEN];
        std::fs::File::open("/dev/urandom")
            .unwrap()
            .read_exact(&mut buf_in)
            .unwrap();
        let mut fd_in = tempfile::tempfile().unwrap();
        fd_in.write_all(&buf_in).unwrap();
        SpliceCtx {
            fd_in,
            fd_out: tempfile::tempfile().unwrap(),
            p1: pipe(),
            p2: pipe(),
            buf_in,
        }
    }
}

/// splice.c `splice_to_pipe`, `splice_from_pipe` and
/// `splice_pipe_to_pipe`, through the six targets `t` (the file in, the
/// file out, pipe 1's ends, pipe 2's ends; descriptors or registered
/// slots), checking the bytes through the real descriptors.
fn splice_cases<T: IntoTarget + Copy>(ring: &mut Ring, ctx: &SpliceCtx, t: [T; 6]) {
    let [fd_in, fd_out, p1r, p1w, _p2r, p2w] = t;
    let len = SPLICE_LEN as u32;

    // splice_to_pipe: at the file's position (after a seek to 0), then
    // at an explicit offset 0.
    (&ctx.fd_in).seek(std::io::SeekFrom::Start(0)).unwrap();
    let res = do_splice(ring, u64::MAX, u64::MAX, len, |_, _, n| {
        Splice::new(p1w, fd_in, n)
    });
    assert_eq!(res, 0, "file (position) -> pipe");
    assert!(read_n(&ctx.p1.0, SPLICE_LEN) == ctx.buf_in, "file -> pipe");
    assert_eq!(
        (&ctx.fd_in).stream_position().unwrap(),
        SPLICE_LEN as u64,
        "a splice at the position moves it"
    );
    let res = do_splice(ring, 0, u64::MAX, len, |off_in, _, n| {
        Splice::new(p1w, fd_in, n).offset_in(off_in)
    });
    assert_eq!(res, 0, "file (offset 0) -> pipe");
    assert!(read_n(&ctx.p1.0, SPLICE_LEN) == ctx.buf_in, "file -> pipe");
    assert_eq!(
        (&ctx.fd_in).stream_position().unwrap(),
        SPLICE_LEN as u64,
        "a splice at an offset leaves the position"
    );

    // splice_from_pipe
    write_to(&ctx.p1.1, &ctx.buf_in);
    let res = do_splice(ring, u64::MAX, 0, len, |_, off_out, n| {
        Splice::new(fd_out, p1r, n).offset_out(off_out)
    });
    assert_eq!(res, 0, "pipe -> file");
    assert_eq!(queued(&ctx.p1.0), 0, "the pipe was drained");
    (&ctx.fd_out).seek(std::io::SeekFrom::Start(0)).unwrap();
    assert!(
        read_n(&ctx.fd_out, SPLICE_LEN) == ctx.buf_in,
        "pipe -> file"
    );
    ctx.fd_out.set_len(0).unwrap();
    (&ctx.fd_out).seek(std::io::SeekFrom::Start(0)).unwrap();

    // splice_pipe_to_pipe
    let res = do_splice(ring, 0, u64::MAX, len, |off_in, _, n| {
        Splice::new(p1w, fd_in, n).offset_in(off_in)
    });
    assert_eq!(res, 0, "file -> pipe 1");
    let res = do_splice(ring, u64::MAX, u64::MAX, len, |_, _, n| {
        Splice::new(p2w, p1r, n)
    });
    assert_eq!(res, 0, "pipe 1 -> pipe 2");
    assert_eq!(queued(&ctx.p1.0), 0, "pipe 1 was drained");
    assert!(read_n(&ctx.p2.0, SPLICE_LEN) == ctx.buf_in, "pipe -> pipe");

    // check_tee: a tee of pipe 1 into pipe 2 leaves pipe 1's bytes.
    write_to(&ctx.p1.1, &ctx.buf_in);
    let res = do_tee(ring, len, |n| Tee::new(p2w, p1r, n));
    assert_eq!(res, 0, "tee");
    assert!(read_n(&ctx.p1.0, SPLICE_LEN) == ctx.buf_in, "tee's source");
    assert!(read_n(&ctx.p2.0, SPLICE_LEN) == ctx.buf_in, "tee's copy");
    assert_eq!((queued(&ctx.p1.0), queued(&ctx.p2.0)), (0, 0));
}

/// splice.c `check_splice_support`, `check_tee_support` and
/// `test_splice`'s moves of bytes: a splice and a tee between descriptors
/// -1 fail with `EBADF`; then file to pipe (at the file's position and at
/// offset 0), pipe to file, file to pipe to pipe, and a tee from pipe to
/// pipe each move the 64 KiB whole, with descriptors and then with the six
/// files registered (`SPLICE_F_FD_IN_FIXED`, as the typed op sets it for a
/// registered input). (The port adds: the bytes that arrive are the ones
/// sent, a splice at the position moves it and one at an offset does not,
/// the source pipes are left empty, a tee's source is not.)
#[test]
fn splice_moves_bytes_between_files_and_pipes() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let bad = uring_tests::bad_fd();
    assert_eq!(
        complete(&mut ring, Splice::new(bad, bad, SPLICE_LEN as u32)).res(),
        -libc::EBADF
    );
    assert_eq!(
        complete(&mut ring, Tee::new(bad, bad, SPLICE_LEN as u32)).res(),
        -libc::EBADF
    );
    let ctx = SpliceCtx::new();
    let fds = [
        ctx.fd_in.as_fd(),
        ctx.fd_out.as_fd(),
        ctx.p1.0.as_fd(),
        ctx.p1.1.as_fd(),
        ctx.p2.0.as_fd(),
        ctx.p2.1.as_fd(),
    ];
    splice_cases(&mut ring, &ctx, fds);

    let files = ring
        .register_files(&[
            ctx.fd_in.as_fd(),
            ctx.fd_out.as_fd(),
            ctx.p1.0.as_fd(),
            ctx.p1.1.as_fd(),
            ctx.p2.0.as_fd(),
            ctx.p2.1.as_fd(),
        ])
        .unwrap();
    let slots = [0, 1, 2, 3, 4, 5].map(|i| files.get(i).unwrap());
    splice_cases(&mut ring, &ctx, slots);
}

/// splice.c `fail_tee_offset`: a `TEE` from pipe 2 to pipe 1 with an
/// input offset of -1 and an output offset of 0, or the other way round,
/// fails with `ESPIPE` or `EINVAL` (Linux 6.18: `EINVAL`, a tee takes no
/// offsets), and moves nothing. (The typed `Tee` has no offsets: the SQE
/// is written by hand, as liburing's `io_uring_prep_splice` with the
/// opcode changed writes it.)
#[test]
fn splice_tee_with_offsets_is_refused() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (p1r, p1w) = pipe();
    let (p2r, p2w) = pipe();
    write_to(&p2w, &pattern(4096, 9));
    for (off_in, off_out) in [(u64::MAX, 0u64), (0, u64::MAX)] {
        let mut sqe = raw_sqe(
            sys::IORING_OP_TEE,
            p1w.as_raw_fd(),
            0,
            SPLICE_LEN as u32,
            0,
            7,
        );
        sqe.addr = sys::io_uring_sqe_addr {
            splice_off_in: off_in,
        };
        sqe.off = sys::io_uring_sqe_off { off: off_out };
        sqe.file = sys::io_uring_sqe_file {
            splice_fd_in: p2r.as_raw_fd(),
        };
        // SAFETY: the SQE holds no addresses, only descriptors that stay
        // open until it is reaped.
        let res = unsafe { raw_op(&mut ring, sqe) };
        assert!(
            [-libc::ESPIPE, -libc::EINVAL].contains(&res),
            "offsets ({off_in:#x}, {off_out:#x}): {res}"
        );
    }
    assert_eq!((queued(&p1r), queued(&p2r)), (0, 4096), "nothing moved");
}

// ---------------------------------------------------------------- poll-cancel.c

/// poll-cancel.c `test_poll_cancel_with_timeouts`: on a ring of 8, a 10 s
/// timeout waiting for 1000 completions, then a poll of a second ring's
/// descriptor linked to a 10 s link timeout, all three submitted (3), and
/// the ring dropped with them in flight (the C test leaves it to
/// `exit()`, in a forked child): the drop cancels them without waiting
/// for either timeout (here under 5 s) or hanging, and the second ring
/// still works. Nothing completed before the drop.
#[test]
fn poll_cancel_with_timeouts_ring_dropped_in_flight() {
    let _watch = uring_tests::watchdog();
    let mut ring2 = Ring::new(1).unwrap();
    let mut ring = Ring::new(8).unwrap();
    ring.push(
        Timeout::new(Duration::from_secs(10))
            .count(1000)
            .user_data(1),
    )
    .unwrap();
    push_lent!(
        ring,
        PollAdd::new(&ring2, PollEvents::IN)
            .user_data(2)
            .timeout(Duration::from_secs(10))
    )
    .unwrap();
    assert_eq!(ring.submit().unwrap(), 3);
    assert_eq!(stray(&mut ring), [], "nothing completes early");
    let start = Instant::now();
    drop(ring);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "the drop took {took:?}");
    let cqe = complete(&mut ring2, Nop::new().user_data(9));
    assert_eq!((cqe.user_data(), cqe.res()), (9, 0));
}

// ---------------------------------------------------------------- probe.c

/// One `IORING_REGISTER_PROBE` of `nr` entries, by hand: the register
/// call's result and the probe's header and entries.
fn raw_probe(ring: &Ring, nr: u32) -> (i64, sys::io_uring_probe, Vec<sys::io_uring_probe_op>) {
    const OPS: usize = 256;
    let words = (std::mem::size_of::<sys::io_uring_probe>()
        + OPS * std::mem::size_of::<sys::io_uring_probe_op>())
    .div_ceil(8);
    let mut buf = vec![0u64; words];
    // SAFETY: the buffer holds a header and 256 entries, at least the `nr`
    // asked for; the kernel writes nothing past them.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_io_uring_register,
            ring.as_raw_fd(),
            sys::IORING_REGISTER_PROBE,
            buf.as_mut_ptr(),
            nr,
        )
    };
    let rc = if rc < 0 {
        -(std::io::Error::last_os_error().raw_os_error().unwrap() as i64)
    } else {
        rc
    };
    let base = buf.as_ptr().cast::<u8>();
    // SAFETY: the buffer starts with a header, then 256 entries, all
    // initialised (zeroed before the call).
    let (header, ops) = unsafe {
        (
            base.cast::<sys::io_uring_probe>().read(),
            std::slice::from_raw_parts(
                base.add(std::mem::size_of::<sys::io_uring_probe>())
                    .cast::<sys::io_uring_probe_op>(),
                OPS,
            )
            .to_vec(),
        )
    };
    (rc, header, ops)
}

/// probe.c `test_probe`: a probe of 0 entries succeeds with no entries
/// (`ops_len` 0) and a last op; then one of 256 lists the ops, NOP, READV
/// and WRITE among the supported. `test_probe_helper`: the library's probe
/// (`Ring::probe`) says the same. (uring's probe always asks for 256
/// entries: the probe of 0 is a register call by hand.) The port adds:
/// the entries past the last op are left zeroed, and `Ring::probe` agrees
/// with the raw probe on every opcode.
#[test]
fn probe_of_no_entries_then_of_all() {
    let _watch = uring_tests::watchdog();
    let ring = Ring::new(8).unwrap();
    let (rc, header, ops) = raw_probe(&ring, 0);
    if rc == -(libc::EINVAL as i64) {
        skip("no IORING_REGISTER_PROBE");
        return;
    }
    assert_eq!(rc, 0);
    assert_eq!(header.ops_len, 0, "a probe of 0 entries lists none");
    assert_ne!(header.last_op, 0);
    assert!(ops.iter().all(|op| op.op == 0 && op.flags == 0));

    let (rc, header, ops) = raw_probe(&ring, 256);
    assert_eq!(rc, 0);
    assert_ne!(header.last_op, 0);
    assert_eq!(header.ops_len as u32, header.last_op as u32 + 1);
    let supported = |code: u8| ops[code as usize].flags & sys::IO_URING_OP_SUPPORTED != 0;
    for code in [
        sys::IORING_OP_NOP,
        sys::IORING_OP_READV,
        sys::IORING_OP_WRITE,
    ] {
        assert!(supported(code), "opcode {code}");
    }
    let probe = ring.probe().unwrap();
    assert_eq!(probe.last_op(), header.last_op);
    for code in 0..=255u8 {
        assert_eq!(probe.is_supported(code), supported(code), "opcode {code}");
    }
}

// ---------------------------------------------------------------- defer-taskrun.c

/// defer-taskrun.c `test_ring_shutdown`: on a single-issuer ring with
/// deferred task work and the task-run flag, a receive of one byte of a
/// socket pair is submitted and the peer writes "X": no completion is
/// posted yet (the task work waits for the ring's next enter), and the
/// ring is dropped (`io_uring_queue_exit`). The C test means to check
/// that the task work ran by then (`buff == 'X'`) but writes an
/// assignment, `CHECK(buff = 'X')`, which checks nothing; Linux 6.18
/// cancels the receive instead (its task work, moved to the fallback
/// worker of a dying ring, ends it with `ECANCELED`). The port checks
/// that the byte is in exactly one place a second after the drop (the
/// buffer, or still the socket: here the socket), never lost.
#[test]
fn defer_taskrun_ring_shutdown_runs_pending_task_work() {
    let _watch = uring_tests::watchdog();
    let Ok(mut ring) = Ring::builder()
        .single_issuer()
        .defer_taskrun()
        .taskrun_flag()
        .build(8)
    else {
        skip("no deferred task work");
        return;
    };
    let (rx, mut tx) = std::os::unix::net::UnixStream::pair().unwrap();
    // Leaked, so that the kernel's write, whenever it comes, lands in
    // memory that stays allocated.
    let buff: *mut u8 = Box::into_raw(Box::new(0u8));
    // SAFETY: one byte, leaked above; nothing else touches it until the
    // ring is gone, and then only volatile reads.
    let lent = unsafe { std::slice::from_raw_parts_mut(buff, 1) };
    push_lent!(ring, uring::ops::Recv::new(&rx, lent).user_data(1)).unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    tx.write_all(b"X").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(ring.ready(), 0, "the completion waits for task work");
    drop(ring);
    let start = Instant::now();
    // SAFETY: the byte is leaked, never freed.
    while unsafe { buff.read_volatile() } != b'X' && start.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: as above.
    let got = unsafe { buff.read_volatile() };
    let left = queued(&rx);
    assert!(
        (got, left) == (b'X', 0) || (got, left) == (0, 1),
        "the byte: {got:#x} in the buffer, {left} left in the socket"
    );
}

// ---------------------------------------------------------------- reg-wait.c

/// reg-wait.c `test_unsupported_does_not_flush`: a submit-and-wait on a
/// registered wait argument that cannot be made (liburing: a kernel
/// without `EXT_ARG`; here: a ring with no wait region, and on a ring with
/// one, a slot past its last) fails (`EINVAL` in C, an `InvalidArgument`
/// here) without submitting what is queued: the NOP stays pending, and
/// is submitted and completes afterwards. (The byte offsets of
/// `test_wait_reg_offset` are not expressible: uring takes slot numbers.)
#[test]
fn reg_wait_refused_wait_does_not_submit() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(Nop::new().user_data(1)).unwrap();
    let err = ring.submit_and_wait_registered(1, 0).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    assert_eq!(ring.pending(), 1, "the NOP was submitted");
    assert_eq!(ring.ready(), 0);
    assert_eq!(ring.submit().unwrap(), 1);
    let cqe = uring_tests::submit_and_reap(&mut ring, 1)[0];
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0));

    let mut ring = Ring::builder().r_disabled().build(8).unwrap();
    if let Err(e) = ring.register_wait_region(1) {
        skip(format_args!("no IORING_REGISTER_MEM_REGION: {e}"));
        return;
    }
    ring.enable().unwrap();
    let slots = 4096 / std::mem::size_of::<sys::io_uring_reg_wait>() as u32 - 1;
    ring.push(Nop::new().user_data(2)).unwrap();
    for slot in [slots, slots + 1, u32::MAX] {
        let err = ring.submit_and_wait_registered(1, slot).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{slot}: {err:?}");
        assert_eq!(ring.pending(), 1, "slot {slot}: the NOP was submitted");
    }
    ring.set_registered_wait(slots - 1, Some(Duration::from_secs(1)), None)
        .unwrap();
    assert_eq!(ring.submit_and_wait_registered(1, slots - 1).unwrap(), 1);
    let got: Vec<_> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(got, [(2, 0)]);
}

// ---------------------------------------------------------------- nop-flags.c

/// nop-flags.c `test_nop_detect`: a NOP with `IORING_NOP_INJECT_RESULT`
/// and 42 completes with 42. (The port adds a negative result, which
/// fails the NOP and cancels its link.)
#[test]
fn nop_flags_inject_result() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let cqe = complete(&mut ring, Nop::new().result(42).user_data(1));
    if cqe.res() == 0 {
        skip("no IORING_NOP_INJECT_RESULT (6.10)");
        return;
    }
    assert_eq!((cqe.user_data(), cqe.res()), (1, 42));
    ring.push(
        Nop::new()
            .result(-libc::EIO)
            .user_data(2)
            .link(Nop::new().user_data(3)),
    )
    .unwrap();
    assert_eq!(
        uring_tests::reap_sorted(&mut ring, 2),
        [(2, -libc::EIO), (3, -libc::ECANCELED)]
    );
}

/// nop-flags.c `test_nop_cqe32`: on a ring of 32-byte CQEs, a NOP with
/// `IORING_NOP_CQE32` and the words 0xdeadbeef12345678 (`off`) and
/// 0xabcdef0011223344 (`addr`) completes with 0 and those words in
/// `big_cqe[0]` and `big_cqe[1]`. (The port adds a second NOP, to see the
/// words are each NOP's own.)
#[test]
fn nop_flags_cqe32_carries_two_words() {
    let _watch = uring_tests::watchdog();
    let mut ring = match Builder::new().build_sized::<Sqe64, Cqe32>(8) {
        Ok(ring) => ring,
        Err(e) => {
            skip(format_args!("no 32-byte CQEs: {e}"));
            return;
        }
    };
    let words = [0xdeadbeef12345678u64, 0xabcdef0011223344];
    ring.push(Nop::new().big_cqe(words).user_data(1)).unwrap();
    ring.push(Nop::new().big_cqe([1, 2]).user_data(2)).unwrap();
    ring.submit_and_wait(2).unwrap();
    let got: Vec<_> = ring.completions().collect();
    assert_eq!(got.len(), 2, "{got:?}");
    if got[0].res() == -libc::EINVAL {
        skip("no IORING_NOP_CQE32 (6.18)");
        return;
    }
    assert_eq!((got[0].user_data(), got[0].res()), (1, 0));
    assert_eq!(got[0].big_cqe(), words);
    assert_eq!((got[1].user_data(), got[1].res()), (2, 0));
    assert_eq!(got[1].big_cqe(), [1, 2]);
}

/// nop-flags.c `test_nop_cqe32_no_ring_support`: on a ring of 16-byte
/// CQEs, a NOP with `IORING_NOP_CQE32` fails with `EINVAL` (and, the port
/// adds, cancels what is linked after it).
#[test]
fn nop_flags_cqe32_needs_a_ring_of_big_cqes() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !uring_tests::require_kernel(6, 18, "IORING_NOP_CQE32") {
        return;
    }
    ring.push(
        Nop::new()
            .big_cqe([1, 2])
            .user_data(1)
            .link(Nop::new().user_data(2)),
    )
    .unwrap();
    assert_eq!(
        uring_tests::reap_sorted(&mut ring, 2),
        [(1, -libc::EINVAL), (2, -libc::ECANCELED)]
    );
}

// ---------------------------------------------------------------- timeout.c

/// timeout.c `test_eventfd`: on a ring with deferred task work and an
/// eventfd registered, a 5 s timeout waiting for 100 completions, forced
/// to io-wq (`IOSQE_ASYNC`), is submitted and the ring dropped at once:
/// the drop neither hangs nor waits for the timeout (here under 2 s).
/// (The port adds: nothing completed before the drop.)
#[test]
fn timeout_eventfd_counted_async_timeout_at_ring_drop() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = uring_tests::defer_ring(2) else {
        return;
    };
    // SAFETY: eventfd takes no pointers.
    let ev = unsafe { libc::eventfd(0, 0) };
    assert!(ev >= 0);
    // SAFETY: a new descriptor, owned here.
    let ev = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(ev) };
    ring.register_eventfd(ev.as_fd(), false).unwrap();
    ring.push(
        Timeout::new(Duration::from_secs(5))
            .count(100)
            .flags(SqeFlags::ASYNC)
            .user_data(0x1234),
    )
    .unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.ready(), 0);
    let start = Instant::now();
    drop(ring);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(2), "the drop took {took:?}");
}

// ---------------------------------------------------------------- resize-rings.c

/// resize-rings.c `test_reads` (the C test reads `/dev/nvme0n1`; here a
/// regular file, direct where the file system allows): a ring resized to
/// 128/128, then batches of up to 128 reads of 4 KiB at offsets 8 KiB
/// apart, all in flight, with the ring resized at each batch's first
/// completion (SQ 64, CQ 256) and every 17th (SQ 32, 64 and 16, CQ 128
/// and 256 in turn; a CQ too small for what waits is refused with
/// `EOVERFLOW`): every read completes with its 4 KiB under a `user_data`
/// of its own batch, `ASYNC` and not. (The port reads 4 MiB, not 64, and
/// checks each read's bytes.)
#[test]
fn resize_rings_file_reads_in_flight_across_resizes() {
    const NVECS: usize = 128;
    const READS: usize = 1024;
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let path = dir.path().join("resize-reads");
    let bytes = pattern(READS * 8192, 5);
    std::fs::write(&path, &bytes).unwrap();
    let file = uring_tests::open_direct(&path, false)
        .unwrap_or_else(|| std::fs::File::open(&path).unwrap());
    for async_ in [false, true] {
        // Before the ring: the reads name them.
        let mut blocks = uring_tests::aligned_blocks(NVECS * 4096);
        let Some(mut ring) = uring_tests::resizable_ring(8) else {
            return;
        };
        if let Err(e) = ring.resize(128, 128) {
            skip(format_args!("the kernel does not resize rings: {e}"));
            return;
        }
        let flags = if async_ {
            SqeFlags::ASYNC
        } else {
            SqeFlags::EMPTY
        };
        let mut sizes = (64u32, 256u32);
        let mut offsets = vec![0u64; READS + 1];
        let mut offset = 0u64;
        let mut ud = 0u64;
        let mut done = 0usize;
        while done < READS {
            let start_ud = ud + 1;
            let mut n = 0;
            {
                let bufs = uring_tests::block_bytes(&mut blocks);
                for chunk in bufs.chunks_mut(4096) {
                    if n == NVECS || done + n == READS || ring.space_left() == 0 {
                        break;
                    }
                    ud += 1;
                    offsets[ud as usize] = offset;
                    push_lent!(
                        ring,
                        Read::new(&file, chunk)
                            .offset(offset)
                            .flags(flags)
                            .user_data(ud)
                    )
                    .unwrap();
                    offset += 8192;
                    n += 1;
                }
            }
            assert_eq!(ring.submit().unwrap() as usize, n);
            let mut seen = Vec::new();
            for i in 0..n {
                if i == 0 {
                    match ring.resize(sizes.0, sizes.1) {
                        Ok(()) => {}
                        Err(e) if e.raw_os_error() == Some(libc::EOVERFLOW) => {}
                        Err(e) => panic!("resize to {sizes:?}: {e}"),
                    }
                    sizes = (32, 128);
                }
                ring.wait_timeout(1, PATIENCE).unwrap();
                let cqe = ring.peek().unwrap();
                ring.advance(1);
                assert_eq!(cqe.res(), 4096, "async {async_}: {cqe:?}");
                assert!(
                    (start_ud..=ud).contains(&cqe.user_data()),
                    "async {async_}: {cqe:?} outside {start_ud}..={ud}"
                );
                seen.push(cqe.user_data());
                if i % 17 == 0 {
                    match ring.resize(sizes.0, sizes.1) {
                        Ok(()) => {
                            assert_eq!((ring.sq_entries(), ring.cq_entries()), sizes);
                            sizes.0 = match sizes.0 {
                                32 => 64,
                                64 => 16,
                                _ => 32,
                            };
                            sizes.1 = if sizes.1 == 128 { 256 } else { 128 };
                        }
                        Err(e) if e.raw_os_error() == Some(libc::EOVERFLOW) => {}
                        Err(e) => panic!("resize to {sizes:?}: {e}"),
                    }
                }
            }
            seen.sort_unstable();
            assert_eq!(seen, (start_ud..=ud).collect::<Vec<_>>());
            let bufs = uring_tests::block_bytes(&mut blocks);
            for (k, u) in (start_ud..=ud).enumerate() {
                let at = offsets[u as usize] as usize;
                assert!(
                    bufs[k * 4096..(k + 1) * 4096] == bytes[at..at + 4096],
                    "read {u} at {at}"
                );
            }
            done += n;
        }
        assert_eq!(stray(&mut ring), [], "async {async_}");
    }
}

// ---------------------------------------------------------------- fdinfo.c

/// fdinfo.c's `FILE_SIZE`, `BS` and `BUFFERS`.
const FDINFO_FILE: usize = 256 * 1024;
const FDINFO_BS: usize = 8192;
const FDINFO_BUFFERS: usize = FDINFO_FILE / FDINFO_BS;

/// The ring's `/proc/self/fdinfo` text (fdinfo.c's `fdinfo_read`).
fn fdinfo_read(fd: i32) -> String {
    std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap()
}

/// One op's memory in an fdinfo.c `__test_io` run.
enum FdinfoIo<'b> {
    /// A plain or fixed read or write's buffer.
    Slice(&'b mut [u8]),
    /// A `WRITEV`'s iovec.
    Out([std::io::IoSlice<'b>; 1]),
    /// A `READV`'s iovec.
    In([std::io::IoSliceMut<'b>; 1]),
}

/// One fdinfo.c `__test_io` run through the target `t` (the file, or its
/// registered slot on an SQPOLL ring): 32 reads or writes of 8 KiB at
/// random offsets (fixed-buffer ones with `fixed`, but every other write
/// plain, as in C; vectored unless `nonvec`), fdinfo read ten times while
/// they are in flight; each completes with 8 KiB, and (the port adds)
/// each read brings the file's bytes at its offset.
#[allow(clippy::too_many_arguments)]
fn fdinfo_io<T: IntoTarget + Copy>(
    ring: &mut Ring,
    t: T,
    write: bool,
    fixed: Option<&uring::FixedBuffers>,
    nonvec: bool,
    bufs: &mut [u8],
    file_bytes: &[u8],
    seed: &mut u64,
    what: &str,
) {
    let fd = ring.as_raw_fd();
    let mut items = Vec::new();
    for (i, chunk) in bufs.chunks_mut(FDINFO_BS).enumerate() {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let offset = ((*seed >> 33) as usize % FDINFO_BUFFERS * FDINFO_BS) as u64;
        let do_fixed = fixed.is_some() && !(write && i % 2 == 1);
        let io = if do_fixed || nonvec {
            FdinfoIo::Slice(chunk)
        } else if write {
            FdinfoIo::Out([std::io::IoSlice::new(chunk)])
        } else {
            FdinfoIo::In([std::io::IoSliceMut::new(chunk)])
        };
        items.push((io, offset, do_fixed));
    }
    let got = ring.scope(|s| {
        for (i, (io, offset, do_fixed)) in items.iter_mut().enumerate() {
            let (offset, ud) = (*offset, i as u64);
            let pushed = match io {
                FdinfoIo::Slice(chunk) => {
                    if *do_fixed {
                        let buf = fixed.unwrap().get(i as u32).unwrap();
                        if write {
                            let op = WriteFixed::new(t, &chunk[..], buf);
                            s.push(op.offset(offset).user_data(ud)).is_ok()
                        } else {
                            let op = ReadFixed::new(t, &mut chunk[..], buf);
                            s.push(op.offset(offset).user_data(ud)).is_ok()
                        }
                    } else if write {
                        s.push(Write::new(t, &chunk[..]).offset(offset).user_data(ud))
                            .is_ok()
                    } else {
                        s.push(Read::new(t, &mut chunk[..]).offset(offset).user_data(ud))
                            .is_ok()
                    }
                }
                FdinfoIo::Out(iov) => s
                    .push(WriteV::new(t, &iov[..]).offset(offset).user_data(ud))
                    .is_ok(),
                FdinfoIo::In(iov) => s
                    .push(ReadV::new(t, &mut iov[..]).offset(offset).user_data(ud))
                    .is_ok(),
            };
            assert!(pushed, "{what}: push {i}");
        }
        s.submit().unwrap();
        for _ in 0..10 {
            // The ring's part is left out while its lock is held (an SQ
            // thread at work): only the read is checked.
            let info = fdinfo_read(fd);
            assert!(info.starts_with("pos:"), "{what}: {info}");
            std::thread::sleep(Duration::from_micros(2));
        }
        uring_tests::scope_reap(s, FDINFO_BUFFERS)
    });
    let offsets: Vec<u64> = items.iter().map(|(_, o, _)| *o).collect();
    drop(items);
    let mut seen: Vec<u64> = got.iter().map(|c| c.user_data()).collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..FDINFO_BUFFERS as u64).collect::<Vec<_>>(),
        "{what}"
    );
    for cqe in &got {
        assert_eq!(cqe.res(), FDINFO_BS as i32, "{what}: {cqe:?}");
        if !write {
            let (i, at) = (
                cqe.user_data() as usize,
                offsets[cqe.user_data() as usize] as usize,
            );
            assert!(
                bufs[i * FDINFO_BS..(i + 1) * FDINFO_BS] == file_bytes[at..at + FDINFO_BS],
                "{what}: read {i} at {at}"
            );
        }
    }
}

/// fdinfo.c `test_io`, every combination of its flags but the mixed SQEs
/// (writes and reads; buffered and `O_DIRECT` where the file system takes
/// it; plain and SQPOLL rings, the latter through a registered file;
/// registered buffers or not; vectored or not): 32 ops of 8 KiB at random
/// offsets of a 256 KiB file, with the ring's fdinfo read while they are in
/// flight, each complete with 8 KiB. (The port adds the bytes of each
/// read; the writes write the file's own bytes back, so that the reads
/// that follow still know what to expect.)
#[test]
fn fdinfo_io_with_fdinfo_read_in_flight() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let path = dir.path().join(".basic-rw");
    let file_bytes = pattern(FDINFO_FILE, 11);
    std::fs::write(&path, &file_bytes).unwrap();
    let mut seed = 0x5eed_u64;
    for combo in 0..32u32 {
        let (write, buffered, sqthread, fixed, nonvec) = (
            combo & 1 != 0,
            combo & 2 != 0,
            combo & 4 != 0,
            combo & 8 != 0,
            combo & 16 != 0,
        );
        let what = format!(
            "write {write} buffered {buffered} sqthread {sqthread} fixed {fixed} nonvec {nonvec}"
        );
        let file = if buffered {
            std::fs::OpenOptions::new()
                .read(!write)
                .write(write)
                .open(&path)
                .unwrap()
        } else {
            match std::fs::OpenOptions::new()
                .read(!write)
                .write(write)
                .custom_flags(libc::O_DIRECT)
                .open(&path)
            {
                Ok(file) => file,
                Err(e) => {
                    skip(format_args!("{what}: no O_DIRECT here: {e}"));
                    continue;
                }
            }
        };
        let mut blocks = uring_tests::aligned_blocks(FDINFO_FILE);
        let bufs = uring_tests::block_bytes(&mut blocks);
        if write {
            // Each write writes the file's bytes at its offset back: fill
            // every buffer once its offset is known. The offsets come
            // from the same generator: replay it.
            let mut replay = seed;
            for chunk in bufs.chunks_mut(FDINFO_BS) {
                replay = replay
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let at = (replay >> 33) as usize % FDINFO_BUFFERS * FDINFO_BS;
                chunk.copy_from_slice(&file_bytes[at..at + FDINFO_BS]);
            }
        }
        let mut ring = if sqthread {
            match uring_tests::sqpoll_ring(64) {
                Some(ring) => ring,
                None => continue,
            }
        } else {
            Ring::new(64).unwrap()
        };
        let table = if fixed {
            let iovs: Vec<std::io::IoSliceMut<'_>> = bufs
                .chunks_mut(FDINFO_BS)
                .map(std::io::IoSliceMut::new)
                .collect();
            // SAFETY: the memory (`blocks`) outlives the ring, and is used
            // only by the fixed ops of the scope below, which ends with
            // all of them complete.
            Some(unsafe { ring.register_buffers(&iovs) }.unwrap())
        } else {
            None
        };
        let bufs = uring_tests::block_bytes(&mut blocks);
        if sqthread {
            let files = ring.register_files(&[file.as_fd()]).unwrap();
            let slot = files.get(0).unwrap();
            fdinfo_io(
                &mut ring,
                slot,
                write,
                table.as_ref(),
                nonvec,
                bufs,
                &file_bytes,
                &mut seed,
                &what,
            );
        } else {
            fdinfo_io(
                &mut ring,
                &file,
                write,
                table.as_ref(),
                nonvec,
                bufs,
                &file_bytes,
                &mut seed,
                &what,
            );
        }
        drop(ring);
    }
}

/// fdinfo.c `test_eventfd_read`, on a plain ring, one with deferred task
/// work and an SQPOLL ring: a read of 8 bytes of an eventfd holding 1,
/// the ring's fdinfo read meanwhile and the eventfd written again: the
/// read completes with 8 (and, the port adds, the count it read is 1,
/// the later write's 1 being left in the eventfd, or 2).
#[test]
fn fdinfo_eventfd_read_on_every_ring_kind() {
    let _watch = uring_tests::watchdog();
    for kind in uring_tests::RING_KINDS {
        let Some(mut ring) = uring_tests::ring_of_kind(kind, 64, 128) else {
            continue;
        };
        // SAFETY: eventfd takes no pointers.
        let ev = unsafe { libc::eventfd(1, 0) };
        assert!(ev >= 0);
        // SAFETY: a new descriptor, owned here.
        let ev = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(ev) };
        let mut event = [0u8; 8];
        let fd = ring.as_raw_fd();
        let cqe = ring.scope(|s| {
            s.push(Read::new(&ev, &mut event[..]).user_data(1)).unwrap();
            s.submit().unwrap();
            let info = fdinfo_read(fd);
            assert!(info.starts_with("pos:"), "{kind:?}: {info}");
            let one = 1u64.to_ne_bytes();
            // SAFETY: the buffer is 8 bytes, the eventfd is open.
            let rc = unsafe { libc::write(ev.as_raw_fd(), one.as_ptr().cast(), 8) };
            assert_eq!(rc, 8);
            uring_tests::next_scope_cqe(s).cqe()
        });
        assert_eq!((cqe.user_data(), cqe.res()), (1, 8), "{kind:?}");
        let count = u64::from_ne_bytes(event);
        let left = queued_eventfd(&ev);
        assert_eq!(count + left, 2, "{kind:?}: read {count}, left {left}");
    }
}

/// What an eventfd holds (read without blocking; 0 when empty).
fn queued_eventfd(ev: &OwnedFd) -> u64 {
    // SAFETY: F_SETFL on an open descriptor.
    unsafe {
        let flags = libc::fcntl(ev.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(ev.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    let mut out = [0u8; 8];
    // SAFETY: 8 writable bytes.
    let rc = unsafe { libc::read(ev.as_raw_fd(), out.as_mut_ptr().cast(), 8) };
    if rc == 8 { u64::from_ne_bytes(out) } else { 0 }
}

// ---------------------------------------------------------------- io_uring_register.c

/// `_LINUX_CAPABILITY_VERSION_3` and `CAP_IPC_LOCK`.
const CAP_VERSION_3: u32 = 0x2008_0522;
const CAP_IPC_LOCK: u32 = 14;

/// Drops `CAP_IPC_LOCK` from this process's effective set (its only
/// thread's: it runs in a process of its own); whether it was there.
fn drop_ipc_lock() -> bool {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut header = Header {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: a version 3 header and two data words, as capget(2) takes.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    assert_eq!(rc, 0, "capget: {}", std::io::Error::last_os_error());
    let had = data[0].effective & (1 << CAP_IPC_LOCK) != 0;
    data[0].effective &= !(1 << CAP_IPC_LOCK);
    // SAFETY: as above, for capset(2).
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    assert_eq!(rc, 0, "capset: {}", std::io::Error::last_os_error());
    had
}

/// Registers one buffer of `len` bytes as io_uring_register.c's
/// `test_memlock_exceeded` does, halving it on `ENOMEM`; the lengths
/// refused and the one registered (then unregistered), or `None` on
/// `EFAULT`.
fn register_halving(ring: &mut Ring, mut len: usize) -> (Vec<usize>, Option<usize>) {
    // Page-aligned: the kernel counts the pages a buffer touches.
    let mut blocks = uring_tests::aligned_blocks(len.div_ceil(4096) * 4096);
    let memory = uring_tests::block_bytes(&mut blocks);
    let mut refused = Vec::new();
    while len > 0 {
        let iov = [std::io::IoSliceMut::new(&mut memory[..len])];
        // SAFETY: `memory` outlives the registration, which ends below
        // (or never began); no op uses it.
        match unsafe { ring.register_buffers(&iov) } {
            Ok(table) => {
                ring.unregister_buffers(table).unwrap();
                return (refused, Some(len));
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOMEM) => {
                refused.push(len);
                len /= 2;
            }
            Err(e) if e.raw_os_error() == Some(libc::EFAULT) => return (refused, None),
            Err(e) => panic!("register {len} bytes: {e}"),
        }
    }
    (refused, Some(0))
}

/// io_uring_register.c `test_memlock_exceeded`: a buffer twice the
/// `RLIMIT_MEMLOCK` limit is registered, halved while the kernel says
/// `ENOMEM`, and unregistered once it fits; nothing else fails (the C
/// test skips limits of 2 GiB or more). As run (root keeps
/// `CAP_IPC_LOCK`, and the kernel counts nothing) the first length fits.
/// The port adds the case the C test means: without `CAP_IPC_LOCK`, under
/// a limit of 64 KiB, 128 KiB is refused with `ENOMEM`, and a half of a
/// half fits (64 KiB does not: Linux 6.18 counts the ring's own pages
/// against the same limit).
/// (In a process of its own: the capability and the limit are the
/// process's.)
#[test]
fn io_uring_register_memlock_exceeded() {
    uring_tests::in_own_process(
        "io_uring_register_memlock_exceeded",
        "a registration that never returned",
        memlock_checks,
    );
}

/// The checks of [`io_uring_register_memlock_exceeded`].
fn memlock_checks() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) };
    assert_eq!(rc, 0);
    if limit.rlim_cur < 2 << 30 {
        let mut ring = Ring::new(8).unwrap();
        let (refused, fit) = register_halving(&mut ring, limit.rlim_cur as usize * 2);
        assert!(fit != Some(0), "nothing fit, after {refused:?}");
    }
    let had = drop_ipc_lock();
    const LIMIT: usize = 64 * 1024;
    let lower = libc::rlimit {
        rlim_cur: LIMIT as u64,
        rlim_max: limit.rlim_max.max(LIMIT as u64),
    };
    // SAFETY: setrlimit reads one rlimit.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lower) };
    assert_eq!(rc, 0, "setrlimit: {}", std::io::Error::last_os_error());
    let mut ring = Ring::new(8).unwrap();
    let (refused, fit) = register_halving(&mut ring, LIMIT * 2);
    eprintln!("CAP_IPC_LOCK was {had}; refused {refused:?}, fit {fit:?}");
    assert_eq!(refused.first(), Some(&(LIMIT * 2)), "{refused:?}");
    assert!(
        fit.is_some_and(|n| n > 0 && n <= LIMIT),
        "refused {refused:?}, fit {fit:?}"
    );
}
