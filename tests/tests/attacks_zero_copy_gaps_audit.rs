//! Zero-copy sends in combinations the other suites leave out, read
//! against Linux 6.18's `io_uring/net.c` (`io_send_zc_prep`,
//! `io_send_zc_import`, `io_send_zc`, `io_sendmsg_zc`,
//! `io_send_zc_cleanup`, `io_sendrecv_fail`), `io_uring/notif.c`
//! (`io_alloc_notif`, `io_tx_ubuf_complete`, `io_notif_tw_complete`,
//! `io_link_skb`), `io_uring/io_uring.c` (`io_req_tw_fail_links`) and
//! `net/ipv4/tcp.c` (`tcp_sendmsg_locked`, which takes the notification's
//! `ubuf_info` only for a send of at least one byte).
//!
//! Attacked here: sends of no bytes (TCP, UDP, messages, the reactor);
//! sends on files that take no zero-copy send (a pipe, a Unix socket),
//! whose failure still posts a notification, through borrowed and owned
//! buffers and with `IORING_SEND_ZC_REPORT_USAGE`; one owned buffer lent
//! to two sends of one chain, the second notifying first (on plain,
//! `defer_taskrun` and SQPOLL rings), and to a failed head and a
//! cancelled send (in fast scopes and scopes that tag every op);
//! cancelled linked sends at a scope's very end, whose
//! notifications come as task work; a TCP send corked by `MSG_MORE`,
//! whose pages wait in an unsent segment; sends appended to a waiting
//! segment, whose notifications `io_link_skb` chains; `CQE_SKIP_SUCCESS`
//! on sends in scopes (cleared) and outside them (the kernel's `EINVAL`,
//! no notification); the reactor's sends cancelled by id, passed by their
//! deadline and forgotten between the two completions; a send the tokio
//! driver resolves at a late notification; registered-buffer sends with
//! `REPORT_USAGE`. Canaries written into each buffer once it is handed
//! back, and what each peer received, check that nothing is handed back
//! before the kernel's notification.
//!
//! Every attack is safe code; `unsafe` appears only to register a buffer
//! and to push one op of leaked values outside a scope (both keeping
//! their contracts), and to inspect (`SIOCOUTQ`), each with a
//! `// SAFETY:` comment.

use std::cell::RefCell;
use std::io::{IoSlice, IoSliceMut, Read as _};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

use uring::ops::{Nop, Read, SendMsgZc, SendMsgZcFixed, SendZc, SendZcFixed};
use uring::reactor::{Reactor, SharedFd};
use uring::{Cqe, MsgFlags, MsgHdr, Ring, Scope, SendZcFlags, SqeFlags, sys};
use uring_tests::net::{late_reader, slow_pair, unacked};
use uring_tests::{PATIENCE, pattern, require_kernel, require_op, skip};

/// What memory is overwritten with once it was handed back.
const CANARY: u8 = 0xee;

/// What a pending read's buffer holds until its own bytes come.
const UNTOUCHED: u8 = 0xa5;

const MORE: u32 = sys::IORING_CQE_F_MORE;
const NOTIF: u32 = sys::IORING_CQE_F_NOTIF;

/// A notification's `res` with `IORING_NOTIF_USAGE_ZC_COPIED` (bit 31).
const COPIED: i32 = i32::MIN;

/// Asserts that `got` is a prefix of `sent` (no byte written into the
/// memory after it was handed back reached the peer); its length.
fn assert_prefix(got: &[u8], sent: &[u8], what: &str) -> usize {
    assert!(got.len() <= sent.len(), "{what}: more bytes than sent");
    if let Some(i) = got.iter().zip(sent).position(|(a, b)| a != b) {
        panic!(
            "{what}: byte {i} of {} on the wire is {:#x}, not {:#x}: the memory was handed \
             back while the kernel still sent from it",
            got.len(),
            got[i],
            sent[i]
        );
    }
    got.len()
}

/// Writes `bytes` into the pipe whose write end is `tx`.
fn write_pipe(tx: &std::os::fd::OwnedFd, bytes: &[u8]) {
    use std::io::Write as _;
    std::fs::File::from(tx.try_clone().unwrap())
        .write_all(bytes)
        .unwrap();
}

/// A completion of the scope's op, and the owned buffer it handed back.
#[derive(Debug)]
struct Seen {
    cqe: Cqe,
    buf: Option<Vec<u8>>,
}

/// Reaps the scope's completions (taking each owned buffer handed back)
/// into `seen` until `done` says so, failing after [`PATIENCE`];
/// completions that are not the scope's fail the test.
fn reap_until(s: &mut Scope<'_, '_>, seen: &mut Vec<Seen>, done: impl Fn(&[Seen]) -> bool) {
    let start = Instant::now();
    while !done(seen) {
        assert!(
            start.elapsed() < PATIENCE,
            "no expected completion after {PATIENCE:?}: {seen:?}"
        );
        s.submit().unwrap();
        let _ = s.wait_timeout(1, Duration::from_millis(20));
        for mut c in s.completions() {
            assert!(c.is_scope_op(), "a foreign completion: {:?}", c.cqe());
            let buf = c.take_buf();
            seen.push(Seen { cqe: c.cqe(), buf });
        }
    }
}

/// Reaps for `quiet` more, adding whatever comes.
fn reap_for(s: &mut Scope<'_, '_>, seen: &mut Vec<Seen>, quiet: Duration) {
    let end = Instant::now() + quiet;
    reap_until(s, seen, |_| Instant::now() >= end);
}

/// The `(res, flags)` of the completions of `user_data`, in order.
fn of(seen: &[Seen], user_data: u64) -> Vec<(i32, u32)> {
    seen.iter()
        .filter(|c| c.cqe.user_data() == user_data)
        .map(|c| (c.cqe.res(), c.cqe.flags()))
        .collect()
}

/// Whether the op of `user_data` posted a completion not flagged
/// `IORING_CQE_F_MORE`.
fn ended(seen: &[Seen], user_data: u64) -> bool {
    seen.iter()
        .any(|c| c.cqe.user_data() == user_data && !c.cqe.has_more())
}

