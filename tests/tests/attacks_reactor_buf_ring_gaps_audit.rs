//! Buffer rings through the reactor and `uring::net`, attacked where the
//! other suites stop: buffers held by the program (stamped with canaries)
//! while a multishot receive keeps filling the rest, given back in an
//! order of the program's and handed out again in exactly that order; one
//! buffer held through more than 65536 receives, so that the 16-bit ring
//! positions wrap under it (groups of 1, 3 and 4 buffers, group id 65535);
//! multishot receives queued with a callback that run dry (`ENOBUFS` as
//! the one last call) and are queued again, and one whose callback panics
//! (the reactor cancels its receive, which once went on swallowing bytes
//! until cancelled by id); received buffers and receives given to
//! `mem::forget` (never handed out again); a reactor
//! dropped under an armed receive stream while the program holds its
//! buffers (the bytes that arrive after stay in the socket, the held
//! buffers keep their canaries and are sent on by another reactor); a
//! received buffer truncated, sliced, changed and sent back as it is, and
//! read into; empty datagrams against `UdpSocket::recv_ring`'s word and a
//! multishot receive of a datagram socket; `AsyncRead` reading a held
//! buffer of a one-buffer ring a byte at a time while the peer goes on
//! sending.
//!
//! Read against Linux 6.18: `io_uring/net.c` (`io_recv`,
//! `io_recv_buf_select`, `io_recv_finish`: a multishot receive selects its
//! buffer before `sock_recvmsg`, recycles it when nothing was received,
//! and ends at a result of 0 or an error, `ENOBUFS` when the group has no
//! buffer), `io_uring/kbuf.c` (`io_ring_buffer_select`, `io_kbuf_commit`,
//! `io_kbuf_recycle_ring`: buffers are taken at the head in the order
//! they were published at the 16-bit tail), and `net/unix/af_unix.c`
//! (`unix_stream_read_generic`).
//!
//! Each test asserts what the kernel did: every byte once and in order,
//! the ids of the buffers and their order, canary bytes in held buffers,
//! the exact sequence of items and errors. Tests marked
//! `#[ignore = "DEFECT: ..."]` show a defect of the library and fail when
//! run.

use std::cell::RefCell;
use std::io::{self, Read as _, Write as _};
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use uring::net::{UdpSocket, UnixStream};
use uring::reactor::ops::RecvMulti;
use uring::reactor::{BufGroup, IoBuf, Reactor, RingBuf, SharedFd};
use uring_tests::net::{any, assert_group_whole, connected, group_or_skip};
use uring_tests::{pattern, poll_once, watchdog};

/// The errno of an item's error, if it is one.
fn errno<T>(r: &io::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(io::Error::raw_os_error)
}

/// Reads exactly `n` bytes from `peer` (blocking, bounded by a read
/// timeout).
fn read_n(peer: &mut std::os::unix::net::UnixStream, n: usize) -> Vec<u8> {
    peer.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = vec![0u8; n];
    peer.read_exact(&mut got).unwrap();
    got
}

/// Whether every byte of `buf` is `canary`.
fn stamped(buf: &RingBuf, canary: u8) -> bool {
    buf.iter().all(|&b| b == canary)
}

