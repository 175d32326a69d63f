//! `Handle::spawn_blocking`: functions run on the process's blocking pool
//! and awaited by the reactor's tasks (or joined, or awaited by tokio):
//! outputs, panics caught as `JoinError`s, jobs running at once on as many
//! threads as they need, aborts of running jobs, jobs outliving their
//! reactor, and jobs queued from inside tasks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use uring::reactor::Reactor;
use uring::reactor::ops::Nop;
use uring_tests::watchdog;

/// A job's output comes back to the task that awaits it; the job ran on a
/// thread of the pool, not the reactor's.
#[test]
fn a_job_s_output_comes_back_from_a_pool_thread() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let me = std::thread::current().id();
    let job = reactor
        .spawn_blocking(move || {
            let t = std::thread::current();
            (t.id() != me, t.name().map(str::to_owned), 6 * 7)
        })
        .unwrap();
    let (elsewhere, name, value) = reactor.run_until(job).unwrap().unwrap();
    assert!(elsewhere, "the job ran on the reactor's thread");
    assert_eq!(name.as_deref(), Some("uring-blocking"));
    assert_eq!(value, 42);
}

/// A job that panics resolves to a panicked `JoinError`; the panic goes no
/// further: the reactor runs on, and its other tasks and ops are served.
#[test]
fn a_panicking_job_is_a_join_error_and_nothing_else() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let bad = reactor
        .spawn_blocking(|| -> u32 { panic!("the job's own panic") })
        .unwrap();
    let good = reactor.spawn_blocking(|| 5u32).unwrap();
    let (bad, good, nop) = reactor
        .run_until(async move {
            let bad = bad.await;
            let good = good.await;
            let (nop, ()) = h.op(Nop).await;
            (bad, good, nop)
        })
        .unwrap();
    let e = bad.unwrap_err();
    assert!(e.is_panic(), "{e}");
    assert!(!e.is_aborted() && !e.is_dropped());
    assert_eq!(good.unwrap(), 5);
    assert_eq!(nop.unwrap(), 0);
}

/// Sixteen jobs that each wait for all sixteen at a barrier: they end only
/// if the pool runs them at once, on sixteen threads.
#[test]
fn sixteen_jobs_that_wait_for_each_other_run_at_once() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let barrier = Arc::new(Barrier::new(16));
    let jobs: Vec<_> = (0..16u32)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            reactor
                .spawn_blocking(move || {
                    barrier.wait();
                    i
                })
                .unwrap()
        })
        .collect();
    let got = reactor
        .run_until(async move {
            let mut got = Vec::new();
            for job in jobs {
                got.push(job.await.unwrap());
            }
            got
        })
        .unwrap();
    assert_eq!(got, (0..16).collect::<Vec<_>>());
}

/// A job aborted while it runs runs to its end; its output is dropped
/// (once), and the handle then resolves as aborted. A job that finished
/// before the abort keeps its output.
#[test]
fn an_aborted_running_job_ends_and_drops_its_output_once() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let (started_tx, started_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let d = Arc::clone(&drops);
    let job = reactor
        .spawn_blocking(move || {
            started_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            uring_tests::Counted(d)
        })
        .unwrap();
    started_rx.recv().unwrap();
    job.abort();
    assert!(!job.is_finished(), "a running job ended at its abort");
    go_tx.send(()).unwrap();
    let e = job.join().unwrap_err();
    assert!(e.is_aborted(), "{e}");
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the output was not dropped once"
    );

    let done = reactor.spawn_blocking(|| 9u8).unwrap();
    while !done.is_finished() {
        std::thread::sleep(Duration::from_millis(1));
    }
    done.abort();
    assert_eq!(
        done.join().unwrap(),
        9,
        "an abort after the end took the output"
    );
}

/// `join` on the reactor's own thread waits for a blocking job (which runs
/// elsewhere) rather than refusing as it does for a task of the reactor.
#[test]
fn a_blocking_job_joins_on_the_reactor_s_own_thread() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let job = reactor
        .spawn_blocking(|| {
            std::thread::sleep(Duration::from_millis(20));
            "slept"
        })
        .unwrap();
    assert_eq!(job.join().unwrap(), "slept");
}

/// A job outlives the reactor that spawned it: dropped meanwhile, the
/// reactor does not wait for it, and the job's output is still joined.
#[test]
fn a_job_outlives_its_reactor() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let job = reactor
        .spawn_blocking(move || {
            go_rx.recv().unwrap();
            vec![1u8, 2, 3]
        })
        .unwrap();
    drop(reactor);
    go_tx.send(()).unwrap();
    assert_eq!(job.join().unwrap(), [1, 2, 3]);
}

/// Tasks spawn jobs and await them, and jobs' outputs feed ops; a tokio
/// runtime on another thread awaits a job of the reactor's too.
#[test]
fn tasks_queue_jobs_and_tokio_awaits_one() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let total = reactor
        .run_until(async move {
            let mut total = 0u64;
            for i in 0..50u64 {
                let job = h.spawn_blocking(move || i * 2).unwrap();
                total += job.await.unwrap();
                let (r, ()) = h.op(Nop).await;
                r.unwrap();
            }
            total
        })
        .unwrap();
    assert_eq!(total, (0..50u64).map(|i| i * 2).sum::<u64>());

    let job = reactor
        .spawn_blocking(|| String::from("for tokio"))
        .unwrap();
    let got = std::thread::spawn(move || uring_tests::net::runtime().block_on(job))
        .join()
        .unwrap();
    assert_eq!(got.unwrap(), "for tokio");
}
