//! Ports of the go-uring test cases (github.com/godzie44/go-uring at
//! d16a9e5, and the test functions its history dropped or renamed) that
//! `go_uring_cases.rs` leaves out or ports only in part:
//!
//! - `TestRequestID` (reactor/net_test.go) and its earlier form
//!   `TestUserData`: the id of a queued op names that op and no other, for
//!   slots far apart (Go packs fds 1, 2, 32600, 128000, MaxInt32), for ops
//!   of different kinds, and after its slot went to a new op;
//! - the reactor suites as go-uring runs them (`SetupTest` /
//!   `TearDownTest` of reactor/reactor_test.go and reactor/net_test.go):
//!   `CreateMany(4, 64, 4)`, one event loop per ring, `Run` on another
//!   goroutine, `Queue` / `QueueWithDeadline` / `Cancel` called from the
//!   test's goroutine (here: a reactor per ring on its own thread, reached
//!   through `Remote`), with the vectored read of
//!   `TestReactorExecuteReadV` (the first port used a plain read), the
//!   deadline that ends the op at one second (Go allows 100 ms late, here
//!   500 ms on a loaded machine), the cancel from a
//!   third goroutine one second later, and a tear-down that stops the
//!   loops with nothing left behind.
//!
//! Read against the kernel's io_uring/cancel.c (cancel by user_data:
//! `-ENOENT` for none, `-EALREADY` for a running op), io_uring/timeout.c
//! (`io_link_timeout_fn`: a link timeout cancels its op with
//! `-ECANCELED`), io_uring/poll.c (a poll that never fires, cancelled:
//! `-ECANCELED`) and io_uring/rw.c (`io_import_vec` for READV), Linux 6.18.
//! Listeners bind port 0 of the loopback address instead of go-uring's
//! fixed ports.

use std::cell::RefCell;
use std::collections::HashSet;
use std::io;
use std::net::TcpListener as StdListener;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use uring::PollEvents;
use uring::Ring;
use uring::reactor::ops::{Accept, Poll, ReadV, Recv, Timeout};
use uring::reactor::{Handle, OpId, Reactor, Remote, SharedFd};

// ---------------------------------------------------------------- helpers

/// The callbacks that ran: which op, and its errno.
type Calls<T> = Rc<RefCell<Vec<(T, Option<i32>)>>>;

fn errno(result: &io::Result<u32>) -> Option<i32> {
    result.as_ref().err().and_then(io::Error::raw_os_error)
}

/// The file go-uring's tests read (`../go.mod`): here, the workspace's
/// `Cargo.toml`.
fn go_mod() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml")
}

/// go-uring's `SetupTest`: `CreateMany(4, 64, 4)`, one event loop per ring,
/// started by `Run` on another goroutine. Here: one reactor per ring, each
/// run on its own thread, reached from the test's thread by its `Remote`.
struct Suite {
    remotes: Vec<Remote>,
    loops: Vec<JoinHandle<io::Result<()>>>,
}

impl Suite {
    fn setup() -> Suite {
        Suite::setup_with_pools(4)
    }

    /// `CreateMany(4, 64, wp_count)`.
    fn setup_with_pools(wp_count: usize) -> Suite {
        // Created here, run on other threads: disabled until each reactor
        // enables its ring on its own thread (single issuer).
        let builder = Reactor::ring_builder().r_disabled();
        let rings = match Ring::create_many(4, 64, wp_count, &builder) {
            Ok(rings) => rings,
            // Before 6.0 (no single issuer): plain rings.
            Err(_) => Ring::create_many(4, 64, wp_count, &Ring::builder())
                .expect("CreateMany(4, 64, wp_count)"),
        };
        assert_eq!(rings.len(), 4);
        let mut remotes = Vec::new();
        let mut loops = Vec::new();
        for ring in rings {
            let (tx, rx) = mpsc::channel();
            loops.push(std::thread::spawn(move || {
                let reactor = Reactor::from_ring(ring)?;
                tx.send(reactor.remote()).unwrap();
                reactor.run()
            }));
            remotes.push(rx.recv().expect("the loop started"));
        }
        Suite { remotes, loops }
    }

    /// go-uring's `loopForNonce`: the loop of the `nonce`-th op.
    fn remote(&self, nonce: usize) -> &Remote {
        &self.remotes[nonce % self.remotes.len()]
    }

