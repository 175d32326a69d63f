//! `Scope::resize` and the signal masks of registered wait slots, attacked
//! where `scope_resize.rs`, `attacks_deadlines_bundles_resizes.rs`,
//! `attacks_ring_memory_gaps_audit.rs` and `waits.rs` stop: resizes with
//! owned buffers, claimed buffer-ring buffers lent to a send, multishot
//! accepts and receives, link-timeout chains and queued cancels in flight;
//! foreign completions in the CQ and in the kernel's overflow list at the
//! resize (a shrink the kernel refuses with `EOVERFLOW`), a CQ full of the
//! scope's own completions, forgotten iterators between resizes, cancels
//! that overflow a CQ shrunk to the ops in flight, sizes the kernel never
//! takes, dozens of resizes in a row, a scope of a ring shrunk to one SQE
//! ending with many ops in flight (tagged and fast scopes), a panic after a
//! resize, the next scope's room; and registered wait slots' masks: a mask
//! that blocks a signal sent by another thread, the continuation enter
//! after a minimum wait keeping the mask, a timeout op firing with and
//! without a mask, the mask kept across `set_registered_wait` and
//! keeping the slot's times, the region's last slot, and scopes waiting
//! by slot across their resize.
//!
//! Read against Linux 6.18: `io_uring/register.c`
//! (`io_register_resize_rings`: the CQ copied from its head to its tail,
//! `-EOVERFLOW` when that does not fit the new one, the overflow list left
//! in place; `RESIZE_FLAGS`/`COPY_FLAGS`), `io_uring/io_uring.c`
//! (`io_uring_fill_params`, `io_cqring_wait` with `set_user_sigmask` and
//! `restore_saved_sigmask_unless`, `io_cqring_min_timer_wakeup`,
//! `io_get_ext_arg_reg` and its `array_index_nospec` of the slot offset),
//! and `io_uring/cancel.c`.
//!
//! Every test is safe code against the running kernel but for the signal
//! plumbing (`sigaction`, `pthread_sigmask`, `pthread_kill`), and checks what
//! the kernel did: which completions came, once each, with which results,
//! bytes and canaries. Each test that sends signals uses its own real-time
//! signal, blocked (where it must be) in its own thread only.

use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use uring::ops::{Accept, Nop, Read, Recv, Send, Timeout, TimeoutRemove};
use uring::{AcceptFlags, Error, PushErrorKind, RecvFlags, Ring, Scope, SyncCancel};
use uring_tests::{
    PATIENCE, next_scope_cqe, pattern, plain_buf_ring, require_kernel, resizable_ring, skip,
    watchdog,
};

const CANARY: u8 = 0x5A;

/// `n` pipes: read ends, and write ends as files.
fn pipes(n: usize) -> (Vec<OwnedFd>, Vec<std::fs::File>) {
    (0..n)
        .map(|_| {
            let (rd, wr) = uring_tests::pipe();
            (rd, std::fs::File::from(wr))
        })
        .unzip()
}

/// Pushes a NOP, submitting once to make room when the SQ is full; the
/// kind of the refusal otherwise.
fn push_nop(s: &mut Scope<'_, '_>, user_data: u64) -> Result<(), PushErrorKind> {
    match s.push(Nop::new().user_data(user_data)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == PushErrorKind::QueueFull => {
            s.submit().unwrap();
            s.push(e.into_inner()).map_err(|e| e.kind())
        }
        Err(e) => Err(e.kind()),
    }
}

/// How many ops the scope takes before `ScopeFull` (NOPs, user_data from
/// `first`), then reaps them all: the scope's room less what is in flight.
fn room_left(s: &mut Scope<'_, '_>, first: u64) -> u32 {
    let mut n = 0u32;
    loop {
        match push_nop(s, first + u64::from(n)) {
            Ok(()) => n += 1,
            Err(PushErrorKind::ScopeFull) => break,
            Err(k) => panic!("push {n}: {k:?}"),
        }
        assert!(n <= 1 << 16, "no end to the scope's room");
    }
    let got = reap(s, n as usize);
    let mut want: Vec<(u64, i32)> = (first..first + u64::from(n)).map(|u| (u, 0)).collect();
    want.sort_unstable();
    let mut sorted = got;
    sorted.sort_unstable();
    assert_eq!(sorted, want, "the room's NOPs, once each");
    n
}

/// Submits and waits until `n` completions have come (each wait bounded),
/// returning `(user_data, res)` in CQ order; fails on more.
fn reap(s: &mut Scope<'_, '_>, n: usize) -> Vec<(u64, i32)> {
    s.submit().unwrap();
    let mut got = Vec::new();
    while got.len() < n {
        s.wait_timeout(1, PATIENCE)
            .unwrap_or_else(|e| panic!("{e} after {got:?}"));
        got.extend(s.completions().map(|c| (c.user_data(), c.res())));
    }
    assert_eq!(got.len(), n, "more completions than expected: {got:?}");
    got
}

/// Nothing more comes within 50 ms.
fn assert_quiet(s: &mut Scope<'_, '_>, what: &str) {
    let r = s.wait_timeout(1, Duration::from_millis(50));
    let more: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
    assert!(
        matches!(r, Err(Error::TimedOut)) && more.is_empty(),
        "{what}: {r:?} {more:?}"
    );
}

/// A ring whose later scopes tag every op: a NOP pushed and reaped outside
/// any scope first.
fn tagging(ring: &mut Ring) {
    ring.push(Nop::new().user_data(0xDEAD)).unwrap();
    ring.submit_and_wait(1).unwrap();
    let c: Vec<_> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(c, [0xDEAD]);
}

// ---------------------------------------------------------------------------
// Scope::resize
// ---------------------------------------------------------------------------

/// An owned buffer (`push_owned`) and a borrowed one, each under a read of
/// 8 of its 16 bytes, in flight across a grow, a shrink to exactly the two
/// ops in flight (CQ of 2, SQ of 1) and a grow again: each read lands once
/// in its own buffer, the owned buffer comes back with its canary tail, and
/// the ring has the last sizes.
#[test]
fn owned_and_borrowed_reads_cross_a_grow_a_shrink_to_them_and_a_grow() {
    let _watch = watchdog();
    let Some(mut ring) = resizable_ring(4) else {
        return;
    };
    let (rds, mut wrs) = pipes(2);
    let mut borrowed = [CANARY; 16];
    let owned = ring.scope(|s| {
        s.push_owned(vec![CANARY; 16], |buf, sq| {
            sq.push(Read::new(&rds[0], &mut buf[..8]).user_data(1))
        })
        .unwrap();
        s.push(Read::new(&rds[1], &mut borrowed[..8]).user_data(2))
            .unwrap();
        s.submit().unwrap();
        s.resize(16, 64).unwrap();
        s.resize(1, 2).unwrap();
        assert_eq!(s.in_flight(), 2);
        // No room left in a scope whose CQ holds its two ops.
        assert_eq!(
            s.push(Nop::new().user_data(3)).unwrap_err().kind(),
            PushErrorKind::ScopeFull
        );
        s.resize(8, 32).unwrap();
        wrs[0].write_all(&pattern(8, 1)).unwrap();
        wrs[1].write_all(&pattern(8, 2)).unwrap();
        s.submit().unwrap();
        let mut seen = Vec::new();
        let mut owned = None;
        while seen.len() < 2 {
            s.wait_timeout(1, PATIENCE).unwrap();
            for mut c in s.completions() {
                seen.push((c.user_data(), c.res()));
                if c.user_data() == 1 {
                    owned = c.take_buf();
                }
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, [(1, 8), (2, 8)]);
        assert_quiet(s, "after the two reads");
        owned.expect("the owned buffer, back with its completion")
    });
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (8, 32));
    assert_eq!(owned.len(), 16);
    assert_eq!(owned[..8], pattern(8, 1)[..]);
    assert!(owned[8..].iter().all(|&b| b == CANARY), "{owned:?}");
    assert_eq!(borrowed[..8], pattern(8, 2)[..]);
    assert!(borrowed[8..].iter().all(|&b| b == CANARY), "{borrowed:?}");
}

