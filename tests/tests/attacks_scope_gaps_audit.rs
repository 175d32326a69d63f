//! Attacks in safe code on the scope layer where two of its features meet,
//! each case checked against what the kernel did:
//! - `then_write` pairs over a claimed buffer-ring buffer (`push_claimed`),
//!   over an owned vector (`push_owned`) and over a borrowed buffer, run to
//!   their end or cut by the scope's end (a return, a `?` with a forgotten
//!   batch, a panic): the pipe the read waited on keeps every byte written
//!   after the scope, the write's destination gets nothing, the buffer is
//!   lent until the pair's last completion and then given back once;
//! - untagged ops of a fast scope flagged `CQE_SKIP_SUCCESS` in a chain, and
//!   reads sent to io-wq (`ASYNC`) in fast and tagging scopes, each over a
//!   canary that must stay untouched after the scope;
//! - one `user_data` shared by a borrowed, an owned and a claimed read,
//!   cancelled by `Scope::cancel`: each completes once, each buffer back;
//! - a `Pipe` last of a chain after a read over the same owned vector (its
//!   ends handed over) and first of one (its ends left to no one, as the
//!   docs say);
//! - a zero-copy send over a claimed buffer cut by its link timeout while
//!   the socket is full: the buffer stays lent until the notification;
//! - zero-copy sends linked after a failing op, whose notifications Linux
//!   6.18 posts after their last completion: up to 64 in one batch the
//!   scope takes in; more come out of the scope as completions no op was
//!   pushed with (ignored: a defect).

use std::io::{Read as _, Write as _};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use uring::ops::{Nop, Pipe, Read, Recv, SendZc};
use uring::{BufRing, Ring, Scope, SqeFlags};
use uring_tests::{PATIENCE, bad_fd, fill_unix_send_side, plain_buf_ring, read_exactly, tcp_pair};

const CANARY: u8 = 0xC5;
const GROUP: u16 = 21;

/// One completion seen in a scope: `user_data`, result, flags, and the owned
/// buffer it brought back.
#[derive(Debug)]
struct Seen {
    ud: u64,
    res: i32,
    flags: u32,
    scope_op: bool,
    buf: Option<Vec<u8>>,
}

/// Submits and reads completions until `n` were seen, within [`PATIENCE`].
fn reap(s: &mut Scope<'_, '_>, n: usize) -> Vec<Seen> {
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    while seen.len() < n {
        assert!(Instant::now() < deadline, "only {seen:?}");
        s.submit().unwrap();
        let _ = s.wait_timeout(1, Duration::from_millis(20));
        for mut c in s.completions() {
            let buf = c.take_buf();
            seen.push(Seen {
                ud: c.user_data(),
                res: c.res(),
                flags: c.flags(),
                scope_op: c.is_scope_op(),
                buf,
            });
        }
    }
    seen
}

/// Whether `rx` has nothing to read now.
fn empty(rx: &impl AsRawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd: rx.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid pollfd, and the timeout is 0.
    let rc = unsafe { libc::poll(&mut pfd, 1, 0) };
    assert!(rc >= 0);
    rc == 0
}

/// Writes `late` into `tx` after a scope ended, waits, and checks that the
/// bytes are still there for us to read: no read of the scope took them.
fn assert_late_bytes_stay(tx: &mut impl std::io::Write, rx: &mut impl std::io::Read, late: &[u8]) {
    tx.write_all(late).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let mut got = vec![0; late.len()];
    rx.read_exact(&mut got).unwrap();
    assert_eq!(got, late, "a read cut by the scope's end took bytes");
}

/// A pipe as two `File`s, `(read end, write end)`.
fn file_pipe() -> (std::fs::File, std::fs::File) {
    let (r, w) = uring_tests::pipe();
    (std::fs::File::from(r), std::fs::File::from(w))
}

/// Receives `msg` (sent by `client`) into a buffer of `pool` in scope `s`
/// and claims it.
fn receive<'s>(
    s: &mut Scope<'s, '_>,
    client: &mut UnixStream,
    server: &'s UnixStream,
    pool: &'s BufRing,
    msg: &[u8],
) -> uring::Buf<'s> {
    client.write_all(msg).unwrap();
    s.push(Recv::new(server, pool.select()).user_data(99))
        .unwrap();
    let mut cqe = uring_tests::next_scope_cqe(s);
    assert_eq!((cqe.user_data(), cqe.res()), (99, msg.len() as i32));
    let buf = pool.claim(&mut cqe).unwrap();
    assert_eq!(&buf[..], msg);
    buf
}

