//! Ring setup and the `Builder`, attacked where the existing suites
//! (`setup.rs`, `attacks_setup_register.rs`,
//! `attacks_setup_sharing_source_audit.rs`, `liburing_cases_setup.rs`,
//! `bad_input*.rs`, `faults.rs`) each stop short: option combinations the
//! kernel refuses that the builder lets through; a ring without a
//! descriptor whose setup fails after the kernel registered it; what a
//! refused setup leaves behind (descriptors, mappings), with the library's
//! own memory and without; setup at `RLIMIT_NOFILE` and `RLIMIT_MEMLOCK`
//! (in a child process); an SQ thread bound to a CPU outside its creator's
//! affinity; a disabled SQPOLL ring whose SQEs were published before
//! `enable`; the largest ring of every entry size in exactly the memory
//! counted for it; `create_many` at absurd counts; the probe of rings of
//! every kind.
//!
//! Read against Linux 6.18: `io_uring/io_uring.c`
//! (`io_uring_sanitise_params`, which refuses SQPOLL with
//! `COOP_TASKRUN` / `TASKRUN_FLAG` / `DEFER_TASKRUN`;
//! `io_uring_fill_params`; `io_uring_create`, which registers the ring of a
//! `REGISTERED_FD_ONLY` setup as its very last step;
//! `io_allocate_scq_urings` and `rings_size`, which refuses a mixed CQ of
//! fewer than two entries), `io_uring/sqpoll.c` (`io_sq_offload_create`:
//! `SQ_AFF` checks the CPU against `cpuset_cpus_allowed`, not the caller's
//! scheduler affinity; `io_attach_sq_data`; `__io_sq_thread`, which takes
//! nothing from a ring still `R_DISABLED`), `io_uring/register.c`
//! (`io_register_enable_rings`, `io_ring_add_registered_file`) and
//! `io_uring/memmap.c` (`io_create_region`, which accounts the ring's pages
//! to `RLIMIT_MEMLOCK`).
//!
//! Every test is safe code against the running kernel (the child-process
//! tests change limits and credentials through `libc`) and checks what the
//! kernel did.

