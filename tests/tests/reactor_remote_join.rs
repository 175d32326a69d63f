//! The [`RemoteJoinHandle`] of `Remote::spawn` and `Remote::spawn_with`: a
//! task spawned from another thread gives its output back to that thread
//! (waited for by `join`, or awaited by a tokio runtime there); a task
//! made on the reactor's thread uses the reactor's handle and a
//! descriptor made there; an abort from another thread drops the task on
//! the reactor's thread and cancels its read (bytes written after stay in
//! the pipe); a task the reactor never ran (shut down first) or whose
//! maker panicked resolves to the error that says so; `join` on the
//! reactor's own thread refuses to wait for ever; outputs never taken are
//! dropped once; many threads spawning at once lose nothing.

use std::io::Write as _;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use uring::reactor::ops::{Nop, Read};
use uring::reactor::{Reactor, Remote, RemoteJoinHandle, SharedFd};
use uring_tests::reactor::pipe_bytes;
use uring_tests::{pipe, watchdog};

const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<RemoteJoinHandle<u32>>();
    send_sync::<RemoteJoinHandle<Vec<u8>>>();
};

/// A reactor running `run` on its own thread, and a remote to it.
fn serve() -> (Remote, thread::JoinHandle<std::io::Result<()>>) {
    let (tx, rx) = mpsc::channel();
    let server = thread::spawn(move || {
        let reactor = Reactor::new()?;
        tx.send(reactor.remote()).unwrap();
        reactor.run()
    });
    (rx.recv().unwrap(), server)
}

/// A `Send` task's output comes back to the thread that spawned it, and
/// the task ran on the reactor's thread.
#[test]
fn a_remote_spawn_gives_its_output_to_the_spawning_thread() {
    let _watch = watchdog();
    let (remote, server) = serve();
    let reactor_thread = server.thread().id();
    let task = remote
        .spawn(async move { (thread::current().id(), String::from("out")) })
        .unwrap();
    let (ran_on, out) = task.join().unwrap();
    assert_eq!(ran_on, reactor_thread);
    assert_eq!(out, "out");
    drop(remote);
    server.join().unwrap().unwrap();
}

/// `spawn_with` makes the future on the reactor's thread, where it holds
/// the reactor's handle and a `SharedFd`: a read of a pipe gives the bytes
/// written from the spawning thread, awaited there by a tokio runtime.
#[test]
fn spawn_with_reads_a_pipe_through_the_reactor_and_a_tokio_runtime_awaits_it() {
    let _watch = watchdog();
    let (remote, server) = serve();
    let (reader, writer) = pipe();
    let task = remote
        .spawn_with(move |h| {
            let h = h.clone();
            let fd = SharedFd::new(reader);
            async move {
                let (n, ()) = h.op(Nop).await;
                let (r, buf) = h.op(Read::new(&fd, vec![0u8; 64], 0)).await;
                (n.unwrap(), r.map(|n| buf[..n as usize].to_vec()))
            }
        })
        .unwrap();
    std::fs::File::from(writer.try_clone().unwrap())
        .write_all(b"through the ring")
        .unwrap();
    let runtime = uring_tests::net::runtime();
    let (nop, read) = runtime.block_on(task).unwrap();
    assert_eq!(nop, 0);
    assert_eq!(read.unwrap(), b"through the ring");
    drop(writer);
    drop(remote);
    server.join().unwrap().unwrap();
}

/// An abort from the spawning thread drops the task on the reactor's
/// thread while its read waits on an empty pipe: the handle says aborted,
/// the task is not polled past its read, the read is cancelled, and bytes
/// written afterwards stay in the pipe.
#[test]
fn an_abort_from_another_thread_cancels_the_task_s_read() {
    let _watch = watchdog();
    let (remote, server) = serve();
    let (reader, writer) = pipe();
    let probe = reader.try_clone().unwrap();
    let (started, waiting) = mpsc::channel();
    let past_read = Arc::new(AtomicUsize::new(0));
    let past = Arc::clone(&past_read);
    let task = remote
        .spawn_with(move |h| {
            let h = h.clone();
            let fd = SharedFd::new(reader);
            async move {
                let read = h.op(Read::new(&fd, vec![0u8; 64], 0));
                started.send(()).unwrap();
                let (r, _buf) = read.await;
                past.fetch_add(1, Ordering::SeqCst);
                r
            }
        })
        .unwrap();
    waiting.recv().unwrap();
    task.abort();
    let err = task.join().unwrap_err();
    assert!(err.is_aborted(), "{err:?}");
    assert!(!err.is_dropped() && !err.is_panic() && !err.is_taken());
    assert_eq!(past_read.load(Ordering::SeqCst), 0);
    wait_idle(&remote);
    std::fs::File::from(writer)
        .write_all(b"after the abort")
        .unwrap();
    // A read left in the kernel would take these bytes within a round.
    wait_idle(&remote);
    assert_eq!(pipe_bytes(&probe), b"after the abort");
    drop(remote);
    server.join().unwrap().unwrap();
}