    /// go-uring's `TearDownTest`: stop the loops (`stopReactor`), wait for
    /// them (`wg.Wait`), and close the rings without an error (`defers`).
    fn tear_down(self) {
        for remote in &self.remotes {
            remote.shutdown().expect("stop the loop");
        }
        drop(self.remotes);
        for (i, l) in self.loops.into_iter().enumerate() {
            let run = l.join().expect("the loop did not panic");
            assert!(run.is_ok(), "loop {i}: Run ended with {run:?}");
        }
    }
}

/// go-uring's `Queue` from the test's goroutine: makes the op on the loop's
/// thread (an op owning a `SharedFd` is not `Send`), queues it, and returns
/// its id; the callback's arguments come back through `results`.
fn queue_remote<T: Send + 'static>(
    remote: &Remote,
    make: impl FnOnce(&Handle, mpsc::Sender<T>) -> io::Result<OpId> + Send + 'static,
    results: mpsc::Sender<T>,
) -> OpId {
    let (id_tx, id_rx) = mpsc::channel();
    remote
        .execute(move |h| {
            id_tx.send(make(h, results)).unwrap();
        })
        .expect("the loop takes the op");
    id_rx
        .recv_timeout(uring_tests::PATIENCE)
        .expect("the loop ran the queueing")
        .expect("Queue")
}

// ---------------------------------------------------------------- reactor/reactor_test.go

/// ReactorTestSuite.TestReactorExecuteReadV (reactor/reactor_test.go), as
/// go-uring runs it: a READV of one iovec the size of the file, queued from
/// the test's thread on a loop of `CreateMany(4, 64, 4)` running on
/// another; the buffer holds the file and the result is its length.
#[test]
fn reactor_suite_execute_read_v() {
    let _watch = uring_tests::watchdog();
    execute_read_v(Suite::setup());
}

/// The same over `CreateMany(4, 64, 1)`: three of the rings attached to
/// the first one's worker pool (go-uring's examples' setup), each run by
/// its own thread.
#[test]
fn reactor_suite_over_one_worker_pool_execute_read_v() {
    let _watch = uring_tests::watchdog();
    execute_read_v(Suite::setup_with_pools(1));
}

fn execute_read_v(suite: Suite) {
    let expected = std::fs::read(go_mod()).unwrap();
    let len = expected.len();
    let (tx, rx) = mpsc::channel();
    // Every loop of the suite, as `loopForNonce` would pick them in turn.
    for nonce in 0..4 {
        let file = std::fs::File::open(go_mod()).unwrap();
        queue_remote(
            suite.remote(nonce),
            move |h, tx| {
                let fd = SharedFd::new(file);
                h.queue(
                    ReadV::new(&fd, vec![vec![0u8; len]], 0),
                    move |res, bufs| tx.send((nonce, res, bufs)).unwrap(),
                )
            },
            tx.clone(),
        );
    }
    drop(tx);
    let mut seen = Vec::new();
    for _ in 0..4 {
        let (nonce, res, bufs) = rx
            .recv_timeout(uring_tests::PATIENCE)
            .expect("the callback ran");
        assert_eq!(res.unwrap(), len as u32, "loop {nonce}: Res");
        assert_eq!(bufs.len(), 1, "loop {nonce}: the one iovec back");
        assert_eq!(
            String::from_utf8_lossy(&bufs[0]),
            String::from_utf8_lossy(&expected),
            "loop {nonce}"
        );
        seen.push(nonce);
    }
    assert!(rx.recv().is_err(), "a callback ran twice");
    seen.sort_unstable();
    assert_eq!(seen, [0, 1, 2, 3]);
    suite.tear_down();
}

/// go-uring's `TestExecuteWithDeadline` as the suites run it: an accept
/// that nobody connects to, queued from the test's thread with a deadline
/// one second after `acceptTime`; the callback gets `ECANCELED` no sooner
/// than one second after `acceptTime`, and well before two (Go's bound is
/// 100 ms late; the suites share two CPUs with every other test running).
fn suite_execute_with_deadline(as_future: bool) {
    let suite = Suite::setup();
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    let (tx, rx) = mpsc::channel();
    let accept_time = Instant::now();
    let deadline = accept_time + Duration::from_secs(1);
    queue_remote(
        suite.remote(0),
        move |h, tx| {
            let fd = SharedFd::new(listener);
            if as_future {
                // The network reactor's port: the op awaited by a task.
                let future = h.op_with_deadline(Accept::new(&fd), deadline);
                let id = future.id().expect("in flight");
                h.spawn(async move {
                    let (res, conn) = future.await;
                    tx.send((res, conn.is_some(), Instant::now())).unwrap();
                });
                Ok(id)
            } else {
                h.queue_with_deadline(Accept::new(&fd), deadline, move |res, conn| {
                    tx.send((res, conn.is_some(), Instant::now())).unwrap()
                })
            }
        },
        tx,
    );
    let (res, accepted, at) = rx
        .recv_timeout(uring_tests::PATIENCE)
        .expect("the callback ran");
    let elapsed = at - accept_time;
    assert!(!accepted, "an accepted socket");
    assert_eq!(errno(&res), Some(libc::ECANCELED), "{res:?}");
    assert!(
        elapsed > Duration::from_secs(1) && elapsed < Duration::from_millis(1500),
        "the deadline of 1 s ended the accept after {elapsed:?}"
    );
    suite.tear_down();
}

