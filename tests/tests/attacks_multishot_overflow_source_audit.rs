//! Multishot ops and CQ overflow, against the contract that an op's last
//! completion is the one without `IORING_CQE_F_MORE`: a scope releases an
//! op's borrows (and a reactor its storage) at that completion and no
//! other, so every way the kernel ends, overflows or reorders a multishot
//! op's completions is driven here, on CQs of two to four entries, through
//! hundreds of events, with and without reading the CQ between enters, on
//! plain, `defer_taskrun`, SQPOLL and 32-byte-CQE rings.
//!
//! The kernel facts relied on, from Linux 6.18's `io_uring/`:
//!
//! - `io_uring.c`: `io_req_post_cqe` (the helper every multishot op posts
//!   its `F_MORE` completions through) fills a CQE with `io_fill_cqe_aux`
//!   and never overflows: when the CQ has no room it returns false, and
//!   the op ends. `io_cqe_cache_refill` refuses a slot to any completion
//!   but the flush's own while the overflow list is not empty ("posting
//!   into the CQ when there are pending overflowed CQEs may break ordering
//!   guarantees, which will affect links, F_MORE users and more"), so an
//!   op's later completion never overtakes an earlier one that waits in
//!   the list, and every multishot op ends at its next event while the
//!   list holds anything. A request's own completion that finds no room
//!   (`__io_submit_flush_completions`) goes to the list
//!   (`io_cqring_event_overflow`, a `kmalloc` that is dropped only when it
//!   fails: `IORING_FEAT_NODROP`), which `__io_cqring_overflow_flush`
//!   empties in order, at enters with `IORING_ENTER_GETEVENTS`, once the
//!   CQ has room; `IORING_SQ_CQ_OVERFLOW` says the list is not empty.
//! - `timeout.c`: a multishot timeout with a count (`off`) keeps the count
//!   in `repeats`; `io_timeout_complete` posts each firing but the last
//!   with `F_MORE` through `io_req_post_cqe`, and a firing that finds no
//!   room, or the last, completes the request (`-ETIME`, no flags).
//! - `poll.c`: `io_poll_check_events` posts each wake-up of a multishot
//!   poll through `io_req_post_cqe`; when that fails the poll is removed
//!   and the events go out as its last completion
//!   (`IOU_POLL_REMOVE_POLL_USE_RES`), with no flags.
//! - `net.c`: a multishot accept (`io_accept`) and receive
//!   (`io_recv_finish`) whose `io_req_post_cqe` fails end with that very
//!   result, the accepted descriptor or the bytes and their buffer, in
//!   their last completion, through the overflow list: nothing the kernel
//!   took is dropped. A multishot accept writes each peer's address into
//!   the `sockaddr` it was given until it ends.
//!   `rw.c`'s `io_read_mshot` ends the same way ("hitting overflow will
//!   terminate it"), its bytes and buffer in the last completion.
//!   `futex.c` and `waitid.c` post one completion per request: nothing of
//!   theirs is multishot.
//! - `notif.c` / `net.c`: a zero-copy send posts its result with `F_MORE`
//!   and later its notification (`F_NOTIF`, no `F_MORE`) from task work
//!   (`io_notif_tw_complete`), a completion of its own that overflows as
//!   any other, behind what waits in the list.
//!
//! A kernel limit that no test provokes: `io_cqring_event_overflow`
//! allocates each entry of the list (`kmalloc`, charged to the ring's
//! memory cgroup), and drops the completion when that fails (a cgroup at
//! its limit), counting it in the CQ's `overflow` word and failing the
//! next wait with `EBADR`. A scope whose op's last completion is dropped
//! so waits for it for good, as SAFETY.md's known limits say of kernels
//! without `IORING_FEAT_NODROP`: it never releases a borrow early.
//!
//! Every attack is safe code.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use uring::ops::{Accept, Nop, PollAdd, Read, Recv, SendZc, Timeout};
use uring::reactor::ops::AcceptMulti;
use uring::reactor::{Reactor, SharedFd};
use uring::sys::{IORING_CQE_F_MORE, IORING_CQE_F_NOTIF};
use uring::{
    AcceptFlags, Builder, Cqe32, PollEvents, PollFlags, RecvFlags, Scope, SockAddrBuf, Sqe64,
    TimeoutFlags,
};
use uring_tests::{PATIENCE, pattern, require_op, skip, watchdog};

const CANARY: u8 = 0x5a;

use uring_tests::{RING_KINDS as KINDS, ring_of_kind as ring_of};

use uring_tests::multishot::{
    Seen, assert_each_ends_last, ended, enter_without_reading, has_more, listener_with_clients,
    peer_closed, seen_of, tail,
};

/// Reaps the scope's completions into `seen` until `done` says so, failing
/// after [`PATIENCE`].
fn reap_until(s: &mut Scope<'_, '_>, seen: &mut Vec<Seen>, done: impl Fn(&[Seen]) -> bool) {
    let start = Instant::now();
    while !done(seen) {
        assert!(
            start.elapsed() < PATIENCE,
            "no expected completion after {PATIENCE:?}: {:?}",
            tail(seen)
        );
        s.submit().unwrap();
        let _ = s.wait_timeout(1, Duration::from_millis(20));
        seen.extend(s.completions().map(|c| seen_of(&c)));
    }
}

