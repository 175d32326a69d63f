//! The file-system and miscellaneous ops, attacked where the existing
//! suites (`fs_ops.rs`, `ops_syscall_parity_audit.rs`,
//! `attacks_op_args_source_audit.rs`, `attacks_op_timing.rs`) stop short:
//! a `WaitId` for a child that is still running when its scope ends, or
//! panics (cancelled: it must neither reap the child nor write its
//! `siginfo` when the child exits later); a single `FutexWait` and an
//! `EpollWait` in a panicking scope (no waiter, no event written after);
//! `Fadvise` ranges longer than 4 GiB, checked by their effect on the page
//! cache rather than by their result alone; `Splice` and `Tee` whose input
//! is a registered pipe (`SPLICE_F_FD_IN_FIXED`) at the edges `splice(2)`
//! and `tee(2)` refuse or cut (an offset on a pipe, a pipe into itself,
//! length 0, `u32::MAX`), each compared with the syscall; `Statx` of
//! descriptors that are no path (`AT_EMPTY_PATH`) and of an empty path
//! without it, with a canary over the `statx` the op lends.
//!
//! Read against Linux 6.18: `io_uring/waitid.c` (`io_waitid`,
//! `__io_waitid_cancel`, which removes the wait-queue entry and completes
//! with `-ECANCELED` without touching `infop`; `io_waitid_finish`, which
//! copies the `siginfo` only on a reaped child), `io_uring/futex.c`
//! (`io_futex_wait`, `io_futex_cancel`), `io_uring/epoll.c`
//! (`io_epoll_wait`), `io_uring/advise.c` (`io_fadvise_prep`: the length
//! is `sqe->addr`, or `sqe->len` when that is 0), `io_uring/splice.c`
//! (`io_splice_get_file`, `io_splice`, `io_tee`: a length of 0 completes
//! with 0 without calling `do_splice`), `fs/splice.c` (`do_splice`:
//! `-ESPIPE` for an offset on a pipe, `-EINVAL` for a pipe into itself;
//! `do_tee`), and `io_uring/statx.c`.
//!
//! Every test is safe code against the running kernel and checks what it
//! did: results and errno against the same syscall, counts, the bytes that
//! moved, and canaries in the memory an op lent. `unsafe` appears only to
//! set up or inspect (raw syscalls for the comparison), each with a
//! `// SAFETY:` comment.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::os::unix::net::UnixStream;
use std::panic::AssertUnwindSafe;
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use uring::ops::{EpollWait, Fadvise, FutexWait, FutexWake, Splice, Statx, Tee, WaitId};
use uring::{Fd, FutexFlags, Ring, WaitIdTarget};
use uring_tests::{complete, pattern, pipe, require_op, skip, stray};

/// A canary written over memory after its op is given back.
const CANARY: i32 = 0x5a5a;

/// A child process that runs until its standard input is closed.
fn blocked_child() -> std::process::Child {
    Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn cat")
}

/// Waits until the child `pid` has exited, without reaping it
/// (`waitid(2)` with `WNOWAIT`): by then its exit has woken every waiter
/// of the parent, an io_uring `WaitId` among them.
fn wait_for_exit(pid: libc::pid_t) {
    // SAFETY: all-zero bytes are a valid `siginfo_t`.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: inspection: waitid writes one `siginfo_t` into `info`.
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOWAIT,
        )
    };
    assert_eq!(rc, 0, "waitid: {}", std::io::Error::last_os_error());
}

/// A zeroed `siginfo_t`.
fn zeroed_siginfo() -> libc::siginfo_t {
    // SAFETY: all-zero bytes are a valid `siginfo_t` (plain integers).
    unsafe { std::mem::zeroed() }
}

