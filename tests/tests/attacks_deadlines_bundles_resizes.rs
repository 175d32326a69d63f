//! Safe code against deadlines set,
//! moved or lifted under a read or a send started through tokio's
//! `AsyncRead` / `AsyncWrite` (the op is cancelled and started again),
//! with the stream dropped right after, and changed at every poll while
//! the peer reads or writes slowly (no byte lost or repeated); send and
//! receive bundles without a provided buffer in a scope that tags only
//! what it must; kernel-allocated (mmap) raw buffer rings dropped while a
//! receive waits on their group, and the group registered again; ring
//! resizes on rings of 128-byte SQEs, 32-byte CQEs, with no SQ array and
//! in the program's memory, down to the smallest sizes; and socket options
//! read back by `GetSockOpt` through a typed `SockOpt` (the errno of a
//! value longer than the address, a pending error read and cleared).
//!
//! Each test asserts what the kernel did: the bytes on the wire, the
//! results and errnos of completions, canary bytes, the ops left in
//! flight.

use std::io::{self, Read as _, Write as _};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::io::AsyncWrite;
use uring::net::TcpStream;
use uring::ops::{GetSockOpt, Nop, Read, Recv, Send};
use uring::reactor::Reactor;
use uring::{BufferGroup, Builder, Cqe32, MsgFlags, RecvFlags, Ring, SendFlags};
use uring::{SockOpt, Sqe64, Sqe128, SqeSize, UniformCqe};
use uring_tests::net::{
    assert_kernel_bytes, connected, drain_to_end, fill_send_side, noop_cx, poll_read,
};
use uring_tests::{
    PATIENCE, pattern, require_kernel, run_for, skip, tcp_pair, under_valgrind, watchdog,
};

// ---------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// Deadlines changed under tokio I/O in flight
// ---------------------------------------------------------------------------

/// A write taken by `poll_write` while the socket is full, so that its
/// send waits; the write deadline is then changed (lifted, set far away,
/// or moved later: none of them can fire) and the stream polled once
/// (`poll_flush`, `Pending`), which cancels the send to start it again
/// under the new deadline; the reactor runs a round (the cancel lands,
/// the send ends with `ECANCELED`, nothing sent), or none (the cancel is
/// still queued); then the stream is dropped, as a `select!` or a
/// `timeout` around the flush drops it. The module says a send in flight
/// when the stream is dropped runs to its end, since its bytes were
/// reported written: once the peer reads, every byte reported written
/// must reach it.
#[test]
fn a_stream_dropped_after_its_write_deadline_changed_still_sends_what_it_reported() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let far = || Some(Instant::now() + Duration::from_secs(60));
    let changes: [(&str, Option<Instant>, Option<Instant>); 3] = [
        ("lifted", far(), None),
        ("set", None, far()),
        (
            "moved later",
            far(),
            Some(Instant::now() + Duration::from_secs(120)),
        ),
    ];
    let mut lost = Vec::new();
    let cases = changes
        .into_iter()
        .flat_map(|(what, before, after)| [20, 0].map(|round| (what, before, after, round)));
    for (i, (what, before, after, round)) in cases.enumerate() {
        let what = format!("{what}, {round} ms of the reactor before the drop");
        let (mut stream, mut peer) = connected(&h);
        let (filler, filled) = fill_send_side(stream.as_fd());
        let data = pattern(3000, 40 + i as u8);
        stream.set_write_deadline(before);
        match Pin::new(&mut stream).poll_write(&mut noop_cx(), &data) {
            Poll::Ready(Ok(n)) => assert_eq!(n, data.len(), "{what}"),
            other => panic!("{what}: the write: {other:?}"),
        }
        reactor.submit().unwrap();
        run_for(&reactor, 5);
        stream.set_write_deadline(after);
        assert!(
            Pin::new(&mut stream)
                .poll_flush(&mut noop_cx())
                .is_pending(),
            "{what}: the send cannot have ended: the socket is full"
        );
        // A round of the reactor, as any program's loop runs before it
        // drops the stream: the cancel the poll queued reaches the kernel
        // (or no round: the cancel is still queued at the drop).
        if round > 0 {
            run_for(&reactor, round);
        }
        drop(stream);
        drop(filler);
        let got = drain_to_end(&reactor, &mut peer, Duration::from_secs(10));
        assert_eq!(h.in_flight(), 0, "{what}");
        assert!(
            got[..filled.min(got.len())].iter().all(|&b| b == 0),
            "{what}"
        );
        if got.len() != filled + data.len() || got[filled..] != data[..] {
            lost.push(format!(
                "deadline {what}: the peer got {} of the {} bytes reported written",
                got.len().saturating_sub(filled),
                data.len()
            ));
        }
    }
    assert!(lost.is_empty(), "{lost:#?}");
}

