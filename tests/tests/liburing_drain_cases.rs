//! Ports of liburing's tests of `IOSQE_IO_DRAIN` (`test/defer.c`,
//! `test/link_drain.c`, `test/multicqes_drain.c`, and the drained cases of
//! `fsync.c`, `timeout.c`, `submit-link-fail.c`, `lfs-openat.c`,
//! `open-direct-link.c` and `defer-taskrun.c`) to uring's API: ops that
//! borrow go through scopes, ops that borrow nothing through `Ring::push`,
//! and `push_unchecked` or raw SQEs only where a case needs what the typed
//! surfaces refuse (a link flag on any SQE, one slot opened, read and closed
//! in one batch, an iovec array changed after its submit).
//!
//! What the kernel guarantees, and each test asserts: an SQE flagged
//! `IO_DRAIN` starts only once every SQE submitted before it has completed,
//! and no SQE submitted after it starts before it has completed
//! (`io_uring_enter(2)`); a drain on an SQE inside a chain drains the
//! chain's head and the SQE after the chain. Linux 6.18 goes further than
//! the manual in one way the tests rely on and name: once a drain was seen,
//! the ring defers every new SQE until nothing else is in flight, until an
//! SQE submitted with nothing in flight finds the queue of deferred ones
//! empty; and the SQEs it defers run in io-wq workers, in no set order
//! between two drains. Each test checks results, completion order and
//! counts as the kernel produced them.

use std::fs::File;
use std::io::{IoSlice, Read as _, Write as _};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::FileExt as _;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use uring::ops::{
    Close, Fsync, LinkTimeout, Nop, OpenAt, PollAdd, PollRemove, Read, RemoveBuffers, Timeout,
    WriteV,
};
use uring::{
    BufferGroup, DirectSlot, Fd, Features, Linked, PollEvents, PollFlags, Ring, Scope, SetupFlags,
    SqeFlags, SyncCancel, sys,
};
use uring_tests::{PATIENCE, Rng, pairs, pipe, skip, submit_and_reap};

// ---------------------------------------------------------------- helpers

/// The setups the ordering cases run on: liburing runs `defer.c` on a plain
/// ring, an `IOPOLL` ring and an SQPOLL + `IOPOLL` ring, and `link_drain.c`
/// and `multicqes_drain.c` on plain and deferred-task-work rings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setup {
    Plain,
    Defer,
    Iopoll,
    Sqpoll,
    SqpollIopoll,
}

/// A ring of `entries` SQEs with `setup`, or `None` with a skip message
/// where this kernel or process cannot have one.
fn ring_with(setup: Setup, entries: u32) -> Option<Ring> {
    let builder = match setup {
        Setup::Plain => Ring::builder(),
        Setup::Defer => Ring::builder().single_issuer().defer_taskrun(),
        Setup::Iopoll => Ring::builder().iopoll(),
        Setup::Sqpoll | Setup::SqpollIopoll if !uring_tests::require_sqpoll() => return None,
        Setup::Sqpoll => Ring::builder().sqpoll(Duration::from_millis(10)),
        Setup::SqpollIopoll => Ring::builder().sqpoll(Duration::from_millis(10)).iopoll(),
    };
    match builder.build(entries) {
        Ok(ring) => Some(ring),
        Err(e) => {
            skip(format_args!("no {setup:?} ring: {e}"));
            None
        }
    }
}

/// Reads the scope's completions until `n` have come, each one of the
/// scope's own ops: `(user_data, res, flags)` in the order the CQ gave them.
fn scope_reap(s: &mut Scope<'_, '_>, n: usize) -> Vec<(u64, i32, u32)> {
    s.submit().expect("submit");
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        if let Err(e) = s.wait_timeout(1, PATIENCE) {
            panic!(
                "{} of {n} completions after {PATIENCE:?} ({e}): {got:?}",
                got.len()
            );
        }
        for c in s.completions() {
            assert!(c.is_scope_op(), "another op's completion: {:?}", c.cqe());
            got.push((c.user_data(), c.res(), c.flags()));
        }
    }
    assert_eq!(got.len(), n, "more completions than ops: {got:?}");
    got
}

/// `(user_data, res)` of [`scope_reap`].
fn scope_reap_pairs(s: &mut Scope<'_, '_>, n: usize) -> Vec<(u64, i32)> {
    scope_reap(s, n)
        .into_iter()
        .map(|(ud, res, _)| (ud, res))
        .collect()
}

/// The completions that come within 30 ms in a scope, submitting what was
/// pushed: a test that expects every op to be held asserts this is empty.
fn scope_stray(s: &mut Scope<'_, '_>) -> Vec<(u64, i32, u32)> {
    s.submit().expect("submit");
    let _ = s.wait_timeout(1, Duration::from_millis(30));
    s.completions()
        .map(|c| (c.user_data(), c.res(), c.flags()))
        .collect()
}

/// Writes `bytes` into a pipe's write end (or any stream).
fn write_all(fd: &OwnedFd, bytes: &[u8]) {
    File::from(fd.try_clone().expect("dup"))
        .write_all(bytes)
        .expect("write");
}

/// `0, 1, .., n - 1`, each with result 0: the completions of `n` NOPs in
/// submission order.
fn nops_in_order(n: u64) -> Vec<(u64, i32)> {
    (0..n).map(|i| (i, 0)).collect()
}

const POLLIN: i32 = libc::POLLIN as i32;
const F_MORE: u32 = sys::IORING_CQE_F_MORE;

// ---------------------------------------------------------------- defer.c

/// defer.c `test_canceled_userdata`: 100 NOPs linked into one chain, on a
/// plain, `IOPOLL`, SQPOLL, SQPOLL + `IOPOLL` and deferred-task-work ring:
/// 100 completions, each NOP's own `user_data`, in chain order, each 0.
#[test]
fn defer_linked_nops_keep_their_user_data_in_chain_order() {
    let _watch = uring_tests::watchdog();
    let setups = [
        Setup::Plain,
        Setup::Iopoll,
        Setup::Sqpoll,
        Setup::SqpollIopoll,
        Setup::Defer,
    ];
    for setup in setups {
        let Some(mut ring) = ring_with(setup, 128) else {
            continue;
        };
        let chain = Linked::new((0..100).map(|i| Nop::new().user_data(i)).collect());
        ring.push_linked(chain).unwrap();
        let got = pairs(&submit_and_reap(&mut ring, 100));
        assert_eq!(got, nops_in_order(100), "{setup:?}");
        assert_eq!(uring_tests::stray(&mut ring), [], "{setup:?}");
    }
}

/// defer.c `test_thread_link_cancel` (liburing runs it on an SQPOLL +
/// `IOPOLL` ring; here on every setup): 100 `REMOVE_BUFFERS` of a group
/// that has no buffers, linked into one chain: the head fails with
/// `ENOENT` and the 99 after it are cancelled (`ECANCELED`), in chain
/// order.
#[test]
fn defer_failed_head_cancels_a_hundred_linked_ops_on_every_setup() {
    let _watch = uring_tests::watchdog();
    let setups = [
        Setup::SqpollIopoll,
        Setup::Sqpoll,
        Setup::Iopoll,
        Setup::Plain,
        Setup::Defer,
    ];
    for setup in setups {
        let Some(mut ring) = ring_with(setup, 128) else {
            continue;
        };
        let chain = Linked::new(
            (0..100)
                .map(|i| RemoveBuffers::new(10, BufferGroup::new(1)).user_data(i))
                .collect(),
        );
        ring.push_linked(chain).unwrap();
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
        assert_eq!(got, want, "{setup:?}");
    }
}

/// defer.c `run_drained` with many ops, on every setup: 120 NOPs, every
/// third flagged `IO_DRAIN`. Each drained NOP waits for all before it and
/// holds all after it, so each completes at its own place in the order of
/// completions; the two NOPs between two drains, which the kernel hands to
/// io-wq workers once a drain was seen, may complete in either order.
/// Each completes once, with 0.
#[test]
fn defer_many_drained_nops_each_complete_in_their_own_place_on_every_setup() {
    let _watch = uring_tests::watchdog();
    let setups = [
        Setup::Plain,
        Setup::Defer,
        Setup::Iopoll,
        Setup::Sqpoll,
        Setup::SqpollIopoll,
    ];
    for setup in setups {
        let Some(mut ring) = ring_with(setup, 128) else {
            continue;
        };
        for round in 0..3 {
            let mut sq = ring.submission();
            for i in 0..120u64 {
                let flags = if i % 3 == 1 {
                    SqeFlags::IO_DRAIN
                } else {
                    SqeFlags::EMPTY
                };
                sq.push(Nop::new().flags(flags).user_data(i)).unwrap();
            }
            drop(sq);
            let got = pairs(&submit_and_reap(&mut ring, 120));
            let what = format!("{setup:?}, round {round}: {got:?}");
            for (place, &(ud, res)) in got.iter().enumerate() {
                assert_eq!(res, 0, "{what}");
                if ud % 3 == 1 || place % 3 == 1 {
                    assert_eq!(ud, place as u64, "{what}");
                }
                // Between the drains before and after its place.
                assert_eq!(ud.div_ceil(3), (place as u64).div_ceil(3), "{what}");
            }
            let mut sorted = got.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, nops_in_order(120), "{what}");
        }
    }
}

