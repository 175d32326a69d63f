//! Attacks, from safe code, on the tokio driver of the event-loop layer
//! (`uring/src/reactor/tokio.rs`, the reap budget of
//! `uring/src/reactor/mod.rs`) and on the tokio traits of `uring::net`
//! (`uring/src/net/io_tokio.rs`), where the other tokio suites stop:
//!
//! - three reactors on one `LocalSet`, two of them on rings of an 8-entry
//!   CQ whose callbacks keep 32 NOP chains each going (every completion
//!   queues the next: the CQ overflows, completions are left after each
//!   reap's budget), and 300 chains each on `Reactor::new`'s rings: the
//!   third reactor's timeout, its awaited NOPs and tokio's own timer must
//!   still run soon, both spinners must progress, and every NOP queued
//!   must reach its callback once (a driver's poll once ran as many
//!   callbacks as its 128 rounds of 64 refills found, starving the rest
//!   for seconds; its rounds now share one budget of completions);
//! - a `LocalSet` and its runtime dropped, in both orders, with three
//!   driven reactors holding reads, timeouts and awaited futures: each
//!   callback once with `ECANCELED`, buffers intact, no read left in the
//!   kernel, and every descriptor (rings, wake-up eventfds, tokio's epoll)
//!   closed (counted in `/proc/self/fd`);
//! - a reactor dropped inside another reactor's callback and inside a
//!   tokio task: as a plain reactor whose ops were submitted, as a
//!   `TokioDriver` being driven by a task, with futures of it awaited in
//!   other tasks (they must resolve, not hang);
//! - a driver made by `into_tokio` inside one runtime and polled by
//!   another one on the same thread (the type cannot cross threads: it
//!   holds `Rc`s): its ops once never completed, with no error; the
//!   driver now registers the ring with the runtime that polls it;
//! - `tokio::io::copy_bidirectional` between two `uring::net` streams on
//!   one or two reactors, with one receive per read or a buffer ring, and
//!   a `LocalSet` dropped in the middle of one (a prefix reaches the peer,
//!   then the end of the stream; no descriptor is left);
//! - `AsyncRead` polled again and again after the end of the stream;
//! - a `Handle` kept past its driven reactor (it keeps the ring's and the
//!   eventfd's descriptors until it goes).
//!
//! Read against Linux 6.18: `io_uring/io_uring.c` (`io_uring_poll`: the
//! ring's descriptor polls readable while CQEs are posted or the overflow
//! bit is set; `io_cqring_overflow_flush`), `io_uring/cancel.c`
//! (`io_async_cancel`), `io_uring/poll.c` (a pipe read waits in an armed
//! poll; its removal is `ECANCELED` and consumes nothing),
//! `io_uring/timeout.c` (a timeout fires with `ETIME`),
//! `io_uring/nop.c`, `io_uring/net.c` (`io_recv`, `io_send`,
//! `io_shutdown`), `net/ipv4/tcp.c` (`tcp_recvmsg`: 0 again and again
//! after a FIN), and tokio 1.54's `AsyncFd` (a registration belongs to
//! the runtime whose I/O driver it was made in). Every test asserts
//! results, errnos, bytes, orders, counts or descriptors.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::{self, Read as _, Write as _};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Mutex;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::{LocalSet, spawn_local};
use uring::net::TcpStream;
use uring::reactor::ops::{Nop, Read, Timeout};
use uring::reactor::{Handle, Reactor, SharedFd, TokioDriver};
use uring_tests::net::eventually;
use uring_tests::net::{group_or_skip, runtime};
use uring_tests::reactor::{Spin, spin};
use uring_tests::reactor::{assert_no_read_left, pipes};
use uring_tests::{pattern, watchdog};

/// The tests count this process's descriptors: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The descriptors this process holds open.
fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The errno of a failed result, if it is one.
fn errno<T>(r: &io::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(io::Error::raw_os_error)
}

/// What callbacks saw: (which op, its errno or `None` for success, whether
/// its buffer came back whole with its canary bytes).
type Log = Rc<RefCell<Vec<(usize, Option<i32>, bool)>>>;

const CANARY: u8 = 0xA5;

