//! The README's promises, sentence by sentence, against the library and the
//! running kernel: the sections "Using it", "Event loops" and "go-uring,
//! mapped". Each test quotes the sentence it checks and asserts exactly
//! what it says: the defaults a constructor sets (ring and CQ sizes, setup
//! flags), the error a misuse gets (which `Error` variant or errno), what a
//! full queue, a disabled ring, a shut-down reactor or a drained ring do,
//! the limits the library enforces before the kernel sees a call, and that
//! each go-uring call the mapping table names has the counterpart it names,
//! behaving as stated. (`readme_claims.rs` runs the README's code blocks
//! themselves; claims about performance figures are not checked here.)

use std::io;
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use uring::ops::{Cancel, Nop, Timeout};
use uring::sys::fault::{self, Call};
use uring::{
    BufferGroup, Builder, Error, IoWqWorkers, PushErrorKind, Query, Ring, SetupFlags, SqeFlags,
};

/// The `SqMask` and `CqMask` lines of a ring's `/proc/self/fdinfo` entry,
/// for every io_uring descriptor of the process: (descriptor, SQ entries,
/// CQ entries).
fn io_uring_fds() -> Vec<(i32, u32, u32)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let is_ring = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().contains("io_uring"));
        if !is_ring {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")) else {
            continue;
        };
        let mask = |name: &str| -> Option<u32> {
            let value = text.lines().find_map(|l| l.strip_prefix(name))?;
            let value = value.trim().trim_start_matches("0x");
            u32::from_str_radix(value, 16).ok()
        };
        if let (Some(sq), Some(cq)) = (mask("SqMask:"), mask("CqMask:")) {
            out.push((fd, sq + 1, cq + 1));
        }
    }
    out
}

/// The "Using it" block, counting its system calls: "`ring.submit_and_wait(33)?;`
/// `// one io_uring_enter`" and "`ring.wait_timeout(1, Duration::from_millis(50))`
/// ... `Err(uring::Error::TimedOut)` `// no timeout SQE`". The block runs as
/// written (its loop body reads each completion); the enters are counted
/// by the library's per-thread system-call counters, and the timed-out
/// wait must leave nothing queued and post nothing, as a timeout SQE would.
#[test]
fn using_it_block_makes_one_enter_and_its_wait_queues_no_timeout_sqe() -> uring::Result<()> {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::builder().cq_entries(1024).coop_taskrun().build(256)?;
    assert_eq!(ring.params().cq_entries(), 1024);
    assert!(
        ring.params()
            .setup_flags()
            .contains(SetupFlags::COOP_TASKRUN | SetupFlags::CQSIZE)
    );
    ring.push(Nop::new().user_data(1))?;
    let mut sq = ring.submission();
    for i in 0..32 {
        sq.push(Nop::new().user_data(i))?;
    }
    drop(sq);
    let enters = fault::counts(Call::Enter).made;
    assert_eq!(ring.submit_and_wait(33)?, 33);
    assert_eq!(
        fault::counts(Call::Enter).made - enters,
        1,
        "submit_and_wait(33) took one io_uring_enter"
    );
    let mut seen = 0;
    for cqe in ring.completions() {
        assert_eq!(cqe.result()?, 0);
        seen += 1;
    }
    assert_eq!(seen, 33);

    let start = Instant::now();
    assert!(matches!(
        ring.wait_timeout(1, Duration::from_millis(50)),
        Err(Error::TimedOut)
    ));
    assert!(start.elapsed() >= Duration::from_millis(50));
    assert_eq!(ring.pending(), 0, "the wait queued no SQE");
    assert_eq!(ring.submit()?, 0, "nothing was left to submit");
    assert!(
        ring.wait_timeout(1, Duration::from_millis(20)).is_err(),
        "no timeout SQE completed"
    );
    assert_eq!(ring.ready(), 0);
    Ok(())
}

/// go-uring table: "`New(entries, opts...)` | `Ring::new(entries)`" and
/// "`Ring.Params` | `Ring::params()`: sizes, setup flags, `Features`";
/// `Ring::new`'s documentation: "`entries` SQ entries (rounded up to a
/// power of two) and twice as many CQ entries, with no other option".
/// "`Ring.Fd()` | `AsRawFd`": the number is the ring's descriptor.
#[test]
fn ring_new_rounds_up_doubles_the_cq_and_reports_its_params() -> uring::Result<()> {
    let ring = Ring::new(100)?;
    let params = ring.params();
    assert_eq!((params.sq_entries(), params.cq_entries()), (128, 256));
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (128, 256));
    assert_eq!(params.setup_flags(), SetupFlags::empty());
    assert!(params.has(uring::Features::NODROP | uring::Features::EXT_ARG));
    let link = std::fs::read_link(format!("/proc/self/fd/{}", ring.as_raw_fd())).unwrap();
    assert_eq!(link.to_string_lossy(), "anon_inode:[io_uring]");
    Ok(())
}

/// go-uring table: "`SetupOption`s `WithSQPoll`, `WithSQThreadCPU`,
/// `WithAttachedWQ` | `Ring::builder().sqpoll(idle).sq_thread_cpu(cpu).attach_wq(&ring).build(entries)`".
/// The chain builds, the kernel reports the three setup flags, and the
/// attached ring shares its owner's SQ thread (same pid in fdinfo).
#[test]
fn builder_sqpoll_cpu_and_attach_wq_chain_builds_as_mapped() -> uring::Result<()> {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_sqpoll() {
        return Ok(());
    }
    let owner = Ring::builder()
        .sqpoll(Duration::from_millis(10))
        .sq_thread_cpu(0)
        .build(8)?;
    let ring = Ring::builder()
        .sqpoll(Duration::from_millis(10))
        .sq_thread_cpu(0)
        .attach_wq(&owner)
        .build(8)?;
    let flags = ring.params().setup_flags();
    assert!(flags.contains(SetupFlags::SQPOLL | SetupFlags::SQ_AFF | SetupFlags::ATTACH_WQ));
    assert_eq!(ring.attached_wq(), Some(owner.as_raw_fd()));
    assert_eq!(owner.attached_wq(), None);
    let (owner_thread, owner_cpu) = uring_tests::sq_thread_info(&owner);
    let (thread, _) = uring_tests::sq_thread_info(&ring);
    assert!(owner_thread > 0, "the owner has an SQ thread");
    assert_eq!(thread, owner_thread, "one SQ thread serves both rings");
    assert_eq!(owner_cpu, 0, "bound to the CPU asked for");
    Ok(())
}

/// go-uring table: "`MaxEntries` | `sys::IORING_MAX_ENTRIES`; more needs
/// `Builder::clamp`" and "`ErrRingSetup` | `Error::Setup` / `Error::Os {
/// call: \"io_uring_setup\", .. }`": one entry too many is refused before
/// the kernel sees it (`Error::Setup`, no `io_uring_setup` made); with
/// `clamp` the kernel makes the largest ring; and an option the kernel
/// alone refuses (an SQ thread bound to a CPU that does not exist) comes
/// back as `Error::Os` naming `io_uring_setup`.
#[test]
fn max_entries_needs_clamp_and_setup_errors_map_as_the_table_says() {
    let max = uring::sys::IORING_MAX_ENTRIES;
    assert_eq!(max, 32768);
    let setups = fault::counts(Call::Setup).made;
    let refused = Ring::new(max + 1).unwrap_err();
    assert!(matches!(refused, Error::Setup(_)), "{refused:?}");
    assert_eq!(refused.raw_os_error(), Some(libc::EINVAL));
    assert_eq!(
        fault::counts(Call::Setup).made,
        setups,
        "refused before io_uring_setup"
    );

    let ring = Ring::builder().clamp().build(max + 1).unwrap();
    assert_eq!(ring.sq_entries(), max, "clamped to the maximum");
    assert!(ring.params().setup_flags().contains(SetupFlags::CLAMP));
    drop(ring);
    assert!(Ring::new(max).is_ok(), "the maximum itself needs no clamp");

    if !uring_tests::require_sqpoll() {
        return;
    }
    let kernel = Ring::builder()
        .sqpoll(Duration::from_millis(10))
        .sq_thread_cpu(1 << 20)
        .build(8)
        .unwrap_err();
    match kernel {
        Error::Os { call, ref source } => {
            assert_eq!(call, "io_uring_setup");
            assert_eq!(source.raw_os_error(), Some(libc::EINVAL));
        }
        other => panic!("expected Error::Os from io_uring_setup, got {other:?}"),
    }
}

