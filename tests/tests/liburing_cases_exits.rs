//! Ports of liburing's own test cases (the `test/` directory of
//! github.com/axboe/liburing) about the end of a ring's life: rings, SQ
//! threads and io-wq workers that must go away cleanly when their process
//! or thread exits, execs, dumps core or is killed with work still in
//! flight, and the ring's state after a resize that could not be mapped.
//! Each test names its C file and asserts what the C test asserts of the
//! kernel (results, errnos, counts, exit statuses).
//!
//! Checks that end a process run in a copy of this test binary
//! ([`uring_tests::child_command`]): the copy runs the same test, sees
//! [`uring_tests::in_child`], does the C test's work and exits (with ops
//! left in flight where the C test leaves them), and the parent asserts
//! how it ended, within [`CHILD_PATIENCE`] (a copy still running then is a
//! hang, and is killed). A copy that finds the kernel lacking exits with
//! [`CHILD_SKIP`] after saying why.

use std::fs::File;
use std::io::{BufRead as _, IoSlice, Read as _, Write as _};
use std::os::fd::{AsFd as _, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use uring_tests::Block;

use uring::ops::{
    Accept, Close, GetSockOpt, Nop, OpenAt, PollAdd, Read, SetSockOpt, Splice, Timeout, WriteV,
};
use uring::{Fd, Features, PollEvents, Ring, SlotUpdate, SockOpt, SqeFlags};
use uring_tests::{
    PATIENCE, child_command, complete, in_child, pipe, push_lent, require_kernel, require_sqpoll,
    skip, sq_thread_info, stray, watchdog,
};

// ---------------------------------------------------------------- helpers

/// The exit code of a copy of the test binary that skipped its checks.
const CHILD_SKIP: i32 = 77;

/// How long a parent waits for a copy of the test binary to end before it
/// calls it hung.
const CHILD_PATIENCE: Duration = Duration::from_secs(30);

/// Ends the copy of the test binary at once with `code`, running no
/// destructor: the rings, buffers and ops in flight are left to the
/// kernel's exit path, as the C tests leave them.
fn child_exit(code: i32) -> ! {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    std::process::exit(code)
}

/// Says why the copy skips its checks and ends it with [`CHILD_SKIP`].
fn child_skip(reason: impl std::fmt::Display) -> ! {
    skip(reason);
    child_exit(CHILD_SKIP)
}

/// Waits up to [`CHILD_PATIENCE`] for `child` to end; kills it and panics
/// (naming `what`) if it does not.
fn wait_or_kill(child: &mut std::process::Child, what: &str) -> ExitStatus {
    let deadline = Instant::now() + CHILD_PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: the process did not end within {CHILD_PATIENCE:?} (a hang)");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `cmd` (a [`child_command`]) to its end, with its output in files
/// (no pipe to fill); returns how it ended, its pid and its output.
fn run_to_end(mut cmd: Command, what: &str) -> (ExitStatus, u32, String) {
    let mut out = tempfile::tempfile().unwrap();
    cmd.stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out.try_clone().unwrap());
    let mut child = cmd.spawn().unwrap();
    let pid = child.id();
    let status = wait_or_kill(&mut child, what);
    (status, pid, read_back(&mut out))
}

/// Everything written to `file`, from its start.
fn read_back(file: &mut File) -> String {
    use std::io::Seek as _;
    file.rewind().unwrap();
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).unwrap();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Runs test `name` in a copy of the test binary (set up by `cmd`) and
/// asserts that it exited with status 0 on its own; `None` (with a skip
/// message) if the copy skipped, else its pid and output.
fn child_exits_cleanly(name: &str, cmd: impl FnOnce(&mut Command)) -> Option<(u32, String)> {
    let mut command = child_command(name);
    cmd(&mut command);
    let (status, pid, text) = run_to_end(command, name);
    if status.code() == Some(CHILD_SKIP) {
        skip(format_args!("{name}, in the child: {}", text.trim()));
        return None;
    }
    assert_eq!(
        status.code(),
        Some(0),
        "{name}: the child ended with {status:?}:\n{text}"
    );
    Some((pid, text))
}

/// [`uring_tests::run_in_child`], showing what the copy printed (its skip
/// messages among it).
fn run_checks_in_child(name: &str) {
    let text = uring_tests::run_in_child(name);
    for line in text.lines().filter(|l| l.starts_with("skipped:")) {
        eprintln!("{line}");
    }
}

/// A ring with an SQ thread idling after `idle`, or `None` with a skip
/// message.
fn sqpoll_ring(entries: u32, idle: Duration) -> Option<Ring> {
    if !require_sqpoll() {
        return None;
    }
    match Ring::builder().sqpoll(idle).build(entries) {
        Ok(ring) => Some(ring),
        Err(e) => {
            skip(format_args!("no SQPOLL ring: {e}"));
            None
        }
    }
}

/// A new eventfd, close-on-exec.
fn eventfd() -> OwnedFd {
    // SAFETY: eventfd(2) takes plain integers.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    assert!(fd >= 0, "eventfd: {}", std::io::Error::last_os_error());
    // SAFETY: eventfd just returned this descriptor, owned by no one else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// A listening TCP socket on an ephemeral loopback port, non-blocking (as
/// the C tests make theirs).
fn listener() -> std::net::TcpListener {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    listener
}

/// The ids of this process's threads whose name starts with `prefix`.
fn threads_named(prefix: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task").unwrap() {
        let tid = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Ok(comm) = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
            && comm.starts_with(prefix)
        {
            found.push(tid);
        }
    }
    found
}

/// Polls `cond` every 10 ms until it holds or `bound` passes; whether it
/// held.
fn eventually(bound: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + bound;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A seed for the randomised waits, different in each run.
fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    (u64::from(nanos) << 16) ^ u64::from(std::process::id()) | 1
}

// ------------------------------------------------- sqpoll-disable-exit.c

/// sqpoll-disable-exit.c (a syzkaller reproducer): a process that sets up
/// a large SQPOLL ring created disabled (`IORING_SETUP_SQPOLL |
/// IORING_SETUP_R_DISABLED`, idle 0, 0x74bc entries), maps it and exits
/// without enabling or closing it ends, with status 0. The C test forks
/// 100 such children; 4 here.
#[test]
fn sqpoll_disable_exit() {
    let _watch = watchdog();
    const NAME: &str = "sqpoll_disable_exit";
    if in_child(NAME) {
        if !require_sqpoll() {
            child_exit(CHILD_SKIP);
        }
        match Ring::builder()
            .sqpoll(Duration::ZERO)
            .r_disabled()
            .build(0x74bc)
        {
            Ok(ring) => {
                assert!(ring.sq_entries() >= 0x74bc);
                child_exit(0)
            }
            Err(e) => child_skip(format_args!("no disabled SQPOLL ring: {e}")),
        }
    }
    for _ in 0..4 {
        if child_exits_cleanly(NAME, |_| ()).is_none() {
            return;
        }
    }
}

// --------------------------------------------------- sqpoll-exit-hang.c

/// sqpoll-exit-hang.c: a process whose one-entry SQPOLL ring (idle 100 ms)
/// has a poll armed on the ring's own descriptor (a reference cycle: the
/// request holds the ring's file) exits without closing it, and the exit
/// does not hang. The poll does not complete meanwhile (the CQ is empty).
/// The C test sleeps 1 s before exiting; 100 ms here.
#[test]
fn sqpoll_exit_hang() {
    let _watch = watchdog();
    const NAME: &str = "sqpoll_exit_hang";
    if in_child(NAME) {
        let Some(mut ring) = sqpoll_ring(1, Duration::from_millis(100)) else {
            child_exit(CHILD_SKIP)
        };
        if !ring.params().has(Features::SQPOLL_NONFIXED) {
            child_skip("SQPOLL on unregistered files needs IORING_FEAT_SQPOLL_NONFIXED (5.11)");
        }
        // The same open file as the ring's descriptor: a poll on it is a
        // poll on the ring.
        // SAFETY: F_DUPFD_CLOEXEC only reads the descriptor table.
        let dup = unsafe { libc::fcntl(ring.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
        assert!(dup >= 0, "dup: {}", std::io::Error::last_os_error());
        // SAFETY: fcntl just returned this descriptor, owned by no one else.
        let dup = unsafe { OwnedFd::from_raw_fd(dup) };
        ring.scope(|s| {
            s.push(PollAdd::new(&dup, PollEvents::IN).user_data(1))
                .unwrap();
            s.submit().unwrap();
            std::thread::sleep(Duration::from_millis(100));
            let early: Vec<_> = s.completions().map(|c| (c.user_data(), c.res())).collect();
            assert_eq!(early, [], "the poll of an empty CQ completed");
            // Exit with the poll armed, as the C test returns from main.
            child_exit(0)
        })
    }
    child_exits_cleanly(NAME, |_| ());
}

// ------------------------------------------------------- sqpoll-exec.c

/// sqpoll-exec.c (with exec-target.c, a program that exits 0): a file
/// opened for writing through an SQPOLL ring (`IORING_OP_OPENAT`, done by
/// the SQ thread) and closed through it (`IORING_OP_CLOSE`) is really
/// closed: executing it right after succeeds and the program exits 0 (a
/// reference left behind would fail the exec with `ETXTBSY`). 20 rounds in
/// the C test, 3 here; in a copy of the test binary, so that no other
/// test's fork holds the descriptor meanwhile.
#[test]
fn sqpoll_exec() {
    let _watch = watchdog();
    const NAME: &str = "sqpoll_exec";
    if !in_child(NAME) {
        run_checks_in_child(NAME);
        return;
    }
    let Some(mut ring) = sqpoll_ring(8, Duration::from_millis(100)) else {
        return;
    };
    let dir = uring_tests::test_dir!();
    let target = dir.path().join("exec-target");
    if let Err(e) = std::fs::copy("/bin/true", &target) {
        skip(format_args!("no /bin/true to execute: {e}"));
        return;
    }
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::ffi::CString::new(target.to_str().unwrap()).unwrap();
    for round in 0..3 {
        let cqe = complete(
            &mut ring,
            OpenAt::new(Fd::CWD, &path)
                .open_flags(libc::O_WRONLY | libc::O_CLOEXEC)
                .user_data(0),
        );
        assert!(cqe.res() >= 0, "round {round}: open: {cqe:?}");
        // SAFETY: the open's completion just returned this descriptor,
        // owned by no one else.
        let fd = unsafe { OwnedFd::from_raw_fd(cqe.res()) };
        let cqe = complete(&mut ring, Close::new(fd).user_data(1));
        assert_eq!(cqe.res(), 0, "round {round}: close: {cqe:?}");
        let status = Command::new(&target)
            .status()
            .unwrap_or_else(|e| panic!("round {round}: exec of the closed file: {e}"));
        assert!(status.success(), "round {round}: {status:?}");
    }
}

// ----------------------------------------------------- sq-poll-kthread.c

/// The child of [`sq_poll_kthread_exit`] and [`sq_poll_kthread_noexit`]:
/// writes 128 bytes to a pipe through an SQPOLL ring (idle 2 s) by a
/// registered file, checks them, prints the SQ thread's pid and exits,
/// closing the ring first or not.
fn sq_poll_kthread_child(close_ring: bool) -> ! {
    let Some(mut ring) = sqpoll_ring(16, Duration::from_secs(2)) else {
        child_exit(CHILD_SKIP)
    };
    let (rx, tx) = pipe();
    let files = ring.register_files(&[tx.as_fd()]).unwrap();
    let buf = uring_tests::pattern(128, 5);
    let cqe = complete(
        &mut ring,
        WriteV::new(files.get(0).unwrap(), &[IoSlice::new(&buf)][..]),
    );
    assert_eq!(cqe.res(), 128, "{cqe:?}");
    let mut back = vec![0u8; 128];
    File::from(rx).read_exact(&mut back).unwrap();
    assert_eq!(back, buf);
    let (sq_thread, _) = sq_thread_info(&ring);
    assert!(sq_thread > 0, "no SQ thread in fdinfo");
    println!("sq_thread={sq_thread}");
    if close_ring {
        drop(ring);
    }
    child_exit(0)
}

/// The parent side of sq-poll-kthread.c: once the child has ended and been
/// reaped, its SQ thread (`iou-sqp-<pid>`) is gone too.
fn sq_poll_kthread(name: &str) {
    let Some((pid, text)) = child_exits_cleanly(name, |_| ()) else {
        return;
    };
    // The harness's own output may precede it on the line.
    let sq_thread: u32 = text
        .split("sq_thread=")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no SQ thread reported:\n{text}"));
    let comm = std::fs::read_to_string(format!("/proc/{sq_thread}/comm")).unwrap_or_default();
    assert_ne!(
        comm.trim(),
        format!("iou-sqp-{pid}"),
        "the SQ thread outlived its process"
    );
    // The C test looks for a kernel thread named io_uring-sq, which
    // kernels before 5.12 ran: none may remain for this ring.
    assert!(
        !std::fs::read_to_string(format!("/proc/{sq_thread}/status"))
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with("Tgid:") && l.ends_with(&format!("\t{pid}"))),
        "a thread of the ended process remains"
    );
}

/// sq-poll-kthread.c, the process closing its ring before it exits: the
/// fixed-file write completes with 128, the child exits 0, and its SQ
/// thread does not outlive it.
#[test]
fn sq_poll_kthread_exit() {
    let _watch = watchdog();
    const NAME: &str = "sq_poll_kthread_exit";
    if in_child(NAME) {
        sq_poll_kthread_child(true);
    }
    sq_poll_kthread(NAME);
}

/// sq-poll-kthread.c, the process exiting with its ring open: as
/// [`sq_poll_kthread_exit`].
#[test]
fn sq_poll_kthread_noexit() {
    let _watch = watchdog();
    const NAME: &str = "sq_poll_kthread_noexit";
    if in_child(NAME) {
        sq_poll_kthread_child(false);
    }
    sq_poll_kthread(NAME);
}

// --------------------------------------------------------- io-wq-exit.c

/// The splices of io-wq-exit.c and io-wq-unused-exit.c: `len` bytes of
/// `byte` from the start of a file into a pipe, and from the pipe into
/// another file at `out_at`; both complete with `len`, and the second file
/// holds the bytes there. Splices always run in io-wq workers.
fn splice_through_pipe(ring: &mut Ring, dir: &Path, len: u32, byte: u8, out_at: u64) {
    let src = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.join("src"))
        .unwrap();
    let dst = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.join("dst"))
        .unwrap();
    src.write_all_at(&vec![byte; len as usize], 0).unwrap();
    let (rx, tx) = pipe();
    let got = ring.scope(|s| {
        s.push(Splice::new(&tx, &src, len).offset_in(0).user_data(1))
            .unwrap();
        s.push(Splice::new(&dst, &rx, len).offset_out(out_at).user_data(2))
            .unwrap();
        assert_eq!(s.submit().unwrap(), 2);
        s.wait_timeout(2, PATIENCE).unwrap();
        let mut got: Vec<_> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        got.sort_unstable();
        got
    });
    assert_eq!(got, [(1, len as i32), (2, len as i32)]);
    let mut back = vec![0u8; len as usize];
    dst.read_exact_at(&mut back, out_at).unwrap();
    assert_eq!(back, vec![byte; len as usize]);
}

