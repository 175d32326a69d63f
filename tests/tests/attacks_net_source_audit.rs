//! `uring::net` checked, from safe code, against what Linux 6.18's socket
//! and io_uring code does with the ops it queues:
//!
//! - ops the kernel hands to an io-wq worker: a request whose poll says
//!   "ready" while its issue keeps failing with `EAGAIN` is retried a
//!   bounded number of times (`io_arm_poll_handler` -> `io_req_alloc_apoll`,
//!   `APOLL_MAX_RETRY` in io_uring/poll.c) and then issued blocking in a
//!   worker (`io_queue_iowq`), where a cancel
//!   (a deadline's link timeout, `OpFuture`'s drop, io_tokio's cancel of
//!   a send whose deadline moved) signals the worker (`io_wq_cancel_cb` ->
//!   `__set_notify_signal`) and the op completes with `-EINTR`
//!   (`-ERESTARTSYS` turned into `-EINTR` by `io_send` / `io_sendmsg` /
//!   `io_recv`), not `-ECANCELED`; and where a socket left `O_NONBLOCK`
//!   fails `sendmsg(2)`-style ops with `EAGAIN` (`____sys_sendmsg` adds
//!   `MSG_DONTWAIT` for such files). Three ways in from safe code: an
//!   unconnected Unix datagram send to a receiver whose queue is full
//!   (`unix_dgram_sendmsg` fails with `EAGAIN` while `unix_dgram_poll`
//!   reports the sender writable), a TCP send on a full socket that holds
//!   a peer's unread urgent byte (`tcp_poll` keeps `EPOLLPRI`, which every
//!   io_uring poll waits for), a UDP receive on a socket whose error queue
//!   is not empty (`IP_RECVERR`: `EPOLLERR` stays);
//! - sockets a std owner left `O_NONBLOCK`, on the paths that poll: the
//!   ops still wait (`io_recv` / `io_send` add `MSG_DONTWAIT` themselves
//!   and arm a poll on `EAGAIN`; only an SQE's own `MSG_DONTWAIT` makes
//!   `EAGAIN` final, `REQ_F_NOWAIT`);
//! - a connected UDP socket's ICMP error (`__udp4_lib_err` sets `sk_err`
//!   and wakes pollers with `EPOLLERR`, which every io_uring poll waits
//!   for; `sock_error` consumes it): one receive fails, and the buffer it
//!   was lent or selected comes back unwritten (`io_kbuf_recycle`);
//! - multishot receives that the kernel ends on a full CQ with their last
//!   buffer (`io_recv_finish`), under tokio's `AsyncRead` through
//!   `set_read_ring` and under `recv_stream`;
//! - a peer's urgent byte in the middle of the stream
//!   (`tcp_recvmsg_locked` skips it without `SO_OOBINLINE`: the count a
//!   receive reports is the bytes it copied);
//! - `poll_shutdown` again, after the peer's end and after a write behind
//!   it (`inet_shutdown`, `tcp_shutdown`, `unix_shutdown`, `io_shutdown`
//!   in a worker; `tcp_sendmsg_locked` fails a send after `SHUT_WR` with
//!   `EPIPE`).
//!
//! Each test asserts what the kernel really did: the bytes each peer
//! read, in order, each once; errnos; canary bytes in buffers given back;
//! the buffers a ring still has; how long an op took; the ops left in
//! flight.

use std::io::{self, Write as _};
use std::os::fd::{AsFd, AsRawFd as _, BorrowedFd, OwnedFd};
use std::os::linux::net::SocketAddrExt as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite};
use uring::MsgFlags;
use uring::SockAddr;
use uring::net::{TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream};
use uring::reactor::ops::{Recv, RecvMulti, Send};
use uring::reactor::{Reactor, SharedFd};
use uring_tests::net::peer::{self, Peer};
use uring_tests::net::{any, assert_group_whole, assert_kernel_bytes, group_or_skip, noop_cx};
use uring_tests::{pattern, poll_once, run_for, set_int_option, skip, watchdog};

/// The errno of a failed result.
fn errno<T>(r: &io::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(io::Error::raw_os_error)
}

/// The kind of a failed result.
fn kind<T>(r: &io::Result<T>) -> Option<io::ErrorKind> {
    r.as_ref().err().map(io::Error::kind)
}

/// The calling thread's id, as `/proc/thread-self` names it.
fn thread_id() -> String {
    let link = std::fs::read_link("/proc/thread-self").unwrap();
    link.file_name().unwrap().to_string_lossy().into_owned()
}

/// Whether an io-wq worker of the calling thread sleeps inside an op:
/// its state is `S` and its `wchan` is not the idle worker's
/// (`io_wq_worker`).
fn a_worker_sleeps_in_an_op() -> bool {
    // The kernel keeps 15 bytes of a thread's name.
    let name: String = format!("iou-wrk-{}", thread_id())
        .chars()
        .take(15)
        .collect();
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .any(|thread| {
            let read = |what| std::fs::read_to_string(thread.path().join(what)).unwrap_or_default();
            let stat = read("stat");
            let state = stat.rsplit(") ").next().and_then(|s| s.chars().next());
            read("comm").trim_end() == name
                && state == Some('S')
                && !read("wchan").starts_with("io_wq")
        })
}

/// Runs `reactor` in short rounds until an io-wq worker of this thread
/// sleeps inside an op, or `bound` passes (`false`).
fn until_a_worker_sleeps(reactor: &Reactor, bound: Duration) -> bool {
    let end = Instant::now() + bound;
    while Instant::now() < end {
        run_for(reactor, 2);
        if a_worker_sleeps_in_an_op() {
            return true;
        }
    }
    false
}

/// Sends one urgent byte (`MSG_OOB`) from `from` to its peer, through the
/// reactor, and gives it time to land: the peer's socket then reports
/// `EPOLLPRI` until the byte is read past.
fn urgent_byte(reactor: &Reactor, from: &Peer) {
    let fd = SharedFd::new(OwnedFd::from(from.try_clone().unwrap()));
    let op = Send::new(&fd, b"!".to_vec()).flags(MsgFlags::OOB | MsgFlags::NOSIGNAL);
    let (r, _) = reactor.run_until(reactor.op(op)).unwrap();
    assert_eq!(r.unwrap(), 1, "the urgent byte");
    std::thread::sleep(Duration::from_millis(20));
}

/// Shrinks the windows of a TCP stream and its peer, then fills the
/// stream's send side until it takes nothing more, three rounds in a row
/// (TCP frees room a while after a first fill); returns the filler (a
/// duplicate of the stream's descriptor) and the zeros it wrote.
fn choke(stream: BorrowedFd<'_>, peer: &Peer) -> (Peer, usize) {
    set_int_option(peer, libc::SOL_SOCKET, libc::SO_RCVBUF, 16 << 10).unwrap();
    set_int_option(stream, libc::SOL_SOCKET, libc::SO_SNDBUF, 4 << 10).unwrap();
    let (filler, mut total) = peer::fill_through(stream);
    let mut still = 0;
    while still < 3 {
        std::thread::sleep(Duration::from_millis(10));
        let (_more_filler, more) = peer::fill_through(stream);
        total += more;
        still = if more == 0 { still + 1 } else { 0 };
    }
    (filler, total)
}

