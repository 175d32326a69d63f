//! More ports of liburing's own test cases (the `test/` directory of
//! github.com/axboe/liburing) to uring's API, for behaviour that
//! `liburing_cases.rs` and the other suites do not cover: each test names
//! its C file and asserts what the C test asserts of the kernel (results,
//! errnos, order, counts, flags).

use std::io::{IoSlice, IoSliceMut, Read as _, Write as _};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use uring::ops::{
    LinkTimeout, LinkTimeoutUpdate, Nop, PollAdd, PollRemove, Read, ReadV, Timeout, TimeoutRemove,
    TimeoutUpdate, WriteV,
};
use uring::{Cqe, Error, Features, PollEvents, Ring, SlotUpdate, SqeFlags, TimeoutFlags, sys};
use uring_tests::{
    PATIENCE, pairs, pipe, push_lent, raw_sqe, reap_sorted, require_features, skip, stray,
    stray_cqes, submit_and_reap,
};

// ---------------------------------------------------------------- helpers

/// Writes `bytes` to the pipe or socket `fd`.
fn write_to(fd: &OwnedFd, bytes: &[u8]) {
    std::fs::File::from(fd.try_clone().unwrap())
        .write_all(bytes)
        .unwrap();
}

/// A ring whose kernel posts resource tags (5.13); `None`, with a skip
/// message, otherwise.
fn tagged_ring(builder: &uring::Builder<'_>) -> Option<Ring> {
    let ring = match builder.build(1) {
        Ok(ring) => ring,
        Err(e) => {
            skip(format_args!("ring setup {:#x}: {e}", builder.flags()));
            return None;
        }
    };
    require_features(&ring, Features::RSRC_TAGS, "resource tags").then_some(ring)
}

// ---------------------------------------------------------------- rsrc_tags.c

/// rsrc_tags.c `test_tags_generic` (buffers): five registered buffers
/// tagged 1 to 5; slot 0 updated with tag 666 posts tag 1; updated again
/// with tag 0 posts 666; updated once more with a tag posts nothing (the
/// buffer it replaced had tag 0).
#[test]
fn rsrc_tags_buffer_updates_post_the_replaced_tag() {
    let _watch = uring_tests::watchdog();
    // Declared before the ring, so that the ring (and the kernel's use of
    // the memory) goes first.
    let mut memory = vec![0u8; 5 * 1024];
    let Some(mut ring) = tagged_ring(&Ring::builder()) else {
        return;
    };
    let base = memory.as_mut_ptr();
    let chunk = |i: usize| {
        // SAFETY: chunk `i` of `memory`; each call's slices are distinct and
        // live only for the registration call that takes them.
        IoSliceMut::new(unsafe { std::slice::from_raw_parts_mut(base.add(i * 1024), 1024) })
    };
    let tags: Vec<u64> = (1..=5).collect();
    // SAFETY: `memory` outlives the ring (declared first), and no op uses
    // the registered buffers.
    let table =
        unsafe { ring.register_buffers_tagged(&(0..5).map(chunk).collect::<Vec<_>>(), &tags) }
            .unwrap();
    let update = |ring: &mut Ring, tag: u64| {
        // SAFETY: as above.
        let n = unsafe { ring.update_buffers_tagged(&table, 0, &[Some(chunk(0))], &[tag]) };
        assert_eq!(n.unwrap(), 1);
    };
    update(&mut ring, 666);
    assert_eq!(pairs(&submit_and_reap(&mut ring, 1)), [(1, 0)]);
    update(&mut ring, 0);
    assert_eq!(pairs(&submit_and_reap(&mut ring, 1)), [(666, 0)]);
    update(&mut ring, 1);
    assert_eq!(stray(&mut ring), [], "a buffer tagged 0 posted its tag");
    drop(ring);
    drop(memory);
}

/// rsrc_tags.c `test_files`, on a plain, an IOPOLL, an SQPOLL and a
/// deferred-task-work ring: 50 files tagged 1 to 50; emptying slot 5 posts
/// its tag (6), once: emptying it again posts nothing.
#[test]
fn rsrc_tags_an_emptied_file_slot_posts_its_tag_once_on_every_kind_of_ring() {
    let _watch = uring_tests::watchdog();
    let (rx, _tx) = pipe();
    let builders = [
        ("plain", Ring::builder()),
        ("iopoll", Ring::builder().iopoll()),
        ("sqpoll", Ring::builder().sqpoll(Duration::from_millis(100))),
        (
            "defer_taskrun",
            Ring::builder().single_issuer().defer_taskrun(),
        ),
    ];
    for (kind, builder) in builders {
        let Some(mut ring) = tagged_ring(&builder) else {
            continue;
        };
        let files: Vec<(BorrowedFd<'_>, u64)> = (1..=50).map(|tag| (rx.as_fd(), tag)).collect();
        let mut table = ring.register_files_tagged(&files).unwrap();
        assert_eq!(
            ring.update_file_slots(&mut table, 5, &[SlotUpdate::Empty])
                .unwrap(),
            1
        );
        ring.wait_timeout(1, PATIENCE)
            .unwrap_or_else(|e| panic!("{kind}: no tag: {e}"));
        let got: Vec<(u64, i32)> = ring
            .completions()
            .map(|c| (c.user_data(), c.res()))
            .collect();
        assert_eq!(got, [(6, 0)], "{kind}");
        let n = ring
            .update_file_slots(&mut table, 5, &[SlotUpdate::Empty])
            .unwrap();
        assert!(n <= 1, "{kind}: {n}");
        assert_eq!(stray(&mut ring), [], "{kind}: the tag came twice");
    }
}

/// rsrc_tags.c `test_notag`: 50 files registered without tags: emptying a
/// slot posts nothing, and neither does unregistering the table.
#[test]
fn rsrc_tags_untagged_files_post_nothing() {
    let _watch = uring_tests::watchdog();
    let (rx, _tx) = pipe();
    let Some(mut ring) = tagged_ring(&Ring::builder()) else {
        return;
    };
    let fds: Vec<BorrowedFd<'_>> = (0..50).map(|_| rx.as_fd()).collect();
    let mut table = ring.register_files(&fds).unwrap();
    assert_eq!(ring.update_files(&mut table, 0, &[None]).unwrap(), 1);
    assert_eq!(stray(&mut ring), []);
    ring.unregister_files(table).unwrap();
    assert_eq!(ring.ready(), 0);
    assert_eq!(stray(&mut ring), []);
}

/// rsrc_tags.c `test_tagged_register_partial_fail`: a tagged registration
/// that fails on its second entry (a buffer the kernel refuses, a ring's
/// own descriptor among files) posts no tag for the first.
#[test]
fn rsrc_tags_a_failed_tagged_registration_posts_nothing() {
    let _watch = uring_tests::watchdog();
    let mut small = [0u8; 1];
    // A buffer longer than the kernel registers (1 GiB at most): reserved,
    // never touched.
    let huge_len = (1usize << 30) + 4096;
    // SAFETY: a fresh private anonymous mapping; nothing else uses it.
    let huge = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            huge_len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    assert_ne!(huge, libc::MAP_FAILED, "mmap");
    let Some(mut ring) = tagged_ring(&Ring::builder()) else {
        // SAFETY: the mapping made above, used by nothing.
        unsafe { libc::munmap(huge, huge_len) };
        return;
    };
    {
        // SAFETY: the mapping is readable and writable for `huge_len`
        // bytes (untouched pages read as zeros), and only this slice names
        // it until it is unmapped below.
        let huge_slice = unsafe { std::slice::from_raw_parts_mut(huge.cast::<u8>(), huge_len) };
        // SAFETY: the registration fails (asserted), so the kernel keeps
        // neither buffer; both outlive the call.
        let refused = unsafe {
            ring.register_buffers_tagged(
                &[IoSliceMut::new(&mut small), IoSliceMut::new(huge_slice)],
                &[1, 2],
            )
        };
        assert!(refused.is_err(), "a buffer over 1 GiB was registered");
    }
    assert_eq!(stray(&mut ring), [], "stray buffer tags");

    let (rx, _tx) = pipe();
    let other = Ring::new(1).unwrap();
    // SAFETY: `other` stays open for the whole call.
    let other_fd = unsafe { BorrowedFd::borrow_raw(other.as_raw_fd()) };
    let refused = ring.register_files_tagged(&[(rx.as_fd(), 1), (other_fd, 2)]);
    assert!(refused.is_err(), "a ring's descriptor was registered");
    assert_eq!(stray(&mut ring), [], "stray file tags");
    drop(ring);
    // SAFETY: the mapping made above; the refused registration keeps no
    // reference to it.
    unsafe { libc::munmap(huge, huge_len) };
}

// ---------------------------------------------------------------- link-timeout.c

/// link-timeout.c `test_timeout_link_chain2`: a poll of an empty pipe
/// bounded by a 1 ms link timeout, then two linked NOPs: the poll is
/// cancelled, the timeout fires (`ETIME`), and both NOPs are cancelled.
#[test]
fn link_timeout_fired_on_a_poll_cancels_the_nops_after_it() {
    let _watch = uring_tests::watchdog();
    let (rx, _tx) = pipe();
    let mut ring = Ring::new(8).unwrap();
    push_lent!(
        ring,
        PollAdd::new(&rx, PollEvents::IN)
            .user_data(1)
            .link_timeout(LinkTimeout::new(Duration::from_millis(1)).user_data(2))
            .link(Nop::new().user_data(3))
            .link(Nop::new().user_data(4)),
    )
    .unwrap();
    assert_eq!(
        reap_sorted(&mut ring, 4),
        [
            (1, -libc::ECANCELED),
            (2, -libc::ETIME),
            (3, -libc::ECANCELED),
            (4, -libc::ECANCELED)
        ]
    );
}

/// link-timeout.c `test_timeout_link_chain3`: poll (1 ms timeout), NOP,
/// poll (1 ms timeout), all one chain, and a NOP alone: the first timeout
/// fires, everything after it in the chain is cancelled (the second poll
/// and its timeout never start), and the lone NOP completes.
#[test]
fn link_timeout_fired_early_in_a_chain_cancels_later_timeouts() {
    let _watch = uring_tests::watchdog();
    let (rx, _tx) = pipe();
    let mut ring = Ring::new(8).unwrap();
    push_lent!(
        ring,
        PollAdd::new(&rx, PollEvents::IN)
            .user_data(1)
            .link_timeout(LinkTimeout::new(Duration::from_millis(1)).user_data(2))
            .link(Nop::new().user_data(3))
            .link(PollAdd::new(&rx, PollEvents::IN).user_data(4))
            .link_timeout(LinkTimeout::new(Duration::from_millis(1)).user_data(5)),
    )
    .unwrap();
    ring.push(Nop::new().user_data(6)).unwrap();
    assert_eq!(
        reap_sorted(&mut ring, 6),
        [
            (1, -libc::ECANCELED),
            (2, -libc::ETIME),
            (3, -libc::ECANCELED),
            (4, -libc::ECANCELED),
            (5, -libc::ECANCELED),
            (6, 0)
        ]
    );
}

/// link-timeout.c `test_timeout_link_chain4`: a NOP, then a poll of an
/// empty pipe bounded by a 1 ms link timeout: the NOP completes, the poll
/// is cancelled by the timeout, which fires.
#[test]
fn link_timeout_bounds_the_op_it_follows_not_the_chain_head() {
    let _watch = uring_tests::watchdog();
    let (rx, _tx) = pipe();
    let mut ring = Ring::new(8).unwrap();
    push_lent!(
        ring,
        Nop::new()
            .user_data(1)
            .link(PollAdd::new(&rx, PollEvents::IN).user_data(2))
            .link_timeout(LinkTimeout::new(Duration::from_millis(1)).user_data(3)),
    )
    .unwrap();
    assert_eq!(
        reap_sorted(&mut ring, 3),
        [(1, 0), (2, -libc::ECANCELED), (3, -libc::ETIME)]
    );
}

/// link-timeout.c `test_single_link_timeout_ception`: a 1 s timeout bounded
/// by a 2 s link timeout: the timeout expires (`ETIME`; `EINVAL` on
/// kernels that refuse linked timeouts) and the link timeout is cancelled.
#[test]
fn link_timeout_on_a_timeout_op_is_cancelled_when_it_expires() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(
        Timeout::new(Duration::from_secs(1))
            .count(u32::MAX)
            .user_data(1)
            .link_timeout(LinkTimeout::new(Duration::from_secs(2)).user_data(2)),
    )
    .unwrap();
    let got = reap_sorted(&mut ring, 2);
    assert_eq!(got[0].0, 1);
    assert!([-libc::ETIME, -libc::EINVAL].contains(&got[0].1), "{got:?}");
    assert_eq!(got[1], (2, -libc::ECANCELED), "{got:?}");
}

/// link-timeout.c `test_single_link_timeout_error`: a read of an empty pipe
/// linked to a link timeout whose SQE has a bad field (`ioprio`): the
/// timeout fails with `EINVAL` and the read is cancelled.
#[test]
fn link_timeout_with_a_bad_field_fails_and_cancels_its_read() {
    let _watch = uring_tests::watchdog();
    let (rx, _tx) = pipe();
    let mut ring = Ring::new(8).unwrap();
    let mut buffer = [0u8; 128];
    let iov = [IoSliceMut::new(&mut buffer)];
    let ts = sys::__kernel_timespec {
        tv_sec: 1,
        tv_nsec: 0,
    };
    let mut timeout = raw_sqe(
        sys::IORING_OP_LINK_TIMEOUT,
        -1,
        &ts as *const _ as u64,
        1,
        0,
        2,
    );
    timeout.ioprio = 89;
    let sqes = [
        raw_sqe(
            sys::IORING_OP_READV,
            rx.as_raw_fd(),
            iov.as_ptr() as u64,
            1,
            sys::IOSQE_IO_LINK,
            1,
        ),
        timeout,
    ];
    // SAFETY: the iovec, its buffer, the timespec and the pipe outlive both
    // completions, reaped below.
    unsafe { ring.push_raw(&sqes) }.unwrap();
    assert_eq!(
        reap_sorted(&mut ring, 2),
        [(1, -libc::ECANCELED), (2, -libc::EINVAL)]
    );
}