/// A write deadline changed and the stream dropped with no poll between:
/// the send in flight still carries its old deadline. Lifted, the old
/// deadline cuts the send all the same, and the send starts again with
/// none, as the next poll would have started it; left as it is, the
/// deadline ends the send and nothing of it reaches the peer.
#[test]
fn a_deadline_changed_unpolled_before_the_drop_still_governs_the_send() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    for lifted in [true, false] {
        let (mut stream, mut peer) = connected(&h);
        let (filler, filled) = fill_send_side(stream.as_fd());
        let data = pattern(3000, 60 + u8::from(lifted));
        stream.set_write_deadline(Some(Instant::now() + Duration::from_millis(100)));
        match Pin::new(&mut stream).poll_write(&mut noop_cx(), &data) {
            Poll::Ready(Ok(n)) => assert_eq!(n, data.len()),
            other => panic!("the write: {other:?}"),
        }
        reactor.submit().unwrap();
        run_for(&reactor, 5);
        if lifted {
            stream.set_write_deadline(None);
        }
        drop(stream);
        // The old deadline passes with the socket still full.
        run_for(&reactor, 250);
        drop(filler);
        let got = drain_to_end(&reactor, &mut peer, Duration::from_secs(10));
        assert_eq!(h.in_flight(), 0, "lifted: {lifted}");
        if lifted {
            assert_eq!(
                got.len(),
                filled + data.len(),
                "every byte reported written"
            );
            assert_kernel_bytes(&got[filled..], &data, "the bytes after the filler");
        } else {
            assert_eq!(
                got.len(),
                filled,
                "the deadline ended the send before a byte"
            );
        }
    }
}

/// The same without any deadline change: the send dropped with the stream
/// runs to its end (the behaviour the test above expects).
#[test]
fn a_stream_dropped_with_its_send_waiting_sends_what_it_reported() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    for deadline in [None, Some(Instant::now() + Duration::from_secs(60))] {
        let (mut stream, mut peer) = connected(&h);
        let (filler, filled) = fill_send_side(stream.as_fd());
        let data = pattern(3000, 9);
        stream.set_write_deadline(deadline);
        match Pin::new(&mut stream).poll_write(&mut noop_cx(), &data) {
            Poll::Ready(Ok(n)) => assert_eq!(n, data.len()),
            other => panic!("the write: {other:?}"),
        }
        reactor.submit().unwrap();
        run_for(&reactor, 5);
        assert!(
            Pin::new(&mut stream)
                .poll_flush(&mut noop_cx())
                .is_pending()
        );
        run_for(&reactor, 20);
        drop(stream);
        drop(filler);
        let got = drain_to_end(&reactor, &mut peer, Duration::from_secs(10));
        assert_eq!(got.len(), filled + data.len(), "{deadline:?}");
        assert_eq!(&got[filled..], &data[..], "{deadline:?}");
        assert_eq!(h.in_flight(), 0);
    }
}

