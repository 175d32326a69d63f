//! Gaps left by `attacks_multishot_overflow_source_audit.rs`,
//! `attacks_multishot_gaps_audit.rs` and `reactor_multishot.rs`: multishot
//! `recvmsg` (`RecvMsgMulti`) through a CQ that overflows, on plain,
//! `defer_taskrun` and SQPOLL rings (each datagram once, in order, its
//! `io_uring_recvmsg_out` header whole; completions left unread at a
//! scope's end give their buffers back); layouts whose header and rooms
//! reach or pass the provided buffer's end; the multishot receive limit
//! (`Recv::multishot_limit`, 6.17) as documented; multishot reads ended by
//! a full CQ on `defer_taskrun` and SQPOLL rings; multishot timeouts
//! beside 32-byte NOPs on a mixed CQ (`CqeMixed`) whose overflow list
//! holds both; and the reactor's consumers at a full CQ: multishot accept
//! callbacks told of each end (no socket lost, leaked or handed out
//! twice), one that cancels itself, poll streams that end only once the
//! kernel ended the poll, receive streams dropped while their items wait
//! in the CQ and the overflow list (every provided buffer back in its
//! ring), reactors dropped with accepts and polls held back, and
//! callbacks that re-queue their multishot op at each end, as the docs
//! suggest, on a CQ too small for the ops that are ready at once.
//!
//! Read against Linux 6.18's `io_uring/`:
//!
//! - `net.c`: `io_recvmsg_prep_multishot` refuses a buffer shorter than
//!   `sizeof(io_uring_recvmsg_out) + namelen + controllen` with `-EFAULT`,
//!   and `io_recvmsg` recycles the buffer it picked
//!   (`io_kbuf_recycle`); a buffer exactly that long leaves a payload
//!   room of 0. `io_recvmsg_multishot` sets `*finished = err <= 0`, writes
//!   `payloadlen = err` and the sender's whole name length, and returns
//!   the header, the rooms and `min(err, payloadlen)`. `io_recv_finish`
//!   posts each receive with `F_MORE` through `io_req_post_cqe`, and when
//!   that fails (no room, or an overflow list that is not empty) ends the
//!   op with that very receive, buffer included, in its last completion.
//!   With `IORING_RECV_MSHOT_LIM` (`sqe->optlen`), it subtracts
//!   `min_t(int, ret, mshot_total_len)` and ends the op when that reaches
//!   0: a limit of 2^31 or more is a negative `int` there, and the first
//!   receive ends the op. A single-buffer receive is not capped to what is
//!   left of the limit (only a bundle's `io_buffers_peek` is), so the last
//!   completion may carry more than the limit left.
//! - `io_uring.c`: `io_cqe_cache_refill` refuses a slot to everything but
//!   the flush while the overflow list is not empty;
//!   `io_cqring_event_overflow` keeps a 32-byte completion whole on a
//!   mixed CQ; `__io_cqring_overflow_flush` posts the list in order.
//! - `timeout.c`: `io_timeout_complete` posts a multishot timeout's firing
//!   with `F_MORE` while `io_req_post_cqe` succeeds; otherwise the request
//!   completes (`-ETIME`, no flags). A count of 0 never ends it otherwise.
//! - `poll.c`, `rw.c` (`io_read_mshot`) and `net.c` (`io_accept`): a
//!   multishot poll, read or accept whose post fails ends with that event,
//!   bytes or socket in its last completion.
//! - `kbuf.c`: `io_kbuf_recycle` puts back a buffer that was picked but
//!   not used; a committed buffer goes back only when the program adds it.
//!
//! Every attack is safe code. The tests of this file take one lock, so
//! that descriptor counts of `/proc/self/fd` are this test's alone.

use std::cell::RefCell;
use std::collections::HashSet;
use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use uring::ops::{Nop, ReadMultishot, Recv, RecvMsgMulti, Timeout};
use uring::reactor::ops::{AcceptMulti, PollMulti, RecvMulti, RecvRing};
use uring::reactor::{MultishotEnded, Reactor, SharedFd};
use uring::sys::{IORING_CQE_F_BUFFER, IORING_CQE_F_MORE};
use uring::{
    BufferGroup, Builder, CqeMixed, MsgLayout, PollEvents, RecvFlags, RecvMsgOut, Ring, Sqe64,
    TimeoutFlags,
};
use uring_tests::{PATIENCE, pattern, plain_buf_ring, require_kernel, require_op, skip, watchdog};

/// Held by every test of this file: the descriptor counts read from
/// `/proc/self/fd` are then the running test's.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

use uring_tests::multishot::{
    Seen, assert_each_ends_last, ended, enter_without_reading, has_more, listener_with_clients,
    peer_closed, tail,
};
use uring_tests::open_fd_count as fd_count;
use uring_tests::{RING_KINDS as KINDS, RingKind as Kind, ring_of_kind as ring_of};

/// Datagram `seq`: its number, then four bytes made from it.
fn datagram(seq: u32) -> Vec<u8> {
    let mut d = seq.to_le_bytes().to_vec();
    d.extend_from_slice(&pattern(4, seq as u8));
    d
}

