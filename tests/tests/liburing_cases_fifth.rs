//! A fifth batch of ports of liburing's own test cases (the `test/`
//! directory of github.com/axboe/liburing) to uring's API: the regression
//! tests named by kernel commit hashes (many of them syzkaller
//! reproducers, ported as "the kernel takes the odd input, and the ring
//! still answers a NOP"), futexes that fail or are left pending at exit,
//! polls on FIFOs, signalfds, ptys, epoll and eventfd descriptors that
//! watch the ring itself, multishot reads and receives racing with
//! writers, provided-buffer rings drained and refilled, registered buffers
//! on huge pages, zero-copy sends whose buffer is unregistered early, and
//! TX timestamps fetched next to socket errors. Each test names its C file
//! and asserts what the C test asserts of the kernel (results, errnos,
//! order, counts, flags). Loop counts of the C stress tests are scaled
//! down (each test says by how much) so that the file also runs under
//! valgrind.

use std::fs::File;
use std::io::{BufRead as _, IoSlice, IoSliceMut, Read as _, Write as _};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use uring_tests::{Block, block_bytes, cpath};

use uring::ops::{
    Cancel, Close, FutexWait, FutexWaitv, Nop, OpenAt, PollAdd, Read, ReadFixed, ReadMultishot,
    ReadV, Recv, SendMsgZcFixed, Timeout, TxTimestamp, Write, WriteFixed, WriteV,
};
use uring::{
    Builder, Cqe32, Error, FutexFlags, FutexWaitV, MsgHdr, PollEvents, PollFlags, RecvFlags, Ring,
    RwFlags, Sqe64, SqeFlags, TimestampType, sys,
};
use uring_tests::{
    PATIENCE, complete, pipe, push_lent, raw_sqe, reap_one, require_op, skip, tcp_pair, watchdog,
};

// ---------------------------------------------------------------- helpers

/// 16 KiB aligned to 16 KiB: the unit of the multi-size THPs of
/// fixed-hugepage.c.
#[derive(Clone, Copy)]
#[repr(C, align(16384))]
struct Mthp([u8; 16384]);

/// The bytes of `units`.
fn mthp_bytes(units: &mut [Mthp]) -> &mut [u8] {
    let len = std::mem::size_of_val(units);
    // SAFETY: `Mthp` is plain bytes with no padding; the slice covers
    // exactly the units, borrowed mutably for as long as it lives.
    unsafe { std::slice::from_raw_parts_mut(units.as_mut_ptr().cast::<u8>(), len) }
}

/// How long one wait of [`wait_sliced!`] lasts. Under valgrind a thread
/// blocked in `io_uring_enter` keeps every other thread from running, so
/// the tests whose completions need another thread wait in short slices,
/// with a sleep (which valgrind lets other threads run through) between.
const SLICE: Duration = Duration::from_millis(1);

/// Waits on a scope or ring (`$s`) for one completion, in slices of
/// [`SLICE`], for up to [`PATIENCE`]; panics after that.
macro_rules! wait_sliced {
    ($s:expr) => {{
        let deadline = Instant::now() + PATIENCE;
        loop {
            match $s.wait_timeout(1, SLICE) {
                Ok(()) => break,
                Err(_) if Instant::now() < deadline => std::thread::sleep(SLICE),
                Err(e) => panic!("no completion after {PATIENCE:?}: {e}"),
            }
        }
    }};
}

/// Waits, submitting what is pushed, until `n` completions have arrived
/// or [`PATIENCE`] has passed with none; returns them as `(user_data,
/// res)` in arrival order.
fn wait_n(ring: &mut Ring, n: usize) -> Vec<(u64, i32)> {
    let mut got = Vec::new();
    ring.submit().unwrap();
    while got.len() < n {
        wait_sliced!(ring);
        got.extend(ring.completions().map(|c| (c.user_data(), c.res())));
    }
    assert_eq!(got.len(), n, "more completions than expected: {got:?}");
    got
}

/// Asserts that `ring` still works: a NOP pushed now completes with 0.
fn answers_nop(ring: &mut Ring) {
    ring.push(Nop::new().user_data(0xfeed)).unwrap();
    assert_eq!(wait_n(ring, 1), [(0xfeed, 0)]);
}

/// `io_uring_setup(2)` called directly with `params`, for the syzkaller
/// reproducers whose parameters uring's builder refuses before the kernel
/// sees them: the new ring's descriptor, or the errno.
fn raw_setup(entries: u32, params: &mut sys::io_uring_params) -> Result<OwnedFd, i32> {
    // SAFETY: `params` is a valid, writable `io_uring_params` for the
    // call's duration; the kernel writes only into it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_io_uring_setup,
            entries,
            params as *mut sys::io_uring_params,
        )
    };
    if rc < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap())
    } else {
        // SAFETY: the kernel just returned this descriptor, owned by no one
        // else.
        Ok(unsafe { OwnedFd::from_raw_fd(rc as i32) })
    }
}

/// `io_uring_register(2)` called directly: its return value, or the errno.
///
/// # Safety
///
/// `arg` must be what the kernel reads for `opcode` (`nr` entries of it),
/// valid for the call's duration, or null where the kernel checks for it.
unsafe fn raw_register(
    fd: i32,
    opcode: u32,
    arg: *const libc::c_void,
    nr: u32,
) -> Result<i64, i32> {
    // SAFETY: the caller vouches for `arg`; the other arguments are
    // integers.
    let rc = unsafe { libc::syscall(libc::SYS_io_uring_register, fd, opcode, arg, nr) };
    if rc < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap())
    } else {
        Ok(rc)
    }
}

/// A pseudo terminal: `(master, slave)`, the slave opened with `flags`
/// added to `O_RDWR | O_NOCTTY`.
fn pty(flags: i32) -> (OwnedFd, OwnedFd) {
    // SAFETY: posix_openpt takes flags and returns a new descriptor.
    let master = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    assert!(
        master >= 0,
        "posix_openpt: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: just opened, owned by no one else.
    let master = unsafe { OwnedFd::from_raw_fd(master) };
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: `master` is an open pty master; `name` has room for the
    // length given.
    unsafe {
        assert_eq!(libc::grantpt(master.as_raw_fd()), 0);
        assert_eq!(libc::unlockpt(master.as_raw_fd()), 0);
        assert_eq!(
            libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()),
            0
        );
    }
    // SAFETY: `name` is NUL-terminated by ptsname_r.
    let slave = unsafe {
        libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC | flags,
        )
    };
    assert!(
        slave >= 0,
        "open the pty slave: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: just opened, owned by no one else.
    (master, unsafe { OwnedFd::from_raw_fd(slave) })
}

/// A new eventfd with `flags`.
fn eventfd(flags: i32) -> File {
    // SAFETY: eventfd takes integers and returns a new descriptor.
    let fd = unsafe { libc::eventfd(0, flags | libc::EFD_CLOEXEC) };
    assert!(fd >= 0, "eventfd: {}", std::io::Error::last_os_error());
    // SAFETY: just made, owned by no one else.
    unsafe { File::from_raw_fd(fd) }
}

// ---------------------------------------------------------------- fifo-futex-poll.c