/// "`Ring::create_many(count, entries, wp_count, &builder)`: `wp_count`
/// rings own a worker pool, the others attach to them in turn." and the
/// go-uring table: "`CreateMany(count, entries, wpCount, opts...)` and its
/// `Defer` | `Ring::create_many(count, entries, wp_count, &builder)`;
/// dropping the `Vec` closes them". Four rings over two pools: rings 2 and
/// 3 attach to 0 and 1; a `wp_count` that does not divide `count` is an
/// `InvalidArgument`; dropping the `Vec` makes four successful `close`s
/// on this thread. "`Ring.Close()` | `Ring::close()` (reports errors;
/// `Drop` closes too)": `close` makes one successful `close(2)` and says so.
#[test]
fn create_many_attaches_in_turn_and_dropping_the_vec_closes_every_ring() -> uring::Result<()> {
    let rings = Ring::create_many(4, 8, 2, &Ring::builder())?;
    assert_eq!(rings.len(), 4);
    assert_eq!(rings[0].attached_wq(), None);
    assert_eq!(rings[1].attached_wq(), None);
    assert_eq!(rings[2].attached_wq(), Some(rings[0].as_raw_fd()));
    assert_eq!(rings[3].attached_wq(), Some(rings[1].as_raw_fd()));
    for ring in &rings[2..] {
        assert!(ring.params().setup_flags().contains(SetupFlags::ATTACH_WQ));
    }
    for ring in &rings[..2] {
        assert!(!ring.params().setup_flags().contains(SetupFlags::ATTACH_WQ));
    }
    let closes = fault::counts(Call::Close);
    drop(rings);
    let after = fault::counts(Call::Close);
    assert_eq!(after.made - closes.made, 4, "one close per ring");
    assert_eq!(after.failed, closes.failed);

    for (count, wp) in [(4, 3), (4, 0), (2, 3), (0, 1)] {
        let e = Ring::create_many(count, 8, wp, &Ring::builder()).unwrap_err();
        assert!(
            matches!(e, Error::InvalidArgument(_)),
            "({count}, {wp}): {e:?}"
        );
    }

    let ring = Ring::new(8)?;
    let before = fault::counts(Call::Close);
    ring.close()?;
    let after = fault::counts(Call::Close);
    assert_eq!((after.made - before.made, after.failed), (1, before.failed));
    Ok(())
}

/// "A push that cannot happen hands the op back in a `PushError` saying
/// why (`QueueFull`, ...); nothing is written." and the go-uring table:
/// "`ErrSQOverflow` | `PushError` (`QueueFull`, the op handed back) /
/// `Error::QueueFull`". A ring of four SQEs takes four NOPs; the fifth
/// comes back with its `user_data`, the queue holds four, and `?` turns
/// the refusal into `Error::QueueFull`.
#[test]
fn a_full_sq_hands_the_op_back_and_converts_to_error_queue_full() -> uring::Result<()> {
    let mut ring = Ring::new(4)?;
    for i in 0..4 {
        ring.push(Nop::new().user_data(i))?;
    }
    let e = ring.push(Nop::new().user_data(99)).unwrap_err();
    assert_eq!(e.kind(), PushErrorKind::QueueFull);
    assert!(e.is_full());
    assert_eq!(ring.pending(), 4, "nothing was written");
    let back = e.into_inner();
    let converted: Error = ring.push(back).unwrap_err().into();
    assert!(matches!(converted, Error::QueueFull), "{converted:?}");
    let as_io = io::Error::from(converted);
    assert_eq!(as_io.kind(), io::ErrorKind::WouldBlock);
    let first = uring_tests::submit_and_reap(&mut ring, 4);
    assert_eq!(uring_tests::pairs(&first), [(0, 0), (1, 0), (2, 0), (3, 0)]);
    // The op handed back is the one pushed: its user_data comes back.
    let e = {
        for i in 10..14 {
            ring.push(Nop::new().user_data(i))?;
        }
        ring.push(Nop::new().user_data(99)).unwrap_err()
    };
    uring_tests::submit_and_reap(&mut ring, 4);
    ring.push(e.into_inner())?;
    let last = uring_tests::submit_and_reap(&mut ring, 1);
    assert_eq!(uring_tests::pairs(&last), [(99, 0)]);
    Ok(())
}

/// "`Ring::next_sqe()` (go-uring's `NextSQE`, liburing's
/// `io_uring_get_sqe`) hands out the next free slot, zeroed, to write in
/// place; it joins the queue at `unsafe VacantSqe::commit()`, and a slot
/// dropped uncommitted stays free." A slot scribbled on and dropped leaves
/// the queue as it was (room, nothing pending, nothing submitted), and the
/// same slot is handed out again zeroed.
#[test]
fn next_sqe_is_zeroed_and_a_slot_dropped_uncommitted_stays_free() -> uring::Result<()> {
    let mut ring = Ring::new(4)?;
    let room = ring.space_left();
    assert_eq!(room, 4);
    {
        let mut sqe = ring.next_sqe().expect("room");
        assert_eq!(sqe.opcode, 0);
        assert_eq!(sqe.user_data, 0);
        assert_eq!((sqe.fd, sqe.len, sqe.flags), (0, 0, 0));
        sqe.opcode = uring::sys::IORING_OP_NOP;
        sqe.user_data = 0xdead;
        sqe.len = 77;
        // The slot goes out of scope uncommitted.
    }
    assert_eq!(ring.space_left(), room);
    assert_eq!(ring.pending(), 0);
    assert_eq!(ring.submit()?, 0);
    let again = ring.next_sqe().expect("room");
    assert_eq!(
        (again.opcode, again.user_data, again.len),
        (0, 0, 0),
        "the slot is zeroed again"
    );
    Ok(())
}

/// go-uring table: "`PeekCQE()`, `SeenCQE(cqe)`, `AdvanceCQ(n)`,
/// `PeekCQEventBatch(buf)` | `peek()`, `advance(1)`, `advance(n)`,
/// `peek_batch(&mut buf)`". `peek` leaves the completion, `peek_batch`
/// copies without consuming and returns how many, `advance` consumes and
/// never moves past what is ready.
#[test]
fn peek_advance_and_peek_batch_behave_as_go_urings_calls() -> uring::Result<()> {
    let mut ring = Ring::new(8)?;
    for i in 1..=3 {
        ring.push(Nop::new().user_data(i))?;
    }
    ring.submit_and_wait(3)?;
    assert_eq!(ring.peek().map(|c| c.user_data()), Some(1));
    assert_eq!(
        ring.peek().map(|c| c.user_data()),
        Some(1),
        "peek leaves it"
    );
    let mut batch = [uring::Cqe::default(); 8];
    assert_eq!(ring.peek_batch(&mut batch), 3);
    let seen: Vec<u64> = batch[..3].iter().map(|c| c.user_data()).collect();
    assert_eq!(seen, [1, 2, 3]);
    assert_eq!(ring.ready(), 3, "peek_batch consumed nothing");
    assert_eq!(ring.advance(1), 1);
    assert_eq!(ring.peek().map(|c| c.user_data()), Some(2));
    assert_eq!(ring.advance(10), 2, "never past what is ready");
    assert_eq!(ring.ready(), 0);
    assert!(ring.peek().is_none());
    Ok(())
}

