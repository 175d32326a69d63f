//! Attacks on claims of SAFETY.md that other suites reach from one side
//! only: a message target dropped on another thread in the middle of a
//! scope, a target that outlives a resize of its ring, an untagged poll of
//! a fast scope renamed to the live tag of another op (read from
//! `/proc/self/fdinfo`), and registered files across a resize.

use std::io::Write as _;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::thread;

use uring::ops::{Cancel, MsgRing, Nop, PollAdd, PollUpdate, Read};
use uring::{PollEvents, PollFlags, PushErrorKind, Ring};
use uring_tests::net::assert_kernel_bytes;
use uring_tests::{PATIENCE, pipe};

/// What a buffer holds until the kernel writes it.
const CANARY: u8 = 0xa5;

/// The tag bit: every scope tag has it, no untagged `user_data` may.
const TAG_BIT: u64 = 1 << 63;

/// Counts `(user_data, res)` pairs by `user_data`.
fn counts(seen: &[(u64, i32)]) -> std::collections::BTreeMap<u64, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for &(user_data, _) in seen {
        *counts.entry(user_data).or_insert(0) += 1;
    }
    counts
}

/// SAFETY.md, invariant 4, `MSG_RING`: "a scope that begins while one
/// [`RingTarget`] lives takes no op (`PushErrorKind::Targeted`)". The
/// target is dropped on another thread while the scope runs: the scope
/// that began under it goes on refusing every push (another thread could
/// have posted a tag read from fdinfo before the drop, with a message
/// still on its way), nothing reaches the SQ, and the next scope tags
/// every op and keeps its read's canary until real data arrives.
///
/// [`RingTarget`]: uring::RingTarget
#[test]
fn a_target_dropped_on_another_thread_mid_scope_admits_no_op_in_that_scope() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let target = ring.msg_target().unwrap();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let holder = thread::spawn(move || {
        go_rx.recv().unwrap();
        drop(target);
        done_tx.send(()).unwrap();
    });
    let (rx, tx) = pipe();
    let mut tx = std::fs::File::from(tx);
    let mut buf = [CANARY; 8];
    ring.scope(|s| {
        let refused = s
            .push(Nop::new().user_data(1))
            .expect_err("a scope begun under a target");
        assert_eq!(refused.kind(), PushErrorKind::Targeted);
        go_tx.send(()).unwrap();
        done_rx.recv().unwrap();
        let refused = s
            .push(Read::new(&rx, &mut buf[..]).user_data(2))
            .expect_err("the target is gone, but the scope began under it");
        assert_eq!(refused.kind(), PushErrorKind::Targeted);
        assert_eq!(s.in_flight(), 0);
    });
    holder.join().unwrap();
    assert_eq!(ring.pending(), 0, "nothing was written to the SQ");
    assert_eq!(buf, [CANARY; 8]);
    let res = ring.scope(|s| {
        assert!(s.tags_every_op(), "a ring that had a target tags every op");
        s.push(Read::new(&rx, &mut buf[..]).user_data(3)).unwrap();
        s.submit().unwrap();
        assert_eq!(s.in_flight(), 1);
        tx.write_all(b"kernel!!").unwrap();
        let cqe = uring_tests::next_scope_cqe(s);
        (cqe.user_data(), cqe.res())
    });
    assert_eq!(res, (3, 8));
    assert_kernel_bytes(&buf, b"kernel!!", "the read after the target");
    assert!(uring_tests::stray(&mut ring).is_empty());
}

