//! Safe code against `set_read_ring`: tokio's `AsyncRead` on a
//! [`TcpStream`] or [`UnixStream`] reading through one multishot receive
//! into a reactor's buffer ring, kept across reads.
//!
//! - a mebibyte sent by a peer thread, read whole through rings of one
//!   byte, of four 64-byte buffers (which run dry at once: those reads
//!   receive the one-shot way) and of normal buffers, with `read_to_end`
//!   and with reads of a few bytes;
//! - bytes that arrived before the first read; the end of the stream, read
//!   again and again; a peer's reset;
//! - the stream's other receives (`read`, `recv_ring`, `recv_stream`,
//!   `recv_with_fds`) while the multishot receive lives and while a ring
//!   buffer is held half read, and after `set_read_ring(None)` once
//!   `AsyncRead` drained it;
//! - a read deadline set while it is armed, with and without bytes
//!   received before; the deadline lifted again; the ring switched to
//!   another group, or to none, while it is armed; a random walk of all of
//!   these between reads of every size;
//! - streams dropped while it is armed and holds buffers; fifty streams
//!   echoing through one ring of four buffers; a reader that stops while
//!   its peer goes on sending; a group the reactor never registered;
//!   reads on a reactor that has shut down.
//!
//! Each test asserts what really happened: every byte read once and in
//! order, the errors the kernel gave (by errno) or `TimedOut`, the
//! refusals by kind, the ops left in flight (`Handle::in_flight`), the
//! bytes left unread in the socket (`FIONREAD`), and the ring's buffers
//! (all of them held at once by another receive, one more finding none).
//! Bytes only the kernel wrote into memory are compared with
//! `assert_kernel_bytes` (valgrind's memcheck cannot see those writes).

use std::future::Future;
use std::io::{self, Write as _};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use uring::net::{RecvStream, TcpStream, UnixStream};
use uring::reactor::ops::Timeout;
use uring::reactor::{BufGroup, Handle, Reactor, RingBuf};
use uring_tests::net::peer::{Peer, inode, socket_open, tcp, unix};
use uring_tests::net::{
    assert_group_whole, assert_kernel_bytes, group_or_skip, noop_cx, poll_read,
};
use uring_tests::{Rng, pattern, poll_once, reset_on_close, run_for, watchdog};

// ---------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------

/// How long a wait for something that must happen may take before the
/// test fails (never a timing assertion: only a bound on a hang).
const BOUND: Duration = Duration::from_secs(20);

/// A stream method's future, borrowing the stream.
type Plain<'s, T> = Pin<Box<dyn Future<Output = T> + 's>>;

/// The two stream types with `set_read_ring`.
trait RingStream: AsyncRead + AsyncWrite + AsFd + Unpin + 'static {
    /// `set_read_ring`.
    fn ring(&mut self, group: Option<BufGroup>);
    /// `set_read_deadline`.
    fn read_by(&mut self, deadline: Option<Instant>);
    /// The stream's own `read` into `buf`.
    fn plain_read(&self, buf: Vec<u8>) -> Plain<'_, (io::Result<usize>, Vec<u8>)>;
    /// The stream's own `recv_ring`.
    fn plain_recv_ring(&self, group: BufGroup) -> Plain<'_, io::Result<Option<RingBuf>>>;
    /// The stream's own `recv_stream`.
    fn plain_recv_stream(&self, group: BufGroup) -> RecvStream;
    /// `recv_with_fds` into 64 bytes, for the types that have it.
    fn fds_receive(&self) -> Option<Plain<'_, io::Result<usize>>>;
}

/// The same forwarding for both stream types.
macro_rules! ring_stream {
    ($($ty:ty),*) => {$(
        impl RingStream for $ty {
            fn ring(&mut self, group: Option<BufGroup>) {
                self.set_read_ring(group);
            }
            fn read_by(&mut self, deadline: Option<Instant>) {
                self.set_read_deadline(deadline);
            }
            fn plain_read(&self, buf: Vec<u8>) -> Plain<'_, (io::Result<usize>, Vec<u8>)> {
                Box::pin(self.read(buf))
            }
            fn plain_recv_ring(&self, group: BufGroup) -> Plain<'_, io::Result<Option<RingBuf>>> {
                Box::pin(self.recv_ring(group))
            }
            fn plain_recv_stream(&self, group: BufGroup) -> RecvStream {
                self.recv_stream(group)
            }
            fn fds_receive(&self) -> Option<Plain<'_, io::Result<usize>>> {
                FdsReceive::fds_receive(self)
            }
        }
    )*};
}

ring_stream!(TcpStream, UnixStream);

/// `recv_with_fds`, which only a Unix stream has.
trait FdsReceive {
    /// `recv_with_fds` into 64 bytes, if the type has it.
    fn fds_receive(&self) -> Option<Plain<'_, io::Result<usize>>>;
}

impl FdsReceive for TcpStream {
    fn fds_receive(&self) -> Option<Plain<'_, io::Result<usize>>> {
        None
    }
}

impl FdsReceive for UnixStream {
    fn fds_receive(&self) -> Option<Plain<'_, io::Result<usize>>> {
        Some(Box::pin(async move {
            let (r, _buf, fds) = self.recv_with_fds(vec![0u8; 64], 4).await;
            assert!(fds.is_empty(), "descriptors from a peer that sent none");
            r
        }))
    }
}

/// A stream of either family connected to a plain peer.
type Make<S> = fn(&Handle) -> (S, Peer);

/// The errno of a failed result.
fn errno<T>(r: &io::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(io::Error::raw_os_error)
}

/// The kind of a failed result.
fn kind<T>(r: &io::Result<T>) -> Option<io::ErrorKind> {
    r.as_ref().err().map(io::Error::kind)
}

/// Polls `AsyncRead` with a buffer of `room` bytes, running the reactor
/// between polls, until it is ready: the bytes it gave (none at the end of
/// the stream), or its error.
fn read_once<S: AsyncRead + Unpin>(
    reactor: &Reactor,
    stream: &mut S,
    room: usize,
) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; room];
    let end = Instant::now() + BOUND;
    loop {
        match poll_read(stream, &mut buf) {
            Poll::Ready(r) => {
                return r.map(|n| {
                    buf.truncate(n);
                    buf
                });
            }
            Poll::Pending => {
                assert!(Instant::now() < end, "a read never ends");
                run_for(reactor, 2);
            }
        }
    }
}