/// go-uring table: "`SqeIODrainFlag`, `SqeAsyncFlag` | `SqeFlags::IO_DRAIN`,
/// `SqeFlags::ASYNC` (and `CQE_SKIP_SUCCESS`)". Each lands in the SQE's
/// flags byte as the kernel's `IOSQE_*` bit, and a NOP flagged
/// `CQE_SKIP_SUCCESS` posts nothing while the others complete.
#[test]
fn settable_sqe_flags_reach_the_sqe_and_skip_success_posts_nothing() -> uring::Result<()> {
    use uring::sys::{IOSQE_ASYNC, IOSQE_CQE_SKIP_SUCCESS, IOSQE_IO_DRAIN};
    let mut ring = Ring::new(8)?;
    ring.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(1))?;
    ring.push(Nop::new().flags(SqeFlags::ASYNC).user_data(2))?;
    ring.push(Nop::new().flags(SqeFlags::CQE_SKIP_SUCCESS).user_data(3))?;
    let flags: Vec<u8> = ring.pending_sqes().map(|s| s.flags).collect();
    assert_eq!(
        flags,
        [IOSQE_IO_DRAIN, IOSQE_ASYNC, IOSQE_CQE_SKIP_SUCCESS],
        "one bit each"
    );
    ring.submit_and_wait(2)?;
    let mut got: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    // A NOP pushed after them completes; had the skipped one posted, it
    // would be read beside it.
    ring.push(Nop::new().user_data(4))?;
    ring.submit_and_wait(1)?;
    got.extend(ring.completions().map(|c| (c.user_data(), c.res())));
    got.sort_unstable();
    assert_eq!(
        got,
        [(1, 0), (2, 0), (4, 0)],
        "the skipped NOP posted nothing"
    );
    Ok(())
}

/// go-uring table: "`SetIOWQMaxWorkers(count)` |
/// `set_iowq_max_workers(IoWqWorkers { bounded, unbounded })`, returning the
/// previous limits". A second call returns what the first set.
#[test]
fn iowq_max_workers_returns_the_previous_limits() -> uring::Result<()> {
    let mut ring = Ring::new(8)?;
    ring.set_iowq_max_workers(IoWqWorkers {
        bounded: 3,
        unbounded: 5,
    })?;
    let previous = ring.set_iowq_max_workers(IoWqWorkers {
        bounded: 2,
        unbounded: 4,
    })?;
    assert_eq!((previous.bounded, previous.unbounded), (3, 5));
    let previous = ring.set_iowq_max_workers(IoWqWorkers {
        bounded: 0,
        unbounded: 0,
    })?;
    assert_eq!(
        (previous.bounded, previous.unbounded),
        (2, 4),
        "a 0 leaves the limit"
    );
    Ok(())
}

/// "`probe()` (answers by op type and names what the kernel lacks),
/// `Query::kernel()` (without a ring, 6.18: the opcodes and every setup,
/// feature, enter and SQE flag the kernel takes)"; the op table: "`GetSockName`
/// (... 6.19, so `Probe::missing` names it on 6.18)"; go-uring table:
/// "`Probe()` | `probe()` -> `Probe`: `supports::<Op>()`, `missing()`".
#[test]
fn probe_names_what_6_18_lacks_and_query_needs_no_ring() -> uring::Result<()> {
    if uring_tests::kernel_version() != (6, 18) {
        uring_tests::skip("the claims name Linux 6.18");
        return Ok(());
    }
    let ring = Ring::new(4)?;
    let probe = ring.probe()?;
    assert!(probe.supports::<Nop>());
    assert!(probe.supports::<uring::ops::Read<'_>>());
    let missing: Vec<&str> = probe.missing().map(|op| op.name).collect();
    assert!(missing.contains(&"GetSockName"), "{missing:?}");
    // The README's op table lists `BlockZoneResetAll` beside `BlockDiscard`
    // without a version; it is declared `#[since = "7.3"]`, and so 6.18
    // lacks it too. Nothing else of the table is missing.
    assert_eq!(
        missing,
        ["GetSockName", "BlockZoneResetAll"],
        "what 6.18 lacks of the table"
    );
    drop(ring);

    let query = Query::kernel()?;
    assert_eq!(query.opcodes(), u32::from(uring::sys::IORING_OP_LAST));
    assert!(query.knows::<Nop>());
    assert!(query.takes_setup(SetupFlags::SQPOLL | SetupFlags::COOP_TASKRUN));
    assert!(query.takes_setup(SetupFlags::CQE_MIXED));
    assert!(query.has(uring::Features::NODROP));
    let sqe_bits = u64::from(
        uring::sys::IOSQE_IO_DRAIN
            | uring::sys::IOSQE_ASYNC
            | uring::sys::IOSQE_CQE_SKIP_SUCCESS
            | uring::sys::IOSQE_IO_LINK,
    );
    assert_eq!(query.sqe_flags() & sqe_bits, sqe_bits);
    assert_ne!(
        query.enter_flags() & u64::from(uring::sys::IORING_ENTER_GETEVENTS),
        0
    );
    Ok(())
}

/// A completion's failure, taken with `?` in a function returning
/// `uring::Result`.
fn read_result(cqe: &uring::Cqe) -> uring::Result<u32> {
    let n = cqe.result()?;
    Ok(n)
}

/// "It converts to `io::Error` and back, so `?` takes a completion's
/// `cqe.result()` (an `io::Result<u32>`) in a function that returns
/// `uring::Result` (as `Error::Os` with `call` `\"I/O\"`)." A NOP with an
/// injected `-EBADF` gives `Error::Os { call: \"I/O\" }` carrying `EBADF`;
/// `Error`s turned into `io::Error` come back as the same variant.
#[test]
fn a_failed_completion_becomes_error_os_io_and_errors_round_trip() -> uring::Result<()> {
    let mut ring = Ring::new(4)?;
    if !uring_tests::require_kernel(6, 10, "IORING_NOP_INJECT_RESULT") {
        return Ok(());
    }
    ring.push(Nop::new().result(-libc::EBADF).user_data(1))?;
    ring.submit_and_wait(1)?;
    let cqe = ring.completions().next().expect("a completion");
    match read_result(&cqe) {
        Err(Error::Os { call, source }) => {
            assert_eq!(call, "I/O");
            assert_eq!(source.raw_os_error(), Some(libc::EBADF));
        }
        other => panic!("expected Error::Os with call \"I/O\", got {other:?}"),
    }
    let back = Error::from(io::Error::from(Error::TimedOut));
    assert!(matches!(back, Error::TimedOut), "{back:?}");
    let back = Error::from(io::Error::from(Error::QueueFull));
    assert!(matches!(back, Error::QueueFull), "{back:?}");
    let back = Error::from(io::Error::from(Error::PushRefused(PushErrorKind::Disabled)));
    assert!(
        matches!(back, Error::PushRefused(PushErrorKind::Disabled)),
        "{back:?}"
    );
    let back = Error::from(io::Error::from(Error::Setup("x")));
    assert!(matches!(back, Error::Setup("x")), "{back:?}");
    Ok(())
}

/// "Durations saturate: `wait_timeout(1, Duration::MAX)` waits as long as
/// the kernel can time, `Timeout::new(Duration::MAX)` never fires." The
/// first is taken (no `EINVAL`) and ends when a 30 ms timeout op fires;
/// the second has not fired after 150 ms and is still there to cancel
/// (`ECANCELED`, not `ETIME`).
#[test]
fn durations_saturate_in_waits_and_timeout_ops() -> uring::Result<()> {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8)?;
    ring.push(Timeout::new(Duration::from_millis(30)).user_data(1))?;
    ring.submit()?;
    ring.wait_timeout(1, Duration::MAX)?;
    let got: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(got, [(1, -libc::ETIME)]);

    ring.push(Timeout::new(Duration::MAX).user_data(2))?;
    ring.submit()?;
    assert!(matches!(
        ring.wait_timeout(1, Duration::from_millis(150)),
        Err(Error::TimedOut)
    ));
    ring.push(Cancel::new(2).user_data(3))?;
    ring.submit_and_wait(2)?;
    let mut got: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    got.sort_unstable();
    assert_eq!(got, [(2, -libc::ECANCELED), (3, 0)]);
    Ok(())
}