/// Eight buffers held by the program while a receive stream fills them
/// keep the canary the program wrote over them; the group then runs dry
/// (`ENOBUFS`, the stream's last item). Three of them given back in the
/// order 3, 5, 0 are handed out by the next stream in that order (the
/// kernel takes them at the head in the order they were published), the
/// first two with the next bytes and the third selected for the end of
/// the stream and recycled (a result of 0 names no buffer); no byte is
/// lost across the re-arm, and the group is whole at the end.
#[test]
fn held_buffers_keep_their_canaries_and_come_back_in_the_order_given() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 161, 8, 64) else {
        return;
    };
    let (mine, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let stream = UnixStream::from_std(&h, mine);
    let sent = pattern(612, 7);
    peer.write_all(&sent).unwrap();
    peer.shutdown(std::net::Shutdown::Write).unwrap();

    let mut got = Vec::new();
    let mut held: Vec<RingBuf> = Vec::new();
    let mut rs = stream.recv_stream(group);
    loop {
        match reactor.run_until(rs.next()).unwrap() {
            Some(Ok(Some(mut buf))) => {
                got.extend_from_slice(&buf);
                buf.fill(0xA5);
                held.push(buf);
            }
            Some(last) => {
                assert_eq!(errno(&last), Some(libc::ENOBUFS), "{last:?}");
                break;
            }
            None => panic!("the stream ended without its last item"),
        }
    }
    assert!(
        reactor.run_until(rs.next()).unwrap().is_none(),
        "nothing after the last item"
    );
    assert_eq!(got, sent[..512], "eight full buffers, in order");
    let mut bids: Vec<u16> = held.iter().map(RingBuf::bid).collect();
    bids.sort_unstable();
    assert_eq!(bids, (0..8).collect::<Vec<u16>>(), "each buffer once");
    assert!(held.iter().all(|b| b.len() == 64 && stamped(b, 0xA5)));

    for bid in [3u16, 5, 0] {
        let at = held.iter().position(|b| b.bid() == bid).unwrap();
        drop(held.remove(at));
    }
    let mut rs = stream.recv_stream(group);
    let mut second = Vec::new();
    let mut order = Vec::new();
    loop {
        match reactor.run_until(rs.next()).unwrap() {
            Some(Ok(Some(mut buf))) => {
                second.extend_from_slice(&buf);
                order.push(buf.bid());
                buf.fill(0x5A);
                held.push(buf);
            }
            Some(Ok(None)) => break,
            other => panic!("the second stream gave {other:?}"),
        }
    }
    assert!(reactor.run_until(rs.next()).unwrap().is_none());
    assert_eq!(second, sent[512..], "the rest, once, in order");
    assert_eq!(order, [3, 5], "the buffers in the order they came back");
    assert_eq!(
        held.iter().filter(|b| stamped(b, 0xA5)).count(),
        5,
        "the five still held kept their canary"
    );
    drop(held);
    drop(rs);
    drop(stream);
    assert_group_whole(&reactor, group, 8, "after the streams");
}

/// Receives more than 65536 buffers of a stream through a group of
/// `count` buffers of 8 bytes under group id `id` (so that the ring's 16-bit
/// positions wrap several times): with `keep`, the first buffer is held all
/// along, and each other one is held until the next arrives. The held one
/// keeps its canary and is never handed out again, each other one keeps
/// its canary until it is dropped, every byte arrives once and in order
/// across the re-arms that `ENOBUFS` forces, and the group is whole at the
/// end.
fn wrap_under_a_held_buffer(id: u16, count: u16, keep: bool) {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, id, count, 8) else {
        return;
    };
    let (mine, peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let stream = UnixStream::from_std(&h, mine);
    const TOTAL: usize = 8 * 72_000;
    let sent = pattern(TOTAL, 11);
    // A process of its own, which writes while the reactor waits in
    // `io_uring_enter` (under valgrind too); the stream ends when it has
    // written everything.
    let writer = uring_tests::net::peer_writer(peer, &sent);

    let mut at = 0usize;
    let mut kept: Option<RingBuf> = None;
    let mut last: Option<RingBuf> = None;
    let (mut receives, mut rearms) = (0u64, 0u64);
    let mut rs = stream.recv_stream(group);
    loop {
        match reactor.run_until(rs.next()).unwrap() {
            Some(Ok(Some(mut buf))) => {
                receives += 1;
                assert!(
                    sent[at..].starts_with(&buf),
                    "receive {receives}: bytes at {at} out of order"
                );
                assert!(buf.bid() < count);
                at += buf.len();
                if let Some(k) = &kept {
                    assert_ne!(k.bid(), buf.bid(), "a held buffer handed out again");
                }
                buf.fill(0xC3);
                if keep && kept.is_none() {
                    kept = Some(buf);
                } else if count == 1 {
                    drop(buf);
                } else if let Some(prev) = last.replace(buf) {
                    assert!(stamped(&prev, 0xC3), "written while held");
                }
            }
            Some(Ok(None)) => break,
            Some(Err(e)) => {
                assert_eq!(e.raw_os_error(), Some(libc::ENOBUFS), "{e}");
                rearms += 1;
                rs = stream.recv_stream(group);
            }
            None => panic!("the stream ended without its last item"),
        }
    }
    writer.join().unwrap();
    assert_eq!(at, TOTAL, "every byte once");
    assert!(receives > 65536, "only {receives} receives");
    eprintln!("{count} buffers: {receives} receives, {rearms} re-arms after ENOBUFS");
    if let Some(kept) = kept {
        assert!(
            stamped(&kept, 0xC3) && kept.len() == 8,
            "the buffer held all along was written"
        );
    }
    drop((last, rs, stream));
    assert_group_whole(&reactor, group, count, "after the wraps");
}

