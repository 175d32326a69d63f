//! The reactor's futures and executor under drops, wakes and shutdown,
//! attacked where the existing suites stop short: a read's future dropped
//! at each stage of its life (never polled, pending in the kernel,
//! completed but unseen, resolved) with the pipe's writer writing after
//! the drop and freshly allocated buffers of the same size watched for
//! stray writes; futures polled again after `Ready` (also those of a
//! shut-down reactor, and ended streams); futures that outlive their
//! reactor; a task, and the future of `run_until`, that panic while other
//! tasks hold ops; `run_until` with a future that stays pending while ops
//! complete (and after a remote shut the reactor down under it); tasks
//! spawned through a handle, a remote or a task's drop once the reactor
//! has shut down; remote jobs and task drops that panic during the
//! shutdown; tasks holding unseen open results at the drop; a deadline on
//! an open blocked in io-wq; and the drop of a reactor whose ring's task
//! may run one bounded io-wq worker, with an open blocked in that worker
//! and more queued behind it (also cancelled by dropping their futures).
//!
//! Read against Linux 6.18: `io_uring/cancel.c` (`io_async_cancel`,
//! `io_try_cancel`, which asks io-wq first), `io_uring/io-wq.c`
//! (`io_wq_cancel_cb`: pending work is removed and failed with
//! `-ECANCELED` by `io_wq_cancel_pending_work`, running work is signalled
//! by `io_wq_worker_cancel` through `__set_notify_signal`; workers are
//! named `iou-wrk-<tid of the submitter>`; `io_wq_max_workers`),
//! `io_uring/register.c` (`io_register_iowq_max_workers`, which stores the
//! limits in the ring for a task context made later), `io_uring/tctx.c`
//! (`__io_uring_add_tctx_node`, which applies them),
//! `io_uring/openclose.c` (`io_openat_force_async`: `O_CREAT` sends an open
//! to io-wq; it is bounded work, having no file), `fs/pipe.c`
//! (`fifo_open`, `wait_for_partner`, interruptible), `io_uring/poll.c`
//! (`io_poll_disarm`: a poll already woken cannot be cancelled, its task
//! work completes the read) and `io_uring/rw.c`.
//!
//! Every test is safe code against the running kernel and checks what the
//! kernel did: results, errnos, which bytes stayed in a pipe, when a
//! descriptor the op held came back.

use std::cell::Cell;
use std::future::Future;
use std::io::{self, Read as _, Write as _};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use uring::IoWqWorkers;
use uring::reactor::ops::{Nop, OpenAt, Read};
use uring::reactor::{Reactor, SharedFd};
use uring_tests::fifo::{has_reader as fifo_has_reader, my_workers, temp_fifo as fifo};
use uring_tests::reactor::drive_until;
use uring_tests::{poll_once, run_for, skip, watchdog};

/// The bytes a pipe's writer sends in these tests.
const DATA: &[u8] = b"abcdefgh";
/// The capacity of each read's buffer.
const CAP: usize = 16;
/// The byte the sprayed buffers are filled with.
const SPRAY: u8 = 0x5a;

/// A pipe whose read end is shared with the reactor's ops: `(read end as
/// a SharedFd, a second descriptor of the read end, the writer)`.
fn pipe() -> (SharedFd, std::fs::File, std::fs::File) {
    let (r, w) = uring_tests::pipe();
    let dup = r.try_clone().unwrap();
    (
        SharedFd::new(r),
        std::fs::File::from(dup),
        std::fs::File::from(w),
    )
}

/// A read of the whole pipe at the file position into a buffer of `CAP`.
fn read(fd: &SharedFd) -> Read<Vec<u8>> {
    Read::new(fd, Vec::with_capacity(CAP), u64::MAX)
}

/// Writes `bytes` then closes the writer, and reads what the pipe holds to
/// its end through the second descriptor (it does not block: no writer is
/// left).
fn left_in_pipe(mut dup: std::fs::File, mut writer: std::fs::File, bytes: &[u8]) -> Vec<u8> {
    if !bytes.is_empty() {
        writer.write_all(bytes).unwrap();
    }
    drop(writer);
    let mut got = Vec::new();
    dup.read_to_end(&mut got).unwrap();
    got
}

/// Buffers of the read's size, filled with `SPRAY`, allocated while a
/// dropped read may still be in the kernel: were its buffer freed early,
/// one of them could take its place and receive the pipe's bytes.
fn spray() -> Vec<Vec<u8>> {
    (0..64).map(|_| vec![SPRAY; CAP]).collect()
}