// ---------------------------------------------------------------------
// then_write pairs over claimed, owned and borrowed buffers
// ---------------------------------------------------------------------

/// A `then_write` pair over a claimed buffer copies the pipe's bytes into
/// the buffer and out; the buffer stays lent after the read's completion
/// and goes back to its ring with the write's, once.
#[test]
fn a_pair_over_a_claimed_buffer_keeps_it_until_the_write() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 2, 16) else {
        return;
    };
    let (mut client, server) = UnixStream::pair().unwrap();
    let (src_rx, mut src_tx) = file_pipe();
    let (mut dst_rx, dst_tx) = file_pipe();
    // Full pipe of data for the read; the write goes out after it.
    src_tx.write_all(b"0123456789abcdef").unwrap();
    ring.scope(|s| {
        let buf = receive(s, &mut client, &server, &pool, b"claimed!");
        assert_eq!(pool.lent(), 1);
        s.push_claimed(buf, |bytes, sq| {
            sq.push(
                Read::new(&src_rx, bytes)
                    .user_data(1)
                    .then_write_with(&dst_tx, |w| w.user_data(2)),
            )
        })
        .unwrap();
        // The two completions, one at a time: the buffer is lent until the
        // second is read.
        let mut seen = Vec::new();
        let deadline = Instant::now() + PATIENCE;
        while seen.len() < 2 {
            assert!(Instant::now() < deadline, "only {seen:?}");
            s.submit().unwrap();
            let _ = s.wait_timeout(1, Duration::from_millis(20));
            let mut it = s.completions();
            if let Some(mut c) = it.next() {
                assert!(c.take_buf().is_none());
                seen.push((c.user_data(), c.res(), pool.lent()));
            }
        }
        assert_eq!(seen, [(1, 8, 1), (2, 8, 0)], "(user_data, res, lent)");
        assert_eq!(pool.lent(), 0, "the buffer goes back with the write");
        assert_eq!(pool.available().unwrap(), 2);
        assert_eq!(s.in_flight(), 0);
    });
    let mut got = [0; 8];
    dst_rx.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"01234567");
    // The rest of the source stays.
    let mut rest = [0; 8];
    (&src_rx).read_exact(&mut rest).unwrap();
    assert_eq!(&rest, b"89abcdef");
}

/// The same pair left waiting on an empty pipe when the scope returns:
/// the read is cancelled (the bytes written after stay in the pipe), the
/// write never runs, and the buffer is back in its ring.
#[test]
fn a_pair_over_a_claimed_buffer_cut_by_the_scope_s_end() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = Ring::new(8).unwrap();
        if tag_all {
            ring.push(Nop::new()).unwrap();
            ring.submit_and_wait(1).unwrap();
            assert_eq!(ring.completions().count(), 1);
        }
        let Some(pool) = plain_buf_ring(&mut ring, GROUP, 2, 16) else {
            return;
        };
        let (mut client, server) = UnixStream::pair().unwrap();
        let (mut src_rx, mut src_tx) = file_pipe();
        let (dst_rx, dst_tx) = file_pipe();
        ring.scope(|s| {
            assert_eq!(s.tags_every_op(), tag_all);
            let buf = receive(s, &mut client, &server, &pool, b"pending");
            s.push_claimed(buf, |bytes, sq| {
                sq.push(
                    Read::new(&src_rx, bytes)
                        .user_data(1)
                        .then_write(&dst_tx, 0),
                )
            })
            .unwrap();
            s.submit().unwrap();
            assert_eq!(s.in_flight(), 2);
            assert_eq!(pool.lent(), 1);
        });
        assert_eq!(pool.lent(), 0, "tag_all {tag_all}");
        assert_eq!(pool.available().unwrap(), 2, "tag_all {tag_all}");
        assert!(ring.completions().next().is_none(), "tag_all {tag_all}");
        assert_late_bytes_stay(&mut src_tx, &mut src_rx, b"after the scope");
        assert!(empty(&dst_rx), "the cancelled pair wrote");
    }
}

