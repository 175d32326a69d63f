//! Attacks, from safe code, on the read side of `uring::net`: tokio's
//! `AsyncRead` polled with `ReadBuf`s of every size (empty, one byte,
//! pre-filled, larger than the stream's own buffer) under a read deadline
//! changed at every poll, moved into the past and lifted; the stream's own
//! read shutdown with bytes still buffered; receives into a reactor's
//! buffer ring (`recv_ring`, `recv_stream`) racing their deadline, run dry
//! (`ENOBUFS`), dropped with buffers queued while bytes flow, and beside a
//! `RingBuf` lent to another receive as a plain buffer; descriptors
//! received (`recv_with_fds`) by receives racing their deadline, and by
//! messages read in parts; datagram receives into empty and short buffers
//! and from dual-stack sockets; many readers of every kind on one reactor,
//! driven by `run_until` and by tokio (`Reactor::into_tokio`); concurrent
//! receives of one socket; ops left pending by `run_until` and finished
//! under tokio; deadlines that fire while tokio sleeps in epoll; receives
//! cut by their reactor's drop; receives over another reactor's group; a
//! plain read after `AsyncRead` buffered bytes.
//!
//! Each test asserts what really happened: every byte sent is read once,
//! in order (or, where a receive was dropped with bytes, the rest is a
//! suffix of what was sent); errors are the kernel's or `TimedOut`, and
//! `TimedOut` only once the deadline in force has passed; a group's
//! buffers are all free again (as many held at once as the group has, the
//! next one `ENOBUFS`), and none is handed out while another holds it;
//! descriptors are counted by inode in `/proc/self/fd`, and the peer of
//! the passed socket sees its end once every copy is closed. Under
//! valgrind, bytes that only the kernel wrote into memory memcheck thinks
//! uninitialised (the streams' own read buffers) are compared by length
//! alone.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::{self, Read as _, Write as _};
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use uring::BufferGroup;
use uring::net::{TcpStream, UdpSocket, UnixDatagram, UnixStream};
use uring::reactor::ops::Timeout;
use uring::reactor::{BufGroup, Handle, Reactor, RingBuf};
use uring_tests::net::{
    any, assert_group_whole, assert_kernel_bytes, connected, drive, group_or_skip, noop_cx,
    poll_read,
};
use uring_tests::{Rng, pattern, poll_once, run_for, skip, tcp_pair, under_valgrind, watchdog};

// ---------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------

/// Whether `got == want`, for bytes that only the kernel wrote into memory
/// memcheck takes for uninitialised: under valgrind, their lengths alone.
fn same_kernel_bytes(got: &[u8], want: &[u8]) -> bool {
    got.len() == want.len() && (under_valgrind() || got == want)
}

/// Sleeps 0 to 240 microseconds (by `i`): bytes of racing tests arrive
/// before, at and after their deadline.
fn pause(i: u32) {
    let us = 40 * u64::from(i % 7);
    if us > 0 {
        std::thread::sleep(Duration::from_micros(us));
    }
}

/// A deadline 10 to 220 microseconds away (by `i`).
fn racing_deadline(i: u32) -> Instant {
    Instant::now() + Duration::from_micros(10 + 30 * u64::from(i % 8))
}

/// The inode of the file `fd` names.
fn inode(fd: BorrowedFd<'_>) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    let file = std::fs::File::from(fd.try_clone_to_owned().unwrap());
    file.metadata().unwrap().ino()
}

/// The descriptors of this process that name the socket of inode `ino`.
fn in_table(ino: u64) -> usize {
    let want = format!("socket:[{ino}]");
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy() == want))
        .count()
}

/// Whether the peer of a passed socket sees its end (every copy of the
/// passed end closed, here and in the kernel), within a second.
fn sees_end(observer: &std::os::unix::net::UnixStream) -> bool {
    observer.set_nonblocking(true).unwrap();
    let end = Instant::now() + Duration::from_secs(1);
    loop {
        let mut byte = [0u8; 1];
        match (&*observer).read(&mut byte) {
            Ok(0) => return true,
            Ok(_) => panic!("nothing writes to the passed end"),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("reading the observer: {e}"),
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Awaits `ms` milliseconds on the reactor of `h`.
async fn nap(h: &Handle, ms: u64) {
    let (r, ()) = h.op(Timeout::new(Duration::from_millis(ms))).await;
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ETIME));
}

// ---------------------------------------------------------------------------
// AsyncRead under deadlines changed at every poll
// ---------------------------------------------------------------------------

/// The streams with tokio's `AsyncRead`.
trait ReadStream: AsyncRead + Unpin {
    /// `set_read_deadline`.
    fn read_by(&mut self, deadline: Option<Instant>);
}

impl ReadStream for TcpStream {
    fn read_by(&mut self, deadline: Option<Instant>) {
        self.set_read_deadline(deadline);
    }
}

impl ReadStream for UnixStream {
    fn read_by(&mut self, deadline: Option<Instant>) {
        self.set_read_deadline(deadline);
    }
}

/// A random walk of `AsyncRead` polls on `stream`, whose peer writes
/// (without blocking) chunks of 1 to 200 bytes, or 3000, between polls: before each poll the read
/// deadline is lifted, moved into the past, set 200 µs or 60 s away, or
/// left; each poll's `ReadBuf` is empty, of one byte, of up to 70, or
/// larger than the stream's own 16 KiB buffer, and some hold bytes
/// already. Returns (polls that gave bytes, polls that timed out).
fn read_walk<S: ReadStream>(
    reactor: &Reactor,
    mut stream: S,
    peer: Box<dyn io::Write>,
    seed: u64,
) -> (u32, u32) {
    let mut peer = Some(peer);
    let mut rng = Rng(seed);
    let mut sent = Vec::new();
    let mut got = Vec::new();
    let mut deadline: Option<Instant> = None;
    let (mut with_bytes, mut timed_out) = (0, 0);
    for step in 0..4000u32 {
        if rng.below(3) == 0 {
            // Non-blocking: whatever the socket takes now.
            let chunk = pattern(
                1 + rng.below(if step % 50 == 0 { 3000 } else { 200 }) as usize,
                step as u8,
            );
            match peer.as_mut().unwrap().write(&chunk) {
                Ok(n) => sent.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("step {step}: the peer's write: {e}"),
            }
        }
        let now = Instant::now();
        deadline = match rng.below(7) {
            0 => None,
            1 => now.checked_sub(Duration::from_millis(1)),
            2 => Some(now + Duration::from_micros(200)),
            3 => Some(now + Duration::from_secs(60)),
            _ => deadline,
        };
        stream.read_by(deadline);
        let cap = match rng.below(10) {
            0 => 0,
            1 => 1,
            2 => 17_000,
            _ => 1 + rng.below(70) as usize,
        };
        let pre = rng.below(cap.min(4) as u64 + 1) as usize;
        let mut storage = vec![0xEEu8; cap];
        let mut rb = ReadBuf::new(&mut storage);
        rb.put_slice(&[0xABu8; 4][..pre]);
        match Pin::new(&mut stream).poll_read(&mut noop_cx(), &mut rb) {
            Poll::Ready(Ok(())) => {
                let filled = rb.filled().len();
                assert!(
                    storage[..pre].iter().all(|&b| b == 0xAB),
                    "step {step}: the pre-filled part was written"
                );
                assert!(
                    storage[filled..].iter().all(|&b| b == 0xEE),
                    "step {step}: past the filled part written"
                );
                let new = &storage[pre..filled];
                assert!(
                    !new.is_empty() || cap == pre,
                    "step {step}: the end of the stream after {} of {} bytes",
                    got.len(),
                    sent.len()
                );
                got.extend_from_slice(new);
                assert!(
                    got.len() <= sent.len(),
                    "step {step}: more bytes read than sent"
                );
                with_bytes += u32::from(!new.is_empty());
            }
            Poll::Ready(Err(e)) => {
                assert_eq!(
                    e.kind(),
                    io::ErrorKind::TimedOut,
                    "step {step}: {e} ({:?})",
                    e.raw_os_error()
                );
                let now = Instant::now();
                assert!(
                    deadline.is_some_and(|d| d <= now),
                    "step {step}: TimedOut under the deadline {deadline:?} (now {now:?})"
                );
                assert!(
                    storage[pre..].iter().all(|&b| b == 0xEE),
                    "step {step}: a failed poll wrote"
                );
                timed_out += 1;
            }
            Poll::Pending => {
                assert!(
                    storage[pre..].iter().all(|&b| b == 0xEE),
                    "step {step}: a pending poll wrote"
                );
                if rng.below(2) == 0 {
                    run_for(reactor, 1);
                } else {
                    reactor.submit().unwrap();
                }
            }
        }
    }
    // The peer goes; with no deadline, the rest is read, then the end.
    drop(peer.take());
    stream.read_by(None);
    let mut buf = vec![0u8; 4096];
    loop {
        let r = drive(reactor, Duration::from_secs(10), || {
            match poll_read(&mut stream, &mut buf) {
                Poll::Ready(r) => Some(r),
                Poll::Pending => None,
            }
        })
        .expect("the rest is read");
        match r.unwrap() {
            0 => break,
            n => got.extend_from_slice(&buf[..n]),
        }
    }
    assert_kernel_bytes(&got, &sent, "the bytes read across the walk");
    // The end again, not an error.
    let again = drive(reactor, Duration::from_secs(5), || {
        match poll_read(&mut stream, &mut buf) {
            Poll::Ready(r) => Some(r),
            Poll::Pending => None,
        }
    });
    assert_eq!(
        again.map(|r| r.unwrap()),
        Some(0),
        "the end of the stream, read again"
    );
    drop(stream);
    run_for(reactor, 5);
    assert_eq!(reactor.in_flight(), 0);
    (with_bytes, timed_out)
}

/// `read_walk` over TCP and Unix streams, each with two seeds: every byte
/// is read once, in order; `TimedOut` is the only error, and only once
/// the deadline in force at that poll has passed; no poll writes its
/// `ReadBuf` outside its unfilled part, nor anything when it fails or
/// waits.
#[test]
fn tokio_reads_with_read_bufs_of_every_size_under_deadlines_changed_at_every_poll() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let mut totals = (0, 0);
    for seed in [0x9e37_79b9_7f4a_7c15u64, 0x0123_4567_89ab_cdef] {
        let (stream, peer) = connected(&h);
        peer.set_nonblocking(true).unwrap();
        let (b, t) = read_walk(&reactor, stream, Box::new(peer), seed);
        totals = (totals.0 + b, totals.1 + t);
        let (mine, peer) = std::os::unix::net::UnixStream::pair().unwrap();
        peer.set_nonblocking(true).unwrap();
        let (b, t) = read_walk(
            &reactor,
            UnixStream::from_std(&h, mine),
            Box::new(peer),
            seed ^ 0xff,
        );
        totals = (totals.0 + b, totals.1 + t);
    }
    eprintln!("{} polls gave bytes, {} timed out", totals.0, totals.1);
    assert!(
        totals.0 > 0 && totals.1 > 0,
        "the walk read nothing, or nothing timed out"
    );
}