fn sprayed_intact(spray: &[Vec<u8>]) -> bool {
    spray
        .iter()
        .all(|b| b.len() == CAP && b.iter().all(|&x| x == SPRAY))
}

/// Hands the descriptor back if no op holds it any more.
fn sole(fd: SharedFd) -> Result<OwnedFd, SharedFd> {
    fd.try_unwrap()
}

/// A waker that counts its wakes.
#[derive(Default)]
struct Counting(AtomicUsize);

impl Wake for Counting {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn poll_with<F: Future + Unpin>(f: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(waker))
}

fn errno<T>(r: &io::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(io::Error::raw_os_error)
}

// ---------------------------------------------------------------------------
// A read's future dropped at each stage
// ---------------------------------------------------------------------------

/// Never polled: the read was pushed when the future was made, not yet
/// submitted. Its drop pushes a cancel behind it; both reach the kernel at
/// the next submit, and the read ends with nothing read. The op holds the
/// descriptor (and its buffer) until then, not after; the bytes written
/// after the drop all stay in the pipe, and buffers allocated meanwhile
/// are untouched.
#[test]
fn a_read_future_dropped_unpolled_reads_nothing_and_gives_its_descriptor_back_at_its_end() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (fd, dup, writer) = pipe();
    let f = reactor.op(read(&fd));
    assert!(f.id().is_some());
    assert_eq!(reactor.in_flight(), 1);
    drop(f);
    assert_eq!(
        reactor.in_flight(),
        1,
        "the op is the kernel's until its end"
    );
    let fd = sole(fd).expect_err("the dropped op's slot holds the descriptor");
    let spray = spray();
    reactor.run().unwrap();
    assert_eq!(reactor.in_flight(), 0);
    let owned = sole(fd).expect("the op still holds the descriptor after its end");
    assert!(sprayed_intact(&spray));
    assert_eq!(left_in_pipe(dup, writer, DATA), DATA);
    drop(owned);
}

/// Polled once and submitted: the read waits in the kernel (armed as a
/// poll on the pipe). The writer writes right after the drop, before the
/// cancel is submitted: the poll may have been woken already, and then the
/// cancel misses it (`io_poll_disarm` finds it owned: `-EALREADY`) and the
/// read completes with the bytes, which go with the dropped buffer; or the
/// cancel wins and every byte stays in the pipe. Never a part of them, and
/// no sprayed buffer receives any. The descriptor comes back at the op's
/// end.
#[test]
fn a_pending_read_future_dropped_before_its_writer_writes_takes_all_or_nothing() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let mut kept_all = 0;
    let mut took_all = 0;
    for _ in 0..50 {
        let (fd, dup, mut writer) = pipe();
        let mut f = reactor.op(read(&fd));
        assert!(poll_once(&mut f).is_pending());
        reactor.submit().unwrap();
        drop(f);
        let spray = spray();
        writer.write_all(DATA).unwrap();
        reactor.run().unwrap();
        assert_eq!(reactor.in_flight(), 0);
        let owned = sole(fd).expect("the op still holds the descriptor after its end");
        assert!(sprayed_intact(&spray), "a freed buffer took the bytes");
        let left = left_in_pipe(dup, writer, b"");
        if left == DATA {
            kept_all += 1;
        } else {
            assert_eq!(left, b"", "a part of the bytes was taken");
            took_all += 1;
        }
        drop(owned);
    }
    assert_eq!(kept_all + took_all, 50);
}

/// Completed but never polled again: the slot keeps the read's result and
/// buffer (and with it the descriptor) until the future is dropped, which
/// drops them at once. The bytes were taken by the read: the pipe is empty.
/// A cancel by its id, meanwhile, finds no op.
#[test]
fn a_read_future_dropped_after_its_completion_but_before_its_poll_frees_at_the_drop() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (fd, dup, mut writer) = pipe();
    let mut f = reactor.op(read(&fd));
    let id = f.id().unwrap();
    let counting = Arc::new(Counting::default());
    let waker = Waker::from(Arc::clone(&counting));
    assert!(poll_with(&mut f, &waker).is_pending());
    reactor.submit().unwrap();
    writer.write_all(DATA).unwrap();
    assert!(drive_until(&reactor, Duration::from_secs(5), || {
        reactor.in_flight() == 0
    }));
    assert_eq!(counting.0.load(Ordering::SeqCst), 1, "woken once");
    assert!(!reactor.cancel(id).unwrap(), "a completed op was cancelled");
    let fd = sole(fd).expect_err("the unseen result holds the descriptor");
    drop(f);
    let owned = sole(fd).expect("the dropped future's op kept the descriptor");
    assert_eq!(left_in_pipe(dup, writer, b""), b"");
    drop(owned);
}