/// fifo-futex-poll.c: a futex wait on a null address fails inline with
/// `EFAULT`; after it, a poll for `POLLIN` on a FIFO (a registered file),
/// which hangs two wait queue entries, completes with `POLLIN` once the
/// FIFO is written.
#[test]
fn fifo_futex_poll() {
    let _watch = watchdog();
    let mut ring = Ring::new(64).unwrap();
    if !require_op::<FutexWait<'_>>(&ring) {
        return;
    }
    let dir = uring_tests::test_dir!();
    let path = dir.path().join("fifo");
    // SAFETY: the path is NUL-terminated and outlives the call.
    assert_eq!(unsafe { libc::mkfifo(cpath(&path).as_ptr(), 0o644) }, 0);
    let mut fifo = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();

    // `FutexWait` takes a reference to its word, so the null word is
    // written by hand.
    let mut sqe = raw_sqe(
        sys::IORING_OP_FUTEX_WAIT,
        sys::FUTEX2_SIZE_U32 as i32,
        0,
        0,
        0,
        1,
    );
    sqe.off = sys::io_uring_sqe_off { addr2: 0 };
    sqe.addr3 = sys::io_uring_sqe_addr3 {
        addr3: sys::io_uring_sqe_addr3_pad {
            addr3: u64::from(u32::MAX),
            __pad2: [0],
        },
    };
    // SAFETY: the SQE points at address 0, which is no memory of this
    // program: the kernel fails it with EFAULT and touches nothing.
    unsafe { ring.push_raw(&[sqe]) }.unwrap();
    let got = wait_n(&mut ring, 1);
    if got == [(1, -libc::EINVAL)] {
        skip("this kernel refuses the futex wait's flags");
        return;
    }
    assert_eq!(got, [(1, -libc::EFAULT)]);

    let files = ring.register_files(&[fifo.as_fd()]).unwrap();
    let res = ring.scope(|s| {
        s.push(PollAdd::new(files.get(0).unwrap(), PollEvents::IN).user_data(2))
            .unwrap();
        s.submit().unwrap();
        fifo.write_all(b"FIFO test\n").unwrap();
        wait_sliced!(s);
        let cqe = s.completions().next().unwrap();
        assert_eq!(cqe.user_data(), 2);
        cqe.res()
    });
    assert!(res > 0 && res & i32::from(libc::POLLIN) != 0, "{res:#x}");
}

// ---------------------------------------------------------------- futex-kill.c

/// The child of [`futex_kill`]: with `FUTEX_KILL_MODE` set it makes eight
/// rings (with and without SQPOLL), each with one futex wait pending
/// (plain or vectored, inline or forced async), says so on stdout, and
/// then exits at once (`exit`) or waits to be killed (`kill`).
#[test]
#[ignore = "run by futex_kill, in a child process it kills"]
fn futex_kill_child() {
    const NAME: &str = "futex_kill_child";
    if !uring_tests::in_child(NAME) {
        skip("runs only as futex_kill's child process");
        return;
    }
    let mode = std::env::var("FUTEX_KILL_MODE").unwrap();
    let mut rings = Vec::new();
    for sqpoll in [false, true] {
        for force_async in [false, true] {
            for vectored in [false, true] {
                let mut builder = Builder::new();
                if sqpoll {
                    builder = builder.sqpoll(Duration::from_millis(100));
                }
                let mut ring = builder.build(16).unwrap();
                // Leaked: the waits never complete, and the process ends
                // with them pending.
                let word: &'static AtomicU32 = Box::leak(Box::new(AtomicU32::new(0)));
                let flags = if force_async {
                    SqeFlags::ASYNC
                } else {
                    SqeFlags::EMPTY
                };
                if vectored {
                    let vector: &'static [FutexWaitV<'static>] =
                        Box::leak(Box::new([FutexWaitV::new(word, 0, FutexFlags::PRIVATE)]));
                    // SAFETY: the vector and its word are leaked, so they
                    // outlive every use the kernel makes of them.
                    unsafe { ring.push_unchecked(FutexWaitv::new(vector).flags(flags)) }.unwrap();
                } else {
                    // SAFETY: the word is leaked, so it outlives the wait.
                    unsafe {
                        ring.push_unchecked(
                            FutexWait::new(word, 0)
                                .futex_flags(FutexFlags::PRIVATE)
                                .flags(flags),
                        )
                    }
                    .unwrap();
                }
                ring.submit().unwrap();
                rings.push(ring);
            }
        }
    }
    println!("submitted {}", rings.len());
    std::io::stdout().flush().unwrap();
    if mode == "exit" {
        std::process::exit(0);
    }
    std::thread::sleep(Duration::from_secs(120));
}

/// futex-kill.c: a process that ends with futex waits pending on its rings
/// (plain and vectored, inline and async, with and without SQPOLL) goes
/// away cleanly, whether it exits or is killed with `SIGKILL`.
#[test]
fn futex_kill() {
    let _watch = watchdog();
    if !require_op::<FutexWaitv<'_>>(&Ring::new(2).unwrap()) {
        return;
    }
    for mode in ["exit", "kill"] {
        let mut child = uring_tests::child_command("futex_kill_child")
            .env("FUTEX_KILL_MODE", mode)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            assert_ne!(
                out.read_line(&mut line).unwrap(),
                0,
                "the child ended early"
            );
            if let Some(at) = line.find("submitted") {
                assert_eq!(line[at..].trim(), "submitted 8");
                break;
            }
        }
        if mode == "kill" {
            // SAFETY: kill(2) on the pid of our own child.
            assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGKILL) }, 0);
        }
        let status = child.wait().unwrap();
        if mode == "kill" {
            assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
        } else {
            assert!(status.success(), "{status:?}");
        }
    }
}

// ---------------------------------------------------------------- poll-race-mshot.c

/// Requests, buffers and bytes per buffer of poll-race-mshot.c.
const RACE_REQS: usize = 64;
const RACE_BUF: usize = 64;

/// Five rounds of `round` over a fresh ring of 64 entries with a ring of
/// 64 provided buffers of 64 bytes (group 1), the receiving end of a
/// socket pair and the barrier that releases [`race_writer`] on its other
/// end; the writer is joined after each round. Returns early, with the
/// skip message, on a kernel without buffer rings.
fn race_rounds(round: impl Fn(&mut Ring, &uring::BufRing, &UnixStream, &Barrier)) {
    for _ in 0..5 {
        let mut ring = Ring::new(RACE_REQS as u32).unwrap();
        let Some(pool) =
            uring_tests::plain_buf_ring(&mut ring, 1, RACE_REQS as u16, RACE_BUF as u32)
        else {
            return;
        };
        let (rx, tx) = UnixStream::pair().unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let writer = race_writer(tx, barrier.clone());
        round(&mut ring, &pool, &rx, &barrier);
        writer.join().unwrap();
    }
}

/// Writes `RACE_REQS` chunks of `RACE_BUF` bytes of 0x5a to `tx` once
/// `barrier` opens.
fn race_writer(mut tx: UnixStream, barrier: Arc<Barrier>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        barrier.wait();
        for _ in 0..RACE_REQS {
            tx.write_all(&[0x5a; RACE_BUF]).unwrap();
        }
    })
}

/// poll-race-mshot.c, single-shot receives: 64 receives that select from a
/// ring of 64 provided buffers, racing a writer's 64 writes, each complete
/// with one whole buffer (64 bytes of the written data) and a valid buffer
/// id, and no more than 64 complete. The C test runs 1000 rounds; this one
/// runs 5.
#[test]
fn poll_race_mshot_recv() {
    let _watch = watchdog();
    race_rounds(|ring, pool, rx, barrier| {
        ring.scope(|s| {
            for i in 0..RACE_REQS {
                s.push(Recv::new(rx, pool.select()).user_data(i as u64))
                    .unwrap();
            }
            barrier.wait();
            assert_eq!(s.submit().unwrap(), RACE_REQS as u32);
            let mut bufs = Vec::new();
            while bufs.len() < RACE_REQS {
                wait_sliced!(s);
                for mut cqe in s.completions() {
                    assert_eq!(cqe.res(), RACE_BUF as i32, "{:?}", cqe.cqe());
                    let bid = cqe.buffer_id().expect("a buffer id");
                    assert!(usize::from(bid) < RACE_REQS, "buffer id {bid}");
                    let buf = pool.claim(&mut cqe).unwrap();
                    assert!(buf.iter().all(|&b| b == 0x5a));
                    bufs.push(buf);
                }
            }
            assert_eq!(bufs.len(), RACE_REQS, "too many completions");
        });
    });
}

