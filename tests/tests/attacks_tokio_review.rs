//! Safe code against the seams of the tokio traits of `uring::net`'s
//! streams (`AsyncRead` / `AsyncWrite` over the reactor) with the rest of
//! the stream's API:
//!
//! - the stream's own write-side methods (`write`, `write_all`,
//!   `send_with_fds`, `shutdown`) used while a send `poll_write` queued is
//!   still in flight: the bytes `poll_write` reported written must stay
//!   ahead of theirs, and must not be cut by their shutdown;
//! - walks of `poll_write`, `poll_flush`, `poll_shutdown`, peer reads,
//!   reactor rounds, write deadlines, `Handle::shutdown` and the stream's
//!   drop, in random orders: what reaches the peer is always a prefix of
//!   what was reported written, in order, and all of it unless an error
//!   was reported or the reactor shut down;
//! - the read side driven entirely from inside the wakes of its own
//!   receives, with the read deadline moved at every wake, ending with the
//!   stream dropped from inside a wake;
//! - one stream written and read at once through `poll_write` and
//!   `poll_read` under a tokio runtime's driver, both deadlines moved at
//!   every poll.
//!
//! Each test asserts what really happened on the wire (the peer's bytes,
//! in order, each once), the errors, the ops left in flight and the
//! sockets left open. Bytes only the kernel wrote into memory are
//! compared with `assert_kernel_bytes` (valgrind's memcheck cannot see
//! those writes).

use std::cell::RefCell;
use std::future::Future;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use uring::net::{TcpStream, UnixStream};
use uring::reactor::{Handle, Reactor};
use uring_tests::net::peer::{
    Peer, drain, drain_to_end, fill_send_side, inode, sent_part, socket_open, tcp, unix, write_now,
};
use uring_tests::net::{ON_WAKE, Reenter};
use uring_tests::net::{assert_kernel_bytes, noop_cx, runtime};
use uring_tests::{Rng, pattern, poll_once, run_for, set_int_option, watchdog};

// ---------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------

/// A stream op's future, borrowing the stream.
type Plain<'s, T> = Pin<Box<dyn Future<Output = io::Result<T>> + 's>>;

/// The two stream types with tokio's traits.
trait Stream: AsyncWrite + AsyncRead + AsFd + Unpin + 'static {
    /// `set_write_deadline`.
    fn write_by(&mut self, deadline: Option<Instant>);
    /// `set_read_deadline`.
    fn read_by(&mut self, deadline: Option<Instant>);
    /// The stream's own `write_all`: the bytes it took, all of them.
    fn plain_write_all(&self, data: Vec<u8>) -> Plain<'_, usize>;
    /// The stream's own `shutdown`.
    fn plain_shutdown(&self, how: std::net::Shutdown) -> Plain<'_, ()>;
}

/// The same forwarding for both stream types.
macro_rules! stream {
    ($($ty:ty),*) => {$(
        impl Stream for $ty {
            fn write_by(&mut self, deadline: Option<Instant>) {
                self.set_write_deadline(deadline);
            }
            fn read_by(&mut self, deadline: Option<Instant>) {
                self.set_read_deadline(deadline);
            }
            fn plain_write_all(&self, data: Vec<u8>) -> Plain<'_, usize> {
                Box::pin(async move {
                    let (r, data) = self.write_all(data).await;
                    r.map(|()| data.len())
                })
            }
            fn plain_shutdown(&self, how: std::net::Shutdown) -> Plain<'_, ()> {
                Box::pin(self.shutdown(how))
            }
        }
    )*};
}

stream!(TcpStream, UnixStream);

/// Where `sent` first differs from `want`, as a message; `None` if it is
/// `want` exactly.
fn difference(sent: &[u8], want: &[u8]) -> Option<String> {
    if let Some(at) = sent.iter().zip(want).position(|(a, b)| a != b) {
        return Some(format!(
            "the wire differs from what was written at byte {at} of {} ({} on the wire)",
            want.len(),
            sent.len()
        ));
    }
    (sent.len() != want.len())
        .then(|| format!("{} bytes on the wire, {} written", sent.len(), want.len()))
}

