//! Every system call the library makes, failing with every errno its man
//! page lists: the caller gets an error value, no completion is lost or
//! reported twice, and a scope still waits for the kernel before it
//! releases a borrow.
//!
//! Failures are provoked from user space where that is possible (signals,
//! resource limits in a child process, a disabled or single-issuer ring, a
//! descriptor swapped under the ring, an SQPOLL ring whose SQ thread died);
//! the others are planned with the test-only seam `uring::sys::fault`
//! (cargo feature `fault-injection`), which fails the next calls of a
//! system call on the calling thread without making them.
//!
//! # The inventory
//!
//! | system call, use | errno | how it arises here | what the library does | test |
//! |---|---|---|---|---|
//! | `io_uring_setup` | `EINVAL` | the kernel rejects the parameters (an SQ thread CPU out of range) | `Error::Os { call: "io_uring_setup" }`; nothing mapped, no descriptor | `setup_failures_leave_no_descriptor_behind` |
//! | `io_uring_setup` | `ENOMEM` | `RLIMIT_MEMLOCK` 0 for an unprivileged user (child process) | as above | `memlock_limits_fail_setup_and_buffer_registration` |
//! | `io_uring_setup` | `EMFILE` | `RLIMIT_NOFILE` at the lowest free descriptor (child process) | as above | `descriptor_limits_fail_setup_and_buffer_rings` |
//! | `io_uring_setup` | `EPERM`, `EFAULT`, `ENFILE`, `ENOMEM` | seam | as above; `create_many` closes the rings it made | `setup_failures_leave_no_descriptor_behind` |
//! | `io_uring_setup`, `Reactor::new` | `EINVAL`, `ENOMEM` (others) | seam | asks once more, for a plain ring (the error) | `a_reactor_asks_for_a_plain_ring_when_its_setup_is_refused` |
//! | `mmap` (SQ ring, CQ ring, SQE array, timespecs) | `ENOMEM` | `RLIMIT_AS` at the address space in use (child process) | `Error::Os { call: "mmap" }`; the ring's descriptor is closed | `an_address_space_limit_fails_the_mapping_and_closes_the_descriptor` |
//! | `mmap` (SQ ring, CQ ring, SQE array, timespecs) | every errno `mmap(2)` lists | seam, at each mapping in turn | `Error::Os { call: "mmap" }`; the mappings made are unmapped and the ring's descriptor is closed | `a_failed_mapping_closes_the_ring_descriptor` |
//! | `mmap` (buffer ring memory) | every errno `mmap(2)` lists | seam, at each mapping in turn | error; what was mapped is unmapped, the duplicate descriptor is closed, nothing registered | `buffer_ring_failures_leave_nothing_behind` |
//! | `munmap` | `EINVAL` | seam | ignored on drop: the mapping is left, nothing is freed early | `failed_unmaps_and_closes_free_nothing_twice` |
//! | `close` | `EINTR`, `EIO`, `EBADF`, `ENOSPC`, `EDQUOT` | seam (the call is made, as Linux releases the descriptor anyway) | `Ring::close` reports it once; nothing closes the number again | `failed_unmaps_and_closes_free_nothing_twice` |
//! | `io_uring_enter`, submit | every errno it lists but `ETIME` (`EAGAIN`, `EBUSY`, `ENOMEM`, `EBADR` and the rest) | seam | the error (a wait resumes after `EINTR`); the SQEs stay queued and the next submit takes each once; on an SQPOLL ring they stay published and the SQ thread takes each once | `submit_errors_keep_the_sqes_queued` |
//! | `io_uring_enter`, submit | a bad SQE stops the batch | an unknown opcode | its completion carries `-EINVAL`; the SQEs after it go with the next enter, once | `a_partial_submission_submits_the_rest_once` |
//! | `io_uring_enter`, every wait | `EINTR` | signals, each sent while the thread is inside the call; seam | resumed until the completions arrive; a wait that submitted reports the SQEs submitted, once | `signals_interrupt_waits_which_resume`, `interrupted_waits_resume_and_keep_their_deadline` |
//! | `io_uring_enter`, waits with a timeout | `EINTR` | signals; seam (without end) | resumed with the time left; `TimedOut` at the deadline, not later or earlier | `signals_interrupt_waits_which_resume`, `interrupted_waits_resume_and_keep_their_deadline` |
//! | `io_uring_enter`, waits | `ETIME` | a timeout | `TimedOut`, unless enough completions are ready | `timing.rs::wait_timeout_on_an_idle_ring_times_out`, `signals_interrupt_waits_which_resume` |
//! | `io_uring_enter`, waits on a copied CQ | `EINTR` | seam | resumed on the kernel's CQ; every completion once, in order | `interrupted_waits_on_a_copied_cq_lose_nothing` |
//! | `io_uring_enter`, waits | `EBADR` (completions dropped) | seam | reported once; the next wait works | `dropped_completions_are_reported_once` |
//! | `io_uring_enter`, any use | `EBADF` | the registered ring fd unregistered behind the ring's back | the error; SQEs kept; all well once registered again | `a_stale_registered_ring_fd_fails_with_ebadf` |
//! | `io_uring_enter`, any use | `EOPNOTSUPP` | a pipe `dup2`-ed onto the ring's descriptor number | the error; SQEs kept; all well once restored | `a_descriptor_that_is_no_ring_fails_with_eopnotsupp` |
//! | `io_uring_enter`, any use | `EBADFD` | an `R_DISABLED` ring | the error from submits and waits; a scope refuses pushes | `setup.rs::r_disabled_rings_run_nothing_until_enabled`, `a_disabled_ring_fails_waits_with_ebadfd` |
//! | `io_uring_enter`, any use | `EEXIST` | a `SINGLE_ISSUER` ring used from another thread | the error; a scope takes back the SQEs the kernel never saw | `setup.rs::single_issuer_refuses_another_thread`, `scope.rs::a_ring_that_refuses_submissions_gets_its_sqes_taken_back`, `defer_taskrun_waits_from_another_thread_fail_with_eexist` |
//! | `io_uring_enter`, any use | `EOWNERDEAD` | an SQPOLL ring kept by a forked child after its SQ thread's process exited | the error from submits, waits and `wait_for_sq_space`, not a hang; a scope takes back what the thread never took and returns; dropping the ring does not wait | `a_dead_sq_thread_is_an_error_not_a_hang` |
//! | `io_uring_enter`, SQ space wait | every errno it lists but `ETIME` | seam | resumed after `EINTR`, the error otherwise; the SQ thread takes each SQE once | `wait_for_sq_space_resumes_when_interrupted` |
//! | `io_uring_enter`, flush in `completions()` / `peek` | any | seam | ignored: the completions stay in the kernel for the next call | `a_failed_flush_loses_nothing` |
//! | `io_uring_enter`, scope end | every errno above | seam, with a read in flight into a canary | transient errors (`EINTR`, `EAGAIN`, `EBUSY`, `ENOMEM`, `EBADR`) are retried; `ETIME` cancels again; others: the SQEs the kernel never saw are taken back and the scope waits without submitting, cancelling again later; the scope returns only after the read's completion | `a_scope_ends_after_its_read_under_every_enter_failure`, `a_scope_cancels_its_read_after_a_one_off_failure` |
//! | `io_uring_enter`, scope end | a failure that lasts | seam (child process) | the process aborts inside the scope: no borrow is released | `a_scope_aborts_rather_than_return_early` |
//! | `io_uring_register`, `FILES` | `EBUSY`, `EBADF`, `EINVAL` | a second table; a ring's descriptor as a file; no files | the error; the ring and the first table work | `register_failures_leave_the_ring_usable` |
//! | `io_uring_register`, `BUFFERS` | `EFAULT`, `ENOMEM` | an unmapped buffer; `RLIMIT_MEMLOCK` (child) | the error, no handle | `register_failures_leave_the_ring_usable`, `memlock_limits_fail_setup_and_buffer_registration` |
//! | `io_uring_register`, `UNREGISTER_EVENTFD`, `RESTRICTIONS` | `ENXIO`, `EBADFD` | no eventfd; restrictions on an enabled ring | the error | `register_failures_leave_the_ring_usable` |
//! | `io_uring_register`, `UNREGISTER_FILES` / `_BUFFERS` | every errno it lists, and `EAGAIN` | seam | the handle comes back in the error, still valid | `failed_unregistrations_hand_the_handle_back` |
//! | `io_uring_register`, `FILES_UPDATE`, `FILES2` | as above | seam | the table is as it was; a sparse table falls back to `FILES` on `EINVAL` | `failed_updates_leave_the_table_as_it_was` |
//! | `io_uring_register`, `PBUF_RING` / `UNREGISTER_PBUF_RING` | as above | seam | registration: nothing left behind; drop: the memory's addresses stay reserved, an op that picks a buffer faults | `buffer_ring_failures_leave_nothing_behind`, `a_buffer_ring_the_kernel_keeps_faults_instead_of_reusing_memory` |
//! | `io_uring_register`, `RING_FDS`, `ENABLE_RINGS`, `PROBE`, `IOWQ_MAX_WORKERS` | as above | seam | the error; the ring works as before (with its descriptor, disabled, ...) | `other_register_failures_change_nothing` |
//! | `io_uring_register`, `SYNC_CANCEL` | `EINTR`, `ETIME` | seam | resumed; `TimedOut` | `other_register_failures_change_nothing` |
//! | `fcntl(F_DUPFD_CLOEXEC)` (buffer rings) | `EMFILE`, `EINVAL` | `RLIMIT_NOFILE` at the lowest free descriptor, and 0 (child process) | `Error::Os { call: "fcntl(F_DUPFD_CLOEXEC)" }`, nothing registered | `descriptor_limits_fail_setup_and_buffer_rings` |
//! | `getrandom` | `EINTR` | seam | resumed | `scopes_get_keys_when_getrandom_fails` |
//! | `getrandom` | `ENOSYS`, `EAGAIN`, `EFAULT`, `EINVAL`, `EPERM` | seam | the scope gets a key mixed from the time, the pid and an address, fresh for each scope | `scopes_get_keys_when_getrandom_fails` |
//!
//! Dropped completions (`EBADR`) need the kernel to fail an atomic
//! allocation, and a CQ overflow without `IORING_FEAT_NODROP` a kernel
//! before 5.5: neither can be provoked here, so the seam stands in.
//! A real CQ overflow (kept by the kernel) is `queues.rs`'s
//! `a_full_cq_loses_no_completion` and `scope.rs`'s
//! `a_cq_full_of_other_completions_is_kept_in_order`.

use std::fs::File;
use std::io::{IoSliceMut, Read as _, Seek as _, Write as _};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Once, mpsc};
use std::time::{Duration, Instant};

use uring::ops::{Nop, Read, ReadFixed, Recv, Timeout};
use uring::sys::fault::{self, Call};
use uring::{
    BufferGroup, Builder, Cqe, Error, Features, HandleError, Restriction, Ring, SqeFlags,
    SyncCancel, sys,
};
use uring_tests::{
    PATIENCE, assert_user_data_once, complete, pattern, require_features, require_kernel,
    require_sqpoll, submit_and_reap,
};