/// Resolved: the output is handed out once; polled again the future stays
/// pending with any waker and is never woken, however long the reactor
/// runs and whatever the pipe receives; its drop then does nothing (the
/// bytes written after stay in the pipe, and the descriptor is free before
/// the drop already).
#[test]
fn a_resolved_read_future_polled_again_stays_pending_and_never_wakes() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (fd, dup, mut writer) = pipe();
    let mut f = reactor.op(read(&fd));
    writer.write_all(DATA).unwrap();
    let (r, buf) = reactor.run_until(&mut f).unwrap();
    assert_eq!(r.unwrap(), DATA.len() as u32);
    assert_eq!(buf, DATA);
    assert_eq!(buf.capacity(), CAP);
    assert!(f.id().is_none());
    let counting = Arc::new(Counting::default());
    let waker = Waker::from(Arc::clone(&counting));
    for _ in 0..3 {
        assert!(poll_with(&mut f, &waker).is_pending());
    }
    assert!(!poll_once(&mut f).is_ready());
    writer.write_all(b"later").unwrap();
    run_for(&reactor, 10);
    assert_eq!(
        counting.0.load(Ordering::SeqCst),
        0,
        "a done future was woken"
    );
    let fd = sole(fd).expect("a resolved op kept the descriptor");
    drop(f);
    assert_eq!(left_in_pipe(dup, writer, b""), b"later");
    drop(fd);
}

/// The future of an op that a shut-down reactor refused resolves at once
/// with the error and the op's output (the buffer, untouched), then stays
/// pending and never wakes; an ended stream keeps ending.
#[test]
fn refused_futures_and_ended_streams_polled_again_give_nothing_more() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (fd, dup, writer) = pipe();
    // A stream of a poll that ends after its first item (the pipe is
    // readable, the stream is cancelled by its id).
    let mut stream = h.stream(uring::reactor::ops::PollMulti::new(
        &fd,
        uring::PollEvents::IN,
    ));
    drop(reactor);
    assert!(h.is_shut_down());
    let counting = Arc::new(Counting::default());
    let waker = Waker::from(Arc::clone(&counting));
    let mut cx = Context::from_waker(&waker);
    // The stream was cancelled by the shutdown: its last item (the
    // cancel's error) comes, then it ends, and keeps ending.
    let mut items = 0;
    while let Poll::Ready(Some(item)) = stream.poll_next(&mut cx) {
        assert!(item.is_err(), "{item:?}");
        items += 1;
        assert!(items < 2, "more than the cancel's item");
    }
    for _ in 0..3 {
        assert!(matches!(stream.poll_next(&mut cx), Poll::Ready(None)));
    }
    assert!(stream.failure().is_none());
    drop(stream);
    let mut f = h.op(Read::new(&fd, vec![1, 2, 3], u64::MAX));
    match poll_with(&mut f, &waker) {
        Poll::Ready((r, buf)) => {
            assert!(r.unwrap_err().to_string().contains("shut down"));
            assert_eq!(buf, [1, 2, 3]);
        }
        Poll::Pending => panic!("a refused op is pending"),
    }
    for _ in 0..3 {
        assert!(poll_with(&mut f, &waker).is_pending());
    }
    assert_eq!(counting.0.load(Ordering::SeqCst), 0);
    let fd = sole(fd).expect("a refused op kept the descriptor");
    drop(f);
    assert_eq!(left_in_pipe(dup, writer, DATA), DATA);
    drop(fd);
}

// ---------------------------------------------------------------------------
// Futures that outlive their reactor
// ---------------------------------------------------------------------------