/// A deadline that changes before every poll (lifted, 60 s, 120 s away:
/// never one that fires) while a slow peer reads: every poll of
/// `poll_write`, `poll_flush` and `poll_shutdown` cancels the send in
/// flight and starts what it left again, a send the cancel cut after part
/// of its bytes included (`MSG_WAITALL`: the kernel reports the part).
/// What the peer reads must be every byte reported written, once, in
/// order, and no poll may fail.
#[test]
fn write_deadlines_changed_at_every_poll_lose_and_repeat_no_byte() {
    if under_valgrind() {
        skip("the slow peer is a thread that must read while the test polls");
        return;
    }
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (mut stream, peer) = connected(&h);
    // Small buffers: sends are cut short and wait often.
    uring_tests::set_int_option(stream.as_fd(), libc::SOL_SOCKET, libc::SO_SNDBUF, 4096).unwrap();
    uring_tests::set_int_option(peer.as_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF, 4096).unwrap();
    let reader = std::thread::spawn(move || {
        let mut peer = peer;
        peer.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut got = Vec::new();
        let mut chunk = [0u8; 1500];
        let mut rounds = 0u32;
        loop {
            match peer.read(&mut chunk) {
                Ok(0) => return got,
                Ok(n) => got.extend_from_slice(&chunk[..n]),
                Err(e) => panic!("the peer's read: {e} ({} bytes read)", got.len()),
            }
            rounds += 1;
            if rounds.is_multiple_of(2) {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    });
    let base = Instant::now();
    let mut turn = 0u32;
    let mut next_deadline = |stream: &mut TcpStream| {
        turn += 1;
        stream.set_write_deadline(match turn % 3 {
            0 => None,
            1 => Some(base + Duration::from_secs(60)),
            _ => Some(base + Duration::from_secs(120)),
        });
    };
    let mut want = Vec::new();
    let mut polls = 0u64;
    for i in 0..40u32 {
        let data = pattern(700 + (i as usize * 5303) % 12_000, i as u8);
        loop {
            next_deadline(&mut stream);
            polls += 1;
            match Pin::new(&mut stream).poll_write(&mut noop_cx(), &data) {
                Poll::Ready(Ok(n)) => {
                    assert_eq!(n, data.len(), "write {i}");
                    break;
                }
                Poll::Ready(Err(e)) => panic!("write {i}: {e} ({:?})", e.raw_os_error()),
                Poll::Pending => run_for(&reactor, 1),
            }
        }
        want.extend_from_slice(&data);
        // Some flushes in between, each under yet another deadline.
        if i % 4 == 0 {
            next_deadline(&mut stream);
            polls += 1;
            if let Poll::Ready(Err(e)) = Pin::new(&mut stream).poll_flush(&mut noop_cx()) {
                panic!("flush after write {i}: {e} ({:?})", e.raw_os_error());
            }
        }
    }
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        next_deadline(&mut stream);
        polls += 1;
        match Pin::new(&mut stream).poll_shutdown(&mut noop_cx()) {
            Poll::Ready(Ok(())) => break,
            Poll::Ready(Err(e)) => panic!("shutdown: {e} ({:?})", e.raw_os_error()),
            Poll::Pending => {
                assert!(Instant::now() < end, "the shutdown still waits");
                run_for(&reactor, 1);
            }
        }
    }
    let got = reader.join().unwrap();
    eprintln!("{} bytes in {polls} polls", want.len());
    assert_eq!(got.len(), want.len(), "bytes on the wire");
    if let Some(at) = got.iter().zip(&want).position(|(a, b)| a != b) {
        panic!("the wire differs from what was written first at byte {at}");
    }
    drop(stream);
    run_for(&reactor, 5);
    assert_eq!(h.in_flight(), 0);
}

/// A read deadline that changes before every poll of `poll_read` (never
/// one that fires) while the peer writes in small pieces with pauses:
/// each poll cancels the receive in flight and starts it again. Every
/// byte the peer wrote is read once, in order, and no poll fails.
#[test]
fn read_deadlines_changed_at_every_poll_lose_and_repeat_no_byte() {
    if under_valgrind() {
        skip("the peer is a thread that must write while the test polls");
        return;
    }
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (mut stream, peer) = connected(&h);
    let want: Vec<u8> = (0..120u32)
        .flat_map(|i| pattern(1 + (i as usize * 97) % 3000, i as u8))
        .collect();
    let sent = want.clone();
    let writer = std::thread::spawn(move || {
        let mut peer = peer;
        let mut at = 0;
        let mut i = 0usize;
        while at < sent.len() {
            let n = (1 + (i * 97) % 3000).min(sent.len() - at);
            peer.write_all(&sent[at..at + n]).unwrap();
            at += n;
            i += 1;
            std::thread::sleep(Duration::from_micros(50 * (i as u64 % 5)));
        }
        peer.shutdown(std::net::Shutdown::Write).unwrap();
        peer
    });
    let base = Instant::now();
    let mut got = Vec::new();
    let mut turn = 0u32;
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        turn += 1;
        stream.set_read_deadline(match turn % 3 {
            0 => None,
            1 => Some(base + Duration::from_secs(60)),
            _ => Some(base + Duration::from_secs(120)),
        });
        let mut buf = [0u8; 700];
        match poll_read(&mut stream, &mut buf) {
            Poll::Ready(Ok(0)) => break,
            Poll::Ready(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Poll::Ready(Err(e)) => panic!(
                "read after {} bytes: {e} ({:?})",
                got.len(),
                e.raw_os_error()
            ),
            Poll::Pending => {
                assert!(
                    Instant::now() < end,
                    "reads still wait ({} bytes)",
                    got.len()
                );
                run_for(&reactor, 1);
            }
        }
    }
    let _peer = writer.join().unwrap();
    eprintln!("{} bytes in {turn} polls", got.len());
    assert_kernel_bytes(&got, &want, "bytes read");
    drop(stream);
    run_for(&reactor, 5);
    assert_eq!(h.in_flight(), 0);
}

/// Deadlines moved into the past under a waiting read and a waiting send:
/// the next poll ends each with `TimedOut` (never `ECANCELED`), promptly;
/// what reaches the peer is a prefix of what was reported written, and
/// the peer's bytes sent after are read once the deadline is lifted.
#[test]
fn deadlines_moved_into_the_past_end_waiting_tokio_io_timed_out() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();

    // The read.
    let (mut stream, mut peer) = connected(&h);
    let mut buf = [0u8; 32];
    stream.set_read_deadline(Some(Instant::now() + Duration::from_secs(60)));
    assert!(poll_read(&mut stream, &mut buf).is_pending());
    reactor.submit().unwrap();
    run_for(&reactor, 5);
    stream.set_read_deadline(Some(Instant::now() - Duration::from_millis(1)));
    let start = Instant::now();
    let r = loop {
        match poll_read(&mut stream, &mut buf) {
            Poll::Ready(r) => break r,
            Poll::Pending => {
                assert!(start.elapsed() < Duration::from_secs(5), "the read waits");
                run_for(&reactor, 1);
            }
        }
    };
    let e = r.expect_err("a read with nothing sent");
    assert_eq!(
        e.kind(),
        io::ErrorKind::TimedOut,
        "{e} ({:?})",
        e.raw_os_error()
    );
    stream.set_read_deadline(None);
    peer.write_all(b"after the past deadline").unwrap();
    let mut got = Vec::new();
    while got.len() < 23 {
        match poll_read(&mut stream, &mut buf) {
            Poll::Ready(Ok(n)) => {
                assert!(n > 0);
                got.extend_from_slice(&buf[..n]);
            }
            Poll::Ready(Err(e)) => panic!("read with no deadline: {e}"),
            Poll::Pending => run_for(&reactor, 1),
        }
    }
    assert_kernel_bytes(&got, b"after the past deadline", "the read after");

    // The send.
    let (mut stream, mut peer) = connected(&h);
    let (filler, filled) = fill_send_side(stream.as_fd());
    let data = pattern(5000, 77);
    stream.set_write_deadline(Some(Instant::now() + Duration::from_secs(60)));
    match Pin::new(&mut stream).poll_write(&mut noop_cx(), &data) {
        Poll::Ready(Ok(n)) => assert_eq!(n, data.len()),
        other => panic!("the write: {other:?}"),
    }
    reactor.submit().unwrap();
    run_for(&reactor, 5);
    stream.set_write_deadline(Some(Instant::now() - Duration::from_millis(1)));
    let start = Instant::now();
    let r = loop {
        match Pin::new(&mut stream).poll_flush(&mut noop_cx()) {
            Poll::Ready(r) => break r,
            Poll::Pending => {
                assert!(start.elapsed() < Duration::from_secs(5), "the flush waits");
                run_for(&reactor, 1);
            }
        }
    };
    let e = r.expect_err("a send into a full socket");
    assert_eq!(
        e.kind(),
        io::ErrorKind::TimedOut,
        "{e} ({:?})",
        e.raw_os_error()
    );
    drop(stream);
    drop(filler);
    let got = drain_to_end(&reactor, &mut peer, Duration::from_secs(10));
    assert!(got.len() >= filled);
    let sent = &got[filled..];
    assert!(sent.len() <= data.len());
    assert_eq!(sent, &data[..sent.len()], "a prefix of what was written");
    assert_eq!(h.in_flight(), 0);
}