// ---------------------------------------------------------------------------
// Helpers

/// The environment variable that names the test whose body a child process
/// of this binary runs (see [`body_in_child`]).
const CHILD: &str = "URING_FAULTS_CHILD";

/// Runs the test `test` alone in a new process of this test binary, which
/// finds its name in [`CHILD`].
fn spawn_child(test: &str) -> Output {
    let exe = std::env::current_exe().expect("the test binary");
    Command::new(exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1", "-q"])
        .env(CHILD, test)
        .stdin(Stdio::null())
        .output()
        .expect("start a child process of the test binary")
}

/// For tests that change what a whole process shares (resource limits,
/// credentials, the descriptor table they count): in the test process,
/// runs the test again in a child process and asserts that it passed, and
/// returns `false`; in that child, returns `true`, and the caller runs the
/// body.
fn body_in_child(test: &str) -> bool {
    if std::env::var_os(CHILD).is_some_and(|name| name == test) {
        return true;
    }
    let out = spawn_child(test);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for skip in String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|line| line.starts_with("skipped:"))
    {
        eprintln!("{skip}");
    }
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{test} in a child process: {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

/// Aborts the process, naming `what`, unless dropped within [`PATIENCE`]: a
/// hang fails the test run instead of stalling it.
struct Watchdog {
    _alive: mpsc::Sender<()>,
}

fn watchdog(what: &'static str) -> Watchdog {
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(PATIENCE) {
            eprintln!("{what}: still running after {PATIENCE:?}: it hangs");
            std::process::abort();
        }
    });
    Watchdog { _alive: tx }
}

/// The lowest descriptor number not in use: the one the next open gets.
fn lowest_free_fd() -> RawFd {
    File::open("/dev/null").expect("open /dev/null").as_raw_fd()
}

/// A pipe as files.
fn pipe() -> (File, File) {
    let (rx, tx) = uring_tests::pipe();
    (rx.into(), tx.into())
}

/// The bytes waiting in a pipe (`FIONREAD`).
fn unread(rx: &File) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int into `n`.
    let rc = unsafe { libc::ioctl(rx.as_raw_fd(), libc::FIONREAD, &mut n) };
    assert_eq!(rc, 0, "FIONREAD: {}", std::io::Error::last_os_error());
    n as usize
}

/// Whatever a pipe holds, without waiting.
fn drain(rx: &File) -> Vec<u8> {
    let mut out = vec![0u8; unread(rx)];
    (&*rx)
        .read_exact(&mut out)
        .expect("read what the pipe holds");
    out
}

/// The errno of an error of the ring, and the call it names.
fn os_error<T: std::fmt::Debug>(result: uring::Result<T>) -> (&'static str, i32) {
    match result {
        Err(Error::Os { call, source }) => (call, source.raw_os_error().unwrap_or(0)),
        other => panic!("expected a failed system call, got {other:?}"),
    }
}

/// Asserts that `result` is the failure of `call` with `errno`.
#[track_caller]
fn assert_os<T: std::fmt::Debug>(result: uring::Result<T>, call: &str, errno: i32) {
    assert_eq!(os_error(result), (call, errno));
}

/// A wait that must find nothing: no completion arrives within 20 ms.
#[track_caller]
fn assert_nothing_more(ring: &mut Ring) {
    let waited = ring.wait_timeout(1, Duration::from_millis(20));
    assert!(matches!(waited, Err(Error::TimedOut)), "{waited:?}");
    let late: Vec<Cqe> = ring.completions().collect();
    assert!(late.is_empty(), "completions after the fact: {late:?}");
}

/// Pushes NOPs with `user_data` `ids`.
fn push_nops(ring: &mut Ring, ids: impl IntoIterator<Item = u64>) {
    for id in ids {
        ring.push(Nop::new().user_data(id)).expect("room for a NOP");
    }
}

/// A ring that posts the completions of reads only when the thread waits
/// (`DEFER_TASKRUN`, 6.1), so that a test decides when the kernel
/// completes them; `None` (with a skip message) on older kernels.
fn deferred_ring(entries: u32) -> Option<Ring> {
    if !require_kernel(6, 1, "IORING_SETUP_DEFER_TASKRUN") {
        return None;
    }
    Some(
        Ring::builder()
            .single_issuer()
            .defer_taskrun()
            .build(entries)
            .expect("a DEFER_TASKRUN ring"),
    )
}

/// Signals delivered to [`count_signal`]: only one test sends them.
static DELIVERED: AtomicU32 = AtomicU32::new(0);

extern "C" fn count_signal(_: libc::c_int) {
    DELIVERED.fetch_add(1, Ordering::SeqCst);
}

/// Whether the thread `tid` of this process is inside `io_uring_enter`.
fn in_enter(tid: libc::pid_t) -> bool {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")).is_ok_and(|text| {
        text.split_whitespace().next() == Some(&libc::SYS_io_uring_enter.to_string())
    })
}

/// Interrupts the calling thread with `SIGUSR1` (handled, without
/// `SA_RESTART`) while it is inside `io_uring_enter`, `count` times, each
/// signal sent once the one before was delivered; then, if given, writes
/// `data` into `tx` while the thread is inside the call again.
struct Interrupter {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<u32>>,
}

fn interrupt_this_thread(count: u32, then: Option<(File, Vec<u8>)>) -> Interrupter {
    static HANDLER: Once = Once::new();
    HANDLER.call_once(|| {
        // SAFETY: all-zero bytes are a valid `sigaction`; the handler only
        // adds to an atomic, which is async-signal-safe.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = count_signal as *const () as usize;
            libc::sigemptyset(&mut action.sa_mask);
            assert_eq!(
                libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()),
                0
            );
        }
    });
    // SAFETY: pthread_self and gettid have no preconditions.
    let (target, tid) = unsafe { (libc::pthread_self(), libc::gettid()) };
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let thread = std::thread::spawn(move || {
        let go_on = || !stopped.load(Ordering::SeqCst);
        let wait_in_enter = || {
            while go_on() && !in_enter(tid) {
                std::thread::sleep(Duration::from_micros(100));
            }
        };
        let first = DELIVERED.load(Ordering::SeqCst);
        let delivered = || DELIVERED.load(Ordering::SeqCst) - first;
        while go_on() && delivered() < count {
            wait_in_enter();
            if !go_on() {
                break;
            }
            let before = delivered();
            // SAFETY: the target thread joins this one before it ends.
            assert_eq!(unsafe { libc::pthread_kill(target, libc::SIGUSR1) }, 0);
            while go_on() && delivered() == before {
                std::thread::sleep(Duration::from_micros(100));
            }
        }
        if let Some((mut tx, data)) = then {
            wait_in_enter();
            tx.write_all(&data).unwrap();
        }
        delivered()
    });
    Interrupter {
        stop,
        thread: Some(thread),
    }
}

impl Interrupter {
    /// Stops; returns how many signals were delivered.
    fn finish(mut self) -> u32 {
        self.thread.take().map_or(0, |t| t.join().unwrap())
    }
}

impl Drop for Interrupter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The errnos a submit can meet: every one `io_uring_enter(2)` lists but
/// `ETIME`, which only a wait with a timeout gets.
const SUBMIT_ERRNOS: [i32; 13] = [
    libc::EAGAIN,
    libc::EBUSY,
    libc::ENOMEM,
    libc::EINTR,
    libc::EBADR,
    libc::EBADF,
    libc::EBADFD,
    libc::EFAULT,
    libc::EINVAL,
    libc::ENXIO,
    libc::EOPNOTSUPP,
    libc::EEXIST,
    libc::EOWNERDEAD,
];

/// Every errno `io_uring_enter(2)` lists, and `EBADR`.
const ENTER_ERRNOS: [i32; 14] = [
    libc::EINTR,
    libc::EAGAIN,
    libc::EBUSY,
    libc::ENOMEM,
    libc::EBADR,
    libc::ETIME,
    libc::EBADF,
    libc::EBADFD,
    libc::EFAULT,
    libc::EINVAL,
    libc::ENXIO,
    libc::EOPNOTSUPP,
    libc::EEXIST,
    libc::EOWNERDEAD,
];

/// The errnos `io_uring_register(2)` lists, and `EAGAIN`.
const REGISTER_ERRNOS: [i32; 14] = [
    libc::EINTR,
    libc::EAGAIN,
    libc::EACCES,
    libc::EBADF,
    libc::EBADFD,
    libc::EBUSY,
    libc::EFAULT,
    libc::EINVAL,
    libc::EMFILE,
    libc::ENOMEM,
    libc::ENXIO,
    libc::EOPNOTSUPP,
    libc::EOVERFLOW,
    libc::EPERM,
];

/// The errnos `mmap(2)` lists.
const MMAP_ERRNOS: [i32; 11] = [
    libc::EACCES,
    libc::EAGAIN,
    libc::EBADF,
    libc::EEXIST,
    libc::EINVAL,
    libc::ENFILE,
    libc::ENODEV,
    libc::ENOMEM,
    libc::EOVERFLOW,
    libc::EPERM,
    libc::ETXTBSY,
];

/// Whether a scope retries an enter that failed with `errno` at once (the
/// others make it take back what the kernel never saw, or time out).
fn transient(errno: i32) -> bool {
    matches!(
        errno,
        libc::EINTR | libc::EAGAIN | libc::EBUSY | libc::ENOMEM | libc::EBADR
    )
}

// ---------------------------------------------------------------------------
// The seam itself

/// The plan fails exactly the calls it names, after those it lets through,
/// and the counts say what was made and what was failed.
#[test]
fn the_seam_fails_the_planned_calls_and_counts_the_rest() {
    fault::reset();
    let mut ring = Ring::new(4).unwrap();
    fault::fail_after(Call::Enter, 1, 2, libc::EAGAIN);
    fault::fail_next(Call::Enter, 1, libc::EBUSY);
    assert_eq!(fault::planned(Call::Enter), 3);
    push_nops(&mut ring, [1]);
    assert_eq!(ring.submit().unwrap(), 1, "the first call goes through");
    push_nops(&mut ring, [2]);
    for errno in [libc::EAGAIN, libc::EAGAIN, libc::EBUSY] {
        assert_os(ring.submit(), "io_uring_enter", errno);
        assert_eq!(ring.pending(), 1);
    }
    assert_eq!(fault::planned(Call::Enter), 0);
    assert_eq!(ring.submit().unwrap(), 1);
    let counts = fault::counts(Call::Enter);
    assert_eq!((counts.made, counts.injected, counts.failed), (2, 3, 0));
    ring.wait(2).unwrap();
    let cqes: Vec<Cqe> = ring.completions().collect();
    assert_user_data_once(&cqes, [1, 2]);
    // Each thread has a plan of its own.
    fault::fail_next(Call::Enter, 5, libc::EIO);
    std::thread::scope(|t| {
        t.spawn(|| {
            let mut other = Ring::new(2).unwrap();
            push_nops(&mut other, [9]);
            assert_eq!(other.submit_and_wait(1).unwrap(), 1);
            assert_eq!(fault::counts(Call::Enter).injected, 0);
        });
    });
    assert_eq!(fault::planned(Call::Enter), 5);
    fault::reset();
    assert_eq!(fault::planned(Call::Enter), 0);
    assert_eq!(fault::counts(Call::Enter), fault::Counts::default());
}