/// Reads `peer` while running `reactor`, until it holds `want` bytes, sees
/// its end, or nothing came for 300 ms.
fn read_until_quiet(reactor: &Reactor, peer: &mut Peer, want: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut quiet_since = Instant::now();
    let start = Instant::now();
    loop {
        let before = got.len();
        let ended = peer::drain(peer, &mut got);
        if ended || got.len() >= want || quiet_since.elapsed() > Duration::from_millis(300) {
            return got;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the peer reads forever"
        );
        if got.len() != before {
            quiet_since = Instant::now();
        }
        if !reactor.is_shut_down() {
            run_for(reactor, 3);
        }
    }
}

/// A Unix datagram socket bound to a new abstract name, whose receive
/// queue an unconnected sender has filled (`unix_recvq_full_lockless`:
/// more than `max_dgram_qlen` datagrams): the receiver, its address, and
/// how many datagrams wait.
fn full_receiver(
    tag: &str,
) -> (
    std::os::unix::net::UnixDatagram,
    std::os::unix::net::SocketAddr,
    usize,
) {
    // Tests run at once, some with the same tag: each receiver its name.
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "uring-net-source-audit-{tag}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let receiver = std::os::unix::net::UnixDatagram::bind_addr(&addr).unwrap();
    let filler = std::os::unix::net::UnixDatagram::unbound().unwrap();
    filler.set_nonblocking(true).unwrap();
    let mut queued = 0;
    loop {
        match filler.send_to_addr(b"fill", &addr) {
            Ok(_) => queued += 1,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("filling the receiver: {e}"),
        }
    }
    (receiver, addr, queued)
}

/// Reads what `receiver` holds now, without waiting.
fn datagrams_now(receiver: &std::os::unix::net::UnixDatagram) -> Vec<Vec<u8>> {
    receiver.set_nonblocking(true).unwrap();
    let mut all = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        match receiver.recv(&mut buf) {
            Ok(n) => all.push(buf[..n].to_vec()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("reading the receiver: {e}"),
        }
    }
    all
}

/// A UDP socket on the reactor with `IP_RECVERR`, connected to a port
/// nobody listens on, to which it has sent a datagram: the ICMP error
/// waits on its error queue (`ip_icmp_error`; `udp_poll` -> `datagram_poll`
/// reports `EPOLLERR` until it is read with `MSG_ERRQUEUE`), the pending
/// `sk_err` consumed by a first receive. `None` where the kernel never
/// reported the error.
fn udp_with_queued_error(reactor: &Reactor) -> Option<UdpSocket> {
    let dead = std::net::UdpSocket::bind(any()).unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    let u = UdpSocket::bind(reactor, any()).unwrap();
    set_int_option(&u, libc::IPPROTO_IP, libc::IP_RECVERR, 1).unwrap();
    u.connect(dead_addr).unwrap();
    let (r, _) = reactor.run_until(u.send(b"ping".to_vec())).unwrap();
    assert_eq!(r.unwrap(), 4);
    std::thread::sleep(Duration::from_millis(20));
    let (r, _) = reactor.run_until(u.recv(vec![0u8; 16])).unwrap();
    if errno(&r) != Some(libc::ECONNREFUSED) {
        skip(format_args!("no ICMP error reached the socket: {r:?}"));
        return None;
    }
    Some(u)
}

// ---------------------------------------------------------------------------
// Ops the kernel hands to an io-wq worker
// ---------------------------------------------------------------------------

/// How a stream whose send sits in a worker is left after its write
/// deadline moved.
#[derive(Clone, Copy, Debug)]
enum Then {
    /// Flushed until the peer has read everything.
    Flush,
    /// Dropped: the send in flight must go on (`drop_io`, `send_rest`).
    Drop,
}

/// One case of [`a_write_deadline_moved_while_a_send_waits_in_a_worker_loses_no_byte`]:
/// its failures.
fn moved_deadline_case(then: Then) -> Vec<String> {
    let mut failures = Vec::new();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (mut s, mut peer) = peer::tcp(&h);
    urgent_byte(&reactor, &peer);
    let (_filler, filled) = choke(s.as_fd(), &peer);
    let data = pattern(64 << 10, 0x5b);
    peer::write_now(&mut s, &data, "the write");
    if !until_a_worker_sleeps(&reactor, Duration::from_secs(2)) {
        skip(format_args!("{then:?}: the send never went to a worker"));
        return failures;
    }
    // An extension: no deadline ever passes.
    s.set_write_deadline(Some(Instant::now() + Duration::from_secs(60)));
    let want = filled + data.len();
    let got = match then {
        Then::Flush => {
            let mut got = Vec::new();
            let end = Instant::now() + Duration::from_secs(5);
            loop {
                match Pin::new(&mut s).poll_flush(&mut noop_cx()) {
                    Poll::Ready(Ok(())) => break,
                    Poll::Ready(Err(e)) => {
                        failures.push(format!("{then:?}: the flush failed: {e:?}"));
                        break;
                    }
                    Poll::Pending => {}
                }
                if Instant::now() > end {
                    failures.push(format!("{then:?}: the flush never ended"));
                    break;
                }
                peer::drain(&mut peer, &mut got);
                run_for(&reactor, 3);
            }
            got.extend(read_until_quiet(
                &reactor,
                &mut peer,
                want.saturating_sub(got.len()),
            ));
            got
        }
        Then::Drop => {
            // Read past the urgent byte first: a socket closed with bytes
            // unread is reset, and the reset would throw away what is left
            // of the send (`tcp_close`).
            let (r, _) = reactor
                .run_until(
                    h.op(Recv::new(s.shared_fd(), Vec::with_capacity(8)).flags(MsgFlags::DONTWAIT)),
                )
                .unwrap();
            assert_eq!(errno(&r), Some(libc::EAGAIN), "only the urgent byte waited");
            drop(s);
            read_until_quiet(&reactor, &mut peer, want)
        }
    };
    if got.len() != want {
        failures.push(format!(
            "{then:?}: the peer read {} bytes of the {filled} zeros and {} reported written",
            got.len(),
            data.len()
        ));
    } else if got[..filled].iter().any(|&b| b != 0) || got[filled..] != data[..] {
        failures.push(format!("{then:?}: the peer read other bytes"));
    }
    failures
}

