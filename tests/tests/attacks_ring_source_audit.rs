//! The ring layer read against the kernel's own io_uring code (Linux 6.18):
//! what `io_register_resize_rings` copies into the new rings and what it
//! leaves in the context (the overflow list, local task work, the CQ's
//! flags word), the flags it sets on the rings it swaps in, where
//! `io_submit_sqes` stops and what a resize then finds in the SQ, and how
//! `io_sq_thread` decides to sleep while the ring stores its tail.
//!
//! Each test pushes real work through the kernel and checks what came
//! back: every `user_data` once and in order, the extra words of 32-byte
//! completions, the eventfd's counter, the mappings of the ring's file.
//! The `unsafe` here makes an eventfd and sets an address-space limit:
//! scaffolding around attacks made with safe calls of the library.

use std::io::Read as _;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use uring::ops::Nop;
use uring::sys::fault::{self, Call};
use uring::{Builder, Cqe16, Cqe32, CqeSize, Error, Ring, RingRegion, Sqe64, Sqe128, SqeSize};
use uring_tests::{PATIENCE, require_kernel, require_sqpoll, skip, watchdog};

/// A ring with deferred task work (the only kind Linux 6.18 resizes) of
/// `entries` SQEs, made by `builder`; `None`, with the reason printed,
/// where the kernel has no resize.
fn resizable<S: SqeSize, C: CqeSize>(builder: Builder<'_>, entries: u32) -> Option<Ring<S, C>> {
    if !require_kernel(6, 13, "IORING_REGISTER_RESIZE_RINGS") {
        return None;
    }
    match builder
        .single_issuer()
        .defer_taskrun()
        .build_sized::<S, C>(entries)
    {
        Ok(ring) => Some(ring),
        Err(e) => {
            skip(format_args!("no ring with deferred task work: {e}"));
            None
        }
    }
}

/// The `(user_data, res)` of every completion ready now, in CQ order.
fn take<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>) -> Vec<(u64, i32)> {
    ring.completions()
        .map(|c| (c.as_ref().user_data(), c.as_ref().res()))
        .collect()
}

/// Waits (at most [`PATIENCE`] for each) until `n` completions came, and
/// returns them as `(user_data, res)` in CQ order.
fn reap<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>, n: usize) -> Vec<(u64, i32)> {
    let mut got = take(ring);
    let deadline = Instant::now() + PATIENCE;
    while got.len() < n {
        assert!(
            Instant::now() < deadline,
            "{} of {n} completions came: {got:?}",
            got.len()
        );
        match ring.wait_timeout(1, Duration::from_millis(100)) {
            Ok(()) | Err(Error::TimedOut) => {}
            Err(e) => panic!("wait: {e}"),
        }
        got.extend(take(ring));
    }
    got
}

/// `(user_data, 0)` for each of `user_data`.
fn ok(user_data: impl IntoIterator<Item = u64>) -> Vec<(u64, i32)> {
    user_data.into_iter().map(|u| (u, 0)).collect()
}

/// The inode of the ring's file, from `/proc/self/fdinfo`.
fn ring_inode<S: SqeSize, C: CqeSize>(ring: &Ring<S, C>) -> u64 {
    let path = format!("/proc/self/fdinfo/{}", ring.as_raw_fd());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .find_map(|l| l.strip_prefix("ino:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no ino in {path}:\n{text}"))
}

/// The `(start, end)` of every mapping of the io_uring file whose inode is
/// `ino`, from `/proc/self/maps`.
fn ring_mappings(ino: u64) -> Vec<(u64, u64)> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 6 || f[4].parse() != Ok(ino) || !f[5].contains("io_uring") {
                return None;
            }
            let (a, b) = f[0].split_once('-')?;
            Some((
                u64::from_str_radix(a, 16).ok()?,
                u64::from_str_radix(b, 16).ok()?,
            ))
        })
        .collect()
}

