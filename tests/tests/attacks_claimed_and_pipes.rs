//! Attacks on two ways a scope hands the kernel's work back to the
//! program: `push_claimed`, which lends a claimed buffer-ring buffer to
//! ops and gives it back to its ring after their last completion, and
//! `take_pipe`, which turns the numbers a `Pipe` wrote into an owned
//! buffer into `OwnedFd`s.
//!
//! Every test asserts what the kernel did: the bytes that went out, each
//! completion once, and afterwards the exact buffers each ring holds
//! (every one of them received into once, one receive more finding none,
//! no buffer twice) or the exact descriptors the process has open (in a
//! process of its own, where a descriptor closed twice, which aborts a
//! debug build, fails the test rather than the whole run).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{ErrorKind, Read as _, Write as _};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileTypeExt as _;
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use uring::ops::{
    Cancel, Nop, Pipe, PollAdd, PollRemove, PollUpdate, Read, Recv, Send, SendZc, Timeout,
    TimeoutRemove, TimeoutUpdate,
};
use uring::{
    Buf, BufRing, BufferGroup, Builder, Cqe16, Cqe32, DirectSlot, PipeSlots, PollEvents,
    PushErrorKind, RecvFlags, Ring, Scope, ScopeCqe, Sqe64, Sqe128, SqeFlags, SqeSize, SyncCancel,
    UniformCqe,
};
use uring_tests::net::assert_kernel_bytes;
use uring_tests::{
    PATIENCE, fd_is_open, in_own_process, incremental_buf_ring, next_scope_cqe, plain_buf_ring,
    require_kernel, tcp_pair,
};

const GROUP: u16 = 9;

// ---------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------

/// Receives a whole buffer's worth of bytes (`pool.buf_len()`, a value of
/// its own for each receive) into `count` buffers of `pool`, one receive
/// after the other, holding each claimed buffer, and then one receive
/// more: the ring must hand out exactly `count` different buffers, each
/// with its bytes, and then have none (`ENOBUFS`). Proves that no buffer
/// is lost, still lent, or in the ring twice. Works on incremental rings
/// too, as long as no buffer is part-used: a whole buffer's worth uses it
/// up.
fn assert_whole<S: SqeSize, C: UniformCqe>(
    ring: &mut Ring<S, C>,
    pool: &BufRing,
    count: u16,
    what: &str,
) {
    let len = pool.buf_len() as usize;
    let (feed, rx) = UnixStream::pair().unwrap();
    ring.scope(|s| {
        let mut held: Vec<Buf<'_>> = Vec::new();
        for i in 0..=count {
            let fill = vec![0x40 ^ i as u8; len];
            (&feed).write_all(&fill).unwrap();
            s.push(Recv::new(&rx, pool.select()).user_data(u64::from(i)))
                .unwrap();
            let mut cqe = next_of(s);
            let (ud, res) = pair(&cqe);
            assert_eq!(ud, u64::from(i), "{what}");
            if i == count {
                assert_eq!(
                    res,
                    -libc::ENOBUFS,
                    "{what}: a receive past the {count} buffers expected found one"
                );
                break;
            }
            assert_eq!(res, len as i32, "{what}: receive {i}");
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!(buf.offset(), 0, "{what}: buffer {} part-used", buf.bid());
            assert_kernel_bytes(&buf, &fill, what);
            held.push(buf);
        }
        let bids: BTreeSet<u16> = held.iter().map(|b| b.bid()).collect();
        assert_eq!(bids.len(), usize::from(count), "{what}: a buffer twice");
        // What the last receive asked for stays in the socket: drain it.
        rx.set_nonblocking(true).unwrap();
        let mut rest = vec![0; len];
        let _ = (&rx).read(&mut rest);
    });
}

/// `(user_data, res)` of a scope's completion of any size.
fn pair<C: UniformCqe>(cqe: &ScopeCqe<'_, C>) -> (u64, i32) {
    let plain: &uring::Cqe = (**cqe).as_ref();
    (plain.user_data(), plain.res())
}

/// Submits, waits for the scope's next completion and returns it, on a
/// ring of any entry sizes; asserts it is one of the scope's own ops'.
fn next_of<'s, S: SqeSize, C: UniformCqe>(s: &mut Scope<'s, '_, S, C>) -> ScopeCqe<'s, C> {
    s.submit().unwrap();
    s.wait_timeout(1, PATIENCE).unwrap();
    let cqe = s.completions().next().expect("a completion");
    assert!(cqe.is_scope_op());
    cqe
}

/// Pushes a receive of `$rx` into `$pool`, waits for it and claims its
/// buffer (a macro: the receive borrows `$rx` for the scope's lifetime).
macro_rules! received {
    ($s:expr, $rx:expr, $pool:expr) => {{
        $s.push(Recv::new($rx, $pool.select()).user_data(0x5EC5))
            .unwrap();
        let mut cqe = next_scope_cqe($s);
        assert_eq!(cqe.user_data(), 0x5EC5);
        assert!(cqe.res() > 0, "receive: {}", cqe.res());
        $pool.claim(&mut cqe).unwrap()
    }};
}

/// Whether `rx` has nothing to read right now.
fn nothing_more(rx: &UnixStream) -> bool {
    rx.set_nonblocking(true).unwrap();
    let mut one = [0u8; 1];
    let r = (&*rx).read(&mut one);
    rx.set_nonblocking(false).unwrap();
    matches!(r, Err(ref e) if e.kind() == ErrorKind::WouldBlock)
}

/// Reads the scope's completions until `n` have come, one wait of
/// [`PATIENCE`] at most each: `(user_data, res, flags)` in CQ order.
fn reap(s: &mut Scope<'_, '_>, n: usize) -> Vec<(u64, i32, u32)> {
    s.submit().unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while got.len() < n {
        assert!(Instant::now() < deadline, "only {got:?} of {n} completions");
        let _ = s.wait_timeout(1, Duration::from_millis(20));
        got.extend(s.completions().map(|c| (c.user_data(), c.res(), c.flags())));
    }
    assert_eq!(got.len(), n, "more completions than expected: {got:?}");
    got
}

/// How many completions carry each `user_data`.
fn counts(got: &[(u64, i32, u32)]) -> BTreeMap<u64, usize> {
    let mut seen = BTreeMap::new();
    for &(ud, _, _) in got {
        *seen.entry(ud).or_insert(0) += 1;
    }
    seen
}

/// The result of the one completion that carries `ud`.
fn result_of(got: &[(u64, i32, u32)], ud: u64) -> i32 {
    let mut of = got.iter().filter(|c| c.0 == ud);
    let first = of
        .next()
        .unwrap_or_else(|| panic!("no completion {ud}: {got:?}"));
    assert!(of.next().is_none(), "two completions {ud}: {got:?}");
    first.1
}

/// Waits a little and asserts that the scope hands out no completion
/// more.
fn assert_no_more(s: &mut Scope<'_, '_>, what: &str) {
    let _ = s.submit_and_wait_timeout(1, Duration::from_millis(100));
    let extra: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
    assert!(extra.is_empty(), "{what}: completions more: {extra:?}");
}

/// Whether the kernel has `IORING_OP_PIPE` (6.16); prints why not.
fn have_pipe() -> bool {
    require_kernel(6, 16, "IORING_OP_PIPE")
}

/// The numbers of the two ends a `Pipe` wrote to `bytes`.
fn numbers(bytes: &[u8]) -> (RawFd, RawFd) {
    (
        RawFd::from_ne_bytes(bytes[..4].try_into().unwrap()),
        RawFd::from_ne_bytes(bytes[4..8].try_into().unwrap()),
    )
}

/// Eight bytes holding the numbers of `a` and `b`, as a `Pipe` would
/// write them.
fn forged(a: RawFd, b: RawFd) -> Vec<u8> {
    let mut bytes = a.to_ne_bytes().to_vec();
    bytes.extend_from_slice(&b.to_ne_bytes());
    bytes
}

/// Takes ownership of two numbers a test knows to be a pipe's ends that
/// nothing else owns (read from memory the kernel wrote them to, or the
/// only new descriptors of the process).
fn adopt(fds: (RawFd, RawFd)) -> (OwnedFd, OwnedFd) {
    assert!(fd_is_open(fds.0) && fd_is_open(fds.1) && fds.0 != fds.1);
    // SAFETY: the kernel made both ends for this test's op, and nothing
    // took them: the test owns them from here on.
    unsafe { (OwnedFd::from_raw_fd(fds.0), OwnedFd::from_raw_fd(fds.1)) }
}

/// Writes through `tx` and reads it back through `rx`: the two are the
/// ends of one pipe.
fn assert_one_pipe(rx: OwnedFd, tx: OwnedFd, what: &str) {
    let (mut rx, mut tx) = (File::from(rx), File::from(tx));
    tx.write_all(what.as_bytes()).unwrap();
    drop(tx);
    let mut got = String::new();
    rx.read_to_string(&mut got).unwrap();
    assert_eq!(got, what);
}

/// The descriptors opened since `before`, in order.
fn opened_since(before: &BTreeSet<RawFd>) -> Vec<RawFd> {
    uring_tests::open_fd_set()
        .difference(before)
        .copied()
        .collect()
}

/// `F_GETFL` of `fd`.
fn status_flags(fd: &OwnedFd) -> i32 {
    // SAFETY: F_GETFL only reads the open file's flags.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    assert!(flags >= 0);
    flags
}

// ---------------------------------------------------------------------
// push_claimed
// ---------------------------------------------------------------------

