//! The reactor: callbacks, futures, deadlines, cancellation by id, the
//! memory of dropped and forgotten futures, full queues, forged
//! completions, and shutdown with ops in flight.

use std::cell::{Cell, RefCell};
use std::io::{Read as _, Write as _};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use uring::reactor::ops::{Nop, Recv, Send, Timeout};
use uring::reactor::{Handle, IoBuf, IoBufMut, Reactor, SharedFd};
use uring::{Ring, ops::MsgRing};

/// A socket pair: one end for the reactor, one for the test.
fn pair() -> (SharedFd, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    (SharedFd::new(a), b)
}

/// Polls `future` once.
#[test]
fn a_callback_queues_from_inside_a_callback() {
    let reactor = Reactor::new().unwrap();
    let order = Rc::new(RefCell::new(Vec::new()));
    fn step(handle: Handle, order: Rc<RefCell<Vec<u32>>>, n: u32) {
        let h = handle.clone();
        handle
            .queue(Nop, move |result, ()| {
                assert_eq!(result.unwrap(), 0);
                order.borrow_mut().push(n);
                if n < 100 {
                    step(h, order, n + 1);
                }
            })
            .unwrap();
    }
    step(reactor.handle(), order.clone(), 1);
    reactor.run().unwrap();
    assert_eq!(*order.borrow(), (1..=100).collect::<Vec<_>>());
    assert_eq!(reactor.in_flight(), 0);
}

#[test]
fn a_callback_queues_into_the_slot_its_op_just_left() {
    // A one-shot op's slot is free again when its callback runs: the
    // next op queued there takes it over, under a new generation, while
    // the callback still holds the buffer the first op gave back. (Sends:
    // the bytes checked are the program's, which memcheck can follow.)
    let reactor = Reactor::new().unwrap();
    let (fd, mut peer) = pair();
    let h = reactor.handle();
    let ids = Rc::new(RefCell::new(Vec::new()));
    let back = Rc::new(RefCell::new(Vec::new()));
    let (ids2, back2, fd2) = (ids.clone(), back.clone(), fd.clone());
    let first = reactor
        .queue(Send::new(&fd, b"first".to_vec()), move |result, buf| {
            assert_eq!(result.unwrap(), 5);
            let second = h
                .queue(Send::new(&fd2, b"second".to_vec()), {
                    let back = back2.clone();
                    move |result, buf| {
                        assert_eq!(result.unwrap(), 6);
                        back.borrow_mut().push(buf);
                    }
                })
                .unwrap();
            // The callback's own op is done: its id cancels nothing, not
            // even the op now in its slot.
            let first = ids2.borrow()[0];
            assert!(!h.cancel(first).unwrap());
            ids2.borrow_mut().push(second);
            // The buffer handed back is the first op's, whole, after the
            // second op was written into the same slot.
            back2.borrow_mut().push(buf);
        })
        .unwrap();
    ids.borrow_mut().push(first);
    reactor.run().unwrap();
    let ids = ids.borrow();
    assert_eq!(ids.len(), 2);
    assert_eq!(
        ids[1].slot(),
        ids[0].slot(),
        "the freed slot is reused first"
    );
    assert_ne!(ids[1], ids[0]);
    let back = back.borrow();
    assert_eq!(back[0], b"first");
    assert_eq!(back[1], b"second");
    let mut got = [0u8; 11];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"firstsecond");
    assert_eq!(reactor.in_flight(), 0);
}

#[test]
fn futures_resolve_with_the_result_and_the_buffer() {
    let reactor = Reactor::new().unwrap();
    let (fd, mut peer) = pair();
    peer.write_all(b"through the reactor").unwrap();
    let (result, buf) = reactor
        .run_until(reactor.op(Recv::new(&fd, Vec::with_capacity(64))))
        .unwrap();
    assert_eq!(result.unwrap(), 19);
    assert_eq!(buf, b"through the reactor");
    assert_eq!(buf.capacity(), 64);
}

#[test]
fn a_deadline_cancels_the_op_as_the_kernel_does() {
    let reactor = Reactor::new().unwrap();
    let (fd, _peer) = pair();
    let got = Rc::new(RefCell::new(None));
    let g = got.clone();
    let start = Instant::now();
    let deadline = start + Duration::from_millis(100);
    reactor
        .queue_with_deadline(Recv::new(&fd, vec![0; 8]), deadline, move |r, buf| {
            *g.borrow_mut() = Some((r.map_err(|e| e.raw_os_error()), start.elapsed(), buf));
        })
        .unwrap();
    reactor.run().unwrap();
    let (result, elapsed, buf) = got.borrow_mut().take().expect("the callback ran");
    // The link timeout fired: the kernel cancelled the receive.
    assert_eq!(result, Err(Some(libc::ECANCELED)));
    assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(buf.len(), 8, "the buffer comes back");

    // An op that ends first keeps its own result: a timeout's ETIME.
    let got = Rc::new(Cell::new(None));
    let g = got.clone();
    let start = Instant::now();
    reactor
        .queue_with_deadline(
            Timeout::new(Duration::from_millis(20)),
            start + Duration::from_secs(10),
            move |r, ()| g.set(Some((r.map_err(|e| e.raw_os_error()), start.elapsed()))),
        )
        .unwrap();
    reactor.run().unwrap();
    let (result, elapsed) = got.get().unwrap();
    assert_eq!(result, Err(Some(libc::ETIME)));
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");

    // A deadline that has passed already cancels at once.
    let (result, ()) = reactor
        .run_until(reactor.op_with_deadline(Timeout::new(Duration::from_secs(10)), Instant::now()))
        .unwrap();
    assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
}