// ---------------------------------------------------------------------------
// Interrupted waits

/// A wait of the ring or of a scope, and the number of SQEs it should
/// report submitted.
type Wait = fn(&mut Ring) -> uring::Result<u32>;

/// Every way to wait for one completion: the op is submitted first, or by
/// the wait itself (which must then report it submitted, once).
fn waits() -> [(&'static str, bool, Wait); 8] {
    [
        ("wait", false, |r| r.wait(1).map(|()| 0)),
        ("wait_timeout", false, |r| {
            r.wait_timeout(1, PATIENCE).map(|()| 0)
        }),
        ("submit_and_wait, nothing to submit", false, |r| {
            r.submit_and_wait(1)
        }),
        ("submit_and_wait", true, |r| r.submit_and_wait(1)),
        ("submit_and_wait_timeout", true, |r| {
            r.submit_and_wait_timeout(1, PATIENCE)
        }),
        ("a scope's wait", false, |r| {
            r.scope(|s| s.wait(1).map(|()| 0))
        }),
        ("a scope's wait_timeout", false, |r| {
            r.scope(|s| s.wait_timeout(1, PATIENCE).map(|()| 0))
        }),
        ("a scope's submit_and_wait", true, |r| {
            r.scope(|s| s.submit_and_wait(1))
        }),
    ]
}

/// Signals interrupt every kind of wait: each signal sent while the thread
/// waits in the kernel makes it return `EINTR` (which the seam counts; a
/// wait that also submitted reports the submission instead). Each wait
/// resumes until its read completes, reports the read submitted once, and
/// the read's completion comes once.
#[test]
fn signals_interrupt_waits_which_resume() {
    if uring_tests::under_valgrind() {
        uring_tests::skip(
            "under valgrind a blocking io_uring_enter holds every other thread, \
             so no signal reaches it",
        );
        return;
    }
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    if let Err(e) = std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")) {
        uring_tests::skip(format_args!("cannot see where a thread waits: {e}"));
        return;
    }
    let _w = watchdog("waits interrupted by signals");
    const SIGNALS: u32 = 3;
    let mut ring = Ring::new(8).unwrap();
    for (i, (name, submits, wait)) in waits().into_iter().enumerate() {
        let (rx, tx) = pipe();
        let data = pattern(8, i as u8);
        let mut buf = [0u8; 8];
        let id = 100 + i as u64;
        uring_tests::push_lent!(ring, Read::new(&rx, &mut buf[..]).user_data(id)).unwrap();
        if !submits {
            assert_eq!(ring.submit().unwrap(), 1);
        }
        let interrupted = fault::returned(Call::Enter, libc::EINTR);
        let signals = interrupt_this_thread(SIGNALS, Some((tx, data.clone())));
        let result = wait(&mut ring);
        let delivered = signals.finish();
        let eintr = fault::returned(Call::Enter, libc::EINTR) - interrupted;
        assert_eq!(delivered, SIGNALS, "{name}");
        assert_eq!(result.unwrap(), u32::from(submits), "{name}: submitted");
        assert!(
            eintr >= u64::from(SIGNALS - u32::from(submits)),
            "{name}: {delivered} signals, {eintr} EINTR"
        );
        let cqes: Vec<Cqe> = ring.completions().collect();
        assert_eq!(cqes.len(), 1, "{name}: {cqes:?}");
        assert_eq!((cqes[0].user_data(), cqes[0].res()), (id, 8), "{name}");
        assert_eq!(buf[..], data[..], "{name}");
    }
    // A wait that times out keeps its deadline through the signals.
    if require_features(&ring, Features::EXT_ARG, "a wait with a timeout") {
        let delay = Duration::from_millis(100);
        let interrupted = fault::returned(Call::Enter, libc::EINTR);
        let start = Instant::now();
        let signals = interrupt_this_thread(SIGNALS, None);
        let result = ring.wait_timeout(1, delay);
        let elapsed = start.elapsed();
        drop(signals);
        assert!(matches!(result, Err(Error::TimedOut)), "{result:?}");
        assert!(fault::returned(Call::Enter, libc::EINTR) > interrupted);
        assert!(elapsed >= delay, "timed out after {elapsed:?}");
        assert!(elapsed < PATIENCE, "timed out after {elapsed:?}");
    }
    assert_nothing_more(&mut ring);
}

/// Waits that meet planned `EINTR`s resume, submit their SQEs once, and
/// keep their deadline: a wait whose every call is interrupted still times
/// out when its time is up, and submits nothing it did not.
#[test]
fn interrupted_waits_resume_and_keep_their_deadline() {
    // The ring posts a read's completion only when the thread waits in the
    // kernel, so every wait below has to get through to it.
    let Some(mut ring) = deferred_ring(8) else {
        return;
    };
    for (i, (name, submits, wait)) in waits().into_iter().enumerate() {
        let (rx, mut tx) = pipe();
        let data = pattern(8, i as u8);
        let mut buf = [0u8; 8];
        let id = 200 + i as u64;
        uring_tests::push_lent!(ring, Read::new(&rx, &mut buf[..]).user_data(id)).unwrap();
        if !submits {
            assert_eq!(ring.submit().unwrap(), 1);
        }
        tx.write_all(&data).unwrap();
        fault::reset();
        fault::fail_next(Call::Enter, 5, libc::EINTR);
        assert_eq!(wait(&mut ring).unwrap(), u32::from(submits), "{name}");
        assert_eq!(
            fault::planned(Call::Enter),
            0,
            "{name}: not every call resumed"
        );
        let cqes: Vec<Cqe> = ring.completions().collect();
        assert_eq!(cqes.len(), 1, "{name}: {cqes:?}");
        assert_eq!((cqes[0].user_data(), cqes[0].res()), (id, 8), "{name}");
        assert_eq!(buf[..], data[..], "{name}");
    }
    if !require_features(&ring, Features::EXT_ARG, "a wait with a timeout") {
        return;
    }
    // Every call interrupted: the waits end at their deadline, and an SQE
    // that never reached the kernel is still queued, once.
    let deadline = Duration::from_millis(20);
    type Timed = fn(&mut Ring, Duration) -> uring::Result<u32>;
    let timed: [(&str, Timed); 3] = [
        ("wait_timeout", |r, d| r.wait_timeout(1, d).map(|()| 0)),
        ("submit_and_wait_timeout", |r, d| {
            r.submit_and_wait_timeout(1, d)
        }),
        ("a scope's wait_timeout", |r, d| {
            r.scope(|s| s.wait_timeout(1, d).map(|()| 0))
        }),
    ];
    for (name, wait) in timed {
        push_nops(&mut ring, [7]);
        fault::reset();
        fault::fail_next(Call::Enter, u32::MAX, libc::EINTR);
        let start = Instant::now();
        let result = wait(&mut ring, deadline);
        let elapsed = start.elapsed();
        fault::reset();
        assert!(matches!(result, Err(Error::TimedOut)), "{name}: {result:?}");
        assert!(elapsed >= deadline, "{name}: timed out after {elapsed:?}");
        assert!(elapsed < PATIENCE, "{name}: timed out after {elapsed:?}");
        assert_eq!(ring.pending(), 1, "{name}");
        let cqes = submit_and_reap(&mut ring, 1);
        assert_user_data_once(&cqes, [7]);
    }
    assert_nothing_more(&mut ring);
}

/// After a scope moved a CQ full of other completions aside, waits run on
/// the kernel's CQ behind the copy: interrupted there, they resume, and
/// every completion comes once, in order.
#[test]
fn interrupted_waits_on_a_copied_cq_lose_nothing() {
    let mut ring = Ring::new(4).unwrap();
    if !require_features(&ring, Features::NODROP, "the CQ overflow list") {
        return;
    }
    push_nops(&mut ring, 100..104);
    ring.submit().unwrap();
    push_nops(&mut ring, 104..108);
    ring.submit().unwrap();
    ring.wait(8).unwrap();
    let (rx, mut tx) = pipe();
    tx.write_all(b"z").unwrap();
    let mut buf = [0u8; 1];
    ring.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
        s.submit().unwrap();
    });
    assert_eq!(&buf, b"z");
    push_nops(&mut ring, [200]);
    fault::reset();
    fault::fail_next(Call::Enter, 3, libc::EINTR);
    // Nine completions on a CQ of eight: only a wait behind the copy can.
    assert_eq!(ring.submit_and_wait(9).unwrap(), 1);
    assert_eq!(fault::planned(Call::Enter), 0, "the wait met every EINTR");
    let ids: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(ids, [100, 101, 102, 103, 104, 105, 106, 107, 200]);
    assert_nothing_more(&mut ring);
}

/// An SQPOLL ring's wait for SQ space resumes when interrupted, and fails
/// with the other errors; the SQ thread takes every SQE once.
#[test]
fn wait_for_sq_space_resumes_when_interrupted() {
    if !require_sqpoll() {
        return;
    }
    let mut ring = Ring::builder()
        .sqpoll(Duration::from_millis(1))
        .build(4)
        .expect("an SQPOLL ring");
    let mut next = 0;
    // (Not EOWNERDEAD: the thread lives; see `sys::fault`.)
    for errno in SUBMIT_ERRNOS.into_iter().filter(|&e| e != libc::EOWNERDEAD) {
        let count = if errno == libc::EINTR { 3 } else { 1 };
        // Let the SQ thread fall asleep (it flags that it must be woken):
        // only a wake-up frees the SQ. (Its idle time passes only on a
        // CPU: a loaded machine can keep it awake for long.)
        let deadline = Instant::now() + PATIENCE;
        while !ring.sq_needs_wakeup() {
            assert!(Instant::now() < deadline, "the SQ thread never slept");
            std::thread::sleep(Duration::from_millis(1));
        }
        push_nops(&mut ring, next..next + 4);
        assert_eq!(ring.space_left(), 0);
        fault::reset();
        fault::fail_next(Call::Enter, count, errno);
        let result = ring.wait_for_sq_space();
        assert_eq!(fault::planned(Call::Enter), 0, "errno {errno}");
        if errno == libc::EINTR {
            let space = result.unwrap();
            assert!((1..=4).contains(&space), "{space}");
        } else {
            assert_os(result, "io_uring_enter", errno);
            ring.wait_for_sq_space().unwrap();
        }
        let mut cqes = Vec::new();
        let deadline = Instant::now() + PATIENCE;
        while cqes.len() < 4 && Instant::now() < deadline {
            ring.submit().unwrap();
            ring.wait_timeout(1, Duration::from_millis(10)).ok();
            cqes.extend(ring.completions());
        }
        assert_user_data_once(&cqes, next..next + 4);
        next += 4;
    }
}