/// `poll_write` takes 64 KiB for a TCP stream whose send side is full and
/// whose peer sent an urgent byte: `tcp_poll` reports `EPOLLPRI`, so every
/// poll `io_arm_poll_handler` arms for the send is ready at once while the
/// send keeps failing with `EAGAIN`; after `APOLL_MAX_RETRY` tries
/// (`io_req_alloc_apoll`) the
/// kernel issues it blocking in an io-wq worker (`io_queue_iowq`), where
/// it sleeps in `sk_stream_wait_memory`. The write deadline is then moved
/// from none to a minute away: io_tokio cancels the send to start it again
/// under the new deadline (`Carried::follow`); the cancel signals the
/// worker and the send completes with `-EINTR` (`io_send`), having sent
/// nothing. The bytes were reported written: whether the stream is then
/// flushed or dropped (`drop_io`, which promises to send them again), the
/// peer must read every one, and no flush may fail.
#[test]
fn a_write_deadline_moved_while_a_send_waits_in_a_worker_loses_no_byte() {
    let _watch = watchdog();
    let mut failures = moved_deadline_case(Then::Flush);
    failures.extend(moved_deadline_case(Then::Drop));
    assert!(failures.is_empty(), "{failures:#?}");
}

/// What a deadline does to an op the kernel handed to a worker, in three
/// shapes; the results and the times they took.
struct WorkerCases {
    /// `UnixDatagram::send_to_addr` to a full receiver, the buffer back.
    datagram: (io::Result<usize>, Vec<u8>, Duration),
    /// `UdpSocket::recv` with an error queued, the buffer back; the socket.
    udp: (io::Result<usize>, Box<[u8]>, Duration, UdpSocket),
    /// `TcpStream::write` on a full socket holding an urgent byte, with the
    /// zeros filled before it, the bytes written, and the peer's bytes.
    tcp: (io::Result<usize>, usize, Vec<u8>, Vec<u8>, Duration),
}

/// The deadline every case of [`WorkerCases`] runs under.
const CUT: Duration = Duration::from_millis(80);

/// The canary bytes of buffers the kernel must not write.
const CANARY: u8 = 0xC5;

/// Runs the three [`WorkerCases`] under a deadline [`CUT`] away; `None`
/// (with a skip message) where the kernel never reported the UDP error.
fn worker_cases(reactor: &Reactor) -> Option<WorkerCases> {
    let h = reactor.handle();

    let (receiver, addr, queued) = full_receiver("cut");
    let mut sender = UnixDatagram::unbound(&h).unwrap();
    let start = Instant::now();
    sender.set_write_deadline(Some(start + CUT));
    let (r, buf) = reactor
        .run_until(sender.send_to_addr(b"late".to_vec(), SockAddr::from(&addr)))
        .unwrap();
    let datagram = (r, buf, start.elapsed());
    let seen = datagrams_now(&receiver);
    assert_eq!(seen.len(), queued, "the receiver's datagrams");
    assert!(
        seen.iter().all(|d| d == b"fill"),
        "a datagram of the cut send arrived"
    );

    let mut u = udp_with_queued_error(reactor)?;
    let start = Instant::now();
    u.set_read_deadline(Some(start + CUT));
    let (r, buf) = reactor
        .run_until(u.recv(vec![CANARY; 32].into_boxed_slice()))
        .unwrap();
    let took = start.elapsed();
    u.set_read_deadline(None);
    let udp = (r, buf, took, u);

    let (mut s, mut peer) = peer::tcp(&h);
    urgent_byte(reactor, &peer);
    let (_filler, filled) = choke(s.as_fd(), &peer);
    let data = pattern(64 << 10, 0x3c);
    let start = Instant::now();
    s.set_write_deadline(Some(start + CUT));
    let (r, _) = reactor.run_until(s.write(data.clone())).unwrap();
    let took = start.elapsed();
    let sent = *r.as_ref().unwrap_or(&0);
    let got = read_until_quiet(reactor, &mut peer, filled + sent);
    s.set_write_deadline(None);
    let tcp = (r, filled, data, got, took);
    Some(WorkerCases { datagram, udp, tcp })
}

/// An op the kernel issues in a worker still ends at its deadline (the
/// link timeout's cancel signals the worker: `io_wq_cancel_cb`), and what
/// it touched is what its result says: the unconnected datagram send to a
/// full receiver (`unix_dgram_sendmsg` sleeps in `unix_wait_for_peer`)
/// fails, gives its bytes back and delivers nothing; the UDP receive whose
/// socket keeps `EPOLLERR` (`IP_RECVERR`, an error queued) fails and its
/// buffer stays canary, also after a datagram arrives; the TCP write on a
/// full socket holding an urgent byte reports the bytes it sent (a part,
/// or none on an error), exactly what the peer then reads after the
/// filler's zeros. A send of the same kind whose future is dropped while
/// its worker sleeps is cancelled too: nothing is left in flight, nothing
/// arrives. Afterwards the datagram sender sends, and the UDP socket,
/// connected to a live peer, receives.
#[test]
fn ops_in_a_worker_end_at_their_deadline_and_touch_nothing_after() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(cases) = worker_cases(&reactor) else {
        return;
    };
    let bound = CUT + Duration::from_secs(2);

    let (r, buf, took) = &cases.datagram;
    assert!(r.is_err(), "the datagram send: {r:?}");
    assert_eq!(buf, b"late", "the datagram's bytes come back");
    assert!(
        *took >= CUT && *took < bound,
        "the datagram send took {took:?}"
    );

    let (r, buf, took, u) = &cases.udp;
    assert!(r.is_err(), "the UDP receive: {r:?}");
    assert!(
        *took >= CUT && *took < bound,
        "the UDP receive took {took:?}"
    );
    assert!(
        buf.iter().all(|&b| b == CANARY),
        "the UDP buffer was written"
    );
    let live = std::net::UdpSocket::bind(any()).unwrap();
    u.connect(live.local_addr().unwrap()).unwrap();
    live.send_to(b"to the UDP socket", u.local_addr().unwrap())
        .unwrap();
    run_for(&reactor, 20);
    assert!(
        buf.iter().all(|&b| b == CANARY),
        "the UDP buffer was written after its receive"
    );
    let (r, got) = reactor.run_until(u.recv(vec![0u8; 64])).unwrap();
    assert_kernel_bytes(&got[..r.unwrap()], b"to the UDP socket", "a receive after");

    let (r, filled, data, got, took) = &cases.tcp;
    let sent = match r {
        Ok(n) => *n,
        Err(_) => 0,
    };
    assert!(*took < bound, "the TCP write took {took:?}");
    assert_eq!(
        got.len(),
        filled + sent,
        "the peer reads what was counted: {r:?}"
    );
    assert!(got[..*filled].iter().all(|&b| b == 0), "the filler's zeros");
    assert_eq!(
        &got[*filled..],
        &data[..sent],
        "the bytes counted, in order"
    );

    // A send with no deadline, dropped while its worker sleeps.
    let (receiver, addr, queued) = full_receiver("dropped");
    let sender = UnixDatagram::unbound(&h).unwrap();
    let mut send = Box::pin(sender.send_to_addr(b"dropped".to_vec(), SockAddr::from(&addr)));
    assert!(poll_once(&mut send).is_pending());
    if until_a_worker_sleeps(&reactor, Duration::from_secs(2)) {
        drop(send);
        let end = Instant::now() + Duration::from_secs(2);
        while reactor.in_flight() > 0 {
            assert!(Instant::now() < end, "the dropped send never ended");
            run_for(&reactor, 2);
        }
        let seen = datagrams_now(&receiver);
        assert_eq!(seen.len(), queued, "a dropped send delivered");
    } else {
        skip("the dropped send never went to a worker");
        drop(send);
        run_for(&reactor, 20);
    }

    // Each socket works afterwards.
    let (r, buf) = reactor
        .run_until(sender.send_to_addr(b"after".to_vec(), SockAddr::from(&addr)))
        .unwrap();
    assert_eq!(r.unwrap(), 5);
    assert_eq!(buf, b"after");
    assert_eq!(datagrams_now(&receiver), vec![b"after".to_vec()]);
    assert_eq!(reactor.in_flight(), 0);
}

