//! `Remote`: a reactor reached from other threads, as go-uring's reactor is
//! queued from any goroutine. Ops and closures sent from other threads run
//! on the reactor's thread, none lost or run twice; `run` serves remotes
//! until the last is dropped; a shut-down reactor refuses them, and what it
//! accepted before is run all the same.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use uring::Ring;
use uring::reactor::ops::{Accept, Nop, Timeout};
use uring::reactor::{OpId, Reactor, Remote, SharedFd};
use uring_tests::watchdog;

/// A reactor running on its own thread with `run`, and a remote to it.
fn serve(ring: impl FnOnce() -> Ring + Send + 'static) -> (Remote, thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    let server = thread::spawn(move || {
        let reactor = Reactor::from_ring(ring()).unwrap();
        tx.send(reactor.remote()).unwrap();
        reactor.run().unwrap();
    });
    (rx.recv().unwrap(), server)
}

const _: () = {
    const fn send_sync_clone<T: Send + Sync + Clone>() {}
    send_sync_clone::<Remote>();
    send_sync_clone::<OpId>();
};

#[test]
fn a_remote_queues_from_another_thread_and_the_callback_runs_on_the_reactor_thread() {
    let _watch = watchdog();
    let (remote, server) = serve(|| Ring::new(8).unwrap());
    let reactor_thread = server.thread().id();
    let (done, results) = mpsc::channel();
    remote
        .queue(Nop, move |result, ()| {
            done.send((result.unwrap(), thread::current().id()))
                .unwrap();
        })
        .unwrap();
    let (res, ran_on) = results.recv().unwrap();
    assert_eq!(res, 0);
    assert_eq!(ran_on, reactor_thread);
    assert_ne!(ran_on, thread::current().id());
    drop(remote);
    server.join().unwrap();
}

/// `run` returns once no op is in flight and the last remote (and each of
/// its clones) is gone, not before.
#[test]
fn run_serves_remotes_until_the_last_clone_is_dropped() {
    let _watch = watchdog();
    let (remote, server) = serve(|| Ring::new(8).unwrap());
    let second = remote.clone();
    drop(remote);
    thread::sleep(Duration::from_millis(50));
    assert!(
        !server.is_finished(),
        "run returned while a remote was alive"
    );
    let (done, results) = mpsc::channel();
    second
        .queue(Nop, move |result, ()| done.send(result.unwrap()).unwrap())
        .unwrap();
    assert_eq!(results.recv().unwrap(), 0);
    drop(second);
    server.join().unwrap();
}