/// A deadline is a point in time: an op queued with one, whose reactor
/// runs only after it has passed (the program was busy), is cancelled as
/// soon as the kernel sees it, not a whole timeout later; for a future
/// too.
#[test]
fn a_deadline_that_passes_before_the_reactor_runs_holds() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let (fd, _peer) = pair();
    let got = Rc::new(RefCell::new(None));
    let g = got.clone();
    let deadline = Instant::now() + Duration::from_millis(300);
    reactor
        .queue_with_deadline(Recv::new(&fd, vec![0; 8]), deadline, move |r, _| {
            *g.borrow_mut() = Some(r.map_err(|e| e.raw_os_error()));
        })
        .unwrap();
    let future = reactor.op_with_deadline(Recv::new(&fd, vec![0; 8]), deadline);
    std::thread::sleep(Duration::from_millis(600));
    let run = Instant::now();
    let (result, _) = reactor.run_until(future).unwrap();
    reactor.run().unwrap();
    let took = run.elapsed();
    assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
    assert_eq!(got.borrow_mut().take(), Some(Err(Some(libc::ECANCELED))));
    // A relative timeout started at the submit would run 300 ms more.
    assert!(
        took < Duration::from_millis(250),
        "ran {took:?} past the deadline"
    );
}

#[test]
fn cancel_by_id_and_a_stale_id_cancels_nothing() {
    let reactor = Reactor::new().unwrap();
    let (fd, mut peer) = pair();
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    let id = reactor
        .queue(Recv::new(&fd, vec![0; 8]), move |r, _| {
            g.borrow_mut().push(r.map_err(|e| e.raw_os_error()))
        })
        .unwrap();
    reactor.submit().unwrap();
    assert!(reactor.cancel(id).unwrap(), "the op was in flight");
    reactor.run().unwrap();
    assert_eq!(*got.borrow(), [Err(Some(libc::ECANCELED))]);
    assert!(!reactor.cancel(id).unwrap(), "the op is done");

    // The slot is reused by the next op, under a new generation: the old id
    // does not name it.
    let g = got.clone();
    let next = reactor
        .queue(Recv::new(&fd, vec![0; 8]), move |r, buf| {
            g.borrow_mut().push(r.map_err(|e| e.raw_os_error()));
            assert_eq!(&buf[..5], b"later");
        })
        .unwrap();
    assert_eq!(next.slot(), id.slot(), "the slot is reused");
    assert_ne!(next, id);
    reactor.submit().unwrap();
    assert!(!reactor.cancel(id).unwrap(), "a stale id cancels nothing");
    peer.write_all(b"later").unwrap();
    reactor.run().unwrap();
    assert_eq!(*got.borrow(), [Err(Some(libc::ECANCELED)), Ok(5)]);
}

/// Two reactors hand out the same slots and generations; an id names the
/// op of the reactor that queued it, and cancels nothing on another.
#[test]
fn an_id_of_another_reactor_cancels_nothing() {
    let a = Reactor::new().unwrap();
    let b = Reactor::new().unwrap();
    let (fd_a, _peer_a) = pair();
    let (fd_b, mut peer_b) = pair();
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    let id_a = a
        .queue(Recv::new(&fd_a, vec![0; 8]), move |r, _| {
            g.borrow_mut().push(('a', r.map_err(|e| e.raw_os_error())))
        })
        .unwrap();
    let g = got.clone();
    let id_b = b
        .queue(Recv::new(&fd_b, vec![0; 8]), move |r, _| {
            g.borrow_mut().push(('b', r.map_err(|e| e.raw_os_error())))
        })
        .unwrap();
    assert_eq!(
        id_a.slot(),
        id_b.slot(),
        "both reactors use their first slot"
    );
    assert_ne!(id_a, id_b);
    a.submit().unwrap();
    b.submit().unwrap();
    assert!(!b.cancel(id_a).unwrap(), "a's id names no op of b");
    assert!(!a.cancel(id_b).unwrap(), "b's id names no op of a");
    assert!(a.cancel(id_a).unwrap());
    a.run().unwrap();
    peer_b.write_all(b"data").unwrap();
    b.run().unwrap();
    assert_eq!(
        *got.borrow(),
        [('a', Err(Some(libc::ECANCELED))), ('b', Ok(4))]
    );
}

/// What a canary held when dropped, and the ops in flight then.
type DropLog = Rc<RefCell<Vec<(Vec<u8>, u32)>>>;

/// A buffer that logs its drop: what it held, and how many ops the reactor
/// still had in flight then.
struct Canary {
    bytes: Vec<u8>,
    handle: Handle,
    log: DropLog,
}

// SAFETY: forwards to the vector.
unsafe impl IoBuf for Canary {
    fn stable_ptr(&self) -> *const u8 {
        self.bytes.stable_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.bytes.len()
    }
}

