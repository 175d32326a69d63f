//! Ring restrictions and personalities in the combinations the other
//! suites (`attacks_restrictions_source_audit.rs`, `personality.rs`,
//! `attacks_register_source_audit.rs`, `bad_input_audit.rs`,
//! `liburing_cases_seventh.rs`) leave out: cancels the program asks for
//! (`Scope::cancel`, `Handle::cancel`) on rings that refuse them; a
//! scope's end on SQPOLL and `defer_taskrun` rings left with synchronous
//! cancellation alone; SQEs queued on a disabled SQPOLL ring before it is
//! enabled; resizes the rules refuse or allow; registrations of rules that
//! fail, that are too many, and register calls between the rules and
//! `enable`; a chain whose tail the rules refuse (`then_write`); the
//! personality table filled up; a personality unregistered while an op
//! that named it waits in a chain; a personality of another ring.
//!
//! Read against Linux 6.18's `io_uring/register.c`
//! (`io_register_restrictions`, `io_parse_restrictions`,
//! `io_register_enable_rings`, `io_register_personality` with
//! `xa_alloc_cyclic` over ids 1 to 65535, `io_register_resize_rings`,
//! `__io_uring_register`'s `ctx->restricted` check), `io_uring/io_uring.c`
//! (`io_init_req`: `io_check_restriction` and the personality's
//! `get_cred` at submission; `io_submit_fail_init`), `io_uring/sqpoll.c`
//! (`__io_sq_thread` submits nothing while `IORING_SETUP_R_DISABLED`) and
//! `io_uring/cancel.c` (`io_sync_cancel` searches the io-wq of the calling
//! task, `io_async_cancel_one`).
//!
//! Each test asserts what the kernel and the library did: results and
//! errnos, which bytes moved, canary bytes, how long a scope took to end.

use std::cell::RefCell;
use std::ffi::CString;
use std::io::{Read as _, Write as _};
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use uring::ops::{Nop, OpenAt, Read, Timeout};
use uring::reactor::{Reactor, SharedFd, ops as rops};
use uring::{Fd, PushErrorKind, Restriction, Ring, SqeFlags, sys};
use uring_tests::{PATIENCE, in_own_process, pipe, skip, watchdog};

const CANARY: u8 = 0xc3;

/// Allows the opcode `code`.
fn op(code: u8) -> Restriction {
    Restriction::opcode(code)
}

/// Allows the register opcode `code`.
fn reg(code: u32) -> Restriction {
    Restriction::register_op(code as u8)
}

/// The errno of a library result.
fn errno<T>(r: &uring::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(|e| e.raw_os_error())
}

/// The errno of an `io::Result`.
fn io_errno<T>(r: &std::io::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(|e| e.raw_os_error())
}

/// Every completion waiting in `ring`, as (`user_data`, `res`).
fn drain(ring: &mut Ring) -> Vec<(u64, i32)> {
    ring.completions()
        .map(|c| (c.user_data(), c.res()))
        .collect()
}

/// Waits for `n` completions of `ring` (submitting what is queued) and
/// returns them in order.
fn reap(ring: &mut Ring, n: usize) -> Vec<(u64, i32)> {
    let mut got = Vec::new();
    let started = Instant::now();
    while got.len() < n {
        assert!(started.elapsed() < PATIENCE, "only {got:?} of {n}");
        // Again each time: the kernel stops a submission at an SQE the
        // rules refuse, leaving the rest queued.
        ring.submit().unwrap();
        match ring.wait_timeout(1, Duration::from_millis(100)) {
            Ok(_) | Err(uring::Error::TimedOut) => {}
            Err(e) => panic!("wait: {e}"),
        }
        got.extend(drain(ring));
    }
    got
}

/// A ring created disabled with `rules` registered, not enabled yet.
fn restricted(rules: &[Restriction]) -> Ring {
    let mut ring = Ring::builder().r_disabled().build(8).unwrap();
    ring.register_restrictions(rules).unwrap();
    ring
}

// ---------------------------------------------------------------------------
// Cancels the program asks for, refused
// ---------------------------------------------------------------------------