/// link-timeout.c `test_single_link_no_timeout`: a read of a pipe bounded
/// by a 1 s link timeout, and a write that fills the pipe: the read and
/// the write move 128 bytes and the link timeout is cancelled.
#[test]
fn link_timeout_is_cancelled_when_its_read_completes() {
    let _watch = uring_tests::watchdog();
    let (rx, tx) = pipe();
    let mut ring = Ring::new(8).unwrap();
    let mut back = [0u8; 128];
    let out = uring_tests::pattern(128, 4);
    let mut riov = [IoSliceMut::new(&mut back)];
    let wiov = [IoSlice::new(&out)];
    let got = ring.scope(|s| {
        s.push(
            ReadV::new(&rx, &mut riov[..])
                .user_data(1)
                .link_timeout(LinkTimeout::new(Duration::from_secs(1)).user_data(2)),
        )
        .unwrap();
        s.push(WriteV::new(&tx, &wiov[..]).user_data(3)).unwrap();
        s.submit().unwrap();
        let mut got = Vec::new();
        while got.len() < 3 {
            s.wait_timeout(1, PATIENCE).unwrap();
            got.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        got.sort_unstable();
        got
    });
    assert_eq!(got, [(1, 128), (2, -libc::ECANCELED), (3, 128)]);
    assert_eq!(back[..], out[..]);
}

/// link-timeout.c `test_single_link_timeout` with timeouts of 10 ns,
/// 100 us and 500 ms on a read of an empty pipe: the read ends `EINTR` or
/// `ECANCELED`, the timeout `ETIME`, `EALREADY` or 0.
#[test]
fn link_timeout_of_any_length_cancels_a_blocked_read() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    for nsec in [10u32, 100_000, 500_000_000] {
        let (rx, _tx) = pipe();
        let mut buffer = [0u8; 128];
        let mut iov = [IoSliceMut::new(&mut buffer)];
        push_lent!(
            ring,
            ReadV::new(&rx, &mut iov[..])
                .user_data(1)
                .link_timeout(LinkTimeout::new(uring::Timespec::new(0, nsec)).user_data(2)),
        )
        .unwrap();
        let got = reap_sorted(&mut ring, 2);
        assert_eq!((got[0].0, got[1].0), (1, 2));
        assert!(
            [-libc::EINTR, -libc::ECANCELED].contains(&got[0].1),
            "{nsec} ns: {got:?}"
        );
        assert!(
            [-libc::EALREADY, -libc::ETIME, 0].contains(&got[1].1),
            "{nsec} ns: {got:?}"
        );
    }
}

/// link-timeout.c `test_link_timeout_update`: a read of an empty pipe with
/// a 5 s link timeout, which an update (inline or `ASYNC`) moves to 100 ms:
/// the update completes with 0, the timeout fires (`ETIME`, or `EALREADY`),
/// the read is cancelled, well before the first 5 s.
#[test]
fn link_timeout_update_shortens_a_pending_link_timeout() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    for async_ in [false, true] {
        let (rx, _tx) = pipe();
        let mut buffer = [0u8; 128];
        let mut iov = [IoSliceMut::new(&mut buffer)];
        push_lent!(
            ring,
            ReadV::new(&rx, &mut iov[..])
                .user_data(1)
                .link_timeout(LinkTimeout::new(Duration::from_secs(5)).user_data(2)),
        )
        .unwrap();
        assert_eq!(ring.submit().unwrap(), 2);
        let flags = if async_ {
            SqeFlags::ASYNC
        } else {
            SqeFlags::EMPTY
        };
        ring.push(
            LinkTimeoutUpdate::new(2, Duration::from_millis(100))
                .flags(flags)
                .user_data(3),
        )
        .unwrap();
        let start = Instant::now();
        let got = reap_sorted(&mut ring, 3);
        let took = start.elapsed();
        assert_eq!((got[0].0, got[1].0, got[2]), (1, 2, (3, 0)), "{got:?}");
        assert!(
            [-libc::EINTR, -libc::ECANCELED].contains(&got[0].1),
            "{got:?}"
        );
        assert!(
            [-libc::EALREADY, -libc::ETIME].contains(&got[1].1),
            "{got:?}"
        );
        assert!(
            took >= Duration::from_millis(10) && took < Duration::from_secs(4),
            "async {async_}: the updated timeout fired after {took:?}"
        );
    }
}

/// link-timeout.c `test_link_timeout_update_invalid`: updating a link
/// timeout that does not exist (inline or `ASYNC`) fails with `ENOENT`.
#[test]
fn link_timeout_update_of_no_link_timeout_is_enoent() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    for flags in [SqeFlags::EMPTY, SqeFlags::ASYNC] {
        ring.push(
            LinkTimeoutUpdate::new(2, Duration::from_millis(100))
                .flags(flags)
                .user_data(0xcafe_0000),
        )
        .unwrap();
        assert_eq!(
            pairs(&submit_and_reap(&mut ring, 1)),
            [(0xcafe_0000, -libc::ENOENT)]
        );
    }
}

// ---------------------------------------------------------------- timeout.c

/// timeout.c `test_multi_timeout_nr`: a timeout waiting for 2 completions
/// and one waiting for 1, then a NOP: the NOP completes first, then the
/// count-1 timeout (0), and the count-2 timeout expires (`ETIME`): a
/// timeout's own completion is not counted.
#[test]
fn timeout_counts_exclude_other_timeouts() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let ms = Duration::from_millis(200);
    ring.push(Timeout::new(ms).count(2).user_data(1)).unwrap();
    ring.push(Timeout::new(ms).count(1).user_data(2)).unwrap();
    ring.push(Nop::new().user_data(3)).unwrap();
    assert_eq!(
        pairs(&submit_and_reap(&mut ring, 3)),
        [(3, 0), (2, 0), (1, -libc::ETIME)]
    );
}

/// timeout.c `test_single_timeout_nr`: a timeout waiting for `nr` (1 or
/// 2) completions and two NOPs: the timeout completes with 0 after at
/// least `nr` NOPs, not by the passage of time.
#[test]
fn timeout_with_a_count_completes_after_that_many_nops() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    for nr in [1u32, 2] {
        ring.push(
            Timeout::new(Duration::from_millis(200))
                .count(nr)
                .user_data(0),
        )
        .unwrap();
        ring.push(Nop::new().user_data(1)).unwrap();
        ring.push(Nop::new().user_data(1)).unwrap();
        let got = pairs(&submit_and_reap(&mut ring, 3));
        let at = got.iter().position(|&(ud, _)| ud == 0).unwrap();
        assert!(
            at >= nr as usize,
            "nr {nr}: the timeout came early: {got:?}"
        );
        assert!(got.iter().all(|&(_, res)| res == 0), "nr {nr}: {got:?}");
    }
}

/// timeout.c `test_single_timeout_remove_notfound`: removing a timeout by
/// a `user_data` no timeout has fails with `ENOENT`; the count-2 timeout
/// still expires (`ETIME`).
#[test]
fn timeout_remove_of_no_timeout_is_enoent() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(
        Timeout::new(Duration::from_millis(200))
            .count(2)
            .user_data(1),
    )
    .unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    ring.push(TimeoutRemove::new(2).user_data(2)).unwrap();
    assert_eq!(
        reap_sorted(&mut ring, 2),
        [(1, -libc::ETIME), (2, -libc::ENOENT)]
    );
}

/// The three chains of timeout.c `test_timeout_flags1` to `3`, each of
/// three 200 ms timeouts: `(user_data, link to the next, drain)`.
const TIMEOUT_FLAG_CASES: [[(u64, bool, bool); 3]; 3] = [
    // timeout <link> timeout <drain> timeout
    [(1, true, false), (2, false, true), (3, false, false)],
    // timeout <link> timeout <link> timeout
    [(1, true, false), (2, true, false), (3, false, false)],
    // timeout <drain> timeout <link> timeout
    [(1, false, true), (2, true, false), (3, false, false)],
];

/// timeout.c `test_timeout_flags1` to `3`: a timeout that expires fails
/// the op linked after it (`ECANCELED`); a drained timeout waits for what
/// came before and then expires on its own.
#[test]
fn timeout_expiry_fails_its_links_with_and_without_drain() {
    let _watch = uring_tests::watchdog();
    let expected = [
        [(1, -libc::ETIME), (2, -libc::ECANCELED), (3, -libc::ETIME)],
        [
            (1, -libc::ETIME),
            (2, -libc::ECANCELED),
            (3, -libc::ECANCELED),
        ],
        [(1, -libc::ETIME), (2, -libc::ETIME), (3, -libc::ECANCELED)],
    ];
    let ts = sys::__kernel_timespec {
        tv_sec: 0,
        tv_nsec: 200_000_000,
    };
    for (case, want) in TIMEOUT_FLAG_CASES.iter().zip(expected) {
        let mut ring = Ring::new(8).unwrap();
        let sqes: Vec<sys::io_uring_sqe> = case
            .iter()
            .map(|&(ud, link, drain)| {
                let mut flags = 0;
                if link {
                    flags |= sys::IOSQE_IO_LINK;
                }
                if drain {
                    flags |= sys::IOSQE_IO_DRAIN;
                }
                raw_sqe(
                    sys::IORING_OP_TIMEOUT,
                    -1,
                    &ts as *const _ as u64,
                    1,
                    flags,
                    ud,
                )
            })
            .collect();
        // SAFETY: timeouts read their timespec, alive until the end of the
        // test, and name nothing else.
        unsafe { ring.push_raw(&sqes) }.unwrap();
        assert_eq!(reap_sorted(&mut ring, 3), want, "{case:?}");
    }
}

/// One run of timeout.c `test_update_timeout`: a 10 s timeout updated to
/// `ms` (relative, or absolute on `CLOCK_MONOTONIC` with `abs`), the update
/// `ASYNC` with `async_`, after a linked NOP with `linked`: the timeout
/// expires well before 10 s (and not before `ms / 2` for a relative update
/// of a second or more), the update completes with 0 (or `EALREADY`).
fn update_timeout(ring: &mut Ring, ms: u64, abs: bool, async_: bool, linked: bool) {
    let what = format!("{ms} ms, abs {abs}, async {async_}, linked {linked}");
    let start = Instant::now();
    ring.push(Timeout::new(Duration::from_secs(10)).user_data(1))
        .unwrap();
    let flags = if async_ {
        SqeFlags::ASYNC
    } else {
        SqeFlags::EMPTY
    };
    let update = TimeoutUpdate::new(1, Duration::from_millis(ms))
        .timeout_flags(if abs {
            TimeoutFlags::ABS
        } else {
            TimeoutFlags::empty()
        })
        .flags(flags)
        .user_data(2);
    let n = if linked {
        ring.push(Nop::new().flags(flags).user_data(3).link(update))
            .unwrap();
        3
    } else {
        ring.push(update).unwrap();
        2
    };
    let got = reap_sorted(ring, n);
    let took = start.elapsed();
    assert_eq!(got[0], (1, -libc::ETIME), "{what}: {got:?}");
    assert_eq!(got[1].0, 2);
    let ealready = got[1].1 == -libc::EALREADY;
    assert!(got[1].1 == 0 || ealready, "{what}: {got:?}");
    if linked {
        assert_eq!(got[2], (3, 0), "{what}: {got:?}");
    }
    if !ealready {
        assert!(
            took < Duration::from_secs(5),
            "{what}: not updated: {took:?}"
        );
    }
    if ms >= 1000 && !abs {
        assert!(
            took >= Duration::from_millis(ms / 2),
            "{what}: fired early: {took:?}"
        );
    }
}

/// timeout.c `test_update_timeout` (and `test_update_nonexistent_timeout`):
/// updates to 0, 1 and 1000 ms, absolute, `ASYNC`, after a linked NOP and
/// on an SQPOLL ring all move a 10 s timeout; an update of a timeout that
/// does not exist fails with `ENOENT`.
#[test]
fn timeout_update_moves_a_pending_timeout() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(TimeoutUpdate::new(42, Duration::ZERO).user_data(9))
        .unwrap();
    assert_eq!(pairs(&submit_and_reap(&mut ring, 1)), [(9, -libc::ENOENT)]);
    update_timeout(&mut ring, 0, false, false, false);
    update_timeout(&mut ring, 1, false, false, false);
    update_timeout(&mut ring, 1000, false, false, false);
    update_timeout(&mut ring, 0, true, true, false);
    update_timeout(&mut ring, 0, false, true, false);
    update_timeout(&mut ring, 0, false, false, true);
    let mut sqpoll = Ring::builder()
        .sqpoll(Duration::from_millis(100))
        .build(8)
        .unwrap();
    update_timeout(&mut sqpoll, 0, false, false, false);
}

/// timeout.c `test_update_invalid_flags`: a timeout removal flagged
/// `IORING_TIMEOUT_ABS`, and an update with every flag bit set, fail with
/// `EINVAL`.
#[test]
fn timeout_remove_and_update_with_bad_flags_are_einval() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let ts = sys::__kernel_timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let mut remove = raw_sqe(sys::IORING_OP_TIMEOUT_REMOVE, -1, 0, 0, 0, 1);
    remove.op_flags = sys::io_uring_sqe_op_flags {
        timeout_flags: sys::IORING_TIMEOUT_ABS,
    };
    let mut update = raw_sqe(sys::IORING_OP_TIMEOUT_REMOVE, -1, 0, 0, 0, 2);
    update.off = sys::io_uring_sqe_off {
        addr2: &ts as *const _ as u64,
    };
    update.op_flags = sys::io_uring_sqe_op_flags {
        timeout_flags: u32::MAX,
    };
    // SAFETY: the update's timespec lives until the end of the test; the
    // removal names nothing.
    unsafe { ring.push_raw(&[remove, update]) }.unwrap();
    assert_eq!(
        reap_sorted(&mut ring, 2),
        [(1, -libc::EINVAL), (2, -libc::EINVAL)]
    );
}