/// A flush of completions held in the kernel that fails leaves them there:
/// the next read finds them, once.
#[test]
fn a_failed_flush_loses_nothing() {
    let mut ring = Ring::new(4).unwrap();
    if !require_features(&ring, Features::NODROP, "the CQ overflow list") {
        return;
    }
    for round in 0..3u64 {
        push_nops(&mut ring, round * 4..round * 4 + 4);
        ring.submit().unwrap();
    }
    let mut cqes: Vec<Cqe> = ring.completions().collect();
    assert_eq!(cqes.len(), 8, "the CQ holds 8; 4 wait in the kernel");
    fault::reset();
    fault::fail_next(Call::Enter, 2, libc::EAGAIN);
    assert_eq!(ring.completions().count(), 0, "the flush failed");
    assert_eq!(ring.peek(), None, "the flush failed again");
    assert_eq!(fault::counts(Call::Enter).injected, 2);
    cqes.extend(ring.completions());
    assert_user_data_once(&cqes, 0..12);
    assert_nothing_more(&mut ring);
}

// ---------------------------------------------------------------------------
// Failed submissions

/// A submit that fails hands back an error and leaves the SQEs queued; the
/// next submit takes each of them once. (`EINTR` ends a submit that does
/// not wait, and is resumed by one that does.)
#[test]
fn submit_errors_keep_the_sqes_queued() {
    type Submit = fn(&mut Ring) -> uring::Result<u32>;
    let calls: [(&str, bool, Submit); 5] = [
        ("submit", false, |r| r.submit()),
        ("submit_and_wait", true, |r| r.submit_and_wait(3)),
        ("submit_and_wait_timeout", true, |r| {
            r.submit_and_wait_timeout(3, PATIENCE)
        }),
        ("a scope's submit", false, |r| r.scope(|s| s.submit())),
        ("a scope's submit_and_wait", true, |r| {
            r.scope(|s| s.submit_and_wait(3))
        }),
    ];
    for errno in SUBMIT_ERRNOS {
        for (name, waits, submit) in calls {
            let mut ring = Ring::new(8).unwrap();
            push_nops(&mut ring, [1, 2, 3]);
            fault::reset();
            fault::fail_next(Call::Enter, 1, errno);
            let result = submit(&mut ring);
            assert_eq!(fault::planned(Call::Enter), 0, "{name}, errno {errno}");
            if errno == libc::EINTR && waits {
                assert_eq!(result.unwrap(), 3, "{name} resumed");
            } else {
                assert_os(result, "io_uring_enter", errno);
                assert_eq!(ring.pending(), 3, "{name}, errno {errno}");
                assert_eq!(ring.ready(), 0, "{name}, errno {errno}");
                assert_eq!(ring.submit().unwrap(), 3, "{name}, errno {errno}");
            }
            ring.wait(3).unwrap();
            let cqes: Vec<Cqe> = ring.completions().collect();
            assert_user_data_once(&cqes, [1, 2, 3]);
            assert_nothing_more(&mut ring);
        }
    }
    // On an SQPOLL ring the SQEs are published before the wake-up that
    // fails: the SQ thread takes them when it next runs, each once.
    if !require_sqpoll() {
        return;
    }
    let mut ring = Ring::builder()
        .sqpoll(Duration::from_millis(1))
        .build(8)
        .expect("an SQPOLL ring");
    let mut next = 0;
    // (Not EOWNERDEAD: the thread lives; see `sys::fault`.)
    for errno in SUBMIT_ERRNOS.into_iter().filter(|&e| e != libc::EOWNERDEAD) {
        // The submit enters only to wake a sleeping thread: wait for it to
        // sleep (on a busy machine it may take a few rounds to get there).
        let deadline = Instant::now() + PATIENCE;
        let submitted = loop {
            std::thread::sleep(Duration::from_millis(50));
            push_nops(&mut ring, next..next + 3);
            fault::reset();
            fault::fail_next(Call::Enter, 1, errno);
            let submitted = ring.submit();
            if fault::planned(Call::Enter) == 0 || Instant::now() >= deadline {
                break submitted;
            }
            // The thread was awake and took the SQEs by itself.
            fault::reset();
            let mut cqes = Vec::new();
            while cqes.len() < 3 && Instant::now() < deadline {
                ring.wait_timeout(1, Duration::from_millis(10)).ok();
                cqes.extend(ring.completions());
            }
            assert_user_data_once(&cqes, next..next + 3);
            next += 3;
        };
        assert_os(submitted, "io_uring_enter", errno);
        assert_eq!(
            fault::planned(Call::Enter),
            0,
            "the submit had to wake the sleeping thread"
        );
        let mut cqes = Vec::new();
        let deadline = Instant::now() + PATIENCE;
        while cqes.len() < 3 && Instant::now() < deadline {
            ring.submit().unwrap();
            ring.wait_timeout(1, Duration::from_millis(10)).ok();
            cqes.extend(ring.completions());
        }
        assert_user_data_once(&cqes, next..next + 3);
        next += 3;
    }
    assert_nothing_more(&mut ring);
}

/// An SQE the kernel cannot prepare stops the batch after it: its
/// completion carries the error, and the SQEs after it go with the next
/// enter, once, which the waits make by themselves.
#[test]
fn a_partial_submission_submits_the_rest_once() {
    let mut ring = Ring::new(8).unwrap();
    let bad = |user_data| {
        let mut sqe = sys::io_uring_sqe::zeroed();
        sqe.opcode = 250;
        sqe.user_data = user_data;
        sqe
    };
    push_nops(&mut ring, [1]);
    // SAFETY: an SQE of an opcode the kernel does not know points to no
    // memory; the kernel refuses it.
    unsafe { ring.push_raw(&[bad(2)]) }.unwrap();
    push_nops(&mut ring, [3]);
    assert_eq!(
        ring.submit().unwrap(),
        2,
        "the batch stops after the bad SQE"
    );
    assert_eq!(ring.pending(), 1);
    assert_eq!(ring.submit().unwrap(), 1);
    ring.wait(3).unwrap();
    let cqes: Vec<Cqe> = ring.completions().collect();
    let by_id = uring_tests::by_user_data(&cqes);
    assert_eq!(by_id.len(), 3);
    assert_eq!(by_id[&1].res(), 0);
    assert_eq!(by_id[&2].res(), -libc::EINVAL);
    assert_eq!(by_id[&3].res(), 0);

    // submit_and_wait goes on submitting after the stop.
    push_nops(&mut ring, [4]);
    // SAFETY: as above.
    unsafe { ring.push_raw(&[bad(5)]) }.unwrap();
    push_nops(&mut ring, [6, 7]);
    assert_eq!(ring.submit_and_wait(4).unwrap(), 4);
    ring.wait(4).unwrap();
    let cqes: Vec<Cqe> = ring.completions().collect();
    assert_user_data_once(&cqes, [4, 5, 6, 7]);
    assert_nothing_more(&mut ring);

    // Even when the completions of the first part are all it waits for.
    push_nops(&mut ring, [8]);
    // SAFETY: as above.
    unsafe { ring.push_raw(&[bad(9)]) }.unwrap();
    push_nops(&mut ring, [10, 11]);
    assert_eq!(ring.submit_and_wait(1).unwrap(), 4);
    assert_eq!(ring.pending(), 0, "nothing left unsubmitted");
    ring.wait(4).unwrap();
    let cqes: Vec<Cqe> = ring.completions().collect();
    assert_user_data_once(&cqes, [8, 9, 10, 11]);
    assert_nothing_more(&mut ring);
}

/// A planned `EBADR` (the kernel dropped completions) reaches the caller
/// once; the next wait works and finds the completions that were posted.
#[test]
fn dropped_completions_are_reported_once() {
    let mut ring = Ring::new(4).unwrap();
    let (rx, mut tx) = pipe();
    let mut buf = [0u8; 4];
    uring_tests::push_lent!(ring, Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
    ring.submit().unwrap();
    fault::reset();
    fault::fail_next(Call::Enter, 1, libc::EBADR);
    assert_os(ring.wait(1), "io_uring_enter", libc::EBADR);
    tx.write_all(b"late").unwrap();
    ring.wait(1).unwrap();
    let cqes: Vec<Cqe> = ring.completions().collect();
    assert_user_data_once(&cqes, [1]);
    assert_eq!((cqes[0].res(), &buf), (4, b"late"));
    assert_nothing_more(&mut ring);
}

// ---------------------------------------------------------------------------
// The ring refused by the kernel

/// The ring's registered descriptor unregistered behind its back: every
/// enter names an empty slot and fails with `EBADF`; the SQEs stay queued,
/// and once the slot is registered again each runs once.
#[test]
fn a_stale_registered_ring_fd_fails_with_ebadf() {
    let mut ring = Ring::new(4).unwrap();
    let index = match ring.register_ring_fd() {
        Ok(index) => index,
        Err(e) => {
            uring_tests::skip(format_args!("registered ring fds (5.18): {e}"));
            return;
        }
    };
    let update = |data: u64| sys::io_uring_rsrc_update {
        offset: index,
        resv: 0,
        data,
    };
    let unregister = update(0);
    // SAFETY: a valid `io_uring_rsrc_update` for the call; it unregisters
    // the slot the ring registered, which the test registers again below.
    let gone = unsafe {
        sys::io_uring_register(
            ring.as_raw_fd(),
            sys::IORING_UNREGISTER_RING_FDS,
            (&unregister as *const sys::io_uring_rsrc_update).cast(),
            1,
        )
    };
    assert_eq!(gone.unwrap(), 1);
    push_nops(&mut ring, [1, 2]);
    assert_os(ring.submit(), "io_uring_enter", libc::EBADF);
    assert_os(ring.submit_and_wait(2), "io_uring_enter", libc::EBADF);
    assert_os(ring.wait(1), "io_uring_enter", libc::EBADF);
    assert_os(
        ring.wait_timeout(1, PATIENCE),
        "io_uring_enter",
        libc::EBADF,
    );
    assert_eq!(ring.pending(), 2);
    let mut again = update(ring.as_raw_fd() as u64);
    // SAFETY: as above; it registers the ring's own descriptor at the
    // index the ring uses.
    let back = unsafe {
        sys::io_uring_register(
            ring.as_raw_fd(),
            sys::IORING_REGISTER_RING_FDS,
            (&mut again as *mut sys::io_uring_rsrc_update).cast(),
            1,
        )
    };
    assert_eq!(back.unwrap(), 1);
    assert_eq!(again.offset, index);
    let cqes = submit_and_reap(&mut ring, 2);
    assert_user_data_once(&cqes, [1, 2]);
    assert_nothing_more(&mut ring);
}

/// A pipe `dup2`-ed onto the ring's descriptor number: every enter fails
/// with `EOPNOTSUPP`, a scope takes back the SQEs the kernel never saw, and
/// once the ring's file is back under its number each queued SQE runs
/// once.
#[test]
fn a_descriptor_that_is_no_ring_fails_with_eopnotsupp() {
    let mut ring = Ring::new(4).unwrap();
    let fd = ring.as_raw_fd();
    // SAFETY: the ring's descriptor is open while `ring` lives; the
    // duplicate is a new descriptor, owned here.
    let saved = unsafe { BorrowedFd::borrow_raw(fd) }
        .try_clone_to_owned()
        .unwrap();
    let (rx, _tx) = pipe();
    // SAFETY: dup3 replaces the number `fd` with the pipe atomically; the
    // ring's file lives on in `saved`, and goes back under `fd` below.
    let swapped = unsafe { libc::dup3(rx.as_raw_fd(), fd, libc::O_CLOEXEC) };
    assert_eq!(swapped, fd);
    push_nops(&mut ring, [1, 2]);
    assert_os(ring.submit(), "io_uring_enter", libc::EOPNOTSUPP);
    assert_os(ring.submit_and_wait(2), "io_uring_enter", libc::EOPNOTSUPP);
    assert_os(ring.wait(1), "io_uring_enter", libc::EOPNOTSUPP);
    let mut buf = [0xa5u8; 4];
    let result = ring.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(3)).unwrap();
        s.submit()
    });
    assert_os(result, "io_uring_enter", libc::EOPNOTSUPP);
    assert_eq!(ring.pending(), 2, "the scope took its read back");
    // SAFETY: as above: the ring's file goes back under its number.
    let restored = unsafe { libc::dup3(saved.as_raw_fd(), fd, libc::O_CLOEXEC) };
    assert_eq!(restored, fd);
    let cqes = submit_and_reap(&mut ring, 2);
    assert_user_data_once(&cqes, [1, 2]);
    assert_nothing_more(&mut ring);
    assert_eq!(buf, [0xa5; 4]);
}

