//! The ring's registrations other than files and buffers, checked against
//! what Linux's `io_uring/register.c`, `tctx.c`, `eventfd.c`, `io-wq.c` and
//! `msg_ring.c` do with them, and attacked from safe code: registered ring
//! descriptors across threads (the kernel keeps them in each task's own
//! table, indexed from 0), restrictions against the library's own cancel
//! requests, eventfds, personalities whose ids the kernel hands out again,
//! io-wq limits and affinity across threads and rings, waits timed on a
//! registered clock, and completions posted from no ring.
//!
//! Each test asserts what the kernel really did.

use std::io::{Read as _, Write as _};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use uring::ops::{Nop, Read};
use uring::{Builder, Clock, Error, IoWqWorkers, Restriction, Ring, SqeFlags, WaitArgs, sys};
use uring_tests::{PATIENCE, pipe, require_kernel, skip, watchdog};

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

/// Submits what is queued, waits for `n` completions and returns them.
fn reap(ring: &mut Ring, n: u32) -> Vec<(u64, i32)> {
    ring.submit_and_wait_timeout(n, PATIENCE)
        .expect("submit_and_wait_timeout");
    drain(ring)
}

/// A fresh non-blocking eventfd.
fn eventfd() -> OwnedFd {
    // SAFETY: eventfd(2) takes plain integers.
    let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    assert!(raw >= 0, "eventfd: {}", std::io::Error::last_os_error());
    // SAFETY: a new descriptor, owned by nothing else.
    unsafe { OwnedFd::from_raw_fd(raw) }
}

/// The eventfd's counter, read (and so reset); 0 when nothing signalled it.
fn take_count(fd: &OwnedFd) -> u64 {
    let mut file = std::fs::File::from(fd.try_clone().unwrap());
    let mut bytes = [0u8; 8];
    match file.read(&mut bytes) {
        Ok(8) => u64::from_ne_bytes(bytes),
        Ok(n) => panic!("an eventfd read of {n} bytes"),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
        Err(e) => panic!("eventfd read: {e}"),
    }
}

// ----------------------------------------------------------------------
// Registered ring descriptors: one table per task
// ----------------------------------------------------------------------

/// A ring made with `registered_fd_only` has no descriptor: its only name
/// is an index into the table of the thread that made it, where another
/// thread's table holds its own rings at the same indices (both start at
/// 0). Moved to a thread whose own ring sits at that index, every enter
/// and register call of the moved ring must fail (`EBADF`) rather than go
/// through the index to the other ring: that ring gets no NOP, no file
/// table and no personality. Moved back, the queued NOP runs once and the
/// ring takes the table it was refused.
#[test]
fn a_ring_named_only_by_its_index_reaches_no_ring_of_another_thread() {
    let _watch = watchdog();
    let (to_other, from_home) = mpsc::channel::<Ring>();
    let (to_home, from_other) = mpsc::channel::<Ring>();
    let home = std::thread::spawn(move || {
        let mut moved = match Builder::new().registered_fd_only().build(4) {
            Ok(ring) => ring,
            Err(e) => {
                skip(format_args!("no registered_fd_only (6.5): {e}"));
                return None;
            }
        };
        let index = moved.registered_ring_fd().expect("an index");
        moved.push(Nop::new().user_data(1)).unwrap();
        to_other.send(moved).unwrap();
        // This thread stays alive (its table holds the ring) until the
        // ring comes back.
        let mut moved = from_other.recv().unwrap();
        let ran = reap(&mut moved, 1);
        let table = moved.register_files_sparse(2).map(|t| t.len());
        Some((index, ran, table))
    });
    let other = std::thread::spawn(move || {
        let Ok(mut moved) = from_home.recv() else {
            return None;
        };
        let mut own = Builder::new().registered_fd_only().build(4).unwrap();
        let own_index = own.registered_ring_fd().unwrap();
        let submitted = errno(&moved.submit());
        let waited = errno(&moved.wait_timeout(1, Duration::from_millis(10)));
        let table = errno(&moved.register_files_sparse(2));
        let personality = errno(&moved.register_personality());
        let probe = errno(&moved.probe());
        let workers = errno(&moved.iowq_max_workers());
        let fd_again = moved.register_ring_fd();
        // The ring of this thread saw none of it.
        own.get_events().unwrap();
        let own_stray = drain(&mut own);
        let own_table = own.register_files_sparse(2).map(|t| t.len());
        let own_personality = own.register_personality().map(|p| p.id());
        own.push(Nop::new().user_data(2)).unwrap();
        let own_ran = reap(&mut own, 1);
        to_home.send(moved).unwrap();
        Some((
            own_index,
            [submitted, waited, table, personality, probe, workers],
            fd_again.is_err(),
            own_stray,
            own_table.ok(),
            own_personality.ok(),
            own_ran,
        ))
    });
    let Some(away) = other.join().unwrap() else {
        home.join().unwrap();
        return;
    };
    let (index, ran_home, table_home) = home.join().unwrap().expect("the home thread ran");
    let (own_index, refused, fd_again_refused, own_stray, own_table, own_personality, own_ran) =
        away;
    assert_eq!(
        own_index, index,
        "precondition: both rings sit at the same index of their thread's table"
    );
    assert_eq!(
        refused,
        [Some(libc::EBADF); 6],
        "submit, wait, files, personality, probe, io-wq limits of the moved ring"
    );
    assert!(fd_again_refused, "register_ring_fd on another thread");
    assert_eq!(own_stray, [], "the other thread's ring got a completion");
    assert_eq!(
        own_table,
        Some(2),
        "the other thread's ring had a table already"
    );
    assert_eq!(
        own_personality,
        Some(1),
        "the other thread's ring had a personality already"
    );
    assert_eq!(own_ran, [(2, 0)]);
    assert_eq!(ran_home, [(1, 0)], "the moved ring's NOP, back home");
    assert_eq!(table_home.ok(), Some(2), "the moved ring's own table");
}