/// timeout.c `test_update_multishot_timeouts`: two multishot timeouts of
/// 10 s, each updated to 200 ms: both updates complete with 0 and each
/// timeout fires twice (`ETIME`, flagged `F_MORE`) well before 10 s; their
/// removal ends them.
#[test]
fn timeout_update_of_multishot_timeouts_changes_their_period() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let long = Duration::from_secs(10);
    let short = Duration::from_millis(200);
    for ud in [1, 2] {
        ring.push(
            Timeout::new(long)
                .timeout_flags(TimeoutFlags::MULTISHOT)
                .user_data(ud),
        )
        .unwrap();
    }
    ring.push(TimeoutUpdate::new(1, short).user_data(3))
        .unwrap();
    ring.push(TimeoutUpdate::new(2, short).user_data(4))
        .unwrap();
    let start = Instant::now();
    let got = submit_and_reap(&mut ring, 6);
    let took = start.elapsed();
    if got.iter().any(|c| c.res() == -libc::EINVAL) {
        skip("no multishot timeouts (6.4)");
        return;
    }
    assert!(took < Duration::from_secs(5), "not updated: {took:?}");
    let mut shots = [0; 3];
    for c in &got {
        match c.user_data() {
            1 | 2 => {
                assert_eq!(c.res(), -libc::ETIME, "{c:?}");
                assert!(c.has_more(), "{c:?}");
                shots[c.user_data() as usize] += 1;
            }
            3 | 4 => assert_eq!(c.res(), 0, "{c:?}"),
            _ => panic!("{c:?}"),
        }
    }
    assert_eq!(shots[1..], [2, 2], "{got:?}");
    ring.push(TimeoutRemove::new(1).user_data(5)).unwrap();
    ring.push(TimeoutRemove::new(2).user_data(6)).unwrap();
    ring.submit().unwrap();
    let mut rest: Vec<Cqe> = Vec::new();
    let ended = |rest: &[Cqe]| {
        rest.iter()
            .filter(|c| c.user_data() <= 2 && !c.has_more())
            .count()
    };
    while rest.iter().filter(|c| c.user_data() >= 5).count() < 2 || ended(&rest) < 2 {
        ring.wait_timeout(1, PATIENCE).unwrap();
        rest.extend(ring.completions());
    }
    for c in &rest {
        match c.user_data() {
            1 | 2 if c.has_more() => assert_eq!(c.res(), -libc::ETIME, "{c:?}"),
            1 | 2 => assert_eq!(c.res(), -libc::ECANCELED, "{c:?}"),
            5 | 6 => assert_eq!(c.res(), 0, "{c:?}"),
            _ => panic!("{c:?}"),
        }
    }
}

/// timeout.c `test_timeout_multishot`: a multishot timeout without a count
/// fires again and again (`ETIME`, `F_MORE`) until removed: the removal
/// completes with 0 and the timeout's last completion is `ECANCELED`.
#[test]
fn timeout_multishot_runs_until_removed() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(
        Timeout::new(Duration::from_millis(200))
            .timeout_flags(TimeoutFlags::MULTISHOT)
            .user_data(1),
    )
    .unwrap();
    for shot in 0..2 {
        let c = submit_and_reap(&mut ring, 1)[0];
        if c.res() == -libc::EINVAL {
            skip("no multishot timeouts (6.4)");
            return;
        }
        assert_eq!(c.user_data(), 1);
        assert_eq!(c.res(), -libc::ETIME, "shot {shot}");
        assert!(c.has_more(), "shot {shot}: {c:?}");
    }
    ring.push(TimeoutRemove::new(1).user_data(2)).unwrap();
    let mut got = submit_and_reap(&mut ring, 2);
    // A shot that fired between the last one read and the removal comes
    // first: read on until the timeout's last completion.
    while !got.iter().any(|c| c.user_data() == 1 && !c.has_more()) {
        got.extend(submit_and_reap(&mut ring, 1));
    }
    let (shots, ends): (Vec<Cqe>, Vec<Cqe>) =
        got.iter().partition(|c| c.user_data() == 1 && c.has_more());
    assert!(shots.iter().all(|c| c.res() == -libc::ETIME), "{got:?}");
    assert_eq!(pairs(&ends), [(2, 0), (1, -libc::ECANCELED)], "{got:?}");
}

/// timeout.c `test_timeout_multishot_overflow`: a 10 ms multishot timeout
/// left unreaped for a second overflows the CQ (the kernel raises
/// `IORING_SQ_CQ_OVERFLOW`); the timeout cannot post and ends, so a
/// removal finds nothing, and every completion it posted is `ETIME`.
#[test]
fn timeout_multishot_ends_when_the_cq_overflows() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(
        Timeout::new(Duration::from_millis(10))
            .timeout_flags(TimeoutFlags::MULTISHOT)
            .user_data(1),
    )
    .unwrap();
    let first = submit_and_reap(&mut ring, 1)[0];
    if first.res() == -libc::EINVAL {
        skip("no multishot timeouts (6.4)");
        return;
    }
    assert_eq!((first.user_data(), first.res()), (1, -libc::ETIME));
    std::thread::sleep(Duration::from_secs(1));
    assert!(ring.cq_has_overflow(), "the CQ did not overflow");
    ring.push(TimeoutRemove::new(1).user_data(2)).unwrap();
    ring.submit().unwrap();
    let mut got = Vec::new();
    while !got.iter().any(|c: &Cqe| c.user_data() == 2) {
        ring.wait_timeout(1, PATIENCE).unwrap();
        got.extend(ring.completions());
    }
    got.extend(stray_cqes(&mut ring));
    let remove = got.iter().find(|c| c.user_data() == 2).unwrap();
    assert_eq!(remove.res(), -libc::ENOENT, "the timer is gone: {got:?}");
    let shots: Vec<&Cqe> = got.iter().filter(|c| c.user_data() == 1).collect();
    assert!(shots.len() >= 8, "{got:?}");
    assert!(shots.iter().all(|c| c.res() == -libc::ETIME), "{got:?}");
    assert_eq!(
        shots.iter().filter(|c| !c.has_more()).count(),
        1,
        "one last completion: {got:?}"
    );
    assert!(!shots.last().unwrap().has_more(), "{got:?}");
}

/// timeout.c `test_single_timeout_many`: one `io_uring_enter` waiting for
/// 4 completions, with only a 200 ms timeout in flight, returns when the
/// timeout fires (after 100 to 300 ms in the C test; here at least 100 ms
/// and well before the 5 s a lost wake-up would take), with the timeout's
/// `ETIME` posted. (As in the C test, the enter is the raw system call:
/// `Ring::wait(4)` would enter again until 4 completions are ready.)
#[test]
fn timeout_expiry_ends_an_enter_waiting_for_more_completions() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(Timeout::new(Duration::from_millis(200)).user_data(1))
        .unwrap();
    ring.push(Timeout::new(Duration::from_secs(5)).user_data(2))
        .unwrap();
    assert_eq!(ring.submit().unwrap(), 2);
    let start = Instant::now();
    // SAFETY: the ring's own descriptor, open for the call; nothing is
    // submitted (the SQ is empty) and no argument is passed.
    let entered = unsafe {
        sys::io_uring_enter(
            ring.as_raw_fd(),
            0,
            4,
            sys::IORING_ENTER_GETEVENTS,
            std::ptr::null(),
            0,
        )
    };
    let took = start.elapsed();
    assert_eq!(entered.unwrap(), 0);
    assert!(
        took >= Duration::from_millis(100) && took < Duration::from_secs(3),
        "the enter returned after {took:?}"
    );
    assert_eq!(
        pairs(&ring.completions().collect::<Vec<_>>()),
        [(1, -libc::ETIME)]
    );
    // The 5 s timeout is still armed; dropping the ring cancels it.
}

// ---------------------------------------------------------------- nop.c

/// One round of nop.c `test_single_nop`, `test_barrier_nop` and
/// `test_nop_inject` on a ring of any entry sizes, each NOP flagged
/// `flags`; `words` reads a completion's extra 16 bytes (zeros on a ring of
/// small CQEs).
fn nop_round<S: uring::SqeSize, C: uring::CqeSize>(
    ring: &mut Ring<S, C>,
    seq: &mut u64,
    flags: SqeFlags,
    words: impl Fn(&C::Cqe) -> [u64; 2],
) {
    // A single NOP.
    *seq += 1;
    ring.push(Nop::new().user_data(*seq).flags(flags)).unwrap();
    ring.submit_and_wait(1).unwrap();
    let got: Vec<C::Cqe> = ring.completions().collect();
    assert_eq!(got.len(), 1);
    let c = got[0].as_ref();
    assert_eq!((c.user_data(), c.res()), (*seq, 0));
    assert_eq!(words(&got[0]), [0, 0], "extra CQE words: {got:?}");

    // Eight NOPs, the fifth drained: it completes after the four before
    // it, and the three after it wait for it.
    let first = *seq + 1;
    for i in 0..8 {
        *seq += 1;
        let f = if i == 4 {
            flags | SqeFlags::IO_DRAIN
        } else {
            flags
        };
        ring.push(Nop::new().user_data(*seq).flags(f)).unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 8);
    let mut got: Vec<C::Cqe> = Vec::new();
    while got.len() < 8 {
        ring.wait_timeout(1, PATIENCE).unwrap();
        got.extend(ring.completions());
    }
    assert_eq!(got.len(), 8, "{got:?}");
    let order: Vec<u64> = got.iter().map(|c| c.as_ref().user_data()).collect();
    let at = |ud: u64| order.iter().position(|&x| x == ud).unwrap();
    let barrier = at(first + 4);
    for before in first..first + 4 {
        assert!(at(before) < barrier, "{order:?}");
    }
    for after in first + 5..first + 8 {
        assert!(at(after) > barrier, "{order:?}");
    }
    for c in &got {
        assert_ne!(c.as_ref().user_data(), 0);
        assert_eq!(c.as_ref().res(), 0, "{c:?}");
        assert_eq!(words(c), [0, 0], "extra CQE words: {c:?}");
    }

    // A NOP told to fail with EFAULT (EINVAL before 6.10).
    *seq += 1;
    ring.push(
        Nop::new()
            .result(-libc::EFAULT)
            .user_data(*seq)
            .flags(flags),
    )
    .unwrap();
    ring.submit_and_wait(1).unwrap();
    let got: Vec<C::Cqe> = ring.completions().collect();
    let c = got[0].as_ref();
    assert_eq!(c.user_data(), *seq);
    assert!([-libc::EINVAL, -libc::EFAULT].contains(&c.res()), "{c:?}");
}

/// nop.c `test_ring` over liburing's test configurations (64- and 128-byte
/// SQEs, 16- and 32-byte CQEs): single NOPs, a batch with a drained NOP in
/// the middle and a NOP with an injected error, every other round
/// `ASYNC`; no completion loses its `user_data` and a 32-byte CQE's extra
/// words are zero.
#[test]
fn nop_single_barrier_and_injected_on_every_entry_size() {
    use uring::{Builder, Cqe16, Cqe32, Sqe64, Sqe128};
    let _watch = uring_tests::watchdog();
    const ROUNDS: usize = 100;
    let flags = |i: usize| {
        if i % 2 == 1 {
            SqeFlags::ASYNC
        } else {
            SqeFlags::EMPTY
        }
    };
    let mut seq = 0;
    let mut ring = Builder::new().build_sized::<Sqe64, Cqe16>(8).unwrap();
    for i in 0..ROUNDS {
        nop_round(&mut ring, &mut seq, flags(i), |_| [0, 0]);
    }
    let mut ring = Builder::new().build_sized::<Sqe128, Cqe16>(8).unwrap();
    for i in 0..ROUNDS {
        nop_round(&mut ring, &mut seq, flags(i), |_| [0, 0]);
    }
    let mut ring = Builder::new().build_sized::<Sqe64, Cqe32>(8).unwrap();
    for i in 0..ROUNDS {
        nop_round(&mut ring, &mut seq, flags(i), |c| c.big_cqe());
    }
    let mut ring = Builder::new().build_sized::<Sqe128, Cqe32>(8).unwrap();
    for i in 0..ROUNDS {
        nop_round(&mut ring, &mut seq, flags(i), |c| c.big_cqe());
    }
}

// ---------------------------------------------------------------- defer.c

/// `count` raw SQEs made by `sqe(i)`, each linked to the next but the last.
fn linked_chain(count: u64, sqe: impl Fn(u64) -> sys::io_uring_sqe) -> Vec<sys::io_uring_sqe> {
    (0..count)
        .map(|i| {
            let mut s = sqe(i);
            if i + 1 < count {
                s.flags |= sys::IOSQE_IO_LINK;
            }
            s
        })
        .collect()
}

/// defer.c `test_canceled_userdata`: a chain of 100 linked NOPs on an
/// IOPOLL ring completes in order, each with its own `user_data`.
#[test]
fn defer_linked_nops_on_an_iopoll_ring_keep_their_user_data() {
    let _watch = uring_tests::watchdog();
    let mut ring = match Ring::builder().iopoll().build(128) {
        Ok(r) => r,
        Err(e) => {
            skip(format_args!("no IOPOLL ring: {e}"));
            return;
        }
    };
    let sqes = linked_chain(100, |i| raw_sqe(sys::IORING_OP_NOP, -1, 0, 0, 0, i));
    // SAFETY: NOPs name no memory and no descriptor.
    unsafe { ring.push_raw(&sqes) }.unwrap();
    let got = pairs(&submit_and_reap(&mut ring, 100));
    let want: Vec<(u64, i32)> = (0..100).map(|i| (i, 0)).collect();
    assert_eq!(got, want);
}

