//! Attacks in safe code on the promises of scopes and chains, each checked
//! against what the kernel really did:
//! - run-time chains (`Linked`, `Either`, `then_write` pairs) that fill the
//!   SQ exactly, that are one SQE longer than it, or that would put more
//!   ops in flight than the scope tracks on a CQ larger than the SQ: pushed
//!   whole or handed back whole, every element completing once, in order;
//! - chains over one owned vector whose middle op times out by a link
//!   timeout, fails, is cancelled (by SQE or synchronously) while it runs,
//!   or is named by a cancel before it starts: each op completes once, and
//!   the vector comes back once, with the chain's last completion, with the
//!   same allocation and nothing written where no op read into it;
//! - `push_owned` closures that push nothing, or whose push is refused by a
//!   full queue or a full scope, and an empty vector: the vector comes back
//!   as it went (pointer, length, capacity, bytes);
//! - `user_data` at the top of the range (`u64::MAX`, `1 << 63`), shared by
//!   several ops, or copied from the raw tags the kernel shows in
//!   `/proc/self/fdinfo` while the scope runs, named by cancels of every
//!   kind: each completion comes out once, with the value it was pushed
//!   with, and a pending read keeps its buffer;
//! - scopes nested in another ring's scope whose batches are forgotten,
//!   completion iterators forgotten half-way, and absurd counts and
//!   timeouts given to a scope's waits and cancels: errors, never panics;
//! - a chain of nine SQEs on an SQPOLL ring that shares its SQ thread with
//!   another ring, which the kernel cuts after eight (ignored: a defect).

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use uring::ops::{Cancel, Nop, Read, Write};
use uring::{Either, Linked, PushErrorKind, Ring, Scope, SyncCancel};
use uring_tests::PATIENCE;
use uring_tests::net::assert_kernel_bytes;

const CANARY: u8 = 0x5a;

/// With `tag_all`, pushes a NOP outside any scope and reaps it: every
/// later scope of the ring then tags every op.
fn tag_every_op_if<S: uring::SqeSize>(ring: &mut Ring<S>, tag_all: bool) {
    if tag_all {
        ring.push(Nop::new()).unwrap();
        ring.submit_and_wait(1).unwrap();
        assert_eq!(ring.completions().count(), 1);
        assert!(ring.scope(|s| s.tags_every_op()));
    } else {
        assert!(!ring.scope(|s| s.tags_every_op()), "a clean ring's scope");
    }
}

/// One completion read in a scope: its `user_data`, result, whether more
/// follow, and the owned buffer it brought back.
#[derive(Debug)]
struct Seen {
    ud: u64,
    res: i32,
    more: bool,
    buf: Option<Vec<u8>>,
}

/// Submits and reads the scope's completions until `done` says enough
/// came, within [`PATIENCE`]; returns all read, in order, each buffer
/// taken (and a second take checked to give nothing).
fn reap_until(s: &mut Scope<'_, '_>, mut done: impl FnMut(&[Seen]) -> bool) -> Vec<Seen> {
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    while !done(&seen) {
        assert!(Instant::now() < deadline, "no end in sight: {seen:?}");
        s.submit().unwrap();
        let _ = s.wait_timeout(1, Duration::from_millis(20));
        for mut c in s.completions() {
            let buf = c.take_buf();
            assert!(c.take_buf().is_none(), "a buffer is taken once");
            seen.push(Seen {
                ud: c.user_data(),
                res: c.res(),
                more: c.has_more(),
                buf,
            });
        }
    }
    seen
}

/// Submits, waits up to `wait` for a completion, and reads what is ready.
fn reap_once(s: &mut Scope<'_, '_>, wait: Duration) -> Vec<Seen> {
    s.submit().unwrap();
    let _ = s.wait_timeout(1, wait);
    s.completions()
        .map(|mut c| Seen {
            ud: c.user_data(),
            res: c.res(),
            more: c.has_more(),
            buf: c.take_buf(),
        })
        .collect()
}

/// Whether every one of `uds` has a last completion in `seen`.
fn all_done(seen: &[Seen], uds: &[u64]) -> bool {
    uds.iter()
        .all(|&ud| seen.iter().any(|c| c.ud == ud && !c.more))
}

/// The results of `seen` as `(user_data, res)`, in order.
fn pairs(seen: &[Seen]) -> Vec<(u64, i32)> {
    seen.iter().map(|c| (c.ud, c.res)).collect()
}

/// How many completions each `user_data` got.
fn counts(seen: &[Seen]) -> HashMap<u64, u32> {
    let mut m = HashMap::new();
    for c in seen {
        *m.entry(c.ud).or_insert(0) += 1;
    }
    m
}

/// A connected pair of unix streams.
fn stream_pair() -> (UnixStream, UnixStream) {
    UnixStream::pair().unwrap()
}

/// After a scope: nothing is left reading from `rx` (what is written to
/// `tx` now is all there, in order) and nothing was written to `rx` by an
/// op of the scope beyond `expect`.
fn assert_stream_holds(tx: &mut UnixStream, rx: &mut UnixStream, expect: &[u8]) {
    tx.write_all(b"late").unwrap();
    rx.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut got = vec![0u8; expect.len() + 4];
    rx.read_exact(&mut got).unwrap();
    assert_eq!(&got[..expect.len()], expect, "written by the scope's ops");
    assert_eq!(&got[expect.len()..], b"late", "taken by a read left behind");
    rx.set_nonblocking(true).unwrap();
    let mut more = [0u8; 1];
    assert!(
        rx.read(&mut more).is_err(),
        "nothing else was written to the stream"
    );
}

