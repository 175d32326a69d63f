//! Cancellation where the other suites (`attacks_cancel_keys.rs`,
//! `cancel_keys.rs`, `scope_cancel_sync.rs`) stop: the count a `Cancel`
//! SQE flagged `ALL`/`ANY` completes with, against what really ended, over
//! polls, timeouts and requests in io-wq workers; cancels of a chain's head
//! and of a member not yet started; a cancel aimed at a link timeout, at a
//! cancel request, at itself; a multishot poll cancelled (one last
//! completion); `cancel_sync` with zero, tiny and huge timeouts and on
//! nothing at all.
//!
//! Read against Linux 6.18: `io_uring/cancel.c` (`__io_async_cancel`, which
//! counts one per successful `io_try_cancel` call, `io_cancel_req_match`,
//! `io_cancel_match_sequence`, `io_sync_cancel`), `io_uring/io-wq.c`
//! (`io_wq_cancel_cb`, which with `cancel_all` cancels every pending match
//! and signals every running one in one call and answers once),
//! `io_uring/poll.c` (`io_poll_cancel`), `io_uring/timeout.c`
//! (`io_timeout_cancel`: only `ctx->timeout_list`, never the link timeouts
//! of `ltimeout_list`).
//!
//! Every test is safe code against the running kernel and checks what the
//! kernel did: which completions came, once each, with which results.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use uring::ops::{Cancel, LinkTimeout, Nop, PollAdd, Read, Splice, Timeout};
use uring::{CancelFlags, Features, PollEvents, PollFlags, Ring, Scope, SqeFlags, SyncCancel};
use uring_tests::{PATIENCE, watchdog};

/// A time no test waits for.
const FAR: Duration = Duration::from_secs(600);

/// How long a check for completions that must not come waits.
const QUIET: Duration = Duration::from_millis(30);

/// A completion as the scope hands it out: `(user_data, res, flags)`.
type Seen = (u64, i32, u32);

/// A clean ring whose scopes leave untagged ops their own `user_data`
/// (6.3); `None`, skipped, elsewhere.
fn fast_ring(entries: u32) -> Option<Ring> {
    let ring = Ring::new(entries).unwrap();
    if ring.params().has(Features::REG_REG_RING) {
        Some(ring)
    } else {
        uring_tests::skip("a fast scope needs IORING_FEAT_REG_REG_RING (6.3)");
        None
    }
}

/// Waits until `n` last completions (not flagged `IORING_CQE_F_MORE`) have
/// come, [`PATIENCE`] at most for each wait; returns every completion read.
fn reap_last(s: &mut Scope<'_, '_>, n: usize) -> Vec<Seen> {
    s.submit().unwrap();
    let mut seen: Vec<Seen> = Vec::new();
    let lasts = |seen: &[Seen]| {
        seen.iter()
            .filter(|c| c.2 & uring::sys::IORING_CQE_F_MORE == 0)
            .count()
    };
    while lasts(&seen) < n {
        s.wait_timeout(1, PATIENCE)
            .unwrap_or_else(|e| panic!("{e} after {seen:?}"));
        for cqe in s.completions() {
            seen.push((cqe.user_data(), cqe.res(), cqe.flags()));
        }
    }
    seen
}

/// What comes within [`QUIET`].
fn strays(s: &mut Scope<'_, '_>) -> Vec<Seen> {
    s.submit().unwrap();
    let _ = s.wait_timeout(1, QUIET);
    s.completions()
        .map(|c| (c.user_data(), c.res(), c.flags()))
        .collect()
}

/// The result of each `user_data`'s last completion, asserting it came once.
fn lasts(seen: &[Seen]) -> BTreeMap<u64, i32> {
    let mut out = BTreeMap::new();
    for &(user_data, res, flags) in seen {
        if flags & uring::sys::IORING_CQE_F_MORE != 0 {
            continue;
        }
        assert!(
            out.insert(user_data, res).is_none(),
            "{user_data} ended twice: {seen:?}"
        );
    }
    out
}

