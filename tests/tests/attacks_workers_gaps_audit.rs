//! Worker pools and waking, attacked where the existing suites stop short:
//! io-wq worker limits past `INT_MAX` and past `RLIMIT_NPROC`, limits read
//! or set from a thread that has no worker pool yet, a limit of one worker
//! held by a blocked op while a second op of the same ring waits in the
//! pool's queue (does the scope's end still finish, and leave both ops'
//! memory alone?), the owner of a `create_many` set dropped while the
//! attached ring's op blocks in the pool, what `attached_wq` names after
//! that, a `create_many` that runs out of descriptors half way, worker
//! affinity with CPUs out of range and on a thread without a pool, the
//! eventfd switch flipped before any eventfd is registered, NAPI busy
//! polling of extreme lengths on rings that touch no socket, and every one
//! of these registrations made on a `single_issuer` ring from a second
//! thread.
//!
//! Read against Linux 6.18: `io_uring/register.c`
//! (`__io_uring_register`, which refuses every opcode from a task that is
//! not the ring's `submitter_task` with `EEXIST`;
//! `io_register_iowq_max_workers`, which refuses counts past `INT_MAX`,
//! records them in `ctx->iowq_limits` and reports zeros when the caller
//! has no `io_wq`; `io_register_iowq_aff`), `io_uring/io-wq.c`
//! (`io_wq_max_workers`, which clamps to `RLIMIT_NPROC`;
//! `io_wq_cpu_affinity`, `EINVAL` without a pool), `io_uring/tctx.c`
//! (`__io_uring_add_tctx_node`, which applies the ring's recorded limits to
//! a new pool), `io_uring/eventfd.c` (`io_eventfd_signal`, which checks
//! `IORING_CQ_EVENTFD_DISABLED` at each signal) and `io_uring/napi.c`
//! (`io_register_napi`, `io_unregister_napi`, `io_napi_busy_loop`).
//!
//! Every test is safe code against the running kernel and checks what the
//! kernel did: errno values, limits read back, completions and their
//! results, canary bytes, bytes left unread in pipes and sockets, open
//! descriptors. The tests of this file run one at a
//! time (`SERIAL`), so that descriptor numbers and counts are theirs.

use std::io::{Read as _, Write as _};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use uring::ops::{Nop, Read, Splice};
use uring::{Builder, Error, IoWqWorkers, NapiSettings, NapiTracking, Ring, SqeFlags};
use uring_tests::{PATIENCE, pipe, require_kernel, skip, watchdog};

/// Held by every test of this file: one at a time, so descriptor numbers
/// and counts are not moved by another test of this binary.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The errno of `r`, if it failed with one.
fn errno<T>(r: &uring::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(|e| e.raw_os_error())
}

/// Every completion the ring holds, as `(user_data, res)`.
fn drain(ring: &mut Ring) -> Vec<(u64, i32)> {
    ring.completions()
        .map(|c| (c.user_data(), c.res()))
        .collect()
}

/// Submits what is queued and collects completions until `n` have come.
fn reap(ring: &mut Ring, n: usize) -> Vec<(u64, i32)> {
    let mut got = drain(ring);
    let deadline = Instant::now() + PATIENCE;
    while got.len() < n {
        assert!(Instant::now() < deadline, "only {got:?} of {n} completions");
        let _ = ring.submit_and_wait_timeout(1, Duration::from_millis(20));
        got.extend(drain(ring));
    }
    got
}

/// The calling thread's id.
fn gettid() -> i64 {
    // SAFETY: gettid has no preconditions.
    i64::from(unsafe { libc::gettid() })
}

/// The io-wq workers of thread `tid` (`iou-wrk-<tid>`) sleeping on an
/// empty pipe, each with its `Cpus_allowed_list`.
fn blocked_workers_of(tid: i64) -> Vec<(i64, String)> {
    let name: String = format!("iou-wrk-{tid}").chars().take(15).collect();
    let mut found: Vec<(i64, String)> = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter_map(|task| {
            let read = |what| std::fs::read_to_string(task.path().join(what)).unwrap_or_default();
            if read("comm").trim_end() != name || read("wchan") != "pipe_wait_readable" {
                return None;
            }
            let id = task.file_name().to_str()?.parse().ok()?;
            let status = read("status");
            let cpus = status
                .lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .unwrap_or_default()
                .trim()
                .to_owned();
            Some((id, cpus))
        })
        .collect();
    found.sort();
    found
}

