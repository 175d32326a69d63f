//! The reactor's drivers and cross-thread parts, read against what they
//! rely on and attacked from safe code (`uring/src/reactor/tokio.rs`,
//! `exec.rs`, `future.rs`, `remote.rs`, `cell.rs`, `slab.rs`, and how
//! `core.rs` runs and shuts down):
//!
//! - the tokio driver (`TokioDriver::poll`): it submits, reaps, runs the
//!   inbox and polls the reactor's own executor's woken tasks in rounds,
//!   returns `Pending` when nothing is left to submit, no job waits and no
//!   task is woken, and yields to the runtime after a bounded number of
//!   rounds while work is left; a task's wake or a remote's send wakes it
//!   while it is idle; its `Driving` guard must clear the running mark
//!   when a callback unwinds out of it, or later pushes would not wake it;
//!   a job that panics in it ends its task, and tokio drops the reactor
//!   there;
//! - `Remote`s on several threads racing a shutdown sent through one of
//!   them, with the driver woken through the inbox's waker;
//! - futures and streams: a waker's `clone` runs with the core released
//!   (and may cancel, shut down or panic), a finished future or stream
//!   polled or dropped again must not touch the op that took its slot;
//! - rings the kernel serves only from their submitter task
//!   (`IORING_SETUP_SINGLE_ISSUER`: `EEXIST` from any other task) handed to
//!   a reactor on another thread;
//! - `IORING_SETUP_DEFER_TASKRUN` rings under the reactor: a CQ of four
//!   entries overflowing (completions held in the kernel's overflow list,
//!   flushed by an enter that asks for events), and `MSG_RING` messages the
//!   kernel queues as task work on the target (`io_msg_need_remote`: a
//!   deferred-task-work target gets them only when its own task asks for
//!   events), sent before the reactor took the ring and landing after it
//!   drew its key.
//!
//! Every wait is bounded: a lost wake-up fails the test instead of hanging
//! it.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::future::Future;
use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use tokio::task::{LocalSet, spawn_local};
use uring::ops::MsgRing;
use uring::reactor::ops::{Nop, PollMulti, Recv, Timeout};
use uring::reactor::{Handle, Reactor, Remote, SharedFd};
use uring::{PollEvents, Ring, sys};
use uring_tests::net::eventually;
use uring_tests::net::runtime;
use uring_tests::{defer_ring, poll_once, require_kernel, run_for, skip, watchdog};

/// How long a test waits for what should happen at once before it fails.
const BOUND: Duration = Duration::from_secs(2);

/// A connected socket pair: the reactor's end, and the peer.
fn pair() -> (SharedFd, UnixStream) {
    let (mine, peer) = UnixStream::pair().unwrap();
    (SharedFd::new(mine), peer)
}

/// The errno of a result, if it failed.
fn errno(result: &std::io::Result<u32>) -> Option<i32> {
    result.as_ref().err().and_then(|e| e.raw_os_error())
}

/// A waker that counts its wakes.
#[derive(Default)]
struct Wakes(AtomicUsize);

