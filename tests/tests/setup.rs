//! Ring setup: sizes, every builder option the kernel accepts, the
//! combinations it (or the builder) rejects, SQPOLL, and `create_many`.

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use uring::ops::{Nop, Timeout};
use uring::{Builder, Error, Ring, SetupFlags};
use uring_tests::{
    assert_user_data_once, require_kernel, require_sqpoll, sq_thread_info, submit_and_reap,
};

fn is_setup_error<T: std::fmt::Debug>(result: &Result<T, Error>) -> bool {
    matches!(result, Err(Error::Setup(_)))
}

/// Builds a ring with `builder` (skipping if the kernel predates the
/// option), checks the kernel echoed `flags`, and runs NOPs through it with
/// `submit_and_wait` over two laps of the queue.
fn nop_ring(builder: Builder<'_>, flags: SetupFlags, since: (u32, u32), what: &str) {
    if !require_kernel(since.0, since.1, what) {
        return;
    }
    let mut ring = builder
        .build(4)
        .unwrap_or_else(|e| panic!("{what}: the kernel rejected the ring: {e}"));
    assert!(
        ring.params().setup_flags().contains(flags),
        "{what}: setup flags {:?}",
        ring.params().setup_flags()
    );
    for lap in 0..3u64 {
        for i in 0..3 {
            ring.push(Nop::new().user_data(lap * 10 + i)).unwrap();
        }
        ring.submit_and_wait(3)
            .unwrap_or_else(|e| panic!("{what}: submit_and_wait: {e}"));
        let cqes: Vec<_> = ring.completions().collect();
        assert_eq!(cqes.len(), 3, "{what}, lap {lap}: {cqes:?}");
        assert_user_data_once(&cqes, (0..3).map(|i| lap * 10 + i));
        assert!(cqes.iter().all(|c| c.res() == 0), "{what}: {cqes:?}");
    }
}

#[test]
fn sizes_round_up_to_powers_of_two() {
    let ring = Ring::new(3).unwrap();
    assert_eq!(
        (ring.params().sq_entries(), ring.params().cq_entries()),
        (4, 8)
    );
    let ring = Ring::builder().cq_entries(64).build(8).unwrap();
    assert_eq!(ring.params().sq_entries(), 8);
    assert_eq!(ring.params().cq_entries(), 64);
    assert_eq!(ring.cq_entries(), 64, "the mapped CQ has the kernel's size");
    assert!(ring.params().setup_flags().contains(SetupFlags::CQSIZE));
    let ring = Ring::builder().cq_entries(9).build(8).unwrap();
    assert_eq!(ring.params().cq_entries(), 16);
}

#[test]
fn bad_sizes_are_setup_errors() {
    for entries in [0, 32769, u32::MAX] {
        let r = Ring::new(entries);
        assert!(is_setup_error(&r), "Ring::new({entries}): {r:?}");
    }
    let r = Ring::builder().cq_entries(0).build(8);
    assert!(is_setup_error(&r), "cq_entries(0): {r:?}");
    let r = Ring::builder().cq_entries(4).build(8);
    assert!(is_setup_error(&r), "a CQ smaller than the SQ: {r:?}");
    let r = Ring::builder().cq_entries(65537).build(8);
    assert!(is_setup_error(&r), "cq_entries(65537): {r:?}");
}

#[test]
fn clamp_caps_sizes_at_the_maximum() {
    let ring = Ring::builder()
        .clamp()
        .build(32769)
        .expect("32769 with clamp");
    assert_eq!(ring.params().sq_entries(), 32768);
    assert_eq!(ring.sq_entries(), 32768);
    let ring = Ring::builder()
        .clamp()
        .cq_entries(1 << 20)
        .build(8)
        .expect("a CQ of 2^20 with clamp");
    assert_eq!(ring.params().cq_entries(), 65536);
}