/// Queues a read of `fd` into a 16-byte canary buffer whose callback logs
/// under `id`.
fn queue_read(h: &Handle, fd: &SharedFd, id: usize, log: &Log) {
    let log = Rc::clone(log);
    h.queue(Read::new(fd, vec![CANARY; 16], 0), move |r, buf| {
        let whole = buf.len() == 16 && buf.iter().all(|&b| b == CANARY);
        log.borrow_mut().push((id, errno(&r), whole));
    })
    .unwrap();
}

/// Awaits a read of `fd` into a canary buffer in a task of its own, which
/// logs what it got under `id`.
fn await_read(h: &Handle, fd: &SharedFd, id: usize, log: &Log) -> tokio::task::JoinHandle<()> {
    let (h, fd, log) = (h.clone(), fd.clone(), Rc::clone(log));
    spawn_local(async move {
        let (r, buf) = h.op(Read::new(&fd, vec![CANARY; 16], 0)).await;
        let whole = buf.len() == 16 && buf.iter().all(|&b| b == CANARY);
        log.borrow_mut().push((id, errno(&r), whole));
    })
}

/// Checks that `log` holds each of `ids` once, cancelled, buffer whole.
fn assert_each_cancelled_once(log: &Log, ids: impl IntoIterator<Item = usize>, what: &str) {
    let mut log = log.borrow().clone();
    log.sort();
    let want: Vec<_> = ids
        .into_iter()
        .map(|id| (id, Some(libc::ECANCELED), true))
        .collect();
    assert_eq!(
        log, want,
        "{what}: (op, errno, buffer whole) per completion"
    );
}

// ---------------------------------------------------------------------
// Several reactors on one LocalSet: fairness under completions left over.
// ---------------------------------------------------------------------

/// A reactor over a ring of 4 SQ and 8 CQ entries (the CQ overflows at
/// once under the chains below), set up as `Reactor::new`'s.
fn small_reactor() -> Reactor {
    let ring = Reactor::ring_builder().cq_entries(8).build(4).unwrap();
    Reactor::from_ring(ring).unwrap()
}

/// Two reactors whose callbacks keep `chains` NOP chains each going (every
/// completion queues the next) share one `LocalSet` with a third reactor
/// and with tokio's timer. Each driver yields to the runtime after 128
/// rounds, so: the third reactor's 20 ms timeout (`ETIME`) and the 200
/// NOPs awaited after it, and a 10 ms tokio sleep, must finish within a
/// second or two; each spinner must have run a thousand callbacks
/// meanwhile (neither starves the other); once stopped, every NOP queued
/// reached its callback exactly once, with 0.
fn spinners_share_a_local_set(make: fn() -> Reactor, chains: usize) -> Result<(), String> {
    let rt = runtime();
    LocalSet::new().block_on(&rt, async {
        let (a, b, c) = (make(), make(), Reactor::new().unwrap());
        let (ha, hb, hc) = (a.handle(), b.handle(), c.handle());
        let drivers = [
            spawn_local(a.into_tokio().unwrap()),
            spawn_local(b.into_tokio().unwrap()),
            spawn_local(c.into_tokio().unwrap()),
        ];
        let stop = Rc::new(Cell::new(false));
        let spins: Vec<Rc<Spin>> = [&ha, &hb]
            .into_iter()
            .map(|h| {
                Rc::new(Spin {
                    h: h.clone(),
                    stop: Rc::clone(&stop),
                    queued: Cell::new(0),
                    called: Cell::new(0),
                    failed: Cell::new(0),
                    until: Instant::now() + Duration::from_secs(4),
                })
            })
            .collect();
        for s in &spins {
            for _ in 0..chains {
                spin(s);
            }
        }
        let start = Instant::now();
        let timer = spawn_local(async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Instant::now()
        });
        let h = hc.clone();
        let work = spawn_local(async move {
            let (r, ()) = h.op(Timeout::new(Duration::from_millis(20))).await;
            assert_eq!(errno(&r), Some(libc::ETIME), "the third reactor's timeout");
            for _ in 0..200 {
                assert_eq!(h.op(Nop).await.0.unwrap(), 0);
            }
            Instant::now()
        });
        // The chains stop by themselves after 4 s: then the rest runs.
        let bound = Duration::from_secs(20);
        let timer_end = tokio::time::timeout(bound, timer)
            .await
            .expect("tokio's timer never ran")
            .unwrap();
        let work_end = tokio::time::timeout(bound, work)
            .await
            .expect("the third reactor never finished")
            .unwrap();
        let progress: Vec<u64> = spins.iter().map(|s| s.called.get()).collect();
        stop.set(true);
        assert!(
            eventually(Duration::from_secs(5), || ha.in_flight() == 0
                && hb.in_flight() == 0)
            .await,
            "the chains did not stop: {} and {} in flight",
            ha.in_flight(),
            hb.in_flight()
        );
        for h in [&ha, &hb, &hc] {
            h.shutdown();
        }
        for d in drivers {
            tokio::time::timeout(Duration::from_secs(5), d)
                .await
                .expect("a driver did not end after its shutdown")
                .unwrap()
                .unwrap();
        }
        for (i, s) in spins.iter().enumerate() {
            assert_eq!(
                s.failed.get(),
                0,
                "spinner {i}: NOPs that did not complete with 0"
            );
            assert_eq!(
                s.queued.get(),
                s.called.get(),
                "spinner {i}: NOPs queued against callbacks run"
            );
        }
        let mut starved = Vec::new();
        if timer_end - start >= Duration::from_secs(1) {
            starved.push(format!(
                "a 10 ms tokio sleep ended after {:?}",
                timer_end - start
            ));
        }
        if work_end - start >= Duration::from_secs(2) {
            starved.push(format!(
                "the third reactor's 20 ms timeout and 200 NOPs took {:?}",
                work_end - start
            ));
        }
        for (i, &n) in progress.iter().enumerate() {
            if n < 1000 {
                starved.push(format!(
                    "spinner {i} ran {n} callbacks meanwhile ({progress:?})"
                ));
            }
        }
        if starved.is_empty() {
            Ok(())
        } else {
            Err(format!("{chains} chains per spinner: {starved:?}"))
        }
    })
}