/// Reads `n` bytes through `AsyncRead` in reads of at most `room` bytes;
/// neither an error nor the end of the stream may come first.
fn read_exactly<S: AsyncRead + Unpin>(
    reactor: &Reactor,
    stream: &mut S,
    n: usize,
    room: usize,
    what: &str,
) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < n {
        let part = read_once(reactor, stream, room.min(n - got.len()))
            .unwrap_or_else(|e| panic!("{what}: after {} of {n} bytes: {e}", got.len()));
        assert!(
            !part.is_empty(),
            "{what}: the end of the stream after {} of {n} bytes",
            got.len()
        );
        got.extend_from_slice(&part);
    }
    got
}

/// Runs the reactor until `done`, or fails naming `what`.
fn settle(reactor: &Reactor, what: &str, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + BOUND;
    while !done() {
        assert!(Instant::now() < end, "{what}: never happened");
        run_for(reactor, 2);
    }
}

/// The bytes queued in the socket `fd` that no receive has taken
/// (`FIONREAD`).
fn unread(fd: BorrowedFd<'_>) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: `fd` is open for the call; FIONREAD writes one int through
    // the pointer, which points to `n` and outlives the call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut n) };
    assert_eq!(rc, 0, "FIONREAD: {}", io::Error::last_os_error());
    usize::try_from(n).unwrap()
}

/// Waits (running the reactor) until exactly `n` bytes wait in the socket
/// `fd`.
fn wait_unread(reactor: &Reactor, fd: BorrowedFd<'_>, n: usize, what: &str) {
    settle(reactor, what, || unread(fd) == n);
}

/// Checks that `group` has no buffer free now: a receive with a byte
/// waiting finds none (`ENOBUFS`).
fn assert_group_dry(reactor: &Reactor, group: BufGroup, what: &str) {
    let h = reactor.handle();
    let (mine, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let stream = UnixStream::from_std(&h, mine);
    peer.write_all(b"?").unwrap();
    let r = reactor.run_until(stream.recv_ring(group)).unwrap();
    assert_eq!(
        errno(&r),
        Some(libc::ENOBUFS),
        "{what}: a buffer was free: {r:?}"
    );
}

/// `read_to_end` of `stream` on the reactor, while a task wakes the
/// reactor every millisecond: a peer thread that writes gets to run while
/// the reactor waits even where only one thread runs at a time (under
/// valgrind). Returns once that task has ended too.
fn read_to_end<S: AsyncRead + Unpin>(reactor: &Reactor, stream: &mut S) -> io::Result<Vec<u8>> {
    let h = reactor.handle();
    // (whether the read is done, whether the ticks have stopped)
    let flags = Rc::new([std::cell::Cell::new(false), std::cell::Cell::new(false)]);
    let ticking = Rc::clone(&flags);
    let ticks = h.clone();
    h.spawn(async move {
        while !ticking[0].get() {
            let (r, ()) = ticks.op(Timeout::new(Duration::from_millis(1))).await;
            assert_eq!(errno(&r), Some(libc::ETIME), "a tick");
        }
        ticking[1].set(true);
    });
    let all = reactor
        .run_until(async {
            let mut all = Vec::new();
            stream.read_to_end(&mut all).await.map(|_| all)
        })
        .unwrap();
    flags[0].set(true);
    settle(reactor, "the ticks' end", || flags[1].get());
    all
}

/// Drops `stream` and runs the reactor until nothing is in flight and its
/// socket is closed.
fn drop_and_settle<S: AsFd>(reactor: &Reactor, stream: S, what: &str) {
    let ino = inode(stream.as_fd());
    drop(stream);
    settle(reactor, what, || {
        reactor.in_flight() == 0 && !socket_open(ino)
    });
}

/// Arms the multishot receive of `stream` (whose ring is set, with no
/// byte waiting): a poll that finds nothing, then a round that submits it.
/// Nothing else may be in flight.
fn arm<S: AsyncRead + Unpin>(reactor: &Reactor, stream: &mut S, what: &str) {
    assert!(
        poll_read(stream, &mut [0u8; 64]).is_pending(),
        "{what}: a read with nothing sent was ready"
    );
    run_for(reactor, 2);
    assert_eq!(reactor.in_flight(), 1, "{what}: the armed receive");
}

// ---------------------------------------------------------------------------
// Whole streams through rings of every size
// ---------------------------------------------------------------------------

/// A mebibyte a peer thread sends, then ends, is read whole and in order
/// by `read_to_end` through a ring of 4 buffers of 64 bytes (which runs
/// dry at every burst: those reads receive the one-shot way), of one
/// buffer of one byte, and of 256 buffers of 4 KiB; the receive ends with
/// the stream (nothing in flight), and every buffer is back in its ring.
fn reads_a_mebibyte<S: RingStream>(make: Make<S>, family: &str) {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    for (seed, (id, count, len)) in [(1u16, 4u16, 64u32), (2, 1, 1), (3, 256, 4096)]
        .into_iter()
        .enumerate()
    {
        let what = format!("{family}, {count} buffers of {len} bytes");
        let Some(group) = group_or_skip(&h, id, count, len) else {
            return;
        };
        let (mut stream, mut peer) = make(&h);
        stream.ring(Some(group));
        let want = pattern(1 << 20, seed as u8);
        let sent = want.clone();
        let writer = std::thread::spawn(move || {
            peer.write_all(&sent).unwrap();
            peer.shutdown(std::net::Shutdown::Write).unwrap();
            peer
        });
        let got = read_to_end(&reactor, &mut stream)
            .unwrap_or_else(|e| panic!("{what}: read_to_end: {e}"));
        let peer = writer.join().unwrap();
        assert_kernel_bytes(&got, &want, &what);
        assert_eq!(reactor.in_flight(), 0, "{what}: a receive outlived the end");
        drop(peer);
        drop_and_settle(&reactor, stream, &what);
        assert_group_whole(&reactor, group, count, &what);
    }
}

#[test]
fn a_mebibyte_reads_whole_through_tiny_and_normal_rings_over_tcp() {
    reads_a_mebibyte(tcp, "tcp");
}

#[test]
fn a_mebibyte_reads_whole_through_tiny_and_normal_rings_over_unix() {
    reads_a_mebibyte(unix, "unix");
}

/// Reads of 1 to 97 bytes (a ring buffer read in several parts, several
/// buffers in one read never) take every byte of 256 KiB once and in
/// order through a ring of 4 buffers of 64 bytes, then see the end.
#[test]
fn reads_of_a_few_bytes_take_every_byte_once_in_order() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 1, 4, 64) else {
        return;
    };
    let (mut stream, mut peer) = tcp(&h);
    stream.ring(Some(group));
    let want = pattern(256 << 10, 9);
    let sent = want.clone();
    let writer = std::thread::spawn(move || {
        for piece in sent.chunks(1000) {
            peer.write_all(piece).unwrap();
        }
        peer.shutdown(std::net::Shutdown::Write).unwrap();
        peer
    });
    let mut rng = Rng(17);
    let mut got = Vec::new();
    loop {
        let room = 1 + rng.below(97) as usize;
        let part = read_once(&reactor, &mut stream, room).unwrap();
        assert!(part.len() <= room);
        if part.is_empty() {
            break;
        }
        got.extend_from_slice(&part);
    }
    drop(writer.join().unwrap());
    assert_kernel_bytes(&got, &want, "reads of a few bytes");
    drop_and_settle(&reactor, stream, "the stream");
    assert_group_whole(&reactor, group, 4, "after reads of a few bytes");
}

