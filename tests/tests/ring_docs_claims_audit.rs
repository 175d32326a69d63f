//! The rustdoc of the ring layer, claim by claim, where no other suite
//! holds the library to its word: what `Params::sq_entries`,
//! `sq_thread_cpu` and `sq_thread_idle` promise (of clamped rings,
//! attached rings and the default idle time); the io-wq pool a thread
//! makes, which `set_iowq_max_workers` describes (when a thread makes one,
//! its default limits: the smaller of the SQ's entries and four per online
//! CPU for bounded work, `RLIMIT_NPROC` for unbounded work; an SQPOLL
//! ring's pool being its SQ thread's, shared by attached rings), and a call
//! that makes one that the docs leave out (`register_ring_fd`); the idle
//! time of an SQ thread that `attach_wq` shares ("the longest idle time of
//! the rings it serves"); `create_many` handed a builder that attaches;
//! `ring_memory_size_sized`, `resize` and `resize_memory_size` at sizes a
//! mixed CQ never takes; the hand-over points of a `SubmissionQueue` given
//! to `mem::forget`; `RingRegion` lengths at the far end of `usize`.
//!
//! Read against Linux 6.18: `io_uring/io_uring.c` (`io_uring_fill_params`,
//! which clamps `entries` to `IORING_MAX_ENTRIES` before rounding up;
//! `io_uring_create`, which adds the creating task's tctx node;
//! `rings_size`, which refuses a mixed CQ of fewer than 2 entries),
//! `io_uring/tctx.c` (`io_init_wq_offload`: `concurrency =
//! min(ctx->sq_entries, 4 * num_online_cpus())`; `__io_uring_add_tctx_node`;
//! `io_ringfd_register`, which calls it before it registers the ring fd),
//! `io_uring/io-wq.c` (`io_wq_create`, whose unbounded limit is
//! `task_rlimit(current, RLIMIT_NPROC)`; `io_wq_max_workers`, which
//! reports `max_t(int, max_workers, 0)`), `io_uring/register.c`
//! (`io_register_iowq_max_workers`, which reads the SQ thread's pool on an
//! SQPOLL ring; `io_register_resize_rings`, which answers `rings_size`'s
//! refusal with `EOVERFLOW`) and `io_uring/sqpoll.c`
//! (`io_sq_offload_create` and `io_sq_thread_finish`, which both call
//! `io_sqd_update_thread_idle`, the maximum over the rings the thread
//! serves; `io_sq_thread`, which sets `IORING_SQ_NEED_WAKEUP` once that
//! idle time has passed without work).
//!
//! Every test is safe code against the running kernel and checks what the
//! kernel did.

use std::time::{Duration, Instant};

use uring::ops::Nop;
use uring::{Builder, CqeMixed, Error, IoWqWorkers, Ring, RingRegion, Sqe64};
use uring_tests::{require_kernel, require_sqpoll, skip, watchdog};

/// The online CPUs (`/sys/devices/system/cpu/online`, as the kernel's
/// `num_online_cpus()` counts them).
fn online_cpus() -> u32 {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").expect("online CPUs");
    text.trim()
        .split(',')
        .map(|part| match part.split_once('-') {
            Some((a, b)) => b.parse::<u32>().unwrap() - a.parse::<u32>().unwrap() + 1,
            None => 1,
        })
        .sum()
}

/// The soft `RLIMIT_NPROC` as the kernel reports an io-wq limit set from
/// it (`max_t(int, ..)` of the `unsigned int` it was stored in), or `None`
/// when it is unlimited or does not fit.
fn nproc_as_reported() -> Option<u32> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max processes"))?;
    let soft = line.split_whitespace().nth(2)?;
    let soft: u64 = soft.parse().ok()?;
    u32::try_from(soft).ok().filter(|&n| n <= i32::MAX as u32)
}

