//! Attacks on zero-copy sends, read against the kernel's code (Linux
//! 6.18, `io_uring/net.c`, `io_uring/notif.c`, `io_uring/rsrc.c`,
//! `io_uring/msg_ring.c`).
//!
//! A zero-copy send (`IORING_OP_SEND_ZC`, `IORING_OP_SENDMSG_ZC`) posts
//! two completions: its result, flagged `IORING_CQE_F_MORE`, as soon as
//! the bytes are queued on the socket, and a notification
//! (`IORING_CQE_F_NOTIF`) once the last skb that references the memory is
//! freed (`io_tx_ubuf_complete`, then `io_notif_tw_complete`). Between the
//! two, the kernel still reads the pages, and a registered buffer's node
//! is held by the notification (`io_send_zc_import` imports through
//! `sr->notif`). Each attack below stretches that window (a peer whose
//! window is shut, a reset, an io-wq worker that defers the flush, a CQ
//! that overflows, delayed messages carrying forged flags) and checks with
//! canaries, counts and what the peer receives that the memory, the
//! registration and the socket stay lent until the notification, that
//! every op ends exactly once, and that nothing panics.
//!
//! Every attack is safe code; `unsafe` appears only to register memory
//! with the ring (whose contract the tests keep) and to inspect
//! (`SIOCOUTQ`, `fstat`), each with a `// SAFETY:` comment.

use std::io::{IoSlice, IoSliceMut, Read as _, Write as _};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

use uring::ops::{MsgRing, Nop, Read, SendMsgZc, SendMsgZcFixed, SendZc, SendZcFixed};
use uring::reactor::{Reactor, SharedFd};
use uring::{BufferGroup, Cqe, MsgHdr, Restriction, Ring, Scope, SendZcFlags, SqeFlags, sys};
use uring_tests::net::{late_reader, slow_pair, unacked};
use uring_tests::{PATIENCE, pattern, require_kernel, require_op, skip};

/// What memory is overwritten with once the scope or the op gave it back.
const CANARY: u8 = 0xee;

/// What a pending read's buffer holds until the read's own bytes come.
const UNTOUCHED: u8 = 0xa5;

/// A reactor op's result as a callback saw it: the count, or the errno.
type Outcome = Result<u32, Option<i32>>;

/// A reactor send's callback: which send, its outcome, its buffer back.
type Call = (usize, Outcome, Vec<u8>);

const MORE: u32 = sys::IORING_CQE_F_MORE;
const NOTIF: u32 = sys::IORING_CQE_F_NOTIF;

/// The device and inode `fd` names, or `None` once it is closed.
fn identity(fd: RawFd) -> Option<(u64, u64)> {
    // SAFETY: all-zero bytes are a valid `stat`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: inspection: fstat writes one `stat` into `st`; a closed
    // number fails with EBADF and writes nothing.
    let rc = unsafe { libc::fstat(fd, &mut st) };
    (rc == 0).then_some((st.st_dev, st.st_ino))
}

/// Asserts that `got` is a prefix of `sent` (the peer received only bytes
/// the memory held when it was sent, none written after it was given
/// back), and returns its length.
fn assert_prefix(got: &[u8], sent: &[u8], what: &str) -> usize {
    assert!(got.len() <= sent.len(), "{what}: more bytes than sent");
    if let Some(i) = got.iter().zip(sent).position(|(a, b)| a != b) {
        panic!(
            "{what}: byte {i} of {} on the wire is {:#x}, not {:#x}: the memory was given \
             back while the kernel still sent from it",
            got.len(),
            got[i],
            sent[i]
        );
    }
    got.len()
}

/// Reaps the scope's completions into `seen` until `done` says so,
/// failing after [`PATIENCE`].
fn reap_until(s: &mut Scope<'_, '_>, seen: &mut Vec<Cqe>, done: impl Fn(&[Cqe]) -> bool) {
    let start = Instant::now();
    while !done(seen) {
        assert!(
            start.elapsed() < PATIENCE,
            "no expected completion after {PATIENCE:?}: {seen:?}"
        );
        s.submit().unwrap();
        let _ = s.wait_timeout(1, Duration::from_millis(20));
        seen.extend(s.completions().filter(|c| c.is_scope_op()).map(|c| c.cqe()));
    }
}

/// The `(res, flags)` of the completions of `user_data` among `seen`, in
/// order.
fn of(seen: &[Cqe], user_data: u64) -> Vec<(i32, u32)> {
    seen.iter()
        .filter(|c| c.user_data() == user_data)
        .map(|c| (c.res(), c.flags()))
        .collect()
}

/// Whether the op carrying `user_data` posted its last completion (one
/// without `IORING_CQE_F_MORE`) among `seen`.
fn ended(seen: &[Cqe], user_data: u64) -> bool {
    seen.iter()
        .any(|c| c.user_data() == user_data && !c.has_more())
}

/// Whether the op carrying `user_data` posted a completion among `seen`.
fn started(seen: &[Cqe], user_data: u64) -> bool {
    seen.iter().any(|c| c.user_data() == user_data)
}

/// Writes `bytes` into the pipe whose write end is `tx`.
fn write_pipe(tx: &std::os::fd::OwnedFd, bytes: &[u8]) {
    std::fs::File::from(tx.try_clone().unwrap())
        .write_all(bytes)
        .unwrap();
}

