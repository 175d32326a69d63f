//! The program's code that the reactor runs (wakers, tasks, callbacks) may
//! panic or use the reactor again; the reactor's state stays whole: every
//! op is counted while the kernel has it, every completion reaches its
//! owner once, and runs and drivers end. Also shutdowns that must not wait
//! for what they cancelled: behind a drained op, or many receives at once.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::Write as _;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use uring::reactor::ops::{Nop, Recv};
use uring::reactor::{Handle, Reactor, SharedFd};
use uring::{Ring, SqeFlags};

thread_local! {
    /// The reactor that wakers of this thread reach.
    static HANDLE: RefCell<Option<Handle>> = const { RefCell::new(None) };
    /// Callbacks run of the NOPs those wakers queued.
    static QUEUED_DONE: Cell<u32> = const { Cell::new(0) };
}

/// Queues a NOP on the thread's reactor, as a waker of the program may.
fn queue_from_a_waker() {
    HANDLE.with(|h| {
        if let Some(h) = h.borrow().as_ref() {
            h.queue(Nop, |res, ()| {
                assert_eq!(res.unwrap(), 0);
                QUEUED_DONE.with(|n| n.set(n.get() + 1));
            })
            .expect("a waker queues on a live reactor");
        }
    });
}

/// A waker that panics when woken while `armed`.
struct PanickingWaker {
    armed: AtomicBool,
}

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if self.armed.load(Ordering::SeqCst) {
            panic!("the waker panics");
        }
    }
}

/// A waker that queues an op on the thread's reactor when woken.
struct QueueOnWake;

impl Wake for QueueOnWake {
    fn wake(self: Arc<Self>) {
        queue_from_a_waker();
    }
}

/// A waker that queues an op on the thread's reactor when its last clone
/// is dropped.
struct QueueOnDrop;

impl Wake for QueueOnDrop {
    fn wake(self: Arc<Self>) {}
}

impl Drop for QueueOnDrop {
    fn drop(&mut self) {
        queue_from_a_waker();
    }
}

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap()
}

/// Polls the driver with a waker that does nothing until `done` holds, or
/// panics after a few seconds.
fn drive_until(driver: &mut uring::reactor::TokioDriver, done: impl Fn() -> bool) {
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..2000 {
        assert!(Pin::new(&mut *driver).poll(&mut cx).is_pending());
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("the driver did not get there");
}

#[test]
fn a_panicking_driver_waker_leaves_the_op_counted_and_completed_once() {
    let _watch = uring_tests::watchdog();
    let runtime = current_thread_runtime();
    runtime.block_on(async {
        let reactor = Reactor::new().unwrap();
        let handle = reactor.handle();
        let mut driver = reactor.into_tokio().unwrap();
        let waker = Arc::new(PanickingWaker {
            armed: AtomicBool::new(false),
        });
        let waker_of_driver = Waker::from(Arc::clone(&waker));
        let mut cx = Context::from_waker(&waker_of_driver);
        assert!(Pin::new(&mut driver).poll(&mut cx).is_pending());
        waker.armed.store(true, Ordering::SeqCst);
        let calls = Rc::new(Cell::new(0u32));
        let c = Rc::clone(&calls);
        let queued = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handle.queue(Nop, move |res, ()| {
                assert_eq!(res.unwrap(), 0);
                c.set(c.get() + 1);
            })
        }));
        assert!(queued.is_err(), "the waker's panic reaches the caller");
        waker.armed.store(false, Ordering::SeqCst);
        // The op was queued before the waker ran: it is counted, and
        // completes once.
        assert_eq!(handle.in_flight(), 1);
        drive_until(&mut driver, || calls.get() == 1);
        assert_eq!(handle.in_flight(), 0);
        // The reactor takes more ops, and shuts down at once.
        let c = Rc::clone(&calls);
        handle.queue(Nop, move |_, ()| c.set(c.get() + 1)).unwrap();
        drive_until(&mut driver, || calls.get() == 2);
        handle.shutdown();
        assert!(Pin::new(&mut driver).poll(&mut cx).is_ready());
        assert_eq!(calls.get(), 2);
    });
}