/// The stream's own `shutdown(Read)` while `AsyncRead` holds bytes it
/// received and a plain `read` waits on another stream: the buffered
/// bytes are still read, in order, then the end of the stream (twice);
/// the waiting read ends with 0 bytes, not an error.
#[test]
fn a_read_shutdown_ends_reads_after_the_bytes_already_received() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (mut stream, mut peer) = connected(&h);
    peer.write_all(b"abcdef").unwrap();
    let mut one = [0u8; 1];
    let first = drive(&reactor, Duration::from_secs(5), || {
        match poll_read(&mut stream, &mut one) {
            Poll::Ready(r) => Some(r),
            Poll::Pending => None,
        }
    })
    .unwrap();
    assert_eq!(first.unwrap(), 1);
    let mut got = vec![one[0]];
    reactor
        .run_until(stream.shutdown(std::net::Shutdown::Read))
        .unwrap()
        .unwrap();
    loop {
        match poll_read(&mut stream, &mut one) {
            Poll::Ready(Ok(0)) => break,
            Poll::Ready(Ok(n)) => got.extend_from_slice(&one[..n]),
            Poll::Ready(Err(e)) => panic!("a read after the shutdown: {e}"),
            Poll::Pending => run_for(&reactor, 1),
        }
    }
    assert_kernel_bytes(&got, b"abcdef", "the bytes received before the shutdown");
    let again = drive(&reactor, Duration::from_secs(5), || {
        match poll_read(&mut stream, &mut one) {
            Poll::Ready(r) => Some(r),
            Poll::Pending => None,
        }
    });
    assert_eq!(again.map(|r| r.unwrap()), Some(0));

    // A plain read waiting when its stream shuts its reading down.
    let (other, _peer) = connected(&h);
    let mut read = Box::pin(other.read(vec![0x77u8; 16]));
    assert!(poll_once(&mut read).is_pending());
    reactor.submit().unwrap();
    run_for(&reactor, 5);
    reactor
        .run_until(other.shutdown(std::net::Shutdown::Read))
        .unwrap()
        .unwrap();
    let (r, buf) = reactor.run_until(read).unwrap();
    assert_eq!(
        r.unwrap(),
        0,
        "the waiting read ends with the end of the stream"
    );
    assert_eq!(buf, [0x77u8; 16]);
    assert_eq!(reactor.in_flight(), 0);
}

// ---------------------------------------------------------------------------
// Buffer-ring receives
// ---------------------------------------------------------------------------

/// What receives into a buffer ring: TCP and Unix streams, UDP and Unix
/// datagram sockets.
trait RingReader {
    fn read_by(&mut self, deadline: Option<Instant>);
    fn recv<'a>(
        &'a self,
        group: BufGroup,
    ) -> Pin<Box<dyn Future<Output = io::Result<Option<RingBuf>>> + 'a>>;
}

impl RingReader for TcpStream {
    fn read_by(&mut self, deadline: Option<Instant>) {
        self.set_read_deadline(deadline);
    }
    fn recv<'a>(
        &'a self,
        group: BufGroup,
    ) -> Pin<Box<dyn Future<Output = io::Result<Option<RingBuf>>> + 'a>> {
        Box::pin(self.recv_ring(group))
    }
}

impl RingReader for UdpSocket {
    fn read_by(&mut self, deadline: Option<Instant>) {
        self.set_read_deadline(deadline);
    }
    fn recv<'a>(
        &'a self,
        group: BufGroup,
    ) -> Pin<Box<dyn Future<Output = io::Result<Option<RingBuf>>> + 'a>> {
        Box::pin(async move { self.recv_ring(group).await.map(Some) })
    }
}

impl RingReader for UnixDatagram {
    fn read_by(&mut self, deadline: Option<Instant>) {
        self.set_read_deadline(deadline);
    }
    fn recv<'a>(
        &'a self,
        group: BufGroup,
    ) -> Pin<Box<dyn Future<Output = io::Result<Option<RingBuf>>> + 'a>> {
        Box::pin(self.recv_ring(group))
    }
}

/// 300 buffer-ring receives on `sock`, each with a deadline 10 to 220 µs
/// away as `send` delivers 3 bytes (one message), one buffer of the group
/// held across rounds: each receive gives the bytes or `TimedOut` (never
/// `ECANCELED`, never a buffer with a timed-out receive), and what a
/// timed-out receive left is read next. Returns how many timed out.
fn ring_race<R: RingReader>(
    reactor: &Reactor,
    mut sock: R,
    group: BufGroup,
    send: &mut dyn FnMut(&[u8]),
    what: &str,
) -> u32 {
    let mut sent = Vec::new();
    let mut got = Vec::new();
    let mut timed_out = 0;
    let mut kept: Option<RingBuf> = None;
    for i in 0..300u32 {
        sock.read_by(Some(racing_deadline(i)));
        let msg = [(i % 251) as u8, (i / 251) as u8, 0x5A];
        let mut recv = sock.recv(group);
        let first = poll_once(&mut recv);
        reactor.submit().unwrap();
        pause(i);
        send(&msg);
        sent.extend_from_slice(&msg);
        let r = match first {
            Poll::Ready(r) => {
                drop(recv);
                r
            }
            Poll::Pending => reactor.run_until(recv).unwrap(),
        };
        match r {
            Ok(Some(buf)) => {
                assert_eq!(buf.len(), 3, "{what} {i}: one message per receive");
                got.extend_from_slice(&buf);
                if let Some(old) = &kept {
                    assert_ne!(
                        old.bid(),
                        buf.bid(),
                        "{what} {i}: a held buffer handed out again"
                    );
                }
                if i % 5 == 0 {
                    kept = Some(buf);
                }
            }
            Ok(None) => panic!("{what} {i}: the end of the stream"),
            Err(e) => {
                assert_eq!(
                    e.kind(),
                    io::ErrorKind::TimedOut,
                    "{what} {i}: {e} ({:?})",
                    e.raw_os_error()
                );
                timed_out += 1;
            }
        }
        sock.read_by(None);
        while got.len() < sent.len() {
            let buf = reactor
                .run_until(sock.recv(group))
                .unwrap()
                .unwrap()
                .unwrap();
            got.extend_from_slice(&buf);
        }
    }
    assert_eq!(got, sent, "{what}: the bytes received across the deadlines");
    drop(kept);
    timed_out
}

