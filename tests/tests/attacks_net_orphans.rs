//! Safe code against the sends `uring::net` leaves behind a stream written
//! through tokio's `AsyncWrite`: `poll_write` copies the bytes and queues
//! a send with a callback, and a stream dropped with its send in flight
//! leaves it to that callback, which sends on what is left (the rest of a
//! short send, all of one cancelled to start again under a new deadline).
//! The attacks: wakers that re-enter the reactor when the stream drops
//! them, wakers that poll or drop the stream from inside `wake`, streams
//! dropped from other ops' callbacks; deadlines moved into the past under
//! a send that is started again or whose rest is sent, and set or moved
//! earlier right before the drop; `Handle::shutdown` and the reactor's drop
//! with orphaned sends and resends in every state; thousands of streams
//! dropped with sends in flight through a ring of four entries; the same
//! under `Reactor::into_tokio` (a tokio runtime dropped with orphans
//! pending included); peers that reset the connection under an orphaned
//! send; deadlines that go back and forth between the past and the future
//! at every poll; TCP and Unix streams alike.
//!
//! Each test asserts what really happened: the bytes on the wire (every
//! byte reported written once, in order, or a prefix of them where an
//! error says so), the errors, the ops left in flight, the sockets left
//! open (by their inodes in `/proc/self/fd`, or by the exact count of
//! descriptors in a process of its own).

use std::cell::RefCell;
use std::io::{self, Read as _};
use std::os::fd::AsFd;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite};
use uring::net::{TcpStream, UnixStream};
use uring::reactor::{Handle, Reactor};
use uring_tests::net::noop_cx;
use uring_tests::net::peer::{
    Peer, drain, drain_some, drain_to_end, fill_send_side, inode, open_fds, sent_part, socket_open,
    tcp, unix, write_now,
};
use uring_tests::net::runtime;
use uring_tests::net::{ON_WAKE, Reenter};
use uring_tests::{pattern, run_for, set_int_option, skip, under_valgrind, watchdog};

// ---------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------

/// The two stream types with tokio's traits.
trait Stream: AsyncWrite + AsyncRead + AsFd + Unpin + 'static {
    /// `set_write_deadline`.
    fn write_by(&mut self, deadline: Option<Instant>);
}

impl Stream for TcpStream {
    fn write_by(&mut self, deadline: Option<Instant>) {
        self.set_write_deadline(deadline);
    }
}

impl Stream for UnixStream {
    fn write_by(&mut self, deadline: Option<Instant>) {
        self.set_write_deadline(deadline);
    }
}

/// `sent` is a prefix of `data`.
fn assert_prefix(sent: &[u8], data: &[u8], what: &str) {
    assert!(
        sent.len() <= data.len(),
        "{what}: {} bytes on the wire, {} written",
        sent.len(),
        data.len()
    );
    if let Some(at) = sent.iter().zip(data).position(|(a, b)| a != b) {
        panic!("{what}: the wire differs from what was written at byte {at}");
    }
}

// ---------------------------------------------------------------------------
// Wakers that re-enter
// ---------------------------------------------------------------------------

thread_local! {
    /// What the next drop of an [`OnDrop`] waker runs.
    static ON_DROP: RefCell<Option<Box<dyn FnOnce()>>> = RefCell::new(None);
}

/// A waker whose last drop runs what [`ON_DROP`] holds (once).
struct OnDrop;

impl Wake for OnDrop {
    fn wake(self: Arc<Self>) {}
}

impl Drop for OnDrop {
    fn drop(&mut self) {
        if let Some(f) = ON_DROP.with(|f| f.borrow_mut().take()) {
            f();
        }
    }
}

/// A stream whose send waits on a full socket, polled once by `poll_flush`
/// with an [`OnDrop`] waker (which the send's state then holds, the only
/// reference left); the reactor, its handle, the stream, its peer and the
/// filler.
fn stream_holding_an_on_drop_waker() -> (Reactor, Handle, TcpStream, Peer, Peer) {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (mut stream, peer) = tcp(&h);
    let (filler, _) = fill_send_side(stream.as_fd());
    write_now(&mut stream, &pattern(3000, 1), "the write");
    reactor.submit().unwrap();
    run_for(&reactor, 5);
    let waker = Waker::from(Arc::new(OnDrop));
    assert!(
        Pin::new(&mut stream)
            .poll_flush(&mut Context::from_waker(&waker))
            .is_pending(),
        "the send cannot end: the socket is full"
    );
    drop(waker);
    (reactor, h, stream, peer, filler)
}

