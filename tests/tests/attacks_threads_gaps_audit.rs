//! The `Send` / `Sync` claims of the library, attacked with real threads
//! where the existing suites (`thread_races.rs`, `attacks_threads_panics.rs`,
//! `reactor_remote.rs`, `msg_target.rs`, `attacks_crossings.rs`) stop
//! short:
//! - compile-time proofs (stable Rust, the ambiguity trick) that the
//!   values which share state with one thread are neither `Send` nor
//!   `Sync` where that matters, and that the shared handles are both;
//! - a `BufRing` moved to another thread that claims, checks and gives
//!   back every buffer of a stream of datagrams while this thread's scope
//!   keeps selecting from it (`unsafe impl Send for BufRing`, `ScopeCqe`
//!   sent across);
//! - `Remote`s of several threads racing the reactor's drop: each closure
//!   run once or refused, dropped once, never lost;
//! - messages posted from other threads (`RingTarget::post`) while the
//!   target ring is resized over and over: each arrives once;
//! - a `RingTarget` dropped on another thread right after its messages:
//!   the first scope the ring accepts sees all of them already (the
//!   release/acquire pair of the target count);
//! - a ring dropped on one thread while another thread's scope sends it
//!   `MsgRing`s through its target;
//! - a `RawBufRing` (`Sync`) asked for its head from another thread, on a
//!   plain ring and on a `single_issuer` ring (whose kernel refuses every
//!   register call of another task), and dropped there;
//! - wakers of the reactor's tasks (`Send`) woken, cloned and dropped on
//!   other threads across the reactor's drop: tasks (not `Send`) dropped
//!   once, on the reactor's thread;
//! - a `single_issuer` ring moved to another thread: its refused submits,
//!   register calls and scope lose and repeat nothing.
//!
//! Read against Linux 6.18: `io_uring/msg_ring.c` (`io_msg_need_remote`,
//! `io_msg_data_remote`, `__io_msg_ring_data`, `io_uring_sync_msg_ring`),
//! `io_uring/register.c` (`__io_uring_register`, which refuses another
//! task than a `SINGLE_ISSUER` ring's submitter with `EEXIST`;
//! `io_register_resize_rings`), `io_uring/tctx.c`
//! (`__io_uring_add_tctx_node`, `EEXIST` for another submitter),
//! `io_uring/kbuf.c`
//! (`io_register_pbuf_status`, `io_unregister_pbuf_ring`,
//! `io_ring_buffer_select`).
//!
//! Every test is safe code against the running kernel and checks what the
//! kernel did: results, counts, bytes. A defect would be kept here marked
//! `#[ignore = "DEFECT: ..."]`; this audit found none (every `unsafe impl
//! Send` / `Sync` of `uring/src` held under these attacks).

use std::collections::HashMap;
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use uring::ops::{MsgRing, Nop, Recv};
use uring::reactor::Reactor;
use uring::{Error, PushErrorKind, Ring, RingTarget};
use uring_tests::PATIENCE;

// ---------------------------------------------------------------------
// Auto traits, at compile time.

/// `assert_not_impl!(T: Trait)` fails to build when `T: Trait`: with the
/// bound holding, both impls apply and the call is ambiguous.
macro_rules! assert_not_impl {
    ($t:ty: $tr:path) => {
        const _: fn() = || {
            trait AmbiguousIfImpl<A> {
                fn some_item() {}
            }
            impl<T: ?Sized> AmbiguousIfImpl<()> for T {}
            #[allow(dead_code)]
            struct Invalid;
            impl<T: ?Sized + $tr> AmbiguousIfImpl<Invalid> for T {}
            let _ = <$t as AmbiguousIfImpl<_>>::some_item;
        };
    };
}

