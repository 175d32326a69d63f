//! Attacks on the event-loop layer (`uring::reactor`, `uring::net`) from
//! safe code, at the edges the other reactor suites leave: futures and
//! streams held past their reactor's drop and polled afterwards; wakers
//! that panic in the middle of a batch of completions; callbacks that panic
//! while the CQ overflows into the reactor's own queue; ids of one slot
//! kept over thousands of reuses and cancelled from inside the callbacks
//! that reuse it; a multishot op cancelling itself from its own callbacks,
//! its last one included; deadlines of every size on ops dropped or
//! cancelled as soon as queued; thousands of receive futures dropped at
//! once through a ring of 64 entries; a buffer group handed from a
//! receive stream dropped mid-stream to the next one while buffers of both
//! are held; a `run_until` whose own future panics with ops in flight; and
//! tokio's `AsyncRead` / `AsyncWrite` cut by timeouts and abandoned polls.
//!
//! Each test asserts what the kernel and the reactor really did: every
//! callback and every wake exactly once, each op's memory given back once
//! (its descriptor's clones all dropped, its captures dropped once, its
//! buffer back with the bytes it had), errno values, the bytes each
//! socket carried, and buffers the kernel must not have written keeping
//! their canaries.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::{self, Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use uring::reactor::ops::{Nop, PollMulti, Recv, RecvMulti, Timeout};
use uring::reactor::{OpId, Reactor, SharedFd};
use uring::{BufferGroup, PollEvents, Ring};
use uring_tests::{Rng, pattern, poll_once, run_for, skip, watchdog};

// ---------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------

/// A connected pair: the reactor's side as a `SharedFd`, a duplicate of
/// it (to read what no op took), and the peer.
fn pair() -> (SharedFd, UnixStream, UnixStream) {
    let (a, peer) = UnixStream::pair().unwrap();
    let dup = a.try_clone().unwrap();
    (SharedFd::new(a), dup, peer)
}

/// What `socket` holds now, read without blocking.
fn drain(socket: &mut UnixStream) -> Vec<u8> {
    socket.set_nonblocking(true).unwrap();
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match socket.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("reading the socket: {e}"),
        }
    }
    out
}

/// The errno of an op's result (`None` for a success).
fn errno(result: &io::Result<u32>) -> Option<i32> {
    result.as_ref().err().and_then(io::Error::raw_os_error)
}

/// Counts its drops: a capture whose drop tells when the reactor let a
/// callback's value go.
struct Dropped(Rc<Cell<usize>>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// A waker that counts its wakes, and panics at the first one while armed.
#[derive(Default)]
struct Counting {
    wakes: AtomicUsize,
    panics: AtomicBool,
}

impl Wake for Counting {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        if self.panics.swap(false, Ordering::SeqCst) {
            panic!("a waker panics");
        }
    }
}

/// Polls `future` once with `waker`.
fn poll_with<F: Future + Unpin>(future: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(waker))
}

// ---------------------------------------------------------------------------
// Futures and streams held past their reactor
// ---------------------------------------------------------------------------