/// "`Disabled` in a scope of a ring not yet enabled, where `Ring::push`
/// queues the op for the first submit after `enable()`". On an
/// `r_disabled` ring a scope's push is refused as `Disabled` with the op
/// handed back, while `Ring::push` queues a NOP that completes once the
/// ring is enabled and submitted.
#[test]
fn a_disabled_ring_refuses_scope_pushes_and_queues_ring_pushes_for_enable() -> uring::Result<()> {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::builder().r_disabled().build(8)?;
    let refused = ring.scope(|s| s.push(Nop::new().user_data(5)).map_err(|e| e.kind()));
    assert_eq!(refused, Err(PushErrorKind::Disabled));
    ring.push(Nop::new().user_data(7))?;
    assert_eq!(ring.pending(), 1, "queued");
    ring.enable()?;
    ring.submit_and_wait(1)?;
    let got: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(got, [(7, 0)]);
    // Enabled now: the scope takes the op.
    let ok = ring.scope(|s| -> uring::Result<Vec<(u64, i32)>> {
        s.push(Nop::new().user_data(5))?;
        s.submit_and_wait(1)?;
        Ok(s.completions().map(|c| (c.user_data(), c.res())).collect())
    })?;
    assert_eq!(ok, [(5, 0)]);
    Ok(())
}

/// "`NothingPushed` from a `push_owned` whose closure pushed nothing";
/// "nothing is written". The buffer comes back in the error, whole, and
/// the SQ holds nothing.
#[test]
fn push_owned_whose_closure_pushes_nothing_hands_the_buffer_back() -> uring::Result<()> {
    let mut ring = Ring::new(8)?;
    let back = ring.scope(|s| {
        let e = s.push_owned(vec![7u8; 32], |_buf, _sq| {}).unwrap_err();
        assert_eq!(e.kind(), PushErrorKind::NothingPushed);
        e.into_inner()
    });
    assert_eq!(back, vec![7u8; 32]);
    assert_eq!(ring.pending(), 0);
    Ok(())
}

/// "`add` ... refuses a null address, an empty buffer and more than
/// `entries` adds before an `advance`" (a `RawBufRing`). Each refusal is
/// an `InvalidArgument`; `entries` adds go through and the next one is
/// refused until `advance` publishes them.
#[test]
fn raw_buf_ring_add_refuses_null_empty_and_one_past_entries() -> uring::Result<()> {
    // Declared before the ring: freed after the group is unregistered.
    let mut memory = vec![0u8; 4 * 64];
    let mut ring = Ring::new(8)?;
    let Some(mut raw) = uring_tests::raw_buf_ring(&mut ring, 3, 4) else {
        return Ok(());
    };
    let base = memory.as_mut_ptr();
    // SAFETY: a null address is refused before anything is written.
    let null = unsafe { raw.add(std::ptr::null_mut(), 64, 0) };
    assert!(matches!(null, Err(Error::InvalidArgument(_))), "{null:?}");
    // SAFETY: an empty buffer is refused before anything is written.
    let empty = unsafe { raw.add(base, 0, 0) };
    assert!(matches!(empty, Err(Error::InvalidArgument(_))), "{empty:?}");
    for bid in 0..4u16 {
        // SAFETY: each buffer is 64 bytes of `memory`, which outlives the
        // ring and so the group; no op selects from the group.
        unsafe { raw.add(base.add(usize::from(bid) * 64), 64, bid) }?;
    }
    // SAFETY: refused before anything is written (the ring is full).
    let fifth = unsafe { raw.add(base, 64, 9) };
    assert!(matches!(fifth, Err(Error::InvalidArgument(_))), "{fifth:?}");
    raw.advance();
    if uring_tests::kernel_version() >= (6, 8) {
        assert_eq!(raw.room()?, 0, "the four published buffers fill it");
    }
    drop(raw);
    drop(ring);
    drop(memory);
    Ok(())
}

/// "`register_buf_ring_mmap` and `register_buf_ring_incremental_mmap`
/// (`IOU_PBUF_RING_MMAP`, 6.4) let the kernel allocate the ring of
/// descriptors, which the `BufRing` maps (groups below 2048: the mmap
/// offset holds 11 bits of the id)", and the same "for a `RawBufRing`".
/// Group 2047 is taken; group 2048 is an `InvalidArgument` for both kinds,
/// before the kernel sees it (no register call made).
#[test]
fn mmap_buffer_rings_take_groups_below_2048_only() -> uring::Result<()> {
    let mut ring = Ring::new(8)?;
    let pool = ring.register_buf_ring_mmap(BufferGroup::new(2047), 4, 64)?;
    assert!(pool.is_mmap());
    drop(pool);
    let registers = fault::counts(Call::Register).made;
    let e = ring
        .register_buf_ring_mmap(BufferGroup::new(2048), 4, 64)
        .unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    let e = ring
        .register_buf_ring_raw_mmap(BufferGroup::new(2048), 4)
        .unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    assert_eq!(fault::counts(Call::Register).made, registers);
    let raw = ring.register_buf_ring_raw_mmap(BufferGroup::new(2047), 4)?;
    drop(raw);
    Ok(())
}

/// "`register_wait_region` / `wait_registered(n, slot)` name wait arguments
/// registered with the ring (6.13; ...; a region's last 64 bytes are never
/// a slot, since Linux 6.18 reads slot 0 for a wait on them)". A region of
/// one page (asked for one slot) has 63 slots of 64 bytes: slot 62 times
/// a wait out after its timeout, slot 63 (the last 64 bytes) is refused as
/// an `InvalidArgument`. The region is registered on an `r_disabled` ring:
/// the kernel takes it on no other.
#[test]
fn a_wait_region_page_has_63_slots_and_never_its_last_64_bytes() -> uring::Result<()> {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(6, 13, "registered wait regions") {
        return Ok(());
    }
    let mut ring = Ring::builder().r_disabled().build(8)?;
    ring.register_wait_region(1)?;
    ring.enable()?;
    ring.set_registered_wait(62, Some(Duration::from_millis(30)), None)?;
    let start = Instant::now();
    assert!(matches!(ring.wait_registered(1, 62), Err(Error::TimedOut)));
    assert!(start.elapsed() >= Duration::from_millis(30));
    let e = ring
        .set_registered_wait(63, Some(Duration::from_millis(30)), None)
        .unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    let e = ring.wait_registered(1, 63).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    Ok(())
}

/// The wait region on a ring that is already enabled: the README names
/// `register_wait_region` without a condition, and the kernel refuses it
/// (`EINVAL`) on any ring but an `r_disabled` one not yet enabled.
#[test]
fn a_wait_region_on_an_enabled_ring_is_refused_with_einval() -> uring::Result<()> {
    if !uring_tests::require_kernel(6, 13, "registered wait regions") {
        return Ok(());
    }
    let mut ring = Ring::new(8)?;
    let e = ring.register_wait_region(1).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e:?}");
    Ok(())
}

