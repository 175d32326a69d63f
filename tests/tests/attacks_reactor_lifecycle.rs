//! Lifecycles at the edges of `uring::reactor` and `uring::net`, driven
//! from safe code only: handles that outlive their reactor, the last
//! `SharedFd` dropped under one-shot and multishot ops (the number must not
//! be reused while the kernel may still act on it), stale ids of streams
//! and multishot callbacks whose slot holds a later op, deadlines that fire
//! as their op completes (no byte lost), futures of one reactor awaited in
//! another's run or moved between tokio `LocalSet`s, a reactor dropped from
//! its own callback, shutdowns from wakers, tokio runtimes dropped before
//! the reactor's handles, several reactors on one descriptor, dropped
//! datagram receives, and `poll_write` with buffers that change while a
//! send is pending.
//!
//! Each test asserts what the kernel really did: which bytes a socket still
//! holds, which descriptor numbers are open, which ops completed and how
//! often.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use uring::BufferGroup;
use uring::PollEvents;
use uring::net::{TcpStream, UdpSocket};
use uring::reactor::ops::{AcceptMulti, Nop, PollMulti, Recv, Timeout};
use uring::reactor::{Handle, Reactor, SharedFd};

use uring_tests::watchdog;

fn any() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A socket pair: ours shared (plus a duplicate of it, to look at what
/// the socket still holds without the reactor), and the peer.
fn pair() -> (SharedFd, UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    let dup = a.try_clone().unwrap();
    dup.set_nonblocking(true).unwrap();
    (SharedFd::new(a), dup, b)
}

/// What the socket holds now, read without waiting.
fn drain(dup: &mut UnixStream) -> Vec<u8> {
    let mut all = Vec::new();
    let mut b = [0u8; 256];
    loop {
        match dup.read(&mut b) {
            Ok(0) => return all,
            Ok(n) => all.extend_from_slice(&b[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return all,
            Err(e) => panic!("{e}"),
        }
    }
}

/// The device and inode `number` names, if it is open.
fn inode(number: RawFd) -> Option<(u64, u64)> {
    // SAFETY: all-zero bytes are a valid `stat`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: inspection only: fstat(2) writes into `st`, alive for the call.
    let rc = unsafe { libc::fstat(number, &mut st) };
    (rc == 0).then_some((st.st_dev, st.st_ino))
}

/// Files opened until one gets a number at or above `number`: if `number`
/// were free, one of them would get it.
fn open_files_past(number: RawFd) -> Vec<std::fs::File> {
    let mut files = Vec::new();
    loop {
        let f = std::fs::File::open("/dev/null").unwrap();
        let got = f.as_raw_fd();
        files.push(f);
        if got >= number {
            return files;
        }
    }
}

// ---------------------------------------------------------------------------
// Handles that outlive their reactor
// ---------------------------------------------------------------------------

/// Every way of queueing through a handle kept after its reactor was
/// dropped fails, gives the op (and so its descriptor and buffer) back at
/// once, and leaves the socket's bytes where they are.
#[test]
fn a_handle_outliving_its_reactor_queues_nothing_and_gives_every_op_back() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (fd, mut dup, mut peer) = pair();
    let old = h.queue(Nop, |_, ()| {}).unwrap();
    reactor.run().unwrap();
    drop(reactor);
    assert!(h.is_shut_down());
    assert!(h.queue(Recv::new(&fd, vec![0u8; 8]), |_, _| {}).is_err());
    assert!(
        h.queue_multishot(PollMulti::new(&fd, PollEvents::IN), |_| {})
            .is_err()
    );
    assert!(
        h.queue_with_deadline(
            Recv::new(&fd, vec![0u8; 8]),
            Instant::now() + Duration::from_secs(1),
            |_, _| {}
        )
        .is_err()
    );
    let mut f = h.op(Recv::new(&fd, vec![7u8; 3]));
    match uring_tests::poll_once(&mut f) {
        Poll::Ready((r, buf)) => {
            assert!(r.is_err());
            assert_eq!(buf, [7, 7, 7], "the buffer comes back untouched");
        }
        Poll::Pending => panic!("an op of a shut-down reactor is pending"),
    }
    let mut s = h.stream(PollMulti::new(&fd, PollEvents::IN));
    assert!(s.failure().is_some());
    assert!(matches!(
        uring_tests::poll_once(&mut s.next()),
        Poll::Ready(None)
    ));
    drop(s);
    assert!(
        h.register_buf_ring(BufferGroup::new(3), 4, 64).is_err(),
        "a buffer ring registered after the shutdown"
    );
    assert!(!h.cancel(old).unwrap());
    h.submit().unwrap();
    h.shutdown();
    assert_eq!(h.in_flight(), 0);
    // No op keeps the descriptor: it is ours alone.
    let fd = fd.try_unwrap().expect("an op kept the descriptor");
    peer.write_all(b"untouched").unwrap();
    assert_eq!(drain(&mut dup), b"untouched");
    drop(fd);
}

// ---------------------------------------------------------------------------
// The last SharedFd dropped under ops in flight
// ---------------------------------------------------------------------------

/// A multishot poll whose descriptor's every `SharedFd` is dropped keeps
/// the number open until its last completion: files opened meanwhile get
/// other numbers, the poll goes on reporting the socket's own events, and
/// the number is closed once the poll is cancelled and reaped.
#[test]
fn the_last_shared_fd_dropped_under_a_multishot_poll_keeps_its_number_to_the_end() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (fd, dup, mut peer) = pair();
    drop(dup);
    let number = fd.as_raw_fd();
    let socket = inode(number);
    let events = Rc::new(RefCell::new(Vec::new()));
    let e = Rc::clone(&events);
    let id = h
        .queue_multishot(PollMulti::new(&fd, PollEvents::IN), move |item| {
            e.borrow_mut().push(item.map(|ev| ev.bits()))
        })
        .unwrap();
    reactor.submit().unwrap();
    drop(fd);
    let files = open_files_past(number);
    assert!(
        files.iter().all(|f| f.as_raw_fd() != number),
        "{number} was reused under the poll"
    );
    peer.write_all(b"x").unwrap();
    uring_tests::run_for(&reactor, 20);
    assert!(
        events
            .borrow()
            .iter()
            .any(|ev| matches!(ev, Ok(bits) if bits & libc::POLLIN as u32 != 0)),
        "the poll saw the socket's bytes: {:?}",
        events.borrow()
    );
    assert_eq!(inode(number), socket);
    assert!(h.cancel(id).unwrap());
    uring_tests::run_for(&reactor, 20);
    assert_eq!(h.in_flight(), 0);
    // (Another test's thread may have opened a file under the number since.)
    assert_ne!(inode(number), socket, "the poll's end closed the socket");
    drop(files);
}

/// A multishot accept whose stream and listener are both dropped keeps the
/// listener's number until the cancel ends the accept; then the number is
/// closed, and a connection made meanwhile was not left accepted and
/// unowned (its peer sees the end of the stream).
#[test]
fn a_dropped_accept_stream_keeps_its_listener_s_number_until_its_cancel_ends() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = std::net::TcpListener::bind(any()).unwrap();
    let addr = listener.local_addr().unwrap();
    let fd = SharedFd::new(listener);
    let number = fd.as_raw_fd();
    let socket = inode(number);
    let mut stream = h.stream(AcceptMulti::new(&fd));
    assert!(uring_tests::poll_once(&mut stream.next()).is_pending());
    reactor.submit().unwrap();
    drop(fd);
    drop(stream);
    let files = open_files_past(number);
    assert!(files.iter().all(|f| f.as_raw_fd() != number));
    assert_eq!(inode(number), socket);
    uring_tests::run_for(&reactor, 20);
    assert_eq!(h.in_flight(), 0);
    assert_ne!(
        inode(number),
        socket,
        "the accept's end closed the listener"
    );
    drop(files);
    // The listener is gone: nothing accepts there any more.
    assert!(std::net::TcpStream::connect(addr).is_err());
}