/// Futures in every state (complete but unpolled, polled and waiting, never
/// polled, a long timeout) and a receive stream with a buffer queued, all
/// held while their reactor is dropped, then polled: the drop woke the
/// waiting future once and ended every op; each future then resolves once
/// (`ECANCELED` for the cut ops, with their buffers' bytes untouched) and
/// stays pending after; the stream hands out the buffer it received, then
/// its op's `ECANCELED`, then ends; the buffer keeps its bytes after the
/// stream and the last handle are gone; and no op takes a byte sent after
/// the drop. Polling after the reactor is gone must neither resurrect an
/// op nor hand a result out twice.
#[test]
fn futures_and_streams_held_past_their_reactor_s_drop_resolve_once_with_their_memory() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let group = match reactor.register_buf_ring(BufferGroup::new(5), 4, 32) {
        Ok(group) => group,
        Err(e) => return skip(format!("no provided-buffer rings: {e}")),
    };
    let (sfd, mut sdup, mut speer) = pair();
    let (rfd, mut rdup, mut rpeer) = pair();
    let mut stream = h.stream(RecvMulti::new(&sfd, group));
    speer.write_all(b"abc").unwrap();
    run_for(&reactor, 20);
    let mut done = h.op(Nop);
    let waker = Arc::new(Counting::default());
    let mut polled = h.op(Recv::new(&rfd, vec![0xAA; 16]));
    assert!(poll_with(&mut polled, &Waker::from(waker.clone())).is_pending());
    let mut unpolled = h.op(Recv::new(&rfd, vec![0xBB; 16]));
    let mut timer = h.op(Timeout::new(Duration::from_secs(30)));
    run_for(&reactor, 5);
    // The stream, both receives and the timer; the NOP is done.
    assert_eq!(h.in_flight(), 4);
    assert_eq!(waker.wakes.load(Ordering::SeqCst), 0);

    drop(reactor);
    assert!(h.is_shut_down());
    assert_eq!(h.in_flight(), 0);
    assert_eq!(
        waker.wakes.load(Ordering::SeqCst),
        1,
        "the waiting future is woken once, by the shutdown"
    );

    match poll_once(&mut done) {
        Poll::Ready((r, ())) => assert_eq!(r.unwrap(), 0),
        Poll::Pending => panic!("a completed NOP is pending after the drop"),
    }
    for (future, canary) in [(&mut polled, 0xAA), (&mut unpolled, 0xBB)] {
        match poll_once(future) {
            Poll::Ready((r, buf)) => {
                assert_eq!(errno(&r), Some(libc::ECANCELED));
                assert_eq!(buf, vec![canary; 16], "a cut receive wrote its buffer");
            }
            Poll::Pending => panic!("a receive is pending after the drop"),
        }
        assert!(poll_once(future).is_pending(), "a result handed out twice");
    }
    match poll_once(&mut timer) {
        Poll::Ready((r, ())) => assert_eq!(errno(&r), Some(libc::ECANCELED)),
        Poll::Pending => panic!("a timer is pending after the drop"),
    }
    assert!(poll_once(&mut timer).is_pending());
    assert!(poll_once(&mut done).is_pending());

    let mut cx = Context::from_waker(Waker::noop());
    let held = match stream.poll_next(&mut cx) {
        Poll::Ready(Some(Ok(Some(buf)))) => buf,
        other => panic!("the stream's queued buffer: {:?}", other.map(|_| ())),
    };
    assert_eq!(&held[..], b"abc");
    match stream.poll_next(&mut cx) {
        Poll::Ready(Some(Err(e))) => assert_eq!(e.raw_os_error(), Some(libc::ECANCELED)),
        other => panic!("the stream's last item: {:?}", other.map(|_| ())),
    }
    for _ in 0..3 {
        assert!(matches!(stream.poll_next(&mut cx), Poll::Ready(None)));
    }
    drop((stream, done, polled, unpolled, timer));
    drop(h);
    assert_eq!(
        &held[..],
        b"abc",
        "a held buffer changed after its reactor went"
    );
    drop(held);

    // No op took what comes now, and none holds the descriptors.
    speer.write_all(b"after").unwrap();
    rpeer.write_all(b"after").unwrap();
    assert_eq!(drain(&mut sdup), b"after");
    assert_eq!(drain(&mut rdup), b"after");
    assert!(
        sfd.try_unwrap().is_ok(),
        "an op kept the stream's descriptor"
    );
    assert!(
        rfd.try_unwrap().is_ok(),
        "an op kept the receives' descriptor"
    );
}

// ---------------------------------------------------------------------------
// Panics during the reap
// ---------------------------------------------------------------------------

/// Wakers of futures that panic when the reap wakes them, in the middle of
/// a batch of completions for futures and callbacks: each panic reaches
/// the caller of `run`, and the next run goes on where it stopped. Every
/// waker is woken exactly once, every callback runs exactly once and in
/// order, every future resolves to its NOP's result once; a completion
/// lost to the unwinding would leave a future pending for good, one read
/// twice would wake or call twice.
#[test]
fn wakers_that_panic_mid_batch_lose_and_repeat_no_completion() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    const N: usize = 64;
    let wakers: Vec<Arc<Counting>> = (0..N).map(|_| Arc::new(Counting::default())).collect();
    wakers[20].panics.store(true, Ordering::SeqCst);
    wakers[41].panics.store(true, Ordering::SeqCst);
    let calls = Rc::new(RefCell::new(Vec::new()));
    let mut futures = Vec::new();
    for (i, waker) in wakers.iter().enumerate() {
        let mut future = h.op(Nop);
        assert!(poll_with(&mut future, &Waker::from(waker.clone())).is_pending());
        futures.push(future);
        let calls = calls.clone();
        h.queue(Nop, move |r, ()| {
            assert_eq!(r.unwrap(), 0);
            calls.borrow_mut().push(i);
        })
        .unwrap();
    }
    let mut panics = 0;
    for _ in 0..10 {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reactor.run())) {
            Ok(r) => {
                r.unwrap();
                break;
            }
            Err(payload) => {
                assert_eq!(payload.downcast_ref::<&str>(), Some(&"a waker panics"));
                panics += 1;
            }
        }
    }
    assert_eq!(panics, 2);
    assert_eq!(h.in_flight(), 0);
    for (i, waker) in wakers.iter().enumerate() {
        assert_eq!(waker.wakes.load(Ordering::SeqCst), 1, "waker {i}");
    }
    assert_eq!(*calls.borrow(), (0..N).collect::<Vec<_>>());
    for (i, future) in futures.iter_mut().enumerate() {
        match poll_once(future) {
            Poll::Ready((r, ())) => assert_eq!(r.unwrap(), 0, "future {i}"),
            Poll::Pending => panic!("future {i} lost its completion"),
        }
        assert!(poll_once(future).is_pending());
    }
    let (r, ()) = reactor.run_until(h.op(Nop)).unwrap();
    assert_eq!(r.unwrap(), 0);
}