/// SAFETY.md, invariant 4, `MSG_RING`, on a resized ring: a
/// [`RingTarget`](uring::RingTarget) made before `Ring::resize` still
/// names the ring after it (its messages land in the new CQ, each once),
/// and the ring's scopes still refuse every push while it lives; once it
/// is dropped, scopes tag every op, and a read in one keeps its canary
/// while messages carrying every `user_data` fdinfo shows arrive.
#[test]
fn a_target_made_before_a_resize_holds_scopes_off_after_it() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = uring_tests::resizable_ring(4) else {
        return;
    };
    let target = ring.msg_target().unwrap();
    match ring.resize(16, 64) {
        Ok(()) => {}
        Err(e) => {
            uring_tests::skip(format!("the kernel does not resize this ring: {e}"));
            return;
        }
    }
    ring.scope(|s| {
        let refused = s
            .push(Nop::new().user_data(1))
            .expect_err("a scope of a targeted, resized ring");
        assert_eq!(refused.kind(), PushErrorKind::Targeted);
    });
    // Messages through the old target, from another thread, into the new
    // CQ: each arrives once.
    let sender = thread::spawn(move || {
        let mut from = Ring::new(4).unwrap();
        for data in [40u64, 41, 42] {
            let res = from.scope(|s| {
                s.push(MsgRing::new(&target, 7, data).user_data(1)).unwrap();
                s.submit_and_wait(1).unwrap();
                s.completions()
                    .next()
                    .expect("the sender's completion")
                    .res()
            });
            assert_eq!(res, 0, "MSG_RING into the resized ring");
        }
        // The target goes with this thread.
    });
    sender.join().unwrap();
    let mut got = Vec::new();
    while got.len() < 3 {
        ring.wait_timeout(1, PATIENCE)
            .expect("the messages in time");
        got.extend(ring.completions().map(|c| (c.user_data(), c.res())));
    }
    got.sort_unstable();
    assert_eq!(got, [(40, 7), (41, 7), (42, 7)]);
    assert!(
        uring_tests::stray(&mut ring).is_empty(),
        "each message once"
    );
    // The target is gone: scopes take ops again, and tag them all.
    let (rx, tx) = pipe();
    let mut tx = std::fs::File::from(tx);
    let mut buf = [CANARY; 8];
    let fd = ring.as_raw_fd();
    let (read, settled_early) = ring.scope(|s| {
        assert!(s.tags_every_op());
        s.push(Read::new(&rx, &mut buf[..]).user_data(9)).unwrap();
        let shown = uring_tests::fdinfo_user_data(fd);
        s.submit().unwrap();
        assert!(
            shown.iter().all(|&u| u != 9 && u & TAG_BIT != 0),
            "the read carries a tag: {shown:x?}"
        );
        assert_eq!(s.in_flight(), 1);
        let settled_early = s.completions().any(|c| c.is_scope_op());
        tx.write_all(b"resized!").unwrap();
        let cqe = uring_tests::next_scope_cqe(s);
        ((cqe.user_data(), cqe.res()), settled_early)
    });
    assert!(!settled_early);
    assert_eq!(read, (9, 8));
    assert_kernel_bytes(&buf, b"resized!", "the read after the resize");
}