/// Waits (at most `bound`) until `ring`'s SQ thread sleeps; whether it did.
fn sleeps_within(ring: &Ring, bound: Duration) -> bool {
    let end = Instant::now() + bound;
    while Instant::now() < end {
        if ring.sq_needs_wakeup() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    ring.sq_needs_wakeup()
}

/// Whether `ring`'s SQ thread stays awake for all of `span`.
fn awake_throughout(ring: &Ring, span: Duration) -> bool {
    let end = Instant::now() + span;
    while Instant::now() < end {
        if ring.sq_needs_wakeup() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    !ring.sq_needs_wakeup()
}

/// Pushes a NOP with `user_data` and waits for its completion.
fn nop_round_trip(ring: &mut Ring, user_data: u64) {
    ring.push(Nop::new().user_data(user_data)).unwrap();
    ring.submit_and_wait(1).unwrap();
    let got: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(got, [(user_data, 0)]);
}

/// `Params::sq_entries`: "what was asked, rounded up to a power of two,
/// or the kernel's maximum (32768) for more with `Builder::clamp`", and
/// `build`: "with `clamp`, at most the kernel's maximum". A ring asked
/// for 40000 entries with `clamp` has 32768 (`io_uring_fill_params` cuts
/// `entries` to `IORING_MAX_ENTRIES`); one asked for 40 has 64; without
/// `clamp`, 40000 is refused.
#[test]
fn a_clamped_ring_has_the_kernel_s_maximum_of_sq_entries() {
    let _watch = watchdog();
    let ring = Builder::new().clamp().build(40_000).unwrap();
    assert_eq!(ring.params().sq_entries(), 32768);
    let ring = Builder::new().clamp().build(40).unwrap();
    assert_eq!(ring.params().sq_entries(), 64);
    assert!(Builder::new().build(40_000).is_err());
}

/// `set_iowq_max_workers`: "a thread makes its pool when it first creates
/// a ring or submits to one ... A pool's defaults are the smaller of the
/// SQ's entries and four per CPU for bounded work and `RLIMIT_NPROC` for
/// unbounded work." A thread that never had a ring creates one (of 1, 2,
/// 64 and 256 entries) and reads its pool's limits at once, before any
/// submission: the pool is there, with `min(sq_entries, 4 * online CPUs)`
/// bounded workers and `RLIMIT_NPROC` unbounded ones.
#[test]
fn a_new_threads_first_ring_makes_its_pool_with_the_documented_defaults() {
    let _watch = watchdog();
    if !require_kernel(5, 15, "IORING_REGISTER_IOWQ_MAX_WORKERS") {
        return;
    }
    let cpus = online_cpus();
    let nproc = nproc_as_reported();
    for entries in [1u32, 2, 64, 256] {
        let (sq, limits) = std::thread::spawn(move || {
            let mut ring = Ring::new(entries).unwrap();
            (ring.sq_entries(), ring.iowq_max_workers().unwrap())
        })
        .join()
        .unwrap();
        assert_eq!(sq, entries.next_power_of_two());
        assert_eq!(
            limits.bounded,
            sq.min(4 * cpus),
            "{entries} entries, {cpus} CPUs: bounded default"
        );
        match nproc {
            Some(n) => assert_eq!(limits.unbounded, n, "unbounded default"),
            None => assert_ne!(limits.unbounded, 0, "a pool exists"),
        }
    }
}

/// The pool of a thread is made by the first ring it creates, with that
/// ring's size: a second, larger ring of the same thread finds the pool
/// there and does not change its defaults (the defaults are the pool's,
/// not the ring's), while a thread whose first ring is the larger one
/// gets the larger default.
#[test]
fn a_pools_defaults_come_from_the_first_ring_of_its_thread() {
    let _watch = watchdog();
    if !require_kernel(5, 15, "IORING_REGISTER_IOWQ_MAX_WORKERS") {
        return;
    }
    let cpus = online_cpus();
    if 4 * cpus < 2 {
        return skip("too few CPUs to tell the sizes apart");
    }
    let small_first = std::thread::spawn(|| {
        let _small = Ring::new(1).unwrap();
        let mut big = Ring::new(256).unwrap();
        big.iowq_max_workers().unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(
        small_first.bounded, 1,
        "the pool the 1-entry ring made keeps its default"
    );
    let alone = std::thread::spawn(|| Ring::new(256).unwrap().iowq_max_workers().unwrap())
        .join()
        .unwrap();
    assert_eq!(alone.bounded, 256u32.min(4 * cpus));
}

/// Not in the docs: `register_ring_fd` makes the calling thread's pool too
/// (`io_ringfd_register` calls `__io_uring_add_tctx_node` first), not only
/// a ring's creation or a submission, as `set_iowq_max_workers` lists
/// them. A ring made on one thread and moved to another that has no pool
/// reads no limits there (both 0); once it registers its fd on that
/// thread, the thread has a pool, under the limits set on the ring.
#[test]
fn registering_the_ring_fd_makes_the_threads_pool() {
    let _watch = watchdog();
    if !require_kernel(5, 18, "IORING_REGISTER_RING_FDS") {
        return;
    }
    let set = IoWqWorkers {
        bounded: 3,
        unbounded: 7,
    };
    let ring = std::thread::spawn(move || {
        let mut ring = Ring::new(4).unwrap();
        ring.set_iowq_max_workers(set).unwrap();
        ring
    })
    .join()
    .unwrap();
    let (before, after, third) = std::thread::spawn(move || {
        let mut ring = ring;
        let before = ring.iowq_max_workers().unwrap();
        ring.register_ring_fd().unwrap();
        let after = ring.iowq_max_workers().unwrap();
        ring.unregister_ring_fd().unwrap();
        // The pool stays with the thread once made.
        let third = ring.iowq_max_workers().unwrap();
        (before, after, third)
    })
    .join()
    .unwrap();
    let none = IoWqWorkers {
        bounded: 0,
        unbounded: 0,
    };
    assert_eq!(before, none, "no pool on the new thread yet");
    assert_eq!(
        after, set,
        "register_ring_fd made a pool under the ring's limits"
    );
    assert_eq!(third, set);
}

/// `Builder::attach_wq`: "The shared thread sleeps after the longest idle
/// time of the rings it serves." An SQPOLL ring of 10 ms idle whose thread
/// a ring of 1.5 s idle shares stays awake for 400 ms after its work; once
/// the long ring is dropped, the thread serves the short one alone and
/// sleeps within moments (`io_sq_thread_finish` recomputes the idle time).
/// The control: the same short ring alone sleeps within moments too.
#[test]
fn a_shared_sq_thread_sleeps_after_the_longest_idle_of_the_rings_it_serves() {
    let _watch = watchdog();
    if !require_sqpoll() {
        return;
    }
    let short = Duration::from_millis(10);
    let long = Duration::from_millis(1500);
    // Control: alone, the short ring's thread sleeps after its 10 ms.
    let mut alone = Builder::new().sqpoll(short).build(4).unwrap();
    nop_round_trip(&mut alone, 1);
    assert!(
        sleeps_within(&alone, Duration::from_secs(2)),
        "a 10 ms SQ thread alone never slept"
    );
    drop(alone);

    let mut owner = Builder::new().sqpoll(short).build(4).unwrap();
    let attached = Builder::new()
        .sqpoll(long)
        .attach_wq(&owner)
        .build(4)
        .unwrap();
    assert_eq!(attached.params().sq_thread_idle(), 1500);
    nop_round_trip(&mut owner, 2);
    assert!(
        awake_throughout(&owner, Duration::from_millis(400)),
        "the shared thread slept before the attached ring's 1.5 s idle"
    );
    drop(attached);
    // Wake it with work, so that it recomputes its deadline under the
    // idle time of the ring it has left.
    nop_round_trip(&mut owner, 3);
    assert!(
        sleeps_within(&owner, Duration::from_secs(3)),
        "the thread kept the dropped ring's idle time"
    );
}

/// The `SqThread` / `SqThreadCpu` of `ring`'s fdinfo, read until the
/// kernel shows them (it prints -1 while another task holds the ring's
/// lock).
fn sq_thread_on(ring: &Ring) -> (i64, i64) {
    let end = Instant::now() + Duration::from_secs(2);
    loop {
        let info = uring_tests::sq_thread_info(ring);
        if info.0 != -1 || Instant::now() >= end {
            return info;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// `Params::sq_thread_cpu`: "The CPU the ring asked its SQ thread to be
/// bound to ... A ring attached to another's SQ thread reads the CPU it
/// asked for, which the kernel ignores: the thread runs where its owner's
/// was bound." A ring attached to an owner bound to CPU 0, asking for CPU
/// 1, reads 1, while the shared thread runs on CPU 0
/// (`io_sq_offload_create` returns before it looks at
/// `IORING_SETUP_SQ_AFF`).
#[test]
fn an_attached_ring_s_params_name_the_cpu_it_asked_for_not_its_thread_s() {
    let _watch = watchdog();
    if !require_sqpoll() {
        return;
    }
    if online_cpus() < 2 {
        return skip("one CPU: an attached ring cannot ask for another");
    }
    let idle = Duration::from_millis(10);
    let owner = match Builder::new().sqpoll(idle).sq_thread_cpu(0).build(4) {
        Ok(ring) => ring,
        Err(e) => return skip(format_args!("no SQ thread on CPU 0: {e}")),
    };
    let mut attached = Builder::new()
        .sqpoll(idle)
        .sq_thread_cpu(1)
        .attach_wq(&owner)
        .build(4)
        .unwrap();
    nop_round_trip(&mut attached, 1);
    let (thread, cpu) = sq_thread_on(&attached);
    assert!(thread > 0, "no SQ thread");
    assert_eq!(cpu, 0, "the shared thread runs where the owner bound it");
    assert_eq!(owner.params().sq_thread_cpu(), 0);
    assert_eq!(
        attached.params().sq_thread_cpu(),
        1,
        "params().sq_thread_cpu() of the attached ring: the CPU it asked for"
    );
}

/// `Params::sq_thread_idle`: "The SQ thread's idle time in milliseconds
/// that the ring asked for at setup ... an idle time of 0 asks for the
/// kernel's default (1 s)". For `sqpoll(Duration::ZERO)` it reads 0 while
/// the thread stays awake half a second after its work
/// (`ctx->sq_thread_idle = HZ`).
#[test]
fn params_sq_thread_idle_is_the_time_asked_for_and_zero_is_the_kernel_s_default() {
    let _watch = watchdog();
    if !require_sqpoll() {
        return;
    }
    let mut ring = Builder::new().sqpoll(Duration::ZERO).build(4).unwrap();
    nop_round_trip(&mut ring, 1);
    assert!(
        awake_throughout(&ring, Duration::from_millis(500)),
        "the thread of an idle of zero slept within half a second"
    );
    assert_eq!(ring.params().sq_thread_idle(), 0, "the time asked for");
}

/// `Builder::ring_memory_size`: "Errors as [`build`] does for options it
/// would reject" (and `ring_memory_size_sized` is the same "for a ring of
/// `S` SQEs and `C` CQEs, as `build_sized` makes"). A mixed CQ of one
/// entry is an option `build_sized` rejects before the kernel (an
/// `Error::Setup`: "a mixed CQ needs at least 2 entries", the kernel's
/// `rings_size` having no room for one 32-byte completion), in the
/// kernel's memory and in the library's; its memory size is refused the
/// same way.
#[test]
fn the_memory_size_of_a_ring_build_refuses_is_an_error() {
    let _watch = watchdog();
    if !require_kernel(6, 18, "IORING_SETUP_CQE_MIXED") {
        return;
    }
    let builder = Builder::new().cq_entries(1);
    let built = builder.build_sized::<Sqe64, CqeMixed>(1);
    assert!(
        matches!(built, Err(Error::Setup(_))),
        "build_sized: {:?}",
        built.map(|r| r.cq_entries())
    );
    let built = builder.clone().no_mmap().build_sized::<Sqe64, CqeMixed>(1);
    assert!(
        matches!(built, Err(Error::Setup(_))),
        "build_sized in library memory: {:?}",
        built.map(|r| r.cq_entries())
    );
    let size = builder.ring_memory_size_sized::<Sqe64, CqeMixed>(1);
    assert!(
        matches!(size, Err(Error::Setup(_))),
        "ring_memory_size_sized of what build_sized refuses: {size:?}"
    );
}

/// `Ring::resize`: "Sizes the kernel never takes (0, a CQ smaller than
/// the SQ, past its maximum) are refused with its `EINVAL` before anything
/// is submitted", and `resize_memory_size`: "for sizes no resize takes
/// ..., the error `resize` gives (`EINVAL`)". A ring of mixed CQEs is
/// never resized to a CQ of one entry (`io_register_resize_rings` gets
/// `SIZE_MAX` from `rings_size`, which refuses a mixed CQ under 2 entries,
/// and would answer `EOVERFLOW` with no completion waiting): the library
/// refuses it up front with `EINVAL`, the SQE pushed before left
/// unsubmitted, and it has no memory size. A CQ of two entries is taken.
#[test]
fn a_mixed_ring_is_refused_a_cq_of_one_entry_up_front() {
    let _watch = watchdog();
    if !require_kernel(6, 18, "IORING_SETUP_CQE_MIXED") {
        return;
    }
    let mut ring = match Builder::new()
        .single_issuer()
        .defer_taskrun()
        .build_sized::<Sqe64, CqeMixed>(4)
    {
        Ok(ring) => ring,
        Err(e) => return skip(format_args!("a defer_taskrun ring of mixed CQEs: {e}")),
    };
    let first = ring.resize(1, 1).unwrap_err();
    assert_eq!(first.raw_os_error(), Some(libc::EINVAL), "{first}");
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (4, 8));
    // A CQ of two entries is taken.
    ring.resize(1, 2).unwrap();
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (1, 2));
    ring.resize(4, 8).unwrap();
    // Refused up front, nothing submitted, and no memory size.
    ring.push(Nop::new().user_data(9)).unwrap();
    let refused = ring.resize(1, 1).unwrap_err();
    assert_eq!(
        ring.pending(),
        1,
        "the SQE pushed before a refused resize was submitted ({refused})"
    );
    assert_eq!(refused.raw_os_error(), Some(libc::EINVAL), "{refused}");
    let size = ring.resize_memory_size(1, 1);
    assert_eq!(
        size.as_ref().err().and_then(Error::raw_os_error),
        Some(libc::EINVAL),
        "resize_memory_size(1, 1): {size:?}"
    );
}

/// `set_iowq_max_workers` / `iowq_max_workers` on SQPOLL rings: "the
/// limits that were in force before in the calling thread's worker pool
/// (on an SQPOLL ring, the SQ thread's)", and `create_many`: "With
/// SQPOLL, an attached ring shares its owner's SQ thread, and with it that
/// thread's io-wq workers". The SQ thread's pool is made with the SQ
/// thread, sized by the ring that made it (`io_sq_offload_create` ->
/// `io_uring_alloc_task_context`): a 2-entry SQPOLL ring reads
/// `min(2, 4 * CPUs)` bounded workers, and a 64-entry ring attached to it
/// reads the same pool (not its own size), whatever the calling thread's
/// own pool holds; a 64-entry SQPOLL ring of its own reads
/// `min(64, 4 * CPUs)`. A limit set through the attached ring is read
/// back through the owner.
#[test]
fn an_sqpoll_rings_limits_are_its_sq_threads_pool_shared_by_attached_rings() {
    let _watch = watchdog();
    if !require_sqpoll() || !require_kernel(5, 15, "IORING_REGISTER_IOWQ_MAX_WORKERS") {
        return;
    }
    let cpus = online_cpus();
    let idle = Duration::from_millis(10);
    std::thread::spawn(move || {
        // This thread's own pool, made by a plain ring of 1 entry: not the
        // one an SQPOLL ring reads.
        let mut plain = Ring::new(1).unwrap();
        assert_eq!(plain.iowq_max_workers().unwrap().bounded, 1);
        let mut owner = Builder::new().sqpoll(idle).build(2).unwrap();
        let mut attached = Builder::new()
            .sqpoll(idle)
            .attach_wq(&owner)
            .build(64)
            .unwrap();
        let mut alone = Builder::new().sqpoll(idle).build(64).unwrap();
        let want = 2u32.min(4 * cpus);
        assert_eq!(owner.iowq_max_workers().unwrap().bounded, want, "owner");
        assert_eq!(
            attached.iowq_max_workers().unwrap().bounded,
            want,
            "the attached ring reads its owner's SQ thread's pool"
        );
        assert_eq!(
            alone.iowq_max_workers().unwrap().bounded,
            64u32.min(4 * cpus),
            "an SQ thread of its own"
        );
        let before = attached
            .set_iowq_max_workers(IoWqWorkers {
                bounded: 1,
                unbounded: 0,
            })
            .unwrap();
        assert_eq!(before.bounded, want);
        assert_eq!(owner.iowq_max_workers().unwrap().bounded, 1);
        assert_eq!(
            alone.iowq_max_workers().unwrap().bounded,
            64u32.min(4 * cpus)
        );
        assert_eq!(plain.iowq_max_workers().unwrap().bounded, 1);
    })
    .join()
    .unwrap();
}

/// `Ring::create_many`: "`builder` must not attach to a ring already
/// (`Builder::attach_wq`: the owners would not own their pools)". Handed
/// such a builder, it refuses with `InvalidArgument` and makes no ring (it
/// used to build its owners attached to that ring, every ring of the call
/// then running on its one SQ thread); the same builder without the
/// attachment makes two owners, each with an SQ thread of its own.
#[test]
fn create_many_refuses_a_builder_that_attaches_and_its_owners_own_their_pools() {
    let _watch = watchdog();
    if !require_sqpoll() {
        return;
    }
    let idle = Duration::from_millis(10);
    let mut x = Builder::new().sqpoll(idle).build(4).unwrap();
    nop_round_trip(&mut x, 1);
    let builder = Builder::new().sqpoll(idle).attach_wq(&x);
    let refused = Ring::create_many(2, 4, 2, &builder);
    assert!(
        matches!(refused, Err(Error::InvalidArgument(_))),
        "{:?}",
        refused.map(|r| r.len())
    );
    let mut rings = Ring::create_many(2, 4, 2, &Builder::new().sqpoll(idle)).unwrap();
    for (i, ring) in rings.iter_mut().enumerate() {
        nop_round_trip(ring, 10 + i as u64);
    }
    let x_thread = sq_thread_on(&x).0;
    let threads: Vec<i64> = rings.iter().map(|r| sq_thread_on(r).0).collect();
    assert!(
        x_thread > 0 && threads.iter().all(|&t| t > 0),
        "{x_thread} {threads:?}"
    );
    assert_ne!(threads[0], threads[1], "two owners, two SQ threads");
    assert!(
        threads.iter().all(|&t| t != x_thread),
        "an owner runs on another ring's SQ thread {x_thread}: {threads:?}"
    );
}

/// The user_data of every completion that arrives within a short wait
/// after one submit, sorted.
fn submitted_now(ring: &mut Ring) -> Vec<u64> {
    ring.submit().unwrap();
    let _ = ring.wait_timeout(ring.cq_entries(), Duration::from_millis(50));
    let mut got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    got.sort_unstable();
    got
}

/// `SubmissionQueue`: "A batch given to `mem::forget` keeps the pushes
/// made since it last handed its cursor to the ring ... those are never
/// submitted ... It hands its cursor over at a `push_linked`, a
/// `space_left`, and a push that starts the SQ array's next lap: the
/// pushes before those are the ring's, and the next submit hands them to
/// the kernel." Each hand-over point, then a push and `mem::forget`: what
/// was pushed before the point is submitted (once), what came after it is
/// not, and the ring's next pushes complete once each.
#[test]
fn a_forgotten_batch_gives_the_ring_what_it_pushed_before_each_hand_over() {
    let _watch = watchdog();
    // At `space_left`.
    let mut ring = Ring::new(8).unwrap();
    {
        let mut sq = ring.submission();
        sq.push(Nop::new().user_data(1)).unwrap();
        assert_eq!(sq.space_left(), 7);
        sq.push(Nop::new().user_data(2)).unwrap();
        std::mem::forget(sq);
    }
    assert_eq!(ring.pending(), 1);
    assert_eq!(submitted_now(&mut ring), [1]);
    nop_round_trip(&mut ring, 3);
    // At `push_linked`: the chain is the ring's with what came before it.
    {
        let mut sq = ring.submission();
        sq.push(Nop::new().user_data(10)).unwrap();
        sq.push_linked(uring::Linked::new(vec![
            Nop::new().user_data(11),
            Nop::new().user_data(12),
        ]))
        .unwrap();
        sq.push(Nop::new().user_data(13)).unwrap();
        std::mem::forget(sq);
    }
    assert_eq!(submitted_now(&mut ring), [10, 11, 12]);
    nop_round_trip(&mut ring, 14);
    // At a push that starts the SQ array's next lap: a ring of 4 slots
    // whose tail is at 2 takes 20 and 21 into slots 2 and 3; 22 starts the
    // next lap, and 23 follows it.
    let mut ring = Ring::new(4).unwrap();
    nop_round_trip(&mut ring, 30);
    nop_round_trip(&mut ring, 31);
    {
        let mut sq = ring.submission();
        for ud in 20..24 {
            sq.push(Nop::new().user_data(ud)).unwrap();
        }
        std::mem::forget(sq);
    }
    assert_eq!(
        submitted_now(&mut ring),
        [20, 21],
        "what a forgotten batch handed over at the lap's start"
    );
    for ud in 40..44 {
        nop_round_trip(&mut ring, ud);
    }
}

/// `RingRegion::anonymous` / `anonymous_huge`: "At least `len` bytes
/// (rounded up to whole pages) ... Errors with the `mmap` error, or
/// [`Error::InvalidArgument`] for a `len` of 0." At the far end of
/// `usize`: a length whose rounding overflows is an `InvalidArgument`
/// (undocumented, but an error value), one no mmap can give is the mmap
/// error (`ENOMEM`), never a panic or a region shorter than asked; a
/// length of 1 is one whole page, and no region is empty.
#[test]
fn ring_regions_of_lengths_no_mapping_holds_are_error_values() {
    let _watch = watchdog();
    let page = RingRegion::anonymous(1).unwrap();
    assert!(
        page.len() >= 4096 && page.len().is_power_of_two(),
        "{page:?}"
    );
    assert!(!page.is_empty());
    let page = page.len();
    for len in [usize::MAX, usize::MAX - page + 2] {
        assert!(
            matches!(RingRegion::anonymous(len), Err(Error::InvalidArgument(_))),
            "anonymous({len:#x})"
        );
        assert!(
            matches!(
                RingRegion::anonymous_huge(len),
                Err(Error::InvalidArgument(_))
            ),
            "anonymous_huge({len:#x})"
        );
    }
    for len in [usize::MAX - page + 1, 1usize << 63, (1usize << 63) + 1] {
        match RingRegion::anonymous(len) {
            Err(Error::Os { call, source }) => {
                assert_eq!(call, "mmap");
                assert_eq!(
                    source.raw_os_error(),
                    Some(libc::ENOMEM),
                    "anonymous({len:#x})"
                );
            }
            other => panic!("anonymous({len:#x}): {other:?}"),
        }
        match RingRegion::anonymous_huge(len) {
            Err(Error::Os { source, .. }) => {
                assert!(source.raw_os_error().is_some(), "anonymous_huge({len:#x})")
            }
            Err(Error::InvalidArgument(_)) => {}
            other => panic!("anonymous_huge({len:#x}): {other:?}"),
        }
    }
}