/// Callbacks that panic, every thirteenth, on a reactor whose ring has two
/// SQ entries and four CQ entries, fed six hundred NOPs at once: the
/// completions overflow the CQ (into the kernel's overflow list and the
/// reactor's queue of completions moved out of it) while runs unwind
/// through the panics, and callbacks queue followers from inside. Each
/// callback runs exactly once, the first six hundred in the order they
/// were queued, and every follower once: nothing is lost or repeated when a
/// panic leaves completions in the reactor's own queue.
#[test]
fn callbacks_panicking_while_completions_overflow_run_once_each_in_order() {
    let _watch = watchdog();
    let reactor = Reactor::from_ring(Ring::new(2).unwrap()).unwrap();
    let h = reactor.handle();
    const N: usize = 600;
    let seen = Rc::new(RefCell::new(Vec::new()));
    for i in 0..N {
        let (seen, h2) = (seen.clone(), h.clone());
        h.queue(Nop, move |r, ()| {
            assert_eq!(r.unwrap(), 0);
            seen.borrow_mut().push(i);
            if i < 100 && i % 3 == 0 {
                let seen = seen.clone();
                h2.queue(Nop, move |r, ()| {
                    assert_eq!(r.unwrap(), 0);
                    seen.borrow_mut().push(1000 + i);
                })
                .unwrap();
            }
            if i % 13 == 0 {
                panic!("callback {i} panics");
            }
        })
        .unwrap();
    }
    let mut panics = 0;
    for _ in 0..200 {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reactor.run())) {
            Ok(r) => {
                r.unwrap();
                break;
            }
            Err(_) => panics += 1,
        }
    }
    assert_eq!(panics, N.div_ceil(13));
    assert_eq!(h.in_flight(), 0);
    let seen = seen.borrow();
    let primary: Vec<usize> = seen.iter().copied().filter(|&i| i < N).collect();
    assert_eq!(primary, (0..N).collect::<Vec<_>>());
    let mut followers: Vec<usize> = seen.iter().copied().filter(|&i| i >= 1000).collect();
    followers.sort_unstable();
    let expected: Vec<usize> = (0..100).filter(|i| i % 3 == 0).map(|i| 1000 + i).collect();
    assert_eq!(followers, expected);
}

// ---------------------------------------------------------------------------
// Ids of reused slots
// ---------------------------------------------------------------------------

/// A chain of two thousand NOPs, each queued from the callback of the one
/// before, all in one slot (released before each callback runs): inside
/// each callback its own id and the ids of the last 64 ops of the slot
/// cancel nothing. Then a timer takes the slot, and every id the slot had
/// (two thousand of them) is cancelled by hand: none reaches it, and it
/// fires (`ETIME`). The same for a future's id once its result was taken,
/// and for a detached future's id, their slots reused by timers.
#[test]
fn ids_of_a_slot_reused_thousands_of_times_never_cancel_its_later_ops() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    const CYCLES: u32 = 2000;
    let ids: Rc<RefCell<Vec<OpId>>> = Rc::default();
    let calls = Rc::new(Cell::new(0u32));

    fn link(
        h: uring::reactor::Handle,
        ids: Rc<RefCell<Vec<OpId>>>,
        calls: Rc<Cell<u32>>,
        left: u32,
    ) {
        let (h2, ids2, calls2) = (h.clone(), ids.clone(), calls.clone());
        let id = h
            .queue(Nop, move |r, ()| {
                assert_eq!(r.unwrap(), 0);
                calls2.set(calls2.get() + 1);
                let own = *ids2.borrow().last().unwrap();
                assert!(!h2.cancel(own).unwrap(), "a callback's own id cancelled");
                if left > 0 {
                    link(h2.clone(), ids2.clone(), calls2.clone(), left - 1);
                    let ids = ids2.borrow();
                    let next = *ids.last().unwrap();
                    assert_eq!(next.slot(), own.slot(), "the next op took another slot");
                    assert_ne!(next, own);
                    for old in ids.iter().rev().skip(1).take(64) {
                        assert!(!h2.cancel(*old).unwrap(), "a stale id cancelled");
                    }
                }
            })
            .unwrap();
        ids.borrow_mut().push(id);
    }

    link(h.clone(), ids.clone(), calls.clone(), CYCLES - 1);
    reactor.run().unwrap();
    assert_eq!(calls.get(), CYCLES);
    let ids = ids.borrow();
    assert_eq!(ids.len(), CYCLES as usize);
    let slot = ids[0].slot();

    // A timer in the slot: no stale id reaches it.
    let mut timer = h.op(Timeout::new(Duration::from_millis(30)));
    let live = timer.id().unwrap();
    assert_eq!(live.slot(), slot);
    for old in ids.iter() {
        assert!(!h.cancel(*old).unwrap());
    }
    assert!(poll_once(&mut timer).is_pending());
    let (r, ()) = reactor.run_until(timer).unwrap();
    assert_eq!(
        errno(&r),
        Some(libc::ETIME),
        "a stale id cancelled the timer"
    );
    assert!(!h.cancel(live).unwrap(), "the timer's id after its end");

    // A future's id, after its result was taken.
    let nop = h.op(Nop);
    let taken = nop.id().unwrap();
    let (r, ()) = reactor.run_until(nop).unwrap();
    assert_eq!(r.unwrap(), 0);
    let timer = h.op(Timeout::new(Duration::from_millis(20)));
    assert_eq!(timer.id().unwrap().slot(), taken.slot());
    assert!(!h.cancel(taken).unwrap());
    let (r, ()) = reactor.run_until(timer).unwrap();
    assert_eq!(errno(&r), Some(libc::ETIME));

    // A detached future's id, after its op ended.
    let nop = h.op(Nop);
    let detached = nop.id().unwrap();
    nop.detach();
    reactor.run().unwrap();
    assert_eq!(h.in_flight(), 0);
    let timer = h.op(Timeout::new(Duration::from_millis(20)));
    assert_eq!(timer.id().unwrap().slot(), detached.slot());
    assert!(!h.cancel(detached).unwrap());
    let (r, ()) = reactor.run_until(timer).unwrap();
    assert_eq!(errno(&r), Some(libc::ETIME));
}