/// A pair over an owned vector, waiting on an empty pipe, when the scope
/// unwinds from a panic: the scope still waits for both ops, the pipe
/// keeps the bytes written after it, and the destination gets nothing.
#[test]
fn a_pair_over_an_owned_vector_cut_by_a_panic() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (mut src_rx, mut src_tx) = file_pipe();
    let (dst_rx, dst_tx) = file_pipe();
    let caught = catch_unwind(AssertUnwindSafe(|| {
        ring.scope(|s| {
            s.push_owned(vec![CANARY; 32], |buf, sq| {
                sq.push(Read::new(&src_rx, buf).user_data(1).then_write(&dst_tx, 0))
            })
            .unwrap();
            s.submit().unwrap();
            assert_eq!(s.in_flight(), 2);
            panic!("cut the pair");
        })
    }));
    assert!(caught.is_err());
    assert!(ring.completions().next().is_none());
    assert_late_bytes_stay(&mut src_tx, &mut src_rx, b"after the panic");
    assert!(empty(&dst_rx), "the cancelled pair wrote");
    // The ring is usable, and its next scope starts empty.
    ring.scope(|s| assert_eq!(s.in_flight(), 0));
}

/// A borrowed pair pushed through a batch that is forgotten, the scope
/// left by `?`: the buffer holds its canary after writes to the pipe.
#[test]
fn a_borrowed_pair_in_a_forgotten_batch_left_by_an_error() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (mut src_rx, mut src_tx) = file_pipe();
    let (dst_rx, dst_tx) = file_pipe();
    let mut buf = [CANARY; 24];
    let result: Result<(), &str> = ring.scope(|s| {
        let mut batch = s.submission();
        batch
            .push(Read::new(&src_rx, &mut buf[..]).then_write(&dst_tx, 0))
            .map_err(|_| "push")?;
        std::mem::forget(batch);
        s.submit().map_err(|_| "submit")?;
        if s.in_flight() == 2 {
            return Err("leaving with the pair in flight");
        }
        Ok(())
    });
    assert_eq!(result, Err("leaving with the pair in flight"));
    assert_late_bytes_stay(&mut src_tx, &mut src_rx, b"late");
    assert!(buf.iter().all(|&b| b == CANARY), "{buf:?}");
    assert!(empty(&dst_rx));
}

// ---------------------------------------------------------------------
// Fast scopes: skipped successes, io-wq
// ---------------------------------------------------------------------

/// On a clean ring, a NOP flagged `CQE_SKIP_SUCCESS` linked to a read that
/// waits: the NOP's completion comes all the same (the scope clears the
/// flag), the read is counted until its last, and its canary survives the
/// scope's end.
#[test]
fn a_skipped_success_heading_an_untagged_chain_in_a_fast_scope() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (mut src_rx, mut src_tx) = file_pipe();
    let mut buf = [CANARY; 16];
    ring.scope(|s| {
        assert!(!s.tags_every_op(), "a clean ring's scope");
        s.push(
            Nop::new()
                .flags(SqeFlags::CQE_SKIP_SUCCESS)
                .user_data(1)
                .link(Read::new(&src_rx, &mut buf[..]).user_data(2)),
        )
        .unwrap();
        let seen = reap(s, 1);
        assert_eq!((seen[0].ud, seen[0].res), (1, 0), "{seen:?}");
        assert_eq!(s.in_flight(), 1, "the read still waits");
        std::thread::sleep(Duration::from_millis(20));
        assert!(s.completions().next().is_none());
    });
    assert_late_bytes_stay(&mut src_tx, &mut src_rx, b"late");
    assert!(buf.iter().all(|&b| b == CANARY), "{buf:?}");
}