use std::collections::HashSet;
use std::os::fd::{AsRawFd, RawFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use uring::ops::Nop;
use uring::sys::fault::{self, Call};
use uring::{
    Builder, Cqe16, Cqe32, CqeMixed, CqeSize, Error, PushErrorKind, Ring, RingRegion, Sqe64,
    Sqe128, SqeSize,
};
use uring_tests::{require_kernel, require_sqpoll, skip};

// ---------------------------------------------------------------------------
// Helpers

/// The environment variable naming the test whose body a child process of
/// this binary runs.
const CHILD: &str = "URING_SETUP_GAPS_CHILD";

/// In the test process: runs `test` again alone in a child process, asserts
/// that it passed within the watchdog's bound (killing it otherwise), and
/// returns `false`. In that child: returns `true`, and the caller runs the
/// body. The child starts no watchdog thread of its own: a thread that
/// starts while the body counts mappings adds its own (its signal stack,
/// a malloc arena), which would pass for a leak.
fn body_in_child(test: &str) -> bool {
    if std::env::var_os(CHILD).is_some_and(|name| name == test) {
        return true;
    }
    let _watch = uring_tests::watchdog();
    let exe = std::env::current_exe().expect("the test binary");
    let out = tempfile::tempfile().expect("a file for the child's stdout");
    let err = tempfile::tempfile().expect("a file for the child's stderr");
    let mut child = Command::new(exe)
        .args([
            "--exact",
            test,
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env(CHILD, test)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(err.try_clone().unwrap())
        .spawn()
        .expect("start a child process of the test binary");
    let bound = uring_tests::watchdog_bound().saturating_sub(Duration::from_secs(5));
    let deadline = Instant::now() + bound;
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child's status") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{test} in a child process: still running after {bound:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let read = |mut f: std::fs::File| {
        use std::io::{Read as _, Seek as _};
        let mut text = String::new();
        f.rewind().unwrap();
        f.read_to_string(&mut text).unwrap();
        text
    };
    let (stdout, stderr) = (read(out), read(err));
    for line in stderr.lines().filter(|l| l.starts_with("skipped:")) {
        eprintln!("{line}");
    }
    assert!(
        status.success() && stdout.contains("1 passed"),
        "{test} in a child process: {status}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    false
}

/// The lowest descriptor number not open, found without opening one (so
/// that it works at `RLIMIT_NOFILE` too).
fn lowest_free_fd() -> RawFd {
    (0..)
        .find(|&fd| !uring_tests::fd_is_open(fd))
        .expect("a free descriptor")
}

/// The descriptors open, by number.
fn open_fds() -> HashSet<RawFd> {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// The lines of `/proc/self/maps`, each once: the file is read in several
/// calls, and a line can come twice when the kernel's walk resumes.
fn maps() -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines.sort_unstable();
    lines.dedup();
    lines
}

/// What a process holds that a setup could leak: the lowest free
/// descriptor, and the number of mappings.
fn holdings() -> (RawFd, usize) {
    (lowest_free_fd(), maps().len())
}

/// The errno of an error from the kernel; `None` for the library's own.
fn os_errno(e: &Error) -> Option<i32> {
    match e {
        Error::Os { source, .. } => source.raw_os_error(),
        _ => None,
    }
}

/// `(user_data, res)` of every completion of `ring` until `n` have come
/// (each wait bounded), then of whatever else comes within 20 ms.
fn reap<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>, n: usize) -> Vec<(u64, i32)> {
    let mut got = Vec::new();
    let deadline = Instant::now() + uring_tests::PATIENCE;
    while got.len() < n {
        assert!(Instant::now() < deadline, "only {got:?} of {n} came");
        let _ = ring.submit_and_wait_timeout(1, Duration::from_millis(50));
        for cqe in ring.completions() {
            let cqe = cqe.as_ref();
            got.push((cqe.user_data(), cqe.res()));
        }
    }
    std::thread::sleep(Duration::from_millis(20));
    for cqe in ring.completions() {
        let cqe = cqe.as_ref();
        got.push((cqe.user_data(), cqe.res()));
    }
    got.sort_unstable();
    got
}

/// Runs NOPs `first..first + n` through `ring` and checks each completes
/// once with 0.
fn nops<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>, first: u64, n: u64) {
    for ud in first..first + n {
        ring.push(Nop::new().user_data(ud)).expect("room for a NOP");
    }
    let got = reap(ring, n as usize);
    let want: Vec<(u64, i32)> = (first..first + n).map(|ud| (ud, 0)).collect();
    assert_eq!(got, want);
}

// ---------------------------------------------------------------------------
// Combinations the kernel refuses

/// The builder's documentation: "Options the kernel would reject in
/// combination are rejected here first, with an `Error::Setup` that says
/// why." Linux refuses SQPOLL with `COOP_TASKRUN` or `TASKRUN_FLAG`
/// (`io_uring_sanitise_params`: "IPI related flags don't make sense with
/// SQPOLL"), and a mixed CQ of one entry (`rings_size`: a 32-byte CQE
/// needs two slots). The builder once checked `defer_taskrun` with
/// `sqpoll` but not these, and the kernel's bare `EINVAL` / `EOVERFLOW`
/// came back from `io_uring_setup`, naming no option. (The setup fails all
/// the same, leaving nothing behind:
/// `refusals_leave_no_descriptor_and_no_mapping`.)
#[test]
fn every_combination_the_kernel_refuses_is_a_setup_error_naming_it() {
    let _watch = uring_tests::watchdog();
    if !require_sqpoll() {
        return;
    }
    let idle = Duration::from_millis(10);
    let cases: [(&str, Builder<'static>); 3] = [
        (
            "sqpoll + coop_taskrun",
            Builder::new().sqpoll(idle).coop_taskrun(),
        ),
        (
            "sqpoll + coop_taskrun + taskrun_flag",
            Builder::new().sqpoll(idle).coop_taskrun().taskrun_flag(),
        ),
        (
            "sqpoll + coop_taskrun, in library memory",
            Builder::new().sqpoll(idle).coop_taskrun().no_mmap(),
        ),
    ];
    let mut wrong = Vec::new();
    for (what, builder) in cases {
        match builder.build(4) {
            Err(Error::Setup(_)) => {}
            Err(e) => wrong.push(format!("{what}: {e:?}")),
            Ok(_) => panic!("{what}: the kernel took it"),
        }
    }
    if require_kernel(6, 18, "IORING_SETUP_CQE_MIXED") {
        match Builder::new()
            .cq_entries(1)
            .build_sized::<Sqe64, CqeMixed>(1)
        {
            Err(Error::Setup(_)) => {}
            Err(e) => wrong.push(format!("a mixed CQ of 1 entry: {e:?}")),
            Ok(_) => panic!("a mixed CQ of 1 entry was made"),
        }
    }
    assert!(
        wrong.is_empty(),
        "refused by the kernel, not by the builder:\n{}",
        wrong.join("\n")
    );
}

/// What the kernel answers to the combinations above (so that the defect
/// test cannot pass by the kernel changing its mind): SQPOLL with
/// cooperative task work is `EINVAL`, a mixed CQ of one entry
/// `EOVERFLOW`; two entries is the smallest mixed CQ, and a 32-byte NOP
/// fits it.
#[test]
fn the_kernel_refuses_sqpoll_with_coop_taskrun_and_a_one_entry_mixed_cq() {
    let _watch = uring_tests::watchdog();
    if require_sqpoll() {
        let idle = Duration::from_millis(10);
        for builder in [
            Builder::new().sqpoll(idle).coop_taskrun(),
            Builder::new().sqpoll(idle).coop_taskrun().taskrun_flag(),
        ] {
            let e = builder.build(4).expect_err("SQPOLL with COOP_TASKRUN");
            assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e:?}");
        }
    }
    if !require_kernel(6, 18, "IORING_SETUP_CQE_MIXED") {
        return;
    }
    let e = Builder::new()
        .cq_entries(1)
        .build_sized::<Sqe64, CqeMixed>(1)
        .expect_err("a mixed CQ of 1");
    assert!(
        matches!(e.raw_os_error(), Some(libc::EOVERFLOW | libc::EINVAL)),
        "{e:?}"
    );
    let mut ring = Builder::new()
        .cq_entries(2)
        .build_sized::<Sqe64, CqeMixed>(1)
        .expect("a mixed CQ of 2");
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (1, 2));
    ring.push(Nop::new().user_data(7).big_cqe([1, 2])).unwrap();
    // A wait for both slots is refused (`EBUSY`): the big completion is
    // one completion.
    ring.submit_and_wait(1).unwrap();
    let cqe = ring.completions().next().expect("the big NOP");
    assert_eq!((cqe.user_data(), cqe.res()), (7, 0));
    assert_eq!(cqe.big_cqe(), [1, 2]);
}