/// The positions in `seen` of the completions that handed a buffer back.
fn handed_back(seen: &[Seen]) -> Vec<usize> {
    seen.iter()
        .enumerate()
        .filter(|(_, c)| c.buf.is_some())
        .map(|(i, _)| i)
        .collect()
}

/// A send of no bytes takes no `ubuf_info`: `tcp_sendmsg_locked` and
/// `ip_make_skb` take `msg_ubuf` only for a send of at least one byte, so
/// the notification's only reference is its own, which `io_send_zc`
/// drops at once (`io_notif_flush`). `io_notif_tw_complete` then reports
/// `IORING_NOTIF_USAGE_ZC_COPIED` when asked (`!zc_used`). UDP sends a
/// datagram of no bytes. Safe outcome: each send posts `0` flagged
/// `F_MORE`, then its notification (`0`, or `i32::MIN` with
/// `REPORT_USAGE`, which reads as data and as copied); an owned empty
/// buffer comes back at the notification; a reactor's empty send resolves
/// once with `Ok(0)` and its empty buffer; the UDP peer gets two empty
/// datagrams and the TCP peer nothing.
#[test]
fn zero_copy_sends_of_no_bytes_complete_then_notify() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(16).unwrap();
    if !require_op::<SendMsgZc<'static, 'static>>(&ring) {
        return;
    }
    let (client, mut server) = uring_tests::tcp_pair();
    let urx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let utx = UdpSocket::bind("127.0.0.1:0").unwrap();
    utx.connect(urx.local_addr().unwrap()).unwrap();
    let empty: [IoSlice<'_>; 0] = [];
    let msg = MsgHdr::new(&empty);
    let seen = ring.scope(|s| {
        s.push(SendZc::new(&client, &[]).user_data(1)).unwrap();
        s.push(
            SendZc::new(&client, &[])
                .send_flags(SendZcFlags::REPORT_USAGE)
                .user_data(2),
        )
        .unwrap();
        s.push(SendMsgZc::new(&client, &msg).user_data(3)).unwrap();
        s.push(SendZc::new(&utx, &[]).user_data(4)).unwrap();
        s.push(
            SendMsgZc::new(&utx, &msg)
                .send_flags(SendZcFlags::REPORT_USAGE)
                .user_data(5),
        )
        .unwrap();
        s.push_owned(Vec::new(), |buf, sq| {
            sq.push(SendZc::new(&client, &*buf).user_data(6))
        })
        .unwrap();
        let mut seen = Vec::new();
        reap_until(s, &mut seen, |seen| (1..=6).all(|u| ended(seen, u)));
        reap_for(s, &mut seen, Duration::from_millis(20));
        seen
    });
    for (u, report) in [
        (1, false),
        (2, true),
        (3, false),
        (4, false),
        (5, true),
        (6, false),
    ] {
        let notif = if report { COPIED } else { 0 };
        assert_eq!(
            of(&seen, u),
            [(0, MORE), (notif, NOTIF)],
            "send {u}: its count, then its notification: {seen:?}"
        );
    }
    assert_eq!(seen.len(), 12, "nothing else: {seen:?}");
    for c in seen.iter().filter(|c| c.cqe.is_notification()) {
        assert!(c.cqe.result().is_ok(), "a notification reads as data");
    }
    let copied: Vec<u64> = seen
        .iter()
        .filter(|c| c.cqe.zc_copied())
        .map(|c| c.cqe.user_data())
        .collect();
    assert_eq!(copied, [2, 5], "only the notifications asked to report");
    let back: Vec<(u64, u32, usize)> = seen
        .iter()
        .filter_map(|c| {
            c.buf
                .as_ref()
                .map(|b| (c.cqe.user_data(), c.cqe.flags(), b.len()))
        })
        .collect();
    assert_eq!(
        back,
        [(6, NOTIF, 0)],
        "the empty owned buffer, at the notification"
    );
    assert_eq!(uring_tests::stray(&mut ring), []);
    urx.set_nonblocking(true).unwrap();
    let mut probe = [0u8; 8];
    for i in 0..2 {
        assert_eq!(urx.recv(&mut probe).unwrap(), 0, "empty datagram {i}");
    }
    assert!(urx.recv(&mut probe).is_err(), "two datagrams, no more");
    drop(client);
    let mut got = Vec::new();
    server.read_to_end(&mut got).unwrap();
    assert!(got.is_empty(), "{} bytes on an empty TCP stream", got.len());

    // The reactor's own: once, with the count and the buffer.
    let reactor = Reactor::new().unwrap();
    let (c2, _s2) = uring_tests::tcp_pair();
    let fd = SharedFd::new(c2);
    let (r, buf) = reactor
        .run_until(reactor.op(uring::reactor::ops::SendZc::new(&fd, Vec::new())))
        .unwrap();
    assert_eq!(r.unwrap(), 0);
    assert!(buf.is_empty());
    assert_eq!(reactor.in_flight(), 0);
}

