//! Ports of go-uring's own test cases (github.com/godzie44/go-uring: the
//! `_test.go` files of its `uring`, `reactor` and `net` packages) to uring's
//! API. Each test is named after the Go test function it ports and asserts
//! what that test asserts of the kernel and of the library (results, errnos,
//! order, counts, deadlines, cancels). Where go-uring's API has no
//! counterpart the port uses the nearest one and says so. Listeners bind
//! port 0 of the loopback address instead of go-uring's fixed ports.

use std::cell::{Cell, RefCell};
use std::io::{IoSlice, IoSliceMut};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt as _;
use std::rc::Rc;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use uring::ops::{
    Accept, Cancel, Close, Connect, Nop, ProvideBuffers, Read, ReadV, ReadVSelect, Recv, Send,
    Timeout, Write, WriteV,
};
use uring::reactor::{Reactor, SharedFd};
use uring::{
    BufferGroup, BufferPool, Cqe, Error, Features, IoWqWorkers, PollEvents, PushErrorKind, Ring,
    SockAddr, SockAddrBuf, sys,
};
use uring_tests::{PATIENCE, complete, fd_errno, push_lent, skip};

// ---------------------------------------------------------------- helpers

/// Tests that check that a descriptor number is closed take this lock
/// exclusively; every other test of the file holds it shared, so that no
/// descriptor of theirs reuses the number meanwhile.
static FDS: RwLock<()> = RwLock::new(());

fn shared_fds() -> RwLockReadGuard<'static, ()> {
    FDS.read().unwrap_or_else(|e| e.into_inner())
}

fn exclusive_fds() -> RwLockWriteGuard<'static, ()> {
    FDS.write().unwrap_or_else(|e| e.into_inner())
}

/// go-uring's `queueNOPs`: `count` NOPs with `user_data` `offset..`, then a
/// submit.
fn queue_nops(ring: &mut Ring, count: u64, offset: u64) {
    for i in 0..count {
        ring.push(Nop::new().user_data(i + offset))
            .unwrap_or_else(|_| panic!("push NOP {i}: the queue is full"));
    }
    ring.submit().expect("submit");
}

/// go-uring's `WaitCQEvents(1)` then `SeenCQE`: the next completion,
/// consumed.
fn wait_cqe(ring: &mut Ring) -> Cqe {
    ring.wait(1).expect("wait for a completion");
    let cqe = ring.peek().expect("a completion after the wait");
    assert_eq!(ring.advance(1), 1);
    cqe
}

/// The file go-uring's tests read (`../go.mod`): here, the workspace's
/// `Cargo.toml`.
fn go_mod() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml")
}

/// go-uring's `makeTCPListener`: a blocking listener (here on a port the
/// kernel picks).
fn tcp_listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").expect("listen on 127.0.0.1:0")
}

/// go-uring's `dial`: connects to `addr` on another thread (under
/// valgrind, before it returns: [`uring_tests::peer_thread`]).
fn dial(addr: SocketAddr) -> JoinHandle<TcpStream> {
    uring_tests::peer_thread(move || TcpStream::connect(addr).expect("dial"))
}

/// The descriptor an accept's completion made, owned.
fn accepted(cqe: &Cqe) -> OwnedFd {
    let fd = cqe.result().unwrap_or_else(|e| panic!("accept: {e}"));
    // SAFETY: an accept's result is a new descriptor that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

fn errno(result: &std::io::Result<u32>) -> Option<i32> {
    result.as_ref().err().and_then(std::io::Error::raw_os_error)
}

// ---------------------------------------------------------------- uring/ring_test.go

/// TestCreateRing (uring/ring_test.go).
#[test]
fn create_ring() {
    let _watch = uring_tests::watchdog();
    let _fds = shared_fds();
    let ring = Ring::new(64).expect("New(64)");
    assert_ne!(ring.as_raw_fd(), 0);
    ring.close().expect("Close");
}

/// TestCreateManyRings (uring/ring_test.go).
#[test]
fn create_many_rings() {
    let _watch = uring_tests::watchdog();
    let _fds = exclusive_fds();
    for (wp_count, expected_attached) in [(4, 0), (2, 2), (1, 3)] {
        let rings = Ring::create_many(4, 64, wp_count, &Ring::builder())
            .unwrap_or_else(|e| panic!("CreateMany(4, 64, {wp_count}): {e}"));
        assert_eq!(rings.len(), 4);
        for ring in &rings {
            assert_ne!(ring.as_raw_fd(), 0);
        }
        let attached = rings.iter().filter(|r| r.attached_wq().is_some()).count();
        assert_eq!(attached, expected_attached, "wp_count {wp_count}");
        let fds: Vec<RawFd> = rings.iter().map(AsRawFd::as_raw_fd).collect();
        for ring in rings {
            ring.close().expect("close every ring");
        }
        for fd in fds {
            assert_eq!(fd_errno(fd), Some(libc::EBADF), "ring fd {fd} still open");
        }
    }
}

/// TestCQRingReady (uring/ring_test.go).
#[test]
fn cq_ring_ready() {
    let _watch = uring_tests::watchdog();
    let _fds = shared_fds();
    let mut ring = Ring::new(4).unwrap();
    assert_eq!(ring.ready(), 0);
    queue_nops(&mut ring, 4, 0);
    assert_eq!(ring.ready(), 4);
    ring.advance(4);
    assert_eq!(ring.ready(), 0);
    queue_nops(&mut ring, 4, 0);
    assert_eq!(ring.ready(), 4);
    ring.advance(1);
    assert_eq!(ring.ready(), 3);
    ring.advance(2);
    assert_eq!(ring.ready(), 1);
    ring.advance(1);
    assert_eq!(ring.ready(), 0);
}

/// TestCQRingFull (uring/ring_test.go).
#[test]
fn cq_ring_full() {
    let _watch = uring_tests::watchdog();
    let _fds = shared_fds();
    let mut ring = Ring::new(4).unwrap();
    for _ in 0..3 {
        queue_nops(&mut ring, 4, 0);
    }
    let mut seen = 0;
    while ring.peek().is_some() {
        ring.advance(1);
        seen += 1;
        assert!(seen <= 12, "more completions than NOPs");
    }
    assert!(seen >= 8, "only {seen} completions");
    let no_drop = ring.params().has(Features::NODROP);
    assert!(
        no_drop || ring.overflow() == 4,
        "overflow {} without NODROP",
        ring.overflow()
    );
}

/// TestCQRingSize (uring/ring_test.go).
#[test]
fn cq_ring_size() {
    let _watch = uring_tests::watchdog();
    let _fds = shared_fds();
    let ring = match Ring::builder().cq_entries(64).build(4) {
        Ok(ring) => ring,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip("a CQ size (IORING_SETUP_CQSIZE) is not supported");
            return;
        }
        Err(e) => panic!("New(4, WithCQSize(64)): {e}"),
    };
    assert!(ring.params().cq_entries() >= 64);
    ring.close().unwrap();
    let zero = Ring::builder().cq_entries(0).build(4);
    assert!(zero.is_err(), "zero sized cq ring succeeded");
}