/// `io_send_zc_import` (net.c) imports a registered buffer through the
/// notification, not the send (`io_import_reg_buf(sr->notif, ..)`), so
/// `io_find_buf_node` (rsrc.c) takes a reference of the buffer's node for
/// the notification; it is dropped only when the notification is freed
/// (`io_notif_tw_complete`), and a tagged buffer's tag is posted
/// (`io_free_rsrc_node`) only once no reference is left. `io_sendmsg_zc`
/// does the same for `SENDMSG_ZC` from registered buffers (6.15). A send
/// from a registered buffer to a peer that reads nothing yet gets its
/// first completion at once and its notification only once the peer has
/// read; the scope's closure returns right after the first completion.
/// Safe outcome: the scope returns only after the notification (no sooner
/// than the peer began to read), on a plain, a `defer_taskrun` and an
/// SQPOLL ring; after it the buffers unregister and their tag is posted at
/// once (no request of the kernel holds them), and bytes written into the
/// memory then never reach the peer.
#[test]
fn registered_buffer_zero_copy_sends_hold_the_scope_until_the_notification() {
    let _watch = uring_tests::watchdog();
    const TAG: u64 = 0x7a9;
    let delay = Duration::from_millis(100);
    let probe = Ring::new(4).unwrap();
    if !require_op::<SendZcFixed<'static>>(&probe) {
        return;
    }
    let vectored = require_kernel(6, 15, "SENDMSG_ZC from registered buffers");
    let rings: Vec<(&str, Ring)> = [
        Some(("plain", Ring::new(8).unwrap())),
        uring_tests::defer_ring(8).map(|r| ("defer_taskrun", r)),
        uring_tests::sqpoll_ring(8).map(|r| ("sqpoll", r)),
    ]
    .into_iter()
    .flatten()
    .collect();
    for (name, mut ring) in rings {
        for message in [false, true] {
            if message && !vectored {
                continue;
            }
            let what = format!("{name}, message: {message}");
            let sent = pattern(1 << 20, 3 + u8::from(message));
            let mut region = sent.clone();
            // SAFETY: `region` outlives the registration (unregistered
            // below, after the scope) and is written only after that.
            let table =
                unsafe { ring.register_buffers_tagged(&[IoSliceMut::new(&mut region)], &[TAG]) }
                    .unwrap();
            let (client, server) = slow_pair();
            // The clock first: the peer reads no sooner than `delay` after it.
            let start = Instant::now();
            let reader = late_reader(server, delay);
            let (first, queued) = {
                let half = region.len() / 2;
                let iov = [IoSlice::new(&region[..half]), IoSlice::new(&region[half..])];
                let msg = MsgHdr::new(&iov);
                let index = table.get(0).unwrap();
                ring.scope(|s| {
                    assert!(s.tags_every_op(), "{what}: a tagged registration");
                    if message {
                        s.push(SendMsgZcFixed::new(&client, &msg, index).user_data(1))
                            .unwrap();
                    } else {
                        s.push(SendZcFixed::new(&client, &region[..], index).user_data(1))
                            .unwrap();
                    }
                    let mut seen = Vec::new();
                    reap_until(s, &mut seen, |seen| started(seen, 1));
                    (seen[0], unacked(client.as_raw_fd()))
                })
            };
            let returned_after = start.elapsed();
            assert_eq!(uring_tests::stray(&mut ring), [], "{what}: nothing after");
            assert!(first.res() > 0 && first.has_more(), "{what}: {first:?}");
            assert!(queued > 0, "{what}: the send had bytes unacknowledged");
            assert!(
                returned_after >= delay,
                "{what}: the scope returned after {returned_after:?}, before the peer read \
                 anything: before the notification"
            );
            ring.unregister_buffers(table)
                .map_err(|e| e.to_string())
                .unwrap();
            let tags: Vec<(u64, i32)> = ring
                .completions()
                .map(|c| (c.user_data(), c.res()))
                .collect();
            assert_eq!(
                tags,
                [(TAG, 0)],
                "{what}: the tag comes at the unregistration: no notification holds the buffer"
            );
            region.fill(CANARY);
            drop(client);
            let got = reader.join().unwrap();
            let n = assert_prefix(&got, &sent, &what);
            assert_eq!(
                n,
                first.res() as usize,
                "{what}: the peer got what was sent"
            );
        }
    }
}