/// A poll's item as the test keeps it: the events, or the errno.
type Item = Result<u32, Option<i32>>;

/// A multishot poll whose callback cancels its own op at the first event,
/// and cancels it again from its last call (the op's `ECANCELED`): the
/// first cancel reaches the op, which ends with one last item; the last
/// call's cancel queues nothing (the op has ended), so a timer that then
/// takes the slot fires rather than being cancelled, and the slot's old id
/// cancels nothing once the op has ended.
#[test]
fn a_multishot_op_cancelling_itself_from_its_callbacks_spares_the_slot_s_next_op() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (fd, _dup, mut peer) = pair();
    let items: Rc<RefCell<Vec<Item>>> = Rc::default();
    let own: Rc<Cell<Option<OpId>>> = Rc::default();
    let first_cancel: Rc<Cell<Option<bool>>> = Rc::default();
    let last_cancel: Rc<Cell<Option<bool>>> = Rc::default();
    let drops = Rc::new(Cell::new(0));
    let (it, me, first, last, h2) = (
        items.clone(),
        own.clone(),
        first_cancel.clone(),
        last_cancel.clone(),
        h.clone(),
    );
    let guard = Dropped(drops.clone());
    let id = h
        .queue_multishot(PollMulti::new(&fd, PollEvents::IN), move |item| {
            let _keep = &guard;
            let id = me.get().unwrap();
            match item {
                Ok(events) => {
                    it.borrow_mut().push(Ok(events.bits()));
                    if first.get().is_none() {
                        first.set(Some(h2.cancel(id).unwrap()));
                    }
                }
                Err(e) => {
                    it.borrow_mut().push(Err(e.raw_os_error()));
                    last.set(Some(h2.cancel(id).unwrap()));
                }
            }
        })
        .unwrap();
    own.set(Some(id));
    peer.write_all(b"x").unwrap();
    reactor.run().unwrap();
    assert_eq!(h.in_flight(), 0);
    assert_eq!(
        first_cancel.get(),
        Some(true),
        "the op was in flight at its first event"
    );
    assert_eq!(
        last_cancel.get(),
        Some(false),
        "the last call ran, and its op, ended, was not cancelled again"
    );
    let items = items.borrow();
    assert!(items.len() >= 2, "{items:?}");
    assert!(matches!(items[0], Ok(bits) if bits & libc::POLLIN as u32 != 0));
    assert!(
        items[..items.len() - 1].iter().all(Result::is_ok),
        "{items:?}"
    );
    assert_eq!(items[items.len() - 1], Err(Some(libc::ECANCELED)));
    assert_eq!(
        drops.get(),
        1,
        "the callback's value is dropped once, after the end"
    );
    assert!(!h.cancel(id).unwrap(), "the ended op's id");

    let timer = h.op(Timeout::new(Duration::from_millis(30)));
    assert_eq!(timer.id().unwrap().slot(), id.slot());
    let (r, ()) = reactor.run_until(timer).unwrap();
    assert_eq!(
        errno(&r),
        Some(libc::ETIME),
        "a cancel from the ended op's last call reached the slot's next op"
    );
    drop(reactor);
    assert!(fd.try_unwrap().is_ok());
}

// ---------------------------------------------------------------------------
// Tasks around the shutdown
// ---------------------------------------------------------------------------

/// A task that counts its polls and holds a counter of its drop.
fn counted_task(polls: Rc<Cell<usize>>, drops: Rc<Cell<usize>>) -> impl Future<Output = ()> {
    let guard = Dropped(drops);
    async move {
        let _keep = &guard;
        polls.set(polls.get() + 1);
    }
}

/// Spawns a counted task on the handle it holds when dropped.
struct SpawnOnDrop {
    h: Option<uring::reactor::Handle>,
    polls: Rc<Cell<usize>>,
    drops: Rc<Cell<usize>>,
}

impl Drop for SpawnOnDrop {
    fn drop(&mut self) {
        if let Some(h) = self.h.take() {
            h.spawn(counted_task(self.polls.clone(), self.drops.clone()));
        }
    }
}