/// A counted multishot timeout (200 us, count 300) on rings of every kind
/// with CQs of two and four entries, whose completions are not read: the
/// first `cq` firings fill the CQ (`io_req_post_cqe` succeeds), the next
/// finds no room, and `io_timeout_complete` completes the request through
/// the overflow list. While the CQ is full of the op's `F_MORE`
/// completions the scope still counts the op in flight (a full CQ is no
/// end); read, they are exactly `cq` flagged `F_MORE` and one last, in
/// that order, and the op leaves the scope only at that last one. Then the
/// same timeout read at every enter: fewer than 300 completions if a CQ
/// filled between two reads, never more, all `-ETIME`, one last, last.
/// Nothing of either op reaches the ring after its scope.
#[test]
fn a_counted_multishot_timeout_on_a_tiny_cq_leaves_the_scope_only_at_its_last() {
    let _watch = watchdog();
    for kind in KINDS {
        for cq in [2u32, 4] {
            let Some(mut ring) = ring_of(kind, cq, cq) else {
                continue;
            };
            let what = format!("{kind:?}, CQ {cq}");
            // Never read until the op can have ended.
            let (seen, full, in_flight_full, in_flight_after) = ring.scope(|s| {
                s.push(
                    Timeout::new(Duration::from_micros(200))
                        .count(300)
                        .timeout_flags(TimeoutFlags::MULTISHOT)
                        .user_data(7),
                )
                .unwrap();
                s.submit().unwrap();
                let start = Instant::now();
                while s.ready() < cq {
                    assert!(start.elapsed() < PATIENCE, "{what}: the CQ never filled");
                    enter_without_reading(s, 1);
                }
                // The next firings find no room: the first ends the op.
                enter_without_reading(s, 20);
                let full = s.ready();
                let in_flight_full = s.in_flight();
                let mut seen = Vec::new();
                reap_until(s, &mut seen, |seen| ended(seen, 7));
                (seen, full, in_flight_full, s.in_flight())
            });
            assert_eq!(full, cq, "{what}: the CQ held the firings");
            assert_eq!(
                in_flight_full, 1,
                "{what}: a CQ full of F_MORE completions ended the op"
            );
            assert_eq!(in_flight_after, 0, "{what}");
            let mut want = vec![(7, -libc::ETIME, IORING_CQE_F_MORE); cq as usize];
            want.push((7, -libc::ETIME, 0));
            assert_eq!(
                seen, want,
                "{what}: `cq` firings with F_MORE, then the one that found no room, last"
            );
            assert_eq!(uring_tests::stray(&mut ring), [], "{what}: after the scope");

            // Read at every enter.
            let (seen, in_flight) = ring.scope(|s| {
                s.push(
                    Timeout::new(Duration::from_micros(100))
                        .count(300)
                        .timeout_flags(TimeoutFlags::MULTISHOT)
                        .user_data(8),
                )
                .unwrap();
                let mut seen = Vec::new();
                let mut in_flight = Vec::new();
                let start = Instant::now();
                while !ended(&seen, 8) {
                    assert!(start.elapsed() < PATIENCE, "{what}: {:?}", tail(&seen));
                    let _ = s.submit_and_wait_timeout(1, Duration::from_millis(20));
                    seen.extend(s.completions().map(|c| seen_of(&c)));
                    in_flight.push((ended(&seen, 8), s.in_flight()));
                }
                (seen, in_flight)
            });
            for (done, n) in in_flight {
                assert_eq!(n, u32::from(!done), "{what}: in flight after a read");
            }
            let counts = assert_each_ends_last(&seen, [8], &what);
            assert!(counts[&8] <= 300, "{what}: {} firings of 300", counts[&8]);
            assert!(
                seen.iter().all(|s| s.1 == -libc::ETIME),
                "{what}: {:?}",
                tail(&seen)
            );
            eprintln!("{what}: read at every enter, {} of 300 firings", counts[&8]);
            assert_eq!(uring_tests::stray(&mut ring), [], "{what}: after the scope");
        }
    }
}

/// Which op a live `user_data` of the interleaving attack is.
#[derive(Clone, Copy, Debug)]
enum Shot {
    PollA,
    PollB,
    Timer,
}