/// A fixed-buffer zero-copy send whose slot is empty (a sparse table,
/// registered safely) fails at issue in `io_import_reg_buf`
/// (`io_find_buf_node` finds no node: `-EFAULT`), after `io_send_zc_prep`
/// allocated its notification and set `REQ_F_NEED_CLEANUP`: the failure
/// goes through `io_req_defer_failed`, whose `io_sendrecv_fail` flags it
/// `IORING_CQE_F_MORE`, and `io_send_zc_cleanup` flushes the
/// notification, which follows. Inline and from an io-wq worker
/// (`IOSQE_ASYNC`), as a send and as a message (6.15), in a scope that
/// tags only what it must, beside a pending read. Safe outcome: each send
/// posts its failure and then its notification, nothing else; the read
/// stays the scope's to wait for, its canary untouched, until its own
/// bytes come; the peer receives nothing.
#[test]
fn sends_from_an_empty_registered_slot_fail_and_still_notify() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(16).unwrap();
    if !require_op::<SendZcFixed<'static>>(&ring) {
        return;
    }
    let vectored = require_kernel(6, 15, "SENDMSG_ZC from registered buffers");
    let table = ring.register_buffers_sparse(2).unwrap();
    let (client, mut server) = uring_tests::tcp_pair();
    let (rx, tx) = uring_tests::pipe();
    let data = pattern(4096, 7);
    let iov = [IoSlice::new(&data[..100]), IoSlice::new(&data[100..])];
    let msg = MsgHdr::new(&iov);
    let mut canary = [UNTOUCHED; 8];
    let sends: Vec<u64> = if vectored {
        vec![1, 2, 3, 4]
    } else {
        vec![1, 2]
    };
    let (seen, read) = ring.scope(|s| {
        assert!(!s.tags_every_op(), "a ring no one else posts into");
        s.push(Read::new(&rx, &mut canary[..]).user_data(9))
            .unwrap();
        let empty = table.get(1).unwrap();
        s.push(SendZcFixed::new(&client, &data[..], empty).user_data(1))
            .unwrap();
        s.push(
            SendZcFixed::new(&client, &data[..], empty)
                .flags(SqeFlags::ASYNC)
                .user_data(2),
        )
        .unwrap();
        if vectored {
            s.push(SendMsgZcFixed::new(&client, &msg, empty).user_data(3))
                .unwrap();
            s.push(
                SendMsgZcFixed::new(&client, &msg, empty)
                    .flags(SqeFlags::ASYNC)
                    .user_data(4),
            )
            .unwrap();
        }
        let mut seen = Vec::new();
        reap_until(s, &mut seen, |seen| sends.iter().all(|&u| ended(seen, u)));
        // Time for anything else the kernel would post for them.
        let _ = s.wait_timeout(1, Duration::from_millis(30));
        seen.extend(s.completions().map(|c| c.cqe()));
        assert_eq!(s.in_flight(), 1, "the read is still in flight: {seen:?}");
        write_pipe(&tx, b"real");
        let mut read = Vec::new();
        reap_until(s, &mut read, |seen| ended(seen, 9));
        (seen, read)
    });
    for &u in &sends {
        assert_eq!(
            of(&seen, u),
            [(-libc::EFAULT, MORE), (0, NOTIF)],
            "send {u}: its failure, then its notification: {seen:?}"
        );
    }
    assert_eq!(seen.len(), 2 * sends.len(), "nothing else: {seen:?}");
    assert_eq!(of(&read, 9), [(4, 0)]);
    assert_eq!(&canary[..4], b"real");
    assert_eq!(canary[4..], [UNTOUCHED; 4], "nothing else was written");
    assert_eq!(uring_tests::stray(&mut ring), [], "nothing after the scope");
    ring.unregister_buffers(table)
        .map_err(|e| e.to_string())
        .unwrap();
    drop(client);
    let mut got = Vec::new();
    server.read_to_end(&mut got).unwrap();
    assert!(got.is_empty(), "no send moved a byte: {} bytes", got.len());
}

/// A zero-copy send's pages wait in the sender's write queue while the
/// peer's window is shut; here the peer never reads but resets the
/// connection (`SO_LINGER` of zero), and `tcp_reset` purges the write
/// queue: the last skb holding a page is freed, and `io_tx_ubuf_complete`
/// posts the notification without the peer having acknowledged anything.
/// A second send on the reset socket then fails in `sock_sendmsg`
/// (`EPIPE` or `ECONNRESET`), flagged `IORING_CQE_F_MORE` as every issued
/// zero-copy send is, and still posts its notification. Safe outcome:
/// each send ends once, at its notification, after its result; the scope
/// does not hang on the purged pages; a read beside them stays in flight,
/// untouched, until its own bytes come; nothing is left in the ring.
#[test]
fn a_peer_reset_frees_the_pages_of_a_send_the_scope_waits_for() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SendZc<'static>>(&ring) {
        return;
    }
    let (client, server) = slow_pair();
    let (rx, tx) = uring_tests::pipe();
    let data = pattern(1 << 20, 11);
    let mut canary = [UNTOUCHED; 8];
    let mut resetter = None;
    let (seen, queued) = ring.scope(|s| {
        s.push(Read::new(&rx, &mut canary[..]).user_data(9))
            .unwrap();
        s.push(SendZc::new(&client, &data[..]).user_data(1))
            .unwrap();
        let mut seen = Vec::new();
        reap_until(s, &mut seen, |seen| started(seen, 1));
        let queued = unacked(client.as_raw_fd());
        assert_eq!(s.in_flight(), 2, "the read and the send's notification");
        resetter = Some(std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            uring_tests::reset_on_close(&server);
            drop(server);
        }));
        reap_until(s, &mut seen, |seen| ended(seen, 1));
        s.push(SendZc::new(&client, &data[..4096]).user_data(2))
            .unwrap();
        reap_until(s, &mut seen, |seen| ended(seen, 2));
        let _ = s.wait_timeout(1, Duration::from_millis(30));
        seen.extend(s.completions().map(|c| c.cqe()));
        assert_eq!(s.in_flight(), 1, "the read alone: {seen:?}");
        write_pipe(&tx, b"late");
        reap_until(s, &mut seen, |seen| ended(seen, 9));
        (seen, queued)
    });
    resetter.unwrap().join().unwrap();
    assert!(queued > 0, "the first send had bytes unacknowledged");
    let first = of(&seen, 1);
    assert_eq!(first.len(), 2, "{seen:?}");
    assert!(first[0].0 > 0 && first[0].1 == MORE, "{seen:?}");
    assert_eq!(first[1], (0, NOTIF), "{seen:?}");
    let second = of(&seen, 2);
    assert_eq!(second.len(), 2, "{seen:?}");
    assert!(
        [-libc::EPIPE, -libc::ECONNRESET].contains(&second[0].0) && second[0].1 == MORE,
        "a send on a reset socket: {seen:?}"
    );
    assert_eq!(second[1], (0, NOTIF), "{seen:?}");
    assert_eq!(of(&seen, 9), [(4, 0)]);
    assert_eq!(seen.len(), 5, "nothing else: {seen:?}");
    assert_eq!(&canary[..4], b"late");
    assert_eq!(canary[4..], [UNTOUCHED; 4]);
    assert_eq!(uring_tests::stray(&mut ring), [], "nothing after the scope");
}