/// A disabled ring fails waits with `EBADFD`, rather than waiting for
/// completions that cannot come.
#[test]
fn a_disabled_ring_fails_waits_with_ebadfd() {
    if !require_kernel(5, 10, "r_disabled") {
        return;
    }
    let mut ring = Ring::builder().r_disabled().build(4).unwrap();
    let _w = watchdog("waits on a disabled ring");
    assert_os(ring.wait(1), "io_uring_enter", libc::EBADFD);
    assert_os(
        ring.wait_timeout(1, PATIENCE),
        "io_uring_enter",
        libc::EBADFD,
    );
    push_nops(&mut ring, [1]);
    assert_os(ring.submit_and_wait(1), "io_uring_enter", libc::EBADFD);
    assert_os(
        ring.submit_and_wait_timeout(1, PATIENCE),
        "io_uring_enter",
        libc::EBADFD,
    );
    assert_eq!(ring.pending(), 1);
    ring.enable().unwrap();
    let cqes = submit_and_reap(&mut ring, 1);
    assert_user_data_once(&cqes, [1]);
}

/// A `DEFER_TASKRUN` ring runs completion work only on the thread that
/// created it: waits from another thread fail with `EEXIST` instead of
/// waiting for what that thread cannot run.
#[test]
fn defer_taskrun_waits_from_another_thread_fail_with_eexist() {
    let Some(mut ring) = deferred_ring(4) else {
        return;
    };
    ring.push(Timeout::new(Duration::from_millis(1)).user_data(1))
        .unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    std::thread::scope(|t| {
        t.spawn(|| {
            let _w = watchdog("waits from another thread");
            assert_os(ring.wait(1), "io_uring_enter", libc::EEXIST);
            assert_os(
                ring.wait_timeout(1, PATIENCE),
                "io_uring_enter",
                libc::EEXIST,
            );
            push_nops(&mut ring, [2]);
            assert_os(ring.submit_and_wait(1), "io_uring_enter", libc::EEXIST);
            assert_eq!(ring.pending(), 1);
        });
    });
    ring.wait(1).unwrap();
    let mut cqes: Vec<Cqe> = ring.completions().collect();
    cqes.extend(submit_and_reap(&mut ring, 1));
    assert_user_data_once(&cqes, [1, 2]);
}

// ---------------------------------------------------------------------------
// Scopes whose end meets failures

/// Ends a scope that has a read of a pipe in flight into a canary, with
/// the next `count` enters failing with `errno`, and checks that the scope
/// returned only after the kernel's completion of the read: it met every
/// planned failure, nothing completes or writes after it, and the data is
/// in exactly one place, the canary or the pipe. Returns whether the read
/// took the data (rather than being cancelled first).
///
/// On a `DEFER_TASKRUN` ring a read's completion is posted only when the
/// thread waits, so a scope that returned early would leave it to come
/// later. With `done`, an io-wq worker has filled the canary before the
/// scope ends and only the completion is left; otherwise the read is
/// armed, the data written, and two NOPs fill the SQ, so the read takes
/// the data in the first wait that gets through to the kernel.
fn end_scope_with_a_read_in_flight(errno: i32, count: u32, done: bool) -> bool {
    let mut ring = deferred_ring(2).expect("a DEFER_TASKRUN ring");
    let (rx, mut tx) = pipe();
    let data = pattern(16, errno as u8);
    let mut canary = [0xa5u8; 16];
    let what = format!("errno {errno} x{count}, done {done}");
    let _w = watchdog("a scope whose end meets failures");
    fault::reset();
    ring.scope(|s| {
        if done {
            tx.write_all(&data).unwrap();
            let read = Read::new(&rx, &mut canary[..]).flags(SqeFlags::ASYNC);
            s.push(read.user_data(1)).unwrap();
            assert_eq!(s.submit().unwrap(), 1);
            let deadline = Instant::now() + PATIENCE;
            while unread(&rx) > 0 {
                assert!(Instant::now() < deadline, "the worker never read");
                std::thread::sleep(Duration::from_millis(1));
            }
        } else {
            s.push(Read::new(&rx, &mut canary[..]).user_data(1))
                .unwrap();
            assert_eq!(s.submit().unwrap(), 1);
            s.push(Nop::new().user_data(2)).unwrap();
            s.push(Nop::new().user_data(3)).unwrap();
            assert_eq!(s.space_left(), 0);
            tx.write_all(&data).unwrap();
        }
        assert_eq!(s.completions().count(), 0, "{what}: nothing posted yet");
        fault::fail_next(Call::Enter, count, errno);
    });
    let (left, injected) = (
        fault::planned(Call::Enter),
        fault::counts(Call::Enter).injected,
    );
    fault::reset();
    assert_eq!(
        left, 0,
        "{what}: the scope returned before meeting every failure"
    );
    assert_eq!(injected, u64::from(count), "{what}");
    let at_return = canary;
    assert_nothing_more(&mut ring);
    assert_eq!(
        canary, at_return,
        "{what}: the canary changed after the scope"
    );
    let rest = drain(&rx);
    if at_return[..] == data[..] {
        assert!(rest.is_empty(), "{what}: the data twice");
        true
    } else {
        assert_eq!(
            at_return, [0xa5; 16],
            "{what}: the canary holds something else"
        );
        assert_eq!(rest, data, "{what}: the data is lost");
        false
    }
}

/// Under every errno an enter can fail with, a few times in a row for the
/// errors a scope retries and once for the others, a scope whose read is
/// in flight returns only after the kernel's completion of it.
#[test]
fn a_scope_ends_after_its_read_under_every_enter_failure() {
    if !require_kernel(6, 1, "IORING_SETUP_DEFER_TASKRUN") {
        return;
    }
    for errno in ENTER_ERRNOS {
        let count = if transient(errno) { 5 } else { 1 };
        assert!(
            end_scope_with_a_read_in_flight(errno, count, true),
            "errno {errno}: the canary does not show the data"
        );
        // Taken or cancelled, the data is in one place (checked there).
        end_scope_with_a_read_in_flight(errno, count, false);
    }
}

/// A failure the scope does not retry at once, met while its cancel goes
/// to the kernel, does not keep the scope from cancelling its read later:
/// the scope returns (it would wait for data that never comes otherwise),
/// and the read is gone: data written afterwards stays in the pipe.
#[test]
fn a_scope_cancels_its_read_after_a_one_off_failure() {
    for errno in ENTER_ERRNOS {
        let mut ring = Ring::new(4).unwrap();
        let (rx, mut tx) = pipe();
        let mut canary = [0xa5u8; 8];
        let _w = watchdog("a scope that must cancel its read");
        fault::reset();
        ring.scope(|s| {
            s.push(Read::new(&rx, &mut canary[..]).user_data(1))
                .unwrap();
            s.submit().unwrap();
            fault::fail_next(Call::Enter, 1, errno);
        });
        assert_eq!(fault::planned(Call::Enter), 0, "errno {errno}");
        fault::reset();
        assert_eq!(canary, [0xa5; 8], "errno {errno}");
        assert_nothing_more(&mut ring);
        tx.write_all(b"too late").unwrap();
        assert_nothing_more(&mut ring);
        assert_eq!(canary, [0xa5; 8], "errno {errno}: a read was left behind");
        assert_eq!(drain(&rx), b"too late");
    }
}