/// Two multishot polls of two pipes that a thread writes to 300 times
/// each, and a counted multishot timeout, on a CQ of four entries, read in
/// four ways in turn: all at each enter, not at all (the CQ overflows and
/// the kernel ends every multishot op at its next event), one completion
/// through an iterator that is then forgotten, and through a fold. Each op
/// the kernel ends is armed again under a new `user_data`. Safe outcome:
/// no op has a completion after its last (the overflow list keeps each
/// op's order: nothing posts into the CQ past it), no completion is seen
/// twice (a forgotten iterator's completions were settled once), and at
/// every read the scope counts in flight exactly the ops whose last
/// completion it has not read; the scope ends with the ops still live,
/// and nothing of theirs reaches the ring after it.
#[test]
fn interleaved_multishot_ops_overflowing_a_cq_of_four_keep_each_op_s_last_last() {
    let _watch = watchdog();
    for kind in KINDS {
        let Some(mut ring) = ring_of(kind, 4, 4) else {
            continue;
        };
        let what = format!("{kind:?}");
        let (ra, wa) = uring_tests::pipe();
        let (rb, wb) = uring_tests::pipe();
        let writer = std::thread::spawn(move || {
            let (mut wa, mut wb) = (File::from(wa), File::from(wb));
            for _ in 0..300 {
                wa.write_all(b"a").unwrap();
                wb.write_all(b"b").unwrap();
                std::thread::sleep(Duration::from_micros(60));
            }
            (wa, wb)
        });
        let (seen, armed, mismatches) = ring.scope(|s| {
            let mut next = 1u64;
            let mut live: HashMap<u64, Shot> = HashMap::new();
            let mut armed = Vec::new();
            // Arms `shot` under the next `user_data`.
            macro_rules! arm {
                ($shot:expr) => {{
                    let (shot, ud) = ($shot, next);
                    next += 1;
                    let pushed = match shot {
                        Shot::PollA => s
                            .push(
                                PollAdd::new(&ra, PollEvents::IN)
                                    .poll_flags(PollFlags::MULTI)
                                    .user_data(ud),
                            )
                            .map_err(|e| e.kind()),
                        Shot::PollB => s
                            .push(
                                PollAdd::new(&rb, PollEvents::IN)
                                    .poll_flags(PollFlags::MULTI)
                                    .user_data(ud),
                            )
                            .map_err(|e| e.kind()),
                        Shot::Timer => s
                            .push(
                                Timeout::new(Duration::from_micros(300))
                                    .count(40)
                                    .timeout_flags(TimeoutFlags::MULTISHOT)
                                    .user_data(ud),
                            )
                            .map_err(|e| e.kind()),
                    };
                    pushed.unwrap();
                    live.insert(ud, shot);
                    armed.push(ud);
                }};
            }
            for shot in [Shot::PollA, Shot::PollB, Shot::Timer] {
                arm!(shot);
            }
            s.submit().unwrap();
            let mut seen: Vec<Seen> = Vec::new();
            let mut mismatches = Vec::new();
            let start = Instant::now();
            let mut round = 0u32;
            while !writer.is_finished() || round < 40 {
                assert!(start.elapsed() < PATIENCE, "{what}: {:?}", tail(&seen));
                round += 1;
                let before = seen.len();
                match round % 4 {
                    0 => {
                        let _ = s.submit_and_wait_timeout(1, Duration::from_millis(2));
                        seen.extend(s.completions().map(|c| seen_of(&c)));
                    }
                    1 => {
                        let _ = s.submit();
                        enter_without_reading(s, 1);
                    }
                    2 => {
                        let _ = s.submit_and_wait_timeout(1, Duration::from_millis(2));
                        let mut it = s.completions();
                        if let Some(c) = it.next() {
                            seen.push(seen_of(&c));
                        }
                        std::mem::forget(it);
                    }
                    _ => {
                        let _ = s.submit_and_wait_timeout(1, Duration::from_millis(2));
                        s.completions().for_each(|c| seen.push(seen_of(&c)));
                    }
                }
                let ended_now: Vec<u64> = seen[before..]
                    .iter()
                    .filter(|x| !has_more(x))
                    .map(|x| x.0)
                    .collect();
                for ud in ended_now {
                    let shot = live.remove(&ud).expect("a last completion of a live op");
                    if !writer.is_finished() {
                        arm!(shot);
                    }
                }
                if s.in_flight() != live.len() as u32 {
                    mismatches.push((round, s.in_flight(), live.len()));
                }
            }
            (seen, armed, mismatches)
        });
        let (wa, wb) = writer.join().unwrap();
        assert_eq!(mismatches, [], "{what}: the scope's count of ops in flight");
        let counts = assert_each_ends_last(&seen, [], &what);
        let total: usize = counts.values().sum();
        let ends = seen.iter().filter(|s| !has_more(s)).count();
        eprintln!(
            "{what}: {total} completions of {} ops, {ends} ended before the scope's end",
            armed.len()
        );
        assert!(total >= 100, "{what}: only {total} completions");
        assert!(
            seen.iter().all(|s| armed.contains(&s.0)),
            "{what}: a completion of no op"
        );
        assert_eq!(uring_tests::stray(&mut ring), [], "{what}: after the scope");
        drop((wa, wb));
    }
}

/// A one-shot read of an empty pipe into a borrowed buffer, beside a
/// multishot poll of another pipe that is woken hundreds of times on a CQ
/// of two entries: the poll's `F_MORE` completions come and go, the CQ
/// overflows, the kernel ends the poll and it is armed again. In a scope
/// that leaves the read untagged, the scope must count the read in flight
/// through all of it: were an `F_MORE` completion, or one that sat in the
/// overflow list, counted as an end, the scope would return with the read
/// armed and a later write to its pipe would land in the released buffer.
/// Safe outcome: the read is still in flight when the closure returns,
/// the scope cancels it, and bytes written to its pipe afterwards stay in
/// the pipe; the buffer keeps its canary.
#[test]
fn a_read_beside_an_overflowing_multishot_poll_keeps_its_buffer_to_its_own_end() {
    let _watch = watchdog();
    for kind in KINDS {
        let Some(mut ring) = ring_of(kind, 2, 2) else {
            continue;
        };
        let what = format!("{kind:?}");
        let (rx, tx) = uring_tests::pipe();
        let (prx, ptx) = uring_tests::pipe();
        let mut ptx = File::from(ptx);
        let mut buf = [CANARY; 16];
        let (polls, ends, in_flight) = ring.scope(|s| {
            assert!(
                !s.tags_every_op(),
                "{what}: a clean ring's scope tags every op"
            );
            s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
            let mut ud = 100u64;
            s.push(
                PollAdd::new(&prx, PollEvents::IN)
                    .poll_flags(PollFlags::MULTI)
                    .user_data(ud),
            )
            .unwrap();
            s.submit().unwrap();
            let (mut polls, mut ends) = (0usize, 0usize);
            let mut in_flight = Vec::new();
            for i in 0..300u32 {
                ptx.write_all(b"p").unwrap();
                if i % 10 < 3 {
                    // Read nothing: the CQ fills and overflows (an SQ
                    // thread posts each wake-up in its own time).
                    let _ = s.get_events();
                    std::thread::sleep(Duration::from_micros(500));
                    continue;
                }
                let _ = s.submit_and_wait_timeout(1, Duration::from_millis(1));
                let mut rearm = false;
                for c in s.completions() {
                    assert_ne!(c.user_data(), 1, "{what}: the read completed: {c:?}");
                    polls += 1;
                    if !c.has_more() {
                        ends += 1;
                        rearm = true;
                    }
                }
                if rearm {
                    ud += 1;
                    s.push(
                        PollAdd::new(&prx, PollEvents::IN)
                            .poll_flags(PollFlags::MULTI)
                            .user_data(ud),
                    )
                    .unwrap();
                }
                in_flight.push(s.in_flight());
            }
            (polls, ends, in_flight)
        });
        assert!(
            in_flight.iter().all(|&n| n >= 1),
            "{what}: the read left the count: {in_flight:?}"
        );
        eprintln!("{what}: {polls} poll completions, {ends} polls ended by the kernel");
        assert!(polls >= 100, "{what}: {polls}");
        assert!(ends >= 1, "{what}: the CQ never overflowed");
        let mut tx = File::from(tx);
        tx.write_all(b"late bytes").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(buf, [CANARY; 16], "{what}: written after the scope");
        let mut left = [0u8; 10];
        File::from(rx).read_exact(&mut left).unwrap();
        assert_eq!(&left, b"late bytes", "{what}");
        assert_eq!(uring_tests::stray(&mut ring), [], "{what}: after the scope");
    }
}