/// A zero-copy send on a file that is no socket (`sock_from_file`:
/// `ENOTSOCK`) or on a socket without `SOCK_SUPPORT_ZC` (a Unix socket:
/// `EOPNOTSUPP`) fails at issue, after `io_send_zc_prep` allocated its
/// notification and set `REQ_F_NEED_CLEANUP`: `io_sendrecv_fail` flags the
/// failure `F_MORE`, and `io_send_zc_cleanup` flushes the notification,
/// which reports `ZC_COPIED` when asked (`zc_used` stays false). Inline
/// and from io-wq (`IOSQE_ASYNC`, whose notification is flushed only at
/// cleanup), as sends and messages, over borrowed and owned buffers, in a
/// fast scope beside a pending pipe read. Safe outcome: each send posts
/// its errno (read as an error) flagged `F_MORE`, then its notification;
/// an owned buffer comes back at the notification, not the failure; the
/// read stays in flight, its canary untouched, until its own bytes.
#[test]
fn sends_on_files_without_zero_copy_fail_and_still_notify() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(64).unwrap();
    if !require_op::<SendMsgZc<'static, 'static>>(&ring) {
        return;
    }
    let (rx, tx) = uring_tests::pipe();
    let (gate_rx, gate_tx) = uring_tests::pipe();
    let (unix, _unix_peer) = UnixStream::pair().unwrap();
    let data = pattern(3000, 41);
    let iov = [IoSlice::new(&data[..1000]), IoSlice::new(&data[1000..])];
    let msg = MsgHdr::new(&iov);
    let mut canary = [UNTOUCHED; 8];
    let mut expect = Vec::new();
    let seen = ring.scope(|s| {
        assert!(!s.tags_every_op(), "a fast scope");
        s.push(Read::new(&gate_rx, &mut canary[..]).user_data(99))
            .unwrap();
        let mut u = 0u64;
        for (target, errno) in [(0, libc::ENOTSOCK), (1, libc::EOPNOTSUPP)] {
            for flags in [SqeFlags::EMPTY, SqeFlags::ASYNC] {
                for report in [false, true] {
                    let zc = if report {
                        SendZcFlags::REPORT_USAGE
                    } else {
                        SendZcFlags::empty()
                    };
                    let notif = if report { COPIED } else { 0 };
                    for kind in 0..3 {
                        u += 1;
                        match (target, kind) {
                            (0, 0) => s
                                .push(
                                    SendZc::new(&tx, &data[..])
                                        .send_flags(zc)
                                        .flags(flags)
                                        .user_data(u),
                                )
                                .map_err(|e| e.kind()),
                            (1, 0) => s
                                .push(
                                    SendZc::new(&unix, &data[..])
                                        .send_flags(zc)
                                        .flags(flags)
                                        .user_data(u),
                                )
                                .map_err(|e| e.kind()),
                            (0, 1) => s
                                .push(
                                    SendMsgZc::new(&tx, &msg)
                                        .send_flags(zc)
                                        .flags(flags)
                                        .user_data(u),
                                )
                                .map_err(|e| e.kind()),
                            (1, 1) => s
                                .push(
                                    SendMsgZc::new(&unix, &msg)
                                        .send_flags(zc)
                                        .flags(flags)
                                        .user_data(u),
                                )
                                .map_err(|e| e.kind()),
                            (t, _) => {
                                let this = u;
                                s.push_owned(data.clone(), |buf, sq| {
                                    if t == 0 {
                                        sq.push(
                                            SendZc::new(&tx, &*buf)
                                                .send_flags(zc)
                                                .flags(flags)
                                                .user_data(this),
                                        )
                                    } else {
                                        sq.push(
                                            SendZc::new(&unix, &*buf)
                                                .send_flags(zc)
                                                .flags(flags)
                                                .user_data(this),
                                        )
                                    }
                                })
                                .map_err(|e| e.kind())
                            }
                        }
                        .unwrap();
                        expect.push((u, errno, notif, kind == 2));
                    }
                }
            }
        }
        let mut seen = Vec::new();
        reap_until(s, &mut seen, |seen| (1..=u).all(|u| ended(seen, u)));
        reap_for(s, &mut seen, Duration::from_millis(30));
        assert_eq!(s.in_flight(), 1, "the read alone: {seen:?}");
        write_pipe(&gate_tx, b"gate");
        reap_until(s, &mut seen, |seen| ended(seen, 99));
        seen
    });
    for &(u, errno, notif, owned) in &expect {
        assert_eq!(
            of(&seen, u),
            [(-errno, MORE), (notif, NOTIF)],
            "send {u}: its failure, then its notification: {seen:?}"
        );
        let first = seen.iter().find(|c| c.cqe.user_data() == u).unwrap();
        assert_eq!(first.cqe.result().unwrap_err().raw_os_error(), Some(errno));
        let back: Vec<(u32, bool)> = seen
            .iter()
            .filter(|c| c.cqe.user_data() == u && c.buf.is_some())
            .map(|c| (c.cqe.flags(), c.buf.as_deref() == Some(&data[..])))
            .collect();
        if owned {
            assert_eq!(
                back,
                [(NOTIF, true)],
                "send {u}: the buffer, whole, at the notification"
            );
        } else {
            assert!(back.is_empty());
        }
    }
    assert_eq!(of(&seen, 99), [(4, 0)]);
    assert_eq!(seen.len(), 2 * expect.len() + 1, "nothing else: {seen:?}");
    assert_eq!(&canary[..4], b"gate");
    assert_eq!(canary[4..], [UNTOUCHED; 4], "nothing else was written");
    assert_eq!(uring_tests::stray(&mut ring), [], "nothing after the scope");
    drop(tx);
    let mut left = Vec::new();
    std::fs::File::from(rx).read_to_end(&mut left).unwrap();
    assert!(left.is_empty(), "no send wrote into the pipe");
}

/// One owned buffer lent to two zero-copy sends of one chain: the head
/// on a connection whose peer reads nothing yet (its pages wait in the
/// write queue), the second, which `io_queue_next` issues once the head
/// posted its count, on a connection whose peer reads at once. The second
/// send's notification comes first, the head's only once its peer reads.
/// The scope counts the buffer's ops (`remaining`) and hands it back at
/// the last of their last completions. Safe outcome: after the second
/// send's notification the buffer is still lent (the head's notification
/// is due: one op in flight); it comes back once, with the head's
/// notification; a canary written then reaches neither peer, each of
/// which gets a prefix of the buffer, as long as its send's count. On a
/// plain, a `defer_taskrun` and an SQPOLL ring.
#[test]
fn an_owned_buffer_lent_to_two_sends_comes_back_at_the_later_notification() {
    let _watch = uring_tests::watchdog();
    let probe = Ring::new(8).unwrap();
    if !require_op::<SendZc<'static>>(&probe) {
        return;
    }
    let rings: Vec<(&str, Ring)> = [
        Some(("plain", Ring::new(8).unwrap())),
        uring_tests::defer_ring(8).map(|r| ("defer_taskrun", r)),
        uring_tests::sqpoll_ring(8).map(|r| ("sqpoll", r)),
    ]
    .into_iter()
    .flatten()
    .collect();
    for (name, mut ring) in rings {
        two_sends_over_one_owned_buffer(name, &mut ring);
    }
}

