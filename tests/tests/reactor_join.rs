//! The [`JoinHandle`] that `Handle::spawn` returns: a task's output
//! awaited by `run_until`, by another task and by a tokio task; a task
//! aborted while its read waits on a pipe (the read is cancelled: bytes
//! written after the abort stay in the pipe); tasks dropped unfinished by
//! a shutdown, spawned on a reactor that had shut down, or unwound by a
//! panic; handles dropped (the task runs on), polled after their output,
//! and aborted after the task finished (the output stays).

use std::cell::{Cell, RefCell};
use std::io::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use uring::reactor::ops::{Nop, Read, Timeout};
use uring::reactor::{JoinHandle, Reactor};
use uring_tests::reactor::{pipe_bytes, pipes};
use uring_tests::{poll_once, watchdog};

/// A task's output comes back through `run_until`, with the result of the
/// op it awaited.
#[test]
fn run_until_gives_the_task_s_output() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let task = reactor.spawn(async move {
        let (a, ()) = h.op(Nop).await;
        let (b, ()) = h.op(Nop).await;
        (a.unwrap(), b.unwrap(), String::from("done"))
    });
    assert!(!task.is_finished());
    let out = reactor.run_until(task).unwrap().unwrap();
    assert_eq!(out, (0, 0, String::from("done")));
    assert_eq!(reactor.in_flight(), 0);
}

/// A task awaits the handles of ten others, each of which finishes after
/// a timeout of its own length: the outputs arrive in the order awaited,
/// each the value its task made.
#[test]
fn a_task_awaits_the_handles_of_others() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let handles: Vec<JoinHandle<u32>> = (0..10u32)
        .map(|i| {
            let h = reactor.handle();
            reactor.spawn(async move {
                let (r, ()) = h
                    .op(Timeout::new(Duration::from_millis(u64::from(10 - i))))
                    .await;
                assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ETIME));
                i * i
            })
        })
        .collect();
    let all = reactor.spawn(async move {
        let mut out = Vec::new();
        for handle in handles {
            out.push(handle.await.unwrap());
        }
        out
    });
    let out = reactor.run_until(all).unwrap().unwrap();
    assert_eq!(out, (0..10).map(|i| i * i).collect::<Vec<_>>());
}

/// A task whose read waits on an empty pipe is aborted: its handle gives
/// an aborted error, the read is cancelled (no op in flight once the
/// reactor ran), and bytes written to the pipe afterwards stay there.
#[test]
fn abort_drops_the_task_and_cancels_its_read() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (fds, dups, mut writers) = pipes(1);
    let h = reactor.handle();
    let fd = fds[0].clone();
    let polls = Rc::new(Cell::new(0u32));
    let p = Rc::clone(&polls);
    let task = reactor.spawn(async move {
        p.set(p.get() + 1);
        let (r, buf) = h.op(Read::new(&fd, vec![0u8; 64], 0)).await;
        p.set(p.get() + 1);
        (r, buf)
    });
    uring_tests::run_for(&reactor, 5);
    assert_eq!(polls.get(), 1, "the task waits in its read");
    assert_eq!(reactor.in_flight(), 1);
    task.abort();
    assert!(!task.is_finished(), "the task ends at its next poll");
    let err = reactor.run_until(task).unwrap().unwrap_err();
    assert!(err.is_aborted(), "{err:?}");
    assert!(!err.is_dropped() && !err.is_panic() && !err.is_taken());
    assert_eq!(polls.get(), 1, "an aborted task is not polled again");
    uring_tests::run_for(&reactor, 5);
    assert_eq!(reactor.in_flight(), 0, "the read was cancelled");
    writers[0].write_all(b"after the abort").unwrap();
    uring_tests::run_for(&reactor, 5);
    assert_eq!(pipe_bytes(&dups[0]), b"after the abort");
}

/// A task aborts itself through its own handle, and then goes on to its
/// next await: it is not polled past it.
#[test]
fn a_task_aborts_itself() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let own: Rc<RefCell<Option<JoinHandle<()>>>> = Rc::default();
    let o = Rc::clone(&own);
    let h = reactor.handle();
    let reached = Rc::new(Cell::new(0u32));
    let r = Rc::clone(&reached);
    let task = reactor.spawn(async move {
        let (res, ()) = h.op(Nop).await;
        res.unwrap();
        o.borrow().as_ref().unwrap().abort();
        r.set(1);
        let _ = h.op(Nop).await;
        r.set(2);
    });
    *own.borrow_mut() = Some(task);
    reactor.run().unwrap();
    let mut task = own.borrow_mut().take().unwrap();
    assert!(task.is_finished());
    match poll_once(&mut task) {
        Poll::Ready(Err(e)) => assert!(e.is_aborted(), "{e:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        reached.get(),
        1,
        "not polled past the await after the abort"
    );
    assert_eq!(reactor.in_flight(), 0);
}