/// The kernel's own "restart the call" errno, which an interrupted io-wq
/// splice completes with.
const ERESTARTSYS: i32 = 512;

/// Polls on `n` empty pipes, cancelled by one `Cancel` flagged `ALL | ANY`:
/// it completes with their number, and each poll with `-ECANCELED`, once.
#[test]
fn an_any_cancel_counts_each_poll_it_ended() {
    let _watch = watchdog();
    let Some(mut ring) = fast_ring(16) else {
        return;
    };
    let pipes: Vec<(OwnedFd, OwnedFd)> = (0..5).map(|_| uring_tests::pipe()).collect();
    ring.scope(|s| {
        for (i, (r, _)) in pipes.iter().enumerate() {
            s.push(PollAdd::new(r, PollEvents::IN).user_data(i as u64 + 1))
                .unwrap();
        }
        s.submit().unwrap();
        s.push(
            Cancel::new(0)
                .cancel_flags(CancelFlags::ANY | CancelFlags::ALL)
                .user_data(100),
        )
        .unwrap();
        let seen = reap_last(s, 6);
        let ended = lasts(&seen);
        assert_eq!(ended.get(&100), Some(&5), "{seen:?}");
        for i in 1..=5 {
            assert_eq!(ended.get(&i), Some(&-libc::ECANCELED), "{seen:?}");
        }
        assert!(strays(s).is_empty());
    });
}

/// Splices from empty pipes, each blocked in an io-wq worker of its own,
/// cancelled by one `Cancel` flagged `ALL | ANY`. Linux 6.18 signals every
/// running worker in one `io_wq_cancel_cb` call and counts that call once
/// (`__io_async_cancel`), and `io_try_cancel` lets the `-EALREADY` of
/// running work fall through to the poll and timeout lookups, whose
/// `-ENOENT` ends the count: it is 0 for three requests ended (`Cancel`'s
/// documentation once read 0 as "none matched"; it now says the count
/// leaves such requests out). Each request ends once, and the count is at
/// most the number ended.
#[test]
fn an_any_cancel_of_io_wq_requests_ends_each_once_and_counts_no_more() {
    let _watch = watchdog();
    let Some(mut ring) = fast_ring(16) else {
        return;
    };
    let pipes: Vec<_> = (0..3)
        .map(|_| (uring_tests::pipe(), uring_tests::pipe()))
        .collect();
    ring.scope(|s| {
        for (i, ((empty, _empty_w), (_sink_r, sink))) in pipes.iter().enumerate() {
            s.push(Splice::new(sink, empty, 16).user_data(i as u64 + 1))
                .unwrap();
        }
        s.submit().unwrap();
        uring_tests::wait_for_a_worker_blocked_on_a_pipe();
        // The other two workers: a bounded wait for them to block too.
        std::thread::sleep(Duration::from_millis(50));
        s.push(
            Cancel::new(0)
                .cancel_flags(CancelFlags::ANY | CancelFlags::ALL)
                .user_data(100),
        )
        .unwrap();
        let seen = reap_last(s, 4);
        let ended = lasts(&seen);
        for i in 1..=3 {
            let res = ended[&i];
            assert!(
                [-libc::ECANCELED, -libc::EINTR, -ERESTARTSYS].contains(&res),
                "{seen:?}"
            );
        }
        assert!(
            matches!(ended.get(&100), Some(0..=3)),
            "a count of at most the three requests ended: {seen:?}"
        );
    });
}