/// `ring_race` over a TCP stream, a UDP socket and a Unix datagram pair,
/// on a group of two buffers: no byte is lost or repeated, and afterwards
/// both buffers are free (no timed-out receive kept one).
#[test]
fn ring_receives_racing_their_deadline_lose_no_byte_and_keep_no_buffer() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 40, 2, 16) else {
        return;
    };
    let mut timed_out = 0;

    let (stream, mut peer) = connected(&h);
    timed_out += ring_race(
        &reactor,
        stream,
        group,
        &mut |m| peer.write_all(m).unwrap(),
        "tcp",
    );
    assert_group_whole(&reactor, group, 2, "after tcp");

    let udp = UdpSocket::bind(&h, any()).unwrap();
    let sender = std::net::UdpSocket::bind(any()).unwrap();
    sender.connect(udp.local_addr().unwrap()).unwrap();
    udp.connect(sender.local_addr().unwrap()).unwrap();
    timed_out += ring_race(
        &reactor,
        udp,
        group,
        &mut |m| assert_eq!(sender.send(m).unwrap(), 3),
        "udp",
    );
    assert_group_whole(&reactor, group, 2, "after udp");

    let (mine, theirs) = std::os::unix::net::UnixDatagram::pair().unwrap();
    let dgram = UnixDatagram::from_std(&h, mine);
    timed_out += ring_race(
        &reactor,
        dgram,
        group,
        &mut |m| assert_eq!(theirs.send(m).unwrap(), 3),
        "unix datagram",
    );
    assert_group_whole(&reactor, group, 2, "after unix datagrams");
    eprintln!("{timed_out} of 900 receives timed out");
    if !under_valgrind() {
        assert!(
            timed_out > 0 && timed_out < 900,
            "the deadlines raced nothing"
        );
    }
    assert_eq!(reactor.in_flight(), 0);
}

/// A receive stream whose group runs dry while the program holds every
/// buffer: it gives what fit, then `ENOBUFS`, then ends (`None`, again and
/// again) rather than wait for ever. The held buffers are sent back as
/// they are, after the group ran dry; a new stream takes the rest, in
/// order, then the end of the stream.
#[test]
fn a_receive_stream_run_dry_ends_and_the_next_takes_the_rest_in_order() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 41, 2, 8) else {
        return;
    };
    let (stream, mut peer) = connected(&h);
    let data = pattern(64, 3);
    peer.write_all(&data).unwrap();
    let mut rs = stream.recv_stream(group);
    let mut items = Vec::new();
    let ended = drive(&reactor, Duration::from_secs(5), || {
        loop {
            match rs.poll_next(&mut noop_cx()) {
                Poll::Ready(None) => return Some(()),
                Poll::Ready(Some(item)) => items.push(item),
                Poll::Pending => return None,
            }
        }
    });
    assert!(
        ended.is_some(),
        "a dry stream waits for ever after {items:?}"
    );
    for _ in 0..3 {
        assert!(
            matches!(rs.poll_next(&mut noop_cx()), Poll::Ready(None)),
            "an ended stream starts again"
        );
    }
    let mut held = Vec::new();
    let mut failed = None;
    for item in items {
        match item {
            Ok(Some(buf)) => {
                assert!(failed.is_none(), "a buffer after the stream's error");
                held.push(buf);
            }
            Ok(None) => panic!("the end of the stream"),
            Err(e) => failed = Some(e),
        }
    }
    assert_eq!(failed.and_then(|e| e.raw_os_error()), Some(libc::ENOBUFS));
    assert_eq!(
        held.len(),
        2,
        "both buffers filled before the group ran dry"
    );
    let first: Vec<u8> = held.iter().flat_map(|b| b.iter().copied()).collect();
    assert_eq!(first, data[..16], "the bytes of the held buffers");
    // Sent back as they are, the group still dry.
    for buf in held {
        let (r, buf) = reactor.run_until(stream.write_all(buf)).unwrap();
        r.unwrap();
        assert_eq!(buf.len(), 8);
    }
    let mut echoed = [0u8; 16];
    peer.read_exact(&mut echoed).unwrap();
    assert_eq!(echoed, data[..16]);
    // The rest, through new streams (each runs dry again once it fills
    // both buffers before this task looks), then the end.
    peer.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    let mut armed = 0;
    let mut rs = reactor
        .run_until(async {
            loop {
                let mut rs = stream.recv_stream(group);
                armed += 1;
                loop {
                    match rs.next().await {
                        Some(Ok(Some(buf))) => rest.extend_from_slice(&buf),
                        Some(Ok(None)) => return rs,
                        Some(Err(e)) => assert_eq!(e.raw_os_error(), Some(libc::ENOBUFS), "{e}"),
                        None => break,
                    }
                }
            }
        })
        .unwrap();
    eprintln!("the rest took {armed} streams");
    assert_eq!(rest, data[16..]);
    assert!(matches!(rs.poll_next(&mut noop_cx()), Poll::Ready(None)));
    assert!(matches!(rs.poll_next(&mut noop_cx()), Poll::Ready(None)));
    drop(rs);
    assert_group_whole(&reactor, group, 2, "after the streams");
    assert_eq!(reactor.in_flight(), 0);
}

/// Receive streams dropped with buffers queued and the receive armed,
/// while the peer writes: every buffer comes back to the group (all four
/// can be held at once afterwards); a buffer the program took before the
/// drop keeps its bytes; what the socket still holds afterwards is the
/// end of what was sent, in order.
#[test]
fn receive_streams_dropped_while_bytes_flow_give_every_buffer_back() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 42, 4, 32) else {
        return;
    };
    let (stream, mut peer) = connected(&h);
    peer.set_nonblocking(true).unwrap();
    let mut sent = Vec::new();
    let mut taken = Vec::new();
    for round in 0..60u32 {
        let mut rs = stream.recv_stream(group);
        if let Poll::Ready(item) = rs.poll_next(&mut noop_cx()) {
            panic!("round {round}: a fresh stream gave {item:?} before any byte was sent");
        }
        reactor.submit().unwrap();
        let chunk = pattern(40 + (round as usize * 13) % 200, round as u8);
        peer.write_all(&chunk).unwrap();
        sent.extend_from_slice(&chunk);
        if round % 3 == 0 {
            run_for(&reactor, 1);
        }
        if round % 2 == 0
            && let Poll::Ready(Some(Ok(Some(buf)))) = rs.poll_next(&mut noop_cx())
        {
            let snapshot = buf.to_vec();
            taken.push((buf, snapshot));
        }
        drop(rs);
        if round % 4 == 0 {
            drive(&reactor, Duration::from_secs(5), || {
                (reactor.in_flight() == 0).then_some(())
            })
            .expect("the dropped stream's receive ends");
        }
        // A buffer the program holds is never refilled.
        for (buf, snapshot) in &taken {
            assert_eq!(
                &buf[..],
                &snapshot[..],
                "round {round}: a held buffer was written"
            );
        }
        taken.truncate(1);
    }
    drive(&reactor, Duration::from_secs(5), || {
        (reactor.in_flight() == 0).then_some(())
    })
    .expect("the dropped streams' receives end");
    drop(taken);
    // What is left in the socket: the end of what was sent.
    let mut rest = Vec::new();
    peer.shutdown(std::net::Shutdown::Write).unwrap();
    loop {
        match reactor.run_until(stream.recv_ring(group)).unwrap() {
            Ok(Some(buf)) => rest.extend_from_slice(&buf),
            Ok(None) => break,
            Err(e) => panic!("a receive of what is left: {e}"),
        }
    }
    assert!(rest.len() < sent.len(), "the dropped streams took nothing");
    assert!(
        sent.ends_with(&rest),
        "what is left is not the end of what was sent"
    );
    assert_group_whole(&reactor, group, 4, "after the dropped streams");
    assert_eq!(reactor.in_flight(), 0);
}