/// Waits (at most [`PATIENCE`]) until `n` io-wq workers of thread `tid`
/// sleep on an empty pipe; returns them.
fn wait_for_blocked_workers(tid: i64, n: usize) -> Vec<(i64, String)> {
    let start = Instant::now();
    loop {
        let found = blocked_workers_of(tid);
        if found.len() >= n {
            return found;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "{} of {n} io-wq workers of thread {tid} block: {found:?}",
            found.len()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The descriptors open in this process.
fn open_fds() -> Vec<i32> {
    let mut fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    fds.sort_unstable();
    fds
}

/// What descriptor `fd` names (`/proc/self/fd/<fd>`), if it is open.
fn fd_target(fd: i32) -> Option<String> {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// A new non-blocking eventfd.
fn eventfd() -> OwnedFd {
    // SAFETY: eventfd(2) takes plain integers.
    let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    assert!(raw >= 0, "eventfd: {}", std::io::Error::last_os_error());
    // SAFETY: eventfd just returned this descriptor, owned by no one else.
    unsafe { OwnedFd::from_raw_fd(raw) }
}

/// The eventfd's counter, read (and so reset); 0 when nothing signalled it.
fn take_count(fd: &OwnedFd) -> u64 {
    let mut bytes = [0u8; 8];
    match std::fs::File::from(fd.try_clone().unwrap()).read(&mut bytes) {
        Ok(8) => u64::from_ne_bytes(bytes),
        Ok(n) => panic!("an eventfd read of {n} bytes"),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
        Err(e) => panic!("eventfd read: {e}"),
    }
}

/// This process's `RLIMIT_NPROC` soft limit, as the kernel clamps to it
/// (an `int` past which nothing is clamped).
fn nproc_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into `lim`.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NPROC, &mut lim) }, 0);
    lim.rlim_cur
}

// ---------------------------------------------------------------------
// Worker limits
// ---------------------------------------------------------------------

/// `io_register_iowq_max_workers` refuses a count past `INT_MAX` with
/// `EINVAL` before it records anything (so the other count, valid, is not
/// set either), and `io_wq_max_workers` clamps a count past the caller's
/// `RLIMIT_NPROC` to it. Both come back as values: an `EINVAL` error with
/// the limits unchanged, then the clamped limit read back, the other kind
/// untouched (a 0 leaves it).
#[test]
fn worker_limits_past_int_max_are_refused_and_past_nproc_are_clamped() {
    let _serial = serial();
    let _watch = watchdog();
    if !require_kernel(5, 15, "IORING_REGISTER_IOWQ_MAX_WORKERS") {
        return;
    }
    std::thread::spawn(|| {
        let mut ring = Ring::new(4).unwrap();
        // A pool for this thread, with known limits.
        ring.push(Nop::new().flags(SqeFlags::ASYNC).user_data(1))
            .unwrap();
        assert_eq!(reap(&mut ring, 1), [(1, 0)]);
        let base = IoWqWorkers {
            bounded: 3,
            unbounded: 5,
        };
        ring.set_iowq_max_workers(base).unwrap();
        assert_eq!(ring.iowq_max_workers().unwrap(), base);
        for bad in [
            IoWqWorkers {
                bounded: u32::MAX,
                unbounded: 7,
            },
            IoWqWorkers {
                bounded: 7,
                unbounded: i32::MAX as u32 + 1,
            },
        ] {
            let refused = ring.set_iowq_max_workers(bad);
            assert_eq!(errno(&refused), Some(libc::EINVAL), "{bad:?}: {refused:?}");
            assert_eq!(
                ring.iowq_max_workers().unwrap(),
                base,
                "a refused call changed a limit"
            );
        }
        let before = ring
            .set_iowq_max_workers(IoWqWorkers {
                bounded: i32::MAX as u32,
                unbounded: 0,
            })
            .unwrap();
        assert_eq!(before, base);
        let expected = nproc_limit().min(i32::MAX as u64) as u32;
        assert_eq!(
            ring.iowq_max_workers().unwrap(),
            IoWqWorkers {
                bounded: expected,
                unbounded: 5,
            },
            "the bounded limit is clamped to RLIMIT_NPROC"
        );
        // The clamped pool still runs work.
        ring.push(Nop::new().flags(SqeFlags::ASYNC).user_data(2))
            .unwrap();
        assert_eq!(reap(&mut ring, 1), [(2, 0)]);
        assert!(drain(&mut ring).is_empty());
    })
    .join()
    .expect("no panic on the ring's thread");
}