/// The buffers of receive bundles, claimed together, pushed one by one
/// (every other one kept by the program): each goes back to the ring
/// after its own op, the kept ones when they are dropped, none twice.
#[test]
fn a_bundle_s_buffers_go_out_one_by_one() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(16).unwrap();
    if !uring_tests::require_features(&ring, uring::Features::RECVSEND_BUNDLE, "bundles") {
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 6, 16) else {
        return;
    };
    let (mut client, server) = UnixStream::pair().unwrap();
    let (out, peer) = UnixStream::pair().unwrap();
    let data = uring_tests::pattern(64, 3);
    client.write_all(&data).unwrap();
    let mut sent = Vec::new();
    ring.scope(|s| {
        // Bundles until the 64 bytes are in: four buffers in all.
        let mut bufs = Vec::new();
        let mut bundles = 0;
        while bufs.len() < 4 {
            s.push(
                Recv::new(&server, pool.select())
                    .recv_flags(RecvFlags::BUNDLE)
                    .user_data(1),
            )
            .unwrap();
            let mut cqe = next_scope_cqe(s);
            assert!(cqe.res() > 0, "{cqe:?}");
            let claimed = pool.claim_bundle(&mut cqe).unwrap();
            assert_eq!(
                claimed.iter().map(|b| b.len()).sum::<usize>(),
                cqe.res() as usize
            );
            bufs.extend(claimed);
            bundles += 1;
        }
        assert_eq!(bufs.len(), 4, "{bundles} bundles");
        assert!(bundles < 4, "no receive took several buffers");
        assert!(bufs.iter().all(|b| b.len() == 16));
        let bids: BTreeSet<u16> = bufs.iter().map(|b| b.bid()).collect();
        assert_eq!(bids.len(), 4);
        assert_eq!(pool.available().unwrap(), 2, "two never taken");
        let mut kept = Vec::new();
        for (i, buf) in bufs.into_iter().enumerate() {
            assert_kernel_bytes(&buf, &data[i * 16..][..16], "a bundle's buffer");
            if i % 2 == 1 {
                kept.push(buf);
                continue;
            }
            sent.extend_from_slice(&data[i * 16..][..16]);
            s.push_claimed(buf, |bytes, sq| {
                sq.push(Send::new(&out, bytes).user_data(10 + i as u64))
            })
            .unwrap();
            let cqe = next_scope_cqe(s);
            assert_eq!((cqe.user_data(), cqe.res()), (10 + i as u64, 16));
        }
        // The sent ones back; the kept ones still the program's.
        assert_eq!(pool.available().unwrap(), 4);
        assert_eq!(pool.lent(), 2);
        drop(kept);
        assert_eq!(pool.available().unwrap(), 6);
        assert_no_more(s, "after the bundles' sends");
    });
    assert_eq!(uring_tests::read_exactly(&peer, 32), sent);
    assert!(nothing_more(&peer));
    assert_whole(&mut ring, &pool, 6, "after the bundles");
}

/// Parts of one buffer of an incremental ring, claimed as the kernel goes
/// on filling the rest of it, are lent to sends that stay in flight: the
/// kernel's later writes land after them, each part goes out as it was,
/// and the buffer comes back to the ring only once the kernel has used it
/// up and both sends are done.
#[test]
fn parts_of_an_incremental_buffer_lent_while_the_kernel_fills_the_rest() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(16).unwrap();
    let Some(pool) = incremental_buf_ring(&mut ring, GROUP, 1, 16) else {
        return;
    };
    let (mut client, server) = UnixStream::pair().unwrap();
    let (out_a, in_a) = UnixStream::pair().unwrap();
    let (out_b, in_b) = UnixStream::pair().unwrap();
    let (filled_a, filled_b) = (
        uring_tests::fill_unix_send_side(&out_a),
        uring_tests::fill_unix_send_side(&out_b),
    );
    ring.scope(|s| {
        client.write_all(b"AAAAA").unwrap();
        let part1 = received!(s, &server, pool);
        assert_eq!((part1.offset(), &part1[..]), (0, &b"AAAAA"[..]));
        s.push_claimed(part1, |bytes, sq| {
            sq.push(Send::new(&out_a, bytes).user_data(10))
        })
        .unwrap();
        s.submit().unwrap();
        // The kernel keeps the rest of the buffer: it is still in the ring.
        assert_eq!(pool.available().unwrap(), 1);
        client.write_all(b"BBBBB").unwrap();
        let part2 = received!(s, &server, pool);
        assert_eq!((part2.offset(), &part2[..]), (5, &b"BBBBB"[..]));
        s.push_claimed(part2, |bytes, sq| {
            sq.push(Send::new(&out_b, bytes).user_data(11))
        })
        .unwrap();
        s.submit().unwrap();
        client.write_all(b"CCCCCC").unwrap();
        let part3 = received!(s, &server, pool);
        assert_eq!((part3.offset(), &part3[..]), (10, &b"CCCCCC"[..]));
        // Used up: out of the ring, and lent to the two sends still.
        drop(part3);
        assert_eq!(pool.available().unwrap(), 0);
        assert_eq!(pool.lent(), 1);
        assert_eq!(s.in_flight(), 2, "both sends wait for room");
        // Room for both: they go out as they were lent.
        assert!(
            uring_tests::read_exactly(&in_a, filled_a)
                .iter()
                .all(|&b| b == 0xEE)
        );
        assert!(
            uring_tests::read_exactly(&in_b, filled_b)
                .iter()
                .all(|&b| b == 0xEE)
        );
        let got = reap(s, 2);
        assert_eq!((result_of(&got, 10), result_of(&got, 11)), (5, 5));
        assert_eq!(pool.available().unwrap(), 1, "back after the last send");
        assert_eq!(pool.lent(), 0);
    });
    assert_eq!(uring_tests::read_exactly(&in_a, 5), b"AAAAA");
    assert_eq!(uring_tests::read_exactly(&in_b, 5), b"BBBBB");
    assert!(nothing_more(&in_a) && nothing_more(&in_b));
    assert_whole(&mut ring, &pool, 1, "after the parts");
}

/// Buffers of another group of the ring, and of a buffer ring of another
/// ring (claimed in that ring's scope, nested in this one), lent to this
/// ring's ops: each goes back to its own ring, and while lent, that ring
/// has one buffer fewer.
#[test]
fn buffers_of_other_groups_and_other_rings() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(16).unwrap();
    let mut other = Ring::new(8).unwrap();
    let Some(pool_a) = plain_buf_ring(&mut ring, GROUP, 2, 64) else {
        return;
    };
    let pool_c = plain_buf_ring(&mut ring, GROUP + 1, 2, 64).unwrap();
    // The same group id, on the other ring.
    let pool_b = plain_buf_ring(&mut other, GROUP, 2, 64).unwrap();
    let (mut client, server) = UnixStream::pair().unwrap();
    let (out, peer) = UnixStream::pair().unwrap();
    let filled = uring_tests::fill_unix_send_side(&out);
    ring.scope(|s| {
        client.write_all(b"of group c").unwrap();
        let c = received!(s, &server, pool_c);
        client.write_all(b"of the other ring").unwrap();
        let b = other.scope(|o| received!(o, &server, pool_b));
        assert_eq!(&b[..], b"of the other ring");
        s.push_claimed(b, |bytes, sq| sq.push(Send::new(&out, bytes).user_data(20)))
            .unwrap();
        s.push_claimed(c, |bytes, sq| {
            sq.push(
                Send::new(&out, bytes)
                    .user_data(30)
                    .flags(SqeFlags::IO_DRAIN),
            )
        })
        .unwrap();
        s.submit().unwrap();
        assert_eq!(s.in_flight(), 2);
        // Lent to this ring's send, the other ring's buffer is missing
        // there, and only there.
        assert_eq!(pool_b.available().unwrap(), 1);
        assert_eq!(pool_c.available().unwrap(), 1);
        assert_eq!(pool_a.available().unwrap(), 2);
        assert_whole(&mut other, &pool_b, 1, "the other ring, its buffer lent");
        assert!(
            uring_tests::read_exactly(&peer, filled)
                .iter()
                .all(|&b| b == 0xEE)
        );
        let got = reap(s, 2);
        assert_eq!((result_of(&got, 20), result_of(&got, 30)), (17, 10));
        assert_eq!(pool_b.available().unwrap(), 2);
        assert_eq!(pool_c.available().unwrap(), 2);
    });
    assert_eq!(
        uring_tests::read_exactly(&peer, 27),
        b"of the other ringof group c"
    );
    assert_whole(&mut other, &pool_b, 2, "the other ring");
    assert_whole(&mut ring, &pool_c, 2, "the other group");
    assert_whole(&mut ring, &pool_a, 2, "the untouched group");
}

/// A multishot receive keeps running while each buffer it filled is sent
/// back with `push_claimed`: every message is echoed once, in order, each
/// send completes once, and the ring is whole after the receive ends.
#[test]
fn multishot_receive_buffers_echoed_while_it_keeps_receiving() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(32).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 4, 32) else {
        return;
    };
    let (mut client, server) = UnixStream::pair().unwrap();
    let messages: Vec<Vec<u8>> = (0..24)
        .map(|i| format!("msg:{i:02}").into_bytes())
        .collect();
    let mut echoes = BTreeMap::new();
    let mut received = 0;
    ring.scope(|s| {
        s.push(
            Recv::new(&server, pool.select())
                .recv_flags(RecvFlags::MULTISHOT)
                .user_data(1),
        )
        .unwrap();
        s.submit().unwrap();
        for (i, msg) in messages.iter().enumerate() {
            client.write_all(msg).unwrap();
            // Until this message's receive: echoes of earlier ones may
            // come in between.
            loop {
                let mut cqe = next_scope_cqe(s);
                if cqe.user_data() >= 100 {
                    assert!(echoes.insert(cqe.user_data(), cqe.res()).is_none());
                    continue;
                }
                assert_eq!(cqe.user_data(), 1);
                assert!(cqe.has_more(), "the multishot receive ended: {cqe:?}");
                assert_eq!(cqe.res(), msg.len() as i32);
                received += 1;
                let buf = pool.claim(&mut cqe).unwrap();
                assert_kernel_bytes(&buf, msg, "a message");
                let ud = 100 + i as u64;
                s.push_claimed(buf, |bytes, sq| {
                    sq.push(Send::new(&server, bytes).user_data(ud))
                })
                .unwrap();
                s.submit().unwrap();
                break;
            }
        }
        assert_eq!(s.cancel(1).unwrap(), 1);
        let mut ended = false;
        while !ended || echoes.len() < messages.len() {
            let cqe = next_scope_cqe(s);
            if cqe.user_data() == 1 {
                assert!(!ended && !cqe.has_more(), "{cqe:?}");
                assert_eq!(cqe.res(), -libc::ECANCELED);
                ended = true;
            } else {
                assert!(echoes.insert(cqe.user_data(), cqe.res()).is_none());
            }
        }
        assert_eq!(s.in_flight(), 0);
        assert_no_more(s, "after the echoes");
    });
    assert_eq!(received, messages.len());
    for (i, msg) in messages.iter().enumerate() {
        assert_eq!(echoes[&(100 + i as u64)], msg.len() as i32);
    }
    let all: Vec<u8> = messages.concat();
    assert_eq!(uring_tests::read_exactly(&client, all.len()), all);
    assert!(nothing_more(&client));
    assert_whole(&mut ring, &pool, 4, "after the multishot echoes");
}

/// Ops that name other ops (a cancel, a timeout update and removal, a
/// poll rename and removal), pushed over claimed buffers, in a scope that
/// tags every op and in one that does not: each finds the op it names,
/// every completion comes once, and every buffer goes back. The rename of
/// a poll the scope tracks cannot ride on a buffer's slot and fails with
/// `EINVAL` (the poll keeps its `user_data`); that of an untagged poll of
/// a fast scope is the kernel's, and succeeds.
#[test]
fn ops_that_name_other_ops_pushed_over_claimed_buffers() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(5, 13, "poll and timeout updates") {
        return;
    }
    for tag_all in [false, true] {
        names_over_claimed_buffers(tag_all);
    }
}