// ---------------------------------------------------------------------------
// Stale ids
// ---------------------------------------------------------------------------

/// The id of a stream that ended names nothing once a later stream holds
/// its slot: cancelling with it leaves the later stream running.
#[test]
fn a_stale_id_of_an_ended_stream_does_not_cancel_the_stream_in_its_slot() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (fd, dup, mut peer) = pair();
    drop(dup);
    let mut first = h.stream(PollMulti::new(&fd, PollEvents::IN));
    let stale = first.id().unwrap();
    assert!(h.cancel(stale).unwrap());
    let mut items = 0;
    reactor
        .run_until(async {
            while first.next().await.is_some() {
                items += 1;
            }
        })
        .unwrap();
    assert!(items >= 1, "the cancelled stream ended with its error");
    drop(first);
    let mut second = h.stream(PollMulti::new(&fd, PollEvents::IN));
    let live = second.id().unwrap();
    assert_eq!(live.slot(), stale.slot(), "the later stream took the slot");
    assert_ne!(live, stale);
    assert!(
        !h.cancel(stale).unwrap(),
        "the stale id cancelled something"
    );
    reactor.submit().unwrap();
    peer.write_all(b"y").unwrap();
    let got = reactor.run_until(second.next()).unwrap();
    assert!(matches!(got, Some(Ok(ev)) if ev.contains(PollEvents::IN)));
    assert_eq!(h.in_flight(), 1, "the later stream still runs");
    assert!(h.cancel(live).unwrap());
    drop(second);
    uring_tests::run_for(&reactor, 10);
    assert_eq!(h.in_flight(), 0);
}

