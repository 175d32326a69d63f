//! `uring::reactor` and `uring::net` checked against what Linux 6.18's
//! io_uring code does, attacked from safe code:
//!
//! - multishot accepts, receives and polls that the kernel ends with a
//!   successful completion (`io_req_post_cqe` fails on a full CQ, and the
//!   op posts its last item without `IORING_CQE_F_MORE` through the
//!   overflow list): the item of that completion reaches its stream or
//!   callback, once, nothing comes after it, a buffer it names goes back to
//!   its ring, and the next op takes the rest in order;
//! - a zero-copy send whose bytes the kernel keeps in the socket's write
//!   queue (the peer's window is shut): the buffer comes back only with the
//!   notification, under a run and under the reactor's drop (canary bytes
//!   written into the buffer as soon as it is back must never reach the
//!   wire);
//! - opens blocked in an io-wq worker: ended by the reactor's drop (its
//!   cancel reaches the running worker), not by a deadline (Linux 6.15+
//!   arms a link timeout only once the worker's issue has returned), and
//!   the late link timeout then ends no later op;
//! - the reactor's own wake-up poll ended by a full CQ, and armed again.
//!
//! Each test asserts what the kernel really did: accepted peers, bytes on
//! the wire and in buffers, callbacks and items counted, descriptors left.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::ffi::CString;
use std::io::{self, Read as _, Write as _};
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

use uring::PollEvents;
use uring::reactor::ops::{AcceptMulti, OpenAt, PollMulti, RecvMulti, SendZc, Timeout};
use uring::reactor::{Handle, MultishotEnded, OpId, Reactor, SharedFd};
use uring_tests::fifo::{has_reader as fifo_has_reader, temp_fifo as fifo};
use uring_tests::net::{any, assert_group_whole, group_or_skip, runtime};
use uring_tests::{pattern, skip, watchdog};

/// The CQ of the reactors that check how multishot ops end on a full CQ:
/// four entries (and an SQ of two), so that one pass of a multishot op
/// through a socket holding more than four completions' worth fills it.
const SMALL_CQ: u32 = 4;

/// A reactor over a ring of 2 SQ and [`SMALL_CQ`] CQ entries, set up as
/// `Reactor::new`'s is otherwise; `None` with a skip message where the
/// kernel refuses it.
fn small_cq_reactor() -> Option<Reactor> {
    match Reactor::ring_builder().cq_entries(SMALL_CQ).build(2) {
        Ok(ring) => Some(Reactor::from_ring(ring).unwrap()),
        Err(e) => {
            skip(format_args!("no ring of 2 and {SMALL_CQ} entries: {e}"));
            None
        }
    }
}

/// `n` clients connected to a new listener on loopback, each waiting in
/// its accept queue: the listener (shared) and the clients.
fn listener_with_clients(n: usize) -> (SharedFd, std::net::TcpListener, Vec<std::net::TcpStream>) {
    let listener = std::net::TcpListener::bind(any()).unwrap();
    let addr = listener.local_addr().unwrap();
    let clients = (0..n)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    let dup = listener.try_clone().unwrap();
    (SharedFd::new(listener), dup, clients)
}

/// The peer address of an accepted socket.
fn peer_of(fd: OwnedFd) -> SocketAddr {
    std::net::TcpStream::from(fd).peer_addr().unwrap()
}

fn errno<T>(r: &io::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(io::Error::raw_os_error)
}