/// poll-race-mshot.c, multishot: one multishot receive racing the same
/// writer posts 64 completions, each flagged "more", each of one whole
/// buffer with a valid id. The C test runs 1000 rounds; this one runs 5.
#[test]
fn poll_race_mshot_recv_multishot() {
    let _watch = watchdog();
    race_rounds(|ring, pool, rx, barrier| {
        ring.scope(|s| {
            s.push(
                Recv::new(rx, pool.select())
                    .recv_flags(RecvFlags::MULTISHOT)
                    .user_data(1),
            )
            .unwrap();
            barrier.wait();
            assert_eq!(s.submit().unwrap(), 1);
            let mut bufs = Vec::new();
            while bufs.len() < RACE_REQS {
                wait_sliced!(s);
                for mut cqe in s.completions() {
                    if bufs.len() == RACE_REQS {
                        // The group is empty: the kernel may end the
                        // receive, which the C test stops looking at.
                        assert_eq!((cqe.res(), cqe.has_more()), (-libc::ENOBUFS, false));
                        continue;
                    }
                    assert!(cqe.has_more(), "ended early: {:?}", cqe.cqe());
                    assert_eq!(cqe.res(), RACE_BUF as i32, "{:?}", cqe.cqe());
                    let bid = cqe.buffer_id().expect("a buffer id");
                    assert!(usize::from(bid) < RACE_REQS, "buffer id {bid}");
                    bufs.push(pool.claim(&mut cqe).unwrap());
                }
            }
            assert_eq!(bufs.len(), RACE_REQS, "too many completions");
            // The scope's end cancels the receive, still armed.
        });
    });
}

// ---------------------------------------------------------------- read-mshot-stdin.c

/// read-mshot-stdin.c, on a pipe instead of the terminal: a multishot read
/// that selects from a ring of 64 buffers of 32 bytes posts one completion
/// per write, flagged "more" and naming the next buffer in order, with the
/// bytes written; the writer's close ends it with a last completion of 0
/// bytes without "more".
#[test]
fn read_mshot_stdin() {
    let _watch = watchdog();
    let mut ring = Builder::new().cq_entries(64).build(1).unwrap();
    if !require_op::<ReadMultishot>(&ring) {
        return;
    }
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 1, 64, 32) else {
        return;
    };
    let (rx, tx) = pipe();
    let mut tx = Some(File::from(tx));
    let lines: [&[u8]; 3] = [b"first line\n", b"second\n", b"the third line, longer\n"];
    ring.scope(|s| {
        s.push(ReadMultishot::new(&rx, pool.group()).user_data(1))
            .unwrap();
        assert_eq!(s.submit().unwrap(), 1);
        let mut last_bid: Option<u16> = None;
        let mut held = Vec::new();
        for line in lines {
            tx.as_mut().unwrap().write_all(line).unwrap();
            wait_sliced!(s);
            let mut cqe = s.completions().next().unwrap();
            assert!(cqe.has_more(), "{:?}", cqe.cqe());
            assert_eq!(cqe.res(), line.len() as i32);
            let bid = cqe.buffer_id().expect("a buffer id");
            if let Some(last) = last_bid {
                assert_eq!(bid, last + 1, "buffers in ring order");
            }
            last_bid = Some(bid);
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!(&buf[..], line);
            held.push(buf);
        }
        drop(tx.take());
        wait_sliced!(s);
        let cqe = s.completions().next().unwrap();
        assert!(!cqe.has_more(), "{:?}", cqe.cqe());
        assert_eq!((cqe.res(), cqe.buffer_id()), (0, None));
    });
}

// ---------------------------------------------------------------- sigfd-deadlock.c

/// sigfd-deadlock.c: a poll for `POLLIN` on a signalfd completes with
/// `POLLIN` once the signal it watches is raised (and does not deadlock).
/// It runs in a copy of the test binary, since it blocks `SIGINT`; the
/// signal goes to the blocking thread alone.
#[test]
fn sigfd_deadlock() {
    const NAME: &str = "sigfd_deadlock";
    if !uring_tests::in_child(NAME) {
        uring_tests::run_in_child(NAME);
        return;
    }
    let _watch = watchdog();
    // SAFETY: a zeroed sigset_t is valid and is filled by sigemptyset; the
    // calls change this thread's mask and make a new descriptor.
    let sfd = unsafe {
        let mut mask: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut mask);
        libc::sigaddset(&mut mask, libc::SIGINT);
        assert_eq!(
            libc::pthread_sigmask(libc::SIG_BLOCK, &mask, std::ptr::null_mut()),
            0
        );
        let fd = libc::signalfd(-1, &mask, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC);
        assert!(fd >= 0, "signalfd: {}", std::io::Error::last_os_error());
        OwnedFd::from_raw_fd(fd)
    };
    let mut ring = Ring::new(32).unwrap();
    let res = ring.scope(|s| {
        s.push(PollAdd::new(&sfd, PollEvents::IN).user_data(1))
            .unwrap();
        s.submit().unwrap();
        // SAFETY: raises SIGINT for this thread, which blocks it.
        let rc = unsafe { libc::pthread_kill(libc::pthread_self(), libc::SIGINT) };
        assert_eq!(rc, 0);
        wait_sliced!(s);
        s.completions().next().unwrap().res()
    });
    if res == -libc::EOPNOTSUPP {
        skip("no polling of signalfds");
        return;
    }
    assert!(res > 0 && res & i32::from(libc::POLLIN) != 0, "{res}");
    // Take the pending signal off the thread.
    let mut info = [0u8; 128];
    // SAFETY: `info` has room for the one siginfo record read.
    let n = unsafe { libc::read(sfd.as_raw_fd(), info.as_mut_ptr().cast(), info.len()) };
    assert_eq!(n, 128);
}

// ---------------------------------------------------------------- tty-write-dpoll.c