impl Wakes {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for Wakes {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Counts its drop into the counter it holds.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------
// The tokio driver

/// `Handle::spawn` documents that `Reactor::run`, `run_until` and the tokio
/// driver poll its tasks, and `Remote` that "a reactor driven by tokio runs
/// what it is given in its driver task", with `Remote::spawn` spawning "on
/// the reactor's executor (as `Handle::spawn`)". `TokioDriver::poll` must
/// take the executor's woken ids and poll those tasks, and a task's waker
/// (`TaskWaker`) must wake the idle driver's tokio waker, not only the
/// eventfd that a parked `run` polls (which under tokio nothing watches):
/// otherwise a task given to `Remote::spawn` (which returns `Ok`) or to
/// `Handle::spawn` never runs, and is dropped unpolled at the shutdown.
/// Checked: both tasks, one awaiting a reactor op, must have run within a
/// second while the driver serves tokio's own tasks.
#[test]
fn tasks_spawned_on_a_tokio_driven_reactor_run() {
    let _watch = watchdog();
    let runtime = runtime();
    LocalSet::new().block_on(&runtime, async {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let remote = reactor.remote();
        let driver = spawn_local(reactor.into_tokio().unwrap());
        // The driver serves the ops tokio's own tasks await.
        let (r, ()) = h.op(Nop).await;
        assert_eq!(r.unwrap(), 0);

        let ran = Arc::new(AtomicUsize::new(0));
        let from_remote = Arc::clone(&ran);
        thread::spawn(move || {
            remote.spawn(async move {
                from_remote.fetch_add(1, Ordering::SeqCst);
            })
        })
        .join()
        .unwrap()
        .expect("the remote's spawn is accepted");
        let from_handle = Arc::clone(&ran);
        let h2 = h.clone();
        h.spawn(async move {
            let (r, ()) = h2.op(Nop).await;
            assert_eq!(r.unwrap(), 0);
            from_handle.fetch_add(10, Ordering::SeqCst);
        });
        let done = eventually(Duration::from_secs(1), || ran.load(Ordering::SeqCst) == 11).await;
        let seen = ran.load(Ordering::SeqCst);
        h.shutdown();
        tokio::time::timeout(BOUND, driver)
            .await
            .expect("the driver resolves after the shutdown")
            .unwrap()
            .unwrap();
        assert!(
            done,
            "after 1 s the tasks spawned on the tokio-driven reactor added {seen} \
             (1 from Remote::spawn, 10 from Handle::spawn: 11 expected)"
        );
    });
}

/// The turns a task of the reactor's executor waits for, one after
/// another, each opened by a wake from outside the driver.
#[derive(Default)]
struct Turns {
    /// The last turn opened, and the waker of the task waiting for the
    /// next (taken by the wake that opens it).
    state: std::sync::Mutex<(u32, Option<Waker>)>,
    /// The last turn the task has seen open.
    seen: AtomicU64,
}

impl Turns {
    /// Waits until turn `n` is open.
    async fn wait(&self, n: u32) {
        std::future::poll_fn(|cx| {
            let mut state = self.state.lock().unwrap();
            if state.0 >= n {
                Poll::Ready(())
            } else {
                state.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
        self.seen.store(u64::from(n), Ordering::SeqCst);
    }

    /// Opens the next turn if the task waits for it (its waker is
    /// registered): wakes it, with the lock released. Whether it did.
    fn open(&self) -> bool {
        let waker = {
            let mut state = self.state.lock().unwrap();
            let Some(waker) = state.1.take() else {
                return false;
            };
            state.0 += 1;
            waker
        };
        waker.wake();
        true
    }
}

/// A task of the reactor's executor is woken by whoever holds its waker:
/// another thread (a channel, a lock), or a tokio task of the reactor's
/// own thread, both while the tokio driver is idle in tokio's wait. The
/// wake must wake the driver's task (a `TaskWaker` queues the task's id,
/// then wakes the driver's tokio waker if it is idle; the driver marks
/// itself idle before it looks at the queue a last time), or the task
/// would sit woken and unpolled, a lost wake-up. Here a task waits for
/// 300 turns, each opened by one wake as soon as it waits (so wakes race
/// the driver going idle), and awaits a reactor NOP every tenth; first
/// the turns come from another thread, then from a tokio task. Checked:
/// the task sees every turn, in order, within the bound.
#[test]
fn a_task_woken_from_another_thread_or_a_tokio_task_runs_on_a_tokio_driven_reactor() {
    const TURNS: u32 = 300;
    let _watch = watchdog();
    let runtime = runtime();
    LocalSet::new().block_on(&runtime, async {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let driver = spawn_local(reactor.into_tokio().unwrap());
        for from_thread in [true, false] {
            let turns = Arc::new(Turns::default());
            let (t, h2) = (Arc::clone(&turns), h.clone());
            h.spawn(async move {
                for n in 1..=TURNS {
                    t.wait(n).await;
                    if n % 10 == 0 {
                        let (r, ()) = h2.op(Nop).await;
                        assert_eq!(r.unwrap(), 0);
                    }
                }
            });
            let opened = if from_thread {
                let t = Arc::clone(&turns);
                let opener = thread::spawn(move || {
                    let end = Instant::now() + BOUND;
                    let mut opened = 0;
                    while opened < TURNS && Instant::now() < end {
                        if t.open() {
                            opened += 1;
                        } else {
                            thread::yield_now();
                        }
                    }
                    opened
                });
                // Awaited without blocking the runtime's thread, which
                // the driver needs.
                eventually(BOUND * 2, || opener.is_finished()).await;
                opener.join().unwrap()
            } else {
                let t = Arc::clone(&turns);
                spawn_local(async move {
                    let end = Instant::now() + BOUND;
                    let mut opened = 0;
                    while opened < TURNS && Instant::now() < end {
                        if t.open() {
                            opened += 1;
                        }
                        // The driver runs (and goes idle) between wakes.
                        tokio::task::yield_now().await;
                    }
                    opened
                })
                .await
                .unwrap()
            };
            let all = eventually(BOUND, || {
                turns.seen.load(Ordering::SeqCst) == u64::from(TURNS)
            })
            .await;
            let what = if from_thread {
                "another thread"
            } else {
                "a tokio task"
            };
            assert!(
                opened == TURNS && all,
                "turns opened from {what}: {opened} of {TURNS}; the task saw {}",
                turns.seen.load(Ordering::SeqCst)
            );
        }
        assert_eq!(h.in_flight(), 0);
        h.shutdown();
        tokio::time::timeout(BOUND, driver)
            .await
            .expect("the driver resolves after the shutdown")
            .unwrap()
            .unwrap();
    });
}

/// Queues a NOP whose callback counts itself and queues the next, until
/// `stop` is set or `until` passes: a chain of ops that complete inside
/// the submit that carries them (a NOP is issued and completed inline).
fn chain(h: Handle, stop: Arc<AtomicBool>, count: Arc<AtomicU64>, until: Instant) {
    let next = h.clone();
    h.queue(Nop, move |r, ()| {
        assert_eq!(r.unwrap(), 0);
        count.fetch_add(1, Ordering::SeqCst);
        if !stop.load(Ordering::SeqCst) && Instant::now() < until {
            chain(next, stop, count, until);
        }
    })
    .unwrap();
}

/// The same as [`chain`] with jobs: each job, run on the reactor's thread,
/// sends the next through a `Remote`.
fn relay(remote: Remote, stop: Arc<AtomicBool>, count: Arc<AtomicU64>, until: Instant) {
    let next = remote.clone();
    remote
        .execute(move |_| {
            count.fetch_add(1, Ordering::SeqCst);
            if !stop.load(Ordering::SeqCst) && Instant::now() < until {
                relay(next, stop, count, until);
            }
        })
        .unwrap();
}

/// `TokioDriver::poll` makes another round while `unsubmitted()`,
/// `inbox.has_jobs()` or a woken task holds: were the rounds of one poll
/// not bounded, it would never yield to the runtime while callbacks keep
/// queuing ops that complete inside the next submit (NOPs here; a receive
/// on a socket that always has data, a send with room, a read of the page
/// cache complete the same way) or jobs keep sending jobs. A
/// current-thread runtime would then run nothing else: the task that
/// awaits a reactor timeout due in 20 ms (its completion arrives and wakes
/// it) and tokio's timers would wait until the chain ends by itself, here
/// after one second; a chain without such an end would starve them for
/// good. Checked: that task runs (and stops the chain) well before the
/// chain's own end. (`run` polls its tasks every round, see
/// `a_run_polls_its_tasks_between_ops_that_complete_at_once`.)
#[test]
fn ops_completing_at_once_from_callbacks_or_jobs_leave_tokio_s_other_tasks_room() {
    let _watch = watchdog();
    let mut starved = Vec::new();
    for jobs in [false, true] {
        let runtime = runtime();
        let (waited, links) = LocalSet::new().block_on(&runtime, async {
            let reactor = Reactor::new().unwrap();
            let h = reactor.handle();
            let remote = reactor.remote();
            let driver = spawn_local(reactor.into_tokio().unwrap());
            let stop = Arc::new(AtomicBool::new(false));
            let count = Arc::new(AtomicU64::new(0));
            let (s, h2) = (Arc::clone(&stop), h.clone());
            let other = spawn_local(async move {
                let (r, ()) = h2.op(Timeout::new(Duration::from_millis(20))).await;
                assert_eq!(errno(&r), Some(libc::ETIME));
                tokio::time::sleep(Duration::from_millis(1)).await;
                s.store(true, Ordering::SeqCst);
                Instant::now()
            });
            // The other task queues its timeout first.
            tokio::task::yield_now().await;
            let start = Instant::now();
            let until = start + Duration::from_secs(1);
            if jobs {
                relay(remote.clone(), Arc::clone(&stop), Arc::clone(&count), until);
            } else {
                chain(h.clone(), Arc::clone(&stop), Arc::clone(&count), until);
            }
            let stopped = tokio::time::timeout(Duration::from_secs(5), other)
                .await
                .expect("the other task never ran")
                .unwrap();
            drop(remote);
            h.shutdown();
            tokio::time::timeout(BOUND, driver)
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            (stopped - start, count.load(Ordering::SeqCst))
        });
        if waited >= Duration::from_millis(500) {
            let what = if jobs { "jobs" } else { "callbacks" };
            starved.push(format!(
                "{what}: a task woken 20 ms in ran only after {waited:?}, when the chain of \
                 {links} ended by itself"
            ));
        }
    }
    assert!(starved.is_empty(), "{starved:#?}");
}

/// The contrast to the test above, under `Reactor::run`: its loop runs the
/// jobs that wait when a round begins (those sent meanwhile wait for the
/// next), polls the woken tasks and reaps every round, so a task that
/// awaits a timeout due in 20 ms runs soon after it, however long the
/// chain of NOPs (or of jobs) that keeps queuing more; it then stops the
/// chain, and `run` returns once nothing is left.
#[test]
fn a_run_polls_its_tasks_between_ops_that_complete_at_once() {
    let _watch = watchdog();
    for jobs in [false, true] {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU64::new(0));
        let stopped = Rc::new(Cell::new(None));
        let (s, st, h2) = (Arc::clone(&stop), Rc::clone(&stopped), h.clone());
        h.spawn(async move {
            let (r, ()) = h2.op(Timeout::new(Duration::from_millis(20))).await;
            assert_eq!(errno(&r), Some(libc::ETIME));
            s.store(true, Ordering::SeqCst);
            st.set(Some(Instant::now()));
        });
        let start = Instant::now();
        let until = start + Duration::from_secs(1);
        if jobs {
            relay(
                reactor.remote(),
                Arc::clone(&stop),
                Arc::clone(&count),
                until,
            );
        } else {
            chain(h.clone(), Arc::clone(&stop), Arc::clone(&count), until);
        }
        reactor.run().unwrap();
        let waited = stopped.get().expect("the task ran") - start;
        assert!(
            waited < Duration::from_millis(500),
            "jobs {jobs}: the task ran after {waited:?} ({} links)",
            count.load(Ordering::SeqCst)
        );
        assert!(count.load(Ordering::SeqCst) > 0);
        assert_eq!(h.in_flight(), 0);
    }
}

/// `TokioDriver::poll` marks the core `driving` (pushes made meanwhile do
/// not wake the driver, whose loop submits them) and its `Driving` guard
/// clears the mark when the poll returns or unwinds. A task that keeps the
/// driver and polls it again after a callback panicked in it (through
/// `catch_unwind`) relies on that: if the mark stayed, the gate would lose
/// `GATE_DRIVER`, and an op queued later from another task would never wake
/// the driver (a lost wake-up: its future would hang). Here sixty callbacks
/// run, every fifth panicking, each exactly once and in order; then, with
/// the driver asleep, twenty futures queued from another task and twenty
/// ops sent by a `Remote` from another thread all complete.
#[test]
fn a_driver_polled_again_after_callbacks_panicked_in_it_still_hears_every_push() {
    let _watch = watchdog();
    let runtime = runtime();
    LocalSet::new().block_on(&runtime, async {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let remote = reactor.remote();
        let mut driver = reactor.into_tokio().unwrap();
        let panics = Rc::new(Cell::new(0u32));
        let p = Rc::clone(&panics);
        let keeper = spawn_local(std::future::poll_fn(move |cx| {
            loop {
                match catch_unwind(AssertUnwindSafe(|| Pin::new(&mut driver).poll(cx))) {
                    Ok(polled) => return polled,
                    Err(_) => p.set(p.get() + 1),
                }
            }
        }));
        let seen = Rc::new(RefCell::new(Vec::new()));
        for i in 0..60u32 {
            let seen = Rc::clone(&seen);
            h.queue(Nop, move |r, ()| {
                assert_eq!(r.unwrap(), 0);
                seen.borrow_mut().push(i);
                if i % 5 == 0 {
                    panic!("callback {i} panics inside the tokio driver");
                }
            })
            .unwrap();
        }
        assert!(
            eventually(BOUND, || seen.borrow().len() == 60).await,
            "callbacks run: {}",
            seen.borrow().len()
        );
        assert_eq!(*seen.borrow(), (0..60).collect::<Vec<_>>());
        assert_eq!(panics.get(), 12);
        assert_eq!(h.in_flight(), 0);

        // The driver sleeps now; every push below must wake it.
        tokio::time::sleep(Duration::from_millis(10)).await;
        let h2 = h.clone();
        let waiter = spawn_local(async move {
            let futures: Vec<_> = (0..20u64)
                .map(|i| h2.op(Timeout::new(Duration::from_millis(1 + i % 3))))
                .collect();
            let mut ended = 0;
            for future in futures {
                let (r, ()) = future.await;
                assert_eq!(errno(&r), Some(libc::ETIME));
                ended += 1;
            }
            ended
        });
        let ended = tokio::time::timeout(BOUND, waiter)
            .await
            .expect("a future queued after the panics never resolved: its push woke no driver")
            .unwrap();
        assert_eq!(ended, 20);

        let sent = Arc::new(AtomicUsize::new(0));
        let s = Arc::clone(&sent);
        thread::spawn(move || {
            for _ in 0..20 {
                let s = Arc::clone(&s);
                remote
                    .queue(Nop, move |r, ()| {
                        assert_eq!(r.unwrap(), 0);
                        s.fetch_add(1, Ordering::SeqCst);
                    })
                    .unwrap();
            }
        })
        .join()
        .unwrap();
        assert!(
            eventually(BOUND, || sent.load(Ordering::SeqCst) == 20).await,
            "ops sent by a remote after the panics: {} of 20 ran",
            sent.load(Ordering::SeqCst)
        );
        assert_eq!(h.in_flight(), 0);
        h.shutdown();
        tokio::time::timeout(BOUND, keeper)
            .await
            .expect("the driver resolves after the shutdown")
            .unwrap()
            .unwrap();
        assert_eq!(panics.get(), 12);
    });
}

/// A job sent by a `Remote` panics inside the tokio driver's
/// `inbox.run`: the driver's task ends with the panic, and tokio drops the
/// driver, and with it the reactor, there (during the unwinding). The
/// reactor's drop shuts it down: the timeout another task awaits ends with
/// `ECANCELED` (its waker woken, no hang); the jobs queued behind the
/// panicking one (`Inbox::run_jobs` leaves them queued) run at the
/// shutdown, each op's callback once with the shutdown's error, or are
/// refused at the send; each closure is dropped exactly once; a send after
/// that is refused and its closure dropped unrun.
#[test]
fn a_remote_job_panicking_in_the_tokio_driver_ends_the_reactor_and_loses_nothing() {
    let _watch = watchdog();
    let runtime = runtime();
    LocalSet::new().block_on(&runtime, async {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let remote = reactor.remote();
        let driver = spawn_local(reactor.into_tokio().unwrap());
        let h2 = h.clone();
        let long = spawn_local(async move { h2.op(Timeout::new(Duration::from_secs(30))).await.0 });
        // The driver submits the timeout.
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(h.in_flight(), 1);

        let called = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        let sender = {
            let (called, failed, refused, dropped) = (
                Arc::clone(&called),
                Arc::clone(&failed),
                Arc::clone(&refused),
                Arc::clone(&dropped),
            );
            thread::spawn(move || {
                remote
                    .execute(|_| panic!("a job panics on the reactor's thread"))
                    .unwrap();
                for _ in 0..10 {
                    let guard = DropCount(Arc::clone(&dropped));
                    let (called, failed) = (Arc::clone(&called), Arc::clone(&failed));
                    let sent = remote.queue(Nop, move |r, ()| {
                        let _guard = guard;
                        called.fetch_add(1, Ordering::SeqCst);
                        if r.is_err() {
                            failed.fetch_add(1, Ordering::SeqCst);
                        }
                    });
                    if sent.is_err() {
                        refused.fetch_add(1, Ordering::SeqCst);
                    }
                }
                remote
            })
        };
        let joined = tokio::time::timeout(BOUND, driver)
            .await
            .expect("the driver's task never ended");
        assert!(joined.as_ref().is_err_and(|e| e.is_panic()), "{joined:?}");
        let remote = sender.join().unwrap();
        assert!(h.is_shut_down());
        let r = tokio::time::timeout(BOUND, long)
            .await
            .expect("the awaited timeout never ended")
            .unwrap();
        assert_eq!(errno(&r), Some(libc::ECANCELED));
        assert_eq!(h.in_flight(), 0);
        let (called, failed, refused) = (
            called.load(Ordering::SeqCst),
            failed.load(Ordering::SeqCst),
            refused.load(Ordering::SeqCst),
        );
        assert_eq!(called + refused, 10, "called {called}, refused {refused}");
        assert_eq!(failed, called, "a callback after the panic got a result");
        assert_eq!(dropped.load(Ordering::SeqCst), 10);

        let guard = DropCount(Arc::clone(&dropped));
        let late = remote.execute(move |_| {
            let _guard = guard;
            panic!("a job sent after the shutdown runs");
        });
        assert!(late.is_err());
        assert_eq!(dropped.load(Ordering::SeqCst), 11);
    });
}

/// Four threads send 500 ops each through `Remote`s while tokio drives the
/// reactor; one of them sends `Remote::shutdown` half-way. A `Remote`
/// call wakes the idle driver through the waker the ready queue keeps
/// (`ReadyQueue::set_driver`) from its own thread. Each op's closure is run
/// exactly once on the reactor's thread (before the shutdown with the
/// NOP's result, at it with the shutdown's error) or refused at the send,
/// and dropped exactly once either way; the 250 ops the shutting thread
/// sent before its shutdown ran before it (one thread's jobs run in
/// order) and completed; the driver resolves, and a timeout another task
/// awaits ends with `ECANCELED`.
#[test]
fn remotes_on_four_threads_racing_a_shutdown_under_tokio_run_or_refuse_each_op_once() {
    #[derive(Default)]
    struct Tally {
        ok: AtomicUsize,
        failed: AtomicUsize,
        refused: AtomicUsize,
        dropped: Arc<AtomicUsize>,
        elsewhere: AtomicUsize,
    }
    let _watch = watchdog();
    let runtime = runtime();
    let home = thread::current().id();
    let tally = Arc::new(Tally::default());
    LocalSet::new().block_on(&runtime, async {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let remote = reactor.remote();
        let driver = spawn_local(reactor.into_tokio().unwrap());
        let h2 = h.clone();
        let long = spawn_local(async move { h2.op(Timeout::new(Duration::from_secs(30))).await.0 });
        // The timeout is queued and submitted before any remote sends.
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(h.in_flight(), 1);
        let senders: Vec<_> = (0..4)
            .map(|t| {
                let (remote, tally) = (remote.clone(), Arc::clone(&tally));
                thread::spawn(move || {
                    for i in 0..500 {
                        if t == 0 && i == 250 {
                            remote.shutdown().unwrap();
                        }
                        let guard = DropCount(Arc::clone(&tally.dropped));
                        let tl = Arc::clone(&tally);
                        let sent = remote.queue(Nop, move |r, ()| {
                            let _guard = guard;
                            if thread::current().id() != home {
                                tl.elsewhere.fetch_add(1, Ordering::SeqCst);
                            }
                            match r {
                                Ok(0) => tl.ok.fetch_add(1, Ordering::SeqCst),
                                _ => tl.failed.fetch_add(1, Ordering::SeqCst),
                            };
                        });
                        if sent.is_err() {
                            tally.refused.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        drop(remote);
        tokio::time::timeout(Duration::from_secs(5), driver)
            .await
            .expect("the driver never resolved after the shutdown")
            .unwrap()
            .unwrap();
        for sender in senders {
            sender.join().unwrap();
        }
        let r = tokio::time::timeout(BOUND, long)
            .await
            .expect("the awaited timeout never ended")
            .unwrap();
        assert_eq!(errno(&r), Some(libc::ECANCELED));
        assert_eq!(h.in_flight(), 0);
    });
    let (ok, failed, refused) = (
        tally.ok.load(Ordering::SeqCst),
        tally.failed.load(Ordering::SeqCst),
        tally.refused.load(Ordering::SeqCst),
    );
    assert_eq!(
        ok + failed + refused,
        2000,
        "ok {ok}, failed {failed}, refused {refused}"
    );
    assert_eq!(tally.dropped.load(Ordering::SeqCst), 2000);
    assert_eq!(tally.elsewhere.load(Ordering::SeqCst), 0);
    assert!(ok >= 250, "ok {ok}: the ops sent before the shutdown");
}

// ---------------------------------------------------------------------
// Futures and streams

thread_local! {
    /// What the next clone of a [`hooked`] waker on this thread runs.
    static ON_CLONE: RefCell<Option<Box<dyn FnOnce()>>> = const { RefCell::new(None) };
}

/// What the reactor did with a [`hooked`] waker.
#[derive(Default)]
struct Hooked {
    clones: AtomicUsize,
    wakes: AtomicUsize,
}

impl Hooked {
    fn clones(&self) -> usize {
        self.clones.load(Ordering::SeqCst)
    }

    fn wakes(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }
}

static HOOKED: RawWakerVTable =
    RawWakerVTable::new(hooked_clone, hooked_wake, hooked_wake_by_ref, hooked_drop);

/// A waker whose clone first runs what [`ON_CLONE`] holds (taken once),
/// then counts itself; its wakes are counted. `Wake` has no clone of its
/// own to hook, so the waker is built from a vtable: the program's code
/// that `OpFuture::poll` and `OpStream::poll_next` run when they clone a
/// new waker.
fn hooked(counts: &Arc<Hooked>) -> Waker {
    let data = Arc::into_raw(Arc::clone(counts)).cast::<()>();
    // SAFETY: `data` is a strong count of an `Arc<Hooked>`, which the
    // waker owns; every function of `HOOKED` treats it so (the clone takes
    // a count for its waker, a wake or a drop gives the waker's back), and
    // `Hooked` is `Send + Sync`. The hook is a thread-local, run only on
    // the thread that set it.
    unsafe { Waker::from_raw(RawWaker::new(data, &HOOKED)) }
}

unsafe fn hooked_clone(data: *const ()) -> RawWaker {
    if let Some(hook) = ON_CLONE.with(|h| h.borrow_mut().take()) {
        hook();
    }
    // SAFETY: `data` is the count the cloned waker owns, alive for the call.
    let counts = unsafe { &*data.cast::<Hooked>() };
    counts.clones.fetch_add(1, Ordering::SeqCst);
    // SAFETY: as above; the new waker owns the count taken here.
    unsafe { Arc::increment_strong_count(data.cast::<Hooked>()) };
    RawWaker::new(data, &HOOKED)
}

unsafe fn hooked_wake(data: *const ()) {
    // SAFETY: the count this waker owned, given back once.
    let counts = unsafe { Arc::from_raw(data.cast::<Hooked>()) };
    counts.wakes.fetch_add(1, Ordering::SeqCst);
}

unsafe fn hooked_wake_by_ref(data: *const ()) {
    // SAFETY: the count the waker owns, alive for the call.
    let counts = unsafe { &*data.cast::<Hooked>() };
    counts.wakes.fetch_add(1, Ordering::SeqCst);
}

unsafe fn hooked_drop(data: *const ()) {
    // SAFETY: the count this waker owned, given back once.
    drop(unsafe { Arc::from_raw(data.cast::<Hooked>()) });
}

/// `OpFuture::poll` and `OpStream::poll_next` clone a new waker with the
/// core released and look at the slot again after ("either may run the
/// program's code, which may use the reactor (and even complete the op
/// meanwhile)"). Clones that:
///
/// - panic: the poll unwinds with nothing stored; the receive then
///   completes once with the bytes sent;
/// - cancel the op being polled (by its id): the clone is stored, woken
///   once by the `ECANCELED` completion, and the next poll gives the
///   buffer back untouched;
/// - shut the reactor down: the op ends inside the clone, and the same
///   poll returns its `ECANCELED` (it must not go back to waiting on a slot
///   that is ready already, which nothing would wake again);
/// - shut the reactor down under a stream's poll: the stream's last
///   completion arrives inside the clone; the poll returns `Pending` only
///   after waking the clone (no wake-up lost), and the next polls yield
///   the cancel, then the end.
#[test]
fn waker_clones_that_panic_cancel_or_shut_down_leave_each_op_ended_once() {
    let _watch = watchdog();
    let counts = Arc::new(Hooked::default());
    let waker = hooked(&counts);
    let mut cx = Context::from_waker(&waker);

    // A clone that panics.
    let reactor = Reactor::new().unwrap();
    let (fd, mut peer) = pair();
    let mut recv = reactor.op(Recv::new(&fd, vec![0x11u8; 8]));
    reactor.submit().unwrap();
    ON_CLONE.set(Some(Box::new(|| panic!("a waker's clone panics"))));
    let polled = catch_unwind(AssertUnwindSafe(|| Pin::new(&mut recv).poll(&mut cx)));
    assert!(
        polled.is_err(),
        "the clone's panic reaches the poll's caller"
    );
    assert_eq!((counts.clones(), counts.wakes()), (0, 0));
    peer.write_all(b"late").unwrap();
    let (r, buf) = reactor.run_until(&mut recv).unwrap();
    assert_eq!(r.unwrap(), 4);
    assert_eq!(&buf[..4], b"late");
    assert_eq!(&buf[4..], [0x11; 4]);
    assert_eq!(counts.wakes(), 0, "the panicking clone was never stored");
    assert_eq!(reactor.in_flight(), 0);

    // A clone that cancels the op it is cloned for.
    let mut recv = reactor.op(Recv::new(&fd, vec![0x22u8; 8]));
    let id = recv.id().unwrap();
    reactor.submit().unwrap();
    let h = reactor.handle();
    ON_CLONE.set(Some(Box::new(move || {
        assert!(h.cancel(id).unwrap(), "the op is in flight");
    })));
    assert!(Pin::new(&mut recv).poll(&mut cx).is_pending());
    assert_eq!(counts.clones(), 1);
    run_for(&reactor, 5);
    assert_eq!(counts.wakes(), 1, "the stored clone is woken once");
    let Poll::Ready((r, buf)) = Pin::new(&mut recv).poll(&mut cx) else {
        panic!("the cancelled receive did not resolve");
    };
    assert_eq!(errno(&r), Some(libc::ECANCELED));
    assert_eq!(buf, [0x22; 8]);
    assert_eq!(reactor.in_flight(), 0);

    // A clone that shuts the reactor down.
    let mut recv = reactor.op(Recv::new(&fd, vec![0x33u8; 8]));
    reactor.submit().unwrap();
    let h = reactor.handle();
    ON_CLONE.set(Some(Box::new(move || h.shutdown())));
    match Pin::new(&mut recv).poll(&mut cx) {
        Poll::Ready((r, buf)) => {
            assert_eq!(errno(&r), Some(libc::ECANCELED));
            assert_eq!(buf, [0x33; 8]);
        }
        Poll::Pending => panic!(
            "the op ended inside the clone, and the poll left the future waiting on a ready slot"
        ),
    }
    assert!(reactor.is_shut_down());
    assert_eq!(reactor.in_flight(), 0);
    assert_eq!(
        counts.wakes(),
        1,
        "no wake for a future that resolved at once"
    );
    drop(reactor);

    // A clone that shuts the reactor down under a stream's poll.
    let reactor = Reactor::new().unwrap();
    let mut stream = reactor.stream(PollMulti::new(&fd, PollEvents::IN));
    reactor.submit().unwrap();
    run_for(&reactor, 2);
    let h = reactor.handle();
    ON_CLONE.set(Some(Box::new(move || h.shutdown())));
    let wakes = counts.wakes();
    let mut items = Vec::new();
    match stream.poll_next(&mut cx) {
        Poll::Pending => assert_eq!(
            counts.wakes(),
            wakes + 1,
            "a stream whose op ended inside the clone returned Pending without a wake"
        ),
        Poll::Ready(item) => items.push(item),
    }
    for _ in 0..4 {
        match poll_once(&mut stream.next()) {
            Poll::Ready(item) => items.push(item),
            Poll::Pending => panic!("a stream whose op ended waits"),
        }
        if matches!(items.last(), Some(None)) {
            break;
        }
    }
    let items: Vec<Option<Option<i32>>> = items
        .into_iter()
        .map(|item| item.map(|r| r.err().and_then(|e| e.raw_os_error())))
        .collect();
    assert_eq!(items, [Some(Some(libc::ECANCELED)), None]);
    assert!(reactor.is_shut_down());
    assert_eq!(reactor.in_flight(), 0);
    assert!(ON_CLONE.with(|h| h.borrow().is_none()), "every hook ran");
}

/// A finished `OpFuture` is `Done`: polled again it returns `Pending` at
/// once, without looking at its old slot (now another op's), and dropped or
/// detached it orphans nothing; an ended `OpStream` is the same. The slot
/// is the first on the free list once released, so the next op takes it:
/// a poll of the finished future must not store its waker there (the
/// timer in the slot wakes only its own future), and drops and detaches of
/// the finished ones must not cancel the ops in the slot (their timers
/// fire, `ETIME`, not `ECANCELED`).
#[test]
fn finished_futures_and_streams_polled_or_dropped_again_leave_their_slot_s_next_op_alone() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let mut first = reactor.op(Nop);
    let slot = first.id().unwrap().slot();
    let (r, ()) = reactor.run_until(&mut first).unwrap();
    assert_eq!(r.unwrap(), 0);
    assert!(first.id().is_none());
    let mut spent = reactor.op(Nop);
    let (r, ()) = reactor.run_until(&mut spent).unwrap();
    assert_eq!(r.unwrap(), 0);

    let mut next = reactor.op(Timeout::new(Duration::from_millis(20)));
    assert_eq!(
        next.id().unwrap().slot(),
        slot,
        "the next op takes the slot"
    );
    let next_wakes = Arc::new(Wakes::default());
    let next_waker = Waker::from(Arc::clone(&next_wakes));
    assert!(
        Pin::new(&mut next)
            .poll(&mut Context::from_waker(&next_waker))
            .is_pending()
    );
    let stale_wakes = Arc::new(Wakes::default());
    let stale_waker = Waker::from(Arc::clone(&stale_wakes));
    for _ in 0..3 {
        assert!(
            Pin::new(&mut first)
                .poll(&mut Context::from_waker(&stale_waker))
                .is_pending()
        );
    }
    spent.detach();
    run_for(&reactor, 40);
    assert_eq!(
        next_wakes.count(),
        1,
        "the op in the slot woke its own future"
    );
    assert_eq!(
        stale_wakes.count(),
        0,
        "a finished future's waker was stored in its old slot"
    );
    let Poll::Ready((r, ())) = Pin::new(&mut next).poll(&mut Context::from_waker(&next_waker))
    else {
        panic!("the timer did not resolve");
    };
    assert_eq!(errno(&r), Some(libc::ETIME), "the timer was cancelled");

    // A stream that ended, polled and dropped after its slot went on.
    let (fd, _peer) = pair();
    let mut stream = reactor.stream(PollMulti::new(&fd, PollEvents::IN));
    let stream_slot = stream.id().unwrap().slot();
    reactor.submit().unwrap();
    assert!(reactor.cancel(stream.id().unwrap()).unwrap());
    let item = reactor.run_until(stream.next()).unwrap();
    assert_eq!(
        item.map(|r| r.err().and_then(|e| e.raw_os_error())),
        Some(Some(libc::ECANCELED))
    );
    assert!(reactor.run_until(stream.next()).unwrap().is_none());
    let later = reactor.op(Timeout::new(Duration::from_millis(20)));
    assert_eq!(later.id().unwrap().slot(), stream_slot);
    assert!(poll_once(&mut stream.next()).is_ready());
    drop(stream);
    drop(first);
    let (r, ()) = reactor.run_until(later).unwrap();
    assert_eq!(errno(&r), Some(libc::ETIME), "the timer was cancelled");
    assert_eq!(reactor.in_flight(), 0);
}

// ---------------------------------------------------------------------
// Rings of one task, and deferred task work

/// `IORING_SETUP_SINGLE_ISSUER` ties a ring to the task that made it
/// (unless it is made disabled, and then to the task that enables it):
/// `io_uring_enter` from any other task fails with `EEXIST` before it
/// takes an SQE (`__io_uring_add_tctx_node_from_submit`), and a
/// deferred-task-work ring also refuses other tasks' waits. `Ring` is
/// `Send`, so safe code can hand such a ring, made on another thread
/// without `r_disabled`, to `Reactor::from_ring`. The reactor's run then
/// fails with `EEXIST` rather than hang; the receive it queued never
/// reached the kernel (the peer's bytes are still in the socket) and its
/// callback never runs with a made-up result; dropping the reactor, whose
/// shutdown cannot wait on the ring, leaks the op rather than freeing it,
/// and returns at once. The same ring made with `r_disabled` is enabled
/// by `from_ring` on this thread and serves the reactor.
#[test]
fn a_single_issuer_ring_made_on_another_thread_fails_its_reactor_s_runs_and_lends_nothing() {
    let _watch = watchdog();
    for defer in [false, true] {
        let builder = move |disabled: bool| {
            let b = if defer {
                Ring::builder().single_issuer().defer_taskrun()
            } else {
                Reactor::ring_builder()
            };
            if disabled { b.r_disabled() } else { b }.build(8)
        };
        let made = thread::spawn(move || builder(false)).join().unwrap();
        let ring = match made {
            Ok(ring) => ring,
            Err(e) => {
                skip(format_args!("defer {defer}: {e}"));
                continue;
            }
        };
        let reactor = Reactor::from_ring(ring).unwrap();
        let (mine, mut peer) = UnixStream::pair().unwrap();
        let mut watch = mine.try_clone().unwrap();
        let fd = SharedFd::new(mine);
        peer.write_all(b"kept").unwrap();
        let called = Rc::new(Cell::new(0u32));
        let c = Rc::clone(&called);
        reactor
            .queue(Recv::new(&fd, vec![0u8; 8]), move |_, _| c.set(c.get() + 1))
            .unwrap();
        let err = reactor.run().unwrap_err();
        assert_eq!(
            err.raw_os_error(),
            Some(libc::EEXIST),
            "defer {defer}: {err}"
        );
        assert_eq!(reactor.in_flight(), 1);
        let dropped_at = Instant::now();
        drop(reactor);
        assert!(
            dropped_at.elapsed() < BOUND,
            "defer {defer}: the drop took {:?}",
            dropped_at.elapsed()
        );
        assert_eq!(
            called.get(),
            0,
            "defer {defer}: a callback ran for an op the kernel never had"
        );
        watch.set_nonblocking(true).unwrap();
        let mut got = [0u8; 8];
        let n = watch.read(&mut got).unwrap();
        assert_eq!(&got[..n], b"kept", "defer {defer}: the receive ran");

        let ring = thread::spawn(move || builder(true))
            .join()
            .unwrap()
            .unwrap();
        let reactor = Reactor::from_ring(ring).unwrap();
        peer.write_all(b"served").unwrap();
        let (r, buf) = reactor
            .run_until(reactor.op(Recv::new(&fd, vec![0u8; 8])))
            .unwrap();
        assert_eq!(r.unwrap(), 6, "defer {defer}");
        assert_eq!(&buf[..6], b"served");
    }
}

/// A reactor over a deferred-task-work ring of two SQ and four CQ entries:
/// every completion is posted by task work the reactor's own enters run,
/// and all but four at a time wait in the kernel's overflow list
/// (`IORING_SQ_CQ_OVERFLOW`) until an enter that asks for events flushes
/// them (`Core::refill` and `Core::submit` look at the flag). Six hundred
/// NOPs with callbacks (every fourth queuing a follower from inside), forty
/// timers and forty futures awaited by tasks: each callback runs once, the
/// six hundred in the order queued, every future and timer ends once, and
/// `run` returns with nothing in flight. Then three hundred receives are
/// in flight when the reactor is dropped: each ends once, `ECANCELED`,
/// with its buffer untouched, through the same four-entry CQ.
#[test]
fn a_reactor_on_a_defer_ring_whose_cq_overflows_ends_each_op_once() {
    let _watch = watchdog();
    let ring = match Ring::builder()
        .single_issuer()
        .defer_taskrun()
        .cq_entries(4)
        .build(2)
    {
        Ok(ring) => ring,
        Err(e) => return skip(format_args!("a deferred-task-work ring of 2 and 4: {e}")),
    };
    let reactor = Reactor::from_ring(ring).unwrap();
    let h = reactor.handle();
    const N: u32 = 600;
    let seen = Rc::new(RefCell::new(Vec::new()));
    for i in 0..N {
        let (seen, h2) = (Rc::clone(&seen), h.clone());
        h.queue(Nop, move |r, ()| {
            assert_eq!(r.unwrap(), 0);
            seen.borrow_mut().push(i);
            if i % 4 == 0 {
                let seen = Rc::clone(&seen);
                h2.queue(Nop, move |r, ()| {
                    assert_eq!(r.unwrap(), 0);
                    seen.borrow_mut().push(10_000 + i);
                })
                .unwrap();
            }
        })
        .unwrap();
    }
    let timers = Rc::new(Cell::new(0u32));
    for i in 0..40u64 {
        let t = Rc::clone(&timers);
        h.queue(
            Timeout::new(Duration::from_micros(200 + 10 * i)),
            move |r, ()| {
                assert_eq!(errno(&r), Some(libc::ETIME));
                t.set(t.get() + 1);
            },
        )
        .unwrap();
    }
    let futures = Rc::new(Cell::new(0u32));
    for _ in 0..40 {
        let (f, h2) = (Rc::clone(&futures), h.clone());
        h.spawn(async move {
            let (r, ()) = h2.op(Nop).await;
            assert_eq!(r.unwrap(), 0);
            f.set(f.get() + 1);
        });
    }
    reactor.run().unwrap();
    let seen = seen.borrow();
    let primary: Vec<u32> = seen.iter().copied().filter(|&i| i < N).collect();
    assert_eq!(primary, (0..N).collect::<Vec<_>>());
    let followers: BTreeSet<u32> = seen.iter().copied().filter(|&i| i >= 10_000).collect();
    assert_eq!(
        seen.len(),
        N as usize + followers.len(),
        "a follower ran twice"
    );
    assert_eq!(
        followers,
        (0..N).filter(|i| i % 4 == 0).map(|i| 10_000 + i).collect()
    );
    assert_eq!((timers.get(), futures.get()), (40, 40));
    assert_eq!(h.in_flight(), 0);

    let (fd, _peer) = pair();
    let ended = Rc::new(RefCell::new(Vec::new()));
    for i in 0..300u32 {
        let ended = Rc::clone(&ended);
        h.queue(Recv::new(&fd, vec![0x5Au8; 4]), move |r, buf| {
            assert_eq!(buf, [0x5A; 4]);
            ended.borrow_mut().push((i, errno(&r)));
        })
        .unwrap();
    }
    h.submit().unwrap();
    assert_eq!(h.in_flight(), 300);
    drop(reactor);
    let mut ended = ended.borrow().clone();
    ended.sort_unstable();
    assert_eq!(
        ended,
        (0..300)
            .map(|i| (i, Some(libc::ECANCELED)))
            .collect::<Vec<_>>()
    );
    assert_eq!(h.in_flight(), 0);
}

/// Posts `(user_data, res, cqe flags)` messages into `target` from a
/// scope of `source` (safe code: the scope borrows the target until every
/// message's completion on the sender), and checks each was sent.
fn post(source: &mut Ring, target: &Ring, messages: &[(u64, i32, u32)]) {
    for chunk in messages.chunks(4) {
        source.scope(|s| {
            for &(ud, res, flags) in chunk {
                s.push(MsgRing::new(target, res, ud).cqe_flags(flags).user_data(9))
                    .unwrap();
            }
            s.submit().unwrap();
            let mut sent = 0;
            while sent < chunk.len() {
                s.wait_timeout(1, BOUND).unwrap();
                for c in s.completions() {
                    assert_eq!((c.user_data(), c.res()), (9, 0), "MSG_RING failed: {c:?}");
                    sent += 1;
                }
            }
        });
    }
}

/// A `MSG_RING` into a deferred-task-work ring is queued as task work on
/// the target (`io_msg_need_remote`: `task_complete` targets get
/// `io_msg_remote_post`), and its completion appears only when the
/// target's task asks for events: here, after the sender's scope ended
/// and released the borrow of the target, so after `Reactor::from_ring`
/// took the ring and drew its key. `from_ring` refuses only a ring with a
/// live `RingTarget`; these messages carry values chosen before the key:
/// every unmixed tag of the first slots and odd generations, with the
/// flags of a zero-copy send's first completion (`F_MORE`), of a selected
/// buffer (`F_BUFFER`) and of a notification. None may settle an op: a
/// pending receive keeps waiting through rounds of NOPs that deliver them,
/// then completes with the bytes really sent; a callback runs once.
#[test]
fn messages_deferred_into_a_defer_ring_land_after_its_reactor_began_and_settle_nothing() {
    let _watch = watchdog();
    if !require_kernel(6, 3, "IORING_MSG_RING_FLAGS_PASS") {
        return;
    }
    let Some(mut twin) = defer_ring(8) else {
        return;
    };
    let mut source = Ring::new(8).unwrap();
    // On a twin first: the message waits as task work until its target's
    // own thread asks for events.
    post(&mut source, &twin, &[(7, 1, 0)]);
    assert_eq!(twin.ready(), 0, "a message into a defer ring is deferred");
    twin.get_events().unwrap();
    assert_eq!(twin.ready(), 1);

    let Some(target) = defer_ring(64) else {
        return;
    };
    let flags = [
        0,
        sys::IORING_CQE_F_MORE,
        sys::IORING_CQE_F_BUFFER | 1 << 16,
        sys::IORING_CQE_F_NOTIF,
    ];
    let mut forged = Vec::new();
    for slot in 0..8u64 {
        for generation in [1u64, 3, 5] {
            for &f in &flags {
                forged.push((generation << 32 | slot, 4, f));
            }
        }
    }
    post(&mut source, &target, &forged);
    assert_eq!(target.ready(), 0, "the messages wait in the kernel");

    let reactor = Reactor::from_ring(target).unwrap();
    let (fd, mut peer) = pair();
    let mut recv = reactor.op(Recv::new(&fd, vec![0x44u8; 8]));
    assert!(poll_once(&mut recv).is_pending());
    let calls = Rc::new(Cell::new(0u32));
    for _ in 0..4 {
        let c = Rc::clone(&calls);
        reactor
            .queue(Nop, move |r, ()| {
                assert_eq!(r.unwrap(), 0);
                c.set(c.get() + 1);
            })
            .unwrap();
        let (r, ()) = reactor.run_until(reactor.op(Nop)).unwrap();
        assert_eq!(r.unwrap(), 0);
    }
    assert_eq!(calls.get(), 4);
    assert!(
        poll_once(&mut recv).is_pending(),
        "a message sent before the reactor resolved its receive"
    );
    peer.write_all(b"real").unwrap();
    let (r, buf) = reactor.run_until(recv).unwrap();
    assert_eq!(r.unwrap(), 4);
    assert_eq!(&buf, b"real\x44\x44\x44\x44");
    assert_eq!(reactor.in_flight(), 0);
}