// A claimed buffer updates its `BufRing`'s cells when dropped.
assert_not_impl!(uring::Buf<'static>: Send);
assert_not_impl!(uring::Buf<'static>: Sync);
// Cells: one thread at a time.
assert_not_impl!(uring::BufRing: Sync);
assert_not_impl!(Ring: Sync);
assert_not_impl!(uring::Scope<'static, 'static>: Sync);
// The SQ and CQ views and a scope's halves stay where they were made.
assert_not_impl!(uring::SubmissionQueue<'static>: Send);
assert_not_impl!(uring::Completions<'static>: Send);
assert_not_impl!(uring::ScopeSubmissionQueue<'static, 'static>: Send);
assert_not_impl!(uring::ScopeCompletions<'static, 'static>: Send);
assert_not_impl!(uring::OwnedPush<'static, 'static>: Send);
// Everything of the reactor but `Remote` is one thread's.
assert_not_impl!(uring::reactor::Reactor: Send);
assert_not_impl!(uring::reactor::Handle: Send);
assert_not_impl!(uring::reactor::SharedFd: Send);
assert_not_impl!(uring::reactor::RingBuf: Send);
assert_not_impl!(uring::reactor::OpFuture<uring::reactor::ops::Nop>: Send);
assert_not_impl!(uring::reactor::ops::Read<Vec<u8>>: Send);

const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    const fn send<T: Send>() {}
    // Shared handles: what `&` of them does is a system call on a
    // descriptor of their own, or an atomic.
    send_sync::<RingTarget>();
    send_sync::<uring::RawBufRing>();
    send_sync::<uring::reactor::Remote>();
    send_sync::<uring::ScopeCqe<'static>>();
    send_sync::<uring::FixedFiles>();
    send_sync::<uring::FixedBuffers>();
    send_sync::<uring::Personality>();
    // Owned outright, moved whole.
    send::<Ring>();
    send::<uring::BufRing>();
    send::<uring::Scope<'static, 'static>>();
    // Reactor ops that own no `SharedFd` go through a `Remote`.
    send::<uring::reactor::ops::Nop>();
    send::<uring::reactor::ops::Timeout>();
};

// ---------------------------------------------------------------------
// Buffer rings on another thread.

/// The 16 bytes of datagram `i`.
fn datagram(i: u64) -> [u8; 16] {
    let mut d = [0u8; 16];
    d[..8].copy_from_slice(&i.to_le_bytes());
    d[8..].copy_from_slice(&(!i).to_le_bytes());
    d
}

/// A `BufRing` of 4 buffers moves to another thread (`Send`), which claims
/// every completion this thread's scope hands it (`ScopeCqe` is `Send`),
/// checks the bytes and drops the `Buf` there, giving the buffer back to
/// the kernel from that thread while this one keeps receiving into the
/// ring. 600 datagrams through 4 buffers: each claimed once with its own
/// bytes, no receive ever short of a buffer while fewer than 4 are out,
/// and the ring whole again at the end.
#[test]
fn a_buffer_ring_on_another_thread_recycles_every_buffer_this_thread_selects() {
    let _watch = uring_tests::watchdog();
    const COUNT: u16 = 4;
    const N: u64 = 600;
    let mut ring = Ring::new(16).unwrap();
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 11, COUNT, 64) else {
        return;
    };
    let select = pool.select();
    let (tx, rx) = UnixDatagram::pair().unwrap();
    let pool = ring.scope(|s| {
        thread::scope(|t| {
            let (cqes, claimed) = (mpsc::channel(), mpsc::channel::<u64>());
            let (to_claimer, from_main) = cqes;
            let (acked, acks) = claimed;
            let claimer = t.spawn(move || {
                let pool = pool;
                let mut n = 0u64;
                while let Ok(mut cqe) = from_main.recv() {
                    {
                        let buf = pool.claim(&mut cqe).expect("a first claim");
                        assert_eq!(&buf[..], &datagram(n)[..], "datagram {n}");
                        assert!(pool.claim(&mut cqe).is_err(), "a second claim of {n}");
                    }
                    n += 1;
                    acked.send(n).unwrap();
                }
                assert_eq!(n, N);
                assert_eq!(pool.lent(), 0);
                pool
            });
            let mut done = 0u64;
            for i in 0..N {
                while i - done >= u64::from(COUNT) {
                    done = acks
                        .recv_timeout(PATIENCE)
                        .expect("the claimer gives a buffer back");
                }
                tx.send(&datagram(i)).unwrap();
                s.push(Recv::new(&rx, select).user_data(i)).unwrap();
                let cqe = uring_tests::next_scope_cqe(s);
                assert_eq!(
                    (cqe.user_data(), cqe.res()),
                    (i, 16),
                    "receive {i} with {} buffers out",
                    i - done
                );
                to_claimer.send(cqe).unwrap();
            }
            drop(to_claimer);
            claimer.join().expect("no panic on the claiming thread")
        })
    });
    assert_eq!(pool.lent(), 0);
    if uring_tests::has_pbuf_status() {
        assert_eq!(pool.available().unwrap(), COUNT, "every buffer is back");
    }
}

// ---------------------------------------------------------------------
// Remotes racing the reactor's drop.

/// Counts how a closure ended.
struct Canary {
    dropped: Arc<AtomicUsize>,
}

impl Drop for Canary {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// Three threads send ops and closures through `Remote`s as fast as they
/// can while the reactor runs for a few milliseconds on its thread and is
/// then dropped (no explicit shutdown), 30 rounds. Whatever a send
/// accepted runs once, on the reactor's thread (an op with `Ok(0)` or the
/// shutdown's error), whatever it refused never runs, and every closure
/// is dropped exactly once: none is lost in the race between a send and
/// the inbox's closing.
#[test]
fn remotes_racing_the_reactor_s_drop_run_or_refuse_each_closure_once() {
    let _watch = uring_tests::watchdog();
    for round in 0..30u64 {
        let barrier = Arc::new(Barrier::new(5));
        let (remote_tx, remote_rx) = mpsc::channel();
        let reactor_barrier = Arc::clone(&barrier);
        let reactor_thread = thread::spawn(move || {
            let reactor = Reactor::new().expect("a reactor");
            remote_tx.send(reactor.remote()).unwrap();
            reactor_barrier.wait();
            uring_tests::run_for(&reactor, 1 + round % 4);
            drop(reactor);
        });
        let reactor_id = reactor_thread.thread().id();
        let remote = remote_rx.recv().unwrap();
        let dropped = Arc::new(AtomicUsize::new(0));
        let ran_ok = Arc::new(AtomicUsize::new(0));
        let ran_err = Arc::new(AtomicUsize::new(0));
        let wrong_thread = Arc::new(AtomicUsize::new(0));
        let senders: Vec<_> = (0..3)
            .map(|who| {
                let remote = remote.clone();
                let barrier = Arc::clone(&barrier);
                let (dropped, ran_ok, ran_err, wrong_thread) = (
                    Arc::clone(&dropped),
                    Arc::clone(&ran_ok),
                    Arc::clone(&ran_err),
                    Arc::clone(&wrong_thread),
                );
                thread::spawn(move || {
                    barrier.wait();
                    let (mut attempts, mut accepted) = (0usize, 0usize);
                    let deadline = Instant::now() + PATIENCE;
                    loop {
                        assert!(Instant::now() < deadline, "the reactor never refused");
                        let canary = Canary {
                            dropped: Arc::clone(&dropped),
                        };
                        let (ok, err, wrong) = (
                            Arc::clone(&ran_ok),
                            Arc::clone(&ran_err),
                            Arc::clone(&wrong_thread),
                        );
                        attempts += 1;
                        let sent = if (attempts + who) % 2 == 0 {
                            remote
                                .queue(uring::reactor::ops::Nop, move |r, ()| {
                                    let _canary = canary;
                                    if thread::current().id() != reactor_id {
                                        wrong.fetch_add(1, Ordering::SeqCst);
                                    }
                                    match r {
                                        Ok(0) => ok.fetch_add(1, Ordering::SeqCst),
                                        Ok(n) => panic!("a nop completed with {n}"),
                                        Err(_) => err.fetch_add(1, Ordering::SeqCst),
                                    };
                                })
                                .map(drop)
                        } else {
                            remote.execute(move |_| {
                                let _canary = canary;
                                if thread::current().id() != reactor_id {
                                    wrong.fetch_add(1, Ordering::SeqCst);
                                }
                                ok.fetch_add(1, Ordering::SeqCst);
                            })
                        };
                        match sent {
                            Ok(()) => accepted += 1,
                            Err(e) => {
                                assert!(e.to_string().contains("shut down"), "{e}");
                                break;
                            }
                        }
                    }
                    // Refused from now on, and dropped unrun.
                    let canary = Canary {
                        dropped: Arc::clone(&dropped),
                    };
                    attempts += 1;
                    assert!(
                        remote
                            .execute(move |_| {
                                let _canary = canary;
                                unreachable!("run after a refusal");
                            })
                            .is_err()
                    );
                    (attempts, accepted)
                })
            })
            .collect();
        drop(remote);
        barrier.wait();
        let (mut attempts, mut accepted) = (0, 0);
        for s in senders {
            let (a, b) = s.join().expect("no panic on a sending thread");
            attempts += a;
            accepted += b;
        }
        reactor_thread
            .join()
            .expect("no panic on the reactor's thread");
        let ran = ran_ok.load(Ordering::SeqCst) + ran_err.load(Ordering::SeqCst);
        assert_eq!(
            ran, accepted,
            "round {round}: {accepted} closures accepted, {ran} run"
        );
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            attempts,
            "round {round}: every closure dropped once"
        );
        assert_eq!(wrong_thread.load(Ordering::SeqCst), 0, "round {round}");
    }
}

// ---------------------------------------------------------------------
// Targets across threads.

fn post_supported(target: &RingTarget, ring: &mut Ring) -> bool {
    match target.post(0, u64::MAX - 1) {
        Err(Error::Os { ref source, .. }) if source.raw_os_error() == Some(libc::EINVAL) => {
            uring_tests::skip("no IORING_REGISTER_SEND_MSG_RING (6.13)");
            false
        }
        other => {
            other.expect("a first post");
            let deadline = Instant::now() + PATIENCE;
            loop {
                assert!(Instant::now() < deadline, "the first post never came");
                let _ = ring.wait_timeout(1, Duration::from_millis(10));
                let got: Vec<_> = ring.completions().map(|c| c.user_data()).collect();
                if !got.is_empty() {
                    assert_eq!(got, [u64::MAX - 1]);
                    return true;
                }
            }
        }
    }
}

/// Two threads post 3000 messages each into a deferred-task-work ring
/// through its `RingTarget` while the ring's thread resizes it back and
/// forth between small and large queues (refused resizes, `EOVERFLOW`
/// when the waiting completions do not fit, are fine) and reads what
/// came: each message arrives once, with its result, and some resizes
/// happened while messages were on their way.
#[test]
fn messages_posted_from_threads_during_resizes_arrive_once_each() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = uring_tests::resizable_ring(8) else {
        return;
    };
    let target = ring.msg_target().unwrap();
    if !post_supported(&target, &mut ring) {
        return;
    }
    const PER: u64 = 3000;
    let sizes = [(8, 16), (16, 64), (8, 256), (32, 1024), (4, 8)];
    let mut got: HashMap<u64, i32> = HashMap::new();
    let (mut resized, mut refused) = (0u32, 0u32);
    thread::scope(|t| {
        let target = &target;
        let posters: Vec<_> = (0..2u64)
            .map(|who| {
                t.spawn(move || {
                    for i in 0..PER {
                        target
                            .post((i % 1000) as i32, who << 32 | i)
                            .expect("a post");
                    }
                })
            })
            .collect();
        let deadline = Instant::now() + PATIENCE;
        let mut n = 0usize;
        while got.len() < 2 * PER as usize {
            assert!(
                Instant::now() < deadline,
                "{} of {} messages after {resized} resizes",
                got.len(),
                2 * PER
            );
            let (sq, cq) = sizes[n % sizes.len()];
            n += 1;
            match ring.resize(sq, cq) {
                Ok(()) => resized += 1,
                Err(Error::Os { ref source, .. })
                    if source.raw_os_error() == Some(libc::EOVERFLOW) =>
                {
                    refused += 1
                }
                Err(e) => panic!("resize to ({sq}, {cq}): {e}"),
            }
            let _ = ring.wait_timeout(1, Duration::from_millis(1));
            uring_tests::let_peers_run();
            for c in ring.completions() {
                assert!(
                    got.insert(c.user_data(), c.res()).is_none(),
                    "message {:#x} twice",
                    c.user_data()
                );
            }
        }
        for p in posters {
            p.join().expect("no panic on a posting thread");
        }
    });
    for who in 0..2u64 {
        for i in 0..PER {
            assert_eq!(got.get(&(who << 32 | i)), Some(&((i % 1000) as i32)));
        }
    }
    assert!(resized > 0, "no resize went through ({refused} refused)");
    // Nothing more comes.
    assert_eq!(uring_tests::stray(&mut ring), []);
}

/// A thread posts `k` messages through a ring's target and drops the
/// target; this thread tries scopes until one takes its op (while the
/// target lives, each refuses it: `Targeted`). The scope that takes it
/// begins after the drop, whose release store the scope's check acquires,
/// so all `k` messages are in the CQ by then: the scope hands them out as
/// foreign completions, none passes for its op, and none is missing.
/// 200 rounds, with the thread started at a barrier.
#[test]
fn a_target_dropped_on_another_thread_leaves_its_messages_before_the_next_scope() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(64).unwrap();
    {
        let target = ring.msg_target().unwrap();
        if !post_supported(&target, &mut ring) {
            return;
        }
    }
    for round in 0..200u64 {
        let k = round % 8 + 1;
        let target = ring.msg_target().unwrap();
        let barrier = Barrier::new(2);
        let (seen, refused) = thread::scope(|t| {
            let barrier = &barrier;
            t.spawn(move || {
                barrier.wait();
                for i in 0..k {
                    target.post(i as i32, round << 8 | i).expect("a post");
                }
                drop(target);
            });
            barrier.wait();
            let deadline = Instant::now() + PATIENCE;
            let mut refused = 0u32;
            loop {
                assert!(
                    Instant::now() < deadline,
                    "round {round}: no scope took an op"
                );
                let seen = ring.scope(|s| match s.push(Nop::new().user_data(7)) {
                    Ok(_) => {
                        // Only what is in the CQ now, without waiting for
                        // more messages: the scope's own op's completion.
                        let mut foreign = Vec::new();
                        let mut mine = Vec::new();
                        while mine.is_empty() {
                            s.submit_and_wait(1).unwrap();
                            for c in s.completions() {
                                if c.is_scope_op() {
                                    mine.push((c.user_data(), c.res()));
                                } else {
                                    foreign.push((c.user_data(), c.res()));
                                }
                            }
                        }
                        assert_eq!(mine, [(7, 0)], "round {round}");
                        Some(foreign)
                    }
                    Err(e) => {
                        assert_eq!(e.kind(), PushErrorKind::Targeted, "round {round}");
                        None
                    }
                });
                match seen {
                    Some(seen) => break (seen, refused),
                    None => {
                        refused += 1;
                        thread::yield_now();
                    }
                }
            }
        });
        let mut seen = seen;
        // Messages left in the CQ after the scope's own completion.
        seen.extend(ring.completions().map(|c| (c.user_data(), c.res())));
        seen.sort_unstable();
        let want: Vec<_> = (0..k).map(|i| (round << 8 | i, i as i32)).collect();
        assert_eq!(seen, want, "round {round} ({refused} scopes refused)");
    }
}