/// Bytes the peer sent before the stream's first read (more than its ring
/// holds: the multishot receive runs dry at once) are read first, whole
/// and in order, then bytes sent later.
fn early_bytes<S: RingStream>(make: Make<S>, family: &str) {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 1, 4, 64) else {
        return;
    };
    let (mut stream, mut peer) = make(&h);
    let early = pattern(1000, 3);
    peer.write_all(&early).unwrap();
    wait_unread(&reactor, stream.as_fd(), early.len(), "the early bytes");
    stream.ring(Some(group));
    let got = read_exactly(&reactor, &mut stream, early.len(), 100, family);
    assert_kernel_bytes(&got, &early, &format!("{family}: the early bytes"));
    let later = pattern(700, 4);
    peer.write_all(&later).unwrap();
    let got = read_exactly(&reactor, &mut stream, later.len(), 4096, family);
    assert_kernel_bytes(&got, &later, &format!("{family}: the later bytes"));
    drop_and_settle(&reactor, stream, family);
    assert_group_whole(&reactor, group, 4, family);
}

#[test]
fn bytes_sent_before_the_first_read_are_read_first() {
    early_bytes(tcp, "tcp");
    early_bytes(unix, "unix");
}

// ---------------------------------------------------------------------------
// The end of the stream and errors
// ---------------------------------------------------------------------------

/// The end of the stream, whether it came before the first read or while
/// the receive waited armed, reads as 0 bytes, and again 0 at every read
/// after; the receive is not left in flight, and the stream's own `read`
/// then runs (the end again).
fn end_of_stream<S: RingStream>(make: Make<S>, family: &str) {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 1, 4, 64) else {
        return;
    };

    // Bytes, then the end, all before the first read.
    let (mut stream, mut peer) = make(&h);
    let want = pattern(300, 5);
    peer.write_all(&want).unwrap();
    peer.shutdown(std::net::Shutdown::Write).unwrap();
    stream.ring(Some(group));
    let got = read_to_end(&reactor, &mut stream).unwrap();
    assert_kernel_bytes(&got, &want, &format!("{family}: before the end"));
    for again in 0..3 {
        let r = read_once(&reactor, &mut stream, 64).unwrap();
        assert!(r.is_empty(), "{family}: read {again} after the end: {r:?}");
        assert_eq!(
            reactor.in_flight(),
            0,
            "{family}: read {again} after the end"
        );
    }
    let (r, _) = reactor.run_until(stream.plain_read(vec![0u8; 64])).unwrap();
    assert_eq!(
        r.unwrap(),
        0,
        "{family}: the stream's own read after the end"
    );
    drop_and_settle(&reactor, stream, family);

    // The end while the receive waits armed.
    let (mut stream, peer) = make(&h);
    stream.ring(Some(group));
    arm(&reactor, &mut stream, family);
    peer.shutdown(std::net::Shutdown::Write).unwrap();
    for again in 0..3 {
        let r = read_once(&reactor, &mut stream, 64).unwrap();
        assert!(r.is_empty(), "{family}: armed, read {again}: {r:?}");
        assert_eq!(reactor.in_flight(), 0, "{family}: armed, read {again}");
    }
    drop(peer);
    drop_and_settle(&reactor, stream, family);
    assert_group_whole(&reactor, group, 4, family);
}

#[test]
fn the_end_of_the_stream_reads_as_zero_again_and_again() {
    end_of_stream(tcp, "tcp");
    end_of_stream(unix, "unix");
}

/// A TCP peer that resets the connection (`SO_LINGER` 0, closed): a read
/// waiting armed fails with `ECONNRESET`, the next reads see the end;
/// bytes sent before a reset that came before the first read are read
/// first, then `ECONNRESET`.
#[test]
fn a_tcp_peer_s_reset_fails_the_read_with_econnreset() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 1, 4, 64) else {
        return;
    };

    // Armed and waiting when the reset comes.
    let (mut stream, mut peer) = tcp(&h);
    stream.ring(Some(group));
    peer.write_all(b"before the reset").unwrap();
    let got = read_exactly(&reactor, &mut stream, 16, 64, "before the reset");
    assert_kernel_bytes(&got, b"before the reset", "before the reset");
    arm(&reactor, &mut stream, "armed");
    reset_on_close(&peer);
    drop(peer);
    let r = read_once(&reactor, &mut stream, 64);
    assert_eq!(errno(&r), Some(libc::ECONNRESET), "armed: {r:?}");
    assert_eq!(reactor.in_flight(), 0);
    let r = read_once(&reactor, &mut stream, 64).unwrap();
    assert!(r.is_empty(), "after the reset: {r:?}");
    drop_and_settle(&reactor, stream, "armed");

    // Bytes, then the reset, before the first read.
    let (mut stream, mut peer) = tcp(&h);
    stream.ring(Some(group));
    let want = pattern(100, 6);
    peer.write_all(&want).unwrap();
    wait_unread(&reactor, stream.as_fd(), 100, "the bytes before the reset");
    reset_on_close(&peer);
    drop(peer);
    let mut got = Vec::new();
    let error = loop {
        match read_once(&reactor, &mut stream, 1000) {
            Ok(part) => {
                assert!(!part.is_empty(), "the end before the reset's error");
                got.extend_from_slice(&part);
            }
            Err(e) => break e,
        }
    };
    assert_kernel_bytes(&got, &want, "the bytes before the reset");
    assert_eq!(error.raw_os_error(), Some(libc::ECONNRESET), "{error}");
    let r = read_once(&reactor, &mut stream, 64).unwrap();
    assert!(r.is_empty(), "after the reset: {r:?}");
    drop_and_settle(&reactor, stream, "before the first read");
    assert_group_whole(&reactor, group, 4, "after the resets");
}