/// The errors of [`worker_cases`]: a deadline that ends an op in flight
/// must fail it with `TimedOut` (the module documentation of `uring::net`),
/// and a cancel that reaches an op in a worker makes it complete with
/// `EINTR`, not `ECANCELED`: the datagram send, the UDP receive and the
/// TCP write (if nothing of it was sent) must each report `TimedOut`,
/// never `Interrupted`, which callers take for "try again".
#[test]
fn deadlines_that_cut_ops_in_a_worker_fail_them_with_timed_out() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let Some(cases) = worker_cases(&reactor) else {
        return;
    };
    let mut failures = Vec::new();
    let timed_out = Some(io::ErrorKind::TimedOut);
    if kind(&cases.datagram.0) != timed_out {
        failures.push(format!("datagram send: {:?}", cases.datagram.0));
    }
    if kind(&cases.udp.0) != timed_out {
        failures.push(format!("UDP receive: {:?}", cases.udp.0));
    }
    if cases.tcp.0.is_err() && kind(&cases.tcp.0) != timed_out {
        failures.push(format!("TCP write: {:?}", cases.tcp.0));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

// ---------------------------------------------------------------------------
// Sockets a std owner left non-blocking
// ---------------------------------------------------------------------------

/// Polls `op` once, runs the reactor 30 ms, and checks that it still waits.
fn still_waits<F: std::future::Future + Unpin>(reactor: &Reactor, op: &mut F, what: &str) {
    assert!(poll_once(op).is_pending(), "{what}: done at once");
    run_for(reactor, 30);
    assert!(poll_once(op).is_pending(), "{what}: done without its peer");
}

/// Runs the reactor until `op` is done.
fn finish<F: std::future::Future + Unpin>(reactor: &Reactor, op: &mut F, what: &str) -> F::Output {
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        if let Poll::Ready(out) = poll_once(op) {
            return out;
        }
        assert!(Instant::now() < end, "{what}: never done");
        run_for(reactor, 2);
    }
}