/// A waker is the program's code (the reactor drops its own only with its
/// core released). The send's state holds the waker of the last
/// `poll_flush`: when the stream is dropped (`Sending::orphan`, which
/// clears it) or polled with another waker (`Sending::poll`, which
/// replaces it), that waker's last drop may shut the reactor down, which
/// cancels the send and runs its callback (`sent`) on the spot: the
/// shutdown ends the send (nothing in flight, no panic), the state the
/// callback borrows being released before any waker is dropped.
#[test]
fn a_waker_dropped_by_the_stream_may_shut_the_reactor_down() {
    let _watch = watchdog();
    let mut failures = Vec::new();
    for case in ["the stream dropped", "the stream polled with another waker"] {
        let (reactor, h, mut stream, _peer, _filler) = stream_holding_an_on_drop_waker();
        let hh = h.clone();
        ON_DROP.with(|f| *f.borrow_mut() = Some(Box::new(move || hh.shutdown())));
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            if case == "the stream dropped" {
                drop(stream);
            } else {
                let _ = Pin::new(&mut stream).poll_flush(&mut noop_cx());
                drop(stream);
            }
        }));
        ON_DROP.with(|f| f.borrow_mut().take());
        assert!(h.is_shut_down(), "{case}: the waker's drop shut it down");
        assert_eq!(h.in_flight(), 0, "{case}");
        if let Err(panic) = outcome {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{case}: panicked: {msg}"));
        }
        drop(reactor);
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The write loop of a stream run entirely from inside wakes: the waker
/// that `poll_write` / `poll_flush` leave with the send is woken by the
/// send's callback, and polls the stream again from inside `wake` (the
/// next write queues its send from inside the callback); once the last
/// bytes are taken the wake drops the stream, its send still in flight.
/// The peer must read every byte once, in order, then the end of the
/// stream; nothing is left in flight, and the socket is closed.
fn writes_driven_from_inside_wakes<S: Stream>(make: fn(&Handle) -> (S, Peer), what: &str) {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (stream, mut peer) = make(&h);
    set_int_option(stream.as_fd(), libc::SOL_SOCKET, libc::SO_SNDBUF, 4096).unwrap();
    let ino = inode(stream.as_fd());
    let chunks: Vec<Vec<u8>> = (0..60)
        .map(|i| pattern(500 + (i * 977) % 9000, i as u8))
        .collect();
    let want: Vec<u8> = chunks.concat();
    let stream = Rc::new(RefCell::new(Some(stream)));
    let next = Rc::new(RefCell::new(0usize));
    let wakes = Rc::new(RefCell::new(0u32));
    {
        let (stream, next, wakes) = (stream.clone(), next.clone(), wakes.clone());
        let waker = Waker::from(Arc::new(Reenter));
        let step = move || {
            *wakes.borrow_mut() += 1;
            let mut cx = Context::from_waker(&waker);
            let mut slot = stream.borrow_mut();
            let Some(s) = slot.as_mut() else { return };
            loop {
                let i = *next.borrow();
                if i == chunks.len() {
                    // Dropped from inside the wake, the last send in
                    // flight.
                    drop(slot.take());
                    return;
                }
                match Pin::new(&mut *s).poll_write(&mut cx, &chunks[i]) {
                    Poll::Ready(Ok(n)) => {
                        assert_eq!(n, chunks[i].len());
                        *next.borrow_mut() += 1;
                    }
                    Poll::Ready(Err(e)) => panic!("write {i}: {e}"),
                    Poll::Pending => return,
                }
            }
        };
        ON_WAKE.with(|f| *f.borrow_mut() = Some(Box::new(step)));
    }
    // The first step, outside any wake.
    Waker::from(Arc::new(Reenter)).wake();
    let got = drain_to_end(&reactor, &mut peer, Duration::from_secs(20));
    ON_WAKE.with(|f| f.borrow_mut().take());
    assert!(stream.borrow().is_none(), "{what}: the wake dropped it");
    assert_eq!(*next.borrow(), 60, "{what}");
    assert!(*wakes.borrow() > 2, "{what}: wakes drove the writes");
    assert_eq!(got.len(), want.len(), "{what}: bytes on the wire");
    assert_prefix(&got, &want, what);
    run_for(&reactor, 5);
    assert_eq!(h.in_flight(), 0, "{what}");
    assert!(!socket_open(ino), "{what}: the socket is still open");
}

#[test]
fn tcp_writes_driven_from_inside_wakes_end_with_a_drop_inside_one() {
    let _watch = watchdog();
    writes_driven_from_inside_wakes(tcp, "tcp");
}

#[test]
fn unix_writes_driven_from_inside_wakes_end_with_a_drop_inside_one() {
    let _watch = watchdog();
    writes_driven_from_inside_wakes(unix, "unix");
}