/// A ring buffer lent as a plain buffer to a read on one stream while a
/// multishot receive on another stream takes buffers of the same group:
/// the receive never gets the lent buffer, the read fills it (up to its
/// capacity), and it is sent back as it is afterwards.
#[test]
fn a_ring_buffer_lent_to_a_read_is_never_picked_by_a_receive_of_its_group() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 43, 4, 16) else {
        return;
    };
    let (x, mut px) = connected(&h);
    let (y, mut py) = connected(&h);
    px.write_all(b"into the ring!!!").unwrap();
    let lent = reactor
        .run_until(x.recv_ring(group))
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(&lent[..], b"into the ring!!!");
    let lent_bid = lent.bid();
    let mut read = Box::pin(y.read(lent));
    assert!(poll_once(&mut read).is_pending());
    reactor.submit().unwrap();
    let mut rs = x.recv_stream(group);
    let mut sent = Vec::new();
    let mut got = Vec::new();
    let mut bids = std::collections::BTreeSet::new();
    for round in 0..100u32 {
        let chunk = pattern(1 + (round as usize * 29) % 60, round as u8);
        px.write_all(&chunk).unwrap();
        sent.extend_from_slice(&chunk);
        while got.len() < sent.len() {
            match reactor.run_until(rs.next()).unwrap() {
                Some(Ok(Some(buf))) => {
                    assert_ne!(
                        buf.bid(),
                        lent_bid,
                        "round {round}: the lent buffer was picked"
                    );
                    bids.insert(buf.bid());
                    got.extend_from_slice(&buf);
                }
                Some(Err(e)) => assert_eq!(e.raw_os_error(), Some(libc::ENOBUFS), "{e}"),
                None => rs = x.recv_stream(group),
                Some(Ok(None)) => panic!("the end of the stream"),
            }
        }
    }
    assert_eq!(got, sent);
    assert_eq!(bids.len(), 3, "the three free buffers went round: {bids:?}");
    py.write_all(b"twenty bytes, cut 16").unwrap();
    let (r, buf) = reactor.run_until(read).unwrap();
    assert_eq!(r.unwrap(), 16);
    assert_eq!(buf.bid(), lent_bid);
    assert_eq!(&buf[..], b"twenty bytes, cu");
    let (r, buf) = reactor.run_until(y.write_all(buf)).unwrap();
    r.unwrap();
    let mut back = [0u8; 16];
    py.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"twenty bytes, cu");
    drop(buf);
    drop(rs);
    drive(&reactor, Duration::from_secs(5), || {
        (reactor.in_flight() == 0).then_some(())
    })
    .unwrap();
    // The four bytes past the lent buffer's capacity wait for the next read.
    let (r, rest) = reactor.run_until(y.read(vec![0u8; 16])).unwrap();
    assert_eq!(&rest[..r.unwrap()], b"t 16");
    assert_group_whole(&reactor, group, 4, "after the lent buffer");
}

// ---------------------------------------------------------------------------
// Descriptors
// ---------------------------------------------------------------------------

/// 200 descriptor receives, each with a deadline 10 to 220 µs away as a
/// message with two descriptors arrives (sent by another reactor, so that
/// this one is not run by the send): each receive gives the message with
/// both descriptors, or `TimedOut` with none and its buffer unwritten.
/// Every descriptor received is kept to the end: the table holds exactly
/// as many as were received (none leaked by a cancelled receive, none
/// closed twice), and once they are dropped the passed socket's peer sees
/// its end.
#[test]
fn descriptor_receives_racing_their_deadline_leak_and_double_close_nothing() {
    let _watch = watchdog();
    if !uring_tests::raise_nofile(4096) {
        return skip("cannot raise the descriptor limit to 4096");
    }
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let sender = Reactor::new().unwrap();
    let (mine, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut b = UnixStream::from_std(&h, mine);
    let a = UnixStream::from_std(&sender.handle(), theirs);
    let (passed, observer) = std::os::unix::net::UnixStream::pair().unwrap();
    let ino = inode(passed.as_fd());
    let mut kept: Vec<OwnedFd> = Vec::new();
    let mut got = Vec::new();
    let mut timed_out = 0;
    for i in 0..200u32 {
        b.set_read_deadline(Some(racing_deadline(i)));
        let mut recv = Box::pin(b.recv_with_fds(vec![0u8; 8], 4));
        let first = poll_once(&mut recv);
        reactor.submit().unwrap();
        pause(i);
        let fds = vec![
            passed.as_fd().try_clone_to_owned().unwrap(),
            passed.as_fd().try_clone_to_owned().unwrap(),
        ];
        let (r, _, back) = sender
            .run_until(a.send_with_fds(i.to_le_bytes().to_vec(), fds))
            .unwrap();
        assert_eq!(r.unwrap(), 4);
        drop(back);
        let (r, buf, fds) = match first {
            Poll::Ready(done) => {
                drop(recv);
                done
            }
            Poll::Pending => reactor.run_until(recv).unwrap(),
        };
        match r {
            Ok(n) => {
                assert_eq!(n, 4, "{i}: one message");
                assert_eq!(fds.len(), 2, "{i}: both descriptors");
                got.push(u32::from_le_bytes(buf[..4].try_into().unwrap()));
                kept.extend(fds);
            }
            Err(e) => {
                assert_eq!(
                    e.kind(),
                    io::ErrorKind::TimedOut,
                    "{i}: {e} ({:?})",
                    e.raw_os_error()
                );
                assert!(fds.is_empty(), "{i}: a timed-out receive gave descriptors");
                assert_eq!(buf, [0u8; 8], "{i}: a timed-out receive wrote its buffer");
                timed_out += 1;
                b.set_read_deadline(None);
                let (r, buf, fds) = reactor.run_until(b.recv_with_fds(vec![0u8; 8], 4)).unwrap();
                assert_eq!(r.unwrap(), 4);
                assert_eq!(fds.len(), 2, "{i}: the message waited with its descriptors");
                got.push(u32::from_le_bytes(buf[..4].try_into().unwrap()));
                kept.extend(fds);
            }
        }
        assert_eq!(
            in_table(ino),
            1 + kept.len(),
            "{i}: descriptors in the table"
        );
    }
    assert_eq!(
        got,
        (0..200).collect::<Vec<_>>(),
        "messages lost or reordered"
    );
    assert!(kept.iter().all(|fd| inode(fd.as_fd()) == ino));
    eprintln!("{timed_out} of 200 receives timed out");
    if !under_valgrind() {
        assert!(
            timed_out > 0 && timed_out < 200,
            "the deadlines raced nothing"
        );
    }
    drop(kept);
    assert_eq!(in_table(ino), 1);
    drop(passed);
    assert!(
        sees_end(&observer),
        "a copy of the passed socket is left somewhere"
    );
    assert_eq!(reactor.in_flight(), 0);
    assert_eq!(sender.in_flight(), 0);
}

/// Messages with descriptors read in parts, and back to back: a message
/// read into a buffer shorter than its bytes hands its descriptors to the
/// first part alone; a receive never takes the descriptors of two
/// messages (the kernel stops after a message that carried some); a
/// receive with room for fewer than were sent gets that many and the
/// kernel closes the rest. Counted in the table throughout.
#[test]
fn descriptors_go_with_the_first_part_of_their_message_only() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (a, b) = UnixStream::pair(&h).unwrap();
    let (passed, observer) = std::os::unix::net::UnixStream::pair().unwrap();
    let ino = inode(passed.as_fd());
    let dups = |n: usize| -> Vec<OwnedFd> {
        (0..n)
            .map(|_| passed.as_fd().try_clone_to_owned().unwrap())
            .collect()
    };
    let send = |bytes: &[u8], n: usize| {
        let (r, _, back) = reactor
            .run_until(a.send_with_fds(bytes.to_vec(), dups(n)))
            .unwrap();
        assert_eq!(r.unwrap(), bytes.len());
        drop(back);
    };
    let recv = |len: usize, room: usize| -> (Vec<u8>, Vec<OwnedFd>) {
        let (r, buf, fds) = reactor
            .run_until(b.recv_with_fds(vec![0u8; len], room))
            .unwrap();
        (buf[..r.unwrap()].to_vec(), fds)
    };
    // In parts.
    send(b"sixsix", 3);
    let (bytes, fds) = recv(2, 8);
    assert_eq!((&bytes[..], fds.len()), (&b"si"[..], 3));
    assert_eq!(in_table(ino), 1 + 3);
    let (bytes, more) = recv(64, 8);
    assert_eq!((&bytes[..], more.len()), (&b"xsix"[..], 0));
    drop(fds);
    // Back to back.
    send(b"one", 2);
    send(b"two", 3);
    send(b"three", 0);
    let parts: Vec<(Vec<u8>, usize)> = (0..3)
        .map(|_| {
            let (bytes, fds) = recv(64, 8);
            assert!(fds.iter().all(|fd| inode(fd.as_fd()) == ino));
            (bytes, fds.len())
        })
        .collect();
    assert_eq!(
        parts,
        vec![
            (b"one".to_vec(), 2),
            (b"two".to_vec(), 3),
            (b"three".to_vec(), 0)
        ]
    );
    // Fewer rooms than descriptors, with the message read in parts.
    send(b"crowded", 9);
    let (bytes, fds) = recv(3, 3);
    assert_eq!(&bytes[..], b"cro");
    assert!(
        fds.len() >= 3 && fds.len() < 9,
        "{} descriptors in room for 3",
        fds.len()
    );
    assert_eq!(in_table(ino), 1 + fds.len(), "the kernel closed the rest");
    let (bytes, more) = recv(64, 8);
    assert_eq!((&bytes[..], more.len()), (&b"wded"[..], 0));
    drop(fds);
    assert_eq!(in_table(ino), 1);
    drop(passed);
    assert!(
        sees_end(&observer),
        "a copy of the passed socket is left somewhere"
    );
}