/// Reads sent to io-wq (`ASYNC`) on empty pipes, untagged in a fast scope
/// and tagged in one that tags every op, several at once: the scope's end
/// reaches each in the worker, and no canary changes after it.
#[test]
fn io_wq_reads_are_cancelled_at_the_scope_s_end() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = Ring::new(16).unwrap();
        if tag_all {
            ring.push(Nop::new()).unwrap();
            ring.submit_and_wait(1).unwrap();
            assert_eq!(ring.completions().count(), 1);
        }
        let pipes: Vec<_> = (0..4).map(|_| file_pipe()).collect();
        let mut bufs = [[CANARY; 16]; 4];
        ring.scope(|s| {
            assert_eq!(s.tags_every_op(), tag_all);
            for (i, ((rx, _), buf)) in pipes.iter().zip(bufs.iter_mut()).enumerate() {
                s.push(
                    Read::new(rx, &mut buf[..])
                        .flags(SqeFlags::ASYNC)
                        .user_data(i as u64),
                )
                .unwrap();
            }
            s.submit().unwrap();
            // Let the workers start.
            std::thread::sleep(Duration::from_millis(20));
            assert!(s.completions().next().is_none());
            assert_eq!(s.in_flight(), 4);
        });
        for (mut rx, mut tx) in pipes {
            assert_late_bytes_stay(&mut tx, &mut rx, b"late bytes");
        }
        for buf in &bufs {
            assert!(
                buf.iter().all(|&b| b == CANARY),
                "tag_all {tag_all}: {buf:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------
// One user_data over three kinds of buffer
// ---------------------------------------------------------------------

/// A borrowed, an owned and a claimed read that share one `user_data`,
/// cancelled at once by `Scope::cancel`: each completes once with
/// `ECANCELED`, the owned vector and the claimed buffer come back once,
/// and nothing reads the pipes after.
#[test]
fn one_user_data_over_borrowed_owned_and_claimed_reads() {
    let _watch = uring_tests::watchdog();
    for tag_all in [false, true] {
        let mut ring = Ring::new(16).unwrap();
        if tag_all {
            ring.push(Nop::new()).unwrap();
            ring.submit_and_wait(1).unwrap();
            assert_eq!(ring.completions().count(), 1);
        }
        let Some(pool) = plain_buf_ring(&mut ring, GROUP, 2, 16) else {
            return;
        };
        let (mut client, server) = UnixStream::pair().unwrap();
        let pipes: Vec<_> = (0..3).map(|_| file_pipe()).collect();
        let mut borrowed = [CANARY; 8];
        let owned = vec![CANARY; 8];
        let owned_ptr = owned.as_ptr();
        ring.scope(|s| {
            let claimed = receive(s, &mut client, &server, &pool, b"claim");
            s.push(Read::new(&pipes[0].0, &mut borrowed[..]).user_data(5))
                .unwrap();
            s.push_owned(owned, |buf, sq| {
                sq.push(Read::new(&pipes[1].0, buf).user_data(5))
            })
            .unwrap();
            s.push_claimed(claimed, |bytes, sq| {
                sq.push(Read::new(&pipes[2].0, bytes).user_data(5))
            })
            .unwrap();
            s.submit().unwrap();
            assert_eq!(s.in_flight(), 3);
            let requests = s.cancel(5).unwrap();
            assert!(requests >= 1, "{requests}");
            let seen = reap(s, 3);
            assert!(
                seen.iter()
                    .all(|c| c.ud == 5 && c.res == -libc::ECANCELED && c.scope_op),
                "tag_all {tag_all}: {seen:?}"
            );
            let back: Vec<_> = seen.iter().filter_map(|c| c.buf.as_ref()).collect();
            assert_eq!(back.len(), 1, "the owned vector once: {seen:?}");
            assert_eq!(back[0].as_ptr(), owned_ptr);
            assert!(back[0].iter().all(|&b| b == CANARY));
            assert_eq!(pool.lent(), 0);
            assert_eq!(s.in_flight(), 0);
            std::thread::sleep(Duration::from_millis(20));
            assert!(s.completions().next().is_none(), "a completion twice");
        });
        assert_eq!(pool.available().unwrap(), 2);
        for (mut rx, mut tx) in pipes {
            assert_late_bytes_stay(&mut tx, &mut rx, b"late");
        }
        assert!(borrowed.iter().all(|&b| b == CANARY));
    }
}

// ---------------------------------------------------------------------
// Pipes in chains over one owned vector
// ---------------------------------------------------------------------

/// Whether `fd` is an open FIFO.
fn is_fifo(fd: i32) -> bool {
    // SAFETY: all-zero bytes are a valid `stat`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable `stat`.
    let rc = unsafe { libc::fstat(fd, &mut st) };
    rc == 0 && st.st_mode & libc::S_IFMT == libc::S_IFIFO
}

/// A read into the tail of an owned vector, then a `Pipe` into its first
/// eight bytes, in one chain: the pipe's completion is the chain's last and
/// hands over working ends. The other order brings the vector back with
/// the read's completion: no ends are handed over, and the numbers in the
/// vector are a pipe's, open and owned by no one (as documented), which
/// the test closes.
#[test]
fn a_pipe_last_or_first_of_a_chain_over_one_owned_vector() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(6, 16, "the pipe op") {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let (src_rx, mut src_tx) = file_pipe();
    src_tx.write_all(b"tail bytes").unwrap();
    let mut ends = None;
    let mut leftover = None;
    ring.scope(|s| {
        s.push_owned(vec![0; 24], |buf, sq| {
            let (fds, rest) = buf.split_at_mut(8);
            let fds: &mut [u8; 8] = fds.try_into().unwrap();
            sq.push(
                Read::new(&src_rx, &mut rest[..5])
                    .user_data(1)
                    .link(Pipe::new(fds).user_data(2)),
            )
        })
        .unwrap();
        s.submit().unwrap();
        let mut got = Vec::new();
        let deadline = Instant::now() + PATIENCE;
        while got.len() < 2 {
            assert!(Instant::now() < deadline);
            let _ = s.wait_timeout(1, Duration::from_millis(20));
            for mut c in s.completions() {
                if c.user_data() == 2 {
                    assert_eq!(c.res(), 0);
                    ends = c.take_pipe();
                    assert!(c.take_buf().is_none(), "the vector goes with the ends");
                } else {
                    assert_eq!((c.user_data(), c.res()), (1, 5));
                    assert!(c.take_pipe().is_none() && c.take_buf().is_none());
                }
                got.push(c.user_data());
            }
        }
        assert_eq!(got, [1, 2]);
        s.push_owned(vec![0; 24], |buf, sq| {
            let (fds, rest) = buf.split_at_mut(8);
            let fds: &mut [u8; 8] = fds.try_into().unwrap();
            sq.push(
                Pipe::new(fds)
                    .user_data(3)
                    .link(Read::new(&src_rx, &mut rest[..5]).user_data(4)),
            )
        })
        .unwrap();
        let seen = reap(s, 2);
        assert_eq!(
            seen.iter().map(|c| (c.ud, c.res)).collect::<Vec<_>>(),
            [(3, 0), (4, 5)]
        );
        assert!(seen[0].buf.is_none());
        leftover = seen.into_iter().nth(1).and_then(|c| c.buf);
    });
    let (rx, tx) = ends.expect("the pipe's ends");
    let (mut rx, mut tx) = (std::fs::File::from(rx), std::fs::File::from(tx));
    tx.write_all(b"ok").unwrap();
    let mut two = [0; 2];
    rx.read_exact(&mut two).unwrap();
    assert_eq!(&two, b"ok");
    let leftover = leftover.expect("the vector, back with the read");
    assert_eq!(&leftover[8..13], b"bytes");
    let r = i32::from_ne_bytes(leftover[0..4].try_into().unwrap());
    let w = i32::from_ne_bytes(leftover[4..8].try_into().unwrap());
    assert!(is_fifo(r) && is_fifo(w), "ends {r} {w} left open");
    // SAFETY: the kernel opened both for the second pipe, whose ends the
    // scope handed to no one (the vector came back with the read): nothing
    // else owns these numbers.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(r), OwnedFd::from_raw_fd(w)) };
    drop((r, w));
}

// ---------------------------------------------------------------------
// Zero-copy sends
// ---------------------------------------------------------------------

/// A zero-copy send over a claimed buffer, with a link timeout, on a
/// socket whose send side is full: the timeout cuts the send, whose
/// completion says a notification follows, and the buffer stays lent until
/// that notification, then goes back once.
#[test]
fn a_zero_copy_send_over_a_claimed_buffer_cut_by_its_link_timeout() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(16).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 2, 32) else {
        return;
    };
    let (mut client, server) = UnixStream::pair().unwrap();
    let (out, peer) = UnixStream::pair().unwrap();
    let filled = fill_unix_send_side(&out);
    ring.scope(|s| {
        let buf = receive(s, &mut client, &server, &pool, b"zero copy");
        s.push_claimed(buf, |bytes, sq| {
            sq.push(
                SendZc::new(&out, bytes)
                    .user_data(1)
                    .timeout(Duration::from_millis(20)),
            )
        })
        .unwrap();
        let mut send_done = false;
        let mut notified = false;
        let mut timed_out = false;
        let deadline = Instant::now() + PATIENCE;
        while !(send_done && notified && timed_out) {
            assert!(Instant::now() < deadline);
            s.submit().unwrap();
            let _ = s.wait_timeout(1, Duration::from_millis(20));
            for c in s.completions() {
                if c.user_data() == 1 && c.is_notification() {
                    assert!(send_done && !notified, "{c:?}");
                    notified = true;
                } else if c.user_data() == 1 {
                    assert!(!send_done, "{c:?}");
                    send_done = true;
                    if c.has_more() {
                        assert_eq!(pool.lent(), 1, "lent until the notification");
                    } else {
                        // No notification was due: the send never ran.
                        notified = true;
                    }
                } else {
                    assert!(!timed_out, "{c:?}");
                    timed_out = true;
                }
            }
        }
        assert_eq!(pool.lent(), 0);
        assert_eq!(s.in_flight(), 0);
    });
    assert_eq!(pool.available().unwrap(), 2);
    let before = read_exactly(&peer, filled);
    assert!(before.iter().all(|&b| b == 0xEE));
    std::thread::sleep(Duration::from_millis(20));
    assert!(empty(&peer), "the cut send went out");
}