/// When every enter fails, a scope with a read in flight can neither
/// cancel nor wait for it: the process aborts inside the scope, which
/// never returns to release the canary.
#[test]
fn a_scope_aborts_rather_than_return_early() {
    const NAME: &str = "a_scope_aborts_rather_than_return_early";
    if std::env::var_os(CHILD).is_some_and(|name| name == NAME) {
        let no_core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: setrlimit reads `no_core`; the abort leaves no core file.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) }, 0);
        let mut ring = Ring::new(4).unwrap();
        let (rx, _tx) = pipe();
        let mut canary = [0xa5u8; 8];
        ring.scope(|s| {
            s.push(Read::new(&rx, &mut canary[..]).user_data(1))
                .unwrap();
            s.submit().unwrap();
            fault::fail_next(Call::Enter, u32::MAX, libc::EBADF);
        });
        println!("the scope returned: canary {canary:?}");
        return;
    }
    let out = spawn_child(NAME);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    use std::os::unix::process::ExitStatusExt as _;
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGABRT),
        "{}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert!(!stdout.contains("the scope returned"), "{stdout}");
    assert!(
        stderr.contains("a scope cannot wait for its ops"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------
// A dead SQ thread

/// Writes `line` and a newline to this process's stdout, with no lock (the
/// forked process that calls it has no other thread, and no lock it can
/// trust).
fn report(line: &str) {
    let line = format!("{line}\n");
    // SAFETY: writes the bytes of `line` to descriptor 1.
    unsafe { libc::write(1, line.as_ptr().cast(), line.len()) };
}

/// The body of [`a_dead_sq_thread_is_an_error_not_a_hang`] in its child
/// process: makes an SQPOLL ring, forks, and exits, so that the ring's SQ
/// thread dies with it while the forked process keeps the ring; that one
/// reports on stdout what every call does, and exits.
fn dead_sq_thread_child() -> ! {
    let mut ring = Ring::builder()
        .sqpoll(Duration::from_millis(1))
        .build(4)
        .expect("an SQPOLL ring");
    let fd = ring.as_raw_fd();
    let (rx, _tx) = pipe();
    let mut canary = [0xa5u8; 8];
    let maker = std::process::id() as libc::pid_t;
    let body = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ring.scope(|s| {
            // A read the SQ thread takes, and cancels when it dies.
            s.push(Read::new(&rx, &mut canary[..]).user_data(1))
                .unwrap();
            s.submit().unwrap();
            while s.space_left() < 4 {
                std::thread::sleep(Duration::from_millis(1));
            }
            // SAFETY: fork has no preconditions; the child goes on with
            // the only thread, and touches no lock another could hold.
            match unsafe { libc::fork() } {
                0 => {}
                // SAFETY: _exit ends this process without running anything.
                _ => unsafe { libc::_exit(0) },
            }
            // The forked process: a hang ends it after 10 s, which the
            // test sees as missing lines.
            // SAFETY: alarm has no preconditions.
            unsafe { libc::alarm(10) };
            // SAFETY: getppid has no preconditions.
            while unsafe { libc::getppid() } == maker {
                std::thread::sleep(Duration::from_millis(1));
            }
            let sq_thread = || {
                let text = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
                let line = text.lines().find(|l| l.starts_with("SqThread:")).unwrap();
                line["SqThread:".len()..].trim().parse::<i64>().unwrap()
            };
            while sq_thread() != -1 {
                std::thread::sleep(Duration::from_millis(1));
            }
            report("ok the SQ thread is gone");
            // The read was cancelled as the thread died.
            let cqes: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
            if cqes == [(1, -libc::ECANCELED)] {
                report("ok the read was cancelled");
            } else {
                report(&format!("FAIL the read: {cqes:?}"));
            }
            match s.wait(1) {
                Err(e) if e.raw_os_error() == Some(libc::EOWNERDEAD) => report("ok scope wait"),
                other => report(&format!("FAIL scope wait: {other:?}")),
            }
            // Pushed, never taken: the scope takes it back as it ends.
            s.push(Nop::new().user_data(2)).unwrap();
            match s.submit() {
                Err(e) if e.raw_os_error() == Some(libc::EOWNERDEAD) => report("ok scope submit"),
                other => report(&format!("FAIL scope submit: {other:?}")),
            }
        });
        report("ok the scope returned");
        ring.push(Nop::new().user_data(3)).unwrap();
        type Call = fn(&mut Ring) -> uring::Result<u32>;
        let calls: [(&str, Call); 5] = [
            ("submit", |r| r.submit()),
            ("wait", |r| r.wait(1).map(|()| 0)),
            ("wait_timeout", |r| r.wait_timeout(1, PATIENCE).map(|()| 0)),
            ("submit_and_wait", |r| r.submit_and_wait(1)),
            ("submit_and_wait_timeout", |r| {
                r.submit_and_wait_timeout(1, PATIENCE)
            }),
        ];
        for (name, call) in calls {
            match call(&mut ring) {
                Err(e) if e.raw_os_error() == Some(libc::EOWNERDEAD) => {
                    report(&format!("ok {name}"))
                }
                other => report(&format!("FAIL {name}: {other:?}")),
            }
        }
        if ring.pending() == 1 {
            report("ok the NOP is still queued");
        } else {
            report(&format!("FAIL pending {}", ring.pending()));
        }
        push_nops(&mut ring, [4, 5, 6]);
        match ring.wait_for_sq_space() {
            Err(e) if e.raw_os_error() == Some(libc::EOWNERDEAD) => report("ok wait_for_sq_space"),
            other => report(&format!("FAIL wait_for_sq_space: {other:?}")),
        }
        let start = Instant::now();
        drop(ring);
        if start.elapsed() < Duration::from_secs(1) {
            report("ok drop");
        } else {
            report(&format!("FAIL drop took {:?}", start.elapsed()));
        }
    }));
    if body.is_err() {
        report("FAIL a panic");
    }
    // SAFETY: _exit ends this process without returning to the harness,
    // which belongs to the process that exited.
    unsafe { libc::_exit(0) }
}

/// An SQPOLL ring whose SQ thread died (the process that made it exited;
/// a forked child kept the ring) answers every enter with `EOWNERDEAD`:
/// submits and waits return it rather than hang, a scope takes back what
/// the thread never took and returns, and dropping the ring does not wait
/// for the thread.
#[test]
fn a_dead_sq_thread_is_an_error_not_a_hang() {
    const NAME: &str = "a_dead_sq_thread_is_an_error_not_a_hang";
    if std::env::var_os(CHILD).is_some_and(|name| name == NAME) {
        dead_sq_thread_child();
    }
    if !require_sqpoll() {
        return;
    }
    let out = spawn_child(NAME);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = [
        "the SQ thread is gone",
        "the read was cancelled",
        "scope wait",
        "scope submit",
        "the scope returned",
        "submit",
        "wait",
        "wait_timeout",
        "submit_and_wait",
        "submit_and_wait_timeout",
        "the NOP is still queued",
        "wait_for_sq_space",
        "drop",
    ];
    let ok: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("ok "))
        .collect();
    assert_eq!(ok, expected, "\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(!stdout.contains("FAIL"), "{stdout}\nstderr:\n{stderr}");
}

// ---------------------------------------------------------------------------
// Registration

/// A file with `text` in it, at offset 0.
fn file_with(text: &[u8]) -> File {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(text).unwrap();
    file.rewind().unwrap();
    file
}

/// Reads the first `len` bytes of the file in slot `index` of `files`.
fn read_slot(ring: &mut Ring, files: &uring::FixedFiles, index: u32, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    let cqe = complete(ring, Read::new(files.get(index).unwrap(), &mut buf[..]));
    let n = usize::try_from(cqe.res()).unwrap_or_else(|_| panic!("read: {cqe:?}"));
    buf.truncate(n);
    buf
}

/// A NOP pushed, submitted and reaped: the ring works.
#[track_caller]
fn nop_round_trip(ring: &mut Ring, id: u64) {
    push_nops(ring, [id]);
    let cqes = submit_and_reap(ring, 1);
    assert_eq!((cqes[0].user_data(), cqes[0].res()), (id, 0));
}