/// Streams dropped from inside another op's callback (a timer's), one with
/// its send waiting on a full socket, one whose send was just cancelled to
/// start again under a new deadline (the cancel still queued), one whose
/// cancel has landed: each peer gets every byte reported written, then
/// the end of the stream; nothing is left in flight.
#[test]
fn streams_dropped_from_inside_a_timer_s_callback_deliver_what_they_reported() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let mut cases = Vec::new();
    for (i, what) in ["waiting", "cancel queued", "cancel landed"]
        .into_iter()
        .enumerate()
    {
        let (mut stream, peer) = unix(&h);
        let (filler, filled) = fill_send_side(stream.as_fd());
        let data = pattern(20_000, 3 + i as u8);
        stream.write_by(Some(Instant::now() + Duration::from_secs(60)));
        write_now(&mut stream, &data, what);
        reactor.submit().unwrap();
        run_for(&reactor, 5);
        if i > 0 {
            stream.write_by(Some(Instant::now() + Duration::from_secs(90)));
            assert!(
                Pin::new(&mut stream)
                    .poll_flush(&mut noop_cx())
                    .is_pending()
            );
            if i == 2 {
                run_for(&reactor, 10);
            }
        }
        let fired = Rc::new(RefCell::new(false));
        let f = fired.clone();
        let mut held = Some(stream);
        h.queue(
            uring::reactor::ops::Timeout::new(Duration::from_millis(1)),
            move |_, ()| {
                drop(held.take());
                *f.borrow_mut() = true;
            },
        )
        .unwrap();
        cases.push((what, peer, filler, filled, data, fired));
    }
    run_for(&reactor, 20);
    for (what, mut peer, filler, filled, data, fired) in cases {
        assert!(*fired.borrow(), "{what}: the timer fired");
        drop(filler);
        let got = drain_to_end(&reactor, &mut peer, Duration::from_secs(10));
        let sent = sent_part(&got, filled, what);
        assert_eq!(sent.len(), data.len(), "{what}: bytes reported written");
        assert_prefix(sent, &data, what);
    }
    assert_eq!(h.in_flight(), 0);
}

// ---------------------------------------------------------------------------
// Deadlines that have passed when what is left is sent
// ---------------------------------------------------------------------------

/// Polls `poll_flush` (draining the peer between polls, so that the
/// socket has room) until it is ready; its result and what the peer read.
fn flush_draining<S: Stream>(
    reactor: &Reactor,
    stream: &mut S,
    peer: &mut Peer,
    got: &mut Vec<u8>,
) -> io::Result<()> {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        drain(peer, got);
        match Pin::new(&mut *stream).poll_flush(&mut noop_cx()) {
            Poll::Ready(r) => {
                run_for(reactor, 20);
                drain(peer, got);
                return r;
            }
            Poll::Pending => {
                assert!(Instant::now() < end, "the flush still waits");
                run_for(reactor, 5);
            }
        }
    }
}

/// What is left of a send once the write deadline has passed is not sent:
/// `send_again`'s own word is "`TimedOut` at the flush if it has passed",
/// reads check the deadline before they start again, and so does
/// `send_rest` for a dropped stream. Two ways a live stream starts a send
/// after the deadline:
///
/// - restarted: a send waiting on a full socket, its deadline moved into
///   the past; a flush cancels it (nothing sent); the peer then reads,
///   making room; the next flush starts the send again, under the past
///   deadline;
/// - the rest of a short send: a send cut by its own deadline after part
///   of its bytes (`MSG_WAITALL`: the kernel reports the part); the peer
///   then reads; the flush sends the rest under the passed deadline.
///
/// The flush fails with `TimedOut`, and the wire holds only what was sent
/// before the deadline: no send is issued after its deadline (one the
/// socket can take at once would complete before its past link timeout
/// is even armed).
#[test]
fn nothing_is_sent_once_the_write_deadline_has_passed() {
    let _watch = watchdog();
    let mut failures = Vec::new();
    failures.extend(past_deadline_cases(tcp, "tcp"));
    failures.extend(past_deadline_cases(unix, "unix"));
    assert!(failures.is_empty(), "{failures:#?}");
}