/// Sockets made by std and set `O_NONBLOCK` before `from_std` (as a tokio
/// socket's `into_std` leaves them): ops that wait through io_uring's poll
/// still wait, since `io_recv`, `io_send`, `io_recvmsg` and `io_accept`
/// treat the `EAGAIN` of a non-blocking attempt (their own `MSG_DONTWAIT`,
/// or `____sys_recvmsg`'s for an `O_NONBLOCK` file) as "arm a poll"; only
/// an SQE's own `MSG_DONTWAIT` makes it final (`REQ_F_NOWAIT`). A TCP
/// read, tokio's `poll_read`, an accept, a UDP `recv_from`, a Unix
/// `recv_with_fds` and a Unix `write_all` into a full socket each wait
/// for their peer, then complete with exactly its bytes (and address, and
/// descriptor).
#[test]
fn sockets_left_non_blocking_by_their_std_owner_still_wait() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();

    let listener = std::net::TcpListener::bind(any()).unwrap();
    let c = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (p, _) = listener.accept().unwrap();
    c.set_nonblocking(true).unwrap();
    let mut s = TcpStream::from_std(&h, c);
    let mut peer = Peer::from(OwnedFd::from(p));

    let mut read = Box::pin(s.read(Vec::with_capacity(64)));
    still_waits(&reactor, &mut read, "a TCP read");
    peer.write_all(b"to the read").unwrap();
    let (r, buf) = finish(&reactor, &mut read, "a TCP read");
    assert_kernel_bytes(&buf[..r.unwrap()], b"to the read", "a TCP read");
    drop(read);

    let mut out = [0u8; 16];
    let mut rb = tokio::io::ReadBuf::new(&mut out);
    assert!(
        Pin::new(&mut s)
            .poll_read(&mut noop_cx(), &mut rb)
            .is_pending()
    );
    run_for(&reactor, 30);
    assert!(
        Pin::new(&mut s)
            .poll_read(&mut noop_cx(), &mut rb)
            .is_pending()
    );
    peer.write_all(b"to tokio").unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        match Pin::new(&mut s).poll_read(&mut noop_cx(), &mut rb) {
            Poll::Ready(r) => break r.unwrap(),
            Poll::Pending => assert!(Instant::now() < end, "poll_read never done"),
        }
        run_for(&reactor, 2);
    }
    assert_kernel_bytes(rb.filled(), b"to tokio", "poll_read");

    let std_listener = std::net::TcpListener::bind(any()).unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let l = TcpListener::from_std(&h, std_listener);
    let mut accept = Box::pin(l.accept());
    still_waits(&reactor, &mut accept, "an accept");
    let client = std::net::TcpStream::connect(addr).unwrap();
    let accepted = finish(&reactor, &mut accept, "an accept").unwrap();
    assert_eq!(accepted.peer_addr().unwrap(), client.local_addr().unwrap());

    let std_udp = std::net::UdpSocket::bind(any()).unwrap();
    std_udp.set_nonblocking(true).unwrap();
    let uaddr = std_udp.local_addr().unwrap();
    let u = UdpSocket::from_std(&h, std_udp);
    let mut recv = Box::pin(u.recv_from(vec![0u8; 32]));
    still_waits(&reactor, &mut recv, "a UDP recv_from");
    let sender = std::net::UdpSocket::bind(any()).unwrap();
    sender.send_to(b"datagram", uaddr).unwrap();
    let (r, buf) = finish(&reactor, &mut recv, "a UDP recv_from");
    let (n, from) = r.unwrap();
    assert_kernel_bytes(&buf[..n], b"datagram", "a UDP recv_from");
    assert_eq!(from, sender.local_addr().unwrap());

    let (mine, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    mine.set_nonblocking(true).unwrap();
    let us = UnixStream::from_std(&h, mine);
    let them = UnixStream::from_std(&h, theirs);
    let mut recv = Box::pin(us.recv_with_fds(vec![0u8; 16], 2));
    still_waits(&reactor, &mut recv, "a recv_with_fds");
    let (rd, wr) = uring_tests::pipe();
    let (r, _, _) = reactor
        .run_until(them.send_with_fds(b"fd".to_vec(), vec![wr]))
        .unwrap();
    assert_eq!(r.unwrap(), 2);
    let (r, buf, fds) = finish(&reactor, &mut recv, "a recv_with_fds");
    assert_kernel_bytes(&buf[..r.unwrap()], b"fd", "a recv_with_fds");
    assert_eq!(fds.len(), 1, "the descriptor");
    let mut w = std::fs::File::from(fds.into_iter().next().unwrap());
    w.write_all(b"x").unwrap();
    let mut one = [0u8; 1];
    assert_eq!(
        io::Read::read(&mut std::fs::File::from(rd), &mut one).unwrap(),
        1
    );

    let (mine, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let filled = uring_tests::fill_unix_send_side(&mine);
    mine.set_nonblocking(true).unwrap();
    let us = UnixStream::from_std(&h, mine);
    let mut p = theirs;
    let data = pattern(8 << 10, 9);
    let mut write = Box::pin(us.write_all(data.clone()));
    still_waits(&reactor, &mut write, "a Unix write_all into a full socket");
    let mut got = Vec::new();
    let (r, _) = loop {
        if let Poll::Ready(out) = poll_once(&mut write) {
            break out;
        }
        peer::drain(&mut p, &mut got);
        run_for(&reactor, 2);
    };
    r.unwrap();
    drop(write);
    drop(us);
    got.extend(read_until_quiet(&reactor, &mut p, usize::MAX));
    assert_eq!(got.len(), filled + data.len(), "the peer reads every byte");
    assert!(
        got[..filled].iter().all(|&b| b == 0xEE),
        "the filler's bytes"
    );
    assert_eq!(&got[filled..], &data[..], "the bytes written, in order");
    assert_eq!(reactor.in_flight(), 0);
}

/// A Unix datagram socket left `O_NONBLOCK` by its std owner sends to a
/// receiver whose queue is full: `unix_dgram_poll` reports the unconnected
/// sender writable while `unix_dgram_sendmsg` fails with `EAGAIN`, so the
/// kernel hands the send to a worker (`APOLL_MAX_RETRY`), where
/// `____sys_sendmsg` adds `MSG_DONTWAIT` for the `O_NONBLOCK` file and the
/// worker's `EAGAIN` is final. An async send must wait for the receiver
/// instead (as every other op on such a socket does; `from_std` switches
/// the socket to blocking mode): it should still be waiting after 50 ms,
/// and deliver its datagram once the receiver has read one.
///
/// The wait now holds (see
/// [`a_datagram_socket_left_non_blocking_waits_as_a_blocking_one_does`]),
/// but on Linux 6.18 what the send delivers is not its datagram, whether
/// the socket was left `O_NONBLOCK` or not: `unix_dgram_sendmsg` copies the
/// bytes out of the message's iterator before it finds the receiver's
/// queue full and fails with `EAGAIN`, and io_uring issues the op again
/// (after its poll, and in the worker) with that iterator consumed: the
/// receiver gets an empty datagram and the op completes with 0. The send
/// must say so: `WriteZero`, never a count of 0 taken for success. On a
/// kernel that sends the datagram, it reports its 4 bytes.
#[test]
fn a_non_blocking_datagram_socket_s_send_waits_for_a_full_receiver() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (receiver, addr, queued) = full_receiver("nonblocking");
    let std_sender = std::os::unix::net::UnixDatagram::unbound().unwrap();
    std_sender.set_nonblocking(true).unwrap();
    let sender = UnixDatagram::from_std(&h, std_sender);
    let mut send = Box::pin(sender.send_to_addr(b"late".to_vec(), SockAddr::from(&addr)));
    let _ = poll_once(&mut send);
    for _ in 0..25 {
        run_for(&reactor, 2);
        if let Poll::Ready((r, _)) = poll_once(&mut send) {
            panic!("the send ended before the receiver read anything: {r:?}");
        }
    }
    let mut buf = [0u8; 16];
    receiver.set_nonblocking(false).unwrap();
    assert_eq!(receiver.recv(&mut buf).unwrap(), 4);
    let (r, _) = finish(&reactor, &mut send, "the send");
    let seen = datagrams_now(&receiver);
    assert_eq!(
        seen.len(),
        queued,
        "one datagram took the place of the one read"
    );
    match r {
        Ok(n) => {
            assert_eq!(n, 4);
            assert_eq!(seen.last().unwrap(), b"late");
        }
        Err(e) => {
            assert_eq!(e.kind(), std::io::ErrorKind::WriteZero, "{e}");
            assert!(seen.last().unwrap().is_empty(), "{:?}", seen.last());
        }
    }
}

/// Sends `late` from `sender` to a receiver an unconnected sender filled,
/// checks that the send waits 50 ms, has the receiver read one datagram,
/// and returns the send's result once done, after checking that one
/// datagram took the place of the one read.
fn send_to_full_receiver(
    reactor: &Reactor,
    sender: &UnixDatagram,
    what: &str,
) -> Result<usize, io::ErrorKind> {
    let (receiver, addr, queued) = full_receiver("waits");
    let mut send = Box::pin(sender.send_to_addr(b"late".to_vec(), SockAddr::from(&addr)));
    let _ = poll_once(&mut send);
    for _ in 0..25 {
        run_for(reactor, 2);
        if let Poll::Ready((r, _)) = poll_once(&mut send) {
            panic!("{what}: the send ended before the receiver read anything: {r:?}");
        }
    }
    let mut buf = [0u8; 16];
    receiver.set_nonblocking(false).unwrap();
    assert_eq!(receiver.recv(&mut buf).unwrap(), 4, "{what}: a filler");
    let (r, buf) = finish(reactor, &mut send, what);
    assert_eq!(buf, b"late", "{what}: the bytes come back");
    // A send the kernel issued again after its first attempt consumed the
    // message sent an empty datagram: `WriteZero` (see the test above).
    let n = r.map_err(|e| e.kind());
    assert!(
        matches!(n, Ok(4) | Err(io::ErrorKind::WriteZero)),
        "{what}: the send's result: {n:?}"
    );
    let seen = datagrams_now(&receiver);
    assert_eq!(seen.len(), queued, "{what}: the datagrams after the send");
    n
}

/// The part of
/// [`a_non_blocking_datagram_socket_s_send_waits_for_a_full_receiver`]
/// that `from_std` answers for: a Unix datagram socket handed over
/// `O_NONBLOCK` sends as one never made non-blocking does. Each send to a
/// full receiver, which the kernel ends up issuing in a worker, still
/// waits after 50 ms (it used to fail there with `WouldBlock`: io-wq's
/// `MSG_DONTWAIT` for the `O_NONBLOCK` file), completes once the receiver
/// has read one datagram (with its 4 bytes, or `WriteZero` where the
/// kernel sent an empty datagram: see the test above), adds exactly one
/// datagram to its queue, and reports the same result for both sockets.
#[test]
fn a_datagram_socket_left_non_blocking_waits_as_a_blocking_one_does() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let blocking = std::os::unix::net::UnixDatagram::unbound().unwrap();
    let blocking = UnixDatagram::from_std(&h, blocking);
    let left = std::os::unix::net::UnixDatagram::unbound().unwrap();
    left.set_nonblocking(true).unwrap();
    let left = UnixDatagram::from_std(&h, left);
    let from_blocking = send_to_full_receiver(&reactor, &blocking, "a blocking socket");
    let from_left = send_to_full_receiver(&reactor, &left, "a socket left non-blocking");
    assert_eq!(from_left, from_blocking, "the two sends' results");
    assert_eq!(reactor.in_flight(), 0);
}