/// tty-write-dpoll.c, on a pty instead of `/dev/ttyS0`: 128 vectored
/// writes of 512 bytes to a non-blocking terminal, which polls through two
/// wait queues, are all submitted; each completes with the bytes it wrote,
/// `EAGAIN` (a non-blocking file) or `EINTR` (a write retried by an io-wq
/// worker) while the other side drains.
#[test]
fn tty_write_dpoll() {
    let _watch = watchdog();
    let (master, slave) = pty(libc::O_NONBLOCK);
    let stop = Arc::new(AtomicBool::new(false));
    let drain = {
        let stop = stop.clone();
        let master = File::from(master);
        std::thread::spawn(move || {
            let mut master = master;
            let mut buf = [0u8; 4096];
            while !stop.load(Ordering::Relaxed) {
                let mut poll = libc::pollfd {
                    fd: master.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd.
                if unsafe { libc::poll(&mut poll, 1, 20) } > 0 && master.read(&mut buf).is_err() {
                    break;
                }
            }
        })
    };
    let data = [0u8; 512];
    let iovs: Vec<[IoSlice<'_>; 1]> = (0..128).map(|_| [IoSlice::new(&data)]).collect();
    let mut ring = Ring::new(128).unwrap();
    let results = ring.scope(|s| {
        for (i, iov) in iovs.iter().enumerate() {
            s.push(WriteV::new(&slave, &iov[..]).user_data(i as u64))
                .unwrap();
        }
        assert_eq!(s.submit().unwrap(), 128);
        let mut results = Vec::new();
        while results.len() < 128 {
            wait_sliced!(s);
            results.extend(s.completions().map(|c| c.res()));
        }
        results
    });
    stop.store(true, Ordering::Relaxed);
    drain.join().unwrap();
    assert_eq!(results.len(), 128);
    for res in results {
        // io-wq workers see a signal pending (their task work), which a
        // terminal write that would block answers with EINTR.
        assert!(
            (1..=512).contains(&res) || res == -libc::EAGAIN || res == -libc::EINTR,
            "{res}"
        );
    }
}

// ---------------------------------------------------------------- pipe-bug.c

/// pipe-bug.c: on a fresh ring, a write of "foobar" to a pipe, a close of
/// its write end through the ring, and two reads: the first gets "foobar",
/// the second end of file. The C test makes 10000 rings; this one 100.
#[test]
fn pipe_bug() {
    let _watch = watchdog();
    for _ in 0..100 {
        let mut ring = Ring::new(8).unwrap();
        let (rx, tx) = pipe();
        assert_eq!(complete(&mut ring, Write::new(&tx, b"foobar")).res(), 6);
        ring.push(Close::new(tx).user_data(2)).unwrap();
        assert_eq!(wait_n(&mut ring, 1), [(2, 0)]);
        let mut buf = [0u8; 1024];
        assert_eq!(complete(&mut ring, Read::new(&rx, &mut buf[..])).res(), 6);
        assert_eq!(&buf[..6], b"foobar");
        buf.fill(0);
        assert_eq!(complete(&mut ring, Read::new(&rx, &mut buf[..])).res(), 0);
    }
}

// ---------------------------------------------------------------- sendzc-bug.c

/// sendzc-bug.c: a zero-copy `sendmsg` from a registered buffer of 1 MiB,
/// whose buffers are unregistered and whose memory is unmapped as soon as
/// the send completes (before its notification): the peer still receives
/// the 1 MiB as written, and the notification still comes.
#[test]
fn sendzc_bug() {
    const LEN: usize = 1 << 20;
    let _watch = watchdog();
    let (tx, rx) = tcp_pair();
    uring_tests::set_int_option(&tx, libc::SOL_SOCKET, libc::SO_ZEROCOPY, 1).unwrap();
    let mut ring = Ring::new(1).unwrap();
    if !require_op::<SendMsgZcFixed<'_, '_>>(&ring) {
        return;
    }
    // SAFETY: a new private anonymous mapping, unmapped below.
    let mem = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            LEN,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(mem, libc::MAP_FAILED);
    // SAFETY: the mapping is LEN bytes, readable and writable, and no one
    // else refers to it until it is unmapped below.
    let send_buf = unsafe { std::slice::from_raw_parts_mut(mem.cast::<u8>(), LEN) };
    send_buf.fill(b'B');
    // SAFETY: the mapping stays in place, untouched, until after the
    // buffers are unregistered (the kernel then holds its own page pins).
    let table = unsafe { ring.register_buffers(&[IoSliceMut::new(send_buf)]) }.unwrap();
    let reader = std::thread::spawn(move || {
        let mut rx = rx;
        let mut got = vec![0u8; LEN];
        rx.read_exact(&mut got).unwrap();
        got
    });
    // SAFETY: the same mapping as `send_buf`, read-only from here on.
    let view = unsafe { std::slice::from_raw_parts(mem.cast::<u8>(), LEN) };
    let iov = [IoSlice::new(view)];
    let msg = MsgHdr::new(&iov);
    // SAFETY: `msg`, `iov` and the socket live until after the send's last
    // completion (its notification) is reaped below; the mapping's pages
    // are pinned by the registration the kernel keeps for the send.
    unsafe {
        ring.push_unchecked(SendMsgZcFixed::new(&tx, &msg, table.get(0).unwrap()).user_data(1))
    }
    .unwrap();
    ring.submit().unwrap();
    wait_sliced!(ring);
    let first = ring.completions().next().unwrap();
    if first.res() == -libc::EINVAL {
        skip("no zero-copy sendmsg from registered buffers");
        return;
    }
    assert_eq!(
        (first.user_data(), first.res()),
        (1, LEN as i32),
        "{first:?}"
    );
    ring.unregister_buffers(table).unwrap();
    // SAFETY: the mapping made above; nothing refers to it any more but the
    // kernel's page pins.
    assert_eq!(unsafe { libc::munmap(mem, LEN) }, 0);
    let got = reader.join().unwrap();
    assert!(got.iter().all(|&b| b == b'B'), "the peer got other bytes");
    // A zero-copy send always posts a notification after its result.
    assert!(first.has_more(), "{first:?}");
    wait_sliced!(ring);
    let note = ring.completions().next().unwrap();
    assert_eq!(note.user_data(), 1);
    assert!(note.is_notification(), "{note:?}");
}

// ---------------------------------------------------------------- timestamp-bug.c

/// timestamp-bug.c: on a UDP socket whose error queue holds TX timestamps
/// (of three datagrams) and a real error (the third went to a closed
/// port), the TX timestamp command hands out timestamps in order (keyed 0,
/// 1, and maybe 2), flagged "more", and the error stays on the queue for
/// `recvmsg(MSG_ERRQUEUE)`, which reports `ECONNREFUSED`.
#[test]
fn timestamp_bug() {
    let _watch = watchdog();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let flags = libc::SOF_TIMESTAMPING_SOFTWARE
        | libc::SOF_TIMESTAMPING_TX_SOFTWARE
        | libc::SOF_TIMESTAMPING_OPT_ID
        | libc::SOF_TIMESTAMPING_OPT_TSONLY;
    uring_tests::set_int_option(&sock, libc::SOL_SOCKET, libc::SO_TIMESTAMPING, flags as i32)
        .unwrap();
    uring_tests::set_int_option(&sock, libc::IPPROTO_IP, libc::IP_RECVERR, 1).unwrap();
    let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..2 {
        sock.send_to(b"A", receiver.local_addr().unwrap()).unwrap();
    }
    // Port 9 (discard) has no listener here.
    let _ = sock.send_to(b"A", "127.0.0.1:9");

    let mut ring = match Builder::new().build_sized::<Sqe64, Cqe32>(1) {
        Ok(ring) => ring,
        Err(e) => {
            skip(format_args!("no 32-byte CQEs: {e}"));
            return;
        }
    };
    let keys = ring.scope(|s| {
        s.push(TxTimestamp::new(&sock).user_data(1)).unwrap();
        s.submit().unwrap();
        let mut keys = Vec::new();
        // At least the first two datagrams' timestamps come; the third's
        // may still be on its way.
        while keys.len() < 2 {
            wait_sliced!(s);
            for cqe in s.completions() {
                if cqe.res() == -libc::EOPNOTSUPP {
                    return None;
                }
                assert!(cqe.has_more(), "{cqe:?}");
                let stamp = cqe.tx_timestamp().expect("a timestamp");
                assert_eq!(stamp.tstype(), TimestampType::SND);
                keys.push(stamp.key());
            }
        }
        Some(keys)
    });
    let Some(keys) = keys else {
        skip("no TX timestamps through the ring");
        return;
    };
    assert!(keys.starts_with(&[0, 1]), "{keys:?}");
    assert!(keys.len() <= 3, "{keys:?}");

    // What is left on the error queue, the real error among it.
    let mut errors = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while !errors.contains(&(libc::ECONNREFUSED as u32)) && Instant::now() < deadline {
        match error_queue_record(&sock) {
            Some(errno) => errors.push(errno),
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    assert!(
        errors.contains(&(libc::ECONNREFUSED as u32)),
        "the error queue held {errors:?}"
    );
}

/// The `ee_errno` of the next record on `sock`'s error queue (`ENOMSG`
/// for a timestamp), or `None` when it is empty.
fn error_queue_record(sock: &impl AsRawFd) -> Option<u32> {
    let records =
        match uring_tests::recvmsg_records(sock, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT, 64) {
            Ok((_, records)) => records,
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "recvmsg: {e}");
                return None;
            }
        };
    let (_, _, err) = records
        .iter()
        .find(|r| (r.0, r.1) == (libc::SOL_IP, libc::IP_RECVERR))
        .expect("an error queue record without IP_RECVERR");
    // `ee_errno` is the first word of a `sock_extended_err`.
    Some(u32::from_ne_bytes(err[..4].try_into().unwrap()))
}

// ---------------------------------------------------------------- buf-ring-stress.c

/// Group, buffer size and buffer count of buf-ring-stress.c.
const STRESS_BUF: usize = 256;
const STRESS_BUFS: u16 = 8;

/// A file of `len` bytes, byte `i` being `i & 0xff`.
fn stress_file(len: usize) -> (tempfile::NamedTempFile, Vec<u8>) {
    let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
    let mut file = tempfile::NamedTempFile::new_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    file.write_all(&data).unwrap();
    (file, data)
}

/// buf-ring-stress.c, drain and refill: each round, 8 reads select the 8
/// buffers of a ring, each completion names a buffer and holds the file's
/// bytes at its offset; giving the buffers back refills the ring for the
/// next round. The C test runs 10000 rounds; this one runs 20.
#[test]
fn buf_ring_stress_drain_refill() {
    const ROUNDS: usize = 20;
    let _watch = watchdog();
    let mut ring = Ring::new(32).unwrap();
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 1, STRESS_BUFS, STRESS_BUF as u32)
    else {
        return;
    };
    let n = usize::from(STRESS_BUFS);
    let (file, data) = stress_file(STRESS_BUF * n * ROUNDS);
    let file = file.reopen().unwrap();
    let mut total = 0;
    for round in 0..ROUNDS {
        ring.scope(|s| {
            for i in 0..n {
                s.push(
                    Read::new(&file, pool.select())
                        .offset((total + i * STRESS_BUF) as u64)
                        .user_data(((round << 16) | i) as u64),
                )
                .unwrap();
            }
            assert_eq!(s.submit().unwrap(), n as u32);
            let mut done = 0;
            while done < n {
                wait_sliced!(s);
                for mut cqe in s.completions() {
                    assert_eq!(cqe.res(), STRESS_BUF as i32, "round {round}");
                    let bid = cqe.buffer_id().expect("a buffer id");
                    assert!(bid < STRESS_BUFS);
                    let idx = (cqe.user_data() & 0xffff) as usize;
                    let at = total + idx * STRESS_BUF;
                    let buf = pool.claim(&mut cqe).unwrap();
                    assert_eq!(&buf[..], &data[at..at + STRESS_BUF], "round {round}");
                    done += 1;
                    // Dropping `buf` gives the buffer back to the ring.
                }
            }
        });
        total += n * STRESS_BUF;
    }
    assert_eq!(total, data.len());
}

/// buf-ring-stress.c, overflow: 16 reads on a ring of 8 buffers give
/// exactly 8 successes and 8 `ENOBUFS`; once the buffers are given back,
/// 8 more reads all succeed.
#[test]
fn buf_ring_stress_overflow_refill() {
    let _watch = watchdog();
    let mut ring = Ring::new(32).unwrap();
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 1, STRESS_BUFS, STRESS_BUF as u32)
    else {
        return;
    };
    let n = usize::from(STRESS_BUFS);
    let (file, _) = stress_file(STRESS_BUF * n * 4);
    let file = file.reopen().unwrap();
    ring.scope(|s| {
        for i in 0..2 * n {
            s.push(
                Read::new(&file, pool.select())
                    .offset((i * STRESS_BUF) as u64)
                    .user_data(i as u64),
            )
            .unwrap();
        }
        assert_eq!(s.submit().unwrap(), 2 * n as u32);
        let (mut ok, mut nobufs, mut held) = (0, 0, Vec::new());
        while ok + nobufs < 2 * n {
            wait_sliced!(s);
            for mut cqe in s.completions() {
                match cqe.res() {
                    r if r == -libc::ENOBUFS => nobufs += 1,
                    r if r > 0 => {
                        ok += 1;
                        held.push(pool.claim(&mut cqe).unwrap());
                    }
                    r => panic!("read {}: {r}", cqe.user_data()),
                }
            }
        }
        assert_eq!((ok, nobufs), (n, n));
        drop(held);
        for i in 0..n {
            s.push(
                Read::new(&file, pool.select())
                    .offset((i * STRESS_BUF) as u64)
                    .user_data(100 + i as u64),
            )
            .unwrap();
        }
        assert_eq!(s.submit().unwrap(), n as u32);
        let mut refilled = 0;
        while refilled < n {
            wait_sliced!(s);
            for mut cqe in s.completions() {
                assert!(cqe.res() > 0, "refill read: {}", cqe.res());
                drop(pool.claim(&mut cqe).unwrap());
                refilled += 1;
            }
        }
    });
}