/// Tasks spawned while the reactor shuts down (by a callback the shutdown
/// runs with its op's `ECANCELED`, and by a task's drop when the shutdown
/// drops the tasks) and after it (through a handle kept past the drop):
/// none is ever polled, each is dropped exactly once, as it is spawned
/// (no run polls a shut-down reactor's tasks), and the receive whose
/// callback spawned gave its buffer back untouched.
#[test]
fn tasks_spawned_during_and_after_the_shutdown_are_never_polled_and_dropped_once() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (fd, mut dup, mut peer) = pair();
    let polls = Rc::new(Cell::new(0));
    let drops = Rc::new(Cell::new(0));
    let holder = SpawnOnDrop {
        h: Some(h.clone()),
        polls: polls.clone(),
        drops: drops.clone(),
    };
    let waiting = Rc::new(Cell::new(0));
    let w = waiting.clone();
    h.spawn(async move {
        let _keep = &holder;
        w.set(w.get() + 1);
        std::future::pending::<()>().await;
    });
    let (h2, p2, d2) = (h.clone(), polls.clone(), drops.clone());
    let called = Rc::new(Cell::new(0));
    let c = called.clone();
    h.queue(Recv::new(&fd, vec![0x42; 8]), move |r, buf| {
        assert_eq!(errno(&r), Some(libc::ECANCELED));
        assert_eq!(buf, vec![0x42; 8]);
        c.set(c.get() + 1);
        h2.spawn(counted_task(p2.clone(), d2.clone()));
    })
    .unwrap();
    run_for(&reactor, 5);
    assert_eq!(waiting.get(), 1, "the holder task was polled once");
    drop(reactor);
    assert_eq!(called.get(), 1);
    assert_eq!(
        drops.get(),
        2,
        "the tasks spawned by the shutdown's callback and by a task's drop go at once"
    );
    h.spawn(counted_task(polls.clone(), drops.clone()));
    assert_eq!(
        drops.get(),
        3,
        "a task spawned after the shutdown goes at once"
    );
    assert_eq!(
        polls.get(),
        0,
        "a task spawned at or after the shutdown was polled"
    );
    assert_eq!(h.in_flight(), 0);
    drop(h);
    assert_eq!(
        drops.get(),
        3,
        "no task was kept for the last handle, none dropped twice"
    );
    assert_eq!(polls.get(), 0);
    assert_eq!(waiting.get(), 1);
    peer.write_all(b"untaken").unwrap();
    assert_eq!(drain(&mut dup), b"untaken");
    assert!(fd.try_unwrap().is_ok());
}

// ---------------------------------------------------------------------------
// Deadlines
// ---------------------------------------------------------------------------

/// Deadlines from a second in the past to the far future (and past what a
/// timespec holds, where the platform lets an `Instant` get there), on
/// receives dropped as soon as queued, cancelled by id as soon as queued
/// (callbacks), or polled, cancelled and awaited (futures), and on NOPs:
/// each cut receive ends `ECANCELED` with its buffer untouched, each NOP
/// beats its deadline, each callback runs once and its value is dropped
/// once, no op keeps a clone of the socket's descriptor, and no receive
/// takes a byte sent afterwards.
#[test]
fn deadlines_of_every_size_on_ops_dropped_or_cancelled_at_once_give_their_memory_back_once() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (fd, mut dup, mut peer) = pair();
    let now = Instant::now();
    let deadlines: Vec<Instant> = [
        now.checked_sub(Duration::from_secs(1)),
        Some(now),
        now.checked_add(Duration::from_nanos(1)),
        now.checked_add(Duration::from_micros(1)),
        now.checked_add(Duration::from_millis(1)),
        now.checked_add(Duration::from_millis(100)),
        now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)),
        now.checked_add(Duration::from_secs(i64::MAX as u64 / 2)),
        now.checked_add(Duration::from_secs(i64::MAX as u64 - 1)),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(deadlines.len() >= 7);
    let calls = Rc::new(Cell::new(0));
    let drops = Rc::new(Cell::new(0));
    let mut awaited = Vec::new();
    let mut nops = Vec::new();
    for &at in &deadlines {
        drop(h.op_with_deadline(Recv::new(&fd, vec![0x5A; 32]), at));

        let (calls2, guard) = (calls.clone(), Dropped(drops.clone()));
        let id = h
            .queue_with_deadline(Recv::new(&fd, vec![0x5A; 32]), at, move |r, buf| {
                let _keep = &guard;
                assert_eq!(errno(&r), Some(libc::ECANCELED));
                assert_eq!(buf, vec![0x5A; 32]);
                calls2.set(calls2.get() + 1);
            })
            .unwrap();
        assert!(h.cancel(id).unwrap(), "a receive just queued is in flight");

        let mut future = h.op_with_deadline(Recv::new(&fd, vec![0x5A; 32]), at);
        assert!(poll_once(&mut future).is_pending());
        assert!(h.cancel(future.id().unwrap()).unwrap());
        awaited.push(future);

        nops.push(h.op_with_deadline(Nop, at));
    }
    for future in awaited {
        let (r, buf) = reactor.run_until(future).unwrap();
        assert_eq!(errno(&r), Some(libc::ECANCELED));
        assert_eq!(buf, vec![0x5A; 32], "a cut receive wrote its buffer");
    }
    for nop in nops {
        let (r, ()) = reactor.run_until(nop).unwrap();
        assert_eq!(r.unwrap(), 0, "a NOP lost to its deadline");
    }
    reactor.run().unwrap();
    assert_eq!(h.in_flight(), 0);
    assert_eq!(calls.get(), deadlines.len());
    assert_eq!(drops.get(), deadlines.len());
    peer.write_all(b"nothing took this").unwrap();
    assert_eq!(drain(&mut dup), b"nothing took this");
    drop(reactor);
    drop(h);
    assert!(
        fd.try_unwrap().is_ok(),
        "an op kept a clone of the descriptor"
    );
}