/// TestRingNopAllSizes (uring/ring_test.go).
#[test]
fn ring_nop_all_sizes() {
    let _watch = uring_tests::watchdog();
    let _fds = shared_fds();
    let mut depth = 1u32;
    while depth <= sys::IORING_MAX_ENTRIES {
        let mut ring = match Ring::new(depth) {
            Ok(ring) => ring,
            Err(e) if e.raw_os_error() == Some(libc::ENOMEM) => {
                skip(format_args!("not enough memory for {depth} entries"));
                return;
            }
            Err(e) => panic!("New({depth}): {e}"),
        };
        let mut total = 0u32;
        for _ in 0..2 {
            // go-uring's `fillNOPs`: push until the SQ overflows.
            loop {
                match ring.push(Nop::new().user_data(0)) {
                    Ok(()) => {}
                    Err(e) => {
                        assert_eq!(e.kind(), PushErrorKind::QueueFull, "depth {depth}");
                        break;
                    }
                }
            }
            total += ring.submit().expect("submit");
        }
        for _ in 0..total {
            wait_cqe(&mut ring);
        }
        ring.close().unwrap();
        depth <<= 1;
    }
}

/// TestCQPeekBatch (uring/ring_test.go).
#[test]
fn cq_peek_batch() {
    let _watch = uring_tests::watchdog();
    let _fds = shared_fds();
    let mut ring = Ring::new(4).unwrap();
    let mut buf = [Cqe::default(); 128];
    assert_eq!(ring.peek_batch(&mut buf), 0);
    queue_nops(&mut ring, 4, 0);
    assert_eq!(ring.peek_batch(&mut buf), 4);
    for (i, cqe) in buf[..4].iter().enumerate() {
        assert_eq!(cqe.user_data(), i as u64);
    }
    queue_nops(&mut ring, 4, 4);
    ring.advance(4);
    assert_eq!(ring.peek_batch(&mut buf), 4);
    for (i, cqe) in buf[..4].iter().enumerate() {
        assert_eq!(cqe.user_data(), i as u64 + 4);
    }
    ring.advance(4);
}

// ---------------------------------------------------------------- uring/ring_timeout_test.go

/// TestSingleTimeout (uring/ring_timeout_test.go).
#[test]
fn single_timeout() {
    let _watch = uring_tests::watchdog();
    let _fds = shared_fds();
    let mut ring = Ring::new(8).unwrap();
    ring.push(Timeout::new(Duration::from_secs(1)).user_data(0))
        .unwrap();
    let submitted = Instant::now();
    ring.submit().unwrap();
    let cqe = wait_cqe(&mut ring);
    assert_eq!(cqe.res(), -libc::ETIME, "{cqe:?}");
    assert!(submitted.elapsed() >= Duration::from_secs(1));
}

/// TestMultipleTimeout (uring/ring_timeout_test.go).
#[test]
fn multiple_timeout() {
    let _watch = uring_tests::watchdog();
    let _fds = shared_fds();
    let mut ring = Ring::new(8).unwrap();
    ring.push(Timeout::new(Duration::from_secs(2)).user_data(1))
        .unwrap();
    ring.push(Timeout::new(Duration::from_secs(1)).user_data(2))
        .unwrap();
    let submitted = Instant::now();
    ring.submit().unwrap();

    let first = wait_cqe(&mut ring);
    let first_at = submitted.elapsed();
    assert_eq!(first.user_data(), 2, "the 1 s timeout fires first");
    assert!(first_at >= Duration::from_secs(1), "{first_at:?}");

    let second = wait_cqe(&mut ring);
    let second_at = submitted.elapsed();
    assert_eq!(second.user_data(), 1);
    assert!(second_at >= Duration::from_secs(2), "{second_at:?}");
}