/// A NOP chain of `n` elements from `user_data` `base` on.
fn nops(base: u64, n: u64) -> Linked<Nop> {
    Linked::new((0..n).map(|i| Nop::new().user_data(base + i)).collect())
}

/// A run-time chain exactly as long as the SQ is pushed whole; one SQE
/// longer is handed back whole, with nothing pushed, whether the CQ is as
/// large as the SQ or twice as large, in a scope that tags every op or
/// not. On the larger CQ, the scope takes a second full chain while the
/// first's completions wait unread, and then refuses even one op as
/// `ScopeFull` (not `QueueFull`: the SQ is empty) until they are read.
/// Every element completes once, chains in the order they were linked.
#[test]
fn linked_chains_that_fill_the_sq_or_overflow_it_by_one() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        for cq in [8u32, 16] {
            let mut ring = Ring::builder().cq_entries(cq).build(8).unwrap();
            tag_every_op_if(&mut ring, tag_all);
            let seen = ring.scope(|s| {
                // Over the SQ, and with a CQ of eight, over the scope's
                // limit too: that is the reason given.
                let nine = s.push_linked(nops(100, 9)).unwrap_err();
                let over = if cq == 8 {
                    PushErrorKind::ScopeFull
                } else {
                    PushErrorKind::QueueFull
                };
                assert_eq!(nine.kind(), over, "cq {cq}");
                assert_eq!(nine.into_inner().len(), 9, "the chain, back whole");
                assert_eq!((s.in_flight(), s.space_left()), (0, 8));
                s.push_linked(nops(0, 8)).unwrap();
                assert_eq!((s.in_flight(), s.space_left()), (8, 0));
                let one = s.push(Nop::new().user_data(999)).unwrap_err();
                let want = if cq == 8 {
                    PushErrorKind::ScopeFull
                } else {
                    PushErrorKind::QueueFull
                };
                assert_eq!(one.kind(), want, "cq {cq}");
                assert_eq!(s.submit().unwrap(), 8);
                if cq == 16 {
                    // Room for eight more in the scope and in the SQ.
                    assert!(s.push_linked(nops(200, 9)).is_err());
                    s.push_linked(nops(200, 8)).unwrap();
                    assert_eq!(s.submit().unwrap(), 8);
                    assert_eq!(s.in_flight(), 16);
                }
                let refused = s.push_linked(nops(300, 1)).unwrap_err();
                assert_eq!(refused.kind(), PushErrorKind::ScopeFull, "cq {cq}");
                assert_eq!(refused.into_inner().len(), 1);
                let lasts: Vec<u64> = if cq == 16 {
                    (0..8).chain(200..208).collect()
                } else {
                    (0..8).collect()
                };
                let mut seen = reap_until(s, |seen| all_done(seen, &lasts));
                // The room the read completions opened takes a chain again.
                s.push_linked(nops(300, 8)).unwrap();
                let tail: Vec<u64> = (300..308).collect();
                seen.extend(reap_until(s, |seen| all_done(seen, &tail)));
                assert_eq!(s.in_flight(), 0);
                seen
            });
            let mut want: Vec<(u64, i32)> = (0..8).map(|i| (i, 0)).collect();
            if cq == 16 {
                want.extend((200..208).map(|i| (i, 0)));
            }
            want.extend((300..308).map(|i| (i, 0)));
            assert_eq!(pairs(&seen), want, "tag_all {tag_all} cq {cq}");
            assert!(seen.iter().all(|c| c.buf.is_none() && !c.more));
        }
    }
}

/// A `then_write` pair of the `n`-th block of 16 bytes (from `first` on),
/// each read carrying `user_data` `2 * n` and its write `2 * n + 1`.
type CopyPair<'a> = uring::Link<
    Read<'a, uring::Fd<'a>, &'a mut [u8]>,
    uring::ops::ThenWrite<Write<'a, uring::Fd<'a>>>,
>;

/// The pairs that copy block `first + i` of `src` through `bufs[i]` to the
/// same offset of `dst`.
fn copy_pairs<'a>(
    src: &'a std::fs::File,
    dst: &'a std::fs::File,
    bufs: &'a mut [[u8; 16]],
    first: u64,
) -> Vec<CopyPair<'a>> {
    bufs.iter_mut()
        .enumerate()
        .map(|(i, b)| {
            let n = first + i as u64;
            Read::new(src, &mut b[..])
                .offset(16 * n)
                .user_data(2 * n)
                .then_write_with(dst, |w| w.offset(16 * n).user_data(2 * n + 1))
        })
        .collect()
}