/// A ring with a descriptor whose index is registered on one thread, used
/// on a thread that registered its own ring at the same index: register
/// calls go through the descriptor, so each ring gets its own first
/// personality (id 1) and its own file table, and neither call reaches the
/// other ring through the index (a file table registered twice on one
/// ring is `EBUSY`).
#[test]
fn register_calls_of_a_moved_ring_reach_that_ring_not_the_index_holder() {
    let _watch = watchdog();
    if !require_kernel(5, 18, "registered ring descriptors") {
        return;
    }
    let (mut moved, index) = std::thread::scope(|t| {
        t.spawn(|| {
            let mut ring = Ring::new(4).unwrap();
            let index = ring.register_ring_fd().unwrap();
            (ring, index)
        })
        .join()
        .unwrap()
    });
    let mut own = Ring::new(4).unwrap();
    let own_index = own.register_ring_fd().unwrap();
    assert_eq!(own_index, index, "precondition: the same index");
    let moved_personality = moved.register_personality().unwrap();
    let own_personality = own.register_personality().unwrap();
    assert_eq!((moved_personality.id(), own_personality.id()), (1, 1));
    let moved_table = moved.register_files_sparse(3).unwrap();
    let own_table = own.register_files_sparse(5).unwrap();
    assert_eq!((moved_table.len(), own_table.len()), (3, 5));
    moved.push(Nop::new().user_data(7)).unwrap();
    own.push(Nop::new().user_data(8)).unwrap();
    assert_eq!(reap(&mut moved, 1), [(7, 0)]);
    assert_eq!(reap(&mut own, 1), [(8, 0)]);
    // The personality each ring has is its own: unregistering it from one
    // ring leaves the other's in place.
    moved.unregister_personality(moved_personality).unwrap();
    own.push(Nop::new().personality(own_personality).user_data(9))
        .unwrap();
    assert_eq!(reap(&mut own, 1), [(9, 0)]);
    own.unregister_ring_fd().unwrap();
}

// ----------------------------------------------------------------------
// Restrictions and the library's own cancel requests
// ----------------------------------------------------------------------

/// Which of the library's two ways to cancel a scope's op a ring's
/// restrictions leave it.
#[derive(Clone, Copy, Debug)]
enum Allowed {
    /// Synchronous cancellation only: the cancel opcode is not allowed,
    /// and the scope's cancel SQEs complete with `EACCES`.
    SyncOnly,
    /// Cancel SQEs only: no register call is allowed.
    SqeOnly,
    /// Both, but every SQE must carry `IOSQE_ASYNC`, which the scope's
    /// cancel SQEs do not: they are refused (`EACCES`) like a forbidden
    /// opcode, and only the synchronous cancel reaches the read (which runs
    /// in an io-wq worker).
    SyncWithRequiredAsync,
}

