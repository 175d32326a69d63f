//! Scopes against the kernel, for what the scope translates and counts:
//! ops that name another op by `user_data` (cancel, poll and timeout
//! removal, poll updates that rename) find the scope's op; `Scope::cancel`
//! counts what it queues and checks the room first; an owned buffer under
//! a chain comes back with the chain's last completion; a scope that ends
//! on foreign completions leaves the ring reading its own CQ; and a buffer
//! group registered again without incremental consumption runs its ops at
//! once.

use std::io::Write as _;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use uring::ops::{
    Cancel, Nop, PollAdd, PollRemove, PollUpdate, Read, Recv, Timeout, TimeoutRemove,
};
use uring::{BufferGroup, Cqe, PollEvents, PollFlags, Ring};
use uring_tests::{by_user_data, push_lent};

fn user_data_and_res(cqes: &[Cqe]) -> Vec<(u64, i32)> {
    cqes.iter().map(|c| (c.user_data(), c.res())).collect()
}

/// A multishot poll for input on `fd`.
macro_rules! multi {
    ($fd:expr, $user_data:expr) => {
        PollAdd::new($fd, PollEvents::IN)
            .poll_flags(PollFlags::MULTI)
            .user_data($user_data)
    };
}

/// Reads completions in the scope until `n` have come, within
/// [`uring_tests::PATIENCE`].
fn reap(s: &mut uring::Scope<'_, '_>, n: usize) -> Vec<Cqe> {
    let mut out: Vec<Cqe> = Vec::new();
    while out.len() < n {
        s.wait_timeout(1, uring_tests::PATIENCE)
            .unwrap_or_else(|e| panic!("{} of {n} completions: {e}: {out:?}", out.len()));
        out.extend(s.completions().map(|c| c.cqe()));
    }
    out
}

/// A `Cancel` pushed in the scope names the scope's op by the `user_data`
/// it was pushed with, and cancels that one alone, among others.
#[test]
fn a_cancel_in_a_scope_finds_the_scope_op_by_its_user_data() {
    let _watch = uring_tests::watchdog();
    let pairs: Vec<(UnixStream, UnixStream)> =
        (0..3).map(|_| UnixStream::pair().unwrap()).collect();
    let mut bufs = [[0u8; 4]; 3];
    let mut ring = Ring::new(8).unwrap();
    let [a, b, c] = &mut bufs;
    ring.scope(|s| {
        // A NOP with the same user_data completes first: its slot is free
        // again, and a cancel must not find it.
        s.push(Nop::new().user_data(7)).unwrap();
        s.submit_and_wait(1).unwrap();
        assert_eq!(s.completions().count(), 1);
        s.push(Read::new(&pairs[0].1, &mut a[..]).user_data(5))
            .unwrap();
        s.push(Read::new(&pairs[1].1, &mut b[..]).user_data(6))
            .unwrap();
        s.push(Read::new(&pairs[2].1, &mut c[..]).user_data(7))
            .unwrap();
        s.submit().unwrap();
        // The cancel at the end of a chain is translated too.
        s.push(Nop::new().user_data(20).link(Cancel::new(7).user_data(8)))
            .unwrap();
        s.submit().unwrap();
        let cqes = reap(s, 3);
        let by = by_user_data(&cqes);
        assert_eq!(by[&20].res(), 0);
        assert_eq!(by[&8].res(), 0, "the cancel found its target: {cqes:?}");
        assert_eq!(by[&7].res(), -libc::ECANCELED, "{cqes:?}");
        assert_eq!(s.in_flight(), 2, "the reads 5 and 6 still wait");
        // They are the ones left: data completes them.
        (&pairs[0].0).write_all(b"abcd").unwrap();
        assert_eq!(user_data_and_res(&reap(s, 1)), [(5, 4)]);
        (&pairs[1].0).write_all(b"efgh").unwrap();
        assert_eq!(user_data_and_res(&reap(s, 1)), [(6, 4)]);
    });
    assert_eq!(&bufs[0], b"abcd");
    assert_eq!(&bufs[1], b"efgh");
    assert_eq!(&bufs[2], &[0; 4]);
}