/// Waits until the reactor behind `remote` has no op in flight.
fn wait_idle(remote: &Remote) {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let (tx, rx) = mpsc::channel();
        remote
            .execute(move |h| tx.send(h.in_flight()).unwrap())
            .unwrap();
        if rx.recv().unwrap() == 0 {
            return;
        }
        assert!(Instant::now() < end, "ops stayed in flight");
        thread::sleep(Duration::from_millis(1));
    }
}

/// A task aborted before the reactor ever polled it (its reactor not yet
/// running) is dropped at its first poll, unpolled.
#[test]
fn a_task_aborted_before_its_reactor_runs_is_never_polled() {
    let _watch = watchdog();
    let (tx, rx) = mpsc::channel();
    let (go, gate) = mpsc::channel::<()>();
    let server = thread::spawn(move || {
        let reactor = Reactor::new().unwrap();
        tx.send(reactor.remote()).unwrap();
        gate.recv().unwrap();
        reactor.run().unwrap();
    });
    let remote = rx.recv().unwrap();
    let polled = Arc::new(AtomicUsize::new(0));
    let p = Arc::clone(&polled);
    let task = remote
        .spawn(async move {
            p.fetch_add(1, Ordering::SeqCst);
            7u32
        })
        .unwrap();
    task.abort();
    assert!(!task.is_finished(), "ended on the reactor's thread, later");
    go.send(()).unwrap();
    let err = task.join().unwrap_err();
    assert!(err.is_aborted(), "{err:?}");
    assert_eq!(polled.load(Ordering::SeqCst), 0);
    drop(remote);
    server.join().unwrap();
}

/// A task the reactor accepted but never ran, because it was dropped
/// without running, resolves to a dropped error; its maker is never asked
/// for a future it cannot poll, or is and its task is dropped unpolled.
#[test]
fn a_task_of_a_reactor_dropped_unrun_resolves_as_dropped() {
    let _watch = watchdog();
    let (tx, rx) = mpsc::channel();
    let (go, gate) = mpsc::channel::<()>();
    let server = thread::spawn(move || {
        let reactor = Reactor::new().unwrap();
        tx.send(reactor.remote()).unwrap();
        gate.recv().unwrap();
        drop(reactor);
    });
    let remote = rx.recv().unwrap();
    let polled = Arc::new(AtomicUsize::new(0));
    let (p, q) = (Arc::clone(&polled), Arc::clone(&polled));
    let plain = remote
        .spawn(async move { p.fetch_add(1, Ordering::SeqCst) })
        .unwrap();
    let made = remote
        .spawn_with(move |_| async move { q.fetch_add(1, Ordering::SeqCst) })
        .unwrap();
    go.send(()).unwrap();
    server.join().unwrap();
    let err = plain.join().unwrap_err();
    assert!(err.is_dropped(), "{err:?}");
    let err = made.join().unwrap_err();
    assert!(err.is_dropped(), "{err:?}");
    assert_eq!(polled.load(Ordering::SeqCst), 0);
    // Shut down: spawns are refused, and the refused future is dropped
    // here, unpolled.
    let dropped_on = Arc::new(std::sync::Mutex::new(None));
    struct Guard(Arc<std::sync::Mutex<Option<thread::ThreadId>>>);
    impl Drop for Guard {
        fn drop(&mut self) {
            *self.0.lock().unwrap() = Some(thread::current().id());
        }
    }
    let guard = Guard(Arc::clone(&dropped_on));
    assert!(
        remote
            .spawn(async move {
                drop(guard);
            })
            .is_err()
    );
    assert_eq!(*dropped_on.lock().unwrap(), Some(thread::current().id()));
    assert!(remote.spawn_with(|_| async {}).is_err());
}

/// A maker that panics: the handle says panicked, and the panic goes on
/// out of the reactor's run, on its thread.
#[test]
fn a_panicking_maker_resolves_as_panicked_and_unwinds_the_reactor_s_run() {
    let _watch = watchdog();
    let (tx, rx) = mpsc::channel();
    let server = thread::spawn(move || {
        let reactor = Reactor::new().unwrap();
        tx.send(reactor.remote()).unwrap();
        let _ = reactor.run();
    });
    let remote = rx.recv().unwrap();
    let task = remote
        .spawn_with(|_| -> std::future::Ready<u32> { panic!("the maker panics") })
        .unwrap();
    let err = task.join().unwrap_err();
    assert!(err.is_panic(), "{err:?}");
    let panic = server.join().unwrap_err();
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"the maker panics"));
}