/// The ops of [`ops_that_name_other_ops_pushed_over_claimed_buffers`], in
/// a scope that tags every op if `tag_all`.
fn names_over_claimed_buffers(tag_all: bool) {
    let mut ring = Ring::new(32).unwrap();
    if tag_all {
        // An op pushed outside a scope: every scope after tags every op.
        ring.push(Nop::new().user_data(1)).unwrap();
        ring.submit_and_wait(1).unwrap();
        assert_eq!(ring.completions().count(), 1);
    }
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 6, 32) else {
        return;
    };
    let (mut client, server) = UnixStream::pair().unwrap();
    let (idle_tx, idle_rx) = UnixStream::pair().unwrap();
    let (out, peer) = UnixStream::pair().unwrap();
    let mut idle_buf = [0u8; 16];
    // The poll's `user_data` after the rename.
    let poll = if tag_all { 30 } else { 31 };
    let got = ring.scope(|s| {
        assert_eq!(s.tags_every_op(), tag_all);
        s.push(Recv::new(&idle_rx, &mut idle_buf[..]).user_data(10))
            .unwrap();
        s.push(Timeout::new(Duration::from_secs(60)).user_data(20))
            .unwrap();
        s.push(Timeout::new(Duration::from_secs(60)).user_data(21))
            .unwrap();
        s.push(PollAdd::new(&idle_rx, PollEvents::IN).user_data(30))
            .unwrap();
        s.submit().unwrap();
        let mut bufs = Vec::new();
        for i in 0..5u8 {
            client.write_all(&[b'a' + i; 3]).unwrap();
            bufs.push(received!(s, &server, pool));
        }
        assert_eq!(pool.available().unwrap(), 1);
        let mut bufs = bufs.into_iter();
        s.push_claimed(bufs.next().unwrap(), |bytes, sq| {
            sq.push(
                Send::new(&out, bytes)
                    .user_data(40)
                    .link(Cancel::new(10).user_data(41)),
            )
        })
        .unwrap();
        s.push_claimed(bufs.next().unwrap(), |_, sq| {
            sq.push(TimeoutUpdate::new(20, Duration::from_millis(1)).user_data(42))
        })
        .unwrap();
        s.push_claimed(bufs.next().unwrap(), |_, sq| {
            sq.push(TimeoutRemove::new(21).user_data(43))
        })
        .unwrap();
        s.push_claimed(bufs.next().unwrap(), |_, sq| {
            sq.push(PollUpdate::new(30).new_user_data(31).user_data(44))
        })
        .unwrap();
        let mut got = reap(s, 8);
        let renamed = if tag_all { -libc::EINVAL } else { 0 };
        assert_eq!(result_of(&got, 44), renamed, "tag_all {tag_all}");
        // A removal by the name the poll has finds it.
        s.push_claimed(bufs.next().unwrap(), |_, sq| {
            sq.push(PollRemove::new(poll).user_data(45))
        })
        .unwrap();
        got.extend(reap(s, 2));
        assert_eq!(pool.available().unwrap(), 6, "every buffer back");
        assert_eq!(s.in_flight(), 0);
        assert_no_more(s, "after the named ops");
        got
    });
    drop(idle_tx);
    let uds = [10, 20, 21, poll, 40, 41, 42, 43, 44, 45];
    for ud in uds {
        assert_eq!(counts(&got).get(&ud), Some(&1), "{ud} once: {got:?}");
    }
    assert_eq!(got.len(), uds.len(), "{got:?}");
    assert_eq!(result_of(&got, 40), 3);
    assert_eq!(result_of(&got, 41), 0);
    assert_eq!(result_of(&got, 10), -libc::ECANCELED);
    assert_eq!(result_of(&got, 42), 0);
    assert_eq!(result_of(&got, 20), -libc::ETIME);
    assert_eq!(result_of(&got, 43), 0);
    assert_eq!(result_of(&got, 21), -libc::ECANCELED);
    assert_eq!(result_of(&got, 45), 0);
    assert_eq!(result_of(&got, poll), -libc::ECANCELED);
    assert_eq!(uring_tests::read_exactly(&peer, 3), b"aaa");
    assert!(nothing_more(&peer));
    assert_eq!(idle_buf, [0; 16], "the cancelled receive wrote nothing");
    assert_whole(&mut ring, &pool, 6, "after the named ops");
}

/// Reads the chain's completions one at a time; after each but the last
/// the ring's only buffer is still lent, after the last it is back.
fn one_by_one(s: &mut Scope<'_, '_>, pool: &BufRing, n: usize, what: &str) -> Vec<(u64, i32)> {
    let mut got = Vec::new();
    for i in 0..n {
        assert_eq!(pool.available().unwrap(), 0, "{what}: lent before {i}");
        assert_eq!(s.in_flight() as usize, n - i, "{what}");
        let cqe = next_scope_cqe(s);
        got.push((cqe.user_data(), cqe.res()));
    }
    assert_eq!(pool.available().unwrap(), 1, "{what}: back after the last");
    assert_eq!(s.in_flight(), 0);
    got.sort_unstable();
    got
}

/// Chains of every length over a claimed buffer, bounded by link timeouts
/// that fire or not: the buffer stays lent until the chain's last
/// completion, whichever op posts it, and comes back once.
#[test]
fn chains_of_every_length_keep_the_buffer_until_their_last_completion() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(16).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 1, 64) else {
        return;
    };
    let (mut client, server) = UnixStream::pair().unwrap();
    let (out, peer) = UnixStream::pair().unwrap();
    let (_idle_tx, idle_rx) = UnixStream::pair().unwrap();
    let (empty_rx, _empty_tx) = uring_tests::pipe();
    let long = Duration::from_secs(30);
    let short = Duration::from_millis(2);
    let mut sent = Vec::new();
    ring.scope(|s| {
        // One op and its link timeout.
        client.write_all(b"one").unwrap();
        let buf = received!(s, &server, pool);
        s.push_claimed(buf, |bytes, sq| {
            sq.push(Send::new(&out, bytes).user_data(1).timeout_with(long, 2))
        })
        .unwrap();
        s.submit().unwrap();
        let got = one_by_one(s, &pool, 2, "one op");
        assert_eq!(got, [(1, 3), (2, -libc::ECANCELED)]);
        sent.extend_from_slice(b"one");
        // Two ops, the timeout on the second.
        client.write_all(b"two!").unwrap();
        let buf = received!(s, &server, pool);
        s.push_claimed(buf, |bytes, sq| {
            sq.push(
                Send::new(&out, bytes)
                    .user_data(1)
                    .link(Nop::new().user_data(2))
                    .timeout_with(long, 3),
            )
        })
        .unwrap();
        s.submit().unwrap();
        let got = one_by_one(s, &pool, 3, "two ops");
        assert_eq!(got, [(1, 4), (2, 0), (3, -libc::ECANCELED)]);
        sent.extend_from_slice(b"two!");
        // Four ops, each with its own link timeout.
        client.write_all(b"four").unwrap();
        let buf = received!(s, &server, pool);
        s.push_claimed(buf, |bytes, sq| {
            let (a, b) = bytes.split_at_mut(2);
            sq.push(
                Send::new(&out, &a[..])
                    .user_data(1)
                    .timeout_with(long, 2)
                    .link(Nop::new().user_data(3))
                    .timeout_with(long, 4)
                    .link(Send::new(&out, &b[..]).user_data(5))
                    .timeout_with(long, 6)
                    .link(Nop::new().user_data(7)),
            )
        })
        .unwrap();
        s.submit().unwrap();
        let got = one_by_one(s, &pool, 7, "four ops");
        assert_eq!(
            got,
            [
                (1, 2),
                (2, -libc::ECANCELED),
                (3, 0),
                (4, -libc::ECANCELED),
                (5, 2),
                (6, -libc::ECANCELED),
                (7, 0)
            ]
        );
        sent.extend_from_slice(b"four");
        // A read into the buffer that the timeout cuts short: the ops
        // after it are cancelled, and the buffer waits for all of them.
        client.write_all(b"cut short").unwrap();
        let buf = received!(s, &server, pool);
        s.push_claimed(buf, |bytes, sq| {
            let (a, b) = bytes.split_at_mut(4);
            sq.push(
                Read::new(&empty_rx, a)
                    .user_data(1)
                    .timeout_with(short, 2)
                    .link(Send::new(&out, &b[..]).user_data(3))
                    .hard_link(Nop::new().user_data(4)),
            )
        })
        .unwrap();
        s.submit().unwrap();
        let got = one_by_one(s, &pool, 4, "a timeout that fires");
        assert_eq!(
            got,
            [
                (1, -libc::ECANCELED),
                (2, -libc::ETIME),
                (3, -libc::ECANCELED),
                (4, -libc::ECANCELED)
            ]
        );
        // A receive into the buffer cut short by its timeout, and a send
        // of the rest linked after it: cancelled with it.
        client.write_all(b"soft-linked").unwrap();
        let buf = received!(s, &server, pool);
        s.push_claimed(buf, |bytes, sq| {
            let (a, b) = bytes.split_at_mut(5);
            sq.push(
                Recv::new(&idle_rx, a)
                    .user_data(1)
                    .timeout_with(short, 2)
                    .link(Send::new(&out, &b[..]).user_data(3)),
            )
        })
        .unwrap();
        s.submit().unwrap();
        let got = one_by_one(s, &pool, 3, "a link after a timeout");
        assert_eq!(
            got,
            [
                (1, -libc::ECANCELED),
                (2, -libc::ETIME),
                (3, -libc::ECANCELED)
            ]
        );
        // An op that fails, hard-linked to a send of the buffer under a
        // link timeout: the send runs.
        if require_kernel(6, 10, "a NOP that fails") {
            client.write_all(b"after a failure").unwrap();
            let buf = received!(s, &server, pool);
            s.push_claimed(buf, |bytes, sq| {
                sq.push(
                    Nop::new()
                        .result(-libc::EIO)
                        .user_data(1)
                        .hard_link(Send::new(&out, bytes).user_data(2))
                        .timeout_with(long, 3),
                )
            })
            .unwrap();
            s.submit().unwrap();
            let got = one_by_one(s, &pool, 3, "a hard link after a failure");
            assert_eq!(got, [(1, -libc::EIO), (2, 15), (3, -libc::ECANCELED)]);
            sent.extend_from_slice(b"after a failure");
        }
        assert_no_more(s, "after the chains");
    });
    assert_eq!(uring_tests::read_exactly(&peer, sent.len()), sent);
    assert!(nothing_more(&peer));
    assert_whole(&mut ring, &pool, 1, "after the chains");
}