/// io-wq-exit.c: a thread sets up a ring, splices 20 bytes from a file
/// through a pipe into another file at offset 10 (both complete with 20),
/// closes the ring and ends; joining it does not hang on the io-wq workers
/// it started. (The C test also asserts it took under 500 ms: a timing
/// bound, left to the watchdog here.)
#[test]
fn io_wq_exit() {
    let _watch = watchdog();
    let dir = uring_tests::test_dir!();
    let path = dir.path().to_owned();
    std::thread::spawn(move || {
        let mut ring = Ring::new(4).unwrap();
        splice_through_pipe(&mut ring, &path, 20, 97, 10);
        drop(ring);
    })
    .join()
    .unwrap();
    let mut dst = vec![0u8; 30];
    File::open(dir.path().join("dst"))
        .unwrap()
        .read_exact(&mut dst)
        .unwrap();
    assert_eq!(&dst[..10], &[0; 10]);
    assert_eq!(&dst[10..], &[97; 20]);
}

// -------------------------------------------------- io-wq-unused-exit.c

/// io-wq-unused-exit.c: the splices of 32 bytes (each completing with 32)
/// start io-wq workers (`iou-wrk-*` threads of the process, seen within
/// 1 s, else the C test skips), and once the last ring is closed they
/// leave the thread group (within 2 s in the C test, 10 s here). Kernels
/// without the io-wq change the C test came with (February 2026, so 7.0
/// at the earliest) keep an idle worker until the task exits: there the
/// last step is skipped. In a copy of the test binary, whose threads are this
/// test's alone.
#[test]
fn io_wq_unused_exit() {
    let _watch = watchdog();
    const NAME: &str = "io_wq_unused_exit";
    if !in_child(NAME) {
        run_checks_in_child(NAME);
        return;
    }
    let dir = uring_tests::test_dir!();
    let mut ring = Ring::new(4).unwrap();
    splice_through_pipe(&mut ring, dir.path(), 32, 0xab, 0);
    if !eventually(Duration::from_secs(1), || {
        !threads_named("iou-wrk-").is_empty()
    }) {
        skip("the splices started no io-wq worker");
        return;
    }
    drop(ring);
    if !require_kernel(
        7,
        0,
        "io-wq workers that exit once the task's last ring is closed",
    ) {
        return;
    }
    assert!(
        eventually(Duration::from_secs(10), || threads_named("iou-wrk-")
            .is_empty()),
        "io-wq workers linger after the last ring closed: {:?}",
        threads_named("iou-wrk-")
    );
}