// SAFETY: forwards to the vector.
unsafe impl IoBufMut for Canary {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.bytes.stable_mut_ptr()
    }
    fn bytes_total(&self) -> usize {
        self.bytes.len()
    }
    unsafe fn set_init(&mut self, _: usize) {}
}

impl Drop for Canary {
    fn drop(&mut self) {
        self.log
            .borrow_mut()
            .push((self.bytes.clone(), self.handle.in_flight()));
    }
}

#[test]
fn a_dropped_future_keeps_its_buffer_until_the_completion() {
    let reactor = Reactor::new().unwrap();
    let (fd, mut peer) = pair();
    let log = Rc::new(RefCell::new(Vec::new()));
    let canary = Canary {
        bytes: vec![0xAA; 16],
        handle: reactor.handle(),
        log: log.clone(),
    };
    let mut future = reactor.op(Recv::new(&fd, canary));
    assert!(uring_tests::poll_once(&mut future).is_pending());
    reactor.submit().unwrap();
    // The receive is armed in the kernel. The data arrives before the
    // cancel is submitted: the kernel writes into the buffer of an op whose
    // future is gone.
    drop(future);
    peer.write_all(b"late data").unwrap();
    assert!(log.borrow().is_empty(), "the buffer outlives its future");
    // Other buffers come and go meanwhile; none is the canary's memory.
    let others: Vec<Vec<u8>> = (0..64).map(|_| vec![0x55; 16]).collect();
    reactor.run().unwrap();
    assert!(others.iter().all(|o| o.iter().all(|&b| b == 0x55)));
    let log = log.borrow();
    assert_eq!(log.len(), 1, "dropped once");
    let (bytes, in_flight) = &log[0];
    assert_eq!(*in_flight, 0, "dropped after the op's last completion");
    // Either the receive won (the data is in the canary's own memory) or
    // the cancel did (the canary is untouched): never elsewhere.
    assert!(
        bytes.starts_with(b"late data") || bytes.iter().all(|&b| b == 0xAA),
        "{bytes:?}"
    );
    // Whatever the cancel left unread is still in the socket.
    if bytes.iter().all(|&b| b == 0xAA) {
        let mut back = [0u8; 9];
        let mut end = UnixStream::from(fd.try_unwrap().unwrap());
        end.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"late data");
    }
}

#[test]
fn a_forgotten_future_leaks_nothing_the_kernel_uses() {
    let reactor = Reactor::new().unwrap();
    let (fd, mut peer) = pair();
    let log = Rc::new(RefCell::new(Vec::new()));
    let canary = Canary {
        bytes: vec![0xAA; 16],
        handle: reactor.handle(),
        log: log.clone(),
    };
    let mut future = reactor.op(Recv::new(&fd, canary));
    assert!(uring_tests::poll_once(&mut future).is_pending());
    std::mem::forget(future);
    reactor.submit().unwrap();
    peer.write_all(b"into the slab").unwrap();
    // Drive the ring until the receive has completed into the slab.
    while reactor.in_flight() > 0 {
        let _ = reactor
            .run_until(reactor.op(Timeout::new(Duration::from_millis(1))))
            .unwrap();
    }
    // The receive has completed into the slab, which keeps the buffer: a
    // forgotten future leaks its memory (and its hold on the reactor),
    // never frees it under the kernel.
    assert!(log.borrow().is_empty(), "the slab keeps the buffer");
    let start = Instant::now();
    drop(reactor);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(log.borrow().is_empty(), "still the slab's");
}

#[test]
fn more_ops_than_the_ring_holds() {
    // An 8-entry SQ and a 16-entry CQ for 5000 ops in flight at once.
    let reactor = Reactor::from_ring(Ring::new(8).unwrap()).unwrap();
    let done = Rc::new(Cell::new(0u32));
    let sum = Rc::new(Cell::new(0u64));
    for i in 0..5000u64 {
        let (d, s) = (done.clone(), sum.clone());
        reactor
            .queue(
                Timeout::new(Duration::from_millis(1 + i % 5)),
                move |r, ()| {
                    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ETIME));
                    d.set(d.get() + 1);
                    s.set(s.get() + i);
                },
            )
            .unwrap();
    }
    assert_eq!(reactor.in_flight(), 5000);
    reactor.run().unwrap();
    assert_eq!(done.get(), 5000, "none lost");
    assert_eq!(sum.get(), 4999 * 5000 / 2, "none twice");
}