/// `n` chains of a read that fails (a bad descriptor) and a zero-copy send
/// linked after it, pushed at once in a scope of a clean ring; returns
/// every completion the scope showed and those left in the ring after it.
fn failed_linked_sends(n: usize) -> (Vec<Seen>, usize) {
    let mut ring = Ring::new(512).unwrap();
    let (client, _server) = tcp_pair();
    let data = [7u8; 64];
    let mut heads = vec![[0u8; 1]; n];
    let mut shown = Vec::new();
    ring.scope(|s| {
        assert!(!s.tags_every_op());
        for (i, h) in heads.iter_mut().enumerate() {
            s.push(
                Read::new(bad_fd(), &mut h[..])
                    .user_data(i as u64)
                    .link(SendZc::new(&client, &data[..]).user_data(1000 + i as u64)),
            )
            .unwrap();
        }
        shown = reap(s, 2 * n);
        // Whatever comes after the last completions.
        std::thread::sleep(Duration::from_millis(50));
        let _ = s.get_events();
        shown.extend(s.completions().map(|c| Seen {
            ud: c.user_data(),
            res: c.res(),
            flags: c.flags(),
            scope_op: c.is_scope_op(),
            buf: None,
        }));
    });
    let after = ring.completions().count();
    (shown, after)
}