#[test]
fn invalid_combinations_are_setup_errors() {
    let cases: [(&str, Builder<'_>); 6] = [
        ("taskrun_flag alone", Ring::builder().taskrun_flag()),
        (
            "defer_taskrun without single_issuer",
            Ring::builder().defer_taskrun(),
        ),
        (
            "sq_thread_cpu without sqpoll",
            Ring::builder().sq_thread_cpu(0),
        ),
        (
            "hybrid_iopoll without iopoll",
            Ring::builder().hybrid_iopoll(),
        ),
        (
            "defer_taskrun with sqpoll",
            Ring::builder()
                .single_issuer()
                .defer_taskrun()
                .sqpoll(Duration::from_millis(10)),
        ),
        (
            "taskrun_flag with single_issuer only",
            Ring::builder().single_issuer().taskrun_flag(),
        ),
    ];
    for (what, builder) in cases {
        let r = builder.build(4);
        assert!(is_setup_error(&r), "{what}: {r:?}");
    }
}

#[test]
fn submit_all() {
    nop_ring(
        Ring::builder().submit_all(),
        SetupFlags::SUBMIT_ALL,
        (5, 18),
        "submit_all",
    );
}

#[test]
fn coop_taskrun() {
    nop_ring(
        Ring::builder().coop_taskrun(),
        SetupFlags::COOP_TASKRUN,
        (5, 19),
        "coop_taskrun",
    );
}

#[test]
fn coop_taskrun_with_taskrun_flag() {
    nop_ring(
        Ring::builder().coop_taskrun().taskrun_flag(),
        SetupFlags::COOP_TASKRUN | SetupFlags::TASKRUN_FLAG,
        (5, 19),
        "coop_taskrun + taskrun_flag",
    );
}

#[test]
fn single_issuer() {
    nop_ring(
        Ring::builder().single_issuer(),
        SetupFlags::SINGLE_ISSUER,
        (6, 0),
        "single_issuer",
    );
}

#[test]
fn single_issuer_with_defer_taskrun() {
    nop_ring(
        Ring::builder().single_issuer().defer_taskrun(),
        SetupFlags::SINGLE_ISSUER | SetupFlags::DEFER_TASKRUN,
        (6, 1),
        "single_issuer + defer_taskrun",
    );
}

#[test]
fn no_sqarray() {
    nop_ring(
        Ring::builder().no_sqarray(),
        SetupFlags::NO_SQARRAY,
        (6, 6),
        "no_sqarray",
    );
}

#[test]
fn cq_entries_and_clamp() {
    nop_ring(
        Ring::builder().cq_entries(64).clamp(),
        SetupFlags::CQSIZE | SetupFlags::CLAMP,
        (5, 6),
        "cq_entries + clamp",
    );
}

/// A timer's completion is task work; with `taskrun_flag` the kernel flags
/// it in the SQ ring and `completions()` enters the kernel to run it.
fn timeout_reaches_completions_through_the_taskrun_flag(builder: Builder<'_>, what: &str) {
    let mut ring = builder.build(4).unwrap_or_else(|e| panic!("{what}: {e}"));
    ring.push(Timeout::new(Duration::from_millis(5)).user_data(3))
        .unwrap();
    ring.submit().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let cqe = loop {
        std::thread::sleep(Duration::from_millis(10));
        if let Some(cqe) = ring.completions().next() {
            break cqe;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: the timeout never showed up"
        );
    };
    assert_eq!((cqe.user_data(), cqe.res()), (3, -libc::ETIME), "{what}");
}

#[test]
fn coop_taskrun_completions_are_flushed_through_the_taskrun_flag() {
    if require_kernel(5, 19, "taskrun_flag") {
        timeout_reaches_completions_through_the_taskrun_flag(
            Ring::builder().coop_taskrun().taskrun_flag(),
            "coop_taskrun + taskrun_flag",
        );
    }
}

#[test]
fn defer_taskrun_completions_are_flushed_through_the_taskrun_flag() {
    if require_kernel(6, 1, "defer_taskrun") {
        timeout_reaches_completions_through_the_taskrun_flag(
            Ring::builder()
                .single_issuer()
                .defer_taskrun()
                .taskrun_flag(),
            "single_issuer + defer_taskrun + taskrun_flag",
        );
    }
}

/// A SINGLE_ISSUER ring moved to another thread: the kernel refuses the
/// other task's submissions (EEXIST), and the ring reports it as an error.
#[test]
fn single_issuer_refuses_another_thread() {
    if !require_kernel(6, 0, "single_issuer") {
        return;
    }
    let mut ring = Ring::builder().single_issuer().build(4).unwrap();
    ring.push(Nop::new().user_data(1)).unwrap();
    submit_and_reap(&mut ring, 1);
    let result = std::thread::spawn(move || {
        ring.push(Nop::new().user_data(2)).unwrap();
        ring.submit()
    })
    .join()
    .unwrap();
    match result {
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EEXIST), "{e}"),
        Ok(n) => panic!("another thread submitted {n} on a single-issuer ring"),
    }
}