fn past_deadline_cases<S: Stream>(make: fn(&Handle) -> (S, Peer), kind: &str) -> Vec<String> {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let mut failures = Vec::new();

    // Restarted under a past deadline.
    let what = format!("{kind}, restarted");
    let (mut stream, mut peer) = make(&h);
    let (_filler, filled) = fill_send_side(stream.as_fd());
    let data = pattern(20_000, 21);
    stream.write_by(Some(Instant::now() + Duration::from_secs(60)));
    write_now(&mut stream, &data, &what);
    reactor.submit().unwrap();
    run_for(&reactor, 5);
    stream.write_by(Some(Instant::now() - Duration::from_millis(1)));
    assert!(
        Pin::new(&mut stream)
            .poll_flush(&mut noop_cx())
            .is_pending()
    );
    // The cancel lands: the send ends with `ECANCELED`, nothing sent.
    run_for(&reactor, 20);
    let mut got = Vec::new();
    drain(&mut peer, &mut got);
    assert_eq!(got.len(), filled, "{what}: nothing sent before the poll");
    let r = flush_draining(&reactor, &mut stream, &mut peer, &mut got);
    let sent = sent_part(&got, filled, &what).len();
    assert_prefix(&got[filled..], &data, &what);
    if !matches!(&r, Err(e) if e.kind() == io::ErrorKind::TimedOut) || sent > 0 {
        failures.push(format!(
            "{what}: the flush after the deadline gave {r:?}, and {sent} of {} bytes \
             went out after the deadline had passed",
            data.len()
        ));
    }
    drop(stream);
    run_for(&reactor, 5);
    assert_eq!(h.in_flight(), 0, "{what}");

    // The rest of a short send.
    let what = format!("{kind}, the rest of a short send");
    let (mut stream, mut peer) = make(&h);
    let (_filler, filled) = fill_send_side(stream.as_fd());
    // Larger than all the socket holds: reading most of that leaves the
    // send part-way.
    let data = pattern((4 << 20).max(2 * filled), 22);
    let deadline = Instant::now() + Duration::from_millis(300);
    stream.write_by(Some(deadline));
    write_now(&mut stream, &data, &what);
    reactor.submit().unwrap();
    run_for(&reactor, 5);
    // Room for part of the send, which takes it and waits again.
    let mut got = Vec::new();
    let _ = drain_some(&mut peer, &mut got, filled / 8 * 7);
    run_for(&reactor, 20);
    let _ = drain_some(&mut peer, &mut got, filled / 4);
    while Instant::now() < deadline + Duration::from_millis(30) {
        run_for(&reactor, 10);
    }
    // The send has ended, cut by its deadline: all it sent is in the
    // socket now.
    drain(&mut peer, &mut got);
    let before = got.len();
    assert!(before > filled, "{what}: the send took part of its bytes");
    assert!(before < filled + data.len(), "{what}: the send was cut");
    let r = flush_draining(&reactor, &mut stream, &mut peer, &mut got);
    assert_prefix(sent_part(&got, filled, &what), &data, &what);
    let after = got.len() - before;
    if !matches!(&r, Err(e) if e.kind() == io::ErrorKind::TimedOut) || after > 0 {
        failures.push(format!(
            "{what}: {} bytes sent before the deadline; the flush after it gave {r:?}, \
             and {after} more bytes went out",
            before - filled
        ));
    }
    drop(stream);
    run_for(&reactor, 5);
    assert_eq!(h.in_flight(), 0, "{what}");
    failures
}

/// A write deadline set, or moved earlier, right before the stream is
/// dropped, with no poll in between, while its send waits on a full
/// socket whose peer reads nothing: the module says a deadline changed
/// while a send is in flight holds for it (go's `SetWriteDeadline` bounds
/// pending writes): the drop cancels the send to start it again under
/// the new deadline, which ends the orphaned send (nothing in flight after
/// it, the socket closed, nothing more on the wire once the peer reads),
/// where a send that started with no deadline (or a later one) would have
/// kept running, its socket open, for as long as the peer read nothing.
/// (A lifted deadline,
/// the other half, is
/// `a_deadline_changed_unpolled_before_the_drop_still_governs_the_send`
/// in attacks_deadlines_bundles_resizes.rs. Unix streams: a full one
/// stays full while its peer reads nothing, where TCP's windows grow.)
#[test]
fn a_write_deadline_set_right_before_the_drop_bounds_the_orphaned_send() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let mut failures = Vec::new();
    let soon = || Some(Instant::now() + Duration::from_millis(50));
    // (What, the deadline at the write.)
    type Case = (&'static str, fn() -> Option<Instant>);
    let cases: [Case; 2] = [
        ("set", || None),
        ("moved earlier", || {
            Some(Instant::now() + Duration::from_secs(60))
        }),
    ];
    for (what, before) in cases {
        let (mut stream, mut peer) = unix(&h);
        let ino = inode(stream.as_fd());
        let (filler, filled) = fill_send_side(stream.as_fd());
        let data = pattern(30_000, 31);
        stream.write_by(before());
        write_now(&mut stream, &data, what);
        reactor.submit().unwrap();
        run_for(&reactor, 5);
        assert!(
            Pin::new(&mut stream)
                .poll_flush(&mut noop_cx())
                .is_pending()
        );
        stream.write_by(soon());
        drop(stream);
        drop(filler);
        // Past the new deadline, the peer reading nothing.
        run_for(&reactor, 300);
        let left = h.in_flight();
        let open = socket_open(ino);
        // Then the peer reads: an orphaned send still running delivers.
        let got = drain_to_end(&reactor, &mut peer, Duration::from_secs(10));
        let sent = sent_part(&got, filled, what);
        assert_prefix(sent, &data, what);
        if left != 0 || open || !sent.is_empty() {
            failures.push(format!(
                "{what}: 250 ms past the deadline set before the drop, {left} op(s) in \
                 flight, the socket open: {open}; once the peer read, {} of {} bytes \
                 arrived (sent after the deadline)",
                sent.len(),
                data.len()
            ));
        }
    }
    assert_eq!(h.in_flight(), 0);
    assert!(failures.is_empty(), "{failures:#?}");
}