/// One chain per spinner, on rings of 4 SQ and 8 CQ entries: each round
/// of a spinner's driver runs one callback, and its 128 rounds bound it.
#[test]
fn one_chain_spinners_on_one_local_set_starve_neither_each_other_nor_a_third_nor_tokio() {
    let _serial = serial();
    let _watch = watchdog();
    spinners_share_a_local_set(small_reactor, 1).unwrap();
}

/// 32 chains per spinner on rings of 4 SQ and 8 CQ entries, and 300 on
/// `Reactor::new`'s ring (256 SQ entries): a callback's push into the
/// full SQ submits it, and the NOPs complete inside that submit, so a
/// reap always finds more. A driver's poll once bounded only its rounds
/// (128) and each round's reap its refills (64, of up to a CQ's worth of
/// completions each): a poll ran tens of thousands of callbacks or more,
/// and the `LocalSet`, polling the two spinners (which wake themselves) up
/// to 61 times per tick before the runtime looks at its timers and epoll,
/// ran nothing else until the chains stopped by themselves after 4 s (the
/// 300-chain case, without that stop, had let nothing run after 60 s).
/// Now the rounds of a poll share one budget of completions, and the
/// rest runs within the bounds.
#[test]
fn many_chain_spinners_at_a_full_cq_starve_neither_a_third_reactor_nor_tokio() {
    let _serial = serial();
    let _watch = watchdog();
    let default = || Reactor::new().unwrap();
    let starved: Vec<String> = [
        spinners_share_a_local_set(small_reactor, 32),
        spinners_share_a_local_set(default, 300),
    ]
    .into_iter()
    .filter_map(Result::err)
    .collect();
    assert!(starved.is_empty(), "{starved:#?}");
}

// ---------------------------------------------------------------------
// Runtimes and LocalSets dropped with ops in flight.
// ---------------------------------------------------------------------