/// `then_write` pairs (two SQEs each) in a `Linked` chain, and an `Either`
/// chain of pairs and two-NOP chains: four elements fill an SQ of eight
/// and are pushed whole, five are handed back whole. The pushed copies
/// land whole in the destination, every SQE completing once, in order; a
/// short read in the middle pair cancels its write and every element after
/// it, and the destination keeps what was there.
#[test]
fn then_write_pairs_fill_the_sq_whole_or_not_at_all() {
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    for tag_all in [false, true] {
        let src = std::fs::File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.path().join("src"))
            .unwrap();
        let dst = std::fs::File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.path().join("dst"))
            .unwrap();
        // Four blocks of 16 bytes, then 8 bytes only: a fifth read at 64
        // is short.
        let data = uring_tests::pattern(72, 3);
        src.write_all_at(&data, 0).unwrap();
        dst.write_all_at(&[CANARY; 128], 0).unwrap();
        let mut ring = Ring::new(8).unwrap();
        tag_every_op_if(&mut ring, tag_all);
        let mut bufs = [[CANARY; 16]; 5];
        let seen = ring.scope(|s| {
            let (four, last) = bufs.split_at_mut(4);
            let mut five = copy_pairs(&src, &dst, four, 0);
            five.extend(copy_pairs(&src, &dst, last, 4));
            let back = s.push_linked(Linked::new(five)).unwrap_err();
            assert_eq!(back.kind(), PushErrorKind::QueueFull);
            let mut five = back.into_inner().into_inner();
            assert_eq!(five.len(), 5);
            assert_eq!(s.in_flight(), 0);
            let fifth = five.pop().unwrap();
            s.push_linked(Linked::new(five)).unwrap();
            assert_eq!((s.in_flight(), s.space_left()), (8, 0));
            let uds: Vec<u64> = (0..8).collect();
            let mut seen = reap_until(s, |seen| all_done(seen, &uds));
            // The short pair in the middle of a chain of NOP pairs.
            let chain: Vec<Either<_, _>> = vec![
                Either::Right(Nop::new().user_data(20).link(Nop::new().user_data(21))),
                Either::Left(fifth),
                Either::Right(Nop::new().user_data(22).link(Nop::new().user_data(23))),
            ];
            s.push_linked(Linked::new(chain)).unwrap();
            let uds = [20, 21, 8, 9, 22, 23];
            seen.extend(reap_until(s, |seen| all_done(seen, &uds)));
            seen
        });
        let mut want: Vec<(u64, i32)> = (0..8).map(|i| (i, 16)).collect();
        want.extend([
            (20, 0),
            (21, 0),
            (8, 8),
            (9, -libc::ECANCELED),
            (22, -libc::ECANCELED),
            (23, -libc::ECANCELED),
        ]);
        assert_eq!(pairs(&seen), want, "tag_all {tag_all}");
        let mut copied = [0u8; 128];
        dst.read_exact_at(&mut copied, 0).unwrap();
        assert_eq!(&copied[..64], &data[..64], "the four copies");
        assert!(copied[64..].iter().all(|&b| b == CANARY), "no fifth write");
        for (i, b) in bufs[..4].iter().enumerate() {
            assert_kernel_bytes(b, &data[16 * i..16 * i + 16], "a pair's buffer");
        }
        assert_kernel_bytes(&bufs[4][..8], &data[64..], "the short read");
        assert!(bufs[4][8..].iter().all(|&b| b == CANARY));
    }
}

/// How the middle op of a chain over one owned vector ends.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Middle {
    /// Its link timeout fires.
    TimedOut,
    /// It fails at once (no descriptor), hard-linked on both sides.
    Fails,
    /// `Scope::cancel` names it while it waits.
    Cancelled,
    /// `Scope::cancel_sync` names it while it waits.
    CancelledSync,
}