/// `join` on the reactor's own thread, before the task ended, gives a
/// would-block error at once rather than waiting for ever; once the task
/// ended, it gives the output there too.
#[test]
fn join_on_the_reactor_s_own_thread_refuses_to_wait() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let remote = reactor.remote();
    let task = remote.spawn(async { 5u8 }).unwrap();
    let err = task.join().unwrap_err();
    assert!(err.is_would_block(), "{err:?}");
    assert!(!err.is_aborted() && !err.is_dropped() && !err.is_panic() && !err.is_taken());
    assert!(err.to_string().contains("own thread"), "{err}");
    let task = remote.spawn(async { 6u8 }).unwrap();
    let h = reactor.handle();
    // Rounds of the reactor run the inbox (which spawns the task), then
    // the task.
    for _ in 0..100 {
        if task.is_finished() {
            break;
        }
        let h = h.clone();
        reactor
            .run_until(async move { h.op(Nop).await.0.unwrap() })
            .unwrap();
    }
    assert!(task.is_finished());
    assert_eq!(task.join().unwrap(), 6);
}

/// An output nobody takes (the handle dropped, or kept but never polled)
/// is dropped exactly once; one taken is dropped by its taker only; a
/// handle polled after its output gives a taken error.
#[test]
fn outputs_are_dropped_once_whoever_ends_last() {
    let _watch = watchdog();
    let drops = Arc::new(AtomicUsize::new(0));
    let (remote, server) = serve();
    let d = Arc::clone(&drops);
    drop(
        remote
            .spawn(async move { uring_tests::Counted(d) })
            .unwrap(),
    );
    let d = Arc::clone(&drops);
    let kept = remote
        .spawn(async move { uring_tests::Counted(d) })
        .unwrap();
    let d = Arc::clone(&drops);
    let mut taken = remote
        .spawn(async move { uring_tests::Counted(d) })
        .unwrap();
    let runtime = uring_tests::net::runtime();
    let out = runtime.block_on(&mut taken).unwrap();
    let again = runtime.block_on(&mut taken).unwrap_err();
    assert!(again.is_taken(), "{again:?}");
    wait_idle(&remote);
    // The detached one ended on the reactor's thread: its output went
    // with its state.
    let end = Instant::now() + Duration::from_secs(10);
    while !kept.is_finished() || drops.load(Ordering::SeqCst) < 1 {
        assert!(Instant::now() < end);
        thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    drop(kept);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    drop(out);
    assert_eq!(drops.load(Ordering::SeqCst), 3);
    drop(taken);
    assert_eq!(drops.load(Ordering::SeqCst), 3);
    drop(remote);
    server.join().unwrap().unwrap();
}

/// Four threads spawn 200 tasks each on one reactor, each task running a
/// NOP through the reactor: every output comes back to its own spawner,
/// once, and a handle moved to another thread is joined there.
#[test]
fn many_threads_spawning_at_once_get_each_their_own_outputs() {
    let _watch = watchdog();
    let (remote, server) = serve();
    let spawners: Vec<_> = (0..4u64)
        .map(|t| {
            let remote = remote.clone();
            thread::spawn(move || {
                let handles: Vec<_> = (0..200u64)
                    .map(|i| {
                        remote
                            .spawn_with(move |h| {
                                let h = h.clone();
                                async move { (h.op(Nop).await.0.unwrap(), t * 1000 + i) }
                            })
                            .unwrap()
                    })
                    .collect();
                // Joined on yet another thread.
                thread::spawn(move || {
                    handles
                        .into_iter()
                        .map(|h| h.join().unwrap())
                        .collect::<Vec<_>>()
                })
                .join()
                .unwrap()
            })
        })
        .collect();
    for (t, spawner) in spawners.into_iter().enumerate() {
        let outs = spawner.join().unwrap();
        let want: Vec<_> = (0..200u64).map(|i| (0, t as u64 * 1000 + i)).collect();
        assert_eq!(outs, want);
    }
    drop(remote);
    server.join().unwrap().unwrap();
}

/// An abort after the task finished keeps its output; `is_finished` turns
/// true once it ended.
#[test]
fn an_abort_after_the_task_finished_keeps_its_output() {
    let _watch = watchdog();
    let (remote, server) = serve();
    let task = remote.spawn(async { vec![1u8, 2, 3] }).unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    while !task.is_finished() {
        assert!(Instant::now() < end);
        thread::sleep(Duration::from_millis(1));
    }
    task.abort();
    assert_eq!(task.join().unwrap(), [1, 2, 3]);
    drop(remote);
    server.join().unwrap().unwrap();
}

/// A descriptor sent in the maker's closure is the task's: the reactor
/// closes it when the task drops its `SharedFd`, and not before.
#[test]
fn a_descriptor_moved_through_spawn_with_is_closed_with_its_task() {
    let _watch = watchdog();
    let (remote, server) = serve();
    let (reader, writer): (OwnedFd, OwnedFd) = pipe();
    let task = remote
        .spawn_with(move |h| {
            let h = h.clone();
            let fd = SharedFd::new(reader);
            async move {
                let (r, buf) = h.op(Read::new(&fd, vec![0u8; 8], 0)).await;
                r.map(|n| buf[..n as usize].to_vec())
            }
        })
        .unwrap();
    let mut file = std::fs::File::from(writer);
    file.write_all(b"x").unwrap();
    assert_eq!(task.join().unwrap().unwrap(), b"x");
    // The task (and its `SharedFd`) is gone: the read end is closed, so a
    // write to the pipe fails with EPIPE once the reactor dropped it.
    wait_idle(&remote);
    let err = file.write_all(b"y").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EPIPE));
    drop(remote);
    server.join().unwrap().unwrap();
}