/// A scope on a ring whose restrictions allow reads and synchronous
/// cancellation but no `ASYNC_CANCEL`. The kernel would refuse a cancel
/// request (`-EACCES`) into a completion the scope keeps to itself, and
/// the read would go on with nothing said (the scope once answered
/// `Ok(1)` so, and a program waiting for the `ECANCELED` waited for ever):
/// `Scope::cancel` now refuses it up front (`Restricted`), the read stays
/// in flight, and the scope's end cancels it synchronously, the buffer
/// keeping its canary. On a ring whose rules allow `ASYNC_CANCEL`, the
/// same cancel ends the read with `ECANCELED`.
#[test]
fn a_scope_cancel_the_restrictions_refuse_is_refused_up_front() {
    let _watch = watchdog();
    if !uring_tests::require_kernel(6, 0, "IORING_REGISTER_SYNC_CANCEL") {
        return;
    }
    for allowed in [false, true] {
        let mut rules = vec![
            op(sys::IORING_OP_READ),
            op(sys::IORING_OP_NOP),
            reg(sys::IORING_REGISTER_SYNC_CANCEL),
        ];
        if allowed {
            rules.push(op(sys::IORING_OP_ASYNC_CANCEL));
        }
        let mut ring = restricted(&rules);
        ring.enable().unwrap();
        let (rx, _tx) = pipe();
        let mut buf = [CANARY; 8];
        let (queued, seen, live) = ring.scope(|s| {
            s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
            s.submit().unwrap();
            let queued = s.cancel(1).map_err(|e| e.kind());
            s.submit().unwrap();
            let mut seen = Vec::new();
            if queued.is_ok() {
                s.wait_timeout(1, PATIENCE).unwrap();
                seen.extend(s.completions().map(|c| (c.user_data(), c.res())));
            }
            (queued, seen, s.in_flight())
        });
        assert_eq!(buf, [CANARY; 8], "the read took nothing");
        if allowed {
            assert_eq!(queued, Ok(1));
            assert_eq!(seen, [(1, -libc::ECANCELED)]);
            assert_eq!(live, 0);
        } else {
            assert_eq!(queued, Err(PushErrorKind::Restricted));
            assert_eq!(live, 1, "the read goes on until the scope's end");
        }
        assert_eq!(drain(&mut ring), [], "allowed {allowed}");
    }
}

/// The same for a reactor: `Handle::cancel` of a pipe read on a ring
/// whose restrictions refuse `ASYNC_CANCEL` once answered `Ok(true)` ("it
/// completes soon, with `ECANCELED`") while the kernel refused the request
/// and the read went on. It is now a `PermissionDenied` error, and the
/// read goes on, as it says: bytes written later are what it completes
/// with.
#[test]
fn a_reactor_cancel_the_restrictions_refuse_is_an_error() {
    let _watch = watchdog();
    let reactor = Reactor::from_ring(restricted(&[
        op(sys::IORING_OP_READ),
        op(sys::IORING_OP_NOP),
        op(sys::IORING_OP_POLL_ADD),
        op(sys::IORING_OP_TIMEOUT),
    ]))
    .unwrap();
    let (rx, tx) = pipe();
    let rx = SharedFd::new(rx);
    let calls = Rc::new(RefCell::new(Vec::new()));
    let seen = Rc::clone(&calls);
    let id = reactor
        .queue(
            rops::Read::new(&rx, vec![CANARY; 8], u64::MAX),
            move |r, buf| {
                seen.borrow_mut().push((io_errno(&r), r.ok(), buf));
            },
        )
        .unwrap();
    reactor.submit().unwrap();
    let answered = reactor.cancel(id);
    assert_eq!(
        answered.map_err(|e| e.kind()),
        Err(std::io::ErrorKind::PermissionDenied)
    );
    uring_tests::run_for(&reactor, 50);
    assert!(calls.borrow().is_empty(), "the read goes on");
    std::fs::File::from(tx).write_all(b"late").unwrap();
    let started = Instant::now();
    while calls.borrow().is_empty() && started.elapsed() < PATIENCE {
        uring_tests::run_for(&reactor, 10);
    }
    let calls = calls.borrow();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].0, None, "no error");
    assert_eq!(calls[0].1, Some(4));
    assert_eq!(&calls[0].2[..4], b"late");
}

// ---------------------------------------------------------------------------
// A scope's end with synchronous cancellation alone
// ---------------------------------------------------------------------------

/// Makes a FIFO at `path` and returns its path as a C string.
fn fifo(path: &std::path::Path) -> CString {
    let c = uring_tests::cpath(path);
    // SAFETY: `c` is a valid C string; mkfifo reads it only.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    c
}

/// Opens the FIFO at `path` for writing without waiting: `ENXIO` while no
/// reader has it open.
fn open_writer(path: &std::path::Path) -> Result<std::fs::File, Option<i32>> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| e.raw_os_error())
}