/// The scope after one that resized gets the new CQ as its room, and so
/// does the one after a shrink, in a fast scope and in one that tags every
/// op.
#[test]
fn the_next_scope_after_a_resize_has_the_new_cq_as_its_room() {
    let _watch = watchdog();
    for tag in [false, true] {
        let Some(mut ring) = resizable_ring(4) else {
            return;
        };
        if tag {
            tagging(&mut ring);
        }
        let (rds, mut wrs) = pipes(1);
        let mut buf = [CANARY; 4];
        ring.scope(|s| {
            assert_eq!(s.tags_every_op(), tag);
            s.push(Read::new(&rds[0], &mut buf[..]).user_data(1))
                .unwrap();
            s.submit().unwrap();
            s.resize(8, 32).unwrap();
            wrs[0].write_all(b"abcd").unwrap();
            assert_eq!(reap(s, 1), [(1, 4)]);
        });
        assert_eq!(&buf, b"abcd");
        let room = ring.scope(|s| room_left(s, 100));
        assert_eq!(
            room, 32,
            "tagging {tag}: the room of the scope after a grow"
        );
        ring.scope(|s| s.resize(2, 4).unwrap());
        let room = ring.scope(|s| room_left(s, 200));
        assert_eq!(
            room, 4,
            "tagging {tag}: the room of the scope after a shrink"
        );
    }
}

/// A read linked to a link timeout, in flight across a grow and a shrink:
/// the timeout fires once, cancels the read once, and nothing more comes;
/// the read's buffer is untouched.
#[test]
fn a_link_timeout_chain_in_flight_across_resizes_fires_once() {
    let _watch = watchdog();
    let Some(mut ring) = resizable_ring(4) else {
        return;
    };
    let (rds, _wrs) = pipes(1);
    let mut buf = [CANARY; 8];
    ring.scope(|s| {
        s.push(
            Read::new(&rds[0], &mut buf[..])
                .user_data(10)
                .timeout(Duration::from_millis(80)),
        )
        .unwrap();
        s.submit().unwrap();
        s.resize(32, 64).unwrap();
        s.resize(2, 2).unwrap();
        let mut got = reap(s, 2);
        got.sort_unstable();
        assert_eq!(got, [(0, -libc::ETIME), (10, -libc::ECANCELED)]);
        assert_eq!(s.in_flight(), 0);
        assert_quiet(s, "after the chain");
    });
    assert_eq!(buf, [CANARY; 8]);
}

/// Cancels queued by `Scope::cancel` and not yet submitted when the scope
/// resizes go to the kernel with the resize; `cancel_sync` after it still
/// finds an op by its `user_data`; neither shows a completion of its own.
/// In a fast scope and in one that tags every op.
#[test]
fn cancels_queued_before_a_resize_and_sync_cancels_after_it() {
    let _watch = watchdog();
    for tag in [false, true] {
        let Some(mut ring) = resizable_ring(4) else {
            return;
        };
        if tag {
            tagging(&mut ring);
        }
        let (rds, mut wrs) = pipes(3);
        let mut bufs = [[CANARY; 4]; 3];
        ring.scope(|s| {
            assert_eq!(s.tags_every_op(), tag);
            for (i, b) in bufs.iter_mut().enumerate() {
                s.push(Read::new(&rds[i], &mut b[..]).user_data(i as u64 + 1))
                    .unwrap();
            }
            s.submit().unwrap();
            assert_eq!(s.cancel(1).unwrap(), 1);
            s.resize(16, 16).unwrap();
            s.cancel_sync(SyncCancel::user_data(2), Some(Duration::from_secs(5)))
                .unwrap();
            let mut got = reap(s, 2);
            got.sort_unstable();
            assert_eq!(
                got,
                [(1, -libc::ECANCELED), (2, -libc::ECANCELED)],
                "tagging {tag}"
            );
            wrs[2].write_all(b"wxyz").unwrap();
            assert_eq!(reap(s, 1), [(3, 4)], "tagging {tag}");
            assert_quiet(s, "after the cancels");
        });
        assert_eq!(bufs, [[CANARY; 4], [CANARY; 4], *b"wxyz"], "tagging {tag}");
    }
}

/// Four reads in a CQ shrunk to exactly four entries, then a cancel of
/// each: eight completions (four of the scope's own requests) for a CQ of
/// four, the rest in the kernel's overflow list. Each read completes with
/// `ECANCELED` once, no request's completion shows, and the scope's next
/// four ops fit.
#[test]
fn cancels_that_overflow_a_cq_shrunk_to_the_ops_in_flight_lose_nothing() {
    let _watch = watchdog();
    for tag in [false, true] {
        let Some(mut ring) = resizable_ring(8) else {
            return;
        };
        if tag {
            tagging(&mut ring);
        }
        let (rds, _wrs) = pipes(4);
        let mut bufs = [[CANARY; 4]; 4];
        ring.scope(|s| {
            for (i, b) in bufs.iter_mut().enumerate() {
                s.push(Read::new(&rds[i], &mut b[..]).user_data(i as u64 + 1))
                    .unwrap();
            }
            s.submit().unwrap();
            s.resize(4, 4).unwrap();
            for ud in 1..=4 {
                assert_eq!(s.cancel(ud).unwrap(), 1, "tagging {tag}");
            }
            let mut got = reap(s, 4);
            got.sort_unstable();
            let want: Vec<(u64, i32)> = (1..=4).map(|u| (u, -libc::ECANCELED)).collect();
            assert_eq!(got, want, "tagging {tag}");
            assert_quiet(s, "after the cancelled reads");
            assert_eq!(s.in_flight(), 0);
            let room = room_left(s, 50);
            assert_eq!(room, 4, "tagging {tag}");
        });
        assert_eq!(bufs, [[CANARY; 4]; 4]);
        assert_eq!(ring.completions().count(), 0);
    }
}