/// TestSingleTimeoutWait (uring/ring_timeout_test.go).
#[test]
fn single_timeout_wait() {
    let _watch = uring_tests::watchdog();
    // go-uring's `WaitCQEventsWithTimeout(2, 2s)` hands out a completion once
    // the time runs out with fewer than 2 but at least one ready, and fails
    // with `ETIME` only when none is; uring's `wait_timeout` reports
    // `TimedOut` whenever fewer than asked are ready, and leaves those in the
    // queue: the port reads them there.
    let _fds = shared_fds();
    let mut ring = Ring::new(8).unwrap();
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.push(Nop::new().user_data(2)).unwrap();
    if ring.params().has(Features::EXT_ARG) {
        assert_eq!(ring.submit().unwrap(), 2);
    } else {
        skip("waits with a timeout need IORING_FEAT_EXT_ARG");
        return;
    }
    let mut seen = 0;
    loop {
        match ring.wait_timeout(2, Duration::from_secs(2)) {
            Ok(()) => {}
            Err(Error::TimedOut) if ring.ready() > 0 => {}
            Err(Error::TimedOut) => break,
            Err(e) => panic!("wait: {e}"),
        }
        let cqe = ring.peek().expect("a completion");
        ring.advance(1);
        assert_eq!(cqe.res(), 0, "{cqe:?}");
        seen += 1;
        assert!(seen <= 2, "more completions than NOPs");
    }
    assert_eq!(seen, 2);
}

// ---------------------------------------------------------------- uring/ring_close_test.go

/// TestRingClose (uring/ring_close_test.go).
#[test]
fn ring_close() {
    let _watch = uring_tests::watchdog();
    let _fds = exclusive_fds();
    let mut ring = Ring::new(2).unwrap();
    let file = std::fs::File::open(go_mod()).unwrap();
    let fd = file.as_raw_fd();
    ring.push(Close::new(file).user_data(0)).unwrap();
    ring.submit().unwrap();
    let cqe = wait_cqe(&mut ring);
    assert_eq!(cqe.result().map_err(|e| e.raw_os_error()), Ok(0));
    assert_eq!(fd_errno(fd), Some(libc::EBADF), "fd {fd} is still open");
}

// ---------------------------------------------------------------- uring/ring_connect_test.go

/// TestConnect (uring/ring_connect_test.go).
#[test]
fn connect() {
    let _watch = uring_tests::watchdog();
    let _fds = shared_fds();
    let mut ring = Ring::new(64).unwrap();
    let server = tcp_listener();
    let addr = SockAddr::from(server.local_addr().unwrap());
    let socket = uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
    let cqe = complete(&mut ring, Connect::new(&socket, &addr).user_data(0));
    assert_eq!(cqe.result().map_err(|e| e.raw_os_error()), Ok(0));
    assert_eq!(cqe.res(), 0);
}

// ---------------------------------------------------------------- uring/register_test.go

/// TestProbe (uring/register_test.go).
#[test]
fn probe() {
    let _watch = uring_tests::watchdog();
    let _fds = shared_fds();
    let ring = Ring::new(4).unwrap();
    let probe = match ring.probe() {
        Ok(probe) => probe,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip("IORING_REGISTER_PROBE not supported");
            return;
        }
        Err(e) => panic!("probe: {e}"),
    };
    assert_ne!(probe.last_op(), 0);
    assert!(probe.is_supported(sys::IORING_OP_NOP), "NOP not supported");
    assert!(
        probe.is_supported(sys::IORING_OP_READV),
        "READV not supported"
    );
    assert!(
        probe.is_supported(sys::IORING_OP_WRITEV),
        "WRITEV not supported"
    );
    assert!(probe.supports::<Nop>());
    assert!(probe.supports::<ReadV<'static, 'static>>());
    assert!(probe.supports::<WriteV<'static, 'static>>());
}

/// TestIOWQMaxWorkers (uring/register_test.go).
#[test]
fn iowq_max_workers() {
    let _watch = uring_tests::watchdog();
    // go-uring passes one `int` as the two limits: the bounded one is the CPU
    // count, the unbounded one is left as it is (0).
    let _fds = shared_fds();
    let mut ring = Ring::new(4).unwrap();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    match ring.set_iowq_max_workers(IoWqWorkers {
        bounded: cpus,
        unbounded: 0,
    }) {
        Ok(_) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip("IORING_REGISTER_IOWQ_MAX_WORKERS not supported");
        }
        Err(e) => panic!("SetIOWQMaxWorkers: {e}"),
    }
}

// ---------------------------------------------------------------- uring/ring_send_recv_test.go

const SEND_RECV_STR: &str = "This is a test of sendmsg and recvmsg over io_uring!";

/// TestSendRecv (uring/ring_send_recv_test.go).
#[test]
fn send_recv() {
    let _watch = uring_tests::watchdog();
    // A receive on one ring of one entry, on another thread, gets the datagram
    // a send on another ring of one entry sent.
    let _fds = shared_fds();
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let server_addr = server.local_addr().unwrap();
    let (ready_tx, ready_rx) = mpsc::channel();
    let receiver = std::thread::spawn(move || {
        let mut ring = Ring::new(1).unwrap();
        let mut buf = [0u8; 128];
        let result = ring.scope(|s| {
            s.push(Recv::new(&server, &mut buf[..]).user_data(2))
                .unwrap();
            s.submit().unwrap();
            ready_tx.send(()).unwrap();
            s.wait_timeout(1, PATIENCE).expect("the receive completes");
            s.completions().next().expect("a completion").result()
        });
        (result, buf)
    });
    ready_rx.recv().unwrap();

    let mut ring = Ring::new(1).unwrap();
    let conn = UdpSocket::bind("127.0.0.1:0").unwrap();
    conn.connect(server_addr).unwrap();
    let sent = complete(
        &mut ring,
        Send::new(&conn, SEND_RECV_STR.as_bytes()).user_data(1),
    );
    assert!(sent.res() >= 0, "{sent:?}");

    let (result, buf) = receiver.join().unwrap();
    if errno(&result) == Some(libc::EINVAL) {
        skip("recv not supported on this kernel");
        return;
    }
    assert_eq!(result.unwrap(), SEND_RECV_STR.len() as u32);
    assert_eq!(&buf[..SEND_RECV_STR.len()], SEND_RECV_STR.as_bytes());
}