/// `io_accept` (io_uring/net.c) loops while the accept queue holds
/// connections, posting each socket through `io_req_post_cqe` with
/// `IORING_CQE_F_MORE`; once the CQ is full that fails, and the op ends:
/// the socket it has just accepted goes out as the op's last completion,
/// without `F_MORE`, through the overflow list. An accept stream over a
/// CQ of four entries, with 24 connections waiting, must yield that last
/// socket, then end (`None`, and `None` again: no item after the end);
/// streams armed again take the rest. Every connection is accepted once:
/// a last item lost would leave a connection that no stream and no accept
/// of the listener ever sees.
#[test]
fn an_accept_stream_ended_by_a_full_cq_yields_its_last_socket_then_ends() {
    let _watch = watchdog();
    let Some(reactor) = small_cq_reactor() else {
        return;
    };
    const N: usize = 24;
    let (lfd, _listener, clients) = listener_with_clients(N);
    let mut peers = Vec::new();
    // Per stream: the sockets it yielded, and whether it ended by itself.
    let mut streams: Vec<(usize, bool)> = Vec::new();
    while peers.len() < N {
        assert!(streams.len() < 4 * N, "no progress: {streams:?}");
        let mut stream = reactor.stream(AcceptMulti::new(&lfd));
        let (got, ended) = reactor
            .run_until(async {
                let mut got = Vec::new();
                loop {
                    match stream.next().await {
                        Some(Ok(fd)) => {
                            got.push(peer_of(fd));
                            if peers.len() + got.len() == N {
                                return (got, false);
                            }
                        }
                        Some(Err(e)) => panic!("an accept failed: {e}"),
                        None => {
                            assert!(stream.next().await.is_none(), "an item after the end");
                            return (got, true);
                        }
                    }
                }
            })
            .unwrap();
        streams.push((got.len(), ended));
        peers.extend(got);
        drop(stream);
    }
    reactor.run().unwrap();
    assert_eq!(reactor.in_flight(), 0);
    let want: HashSet<SocketAddr> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
    let got: HashSet<SocketAddr> = peers.iter().copied().collect();
    assert_eq!(got.len(), N, "a connection accepted twice: {peers:?}");
    assert_eq!(got, want);
    // The kernel ended at least one stream with a socket (none can end
    // with an error here), which the stream yielded.
    assert!(
        streams.iter().any(|&(n, ended)| ended && n > 0),
        "no stream was ended by the kernel: {streams:?}"
    );
    for &(n, ended) in &streams[..streams.len() - 1] {
        assert!(ended && n > 0, "{streams:?}");
    }
}

/// The same end of a multishot accept, through `queue_multishot`: the
/// callback gets the socket of the op's last completion (posted without
/// `F_MORE` by `io_accept` once `io_req_post_cqe` found the CQ full), then
/// once more an error of kind `Interrupted` carrying `MultishotEnded`, the
/// reactor's word that the kernel ended the op after an item. A callback
/// that queues the op again on that error accepts every client, each once,
/// and the one that takes the last cancels its own op by id.
#[test]
fn a_multishot_accept_callback_is_told_of_its_end_and_takes_every_client() {
    let _watch = watchdog();
    let Some(reactor) = small_cq_reactor() else {
        return;
    };
    const N: usize = 24;
    let (lfd, _listener, clients) = listener_with_clients(N);
    let peers: Rc<RefCell<Vec<SocketAddr>>> = Rc::default();
    let ends = Rc::new(Cell::new(0));
    accept_until(&reactor.handle(), lfd, N, &peers, &ends);
    reactor.run().unwrap();
    assert_eq!(reactor.in_flight(), 0);
    assert!(ends.get() > 0, "no accept was ended by the kernel");
    let peers = peers.borrow();
    let want: HashSet<SocketAddr> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
    let got: HashSet<SocketAddr> = peers.iter().copied().collect();
    assert_eq!(peers.len(), N, "each client accepted once: {peers:?}");
    assert_eq!(got, want);
}