/// A thread's scope sends 300 `MsgRing`s to a ring through its target
/// while the ring itself is dropped on a third thread half way: the
/// target keeps the kernel's ring alive, so every message is delivered
/// (`0`), each sender completion comes once, and nothing breaks.
#[test]
fn a_ring_dropped_on_another_thread_while_a_scope_sends_it_messages() {
    let _watch = uring_tests::watchdog();
    for round in 0..10u64 {
        let victim = Ring::new(8).unwrap();
        let target = victim.msg_target().unwrap();
        let barrier = Barrier::new(2);
        let results = thread::scope(|t| {
            let barrier = &barrier;
            t.spawn(move || {
                barrier.wait();
                thread::sleep(Duration::from_micros(200 * round));
                drop(victim);
            });
            let mut sender = Ring::new(16).unwrap();
            barrier.wait();
            let mut results = Vec::new();
            sender.scope(|s| {
                for i in 0..300u64 {
                    s.push(MsgRing::new(&target, 1, i).user_data(i)).unwrap();
                    let cqe = uring_tests::next_scope_cqe(s);
                    results.push((cqe.user_data(), cqe.res()));
                }
            });
            results
        });
        let want: Vec<_> = (0..300u64).map(|i| (i, 0)).collect();
        assert_eq!(results, want, "round {round}");
        drop(target);
    }
}