/// A `WaitId` for a child that is still running when its scope's closure
/// returns: the scope cancels it (`__io_waitid_cancel`). Safe outcome:
/// the scope returns with no completion left behind; when the child exits
/// afterwards, nothing is written into the `siginfo` (canaries), and the
/// child is still there to reap (the cancelled wait took nothing).
#[test]
fn a_waitid_cut_short_by_its_scope_neither_reaps_nor_writes_after() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<WaitId<'_>>(&ring) {
        return;
    }
    let mut child = blocked_child();
    let pid = child.id() as libc::pid_t;
    let mut info = zeroed_siginfo();
    let mut seen = Vec::new();
    ring.scope(|s| {
        s.push(WaitId::new(WaitIdTarget::pid(pid), libc::WEXITED, &mut info).user_data(1))
            .unwrap();
        s.submit().unwrap();
        let _ = s.wait_timeout(1, Duration::from_millis(30));
        seen.extend(s.completions().map(|c| c.cqe()));
    });
    assert!(seen.is_empty(), "the child is running: {seen:?}");
    assert_eq!(stray(&mut ring), vec![], "the scope left a completion");
    info.si_signo = CANARY;
    info.si_code = CANARY;
    drop(child.stdin.take());
    wait_for_exit(pid);
    assert_eq!(stray(&mut ring), vec![], "a cancelled wait completed again");
    assert_eq!(
        (info.si_signo, info.si_code),
        (CANARY, CANARY),
        "the kernel wrote the siginfo after the scope returned"
    );
    let status = child.wait().expect("the child is still ours to reap");
    assert!(status.success(), "{status:?}");
}

/// A scope that panics with a `WaitId` (a running child), a `FutexWait`
/// (a word that holds its value) and an `EpollWait` (nothing ready) in
/// flight. Safe outcome: the unwind leaves the scope only after each was
/// cancelled; then the child's exit writes no `siginfo`, a wake of the
/// word wakes nobody, data on the watched socket writes no event, and no
/// completion is left in the ring.
#[test]
fn a_panicking_scope_leaves_no_waiter_of_a_child_a_futex_or_an_epoll_set() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (has_waitid, has_futex, has_epoll) = (
        require_op::<WaitId<'_>>(&ring),
        require_op::<FutexWait<'_>>(&ring),
        require_op::<EpollWait<'_>>(&ring),
    );
    if !(has_waitid && has_futex && has_epoll) {
        return;
    }
    let mut child = blocked_child();
    let pid = child.id() as libc::pid_t;
    let mut info = zeroed_siginfo();
    let word = AtomicU32::new(7);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let epoll = uring_tests::epoll_watching(rx.as_fd(), 0x1234);
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
    let unwound = std::panic::catch_unwind(AssertUnwindSafe(|| {
        ring.scope(|s| {
            s.push(WaitId::new(WaitIdTarget::pid(pid), libc::WEXITED, &mut info).user_data(1))
                .unwrap();
            s.push(
                FutexWait::new(&word, 7)
                    .futex_flags(FutexFlags::PRIVATE)
                    .user_data(2),
            )
            .unwrap();
            s.push(EpollWait::new(&epoll, &mut events[..]).user_data(3))
                .unwrap();
            s.submit().unwrap();
            let _ = s.wait_timeout(1, Duration::from_millis(30));
            assert_eq!(s.ready(), 0, "all three are waiting");
            panic!("unwinding with three waits in flight");
        })
    }));
    assert!(unwound.is_err(), "the closure panicked");
    assert_eq!(stray(&mut ring), vec![], "the scope left a completion");
    info.si_signo = CANARY;
    for e in &mut events {
        e.u64 = 0x5a5a;
    }
    let woken = complete(
        &mut ring,
        FutexWake::new(&word, 10).futex_flags(FutexFlags::PRIVATE),
    );
    assert_eq!(
        woken.res(),
        0,
        "a futex waiter outlived its scope: {woken:?}"
    );
    tx.write_all(b"x").unwrap();
    drop(child.stdin.take());
    wait_for_exit(pid);
    assert_eq!(stray(&mut ring), vec![], "a cancelled op completed again");
    assert_eq!(info.si_signo, CANARY, "siginfo written after the scope");
    assert!(
        events.iter().all(|e| { e.u64 } == 0x5a5a),
        "an epoll event was written after the scope"
    );
    assert!(
        child.wait().unwrap().success(),
        "the child was left to reap"
    );
}