/// defer.c `test_overflow_hung`, on a kernel that keeps completions the CQ
/// has no room for (`IORING_FEAT_NODROP`, where liburing skips it): 1000
/// NOPs submitted without reading a completion overflow the 256-entry CQ,
/// and 10 drained NOPs after them still run. All 1010 completions come,
/// each once and in submission order, and none is lost (the overflow
/// count stays 0); on a plain and a deferred-task-work ring.
#[test]
fn defer_drained_nops_after_an_overflowed_cq_all_complete_in_order() {
    let _watch = uring_tests::watchdog();
    for setup in [Setup::Plain, Setup::Defer] {
        let Some(mut ring) = ring_with(setup, 128) else {
            continue;
        };
        if !uring_tests::require_features(&ring, Features::NODROP, "keeping overflowed CQEs") {
            return;
        }
        let mut next = 0u64;
        while next < 1000 {
            let mut sq = ring.submission();
            while next < 1000 && sq.push(Nop::new().user_data(next)).is_ok() {
                next += 1;
            }
            drop(sq);
            ring.submit().expect("submit while the CQ overflows");
        }
        assert!(
            ring.cq_has_overflow(),
            "{setup:?}: 1000 CQEs in a 256-entry CQ"
        );
        assert_eq!(ring.ready(), ring.cq_entries(), "{setup:?}");
        for i in 0..10 {
            ring.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(1000 + i))
                .unwrap();
        }
        let got = pairs(&submit_and_reap(&mut ring, 1010));
        assert_eq!(got, nops_in_order(1010), "{setup:?}");
        assert_eq!(ring.overflow(), 0, "{setup:?}: a completion was dropped");
        assert!(!ring.cq_has_overflow(), "{setup:?}");
    }
}

/// defer.c `test_dropped_hung`: the SQ's `dropped` counter is ring memory
/// the program can write, and the kernel's drains do not go by it. With
/// 1000 written there (through a second mapping of the ring), 10 drained
/// NOPs still complete, in order; the ring reports the 1000 it reads.
#[test]
fn defer_drained_nops_ignore_a_forged_dropped_count() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(128).unwrap();
    if ring.params().setup_flags().contains(SetupFlags::NO_MMAP) {
        skip("the ring's memory is not the kernel's mapping");
        return;
    }
    let off = ring.params().as_raw().sq_off;
    let len = off.dropped as usize + std::mem::size_of::<u32>();
    // SAFETY: a new shared mapping of the ring's SQ region (offset
    // IORING_OFF_SQ_RING), which the kernel maps for any process holding the
    // descriptor; it is unmapped below, and only the `dropped` word is
    // written through it.
    let map = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            ring.as_raw_fd(),
            sys::IORING_OFF_SQ_RING,
        )
    };
    assert_ne!(
        map,
        libc::MAP_FAILED,
        "mmap: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: `dropped` lies inside the mapping (`len` covers it), is a
    // 4-byte aligned u32 the kernel only increments, and the library only
    // reads it.
    unsafe {
        map.cast::<u8>()
            .add(off.dropped as usize)
            .cast::<u32>()
            .write_volatile(1000)
    };
    // SAFETY: the mapping made above, of `len` bytes; nothing refers to it.
    assert_eq!(unsafe { libc::munmap(map, len) }, 0);
    assert_eq!(ring.dropped(), 1000, "the ring reads the word written");
    for i in 0..10 {
        ring.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(i))
            .unwrap();
    }
    let got = pairs(&submit_and_reap(&mut ring, 10));
    assert_eq!(got, nops_in_order(10));
    assert_eq!(ring.dropped(), 1000, "the kernel dropped no SQE of its own");
}

/// defer.c `test_drain_with_linked_timeout`: three chains, each a drained
/// timeout bounded by a link timeout. With the timeout longer than its
/// bound (10 s against 20 ms) each bound fires (`ETIME`) and cancels its
/// timeout (`ECANCELED`); with equal times (liburing's 1 s, here 50 ms)
/// either may end the other. Either way all six complete, each once, and
/// the drains order the chains: both completions of one chain come before
/// any of the next.
#[test]
fn defer_drained_timeouts_bounded_by_link_timeouts_complete_chain_by_chain() {
    let _watch = uring_tests::watchdog();
    let cases = [
        (Duration::from_secs(10), Duration::from_millis(20)),
        (Duration::from_millis(50), Duration::from_millis(50)),
    ];
    for (time, bound) in cases {
        let mut ring = Ring::new(128).unwrap();
        for i in 0..3u64 {
            ring.push(
                Timeout::new(time)
                    .flags(SqeFlags::IO_DRAIN)
                    .user_data(2 * i)
                    .link_timeout(LinkTimeout::new(bound).user_data(2 * i + 1)),
            )
            .unwrap();
        }
        let got = pairs(&submit_and_reap(&mut ring, 6));
        for (k, pair) in got.chunks(2).enumerate() {
            let mut ids: Vec<u64> = pair.iter().map(|&(ud, _)| ud).collect();
            ids.sort_unstable();
            assert_eq!(ids, [2 * k as u64, 2 * k as u64 + 1], "{time:?}: {got:?}");
        }
        for &(ud, res) in &got {
            let allowed: &[i32] = match (time > bound, ud % 2 == 0) {
                (true, true) => &[-libc::ECANCELED],
                (true, false) => &[-libc::ETIME],
                (false, true) => &[-libc::ETIME, -libc::ECANCELED],
                (false, false) => &[
                    -libc::ETIME,
                    -libc::ECANCELED,
                    -libc::ENOENT,
                    -libc::EALREADY,
                ],
            };
            assert!(allowed.contains(&res), "{time:?} / {bound:?}: {got:?}");
        }
        assert_eq!(uring_tests::stray(&mut ring), []);
    }
}

// ---------------------------------------------------------------- link_drain.c

/// The rounds of each link_drain.c case per setup (liburing runs 1000).
const LINK_DRAIN_ROUNDS: usize = 300;

/// link_drain.c `test_link_drain_one`, on a plain, deferred-task-work and
/// SQPOLL ring, in scopes: a 4 KiB `WRITEV`; a chain of three NOPs whose
/// middle one is drained (which drains the chain's head, and the SQE after
/// the chain); a NOP. The five complete in submission order, every round;
/// the file holds the bytes written.
#[test]
fn link_drain_one_completes_in_submission_order() {
    let _watch = uring_tests::watchdog();
    let data = uring_tests::pattern(4096, 7);
    let iov = [IoSlice::new(&data)];
    for setup in [Setup::Plain, Setup::Defer, Setup::Sqpoll] {
        let Some(mut ring) = ring_with(setup, 100) else {
            continue;
        };
        let file = tempfile::tempfile().unwrap();
        for round in 0..LINK_DRAIN_ROUNDS {
            let got = ring.scope(|s| {
                s.push(WriteV::new(&file, &iov[..]).user_data(0)).unwrap();
                s.push(
                    Nop::new()
                        .user_data(1)
                        .link(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(2))
                        .link(Nop::new().user_data(3)),
                )
                .unwrap();
                s.push(Nop::new().user_data(4)).unwrap();
                scope_reap_pairs(s, 5)
            });
            assert_eq!(
                got,
                [(0, 4096), (1, 0), (2, 0), (3, 0), (4, 0)],
                "{setup:?}, round {round}"
            );
        }
        let mut back = vec![0u8; 4096];
        file.read_exact_at(&mut back, 0).unwrap();
        assert!(
            back == data,
            "{setup:?}: the file does not hold the bytes written"
        );
    }
}

/// link_drain.c `test_link_drain_multi`, as above: a `WRITEV`; a chain of
/// three NOPs drained in the middle; a chain of NOP, NOP, drained `WRITEV`,
/// NOP; a NOP. The nine complete in submission order, every round.
#[test]
fn link_drain_multi_completes_in_submission_order() {
    let _watch = uring_tests::watchdog();
    let data = uring_tests::pattern(4096, 9);
    let iov = [IoSlice::new(&data)];
    for setup in [Setup::Plain, Setup::Defer, Setup::Sqpoll] {
        let Some(mut ring) = ring_with(setup, 100) else {
            continue;
        };
        let file = tempfile::tempfile().unwrap();
        for round in 0..LINK_DRAIN_ROUNDS {
            let got = ring.scope(|s| {
                s.push(WriteV::new(&file, &iov[..]).user_data(0)).unwrap();
                s.push(
                    Nop::new()
                        .user_data(1)
                        .link(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(2))
                        .link(Nop::new().user_data(3)),
                )
                .unwrap();
                s.push(
                    Nop::new()
                        .user_data(4)
                        .link(Nop::new().user_data(5))
                        .link(
                            WriteV::new(&file, &iov[..])
                                .flags(SqeFlags::IO_DRAIN)
                                .user_data(6),
                        )
                        .link(Nop::new().user_data(7)),
                )
                .unwrap();
                s.push(Nop::new().user_data(8)).unwrap();
                scope_reap_pairs(s, 9)
            });
            let want: Vec<(u64, i32)> = (0..9)
                .map(|i| (i, if i == 0 || i == 6 { 4096 } else { 0 }))
                .collect();
            assert_eq!(got, want, "{setup:?}, round {round}");
        }
    }
}