// ---------------------------------------------------------------------------
// Datagrams
// ---------------------------------------------------------------------------

/// Datagram receives at their edges: an empty datagram through a group of
/// one buffer (which it does not keep), a long one cut to the ring's
/// buffer, receives into buffers of no bytes (which consume the datagram
/// and report 0, not its length), and a dual-stack IPv6 socket's senders
/// (IPv4 ones as mapped addresses). Each next datagram arrives whole.
#[test]
fn datagram_receives_into_empty_short_and_ring_buffers() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 44, 1, 16) else {
        return;
    };
    let (mine, theirs) = std::os::unix::net::UnixDatagram::pair().unwrap();
    let d = UnixDatagram::from_std(&h, mine);
    for round in 0..4 {
        theirs.send(b"").unwrap();
        match reactor.run_until(d.recv_ring(group)).unwrap() {
            Ok(None) => {}
            Ok(Some(buf)) => assert!(buf.is_empty(), "{round}: {buf:?}"),
            Err(e) => panic!("{round}: an empty datagram: {e}"),
        }
        theirs.send(&pattern(100, round)).unwrap();
        let buf = reactor
            .run_until(d.recv_ring(group))
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(
            &buf[..],
            &pattern(100, round)[..16],
            "{round}: cut to the ring's buffer"
        );
        drop(buf);
        theirs.send(b"gone").unwrap();
        let (r, buf) = reactor.run_until(d.recv(Vec::new())).unwrap();
        assert_eq!(r.unwrap(), 0, "{round}: an empty buffer reports no byte");
        assert!(buf.is_empty());
        theirs.send(b"gone too").unwrap();
        let (r, buf, from) = reactor
            .run_until(d.recv_from(Box::<[u8]>::default()))
            .unwrap();
        assert_eq!(r.unwrap(), 0);
        assert!(buf.is_empty());
        assert!(
            from.is_some_and(|f| f.is_unnamed()),
            "{round}: the pair's sender is unnamed"
        );
        theirs.send(b"whole").unwrap();
        let (r, buf) = reactor.run_until(d.recv(vec![0u8; 8])).unwrap();
        assert_eq!(&buf[..r.unwrap()], b"whole", "{round}: the datagram after");
    }

    let v6 = match UdpSocket::bind(&h, "[::]:0".parse().unwrap()) {
        Ok(s) => s,
        Err(e) => return skip(format_args!("no IPv6: {e}")),
    };
    let port = v6.local_addr().unwrap().port();
    let sender = std::net::UdpSocket::bind(any()).unwrap();
    let from4 = sender.local_addr().unwrap();
    sender.send_to(b"over v4", ("127.0.0.1", port)).unwrap();
    let (r, buf) = reactor.run_until(v6.recv_from(vec![0u8; 4])).unwrap();
    let (n, from) = r.unwrap();
    assert_eq!((&buf[..n], n), (&b"over"[..], 4), "cut to the buffer");
    match from {
        SocketAddr::V6(a) => {
            assert_eq!(a.ip().to_ipv4_mapped(), Some(std::net::Ipv4Addr::LOCALHOST));
            assert_eq!(a.port(), from4.port());
        }
        SocketAddr::V4(a) => panic!("a dual-stack socket reported {a}"),
    }
    sender.send_to(b"to nothing", ("127.0.0.1", port)).unwrap();
    let (r, _) = reactor.run_until(v6.recv(Box::<[u8]>::default())).unwrap();
    assert_eq!(r.unwrap(), 0, "a buffer of no bytes");
    sender.send_to(b"last", ("127.0.0.1", port)).unwrap();
    let (r, buf) = reactor.run_until(v6.recv_from(vec![0u8; 16])).unwrap();
    assert_eq!(&buf[..r.unwrap().0], b"last");
    assert_eq!(reactor.in_flight(), 0);
}

// ---------------------------------------------------------------------------
// Many readers, one socket or one reactor
// ---------------------------------------------------------------------------

/// Concurrent receives of one socket: 16 of a Unix datagram socket (plain,
/// with the sender, into the ring) take 400 numbered datagrams, each once;
/// 16 plain reads of a TCP stream take 300 records of 64 bytes, written
/// one at a time, each once and whole.
#[test]
fn concurrent_receives_of_one_socket_each_take_whole_messages_once() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 45, 8, 64) else {
        return;
    };
    type Recv<'a> = Pin<Box<dyn Future<Output = io::Result<Vec<u8>>> + 'a>>;
    /// The `k`th kind of datagram receive.
    fn dgram(d: &UnixDatagram, group: BufGroup, k: usize) -> Recv<'_> {
        match k % 3 {
            0 => Box::pin(async move {
                let (r, buf) = d.recv(vec![0u8; 8]).await;
                r.map(|n| buf[..n].to_vec())
            }),
            1 => Box::pin(async move {
                let (r, buf, from) = d.recv_from(vec![0u8; 8]).await;
                assert!(from.is_some());
                r.map(|n| buf[..n].to_vec())
            }),
            _ => Box::pin(async move {
                d.recv_ring(group)
                    .await
                    .map(|b| b.map(|b| b.to_vec()).unwrap_or_default())
            }),
        }
    }
    /// A plain read of one record.
    fn record_read(s: &TcpStream) -> Recv<'_> {
        Box::pin(async move {
            let (r, buf) = s.read(vec![0u8; 64]).await;
            r.map(|n| buf[..n].to_vec())
        })
    }

    let (mine, theirs) = std::os::unix::net::UnixDatagram::pair().unwrap();
    let d = UnixDatagram::from_std(&h, mine);
    let start = |k: usize| dgram(&d, group, k);
    let mut waiting: Vec<Recv<'_>> = (0..16).map(start).collect();
    for w in &mut waiting {
        assert!(poll_once(w).is_pending());
    }
    reactor.submit().unwrap();
    let mut seen = vec![0u32; 400];
    let mut received = 0;
    for i in 0..400u32 {
        theirs.send(&i.to_le_bytes()).unwrap();
        if i % 16 == 15 {
            run_for(&reactor, 1);
        }
        for (k, w) in waiting.iter_mut().enumerate() {
            if let Poll::Ready(r) = poll_once(w) {
                let bytes = r.unwrap();
                assert_eq!(bytes.len(), 4);
                seen[u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize] += 1;
                received += 1;
                *w = start(k);
                let _ = poll_once(w);
            }
        }
    }
    let done = drive(&reactor, Duration::from_secs(10), || {
        for (k, w) in waiting.iter_mut().enumerate() {
            if let Poll::Ready(r) = poll_once(w) {
                let bytes = r.unwrap();
                seen[u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize] += 1;
                received += 1;
                *w = start(k);
            }
        }
        (received == 400).then_some(())
    });
    assert!(done.is_some(), "{received} of 400 datagrams received");
    assert!(
        seen.iter().all(|&n| n == 1),
        "datagrams received twice or never: {seen:?}"
    );
    drop(waiting);
    drive(&reactor, Duration::from_secs(5), || {
        (reactor.in_flight() == 0).then_some(())
    })
    .unwrap();

    // TCP records.
    let (stream, mut peer) = connected(&h);
    peer.set_nodelay(true).unwrap();
    let record = |i: u64| -> Vec<u8> {
        let mut r = i.to_le_bytes().to_vec();
        r.extend(pattern(56, i as u8));
        r
    };
    let start = |_: usize| record_read(&stream);
    let mut waiting: Vec<Recv<'_>> = (0..16).map(start).collect();
    for w in &mut waiting {
        assert!(poll_once(w).is_pending());
    }
    reactor.submit().unwrap();
    let mut seen = vec![0u32; 300];
    let mut received = 0;
    let take = |r: io::Result<Vec<u8>>, seen: &mut Vec<u32>| {
        let bytes = r.unwrap();
        assert_eq!(bytes.len(), 64, "a record cut or joined");
        let i = u64::from_le_bytes(bytes[..8].try_into().unwrap());
        assert_eq!(bytes, record(i), "record {i} torn");
        seen[i as usize] += 1;
    };
    for i in 0..300u64 {
        peer.write_all(&record(i)).unwrap();
        run_for(&reactor, 1);
        for (k, w) in waiting.iter_mut().enumerate() {
            if let Poll::Ready(r) = poll_once(w) {
                take(r, &mut seen);
                received += 1;
                *w = start(k);
                let _ = poll_once(w);
            }
        }
    }
    let done = drive(&reactor, Duration::from_secs(10), || {
        for (k, w) in waiting.iter_mut().enumerate() {
            if let Poll::Ready(r) = poll_once(w) {
                take(r, &mut seen);
                received += 1;
                *w = start(k);
                let _ = poll_once(w);
            }
        }
        (received == 300).then_some(())
    });
    assert!(done.is_some(), "{received} of 300 records read");
    assert!(
        seen.iter().all(|&n| n == 1),
        "records read twice or never: {seen:?}"
    );
    drop(waiting);
    drive(&reactor, Duration::from_secs(5), || {
        (reactor.in_flight() == 0).then_some(())
    })
    .unwrap();
}