/// A zero-copy send issued from an io-wq worker (`IOSQE_ASYNC`) runs
/// `io_send_zc` / `io_sendmsg_zc` with `IO_URING_F_UNLOCKED`, which leave
/// the notification unflushed ("we can't rely on tw ordering guarantees,
/// defer flushing notif to io_send_zc_cleanup()"): it is flushed only when
/// the request is freed, after the first completion, and then completes
/// once the peer has acknowledged every page. The scope's closure returns
/// (for `SendZc`) or unwinds (for `SendMsgZc`) right after the first
/// completion. Safe outcome: the scope ends only after the notification,
/// so bytes written into the buffers once it has returned never reach the
/// peer, which gets exactly the count the send reported.
#[test]
fn an_io_wq_zero_copy_send_defers_its_notification_and_the_scope_waits() {
    let _watch = uring_tests::watchdog();
    let delay = Duration::from_millis(200);
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SendMsgZc<'static, 'static>>(&ring) {
        return;
    }
    for message in [false, true] {
        let what = format!("message: {message}");
        let sent = pattern(1 << 20, 21 + u8::from(message));
        let mut data = sent.clone();
        let (client, server) = slow_pair();
        // The clock first: the peer reads no sooner than `delay` after it.
        let start = Instant::now();
        let reader = late_reader(server, delay);
        let mut first: Option<Cqe> = None;
        let outcome = {
            let (a, b) = data.split_at(1000);
            let iov = [IoSlice::new(a), IoSlice::new(b)];
            let msg = MsgHdr::new(&iov);
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                ring.scope(|s| {
                    if message {
                        s.push(
                            SendMsgZc::new(&client, &msg)
                                .flags(SqeFlags::ASYNC)
                                .user_data(1),
                        )
                        .unwrap();
                    } else {
                        s.push(
                            SendZc::new(&client, &data[..])
                                .flags(SqeFlags::ASYNC)
                                .user_data(1),
                        )
                        .unwrap();
                    }
                    let mut seen = Vec::new();
                    reap_until(s, &mut seen, |seen| started(seen, 1));
                    first = Some(seen[0]);
                    if message {
                        uring_tests::stop();
                    }
                })
            }))
        };
        match outcome {
            Ok(()) => assert!(!message, "{what}: the closure returned"),
            Err(payload) => assert!(
                message && payload.is::<uring_tests::Stop>(),
                "{what}: another panic"
            ),
        }
        let returned_after = start.elapsed();
        data.fill(CANARY);
        let first = first.expect("the send's first completion");
        assert!(first.res() > 0 && first.has_more(), "{what}: {first:?}");
        assert!(
            returned_after >= delay,
            "{what}: the scope returned after {returned_after:?}, before the notification"
        );
        assert_eq!(uring_tests::stray(&mut ring), [], "{what}: nothing after");
        drop(client);
        let got = reader.join().unwrap();
        let n = assert_prefix(&got, &sent, &what);
        assert_eq!(
            n,
            first.res() as usize,
            "{what}: the peer got what was sent"
        );
    }
}