// ---------------------------------------------------- exit-no-cleanup.c

/// exit-no-cleanup.c: one thread per CPU (at most 4) each sets up a ring
/// and reads 8 bytes from a shared pipe in a loop, one read in flight at
/// a time; the main thread writes one 8-byte notification per thread,
/// waits until that many reads completed with 8, and exits while every
/// thread has a read in flight: the process exits with status 0.
#[test]
fn exit_no_cleanup() {
    let _watch = watchdog();
    const NAME: &str = "exit_no_cleanup";
    if !in_child(NAME) {
        child_exits_cleanly(NAME, |_| ());
        return;
    }
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(4);
    let (rx, tx) = pipe();
    let rx = std::sync::Arc::new(rx);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(threads + 1));
    let (done_tx, done_rx) = mpsc::channel::<i32>();
    for _ in 0..threads {
        let rx = rx.clone();
        let barrier = barrier.clone();
        let done = done_tx.clone();
        std::thread::spawn(move || {
            let mut ring = Ring::new(8).unwrap();
            barrier.wait();
            loop {
                let mut buf = [0u8; 8];
                let res = ring.scope(|s| {
                    s.push(Read::new(&*rx, &mut buf[..])).unwrap();
                    s.submit_and_wait(1).unwrap();
                    s.completions().next().unwrap().res()
                });
                if done.send(res).is_err() {
                    return;
                }
            }
        });
    }
    barrier.wait();
    let mut tx = File::from(tx);
    for _ in 0..threads {
        tx.write_all(&0x42u64.to_ne_bytes()).unwrap();
    }
    for _ in 0..threads {
        let res = done_rx.recv_timeout(PATIENCE).expect("a read completed");
        assert_eq!(res, 8, "a notification read");
    }
    child_exit(0)
}