/// The peer of an accepted socket.
fn peer_of(fd: std::os::fd::OwnedFd) -> SocketAddr {
    TcpStream::from(fd).peer_addr().unwrap()
}

/// A multishot accept with 64 connections waiting, on a CQ of two: it
/// posts two sockets with `F_MORE`, then `io_req_post_cqe` fails and the
/// socket it has just accepted goes out in its last completion, through
/// the overflow list. Armed again at each end, on rings of every kind.
/// Safe outcome: every connection is handed out once, as a descriptor
/// `take_fd` gives, whether its completion was flagged `F_MORE` or was
/// the op's last (none is lost with an overflowed last completion, none
/// comes twice); no op has a completion after its last.
#[test]
fn a_re_armed_multishot_accept_on_a_cq_of_two_hands_out_every_connection_once() {
    let _watch = watchdog();
    const N: usize = 64;
    for kind in KINDS {
        let Some(mut ring) = ring_of(kind, 2, 2) else {
            continue;
        };
        let what = format!("{kind:?}");
        let (listener, clients) = listener_with_clients(N);
        let (fds, seen, last_with_fd) = ring.scope(|s| {
            let mut ud = 1u64;
            let accept = |ud: u64| {
                Accept::new(&listener)
                    .accept_flags(libc::SOCK_CLOEXEC)
                    .iou_flags(AcceptFlags::MULTISHOT)
                    .user_data(ud)
            };
            s.push(accept(ud)).unwrap();
            let mut fds = Vec::new();
            let mut seen = Vec::new();
            let mut last_with_fd = 0;
            let start = Instant::now();
            while fds.len() < N {
                assert!(start.elapsed() < PATIENCE, "{what}: {} accepted", fds.len());
                let _ = s.submit_and_wait_timeout(1, Duration::from_millis(20));
                let mut rearm = false;
                for mut c in s.completions() {
                    seen.push(seen_of(&c));
                    match c.take_fd() {
                        Some(fd) => fds.push(fd),
                        None => assert!(c.res() < 0, "{what}: a socket not handed out: {c:?}"),
                    }
                    if !c.has_more() {
                        rearm = true;
                        last_with_fd += usize::from(c.res() >= 0);
                    }
                }
                if rearm && fds.len() < N {
                    ud += 1;
                    s.push(accept(ud)).unwrap();
                }
            }
            (fds, seen, last_with_fd)
        });
        assert_each_ends_last(&seen, [], &what);
        let want: HashSet<SocketAddr> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
        let got: Vec<SocketAddr> = fds.into_iter().map(peer_of).collect();
        let distinct: HashSet<SocketAddr> = got.iter().copied().collect();
        assert_eq!(got.len(), N, "{what}");
        assert_eq!(distinct, want, "{what}: every client once");
        eprintln!("{what}: {last_with_fd} accepts ended with a socket in their last completion");
        assert!(last_with_fd >= 1, "{what}: no accept ended on the full CQ");
    }
}