/// Twelve NOP completions posted before the scope into a CQ of eight: eight
/// in the CQ, four in the kernel's overflow list. A shrink of the CQ to four
/// under them is refused by the kernel (`EOVERFLOW`) with the scope going
/// on; a grow is taken. Then every foreign completion comes out once, in
/// order, with its own `user_data`, and the scope's read with its own.
#[test]
fn foreign_completions_in_the_cq_and_overflow_list_cross_a_resize_once_in_order() {
    let _watch = watchdog();
    let Some(mut ring) = resizable_ring(4) else {
        return;
    };
    for batch in 0..3u64 {
        for i in 0..4u64 {
            ring.push(Nop::new().user_data(1000 + batch * 4 + i))
                .unwrap();
        }
        ring.submit().unwrap();
    }
    let (rds, mut wrs) = pipes(1);
    let mut buf = [CANARY; 4];
    let seen = ring.scope(|s| {
        assert!(s.tags_every_op());
        s.push(Read::new(&rds[0], &mut buf[..]).user_data(7))
            .unwrap();
        s.submit().unwrap();
        let shrink = s.resize(4, 4);
        assert_eq!(
            shrink.as_ref().err().and_then(Error::raw_os_error),
            Some(libc::EOVERFLOW),
            "a CQ of 4 under 8 completions: {shrink:?}"
        );
        s.resize(8, 32).unwrap();
        wrs[0].write_all(b"1234").unwrap();
        let mut seen = Vec::new();
        let start = Instant::now();
        while seen.len() < 13 {
            assert!(start.elapsed() < PATIENCE, "{seen:?}");
            let _ = s.submit_and_wait_timeout(1, Duration::from_millis(20));
            seen.extend(
                s.completions()
                    .map(|c| (c.user_data(), c.res(), c.is_scope_op())),
            );
        }
        assert_quiet(s, "after the foreign completions and the read");
        seen
    });
    let foreign: Vec<u64> = seen.iter().filter(|c| !c.2).map(|c| c.0).collect();
    assert_eq!(foreign, (1000..1012).collect::<Vec<u64>>(), "{seen:?}");
    let own: Vec<(u64, i32)> = seen.iter().filter(|c| c.2).map(|c| (c.0, c.1)).collect();
    assert_eq!(own, [(7, 4)]);
    assert_eq!(&buf, b"1234");
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (8, 32));
}

/// A CQ full of the scope's own unread completions at the resize: a CQ
/// smaller than them is refused before the kernel, the same sizes do
/// nothing, a new SQ with the same CQ is taken; the completions come out
/// once each after it, and the room follows.
#[test]
fn a_cq_full_of_the_scopes_own_completions_at_the_resize() {
    let _watch = watchdog();
    let Some(mut ring) = resizable_ring(4) else {
        return;
    };
    ring.scope(|s| {
        for ud in 0..8 {
            push_nop(s, ud).unwrap();
        }
        s.submit().unwrap();
        s.get_events().unwrap();
        assert_eq!(s.ready(), 8);
        assert_eq!(s.in_flight(), 8);
        assert!(matches!(s.resize(2, 4), Err(Error::InvalidArgument(_))));
        s.resize(4, 8).unwrap();
        s.resize(8, 8).unwrap();
        assert_eq!(
            s.push(Nop::new().user_data(99)).unwrap_err().kind(),
            PushErrorKind::ScopeFull
        );
        let got: Vec<u64> = s.completions().map(|c| c.user_data()).collect();
        assert_eq!(got, (0..8).collect::<Vec<u64>>());
        assert_eq!(s.in_flight(), 0);
        assert_eq!(room_left(s, 10), 8);
        assert_quiet(s, "after the full CQ");
    });
}

/// Iterators forgotten part-way (`mem::forget`) between resizes: what
/// they handed out does not come again, and what they left comes once.
#[test]
fn forgotten_iterators_between_resizes_repeat_and_lose_nothing() {
    let _watch = watchdog();
    let Some(mut ring) = resizable_ring(8) else {
        return;
    };
    ring.scope(|s| {
        for ud in 0..6 {
            push_nop(s, ud).unwrap();
        }
        s.submit_and_wait(6).unwrap();
        let mut seen = Vec::new();
        let mut it = s.completions();
        seen.extend(it.by_ref().take(2).map(|c| c.user_data()));
        std::mem::forget(it);
        s.resize(8, 16).unwrap();
        let mut it = s.completions();
        seen.extend(it.by_ref().take(1).map(|c| c.user_data()));
        std::mem::forget(it);
        assert_eq!(s.in_flight(), 3);
        // A shrink to the three left.
        s.resize(2, 4).unwrap();
        seen.extend(s.completions().map(|c| c.user_data()));
        assert_eq!(seen, (0..6).collect::<Vec<u64>>());
        assert_eq!(s.in_flight(), 0);
        assert_quiet(s, "after the forgotten iterators");
    });
    assert_eq!(ring.completions().count(), 0);
}

/// A multishot accept in flight across a grow and a shrink: every
/// connection made before, between and after the resizes is accepted once,
/// its descriptor taken and connected to its client; the scope's end
/// cancels the accept and nothing more comes.
#[test]
fn a_multishot_accept_keeps_accepting_across_resizes() {
    let _watch = watchdog();
    if !require_kernel(5, 19, "multishot accept") {
        return;
    }
    let Some(mut ring) = resizable_ring(4) else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (clients, servers) = ring.scope(|s| {
        s.push(
            Accept::new(&listener)
                .iou_flags(AcceptFlags::MULTISHOT)
                .accept_flags(libc::SOCK_CLOEXEC)
                .user_data(100),
        )
        .unwrap();
        s.submit().unwrap();
        let mut clients = Vec::new();
        let mut servers = Vec::new();
        for (round, sizes) in [(16u32, 64u32), (1, 2), (8, 8)].into_iter().enumerate() {
            for _ in 0..2 {
                clients.push(TcpStream::connect(addr).unwrap());
                let mut c = next_scope_cqe(s);
                assert_eq!(c.user_data(), 100, "round {round}");
                assert!(c.res() >= 0 && c.has_more(), "round {round}: {:?}", c.cqe());
                servers.push(TcpStream::from(c.take_fd().expect("a descriptor")));
            }
            s.resize(sizes.0, sizes.1).unwrap();
            assert_eq!(s.in_flight(), 1);
        }
        clients.push(TcpStream::connect(addr).unwrap());
        let mut c = next_scope_cqe(s);
        assert!(c.res() >= 0 && c.has_more(), "{:?}", c.cqe());
        servers.push(TcpStream::from(c.take_fd().expect("a descriptor")));
        (clients, servers)
    });
    assert_eq!(ring.completions().count(), 0);
    assert_eq!(servers.len(), 7);
    for (i, (client, server)) in clients.iter().zip(&servers).enumerate() {
        assert_eq!(
            server.peer_addr().unwrap(),
            client.local_addr().unwrap(),
            "connection {i}"
        );
    }
}

/// A multishot receive into a buffer ring, and a send of a claimed buffer
/// (`push_claimed`) blocked on a full socket, in flight across a grow and
/// a shrink: the receive goes on posting with each completion's own bytes,
/// the send goes out whole once the peer reads, and the buffer comes back
/// to its ring only after the send.
#[test]
fn a_multishot_receive_and_a_claimed_send_cross_resizes() {
    let _watch = watchdog();
    let Some(mut ring) = resizable_ring(4) else {
        return;
    };
    let Some(pool) = plain_buf_ring(&mut ring, 7, 4, 64) else {
        return;
    };
    let (mut peer, sock) = UnixStream::pair().unwrap();
    let (out, inn) = UnixStream::pair().unwrap();
    let filled = uring_tests::fill_unix_send_side(&out);
    ring.scope(|s| {
        s.push(
            Recv::new(&sock, pool.select())
                .recv_flags(RecvFlags::MULTISHOT)
                .user_data(1),
        )
        .unwrap();
        s.submit().unwrap();
        peer.write_all(b"first").unwrap();
        let mut c = next_scope_cqe(s);
        assert_eq!((c.user_data(), c.res()), (1, 5));
        assert!(c.has_more());
        let first = pool.claim(&mut c).unwrap();
        assert_eq!(&first[..], b"first");
        s.push_claimed(first, |bytes, sq| {
            sq.push(Send::new(&out, bytes).user_data(2))
        })
        .unwrap();
        s.submit().unwrap();
        assert_eq!(pool.available().unwrap(), 3);
        s.resize(16, 64).unwrap();
        peer.write_all(b"second").unwrap();
        let mut c = next_scope_cqe(s);
        assert_eq!((c.user_data(), c.res()), (1, 6), "the receive goes on");
        let second = pool.claim(&mut c).unwrap();
        assert_eq!(&second[..], b"second");
        // The receive and the blocked send: a CQ of two.
        assert_eq!(s.in_flight(), 2);
        s.resize(1, 2).unwrap();
        // The filler first; the send's retry is task work of this
        // `defer_taskrun` ring, run in the scope's wait.
        let drained = uring_tests::read_exactly(&inn, filled);
        assert!(drained.iter().all(|&b| b == 0xEE));
        let c = next_scope_cqe(s);
        assert_eq!((c.user_data(), c.res()), (2, 5), "the claimed send");
        assert_eq!(uring_tests::read_exactly(&inn, 5), b"first");
        assert_eq!(pool.available().unwrap(), 3, "the sent buffer is back");
        drop(second);
        assert_eq!(pool.available().unwrap(), 4);
        s.resize(4, 8).unwrap();
        peer.write_all(b"third").unwrap();
        let mut c = next_scope_cqe(s);
        assert_eq!((c.user_data(), c.res()), (1, 5));
        let third = pool.claim(&mut c).unwrap();
        assert_eq!(&third[..], b"third");
    });
    assert_eq!(ring.completions().count(), 0);
    assert_eq!(pool.available().unwrap(), 4);
}