// ---------------------------------------------------------------------------
// Bundles without a provided buffer in a scope
// ---------------------------------------------------------------------------

/// A receive flagged as a bundle with no provided buffer (Linux 6.18 takes
/// it, and may receive again into what is left of the buffer), beside a
/// pending read of a pipe, in a scope that tags only what it must: each
/// op completes once, without `F_MORE`, the receive with the bytes it
/// wrote (the stream's prefix), and the read's buffer is untouched after
/// the scope returns.
#[test]
fn a_receive_bundle_without_a_provided_buffer_is_counted_once_in_a_scope() {
    let _watch = watchdog();
    if !require_kernel(6, 10, "bundles") {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let (mut client, server) = tcp_pair();
    let (rd, wr) = uring_tests::pipe();
    let stream = pattern(300, 5);
    client.write_all(&stream[..100]).unwrap();
    client.write_all(&stream[100..]).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let mut victim = [0xC3u8; 16];
    let mut buf = [0x11u8; 200];
    let (results, in_flight) = ring.scope(|s| {
        s.push(Read::new(&rd, &mut victim[..]).user_data(1))
            .unwrap();
        let recv = Recv::new(&server, &mut buf[..]).recv_flags(RecvFlags::BUNDLE);
        s.push(recv.user_data(2)).unwrap();
        let mut results = Vec::new();
        let end = Instant::now() + PATIENCE;
        while results.is_empty() && Instant::now() < end {
            s.submit().unwrap();
            let _ = s.wait_timeout(1, Duration::from_millis(100));
            results.extend(
                s.completions()
                    .map(|c| (c.user_data(), c.res(), c.cqe().has_more())),
            );
        }
        (results, s.in_flight())
    });
    assert_eq!(in_flight, 1, "the read of the pipe waits");
    assert_eq!(results.len(), 1, "{results:?}");
    let (ud, res, more) = results[0];
    assert_eq!((ud, more), (2, false), "{results:?}");
    match res {
        -22 => skip("this kernel refuses receive bundles without a provided buffer"),
        n => {
            assert!(n > 0 && n <= 200, "{results:?}");
            let n = n as usize;
            assert_eq!(&buf[..n], &stream[..n], "the bytes received");
            assert!(
                buf[n..].iter().all(|&b| b == 0x11),
                "written past the count"
            );
        }
    }
    std::fs::File::from(wr)
        .write_all(b"after the scope")
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(victim, [0xC3; 16], "the read wrote after its scope");
}

/// A send bundle with no provided buffer (and one flagged `MSG_WAITALL`,
/// `POLL_FIRST`) into a socket that takes nothing: the scope's end cancels
/// it and waits. After the scope the buffer is the program's again and
/// rewritten; once the peer reads, the wire holds a prefix of the
/// original bytes and none of the rewritten ones.
#[test]
fn a_send_bundle_waiting_on_a_full_socket_ends_with_its_scope() {
    let _watch = watchdog();
    if !require_kernel(6, 10, "bundles") {
        return;
    }
    let combos = [
        (SendFlags::BUNDLE, MsgFlags::empty()),
        (SendFlags::BUNDLE, MsgFlags::WAITALL),
        (SendFlags::BUNDLE | SendFlags::POLL_FIRST, MsgFlags::empty()),
    ];
    for (i, (send_flags, msg_flags)) in combos.into_iter().enumerate() {
        let mut ring = Ring::new(8).unwrap();
        let (client, mut server) = tcp_pair();
        let (filler, filled) = fill_send_side(client.as_fd());
        let mut data = pattern(20_000, 60 + i as u8);
        let original = data.clone();
        let results = ring.scope(|s| {
            let send = Send::new(&client, &data[..])
                .send_flags(send_flags)
                .msg_flags(msg_flags);
            s.push(send.user_data(7)).unwrap();
            s.submit().unwrap();
            let _ = s.wait_timeout(1, Duration::from_millis(30));
            s.completions()
                .map(|c| (c.res(), c.cqe().has_more()))
                .collect::<Vec<_>>()
        });
        data.fill(0xEE);
        drop(filler);
        drop(client);
        drop(ring);
        let mut got = Vec::new();
        server.read_to_end(&mut got).unwrap();
        assert!(got.len() >= filled, "{i}");
        let sent = &got[filled..];
        assert!(
            !sent.contains(&0xEE) || original.contains(&0xEE),
            "{i}: the kernel read the buffer after the scope"
        );
        assert!(sent.len() <= original.len(), "{i}");
        assert_eq!(
            sent,
            &original[..sent.len()],
            "{i}: a prefix of the bytes lent"
        );
        // What the scope saw before its end never claims more than the
        // wire holds.
        let claimed: i32 = results.iter().filter(|r| r.0 > 0).map(|r| r.0).sum();
        assert!(claimed as usize <= sent.len(), "{i}: {results:?}");
    }
}

// ---------------------------------------------------------------------------
// Kernel-allocated raw buffer rings
// ---------------------------------------------------------------------------

const CANARY: u8 = 0xA7;

/// How many mappings of the descriptors the kernel allocated for `group`
/// the process has.
fn ring_mappings(group: u16) -> usize {
    let offset = format!(
        "{:08x}",
        uring::sys::IORING_OFF_PBUF_RING | (i64::from(group) << uring::sys::IORING_OFF_PBUF_SHIFT)
    );
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter(|l| l.contains("io_uring") && l.split_whitespace().nth(2) == Some(&offset[..]))
        .count()
}

/// An incremental raw ring whose descriptors the kernel allocated, with
/// one buffer of 64 bytes: a first receive takes 10 bytes of it
/// (`BUF_MORE`), a second waits in the scope; the ring is then dropped
/// inside the scope (unmapped, the group unregistered). The waiting
/// receive ends with `ENOBUFS` when bytes come, the buffer's other 54
/// bytes stay untouched, and the group registered again (kernel-allocated
/// once more) starts empty: nothing of the old descriptors is handed out.
#[test]
fn a_kernel_allocated_raw_ring_dropped_while_a_receive_waits_on_it() {
    let _watch = watchdog();
    if !require_kernel(6, 12, "incremental buffer rings") {
        return;
    }
    const GROUP: u16 = 1999;
    let mut arena = vec![CANARY; 256];
    let base = arena.as_mut_ptr();
    let mut ring = Ring::new(8).unwrap();
    let mut raw = ring
        .register_buf_ring_raw_incremental_mmap(BufferGroup::new(GROUP), 4)
        .unwrap();
    assert_eq!(ring_mappings(GROUP), 1);
    // SAFETY: `arena` outlives the ring and every op (dropped after it);
    // it is read only with no op in flight that could write it.
    unsafe { raw.add(base.add(64), 64, 5) }.unwrap();
    raw.advance();
    let (mut tx, rx) = std::os::unix::net::UnixStream::pair().unwrap();
    tx.write_all(&pattern(10, 1)).unwrap();
    let mut raw = Some(raw);
    let results = ring.scope(|s| {
        let group = raw.as_ref().unwrap().select();
        s.push(Recv::new(&rx, group).user_data(1)).unwrap();
        s.submit_and_wait(1).unwrap();
        let first: Vec<(i32, Option<u16>, u32)> = s
            .completions()
            .map(|c| (c.res(), c.cqe().buffer_id(), c.cqe().flags()))
            .collect();
        // The second receive waits for bytes.
        s.push(Recv::new(&rx, group).user_data(2)).unwrap();
        s.submit().unwrap();
        let _ = s.wait_timeout(1, Duration::from_millis(20));
        assert_eq!(s.completions().count(), 0, "nothing to receive yet");
        drop(raw.take());
        tx.write_all(b"late bytes").unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let second: Vec<(i32, Option<u16>, u32)> = s
            .completions()
            .map(|c| (c.res(), c.cqe().buffer_id(), c.cqe().flags()))
            .collect();
        (first, second)
    });
    let (first, second) = results;
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].0, first[0].1), (10, Some(5)), "{first:?}");
    assert_ne!(
        first[0].2 & uring::sys::IORING_CQE_F_BUF_MORE,
        0,
        "{first:?}"
    );
    assert_eq!(second.len(), 1);
    assert_eq!(
        (second[0].0, second[0].1),
        (-libc::ENOBUFS, None),
        "{second:?}"
    );
    assert_eq!(ring_mappings(GROUP), 0, "the descriptors are unmapped");
    assert_eq!(&arena[64..74], &pattern(10, 1)[..]);
    assert!(arena[..64].iter().all(|&b| b == CANARY));
    assert!(
        arena[74..].iter().all(|&b| b == CANARY),
        "written after the drop"
    );
    // Registered again: the kernel's new descriptors hold nothing.
    let raw = ring
        .register_buf_ring_raw_mmap(BufferGroup::new(GROUP), 4)
        .unwrap();
    assert_eq!(raw.head().unwrap(), 0);
    let results = ring.scope(|s| {
        s.push(Recv::new(&rx, raw.select()).user_data(3)).unwrap();
        s.submit_and_wait(1).unwrap();
        s.completions()
            .map(|c| (c.res(), c.cqe().buffer_id()))
            .collect::<Vec<_>>()
    });
    assert_eq!(results, [(-libc::ENOBUFS, None)]);
    raw.unregister().unwrap();
    assert_eq!(ring_mappings(GROUP), 0);
    let mut rest = [0u8; 10];
    let mut rx = rx;
    rx.read_exact(&mut rest).unwrap();
    assert_eq!(&rest, b"late bytes", "the socket kept the bytes");
    drop(ring);
    assert!(arena[74..].iter().all(|&b| b == CANARY));
}