/// The reactor's `SendZc` over a `RingBuf` (a buffer of a provided-buffer
/// ring the reactor registered, filled by `RecvRing`): the skbs
/// `io_send_zc` queues reference the ring buffer's pages until
/// `io_tx_ubuf_complete`, so the op must keep the `RingBuf`, and with it
/// the buffer out of the kernel's ring, until the notification. Safe
/// outcome: while the peer reads nothing, a receive that selects from the
/// one-buffer group finds none (`ENOBUFS`) and the send's callback has not
/// run; once the peer reads, the callback runs once, overwrites the buffer
/// and drops it, the next receive gets the buffer again, and the peer has
/// only the bytes the buffer held when it was sent.
#[test]
fn a_reactor_zero_copy_send_keeps_a_ring_buffer_lent_until_the_notification() {
    use std::cell::RefCell;
    use uring::reactor::ops::{RecvRing, SendZc};
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let group = match reactor.register_buf_ring(BufferGroup::new(7), 1, 256 << 10) {
        Ok(g) => g,
        Err(e) => return skip(format_args!("no provided-buffer rings: {e}")),
    };
    let (mut feed, src) = UnixStream::pair().unwrap();
    let src = SharedFd::new(src);
    let payload = pattern(64 << 10, 31);
    feed.write_all(&payload).unwrap();
    let (r, buf) = reactor
        .run_until(reactor.op(RecvRing::new(&src, group)))
        .unwrap();
    let buf = buf.expect("a buffer of the group");
    let n = r.unwrap() as usize;
    assert!(n > 0 && n == buf.len());
    let sent = buf.to_vec();
    assert_eq!(sent, payload[..n]);
    // Bytes ahead of the send that fill the peer's window: the send's
    // pages then wait in the write queue until the peer reads.
    let (mut client, server) = slow_pair();
    let filler = vec![0u8; 1 << 20];
    client.write_all(&filler).unwrap();
    let raw = client.as_raw_fd();
    let out = SharedFd::new(client);
    let calls: Rc<RefCell<Vec<Outcome>>> = Rc::default();
    let c = Rc::clone(&calls);
    reactor
        .queue(SendZc::new(&out, buf), move |r, mut buf| {
            c.borrow_mut().push(r.map_err(|e| e.raw_os_error()));
            buf.fill(CANARY);
            drop(buf);
        })
        .unwrap();
    uring_tests::run_for(&reactor, 50);
    if let Some(Err(e)) = calls.borrow().first() {
        return skip(format_args!("no zero-copy sends: {e:?}"));
    }
    assert!(unacked(raw) > 0, "the send's pages wait on the peer");
    assert!(
        calls.borrow().is_empty(),
        "the callback ran before the notification"
    );
    assert_eq!(reactor.in_flight(), 1);
    // The buffer is still the send's: a receive finds none to select.
    feed.write_all(b"p").unwrap();
    let (r, none) = reactor
        .run_until(reactor.op(RecvRing::new(&src, group)))
        .unwrap();
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ENOBUFS));
    assert!(none.is_none());
    assert!(calls.borrow().is_empty());
    let reader = late_reader(server, Duration::ZERO);
    let start = Instant::now();
    while calls.borrow().is_empty() {
        assert!(start.elapsed() < PATIENCE, "no notification");
        uring_tests::run_for(&reactor, 10);
    }
    assert_eq!(*calls.borrow(), [Ok(n as u32)], "one call, with the count");
    assert_eq!(reactor.in_flight(), 0);
    // Back in the ring: the next receive gets it.
    let (r, back) = reactor
        .run_until(reactor.op(RecvRing::new(&src, group)))
        .unwrap();
    assert_eq!(r.unwrap(), 1);
    assert_eq!(&back.expect("the buffer, back")[..], b"p");
    drop(out);
    let got = reader.join().unwrap();
    assert!(got.len() >= filler.len());
    let (ahead, got) = got.split_at(filler.len());
    assert_eq!(ahead, &filler[..]);
    assert_eq!(assert_prefix(got, &sent, "the ring buffer"), n);
}

/// The reactor's `SendZc` owns a clone of its `SharedFd` until its last
/// completion. The program drops its own handle and the future once the
/// send's bytes are queued (`io_send_zc` posted its count flagged
/// `IORING_CQE_F_MORE`; the pages wait on the peer). Safe outcome: the
/// descriptor stays open, naming the same socket (so no new file can take
/// its number), until the notification; the op then ends, once.
#[test]
fn a_reactor_zero_copy_send_keeps_its_socket_open_until_the_notification() {
    use uring::reactor::ops::SendZc;
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let (client, server) = slow_pair();
    let raw = client.as_raw_fd();
    let socket = identity(raw).expect("the socket");
    let fd = SharedFd::new(client);
    let data = pattern(1 << 20, 41);
    let mut f = reactor.op(SendZc::new(&fd, data.clone()));
    assert!(uring_tests::poll_once(&mut f).is_pending());
    reactor.submit().unwrap();
    uring_tests::run_for(&reactor, 30);
    if unacked(raw) == 0 {
        let _ = reactor.run_until(f);
        return skip("the zero-copy send queued nothing here");
    }
    drop(f);
    drop(fd);
    uring_tests::run_for(&reactor, 30);
    assert_eq!(
        reactor.in_flight(),
        1,
        "the send waits for its notification"
    );
    let other = tempfile::tempfile().unwrap();
    assert_ne!(other.as_raw_fd(), raw, "a new file took the send's number");
    assert_eq!(
        identity(raw),
        Some(socket),
        "the send's socket was closed before its notification"
    );
    let reader = late_reader(server, Duration::ZERO);
    let start = Instant::now();
    while reactor.in_flight() > 0 {
        assert!(start.elapsed() < PATIENCE, "no notification");
        assert_eq!(
            identity(raw),
            Some(socket),
            "closed before the notification"
        );
        uring_tests::run_for(&reactor, 10);
    }
    assert_ne!(identity(raw), Some(socket), "closed with the op's end");
    let got = reader.join().unwrap();
    assert!(!got.is_empty());
    assert_prefix(&got, &data, "the socket's bytes");
}