/// Four buffers (a power of two), the first held all along.
#[test]
fn a_buffer_held_while_ring_positions_wrap_keeps_its_canary() {
    let _watch = watchdog();
    wrap_under_a_held_buffer(162, 4, true);
}

/// Three buffers in a ring of four descriptors, under the largest group
/// id, the first held all along.
#[test]
fn three_buffers_under_group_65535_wrap_with_one_held() {
    let _watch = watchdog();
    wrap_under_a_held_buffer(u16::MAX, 3, true);
}

/// One buffer, dropped as soon as it is read: every receive but those
/// racing the drop ends the stream with `ENOBUFS`.
#[test]
fn a_one_buffer_group_wraps_through_re_arms() {
    let _watch = watchdog();
    wrap_under_a_held_buffer(171, 1, false);
}

/// What a multishot receive queued with a callback hands it.
type Calls = Rc<RefCell<Vec<io::Result<Option<RingBuf>>>>>;

/// Queues a multishot receive on `fd` over `group` whose callback records
/// each item, and runs the reactor until its last one.
fn run_multishot(
    reactor: &Reactor,
    fd: &SharedFd,
    group: BufGroup,
) -> Vec<io::Result<Option<RingBuf>>> {
    let calls: Calls = Rc::default();
    let sink = Rc::clone(&calls);
    reactor
        .handle()
        .queue_multishot(RecvMulti::new(fd, group), move |item| {
            sink.borrow_mut().push(item)
        })
        .unwrap();
    reactor.run().unwrap();
    assert_eq!(reactor.in_flight(), 0);
    calls.take()
}

/// A multishot receive queued with a callback over a group of four
/// buffers with 100 bytes waiting: four calls with 16 bytes each, then one
/// last call with `ENOBUFS` (no `MultishotEnded`, no call after). Two
/// buffers given back: queued again, it takes 32 more bytes into exactly
/// those two, and runs dry again with the last 4 bytes left in the socket;
/// with all given back and the peer's end, it takes those 4 and ends at the
/// end of the stream.
#[test]
fn a_multishot_callback_over_a_dry_group_ends_once_with_enobufs_each_time() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 163, 4, 16) else {
        return;
    };
    let (mine, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = SharedFd::new(OwnedFd::from(mine));
    let sent = pattern(100, 3);
    peer.write_all(&sent).unwrap();

    let mut calls = run_multishot(&reactor, &fd, group);
    assert_eq!(calls.len(), 5, "{calls:?}");
    let last = calls.pop().unwrap();
    assert_eq!(errno(&last), Some(libc::ENOBUFS), "{last:?}");
    let mut held: Vec<RingBuf> = calls.into_iter().map(|c| c.unwrap().unwrap()).collect();
    let got: Vec<u8> = held.iter().flat_map(|b| b.to_vec()).collect();
    assert_eq!(got, sent[..64]);

    let back: Vec<u16> = vec![held[2].bid(), held[0].bid()];
    drop(held.remove(2));
    drop(held.remove(0));
    let mut calls = run_multishot(&reactor, &fd, group);
    assert_eq!(calls.len(), 3, "{calls:?}");
    let last = calls.pop().unwrap();
    assert_eq!(errno(&last), Some(libc::ENOBUFS), "{last:?}");
    let more: Vec<RingBuf> = calls.into_iter().map(|c| c.unwrap().unwrap()).collect();
    assert_eq!(more.iter().map(RingBuf::bid).collect::<Vec<_>>(), back);
    let got: Vec<u8> = more.iter().flat_map(|b| b.to_vec()).collect();
    assert_eq!(got, sent[64..96]);

    drop((held, more));
    peer.shutdown(std::net::Shutdown::Write).unwrap();
    let mut calls = run_multishot(&reactor, &fd, group);
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(matches!(calls.pop(), Some(Ok(None))), "the end last");
    let tail = calls.pop().unwrap().unwrap().unwrap();
    assert_eq!(&tail[..], &sent[96..]);
    drop(tail);
    assert_group_whole(&reactor, group, 4, "after the callbacks");
}