/// R_DISABLED: the kernel refuses submission (EBADFD) until the ring is
/// enabled; the NOP pushed before then is still in the queue and runs after.
#[test]
fn r_disabled_rings_run_nothing_until_enabled() {
    if !require_kernel(5, 10, "r_disabled") {
        return;
    }
    let mut ring = Ring::builder().r_disabled().build(4).unwrap();
    assert!(ring.params().setup_flags().contains(SetupFlags::R_DISABLED));
    ring.push(Nop::new().user_data(1)).unwrap();
    match ring.submit() {
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EBADFD), "{e}"),
        Ok(n) => panic!("a disabled ring took {n} SQEs"),
    }
    assert_eq!(ring.pending(), 1, "the SQE is still in the queue");
    assert_eq!(ring.ready(), 0);

    ring.enable().expect("enable");
    ring.push(Nop::new().user_data(2)).unwrap();
    let cqes = submit_and_reap(&mut ring, 2);
    assert_user_data_once(&cqes, [1, 2]);
    assert!(cqes.iter().all(|c| c.res() == 0), "{cqes:?}");

    // Enabling twice: the kernel says the ring is not disabled.
    let again = ring.enable();
    assert_eq!(
        again.as_ref().err().and_then(Error::raw_os_error),
        Some(libc::EBADFD),
        "{again:?}"
    );
}

/// On an IOPOLL ring, 6.18 runs a NOP (NOP is marked iopoll-capable since
/// 5.x) and completes it with 0; ops that cannot be polled fail with
/// EINVAL.
#[test]
fn iopoll_rings_complete_nops() {
    let mut ring = Ring::builder().iopoll().build(4).expect("an IOPOLL ring");
    assert!(ring.params().setup_flags().contains(SetupFlags::IOPOLL));
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.push(Nop::new().user_data(2)).unwrap();
    let cqes = submit_and_reap(&mut ring, 2);
    assert_user_data_once(&cqes, [1, 2]);
    assert!(cqes.iter().all(|c| c.res() == 0), "{cqes:?}");

    // A timeout cannot be polled for.
    ring.push(Timeout::new(Duration::from_millis(1)).user_data(3))
        .unwrap();
    let cqe = submit_and_reap(&mut ring, 1)[0];
    assert_eq!((cqe.user_data(), cqe.res()), (3, -libc::EINVAL), "{cqe:?}");
}

fn sqpoll_builder() -> Builder<'static> {
    Ring::builder().sqpoll(Duration::from_millis(100))
}

/// Polls `ready()` (no wait call) until `n` completions are there.
fn poll_until_ready(ring: &mut Ring, n: u32) -> Vec<uring::Cqe> {
    let deadline = Instant::now() + Duration::from_secs(5);
    while ring.ready() < n {
        assert!(
            Instant::now() < deadline,
            "SQPOLL: {} of {n} completions after 5 s",
            ring.ready()
        );
        std::thread::sleep(Duration::from_micros(200));
    }
    ring.completions().collect()
}

/// SQPOLL: one `submit()`, no wait; the SQ thread picks the NOP up and its
/// completion shows up. Then several NOPs with one submit, after the thread
/// had time to go idle and must be woken.
#[test]
fn sqpoll_completes_without_waiting() {
    if !require_sqpoll() {
        return;
    }
    let mut ring = sqpoll_builder().build(8).expect("an SQPOLL ring");
    assert!(ring.params().setup_flags().contains(SetupFlags::SQPOLL));
    assert_eq!(ring.params().sq_thread_idle(), 100);
    ring.push(Nop::new().user_data(1)).unwrap();
    // What the SQ thread has not taken yet when submit looks: it may
    // already have taken the NOP.
    assert!(ring.submit().unwrap() <= 1);
    let cqes = poll_until_ready(&mut ring, 1);
    assert_eq!(cqes.len(), 1);
    assert_eq!((cqes[0].user_data(), cqes[0].res()), (1, 0));

    // Let the SQ thread go to sleep (idle 100 ms), so submit must wake it.
    std::thread::sleep(Duration::from_millis(300));
    for i in 10..16 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    assert!(ring.submit().unwrap() <= 6);
    let cqes = poll_until_ready(&mut ring, 6);
    assert_user_data_once(&cqes, 10..16);
    assert!(cqes.iter().all(|c| c.res() == 0));

    // And through the waiting call too.
    for i in 20..28 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    ring.submit_and_wait(8).unwrap();
    let cqes: Vec<_> = ring.completions().collect();
    assert_user_data_once(&cqes, 20..28);
}