/// A non-blocking eventfd, read through a `File`.
fn eventfd() -> std::fs::File {
    // SAFETY: eventfd(2) takes two integers and returns a new descriptor.
    let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    assert!(raw >= 0, "eventfd: {}", std::io::Error::last_os_error());
    // SAFETY: `raw` is a descriptor just made, owned by nothing else.
    std::fs::File::from(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// The eventfd's counter, reset; `None` if it was never signalled.
fn signals(efd: &mut std::fs::File) -> Option<u64> {
    let mut count = [0u8; 8];
    match efd.read(&mut count) {
        Ok(8) => Some(u64::from_ne_bytes(count)),
        Ok(n) => panic!("an eventfd read of {n} bytes"),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
        Err(e) => panic!("eventfd read: {e}"),
    }
}

/// A NOP the kernel refuses as `io_init_req` prepares it (a 32-byte
/// completion asked of a ring of 16-byte ones): `io_submit_fail_init`
/// completes it with `EINVAL` and `io_submit_sqes` stops right after it,
/// leaving the SQEs behind it in the SQ.
fn refused(user_data: u64) -> Nop {
    Nop::new()
        .big_cqe([user_data, !user_data])
        .user_data(user_data)
}

// ---------------------------------------------------------------------------
// What a resize sets in the new rings' flags
// ---------------------------------------------------------------------------

/// `io_register_resize_rings` (Linux 6.18.44, with the fix that gives
/// the context an RCU-protected `rings_rcu`) marks the rings it swaps in
/// with `IORING_SQ_TASKRUN | IORING_SQ_NEED_WAKEUP` "for any flag we may
/// have missed", whatever the ring's setup (printed below as seen);
/// nothing clears `NEED_WAKEUP` on a ring without an SQ thread, nor
/// `TASKRUN` on one without `IORING_SETUP_TASKRUN_FLAG`
/// (`__io_run_local_work` clears it only with that flag). The library reads both words as the kernel's word on
/// what waits in it (`Sq::cq_needs_flush`, `Sq::need_wakeup`): from then
/// on every submit and every wait enters the kernel with
/// `IORING_ENTER_GETEVENTS`. That must cost nothing but the calls: on
/// rings in the kernel's memory and in the library's, with and without the
/// task-run flag, resized three times, submits, waits, iterators, `advance`, a
/// wait that times out and a scope each see every completion once, in
/// order, and a wait for what never comes ends at its timeout instead of
/// spinning.
#[test]
fn flags_a_resize_leaves_set_for_good_lose_and_repeat_nothing() {
    let _watch = watchdog();
    for what in [
        "kernel memory",
        "kernel memory, task-run flag",
        "library memory",
        "library memory, task-run flag",
    ] {
        let mut builder = Builder::new();
        if what.starts_with("library") {
            builder = builder.no_mmap();
        }
        if what.ends_with("flag") {
            builder = builder.taskrun_flag();
        }
        let Some(mut ring) = resizable::<Sqe64, Cqe16>(builder, 4) else {
            return;
        };
        let mut next = 0u64;
        for (sq, cq) in [(8, 16), (2, 4), (4, 8)] {
            ring.resize(sq, cq)
                .unwrap_or_else(|e| panic!("{what}: resize to {sq}/{cq}: {e}"));
            eprintln!(
                "{what}: resized to {sq}/{cq}: task work flagged {}, wake-up flagged {}",
                ring.has_task_work(),
                ring.sq_needs_wakeup()
            );
            // Plain submit, then a wait for what is ready already.
            let first = next;
            for _ in 0..sq {
                ring.push(Nop::new().user_data(next)).unwrap();
                next += 1;
            }
            assert_eq!(ring.submit().unwrap(), sq, "{what}");
            ring.wait(sq).unwrap();
            ring.wait(sq).unwrap();
            assert_eq!(take(&mut ring), ok(first..next), "{what}: {sq}/{cq}");
            // Nothing more: an empty iterator, an empty advance, and a
            // wait that times out (rather than spinning on the flags).
            assert_eq!(take(&mut ring), [], "{what}");
            assert_eq!(ring.advance(u32::MAX), 0, "{what}");
            assert!(
                matches!(
                    ring.wait_timeout(1, Duration::from_millis(5)),
                    Err(Error::TimedOut)
                ),
                "{what}: a wait for nothing did not time out"
            );
            assert_eq!(ring.submit().unwrap(), 0, "{what}: nothing to submit");
            // Submit and wait in one, and read through peek and advance.
            let first = next;
            for _ in 0..sq {
                ring.push(Nop::new().user_data(next)).unwrap();
                next += 1;
            }
            assert_eq!(ring.submit_and_wait(sq).unwrap(), sq, "{what}");
            let mut seen = Vec::new();
            while let Some(c) = ring.peek() {
                seen.push(c.user_data());
                assert_eq!(ring.advance(1), 1);
            }
            assert_eq!(seen, (first..next).collect::<Vec<_>>(), "{what}");
            // A scope's ops, settled once each.
            let first = next;
            let got = ring.scope(|s| {
                for i in 0..u64::from(sq) {
                    s.push(Nop::new().user_data(first + i)).unwrap();
                }
                s.submit_and_wait(sq).unwrap();
                s.completions()
                    .map(|c| (c.user_data(), c.res()))
                    .collect::<Vec<_>>()
            });
            next += u64::from(sq);
            assert_eq!(got, ok(first..next), "{what}: scope");
            assert_eq!(take(&mut ring), [], "{what}: a scope's op came out twice");
            assert_eq!(ring.dropped(), 0, "{what}");
            assert_eq!(ring.overflow(), 0, "{what}");
        }
    }
}

/// The cost of the flags above, against what the library documents:
/// `Ring::wait` "returns at once, without a system call" when what it
/// waits for is ready, `Ring::submit` with nothing pushed makes no call,
/// and `Ring::sq_needs_wakeup` is "always `false` without
/// `Builder::sqpoll`". On Linux 6.18.44, after one resize of a ring with
/// neither an SQ thread nor the task-run flag, the kernel's
/// `IORING_SQ_TASKRUN | IORING_SQ_NEED_WAKEUP` stay set for the ring's
/// life; believed, they would send every wait and every submit into the
/// kernel and make `sq_needs_wakeup` answer `true` on a ring that has no
/// SQ thread. The ring believes them only where its setup lets the kernel
/// set them: `NEED_WAKEUP` on SQPOLL rings, `TASKRUN` on rings made with
/// `taskrun_flag`.
#[test]
fn after_a_resize_ready_completions_are_read_without_a_system_call() {
    let _watch = watchdog();
    let Some(mut ring) = resizable::<Sqe64, Cqe16>(Builder::new(), 4) else {
        return;
    };
    ring.resize(8, 16).unwrap();
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.push(Nop::new().user_data(2)).unwrap();
    assert_eq!(ring.submit_and_wait(2).unwrap(), 2);
    fault::reset();
    ring.wait(2).unwrap();
    assert_eq!(ring.submit().unwrap(), 0);
    let made = fault::counts(Call::Enter).made;
    assert_eq!(take(&mut ring), ok([1, 2]));
    assert!(
        !ring.sq_needs_wakeup(),
        "sq_needs_wakeup() on a ring without an SQ thread"
    );
    assert!(
        !ring.has_task_work(),
        "has_task_work() on a ring without the task-run flag, with no task work"
    );
    assert_eq!(
        made, 0,
        "a wait for what was ready and an empty submit entered the kernel"
    );
}

// ---------------------------------------------------------------------------
// The CQ's flags word across a resize
// ---------------------------------------------------------------------------

/// `io_register_resize_rings` copies the CQ ring's flags word
/// (`WRITE_ONCE(n.rings->cq_flags, READ_ONCE(o.rings->cq_flags))`), the
/// one word of the rings that user space writes and the kernel only reads
/// (`io_eventfd_trigger` tests `IORING_CQ_EVENTFD_DISABLED` in it). So an
/// eventfd silenced before a resize stays silent after it, and turning it
/// on and off again must write the new rings' word, not the old mapping
/// the resize let go of (which the library unmaps: a write there would
/// fault, or change nothing the kernel reads). On rings in the kernel's
/// memory, in the library's, and moved into a region given to
/// `resize_in`.
#[test]
fn a_silenced_eventfd_stays_silent_across_resizes_and_is_woken_in_the_new_rings() {
    let _watch = watchdog();
    for what in ["kernel memory", "library memory", "given memory"] {
        let builder = if what == "kernel memory" {
            Builder::new()
        } else {
            Builder::new().no_mmap()
        };
        let Some(mut ring) = resizable::<Sqe64, Cqe16>(builder, 4) else {
            return;
        };
        let mut efd = eventfd();
        ring.register_eventfd(std::os::fd::AsFd::as_fd(&efd), false)
            .unwrap();
        let mut next = 0u64;
        let mut nop = |ring: &mut Ring, efd: &mut std::fs::File| {
            ring.push(Nop::new().user_data(next)).unwrap();
            ring.submit_and_wait(1).unwrap();
            assert_eq!(take(ring), ok([next]), "{what}");
            next += 1;
            signals(efd)
        };
        // The eventfd is signalled at all on this ring.
        assert!(
            nop(&mut ring, &mut efd).is_some(),
            "{what}: never signalled"
        );
        ring.set_cq_eventfd(false).unwrap();
        assert_eq!(nop(&mut ring, &mut efd), None, "{what}: silenced");
        for (sq, cq) in [(8, 16), (2, 4), (16, 64)] {
            if what == "given memory" {
                let size = ring.resize_memory_size(sq, cq).unwrap();
                ring.resize_in(sq, cq, RingRegion::anonymous(size).unwrap())
                    .unwrap();
            } else {
                ring.resize(sq, cq).unwrap();
            }
            assert!(
                !ring.cq_eventfd_enabled(),
                "{what}: {sq}/{cq}: the new rings do not say the eventfd is off"
            );
            assert_eq!(
                nop(&mut ring, &mut efd),
                None,
                "{what}: {sq}/{cq}: a silenced eventfd was signalled after the resize"
            );
            ring.set_cq_eventfd(true).unwrap();
            assert!(ring.cq_eventfd_enabled(), "{what}");
            assert!(
                nop(&mut ring, &mut efd).is_some(),
                "{what}: {sq}/{cq}: turning the eventfd on did not reach the new rings"
            );
            ring.set_cq_eventfd(false).unwrap();
            assert_eq!(nop(&mut ring, &mut efd), None, "{what}: {sq}/{cq}");
        }
        ring.set_cq_eventfd(true).unwrap();
        assert!(nop(&mut ring, &mut efd).is_some(), "{what}: at the end");
    }
}

// ---------------------------------------------------------------------------
// SQEs the kernel leaves in the SQ
// ---------------------------------------------------------------------------

/// `io_submit_sqes` stops at an SQE that `io_init_req` refuses
/// (`io_submit_fail_init` returns its error), leaving the SQEs behind it
/// in the SQ; `io_register_resize_rings` copies what is left from the SQ's
/// head to its tail into the new SQE array, and before the fix of April
/// 2026 it copied 64 bytes of each 128-byte SQE (`n.sq_sqes[dst] =
/// o.sq_sqes[src]`, indexed as 64-byte entries), which would run a
/// mangled SQE. The library submits before it resizes and resizes only an
/// SQ the kernel has emptied: a resize pushed behind a refused SQE either
/// goes through or fails without touching anything, and in both cases
/// every op (refused ones with `EINVAL`) completes once, in order; the
/// ring takes more and resizes later. For 64- and 128-byte SQEs, with the
/// refused SQE at the start, in the middle and at the end of what is
/// pushed.
#[test]
fn a_resize_behind_a_refused_sqe_submits_every_op_once() {
    let _watch = watchdog();
    if !require_kernel(6, 18, "IORING_NOP_CQE32") {
        return;
    }
    run_refused::<Sqe64>("64-byte SQEs");
    run_refused::<Sqe128>("128-byte SQEs");
}

fn run_refused<S: SqeSize>(what: &str) {
    let Some(mut ring) = resizable::<S, Cqe16>(Builder::new(), 8) else {
        return;
    };
    let mut next = 100u64;
    let sizes = [(16, 32), (4, 8), (8, 16), (2, 4), (8, 8)];
    for (round, (sq, cq)) in sizes.into_iter().enumerate() {
        let space = ring.space_left().min(4);
        assert!(space >= 2, "{what}: round {round}: {space} free");
        let at = round as u32 % space;
        let mut want = Vec::new();
        for i in 0..space {
            if i == at {
                ring.push(refused(next)).unwrap();
                want.push((next, -libc::EINVAL));
            } else {
                ring.push(Nop::new().user_data(next)).unwrap();
                want.push((next, 0));
            }
            next += 1;
        }
        let resized = ring.resize(sq, cq);
        eprintln!("{what}: round {round}, refused SQE at {at} of {space}: {resized:?}");
        if let Err(e) = &resized {
            assert!(
                matches!(e, Error::InvalidArgument(_)),
                "{what}: round {round}: {e}"
            );
            // Submits what was left behind, past the refused SQE.
            ring.submit_and_wait(0).unwrap();
        }
        assert_eq!(ring.pending(), 0, "{what}: round {round}");
        let got = reap(&mut ring, want.len());
        assert_eq!(got, want, "{what}: round {round}");
        if resized.is_err() {
            ring.resize(sq, cq)
                .unwrap_or_else(|e| panic!("{what}: round {round}: a resize once emptied: {e}"));
        }
        assert_eq!(
            (ring.sq_entries(), ring.cq_entries()),
            (sq, cq),
            "{what}: round {round}"
        );
        // A lap of the new SQ runs each SQE once.
        let first = next;
        for _ in 0..sq {
            ring.push(Nop::new().user_data(next)).unwrap();
            next += 1;
        }
        assert_eq!(ring.submit_and_wait(sq).unwrap(), sq, "{what}");
        assert_eq!(take(&mut ring), ok(first..next), "{what}: round {round}");
    }
    assert_eq!(ring.dropped(), 0, "{what}: the kernel dropped SQEs");
}

// ---------------------------------------------------------------------------
// Completions the kernel holds at a resize
// ---------------------------------------------------------------------------

/// The words a NOP numbered `ud` puts in its 32-byte completion.
fn words(ud: u64) -> [u64; 2] {
    [ud ^ 0x5a5a_0000_0000_0000, !ud]
}

/// Reads every ready completion of a ring of 32-byte CQEs as
/// `(user_data, res, extra words)`.
fn take_big<S: SqeSize>(ring: &mut Ring<S, Cqe32>) -> Vec<(u64, i32, [u64; 2])> {
    ring.completions()
        .map(|c| (c.user_data(), c.res(), c.big_cqe()))
        .collect()
}

/// 32-byte completions that wait at a resize in two places:
/// `io_register_resize_rings` copies those in the CQ ring from its head to
/// its tail into the new array (before the fix of April 2026, as 16-byte
/// entries at 16-byte positions, which lost the second half of the CQ or
/// mixed halves of two completions), and leaves those in the overflow
/// list (`io_cqring_event_overflow` keeps the 32 bytes) in the context, to
/// be flushed into the new rings by a later enter. With the unread ones
/// wrapping across the end of the old array and six more in the overflow
/// list, resized up, then down again to exactly what is left once part is
/// read: every completion comes out once, in order, with its own two
/// extra words; nothing is dropped.
#[test]
fn big_completions_in_the_cq_and_its_overflow_list_survive_resizes_whole() {
    let _watch = watchdog();
    if !require_kernel(6, 18, "IORING_NOP_CQE32") {
        return;
    }
    for what in ["kernel memory", "library memory"] {
        let builder = if what == "kernel memory" {
            Builder::new()
        } else {
            Builder::new().no_mmap()
        };
        let Some(mut ring) = resizable::<Sqe64, Cqe32>(builder, 4) else {
            return;
        };
        assert_eq!((ring.sq_entries(), ring.cq_entries()), (4, 8));
        let push_batch = |ring: &mut Ring<Sqe64, Cqe32>, from: u64| {
            for ud in from..from + 4 {
                ring.push(Nop::new().user_data(ud).big_cqe(words(ud)))
                    .unwrap();
            }
            assert_eq!(ring.submit().unwrap(), 4, "{what}");
        };
        // Six read: the head sits at 6 of 8.
        push_batch(&mut ring, 0);
        ring.wait(4).unwrap();
        assert_eq!(take_big(&mut ring).len(), 4);
        push_batch(&mut ring, 4);
        ring.wait(4).unwrap();
        let mut it = ring.completions();
        assert_eq!(it.next().map(|c| c.user_data()), Some(4));
        assert_eq!(it.next().map(|c| c.user_data()), Some(5));
        drop(it);
        // 6 and 7 unread; twelve more: 6 of them fill the CQ (wrapping
        // past its end), 6 go to the overflow list.
        for from in [8, 12, 16] {
            push_batch(&mut ring, from);
        }
        assert!(ring.cq_has_overflow(), "{what}: nothing overflowed");
        ring.resize(4, 16).unwrap();
        let mut got: Vec<(u64, i32, [u64; 2])> = Vec::new();
        // Read six of what was copied, then shrink the CQ to what is left
        // with the overflow list (which the resize's own submit flushes
        // first, seeing `IORING_SQ_CQ_OVERFLOW`).
        {
            let mut it = ring.completions();
            for _ in 0..6 {
                let c = it.next().expect("a copied completion");
                got.push((c.user_data(), c.res(), c.big_cqe()));
            }
        }
        ring.resize(2, 8).unwrap();
        let deadline = Instant::now() + PATIENCE;
        while got.len() < 14 {
            assert!(Instant::now() < deadline, "{what}: {got:?}");
            let _ = ring.wait_timeout(1, Duration::from_millis(50));
            got.extend(take_big(&mut ring));
        }
        let want: Vec<(u64, i32, [u64; 2])> = (6..20).map(|ud| (ud, 0, words(ud))).collect();
        assert_eq!(got, want, "{what}");
        assert_eq!(take_big(&mut ring), [], "{what}: more than was posted");
        assert!(!ring.cq_has_overflow(), "{what}");
        assert_eq!(ring.overflow(), 0, "{what}: the kernel dropped completions");
    }
}

/// On a ring with deferred task work, a NOP flagged `IORING_NOP_TW`
/// completes through the context's local task-work list, which only an
/// enter with `IORING_ENTER_GETEVENTS` runs (`io_run_local_work`); a plain
/// submit leaves its completion there. `io_register_resize_rings` swaps the
/// rings under that list without running it, so the completions are
/// posted later into the new CQ, past what the resize copied, and, when
/// the new CQ is too small, into the overflow list (on the first resize
/// of a ring without the task-run flag; later, the flag a resize leaves
/// set makes every submit run the task work). Every one comes out once,
/// in order after those already posted, whether the ring asks for its
/// task work by flag or not.
#[test]
fn completions_still_in_task_work_at_a_resize_are_posted_once_into_the_new_rings() {
    let _watch = watchdog();
    if !require_kernel(6, 17, "IORING_NOP_TW") {
        return;
    }
    for (what, flag) in [("no task-run flag", false), ("task-run flag", true)] {
        let builder = if flag {
            Builder::new().taskrun_flag()
        } else {
            Builder::new()
        };
        let Some(mut ring) = resizable::<Sqe64, Cqe16>(builder, 8) else {
            return;
        };
        let mut next = 0u64;
        for (sq, cq) in [(4, 4), (8, 32), (2, 2), (8, 16)] {
            // Two plain NOPs posted now, then task-work NOPs: up to twice
            // as many as the new CQ holds, less the two.
            let first = next;
            ring.push(Nop::new().user_data(next)).unwrap();
            ring.push(Nop::new().user_data(next + 1)).unwrap();
            next += 2;
            let deferred = (2 * cq - 2).min(ring.space_left());
            for _ in 0..deferred {
                ring.push(Nop::new().user_data(next).task_work(true))
                    .unwrap();
                next += 1;
            }
            assert_eq!(ring.submit().unwrap(), 2 + deferred, "{what}");
            // With the task-run flag up (set by the task work on a flagged
            // ring, and for good by any earlier resize), the resize's own
            // submit enters with GETEVENTS and runs the task work: run it
            // here instead, and read first what the new CQ cannot take, as
            // a resize to fewer would be refused (`EOVERFLOW`). Otherwise
            // the task work is still queued when the rings are swapped.
            if ring.has_task_work() {
                ring.get_events().unwrap();
            }
            let before = ring.ready();
            let mut early = Vec::new();
            if before > cq {
                early = ring
                    .completions()
                    .take((before - cq) as usize)
                    .map(|c| (c.user_data(), c.res()))
                    .collect();
            }
            ring.resize(sq, cq)
                .unwrap_or_else(|e| panic!("{what}: resize to {sq}/{cq}: {e}"));
            let mut got = early;
            got.extend(reap(&mut ring, (next - first) as usize - got.len()));
            assert_eq!(
                got,
                ok(first..next),
                "{what}: {sq}/{cq}, {before} posted before the resize"
            );
            assert!(
                matches!(
                    ring.wait_timeout(1, Duration::from_millis(5)),
                    Err(Error::TimedOut)
                ),
                "{what}: a completion came twice"
            );
            assert_eq!(ring.overflow(), 0, "{what}");
        }
    }
}

// ---------------------------------------------------------------------------
// The SQ thread's sleep
// ---------------------------------------------------------------------------

/// Spins for about `micros` microseconds.
fn spin(micros: u64) {
    let end = Instant::now() + Duration::from_micros(micros);
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

/// `io_sq_thread` goes to sleep by setting `IORING_SQ_NEED_WAKEUP`
/// (`atomic_or`), then `smp_mb__after_atomic()`, then reading the SQ's
/// tail once more (`io_sqring_entries`); it sleeps only if that finds
/// nothing. The library stores the tail with release ordering, issues a
/// full fence and then reads the flag (`Sq::need_wakeup`): one of the two
/// always sees the other, or an SQE would sit in the SQ with the thread
/// asleep and nobody to wake it. With the thread's idle time at 1 ms and
/// the pauses between batches spread around it (the thread going to sleep
/// as the tail moves), a plain `submit` followed by a wait that submits
/// nothing (`wait`, which wakes no thread), `submit_and_wait` and
/// `submit_and_wait_timeout` each get their batch run: every NOP once, in
/// order. A missed wake-up hangs the wait (the watchdog's failure).
#[test]
fn tail_stores_racing_the_sq_thread_s_sleep_lose_no_sqe() {
    let _watch = watchdog();
    if !require_sqpoll() {
        return;
    }
    let mut ring = match Builder::new().sqpoll(Duration::from_millis(1)).build(8) {
        Ok(ring) => ring,
        Err(e) => return skip(format_args!("SQPOLL: {e}")),
    };
    let mut rng = uring_tests::Rng(0x5eed_0001);
    let mut next = 0u64;
    let mut slept = 0;
    for round in 0..600u32 {
        let n = 1 + rng.below(4) as u32;
        let first = next;
        for _ in 0..n {
            ring.push(Nop::new().user_data(next)).unwrap();
            next += 1;
        }
        match round % 3 {
            0 => {
                ring.submit().unwrap();
                ring.wait(n).unwrap();
            }
            1 => {
                ring.submit_and_wait(n).unwrap();
            }
            _ => {
                ring.submit_and_wait_timeout(n, PATIENCE).unwrap();
            }
        }
        assert_eq!(take(&mut ring), ok(first..next), "round {round}");
        // Pauses around the thread's idle time (1 ms, counted in jiffies).
        match rng.below(4) {
            0 => {}
            1 => spin(rng.below(1500)),
            2 => spin(500 + rng.below(4000)),
            _ => {
                while !ring.sq_needs_wakeup() {
                    std::thread::yield_now();
                }
                slept += 1;
            }
        }
    }
    assert!(slept > 0);
    assert_eq!(ring.dropped(), 0);
    assert_eq!(take(&mut ring), []);
}

/// Two SQPOLL rings sharing one SQ thread (`attach_wq`): before it sleeps,
/// `io_sq_thread` sets `IORING_SQ_NEED_WAKEUP` on each ring of its list in
/// turn and re-reads that ring's tail, so each ring's submit must read its
/// own flag to wake the thread for its own SQEs. Batches pushed on one
/// ring, the other, or both, between pauses that let the shared thread
/// sleep: each ring gets exactly its own NOPs back, once each and in
/// order, and none of the other's.
#[test]
fn two_rings_sharing_an_sq_thread_each_wake_it_for_their_own_sqes() {
    let _watch = watchdog();
    if !require_sqpoll() {
        return;
    }
    let idle = Duration::from_millis(1);
    let mut first = match Builder::new().sqpoll(idle).build(8) {
        Ok(ring) => ring,
        Err(e) => return skip(format_args!("SQPOLL: {e}")),
    };
    let mut second = match Builder::new().sqpoll(idle).attach_wq(&first).build(8) {
        Ok(ring) => ring,
        Err(e) => return skip(format_args!("an attached SQPOLL ring: {e}")),
    };
    let mut rng = uring_tests::Rng(0x5eed_0002);
    let (mut a, mut b) = (0u64, 1u64 << 32);
    for round in 0..400u32 {
        let which = rng.below(3);
        let (a0, b0) = (a, b);
        if which != 1 {
            for _ in 0..1 + rng.below(3) {
                first.push(Nop::new().user_data(a)).unwrap();
                a += 1;
            }
            first.submit().unwrap();
        }
        if which != 0 {
            for _ in 0..1 + rng.below(3) {
                second.push(Nop::new().user_data(b)).unwrap();
                b += 1;
            }
            second.submit().unwrap();
        }
        first.wait((a - a0) as u32).unwrap();
        second.wait((b - b0) as u32).unwrap();
        assert_eq!(take(&mut first), ok(a0..a), "round {round}: first");
        assert_eq!(take(&mut second), ok(b0..b), "round {round}: second");
        if rng.below(3) == 0 {
            while !first.sq_needs_wakeup() || !second.sq_needs_wakeup() {
                std::thread::yield_now();
            }
        } else {
            spin(rng.below(3000));
        }
    }
}

// ---------------------------------------------------------------------------
// Mappings after resizes and after the ring
// ---------------------------------------------------------------------------

/// `io_register_resize_rings` frees the old regions once it has swapped
/// the new ones in, and from then on `io_uring_mmap` hands out only the
/// new ones; the pages of the old stay alive as long as something maps
/// them. The library maps the new rings and unmaps the old: after every
/// resize, the ring's file is mapped at most three times (the SQ ring, the
/// CQ ring, the SQEs), with room for the new sizes, and every SQE and CQE
/// position works; after the ring is dropped, the file is not mapped at
/// all. A mapping left behind would keep a freed ring's pages, and the
/// ring's file, alive for the process's life.
#[test]
fn a_resized_ring_maps_only_its_current_rings_and_nothing_after_it_is_gone() {
    let _watch = watchdog();
    let Some(mut ring) = resizable::<Sqe128, Cqe32>(Builder::new(), 4) else {
        return;
    };
    let ino = ring_inode(&ring);
    let at_setup = ring_mappings(ino);
    assert!(
        (2..=3).contains(&at_setup.len()),
        "the ring's mappings at setup: {at_setup:x?}"
    );
    let mut next = 0u64;
    for (sq, cq) in [(64, 128), (2, 4), (256, 4096), (8, 8), (1, 2)] {
        ring.resize(sq, cq).unwrap();
        let maps = ring_mappings(ino);
        eprintln!("after a resize to {sq}/{cq}: {maps:x?}");
        assert!(
            (2..=3).contains(&maps.len()),
            "after a resize to {sq}/{cq}: {maps:x?}"
        );
        let bytes: u64 = maps.iter().map(|(s, e)| e - s).sum();
        let need = u64::from(sq) * 128 + u64::from(cq) * 32;
        assert!(
            bytes >= need,
            "{bytes} bytes mapped for {sq} SQEs and {cq} CQEs"
        );
        // Every SQE position, and as many CQE positions, run once.
        let first = next;
        for _ in 0..sq {
            ring.push(Nop::new().user_data(next).big_cqe(words(next)))
                .unwrap();
            next += 1;
        }
        assert_eq!(ring.submit_and_wait(sq.min(cq)).unwrap(), sq);
        let mut got = take_big(&mut ring);
        let deadline = Instant::now() + PATIENCE;
        while got.len() < sq as usize {
            assert!(Instant::now() < deadline);
            let _ = ring.wait_timeout(1, Duration::from_millis(50));
            got.extend(take_big(&mut ring));
        }
        let want: Vec<(u64, i32, [u64; 2])> = (first..next).map(|u| (u, 0, words(u))).collect();
        assert_eq!(got, want, "{sq}/{cq}");
    }
    drop(ring);
    assert_eq!(ring_mappings(ino), [], "a dropped ring is still mapped");
}

/// The process's size in pages (`/proc/self/statm`), which `RLIMIT_AS`
/// bounds.
fn vm_pages() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    statm.split_whitespace().next().unwrap().parse().unwrap()
}

/// The kernel's `SqMask` and `CqMask` of the ring, from its fdinfo.
fn kernel_masks<S: SqeSize, C: CqeSize>(ring: &Ring<S, C>) -> (u32, u32) {
    let text = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", ring.as_raw_fd())).unwrap();
    let mask = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| u32::from_str_radix(v.trim().trim_start_matches("0x"), 16).ok())
            .unwrap_or_else(|| panic!("no {key} in the fdinfo:\n{text}"))
    };
    (mask("SqMask:"), mask("CqMask:"))
}