/// defer.c `test_thread_link_cancel`: on an SQPOLL + IOPOLL ring, a chain
/// of 100 linked `REMOVE_BUFFERS` of a group that does not exist: the first
/// fails with `ENOENT`, the other 99 are cancelled.
#[test]
fn defer_a_failed_head_cancels_the_chain_on_an_sqpoll_iopoll_ring() {
    let _watch = uring_tests::watchdog();
    let mut ring = match Ring::builder()
        .sqpoll(Duration::from_millis(100))
        .iopoll()
        .build(128)
    {
        Ok(r) => r,
        Err(e) => {
            skip(format_args!("no SQPOLL + IOPOLL ring: {e}"));
            return;
        }
    };
    let sqes = linked_chain(100, |i| {
        let mut s = raw_sqe(sys::IORING_OP_REMOVE_BUFFERS, 10, 0, 0, 0, i);
        s.buf = sys::io_uring_sqe_buf { buf_group: 1 };
        s
    });
    // SAFETY: buffer removals name no memory and no descriptor.
    unsafe { ring.push_raw(&sqes) }.unwrap();
    let got = pairs(&submit_and_reap(&mut ring, 100));
    let want: Vec<(u64, i32)> = (0..100)
        .map(|i| {
            (
                i,
                if i == 0 {
                    -libc::ENOENT
                } else {
                    -libc::ECANCELED
                },
            )
        })
        .collect();
    assert_eq!(got, want);
}

/// defer.c `test_drain_with_linked_timeout`: three drained 1 s timeouts,
/// each bounded by a 1 s link timeout: all six complete, each once (the
/// drains do not hold the chains up for ever).
#[test]
fn defer_drained_timeouts_with_link_timeouts_all_complete() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(128).unwrap();
    for i in 0..3u64 {
        ring.push(
            Timeout::new(Duration::from_secs(1))
                .flags(SqeFlags::IO_DRAIN)
                .user_data(2 * i)
                .link_timeout(LinkTimeout::new(Duration::from_secs(1)).user_data(2 * i + 1)),
        )
        .unwrap();
    }
    let got = submit_and_reap(&mut ring, 6);
    uring_tests::assert_user_data_once(&got, 0..6);
    // The two timers of a pair are equal: either may end the other (a
    // link timeout whose op ended first finds nothing, `ENOENT`).
    for c in &got {
        let allowed: &[i32] = if c.user_data() % 2 == 0 {
            &[-libc::ETIME, -libc::ECANCELED]
        } else {
            &[
                -libc::ETIME,
                -libc::ECANCELED,
                -libc::ENOENT,
                -libc::EALREADY,
            ]
        };
        assert!(allowed.contains(&c.res()), "{got:?}");
    }
}

// ---------------------------------------------------------------- multicqes_drain.c

/// Writes 3 bytes into the pipe, waits for the poll's completion, and
/// reads them back (multicqes_drain.c `trigger_event`, which sleeps 1 ms
/// instead of waiting: on a loaded machine the bytes can then be read
/// back before the poll has looked, and the event is lost).
fn trigger_event(ring: &mut Ring, rx: &OwnedFd, tx: &OwnedFd) {
    let before = ring.ready();
    write_to(tx, b"foo");
    ring.wait_timeout(before + 1, PATIENCE)
        .unwrap_or_else(|e| panic!("no poll completion for a write: {e}"));
    let mut got = [0u8; 3];
    std::fs::File::from(rx.try_clone().unwrap())
        .read_exact(&mut got)
        .unwrap();
}

/// multicqes_drain.c `test_simple_drain`, on a plain and a deferred-task-
/// work ring: a multishot poll triggered twice and a oneshot poll
/// triggered once, then a poll removal and a drained NOP: the NOP is the
/// sixth and last completion, after the removal and the multishot poll's
/// end.
#[test]
fn multicqes_drain_waits_for_a_multishot_poll_to_end() {
    let _watch = uring_tests::watchdog();
    for defer in [false, true] {
        for _ in 0..5 {
            // A ring of its own each round (liburing reuses one): Linux
            // 6.18 leaves a drain on after the drained op completes, until
            // an SQE is submitted with nothing in flight. The last round's
            // drained NOP ran in an io-wq worker, which frees it later, in
            // task work; a round whose first SQEs still find it allocated
            // keeps the drain on, and its poll removal then waits for
            // everything in flight, the multishot poll it should end
            // included (it never completes).
            let mut ring = if defer {
                match Ring::builder().single_issuer().defer_taskrun().build(1024) {
                    Ok(r) => r,
                    Err(e) => {
                        skip(format_args!("no DEFER_TASKRUN: {e}"));
                        break;
                    }
                }
            } else {
                Ring::new(1024).unwrap()
            };
            let (rx1, tx1) = pipe();
            let (rx2, tx2) = pipe();
            push_lent!(
                ring,
                PollAdd::new(&rx1, PollEvents::IN)
                    .poll_flags(uring::PollFlags::MULTI)
                    .user_data(0),
            )
            .unwrap();
            push_lent!(ring, PollAdd::new(&rx2, PollEvents::IN).user_data(1)).unwrap();
            assert_eq!(ring.submit().unwrap(), 2);
            ring.get_events().unwrap();
            trigger_event(&mut ring, &rx1, &tx1);
            trigger_event(&mut ring, &rx1, &tx1);
            trigger_event(&mut ring, &rx2, &tx2);
            ring.push(PollRemove::new(0).user_data(2)).unwrap();
            ring.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(3))
                .unwrap();
            ring.submit().unwrap();
            let mut got = Vec::new();
            while got.len() < 6 {
                if let Err(e) = ring.wait_timeout(1, PATIENCE) {
                    panic!("defer {defer}: {e} after {got:?}");
                }
                got.extend(ring.completions());
            }
            let ids: Vec<u64> = got.iter().map(Cqe::user_data).collect();
            assert_eq!(got[5].user_data(), 3, "defer {defer}: {got:?}");
            assert_eq!(
                ids.iter().filter(|&&u| u == 0).count(),
                3,
                "defer {defer}: two events and the end: {got:?}"
            );
            assert_eq!(stray(&mut ring), [], "defer {defer}");
        }
    }
}

// ---------------------------------------------------------------- io-cancel.c

/// io-cancel.c `test_dont_cancel_another_ring`: a cancel on one ring does
/// not reach a request of another ring with the same `user_data`: it fails
/// with `ENOENT`, and the other ring's read is still waiting 100 ms later.
#[test]
fn io_cancel_does_not_reach_another_rings_request() {
    let _watch = uring_tests::watchdog();
    let (rx, tx) = pipe();
    let mut ring1 = Ring::new(8).unwrap();
    let mut ring2 = Ring::new(8).unwrap();
    let mut buffer = [0u8; 128];
    push_lent!(
        ring1,
        Read::new(&rx, &mut buffer[..10])
            .flags(SqeFlags::ASYNC)
            .user_data(1),
    )
    .unwrap();
    assert_eq!(ring1.submit().unwrap(), 1);
    ring2.push(uring::ops::Cancel::new(1).user_data(2)).unwrap();
    assert_eq!(pairs(&submit_and_reap(&mut ring2, 1)), [(2, -libc::ENOENT)]);
    let waited = ring1.wait_timeout(1, Duration::from_millis(100));
    assert!(
        matches!(waited, Err(Error::TimedOut)),
        "the read was cancelled or the wait failed: {waited:?}"
    );
    write_to(&tx, b"0123456789");
    assert_eq!(pairs(&submit_and_reap(&mut ring1, 1)), [(1, 10)]);
    assert_eq!(&buffer[..10], b"0123456789");
}

// ---------------------------------------------------------------- poll-cancel.c

/// poll-cancel.c `test_poll_cancel`: a poll of an empty pipe removed by a
/// `POLL_REMOVE` naming its `user_data`: the poll completes `ECANCELED`
/// and the removal 0.
#[test]
fn poll_cancel_removes_a_waiting_poll() {
    let _watch = uring_tests::watchdog();
    let (rx, _tx) = pipe();
    let mut ring = Ring::new(2).unwrap();
    push_lent!(ring, PollAdd::new(&rx, PollEvents::IN).user_data(1)).unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    ring.push(PollRemove::new(1).user_data(2)).unwrap();
    assert_eq!(reap_sorted(&mut ring, 2), [(1, -libc::ECANCELED), (2, 0)]);
}

// ---------------------------------------------------------------- fpos.c

const FPOS_QUEUE: usize = 2048;
const FPOS_FILE: usize = 5000;

/// fpos.c `test_read`: chains of 2048 linked reads of `blocksize` bytes at
/// the file position (offset -1), `ASYNC` or not, until one reads 0: each
/// read starts where the last stopped (the bytes, alternately 0 and 1, stay
/// alternating) and the file position ends at the total read.
fn fpos_read(ring: &mut Ring, async_: bool, blocksize: usize) {
    let content: Vec<u8> = (0..FPOS_FILE).map(|i| (i & 1) as u8).collect();
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&content).unwrap();
    std::io::Seek::rewind(&mut file).unwrap();
    let mut buf = vec![0u8; FPOS_QUEUE * blocksize];
    let mut expected = 0u64;
    let (mut zeros, mut ones) = (0i64, 0i64);
    let mut done = false;
    while !done {
        let base = buf.as_mut_ptr() as u64;
        let flags = if async_ { sys::IOSQE_ASYNC } else { 0 };
        let sqes = linked_chain(FPOS_QUEUE as u64, |i| {
            let mut s = raw_sqe(
                sys::IORING_OP_READ,
                file.as_raw_fd(),
                base + i * blocksize as u64,
                blocksize as u32,
                flags,
                i,
            );
            s.off = sys::io_uring_sqe_off { off: u64::MAX };
            s
        });
        // SAFETY: each read writes its own block of `buf`, and every read
        // is reaped below before `buf` is touched or freed; the file stays
        // open.
        unsafe { ring.push_raw(&sqes) }.unwrap();
        let got = submit_and_reap(ring, FPOS_QUEUE);
        let mut reordered = Vec::new();
        for c in &got {
            let i = c.user_data() as usize;
            assert!(i < FPOS_QUEUE);
            match c.res() {
                0 => done = true,
                r if r == -libc::ECANCELED => {}
                r => {
                    assert!(r > 0 && r as usize <= blocksize, "bad read {r}");
                    reordered.extend_from_slice(&buf[i * blocksize..i * blocksize + r as usize]);
                    expected += r as u64;
                }
            }
        }
        for &b in &reordered {
            match b {
                0 => zeros += 1,
                1 => ones += 1,
                odd => panic!("odd byte {odd}"),
            }
        }
        assert!((ones - zeros).abs() <= 1, "{zeros} zeros, {ones} ones");
        let pos = std::io::Seek::stream_position(&mut file).unwrap();
        assert_eq!(pos, expected, "async {async_} block {blocksize}");
    }
}

/// fpos.c `test_write`: 2048 linked one-byte writes at the file position
/// (offset -1): each writes 1, the position ends at 2048 and the file
/// holds the bytes in the order written.
fn fpos_write(ring: &mut Ring, async_: bool, blocksize: usize) {
    let mut file = tempfile::tempfile().unwrap();
    let data: Vec<u8> = (0..blocksize).map(|i| b'A' + i as u8).collect();
    let base = data.as_ptr() as u64;
    let flags = if async_ { sys::IOSQE_ASYNC } else { 0 };
    let sqes = linked_chain(FPOS_QUEUE as u64, |i| {
        let mut s = raw_sqe(
            sys::IORING_OP_WRITE,
            file.as_raw_fd(),
            base + i % blocksize as u64,
            1,
            flags,
            1,
        );
        s.off = sys::io_uring_sqe_off { off: u64::MAX };
        s
    });
    // SAFETY: the writes read `data`, alive and unchanged until they are
    // all reaped below; the file stays open.
    unsafe { ring.push_raw(&sqes) }.unwrap();
    let got = submit_and_reap(ring, FPOS_QUEUE);
    assert!(got.iter().all(|c| c.res() == 1), "{got:?}");
    let pos = std::io::Seek::stream_position(&mut file).unwrap();
    assert_eq!(pos, FPOS_QUEUE as u64);
    std::io::Seek::rewind(&mut file).unwrap();
    let mut back = Vec::new();
    file.read_to_end(&mut back).unwrap();
    assert_eq!(back.len(), FPOS_QUEUE);
    for (i, chunk) in back.chunks(blocksize).enumerate() {
        assert_eq!(chunk, &data[..chunk.len()], "chunk {i}");
    }
}

/// fpos.c: long chains of linked reads and writes at the file position,
/// `ASYNC` or not, in blocks of 7 and 1 bytes, advance the position one
/// after the other.
#[test]
fn fpos_linked_reads_and_writes_follow_the_file_position() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(FPOS_QUEUE as u32).unwrap();
    for test in 0..8 {
        let async_ = test & 1 != 0;
        let write = test & 2 != 0;
        let blocksize = if test & 4 != 0 { 1 } else { 7 };
        if write {
            fpos_write(&mut ring, async_, blocksize);
        } else {
            fpos_read(&mut ring, async_, blocksize);
        }
    }
}

// ---------------------------------------------------------------- connect.c