/// A ring moved to a thread that never used io_uring: that thread has no
/// io-wq pool (`current->io_uring` is NULL), so
/// `io_register_iowq_max_workers` records nothing new and copies zeros out.
/// `iowq_max_workers` then reports `{0, 0}` (its docs once called that the
/// limits in force; they now say it means no pool), though the limits set
/// on the ring (`ctx->iowq_limits`) are what the thread's work runs under:
/// its first submission makes a pool and `__io_uring_add_tctx_node`
/// applies them, as the next read shows.
#[test]
fn worker_limits_read_on_a_thread_without_a_pool_are_zero_until_its_work_makes_one() {
    let _serial = serial();
    let _watch = watchdog();
    if !require_kernel(5, 15, "IORING_REGISTER_IOWQ_MAX_WORKERS") {
        return;
    }
    let set = IoWqWorkers {
        bounded: 3,
        unbounded: 5,
    };
    let ring = std::thread::spawn(move || {
        let mut ring = Ring::new(4).unwrap();
        ring.set_iowq_max_workers(set).unwrap();
        assert_eq!(ring.iowq_max_workers().unwrap(), set);
        ring
    })
    .join()
    .unwrap();
    let (first, after) = std::thread::spawn(move || {
        let mut ring = ring;
        let first = ring.iowq_max_workers().unwrap();
        ring.push(Nop::new().flags(SqeFlags::ASYNC).user_data(1))
            .unwrap();
        assert_eq!(reap(&mut ring, 1), [(1, 0)]);
        (first, ring.iowq_max_workers().unwrap())
    })
    .join()
    .unwrap();
    assert_eq!(after, set, "the new pool runs under the ring's limits");
    assert_eq!(
        first,
        IoWqWorkers {
            bounded: 0,
            unbounded: 0
        },
        "no pool before the thread's first submission"
    );
}