// ---------------------------------------------------------------- multicqes_drain.c

/// multicqes_drain.c `trigger_event`: writes 3 bytes into the pipe, waits
/// for the poll's completion (liburing sleeps 1 ms instead), and reads the
/// bytes back. The completions read meanwhile join `got`.
fn trigger_and_collect(
    s: &mut Scope<'_, '_>,
    rx: &OwnedFd,
    tx: &OwnedFd,
    got: &mut Vec<(u64, i32, u32)>,
) {
    let before = got.len();
    write_all(tx, b"foo");
    while got.len() == before {
        if let Err(e) = s.wait_timeout(1, PATIENCE) {
            panic!("no poll completion for a write ({e}): {got:?}");
        }
        got.extend(s.completions().map(|c| (c.user_data(), c.res(), c.flags())));
    }
    let mut back = [0u8; 3];
    File::from(rx.try_clone().unwrap())
        .read_exact(&mut back)
        .unwrap();
}

/// multicqes_drain.c `test_simple_drain`, five rounds on a plain and a
/// deferred-task-work ring, in scopes: a multishot poll triggered twice and
/// a oneshot poll triggered once; then a poll removal and a drained NOP.
/// Six completions: the multishot poll's two events (`IORING_CQE_F_MORE`)
/// and its end (`ECANCELED`), the oneshot poll's event, the removal's 0,
/// and last of all the drained NOP.
#[test]
fn multicqes_simple_drain_nop_completes_after_the_multishot_poll_ends() {
    let _watch = uring_tests::watchdog();
    for setup in [Setup::Plain, Setup::Defer] {
        for round in 0..5 {
            // A ring of its own each round (liburing reuses one): Linux 6.18
            // leaves a drain on after the drained op completes, until an SQE
            // is submitted with nothing in flight. On a deferred-task-work
            // ring under load, a round's first SQEs can still find a request
            // of the last round in flight, and the drain then stays on
            // through the round: its poll removal waits for everything in
            // flight, its multishot poll included, which only the removal
            // ends (the removal never completes).
            let Some(mut ring) = ring_with(setup, 1024) else {
                break;
            };
            let (rx1, tx1) = pipe();
            let (rx2, tx2) = pipe();
            let got = ring.scope(|s| {
                s.push(
                    PollAdd::new(&rx1, PollEvents::IN)
                        .poll_flags(PollFlags::MULTI)
                        .user_data(0),
                )
                .unwrap();
                s.push(PollAdd::new(&rx2, PollEvents::IN).user_data(1))
                    .unwrap();
                assert_eq!(s.submit().unwrap(), 2);
                let mut got = Vec::new();
                trigger_and_collect(s, &rx1, &tx1, &mut got);
                trigger_and_collect(s, &rx1, &tx1, &mut got);
                trigger_and_collect(s, &rx2, &tx2, &mut got);
                s.push(PollRemove::new(0).user_data(2)).unwrap();
                s.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(3))
                    .unwrap();
                let left = 6 - got.len();
                got.extend(scope_reap(s, left));
                got
            });
            let want = [
                (0, POLLIN, F_MORE),
                (0, POLLIN, F_MORE),
                (1, POLLIN, 0),
                (2, 0, 0),
                (0, -libc::ECANCELED, 0),
                (3, 0, 0),
            ];
            let mut sorted = got.clone();
            sorted.sort_unstable();
            let mut want_sorted = want;
            want_sorted.sort_unstable();
            assert_eq!(sorted, want_sorted, "{setup:?}, round {round}: {got:?}");
            assert_eq!(got[5], (3, 0, 0), "{setup:?}, round {round}: {got:?}");
            let events: Vec<_> = got.iter().filter(|c| c.0 == 0).collect();
            assert_eq!(events[2].1, -libc::ECANCELED, "the end comes last: {got:?}");
        }
    }
}

/// One SQE of a multicqes_drain.c `test_generic_drain` case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A multishot poll of its own pipe's read end.
    Multi,
    /// A oneshot poll of its own pipe's read end.
    Single,
    /// A NOP.
    Nop,
    /// A poll removal of the multishot poll at this index.
    Cancel(usize),
}

/// One SQE of a generated case: its kind and flags, and whether the kernel
/// drains it for a drain inside a chain (the chain's head, and the SQE
/// after the chain).
#[derive(Clone, Copy, Debug)]
struct Spec {
    kind: Kind,
    link: bool,
    drain: bool,
    drained_by_chain: bool,
}

impl Spec {
    /// Whether the kernel drains this SQE.
    fn drained(&self) -> bool {
        self.drain || self.drained_by_chain
    }
}

/// multicqes_drain.c's generator, on the seed `seed`: 50 SQEs of random
/// kinds and flags (none, link, drain, both) under its rules (at most 10
/// multishot polls; no drain while a multishot poll is not yet removed,
/// since a drain waits for it to end; no multishot poll or removal in a
/// chain; from SQE 40 on, the multishot polls still in place removed; a
/// removal names a live one), and two more:
/// - a multishot poll is never drained, by its own flag or by a drain
///   inside the chain before it: no SQE after a drain starts before the
///   drained one completes, and a multishot poll completes only once its
///   removal, after it, ran;
/// - the SQEs go on past 50 until every multishot poll is removed.
///
/// With `uniform_chains`, a chain's SQEs are all polls or all NOPs (the
/// elements of a `Linked` chain share a type).
fn generate_case(seed: u64, uniform_chains: bool) -> Vec<Spec> {
    const ENTRIES: usize = 50;
    const MULTI_CAP: usize = ENTRIES / 5;
    const HIGH_WATERMARK: usize = ENTRIES - ENTRIES / 5;
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut specs: Vec<Spec> = Vec::new();
    let mut live: Vec<usize> = Vec::new();
    let mut multis = 0;
    // The chain being built: its first SQE, and its kind.
    let mut chain: Option<(usize, Kind)> = None;
    let mut drain_next = false;
    let mut i = 0;
    while i < ENTRIES || !live.is_empty() {
        let in_chain = chain.is_some();
        let kind = if i >= HIGH_WATERMARK && !live.is_empty() && !in_chain {
            let at = rng.below(live.len() as u64) as usize;
            Kind::Cancel(live.swap_remove(at))
        } else if i >= HIGH_WATERMARK && !live.is_empty() {
            // A chain still open at the watermark ends here, before the
            // removals.
            chain.map_or(Kind::Nop, |(_, k)| k)
        } else {
            loop {
                let kind = match rng.below(4) {
                    0 => Kind::Multi,
                    1 => Kind::Single,
                    2 => Kind::Nop,
                    _ => Kind::Cancel(usize::MAX),
                };
                let refused = match kind {
                    Kind::Cancel(_) => live.is_empty() || in_chain,
                    Kind::Multi => {
                        multis == MULTI_CAP || i >= HIGH_WATERMARK || in_chain || drain_next
                    }
                    _ => uniform_chains && chain.is_some_and(|(_, k)| k != kind),
                };
                if !refused {
                    break match kind {
                        Kind::Cancel(_) => {
                            let at = rng.below(live.len() as u64) as usize;
                            Kind::Cancel(live.swap_remove(at))
                        }
                        k => k,
                    };
                }
            }
        };
        let (mut link, mut drain) = loop {
            let bits = rng.below(4);
            let (link, drain) = (bits & 1 != 0, bits & 2 != 0);
            let waiting_multi = match kind {
                Kind::Cancel(_) => true,
                _ => !live.is_empty(),
            };
            if !(drain && waiting_multi) {
                break (link, drain);
            }
        };
        match kind {
            Kind::Cancel(_) => (link, drain) = (false, false),
            Kind::Multi => (link, drain) = (false, false),
            _ => {}
        }
        if i >= HIGH_WATERMARK && !live.is_empty() {
            link = false;
        }
        // The kernel's rules (io_uring.c, `io_init_drain`): a drain inside
        // a chain drains its head and the SQE after the chain.
        let drained_by_chain = drain_next && !in_chain;
        if drained_by_chain {
            drain_next = false;
        }
        if drain && let Some((head, _)) = chain {
            specs[head].drained_by_chain = true;
            drain_next = true;
        }
        if kind == Kind::Multi {
            live.push(i);
            multis += 1;
        }
        specs.push(Spec {
            kind,
            link,
            drain,
            drained_by_chain,
        });
        chain = match (link, chain) {
            (false, _) => None,
            (true, None) => Some((i, kind)),
            (true, Some(c)) => Some(c),
        };
        i += 1;
    }
    specs
}