/// A zero-copy send of a claimed buffer: the buffer stays lent past the
/// send's first completion, until its notification (a receive that
/// selects from the ring meanwhile finds no buffer); one linked after a
/// failed op gives it back at its one completion, the notification the
/// kernel posts after that failure never handed out; one in flight as the
/// scope's closure returns gives it back at the scope's end.
#[test]
fn a_zero_copy_send_keeps_the_claimed_buffer_until_its_notification() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 10, "zero-copy sends after a NOP that fails") {
        return;
    }
    let mut ring = Ring::new(16).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 1, 2048) else {
        return;
    };
    let (mut feed, src) = UnixStream::pair().unwrap();
    let (mut probe_tx, probe_rx) = UnixStream::pair().unwrap();
    let (client, mut peer) = tcp_pair();
    let data = uring_tests::pattern(1500, 7);
    ring.scope(|s| {
        feed.write_all(&data).unwrap();
        let buf = received!(s, &src, pool);
        assert_eq!(buf.len(), 1500);
        s.push_claimed(buf, |bytes, sq| {
            sq.push(SendZc::new(&client, bytes).user_data(2))
        })
        .unwrap();
        let sent = next_scope_cqe(s);
        assert_eq!((sent.user_data(), sent.res()), (2, 1500));
        assert!(sent.has_more() && !sent.is_notification(), "{sent:?}");
        drop(sent);
        // The kernel may still read the pages: the buffer is not back, and
        // a receive that selects from the ring finds none.
        assert_eq!(pool.available().unwrap(), 0);
        assert_eq!(s.in_flight(), 1);
        probe_tx.write_all(b"p").unwrap();
        s.push(Recv::new(&probe_rx, pool.select()).user_data(9))
            .unwrap();
        s.submit().unwrap();
        let mut got = vec![0; 1500];
        peer.read_exact(&mut got).unwrap();
        assert_eq!(got, data);
        let rest = [next_scope_cqe(s), next_scope_cqe(s)];
        let notif = rest
            .iter()
            .find(|c| c.user_data() == 2)
            .expect("the notification");
        assert!(notif.is_notification() && !notif.has_more(), "{notif:?}");
        let probe = rest.iter().find(|c| c.user_data() == 9).expect("the probe");
        assert_eq!(
            probe.res(),
            -libc::ENOBUFS,
            "the buffer was back before the notification"
        );
        drop(rest);
        assert_eq!(pool.available().unwrap(), 1, "back at the notification");
        s.push(Recv::new(&probe_rx, pool.select()).user_data(9))
            .unwrap();
        let mut probe = next_scope_cqe(s);
        assert_eq!(probe.res(), 1);
        assert_eq!(&pool.claim(&mut probe).unwrap()[..], b"p");
        drop(probe);
        // Linked after a NOP that fails: cancelled, it never ran.
        feed.write_all(&data[..100]).unwrap();
        let buf = received!(s, &src, pool);
        s.push_claimed(buf, |bytes, sq| {
            sq.push(
                Nop::new()
                    .result(-libc::EIO)
                    .user_data(5)
                    .link(SendZc::new(&client, bytes).user_data(6)),
            )
        })
        .unwrap();
        let first = next_scope_cqe(s);
        assert_eq!((first.user_data(), first.res()), (5, -libc::EIO));
        assert_eq!(pool.available().unwrap(), 0);
        drop(first);
        let cancelled = next_scope_cqe(s);
        assert_eq!(
            (cancelled.user_data(), cancelled.res()),
            (6, -libc::ECANCELED)
        );
        assert!(!cancelled.has_more(), "{cancelled:?}");
        drop(cancelled);
        assert_eq!(pool.available().unwrap(), 1, "back at the failure");
        assert_no_more(s, "after the failed send");
        // One more, in flight as the closure returns: the scope waits for
        // its notification, and gives the buffer back then.
        feed.write_all(&data[..700]).unwrap();
        let buf = received!(s, &src, pool);
        s.push_claimed(buf, |bytes, sq| {
            sq.push(SendZc::new(&client, bytes).user_data(7))
        })
        .unwrap();
        s.submit().unwrap();
    });
    let mut got = vec![0; 700];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(
        got,
        data[..700],
        "the last send, and nothing of the cancelled one"
    );
    peer.set_nonblocking(true).unwrap();
    let mut more = [0u8; 16];
    assert!(
        matches!(peer.read(&mut more), Err(ref e) if e.kind() == ErrorKind::WouldBlock),
        "the cancelled send sent nothing"
    );
    drop(client);
    assert_whole(&mut ring, &pool, 1, "after the zero-copy sends");
}

/// A send over a claimed buffer cancelled while it waits (by the scope's
/// `cancel` and by `cancel_sync`) gives the buffer back once, at its one
/// completion, having sent nothing.
#[test]
fn a_cancelled_op_gives_the_buffer_back_once() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(16).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 2, 64) else {
        return;
    };
    let (mut client, server) = UnixStream::pair().unwrap();
    let (out, peer) = UnixStream::pair().unwrap();
    let filled = uring_tests::fill_unix_send_side(&out);
    ring.scope(|s| {
        client.write_all(b"first").unwrap();
        let a = received!(s, &server, pool);
        client.write_all(b"second").unwrap();
        let b = received!(s, &server, pool);
        s.push_claimed(a, |bytes, sq| sq.push(Send::new(&out, bytes).user_data(2)))
            .unwrap();
        s.push_claimed(b, |bytes, sq| sq.push(Send::new(&out, bytes).user_data(3)))
            .unwrap();
        s.submit().unwrap();
        assert_eq!((s.in_flight(), pool.available().unwrap()), (2, 0));
        assert_eq!(s.cancel(2).unwrap(), 1);
        let cqe = next_scope_cqe(s);
        assert_eq!((cqe.user_data(), cqe.res()), (2, -libc::ECANCELED));
        drop(cqe);
        assert_eq!(pool.available().unwrap(), 1);
        s.cancel_sync(SyncCancel::user_data(3), Some(PATIENCE))
            .unwrap();
        let cqe = next_scope_cqe(s);
        assert_eq!((cqe.user_data(), cqe.res()), (3, -libc::ECANCELED));
        drop(cqe);
        assert_eq!(pool.available().unwrap(), 2);
        assert_no_more(s, "after the cancels");
    });
    assert!(
        uring_tests::read_exactly(&peer, filled)
            .iter()
            .all(|&b| b == 0xEE)
    );
    assert!(nothing_more(&peer), "a cancelled send sent something");
    assert_whole(&mut ring, &pool, 2, "after the cancels");
}

/// Pushes the scope refuses (the scope full, a zero-copy send on a ring
/// that took a drain) hand the `Buf` back whole; a `PushError` forgotten
/// leaks its buffer (the ring has one fewer) and gives nothing back twice.
#[test]
fn refused_pushes_hand_the_buf_back_and_a_forgotten_error_keeps_it() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 2, 64) else {
        return;
    };
    let (mut client, server) = UnixStream::pair().unwrap();
    let (_idle_tx, idle_rx) = UnixStream::pair().unwrap();
    let (client_tcp, _peer_tcp) = tcp_pair();
    let capacity = ring.params().cq_entries();
    ring.scope(|s| {
        client.write_all(b"refused").unwrap();
        let buf = received!(s, &server, pool);
        let bid = buf.bid();
        // As many polls in flight as the scope tracks.
        let mut pushed = 0;
        while pushed < capacity {
            while s.space_left() > 0 && pushed < capacity {
                s.push(PollAdd::new(&idle_rx, PollEvents::IN).user_data(100))
                    .unwrap();
                pushed += 1;
            }
            s.submit().unwrap();
        }
        assert_eq!(s.in_flight(), capacity);
        let e = s
            .push_claimed(buf, |bytes, sq| {
                sq.push(Send::new(&server, bytes).user_data(2))
            })
            .unwrap_err();
        assert_eq!(e.kind(), PushErrorKind::ScopeFull);
        let buf = e.into_inner();
        assert_eq!((buf.bid(), &buf[..]), (bid, &b"refused"[..]));
        assert_eq!(pool.lent(), 1);
        // Forgotten, the buffer stays lent for good.
        let e = s
            .push_claimed(buf, |bytes, sq| {
                sq.push(Send::new(&server, bytes).user_data(2))
            })
            .unwrap_err();
        std::mem::forget(e);
        assert!(s.cancel(100).unwrap() > 0);
        s.submit().unwrap();
        let mut ended = 0;
        while ended < capacity {
            let cqe = next_scope_cqe(s);
            assert_eq!((cqe.user_data(), cqe.res()), (100, -libc::ECANCELED));
            ended += 1;
        }
        // A drain, then a zero-copy send: refused, handed back.
        s.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(3))
            .unwrap();
        assert_eq!(next_scope_cqe(s).user_data(), 3);
        client.write_all(b"after a drain").unwrap();
        let buf = received!(s, &server, pool);
        let e = s
            .push_claimed(buf, |bytes, sq| {
                sq.push(SendZc::new(&client_tcp, bytes).user_data(4))
            })
            .unwrap_err();
        assert_eq!(e.kind(), PushErrorKind::AfterDrain);
        let buf = e.into_inner();
        assert_eq!(&buf[..], b"after a drain");
        // Given again, with an op the ring takes.
        s.push_claimed(buf, |bytes, sq| {
            sq.push(Send::new(&server, bytes).user_data(5))
        })
        .unwrap();
        let cqe = next_scope_cqe(s);
        assert_eq!((cqe.user_data(), cqe.res()), (5, 13));
        assert_no_more(s, "after the refusals");
    });
    assert_eq!(uring_tests::read_exactly(&client, 13), b"after a drain");
    assert_eq!(pool.lent(), 1, "the forgotten buffer");
    // A buffer claimed in one scope, given to the next one, which a
    // `RingTarget` alive keeps from taking any op.
    client.write_all(b"targeted").unwrap();
    let buf = ring.scope(|s| received!(s, &server, pool));
    let target = ring.msg_target().unwrap();
    ring.scope(|s| {
        let e = s
            .push_claimed(buf, |bytes, sq| {
                sq.push(Send::new(&server, bytes).user_data(6))
            })
            .unwrap_err();
        assert_eq!(e.kind(), PushErrorKind::Targeted);
        assert_eq!(&e.into_inner()[..], b"targeted");
        assert_eq!(s.in_flight(), 0);
    });
    drop(target);
    assert!(nothing_more(&client));
    assert_eq!(pool.lent(), 1, "the forgotten buffer alone");
    assert_whole(&mut ring, &pool, 1, "after a forgotten PushError");
}