/// A TCP socket bound to a free port of 127.0.0.1, not listening, and its
/// address (connect.c `block_port`).
fn bound_not_listening() -> (OwnedFd, std::net::SocketAddr) {
    let fd = uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
    let addr = uring::SockAddr::from(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    // SAFETY: `addr` points to `addr.len()` bytes of a valid sockaddr.
    let rc = unsafe { libc::bind(fd.as_raw_fd(), addr.as_ptr().cast(), addr.len()) };
    assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
    let at = uring_tests::local_addr(fd.as_fd()).unwrap();
    (fd, at)
}

/// connect.c `test_connect_with_no_peer`: a connect to a port bound by a
/// socket that does not listen fails with `ECONNREFUSED`.
#[test]
fn connect_to_a_port_with_no_listener_is_econnrefused() {
    use uring::ops::Connect;
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (_blocker, at) = bound_not_listening();
    let client = uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
    let addr = uring::SockAddr::from(at);
    let cqe = uring_tests::complete(&mut ring, Connect::new(&client, &addr).user_data(1));
    assert_eq!(cqe.res(), -libc::ECONNREFUSED, "{cqe:?}");
}

/// connect.c `test_connect_timeout`: with the accept queue of a listener
/// of backlog 0 filled by a first connection, a second connect stalls; the
/// link timeout bounding it fires (`ETIME`) and cancels it (`ECANCELED`).
#[test]
fn connect_stalled_on_a_full_backlog_is_cancelled_by_its_link_timeout() {
    use uring::ops::Connect;
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (listener, at) = bound_not_listening();
    // SAFETY: listen(2) on a socket this test owns.
    let rc = unsafe { libc::listen(listener.as_raw_fd(), 0) };
    assert_eq!(rc, 0, "listen: {}", std::io::Error::last_os_error());
    let addr = uring::SockAddr::from(at);
    let first = uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
    let cqe = uring_tests::complete(&mut ring, Connect::new(&first, &addr).user_data(1));
    assert_eq!(cqe.res(), 0, "the first connection fills the queue");
    let second = uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
    let got = ring.scope(|s| {
        s.push(
            Connect::new(&second, &addr)
                .user_data(1)
                .link_timeout(LinkTimeout::new(Duration::from_millis(100)).user_data(2)),
        )
        .unwrap();
        s.submit().unwrap();
        let mut got = Vec::new();
        while got.len() < 2 {
            s.wait_timeout(1, PATIENCE).unwrap();
            got.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        got.sort_unstable();
        got
    });
    assert_eq!(got, [(1, -libc::ECANCELED), (2, -libc::ETIME)]);
}

// ---------------------------------------------------------------- recv-msgall.c

/// Sends 512 bytes from `sender` as two 256-byte datagrams, 10 ms apart
/// (recv-msgall.c `do_send`).
fn send_two_halves(sender: &std::net::UdpSocket, data: &[u8]) {
    for half in data.chunks(256) {
        assert_eq!(sender.send(half).unwrap(), 256);
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// recv-msgall.c: a receive flagged `MSG_WAITALL` on a datagram socket,
/// waiting for 512 bytes, completes with the first 256-byte datagram (a
/// datagram is never joined with the next), through `Recv` and `RecvMsg`.
#[test]
fn recv_msgall_on_a_datagram_socket_returns_one_datagram() {
    use uring::ops::{Recv, RecvMsg};
    use uring::{MsgFlags, MsgHdrMut};
    let _watch = uring_tests::watchdog();
    for use_recvmsg in [false, true] {
        let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sender.connect(receiver.local_addr().unwrap()).unwrap();
        let data: Vec<u8> = (0..512u32).map(|i| i as u8).collect();
        let mut ring = Ring::new(2).unwrap();
        let mut buf = vec![0u8; 512];
        let wait_one = |s: &mut uring::Scope<'_, '_>| {
            s.submit().unwrap();
            send_two_halves(&sender, &data);
            s.wait_timeout(1, PATIENCE).unwrap();
            let c = s.completions().next().unwrap();
            (c.user_data(), c.res())
        };
        let got = if use_recvmsg {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let mut msg = MsgHdrMut::new(&mut iov);
            ring.scope(|s| {
                s.push(
                    RecvMsg::new(&receiver, &mut msg)
                        .msg_flags(MsgFlags::WAITALL)
                        .user_data(2),
                )
                .unwrap();
                wait_one(s)
            })
        } else {
            ring.scope(|s| {
                s.push(
                    Recv::new(&receiver, &mut buf[..])
                        .msg_flags(MsgFlags::WAITALL)
                        .user_data(2),
                )
                .unwrap();
                wait_one(s)
            })
        };
        assert_eq!(got, (2, 256), "recvmsg {use_recvmsg}");
        assert_eq!(buf[..256], data[..256], "recvmsg {use_recvmsg}");
    }
}

// ---------------------------------------------------------------- fd-install.c

/// fd-install.c `test_linked` and `test_working`: a fixed-fd install linked
/// after a NOP installs the pipe's read end as a new descriptor; reads
/// through it work, and keep working after the fixed slot is closed.
#[test]
fn fd_install_linked_after_a_nop_and_outliving_its_slot() {
    use uring::ops::{Close, FixedFdInstall};
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !uring_tests::require_op::<FixedFdInstall>(&ring) {
        return;
    }
    let (rx, tx) = pipe();
    let mut files = ring.register_files(&[rx.as_fd()]).unwrap();
    drop(rx);
    push_lent!(
        ring,
        Nop::new()
            .user_data(1)
            .link(FixedFdInstall::new(files.get(0).unwrap()).user_data(2)),
    )
    .unwrap();
    let got = pairs(&submit_and_reap(&mut ring, 2));
    assert_eq!(got[0], (1, 0), "{got:?}");
    assert_eq!(got[1].0, 2);
    assert!(got[1].1 >= 0, "{got:?}");
    // SAFETY: the install just made this descriptor, owned by no one else.
    let installed: OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(got[1].1) };
    let mut installed = std::fs::File::from(installed);
    write_to(&tx, b"Hello");
    let mut buf = [0u8; 32];
    assert_eq!(installed.read(&mut buf).unwrap(), 5);
    let closed = uring_tests::complete(&mut ring, Close::new(files.get_mut(0).unwrap()));
    assert_eq!(closed.res(), 0, "{closed:?}");
    write_to(&tx, b"Hello");
    assert_eq!(installed.read(&mut buf).unwrap(), 5);
    assert_eq!(&buf[..5], b"Hello");
}

// ---------------------------------------------------------------- buf-ring.c

/// A provided-buffer ring of `count` buffers of `len` bytes under `group`,
/// or `None` (with a skip message) on a kernel without them.
fn buf_ring(ring: &mut Ring, group: u16, count: u16, len: u32) -> Option<uring::BufRing> {
    uring_tests::plain_buf_ring(ring, group, count, len)
}

/// buf-ring.c `test_mixed_reg` and `test_mixed_reg2`: a group given
/// classic provided buffers cannot become a buffer ring, and a buffer
/// ring's group takes no classic buffers (`EEXIST`, or `EINVAL`), for
/// groups 1 and 127.
#[test]
fn buf_ring_and_classic_buffers_do_not_share_a_group() {
    use uring::ops::ProvideBuffers;
    use uring::{BufferGroup, BufferPool};
    let _watch = uring_tests::watchdog();
    for bgid in [1u16, 127] {
        // Classic buffers first: the kernel keeps them until the ring goes,
        // so the memory is declared before the ring.
        let mut region = vec![0u8; 8 * 1024];
        let mut ring = Ring::new(1).unwrap();
        push_lent!(
            ring,
            ProvideBuffers::new(BufferPool::new(&mut region, 1024), BufferGroup::new(bgid))
                .user_data(1),
        )
        .unwrap();
        assert_eq!(pairs(&submit_and_reap(&mut ring, 1)), [(1, 0)]);
        let refused = ring.register_buf_ring(BufferGroup::new(bgid), 32, 64);
        assert!(
            refused.is_err(),
            "group {bgid}: a ring over classic buffers"
        );
        drop(ring);
        drop(region);

        // A ring first.
        let mut region = vec![0u8; 8 * 1024];
        let mut ring = Ring::new(1).unwrap();
        let Some(pool) = buf_ring(&mut ring, bgid, 32, 64) else {
            return;
        };
        push_lent!(
            ring,
            ProvideBuffers::new(BufferPool::new(&mut region, 1024), BufferGroup::new(bgid))
                .user_data(2),
        )
        .unwrap();
        let got = submit_and_reap(&mut ring, 1)[0];
        assert!(
            [-libc::EEXIST, -libc::EINVAL].contains(&got.res()),
            "group {bgid}: {got:?}"
        );
        drop(pool);
        drop(ring);
        drop(region);
    }
}

/// buf-ring.c `test_running`: with a ring of `entries` buffers, one-byte
/// reads of /dev/zero each pick a buffer not picked before in the round
/// and read a zero into it; once all are out, the next read fails with
/// `ENOBUFS`; the buffers given back serve the next round. (Rings of 1, 32,
/// 4096 and 32767 buffers: uring's rings hold at most 32767, where the C
/// test's largest is 32768.)
#[test]
fn buf_ring_reads_use_each_buffer_once_then_enobufs() {
    let _watch = uring_tests::watchdog();
    let zero = std::fs::File::open("/dev/zero").unwrap();
    for entries in [1u16, 32, 4096, uring::MAX_BUF_RING_BUFFERS] {
        let mut ring = Ring::new(1).unwrap();
        let Some(pool) = buf_ring(&mut ring, 2, entries, 8) else {
            return;
        };
        for round in 0..3 {
            ring.scope(|s| {
                let mut seen = vec![false; usize::from(entries)];
                let mut held = Vec::with_capacity(usize::from(entries));
                for idx in 0..entries {
                    s.push(Read::new(&zero, pool.group().select(1)).user_data(u64::from(idx)))
                        .unwrap();
                    s.submit_and_wait(1).unwrap();
                    let mut cqe = s.completions().next().unwrap();
                    assert_eq!(cqe.res(), 1, "{entries}/{round}/{idx}: {cqe:?}");
                    let buf = pool.claim(&mut cqe).unwrap();
                    let bid = usize::from(buf.bid());
                    assert!(!seen[bid], "{entries}/{round}/{idx}: buffer {bid} again");
                    seen[bid] = true;
                    assert_eq!(&buf[..], [0], "{entries}/{round}/{idx}");
                    held.push(buf);
                }
                s.push(Read::new(&zero, pool.group().select(1)).user_data(u64::MAX))
                    .unwrap();
                s.submit_and_wait(1).unwrap();
                let cqe = s.completions().next().unwrap();
                assert_eq!(cqe.res(), -libc::ENOBUFS, "{entries}/{round}: {cqe:?}");
                drop(held);
            });
        }
    }
}

// ---------------------------------------------------------------- read-mshot.c

/// read-mshot.c `test_invalid`: a multishot read of a regular file (which
/// cannot be polled) fails at once with `EBADFD`, without `F_MORE`, inline
/// or `ASYNC`.
#[test]
fn read_mshot_of_a_regular_file_is_ebadfd() {
    use uring::ops::ReadMultishot;
    let _watch = uring_tests::watchdog();
    for flags in [SqeFlags::EMPTY, SqeFlags::ASYNC] {
        let mut ring = Ring::builder().cq_entries(32).build(1).unwrap();
        if !uring_tests::require_op::<ReadMultishot>(&ring) {
            return;
        }
        let Some(pool) = buf_ring(&mut ring, 1, 1, 4096) else {
            return;
        };
        let file = tempfile::tempfile().unwrap();
        push_lent!(
            ring,
            ReadMultishot::new(&file, pool.group())
                .flags(flags)
                .user_data(1),
        )
        .unwrap();
        let c = submit_and_reap(&mut ring, 1)[0];
        assert_eq!((c.user_data(), c.res()), (1, -libc::EBADFD), "{flags:?}");
        assert!(!c.has_more(), "{c:?}");
        drop(pool);
    }
}

// ---------------------------------------------------------------- recv-multishot.c

/// recv-multishot.c `test_enobuf`: a multishot receive from a group of
/// only two classic one-byte buffers, and three one-byte datagrams: the
/// first two complete with 1, a buffer and `F_MORE`; the third with
/// `ENOBUFS`, no buffer and no `F_MORE` (the receive ends).
#[test]
fn recv_multishot_ends_with_enobufs_when_the_buffers_run_out() {
    use uring::ops::{ProvideBuffers, Recv};
    use uring::{BufferGroup, BufferPool, RecvFlags};
    let _watch = uring_tests::watchdog();
    let mut region = [0u8; 256];
    let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sender.connect(receiver.local_addr().unwrap()).unwrap();
    let mut ring = Ring::new(8).unwrap();
    push_lent!(
        ring,
        ProvideBuffers::new(BufferPool::new(&mut region[..2], 1), BufferGroup::new(0)).user_data(0),
    )
    .unwrap();
    push_lent!(
        ring,
        Recv::new(&receiver, BufferGroup::new(0).select(0))
            .recv_flags(RecvFlags::MULTISHOT)
            .user_data(1),
    )
    .unwrap();
    assert_eq!(ring.submit().unwrap(), 2);
    for _ in 0..3 {
        assert_eq!(sender.send(b"?").unwrap(), 1);
    }
    let got = submit_and_reap(&mut ring, 4);
    assert_eq!((got[0].user_data(), got[0].res()), (0, 0), "{got:?}");
    for c in &got[1..3] {
        assert_eq!((c.user_data(), c.res()), (1, 1), "{got:?}");
        assert!(c.buffer_id().is_some() && c.has_more(), "{c:?}");
    }
    assert_eq!(
        (got[3].user_data(), got[3].res()),
        (1, -libc::ENOBUFS),
        "{got:?}"
    );
    assert!(
        got[3].buffer_id().is_none() && !got[3].has_more(),
        "{:?}",
        got[3]
    );
    drop(ring);
}

// ---------------------------------------------------------------- fixed-buf-iter.c

/// fixed-buf-iter.c: a registered 4 KiB buffer filled by a fixed read of
/// /dev/urandom (a character device) and written by a fixed write to
/// /dev/zero: both move the whole 4096 bytes.
#[test]
fn fixed_buf_iter_read_and_write_of_character_devices() {
    use uring::ops::{ReadFixed, WriteFixed};
    let _watch = uring_tests::watchdog();
    let input = std::fs::File::open("/dev/urandom").unwrap();
    let output = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/zero")
        .unwrap();
    let mut memory = vec![0u8; 4096];
    let mut ring = Ring::new(8).unwrap();
    let base = memory.as_mut_ptr();
    // SAFETY: `memory` outlives the ring's use of it (the ops are reaped
    // before it is read or freed, and the ring is dropped first), and only
    // the fixed ops below touch it meanwhile.
    let table = unsafe {
        ring.register_buffers(&[IoSliceMut::new(std::slice::from_raw_parts_mut(base, 4096))])
    }
    .unwrap();
    let slot = table.get(0).unwrap();
    // SAFETY: the registered buffer, lent to this one op until it is reaped.
    let into = unsafe { std::slice::from_raw_parts_mut(base, 4096) };
    push_lent!(ring, ReadFixed::new(&input, into, slot).user_data(1)).unwrap();
    assert_eq!(pairs(&submit_and_reap(&mut ring, 1)), [(1, 4096)]);
    // SAFETY: as above, read by this one op.
    let from = unsafe { std::slice::from_raw_parts(base, 4096) };
    push_lent!(ring, WriteFixed::new(&output, from, slot).user_data(2)).unwrap();
    assert_eq!(pairs(&submit_and_reap(&mut ring, 1)), [(2, 4096)]);
    drop(ring);
    assert!(memory.iter().any(|&b| b != 0), "random bytes were read");
}

// ---------------------------------------------------------------- close-opath.c

/// close-opath.c: `CLOSE` of a directory opened `O_RDONLY` and of one
/// opened `O_PATH` succeeds (or fails only with `EOPNOTSUPP`, `EINVAL` or
/// `EBADF`).
#[test]
fn close_opath_closes_a_path_only_descriptor() {
    use std::os::unix::fs::OpenOptionsExt;
    use uring::ops::Close;
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(2).unwrap();
    for flags in [0, libc::O_PATH] {
        let dir = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags)
            .open(".")
            .unwrap();
        let fd = OwnedFd::from(dir);
        ring.push(Close::new(fd).user_data(1)).unwrap();
        let c = submit_and_reap(&mut ring, 1)[0];
        assert!(
            [0, -libc::EOPNOTSUPP, -libc::EINVAL, -libc::EBADF].contains(&c.res()),
            "flags {flags:#x}: {c:?}"
        );
    }
}

// ---------------------------------------------------------------- openat2.c

/// openat2.c `test_open_fixed` and `test_direct_reinstall`: an `OPENAT2`
/// straight into a slot of an empty table (0 on success) gives a file that
/// a linked fixed write and read use (1 byte each, the byte read back);
/// one into a slot holding a pipe's write end replaces it, so a fixed
/// write there lands in the file and the pipe stays empty.
#[test]
fn openat2_direct_opens_into_a_slot_and_replaces_its_file() {
    use uring::ops::{OpenAt2, Write};
    use uring::{DirectSlot, Fd};
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".open.at2");
    std::fs::write(&path, vec![0u8; 4096]).unwrap();
    let cpath = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: all-zero bytes are a valid `open_how`.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = libc::O_RDWR as u64;
    let mut ring = Ring::new(8).unwrap();
    let mut table = ring.register_files_sparse(1).unwrap();
    let opened = uring_tests::complete(
        &mut ring,
        OpenAt2::new(Fd::CWD, &cpath, &how).direct(DirectSlot::at(table.get_mut(0).unwrap())),
    );
    if opened.res() == -libc::EINVAL {
        skip("no direct OPENAT2 (5.15)");
        return;
    }
    assert_eq!(opened.res(), 0, "{opened:?}");
    let pattern = [0xacu8];
    let mut back = [0u8; 1];
    let slot = table.get(0).unwrap();
    let got = ring.scope(|s| {
        s.push(
            Write::new(slot, &pattern)
                .user_data(1)
                .link(Read::new(slot, &mut back[..]).user_data(2)),
        )
        .unwrap();
        s.submit_and_wait(2).unwrap();
        s.completions()
            .map(|c| (c.user_data(), c.res()))
            .collect::<Vec<_>>()
    });
    assert_eq!(got, [(1, 1), (2, 1)]);
    assert_eq!(back, pattern);
    ring.unregister_files(table).unwrap();

    // Reinstalled over a pipe's write end.
    let (rx, tx) = pipe();
    // SAFETY: O_NONBLOCK on the pipe's read end, which this test owns.
    unsafe { libc::fcntl(rx.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    let mut table = ring.register_files(&[rx.as_fd(), tx.as_fd()]).unwrap();
    let opened = uring_tests::complete(
        &mut ring,
        OpenAt2::new(Fd::CWD, &cpath, &how).direct(DirectSlot::at(table.get_mut(1).unwrap())),
    );
    assert_eq!(opened.res(), 0, "reinstall: {opened:?}");
    let byte = [0xfau8];
    let wrote = uring_tests::complete(&mut ring, Write::new(table.get(1).unwrap(), &byte));
    assert_eq!(wrote.res(), 1);
    let mut buf = [0u8; 1];
    let read = std::fs::File::from(rx.try_clone().unwrap()).read(&mut buf);
    match read {
        Ok(n) => assert_eq!(n, 0, "the pipe got the byte"),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock, "{e}"),
    }
    assert_eq!(std::fs::read(&path).unwrap()[0], 0xfa, "the file got it");
}

// ---------------------------------------------------------------- statx.c

/// statx.c `test_statx` and `test_statx_fd`: a `STATX` of a path, and of a
/// descriptor with `AT_EMPTY_PATH`, asking for `STATX_ALL`, fills the same
/// bytes as the `statx(2)` system call.
#[test]
fn statx_matches_the_system_call_byte_for_byte() {
    use uring::Fd;
    use uring::ops::Statx;
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("statx-file");
    std::fs::write(&path, uring_tests::pattern(3000, 1)).unwrap();
    let cpath = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let bytes = |x: &libc::statx| -> Vec<u8> {
        // SAFETY: a `statx` is plain data; every byte was zeroed first.
        unsafe {
            std::slice::from_raw_parts(
                (x as *const libc::statx).cast::<u8>(),
                std::mem::size_of::<libc::statx>(),
            )
        }
        .to_vec()
    };
    let mut ring = Ring::new(8).unwrap();
    for by_fd in [false, true] {
        // SAFETY: all-zero bytes are a valid `statx`.
        let mut ours: libc::statx = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut theirs: libc::statx = unsafe { std::mem::zeroed() };
        let (dirfd, name, flags) = if by_fd {
            (file.as_raw_fd(), c"", libc::AT_EMPTY_PATH)
        } else {
            (libc::AT_FDCWD, cpath.as_c_str(), 0)
        };
        let op = if by_fd {
            Statx::new(&file, name, &mut ours)
        } else {
            Statx::new(Fd::CWD, name, &mut ours)
        };
        let c = uring_tests::complete(&mut ring, op.statx_flags(flags).mask(libc::STATX_ALL));
        assert_eq!(c.res(), 0, "by fd {by_fd}: {c:?}");
        // SAFETY: a valid path or descriptor and a `statx` to fill.
        let rc = unsafe { libc::statx(dirfd, name.as_ptr(), flags, libc::STATX_ALL, &mut theirs) };
        assert_eq!(rc, 0, "statx: {}", std::io::Error::last_os_error());
        assert_eq!(bytes(&ours), bytes(&theirs), "by fd {by_fd}");
    }
}

// ---------------------------------------------------------------- splice.c

/// splice.c `check_zero_splice`, `check_zero_tee`,
/// `fail_splice_pipe_offset` and `fail_tee_nonpipe`, with plain and
/// registered files: a splice or tee of 0 bytes completes with 0; a splice
/// with an offset on its pipe side fails with `ESPIPE` (or `EINVAL`); a
/// tee from a regular file fails with `EINVAL` (or `ESPIPE`).
#[test]
fn splice_and_tee_of_nothing_and_with_bad_sides() {
    use uring::ops::{Splice, Tee};
    let _watch = uring_tests::watchdog();
    let mut file_in = tempfile::tempfile().unwrap();
    file_in
        .write_all(&uring_tests::pattern(16 * 1024, 5))
        .unwrap();
    let file_out = tempfile::tempfile().unwrap();
    let (p1r, p1w) = pipe();
    let (p2r, p2w) = pipe();
    let mut ring = Ring::new(8).unwrap();
    let bad = |res: i32| [-libc::ESPIPE, -libc::EINVAL].contains(&res);
    for fixed in [false, true] {
        let files = ring
            .register_files(&[
                file_in.as_fd(),
                file_out.as_fd(),
                p1r.as_fd(),
                p1w.as_fd(),
                p2r.as_fd(),
                p2w.as_fd(),
            ])
            .unwrap();
        let f = |i: u32| files.get(i).unwrap();
        let results: Vec<(&str, i32)> = if fixed {
            vec![
                (
                    "zero file->pipe",
                    uring_tests::complete(&mut ring, Splice::new(f(3), f(0), 0)).res(),
                ),
                (
                    "zero pipe->pipe",
                    uring_tests::complete(&mut ring, Splice::new(f(3), f(4), 0)).res(),
                ),
                (
                    "zero tee",
                    uring_tests::complete(&mut ring, Tee::new(f(3), f(4), 0)).res(),
                ),
                (
                    "offset into a pipe",
                    uring_tests::complete(
                        &mut ring,
                        Splice::new(f(3), f(0), 4096).offset_in(0).offset_out(0),
                    )
                    .res(),
                ),
                (
                    "offset out of a pipe",
                    uring_tests::complete(
                        &mut ring,
                        Splice::new(f(1), f(2), 4096).offset_in(0).offset_out(0),
                    )
                    .res(),
                ),
                (
                    "tee from a file",
                    uring_tests::complete(&mut ring, Tee::new(f(3), f(0), 4096)).res(),
                ),
            ]
        } else {
            vec![
                (
                    "zero file->pipe",
                    uring_tests::complete(&mut ring, Splice::new(&p1w, &file_in, 0)).res(),
                ),
                (
                    "zero pipe->pipe",
                    uring_tests::complete(&mut ring, Splice::new(&p1w, &p2r, 0)).res(),
                ),
                (
                    "zero tee",
                    uring_tests::complete(&mut ring, Tee::new(&p1w, &p2r, 0)).res(),
                ),
                (
                    "offset into a pipe",
                    uring_tests::complete(
                        &mut ring,
                        Splice::new(&p1w, &file_in, 4096).offset_in(0).offset_out(0),
                    )
                    .res(),
                ),
                (
                    "offset out of a pipe",
                    uring_tests::complete(
                        &mut ring,
                        Splice::new(&file_out, &p1r, 4096)
                            .offset_in(0)
                            .offset_out(0),
                    )
                    .res(),
                ),
                (
                    "tee from a file",
                    uring_tests::complete(&mut ring, Tee::new(&p1w, &file_in, 4096)).res(),
                ),
            ]
        };
        for (what, res) in &results[..3] {
            assert_eq!(*res, 0, "fixed {fixed}: {what}");
        }
        for (what, res) in &results[3..] {
            assert!(bad(*res), "fixed {fixed}: {what}: {res}");
        }
        ring.unregister_files(files).unwrap();
    }
}

// ---------------------------------------------------------------- bind-listen.c

/// bind-listen.c `test_bad_bind` and `test_bad_listen`: `BIND` and
/// `LISTEN` on a descriptor that is not a socket fail with `ENOTSOCK`.
#[test]
fn bind_and_listen_on_a_non_socket_are_enotsock() {
    use uring::ops::{Bind, Listen};
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(1).unwrap();
    if !uring_tests::require_op::<Bind<'_>>(&ring) {
        return;
    }
    let (rx, _tx) = pipe();
    let addr = uring::SockAddr::from(std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
    let c = uring_tests::complete(&mut ring, Bind::new(&rx, &addr));
    assert_eq!(c.res(), -libc::ENOTSOCK, "bind: {c:?}");
    let c = uring_tests::complete(&mut ring, Listen::new(&rx, 1));
    assert_eq!(c.res(), -libc::ENOTSOCK, "listen: {c:?}");
}

// ---------------------------------------------------------------- epwait.c

/// epwait.c `test_not_ready` and `test_del`: an `EPOLL_WAIT` pushed while
/// no watched pipe is readable completes once one is, with at least one
/// event; one pushed after a pipe left the set by `EPOLL_CTL_DEL` reports
/// only the pipe still watched.
#[test]
fn epwait_waits_for_events_and_sees_only_watched_files() {
    use uring::ops::EpollWait;
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !uring_tests::require_op::<EpollWait<'_>>(&ring) {
        return;
    }
    let pipes = [pipe(), pipe()];
    let epoll = uring_tests::epoll_watching(pipes[0].0.as_fd(), 0);
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: 1,
    };
    // SAFETY: both descriptors are open, the event outlives the call.
    let rc = unsafe {
        libc::epoll_ctl(
            epoll.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            pipes[1].0.as_raw_fd(),
            &mut ev,
        )
    };
    assert_eq!(rc, 0);
    let drain = |i: usize| {
        let mut tmp = [0u8; 16];
        let _ = std::fs::File::from(pipes[i].0.try_clone().unwrap()).read(&mut tmp);
    };
    let mut out = [libc::epoll_event { events: 0, u64: 0 }; 2];
    let n = ring.scope(|s| {
        s.push(EpollWait::new(&epoll, &mut out[..]).user_data(1))
            .unwrap();
        s.submit().unwrap();
        std::thread::sleep(Duration::from_millis(10));
        assert_eq!(s.ready(), 0, "nothing is ready yet");
        for (_, tx) in &pipes {
            std::thread::sleep(Duration::from_millis(10));
            write_to(tx, b"foo");
        }
        s.wait_timeout(1, PATIENCE).unwrap();
        s.completions().next().unwrap().res()
    });
    assert!((1..=2).contains(&n), "{n}");
    for e in &out[..n as usize] {
        let data = e.u64;
        assert!(data <= 1, "{data}");
    }
    drain(0);
    drain(1);

    // Pipe 0 leaves the set; both get data; only pipe 1 is reported.
    // SAFETY: as above.
    let rc = unsafe {
        libc::epoll_ctl(
            epoll.as_raw_fd(),
            libc::EPOLL_CTL_DEL,
            pipes[0].0.as_raw_fd(),
            &mut ev,
        )
    };
    assert_eq!(rc, 0);
    let mut out = [libc::epoll_event { events: 0, u64: 0 }; 2];
    let c = ring.scope(|s| {
        s.push(EpollWait::new(&epoll, &mut out[..]).user_data(2))
            .unwrap();
        s.submit().unwrap();
        for (_, tx) in &pipes {
            write_to(tx, b"foo");
        }
        s.wait_timeout(1, PATIENCE).unwrap();
        let c = s.completions().next().unwrap();
        (c.user_data(), c.res())
    });
    assert_eq!(c, (2, 1));
    let data = out[0].u64;
    assert_eq!(data, 1, "the deleted pipe was reported");
}