/// The chains of a case: for each SQE, the index of its chain's head.
fn chain_heads(specs: &[Spec]) -> Vec<usize> {
    let mut heads = Vec::with_capacity(specs.len());
    let mut head = 0;
    for i in 0..specs.len() {
        if i == 0 || !specs[i - 1].link {
            head = i;
        }
        heads.push(head);
    }
    heads
}

/// What a generated case has seen so far: each completion in CQ order as
/// `(index, res, flags)`, and for each SQE whether its last came.
struct CaseLog {
    cqes: Vec<(usize, i32, u32)>,
    done: Vec<bool>,
    /// The multishot polls whose removal missed them: `ENOENT` when the
    /// poll was not yet armed (both went to io-wq workers), `EALREADY` when
    /// an event of the poll was being posted.
    missed: Vec<usize>,
    /// Those of them not yet cancelled synchronously.
    to_cancel: Vec<usize>,
}

impl CaseLog {
    fn new(n: usize) -> CaseLog {
        CaseLog {
            cqes: Vec::new(),
            done: vec![false; n],
            missed: Vec::new(),
            to_cancel: Vec::new(),
        }
    }

    /// Notes one completion of the SQE at `index`.
    fn note(&mut self, specs: &[Spec], index: usize, res: i32, flags: u32) {
        assert!(
            index < specs.len(),
            "a completion of no SQE: {index} {res} {flags:#x}"
        );
        assert!(
            !self.done[index],
            "SQE {index} ({:?}) completed after its last completion: {res}, {:?}",
            specs[index], self.cqes
        );
        self.cqes.push((index, res, flags));
        let last = specs[index].kind != Kind::Multi || flags & F_MORE == 0;
        if last {
            self.done[index] = true;
        }
        if let Kind::Cancel(target) = specs[index].kind
            && res != 0
        {
            self.missed.push(target);
            self.to_cancel.push(target);
        }
    }

    fn all_done(&self) -> bool {
        self.done.iter().all(|&d| d)
    }
}

/// The checks of multicqes_drain.c `test_generic_drain` and the counts
/// the kernel gives each SQE:
/// - each SQE's completions: a NOP 0, a oneshot poll `POLLIN`, a removal 0
///   (or `ENOENT` when it ran before its poll was armed, both having gone
///   to io-wq workers under the drain, or `EALREADY` when it ran while an
///   event of the poll was being posted), a multishot poll at most two
///   events (`POLLIN`, `IORING_CQE_F_MORE`: one check when it is armed and
///   one wake-up for the one write into its pipe) and then `ECANCELED`,
///   nothing after its last;
/// - the SQEs of a chain complete in chain order;
/// - a drained SQE completes only after every SQE before it has posted its
///   last completion (liburing's check), and no SQE after it posts any
///   completion before the drained SQE's last.
fn check_case(specs: &[Spec], log: &CaseLog, what: &str) {
    let n = specs.len();
    let mut per: Vec<Vec<(usize, i32, u32)>> = vec![Vec::new(); n];
    for (pos, &(index, res, flags)) in log.cqes.iter().enumerate() {
        per[index].push((pos, res, flags));
    }
    for (i, spec) in specs.iter().enumerate() {
        let cqes = &per[i];
        let results: Vec<(i32, u32)> = cqes.iter().map(|&(_, r, f)| (r, f)).collect();
        match spec.kind {
            Kind::Nop => assert_eq!(results, [(0, 0)], "{what}: NOP {i}"),
            Kind::Single => assert_eq!(results, [(POLLIN, 0)], "{what}: poll {i}"),
            Kind::Cancel(_) => assert!(
                [0, -libc::ENOENT, -libc::EALREADY].contains(&results[0].0) && results.len() == 1,
                "{what}: removal {i}: {results:?}"
            ),
            Kind::Multi => {
                let (last, events) = results.split_last().expect("a multishot poll's end");
                assert_eq!(
                    *last,
                    (-libc::ECANCELED, 0),
                    "{what}: multishot poll {i}: {results:?}"
                );
                assert!(events.len() <= 2, "{what}: multishot poll {i}: {results:?}");
                for &e in events {
                    assert_eq!(
                        e,
                        (POLLIN, F_MORE),
                        "{what}: multishot poll {i}: {results:?}"
                    );
                }
            }
        }
    }
    let last_pos = |i: usize| per[i].last().map(|c| c.0).expect("every SQE completed");
    let first_pos = |i: usize| per[i].first().map(|c| c.0).expect("every SQE completed");
    let heads = chain_heads(specs);
    for (i, &head) in heads.iter().enumerate().skip(1) {
        if head != i {
            assert!(
                first_pos(i) > last_pos(i - 1),
                "{what}: SQE {i} of a chain completed before SQE {}: {:?}",
                i - 1,
                log.cqes
            );
        }
    }
    for (d, spec) in specs.iter().enumerate() {
        if !spec.drained() {
            continue;
        }
        for (before, earlier) in specs[..d].iter().enumerate() {
            assert!(
                last_pos(before) < first_pos(d),
                "{what}: drained SQE {d} ({spec:?}) completed before SQE {before} ({earlier:?}): {:?}",
                log.cqes
            );
        }
        for (after, later) in specs.iter().enumerate().skip(d + 1) {
            assert!(
                first_pos(after) > last_pos(d),
                "{what}: SQE {after} ({later:?}) completed before drained SQE {d} ({spec:?}): {:?}",
                log.cqes
            );
        }
    }
}

/// A random order of the polls of a case, in which their pipes are
/// written.
fn trigger_order(specs: &[Spec], rng: &mut Rng) -> Vec<usize> {
    let mut polls: Vec<usize> = specs
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s.kind, Kind::Multi | Kind::Single))
        .map(|(i, _)| i)
        .collect();
    for i in (1..polls.len()).rev() {
        polls.swap(i, rng.below(i as u64 + 1) as usize);
    }
    polls
}

/// The seeds of the generated cases per setup and surface:
/// `URING_DRAIN_SEEDS`, or 12.
fn generic_seeds() -> u64 {
    std::env::var("URING_DRAIN_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12)
}

/// multicqes_drain.c `test_generic_drain` in scopes, on a plain and a
/// deferred-task-work ring: each generated case (see [`generate_case`]) is
/// pushed whole (chains as `Linked`), submitted at once; each poll's pipe
/// is written once, in a random order; a removal that missed its poll is
/// followed by a synchronous cancel of it. Every SQE completes, and
/// [`check_case`] holds.
#[test]
fn multicqes_generic_drain_random_sqes_in_scopes() {
    let _watch = uring_tests::watchdog();
    for setup in [Setup::Plain, Setup::Defer] {
        let mut missed = 0;
        for seed in 1..=generic_seeds() {
            let specs = generate_case(seed, true);
            let pipes: Vec<(OwnedFd, OwnedFd)> = specs.iter().map(|_| pipe()).collect();
            let Some(mut ring) = ring_with(setup, 128) else {
                return;
            };
            let what = format!("{setup:?}, scope, seed {seed}");
            let log = ring.scope(|s| {
                push_case_in_scope(s, &specs, &pipes);
                assert_eq!(s.submit().unwrap() as usize, specs.len(), "{what}");
                let mut log = CaseLog::new(specs.len());
                let mut rng = Rng(seed | 1);
                for index in trigger_order(&specs, &mut rng) {
                    write_all(&pipes[index].1, b"x");
                    collect_scope(s, &specs, &mut log, false, &what);
                }
                while !log.all_done() {
                    collect_scope(s, &specs, &mut log, true, &what);
                }
                log
            });
            check_case(&specs, &log, &what);
            missed += log.missed.len();
        }
        eprintln!("{setup:?}, scopes: {missed} removals missed their multishot poll");
    }
}

/// Pushes the SQEs of a case into a scope, each chain as one `Linked`.
fn push_case_in_scope<'s>(s: &mut Scope<'s, '_>, specs: &[Spec], pipes: &'s [(OwnedFd, OwnedFd)]) {
    let heads = chain_heads(specs);
    let mut i = 0;
    while i < specs.len() {
        let end = (i..specs.len())
            .find(|&j| heads.get(j + 1) != Some(&i))
            .unwrap()
            + 1;
        let flags = |j: usize| {
            if specs[j].drain {
                SqeFlags::IO_DRAIN
            } else {
                SqeFlags::EMPTY
            }
        };
        let poll = |j: usize| {
            let op = PollAdd::new(&pipes[j].0, PollEvents::IN)
                .flags(flags(j))
                .user_data(j as u64);
            if specs[j].kind == Kind::Multi {
                op.poll_flags(PollFlags::MULTI)
            } else {
                op
            }
        };
        match specs[i].kind {
            Kind::Multi | Kind::Single => {
                s.push_linked(Linked::new((i..end).map(poll).collect()))
                    .unwrap_or_else(|_| panic!("push SQEs {i}..{end}"));
            }
            Kind::Nop => {
                let nops = (i..end)
                    .map(|j| Nop::new().flags(flags(j)).user_data(j as u64))
                    .collect();
                s.push_linked(Linked::new(nops))
                    .unwrap_or_else(|_| panic!("push SQEs {i}..{end}"));
            }
            Kind::Cancel(target) => {
                assert_eq!(end, i + 1, "a removal in a chain");
                s.push(PollRemove::new(target as u64).user_data(i as u64))
                    .unwrap_or_else(|_| panic!("push SQE {i}"));
            }
        }
        i = end;
    }
}