/// With a CQ of two entries, the sends' results fill it while their
/// notifications, posted from task work by `io_notif_tw_complete`, go to
/// the kernel's overflow list (`io_cqring_event_overflow`), which
/// `__io_cqring_overflow_flush` empties into the CQ in order as room
/// comes. Safe outcome, in scopes and in a reactor: every send ends
/// exactly once, at its own notification, after its result; no
/// completion is lost or seen twice; the peer gets every byte, in order.
#[test]
fn a_cq_overflowing_between_results_and_notifications_loses_nothing() {
    use std::cell::RefCell;
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::builder().cq_entries(2).build(2).unwrap();
    assert_eq!(ring.cq_entries(), 2);
    if !require_op::<SendZc<'static>>(&ring) {
        return;
    }
    let (client, mut server) = uring_tests::tcp_pair();
    let rounds = 8u64;
    let chunks: Vec<Vec<u8>> = (0..2 * rounds).map(|i| pattern(1500, i as u8)).collect();
    let mut seen = Vec::new();
    for round in 0..rounds {
        let got = ring.scope(|s| {
            for k in 0..2 {
                let i = 2 * round + k;
                s.push(SendZc::new(&client, &chunks[i as usize][..]).user_data(i))
                    .unwrap();
            }
            s.submit().unwrap();
            // Nothing read meanwhile: the notifications overflow.
            std::thread::sleep(Duration::from_millis(5));
            let mut seen = Vec::new();
            let ids = [2 * round, 2 * round + 1];
            reap_until(s, &mut seen, |seen| ids.iter().all(|&u| ended(seen, u)));
            seen
        });
        seen.extend(got);
    }
    assert_eq!(
        uring_tests::stray(&mut ring),
        [],
        "nothing after the scopes"
    );
    for i in 0..2 * rounds {
        assert_eq!(
            of(&seen, i),
            [(1500, MORE), (0, NOTIF)],
            "send {i}: its result, then its notification: {seen:?}"
        );
    }
    assert_eq!(seen.len() as u64, 4 * rounds, "nothing else: {seen:?}");
    let mut got = vec![0u8; chunks.len() * 1500];
    server.read_exact(&mut got).unwrap();
    assert_eq!(got, chunks.concat(), "the scopes' bytes, in order");

    // The same through a reactor over a ring of a two-entry CQ.
    let small = Reactor::ring_builder().cq_entries(2).build(2).unwrap();
    let reactor = Reactor::from_ring(small).unwrap();
    let fd = SharedFd::new(client);
    let calls: Rc<RefCell<Vec<Call>>> = Rc::default();
    for (i, chunk) in chunks.iter().enumerate() {
        let c = Rc::clone(&calls);
        reactor
            .queue(
                uring::reactor::ops::SendZc::new(&fd, chunk.clone()),
                move |r, buf| {
                    c.borrow_mut()
                        .push((i, r.map_err(|e| e.raw_os_error()), buf))
                },
            )
            .unwrap();
    }
    reactor.run().unwrap();
    assert_eq!(reactor.in_flight(), 0);
    let mut calls = calls.take();
    calls.sort_by_key(|c| c.0);
    assert_eq!(calls.len(), chunks.len(), "one call per send");
    for (i, r, buf) in &calls {
        assert_eq!(*r, Ok(1500), "send {i}");
        assert_eq!(buf, &chunks[*i], "send {i}'s buffer, back whole");
    }
    server.read_exact(&mut got).unwrap();
    assert_eq!(got, chunks.concat(), "the reactor's bytes, in order");
}

/// `io_notif_tw_complete` sets `IORING_NOTIF_USAGE_ZC_COPIED` (bit 31 of
/// the notification's `res`) when the send asked for
/// `IORING_SEND_ZC_REPORT_USAGE` and its data was copied (loopback copies
/// it: `skb_orphan_frags_rx`, then `io_tx_ubuf_complete` with `success`
/// false) or never went out zero-copy (`!zc_used`: a send parked by
/// `IORING_RECVSEND_POLL_FIRST` and cancelled there sends nothing and
/// reports "copied" too). That `res` is `i32::MIN`. Safe outcome: the
/// library reads it as data, not as an errno (`Cqe::result` is
/// `Ok(0x8000_0000)`, `zc_copied` holds only for the notification), an
/// owned buffer sent with it comes back with the notification and not
/// with the count before it, and the peer gets the sent bytes and none of
/// the cancelled send's.
#[test]
fn report_usage_bits_are_read_as_data_and_the_buffer_comes_back_at_the_notification() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SendZc<'static>>(&ring) {
        return;
    }
    let copied = sys::IORING_NOTIF_USAGE_ZC_COPIED;
    let (client, mut server) = uring_tests::tcp_pair();
    let sent = pattern(3000, 51);
    let back = ring.scope(|s| {
        s.push_owned(sent.clone(), |buf, sq| {
            sq.push(
                SendZc::new(&client, &*buf)
                    .send_flags(SendZcFlags::REPORT_USAGE)
                    .user_data(1),
            )
        })
        .unwrap();
        let mut first = uring_tests::next_scope_cqe(s);
        assert_eq!((first.user_data(), first.res()), (1, 3000));
        assert!(first.has_more() && !first.is_notification() && !first.zc_copied());
        assert_eq!(first.result().unwrap(), 3000);
        assert!(
            first.take_buf().is_none(),
            "the buffer came back with the count"
        );
        drop(first);
        assert_eq!(s.in_flight(), 1);
        let mut notif = uring_tests::next_scope_cqe(s);
        assert_eq!(notif.user_data(), 1);
        assert!(
            notif.is_notification() && !notif.has_more(),
            "{:?}",
            notif.cqe()
        );
        assert_eq!(notif.res() as u32, copied, "loopback copies the data");
        assert_eq!(notif.res(), i32::MIN);
        assert!(notif.zc_copied());
        assert_eq!(notif.result().unwrap(), copied, "data, not an errno");
        let back = notif.take_buf().expect("the buffer, at the notification");
        assert_eq!(s.in_flight(), 0);
        back
    });
    assert_eq!(back, sent, "the buffer came back as it was");
    let mut got = vec![0u8; 3000];
    server.read_exact(&mut got).unwrap();
    assert_eq!(got, sent);

    // Parked in its poll (`POLL_FIRST` on a full socket), then cancelled:
    // it sent nothing, and says so the same way.
    let (filler, filled) = uring_tests::net::fill_send_side(std::os::fd::AsFd::as_fd(&client));
    let parked = pattern(4096, 52);
    let seen = ring.scope(|s| {
        s.push(
            SendZc::new(&client, &parked[..])
                .send_flags(SendZcFlags::POLL_FIRST | SendZcFlags::REPORT_USAGE)
                .user_data(2),
        )
        .unwrap();
        s.submit().unwrap();
        std::thread::sleep(Duration::from_millis(10));
        assert!(s.completions().next().is_none(), "the send waits");
        s.cancel(2).unwrap();
        let mut seen = Vec::new();
        reap_until(s, &mut seen, |seen| ended(seen, 2));
        seen
    });
    assert_eq!(
        of(&seen, 2),
        [(-libc::ECANCELED, MORE), (i32::MIN, NOTIF)],
        "cancelled in its poll, then a notification saying nothing went out zero-copy"
    );
    assert!(seen[1].zc_copied() && !seen[0].zc_copied());
    assert_eq!(seen[1].result().unwrap(), copied);
    drop((client, filler));
    let mut got = Vec::new();
    server.read_to_end(&mut got).unwrap();
    assert_eq!(got.len(), filled, "only the filler's bytes");
    assert!(
        got.iter().all(|&b| b == 0),
        "none of the parked send's bytes"
    );
    assert_eq!(uring_tests::stray(&mut ring), []);
}