// ---------------------------------------------------------------------------
// Full queues
// ---------------------------------------------------------------------------

/// Three thousand receive futures on one socket (half of them polled) and
/// five hundred long timers with callbacks, through a ring of 64 SQ and
/// 128 CQ entries; the timers cancelled by id and the futures dropped all
/// at once, so that thousands of cancel requests go through a full SQ and
/// their completions overflow the CQ. The run ends with nothing in flight,
/// each timer's callback ran once (`ECANCELED`) and its value was dropped
/// once, no receive took a byte, no op keeps the socket, and the reactor
/// goes on.
#[test]
fn thousands_of_receive_futures_dropped_at_once_through_a_64_entry_ring() {
    let _watch = watchdog();
    let reactor = Reactor::from_ring(Ring::new(64).unwrap()).unwrap();
    let h = reactor.handle();
    let (fd, mut dup, mut peer) = pair();
    let mut futures: Vec<_> = (0..3000)
        .map(|_| h.op(Recv::new(&fd, vec![0xCC; 8])))
        .collect();
    for future in futures.iter_mut().step_by(2) {
        assert!(poll_once(future).is_pending());
    }
    let calls = Rc::new(Cell::new(0));
    let drops = Rc::new(Cell::new(0));
    let ids: Vec<OpId> = (0..500)
        .map(|_| {
            let (calls, guard) = (calls.clone(), Dropped(drops.clone()));
            h.queue(Timeout::new(Duration::from_secs(3600)), move |r, ()| {
                let _keep = &guard;
                assert_eq!(errno(&r), Some(libc::ECANCELED));
                calls.set(calls.get() + 1);
            })
            .unwrap()
        })
        .collect();
    reactor.submit().unwrap();
    assert_eq!(h.in_flight(), 3500);
    for id in &ids {
        assert!(h.cancel(*id).unwrap());
    }
    drop(futures);
    reactor.run().unwrap();
    assert_eq!(h.in_flight(), 0);
    assert_eq!(calls.get(), 500);
    assert_eq!(drops.get(), 500);
    for id in &ids {
        assert!(!h.cancel(*id).unwrap());
    }
    peer.write_all(b"all of it").unwrap();
    assert_eq!(drain(&mut dup), b"all of it");
    let done = Rc::new(Cell::new(0));
    for _ in 0..1000 {
        let done = done.clone();
        h.queue(Nop, move |r, ()| {
            assert_eq!(r.unwrap(), 0);
            done.set(done.get() + 1);
        })
        .unwrap();
    }
    reactor.run().unwrap();
    assert_eq!(done.get(), 1000);
    drop(reactor);
    drop(h);
    assert!(fd.try_unwrap().is_ok());
}

// ---------------------------------------------------------------------------
// Buffer rings
// ---------------------------------------------------------------------------