// ---------------------------------------------------------------------------
// A ring without a descriptor whose setup fails late

/// A `registered_fd_only` ring's only name is the index the kernel put in
/// the thread's registered-ring table (16 slots) as the last step of
/// `io_uring_create`. When the library's own setup fails after that (the
/// mapping of the ring-owned timespecs, here `ENOMEM`), the setup returns
/// the error and must unregister the index (it once dropped it: the
/// kernel ring lived on, pinned memory and all, until the thread exited,
/// and the thread had one slot fewer). Sixteen rings still fit.
#[test]
fn a_descriptorless_ring_whose_setup_fails_late_gives_its_index_back() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 5, "IORING_SETUP_REGISTERED_FD_ONLY") {
        return;
    }
    std::thread::spawn(|| {
        let only = Builder::new().registered_fd_only();
        // How many mappings a setup makes before the timespecs: the rings
        // and the SQEs.
        fault::reset();
        drop(only.build(4).expect("a ring without a descriptor"));
        let before_timespecs = fault::counts(Call::Mmap).made - 1;
        assert_eq!(before_timespecs, 2, "the rings and the SQEs");
        fault::reset();
        fault::fail_after(Call::Mmap, before_timespecs as u32, 1, libc::ENOMEM);
        let e = only.build(4).expect_err("the timespecs cannot be mapped");
        assert_eq!(os_errno(&e), Some(libc::ENOMEM), "{e:?}");
        assert_eq!(fault::counts(Call::Setup).made, 1, "the kernel made it");
        fault::reset();
        let mut rings = Vec::new();
        for i in 0..16 {
            match only.build(4) {
                Ok(ring) => rings.push(ring),
                Err(e) => panic!("ring {i} of 16 of an emptied table: {e:?}"),
            }
        }
        for (i, ring) in rings.iter_mut().enumerate() {
            nops(ring, 10 * i as u64, 1);
        }
    })
    .join()
    .expect("no panic on the ring's thread");
}

// ---------------------------------------------------------------------------
// What a refused setup leaves behind