// ---------------------------------------------------- file-exit-unreg.c

/// file-exit-unreg.c: a DEFER_TASKRUN ring whose fixed-file table holds a
/// pipe's two ends with tags 1 and 2 (`IORING_REGISTER_FILES2`) is closed
/// with the table registered (the C test checks for a lockdep splat in
/// the tag completions of the teardown). The teardown really drops the
/// table's files: once our write end is closed too, a read of the pipe
/// sees end-of-file.
#[test]
fn file_exit_unreg() {
    let _watch = watchdog();
    let (rx, tx) = pipe();
    let mut ring = match Ring::builder().single_issuer().defer_taskrun().build(4) {
        Ok(ring) => ring,
        Err(e) => {
            skip(format_args!("no DEFER_TASKRUN: {e}"));
            return;
        }
    };
    match ring.register_files_tagged(&[(rx.as_fd(), 1), (tx.as_fd(), 2)]) {
        Ok(_) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip(format_args!("no tagged fixed files (5.13): {e}"));
            return;
        }
        Err(e) => panic!("register_files_tagged: {e}"),
    }
    drop(ring);
    drop(tx);
    let mut buf = [0u8; 8];
    assert_eq!(File::from(rx).read(&mut buf).unwrap(), 0, "end of file");
}

// ----------------------------------- files-exit-hang-poll.c and -timeout.c

/// The child of [`files_exit_hang_poll`] and [`files_exit_hang_timeout`]:
/// a listening socket, an op (`first`) linked to an accept that nobody
/// connects to, both submitted (2), and an exit from another thread after
/// 100 ms while this one waits for a completion (the C test's `alarm(1)`
/// handler calls `exit(0)`).
fn files_exit_hang_child(with_timeout: bool) -> ! {
    let listener = listener();
    let mut ring = Ring::new(16).unwrap();
    ring.scope(|s| {
        let accept = Accept::new(&listener)
            .accept_flags(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
            .user_data(2);
        if with_timeout {
            s.push(
                Timeout::new(Duration::from_secs(300))
                    .count(100)
                    .user_data(1)
                    .link(accept),
            )
            .unwrap();
        } else {
            s.push(
                PollAdd::new(&listener, PollEvents::IN)
                    .user_data(1)
                    .link(accept),
            )
            .unwrap();
        }
        assert_eq!(s.submit().unwrap(), 2, "submitted");
        std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(100));
            child_exit(0)
        });
        s.wait_timeout(1, PATIENCE).unwrap();
        let got: Vec<_> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        panic!("a completion came with nobody connecting: {got:?}");
    })
}

/// files-exit-hang-poll.c: a process with a poll of a listening socket
/// linked to an accept of it (the request pins the task's file table)
/// exits, from a signal handler in the C test, while waiting for a
/// completion that never comes, and ends with status 0 without hanging.
#[test]
fn files_exit_hang_poll() {
    let _watch = watchdog();
    const NAME: &str = "files_exit_hang_poll";
    if in_child(NAME) {
        files_exit_hang_child(false);
    }
    child_exits_cleanly(NAME, |_| ());
}