/// "A wait on a mixed CQ never asks the kernel for every slot (...): the
/// head moves past padding before each wait, and a wait that may not be
/// met before the CQ is read fails with `EBUSY`." With seven 16-byte
/// completions in a CQ of eight slots, a wait for eight fails with `EBUSY`
/// at once instead of hanging, and the seven are still there to read.
#[test]
fn a_mixed_cq_wait_for_every_slot_fails_with_ebusy() -> uring::Result<()> {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(6, 18, "IORING_SETUP_CQE_MIXED") {
        return Ok(());
    }
    let mut ring = Builder::new()
        .cq_entries(8)
        .build_sized::<uring::Sqe64, uring::CqeMixed>(8)?;
    for i in 0..7 {
        ring.push(Nop::new().user_data(i))?;
    }
    ring.submit_and_wait(7)?;
    let start = Instant::now();
    let e = ring.wait(8).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EBUSY), "{e:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(ring.completions().count(), 7);
    Ok(())
}

/// "IOPOLL rings, whose waits poll without the mask, refuse it" (a
/// signal mask in `wait_with`). The refusal is `Error::Unsupported`, made
/// before any enter.
#[test]
fn a_signal_mask_wait_on_an_iopoll_ring_is_refused() -> uring::Result<()> {
    let mut ring = Ring::builder().iopoll().build(8)?;
    let mask = uring_tests::signals::sig_set(false);
    let args = uring::WaitArgs::new()
        .timeout(Duration::from_millis(10))
        .sigmask(&mask);
    let enters = fault::counts(Call::Enter).made;
    let e = ring.wait_with(1, &args).unwrap_err();
    assert!(matches!(e, Error::Unsupported(_)), "{e:?}");
    assert_eq!(fault::counts(Call::Enter).made, enters, "no enter made");
    Ok(())
}

/// "`build_in(entries, region)` puts them in a `RingRegion` the caller
/// chose (...), needing `ring_memory_size(entries)` bytes as liburing's
/// `io_uring_memory_size` counts them (memory too small is an error
/// before the kernel sees it)". One page short is an `InvalidArgument`
/// with no `io_uring_setup` made; the size asked for builds.
#[test]
fn ring_memory_one_page_short_is_refused_before_setup() -> uring::Result<()> {
    if !uring_tests::require_kernel(6, 5, "IORING_SETUP_NO_MMAP") {
        return Ok(());
    }
    let builder = Ring::builder();
    let size = builder.ring_memory_size(64)?;
    assert_eq!(size % 4096, 0, "whole pages");
    // 64 SQEs of 64 bytes (one page), then the rings: 128 CQEs of 16 bytes
    // and the SQ array, with the header, in one more page.
    assert_eq!(size, 2 * 4096);
    let setups = fault::counts(Call::Setup).made;
    let small = uring::RingRegion::anonymous(size - 4096)?;
    let e = builder.build_in(64, small).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    assert_eq!(fault::counts(Call::Setup).made, setups);
    let ring = builder.build_in(64, uring::RingRegion::anonymous(size)?)?;
    assert_eq!(ring.params().sq_entries(), 64);
    Ok(())
}

/// "`Reactor::new` and `Reactor::ring_builder` rings have an 8192-entry
/// CQ" and "the ring should have `coop_taskrun`, as `Reactor::new`'s has".
/// `ring_builder` sets the CQ size and `coop_taskrun`; the ring `new`
/// makes shows 256 SQ and 8192 CQ entries in its fdinfo (no other test of
/// this file makes a ring of those sizes: the others build their reactors
/// over rings of 16 entries).
#[test]
fn reactor_rings_have_an_8192_entry_cq_and_coop_taskrun() -> io::Result<()> {
    let builder = uring::reactor::Reactor::ring_builder();
    let ring = builder.build(64)?;
    assert_eq!(ring.params().cq_entries(), 8192);
    let flags = ring.params().setup_flags();
    assert!(flags.contains(SetupFlags::COOP_TASKRUN), "{flags:?}");
    assert!(!flags.contains(SetupFlags::DEFER_TASKRUN));
    drop(ring);

    let sized = |fds: &[(i32, u32, u32)]| -> Vec<i32> {
        fds.iter()
            .filter(|&&(_, sq, cq)| (sq, cq) == (256, 8192))
            .map(|&(fd, _, _)| fd)
            .collect()
    };
    let before = sized(&io_uring_fds());
    let reactor = uring::reactor::Reactor::new()?;
    let after = sized(&io_uring_fds());
    let new: Vec<i32> = after
        .iter()
        .filter(|fd| !before.contains(fd))
        .copied()
        .collect();
    assert_eq!(
        new.len(),
        1,
        "one new ring of 256 SQ and 8192 CQ entries: {:?}",
        io_uring_fds()
    );
    drop(reactor);
    Ok(())
}

/// "`into_tokio` ... must not have `defer_taskrun`, whose completions an
/// epoll wait never sees: `into_tokio` refuses it". The refusal is an
/// `InvalidInput` error, inside a runtime.
#[test]
fn into_tokio_refuses_a_defer_taskrun_ring() -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let _enter = runtime.enter();
    let ring = Ring::builder().single_issuer().defer_taskrun().build(8)?;
    let reactor = uring::reactor::Reactor::from_ring(ring)?;
    match reactor.into_tokio() {
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}"),
        Ok(_) => panic!("a defer_taskrun ring was taken by into_tokio"),
    }
    Ok(())
}

/// "a scope begun while one lives refuses every push for its whole length
/// (`PushErrorKind::Targeted`) and no reactor takes the ring" (a
/// `RingTarget`), and "no reactor takes it (`Reactor::from_ring` fails
/// with `InvalidInput`...)" for a ring that took an op flagged `IO_DRAIN`.
#[test]
fn targeted_and_drained_rings_are_refused_by_scopes_and_reactors() -> uring::Result<()> {
    use uring::reactor::Reactor;
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8)?;
    let target = ring.msg_target()?;
    let refused = ring.scope(|s| s.push(Nop::new().user_data(1)).map_err(|e| e.kind()));
    assert_eq!(refused, Err(PushErrorKind::Targeted));
    let Err(e) = Reactor::from_ring(ring) else {
        panic!("a reactor took the ring");
    };
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    drop(target);

    let mut ring = Ring::new(8)?;
    ring.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(2))?;
    ring.submit_and_wait(1)?;
    assert_eq!(ring.completions().count(), 1);
    let Err(e) = Reactor::from_ring(ring) else {
        panic!("a reactor took the ring");
    };
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");

    // A ring that took neither is taken.
    assert!(Reactor::from_ring(Ring::new(8)?).is_ok());
    Ok(())
}