/// Queues a multishot accept on `lfd` whose callback notes each peer in
/// `peers` until there are `n`, then cancels the op; on the kernel's end
/// of the op (counted in `ends`) it queues the next one.
fn accept_until(
    h: &Handle,
    lfd: SharedFd,
    n: usize,
    peers: &Rc<RefCell<Vec<SocketAddr>>>,
    ends: &Rc<Cell<usize>>,
) {
    let id: Rc<Cell<Option<OpId>>> = Rc::default();
    let (h2, peers2, ends2, id2) = (h.clone(), Rc::clone(peers), Rc::clone(ends), Rc::clone(&id));
    let again = lfd.clone();
    let queued = h
        .queue_multishot(AcceptMulti::new(&lfd), move |item| match item {
            Ok(fd) => {
                peers2.borrow_mut().push(peer_of(fd));
                if peers2.borrow().len() == n {
                    h2.cancel(id2.get().expect("the op's id")).unwrap();
                }
            }
            Err(e) if MultishotEnded::is(&e) => {
                assert_eq!(e.kind(), io::ErrorKind::Interrupted);
                ends2.set(ends2.get() + 1);
                if peers2.borrow().len() < n {
                    accept_until(&h2, again.clone(), n, &peers2, &ends2);
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::ECANCELED) => {
                assert_eq!(peers2.borrow().len(), n, "cancelled early: {e}");
            }
            Err(e) => panic!("accept: {e}"),
        })
        .unwrap();
    id.set(Some(queued));
}

/// Reads `stream` items until it ends or `total` bytes have arrived in
/// all; returns whether it ended, whether its last item was a buffer, and
/// whether it ran dry (`ENOBUFS`).
async fn read_items(
    stream: &mut uring::reactor::OpStream<RecvMulti>,
    got: &mut Vec<u8>,
    total: usize,
) -> (bool, bool, bool) {
    let mut last_was_buf = false;
    let mut dry = false;
    loop {
        match stream.next().await {
            Some(Ok(Some(buf))) => {
                got.extend_from_slice(&buf);
                last_was_buf = true;
                if got.len() == total {
                    return (false, true, dry);
                }
            }
            Some(Ok(None)) => panic!("the end of a stream nobody closed"),
            Some(Err(e)) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                last_was_buf = false;
                dry = true;
            }
            Some(Err(e)) => panic!("a receive failed: {e}"),
            None => {
                assert!(stream.next().await.is_none(), "an item after the end");
                return (true, last_was_buf, dry);
            }
        }
    }
}

/// `io_recv_finish` (io_uring/net.c) commits each buffer a multishot
/// receive filled (`io_put_kbuf`) before it posts the completion through
/// `io_req_post_cqe`; when that fails on a full CQ, the same completion,
/// with its buffer (`IORING_CQE_F_BUFFER`) and its bytes, is posted as the
/// op's last, without `F_MORE`. A receive stream over a CQ of four
/// entries, with 1 KiB waiting in 16-byte buffers, must yield that last
/// buffer and end; streams armed again take the rest: every byte once, in
/// order, and every buffer back in the ring at the end.
#[test]
fn a_receive_stream_ended_by_a_full_cq_keeps_the_buffer_of_its_last_completion() {
    let _watch = watchdog();
    let Some(reactor) = small_cq_reactor() else {
        return;
    };
    let Some(group) = group_or_skip(&reactor, 7, 128, 16) else {
        return;
    };
    let (mine, mut peer) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(mine);
    let sent = pattern(1024, 3);
    peer.write_all(&sent).unwrap();
    let mut got = Vec::new();
    let mut ends = Vec::new();
    while got.len() < sent.len() {
        assert!(ends.len() < 1000, "no progress: {} bytes", got.len());
        let mut stream = reactor.stream(RecvMulti::new(&fd, group));
        let end = reactor
            .run_until(read_items(&mut stream, &mut got, sent.len()))
            .unwrap();
        ends.push(end);
        drop(stream);
    }
    reactor.run().unwrap();
    assert_eq!(got, sent);
    assert!(
        ends.iter().any(|&(ended, on_buf, _)| ended && on_buf),
        "no stream ended on a buffer: {ends:?}"
    );
    drop(fd);
    assert_group_whole(&reactor, group, 128, "after streams ended on a full CQ");
}