// ---------------------------------------------------------------- uring/ring_accept_test.go

const SEND_DATA: &[u8] = b"hello world";

/// go-uring's `testAccept`: an accept on `ring`, then a WRITEV on the
/// client's side and a READV on the accepted side, both seen by one peek of
/// a batch.
fn test_accept(ring: &mut Ring) {
    let listener = tcp_listener();
    let client = dial(listener.local_addr().unwrap());

    push_lent!(ring, Accept::new(&listener).user_data(0)).unwrap();
    ring.submit().unwrap();
    let cqe = wait_cqe(ring);
    let conn = accepted(&cqe);
    let client = client.join().unwrap();

    let out = [IoSlice::new(SEND_DATA)];
    let mut buf = [0u8; 100];
    {
        let mut into = [IoSliceMut::new(&mut buf)];
        push_lent!(ring, WriteV::new(&client, &out[..]).user_data(1)).unwrap();
        push_lent!(ring, ReadV::new(&conn, &mut into[..]).user_data(2)).unwrap();
        ring.submit_and_wait(2).unwrap();
        // Both completions are in (the wait for 2 returned): the iovecs
        // and `buf` are the kernel's no more.
    }
    let mut events = [Cqe::default(); 2];
    let n = ring.peek_batch(&mut events);
    assert_eq!(n, 2);
    for cqe in &events[..n] {
        assert!(cqe.res() >= 0, "{cqe:?}");
        match cqe.user_data() {
            1 => assert_eq!(cqe.res(), SEND_DATA.len() as i32),
            2 => {
                assert_eq!(cqe.res(), SEND_DATA.len() as i32);
                assert_eq!(&buf[..cqe.res() as usize], SEND_DATA);
            }
            other => panic!("a completion of user_data {other}: {cqe:?}"),
        }
        ring.advance(1);
    }
}

/// TestAccept (uring/ring_accept_test.go).
#[test]
fn accept() {
    let _watch = uring_tests::watchdog();
    let _fds = shared_fds();
    let mut ring = Ring::new(64).unwrap();
    test_accept(&mut ring);
}

/// TestAcceptWithSQPoll (uring/ring_accept_test.go).
#[test]
fn accept_with_sq_poll() {
    let _watch = uring_tests::watchdog();
    let _fds = shared_fds();
    let mut ring = match Ring::builder().sqpoll(Duration::from_millis(100)).build(64) {
        Ok(ring) => ring,
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            skip("SQPOLL needs root or CAP_SYS_NICE");
            return;
        }
        Err(e) => panic!("New(64, WithSQPoll(100ms)): {e}"),
    };
    test_accept(&mut ring);
}

/// TestAcceptCancel (uring/ring_accept_test.go).
#[test]
fn accept_cancel() {
    let _watch = uring_tests::watchdog();
    // An accept cancelled at once, and after 10 ms.
    let _fds = shared_fds();
    for delay in [Duration::ZERO, Duration::from_micros(10_000)] {
        let mut ring = Ring::new(32).unwrap();
        let listener = tcp_listener();
        push_lent!(ring, Accept::new(&listener).user_data(1)).unwrap();
        ring.submit().unwrap();
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        ring.push(Cancel::new(1).user_data(2)).unwrap();
        ring.submit().unwrap();
        for _ in 0..2 {
            let cqe = wait_cqe(&mut ring);
            match cqe.user_data() {
                1 => assert!(
                    cqe.res() == -libc::EINTR || cqe.res() == -libc::ECANCELED,
                    "the accept, after {delay:?}: {cqe:?}"
                ),
                2 => assert!(
                    cqe.res() == -libc::EALREADY || cqe.res() == 0,
                    "the cancel, after {delay:?}: {cqe:?}"
                ),
                other => panic!("a completion of user_data {other}: {cqe:?}"),
            }
        }
        ring.close().unwrap();
        drop(listener);
    }
}

/// TestAcceptMany (uring/ring_accept_test.go).
#[test]
fn accept_many() {
    let _watch = uring_tests::watchdog();
    // 128 accepts on 128 listeners are submitted at once, none completes, and
    // closing the ring with them in flight succeeds.
    let _fds = shared_fds();
    const COUNT: usize = 128;
    for delay in [Duration::ZERO, Duration::from_micros(10_000)] {
        let mut ring = Ring::new(2 * COUNT as u32).unwrap();
        let listeners: Vec<TcpListener> = (0..COUNT).map(|_| tcp_listener()).collect();
        for listener in &listeners {
            push_lent!(ring, Accept::new(listener).user_data(0)).unwrap();
        }
        assert_eq!(ring.submit().unwrap(), COUNT as u32);
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        assert!(
            ring.peek().is_none(),
            "an accept completed: {:?}",
            ring.peek()
        );
        // go-uring closes the listeners first; the ring goes first here,
        // so that no accept in flight outlives its descriptor.
        ring.close()
            .expect("close the ring with 128 accepts in flight");
        drop(listeners);
    }
}