// ---------------------------------------------------------------------------
// Resizes of rings of every layout
// ---------------------------------------------------------------------------

/// Resizes a ring of the layout `S`/`C` (with `no_sqarray`, in the
/// program's memory with `no_mmap`) through sizes whose CQ ends on and
/// off a cache line, and after each runs three laps of its SQ of NOPs and
/// a read of a pipe: each `user_data` comes back once, the read's bytes
/// are the pipe's.
fn resize_walk<S: SqeSize, C: UniformCqe>(what: &str, builder: Builder<'_>) {
    let mut ring: Ring<S, C> = match builder
        .single_issuer()
        .defer_taskrun()
        .build_sized::<S, C>(8)
    {
        Ok(ring) => ring,
        Err(e) => {
            skip(format_args!("{what}: {e}"));
            return;
        }
    };
    let (rd, wr) = uring_tests::pipe();
    let mut wr = std::fs::File::from(wr);
    let mut next = 0u64;
    for (sq, cq) in [
        (1, 2),
        (2, 4),
        (1, 4),
        (4, 8),
        (8, 16),
        (2, 64),
        (16, 32),
        (4, 4),
    ] {
        if let Err(e) = ring.resize(sq, cq) {
            panic!("{what}: resize to {sq}/{cq}: {e}");
        }
        assert_eq!(ring.sq_entries(), sq, "{what}");
        let sq = ring.sq_entries();
        let first = next;
        while next < first + 3 * u64::from(sq) {
            let mut pushed = 0;
            while ring.push(Nop::new().user_data(next)).is_ok() {
                next += 1;
                pushed += 1;
            }
            assert!(
                pushed > 0,
                "{what}: resized to {sq}/{cq}: the SQ takes nothing"
            );
            ring.submit_and_wait(pushed).unwrap();
            let mut seen: Vec<u64> = ring.completions().map(|c| c.as_ref().user_data()).collect();
            seen.sort_unstable();
            let want: Vec<u64> = (next - u64::from(pushed)..next).collect();
            assert_eq!(seen, want, "{what}: resized to {sq}/{cq}");
        }
        let bytes = pattern(12, sq as u8 ^ cq as u8);
        wr.write_all(&bytes).unwrap();
        let mut buf = [0u8; 12];
        let res = ring.scope(|s| {
            s.push(Read::new(&rd, &mut buf[..]).user_data(u64::MAX >> 2))
                .unwrap();
            s.submit_and_wait(1).unwrap();
            s.completions()
                .map(|c| c.cqe().as_ref().res())
                .collect::<Vec<_>>()
        });
        assert_eq!(res, [12], "{what}: {sq}/{cq}");
        assert_eq!(buf.to_vec(), bytes, "{what}: {sq}/{cq}");
    }
}