/// buf-ring-stress.c, rapid cycles: one buffer given back, one read that
/// selects, reaped, over and over; every read succeeds with a buffer. The
/// C test runs 80000 cycles; this one runs 160.
#[test]
fn buf_ring_stress_rapid() {
    const CYCLES: usize = 160;
    let _watch = watchdog();
    let mut ring = Ring::new(64).unwrap();
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 1, STRESS_BUFS, STRESS_BUF as u32)
    else {
        return;
    };
    let len = STRESS_BUF * CYCLES;
    let (file, data) = stress_file(len);
    let file = file.reopen().unwrap();
    ring.scope(|s| {
        for i in 0..CYCLES {
            let at = (i * STRESS_BUF) % len;
            s.push(
                Read::new(&file, pool.select())
                    .offset(at as u64)
                    .user_data(i as u64),
            )
            .unwrap();
            assert_eq!(s.submit().unwrap(), 1);
            wait_sliced!(s);
            let mut cqe = s.completions().next().unwrap();
            assert!(cqe.res() > 0, "cycle {i}: {}", cqe.res());
            assert!(cqe.buffer_id().is_some(), "cycle {i}: no buffer");
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!(&buf[..], &data[at..at + STRESS_BUF]);
        }
    });
}

// ---------------------------------------------------------------- lfs-openat-write.c

/// lfs-openat-write.c: `openat` through the ring with `O_LARGEFILE`, then a
/// write at offset 4 GiB through the ring, succeeds with all 20 bytes.
#[test]
fn lfs_openat_write() {
    let _watch = watchdog();
    let dir = uring_tests::test_dir!();
    let dfd = File::open(dir.path()).unwrap();
    let mut ring = Ring::new(2).unwrap();
    let name = c"io_uring_openat_write_test1";
    let cqe = complete(
        &mut ring,
        OpenAt::new(&dfd, name)
            .open_flags(libc::O_RDWR | libc::O_CREAT | libc::O_LARGEFILE | libc::O_CLOEXEC)
            .mode(0o600),
    );
    assert!(cqe.res() >= 0, "openat: {}", cqe.res());
    // SAFETY: the kernel just opened this descriptor for us.
    let file = unsafe { File::from_raw_fd(cqe.res()) };
    let buf = b"some test write buf\0";
    let cqe = complete(&mut ring, Write::new(&file, buf).offset(1 << 32));
    assert_eq!(cqe.res(), buf.len() as i32);
    assert_eq!(file.metadata().unwrap().len(), (1 << 32) + buf.len() as u64);
}

// ---------------------------------------------------------------- fixed-hugepage.c

/// Registers `buf` alone, reads all of it from `/dev/urandom` and writes it
/// to `/dev/zero` with fixed-buffer ops, each completing with the whole
/// length, and unregisters it (fixed-hugepage.c's `register_submit`).
fn register_submit(ring: &mut Ring, buf: &mut [u8]) {
    let urandom = File::open("/dev/urandom").unwrap();
    let zero = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/zero")
        .unwrap();
    let len = buf.len() as i32;
    // SAFETY: `buf` stays allocated and is touched only through the fixed
    // ops below until it is unregistered.
    let table = unsafe { ring.register_buffers(&[IoSliceMut::new(&mut *buf)]) }.unwrap();
    let index = table.get(0).unwrap();
    assert_eq!(
        complete(ring, ReadFixed::new(&urandom, &mut buf[..], index)).res(),
        len
    );
    assert_eq!(
        complete(ring, WriteFixed::new(&zero, &buf[..], index)).res(),
        len
    );
    ring.unregister_buffers(table).unwrap();
}

/// `len` bytes of `MAP_HUGETLB` memory, or `None` with a skip message.
fn hugetlb(len: usize) -> Option<*mut u8> {
    // SAFETY: a new private anonymous mapping, unmapped by the caller.
    let mem = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_HUGETLB,
            -1,
            0,
        )
    };
    if mem == libc::MAP_FAILED {
        skip(format_args!(
            "no huge pages ({}; see /proc/sys/vm/nr_hugepages)",
            std::io::Error::last_os_error()
        ));
        None
    } else {
        Some(mem.cast())
    }
}

/// fixed-hugepage.c, hugetlb cases: registered buffers of one huge page,
/// of four, and of three starting 0x1234 bytes into the first, each read
/// and written whole by fixed-buffer ops. Skipped without huge pages.
#[test]
fn fixed_hugepage_hugetlb() {
    const HUGE: usize = 2 << 20;
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    for (pages, offset) in [(1, 0), (4, 0), (3, 0x1234)] {
        let Some(mem) = hugetlb(pages * HUGE) else {
            return;
        };
        // SAFETY: the mapping is `pages * HUGE` bytes, ours alone until it
        // is unmapped below.
        let buf = unsafe { std::slice::from_raw_parts_mut(mem.add(offset), pages * HUGE - offset) };
        register_submit(&mut ring, buf);
        // SAFETY: the mapping made by `hugetlb`, no longer registered.
        assert_eq!(unsafe { libc::munmap(mem.cast(), pages * HUGE) }, 0);
    }
}