/// Registrations the kernel refuses for real come back as errors that name
/// the opcode, and leave the ring, and what it had registered, working.
#[test]
fn register_failures_leave_the_ring_usable() {
    let mut ring = Ring::new(4).unwrap();
    let file = file_with(b"fixed file");
    // EINVAL: a table of no files.
    assert_os(
        ring.register_files(&[]),
        "IORING_REGISTER_FILES",
        libc::EINVAL,
    );
    // EBADF: a ring is no file to register.
    let other = Ring::new(2).unwrap();
    // SAFETY: `other` keeps its descriptor open for the call.
    let other_fd = unsafe { BorrowedFd::borrow_raw(other.as_raw_fd()) };
    assert_os(
        ring.register_files(&[other_fd]),
        "IORING_REGISTER_FILES",
        libc::EBADF,
    );
    let files = ring.register_files(&[file.as_fd()]).unwrap();
    // EBUSY: a second table while the first is there.
    assert_os(
        ring.register_files(&[file.as_fd()]),
        "IORING_REGISTER_FILES",
        libc::EBUSY,
    );
    assert_eq!(read_slot(&mut ring, &files, 0, 10), b"fixed file");
    ring.unregister_files(files).unwrap();
    // ENXIO: no eventfd to unregister.
    assert_os(
        ring.unregister_eventfd(),
        "IORING_UNREGISTER_EVENTFD",
        libc::ENXIO,
    );
    // EBADFD: restrictions on a ring that runs already.
    if require_kernel(5, 10, "restrictions") {
        assert_os(
            ring.register_restrictions(&[Restriction::op::<Nop>()]),
            "IORING_REGISTER_RESTRICTIONS",
            libc::EBADFD,
        );
    }
    // EFAULT: a buffer over addresses with no memory behind them.
    // SAFETY: a fresh inaccessible mapping chosen by the kernel.
    let hole = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(hole, libc::MAP_FAILED);
    let iov = [libc::iovec {
        iov_base: hole,
        iov_len: 4096,
    }];
    // SAFETY: `IoSliceMut` has the layout of `iovec` on Unix; nothing in
    // user space reads or writes through it.
    let slices: [IoSliceMut<'_>; 1] = unsafe { std::mem::transmute(iov) };
    // SAFETY: the kernel cannot pin the range, so nothing is registered.
    let refused = unsafe { ring.register_buffers(&slices) };
    assert_os(refused, "IORING_REGISTER_BUFFERS", libc::EFAULT);
    // SAFETY: the mapping made above, which nothing uses.
    assert_eq!(unsafe { libc::munmap(hole, 4096) }, 0);
    nop_round_trip(&mut ring, 1);
}

/// An unregistration that fails, whatever the errno, hands the handle back
/// in the error; the registration is still in force (ops use it), and
/// unregistering again works.
#[test]
fn failed_unregistrations_hand_the_handle_back() {
    let file = file_with(b"handle");
    // Declared before the ring: it outlives every registration.
    let mut region = vec![0u8; 64];
    let mut ring = Ring::new(4).unwrap();
    for errno in REGISTER_ERRNOS {
        fault::reset();
        let files = ring.register_files(&[file.as_fd()]).unwrap();
        fault::fail_next(Call::Register, 1, errno);
        let HandleError { error, handle } = ring.unregister_files(files).unwrap_err();
        assert_os(Err::<(), _>(error), "IORING_UNREGISTER_FILES", errno);
        assert_eq!(
            read_slot(&mut ring, &handle, 0, 6),
            b"handle",
            "errno {errno}"
        );
        ring.unregister_files(handle).unwrap();

        // SAFETY: `region` outlives the ring; only the fixed read below
        // uses it, and its completion is reaped before the region is read.
        let buffers = unsafe { ring.register_buffers(&[IoSliceMut::new(&mut region)]) }.unwrap();
        fault::fail_next(Call::Register, 1, errno);
        let HandleError { error, handle } = ring.unregister_buffers(buffers).unwrap_err();
        assert_os(Err::<(), _>(error), "IORING_UNREGISTER_BUFFERS", errno);
        let index = handle.get(0).unwrap();
        let cqe = complete(&mut ring, ReadFixed::new(&file, &mut region[..6], index));
        assert_eq!(cqe.res(), 6, "errno {errno}");
        assert_eq!(&region[..6], b"handle");
        region.fill(0);
        ring.unregister_buffers(handle).unwrap();
    }
    fault::reset();
}

/// An update of the file table that fails leaves every slot as it was; a
/// sparse table falls back to a table of empty slots when the kernel does
/// not know sparse tables (`EINVAL`), and fails with any other errno.
#[test]
fn failed_updates_leave_the_table_as_it_was() {
    let first = file_with(b"first");
    let other = file_with(b"other");
    let mut ring = Ring::new(4).unwrap();
    let mut files = ring.register_files(&[first.as_fd()]).unwrap();
    for errno in REGISTER_ERRNOS {
        fault::reset();
        fault::fail_next(Call::Register, 1, errno);
        let update = ring.update_files(&mut files, 0, &[Some(other.as_fd())]);
        assert_os(update, "IORING_REGISTER_FILES_UPDATE", errno);
        assert_eq!(
            read_slot(&mut ring, &files, 0, 5),
            b"first",
            "errno {errno}"
        );
    }
    fault::reset();
    assert_eq!(
        ring.update_files(&mut files, 0, &[Some(other.as_fd())])
            .unwrap(),
        1
    );
    assert_eq!(read_slot(&mut ring, &files, 0, 5), b"other");
    ring.unregister_files(files).unwrap();

    fault::fail_next(Call::Register, 1, libc::EINVAL);
    let mut sparse = ring.register_files_sparse(2).unwrap();
    assert_eq!(fault::counts(Call::Register).injected, 1);
    assert_eq!(
        ring.update_files(&mut sparse, 1, &[Some(first.as_fd())])
            .unwrap(),
        1
    );
    assert_eq!(read_slot(&mut ring, &sparse, 1, 5), b"first");
    ring.unregister_files(sparse).unwrap();
    for errno in REGISTER_ERRNOS.into_iter().filter(|&e| e != libc::EINVAL) {
        fault::reset();
        fault::fail_next(Call::Register, 1, errno);
        assert_os(
            ring.register_files_sparse(2),
            "IORING_REGISTER_FILES2",
            errno,
        );
        // Nothing was registered: a table registers now.
        let files = ring.register_files(&[first.as_fd()]).unwrap();
        ring.unregister_files(files).unwrap();
    }
    fault::reset();
}

/// The other registrations: a failure changes nothing, whatever the
/// errno. A ring fd that did not register leaves enters on the
/// descriptor; one that did not unregister leaves them on the index; a
/// ring that failed to enable stays disabled; a synchronous cancellation
/// resumes when interrupted and times out on `ETIME`.
#[test]
fn other_register_failures_change_nothing() {
    for errno in REGISTER_ERRNOS {
        let mut ring = Ring::new(4).unwrap();
        fault::reset();
        fault::fail_next(Call::Register, 1, errno);
        assert_os(ring.register_ring_fd(), "IORING_REGISTER_RING_FDS", errno);
        assert_eq!(ring.registered_ring_fd(), None);
        nop_round_trip(&mut ring, 1);
        if let Ok(index) = ring.register_ring_fd() {
            fault::fail_next(Call::Register, 1, errno);
            assert_os(
                ring.unregister_ring_fd(),
                "IORING_UNREGISTER_RING_FDS",
                errno,
            );
            assert_eq!(ring.registered_ring_fd(), Some(index));
            nop_round_trip(&mut ring, 2);
            ring.unregister_ring_fd().unwrap();
            assert_eq!(ring.registered_ring_fd(), None);
        }
        fault::fail_next(Call::Register, 1, errno);
        assert_os(ring.probe(), "IORING_REGISTER_PROBE", errno);
        assert!(ring.probe().unwrap().supports::<Nop>());
        fault::fail_next(Call::Register, 1, errno);
        let limits = uring::IoWqWorkers {
            bounded: 0,
            unbounded: 0,
        };
        assert_os(
            ring.set_iowq_max_workers(limits),
            "IORING_REGISTER_IOWQ_MAX_WORKERS",
            errno,
        );
        nop_round_trip(&mut ring, 3);

        if let Ok(mut disabled) = Ring::builder().r_disabled().build(4) {
            fault::fail_next(Call::Register, 1, errno);
            assert_os(disabled.enable(), "IORING_REGISTER_ENABLE_RINGS", errno);
            let refused = disabled.scope(|s| s.push(Nop::new()).map_err(|e| e.kind()));
            assert_eq!(refused, Err(uring::PushErrorKind::Disabled));
            disabled.enable().unwrap();
            nop_round_trip(&mut disabled, 4);
        }
    }
    fault::reset();

    if !require_kernel(6, 0, "IORING_REGISTER_SYNC_CANCEL") {
        return;
    }
    let mut ring = Ring::new(4).unwrap();
    let (rx, _tx) = pipe();
    let mut buf = [0xa5u8; 4];
    uring_tests::push_lent!(ring, Read::new(&rx, &mut buf[..]).user_data(9)).unwrap();
    ring.submit().unwrap();
    fault::fail_next(Call::Register, 1, libc::ETIME);
    let timed = ring.cancel_sync(SyncCancel::user_data(9), Some(PATIENCE));
    assert!(matches!(timed, Err(Error::TimedOut)), "{timed:?}");
    fault::fail_next(Call::Register, 3, libc::EINTR);
    ring.cancel_sync(SyncCancel::user_data(9), None).unwrap();
    assert_eq!(fault::planned(Call::Register), 0);
    assert_eq!(fault::counts(Call::Register).made, 1);
    let cqes = submit_and_reap(&mut ring, 1);
    assert_eq!((cqes[0].user_data(), cqes[0].res()), (9, -libc::ECANCELED));
    assert_eq!(buf, [0xa5; 4]);
    fault::reset();
}

/// A buffer ring whose unregistration fails on drop stays with the kernel:
/// its group cannot be registered again, and an op that picks one of its
/// buffers finds no memory at its address (`EFAULT`) rather than memory
/// used for something else since.
#[test]
fn a_buffer_ring_the_kernel_keeps_faults_instead_of_reusing_memory() {
    if !require_kernel(5, 19, "buffer rings") {
        return;
    }
    let mut ring = Ring::new(4).unwrap();
    let group = BufferGroup::new(5);
    let pool = ring.register_buf_ring(group, 2, 64).unwrap();
    fault::reset();
    fault::fail_next(Call::Register, 1, libc::EINTR);
    drop(pool);
    assert_eq!(fault::counts(Call::Register).injected, 1);
    fault::reset();
    assert_os(
        ring.register_buf_ring(group, 2, 64),
        "IORING_REGISTER_PBUF_RING",
        libc::EEXIST,
    );
    let (mut tx, rx) = std::os::unix::net::UnixStream::pair().unwrap();
    tx.write_all(b"late").unwrap();
    let cqe = complete(&mut ring, Recv::new(&rx, group.select(64)));
    assert_eq!(cqe.res(), -libc::EFAULT, "{cqe:?}");
    nop_round_trip(&mut ring, 1);
}

/// A buffer ring whose making fails (its memory, or its registration)
/// leaves nothing behind: what was mapped is unmapped, the duplicate of the
/// ring's descriptor is closed, and the group registers afterwards.
#[test]
fn buffer_ring_failures_leave_nothing_behind() {
    if !body_in_child("buffer_ring_failures_leave_nothing_behind")
        || !require_kernel(5, 19, "buffer rings")
    {
        return;
    }
    let mut ring = Ring::new(4).unwrap();
    let group = BufferGroup::new(3);
    let free = lowest_free_fd();
    let cases = [
        (Call::Mmap, 0, "mmap"),
        (Call::Mmap, 1, "mmap"),
        (Call::Register, 0, "IORING_REGISTER_PBUF_RING"),
    ];
    for (call, skip, name) in cases {
        let errnos: &[i32] = if call == Call::Mmap {
            &MMAP_ERRNOS
        } else {
            &REGISTER_ERRNOS
        };
        for &errno in errnos {
            fault::reset();
            fault::fail_after(call, skip, 1, errno);
            assert_os(ring.register_buf_ring(group, 4, 64), name, errno);
            assert_eq!(fault::planned(call), 0);
            let (maps, unmaps) = (fault::counts(Call::Mmap), fault::counts(Call::Munmap));
            assert_eq!(maps.made, unmaps.made, "every mapping made is unmapped");
            assert_eq!(lowest_free_fd(), free, "the duplicate descriptor is closed");
        }
    }
    fault::reset();
    let pool = ring.register_buf_ring(group, 4, 64).unwrap();
    let (mut tx, rx) = std::os::unix::net::UnixStream::pair().unwrap();
    tx.write_all(b"pooled").unwrap();
    let got = ring.scope(|s| -> uring::Result<Vec<u8>> {
        s.push(Recv::new(&rx, pool.select()))?;
        s.submit_and_wait(1)?;
        let mut cqe = s.completions().next().expect("a completion");
        Ok(pool.claim(&mut cqe)?.to_vec())
    });
    assert_eq!(got.unwrap(), b"pooled");
}

// ---------------------------------------------------------------------------
// Setup, mappings, descriptors

/// A setup that fails leaves no descriptor and no mapping; `create_many`
/// closes the rings it made before the one that failed.
#[test]
fn setup_failures_leave_no_descriptor_behind() {
    if !body_in_child("setup_failures_leave_no_descriptor_behind") {
        return;
    }
    let free = lowest_free_fd();
    for errno in [
        libc::EPERM,
        libc::EFAULT,
        libc::ENFILE,
        libc::EMFILE,
        libc::ENOMEM,
        libc::EINVAL,
    ] {
        fault::reset();
        fault::fail_next(Call::Setup, 1, errno);
        assert_os(Ring::new(4), "io_uring_setup", errno);
        assert_eq!(fault::counts(Call::Mmap).made, 0);
        assert_eq!(lowest_free_fd(), free);
    }
    fault::reset();
    // The kernel's own EINVAL: an SQ thread on a CPU that does not exist.
    let builder = Ring::builder()
        .sqpoll(Duration::from_millis(1))
        .sq_thread_cpu(4095);
    assert_os(builder.build(4), "io_uring_setup", libc::EINVAL);
    assert_eq!(lowest_free_fd(), free);
    // The third of four setups fails: the two rings made are closed.
    fault::fail_after(Call::Setup, 2, 1, libc::ENOMEM);
    let many = Ring::create_many(4, 4, 2, &Builder::new());
    assert_os(many, "io_uring_setup", libc::ENOMEM);
    assert_eq!(fault::counts(Call::Close).made, 2);
    assert_eq!(lowest_free_fd(), free);
    fault::reset();
}

/// Whichever of the ring's mappings fails, the setup fails with the
/// mapping's errno, unmaps the mappings made before it, and closes the
/// ring's descriptor.
#[test]
fn a_failed_mapping_closes_the_ring_descriptor() {
    if !body_in_child("a_failed_mapping_closes_the_ring_descriptor") {
        return;
    }
    let free = lowest_free_fd();
    fault::reset();
    drop(Ring::new(4).unwrap());
    let maps = fault::counts(Call::Mmap).made as u32;
    assert!(
        maps >= 3,
        "the SQ and CQ rings, the SQEs, the timespecs: {maps}"
    );
    for k in 0..maps {
        for errno in MMAP_ERRNOS {
            fault::reset();
            fault::fail_after(Call::Mmap, k, 1, errno);
            assert_os(Ring::new(4), "mmap", errno);
            let counts = |call| fault::counts(call).made;
            assert_eq!(counts(Call::Mmap), u64::from(k), "mapping {k}");
            assert_eq!(counts(Call::Munmap), u64::from(k), "mapping {k}");
            assert_eq!(counts(Call::Close), 1, "mapping {k}");
            assert_eq!(lowest_free_fd(), free, "mapping {k}");
        }
    }
    fault::reset();
}

/// With no address space left under `RLIMIT_AS`, the kernel makes the ring
/// but mapping it fails (`ENOMEM`): the setup fails with that, and closes
/// the ring's descriptor.
#[test]
fn an_address_space_limit_fails_the_mapping_and_closes_the_descriptor() {
    if !body_in_child("an_address_space_limit_fails_the_mapping_and_closes_the_descriptor") {
        return;
    }
    let free = lowest_free_fd();
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let vm_kib: libc::rlim_t = status
        .lines()
        .find_map(|line| line.strip_prefix("VmSize:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmSize in /proc/self/status");
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes `old`.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut old) }, 0);
    let tight = libc::rlimit {
        rlim_cur: vm_kib * 1024,
        rlim_max: old.rlim_max,
    };
    fault::reset();
    // SAFETY: setrlimit reads its argument. Until the limit is lifted, no
    // new mapping can be made: nothing between allocates.
    let result = unsafe {
        libc::setrlimit(libc::RLIMIT_AS, &tight);
        let result = Ring::new(4);
        libc::setrlimit(libc::RLIMIT_AS, &old);
        result
    };
    assert_os(result, "mmap", libc::ENOMEM);
    let counts = |call| fault::counts(call);
    assert_eq!(counts(Call::Setup).made, 1, "the kernel made the ring");
    assert_eq!(counts(Call::Mmap).failed, 1);
    assert_eq!(counts(Call::Close).made, 1);
    assert_eq!(lowest_free_fd(), free);
    fault::reset();
}