// ---------------------------------------------------------------------------
// Shutdowns with orphaned sends pending
// ---------------------------------------------------------------------------

/// Streams dropped with their sends in every state the callback can be in:
/// waiting on a full socket; cancelled for a new deadline, the cancel
/// still queued; cancelled, the cancel landed and the resend queued (not
/// yet submitted); the resend in the kernel. Then the reactor shuts down,
/// by `Handle::shutdown` or by its drop. Expected: the shutdown returns
/// (the resends queued from callbacks during it are refused), nothing is
/// left in flight, every socket is closed (its peer sees the end of the
/// stream once it has read), and each peer holds a prefix of what was
/// reported written.
#[test]
fn shutdowns_with_orphaned_sends_and_resends_pending() {
    let _watch = watchdog();
    for by_drop in [false, true] {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let mut peers = Vec::new();
        for (i, state) in [
            "waiting",
            "cancel queued",
            "resend queued",
            "resend in the kernel",
        ]
        .into_iter()
        .enumerate()
        {
            for kind in ["tcp", "unix"] {
                let what = format!("{kind}, {state}, by drop: {by_drop}");
                let data = pattern(40_000, (i * 2) as u8);
                let far = || Some(Instant::now() + Duration::from_secs(60));
                let go = |stream: &mut dyn FnMut(Option<Instant>, bool) -> bool| {
                    stream(far(), false);
                    reactor.submit().unwrap();
                    run_for(&reactor, 5);
                    if i > 0 {
                        assert!(stream(far(), true), "{what}: the flush waits");
                    }
                    if i > 1 {
                        run_for(&reactor, 10);
                    }
                };
                macro_rules! one {
                    ($make:expr) => {{
                        let (stream, peer) = $make(&h);
                        let ino = inode(stream.as_fd());
                        let (filler, filled) = fill_send_side(stream.as_fd());
                        let mut stream = Some(stream);
                        go(&mut |deadline, flush| {
                            let s = stream.as_mut().unwrap();
                            s.write_by(deadline);
                            if flush {
                                Pin::new(s).poll_flush(&mut noop_cx()).is_pending()
                            } else {
                                write_now(s, &data, &what);
                                true
                            }
                        });
                        drop(stream);
                        (what.clone(), peer, filler, filled, data.clone(), ino)
                    }};
                }
                peers.push(if kind == "tcp" { one!(tcp) } else { one!(unix) });
                if i == 3 {
                    // The resend reaches the kernel.
                    run_for(&reactor, 5);
                }
            }
        }
        let start = Instant::now();
        if by_drop {
            drop(reactor);
        } else {
            h.shutdown();
        }
        let took = start.elapsed();
        assert!(took < Duration::from_secs(5), "the shutdown took {took:?}");
        assert!(h.is_shut_down());
        assert_eq!(h.in_flight(), 0);
        for (what, mut peer, filler, filled, data, ino) in peers {
            drop(filler);
            assert!(!socket_open(ino), "{what}: the socket is still open");
            let mut got = Vec::new();
            assert!(drain(&mut peer, &mut got), "{what}: no end of stream");
            assert_prefix(sent_part(&got, filled, &what), &data, &what);
        }
    }
}

// ---------------------------------------------------------------------------
// Many streams through a small ring
// ---------------------------------------------------------------------------