/// Every refusal, by the builder or by the kernel, with the library's own
/// ring memory (`no_mmap`, `registered_fd_only`) or the kernel's, comes
/// back as an error value, and leaves no descriptor and no mapping behind:
/// memory allocated for the rings before `io_uring_setup` is unmapped when
/// the kernel refuses. Also refused: an SQPOLL ring attached to a ring
/// without an SQ thread (`io_attach_sq_data`: `EINVAL`), and attaching to a
/// ring whose descriptor was closed (`close_ring_fd`: no descriptor to
/// name, `ENXIO` or `EBADF`). Measured in a child process, where nothing
/// else maps or opens anything meanwhile; each case runs once first, so
/// that one-time allocations do not count.
#[test]
fn refusals_leave_no_descriptor_and_no_mapping() {
    // The watchdog is the parent's (see `body_in_child`).
    if !body_in_child("refusals_leave_no_descriptor_and_no_mapping") {
        return;
    }
    let sqpoll = require_sqpoll();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    // SAFETY: sysconf takes a constant.
    let configured = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) } as u32;
    let past = configured.max(cpus);
    let idle = Duration::from_millis(10);
    let plain = Ring::new(4).unwrap();
    let mut closed = Ring::new(4).unwrap();
    let have_closed = closed.register_ring_fd().is_ok() && closed.close_ring_fd().is_ok();
    type Case<'a> = (&'static str, Box<dyn Fn() -> uring::Result<()> + 'a>);
    let build = |b: Builder<'static>, entries: u32| move || b.build(entries).map(drop);
    let mut cases: Vec<Case<'_>> = vec![
        ("0 entries", Box::new(build(Builder::new(), 0))),
        (
            "a CQ smaller than the SQ, in library memory",
            Box::new(build(Builder::new().no_mmap().cq_entries(4), 8)),
        ),
        (
            "sq_thread_cpu without sqpoll, without a descriptor",
            Box::new(build(
                Builder::new().registered_fd_only().sq_thread_cpu(0),
                4,
            )),
        ),
        (
            "huge pages the system may not have",
            Box::new(build(Builder::new().no_mmap_huge_pages(), 4)),
        ),
    ];
    if sqpoll {
        cases.extend::<[Case<'_>; 6]>([
            (
                "an SQ thread on a CPU past the last",
                Box::new(build(Builder::new().sqpoll(idle).sq_thread_cpu(past), 4)),
            ),
            (
                "an SQ thread on a CPU past the last, in library memory",
                Box::new(build(
                    Builder::new().sqpoll(idle).sq_thread_cpu(past).no_mmap(),
                    64,
                )),
            ),
            (
                "SQPOLL with coop_taskrun, without a descriptor",
                Box::new(build(
                    Builder::new()
                        .sqpoll(idle)
                        .coop_taskrun()
                        .registered_fd_only(),
                    4,
                )),
            ),
            (
                "SQPOLL with coop_taskrun, in library memory",
                Box::new(build(
                    Builder::new().sqpoll(idle).coop_taskrun().no_mmap(),
                    4,
                )),
            ),
            (
                "an SQPOLL ring attached to a ring without an SQ thread",
                Box::new(|| {
                    Builder::new()
                        .sqpoll(idle)
                        .no_mmap()
                        .attach_wq(&plain)
                        .build(4)
                        .map(drop)
                }),
            ),
            (
                "create_many of SQPOLL rings with coop_taskrun",
                Box::new(|| {
                    Ring::create_many(4, 4, 2, &Builder::new().sqpoll(idle).coop_taskrun())
                        .map(drop)
                }),
            ),
        ]);
    }
    if have_closed {
        cases.push((
            "attached to a ring whose descriptor was closed",
            Box::new(|| Builder::new().attach_wq(&closed).build(4).map(drop)),
        ));
        cases.push((
            "attached to a ring whose descriptor was closed, in library memory",
            Box::new(|| {
                Builder::new()
                    .no_mmap()
                    .attach_wq(&closed)
                    .build(4)
                    .map(drop)
            }),
        ));
    }
    if require_kernel(6, 18, "IORING_SETUP_CQE_MIXED") {
        cases.push((
            "a mixed CQ of one entry, in library memory",
            Box::new(|| {
                Builder::new()
                    .no_mmap()
                    .cq_entries(1)
                    .build_sized::<Sqe64, CqeMixed>(1)
                    .map(drop)
            }),
        ));
    }
    for (what, case) in &cases {
        let first = case();
        let before = holdings();
        let fds = open_fds();
        let again = case();
        let after = holdings();
        if what.starts_with("huge pages") && first.is_ok() {
            // The system has huge pages: the ring was made and dropped.
            assert!(again.is_ok(), "{what}: {again:?}");
        } else {
            let e = again.expect_err(what);
            assert!(e.raw_os_error().is_some(), "{what}: {e:?}");
            assert!(first.is_err(), "{what}: {first:?}");
        }
        assert_eq!(after, before, "{what}: descriptors or mappings left");
        assert_eq!(open_fds(), fds, "{what}: descriptors left");
    }
}