#[test]
fn a_driver_waker_that_queues_when_woken() {
    let _watch = uring_tests::watchdog();
    let runtime = current_thread_runtime();
    runtime.block_on(async {
        let reactor = Reactor::new().unwrap();
        let handle = reactor.handle();
        HANDLE.with(|h| *h.borrow_mut() = Some(handle.clone()));
        QUEUED_DONE.with(|n| n.set(0));
        let mut driver = reactor.into_tokio().unwrap();
        let waker = Waker::from(Arc::new(QueueOnWake));
        assert!(
            Pin::new(&mut driver)
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        let calls = Rc::new(Cell::new(0u32));
        let c = Rc::clone(&calls);
        // Waking the driver queues a second NOP from inside the waker.
        handle.queue(Nop, move |_, ()| c.set(c.get() + 1)).unwrap();
        HANDLE.with(|h| *h.borrow_mut() = None);
        assert_eq!(handle.in_flight(), 2);
        drive_until(&mut driver, || {
            calls.get() == 1 && QUEUED_DONE.with(Cell::get) == 1
        });
        assert_eq!(handle.in_flight(), 0);
        handle.shutdown();
    });
}

#[test]
fn a_futures_old_waker_that_queues_when_dropped() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    HANDLE.with(|h| *h.borrow_mut() = Some(reactor.handle()));
    QUEUED_DONE.with(|n| n.set(0));
    let (a, mut peer) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(a);
    let mut future = reactor.op(Recv::new(&fd, vec![0u8; 16]));
    // The slot keeps the only clone of this waker...
    {
        let first = Waker::from(Arc::new(QueueOnDrop));
        assert!(
            Pin::new(&mut future)
                .poll(&mut Context::from_waker(&first))
                .is_pending()
        );
    }
    // ... which a poll with another waker drops: it queues a NOP.
    let second = Waker::from(Arc::new(QueueOnWake));
    assert!(
        Pin::new(&mut future)
            .poll(&mut Context::from_waker(&second))
            .is_pending()
    );
    HANDLE.with(|h| *h.borrow_mut() = None);
    assert_eq!(reactor.in_flight(), 2);
    peer.write_all(b"data").unwrap();
    reactor.run().unwrap();
    assert_eq!(QUEUED_DONE.with(Cell::get), 1);
    match Pin::new(&mut future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready((res, buf)) => {
            assert_eq!(res.unwrap(), 4);
            assert_eq!(&buf[..4], b"data");
        }
        Poll::Pending => panic!("the receive's completion was lost"),
    }
}

#[test]
fn a_panicking_task_is_counted_out() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    handle.spawn(async { panic!("the task panics") });
    let ran = Rc::new(Cell::new(false));
    let r = Rc::clone(&ran);
    let h = handle.clone();
    handle.spawn(async move {
        let (res, ()) = h.op(Nop).await;
        res.unwrap();
        r.set(true);
    });
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reactor.run()));
    assert!(run.is_err(), "the task's panic reaches the run's caller");
    // The other task is still there, and the next run ends with it.
    reactor.run().unwrap();
    assert!(ran.get());
    // A task spawned now reuses the panicked task's place.
    let again = Rc::new(Cell::new(0));
    let a = Rc::clone(&again);
    handle.spawn(async move { a.set(a.get() + 1) });
    reactor.run().unwrap();
    assert_eq!(again.get(), 1);
}

/// A one-shot channel whose sender is on another thread.
#[derive(Default)]
struct Signal {
    state: Mutex<(bool, Option<Waker>)>,
}