/// Reads the completions of a case in a scope into `log`: waits for one
/// (up to [`PATIENCE`], failing the test then) with `block`, else for up to
/// a millisecond. A multishot poll whose removal missed it is then
/// cancelled synchronously (no SQE could reach it: the drain holds every
/// new one while the poll is in flight).
fn collect_scope(
    s: &mut Scope<'_, '_>,
    specs: &[Spec],
    log: &mut CaseLog,
    block: bool,
    what: &str,
) {
    let wait = if block {
        PATIENCE
    } else {
        Duration::from_millis(1)
    };
    if let Err(e) = s.wait_timeout(1, wait)
        && block
    {
        let waiting: Vec<usize> = (0..specs.len()).filter(|&i| !log.done[i]).collect();
        panic!(
            "{what}: no completion after {wait:?} ({e}); waiting for {waiting:?}; seen {:?}; case {specs:?}",
            log.cqes
        );
    }
    for c in s.completions() {
        assert!(
            c.is_scope_op(),
            "{what}: another op's completion: {:?}",
            c.cqe()
        );
        log.note(specs, c.user_data() as usize, c.res(), c.flags());
    }
    while let Some(target) = log.to_cancel.pop() {
        let start = std::time::Instant::now();
        while !log.done[target] {
            // Short slices: see `cancel_slice`.
            let r = s.cancel_sync(SyncCancel::user_data(target as u64), Some(CANCEL_SLICE));
            if cancel_slice(r, target, start, what) {
                break;
            }
            let _ = s.wait_timeout(1, Duration::from_millis(1));
            for c in s.completions() {
                assert!(
                    c.is_scope_op(),
                    "{what}: another op's completion: {:?}",
                    c.cqe()
                );
                log.note(specs, c.user_data() as usize, c.res(), c.flags());
            }
        }
    }
}

/// How long one synchronous cancel of a generated case may wait.
const CANCEL_SLICE: Duration = Duration::from_millis(20);

/// Whether a synchronous cancel of the multishot poll `target`, started at
/// `start`, is done (`Ok`), or must be tried again after the completions
/// are read: `ENOENT` while the poll is still being armed in an io-wq
/// worker, `TimedOut` when the worker arming it was running at the first
/// try (the kernel sleeps until a completion wakes it, which on a
/// deferred-task-work ring the library's sliced wait brings; see
/// `cancel_sync_on_a_defer_taskrun_ring_returns_once_the_running_op_ended`).
fn cancel_slice(
    r: uring::Result<()>,
    target: usize,
    start: std::time::Instant,
    what: &str,
) -> bool {
    let done = match r {
        Ok(()) => true,
        Err(uring::Error::TimedOut) => false,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => false,
        Err(e) => panic!("{what}: cancel of multishot poll {target}: {e}"),
    };
    assert!(
        done || start.elapsed() < PATIENCE,
        "{what}: multishot poll {target} not cancelled after {PATIENCE:?}"
    );
    done
}

/// [`collect_scope`] on a ring outside scopes.
fn collect_ring(ring: &mut Ring, specs: &[Spec], log: &mut CaseLog, block: bool, what: &str) {
    let wait = if block {
        PATIENCE
    } else {
        Duration::from_millis(1)
    };
    if let Err(e) = ring.wait_timeout(1, wait)
        && block
    {
        let waiting: Vec<usize> = (0..specs.len()).filter(|&i| !log.done[i]).collect();
        panic!(
            "{what}: no completion after {wait:?} ({e}); waiting for {waiting:?}; seen {:?}; case {specs:?}",
            log.cqes
        );
    }
    for c in ring.completions() {
        log.note(specs, c.user_data() as usize, c.res(), c.flags());
    }
    while let Some(target) = log.to_cancel.pop() {
        let start = std::time::Instant::now();
        while !log.done[target] {
            let r = ring.cancel_sync(SyncCancel::user_data(target as u64), Some(CANCEL_SLICE));
            if cancel_slice(r, target, start, what) {
                break;
            }
            let _ = ring.wait_timeout(1, Duration::from_millis(1));
            for c in ring.completions() {
                log.note(specs, c.user_data() as usize, c.res(), c.flags());
            }
        }
    }
}

/// The raw SQE of `spec`, at `index`, polling `fd`.
fn raw_case_sqe(index: usize, spec: &Spec, fd: i32) -> sys::io_uring_sqe {
    let mut flags = 0;
    if spec.link {
        flags |= sys::IOSQE_IO_LINK;
    }
    if spec.drain {
        flags |= sys::IOSQE_IO_DRAIN;
    }
    let ud = index as u64;
    match spec.kind {
        Kind::Nop => uring_tests::raw_sqe(sys::IORING_OP_NOP, -1, 0, 0, flags, ud),
        Kind::Cancel(target) => {
            uring_tests::raw_sqe(sys::IORING_OP_POLL_REMOVE, -1, target as u64, 0, flags, ud)
        }
        Kind::Multi | Kind::Single => {
            let len = if spec.kind == Kind::Multi {
                sys::IORING_POLL_ADD_MULTI
            } else {
                0
            };
            let mut sqe = uring_tests::raw_sqe(sys::IORING_OP_POLL_ADD, fd, 0, len, flags, ud);
            sqe.op_flags.poll32_events = libc::POLLIN as u32;
            sqe
        }
    }
}

/// multicqes_drain.c `test_generic_drain` with liburing's own SQEs, on a
/// plain and a deferred-task-work ring: the generated cases (see
/// [`generate_case`]) mix polls and NOPs in one chain, and a chain's last
/// SQE may carry a link flag with nothing after it, which only raw SQEs can
/// say. Run as in scopes; every SQE completes and [`check_case`] holds.
#[test]
fn multicqes_generic_drain_random_raw_sqes() {
    let _watch = uring_tests::watchdog();
    for setup in [Setup::Plain, Setup::Defer] {
        let mut missed = 0;
        for seed in 1..=generic_seeds() {
            let specs = generate_case(seed ^ 0x5eed, false);
            let pipes: Vec<(OwnedFd, OwnedFd)> = specs.iter().map(|_| pipe()).collect();
            let Some(mut ring) = ring_with(setup, 128) else {
                return;
            };
            let what = format!("{setup:?}, raw, seed {seed}");
            let sqes: Vec<sys::io_uring_sqe> = specs
                .iter()
                .enumerate()
                .map(|(i, spec)| raw_case_sqe(i, spec, pipes[i].0.as_raw_fd()))
                .collect();
            // SAFETY: NOPs, polls and poll removals read nothing but their
            // SQE; the polled pipes outlive the ring (declared before it, so
            // dropped after it), and every op completes before the end of
            // the case.
            unsafe { ring.push_raw(&sqes) }.unwrap();
            assert_eq!(ring.submit().unwrap() as usize, specs.len(), "{what}");
            let mut log = CaseLog::new(specs.len());
            let mut rng = Rng(seed | 1);
            for index in trigger_order(&specs, &mut rng) {
                write_all(&pipes[index].1, b"x");
                collect_ring(&mut ring, &specs, &mut log, false, &what);
            }
            while !log.all_done() {
                collect_ring(&mut ring, &specs, &mut log, true, &what);
            }
            check_case(&specs, &log, &what);
            assert_eq!(uring_tests::stray(&mut ring), [], "{what}");
            missed += log.missed.len();
        }
        eprintln!("{setup:?}, raw: {missed} removals missed their multishot poll");
    }
}