/// A scope ends over a pipe read that no data will complete. Restrictions
/// leave the library one way to cancel it; the cancel SQEs they refuse
/// complete with `EACCES` under the scope's internal `user_data`. The
/// scope must still end (the way left reaches the read), drop those
/// refusals as its own rather than leave them to the program, and return
/// only once the read is gone: bytes written to the pipe afterwards are
/// still there to read, none taken into the released buffer.
#[test]
fn a_scope_ends_through_whichever_cancel_its_restrictions_leave() {
    let _watch = watchdog();
    if !require_kernel(6, 0, "IORING_REGISTER_SYNC_CANCEL") {
        return;
    }
    for allowed in [
        Allowed::SyncOnly,
        Allowed::SqeOnly,
        Allowed::SyncWithRequiredAsync,
    ] {
        let mut ring = Builder::new().r_disabled().build(8).unwrap();
        let read = Restriction::op::<Read<'static>>();
        let cancel = Restriction::opcode(sys::IORING_OP_ASYNC_CANCEL);
        let sync = Restriction::register_op(sys::IORING_REGISTER_SYNC_CANCEL as u8);
        let rules: Vec<Restriction> = match allowed {
            Allowed::SyncOnly => vec![read, sync],
            Allowed::SqeOnly => vec![read, cancel],
            Allowed::SyncWithRequiredAsync => vec![
                read,
                cancel,
                sync,
                Restriction::sqe_flags_allowed(sys::IOSQE_ASYNC),
                Restriction::sqe_flags_required(sys::IOSQE_ASYNC),
            ],
        };
        ring.register_restrictions(&rules).unwrap();
        ring.enable().unwrap();
        let (rx, tx) = pipe();
        let mut buf = [0u8; 16];
        let started = Instant::now();
        let in_flight = ring.scope(|s| {
            let op = Read::new(&rx, &mut buf[..]).user_data(1);
            match allowed {
                Allowed::SyncWithRequiredAsync => s.push(op.flags(SqeFlags::ASYNC)).unwrap(),
                _ => s.push(op).unwrap(),
            }
            s.submit().unwrap();
            // Long enough for the read to block (in a worker, with ASYNC).
            std::thread::sleep(Duration::from_millis(20));
            let early: Vec<(u64, i32)> =
                s.completions().map(|c| (c.user_data(), c.res())).collect();
            let live = s.in_flight();
            (early, live)
        });
        assert_eq!(
            in_flight,
            (vec![], 1),
            "{allowed:?}: the read was still waiting for data"
        );
        assert!(
            started.elapsed() < PATIENCE,
            "{allowed:?}: the scope took {:?} to end",
            started.elapsed()
        );
        assert_eq!(
            drain(&mut ring),
            [],
            "{allowed:?}: completions left to the program after the scope"
        );
        let mut writer = std::fs::File::from(tx);
        writer.write_all(b"after").unwrap();
        let mut reader = std::fs::File::from(rx);
        let mut got = [0u8; 5];
        reader.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"after", "{allowed:?}: the read took the bytes");
        assert_eq!(buf, [0; 16], "{allowed:?}: the released buffer was written");
    }
}

// ----------------------------------------------------------------------
// Eventfds
// ----------------------------------------------------------------------

/// `register_eventfd` lends the kernel a `BorrowedFd` for the call only:
/// the kernel keeps the eventfd itself (`eventfd_ctx_fdget`), not its
/// number. Closed, and its number taken by a new eventfd, the ring signals
/// the old one, never the new one; registered again with the new one (the
/// ring refuses a second eventfd with `EBUSY` until the first is
/// unregistered), the new one is signalled. After the ring is dropped,
/// nothing signals either.
#[test]
fn an_eventfd_registration_follows_the_file_not_its_number() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    let first = eventfd();
    ring.register_eventfd(first.as_fd(), false).unwrap();
    ring.push(Nop::new().user_data(1)).unwrap();
    assert_eq!(reap(&mut ring, 1), [(1, 0)]);
    assert!(
        take_count(&first) >= 1,
        "the registered eventfd is signalled"
    );
    let number = first.as_raw_fd();
    drop(first);
    let second = eventfd();
    if second.as_raw_fd() != number {
        skip("the closed eventfd's number was not reused");
        return;
    }
    ring.push(Nop::new().user_data(2)).unwrap();
    assert_eq!(reap(&mut ring, 1), [(2, 0)]);
    assert_eq!(
        take_count(&second),
        0,
        "the new file at the old number was signalled"
    );
    assert_eq!(
        errno(&ring.register_eventfd(second.as_fd(), false)),
        Some(libc::EBUSY)
    );
    ring.unregister_eventfd().unwrap();
    ring.register_eventfd(second.as_fd(), false).unwrap();
    ring.push(Nop::new().user_data(3)).unwrap();
    assert_eq!(reap(&mut ring, 1), [(3, 0)]);
    assert!(
        take_count(&second) >= 1,
        "the new registration is signalled"
    );
    drop(ring);
    let mut other = Ring::new(4).unwrap();
    other.push(Nop::new().user_data(4)).unwrap();
    assert_eq!(reap(&mut other, 1), [(4, 0)]);
    assert_eq!(take_count(&second), 0, "a dropped ring's eventfd signalled");
}