/// A multishot callback that, at its op's last completion, queues the next
/// multishot op (which may take the same slot): the earlier op's id cancels
/// nothing, and the later op keeps reporting.
#[test]
fn a_stale_id_does_not_cancel_the_op_a_multishot_callback_re_armed() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (fd, dup, mut peer) = pair();
    drop(dup);
    let rearmed: Rc<Cell<Option<uring::reactor::OpId>>> = Rc::new(Cell::new(None));
    let later_items = Rc::new(Cell::new(0u32));
    let (h2, fd2, r2, li) = (
        h.clone(),
        fd.clone(),
        Rc::clone(&rearmed),
        Rc::clone(&later_items),
    );
    let first = h
        .queue_multishot(PollMulti::new(&fd, PollEvents::IN), move |item| {
            if item.is_err() && r2.get().is_none() {
                // The cancelled op's last completion: arm the next.
                let li = Rc::clone(&li);
                let id = h2
                    .queue_multishot(PollMulti::new(&fd2, PollEvents::IN), move |item| {
                        if item.is_ok() {
                            li.set(li.get() + 1);
                        }
                    })
                    .unwrap();
                r2.set(Some(id));
            }
        })
        .unwrap();
    assert!(h.cancel(first).unwrap());
    uring_tests::run_for(&reactor, 10);
    let second = rearmed.get().expect("the callback re-armed");
    assert_ne!(second, first);
    assert!(
        !h.cancel(first).unwrap(),
        "the stale id cancelled the re-armed op"
    );
    peer.write_all(b"z").unwrap();
    uring_tests::run_for(&reactor, 20);
    assert!(later_items.get() >= 1, "the re-armed poll was cancelled");
    assert!(h.cancel(second).unwrap());
    uring_tests::run_for(&reactor, 10);
    assert_eq!(h.in_flight(), 0);
}

// ---------------------------------------------------------------------------
// Deadlines at the moment of completion
// ---------------------------------------------------------------------------

/// Receives whose deadline is now, on a socket that has bytes or gets them
/// at that moment: each completes once, with bytes or cancelled, and a
/// cancelled one took nothing from the socket. Every byte sent is found,
/// in order, in the receives' buffers or still in the socket.
#[test]
fn deadlines_that_fire_as_receives_complete_lose_no_byte() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (fd, mut dup, mut peer) = pair();
    let mut got = Vec::new();
    let mut sent = Vec::new();
    let mut cancelled = 0;
    for i in 0..400u32 {
        let byte = (i % 251) as u8;
        if i % 2 == 0 {
            peer.write_all(&[byte]).unwrap();
        }
        let f = h.op_with_deadline(Recv::new(&fd, Vec::with_capacity(1)), Instant::now());
        if i % 2 == 1 {
            h.submit().unwrap();
            peer.write_all(&[byte]).unwrap();
        }
        sent.push(byte);
        let (r, buf) = reactor.run_until(f).unwrap();
        match r {
            Ok(n) => {
                assert_eq!(n as usize, buf.len());
                got.extend_from_slice(&buf);
            }
            Err(e) => {
                assert!(
                    matches!(e.raw_os_error(), Some(libc::ECANCELED | libc::EINTR)),
                    "{e}"
                );
                assert!(buf.is_empty(), "a cancelled receive claims bytes");
                cancelled += 1;
            }
        }
    }
    assert_eq!(h.in_flight(), 0);
    got.extend(drain(&mut dup));
    assert_eq!(got, sent, "bytes lost or reordered ({cancelled} cancelled)");
}