/// [`an_owned_buffer_lent_to_two_sends_comes_back_at_the_later_notification`]
/// on `ring`.
fn two_sends_over_one_owned_buffer(name: &str, ring: &mut Ring) {
    let sent = pattern(1 << 20, 51);
    let (slow, slow_peer) = slow_pair();
    let (fast, fast_peer) = uring_tests::tcp_pair();
    let fast_reader = late_reader(fast_peer, Duration::ZERO);
    let mut slow_reader = None;
    let seen = ring.scope(|s| {
        s.push_owned(sent.clone(), |buf, sq| {
            let bytes: &[u8] = buf;
            sq.push(
                SendZc::new(&slow, bytes)
                    .user_data(1)
                    .link(SendZc::new(&fast, bytes).user_data(2)),
            )
        })
        .unwrap();
        let mut seen = Vec::new();
        reap_until(s, &mut seen, |seen| ended(seen, 2));
        // Time for anything else the kernel would post now.
        reap_for(s, &mut seen, Duration::from_millis(50));
        assert!(
            handed_back(&seen).is_empty(),
            "{name}: the buffer came back while the head's notification is due: {seen:?}"
        );
        assert!(
            !ended(&seen, 1),
            "{name}: the head's peer read nothing: {seen:?}"
        );
        assert_eq!(
            s.in_flight(),
            1,
            "{name}: the head waits for its notification"
        );
        assert!(
            unacked(slow.as_raw_fd()) > 0,
            "{name}: the head's pages wait"
        );
        slow_reader = Some(late_reader(slow_peer.try_clone().unwrap(), Duration::ZERO));
        reap_until(s, &mut seen, |seen| ended(seen, 1));
        seen
    });
    let head = of(&seen, 1);
    let second = of(&seen, 2);
    assert_eq!(head.len(), 2, "{name}: {seen:?}");
    assert_eq!(second.len(), 2, "{name}: {seen:?}");
    assert!(head[0].0 > 0 && head[0].1 == MORE, "{name}: {seen:?}");
    assert!(second[0].0 > 0 && second[0].1 == MORE, "{name}: {seen:?}");
    assert_eq!((head[1], second[1]), ((0, NOTIF), (0, NOTIF)), "{name}");
    let back = handed_back(&seen);
    assert_eq!(back.len(), 1, "{name}: handed back once: {seen:?}");
    let last = &seen[back[0]];
    assert_eq!(
        (last.cqe.user_data(), last.cqe.flags()),
        (1, NOTIF),
        "{name}: at the head's notification, the later one: {seen:?}"
    );
    assert_eq!(back[0], seen.len() - 1, "{name}");
    let mut buf = seen.into_iter().find_map(|c| c.buf).unwrap();
    assert_eq!(buf, sent, "{name}: the buffer, untouched");
    buf.fill(CANARY);
    drop((slow, fast));
    drop(slow_peer);
    let got = slow_reader.unwrap().join().unwrap();
    assert_eq!(
        assert_prefix(&got, &sent, "the head's peer"),
        head[0].0 as usize,
        "{name}"
    );
    let got = fast_reader.join().unwrap();
    assert_eq!(
        assert_prefix(&got, &sent, "the second's peer"),
        second[0].0 as usize,
        "{name}"
    );
    assert_eq!(uring_tests::stray(ring), [], "{name}");
}

/// One owned buffer lent to a chain whose head is a zero-copy send on a
/// pipe (`ENOTSOCK` flagged `F_MORE`, then its notification) and whose
/// second send is cancelled by the broken link (`io_req_tw_fail_links`:
/// `ECANCELED` with no flag; `io_send_zc_cleanup` flushes its
/// notification after it all the same, which the scope adopts as an
/// orphan's). In fast scopes and scopes that tag every op, beside a
/// pending read. Safe outcome: the buffer comes back once, whole, at
/// the last of the ops' last completions; the second send's notification
/// is never handed out nor left behind; the read's canary is untouched
/// until its own bytes.
#[test]
fn an_owned_buffer_under_a_failed_head_and_a_cancelled_send_comes_back_once() {
    let _watch = uring_tests::watchdog();
    let probe = Ring::new(8).unwrap();
    if !require_op::<SendZc<'static>>(&probe) {
        return;
    }
    let (socket, mut peer) = uring_tests::tcp_pair();
    let (_rx, tx) = uring_tests::pipe();
    for tag_all in [false, true] {
        let mut ring = Ring::new(8).unwrap();
        if tag_all {
            // An op pushed outside a scope makes the ring's scopes tag
            // every op.
            ring.push(Nop::new()).unwrap();
            uring_tests::reap_one(&mut ring);
        }
        let (gate_rx, gate_tx) = uring_tests::pipe();
        let data = pattern(4096, 61);
        let mut canary = [UNTOUCHED; 8];
        let seen = ring.scope(|s| {
            assert_eq!(s.tags_every_op(), tag_all);
            s.push(Read::new(&gate_rx, &mut canary[..]).user_data(9))
                .unwrap();
            for round in 0..3u64 {
                let (a, b) = (10 * round + 1, 10 * round + 2);
                s.push_owned(data.clone(), |buf, sq| {
                    let bytes: &[u8] = buf;
                    sq.push(
                        SendZc::new(&tx, bytes)
                            .user_data(a)
                            .link(SendZc::new(&socket, bytes).user_data(b)),
                    )
                })
                .unwrap();
            }
            let mut seen = Vec::new();
            reap_until(s, &mut seen, |seen| {
                (0..3).all(|r| ended(seen, 10 * r + 1) && ended(seen, 10 * r + 2))
            });
            reap_for(s, &mut seen, Duration::from_millis(30));
            assert_eq!(s.in_flight(), 1, "the read alone: {seen:?}");
            write_pipe(&gate_tx, b"gate");
            reap_until(s, &mut seen, |seen| ended(seen, 9));
            seen
        });
        for round in 0..3u64 {
            let (a, b) = (10 * round + 1, 10 * round + 2);
            assert_eq!(
                of(&seen, a),
                [(-libc::ENOTSOCK, MORE), (0, NOTIF)],
                "tag all: {tag_all}: {seen:?}"
            );
            assert_eq!(
                of(&seen, b),
                [(-libc::ECANCELED, 0)],
                "tag all: {tag_all}: the cancelled send's notification stays inside: {seen:?}"
            );
            let back: Vec<&Seen> = seen
                .iter()
                .filter(|c| c.buf.is_some() && [a, b].contains(&c.cqe.user_data()))
                .collect();
            assert_eq!(back.len(), 1, "tag all: {tag_all}: once: {seen:?}");
            assert_eq!(back[0].buf.as_deref(), Some(&data[..]));
            let last = seen
                .iter()
                .rposition(|c| [a, b].contains(&c.cqe.user_data()))
                .unwrap();
            assert!(
                std::ptr::eq(back[0], &seen[last]),
                "tag all: {tag_all}: at the last of the two ops' completions: {seen:?}"
            );
        }
        assert_eq!(of(&seen, 9), [(4, 0)]);
        assert_eq!(seen.len(), 3 * 3 + 1, "nothing else: {seen:?}");
        assert_eq!(&canary[..4], b"gate");
        assert_eq!(canary[4..], [UNTOUCHED; 4]);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(uring_tests::stray(&mut ring), [], "tag all: {tag_all}");
    }
    drop(socket);
    let mut got = Vec::new();
    peer.read_to_end(&mut got).unwrap();
    assert!(got.is_empty(), "no cancelled send moved a byte");
}