/// A cancel by file (or opcode) that also matches a `user_data`
/// (`IORING_ASYNC_CANCEL_USERDATA`, 6.6) names the scope's op by the
/// `user_data` it was pushed with: it cancels that op alone, and none on
/// another file.
#[test]
fn a_cancel_by_file_and_user_data_in_a_scope_finds_the_scope_op() {
    use uring::CancelOpcode;
    use uring::ops::{CancelFd, CancelOp};
    let _watch = uring_tests::watchdog();
    // A fresh ring's scope tags only some ops; once an op was pushed
    // outside scopes, it tags every one, and the cancel must be translated.
    for tag_all in [false, true] {
        let (a_rx, a_tx) = UnixStream::pair().unwrap();
        let (b_rx, _b_tx) = UnixStream::pair().unwrap();
        let mut bufs = [[0u8; 4]; 3];
        let mut ring = Ring::new(8).unwrap();
        if tag_all {
            ring.push(Nop::new().user_data(99)).unwrap();
            assert_eq!(uring_tests::submit_and_reap(&mut ring, 1)[0].res(), 0);
        }
        let [x, y, z] = &mut bufs;
        ring.scope(|s| {
            assert_eq!(s.tags_every_op(), tag_all);
            s.push(Read::new(&a_rx, &mut x[..]).user_data(5)).unwrap();
            s.push(Read::new(&a_rx, &mut y[..]).user_data(6)).unwrap();
            s.push(Read::new(&b_rx, &mut z[..]).user_data(7)).unwrap();
            s.submit().unwrap();
            // Read 5 is on the other file: nothing matches both.
            s.push(CancelFd::new(&b_rx).target_user_data(5).user_data(10))
                .unwrap();
            s.submit().unwrap();
            let got = user_data_and_res(&reap(s, 1));
            if got == [(10, -libc::EINVAL)] {
                uring_tests::skip("no IORING_ASYNC_CANCEL_USERDATA (6.6)");
                return;
            }
            assert_eq!(got, [(10, -libc::ENOENT)], "tag all: {tag_all}");
            s.push(CancelFd::new(&a_rx).target_user_data(6).user_data(11))
                .unwrap();
            s.submit().unwrap();
            let mut got = user_data_and_res(&reap(s, 2));
            got.sort_unstable();
            assert_eq!(got, [(6, -libc::ECANCELED), (11, 0)], "tag all: {tag_all}");
            s.push(
                CancelOp::new(CancelOpcode::of::<Read<'_>>())
                    .target_user_data(7)
                    .user_data(12),
            )
            .unwrap();
            s.submit().unwrap();
            let mut got = user_data_and_res(&reap(s, 2));
            got.sort_unstable();
            assert_eq!(got, [(7, -libc::ECANCELED), (12, 0)], "tag all: {tag_all}");
            assert_eq!(s.in_flight(), 1, "read 5 still waits");
            (&a_tx).write_all(b"abcd").unwrap();
            assert_eq!(user_data_and_res(&reap(s, 1)), [(5, 4)]);
        });
        assert_eq!(&bufs[0], b"abcd");
    }
}

/// A `TimeoutRemove` and a `PollRemove` pushed in the scope find the
/// scope's timeout and poll.
#[test]
fn removals_in_a_scope_find_the_scope_ops() {
    let _watch = uring_tests::watchdog();
    let (rx, _tx) = UnixStream::pair().unwrap();
    let mut ring = Ring::new(8).unwrap();
    let cqes = ring.scope(|s| {
        s.push(Timeout::new(Duration::from_secs(60)).user_data(3))
            .unwrap();
        s.push(PollAdd::new(&rx, PollEvents::IN).user_data(5))
            .unwrap();
        s.submit().unwrap();
        s.push(TimeoutRemove::new(3).user_data(4)).unwrap();
        s.push(PollRemove::new(5).user_data(6)).unwrap();
        s.submit().unwrap();
        let cqes = reap(s, 4);
        assert_eq!(s.in_flight(), 0);
        cqes
    });
    let by = by_user_data(&cqes);
    assert_eq!(by.len(), 4, "{cqes:?}");
    assert_eq!(by[&3].res(), -libc::ECANCELED);
    assert_eq!(by[&4].res(), 0);
    assert_eq!(by[&5].res(), -libc::ECANCELED);
    assert_eq!(by[&6].res(), 0);
}

/// Poll updates that give the scope's polls new `user_data`, two at once:
/// each poll's completions carry its new one from then on, and a cancel
/// finds the poll by it. One that would rename a poll pushed before the
/// scope fails with EINVAL; a plain removal of that poll succeeds.
#[test]
fn poll_updates_in_a_scope_rename_the_scope_polls_only() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(5, 13, "poll updates") {
        return;
    }
    let (rx, mut tx) = UnixStream::pair().unwrap();
    let (rx2, mut tx2) = UnixStream::pair().unwrap();
    let (other_rx, _other_tx) = UnixStream::pair().unwrap();
    let (last_rx, _last_tx) = UnixStream::pair().unwrap();
    let mut ring = Ring::new(16).unwrap();
    // Polls pushed before the scope, which the scope must not rename.
    push_lent!(ring, PollAdd::new(&other_rx, PollEvents::IN).user_data(9)).unwrap();
    push_lent!(ring, PollAdd::new(&last_rx, PollEvents::IN).user_data(12)).unwrap();
    ring.submit().unwrap();
    let cqes = ring.scope(|s| {
        s.push(multi!(&rx, 5)).unwrap();
        s.push(multi!(&rx2, 7)).unwrap();
        s.submit().unwrap();
        let rename = |from: u64, to: u64, user_data: u64| {
            PollUpdate::new(from)
                .new_user_data(to)
                .poll_flags(PollFlags::MULTI)
                .user_data(user_data)
        };
        s.push(rename(5, 50, 6)).unwrap();
        s.push(rename(7, 70, 8)).unwrap();
        s.push(PollUpdate::new(9).new_user_data(90).user_data(10))
            .unwrap();
        s.push(PollRemove::new(12).user_data(13)).unwrap();
        // The refused update is a NOP that completes with EINVAL (6.10), and
        // the removal after it goes in the same submit. Before 6.10 it is
        // an opcode the kernel refuses as it reads it, which ends the
        // submission there (without `IORING_SETUP_SUBMIT_ALL`): the removal
        // goes with the next submit.
        if uring_tests::kernel_version() >= (6, 10) {
            assert_eq!(s.submit().unwrap(), 4);
        } else {
            assert_eq!(s.submit().unwrap(), 3);
            assert_eq!(s.submit().unwrap(), 1);
        }
        let mut cqes = reap(s, 5);
        cqes.sort_by_key(|c| c.user_data());
        assert_eq!(
            user_data_and_res(&cqes),
            [
                (6, 0),
                (8, 0),
                (10, -libc::EINVAL),
                (12, -libc::ECANCELED),
                (13, 0)
            ]
        );
        tx.write_all(b"!").unwrap();
        let fired = reap(s, 1);
        assert_eq!(fired[0].user_data(), 50, "{fired:?}");
        assert!(fired[0].has_more());
        tx2.write_all(b"!").unwrap();
        let fired = reap(s, 1);
        assert_eq!(fired[0].user_data(), 70, "{fired:?}");
        assert_eq!(s.cancel(5).unwrap(), 0, "the old user_data names nothing");
        assert_eq!(s.cancel(50).unwrap(), 1);
        assert_eq!(s.cancel(70).unwrap(), 1);
        s.submit().unwrap();
        let mut rest = Vec::new();
        while s.in_flight() > 0 {
            rest.extend(reap(s, 1));
        }
        rest
    });
    let mut last: Vec<(u64, i32)> = cqes
        .iter()
        .filter(|c| !c.has_more())
        .map(|c| (c.user_data(), c.res()))
        .collect();
    last.sort_unstable();
    assert_eq!(last, [(50, -libc::ECANCELED), (70, -libc::ECANCELED)]);
    // The other foreign poll is as it was: removed by its own user_data.
    ring.push(PollRemove::new(9).user_data(11)).unwrap();
    let cqes = uring_tests::submit_and_reap(&mut ring, 2);
    let by = by_user_data(&cqes);
    assert_eq!(by[&9].res(), -libc::ECANCELED);
    assert_eq!(by[&11].res(), 0);
}