// ---------------------------------------------------------------------------
// Futures across reactors and runtimes
// ---------------------------------------------------------------------------

/// A future of reactor A awaited inside reactor B's run, while A runs
/// nested in it: the completion A reads wakes B's future, which resolves
/// once with A's result.
#[test]
fn a_future_of_one_reactor_awaited_in_another_s_run_resolves_once() {
    let _watch = watchdog();
    let a = Reactor::new().unwrap();
    let b = Reactor::new().unwrap();
    let (fd, mut dup, mut peer) = pair();
    peer.write_all(b"for a").unwrap();
    let mut f = a.op(Recv::new(&fd, Vec::with_capacity(16)));
    let out = b
        .run_until(async {
            std::future::poll_fn(|cx| {
                assert!(Pin::new(&mut f).poll(cx).is_pending());
                Poll::Ready(())
            })
            .await;
            // A runs inside B's run: the receive completes there and wakes
            // this future through B's waker.
            uring_tests::run_for(&a, 20);
            (&mut f).await
        })
        .unwrap();
    let (r, buf) = out;
    assert_eq!(r.unwrap(), 5);
    assert_eq!(buf, b"for a");
    assert_eq!(a.in_flight(), 0);
    assert_eq!(b.in_flight(), 0);
    assert!(drain(&mut dup).is_empty());
    assert!(
        matches!(uring_tests::poll_once(&mut f), Poll::Pending),
        "resolved twice"
    );
}

/// Two reactors receive on one shared descriptor; one is dropped with its
/// receive in flight (cancelled and waited for): every byte sent after
/// reaches the other's receive or stays in the socket.
#[test]
fn a_reactor_dropped_while_another_reads_the_same_socket_takes_no_byte() {
    let _watch = watchdog();
    let a = Reactor::new().unwrap();
    let b = Reactor::new().unwrap();
    let (fd, mut dup, mut peer) = pair();
    let mut fa = a.op(Recv::new(&fd, vec![0u8; 64]));
    assert!(uring_tests::poll_once(&mut fa).is_pending());
    let mut fb = b.op(Recv::new(&fd, Vec::with_capacity(64)));
    assert!(uring_tests::poll_once(&mut fb).is_pending());
    a.submit().unwrap();
    b.submit().unwrap();
    drop(a);
    match uring_tests::poll_once(&mut fa) {
        Poll::Ready((r, buf)) => {
            assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
            assert!(buf.iter().all(|&x| x == 0));
        }
        Poll::Pending => panic!("the dropped reactor's receive is still pending"),
    }
    peer.write_all(b"only for b").unwrap();
    let (r, buf) = b.run_until(fb).unwrap();
    let n = r.unwrap() as usize;
    let mut all = buf[..n].to_vec();
    all.extend(drain(&mut dup));
    assert_eq!(all, b"only for b");
}

/// A receive detached from its future is cancelled and waited for when its
/// reactor is dropped: bytes sent afterwards stay in the socket, and the
/// descriptor is the program's alone again.
#[test]
fn a_detached_receive_is_ended_by_the_reactor_s_drop_and_takes_nothing() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (fd, mut dup, mut peer) = pair();
    let f = h.op(Recv::new(&fd, vec![0u8; 64]));
    reactor.submit().unwrap();
    f.detach();
    assert_eq!(h.in_flight(), 1);
    drop(reactor);
    assert_eq!(h.in_flight(), 0);
    let fd = fd
        .try_unwrap()
        .expect("the detached receive kept the socket");
    peer.write_all(b"after the drop").unwrap();
    assert_eq!(drain(&mut dup), b"after the drop");
    drop(fd);
}