/// SAFETY.md, invariant 4, clean rings: "a poll update that renames a
/// poll (translated by the scope) gives an untagged poll only a name that
/// cannot pass for a tag, and fails with `EINVAL` when it names its poll
/// by a tag-shaped value the scope does not know". Here the tag-shaped
/// value is no guess: it is the live tag of the scope's multishot poll,
/// read from `/proc/self/fdinfo` while the poll's first completion (flagged
/// `IORING_CQE_F_MORE`) waits in the CQ. Renamed to it, the untagged
/// poll's one completion would settle the multishot poll's slot while the
/// kernel keeps it armed. Both renames fail; the untagged poll fires under
/// its own `user_data`; an owned read beside them keeps its buffer, and
/// its canary, until its data arrives; a cancel by the raw tag ends the
/// multishot poll as the kernel's completion of it; every completion comes
/// once (the multishot poll's twice: its event, then its end).
#[test]
fn an_untagged_poll_cannot_take_the_live_tag_of_a_multishot_poll() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(5, 13, "poll updates") {
        return;
    }
    let (rx, tx) = pipe();
    let mut tx = std::fs::File::from(tx);
    let (polled, mut poke) = UnixStream::pair().unwrap();
    let (multi, mut mpoke) = UnixStream::pair().unwrap();
    let mut ring = Ring::new(16).unwrap();
    let fd = ring.as_raw_fd();
    let (seen, back) = ring.scope(|s| {
        assert!(!s.tags_every_op(), "a clean ring's scope is fast");
        s.push_owned(vec![CANARY; 8], |buf, sq| {
            sq.push(Read::new(&rx, buf).user_data(1));
        })
        .unwrap();
        s.push(
            PollAdd::new(&multi, PollEvents::IN)
                .poll_flags(PollFlags::MULTI)
                .user_data(2),
        )
        .unwrap();
        s.push(PollAdd::new(&polled, PollEvents::IN).user_data(5))
            .unwrap();
        s.submit().unwrap();
        mpoke.write_all(b"x").unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let shown = uring_tests::fdinfo_user_data(fd);
        let tags: Vec<u64> = shown.iter().copied().filter(|u| u & TAG_BIT != 0).collect();
        assert_eq!(tags.len(), 1, "the multishot poll's event: {shown:x?}");
        let tag = tags[0];
        let mut seen = Vec::new();
        for cqe in s.completions() {
            assert_eq!(cqe.user_data(), 2, "{cqe:?}");
            assert!(cqe.has_more(), "{cqe:?}");
            seen.push((cqe.user_data(), cqe.res()));
        }
        assert_eq!(s.in_flight(), 3);
        // Rename the untagged poll to the multishot poll's live tag.
        s.push(PollUpdate::new(5).new_user_data(tag).user_data(6))
            .unwrap();
        // Name the multishot poll by its raw tag, to rename it plainly.
        s.push(PollUpdate::new(tag).new_user_data(7).user_data(8))
            .unwrap();
        // Each refused update completes with EINVAL (a NOP from 6.10;
        // before, an opcode the kernel fails as it prepares it, which ends
        // the enter's submission there): submit until both are back.
        let mut refused = Vec::new();
        while refused.len() < 2 {
            s.submit().unwrap();
            s.wait_timeout(1, PATIENCE).unwrap();
            for cqe in s.completions() {
                refused.push((cqe.user_data(), cqe.res()));
            }
        }
        refused.sort_unstable();
        assert_eq!(refused, [(6, -libc::EINVAL), (8, -libc::EINVAL)]);
        seen.extend(refused);
        // The untagged poll fires under its own name, once.
        poke.write_all(b"!").unwrap();
        let cqe = uring_tests::next_scope_cqe(s);
        assert_eq!(cqe.user_data(), 5, "{cqe:?}");
        assert!(!cqe.has_more(), "{cqe:?}");
        seen.push((cqe.user_data(), cqe.res()));
        drop(cqe);
        assert_eq!(s.in_flight(), 2, "the read and the multishot poll");
        // A cancel by the raw tag: the kernel matches it, and the poll's
        // last completion is the kernel's own, under its user_data.
        s.push(Cancel::new(tag).user_data(10)).unwrap();
        s.submit().unwrap();
        while s.in_flight() > 1 || seen.iter().all(|&(u, _)| u != 10) {
            s.wait_timeout(1, PATIENCE).unwrap();
            for cqe in s.completions() {
                assert_ne!(cqe.user_data(), 1, "the read ended early: {cqe:?}");
                seen.push((cqe.user_data(), cqe.res()));
            }
        }
        assert_eq!(s.in_flight(), 1, "the read");
        tx.write_all(b"its data").unwrap();
        let mut cqe = uring_tests::next_scope_cqe(s);
        assert_eq!((cqe.user_data(), cqe.res()), (1, 8));
        seen.push((cqe.user_data(), cqe.res()));
        let back = cqe.take_buf();
        assert!(cqe.take_buf().is_none(), "the buffer comes back once");
        (seen, back)
    });
    let back = back.expect("the owned buffer, back with the read");
    assert_kernel_bytes(&back, b"its data", "the owned read");
    let last = seen.iter().rev().find(|&&(u, _)| u == 2).unwrap().1;
    assert_eq!(last, -libc::ECANCELED, "{seen:?}");
    let cancel = seen.iter().find(|&&(u, _)| u == 10).unwrap().1;
    assert_eq!(cancel, 0, "the cancel found the poll by its tag: {seen:?}");
    assert_eq!(
        counts(&seen).into_iter().collect::<Vec<_>>(),
        [(1, 1), (2, 2), (5, 1), (6, 1), (8, 1), (10, 1)],
        "{seen:?}"
    );
    assert!(uring_tests::stray(&mut ring).is_empty());
}