/// A Unix peer that closes with bytes it never read resets the stream: a
/// read waiting armed fails with `ECONNRESET`, the next sees the end.
#[test]
fn a_unix_peer_closed_with_bytes_unread_fails_the_read_with_econnreset() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 1, 4, 64) else {
        return;
    };
    let (mut stream, peer) = unix(&h);
    stream.ring(Some(group));
    arm(&reactor, &mut stream, "armed");
    // The stream's own write goes beside the armed receive.
    let (r, _) = reactor
        .run_until(stream.write_all(b"never read".to_vec()))
        .unwrap();
    r.unwrap();
    drop(peer);
    let r = read_once(&reactor, &mut stream, 64);
    assert_eq!(errno(&r), Some(libc::ECONNRESET), "{r:?}");
    let r = read_once(&reactor, &mut stream, 64).unwrap();
    assert!(r.is_empty(), "after the reset: {r:?}");
    assert_eq!(reactor.in_flight(), 0);
    drop_and_settle(&reactor, stream, "unix");
    assert_group_whole(&reactor, group, 4, "unix");
}

// ---------------------------------------------------------------------------
// The stream's other receives
// ---------------------------------------------------------------------------

/// The first item of `stream`, which must be there at once: the refusal
/// it must start with; then its end.
fn refusal(mut stream: RecvStream, what: &str) -> io::Error {
    let e = match stream.poll_next(&mut noop_cx()) {
        Poll::Ready(Some(Err(e))) => e,
        Poll::Pending => panic!("{what}: recv_stream started a receive"),
        other => panic!("{what}: recv_stream: {other:?}"),
    };
    assert!(
        matches!(stream.poll_next(&mut noop_cx()), Poll::Ready(None)),
        "{what}: a refused recv_stream goes on"
    );
    e
}

/// The result of `op`, a stream method's future, which must refuse at
/// once (a receive it started instead would race the multishot one).
fn at_once<T>(mut op: Plain<'_, T>, what: &str) -> T {
    match poll_once(&mut op) {
        Poll::Ready(r) => r,
        Poll::Pending => panic!("{what}: started a receive instead of refusing"),
    }
}

/// While the multishot receive lives, the stream's other receives refuse:
/// `ResourceBusy`, or, while a ring buffer is held half read,
/// `InvalidInput` for those that cannot take its bytes (its own `read`
/// takes them, as the next bytes). Once `set_read_ring(None)` and
/// `AsyncRead` drained what the receive had taken (and a one-shot read
/// after it completed), they all receive, and the bytes read through both
/// APIs are exactly the bytes sent, in order, each once.
fn other_receives<S: RingStream>(make: Make<S>, family: &str) {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 1, 8, 64) else {
        return;
    };
    let (mut stream, mut peer) = make(&h);
    stream.ring(Some(group));
    let pieces: Vec<Vec<u8>> = (0..5u8)
        .map(|i| pattern(100 - 15 * usize::from(i), i))
        .collect();
    let mut sent = Vec::new();
    let mut got = Vec::new();

    // Piece 0: 10 bytes through AsyncRead, from a buffer of 64 it filled.
    peer.write_all(&pieces[0]).unwrap();
    sent.extend_from_slice(&pieces[0]);
    wait_unread(&reactor, stream.as_fd(), pieces[0].len(), "piece 0");
    got.extend(read_exactly(&reactor, &mut stream, 10, 10, family));

    // A buffer held half read.
    let r = at_once(stream.plain_recv_ring(group), family);
    assert_eq!(
        kind(&r),
        Some(io::ErrorKind::InvalidInput),
        "{family}: recv_ring, held: {r:?}"
    );
    let e = refusal(stream.plain_recv_stream(group), family);
    assert_eq!(
        e.kind(),
        io::ErrorKind::InvalidInput,
        "{family}: recv_stream, held: {e}"
    );
    if let Some(fds) = stream.fds_receive() {
        let r = at_once(fds, family);
        assert_eq!(
            kind(&r),
            Some(io::ErrorKind::InvalidInput),
            "{family}: recv_with_fds, held: {r:?}"
        );
    }
    // The stream's own read takes the rest of it, and no more.
    let (r, buf) = at_once(stream.plain_read(Vec::with_capacity(1000)), family);
    let n = r.unwrap();
    assert!(
        (1..=54).contains(&n),
        "{family}: read of the held buffer: {n}"
    );
    got.extend_from_slice(&buf[..n]);

    // Nothing held, the receive armed (or its bytes queued): refused.
    let (r, _) = at_once(stream.plain_read(vec![0u8; 64]), family);
    assert_eq!(
        kind(&r),
        Some(io::ErrorKind::ResourceBusy),
        "{family}: read: {r:?}"
    );
    let r = at_once(stream.plain_recv_ring(group), family);
    assert_eq!(
        kind(&r),
        Some(io::ErrorKind::ResourceBusy),
        "{family}: recv_ring: {r:?}"
    );
    let e = refusal(stream.plain_recv_stream(group), family);
    assert_eq!(
        e.kind(),
        io::ErrorKind::ResourceBusy,
        "{family}: recv_stream: {e}"
    );
    if let Some(fds) = stream.fds_receive() {
        let r = at_once(fds, family);
        assert_eq!(
            kind(&r),
            Some(io::ErrorKind::ResourceBusy),
            "{family}: recv_with_fds: {r:?}"
        );
    }
    assert_eq!(
        reactor.in_flight(),
        1,
        "{family}: the refusals queued nothing"
    );

    // No ring any more: AsyncRead hands over what the receive took, then
    // reads the one-shot way; the refusals hold until that read is done.
    stream.ring(None);
    let rest = pieces[0].len() - got.len();
    got.extend(read_exactly(&reactor, &mut stream, rest, 1000, family));
    // The cancelled receive's end, then the one-shot receive it leaves
    // to.
    settle(&reactor, "the multishot receive's end", || {
        reactor.in_flight() == 0
    });
    assert!(poll_read(&mut stream, &mut [0u8; 64]).is_pending());
    run_for(&reactor, 2);
    assert_eq!(reactor.in_flight(), 1, "{family}: the one-shot receive");
    let (r, _) = at_once(stream.plain_read(vec![0u8; 64]), family);
    assert_eq!(
        kind(&r),
        Some(io::ErrorKind::ResourceBusy),
        "{family}: read, one-shot: {r:?}"
    );
    peer.write_all(&pieces[1]).unwrap();
    sent.extend_from_slice(&pieces[1]);
    got.extend(read_exactly(&reactor, &mut stream, 20, 20, family));
    assert_eq!(
        reactor.in_flight(),
        0,
        "{family}: a receive after the one-shot one"
    );

    // The rest of piece 1 waits in the stream's own buffer: its own read
    // takes it; the others refuse while it waits.
    let r = at_once(stream.plain_recv_ring(group), family);
    assert_eq!(
        kind(&r),
        Some(io::ErrorKind::InvalidInput),
        "{family}: recv_ring, buffered: {r:?}"
    );
    let (r, buf) = at_once(stream.plain_read(Vec::with_capacity(1000)), family);
    let n = r.unwrap();
    assert_eq!(n, pieces[1].len() - 20, "{family}: the rest of piece 1");
    got.extend_from_slice(&buf[..n]);

    // Now each receives what is sent next.
    peer.write_all(&pieces[2]).unwrap();
    sent.extend_from_slice(&pieces[2]);
    let (r, buf) = reactor
        .run_until(stream.plain_read(Vec::with_capacity(1000)))
        .unwrap();
    let n = r.unwrap();
    got.extend_from_slice(&buf[..n]);
    if n < pieces[2].len() {
        let (r, buf) = reactor
            .run_until(stream.plain_read(Vec::with_capacity(1000)))
            .unwrap();
        got.extend_from_slice(&buf[..r.unwrap()]);
    }
    peer.write_all(&pieces[3]).unwrap();
    sent.extend_from_slice(&pieces[3]);
    wait_unread(&reactor, stream.as_fd(), pieces[3].len(), "piece 3");
    let buf = reactor
        .run_until(stream.plain_recv_ring(group))
        .unwrap()
        .unwrap()
        .unwrap();
    got.extend_from_slice(&buf);
    drop(buf);
    let mut rs = stream.plain_recv_stream(group);
    peer.write_all(&pieces[4]).unwrap();
    sent.extend_from_slice(&pieces[4]);
    match reactor.run_until(rs.next()).unwrap() {
        Some(Ok(Some(buf))) => got.extend_from_slice(&buf),
        other => panic!("{family}: recv_stream: {other:?}"),
    }
    drop(rs);
    assert_kernel_bytes(
        &got,
        &sent,
        &format!("{family}: everything read through both APIs"),
    );
    drop_and_settle(&reactor, stream, family);
    assert_group_whole(&reactor, group, 8, family);
}