/// A reactor dropped while its receive stream is armed and the program
/// holds the buffers it received: the stream yields no buffer after, the
/// bytes the peer sends after the drop stay in the socket (read through a
/// duplicate), the held buffers keep their bytes, and they are sent on, as
/// they are, by another reactor, then dropped.
#[test]
fn a_reactor_dropped_under_an_armed_stream_leaves_later_bytes_in_the_socket() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 164, 4, 32) else {
        return;
    };
    let (mine, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut spy = mine.try_clone().unwrap();
    let stream = UnixStream::from_std(&h, mine);
    let first = pattern(40, 5);
    peer.write_all(&first).unwrap();
    let mut rs = stream.recv_stream(group);
    let mut held = Vec::new();
    let mut got = Vec::new();
    while got.len() < first.len() {
        match reactor.run_until(rs.next()).unwrap() {
            Some(Ok(Some(buf))) => {
                got.extend_from_slice(&buf);
                held.push(buf);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(got, first);
    drop(reactor);
    assert!(h.is_shut_down());
    for _ in 0..2 {
        match poll_once(&mut Box::pin(rs.next())) {
            Poll::Ready(None) => {}
            Poll::Ready(Some(Err(e))) => assert_eq!(e.raw_os_error(), Some(libc::ECANCELED), "{e}"),
            other => panic!("a stream of a dropped reactor gave {other:?}"),
        }
    }

    let later = pattern(50, 6);
    peer.write_all(&later).unwrap();
    assert_eq!(read_n(&mut spy, 50), later, "the bytes sent after the drop");
    let kept: Vec<u8> = held.iter().flat_map(|b| b.to_vec()).collect();
    assert_eq!(kept, first, "the held buffers kept their bytes");

    let other = Reactor::new().unwrap();
    let (a, b) = UnixStream::pair(&other.handle()).unwrap();
    let b_fd = b.shared_fd().clone();
    drop(b);
    let mut echoed = Vec::new();
    for buf in held.drain(..) {
        let ptr = buf.stable_ptr();
        let (r, buf) = other.run_until(a.write_all(buf)).unwrap();
        r.unwrap();
        assert_eq!(buf.stable_ptr(), ptr, "sent from its own memory");
        echoed.extend_from_slice(&buf);
    }
    assert_eq!(echoed, first);
    let (r, v) = other
        .run_until(other.handle().op(uring::reactor::ops::Recv::new(
            &b_fd,
            Vec::with_capacity(64),
        )))
        .unwrap();
    assert_eq!(r.unwrap(), 40);
    assert_eq!(v, first, "the other end got the held buffers' bytes");
    drop((rs, stream));
}

/// A received buffer sent back as it is: a slice of it sends exactly its
/// range, `truncate` shortens what is sent and never lengthens it, a byte
/// changed in place is sent changed, all from the ring's own memory; read
/// into, it holds what the read took (its length set to the count, 0 at
/// the end of the stream). Its group is whole after.
#[test]
fn a_ring_buf_truncated_sliced_changed_and_read_into_sends_exactly_its_bytes() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 165, 2, 16) else {
        return;
    };
    let (a, b) = UnixStream::pair(&h).unwrap();
    let (r, _) = reactor
        .run_until(b.write_all(b"0123456789abcdef".to_vec()))
        .unwrap();
    r.unwrap();
    let buf = reactor
        .run_until(a.recv_ring(group))
        .unwrap()
        .unwrap()
        .unwrap();
    let ptr = buf.stable_ptr();
    assert_eq!((&buf[..], buf.capacity()), (&b"0123456789abcdef"[..], 16));

    let echo = |reactor: &Reactor, buf: RingBuf, want: &[u8]| -> RingBuf {
        let (r, buf) = reactor.run_until(a.write(buf)).unwrap();
        assert_eq!(r.unwrap(), want.len());
        let (r, v) = reactor.run_until(b.read(Vec::with_capacity(64))).unwrap();
        assert_eq!(&v[..r.unwrap()], want);
        assert_eq!(buf.stable_ptr(), ptr);
        buf
    };
    let (r, slice) = reactor.run_until(a.write(buf.slice(2..5))).unwrap();
    assert_eq!(r.unwrap(), 3);
    let (r, v) = reactor.run_until(b.read(Vec::with_capacity(64))).unwrap();
    assert_eq!(&v[..r.unwrap()], b"234");
    let mut buf = slice.into_inner();
    buf.truncate(4);
    let mut buf = echo(&reactor, buf, b"0123");
    buf.truncate(100);
    assert_eq!(buf.len(), 4, "truncate never lengthens");
    buf[0] = b'X';
    let buf = echo(&reactor, buf, b"X123");

    let (r, _) = reactor.run_until(b.write_all(b"hi".to_vec())).unwrap();
    r.unwrap();
    let (r, buf) = reactor.run_until(a.read(buf)).unwrap();
    assert_eq!(r.unwrap(), 2);
    assert_eq!((&buf[..], buf.stable_ptr()), (&b"hi"[..], ptr));
    drop(b);
    let (r, buf) = reactor.run_until(a.read(buf)).unwrap();
    assert_eq!(r.unwrap(), 0, "the end of the stream");
    assert!(
        buf.is_empty(),
        "a read of nothing: its length is the count, 0"
    );
    drop(buf);
    drop(a);
    assert_group_whole(&reactor, group, 2, "after the echoes");
}

/// `UdpSocket::recv_ring` says an empty datagram takes no buffer and is
/// reported as `UnexpectedEof`: eight of them over a group of one buffer
/// each come so, and the datagram after them gets the buffer. A multishot
/// receive of the datagram socket ends at an empty datagram as at the end
/// of a stream (`Ok(None)`, the kernel's result of 0), and a new one takes
/// the datagrams after it.
#[test]
fn empty_datagrams_take_no_ring_buffer_and_end_a_multishot_receive() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 166, 1, 32) else {
        return;
    };
    let sender = std::net::UdpSocket::bind(any()).unwrap();
    let std_rx = std::net::UdpSocket::bind(any()).unwrap();
    sender.connect(std_rx.local_addr().unwrap()).unwrap();
    let spare = std_rx.try_clone().unwrap();
    let rx = UdpSocket::from_std(&h, std_rx);
    for round in 0..8 {
        sender.send(b"").unwrap();
        let r = reactor.run_until(rx.recv_ring(group)).unwrap();
        match &r {
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {}
            other => panic!("round {round}: an empty datagram gave {other:?}"),
        }
    }
    let (ux, ux_peer) = std::os::unix::net::UnixDatagram::pair().unwrap();
    let ux = uring::net::UnixDatagram::from_std(&h, ux);
    ux_peer.send(b"").unwrap();
    let r = reactor.run_until(ux.recv_ring(group)).unwrap();
    assert!(
        matches!(r, Ok(None)),
        "an empty Unix datagram: {r:?} (its doc says nothing of it)"
    );
    sender.send(b"after").unwrap();
    let buf = reactor.run_until(rx.recv_ring(group)).unwrap().unwrap();
    assert_eq!(&buf[..], b"after");
    drop(buf);

    let Some(four) = group_or_skip(&h, 168, 4, 32) else {
        return;
    };
    let fd = SharedFd::new(OwnedFd::from(spare));
    for d in [&b"a"[..], b"bb", b"", b"ccc"] {
        sender.send(d).unwrap();
    }
    let mut items = Vec::new();
    let mut s = h.stream(RecvMulti::new(&fd, four));
    while let Some(item) = reactor.run_until(s.next()).unwrap() {
        match item {
            Ok(Some(buf)) => items.push(Some(buf.to_vec())),
            Ok(None) => items.push(None),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(items, [Some(b"a".to_vec()), Some(b"bb".to_vec()), None]);
    let mut s = h.stream(RecvMulti::new(&fd, four));
    match reactor.run_until(s.next()).unwrap() {
        Some(Ok(Some(buf))) => assert_eq!(&buf[..], b"ccc"),
        other => panic!("the datagram after the empty one: {other:?}"),
    }
    drop(s);
    uring_tests::run_for(&reactor, 5);
    assert_group_whole(&reactor, group, 1, "after the datagrams");
    assert_group_whole(&reactor, four, 4, "after the multishot receives");
}

/// `AsyncRead` over a ring of one buffer, read a byte at a time: while it
/// holds the buffer, partly read, a receive into the ring is refused
/// (`InvalidInput`) and the peer's next bytes wait (the multishot receive
/// runs dry); every byte is read once, in order, through the held buffer
/// and the one-shot receive the dry ring falls back to, and the ring is
/// whole once the stream is dropped.
#[test]
fn async_read_byte_by_byte_over_a_one_buffer_ring_loses_nothing() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 167, 1, 32) else {
        return;
    };
    let (mut stream, mut peer) = connected(&h);
    stream.set_read_ring(Some(group));
    let sent = pattern(32 + 10 + 5, 9);
    peer.write_all(&sent[..32]).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < sent.len() {
        assert!(Instant::now() < deadline, "stuck at {}", got.len());
        let mut one = [0u8; 1];
        let n = reactor
            .run_until(AsyncReadExt::read(&mut stream, &mut one))
            .unwrap()
            .unwrap();
        assert_eq!(n, 1, "at {}", got.len());
        got.push(one[0]);
        if got.len() == 1 {
            let r = reactor.run_until(stream.recv_ring(group)).unwrap();
            assert_eq!(r.err().map(|e| e.kind()), Some(io::ErrorKind::InvalidInput));
            peer.write_all(&sent[32..42]).unwrap();
        }
        if got.len() == 42 {
            peer.write_all(&sent[42..]).unwrap();
        }
    }
    assert_eq!(got, sent);
    drop(stream);
    uring_tests::run_for(&reactor, 5);
    assert_group_whole(&reactor, group, 1, "after the reads");
}

