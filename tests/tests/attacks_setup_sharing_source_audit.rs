//! Ring setup and sharing, checked against what Linux's
//! `io_uring/io_uring.c` (`io_uring_create`, `io_uring_enter`),
//! `sqpoll.c` (`io_attach_sq_data`, `io_sq_thread`), `tctx.c` (the
//! per-thread table of registered ring descriptors and the per-thread io-wq),
//! `register.c` (`io_register_iowq_max_workers`,
//! `io_register_enable_rings`, `io_uring_register_get_file`) and
//! `memmap.c` (pinned user memory of `IORING_SETUP_NO_MMAP`) do, and
//! attacked from safe code: rings that share a worker pool or an SQ
//! thread, worker limits seen through each of them, registered ring
//! descriptors and the 16-slot table they live in, rings without a
//! descriptor moved between threads, single-issuer rings enabled on
//! another thread, SQ threads outliving the thread and the ring that made
//! them, and memory mapped again where a dropped ring's queues were.
//!
//! Each test asserts what the kernel really did: completion counts and
//! results, canaries in buffers, bytes left unread in sockets, errno
//! values, and what `/proc` shows of the SQ thread and io-wq workers.

use std::io::{Read as _, Write as _};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use uring::ops::{Nop, Read, Splice};
use uring::{Builder, IoWqWorkers, PushErrorKind, Ring, RingRegion, SqeFlags, sys};
use uring_tests::{PATIENCE, pipe, require_kernel, require_sqpoll, skip, watchdog};

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

/// Submits what is queued and collects completions until `n` have come
/// (each wait bounded by [`PATIENCE`]).
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

/// Whether the thread `tid` of this process still exists.
fn thread_alive(tid: i64) -> bool {
    std::path::Path::new(&format!("/proc/self/task/{tid}")).exists()
}

/// The calling thread's id.
fn gettid() -> i64 {
    // SAFETY: gettid has no preconditions.
    i64::from(unsafe { libc::gettid() })
}

/// Two SQPOLL rings of `entries` SQEs sharing one SQ thread (the second
/// attached to the first), idling after `idle`; `None` with a skip
/// message where this process may have none.
fn shared_sq_thread(idle: Duration, entries: u32) -> Option<(Ring, Ring)> {
    if !require_sqpoll() {
        return None;
    }
    let owner = match Builder::new().sqpoll(idle).build(entries) {
        Ok(ring) => ring,
        Err(e) => {
            skip(format_args!("no SQPOLL ring: {e}"));
            return None;
        }
    };
    let mut attached = Builder::new()
        .sqpoll(idle)
        .attach_wq(&owner)
        .build(entries)
        .expect("an SQPOLL ring attached to another's SQ thread");
    // A round trip on each: the SQ thread has started (it writes its own
    // pid where `/proc/self/fdinfo` shows it once it runs).
    let mut owner = owner;
    owner.push(Nop::new().user_data(u64::MAX)).unwrap();
    assert_eq!(reap(&mut owner, 1), [(u64::MAX, 0)]);
    attached.push(Nop::new().user_data(u64::MAX)).unwrap();
    assert_eq!(reap(&mut attached, 1), [(u64::MAX, 0)]);
    Some((owner, attached))
}

// ---------------------------------------------------------------------
// Rings without a descriptor, off the thread that holds their index
// ---------------------------------------------------------------------

/// The test run in a process of its own by
/// [`a_scope_of_a_ring_without_a_descriptor_on_another_thread_ends_without_aborting`].
const NO_FD_ELSEWHERE: &str =
    "a_scope_of_a_ring_without_a_descriptor_on_another_thread_ends_without_aborting";

/// A ring made with `registered_fd_only` has no descriptor: its one name
/// is an index in the table of the thread that made it
/// (`io_ring_add_registered_file` in `tctx.c`; `io_uring_enter` looks
/// the index up in `current->io_uring`), so on any other thread every
/// enter fails with `EBADF`. A `Ring` is `Send`, and moved to another
/// thread, a scope that lends a buffer to a read there must end without
/// the read in the kernel and without ending the process. Without an SQ
/// thread, the kernel would never see the SQE. With one (`sqpoll`), the SQ
/// thread would take the read on its own while the scope's waits fail
/// (`EBADF`): such a scope could neither wait for the read nor take it
/// back. So a scope there takes no op (`PushErrorKind::OtherThread`). Run
/// in a process of its own (a scope that could not wait would abort it):
/// the check is that the push is refused, the scope returns, the buffer
/// keeps its canary after the peer writes, and the ring, moved back, runs
/// a NOP.
#[test]
fn a_scope_of_a_ring_without_a_descriptor_on_another_thread_ends_without_aborting() {
    if !uring_tests::in_child(NO_FD_ELSEWHERE) {
        let _watch = watchdog();
        if !require_kernel(6, 5, "IORING_SETUP_REGISTERED_FD_ONLY") || !require_sqpoll() {
            return;
        }
        let out = uring_tests::child_command(NO_FD_ELSEWHERE)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && text.contains("1 passed"),
            "the process ended with {:?}:\n{text}",
            out.status
        );
        return;
    }
    let mut ring = Builder::new()
        .sqpoll(Duration::from_secs(5))
        .registered_fd_only()
        .build(8)
        .unwrap();
    // A round trip wakes the SQ thread, which then stays awake for its
    // idle time: the pushes on the other thread need no enter to be taken.
    ring.push(Nop::new().user_data(1)).unwrap();
    assert_eq!(reap(&mut ring, 1), [(1, 0)]);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let (mut ring, buf, _rx) = std::thread::spawn(move || {
        let mut ring = ring;
        let mut buf = [0xa5u8; 8];
        ring.scope(|s| {
            // The scope refuses the push up front and lends nothing.
            let refused = s
                .push(Read::new(&rx, &mut buf[..]).user_data(2))
                .map(|_| ())
                .map_err(|e| e.kind());
            assert_eq!(refused, Err(uring::PushErrorKind::OtherThread));
        });
        (ring, buf, rx)
    })
    .join()
    .expect("no panic on the other thread");
    tx.write_all(b"too late").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(buf, [0xa5; 8], "the read wrote after its scope");
    ring.push(Nop::new().user_data(3)).unwrap();
    let got = reap(&mut ring, 1);
    assert!(got.contains(&(3, 0)), "{got:?}");
}