/// The reactor is dropped under three futures: one whose open completed
/// before the drop (never polled since), one whose read waited in the
/// kernel (the drop cancels it), one polled never. Polled after the drop,
/// the first gives the opened descriptor (a working one: it reads the
/// file), the others `ECANCELED` with their buffers back, empty, and the
/// bytes written after the drop stay in the pipes.
#[test]
fn futures_outliving_their_reactor_resolve_once_with_what_the_kernel_did() {
    let _watch = watchdog();
    let dir = uring_tests::test_dir!();
    let path = dir.path().join("f");
    std::fs::write(&path, b"contents").unwrap();
    let reactor = Reactor::new().unwrap();
    let mut open = reactor.op(OpenAt::new(
        uring_tests::cpath(&path),
        libc::O_RDONLY | libc::O_CLOEXEC,
        0,
    ));
    let (fd1, dup1, w1) = pipe();
    let (fd2, dup2, w2) = pipe();
    let mut waiting = reactor.op(read(&fd1));
    let mut unpolled = reactor.op(read(&fd2));
    assert!(poll_once(&mut open).is_pending());
    assert!(poll_once(&mut waiting).is_pending());
    assert!(drive_until(&reactor, Duration::from_secs(5), || {
        reactor.in_flight() == 2
    }));
    drop(reactor);
    match poll_once(&mut open) {
        Poll::Ready((r, Some(file))) => {
            assert!(r.is_ok());
            let mut file = std::fs::File::from(file);
            let mut got = String::new();
            file.read_to_string(&mut got).unwrap();
            assert_eq!(got, "contents");
        }
        Poll::Ready((r, None)) => panic!("the open gave no descriptor: {r:?}"),
        Poll::Pending => panic!("a completed open is pending after the drop"),
    }
    for f in [&mut waiting, &mut unpolled] {
        match poll_once(f) {
            Poll::Ready((r, buf)) => {
                assert_eq!(errno(&r), Some(libc::ECANCELED));
                assert!(buf.is_empty());
                assert_eq!(buf.capacity(), CAP);
            }
            Poll::Pending => panic!("a cancelled op is pending after the drop"),
        }
        assert!(poll_once(f).is_pending());
    }
    drop((open, waiting, unpolled));
    for (fd, dup, w) in [(fd1, dup1, w1), (fd2, dup2, w2)] {
        let fd = sole(fd).expect("an op outlived the drop");
        assert_eq!(left_in_pipe(dup, w, DATA), DATA);
        drop(fd);
    }
}

// ---------------------------------------------------------------------------
// Panics while others hold ops
// ---------------------------------------------------------------------------

/// Two tasks await reads; a third polls its own read once, then panics.
/// The run ends with the panic; the panicking task's read is cancelled by
/// its future's drop during the unwind (its pipe keeps what is written
/// later); the two others are still there, in flight, and the next run
/// completes each once with its own bytes. Then the future of `run_until`
/// panics the same way, holding a read: the same again.
#[test]
fn a_task_and_a_main_future_that_panic_holding_reads_lose_no_other_completion() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let pipes: Vec<_> = (0..3).map(|_| pipe()).collect();
    let got = Rc::new(Cell::new(0u32));
    for (i, (fd, _, _)) in pipes.iter().take(2).enumerate() {
        let (h2, fd, got) = (h.clone(), fd.clone(), Rc::clone(&got));
        h.spawn(async move {
            let (r, buf) = h2.op(read(&fd)).await;
            assert_eq!(r.unwrap(), 2);
            assert_eq!(buf, [b'0' + i as u8; 2]);
            got.set(got.get() + 1);
        });
    }
    let (h2, fd) = (h.clone(), pipes[2].0.clone());
    h.spawn(async move {
        let mut f = h2.op(read(&fd));
        std::future::poll_fn(|cx| {
            assert!(Pin::new(&mut f).poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        h2.submit().unwrap();
        panic!("the task panics holding its read");
    });
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reactor.run()));
    assert!(run.is_err(), "the panic did not reach the run's caller");
    // The two reads, and maybe still the cancelled one.
    assert!(drive_until(&reactor, Duration::from_secs(5), || {
        reactor.in_flight() == 2
    }));
    let mut pipes = pipes.into_iter();
    let mut writers = Vec::new();
    for i in 0..2u8 {
        let (_, dup, mut w) = pipes.next().unwrap();
        w.write_all(&[b'0' + i; 2]).unwrap();
        writers.push((dup, w));
    }
    reactor.run().unwrap();
    assert_eq!(got.get(), 2);
    assert_eq!(reactor.in_flight(), 0);
    let (fd, dup, w) = pipes.next().unwrap();
    assert_eq!(left_in_pipe(dup, w, DATA), DATA);

    // The future of `run_until` panics holding a read of the same pipe.
    let (fd2, dup2, w2) = pipe();
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        reactor.run_until(async {
            let mut f = h.op(read(&fd2));
            std::future::poll_fn(|cx| {
                assert!(Pin::new(&mut f).poll(cx).is_pending());
                Poll::Ready(())
            })
            .await;
            h.submit().unwrap();
            panic!("the main future panics holding its read");
        })
    }));
    assert!(run.is_err());
    assert!(drive_until(&reactor, Duration::from_secs(5), || {
        reactor.in_flight() == 0
    }));
    let (r, ()) = reactor.run_until(reactor.op(Nop)).unwrap();
    assert_eq!(r.unwrap(), 0);
    assert_eq!(left_in_pipe(dup2, w2, DATA), DATA);
    drop(writers);
    for fd in [fd, fd2] {
        sole(fd).expect("a panicked read kept its descriptor");
    }
}