/// Four threads spawn tasks that sleep a few hundred microseconds on the
/// reactor, abort every third one, and join them all, while a fifth shuts
/// the reactor down halfway: every handle resolves once, to its output,
/// an abort, or a drop by the shutdown (spawns refused after it), and
/// none hangs.
#[test]
fn spawns_aborts_and_joins_racing_a_shutdown_each_resolve_once() {
    let _watch = watchdog();
    let (remote, server) = serve();
    let outcomes: Vec<_> = (0..4u64)
        .map(|t| {
            let remote = remote.clone();
            thread::spawn(move || {
                let (mut ok, mut aborted, mut dropped, mut refused) = (0u32, 0u32, 0u32, 0u32);
                let mut handles = Vec::new();
                for i in 0..300u64 {
                    let made = remote.spawn_with(move |h| {
                        let h = h.clone();
                        async move {
                            h.sleep(Duration::from_micros(100 + (i % 7) * 50))
                                .await
                                .unwrap();
                            t * 1000 + i
                        }
                    });
                    match made {
                        Ok(handle) => {
                            if i % 3 == 0 {
                                handle.abort();
                            }
                            handles.push((i, handle));
                        }
                        Err(_) => refused += 1,
                    }
                }
                for (i, handle) in handles {
                    match handle.join() {
                        Ok(out) => {
                            assert_eq!(out, t * 1000 + i);
                            ok += 1;
                        }
                        Err(e) if e.is_aborted() => {
                            assert_eq!(i % 3, 0, "only aborted tasks say so");
                            aborted += 1;
                        }
                        Err(e) if e.is_dropped() => dropped += 1,
                        Err(e) => panic!("task {i}: {e:?}"),
                    }
                }
                (ok, aborted, dropped, refused)
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(5));
    // Refused once the reactor has shut down, which may already be so.
    let _ = remote.shutdown();
    let mut total = 0;
    for t in outcomes {
        let (ok, aborted, dropped, refused) = t.join().unwrap();
        total += ok + aborted + dropped + refused;
    }
    assert_eq!(total, 1200, "every spawn accounted for once");
    drop(remote);
    server.join().unwrap().unwrap();
}

/// A task whose maker never ran because another job's panic unwound the
/// reactor's thread first is dropped, not panicked: only its own maker's
/// panic says that.
#[test]
fn a_task_left_by_another_job_s_panic_resolves_as_dropped() {
    let _watch = watchdog();
    let (tx, rx) = mpsc::channel();
    let (go, gate) = mpsc::channel::<()>();
    let server = thread::spawn(move || {
        let reactor = Reactor::new().unwrap();
        tx.send(reactor.remote()).unwrap();
        gate.recv().unwrap();
        let _ = reactor.run();
    });
    let remote = rx.recv().unwrap();
    remote.execute(|_| panic!("another job panics")).unwrap();
    let made = Arc::new(AtomicUsize::new(0));
    let m = Arc::clone(&made);
    let task = remote
        .spawn_with(move |_| {
            m.fetch_add(1, Ordering::SeqCst);
            async { 1u8 }
        })
        .unwrap();
    go.send(()).unwrap();
    let panic = server.join().unwrap_err();
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"another job panics"));
    let err = task.join().unwrap_err();
    assert!(
        err.is_dropped(),
        "{err:?} (maker ran {} times)",
        made.load(Ordering::SeqCst)
    );
    assert!(!err.is_panic());
}