/// `O_NONBLOCK` as a status flag.
const NONBLOCK: u32 = libc::O_NONBLOCK as u32;

/// The status flags of `fd`'s open file description, as
/// `/proc/self/fdinfo` shows them (octal).
fn status_flags(fd: BorrowedFd<'_>) -> u32 {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).unwrap();
    let flags = info
        .lines()
        .find_map(|line| line.strip_prefix("flags:"))
        .expect("fdinfo shows the flags");
    u32::from_str_radix(flags.trim(), 8).unwrap()
}

/// Sets `socket` non-blocking (or not) with `set`, hands it to a
/// `from_std` through `wrap`, and checks what that did to the status
/// flags: `O_NONBLOCK` cleared, nothing else changed, on a duplicate made
/// before too (it shares the open file description).
fn hand_over<S: AsFd, T: AsFd>(
    what: &str,
    nonblocking: bool,
    socket: S,
    set: fn(&S, bool) -> io::Result<()>,
    wrap: impl FnOnce(S) -> T,
) -> T {
    set(&socket, nonblocking).unwrap();
    let dup = socket.as_fd().try_clone_to_owned().unwrap();
    let before = status_flags(dup.as_fd());
    assert_eq!(
        before & NONBLOCK != 0,
        nonblocking,
        "{what}: the flags before, {before:o}"
    );
    let wrapped = wrap(socket);
    let after = status_flags(wrapped.as_fd());
    assert_eq!(
        after,
        before & !NONBLOCK,
        "{what} (non-blocking {nonblocking}): {before:o} became {after:o}"
    );
    assert_eq!(
        status_flags(dup.as_fd()) & NONBLOCK,
        0,
        "{what}: the duplicate's description"
    );
    wrapped
}

/// Every `from_std` switches the socket it is handed to blocking mode, as
/// its documentation says (io_uring does the waiting, and an op the
/// kernel runs in a worker on an `O_NONBLOCK` file fails with `EAGAIN`):
/// TCP and Unix listeners, TCP and Unix streams, UDP and Unix datagram
/// sockets, each left non-blocking by its std owner or not, come out with
/// `O_NONBLOCK` cleared (on a duplicate made before, too, which shares
/// the flag) and every other status flag as it was.
#[test]
fn from_std_switches_every_socket_to_blocking_mode() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    for nonblocking in [true, false] {
        let l = std::net::TcpListener::bind(any()).unwrap();
        let addr = l.local_addr().unwrap();
        let l = hand_over(
            "a TCP listener",
            nonblocking,
            l,
            std::net::TcpListener::set_nonblocking,
            |l| TcpListener::from_std(&h, l),
        );
        let c = std::net::TcpStream::connect(addr).unwrap();
        let _s = hand_over(
            "a TCP stream",
            nonblocking,
            c,
            std::net::TcpStream::set_nonblocking,
            |c| TcpStream::from_std(&h, c),
        );
        let accepted = reactor.run_until(l.accept()).unwrap().unwrap();
        assert_eq!(
            status_flags(accepted.as_fd()) & NONBLOCK,
            0,
            "an accepted stream"
        );
        let _u = hand_over(
            "a UDP socket",
            nonblocking,
            std::net::UdpSocket::bind(any()).unwrap(),
            std::net::UdpSocket::set_nonblocking,
            |u| UdpSocket::from_std(&h, u),
        );
        let name = format!(
            "uring-net-source-audit-listener-{nonblocking}-{}",
            std::process::id()
        );
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let _ul = hand_over(
            "a Unix listener",
            nonblocking,
            std::os::unix::net::UnixListener::bind_addr(&addr).unwrap(),
            std::os::unix::net::UnixListener::set_nonblocking,
            |l| UnixListener::from_std(&h, l),
        );
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let _us = hand_over(
            "a Unix stream",
            nonblocking,
            a,
            std::os::unix::net::UnixStream::set_nonblocking,
            |a| UnixStream::from_std(&h, a),
        );
        let _ud = hand_over(
            "a Unix datagram socket",
            nonblocking,
            std::os::unix::net::UnixDatagram::unbound().unwrap(),
            std::os::unix::net::UnixDatagram::set_nonblocking,
            |d| UnixDatagram::from_std(&h, d),
        );
    }
    assert_eq!(reactor.in_flight(), 0);
}

// ---------------------------------------------------------------------------
// Errors, ends and holes the kernel puts in a socket's stream
// ---------------------------------------------------------------------------

/// A UDP socket connected to a port nobody listens on gets an ICMP port
/// unreachable for its send: `__udp4_lib_err` stores `ECONNREFUSED` in
/// `sk_err` (a hard error on a connected socket) and wakes pollers with
/// `EPOLLERR`, which every poll io_uring arms waits for (`POLLERR` in
/// `io_arm_poll_handler`'s mask). A receive armed before the error is
/// woken and fails with `ECONNREFUSED`, its buffer unwritten; the error is
/// consumed (`sock_error`), so a later receive just waits (its deadline's
/// `TimedOut`). A buffer-ring receive that meets the next error fails too
/// and keeps no buffer (`io_recv` recycles it, `io_kbuf_recycle`): the
/// group of two is whole afterwards. Reconnected to a live peer, the
/// socket receives its datagram whole.
#[test]
fn an_icmp_error_on_a_connected_udp_socket_fails_one_receive_and_keeps_every_buffer() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 61, 2, 64) else {
        return;
    };
    let dead = std::net::UdpSocket::bind(any()).unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    let mut u = UdpSocket::bind(&h, any()).unwrap();
    u.connect(dead_addr).unwrap();

    let mut recv = Box::pin(u.recv(vec![CANARY; 32].into_boxed_slice()));
    still_waits(&reactor, &mut recv, "a receive before the error");
    let (r, _) = reactor.run_until(u.send(b"one".to_vec())).unwrap();
    assert_eq!(r.unwrap(), 3);
    let (r, buf) = finish(&reactor, &mut recv, "a receive before the error");
    if errno(&r) != Some(libc::ECONNREFUSED) {
        return skip(format_args!("no ICMP error reached the socket: {r:?}"));
    }
    assert!(
        buf.iter().all(|&b| b == CANARY),
        "a failed receive wrote its buffer"
    );
    drop(recv);

    u.set_read_deadline(Some(Instant::now() + Duration::from_millis(50)));
    let (r, buf) = reactor
        .run_until(u.recv(vec![CANARY; 32].into_boxed_slice()))
        .unwrap();
    assert_eq!(
        kind(&r),
        Some(io::ErrorKind::TimedOut),
        "the error came twice: {r:?}"
    );
    assert!(buf.iter().all(|&b| b == CANARY));
    u.set_read_deadline(None);

    let (r, _) = reactor.run_until(u.send(b"two".to_vec())).unwrap();
    assert_eq!(r.unwrap(), 3);
    std::thread::sleep(Duration::from_millis(20));
    let r = reactor.run_until(u.recv_ring(group)).unwrap();
    assert_eq!(errno(&r), Some(libc::ECONNREFUSED), "{r:?}");
    drop(r);
    assert_group_whole(&reactor, group, 2, "after a ring receive met the error");

    let live = std::net::UdpSocket::bind(any()).unwrap();
    u.connect(live.local_addr().unwrap()).unwrap();
    live.send_to(b"after the error", u.local_addr().unwrap())
        .unwrap();
    let buf = reactor.run_until(u.recv_ring(group)).unwrap().unwrap();
    assert_kernel_bytes(&buf, b"after the error", "the datagram after");
    drop(buf);
    assert_eq!(reactor.in_flight(), 0);
}