/// SAFETY.md, invariant 6: "A `Fixed` carries its ring's id (ids are
/// never reused), and every safe push ... refuses one of another ring
/// (`PushErrorKind::ForeignFile`)". Across a resize, which swaps the
/// ring's queues: the ring's own `Fixed` is still taken (the id is the
/// ring's, not its queues'), and one of the resized ring is still refused
/// by another ring, in a scope and through `Ring::push` alike.
#[test]
fn registered_files_keep_their_ring_across_a_resize() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = uring_tests::resizable_ring(4) else {
        return;
    };
    let (rx, tx) = pipe();
    let mut tx = std::fs::File::from(tx);
    let files = ring
        .register_files(&[std::os::fd::AsFd::as_fd(&rx)])
        .unwrap();
    if let Err(e) = ring.resize(8, 32) {
        uring_tests::skip(format!("the kernel does not resize this ring: {e}"));
        return;
    }
    let mut other = Ring::new(4).unwrap();
    let mut buf = [CANARY; 4];
    other.scope(|s| {
        let refused = s
            .push(Read::new(files.get(0).unwrap(), &mut buf[..]).user_data(1))
            .expect_err("a Fixed of the resized ring, on another ring");
        assert_eq!(refused.kind(), PushErrorKind::ForeignFile);
        assert_eq!(s.in_flight(), 0);
    });
    assert_eq!(other.pending(), 0);
    assert_eq!(buf, [CANARY; 4]);
    tx.write_all(b"mine").unwrap();
    let res = ring.scope(|s| {
        s.push(Read::new(files.get(0).unwrap(), &mut buf[..]).user_data(2))
            .unwrap();
        s.submit().unwrap();
        let cqe = uring_tests::next_scope_cqe(s);
        (cqe.user_data(), cqe.res())
    });
    assert_eq!(res, (2, 4));
    assert_kernel_bytes(&buf, b"mine", "the fixed read after the resize");
}

/// SAFETY.md, invariant 11: "an op refused after it was written completes
/// with its errno". A poll update the scope refuses (a rename to a
/// tag-shaped value) completes with `EINVAL`, and the ops pushed after it
/// in the same submit still complete, each once, through `submit_and_wait`
/// calls alone: the refusal loses no op behind it and leaves no wait
/// hanging.
#[test]
fn ops_behind_a_refused_poll_update_complete_through_submit_and_wait() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(5, 13, "poll updates") {
        return;
    }
    let (polled, _poke) = UnixStream::pair().unwrap();
    let mut ring = Ring::new(16).unwrap();
    let seen = ring.scope(|s| {
        s.push(PollAdd::new(&polled, PollEvents::IN).user_data(5))
            .unwrap();
        s.push(PollUpdate::new(5).new_user_data(TAG_BIT | 3).user_data(6))
            .unwrap();
        s.push(Nop::new().user_data(7)).unwrap();
        s.push(Nop::new().user_data(8)).unwrap();
        let mut seen = Vec::new();
        while seen.len() < 3 {
            s.submit_and_wait(3 - seen.len() as u32).unwrap();
            seen.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        assert_eq!(s.in_flight(), 1, "the poll");
        seen
    });
    let mut seen = seen;
    seen.sort_unstable();
    assert_eq!(seen, [(6, -libc::EINVAL), (7, 0), (8, 0)]);
    assert!(uring_tests::stray(&mut ring).is_empty());
}