/// With one unbounded worker, a splice from an empty pipe (which blocks in
/// a worker) holds
/// it, and a second read of the same ring, of a socket that already holds
/// data, waits in the pool's queue. The scope's end must cancel both: the
/// running one by interrupting its worker, the queued one by taking it out
/// of the queue. It finishes within the bound; neither buffer is written,
/// the socket keeps its bytes, what is written to the pipe afterwards is
/// still there, and the ring holds no completion after the scope.
#[test]
fn one_worker_held_by_a_blocked_splice_and_one_queued_read_both_end_with_the_scope() {
    let _serial = serial();
    let _watch = watchdog();
    if !require_kernel(5, 15, "IORING_REGISTER_IOWQ_MAX_WORKERS") {
        return;
    }
    std::thread::spawn(|| {
        let mut ring = Ring::new(8).unwrap();
        let one = IoWqWorkers {
            bounded: 1,
            unbounded: 1,
        };
        ring.set_iowq_max_workers(one).unwrap();
        assert_eq!(ring.iowq_max_workers().unwrap(), one);
        let (empty, empty_w) = pipe();
        let (sink_r, sink) = pipe();
        let (mut feed, src) = UnixStream::pair().unwrap();
        feed.write_all(b"queued!!").unwrap();
        let mut queued = [0x5au8; 8];
        let tid = gettid();
        let started = Instant::now();
        let seen = ring.scope(|s| {
            s.push(Splice::new(&sink, &empty, 16).user_data(1)).unwrap();
            s.submit().unwrap();
            wait_for_blocked_workers(tid, 1);
            s.push(
                Read::new(&src, &mut queued[..])
                    .flags(SqeFlags::ASYNC)
                    .user_data(2),
            )
            .unwrap();
            s.submit().unwrap();
            let _ = s.wait_timeout(1, Duration::from_millis(100));
            let seen: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
            assert_eq!(
                blocked_workers_of(tid).len(),
                1,
                "a second worker past the limit"
            );
            seen
        });
        assert!(
            started.elapsed() < PATIENCE,
            "the scope took {:?}",
            started.elapsed()
        );
        assert!(seen.is_empty(), "an op ran past the limit: {seen:?}");
        assert_eq!(queued, [0x5a; 8], "the cancelled queued read wrote");
        src.set_nonblocking(true).unwrap();
        let mut left = [0u8; 16];
        let n = (&src).read(&mut left).expect("the bytes are still there");
        assert_eq!(&left[..n], b"queued!!", "the queued read consumed data");
        std::fs::File::from(empty_w).write_all(b"late").unwrap();
        let mut pipe_left = [0u8; 4];
        std::fs::File::from(empty)
            .read_exact(&mut pipe_left)
            .unwrap();
        assert_eq!(&pipe_left, b"late", "the cancelled splice consumed data");
        drop(sink);
        let mut spliced = Vec::new();
        std::fs::File::from(sink_r)
            .read_to_end(&mut spliced)
            .unwrap();
        assert!(spliced.is_empty(), "the cancelled splice moved {spliced:?}");
        std::thread::sleep(Duration::from_millis(20));
        assert!(drain(&mut ring).is_empty(), "a completion after the scope");
        // The limit stays, and the pool runs new work.
        assert_eq!(ring.iowq_max_workers().unwrap(), one);
        ring.push(Nop::new().flags(SqeFlags::ASYNC).user_data(3))
            .unwrap();
        assert_eq!(reap(&mut ring, 1), [(3, 0)]);
    })
    .join()
    .expect("no panic on the ring's thread");
}

// ---------------------------------------------------------------------
// create_many
// ---------------------------------------------------------------------

/// The owner of a `create_many` set dropped while the attached ring's read
/// blocks in the pool: the read is not disturbed (the pool is the thread's,
/// not the owner's), completes once with the bytes fed to it, and the
/// attached ring keeps working. The owner's descriptor is closed.
#[test]
fn dropping_the_owner_while_the_attached_ring_blocks_in_the_pool_loses_nothing() {
    let _serial = serial();
    let _watch = watchdog();
    std::thread::spawn(|| {
        let mut rings = match Ring::create_many(2, 8, 1, &Builder::new()) {
            Ok(rings) => rings,
            Err(e) => return skip(format_args!("create_many: {e}")),
        };
        let mut attached = rings.pop().unwrap();
        let owner = rings.pop().unwrap();
        let owner_fd = owner.as_raw_fd();
        assert_eq!(attached.attached_wq(), Some(owner_fd));
        let (empty, empty_w) = pipe();
        let (sink_r, sink) = pipe();
        let tid = gettid();
        let cqe = attached.scope(|s| {
            s.push(Splice::new(&sink, &empty, 16).user_data(1)).unwrap();
            s.submit().unwrap();
            wait_for_blocked_workers(tid, 1);
            drop(owner);
            assert_ne!(
                fd_target(owner_fd).as_deref(),
                Some("anon_inode:[io_uring]"),
                "the owner's descriptor is still open"
            );
            std::thread::sleep(Duration::from_millis(20));
            assert!(s.completions().next().is_none(), "the read ended early");
            std::fs::File::from(empty_w.try_clone().unwrap())
                .write_all(b"released")
                .unwrap();
            let cqe = uring_tests::next_scope_cqe(s);
            (cqe.user_data(), cqe.res())
        });
        assert_eq!(cqe, (1, 8));
        let mut out = [0u8; 8];
        std::fs::File::from(sink_r).read_exact(&mut out).unwrap();
        assert_eq!(&out, b"released");
        attached
            .push(Nop::new().flags(SqeFlags::ASYNC).user_data(2))
            .unwrap();
        assert_eq!(reap(&mut attached, 1), [(2, 0)]);
        std::thread::sleep(Duration::from_millis(20));
        assert!(drain(&mut attached).is_empty());
    })
    .join()
    .expect("no panic on the rings' thread");
}