// ---------------------------------------------------------------- file-register.c

/// file-register.c `test_fixed_read_write`: a 4 KiB fixed write of 0x5a
/// bytes at offset 0 of the registered file `slot`, then a fixed read
/// back: both move 4096 bytes and the bytes match.
fn fixed_read_write(ring: &mut Ring, slot: uring::Fixed<'_>) {
    let out = vec![0x5au8; 4096];
    let mut back = vec![0u8; 4096];
    let wiov = [IoSlice::new(&out)];
    let mut riov = [IoSliceMut::new(&mut back)];
    let got = ring.scope(|s| {
        s.push(
            WriteV::new(slot, &wiov[..])
                .user_data(1)
                .link(ReadV::new(slot, &mut riov[..]).user_data(2)),
        )
        .unwrap();
        s.submit_and_wait(2).unwrap();
        s.completions()
            .map(|c| (c.user_data(), c.res()))
            .collect::<Vec<_>>()
    });
    assert_eq!(got, [(1, 4096), (2, 4096)]);
    assert!(back == out, "data mismatch");
}

/// Raises the soft limit on open files to `want` (or the hard limit), as
/// file-register.c `adjust_nfiles` does: the kernel refuses a file table
/// larger than it.
fn adjust_nfiles(want: u64) {
    let mut rlim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `rlim` is a valid rlimit to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rlim) } != 0 || rlim.rlim_cur >= want {
        return;
    }
    rlim.rlim_cur = want.min(rlim.rlim_max);
    // SAFETY: a valid rlimit, raising the soft limit within the hard one.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rlim) };
}