/// A chain over three parts of one owned vector (with spare capacity): a
/// read that fills the first part, a read into the second that waits for
/// data, and a write out of the third. However the middle ends, each of
/// its SQEs completes once, and the vector comes back once, with the
/// chain's last completion read (none before it), with the same
/// allocation, the first part read, the second untouched and the third as
/// it was; the write sends only when the chain goes on.
#[test]
fn a_chain_over_one_owned_vector_whose_middle_op_ends_early() {
    let _watch = uring_tests::watchdog();
    for middle in [
        Middle::TimedOut,
        Middle::Fails,
        Middle::Cancelled,
        Middle::CancelledSync,
    ] {
        for tag_all in [false, true] {
            let mut ring = Ring::new(8).unwrap();
            tag_every_op_if(&mut ring, tag_all);
            let (mut tx_a, rx_a) = stream_pair();
            let (mut tx_b, mut rx_b) = stream_pair();
            let (tx_c, mut rx_c) = stream_pair();
            tx_a.write_all(b"headpart").unwrap();
            let mut vec = Vec::with_capacity(64);
            vec.resize(24, CANARY);
            vec[16..].copy_from_slice(b"tailpart");
            let (ptr, cap) = (vec.as_ptr(), vec.capacity());
            let (seen, uds) = ring.scope(|s| {
                s.push_owned(vec, |buf, push| {
                    let (p1, rest) = buf.split_at_mut(8);
                    let (p2, p3) = rest.split_at_mut(8);
                    let head = Read::new(&rx_a, p1).user_data(1);
                    let write = Write::new(&tx_c, p3).user_data(4);
                    match middle {
                        Middle::TimedOut => push.push(
                            head.link(Read::new(&rx_b, p2).user_data(2))
                                .timeout_with(Duration::from_millis(20), 3)
                                .link(write),
                        ),
                        Middle::Fails => push.push(
                            head.hard_link(Read::new(uring_tests::bad_fd(), p2).user_data(2))
                                .hard_link(write),
                        ),
                        Middle::Cancelled | Middle::CancelledSync => {
                            push.push(head.link(Read::new(&rx_b, p2).user_data(2)).link(write))
                        }
                    }
                })
                .unwrap();
                let uds: Vec<u64> = if middle == Middle::TimedOut {
                    vec![1, 2, 3, 4]
                } else {
                    vec![1, 2, 4]
                };
                assert_eq!(s.in_flight(), uds.len() as u32);
                let mut seen = reap_until(s, |seen| all_done(seen, &[1]));
                if matches!(middle, Middle::Cancelled | Middle::CancelledSync) {
                    // The read starts once the head is done (task work of
                    // the head's completion): a cancel that comes first
                    // finds nothing, and is sent again.
                    let deadline = Instant::now() + PATIENCE;
                    while !all_done(&seen, &[2]) {
                        assert!(Instant::now() < deadline, "{seen:?}");
                        if middle == Middle::Cancelled {
                            assert_eq!(s.cancel(2).unwrap(), 1, "one op carries 2");
                        } else {
                            match s.cancel_sync(SyncCancel::user_data(2), Some(PATIENCE)) {
                                Ok(()) => {}
                                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                                Err(e) => panic!("cancel_sync: {e}"),
                            }
                        }
                        seen.extend(reap_once(s, Duration::from_millis(20)));
                    }
                }
                let deadline = Instant::now() + PATIENCE;
                while !all_done(&seen, &uds) {
                    assert!(Instant::now() < deadline, "{seen:?}");
                    seen.extend(reap_until(s, |more| !more.is_empty()));
                }
                assert_eq!(s.in_flight(), 0);
                (seen, uds)
            });
            let what = format!("{middle:?}, tag_all {tag_all}: {seen:?}");
            let c = counts(&seen);
            for ud in &uds {
                assert_eq!(c.get(ud), Some(&1), "{what}");
            }
            assert_eq!(seen.len(), uds.len(), "{what}");
            let res: HashMap<u64, i32> = seen.iter().map(|c| (c.ud, c.res)).collect();
            assert_eq!(res[&1], 8, "{what}");
            match middle {
                Middle::TimedOut => {
                    assert_eq!(res[&2], -libc::ECANCELED, "{what}");
                    assert_eq!(res[&3], -libc::ETIME, "{what}");
                    assert_eq!(res[&4], -libc::ECANCELED, "{what}");
                }
                Middle::Fails => {
                    assert_eq!(res[&2], -libc::EBADF, "{what}");
                    assert_eq!(res[&4], 8, "{what}");
                }
                Middle::Cancelled | Middle::CancelledSync => {
                    assert_eq!(res[&2], -libc::ECANCELED, "{what}");
                    assert_eq!(res[&4], -libc::ECANCELED, "{what}");
                }
            }
            // The vector came back once, with the last completion read.
            let with_buf: Vec<usize> = (0..seen.len()).filter(|&i| seen[i].buf.is_some()).collect();
            assert_eq!(with_buf, [seen.len() - 1], "{what}");
            let back = seen.into_iter().last().unwrap().buf.unwrap();
            assert_eq!((back.as_ptr(), back.capacity(), back.len()), (ptr, cap, 24));
            assert_kernel_bytes(&back[..8], b"headpart", "the head's read");
            assert!(back[8..16].iter().all(|&b| b == CANARY), "{what}");
            assert_eq!(&back[16..], b"tailpart", "{what}");
            let sent: &[u8] = if middle == Middle::Fails {
                b"tailpart"
            } else {
                b""
            };
            let mut tx_c = tx_c;
            assert_stream_holds(&mut tx_c, &mut rx_c, sent);
            assert_stream_holds(&mut tx_b, &mut rx_b, b"");
        }
    }
}

/// A cancel that names a chain's middle op before the op starts (its head
/// waits for data) finds nothing in the kernel: `Scope::cancel` queues its
/// one request, `cancel_sync` says `ENOENT`. The chain then runs on as if
/// no cancel had come, each op completing once with its full result, and
/// the borrowed buffers of the two reads get exactly their data.
#[test]
fn a_cancel_that_names_a_chain_s_middle_op_before_it_starts() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = Ring::new(8).unwrap();
        tag_every_op_if(&mut ring, tag_all);
        let (mut tx_a, rx_a) = stream_pair();
        let (mut tx_b, rx_b) = stream_pair();
        let mut a = [CANARY; 4];
        let mut b = [CANARY; 4];
        let seen = ring.scope(|s| {
            s.push(
                Read::new(&rx_a, &mut a[..])
                    .user_data(1)
                    .link(Read::new(&rx_b, &mut b[..]).user_data(2))
                    .link(Nop::new().user_data(3)),
            )
            .unwrap();
            s.submit().unwrap();
            std::thread::sleep(Duration::from_millis(10));
            let requests = s.cancel(2).unwrap();
            // A scope that tags every op finds the one op; a fast one asks
            // the kernel once for every untagged op carrying 2.
            assert_eq!(requests, 1);
            let sync = s.cancel_sync(SyncCancel::user_data(2), Some(Duration::from_millis(200)));
            let err = sync.unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err}");
            s.submit().unwrap();
            std::thread::sleep(Duration::from_millis(10));
            assert_eq!(s.in_flight(), 3, "nothing was cancelled");
            tx_a.write_all(b"AAAA").unwrap();
            let mut seen = reap_until(s, |seen| all_done(seen, &[1]));
            assert_eq!(s.in_flight(), 2);
            tx_b.write_all(b"BBBB").unwrap();
            seen.extend(reap_until(s, |seen| all_done(seen, &[2, 3])));
            seen
        });
        assert_eq!(pairs(&seen), [(1, 4), (2, 4), (3, 0)], "tag_all {tag_all}");
        assert_kernel_bytes(&a, b"AAAA", "the head");
        assert_kernel_bytes(&b, b"BBBB", "the middle");
    }
}