#[test]
fn forged_completions_are_ignored() {
    let before = io_uring_fds();
    let reactor = Reactor::new().unwrap();
    let targets: Vec<i32> = io_uring_fds()
        .into_iter()
        .filter(|fd| !before.contains(fd))
        .collect();
    let (fd, mut peer) = pair();
    let mut future = reactor.op(Recv::new(&fd, vec![0; 8]));
    assert!(uring_tests::poll_once(&mut future).is_pending());
    reactor.submit().unwrap();
    // Find the reactor's ring among this process's descriptors and post
    // completions into it from another ring, with user_data values that
    // cover the first slots and generations.
    let mut other = Ring::new(64).unwrap();
    let mut posted = 0;
    for &fd in &targets {
        for ud in (0..16u64).flat_map(|slot| (0..8u64).map(move |g| g << 32 | slot)) {
            // SAFETY: `fd` is the reactor's ring, open for the whole test;
            // the message names no memory. Safe code cannot name another
            // ring by number: this stands for a forger with unsafe code.
            let mut forged = MsgRing::new(unsafe { uring::Fd::borrow_raw(fd) }, 0, ud).user_data(1);
            // SAFETY: as above; the ring outlives the op, reaped below.
            while let Err(full) = unsafe { other.push_unchecked(forged) } {
                forged = full.into_inner();
                other.submit_and_wait(1).unwrap();
                other.completions().for_each(drop);
            }
            posted += 1;
        }
    }
    other.submit_and_wait(1).unwrap();
    assert!(posted > 0);
    // Handle every completion in the reactor's ring: none names the
    // receive, which stays pending.
    let mut nops = reactor.op(Nop);
    let _ = reactor.run_until(&mut nops).unwrap();
    assert!(
        uring_tests::poll_once(&mut future).is_pending(),
        "a forged completion resolved it"
    );
    peer.write_all(b"real").unwrap();
    let (result, buf) = reactor.run_until(future).unwrap();
    assert_eq!(result.unwrap(), 4);
    assert_eq!(&buf[..4], b"real");
}

/// The io_uring descriptors of this process.
fn io_uring_fds() -> Vec<i32> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            let fd: i32 = e.file_name().to_str()?.parse().ok()?;
            target.to_str()?.contains("io_uring").then_some(fd)
        })
        .collect()
}

#[test]
fn dropping_the_reactor_cancels_and_waits() {
    let reactor = Reactor::new().unwrap();
    let mut peers = Vec::new();
    let results = Rc::new(RefCell::new(Vec::new()));
    for _ in 0..32 {
        let (fd, peer) = pair();
        peers.push(peer);
        let r = results.clone();
        reactor
            .queue(Recv::new(&fd, vec![7u8; 4]), move |res, buf| {
                r.borrow_mut()
                    .push((res.map_err(|e| e.raw_os_error()), buf))
            })
            .unwrap();
        let h = reactor.handle();
        let r = results.clone();
        reactor.spawn(async move {
            let (res, buf) = h.op(Recv::new(&fd, vec![7u8; 4])).await;
            r.borrow_mut()
                .push((res.map_err(|e| e.raw_os_error()), buf));
        });
    }
    // Run the tasks once, so that their receives are queued.
    reactor.run_until(async {}).unwrap();
    let _ = reactor.run_until(reactor.op(Nop)).unwrap();
    assert_eq!(reactor.in_flight(), 64);
    let handle = reactor.handle();
    let start = Instant::now();
    drop(reactor);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(handle.in_flight(), 0);
    assert!(handle.is_shut_down());
    // The callbacks ran with the kernel's cancellation and their buffers;
    // the tasks were dropped with their futures.
    let results = results.borrow();
    assert_eq!(results.len(), 32);
    for (res, buf) in results.iter() {
        assert_eq!(*res, Err(Some(libc::ECANCELED)));
        assert_eq!(buf, &[7u8; 4]);
    }
    // Nothing is accepted any more.
    assert!(handle.queue(Nop, |_, ()| {}).is_err());
    let (fd, _peer) = pair();
    let (res, buf) = {
        let mut f = handle.op(Recv::new(&fd, vec![1u8; 2]));
        match uring_tests::poll_once(&mut f) {
            Poll::Ready(out) => out,
            Poll::Pending => panic!("a shut-down reactor resolves at once"),
        }
    };
    assert!(res.is_err());
    assert_eq!(buf, [1, 1], "the buffer comes back");
}

#[test]
fn a_graceful_shutdown_from_a_task() {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (fd, _peer) = pair();
    let cancelled = Rc::new(Cell::new(false));
    let c = cancelled.clone();
    reactor
        .queue(Recv::new(&fd, vec![0; 4]), move |r, _| {
            c.set(r.unwrap_err().raw_os_error() == Some(libc::ECANCELED))
        })
        .unwrap();
    reactor.spawn(async move {
        let (r, ()) = h.op(Timeout::new(Duration::from_millis(10))).await;
        assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ETIME));
        h.shutdown();
    });
    // run returns once the shutdown has settled everything.
    reactor.run().unwrap();
    assert!(cancelled.get());
    assert_eq!(reactor.in_flight(), 0);
    assert!(reactor.run().is_err(), "a shut-down reactor does not run");
}

/// Drops into the reactor: its drop asks the reactor something, which
/// panics if the reactor is still borrowed when it runs.
struct AsksTheReactor {
    handle: Handle,
    dropped: Rc<Cell<u32>>,
}

impl Drop for AsksTheReactor {
    fn drop(&mut self) {
        let _ = self.handle.in_flight();
        self.dropped.set(self.dropped.get() + 1);
    }
}