/// A ring whose scopes tag every op: a NOP went through it outside a scope.
fn ring_tagging_every_op(entries: u32) -> Ring {
    let mut ring = Ring::new(entries).unwrap();
    ring.push(Nop::new().user_data(1)).unwrap();
    let cqes = uring_tests::submit_and_reap(&mut ring, 1);
    assert_eq!(user_data_and_res(&cqes), [(1, 0)]);
    ring
}

/// `Scope::cancel` in a scope that tags every op queues a cancel for each
/// of the scope's ops in flight with that `user_data`, and only when the SQ
/// has room for all of them.
#[test]
fn scope_cancel_counts_its_targets_and_needs_room_for_all() {
    let _watch = uring_tests::watchdog();
    let (rx, _tx) = UnixStream::pair().unwrap();
    let mut bufs = [[0u8; 1]; 3];
    let mut ring = ring_tagging_every_op(4);
    let [a, b, c] = &mut bufs;
    ring.scope(|s| {
        assert!(s.tags_every_op());
        s.push(Read::new(&rx, &mut a[..]).user_data(7)).unwrap();
        s.push(Read::new(&rx, &mut b[..]).user_data(7)).unwrap();
        s.push(Read::new(&rx, &mut c[..]).user_data(8)).unwrap();
        s.submit().unwrap();
        // Three slots of four taken by NOPs not submitted yet: no room for
        // two cancels.
        for i in 0..3 {
            s.push(Nop::new().user_data(100 + i)).unwrap();
        }
        assert_eq!(s.space_left(), 1);
        assert!(s.cancel(7).is_err(), "two cancels, one free slot");
        assert_eq!(s.cancel(8).unwrap(), 1, "one cancel, one free slot");
        assert_eq!(s.space_left(), 0);
        s.submit().unwrap();
        let cqes = reap(s, 4);
        let by = by_user_data(&cqes);
        assert_eq!(by[&8].res(), -libc::ECANCELED);
        // Exactly the room for two.
        s.push(Nop::new().user_data(200)).unwrap();
        s.push(Nop::new().user_data(201)).unwrap();
        assert_eq!(s.space_left(), 2);
        assert_eq!(s.cancel(7).unwrap(), 2);
        assert_eq!(s.cancel(9).unwrap(), 0);
        s.submit().unwrap();
        let cqes = reap(s, 4);
        let got: Vec<(u64, i32)> = {
            let mut v = user_data_and_res(&cqes);
            v.sort_unstable();
            v
        };
        assert_eq!(
            got,
            [
                (7, -libc::ECANCELED),
                (7, -libc::ECANCELED),
                (200, 0),
                (201, 0)
            ]
        );
        assert_eq!(s.in_flight(), 0);
    });
}