/// Three reactors driven on one `LocalSet`, each with two reads of empty
/// pipes queued with callbacks, two more awaited by tasks and an hour's
/// timeout with a callback; then the `LocalSet` and the runtime are
/// dropped, in one order and the other, without any shutdown. Each
/// driver's drop shuts its reactor down: every callback runs once, with
/// `ECANCELED` (`io_async_cancel` removes the armed polls and the
/// timeout), the canary buffers come back untouched, a task's read, if
/// its task saw it, is cancelled too, no read is left in the kernel, and
/// every descriptor the runtime and the reactors opened (epoll, rings,
/// wake-up eventfds) is closed.
#[test]
fn local_sets_and_runtimes_dropped_with_three_driven_reactors_end_each_op_once_and_leak_no_fd() {
    let _serial = serial();
    let _watch = watchdog();
    for local_first in [true, false] {
        let (shared, dups, mut writers) = pipes(12);
        let base = fd_count();
        let rt = runtime();
        let local = LocalSet::new();
        let log: Log = Rc::default();
        let awaited: Log = Rc::default();
        let handles = local.block_on(&rt, async {
            let mut handles = Vec::new();
            for r in 0..3 {
                let reactor = Reactor::new().unwrap();
                let h = reactor.handle();
                spawn_local(reactor.into_tokio().unwrap());
                for k in 0..2 {
                    queue_read(&h, &shared[4 * r + k], 4 * r + k, &log);
                }
                for k in 2..4 {
                    await_read(&h, &shared[4 * r + k], 4 * r + k, &awaited);
                }
                let log = Rc::clone(&log);
                h.queue(Timeout::new(Duration::from_secs(3600)), move |r2, ()| {
                    log.borrow_mut().push((100 + r, errno(&r2), true));
                })
                .unwrap();
                handles.push(h);
            }
            let all = || handles.iter().all(|h| h.in_flight() == 5);
            assert!(
                eventually(Duration::from_secs(5), all).await,
                "ops never queued"
            );
            // Each driver reaches the kernel with what was queued.
            tokio::time::sleep(Duration::from_millis(20)).await;
            handles
        });
        if local_first {
            drop(local);
            drop(rt);
        } else {
            drop(rt);
            drop(local);
        }
        for (i, h) in handles.iter().enumerate() {
            assert!(h.is_shut_down(), "reactor {i} outlived its driver's drop");
            assert_eq!(h.in_flight(), 0, "reactor {i}: ops left in flight");
        }
        let what = if local_first {
            "LocalSet, then runtime"
        } else {
            "runtime, then LocalSet"
        };
        assert_each_cancelled_once(&log, [0, 1, 4, 5, 8, 9, 100, 101, 102], what);
        for &(id, e, whole) in awaited.borrow().iter() {
            assert_eq!(
                (e, whole),
                (Some(libc::ECANCELED), true),
                "{what}: awaited read {id}"
            );
        }
        assert_no_read_left(&dups, &mut writers);
        drop(handles);
        assert_eq!(fd_count(), base, "{what}: descriptors left open");
    }
}

// ---------------------------------------------------------------------
// Reactors dropped inside callbacks and tasks.
// ---------------------------------------------------------------------

/// A `TokioDriver` in a cell, polled by a task while it is there; taking
/// it out (and dropping it) elsewhere ends the driving.
type DriverCell = Rc<RefCell<Option<TokioDriver>>>;