/// go-uring's `TestCancelOperation` as the suites run it: an accept that
/// nobody connects to, queued from the test's thread; a third thread
/// cancels it by its id one second later, without an error; the callback
/// gets `ECANCELED`, after that second.
fn suite_cancel_operation(as_future: bool) {
    let suite = Suite::setup();
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    let (tx, rx) = mpsc::channel();
    let queued = Instant::now();
    let id = queue_remote(
        suite.remote(1),
        move |h, tx| {
            let fd = SharedFd::new(listener);
            if as_future {
                let future = h.op(Accept::new(&fd));
                let id = future.id().expect("in flight");
                h.spawn(async move {
                    let (res, conn) = future.await;
                    tx.send((res, conn.is_some(), Instant::now())).unwrap();
                });
                Ok(id)
            } else {
                h.queue(Accept::new(&fd), move |res, conn| {
                    tx.send((res, conn.is_some(), Instant::now())).unwrap()
                })
            }
        },
        tx,
    );
    let remote = suite.remote(1).clone();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(1));
        remote.cancel(id)
    });
    let (res, accepted, at) = rx
        .recv_timeout(uring_tests::PATIENCE)
        .expect("the callback ran");
    assert!(canceller.join().unwrap().is_ok(), "Cancel(nonce) failed");
    assert!(!accepted, "an accepted socket");
    assert_eq!(errno(&res), Some(libc::ECANCELED), "{res:?}");
    assert!(
        at - queued >= Duration::from_secs(1),
        "the accept ended {:?} after it was queued, before the cancel",
        at - queued
    );
    suite.tear_down();
}

/// go-uring's `Cancel(nonce)` finds the loop by the nonce
/// (`loopForNonce`); with a reactor per ring the caller picks the loop. An
/// id handed to another loop's `Remote::cancel` is accepted (`Ok`) and
/// cancels nothing: the accept stays in flight until its own loop cancels
/// it.
#[test]
fn suite_cancel_on_another_loop_cancels_nothing() {
    let _watch = uring_tests::watchdog();
    let suite = Suite::setup();
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    let (tx, rx) = mpsc::channel();
    let id = queue_remote(
        suite.remote(1),
        move |h, tx| {
            let fd = SharedFd::new(listener);
            h.queue(Accept::new(&fd), move |res, conn| {
                tx.send((res, conn.is_some())).unwrap()
            })
        },
        tx,
    );
    for other in [0, 2, 3] {
        suite.remote(other).cancel(id).expect("Remote::cancel");
    }
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "another loop cancelled the accept"
    );
    suite.remote(1).cancel(id).expect("Remote::cancel");
    let (res, accepted) = rx
        .recv_timeout(uring_tests::PATIENCE)
        .expect("the callback ran");
    assert!(!accepted);
    assert_eq!(errno(&res), Some(libc::ECANCELED), "{res:?}");
    suite.tear_down();
}

/// ReactorTestSuite.TestExecuteWithDeadline (reactor/reactor_test.go).
#[test]
fn reactor_suite_execute_with_deadline() {
    let _watch = uring_tests::watchdog();
    suite_execute_with_deadline(false);
}

/// ReactorTestSuite.TestCancelOperation (reactor/reactor_test.go).
#[test]
fn reactor_suite_cancel_operation() {
    let _watch = uring_tests::watchdog();
    suite_cancel_operation(false);
}