/// A chain `read → nop → nop` held by its head on an empty pipe. A cancel
/// of the middle member finds nothing (`-ENOENT`: a link not yet started is
/// in no list the kernel searches), and the chain stays whole; a cancel of
/// the head ends it (0), and each link fails `-ECANCELED`, once.
#[test]
fn a_chain_s_middle_cannot_be_cancelled_its_head_takes_the_links_along() {
    let _watch = watchdog();
    let Some(mut ring) = fast_ring(16) else {
        return;
    };
    let (r, w) = uring_tests::pipe();
    let mut buf = [0xC5u8; 8];
    ring.scope(|s| {
        s.push(
            Read::new(&r, &mut buf[..])
                .user_data(1)
                .link(Nop::new().user_data(2))
                .link(Nop::new().user_data(3)),
        )
        .unwrap();
        s.submit().unwrap();
        s.push(Cancel::new(2).user_data(20)).unwrap();
        let seen = reap_last(s, 1);
        assert_eq!(seen, [(20, -libc::ENOENT, 0)]);
        // By the synchronous call too: nothing matches.
        let r2 = s.cancel_sync(SyncCancel::user_data(3), Some(Duration::ZERO));
        assert!(
            matches!(&r2, Err(e) if e.raw_os_error() == Some(libc::ENOENT)),
            "{r2:?}"
        );
        assert!(strays(s).is_empty());
        s.push(Cancel::new(1).user_data(10)).unwrap();
        let seen = reap_last(s, 4);
        let ended = lasts(&seen);
        assert_eq!(ended.len(), 4, "{seen:?}");
        assert_eq!(ended[&10], 0, "{seen:?}");
        assert_eq!(ended[&1], -libc::ECANCELED, "{seen:?}");
        assert_eq!(ended[&2], -libc::ECANCELED, "{seen:?}");
        assert_eq!(ended[&3], -libc::ECANCELED, "{seen:?}");
        assert!(strays(s).is_empty());
    });
    // The read is gone: bytes written now stay in the pipe, and the
    // buffer keeps its canary.
    make_readable(&w);
    std::thread::sleep(QUIET);
    assert_eq!(buf, [0xC5; 8]);
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one `int` through the pointer, which points
    // to `n`; the descriptor is open (borrowed).
    let rc = unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&r), libc::FIONREAD, &mut n) };
    assert_eq!(rc, 0);
    assert_eq!(
        n, 1,
        "the byte written after the scope is still in the pipe"
    );
}

/// A link timeout is not in the list a cancel by `user_data` searches
/// (`io_timeout_cancel` walks `timeout_list` alone): the cancel finds
/// nothing, the link timeout stays armed, and the read it guards ends by
/// its own cancel with the link timeout after it, once each.
#[test]
fn a_link_timeout_is_not_found_by_a_cancel_of_its_user_data() {
    let _watch = watchdog();
    let Some(mut ring) = fast_ring(16) else {
        return;
    };
    let (r, _w) = uring_tests::pipe();
    let mut buf = [0u8; 8];
    ring.scope(|s| {
        s.push(
            Read::new(&r, &mut buf[..])
                .user_data(1)
                .link_timeout(LinkTimeout::new(FAR).user_data(2)),
        )
        .unwrap();
        s.submit().unwrap();
        s.push(Cancel::new(2).user_data(20)).unwrap();
        let seen = reap_last(s, 1);
        assert_eq!(seen, [(20, -libc::ENOENT, 0)]);
        assert!(strays(s).is_empty());
        s.push(Cancel::new(1).user_data(10)).unwrap();
        let seen = reap_last(s, 3);
        let ended = lasts(&seen);
        assert_eq!(ended.len(), 3, "{seen:?}");
        assert_eq!(ended[&10], 0);
        assert_eq!(ended[&1], -libc::ECANCELED);
        assert_eq!(ended[&2], -libc::ECANCELED);
    });
}