/// The ring's mappings named in `/proc/self/maps`.
fn ring_mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter(|line| line.contains("io_uring"))
        .count()
}

/// `Ring::close` reports a failed `close(2)` once, and nothing closes the
/// number again (the descriptor is released: Linux does so whatever close
/// returns). An `munmap` that fails on drop leaves its mapping in place,
/// and the rest of the teardown goes on.
#[test]
fn failed_unmaps_and_closes_free_nothing_twice() {
    if !body_in_child("failed_unmaps_and_closes_free_nothing_twice") {
        return;
    }
    let free = lowest_free_fd();
    for errno in [
        libc::EINTR,
        libc::EIO,
        libc::EBADF,
        libc::ENOSPC,
        libc::EDQUOT,
    ] {
        let ring = Ring::new(4).unwrap();
        let fd = ring.as_raw_fd();
        fault::reset();
        fault::fail_next(Call::Close, 1, errno);
        assert_os(ring.close(), "close", errno);
        assert_eq!(fault::counts(Call::Close).made, 1, "closed once");
        assert!(!uring_tests::fd_is_open(fd));
        assert_eq!(lowest_free_fd(), free);
    }
    fault::reset();
    let mappings = ring_mappings();
    let ring = Ring::new(4).unwrap();
    assert!(ring_mappings() > mappings);
    fault::fail_next(Call::Munmap, 8, libc::EINVAL);
    drop(ring);
    let munmaps = fault::counts(Call::Munmap);
    assert!(munmaps.injected >= 3, "{munmaps:?}");
    assert_eq!(munmaps.made, 0);
    assert!(ring_mappings() > mappings, "the mappings are left in place");
    assert_eq!(fault::counts(Call::Close).made, 1);
    assert_eq!(lowest_free_fd(), free);
    fault::reset();
}

/// Without `CAP_IPC_LOCK` the kernel counts a ring's memory and registered
/// buffers against `RLIMIT_MEMLOCK`: past it, setup and buffer
/// registration fail with `ENOMEM`, and the ring that exists goes on.
#[test]
fn memlock_limits_fail_setup_and_buffer_registration() {
    if !body_in_child("memlock_limits_fail_setup_and_buffer_registration") {
        return;
    }
    let limit = |bytes: libc::rlim_t| {
        let lim = libc::rlimit {
            rlim_cur: bytes,
            rlim_max: bytes,
        };
        // SAFETY: setrlimit reads `lim`.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) }, 0);
    };
    limit(1 << 20);
    // SAFETY: plain calls; as root, they drop to an unprivileged user (and
    // every capability), which is what the kernel then counts against.
    unsafe {
        if libc::geteuid() == 0 {
            assert_eq!(libc::setresgid(65534, 65534, 65534), 0);
            assert_eq!(libc::setresuid(65534, 65534, 65534), 0);
        }
    }
    let mut ring = Ring::new(4).unwrap();
    let mut big = vec![0u8; 2 << 20];
    let slices = [IoSliceMut::new(&mut big)];
    // SAFETY: the kernel refuses the registration, so it keeps nothing.
    let refused = unsafe { ring.register_buffers(&slices) };
    assert_os(refused, "IORING_REGISTER_BUFFERS", libc::ENOMEM);
    nop_round_trip(&mut ring, 1);
    limit(0);
    assert_os(Ring::new(4), "io_uring_setup", libc::ENOMEM);
    nop_round_trip(&mut ring, 2);
}

/// With no descriptor left under `RLIMIT_NOFILE`, setup fails with
/// `EMFILE`, and so does the duplicate a buffer ring keeps of the ring's
/// descriptor (`EINVAL` with a limit of 0); nothing is left half made.
#[test]
fn descriptor_limits_fail_setup_and_buffer_rings() {
    if !body_in_child("descriptor_limits_fail_setup_and_buffer_rings") {
        return;
    }
    let mut ring = Ring::new(4).unwrap();
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes `old`.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut old) }, 0);
    let soft = |n: libc::rlim_t| {
        let lim = libc::rlimit {
            rlim_cur: n,
            rlim_max: old.rlim_max,
        };
        // SAFETY: setrlimit reads `lim`.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    };
    let free = lowest_free_fd();
    let group = BufferGroup::new(1);
    soft(free as libc::rlim_t);
    assert_os(Ring::new(4), "io_uring_setup", libc::EMFILE);
    let dup = "fcntl(F_DUPFD_CLOEXEC)";
    if require_kernel(5, 19, "buffer rings") {
        assert_os(ring.register_buf_ring(group, 4, 64), dup, libc::EMFILE);
        soft(0);
        assert_os(ring.register_buf_ring(group, 4, 64), dup, libc::EINVAL);
    }
    soft(old.rlim_cur);
    nop_round_trip(&mut ring, 1);
    if require_kernel(5, 19, "buffer rings") {
        drop(ring.register_buf_ring(group, 4, 64).unwrap());
    }
    assert_eq!(lowest_free_fd(), free);
}

// ---------------------------------------------------------------------------
// Scope keys

/// The key of a scope on a fresh ring: the tag its first op carries (read
/// from fdinfo, as anyone can) without the slot and count bits.
fn a_scope_key() -> u64 {
    let mut ring = Ring::new(4).unwrap();
    let fd = ring.as_raw_fd();
    ring.scope(|s| {
        // A user_data with its top bit set could be a tag: the op is
        // tagged, even in a scope that tags only what it must.
        s.push(Nop::new().user_data(1 << 63 | 7)).unwrap();
        s.submit_and_wait(1).unwrap();
        let tags = uring_tests::fdinfo_user_data(fd);
        assert_eq!(tags.len(), 1, "{tags:?}");
        let cqe = s.completions().next().unwrap();
        assert_eq!(
            cqe.user_data(),
            1 << 63 | 7,
            "the scope restores the user_data"
        );
        // The first tagged op of a scope on a fresh ring: slot 0, the
        // first count (its top bit set).
        tags[0] ^ (0x8000_0001 << 32)
    })
}

/// When `getrandom(2)` fails, a scope still gets a key, and each scope a
/// different one; when it is interrupted, the draw resumes.
#[test]
fn scopes_get_keys_when_getrandom_fails() {
    for errno in [
        libc::ENOSYS,
        libc::EAGAIN,
        libc::EFAULT,
        libc::EINVAL,
        libc::EPERM,
    ] {
        // A thread of its own: its batch of keys is empty, so each of its
        // scopes draws.
        std::thread::spawn(move || {
            fault::fail_next(Call::Getrandom, u32::MAX, errno);
            let (a, b) = (a_scope_key(), a_scope_key());
            let counts = fault::counts(Call::Getrandom);
            assert_eq!((counts.made, counts.injected), (0, 2), "errno {errno}");
            assert_ne!(a, b, "errno {errno}: two scopes, one key");
            assert!(a != 0 && b != 0, "errno {errno}");
            fault::reset();
            let c = a_scope_key();
            assert_eq!(fault::counts(Call::Getrandom).made, 1);
            assert!(c != a && c != b);
        })
        .join()
        .unwrap();
    }
    std::thread::spawn(|| {
        fault::fail_next(Call::Getrandom, 3, libc::EINTR);
        let key = a_scope_key();
        let counts = fault::counts(Call::Getrandom);
        assert_eq!((counts.made, counts.injected), (1, 3));
        assert_eq!(fault::planned(Call::Getrandom), 0);
        assert_ne!(key, 0);
    })
    .join()
    .unwrap();
}

/// A timed wait whose enter fails with an error other than `ETIME` reports
/// that error, not a timeout.
#[test]
fn a_timed_wait_reports_its_enter_error_not_a_timeout() {
    let mut ring = Ring::new(4).unwrap();
    if !ring.params().has(uring::Features::EXT_ARG) {
        uring_tests::skip(format_args!("timed waits need IORING_FEAT_EXT_ARG"));
        return;
    }
    for errno in [libc::EBADF, libc::EFAULT, libc::ENOMEM] {
        fault::reset();
        fault::fail_next(Call::Enter, 1, errno);
        assert_os(
            ring.wait_timeout(1, Duration::from_secs(5)),
            "io_uring_enter",
            errno,
        );
        fault::reset();
        nop_round_trip(&mut ring, u64::from(errno as u32));
    }
}

/// `Reactor::new` asks for a ring with its flags and an 8192-entry CQ; a
/// kernel that refuses the flags (`EINVAL`) or the memory (`ENOMEM`: the
/// locked-memory limit of kernels before 5.12) gets asked for a plain ring
/// instead, once. Any other refusal is the error.
#[test]
fn a_reactor_asks_for_a_plain_ring_when_its_setup_is_refused() {
    use uring::reactor::{Reactor, ops::Nop as ReactorNop};
    for errno in [libc::EINVAL, libc::ENOMEM] {
        fault::reset();
        fault::fail_next(Call::Setup, 1, errno);
        let reactor = Reactor::new().expect("the plain ring");
        let counts = fault::counts(Call::Setup);
        assert_eq!((counts.injected, counts.made), (1, 1), "errno {errno}");
        let (result, ()) = reactor.run_until(reactor.op(ReactorNop)).unwrap();
        assert_eq!(result.unwrap(), 0);
    }
    fault::reset();
    fault::fail_next(Call::Setup, 2, libc::ENOMEM);
    let refused = Reactor::new().unwrap_err();
    assert_eq!(refused.raw_os_error(), Some(libc::ENOMEM));
    assert_eq!(fault::counts(Call::Setup).injected, 2);
    fault::reset();
    fault::fail_next(Call::Setup, 1, libc::EPERM);
    let refused = Reactor::new().unwrap_err();
    assert_eq!(refused.raw_os_error(), Some(libc::EPERM));
    assert_eq!(fault::counts(Call::Setup).injected, 1, "asked once");
    fault::reset();
}