/// "Nothing sent is dropped unseen: a shut-down reactor refuses it with an
/// error, and what it accepted before is run during the shutdown (an op's
/// callback then gets the shutdown's error)." and the go-uring table:
/// "`Remote::queue`, `queue_with_deadline` (which return a `RemoteOpId`)".
/// An op queued through a `Remote` before the shutdown has its callback
/// run, with an error, by the shutdown (its id then cancels nothing, and
/// the cancel is refused as the reactor has shut down); after it,
/// `execute` and `queue` fail and their closures are never run.
#[test]
fn a_shut_down_reactor_runs_what_remotes_sent_and_refuses_the_rest() -> io::Result<()> {
    use uring::reactor::{Reactor, ops};
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::from_ring(Ring::new(8)?)?;
    let remote = reactor.remote();
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    let queued: uring::reactor::RemoteOpId = remote.queue(ops::Nop, move |res, _| {
        tx2.send(res.map_err(|e| e.kind())).unwrap();
    })?;
    assert!(
        rx.try_recv().is_err(),
        "not run before the reactor's thread looks"
    );
    reactor.shutdown();
    let got = rx.try_recv().expect("the callback ran during the shutdown");
    assert!(got.is_err(), "it got the shutdown's error: {got:?}");
    assert!(remote.cancel_queued(queued).is_err(), "shut down");
    let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ran2 = std::sync::Arc::clone(&ran);
    assert!(
        remote
            .execute(move |_| ran2.store(true, std::sync::atomic::Ordering::SeqCst))
            .is_err()
    );
    assert!(
        remote
            .queue(ops::Nop, move |res, _| {
                tx.send(res.map_err(|e| e.kind())).unwrap();
            })
            .is_err()
    );
    reactor.run().ok();
    assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    assert!(rx.try_recv().is_err(), "a refused op's callback never runs");
    Ok(())
}

/// "Sockets handed over with `from_std` are switched to blocking mode,
/// since io_uring does the waiting and an op in a worker would fail with
/// `WouldBlock` on a non-blocking one". A non-blocking stream and datagram
/// socket, after `from_std`: a read through a clone of each (same open
/// file description) blocks for its receive timeout instead of failing at
/// once.
#[test]
fn from_std_switches_sockets_to_blocking_mode() -> io::Result<()> {
    use std::io::Read as _;
    let _watch = uring_tests::watchdog();
    let reactor = uring::reactor::Reactor::from_ring(Ring::new(16)?)?;
    let handle = reactor.handle();
    let blocks = |read: &mut dyn FnMut() -> io::Result<usize>| -> Duration {
        let start = Instant::now();
        let e = read().unwrap_err();
        assert!(
            matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "{e}"
        );
        start.elapsed()
    };
    let timeout = Duration::from_millis(40);

    let (stream, _peer) = uring_tests::tcp_pair();
    stream.set_nonblocking(true)?;
    let mut clone = stream.try_clone()?;
    clone.set_read_timeout(Some(timeout))?;
    let mut buf = [0u8; 8];
    assert!(
        blocks(&mut || clone.read(&mut buf)) < timeout,
        "non-blocking before"
    );
    let _tcp = uring::net::TcpStream::from_std(&handle, stream);
    assert!(
        blocks(&mut || clone.read(&mut buf)) >= timeout,
        "blocking after from_std"
    );

    let udp = std::net::UdpSocket::bind("127.0.0.1:0")?;
    udp.set_nonblocking(true)?;
    let clone = udp.try_clone()?;
    clone.set_read_timeout(Some(timeout))?;
    let _udp = uring::net::UdpSocket::from_std(&handle, udp);
    assert!(
        blocks(&mut || clone.recv(&mut buf)) >= timeout,
        "blocking after from_std"
    );
    Ok(())
}

/// "`Ring::push` takes ops and chains that borrow nothing (`Unborrowed`: no
/// buffer, no descriptor, no registered file): `Nop`, `Timeout`, `Cancel`,
/// `Close` of an owned file, ..." A `Close` given the read end of a pipe
/// by value goes through `Ring::push`, and the kernel closes it: a write
/// to the pipe then finds no reader (`EPIPE`).
#[test]
fn ring_push_takes_a_close_of_an_owned_file_and_the_kernel_closes_it() -> uring::Result<()> {
    use std::io::Write as _;
    let mut ring = Ring::new(4)?;
    let (read, write) = uring_tests::pipe();
    let mut write = std::fs::File::from(write);
    write.write_all(b"x").unwrap();
    ring.push(uring::ops::Close::new(read).user_data(1))?;
    let cqe = uring_tests::reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0));
    let e = write.write_all(b"y").unwrap_err();
    assert_eq!(
        e.raw_os_error(),
        Some(libc::EPIPE),
        "the read end is closed"
    );
    Ok(())
}

/// "Scopes run on rings of one CQE size (`Cqe16`, `Cqe32`, with either SQE
/// size)" and "the scope's completions are `BigCqe`s with their extra words
/// as the kernel wrote them". A scope on a ring of 128-byte SQEs and
/// 32-byte CQEs runs a NOP that posts two extra words (`IORING_NOP_CQE32`,
/// 6.18), and its completion carries them and its `user_data`. (The
/// documentation of `Builder::build_sized` says the opposite: "Scopes are
/// for rings of the default sizes".)
#[test]
fn a_scope_runs_on_a_ring_of_128_byte_sqes_and_32_byte_cqes() -> uring::Result<()> {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(6, 18, "IORING_NOP_CQE32") {
        return Ok(());
    }
    let mut ring = Builder::new().build_sized::<uring::Sqe128, uring::Cqe32>(8)?;
    let got = ring.scope(|s| -> uring::Result<Vec<(u64, i32, [u64; 2])>> {
        s.push(Nop::new().big_cqe([0x1122, 0x3344]).user_data(9))?;
        s.submit_and_wait(1)?;
        Ok(s.completions()
            .map(|c| (c.user_data(), c.res(), c.big_cqe()))
            .collect())
    })?;
    assert_eq!(got, [(9, 0, [0x1122, 0x3344])]);
    Ok(())
}

/// "A full SQ is submitted and pushed again, a full CQ read into the
/// reactor: ops in flight are bounded by memory, not by the ring." A
/// reactor over a ring of 2 SQ and 4 CQ entries accepts 200 ops queued
/// before it runs, and every callback runs once, with success.
#[test]
fn a_reactor_takes_more_ops_than_its_ring_holds() -> io::Result<()> {
    use std::cell::Cell;
    use std::rc::Rc;
    use uring::reactor::{Reactor, ops};
    let _watch = uring_tests::watchdog();
    let ring = Reactor::ring_builder().cq_entries(4).build(2)?;
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (2, 4));
    let reactor = Reactor::from_ring(ring)?;
    let done = Rc::new(Cell::new(0u32));
    for _ in 0..200 {
        let done = Rc::clone(&done);
        reactor.queue(ops::Nop, move |res, ()| {
            assert_eq!(res.unwrap(), 0);
            done.set(done.get() + 1);
        })?;
    }
    reactor.run()?;
    assert_eq!(done.get(), 200);
    assert_eq!(reactor.in_flight(), 0);
    Ok(())
}

/// "`Handle::remote()` gives a `Remote`, which is `Send + Sync`.
/// `Remote::execute(|h: &Handle| ..)` runs a closure on the reactor's
/// thread at its next round (...), in the order one thread sent them" and
/// "While a `Remote` lives, `run` keeps serving it (...); it returns once
/// the last one is dropped." 100 closures sent from this thread run on
/// the reactor's thread, in order, while it has nothing else to do; `run`
/// returns `Ok` once both remotes are dropped.
#[test]
fn remote_closures_run_in_order_and_run_ends_with_the_last_remote() -> io::Result<()> {
    use uring::reactor::{Reactor, Remote};
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Remote>();
    if uring_tests::under_valgrind() {
        uring_tests::skip("valgrind runs one thread at a time");
        return Ok(());
    }
    let _watch = uring_tests::watchdog();
    let (tx, rx) = mpsc::channel();
    let reactor_thread = std::thread::spawn(move || -> io::Result<()> {
        let reactor = Reactor::from_ring(Ring::new(16)?)?;
        tx.send(reactor.remote()).unwrap();
        reactor.run()
    });
    let remote = rx.recv().unwrap();
    let second = remote.clone();
    let here = std::thread::current().id();
    let (seen_tx, seen_rx) = mpsc::channel();
    for i in 0..100 {
        let seen_tx = seen_tx.clone();
        remote.execute(move |_h| {
            seen_tx
                .send((i, std::thread::current().id() != here))
                .unwrap();
        })?;
    }
    drop(seen_tx);
    let seen: Vec<(i32, bool)> = seen_rx.iter().collect();
    assert_eq!(seen, (0..100).map(|i| (i, true)).collect::<Vec<_>>());
    drop(remote);
    std::thread::sleep(Duration::from_millis(20));
    assert!(!reactor_thread.is_finished(), "a Remote still lives");
    drop(second);
    reactor_thread.join().unwrap()?;
    Ok(())
}