#[test]
fn resizes_of_rings_of_every_layout_down_to_the_smallest_sizes() {
    let _watch = watchdog();
    if !require_kernel(6, 13, "IORING_REGISTER_RESIZE_RINGS") {
        return;
    }
    resize_walk::<Sqe64, uring::Cqe16>("plain", Builder::new());
    resize_walk::<Sqe128, uring::Cqe16>("128-byte SQEs", Builder::new());
    resize_walk::<Sqe64, Cqe32>("32-byte CQEs", Builder::new());
    resize_walk::<Sqe128, Cqe32>("both big", Builder::new());
    resize_walk::<Sqe64, uring::Cqe16>("no SQ array", Builder::new().no_sqarray());
    resize_walk::<Sqe128, Cqe32>("both big, no SQ array", Builder::new().no_sqarray());
    resize_walk::<Sqe64, uring::Cqe16>("NO_MMAP", Builder::new().no_mmap());
    resize_walk::<Sqe64, Cqe32>("NO_MMAP, 32-byte CQEs", Builder::new().no_mmap());
    resize_walk::<Sqe128, Cqe32>(
        "NO_MMAP, both big, no SQ array",
        Builder::new().no_mmap().no_sqarray(),
    );
}

// ---------------------------------------------------------------------------
// GetSockOpt through a typed option
// ---------------------------------------------------------------------------