/// Panics inside the build closure, caught inside the scope: after a push,
/// the op stays the scope's and gives its buffer back at its completion;
/// before one, the buffer stays lent until the scope ends, then comes
/// back. Neither comes back twice.
#[test]
fn panics_in_build_caught_inside_the_scope() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 1, 64) else {
        return;
    };
    let (mut client, server) = UnixStream::pair().unwrap();
    let (out, peer) = UnixStream::pair().unwrap();
    ring.scope(|s| {
        client.write_all(b"pushed, then a panic").unwrap();
        let buf = received!(s, &server, pool);
        let r = catch_unwind(AssertUnwindSafe(|| {
            let _ = s.push_claimed(buf, |bytes, sq| {
                sq.push(Send::new(&out, bytes).user_data(2));
                panic!("build panics after pushing");
            });
        }));
        assert!(r.is_err());
        assert_eq!((s.in_flight(), pool.available().unwrap()), (1, 0));
        let cqe = next_scope_cqe(s);
        assert_eq!((cqe.user_data(), cqe.res()), (2, 20));
        drop(cqe);
        assert_eq!(pool.available().unwrap(), 1, "back at the completion");
        client.write_all(b"then a panic first").unwrap();
        let buf = received!(s, &server, pool);
        let r = catch_unwind(AssertUnwindSafe(|| {
            let _ = s.push_claimed(buf, |_, _| panic!("build panics before pushing"));
        }));
        assert!(r.is_err());
        // Kept by the scope, with no op: lent until the scope ends.
        assert_eq!((s.in_flight(), pool.available().unwrap()), (0, 0));
        assert_no_more(s, "after the panics");
    });
    assert_eq!(
        uring_tests::read_exactly(&peer, 20),
        b"pushed, then a panic"
    );
    assert!(nothing_more(&peer));
    assert_whole(&mut ring, &pool, 1, "after the panics");
}

/// The scope's closure returns with a chain over a claimed buffer still
/// waiting: the scope cancels it, waits for both completions, and gives
/// the buffer back once; nothing was sent.
#[test]
fn the_scope_s_end_with_a_claimed_chain_in_flight() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 2, 64) else {
        return;
    };
    let (mut client, server) = UnixStream::pair().unwrap();
    let (out, peer) = UnixStream::pair().unwrap();
    let filled = uring_tests::fill_unix_send_side(&out);
    ring.scope(|s| {
        client.write_all(b"never sent").unwrap();
        let buf = received!(s, &server, pool);
        s.push_claimed(buf, |bytes, sq| {
            let (a, b) = bytes.split_at_mut(5);
            sq.push(
                Send::new(&out, &a[..])
                    .user_data(2)
                    .link(Send::new(&out, &b[..]).user_data(3)),
            )
        })
        .unwrap();
        s.submit().unwrap();
        assert_eq!(s.in_flight(), 2);
    });
    assert!(
        uring_tests::read_exactly(&peer, filled)
            .iter()
            .all(|&b| b == 0xEE)
    );
    assert!(nothing_more(&peer), "the cancelled chain sent something");
    assert_eq!(pool.lent(), 0);
    assert_whole(&mut ring, &pool, 2, "after the scope's end");
}

/// An echo through a claimed buffer and a pipe's ends through an owned
/// one, on `ring`: the same bookkeeping whoever submits (an SQ thread) or
/// runs the completions (deferred task work).
fn echo_and_pipe(ring: &mut Ring, what: &str) {
    let Some(pool) = plain_buf_ring(ring, GROUP, 2, 64) else {
        return;
    };
    let (mut client, server) = UnixStream::pair().unwrap();
    let pipes = require_kernel(6, 16, "IORING_OP_PIPE");
    ring.scope(|s| {
        for round in 0..8u8 {
            let msg = [b'0' + round; 6];
            client.write_all(&msg).unwrap();
            let buf = received!(s, &server, pool);
            s.push_claimed(buf, |bytes, sq| {
                sq.push(Send::new(&server, bytes).user_data(2))
            })
            .unwrap();
            assert_eq!(pool.available().unwrap(), 1, "{what}");
            let cqe = next_scope_cqe(s);
            assert_eq!((cqe.user_data(), cqe.res()), (2, 6), "{what}");
            drop(cqe);
            assert_eq!(pool.available().unwrap(), 2, "{what}");
            assert_eq!(uring_tests::read_exactly(&client, 6), msg);
            if pipes {
                s.push_owned(vec![0; 8], |buf, sq| {
                    sq.push(Pipe::new(buf.first_chunk_mut().unwrap()).user_data(3))
                })
                .unwrap();
                let mut cqe = next_scope_cqe(s);
                assert_eq!((cqe.user_data(), cqe.res()), (3, 0), "{what}");
                let (rx, tx) = cqe.take_pipe().expect("the ends");
                assert_one_pipe(rx, tx, what);
            }
        }
    });
    assert_whole(ring, &pool, 2, what);
}

/// [`echo_and_pipe`] on a plain ring, an SQPOLL ring and a ring with
/// deferred task work.
#[test]
fn claimed_buffers_and_pipes_on_sqpoll_and_deferred_rings() {
    let _watch = uring_tests::watchdog();
    echo_and_pipe(&mut Ring::new(8).unwrap(), "a plain ring");
    match uring_tests::sqpoll_ring(8) {
        Some(mut ring) => {
            assert!(
                ring.params()
                    .setup_flags()
                    .contains(uring::SetupFlags::SQPOLL)
            );
            echo_and_pipe(&mut ring, "an SQPOLL ring");
        }
        None => uring_tests::skip("no SQPOLL ring here"),
    }
    if let Some(mut ring) = uring_tests::defer_ring(8) {
        echo_and_pipe(&mut ring, "a defer_taskrun ring");
    }
}

/// Two buffers lent on the scope's thread; the scope moves to another
/// thread, which reads the completion of one: that one stays lent for
/// good, the other, read back on the scope's thread, goes back. The ring
/// then holds exactly one buffer fewer, none twice.
#[test]
fn a_scope_moved_to_another_thread_gives_back_only_on_its_own() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 3, 64) else {
        return;
    };
    let (mut client, server) = UnixStream::pair().unwrap();
    ring.scope(|s| {
        client.write_all(b"aaaa").unwrap();
        let a = received!(s, &server, pool);
        client.write_all(b"bbbb").unwrap();
        let b = received!(s, &server, pool);
        s.push_claimed(a, |bytes, sq| {
            sq.push(Send::new(&server, bytes).user_data(2))
        })
        .unwrap();
        s.push_claimed(b, |bytes, sq| {
            sq.push(Send::new(&server, bytes).user_data(3))
        })
        .unwrap();
        s.submit().unwrap();
        s.wait_timeout(2, PATIENCE).unwrap();
        let there = std::thread::scope(|t| {
            t.spawn(|| {
                let cqe = s.completions().next().unwrap();
                (cqe.user_data(), cqe.res())
            })
            .join()
            .unwrap()
        });
        assert_eq!(there.1, 4);
        assert_eq!(pool.available().unwrap(), 1, "not given back there");
        let here = next_scope_cqe(s);
        assert_eq!((here.user_data() + there.0, here.res()), (5, 4));
        drop(here);
        assert_eq!(pool.available().unwrap(), 2, "given back here");
        assert_eq!(pool.lent(), 1, "the one read there");
    });
    assert_eq!(uring_tests::read_exactly(&client, 8), b"aaaabbbb");
    assert_whole(&mut ring, &pool, 2, "one buffer lent for good");
}

thread_local! {
    /// A per-thread address, laid out as the library's own thread mark.
    static MARK: u8 = const { 0 };
}

/// This thread's [`MARK`] address.
fn thread_mark() -> usize {
    MARK.with(|m| std::ptr::from_ref(m) as usize)
}

/// A buffer claimed and lent on a thread that then ends (the buffer ring
/// lent to it by a `&mut`), its completion read on a thread started after:
/// the buffer goes back from there only if that thread takes the first
/// one's place (its thread-local storage at the same address; the first
/// one, gone, holds no borrow of the ring any more), and in no case twice.
#[test]
fn a_buffer_lent_on_a_thread_that_ended() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(mut pool) = plain_buf_ring(&mut ring, GROUP, 2, 64) else {
        return;
    };
    let (mut client, server) = UnixStream::pair().unwrap();
    client.write_all(b"lent on a thread").unwrap();
    let (first, second) = ring.scope(|s| {
        let pool = &mut pool;
        let server = &server;
        let first = std::thread::scope(|t| {
            let s = &mut *s;
            t.spawn(move || {
                let pool: &BufRing = pool;
                let buf = received!(s, server, pool);
                s.push_claimed(buf, |bytes, sq| {
                    sq.push(Send::new(server, bytes).user_data(2))
                })
                .unwrap();
                s.submit().unwrap();
                thread_mark()
            })
            .join()
            .unwrap()
        });
        let second = std::thread::scope(|t| {
            t.spawn(|| {
                let cqe = next_scope_cqe(s);
                assert_eq!((cqe.user_data(), cqe.res()), (2, 16));
                thread_mark()
            })
            .join()
            .unwrap()
        });
        (first, second)
    });
    assert_eq!(uring_tests::read_exactly(&client, 16), b"lent on a thread");
    let expected = if first == second { 2 } else { 1 };
    assert_eq!(pool.lent(), 2 - expected);
    assert_whole(&mut ring, &pool, expected, "after the threads");
}

/// A chain over a claimed buffer longer than the SQ is refused, the `Buf`
/// handed back; one pushed through a batch that is then forgotten is the
/// scope's all the same, and gives its buffer back once.
#[test]
fn a_chain_longer_than_the_sq_and_a_forgotten_batch() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 1, 64) else {
        return;
    };
    let (mut client, server) = UnixStream::pair().unwrap();
    ring.scope(|s| {
        client.write_all(b"longer").unwrap();
        let buf = received!(s, &server, pool);
        let e = s
            .push_claimed(buf, |bytes, sq| {
                sq.push(
                    Send::new(&server, bytes)
                        .user_data(1)
                        .link(Nop::new().user_data(2))
                        .link(Nop::new().user_data(3))
                        .link(Nop::new().user_data(4))
                        .link(Nop::new().user_data(5)),
                )
            })
            .unwrap_err();
        assert_eq!(e.kind(), PushErrorKind::QueueFull);
        let buf = e.into_inner();
        assert_eq!(&buf[..], b"longer");
        assert_eq!((s.in_flight(), pool.available().unwrap()), (0, 0));
        let mut batch = s.submission();
        batch
            .push_claimed(buf, |bytes, sq| {
                sq.push(
                    Send::new(&server, bytes)
                        .user_data(1)
                        .link(Nop::new().user_data(2)),
                )
            })
            .unwrap();
        std::mem::forget(batch);
        assert_eq!(s.in_flight(), 2);
        let got = one_by_one(s, &pool, 2, "a forgotten batch");
        assert_eq!(got, [(1, 6), (2, 0)]);
        assert_no_more(s, "after the forgotten batch");
    });
    assert_eq!(uring_tests::read_exactly(&client, 6), b"longer");
    assert_whole(&mut ring, &pool, 1, "after the forgotten batch");
}