/// A multishot accept with a peer address, 16 connections waiting and a
/// CQ of two entries, in a scope whose closure reads nothing: two sockets
/// fill the CQ, the third goes out as the op's last completion into the
/// overflow list, and the rest wait in the listener's queue. The scope's
/// end must read that last completion (it flushes the list) and close
/// every socket of completions it drops unread. Safe outcome: exactly the
/// clients whose connection the kernel accepted see their peer close (no
/// descriptor leaks, whether its completion sat in the CQ or in the
/// overflow list), the others are still queued for the next accept; and
/// the peer address, reset after the scope, is not written when more
/// clients connect (the accept ended, and the scope waited for it).
#[test]
fn sockets_a_multishot_accept_left_in_the_overflow_list_are_closed_at_the_scope_s_end() {
    let _watch = watchdog();
    const N: usize = 16;
    for kind in KINDS {
        let Some(mut ring) = ring_of(kind, 2, 2) else {
            continue;
        };
        let what = format!("{kind:?}");
        let (listener, mut clients) = listener_with_clients(N);
        let mut peer = SockAddrBuf::new();
        let (full, in_flight) = ring.scope(|s| {
            s.push(
                Accept::new(&listener)
                    .peer(Some(&mut peer))
                    .accept_flags(libc::SOCK_CLOEXEC)
                    .iou_flags(AcceptFlags::MULTISHOT)
                    .user_data(1),
            )
            .unwrap();
            s.submit().unwrap();
            let start = Instant::now();
            while s.ready() < 2 {
                assert!(start.elapsed() < PATIENCE, "{what}: the CQ never filled");
                enter_without_reading(s, 1);
            }
            enter_without_reading(s, 10);
            (s.ready(), s.in_flight())
        });
        assert_eq!(full, 2, "{what}");
        assert_eq!(in_flight, 1, "{what}: the op ended with a full CQ");
        // Which clients' connections were accepted (and closed by the
        // scope), which still wait.
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
        listener.set_nonblocking(true).unwrap();
        let mut queued = HashSet::new();
        while let Ok((_, addr)) = listener.accept() {
            queued.insert(addr);
        }
        assert_eq!(open, queued, "{what}: an accepted socket was left open");
        assert_eq!(
            closed.len(),
            3,
            "{what}: two F_MORE sockets and the last one's were closed"
        );
        assert_eq!(closed.len() + open.len(), N, "{what}");
        assert_eq!(uring_tests::stray(&mut ring), [], "{what}: after the scope");
        peer = SockAddrBuf::new();
        let more: Vec<TcpStream> = (0..4)
            .map(|_| TcpStream::connect(listener.local_addr().unwrap()).unwrap())
            .collect();
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(
            peer.socket_addr(),
            None,
            "{what}: a peer address written after the scope returned"
        );
        drop(more);
    }
}

/// A multishot receive over a ring of eight 16-byte buffers, on a CQ of
/// two entries, while a thread writes 400 chunks of 7 bytes: the CQ fills
/// again and again, each receive that finds no room ends the op with its
/// bytes and buffer in its last completion (`io_recv_finish`), and the op
/// is armed again. The completions are read in three ways in turn: all at
/// once, one through an iterator then forgotten, and slowly (a pause per
/// completion, while the writer and, on SQPOLL, the SQ thread go on), and
/// now and then not at all for a millisecond of enters.
/// Safe outcome: every byte arrives once and in order across the ends
/// (no completion counted twice or lost with the overflow), each buffer
/// named is claimed once and goes back, and once the last op is cancelled
/// the ring has all eight buffers again.
#[test]
fn a_re_armed_multishot_receive_loses_no_byte_and_no_buffer_through_overflows() {
    let _watch = watchdog();
    for kind in KINDS {
        let Some(mut ring) = ring_of(kind, 2, 2) else {
            continue;
        };
        if !require_op::<Recv<'_>>(&ring) {
            return;
        }
        let what = format!("{kind:?}");
        let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 3, 8, 16) else {
            return;
        };
        let (mut peer, sock) = UnixStream::pair().unwrap();
        let chunks: Vec<Vec<u8>> = (0..400u32).map(|i| pattern(7, i as u8)).collect();
        let sent = chunks.concat();
        let writer = std::thread::spawn(move || {
            for chunk in &chunks {
                peer.write_all(chunk).unwrap();
                std::thread::sleep(Duration::from_micros(40));
            }
            peer
        });
        let (received, seen, claims) = ring.scope(|s| {
            let mut ud = 1u64;
            let recv = |ud: u64| {
                Recv::new(&sock, pool.select())
                    .recv_flags(RecvFlags::MULTISHOT)
                    .user_data(ud)
            };
            s.push(recv(ud)).unwrap();
            let mut received = Vec::new();
            let mut seen = Vec::new();
            let mut claims = 0usize;
            let mut round = 0u32;
            let start = Instant::now();
            while received.len() < sent.len() {
                assert!(
                    start.elapsed() < PATIENCE,
                    "{what}: {} of {} bytes",
                    received.len(),
                    sent.len()
                );
                round += 1;
                if round % 4 == 3 {
                    // Nothing read: the CQ fills, and on a `defer_taskrun`
                    // ring only enters post.
                    enter_without_reading(s, 1);
                    continue;
                }
                let _ = s.submit_and_wait_timeout(1, Duration::from_millis(5));
                let mut rearm = false;
                let mut handle = |c: &mut uring::ScopeCqe<'_>| {
                    seen.push(seen_of(c));
                    if c.res() > 0 {
                        let buf = pool.claim(c).unwrap();
                        received.extend_from_slice(&buf[..]);
                        claims += 1;
                    } else {
                        assert!(c.res() == -libc::ENOBUFS, "{what}: a receive failed: {c:?}");
                    }
                    rearm |= !c.has_more();
                };
                match round % 3 {
                    0 => {
                        for mut c in s.completions() {
                            handle(&mut c);
                        }
                    }
                    1 => {
                        let mut it = s.completions();
                        if let Some(mut c) = it.next() {
                            handle(&mut c);
                        }
                        std::mem::forget(it);
                    }
                    _ => {
                        for mut c in s.completions() {
                            handle(&mut c);
                            std::thread::sleep(Duration::from_micros(300));
                        }
                    }
                }
                if rearm && received.len() < sent.len() {
                    ud += 1;
                    s.push(recv(ud)).unwrap();
                }
            }
            (received, seen, claims)
        });
        let _peer = writer.join().unwrap();
        assert_each_ends_last(&seen, [], &what);
        assert_eq!(received.len(), sent.len(), "{what}");
        assert!(received == sent, "{what}: every byte once, in order");
        let ends = seen.iter().filter(|s| !has_more(s)).count();
        eprintln!("{what}: {claims} buffers claimed, {ends} receives ended before the scope's end");
        assert!(ends >= 1, "{what}: no receive ended on the full CQ");
        assert_eq!(pool.lent(), 0, "{what}");
        assert_eq!(
            pool.available().unwrap(),
            pool.count(),
            "{what}: a buffer lost to the ring"
        );
    }
}