/// `io_register_resize_rings` swaps the new rings in and frees the old
/// regions within the call: once it returns, only mappings of the new
/// rings reach what the kernel reads. The library has everything the new
/// queues need of the process before it asks (`resize_with`: "a failure
/// after it would leave the ring with queues the kernel no longer
/// reads"): it reserves address space as large as the new rings and gives
/// it back just before it maps them (the kernel refuses to map a ring at
/// a given address, so not over the reservation), in one mapping for the
/// SQ and CQ rings as the ring's own features say (a resize's parameters
/// carry none). Under an address-space limit that lets the reservation
/// through, the resize then succeeds and the ring works: a NOP pushed
/// after it completes. In a copy of the test binary, since the limit is
/// the whole process's.
#[test]
fn a_resize_that_runs_out_of_address_space_leaves_a_working_ring() {
    const NAME: &str = "a_resize_that_runs_out_of_address_space_leaves_a_working_ring";
    if !uring_tests::in_child(NAME) {
        let _watch = watchdog();
        let text = uring_tests::run_in_child(NAME);
        for line in text
            .lines()
            .filter(|l| l.starts_with("skipped:") || l.starts_with("limit:"))
        {
            eprintln!("{line}");
        }
        return;
    }
    // No watchdog in the copy: a thread started under the limit could not
    // map its stack; the parent's bounds it.
    let Some(mut ring) = resizable::<Sqe64, Cqe16>(Builder::new(), 8) else {
        return;
    };
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(take(&mut ring), ok([1]));
    let before = kernel_masks(&ring);
    let (sq, cq) = (4096u32, 8192u32);
    // SAFETY: sysconf takes a plain integer.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    // What the resize asks of the address space before it calls the
    // kernel: the ring-owned timespecs and the reservation of the new
    // rings; and 16 pages to spare, far less than the new rings.
    let timespecs = (u64::from(sq) * 16).div_ceil(page) * page;
    let reserved = ring.resize_memory_size(sq, cq).unwrap() as u64;
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `old` is a valid, writable `rlimit`.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut old) }, 0);
    let limit = vm_pages() * page + timespecs + reserved + 16 * page;
    let tight = libc::rlimit {
        rlim_cur: limit,
        rlim_max: old.rlim_max,
    };
    // SAFETY: `tight` is a valid `rlimit`; this copy of the test binary
    // runs this test alone, on this thread.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &tight) }, 0);
    let resized = ring.resize(sq, cq);
    // SAFETY: `old` is the limit read above.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &old) }, 0);
    let after = kernel_masks(&ring);
    println!(
        "limit: {limit} bytes; resize: {resized:?}; the kernel's masks {before:?} -> {after:?}"
    );
    ring.push(Nop::new().user_data(9)).unwrap();
    let submitted = ring.submit();
    let waited = ring.wait_timeout(1, Duration::from_secs(2));
    assert!(
        waited.is_ok(),
        "after a resize that returned {resized:?} (the kernel's masks {before:?} -> \
         {after:?}), a NOP never completed: submit {submitted:?}, wait {waited:?}"
    );
    assert_eq!(take(&mut ring), ok([9]));
    if resized.is_err() {
        assert_eq!(
            after, before,
            "a failed resize left the kernel on new rings"
        );
    }
}