/// TestReactorExecuteReadVCommand (uring/reactor_test.go of go-uring's
/// first versions): `ReadV(f, 16)` splits the file into 16-byte iovecs
/// (the last one shorter), the reactor runs on another goroutine, and the
/// result comes within 3 s, holding the whole file.
#[test]
fn reactor_execute_read_v_command() {
    let _watch = uring_tests::watchdog();
    let expected = std::fs::read(go_mod()).unwrap();
    let size = expected.len();
    assert!(size.div_ceil(16) <= 1024, "more iovecs than UIO_MAXIOV");
    let (tx, rx) = mpsc::channel();
    let server = std::thread::spawn(move || {
        let reactor = Reactor::new()?;
        tx.send(reactor.remote()).unwrap();
        reactor.run()
    });
    let remote = rx.recv().unwrap();
    let (tx, rx) = mpsc::channel();
    let file = std::fs::File::open(go_mod()).unwrap();
    queue_remote(
        &remote,
        move |h, tx| {
            let fd = SharedFd::new(file);
            let bufs: Vec<Vec<u8>> = (0..size)
                .step_by(16)
                .map(|at| Vec::with_capacity((size - at).min(16)))
                .collect();
            h.queue(ReadV::new(&fd, bufs, 0), move |res, bufs| {
                tx.send((res, bufs)).unwrap()
            })
        },
        tx,
    );
    let (res, bufs) = rx
        .recv_timeout(Duration::from_secs(3))
        .expect("no reads at 3 seconds");
    assert_eq!(res.unwrap(), size as u32);
    assert_eq!(bufs.len(), size.div_ceil(16));
    assert!(bufs[..bufs.len() - 1].iter().all(|b| b.len() == 16));
    assert_eq!(bufs.concat(), expected);
    drop(remote);
    server.join().unwrap().unwrap();
}

/// The same `ReadV(f, 16)` of a file of more than 16 KiB: more iovecs
/// than the kernel takes (`UIO_MAXIOV`, 1024; `iovec_from_user` refuses
/// with `EINVAL`). The op fails with that error, nothing is read, and the
/// buffers come back untouched.
#[test]
fn reactor_read_v_of_more_iovecs_than_uio_maxiov_fails_with_einval() {
    let _watch = uring_tests::watchdog();
    let data = uring_tests::pattern(1025 * 16, 7);
    let file = uring_tests::file_of(&data);
    let reactor = Reactor::new().unwrap();
    let fd = SharedFd::new(file);
    let bufs: Vec<Vec<u8>> = (0..1025).map(|_| Vec::with_capacity(16)).collect();
    let (res, bufs) = reactor
        .run_until(reactor.op(ReadV::new(&fd, bufs, 0)))
        .unwrap();
    assert_eq!(errno(&res), Some(libc::EINVAL), "{res:?}");
    assert_eq!(bufs.len(), 1025);
    assert!(bufs.iter().all(Vec::is_empty), "a buffer marked filled");
    // 1024 iovecs are taken, and read the first 16 KiB.
    let bufs: Vec<Vec<u8>> = (0..1024).map(|_| Vec::with_capacity(16)).collect();
    let (res, bufs) = reactor
        .run_until(reactor.op(ReadV::new(&fd, bufs, 0)))
        .unwrap();
    assert_eq!(res.unwrap(), 1024 * 16);
    assert_eq!(bufs.concat(), data[..1024 * 16]);
}

/// go-uring's `ReadV` takes any `[][]byte`, empty ones among them: a READV
/// of no iovec completes with 0 and reads nothing, and an empty buffer
/// before a 4-byte one leaves the bytes to the second (the kernel skips
/// zero-length iovecs).
#[test]
fn reactor_read_v_of_no_and_of_empty_buffers() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let fd = SharedFd::new(uring_tests::file_of(b"abcdefgh"));
    let (res, bufs) = reactor
        .run_until(reactor.op(ReadV::new(&fd, Vec::<Vec<u8>>::new(), 0)))
        .unwrap();
    assert_eq!(res.unwrap(), 0);
    assert!(bufs.is_empty());
    let bufs = vec![Vec::new(), Vec::with_capacity(4), Vec::new()];
    let (res, bufs) = reactor
        .run_until(reactor.op(ReadV::new(&fd, bufs, 2)))
        .unwrap();
    assert_eq!(res.unwrap(), 4);
    assert_eq!(bufs, [b"".to_vec(), b"cdef".to_vec(), b"".to_vec()]);
}

// ---------------------------------------------------------------- reactor/net_test.go

/// NetworkReactorTestSuite.TestExecuteWithDeadline (reactor/net_test.go).
#[test]
fn network_reactor_suite_execute_with_deadline() {
    let _watch = uring_tests::watchdog();
    suite_execute_with_deadline(true);
}