/// A receive stream dropped with its op's items unread, after the kernel
/// ended the op on a full CQ, and one dropped before the reactor read any
/// of its completions (its cancel then finds nothing: the op ended in the
/// kernel): in both, the buffers the items name (the last completion's
/// among them) go back to the ring, and the socket keeps exactly the bytes
/// the op did not take.
#[test]
fn receive_streams_dropped_around_their_end_on_a_full_cq_give_every_buffer_back() {
    let _watch = watchdog();
    let Some(reactor) = small_cq_reactor() else {
        return;
    };
    let Some(group) = group_or_skip(&reactor, 8, 64, 16) else {
        return;
    };
    for early in [false, true] {
        let (mine, mut peer) = UnixStream::pair().unwrap();
        let dup = mine.try_clone().unwrap();
        let fd = SharedFd::new(mine);
        let sent = pattern(512, 5);
        peer.write_all(&sent).unwrap();
        let stream = reactor.stream(RecvMulti::new(&fd, group));
        if early {
            // Issued, and ended by the kernel, before any completion is
            // read: the drop's cancel finds no op.
            reactor.submit().unwrap();
        } else {
            // Every completion read into the stream, none taken.
            uring_tests::run_for(&reactor, 20);
        }
        drop(stream);
        reactor.run().unwrap();
        assert_eq!(reactor.in_flight(), 0);
        dup.set_nonblocking(true).unwrap();
        let mut left = Vec::new();
        let _ = (&dup).read_to_end(&mut left);
        assert!(
            left.len() < sent.len(),
            "early {early}: the op took nothing"
        );
        assert_eq!(left[..], sent[sent.len() - left.len()..], "early {early}");
        drop(fd);
        assert_group_whole(&reactor, group, 64, &format!("early {early}"));
    }
}

/// `io_poll_check_events` (io_uring/poll.c) posts each wake-up of a
/// multishot poll through `io_req_post_cqe` with `F_MORE`; when the CQ is
/// full the poll is removed and its events go out as its last completion,
/// without `F_MORE`. Here one write to a pipe wakes five polls of its
/// read end: four one-shot ones, armed last and so woken first (a poll
/// adds itself at the head of the wait queue), whose completions fill the
/// CQ of four entries (`io_req_post_cqe` flushes them before it posts),
/// then the multishot one, armed first. Its callback must run with `IN`
/// as its last item, then once more with `MultishotEnded` (the kernel
/// ended it after an item); the op is then over: a cancel by its id later
/// (from a timer's callback) finds nothing (`Ok(false)`), and no further
/// item comes. Every one-shot callback runs once.
#[test]
fn a_multishot_poll_ended_by_a_full_cq_calls_back_with_its_end_and_its_id_goes_stale() {
    let _watch = watchdog();
    let Some(reactor) = small_cq_reactor() else {
        return;
    };
    let (r, w) = uring_tests::pipe();
    let mut w = std::fs::File::from(w);
    let r = SharedFd::new(r);
    let items: Rc<RefCell<Vec<io::Result<PollEvents>>>> = Rc::default();
    let cancelled: Rc<Cell<Option<bool>>> = Rc::default();
    let polls = Rc::new(Cell::new(0));
    let sink = Rc::clone(&items);
    let id = reactor
        .queue_multishot(PollMulti::new(&r, PollEvents::IN), move |item| {
            sink.borrow_mut().push(item)
        })
        .unwrap();
    for _ in 0..SMALL_CQ {
        let n = Rc::clone(&polls);
        reactor
            .queue(
                uring::reactor::ops::Poll::new(&r, PollEvents::IN),
                move |r, ()| {
                    assert!(PollEvents::from_bits_truncate(r.unwrap()).contains(PollEvents::IN));
                    n.set(n.get() + 1)
                },
            )
            .unwrap();
    }
    reactor.submit().unwrap();
    // Every poll is armed (the pipe was empty); one write wakes them all.
    w.write_all(b"x").unwrap();
    let h = reactor.handle();
    let c = Rc::clone(&cancelled);
    reactor
        .queue(Timeout::new(Duration::from_millis(200)), move |_, ()| {
            c.set(Some(h.cancel(id).unwrap()))
        })
        .unwrap();
    reactor.run().unwrap();
    assert_eq!(polls.get(), SMALL_CQ as usize);
    let items = items.borrow();
    assert_eq!(items.len(), 2, "{items:?}");
    let events = items[0].as_ref().expect("the poll's last item");
    assert!(events.contains(PollEvents::IN), "{events:?}");
    let end = items[1].as_ref().expect_err("the end of the op");
    assert!(MultishotEnded::is(end), "{end:?}");
    assert_eq!(
        cancelled.get(),
        Some(false),
        "the id of a poll the kernel ended still cancelled something"
    );
    assert_eq!(reactor.in_flight(), 0);
}