/// The datagrams still queued on `rx`, read without blocking.
fn queued_datagrams(rx: &UdpSocket) -> Vec<Vec<u8>> {
    rx.set_nonblocking(true).unwrap();
    let mut out = Vec::new();
    let mut b = [0u8; 256];
    loop {
        match rx.recv(&mut b) {
            Ok(n) => out.push(b[..n].to_vec()),
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    rx.set_nonblocking(false).unwrap();
    out
}

/// A multishot `recvmsg` on UDP, on CQs of two entries of every kind of
/// ring, fed 120 datagrams four at a time while the scope enters without
/// reading: the CQ fills, the receive that finds no room ends the op with
/// its datagram and buffer in its last completion, through the overflow
/// list, and the op is armed again. Safe outcome: every datagram comes
/// once and in order, each buffer holds exactly the result's bytes, a
/// whole header (the sender's address, its 16-byte length, 8 bytes of
/// payload, no `MSG_TRUNC`), no op has a completion after its last, and
/// every buffer is back in the ring after the scope.
#[test]
fn recvmsg_multi_datagrams_through_a_cq_of_two_come_once_in_order_with_whole_headers() {
    let _watch = watchdog();
    let _serial = serial();
    const N: u32 = 120;
    for kind in KINDS {
        let Some(mut ring) = ring_of(kind, 2, 2) else {
            continue;
        };
        if !require_op::<RecvMsgMulti<'static>>(&ring) {
            return;
        }
        let what = format!("{kind:?}");
        let Some(pool) = plain_buf_ring(&mut ring, 31, 8, 64) else {
            return;
        };
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        let from = tx.local_addr().unwrap();
        let layout = MsgLayout::new(16, 0);
        let (got, seen, saw_full, ends_with_data) = ring.scope(|s| {
            let mut ud = 1u64;
            s.push(RecvMsgMulti::new(&rx, &layout, pool.group()).user_data(ud))
                .unwrap();
            s.submit().unwrap();
            let mut got: Vec<u32> = Vec::new();
            let mut seen: Vec<Seen> = Vec::new();
            let mut saw_full = false;
            let mut ends_with_data = 0usize;
            let mut next = 0u32;
            let start = Instant::now();
            while got.len() < N as usize {
                assert!(
                    start.elapsed() < PATIENCE,
                    "{what}: {} of {N} datagrams: {:?}",
                    got.len(),
                    tail(&seen)
                );
                for _ in 0..4 {
                    if next < N {
                        tx.send(&datagram(next)).unwrap();
                        next += 1;
                        std::thread::sleep(Duration::from_micros(300));
                        let _ = s.get_events();
                    }
                }
                saw_full |= s.ready() >= 2;
                let _ = s.wait_timeout(1, Duration::from_millis(5));
                let mut rearm = false;
                for mut c in s.completions() {
                    seen.push((c.user_data(), c.res(), c.flags()));
                    if c.res() > 0 {
                        let res = c.res() as usize;
                        let buf = pool.claim(&mut c).unwrap();
                        assert_eq!(buf.len(), res, "{what}: the buffer holds the result");
                        assert_eq!(res, 16 + 16 + 8, "{what}: header, name room, payload");
                        let out = RecvMsgOut::parse(&buf, &layout).expect("a whole header");
                        assert_eq!(out.payload_len(), 8, "{what}");
                        assert_eq!(out.flags() & libc::MSG_TRUNC as u32, 0, "{what}");
                        assert_eq!(out.name_len(), 16, "{what}: a sockaddr_in");
                        assert_eq!(out.socket_addr(), Some(from), "{what}");
                        let p = out.payload();
                        let seq = u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
                        assert_eq!(p, &datagram(seq)[..], "{what}");
                        got.push(seq);
                        ends_with_data += usize::from(!c.has_more());
                    } else {
                        assert_eq!(c.res(), -libc::ENOBUFS, "{what}: {c:?}");
                    }
                    rearm |= !c.has_more();
                }
                if rearm && got.len() < N as usize {
                    ud += 1;
                    s.push(RecvMsgMulti::new(&rx, &layout, pool.group()).user_data(ud))
                        .unwrap();
                    s.submit().unwrap();
                }
            }
            s.cancel(ud).unwrap();
            (got, seen, saw_full, ends_with_data)
        });
        assert_eq!(
            got,
            (0..N).collect::<Vec<_>>(),
            "{what}: once each, in order"
        );
        assert_each_ends_last(&seen, [], &what);
        assert!(saw_full, "{what}: the CQ never filled");
        assert!(
            ends_with_data >= 1,
            "{what}: no receive ended at the full CQ with its datagram: {:?}",
            tail(&seen)
        );
        eprintln!("{what}: {ends_with_data} receives ended with a datagram");
        assert_eq!(pool.lent(), 0, "{what}");
        assert_eq!(pool.available().unwrap(), pool.count(), "{what}");
        assert_eq!(uring_tests::stray(&mut ring), [], "{what}: after the scope");
        assert!(queued_datagrams(&rx).is_empty(), "{what}");
    }
}

/// A multishot `recvmsg` on a CQ of two, with 20 datagrams queued, in a
/// scope whose closure reads nothing: two completions fill the CQ, the
/// third receive ends the op through the overflow list, and the scope's
/// end must read that last one and drop all three. Safe outcome: the
/// scope counts the op in flight until then; afterwards no buffer is lent
/// and exactly the three buffers of the completions dropped unread are
/// missing from the ring, as `BufRing::claim` documents ("one whose
/// completion is dropped unclaimed ... is not given back": unlike the
/// descriptors of unread accepts, which the scope's end closes); the
/// five others still serve a receive; exactly the first three datagrams
/// were taken, the rest still queued.
#[test]
fn recvmsg_multi_completions_left_unread_in_an_overflowed_cq_give_every_buffer_back() {
    let _watch = watchdog();
    let _serial = serial();
    for kind in KINDS {
        let Some(mut ring) = ring_of(kind, 2, 2) else {
            continue;
        };
        if !require_op::<RecvMsgMulti<'static>>(&ring) {
            return;
        }
        let what = format!("{kind:?}");
        let Some(pool) = plain_buf_ring(&mut ring, 32, 8, 64) else {
            return;
        };
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        for seq in 0..20 {
            tx.send(&datagram(seq)).unwrap();
        }
        let layout = MsgLayout::new(16, 0);
        let (ready, in_flight, lent) = ring.scope(|s| {
            s.push(RecvMsgMulti::new(&rx, &layout, pool.group()).user_data(1))
                .unwrap();
            s.submit().unwrap();
            let start = Instant::now();
            while s.ready() < 2 {
                assert!(start.elapsed() < PATIENCE, "{what}: the CQ never filled");
                enter_without_reading(s, 1);
            }
            enter_without_reading(s, 10);
            (s.ready(), s.in_flight(), pool.available().unwrap())
        });
        assert_eq!(ready, 2, "{what}");
        assert_eq!(
            in_flight, 1,
            "{what}: the op's last completion was not read"
        );
        assert_eq!(lent, 8 - 3, "{what}: three buffers taken by the kernel");
        assert_eq!(pool.lent(), 0, "{what}");
        assert_eq!(
            pool.available().unwrap(),
            pool.count() - 3,
            "{what}: the buffers of the three completions dropped unread"
        );
        // The five left serve five one-shot receives, held; the sixth
        // finds none.
        let results = ring.scope(|s| {
            let mut held = Vec::new();
            let mut results = Vec::new();
            for i in 0..6u64 {
                s.push(Recv::new(&rx, pool.select()).user_data(10 + i))
                    .unwrap();
                s.submit_and_wait(1).unwrap();
                let mut c = s.completions().next().expect("a completion");
                results.push(c.res());
                if c.res() > 0 {
                    held.push(pool.claim(&mut c).unwrap());
                }
            }
            let got: Vec<Vec<u8>> = held.iter().map(|b| b.to_vec()).collect();
            assert_eq!(got, (3..8).map(datagram).collect::<Vec<_>>(), "{what}");
            results
        });
        assert_eq!(results, [8, 8, 8, 8, 8, -libc::ENOBUFS], "{what}");
        let left = queued_datagrams(&rx);
        assert_eq!(
            left,
            (8..20).map(datagram).collect::<Vec<_>>(),
            "{what}: two F_MORE receives and the last took the first three"
        );
        assert_eq!(uring_tests::stray(&mut ring), [], "{what}: after the scope");
    }
}