/// An open of a FIFO for reading, which blocks in an io-wq worker until a
/// writer comes (a pipe read would not do: a worker arms a poll for a
/// file that can be polled, which any cancel finds), on a ring whose
/// restrictions refuse `ASYNC_CANCEL` but allow
/// `IORING_REGISTER_SYNC_CANCEL`; then the scope ends. On a plain ring the
/// synchronous cancel finds the worker (`io_async_cancel_one` on the
/// calling task's io-wq, which signals it) and the scope returns at once,
/// no reader left on the FIFO. On an SQPOLL ring the worker is the SQ
/// thread's, which `io_sync_cancel` does not search (`Ring::cancel_sync`
/// says so): no cancel the rules leave reaches the open, and the scope
/// waits until a writer comes 1.5 s later (here a thread; without it, for
/// ever). SAFETY.md's "Known limits" names only rings that forbid both
/// cancel requests and synchronous cancellation.
#[test]
#[ignore = "a known limit (SAFETY.md): on an SQPOLL ring whose restrictions refuse ASYNC_CANCEL, a scope ends only when its io-wq op ends by itself; fails when run"]
fn an_sqpoll_scope_left_with_sync_cancel_ends_without_waiting_for_its_worker_open() {
    let _watch = watchdog();
    if !uring_tests::require_kernel(6, 0, "IORING_REGISTER_SYNC_CANCEL")
        || !uring_tests::require_sqpoll()
    {
        return;
    }
    for sqpoll in [false, true] {
        let builder = Ring::builder().r_disabled();
        let builder = if sqpoll {
            builder.sqpoll(Duration::from_millis(10))
        } else {
            builder
        };
        let mut ring = builder.build(8).unwrap();
        ring.register_restrictions(&[
            op(sys::IORING_OP_OPENAT),
            op(sys::IORING_OP_NOP),
            reg(sys::IORING_REGISTER_SYNC_CANCEL),
            Restriction::sqe_flags_allowed(sys::IOSQE_ASYNC),
        ])
        .unwrap();
        ring.enable().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fifo");
        let cpath = fifo(&path);
        let writer = {
            let path = path.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(1500));
                open_writer(&path).ok()
            })
        };
        let started = Instant::now();
        let (live, early) = ring.scope(|s| {
            s.push(
                OpenAt::new(Fd::CWD, &cpath)
                    .open_flags(libc::O_RDONLY | libc::O_CLOEXEC)
                    .flags(SqeFlags::ASYNC)
                    .user_data(1),
            )
            .unwrap();
            s.submit().unwrap();
            std::thread::sleep(Duration::from_millis(100));
            let early: Vec<(u64, i32)> =
                s.completions().map(|c| (c.user_data(), c.res())).collect();
            (s.in_flight(), early)
        });
        let took = started.elapsed();
        let wrote = writer.join().unwrap();
        assert_eq!(
            (live, early),
            (1, vec![]),
            "sqpoll {sqpoll}: the open waits"
        );
        assert!(
            took < Duration::from_secs(1),
            "sqpoll {sqpoll}: the scope took {took:?} to end, waiting for the writer \
             (which found a reader: {})",
            wrote.is_some()
        );
        assert!(
            wrote.is_none(),
            "sqpoll {sqpoll}: the cancelled open left a reader"
        );
        assert_eq!(drain(&mut ring), [], "sqpoll {sqpoll}");
    }
}

/// The same read (without `IOSQE_ASYNC`, armed by poll) on a
/// `defer_taskrun` ring whose rules refuse `ASYNC_CANCEL` and allow
/// synchronous cancellation: the scope ends at once through the
/// synchronous cancel (`cancel_sync` runs the ring's task work around it),
/// the buffer keeps its canary, the bytes written afterwards stay in the
/// pipe, and no completion is left to the program.
#[test]
fn a_defer_taskrun_scope_ends_through_synchronous_cancellation_alone() {
    let _watch = watchdog();
    if !uring_tests::require_kernel(6, 1, "defer_taskrun") {
        return;
    }
    let mut ring = match Ring::builder()
        .single_issuer()
        .defer_taskrun()
        .r_disabled()
        .build(8)
    {
        Ok(ring) => ring,
        Err(e) => return skip(format_args!("no defer_taskrun ring: {e}")),
    };
    ring.register_restrictions(&[
        op(sys::IORING_OP_READ),
        op(sys::IORING_OP_NOP),
        reg(sys::IORING_REGISTER_SYNC_CANCEL),
    ])
    .unwrap();
    ring.enable().unwrap();
    let (rx, tx) = pipe();
    let mut buf = [CANARY; 4];
    let started = Instant::now();
    let live = ring.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
        s.submit().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        s.in_flight()
    });
    assert!(started.elapsed() < PATIENCE / 2, "{:?}", started.elapsed());
    assert_eq!(live, 1, "the read was waiting");
    assert_eq!(buf, [CANARY; 4]);
    assert_eq!(drain(&mut ring), [], "completions left after the scope");
    std::fs::File::from(tx).write_all(b"kept").unwrap();
    let mut left = [0u8; 4];
    std::fs::File::from(rx).read_exact(&mut left).unwrap();
    assert_eq!(&left, b"kept");
    ring.push(Nop::new().user_data(9)).unwrap();
    assert_eq!(reap(&mut ring, 1), [(9, 0)]);
}