/// `register_eventfd(.., true)` signals only for completions posted by an
/// io-wq worker (`io_wq_current_is_worker`): a NOP completed inline leaves
/// the eventfd quiet, a NOP flagged `IOSQE_ASYNC` (run by a worker)
/// signals it. Turned off through the CQ flags, not even that.
#[test]
fn an_async_eventfd_is_signalled_only_by_worker_completions() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    let fd = eventfd();
    ring.register_eventfd(fd.as_fd(), true).unwrap();
    ring.push(Nop::new().user_data(1)).unwrap();
    assert_eq!(reap(&mut ring, 1), [(1, 0)]);
    assert_eq!(take_count(&fd), 0, "an inline completion signalled");
    ring.push(Nop::new().flags(SqeFlags::ASYNC).user_data(2))
        .unwrap();
    assert_eq!(reap(&mut ring, 1), [(2, 0)]);
    assert!(take_count(&fd) >= 1, "a worker's completion did not signal");
    ring.set_cq_eventfd(false).unwrap();
    ring.push(Nop::new().flags(SqeFlags::ASYNC).user_data(3))
        .unwrap();
    assert_eq!(reap(&mut ring, 1), [(3, 0)]);
    assert_eq!(take_count(&fd), 0, "a disabled eventfd was signalled");
    ring.set_cq_eventfd(true).unwrap();
}

// ----------------------------------------------------------------------
// Personalities
// ----------------------------------------------------------------------

/// The kernel allocates personality ids cyclically (`xa_alloc_cyclic`,
/// 1 to 65535), so an id comes back once 65535 registrations have passed.
/// A `Personality` is `Copy` and survives `unregister_personality`. Once
/// the id is handed to a new registration, the stale handle is told from
/// the new one (they compare unequal), and unregistering it is refused
/// and leaves the new registration in place. An op carrying the stale
/// handle runs with whatever registration holds the id: the documented
/// limit (a personality's id is all the SQE carries).
#[test]
fn a_stale_personality_names_no_registration_that_reuses_its_id() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    let stale = ring.register_personality().unwrap();
    ring.unregister_personality(stale).unwrap();
    ring.push(Nop::new().personality(stale).user_data(1))
        .unwrap();
    assert_eq!(reap(&mut ring, 1), [(1, -libc::EINVAL)], "right after");
    let mut reused = None;
    for _ in 0..70_000 {
        let next = ring.register_personality().unwrap();
        if next.id() == stale.id() {
            reused = Some(next);
            break;
        }
        ring.unregister_personality(next).unwrap();
    }
    let fresh = reused.expect("the kernel never handed the id out again");
    ring.push(Nop::new().personality(fresh).user_data(2))
        .unwrap();
    assert_eq!(reap(&mut ring, 1), [(2, 0)], "the live personality");
    ring.push(Nop::new().personality(stale).user_data(3))
        .unwrap();
    let stale_op = reap(&mut ring, 1);
    assert_ne!(stale, fresh, "an earlier registration's handle");
    let stale_unregister = ring.unregister_personality(stale);
    ring.push(Nop::new().personality(fresh).user_data(4))
        .unwrap();
    let fresh_after = reap(&mut ring, 1);
    assert_eq!(
        (stale_op, stale_unregister.is_err(), fresh_after),
        (vec![(3, 0)], true, vec![(4, 0)]),
        "(the op carrying the unregistered handle, whether unregistering it was refused, \
         the live personality's op after that)"
    );
    ring.unregister_personality(fresh).unwrap();
    assert!(
        ring.unregister_personality(fresh).is_err(),
        "unregistered once"
    );
}

