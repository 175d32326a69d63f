//! The thread's current reactor: `Handle::current`, `Handle::enter` and
//! the free `reactor::spawn`. Current inside a run (the main future, the
//! tasks, the callbacks, what remotes send) and inside tokio's driver;
//! nested runs of two reactors, each current in its own; guards dropped
//! in any order; none after a run, after a panic out of one, or on another
//! thread.

use std::cell::{Cell, RefCell};
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::atomic::Ordering;

use uring::reactor::ops::Nop;
use uring::reactor::{self, Handle, Reactor};
use uring_tests::watchdog;

fn not_found<T>(r: io::Result<T>) -> bool {
    matches!(r, Err(e) if e.kind() == io::ErrorKind::NotFound)
}

/// Which of `reactors` runs a task spawned through the current reactor:
/// the task records `tag` when polled, and only a run of its reactor polls
/// it.
fn spawn_tagged(log: &Rc<RefCell<Vec<&'static str>>>, tag: &'static str) {
    let log = log.clone();
    drop(reactor::spawn(async move { log.borrow_mut().push(tag) }).unwrap());
}

#[test]
fn none_is_current_outside_a_run() {
    let _watch = watchdog();
    assert!(not_found(Handle::current()));
    assert!(not_found(reactor::spawn(async {})));
    let reactor = Reactor::new().unwrap();
    assert!(not_found(Handle::current()), "made, not running");
    reactor.run_until(async {}).unwrap();
    assert!(not_found(Handle::current()), "after its run");
    let e = reactor::spawn(async {}).unwrap_err();
    assert!(e.to_string().contains("Handle::enter"), "{e}");
}

/// The future of `run_until`, a task, a callback and a job a remote sent
/// each find the running reactor current: what they spawn and queue
/// through it runs on it.
#[test]
fn every_kind_of_code_a_run_polls_finds_its_reactor() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    let out = reactor
        .run_until(async move {
            // From the main future.
            let task = reactor::spawn(async {
                // From a task: an op queued through the current handle.
                let (res, ()) = Handle::current().unwrap().op(Nop).await;
                res.unwrap()
            })
            .unwrap();
            let res = task.await.unwrap();
            l.borrow_mut().push("task");
            res
        })
        .unwrap();
    assert_eq!(out, 0);
    // From a callback.
    let l = log.clone();
    reactor
        .queue(Nop, move |_, ()| {
            spawn_tagged(&l, "from a callback");
        })
        .unwrap();
    reactor.run().unwrap();
    // From a job of a remote: a task it spawns through the current
    // reactor runs in this run.
    let ran = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let remote = reactor.remote();
    let r = ran.clone();
    std::thread::spawn(move || {
        remote
            .execute(move |_| {
                let r = r.clone();
                drop(reactor::spawn(async move { r.fetch_add(1, Ordering::SeqCst) }).unwrap());
            })
            .unwrap();
    })
    .join()
    .unwrap();
    reactor.run().unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert_eq!(*log.borrow(), ["task", "from a callback"]);
    assert!(not_found(Handle::current()));
}

/// A run of reactor B inside a task of reactor A's run: inside B's run, B
/// is current (a task spawned there waits for B's next run), and A again
/// once B's run returns.
#[test]
fn nested_runs_of_two_reactors_each_find_their_own() {
    let _watch = watchdog();
    let a = Reactor::new().unwrap();
    let b = Rc::new(Reactor::new().unwrap());
    let log = Rc::new(RefCell::new(Vec::new()));
    let (l, b2) = (log.clone(), b.clone());
    a.run_until(async move {
        spawn_tagged(&l, "on a, before");
        let l2 = l.clone();
        b2.run_until(async move {
            spawn_tagged(&l2, "on b");
        })
        .unwrap();
        spawn_tagged(&l, "on a, after");
        // Let a's tasks run.
        let (res, ()) = Handle::current().unwrap().op(Nop).await;
        res.unwrap();
    })
    .unwrap();
    assert_eq!(*log.borrow(), ["on a, before", "on a, after"]);
    b.run().unwrap();
    assert_eq!(*log.borrow(), ["on a, before", "on a, after", "on b"]);
}