/// A ring whose rules require `IOSQE_IO_DRAIN` on every SQE and allow
/// synchronous cancellation. In a scope, a pipe read and a NOP, both
/// flagged `IO_DRAIN` (the one flag safe code may add that the rule
/// needs); the NOP waits behind the read. The scope's cancel requests lack
/// the flag and are refused (`EACCES`); its synchronous cancel reaches the
/// read, after which the drained NOP runs: the scope returns promptly,
/// the read's buffer keeps its canary, no completion is left to the
/// program, and the pipe's later bytes stay unread. An op pushed without
/// the flag is refused, once.
#[test]
fn a_scope_on_a_ring_that_requires_drain_ends_through_synchronous_cancellation() {
    let _watch = watchdog();
    if !uring_tests::require_kernel(6, 0, "IORING_REGISTER_SYNC_CANCEL") {
        return;
    }
    let mut ring = restricted(&[
        op(sys::IORING_OP_READ),
        op(sys::IORING_OP_NOP),
        op(sys::IORING_OP_ASYNC_CANCEL),
        reg(sys::IORING_REGISTER_SYNC_CANCEL),
        Restriction::sqe_flags_required(sys::IOSQE_IO_DRAIN),
    ]);
    ring.enable().unwrap();
    let (rx, tx) = pipe();
    let mut buf = [CANARY; 4];
    let started = Instant::now();
    let (refused, live) = ring.scope(|s| {
        s.push(Nop::new().user_data(7)).unwrap();
        let refused = uring_tests::scope_reap(s, 1)
            .iter()
            .map(|c| (c.user_data(), c.res()))
            .collect::<Vec<_>>();
        s.push(
            Read::new(&rx, &mut buf[..])
                .flags(SqeFlags::IO_DRAIN)
                .user_data(1),
        )
        .unwrap();
        s.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(2))
            .unwrap();
        s.submit().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(s.completions().count(), 0, "the NOP waits behind the read");
        (refused, s.in_flight())
    });
    assert_eq!(refused, [(7, -libc::EACCES)]);
    assert_eq!(live, 2);
    assert!(started.elapsed() < PATIENCE / 2, "{:?}", started.elapsed());
    assert_eq!(buf, [CANARY; 4]);
    assert_eq!(drain(&mut ring), [], "completions left after the scope");
    std::fs::File::from(tx).write_all(b"kept").unwrap();
    let mut left = [0u8; 4];
    std::fs::File::from(rx).read_exact(&mut left).unwrap();
    assert_eq!(&left, b"kept");
}

// ---------------------------------------------------------------------------
// SQPOLL rings
// ---------------------------------------------------------------------------

/// A disabled SQPOLL ring restricted to `NOP`: SQEs pushed before
/// `enable` are published but its SQ thread takes none (`__io_sq_thread`
/// skips a ring still `R_DISABLED`): 50 ms later none has completed. Once
/// enabled (`ctx->restricted` is set before the disabled flag is cleared,
/// under the ring's lock), the thread takes them all under the rules: the
/// NOPs complete with 0, the timeout is refused (`EACCES`) without
/// stopping the NOP after it, each once, in order; and so do a batch
/// pushed after.
#[test]
fn sqes_queued_before_an_sqpoll_ring_is_enabled_meet_its_restrictions() {
    let _watch = watchdog();
    if !uring_tests::require_sqpoll() {
        return;
    }
    let mut ring = Ring::builder()
        .sqpoll(Duration::from_millis(10))
        .r_disabled()
        .build(8)
        .unwrap();
    ring.register_restrictions(&[op(sys::IORING_OP_NOP)])
        .unwrap();
    let timeout = || Timeout::new(Duration::from_millis(1));
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.push(timeout().user_data(2)).unwrap();
    ring.push(Nop::new().user_data(3)).unwrap();
    // The kernel refuses to be entered while disabled; the thread ignores
    // what was published.
    let _ = ring.submit();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        drain(&mut ring),
        [],
        "the SQ thread ran SQEs of a disabled ring"
    );
    ring.enable().unwrap();
    let got = reap(&mut ring, 3);
    assert_eq!(got, [(1, 0), (2, -libc::EACCES), (3, 0)]);
    ring.push(timeout().user_data(4)).unwrap();
    ring.push(Nop::new().user_data(5)).unwrap();
    ring.push(timeout().user_data(6)).unwrap();
    let got = reap(&mut ring, 3);
    assert_eq!(got, [(4, -libc::EACCES), (5, 0), (6, -libc::EACCES)]);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(drain(&mut ring), [], "a completion came twice");
    assert_eq!(ring.pending(), 0);
}