/// fixed-hugepage.c, multi-size THP case: a registered buffer of three
/// 16 KiB-aligned 16 KiB units, starting 0x1234 bytes in, is read and
/// written whole by fixed-buffer ops (whether or not the kernel backs it
/// with large folios).
#[test]
fn fixed_hugepage_unaligned_mthp() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let mut mem = vec![Mthp([0; 16384]); 3];
    let bytes = mthp_bytes(&mut mem);
    register_submit(&mut ring, &mut bytes[0x1234..]);
}

// ---------------------------------------------------------------- read-before-exit.c

/// One round of read-before-exit.c: a thread pushes two reads of unarmed
/// timerfds on `ring`, submits them and exits at once. With the thread
/// gone, cancelling both ends them with `ECANCELED` (or `EINTR`, when the
/// kernel cancelled them as the thread exited); on an IOPOLL ring the
/// reads fail with `EOPNOTSUPP` instead. Returns whether they did.
fn read_before_exit_round(mut ring: Ring) -> bool {
    let timer = || {
        // SAFETY: timerfd_create takes integers and returns a new descriptor.
        let fd = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_CLOEXEC) };
        assert!(fd >= 0);
        // SAFETY: just made, owned by no one else.
        unsafe { OwnedFd::from_raw_fd(fd) }
    };
    let (t1, t2) = (timer(), timer());
    let mut b1 = [0u8; 8];
    let mut b2 = [0u8; 8];
    std::thread::scope(|scope| {
        scope.spawn(|| {
            push_lent!(ring, Read::new(&t1, &mut b1[..]).user_data(1)).unwrap();
            push_lent!(ring, Read::new(&t2, &mut b2[..]).user_data(2)).unwrap();
            ring.submit().unwrap();
            // The thread ends here, with the reads in flight.
        });
    });
    ring.submit_and_wait_timeout(0, Duration::from_millis(1))
        .ok();
    let early: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    if early.len() == 2 && early.iter().all(|&(_, r)| r == -libc::EOPNOTSUPP) {
        return false;
    }
    let mut got = early;
    for ud in [1u64, 2] {
        if !got.iter().any(|&(u, _)| u == ud) {
            ring.push(Cancel::new(ud).user_data(10 + ud)).unwrap();
        }
    }
    let want = 2 + got.iter().filter(|&&(u, _)| u < 10).count().abs_diff(2);
    got.extend(wait_n(&mut ring, want - got.len()));
    for (ud, res) in got {
        if ud < 10 {
            assert!(
                res == -libc::ECANCELED || res == -libc::EINTR,
                "read {ud}: {res}"
            );
        } else {
            assert!(
                [0, -libc::ENOENT, -libc::EALREADY].contains(&res),
                "cancel {ud}: {res}"
            );
        }
    }
    // Both reads have completed: the buffers and timers may go.
    true
}

/// read-before-exit.c: reads submitted by a thread that exits right away
/// are neither lost nor completed with data, on plain, IOPOLL (where they
/// fail with `EOPNOTSUPP`) and SQPOLL rings. The C test runs 1000, 1000
/// and 100 rounds; this one runs 20, 20 and 5.
#[test]
fn read_before_exit() {
    let _watch = watchdog();
    for _ in 0..20 {
        assert!(read_before_exit_round(Ring::new(8).unwrap()));
    }
    for _ in 0..20 {
        let ring = Builder::new().iopoll().build(8).unwrap();
        if !read_before_exit_round(ring) {
            break;
        }
    }
    for _ in 0..5 {
        let ring = Builder::new()
            .sqpoll(Duration::from_millis(100))
            .build(8)
            .unwrap();
        assert!(read_before_exit_round(ring));
    }
}

// ---------------------------------------------------------------- eploop.c, evloop.c

/// eploop.c: a multishot poll on an epoll instance that watches the ring's
/// own descriptor, then a NOP: exactly two completions, not an endless
/// loop of wakeups. The NOP's completion wakes the poll, which the kernel
/// then ends (a wakeup caused by the ring itself turns a multishot poll
/// one-shot): `POLLIN` without "more". The ring
/// is driven directly rather than through the reactor, since the test is
/// about what the ring alone posts.
#[test]
fn eploop() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    // SAFETY: the ring's descriptor stays open while the ring lives, which
    // is longer than this borrow (used only to set up the epoll instance).
    let ring_fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(ring.as_raw_fd()) };
    let epoll = uring_tests::epoll_watching(ring_fd, ring.as_raw_fd() as u64);
    multishot_poll_then_nop(&mut ring, &epoll);
}

/// evloop.c: a multishot poll on the eventfd registered to signal the
/// ring's completions, then a NOP: exactly two completions, not an endless
/// loop of eventfd signals and poll wakeups; the poll ends with `POLLIN`
/// without "more", as in [`eploop`].
#[test]
fn evloop() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let efd = eventfd(0);
    ring.register_eventfd(efd.as_fd(), false).unwrap();
    multishot_poll_then_nop(&mut ring, &efd);
}

/// A multishot poll for input on `fd`, woken by the ring's own completion,
/// then a NOP: exactly the poll's `POLLIN`, without "more" (a wakeup that
/// comes from the ring's own completion makes the multishot poll one-shot:
/// it ends, rather than loop), and the NOP's 0; nothing after them.
fn multishot_poll_then_nop(ring: &mut Ring, fd: &impl AsFd) {
    ring.scope(|s| {
        s.push(
            PollAdd::new(fd, PollEvents::IN)
                .poll_flags(PollFlags::MULTI)
                .user_data(1),
        )
        .unwrap();
        s.submit().unwrap();
        s.push(Nop::new().user_data(2)).unwrap();
        s.submit().unwrap();
        let mut got = Vec::new();
        while got.len() < 2 {
            wait_sliced!(s);
            got.extend(
                s.completions()
                    .map(|c| (c.user_data(), c.res(), c.has_more())),
            );
        }
        got.sort_unstable();
        let pollin = i32::from(libc::POLLIN);
        assert_eq!(got, [(1, pollin, false), (2, 0, false)]);
        let _ = s.wait_timeout(1, Duration::from_millis(30));
        assert_eq!(s.completions().count(), 0, "too many events");
    });
}

// ---------------------------------------------------------------- 232c93d07b74.c

/// Runs one op in a scope and returns its result, waiting in slices (see
/// [`SLICE`]).
fn one_sliced<'r, S>(ring: &'r mut Ring, op: S) -> i32
where
    S: uring::Submission + uring::Scoped + 'r,
{
    ring.scope(|s| {
        s.push(op).unwrap();
        s.submit().unwrap();
        wait_sliced!(s);
        s.completions().next().unwrap().res()
    })
}

/// The reader of 232c93d07b74.c: reads the 33 bytes 0, 1, ..., 32 two at
/// a time with `readv` through its own ring, allowing `EAGAIN` on a
/// non-blocking socket; asserts they come in order.
fn readv_33(sock: OwnedFd) {
    let mut ring = Ring::new(32).unwrap();
    let mut expected = 0u8;
    while expected < 33 {
        let mut buf = [0u8; 2];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let res = one_sliced(&mut ring, ReadV::new(&sock, &mut iov[..]));
        if res == -libc::EAGAIN {
            std::thread::yield_now();
            continue;
        }
        assert!(res > 0, "readv: {res} after {expected} bytes");
        for &b in &buf[..res as usize] {
            assert_eq!(b, expected);
            expected += 1;
        }
    }
}

/// The writer of 232c93d07b74.c: writes the bytes 0, 1, ..., 32 three at a
/// time with `writev` through its own ring, retrying on `EAGAIN`.
fn writev_33(sock: OwnedFd) {
    let mut ring = Ring::new(32).unwrap();
    let mut written = 0u8;
    while written < 33 {
        let buf = [written, written + 1, written + 2];
        let iov = [IoSlice::new(&buf)];
        let res = one_sliced(&mut ring, WriteV::new(&sock, &iov[..]));
        if res == -libc::EAGAIN {
            std::thread::yield_now();
            continue;
        }
        assert!(res > 0, "writev: {res}");
        written += res as u8;
        // A short write leaves the rest for the next writev.
        assert!(written <= 33);
    }
}