/// How a reader of `many_readers` takes its stream's bytes.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Vec,
    Boxed,
    Ring,
    Stream,
    Tokio,
    Fds,
}

const KINDS: [Kind; 6] = [
    Kind::Vec,
    Kind::Boxed,
    Kind::Ring,
    Kind::Stream,
    Kind::Tokio,
    Kind::Fds,
];

type Task = Pin<Box<dyn Future<Output = ()>>>;

/// Either stream type, for the readers.
enum Either {
    Tcp(TcpStream),
    Unix(UnixStream),
}

macro_rules! on_either {
    ($s:expr, $x:ident => $body:expr) => {
        match $s {
            Either::Tcp($x) => $body,
            Either::Unix($x) => $body,
        }
    };
}

/// `n` connections on `h`, TCP and Unix in turn, each with a writer task
/// (`write_all` of chunks with naps, then a write shutdown) and a reader
/// task of a kind in turn, half with a read deadline a minute away; each
/// reader reports whether it read exactly its bytes. Tasks are handed to
/// `spawn`. Returns the readers' reports.
fn many_readers(
    h: &Handle,
    group: BufGroup,
    n: usize,
    spawn: &dyn Fn(Task),
) -> Rc<RefCell<Vec<Result<(), String>>>> {
    let reports = Rc::new(RefCell::new(Vec::new()));
    for i in 0..n {
        let kind = KINDS[i % KINDS.len()];
        let data = pattern(6000 + i * 37, i as u8);
        let (mut reader, writer) = if i % 2 == 0 || matches!(kind, Kind::Fds) {
            let (a, b) = UnixStream::pair(h).unwrap();
            (Either::Unix(a), Either::Unix(b))
        } else {
            let (a, b) = tcp_pair();
            (
                Either::Tcp(TcpStream::from_std(h, a)),
                Either::Tcp(TcpStream::from_std(h, b)),
            )
        };
        if i % 4 < 2 {
            on_either!(&mut reader, s => s.set_read_deadline(Some(Instant::now() + Duration::from_secs(60))));
        }
        let hw = h.clone();
        let sent = data.clone();
        spawn(Box::pin(async move {
            let mut at = 0;
            let mut k = 0;
            while at < sent.len() {
                let len = (1 + (k * 977 + i * 13) % 1500).min(sent.len() - at);
                let chunk = sent[at..at + len].to_vec();
                let (r, _) = on_either!(&writer, s => s.write_all(chunk).await);
                r.unwrap();
                at += len;
                k += 1;
                if k % 3 == 0 {
                    nap(&hw, (k % 2) as u64).await;
                }
            }
            on_either!(&writer, s => s.shutdown(std::net::Shutdown::Write).await).unwrap();
        }));
        let hr = h.clone();
        let reports = Rc::clone(&reports);
        spawn(Box::pin(async move {
            let got = read_all(&hr, &mut reader, kind, group).await;
            let report = match got {
                Ok(got) if same_kernel_bytes(&got, &data) => Ok(()),
                Ok(got) => Err(format!(
                    "reader {i} ({kind:?}): {} bytes of {}, or others",
                    got.len(),
                    data.len()
                )),
                Err(e) => Err(format!(
                    "reader {i} ({kind:?}): {e} ({:?})",
                    e.raw_os_error()
                )),
            };
            reports.borrow_mut().push(report);
        }));
    }
    reports
}

/// Reads `stream` to its end the way `kind` says.
async fn read_all(
    h: &Handle,
    stream: &mut Either,
    kind: Kind,
    group: BufGroup,
) -> io::Result<Vec<u8>> {
    let mut got = Vec::new();
    match kind {
        Kind::Vec => loop {
            let (r, buf) = on_either!(&*stream, s => s.read(vec![0u8; 1000]).await);
            match r? {
                0 => break,
                n => got.extend_from_slice(&buf[..n]),
            }
        },
        Kind::Boxed => loop {
            let (r, buf) =
                on_either!(&*stream, s => s.read(vec![0u8; 333].into_boxed_slice()).await);
            match r? {
                0 => break,
                n => got.extend_from_slice(&buf[..n]),
            }
        },
        Kind::Ring => loop {
            match on_either!(&*stream, s => s.recv_ring(group).await) {
                Ok(Some(buf)) => got.extend_from_slice(&buf),
                Ok(None) => break,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => nap(h, 1).await,
                Err(e) => return Err(e),
            }
        },
        Kind::Stream => 'arm: loop {
            let mut rs = on_either!(&*stream, s => s.recv_stream(group));
            loop {
                match rs.next().await {
                    Some(Ok(Some(buf))) => got.extend_from_slice(&buf),
                    Some(Ok(None)) => break 'arm,
                    Some(Err(e)) if e.raw_os_error() == Some(libc::ENOBUFS) => {}
                    Some(Err(e)) => return Err(e),
                    None => {
                        nap(h, 1).await;
                        continue 'arm;
                    }
                }
            }
        },
        Kind::Tokio => {
            on_either!(stream, s => s.read_to_end(&mut got).await)?;
        }
        Kind::Fds => loop {
            let Either::Unix(s) = &*stream else {
                unreachable!("descriptor readers are on Unix streams")
            };
            let (r, buf, fds) = s.recv_with_fds(vec![0u8; 700], 2).await;
            if !fds.is_empty() {
                return Err(io::Error::other("descriptors nobody sent"));
            }
            match r? {
                0 => break,
                n => got.extend_from_slice(&buf[..n]),
            }
        },
    }
    Ok(got)
}