#[test]
fn other_receives_refuse_while_the_multishot_receive_lives_and_work_after() {
    other_receives(tcp, "tcp");
    other_receives(unix, "unix");
}

// ---------------------------------------------------------------------------
// Deadlines and rings changed while armed
// ---------------------------------------------------------------------------

/// A read deadline set while the receive waits armed ends the read with
/// `TimedOut`; lifted, the next read arms a multishot receive again (its
/// ring's buffers fill with no read); bytes that receive took before a
/// deadline that has passed are read first, then `TimedOut`, and the
/// stream's own read then receives (nothing armed is left).
fn deadline_while_armed<S: RingStream>(make: Make<S>, family: &str) {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 1, 8, 64) else {
        return;
    };
    let (mut stream, mut peer) = make(&h);
    stream.ring(Some(group));

    // Armed, nothing sent: TimedOut.
    arm(&reactor, &mut stream, family);
    stream.read_by(Some(Instant::now() + Duration::from_millis(30)));
    let r = read_once(&reactor, &mut stream, 64);
    assert_eq!(kind(&r), Some(io::ErrorKind::TimedOut), "{family}: {r:?}");
    settle(&reactor, "the timed-out read's end", || {
        reactor.in_flight() == 0
    });

    // Lifted: armed again, into the ring.
    stream.read_by(None);
    arm(&reactor, &mut stream, family);
    let want = pattern(8 * 64 + 40, 1);
    peer.write_all(&want).unwrap();
    // Every buffer filled, then none for the rest: the receive ends.
    settle(&reactor, "the ring filled by the re-armed receive", || {
        reactor.in_flight() == 0
    });
    assert_eq!(unread(stream.as_fd()), 40, "{family}: what the ring left");
    assert_group_dry(&reactor, group, family);
    let got = read_exactly(&reactor, &mut stream, want.len(), 1000, family);
    assert_kernel_bytes(
        &got,
        &want,
        &format!("{family}: after the deadline was lifted"),
    );

    // Bytes taken, then a deadline that has passed: the bytes, TimedOut.
    arm(&reactor, &mut stream, family);
    let want = pattern(100, 2);
    peer.write_all(&want).unwrap();
    wait_unread(
        &reactor,
        stream.as_fd(),
        0,
        "the bytes taken by the armed receive",
    );
    stream.read_by(Some(Instant::now()));
    let mut got = Vec::new();
    let error = loop {
        match read_once(&reactor, &mut stream, 1000) {
            Ok(part) => {
                assert!(!part.is_empty(), "{family}: the end");
                got.extend_from_slice(&part);
            }
            Err(e) => break e,
        }
    };
    assert_kernel_bytes(&got, &want, &format!("{family}: before TimedOut"));
    assert_eq!(error.kind(), io::ErrorKind::TimedOut, "{family}: {error}");
    assert_eq!(reactor.in_flight(), 0, "{family}: after TimedOut");
    let (r, _) = reactor.run_until(stream.plain_read(vec![0u8; 64])).unwrap();
    assert_eq!(
        kind(&r),
        Some(io::ErrorKind::TimedOut),
        "{family}: own read: {r:?}"
    );
    stream.read_by(None);
    peer.write_all(b"plain").unwrap();
    let (r, buf) = reactor
        .run_until(stream.plain_read(Vec::with_capacity(64)))
        .unwrap();
    let n = r.unwrap();
    assert_kernel_bytes(&buf[..n], b"plain", &format!("{family}: own read after"));
    drop_and_settle(&reactor, stream, family);
    assert_group_whole(&reactor, group, 8, family);
}

#[test]
fn a_read_deadline_set_while_armed_times_out_after_the_bytes_taken_before() {
    deadline_while_armed(tcp, "tcp");
    deadline_while_armed(unix, "unix");
}