/// A TCP connection on loopback whose receiver reads nothing until told:
/// its receive buffer fills, the window it advertises shuts, and most of
/// a send of megabytes waits in the sender's write queue. Returns the
/// sender (shared) and the receiver.
fn choked_connection() -> (SharedFd, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind(any()).unwrap();
    let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (SharedFd::new(client), server)
}

/// Reads `peer` to its end once 300 ms have passed, in a process of its
/// own (which runs while the reactor waits in `io_uring_enter`, under
/// valgrind too): the pause lets a correct reactor wait for the
/// notification, which cannot come before the peer reads, while a buffer
/// given back early is overwritten with the canary by then, which the
/// peer then reads.
fn reader(peer: std::net::TcpStream) -> uring_tests::net::LateReader {
    uring_tests::net::late_reader(peer, Duration::from_millis(300))
}

/// The byte a zero-copy send's buffer is overwritten with once it is back.
const CANARY: u8 = 0xC5;

/// `io_send_zc` (io_uring/net.c) posts the send's result with `F_MORE`
/// as soon as the bytes are queued on the socket; the pages stay pinned in
/// the skbs of the write queue, and the notification (`F_NOTIF`, from
/// `io_tx_ubuf_complete` once every skb is freed) comes only when the
/// peer has acknowledged every byte. With the peer's window shut, that is
/// long after the first completion. The reactor must give the buffer back
/// only at the notification: the callback overwrites it with a canary at
/// once, and the peer reads only after a pause, so a buffer given back
/// early would put canary bytes on the wire.
#[test]
fn a_zero_copy_send_gives_its_buffer_back_only_after_its_notification() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (fd, peer) = choked_connection();
    let reading = reader(peer);
    let data = pattern(8 << 20, 9);
    let result: Rc<Cell<Option<io::Result<u32>>>> = Rc::default();
    let res = Rc::clone(&result);
    let calls = Rc::new(Cell::new(0));
    let n = Rc::clone(&calls);
    reactor
        .queue(SendZc::new(&fd, data.clone()), move |r, mut buf| {
            n.set(n.get() + 1);
            buf.fill(CANARY);
            res.set(Some(r));
        })
        .unwrap();
    uring_tests::run_for(&reactor, 50);
    if let Some(Err(e)) = result.take() {
        return skip(format_args!("no zero-copy sends: {e}"));
    }
    // The peer has read nothing yet: the notification cannot have come.
    assert_eq!(
        calls.get(),
        0,
        "the buffer came back before the notification"
    );
    reactor.run().unwrap();
    drop(fd);
    let got = reading.join().unwrap();
    assert_eq!(calls.get(), 1);
    let sent = match result.take().unwrap() {
        Ok(n) => n as usize,
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EOPNOTSUPP)) => {
            return skip("no zero-copy sends");
        }
        Err(e) => panic!("the send failed: {e}"),
    };
    assert!(sent > 0);
    assert_eq!(got.len(), sent, "the peer got other than what was sent");
    if let Some(i) = got.iter().zip(&data).position(|(a, b)| a != b) {
        panic!(
            "byte {i} of {sent} on the wire is {:#x}, not {:#x}: the buffer was given back \
             while the kernel still sent from it",
            got[i], data[i]
        );
    }
}