// ---------------------------------------------------------------------------
// Resource limits (child processes)

/// The soft `RLIMIT_NOFILE` set to `n`, the hard one kept.
fn set_nofile(n: libc::rlim_t) -> libc::rlimit {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes `old`.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut old) }, 0);
    let lim = libc::rlimit {
        rlim_cur: n,
        rlim_max: old.rlim_max,
    };
    // SAFETY: setrlimit reads `lim`.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    old
}

/// At `RLIMIT_NOFILE`: `Ring::new` fails with `EMFILE`, but a ring without
/// a descriptor (`registered_fd_only`) needs none and is made, and runs.
/// A `create_many` that runs out of descriptors half-way (after its two
/// owners) fails with `EMFILE` and closes and unmaps the rings it made.
#[test]
fn setup_at_the_descriptor_limit() {
    // The watchdog is the parent's (see `body_in_child`).
    if !body_in_child("setup_at_the_descriptor_limit") {
        return;
    }
    // Warm up what is allocated once.
    drop(Ring::create_many(4, 4, 2, &Builder::new()).unwrap());
    let (free, mappings) = holdings();
    let old = set_nofile(free as libc::rlim_t);
    let e = Ring::new(4).expect_err("no descriptor left");
    assert_eq!(os_errno(&e), Some(libc::EMFILE), "{e:?}");
    if require_kernel(6, 5, "IORING_SETUP_REGISTERED_FD_ONLY") {
        let mut ring = Builder::new()
            .registered_fd_only()
            .build(4)
            .expect("a ring that needs no descriptor");
        assert_eq!(ring.as_raw_fd(), -1);
        nops(&mut ring, 1, 3);
        drop(ring);
    }
    set_nofile(free as libc::rlim_t + 2);
    let e = Ring::create_many(4, 4, 2, &Builder::new()).expect_err("two descriptors for four");
    assert_eq!(os_errno(&e), Some(libc::EMFILE), "{e:?}");
    assert_eq!(lowest_free_fd(), free);
    set_nofile(old.rlim_cur);
    assert_eq!(holdings(), (free, mappings), "rings of create_many left");
    let mut rings = Ring::create_many(4, 4, 2, &Builder::new()).unwrap();
    for (i, ring) in rings.iter_mut().enumerate() {
        nops(ring, 10 * i as u64, 2);
    }
}

/// Without `CAP_IPC_LOCK`, the kernel counts the ring's pages against
/// `RLIMIT_MEMLOCK`, the library's own memory (`no_mmap`) included: at 0,
/// setup fails with `ENOMEM` and the memory the library mapped for the
/// rings is unmapped; a ring without a descriptor leaves no index behind
/// (sixteen fit once the limit allows them).
#[test]
fn setup_in_library_memory_at_the_memlock_limit() {
    // The watchdog is the parent's (see `body_in_child`).
    if !body_in_child("setup_in_library_memory_at_the_memlock_limit") {
        return;
    }
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes `old`.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut old) };
    assert_eq!(rc, 0);
    if old.rlim_max < 1 << 20 {
        return skip("RLIMIT_MEMLOCK's hard limit is below 1 MiB");
    }
    let limit = |soft: libc::rlim_t| {
        let lim = libc::rlimit {
            rlim_cur: soft,
            rlim_max: old.rlim_max,
        };
        // SAFETY: setrlimit reads `lim`.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) }, 0);
    };
    limit(1 << 20);
    // SAFETY: plain calls; as root they drop to an unprivileged user (and
    // every capability), whose locked memory the kernel counts; then the
    // process is made readable in /proc again.
    unsafe {
        if libc::geteuid() == 0 {
            assert_eq!(libc::setresgid(65534, 65534, 65534), 0);
            assert_eq!(libc::setresuid(65534, 65534, 65534), 0);
        }
        assert_eq!(libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0), 0);
    }
    let fd_only = require_kernel(6, 5, "IORING_SETUP_NO_MMAP");
    let mut builders = vec![("kernel memory", Builder::new())];
    if fd_only {
        builders.push(("library memory", Builder::new().no_mmap()));
        builders.push(("no descriptor", Builder::new().registered_fd_only()));
    }
    for (what, builder) in &builders {
        drop(builder.build(64).expect(what));
    }
    limit(0);
    for (what, builder) in &builders {
        let first = builder.build(64);
        let before = holdings();
        let e = builder.build(64).expect_err(what);
        assert_eq!(os_errno(&e), Some(libc::ENOMEM), "{what}: {e:?}");
        assert!(first.is_err(), "{what}");
        assert_eq!(holdings(), before, "{what}: descriptors or mappings left");
    }
    limit(1 << 20);
    if fd_only {
        let only = Builder::new().registered_fd_only();
        let mut rings: Vec<Ring> = (0..16)
            .map(|i| only.build(4).unwrap_or_else(|e| panic!("ring {i}: {e}")))
            .collect();
        for (i, ring) in rings.iter_mut().enumerate() {
            nops(ring, 10 * i as u64, 1);
        }
    }
}