/// A reactor over a ring of 2 SQ and 4 CQ entries, or `None` with a skip
/// message.
fn small_cq_reactor() -> Option<Reactor> {
    match Reactor::ring_builder().cq_entries(4).build(2) {
        Ok(ring) => Some(Reactor::from_ring(ring).unwrap()),
        Err(e) => {
            skip(format_args!("no ring of 2 and 4 entries: {e}"));
            None
        }
    }
}

/// On a reactor whose CQ holds four entries, a multishot receive through
/// 16-byte ring buffers meets 2 KiB at once: its completions fill the CQ,
/// and the receive that finds no room ends the op with a last completion
/// carrying its buffer (`io_recv_finish`: `io_req_post_cqe` fails, the
/// result and buffer go out without `F_MORE`, through the overflow list).
/// A bare `RecvMulti` stream yields that buffer and ends (`None`) with the
/// connection open; what it did not take stays in the socket, for a plain
/// read, in order. `recv_stream` arms its receive again each time the
/// kernel ends one after a buffer: it yields every byte once, in order,
/// then the end of the stream (`Ok(None)`), then `None`, and never `None`
/// before. Tokio's `AsyncRead` through `set_read_ring` arms receives again
/// too: every byte is read once, in order, no read reports the end (0)
/// before the peer's, and every buffer is back in the ring.
#[test]
fn reads_through_a_ring_go_on_past_receives_the_kernel_ends_on_a_full_cq() {
    let _watch = watchdog();
    let Some(reactor) = small_cq_reactor() else {
        return;
    };
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 62, 256, 16) else {
        return;
    };

    // The kernel's end, seen through a bare multishot receive.
    let (s, mut p) = peer::unix(&h);
    let sent = pattern(2048, 0x21);
    p.write_all(&sent).unwrap();
    let mut bare = h.stream(RecvMulti::new(s.shared_fd(), group));
    let (got, ended_early) = reactor
        .run_until(async {
            let mut got = Vec::new();
            loop {
                match bare.next().await {
                    Some(Ok(Some(buf))) => got.extend_from_slice(&buf),
                    Some(other) => panic!("an item that is no data: {other:?}"),
                    None => break (got, true),
                }
                if got.len() == sent.len() {
                    break (got, false);
                }
            }
        })
        .unwrap();
    drop(bare);
    assert_kernel_bytes(&got, &sent[..got.len()], "the bare receive's bytes");
    if ended_early {
        let mut rest = Vec::new();
        while got.len() + rest.len() < sent.len() {
            let (r, buf) = reactor.run_until(s.read(Vec::with_capacity(4096))).unwrap();
            rest.extend_from_slice(&buf[..r.unwrap()]);
        }
        assert_kernel_bytes(&rest, &sent[got.len()..], "the bytes the receive left");
    } else {
        skip("the CQ never filled under the bare receive");
    }
    run_for(&reactor, 10);

    // `recv_stream`, over the same kernel's ends, to the end of the stream.
    let (s, mut p) = peer::unix(&h);
    let sent = pattern(2048, 0x31);
    p.write_all(&sent).unwrap();
    p.shutdown(std::net::Shutdown::Write).unwrap();
    let mut stream = s.recv_stream(group);
    let got = reactor
        .run_until(async {
            let mut got = Vec::new();
            loop {
                match stream.next().await {
                    Some(Ok(Some(buf))) => got.extend_from_slice(&buf),
                    Some(Ok(None)) => break got,
                    Some(Err(e)) => {
                        panic!("the receive stream failed after {} bytes: {e}", got.len())
                    }
                    None => panic!(
                        "the receive stream ended after {} bytes, before the end of the stream",
                        got.len()
                    ),
                }
            }
        })
        .unwrap();
    assert_kernel_bytes(&got, &sent, "the receive stream's bytes");
    for _ in 0..2 {
        assert!(
            matches!(stream.poll_next(&mut noop_cx()), Poll::Ready(None)),
            "the receive stream goes on after the end of the stream"
        );
    }
    drop(stream);
    drop(s);
    run_for(&reactor, 10);
    assert_group_whole(&reactor, group, 256, "after the receive stream");
    assert_eq!(reactor.in_flight(), 0);

    let (mut s, mut p) = peer::unix(&h);
    s.set_read_ring(Some(group));
    let first = pattern(2048, 0x42);
    let second = pattern(1000, 0x43);
    p.write_all(&first).unwrap();
    let mut got = Vec::new();
    let mut out = [0u8; 100];
    let end = Instant::now() + Duration::from_secs(10);
    let mut wrote_second = false;
    loop {
        let mut rb = tokio::io::ReadBuf::new(&mut out);
        match Pin::new(&mut s).poll_read(&mut noop_cx(), &mut rb) {
            Poll::Ready(Ok(())) if rb.filled().is_empty() => break,
            Poll::Ready(Ok(())) => got.extend_from_slice(rb.filled()),
            Poll::Ready(Err(e)) => panic!("a read failed after {} bytes: {e}", got.len()),
            Poll::Pending => run_for(&reactor, 1),
        }
        if !wrote_second && got.len() == first.len() {
            p.write_all(&second).unwrap();
            p.shutdown(std::net::Shutdown::Write).unwrap();
            wrote_second = true;
        }
        assert!(Instant::now() < end, "reads stalled at {} bytes", got.len());
    }
    assert!(
        wrote_second,
        "a read reported the end after {} bytes",
        got.len()
    );
    let mut want = first.clone();
    want.extend_from_slice(&second);
    assert_kernel_bytes(&got, &want, "AsyncRead's bytes");
    drop(s);
    run_for(&reactor, 10);
    assert_group_whole(&reactor, group, 256, "after the reads");
}