/// files-exit-hang-timeout.c: as [`files_exit_hang_poll`] with a 300 s
/// timeout (count 100) linked to the accept instead of the poll. The C
/// test binds a port from 9100 on; an ephemeral one here.
#[test]
fn files_exit_hang_timeout() {
    let _watch = watchdog();
    const NAME: &str = "files_exit_hang_timeout";
    if in_child(NAME) {
        files_exit_hang_child(true);
    }
    child_exits_cleanly(NAME, |_| ());
}

// ----------------------------------------------------- ooo-file-unreg.c

/// ooo-file-unreg.c: a one-entry ring with a sparse table of 2 slots,
/// filled with two UDP sockets (the update returns 2); a poll of slot 0
/// for input is in flight when both sockets are closed and the slots are
/// emptied out of order, slot 1 then slot 0 (each update returns 1). The
/// poll stays in flight (it holds its own reference to the socket; no
/// completion comes), and closing the ring with it there ends it.
#[test]
fn ooo_file_unreg() {
    let _watch = watchdog();
    let mut ring = Ring::new(1).unwrap();
    let mut files = match ring.register_files_sparse(2) {
        Ok(files) => files,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip(format_args!("no sparse fixed-file tables (5.19): {e}"));
            return;
        }
        Err(e) => panic!("register_files_sparse: {e}"),
    };
    let a = uring_tests::socket(libc::AF_INET, libc::SOCK_DGRAM).unwrap();
    let b = uring_tests::socket(libc::AF_INET, libc::SOCK_DGRAM).unwrap();
    let n = ring
        .update_file_slots(
            &mut files,
            0,
            &[SlotUpdate::Set(a.as_fd()), SlotUpdate::Set(b.as_fd())],
        )
        .unwrap();
    assert_eq!(n, 2);
    // The C test empties the slot while the poll of it is in flight, which
    // the scopes refuse on purpose (a scope's op holds its slot). The poll
    // borrows no memory, and the kernel took its own reference to the
    // socket when it armed the poll, so emptying the slot is harmless; the
    // ring, closed below, ends the poll before the table handle goes.
    push_lent!(
        ring,
        PollAdd::new(files.get(0).unwrap(), PollEvents::IN).user_data(1)
    )
    .unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    drop(a);
    drop(b);
    assert_eq!(ring.update_files(&mut files, 1, &[None]).unwrap(), 1);
    assert_eq!(ring.update_files(&mut files, 0, &[None]).unwrap(), 1);
    assert_eq!(stray(&mut ring), [], "the poll of an idle socket completed");
    drop(ring);
}

// -------------------------------------------------------- iopoll-leak.c

/// The file of [`iopoll_leak`], named by the parent.
const IOPOLL_FILE: &str = "URING_TESTS_IOPOLL_FILE";

/// iopoll-leak.c: a process opens a 128 KiB file with `O_DIRECT`, sets up
/// an IOPOLL ring, submits a 4 KiB read of it and exits with the read in
/// flight (the C test also closes the file and frees the buffer first):
/// it exits with status 0 (or skips: no `O_DIRECT`, no IOPOLL). 16 rounds
/// in the C test, 4 here.
#[test]
fn iopoll_leak() {
    let _watch = watchdog();
    const NAME: &str = "iopoll_leak";
    if in_child(NAME) {
        let path = std::env::var(IOPOLL_FILE).unwrap();
        let file = match File::options()
            .read(true)
            .custom_flags(libc::O_DIRECT)
            .open(&path)
        {
            Ok(file) => file,
            Err(e) => child_skip(format_args!("no O_DIRECT open of {path}: {e}")),
        };
        let mut ring = match Ring::builder().iopoll().build(2) {
            Ok(ring) => ring,
            Err(e) => child_skip(format_args!("no IOPOLL ring: {e}")),
        };
        let mut block = Box::new(Block([0; 4096]));
        ring.scope(|s| {
            s.push(Read::new(&file, &mut block.0[..]).offset(0))
                .unwrap();
            s.submit().unwrap();
            // Exit with the read in flight; the buffer lives until the
            // process is gone.
            child_exit(0)
        })
    }
    let dir = uring_tests::test_dir!();
    let path: PathBuf = dir.path().join("iopoll-leak");
    std::fs::write(&path, uring_tests::pattern(128 * 1024, 3)).unwrap();
    for _ in 0..4 {
        if child_exits_cleanly(NAME, |c| {
            c.env(IOPOLL_FILE, &path);
        })
        .is_none()
        {
            return;
        }
    }
}

// -------------------------------------------------------- iopoll-sync.c