// ---------------------------------------------------------------------------
// Resizes
// ---------------------------------------------------------------------------

/// A `defer_taskrun` ring restricted to `NOP`, without
/// `IORING_REGISTER_RESIZE_RINGS`: a resize is refused with `EACCES`, an
/// error value, after it submitted what was queued; the two completions
/// left unread in the CQ are read afterwards, once each, and the queues
/// keep their sizes. A second ring whose rules allow the resize is
/// resized (completions kept) and still refuses what the rules forbid.
#[test]
fn a_resize_the_restrictions_refuse_leaves_the_ring_whole_and_one_they_allow_keeps_them() {
    let _watch = watchdog();
    if !uring_tests::require_kernel(6, 13, "IORING_REGISTER_RESIZE_RINGS") {
        return;
    }
    for allowed in [false, true] {
        let mut ring = match Ring::builder()
            .single_issuer()
            .defer_taskrun()
            .r_disabled()
            .build(8)
        {
            Ok(ring) => ring,
            Err(e) => return skip(format_args!("no defer_taskrun ring: {e}")),
        };
        let mut rules = vec![op(sys::IORING_OP_NOP)];
        if allowed {
            rules.push(reg(sys::IORING_REGISTER_RESIZE_RINGS));
        }
        ring.register_restrictions(&rules).unwrap();
        ring.enable().unwrap();
        ring.push(Nop::new().user_data(1)).unwrap();
        ring.push(Nop::new().user_data(2)).unwrap();
        ring.submit_and_wait(2).unwrap();
        ring.push(Nop::new().user_data(3)).unwrap();
        let (sq, cq) = (ring.sq_entries(), ring.cq_entries());
        let resized = ring.resize(32, 64);
        if allowed {
            resized.unwrap();
            assert_eq!((ring.sq_entries(), ring.cq_entries()), (32, 64));
        } else {
            assert_eq!(errno(&resized), Some(libc::EACCES), "{resized:?}");
            assert_eq!((ring.sq_entries(), ring.cq_entries()), (sq, cq));
        }
        assert_eq!(ring.pending(), 0, "allowed {allowed}: the resize submitted");
        let mut got = reap(&mut ring, 3);
        got.sort_unstable();
        assert_eq!(got, [(1, 0), (2, 0), (3, 0)], "allowed {allowed}");
        ring.push(Timeout::new(Duration::from_millis(1)).user_data(4))
            .unwrap();
        ring.push(Nop::new().user_data(5)).unwrap();
        assert_eq!(
            reap(&mut ring, 2),
            [(4, -libc::EACCES), (5, 0)],
            "allowed {allowed}: the rules hold after the resize"
        );
        assert_eq!(drain(&mut ring), [], "allowed {allowed}");
    }
}

// ---------------------------------------------------------------------------
// Registering the rules
// ---------------------------------------------------------------------------

/// A registration of rules that the kernel refuses part-way (a valid rule,
/// then an opcode past the last: `io_parse_restrictions` fails, and
/// `io_register_restrictions` resets the whole set) leaves no rule behind
/// and does not count as the one registration a ring takes: a second
/// registration succeeds, and only its rules apply (a timeout runs, a NOP
/// is refused). A ring enabled after a failed registration alone is not
/// restricted at all.
#[test]
fn a_refused_registration_of_rules_leaves_none_and_may_be_made_again() {
    let _watch = watchdog();
    let mut ring = Ring::builder().r_disabled().build(8).unwrap();
    let refused = ring.register_restrictions(&[op(sys::IORING_OP_NOP), op(u8::MAX)]);
    assert_eq!(errno(&refused), Some(libc::EINVAL), "{refused:?}");
    ring.register_restrictions(&[op(sys::IORING_OP_TIMEOUT)])
        .unwrap();
    ring.enable().unwrap();
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.push(Timeout::new(Duration::from_millis(1)).user_data(2))
        .unwrap();
    assert_eq!(reap(&mut ring, 2), [(1, -libc::EACCES), (2, -libc::ETIME)]);
    assert_eq!(errno(&ring.probe()), Some(libc::EACCES));

    let mut ring = Ring::builder().r_disabled().build(8).unwrap();
    let refused = ring.register_restrictions(&[op(sys::IORING_OP_NOP), reg(u32::from(u8::MAX))]);
    assert_eq!(errno(&refused), Some(libc::EINVAL), "{refused:?}");
    ring.enable().unwrap();
    ring.push(Timeout::new(Duration::from_millis(1)).user_data(3))
        .unwrap();
    assert_eq!(reap(&mut ring, 1), [(3, -libc::ETIME)]);
    assert!(ring.probe().is_ok(), "an unrestricted ring probes");
}