/// The peer sends `abc`, an urgent byte `!` (`MSG_OOB`), then `def`.
/// Without `SO_OOBINLINE`, `tcp_recvmsg_locked` stops a read at the
/// urgent mark and skips the byte (`urg_hole`), and the count it returns
/// is what it copied: a plain read, tokio's `AsyncRead` (one-shot
/// receives) and `AsyncRead` through a buffer ring (multishot receives
/// into ring buffers) each read exactly `abcdef`, never the `!`, and no
/// byte of a buffer past the count is claimed (the ring's buffers hold
/// only in-band bytes).
#[test]
fn an_urgent_byte_never_reaches_reads_and_is_never_counted() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 63, 8, 64) else {
        return;
    };
    for how in ["plain", "tokio", "ring"] {
        let (mut s, mut p) = peer::tcp(&h);
        if how == "ring" {
            s.set_read_ring(Some(group));
        }
        p.write_all(b"abc").unwrap();
        urgent_byte(&reactor, &p);
        p.write_all(b"def").unwrap();
        p.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = Vec::new();
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            assert!(Instant::now() < end, "{how}: reads stalled at {got:?}");
            if how == "plain" {
                let (r, buf) = reactor.run_until(s.read(vec![CANARY; 16])).unwrap();
                let n = r.unwrap();
                if n == 0 {
                    break;
                }
                assert!(
                    buf[n..].iter().all(|&b| b == CANARY),
                    "{how}: past the count"
                );
                got.extend_from_slice(&buf[..n]);
                continue;
            }
            let mut out = [CANARY; 16];
            let mut rb = tokio::io::ReadBuf::new(&mut out);
            match Pin::new(&mut s).poll_read(&mut noop_cx(), &mut rb) {
                Poll::Ready(r) => {
                    r.unwrap();
                    let n = rb.filled().len();
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&out[..n]);
                    assert!(
                        out[n..].iter().all(|&b| b == CANARY),
                        "{how}: past the count"
                    );
                }
                Poll::Pending => run_for(&reactor, 1),
            }
        }
        assert_kernel_bytes(&got, b"abcdef", how);
        drop(s);
        run_for(&reactor, 5);
    }
    assert_group_whole(&reactor, group, 8, "after the ring reads");
}

/// `poll_shutdown` a second time while the connection is open succeeds
/// and sends nothing more (`tcp_shutdown` sends a FIN only from
/// `ESTABLISHED`, `SYN_*` or `CLOSE_WAIT`; `unix_shutdown` only ORs the
/// flags): the peer reads one end and can still write back. A
/// `poll_write` after it is taken (write-behind) and fails at the flush
/// with `EPIPE` (`tcp_sendmsg_locked` / `unix_stream_sendmsg` on a shut
/// write side; `MSG_NOSIGNAL`, so no `SIGPIPE`), whose next flush
/// succeeds: nothing of it reaches the peer. Once the peer has closed too
/// (the TCP socket leaves for `TIME_WAIT`, `TCP_CLOSE` here), a third
/// `poll_shutdown`, run by `io_shutdown` in a worker, answers what
/// `shutdown(2)` answers on the same socket right after (`inet_shutdown`:
/// `ENOTCONN` from `TCP_CLOSE`).
#[test]
fn poll_shutdown_again_and_writes_behind_it_get_what_the_kernel_says() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();

    fn shut<S: AsyncWrite + Unpin>(reactor: &Reactor, s: &mut S) -> io::Result<()> {
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            if let Poll::Ready(r) = Pin::new(&mut *s).poll_shutdown(&mut noop_cx()) {
                return r;
            }
            assert!(Instant::now() < end, "poll_shutdown never ended");
            run_for(reactor, 1);
        }
    }
    fn flush<S: AsyncWrite + Unpin>(reactor: &Reactor, s: &mut S) -> io::Result<()> {
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            if let Poll::Ready(r) = Pin::new(&mut *s).poll_flush(&mut noop_cx()) {
                return r;
            }
            assert!(Instant::now() < end, "poll_flush never ended");
            run_for(reactor, 1);
        }
    }
    fn read_some<S: AsyncRead + Unpin>(reactor: &Reactor, s: &mut S) -> Vec<u8> {
        let mut out = [0u8; 64];
        let mut rb = tokio::io::ReadBuf::new(&mut out);
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            if let Poll::Ready(r) = Pin::new(&mut *s).poll_read(&mut noop_cx(), &mut rb) {
                r.unwrap();
                return rb.filled().to_vec();
            }
            assert!(Instant::now() < end, "poll_read never ended");
            run_for(reactor, 1);
        }
    }

    /// Two shutdowns, a write behind them, and what the peer sees.
    fn twice<S: AsyncWrite + Unpin>(reactor: &Reactor, s: &mut S, peer_end: &mut Peer, what: &str) {
        shut(reactor, s).unwrap_or_else(|e| panic!("{what}: the first shutdown: {e}"));
        shut(reactor, s).unwrap_or_else(|e| panic!("{what}: the second shutdown: {e}"));
        peer::write_now(s, b"late", what);
        let late = flush(reactor, s);
        assert_eq!(
            errno(&late),
            Some(libc::EPIPE),
            "{what}: the write behind the shutdown"
        );
        flush(reactor, s).unwrap_or_else(|e| panic!("{what}: the flush after the failed one: {e}"));
        let mut got = Vec::new();
        let end = Instant::now() + Duration::from_secs(5);
        while !peer::drain(peer_end, &mut got) {
            assert!(Instant::now() < end, "{what}: the peer never sees the end");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(got.is_empty(), "{what}: the peer read {got:?}");
        peer_end.write_all(b"back").unwrap();
    }

    let (mut t, mut tp) = peer::tcp(&h);
    let (mut u, mut up) = peer::unix(&h);
    twice(&reactor, &mut t, &mut tp, "tcp");
    twice(&reactor, &mut u, &mut up, "unix");
    assert_kernel_bytes(&read_some(&reactor, &mut t), b"back", "tcp: a read after");
    assert_kernel_bytes(&read_some(&reactor, &mut u), b"back", "unix: a read after");

    drop(tp);
    drop(up);
    assert!(
        read_some(&reactor, &mut t).is_empty(),
        "tcp: the peer's end"
    );
    assert!(
        read_some(&reactor, &mut u).is_empty(),
        "unix: the peer's end"
    );
    let tcp_third = shut(&reactor, &mut t);
    let tcp_std = std::net::TcpStream::from(t.as_fd().try_clone_to_owned().unwrap())
        .shutdown(std::net::Shutdown::Write);
    assert_eq!(
        errno(&tcp_third),
        Some(libc::ENOTCONN),
        "tcp: {tcp_third:?}"
    );
    assert_eq!(
        errno(&tcp_third),
        errno(&tcp_std),
        "tcp: {tcp_third:?} / {tcp_std:?}"
    );
    let unix_third = shut(&reactor, &mut u);
    let unix_std = std::os::unix::net::UnixStream::from(u.as_fd().try_clone_to_owned().unwrap())
        .shutdown(std::net::Shutdown::Write);
    unix_third.unwrap();
    unix_std.unwrap();
    assert_eq!(reactor.in_flight(), 0);
}