fn drive_cell(cell: &DriverCell) -> tokio::task::JoinHandle<()> {
    let cell = Rc::clone(cell);
    spawn_local(std::future::poll_fn(move |cx| {
        let mut driver = cell.borrow_mut();
        match driver.as_mut() {
            None => Poll::Ready(()),
            Some(d) => match Pin::new(d).poll(cx) {
                Poll::Ready(r) => {
                    r.unwrap();
                    Poll::Ready(())
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }))
}

/// Where reactor B goes.
#[derive(Clone, Copy, Debug)]
enum Victim {
    /// A plain reactor whose ops were submitted by `Handle::submit`,
    /// dropped inside a callback of reactor A (driven by tokio).
    PlainInACallback,
    /// B's `TokioDriver`, being driven by a task, dropped inside a
    /// callback of reactor A.
    DriverInACallback,
    /// B's `TokioDriver`, being driven by a task, dropped by another
    /// tokio task.
    DriverInATask,
    /// A plain reactor, never driven, dropped by a tokio task.
    PlainInATask,
}

/// Reactor B holds two reads of empty pipes with callbacks and two awaited
/// by tasks, then is dropped where `Victim` says, while reactor A runs on
/// under tokio. B's drop cancels and waits for its ops right there: both
/// callbacks run once, inside the drop, with `ECANCELED`; the tasks
/// awaiting B's reads are woken and resolve with `ECANCELED` (none hangs);
/// buffers come back untouched; no read is left in the kernel; A still
/// serves an op afterwards; B's descriptors are closed.
#[test]
fn reactors_dropped_inside_another_reactor_s_callback_or_a_task_end_each_op_once() {
    let _serial = serial();
    let _watch = watchdog();
    for victim in [
        Victim::PlainInACallback,
        Victim::DriverInACallback,
        Victim::DriverInATask,
        Victim::PlainInATask,
    ] {
        let (shared, dups, mut writers) = pipes(4);
        let rt = runtime();
        let log: Log = Rc::default();
        let awaited: Log = Rc::default();
        LocalSet::new().block_on(&rt, async {
            let a = Reactor::new().unwrap();
            let ha = a.handle();
            let da = spawn_local(a.into_tokio().unwrap());
            let base = fd_count();
            let b = Reactor::new().unwrap();
            let hb = b.handle();
            for (k, fd) in shared.iter().enumerate().take(2) {
                queue_read(&hb, fd, k, &log);
            }
            let tasks: Vec<_> = (2..4)
                .map(|k| await_read(&hb, &shared[k], k, &awaited))
                .collect();
            // The tasks queue their reads.
            tokio::task::yield_now().await;
            assert_eq!(hb.in_flight(), 4, "{victim:?}: B's ops");
            let mut plain = None;
            let cell: DriverCell = Rc::default();
            let mut driving = None;
            match victim {
                Victim::PlainInACallback | Victim::PlainInATask => {
                    hb.submit().unwrap();
                    plain = Some(b);
                }
                Victim::DriverInACallback | Victim::DriverInATask => {
                    *cell.borrow_mut() = Some(b.into_tokio().unwrap());
                    driving = Some(drive_cell(&cell));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            assert_eq!(hb.in_flight(), 4, "{victim:?}: B's ops before the drop");
            let dropped_in_callback = Rc::new(Cell::new(None));
            match victim {
                Victim::PlainInACallback | Victim::DriverInACallback => {
                    let (cell, seen, log) = (
                        Rc::clone(&cell),
                        Rc::clone(&dropped_in_callback),
                        Rc::clone(&log),
                    );
                    ha.queue(Nop, move |r, ()| {
                        assert_eq!(r.unwrap(), 0);
                        drop(plain);
                        let driver = cell.borrow_mut().take();
                        drop(driver);
                        // B's callbacks ran inside the drop.
                        seen.set(Some(log.borrow().len()));
                    })
                    .unwrap();
                }
                Victim::DriverInATask | Victim::PlainInATask => {
                    let (cell, seen, log) = (
                        Rc::clone(&cell),
                        Rc::clone(&dropped_in_callback),
                        Rc::clone(&log),
                    );
                    spawn_local(async move {
                        drop(plain);
                        let driver = cell.borrow_mut().take();
                        drop(driver);
                        seen.set(Some(log.borrow().len()));
                    });
                }
            }
            let dropped = || dropped_in_callback.get().is_some();
            assert!(
                eventually(Duration::from_secs(5), dropped).await,
                "{victim:?}: B never dropped"
            );
            assert_eq!(
                dropped_in_callback.get(),
                Some(2),
                "{victim:?}: B's callbacks that ran inside its drop"
            );
            assert!(hb.is_shut_down(), "{victim:?}: B outlived its drop");
            for t in tasks {
                tokio::time::timeout(Duration::from_secs(5), t)
                    .await
                    .unwrap_or_else(|_| panic!("{victim:?}: a task awaiting B's read hangs"))
                    .unwrap();
            }
            if let Some(d) = driving {
                // Its task ended (woken by the shutdown, it found its cell
                // empty) or ends now.
                d.abort();
                let ended = tokio::time::timeout(Duration::from_secs(5), d).await;
                assert!(ended.is_ok(), "{victim:?}: the task that drove B");
            }
            assert!(hb.is_shut_down());
            // (A handle keeps the ring and its eventfd open, shut down.)
            drop(hb);
            assert_eq!(fd_count(), base, "{victim:?}: B's descriptors left open");
            let (r, ()) = ha.op(Nop).await;
            assert_eq!(r.unwrap(), 0, "{victim:?}: A after B's drop");
            ha.shutdown();
            da.await.unwrap().unwrap();
        });
        drop(rt);
        assert_each_cancelled_once(&log, [0, 1], &format!("{victim:?}: callbacks"));
        assert_each_cancelled_once(&awaited, [2, 3], &format!("{victim:?}: futures"));
        assert_no_read_left(&dups, &mut writers);
    }
}

// ---------------------------------------------------------------------
// A driver registered with one runtime, polled by another.
// ---------------------------------------------------------------------

/// `into_tokio` registers the ring's descriptor with the I/O driver of the
/// runtime it is called in (`AsyncFd::register_with_interest`). The
/// driver cannot move to another thread (it holds `Rc`s), but safe code
/// can poll it in another runtime on the same thread, while the first is
/// alive and idle. A NOP completes inside the driver's submit; a 20 ms
/// timeout's completion only makes the ring's descriptor readable, which
/// the first runtime's epoll alone heard (the future once never resolved,
/// with no error anywhere): the driver, polled by another runtime, now
/// registers the descriptor with it, and the timeout ends with `ETIME`.
#[test]
fn a_driver_polled_by_another_runtime_than_its_own_hears_its_completions() {
    let _serial = serial();
    let _watch = watchdog();
    let first = runtime();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let driver = {
        let _inside = first.enter();
        reactor.into_tokio().unwrap()
    };
    let second = runtime();
    let (nop, timed, ended) = LocalSet::new().block_on(&second, async {
        let d = spawn_local(driver);
        let (nop, ()) = h.op(Nop).await;
        let timed = tokio::time::timeout(
            Duration::from_secs(2),
            h.op(Timeout::new(Duration::from_millis(20))),
        )
        .await
        .map(|(r, ())| errno(&r));
        h.shutdown();
        let ended = tokio::time::timeout(Duration::from_secs(5), d).await;
        (nop, timed, ended.map(|j| j.map(|r| r.is_ok())))
    });
    drop(second);
    drop(first);
    assert_eq!(nop.unwrap(), 0, "a NOP, completed inside the submit");
    assert!(
        matches!(ended, Ok(Ok(_))),
        "the driver did not end: {ended:?}"
    );
    assert_eq!(
        timed,
        Ok(Some(libc::ETIME)),
        "a 20 ms timeout awaited through a driver polled by another runtime \
         (Err(Elapsed): a future that never resolved)"
    );
}

// ---------------------------------------------------------------------
// tokio's I/O traits of uring::net.
// ---------------------------------------------------------------------

/// A `uring::net` stream on `h` and the std peer connected to it.
fn connected_on(h: &Handle) -> (TcpStream, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let c = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (peer, _) = listener.accept().unwrap();
    (TcpStream::from_std(h, c), peer)
}

/// A std peer that writes `out` then shuts its write side, and reads until
/// the end of the stream, on two threads; joined, it gives what it read.
fn peer_thread(peer: std::net::TcpStream, out: Vec<u8>) -> std::thread::JoinHandle<Vec<u8>> {
    let mut writer = peer.try_clone().unwrap();
    let writing = std::thread::spawn(move || {
        writer.write_all(&out).unwrap();
        writer.shutdown(std::net::Shutdown::Write).unwrap();
    });
    std::thread::spawn(move || {
        let mut peer = peer;
        peer.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut got = Vec::new();
        peer.read_to_end(&mut got).unwrap();
        writing.join().unwrap();
        got
    })
}

/// `tokio::io::copy_bidirectional` between two `uring::net` streams, on
/// one reactor or on two driven by one `LocalSet`, reading with one
/// receive per read or through a buffer ring of 8 buffers of 4 KiB (which
/// runs dry: `ENOBUFS`, then a one-shot receive). Each std peer writes its
/// own pattern (1 MiB + 7 bytes one way, 300 KiB + 3 the other) and shuts
/// its write side: the proxy must pass each end of stream on as a write
/// shutdown (`io_shutdown`), return the byte counts both ways, and each
/// peer must read exactly the other's pattern, in order.
#[test]
fn copy_bidirectional_between_two_uring_streams_moves_every_byte_and_each_end() {
    let _serial = serial();
    let _watch = watchdog();
    const AB: usize = (1 << 20) + 7;
    const BA: usize = 300 * 1024 + 3;
    for (two, ring) in [(false, false), (true, false), (false, true), (true, true)] {
        let rt = runtime();
        let ok = LocalSet::new().block_on(&rt, async {
            let r1 = Reactor::new().unwrap();
            let r2 = Reactor::new().unwrap();
            let (h1, h2) = (r1.handle(), r2.handle());
            let hb = if two { h2.clone() } else { h1.clone() };
            let d1 = spawn_local(r1.into_tokio().unwrap());
            let d2 = spawn_local(r2.into_tokio().unwrap());
            let (mut a, pa) = connected_on(&h1);
            let (mut b, pb) = connected_on(&hb);
            if ring {
                let Some(g1) = group_or_skip(&h1, 1, 8, 4096) else {
                    return false;
                };
                let g2 = if two {
                    match group_or_skip(&hb, 1, 8, 4096) {
                        Some(g) => g,
                        None => return false,
                    }
                } else {
                    g1
                };
                a.set_read_ring(Some(g1));
                b.set_read_ring(Some(g2));
            }
            let ta = peer_thread(pa, pattern(AB, 11));
            let tb = peer_thread(pb, pattern(BA, 29));
            let copied = tokio::time::timeout(
                Duration::from_secs(30),
                tokio::io::copy_bidirectional(&mut a, &mut b),
            )
            .await
            .unwrap_or_else(|_| panic!("two={two} ring={ring}: the copy stalled"));
            assert_eq!(
                copied.unwrap(),
                (AB as u64, BA as u64),
                "two={two} ring={ring}: the counts"
            );
            drop((a, b));
            let got_a = tokio::task::spawn_blocking(move || ta.join().unwrap());
            let got_b = tokio::task::spawn_blocking(move || tb.join().unwrap());
            let (got_a, got_b) = (got_a.await.unwrap(), got_b.await.unwrap());
            assert!(
                got_b == pattern(AB, 11),
                "two={two} ring={ring}: a -> b ({} bytes)",
                got_b.len()
            );
            assert!(
                got_a == pattern(BA, 29),
                "two={two} ring={ring}: b -> a ({} bytes)",
                got_a.len()
            );
            h1.shutdown();
            h2.shutdown();
            d1.await.unwrap().unwrap();
            d2.await.unwrap().unwrap();
            true
        });
        if !ok {
            return;
        }
    }
}

/// `AsyncRead` polled five times after the peer's end of stream: each
/// read fills nothing (`tcp_recvmsg` returns 0 again and again after a
/// FIN) and leaves no receive in flight; the write side, still open,
/// then carries bytes to the peer, a flush with nothing written
/// completes, and a write of nothing sends nothing.
#[test]
fn async_reads_after_the_end_of_stream_keep_ending_and_leave_nothing_in_flight() {
    let _serial = serial();
    let _watch = watchdog();
    let rt = runtime();
    LocalSet::new().block_on(&rt, async {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let d = spawn_local(reactor.into_tokio().unwrap());
        let (mut stream, mut peer) = connected_on(&h);
        peer.write_all(b"last").unwrap();
        peer.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"last");
        for i in 0..5 {
            let mut buf = [0x77u8; 8];
            let n = AsyncReadExt::read(&mut stream, &mut buf).await.unwrap();
            assert_eq!((n, buf), (0, [0x77; 8]), "read {i} after the end");
            assert_eq!(h.in_flight(), 0, "read {i} after the end left a receive");
        }
        stream.flush().await.unwrap();
        assert_eq!(AsyncWriteExt::write(&mut stream, &[]).await.unwrap(), 0);
        AsyncWriteExt::write_all(&mut stream, b"answer")
            .await
            .unwrap();
        stream.flush().await.unwrap();
        AsyncWriteExt::shutdown(&mut stream).await.unwrap();
        let got = tokio::task::spawn_blocking(move || {
            peer.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut got = Vec::new();
            peer.read_to_end(&mut got).unwrap();
            got
        })
        .await
        .unwrap();
        assert_eq!(got, b"answer");
        drop(stream);
        h.shutdown();
        d.await.unwrap().unwrap();
    });
}

/// A `LocalSet` (then its runtime, or the other way round) dropped while a
/// task runs `copy_bidirectional` between two streams of two reactors,
/// its write side stuck on a peer that does not read yet: no panic, both
/// reactors shut down with nothing in flight, the peer that reads later
/// gets a prefix of what the other wrote, in order, then the end of the
/// stream (the stream's socket was closed, not leaked), and every
/// descriptor opened since is closed.
#[test]
fn a_local_set_dropped_mid_copy_bidirectional_closes_everything_and_sends_a_prefix() {
    let _serial = serial();
    let _watch = watchdog();
    const LEN: usize = 8 << 20;
    for local_first in [true, false] {
        let base = fd_count();
        let rt = runtime();
        let local = LocalSet::new();
        let want = pattern(LEN, 41);
        let (handles, pa, pb) = local.block_on(&rt, async {
            let (r1, r2) = (Reactor::new().unwrap(), Reactor::new().unwrap());
            let (h1, h2) = (r1.handle(), r2.handle());
            spawn_local(r1.into_tokio().unwrap());
            spawn_local(r2.into_tokio().unwrap());
            let (mut a, pa) = connected_on(&h1);
            let (mut b, pb) = connected_on(&h2);
            let mut writer = pa.try_clone().unwrap();
            let out = want.clone();
            let writing = std::thread::spawn(move || {
                // Fails once the proxy's stream is gone (reset).
                let _ = writer.write_all(&out);
            });
            let copied = Rc::new(Cell::new(false));
            let c = Rc::clone(&copied);
            spawn_local(async move {
                let _ = tokio::io::copy_bidirectional(&mut a, &mut b).await;
                c.set(true);
            });
            // The copy runs until `b`'s peer, which does not read, is full.
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert!(
                !copied.get(),
                "the copy ended with a peer that does not read"
            );
            ((h1, h2), (pa, writing), pb)
        });
        if local_first {
            drop(local);
            drop(rt);
        } else {
            drop(rt);
            drop(local);
        }
        let what = if local_first {
            "LocalSet, then runtime"
        } else {
            "runtime, then LocalSet"
        };
        for h in [&handles.0, &handles.1] {
            assert!(h.is_shut_down(), "{what}: a reactor outlived its driver");
            assert_eq!(h.in_flight(), 0, "{what}: ops left in flight");
        }
        drop(handles);
        let mut pb = pb;
        pb.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        let end = pb.read_to_end(&mut got);
        assert!(
            end.is_ok(),
            "{what}: the reading peer got {end:?}, not the end of the stream"
        );
        assert!(
            !got.is_empty(),
            "{what}: nothing was copied before the drop"
        );
        assert!(
            got[..] == want[..got.len()],
            "{what}: the {} bytes received are not a prefix of what was written",
            got.len()
        );
        let (pa, writing) = pa;
        drop(pa);
        writing.join().unwrap();
        drop(pb);
        assert_eq!(fd_count(), base, "{what}: descriptors left open");
    }
}

/// What a `Handle` kept past its reactor holds: the driver's drop (here
/// with the `LocalSet`'s) shuts the reactor down, but the ring's
/// descriptor and its wake-up eventfd (and the ring's mappings) stay open
/// until the last handle goes, as the `Rc` it shares keeps the core; ops
/// are refused meanwhile. Dropping that handle closes both.
#[test]
fn a_handle_kept_past_its_driven_reactor_keeps_two_descriptors_until_dropped() {
    let _serial = serial();
    let _watch = watchdog();
    let rt = runtime();
    let local = LocalSet::new();
    let base = fd_count();
    let h = local.block_on(&rt, async {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        spawn_local(reactor.into_tokio().unwrap());
        assert_eq!(h.op(Nop).await.0.unwrap(), 0);
        h
    });
    assert_eq!(
        fd_count(),
        base + 2,
        "the ring and its eventfd, while driven"
    );
    drop(local);
    assert!(h.is_shut_down());
    assert!(
        h.queue(Nop, |_, ()| {}).is_err(),
        "an op queued on a shut-down reactor"
    );
    assert_eq!(fd_count(), base + 2, "kept by the handle");
    drop(h);
    assert_eq!(fd_count(), base, "closed with the last handle");
    drop(rt);
}