/// The reactor dropped while a zero-copy send's notification is still to
/// come: its cancel finds no request (`io_send_zc` completed; the
/// notification is not cancellable), so the drop must wait for the
/// notification, which comes once the peer has read everything. The
/// callback runs during the drop, once, with the send's count; the canary
/// it writes never reaches the wire.
#[test]
fn a_reactor_dropped_before_a_zero_copy_notification_waits_for_it() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (fd, peer) = choked_connection();
    let data = pattern(8 << 20, 11);
    let result: Rc<Cell<Option<io::Result<u32>>>> = Rc::default();
    let res = Rc::clone(&result);
    reactor
        .queue(SendZc::new(&fd, data.clone()), move |r, mut buf| {
            buf.fill(CANARY);
            assert!(res.replace(Some(r)).is_none(), "called twice");
        })
        .unwrap();
    uring_tests::run_for(&reactor, 50);
    if let Some(Err(e)) = result.take() {
        return skip(format_args!("no zero-copy sends: {e}"));
    }
    // The peer has read nothing: the notification cannot have come.
    let reading = reader(peer);
    assert_eq!(reactor.in_flight(), 1);
    drop(reactor);
    drop(fd);
    let got = reading.join().unwrap();
    let sent = result
        .take()
        .expect("the callback ran at the drop")
        .unwrap() as usize;
    assert!(sent > 0);
    assert_eq!(got.len(), sent);
    assert!(
        got.iter().zip(&data).all(|(a, b)| a == b),
        "canary bytes on the wire: the buffer was given back before the notification"
    );
}

/// How an open ended: its errno, and whether it gave a descriptor.
type OpenEnd = (Option<i32>, bool);

/// An open that ended: which one, its errno, and the bytes read through
/// the descriptor it gave.
type Opened = (u32, Option<i32>, Vec<u8>);

/// An open of a FIFO for reading that blocks in an io-wq worker:
/// `io_openat_force_async` (io_uring/openclose.c) sends every open with
/// `O_CREAT` to a worker, where `fifo_open` waits for a writer.
fn blocked_open(path: &std::path::Path) -> OpenAt {
    let path = CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    OpenAt::new(path, libc::O_RDONLY | libc::O_CREAT, 0o600)
}

/// The reactor dropped with an open blocked in an io-wq worker: the
/// cancel by tag reaches a running worker only through
/// `io_wq_worker_cancel`'s notify signal, which ends `fifo_open`'s wait;
/// the reactor must keep cancelling and waiting until the op completes,
/// then run its callback once, with an error and no descriptor, leaving
/// no reader on the FIFO.
#[test]
fn a_reactor_dropped_with_an_open_blocked_in_a_worker_cancels_and_waits() {
    let _watch = watchdog();
    let Some((_dir, path)) = fifo() else {
        return;
    };
    let reactor = Reactor::new().unwrap();
    let calls: Rc<RefCell<Vec<OpenEnd>>> = Rc::default();
    let c = Rc::clone(&calls);
    reactor
        .queue(blocked_open(&path), move |r, fd| {
            c.borrow_mut().push((errno(&r), fd.is_some()))
        })
        .unwrap();
    uring_tests::run_for(&reactor, 50);
    assert!(calls.borrow().is_empty(), "the open did not block");
    assert_eq!(reactor.in_flight(), 1);
    drop(reactor);
    let calls = calls.borrow();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let (err, got_fd) = calls[0];
    assert!(err.is_some() && !got_fd, "{calls:?}");
    assert!(!fifo_has_reader(&path), "the cancelled open left a reader");
}

/// Opens the FIFO at `path` for writing once `after` has passed (which
/// ends a blocked open for reading), writes `bytes` and closes it.
fn writer_after(
    path: &std::path::Path,
    after: Duration,
    bytes: &'static [u8],
) -> std::thread::JoinHandle<()> {
    let path = path.to_owned();
    std::thread::spawn(move || {
        std::thread::sleep(after);
        let mut w = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        w.write_all(bytes).unwrap();
    })
}