/// A counted multishot timeout pushed outside any scope (a foreign op,
/// whose completions a scope must pass through untouched), firing on a CQ
/// of four entries through a scope that reads everything for a while,
/// then reads nothing and ends with a multishot poll of its own still
/// armed (or ended by the kernel, through the overflow list): the foreign
/// firings fill the CQ and overflow, and the scope's end reads past them,
/// keeping them in the ring in order (setting them aside in a copy when
/// the CQ is full of them) while it waits for its poll's last completion. Safe outcome: the foreign op's
/// completions, those read in the scope and those after it, are each seen
/// once, in order, all flagged `F_MORE` but the one last, no more than its
/// count; the scope's own ops leave nothing after it.
#[test]
fn foreign_multishot_completions_a_scope_sets_aside_come_out_once_in_order() {
    let _watch = watchdog();
    for kind in KINDS {
        let Some(mut ring) = ring_of(kind, 4, 4) else {
            continue;
        };
        let what = format!("{kind:?}");
        ring.push(
            Timeout::new(Duration::from_micros(500))
                .count(200)
                .timeout_flags(TimeoutFlags::MULTISHOT)
                .user_data(50),
        )
        .unwrap();
        ring.submit().unwrap();
        let (prx, ptx) = uring_tests::pipe();
        let mut ptx = File::from(ptx);
        let mut seen = ring.scope(|s| {
            assert!(s.tags_every_op(), "{what}: an op was pushed outside");
            s.push(
                PollAdd::new(&prx, PollEvents::IN)
                    .poll_flags(PollFlags::MULTI)
                    .user_data(1),
            )
            .unwrap();
            let mut seen = Vec::new();
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(15) {
                let _ = s.submit_and_wait_timeout(1, Duration::from_millis(2));
                seen.extend(s.completions().map(|c| seen_of(&c)));
                ptx.write_all(b"x").unwrap();
            }
            // Nothing read from here on.
            enter_without_reading(s, 10);
            seen
        });
        // The scope's own poll: its completions, read in the scope, restored
        // to its `user_data`; after the scope only the foreign op's come.
        let in_scope = seen.len();
        assert_each_ends_last(
            &seen
                .iter()
                .filter(|x| x.0 == 1)
                .copied()
                .collect::<Vec<_>>(),
            [],
            &what,
        );
        let start = Instant::now();
        while !ended(&seen, 50) {
            assert!(start.elapsed() < PATIENCE, "{what}: {:?}", tail(&seen));
            let _ = ring.wait_timeout(1, Duration::from_millis(20));
            seen.extend(ring.completions().map(|c| seen_of(&c)));
        }
        seen.extend(uring_tests::stray_cqes(&mut ring).iter().map(seen_of));
        assert!(
            seen[in_scope..].iter().all(|x| x.0 == 50),
            "{what}: after the scope: {:?}",
            &seen[in_scope..]
        );
        let foreign: Vec<Seen> = seen.iter().filter(|s| s.0 != 1).copied().collect();
        assert!(
            foreign.iter().all(|s| s.0 == 50 && s.1 == -libc::ETIME),
            "{what}: {:?}",
            tail(&foreign)
        );
        let counts = assert_each_ends_last(&foreign, [50], &what);
        assert!(counts[&50] <= 200, "{what}: {} firings of 200", counts[&50]);
        eprintln!("{what}: {} foreign firings seen", counts[&50]);
    }
}