/// Layouts at and past the provided buffer's end. Header and rooms longer
/// than the buffer (16 + 64 + 64 > 64): the kernel refuses the buffer it
/// picked with `-EFAULT`, recycles it, and ends the op: one completion,
/// no `F_BUFFER`, no `F_MORE`, the datagram still queued, every buffer in
/// the ring. Header and rooms exactly as long (16 + 16 + 32 = 64): a
/// payload room of 0, so `sock_recvmsg` returns 0, which
/// `io_recvmsg_multishot` takes as the op's end: the first datagram is
/// consumed into a completion of the whole buffer, flagged `MSG_TRUNC`
/// with a payload length of 0 and no payload, and the op ends there; the
/// second datagram stays queued. `parse` of that buffer gives the
/// sender's address and an empty payload; no panic, nothing past it.
#[test]
fn recvmsg_multi_layouts_reaching_or_passing_the_buffer_s_end() {
    let _watch = watchdog();
    let _serial = serial();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<RecvMsgMulti<'static>>(&ring) {
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 33, 4, 64) else {
        return;
    };
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(rx.local_addr().unwrap()).unwrap();
    let from = tx.local_addr().unwrap();

    tx.send(b"first").unwrap();
    let past = MsgLayout::new(64, 64);
    let seen = ring.scope(|s| {
        s.push(RecvMsgMulti::new(&rx, &past, pool.group()).user_data(1))
            .unwrap();
        let mut seen = Vec::new();
        let start = Instant::now();
        while !ended(&seen, 1) {
            assert!(start.elapsed() < PATIENCE, "{seen:?}");
            let _ = s.submit_and_wait_timeout(1, Duration::from_millis(20));
            seen.extend(s.completions().map(|c| (c.user_data(), c.res(), c.flags())));
        }
        seen
    });
    assert_eq!(seen, [(1, -libc::EFAULT, 0)], "refused, no buffer named");
    assert_eq!(pool.available().unwrap(), pool.count());
    assert_eq!(queued_datagrams(&rx), [b"first".to_vec()]);

    tx.send(b"second").unwrap();
    tx.send(b"third").unwrap();
    let exact = MsgLayout::new(16, 32);
    let (seen, parsed) = ring.scope(|s| {
        s.push(RecvMsgMulti::new(&rx, &exact, pool.group()).user_data(2))
            .unwrap();
        let mut seen = Vec::new();
        let mut parsed = Vec::new();
        let start = Instant::now();
        while !ended(&seen, 2) {
            assert!(start.elapsed() < PATIENCE, "{seen:?}");
            let _ = s.submit_and_wait_timeout(1, Duration::from_millis(20));
            for mut c in s.completions() {
                seen.push((c.user_data(), c.res(), c.flags()));
                if c.flags() & IORING_CQE_F_BUFFER != 0 {
                    let res = c.res();
                    let buf = pool.claim(&mut c).unwrap();
                    assert_eq!(buf.len(), res as usize);
                    let out = RecvMsgOut::parse(&buf, &exact).expect("a whole header");
                    parsed.push((
                        out.payload().to_vec(),
                        out.payload_len(),
                        out.flags() & libc::MSG_TRUNC as u32 != 0,
                        out.socket_addr(),
                    ));
                }
            }
        }
        s.cancel(2).unwrap();
        (seen, parsed)
    });
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].1, 64, "the whole buffer: {seen:?}");
    assert!(!has_more(&seen[0]), "the op ended: {seen:?}");
    assert_eq!(parsed, [(Vec::new(), 0, true, Some(from))]);
    assert_eq!(pool.lent(), 0);
    assert_eq!(pool.available().unwrap(), pool.count());
    assert_eq!(queued_datagrams(&rx), [b"third".to_vec()]);
}

/// `Recv::multishot_limit` as documented: with a limit of 20 and 7-byte
/// chunks written one at a time, the receive posts 7 and 7 with `F_MORE`
/// and ends at the third 7 (21 reaches 20; a single-buffer receive is not
/// cut to the 6 left), and a chunk written after stays in the socket.
/// Limits of 2^31 and `u32::MAX` end the receive at its first completion.
/// Every buffer comes back.
#[test]
fn a_multishot_receive_limit_ends_the_op_at_the_completion_that_reaches_it() {
    let _watch = watchdog();
    let _serial = serial();
    if !require_kernel(6, 17, "IORING_RECV_MSHOT_LIM") {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 34, 8, 16) else {
        return;
    };
    for (limit, items) in [(20u32, 3usize), (1 << 31, 1), (u32::MAX, 1)] {
        let (mut peer, sock) = UnixStream::pair().unwrap();
        let seen = ring.scope(|s| {
            s.push(
                Recv::new(&sock, pool.select())
                    .recv_flags(RecvFlags::MULTISHOT)
                    .multishot_limit(limit)
                    .user_data(1),
            )
            .unwrap();
            s.submit().unwrap();
            let mut seen: Vec<Seen> = Vec::new();
            let mut k = 0usize;
            while !ended(&seen, 1) {
                assert!(k < 10, "limit {limit}: {seen:?}");
                peer.write_all(&pattern(7, k as u8)).unwrap();
                k += 1;
                let start = Instant::now();
                while seen.len() < k && !ended(&seen, 1) {
                    assert!(start.elapsed() < PATIENCE, "limit {limit}: {seen:?}");
                    let _ = s.submit_and_wait_timeout(1, Duration::from_millis(20));
                    for mut c in s.completions() {
                        seen.push((c.user_data(), c.res(), c.flags()));
                        let buf = pool.claim(&mut c).unwrap();
                        assert_eq!(&buf[..], &pattern(7, (seen.len() - 1) as u8)[..]);
                    }
                }
            }
            seen
        });
        assert_eq!(seen.len(), items, "limit {limit}: {seen:?}");
        for (i, x) in seen.iter().enumerate() {
            assert_eq!(x.1, 7, "limit {limit}: {seen:?}");
            assert_eq!(has_more(x), i + 1 < items, "limit {limit}: {seen:?}");
        }
        peer.write_all(b"after").unwrap();
        std::thread::sleep(Duration::from_millis(5));
        sock.set_nonblocking(true).unwrap();
        let mut left = [0u8; 16];
        let n = (&sock).read(&mut left).unwrap();
        assert_eq!(
            &left[..n],
            b"after",
            "limit {limit}: received after the end"
        );
        assert_eq!(pool.available().unwrap(), pool.count(), "limit {limit}");
    }
}