/// TestAcceptLink (uring/ring_accept_test.go).
#[test]
fn accept_link() {
    let _watch = uring_tests::watchdog();
    // An accept linked to a link timeout, once with a client that connects
    // (the accept succeeds, the timeout is cancelled), once without (the
    // timeout fires and cancels the accept).
    let _fds = shared_fds();
    let fast_poll = Ring::new(1).unwrap().params().has(Features::FAST_POLL);
    let cases = [
        (true, Duration::from_secs(1), [0, -libc::ECANCELED]),
        if fast_poll {
            (
                false,
                Duration::from_millis(200),
                [-libc::ECANCELED, -libc::ETIME],
            )
        } else {
            (
                false,
                Duration::from_millis(200),
                [-libc::EINTR, -libc::EALREADY],
            )
        },
    ];
    for (do_connect, timeout, expected) in cases {
        let mut ring = Ring::new(8).unwrap();
        let listener = tcp_listener();
        let client = do_connect.then(|| dial(listener.local_addr().unwrap()));
        push_lent!(
            ring,
            Accept::new(&listener).user_data(1).timeout_with(timeout, 2),
        )
        .unwrap();
        ring.submit().unwrap();
        let mut conns = Vec::new();
        for _ in 0..2 {
            let cqe = wait_cqe(&mut ring);
            let index = match cqe.user_data() {
                1 | 2 => cqe.user_data() as usize - 1,
                other => panic!("a completion of user_data {other}: {cqe:?}"),
            };
            if cqe.res() == -libc::EBADFD {
                skip("accept not supported");
                return;
            }
            // A successful accept's result is a descriptor.
            let res = if index == 0 && cqe.res() >= 0 {
                conns.push(accepted(&cqe));
                0
            } else {
                cqe.res()
            };
            assert_eq!(
                res,
                expected[index],
                "connect {do_connect}, user_data {}: {cqe:?}",
                cqe.user_data()
            );
        }
        if let Some(client) = client {
            drop(client.join().unwrap());
        }
    }
}

/// TestAcceptAddr (uring/ring_accept_test.go).
#[test]
fn accept_addr() {
    let _watch = uring_tests::watchdog();
    // An accept reports the peer's address, the client's local one.
    let _fds = shared_fds();
    let mut ring = Ring::new(64).unwrap();
    let listener = tcp_listener();
    let client = dial(listener.local_addr().unwrap());
    let mut peer = SockAddrBuf::new();
    push_lent!(
        ring,
        Accept::new(&listener).peer(Some(&mut peer)).user_data(0)
    )
    .unwrap();
    ring.submit().unwrap();
    let cqe = wait_cqe(&mut ring);
    let _conn = accepted(&cqe);
    let client = client.join().unwrap();
    let remote = peer.socket_addr().expect("the accept's peer address");
    assert_eq!(remote, client.local_addr().unwrap());
    assert_eq!(remote.to_string(), client.local_addr().unwrap().to_string());
    assert!(remote.is_ipv4(), "a tcp4 address: {remote}");
}

// ---------------------------------------------------------------- uring/ring_iopoll_test.go

const IOPOLL_FILE_SIZE: usize = 128 * 1024;
const IOPOLL_BUFFER_SIZE: usize = 4096;
const IOPOLL_BUFFER_COUNT: usize = IOPOLL_FILE_SIZE / IOPOLL_BUFFER_SIZE;

/// A block aligned for `O_DIRECT`.
#[derive(Clone, Copy)]
#[repr(C, align(4096))]
struct Block([u8; IOPOLL_BUFFER_SIZE]);

/// go-uring's `testIO`: 32 reads or writes of 4 KiB at random block
/// offsets of an `O_DIRECT` file, on an IOPOLL ring; reads select a
/// provided buffer when `buf_select`. `false` when the file does not
/// support polled I/O (the Go test skips then).
fn iopoll_io(path: &std::path::Path, blocks: &mut [Block], write: bool, buf_select: bool) -> bool {
    let mut ring = Ring::builder().iopoll().build(64).unwrap();
    let write = write && !buf_select;
    let file = std::fs::OpenOptions::new()
        .read(!write)
        .write(write)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .unwrap();
    let mut pool_region: Vec<Block> = vec![Block([0; IOPOLL_BUFFER_SIZE]); IOPOLL_BUFFER_COUNT];
    if buf_select {
        // go-uring's `provideBuffers`: one PROVIDE_BUFFERS per buffer, ids
        // 0.., group 1.
        for (i, block) in pool_region.iter_mut().enumerate() {
            push_lent!(
                ring,
                ProvideBuffers::new(BufferPool::new(&mut block.0, 4096), BufferGroup::new(1))
                    .start_id(i as u16)
                    .user_data(0),
            )
            .unwrap();
        }
        assert_eq!(ring.submit().unwrap(), IOPOLL_BUFFER_COUNT as u32);
        for _ in 0..IOPOLL_BUFFER_COUNT {
            let cqe = wait_cqe(&mut ring);
            assert!(cqe.res() >= 0, "provide buffers: {cqe:?}");
        }
    }
    let select_cap = libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 4096,
    };
    let mut rng = uring_tests::Rng(0x9e37_79b9_7f4a_7c15);
    let (out_iovecs, mut in_iovecs): (Vec<_>, Vec<_>) = if write {
        (
            blocks.iter().map(|b| [IoSlice::new(&b.0)]).collect(),
            Vec::new(),
        )
    } else {
        (
            Vec::new(),
            blocks
                .iter_mut()
                .map(|b| [IoSliceMut::new(&mut b.0)])
                .collect(),
        )
    };
    for i in 0..IOPOLL_BUFFER_COUNT {
        let offset = (IOPOLL_BUFFER_SIZE * rng.below(IOPOLL_BUFFER_COUNT as u64) as usize) as u64;
        if write {
            push_lent!(
                ring,
                WriteV::new(&file, &out_iovecs[i][..])
                    .offset(offset)
                    .user_data(i as u64),
            )
            .unwrap();
        } else if buf_select {
            // A READV that selects a provided buffer: its one iovec only
            // caps the read (the kernel never uses its base).
            push_lent!(
                ring,
                ReadVSelect::new(&file, &select_cap, BufferGroup::new(1))
                    .offset(offset)
                    .user_data(i as u64),
            )
            .unwrap();
        } else {
            push_lent!(
                ring,
                ReadV::new(&file, &mut in_iovecs[i][..])
                    .offset(offset)
                    .user_data(i as u64),
            )
            .unwrap();
        }
    }
    assert_eq!(ring.submit().unwrap(), IOPOLL_BUFFER_COUNT as u32);
    let mut supported = true;
    for _ in 0..IOPOLL_BUFFER_COUNT {
        let cqe = wait_cqe(&mut ring);
        if cqe.res() == -libc::EOPNOTSUPP {
            supported = false;
            continue;
        }
        assert_eq!(
            cqe.res(),
            IOPOLL_BUFFER_SIZE as i32,
            "write {write}, select {buf_select}: {cqe:?}"
        );
    }
    // Every op has completed; the ring (and what it was given) goes first.
    drop(ring);
    drop(pool_region);
    supported
}

