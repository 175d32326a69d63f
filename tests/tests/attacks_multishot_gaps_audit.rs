//! Gaps left by `attacks_multishot_overflow_source_audit.rs` and
//! `reactor_multishot.rs`: a multishot `recvmsg` flagged `MSG_TRUNC`
//! (result capped, whole length in the header), multishot receives
//! flagged `MSG_WAITALL` (refused at prep), hostile
//! `io_uring_recvmsg_out` headers given to `RecvMsgOut::parse`, cancels
//! racing a busy multishot poll on a CQ of two, a multishot read of a pipe
//! ended by a full CQ, and a reactor receive stream on a CQ of two.
//!
//! Read against Linux 6.18's `io_uring/`:
//!
//! - `net.c`: `io_recvmsg_prep` refuses `IORING_RECV_MULTISHOT` with
//!   `MSG_WAITALL` (`-EINVAL`), before any buffer is taken.
//!   `io_recvmsg_multishot` puts the socket's return (the datagram's whole
//!   length under `MSG_TRUNC`) in the header's `payloadlen`, but returns
//!   `sizeof(io_uring_recvmsg_out) + namelen + controllen + min(err,
//!   payloadlen)`: the result never counts bytes past the buffer, and the
//!   op goes on (`io_recv_finish` posts with `F_MORE` through
//!   `io_req_post_cqe`).
//! - `poll.c`: a multishot poll's wake-ups go through `io_req_post_cqe`;
//!   `io_poll_cancel` / `io_poll_remove_all` complete it with
//!   `-ECANCELED`, or the poll had already ended (a full CQ:
//!   `IOU_POLL_REMOVE_POLL_USE_RES`) and the cancel gets `-ENOENT` or
//!   `-EALREADY`. Either way one completion without `F_MORE`.
//! - `rw.c`: `io_read_mshot` posts each read with `F_MORE`; when
//!   `io_req_post_cqe` fails (no room) the read ends with its bytes and
//!   buffer in its last completion, through the overflow list
//!   (`io_cqring_event_overflow`, `IORING_FEAT_NODROP`).
//! - `io_uring.c`: `io_cqe_cache_refill` refuses new CQEs while the
//!   overflow list is not empty, so the list is flushed in order first.
//!
//! Every attack is safe code.

use std::io::{Read as _, Write as _};
use std::net::UdpSocket;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use uring::ops::{Cancel, PollAdd, ReadMultishot, Recv, RecvMsgMulti};
use uring::reactor::ops::RecvMulti;
use uring::reactor::{MultishotEnded, Reactor, SharedFd};
use uring::sys::IORING_CQE_F_MORE;
use uring::{BufferGroup, MsgFlags, MsgLayout, PollEvents, PollFlags, RecvFlags, RecvMsgOut, Ring};
use uring_tests::{PATIENCE, pattern, plain_buf_ring, require_op, skip, watchdog};

/// One completion as read: `user_data`, result, flags.
type Seen = (u64, i32, u32);

fn more(s: &Seen) -> bool {
    s.2 & IORING_CQE_F_MORE != 0
}