/// A multishot read of a pipe on `defer_taskrun` and SQPOLL rings whose
/// CQ holds two entries, fed 64 chunks while the scope enters without
/// reading: the read ends at the full CQ, its bytes and buffer in its last
/// completion through the overflow list, and is armed again. Safe
/// outcome: every byte once, in order; no op has a completion after its
/// last; every buffer back.
#[test]
fn a_multishot_read_ended_by_a_full_cq_on_defer_and_sqpoll_rings_keeps_every_byte() {
    let _watch = watchdog();
    let _serial = serial();
    for kind in [Kind::Defer, Kind::Sqpoll] {
        let Some(mut ring) = ring_of(kind, 2, 2) else {
            continue;
        };
        if !require_op::<ReadMultishot>(&ring) {
            return;
        }
        let what = format!("{kind:?}");
        let Some(pool) = plain_buf_ring(&mut ring, 35, 8, 32) else {
            return;
        };
        let (rd, mut wr) = std::io::pipe().unwrap();
        let chunks: Vec<Vec<u8>> = (0..64u32).map(|i| pattern(11, i as u8)).collect();
        let sent = chunks.concat();
        let (received, seen, saw_full) = ring.scope(|s| {
            let mut ud = 1u64;
            s.push(ReadMultishot::new(&rd, pool.group()).user_data(ud))
                .unwrap();
            s.submit().unwrap();
            let mut received = Vec::new();
            let mut seen: Vec<Seen> = Vec::new();
            let mut saw_full = false;
            let mut next = 0usize;
            let start = Instant::now();
            while received.len() < sent.len() {
                assert!(
                    start.elapsed() < PATIENCE,
                    "{what}: {} of {} bytes: {:?}",
                    received.len(),
                    sent.len(),
                    tail(&seen)
                );
                for _ in 0..4 {
                    if next < chunks.len() {
                        wr.write_all(&chunks[next]).unwrap();
                        next += 1;
                        std::thread::sleep(Duration::from_micros(300));
                        let _ = s.get_events();
                    }
                }
                saw_full |= s.ready() >= 2;
                let _ = s.wait_timeout(1, Duration::from_millis(5));
                let mut rearm = false;
                for mut c in s.completions() {
                    seen.push((c.user_data(), c.res(), c.flags()));
                    if c.res() > 0 {
                        let buf = pool.claim(&mut c).unwrap();
                        received.extend_from_slice(&buf);
                    } else {
                        assert_eq!(c.res(), -libc::ENOBUFS, "{what}: {c:?}");
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
            (received, seen, saw_full)
        });
        assert!(received == sent, "{what}: every byte once, in order");
        assert_each_ends_last(&seen, [], &what);
        assert!(saw_full, "{what}: the CQ never filled");
        assert!(
            seen.iter().any(|x| !has_more(x) && x.1 > 0),
            "{what}: no read ended at the full CQ with its bytes: {:?}",
            tail(&seen)
        );
        assert_eq!(pool.lent(), 0, "{what}");
        assert_eq!(pool.available().unwrap(), pool.count(), "{what}");
        assert!(!ring.cq_has_overflow(), "{what}");
    }
}

/// One completion of a mixed CQ as read: `user_data`, result, `F_MORE`,
/// whether it is big, its extra words.
type MixedSeen = (u64, i32, bool, bool, [u64; 2]);

/// Reads `ring`'s completions into `seen` until `done`, failing after
/// [`PATIENCE`].
fn drain_mixed(
    ring: &mut Ring<Sqe64, CqeMixed>,
    seen: &mut Vec<MixedSeen>,
    done: impl Fn(&[MixedSeen]) -> bool,
) {
    let start = Instant::now();
    while !done(seen) {
        assert!(start.elapsed() < PATIENCE, "{seen:?}");
        let _ = ring.submit_and_wait_timeout(1, Duration::from_millis(5));
        for c in ring.completions() {
            seen.push((
                c.user_data(),
                c.res(),
                c.flags() & IORING_CQE_F_MORE != 0,
                c.is_big(),
                c.big_cqe(),
            ));
        }
    }
}

/// A mixed CQ of four slots. First, four 32-byte NOPs (eight slots) fill
/// it and wait in the overflow list; a multishot timeout then cannot post
/// at all and ends at its first firing, behind them. Second, a timeout of
/// no count fills the CQ with four `F_MORE` firings, ends at the fifth
/// through the overflow list, and 32-byte NOPs completed after it wait
/// behind it there. Safe outcome: in both rounds every completion comes
/// once, in the kernel's order, the big ones whole with their words, each
/// timeout's last completion last; nothing follows.
#[test]
fn multishot_timeouts_on_a_mixed_cq_end_in_order_with_big_completions_in_the_overflow_list() {
    let _watch = watchdog();
    let _serial = serial();
    if !require_kernel(6, 18, "IORING_SETUP_CQE_MIXED") {
        return;
    }
    let mut ring = match Builder::new()
        .cq_entries(4)
        .build_sized::<Sqe64, CqeMixed>(8)
    {
        Ok(r) => r,
        Err(e) => return skip(format_args!("no mixed ring: {e}")),
    };
    let words = |ud: u64| [ud, !ud];
    for i in 0..4u64 {
        ring.push(Nop::new().user_data(100 + i).big_cqe(words(100 + i)))
            .unwrap();
    }
    ring.submit().unwrap();
    assert!(ring.cq_has_overflow(), "eight slots into four");
    ring.push(
        Timeout::new(Duration::from_micros(100))
            .count(50)
            .timeout_flags(TimeoutFlags::MULTISHOT)
            .user_data(1),
    )
    .unwrap();
    ring.submit().unwrap();
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(5) {
        let _ = ring.get_events();
        std::thread::sleep(Duration::from_micros(300));
    }
    let mut seen = Vec::new();
    drain_mixed(&mut ring, &mut seen, |s| {
        s.iter().any(|x| x.0 == 1 && !x.2) && s.len() >= 5
    });
    let mut want: Vec<MixedSeen> = (0..4u64)
        .map(|i| (100 + i, 0, false, true, words(100 + i)))
        .collect();
    want.push((1, -libc::ETIME, false, false, [0, 0]));
    assert_eq!(
        seen, want,
        "the NOPs whole, in order, then the timeout's one"
    );

    ring.push(
        Timeout::new(Duration::from_micros(100))
            .timeout_flags(TimeoutFlags::MULTISHOT)
            .user_data(2),
    )
    .unwrap();
    ring.submit().unwrap();
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(10) {
        let _ = ring.get_events();
        std::thread::sleep(Duration::from_micros(300));
    }
    for i in 0..3u64 {
        ring.push(Nop::new().user_data(200 + i).big_cqe(words(200 + i)))
            .unwrap();
    }
    ring.submit().unwrap();
    let mut seen = Vec::new();
    drain_mixed(&mut ring, &mut seen, |s| {
        s.iter().any(|x| x.0 == 2 && !x.2) && s.iter().filter(|x| x.0 >= 200).count() == 3
    });
    let mut want: Vec<MixedSeen> = vec![(2, -libc::ETIME, true, false, [0, 0]); 4];
    want.push((2, -libc::ETIME, false, false, [0, 0]));
    want.extend((0..3u64).map(|i| (200 + i, 0, false, true, words(200 + i))));
    assert_eq!(seen, want, "four firings, the last, then the NOPs whole");
    std::thread::sleep(Duration::from_millis(2));
    let _ = ring.get_events();
    assert_eq!(ring.completions().count(), 0, "nothing after the last");
    assert!(!ring.cq_has_overflow());
}

/// What a multishot accept callback was given.
#[derive(Debug)]
enum Given {
    Socket(OwnedFd),
    Ended,
    Error(Option<i32>),
}

/// A reactor over a ring of two CQ entries, 40 connections waiting, a
/// multishot accept whose callback is queued again each time it hears
/// that the kernel ended the op (`MultishotEnded`, after a socket in the
/// op's last completion). Safe outcome: every connection comes once, as a
/// descriptor that the callback owns (the process holds exactly 40 more
/// descriptors, and exactly the baseline once they are dropped, every
/// client then reading the end of its stream); no op's callback hears
/// anything after its end; at least one op was ended by the full CQ; the
/// live op, cancelled, leaves nothing in flight and no descriptor behind.
/// A reactor's ring of `kind` with two SQ and two CQ entries.
fn reactor_ring(kind: Kind) -> Option<Ring> {
    let built = match kind {
        Kind::Plain => Reactor::ring_builder().cq_entries(2).build(2),
        Kind::Defer => Reactor::ring_builder()
            .defer_taskrun()
            .cq_entries(2)
            .build(2),
        Kind::Sqpoll => {
            if !uring_tests::require_sqpoll() {
                return None;
            }
            Ring::builder()
                .sqpoll(Duration::from_millis(20))
                .cq_entries(2)
                .build(2)
        }
    };
    match built {
        Ok(ring) => Some(ring),
        Err(e) => {
            skip(format_args!("no {kind:?} reactor ring of 2/2: {e}"));
            None
        }
    }
}

#[test]
fn reactor_accept_callbacks_on_a_cq_of_two_hear_each_end_and_own_every_socket_once() {
    let _watch = watchdog();
    let _serial = serial();
    const N: usize = 40;
    for kind in KINDS {
        let Some(ring) = reactor_ring(kind) else {
            continue;
        };
        let what = format!("{kind:?}");
        let reactor = Reactor::from_ring(ring).unwrap();
        let (listener, mut clients) = listener_with_clients(N);
        let lfd = SharedFd::new(listener);
        let base = fd_count();
        let given: Rc<RefCell<Vec<(u32, Given)>>> = Rc::default();
        let queue = |n: u32| {
            let given = Rc::clone(&given);
            reactor
                .handle()
                .queue_multishot(AcceptMulti::new(&lfd), move |item| {
                    let g = match item {
                        Ok(fd) => Given::Socket(fd),
                        Err(e) if MultishotEnded::is(&e) => Given::Ended,
                        Err(e) => Given::Error(e.raw_os_error()),
                    };
                    given.borrow_mut().push((n, g));
                })
                .unwrap()
        };
        let mut op = 0u32;
        let mut live = queue(op);
        let start = Instant::now();
        loop {
            assert!(start.elapsed() < PATIENCE, "{what}: {:?}", given.borrow());
            uring_tests::run_for(&reactor, 5);
            let g = given.borrow();
            let sockets = g.iter().filter(|x| matches!(x.1, Given::Socket(_))).count();
            if sockets >= N {
                break;
            }
            let over = g
                .iter()
                .any(|x| x.0 == op && matches!(x.1, Given::Ended | Given::Error(_)));
            drop(g);
            if over {
                op += 1;
                live = queue(op);
            }
        }
        let given = given.take();
        let mut over = HashSet::new();
        for (n, g) in &given {
            assert!(
                !over.contains(n),
                "{what}: op {n} heard after its end: {given:?}"
            );
            match g {
                Given::Socket(_) => {}
                Given::Ended => {
                    over.insert(*n);
                }
                Given::Error(e) => panic!("{what}: op {n} failed with {e:?}: {given:?}"),
            }
        }
        eprintln!(
            "{what}: {} accept ops, {} told of their end",
            op + 1,
            over.len()
        );
        assert!(!over.is_empty(), "{what}: no op was ended by the full CQ");
        let fds: Vec<OwnedFd> = given
            .into_iter()
            .filter_map(|(_, g)| match g {
                Given::Socket(fd) => Some(fd),
                _ => None,
            })
            .collect();
        assert_eq!(fds.len(), N, "{what}");
        assert_eq!(
            fd_count(),
            base + N,
            "{what}: a socket not handed out, or twice"
        );
        let peers: HashSet<SocketAddr> = fds
            .iter()
            .map(|fd| {
                TcpStream::from(fd.try_clone().unwrap())
                    .peer_addr()
                    .unwrap()
            })
            .collect();
        let want: HashSet<SocketAddr> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
        assert_eq!(peers, want, "{what}: every client once");
        drop(fds);
        assert_eq!(fd_count(), base, "{what}: an accepted socket left open");
        for c in &mut clients {
            assert!(peer_closed(c), "{what}: {:?}", c.local_addr());
        }
        reactor.cancel(live).unwrap();
        uring_tests::run_for(&reactor, 10);
        assert_eq!(reactor.in_flight(), 0, "{what}");
        assert_eq!(fd_count(), base, "{what}");
    }
}

/// A reactor of every kind over a ring of two CQ entries, 16 connections
/// waiting, a multishot accept callback and a multishot accept stream
/// (polled once) on the listener, submitted and never driven: the kernel
/// accepts until the CQ is full and ends an op through the overflow list.
/// The stream is dropped, then the reactor, with those completions unread.
/// Safe outcome: the drop returns (its shutdown flushes the overflow list
/// and waits for each op's last completion), every socket the kernel
/// accepted is closed or handed to the callback (which the drop let go
/// of), none left open in the process: the clients whose peer is still
/// open are exactly those still queued on the listener; the process holds
/// no descriptor more than before, less the listener the ops shared.
#[test]
fn a_reactor_dropped_with_accepts_held_back_by_a_full_cq_leaves_no_socket_open() {
    let _watch = watchdog();
    let _serial = serial();
    const N: usize = 16;
    for kind in KINDS {
        let Some(ring) = reactor_ring(kind) else {
            continue;
        };
        let what = format!("{kind:?}");
        let (listener, mut clients) = listener_with_clients(N);
        let dup = listener.try_clone().unwrap();
        let lfd = SharedFd::new(listener);
        // Before the ring's descriptor went to a reactor.
        drop(ring);
        let base = fd_count();
        let Some(ring) = reactor_ring(kind) else {
            continue;
        };
        let reactor = Reactor::from_ring(ring).unwrap();
        let got: Rc<RefCell<Vec<OwnedFd>>> = Rc::default();
        let to = Rc::clone(&got);
        reactor
            .handle()
            .queue_multishot(AcceptMulti::new(&lfd), move |item| {
                if let Ok(fd) = item {
                    to.borrow_mut().push(fd);
                }
            })
            .unwrap();
        let h = reactor.handle();
        let mut stream = h.stream(AcceptMulti::new(&lfd));
        assert!(uring_tests::poll_once(&mut Box::pin(stream.next())).is_pending());
        reactor.submit().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        drop(stream);
        drop(h);
        drop(reactor);
        assert_eq!(
            Rc::strong_count(&got),
            1,
            "{what}: the callback outlived its reactor"
        );
        let handed = got.take();
        eprintln!("{what}: {} sockets reached the callback", handed.len());
        drop(handed);
        drop(lfd);
        assert_eq!(fd_count(), base - 1, "{what}: a descriptor left open");
        let mut closed = HashSet::new();
        let mut open = HashSet::new();
        for c in &mut clients {
            let addr = c.local_addr().unwrap();
            if peer_closed(c) {
                closed.insert(addr);
            } else {
                open.insert(addr);
            }
        }
        dup.set_nonblocking(true).unwrap();
        let mut queued = HashSet::new();
        while let Ok((_, addr)) = dup.accept() {
            queued.insert(addr);
        }
        eprintln!(
            "{what}: {} accepted, {} still queued",
            closed.len(),
            open.len()
        );
        assert_eq!(open, queued, "{what}: an accepted socket was left open");
        assert!(
            closed.len() >= 3,
            "{what}: the kernel accepted {}",
            closed.len()
        );
        assert_eq!(closed.len() + open.len(), N, "{what}");
    }
}

/// A reactor over a plain ring of two CQ entries, a multishot poll stream
/// on a pipe a thread writes a byte to every 50 us, its reader blocking
/// the reactor's thread for a millisecond after each item: the kernel
/// fills the CQ meanwhile and ends the poll through the overflow list.
/// Safe outcome: each stream yields items (`POLLIN`), then ends (`None`,
/// never an error) exactly when the kernel ended its poll: the reactor
/// then has nothing in flight; a stream after its end stays ended; a
/// stream dropped while its poll runs leaves nothing in flight.
#[test]
fn a_reactor_poll_stream_ends_only_once_the_kernel_ended_its_poll() {
    let _watch = watchdog();
    let _serial = serial();
    let ring = match Ring::builder().cq_entries(2).build(2) {
        Ok(r) => r,
        Err(e) => return skip(format_args!("no ring of 2/2: {e}")),
    };
    let reactor = Reactor::from_ring(ring).unwrap();
    let (rd, wr) = uring_tests::pipe();
    let fd = SharedFd::new(rd);
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let stopper = stop.clone();
    let writer = std::thread::spawn(move || {
        let mut wr = std::fs::File::from(wr);
        let mut n = 0usize;
        while !stopper.load(Ordering::Relaxed) && n < 60_000 {
            wr.write_all(b"x").unwrap();
            n += 1;
            std::thread::sleep(Duration::from_micros(50));
        }
    });
    let (ends, items) = reactor
        .run_until(async {
            let mut ends = Vec::new();
            let mut items = 0usize;
            let start = Instant::now();
            while ends.len() < 4 {
                assert!(start.elapsed() < PATIENCE, "{ends:?}");
                let mut stream = reactor.stream(PollMulti::new(&fd, PollEvents::IN));
                let mut own = 0usize;
                loop {
                    match stream.next().await {
                        Some(Ok(ev)) => {
                            assert!(ev.contains(PollEvents::IN), "{ev:?}");
                            own += 1;
                            items += 1;
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        None => {
                            ends.push((own, reactor.in_flight()));
                            assert!(stream.next().await.is_none(), "an item after the end");
                            break;
                        }
                        Some(Err(e)) => panic!("stream {}: {e}", ends.len()),
                    }
                }
            }
            // One more, dropped while its poll runs.
            let mut stream = reactor.stream(PollMulti::new(&fd, PollEvents::IN));
            assert!(matches!(stream.next().await, Some(Ok(_))));
            drop(stream);
            (ends, items)
        })
        .unwrap();
    uring_tests::run_for(&reactor, 20);
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    eprintln!("{items} items over {} streams: {ends:?}", ends.len());
    for (own, in_flight) in &ends {
        assert!(*own >= 1, "{ends:?}");
        assert_eq!(
            *in_flight, 0,
            "a stream ended with its poll in flight: {ends:?}"
        );
    }
    assert_eq!(reactor.in_flight(), 0, "the dropped stream's poll");
}

/// A reactor over a plain ring of two CQ entries, a group of four 16-byte
/// buffers, 192 bytes queued on a socket; a multishot receive stream
/// polled once (so submitted), then left undriven: the kernel receives
/// 16, 16 (filling the CQ) and 16 more in the op's last completion,
/// through the overflow list. The stream is then dropped, its items
/// unread. Safe outcome: the reactor takes each of those completions and
/// gives its buffer back: four one-shot receives afterwards each get a
/// buffer (a fifth, with the four held, finds none: `ENOBUFS`), and the
/// bytes they get continue the stream where the dropped op stopped, none
/// twice.
#[test]
fn a_receive_stream_dropped_with_items_held_back_by_a_full_cq_returns_every_buffer() {
    let _watch = watchdog();
    let _serial = serial();
    let ring = match Ring::builder().cq_entries(2).build(2) {
        Ok(r) => r,
        Err(e) => return skip(format_args!("no ring of 2/2: {e}")),
    };
    let reactor = Reactor::from_ring(ring).unwrap();
    let group = match reactor.register_buf_ring(BufferGroup::new(41), 4, 16) {
        Ok(g) => g,
        Err(e) => return skip(format_args!("buffer rings: {e}")),
    };
    let (a, mut peer) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(a);
    let sent = pattern(16 * 12, 3);
    peer.write_all(&sent).unwrap();
    let h = reactor.handle();
    let mut stream = h.stream(RecvMulti::new(&fd, group));
    assert!(uring_tests::poll_once(&mut Box::pin(stream.next())).is_pending());
    reactor.submit().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    drop(stream);
    uring_tests::run_for(&reactor, 30);
    assert_eq!(reactor.in_flight(), 0);
    let (held, fifth) = reactor
        .run_until(async {
            let mut held = Vec::new();
            for i in 0..4 {
                let (res, buf) = reactor.op(RecvRing::new(&fd, group)).await;
                assert_eq!(res.unwrap(), 16, "receive {i}");
                held.push(buf.expect("a buffer"));
            }
            let (res, buf) = reactor.op(RecvRing::new(&fd, group)).await;
            (held, (res.map_err(|e| e.raw_os_error()), buf.is_some()))
        })
        .unwrap();
    assert_eq!(
        fifth,
        (Err(Some(libc::ENOBUFS)), false),
        "four buffers only"
    );
    let got: Vec<u8> = held.iter().flat_map(|b| b.to_vec()).collect();
    let at = (1..=8)
        .find(|k| got[..] == sent[16 * k..16 * k + 64])
        .unwrap_or_else(|| panic!("not a continuation of the stream: {got:?}"));
    eprintln!("the dropped stream's op took {at} buffers");
    assert_eq!(at, 3, "two F_MORE receives and the last");
    drop(held);
}

/// Layouts whose rooms no buffer can hold, and rooms wider than any
/// address, handed to the kernel. `io_recvmsg_copy_hdr` adds the header
/// and both rooms with `check_add_overflow` (into an `int` room each):
/// rooms of 2^31 or more, or that overflow, are refused with `-EOVERFLOW`
/// at once, no buffer named, no `F_MORE`, the datagram still queued. A
/// name room wider than a `sockaddr_storage` (129, 200, 300 bytes) is
/// laid out as asked: the payload follows the whole room, where `parse`
/// looks for it, and the name holds the address's 16 bytes alone.
#[test]
fn recvmsg_multi_rooms_past_any_buffer_or_any_address_are_taken_as_laid_out() {
    let _watch = watchdog();
    let _serial = serial();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<RecvMsgMulti<'static>>(&ring) {
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 36, 4, 512) else {
        return;
    };
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(rx.local_addr().unwrap()).unwrap();
    let from = tx.local_addr().unwrap();
    let receive = |ring: &mut Ring, layout: &MsgLayout| {
        ring.scope(|s| {
            s.push(RecvMsgMulti::new(&rx, layout, pool.group()).user_data(1))
                .unwrap();
            let mut seen: Vec<Seen> = Vec::new();
            let mut parsed = Vec::new();
            let start = Instant::now();
            while seen.is_empty() {
                assert!(start.elapsed() < PATIENCE, "{layout:?}");
                let _ = s.submit_and_wait_timeout(1, Duration::from_millis(20));
                for mut c in s.completions() {
                    seen.push((c.user_data(), c.res(), c.flags()));
                    if c.flags() & IORING_CQE_F_BUFFER != 0 {
                        let buf = pool.claim(&mut c).unwrap();
                        assert_eq!(buf.len(), c.res() as usize);
                        let out = RecvMsgOut::parse(&buf, layout).expect("a whole header");
                        parsed.push((out.name().len(), out.socket_addr(), out.payload().to_vec()));
                    }
                }
            }
            s.cancel(1).unwrap();
            (seen, parsed)
        })
    };
    for layout in [
        MsgLayout::new(16, (1usize << 32) + 16),
        MsgLayout::new(16, (1usize << 31) + 16),
        MsgLayout::new(16, usize::MAX),
        MsgLayout::new((1u32 << 31) + 16, 0),
        MsgLayout::new(u32::MAX, 0),
    ] {
        tx.send(b"stays").unwrap();
        let (seen, parsed) = receive(&mut ring, &layout);
        assert_eq!(seen, [(1, -libc::EOVERFLOW, 0)], "{layout:?}");
        assert!(parsed.is_empty());
        assert_eq!(queued_datagrams(&rx), [b"stays".to_vec()], "{layout:?}");
        assert_eq!(pool.available().unwrap(), pool.count(), "{layout:?}");
    }
    for (name, control) in [(129u32, 0usize), (200, 0), (300, 40)] {
        let layout = MsgLayout::new(name, control);
        tx.send(b"probe").unwrap();
        let (seen, parsed) = receive(&mut ring, &layout);
        assert_eq!(seen.len(), 1, "{layout:?}: {seen:?}");
        assert_eq!(
            seen[0].1 as usize,
            16 + name as usize + control + 5,
            "{layout:?}"
        );
        assert!(has_more(&seen[0]), "{layout:?}: {seen:?}");
        assert_eq!(parsed, [(16, Some(from), b"probe".to_vec())], "{layout:?}");
        assert!(queued_datagrams(&rx).is_empty());
        assert_eq!(pool.available().unwrap(), pool.count(), "{layout:?}");
    }
}

/// A reactor of every kind over a ring of two CQ entries, 16 connections
/// waiting, a multishot accept whose callback cancels its own op at its
/// first socket, while the kernel's further sockets wait in the CQ and
/// the overflow list. Safe outcome: the callback gets every socket the
/// kernel accepted (the cancel stops the op, it does not drop what was
/// posted) and nothing after its op's end; the op leaves nothing in
/// flight; once the callback's sockets are dropped the process holds the
/// descriptors it held before, every accepted client reads the end of its
/// stream, and the others still wait in the listener's queue.
#[test]
fn an_accept_callback_that_cancels_itself_at_a_full_cq_gets_every_socket_taken() {
    let _watch = watchdog();
    let _serial = serial();
    const N: usize = 16;
    for kind in KINDS {
        let Some(ring) = reactor_ring(kind) else {
            continue;
        };
        let what = format!("{kind:?}");
        let reactor = Reactor::from_ring(ring).unwrap();
        let (listener, mut clients) = listener_with_clients(N);
        let dup = listener.try_clone().unwrap();
        let lfd = SharedFd::new(listener);
        let base = fd_count();
        let given: Rc<RefCell<Vec<Given>>> = Rc::default();
        let id: Rc<std::cell::Cell<Option<uring::reactor::OpId>>> = Rc::default();
        let (to, me, h) = (Rc::clone(&given), Rc::clone(&id), reactor.handle());
        let op = reactor
            .handle()
            .queue_multishot(AcceptMulti::new(&lfd), move |item| {
                let first = to.borrow().is_empty();
                to.borrow_mut().push(match item {
                    Ok(fd) => Given::Socket(fd),
                    Err(e) if MultishotEnded::is(&e) => Given::Ended,
                    Err(e) => Given::Error(e.raw_os_error()),
                });
                if first {
                    let _ = h.cancel(me.get().expect("the op's id"));
                }
            })
            .unwrap();
        id.set(Some(op));
        // Submitted, not driven: the kernel fills the CQ and ends the op.
        reactor.submit().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        uring_tests::run_for(&reactor, 30);
        assert_eq!(reactor.in_flight(), 0, "{what}");
        let given = given.take();
        let mut sockets = Vec::new();
        let mut over = false;
        for g in given {
            assert!(!over, "{what}: an item after the end");
            match g {
                Given::Socket(fd) => sockets.push(fd),
                Given::Ended => over = true,
                Given::Error(e) => {
                    assert_eq!(e, Some(libc::ECANCELED), "{what}");
                    over = true;
                }
            }
        }
        eprintln!("{what}: {} sockets, then end: {over}", sockets.len());
        assert!(sockets.len() >= 3, "{what}: {}", sockets.len());
        assert_eq!(fd_count(), base + sockets.len(), "{what}");
        let taken: HashSet<SocketAddr> = sockets
            .iter()
            .map(|fd| {
                TcpStream::from(fd.try_clone().unwrap())
                    .peer_addr()
                    .unwrap()
            })
            .collect();
        assert_eq!(taken.len(), sockets.len(), "{what}: a socket twice");
        drop(sockets);
        assert_eq!(fd_count(), base, "{what}: a socket left open");
        let mut open = HashSet::new();
        for c in &mut clients {
            let addr = c.local_addr().unwrap();
            if peer_closed(c) {
                assert!(taken.contains(&addr), "{what}: closed but never handed out");
            } else {
                open.insert(addr);
            }
        }
        dup.set_nonblocking(true).unwrap();
        let mut queued = HashSet::new();
        while let Ok((_, addr)) = dup.accept() {
            queued.insert(addr);
        }
        assert_eq!(open, queued, "{what}: an accepted socket left open");
        assert_eq!(taken.len() + queued.len(), N, "{what}");
    }
}

/// Queues a multishot poll of `fd` whose callback queues it again each
/// time it hears that the kernel ended it after an item
/// (`MultishotEnded`), as `MultishotOp::ended` suggests, until `until`
/// has passed; counts the calls and the ends it re-armed.
fn rearming_poll(
    h: uring::reactor::Handle,
    fd: SharedFd,
    until: Instant,
    calls: Rc<std::cell::Cell<usize>>,
    rearmed: Rc<std::cell::Cell<usize>>,
) {
    let again = (h.clone(), fd.clone());
    let _ = h.queue_multishot(PollMulti::new(&fd, PollEvents::IN), move |item| {
        calls.set(calls.get() + 1);
        if let Err(e) = item
            && MultishotEnded::is(&e)
            && Instant::now() < until
        {
            rearmed.set(rearmed.get() + 1);
            rearming_poll(
                again.0.clone(),
                again.1.clone(),
                until,
                calls.clone(),
                rearmed.clone(),
            );
        }
    });
}

/// A reactor over a ring of two SQ and two CQ entries, twelve multishot
/// polls of a pipe that holds an unread byte (always readable), each
/// queued again by its callback whenever the kernel ends it at the full
/// CQ, as the docs suggest; the run's future waits for a 20 ms timeout.
/// Every re-armed poll is ready at once and finds the CQ full, so it ends
/// at once and is queued again: work that never runs out, which a fair
/// loop interleaves with its future. Safe outcome: `run_until` returns
/// soon after the 20 ms (the callbacks stop re-arming after 3 s, so that
/// the test ends either way). (`Shared::reap` once handled completions
/// until the CQ was empty, and the callbacks' pushes, which submit when
/// the SQ is full, refilled it, so `reap` never returned while they
/// re-armed: the future, and every task and remote job, starved for the
/// whole 3 s. It now returns to the run's loop after a bounded share.)
#[test]
fn rearming_multishot_callbacks_at_a_full_cq_do_not_starve_the_run_s_future() {
    let _watch = watchdog();
    let _serial = serial();
    let ring = match Ring::builder().cq_entries(2).build(2) {
        Ok(r) => r,
        Err(e) => return skip(format_args!("no ring of 2/2: {e}")),
    };
    let reactor = Reactor::from_ring(ring).unwrap();
    let (rd, wr) = uring_tests::pipe();
    let mut wr = std::fs::File::from(wr);
    wr.write_all(b"x").unwrap();
    let fd = SharedFd::new(rd);
    let calls = Rc::new(std::cell::Cell::new(0usize));
    let rearmed = Rc::new(std::cell::Cell::new(0usize));
    let start = Instant::now();
    let until = start + Duration::from_secs(3);
    for _ in 0..12 {
        rearming_poll(
            reactor.handle(),
            fd.clone(),
            until,
            calls.clone(),
            rearmed.clone(),
        );
    }
    let (r, ()) = reactor
        .run_until(reactor.op(uring::reactor::ops::Timeout::new(Duration::from_millis(20))))
        .unwrap();
    let took = start.elapsed();
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ETIME));
    eprintln!(
        "run_until took {took:?}: {} calls, {} re-arms",
        calls.get(),
        rearmed.get()
    );
    assert!(
        took < Duration::from_secs(1),
        "the run's future starved for {took:?} while {} callbacks ran",
        calls.get()
    );
}

/// A reactor of every kind over a ring of two SQ and two CQ entries, with
/// twelve multishot poll callbacks that queue their poll again at each
/// end, and four multishot poll streams (polled once), on a pipe a thread
/// keeps writing to: submitted and not driven, the polls fill the CQ and
/// the kernel ends the rest through the overflow list. Then the reactor
/// is dropped: its shutdown must read the overflowed completions, refuse
/// the callbacks' re-queues, and push a cancel for each live poll through
/// an SQ of two while the CQ keeps filling. Safe outcome: the drop
/// returns within a second (the callbacks would re-arm for 10 s); every
/// callback's state is dropped with it (nothing else holds it).
#[test]
fn a_reactor_dropped_under_a_flood_of_multishot_polls_on_a_tiny_ring_ends() {
    let _watch = watchdog();
    let _serial = serial();
    for kind in KINDS {
        let Some(ring) = (match kind {
            Kind::Plain => Ring::builder().cq_entries(2).build(2).ok(),
            _ => reactor_ring(kind),
        }) else {
            continue;
        };
        let what = format!("{kind:?}");
        let reactor = Reactor::from_ring(ring).unwrap();
        let (rd, wr) = uring_tests::pipe();
        let fd = SharedFd::new(rd);
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let stopper = stop.clone();
        let writer = std::thread::spawn(move || {
            let mut wr = std::fs::File::from(wr);
            let mut n = 0usize;
            while !stopper.load(Ordering::Relaxed) && n < 20_000 {
                wr.write_all(b"x").unwrap();
                n += 1;
                std::thread::sleep(Duration::from_micros(30));
            }
            wr
        });
        let calls = Rc::new(std::cell::Cell::new(0usize));
        let ends = Rc::new(std::cell::Cell::new(0usize));
        let until = Instant::now() + Duration::from_secs(10);
        for _ in 0..12 {
            rearming_poll(
                reactor.handle(),
                fd.clone(),
                until,
                calls.clone(),
                ends.clone(),
            );
        }
        let h = reactor.handle();
        let mut streams: Vec<_> = (0..4)
            .map(|_| h.stream(PollMulti::new(&fd, PollEvents::IN)))
            .collect();
        for st in &mut streams {
            assert!(uring_tests::poll_once(&mut Box::pin(st.next())).is_pending());
        }
        reactor.submit().unwrap();
        std::thread::sleep(Duration::from_millis(5));
        drop(streams);
        drop(h);
        let start = Instant::now();
        drop(reactor);
        let took = start.elapsed();
        eprintln!(
            "{what}: the drop took {took:?}, {} calls, {} re-arms",
            calls.get(),
            ends.get()
        );
        assert!(took < Duration::from_secs(1), "{what}: {took:?}");
        assert_eq!(
            Rc::strong_count(&calls),
            1,
            "{what}: a callback outlived its reactor"
        );
        stop.store(true, Ordering::Relaxed);
        drop(writer.join().unwrap());
    }
}