/// `many_readers` with 48 connections driven by `run_until` (tasks spawned
/// on the reactor) and by tokio (`into_tokio`, tasks spawned on a
/// `LocalSet`), on a shared group of 16 buffers: every reader reads its
/// bytes exactly, the group is whole afterwards, and nothing is left in
/// flight.
#[test]
fn many_readers_of_every_kind_on_one_reactor_under_run_until_and_tokio() {
    let _watch = watchdog();
    let n = if under_valgrind() { 18 } else { 48 };
    // run_until.
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 46, 16, 512) else {
        return;
    };
    let hs = h.clone();
    let reports = many_readers(&h, group, n, &move |t| {
        hs.spawn(t);
    });
    let r2 = Rc::clone(&reports);
    let h2 = h.clone();
    reactor
        .run_until(async move {
            let end = Instant::now() + Duration::from_secs(30);
            while r2.borrow().len() < n && Instant::now() < end {
                nap(&h2, 2).await;
            }
        })
        .unwrap();
    let failures: Vec<String> = reports
        .borrow()
        .iter()
        .filter_map(|r| r.clone().err())
        .collect();
    assert_eq!(
        reports.borrow().len(),
        n,
        "readers still reading: {failures:?}"
    );
    assert!(failures.is_empty(), "run_until: {failures:#?}");
    assert_group_whole(&reactor, group, 16, "after run_until's readers");
    drop(reactor);
    assert_eq!(h.in_flight(), 0);

    // tokio.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let done = Rc::new(Cell::new(false));
    let d2 = Rc::clone(&done);
    let h = local.block_on(&rt, async move {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let group = h.register_buf_ring(BufferGroup::new(46), 16, 512).unwrap();
        let driver = tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let reports = many_readers(&h, group, n, &|t| drop(tokio::task::spawn_local(t)));
        let end = Instant::now() + Duration::from_secs(30);
        while reports.borrow().len() < n && Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let failures: Vec<String> = reports
            .borrow()
            .iter()
            .filter_map(|r| r.clone().err())
            .collect();
        assert_eq!(
            reports.borrow().len(),
            n,
            "readers still reading: {failures:?}"
        );
        assert!(failures.is_empty(), "tokio: {failures:#?}");
        h.shutdown();
        driver.await.unwrap().unwrap();
        d2.set(true);
        h
    });
    assert!(done.get());
    drop(local);
    drop(rt);
    assert!(h.is_shut_down());
    assert_eq!(h.in_flight(), 0);
}

/// Reads left pending by the reactor's own loop (a plain read, a `poll_read`
/// and a receive stream), then the reactor handed to tokio: each finishes
/// there with its bytes, and bytes sent before the hand-over are not lost.
#[test]
fn reads_pending_under_run_until_finish_under_tokio() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 47, 4, 64) else {
        return;
    };
    let (mut tokio_read, mut p1) = connected(&h);
    let (plain, mut p2) = connected(&h);
    let (multi, mut p3) = connected(&h);
    let mut buf = [0u8; 4];
    assert!(poll_read(&mut tokio_read, &mut buf).is_pending());
    let mut read = Box::pin(plain.read(vec![0u8; 32]));
    assert!(poll_once(&mut read).is_pending());
    let mut rs = multi.recv_stream(group);
    assert!(rs.poll_next(&mut noop_cx()).is_pending());
    reactor.submit().unwrap();
    run_for(&reactor, 5);
    p1.write_all(b"before the hand-over").unwrap();
    p3.write_all(b"multishot, before").unwrap();
    run_for(&reactor, 5);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let driver = tokio::task::spawn_local(reactor.into_tokio().unwrap());
        p2.write_all(b"after the hand-over").unwrap();
        let (r, got) = read.await;
        assert_eq!(&got[..r.unwrap()], b"after the hand-over");
        let mut got = vec![0u8; 20];
        tokio_read.read_exact(&mut got).await.unwrap();
        assert_kernel_bytes(&got, b"before the hand-over", "the tokio read");
        let mut multi_got = Vec::new();
        while multi_got.len() < 17 {
            match rs.next().await {
                Some(Ok(Some(b))) => multi_got.extend_from_slice(&b),
                other => panic!("the receive stream: {other:?}"),
            }
        }
        assert_eq!(multi_got, b"multishot, before");
        p3.write_all(b", after").unwrap();
        match rs.next().await {
            Some(Ok(Some(b))) => assert_eq!(&b[..], b", after"),
            other => panic!("the receive stream: {other:?}"),
        }
        h.shutdown();
        driver.await.unwrap().unwrap();
    });
    drop(rs);
    assert!(h.is_shut_down());
    assert_eq!(h.in_flight(), 0);
}