/// SQPOLL pinned to a CPU: the SQ thread runs there.
#[test]
fn sqpoll_thread_runs_on_its_cpu() {
    if !require_sqpoll() {
        return;
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    let cpu = cpus - 1;
    let mut ring = sqpoll_builder()
        .sq_thread_cpu(cpu)
        .build(4)
        .expect("an SQPOLL ring on a CPU");
    assert!(ring.params().setup_flags().contains(SetupFlags::SQ_AFF));
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.submit().unwrap();
    assert_eq!(poll_until_ready(&mut ring, 1)[0].user_data(), 1);
    let (pid, on) = stable_sq_thread_info(&ring);
    assert!(pid > 0, "no SQ thread");
    assert_eq!(on, i64::from(cpu), "the SQ thread's CPU");
}

/// fdinfo shows -1 while another task holds the ring's lock: read until
/// the pid is there.
fn stable_sq_thread_info(ring: &Ring) -> (i64, i64) {
    for _ in 0..100 {
        let info = sq_thread_info(ring);
        if info.0 != -1 {
            return info;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    sq_thread_info(ring)
}

#[test]
fn create_many_attaches_the_rings_beyond_wp_count() {
    for (count, wp_count, attached) in [(4, 4, 0), (4, 2, 2), (4, 1, 3), (6, 3, 3), (1, 1, 0)] {
        let mut rings = Ring::create_many(count, 4, wp_count, &Ring::builder())
            .unwrap_or_else(|e| panic!("create_many({count}, 4, {wp_count}): {e}"));
        assert_eq!(rings.len(), count);
        let owners: Vec<i32> = rings[..wp_count].iter().map(AsRawFd::as_raw_fd).collect();
        assert!(rings[..wp_count].iter().all(|r| r.attached_wq().is_none()));
        let n = rings.iter().filter(|r| r.attached_wq().is_some()).count();
        assert_eq!(n, attached, "create_many({count}, 4, {wp_count})");
        for ring in &rings[wp_count..] {
            let to = ring.attached_wq().expect("attached");
            assert!(owners.contains(&to), "attached to {to}, owners {owners:?}");
            assert!(ring.params().setup_flags().contains(SetupFlags::ATTACH_WQ));
        }
        // Each pool serves count / wp_count rings.
        for owner in &owners {
            let users = rings
                .iter()
                .filter(|r| r.attached_wq() == Some(*owner))
                .count();
            assert_eq!(users + 1, count / wp_count, "rings on the pool of {owner}");
        }
        // Every ring works.
        for (i, ring) in rings.iter_mut().enumerate() {
            ring.push(Nop::new().user_data(i as u64)).unwrap();
            assert_eq!(submit_and_reap(ring, 1)[0].user_data(), i as u64);
        }
    }
}

#[test]
fn create_many_rejects_bad_counts() {
    for (count, wp_count) in [(0, 0), (0, 1), (4, 0), (4, 5), (4, 3), (6, 4)] {
        let r = Ring::create_many(count, 4, wp_count, &Ring::builder());
        assert!(
            matches!(r, Err(Error::InvalidArgument(_))),
            "create_many({count}, 4, {wp_count}): {r:?}"
        );
    }
}

/// With SQPOLL the attached rings share their owner's SQ thread, which the
/// kernel shows in fdinfo: proof that ATTACH_WQ reached it.
#[test]
fn create_many_with_sqpoll_shares_the_sq_threads() {
    if !require_sqpoll() {
        return;
    }
    let mut rings = Ring::create_many(4, 4, 2, &sqpoll_builder()).expect("create_many");
    for (i, ring) in rings.iter_mut().enumerate() {
        ring.push(Nop::new().user_data(i as u64)).unwrap();
        ring.submit_and_wait(1).unwrap();
        assert_eq!(
            ring.completions().next().map(|c| c.user_data()),
            Some(i as u64)
        );
    }
    let pids: Vec<i64> = rings.iter().map(|r| stable_sq_thread_info(r).0).collect();
    assert!(pids.iter().all(|&p| p > 0), "{pids:?}");
    assert_ne!(pids[0], pids[1], "the two owners have their own threads");
    for ring in &rings[2..] {
        let owner = rings
            .iter()
            .position(|r| Some(r.as_raw_fd()) == ring.attached_wq())
            .expect("an owner in the set");
        assert_eq!(
            stable_sq_thread_info(ring).0,
            pids[owner],
            "an attached ring's SQ thread"
        );
    }
}

uring::ops! {
    /// An opcode no kernel has: its SQE fails when the kernel reads it.
    #[since = "99.0"]
    pub unsafe struct Invalid = 250 {}
}

/// An SQE the kernel cannot even read (unknown opcode) ends the batch there
/// (it is consumed, with EINVAL; the SQEs after it stay in the queue), unless
/// the ring was built with `submit_all`, where the kernel takes the whole
/// batch. Either way `submit_and_wait` gets everything submitted.
#[test]
fn submit_all_keeps_going_after_a_bad_sqe() {
    if !require_kernel(5, 18, "submit_all") {
        return;
    }
    for (builder, all) in [
        (Ring::builder(), false),
        (Ring::builder().submit_all(), true),
    ] {
        let mut ring = builder.build(8).unwrap();
        ring.push(Invalid::new().user_data(1)).unwrap();
        ring.push(Nop::new().user_data(2)).unwrap();
        ring.push(Nop::new().user_data(3)).unwrap();
        let submitted = ring.submit().unwrap();
        if all {
            assert_eq!((submitted, ring.pending()), (3, 0), "submit_all");
        } else {
            assert_eq!((submitted, ring.pending()), (1, 2), "without submit_all");
        }
        ring.submit_and_wait(3).unwrap();
        let cqes: Vec<_> = ring.completions().collect();
        assert_user_data_once(&cqes, 1..=3);
        let by = uring_tests::by_user_data(&cqes);
        assert_eq!(by[&1].res(), -libc::EINVAL);
        assert_eq!((by[&2].res(), by[&3].res()), (0, 0));
    }
}

#[test]
fn hybrid_iopoll() {
    if !require_kernel(6, 13, "hybrid_iopoll") {
        return;
    }
    let mut ring = Ring::builder()
        .iopoll()
        .hybrid_iopoll()
        .build(4)
        .expect("a hybrid IOPOLL ring");
    assert!(
        ring.params()
            .setup_flags()
            .contains(SetupFlags::IOPOLL | SetupFlags::HYBRID_IOPOLL)
    );
    ring.push(Nop::new().user_data(1)).unwrap();
    let cqe = submit_and_reap(&mut ring, 1)[0];
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0));
}

/// A full SQ of an SQPOLL ring frees up as the SQ thread takes its SQEs:
/// `wait_for_sq_space` sleeps until it does. Other rings answer at once.
#[test]
fn wait_for_sq_space_on_a_full_sq() {
    let mut plain = Ring::new(4).unwrap();
    for i in 0..4 {
        plain.push(Nop::new().user_data(i)).unwrap();
    }
    assert_eq!(
        plain.wait_for_sq_space().unwrap(),
        0,
        "only a submit frees it"
    );
    plain.submit().unwrap();
    assert_eq!(plain.wait_for_sq_space().unwrap(), 4);

    if !require_sqpoll() {
        return;
    }
    let mut ring = sqpoll_builder().build(4).expect("an SQPOLL ring");
    // Let the SQ thread fall asleep, so the wait must wake it too.
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..4 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    assert_eq!(ring.space_left(), 0);
    let space = ring.wait_for_sq_space().unwrap();
    assert!((1..=4).contains(&space), "{space}");
    let cqes = poll_until_ready(&mut ring, 4);
    assert_user_data_once(&cqes, 0..4);
}