impl Signal {
    fn fire(&self) {
        let waker = {
            let mut state = self.state.lock().unwrap();
            state.0 = true;
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

struct Fired(Arc<Signal>);

impl Future for Fired {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.0.state.lock().unwrap();
        if state.0 {
            return Poll::Ready(());
        }
        state.1 = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[test]
fn a_wake_from_another_thread_after_a_shutdown_inside_run_until() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let signal = Arc::new(Signal::default());
    let fired = Fired(Arc::clone(&signal));
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        signal.fire();
    });
    let out = reactor
        .run_until(async move {
            let (res, ()) = handle.op(Nop).await;
            res.unwrap();
            handle.shutdown();
            assert!(handle.is_shut_down());
            fired.await;
            42
        })
        .unwrap();
    assert_eq!(out, 42);
    sender.join().unwrap();
}

#[test]
fn the_tokio_driver_resolves_after_a_shutdown() {
    let _watch = uring_tests::watchdog();
    let runtime = current_thread_runtime();
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        let reactor = Reactor::new().unwrap();
        let handle = reactor.handle();
        let driver = tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let (res, ()) = handle.op(Nop).await;
        res.unwrap();
        // Nothing is in flight: the driver waits on the ring's descriptor
        // until the shutdown wakes it.
        tokio::task::yield_now().await;
        handle.shutdown();
        driver.await.unwrap().unwrap();
    });
}

/// A ring with a long timeout in flight and a NOP drained behind it is no
/// reactor's: the kernel's drain would hold every op of the reactor behind
/// the hour, its own wake-up poll included, and stay on after. The ring
/// is dropped with the refusal, its timeout cancelled by the kernel.
#[test]
fn a_ring_with_a_drained_op_in_flight_is_no_reactor_s() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(uring::ops::Timeout::new(Duration::from_secs(3600)).user_data(1))
        .unwrap();
    ring.push(
        uring::ops::Nop::new()
            .flags(SqeFlags::IO_DRAIN)
            .user_data(2),
    )
    .unwrap();
    ring.submit().unwrap();
    match Reactor::from_ring(ring) {
        Ok(_) => panic!("a reactor took a ring with a drained op in flight"),
        Err(e) => {
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
            assert!(e.to_string().contains("IO_DRAIN"), "{e}");
        }
    }
}

#[test]
fn a_shutdown_cancels_many_receives_each_once() {
    let _watch = uring_tests::watchdog();
    const N: u32 = 20_000;
    let reactor = Reactor::new().unwrap();
    let (a, _peer) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(a);
    let cancelled = Rc::new(Cell::new(0u32));
    let other = Rc::new(Cell::new(0u32));
    for _ in 0..N {
        let (c, o) = (Rc::clone(&cancelled), Rc::clone(&other));
        reactor
            .queue(Recv::new(&fd, vec![0u8; 8]), move |res, _| match res {
                Err(e) if e.raw_os_error() == Some(libc::ECANCELED) => c.set(c.get() + 1),
                _ => o.set(o.get() + 1),
            })
            .unwrap();
    }
    reactor.submit().unwrap();
    assert_eq!(reactor.in_flight(), N);
    drop(reactor);
    assert_eq!((cancelled.get(), other.get()), (N, 0));
}

/// Counts the program's ops, as a task that queues from many places.
#[test]
fn a_waker_queueing_from_wakes_of_completions() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    HANDLE.with(|h| *h.borrow_mut() = Some(reactor.handle()));
    QUEUED_DONE.with(|n| n.set(0));
    let woken = Arc::new(AtomicU32::new(0));
    struct Counting(Arc<AtomicU32>);
    impl Wake for Counting {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
            queue_from_a_waker();
        }
    }
    let waker = Waker::from(Arc::new(Counting(Arc::clone(&woken))));
    let mut futures: Vec<_> = (0..16).map(|_| reactor.op(Nop)).collect();
    for f in &mut futures {
        assert!(
            Pin::new(f)
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
    }
    drop(waker);
    // Each completion wakes its future's waker, which queues a NOP from
    // the reap: 16 more ops, each completed once.
    reactor.run().unwrap();
    HANDLE.with(|h| *h.borrow_mut() = None);
    assert_eq!(woken.load(Ordering::SeqCst), 16);
    assert_eq!(QUEUED_DONE.with(Cell::get), 16);
    for f in &mut futures {
        match Pin::new(f).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready((res, ())) => assert_eq!(res.unwrap(), 0),
            Poll::Pending => panic!("a NOP's completion was lost"),
        }
    }
    assert_eq!(reactor.in_flight(), 0);
}