/// What multicqes_drain.c's generator never makes (it drains no SQE while a
/// multishot poll waits for its removal, and here no multishot poll is
/// drained): a drained multishot poll, then a NOP and the poll's removal.
/// No SQE after a drained one starts before it completes, and the poll
/// completes only once removed: the poll posts its event, and the NOP and
/// the removal are held; so are the scope's own cancel requests, SQEs too. A
/// synchronous cancel, which needs no SQE, ends the poll (`ECANCELED`);
/// then the NOP runs (0) and the removal finds nothing (`ENOENT`). On a
/// plain and a deferred-task-work ring.
#[test]
fn a_drained_multishot_poll_holds_its_own_removal_until_cancelled_synchronously() {
    let _watch = uring_tests::watchdog();
    for setup in [Setup::Plain, Setup::Defer] {
        let Some(mut ring) = ring_with(setup, 16) else {
            continue;
        };
        let (rx, tx) = pipe();
        // Written before the poll is armed: it finds the byte when armed,
        // and nothing wakes it again.
        write_all(&tx, b"x");
        ring.scope(|s| {
            s.push(
                PollAdd::new(&rx, PollEvents::IN)
                    .poll_flags(PollFlags::MULTI)
                    .flags(SqeFlags::IO_DRAIN)
                    .user_data(0),
            )
            .unwrap();
            s.push(Nop::new().user_data(1)).unwrap();
            s.push(PollRemove::new(0).user_data(2)).unwrap();
            assert_eq!(scope_reap(s, 1), [(0, POLLIN, F_MORE)], "{setup:?}");
            assert_eq!(
                scope_stray(s),
                [],
                "{setup:?}: the NOP and the removal are held"
            );
            // One request for the poll, which the scope tagged (a multishot
            // op), and, in a scope that leaves the NOP untagged, one more
            // for any untagged op carrying 0.
            let requests = if s.tags_every_op() { 1 } else { 2 };
            assert_eq!(s.cancel(0).unwrap(), requests, "{setup:?}");
            assert_eq!(
                scope_stray(s),
                [],
                "{setup:?}: the cancel requests are held too"
            );
            assert_eq!(s.in_flight(), 3, "{setup:?}");
            s.cancel_sync(SyncCancel::user_data(0), Some(PATIENCE))
                .unwrap();
            let got = scope_reap(s, 3);
            assert_eq!(got[0], (0, -libc::ECANCELED, 0), "{setup:?}: {got:?}");
            let mut rest = got[1..].to_vec();
            rest.sort_unstable();
            assert_eq!(
                rest,
                [(1, 0, 0), (2, -libc::ENOENT, 0)],
                "{setup:?}: {got:?}"
            );
            assert_eq!(
                scope_stray(s),
                [],
                "{setup:?}: the cancel requests' ends are not shown"
            );
            assert_eq!(s.in_flight(), 0, "{setup:?}");
        });
    }
}

// ---------------------------------------------------------------- fsync.c

/// fsync.c `test_barrier_fsync`, in scopes on a plain, deferred-task-work
/// and SQPOLL ring: four 4 KiB `WRITEV`s, then an fsync flagged `IO_DRAIN`:
/// the fsync completes last (0), after the four writes (4096 each); the
/// file holds what they wrote.
#[test]
fn fsync_drained_after_four_writevs_completes_last() {
    let _watch = uring_tests::watchdog();
    let blocks: Vec<Vec<u8>> = (0..4).map(|i| uring_tests::pattern(4096, i)).collect();
    let iovs: Vec<[IoSlice<'_>; 1]> = blocks.iter().map(|b| [IoSlice::new(b)]).collect();
    for setup in [Setup::Plain, Setup::Defer, Setup::Sqpoll] {
        let Some(mut ring) = ring_with(setup, 8) else {
            continue;
        };
        let file = tempfile::tempfile().unwrap();
        let got = ring.scope(|s| {
            for (i, iov) in iovs.iter().enumerate() {
                s.push(
                    WriteV::new(&file, &iov[..])
                        .offset(i as u64 * 4096)
                        .user_data(i as u64),
                )
                .unwrap();
            }
            s.push(Fsync::new(&file).flags(SqeFlags::IO_DRAIN).user_data(4))
                .unwrap();
            scope_reap_pairs(s, 5)
        });
        assert_eq!(got[4], (4, 0), "{setup:?}: {got:?}");
        let mut writes = got[..4].to_vec();
        writes.sort_unstable();
        assert_eq!(
            writes,
            [(0, 4096), (1, 4096), (2, 4096), (3, 4096)],
            "{setup:?}"
        );
        let mut back = vec![0u8; 4 * 4096];
        file.read_exact_at(&mut back, 0).unwrap();
        assert!(
            back == blocks.concat(),
            "{setup:?}: the file does not hold the writes"
        );
    }
}

// ---------------------------------------------------------------- timeout.c

/// timeout.c `test_timeout_flags1` and `test_timeout_flags3` (its drained
/// chains; liburing's 200 ms timeouts, here 20 ms): a timeout that expires
/// fails the op linked after it (`ECANCELED`), and a drained timeout waits
/// for what came before it and holds what comes after it:
/// - timeout ⇒ timeout, then a drained timeout: `ETIME`, `ECANCELED`, then
///   the drained one's `ETIME`;
/// - a drained timeout, then timeout ⇒ timeout: the drained one's `ETIME`,
///   then `ETIME`, `ECANCELED`.
#[test]
fn timeout_drained_timeouts_wait_for_and_hold_their_neighbours() {
    let _watch = uring_tests::watchdog();
    let t = || Timeout::new(Duration::from_millis(20));
    let mut ring = Ring::new(8).unwrap();
    ring.push(t().user_data(1).link(t().user_data(2))).unwrap();
    ring.push(t().flags(SqeFlags::IO_DRAIN).user_data(3))
        .unwrap();
    assert_eq!(
        pairs(&submit_and_reap(&mut ring, 3)),
        [(1, -libc::ETIME), (2, -libc::ECANCELED), (3, -libc::ETIME)]
    );
    let mut ring = Ring::new(8).unwrap();
    ring.push(t().flags(SqeFlags::IO_DRAIN).user_data(1))
        .unwrap();
    ring.push(t().user_data(2).link(t().user_data(3))).unwrap();
    assert_eq!(
        pairs(&submit_and_reap(&mut ring, 3)),
        [(1, -libc::ETIME), (2, -libc::ETIME), (3, -libc::ECANCELED)]
    );
}

// ---------------------------------------------------------------- submit-link-fail.c

/// Pushes into a scope a chain of `$size` SQEs joined with `$join` (`link`
/// or `hard_link`), the one at `$fail` made by `$bad(ud)`, the others by
/// `$nop(ud)`.
macro_rules! push_shape {
    ($s:expr, $join:ident, $size:expr, $fail:expr, $nop:expr, $bad:expr) => {
        match ($size, $fail) {
            (1, _) => $s.push($bad(0)).map_err(drop),
            (2, 0) => $s.push($bad(0).$join($nop(1))).map_err(drop),
            (2, _) => $s.push($nop(0).$join($bad(1))).map_err(drop),
            (3, 0) => $s.push($bad(0).$join($nop(1)).$join($nop(2))).map_err(drop),
            (3, 1) => $s.push($nop(0).$join($bad(1)).$join($nop(2))).map_err(drop),
            _ => $s.push($nop(0).$join($nop(1)).$join($bad(2))).map_err(drop),
        }
    };
}

/// submit-link-fail.c `test_underprep_fail` with a drain: a drained read
/// of an empty socket, then a chain (soft or hard, of 1 to 3 SQEs, every
/// one drained, or all but the last) whose SQE at each place fails to
/// prepare (a read with an invalid I/O priority). The chain does not wait
/// for the drain: the kernel fails it whole at submission, the member with
/// `EINVAL` and the others with `ECANCELED`, in chain order, while the
/// drained read still waits; it then reads the byte written (1).
#[test]
fn submit_link_fail_chain_behind_a_drain_fails_at_submission() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    for hard in [false, true] {
        for last_drained in [true, false] {
            for size in 1..=3u64 {
                for fail in 0..size {
                    let (mut tx, rx) = UnixStream::pair().unwrap();
                    let mut one = [0u8; 1];
                    let mut spare = [0u8; 1];
                    let what = format!(
                        "hard {hard}, last drained {last_drained}, size {size}, fail {fail}"
                    );
                    let flags = |ud: u64| {
                        if ud + 1 < size || last_drained {
                            SqeFlags::IO_DRAIN
                        } else {
                            SqeFlags::EMPTY
                        }
                    };
                    let (early, late) = ring.scope(|s| {
                        s.push(
                            Read::new(&rx, &mut one[..])
                                .flags(SqeFlags::IO_DRAIN)
                                .user_data(42),
                        )
                        .unwrap();
                        let nop = |ud: u64| Nop::new().flags(flags(ud)).user_data(ud);
                        let spare = &mut spare[..];
                        let bad = move |ud: u64| {
                            Read::new(uring_tests::bad_fd(), spare)
                                .ioprio(u16::MAX)
                                .flags(flags(ud))
                                .user_data(ud)
                        };
                        let pushed = if hard {
                            push_shape!(s, hard_link, size, fail, nop, bad)
                        } else {
                            push_shape!(s, link, size, fail, nop, bad)
                        };
                        pushed.unwrap_or_else(|()| panic!("{what}: push"));
                        let early = scope_reap_pairs(s, size as usize);
                        assert_eq!(scope_stray(s), [], "{what}: the drained read waits");
                        tx.write_all(b"z").unwrap();
                        (early, scope_reap_pairs(s, 1))
                    });
                    let want: Vec<(u64, i32)> = (0..size)
                        .map(|ud| {
                            (
                                ud,
                                if ud == fail {
                                    -libc::EINVAL
                                } else {
                                    -libc::ECANCELED
                                },
                            )
                        })
                        .collect();
                    assert_eq!(early, want, "{what}");
                    assert_eq!(late, [(42, 1)], "{what}");
                    uring_tests::net::assert_kernel_bytes(&one, b"z", &what);
                }
            }
        }
    }
}