/// The kernel's table of registered ring descriptors has 16 slots per thread
/// (`IO_RINGFD_REG_MAX`), and a ring made with `registered_fd_only` takes
/// one at setup (`io_ring_add_registered_file`, `EBUSY` when none is
/// free). `create_many` with such a builder fails at its first attached
/// ring (the owner has no descriptor to attach to: `ENXIO`), and a
/// `create_many` of 17 such rings fails at the 17th (`EBUSY`): each time,
/// every ring it made must give its slot back, or the thread runs out of
/// slots. So: 20 failed `create_many` in a row, then 16 rings at once
/// (the whole table), a 17th refused, three failed `create_many` of 17,
/// and a ring made after all that, whose NOPs complete.
#[test]
fn failed_create_many_calls_give_back_every_registered_index() {
    let _watch = watchdog();
    if !require_kernel(6, 5, "IORING_SETUP_REGISTERED_FD_ONLY") {
        return;
    }
    // A thread of its own: its table starts empty.
    std::thread::spawn(|| {
        let only = Builder::new().registered_fd_only();
        for round in 0..20 {
            let r = Ring::create_many(2, 4, 1, &only);
            assert_eq!(errno(&r), Some(libc::ENXIO), "round {round}: {r:?}");
        }
        let all = Ring::create_many(16, 4, 16, &only).expect("16 rings fill the table");
        let mut indices: Vec<u32> = all
            .iter()
            .map(|r| r.registered_ring_fd().expect("an index"))
            .collect();
        indices.sort_unstable();
        assert_eq!(indices, (0..16).collect::<Vec<u32>>());
        let one_more = only.build(4);
        assert_eq!(errno(&one_more), Some(libc::EBUSY), "{one_more:?}");
        drop(all);
        for round in 0..3 {
            let r = Ring::create_many(17, 4, 17, &only);
            assert_eq!(errno(&r), Some(libc::EBUSY), "round {round}: {r:?}");
        }
        let mut ring = only.build(4).expect("a ring once the table is free");
        assert_eq!(ring.registered_ring_fd(), Some(0));
        for i in 0..3 {
            ring.push(Nop::new().user_data(i)).unwrap();
        }
        let mut got = reap(&mut ring, 3);
        got.sort_unstable();
        assert_eq!(got, [(0, 0), (1, 0), (2, 0)]);
    })
    .join()
    .expect("no panic on the ring's thread");
}