/// `MSG_MORE` on a TCP zero-copy send corks it (`tcp_push` with
/// `TCP_NAGLE_CORK`): the bytes sit, pinned, in an unsent segment of the
/// write queue, and `io_send_zc` posts their count at once. The segment
/// goes out only when the cork is pushed (here by the kernel's own timer,
/// some 200 ms later), and the notification comes when it has been
/// acknowledged. (A corked UDP datagram is copied instead:
/// `attacks_op_semantics.rs`.) The scope's closure returns right after
/// the count. Safe outcome: when the count comes the peer has nothing to
/// read; the scope returns only after the notification; the canary
/// written into the buffers then never reaches the peer, which gets
/// exactly the sent bytes, once each (send and message).
#[test]
fn a_corked_tcp_zero_copy_send_holds_the_scope_until_its_notification() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SendMsgZc<'static, 'static>>(&ring) {
        return;
    }
    for message in [false, true] {
        let what = format!("message: {message}");
        let (client, mut server) = uring_tests::tcp_pair();
        client.set_nodelay(true).unwrap();
        let sent = pattern(700, 71 + u8::from(message));
        let mut data = sent.clone();
        let start = Instant::now();
        let (first, peer_had) = {
            let (a, b) = data.split_at(300);
            let iov = [IoSlice::new(a), IoSlice::new(b)];
            let msg = MsgHdr::new(&iov);
            ring.scope(|s| {
                if message {
                    s.push(
                        SendMsgZc::new(&client, &msg)
                            .msg_flags(MsgFlags::MORE)
                            .user_data(1),
                    )
                    .unwrap();
                } else {
                    s.push(
                        SendZc::new(&client, &data[..])
                            .msg_flags(MsgFlags::MORE)
                            .user_data(1),
                    )
                    .unwrap();
                }
                let mut seen = Vec::new();
                reap_until(s, &mut seen, |seen| !seen.is_empty());
                server.set_nonblocking(true).unwrap();
                let mut probe = [0u8; 1];
                let peer_had = server.peek(&mut probe).map_err(|e| e.kind());
                server.set_nonblocking(false).unwrap();
                (seen.remove(0).cqe, peer_had)
            })
        };
        let returned_after = start.elapsed();
        data.fill(CANARY);
        assert_eq!((first.res(), first.flags()), (700, MORE), "{what}");
        assert_eq!(
            peer_had,
            Err(std::io::ErrorKind::WouldBlock),
            "{what}: the bytes were corked when the count came"
        );
        assert!(
            returned_after >= Duration::from_millis(100),
            "{what}: the scope returned after {returned_after:?}, before the cork was pushed"
        );
        assert_eq!(uring_tests::stray(&mut ring), [], "{what}");
        client.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        server.read_to_end(&mut got).unwrap();
        assert_eq!(got, sent, "{what}: the peer got the bytes as sent, once");
    }
}

/// `IOSQE_CQE_SKIP_SUCCESS` on a zero-copy send: `io_send_zc_prep`
/// refuses it (`EINVAL`) before it allocates a notification, so outside
/// a scope the send posts one failure, unflagged, and nothing after. A
/// scope clears the flag on every op it pushes (a skipped success would
/// never end its op): there the send runs, posting its count and then its
/// notification, alone, in a chain after a skipped NOP, and over an
/// owned buffer, which comes back at the notification. Safe outcome: as
/// said, nothing else posted; the peer gets each scope send's bytes once
/// and none of the refused one's.
#[test]
fn cqe_skip_success_on_zero_copy_sends() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SendZc<'static>>(&ring) {
        return;
    }
    let (client, mut server) = uring_tests::tcp_pair();
    // Outside a scope (the ring's `push` takes no op that borrows):
    // leaked borrows, through the unsafe push.
    let leaked: &'static TcpStream = Box::leak(Box::new(client.try_clone().unwrap()));
    let refused: &'static [u8] = b"refused";
    let op = SendZc::new(leaked, refused)
        .flags(SqeFlags::CQE_SKIP_SUCCESS)
        .user_data(7);
    // SAFETY: the op borrows only leaked values (the socket's clone and a
    // static string), alive until the process ends.
    unsafe { ring.push_unchecked(op) }.unwrap();
    ring.submit_and_wait(1).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let outside: Vec<(u64, i32, u32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res(), c.flags()))
        .collect();
    assert_eq!(
        outside,
        [(7, -libc::EINVAL, 0)],
        "refused at its prep: no notification"
    );
    let a = pattern(100, 81);
    let b = pattern(200, 82);
    let c = pattern(300, 83);
    let seen = ring.scope(|s| {
        s.push(
            SendZc::new(&client, &a)
                .flags(SqeFlags::CQE_SKIP_SUCCESS)
                .user_data(1),
        )
        .unwrap();
        s.push(
            Nop::new()
                .flags(SqeFlags::CQE_SKIP_SUCCESS)
                .user_data(2)
                .link(
                    SendZc::new(&client, &b)
                        .flags(SqeFlags::CQE_SKIP_SUCCESS)
                        .user_data(3),
                ),
        )
        .unwrap();
        s.push_owned(c.clone(), |buf, sq| {
            sq.push(
                SendZc::new(&client, &*buf)
                    .flags(SqeFlags::CQE_SKIP_SUCCESS)
                    .user_data(4),
            )
        })
        .unwrap();
        let mut seen = Vec::new();
        reap_until(s, &mut seen, |seen| {
            [1, 2, 3, 4].iter().all(|&u| ended(seen, u))
        });
        reap_for(s, &mut seen, Duration::from_millis(20));
        seen
    });
    assert_eq!(of(&seen, 1), [(100, MORE), (0, NOTIF)], "{seen:?}");
    assert_eq!(of(&seen, 2), [(0, 0)], "{seen:?}");
    assert_eq!(of(&seen, 3), [(200, MORE), (0, NOTIF)], "{seen:?}");
    assert_eq!(of(&seen, 4), [(300, MORE), (0, NOTIF)], "{seen:?}");
    assert_eq!(seen.len(), 7, "nothing else: {seen:?}");
    let back: Vec<(u64, u32)> = seen
        .iter()
        .filter(|c| c.buf.is_some())
        .map(|c| (c.cqe.user_data(), c.cqe.flags()))
        .collect();
    assert_eq!(back, [(4, NOTIF)]);
    assert_eq!(uring_tests::stray(&mut ring), []);
    drop(client);
    leaked.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    server.read_to_end(&mut got).unwrap();
    // The linked send goes once its NOP's completion is flushed, after
    // the batch: after the owned send, or before it.
    assert!(
        got == [&a[..], &b, &c].concat() || got == [&a[..], &c, &b].concat(),
        "each scope send once, none of the refused one's: {} bytes",
        got.len()
    );
}