// ---------------------------------------------------------------------------
// run_until with a future that stays pending
// ---------------------------------------------------------------------------

/// A one-shot flag fired from another thread, awaited as a future.
#[derive(Default)]
struct Flag(Mutex<(bool, Option<Waker>)>);

impl Flag {
    fn fire(&self) {
        let waker = {
            let mut state = self.0.lock().unwrap();
            state.0 = true;
            state.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

struct Fired(Arc<Flag>);

impl Future for Fired {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = (self.0).0.lock().unwrap();
        if state.0 {
            return Poll::Ready(());
        }
        state.1 = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// `run_until` of a future that stays pending keeps serving the reactor's
/// ops (callbacks run as their reads complete), returns as soon as the
/// future is woken from another thread and resolves, with a read still in
/// flight (it stays, and the reactor's drop ends it with `ECANCELED`).
/// After a remote shut the reactor down under it, it does not return
/// either: it waits for its future alone, and returns once that is woken.
#[test]
fn run_until_serves_ops_while_its_future_waits_and_returns_only_with_it() {
    let _watch = watchdog();
    let (to_main, from_reactor) = mpsc::channel::<(u8, Result<Vec<u8>, i32>)>();
    let (to_reactor, from_main) = mpsc::channel::<(Arc<Flag>, Arc<Flag>)>();
    let (remote_tx, remote_rx) = mpsc::channel();
    let (w_tx, w_rx) = mpsc::channel();
    let (back_tx, back_rx) = mpsc::channel();
    let server = std::thread::spawn(move || {
        let reactor = Reactor::new().unwrap();
        remote_tx.send(reactor.remote()).unwrap();
        let (first, second) = from_main.recv().unwrap();
        let mut writers = Vec::new();
        for i in 0..3u8 {
            let (fd, dup, w) = pipe();
            let tx = to_main.clone();
            reactor
                .queue(read(&fd), move |r, buf| {
                    let _ = tx.send((i, r.map(|_| buf).map_err(|e| e.raw_os_error().unwrap())));
                })
                .unwrap();
            writers.push((dup, w));
        }
        let _kept = writers.pop().unwrap();
        w_tx.send(writers).unwrap();
        reactor.run_until(Fired(first)).unwrap();
        let in_flight = reactor.in_flight();
        let started = Instant::now();
        back_tx.send(()).unwrap();
        // Shut down from another thread while `run_until` waits.
        reactor.run_until(Fired(second)).unwrap();
        (in_flight, started.elapsed(), reactor.is_shut_down())
    });
    let remote = remote_rx.recv().unwrap();
    let (first, second) = (Arc::new(Flag::default()), Arc::new(Flag::default()));
    to_reactor
        .send((Arc::clone(&first), Arc::clone(&second)))
        .unwrap();
    let mut writers: Vec<(std::fs::File, std::fs::File)> = w_rx.recv().unwrap();
    for (i, (_, w)) in writers.iter_mut().enumerate() {
        w.write_all(&[i as u8; 3]).unwrap();
    }
    let mut seen: Vec<_> = (0..2)
        .map(|_| from_reactor.recv_timeout(Duration::from_secs(5)).unwrap())
        .collect();
    seen.sort();
    assert_eq!(seen, [(0, Ok(vec![0; 3])), (1, Ok(vec![1; 3]))]);
    first.fire();
    back_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    // The third read's callback runs at the shutdown, with ECANCELED.
    remote.shutdown().unwrap();
    assert_eq!(
        from_reactor.recv_timeout(Duration::from_secs(5)).unwrap(),
        (2, Err(libc::ECANCELED))
    );
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !server.is_finished(),
        "run_until returned without its future"
    );
    second.fire();
    let (in_flight, waited, shut) = server.join().unwrap();
    assert_eq!(in_flight, 1, "run_until waited for the third read");
    assert!(waited >= Duration::from_millis(100));
    assert!(shut);
    assert!(from_reactor.try_recv().is_err(), "a callback ran twice");
}

// ---------------------------------------------------------------------------
// Tasks spawned once the reactor has shut down
// ---------------------------------------------------------------------------

/// A task spawned through a handle kept after its reactor was dropped can
/// never run (no run takes a shut-down reactor): it is dropped at once,
/// as `queue` and `op` refuse and give everything back at once. (Kept, a
/// task that holds a handle, as any task that queues ops does, would make
/// a cycle with the executor, and the reactor's whole state would never
/// be freed.)
#[test]
fn a_task_spawned_after_the_reactor_was_dropped_is_dropped_not_kept() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    drop(reactor);
    let (fd, _dup, _writer) = pipe();
    let polled = Rc::new(Cell::new(false));
    let (h2, fd2, p) = (h.clone(), fd.clone(), Rc::clone(&polled));
    h.spawn(async move {
        p.set(true);
        let _ = h2.op(read(&fd2)).await;
    });
    assert!(h.is_shut_down());
    drop(h);
    assert!(!polled.get(), "a task of a shut-down reactor was polled");
    sole(fd).expect("the task spawned after the shutdown was never dropped");
}

/// The same through the shutdown itself: a task whose drop (when the
/// shutdown drops the tasks) spawns another, which holds a handle: that
/// one is dropped too, unpolled.
#[test]
fn a_task_spawned_by_a_task_s_drop_at_the_shutdown_is_dropped_not_kept() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (fd, _dup, _writer) = pipe();
    struct SpawnsWhenDropped(uring::reactor::Handle, SharedFd);
    impl Drop for SpawnsWhenDropped {
        fn drop(&mut self) {
            let (h, fd) = (self.0.clone(), self.1.clone());
            self.0.spawn(async move {
                let _ = h.op(read(&fd)).await;
            });
        }
    }
    let s = SpawnsWhenDropped(reactor.handle(), fd.clone());
    reactor.spawn(async move {
        let _s = s;
        std::future::pending::<()>().await;
    });
    run_for(&reactor, 1);
    drop(reactor);
    sole(fd).expect("the task spawned during the shutdown was never dropped");
}

/// A task a remote sends just before the reactor is dropped is spawned
/// during the shutdown (the job runs after the tasks were cleared), never
/// polled, and dropped when the reactor's last handle goes, on the
/// reactor's thread: with the reactor itself, here. Nothing it holds
/// outlives the reactor.
#[test]
fn a_task_a_remote_sent_before_the_drop_is_dropped_with_the_reactor() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let remote = reactor.remote();
    let polled = Arc::new(AtomicUsize::new(0));
    let (fd, _dup, _writer) = pipe();
    let owned = sole(fd).unwrap();
    let held = Arc::new(owned);
    let (p, h) = (Arc::clone(&polled), Arc::clone(&held));
    std::thread::spawn(move || {
        remote
            .spawn(async move {
                let _keep = h;
                p.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
    })
    .join()
    .unwrap();
    drop(reactor);
    assert_eq!(polled.load(Ordering::SeqCst), 0);
    assert_eq!(Arc::strong_count(&held), 1, "the task outlived its reactor");
}

// ---------------------------------------------------------------------------
// One bounded io-wq worker: an open blocked in it, another queued behind
// ---------------------------------------------------------------------------

/// A reactor over a ring whose task may run one bounded io-wq worker.
fn one_worker_reactor() -> Option<Reactor> {
    let mut ring = Reactor::ring_builder().build(64).unwrap();
    match ring.set_iowq_max_workers(IoWqWorkers {
        bounded: 1,
        unbounded: 1,
    }) {
        Ok(_) => {}
        Err(e) => {
            skip(format_args!("no io-wq limits: {e}"));
            return None;
        }
    }
    Some(Reactor::from_ring(ring).unwrap())
}

/// An open of the FIFO for reading with `O_CREAT`: forced to io-wq, where
/// it waits for a writer.
fn blocking_open(path: &Path) -> OpenAt {
    OpenAt::new(
        uring_tests::cpath(path),
        libc::O_RDONLY | libc::O_CREAT,
        0o600,
    )
}

/// Four such opens queued with callbacks: the first blocks in the one
/// worker (the only `iou-wrk-<tid>` of the thread), the others wait in
/// io-wq's list. The reactor's drop cancels all (the worker is signalled,
/// the queued work failed), and returns in well under two seconds: the
/// first ends interrupted (`EINTR`), the others `ECANCELED`, each callback
/// once, each with no descriptor; the FIFO is left without a reader.
#[test]
fn a_reactor_dropped_with_an_open_blocked_in_its_only_worker_and_one_behind_ends_both() {
    let _watch = watchdog();
    let Some((_dir, path)) = fifo() else {
        return;
    };
    let Some(reactor) = one_worker_reactor() else {
        return;
    };
    let results = Rc::new(std::cell::RefCell::new(Vec::new()));
    for i in 0..4 {
        let results = Rc::clone(&results);
        reactor
            .queue(blocking_open(&path), move |r, fd| {
                results.borrow_mut().push((i, errno(&r), fd.is_some()));
            })
            .unwrap();
    }
    run_for(&reactor, 100);
    assert_eq!(reactor.in_flight(), 4, "an open did not block");
    assert_eq!(my_workers(), 1, "the io-wq limit was not applied");
    let started = Instant::now();
    drop(reactor);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "the drop took {took:?}");
    let mut got = results.borrow().clone();
    got.sort();
    assert_eq!(
        got,
        [
            (0, Some(libc::EINTR), false),
            (1, Some(libc::ECANCELED), false),
            (2, Some(libc::ECANCELED), false),
            (3, Some(libc::ECANCELED), false)
        ],
        "after {took:?}"
    );
    assert!(!fifo_has_reader(&path));
}

/// The same two opens as futures: dropping the second (queued behind the
/// busy worker) ends it at once while the first stays blocked; a writer
/// then lets the first complete, with a descriptor that is the FIFO's
/// reader; the second never opened the FIFO.
#[test]
fn an_open_future_queued_behind_a_busy_worker_ends_at_its_drop() {
    let _watch = watchdog();
    let Some((_dir, path)) = fifo() else {
        return;
    };
    let Some(reactor) = one_worker_reactor() else {
        return;
    };
    let mut first = reactor.op(blocking_open(&path));
    let mut second = reactor.op(blocking_open(&path));
    assert!(poll_once(&mut first).is_pending());
    assert!(poll_once(&mut second).is_pending());
    run_for(&reactor, 100);
    assert_eq!(reactor.in_flight(), 2, "an open did not block");
    drop(second);
    assert!(
        drive_until(&reactor, Duration::from_secs(2), || reactor.in_flight()
            == 1),
        "the queued open's cancel did not end it"
    );
    assert!(poll_once(&mut first).is_pending());
    let p = path.clone();
    let writer =
        std::thread::spawn(move || std::fs::OpenOptions::new().write(true).open(p).unwrap());
    let (r, fd) = reactor.run_until(&mut first).unwrap();
    let mut writer = writer.join().unwrap();
    let fd = fd.expect("the open gave no descriptor");
    assert!(r.is_ok());
    writer.write_all(b"x").unwrap();
    let mut reader = std::fs::File::from(fd);
    let mut one = [0u8; 1];
    reader.read_exact(&mut one).unwrap();
    assert_eq!(&one, b"x");
    drop(reader);
    assert_eq!(
        writer.write(b"y").unwrap_err().raw_os_error(),
        Some(libc::EPIPE),
        "the dropped open left a reader"
    );
}

/// A deadline does not cut an open blocked in an io-wq worker (as
/// `queue_with_deadline` documents for Linux 6.15 and later: the link
/// timeout is armed only once the op's issue returns): the open waits past
/// it, and completes with a descriptor when a writer comes a second later.
/// A cancel by its id, by contrast, ends the same kind of open at once,
/// interrupted (`EINTR`).
#[test]
fn a_deadline_does_not_cut_an_open_blocked_in_io_wq_but_a_cancel_does() {
    let _watch = watchdog();
    if !uring_tests::require_kernel(6, 15, "link timeouts armed after the issue") {
        return;
    }
    let Some((_dir, path)) = fifo() else {
        return;
    };
    let reactor = Reactor::new().unwrap();
    let p = path.clone();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(1));
        std::fs::OpenOptions::new().write(true).open(p).unwrap()
    });
    let started = Instant::now();
    let (r, fd) = reactor
        .run_until(reactor.op_with_deadline(
            blocking_open(&path),
            Instant::now() + Duration::from_millis(50),
        ))
        .unwrap();
    let took = started.elapsed();
    let writer = writer.join().unwrap();
    assert!(took >= Duration::from_millis(900), "cut after {took:?}");
    assert!(r.is_ok(), "{r:?}");
    assert!(fd.is_some());
    drop((fd, writer));

    let mut f = reactor.op(blocking_open(&path));
    assert!(poll_once(&mut f).is_pending());
    run_for(&reactor, 50);
    let id = f.id().unwrap();
    assert!(reactor.cancel(id).unwrap());
    let started = Instant::now();
    let (r, fd) = reactor.run_until(f).unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(errno(&r), Some(libc::EINTR));
    assert!(fd.is_none());
}