/// TestIOPoll (uring/ring_iopoll_test.go).
#[test]
fn io_poll() {
    let _watch = uring_tests::watchdog();
    // Reads, writes and (where PROVIDE_BUFFERS is supported) reads into
    // provided buffers, on an IOPOLL ring over an `O_DIRECT` file.
    let _fds = shared_fds();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!(".basic-rw-{}", std::process::id()));
    std::fs::write(&path, b"io".repeat(IOPOLL_FILE_SIZE / 2)).unwrap();

    // go-uring's `hasBuffSelect`.
    let buf_select = match Ring::builder().iopoll().build(1) {
        Ok(ring) => ring
            .probe()
            .unwrap()
            .is_supported(sys::IORING_OP_PROVIDE_BUFFERS),
        Err(e) => {
            skip(format_args!("IOPOLL test skipped, reason: {e}"));
            return;
        }
    };
    let mut cases = vec![(false, false), (true, false)];
    if buf_select {
        cases.push((false, true));
    }
    let mut blocks = vec![Block([0; IOPOLL_BUFFER_SIZE]); IOPOLL_BUFFER_COUNT];
    for (write, select) in cases {
        if !iopoll_io(&path, &mut blocks, write, select) {
            skip("file/device/fs doesn't support polled IO");
            return;
        }
    }
}

// ---------------------------------------------------------------- uring/ring_rw_test.go

/// go-uring's `makeVectors`: buffers of `size` bytes (the last one
/// shorter) covering the file.
fn make_vectors(file: &std::fs::File, size: usize) -> Vec<Vec<u8>> {
    let mut left = file.metadata().unwrap().len() as usize;
    let mut out = Vec::new();
    while left != 0 {
        let n = left.min(size);
        out.push(vec![0u8; n]);
        left -= n;
    }
    out
}

fn vectors_to_string(vectors: &[Vec<u8>]) -> String {
    String::from_utf8(vectors.concat()).unwrap()
}

/// TestSingleReadV (uring/ring_rw_test.go).
#[test]
fn single_read_v() {
    let _watch = uring_tests::watchdog();
    let _fds = shared_fds();
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open(go_mod()).unwrap();
    let mut vectors = make_vectors(&file, 16);
    {
        let mut iovecs: Vec<IoSliceMut<'_>> =
            vectors.iter_mut().map(|v| IoSliceMut::new(v)).collect();
        push_lent!(ring, ReadV::new(&file, &mut iovecs[..]).user_data(0)).unwrap();
        ring.submit().unwrap();
        ring.wait(1).unwrap();
    }
    let expected = std::fs::read_to_string(go_mod()).unwrap();
    assert_eq!(vectors_to_string(&vectors), expected);
}

/// TestMultipleReadV (uring/ring_rw_test.go).
#[test]
fn multiple_read_v() {
    let _watch = uring_tests::watchdog();
    let _fds = shared_fds();
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open(go_mod()).unwrap();
    let mut vectors1 = make_vectors(&file, 16);
    let mut vectors2 = make_vectors(&file, 16);
    {
        let mut iovecs1: Vec<IoSliceMut<'_>> =
            vectors1.iter_mut().map(|v| IoSliceMut::new(v)).collect();
        let mut iovecs2: Vec<IoSliceMut<'_>> =
            vectors2.iter_mut().map(|v| IoSliceMut::new(v)).collect();
        push_lent!(ring, ReadV::new(&file, &mut iovecs1[..]).user_data(0)).unwrap();
        push_lent!(ring, ReadV::new(&file, &mut iovecs2[..]).user_data(0)).unwrap();
        ring.submit().unwrap();
        ring.wait(2).unwrap();
    }
    let expected = std::fs::read_to_string(go_mod()).unwrap();
    assert_eq!(vectors_to_string(&vectors1), expected);
    assert_eq!(vectors_to_string(&vectors2), expected);
}

/// TestSingleWriteV (uring/ring_rw_test.go).
#[test]
fn single_write_v() {
    let _watch = uring_tests::watchdog();
    let _fds = shared_fds();
    let mut ring = Ring::new(8).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("single_writev.txt");
    let file = std::fs::File::create(&path).unwrap();
    let lines: [&[u8]; 3] = [
        b"writev test line 1 \n",
        b"writev test line 2 \n",
        b"writev test line 3 \n",
    ];
    let iovecs = lines.map(IoSlice::new);
    push_lent!(ring, WriteV::new(&file, &iovecs[..]).user_data(0)).unwrap();
    ring.submit().unwrap();
    let cqe = wait_cqe(&mut ring);
    assert_eq!(cqe.res(), lines.iter().map(|l| l.len() as i32).sum::<i32>());
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "writev test line 1 \nwritev test line 2 \nwritev test line 3 \n"
    );
}

/// TestRead (uring/ring_rw_test.go).
#[test]
fn read() {
    let _watch = uring_tests::watchdog();
    let _fds = shared_fds();
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open(go_mod()).unwrap();
    let mut buf = vec![0u8; file.metadata().unwrap().len() as usize];
    push_lent!(ring, Read::new(&file, &mut buf[..]).user_data(0)).unwrap();
    ring.submit().unwrap();
    ring.wait(1).unwrap();
    let expected = std::fs::read(go_mod()).unwrap();
    assert_eq!(buf, expected);
}