/// Four threads send 2000 NOPs each through one 8-entry ring: every
/// callback runs once, with its own op's result.
#[test]
fn many_threads_send_many_ops_and_none_is_lost_or_repeated() {
    let _watch = watchdog();
    let (remote, server) = serve(|| Ring::new(8).unwrap());
    let (done, results) = mpsc::channel::<u64>();
    let senders: Vec<_> = (0..4u64)
        .map(|t| {
            let remote = remote.clone();
            let done = done.clone();
            thread::spawn(move || {
                for i in 0..2000u64 {
                    let done = done.clone();
                    let id = t << 32 | i;
                    remote
                        .queue(Nop, move |result, ()| {
                            assert_eq!(result.unwrap(), 0);
                            done.send(id).unwrap();
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    drop(done);
    for s in senders {
        s.join().unwrap();
    }
    drop(remote);
    let mut seen: HashMap<u64, u32> = HashMap::new();
    for id in results.iter() {
        *seen.entry(id).or_default() += 1;
    }
    server.join().unwrap();
    assert_eq!(seen.len(), 8000);
    assert!(seen.values().all(|&n| n == 1));
    // From one thread, in the order sent.
    for t in 0..4u64 {
        assert!((0..2000u64).all(|i| seen.contains_key(&(t << 32 | i))));
    }
}

/// Jobs from one thread run in the order they were sent.
#[test]
fn jobs_from_one_thread_run_in_order() {
    let _watch = watchdog();
    let (remote, server) = serve(|| Ring::new(8).unwrap());
    let (tx, rx) = mpsc::channel();
    for i in 0..500 {
        let tx = tx.clone();
        remote.execute(move |_| tx.send(i).unwrap()).unwrap();
    }
    drop(tx);
    drop(remote);
    let order: Vec<i32> = rx.iter().collect();
    server.join().unwrap();
    assert_eq!(order, (0..500).collect::<Vec<_>>());
}

/// go-uring's `TestCancelOperation`: an accept that no client answers,
/// cancelled from another thread by the id the reactor's thread sent back.
#[test]
fn a_remote_cancels_an_accept_by_its_id() {
    let _watch = watchdog();
    let (remote, server) = serve(|| Ring::new(8).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let (ids, id) = mpsc::channel();
    let (done, result) = mpsc::channel();
    remote
        .execute(move |h| {
            let fd = SharedFd::new(listener);
            let queued = h
                .queue(Accept::new(&fd), move |result, accepted| {
                    assert!(accepted.is_none());
                    done.send(result.map_err(|e| e.raw_os_error())).unwrap();
                })
                .unwrap();
            ids.send(queued).unwrap();
        })
        .unwrap();
    let id: OpId = id.recv().unwrap();
    let canceller = {
        let remote = remote.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            remote.cancel(id).unwrap();
        })
    };
    assert_eq!(result.recv().unwrap(), Err(Some(libc::ECANCELED)));
    canceller.join().unwrap();
    drop(remote);
    server.join().unwrap();
}

/// An id whose op has completed cancels nothing when a remote sends it,
/// though its slot holds a later op by then.
#[test]
fn a_stale_id_sent_by_a_remote_cancels_nothing() {
    let _watch = watchdog();
    let (remote, server) = serve(|| Ring::new(8).unwrap());
    let (tx, rx) = mpsc::channel();
    remote
        .execute(move |h| {
            let own = std::rc::Rc::new(std::cell::Cell::new(None::<OpId>));
            let (own2, h2) = (own.clone(), h.clone());
            let id = h
                .queue(Nop, move |r, ()| {
                    r.unwrap();
                    let stale = own2.get().unwrap();
                    // The callback's op takes the slot this NOP left.
                    let tx2 = tx.clone();
                    let later = h2
                        .queue(Timeout::new(Duration::from_millis(150)), move |r, ()| {
                            tx2.send(("timeout", r.unwrap_err().raw_os_error()))
                                .unwrap();
                        })
                        .unwrap();
                    tx.send(("same slot", Some((later.slot() == stale.slot()) as i32)))
                        .unwrap();
                    tx.send(("local cancel", Some(h2.cancel(stale).unwrap() as i32)))
                        .unwrap();
                    h2.remote().cancel(stale).unwrap();
                })
                .unwrap();
            own.set(Some(id));
        })
        .unwrap();
    let got: Vec<_> = rx.iter().take(3).collect();
    assert_eq!(
        got,
        [
            ("same slot", Some(1)),
            ("local cancel", Some(0)),
            ("timeout", Some(libc::ETIME))
        ]
    );
    drop(remote);
    server.join().unwrap();
}

/// go-uring's `TestExecuteWithDeadline`, queued from another thread.
#[test]
fn a_deadline_sent_by_a_remote_cancels_the_op_in_time() {
    let _watch = watchdog();
    let (remote, server) = serve(|| Ring::new(8).unwrap());
    let (done, result) = mpsc::channel();
    let start = Instant::now();
    remote
        .queue_with_deadline(
            Timeout::new(Duration::from_secs(30)),
            start + Duration::from_millis(100),
            move |r, ()| done.send(r.unwrap_err().raw_os_error()).unwrap(),
        )
        .unwrap();
    assert_eq!(result.recv().unwrap(), Some(libc::ECANCELED));
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(100), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    drop(remote);
    server.join().unwrap();
}

#[test]
fn a_remote_spawns_a_task_on_the_reactor_thread() {
    let _watch = watchdog();
    let (remote, server) = serve(|| Ring::new(8).unwrap());
    let reactor_thread = server.thread().id();
    let (done, ran) = mpsc::channel();
    remote
        .spawn(async move { done.send(thread::current().id()).unwrap() })
        .unwrap();
    assert_eq!(ran.recv().unwrap(), reactor_thread);
    drop(remote);
    server.join().unwrap();
}

/// A closure that counts how it ended: run, or dropped unrun.
struct Canary {
    ran: Arc<AtomicUsize>,
    dropped: Arc<AtomicUsize>,
}

impl Drop for Canary {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_shut_down_reactor_refuses_remotes_and_drops_their_closures_unrun() {
    let _watch = watchdog();
    let (remote, server) = serve(|| Ring::new(8).unwrap());
    remote.shutdown().unwrap();
    // `run` returns after the shutdown although the remote lives.
    server.join().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let canary = Canary {
        ran: ran.clone(),
        dropped: dropped.clone(),
    };
    let e = remote
        .execute(move |_| {
            canary.ran.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap_err();
    assert!(e.to_string().contains("shut down"), "{e}");
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert!(remote.queue(Nop, |_, ()| unreachable!()).is_err());
    assert!(remote.spawn(async { unreachable!() }).is_err());
    assert!(format!("{remote:?}").contains("shut_down: true"));
}

/// Ops a reactor accepted from remotes but had not yet queued when it was
/// dropped: each callback runs once, with the shutdown's error.
#[test]
fn ops_pending_when_the_reactor_is_dropped_get_their_callback_with_an_error() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let remote = reactor.remote();
    let (tx, rx) = mpsc::channel();
    let sender = thread::spawn(move || {
        for i in 0..3 {
            let tx = tx.clone();
            remote
                .queue(Nop, move |r, ()| {
                    tx.send((i, r.map_err(|e| e.to_string()))).unwrap()
                })
                .unwrap();
        }
        remote
    });
    let remote = sender.join().unwrap();
    drop(reactor);
    let got: Vec<_> = rx.try_iter().collect();
    assert_eq!(got.len(), 3, "{got:?}");
    for (n, (i, r)) in got.into_iter().enumerate() {
        assert_eq!(i, n);
        assert!(r.unwrap_err().contains("shut down"));
    }
    assert!(remote.execute(|_| unreachable!()).is_err());
}

/// A job that panics ends the run with its panic; the jobs sent after it
/// stay queued and run at the next run, once each.
#[test]
fn a_panicking_job_loses_no_other_job() {
    let _watch = watchdog();
    let reactor = Reactor::from_ring(Ring::new(8).unwrap()).unwrap();
    let remote = reactor.remote();
    let count = Arc::new(AtomicUsize::new(0));
    remote.execute(|_| panic!("a job's panic")).unwrap();
    for _ in 0..2 {
        let count = count.clone();
        remote
            .queue(Nop, move |r, ()| {
                r.unwrap();
                count.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
    }
    drop(remote);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reactor.run()));
    assert!(panicked.is_err());
    assert_eq!(count.load(Ordering::SeqCst), 0);
    reactor.run().unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 2);
    reactor.run().unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

/// A reactor driven by tokio runs what a remote sends: the remote wakes
/// its driver task.
#[test]
fn a_remote_wakes_the_tokio_driver() {
    let _watch = watchdog();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let count = Arc::new(AtomicUsize::new(0));
    local.block_on(&runtime, async {
        let reactor = Reactor::new().unwrap();
        let remote = reactor.remote();
        tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let c = count.clone();
        let sender = thread::spawn(move || {
            // Sent while the driver sleeps on the ring's descriptor.
            thread::sleep(Duration::from_millis(50));
            for _ in 0..10 {
                let c = c.clone();
                remote
                    .queue(Nop, move |r, ()| {
                        r.unwrap();
                        c.fetch_add(1, Ordering::SeqCst);
                    })
                    .unwrap();
            }
        });
        while count.load(Ordering::SeqCst) < 10 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        sender.join().unwrap();
    });
    assert_eq!(count.load(Ordering::SeqCst), 10);
}

/// `run_until` serves remotes while its future is pending, and ends when
/// a job sent by a remote wakes that future.
#[test]
fn run_until_serves_remotes_while_its_future_waits() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let remote = reactor.remote();
    let stop = Arc::new(Mutex::new((false, None::<Waker>)));
    let count = Arc::new(AtomicUsize::new(0));
    let (c, s) = (count.clone(), stop.clone());
    let sender = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        for _ in 0..100 {
            let c = c.clone();
            remote
                .queue(Nop, move |r, ()| {
                    r.unwrap();
                    c.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
        }
        remote
            .execute(move |_| {
                let mut stop = s.lock().unwrap();
                stop.0 = true;
                if let Some(w) = stop.1.take() {
                    w.wake();
                }
            })
            .unwrap();
        remote
    });
    reactor
        .run_until(std::future::poll_fn(|cx| {
            let mut stop = stop.lock().unwrap();
            if stop.0 {
                Poll::Ready(())
            } else {
                stop.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }))
        .unwrap();
    let remote = sender.join().unwrap();
    drop(remote);
    reactor.run().unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 100);
}

/// A remote used on the reactor's own thread: what it sends waits for the
/// next run, which serves it (this one runs under memcheck too).
#[test]
fn a_remote_on_the_reactor_s_own_thread_is_served_by_the_next_run() {
    let _watch = watchdog();
    let reactor = Reactor::from_ring(Ring::new(4).unwrap()).unwrap();
    let remote = reactor.remote();
    let log = Arc::new(Mutex::new(Vec::new()));
    for i in 0..20 {
        let log = log.clone();
        remote
            .queue(Nop, move |r, ()| log.lock().unwrap().push((i, r.unwrap())))
            .unwrap();
    }
    let l = log.clone();
    remote
        .spawn(async move { l.lock().unwrap().push((100, 0)) })
        .unwrap();
    let (tx, rx) = mpsc::channel();
    remote
        .execute(move |h| {
            let id = h.queue(Timeout::new(Duration::from_secs(30)), |_, ()| {});
            tx.send(id.unwrap()).unwrap();
        })
        .unwrap();
    assert!(log.lock().unwrap().is_empty(), "ran before the reactor did");
    assert_eq!(reactor.in_flight(), 0);
    // Cancels the timeout once the execute above has queued it.
    let cancel = remote.clone();
    remote
        .execute(move |_| cancel.cancel(rx.recv().unwrap()).unwrap())
        .unwrap();
    drop(remote);
    let start = Instant::now();
    reactor.run().unwrap();
    assert!(start.elapsed() < Duration::from_secs(20));
    let mut got = log.lock().unwrap().clone();
    got.sort();
    let mut want: Vec<_> = (0..20).map(|i| (i, 0)).collect();
    want.push((100, 0));
    assert_eq!(got, want);
    assert_eq!(reactor.in_flight(), 0);
}

/// The last remote dropped at any moment of the reactor's loop, also
/// between its look at the remotes and its wait: the run ends (a wait
/// entered after that look had nothing left to end it).
#[test]
fn run_ends_whenever_the_last_remote_goes() {
    let _watch = watchdog();
    for round in 0..400 {
        let (remote, server) = serve(|| Ring::new(4).unwrap());
        match round % 4 {
            0 => {}
            1 => thread::yield_now(),
            2 => remote.execute(|_| {}).unwrap(),
            _ => thread::sleep(Duration::from_micros(50)),
        }
        drop(remote);
        server.join().unwrap();
    }
}

/// A `Remote` that queues an op and is dropped at once, while `run` serves
/// nothing else: the run must take the op, run it and call its callback
/// before it returns. The last remote's job is in the inbox before its
/// drop takes the count of remotes to zero, so a run that sees no remote
/// left must also look for that job: one that looked for jobs first and
/// for remotes after returned in between, with the job still queued, whose
/// callback then ran only when the reactor was dropped. A reactor that
/// waits in 10 ms slices (its ring refusing its wake-up poll) under
/// valgrind's one thread at a time hit that window; here the race is run
/// 1000 times with the sender started at every point of the reactor's
/// loop. (Not under valgrind: the sender cannot run while the reactor
/// waits in `io_uring_enter`.)
#[test]
fn run_takes_the_job_of_a_last_remote_dropped_right_after_sending_it() {
    let _watch = watchdog();
    let reactor = Reactor::new().expect("a reactor");
    for round in 0..1000u32 {
        let remote = reactor.remote();
        let ran = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&ran);
        let spin = round % 64;
        let sender = thread::spawn(move || {
            for _ in 0..spin * 20 {
                std::hint::spin_loop();
            }
            remote
                .queue(Nop, move |r, ()| {
                    assert_eq!(r.unwrap(), 0);
                    seen.fetch_add(1, Ordering::SeqCst);
                })
                .expect("the reactor takes the op");
            drop(remote);
        });
        reactor.run().expect("the run");
        sender.join().unwrap();
        assert_eq!(
            ran.load(Ordering::SeqCst),
            1,
            "round {round}: run returned before the callback of the op the last remote sent"
        );
    }
}

/// What a `RemoteOpId` cancels: the op it was returned for, from a thread
/// other than the one that queued it (a 30 s timeout, and one with a
/// deadline 30 s away, end with `ECANCELED` at once); once its op has
/// completed, nothing (a later op queued through the same remote runs to
/// its end); nor, sent to another reactor's remote, that reactor's op.
#[test]
fn a_remote_op_id_cancels_its_own_op_from_any_thread_and_nothing_else() {
    let _watch = watchdog();
    let (remote, server) = serve(|| Ring::new(8).unwrap());
    let (other, other_server) = serve(|| Ring::new(8).unwrap());
    let (tx, results) = mpsc::channel();
    let done = |what: &'static str| {
        let tx = tx.clone();
        move |r: std::io::Result<u32>, ()| tx.send((what, r.map_err(|e| e.raw_os_error()))).unwrap()
    };
    let start = Instant::now();
    let long = remote
        .queue(Timeout::new(Duration::from_secs(30)), done("long"))
        .unwrap();
    let far = remote
        .queue_with_deadline(
            Timeout::new(Duration::from_secs(60)),
            start + Duration::from_secs(30),
            done("deadline"),
        )
        .unwrap();
    assert_ne!(long, far);
    // Cancelled from a third thread.
    let canceller = remote.clone();
    thread::spawn(move || {
        canceller.cancel_queued(long).unwrap();
        canceller.cancel_queued(far).unwrap();
    })
    .join()
    .unwrap();
    let mut got = vec![results.recv().unwrap(), results.recv().unwrap()];
    got.sort();
    assert_eq!(
        got,
        [
            ("deadline", Err(Some(libc::ECANCELED))),
            ("long", Err(Some(libc::ECANCELED)))
        ]
    );
    assert!(start.elapsed() < Duration::from_secs(20));
    // A completed op's id: a NOP, then a short timeout that must run out.
    let nop = remote.queue(Nop, done("nop")).unwrap();
    assert_eq!(results.recv().unwrap(), ("nop", Ok(0)));
    let short = remote
        .queue(Timeout::new(Duration::from_millis(200)), done("short"))
        .unwrap();
    remote.cancel_queued(nop).unwrap();
    remote.cancel_queued(long).unwrap();
    // The other reactor's op, and this reactor's ids sent to it.
    let theirs = other
        .queue(Timeout::new(Duration::from_millis(200)), done("theirs"))
        .unwrap();
    other.cancel_queued(short).unwrap();
    remote.cancel_queued(theirs).unwrap();
    let mut got = vec![results.recv().unwrap(), results.recv().unwrap()];
    got.sort();
    assert_eq!(
        got,
        [
            ("short", Err(Some(libc::ETIME))),
            ("theirs", Err(Some(libc::ETIME)))
        ],
        "ran to their ends"
    );
    drop((remote, other));
    server.join().unwrap();
    other_server.join().unwrap();
    assert!(results.try_recv().is_err(), "a callback ran twice");
}