/// Aborting a task that finished keeps its output; a second abort changes
/// nothing either.
#[test]
fn abort_after_the_task_finished_keeps_the_output() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let mut task = reactor.spawn(async { 7u8 });
    uring_tests::run_for(&reactor, 1);
    assert!(task.is_finished());
    task.abort();
    task.abort();
    assert_eq!(poll_once(&mut task), Poll::Ready(Ok(7)));
    // Polled again: the output is gone.
    match poll_once(&mut task) {
        Poll::Ready(Err(e)) => assert!(e.is_taken(), "{e:?}"),
        other => panic!("{other:?}"),
    }
}

/// Dropping the handle detaches the task: it runs to its end.
#[test]
fn a_dropped_handle_lets_the_task_run_on() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let done = Rc::new(Cell::new(0u32));
    let d = Rc::clone(&done);
    drop(reactor.spawn(async move {
        for _ in 0..3 {
            let (r, ()) = h.op(Nop).await;
            r.unwrap();
            d.set(d.get() + 1);
        }
    }));
    reactor.run().unwrap();
    assert_eq!(done.get(), 3);
}

/// A shutdown drops a task that waits on a read: its handle, polled after
/// the reactor is gone, gives a dropped error; the read was cancelled
/// (bytes written afterwards stay in the pipe).
#[test]
fn a_shutdown_drops_a_waiting_task_and_its_handle_says_so() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (fds, dups, mut writers) = pipes(1);
    let h = reactor.handle();
    let fd = fds[0].clone();
    let mut task = reactor.spawn(async move {
        let (r, _) = h.op(Read::new(&fd, vec![0u8; 16], 0)).await;
        r
    });
    uring_tests::run_for(&reactor, 5);
    assert!(poll_once(&mut task).is_pending());
    drop(reactor);
    assert!(task.is_finished());
    match poll_once(&mut task) {
        Poll::Ready(Err(e)) => {
            assert!(e.is_dropped(), "{e:?}");
            assert_eq!(std::io::Error::from(e).kind(), std::io::ErrorKind::Other);
        }
        other => panic!("{other:?}"),
    }
    writers[0].write_all(b"kept").unwrap();
    assert_eq!(pipe_bytes(&dups[0]), b"kept");
}

/// A task spawned on a reactor that has shut down is dropped at once,
/// unpolled: its handle is finished, with a dropped error.
#[test]
fn a_task_spawned_after_the_shutdown_is_dropped_at_once() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    reactor.shutdown();
    let polled = Rc::new(Cell::new(false));
    let p = Rc::clone(&polled);
    let mut task = reactor.spawn(async move { p.set(true) });
    assert!(task.is_finished());
    match poll_once(&mut task) {
        Poll::Ready(Err(e)) => assert!(e.is_dropped(), "{e:?}"),
        other => panic!("{other:?}"),
    }
    assert!(!polled.get());
    assert_eq!(
        Rc::strong_count(&polled),
        1,
        "the task's future was dropped"
    );
}

/// A task that panics: the panic goes on out of the run that polled it,
/// and the task's handle gives a panic error.
#[test]
fn a_panicking_task_s_handle_gives_a_panic_error() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let mut task = reactor.spawn(async move {
        let (r, ()) = h.op(Nop).await;
        if r.unwrap() == 0 {
            panic!("the task's own panic");
        }
        5u32
    });
    let run = catch_unwind(AssertUnwindSafe(|| reactor.run()));
    let payload = run.unwrap_err();
    assert_eq!(
        payload.downcast_ref::<&str>().copied(),
        Some("the task's own panic")
    );
    match poll_once(&mut task) {
        Poll::Ready(Err(e)) => assert!(e.is_panic(), "{e:?}"),
        other => panic!("{other:?}"),
    }
    // The reactor goes on.
    let (r, ()) = reactor.run_until(reactor.op(Nop)).unwrap();
    assert_eq!(r.unwrap(), 0);
}

/// The handle of a task on a reactor that a tokio runtime drives is
/// awaited by a tokio task of the same thread.
#[test]
fn a_tokio_task_awaits_the_handle() {
    let _watch = watchdog();
    let rt = uring_tests::net::runtime();
    let local = tokio::task::LocalSet::new();
    let out = local.block_on(&rt, async {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let driver = tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let h2 = h.clone();
        let task = h.spawn(async move {
            let (r, ()) = h2.op(Timeout::new(Duration::from_millis(2))).await;
            r.unwrap_err().raw_os_error()
        });
        let out = tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the handle resolves");
        h.shutdown();
        driver.await.unwrap().unwrap();
        out
    });
    assert_eq!(out.unwrap(), Some(libc::ETIME));
}