/// A receive stream into a group of four 64-byte buffers, dropped with its
/// op in flight while two of its buffers are held; the next stream on the
/// group gets the other two, then `ENOBUFS` (the data it could not take
/// stays in the socket); once the first two go back, a third stream gets
/// those bids with the waiting bytes; at the end all four buffers are
/// handed out again, each once. A held buffer keeps its bytes however the
/// group's next streams fill the rest: the kernel never picks a buffer the
/// program holds, and a dropped stream frees none of them.
#[test]
fn a_buffer_group_passed_from_a_stream_dropped_mid_flow_keeps_held_buffers_intact() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let group = match reactor.register_buf_ring(BufferGroup::new(9), 4, 64) {
        Ok(group) => group,
        Err(e) => return skip(format!("no provided-buffer rings: {e}")),
    };
    let (fd, mut dup, mut peer) = pair();
    let chunk = |seed: u8| pattern(64, seed);
    let next = |stream: &mut uring::reactor::OpStream<RecvMulti>| {
        reactor.run_until(stream.next()).unwrap()
    };

    let mut first = h.stream(RecvMulti::new(&fd, group));
    peer.write_all(&chunk(1)).unwrap();
    let a1 = next(&mut first).unwrap().unwrap().unwrap();
    peer.write_all(&chunk(2)).unwrap();
    let a2 = next(&mut first).unwrap().unwrap().unwrap();
    assert_eq!((&a1[..], &a2[..]), (&chunk(1)[..], &chunk(2)[..]));
    drop(first);
    reactor.run().unwrap();
    assert_eq!(h.in_flight(), 0);

    let mut second = h.stream(RecvMulti::new(&fd, group));
    peer.write_all(&chunk(3)).unwrap();
    let b1 = next(&mut second).unwrap().unwrap().unwrap();
    peer.write_all(&chunk(4)).unwrap();
    let b2 = next(&mut second).unwrap().unwrap().unwrap();
    let held = [a1.bid(), a2.bid()];
    assert!(!held.contains(&b1.bid()) && !held.contains(&b2.bid()));
    assert_ne!(b1.bid(), b2.bid());
    peer.write_all(&chunk(5)).unwrap();
    match next(&mut second) {
        Some(Err(e)) => assert_eq!(e.raw_os_error(), Some(libc::ENOBUFS)),
        other => panic!(
            "a dry group: {:?}",
            other.map(|r| r.map(|b| b.map(|b| b.bid())))
        ),
    }
    assert!(next(&mut second).is_none());
    drop(second);
    assert_eq!(
        (&a1[..], &a2[..], &b1[..], &b2[..]),
        (&chunk(1)[..], &chunk(2)[..], &chunk(3)[..], &chunk(4)[..])
    );

    drop((a1, a2));
    let mut third = h.stream(RecvMulti::new(&fd, group));
    let c = next(&mut third).unwrap().unwrap().unwrap();
    assert_eq!(
        &c[..],
        &chunk(5)[..],
        "the bytes a dry group left in the socket"
    );
    assert!(held.contains(&c.bid()));
    assert_eq!((&b1[..], &b2[..]), (&chunk(3)[..], &chunk(4)[..]));
    drop(third);
    reactor.run().unwrap();
    drop((b1, b2, c));

    let mut last = h.stream(RecvMulti::new(&fd, group));
    let mut bids = Vec::new();
    for seed in 6..10 {
        peer.write_all(&chunk(seed)).unwrap();
        let buf = next(&mut last).unwrap().unwrap().unwrap();
        assert_eq!(&buf[..], &chunk(seed)[..]);
        bids.push(buf.bid());
        std::mem::forget(buf);
    }
    bids.sort_unstable();
    bids.dedup();
    assert_eq!(bids.len(), 4, "a buffer handed out twice");
    drop(last);
    reactor.run().unwrap();
    assert_eq!(h.in_flight(), 0);
    peer.write_all(b"tail").unwrap();
    assert_eq!(drain(&mut dup), b"tail");
}

// ---------------------------------------------------------------------------
// run_until's own future
// ---------------------------------------------------------------------------

/// A `run_until` whose future panics after it polled a receive of its own,
/// with a callback's timer in flight: the panic reaches the caller, the
/// receive (dropped with the future) is cancelled and its buffer kept to
/// its end, the timer's callback runs once in the next run, nothing keeps
/// the socket, no byte is taken, and the reactor runs again.
#[test]
fn a_run_until_whose_future_panics_with_ops_in_flight_leaves_them_to_the_next_run() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (fd, mut dup, mut peer) = pair();
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    h.queue(Timeout::new(Duration::from_millis(20)), move |r, ()| {
        assert_eq!(errno(&r), Some(libc::ETIME));
        c.set(c.get() + 1);
    })
    .unwrap();
    let armed = Rc::new(Cell::new(true));
    let (h2, fd2, armed2) = (h.clone(), fd.clone(), armed.clone());
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        reactor.run_until(async move {
            let mut recv = h2.op(Recv::new(&fd2, vec![0x33; 16]));
            std::future::poll_fn(|cx| {
                assert!(Pin::new(&mut recv).poll(cx).is_pending());
                Poll::Ready(())
            })
            .await;
            h2.submit().unwrap();
            if armed2.get() {
                panic!("the main future panics");
            }
            drop(recv);
        })
    }));
    let payload = run.expect_err("the panic reaches the caller");
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"the main future panics")
    );
    assert!(armed.get());
    reactor.run().unwrap();
    assert_eq!(calls.get(), 1);
    assert_eq!(h.in_flight(), 0);
    peer.write_all(b"still here").unwrap();
    assert_eq!(drain(&mut dup), b"still here");
    let (r, ()) = reactor.run_until(h.op(Nop)).unwrap();
    assert_eq!(r.unwrap(), 0);
    drop(reactor);
    drop(h);
    assert!(
        fd.try_unwrap().is_ok(),
        "the dropped receive kept the descriptor"
    );
}

// ---------------------------------------------------------------------------
// tokio's traits cut by timeouts and abandoned polls
// ---------------------------------------------------------------------------