/// A registered ring descriptor is a reference to the ring in the table of
/// the thread that registered it (`tctx->registered_rings`), released
/// only by an unregister from that thread or when it exits
/// (`io_uring_unreg_ringfd`). A ring dropped on another thread cannot
/// release it: the kernel's ring lives on, with its SQ thread, until the
/// registering thread exits, and no later ring of that thread is ever
/// entered through the index (the kernel hands out only free slots). So:
/// an SQPOLL ring registered on one thread and dropped on this one keeps
/// its SQ thread alive; a ring registered on that thread meanwhile gets
/// another index and runs its own NOPs only; when that thread ends, the SQ
/// thread goes.
#[test]
fn a_registration_left_behind_by_a_ring_dropped_elsewhere_lasts_until_its_thread_ends() {
    let _watch = watchdog();
    if !require_sqpoll() || !require_kernel(5, 18, "IORING_REGISTER_RING_FDS") {
        return;
    }
    let (to_main, from_thread) = std::sync::mpsc::channel();
    let (to_thread, from_main) = std::sync::mpsc::channel::<()>();
    let registrar = std::thread::spawn(move || {
        let mut ring = Builder::new()
            .sqpoll(Duration::from_millis(10))
            .build(4)
            .unwrap();
        let index = ring.register_ring_fd().unwrap();
        ring.push(Nop::new().user_data(1)).unwrap();
        assert_eq!(reap(&mut ring, 1), [(1, 0)]);
        let (sq_thread, _) = uring_tests::sq_thread_info(&ring);
        to_main.send((ring, index, sq_thread)).unwrap();
        from_main.recv().unwrap();
        let mut next = Ring::new(4).unwrap();
        let other = next.register_ring_fd().unwrap();
        assert_ne!(
            other, index,
            "the slot of the dropped ring was handed out again"
        );
        for i in 10..14 {
            next.push(Nop::new().user_data(i)).unwrap();
        }
        let mut got = reap(&mut next, 4);
        got.sort_unstable();
        assert_eq!(got, [(10, 0), (11, 0), (12, 0), (13, 0)]);
        std::thread::sleep(Duration::from_millis(20));
        assert!(drain(&mut next).is_empty());
    });
    let (ring, index, sq_thread) = from_thread.recv().unwrap();
    assert_eq!(ring.registered_ring_fd(), Some(index));
    assert!(thread_alive(sq_thread), "the ring's SQ thread {sq_thread}");
    // This thread's table holds a ring of its own at the same index: an
    // unregister of the dropped ring's index made here would remove it.
    let mut mine = Ring::new(4).unwrap();
    assert_eq!(mine.register_ring_fd().unwrap(), index, "both tables fresh");
    let start = Instant::now();
    drop(ring);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "the drop took {:?}",
        start.elapsed()
    );
    for i in 20..24 {
        mine.push(Nop::new().user_data(i)).unwrap();
    }
    let mut got = reap(&mut mine, 4);
    got.sort_unstable();
    assert_eq!(
        got,
        [(20, 0), (21, 0), (22, 0), (23, 0)],
        "through the index"
    );
    assert_eq!(mine.registered_ring_fd(), Some(index));
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        thread_alive(sq_thread),
        "the kernel's ring lives in the other thread's table"
    );
    to_thread.send(()).unwrap();
    registrar
        .join()
        .expect("no panic on the registering thread");
    let deadline = Instant::now() + PATIENCE;
    while thread_alive(sq_thread) {
        assert!(
            Instant::now() < deadline,
            "the SQ thread outlived the thread whose table held its ring"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ---------------------------------------------------------------------
// Worker pools and their limits
// ---------------------------------------------------------------------

/// Rings of one `create_many` set share the worker pool of the thread that
/// uses them (`current->io_uring->io_wq`, `tctx.c`), and
/// `IORING_REGISTER_IOWQ_MAX_WORKERS` bounds that pool
/// (`io_register_iowq_max_workers`): a limit set through the attached ring
/// is the owner's too. With one unbounded worker, held by the owner's
/// splice blocked on an empty pipe, the attached ring's read, flagged
/// `IOSQE_ASYNC`, of a socket that already holds data, waits in the
/// pool's queue and does not run. The attached ring's scope then ends:
/// its cancel must take the queued read out of the pool before any worker
/// runs it, so the socket still holds its bytes, the buffer keeps its
/// canary, and the ring holds no completion afterwards; the owner's
/// splice completes once, when the pipe is fed.
#[test]
fn a_worker_limit_shared_by_two_rings_keeps_queued_work_unread_when_cancelled() {
    let _watch = watchdog();
    if !require_kernel(5, 15, "IORING_REGISTER_IOWQ_MAX_WORKERS") {
        return;
    }
    // A thread of its own: its worker pool, and the limit, go with it.
    std::thread::spawn(|| {
        let mut rings = match Ring::create_many(2, 8, 1, &Builder::new()) {
            Ok(rings) => rings,
            Err(e) => return skip(format_args!("create_many: {e}")),
        };
        let (first, rest) = rings.split_at_mut(1);
        let (owner, attached) = (&mut first[0], &mut rest[0]);
        assert_eq!(attached.attached_wq(), Some(owner.as_raw_fd()));
        let one = IoWqWorkers {
            bounded: 1,
            unbounded: 1,
        };
        attached.set_iowq_max_workers(one).unwrap();
        assert_eq!(
            owner.iowq_max_workers().unwrap(),
            one,
            "one pool per thread"
        );
        let (empty, empty_w) = pipe();
        let (sink_r, sink) = pipe();
        let (mut feed, src) = UnixStream::pair().unwrap();
        feed.write_all(b"queued!!").unwrap();
        let mut buf = [0x5au8; 8];
        let (spliced, waited, seen) = owner.scope(|so| {
            so.push(Splice::new(&sink, &empty, 16).user_data(1))
                .unwrap();
            so.submit().unwrap();
            wait_for_blocked_workers(gettid(), 1);
            let (waited, seen) = attached.scope(|sa| {
                sa.push(
                    Read::new(&src, &mut buf[..])
                        .flags(SqeFlags::ASYNC)
                        .user_data(2),
                )
                .unwrap();
                sa.submit().unwrap();
                let waited = sa.wait_timeout(1, Duration::from_millis(100));
                let seen: Vec<(u64, i32)> =
                    sa.completions().map(|c| (c.user_data(), c.res())).collect();
                (waited.is_err(), seen)
            });
            std::fs::File::from(empty_w.try_clone().unwrap())
                .write_all(b"released")
                .unwrap();
            let cqe = uring_tests::next_scope_cqe(so);
            ((cqe.user_data(), cqe.res()), waited, seen)
        });
        assert!(
            waited && seen.is_empty(),
            "the read ran past the limit: {seen:?}"
        );
        assert_eq!(buf, [0x5a; 8], "the cancelled read wrote its buffer");
        src.set_nonblocking(true).unwrap();
        let mut left = [0u8; 16];
        let n = (&src).read(&mut left).expect("the bytes are still there");
        assert_eq!(&left[..n], b"queued!!", "the cancelled read consumed data");
        assert_eq!(spliced, (1, 8));
        let mut out = [0u8; 8];
        std::fs::File::from(sink_r).read_exact(&mut out).unwrap();
        assert_eq!(&out, b"released");
        std::thread::sleep(Duration::from_millis(20));
        assert!(drain(attached).is_empty(), "a completion after the scope");
        assert!(drain(owner).is_empty(), "a completion after the scope");
    })
    .join()
    .expect("no panic on the rings' thread");
}

/// Two SQPOLL rings sharing an SQ thread submit through it, so their
/// async work goes to the SQ thread's worker pool, and
/// `io_register_iowq_max_workers` on an SQPOLL ring sets the limits of that
/// pool (`sqd->thread->io_uring`), not the caller's: limits set through
/// the attached ring are what the owner reports, and hold the owner's
/// work. With one unbounded worker held by the owner's blocked splice, the
/// attached ring's async read of a socket holding data stays queued; its
/// scope's end cancels it (with a cancel request the SQ thread runs:
/// `IORING_REGISTER_SYNC_CANCEL` does not reach an SQ thread's workers),
/// and the socket keeps its bytes and the buffer its canary. Then the
/// owner's splice completes once.
#[test]
fn worker_limits_set_through_an_attached_sqpoll_ring_bind_the_shared_sq_thread() {
    let _watch = watchdog();
    if !require_kernel(5, 15, "IORING_REGISTER_IOWQ_MAX_WORKERS") {
        return;
    }
    let Some((mut owner, mut attached)) = shared_sq_thread(Duration::from_millis(500), 8) else {
        return;
    };
    let (sq_thread, _) = uring_tests::sq_thread_info(&owner);
    assert_eq!(uring_tests::sq_thread_info(&attached).0, sq_thread);
    let one = IoWqWorkers {
        bounded: 1,
        unbounded: 1,
    };
    let before = attached.set_iowq_max_workers(one).unwrap();
    assert_ne!(before, one, "precondition: other limits before");
    assert_eq!(
        owner.iowq_max_workers().unwrap(),
        one,
        "the limits of the one SQ thread's pool"
    );
    let (empty, empty_w) = pipe();
    let (sink_r, sink) = pipe();
    let (mut feed, src) = UnixStream::pair().unwrap();
    feed.write_all(b"queued!!").unwrap();
    let mut buf = [0x5au8; 8];
    let (spliced, seen) = owner.scope(|so| {
        so.push(Splice::new(&sink, &empty, 16).user_data(1))
            .unwrap();
        so.submit().unwrap();
        wait_for_blocked_workers(sq_thread, 1);
        let seen = attached.scope(|sa| {
            sa.push(
                Read::new(&src, &mut buf[..])
                    .flags(SqeFlags::ASYNC)
                    .user_data(2),
            )
            .unwrap();
            sa.submit().unwrap();
            let _ = sa.wait_timeout(1, Duration::from_millis(100));
            sa.completions()
                .map(|c| (c.user_data(), c.res()))
                .collect::<Vec<_>>()
        });
        std::fs::File::from(empty_w.try_clone().unwrap())
            .write_all(b"released")
            .unwrap();
        let cqe = uring_tests::next_scope_cqe(so);
        ((cqe.user_data(), cqe.res()), seen)
    });
    assert!(seen.is_empty(), "the read ran past the limit: {seen:?}");
    assert_eq!(buf, [0x5a; 8], "the cancelled read wrote its buffer");
    src.set_nonblocking(true).unwrap();
    let mut left = [0u8; 16];
    let n = (&src).read(&mut left).expect("the bytes are still there");
    assert_eq!(&left[..n], b"queued!!", "the cancelled read consumed data");
    assert_eq!(spliced, (1, 8));
    let mut out = [0u8; 8];
    std::fs::File::from(sink_r).read_exact(&mut out).unwrap();
    assert_eq!(&out, b"released");
    std::thread::sleep(Duration::from_millis(20));
    assert!(drain(&mut attached).is_empty());
    assert!(drain(&mut owner).is_empty());
}

/// The io-wq workers of thread `tid` (`iou-wrk-<tid>`) sleeping on an empty
/// pipe, each with its `Cpus_allowed_list`.
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
            Some((id, cpus_allowed(&read("status"))))
        })
        .collect();
    found.sort();
    found
}