/// iopoll-sync.c: on an IOPOLL ring, a chain of socket commands on a TCP
/// socket whose file has no polled I/O: get `SO_REUSEADDR` (completes with
/// 4 and reads 0), set it to 1 (completes with 0), get it again (4, reads
/// 1), completing in that order and nothing more. Linux 7.1 allows such
/// commands on IOPOLL rings; before, the first fails with `EOPNOTSUPP` (or
/// `EINVAL`), and the test skips.
#[test]
fn iopoll_sync() {
    let _watch = watchdog();
    // An unconnected TCP socket, as a type the socket commands take.
    let sock =
        std::net::TcpStream::from(uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap());
    uring_tests::set_int_option(&sock, libc::SOL_SOCKET, libc::SO_REUSEADDR, 0).unwrap();
    let mut ring = match Ring::builder().iopoll().build(3) {
        Ok(ring) => ring,
        Err(e) => {
            skip(format_args!("no IOPOLL ring: {e}"));
            return;
        }
    };
    let mut first = 123i32.to_ne_bytes();
    let on = 1i32.to_ne_bytes();
    let mut last = 123i32.to_ne_bytes();
    let got = ring.scope(|s| {
        s.push(
            GetSockOpt::new(&sock, SockOpt::SO_REUSEADDR, &mut first[..])
                .user_data(1)
                .link(SetSockOpt::new(&sock, SockOpt::SO_REUSEADDR, &on[..]).user_data(2))
                .link(GetSockOpt::new(&sock, SockOpt::SO_REUSEADDR, &mut last[..]).user_data(3)),
        )
        .unwrap();
        assert_eq!(s.submit().unwrap(), 3);
        // The C test reads the CQ right after the submit: the commands
        // complete inline. Waiting (bounded) asks no more of the kernel.
        s.wait_timeout(3, PATIENCE).unwrap();
        let got: Vec<_> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        got
    });
    if got
        .first()
        .is_some_and(|&(ud, res)| ud == 1 && (res == -libc::EOPNOTSUPP || res == -libc::EINVAL))
    {
        skip(format_args!(
            "socket commands on IOPOLL rings need Linux 7.1: {got:?}"
        ));
        return;
    }
    assert_eq!(got, [(1, 4), (2, 0), (3, 4)]);
    assert_eq!(i32::from_ne_bytes(first), 0);
    assert_eq!(i32::from_ne_bytes(last), 1);
    assert_eq!(stray(&mut ring), [], "more than 3 completions");
}

// ---------------------------------------------------------- ring-leak.c

/// `sendmsg(2)` of `fd` over `socket` as `SCM_RIGHTS`; the errno if it
/// fails.
fn send_fd(socket: &OwnedFd, fd: i32) -> Result<(), i32> {
    let space = {
        // SAFETY: CMSG_SPACE only computes a size.
        unsafe { libc::CMSG_SPACE(std::mem::size_of::<i32>() as u32) as usize }
    };
    let mut control = vec![0u8; space];
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: all-zero bytes are a valid `msghdr`.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: the control buffer has room for one header and one `int`,
    // which CMSG_FIRSTHDR and CMSG_DATA point into; `msg` and what it
    // points to outlive the sendmsg call.
    let rc = unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<i32>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<i32>(), fd);
        libc::sendmsg(socket.as_raw_fd(), &msg, 0)
    };
    if rc < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap())
    } else {
        Ok(())
    }
}

/// A Unix datagram socket pair, close-on-exec.
fn socketpair() -> (OwnedFd, OwnedFd) {
    let mut sp = [0; 2];
    // SAFETY: `sp` has room for the two descriptors socketpair writes.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            0,
            sp.as_mut_ptr(),
        )
    };
    assert_eq!(rc, 0, "socketpair: {}", std::io::Error::last_os_error());
    // SAFETY: socketpair just returned these, owned by no one else.
    unsafe { (OwnedFd::from_raw_fd(sp[0]), OwnedFd::from_raw_fd(sp[1])) }
}

/// ring-leak.c, `test_iowq_request_cancel`: a ring whose table holds a
/// pipe's two ends (our write end then closed) is closed with two reads
/// of the read end in flight, one arming an internal poll, one in an
/// io-wq worker (`IOSQE_ASYNC`); both submitted (2). The teardown cancels
/// them and drops the table: a read of the pipe then sees end-of-file.
#[test]
fn ring_leak_iowq_request_cancel() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (rx, tx) = pipe();
    let files = ring.register_files(&[rx.as_fd(), tx.as_fd()]).unwrap();
    drop(tx);
    // The C test closes the ring with the reads in flight, which the
    // scopes refuse on purpose (a scope waits for its ops). The buffers
    // are leaked, so they outlive the kernel's use whatever it is; the
    // table lives as long as the ring, whose teardown ends the reads.
    let first: &'static mut [u8] = Box::leak(vec![0u8; 10].into_boxed_slice());
    let second: &'static mut [u8] = Box::leak(vec![0u8; 10].into_boxed_slice());
    push_lent!(ring, Read::new(files.get(0).unwrap(), first).user_data(1)).unwrap();
    push_lent!(
        ring,
        Read::new(files.get(0).unwrap(), second)
            .flags(SqeFlags::ASYNC)
            .user_data(2)
    )
    .unwrap();
    assert_eq!(ring.submit().unwrap(), 2);
    drop(ring);
    let mut buf = [0u8; 10];
    assert_eq!(File::from(rx).read(&mut buf).unwrap(), 0, "end of file");
}

/// ring-leak.c, `test_scm_cycles` and its end: a ring whose table holds a
/// pipe's two ends and both ends of a Unix socket pair (registered at
/// once, or as a table of 4 empty slots updated with them, 4 updated)
/// would be part of a reference cycle if its descriptor could be sent
/// over the pair; Linux 6.7 refuses to send io_uring descriptors
/// (`sendmsg` fails with `EINVAL`, where the C test skips). With the
/// sockets and our write end closed, closing the ring drops the table: a
/// read of the pipe sees end-of-file.
#[test]
fn ring_leak_scm_cycles() {
    let _watch = watchdog();
    if !require_kernel(6, 7, "refusing io_uring descriptors in SCM_RIGHTS") {
        return;
    }
    for update in [false, true] {
        let (sp0, sp1) = socketpair();
        let mut ring = Ring::new(8).unwrap();
        let (rx, tx) = pipe();
        assert_eq!(
            send_fd(&sp0, ring.as_raw_fd()),
            Err(libc::EINVAL),
            "sending the ring's descriptor"
        );
        let fds = [rx.as_fd(), tx.as_fd(), sp0.as_fd(), sp1.as_fd()];
        if update {
            let mut files = ring.register_files_sparse(4).unwrap();
            let all: Vec<_> = fds.iter().map(|&f| Some(f)).collect();
            assert_eq!(ring.update_files(&mut files, 0, &all).unwrap(), 4);
        } else {
            let _ = ring.register_files(&fds).unwrap();
        }
        drop((tx, sp0, sp1));
        drop(ring);
        let mut buf = [0u8; 10];
        assert_eq!(
            File::from(rx).read(&mut buf).unwrap(),
            0,
            "end of file (update: {update})"
        );
    }
}