#[test]
fn an_op_that_cannot_be_queued_drops_its_callback_outside_the_reactor() {
    // After a shutdown: refused before the op takes a slot.
    let reactor = Reactor::new().unwrap();
    let dropped = Rc::new(Cell::new(0));
    reactor.shutdown();
    let guard = AsksTheReactor {
        handle: reactor.handle(),
        dropped: dropped.clone(),
    };
    let err = reactor
        .queue(Nop, move |_, ()| drop(guard))
        .expect_err("a shut-down reactor queues nothing");
    assert_eq!(err.kind(), std::io::ErrorKind::Other, "{err}");
    assert_eq!(dropped.get(), 1);

    // A ring that refuses submissions (a single issuer driven from another
    // thread): the op is in its slot when the full SQ cannot be submitted,
    // and comes back out of it.
    let ring = match Ring::builder().single_issuer().build(2) {
        Ok(ring) => ring,
        Err(e) => {
            eprintln!("skipped the refused submission: IORING_SETUP_SINGLE_ISSUER: {e}");
            return;
        }
    };
    std::thread::spawn(move || {
        let reactor = Reactor::from_ring(ring).unwrap();
        let dropped = Rc::new(Cell::new(0));
        let mut refused = None;
        for n in 0..16 {
            let guard = AsksTheReactor {
                handle: reactor.handle(),
                dropped: dropped.clone(),
            };
            if let Err(e) = reactor.queue(Nop, move |_, ()| drop(guard)) {
                refused = Some((n, e));
                break;
            }
        }
        let (n, err) = refused.expect("the full SQ could not be submitted");
        assert_eq!(n, 2, "the first two NOPs fill the SQ");
        assert_eq!(err.raw_os_error(), Some(libc::EEXIST), "{err}");
        assert_eq!(dropped.get(), 1, "the refused callback is dropped");
        assert_eq!(reactor.in_flight(), 2);
        // A future refused the same way gives its op's memory back.
        let (fd, _peer) = pair();
        let mut refused = reactor.op(Recv::new(&fd, b"canary".to_vec()));
        let Poll::Ready((result, buf)) = uring_tests::poll_once(&mut refused) else {
            panic!("a refused op's future is ready at once");
        };
        assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::EEXIST));
        assert_eq!(buf, b"canary");
        assert_eq!(reactor.in_flight(), 2);
        // The two queued NOPs never reach the kernel: dropping the reactor
        // fails to wait for them and leaks them, never waits forever.
        drop(reactor);
    })
    .join()
    .unwrap();
}

#[test]
fn a_nested_run_is_refused() {
    let reactor = Reactor::new().unwrap();
    let inner = Rc::new(Cell::new(None));
    let i = inner.clone();
    let r2 = Rc::new(Reactor::new().unwrap());
    let r2c = r2.clone();
    // A run of another reactor inside a callback is fine; of the same one,
    // refused.
    let h = reactor.handle();
    reactor
        .queue(Nop, move |_, ()| {
            assert!(r2c.run().is_ok());
            let _ = &h;
            i.set(Some(true));
        })
        .unwrap();
    reactor.run().unwrap();
    assert_eq!(inner.get(), Some(true));
    let nested = Rc::new(Cell::new(None));
    let n = nested.clone();
    let reactor = Rc::new(reactor);
    let rc = reactor.clone();
    reactor
        .queue(Nop, move |_, ()| n.set(Some(rc.run().is_err())))
        .unwrap();
    reactor.run().unwrap();
    assert_eq!(nested.get(), Some(true));
}

#[test]
fn an_owned_descriptor_stays_open_while_an_op_uses_it() {
    let reactor = Reactor::new().unwrap();
    let (fd, mut peer) = pair();
    let raw = fd.as_raw_fd();
    let future = reactor.op(Recv::new(&fd, vec![0; 4]));
    drop(fd);
    // The op holds the descriptor: it is still open.
    assert!(uring_tests::fd_is_open(raw));
    peer.write_all(b"open").unwrap();
    let (r, buf) = reactor.run_until(future).unwrap();
    assert_eq!(r.unwrap(), 4);
    assert_eq!(buf, b"open");
}

#[test]
fn a_zero_copy_send_completes_once_at_its_notification() {
    let reactor = Reactor::new().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    let fd = SharedFd::new(client);
    let calls = Rc::new(RefCell::new(Vec::new()));
    let c = calls.clone();
    let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    reactor
        .queue(
            uring::reactor::ops::SendZc::new(&fd, data),
            move |r, buf| {
                c.borrow_mut()
                    .push((r.map_err(|e| e.raw_os_error()), buf.len()))
            },
        )
        .unwrap();
    let reader = std::thread::spawn(move || {
        let mut got = vec![0u8; 100_000];
        server.read_exact(&mut got).unwrap();
        got
    });
    reactor.run().unwrap();
    let got = reader.join().unwrap();
    let calls = calls.borrow();
    if let [(Err(Some(libc::EINVAL | libc::EOPNOTSUPP)), _)] = calls[..] {
        return uring_tests::skip("zero-copy sends are not supported here");
    }
    // One callback, with the send's byte count (not the notification's
    // result), and the buffer back once the kernel is done with it.
    assert_eq!(*calls, [(Ok(100_000), 100_000)]);
    assert!(got.iter().enumerate().all(|(i, &b)| b == i as u8));
}