/// Polled twice: the first poll spawns a task and wakes itself.
struct SpawnsThenEnds {
    handle: Handle,
    polls: u32,
    done: Rc<Cell<bool>>,
}

impl Future for SpawnsThenEnds {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.polls += 1;
        if self.polls == 1 {
            self.handle.spawn(async {});
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.done.set(true);
        Poll::Ready(())
    }
}

#[test]
fn a_task_spawned_by_a_task_that_shut_the_reactor_down_runs_to_its_end() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let done = Rc::new(Cell::new(false));
    let (d, h) = (Rc::clone(&done), handle.clone());
    // The first task's id is free again when it ends; the task it spawned
    // after the shutdown holds that place already.
    handle.spawn(async move {
        h.shutdown();
        h.spawn(SpawnsThenEnds {
            handle: h.clone(),
            polls: 0,
            done: d,
        });
    });
    reactor.run().unwrap();
    assert!(done.get(), "the task was dropped before its end");
}

/// `PollMulti`, whose item panics at the op's last completion.
struct PanicsAtTheEnd(uring::reactor::ops::PollMulti);

// SAFETY: the SQE is `PollMulti`'s, over what that value owns.
unsafe impl uring::reactor::MultishotOp for PanicsAtTheEnd {
    type Item = std::io::Result<uring::PollEvents>;
    type Sqe<'a> = <uring::reactor::ops::PollMulti as uring::reactor::MultishotOp>::Sqe<'a>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        self.0.sqe()
    }
    fn item(&mut self, completion: uring::reactor::Completion) -> Self::Item {
        assert!(completion.has_more(), "the item panics at the end");
        self.0.item(completion)
    }
}

#[test]
fn a_streams_reader_is_woken_when_its_last_item_panics() {
    let _watch = uring_tests::watchdog();
    let (a, _peer) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(a);
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let mut stream = handle.stream(PanicsAtTheEnd(uring::reactor::ops::PollMulti::new(
        &fd,
        uring::PollEvents::IN,
    )));
    let id = stream.id().unwrap();
    let ended = Rc::new(Cell::new(false));
    let e = Rc::clone(&ended);
    handle.spawn(async move {
        while stream.next().await.is_some() {}
        e.set(true);
    });
    let h = handle.clone();
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        reactor.run_until(async move {
            let (res, ()) = h.op(uring::reactor::ops::Nop).await;
            res.unwrap();
            assert!(h.cancel(id).unwrap());
            std::future::pending::<()>().await;
        })
    }));
    assert!(run.is_err(), "the item's panic reaches the run's caller");
    assert_eq!(handle.in_flight(), 0);
    // The reader was woken: it sees the end of the stream.
    reactor.run().unwrap();
    assert!(ended.get());
}

#[test]
fn a_multishot_callback_that_panics_at_the_last_completion_ends_its_op() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let (a, _peer) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(a);
    let id = reactor
        .queue_multishot(
            uring::reactor::ops::PollMulti::new(&fd, uring::PollEvents::IN),
            |item| assert!(item.is_ok(), "the callback panics at the end"),
        )
        .unwrap();
    reactor.submit().unwrap();
    assert!(reactor.cancel(id).unwrap());
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reactor.run()));
    assert!(run.is_err());
    assert_eq!(reactor.in_flight(), 0);
    // The op is over: its id cancels nothing.
    assert!(!reactor.cancel(id).unwrap());
}