/// What the reactor's send did between its two completions.
#[derive(Clone, Copy, Debug)]
enum Between {
    /// `Handle::cancel` by its id: the send has completed, so the cancel
    /// request finds nothing (`ENOENT`; a notification is in no list a
    /// cancel searches).
    Cancelled,
    /// Its deadline passed: the link timeout went with the send's count
    /// (`io_disarm_next`: `ECANCELED`), so nothing fires.
    DeadlinePassed,
    /// Its future was polled once and given to `mem::forget`.
    Forgotten,
}

/// The reactor's `SendZc` to a peer that reads nothing yet: its count
/// comes at once, flagged `F_MORE`, its notification only once the peer
/// reads. Between the two, the program cancels it by id, lets its
/// deadline pass, or forgets its future. Safe outcome: the op stays in
/// flight until the notification (the callback has not run, the pages are
/// still queued); then the callback runs once, with the count (not
/// `ECANCELED` nor `ETIME`) and the whole buffer; a canary written into
/// it then never reaches the peer, which gets exactly the count.
#[test]
fn a_reactor_send_cancelled_timed_out_or_forgotten_between_its_completions() {
    use uring::reactor::ops::SendZc;
    let _watch = uring_tests::watchdog();
    for between in [
        Between::Cancelled,
        Between::DeadlinePassed,
        Between::Forgotten,
    ] {
        let what = format!("{between:?}");
        let reactor = Reactor::new().unwrap();
        let (client, server) = slow_pair();
        let raw = client.as_raw_fd();
        // Told by its inode, not its number: another test's descriptor may
        // take the number once the socket is closed.
        let ino = uring_tests::net::peer::inode(&client);
        let fd = SharedFd::new(client);
        let sent = pattern(1 << 20, 91);
        type Call = (Result<u32, Option<i32>>, Vec<u8>);
        let calls: Rc<RefCell<Vec<Call>>> = Rc::default();
        let c = Rc::clone(&calls);
        let callback = move |r: std::io::Result<u32>, buf: Vec<u8>| {
            c.borrow_mut().push((r.map_err(|e| e.raw_os_error()), buf));
        };
        let mut id = None;
        let mut future = None;
        match between {
            Between::Cancelled => {
                id = Some(
                    reactor
                        .queue(SendZc::new(&fd, sent.clone()), callback)
                        .unwrap(),
                );
            }
            Between::DeadlinePassed => {
                let deadline = Instant::now() + Duration::from_millis(20);
                reactor
                    .queue_with_deadline(SendZc::new(&fd, sent.clone()), deadline, callback)
                    .unwrap();
            }
            Between::Forgotten => {
                let mut f = reactor.op(SendZc::new(&fd, sent.clone()));
                assert!(uring_tests::poll_once(&mut f).is_pending());
                reactor.submit().unwrap();
                future = Some(f);
            }
        }
        uring_tests::run_for(&reactor, 60);
        if let Some(Err(e)) = calls.borrow().first().map(|c| c.0) {
            return skip(format_args!("no zero-copy sends: {e:?}"));
        }
        assert!(
            unacked(raw) > 0,
            "{what}: the send's pages wait on the peer"
        );
        assert_eq!(reactor.in_flight(), 1, "{what}");
        match between {
            Between::Cancelled => {
                assert!(
                    reactor.cancel(id.unwrap()).unwrap(),
                    "{what}: a request queued"
                );
            }
            Between::Forgotten => std::mem::forget(future.take()),
            Between::DeadlinePassed => {}
        }
        uring_tests::run_for(&reactor, 40);
        assert!(
            calls.borrow().is_empty(),
            "{what}: the op ended before its notification"
        );
        assert_eq!(reactor.in_flight(), 1, "{what}: the notification is due");
        // Reads the count, not to the end: a forgotten future keeps its
        // op's value, and with it the socket, open.
        let reader = std::thread::spawn(move || {
            let mut server = server;
            let mut got = vec![0u8; 1 << 20];
            server.set_read_timeout(Some(PATIENCE)).unwrap();
            server.read_exact(&mut got).map(|()| got)
        });
        let start = Instant::now();
        while reactor.in_flight() > 0 {
            assert!(start.elapsed() < PATIENCE, "{what}: no notification");
            uring_tests::run_for(&reactor, 10);
        }
        let mut calls = calls.take();
        match between {
            Between::Forgotten => assert!(calls.is_empty()),
            _ => {
                assert_eq!(calls.len(), 1, "{what}: one call");
                let (r, buf) = &mut calls[0];
                assert_eq!(*r, Ok(sent.len() as u32), "{what}: the send's count");
                assert!(*buf == sent, "{what}: the buffer, whole");
                buf.fill(CANARY);
            }
        }
        drop(fd);
        let got = reader.join().unwrap().expect("the peer got the count");
        assert_eq!(assert_prefix(&got, &sent, &what), sent.len(), "{what}");
        assert_eq!(
            uring_tests::net::peer::socket_open(ino),
            matches!(between, Between::Forgotten),
            "{what}: the socket closes with the op's value, which a forgotten future keeps"
        );
        // The reactor takes more.
        let (r, ()) = reactor
            .run_until(reactor.op(uring::reactor::ops::Nop))
            .unwrap();
        assert_eq!(r.unwrap(), 0, "{what}");
    }
}