/// Runs the reactor (unless it has shut down) until nothing is in flight
/// and the socket of inode `ino` is closed, or 10 s have passed (the
/// caller's assertions then say what is left).
fn settle(reactor: &Reactor, ino: u64) {
    let end = Instant::now() + Duration::from_secs(10);
    while !reactor.is_shut_down()
        && (reactor.in_flight() != 0 || socket_open(ino))
        && Instant::now() < end
    {
        run_for(reactor, 2);
    }
}

/// Polls `poll_flush` (draining the peer between polls, so that the
/// socket has room) until it is ready; its result.
fn flush_draining<S: Stream>(
    reactor: &Reactor,
    stream: &mut S,
    peer: &mut Peer,
    got: &mut Vec<u8>,
) -> io::Result<()> {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        if let Poll::Ready(r) = Pin::new(&mut *stream).poll_flush(&mut noop_cx()) {
            return r;
        }
        drain(peer, got);
        assert!(Instant::now() < end, "the flush never ends");
        run_for(reactor, 2);
    }
}

// ---------------------------------------------------------------------------
// The stream's own write-side methods behind `poll_write`
// ---------------------------------------------------------------------------

/// Drives `op`, a stream method's future, to its end: polled once, the
/// queued op submitted and given a few milliseconds to reach the socket
/// before the peer reads anything (so that it waits behind the send in
/// flight), then polled between peer reads and reactor rounds; its
/// result.
fn drive_draining<T>(
    reactor: &Reactor,
    mut op: Plain<'_, T>,
    peer: &mut Peer,
    got: &mut Vec<u8>,
    what: &str,
) -> io::Result<T> {
    if let Poll::Ready(r) = poll_once(&mut op) {
        return r;
    }
    reactor.submit().unwrap();
    run_for(reactor, 5);
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        if let Poll::Ready(r) = poll_once(&mut op) {
            return r;
        }
        drain(peer, got);
        assert!(Instant::now() < end, "{what}: the op never ends");
        run_for(reactor, 2);
    }
}

/// `poll_write` takes `a` (reported written: its send is queued behind the
/// caller, here on a socket whose send side is full), then one of the
/// stream's own writes (`write`, `write_all`, `send_with_fds`) sends `b`
/// while that send still waits. The stream is one byte stream, and a send
/// started now would overtake `a` (the kernel wakes the sends waiting on a
/// socket newest first): the second write refuses to start
/// (`ResourceBusy`, as the receives refuse to overtake `AsyncRead`), and
/// the peer reads `a` alone, whole and once.
fn plain_write_behind_poll_write<S: Stream>(
    make: fn(&Handle) -> (S, Peer),
    plain: for<'s> fn(&'s S, Vec<u8>) -> Plain<'s, usize>,
    what: &str,
) -> Option<String> {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (mut stream, mut peer) = make(&h);
    let (filler, filled) = fill_send_side(stream.as_fd());
    let a = pattern(200_000, 1);
    let b = pattern(40_000, 2);
    write_now(&mut stream, &a, what);
    reactor.submit().unwrap();
    run_for(&reactor, 5);
    let mut got = Vec::new();
    let second = drive_draining(
        &reactor,
        plain(&stream, b.clone()),
        &mut peer,
        &mut got,
        what,
    );
    let flushed = flush_draining(&reactor, &mut stream, &mut peer, &mut got);
    assert!(flushed.is_ok(), "{what}: the flush: {flushed:?}");
    drop((stream, filler));
    got.extend(drain_to_end(&reactor, &mut peer, Duration::from_secs(20)));
    assert_eq!(h.in_flight(), 0, "{what}");
    let sent = sent_part(&got, filled, what);
    let want = match &second {
        Ok(n) => [&a[..], &b[..*n]].concat(),
        Err(_) => a,
    };
    let refused = matches!(&second, Err(e) if e.kind() == io::ErrorKind::ResourceBusy);
    let wrong = difference(sent, &want).or_else(|| {
        (!refused).then(|| "the second write was not refused with ResourceBusy".to_string())
    });
    wrong.map(|d| {
        // Where the second write's first bytes went.
        let at = sent.windows(64).position(|w| w == &b[..64]);
        format!("{what} (second write: {second:?}, its first bytes at {at:?}): {d}")
    })
}