/// NetworkReactorTestSuite.TestCancelOperation (reactor/net_test.go).
#[test]
fn network_reactor_suite_cancel_operation() {
    let _watch = uring_tests::watchdog();
    suite_cancel_operation(true);
}

/// go-uring's `TearDownTest` with an op still in flight: the loops stop,
/// `Run` returns without an error, and the op's callback runs once, with
/// `ECANCELED` (go-uring drops it unseen; uring's shutdown cancels it).
#[test]
fn suite_tear_down_with_an_accept_in_flight() {
    let _watch = uring_tests::watchdog();
    let suite = Suite::setup();
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    let (tx, rx) = mpsc::channel();
    queue_remote(
        suite.remote(2),
        move |h, tx| {
            let fd = SharedFd::new(listener);
            h.queue(Accept::new(&fd), move |res, conn| {
                tx.send((res, conn.is_some())).unwrap()
            })
        },
        tx,
    );
    assert!(
        rx.recv_timeout(Duration::from_millis(200)).is_err(),
        "the accept ended with nobody connecting"
    );
    suite.tear_down();
    let (res, accepted) = rx.try_recv().expect("the callback ran by the tear-down");
    assert!(!accepted);
    assert_eq!(errno(&res), Some(libc::ECANCELED), "{res:?}");
    assert!(rx.try_recv().is_err(), "the callback ran twice");
}

/// TestRequestID (reactor/net_test.go): go-uring packs an op's fd and a
/// nonce into its `user_data` and gets both back, for fds 1, 2, 32600,
/// 128000 and MaxInt32. uring's id is an op's slot and the slot's
/// generation: here, with 128 001 polls that never fire in flight, the ids
/// of slots 1, 2, 32600 and 128000 each name their op and no other (a cancel by id
/// ends exactly that op, with `ECANCELED`), an id whose op ended names
/// nothing, not even the next op its slot holds, and an id of another
/// reactor names nothing here.
#[test]
fn request_id() {
    let _watch = uring_tests::watchdog();
    const OPS: usize = 128_001;
    let reactor = Reactor::new().unwrap();
    let other = Reactor::new().unwrap();
    let (a, _b) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(a);
    let calls: Calls<usize> = Rc::default();
    let mut ids = Vec::with_capacity(OPS);
    for i in 0..OPS {
        let c = calls.clone();
        let id = reactor
            .queue(Poll::new(&fd, PollEvents::IN), move |res, ()| {
                c.borrow_mut().push((i, errno(&res)))
            })
            .unwrap();
        ids.push(id);
        if i % 1024 == 0 {
            reactor.submit().unwrap();
        }
    }
    reactor.submit().unwrap();
    assert_eq!(reactor.in_flight(), OPS as u32);
    let slots: HashSet<u32> = ids.iter().map(OpId::slot).collect();
    assert_eq!(slots.len(), OPS, "two live ops share a slot");
    assert_eq!(
        ids.iter().copied().collect::<HashSet<_>>().len(),
        OPS,
        "two live ops share an id"
    );
    // An id of another reactor's op names nothing here, and the reverse.
    let foreign = other.queue(uring::reactor::ops::Nop, |_, ()| ()).unwrap();
    assert!(!reactor.cancel(foreign).unwrap(), "a foreign id cancelled");
    assert!(!other.cancel(ids[0]).unwrap(), "a foreign id cancelled");
    other.run().unwrap();

    let by_slot = |slot: u32| ids.iter().position(|id| id.slot() == slot);
    let mut freed = Vec::new();
    for slot in [1u32, 2, 32_600, 128_000] {
        let i = by_slot(slot).unwrap_or_else(|| panic!("no op holds slot {slot}"));
        let before = reactor.in_flight();
        assert!(reactor.cancel(ids[i]).unwrap(), "Cancel of slot {slot}");
        while reactor.in_flight() == before {
            uring_tests::run_for(&reactor, 10);
        }
        assert_eq!(reactor.in_flight(), before - 1, "one op ended");
        assert_eq!(
            calls.borrow().as_slice(),
            &[(i, Some(libc::ECANCELED))],
            "slot {slot}: the cancel ended another op"
        );
        calls.borrow_mut().clear();
        assert!(
            !reactor.cancel(ids[i]).unwrap(),
            "slot {slot}: cancelled twice"
        );
        freed.push((slot, ids[i]));
    }
    // The freed slots go to new ops, under new ids; the old ids name none.
    let c = calls.clone();
    let mut new_ids = Vec::new();
    for k in 0..freed.len() {
        let c = c.clone();
        new_ids.push(
            reactor
                .queue(Poll::new(&fd, PollEvents::IN), move |res, ()| {
                    c.borrow_mut().push((OPS + k, errno(&res)))
                })
                .unwrap(),
        );
    }
    reactor.submit().unwrap();
    let reused: HashSet<u32> = new_ids.iter().map(OpId::slot).collect();
    let freed_slots: HashSet<u32> = freed.iter().map(|f| f.0).collect();
    // (Which free slot a new op takes is the slab's choice: the reactor's
    // own ops, the waits above among them, take free slots too.)
    assert!(
        reused.intersection(&freed_slots).count() > 0,
        "no freed slot was reused: {reused:?}, freed {freed_slots:?}"
    );
    assert!(
        reused
            .iter()
            .all(|s| freed_slots.contains(s) || *s as usize >= OPS),
        "a new op took a slot of a live op: {reused:?}"
    );
    for &(slot, old) in &freed {
        assert!(!new_ids.contains(&old), "slot {slot}: an old id again");
        assert!(
            !reactor.cancel(old).unwrap(),
            "slot {slot}: a stale id cancelled"
        );
    }
    uring_tests::run_for(&reactor, 20);
    assert!(calls.borrow().is_empty(), "{:?}", calls.borrow());
    assert_eq!(reactor.in_flight(), OPS as u32);
    // The rest end once each, by the shutdown.
    reactor.shutdown();
    let calls = calls.borrow();
    assert_eq!(calls.len(), OPS, "each callback ran once");
    assert!(calls.iter().all(|c| c.1 == Some(libc::ECANCELED)));
    assert_eq!(
        calls.iter().map(|c| c.0).collect::<HashSet<_>>().len(),
        OPS,
        "a callback ran twice"
    );
}