/// Eight reads fill a CQ of eight; a cancel of each doubles that, so that
/// the kernel keeps eight completions in its overflow list. Resizes then,
/// to the same CQ with a new SQ and to a larger one, leave the list in
/// place: every read still completes once with `ECANCELED`, and the
/// scope's requests show nothing.
#[test]
fn resizes_with_the_scopes_completions_in_the_overflow_list() {
    let _watch = watchdog();
    for tag in [false, true] {
        let Some(mut ring) = resizable_ring(4) else {
            return;
        };
        if tag {
            tagging(&mut ring);
        }
        let (rds, _wrs) = pipes(8);
        let mut bufs = [[CANARY; 4]; 8];
        ring.scope(|s| {
            for (i, b) in bufs.iter_mut().enumerate() {
                s.push(Read::new(&rds[i], &mut b[..]).user_data(i as u64 + 1))
                    .unwrap();
                s.submit().unwrap();
            }
            for ud in 1..=8 {
                match s.cancel(ud) {
                    Ok(n) => assert_eq!(n, 1),
                    Err(e) if e.kind() == PushErrorKind::QueueFull => {
                        s.submit().unwrap();
                        assert_eq!(s.cancel(ud).unwrap(), 1);
                    }
                    Err(e) => panic!("cancel {ud}: {:?}", e.kind()),
                }
            }
            s.submit().unwrap();
            s.get_events().unwrap();
            assert_eq!(s.ready(), 8, "tagging {tag}: a full CQ");
            s.resize(8, 8).unwrap();
            s.resize(16, 64).unwrap();
            let mut got = Vec::new();
            let start = Instant::now();
            while got.len() < 8 {
                assert!(start.elapsed() < PATIENCE, "tagging {tag}: {got:?}");
                let _ = s.wait_timeout(1, Duration::from_millis(20));
                got.extend(s.completions().map(|c| (c.user_data(), c.res())));
            }
            got.sort_unstable();
            let want: Vec<(u64, i32)> = (1..=8).map(|u| (u, -libc::ECANCELED)).collect();
            assert_eq!(got, want, "tagging {tag}");
            assert_eq!(s.in_flight(), 0);
            assert_quiet(s, "after the overflowed cancels");
        });
        assert_eq!(bufs, [[CANARY; 4]; 8]);
        assert_eq!(ring.completions().count(), 0);
    }
}

/// A scope that tags every op grown to the kernel's largest CQ (65536
/// entries) takes 65536 ops in flight at once, each completing once with
/// its own `user_data`, and not one more; shrunk again in the same scope,
/// its room is the small CQ, and so is the next scope's.
#[test]
fn a_tagged_scope_grown_to_the_largest_cq_tracks_every_slot() {
    let _watch = watchdog();
    let Some(mut ring) = resizable_ring(4) else {
        return;
    };
    tagging(&mut ring);
    const MAX_CQ: u32 = 65536;
    ring.scope(|s| {
        assert!(s.tags_every_op());
        s.resize(4096, MAX_CQ).unwrap();
        for ud in 0..u64::from(MAX_CQ) {
            push_nop(s, ud).unwrap_or_else(|k| panic!("push {ud}: {k:?}"));
        }
        assert_eq!(
            s.push(Nop::new().user_data(u64::MAX >> 1))
                .unwrap_err()
                .kind(),
            PushErrorKind::ScopeFull
        );
        s.submit().unwrap();
        assert_eq!(s.in_flight(), MAX_CQ);
        let mut seen = vec![0u8; MAX_CQ as usize];
        let mut n = 0;
        while n < MAX_CQ {
            s.wait_timeout(1, PATIENCE).unwrap();
            for c in s.completions() {
                assert_eq!(c.res(), 0);
                seen[c.user_data() as usize] += 1;
                n += 1;
            }
        }
        assert!(seen.iter().all(|&k| k == 1), "each NOP once");
        s.resize(1, 2).unwrap();
        assert_eq!(room_left(s, 7), 2);
    });
    assert_eq!(ring.scope(|s| room_left(s, 9)), 2);
}

/// Eight NOPs pushed and not submitted when the scope shrinks its SQ to
/// one entry: the resize submits them first (the kernel's SQ copy would
/// refuse eight unconsumed SQEs in an SQ of one), each completes once.
#[test]
fn sqes_pushed_and_not_submitted_go_in_before_a_shrink_of_the_sq() {
    let _watch = watchdog();
    let Some(mut ring) = resizable_ring(8) else {
        return;
    };
    ring.scope(|s| {
        for ud in 0..8 {
            s.push(Nop::new().user_data(ud)).unwrap();
        }
        assert_eq!(s.space_left(), 0);
        s.resize(1, 16).unwrap();
        assert_eq!(s.space_left(), 1);
        let got = reap(s, 8);
        assert_eq!(got, (0..8).map(|u| (u, 0)).collect::<Vec<(u64, i32)>>());
        assert_quiet(s, "after the eight NOPs");
    });
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (1, 16));
}

/// The completions of the scope's own cancel requests, which the program
/// never sees and `in_flight` does not count, still take room in the CQ:
/// a shrink to the ops in flight is refused by the kernel (`EOVERFLOW`)
/// while they wait there unread, the scope going on, and taken once the
/// program has read its ops' completions (which moves past them).
#[test]
fn hidden_cancel_completions_in_the_cq_make_a_shrink_to_in_flight_overflow() {
    let _watch = watchdog();
    for tag in [false, true] {
        let Some(mut ring) = resizable_ring(8) else {
            return;
        };
        if tag {
            tagging(&mut ring);
        }
        let (rds, _wrs) = pipes(4);
        let mut bufs = [[CANARY; 4]; 4];
        ring.scope(|s| {
            for (i, b) in bufs.iter_mut().enumerate() {
                s.push(Read::new(&rds[i], &mut b[..]).user_data(i as u64 + 1))
                    .unwrap();
            }
            s.submit().unwrap();
            for ud in 1..=4 {
                assert_eq!(s.cancel(ud).unwrap(), 1);
            }
            s.submit().unwrap();
            // Wait until the four cancelled reads are in the CQ, behind
            // the requests' own completions.
            let start = Instant::now();
            while s.ready() < 8 {
                assert!(start.elapsed() < PATIENCE, "{} ready", s.ready());
                let _ = s.wait_timeout(8, Duration::from_millis(10));
            }
            assert_eq!(s.in_flight(), 4);
            let shrink = s.resize(4, 4);
            assert_eq!(
                shrink.as_ref().err().and_then(Error::raw_os_error),
                Some(libc::EOVERFLOW),
                "tagging {tag}: {shrink:?}"
            );
            assert_eq!(s.in_flight(), 4);
            let mut got: Vec<(u64, i32)> =
                s.completions().map(|c| (c.user_data(), c.res())).collect();
            got.sort_unstable();
            let want: Vec<(u64, i32)> = (1..=4).map(|u| (u, -libc::ECANCELED)).collect();
            assert_eq!(got, want, "tagging {tag}");
            s.resize(4, 4).unwrap();
            assert_quiet(s, "after the cancels");
            assert_eq!(room_left(s, 10), 4);
        });
        assert_eq!(bufs, [[CANARY; 4]; 4]);
        assert_eq!((ring.sq_entries(), ring.cq_entries()), (4, 4));
    }
}