/// Checks what [`failed_linked_sends`] saw: each read failed with `EBADF`
/// and each send with `ECANCELED`, once, and no other completion came.
fn assert_only_the_ops(n: usize, shown: &[Seen], after: usize) {
    let strays: Vec<_> = shown.iter().filter(|c| !c.scope_op).collect();
    assert!(
        strays.is_empty(),
        "{} completions no op was pushed with: {strays:?}",
        strays.len()
    );
    assert_eq!(after, 0, "completions left in the ring after the scope");
    assert_eq!(shown.len(), 2 * n);
    for i in 0..n as u64 {
        let read: Vec<_> = shown.iter().filter(|c| c.ud == i).collect();
        let send: Vec<_> = shown.iter().filter(|c| c.ud == 1000 + i).collect();
        assert_eq!(read.len(), 1, "{read:?}");
        assert_eq!(read[0].res, -libc::EBADF);
        assert_eq!(send.len(), 1, "{send:?}");
        assert_eq!(send[0].res, -libc::ECANCELED);
        assert_eq!(send[0].flags & uring::sys::IORING_CQE_F_MORE, 0);
    }
}

/// Up to 64 zero-copy sends failed by their link in one batch: their
/// notifications, which Linux posts after their last completions, are
/// taken in by the scope.
#[test]
fn sixty_four_failed_linked_zero_copy_sends_leave_no_stray_completion() {
    let _watch = uring_tests::watchdog();
    let (shown, after) = failed_linked_sends(64);
    assert_only_the_ops(64, &shown, after);
}

/// More than 64. The scope once remembered at most 64 sends whose
/// notification may still come, forgetting the oldest first, so that the
/// notifications of the first ones came out of the scope as completions
/// carrying stale tags, which no op was pushed with; it now remembers as
/// many as its CQ has entries, which bounds the ops in flight.
#[test]
fn eighty_failed_linked_zero_copy_sends_leave_no_stray_completion() {
    let _watch = uring_tests::watchdog();
    let (shown, after) = failed_linked_sends(80);
    assert_only_the_ops(80, &shown, after);
}