// ---------------------------------------------------------------------------
// The SQ thread's CPU

/// The `Cpus_allowed_list` of the thread `tid` of this process.
fn cpus_allowed(tid: i64) -> String {
    let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status"))
        .expect("the SQ thread's status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .expect("Cpus_allowed_list")
        .trim()
        .to_owned()
}

/// Pins the calling thread to `cpu`.
fn pin_to(cpu: usize) {
    // SAFETY: an all-zero cpu_set_t is empty; CPU_SET writes inside it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid cpu_set_t and `cpu` below CPU_SETSIZE.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: sets the calling thread's affinity from a valid set.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
    assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
}

/// `SQ_AFF` checks the CPU against the cpuset of the caller
/// (`cpuset_cpus_allowed`), not its scheduler affinity: a thread pinned to
/// CPU 0 makes an SQ thread bound to CPU 1, which runs there. Without
/// `SQ_AFF`, the SQ thread inherits its creator's affinity (it is forked
/// from it by `create_io_thread`), pin included. Neither is in the
/// builder's docs.
#[test]
fn an_sq_thread_may_be_bound_outside_its_creator_s_affinity() {
    let _watch = uring_tests::watchdog();
    if !require_sqpoll() {
        return;
    }
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    if online.trim() != "0-1" {
        skip(format!("needs exactly CPUs 0-1 online, not {online:?}"));
        return;
    }
    let allowed_here = cpus_allowed(gettid());
    if allowed_here != "0-1" {
        skip(format!("this thread may run on {allowed_here} only"));
        return;
    }
    std::thread::spawn(|| {
        pin_to(0);
        assert_eq!(cpus_allowed(gettid()), "0");
        let idle = Duration::from_millis(50);
        let mut bound = Builder::new()
            .sqpoll(idle)
            .sq_thread_cpu(1)
            .build(4)
            .expect("an SQ thread on a CPU its creator may not use");
        nops(&mut bound, 1, 2);
        let (tid, cpu) = uring_tests::sq_thread_info(&bound);
        assert!(tid > 0);
        assert_eq!(cpu, 1, "where the SQ thread last ran");
        assert_eq!(cpus_allowed(tid), "1");
        let mut free = Builder::new().sqpoll(idle).build(4).expect("an SQ thread");
        nops(&mut free, 1, 2);
        let (tid, _) = uring_tests::sq_thread_info(&free);
        assert_eq!(cpus_allowed(tid), "0", "the creator's pin, inherited");
    })
    .join()
    .expect("no panic on the pinned thread");
}

fn gettid() -> i64 {
    // SAFETY: gettid has no preconditions.
    i64::from(unsafe { libc::gettid() })
}

// ---------------------------------------------------------------------------
// A disabled SQPOLL ring

/// An SQPOLL ring created disabled has its SQ thread from setup on, which
/// takes nothing from it until `enable` (`__io_sq_thread`). A submit there
/// publishes the SQEs; whether it says so (`Ok`) or enters to wake the
/// thread and gets `EBADFD` depends on whether the thread sleeps. Either
/// way the SQEs stay pending, a scope refuses pushes, and after `enable`
/// each runs once: none lost, none run twice, though one was "submitted"
/// twice.
#[test]
fn a_disabled_sqpoll_ring_runs_what_it_published_once_after_enable() {
    let _watch = uring_tests::watchdog();
    if !require_sqpoll() || !require_kernel(5, 10, "r_disabled") {
        return;
    }
    let mut ring = Builder::new()
        .sqpoll(Duration::from_millis(10))
        .r_disabled()
        .build(4)
        .expect("a disabled SQPOLL ring");
    ring.push(Nop::new().user_data(1)).unwrap();
    let first = ring.submit();
    assert!(
        matches!(&first, Ok(1))
            || first.as_ref().err().and_then(Error::raw_os_error) == Some(libc::EBADFD),
        "{first:?}"
    );
    // Long enough for the SQ thread to sleep and ask for a wake-up.
    std::thread::sleep(Duration::from_millis(100));
    ring.push(Nop::new().user_data(2)).unwrap();
    let second = ring.submit();
    assert!(
        matches!(&second, Ok(1 | 2))
            || second.as_ref().err().and_then(Error::raw_os_error) == Some(libc::EBADFD),
        "{second:?}"
    );
    assert_eq!(ring.pending(), 2, "nothing taken while disabled");
    assert_eq!(ring.ready(), 0);
    let refused = ring.scope(|s| s.push(Nop::new().user_data(3)).map_err(|e| e.kind()));
    assert!(
        matches!(refused, Err(PushErrorKind::Disabled)),
        "{refused:?}"
    );
    assert_eq!(ring.pending(), 2);
    ring.enable().expect("enable");
    assert_eq!(reap(&mut ring, 2), [(1, 0), (2, 0)]);
    assert_eq!(ring.pending(), 0);
    nops(&mut ring, 4, 4);
}

// ---------------------------------------------------------------------------
// The largest rings in exactly the memory counted for them

fn largest_in_exact_memory<S: SqeSize, C: CqeSize>(what: &str, builder: &Builder<'_>) {
    let size = builder
        .ring_memory_size_sized::<S, C>(32768)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let region = match RingRegion::anonymous(size) {
        Ok(r) => r,
        Err(e) => return skip(format!("{what}: {size} bytes: {e}")),
    };
    assert_eq!(region.len(), size, "{what}: a size in whole pages");
    let mut ring = builder
        .build_sized_in::<S, C>(32768, region)
        .unwrap_or_else(|e| panic!("{what}: {size} bytes: {e}"));
    assert_eq!(
        (ring.sq_entries(), ring.cq_entries()),
        (32768, 65536),
        "{what}"
    );
    // One lap of the SQ's first slots and one past its end would take
    // too long: NOPs at the start, then the ring used as usual.
    nops(&mut ring, 1, 64);
}

/// The largest ring there is (32768 SQ entries, 65536 CQ entries) of every
/// SQE and CQE size, with and without the SQ array, is made in a region of
/// exactly `ring_memory_size_sized` bytes, and runs: the count is never
/// below what the kernel uses (it would refuse the region, or write past
/// it).
#[test]
fn the_largest_rings_fit_exactly_the_memory_counted_for_them() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 5, "IORING_SETUP_NO_MMAP") {
        return;
    }
    let cq = Builder::new().cq_entries(65536);
    let no_array = Builder::new().cq_entries(65536).no_sqarray();
    largest_in_exact_memory::<Sqe64, Cqe16>("64/16", &cq);
    largest_in_exact_memory::<Sqe128, Cqe32>("128/32", &cq);
    largest_in_exact_memory::<Sqe64, Cqe32>("64/32", &no_array);
    largest_in_exact_memory::<Sqe128, Cqe16>("128/16", &no_array);
    if require_kernel(6, 18, "IORING_SETUP_CQE_MIXED") {
        largest_in_exact_memory::<Sqe128, CqeMixed>("128/mixed", &cq);
    }
    // Clamped sizes past the maxima count as the maxima.
    let clamped = Builder::new().clamp().cq_entries(u32::MAX);
    assert_eq!(
        clamped
            .ring_memory_size_sized::<Sqe128, Cqe32>(u32::MAX)
            .unwrap(),
        cq.ring_memory_size_sized::<Sqe128, Cqe32>(32768).unwrap()
    );
}