/// A multishot receive of datagrams in a CQ the scope shrank to two
/// entries: the kernel posts while the CQ has room and ends the receive at
/// the first datagram that finds none (its completion, without
/// `IORING_CQE_F_MORE`, through the overflow list). Every datagram comes
/// out once, in order, in the buffer its completion names, the last
/// completion alone ends the op, and what the receive did not take stays
/// in the socket.
#[test]
fn a_multishot_receive_overflowing_a_shrunk_cq_ends_once_and_loses_no_datagram() {
    let _watch = watchdog();
    let Some(mut ring) = resizable_ring(8) else {
        return;
    };
    let Some(pool) = plain_buf_ring(&mut ring, 9, 8, 64) else {
        return;
    };
    let (peer, sock) = std::os::unix::net::UnixDatagram::pair().unwrap();
    let sent: Vec<Vec<u8>> = (0..6u8).map(|i| vec![b'a' + i; 3 + i as usize]).collect();
    let got = ring.scope(|s| {
        s.push(
            Recv::new(&sock, pool.select())
                .recv_flags(RecvFlags::MULTISHOT)
                .user_data(1),
        )
        .unwrap();
        s.submit().unwrap();
        s.resize(1, 2).unwrap();
        for d in &sent {
            peer.send(d).unwrap();
        }
        let mut got: Vec<(Vec<u8>, bool)> = Vec::new();
        let start = Instant::now();
        while got.last().is_none_or(|g| g.1) {
            assert!(start.elapsed() < PATIENCE, "{got:?}");
            let _ = s.wait_timeout(1, Duration::from_millis(20));
            for mut c in s.completions() {
                assert_eq!(c.user_data(), 1);
                assert!(c.res() > 0, "{:?}", c.cqe());
                let more = c.has_more();
                let buf = pool.claim(&mut c).unwrap();
                got.push((buf.to_vec(), more));
            }
        }
        assert_eq!(s.in_flight(), 0);
        assert_quiet(s, "after the receive ended");
        got
    });
    assert!(
        got.len() < sent.len(),
        "a CQ of two ended the receive: {got:?}"
    );
    for (i, (bytes, more)) in got.iter().enumerate() {
        assert_eq!(bytes, &sent[i], "datagram {i}");
        assert_eq!(*more, i + 1 < got.len(), "datagram {i}'s MORE flag");
    }
    sock.set_nonblocking(true).unwrap();
    for (i, d) in sent.iter().enumerate().skip(got.len()) {
        let mut back = [0u8; 64];
        let n = sock.recv(&mut back).unwrap();
        assert_eq!(&back[..n], &d[..], "datagram {i}, left in the socket");
    }
    assert!(sock.recv(&mut [0u8; 64]).is_err());
    assert_eq!(pool.available().unwrap(), 8);
}

/// Sizes the kernel never takes, asked of a scope with reads in flight:
/// an SQ or CQ of 0, a CQ smaller than the SQ, sizes past the maxima and
/// `u32::MAX`: each is an error (no panic), and the ring and the scope's
/// room are as they were.
#[test]
fn sizes_the_kernel_never_takes_leave_the_scope_as_it_was() {
    let _watch = watchdog();
    let Some(mut ring) = resizable_ring(4) else {
        return;
    };
    let (rds, mut wrs) = pipes(2);
    let mut bufs = [[CANARY; 4]; 2];
    ring.scope(|s| {
        let [a, b] = &mut bufs;
        s.push(Read::new(&rds[0], &mut a[..]).user_data(1)).unwrap();
        s.push(Read::new(&rds[1], &mut b[..]).user_data(2)).unwrap();
        s.submit().unwrap();
        for (sq, cq) in [
            (0, 8),
            (8, 0),
            (0, 0),
            (16, 8),
            (32769, 65536),
            (4, 65537 * 4),
            (u32::MAX, u32::MAX),
            (4, u32::MAX),
            (u32::MAX, 8),
        ] {
            let r = s.resize(sq, cq);
            assert!(
                matches!(&r, Err(e) if e.raw_os_error() == Some(libc::EINVAL)
                    || matches!(e, Error::InvalidArgument(_))),
                "{sq}/{cq}: {r:?}"
            );
            assert_eq!(s.in_flight(), 2, "{sq}/{cq}");
        }
        // A NOP pushed before a refusal stays unsubmitted, whether the
        // scope refuses (a CQ smaller than the ops in flight) or the sizes
        // are ones the kernel never takes.
        s.push(Nop::new().user_data(50)).unwrap();
        assert!(matches!(s.resize(4, 2), Err(Error::InvalidArgument(_))));
        assert_eq!(s.space_left(), 3, "not submitted");
        assert!(s.resize(0, 8).is_err());
        assert_eq!(s.space_left(), 3, "not submitted by the refused resize");
        s.submit().unwrap();
        assert_eq!(reap(s, 1), [(50, 0)]);
        // The CQ of eight still: six more fit.
        assert_eq!(room_left(s, 10), 6);
        wrs[0].write_all(b"aaaa").unwrap();
        wrs[1].write_all(b"bbbb").unwrap();
        let mut got = reap(s, 2);
        got.sort_unstable();
        assert_eq!(got, [(1, 4), (2, 4)]);
    });
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (4, 8));
    assert_eq!(&bufs, &[*b"aaaa", *b"bbbb"]);
}