// ----------------------------------------------------------------------
// io-wq limits and affinity
// ----------------------------------------------------------------------

/// `IORING_REGISTER_IOWQ_MAX_WORKERS` sets the limits of the calling
/// task's worker pool, records them in the ring, and applies them to the
/// pool of every task that uses the ring, now (`tctx_list`) or later
/// (`__io_uring_add_tctx_node`). So limits set through one ring on one
/// thread are what another ring of that thread reports (one pool per
/// task), and what the ring reports from another thread once that thread
/// has used it. A thread that never used any ring has no pool: the kernel
/// answers zeros there, which the library must pass on without treating
/// them as limits (a zero leaves a limit as it is).
#[test]
fn worker_limits_follow_the_task_and_the_ring_across_threads() {
    let _watch = watchdog();
    if !require_kernel(5, 15, "IORING_REGISTER_IOWQ_MAX_WORKERS") {
        return;
    }
    let set = IoWqWorkers {
        bounded: 2,
        unbounded: 3,
    };
    let (ring, same_thread) = std::thread::scope(|t| {
        t.spawn(|| {
            let mut ring = Ring::new(4).unwrap();
            ring.push(Nop::new().user_data(1)).unwrap();
            reap(&mut ring, 1);
            let before = ring.set_iowq_max_workers(set).unwrap();
            assert_ne!(before, set, "precondition: other limits before");
            assert_eq!(ring.iowq_max_workers().unwrap(), set);
            let mut sibling = Ring::new(4).unwrap();
            sibling.push(Nop::new().user_data(2)).unwrap();
            reap(&mut sibling, 1);
            (ring, sibling.iowq_max_workers().unwrap())
        })
        .join()
        .unwrap()
    });
    assert_eq!(
        same_thread, set,
        "another ring of the same thread has the same pool"
    );
    let (unused, used) = std::thread::scope(|t| {
        t.spawn(move || {
            let mut ring = ring;
            let unused = ring.iowq_max_workers().unwrap();
            ring.push(Nop::new().user_data(3)).unwrap();
            reap(&mut ring, 1);
            (unused, ring.iowq_max_workers().unwrap())
        })
        .join()
        .unwrap()
    });
    assert!(
        unused == set
            || unused
                == IoWqWorkers {
                    bounded: 0,
                    unbounded: 0
                },
        "a thread without a pool: {unused:?}"
    );
    assert_eq!(used, set, "the ring's limits on the thread that used it");
}