/// 232c93d07b74.c: a `readv` loop and a `writev` loop, each on its own ring
/// and thread, move 33 bytes in order over TCP and Unix stream sockets,
/// blocking and non-blocking.
#[test]
fn regression_232c93d07b74() {
    let _watch = watchdog();
    let dir = uring_tests::test_dir!();
    for variant in 0..4 {
        let (tcp, non_blocking) = (variant & 1 != 0, variant & 2 != 0);
        let (reader, writer): (OwnedFd, OwnedFd) = if tcp {
            let (a, b) = tcp_pair();
            b.set_nodelay(true).unwrap();
            a.set_nonblocking(non_blocking).unwrap();
            b.set_nonblocking(non_blocking).unwrap();
            (a.into(), b.into())
        } else {
            let path = dir.path().join(format!("sock{variant}"));
            let listener = UnixListener::bind(&path).unwrap();
            let b = UnixStream::connect(&path).unwrap();
            let (a, _) = listener.accept().unwrap();
            a.set_nonblocking(non_blocking).unwrap();
            b.set_nonblocking(non_blocking).unwrap();
            (a.into(), b.into())
        };
        let r = std::thread::spawn(move || readv_33(reader));
        let w = std::thread::spawn(move || writev_33(writer));
        r.join().unwrap();
        w.join().unwrap();
    }
}

// ---------------------------------------------------------------- 35fa71a030ca.c

/// 35fa71a030ca.c: two threads racing `IORING_REGISTER_BUFFERS` with no
/// buffers (a null array of length 0) on the same ring each get the same
/// error (`EFAULT` here, `EINVAL` on older kernels),
/// and the ring still answers a NOP. uring's `register_buffers` of no
/// buffers is refused as well. The syzkaller program loops for 5 s; this
/// runs 20 rounds.
#[test]
fn regression_35fa71a030ca() {
    let _watch = watchdog();
    for _ in 0..20 {
        let mut ring = Ring::new(100).unwrap();
        let fd = ring.as_raw_fd();
        let results: Vec<Result<i64, i32>> = std::thread::scope(|scope| {
            let racers: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(move || {
                        // SAFETY: a null array of 0 buffers, which the
                        // kernel refuses before reading anything.
                        unsafe {
                            raw_register(fd, sys::IORING_REGISTER_BUFFERS, std::ptr::null(), 0)
                        }
                    })
                })
                .collect();
            racers.into_iter().map(|t| t.join().unwrap()).collect()
        });
        // Linux 6.18 answers EFAULT, the kernels the C test was written
        // for EINVAL: either way both racers get the same refusal.
        assert_eq!(results[0], results[1]);
        assert!(
            [Err(libc::EFAULT), Err(libc::EINVAL)].contains(&results[0]),
            "{results:?}"
        );
        answers_nop(&mut ring);
    }
    let mut ring = Ring::new(100).unwrap();
    // SAFETY: no memory is registered.
    assert!(unsafe { ring.register_buffers(&[]) }.is_err());
    answers_nop(&mut ring);
}

// ---------------------------------------------------------------- 500f9fbadef8.c

/// 500f9fbadef8.c: on an IOPOLL ring of one entry, `O_DIRECT` vectored
/// writes of a 4 KiB block, one after another along a new file, each
/// complete with 4096 (skipped where the file system cannot poll). The C
/// test writes 4096 blocks; this one 64.
#[test]
fn regression_500f9fbadef8() {
    let _watch = watchdog();
    let dir = uring_tests::test_dir!();
    let path = dir.path().join("file");
    let file = match std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(&path)
    {
        Ok(file) => file,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip(format_args!("no O_DIRECT on this file system: {e}"));
            return;
        }
        Err(e) => panic!("open: {e}"),
    };
    let mut ring = Builder::new().iopoll().build(1).unwrap();
    let mut block = [Block([7; 4096])];
    let data = block_bytes(&mut block);
    for i in 0..64u64 {
        let iov = [IoSlice::new(data)];
        let res = complete(&mut ring, WriteV::new(&file, &iov[..]).offset(i * 4096)).res();
        if res == -libc::EOPNOTSUPP {
            skip("no polled I/O on this file system");
            return;
        }
        assert_eq!(res, 4096, "block {i}");
    }
}

// ---------------------------------------------------------------- 7ad0e4b2f83c.c

/// 7ad0e4b2f83c.c: after a NOP reaped with a timed wait, a timeout op
/// completes with `ETIME`, and not before its time has passed (a timeout
/// never fires early, however loaded the machine). The C test uses 1 s
/// and also bounds it above; this one uses 100 ms and bounds it below only.
#[test]
fn regression_7ad0e4b2f83c() {
    let _watch = watchdog();
    let mut ring = Ring::new(32).unwrap();
    ring.push(Nop::new()).unwrap();
    ring.submit_and_wait_timeout(1, Duration::from_secs(5))
        .unwrap();
    assert_eq!(ring.completions().count(), 1);
    let start = Instant::now();
    ring.push(Timeout::new(Duration::from_millis(100)).user_data(89))
        .unwrap();
    assert_eq!(wait_n(&mut ring, 1), [(89, -libc::ETIME)]);
    assert!(start.elapsed() >= Duration::from_millis(100));
}

// ---------------------------------------------------------------- 8a9973408177.c

/// 8a9973408177.c: registering and unregistering a file, then an fsync
/// of another file through the ring, which completes with 0.
#[test]
fn regression_8a9973408177() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let first = tempfile::tempfile_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let files = ring.register_files(&[first.as_fd()]).unwrap();
    ring.unregister_files(files).unwrap();
    let second = tempfile::tempfile_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    assert_eq!(
        complete(&mut ring, uring::ops::Fsync::new(&second)).res(),
        0
    );
}

// ---------------------------------------------------------------- 917257daa0fe.c

/// 917257daa0fe.c: a ring of 0x7a6 entries (rounded up to 2048) with an
/// SQ thread bound to CPU 0 and an idle time of 0x3af ms is set up, and
/// answers a NOP.
#[test]
fn regression_917257daa0fe() {
    let _watch = watchdog();
    let mut ring = Builder::new()
        .sqpoll(Duration::from_millis(0x3af))
        .sq_thread_cpu(0)
        .build(0x7a6)
        .unwrap();
    assert_eq!(ring.params().sq_entries(), 2048);
    answers_nop(&mut ring);
}

// ---------------------------------------------------------------- a0908ae19763.c

/// a0908ae19763.c: registering a file table whose one entry is -1 (an
/// empty slot) succeeds, and the ring answers a NOP: through
/// `register_file_slots(&[None])`, and through a sparse table, which takes
/// the same kernel path for its empty slots.
#[test]
fn regression_a0908ae19763() {
    let _watch = watchdog();
    let mut ring = Ring::new(0xa4).unwrap();
    let table = ring.register_file_slots(&[None]).unwrap();
    assert_eq!(table.len(), 1);
    answers_nop(&mut ring);
    let mut other = Ring::new(0xa4).unwrap();
    let sparse = other.register_files_sparse(1).unwrap();
    assert_eq!(sparse.len(), 1);
    answers_nop(&mut other);
}

// ---------------------------------------------------------------- a4c0b3decb33.c

/// a4c0b3decb33.c: rings of 0x983 entries with IOPOLL and an SQ thread
/// (idle 0x175 ms) are set up and torn down over and over; each answers a
/// NOP. The syzkaller program forks 50 processes; this makes 10 rings.
#[test]
fn regression_a4c0b3decb33() {
    let _watch = watchdog();
    for _ in 0..10 {
        let mut ring = Builder::new()
            .iopoll()
            .sqpoll(Duration::from_millis(0x175))
            .build(0x983)
            .unwrap();
        answers_nop(&mut ring);
    }
}

// ---------------------------------------------------------------- b19062a56726.c