/// Zero-copy sends, one after another, each over an owned buffer, beside a
/// counted multishot timeout on a CQ of two entries, with nothing read for
/// a millisecond after each send: the timeout's firings, the send's result
/// (`F_MORE`) and its notification compete for two slots, so results and
/// notifications go through the overflow list, and the timeout is ended
/// there and armed again. Safe outcome: each send's completions are its
/// result with `F_MORE`, then its notification (`F_NOTIF`), last; the
/// owned buffer comes back with the notification and not before; the
/// peer gets every byte in order.
#[test]
fn zero_copy_notifications_overflowing_beside_a_multishot_timeout_hold_their_buffers() {
    let _watch = watchdog();
    for kind in KINDS {
        let Some(mut ring) = ring_of(kind, 2, 2) else {
            continue;
        };
        if !require_op::<SendZc<'static>>(&ring) {
            return;
        }
        let what = format!("{kind:?}");
        let (client, mut server) = uring_tests::tcp_pair();
        let chunks: Vec<Vec<u8>> = (0..40u32).map(|i| pattern(1500, i as u8)).collect();
        let total = chunks.len() * 1500;
        let reader = std::thread::spawn(move || {
            let mut got = vec![0u8; total];
            server.read_exact(&mut got).unwrap();
            got
        });
        let (seen, back) = ring.scope(|s| {
            let mut timer = 1u64;
            let arm = |s: &mut Scope<'_, '_>, ud: u64| {
                s.push(
                    Timeout::new(Duration::from_micros(200))
                        .count(10_000)
                        .timeout_flags(TimeoutFlags::MULTISHOT)
                        .user_data(ud),
                )
                .unwrap();
            };
            arm(s, timer);
            let mut seen = Vec::new();
            let mut back = Vec::new();
            for (i, chunk) in chunks.iter().enumerate() {
                let ud = 1000 + i as u64;
                s.push_owned(chunk.clone(), |buf, sq| {
                    sq.push(SendZc::new(&client, &*buf).user_data(ud))
                })
                .unwrap();
                s.submit().unwrap();
                enter_without_reading(s, 1);
                let start = Instant::now();
                while !ended(&seen, ud) {
                    assert!(start.elapsed() < PATIENCE, "{what}: {:?}", tail(&seen));
                    let _ = s.submit_and_wait_timeout(1, Duration::from_millis(5));
                    let mut rearm = false;
                    for mut c in s.completions() {
                        seen.push(seen_of(&c));
                        let buf = c.take_buf();
                        if c.user_data() == ud {
                            if c.is_notification() {
                                let buf = buf.expect("the buffer, back with the notification");
                                back.push((i, buf));
                            } else {
                                assert_eq!(buf, None, "{what}: the buffer came back early: {c:?}");
                            }
                        } else {
                            assert_eq!(c.user_data(), timer, "{what}: {c:?}");
                            rearm |= !c.has_more();
                        }
                    }
                    if rearm {
                        timer += 1;
                        arm(s, timer);
                    }
                }
            }
            (seen, back)
        });
        let got = reader.join().unwrap();
        assert_eq!(got, chunks.concat(), "{what}: every byte, in order");
        assert_each_ends_last(&seen, (0..40).map(|i| 1000 + i), &what);
        for i in 0..40u64 {
            let of: Vec<(i32, u32)> = seen
                .iter()
                .filter(|s| s.0 == 1000 + i)
                .map(|s| (s.1, s.2 & (IORING_CQE_F_MORE | IORING_CQE_F_NOTIF)))
                .collect();
            assert_eq!(
                of,
                [(1500, IORING_CQE_F_MORE), (0, IORING_CQE_F_NOTIF)],
                "{what}: send {i}"
            );
        }
        assert_eq!(back.len(), 40, "{what}");
        for (i, buf) in &back {
            assert_eq!(buf, &chunks[*i], "{what}: send {i}'s buffer, whole");
        }
        let timer_ends = seen.iter().filter(|s| s.0 < 1000 && !has_more(s)).count();
        eprintln!("{what}: the multishot timeout was ended {timer_ends} times");
        assert_eq!(uring_tests::stray(&mut ring), [], "{what}: after the scope");
    }
}

/// The same contract on a ring of 32-byte CQEs, where the overflow list
/// keeps each entry whole (`io_cqring_event_overflow` copies `big_cqe`):
/// a multishot poll of a pipe woken ten times with nothing read posts two
/// wake-ups with `F_MORE` and ends at the third, its events in its last
/// completion; then polls armed again and read at every enter through 200
/// wake-ups. Safe outcome: exactly three completions the first time (two
/// with `F_MORE`, then the last), each op's last completion last, the
/// extra words zero, the scope's count of ops in flight 1 until the last,
/// and nothing after the scope.
#[test]
fn a_big_cqe_ring_s_overflowed_multishot_poll_ends_once_with_whole_entries() {
    let _watch = watchdog();
    let mut ring = match Builder::new().cq_entries(2).build_sized::<Sqe64, Cqe32>(2) {
        Ok(ring) => ring,
        Err(e) => return skip(format!("no ring of 32-byte CQEs: {e}")),
    };
    let (prx, ptx) = uring_tests::pipe();
    let mut ptx = File::from(ptx);
    let (first, first_in_flight, seen, extras) = ring.scope(|s| {
        s.push(
            PollAdd::new(&prx, PollEvents::IN)
                .poll_flags(PollFlags::MULTI)
                .user_data(1),
        )
        .unwrap();
        s.submit().unwrap();
        std::thread::sleep(Duration::from_millis(2));
        for _ in 0..10 {
            ptx.write_all(b"w").unwrap();
            let _ = s.get_events();
            std::thread::sleep(Duration::from_micros(500));
        }
        let first_in_flight = s.in_flight();
        let mut first: Vec<Seen> = Vec::new();
        let mut extras = Vec::new();
        let start = Instant::now();
        while !ended(&first, 1) {
            assert!(start.elapsed() < PATIENCE, "{first:?}");
            let _ = s.submit_and_wait_timeout(1, Duration::from_millis(20));
            for c in s.completions() {
                first.push(seen_of(&c));
                extras.push(c.big_cqe());
            }
        }
        let mut ud = 2u64;
        s.push(
            PollAdd::new(&prx, PollEvents::IN)
                .poll_flags(PollFlags::MULTI)
                .user_data(ud),
        )
        .unwrap();
        let mut seen: Vec<Seen> = Vec::new();
        for i in 0..200u32 {
            ptx.write_all(b"w").unwrap();
            let _ = s.submit_and_wait_timeout(1, Duration::from_millis(2));
            let mut rearm = false;
            for c in s.completions() {
                seen.push(seen_of(&c));
                extras.push(c.big_cqe());
                rearm |= !c.has_more();
            }
            if rearm {
                ud += 1;
                s.push(
                    PollAdd::new(&prx, PollEvents::IN)
                        .poll_flags(PollFlags::MULTI)
                        .user_data(ud),
                )
                .unwrap();
            }
            assert_eq!(
                s.in_flight(),
                1,
                "wake-up {i}: one poll armed, the others ended"
            );
        }
        (first, first_in_flight, seen, extras)
    });
    assert_eq!(first_in_flight, 1, "a full CQ ended the op");
    let inn = PollEvents::IN.bits() as i32;
    assert_eq!(
        first,
        [
            (1, inn, IORING_CQE_F_MORE),
            (1, inn, IORING_CQE_F_MORE),
            (1, inn, 0)
        ],
        "two wake-ups, then the last with the third's events"
    );
    assert_each_ends_last(&seen, [], "read at every enter");
    assert!(seen.len() >= 100, "{}", seen.len());
    assert!(extras.iter().all(|e| *e == [0, 0]), "{extras:?}");
    let _ = ring.wait_timeout(1, Duration::from_millis(30));
    assert_eq!(ring.completions().count(), 0, "after the scope");
}