/// `push_owned` hands the vector back as it went (pointer, length,
/// capacity, bytes) when its closure pushes nothing, when the SQ is full,
/// when the chain it pushes can never fit the SQ, and when the scope is
/// full; an empty vector lent to a read of nothing comes back with the
/// read's completion. Each refusal says why, and the scope's count of ops
/// does not move.
#[test]
fn refused_owned_pushes_hand_back_the_same_vector() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = Ring::builder().cq_entries(4).build(2).unwrap();
        tag_every_op_if(&mut ring, tag_all);
        let (mut tx, rx) = stream_pair();
        let make = || {
            let mut v = Vec::with_capacity(40);
            v.extend_from_slice(b"owned bytes, as they were");
            v
        };
        let check = |back: Vec<u8>, ptr: *const u8, cap: usize, what: &str| {
            assert_eq!((back.as_ptr(), back.capacity()), (ptr, cap), "{what}");
            assert_eq!(&back[..], b"owned bytes, as they were", "{what}");
        };
        ring.scope(|s| {
            let v = make();
            let (ptr, cap) = (v.as_ptr(), v.capacity());
            let e = s.push_owned(v, |_, _| {}).unwrap_err();
            assert_eq!(e.kind(), PushErrorKind::NothingPushed);
            check(e.into_inner(), ptr, cap, "nothing pushed");

            let v = make();
            let (ptr, cap) = (v.as_ptr(), v.capacity());
            let e = s
                .push_owned(v, |buf, push| {
                    push.push(
                        Read::new(&rx, buf)
                            .user_data(1)
                            .link(Nop::new().user_data(2))
                            .link(Nop::new().user_data(3)),
                    )
                })
                .unwrap_err();
            assert_eq!(e.kind(), PushErrorKind::QueueFull);
            check(e.into_inner(), ptr, cap, "a chain longer than the SQ");
            assert_eq!(s.in_flight(), 0);

            // Two reads that wait fill the SQ; a third is refused.
            for ud in [10, 11] {
                s.push_owned(vec![CANARY; 4], |buf, push| {
                    push.push(Read::new(&rx, buf).user_data(ud))
                })
                .unwrap();
            }
            let v = make();
            let (ptr, cap) = (v.as_ptr(), v.capacity());
            let e = s
                .push_owned(v, |buf, push| push.push(Read::new(&rx, buf).user_data(12)))
                .unwrap_err();
            assert_eq!(e.kind(), PushErrorKind::QueueFull);
            check(e.into_inner(), ptr, cap, "a full SQ");
            s.submit().unwrap();
            for ud in [12, 13] {
                s.push_owned(vec![CANARY; 4], |buf, push| {
                    push.push(Read::new(&rx, buf).user_data(ud))
                })
                .unwrap();
            }
            s.submit().unwrap();
            assert_eq!(s.in_flight(), 4);
            // The SQ is empty, the scope full.
            let v = make();
            let (ptr, cap) = (v.as_ptr(), v.capacity());
            let e = s
                .push_owned(v, |buf, push| push.push(Read::new(&rx, buf).user_data(14)))
                .unwrap_err();
            assert_eq!(e.kind(), PushErrorKind::ScopeFull);
            check(e.into_inner(), ptr, cap, "a full scope");
            assert_eq!(s.in_flight(), 4);

            // Data for the four reads: each comes back once with its bytes.
            tx.write_all(b"0123456789abcdef").unwrap();
            let mut seen = reap_until(s, |seen| all_done(seen, &[10, 11, 12, 13]));
            assert_eq!(seen.len(), 4, "{seen:?}");
            let mut all = Vec::new();
            for c in &mut seen {
                assert_eq!(c.res, 4, "{c:?}");
                let b = c.buf.take().expect("each read's vector");
                assert_eq!(b.len(), 4);
                all.extend(b);
            }
            assert_eq!(all.len(), 16);
            if !uring_tests::under_valgrind() {
                all.sort_unstable();
                let mut want = b"0123456789abcdef".to_vec();
                want.sort_unstable();
                assert_eq!(all, want, "every byte read once");
            }

            // An empty vector (no allocation) lent to a read of nothing.
            let v: Vec<u8> = Vec::new();
            let (ptr, cap) = (v.as_ptr(), v.capacity());
            s.push_owned(v, |buf, push| push.push(Read::new(&rx, buf).user_data(20)))
                .unwrap();
            let seen = reap_until(s, |seen| all_done(seen, &[20]));
            assert_eq!(pairs(&seen), [(20, 0)]);
            let back = seen.into_iter().next().unwrap().buf.unwrap();
            assert_eq!((back.as_ptr(), back.capacity(), back.len()), (ptr, cap, 0));
        });
    }
}