// ---------------------------------------------------------------------
// Raw buffer rings shared across threads.

fn errno(e: &Error) -> Option<i32> {
    match e {
        Error::Os { source, .. } => source.raw_os_error(),
        _ => None,
    }
}

/// A `RawBufRing` is `Sync`: another thread reads its head through `&`.
/// On a plain ring it reads what this thread reads; on a `single_issuer`
/// ring the kernel refuses every register call of another task
/// (`EEXIST`), which comes back as an error, not a panic or a made-up
/// head. Dropped on that other thread, a `single_issuer` ring's
/// `RawBufRing` cannot unregister its group: the group stays the kernel's
/// (registering it again fails with `EEXIST`) where a plain ring's is
/// free again.
#[test]
fn a_raw_buf_ring_used_and_dropped_on_another_thread() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        uring_tests::skip("no IORING_REGISTER_PBUF_STATUS (6.8)");
        return;
    }
    for single in [false, true] {
        let builder = if single {
            Ring::builder().single_issuer()
        } else {
            Ring::builder()
        };
        let Ok(mut ring) = builder.build(8) else {
            uring_tests::skip("no single_issuer rings (6.0)");
            return;
        };
        let Some(raw) = uring_tests::raw_buf_ring(&mut ring, 21, 8) else {
            return;
        };
        let here = (
            raw.head().unwrap(),
            raw.available().unwrap(),
            raw.room().unwrap(),
        );
        assert_eq!(here, (0, 0, 8));
        let there = thread::scope(|t| {
            t.spawn(|| (raw.head(), raw.available(), raw.room()))
                .join()
                .unwrap()
        });
        if single {
            for (what, r) in [("head", there.0), ("available", there.1), ("room", there.2)] {
                let e = r.expect_err(what);
                assert_eq!(errno(&e), Some(libc::EEXIST), "{what}: {e}");
            }
        } else {
            assert_eq!((there.0.unwrap(), there.1.unwrap(), there.2.unwrap()), here);
        }
        thread::spawn(move || drop(raw)).join().unwrap();
        let again = ring.register_buf_ring_raw(uring::BufferGroup::new(21), 8);
        if single {
            let e = again.expect_err("the group is still registered");
            assert_eq!(errno(&e), Some(libc::EEXIST), "{e}");
        } else {
            again.expect("the group was unregistered on the other thread");
        }
        // The ring itself still works on its thread.
        ring.push(Nop::new().user_data(5)).unwrap();
        assert_eq!(uring_tests::reap_one(&mut ring).user_data(), 5);
    }
}