#[test]
fn a_panicking_callback_leaves_the_reactor_usable() {
    let reactor = Reactor::new().unwrap();
    let ran = Rc::new(Cell::new(0));
    for n in 0..3 {
        let ran = ran.clone();
        reactor
            .queue(Nop, move |result, ()| {
                assert_eq!(result.unwrap(), 0);
                ran.set(ran.get() + 1);
                if n == 1 {
                    panic!("the second callback panics");
                }
            })
            .unwrap();
    }
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reactor.run()));
    let payload = run.expect_err("the callback's panic reaches the caller of run");
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"the second callback panics")
    );
    // The completions after the panic are still there, each handled once.
    reactor.run().unwrap();
    assert_eq!(ran.get(), 3);
    assert_eq!(reactor.in_flight(), 0);
    // And the reactor goes on: slots, the ring and the run flag are fine.
    let again = Rc::new(Cell::new(0));
    for _ in 0..600 {
        let again = again.clone();
        reactor
            .queue(Nop, move |r, ()| {
                assert_eq!(r.unwrap(), 0);
                again.set(again.get() + 1);
            })
            .unwrap();
    }
    reactor.run().unwrap();
    assert_eq!(again.get(), 600);
    assert_eq!(reactor.in_flight(), 0);
}

#[test]
fn a_callback_gets_the_ring_buffer_a_one_shot_receive_picked() {
    let reactor = Reactor::new().unwrap();
    let group = reactor
        .register_buf_ring(uring::BufferGroup::new(3), 2, 64)
        .unwrap();
    let (fd, mut peer) = pair();
    let got = Rc::new(RefCell::new(Vec::new()));
    // Three receives in turn on a ring of two buffers, each picking one;
    // each callback keeps the bytes and drops the buffer, so the third finds
    // one only because a dropped buffer went back to the ring.
    for _ in 0..3 {
        peer.write_all(b"picked").unwrap();
        let g = got.clone();
        reactor
            .queue(
                uring::reactor::ops::RecvRing::new(&fd, group),
                move |r, buf| {
                    let buf = buf.expect("a receive of data names a buffer");
                    assert_eq!(r.unwrap() as usize, buf.len());
                    g.borrow_mut().push(buf.to_vec());
                },
            )
            .unwrap();
        reactor.run().unwrap();
    }
    assert_eq!(*got.borrow(), vec![b"picked".to_vec(); 3]);
    // At the end of the stream: no buffer.
    drop(peer);
    let end = Rc::new(Cell::new(None));
    let e = end.clone();
    reactor
        .queue(
            uring::reactor::ops::RecvRing::new(&fd, group),
            move |r, buf| {
                e.set(Some((r.unwrap(), buf.is_none())));
            },
        )
        .unwrap();
    reactor.run().unwrap();
    assert_eq!(end.get(), Some((0, true)));
    assert_eq!(reactor.in_flight(), 0);
}

#[test]
fn a_vectored_read_fills_its_buffers_in_turn() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let mut file = tempfile::tempfile().unwrap();
    let data: Vec<u8> = (0..100u8).collect();
    file.write_all(&data).unwrap();
    let fd = SharedFd::new(file);
    // A vector with spare capacity, a boxed slice, and a third buffer the
    // file runs out before.
    let mut partly = Vec::with_capacity(30);
    partly.extend_from_slice(&[0xee; 5]);
    let room = partly.capacity();
    let (result, bufs) = reactor
        .run_until(reactor.op(uring::reactor::ops::ReadV::new(
            &fd,
            vec![partly, Vec::new(), Vec::with_capacity(200)],
            10,
        )))
        .unwrap();
    let n = result.unwrap();
    assert_eq!(n, 90, "from offset 10 to the end");
    assert_eq!(
        bufs[0],
        &data[10..10 + room],
        "the first buffer, to its capacity"
    );
    assert!(bufs[1].is_empty(), "a buffer with no room takes nothing");
    assert_eq!(bufs[2], &data[10 + room..100], "the rest");
}

#[test]
fn a_vectored_write_sends_its_buffers_in_order() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let (fd, mut peer) = pair();
    let bufs = vec![
        b"one ".to_vec().slice(..),
        b"-two ".to_vec().slice(1..),
        b"three".to_vec().slice(..),
    ];
    let (result, back) = reactor
        .run_until(reactor.op(uring::reactor::ops::WriteV::new(&fd, bufs, u64::MAX)))
        .unwrap();
    assert_eq!(result.unwrap(), 13);
    assert_eq!(back.len(), 3, "every buffer back");
    assert_eq!(back[1].get_ref(), b"-two ", "whole, once unwrapped");
    let mut got = [0u8; 13];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"one two three");
}

#[test]
fn a_vectored_send_sends_its_buffers_in_order() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(6, 17, "a vectored send (IORING_SEND_VECTORIZED)") {
        return;
    }
    let reactor = Reactor::new().unwrap();
    let (fd, mut peer) = pair();
    let bufs = vec![
        b"one ".to_vec().slice(..),
        Vec::new().slice(..),
        b"-two ".to_vec().slice(1..),
        b"three".to_vec().slice(..),
    ];
    let (result, back) = reactor
        .run_until(reactor.op(uring::reactor::ops::SendV::new(&fd, bufs)))
        .unwrap();
    assert_eq!(result.unwrap(), 13);
    assert_eq!(back.len(), 4, "every buffer back");
    assert_eq!(back[2].get_ref(), b"-two ", "whole, once unwrapped");
    let mut got = [0u8; 13];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"one two three");
    // Nothing more came: the peer's next read finds the socket empty.
    peer.set_nonblocking(true).unwrap();
    let mut more = [0u8; 1];
    assert_eq!(
        peer.read(&mut more).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
}