// ---------------------------------------------------------------- lfs-openat.c

/// lfs-openat.c `test_drained_files`: an op that stays in flight (a 10 s
/// timeout, where liburing reads an empty pipe), then, with `prepend`, a
/// drained NOP, with `linked`, a drained NOP linked to the openat, and a
/// drained openat: nothing completes while the first op waits, and closing
/// a duplicate of the ring's descriptor (the kernel's `flush`) and then the
/// ring itself does not wait for the drained ops.
#[test]
fn lfs_openat_drained_ops_behind_a_pending_op_do_not_hold_up_closing_the_ring() {
    let _watch = uring_tests::watchdog();
    for prepend in [false, true] {
        for linked in [false, true] {
            let what = format!("prepend {prepend}, linked {linked}");
            let mut ring = Ring::new(10).unwrap();
            ring.push(Timeout::new(Duration::from_secs(10)).user_data(0))
                .unwrap();
            let mut pushed = 1;
            if prepend {
                ring.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(1))
                    .unwrap();
                pushed += 1;
            }
            let open = OpenAt::new(Fd::CWD, c"/dev/null")
                .open_flags(libc::O_RDONLY | libc::O_CLOEXEC)
                .flags(SqeFlags::IO_DRAIN)
                .user_data(3);
            let result = if linked {
                pushed += 2;
                let chain = Nop::new().flags(SqeFlags::IO_DRAIN).user_data(2).link(open);
                // SAFETY: the openat borrows a static path and names the
                // working directory; nothing else is lent.
                unsafe { ring.push_unchecked(chain) }.map_err(drop)
            } else {
                pushed += 1;
                // SAFETY: as above.
                unsafe { ring.push_unchecked(open) }.map_err(drop)
            };
            result.unwrap();
            assert_eq!(ring.submit().unwrap(), pushed, "{what}");
            assert_eq!(
                uring_tests::stray(&mut ring),
                [],
                "{what}: everything waits"
            );
            // SAFETY: the ring's descriptor stays open for the borrow, which
            // ends at once.
            let ring_fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(ring.as_raw_fd()) };
            drop(ring_fd.try_clone_to_owned().unwrap());
            drop(ring);
        }
    }
}

/// lfs-openat.c `test_drained_files` in a scope, on a plain,
/// deferred-task-work and SQPOLL ring: a read of an empty socket, then the
/// drained NOPs and openat (of a path that does not exist) as above; the
/// scope returns with all of them in flight. It returns (it cancels the
/// read, and the drained ops then run), the read's buffer is never written,
/// and a drained NOP on the ring afterwards completes at once.
#[test]
fn lfs_openat_scope_ends_with_drained_ops_behind_a_blocked_read() {
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let missing = uring_tests::cpath(&dir.path().join("missing"));
    for setup in [Setup::Plain, Setup::Defer, Setup::Sqpoll] {
        let Some(mut ring) = ring_with(setup, 16) else {
            continue;
        };
        for prepend in [false, true] {
            for linked in [false, true] {
                let what = format!("{setup:?}, prepend {prepend}, linked {linked}");
                let (mut tx, rx) = UnixStream::pair().unwrap();
                let mut buf = [0xa5u8; 64];
                ring.scope(|s| {
                    s.push(Read::new(&rx, &mut buf[..]).user_data(0)).unwrap();
                    let mut pushed = 2;
                    if prepend {
                        s.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(1))
                            .unwrap();
                        pushed += 1;
                    }
                    let open = OpenAt::new(Fd::CWD, &missing)
                        .flags(SqeFlags::IO_DRAIN)
                        .user_data(3);
                    if linked {
                        s.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(2).link(open))
                            .unwrap();
                        pushed += 1;
                    } else {
                        s.push(open).unwrap();
                    }
                    assert_eq!(scope_stray(s), [], "{what}: everything waits");
                    assert_eq!(s.in_flight(), pushed, "{what}");
                });
                uring_tests::assert_nothing_writes_after(&mut [&mut tx], &[&buf], 0xa5);
                ring.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(9))
                    .unwrap();
                assert_eq!(pairs(&submit_and_reap(&mut ring, 1)), [(9, 0)], "{what}");
            }
        }
    }
}

/// What the scope's documentation says of its cancels and the drain: a
/// cancel request is an SQE, held like any other behind a drained op. A
/// read of an empty socket, then a drained NOP: `Scope::cancel` of the read
/// queues a request that does not run (the NOP waits for the read, the
/// request for the NOP); a synchronous cancel, which needs no SQE, ends
/// the read (`ECANCELED`), then the NOP runs (0); the request's own end is
/// not shown, and nothing is left in flight.
#[test]
fn a_scope_cancel_request_waits_behind_a_drain_like_any_sqe() {
    let _watch = uring_tests::watchdog();
    for setup in [Setup::Plain, Setup::Defer] {
        let Some(mut ring) = ring_with(setup, 16) else {
            continue;
        };
        let (_tx, rx) = UnixStream::pair().unwrap();
        let mut buf = [0u8; 8];
        ring.scope(|s| {
            s.push(Read::new(&rx, &mut buf[..]).user_data(0)).unwrap();
            s.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(1))
                .unwrap();
            assert_eq!(scope_stray(s), [], "{setup:?}");
            assert_eq!(s.cancel(0).unwrap(), 1, "{setup:?}");
            assert_eq!(scope_stray(s), [], "{setup:?}: the cancel request is held");
            assert_eq!(s.in_flight(), 2, "{setup:?}");
            s.cancel_sync(SyncCancel::user_data(0), Some(PATIENCE))
                .unwrap();
            assert_eq!(
                scope_reap_pairs(s, 2),
                [(0, -libc::ECANCELED), (1, 0)],
                "{setup:?}"
            );
            assert_eq!(scope_stray(s), [], "{setup:?}");
            assert_eq!(s.in_flight(), 0, "{setup:?}");
        });
    }
}

// ---------------------------------------------------------------- open-direct-link.c

/// open-direct-link.c with `drain` (plain and `ASYNC`): an openat into
/// slot `i` of the registered file table, a read of that slot flagged
/// `IO_DRAIN`, and a close of the slot flagged `IO_DRAIN`. The drains
/// order what the typed surfaces refuse to push together (a slot opened,
/// read and closed in one batch): the open completes (0), then the read
/// (4096, the file's bytes), then the close (0).
#[test]
fn open_direct_drained_read_and_close_of_the_slot_run_in_order() {
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("link.direct");
    let data = uring_tests::pattern(4096, 3);
    std::fs::write(&path, &data).unwrap();
    let path = uring_tests::cpath(&path);
    let mut ring = Ring::new(8).unwrap();
    let mut files = ring.register_files_sparse(8).unwrap();
    for (slot, async_) in [(0, false), (1, true)] {
        let flags = if async_ {
            SqeFlags::ASYNC
        } else {
            SqeFlags::EMPTY
        };
        let mut buf = vec![0u8; 4096];
        let open = OpenAt::new(Fd::CWD, &path)
            .open_flags(libc::O_RDONLY)
            .direct(DirectSlot::at(files.get_mut(slot).unwrap()))
            .flags(flags)
            .user_data(1);
        // SAFETY: the path and the table outlive the three ops, which are
        // all reaped below. The openat fills the slot before the read of it
        // starts, and the read ends before the close of it starts (both
        // drained): no op uses the slot while another changes it.
        unsafe { ring.push_unchecked(open) }.map_err(drop).unwrap();
        let read = Read::new(files.get(slot).unwrap(), &mut buf[..])
            .flags(flags | SqeFlags::IO_DRAIN)
            .user_data(2);
        // SAFETY: as above; `buf` is read only after the read's completion.
        unsafe { ring.push_unchecked(read) }.map_err(drop).unwrap();
        let close = Close::new(files.get_mut(slot).unwrap())
            .flags(flags | SqeFlags::IO_DRAIN)
            .user_data(3);
        // SAFETY: as above.
        unsafe { ring.push_unchecked(close) }.map_err(drop).unwrap();
        assert_eq!(
            pairs(&submit_and_reap(&mut ring, 3)),
            [(1, 0), (2, 4096), (3, 0)],
            "slot {slot}, async {async_}"
        );
        uring_tests::net::assert_kernel_bytes(&buf, &data, "the drained read of the slot");
    }
    ring.unregister_files(files).unwrap();
}