/// b19062a56726.c: setup with IOPOLL and `IORING_SETUP_SQ_AFF` (CPU 1024)
/// but no SQ thread: uring's builder refuses it before the kernel sees it,
/// and the kernel, asked directly, fails it with `EINVAL`; a ring made
/// afterwards answers a NOP.
#[test]
fn regression_b19062a56726() {
    let _watch = watchdog();
    let refused = Builder::new().iopoll().sq_thread_cpu(1024).build(0xc9f);
    assert!(
        matches!(refused, Err(Error::Setup(_))),
        "{:?}",
        refused.err()
    );
    let mut params = sys::io_uring_params {
        flags: sys::IORING_SETUP_IOPOLL | sys::IORING_SETUP_SQ_AFF,
        sq_thread_cpu: 1024,
        ..Default::default()
    };
    assert_eq!(raw_setup(0xc9f, &mut params).err(), Some(libc::EINVAL));
    answers_nop(&mut Ring::new(8).unwrap());
}

// ---------------------------------------------------------------- b5837bd5311d.c

/// b5837bd5311d.c: a timeout of 10 ms that waits for `u32::MAX`
/// completions, then a NOP, and a wait for two: both come (the NOP with 0,
/// the timeout with `ETIME`), and the submit of the NOP counts one SQE.
#[test]
fn regression_b5837bd5311d() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    ring.push(
        Timeout::new(Duration::from_millis(10))
            .count(u32::MAX)
            .user_data(1),
    )
    .unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    ring.push(Nop::new().user_data(2)).unwrap();
    assert_eq!(ring.submit_and_wait_timeout(2, PATIENCE).unwrap(), 1);
    let mut got: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    got.sort_unstable();
    assert_eq!(got, [(1, -libc::ETIME), (2, 0)]);
}

// ---------------------------------------------------------------- ce593a6c480a.c

/// ce593a6c480a.c: with an eventfd registered to signal completions, a
/// poll on another eventfd, which a thread writes a little later, completes
/// while the test sits in a blocking `read` of the registered eventfd: the
/// read returns 8 bytes (task work ran while the task slept elsewhere) and
/// the poll's result is positive.
#[test]
fn regression_ce593a6c480a() {
    let _watch = watchdog();
    let mut loop_fd = eventfd(0);
    let other = eventfd(0);
    let mut ring = Ring::new(8).unwrap();
    ring.register_eventfd(loop_fd.as_fd(), false).unwrap();
    let res = ring.scope(|s| {
        s.push(PollAdd::new(&other, PollEvents::IN).user_data(1))
            .unwrap();
        assert_eq!(s.submit().unwrap(), 1);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                std::thread::sleep(Duration::from_millis(50));
                (&other).write_all(&1u64.to_ne_bytes()).unwrap();
            });
            let mut buf = [0u8; 8];
            assert_eq!(loop_fd.read(&mut buf).unwrap(), 8);
        });
        wait_sliced!(s);
        let cqe = s.completions().next().unwrap();
        assert_eq!(cqe.user_data(), 1);
        cqe.res()
    });
    assert!(res > 0, "{res}");
}

// ---------------------------------------------------------------- d4ae271dfaae.c

/// d4ae271dfaae.c: on an SQPOLL ring, ten `O_DIRECT` vectored reads of
/// 4 KiB through a registered file, submitted a millisecond apart, each
/// complete with 4096.
#[test]
fn regression_d4ae271dfaae() {
    let _watch = watchdog();
    let dir = uring_tests::test_dir!();
    let path = dir.path().join(".sqpoll.tmp");
    std::fs::write(&path, vec![0x61u8; 128 * 1024]).unwrap();
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(&path)
    {
        Ok(file) => file,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip(format_args!("no O_DIRECT on this file system: {e}"));
            return;
        }
        Err(e) => panic!("open: {e}"),
    };
    let mut ring = Builder::new()
        .sqpoll(Duration::from_millis(1000))
        .build(16)
        .unwrap();
    let files = ring.register_files(&[file.as_fd()]).unwrap();
    let mut blocks = vec![Block([0; 4096]); 10];
    let mut iovs: Vec<[IoSliceMut<'_>; 1]> = blocks
        .iter_mut()
        .map(|b| [IoSliceMut::new(&mut b.0[..])])
        .collect();
    let results = ring.scope(|s| {
        for (i, iov) in iovs.iter_mut().enumerate() {
            s.push(ReadV::new(files.get(0).unwrap(), &mut iov[..]).user_data(i as u64))
                .unwrap();
            s.submit().unwrap();
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut results = Vec::new();
        while results.len() < 10 {
            wait_sliced!(s);
            results.extend(s.completions().map(|c| c.res()));
        }
        results
    });
    assert_eq!(results, [4096; 10]);
    assert!(blocks.iter().all(|b| b.0.iter().all(|&x| x == 0x61)));
}

// ---------------------------------------------------------------- d77a67ed5f27.c

/// d77a67ed5f27.c: a NOP submitted after the SQ thread has gone idle (it
/// idles after 100 ms; the test waits 150 ms) wakes it, and completes with
/// its `user_data`, 42.
#[test]
fn regression_d77a67ed5f27() {
    let _watch = watchdog();
    let mut ring = Builder::new()
        .sqpoll(Duration::from_millis(100))
        .build(4)
        .unwrap();
    std::thread::sleep(Duration::from_millis(150));
    ring.push(Nop::new().user_data(42)).unwrap();
    assert_eq!(pairs_of(reap_one(&mut ring)), (42, 0));
}

/// `(user_data, res)` of one completion.
fn pairs_of(cqe: uring::Cqe) -> (u64, i32) {
    (cqe.user_data(), cqe.res())
}

// ---------------------------------------------------------------- eeed8b54e0df.c

/// eeed8b54e0df.c: a `RWF_NOWAIT` vectored read of a block dropped from
/// the page cache completes during the submit itself (no wait needed),
/// with `EAGAIN` or the whole 4096 bytes, never another error.
#[test]
fn regression_eeed8b54e0df() {
    let _watch = watchdog();
    let mut file = tempfile::tempfile_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    file.write_all(&[0u8; 4096]).unwrap();
    file.sync_all().unwrap();
    // SAFETY: posix_fadvise takes an open descriptor and integers.
    let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 4096, libc::POSIX_FADV_DONTNEED) };
    assert_eq!(rc, 0);
    let mut ring = Ring::new(2).unwrap();
    let mut buf = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let res = ring.scope(|s| {
        s.push(
            ReadV::new(&file, &mut iov[..])
                .rw_flags(RwFlags::NOWAIT)
                .user_data(1),
        )
        .unwrap();
        assert_eq!(s.submit().unwrap(), 1);
        let cqe = s
            .completions()
            .next()
            .expect("the NOWAIT read completed inline");
        cqe.res()
    });
    if res == -libc::EOPNOTSUPP {
        skip("no RWF_NOWAIT reads on this file system");
        return;
    }
    assert!(res == -libc::EAGAIN || res == 4096, "{res}");
}

// ---------------------------------------------------------------- fc2a85cb02ef.c

/// fc2a85cb02ef.c: registering a packet socket as a file while the kernel
/// injects an allocation failure (fault injection through debugfs and
/// `/proc/thread-self/fail-nth`) either succeeds or fails cleanly with
/// `ENOMEM`, and the ring answers a NOP. Skipped without fault injection.
#[test]
fn regression_fc2a85cb02ef() {
    let _watch = watchdog();
    let knob = Path::new("/sys/kernel/debug/failslab/ignore-gfp-wait");
    let nth = Path::new("/proc/thread-self/fail-nth");
    if !knob.exists() || !nth.exists() {
        skip("no fault injection (failslab, fail-nth) in this kernel");
        return;
    }
    std::fs::write(knob, "N").unwrap();
    let mut ring = Ring::new(0x6a6).unwrap();
    // SAFETY: socket(2) takes integers and returns a new descriptor.
    let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM, 0x300) };
    assert!(raw >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: just made, owned by no one else.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    std::fs::write(nth, "2").unwrap();
    let registered = ring.register_files(&[sock.as_fd()]);
    std::fs::write(nth, "0").unwrap();
    if let Err(e) = &registered {
        assert_eq!(e.raw_os_error(), Some(libc::ENOMEM), "{e}");
    }
    answers_nop(&mut ring);
}