/// A multishot receive whose callback panics at its second buffer (the
/// first one kept by the program): the panic comes out of the run, the
/// kept buffer keeps its canary, and the reactor cancels the op, whose
/// later completions it drops (SAFETY.md): the run ends with nothing in
/// flight, the bytes sent after stay in the socket (an abandoned receive
/// once went on swallowing them until cancelled by hand), the stale id
/// cancels nothing, and the group is whole.
#[test]
fn a_multishot_callback_that_panics_has_its_receive_cancelled() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 169, 4, 16) else {
        return;
    };
    let (mine, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut spy = mine.try_clone().unwrap();
    let fd = SharedFd::new(OwnedFd::from(mine));
    let kept: Rc<RefCell<Vec<RingBuf>>> = Rc::default();
    let calls = Rc::new(std::cell::Cell::new(0u32));
    let (sink, count) = (Rc::clone(&kept), Rc::clone(&calls));
    let id = h
        .queue_multishot(RecvMulti::new(&fd, group), move |item| {
            count.set(count.get() + 1);
            let mut buf = item.unwrap().unwrap();
            if count.get() == 2 {
                panic!("the callback's own panic");
            }
            buf.fill(0xEE);
            sink.borrow_mut().push(buf);
        })
        .unwrap();
    peer.write_all(&pattern(16, 1)).unwrap();
    uring_tests::run_for(&reactor, 5);
    assert_eq!(calls.get(), 1);
    peer.write_all(&pattern(16, 2)).unwrap();
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        uring_tests::run_for(&reactor, 20)
    }));
    assert!(unwound.is_err(), "the callback's panic came out of the run");
    assert_eq!(calls.get(), 2);
    // The run's own timeout, left behind by the unwinding, and the cancel
    // settle; a run ends, nothing being in flight.
    reactor.run().unwrap();
    assert_eq!(reactor.in_flight(), 0, "the receive was cancelled");
    for round in 0..8u8 {
        peer.write_all(&pattern(16, 10 + round)).unwrap();
        uring_tests::run_for(&reactor, 2);
    }
    assert_eq!(calls.get(), 2, "no call after the panic");
    let mut rest = [0u8; 128];
    spy.read_exact(&mut rest).unwrap();
    let expected: Vec<u8> = (0..8u8).flat_map(|r| pattern(16, 10 + r)).collect();
    assert_eq!(
        &rest[..],
        &expected[..],
        "the bytes sent after the panic stay"
    );
    assert!(
        kept.borrow()
            .iter()
            .all(|b| stamped(b, 0xEE) && b.len() == 16)
    );
    assert!(!h.cancel(id).unwrap(), "the ended op's id cancels nothing");
    kept.borrow_mut().clear();
    assert_group_whole(&reactor, group, 4, "after the panic");
}