/// 100 rounds of a descriptor receive waiting as its reactor is dropped
/// while a message with three descriptors arrives (sent by another
/// reactor, before or after the drop): the receive resolves once, with the
/// message and its three descriptors, or with an error and none, the
/// message then still in the socket for the next reader, descriptors and
/// all. The table holds exactly what was received, and nothing once it is
/// dropped.
#[test]
fn descriptor_receives_cut_by_their_reactor_s_drop_lose_and_leak_nothing() {
    let _watch = watchdog();
    let sender = Reactor::new().unwrap();
    let (passed, observer) = std::os::unix::net::UnixStream::pair().unwrap();
    let ino = inode(passed.as_fd());
    let (mut with_message, mut cut) = (0, 0);
    for i in 0..100u32 {
        let reactor = Reactor::new().unwrap();
        let (mine, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let b = UnixStream::from_std(&reactor.handle(), mine);
        let a = UnixStream::from_std(&sender.handle(), theirs);
        let mut recv = Box::pin(b.recv_with_fds(vec![0x3cu8; 8], 4));
        assert!(poll_once(&mut recv).is_pending());
        reactor.submit().unwrap();
        let send = || {
            let fds = (0..3)
                .map(|_| passed.as_fd().try_clone_to_owned().unwrap())
                .collect();
            let (r, _, back) = sender
                .run_until(a.send_with_fds(i.to_le_bytes().to_vec(), fds))
                .unwrap();
            assert_eq!(r.unwrap(), 4);
            drop(back);
        };
        if i % 2 == 0 {
            send();
            pause(i);
            drop(reactor);
        } else {
            drop(reactor);
            send();
        }
        let Poll::Ready((r, buf, fds)) = poll_once(&mut recv) else {
            panic!("{i}: the receive still waits after its reactor's drop");
        };
        let mut held = Vec::new();
        match r {
            Ok(n) => {
                assert_eq!(&buf[..n], &i.to_le_bytes(), "{i}");
                assert_eq!(fds.len(), 3, "{i}: the message's descriptors");
                held.extend(fds);
                with_message += 1;
            }
            Err(_) => {
                assert!(fds.is_empty(), "{i}: a failed receive gave descriptors");
                assert_eq!(buf, [0x3c; 8], "{i}: a failed receive wrote its buffer");
                cut += 1;
                // The message waits, whole, for the next reader.
                let next = Reactor::new().unwrap();
                let b = UnixStream::from_std(&next.handle(), {
                    let fd = b.as_fd().try_clone_to_owned().unwrap();
                    std::os::unix::net::UnixStream::from(fd)
                });
                let (r, buf, fds) = next.run_until(b.recv_with_fds(vec![0u8; 8], 4)).unwrap();
                assert_eq!(
                    &buf[..r.unwrap()],
                    &i.to_le_bytes(),
                    "{i}: the message left"
                );
                assert_eq!(fds.len(), 3, "{i}: its descriptors");
                held.extend(fds);
            }
        }
        drop(recv);
        assert!(held.iter().all(|fd| inode(fd.as_fd()) == ino));
        assert_eq!(
            in_table(ino),
            1 + 3,
            "{i}: the table holds what was received"
        );
        drop(held);
        assert_eq!(in_table(ino), 1, "{i}");
    }
    eprintln!("{with_message} receives got their message, {cut} were cut");
    assert_eq!(with_message + cut, 100);
    drop(passed);
    assert!(
        sees_end(&observer),
        "a copy of the passed socket is left somewhere"
    );
    assert_eq!(sender.in_flight(), 0);
}

/// Reads of every kind with deadlines 5 to 95 ms away on idle sockets,
/// driven by tokio (`into_tokio`, the thread asleep in epoll while the
/// link timeouts fire): each ends with `TimedOut`, not before its deadline
/// and within two seconds after it (30 under valgrind), with its buffer
/// untouched; the bytes
/// sent afterwards are read whole with the deadlines lifted.
#[test]
fn read_deadlines_fire_while_tokio_sleeps() {
    let _watch = watchdog();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let group = h.register_buf_ring(BufferGroup::new(48), 4, 64).ok();
        let driver = tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let failures = Rc::new(RefCell::new(Vec::<String>::new()));
        let mut tasks = Vec::new();
        for i in 0..24u64 {
            let h = h.clone();
            let failures = Rc::clone(&failures);
            tasks.push(tokio::task::spawn_local(async move {
                let after = Duration::from_millis(5 + (i * 13) % 91);
                let (mine, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
                let mut s = UnixStream::from_std(&h, mine);
                let start = Instant::now();
                s.set_read_deadline(Some(start + after));
                let (err, untouched) = match i % 4 {
                    0 => {
                        let (r, buf) = s.read(vec![0x11u8; 16]).await;
                        (r.err(), buf == [0x11; 16])
                    }
                    1 => {
                        let (r, buf, fds) = s.recv_with_fds(vec![0x22u8; 16], 2).await;
                        (r.err(), buf == [0x22; 16] && fds.is_empty())
                    }
                    2 => match group {
                        Some(g) => {
                            let r = s.recv_ring(g).await;
                            let none = r.is_err();
                            (r.err(), none)
                        }
                        None => (Some(io::ErrorKind::TimedOut.into()), true),
                    },
                    _ => {
                        let mut buf = [0x44u8; 16];
                        let r = s.read_exact(&mut buf).await;
                        (r.err(), buf == [0x44; 16])
                    }
                };
                let took = start.elapsed();
                let report = |m: String| failures.borrow_mut().push(format!("{i}: {m}"));
                match err {
                    Some(e) if e.kind() == io::ErrorKind::TimedOut => {}
                    other => report(format!(
                        "{other:?} ({:?})",
                        other.as_ref().and_then(|e| e.raw_os_error())
                    )),
                }
                // Valgrind runs everything many times slower.
                let late = Duration::from_secs(if under_valgrind() { 30 } else { 2 });
                if took < after || took > after + late {
                    report(format!("ended after {took:?}, its deadline {after:?}"));
                }
                if !untouched {
                    report("the buffer was written".into());
                }
                // With the deadline lifted, the bytes sent now are read.
                s.set_read_deadline(None);
                peer.write_all(b"later").unwrap();
                let mut got = [0u8; 5];
                if let Err(e) = s.read_exact(&mut got).await {
                    report(format!("the read after: {e}"));
                } else if !same_kernel_bytes(&got, b"later") {
                    report("the bytes after differ".into());
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert!(failures.borrow().is_empty(), "{:#?}", failures.borrow());
        h.shutdown();
        driver.await.unwrap().unwrap();
        assert_eq!(h.in_flight(), 0);
    });
}

/// Bytes `AsyncRead` received into the stream's own buffer and has not
/// handed out yet, then a plain `read` of the same stream: the stream is
/// one byte stream, and every way of reading it gives its bytes in order
/// ("abcdef" then "later"): the plain read hands out the buffered bytes
/// first.
#[test]
fn a_plain_read_after_a_partial_tokio_read_gives_the_bytes_in_order() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (mut stream, mut peer) = connected(&h);
    peer.write_all(b"abcdef").unwrap();
    let mut one = [0u8; 1];
    let first = drive(&reactor, Duration::from_secs(5), || {
        match poll_read(&mut stream, &mut one) {
            Poll::Ready(r) => Some(r),
            Poll::Pending => None,
        }
    })
    .unwrap();
    assert_eq!(first.unwrap(), 1);
    let mut order = vec![one[0]];
    let mut read = Box::pin(stream.read(vec![0u8; 16]));
    let early = poll_once(&mut read);
    reactor.submit().unwrap();
    run_for(&reactor, 5);
    peer.write_all(b"later").unwrap();
    let (r, buf) = match early {
        Poll::Ready(done) => {
            drop(read);
            done
        }
        Poll::Pending => reactor.run_until(read).unwrap(),
    };
    order.extend_from_slice(&buf[..r.unwrap()]);
    stream.set_read_deadline(Some(Instant::now() + Duration::from_millis(50)));
    loop {
        match drive(&reactor, Duration::from_secs(5), || {
            match poll_read(&mut stream, &mut one) {
                Poll::Ready(r) => Some(r),
                Poll::Pending => None,
            }
        })
        .unwrap()
        {
            Ok(0) => break,
            Ok(n) => order.extend_from_slice(&one[..n]),
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
                break;
            }
        }
    }
    assert_eq!(order.len(), 11, "the stream's bytes, read both ways");
    if !under_valgrind() {
        assert_eq!(
            String::from_utf8_lossy(&order),
            "abcdeflater",
            "the stream's bytes, read both ways"
        );
    }
}

/// A receive stream, and a receive, over a buffer group of another
/// reactor that this one never registered, then over one this reactor
/// registered under the same id with shorter buffers: the first fail
/// (no buffer of a foreign ring is ever claimed), the second fill only
/// this reactor's buffers; no byte is lost.
#[test]
fn receives_over_a_group_of_another_reactor_never_claim_its_buffers() {
    let _watch = watchdog();
    let a = Reactor::new().unwrap();
    let Some(foreign) = group_or_skip(&a.handle(), 49, 2, 4096) else {
        return;
    };
    let b = Reactor::new().unwrap();
    let (stream, mut peer) = connected(&b.handle());
    peer.write_all(&pattern(40, 9)).unwrap();
    let mut rs = stream.recv_stream(foreign);
    let first = b.run_until(rs.next()).unwrap();
    match first {
        Some(Err(e)) => eprintln!("a stream over a foreign group: {e}"),
        other => panic!("a stream over a foreign group gave {other:?}"),
    }
    assert!(b.run_until(rs.next()).unwrap().is_none());
    let r = b.run_until(stream.recv_ring(foreign)).unwrap();
    assert!(r.is_err(), "a receive over a foreign group gave {r:?}");
    // Now this reactor's own group of the same id, of 8-byte buffers.
    let own = b.register_buf_ring(BufferGroup::new(49), 2, 8).unwrap();
    assert_eq!(own.buf_len(), 8);
    let mut got = Vec::new();
    while got.len() < 40 {
        let buf = b
            .run_until(stream.recv_ring(foreign))
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(buf.len() <= 8 && buf.capacity() == 8, "{buf:?}");
        got.extend_from_slice(&buf);
    }
    assert_eq!(got, pattern(40, 9));
    assert_group_whole(&a, foreign, 2, "the foreign group");
    assert_group_whole(&b, own, 2, "this reactor's group");
}

/// The receives that cannot take the bytes `AsyncRead` received ahead
/// (into a buffer ring, alone or as a stream) refuse to start while there
/// are some (`InvalidInput`), rather than overtake them; and while a
/// receive of `AsyncRead` is in flight, every other receive, a plain read
/// included, refuses (`ResourceBusy`) rather than race it for the next
/// bytes. Once both are done, they receive as usual.
#[test]
fn receives_that_would_overtake_async_read_refuse_to_start() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let group = h.register_buf_ring(BufferGroup::new(50), 2, 64).unwrap();
    let (mut stream, mut peer) = connected(&h);
    peer.write_all(b"xyz").unwrap();
    let mut one = [0u8; 1];
    let first = drive(&reactor, Duration::from_secs(5), || {
        match poll_read(&mut stream, &mut one) {
            Poll::Ready(r) => Some(r),
            Poll::Pending => None,
        }
    })
    .unwrap();
    assert_eq!(first.unwrap(), 1);
    // "yz" wait in the stream's buffer.
    let ring = reactor.run_until(stream.recv_ring(group)).unwrap();
    assert_eq!(ring.unwrap_err().kind(), io::ErrorKind::InvalidInput);
    let mut multi = stream.recv_stream(group);
    let refused = reactor.run_until(multi.next()).unwrap();
    assert_eq!(
        refused.unwrap().unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    assert!(reactor.run_until(multi.next()).unwrap().is_none());
    drop(multi);
    let mut two = [0u8; 2];
    assert!(matches!(
        poll_read(&mut stream, &mut two),
        Poll::Ready(Ok(2))
    ));
    assert_kernel_bytes(&two, b"yz", "the bytes received ahead");
    // A receive of `AsyncRead` in flight: nothing else may receive.
    assert!(poll_read(&mut stream, &mut one).is_pending());
    reactor.submit().unwrap();
    let (r, _) = reactor.run_until(stream.read(vec![0u8; 8])).unwrap();
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::ResourceBusy);
    let ring = reactor.run_until(stream.recv_ring(group)).unwrap();
    assert_eq!(ring.unwrap_err().kind(), io::ErrorKind::ResourceBusy);
    peer.write_all(b"!").unwrap();
    let got = drive(&reactor, Duration::from_secs(5), || {
        match poll_read(&mut stream, &mut one) {
            Poll::Ready(r) => Some(r),
            Poll::Pending => None,
        }
    })
    .unwrap();
    assert_eq!(got.unwrap(), 1);
    assert_kernel_bytes(&one, b"!", "the byte AsyncRead received");
    // Both done: the other receives work again.
    peer.write_all(b"ring").unwrap();
    let buf = reactor
        .run_until(stream.recv_ring(group))
        .unwrap()
        .unwrap()
        .unwrap();
    assert_kernel_bytes(&buf, b"ring", "the ring's buffer");
    assert_eq!(h.in_flight(), 0);
}