// ---------------------------------------------------------------------
// Wakers on other threads.

/// Records the thread a task's future was dropped on.
struct TaskCanary {
    dropped: Arc<AtomicUsize>,
    elsewhere: Arc<AtomicUsize>,
    home: thread::ThreadId,
}

impl Drop for TaskCanary {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
        if thread::current().id() != self.home {
            self.elsewhere.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Tasks that never finish hand clones of their wakers (`Send`) to two
/// other threads, which wake, clone and drop them without pause while the
/// reactor runs, while it is dropped, and after: every task (which holds
/// an `Rc`, so is not `Send`) is dropped once, on the reactor's thread,
/// at the reactor's drop, and the wakers that outlive it wake nothing and
/// free nothing of it. 20 rounds.
#[test]
fn wakers_on_other_threads_outlive_the_reactor_without_touching_its_tasks() {
    use std::sync::Mutex;
    use std::sync::atomic::AtomicBool;
    use std::task::{Poll, Waker};
    let _watch = uring_tests::watchdog();
    for round in 0..20u64 {
        let wakers: Arc<Mutex<Vec<Waker>>> = Arc::default();
        let dropped = Arc::new(AtomicUsize::new(0));
        let elsewhere = Arc::new(AtomicUsize::new(0));
        let polls = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let reactor = Reactor::new().expect("a reactor");
        const TASKS: usize = 8;
        for _ in 0..TASKS {
            let canary = TaskCanary {
                dropped: Arc::clone(&dropped),
                elsewhere: Arc::clone(&elsewhere),
                home: thread::current().id(),
            };
            let (wakers, polls) = (Arc::clone(&wakers), Arc::clone(&polls));
            reactor.spawn(async move {
                let here = std::rc::Rc::new(canary);
                std::future::poll_fn(|cx| {
                    let _ = &here;
                    polls.fetch_add(1, Ordering::SeqCst);
                    let mut w = wakers.lock().unwrap();
                    if w.len() < 64 {
                        w.push(cx.waker().clone());
                    }
                    Poll::<()>::Pending
                })
                .await;
            });
        }
        let wakers_of = |wakers: &Arc<Mutex<Vec<Waker>>>, stop: &Arc<AtomicBool>| {
            let (wakers, stop) = (Arc::clone(wakers), Arc::clone(stop));
            thread::spawn(move || {
                let mut mine: Vec<Waker> = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    mine.extend(wakers.lock().unwrap().iter().cloned());
                    for w in &mine {
                        w.wake_by_ref();
                    }
                    if mine.len() > 256 {
                        mine.drain(..128).for_each(Waker::wake);
                    }
                    thread::yield_now();
                }
                // Each waker's last clone may go here, after the reactor.
                drop(mine);
            })
        };
        let threads = [wakers_of(&wakers, &stop), wakers_of(&wakers, &stop)];
        uring_tests::run_for(&reactor, 2 + round % 3);
        assert!(polls.load(Ordering::SeqCst) >= TASKS, "every task ran");
        assert_eq!(dropped.load(Ordering::SeqCst), 0, "no task ended yet");
        drop(reactor);
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            TASKS,
            "round {round}: the reactor's drop drops every task"
        );
        thread::sleep(Duration::from_millis(2));
        stop.store(true, Ordering::SeqCst);
        for t in threads {
            t.join().expect("no panic on a waking thread");
        }
        wakers.lock().unwrap().clear();
        assert_eq!(dropped.load(Ordering::SeqCst), TASKS, "round {round}");
        assert_eq!(elsewhere.load(Ordering::SeqCst), 0, "round {round}");
    }
}