// --------------------------------------------------------- ring-leak2.c

/// ring-leak2.c: two threads, a "server" with a ring holding a read of an
/// eventfd forced into io-wq (`IOSQE_ASYNC`) and a poll of a listening
/// socket, and a "client" with a ring holding an io-wq read of its own
/// eventfd, both waiting for completions that never come; the process
/// exits (from the C test's `alarm` handler) and ends with status 0: no
/// reference between the rings and their workers keeps it from exiting.
#[test]
fn ring_leak2() {
    let _watch = watchdog();
    const NAME: &str = "ring_leak2";
    if !in_child(NAME) {
        child_exits_cleanly(NAME, |_| ());
        return;
    }
    let (armed_tx, armed_rx) = mpsc::channel::<()>();
    let server_armed = armed_tx.clone();
    std::thread::spawn(move || {
        let listener = listener();
        let event = eventfd();
        let mut buf = [0u8; 8];
        let mut ring = Ring::new(8).unwrap();
        ring.scope(|s| {
            s.push(
                Read::new(&event, &mut buf[..])
                    .flags(SqeFlags::ASYNC)
                    .user_data(1),
            )
            .unwrap();
            s.push(PollAdd::new(&listener, PollEvents::IN).user_data(2))
                .unwrap();
            s.submit().unwrap();
            server_armed.send(()).unwrap();
            s.wait(1).unwrap();
            panic!("a server completion came: nothing was written or connected");
        })
    });
    std::thread::spawn(move || {
        let event = eventfd();
        let mut buf = [0u8; 8];
        let mut ring = Ring::new(8).unwrap();
        ring.scope(|s| {
            s.push(
                Read::new(&event, &mut buf[..])
                    .flags(SqeFlags::ASYNC)
                    .user_data(1),
            )
            .unwrap();
            s.submit().unwrap();
            armed_tx.send(()).unwrap();
            s.wait(1).unwrap();
            panic!("a client completion came: nothing was written");
        })
    });
    for _ in 0..2 {
        armed_rx
            .recv_timeout(PATIENCE)
            .expect("a thread armed its ring");
    }
    std::thread::sleep(Duration::from_millis(50));
    child_exit(0)
}

// --------------------------------------------------- resize-mmap-fail.c

/// The process's size in pages, from `/proc/self/statm`.
fn vm_pages() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    statm.split_whitespace().next().unwrap().parse().unwrap()
}

/// Resizes `ring` to 64 SQ and 128 CQ entries with the address space
/// limited (`RLIMIT_AS`) to the process's size plus two pages, then lifts
/// the limit again; the resize's result.
fn resize_under_tight_limit(ring: &mut Ring) -> uring::Result<()> {
    // SAFETY: sysconf takes a plain integer.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `old` is a valid, writable `rlimit`.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut old) }, 0);
    let tight = libc::rlimit {
        rlim_cur: (vm_pages() + 2) * page,
        rlim_max: old.rlim_max,
    };
    // SAFETY: `tight` is a valid `rlimit`; this copy of the test binary
    // runs this test alone, so nothing else needs the address space
    // meanwhile.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &tight) }, 0);
    let resized = ring.resize(64, 128);
    // SAFETY: `old` is the limit read above.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &old) }, 0);
    resized
}

/// resize-mmap-fail.c: a plain 8-entry ring (a NOP completes with 0) is
/// resized to 64/128 entries with the address space nearly exhausted; the
/// resize fails (the kernel resizes only DEFER_TASKRUN rings, so it
/// refuses this one before mapping anything), and the ring still works: a
/// NOP completes with 0. In a copy of the test binary, since the limit is
/// the whole process's.
#[test]
fn resize_mmap_fail() {
    const NAME: &str = "resize_mmap_fail";
    if !in_child(NAME) {
        let _watch = watchdog();
        run_checks_in_child(NAME);
        return;
    }
    // No watchdog in the copy: a thread starting while the address space
    // is limited could not map its stack; the parent's watchdog bounds it.
    let mut ring = Ring::new(8).unwrap();
    assert_eq!(complete(&mut ring, Nop::new()).res(), 0);
    let resized = resize_under_tight_limit(&mut ring);
    assert!(resized.is_err(), "the resize succeeded under the limit");
    assert_eq!(complete(&mut ring, Nop::new()).res(), 0);
}