#[test]
fn an_accept_gives_the_peer_s_address() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let at = listener.local_addr().unwrap();
    let fd = SharedFd::new(listener);
    let client = std::net::TcpStream::connect(at).unwrap();
    let (result, accepted) = reactor
        .run_until(reactor.op(uring::reactor::ops::AcceptFrom::new(&fd)))
        .unwrap();
    let raw = result.unwrap();
    let (socket, peer) = accepted.expect("a socket");
    assert_eq!(socket.as_raw_fd() as u32, raw);
    assert_eq!(peer, Some(client.local_addr().unwrap()));
    // On a Unix listener, the address is of another family.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let unix = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let fd = SharedFd::new(unix);
    let _client = UnixStream::connect(&path).unwrap();
    let (result, accepted) = reactor
        .run_until(reactor.op(uring::reactor::ops::AcceptFrom::new(&fd)))
        .unwrap();
    assert!(result.is_ok());
    let (_, peer) = accepted.expect("a socket");
    assert_eq!(peer, None);
    // A failed accept gives nothing back.
    let (file, _) = uring_tests::pipe();
    let fd = SharedFd::new(file);
    let (result, accepted) = reactor
        .run_until(reactor.op(uring::reactor::ops::AcceptFrom::new(&fd)))
        .unwrap();
    assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::ENOTSOCK));
    assert!(accepted.is_none());
}

#[test]
fn descriptors_pass_through_a_unix_socket() {
    use std::os::fd::AsFd;
    use uring::reactor::ops::{RecvWithFds, SendWithFds};
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    let (a, b) = (SharedFd::new(a), SharedFd::new(b));
    let (rx1, tx1) = uring_tests::pipe();
    let (rx2, tx2) = uring_tests::pipe();
    let (result, (buf, back)) = reactor
        .run_until(reactor.op(SendWithFds::new(&a, b"two files".to_vec(), vec![tx1, tx2])))
        .unwrap();
    assert_eq!(result.unwrap(), 9);
    assert_eq!(buf, b"two files");
    assert_eq!(back.len(), 2, "the sender's descriptors come back");
    drop(back);
    let (result, (buf, fds)) = reactor
        .run_until(reactor.op(RecvWithFds::new(&b, Vec::with_capacity(64), 4)))
        .unwrap();
    assert_eq!(result.unwrap(), 9);
    assert_eq!(buf, b"two files");
    assert_eq!(fds.len(), 2, "{fds:?}");
    let pipes = [(rx1, "first"), (rx2, "second")];
    for (fd, (rx, name)) in fds.into_iter().zip(pipes) {
        let mut rx = std::fs::File::from(rx);
        // SAFETY: F_GETFD reads the flags of a descriptor this test owns.
        let flags = unsafe { libc::fcntl(fd.as_fd().as_raw_fd(), libc::F_GETFD) };
        assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC, "close-on-exec");
        // Writing through the received descriptor reaches the pipe.
        let mut w = std::fs::File::from(fd);
        w.write_all(name.as_bytes()).unwrap();
        drop(w);
        let mut got = vec![0u8; name.len()];
        rx.read_exact(&mut got).unwrap();
        assert_eq!(got, name.as_bytes());
    }
}

#[test]
fn descriptors_without_room_are_closed_by_the_kernel() {
    use uring::reactor::ops::{RecvWithFds, SendWithFds};
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    let (a, b) = (SharedFd::new(a), SharedFd::new(b));
    let (rx, tx) = uring_tests::pipe();
    let (result, (_, back)) = reactor
        .run_until(reactor.op(SendWithFds::new(&a, b"x".to_vec(), vec![tx])))
        .unwrap();
    assert_eq!(result.unwrap(), 1);
    drop(back);
    let (result, (buf, fds)) = reactor
        .run_until(reactor.op(RecvWithFds::new(&b, Vec::with_capacity(8), 0)))
        .unwrap();
    assert_eq!(result.unwrap(), 1);
    assert_eq!(buf, b"x");
    assert!(fds.is_empty(), "{fds:?}");
    // The only write end was in flight and is gone, none installed in this
    // process: the pipe reads EOF.
    let mut rx = std::fs::File::from(rx);
    let mut rest = Vec::new();
    rx.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    // A message without descriptors gives none.
    let (result, _) = reactor
        .run_until(reactor.op(Send::new(&a, b"plain".to_vec())))
        .unwrap();
    assert_eq!(result.unwrap(), 5);
    let (result, (buf, fds)) = reactor
        .run_until(reactor.op(RecvWithFds::new(&b, Vec::with_capacity(8), 8)))
        .unwrap();
    assert_eq!(result.unwrap(), 5);
    assert_eq!(buf, b"plain");
    assert!(fds.is_empty());
}