/// `user_data` at the top of the range, shared by several ops, and copied
/// from the scope's raw tags, which the kernel shows in
/// `/proc/self/fdinfo` while the scope runs (the tag of a settled op read
/// there gives the scope's key, and so the raw tag of the next tagged op,
/// a read left pending). NOPs carrying them in a `Linked` chain each
/// complete once with the value they were pushed with, the one carrying
/// the read's raw tag among them; cancels (ops, `Scope::cancel`,
/// `cancel_sync`) naming a stale tag or a near one find nothing; the read,
/// which carries `u64::MAX` like one of the NOPs, keeps its buffer
/// untouched until a cancel ends it: `Scope::cancel(u64::MAX)`, or a cancel
/// op naming its raw tag, which reaches the kernel as it is. Either way the
/// read completes once, as `-ECANCELED` under `u64::MAX`.
#[test]
fn top_bit_and_leaked_tag_user_data_come_back_once() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        for by_raw_tag in [false, true] {
            let mut ring = Ring::new(16).unwrap();
            tag_every_op_if(&mut ring, tag_all);
            let fd = ring.as_raw_fd();
            let (mut tx, mut rx) = stream_pair();
            let mut buf = [CANARY; 8];
            let (seen, values) = ring.scope(|s| {
                // The ring's first tagged op: count 0x8000_0001, slot 0.
                s.push(Nop::new().user_data(1 << 63 | 5)).unwrap();
                s.submit_and_wait(1).unwrap();
                let shown = uring_tests::fdinfo_user_data(fd);
                assert_eq!(shown.len(), 1, "{shown:x?}");
                let stale = shown[0];
                let key = stale ^ 0x8000_0001 << 32;
                assert_eq!(key >> 63, 0, "keys have the top bit clear");
                let mut seen = reap_until(s, |seen| all_done(seen, &[1 << 63 | 5]));
                // The next takes the slot freed, with the next count.
                let raw = key ^ 0x8000_0002 << 32;
                s.push(Read::new(&rx, &mut buf[..]).user_data(u64::MAX))
                    .unwrap();
                s.submit().unwrap();
                let values = [
                    u64::MAX,
                    1 << 63,
                    (1 << 63) - 1,
                    0,
                    raw,
                    raw ^ 1,
                    !raw,
                    stale,
                    (1 << 63) | 1,
                ];
                s.push_linked(Linked::new(
                    values.iter().map(|&v| Nop::new().user_data(v)).collect(),
                ))
                .unwrap();
                seen.extend(reap_until(s, |seen| seen.len() >= values.len()));
                assert_eq!(s.in_flight(), 1, "the read waits");
                for named in [stale, raw ^ 1] {
                    s.push(Cancel::new(named).user_data(40)).unwrap();
                    let c = reap_until(s, |seen| all_done(seen, &[40]));
                    assert_eq!(pairs(&c), [(40, -libc::ENOENT)], "{named:#x}");
                    let e = s
                        .cancel_sync(SyncCancel::user_data(named), Some(Duration::MAX))
                        .unwrap_err();
                    assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e}");
                    assert_eq!(s.cancel(named).unwrap(), 0, "{named:#x}");
                }
                assert_eq!(s.cancel(raw).unwrap(), 0, "no live op carries it");
                assert_eq!(s.in_flight(), 1, "the read waits still");
                if by_raw_tag {
                    s.push(Cancel::new(raw).user_data(41)).unwrap();
                    seen.extend(reap_until(s, |seen| all_done(seen, &[41, u64::MAX])));
                } else {
                    assert_eq!(s.cancel(u64::MAX).unwrap(), 1);
                    seen.extend(reap_until(s, |seen| all_done(seen, &[u64::MAX])));
                }
                assert_eq!(s.in_flight(), 0);
                (seen, values)
            });
            let what = format!("tag_all {tag_all}, by_raw_tag {by_raw_tag}");
            let mut want = vec![(1 << 63 | 5, 0)];
            want.extend(values.iter().map(|&v| (v, 0)));
            let mut tail = vec![(u64::MAX, -libc::ECANCELED)];
            if by_raw_tag {
                tail.push((41, 0));
            }
            let mut got = pairs(&seen);
            got[want.len()..].sort_unstable();
            tail.sort_unstable();
            want.extend(tail);
            assert_eq!(got, want, "{what}");
            assert!(buf.iter().all(|&b| b == CANARY), "{what}");
            assert_stream_holds(&mut tx, &mut rx, b"");
        }
    }
}