/// "Dropping the reactor (or `Handle::shutdown`) cancels and waits for
/// everything in flight". A 10 s timeout's callback runs with `ECANCELED`
/// as the reactor is dropped, well before its time.
#[test]
fn dropping_the_reactor_cancels_what_is_in_flight() -> io::Result<()> {
    use std::cell::RefCell;
    use std::rc::Rc;
    use uring::reactor::{Reactor, ops};
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::from_ring(Ring::new(16)?)?;
    let got = Rc::new(RefCell::new(None));
    let got_in = Rc::clone(&got);
    reactor.queue(
        ops::Timeout::new(Duration::from_secs(10)),
        move |res, ()| {
            *got_in.borrow_mut() = Some(res.map_err(|e| e.raw_os_error()));
        },
    )?;
    reactor.submit()?;
    let start = Instant::now();
    drop(reactor);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(*got.borrow(), Some(Err(Some(libc::ECANCELED))));
    Ok(())
}

/// go-uring table: "`RegisterFiles`, `UnRegisterFiles`, `RegisterBuffers`,
/// `UnRegisterBuffers` | `register_files` -> `FixedFiles`,
/// `unregister_files`, `register_buffers` -> `FixedBuffers`,
/// `unregister_buffers`" and "`CQEvent` | `Cqe`: `user_data()`, `result()`,
/// `flags()`, `buffer_id()`". The handles go back through the
/// unregistering calls (a second table can be registered after each), and
/// a NOP's completion names no buffer.
#[test]
fn registration_handles_and_cqe_accessors_are_as_mapped() -> uring::Result<()> {
    use std::os::fd::AsFd;
    let mut ring = Ring::new(4)?;
    let file = tempfile::tempfile().unwrap();
    let files = ring.register_files(&[file.as_fd()])?;
    assert!(
        ring.register_files(&[file.as_fd()]).is_err(),
        "one table at a time"
    );
    ring.unregister_files(files).map_err(|e| e.error)?;
    let _files = ring.register_files(&[file.as_fd()])?;
    let buffers = ring.register_buffers_sparse(4)?;
    ring.unregister_buffers(buffers).map_err(|e| e.error)?;
    let _again = ring.register_buffers_sparse(4)?;

    ring.push(Nop::new().user_data(3))?;
    let cqe = uring_tests::reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.result()?, cqe.flags()), (3, 0, 0));
    assert_eq!(cqe.buffer_id(), None);
    Ok(())
}

/// "`register_clock(Clock::Boottime)` times waits on `CLOCK_BOOTTIME`
/// (6.12)" and "`set_iowait(false)` makes waits not count as iowait
/// (`IORING_ENTER_NO_IOWAIT`, 6.15)": both are taken on this kernel, and a
/// timed wait still times out after its time.
#[test]
fn boottime_clock_and_no_iowait_are_taken_and_waits_still_time_out() -> uring::Result<()> {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(6, 15, "IORING_ENTER_NO_IOWAIT") {
        return Ok(());
    }
    let mut ring = Ring::new(4)?;
    ring.register_clock(uring::Clock::Boottime)?;
    ring.set_iowait(false)?;
    let start = Instant::now();
    assert!(matches!(
        ring.wait_timeout(1, Duration::from_millis(30)),
        Err(Error::TimedOut)
    ));
    assert!(start.elapsed() >= Duration::from_millis(30));
    Ok(())
}

/// "`wait_with(n, &WaitArgs)` adds a minimum wait (`min_wait(d)`, the
/// kernel's `min_wait_usec`, 6.12: return after it with at least one
/// completion, or on until one comes". A wait for two completions with one
/// ready returns `Ok` once its 30 ms minimum has passed, long before its
/// 5 s timeout.
#[test]
fn a_min_wait_returns_after_it_with_one_completion() -> uring::Result<()> {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(6, 12, "min_wait_usec") {
        return Ok(());
    }
    let mut ring = Ring::new(4)?;
    ring.push(Nop::new().user_data(1))?;
    ring.submit()?;
    let args = uring::WaitArgs::new()
        .min_wait(Duration::from_millis(30))
        .timeout(Duration::from_secs(5));
    let start = Instant::now();
    ring.wait_with(2, &args)?;
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(30), "{took:?}");
    assert!(took < Duration::from_secs(4), "{took:?}");
    assert_eq!(ring.ready(), 1);
    Ok(())
}

/// "`SharedSqThread` for a chain on a ring whose SQ thread another ring
/// shares (Linux 6.18's shared thread cuts chains into independent pieces
/// of at most 8 SQEs)". Both the attached ring and the ring whose thread
/// it shares refuse a two-op chain, handing it back; a single op goes
/// through on each.
#[test]
fn chains_on_rings_sharing_an_sq_thread_are_refused() -> uring::Result<()> {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_sqpoll() {
        return Ok(());
    }
    let mut owner = Ring::builder().sqpoll(Duration::from_millis(10)).build(8)?;
    let mut attached = Ring::builder()
        .sqpoll(Duration::from_millis(10))
        .attach_wq(&owner)
        .build(8)?;
    let chain = || Nop::new().user_data(1).link(Nop::new().user_data(2));
    let e = attached.push(chain()).unwrap_err();
    assert_eq!(e.kind(), PushErrorKind::SharedSqThread);
    assert_eq!(attached.pending(), 0);
    let e = owner.push(chain()).unwrap_err();
    assert_eq!(
        e.kind(),
        PushErrorKind::SharedSqThread,
        "the owner's thread is shared too"
    );
    attached.push(Nop::new().user_data(3))?;
    let cqe = uring_tests::reap_one(&mut attached);
    assert_eq!((cqe.user_data(), cqe.res()), (3, 0));
    owner.push(Nop::new().user_data(4))?;
    let cqe = uring_tests::reap_one(&mut owner);
    assert_eq!((cqe.user_data(), cqe.res()), (4, 0));
    Ok(())
}

/// "`close_ring_fd()` closes the descriptor of a ring whose index is
/// registered, leaving it the same" and "`OtherThread` in a scope of a
/// ring without a descriptor (`registered_fd_only`, `close_ring_fd`) away
/// from the thread that registered its index, where no enter reaches the
/// ring". After `close_ring_fd` the ring has no descriptor and still runs
/// NOPs here; moved to another thread, its scope refuses a push as
/// `OtherThread`.
#[test]
fn close_ring_fd_keeps_the_ring_and_its_scope_refuses_other_threads() -> uring::Result<()> {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8)?;
    ring.register_ring_fd()?;
    ring.close_ring_fd()?;
    assert_eq!(ring.as_raw_fd(), -1, "no descriptor left");
    ring.push(Nop::new().user_data(1))?;
    let cqe = uring_tests::reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0));
    let (ring, refused) = std::thread::spawn(move || {
        let mut ring = ring;
        let refused = ring.scope(|s| s.push(Nop::new().user_data(2)).map_err(|e| e.kind()));
        (ring, refused)
    })
    .join()
    .unwrap();
    assert_eq!(refused, Err(PushErrorKind::OtherThread));
    drop(ring);

    let mut only = match Ring::builder().registered_fd_only().build(8) {
        Ok(ring) => ring,
        Err(e) => {
            uring_tests::skip(format_args!("registered_fd_only: {e}"));
            return Ok(());
        }
    };
    assert_eq!(only.as_raw_fd(), -1);
    let ok = only.scope(|s| -> uring::Result<Vec<(u64, i32)>> {
        s.push(Nop::new().user_data(3))?;
        s.submit_and_wait(1)?;
        Ok(s.completions().map(|c| (c.user_data(), c.res())).collect())
    })?;
    assert_eq!(ok, [(3, 0)]);
    let refused = std::thread::spawn(move || {
        only.scope(|s| s.push(Nop::new().user_data(4)).map_err(|e| e.kind()))
    })
    .join()
    .unwrap();
    assert_eq!(refused, Err(PushErrorKind::OtherThread));
    Ok(())
}