#[test]
fn plain_writes_stay_behind_the_bytes_poll_write_reported_written() {
    let _watch = watchdog();
    let mut failures = Vec::new();
    failures.extend(plain_write_behind_poll_write(
        tcp,
        |s, data| s.plain_write_all(data),
        "tcp write_all",
    ));
    failures.extend(plain_write_behind_poll_write(
        tcp,
        |s, data| {
            Box::pin(async move {
                let (r, _) = s.write(data).await;
                r
            })
        },
        "tcp write",
    ));
    failures.extend(plain_write_behind_poll_write(
        unix,
        |s, data| s.plain_write_all(data),
        "unix write_all",
    ));
    failures.extend(plain_write_behind_poll_write(
        unix,
        |s, data| {
            Box::pin(async move {
                let (r, _, _) = s.send_with_fds(data, Vec::new()).await;
                r
            })
        },
        "unix send_with_fds",
    ));
    assert!(failures.is_empty(), "{failures:#?}");
}

/// `poll_write` takes `a` (its send waits on a full socket), then the
/// stream's own `shutdown` of the writing half (or of both) runs while
/// that send waits; the stream is then flushed, or dropped at once.
/// `poll_shutdown` waits for the send first; the plain shutdown must not
/// cut the bytes reported written either: it refuses to run while the send
/// is in flight (`ResourceBusy`), the peer reads all of `a`, and a flush
/// reports no error for them.
fn plain_shutdown_behind_poll_write<S: Stream>(
    make: fn(&Handle) -> (S, Peer),
    how: std::net::Shutdown,
    flush: bool,
    what: &str,
) -> Option<String> {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (mut stream, mut peer) = make(&h);
    let (filler, filled) = fill_send_side(stream.as_fd());
    let a = pattern(100_000, 3);
    write_now(&mut stream, &a, what);
    reactor.submit().unwrap();
    run_for(&reactor, 5);
    let mut got = Vec::new();
    let shut = drive_draining(
        &reactor,
        stream.plain_shutdown(how),
        &mut peer,
        &mut got,
        what,
    );
    // Flushed, or dropped at once: its send then ends in its callback,
    // which reports nothing to anyone.
    let flushed = if flush {
        flush_draining(&reactor, &mut stream, &mut peer, &mut got)
    } else {
        Ok(())
    };
    drop((stream, filler));
    got.extend(drain_to_end(&reactor, &mut peer, Duration::from_secs(20)));
    assert_eq!(h.in_flight(), 0, "{what}");
    let sent = sent_part(&got, filled, what);
    let mut wrong = Vec::new();
    if let Err(e) = &flushed {
        wrong.push(format!("the flush: {e}"));
    }
    wrong.extend(difference(sent, &a));
    if !matches!(&shut, Err(e) if e.kind() == io::ErrorKind::ResourceBusy) {
        wrong.push("the shutdown was not refused with ResourceBusy".to_string());
    }
    (!wrong.is_empty()).then(|| format!("{what} (the shutdown: {shut:?}): {}", wrong.join("; ")))
}