/// A reactor driven by tokio (`into_tokio`, a ring without
/// `defer_taskrun`): the notification of a zero-copy send comes from
/// task work that `io_tx_ubuf_complete` queues on the submitting thread
/// once the peer, on another thread, reads; that thread sleeps in
/// tokio's `epoll_wait`, which only the ring's descriptor turning
/// readable wakes. Safe outcome: the send's future stays pending past the
/// count and resolves once, after the peer began to read, with the count
/// and the whole buffer; a canary written then never reaches the peer.
#[test]
fn a_tokio_driven_send_resolves_at_its_late_notification() {
    use uring::reactor::ops::SendZc;
    let _watch = uring_tests::watchdog();
    let delay = Duration::from_millis(150);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let (client, server) = slow_pair();
    let sent = pattern(1 << 20, 101);
    let (outcome, elapsed, reader) = local.block_on(&runtime, async {
        let reactor = Reactor::new().unwrap();
        let handle = reactor.handle();
        tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let fd = SharedFd::new(client);
        // The clock first: the peer reads no sooner than `delay` after it.
        let start = Instant::now();
        let reader = late_reader(server, delay);
        let (r, mut buf) =
            tokio::time::timeout(PATIENCE, handle.op(SendZc::new(&fd, sent.clone())))
                .await
                .expect("the send resolved");
        let elapsed = start.elapsed();
        let outcome = (r.map_err(|e| e.raw_os_error()), buf == sent);
        buf.fill(CANARY);
        drop(fd);
        handle.shutdown();
        (outcome, elapsed, reader)
    });
    match outcome.0 {
        Err(Some(libc::EINVAL | libc::EOPNOTSUPP)) => return skip("no zero-copy sends"),
        r => assert_eq!(r, Ok(sent.len() as u32)),
    }
    assert!(outcome.1, "the buffer, whole");
    assert!(
        elapsed >= delay,
        "resolved after {elapsed:?}, before the peer read: before the notification"
    );
    let got = reader.join().unwrap();
    assert_eq!(assert_prefix(&got, &sent, "tokio"), sent.len());
}

/// Registered-buffer sends (`IORING_RECVSEND_FIXED_BUF`) asking for
/// `IORING_SEND_ZC_REPORT_USAGE`: the flag is one of
/// `IO_ZC_FLAGS_VALID`, set beside the fixed-buffer bit the op forces
/// into `ioprio`. On loopback the data is copied (`skb_orphan_frags_rx`),
/// so `io_notif_tw_complete` sets `ZC_COPIED`; on a pipe `io_send_zc`
/// fails (`ENOTSOCK`) before it imports the buffer, so the notification
/// holds no reference of its node and reports nothing went out
/// zero-copy. As a send and, from 6.15, a message. Safe outcome: each
/// send's count or errno flagged `F_MORE`, then a notification of
/// `i32::MIN` read as data; the peer gets each sent range once; after the
/// scope the buffer's tag is posted at its unregistration, at once.
#[test]
fn registered_buffer_sends_report_their_usage() {
    let _watch = uring_tests::watchdog();
    const TAG: u64 = 0x2b1;
    let mut ring = Ring::new(16).unwrap();
    if !require_op::<SendZcFixed<'static>>(&ring) {
        return;
    }
    let vectored = require_kernel(6, 15, "SENDMSG_ZC from registered buffers");
    let sent = pattern(8192, 111);
    let mut region = sent.clone();
    // SAFETY: `region` outlives the registration (unregistered below,
    // after the scope, before it is dropped) and is not written meanwhile.
    let table =
        unsafe { ring.register_buffers_tagged(&[IoSliceMut::new(&mut region)], &[TAG]) }.unwrap();
    let (client, mut server) = uring_tests::tcp_pair();
    let (_rx, tx) = uring_tests::pipe();
    let seen = {
        let index = table.get(0).unwrap();
        let iov = [
            IoSlice::new(&region[4096..5000]),
            IoSlice::new(&region[5000..]),
        ];
        let msg = MsgHdr::new(&iov);
        let report = SendZcFlags::REPORT_USAGE;
        ring.scope(|s| {
            s.push(
                SendZcFixed::new(&client, &region[..4096], index)
                    .send_flags(report)
                    .user_data(1),
            )
            .unwrap();
            s.push(
                SendZcFixed::new(&tx, &region[..100], index)
                    .send_flags(report)
                    .user_data(2),
            )
            .unwrap();
            if vectored {
                s.push(
                    SendMsgZcFixed::new(&client, &msg, index)
                        .send_flags(report)
                        .user_data(3),
                )
                .unwrap();
            }
            let mut seen = Vec::new();
            reap_until(s, &mut seen, |seen| {
                ended(seen, 1) && ended(seen, 2) && (!vectored || ended(seen, 3))
            });
            reap_for(s, &mut seen, Duration::from_millis(20));
            seen
        })
    };
    assert_eq!(of(&seen, 1), [(4096, MORE), (COPIED, NOTIF)], "{seen:?}");
    assert_eq!(
        of(&seen, 2),
        [(-libc::ENOTSOCK, MORE), (COPIED, NOTIF)],
        "{seen:?}"
    );
    let mut want = sent[..4096].to_vec();
    if vectored {
        assert_eq!(of(&seen, 3), [(4096, MORE), (COPIED, NOTIF)], "{seen:?}");
        want.extend_from_slice(&sent[4096..]);
    }
    for c in seen.iter().filter(|c| c.cqe.is_notification()) {
        assert!(c.cqe.zc_copied());
        assert_eq!(c.cqe.result().unwrap(), sys::IORING_NOTIF_USAGE_ZC_COPIED);
    }
    assert_eq!(seen.len(), if vectored { 6 } else { 4 }, "{seen:?}");
    ring.unregister_buffers(table)
        .map_err(|e| e.to_string())
        .unwrap();
    let tags: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(tags, [(TAG, 0)], "no notification holds the buffer");
    region.fill(CANARY);
    drop(client);
    let mut got = Vec::new();
    server.read_to_end(&mut got).unwrap();
    assert_eq!(got, want, "each range once");
}