/// Forty resizes in a row, growing and shrinking (to the two reads in
/// flight at the smallest), with NOPs pushed and reaped between them and
/// two reads in flight throughout: every NOP completes once, the reads
/// once each with their bytes, and the ring ends at the last sizes.
#[test]
fn forty_resizes_in_a_row_with_reads_in_flight() {
    let _watch = watchdog();
    let Some(mut ring) = resizable_ring(4) else {
        return;
    };
    let (rds, mut wrs) = pipes(2);
    let mut bufs = [[CANARY; 8]; 2];
    let sizes = [
        (1u32, 2u32),
        (64, 128),
        (4, 4),
        (2, 256),
        (32, 32),
        (8, 16),
        (1, 4096),
        (128, 128),
    ];
    ring.scope(|s| {
        let [a, b] = &mut bufs;
        s.push(Read::new(&rds[0], &mut a[..]).user_data(1)).unwrap();
        s.push(Read::new(&rds[1], &mut b[..]).user_data(2)).unwrap();
        s.submit().unwrap();
        let mut next = 100u64;
        for round in 0..40 {
            let (sq, cq) = sizes[round % sizes.len()];
            s.resize(sq, cq)
                .unwrap_or_else(|e| panic!("round {round}: {sq}/{cq}: {e}"));
            let nops = (cq - 2).min(3);
            for _ in 0..nops {
                push_nop(s, next).unwrap();
                next += 1;
            }
            let got = reap(s, nops as usize);
            let want: Vec<(u64, i32)> = (next - u64::from(nops)..next).map(|u| (u, 0)).collect();
            assert_eq!(got, want, "round {round}");
            assert_eq!(s.in_flight(), 2, "round {round}");
        }
        wrs[0].write_all(&pattern(8, 1)).unwrap();
        wrs[1].write_all(&pattern(8, 2)).unwrap();
        let mut got = reap(s, 2);
        got.sort_unstable();
        assert_eq!(got, [(1, 8), (2, 8)]);
        assert_quiet(s, "after forty resizes");
    });
    let last = sizes[39 % sizes.len()];
    assert_eq!((ring.sq_entries(), ring.cq_entries()), last);
    assert_eq!(bufs[0][..], pattern(8, 1)[..]);
    assert_eq!(bufs[1][..], pattern(8, 2)[..]);
}

/// A scope whose ring was shrunk to an SQ of one entry ends with six reads
/// in flight (six times what the SQ can carry cancel requests for at
/// once): the scope's end cancels them all through the one SQE, in a fast
/// scope and in one that tags every op (one cancel request per op). The
/// buffers are untouched and the bytes written later stay in the pipes.
#[test]
fn a_scope_shrunk_to_one_sqe_ends_with_many_reads_in_flight() {
    let _watch = watchdog();
    for tag in [false, true] {
        let Some(mut ring) = resizable_ring(8) else {
            return;
        };
        if tag {
            tagging(&mut ring);
        }
        let (rds, mut wrs) = pipes(6);
        let mut bufs = [[CANARY; 4]; 6];
        ring.scope(|s| {
            for (i, b) in bufs.iter_mut().enumerate() {
                s.push(Read::new(&rds[i], &mut b[..]).user_data(i as u64))
                    .unwrap();
            }
            s.submit().unwrap();
            s.resize(1, 8).unwrap();
            assert_eq!(s.in_flight(), 6);
        });
        assert_eq!(bufs, [[CANARY; 4]; 6], "tagging {tag}");
        assert_eq!(ring.completions().count(), 0, "tagging {tag}");
        for (i, wr) in wrs.iter_mut().enumerate() {
            wr.write_all(&[i as u8; 4]).unwrap();
        }
        for (i, rd) in rds.iter().enumerate() {
            let mut back = [0u8; 4];
            let n = read_pipe(rd, &mut back);
            assert_eq!((n, back), (4, [i as u8; 4]), "tagging {tag}: pipe {i}");
        }
        assert_eq!(bufs, [[CANARY; 4]; 6]);
    }
}

/// Reads a pipe's read end with std, without taking it.
fn read_pipe(rd: &OwnedFd, out: &mut [u8]) -> usize {
    use std::io::Read as _;
    let mut file = std::fs::File::from(rd.try_clone().unwrap());
    file.read(out).unwrap()
}

/// A panic in a scope right after it grew its ring and filled more than
/// the old CQ with reads: the unwinding scope waits for (cancels) every
/// read, the buffers stay untouched, the ring keeps its new sizes and the
/// next scope has the new CQ as its room.
#[test]
fn a_panic_after_a_resize_still_ends_every_op() {
    let _watch = watchdog();
    let Some(mut ring) = resizable_ring(4) else {
        return;
    };
    let (rds, mut wrs) = pipes(12);
    let mut bufs = [[CANARY; 4]; 12];
    let unwound = catch_unwind(AssertUnwindSafe(|| {
        ring.scope(|s| {
            let mut bufs = bufs.iter_mut().enumerate();
            for (i, b) in bufs.by_ref().take(4) {
                s.push(Read::new(&rds[i], &mut b[..]).user_data(i as u64))
                    .unwrap();
            }
            s.submit().unwrap();
            s.resize(8, 16).unwrap();
            for (i, b) in bufs {
                s.push(Read::new(&rds[i], &mut b[..]).user_data(i as u64))
                    .unwrap();
                s.submit().unwrap();
            }
            assert_eq!(s.in_flight(), 12);
            std::panic::panic_any("a panic after a resize");
        })
    }));
    assert!(unwound.is_err());
    assert!(bufs.iter().all(|b| *b == [CANARY; 4]));
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (8, 16));
    assert_eq!(ring.completions().count(), 0);
    for (i, wr) in wrs.iter_mut().enumerate() {
        wr.write_all(&[i as u8; 4]).unwrap();
    }
    assert!(bufs.iter().all(|b| *b == [CANARY; 4]));
    for (i, rd) in rds.iter().enumerate() {
        let mut back = [0u8; 4];
        assert_eq!(read_pipe(rd, &mut back), 4);
        assert_eq!(back, [i as u8; 4], "pipe {i}: no cancelled read took it");
    }
    let room = ring.scope(|s| room_left(s, 100));
    assert_eq!(room, 16);
}

// ---------------------------------------------------------------------------
// Registered wait slots and their signal masks
// ---------------------------------------------------------------------------

/// How many times each signal's handler ran, by signal number.
static HANDLED: [AtomicU32; 65] = [const { AtomicU32::new(0) }; 65];

extern "C" fn count(sig: libc::c_int) {
    if let Some(n) = HANDLED.get(sig as usize) {
        n.fetch_add(1, Ordering::SeqCst);
    }
}

fn handled(sig: i32) -> u32 {
    HANDLED[sig as usize].load(Ordering::SeqCst)
}

/// This test's own real-time signal (`SIGRTMIN + n`), with `count` as its
/// handler.
fn own_signal(n: i32) -> i32 {
    let sig = libc::SIGRTMIN() + n;
    assert!(sig <= libc::SIGRTMAX());
    // SAFETY: a zeroed `sigaction` is valid; the handler only bumps an
    // atomic, which is async-signal-safe; the mask is initialised by
    // sigemptyset before use.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = count as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(libc::sigaction(sig, &action, std::ptr::null_mut()), 0);
    }
    sig
}

/// A signal set holding `sigs`.
fn set_of(sigs: &[i32]) -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the zeroed set; sigaddset takes
    // valid signal numbers.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &sig in sigs {
            assert_eq!(libc::sigaddset(&mut set, sig), 0);
        }
        set
    }
}

/// Blocks `sig` in this thread until dropped, which restores the mask.
struct Blocked(libc::sigset_t);

impl Blocked {
    fn new(sig: i32) -> Blocked {
        let set = set_of(&[sig]);
        // SAFETY: a zeroed sigset_t is a valid out-parameter; `set` is
        // initialised.
        let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid, initialised sets for this thread's mask.
        let r = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old) };
        assert_eq!(r, 0);
        Blocked(old)
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved in `new`, in the same thread.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut()) };
    }
}

/// Sends `sig` to the calling thread after `after`, from another thread.
fn send_later(sig: i32, after: Duration) -> std::thread::JoinHandle<i32> {
    // SAFETY: pthread_self has no preconditions.
    let me = unsafe { libc::pthread_self() };
    std::thread::spawn(move || {
        std::thread::sleep(after);
        // SAFETY: `me` is the test's thread, alive until this thread is
        // joined.
        unsafe { libc::pthread_kill(me, sig) }
    })
}