/// The ring switched to another group while the receive waits armed:
/// what it took into the first group is read first, then the receive is
/// armed on the second (its buffers fill, the first group's stay free);
/// switched to none while armed, the bytes still come, in order, and both
/// groups end whole.
fn switch_while_armed<S: RingStream>(make: Make<S>, family: &str) {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(first) = group_or_skip(&h, 1, 8, 64) else {
        return;
    };
    let second = group_or_skip(&h, 2, 2, 16).unwrap();
    let (mut stream, mut peer) = make(&h);
    stream.ring(Some(first));
    arm(&reactor, &mut stream, family);
    let a = pattern(100, 1);
    peer.write_all(&a).unwrap();
    wait_unread(&reactor, stream.as_fd(), 0, "taken into the first group");

    stream.ring(Some(second));
    let got = read_exactly(&reactor, &mut stream, a.len(), 1000, family);
    assert_kernel_bytes(&got, &a, &format!("{family}: taken before the switch"));
    // The receive on the first group ends (cancelled)...
    settle(&reactor, "the first group's receive end", || {
        reactor.in_flight() == 0
    });
    // ... and the next read arms one on the second.
    arm(&reactor, &mut stream, family);
    let b = pattern(40, 2);
    peer.write_all(&b).unwrap();
    settle(&reactor, "the second group filled", || {
        reactor.in_flight() == 0
    });
    assert_eq!(
        unread(stream.as_fd()),
        8,
        "{family}: what two buffers of 16 left"
    );
    assert_group_dry(&reactor, second, family);
    assert_group_whole(&reactor, first, 8, &format!("{family}: the first group"));
    let got = read_exactly(&reactor, &mut stream, b.len(), 1000, family);
    assert_kernel_bytes(&got, &b, &format!("{family}: after the switch"));

    // To none while armed: the bytes come all the same.
    arm(&reactor, &mut stream, family);
    stream.ring(None);
    let c = pattern(30, 3);
    peer.write_all(&c).unwrap();
    let got = read_exactly(&reactor, &mut stream, c.len(), 1000, family);
    assert_kernel_bytes(&got, &c, &format!("{family}: after no ring"));
    // Back to the first group, then the second, before any read: the
    // last one set is the one read through.
    stream.ring(Some(first));
    stream.ring(Some(second));
    let d = pattern(500, 4);
    peer.write_all(&d).unwrap();
    let got = read_exactly(&reactor, &mut stream, d.len(), 7, family);
    assert_kernel_bytes(&got, &d, &format!("{family}: back on a ring"));
    drop_and_settle(&reactor, stream, family);
    assert_group_whole(&reactor, first, 8, family);
    assert_group_whole(&reactor, second, 2, family);
}

#[test]
fn switching_the_ring_while_armed_moves_the_receive_to_the_new_group() {
    switch_while_armed(tcp, "tcp");
    switch_while_armed(unix, "unix");
}

/// A random walk: the peer sends pieces of 1 to 3000 bytes; before each
/// poll the ring is switched among two groups and none, the read deadline
/// lifted, moved into the past or far away, and the `ReadBuf` is empty, of
/// one byte, of up to 200 or larger than every buffer. Every byte is read
/// once, in order; `TimedOut` comes only under a deadline that has
/// passed; every buffer goes back to its ring.
#[test]
fn a_random_walk_of_reads_rings_and_deadlines_loses_no_byte() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(small) = group_or_skip(&h, 1, 4, 64) else {
        return;
    };
    let large = group_or_skip(&h, 2, 16, 1024).unwrap();
    for seed in 0..4u64 {
        if seed % 2 == 0 {
            walk(&reactor, tcp, seed, [small, large]);
        } else {
            walk(&reactor, unix, seed, [small, large]);
        }
        assert_group_whole(&reactor, small, 4, "the small group");
        assert_group_whole(&reactor, large, 16, "the large group");
    }
}

/// One walk of [`a_random_walk_of_reads_rings_and_deadlines_loses_no_byte`]
/// over a stream `make` gives, through the groups `[small, large]`.
fn walk<S: RingStream>(reactor: &Reactor, make: Make<S>, seed: u64, groups: [BufGroup; 2]) {
    let (mut stream, mut peer) = make(&reactor.handle());
    let mut rng = Rng(seed * 7919 + 1);
    let mut sent = Vec::new();
    let mut got = Vec::new();
    let mut deadline = None;
    peer.set_nonblocking(true).unwrap();
    for step in 0..2000u32 {
        if rng.below(3) == 0 {
            let piece = pattern(1 + rng.below(3000) as usize, step as u8);
            match peer.write(&piece) {
                Ok(n) => sent.extend_from_slice(&piece[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("step {step}: the peer's write: {e}"),
            }
        }
        match rng.below(8) {
            0 => stream.ring(None),
            1 => stream.ring(Some(groups[0])),
            2 => stream.ring(Some(groups[1])),
            _ => {}
        }
        let now = Instant::now();
        deadline = match rng.below(8) {
            0 => None,
            1 => now.checked_sub(Duration::from_millis(1)),
            2 => Some(now + Duration::from_secs(60)),
            _ => deadline,
        };
        stream.read_by(deadline);
        let room = match rng.below(10) {
            0 => 0,
            1 => 1,
            2 => 5000,
            _ => 1 + rng.below(200) as usize,
        };
        let mut storage = vec![0xEEu8; room];
        let mut rb = ReadBuf::new(&mut storage);
        match Pin::new(&mut stream).poll_read(&mut noop_cx(), &mut rb) {
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                assert!(
                    n > 0 || room == 0,
                    "walk {seed}, step {step}: the end after {} of {} bytes",
                    got.len(),
                    sent.len()
                );
                got.extend_from_slice(&storage[..n]);
                assert!(
                    got.len() <= sent.len(),
                    "walk {seed}, step {step}: more read than sent"
                );
            }
            Poll::Ready(Err(e)) => {
                assert_eq!(
                    e.kind(),
                    io::ErrorKind::TimedOut,
                    "walk {seed}, step {step}: {e}"
                );
                assert!(
                    deadline.is_some_and(|d| d <= Instant::now()),
                    "walk {seed}, step {step}: TimedOut under {deadline:?}"
                );
            }
            Poll::Pending => run_for(reactor, 1),
        }
    }
    // The rest, with no deadline, through the small ring.
    stream.read_by(None);
    stream.ring(Some(groups[0]));
    let rest = sent.len() - got.len();
    got.extend(read_exactly(reactor, &mut stream, rest, 4096, "the rest"));
    assert_kernel_bytes(&got, &sent, &format!("walk {seed}"));
    drop(peer);
    let r = read_once(reactor, &mut stream, 64).unwrap();
    assert!(r.is_empty(), "walk {seed}: the end: {r:?}");
    drop_and_settle(reactor, stream, "the walk's stream");
}

// ---------------------------------------------------------------------------
// Drops, many streams, stalled readers
// ---------------------------------------------------------------------------

/// Streams dropped while their multishot receive is armed (or just
/// ended), holding buffers queued and one half read, with bytes still
/// arriving after the drop: nothing stays in flight, the socket is
/// closed, and every buffer of the ring comes back (as many held at once
/// by another receive as the ring has).
#[test]
fn a_stream_dropped_with_its_receive_armed_gives_every_buffer_back() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 1, 4, 64) else {
        return;
    };
    let mut case = 0;
    for sent in [0usize, 1, 63, 64, 100, 192, 256, 257, 1000] {
        for half_read in [false, true] {
            for after in [false, true] {
                case += 1;
                let what =
                    format!("case {case}: {sent} bytes, half read {half_read}, after {after}");
                let shape = (sent, half_read, after);
                if case % 2 == 0 {
                    dropped_armed(&reactor, tcp, group, shape, &what);
                } else {
                    dropped_armed(&reactor, unix, group, shape, &what);
                }
                assert_group_whole(&reactor, group, 4, &what);
            }
        }
    }
}