/// A cancel aimed at a cancel request that already completed, and one aimed
/// at its own `user_data`: a cancel request is never in flight where a
/// cancel looks, so both find nothing.
#[test]
fn a_cancel_of_a_cancel_and_of_itself_finds_nothing() {
    let _watch = watchdog();
    let Some(mut ring) = fast_ring(16) else {
        return;
    };
    let (r, _w) = uring_tests::pipe();
    ring.scope(|s| {
        s.push(PollAdd::new(&r, PollEvents::IN).user_data(1))
            .unwrap();
        s.push(Cancel::new(5).user_data(5)).unwrap();
        s.push(Cancel::new(1).user_data(6)).unwrap();
        s.push(Cancel::new(6).user_data(7)).unwrap();
        let seen = reap_last(s, 4);
        let ended = lasts(&seen);
        assert_eq!(ended.len(), 4, "{seen:?}");
        assert_eq!(ended[&5], -libc::ENOENT, "{seen:?}");
        assert_eq!(ended[&6], 0, "{seen:?}");
        assert_eq!(ended[&7], -libc::ENOENT, "{seen:?}");
        assert_eq!(ended[&1], -libc::ECANCELED, "{seen:?}");
    });
}

/// A timeout and a multishot poll that fired already, each cancelled by
/// `user_data`: the cancel completes 0, the timeout `-ECANCELED`, the poll
/// one last completion without `IORING_CQE_F_MORE`, and nothing after.
#[test]
fn a_timeout_and_a_firing_multishot_poll_cancelled() {
    let _watch = watchdog();
    let Some(mut ring) = fast_ring(16) else {
        return;
    };
    let (r, w) = uring_tests::pipe();
    let (r2, _w2) = uring_tests::pipe();
    ring.scope(|s| {
        s.push(Timeout::new(FAR).user_data(1)).unwrap();
        s.push(
            PollAdd::new(&r2, PollEvents::IN)
                .poll_flags(PollFlags::MULTI)
                .user_data(2),
        )
        .unwrap();
        s.submit().unwrap();
        // The poll of `r` fires while the pipe is readable: once at least.
        s.push(
            PollAdd::new(&r, PollEvents::IN)
                .poll_flags(PollFlags::MULTI)
                .user_data(3),
        )
        .unwrap();
        s.submit().unwrap();
        make_readable(&w);
        s.wait_timeout(1, PATIENCE).unwrap();
        let mut seen: Vec<Seen> = s
            .completions()
            .map(|c| (c.user_data(), c.res(), c.flags()))
            .collect();
        assert!(seen.iter().all(|c| c.0 == 3), "{seen:?}");
        s.push(Cancel::new(1).user_data(11)).unwrap();
        s.push(Cancel::new(2).user_data(12)).unwrap();
        s.push(Cancel::new(3).user_data(13)).unwrap();
        seen.extend(reap_last(s, 6));
        let ended = lasts(&seen);
        assert_eq!(ended.len(), 6, "{seen:?}");
        for c in [11, 12, 13] {
            assert_eq!(ended[&c], 0, "{seen:?}");
        }
        assert_eq!(ended[&1], -libc::ECANCELED, "{seen:?}");
        assert_eq!(ended[&2], -libc::ECANCELED, "{seen:?}");
        assert_eq!(ended[&3], -libc::ECANCELED, "{seen:?}");
        assert!(strays(s).is_empty());
    });
}

/// Makes the pipe readable.
fn make_readable(w: &OwnedFd) {
    use std::io::Write as _;
    std::fs::File::from(w.try_clone().unwrap())
        .write_all(b"x")
        .unwrap();
}