/// A deadline on an open blocked in an io-wq worker. Since Linux 6.15
/// ("io_uring: always arm linked timeouts prior to issue"),
/// `__io_issue_sqe` (io_uring/io_uring.c) preps the link timeout before
/// `def->issue()` and queues its timer (`io_queue_linked_timeout`) only
/// after the issue returns; in a worker, `io_openat2`'s issue is the
/// whole blocking open, so the timer starts only once the open is over,
/// which `Handle::queue_with_deadline` documents. The open runs to its
/// end, and the link timeout, armed only then, completes after the open
/// (`-ECANCELED`, or `-ENOENT` from `io_req_task_link_timeout` when its
/// absolute time has passed). That late completion carries no tag of an
/// op: the callback of the open runs once, with the descriptor, and a
/// second open that the callback queues into the slot the first left is
/// not ended by it: it opens, once, when the next writer comes, and reads
/// that writer's bytes.
#[test]
fn a_deadline_armed_after_a_worker_s_open_ends_neither_it_nor_the_next_op() {
    let _watch = watchdog();
    if !uring_tests::require_kernel(6, 15, "link timeouts armed after a worker's issue") {
        return;
    }
    let Some((_dir, path)) = fifo() else {
        return;
    };
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let opened: Rc<RefCell<Vec<Opened>>> = Rc::default();
    let log = Rc::clone(&opened);
    let second_path = path.clone();
    let first_slot = Rc::new(Cell::new(None));
    let second_slot = Rc::new(Cell::new(None));
    let s2 = Rc::clone(&second_slot);
    let read_all = |fd: Option<OwnedFd>| {
        let mut got = Vec::new();
        if let Some(fd) = fd {
            std::fs::File::from(fd).read_to_end(&mut got).unwrap();
        }
        got
    };
    let at = Instant::now() + Duration::from_millis(50);
    let id = reactor
        .queue_with_deadline(blocked_open(&path), at, move |r, fd| {
            log.borrow_mut().push((1, errno(&r), read_all(fd)));
            let log = Rc::clone(&log);
            let id = h
                .queue(blocked_open(&second_path), move |r, fd| {
                    log.borrow_mut().push((2, errno(&r), read_all(fd)))
                })
                .unwrap();
            s2.set(Some(id.slot()));
        })
        .unwrap();
    first_slot.set(Some(id.slot()));
    let first = writer_after(&path, Duration::from_millis(300), b"first");
    // The first open ends with the writer; the second waits for the next.
    let found = uring_tests::net::drive(&reactor, Duration::from_secs(10), || {
        (!opened.borrow().is_empty()).then_some(())
    });
    assert!(found.is_some(), "the first open never ended");
    first.join().unwrap();
    uring_tests::run_for(&reactor, 200);
    assert_eq!(opened.borrow().len(), 1, "{:?}", opened.borrow());
    assert_eq!(reactor.in_flight(), 1, "the second open was ended");
    let second = writer_after(&path, Duration::ZERO, b"second");
    reactor.run().unwrap();
    second.join().unwrap();
    let opened = opened.borrow();
    assert_eq!(
        opened[..],
        [(1, None, b"first".to_vec()), (2, None, b"second".to_vec())],
        "the first open was ended by its deadline (a kernel that arms link timeouts \
         before a worker's issue), or the second by the first's timer"
    );
    assert_eq!(
        first_slot.get(),
        second_slot.get(),
        "the second open took another slot"
    );
}

/// `into_tokio`'s `AsyncRead` through a buffer ring keeps one multishot
/// receive armed; on a CQ of four entries the kernel ends it with a
/// successful last completion (`io_recv_finish`, as above) whenever one
/// pass fills more buffers than the CQ has room for (how often depends on
/// how the bytes arrive), which the stream must read as "arm another",
/// never as the end of the stream. 256 KiB sent, then the write side shut: `read_to_end` must
/// return exactly them, in order.
#[test]
fn tokio_reads_through_a_ring_over_a_full_cq_see_every_byte_and_no_false_end() {
    use tokio::io::AsyncReadExt as _;
    let _watch = watchdog();
    let Some(reactor) = small_cq_reactor() else {
        return;
    };
    let Some(group) = group_or_skip(&reactor, 9, 64, 512) else {
        return;
    };
    let h = reactor.handle();
    let (mut stream, mut peer) = uring_tests::net::connected(&h);
    stream.set_read_ring(Some(group));
    let sent = pattern(256 << 10, 13);
    let writer = {
        let sent = sent.clone();
        std::thread::spawn(move || {
            peer.write_all(&sent).unwrap();
            peer.shutdown(std::net::Shutdown::Write).unwrap();
            peer
        })
    };
    let rt = runtime();
    let local = tokio::task::LocalSet::new();
    let got = local.block_on(&rt, async {
        tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await.unwrap();
        drop(stream);
        h.shutdown();
        got
    });
    let _peer = writer.join().unwrap();
    assert_eq!(got.len(), sent.len());
    assert!(got == sent, "the bytes differ");
}