/// A zero-copy send linked after a NOP, on a ring whose restrictions do
/// not allow `SEND_ZC`: `io_init_req` refuses it (`io_check_restriction`:
/// `EACCES`) before `io_send_zc_prep` runs, so no notification is ever
/// allocated; `io_submit_fail_init` cancels the NOP. The send's one
/// completion has no `IORING_CQE_F_MORE`, which the scope takes (as for a
/// send its link failed after its prep) as an orphan whose notification
/// may still come. More of them than the scope remembers (64), beside a
/// read. Safe outcome: each op ends once with the kernel's errno; the
/// read stays in flight until its own bytes; the scope's end does not wait
/// for the notifications that never come for longer than its short
/// patience, and nothing reaches the ring after it.
#[test]
fn linked_sends_refused_before_their_notification_exists_do_not_hold_the_scope() {
    let _watch = uring_tests::watchdog();
    let mut ring = match Ring::builder().r_disabled().cq_entries(128).build(64) {
        Ok(r) => r,
        Err(e) => return skip(format_args!("no disabled rings: {e}")),
    };
    ring.register_restrictions(&[
        Restriction::op::<Nop>(),
        Restriction::op::<Read<'_>>(),
        Restriction::opcode(sys::IORING_OP_ASYNC_CANCEL),
        Restriction::sqe_flags_allowed(sys::IOSQE_IO_LINK),
    ])
    .unwrap();
    ring.enable().unwrap();
    let (socket, _peer) = uring_tests::tcp_pair();
    let (rx, tx) = uring_tests::pipe();
    let data = pattern(64, 61);
    let mut canary = [UNTOUCHED; 8];
    let chains = 80u64;
    const READ: u64 = 9999;
    let mut returned = None;
    let seen = ring.scope(|s| {
        s.push(Read::new(&rx, &mut canary[..]).user_data(READ))
            .unwrap();
        let mut seen = Vec::new();
        for batch in 0..chains / 20 {
            let ids: Vec<u64> = (batch * 20..batch * 20 + 20).collect();
            for &i in &ids {
                s.push(
                    Nop::new()
                        .user_data(1000 + i)
                        .link(SendZc::new(&socket, &data).user_data(i)),
                )
                .unwrap();
            }
            reap_until(s, &mut seen, |seen| {
                ids.iter().all(|&i| ended(seen, i) && ended(seen, 1000 + i))
            });
        }
        let _ = s.wait_timeout(1, Duration::from_millis(30));
        seen.extend(s.completions().map(|c| c.cqe()));
        assert_eq!(s.in_flight(), 1, "the read is still in flight");
        write_pipe(&tx, b"gate");
        reap_until(s, &mut seen, |seen| ended(seen, READ));
        returned = Some(Instant::now());
        seen
    });
    let end = returned.unwrap().elapsed();
    for i in 0..chains {
        assert_eq!(of(&seen, 1000 + i), [(-libc::ECANCELED, 0)], "NOP {i}");
        assert_eq!(of(&seen, i), [(-libc::EACCES, 0)], "send {i}: refused");
    }
    assert_eq!(of(&seen, READ), [(4, 0)]);
    assert_eq!(seen.len() as u64, 2 * chains + 1, "nothing else: {seen:?}");
    assert_eq!(&canary[..4], b"gate");
    assert_eq!(canary[4..], [UNTOUCHED; 4]);
    assert!(
        end < Duration::from_secs(1),
        "the scope's end waited {end:?} for notifications that never come"
    );
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(uring_tests::stray(&mut ring), [], "nothing after the scope");
    // The ring serves the next scope.
    let n = ring.scope(|s| {
        s.push(Nop::new().user_data(5)).unwrap();
        uring_tests::next_scope_cqe(s).res()
    });
    assert_eq!(n, 0);
}