/// Socket options read back through `GetSockOpt`: `SO_PEERNAME` into a
/// value longer than the peer's address fails with `EINVAL` and writes
/// nothing, into one exactly as long gives the address; `SO_ERROR` gives
/// the pending error once and clears it; `SO_TYPE` into two bytes gives
/// two bytes; an empty value gives length 0; a level other than
/// `SOL_SOCKET` is refused with `EOPNOTSUPP`.
#[test]
fn socket_options_read_back_give_the_kernel_s_lengths_and_errnos() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_kernel(6, 7, "the socket command GETSOCKOPT") {
        return;
    }
    let (client, server) = tcp_pair();
    // The peer's address, by getpeername: 16 bytes for IPv4.
    let peer = server.peer_addr().unwrap();
    let SocketAddr::V4(v4) = peer else {
        panic!("{peer}")
    };
    let mut long = [0x5Au8; 17];
    let mut exact = [0x5Au8; 16];
    let mut two = [0x5Au8; 4];
    let mut empty = [0u8; 0];
    let mut tcp = [0x5Au8; 4];
    let results = ring.scope(|s| {
        s.push(GetSockOpt::new(&server, SockOpt::SO_PEERNAME, &mut long[..]).user_data(1))
            .unwrap();
        s.push(GetSockOpt::new(&server, SockOpt::SO_PEERNAME, &mut exact[..]).user_data(2))
            .unwrap();
        s.push(GetSockOpt::new(&server, SockOpt::SO_TYPE, &mut two[..2]).user_data(3))
            .unwrap();
        s.push(GetSockOpt::new(&server, SockOpt::SO_TYPE, &mut empty[..]).user_data(4))
            .unwrap();
        s.push(GetSockOpt::new(&server, SockOpt::TCP_NODELAY, &mut tcp[..]).user_data(5))
            .unwrap();
        s.submit_and_wait(5).unwrap();
        let mut r: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        r.sort_unstable();
        r
    });
    assert_eq!(
        results,
        [
            (1, -libc::EINVAL),
            (2, 16),
            (3, 2),
            (4, 0),
            (5, -libc::EOPNOTSUPP)
        ]
    );
    assert_eq!(long, [0x5A; 17], "a refused read wrote");
    assert_eq!(
        u16::from_ne_bytes([exact[0], exact[1]]),
        libc::AF_INET as u16
    );
    assert_eq!(u16::from_be_bytes([exact[2], exact[3]]), v4.port());
    assert_eq!(&exact[4..8], &v4.ip().octets());
    assert_eq!(&two[..2], &libc::SOCK_STREAM.to_ne_bytes()[..2]);
    assert_eq!(&two[2..], &[0x5A, 0x5A], "written past the value");
    assert_eq!(tcp, [0x5A; 4]);

    // A pending error: a reset connection's ECONNRESET, read once.
    uring_tests::reset_on_close(&client);
    drop(client);
    std::thread::sleep(Duration::from_millis(20));
    let mut first = [0u8; 4];
    let mut second = [0u8; 4];
    let results = ring.scope(|s| {
        s.push(GetSockOpt::new(&server, SockOpt::SO_ERROR, &mut first[..]).user_data(1))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut r: Vec<i32> = s.completions().map(|c| c.res()).collect();
        s.push(GetSockOpt::new(&server, SockOpt::SO_ERROR, &mut second[..]).user_data(2))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        r.extend(s.completions().map(|c| c.res()));
        r
    });
    assert_eq!(results, [4, 4]);
    assert_eq!(i32::from_ne_bytes(first), libc::ECONNRESET);
    assert_eq!(
        i32::from_ne_bytes(second),
        0,
        "the error is cleared by the read"
    );
    let _ = server.as_raw_fd();
}