// ---------------------------------------------------------------------------
// create_many at absurd counts

/// `create_many` with counts no memory holds is an error value before any
/// ring is made, never a panic or an abort of the allocator.
#[test]
fn create_many_at_counts_no_memory_holds_is_an_error() {
    let _watch = uring_tests::watchdog();
    let free = lowest_free_fd();
    for (count, wp) in [
        (usize::MAX, 1),
        (usize::MAX, usize::MAX),
        (isize::MAX as usize, 1),
        (1 << 48, 1 << 47),
    ] {
        let r = Ring::create_many(count, 4, wp, &Builder::new());
        assert!(
            matches!(r, Err(Error::InvalidArgument(_))),
            "create_many({count}, 4, {wp}): {:?}",
            r.map(|v| v.len())
        );
    }
    assert_eq!(lowest_free_fd(), free);
    // Bad entries fail at the first ring, with the builder's error.
    let r = Ring::create_many(4, 0, 2, &Builder::new());
    assert!(
        matches!(r, Err(Error::Setup(_))),
        "{:?}",
        r.map(|v| v.len())
    );
}

// ---------------------------------------------------------------------------
// The probe of rings of every kind

/// The probe reports the kernel's ops, whatever the ring: a disabled one,
/// one without a descriptor (through its registered index), an SQPOLL
/// one, an IOPOLL one, and one of big SQEs and CQEs all answer as a plain
/// ring does, opcode for opcode.
#[test]
fn the_probe_is_the_same_on_rings_of_every_kind() {
    let _watch = uring_tests::watchdog();
    let plain = Ring::new(4).unwrap().probe().expect("probe");
    let last = plain.last_op();
    assert!(last >= 40, "the last op of a 6.x kernel: {last}");
    let ops = |p: &uring::Probe| -> Vec<bool> { (0..=255).map(|op| p.is_supported(op)).collect() };
    let want = ops(&plain);
    let mut rings: Vec<(&str, uring::Result<Ring>)> = vec![
        ("disabled", Builder::new().r_disabled().build(4)),
        ("IOPOLL", Builder::new().iopoll().build(4)),
    ];
    if require_kernel(6, 5, "IORING_SETUP_REGISTERED_FD_ONLY") {
        rings.push((
            "no descriptor",
            Builder::new().registered_fd_only().build(4),
        ));
    }
    if require_sqpoll() {
        rings.push((
            "SQPOLL",
            Builder::new().sqpoll(Duration::from_millis(10)).build(4),
        ));
    }
    for (what, ring) in rings {
        let ring = ring.unwrap_or_else(|e| panic!("{what}: {e}"));
        let probe = ring.probe().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(probe.last_op(), last, "{what}");
        assert_eq!(ops(&probe), want, "{what}");
    }
    let big = Builder::new().build_sized::<Sqe128, Cqe32>(4).unwrap();
    let probe = big.probe().expect("probe of a big ring");
    assert_eq!(ops(&probe), want, "SQE128/CQE32");
}