/// What a [`Flag`] and the thread that raises it share.
type FlagState = std::sync::Arc<std::sync::Mutex<(bool, Option<std::task::Waker>)>>;

/// A future the test wakes from another thread, through its waker.
struct Flag(FlagState);

impl std::future::Future for Flag {
    type Output = ();
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        let mut state = self.0.lock().unwrap();
        if state.0 {
            return std::task::Poll::Ready(());
        }
        state.1 = Some(cx.waker().clone());
        std::task::Poll::Pending
    }
}

/// Raises `state` from another thread after `before` ran there, waking
/// the future's waker (which writes the reactor's eventfd while it sleeps).
fn raise_later(
    state: &FlagState,
    before: impl FnOnce() + std::marker::Send + 'static,
) -> std::thread::JoinHandle<()> {
    let state = std::sync::Arc::clone(state);
    std::thread::spawn(move || {
        // Lets the reactor go to sleep with its wake-up poll armed.
        std::thread::sleep(Duration::from_millis(20));
        before();
        let waker = {
            let mut s = state.lock().unwrap();
            s.0 = true;
            s.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    })
}

/// The reactor's own wake-up poll (a multishot poll of its eventfd, armed
/// while it sleeps waiting for a future) is ended by the kernel like any
/// other multishot poll when it fires on a full CQ (`io_poll_check_events`
/// gets `false` from `io_req_post_cqe`): in each of 30 rounds, four
/// receives complete at once (as many completions as the CQ holds), then
/// another thread wakes the future the reactor waits for. Whether the
/// poll's wake-up lands on a full CQ depends on when the reactor's thread
/// runs the receives' task work; in the rounds where it does, the reactor
/// must see that its poll ended and arm it again. The last round has
/// nothing in flight but the wake: a poll left unarmed would never end
/// that wait (the watchdog aborts the run).
#[test]
fn the_wake_up_poll_ended_by_a_full_cq_is_armed_again() {
    let _watch = watchdog();
    let Some(reactor) = small_cq_reactor() else {
        return;
    };
    let pairs: Vec<(SharedFd, UnixStream)> = (0..SMALL_CQ)
        .map(|_| {
            let (a, b) = UnixStream::pair().unwrap();
            (SharedFd::new(a), b)
        })
        .collect();
    let done = Rc::new(Cell::new(0usize));
    const ROUNDS: usize = 30;
    for _ in 0..ROUNDS {
        for (fd, _) in &pairs {
            let d = Rc::clone(&done);
            reactor
                .queue(
                    uring::reactor::ops::Recv::new(fd, Vec::with_capacity(8)),
                    move |r, buf| {
                        assert_eq!(r.unwrap(), 1);
                        assert_eq!(buf, b"r");
                        d.set(d.get() + 1);
                    },
                )
                .unwrap();
        }
        let peers: Vec<UnixStream> = pairs.iter().map(|(_, p)| p.try_clone().unwrap()).collect();
        let state = FlagState::default();
        let thread = raise_later(&state, move || {
            for mut p in peers {
                p.write_all(b"r").unwrap();
            }
        });
        reactor.run_until(Flag(state)).unwrap();
        thread.join().unwrap();
        // The receives end (if they have not yet) before the next round.
        reactor.run().unwrap();
    }
    assert_eq!(done.get(), ROUNDS * SMALL_CQ as usize);
    assert_eq!(reactor.in_flight(), 0);
    let state = FlagState::default();
    let thread = raise_later(&state, || {});
    reactor.run_until(Flag(state)).unwrap();
    thread.join().unwrap();
}