#[test]
fn a_plain_shutdown_does_not_cut_the_bytes_poll_write_reported_written() {
    let _watch = watchdog();
    let mut failures = Vec::new();
    for how in [std::net::Shutdown::Write, std::net::Shutdown::Both] {
        for flush in [true, false] {
            let then = if flush { "flushed" } else { "dropped" };
            failures.extend(plain_shutdown_behind_poll_write(
                tcp,
                how,
                flush,
                &format!("tcp {how:?}, {then}"),
            ));
            failures.extend(plain_shutdown_behind_poll_write(
                unix,
                how,
                flush,
                &format!("unix {how:?}, {then}"),
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

// ---------------------------------------------------------------------------
// Walks of the write side in every order
// ---------------------------------------------------------------------------

/// One step of a walk over a stream's write side.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// `poll_write` of the next chunk.
    Write,
    /// `poll_flush`.
    Flush,
    /// `poll_shutdown`.
    Shutdown,
    /// `poll_read` (the peer never writes: it stays in flight).
    Read,
    /// The peer reads what it holds.
    Drain,
    /// A reactor round of 2 ms.
    Run,
    /// The write deadline 60 s away.
    DeadlineFar,
    /// No write deadline.
    DeadlineNone,
    /// The write deadline now (passed).
    DeadlinePast,
    /// The write deadline 1 ms away (it may cut a send).
    DeadlineSoon,
    /// `Handle::shutdown`.
    ReactorShutdown,
    /// The stream's drop, which ends the walk.
    Drop,
}

/// The steps a walk picks from, each as often as it appears: writes the
/// most; a deadline that can cut a send and the reactor's shutdown only
/// in some walks (`cut`, `gone`), so that most walks must deliver every
/// byte.
fn steps(cut: bool, gone: bool) -> Vec<Step> {
    let mut steps = vec![
        Step::Write,
        Step::Write,
        Step::Write,
        Step::Write,
        Step::Flush,
        Step::Flush,
        Step::Shutdown,
        Step::Read,
        Step::Drain,
        Step::Drain,
        Step::Run,
        Step::Run,
        Step::DeadlineFar,
        Step::DeadlineNone,
        Step::Drop,
    ];
    if cut {
        steps.extend([Step::DeadlinePast, Step::DeadlineSoon]);
    }
    if gone {
        steps.push(Step::ReactorShutdown);
    }
    steps
}

/// What a walk saw happen.
#[derive(Default)]
struct Seen {
    /// The bytes `poll_write` reported written, in order.
    reported: Vec<u8>,
    /// What the peer read.
    got: Vec<u8>,
    /// A deadline that may have cut a send was set.
    deadline_cut: bool,
    /// The reactor was shut down.
    reactor_gone: bool,
    /// An error was reported (the peer then reads a prefix of the bytes
    /// reported written).
    erred: bool,
    /// `poll_shutdown` was called: no more writes (their bytes would meet
    /// a shut socket).
    shut: bool,
}

impl Seen {
    /// An error a step reported: one the walk may see (a deadline's, the
    /// reactor's shutdown's), or a failure.
    fn error(&mut self, step: Step, e: &io::Error, failures: &mut Vec<String>) {
        self.erred = true;
        let deadline = e.kind() == io::ErrorKind::TimedOut && self.deadline_cut;
        if !(deadline || self.reactor_gone) {
            failures.push(format!("{step:?}: {e} ({:?})", e.raw_os_error()));
        }
    }
}

/// A walk of `len` steps over a stream whose socket has small buffers
/// (sends wait for the peer), chosen by `rng`; appends what went wrong.
fn walk<S: Stream>(
    make: fn(&Handle) -> (S, Peer),
    rng: &mut Rng,
    len: usize,
    what: &str,
    failures: &mut Vec<String>,
) {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (stream, mut peer) = make(&h);
    set_int_option(stream.as_fd(), libc::SOL_SOCKET, libc::SO_SNDBUF, 4096).unwrap();
    set_int_option(peer.as_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF, 4096).unwrap();
    let ino = inode(stream.as_fd());
    let mut stream = Some(stream);
    let mut seen = Seen::default();
    let mut log = Vec::new();
    let mut seed = 0u8;
    let mut errors = Vec::new();
    let choices = steps(rng.below(3) == 0, rng.below(4) == 0);
    for _ in 0..len {
        let step = choices[rng.below(choices.len() as u64) as usize];
        log.push(step);
        let Some(s) = stream.as_mut() else { break };
        match step {
            Step::Write if !seen.shut => {
                seed = seed.wrapping_add(1);
                let chunk = pattern(1 + rng.below(20_000) as usize, seed);
                match Pin::new(&mut *s).poll_write(&mut noop_cx(), &chunk) {
                    Poll::Ready(Ok(n)) => seen.reported.extend_from_slice(&chunk[..n]),
                    Poll::Ready(Err(e)) => seen.error(step, &e, &mut errors),
                    Poll::Pending => {}
                }
            }
            Step::Write => {}
            Step::Flush => {
                if let Poll::Ready(Err(e)) = Pin::new(&mut *s).poll_flush(&mut noop_cx()) {
                    seen.error(step, &e, &mut errors);
                }
            }
            Step::Shutdown => {
                seen.shut = true;
                if let Poll::Ready(Err(e)) = Pin::new(&mut *s).poll_shutdown(&mut noop_cx()) {
                    seen.error(step, &e, &mut errors);
                }
            }
            Step::Read => {
                let mut buf = [0u8; 16];
                let mut rb = ReadBuf::new(&mut buf);
                match Pin::new(&mut *s).poll_read(&mut noop_cx(), &mut rb) {
                    Poll::Pending => {}
                    Poll::Ready(Err(e)) if seen.reactor_gone => drop(e),
                    other => errors.push(format!("a read of a silent peer: {other:?}")),
                }
            }
            Step::Drain => {
                // The end of the stream only after a shutdown.
                if drain(&mut peer, &mut seen.got) && !seen.shut {
                    errors.push("the end of the stream while it lives".into());
                }
            }
            Step::Run => {
                if !seen.reactor_gone {
                    run_for(&reactor, 2);
                }
            }
            Step::DeadlineFar => s.write_by(Some(Instant::now() + Duration::from_secs(60))),
            Step::DeadlineNone => s.write_by(None),
            Step::DeadlinePast => {
                seen.deadline_cut = true;
                s.write_by(Some(Instant::now()));
            }
            Step::DeadlineSoon => {
                seen.deadline_cut = true;
                s.write_by(Some(Instant::now() + Duration::from_millis(1)));
            }
            Step::ReactorShutdown => {
                seen.reactor_gone = true;
                h.shutdown();
            }
            Step::Drop => drop(stream.take()),
        }
    }
    drop(stream);
    seen.got
        .extend(drain_to_end(&reactor, &mut peer, Duration::from_secs(20)));
    settle(&reactor, ino);
    let case = format!("{what} {log:?}");
    if h.in_flight() != 0 {
        errors.push(format!("{} ops left in flight", h.in_flight()));
    }
    if socket_open(ino) {
        errors.push("the socket is still open".into());
    }
    let exact = !(seen.deadline_cut || seen.reactor_gone || seen.erred);
    match difference(&seen.got, &seen.reported) {
        // Everything reported written, once, in order.
        None => {}
        Some(d) if exact => errors.push(d),
        // A prefix of it, where an error, a deadline or the reactor's
        // shutdown may have cut the rest.
        Some(d)
            if seen.got.len() > seen.reported.len() || !seen.reported.starts_with(&seen.got) =>
        {
            errors.push(d);
        }
        Some(_) => {}
    }
    failures.extend(errors.into_iter().map(|e| format!("{case}: {e}")));
}

/// Random walks of `poll_write`, `poll_flush`, `poll_shutdown`, a pending
/// `poll_read`, peer reads, reactor rounds, write deadlines (far, none,
/// passed, about to pass), `Handle::shutdown` and the stream's drop, on
/// TCP and Unix streams whose small buffers keep sends waiting: the peer
/// reads a prefix of the bytes reported written, in order, each once, and
/// all of them unless an error was reported, a deadline could cut them or
/// the reactor shut down; errors are a deadline's `TimedOut` or the
/// reactor's shutdown's; nothing is left in flight, and the socket is
/// closed once the stream and its sends are gone.
#[test]
fn write_side_walks_in_every_order_deliver_a_prefix_of_what_was_reported() {
    let _watch = watchdog();
    let walks = if uring_tests::under_valgrind() {
        12
    } else {
        80
    };
    let mut failures = Vec::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..walks {
        walk(tcp, &mut rng, 14, &format!("tcp walk {i}"), &mut failures);
        walk(unix, &mut rng, 14, &format!("unix walk {i}"), &mut failures);
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

// ---------------------------------------------------------------------------
// The read side from inside its own wakes
// ---------------------------------------------------------------------------

/// The read loop of a stream run entirely from inside wakes: the waker
/// `poll_read` leaves with the stream's receive is woken by the reactor
/// when the receive completes, and reads again from inside `wake`, in
/// pieces of 700 bytes (the rest waits in the stream's buffer), moving
/// the read deadline (none, 60 s, 90 s away) at every wake, which cancels
/// the receive in flight to start it again under the new one. Once
/// `stop` bytes are read, the wake drops the stream, its buffer holding
/// bytes or a receive in flight. What was read is the start of what the
/// peer sent, in order, each byte once; no error comes up; nothing is
/// left in flight, and the socket is closed.
fn reads_driven_from_inside_wakes<S: Stream>(make: fn(&Handle) -> (S, Peer), what: &str) {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (stream, mut peer) = make(&h);
    let ino = inode(stream.as_fd());
    let chunks: Vec<Vec<u8>> = (0..40)
        .map(|i| pattern(300 + (i * 1237) % 5000, i as u8))
        .collect();
    let want: Vec<u8> = chunks.concat();
    let stop = want.len() - 3000;
    let stream = Rc::new(RefCell::new(Some(stream)));
    let got = Rc::new(RefCell::new(Vec::new()));
    let errors = Rc::new(RefCell::new(Vec::new()));
    let wakes = Rc::new(RefCell::new(0u32));
    {
        let (stream, got, errors, wakes) =
            (stream.clone(), got.clone(), errors.clone(), wakes.clone());
        let waker = Waker::from(Arc::new(Reenter));
        let step = move || {
            let mut k = wakes.borrow_mut();
            *k += 1;
            let deadline = match *k % 3 {
                0 => None,
                1 => Some(Instant::now() + Duration::from_secs(60)),
                _ => Some(Instant::now() + Duration::from_secs(90)),
            };
            drop(k);
            let mut cx = Context::from_waker(&waker);
            let mut slot = stream.borrow_mut();
            let Some(s) = slot.as_mut() else { return };
            s.read_by(deadline);
            loop {
                let mut buf = [0u8; 700];
                let mut rb = ReadBuf::new(&mut buf);
                match Pin::new(&mut *s).poll_read(&mut cx, &mut rb) {
                    Poll::Ready(Ok(())) if rb.filled().is_empty() => {
                        errors
                            .borrow_mut()
                            .push("the end of the stream".to_string());
                        return;
                    }
                    Poll::Ready(Ok(())) => {
                        let mut got = got.borrow_mut();
                        got.extend_from_slice(rb.filled());
                        if got.len() >= stop {
                            // Dropped from inside the wake.
                            drop(slot.take());
                            return;
                        }
                    }
                    Poll::Ready(Err(e)) => {
                        errors
                            .borrow_mut()
                            .push(format!("{e} ({:?})", e.raw_os_error()));
                        return;
                    }
                    Poll::Pending => return,
                }
            }
        };
        ON_WAKE.with(|f| *f.borrow_mut() = Some(Box::new(step)));
    }
    // The first step, outside any wake.
    Waker::from(Arc::new(Reenter)).wake();
    let end = Instant::now() + Duration::from_secs(20);
    for chunk in &chunks {
        peer.write_all(chunk).unwrap();
        run_for(&reactor, 1);
    }
    while stream.borrow().is_some() && errors.borrow().is_empty() {
        assert!(Instant::now() < end, "{what}: the reads never end");
        run_for(&reactor, 2);
    }
    ON_WAKE.with(|f| f.borrow_mut().take());
    assert!(errors.borrow().is_empty(), "{what}: {:?}", errors.borrow());
    let got = got.borrow();
    assert!(got.len() >= stop && got.len() <= want.len(), "{what}");
    assert_kernel_bytes(&got, &want[..got.len()], what);
    assert!(*wakes.borrow() > 2, "{what}: wakes drove the reads");
    settle(&reactor, ino);
    assert_eq!(h.in_flight(), 0, "{what}");
    assert!(!socket_open(ino), "{what}: the socket is still open");
    // The peer sees the end of the stream: nothing holds the socket.
    let mut rest = Vec::new();
    assert!(drain(&mut peer, &mut rest), "{what}: the peer sees no end");
}

#[test]
fn tcp_reads_driven_from_inside_wakes_end_with_a_drop_inside_one() {
    let _watch = watchdog();
    reads_driven_from_inside_wakes(tcp, "tcp");
}

#[test]
fn unix_reads_driven_from_inside_wakes_end_with_a_drop_inside_one() {
    let _watch = watchdog();
    reads_driven_from_inside_wakes(unix, "unix");
}

// ---------------------------------------------------------------------------
// Both directions at once under tokio's driver
// ---------------------------------------------------------------------------

/// Writes `out` through `poll_write` (in chunks of 1 to 64 KiB, then
/// `poll_shutdown`) while reading through `poll_read` (into buffers of 1
/// to 20 000 bytes) until the end of the stream, both in one future over
/// one stream, both deadlines moved (none, 60 s, 90 s away, or kept) at
/// every poll; what it read.
async fn duplex<S: Stream>(stream: &mut S, out: Vec<u8>, mut rng: Rng) -> Vec<u8> {
    let mut sent = 0;
    let mut shut = false;
    let mut eof = false;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 20_000];
    std::future::poll_fn(|cx| {
        let far = |rng: &mut Rng| match rng.below(4) {
            0 => Some(None),
            1 => Some(Some(Instant::now() + Duration::from_secs(60))),
            2 => Some(Some(Instant::now() + Duration::from_secs(90))),
            _ => None,
        };
        if let Some(d) = far(&mut rng) {
            stream.write_by(d);
        }
        if let Some(d) = far(&mut rng) {
            stream.read_by(d);
        }
        while !shut {
            if sent < out.len() {
                let n = (1 + rng.below(64 << 10) as usize).min(out.len() - sent);
                match Pin::new(&mut *stream).poll_write(cx, &out[sent..sent + n]) {
                    Poll::Ready(Ok(n)) => sent += n,
                    Poll::Ready(Err(e)) => panic!("a write: {e} ({:?})", e.raw_os_error()),
                    Poll::Pending => break,
                }
            } else {
                match Pin::new(&mut *stream).poll_shutdown(cx) {
                    Poll::Ready(Ok(())) => shut = true,
                    Poll::Ready(Err(e)) => panic!("the shutdown: {e} ({:?})", e.raw_os_error()),
                    Poll::Pending => break,
                }
            }
        }
        while !eof {
            let len = 1 + rng.below(buf.len() as u64) as usize;
            let mut rb = ReadBuf::new(&mut buf[..len]);
            match Pin::new(&mut *stream).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) if rb.filled().is_empty() => eof = true,
                Poll::Ready(Ok(())) => got.extend_from_slice(rb.filled()),
                Poll::Ready(Err(e)) => panic!("a read: {e} ({:?})", e.raw_os_error()),
                Poll::Pending => break,
            }
        }
        if shut && eof {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    got
}

/// Two reactor streams connected to each other, each written and read at
/// once (by [`duplex`]) from a task of a current-thread runtime that
/// drives the reactor (`into_tokio`), both deadlines of both moved at
/// every poll: each reads what the other wrote, whole, in order, then
/// the end of the stream; no error comes up, and nothing is left in
/// flight.
fn duplex_under_tokio<S: Stream>(make: fn(&Handle) -> (S, S), what: &str) {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let rt = runtime();
    let local = tokio::task::LocalSet::new();
    let len = if uring_tests::under_valgrind() {
        200_000
    } else {
        1 << 20
    };
    let (x, y) = (pattern(len, 5), pattern(len + 333, 6));
    let (got_x, got_y) = local.block_on(&rt, async {
        tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let (mut a, mut b) = make(&h);
        let one = tokio::task::spawn_local({
            let x = x.clone();
            async move { duplex(&mut a, x, Rng(17)).await }
        });
        let other = tokio::task::spawn_local({
            let y = y.clone();
            async move { duplex(&mut b, y, Rng(29)).await }
        });
        (one.await.unwrap(), other.await.unwrap())
    });
    assert_kernel_bytes(&got_y, &x, &format!("{what}: what the second read"));
    assert_kernel_bytes(&got_x, &y, &format!("{what}: what the first read"));
    assert_eq!(h.in_flight(), 0, "{what}");
    drop(local);
    drop(rt);
    assert!(h.is_shut_down(), "{what}");
}

#[test]
fn tcp_streams_written_and_read_at_once_under_tokio_with_deadlines_moved_at_every_poll() {
    let _watch = watchdog();
    duplex_under_tokio(
        |h| {
            let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
            let listener = std::net::TcpListener::bind(any).unwrap();
            let c = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (s, _) = listener.accept().unwrap();
            (TcpStream::from_std(h, c), TcpStream::from_std(h, s))
        },
        "tcp",
    );
}

#[test]
fn unix_streams_written_and_read_at_once_under_tokio_with_deadlines_moved_at_every_poll() {
    let _watch = watchdog();
    duplex_under_tokio(|h| UnixStream::pair(h).unwrap(), "unix");
}