// ---------------------------------------------------------------------------
// NO_SQARRAY with an SQ thread

/// Without the SQ array (`no_sqarray`) the SQ thread takes SQEs in ring
/// order: over several laps of a 4-entry SQ, with chains across the wrap,
/// every NOP completes once, and each chain in order.
#[test]
fn an_sq_thread_takes_a_ring_without_an_sq_array_in_ring_order_across_wraps() {
    let _watch = uring_tests::watchdog();
    if !require_sqpoll() || !require_kernel(6, 6, "IORING_SETUP_NO_SQARRAY") {
        return;
    }
    let mut ring = Builder::new()
        .sqpoll(Duration::from_millis(10))
        .no_sqarray()
        .build(4)
        .expect("an SQPOLL ring without an SQ array");
    let mut next = 0u64;
    for lap in 0..6u64 {
        // One NOP first, so that the chain of three crosses the wrap on
        // odd laps.
        let n = if lap % 2 == 0 { 1 } else { 3 };
        for _ in 0..n {
            ring.push(Nop::new().user_data(next)).unwrap();
            next += 1;
        }
        let got = reap(&mut ring, n as usize);
        let want: Vec<(u64, i32)> = (next - n..next).map(|ud| (ud, 0)).collect();
        assert_eq!(got, want, "lap {lap}");
        let a = next;
        let chain = Nop::new()
            .user_data(a)
            .link(Nop::new().user_data(a + 1))
            .link(Nop::new().user_data(a + 2));
        ring.push(chain).unwrap();
        next += 3;
        ring.submit().unwrap();
        let deadline = Instant::now() + uring_tests::PATIENCE;
        let mut order = Vec::new();
        while order.len() < 3 {
            assert!(Instant::now() < deadline, "lap {lap}: {order:?}");
            let _ = ring.submit_and_wait_timeout(1, Duration::from_millis(50));
            order.extend(ring.completions().map(|c| (c.user_data(), c.res())));
        }
        assert_eq!(order, [(a, 0), (a + 1, 0), (a + 2, 0)], "lap {lap}");
    }
}