/// file-register.c `test_huge`: a sparse table of 8192 slots, slot 7193
/// filled with a file: fixed I/O through that slot works.
#[test]
fn file_register_huge_sparse_table_works_at_a_far_slot() {
    let _watch = uring_tests::watchdog();
    adjust_nfiles(16384);
    let mut ring = Ring::new(8).unwrap();
    let mut table = match ring.register_files_sparse(8192) {
        Ok(t) => t,
        Err(e) if e.raw_os_error() == Some(libc::EMFILE) => {
            skip(format_args!("no file table of 8192 slots: {e}"));
            return;
        }
        Err(e) => panic!("register_files_sparse: {e}"),
    };
    let file = tempfile::tempfile().unwrap();
    assert_eq!(
        ring.update_files(&mut table, 7193, &[Some(file.as_fd())])
            .unwrap(),
        1
    );
    fixed_read_write(&mut ring, table.get(7193).unwrap());
    ring.unregister_files(table).unwrap();
}

/// file-register.c `test_skip`: updating slot 90 of 100 registered files
/// with `IORING_REGISTER_FILES_SKIP` counts the slot (1) and leaves its
/// file there: fixed I/O through it still works.
#[test]
fn file_register_skip_update_keeps_the_file() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let files: Vec<std::fs::File> = (0..100).map(|_| tempfile::tempfile().unwrap()).collect();
    let fds: Vec<BorrowedFd<'_>> = files.iter().map(|f| f.as_fd()).collect();
    let mut table = ring.register_files(&fds).unwrap();
    assert_eq!(
        ring.update_file_slots(&mut table, 90, &[SlotUpdate::Keep])
            .unwrap(),
        1
    );
    fixed_read_write(&mut ring, table.get(90).unwrap());
    ring.unregister_files(table).unwrap();
}

/// file-register.c `test_sparse_updates`: each of 256 empty slots takes a
/// file by an update of its own (1 each); then each of 256 filled slots is
/// emptied by an update of its own (1 each).
#[test]
fn file_register_sparse_slots_filled_and_emptied_one_by_one() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let file = tempfile::tempfile().unwrap();
    let mut table = ring.register_files_sparse(256).unwrap();
    for i in 0..256 {
        assert_eq!(
            ring.update_files(&mut table, i, &[Some(file.as_fd())])
                .unwrap(),
            1,
            "slot {i}"
        );
    }
    ring.unregister_files(table).unwrap();
    let fds: Vec<BorrowedFd<'_>> = (0..256).map(|_| file.as_fd()).collect();
    let mut table = ring.register_files(&fds).unwrap();
    for i in 0..256 {
        assert_eq!(
            ring.update_files(&mut table, i, &[None]).unwrap(),
            1,
            "slot {i}"
        );
    }
    ring.unregister_files(table).unwrap();
}

/// file-register.c `test_fixed_removal_ordering`: a write to a registered
/// pipe, hard-linked behind a timeout, and both of the pipe's slots
/// emptied while it waits: the updates succeed (1 each), and the timeout
/// and the write both complete (the write with its bytes, or `EBADF` when
/// its file is looked up only after the slot was emptied).
#[test]
fn file_register_slots_emptied_under_a_waiting_write() {
    use uring::ops::Write;
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (rx, tx) = pipe();
    let mut table = ring.register_files(&[rx.as_fd(), tx.as_fd()]).unwrap();
    let buffer = [0x11u8; 128];
    push_lent!(
        ring,
        Timeout::new(Duration::from_millis(300))
            .user_data(1)
            .hard_link(Write::new(table.get(1).unwrap(), &buffer).user_data(2)),
    )
    .unwrap();
    assert_eq!(ring.submit().unwrap(), 2);
    assert_eq!(ring.update_files(&mut table, 0, &[None]).unwrap(), 1);
    assert_eq!(ring.update_files(&mut table, 1, &[None]).unwrap(), 1);
    let got = reap_sorted(&mut ring, 2);
    assert_eq!(got[0], (1, -libc::ETIME), "{got:?}");
    assert_eq!(got[1].0, 2);
    assert!(
        [128, -libc::EBADF, -libc::EPIPE].contains(&got[1].1),
        "{got:?}"
    );
    drop(rx);
}

/// file-register.c `test_partial_register_fail`: a registration that fails
/// on a ring's descriptor among a pipe's two ends keeps no reference to
/// them: once the write end is closed, the read end sees the hang-up.
#[test]
fn file_register_failed_registration_keeps_no_reference() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (rx, tx) = pipe();
    let other = Ring::new(1).unwrap();
    // SAFETY: `other` stays open for the whole call.
    let other_fd = unsafe { BorrowedFd::borrow_raw(other.as_raw_fd()) };
    let refused = ring.register_files(&[rx.as_fd(), tx.as_fd(), other_fd]);
    assert!(refused.is_err(), "a ring's descriptor was registered");
    drop(tx);
    let mut p = libc::pollfd {
        fd: rx.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, 5000) };
    assert_eq!(n, 1, "no hang-up: the write end is still referenced");
    assert_ne!(p.revents & libc::POLLHUP, 0, "{:#x}", p.revents);
}

/// file-register.c `test_out_of_range_file_ranges` and
/// `test_zero_range_alloc`: on a table of 10 slots, an allocation range
/// that runs past the table (8 + 3, or 10 + 1) is `EINVAL`, one whose end
/// overflows is `EOVERFLOW`; with an empty range an allocation finds no
/// slot (`ENFILE`).
#[test]
fn file_register_alloc_ranges_out_of_the_table_are_refused() {
    use uring::ops::FilesUpdate;
    use uring::{FileUpdates, FilesAt};
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let table = ring.register_files_sparse(10).unwrap();
    let errno = |r: uring::Result<()>| r.err().and_then(|e| e.raw_os_error());
    match ring.set_file_alloc_range(&table, 8, 3) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
        Ok(()) => panic!("a range past the table was taken"),
        Err(e) => {
            skip(format_args!("no IORING_REGISTER_FILE_ALLOC_RANGE: {e}"));
            return;
        }
    }
    assert_eq!(
        errno(ring.set_file_alloc_range(&table, 10, 1)),
        Some(libc::EINVAL)
    );
    assert_eq!(
        errno(ring.set_file_alloc_range(&table, 7, !1u32)),
        Some(libc::EOVERFLOW)
    );
    ring.set_file_alloc_range(&table, 7, 0).unwrap();
    let file = tempfile::tempfile().unwrap();
    let mut fds = FileUpdates::new(&[Some(file.as_fd())]);
    let c = uring_tests::complete(&mut ring, FilesUpdate::new(&mut fds, FilesAt::ALLOC));
    assert_eq!(c.res(), -libc::ENFILE, "{c:?}");
    ring.unregister_files(table).unwrap();
}

// ---------------------------------------------------------------- register-restrictions.c

/// register-restrictions.c `test_restrictions_flags`: with only `WRITEV`
/// allowed, `ASYNC` and `IO_LINK` allowed and `FIXED_FILE` required, fixed
/// writes (plain, `ASYNC`, linked) run, while a drained fixed write and
/// any write to a plain descriptor are refused (`EACCES`).
#[test]
fn register_restrictions_allow_and_require_sqe_flags() {
    use uring::Restriction;
    let _watch = uring_tests::watchdog();
    let (rx, tx) = pipe();
    let mut ring = Ring::builder().r_disabled().build(8).unwrap();
    let rules = [
        Restriction::op::<WriteV<'_, '_>>(),
        Restriction::sqe_flags_allowed(sys::IOSQE_ASYNC | sys::IOSQE_IO_LINK),
        Restriction::sqe_flags_required(sys::IOSQE_FIXED_FILE),
    ];
    if let Err(e) = ring.register_restrictions(&rules) {
        skip(format_args!("no SQE flag restrictions: {e}"));
        return;
    }
    let table = ring.register_files(&[rx.as_fd(), tx.as_fd()]).unwrap();
    ring.enable().unwrap();
    let word = 0x1234_5678_9abc_def0u64.to_ne_bytes();
    let iov = [IoSlice::new(&word)];
    let fixed = table.get(1).unwrap();
    push_lent!(ring, WriteV::new(fixed, &iov[..]).user_data(1)).unwrap();
    push_lent!(
        ring,
        WriteV::new(fixed, &iov[..])
            .flags(SqeFlags::ASYNC)
            .user_data(2)
    )
    .unwrap();
    push_lent!(
        ring,
        WriteV::new(fixed, &iov[..])
            .user_data(3)
            .link(WriteV::new(fixed, &iov[..]).user_data(8)),
    )
    .unwrap();
    push_lent!(
        ring,
        WriteV::new(fixed, &iov[..])
            .flags(SqeFlags::IO_DRAIN)
            .user_data(4),
    )
    .unwrap();
    push_lent!(
        ring,
        WriteV::new(&tx, &iov[..])
            .flags(SqeFlags::IO_DRAIN)
            .user_data(5),
    )
    .unwrap();
    push_lent!(
        ring,
        WriteV::new(&tx, &iov[..])
            .flags(SqeFlags::ASYNC)
            .user_data(6),
    )
    .unwrap();
    push_lent!(ring, WriteV::new(&tx, &iov[..]).user_data(7)).unwrap();
    let got = reap_sorted(&mut ring, 8);
    let eacces = -libc::EACCES;
    assert_eq!(
        got,
        [
            (1, 8),
            (2, 8),
            (3, 8),
            (4, eacces),
            (5, eacces),
            (6, eacces),
            (7, eacces),
            (8, 8)
        ]
    );
}

/// register-restrictions.c `test_restrictions_empty`: an empty list of
/// restrictions allows nothing: registering buffers or files and a write
/// are all refused with `EACCES`.
#[test]
fn register_restrictions_empty_allow_nothing() {
    let _watch = uring_tests::watchdog();
    let (rx, tx) = pipe();
    let mut ring = Ring::builder().r_disabled().build(8).unwrap();
    if let Err(e) = ring.register_restrictions(&[]) {
        skip(format_args!("an empty restriction list is refused: {e}"));
        return;
    }
    ring.enable().unwrap();
    let mut word = [0u8; 8];
    // SAFETY: refused by the kernel (asserted), so it keeps nothing.
    let buffers = unsafe { ring.register_buffers(&[IoSliceMut::new(&mut word)]) };
    assert_eq!(
        buffers.err().and_then(|e| e.raw_os_error()),
        Some(libc::EACCES)
    );
    let files = ring.register_files(&[rx.as_fd(), tx.as_fd()]);
    assert_eq!(
        files.err().and_then(|e| e.raw_os_error()),
        Some(libc::EACCES)
    );
    let iov = [IoSlice::new(&word)];
    push_lent!(ring, WriteV::new(&tx, &iov[..]).user_data(1)).unwrap();
    assert_eq!(pairs(&submit_and_reap(&mut ring, 1)), [(1, -libc::EACCES)]);
}

// ---------------------------------------------------------------- timens-abs-timer.c

/// The variable that tells the copy of this test binary started inside a
/// time namespace to run the checks there; it holds the host's
/// `CLOCK_MONOTONIC` nanoseconds just before the start.
const TIMENS_CHILD: &str = "URING_TEST_TIMENS_CHILD";