/// TestWrite (uring/ring_rw_test.go).
#[test]
fn write() {
    let _watch = uring_tests::watchdog();
    let _fds = shared_fds();
    let mut ring = Ring::new(8).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("single_write.txt");
    let file = std::fs::File::create(&path).unwrap();
    let data: &[u8] = b"write test line 1 \nwrite test line 2 \nwrite test line 3 \n";
    push_lent!(ring, Write::new(&file, data).user_data(0)).unwrap();
    ring.submit().unwrap();
    let cqe = wait_cqe(&mut ring);
    assert_eq!(cqe.res(), data.len() as i32);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "write test line 1 \nwrite test line 2 \nwrite test line 3 \n"
    );
}

// ---------------------------------------------------------------- reactor/reactor_test.go

/// go-uring's `SetupTest`: `CreateMany(4, 64, 4)` and a reactor over them.
/// uring's reactor owns one ring: the first; the others are closed.
fn suite_reactor() -> Reactor {
    let mut rings = Ring::create_many(4, 64, 4, &Ring::builder()).expect("CreateMany(4, 64, 4)");
    let ring = rings.remove(0);
    drop(rings);
    Reactor::from_ring(ring).expect("a reactor over the rings")
}

/// ReactorTestSuite.TestReactorExecuteReadV (reactor/reactor_test.go).
#[test]
fn reactor_execute_read_v() {
    let _watch = uring_tests::watchdog();
    // A plain read of one buffer, as the Go test's one iovec
    // (`go_uring_cases_second.rs` runs it with the reactor's `ReadV`).
    let _fds = shared_fds();
    let reactor = suite_reactor();
    let file = SharedFd::new(std::fs::File::open(go_mod()).unwrap());
    let expected = std::fs::read(go_mod()).unwrap();
    let got = Rc::new(RefCell::new(None));
    let g = got.clone();
    reactor
        .queue(
            uring::reactor::ops::Read::new(&file, vec![0u8; expected.len()], 0),
            move |result, buf| *g.borrow_mut() = Some((result, buf)),
        )
        .unwrap();
    reactor.run().unwrap();
    let (result, buf) = got.borrow_mut().take().expect("the callback ran");
    assert_eq!(buf, expected);
    assert_eq!(result.unwrap(), expected.len() as u32);
}