/// A scope of one ring nested in a scope of another: the inner one's batch,
/// holding a borrowed and an owned read, is forgotten and never submitted,
/// and the inner scope returns at once; it still runs or cancels both reads
/// before it returns, so neither touches its buffer nor takes a byte of
/// the stream. In the outer scope, completion iterators forgotten after
/// one completion lose and repeat nothing, while more ops are pushed
/// between them.
#[test]
fn nested_scopes_with_forgotten_batches_and_iterators() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut outer = Ring::new(8).unwrap();
        let mut inner = Ring::new(8).unwrap();
        tag_every_op_if(&mut outer, tag_all);
        tag_every_op_if(&mut inner, !tag_all);
        let (mut tx_a, mut rx_a) = stream_pair();
        let (mut tx_b, mut rx_b) = stream_pair();
        let mut outer_buf = [CANARY; 8];
        let mut inner_buf = [CANARY; 8];
        let seen = outer.scope(|so| {
            so.push(Read::new(&rx_a, &mut outer_buf[..]).user_data(1))
                .unwrap();
            so.push_linked(nops(10, 3)).unwrap();
            so.submit().unwrap();
            let kept = inner.scope(|si| {
                let mut sq = si.submission();
                sq.push(Read::new(&rx_b, &mut inner_buf[..]).user_data(2))
                    .unwrap();
                sq.push_owned(vec![CANARY; 8], |buf, push| {
                    push.push(Read::new(&rx_b, buf).user_data(3))
                })
                .unwrap();
                std::mem::forget(sq);
                assert_eq!(si.in_flight(), 2);
                si.in_flight()
            });
            assert_eq!(kept, 2);
            let mut seen = Vec::new();
            let mut next = 20;
            let deadline = Instant::now() + PATIENCE;
            while seen.len() < 9 {
                assert!(Instant::now() < deadline, "{seen:?}");
                let _ = so.wait_timeout(1, Duration::from_millis(20));
                let mut it = so.completions();
                if let Some(c) = it.next() {
                    seen.push((c.user_data(), c.res()));
                }
                std::mem::forget(it);
                if next < 26 {
                    so.push(Nop::new().user_data(next)).unwrap();
                    next += 1;
                    so.submit().unwrap();
                }
            }
            assert_eq!(so.in_flight(), 1, "the outer read waits: {seen:?}");
            seen
        });
        let mut uds: Vec<u64> = seen.iter().map(|&(ud, _)| ud).collect();
        uds.sort_unstable();
        assert_eq!(
            uds,
            [10, 11, 12, 20, 21, 22, 23, 24, 25],
            "tag_all {tag_all}"
        );
        assert!(seen.iter().all(|&(_, res)| res == 0));
        assert!(outer_buf.iter().all(|&b| b == CANARY));
        assert!(inner_buf.iter().all(|&b| b == CANARY));
        assert_stream_holds(&mut tx_a, &mut rx_a, b"");
        assert_stream_holds(&mut tx_b, &mut rx_b, b"");
        assert!(uring_tests::stray(&mut outer).is_empty());
        assert!(uring_tests::stray(&mut inner).is_empty());
    }
}

/// Absurd counts and timeouts given to a scope's waits, cancels and pushes
/// are answered with errors or empty results, never a panic, and leave the
/// scope able to run ops: waits for more completions than the CQ holds
/// (with a timeout), synchronous cancels with `Duration::MAX` of values no
/// op carries, an empty `Linked` chain.
#[test]
fn absurd_counts_and_timeouts_in_a_scope_are_errors() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = Ring::new(4).unwrap();
        tag_every_op_if(&mut ring, tag_all);
        ring.scope(|s| {
            s.push(Nop::new().user_data(1)).unwrap();
            let start = Instant::now();
            let waited = s.submit_and_wait_timeout(u32::MAX, Duration::from_millis(20));
            assert!(waited.is_err(), "{waited:?}");
            let waited = s.wait_timeout(u32::MAX, Duration::from_millis(20));
            assert!(waited.is_err(), "{waited:?}");
            assert!(start.elapsed() < PATIENCE);
            for ud in [0, 1 << 63, u64::MAX] {
                let e = s
                    .cancel_sync(SyncCancel::user_data(ud), Some(Duration::MAX))
                    .unwrap_err();
                assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{ud:#x}: {e}");
                assert!(
                    s.cancel_sync(SyncCancel::user_data(ud).all(), Some(Duration::MAX))
                        .is_ok()
                );
            }
            let empty: Linked<Nop> = Linked::new(Vec::new());
            s.push_linked(empty).unwrap();
            assert_eq!(s.in_flight(), 1);
            let seen = reap_until(s, |seen| all_done(seen, &[1]));
            assert_eq!(pairs(&seen), [(1, 0)]);
            s.push_linked(nops(2, 4)).unwrap();
            let seen = reap_until(s, |seen| all_done(seen, &[2, 3, 4, 5]));
            assert_eq!(pairs(&seen), [(2, 0), (3, 0), (4, 0), (5, 0)]);
        });
    }
}