/// `CLOCK_MONOTONIC` now, in nanoseconds.
fn monotonic_ns() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to fill.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0);
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

/// Whether a timer that should have run for about a second ran for at
/// least 0.9 s: `Some(true)`; `None` (with a skip message) when it ended
/// at once, under 100 ms, the sign of a kernel that takes absolute times
/// as the host's clock (timens-abs-timer.c's `BUG_OBSERVED_NS`).
fn timens_ran_a_second(what: &str, took: Duration) -> Option<bool> {
    if took < Duration::from_millis(100) {
        skip(format_args!(
            "{what} ended after {took:?}: this kernel does not convert absolute times \
             from the submitter's time namespace (timens_ktime_to_host)"
        ));
        None
    } else {
        Some(took >= Duration::from_millis(900))
    }
}

/// The checks of timens-abs-timer.c, run inside a time namespace whose
/// monotonic and boot-time clocks are 10 s behind the host's.
fn timens_checks(host_ns: u128) {
    use uring::{Clock, Timespec, WaitArgs};
    assert!(
        monotonic_ns() < host_ns,
        "the namespace's clock is not behind the host's: no offset"
    );
    let second = Duration::from_secs(1);
    // An absolute timeout op, a second ahead on the namespace's clock.
    let mut ring = Ring::new(1).unwrap();
    let start = Instant::now();
    ring.push(
        Timeout::new(Timespec::monotonic_at(start + second))
            .timeout_flags(TimeoutFlags::ABS)
            .user_data(1),
    )
    .unwrap();
    let got = pairs(&submit_and_reap(&mut ring, 1));
    let took = start.elapsed();
    assert_eq!(got, [(1, -libc::ETIME)]);
    if let Some(ok) = timens_ran_a_second("an IORING_TIMEOUT_ABS timeout", took) {
        assert!(ok, "IORING_TIMEOUT_ABS fired after {took:?}, not about 1 s");
    }
    // A wait to a deadline, on the monotonic and on the boot-time clock.
    for boottime in [false, true] {
        let mut ring = Ring::new(1).unwrap();
        if !require_features(&ring, Features::EXT_ARG, "a wait with a deadline") {
            return;
        }
        if boottime && ring.register_clock(Clock::Boottime).is_err() {
            skip("no IORING_REGISTER_CLOCK (6.12)");
            continue;
        }
        let start = Instant::now();
        let waited = ring.wait_with(1, &WaitArgs::new().deadline(start + second));
        let took = start.elapsed();
        assert!(matches!(waited, Err(Error::TimedOut)), "{waited:?}");
        // uring passes the time left where the namespace has an offset, so
        // the wait holds whether or not the kernel converts absolute times.
        assert!(
            took >= Duration::from_millis(900),
            "a wait to a deadline (boottime {boottime}) ended after {took:?}, not about 1 s"
        );
    }
}

/// timens-abs-timer.c: inside a time namespace whose clocks run 10 s
/// behind the host's, an absolute timeout op a second ahead and a wait to
/// a deadline a second ahead (`WaitArgs::deadline`, on the monotonic or,
/// registered, the boot-time clock) each end after about a second, not at
/// once. A kernel that takes an absolute op's time as the host's (without
/// the conversion the C test checks for) skips the op's check; the waits
/// must hold on any kernel (uring passes them the time left when the
/// namespace has an offset). The checks run in a copy of this test binary
/// started in a new time namespace.
#[test]
fn timens_abs_timer_deadlines_hold_inside_a_time_namespace() {
    use std::os::unix::process::CommandExt;
    let _watch = uring_tests::watchdog();
    if let Ok(host) = std::env::var(TIMENS_CHILD) {
        timens_checks(host.parse().unwrap());
        return;
    }
    let name = "timens_abs_timer_deadlines_hold_inside_a_time_namespace";
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(TIMENS_CHILD, monotonic_ns().to_string());
    // SAFETY: the closure runs between fork and exec, which is what
    // `time_namespace_10s_behind` asks for; it allocates nothing.
    unsafe {
        cmd.pre_exec(|| uring_tests::time_namespace_10s_behind());
    }
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) => {
            skip(format_args!(
                "cannot start a process in a new time namespace: {e}"
            ));
            return;
        }
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "inside the time namespace:\n{text}");
    assert!(text.contains("1 passed"), "the checks did not run:\n{text}");
    for line in text.lines() {
        if let Some(at) = line.find("skipped:") {
            eprintln!("{}", &line[at..]);
        }
    }
}

// ---------------------------------------------------------------- the same, in scopes

/// A ring that only scopes use (which tags few ops), or one that had an op
/// pushed outside a scope (whose scopes tag every op).
fn scope_ring(tagging: bool) -> Ring {
    let mut ring = Ring::new(8).unwrap();
    if tagging {
        ring.push(Nop::new().user_data(99)).unwrap();
        assert_eq!(pairs(&submit_and_reap(&mut ring, 1)), [(99, 0)]);
    }
    ring
}

/// Submits what the scope has queued, waits until `n` of its completions
/// have arrived, and returns them as `(user_data, res, more)`, in CQ order.
fn scope_reap(s: &mut uring::Scope<'_, '_>, n: usize) -> Vec<(u64, i32, bool)> {
    s.submit().unwrap();
    let mut got = Vec::new();
    while got.len() < n {
        s.wait_timeout(1, PATIENCE)
            .unwrap_or_else(|e| panic!("{e} after {got:?}"));
        got.extend(
            s.completions()
                .map(|c| (c.user_data(), c.res(), c.has_more())),
        );
    }
    got
}

/// link-timeout.c `test_link_timeout_update` inside a scope, on a ring
/// that tags every scope op and on one that does not: the update names the
/// link timeout by the `user_data` the caller gave it, completes with 0,
/// and the read is cancelled well before the first 5 s.
#[test]
fn link_timeout_update_in_a_scope_finds_the_scopes_link_timeout() {
    let _watch = uring_tests::watchdog();
    for tagging in [false, true] {
        let mut ring = scope_ring(tagging);
        let (rx, _tx) = pipe();
        let mut buffer = [0u8; 128];
        let start = Instant::now();
        let mut got = ring.scope(|s| {
            assert_eq!(s.tags_every_op(), tagging);
            s.push(
                Read::new(&rx, &mut buffer[..])
                    .user_data(1)
                    .link_timeout(LinkTimeout::new(Duration::from_secs(5)).user_data(2)),
            )
            .unwrap();
            s.submit().unwrap();
            s.push(LinkTimeoutUpdate::new(2, Duration::from_millis(100)).user_data(3))
                .unwrap();
            scope_reap(s, 3)
        });
        let took = start.elapsed();
        got.sort_unstable();
        assert_eq!(got[2], (3, 0, false), "tagging {tagging}: {got:?}");
        assert!(
            [-libc::EINTR, -libc::ECANCELED].contains(&got[0].1),
            "tagging {tagging}: {got:?}"
        );
        assert!(
            [-libc::EALREADY, -libc::ETIME].contains(&got[1].1),
            "tagging {tagging}: {got:?}"
        );
        assert!(
            took < Duration::from_secs(4),
            "tagging {tagging}: not updated: {took:?}"
        );
    }
}

/// timeout.c `test_update_timeout` and `test_timeout_multishot` inside a
/// scope, tagging or not: an update and a removal name the scope's
/// timeouts by the caller's `user_data`; the updated timeout expires well
/// before its 10 s, the multishot one fires with `F_MORE` until the
/// removal (0) ends it with `ECANCELED`.
#[test]
fn timeout_update_and_remove_in_a_scope_find_the_scopes_timeouts() {
    let _watch = uring_tests::watchdog();
    for tagging in [false, true] {
        let mut ring = scope_ring(tagging);
        let start = Instant::now();
        ring.scope(|s| {
            s.push(Timeout::new(Duration::from_secs(10)).user_data(1))
                .unwrap();
            s.push(TimeoutUpdate::new(1, Duration::from_millis(10)).user_data(2))
                .unwrap();
            let mut got = scope_reap(s, 2);
            got.sort_unstable();
            assert_eq!(
                got,
                [(1, -libc::ETIME, false), (2, 0, false)],
                "tagging {tagging}"
            );
            assert!(start.elapsed() < Duration::from_secs(5), "not updated");

            s.push(
                Timeout::new(Duration::from_millis(20))
                    .timeout_flags(TimeoutFlags::MULTISHOT)
                    .user_data(5),
            )
            .unwrap();
            let shots = scope_reap(s, 2);
            assert!(
                shots.iter().all(|&c| c == (5, -libc::ETIME, true)),
                "tagging {tagging}: {shots:?}"
            );
            s.push(TimeoutRemove::new(5).user_data(6)).unwrap();
            let mut rest = Vec::new();
            while !rest.contains(&(5, -libc::ECANCELED, false)) || !rest.contains(&(6, 0, false)) {
                rest.extend(scope_reap(s, 1));
            }
            for c in &rest {
                assert!(
                    [
                        (5, -libc::ETIME, true),
                        (5, -libc::ECANCELED, false),
                        (6, 0, false)
                    ]
                    .contains(c),
                    "tagging {tagging}: {rest:?}"
                );
            }
            assert_eq!(s.in_flight(), 0, "tagging {tagging}");
        });
    }
}

/// multicqes_drain.c `test_simple_drain` inside a scope, tagging or not:
/// the multishot poll's events, the oneshot poll, the removal naming the
/// multishot poll by its `user_data`, and the drained NOP last.
#[test]
fn multicqes_drain_in_a_scope_removes_the_scopes_multishot_poll() {
    let _watch = uring_tests::watchdog();
    for tagging in [false, true] {
        let mut ring = scope_ring(tagging);
        let (rx1, tx1) = pipe();
        let (rx2, tx2) = pipe();
        let got = ring.scope(|s| {
            s.push(
                PollAdd::new(&rx1, PollEvents::IN)
                    .poll_flags(uring::PollFlags::MULTI)
                    .user_data(0),
            )
            .unwrap();
            s.push(PollAdd::new(&rx2, PollEvents::IN).user_data(1))
                .unwrap();
            s.submit().unwrap();
            let mut got = Vec::new();
            for (rx, tx) in [(&rx1, &tx1), (&rx1, &tx1), (&rx2, &tx2)] {
                write_to(tx, b"foo");
                got.extend(scope_reap(s, 1));
                let mut back = [0u8; 3];
                std::fs::File::from(rx.try_clone().unwrap())
                    .read_exact(&mut back)
                    .unwrap();
            }
            s.push(PollRemove::new(0).user_data(2)).unwrap();
            s.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(3))
                .unwrap();
            got.extend(scope_reap(s, 3));
            got
        });
        let pollin = libc::POLLIN as i32;
        assert_eq!(
            got[..3],
            [(0, pollin, true), (0, pollin, true), (1, pollin, false)],
            "tagging {tagging}"
        );
        let mut mid = got[3..5].to_vec();
        mid.sort_unstable();
        assert_eq!(
            mid,
            [(0, -libc::ECANCELED, false), (2, 0, false)],
            "tagging {tagging}"
        );
        assert_eq!(got[5], (3, 0, false), "tagging {tagging}: {got:?}");
    }
}

/// link-timeout.c `test_timeout_link_chain2` to `4` inside scopes, tagging
/// or not: the chains of polls, link timeouts and NOPs end as they do
/// outside (a fired timeout `ETIME`, what it bounds and what follows
/// `ECANCELED`, a NOP before it 0), each op once.
#[test]
fn link_timeout_chains_in_a_scope_end_as_they_do_outside() {
    let _watch = uring_tests::watchdog();
    let ms = Duration::from_millis(1);
    let (ecanceled, etime) = (-libc::ECANCELED, -libc::ETIME);
    for tagging in [false, true] {
        let mut ring = scope_ring(tagging);
        let (rx, _tx) = pipe();
        let (two, three, four) = ring.scope(|s| {
            s.push(
                PollAdd::new(&rx, PollEvents::IN)
                    .user_data(1)
                    .link_timeout(LinkTimeout::new(ms).user_data(2))
                    .link(Nop::new().user_data(3))
                    .link(Nop::new().user_data(4)),
            )
            .unwrap();
            let mut two = scope_reap(s, 4);
            two.sort_unstable();
            s.push(
                PollAdd::new(&rx, PollEvents::IN)
                    .user_data(11)
                    .link_timeout(LinkTimeout::new(ms).user_data(12))
                    .link(Nop::new().user_data(13))
                    .link(PollAdd::new(&rx, PollEvents::IN).user_data(14))
                    .link_timeout(LinkTimeout::new(ms).user_data(15)),
            )
            .unwrap();
            s.push(Nop::new().user_data(16)).unwrap();
            let mut three = scope_reap(s, 6);
            three.sort_unstable();
            s.push(
                Nop::new()
                    .user_data(21)
                    .link(PollAdd::new(&rx, PollEvents::IN).user_data(22))
                    .link_timeout(LinkTimeout::new(ms).user_data(23)),
            )
            .unwrap();
            let mut four = scope_reap(s, 3);
            four.sort_unstable();
            assert_eq!(s.in_flight(), 0);
            (two, three, four)
        });
        let plain = |v: Vec<(u64, i32, bool)>| -> Vec<(u64, i32)> {
            v.into_iter().map(|(u, r, _)| (u, r)).collect()
        };
        assert_eq!(
            plain(two),
            [(1, ecanceled), (2, etime), (3, ecanceled), (4, ecanceled)],
            "tagging {tagging}"
        );
        assert_eq!(
            plain(three),
            [
                (11, ecanceled),
                (12, etime),
                (13, ecanceled),
                (14, ecanceled),
                (15, ecanceled),
                (16, 0)
            ],
            "tagging {tagging}"
        );
        assert_eq!(
            plain(four),
            [(21, 0), (22, ecanceled), (23, etime)],
            "tagging {tagging}"
        );
    }
}