/// A `create_many` that runs out of descriptors half way (the soft
/// `RLIMIT_NOFILE` leaves room for two rings of four) fails with `EMFILE`
/// as a value and closes the rings it had made: the process has the same
/// descriptors open afterwards. With the limit restored, the same call
/// makes all four.
#[test]
fn a_create_many_out_of_descriptors_half_way_closes_every_ring_it_made() {
    let _serial = serial();
    let _watch = watchdog();
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into `old`.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut old) }, 0);
    let before = open_fds();
    // The third free number: two descriptors fit below it.
    let mut free = (0..).filter(|n| before.binary_search(n).is_err());
    let limit = free.nth(2).unwrap();
    let low = libc::rlimit {
        rlim_cur: limit as u64,
        rlim_max: old.rlim_max,
    };
    // SAFETY: setrlimit reads one rlimit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &low) }, 0);
    let made = Ring::create_many(4, 4, 1, &Builder::new());
    let during = open_fds();
    // SAFETY: setrlimit reads one rlimit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &old) }, 0);
    let Err(err) = made else {
        panic!("four rings in room for two");
    };
    assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");
    assert_eq!(during, before, "a failed create_many left descriptors open");
    let rings = Ring::create_many(4, 4, 1, &Builder::new()).unwrap();
    assert_eq!(rings.len(), 4);
    drop(rings);
    assert_eq!(open_fds(), before);
}

// ---------------------------------------------------------------------
// Affinity
// ---------------------------------------------------------------------

/// On a thread of its own (a pool without workers yet): sets the worker
/// affinity to `cpus`, runs a splice of an empty pipe (which blocks in a
/// worker), and returns the new worker's `Cpus_allowed_list` once the
/// splice has completed with the bytes fed to it.
fn fresh_worker_cpus(cpus: &'static [usize]) -> String {
    std::thread::spawn(move || {
        let mut ring = Ring::new(4).unwrap();
        ring.set_iowq_affinity(cpus).unwrap();
        let tid = gettid();
        let (empty, empty_w) = pipe();
        let (sink_r, sink) = pipe();
        let seen = ring.scope(|s| {
            s.push(Splice::new(&sink, &empty, 16).user_data(1)).unwrap();
            s.submit().unwrap();
            let workers = wait_for_blocked_workers(tid, 1);
            std::fs::File::from(empty_w.try_clone().unwrap())
                .write_all(b"done")
                .unwrap();
            let cqe = uring_tests::next_scope_cqe(s);
            assert_eq!((cqe.user_data(), cqe.res()), (1, 4), "{cpus:?}");
            workers[0].1.clone()
        });
        let mut out = [0u8; 4];
        std::fs::File::from(sink_r).read_exact(&mut out).unwrap();
        assert_eq!(&out, b"done");
        ring.clear_iowq_affinity().unwrap();
        std::thread::sleep(Duration::from_millis(10));
        assert!(drain(&mut ring).is_empty());
        seen
    })
    .join()
    .expect("no panic on the ring's thread")
}

/// `set_iowq_affinity` refuses a CPU past `CPU_SETSIZE` itself
/// (`InvalidArgument`). The kernel takes any set within it
/// (`io_wq_cpu_affinity` copies the mask): a CPU this machine lacks, or no
/// CPU at all, is accepted, and stops no work: the new worker, whose
/// `set_cpus_allowed_ptr` to that mask fails, keeps the CPUs it inherited,
/// and its splice completes. A set of CPU 0 binds the new worker there.
/// From a thread without a pool, affinity is refused (`EINVAL`), and the
/// ring still works.
#[test]
fn worker_affinity_out_of_range_absent_and_without_a_pool() {
    let _serial = serial();
    let _watch = watchdog();
    if !require_kernel(5, 14, "IORING_REGISTER_IOWQ_AFF") {
        return;
    }
    let ring = std::thread::spawn(|| {
        let mut ring = Ring::new(4).unwrap();
        for cpu in [libc::CPU_SETSIZE as usize, usize::MAX] {
            match ring.set_iowq_affinity(&[0, cpu]) {
                Err(Error::InvalidArgument(_)) => {}
                other => panic!("CPU {cpu}: {other:?}"),
            }
        }
        ring
    })
    .join()
    .expect("no panic on the ring's thread");
    let inherited = fresh_worker_cpus(&[]);
    assert!(!inherited.is_empty());
    assert_eq!(
        fresh_worker_cpus(&[libc::CPU_SETSIZE as usize - 1]),
        inherited
    );
    assert_eq!(fresh_worker_cpus(&[0]), "0", "the worker's CPUs");
    std::thread::spawn(move || {
        let mut ring = ring;
        assert_eq!(errno(&ring.set_iowq_affinity(&[0])), Some(libc::EINVAL));
        assert_eq!(errno(&ring.clear_iowq_affinity()), Some(libc::EINVAL));
        ring.push(Nop::new().user_data(2)).unwrap();
        assert_eq!(reap(&mut ring, 1), [(2, 0)]);
    })
    .join()
    .expect("no panic on the second thread");
}