/// Sends `sig` to the calling thread now.
fn send_now(sig: i32) {
    // SAFETY: a signal to this thread, whose handler is installed.
    assert_eq!(unsafe { libc::pthread_kill(libc::pthread_self(), sig) }, 0);
}

/// A disabled ring with a wait region of `slots`, then enabled; built with
/// `defer_taskrun` (resizable) when `defer`. `None` with a skip message on
/// kernels without registered wait arguments.
fn ring_with_region(slots: u32, defer: bool) -> Option<Ring> {
    if !require_kernel(6, 13, "registered wait arguments") {
        return None;
    }
    let builder = Ring::builder().r_disabled();
    let builder = if defer {
        builder.single_issuer().defer_taskrun()
    } else {
        builder
    };
    let mut ring = match builder.build(4) {
        Ok(ring) => ring,
        Err(e) => {
            skip(format_args!("a disabled ring: {e}"));
            return None;
        }
    };
    if let Err(e) = ring.register_wait_region(slots) {
        skip(format_args!("no registered wait region: {e}"));
        return None;
    }
    ring.enable().unwrap();
    Some(ring)
}

/// Removes timeout `user_data` and reaps both completions.
fn remove_timeout(ring: &mut Ring, user_data: u64) {
    ring.push(TimeoutRemove::new(user_data).user_data(user_data + 1))
        .unwrap();
    ring.submit_and_wait(2).unwrap();
    let mut got: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    got.sort_unstable();
    assert_eq!(got, [(user_data, -libc::ECANCELED), (user_data + 1, 0)]);
}

/// A slot without a mask, its wait interrupted by a signal the thread lets
/// through (sent by another thread 150 ms in): the handler runs, the wait
/// goes on for the time left of the slot's 300 ms, not for 300 ms again,
/// and ends `TimedOut`.
#[test]
fn an_unmasked_slot_wait_goes_on_after_a_signal_for_the_time_left() {
    let _watch = watchdog();
    let Some(mut ring) = ring_with_region(1, false) else {
        return;
    };
    let sig = own_signal(6);
    ring.set_registered_wait(0, Some(Duration::from_millis(300)), None)
        .unwrap();
    let start = Instant::now();
    let sender = send_later(sig, Duration::from_millis(150));
    let r = ring.wait_registered(1, 0);
    let took = start.elapsed();
    assert_eq!(sender.join().unwrap(), 0);
    assert!(matches!(r, Err(Error::TimedOut)), "{r:?}");
    assert_eq!(handled(sig), 1);
    assert!(
        took >= Duration::from_millis(295) && took < Duration::from_millis(420),
        "{took:?}"
    );
}