/// One case of [`a_stream_dropped_with_its_receive_armed_gives_every_buffer_back`]:
/// a stream reading through `group` (4 buffers of 64 bytes) armed, sent
/// `sent` bytes, read one byte of them if `half_read`, dropped, and sent
/// more after if `after`.
fn dropped_armed<S: RingStream>(
    reactor: &Reactor,
    make: Make<S>,
    group: BufGroup,
    (sent, half_read, after): (usize, bool, bool),
    what: &str,
) {
    let (mut stream, mut peer) = make(&reactor.handle());
    stream.ring(Some(group));
    arm(reactor, &mut stream, what);
    let want = pattern(sent, sent as u8);
    peer.write_all(&want).unwrap();
    // The receive took what the ring holds.
    settle(reactor, what, || {
        unread(stream.as_fd()) == sent.saturating_sub(4 * 64)
    });
    if half_read && sent > 0 {
        let got = read_once(reactor, &mut stream, 1).unwrap();
        assert_kernel_bytes(&got, &want[..1], what);
    }
    let ino = inode(stream.as_fd());
    drop(stream);
    if after {
        let _ = peer.write_all(&pattern(500, 0));
    }
    settle(reactor, what, || {
        reactor.in_flight() == 0 && !socket_open(ino)
    });
}

/// One echo of a stream whose `AsyncRead` goes through a ring: what it
/// reads, written back, until the end; then its write side shut down.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) -> io::Result<usize> {
    let mut buf = vec![0u8; 1500];
    let mut total = 0;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            stream.shutdown().await?;
            return Ok(total);
        }
        stream.write_all(&buf[..n]).await?;
        total += n;
    }
}

/// A plain peer driven without blocking: what it sends, what came back.
struct Echoed {
    peer: Peer,
    want: Vec<u8>,
    sent: usize,
    shut: bool,
    got: Vec<u8>,
    end: bool,
}

impl Echoed {
    /// Sends what the socket takes, then the end; reads what came back.
    fn pump(&mut self, chunk: &mut [u8]) {
        if self.sent < self.want.len() {
            let to = self.want.len().min(self.sent + (16 << 10));
            match self.peer.write(&self.want[self.sent..to]) {
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("a peer's write: {e}"),
            }
        } else if !self.shut {
            self.peer.shutdown(std::net::Shutdown::Write).unwrap();
            self.shut = true;
        }
        while !self.end {
            match io::Read::read(&mut self.peer, chunk) {
                Ok(0) => self.end = true,
                Ok(n) => self.got.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("a peer's read: {e}"),
            }
        }
    }
}

/// Fifty streams of both families share one ring of four 64-byte buffers,
/// each echoing 32 KiB its peer sends (most reads find the ring dry and
/// receive the one-shot way): every peer gets its own bytes back, whole
/// and in order, every echo ends cleanly, nothing stays in flight and the
/// ring ends whole. Peers and reactor run on one thread.
#[test]
fn fifty_streams_echo_through_one_ring_of_four_buffers() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 1, 4, 64) else {
        return;
    };
    let results = Rc::new(std::cell::RefCell::new(Vec::new()));
    let mut peers = Vec::new();
    for i in 0..50u8 {
        let peer = if i % 5 == 0 {
            let (mut stream, peer) = unix(&h);
            stream.ring(Some(group));
            let results = Rc::clone(&results);
            h.spawn(async move {
                let r = echo(stream).await;
                results.borrow_mut().push((i, r));
            });
            peer
        } else {
            let (mut stream, peer) = tcp(&h);
            stream.ring(Some(group));
            let results = Rc::clone(&results);
            h.spawn(async move {
                let r = echo(stream).await;
                results.borrow_mut().push((i, r));
            });
            peer
        };
        peer.set_nonblocking(true).unwrap();
        peers.push(Echoed {
            peer,
            want: pattern(32 << 10, i),
            sent: 0,
            shut: false,
            got: Vec::new(),
            end: false,
        });
    }
    let mut chunk = vec![0u8; 64 << 10];
    let end = Instant::now() + Duration::from_secs(120);
    while peers.iter().any(|p| !p.end) {
        assert!(Instant::now() < end, "the echoes never end");
        run_for(&reactor, 1);
        for p in &mut peers {
            p.pump(&mut chunk);
        }
    }
    for (i, p) in peers.iter().enumerate() {
        // Read from the socket by read(2): bytes memcheck sees written.
        assert_eq!(p.got.len(), p.want.len(), "peer {i}: the echo's length");
        assert!(p.got == p.want, "peer {i}: the echo differs");
    }
    settle(&reactor, "the echoes' end", || {
        results.borrow().len() == 50 && reactor.in_flight() == 0
    });
    for (i, r) in results.borrow().iter() {
        assert_eq!(r.as_ref().ok(), Some(&(32 << 10)), "echo {i}: {r:?}");
    }
    assert_group_whole(&reactor, group, 4, "after fifty echoes");
}