// ---------------------------------------------------------------------
// Eventfds and NAPI
// ---------------------------------------------------------------------

/// `set_cq_eventfd(false)` with no eventfd registered sets the CQ flag all
/// the same, and `io_eventfd_signal` reads that flag at each signal: an
/// eventfd registered afterwards is not signalled until the flag is
/// cleared, and `cq_eventfd_enabled` says so throughout.
#[test]
fn the_eventfd_switch_turned_off_before_registration_holds_for_the_new_eventfd() {
    let _serial = serial();
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    assert_eq!(errno(&ring.unregister_eventfd()), Some(libc::ENXIO));
    ring.set_cq_eventfd(false).unwrap();
    assert!(!ring.cq_eventfd_enabled());
    let efd = eventfd();
    ring.register_eventfd(efd.as_fd(), false).unwrap();
    assert!(!ring.cq_eventfd_enabled(), "registering cleared the switch");
    ring.push(Nop::new().user_data(1)).unwrap();
    assert_eq!(reap(&mut ring, 1), [(1, 0)]);
    assert_eq!(take_count(&efd), 0, "signalled while switched off");
    ring.set_cq_eventfd(true).unwrap();
    ring.push(Nop::new().user_data(2)).unwrap();
    assert_eq!(reap(&mut ring, 1), [(2, 0)]);
    assert!(take_count(&efd) >= 1, "not signalled once switched on");
    ring.unregister_eventfd().unwrap();
    assert_eq!(errno(&ring.unregister_eventfd()), Some(libc::ENXIO));
}