/// open-direct-link.c's note that a drain and `CQE_SKIP_SUCCESS` exclude
/// each other: once any SQE of a ring was flagged `CQE_SKIP_SUCCESS`, the
/// kernel fails every drained SQE of that ring at submission
/// (`EOPNOTSUPP`), before the drained SQE submitted before it has run. A
/// scope posts a completion for every op, so it clears the flag: in a
/// scope, a NOP flagged `CQE_SKIP_SUCCESS` completes (0) and the ring's
/// drains keep working, in and after the scope.
#[test]
fn cqe_skip_success_on_a_ring_turns_its_drains_into_errors_but_not_in_a_scope() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !uring_tests::require_features(&ring, Features::CQE_SKIP, "CQE_SKIP_SUCCESS") {
        return;
    }
    ring.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(1))
        .unwrap();
    ring.push(Nop::new().flags(SqeFlags::CQE_SKIP_SUCCESS).user_data(2))
        .unwrap();
    ring.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(3))
        .unwrap();
    assert_eq!(ring.submit().unwrap(), 3);
    assert_eq!(
        pairs(&submit_and_reap(&mut ring, 2)),
        [(3, -libc::EOPNOTSUPP), (1, 0)]
    );
    assert_eq!(
        uring_tests::stray(&mut ring),
        [],
        "the skipped NOP posts nothing"
    );
    ring.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(4))
        .unwrap();
    assert_eq!(
        pairs(&submit_and_reap(&mut ring, 1)),
        [(4, -libc::EOPNOTSUPP)]
    );
    let got = ring.scope(|s| {
        s.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(5))
            .unwrap();
        scope_reap_pairs(s, 1)
    });
    assert_eq!(got, [(5, -libc::EOPNOTSUPP)], "the ring keeps it");

    let mut ring = Ring::new(8).unwrap();
    let got = ring.scope(|s| {
        s.push(Nop::new().flags(SqeFlags::CQE_SKIP_SUCCESS).user_data(2))
            .unwrap();
        s.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(3))
            .unwrap();
        scope_reap_pairs(s, 2)
    });
    assert_eq!(got, [(2, 0), (3, 0)]);
    ring.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(4))
        .unwrap();
    assert_eq!(pairs(&submit_and_reap(&mut ring, 1)), [(4, 0)]);
}

// ---------------------------------------------------------------- defer-taskrun.c

/// A ring with deferred task work and the task-run flag, as defer-taskrun.c
/// makes, or `None` with a skip message.
fn taskrun_ring() -> Option<Ring> {
    match Ring::builder()
        .single_issuer()
        .defer_taskrun()
        .taskrun_flag()
        .build(8)
    {
        Ok(ring) => Some(ring),
        Err(e) => {
            skip(format_args!("no deferred task work: {e}"));
            None
        }
    }
}

/// defer-taskrun.c `test_drain`, in a scope: a drained `WRITEV` of 128
/// one-byte iovecs to a socket, on a deferred-task-work ring: it completes
/// with 128, and the peer reads the 128 bytes in order.
#[test]
fn defer_taskrun_drained_writev_of_128_iovecs_writes_them_all() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = taskrun_ring() else {
        return;
    };
    let (tx, mut rx) = UnixStream::pair().unwrap();
    let bytes = uring_tests::pattern(128, 5);
    let iovs: Vec<IoSlice<'_>> = bytes.chunks(1).map(IoSlice::new).collect();
    let got = ring.scope(|s| {
        s.push(
            WriteV::new(&tx, &iovs[..])
                .flags(SqeFlags::IO_DRAIN)
                .user_data(1),
        )
        .unwrap();
        scope_reap_pairs(s, 1)
    });
    assert_eq!(got, [(1, 128)]);
    let mut back = vec![0u8; 128];
    rx.read_exact(&mut back).unwrap();
    assert_eq!(back, bytes);
}

/// defer-taskrun.c `test_drain` as liburing writes it: the iovecs' bases
/// are set to null right after the submit, before the drained `WRITEV`
/// runs (from deferred task work, at the wait). The kernel copied the
/// array at submission: the write still completes with 128 and the peer
/// reads the bytes.
#[test]
fn defer_taskrun_drained_writev_copied_its_iovecs_at_submission() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = taskrun_ring() else {
        return;
    };
    let (tx, mut rx) = UnixStream::pair().unwrap();
    let bytes = uring_tests::pattern(128, 6);
    let mut iovecs: Vec<libc::iovec> = bytes
        .iter()
        .map(|b| libc::iovec {
            iov_base: (b as *const u8).cast_mut().cast(),
            iov_len: 1,
        })
        .collect();
    let base = iovecs.as_mut_ptr();
    // SAFETY: `IoSlice` is a transparent `iovec` on Unix; the slice covers
    // the vector's 128 elements and is dropped with the op at the push.
    let slices = unsafe { std::slice::from_raw_parts(base.cast::<IoSlice<'_>>(), iovecs.len()) };
    let write = WriteV::new(&tx, slices)
        .flags(SqeFlags::IO_DRAIN)
        .user_data(1);
    // SAFETY: the socket, the bytes and the iovec array stay alive until the
    // completion is read below. The array is changed after the submit, but
    // only its bases, to null: were the kernel to read them then, the write
    // would fail (EFAULT) without touching any memory.
    unsafe { ring.push_unchecked(write) }.map_err(drop).unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    for i in 0..iovecs.len() {
        // SAFETY: `i` is within the vector, through its own pointer.
        unsafe { (*base.add(i)).iov_base = std::ptr::null_mut() };
    }
    assert_eq!(pairs(&submit_and_reap(&mut ring, 1)), [(1, 128)]);
    let mut back = vec![0u8; 128];
    rx.read_exact(&mut back).unwrap();
    assert_eq!(back, bytes);
    drop(iovecs);
}

// ---------------------------------------------------------------- synchronous cancels of drained ops

/// Runs a drained `SPLICE` from an empty pipe, which the kernel hands to an
/// io-wq worker (a drained op always goes to one) where it blocks, and
/// cancels it synchronously with a 2 s timeout once the worker runs it:
/// the result of `cancel_sync` and the splice's completion.
fn cancel_running_drained_splice(
    setup: Setup,
    timeout: Option<Duration>,
) -> Option<(uring::Result<()>, (u64, i32))> {
    use uring::ops::Splice;
    let mut ring = ring_with(setup, 8)?;
    let (empty, _writer) = pipe();
    let (_reader, sink) = pipe();
    Some(ring.scope(|s| {
        s.push(
            Splice::new(&sink, &empty, 16)
                .flags(SqeFlags::IO_DRAIN)
                .user_data(1),
        )
        .unwrap();
        assert_eq!(scope_stray(s), [], "{setup:?}: the splice waits for bytes");
        // (The worker has had 30 ms to start running it.)
        let r = s.cancel_sync(SyncCancel::user_data(1), timeout);
        let got = scope_reap_pairs(s, 1);
        (r, got[0])
    }))
}

/// Asserts what `cancel_sync` said of an op it found running and
/// interrupted: `Ok`, or `ENOENT` when the worker completed the op between
/// the kernel's two looks (Linux 6.18's `io_try_cancel` drops the first
/// look's `-EALREADY`, and the second finds nothing). The op ended either
/// way (its completion is checked apart).
fn assert_stopped(r: &uring::Result<()>) {
    assert!(
        r.is_ok() || matches!(r, Err(e) if e.raw_os_error() == Some(libc::ENOENT)),
        "cancel_sync: {r:?}"
    );
}

/// A synchronous cancel of a drained op that an io-wq worker runs, on a
/// plain ring: the worker is interrupted, the op completes with an error
/// (Linux 6.18 posts the kernel's internal `ERESTARTSYS`, -512, for an
/// interrupted splice), and `cancel_sync` returns `Ok` at once (see
/// [`assert_stopped`]).
#[test]
fn cancel_sync_stops_a_drained_op_running_in_a_worker() {
    let _watch = uring_tests::watchdog();
    let Some((r, (ud, res))) =
        cancel_running_drained_splice(Setup::Plain, Some(Duration::from_secs(2)))
    else {
        return;
    };
    assert_stopped(&r);
    assert_eq!(ud, 1);
    assert!(res < 0, "the interrupted splice: {res}");
}

/// The same on a deferred-task-work ring, with a timeout and without one:
/// `cancel_sync` returns `Ok` (see [`assert_stopped`]) once the splice has
/// ended. (The kernel's synchronous cancel finds the op running,
/// `EALREADY`, interrupts the worker and sleeps until a completion wakes
/// it; on such a ring the completion is task work for the sleeping thread
/// itself, so the library waits in slices and runs the ring's task work
/// between them.)
#[test]
fn cancel_sync_on_a_defer_taskrun_ring_returns_once_the_running_op_ended() {
    let _watch = uring_tests::watchdog();
    for timeout in [Some(Duration::from_secs(30)), None] {
        let Some((r, (ud, res))) = cancel_running_drained_splice(Setup::Defer, timeout) else {
            return;
        };
        assert_stopped(&r);
        assert_eq!(ud, 1);
        assert!(res < 0, "the interrupted splice: {res}");
    }
}