/// The affinity of io-wq workers is copied from at most `cpumask_size()`
/// bytes of the library's 128-byte `cpu_set_t`, and an empty mask is a
/// subset of any: an empty set, and a set of only a CPU past the machine's
/// last, may be taken without error. Whatever the kernel answers, work
/// that only a worker can run (a NOP flagged `IOSQE_ASYNC`) must still
/// complete, once, and clearing the affinity works after. A CPU past
/// `CPU_SETSIZE` is refused before the kernel.
#[test]
fn worker_affinity_of_no_usable_cpu_stalls_no_work() {
    let _watch = watchdog();
    if !require_kernel(5, 14, "IORING_REGISTER_IOWQ_AFF") {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    // The task needs a worker pool before its affinity can be set.
    ring.push(Nop::new().flags(SqeFlags::ASYNC).user_data(100))
        .unwrap();
    assert_eq!(reap(&mut ring, 1), [(100, 0)]);
    let last = libc::CPU_SETSIZE as usize - 1;
    for (i, cpus) in [vec![], vec![last], vec![0, last]].into_iter().enumerate() {
        let set = ring.set_iowq_affinity(&cpus);
        assert!(
            set.is_ok() || errno(&set) == Some(libc::EINVAL),
            "{cpus:?}: {set:?}"
        );
        let ud = i as u64;
        for k in 0..3 {
            ring.push(Nop::new().flags(SqeFlags::ASYNC).user_data(ud * 10 + k))
                .unwrap();
        }
        let mut got = reap(&mut ring, 3);
        if got.len() < 3 {
            ring.wait_timeout(3 - got.len() as u32, PATIENCE).unwrap();
            got.extend(drain(&mut ring));
        }
        got.sort_unstable();
        assert_eq!(
            got,
            [(ud * 10, 0), (ud * 10 + 1, 0), (ud * 10 + 2, 0)],
            "{cpus:?} ({set:?})"
        );
        ring.clear_iowq_affinity().unwrap();
    }
    assert!(matches!(
        ring.set_iowq_affinity(&[libc::CPU_SETSIZE as usize]),
        Err(Error::InvalidArgument(_))
    ));
}

// ----------------------------------------------------------------------
// The registered clock and completions posted from no ring
// ----------------------------------------------------------------------

/// With `CLOCK_BOOTTIME` registered, a wait's deadline (an `Instant`, on
/// the monotonic clock) is turned into an absolute time of the ring's
/// clock, which the kernel times itself (`IORING_ENTER_ABS_TIMER` with
/// the ring's `clock_offset`). A deadline nobody meets ends the wait no
/// earlier than the deadline and not long after; a completion posted from
/// another thread with `IORING_REGISTER_SEND_MSG_RING` ends a wait with a
/// far deadline at once, and arrives once. Back on `CLOCK_MONOTONIC`, the
/// same.
#[test]
fn deadlines_on_a_registered_clock_end_at_their_instant_or_at_a_posted_completion() {
    let _watch = watchdog();
    if !require_kernel(
        6,
        13,
        "IORING_REGISTER_CLOCK and IORING_REGISTER_SEND_MSG_RING",
    ) {
        return;
    }
    let mut ring = Ring::new(4).unwrap();
    let target = ring.msg_target().unwrap();
    for (round, clock) in [Clock::Boottime, Clock::Monotonic].into_iter().enumerate() {
        ring.register_clock(clock).unwrap();
        let deadline = Instant::now() + Duration::from_millis(40);
        let waited = ring.wait_with(1, &WaitArgs::new().deadline(deadline));
        let now = Instant::now();
        assert!(
            matches!(waited, Err(Error::TimedOut)),
            "{clock:?}: {waited:?}"
        );
        assert!(
            now >= deadline,
            "{clock:?}: ended {:?} early",
            deadline - now
        );
        assert!(
            now - deadline < Duration::from_secs(5),
            "{clock:?}: ended {:?} late",
            now - deadline
        );
        let ud = 50 + round as u64;
        let started = Instant::now();
        let waited = std::thread::scope(|t| {
            let poster = t.spawn(|| {
                std::thread::sleep(Duration::from_millis(20));
                target.post(-7, ud)
            });
            let far = Instant::now() + Duration::from_secs(3600);
            let waited = ring.wait_with(1, &WaitArgs::new().deadline(far));
            poster.join().unwrap().unwrap();
            waited
        });
        waited.unwrap();
        assert!(
            started.elapsed() < PATIENCE,
            "{clock:?}: the wait outlived the completion"
        );
        assert_eq!(drain(&mut ring), [(ud, -7)], "{clock:?}");
    }
}

/// `IORING_REGISTER_SEND_MSG_RING` refuses a ring still disabled
/// (`EBADFD`, as a `MSG_RING` into it is): a completion posted then arrives
/// nowhere, not even once the ring is enabled; posted after, it arrives
/// once. A ring whose restrictions allow no register call still takes it:
/// the call names no ring of the sender.
#[test]
fn completions_posted_to_a_disabled_ring_are_refused_not_delayed() {
    let _watch = watchdog();
    if !require_kernel(6, 13, "IORING_REGISTER_SEND_MSG_RING") {
        return;
    }
    let mut ring = Builder::new().r_disabled().build(4).unwrap();
    ring.register_restrictions(&[Restriction::op::<Nop>()])
        .unwrap();
    assert_eq!(errno(&ring.post(1, 11)), Some(libc::EBADFD));
    let target = ring.msg_target().unwrap();
    let from_elsewhere = std::thread::scope(|t| t.spawn(|| target.post(2, 12)).join().unwrap());
    assert_eq!(errno(&from_elsewhere), Some(libc::EBADFD));
    ring.enable().unwrap();
    ring.get_events().unwrap();
    assert_eq!(drain(&mut ring), [], "a refused post arrived after all");
    ring.post(3, 13).unwrap();
    std::thread::scope(|t| t.spawn(|| target.post(4, 14)).join().unwrap()).unwrap();
    ring.wait_timeout(2, PATIENCE).unwrap();
    assert_eq!(drain(&mut ring), [(13, 3), (14, 4)]);
    // The restrictions still hold for register calls that name the ring.
    assert_eq!(errno(&ring.probe()), Some(libc::EACCES));
}