/// A multishot `recvmsg` flagged `MSG_TRUNC` on UDP, buffers of 64 bytes,
/// room for a `sockaddr_in` (16) and no control: a datagram of 200 bytes
/// completes with the whole buffer (16 + 16 + 32), flagged `F_MORE`; the
/// header says 200 and `MSG_TRUNC`, `payload()` holds the first 32 bytes;
/// a second, short datagram follows on the same op. The scope does not
/// refuse this op (its result is capped by the kernel), unlike a one-shot
/// `recvmsg` flagged `MSG_TRUNC`.
#[test]
fn a_multishot_recvmsg_flagged_msg_trunc_caps_its_result_and_goes_on() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<RecvMsgMulti<'static>>(&ring) {
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 91, 4, 64) else {
        return;
    };
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let long = pattern(200, 9);
    tx.send_to(&long, rx.local_addr().unwrap()).unwrap();
    tx.send_to(b"short", rx.local_addr().unwrap()).unwrap();
    let layout = MsgLayout::new(16, 0);
    let got = ring.scope(|s| {
        s.push(
            RecvMsgMulti::new(&rx, &layout, pool.group())
                .msg_flags(MsgFlags::TRUNC)
                .user_data(5),
        )
        .unwrap();
        let mut got = Vec::new();
        let start = Instant::now();
        while got.len() < 2 {
            assert!(start.elapsed() < PATIENCE, "{got:?}");
            let _ = s.submit_and_wait_timeout(1, Duration::from_millis(20));
            for mut c in s.completions() {
                assert_eq!(c.user_data(), 5);
                assert!(c.res() > 0, "{c:?}");
                assert!(c.has_more(), "the op goes on: {c:?}");
                let res = c.res();
                let buf = pool.claim(&mut c).unwrap();
                assert_eq!(buf.len(), res as usize, "the buffer holds the result");
                let out = RecvMsgOut::parse(&buf, &layout).expect("a whole header");
                got.push((
                    res,
                    out.payload().to_vec(),
                    out.payload_len(),
                    out.flags(),
                    out.socket_addr(),
                ));
            }
        }
        s.cancel(5).unwrap();
        got
    });
    let from = tx.local_addr().unwrap();
    assert_eq!(got[0].0, 64, "header, name room and 32 bytes");
    assert_eq!(got[0].1, &long[..32]);
    assert_eq!(got[0].2, 200, "the datagram's whole length");
    assert_ne!(got[0].3 & libc::MSG_TRUNC as u32, 0);
    assert_eq!(got[0].4, Some(from));
    assert_eq!(got[1].0, 32 + 5);
    assert_eq!(got[1].1, b"short");
    assert_eq!((got[1].2, got[1].3 & libc::MSG_TRUNC as u32), (5, 0));
    assert_eq!(pool.lent(), 0);
    assert_eq!(pool.available().unwrap(), pool.count());
}

/// A multishot `recv` and a multishot `recvmsg` flagged `MSG_WAITALL`:
/// the kernel refuses both at prep (`-EINVAL`), one completion each,
/// without `F_MORE` and without a buffer; the data stays in the socket and
/// every buffer in the ring.
#[test]
fn multishot_receives_flagged_waitall_end_at_once_with_einval() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<RecvMsgMulti<'static>>(&ring) {
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 92, 4, 64) else {
        return;
    };
    let (mut peer, sock) = UnixStream::pair().unwrap();
    peer.write_all(b"stays").unwrap();
    let layout = MsgLayout::new(0, 0);
    let seen = ring.scope(|s| {
        s.push(
            Recv::new(&sock, pool.select())
                .recv_flags(RecvFlags::MULTISHOT)
                .msg_flags(MsgFlags::WAITALL)
                .user_data(1),
        )
        .unwrap();
        s.push(
            RecvMsgMulti::new(&sock, &layout, pool.group())
                .msg_flags(MsgFlags::WAITALL)
                .user_data(2),
        )
        .unwrap();
        let mut seen: Vec<Seen> = Vec::new();
        let start = Instant::now();
        while seen.len() < 2 {
            assert!(start.elapsed() < PATIENCE, "{seen:?}");
            let _ = s.submit_and_wait_timeout(2, Duration::from_millis(20));
            seen.extend(s.completions().map(|c| (c.user_data(), c.res(), c.flags())));
        }
        seen
    });
    let mut seen = seen;
    seen.sort();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for (i, s) in seen.iter().enumerate() {
        assert_eq!((s.0, s.1), (i as u64 + 1, -libc::EINVAL), "{seen:?}");
        assert!(!more(s), "{seen:?}");
        assert_eq!(
            s.2 & uring::sys::IORING_CQE_F_BUFFER,
            0,
            "no buffer taken: {seen:?}"
        );
    }
    assert_eq!(pool.available().unwrap(), pool.count());
    sock.set_nonblocking(true).unwrap();
    let mut left = [0u8; 16];
    let n = (&sock).read(&mut left).unwrap();
    assert_eq!(&left[..n], b"stays");
}