/// Echoes through claimed buffers and pipes through owned ones, each in a
/// chain of two, on a ring of four SQEs (the chains wrap round the SQ) of
/// entries of size `S` and `C`.
fn big_entries<S: SqeSize, C: UniformCqe>(mut ring: Ring<S, C>, what: &str) {
    let pool = ring
        .register_buf_ring(BufferGroup::new(GROUP), 2, 64)
        .unwrap();
    let (mut client, server) = UnixStream::pair().unwrap();
    let pipes = require_kernel(6, 16, "IORING_OP_PIPE");
    let mut echoed = Vec::new();
    ring.scope(|s| {
        for round in 0..7u8 {
            client.write_all(&[round; 5]).unwrap();
            s.push(Recv::new(&server, pool.select()).user_data(1))
                .unwrap();
            let mut cqe = next_of(s);
            assert_eq!(pair(&cqe), (1, 5), "{what}");
            let buf = pool.claim(&mut cqe).unwrap();
            drop(cqe);
            s.push_claimed(buf, |bytes, sq| {
                sq.push(
                    Nop::new()
                        .user_data(2)
                        .link(Send::new(&server, bytes).user_data(3)),
                )
            })
            .unwrap();
            let first = pair(&next_of(s));
            assert_eq!(pool.available().unwrap(), 1, "{what}: still lent");
            let second = pair(&next_of(s));
            assert_eq!(pool.available().unwrap(), 2, "{what}: back");
            let mut got = [first, second];
            got.sort_unstable();
            assert_eq!(got, [(2, 0), (3, 5)], "{what}");
            echoed.extend_from_slice(&[round; 5]);
            if !pipes {
                continue;
            }
            s.push_owned(vec![0; 8], |buf, sq| {
                sq.push(
                    Nop::new()
                        .user_data(4)
                        .link(Pipe::new(buf.first_chunk_mut().unwrap()).user_data(5)),
                )
            })
            .unwrap();
            let mut ends = Vec::new();
            for _ in 0..2 {
                let mut cqe = next_of(s);
                let (ud, res) = pair(&cqe);
                assert_eq!(res, 0, "{what}: {ud}");
                ends.extend(cqe.take_pipe());
                assert!(
                    cqe.take_buf().is_none(),
                    "{what}: the buffer went with the ends"
                );
            }
            assert_eq!(ends.len(), 1, "{what}: the pipe, last, brings its ends");
            let (rx, tx) = ends.pop().unwrap();
            assert_one_pipe(rx, tx, what);
        }
    });
    assert_eq!(uring_tests::read_exactly(&client, echoed.len()), echoed);
    assert_whole(&mut ring, &pool, 2, what);
}

/// [`big_entries`] on rings of every SQE and uniform CQE size.
#[test]
fn claimed_buffers_and_pipes_on_rings_of_big_entries() {
    let _watch = uring_tests::watchdog();
    big_entries(
        Builder::new().build_sized::<Sqe64, Cqe16>(4).unwrap(),
        "64/16",
    );
    big_entries(
        Builder::new().build_sized::<Sqe128, Cqe16>(4).unwrap(),
        "128/16",
    );
    big_entries(
        Builder::new().build_sized::<Sqe64, Cqe32>(4).unwrap(),
        "64/32",
    );
    big_entries(
        Builder::new().build_sized::<Sqe128, Cqe32>(4).unwrap(),
        "128/32",
    );
}

/// `hard_link` promises that the op after the chain "starts when the last
/// element completes, whatever its result". After `.timeout_with(..)`, the
/// chain's last op is the one the timeout bounds: the kernel runs or
/// cancels the rest of the chain by that op's flag, so the hard link must
/// be on its SQE (a hard link on the timeout's alone had the send cancelled
/// when the timeout cut the receive short).
#[test]
fn a_hard_link_after_a_link_timeout_runs_its_op() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (_idle_tx, idle_rx) = UnixStream::pair().unwrap();
    let (out, peer) = UnixStream::pair().unwrap();
    let mut buf = [0u8; 4];
    let got = ring.scope(|s| {
        s.push(
            Recv::new(&idle_rx, &mut buf[..])
                .user_data(1)
                .timeout_with(Duration::from_millis(2), 2)
                .hard_link(Send::new(&out, b"ran").user_data(3)),
        )
        .unwrap();
        reap(s, 3)
    });
    assert_eq!(result_of(&got, 1), -libc::ECANCELED);
    assert_eq!(result_of(&got, 2), -libc::ETIME);
    assert_eq!(
        result_of(&got, 3),
        3,
        "the hard-linked send did not run after the timed-out receive"
    );
    assert_eq!(uring_tests::read_exactly(&peer, 3), b"ran");
}

// ---------------------------------------------------------------------
// take_pipe
// ---------------------------------------------------------------------

const FORGED: &str = "forged_numbers_under_a_pipe_that_did_not_run_give_none";

/// An owned buffer holding the numbers of the program's own pipe, under
/// a `Pipe` that never ran: linked after a NOP that fails, after a read
/// its link timeout cuts short, refused by the scope for a drain after a
/// zero-copy send of its chain, refused for a full SQ. None of them gives
/// `take_pipe` (or `take_fd`) anything; each buffer comes back with the
/// numbers as they were, the program's pipe still works, and no
/// descriptor was made or closed.
#[test]
fn forged_numbers_under_a_pipe_that_did_not_run_give_none() {
    if !have_pipe() {
        return;
    }
    in_own_process(FORGED, "forged pipe numbers", || {
        let (keep_rx, keep_tx) = std::io::pipe().unwrap();
        let mine = forged(keep_rx.as_raw_fd(), keep_tx.as_raw_fd());
        let (empty_rx, _empty_tx) = uring_tests::pipe();
        let (client_tcp, mut peer_tcp) = tcp_pair();
        let mut ring = Ring::new(4).unwrap();
        let before = uring_tests::open_fd_set();
        let mut every = Vec::new();
        ring.scope(|s| {
            // After a NOP that fails.
            s.push_owned(mine.clone(), |buf, sq| {
                sq.push(
                    Nop::new()
                        .result(-libc::EIO)
                        .user_data(1)
                        .link(Pipe::new(buf.first_chunk_mut().unwrap()).user_data(2)),
                )
            })
            .unwrap();
            every.extend(settle_pipes(s, 2));
            // After a read whose link timeout fires.
            let mut padded = mine.clone();
            padded.extend_from_slice(&[0; 8]);
            s.push_owned(padded, |buf, sq| {
                let (fds, rest) = buf.split_at_mut(8);
                sq.push(
                    Read::new(&empty_rx, rest)
                        .user_data(3)
                        .timeout_with(Duration::from_millis(2), 4)
                        .link(Pipe::new(fds.first_chunk_mut().unwrap()).user_data(5)),
                )
            })
            .unwrap();
            every.extend(settle_pipes(s, 3));
            // A full SQ: nothing pushed.
            while s.space_left() > 0 {
                s.push(Nop::new().user_data(6)).unwrap();
            }
            let e = s
                .push_owned(mine.clone(), |buf, sq| {
                    sq.push(Pipe::new(buf.first_chunk_mut().unwrap()).user_data(7))
                })
                .unwrap_err();
            assert_eq!(e.kind(), PushErrorKind::QueueFull);
            assert_eq!(e.into_inner(), mine);
            let nops = reap(s, 4);
            assert!(nops.iter().all(|&(ud, res, _)| (ud, res) == (6, 0)));
        });
        // A drain after a zero-copy send of the chain: the pipe is refused.
        ring.scope(|s| {
            let mut padded = mine.clone();
            padded.extend_from_slice(b"zero-copy");
            s.push_owned(padded, |buf, sq| {
                let (fds, rest) = buf.split_at_mut(8);
                sq.push(
                    SendZc::new(&client_tcp, &rest[..]).user_data(8).link(
                        Pipe::new(fds.first_chunk_mut().unwrap())
                            .flags(SqeFlags::IO_DRAIN)
                            .user_data(9),
                    ),
                )
            })
            .unwrap();
            // The send, its notification, the refused pipe.
            every.extend(settle_pipes(s, 3));
        });
        let mut sent = [0u8; 9];
        peer_tcp.read_exact(&mut sent).unwrap();
        assert_eq!(&sent, b"zero-copy");
        for (ud, res, numbers) in &every {
            match ud {
                1 => assert_eq!(*res, -libc::EIO),
                2 | 3 | 5 => assert_eq!(*res, -libc::ECANCELED, "{ud}"),
                4 => assert_eq!(*res, -libc::ETIME),
                8 => assert!(*res == 9 || *res == 0, "the send and its notification"),
                9 => assert_eq!(*res, -libc::EINVAL, "the drain refused"),
                _ => panic!("{ud}"),
            }
            if let Some(bytes) = numbers {
                assert_eq!(&bytes[..8], &mine[..], "{ud}: the numbers as they were");
            }
        }
        let buffers = every.iter().filter(|e| e.2.is_some()).count();
        assert_eq!((every.len(), buffers), (8, 3), "{every:?}");
        assert_eq!(
            uring_tests::open_fd_set(),
            before,
            "no descriptor made or closed"
        );
        let (mut keep_rx, mut keep_tx) = (keep_rx, keep_tx);
        keep_tx.write_all(b"still mine").unwrap();
        let mut back = [0u8; 10];
        keep_rx.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"still mine");
    });
}

/// Reads `n` of the scope's completions: none may give `take_fd` or
/// `take_pipe` anything; `(user_data, res, the buffer one brought back)`.
fn settle_pipes(s: &mut Scope<'_, '_>, n: usize) -> Vec<(u64, i32, Option<Vec<u8>>)> {
    let mut got = Vec::new();
    while got.len() < n {
        let mut cqe = next_scope_cqe(s);
        assert!(cqe.take_fd().is_none(), "{cqe:?}");
        assert!(cqe.take_pipe().is_none(), "{cqe:?}");
        got.push((cqe.user_data(), cqe.res(), cqe.take_buf()));
    }
    got
}