/// A guard of `enter` makes its reactor current outside any run; a later
/// guard's reactor is current while it lives; guards dropped out of order
/// each take their own entry away.
#[test]
fn enter_guards_stack_and_drop_in_any_order() {
    let _watch = watchdog();
    let a = Reactor::new().unwrap();
    let b = Reactor::new().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let ga = a.enter();
    spawn_tagged(&log, "a1");
    let gb = b.enter();
    spawn_tagged(&log, "b1");
    drop(ga);
    // `b` stays current: its guard lives.
    spawn_tagged(&log, "b2");
    drop(gb);
    assert!(not_found(Handle::current()));
    a.run().unwrap();
    assert_eq!(*log.borrow(), ["a1"]);
    b.run().unwrap();
    assert_eq!(*log.borrow(), ["a1", "b1", "b2"]);
    // A run inside a guard of another reactor: the running one is current
    // while it runs, the entered one after.
    let _g = a.enter();
    b.run_until(async { spawn_tagged(&log, "b3") }).unwrap();
    spawn_tagged(&log, "a2");
    b.run().unwrap();
    a.run().unwrap();
    assert_eq!(*log.borrow(), ["a1", "b1", "b2", "b3", "a2"]);
}

/// A panic out of a run (its future's) leaves no entry behind; a guard
/// keeps a handle of a reactor dropped meanwhile, whose spawns are
/// dropped at once (the reactor shut down).
#[test]
fn a_panicking_run_leaves_nothing_current_and_guards_outlive_their_reactor() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let r = catch_unwind(AssertUnwindSafe(|| {
        reactor.run_until(async { panic!("out of the main future") })
    }));
    assert!(r.is_err());
    assert!(not_found(Handle::current()));
    // The reactor still runs.
    assert_eq!(reactor.run_until(async { 5 }).unwrap(), 5);

    let guard = reactor.enter();
    drop(reactor);
    let polled = Rc::new(Cell::new(false));
    let p = polled.clone();
    let join = reactor::spawn(async move { p.set(true) }).unwrap();
    assert!(!polled.get());
    let other = Reactor::new().unwrap();
    let joined = other.run_until(join).unwrap();
    assert!(joined.unwrap_err().is_dropped());
    assert!(!polled.get());
    drop(guard);
    assert!(not_found(Handle::current()));
}

/// Another thread has its own entries: a reactor current here is not
/// there.
#[test]
fn another_thread_has_no_current_reactor() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let _g = reactor.enter();
    assert!(Handle::current().is_ok());
    let there = std::thread::spawn(|| not_found(Handle::current()))
        .join()
        .unwrap();
    assert!(there);
}

/// Under tokio: a task of the reactor, polled by its driver, finds it
/// current; a tokio task beside it does not, unless it enters it.
#[test]
fn tokio_driver_polls_with_its_reactor_current() {
    let _watch = watchdog();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let reactor = Reactor::from_ring(uring::Ring::new(64).unwrap()).unwrap();
        let handle = reactor.handle();
        let driver = tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let on_reactor = handle.spawn(async {
            let (res, ()) = Handle::current().unwrap().op(Nop).await;
            res.unwrap()
        });
        assert_eq!(on_reactor.await.unwrap(), 0);
        let beside = tokio::task::spawn_local(async { not_found(Handle::current()) });
        assert!(beside.await.unwrap());
        let h = handle.clone();
        let entered = tokio::task::spawn_local(async move {
            let _g = h.enter();
            let join = reactor::spawn(async { 7 }).unwrap();
            drop(_g);
            join.await.unwrap()
        });
        assert_eq!(entered.await.unwrap(), 7);
        handle.shutdown();
        driver.await.unwrap().unwrap();
    });
}