/// Whether page `index` of `file` (16 pages long) is in the page cache,
/// by `mincore(2)` of a read-only mapping.
fn cached(file: &File, index: usize, page: usize) -> bool {
    // SAFETY: inspection: a private read-only mapping of 16 pages of the
    // file, unmapped below; nothing reads through it.
    let map = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            16 * page,
            libc::PROT_READ,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        )
    };
    assert_ne!(map, libc::MAP_FAILED);
    let mut vec = [0u8; 16];
    // SAFETY: `map` spans 16 pages; mincore writes one byte per page.
    let rc = unsafe { libc::mincore(map, 16 * page, vec.as_mut_ptr()) };
    // SAFETY: the mapping made above, used by nothing else.
    unsafe { libc::munmap(map, 16 * page) };
    assert_eq!(rc, 0);
    vec[index] & 1 == 1
}

/// `Fadvise` lends its 64-bit length through `addr`, with the low 32 bits
/// in `len` too (`io_fadvise_prep` reads `addr`, or `len` when `addr` is
/// 0; before 6.7 the kernel read `len` alone). A `DONTNEED` from offset 0
/// of `4 GiB + 1 page` covers the whole 16-page file, as
/// `posix_fadvise(2)` of the same range does; were the length cut to its
/// low 32 bits (one page), page 0 alone would leave the cache. Checked
/// by its effect, for 4 GiB + 1 page and for exactly 4 GiB (low bits 0,
/// which an older kernel reads as "to the end").
#[test]
fn fadvise_ranges_past_4_gib_evict_the_whole_range_as_posix_fadvise_does() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(6, 7, "64-bit FADVISE lengths") {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Fadvise>(&ring) {
        return;
    }
    // SAFETY: sysconf reads a constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cached");
    std::fs::write(&path, pattern(16 * page, 3)).unwrap();
    let file = File::open(&path).unwrap();
    file.sync_all().unwrap();
    for len in [(1u64 << 32) + page as u64, 1u64 << 32] {
        // Read every page in (pread), then evict from page 8 on with the
        // syscall to see that eviction shows here at all.
        let mut all = vec![0u8; 16 * page];
        file.read_exact_at(&mut all, 0).unwrap();
        if !(0..16).all(|i| cached(&file, i, page)) {
            return skip("pages read back are not all cached on the temp dir's file system");
        }
        // SAFETY: a plain call on a borrowed descriptor.
        let rc = unsafe {
            libc::posix_fadvise(
                file.as_raw_fd(),
                (8 * page) as i64,
                len as i64,
                libc::POSIX_FADV_DONTNEED,
            )
        };
        assert_eq!(rc, 0);
        if (8..16).any(|i| cached(&file, i, page)) {
            return skip("DONTNEED does not evict clean pages here");
        }
        let cqe = complete(
            &mut ring,
            Fadvise::new(&file, libc::POSIX_FADV_DONTNEED).len(len),
        );
        assert_eq!(cqe.res(), 0, "{cqe:?}");
        let left: Vec<usize> = (0..8).filter(|&i| cached(&file, i, page)).collect();
        assert!(
            left.is_empty(),
            "DONTNEED of {len:#x} bytes from 0 left pages {left:?} cached (the length was cut)"
        );
    }
}

/// `splice(2)` / `tee(2)` result as `-errno` or the count.
fn sys(rc: isize) -> i32 {
    if rc < 0 {
        -std::io::Error::last_os_error().raw_os_error().unwrap()
    } else {
        rc as i32
    }
}