/// A task holds the future of an open that completed (a reader of a
/// FIFO, opened without waiting) and never polls it again; another holds
/// one that blocks in io-wq. The reactor's drop cancels the second, then
/// drops the tasks: each open's descriptor is closed with its future (the
/// FIFO is left without a reader), and each task's captures are dropped
/// once.
#[test]
fn tasks_holding_unseen_open_results_at_the_drop_close_what_was_opened() {
    let _watch = watchdog();
    let Some((_dir, path)) = fifo() else {
        return;
    };
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let dropped = Rc::new(Cell::new(0));
    struct Counted(Rc<Cell<u32>>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    for flags in [
        libc::O_RDONLY | libc::O_NONBLOCK,
        libc::O_RDONLY | libc::O_CREAT,
    ] {
        let (h2, c, cpath) = (
            h.clone(),
            Counted(Rc::clone(&dropped)),
            uring_tests::cpath(&path),
        );
        h.spawn(async move {
            let _c = c;
            let mut f = h2.op(OpenAt::new(cpath, flags, 0o600));
            std::future::poll_fn(|cx| {
                assert!(Pin::new(&mut f).poll(cx).is_pending());
                Poll::Ready(())
            })
            .await;
            std::future::pending::<()>().await;
            drop(f);
        });
    }
    run_for(&reactor, 100);
    assert_eq!(reactor.in_flight(), 1, "the blocking open ended");
    drop(reactor);
    assert_eq!(dropped.get(), 2);
    drop(h);
    assert!(
        !fifo_has_reader(&path),
        "an unseen open's descriptor was left open"
    );
}

/// What a remote sent before the reactor's drop is run during it (the
/// docs: "a closure accepted before that is run all the same ... so
/// nothing given to a Remote is dropped unseen"; of `Remote::queue`: "the
/// op is never dropped unseen"). A job that panics there ends the drop
/// with its panic, once the jobs queued after it have run: the callback of
/// an op queued after it is called with the shutdown's error. (At a run, a
/// panicking job leaves the rest queued for the next round.)
#[test]
fn a_job_panicking_at_the_drop_loses_no_later_remote_callback() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let remote = reactor.remote();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        remote
            .execute(|_| panic!("a job panics at the drop"))
            .unwrap();
        remote
            .queue(Nop, move |r, ()| {
                tx.send(r.map_err(|e| e.to_string())).unwrap();
            })
            .unwrap();
    })
    .join()
    .unwrap();
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(reactor)));
    assert!(dropped.is_err(), "the job's panic did not reach the drop");
    let got = rx.try_recv();
    assert!(
        matches!(&got, Ok(Err(e)) if e.contains("shut down")),
        "the later op's callback: {got:?}"
    );
}

/// The same at a task whose drop panics when the shutdown drops the
/// tasks: the drop ends with that panic once the remotes' jobs have run,
/// and the callback of an op a remote queued is called.
#[test]
fn a_task_whose_drop_panics_at_the_drop_loses_no_remote_callback() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("a task's capture panics when dropped");
        }
    }
    let p = PanicsOnDrop;
    reactor.spawn(async move {
        let _p = p;
        std::future::pending::<()>().await;
    });
    run_for(&reactor, 1);
    let remote = reactor.remote();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        remote
            .queue(Nop, move |r, ()| {
                tx.send(r.map_err(|e| e.to_string())).unwrap();
            })
            .unwrap();
    })
    .join()
    .unwrap();
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(reactor)));
    assert!(dropped.is_err(), "the task's panic did not reach the drop");
    let got = rx.try_recv();
    assert!(
        matches!(&got, Ok(Err(e)) if e.contains("shut down")),
        "the op's callback: {got:?}"
    );
}