#[test]
fn file_ops_open_allocate_sync_and_stat() {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use uring::reactor::ops::{Fallocate, Fsync, OpenAt, Statx, Write};
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let c = |p: &std::path::Path| CString::new(p.as_os_str().as_bytes()).unwrap();
    // Created by an absolute path, relative to the working directory's
    // rules (an absolute path ignores the directory).
    let (result, fd) = reactor
        .run_until(reactor.op(OpenAt::new(c(&path), libc::O_CREAT | libc::O_RDWR, 0o600)))
        .unwrap();
    let raw = result.unwrap();
    let fd = SharedFd::new(fd.expect("a descriptor"));
    assert_eq!(fd.as_raw_fd() as u32, raw);
    // SAFETY: F_GETFD reads the flags of a descriptor the test owns.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
    assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC, "close-on-exec");
    let (result, _) = reactor
        .run_until(reactor.op(Write::new(&fd, b"0123456789".to_vec(), 0)))
        .unwrap();
    assert_eq!(result.unwrap(), 10);
    for op in [Fsync::new(&fd), Fsync::data(&fd)] {
        let (result, ()) = reactor.run_until(reactor.op(op)).unwrap();
        assert_eq!(result.unwrap(), 0);
    }
    let (result, ()) = reactor
        .run_until(reactor.op(Fallocate::new(&fd, 0, 1 << 20)))
        .unwrap();
    assert_eq!(result.unwrap(), 0);
    let (result, st) = reactor.run_until(reactor.op(Statx::of(&fd))).unwrap();
    assert_eq!(result.unwrap(), 0);
    assert_eq!(st.stx_size, 1 << 20, "allocated to 1 MiB");
    assert_eq!(st.stx_mode as u32 & libc::S_IFMT, libc::S_IFREG);
    assert_eq!(st.stx_mode as u32 & 0o777, 0o600);
    // Relative to a directory, by name.
    let dirfd = SharedFd::new(std::fs::File::open(dir.path()).unwrap());
    let (result, st) = reactor
        .run_until(reactor.op(Statx::new(CString::new("data").unwrap()).in_dir(&dirfd)))
        .unwrap();
    assert_eq!(result.unwrap(), 0);
    assert_eq!(st.stx_size, 1 << 20);
    let (result, again) = reactor
        .run_until(
            reactor
                .op(OpenAt::new(CString::new("data").unwrap(), libc::O_RDONLY, 0).in_dir(&dirfd)),
        )
        .unwrap();
    assert!(result.is_ok());
    let mut text = [0u8; 10];
    std::fs::File::from(again.expect("a descriptor"))
        .read_exact(&mut text)
        .unwrap();
    assert_eq!(&text, b"0123456789");
    // What is not there fails, with nothing to own.
    let (result, none) = reactor
        .run_until(reactor.op(OpenAt::new(
            c(&dir.path().join("missing")),
            libc::O_RDONLY,
            0,
        )))
        .unwrap();
    assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::ENOENT));
    assert!(none.is_none());
    let (result, _) = reactor
        .run_until(reactor.op(Statx::new(c(&dir.path().join("missing")))))
        .unwrap();
    assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::ENOENT));
}

#[test]
fn directory_ops_make_rename_and_remove() {
    use std::ffi::CString;
    use uring::reactor::ops::{MkdirAt, OpenAt, RenameAt, UnlinkAt};
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let base = tempfile::tempdir().unwrap();
    let dir = SharedFd::new(std::fs::File::open(base.path()).unwrap());
    let name = |s: &str| CString::new(s).unwrap();
    fn go<O: uring::reactor::Op>(reactor: &Reactor, op: O) -> std::io::Result<u32> {
        reactor.run_until(reactor.op(op)).unwrap().0
    }
    assert_eq!(
        go(&reactor, MkdirAt::new(name("sub"), 0o750).in_dir(&dir)).unwrap(),
        0
    );
    let meta = std::fs::metadata(base.path().join("sub")).unwrap();
    assert!(meta.is_dir());
    let err = go(&reactor, MkdirAt::new(name("sub"), 0o750).in_dir(&dir)).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EEXIST));
    // A file written under a temporary name, then renamed over the real
    // one: the atomic replacement.
    std::fs::write(base.path().join("sub/data"), b"old").unwrap();
    std::fs::write(base.path().join("sub/data.tmp"), b"new").unwrap();
    let (result, _) = reactor
        .run_until(
            reactor
                .op(OpenAt::new(name("sub"), libc::O_RDONLY | libc::O_DIRECTORY, 0).in_dir(&dir)),
        )
        .unwrap();
    assert!(result.is_ok());
    let renamed = go(
        &reactor,
        RenameAt::new(name("sub/data.tmp"), name("sub/data")).in_dir(&dir),
    );
    assert_eq!(renamed.unwrap(), 0);
    assert_eq!(std::fs::read(base.path().join("sub/data")).unwrap(), b"new");
    assert!(!base.path().join("sub/data.tmp").exists());
    // RENAME_NOREPLACE refuses to replace.
    std::fs::write(base.path().join("sub/other"), b"x").unwrap();
    let refused = go(
        &reactor,
        RenameAt::new(name("sub/other"), name("sub/data"))
            .in_dir(&dir)
            .flags(libc::RENAME_NOREPLACE),
    );
    assert_eq!(refused.unwrap_err().raw_os_error(), Some(libc::EEXIST));
    // Removing: files, then the directory; a directory is not a file.
    let not_file = go(&reactor, UnlinkAt::new(name("sub")).in_dir(&dir)).unwrap_err();
    assert_eq!(not_file.raw_os_error(), Some(libc::EISDIR));
    for f in ["sub/data", "sub/other"] {
        assert_eq!(
            go(&reactor, UnlinkAt::new(name(f)).in_dir(&dir)).unwrap(),
            0
        );
    }
    assert_eq!(
        go(&reactor, UnlinkAt::dir(name("sub")).in_dir(&dir)).unwrap(),
        0
    );
    assert!(!base.path().join("sub").exists());
}