/// A reactor over a ring whose CQ has two entries: an accept stream with
/// 16 connections waiting, polled once (so queued and submitted), then
/// left alone while the kernel accepts: two sockets fill the CQ and the
/// third ends the op through the overflow list. The stream is then
/// dropped, its items unread. Safe outcome: the reactor makes and drops
/// each item of the orphaned stream, closing exactly the sockets the
/// kernel accepted (their clients read the end of the stream), none twice
/// and none left open; the connections the kernel never took still wait
/// in the listener's queue; nothing stays in flight.
#[test]
fn a_dropped_accept_stream_ended_by_overflow_closes_every_socket_it_took() {
    let _watch = watchdog();
    const N: usize = 16;
    let ring = match Reactor::ring_builder().cq_entries(2).build(2) {
        Ok(ring) => ring,
        Err(e) => return skip(format!("no ring of 2 CQ entries: {e}")),
    };
    let reactor = Reactor::from_ring(ring).unwrap();
    let (listener, mut clients) = listener_with_clients(N);
    let dup = listener.try_clone().unwrap();
    let lfd = SharedFd::new(listener);
    let h = reactor.handle();
    let mut stream = h.stream(AcceptMulti::new(&lfd));
    assert!(uring_tests::poll_once(&mut Box::pin(stream.next())).is_pending());
    reactor.submit().unwrap();
    // Not driven: the kernel accepts until the CQ is full (a plain ring
    // runs the accept's task work as this thread leaves the kernel).
    std::thread::sleep(Duration::from_millis(20));
    drop(stream);
    uring_tests::run_for(&reactor, 30);
    assert_eq!(reactor.in_flight(), 0);
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
        "{} accepted and closed, {} still queued",
        closed.len(),
        open.len()
    );
    assert_eq!(
        open, queued,
        "a socket the orphaned stream took was left open"
    );
    assert!(!closed.is_empty(), "the kernel accepted nothing");
    assert_eq!(closed.len() + open.len(), N);
}

/// Nops pushed outside any scope, left unread, fill a CQ of four entries
/// and push the next ones into the overflow list; then a scope whose
/// multishot timeout cannot post at all (the list is not empty, so
/// `io_cqe_cache_refill` refuses it a slot) and ends at its first firing,
/// through the list, behind the foreign nops. Safe outcome: the scope
/// reads every foreign completion in order, each once, then its timeout's
/// one and only completion (no `F_MORE`: the kernel ended it), and counts
/// the op in flight until then.
#[test]
fn a_multishot_op_started_behind_an_overflow_list_ends_behind_it() {
    let _watch = watchdog();
    for kind in KINDS {
        let Some(mut ring) = ring_of(kind, 4, 4) else {
            continue;
        };
        let what = format!("{kind:?}");
        for round in 0..2u64 {
            for i in 0..4 {
                ring.push(Nop::new().user_data(100 * (round + 1) + i))
                    .unwrap();
            }
            ring.submit().unwrap();
            // (An SQ thread takes them in its own time.)
            let start = Instant::now();
            while ring.space_left() < 4 {
                assert!(start.elapsed() < PATIENCE, "{what}");
                std::thread::sleep(Duration::from_micros(100));
            }
        }
        let start = Instant::now();
        while ring.ready() < 4 || !ring.cq_has_overflow() {
            assert!(start.elapsed() < PATIENCE, "{what}");
            let _ = ring.get_events();
        }
        std::thread::sleep(Duration::from_millis(2));
        let (seen, in_flight) = ring.scope(|s| {
            s.push(
                Timeout::new(Duration::from_micros(100))
                    .count(50)
                    .timeout_flags(TimeoutFlags::MULTISHOT)
                    .user_data(1),
            )
            .unwrap();
            s.submit().unwrap();
            enter_without_reading(s, 5);
            let in_flight = s.in_flight();
            let mut seen = Vec::new();
            reap_until(s, &mut seen, |seen| ended(seen, 1));
            (seen, in_flight)
        });
        assert_eq!(in_flight, 1, "{what}");
        let mut want: Vec<Seen> = (0..2u64)
            .flat_map(|r| (0..4).map(move |i| (100 * (r + 1) + i, 0, 0)))
            .collect();
        want.push((1, -libc::ETIME, 0));
        assert_eq!(
            seen, want,
            "{what}: the foreign nops in order, then the timeout's one completion"
        );
        assert_eq!(uring_tests::stray(&mut ring), [], "{what}: after the scope");
    }
}