/// `Scope::cancel` in a scope that tags only what it must: one request,
/// flagged to cancel all, finds every untagged op with that `user_data`,
/// and counts once; with nothing untagged in flight, none is queued.
#[test]
fn scope_cancel_of_untagged_ops_is_one_request() {
    let _watch = uring_tests::watchdog();
    let (rx, _tx) = UnixStream::pair().unwrap();
    let mut bufs = [[0u8; 1]; 3];
    let mut ring = Ring::new(4).unwrap();
    let [a, b, c] = &mut bufs;
    ring.scope(|s| {
        if s.tags_every_op() {
            eprintln!("skipped: the kernel cannot cancel untagged ops at once (before 6.3)");
            return;
        }
        s.push(Read::new(&rx, &mut a[..]).user_data(7)).unwrap();
        s.push(Read::new(&rx, &mut b[..]).user_data(7)).unwrap();
        s.push(Read::new(&rx, &mut c[..]).user_data(8)).unwrap();
        s.submit().unwrap();
        for i in 0..3 {
            s.push(Nop::new().user_data(100 + i)).unwrap();
        }
        assert_eq!(s.space_left(), 1);
        assert_eq!(s.cancel(7).unwrap(), 1, "one request for both reads");
        assert_eq!(s.space_left(), 0);
        assert!(s.cancel(8).is_err(), "no room for its request");
        s.submit().unwrap();
        let mut got = user_data_and_res(&reap(s, 5));
        got.sort_unstable();
        assert_eq!(
            got,
            [
                (7, -libc::ECANCELED),
                (7, -libc::ECANCELED),
                (100, 0),
                (101, 0),
                (102, 0)
            ]
        );
        assert_eq!(s.in_flight(), 1);
        assert_eq!(s.cancel(8).unwrap(), 1);
        s.submit().unwrap();
        assert_eq!(user_data_and_res(&reap(s, 1)), [(8, -libc::ECANCELED)]);
        assert_eq!(s.in_flight(), 0);
        assert_eq!(s.cancel(9).unwrap(), 0, "nothing in flight to find");
    });
}