/// Whether a byte waits to be read from the pipe `rx`, without reading.
fn pipe_has_data(rx: &std::os::fd::OwnedFd) -> bool {
    let mut pollfd = libc::pollfd {
        fd: rx.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid `pollfd`, for the length of the call.
    let ready = unsafe { libc::poll(&mut pollfd, 1, 0) };
    ready == 1 && pollfd.revents & libc::POLLIN != 0
}

/// A chain of nine SQEs (seven NOPs, then a `then_write` pair whose read
/// waits on an empty pipe) pushed whole in a scope of an SQPOLL ring: the
/// pair's write must not start before its read has filled the buffer, so
/// while the read waits, the NOPs complete and nothing else does, and
/// nothing reaches the destination; when the scope ends, the read is
/// cancelled and the write with it.
///
/// That holds on a ring whose SQ thread is its own. A ring that shares its
/// SQ thread with another (`attach_wq` of an SQPOLL ring), and the ring it
/// shares it with, refuse every chain (`SharedSqThread`, the chain handed
/// back whole, nothing written): Linux 6.18 submits at most eight SQEs of
/// each ring per pass there (`IORING_SQPOLL_CAP_ENTRIES_VALUE`) and queues
/// a chain cut there as if it had ended (`io_submit_state_end`), so the
/// ninth SQE, the write, would start on its own at once and send the buffer
/// the read still holds. Single ops still go, and a run-time chain of one.
#[test]
fn a_chain_on_a_shared_sq_thread_is_refused_and_elsewhere_runs_in_order() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_sqpoll() {
        return;
    }
    for shared in [false, true] {
        let mut first = Ring::builder()
            .sqpoll(Duration::from_millis(500))
            .build(16)
            .unwrap();
        let builder = Ring::builder().sqpoll(Duration::from_millis(500));
        let builder = if shared {
            builder.attach_wq(&first)
        } else {
            builder
        };
        let mut ring = builder.build(16).unwrap();
        let (rx, _tx) = uring_tests::pipe();
        let (dst_rx, dst_tx) = uring_tests::pipe();
        let mut buf = [CANARY; 8];
        let what = format!("shared SQ thread: {shared}");
        let outcome = ring.scope(|s| {
            let n = |i| Nop::new().user_data(i);
            let pair = Read::new(&rx, &mut buf[..])
                .user_data(7)
                .then_write_with(&dst_tx, |w| w.user_data(8));
            let chain = n(0)
                .link(n(1))
                .link(n(2))
                .link(n(3))
                .link(n(4))
                .link(n(5))
                .link(n(6))
                .link(pair);
            if let Err(e) = s.push(chain) {
                assert_eq!(e.kind(), PushErrorKind::SharedSqThread, "{what}");
                assert_eq!(s.in_flight(), 0, "{what}: nothing pushed");
                let one = Linked::new(vec![n(20)]);
                s.push_linked(one).unwrap();
                let two = Linked::new(vec![n(21), n(22)]);
                let e = s.push_linked(two).unwrap_err();
                assert_eq!(e.kind(), PushErrorKind::SharedSqThread, "{what}");
                s.push(n(23)).unwrap();
                s.submit().unwrap();
                let seen = reap_until(s, |seen| all_done(seen, &[20, 23]));
                return Err(pairs(&seen));
            }
            s.submit().unwrap();
            let uds: Vec<u64> = (0..7).collect();
            let mut early = reap_until(s, |seen| all_done(seen, &uds));
            // Time for a write that was let loose to complete.
            std::thread::sleep(Duration::from_millis(100));
            early.extend(reap_once(s, Duration::from_millis(1)));
            let in_flight = s.in_flight();
            Ok((pairs(&early), in_flight))
        });
        match outcome {
            Ok((early, late)) => {
                assert!(!shared, "{what}: the chain was taken");
                let want: Vec<(u64, i32)> = (0..7).map(|i| (i, 0)).collect();
                assert_eq!(early, want, "{what}: only the NOPs complete");
                assert_eq!(late, 2, "{what}: the read and its write wait");
            }
            Err(singles) => {
                assert!(shared, "{what}: the chain was refused");
                assert_eq!(singles, [(20, 0), (23, 0)], "{what}");
            }
        }
        assert!(!pipe_has_data(&dst_rx), "{what}: the write sent the buffer");
        assert!(buf.iter().all(|&b| b == CANARY));
        // The ring attached to refuses chains too, outside a scope as well.
        let chain = Nop::new().user_data(1).link(Nop::new().user_data(2));
        match first.push(chain) {
            Err(e) => {
                assert!(shared, "{what}: {e:?}");
                assert_eq!(e.kind(), PushErrorKind::SharedSqThread);
            }
            Ok(()) => assert!(!shared, "{what}: the first ring took a chain"),
        }
    }
}

/// A reactor on a ring that shares its SQ thread with another ring takes
/// ops, but no op with a deadline (an op and its link timeout are a chain,
/// which such a ring refuses): `queue_with_deadline` fails with
/// `InvalidInput` at once, rather than wait for room that would not help,
/// and its callback never runs; a plain op still completes.
#[test]
fn a_reactor_on_a_shared_sq_thread_refuses_deadlines_and_runs_the_rest() {
    use std::cell::Cell;
    use std::rc::Rc;
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_sqpoll() {
        return;
    }
    let first = Ring::builder()
        .sqpoll(Duration::from_millis(500))
        .build(16)
        .unwrap();
    let ring = Ring::builder()
        .sqpoll(Duration::from_millis(500))
        .attach_wq(&first)
        .build(16)
        .unwrap();
    let reactor = uring::reactor::Reactor::from_ring(ring).unwrap();
    let ran = Rc::new(Cell::new(0u32));
    let counted = Rc::clone(&ran);
    let refused = reactor.queue_with_deadline(
        uring::reactor::ops::Nop,
        Instant::now() + Duration::from_secs(5),
        move |_, ()| counted.set(counted.get() + 1),
    );
    let e = refused.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
    let counted = Rc::clone(&ran);
    reactor
        .queue(uring::reactor::ops::Nop, move |r, ()| {
            assert_eq!(r.unwrap(), 0);
            counted.set(counted.get() + 10);
        })
        .unwrap();
    reactor.run().unwrap();
    assert_eq!(ran.get(), 10, "the plain op's callback alone ran");
}