/// A signal the slot's mask lets through, pending when a wait for two
/// starts with one completion already in the CQ: the kernel reports no
/// `EINTR` with a completion there, so the wait returns `Ok` at once with
/// the one, its handler having run once.
#[test]
fn a_masked_slot_wait_ended_by_a_signal_with_a_completion_there_returns_it() {
    let _watch = watchdog();
    let Some(mut ring) = ring_with_region(1, false) else {
        return;
    };
    let sig = own_signal(7);
    let _blocked = Blocked::new(sig);
    ring.set_registered_wait(0, Some(Duration::from_secs(5)), None)
        .unwrap();
    ring.set_registered_wait_sigmask(0, Some(&set_of(&[])))
        .unwrap();
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.push(Timeout::new(Duration::from_secs(4)).user_data(2))
        .unwrap();
    ring.submit().unwrap();
    send_now(sig);
    let start = Instant::now();
    let r = ring.wait_registered(2, 0);
    assert!(r.is_ok(), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(handled(sig), 1);
    let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(got, [1]);
    remove_timeout(&mut ring, 2);
}

/// A slot whose mask blocks a signal the thread lets through otherwise:
/// the signal, sent by another thread while the wait sleeps, does not end
/// it (the wait goes on to its completion, a timeout op 300 ms off), and
/// its handler runs as the wait returns, once.
#[test]
fn a_slot_mask_that_blocks_a_signal_keeps_the_wait_going() {
    let _watch = watchdog();
    let Some(mut ring) = ring_with_region(1, false) else {
        return;
    };
    let sig = own_signal(1);
    ring.set_registered_wait_sigmask(0, Some(&set_of(&[sig])))
        .unwrap();
    ring.push(Timeout::new(Duration::from_millis(300)).user_data(1))
        .unwrap();
    let start = Instant::now();
    let sender = send_later(sig, Duration::from_millis(30));
    let r = ring.submit_and_wait_registered(1, 0);
    let took = start.elapsed();
    assert_eq!(sender.join().unwrap(), 0);
    assert!(r.is_ok(), "{r:?}");
    assert!(took >= Duration::from_millis(250), "ended after {took:?}");
    assert_eq!(handled(sig), 1, "delivered once the wait's mask went");
    let got: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(got, [(1, -libc::ETIME)]);
}

/// A slot with a mask that lets everything through and a minimum wait but
/// no timeout: the kernel ends its first enter once the minimum wait has
/// passed with no completion (`ETIME`), and the wait goes on in an enter
/// of arguments copied in. That enter keeps the slot's mask: a signal the
/// thread blocks, sent by another thread 100 ms in, ends it with `EINTR`
/// long before the timeout op it waits for.
#[test]
fn the_wait_after_a_slot_s_minimum_wait_keeps_its_mask() {
    let _watch = watchdog();
    let Some(mut ring) = ring_with_region(1, false) else {
        return;
    };
    if !ring.params().has(uring::Features::MIN_TIMEOUT) {
        skip("minimum waits (6.12)");
        return;
    }
    let sig = own_signal(2);
    let _blocked = Blocked::new(sig);
    ring.set_registered_wait(0, None, Some(Duration::from_millis(10)))
        .unwrap();
    ring.set_registered_wait_sigmask(0, Some(&set_of(&[])))
        .unwrap();
    ring.push(Timeout::new(Duration::from_secs(3)).user_data(1))
        .unwrap();
    ring.submit().unwrap();
    let start = Instant::now();
    let sender = send_later(sig, Duration::from_millis(100));
    let r = ring.wait_registered(1, 0);
    let took = start.elapsed();
    assert_eq!(sender.join().unwrap(), 0);
    assert_eq!(
        r.as_ref().err().and_then(Error::raw_os_error),
        Some(libc::EINTR),
        "after {took:?}: {r:?}"
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(handled(sig), 1);
    assert_eq!(ring.completions().count(), 0);
    remove_timeout(&mut ring, 1);
}

/// A timeout op firing ends a wait on a masked slot short (with the one
/// completion there, `Ok`), and does not end one on an unmasked slot, which
/// goes on until it has what it asked for.
#[test]
fn a_timeout_op_firing_ends_a_masked_slot_wait_short_and_an_unmasked_one_goes_on() {
    let _watch = watchdog();
    let Some(mut ring) = ring_with_region(2, false) else {
        return;
    };
    ring.set_registered_wait(0, Some(Duration::from_secs(5)), None)
        .unwrap();
    ring.set_registered_wait_sigmask(0, Some(&set_of(&[])))
        .unwrap();
    ring.set_registered_wait(1, Some(Duration::from_secs(5)), None)
        .unwrap();
    ring.push(Timeout::new(Duration::from_millis(20)).user_data(1))
        .unwrap();
    ring.push(Timeout::new(Duration::from_secs(4)).user_data(2))
        .unwrap();
    let start = Instant::now();
    ring.submit_and_wait_registered(2, 0).unwrap();
    assert!(start.elapsed() < Duration::from_secs(2));
    let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(got, [1], "the masked wait ended with the firing");
    // Unmasked: the 20 ms timeout firing does not end a wait for two; the
    // 300 ms one does.
    ring.push(Timeout::new(Duration::from_millis(20)).user_data(3))
        .unwrap();
    ring.push(Timeout::new(Duration::from_millis(300)).user_data(4))
        .unwrap();
    let start = Instant::now();
    ring.submit_and_wait_registered(2, 1).unwrap();
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(250), "{took:?}");
    let got: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(got, [(3, -libc::ETIME), (4, -libc::ETIME)]);
    remove_timeout(&mut ring, 2);
}

/// `set_registered_wait_sigmask` keeps the slot's timeout and minimum wait,
/// and `set_registered_wait` keeps its mask: a slot set in either order
/// waits for its timeout, ends at its minimum wait with one completion,
/// and ends at a signal its mask lets through.
#[test]
fn a_slot_s_mask_and_times_are_kept_by_each_other_s_setter() {
    let _watch = watchdog();
    let Some(mut ring) = ring_with_region(2, false) else {
        return;
    };
    let sig = own_signal(3);
    let _blocked = Blocked::new(sig);
    let open = set_of(&[]);
    // Slot 0: times first, then the mask.
    ring.set_registered_wait(0, Some(Duration::from_millis(40)), None)
        .unwrap();
    ring.set_registered_wait_sigmask(0, Some(&open)).unwrap();
    let start = Instant::now();
    assert!(matches!(ring.wait_registered(1, 0), Err(Error::TimedOut)));
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(39) && took < Duration::from_secs(2),
        "{took:?}"
    );
    // Slot 1: the mask first, then the times.
    ring.set_registered_wait_sigmask(1, Some(&open)).unwrap();
    ring.set_registered_wait(1, Some(Duration::from_secs(5)), None)
        .unwrap();
    send_now(sig);
    assert_eq!(handled(sig), 0, "pending while blocked");
    let start = Instant::now();
    let r = ring.wait_registered(1, 1);
    assert_eq!(
        r.as_ref().err().and_then(Error::raw_os_error),
        Some(libc::EINTR),
        "{r:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(handled(sig), 1);
    if ring.params().has(uring::Features::MIN_TIMEOUT) {
        // A minimum wait set after the mask: one completion, short.
        ring.set_registered_wait(
            1,
            Some(Duration::from_secs(5)),
            Some(Duration::from_millis(20)),
        )
        .unwrap();
        ring.push(Nop::new().user_data(1)).unwrap();
        ring.push(Timeout::new(Duration::from_secs(4)).user_data(2))
            .unwrap();
        let start = Instant::now();
        ring.submit_and_wait_registered(2, 1).unwrap();
        assert!(start.elapsed() < Duration::from_secs(2));
        let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
        assert_eq!(got, [1]);
        // And the mask is still there.
        send_now(sig);
        let r = ring.wait_registered(1, 1);
        assert_eq!(
            r.as_ref().err().and_then(Error::raw_os_error),
            Some(libc::EINTR),
            "{r:?}"
        );
        assert_eq!(handled(sig), 2);
        remove_timeout(&mut ring, 2);
    }
}

/// The region's last slot takes a mask and waits by it, not by slot 0
/// (Linux 6.18's `array_index_nospec(offset, size - 64)`); the slot past
/// it, `u32::MAX`, and any slot of a ring without a region are refused.
#[test]
fn masks_at_the_region_s_last_slot_and_past_it() {
    let _watch = watchdog();
    let mut plain = Ring::new(4).unwrap();
    assert!(matches!(
        plain.set_registered_wait_sigmask(0, Some(&set_of(&[]))),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        plain.set_registered_wait_sigmask(0, None),
        Err(Error::InvalidArgument(_))
    ));
    let Some(mut ring) = ring_with_region(1, false) else {
        return;
    };
    // SAFETY: sysconf takes a plain integer.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u32;
    let slots = page / std::mem::size_of::<uring::sys::io_uring_reg_wait>() as u32 - 1;
    let last = slots - 1;
    for past in [slots, slots + 1, u32::MAX] {
        assert!(
            matches!(
                ring.set_registered_wait_sigmask(past, Some(&set_of(&[]))),
                Err(Error::InvalidArgument(_))
            ),
            "slot {past}"
        );
        assert!(matches!(
            ring.wait_registered(1, past),
            Err(Error::InvalidArgument(_))
        ));
    }
    let sig = own_signal(4);
    let _blocked = Blocked::new(sig);
    // Slot 0: no mask, no timeout. The last slot: a mask letting the
    // signal through.
    ring.set_registered_wait_sigmask(last, Some(&set_of(&[])))
        .unwrap();
    ring.push(Timeout::new(Duration::from_secs(3)).user_data(1))
        .unwrap();
    ring.submit().unwrap();
    send_now(sig);
    let start = Instant::now();
    let r = ring.wait_registered(1, last);
    assert_eq!(
        r.as_ref().err().and_then(Error::raw_os_error),
        Some(libc::EINTR),
        "slot {last}: {r:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(handled(sig), 1);
    remove_timeout(&mut ring, 1);
}

/// A scope of a resizable ring with a wait region waits by slot before
/// and after its resize: a slot's timeout ends the wait (`TimedOut`, on
/// time), a signal its mask lets through ends another (`EINTR`) with the
/// scope's read still in flight and then completing once into its buffer.
#[test]
fn a_scope_waits_by_slot_and_mask_across_its_resize() {
    let _watch = watchdog();
    let Some(mut ring) = ring_with_region(2, true) else {
        return;
    };
    let sig = own_signal(5);
    let _blocked = Blocked::new(sig);
    ring.set_registered_wait(0, Some(Duration::from_millis(20)), None)
        .unwrap();
    ring.set_registered_wait(1, Some(Duration::from_secs(5)), None)
        .unwrap();
    ring.set_registered_wait_sigmask(1, Some(&set_of(&[])))
        .unwrap();
    let (rds, mut wrs) = pipes(1);
    let mut buf = [CANARY; 8];
    ring.scope(|s| {
        s.push(Read::new(&rds[0], &mut buf[..4]).user_data(9))
            .unwrap();
        s.submit().unwrap();
        for (round, (sq, cq)) in [(4u32, 8u32), (16, 32), (1, 2)].into_iter().enumerate() {
            if round > 0 {
                s.resize(sq, cq).unwrap();
            }
            let start = Instant::now();
            let r = s.wait_registered(1, 0);
            let took = start.elapsed();
            assert!(matches!(r, Err(Error::TimedOut)), "round {round}: {r:?}");
            assert!(
                took >= Duration::from_millis(19) && took < Duration::from_secs(2),
                "round {round}: {took:?}"
            );
            let sender = send_later(sig, Duration::from_millis(20));
            let r = s.wait_registered(1, 1);
            assert_eq!(sender.join().unwrap(), 0);
            assert_eq!(
                r.as_ref().err().and_then(Error::raw_os_error),
                Some(libc::EINTR),
                "round {round}: {r:?}"
            );
            assert_eq!(handled(sig), round as u32 + 1);
            assert_eq!(s.in_flight(), 1);
        }
        wrs[0].write_all(b"done").unwrap();
        s.wait_registered(1, 1).unwrap();
        let got: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        assert_eq!(got, [(9, 4)]);
    });
    assert_eq!(&buf[..4], b"done");
    assert_eq!(buf[4..], [CANARY; 4]);
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (1, 2));
}