/// Everything buffered in the pipe `rx`, read without blocking.
fn drain(rx: &OwnedFd) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let mut pfd = libc::pollfd {
            fd: rx.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: inspection: poll of one descriptor, no wait.
        if unsafe { libc::poll(&mut pfd, 1, 0) } != 1 {
            break;
        }
        // SAFETY: inspection: read into `buf`, which outlives the call.
        let n = unsafe { libc::read(rx.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
    out
}

/// `Splice` and `Tee` with a registered pipe as input
/// (`SPLICE_F_FD_IN_FIXED`), against `splice(2)` and `tee(2)` on twin
/// pipes: a length of 0 (0, nothing moves), `u32::MAX` from a pipe holding
/// 5 bytes (5), an input offset on a pipe (`ESPIPE`), a pipe teed or
/// spliced into itself (`EINVAL`), a file as `tee`'s input (`EINVAL`), and
/// a pipe spliced into a file at a given offset (the file's position does
/// not move).
#[test]
fn splice_and_tee_from_a_registered_pipe_match_the_calls_at_their_edges() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Tee<'_>>(&ring) || !require_op::<Splice<'_>>(&ring) {
        return;
    }
    let (a_rx, a_tx) = pipe();
    let (b_rx, b_tx) = pipe();
    let files = ring.register_files(&[a_rx.as_fd(), a_tx.as_fd()]).unwrap();
    let fill = |tx: &OwnedFd, bytes: &[u8]| {
        let mut f = File::from(tx.try_clone().unwrap());
        f.write_all(bytes).unwrap();
    };
    fill(&a_tx, b"hello");
    fill(&b_tx, b"hello");

    // Tee of 0 bytes, then of u32::MAX: 0, then all five, unconsumed.
    for len in [0u32, u32::MAX] {
        let (o_rx, o_tx) = pipe();
        let (p_rx, p_tx) = pipe();
        let ra = complete(&mut ring, Tee::new(&o_tx, files.get(0).unwrap(), len)).res();
        // SAFETY: a plain call on borrowed descriptors.
        let rb = sys(unsafe { libc::tee(b_rx.as_raw_fd(), p_tx.as_raw_fd(), len as usize, 0) });
        assert_eq!((ra, rb), (rb, if len == 0 { 0 } else { 5 }), "tee of {len}");
        assert_eq!(drain(&o_rx), drain(&p_rx), "tee of {len}");
    }

    // Splice with an input offset on a pipe: ESPIPE on both, nothing moves.
    {
        let (o_rx, o_tx) = pipe();
        let ra = complete(
            &mut ring,
            Splice::new(&o_tx, files.get(0).unwrap(), 5).offset_in(0),
        )
        .res();
        let mut off: i64 = 0;
        // SAFETY: an loff_t for the input offset, none for the output.
        let rb = sys(unsafe {
            libc::splice(
                b_rx.as_raw_fd(),
                &mut off,
                o_tx.as_raw_fd(),
                std::ptr::null_mut(),
                5,
                0,
            )
        });
        assert_eq!((ra, rb), (-libc::ESPIPE, -libc::ESPIPE));
        assert!(drain(&o_rx).is_empty());
    }

    // A pipe into itself: EINVAL for tee and for splice, on both.
    let ra = complete(
        &mut ring,
        Tee::new(files.get(1).unwrap(), files.get(0).unwrap(), 5),
    )
    .res();
    // SAFETY: a plain call on borrowed descriptors.
    let rb = sys(unsafe { libc::tee(b_rx.as_raw_fd(), b_tx.as_raw_fd(), 5, 0) });
    assert_eq!((ra, rb), (-libc::EINVAL, -libc::EINVAL), "tee into itself");
    let ra = complete(&mut ring, Splice::new(&a_tx, files.get(0).unwrap(), 5)).res();
    // SAFETY: a plain call on borrowed descriptors.
    let rb = sys(unsafe {
        libc::splice(
            b_rx.as_raw_fd(),
            std::ptr::null_mut(),
            b_tx.as_raw_fd(),
            std::ptr::null_mut(),
            5,
            0,
        )
    });
    assert_eq!(
        (ra, rb),
        (-libc::EINVAL, -libc::EINVAL),
        "splice into itself"
    );

    // A file as tee's input: EINVAL on both.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, b"0123456789").unwrap();
    let file = File::options().read(true).write(true).open(&path).unwrap();
    {
        let (_o_rx, o_tx) = pipe();
        let ra = complete(&mut ring, Tee::new(&o_tx, &file, 5)).res();
        // SAFETY: a plain call on borrowed descriptors.
        let rb = sys(unsafe { libc::tee(file.as_raw_fd(), o_tx.as_raw_fd(), 5, 0) });
        assert_eq!((ra, rb), (-libc::EINVAL, -libc::EINVAL), "tee from a file");
    }

    // The five bytes are still in both pipes; splice them into the file
    // at offset 3 (registered input), and the syscall into a twin at 3.
    let twin_path = dir.path().join("g");
    std::fs::write(&twin_path, b"0123456789").unwrap();
    let twin = File::options()
        .read(true)
        .write(true)
        .open(&twin_path)
        .unwrap();
    let ra = complete(
        &mut ring,
        Splice::new(&file, files.get(0).unwrap(), u32::MAX).offset_out(3),
    )
    .res();
    let mut off: i64 = 3;
    // SAFETY: an loff_t for the output offset, none for the pipe.
    let rb = sys(unsafe {
        libc::splice(
            b_rx.as_raw_fd(),
            std::ptr::null_mut(),
            twin.as_raw_fd(),
            &mut off,
            u32::MAX as usize,
            0,
        )
    });
    assert_eq!((ra, rb), (5, 5), "pipe into a file at 3");
    assert_eq!(std::fs::read(&path).unwrap(), b"012hello89");
    assert_eq!(std::fs::read(&twin_path).unwrap(), b"012hello89");
    let mut first = [0u8; 3];
    (&file).read_exact(&mut first).unwrap();
    assert_eq!(&first, b"012", "the file's position moved");
    assert!(drain(&a_rx).is_empty() && drain(&b_rx).is_empty());
}

/// A `statx` filled with a canary byte.
fn canary_statx() -> libc::statx {
    // SAFETY: all-zero bytes are a valid `statx` (plain integers).
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    stx.stx_mask = 0xa5a5_a5a5;
    stx.stx_size = 0xa5a5_a5a5_a5a5_a5a5;
    stx.stx_ino = 0xa5a5_a5a5_a5a5_a5a5;
    stx
}

/// `statx(2)` of `fd` and `path`, as `(-errno or 0, statx)`.
fn sys_statx(fd: BorrowedFd<'_>, path: &std::ffi::CStr, flags: i32) -> (i32, libc::statx) {
    let mut stx = canary_statx();
    // SAFETY: statx writes one `statx` into `stx`; the path is a CStr.
    let rc = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            path.as_ptr(),
            flags,
            libc::STATX_BASIC_STATS,
            &mut stx,
        )
    };
    (sys(rc as isize), stx)
}