/// NAPI busy polling of extreme lengths on a ring that touches no socket:
/// `Duration::MAX` is sent as `u32::MAX` microseconds and read back capped
/// (10 ms on 6.18); a length under a microsecond is sent, and read back,
/// as 0. Dynamic tracking with no socket tracked never spins: a wait that
/// times out after 20 ms returns within a second, whatever the busy-poll
/// length. Unregistering twice is no error.
#[test]
fn napi_lengths_past_the_cap_and_under_a_microsecond_on_a_ring_without_sockets() {
    let _serial = serial();
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    let before = match ring.register_napi(Duration::MAX, true) {
        Ok(before) => before,
        Err(e) => return skip(format_args!("register_napi: {e}")),
    };
    assert_eq!(before, (Duration::ZERO, false));
    let kept = ring
        .register_napi_with(NapiSettings {
            busy_poll: Duration::from_nanos(999),
            prefer_busy_poll: false,
            tracking: NapiTracking::Dynamic,
        })
        .unwrap();
    assert!(kept.prefer_busy_poll);
    assert_eq!(kept.tracking, NapiTracking::Dynamic);
    assert!(
        kept.busy_poll > Duration::ZERO && kept.busy_poll <= Duration::from_millis(10),
        "busy poll kept: {:?}",
        kept.busy_poll
    );
    let started = Instant::now();
    let waited = ring.submit_and_wait_timeout(1, Duration::from_millis(20));
    assert!(matches!(waited, Err(Error::TimedOut)), "{waited:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
    let (sub_micro, _) = ring.register_napi(kept.busy_poll, true).unwrap();
    assert_eq!(sub_micro, Duration::ZERO, "999 ns were kept as");
    let started = Instant::now();
    let waited = ring.submit_and_wait_timeout(1, Duration::from_millis(20));
    assert!(matches!(waited, Err(Error::TimedOut)), "{waited:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
    ring.push(Nop::new().user_data(1)).unwrap();
    assert_eq!(reap(&mut ring, 1), [(1, 0)]);
    ring.unregister_napi().unwrap();
    ring.unregister_napi().unwrap();
    assert_eq!(
        ring.register_napi(Duration::from_micros(1), false).unwrap(),
        (Duration::ZERO, false)
    );
}

// ---------------------------------------------------------------------
// Single issuer
// ---------------------------------------------------------------------

/// A `single_issuer` ring moved to a second thread: `__io_uring_register`
/// refuses every registration of this area from it with `EEXIST` (eventfds
/// both ways, unregistering, worker limits, affinity, NAPI), each as a
/// value. `set_cq_eventfd` writes the CQ ring's flag word, no call, and
/// works from there. Back on its thread, none of the refused calls has left
/// anything behind: the eventfd registers (not `EBUSY`), the limits and
/// NAPI settings are the ones set before, and a completion signals the
/// eventfd once.
#[test]
fn a_single_issuer_ring_refuses_every_pool_and_wake_registration_from_another_thread() {
    let _serial = serial();
    let _watch = watchdog();
    if !require_kernel(6, 0, "IORING_SETUP_SINGLE_ISSUER") {
        return;
    }
    let mut ring = Builder::new().single_issuer().build(4).unwrap();
    let limits = IoWqWorkers {
        bounded: 4,
        unbounded: 6,
    };
    ring.set_iowq_max_workers(limits).unwrap();
    let napi = ring.register_napi(Duration::from_micros(30), false).is_ok();
    let efd = eventfd();
    let efd2 = efd.try_clone().unwrap();
    let mut ring = std::thread::spawn(move || {
        let mut ring = ring;
        let calls: Vec<(&str, Option<i32>)> = vec![
            (
                "register_eventfd",
                errno(&ring.register_eventfd(efd2.as_fd(), false)),
            ),
            (
                "register_eventfd async",
                errno(&ring.register_eventfd(efd2.as_fd(), true)),
            ),
            ("unregister_eventfd", errno(&ring.unregister_eventfd())),
            (
                "set_iowq_max_workers",
                errno(&ring.set_iowq_max_workers(IoWqWorkers {
                    bounded: 1,
                    unbounded: 1,
                })),
            ),
            ("iowq_max_workers", errno(&ring.iowq_max_workers())),
            ("set_iowq_affinity", errno(&ring.set_iowq_affinity(&[0]))),
            ("clear_iowq_affinity", errno(&ring.clear_iowq_affinity())),
            (
                "register_napi",
                errno(&ring.register_napi(Duration::from_micros(99), true)),
            ),
            (
                "register_napi_with",
                errno(&ring.register_napi_with(NapiSettings {
                    busy_poll: Duration::from_micros(99),
                    prefer_busy_poll: true,
                    tracking: NapiTracking::Static,
                })),
            ),
            ("unregister_napi", errno(&ring.unregister_napi())),
        ];
        for (name, got) in calls {
            assert_eq!(got, Some(libc::EEXIST), "{name} from a second thread");
        }
        ring.set_cq_eventfd(false).unwrap();
        assert!(!ring.cq_eventfd_enabled());
        ring.set_cq_eventfd(true).unwrap();
        ring
    })
    .join()
    .expect("no panic on the second thread");
    assert_eq!(ring.iowq_max_workers().unwrap(), limits);
    if napi {
        assert_eq!(
            ring.register_napi(Duration::from_micros(30), false)
                .unwrap(),
            (Duration::from_micros(30), false),
            "a refused NAPI call changed the settings"
        );
        ring.unregister_napi().unwrap();
    }
    ring.register_eventfd(efd.as_fd(), false).unwrap();
    ring.push(Nop::new().user_data(1)).unwrap();
    assert_eq!(reap(&mut ring, 1), [(1, 0)]);
    assert_eq!(take_count(&efd), 1);
    ring.unregister_eventfd().unwrap();
}