/// Hostile headers, as a kernel (or a buffer written by another op) could
/// leave them: lengths of `u32::MAX` with small rooms, a buffer exactly as
/// long as the header and the rooms, a layout whose rooms overflow any
/// buffer. `parse` stays inside the buffer, cuts each part to its room,
/// and reports the header's lengths as they are; no panic.
#[test]
fn hostile_recvmsg_out_headers_parse_inside_the_buffer() {
    let _watch = watchdog();
    let layout = MsgLayout::new(8, 8);
    let mut buf = Vec::new();
    for word in [u32::MAX, u32::MAX, u32::MAX, u32::MAX] {
        buf.extend_from_slice(&word.to_ne_bytes());
    }
    buf.extend_from_slice(&[1; 8]);
    buf.extend_from_slice(&[2; 8]);
    let out = RecvMsgOut::parse(&buf, &layout).expect("header and rooms");
    assert_eq!((out.name(), out.control()), (&[1u8; 8][..], &[2u8; 8][..]));
    assert!(out.payload().is_empty());
    assert_eq!(
        (out.name_len(), out.control_len(), out.payload_len()),
        (u32::MAX, u32::MAX, u32::MAX)
    );
    assert_eq!(out.socket_addr(), None, "bytes of 1 are no address family");
    // A control room full of garbage records walks without reading past it.
    assert!(out.control_messages().count() <= 1);
    buf.extend_from_slice(b"tail");
    let out = RecvMsgOut::parse(&buf, &layout).unwrap();
    assert_eq!(out.payload(), b"tail");
    // One byte short of the rooms: no message.
    assert!(RecvMsgOut::parse(&buf[..31], &layout).is_none());
    // Rooms no buffer can hold.
    for layout in [
        MsgLayout::new(u32::MAX, usize::MAX),
        MsgLayout::new(0, usize::MAX),
        MsgLayout::new(0, usize::MAX - 15),
        MsgLayout::new(u32::MAX, 0),
    ] {
        assert!(RecvMsgOut::parse(&buf, &layout).is_none(), "{layout:?}");
    }
    assert!(RecvMsgOut::parse(&[], &MsgLayout::new(0, 0)).is_none());
}