/// An owned buffer under a chain of a read and a NOP (hard-linked: the
/// short read does not cancel it) comes back with the NOP's completion,
/// not the read's.
#[test]
fn an_owned_buffer_under_a_chain_comes_back_with_its_last_completion() {
    let _watch = uring_tests::watchdog();
    let (rx, mut tx) = UnixStream::pair().unwrap();
    let mut ring = Ring::new(8).unwrap();
    let (first, second) = ring.scope(|s| {
        tx.write_all(b"chained").unwrap();
        s.push_owned(vec![0; 16], |buf, sq| {
            sq.push(
                Read::new(&rx, buf)
                    .user_data(1)
                    .hard_link(Nop::new().user_data(2)),
            )
        })
        .unwrap();
        assert_eq!(s.in_flight(), 2);
        s.submit().unwrap();
        let mut got = Vec::new();
        while got.len() < 2 {
            s.wait_timeout(1, uring_tests::PATIENCE).unwrap();
            for mut cqe in s.completions() {
                got.push((cqe.user_data(), cqe.res(), cqe.take_buf()));
            }
        }
        (got.remove(0), got.remove(0))
    });
    assert_eq!((first.0, first.1, first.2), (1, 7, None));
    let (ud, res, buf) = second;
    assert_eq!((ud, res), (2, 0));
    assert_eq!(
        &buf.expect("the buffer, back with the NOP")[..7],
        b"chained"
    );
}

/// A scope that ends with an op in flight among a few foreign completions
/// (the CQ far from full) leaves the ring reading the kernel's CQ: what a
/// later submit posts is counted as ready at once.
#[test]
fn a_scope_ending_among_foreign_completions_leaves_the_cq_as_it_was() {
    let _watch = uring_tests::watchdog();
    let (rx, _tx) = UnixStream::pair().unwrap();
    let mut ring = Ring::new(8).unwrap();
    for i in 0..2 {
        ring.push(Nop::new().user_data(100 + i)).unwrap();
    }
    ring.submit_and_wait(2).unwrap();
    let mut buf = [0u8; 4];
    ring.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
        s.submit().unwrap();
    });
    assert_eq!(ring.ready(), 2);
    ring.push(Nop::new().user_data(102)).unwrap();
    ring.submit().unwrap();
    assert_eq!(ring.ready(), 3, "the NOP is in the CQ the ring reads");
    let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(got, [100, 101, 102]);
}