/// A reactor whose only owner is its own callback's closure, dropped from
/// that callback while a handle's shutdown reaps: the nested shutdown ends
/// every other op once, and nothing reads the socket afterwards.
#[test]
fn a_reactor_dropped_from_its_own_callback_during_a_shutdown() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (fd, mut dup, mut peer) = pair();
    let calls = Rc::new(Cell::new(0u32));
    let owner = Rc::new(RefCell::new(Some(reactor)));
    let (o, c) = (Rc::clone(&owner), Rc::clone(&calls));
    h.queue(Timeout::new(Duration::from_secs(30)), move |_, ()| {
        c.set(c.get() + 1);
        let taken = o.borrow_mut().take();
        drop(taken);
    })
    .unwrap();
    for _ in 0..8 {
        let c = Rc::clone(&calls);
        h.queue(Recv::new(&fd, vec![0u8; 16]), move |r, buf| {
            assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
            assert!(buf.iter().all(|&x| x == 0));
            c.set(c.get() + 1);
        })
        .unwrap();
    }
    h.submit().unwrap();
    drop(owner);
    h.shutdown();
    assert_eq!(calls.get(), 9, "each callback once");
    assert_eq!(h.in_flight(), 0);
    peer.write_all(b"nobody reads").unwrap();
    assert_eq!(drain(&mut dup), b"nobody reads");
    assert!(fd.try_unwrap().is_ok());
}

thread_local! {
    static SHUT_BY_WAKER: RefCell<Option<Handle>> = const { RefCell::new(None) };
}

/// A waker that shuts the thread's reactor down when woken.
struct ShutdownWaker;

impl Wake for ShutdownWaker {
    fn wake(self: Arc<Self>) {
        let h = SHUT_BY_WAKER.with(|s| s.borrow_mut().take());
        if let Some(h) = h {
            h.shutdown();
        }
    }
}

/// A future's waker that shuts the reactor down as the reactor wakes it
/// (from the middle of its reap): the nested shutdown ends the other ops
/// once, the outer run returns, and the woken future has its result.
#[test]
fn a_waker_that_shuts_the_reactor_down_from_inside_the_reap() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (fd, mut dup, mut peer) = pair();
    SHUT_BY_WAKER.with(|s| *s.borrow_mut() = Some(h.clone()));
    let waker = Waker::from(Arc::new(ShutdownWaker));
    let mut woken = h.op(Nop);
    assert!(
        Pin::new(&mut woken)
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    );
    let cancelled = Rc::new(Cell::new(0u32));
    for _ in 0..4 {
        let c = Rc::clone(&cancelled);
        h.queue(Recv::new(&fd, vec![0u8; 8]), move |r, _| {
            assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
            c.set(c.get() + 1);
        })
        .unwrap();
    }
    let (r, ()) = reactor
        .run_until(h.op(Timeout::new(Duration::from_secs(30))))
        .unwrap();
    assert!(r.is_err());
    assert!(h.is_shut_down());
    assert_eq!(cancelled.get(), 4);
    assert_eq!(h.in_flight(), 0);
    match uring_tests::poll_once(&mut woken) {
        Poll::Ready((r, ())) => assert_eq!(r.unwrap(), 0),
        Poll::Pending => panic!("the woken future lost its result"),
    }
    peer.write_all(b"kept").unwrap();
    assert_eq!(drain(&mut dup), b"kept");
}

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap()
}

/// A current-thread runtime dropped (with its `LocalSet`, the driver and a
/// task awaiting a receive) before the reactor's handles: the reactor shuts
/// down, the receive is cancelled and waited for, and the socket keeps the
/// bytes sent after.
#[test]
fn a_runtime_dropped_before_the_reactor_s_handles_cancels_and_waits() {
    let _watch = watchdog();
    let (fd, mut dup, mut peer) = pair();
    let runtime = current_thread_runtime();
    let local = tokio::task::LocalSet::new();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let started = Rc::new(Cell::new(false));
    {
        let _guard = runtime.enter();
        let driver = reactor.into_tokio().unwrap();
        local.spawn_local(driver);
        let (h2, fd2, s) = (h.clone(), fd.clone(), Rc::clone(&started));
        local.spawn_local(async move {
            s.set(true);
            let (r, _) = h2.op(Recv::new(&fd2, vec![0u8; 32])).await;
            panic!("the receive completed: {r:?}");
        });
    }
    local.block_on(&runtime, async {
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
    });
    assert!(started.get());
    assert_eq!(h.in_flight(), 1);
    drop(local);
    drop(runtime);
    assert!(h.is_shut_down());
    assert_eq!(h.in_flight(), 0);
    peer.write_all(b"after the runtime").unwrap();
    assert_eq!(drain(&mut dup), b"after the runtime");
    assert!(fd.try_unwrap().is_ok());
}