/// A multishot poll on an eventfd that a thread keeps making readable
/// (`POLLIN` stays up), on a ring whose CQ holds two entries, cancelled
/// each round at a different point of its life (before submitting, after
/// some completions, after the CQ filled): per round exactly one
/// completion of the poll lacks `F_MORE`, none follows it, the cancel
/// completes with 0, `-ENOENT` or `-EALREADY`, and the scope returns
/// (its count of ops in flight reaches zero). Across rounds nothing of an
/// earlier round shows up in a later one.
#[test]
fn cancels_racing_a_busy_multishot_poll_on_a_cq_of_two_end_it_exactly_once() {
    let _watch = watchdog();
    let mut ring = match Ring::builder().cq_entries(2).build(2) {
        Ok(r) => r,
        Err(e) => return skip(format_args!("no ring of 2/2: {e}")),
    };
    let (mut poked, efd) = UnixStream::pair().unwrap();
    // Nobody reads the socket: once its buffer is full (a slow run), a
    // blocking write would never return, nor the thread end.
    poked.set_nonblocking(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stopper = stop.clone();
    let writer = std::thread::spawn(move || {
        while !stopper.load(Ordering::Relaxed) {
            // Each byte is a fresh wake-up; the socket stays readable (a
            // full buffer keeps it so).
            match poked.write(b"x") {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
            std::thread::sleep(Duration::from_micros(50));
        }
    });
    for round in 0u64..40 {
        let poll_ud = 1000 + round * 2;
        let cancel_ud = poll_ud + 1;
        let seen = ring.scope(|s| {
            s.push(
                PollAdd::new(efd.as_fd(), PollEvents::IN)
                    .poll_flags(PollFlags::MULTI)
                    .user_data(poll_ud),
            )
            .unwrap();
            let mut seen: Vec<Seen> = Vec::new();
            match round % 4 {
                0 => {}
                1 => {
                    s.submit().unwrap();
                }
                2 => {
                    let _ = s.submit_and_wait_timeout(1, Duration::from_millis(10));
                    seen.extend(s.completions().map(|c| (c.user_data(), c.res(), c.flags())));
                }
                _ => {
                    // Let it fill the CQ (and end through the overflow list).
                    s.submit().unwrap();
                    std::thread::sleep(Duration::from_millis(3));
                    let _ = s.get_events();
                }
            }
            s.push(Cancel::new(poll_ud).user_data(cancel_ud)).unwrap();
            let start = Instant::now();
            let done = |seen: &[Seen]| {
                seen.iter().any(|x| x.0 == poll_ud && !more(x))
                    && seen.iter().any(|x| x.0 == cancel_ud)
            };
            while !done(&seen) {
                assert!(start.elapsed() < PATIENCE, "round {round}: {seen:?}");
                let _ = s.submit_and_wait_timeout(1, Duration::from_millis(10));
                seen.extend(s.completions().map(|c| (c.user_data(), c.res(), c.flags())));
            }
            seen
        });
        let ends: Vec<usize> = seen
            .iter()
            .enumerate()
            .filter(|(_, x)| x.0 == poll_ud && !more(x))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(ends.len(), 1, "round {round}: {seen:?}");
        assert!(
            !seen[ends[0] + 1..].iter().any(|x| x.0 == poll_ud),
            "round {round}: a completion after the last: {seen:?}"
        );
        for x in &seen {
            assert!(
                x.0 == poll_ud || x.0 == cancel_ud,
                "round {round}: a stranger: {seen:?}"
            );
            if x.0 == poll_ud && more(x) {
                assert_ne!(x.1 & libc::POLLIN as i32, 0, "round {round}: {seen:?}");
            }
        }
        let last = seen[ends[0]];
        assert!(
            last.1 == -libc::ECANCELED || last.1 & libc::POLLIN as i32 != 0,
            "round {round}: {seen:?}"
        );
        let cancel: Vec<_> = seen.iter().filter(|x| x.0 == cancel_ud).collect();
        assert_eq!(cancel.len(), 1, "round {round}: {seen:?}");
        assert!(
            [0, -libc::ENOENT, -libc::EALREADY].contains(&cancel[0].1),
            "round {round}: {seen:?}"
        );
        if cancel[0].1 == 0 {
            assert_eq!(last.1, -libc::ECANCELED, "round {round}: {seen:?}");
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(!ring.cq_has_overflow());
    assert_eq!(ring.ready(), 0, "nothing left behind the scopes");
}

/// A multishot read of a pipe on a ring whose CQ holds two entries, fed
/// 64 chunks while the scope only enters without reading: the read posts
/// two `F_MORE` completions, finds no room for the third and ends with
/// it, through the overflow list (`IORING_SQ_CQ_OVERFLOW` up meanwhile).
/// Read, and re-armed whenever it ends, every byte comes once and in
/// order, each op's last completion is its last, and every buffer returns.
#[test]
fn a_multishot_read_of_a_pipe_ended_by_a_full_cq_keeps_every_byte() {
    let _watch = watchdog();
    let mut ring = match Ring::builder().cq_entries(2).build(2) {
        Ok(r) => r,
        Err(e) => return skip(format_args!("no ring of 2/2: {e}")),
    };
    if !require_op::<ReadMultishot>(&ring) {
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 93, 8, 32) else {
        return;
    };
    let (rd, mut wr) = std::io::pipe().unwrap();
    let chunks: Vec<Vec<u8>> = (0..64u32).map(|i| pattern(11, i as u8)).collect();
    let sent = chunks.concat();
    let (received, seen, saw_overflow) = ring.scope(|s| {
        let mut ud = 1u64;
        s.push(ReadMultishot::new(&rd, pool.group()).user_data(ud))
            .unwrap();
        s.submit().unwrap();
        let mut received = Vec::new();
        let mut seen: Vec<Seen> = Vec::new();
        let mut saw_overflow = false;
        let mut next_chunk = 0usize;
        let start = Instant::now();
        while received.len() < sent.len() {
            assert!(
                start.elapsed() < PATIENCE,
                "{} of {} bytes: {:?}",
                received.len(),
                sent.len(),
                &seen[seen.len().saturating_sub(8)..]
            );
            // Feed a few chunks, one at a time, entering without reading.
            for _ in 0..4 {
                if next_chunk < chunks.len() {
                    wr.write_all(&chunks[next_chunk]).unwrap();
                    next_chunk += 1;
                    std::thread::sleep(Duration::from_micros(300));
                    let _ = s.get_events();
                }
            }
            saw_overflow |= s.ready() >= 2;
            let _ = s.wait_timeout(1, Duration::from_millis(5));
            let mut rearm = false;
            for mut c in s.completions() {
                seen.push((c.user_data(), c.res(), c.flags()));
                if c.res() > 0 {
                    let buf = pool.claim(&mut c).unwrap();
                    received.extend_from_slice(&buf);
                } else {
                    assert_eq!(c.res(), -libc::ENOBUFS, "{c:?}");
                }
                rearm |= !c.has_more();
            }
            if rearm && received.len() < sent.len() {
                ud += 1;
                s.push(ReadMultishot::new(&rd, pool.group()).user_data(ud))
                    .unwrap();
                s.submit().unwrap();
            }
        }
        s.cancel(ud).unwrap();
        (received, seen, saw_overflow)
    });
    assert!(received == sent, "every byte once, in order");
    let mut ended = std::collections::HashSet::new();
    for (i, x) in seen.iter().enumerate() {
        assert!(!ended.contains(&x.0), "after its last at {i}: {seen:?}");
        if !more(x) {
            ended.insert(x.0);
        }
    }
    assert!(saw_overflow, "the CQ never filled");
    assert!(!ended.is_empty(), "no read ended on the full CQ: {seen:?}");
    assert_eq!(pool.lent(), 0);
    assert_eq!(pool.available().unwrap(), pool.count());
    assert!(!ring.cq_has_overflow());
}

/// A reactor on a ring whose CQ holds two entries, a multishot receive
/// stream, a peer writing 300 small chunks: the kernel ends the receive
/// whenever the CQ is full (its last completion carrying data), the
/// stream then yields that data and ends (`None`, no `MultishotEnded`
/// item, which only callbacks get: `MultishotOp::ended`), exactly once
/// per op, never after more items; a new stream takes over. Every byte
/// arrives once, in order, over more than one stream.
#[test]
fn a_reactor_receive_stream_on_a_cq_of_two_loses_no_byte_and_ends_once() {
    let _watch = watchdog();
    let ring = match Ring::builder().cq_entries(2).build(2) {
        Ok(r) => r,
        Err(e) => return skip(format_args!("no ring of 2/2: {e}")),
    };
    let reactor = Reactor::from_ring(ring).unwrap();
    let group = match reactor.register_buf_ring(BufferGroup::new(94), 8, 16) {
        Ok(g) => g,
        Err(e) => return skip(format_args!("buffer rings: {e}")),
    };
    let (a, mut peer) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(a);
    let mut chunks: Vec<Vec<u8>> = (0..300u32).map(|i| pattern(5, i as u8)).collect();
    let sent = chunks.concat();
    // The first 40 chunks (200 bytes, 13 buffers) wait in the socket when
    // the first receive is armed: it fills the CQ of two at once, however
    // promptly the reactor reaps what comes later.
    for chunk in chunks.drain(..40) {
        peer.write_all(&chunk).unwrap();
    }
    let writer = std::thread::spawn(move || {
        for chunk in &chunks {
            peer.write_all(chunk).unwrap();
            if chunk[0] % 8 == 0 {
                std::thread::sleep(Duration::from_micros(100));
            }
        }
        peer
    });
    let want = sent.len();
    let (received, streams) = reactor
        .run_until(async {
            let mut received = Vec::new();
            let mut streams = 0usize;
            let start = Instant::now();
            while received.len() < want {
                assert!(start.elapsed() < PATIENCE, "{} of {want}", received.len());
                streams += 1;
                let mut stream = reactor.stream(RecvMulti::new(&fd, group));
                loop {
                    match stream.next().await {
                        Some(Ok(Some(buf))) => {
                            received.extend_from_slice(&buf);
                            if received.len() >= want {
                                break;
                            }
                        }
                        Some(Err(e)) if MultishotEnded::is(&e) => {
                            assert!(
                                stream.next().await.is_none(),
                                "a stream goes on after MultishotEnded"
                            );
                            break;
                        }
                        // The kernel ended the op at a full CQ, after an
                        // item: a stream ends, with no `MultishotEnded`
                        // (that is for callbacks only).
                        None => break,
                        Some(Err(e)) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                            assert!(stream.next().await.is_none());
                            break;
                        }
                        other => panic!(
                            "unexpected item after {} bytes, stream {streams}: {other:?}",
                            received.len()
                        ),
                    }
                }
            }
            (received, streams)
        })
        .unwrap();
    let _peer = writer.join().unwrap();
    eprintln!("{streams} streams");
    assert!(received == sent, "every byte once, in order");
    assert!(streams > 1, "no stream ended at the full CQ of two");
}