/// Zero-copy sends appended to a TCP segment that already waits in the
/// write queue (the peer's window is shut behind a megabyte of plain
/// bytes): `skb_zerocopy_iter_stream` finds the segment's `ubuf_info` is
/// another send's and calls `io_link_skb`, which chains the later
/// notifications under the first one (`nd->head`); `io_tx_ubuf_complete`
/// forwards each release to the head, and `io_notif_tw_complete` posts
/// the whole chain at once, when the head's last reference goes. Safe
/// outcome: the scope (whose closure returns after the three counts)
/// returns only after every notification, which comes only once the
/// peer began to read; each send ends once, its count then its
/// notification; the canary written into the buffers afterwards never
/// reaches the peer, which gets the plain bytes and the three buffers,
/// in order.
#[test]
fn notifications_chained_on_one_segment_all_hold_the_scope() {
    use std::io::Write as _;
    let _watch = uring_tests::watchdog();
    let delay = Duration::from_millis(150);
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SendZc<'static>>(&ring) {
        return;
    }
    let (mut client, server) = slow_pair();
    let filler = pattern(1 << 20, 121);
    client.write_all(&filler).unwrap();
    let sent: Vec<Vec<u8>> = (0..3u8).map(|i| pattern(1000, 122 + i)).collect();
    let mut bufs = sent.clone();
    // The clock first: the peer reads no sooner than `delay` after it.
    let start = Instant::now();
    let reader = late_reader(server, delay);
    let seen = {
        let (a, rest) = bufs.split_at(1);
        let (b, c) = rest.split_at(1);
        ring.scope(|s| {
            for (u, buf) in [(1u64, &a[0]), (2, &b[0]), (3, &c[0])] {
                s.push(SendZc::new(&client, &buf[..]).user_data(u)).unwrap();
            }
            let mut seen = Vec::new();
            reap_until(s, &mut seen, |seen| seen.len() >= 3);
            assert!(
                seen.iter().all(|c| c.cqe.has_more()),
                "counts first: {seen:?}"
            );
            seen
        })
    };
    let returned_after = start.elapsed();
    for b in &mut bufs {
        b.fill(CANARY);
    }
    for (u, c) in (1u64..).zip(&seen) {
        assert_eq!(
            (c.cqe.user_data(), c.cqe.res(), c.cqe.flags()),
            (u, 1000, MORE)
        );
    }
    assert!(
        returned_after >= delay,
        "the scope returned after {returned_after:?}, before the peer read: before the \
         notifications"
    );
    assert_eq!(uring_tests::stray(&mut ring), [], "nothing after the scope");
    drop(client);
    let got = reader.join().unwrap();
    let want = [filler, sent.concat()].concat();
    assert_eq!(got.len(), want.len());
    assert_prefix(&got, &want, "the chained sends");
}

/// A scope whose closure returns right after pushing chains whose head,
/// a zero-copy send on a pipe, fails (`ENOTSOCK`, `F_MORE`, then its
/// notification) and whose second send, cancelled by the broken link,
/// posts `ECANCELED` unflagged and then a notification all the same
/// (flushed by `io_send_zc_cleanup` when the request is freed, then run
/// as task work: on a `defer_taskrun` ring only when the ring's thread
/// waits on it, on an SQPOLL ring by the SQ thread). The scope's end
/// must take every one of them in, waiting on the ring so that the task
/// work runs. Safe outcome, on a plain, a `defer_taskrun` and an SQPOLL
/// ring: nothing reaches the ring after the scope, even once the ring is
/// waited on again; the next scope runs.
#[test]
fn failed_linked_sends_at_a_scope_s_end_leave_nothing_on_any_ring() {
    let _watch = uring_tests::watchdog();
    let probe = Ring::new(8).unwrap();
    if !require_op::<SendZc<'static>>(&probe) {
        return;
    }
    let rings: Vec<(&str, Ring)> = [
        Some(("plain", Ring::new(32).unwrap())),
        uring_tests::defer_ring(32).map(|r| ("defer_taskrun", r)),
        uring_tests::sqpoll_ring(32).map(|r| ("sqpoll", r)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let (socket, mut peer) = uring_tests::tcp_pair();
    let (_rx, tx) = uring_tests::pipe();
    let data = pattern(512, 131);
    for (name, mut ring) in rings {
        ring.scope(|s| {
            for i in 0..12u64 {
                s.push(
                    SendZc::new(&tx, &data[..])
                        .user_data(2 * i)
                        .link(SendZc::new(&socket, &data[..]).user_data(2 * i + 1)),
                )
                .unwrap();
            }
            s.submit().unwrap();
        });
        // Anything left would come now: task work runs in this wait.
        match ring.wait_timeout(1, Duration::from_millis(100)) {
            Ok(_) | Err(uring::Error::TimedOut) => {}
            Err(e) => panic!("{name}: {e}"),
        }
        assert_eq!(
            uring_tests::stray(&mut ring),
            [],
            "{name}: completions after the scope"
        );
        let n = ring.scope(|s| {
            s.push(Nop::new().user_data(5)).unwrap();
            uring_tests::next_scope_cqe(s).res()
        });
        assert_eq!(n, 0, "{name}");
    }
    drop(socket);
    let mut got = Vec::new();
    peer.read_to_end(&mut got).unwrap();
    assert!(got.is_empty(), "no cancelled send moved a byte");
}