/// resize-mmap-fail.c on a ring the kernel does resize (DEFER_TASKRUN,
/// 6.13): with the address space nearly exhausted, the resize either
/// succeeds or fails, and either way the ring still works afterwards: a
/// NOP completes with 0.
/// (The ring reserves the new rings' address space before it asks the
/// kernel, so that the limit refuses the resize while the old queues are
/// still the kernel's, never after.)
#[test]
fn resize_mmap_fail_defer_taskrun() {
    const NAME: &str = "resize_mmap_fail_defer_taskrun";
    if !in_child(NAME) {
        let _watch = watchdog();
        run_checks_in_child(NAME);
        return;
    }
    // No watchdog in the copy: a thread starting while the address space
    // is limited could not map its stack; the parent's watchdog bounds it.
    if !require_kernel(6, 13, "IORING_REGISTER_RESIZE_RINGS") {
        return;
    }
    let mut ring = match Ring::builder().single_issuer().defer_taskrun().build(8) {
        Ok(ring) => ring,
        Err(e) => {
            skip(format_args!("no DEFER_TASKRUN: {e}"));
            return;
        }
    };
    assert_eq!(complete(&mut ring, Nop::new()).res(), 0);
    let resized = resize_under_tight_limit(&mut ring);
    // What the kernel says the ring's sizes are now (entries - 1).
    let sizes: Vec<String> =
        std::fs::read_to_string(format!("/proc/self/fdinfo/{}", ring.as_raw_fd()))
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("SqMask") || l.starts_with("CqMask"))
            .map(str::to_owned)
            .collect();
    eprintln!("resize under the limit: {resized:?}; the kernel's sizes: {sizes:?}");
    ring.push(Nop::new().user_data(9)).unwrap();
    let submitted = ring.submit();
    eprintln!("submit after it: {submitted:?}");
    ring.wait_timeout(1, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("after {resized:?}, a NOP never completed: {e}"));
    let got: Vec<_> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(got, [(9, 0)], "after {resized:?}");
}

// ------------------------------------------------------ fdinfo-sqpoll.c

/// fdinfo-sqpoll.c: a process with an SQPOLL ring and a thread reading
/// the ring's `/proc/self/fdinfo` entry in a loop (for 1 to 100 ms) is
/// killed with `SIGINT` at a random moment (10 µs to 2 ms after it is
/// ready), racing the SQ thread's exit with the reads: it ends, by the
/// signal or on its own with status 0. 1000 rounds in the C test, 8 here.
#[test]
fn fdinfo_sqpoll() {
    let _watch = watchdog();
    const NAME: &str = "fdinfo_sqpoll";
    if in_child(NAME) {
        let Some(ring) = sqpoll_ring(8, Duration::from_millis(100)) else {
            child_exit(CHILD_SKIP)
        };
        let path = format!("/proc/self/fdinfo/{}", ring.as_raw_fd());
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reading = done.clone();
        let reader = std::thread::spawn(move || {
            let mut file = File::open(&path).unwrap();
            let mut buf = vec![0u8; 4096];
            while !reading.load(std::sync::atomic::Ordering::Relaxed) {
                use std::io::Seek as _;
                file.rewind().unwrap();
                let _ = file.read(&mut buf).unwrap();
            }
        });
        println!("ready");
        let mut rng = uring_tests::Rng(seed());
        std::thread::sleep(Duration::from_micros(1000 + rng.below(99_000)));
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        reader.join().unwrap();
        child_exit(0)
    }
    let mut rng = uring_tests::Rng(seed());
    for round in 0..8 {
        let mut cmd = child_command(NAME);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut ready = false;
        let mut line = String::new();
        while out.read_line(&mut line).unwrap() > 0 {
            // The harness's own output may precede it on the line.
            if line.trim_end().ends_with("ready") {
                ready = true;
                break;
            }
            line.clear();
        }
        if !ready {
            let status = wait_or_kill(&mut child, NAME);
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            if status.code() == Some(CHILD_SKIP) {
                skip(format_args!("{NAME}, in the child: {}", err.trim()));
                return;
            }
            panic!("round {round}: the child never got ready: {status:?}\n{err}");
        }
        std::thread::sleep(Duration::from_micros(10 + rng.below(1990)));
        // SAFETY: kill(2) takes plain integers; the child is ours and not
        // yet reaped, so its pid names it.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        // Drain what is left so that the child cannot block on a full pipe.
        let mut rest = String::new();
        let _ = out.read_to_string(&mut rest);
        let status = wait_or_kill(&mut child, NAME);
        assert!(
            status.signal() == Some(libc::SIGINT) || status.code() == Some(0),
            "round {round}: the child ended with {status:?}"
        );
    }
}

// ----------------------------------------------------------- coredump.c

/// coredump.c: a process with a ring holding a read of an empty pipe in
/// an io-wq worker (`IOSQE_ASYNC`) dies of `SIGSEGV` (a null dereference
/// in the C test, a raised signal with the default action here); dumping
/// core (the kernel first stops every thread, io-wq workers among them)
/// does not hang: the process ends, killed by `SIGSEGV`. The core size
/// limit is 0 and the process runs in a scratch directory, so that no
/// core file is left anywhere.
#[test]
fn coredump() {
    let _watch = watchdog();
    const NAME: &str = "coredump";
    if in_child(NAME) {
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `none` is a valid `rlimit`; this process is ours alone.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_CORE, &none) }, 0);
        let (rx, _tx) = pipe();
        let mut ring = Ring::new(8).unwrap();
        let mut byte = [0u8; 1];
        ring.scope(|s| {
            s.push(
                Read::new(&rx, &mut byte[..])
                    .flags(SqeFlags::ASYNC)
                    .user_data(1),
            )
            .unwrap();
            s.submit().unwrap();
            let _ = std::io::stdout().flush();
            // SAFETY: resetting SIGSEGV to its default action and raising
            // it ends the process; nothing runs after.
            unsafe {
                libc::signal(libc::SIGSEGV, libc::SIG_DFL);
                libc::raise(libc::SIGSEGV);
            }
            unreachable!("SIGSEGV did not end the process")
        })
    }
    let dir = uring_tests::test_dir!();
    let mut cmd = child_command(NAME);
    cmd.current_dir(dir.path());
    let (status, _, text) = run_to_end(cmd, NAME);
    assert_eq!(
        status.signal(),
        Some(libc::SIGSEGV),
        "the child ended with {status:?}:\n{text}"
    );
}