/// More rules than the kernel takes in one registration
/// (`IORING_MAX_RESTRICTIONS`, the sum of the three opcode ranges and the
/// rule kinds: about a hundred) are an error value (`EINVAL`), not a
/// panic, and leave the ring free to take a registration of the same rule
/// repeated fewer times (64 copies of `NOP`), whose duplicates are
/// harmless.
#[test]
fn too_many_rules_are_an_error_value_and_duplicates_are_harmless() {
    let _watch = watchdog();
    let mut ring = Ring::builder().r_disabled().build(8).unwrap();
    let many = vec![op(sys::IORING_OP_NOP); 4096];
    let refused = ring.register_restrictions(&many);
    assert_eq!(errno(&refused), Some(libc::EINVAL), "{refused:?}");
    ring.register_restrictions(&many[..64]).unwrap();
    ring.enable().unwrap();
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.push(Timeout::new(Duration::from_millis(1)).user_data(2))
        .unwrap();
    assert_eq!(reap(&mut ring, 2), [(1, 0), (2, -libc::EACCES)]);
}

/// The rules bind from `enable` on (`ctx->restricted` is set by
/// `io_register_enable_rings`): between `register_restrictions` and
/// `enable`, register calls the rules do not name still succeed (a probe,
/// a file table, a personality, an eventfd); after `enable` the same calls
/// are refused with `EACCES`, while what was registered before keeps
/// working (an op on the registered file, an op with the personality).
#[test]
fn rules_bind_only_from_enable_on() {
    let _watch = watchdog();
    let mut ring = restricted(&[
        op(sys::IORING_OP_NOP),
        op(sys::IORING_OP_READ),
        Restriction::sqe_flags_allowed(sys::IOSQE_FIXED_FILE),
    ]);
    assert!(ring.probe().is_ok(), "a probe before enable");
    let file = uring_tests::file_of(b"restricted");
    let table = ring.register_files(&[file.as_fd()]).unwrap();
    let personality = ring.register_personality().unwrap();
    // SAFETY: eventfd(2) with valid flags; the descriptor is owned below.
    let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    assert!(efd >= 0);
    // SAFETY: `efd` was just opened and is owned by nothing else.
    let efd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(efd) };
    ring.register_eventfd(efd.as_fd(), false).unwrap();
    ring.enable().unwrap();
    assert_eq!(errno(&ring.probe()), Some(libc::EACCES));
    assert_eq!(errno(&ring.register_personality()), Some(libc::EACCES));
    assert_eq!(errno(&ring.unregister_eventfd()), Some(libc::EACCES));
    let (rx, _tx) = pipe();
    assert_eq!(
        errno(&ring.register_files(&[rx.as_fd()])),
        Some(libc::EACCES)
    );
    let mut buf = [CANARY; 16];
    let cqe = uring_tests::complete(
        &mut ring,
        Read::new(table.get(0).unwrap(), &mut buf[..])
            .personality(personality)
            .user_data(1),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (1, 10));
    assert_eq!(&buf[..10], b"restricted");
    assert_eq!(buf[10..], [CANARY; 6]);
    let mut count = [0u8; 8];
    assert_eq!(
        std::fs::File::from(efd).read(&mut count).unwrap(),
        8,
        "the eventfd registered before enable was signalled"
    );
    assert!(u64::from_ne_bytes(count) >= 1);
}

// ---------------------------------------------------------------------------
// Chains whose tail the rules refuse
// ---------------------------------------------------------------------------