/// `Statx` of descriptors that name no path (a pipe, a socket, an
/// `O_PATH`-less deleted file) with `AT_EMPTY_PATH`, and of the empty path
/// without it (`ENOENT`), against `statx(2)`: the same result, the same
/// inode, mode and size; on an error, the canary in the lent `statx` is
/// untouched.
#[test]
fn statx_of_pathless_descriptors_and_empty_paths_match_statx() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Statx<'_>>(&ring) {
        return;
    }
    let (rx, _tx) = pipe();
    let (sock, _peer) = UnixStream::pair().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gone");
    std::fs::write(&path, b"12345").unwrap();
    let deleted = File::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let fds: [BorrowedFd<'_>; 3] = [rx.as_fd(), sock.as_fd(), deleted.as_fd()];
    for fd in fds {
        for flags in [libc::AT_EMPTY_PATH, 0] {
            let mut stx = canary_statx();
            let ra = complete(
                &mut ring,
                Statx::new(Fd::new(fd), c"", &mut stx).statx_flags(flags),
            )
            .res();
            let (rb, sys) = sys_statx(fd, c"", flags);
            assert_eq!(ra, rb, "fd {fd:?} flags {flags:#x}");
            if ra == 0 {
                assert_eq!(
                    (stx.stx_ino, stx.stx_mode, stx.stx_size, stx.stx_nlink),
                    (sys.stx_ino, sys.stx_mode, sys.stx_size, sys.stx_nlink),
                    "fd {fd:?}"
                );
            } else {
                assert_eq!(ra, -libc::ENOENT, "fd {fd:?}");
                assert_eq!(
                    (stx.stx_mask, stx.stx_size, stx.stx_ino),
                    (0xa5a5_a5a5, 0xa5a5_a5a5_a5a5_a5a5, 0xa5a5_a5a5_a5a5_a5a5),
                    "a failed statx wrote into the buffer"
                );
            }
        }
    }
}