/// `Ring::cancel_sync` on a ring with nothing in flight, by each key, with
/// no, zero, tiny and huge timeouts: `ENOENT` for one request, `Ok` for
/// `all` and `any`; never a panic, a hang or a wait.
#[test]
fn cancel_sync_on_nothing_with_every_timeout() {
    let _watch = watchdog();
    if !uring_tests::require_kernel(6, 0, "IORING_REGISTER_SYNC_CANCEL") {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let (r, _w) = uring_tests::pipe();
    let timeouts = [
        None,
        Some(Duration::ZERO),
        Some(Duration::from_nanos(1)),
        Some(Duration::from_secs(u64::MAX)),
        Some(Duration::MAX),
    ];
    for t in timeouts {
        let started = Instant::now();
        for (key, one) in [
            (SyncCancel::user_data(1), true),
            (SyncCancel::user_data(u64::MAX), true),
            (SyncCancel::fd(&r), true),
            (SyncCancel::user_data(1).all(), false),
            (SyncCancel::fd(&r).all(), false),
            (SyncCancel::any(), false),
            (SyncCancel::any().all(), false),
        ] {
            let got = ring.cancel_sync(key, t);
            if one {
                assert!(
                    matches!(&got, Err(e) if e.raw_os_error() == Some(libc::ENOENT)),
                    "{key:?} {t:?}: {got:?}"
                );
            } else {
                assert!(got.is_ok(), "{key:?} {t:?}: {got:?}");
            }
        }
        assert!(started.elapsed() < Duration::from_secs(2), "{t:?}");
    }
    assert!(uring_tests::stray(&mut ring).is_empty());
}

/// `cancel_sync` with a huge timeout (`Duration::MAX`) over a poll, and
/// with `all` and a zero timeout over eight polls called until it is `Ok`:
/// each call returns at once, each poll ends `-ECANCELED` once.
#[test]
fn cancel_sync_with_huge_and_repeated_zero_timeouts_ends_each_poll_once() {
    let _watch = watchdog();
    if !uring_tests::require_kernel(6, 0, "IORING_REGISTER_SYNC_CANCEL") {
        return;
    }
    let Some(mut ring) = fast_ring(16) else {
        return;
    };
    let (r, _w) = uring_tests::pipe();
    ring.scope(|s| {
        for i in 0..8 {
            s.push(PollAdd::new(&r, PollEvents::IN).user_data(i))
                .unwrap();
        }
        s.push(PollAdd::new(&r, PollEvents::IN).user_data(100))
            .unwrap();
        s.submit().unwrap();
        let got = s.cancel_sync(SyncCancel::user_data(100), Some(Duration::MAX));
        assert!(got.is_ok(), "{got:?}");
        let mut calls = 0;
        loop {
            calls += 1;
            assert!(calls <= 9, "no end of calls");
            match s.cancel_sync(SyncCancel::fd(&r).all(), Some(Duration::ZERO)) {
                Ok(()) => break,
                Err(uring::Error::TimedOut) => {}
                Err(e) => panic!("{e}"),
            }
        }
        let seen = reap_last(s, 9);
        let ended = lasts(&seen);
        assert_eq!(ended.len(), 9, "{seen:?}");
        assert!(ended.values().all(|&r| r == -libc::ECANCELED), "{seen:?}");
        assert!(strays(s).is_empty());
    });
}

/// `cancel_sync` by a descriptor with `all` and a zero timeout over eight
/// polls, which the kernel cancels without waiting (one
/// `IORING_REGISTER_SYNC_CANCEL` flagged `ALL` ends all eight at once).
/// The library asks one at a time; it once stopped one call past its
/// deadline (`cancel_sync_keys`), cancelling two, leaving six armed and
/// answering `TimedOut` though it never waited. It goes on while each call
/// needs no wait: all eight end, `Ok`.
#[test]
fn cancel_sync_all_with_a_zero_timeout_ends_every_poll() {
    let _watch = watchdog();
    if !uring_tests::require_kernel(6, 0, "IORING_REGISTER_SYNC_CANCEL") {
        return;
    }
    let Some(mut ring) = fast_ring(16) else {
        return;
    };
    let (r, _w) = uring_tests::pipe();
    ring.scope(|s| {
        for i in 0..8 {
            s.push(PollAdd::new(&r, PollEvents::IN).user_data(i))
                .unwrap();
        }
        s.submit().unwrap();
        let got = s.cancel_sync(SyncCancel::fd(&r).all(), Some(Duration::ZERO));
        let _ = s.wait_timeout(8, QUIET);
        let seen: Vec<Seen> = s
            .completions()
            .map(|c| (c.user_data(), c.res(), c.flags()))
            .collect();
        assert!(got.is_ok(), "{got:?}, ended: {seen:?}");
        assert_eq!(lasts(&seen).len(), 8, "{seen:?}");
    });
}

/// Three polls flagged `ASYNC` (each armed from an io-wq worker) carrying
/// one `user_data`, cancelled by a `Cancel` flagged `ALL`: all three end
/// `-ECANCELED`, but Linux 6.18 cancels the io-wq work in one call and
/// counts it once (`Cancel`'s documentation once called the count "the
/// number cancelled"; it now says pending io-wq work is counted once for
/// all). A cancel that meets the polls still in the workers' hands may
/// end some of them and count none (seen here: the first cancel counted 0
/// and ended two, and a second one counted 1 and ended the third, which a
/// worker was still arming): cancels are pushed until all three have
/// ended. Each poll ends once, and every cancel counts at most three.
#[test]
fn an_all_cancel_of_async_polls_ends_each_once_and_counts_no_more() {
    let _watch = watchdog();
    let Some(mut ring) = fast_ring(16) else {
        return;
    };
    let (r, _w) = uring_tests::pipe();
    ring.scope(|s| {
        for _ in 0..3 {
            s.push(
                PollAdd::new(&r, PollEvents::IN)
                    .user_data(7)
                    .flags(SqeFlags::ASYNC),
            )
            .unwrap();
        }
        s.submit().unwrap();
        let mut seen: Vec<Seen> = Vec::new();
        let polls_ended = |seen: &[Seen]| seen.iter().filter(|c| c.0 == 7).count();
        let deadline = Instant::now() + PATIENCE;
        let mut cancels = 0u64;
        while polls_ended(&seen) < 3 {
            assert!(Instant::now() < deadline, "polls left after {seen:?}");
            cancels += 1;
            s.push(
                Cancel::new(7)
                    .cancel_flags(CancelFlags::ALL)
                    .user_data(100 + cancels),
            )
            .unwrap();
            // This cancel's completion, and what it ended.
            seen.extend(
                reap_last(s, 1)
                    .into_iter()
                    .chain(strays(s))
                    .collect::<Vec<_>>(),
            );
            while !seen.iter().any(|c| c.0 == 100 + cancels) {
                seen.extend(reap_last(s, 1));
            }
        }
        assert_eq!(
            seen.iter()
                .filter(|c| c.0 == 7 && c.1 == -libc::ECANCELED)
                .count(),
            3,
            "{seen:?}"
        );
        let counts: Vec<i32> = seen.iter().filter(|c| c.0 > 100).map(|c| c.1).collect();
        assert!(
            counts.iter().all(|n| (0..=3).contains(n)),
            "a count past three: {seen:?}"
        );
        assert!(strays(s).is_empty(), "a poll ended twice");
    });
}

/// A `Cancel` flagged `ALL` by a `user_data` that three polls carry and a
/// fourth does not: the count is three, each of the three ends once, the
/// fourth stays armed until the scope's end.
#[test]
fn an_all_cancel_by_user_data_counts_and_spares_the_rest() {
    let _watch = watchdog();
    let Some(mut ring) = fast_ring(16) else {
        return;
    };
    let (r, _w) = uring_tests::pipe();
    ring.scope(|s| {
        for _ in 0..3 {
            s.push(PollAdd::new(&r, PollEvents::IN).user_data(7))
                .unwrap();
        }
        s.push(PollAdd::new(&r, PollEvents::IN).user_data(8))
            .unwrap();
        s.submit().unwrap();
        s.push(Cancel::new(7).cancel_flags(CancelFlags::ALL).user_data(100))
            .unwrap();
        let seen = reap_last(s, 4);
        assert_eq!(seen.iter().filter(|c| c.0 == 7).count(), 3, "{seen:?}");
        assert!(
            seen.iter().all(|c| c.0 != 7 || c.1 == -libc::ECANCELED),
            "{seen:?}"
        );
        assert!(seen.contains(&(100, 3, 0)), "{seen:?}");
        assert!(strays(s).is_empty());
    });
}