/// A `then_write` pair on a ring whose rules allow `READ` and the
/// `IO_LINK` flag but not `WRITE`: the write is refused as the kernel
/// takes it (`EACCES`), and `io_submit_fail_init` fails the read it is
/// linked to (`ECANCELED`) before it runs. The read's buffer keeps its
/// canary, the file's bytes are not consumed from the pipe, the
/// destination gets nothing, and the scope sees both completions once.
#[test]
fn a_then_write_pair_whose_write_the_rules_refuse_never_reads() {
    let _watch = watchdog();
    let mut ring = restricted(&[
        op(sys::IORING_OP_READ),
        op(sys::IORING_OP_NOP),
        op(sys::IORING_OP_ASYNC_CANCEL),
        Restriction::sqe_flags_allowed(sys::IOSQE_IO_LINK),
    ]);
    ring.enable().unwrap();
    let (rx, tx) = pipe();
    std::fs::File::from(tx).write_all(b"source").unwrap();
    let (drx, dtx) = pipe();
    let mut buf = [CANARY; 6];
    let mut seen = ring.scope(|s| {
        s.push(
            Read::new(&rx, &mut buf[..])
                .user_data(1)
                .then_write_with(&dtx, |w| w.user_data(2)),
        )
        .unwrap();
        uring_tests::scope_reap(s, 2)
            .iter()
            .map(|c| (c.user_data(), c.res()))
            .collect::<Vec<_>>()
    });
    seen.sort_unstable();
    assert_eq!(seen, [(1, -libc::ECANCELED), (2, -libc::EACCES)]);
    assert_eq!(buf, [CANARY; 6]);
    let mut left = [0u8; 6];
    std::fs::File::from(rx).read_exact(&mut left).unwrap();
    assert_eq!(&left, b"source");
    drop(dtx);
    let mut out = Vec::new();
    std::fs::File::from(drx).read_to_end(&mut out).unwrap();
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(drain(&mut ring), []);
}

// ---------------------------------------------------------------------------
// Personalities
// ---------------------------------------------------------------------------

/// The kernel's personality ids run from 1 to 65535 (`xa_alloc_cyclic`
/// with `XA_LIMIT(0, USHRT_MAX)` over an `XA_FLAGS_ALLOC1` array): with
/// all 65535 registered, one more is an error value (`EBUSY`), not a
/// panic, and every handle still works (a NOP with the last one runs).
/// Unregistering one frees its id, which the next registration gets; the
/// old handle of that id is then told from the new one (unregistering it
/// is refused and removes nothing: the new one still runs a NOP).
#[test]
fn the_personality_table_fills_up_with_an_error_and_a_freed_id_comes_back() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    let mut all = Vec::with_capacity(65535);
    let full = loop {
        match ring.register_personality() {
            Ok(p) => {
                all.push(p);
                assert!(all.len() <= 65535, "more than 65535 personalities");
            }
            Err(e) => break e,
        }
    };
    assert_eq!(all.len(), 65535);
    assert_eq!(full.raw_os_error(), Some(libc::EBUSY), "{full}");
    let mut ids: Vec<u16> = all.iter().map(|p| p.id()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!((ids.len(), ids[0], ids[ids.len() - 1]), (65535, 1, 65535));
    let last = *all.last().unwrap();
    ring.push(Nop::new().personality(last).user_data(1))
        .unwrap();
    assert_eq!(reap(&mut ring, 1), [(1, 0)]);
    let freed = all[1234];
    ring.unregister_personality(freed).unwrap();
    let again = ring.register_personality().unwrap();
    assert_eq!(again.id(), freed.id(), "the one free id");
    assert_ne!(again, freed);
    assert!(ring.unregister_personality(freed).is_err());
    ring.push(Nop::new().personality(again).user_data(2))
        .unwrap();
    assert_eq!(reap(&mut ring, 1), [(2, 0)], "the new registration stays");
    assert_eq!(
        errno(&ring.register_personality()),
        Some(libc::EBUSY),
        "full again"
    );
}

const NOBODY: libc::uid_t = 65534;

/// Whether this process may change its credentials.
fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    skip("registering another user's personality needs root");
    false
}

/// A directory anyone may search, holding a file only root may read.
fn root_only_file() -> (tempfile::TempDir, CString) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, b"root only").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let path = CString::new(secret.to_str().unwrap()).unwrap();
    (dir, path)
}

/// Registers the personality of user `nobody` on `ring`.
fn nobody_personality(ring: &mut Ring) -> uring::Personality {
    // SAFETY: changes the effective uid of this process (a test process of
    // its own), whose real uid stays root; set back right below.
    assert_eq!(unsafe { libc::seteuid(NOBODY) }, 0, "seteuid");
    let registered = ring.register_personality();
    // SAFETY: the real uid is root, so the effective uid may go back.
    assert_eq!(unsafe { libc::seteuid(0) }, 0, "seteuid back");
    registered.unwrap()
}