/// A group first registered for incremental consumption, then again as a
/// plain ring: two ops of a scope select from it at once, neither refused.
#[test]
fn a_group_registered_again_plainly_runs_ops_at_once() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    match ring.register_buf_ring_incremental(BufferGroup::new(50), 2, 16) {
        Ok(pool) => drop(pool),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            eprintln!("skipped: the kernel lacks incremental buffer rings (6.12): {e}");
            return;
        }
        Err(e) => panic!("register_buf_ring_incremental: {e}"),
    }
    let pool = ring.register_buf_ring(BufferGroup::new(50), 2, 16).unwrap();
    assert!(!pool.is_incremental());
    let (mut tx1, rx1) = UnixStream::pair().unwrap();
    let (mut tx2, rx2) = UnixStream::pair().unwrap();
    let got = ring.scope(|s| -> uring::Result<Vec<(u64, Vec<u8>)>> {
        s.push(Recv::new(&rx1, pool.select()).user_data(1))?;
        s.push(Recv::new(&rx2, pool.select()).user_data(2))?;
        s.submit()?;
        tx1.write_all(b"one").unwrap();
        tx2.write_all(b"two").unwrap();
        let mut got = Vec::new();
        while got.len() < 2 {
            s.wait_timeout(1, uring_tests::PATIENCE)?;
            for mut cqe in s.completions() {
                assert!(cqe.res() > 0, "{cqe:?}");
                got.push((cqe.user_data(), pool.claim(&mut cqe)?.to_vec()));
            }
        }
        got.sort();
        Ok(got)
    });
    assert_eq!(got.unwrap(), [(1, b"one".to_vec()), (2, b"two".to_vec())]);
}

/// The scope's own counts: what is ready, the room in the SQ (of the scope
/// and of a batch), what a submit-and-wait submitted, a wait that times
/// out, and the bounds the completions iterator gives.
#[test]
fn a_scope_counts_what_is_ready_and_what_fits() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.scope(|s| {
        assert_eq!((s.ready(), s.space_left()), (0, 8));
        let timed_out = s.wait_timeout(1, Duration::from_millis(5));
        assert!(
            matches!(timed_out, Err(uring::Error::TimedOut)),
            "{timed_out:?}"
        );
        {
            let mut sq = s.submission();
            assert_eq!(sq.space_left(), 8);
            for i in 0..3 {
                sq.push(Nop::new().user_data(i)).unwrap();
            }
            assert_eq!(sq.space_left(), 5);
        }
        assert_eq!(s.space_left(), 5);
        assert_eq!(s.submit_and_wait(3).unwrap(), 3);
        assert_eq!((s.ready(), s.space_left()), (3, 8));
        let mut it = s.completions();
        assert_eq!(it.size_hint(), (0, Some(3)));
        it.next().unwrap();
        assert_eq!(it.size_hint(), (0, Some(2)));
        drop(it);
        assert_eq!(s.ready(), 2);
        assert_eq!(s.completions().count(), 2);
        assert_eq!(s.ready(), 0);
    });
}

/// In a scope that tags only what it must, a one-shot poll of the scope
/// goes untagged and is renamed by the kernel itself: the update succeeds
/// and the poll's completion carries the new `user_data`. An update that
/// would give it a `user_data` that could pass for a tag fails with EINVAL,
/// and so does one that would make it multishot (the scope counts an
/// untagged op done at its first completion).
#[test]
fn poll_updates_rename_the_untagged_polls_of_a_fast_scope() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(5, 13, "poll updates") {
        return;
    }
    let (rx, mut tx) = UnixStream::pair().unwrap();
    let mut ring = Ring::new(16).unwrap();
    let fired = ring.scope(|s| {
        assert!(!s.tags_every_op(), "a clean ring");
        s.push(PollAdd::new(&rx, PollEvents::IN).user_data(5))
            .unwrap();
        s.submit().unwrap();
        s.push(PollUpdate::new(5).new_user_data(50).user_data(6))
            .unwrap();
        s.submit().unwrap();
        assert_eq!(user_data_and_res(&reap(s, 1)), [(6, 0)]);
        s.push(PollUpdate::new(50).new_user_data(1 << 63 | 3).user_data(7))
            .unwrap();
        s.submit().unwrap();
        assert_eq!(user_data_and_res(&reap(s, 1)), [(7, -libc::EINVAL)]);
        s.push(
            PollUpdate::new(50)
                .events(PollEvents::IN)
                .poll_flags(PollFlags::MULTI)
                .user_data(8),
        )
        .unwrap();
        s.submit().unwrap();
        assert_eq!(user_data_and_res(&reap(s, 1)), [(8, -libc::EINVAL)]);
        assert_eq!(s.in_flight(), 1, "the poll");
        tx.write_all(b"!").unwrap();
        let fired = reap(s, 1);
        assert_eq!(s.in_flight(), 0);
        fired
    });
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].user_data(), 50, "{fired:?}");
    assert!(!fired[0].has_more());
    assert!(fired[0].res() as u32 & libc::POLLIN as u32 != 0);
}