/// A stream whose reader armed its receive and stopped, while its peer
/// sent more than the ring holds: the receive takes every buffer (no
/// more: the rest waits in the socket) and ends; another stream on the
/// same ring still reads all its bytes (the one-shot way); once the
/// stopped reader gives some buffers back, the other's receive fills
/// exactly those; the stopped reader then reads all of its bytes, in
/// order, and the ring ends whole.
#[test]
fn a_reader_that_stops_holds_at_most_the_ring_and_others_go_on() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (count, len) = (8u16, 64u32);
    let Some(group) = group_or_skip(&h, 1, count, len) else {
        return;
    };
    let ring_bytes = usize::from(count) * len as usize;
    let (mut stopped, mut stopped_peer) = tcp(&h);
    let (mut other, mut other_peer) = unix(&h);
    stopped.ring(Some(group));
    other.ring(Some(group));
    let a = pattern(20 * len as usize, 1);
    stopped_peer.write_all(&a).unwrap();
    wait_unread(
        &reactor,
        stopped.as_fd(),
        a.len(),
        "the stopped reader's bytes",
    );
    assert!(poll_read(&mut stopped, &mut [0u8; 64]).is_pending());
    settle(
        &reactor,
        "the stopped reader's receive filling the ring",
        || reactor.in_flight() == 0,
    );
    assert_eq!(
        unread(stopped.as_fd()),
        a.len() - ring_bytes,
        "the bytes the stopped reader's receive took"
    );
    assert_group_dry(&reactor, group, "held by the stopped reader");

    let b = pattern(10_000, 2);
    other_peer.write_all(&b).unwrap();
    let got = read_exactly(&reactor, &mut other, b.len(), 4096, "the other reader");
    assert_kernel_bytes(&got, &b, "the other reader, on a dry ring");
    assert_eq!(
        unread(stopped.as_fd()),
        a.len() - ring_bytes,
        "the stopped reader took more"
    );
    assert_group_dry(&reactor, group, "still held by the stopped reader");

    // Three buffers back: the other's receive, armed, fills those three.
    let mut got_a = read_exactly(
        &reactor,
        &mut stopped,
        3 * len as usize,
        len as usize,
        "three",
    );
    arm(&reactor, &mut other, "the other reader");
    let c = pattern(3 * len as usize, 3);
    other_peer.write_all(&c).unwrap();
    wait_unread(
        &reactor,
        other.as_fd(),
        0,
        "the other reader's three buffers",
    );
    assert_group_dry(&reactor, group, "three buffers taken by the other");
    let got = read_exactly(&reactor, &mut other, c.len(), 4096, "the other reader");
    assert_kernel_bytes(&got, &c, "the other reader, through the ring");

    let rest = a.len() - got_a.len();
    got_a.extend(read_exactly(
        &reactor,
        &mut stopped,
        rest,
        1000,
        "the stopped reader",
    ));
    assert_kernel_bytes(&got_a, &a, "the stopped reader, resumed");
    let inos = [inode(stopped.as_fd()), inode(other.as_fd())];
    drop((stopped, other));
    settle(&reactor, "the readers' drop", || {
        reactor.in_flight() == 0 && !inos.into_iter().any(socket_open)
    });
    assert_group_whole(&reactor, group, count, "after the stopped reader");
}

/// A ring of another reactor, whose group this reactor never registered
/// (a `BufGroup` names no reactor): the multishot receive's error is the
/// kernel's (`EINVAL` for a multishot receive from no ring; a kernel that
/// says `ENOBUFS` instead has the read receive the one-shot way), and no
/// byte is lost: without the ring, every byte is read, in order.
#[test]
fn a_group_the_reactor_never_registered_fails_the_read_and_loses_no_byte() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let other = Reactor::new().unwrap();
    let Some(foreign) = group_or_skip(&other.handle(), 9, 4, 64) else {
        return;
    };
    let h = reactor.handle();
    let (mut stream, mut peer) = tcp(&h);
    stream.ring(Some(foreign));
    let want = pattern(100_000, 5);
    let sent = want.clone();
    let writer = std::thread::spawn(move || {
        peer.write_all(&sent).unwrap();
        peer.shutdown(std::net::Shutdown::Write).unwrap();
        peer
    });
    let mut got = Vec::new();
    match read_once(&reactor, &mut stream, 4096) {
        Ok(part) => got.extend(part),
        Err(e) => {
            assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
            // Refused again at every read while the ring is set.
            let r = read_once(&reactor, &mut stream, 4096);
            assert_eq!(errno(&r), Some(libc::EINVAL), "{r:?}");
            stream.ring(None);
        }
    }
    let rest = read_to_end(&reactor, &mut stream).unwrap();
    got.extend(rest);
    drop(writer.join().unwrap());
    assert_kernel_bytes(&got, &want, "through a foreign group");
    drop_and_settle(&reactor, stream, "the stream");
    assert_group_whole(&other, foreign, 4, "the foreign group, untouched");
}

/// Reads on a reactor that has shut down (`Handle::shutdown`) end with an
/// error, ring or no ring, whether the multishot receive was armed when
/// it shut down (the receive's end, then the refusal of a new one) or
/// not: with no ring, the read's refusal; with one, the same.
#[test]
fn reads_on_a_shut_down_reactor_end_with_an_error() {
    uring_tests::in_own_process(
        "reads_on_a_shut_down_reactor_end_with_an_error",
        "a read on a shut-down reactor looping",
        || {
            let reactor = Reactor::new().unwrap();
            let h = reactor.handle();
            let Some(group) = group_or_skip(&h, 1, 4, 64) else {
                return;
            };
            let (mut plain, _plain_peer) = tcp(&h);
            let (mut armed, _armed_peer) = tcp(&h);
            let (mut later, _later_peer) = unix(&h);
            armed.ring(Some(group));
            later.ring(Some(group));
            arm(&reactor, &mut armed, "armed");
            h.shutdown();
            assert!(reactor.is_shut_down());
            let refused = match poll_read(&mut plain, &mut [0u8; 64]) {
                Poll::Ready(Err(e)) => e,
                other => panic!("no ring: {other:?}"),
            };
            // The armed receive was cancelled by the shutdown.
            match poll_read(&mut armed, &mut [0u8; 64]) {
                Poll::Ready(Err(e)) => {
                    assert_eq!(e.raw_os_error(), Some(libc::ECANCELED), "armed: {e}")
                }
                other => panic!("armed: {other:?}"),
            }
            // A new one cannot start: refused as a one-shot read is.
            let again = poll_read(&mut armed, &mut [0u8; 64]);
            let never = poll_read(&mut later, &mut [0u8; 64]);
            for (what, r) in [("armed, again", again), ("never armed", never)] {
                match r {
                    Poll::Ready(Err(e)) => assert_eq!(e.kind(), refused.kind(), "{what}: {e}"),
                    other => panic!("{what}: {other:?}"),
                }
            }
        },
    );
}