/// A future polled in one `LocalSet`, then awaited in another after the
/// first (and the driver in it) was dropped: it resolves once, cancelled
/// by the shutdown, with its buffer.
#[test]
fn a_future_moved_to_another_local_set_after_its_driver_went_resolves_once() {
    let _watch = watchdog();
    let (fd, mut dup, mut peer) = pair();
    let runtime = current_thread_runtime();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let first = tokio::task::LocalSet::new();
    let mut f = h.op(Recv::new(&fd, vec![0xA5u8; 16]));
    first.block_on(&runtime, async {
        tokio::task::spawn_local(reactor.into_tokio().unwrap());
        std::future::poll_fn(|cx| {
            assert!(Pin::new(&mut f).poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        tokio::task::yield_now().await;
    });
    drop(first);
    assert!(h.is_shut_down());
    let second = tokio::task::LocalSet::new();
    let (r, buf) = second.block_on(&runtime, async { (&mut f).await });
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
    assert!(buf.iter().all(|&x| x == 0xA5));
    assert!(matches!(uring_tests::poll_once(&mut f), Poll::Pending));
    peer.write_all(b"left").unwrap();
    assert_eq!(drain(&mut dup), b"left");
}

// ---------------------------------------------------------------------------
// net
// ---------------------------------------------------------------------------

/// A `recv_from` dropped while in flight (cancelled) takes no datagram: the
/// next one gets the datagram sent after, with its sender's address.
#[test]
fn a_dropped_recv_from_takes_no_datagram() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let sock = UdpSocket::bind(&h, any()).unwrap();
    let to = sock.local_addr().unwrap();
    let sender = std::net::UdpSocket::bind(any()).unwrap();
    let from = sender.local_addr().unwrap();
    {
        let mut recv = Box::pin(sock.recv_from(vec![0u8; 64]));
        assert!(uring_tests::poll_once(&mut recv).is_pending());
        reactor.submit().unwrap();
    }
    uring_tests::run_for(&reactor, 10);
    assert_eq!(h.in_flight(), 0);
    sender.send_to(b"one datagram", to).unwrap();
    let (r, buf) = reactor
        .run_until(sock.recv_from(Vec::with_capacity(64)))
        .unwrap();
    let (n, addr) = r.unwrap();
    assert_eq!(&buf[..n], b"one datagram");
    assert_eq!(addr, from);
}

/// `poll_write` that returns `Pending` (a send is still in flight) takes
/// nothing of the buffer it was given: the caller changes it, and the
/// peer gets the bytes accepted before and those of the next accepted
/// write, never those of the refused one.
#[test]
fn a_pending_poll_write_takes_nothing_of_its_buffer() {
    use tokio::io::AsyncWrite;
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = std::net::TcpListener::bind(any()).unwrap();
    let c = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    let mut stream = TcpStream::from_std(&h, c);
    let big = vec![1u8; 8 << 20];
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(&mut stream).poll_write(&mut cx, &big) {
        Poll::Ready(Ok(n)) => assert_eq!(n, big.len()),
        other => panic!("{other:?}"),
    }
    reactor.submit().unwrap();
    let mut refused = vec![2u8; 1000];
    assert!(
        Pin::new(&mut stream)
            .poll_write(&mut cx, &refused)
            .is_pending(),
        "the big send should still be in flight"
    );
    refused.fill(3);
    drop(refused);
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        peer.read_to_end(&mut all).unwrap();
        all
    });
    reactor
        .run_until(async move {
            use tokio::io::AsyncWriteExt;
            AsyncWriteExt::write_all(&mut stream, &[4u8; 10])
                .await
                .unwrap();
            AsyncWriteExt::shutdown(&mut stream).await.unwrap();
        })
        .unwrap();
    let all = reader.join().unwrap();
    assert_eq!(all.len(), big.len() + 10);
    assert!(all[..big.len()].iter().all(|&b| b == 1));
    assert_eq!(&all[big.len()..], [4u8; 10]);
}