const UNREGISTERED_IN_FLIGHT: &str =
    "an_op_keeps_the_personality_it_was_submitted_with_after_it_is_unregistered";

/// An open of a root-only file with the personality of `nobody`, linked
/// after a read of an empty pipe (pushed with `push_unchecked`, so that
/// the ring is free for register calls while the chain waits). Once it is
/// submitted, the personality is unregistered. `io_init_req` took the
/// credentials with
/// `get_cred` at submission: when the pipe is written and the open runs,
/// it runs as `nobody` (`EACCES`), not without credentials (`EINVAL`) nor
/// as root. A personality registered meanwhile (of root, a new id: ids
/// are handed out cyclically) changes nothing.
#[test]
fn an_op_keeps_the_personality_it_was_submitted_with_after_it_is_unregistered() {
    in_own_process(UNREGISTERED_IN_FLIGHT, "a chain waiting on a pipe", || {
        if !is_root() {
            return;
        }
        let (_dir, path) = root_only_file();
        let mut ring = Ring::new(8).unwrap();
        let nobody = nobody_personality(&mut ring);
        let (rx, tx) = pipe();
        let mut buf = [CANARY; 4];
        // SAFETY: `buf`, `path` and `rx` outlive the chain's completions,
        // which are reaped below before any of them is dropped or touched.
        unsafe {
            ring.push_unchecked(
                Read::new(&rx, &mut buf[..])
                    .user_data(1)
                    .link(OpenAt::new(Fd::CWD, &path).personality(nobody).user_data(2)),
            )
        }
        .unwrap();
        ring.submit().unwrap();
        ring.unregister_personality(nobody).unwrap();
        let root = ring.register_personality().unwrap();
        assert_ne!(root.id(), nobody.id());
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(drain(&mut ring), [], "the chain waits for the pipe");
        std::fs::File::from(tx).write_all(b"go!!").unwrap();
        let got = reap(&mut ring, 2);
        assert_eq!(got[0], (1, 4), "{got:?}");
        assert_eq!(got[1], (2, -libc::EACCES), "{got:?}");
        assert_eq!(&buf, b"go!!");
        // After the unregistration, a new op naming it is refused.
        let cqe = uring_tests::complete(
            &mut ring,
            OpenAt::new(Fd::CWD, &path).personality(nobody).user_data(3),
        );
        assert_eq!(cqe.res(), -libc::EINVAL);
    });
}

const OTHER_RING: &str = "a_personality_of_another_ring_runs_with_that_rings_credentials";

/// SAFETY.md's first known limit, checked: a `Personality` is not tied to
/// its ring. Ring A registers `nobody` and ring B registers root, each as
/// its first personality (id 1 on both). An open of a root-only file on B
/// with A's handle runs with B's personality of that id, root's, and
/// succeeds; on A with B's handle it runs as `nobody` and fails
/// (`EACCES`). Unregistering either handle through the other ring is
/// refused before the kernel, and removes nothing: both still work.
#[test]
fn a_personality_of_another_ring_runs_with_that_rings_credentials() {
    in_own_process(OTHER_RING, "opens with personalities", || {
        if !is_root() {
            return;
        }
        let (_dir, path) = root_only_file();
        let mut a = Ring::new(8).unwrap();
        let mut b = Ring::new(8).unwrap();
        let nobody_on_a = nobody_personality(&mut a);
        let root_on_b = b.register_personality().unwrap();
        assert_eq!(nobody_on_a.id(), root_on_b.id());
        let open = |ring: &mut Ring, p: uring::Personality| {
            let res = uring_tests::complete(ring, OpenAt::new(Fd::CWD, &path).personality(p)).res();
            if res >= 0 {
                // SAFETY: the descriptor the open returned, which the scope
                // left open for the program and nothing else owns.
                unsafe { libc::close(res) };
            }
            res
        };
        assert!(
            open(&mut b, nobody_on_a) >= 0,
            "A's handle on B runs as root"
        );
        assert_eq!(
            open(&mut a, root_on_b),
            -libc::EACCES,
            "B's handle on A runs as nobody"
        );
        assert!(b.unregister_personality(nobody_on_a).is_err());
        assert!(a.unregister_personality(root_on_b).is_err());
        assert!(open(&mut b, root_on_b) >= 0);
        assert_eq!(open(&mut a, nobody_on_a), -libc::EACCES);
    });
}