/// Completions forged through `MSG_RING` with `IORING_MSG_RING_FLAGS_PASS`
/// carry any flags: here `IORING_CQE_F_NOTIF | IORING_CQE_F_MORE`, and
/// every `user_data` the next scope of the target would use were it to
/// keep the key of the scope whose zero-copy send's tag fdinfo showed. The
/// target runs its task work only when it waits (`defer_taskrun`:
/// `io_msg_need_remote` queues each message as task work on it,
/// `io_msg_remote_post`), so they land in the middle of its next scope,
/// after a zero-copy send's result and before its notification, which the
/// slow peer holds back. Safe outcome: none of them passes for the send's
/// notification (or for its result): they come out as foreign
/// completions, the send stays in flight until its real notification, and
/// the peer gets only the bytes its buffer held.
#[test]
fn forged_notifications_delivered_mid_scope_settle_nothing() {
    let _watch = uring_tests::watchdog();
    let Some(mut target) = (match Ring::builder()
        .single_issuer()
        .defer_taskrun()
        .cq_entries(1024)
        .build(8)
    {
        Ok(r) => Some(r),
        Err(e) => {
            skip(format_args!("no deferred task work: {e}"));
            None
        }
    }) else {
        return;
    };
    if !require_op::<MsgRing>(&target) || !require_op::<SendZc<'static>>(&target) {
        return;
    }
    let fd = target.as_raw_fd();
    // A zero-copy send of a first scope; fdinfo shows its tag while its
    // result waits in the CQ.
    let (quick, mut quick_peer) = uring_tests::tcp_pair();
    let tags = target.scope(|s| {
        s.push(SendZc::new(&quick, b"first").user_data(1)).unwrap();
        s.submit_and_wait(1).unwrap();
        let tags = uring_tests::fdinfo_user_data(fd);
        let mut seen = Vec::new();
        reap_until(s, &mut seen, |seen| ended(seen, 1));
        tags
    });
    let mut five = [0u8; 5];
    quick_peer.read_exact(&mut five).unwrap();
    assert_eq!(&five, b"first");
    // Its result, and its notification if it came already.
    assert!(
        !tags.is_empty() && tags.iter().all(|&t| t == tags[0]),
        "fdinfo shows the send's tag: {tags:?}"
    );
    assert_ne!(tags[0], 1, "the kernel sees a tag");
    let leaked = tags[0];
    let planted: Vec<u64> = (0..16u64)
        .flat_map(|generation| (0..16u64).map(move |slot| leaked ^ (generation << 32 | slot)))
        .collect();
    let mut poster = Ring::new(64).unwrap();
    for chunk in planted.chunks(32) {
        poster.scope(|p| {
            for &ud in chunk {
                p.push(MsgRing::new(&target, 0, ud).cqe_flags(NOTIF | MORE))
                    .unwrap();
            }
            p.submit_and_wait(chunk.len() as u32).unwrap();
            assert!(p.completions().all(|c| c.res() == 0));
        });
    }

    assert_eq!(
        target.completions().count(),
        0,
        "the messages wait in the target's task work"
    );
    let (client, server) = slow_pair();
    let sent = pattern(1 << 20, 71);
    let mut data = sent.clone();
    let mut reader = None;
    let (first, foreign) = target.scope(|s| {
        assert!(s.tags_every_op(), "a ring lent as a message target");
        s.push(SendZc::new(&client, &data[..]).user_data(1))
            .unwrap();
        let mut first = None;
        let mut foreign = 0;
        let start = Instant::now();
        while foreign < planted.len() || first.is_none() {
            assert!(start.elapsed() < PATIENCE, "{foreign} planted, {first:?}");
            s.submit().unwrap();
            let _ = s.wait_timeout(1, Duration::from_millis(20));
            for c in s.completions() {
                if c.is_scope_op() {
                    assert!(
                        first.is_none(),
                        "a second completion of the send: {:?}",
                        c.cqe()
                    );
                    first = Some(c.cqe());
                } else {
                    assert_eq!(
                        (c.res(), c.flags()),
                        (0, NOTIF | MORE),
                        "a planted completion: {:?}",
                        c.cqe()
                    );
                    assert!(planted.contains(&c.user_data()));
                    foreign += 1;
                }
            }
        }
        assert_eq!(
            s.in_flight(),
            1,
            "a forged notification ended the send before its own"
        );
        assert!(
            unacked(client.as_raw_fd()) > 0,
            "the send's pages wait on the peer"
        );
        reader = Some(late_reader(server, Duration::ZERO));
        let mut seen = Vec::new();
        reap_until(s, &mut seen, |seen| ended(seen, 1));
        assert_eq!(of(&seen, 1), [(0, NOTIF)], "the real notification, once");
        (first.unwrap(), foreign)
    });
    data.fill(CANARY);
    assert_eq!(
        foreign,
        planted.len(),
        "every planted completion came out, foreign"
    );
    assert_eq!((first.user_data(), first.flags()), (1, MORE), "{first:?}");
    assert_eq!(
        uring_tests::stray(&mut target),
        [],
        "nothing after the scope"
    );
    drop(client);
    let got = reader.unwrap().join().unwrap();
    assert_eq!(
        assert_prefix(&got, &sent, "the send's bytes"),
        first.res() as usize
    );
}