/// 1500 Unix streams (150 under valgrind) on a reactor over a ring of four
/// SQ entries, each with a small send buffer and 16 to 24 KiB reported
/// written (its send waits), a third of them cancelled for a new deadline
/// at a flush, another third dropped with a moved deadline never polled;
/// all dropped at once. The callbacks' resends go through the same ring.
/// Every peer must get exactly its bytes, then the end of the stream;
/// nothing is left in flight, and the process has exactly the descriptors
/// it had before (counted in a process of its own, or, under valgrind,
/// which runs the tests one at a time, in this one).
#[test]
fn thousands_of_streams_dropped_with_sends_in_flight_through_a_ring_of_four() {
    const NAME: &str = "thousands_of_streams_dropped_with_sends_in_flight_through_a_ring_of_four";
    // Under valgrind the tests run one at a time (tests/scripts/memcheck.sh),
    // so the count is exact in this process, which memcheck watches.
    if !uring_tests::in_child(NAME) && !under_valgrind() {
        let out = uring_tests::run_in_child(NAME);
        eprintln!(
            "{}",
            out.lines()
                .filter(|l| l.contains("streams:"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        return;
    }
    let _watch = watchdog();
    let n = if under_valgrind() { 150 } else { 1500 };
    if !uring_tests::raise_nofile(2 * n as u64 + 256) {
        skip("cannot raise the descriptor limit");
        return;
    }
    let reactor = Reactor::from_ring(uring::Ring::new(4).unwrap()).unwrap();
    let h = reactor.handle();
    let base = open_fds();
    let mut peers = Vec::with_capacity(n);
    let mut streams = Vec::with_capacity(n);
    for i in 0..n {
        let (mut stream, peer) = unix(&h);
        set_int_option(stream.as_fd(), libc::SOL_SOCKET, libc::SO_SNDBUF, 4096).unwrap();
        peer.set_nonblocking(true).unwrap();
        let data = pattern(16_384 + (i * 131) % 8192, i as u8);
        stream.write_by(Some(Instant::now() + Duration::from_secs(60)));
        write_now(&mut stream, &data, "a write");
        match i % 3 {
            1 => {
                stream.write_by(Some(Instant::now() + Duration::from_secs(90)));
                let _ = Pin::new(&mut stream).poll_flush(&mut noop_cx());
            }
            2 => stream.write_by(Some(Instant::now() + Duration::from_secs(120))),
            _ => {}
        }
        streams.push(stream);
        peers.push((peer, data, Vec::new(), false));
    }
    assert_eq!(open_fds(), base + 2 * n);
    run_for(&reactor, 5);
    drop(streams);
    let end = Instant::now() + Duration::from_secs(if under_valgrind() { 300 } else { 60 });
    let mut rounds = 0;
    loop {
        let mut open = 0;
        for (peer, _, got, eof) in peers.iter_mut() {
            if *eof {
                continue;
            }
            let mut chunk = [0u8; 8192];
            loop {
                match peer.read(&mut chunk) {
                    Ok(0) => {
                        *eof = true;
                        break;
                    }
                    Ok(k) => got.extend_from_slice(&chunk[..k]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("a peer's read: {e}"),
                }
            }
            open += usize::from(!*eof);
        }
        if open == 0 {
            break;
        }
        assert!(
            Instant::now() < end,
            "{open} peers still wait after {rounds} rounds ({} in flight)",
            h.in_flight()
        );
        rounds += 1;
        run_for(&reactor, 2);
    }
    for (i, (_, data, got, _)) in peers.iter().enumerate() {
        assert_eq!(got.len(), data.len(), "stream {i}: bytes on the wire");
        assert!(got == data, "stream {i}: the bytes differ");
    }
    assert_eq!(h.in_flight(), 0);
    assert_eq!(open_fds(), base + n, "only the peers are left open");
    drop(peers);
    assert_eq!(open_fds(), base);
    eprintln!("streams: {n} delivered in {rounds} rounds");
}

// ---------------------------------------------------------------------------
// Under tokio
// ---------------------------------------------------------------------------

/// Under `Reactor::into_tokio`, tasks write through `AsyncWriteExt`, then
/// give up on the flush (`tokio::time::timeout`, the peer reads nothing),
/// some after moving the deadline (the flush's poll cancels the send),
/// and drop their streams; the peers then read, through the same traits.
/// Each peer gets every byte reported written, then the end of the
/// stream, and nothing is left in flight. Then a runtime dropped with
/// such orphans pending (its driver owns the reactor, which shuts down):
/// each plain peer holds a prefix of the bytes, then the end of the
/// stream, and the sockets are closed.
#[test]
fn orphaned_sends_under_tokio_s_driver_and_a_runtime_dropped_with_them() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let _watch = watchdog();
    let rt = runtime();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let mut readers = Vec::new();
        for i in 0..6u8 {
            let (mut a, mut b) = UnixStream::pair(&h).unwrap();
            set_int_option(a.as_fd(), libc::SOL_SOCKET, libc::SO_SNDBUF, 4096).unwrap();
            let data = pattern(200_000 + usize::from(i) * 1000, i);
            let restart = i % 2 == 1;
            let d = data.clone();
            let writer = tokio::task::spawn_local(async move {
                if restart {
                    a.set_write_deadline(Some(Instant::now() + Duration::from_secs(60)));
                }
                tokio::io::AsyncWriteExt::write_all(&mut a, &d)
                    .await
                    .unwrap();
                if restart {
                    a.set_write_deadline(Some(Instant::now() + Duration::from_secs(90)));
                }
                let r = tokio::time::timeout(Duration::from_millis(20), a.flush()).await;
                assert!(r.is_err(), "the flush cannot end: the peer reads nothing");
                drop(a);
            });
            readers.push(async move {
                writer.await.unwrap();
                let mut got = Vec::new();
                b.read_to_end(&mut got).await.unwrap();
                (i, got, data)
            });
        }
        for reader in readers {
            let (i, got, data) = reader.await;
            assert_eq!(got.len(), data.len(), "stream {i}: bytes on the wire");
            if !under_valgrind() {
                assert!(got == data, "stream {i}: the bytes differ");
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(h.in_flight(), 0);
    });
    drop(local);
    drop(rt);

    // A runtime dropped with orphans pending.
    let rt = runtime();
    let local = tokio::task::LocalSet::new();
    let peers = local.block_on(&rt, async {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let mut peers = Vec::new();
        for i in 0..4u8 {
            let (mut stream, peer) = unix(&h);
            let ino = inode(stream.as_fd());
            let (filler, filled) = fill_send_side(stream.as_fd());
            let data = pattern(50_000, 60 + i);
            stream.write_by(Some(Instant::now() + Duration::from_secs(60)));
            tokio::io::AsyncWriteExt::write_all(&mut stream, &data)
                .await
                .unwrap();
            tokio::task::yield_now().await;
            if i % 2 == 1 {
                stream.write_by(Some(Instant::now() + Duration::from_secs(90)));
                let r = tokio::time::timeout(Duration::from_millis(5), stream.flush()).await;
                assert!(r.is_err());
            }
            drop(stream);
            peers.push((peer, filler, filled, data, ino));
        }
        tokio::task::yield_now().await;
        peers
    });
    drop(local);
    drop(rt);
    for (i, (mut peer, filler, filled, data, ino)) in peers.into_iter().enumerate() {
        let what = format!("orphan {i} of the dropped runtime");
        drop(filler);
        assert!(!socket_open(ino), "{what}: the socket is still open");
        let mut got = Vec::new();
        assert!(drain(&mut peer, &mut got), "{what}: no end of stream");
        assert_prefix(sent_part(&got, filled, &what), &data, &what);
    }
}

// ---------------------------------------------------------------------------
// Peers that reset the connection
// ---------------------------------------------------------------------------

/// A stream dropped with its send part-way (the peer read some of it),
/// plain or cancelled for a new deadline, then the peer resets the
/// connection (`SO_LINGER` of zero): the orphaned send and whatever the
/// callback sends on end with the reset, promptly; no `SIGPIPE` (the
/// process lives on), nothing in flight, the socket closed; what the peer
/// read is a prefix of what was written.
#[test]
fn a_peer_reset_under_an_orphaned_send_ends_it() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    for restart in [false, true] {
        let what = if restart {
            "cancelled for a new deadline"
        } else {
            "plain"
        };
        let (mut stream, mut peer) = tcp(&h);
        let ino = inode(stream.as_fd());
        let (filler, filled) = fill_send_side(stream.as_fd());
        let data = pattern(1 << 20, 70);
        stream.write_by(Some(Instant::now() + Duration::from_secs(60)));
        write_now(&mut stream, &data, what);
        reactor.submit().unwrap();
        run_for(&reactor, 5);
        let mut got = Vec::new();
        let _ = drain_some(&mut peer, &mut got, filled.min(256 << 10));
        run_for(&reactor, 10);
        if restart {
            stream.write_by(Some(Instant::now() + Duration::from_secs(90)));
            assert!(
                Pin::new(&mut stream)
                    .poll_flush(&mut noop_cx())
                    .is_pending()
            );
        }
        drop(stream);
        drop(filler);
        let _ = drain_some(&mut peer, &mut got, 128 << 10);
        uring_tests::reset_on_close(&peer);
        drop(peer);
        let end = Instant::now() + Duration::from_secs(5);
        while h.in_flight() > 0 {
            assert!(
                Instant::now() < end,
                "{what}: the orphaned send outlives the reset"
            );
            run_for(&reactor, 5);
        }
        assert!(!socket_open(ino), "{what}: the socket is still open");
        assert!(got.len() >= filled.min(got.len()));
        let sent = &got[filled.min(got.len())..];
        assert_prefix(sent, &data, what);
    }
}

// ---------------------------------------------------------------------------
// Deadlines back and forth at every poll
// ---------------------------------------------------------------------------

/// Writes of distinct byte values (write `i` is `len_i` bytes of value
/// `i + 1`), with the write deadline set before every poll of
/// `poll_write`, `poll_flush` and `poll_shutdown` to the past, the far
/// future or none, in turn, while the peer reads a little between polls.
/// Whatever each poll says, the wire must be the writes in order, each
/// whole or (only where a poll reported an error after it) cut: never a
/// byte repeated, reordered, or of a write no poll took; and when a poll
/// reports an error, nothing of the stream is left in flight to send more.
fn deadlines_back_and_forth<S: Stream>(make: fn(&Handle) -> (S, Peer), what: &str) {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (mut stream, mut peer) = make(&h);
    set_int_option(stream.as_fd(), libc::SOL_SOCKET, libc::SO_SNDBUF, 4096).unwrap();
    set_int_option(peer.as_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF, 4096).unwrap();
    let base = Instant::now();
    let mut turn = 0u32;
    let mut next = |s: &mut S| {
        turn += 1;
        s.write_by(match turn % 3 {
            0 => Some(Instant::now() - Duration::from_millis(1)),
            1 => Some(base + Duration::from_secs(60)),
            _ => None,
        });
    };
    let mut got = Vec::new();
    // Per write: its length, and whether a poll after it reported an
    // error (which may be its send's).
    let mut writes: Vec<(usize, bool)> = Vec::new();
    let mut errors = 0;
    let end = Instant::now() + Duration::from_secs(if under_valgrind() { 200 } else { 20 });
    let mut on_error = |e: io::Error, writes: &mut Vec<(usize, bool)>, at: &str| {
        errors += 1;
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{what}: {at}: {e}");
        assert_eq!(
            h.in_flight(),
            0,
            "{what}: {at}: an op in flight after the error"
        );
        if let Some(last) = writes.last_mut() {
            last.1 = true;
        }
    };
    for i in 0..40usize {
        let data = vec![(i + 1) as u8; 1000 + (i * 3571) % 15_000];
        loop {
            assert!(Instant::now() < end, "{what}: write {i} still waits");
            next(&mut stream);
            let _ = drain_some(&mut peer, &mut got, 3000);
            match Pin::new(&mut stream).poll_write(&mut noop_cx(), &data) {
                Poll::Ready(Ok(n)) => {
                    assert_eq!(n, data.len(), "{what}: write {i}");
                    writes.push((n, false));
                    break;
                }
                // The previous send's error, or this write's deadline
                // (then it is not taken): tried again.
                Poll::Ready(Err(e)) => on_error(e, &mut writes, &format!("write {i}")),
                Poll::Pending => run_for(&reactor, 1),
            }
        }
        if i % 5 == 4 {
            next(&mut stream);
            if let Poll::Ready(Err(e)) = Pin::new(&mut stream).poll_flush(&mut noop_cx()) {
                on_error(e, &mut writes, &format!("flush {i}"));
            }
        }
    }
    loop {
        assert!(Instant::now() < end, "{what}: the shutdown still waits");
        next(&mut stream);
        let _ = drain_some(&mut peer, &mut got, usize::MAX);
        match Pin::new(&mut stream).poll_shutdown(&mut noop_cx()) {
            Poll::Ready(Ok(())) => break,
            Poll::Ready(Err(e)) => on_error(e, &mut writes, "shutdown"),
            Poll::Pending => run_for(&reactor, 1),
        }
    }
    while !drain(&mut peer, &mut got) {
        assert!(Instant::now() < end, "{what}: no end of stream");
        run_for(&reactor, 2);
    }
    // The wire: runs of values 1, 2, 3, ... in order.
    let mut at = 0;
    let mut cut = 0;
    for (i, (len, error_after)) in writes.iter().enumerate() {
        let run = got[at..]
            .iter()
            .take_while(|&&b| usize::from(b) == i + 1)
            .count();
        at += run;
        if *error_after {
            assert!(run <= *len, "{what}: write {i}: {run} bytes of {len}");
            cut += usize::from(run < *len);
        } else {
            assert_eq!(run, *len, "{what}: write {i}, no error after it: all of it");
        }
    }
    assert_eq!(at, got.len(), "{what}: bytes of no write, or out of order");
    eprintln!(
        "{what}: {} bytes, {errors} errors, {cut} writes cut, {turn} polls",
        got.len()
    );
    drop(stream);
    run_for(&reactor, 5);
    assert_eq!(h.in_flight(), 0, "{what}");
}

#[test]
fn tcp_write_deadlines_back_and_forth_between_past_and_future() {
    let _watch = watchdog();
    deadlines_back_and_forth(tcp, "tcp");
}

#[test]
fn unix_write_deadlines_back_and_forth_between_past_and_future() {
    let _watch = watchdog();
    deadlines_back_and_forth(unix, "unix");
}