/// "`post(res, user_data)` puts a completion in the ring from no ring
/// (6.13). `msg_target()` gives a `RingTarget`, `Send` and `Sync`, that
/// names the ring for `MsgRing`, `MsgRingFd` (...) and `post` from other
/// threads". A post from the ring and one from another thread through its
/// target each arrive as a completion with the result and `user_data`
/// given.
#[test]
fn post_and_a_ring_target_post_from_another_thread_arrive() -> uring::Result<()> {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<uring::RingTarget>();
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(6, 13, "IORING_REGISTER_SEND_MSG_RING") {
        return Ok(());
    }
    let mut ring = Ring::new(8)?;
    ring.post(5, 77)?;
    let target = ring.msg_target()?;
    std::thread::spawn(move || target.post(-3, 78))
        .join()
        .unwrap()?;
    ring.wait(2)?;
    let got: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(got, [(77, 5), (78, -3)]);
    Ok(())
}

/// "`resize(sq, cq)` grows or shrinks a `defer_taskrun` ring keeping its
/// completions (6.13; ...)". Three completions posted before a resize from
/// 8/16 to 32/64 entries are read after it, and the ring reports its new
/// sizes and takes more ops.
#[test]
fn resize_keeps_the_completions_of_a_defer_taskrun_ring() -> uring::Result<()> {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(6, 13, "IORING_REGISTER_RESIZE_RINGS") {
        return Ok(());
    }
    let mut ring = Ring::builder().single_issuer().defer_taskrun().build(8)?;
    for i in 1..=3 {
        ring.push(Nop::new().user_data(i))?;
    }
    ring.submit_and_wait(3)?;
    assert_eq!(ring.ready(), 3);
    ring.resize(32, 64)?;
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (32, 64));
    let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(got, [1, 2, 3]);
    ring.push(Nop::new().user_data(4))?;
    let cqe = uring_tests::reap_one(&mut ring);
    assert_eq!(cqe.user_data(), 4);
    Ok(())
}

/// The "Using it" block's list of setup options: "io_uring_setup options:
/// cq size, sqpoll(idle), sq_thread_cpu, attach_wq, iopoll, hybrid_iopoll,
/// clamp, submit_all, coop_taskrun, taskrun_flag, single_issuer,
/// defer_taskrun, no_sqarray, r_disabled, no_mmap(_huge_pages),
/// registered_fd_only". Each option (but those of SQ threads, checked
/// above) sets its `IORING_SETUP_*` flag, and the ring the kernel made
/// reports it back in `params()`.
#[test]
fn each_builder_option_sets_its_setup_flag_and_the_kernel_reports_it() -> uring::Result<()> {
    let b = Ring::builder;
    let cases: Vec<(&str, Builder<'static>, SetupFlags)> = vec![
        ("cq_entries", b().cq_entries(64), SetupFlags::CQSIZE),
        ("iopoll", b().iopoll(), SetupFlags::IOPOLL),
        (
            "hybrid_iopoll",
            b().iopoll().hybrid_iopoll(),
            SetupFlags::IOPOLL | SetupFlags::HYBRID_IOPOLL,
        ),
        ("clamp", b().clamp(), SetupFlags::CLAMP),
        ("submit_all", b().submit_all(), SetupFlags::SUBMIT_ALL),
        ("coop_taskrun", b().coop_taskrun(), SetupFlags::COOP_TASKRUN),
        (
            "taskrun_flag",
            b().coop_taskrun().taskrun_flag(),
            SetupFlags::COOP_TASKRUN | SetupFlags::TASKRUN_FLAG,
        ),
        (
            "single_issuer",
            b().single_issuer(),
            SetupFlags::SINGLE_ISSUER,
        ),
        (
            "defer_taskrun",
            b().single_issuer().defer_taskrun(),
            SetupFlags::SINGLE_ISSUER | SetupFlags::DEFER_TASKRUN,
        ),
        ("no_sqarray", b().no_sqarray(), SetupFlags::NO_SQARRAY),
        ("r_disabled", b().r_disabled(), SetupFlags::R_DISABLED),
        ("no_mmap", b().no_mmap(), SetupFlags::NO_MMAP),
        (
            "registered_fd_only",
            b().registered_fd_only(),
            SetupFlags::NO_MMAP | SetupFlags::REGISTERED_FD_ONLY,
        ),
    ];
    for (name, builder, flags) in cases {
        assert_eq!(builder.flags(), flags.bits(), "{name}: the builder's flags");
        let ring = builder.build(16).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(ring.params().setup_flags(), flags, "{name}: the kernel's");
    }
    match b().no_mmap_huge_pages().build(16) {
        Ok(ring) => assert_eq!(ring.params().setup_flags(), SetupFlags::NO_MMAP),
        Err(e) => uring_tests::skip(format_args!("no huge pages to give: {e}")),
    }
    Ok(())
}

/// "completions held back in the CQ overflow list (or as flagged task
/// work) are flushed. `get_events()` flushes them, and runs the task work
/// of a `defer_taskrun` ring, without submitting or waiting (...);
/// `cq_has_overflow()` and `has_task_work()` read the kernel's flags." and
/// "`completions()` iterates what is ready and hands the slots back when
/// dropped". Six NOPs into a CQ of four: two overflow, the flag says so,
/// and once the four are read `get_events` brings the two in. A timeout
/// that fires on a `defer_taskrun` ring is task work, flagged, that only
/// `get_events` runs, and the NOP queued meanwhile stays unsubmitted.
#[test]
fn get_events_flushes_overflow_and_runs_deferred_task_work_without_submitting() -> uring::Result<()>
{
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::builder().cq_entries(4).build(4)?;
    for i in 0..4 {
        ring.push(Nop::new().user_data(i))?;
    }
    ring.submit()?;
    for i in 4..6 {
        ring.push(Nop::new().user_data(i))?;
    }
    ring.submit()?;
    assert_eq!(ring.ready(), 4);
    assert!(ring.cq_has_overflow());
    // A partial read hands back only the slots read.
    assert_eq!(ring.completions().take(1).count(), 1);
    assert_eq!(ring.ready(), 3);
    let rest: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(rest, [1, 2, 3]);
    ring.get_events()?;
    assert!(!ring.cq_has_overflow());
    let flushed: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(flushed, [4, 5]);

    let mut ring = Ring::builder()
        .single_issuer()
        .defer_taskrun()
        .taskrun_flag()
        .build(4)?;
    ring.push(Timeout::new(Duration::from_millis(5)).user_data(1))?;
    ring.submit()?;
    std::thread::sleep(Duration::from_millis(40));
    assert_eq!(ring.ready(), 0, "deferred until the ring asks");
    assert!(ring.has_task_work());
    ring.push(Nop::new().user_data(2))?;
    ring.get_events()?;
    assert!(!ring.has_task_work());
    assert_eq!(ring.pending(), 1, "get_events submitted nothing");
    let got: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(got, [(1, -libc::ETIME)]);
    Ok(())
}