/// The `Cpus_allowed_list` line of a thread's `status`.
fn cpus_allowed(status: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Waits until `n` io-wq workers of thread `tid` sleep on an empty pipe;
/// returns them.
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

/// `IORING_REGISTER_IOWQ_AFF` on an SQPOLL ring sets the CPUs of the SQ
/// thread's worker pool (`io_sqpoll_wq_cpu_affinity`), which every ring
/// sharing the thread uses, and applies to workers created afterwards
/// (`io_wq_cpu_affinity` copies the mask that new workers take).
/// `IORING_UNREGISTER_IOWQ_AFF` gives the pool the SQ thread's own CPUs
/// back. Set through the attached ring: the worker that then runs the
/// owner's blocking splice is allowed CPU 0 alone; after the clear, a
/// second worker is allowed what the SQ thread is; an empty set (a subset
/// of any, so the kernel may take it) stops no work: a third splice runs
/// and all three complete once, with the bytes fed to them.
#[test]
fn worker_affinity_set_through_an_attached_sqpoll_ring_binds_the_shared_pool() {
    let _watch = watchdog();
    if !require_kernel(5, 14, "IORING_REGISTER_IOWQ_AFF") {
        return;
    }
    let Some((mut owner, mut attached)) = shared_sq_thread(Duration::from_millis(500), 8) else {
        return;
    };
    let (sq_thread, _) = uring_tests::sq_thread_info(&owner);
    let sq_cpus = cpus_allowed(
        &std::fs::read_to_string(format!("/proc/self/task/{sq_thread}/status")).unwrap(),
    );
    let pipes: Vec<_> = (0..3).map(|_| (pipe(), pipe())).collect();
    let mut allowed = Vec::new();
    let got = owner.scope(|s| {
        let mut known: Vec<i64> = Vec::new();
        for (i, ((empty, _), (_, sink))) in pipes.iter().enumerate() {
            let set = match i {
                0 => attached.set_iowq_affinity(&[0]),
                1 => attached.clear_iowq_affinity(),
                _ => attached.set_iowq_affinity(&[]),
            };
            assert!(
                set.is_ok() || (i == 2 && errno(&set) == Some(libc::EINVAL)),
                "step {i}: {set:?}"
            );
            s.push(Splice::new(sink, empty, 16).user_data(i as u64))
                .unwrap();
            s.submit().unwrap();
            let workers = wait_for_blocked_workers(sq_thread, i + 1);
            let (new, cpus) = workers
                .iter()
                .find(|(id, _)| !known.contains(id))
                .cloned()
                .expect("a new worker");
            known.push(new);
            allowed.push(cpus);
        }
        for (i, ((_, feed), _)) in pipes.iter().enumerate() {
            std::fs::File::from(feed.try_clone().unwrap())
                .write_all(&[b'0' + i as u8; 4])
                .unwrap();
        }
        let mut got = uring_tests::pairs(&uring_tests::scope_reap(s, 3));
        got.sort_unstable();
        got
    });
    assert_eq!(got, [(0, 4), (1, 4), (2, 4)]);
    assert_eq!(allowed[0], "0", "the worker after the set");
    assert_eq!(allowed[1], sq_cpus, "the worker after the clear");
    for (i, (_, (sink_r, _))) in pipes.into_iter().enumerate() {
        let mut out = [0u8; 4];
        std::fs::File::from(sink_r).read_exact(&mut out).unwrap();
        assert_eq!(out, [b'0' + i as u8; 4]);
    }
    attached
        .push(Nop::new().flags(SqeFlags::ASYNC).user_data(9))
        .unwrap();
    assert_eq!(reap(&mut attached, 1), [(9, 0)]);
    assert!(drain(&mut owner).is_empty());
}

// ---------------------------------------------------------------------
// Shared SQ threads
// ---------------------------------------------------------------------

/// The result a NOP of ring `ring` and number `i` injects.
fn injected(ring: u64, i: u64) -> i32 {
    ((ring * 1_000_003 + i * 7_919) % 1_000_000_007 % (i32::MAX as u64)) as i32
}

/// Pushes NOPs `0..n` (each injecting [`injected`]) into `ring` as room
/// allows, submitting as it goes, until all `n` completions are read;
/// returns them.
fn run_nops(ring: &mut Ring, tag: u64, n: u64) -> Vec<(u64, i32)> {
    let mut got = Vec::with_capacity(n as usize);
    let mut next = 0;
    let deadline = Instant::now() + PATIENCE;
    while got.len() < n as usize {
        assert!(
            Instant::now() < deadline,
            "ring {tag}: {} of {n}",
            got.len()
        );
        // Never more in flight than the CQ holds.
        while next < n && next - (got.len() as u64) < u64::from(ring.cq_entries()) {
            let nop = Nop::new()
                .result(injected(tag, next))
                .user_data(tag << 32 | next);
            if ring.push(nop).is_err() {
                break;
            }
            next += 1;
        }
        ring.submit().unwrap();
        let before = got.len();
        got.extend(drain(ring));
        if got.len() == before {
            let _ = ring.wait_timeout(1, Duration::from_millis(5));
            got.extend(drain(ring));
        }
    }
    got
}

/// One SQ thread serves every ring of its `sqd->ctx_list` in turn, taking
/// at most 8 SQEs of each per pass (`__io_sq_thread`), and reads a ring's
/// SQEs only up to the tail it loads with acquire (`io_sqring_entries`):
/// the library must have written every byte of an SQE before its tail
/// store. Two rings sharing a busy SQ thread (long idle), each pushed to
/// from its own thread, 3000 NOPs each, every NOP injecting a result
/// computed from its ring and number (`IORING_NOP_INJECT_RESULT`, 6.10):
/// each ring gets each of its NOPs once, with its own result, and none of
/// the other ring's; nothing is left in either ring afterwards.
#[test]
fn a_shared_sq_thread_reads_every_sqe_of_two_busy_rings_whole() {
    let _watch = watchdog();
    if !require_kernel(6, 10, "IORING_NOP_INJECT_RESULT") {
        return;
    }
    const N: u64 = 3000;
    let Some((mut owner, attached)) = shared_sq_thread(Duration::from_millis(200), 16) else {
        return;
    };
    let other = std::thread::spawn(move || {
        let mut attached = attached;
        let got = run_nops(&mut attached, 2, N);
        (attached, got)
    });
    let mine = run_nops(&mut owner, 1, N);
    let (mut attached, theirs) = other.join().expect("no panic on the other thread");
    for (tag, got) in [(1u64, mine), (2, theirs)] {
        assert_eq!(got.len(), N as usize, "ring {tag}");
        let mut seen = vec![false; N as usize];
        for (user_data, res) in got {
            assert_eq!(user_data >> 32, tag, "ring {tag} got {user_data:#x}");
            let i = user_data & 0xffff_ffff;
            assert!(i < N, "ring {tag}: {user_data:#x}");
            assert!(!seen[i as usize], "ring {tag}: NOP {i} twice");
            seen[i as usize] = true;
            assert_eq!(res, injected(tag, i), "ring {tag}: NOP {i}");
        }
    }
    std::thread::sleep(Duration::from_millis(20));
    assert!(drain(&mut owner).is_empty());
    assert!(drain(&mut attached).is_empty());
    assert_eq!(owner.pending(), 0);
    assert_eq!(attached.pending(), 0);
}

/// An SQ thread is an io thread of the process (`create_io_thread`), not
/// of the thread that made its ring, and it lives while any ring holds its
/// `io_sq_data` (`io_put_sq_data` stops it at the last). So: an SQPOLL
/// ring made on a thread that then exits keeps its SQ thread; a ring made
/// afterwards on this thread attaches to it (`io_attach_sq_data` checks
/// the process, not the thread); the first ring dropped, the attached one
/// is still served (a read in its scope completes once, with the bytes
/// sent, and no `EOWNERDEAD`); and when it goes too, so does the SQ
/// thread.
#[test]
fn an_sq_thread_outlives_the_thread_and_the_ring_that_made_it() {
    let _watch = watchdog();
    if !require_sqpoll() {
        return;
    }
    let made = std::thread::spawn(|| {
        Builder::new()
            .sqpoll(Duration::from_millis(10))
            .build(4)
            .ok()
    })
    .join()
    .unwrap();
    let Some(mut owner) = made else {
        return skip("no SQPOLL ring");
    };
    owner.push(Nop::new().user_data(1)).unwrap();
    assert_eq!(reap(&mut owner, 1), [(1, 0)]);
    let (sq_thread, _) = uring_tests::sq_thread_info(&owner);
    assert!(thread_alive(sq_thread));
    let mut attached = Builder::new()
        .sqpoll(Duration::from_millis(10))
        .attach_wq(&owner)
        .build(4)
        .expect("attach to the SQ thread of a ring made on an ended thread");
    assert_eq!(uring_tests::sq_thread_info(&attached).0, sq_thread);
    drop(owner);
    std::thread::sleep(Duration::from_millis(30));
    assert!(
        thread_alive(sq_thread),
        "the attached ring holds the SQ thread"
    );
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let mut buf = [0u8; 8];
    let got = attached.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(2)).unwrap();
        s.submit().unwrap();
        std::thread::sleep(Duration::from_millis(30));
        tx.write_all(b"served!!").unwrap();
        let cqe = uring_tests::next_scope_cqe(s);
        (cqe.user_data(), cqe.res())
    });
    assert_eq!(got, (2, 8));
    assert_eq!(&buf, b"served!!");
    attached.push(Nop::new().user_data(3)).unwrap();
    assert_eq!(reap(&mut attached, 1), [(3, 0)]);
    drop(attached);
    let deadline = Instant::now() + PATIENCE;
    while thread_alive(sq_thread) {
        assert!(
            Instant::now() < deadline,
            "the SQ thread outlived its rings"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `io_sq_offload_create` returns as soon as a ring attaches to an
/// existing SQ thread, before it looks at `IORING_SETUP_SQ_AFF`: an
/// attached ring's `sq_thread_cpu` is never checked nor applied. A CPU
/// number no machine has is refused for a ring of its own (`EINVAL`) and
/// taken for an attached ring, whose SQ thread is the owner's and stays
/// on the owner's CPU. (`Builder::sq_thread_cpu` binds a thread only for
/// a ring that makes one.) The attached ring then runs its ops.
#[test]
fn an_attached_ring_s_sq_thread_cpu_is_the_owner_s() {
    let _watch = watchdog();
    if !require_sqpoll() {
        return;
    }
    let nowhere = 4095;
    let alone = Builder::new()
        .sqpoll(Duration::from_millis(10))
        .sq_thread_cpu(nowhere)
        .build(4);
    assert_eq!(errno(&alone), Some(libc::EINVAL), "{alone:?}");
    let owner = match Builder::new()
        .sqpoll(Duration::from_millis(10))
        .sq_thread_cpu(0)
        .build(4)
    {
        Ok(ring) => ring,
        Err(e) => return skip(format_args!("no SQ thread on CPU 0: {e}")),
    };
    let mut attached = Builder::new()
        .sqpoll(Duration::from_millis(10))
        .sq_thread_cpu(nowhere)
        .attach_wq(&owner)
        .build(4)
        .expect("an attached ring's CPU is not looked at");
    attached.push(Nop::new().user_data(1)).unwrap();
    assert_eq!(reap(&mut attached, 1), [(1, 0)]);
    let (thread, cpu) = uring_tests::sq_thread_info(&owner);
    assert_eq!(cpu, 0);
    assert_eq!(uring_tests::sq_thread_info(&attached), (thread, 0));
}

/// An SQPOLL ring may attach to the SQ thread of a ring created disabled
/// (`IORING_SETUP_R_DISABLED`). The thread runs for the attached ring
/// while it skips the disabled one (`__io_sq_thread` submits nothing of a
/// ctx flagged `R_DISABLED`). The disabled ring's scope takes no op
/// (`Disabled`); a NOP it published waits, and runs once after
/// `enable` (`io_register_enable_rings` clears the flag and wakes the
/// thread). Neither ring ever sees the other's completions.
#[test]
fn an_sq_thread_shared_with_a_disabled_ring_runs_only_the_enabled_one() {
    let _watch = watchdog();
    if !require_sqpoll() {
        return;
    }
    let mut disabled = match Builder::new()
        .sqpoll(Duration::from_millis(200))
        .r_disabled()
        .build(4)
    {
        Ok(ring) => ring,
        Err(e) => return skip(format_args!("no disabled SQPOLL ring: {e}")),
    };
    let mut attached = Builder::new()
        .sqpoll(Duration::from_millis(200))
        .attach_wq(&disabled)
        .build(4)
        .expect("attach to a disabled ring's SQ thread");
    attached.push(Nop::new().user_data(1)).unwrap();
    assert_eq!(reap(&mut attached, 1), [(1, 0)]);
    let kind = disabled.scope(|s| s.push(Nop::new().user_data(9)).unwrap_err().kind());
    assert_eq!(kind, PushErrorKind::Disabled);
    disabled.push(Nop::new().user_data(2)).unwrap();
    let submitted = disabled.submit();
    assert!(
        submitted.is_ok() || errno(&submitted) == Some(libc::EBADFD),
        "{submitted:?}"
    );
    for i in 3..6 {
        attached.push(Nop::new().user_data(i)).unwrap();
    }
    let mut got = reap(&mut attached, 3);
    got.sort_unstable();
    assert_eq!(got, [(3, 0), (4, 0), (5, 0)]);
    std::thread::sleep(Duration::from_millis(30));
    assert!(drain(&mut disabled).is_empty(), "a disabled ring ran an op");
    disabled.enable().unwrap();
    let got = reap(&mut disabled, 1);
    assert_eq!(got, [(2, 0)]);
    std::thread::sleep(Duration::from_millis(30));
    assert!(drain(&mut disabled).is_empty());
    assert!(drain(&mut attached).is_empty());
}

/// The kernel reads the SQ of a ring in user memory (`IORING_SETUP_NO_MMAP`)
/// through pages it pinned and mapped for itself at setup
/// (`io_create_region`, `memmap.c`), never through the program's addresses.
/// A ring in a region, attached to another's SQ thread, is dropped while a
/// `RingTarget` keeps the kernel's ring (and its place in the SQ thread's
/// list); the program maps new memory at the region's very addresses and
/// writes there what would be a new SQE, published: a `MSG_RING` message
/// into a third ring, behind a tail moved past it. The SQ thread, kept
/// busy by the owner, must not run it: the third ring gets nothing, and
/// the new memory holds exactly the bytes written (no head, CQE or flag
/// stored into it). The same SQE pushed into a ring does post its message.
#[test]
fn the_sq_thread_never_reads_memory_mapped_again_where_a_dropped_ring_was() {
    let _watch = watchdog();
    if !require_kernel(6, 5, "IORING_SETUP_NO_MMAP") {
        return;
    }
    let Some((mut owner, _attached)) = shared_sq_thread(Duration::from_millis(500), 4) else {
        return;
    };
    let mut inbox = Ring::new(8).unwrap();
    let mut message = uring_tests::raw_sqe(
        sys::IORING_OP_MSG_RING,
        inbox.as_raw_fd(),
        sys::IORING_MSG_DATA,
        77,
        0,
        0x5151,
    );
    message.off = sys::io_uring_sqe_off { off: 0xBAD };
    let builder = Builder::new()
        .sqpoll(Duration::from_millis(500))
        .attach_wq(&owner);
    let size = builder.ring_memory_size(4).unwrap();
    let region = RingRegion::anonymous(size).unwrap();
    let base = region.as_ptr();
    let mut ring = builder.build_in(4, region).unwrap();
    let p = *ring.params().as_raw();
    ring.push(Nop::new().user_data(1)).unwrap();
    assert_eq!(reap(&mut ring, 1), [(1, 0)]);
    let target = ring.msg_target().unwrap();
    drop(ring);
    // SAFETY: a fresh anonymous mapping at the addresses the dropped ring
    // unmapped, refused (not replaced) if anything took them meanwhile.
    let again = unsafe {
        libc::mmap(
            base.cast(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    if again != base.cast() {
        if again != libc::MAP_FAILED {
            // SAFETY: the mapping just made, used by nothing.
            unsafe { libc::munmap(again, size) };
        }
        return skip("the dropped ring's addresses were taken before they could be mapped again");
    }
    let mem = again.cast::<u8>();
    // Where the setup told the kernel the SQEs and the rings are.
    let sqes_at = p.sq_off.user_addr as usize - base as usize;
    let rings_at = p.cq_off.user_addr as usize - base as usize;
    assert!(sqes_at < size && rings_at + p.sq_off.array as usize + 16 <= size);
    let word = |at: usize, value: u32| {
        // SAFETY: `at` is inside the new mapping (checked above for the
        // last word written), 4-byte aligned.
        unsafe { mem.add(rings_at + at).cast::<u32>().write(value) }
    };
    let head = 1u32;
    let slot = head & (p.sq_entries - 1);
    word(p.sq_off.head as usize, head);
    word(p.sq_off.tail as usize, head + 1);
    word(p.sq_off.ring_mask as usize, p.sq_entries - 1);
    word(p.sq_off.ring_entries as usize, p.sq_entries);
    for i in 0..p.sq_entries {
        word(p.sq_off.array as usize + 4 * i as usize, i);
    }
    // SAFETY: slot `slot` of the SQE array, inside the mapping.
    unsafe {
        mem.add(sqes_at)
            .cast::<sys::io_uring_sqe>()
            .add(slot as usize)
            .write(message)
    };
    // SAFETY: the mapping's `size` bytes, all written or zero.
    let written = unsafe { std::slice::from_raw_parts(mem, size) }.to_vec();
    // Keep the SQ thread going round its rings for a while.
    let until = Instant::now() + Duration::from_millis(150);
    let mut n = 100;
    while Instant::now() < until {
        owner.push(Nop::new().user_data(n)).unwrap();
        n += 1;
        reap(&mut owner, 1);
    }
    let _ = inbox.wait_timeout(1, Duration::from_millis(50));
    assert!(
        drain(&mut inbox).is_empty(),
        "the SQ thread ran an SQE from the program's new memory"
    );
    // SAFETY: the mapping's `size` bytes.
    let now = unsafe { std::slice::from_raw_parts(mem, size) };
    assert!(now == &written[..], "the kernel wrote into the new memory");
    drop(target);
    // SAFETY: the mapping made above, which nothing refers to any more.
    unsafe { libc::munmap(again, size) };
    // The same SQE, given to a live ring, does post its message.
    let mut sender = Ring::new(4).unwrap();
    // SAFETY: a data message names no memory; `inbox` outlives the call.
    unsafe { sender.push_raw(&[message]) }.unwrap();
    assert_eq!(reap(&mut sender, 1), [(0x5151, 0)]);
    assert_eq!(reap(&mut inbox, 1), [(0xBAD, 77)]);
}

// ---------------------------------------------------------------------
// Single issuers enabled elsewhere
// ---------------------------------------------------------------------

/// A ring made with `single_issuer` and `r_disabled` has no submitter
/// (`ctx->submitter_task`) until `IORING_REGISTER_ENABLE_RINGS`, which makes
/// the enabling thread its submitter (`io_register_enable_rings`); from
/// then on the kernel refuses the other threads' submissions (`EEXIST`, `__io_uring_add_tctx_node_from_submit`)
/// and every register call of theirs (`__io_uring_register`), and with
/// `defer_taskrun` their waits too. Made on this thread and enabled on
/// another: here a NOP pushed outside a scope is refused and stays queued,
/// register calls fail with `EEXIST`, and a scope that lends a buffer to a
/// read takes the SQE back and returns (no abort), the buffer keeping its
/// canary after the peer writes. Back on the enabling thread, the queued
/// NOP runs once, and the read never does.
#[test]
fn a_single_issuer_ring_belongs_to_the_thread_that_enables_it() {
    let _watch = watchdog();
    if !require_kernel(6, 1, "IORING_SETUP_SINGLE_ISSUER and DEFER_TASKRUN") {
        return;
    }
    for defer in [false, true] {
        let builder = if defer {
            Builder::new().single_issuer().defer_taskrun()
        } else {
            Builder::new().single_issuer()
        };
        let ring = builder.r_disabled().build(8).unwrap();
        let (to_worker, rings_in) = std::sync::mpsc::channel::<Ring>();
        let (to_main, rings_out) = std::sync::mpsc::channel::<Ring>();
        let worker = std::thread::spawn(move || {
            let mut ring = rings_in.recv().unwrap();
            ring.enable().unwrap();
            ring.push(Nop::new().user_data(1)).unwrap();
            assert_eq!(reap(&mut ring, 1), [(1, 0)]);
            to_main.send(ring).unwrap();
            let mut ring = rings_in.recv().unwrap();
            ring.push(Nop::new().user_data(3)).unwrap();
            let mut got = reap(&mut ring, 2);
            std::thread::sleep(Duration::from_millis(20));
            got.extend(drain(&mut ring));
            got.sort_unstable();
            got
        });
        to_worker.send(ring).unwrap();
        let mut ring = rings_out.recv().unwrap();
        ring.push(Nop::new().user_data(2)).unwrap();
        let refused = ring.submit();
        assert_eq!(
            errno(&refused),
            Some(libc::EEXIST),
            "defer {defer}: {refused:?}"
        );
        assert_eq!(ring.pending(), 1);
        let limits = ring.iowq_max_workers();
        assert_eq!(
            errno(&limits),
            Some(libc::EEXIST),
            "defer {defer}: {limits:?}"
        );
        let index = ring.register_ring_fd();
        assert_eq!(
            errno(&index),
            Some(libc::EEXIST),
            "defer {defer}: {index:?}"
        );
        let (mut tx, rx) = UnixStream::pair().unwrap();
        let mut buf = [0xc3u8; 8];
        let submitted = ring.scope(|s| {
            s.push(Read::new(&rx, &mut buf[..]).user_data(4)).unwrap();
            s.submit().map_err(|e| e.raw_os_error())
        });
        assert_eq!(submitted, Err(Some(libc::EEXIST)), "defer {defer}");
        tx.write_all(b"too late").unwrap();
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(buf, [0xc3; 8], "defer {defer}: the read ran");
        to_worker.send(ring).unwrap();
        let got = worker.join().expect("no panic on the enabling thread");
        assert_eq!(got, [(2, 0), (3, 0)], "defer {defer}");
        let mut left = [0u8; 8];
        (&rx).read_exact(&mut left).unwrap();
        assert_eq!(&left, b"too late", "defer {defer}: the read consumed data");
    }
}