/// TestUserData (reactor/net_test.go before go-uring renamed it
/// TestRequestID): go-uring packed an fd and an opcode (NOP, ACCEPT, SEND,
/// RECV, ASYNC_CANCEL) into the `user_data`. Here: ops of different kinds
/// on different descriptors in flight together; the id of each ends that
/// op alone, with `ECANCELED`, and the kernel's `ASYNC_CANCEL`s the
/// reactor pushes for them complete unseen (no callback runs for them).
#[test]
fn user_data() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let listener = SharedFd::new(StdListener::bind("127.0.0.1:0").unwrap());
    let (a, _b) = UnixStream::pair().unwrap();
    let (c, _d) = UnixStream::pair().unwrap();
    let a = SharedFd::new(a);
    let c = SharedFd::new(c);
    let calls: Calls<&'static str> = Rc::default();
    let mut ids = Vec::new();
    let k = calls.clone();
    ids.push(("accept", {
        reactor
            .queue(Accept::new(&listener), move |res, _| {
                k.borrow_mut().push(("accept", errno(&res)))
            })
            .unwrap()
    }));
    let k = calls.clone();
    ids.push(("recv", {
        reactor
            .queue(Recv::new(&a, vec![0u8; 16]), move |res, _| {
                k.borrow_mut().push(("recv", errno(&res)))
            })
            .unwrap()
    }));
    let k = calls.clone();
    ids.push(("poll", {
        reactor
            .queue(Poll::new(&c, PollEvents::IN), move |res, ()| {
                k.borrow_mut().push(("poll", errno(&res)))
            })
            .unwrap()
    }));
    let k = calls.clone();
    ids.push(("timeout", {
        reactor
            .queue(Timeout::new(Duration::from_secs(3600)), move |res, ()| {
                k.borrow_mut().push(("timeout", errno(&res)))
            })
            .unwrap()
    }));
    reactor.submit().unwrap();
    uring_tests::run_for(&reactor, 20);
    assert!(calls.borrow().is_empty(), "{:?}", calls.borrow());
    for (n, &(name, id)) in ids.iter().enumerate().rev() {
        assert!(reactor.cancel(id).unwrap(), "{name}");
        let deadline = Instant::now() + uring_tests::PATIENCE;
        while calls.borrow().is_empty() && Instant::now() < deadline {
            uring_tests::run_for(&reactor, 10);
        }
        uring_tests::run_for(&reactor, 10);
        assert_eq!(
            calls.borrow().as_slice(),
            &[(name, Some(libc::ECANCELED))],
            "the cancel of {name}"
        );
        calls.borrow_mut().clear();
        assert_eq!(reactor.in_flight(), n as u32);
    }
    reactor.run().unwrap();
    assert!(calls.borrow().is_empty());
}