/// A receive future completed and then given to `mem::forget`, and a
/// receive stream forgotten with a buffer queued: their buffers are never
/// handed out again (a group of two runs dry: `ENOBUFS`), the reactor
/// still counts nothing in flight for the completed future, and it drops
/// without a hang.
#[test]
fn forgotten_ring_receives_keep_their_buffers_out_of_the_ring() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 170, 2, 16) else {
        return;
    };
    let (a, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let stream = UnixStream::from_std(&h, a);
    peer.write_all(b"one").unwrap();
    let mut fut = Box::pin(stream.recv_ring(group));
    let done = uring_tests::net::drive(&reactor, Duration::from_secs(10), || {
        match poll_once(&mut fut) {
            Poll::Ready(r) => Some(r),
            Poll::Pending => None,
        }
    });
    let buf = done.unwrap().unwrap().unwrap();
    assert_eq!(&buf[..], b"one");
    std::mem::forget(buf);
    drop(fut);

    peer.write_all(b"two").unwrap();
    let mut rs = stream.recv_stream(group);
    let first = uring_tests::net::drive(&reactor, Duration::from_secs(10), || {
        match poll_once(&mut Box::pin(rs.next())) {
            Poll::Ready(item) => Some(item),
            Poll::Pending => None,
        }
    });
    match first {
        Some(Some(Ok(Some(b)))) => {
            assert_eq!(&b[..], b"two");
            std::mem::forget(b);
        }
        other => panic!("{other:?}"),
    }
    std::mem::forget(rs);
    peer.write_all(b"three").unwrap();
    let r = reactor.run_until(stream.recv_ring(group)).unwrap();
    match r {
        // The forgotten stream's receive is still armed and may take it,
        // or this receive finds the ring dry: either way no buffer is
        // handed out a second time.
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ENOBUFS), "{e}"),
        Ok(b) => panic!("a third buffer out of a group of two: {b:?}"),
    }
    drop(stream);
    drop(reactor);
}