// ---------------------------------------------------------------------
// Rings moved to threads their kernel refuses.

/// A `single_issuer` ring (no deferred task work) moved to another thread:
/// there the kernel refuses its submissions and register calls (`EEXIST`)
/// and they come back as errors; a scope's read, which the kernel never
/// took, is taken back and never writes into its buffer; a nop pushed
/// there and left in the SQ runs once when the ring, moved back, submits
/// it, and nothing else comes.
#[test]
fn a_single_issuer_ring_on_another_thread_refuses_and_loses_nothing() {
    let _watch = uring_tests::watchdog();
    let Ok(mut ring) = Ring::builder().single_issuer().build(8) else {
        uring_tests::skip("no single_issuer rings (6.0)");
        return;
    };
    ring.push(Nop::new().user_data(1)).unwrap();
    assert_eq!(uring_tests::reap_one(&mut ring).user_data(), 1);
    let (mut tx, rx) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut buf = [0x5au8; 16];
    let (ring, submitted, registered, scoped) = thread::scope(|t| {
        t.spawn(|| {
            let mut ring = ring;
            ring.push(Nop::new().user_data(2)).unwrap();
            let submitted = ring.submit().map_err(|e| errno(&e));
            let registered = ring
                .register_files(&[std::os::fd::AsFd::as_fd(&rx)])
                .map(|_| ())
                .map_err(|e| errno(&e));
            let scoped = ring.scope(|s| {
                let pushed = s
                    .push(uring::ops::Read::new(&rx, &mut buf[..]).user_data(3))
                    .map(|_| ())
                    .map_err(|e| e.kind());
                let submit = s.submit().map_err(|e| errno(&e));
                (pushed, submit)
            });
            (ring, submitted, registered, scoped)
        })
        .join()
        .expect("no panic on the other thread")
    });
    assert_eq!(submitted, Err(Some(libc::EEXIST)));
    assert_eq!(registered, Err(Some(libc::EEXIST)));
    // The scope's read is written into the SQ, and its submission refused.
    assert_eq!(scoped, (Ok(()), Err(Some(libc::EEXIST))));
    uring_tests::assert_nothing_writes_after(&mut [&mut tx], &[&buf[..]], 0x5a);
    let mut ring = ring;
    let cqes = uring_tests::submit_and_reap(&mut ring, 1);
    assert_eq!(uring_tests::pairs(&cqes), [(2, 0)]);
    assert_eq!(uring_tests::stray(&mut ring), [], "nothing else comes");
}