/// go-uring's reactor `TestExecuteWithDeadline`: an accept that nobody
/// connects to, queued with a deadline 1 s away, fails with `ECANCELED`
/// after the deadline (and well before a few seconds more).
fn execute_with_deadline(as_future: bool) {
    let reactor = suite_reactor();
    let listener = SharedFd::new(tcp_listener());
    let accept_time = Instant::now();
    let deadline = accept_time + Duration::from_secs(1);
    let op = uring::reactor::ops::Accept::new(&listener);
    let (result, conn) = if as_future {
        reactor
            .run_until(reactor.op_with_deadline(op, deadline))
            .unwrap()
    } else {
        let got = Rc::new(RefCell::new(None));
        let g = got.clone();
        reactor
            .queue_with_deadline(op, deadline, move |result, conn| {
                *g.borrow_mut() = Some((result, conn));
            })
            .unwrap();
        reactor.run().unwrap();
        got.borrow_mut().take().expect("the callback ran")
    };
    let elapsed = accept_time.elapsed();
    assert!(conn.is_none(), "an accepted socket: {conn:?}");
    assert_eq!(errno(&result), Some(libc::ECANCELED), "{result:?}");
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

/// go-uring's reactor `TestCancelOperation`: an accept that nobody
/// connects to, cancelled by its id after 1 s, fails with `ECANCELED`.
fn cancel_operation(as_future: bool) {
    let reactor = suite_reactor();
    let listener = SharedFd::new(tcp_listener());
    let op = uring::reactor::ops::Accept::new(&listener);
    let cancelled = Rc::new(Cell::new(None));
    let h = reactor.handle();
    let schedule_cancel = |id| {
        let c = cancelled.clone();
        let h = h.clone();
        reactor
            .queue(
                uring::reactor::ops::Timeout::new(Duration::from_secs(1)),
                move |_, ()| c.set(Some(h.cancel(id).map_err(|e| e.raw_os_error()))),
            )
            .unwrap();
    };
    let (result, conn) = if as_future {
        let future = reactor.op(op);
        schedule_cancel(future.id().expect("the accept is in flight"));
        reactor.run_until(future).unwrap()
    } else {
        let got = Rc::new(RefCell::new(None));
        let g = got.clone();
        let id = reactor
            .queue(op, move |result, conn| {
                *g.borrow_mut() = Some((result, conn))
            })
            .unwrap();
        schedule_cancel(id);
        reactor.run().unwrap();
        got.borrow_mut().take().expect("the callback ran")
    };
    assert_eq!(cancelled.get(), Some(Ok(true)), "Cancel(id) succeeded");
    assert!(conn.is_none(), "an accepted socket: {conn:?}");
    assert_eq!(errno(&result), Some(libc::ECANCELED), "{result:?}");
}

/// ReactorTestSuite.TestExecuteWithDeadline (reactor/reactor_test.go).
#[test]
fn reactor_execute_with_deadline() {
    let _watch = uring_tests::watchdog();
    let _fds = shared_fds();
    execute_with_deadline(false);
}

/// ReactorTestSuite.TestCancelOperation (reactor/reactor_test.go).
#[test]
fn reactor_cancel_operation() {
    let _watch = uring_tests::watchdog();
    let _fds = shared_fds();
    cancel_operation(false);
}

/// ReactorTestSuite.TestExecuteWithDeadline (reactor/reactor_test.go).
#[test]
fn reactor_execute_with_deadline_submitted_after_the_deadline() {
    let _watch = uring_tests::watchdog();
    // Run with the reactor started only after the deadline has passed
    // (go-uring's reactor submits at once, from its own goroutine; uring's
    // at its next round): the deadline is a point in time, and an accept
    // still in flight when it passes is cancelled as soon as the kernel sees
    // it, not a whole timeout later.
    let _fds = shared_fds();
    let reactor = suite_reactor();
    let listener = SharedFd::new(tcp_listener());
    let accept_time = Instant::now();
    let deadline = accept_time + Duration::from_secs(2);
    let got = Rc::new(RefCell::new(None));
    let g = got.clone();
    reactor
        .queue_with_deadline(
            uring::reactor::ops::Accept::new(&listener),
            deadline,
            move |result, conn| *g.borrow_mut() = Some((result, conn)),
        )
        .unwrap();
    // The program is busy before it runs the reactor.
    std::thread::sleep(Duration::from_millis(2500));
    let run_start = Instant::now();
    reactor.run().unwrap();
    let run_took = run_start.elapsed();
    let (result, conn) = got.borrow_mut().take().expect("the callback ran");
    assert!(conn.is_none(), "an accepted socket: {conn:?}");
    assert_eq!(errno(&result), Some(libc::ECANCELED), "{result:?}");
    assert!(accept_time.elapsed() >= Duration::from_secs(2));
    // The deadline had passed when the accept reached the kernel: it ends
    // at once.
    assert!(
        run_took < Duration::from_secs(1),
        "the accept ran {run_took:?} past a deadline that had passed"
    );
}

// ---------------------------------------------------------------- reactor/registry_test.go

/// TestRegistry (reactor/registry_test.go).
#[test]
fn registry() {
    let _watch = uring_tests::watchdog();
    // The reactor finds the callback of each op it has in flight by the op's
    // id, once; an id whose callback was taken finds nothing. Go's registry
    // maps (fd, nonce) to callbacks; here, polls that never fire on several
    // descriptors, each cancelled by its id (the 1 000 000 callbacks of one
    // case are 10 000: a million polls of one socket take the kernel minutes).
    let _fds = shared_fds();
    let cases: [&[usize]; 4] = [&[3], &[3, 3], &[3, 4, 10_000], &[1, 1, 1, 1, 1, 1, 1, 1]];
    let reactor = Reactor::new().unwrap();
    for case in cases {
        let mut peers = Vec::new();
        let mut ids = Vec::new();
        let calls = Rc::new(RefCell::new(Vec::new()));
        for (item, &count) in case.iter().enumerate() {
            let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
            let fd = SharedFd::new(a);
            peers.push(b);
            for i in 0..count {
                let c = calls.clone();
                let id = reactor
                    .queue(
                        uring::reactor::ops::Poll::new(&fd, PollEvents::IN),
                        move |result, ()| c.borrow_mut().push((item, i, errno(&result))),
                    )
                    .unwrap();
                ids.push(id);
            }
        }
        reactor.submit().unwrap();
        for &id in &ids {
            assert!(reactor.cancel(id).unwrap(), "the callback of {id:?}");
        }
        reactor.run().unwrap();
        let mut calls = calls.borrow_mut();
        assert_eq!(calls.len(), ids.len(), "each callback ran once");
        calls.sort_unstable();
        calls.dedup();
        assert_eq!(calls.len(), ids.len(), "each callback ran once");
        assert!(
            calls.iter().all(|c| c.2 == Some(libc::ECANCELED)),
            "{calls:?}"
        );
        for &id in &ids {
            assert!(!reactor.cancel(id).unwrap(), "{id:?} was taken already");
        }
    }
}

// ---------------------------------------------------------------- reactor/net_test.go

/// NetworkReactorTestSuite.TestExecuteWithDeadline (reactor/net_test.go).
#[test]
fn network_reactor_execute_with_deadline() {
    let _watch = uring_tests::watchdog();
    // uring has one reactor for both of go-uring's; this port awaits the op.
    let _fds = shared_fds();
    execute_with_deadline(true);
}

/// NetworkReactorTestSuite.TestCancelOperation (reactor/net_test.go).
#[test]
fn network_reactor_cancel_operation() {
    let _watch = uring_tests::watchdog();
    let _fds = shared_fds();
    cancel_operation(true);
}

// ---------------------------------------------------------------- net/listener_test.go

/// TestListenerAccept (net/listener_test.go).
#[test]
fn listener_accept() {
    let _watch = uring_tests::watchdog();
    // A listener over a reactor on a ring of `MaxEntries >> 2` entries accepts
    // the 100 connections another thread dials.
    let _fds = shared_fds();
    const CONNECTIONS: usize = 100;
    let ring = Ring::new(sys::IORING_MAX_ENTRIES >> 2).unwrap();
    let reactor = Reactor::from_ring(ring).unwrap();
    let listener =
        uring::net::TcpListener::bind(&reactor.handle(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let dialer = uring_tests::peer_thread(move || {
        (0..CONNECTIONS)
            .map(|_| TcpStream::connect(addr).expect("dial"))
            .collect::<Vec<_>>()
    });
    let accepted = reactor
        .run_until(async {
            let mut n = 0;
            for _ in 0..CONNECTIONS {
                let conn = listener.accept().await;
                assert!(conn.is_ok(), "Accept: {:?}", conn.err());
                n += 1;
            }
            n
        })
        .unwrap();
    assert_eq!(accepted, CONNECTIONS);
    let connections = dialer.join().unwrap();
    assert_eq!(connections.len(), CONNECTIONS);
    drop(connections);
    drop(listener);
}