/// A read through `AsyncRead`, cut by `tokio::time::timeout` or polled once
/// and dropped, while a peer thread trickles bytes in: a read that returned
/// `Pending` leaves the caller's buffer untouched (its canary stays), the
/// caller then rewrites it, and the bytes the stream's own receive takes
/// meanwhile come with a later read. What the reads return is exactly what
/// the peer sent, in order: no byte lost with a dropped read, none
/// written into a buffer after its read was abandoned.
#[test]
fn tokio_reads_cut_by_timeouts_lose_no_byte_and_never_write_an_abandoned_buffer() {
    use tokio::io::AsyncReadExt;
    let _watch = watchdog();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let mut stream = uring::net::UnixStream::from_std(&h, ours);
        let sent = pattern(24_000, 9);
        let to_send = sent.clone();
        let writer = std::thread::spawn(move || {
            let mut rng = Rng(0x5eed);
            let mut at = 0;
            while at < to_send.len() {
                let n = (1 + rng.below(700) as usize).min(to_send.len() - at);
                theirs.write_all(&to_send[at..at + n]).unwrap();
                at += n;
                std::thread::sleep(Duration::from_micros(rng.below(400)));
            }
        });
        let mut rng = Rng(0xabcdef);
        let mut got = Vec::new();
        let mut buf = [0u8; 300];
        let mut abandoned = 0;
        loop {
            buf.fill(0xEE);
            let outcome = if rng.below(2) == 0 {
                let wait = Duration::from_micros(rng.below(500));
                tokio::time::timeout(wait, AsyncReadExt::read(&mut stream, &mut buf))
                    .await
                    .ok()
            } else {
                let mut read = std::pin::pin!(AsyncReadExt::read(&mut stream, &mut buf));
                std::future::poll_fn(|cx| {
                    Poll::Ready(match read.as_mut().poll(cx) {
                        Poll::Ready(r) => Some(r),
                        Poll::Pending => None,
                    })
                })
                .await
            };
            match outcome {
                None => {
                    abandoned += 1;
                    assert!(
                        buf.iter().all(|&b| b == 0xEE),
                        "an abandoned read wrote its buffer"
                    );
                    buf.fill(0x11);
                    tokio::task::yield_now().await;
                }
                Some(Ok(0)) => break,
                Some(Ok(n)) => {
                    got.extend_from_slice(&buf[..n]);
                    assert!(
                        buf[n..].iter().all(|&b| b == 0xEE),
                        "a read wrote past its count"
                    );
                }
                Some(Err(e)) => panic!("a read failed: {e}"),
            }
        }
        writer.join().unwrap();
        assert!(abandoned > 0, "no read was ever abandoned");
        // (Under valgrind, which takes what the kernel wrote for
        // uninitialised, the lengths alone.)
        uring_tests::net::assert_kernel_bytes(&got, &sent, "the bytes read");
        drop(stream);
        h.shutdown();
    });
}

/// Writes through `AsyncWrite`, cut by `tokio::time::timeout` or polled
/// once and dropped, while the peer does not read yet (so that writes wait
/// behind a send in flight), with the caller overwriting its buffer right
/// after each attempt: the peer receives exactly the prefixes that writes
/// reported written, in order, and nothing of a write that returned
/// `Pending` nor of what the caller wrote over its buffer afterwards.
#[test]
fn tokio_writes_cut_by_timeouts_deliver_exactly_what_they_reported() {
    use tokio::io::AsyncWriteExt;
    let _watch = watchdog();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let mut stream = uring::net::UnixStream::from_std(&h, ours);
        let reader = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            let mut all = Vec::new();
            theirs.read_to_end(&mut all).unwrap();
            all
        });
        let mut rng = Rng(0xfeed);
        let mut reported = Vec::new();
        let mut buf = vec![0u8; 8192];
        let mut abandoned = 0;
        for i in 0..400u32 {
            let len = 1 + rng.below(8192) as usize;
            buf[..len].copy_from_slice(&pattern(len, i as u8));
            let outcome = if rng.below(2) == 0 {
                let wait = Duration::from_micros(rng.below(500));
                tokio::time::timeout(wait, AsyncWriteExt::write(&mut stream, &buf[..len]))
                    .await
                    .ok()
            } else {
                let mut write = std::pin::pin!(AsyncWriteExt::write(&mut stream, &buf[..len]));
                std::future::poll_fn(|cx| {
                    Poll::Ready(match write.as_mut().poll(cx) {
                        Poll::Ready(r) => Some(r),
                        Poll::Pending => None,
                    })
                })
                .await
            };
            match outcome {
                None => abandoned += 1,
                Some(Ok(n)) => {
                    assert!(n <= len);
                    reported.extend_from_slice(&buf[..n]);
                }
                Some(Err(e)) => panic!("a write failed: {e}"),
            }
            // The caller reuses its buffer at once.
            buf.fill(0xFF);
        }
        AsyncWriteExt::flush(&mut stream).await.unwrap();
        AsyncWriteExt::shutdown(&mut stream).await.unwrap();
        drop(stream);
        let received = reader.join().unwrap();
        assert!(abandoned > 0, "no write was ever abandoned");
        assert_eq!(received.len(), reported.len());
        assert!(
            received == reported,
            "the peer got other bytes than those reported written"
        );
        h.shutdown();
    });
}