/// A `Pipe` pushed with every flag a program can give it (skipping its
/// success, async, drained, non-blocking and packet ends): one completion
/// each, whose ends `take_pipe` hands over once, `take_fd` never, with the
/// flags asked for.
#[test]
fn a_pipe_s_ends_are_handed_over_whatever_its_flags() {
    let _watch = uring_tests::watchdog();
    if !have_pipe() {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let cases: [(SqeFlags, i32, &str); 5] = [
        (
            SqeFlags::CQE_SKIP_SUCCESS,
            libc::O_CLOEXEC,
            "success skipped",
        ),
        (SqeFlags::ASYNC, libc::O_CLOEXEC, "async"),
        (SqeFlags::IO_DRAIN, libc::O_CLOEXEC, "drained"),
        (SqeFlags::EMPTY, libc::O_NONBLOCK, "non-blocking"),
        (SqeFlags::EMPTY, libc::O_DIRECT | libc::O_CLOEXEC, "packets"),
    ];
    ring.scope(|s| {
        for (i, (flags, pipe_flags, what)) in cases.into_iter().enumerate() {
            s.push_owned(vec![0xA5; 8], |buf, sq| {
                sq.push(
                    Pipe::new(buf.first_chunk_mut().unwrap())
                        .pipe_flags(pipe_flags)
                        .flags(flags)
                        .user_data(i as u64),
                )
            })
            .unwrap();
            let mut cqe = next_scope_cqe(s);
            assert_eq!((cqe.user_data(), cqe.res()), (i as u64, 0), "{what}");
            assert!(cqe.take_fd().is_none(), "{what}: not a descriptor");
            let (rx, tx) = cqe.take_pipe().expect(what);
            assert!(cqe.take_pipe().is_none() && cqe.take_buf().is_none());
            for end in [&rx, &tx] {
                let status = status_flags(end);
                let nonblocking = pipe_flags & libc::O_NONBLOCK;
                assert_eq!(status & libc::O_NONBLOCK, nonblocking, "{what}");
            }
            if pipe_flags & libc::O_DIRECT != 0 {
                // Packets: each write is read on its own.
                let (mut rx, mut tx) = (File::from(rx), File::from(tx));
                tx.write_all(b"ab").unwrap();
                tx.write_all(b"cd").unwrap();
                let mut got = [0u8; 16];
                assert_eq!(rx.read(&mut got).unwrap(), 2, "{what}");
                assert_eq!(&got[..2], b"ab");
            } else {
                assert_one_pipe(rx, tx, what);
            }
            assert_no_more(s, what);
        }
    });
}

/// Where in the owned buffer the eight bytes lie: its first eight, of a
/// buffer of 8, 9 or 4096 bytes, or of a slice of it that starts there,
/// give the ends; any eight past its start give `None`, the numbers
/// staying in the buffer, the program's to take.
#[test]
fn only_the_owned_buffer_s_first_eight_bytes_give_the_ends() {
    let _watch = uring_tests::watchdog();
    if !have_pipe() {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    ring.scope(|s| {
        for len in [8, 9, 4096] {
            s.push_owned(vec![0; len], |buf, sq| {
                sq.push(Pipe::new(buf.first_chunk_mut().unwrap()).user_data(1))
            })
            .unwrap();
            let mut cqe = next_scope_cqe(s);
            assert_eq!(cqe.res(), 0);
            let (rx, tx) = cqe.take_pipe().expect("the first eight bytes");
            assert_one_pipe(rx, tx, "the whole buffer's start");
        }
        // A slice that starts at the buffer's start.
        s.push_owned(vec![0; 16], |buf, sq| {
            let (head, _) = buf.split_at_mut(8);
            let fds: &mut [u8; 8] = head.try_into().unwrap();
            sq.push(Pipe::new(fds).user_data(2))
        })
        .unwrap();
        let mut cqe = next_scope_cqe(s);
        let (rx, tx) = cqe.take_pipe().expect("a slice from the start");
        assert_one_pipe(rx, tx, "a slice from the start");
        for at in [4, 8] {
            s.push_owned(vec![0xFF; 16], |buf, sq| {
                let fds: &mut [u8; 8] = (&mut buf[at..at + 8]).try_into().unwrap();
                sq.push(Pipe::new(fds).user_data(3))
            })
            .unwrap();
            let mut cqe = next_scope_cqe(s);
            assert_eq!(cqe.res(), 0);
            assert!(cqe.take_pipe().is_none(), "eight bytes at {at}");
            assert!(cqe.take_fd().is_none());
            let buf = cqe.take_buf().expect("the buffer");
            let (rx, tx) = adopt(numbers(&buf[at..]));
            assert_one_pipe(rx, tx, "eight bytes past the start");
        }
    });
}

const CLAIMED_PIPE: &str = "a_pipe_over_a_claimed_buffer_gives_none";

/// A `Pipe` over the first eight bytes of a claimed buffer-ring buffer
/// (`push_claimed`): not an owned vector, so `take_pipe` gives `None`; the
/// ends are made all the same and stay open, owned by no one (the
/// program finds them), and the buffer goes back to its ring.
#[test]
fn a_pipe_over_a_claimed_buffer_gives_none() {
    if !have_pipe() {
        return;
    }
    in_own_process(CLAIMED_PIPE, "a pipe over a claimed buffer", || {
        let mut ring = Ring::new(8).unwrap();
        let Some(pool) = plain_buf_ring(&mut ring, GROUP, 2, 64) else {
            return;
        };
        let (mut client, server) = UnixStream::pair().unwrap();
        let before = uring_tests::open_fd_set();
        ring.scope(|s| {
            client.write_all(b"eight bytes or more").unwrap();
            let buf = received!(s, &server, pool);
            s.push_claimed(buf, |bytes, sq| {
                sq.push(Pipe::new(bytes.first_chunk_mut().unwrap()).user_data(3))
            })
            .unwrap();
            let mut cqe = next_scope_cqe(s);
            assert_eq!((cqe.user_data(), cqe.res()), (3, 0));
            assert!(cqe.take_pipe().is_none(), "a claimed buffer");
            assert!(cqe.take_buf().is_none() && cqe.take_fd().is_none());
            drop(cqe);
            assert_eq!(pool.available().unwrap(), 2);
        });
        let new = opened_since(&before);
        assert_eq!(new.len(), 2, "the pipe's ends, open: {new:?}");
        let (rx, tx) = adopt((new[0], new[1]));
        assert_one_pipe(rx, tx, "found by the program");
        assert_eq!(uring_tests::open_fd_set(), before);
        assert_whole(&mut ring, &pool, 2, "after the pipe");
    });
}

const CHAINED: &str = "pipes_in_chains_are_owned_once";

/// Pipes in chains and under link timeouts: each pipe's ends go to
/// exactly one owner, `take_pipe` (when the pipe's own completion brings
/// the buffer back) or the program reading the buffer (when another
/// completion brings it), never both; once all are closed, the process
/// has the descriptors it had.
#[test]
fn pipes_in_chains_are_owned_once() {
    if !have_pipe() {
        return;
    }
    in_own_process(CHAINED, "pipes in chains", || {
        let mut ring = Ring::new(16).unwrap();
        let before = uring_tests::open_fd_set();
        let long = Duration::from_secs(30);
        let mut by_take = 0;
        let mut by_hand = 0;
        ring.scope(|s| {
            for round in 0..5 {
                s.push_owned(vec![0; 8], |buf, sq| {
                    let fds = buf.first_chunk_mut().unwrap();
                    match round {
                        0 => sq.push(Nop::new().user_data(1).link(Pipe::new(fds).user_data(2))),
                        1 => sq.push(Pipe::new(fds).user_data(2).link(Nop::new().user_data(1))),
                        2 => sq.push(Pipe::new(fds).user_data(2).timeout_with(long, 1)),
                        3 => sq.push(
                            Nop::new()
                                .user_data(1)
                                .link(Pipe::new(fds).user_data(2))
                                .timeout_with(long, 3),
                        ),
                        _ => sq.push(
                            Pipe::new(fds)
                                .user_data(2)
                                .hard_link(Nop::new().result(-libc::EIO).user_data(1)),
                        ),
                    }
                })
                .unwrap();
                let n = if round == 3 { 3 } else { 2 };
                let mut ends = Vec::new();
                let mut bufs = Vec::new();
                for _ in 0..n {
                    let mut cqe = next_scope_cqe(s);
                    if cqe.user_data() == 2 {
                        assert_eq!(cqe.res(), 0, "round {round}");
                    }
                    ends.extend(cqe.take_pipe());
                    bufs.extend(cqe.take_buf());
                }
                assert_eq!(ends.len() + bufs.len(), 1, "round {round}: one owner");
                for (rx, tx) in ends {
                    by_take += 1;
                    assert_one_pipe(rx, tx, "taken");
                }
                for buf in bufs {
                    by_hand += 1;
                    let (rx, tx) = adopt(numbers(&buf));
                    assert_one_pipe(rx, tx, "by hand");
                }
                assert_no_more(s, "after a chain");
            }
        });
        assert_eq!(by_take + by_hand, 5);
        assert!(by_take >= 1, "a pipe last in its chain gives its ends");
        assert_eq!(uring_tests::open_fd_set(), before, "every end closed once");
    });
}

const AT_THE_END: &str = "pipes_at_the_scope_s_end_are_closed_or_left_to_no_one";

/// Pipes the scope settles as it ends: one hard-linked after a receive it
/// cancels (it runs then, and its ends are closed with its unread
/// completion, or it is cancelled too), one soft-linked (cancelled, never
/// made), one last in a chain whose completions were never read (closed);
/// the one first in a chain read by no one stays open, owned by no one,
/// as documented. No descriptor of the program is closed.
#[test]
fn pipes_at_the_scope_s_end_are_closed_or_left_to_no_one() {
    if !have_pipe() {
        return;
    }
    in_own_process(AT_THE_END, "pipes at the scope's end", || {
        let (_idle_tx, idle_rx) = UnixStream::pair().unwrap();
        let (_idle_tx2, idle_rx2) = UnixStream::pair().unwrap();
        let mut ring = Ring::new(16).unwrap();
        let before = uring_tests::open_fd_set();
        ring.scope(|s| {
            for hard in [true, false] {
                let rx = if hard { &idle_rx } else { &idle_rx2 };
                s.push_owned(vec![0; 16], |buf, sq| {
                    let (fds, rest) = buf.split_at_mut(8);
                    let fds = fds.first_chunk_mut().unwrap();
                    if hard {
                        sq.push(Recv::new(rx, rest).user_data(1).hard_link(Pipe::new(fds)));
                    } else {
                        sq.push(Recv::new(rx, rest).user_data(1).link(Pipe::new(fds)));
                    }
                })
                .unwrap();
            }
            s.push_owned(vec![0; 8], |buf, sq| {
                sq.push(
                    Nop::new()
                        .user_data(2)
                        .link(Pipe::new(buf.first_chunk_mut().unwrap()).user_data(3)),
                )
            })
            .unwrap();
            s.push_owned(vec![0; 8], |buf, sq| {
                sq.push(
                    Pipe::new(buf.first_chunk_mut().unwrap())
                        .user_data(4)
                        .link(Nop::new().user_data(5)),
                )
            })
            .unwrap();
            s.submit().unwrap();
            s.wait_timeout(4, PATIENCE).unwrap();
            // The two receives and their pipes, and the four SQEs whose
            // completions were not read.
            assert_eq!(s.in_flight(), 8);
        });
        let new = opened_since(&before);
        assert_eq!(new.len(), 2, "only the pipe read by no one: {new:?}");
        let (rx, tx) = adopt((new[0], new[1]));
        assert_one_pipe(rx, tx, "left to no one");
        assert_eq!(uring_tests::open_fd_set(), before);
    });
}

/// Pipes pushed from inside a fold over a split scope's completions, next
/// to echoes of claimed buffers pushed from the same fold, so that owned
/// entries go to vectors and claimed buffers in turn: each pipe's ends
/// come out once, working, each echo once, and every buffer goes back.
#[test]
fn pipes_and_claimed_buffers_pushed_from_a_fold() {
    let _watch = uring_tests::watchdog();
    if !have_pipe() {
        return;
    }
    let mut ring = Ring::new(32).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 2, 64) else {
        return;
    };
    let (mut client, server) = UnixStream::pair().unwrap();
    let rounds = 20u64;
    let mut pipes = 0;
    let mut sends = 0;
    ring.scope(|s| {
        s.push_owned(vec![0; 8], |buf, sq| {
            sq.push(Pipe::new(buf.first_chunk_mut().unwrap()).user_data(0))
        })
        .unwrap();
        for round in 1..=rounds {
            client.write_all(&[round as u8; 4]).unwrap();
            s.push(Recv::new(&server, pool.select()).user_data(0x5EC5))
                .unwrap();
            s.submit().unwrap();
            let (mut got_recv, mut got_pipe) = (false, false);
            let deadline = Instant::now() + PATIENCE;
            while !(got_recv && got_pipe) {
                assert!(Instant::now() < deadline, "round {round}");
                let _ = s.wait_timeout(1, Duration::from_millis(20));
                let (mut sq, completions) = s.split();
                completions.for_each(|mut cqe| match cqe.user_data() {
                    0x5EC5 => {
                        assert!(!got_recv);
                        assert_eq!(cqe.res(), 4);
                        let buf = pool.claim(&mut cqe).unwrap();
                        sq.push_claimed(buf, |bytes, sq| {
                            sq.push(Send::new(&server, bytes).user_data(1000 + round))
                        })
                        .unwrap();
                        got_recv = true;
                    }
                    ud if ud >= 1000 => {
                        assert_eq!(cqe.res(), 4);
                        assert!(cqe.take_pipe().is_none() && cqe.take_buf().is_none());
                        sends += 1;
                    }
                    ud => {
                        assert!(!got_pipe && ud == round - 1, "{ud} in round {round}");
                        assert_eq!(cqe.res(), 0, "{cqe:?}");
                        let (rx, tx) = cqe.take_pipe().expect("the ends");
                        pipes += 1;
                        assert_one_pipe(rx, tx, "from a fold");
                        // The next pipe, pushed from the fold over a
                        // fresh vector.
                        sq.push_owned(vec![round as u8; 8 + round as usize], |buf, sq| {
                            sq.push(Pipe::new(buf.first_chunk_mut().unwrap()).user_data(round))
                        })
                        .unwrap();
                        got_pipe = true;
                    }
                });
                drop(sq);
                s.submit().unwrap();
            }
        }
        while sends < rounds || pipes <= rounds {
            let mut cqe = next_scope_cqe(s);
            if cqe.user_data() >= 1000 {
                assert_eq!(cqe.res(), 4);
                sends += 1;
            } else {
                assert_eq!((cqe.user_data(), cqe.res()), (rounds, 0));
                let (rx, tx) = cqe.take_pipe().expect("the last pipe");
                pipes += 1;
                assert_one_pipe(rx, tx, "the last");
            }
        }
        assert_no_more(s, "after the fold");
    });
    assert_eq!((pipes, sends), (rounds + 1, rounds));
    let echoed: Vec<u8> = (1..=rounds).flat_map(|r| [r as u8; 4]).collect();
    assert_eq!(uring_tests::read_exactly(&client, echoed.len()), echoed);
    assert_whole(&mut ring, &pool, 2, "after the fold");
}

const DIRECT: &str = "a_direct_pipe_at_a_held_slot_gives_none";

/// A `Pipe` of direct descriptors at a held slot writes the slots it
/// filled (0 and 1, the numbers of standard input and output) to the
/// owned buffer's first eight bytes: `take_pipe` must give `None`, and
/// both standard descriptors stay open.
#[test]
fn a_direct_pipe_at_a_held_slot_gives_none() {
    if !have_pipe() {
        return;
    }
    in_own_process(DIRECT, "a direct pipe", || {
        let mut ring = Ring::new(8).unwrap();
        let mut files = match ring.register_files_sparse(4) {
            Ok(files) => files,
            Err(e) => {
                uring_tests::skip(format_args!("no sparse file table: {e}"));
                return;
            }
        };
        let before = uring_tests::open_fd_set();
        ring.scope(|s| {
            let files = &mut files;
            s.push_owned(vec![0xFF; 8], |buf, sq| {
                sq.push(
                    Pipe::new(buf.first_chunk_mut().unwrap())
                        .pipe_flags(0)
                        .direct(DirectSlot::at(files.get_mut(0).unwrap()))
                        .user_data(1),
                )
            })
            .unwrap();
            let mut cqe = next_scope_cqe(s);
            assert_eq!(cqe.res(), 0, "{cqe:?}");
            assert!(cqe.take_pipe().is_none(), "slots, not descriptors");
            assert!(cqe.take_fd().is_none());
            let buf = cqe.take_buf().expect("the buffer");
            assert_eq!(numbers(&buf), (0, 1), "the slots filled");
            s.push_owned(vec![0xFF; 8], |buf, sq| {
                sq.push(
                    Pipe::new(buf.first_chunk_mut().unwrap())
                        .pipe_flags(0)
                        .direct(PipeSlots::ALLOC)
                        .user_data(2),
                )
            })
            .unwrap();
            let mut cqe = next_scope_cqe(s);
            assert_eq!(cqe.res(), 0, "{cqe:?}");
            assert!(cqe.take_pipe().is_none(), "allocated slots");
            let buf = cqe.take_buf().expect("the buffer");
            let (a, b) = numbers(&buf);
            assert!(
                (2..4).contains(&a) && (2..4).contains(&b) && a != b,
                "{a} {b}"
            );
        });
        assert!(fd_is_open(0) && fd_is_open(1), "standard input and output");
        assert_eq!(uring_tests::open_fd_set(), before);
    });
}

const TAKEN_ONCE: &str = "ends_taken_are_never_closed_again";

/// Pipe ends taken from a completion read through an iterator that is
/// then forgotten, and from a fold that panics right after taking them,
/// are closed by their owner alone: the numbers, reused by files opened
/// after, stay those files' through the scope's end; a completion left
/// unread behind the forgotten iterator has its ends closed by the scope,
/// and the ends taken before it stay open and working.
#[test]
fn ends_taken_are_never_closed_again() {
    if !have_pipe() {
        return;
    }
    in_own_process(TAKEN_ONCE, "pipe ends closed twice", || {
        let mut ring = Ring::new(8).unwrap();
        let before = uring_tests::open_fd_set();
        let mut files = Vec::new();
        let kept = ring.scope(|s| {
            let pipe = |s: &mut Scope<'_, '_>, ud: u64| {
                s.push_owned(vec![0; 8], |buf, sq| {
                    sq.push(Pipe::new(buf.first_chunk_mut().unwrap()).user_data(ud))
                })
                .unwrap();
            };
            // Through an iterator that is forgotten.
            pipe(s, 1);
            s.submit_and_wait(1).unwrap();
            let mut it = s.completions();
            let mut cqe = it.next().unwrap();
            std::mem::forget(it);
            let (rx, tx) = cqe.take_pipe().expect("the ends");
            drop(cqe);
            let numbers = BTreeSet::from([rx.as_raw_fd(), tx.as_raw_fd()]);
            drop((rx, tx));
            let reopened = [
                File::open("/dev/null").unwrap(),
                File::open("/dev/null").unwrap(),
            ];
            let again: BTreeSet<RawFd> = reopened.iter().map(|f| f.as_raw_fd()).collect();
            assert_eq!(again, numbers, "the numbers taken again");
            files.extend(reopened);
            // Through a fold that panics once it has them: they close as
            // it unwinds.
            pipe(s, 2);
            s.submit_and_wait(1).unwrap();
            let mut numbers = BTreeSet::new();
            let r = catch_unwind(AssertUnwindSafe(|| {
                s.completions().for_each(|mut cqe| {
                    if let Some((rx, tx)) = cqe.take_pipe() {
                        numbers = BTreeSet::from([rx.as_raw_fd(), tx.as_raw_fd()]);
                        panic!("the fold panics holding the ends");
                    }
                })
            }));
            assert!(r.is_err() && numbers.len() == 2);
            let reopened = [
                File::open("/dev/null").unwrap(),
                File::open("/dev/null").unwrap(),
            ];
            let again: BTreeSet<RawFd> = reopened.iter().map(|f| f.as_raw_fd()).collect();
            assert_eq!(again, numbers, "the numbers taken again");
            files.extend(reopened);
            // Two more; the first read through a forgotten iterator, the
            // second left unread.
            pipe(s, 3);
            pipe(s, 4);
            s.submit_and_wait(2).unwrap();
            let mut it = s.completions();
            let mut cqe = it.next().unwrap();
            std::mem::forget(it);
            assert_eq!(cqe.user_data(), 3);
            cqe.take_pipe().expect("the ends")
        });
        for f in &files {
            assert!(fd_is_open(f.as_raw_fd()), "a file closed by the scope");
            assert!(
                f.metadata().unwrap().file_type().is_char_device(),
                "still /dev/null"
            );
        }
        let (rx, tx) = kept;
        assert_one_pipe(rx, tx, "kept past the scope");
        drop(files);
        assert_eq!(
            uring_tests::open_fd_set(),
            before,
            "the unread pipe closed, nothing else"
        );
    });
}