/// A poll update pushed over an owned buffer cannot also rename a poll
/// (the op's slot keeps the buffer): it fails with EINVAL, and the buffer
/// comes back with its completion.
#[test]
fn a_poll_rename_over_an_owned_buffer_fails_and_gives_the_buffer_back() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(5, 13, "poll updates") {
        return;
    }
    let (rx, _tx) = UnixStream::pair().unwrap();
    let mut ring = ring_tagging_every_op(16);
    ring.scope(|s| {
        s.push(multi!(&rx, 5)).unwrap();
        s.submit().unwrap();
        s.push_owned(vec![1, 2, 3], |_, sq| {
            sq.push(
                PollUpdate::new(5)
                    .new_user_data(50)
                    .poll_flags(PollFlags::MULTI)
                    .user_data(6),
            )
        })
        .unwrap();
        s.submit().unwrap();
        s.wait_timeout(1, uring_tests::PATIENCE).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!((cqe.user_data(), cqe.res()), (6, -libc::EINVAL));
        assert_eq!(cqe.take_buf(), Some(vec![1, 2, 3]));
        assert_eq!(s.cancel(5).unwrap(), 1, "the poll keeps its user_data");
    });
}

/// `for_each` (and every method built on `fold`) reads a scope's
/// completions as a `for` loop does: untagged and tagged ops, an owned
/// buffer back with its completion, and the scope's own cancel request
/// hidden.
#[test]
fn completions_read_by_for_each_are_settled_as_by_a_for_loop() {
    let _watch = uring_tests::watchdog();
    let (rx, mut tx) = UnixStream::pair().unwrap();
    let mut ring = Ring::new(16).unwrap();
    let mut got = ring.scope(|s| {
        tx.write_all(b"owned").unwrap();
        let mut sq = s.submission();
        sq.push(Nop::new().user_data(10)).unwrap();
        sq.push(Nop::new().user_data(11)).unwrap();
        sq.push(Timeout::new(Duration::from_secs(60)).user_data(20))
            .unwrap();
        drop(sq);
        s.push_owned(vec![0; 16], |buf, sq| {
            sq.push(Read::new(&rx, buf).user_data(1))
        })
        .unwrap();
        s.submit().unwrap();
        assert_eq!(s.cancel(20).unwrap(), 1);
        s.submit().unwrap();
        let mut got = Vec::new();
        while got.len() < 4 {
            s.wait_timeout(1, uring_tests::PATIENCE).unwrap();
            s.completions().for_each(|mut cqe| {
                got.push((cqe.user_data(), cqe.res(), cqe.take_buf()));
            });
        }
        assert_eq!(s.in_flight(), 0);
        // Nothing is left for a second reading, by `count` this time.
        assert_eq!(s.completions().count(), 0);
        got
    });
    got.sort_by_key(|(user_data, ..)| *user_data);
    let (read, rest) = got.split_first_mut().unwrap();
    assert_eq!((read.0, read.1), (1, 5));
    assert_eq!(
        &read.2.take().expect("the read's buffer, back")[..5],
        b"owned"
    );
    let rest: Vec<_> = rest.iter().map(|(u, r, b)| (*u, *r, b.is_some())).collect();
    assert_eq!(
        rest,
        [
            (10, 0, false),
            (11, 0, false),
            (20, -libc::ECANCELED, false)
        ]
    );
}
